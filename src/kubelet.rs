//! The kubelet's image credential provider protocol (exec plugin), as pure functions.
//!
//! Kubelet does not read docker's config: it runs a plugin named in its
//! `CredentialProviderConfig` with a `CredentialProviderRequest` on stdin and
//! decodes a `CredentialProviderResponse` from stdout with a *strict*
//! decoder, so one unknown field makes it discard the answer. This module
//! reads requests leniently enough to accept fields newer kubelets add, and
//! writes responses with exactly the fields kubelet's types define, in the
//! apiVersion the request used (kubelet rejects any other).
//!
//! It also holds the two decisions kubelet leaves to the plugin: how long
//! kubelet may keep the credentials ([`cache_duration`]: never past the point
//! our own cache would stop serving the token) and, in the service-account
//! token flow, which role to assume ([`role_for`]) and whose token it is
//! ([`token_subject`]), so the token cache never shares one service
//! account's token with another.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize, Serializer};

use crate::cache::entry::{MAX_SAFETY_MARGIN, safety_margin};
use crate::secret::Secret;

/// The API group of requests and responses.
pub const API_GROUP: &str = "credentialprovider.kubelet.k8s.io";

/// The versions we answer; the response always carries the request's.
pub const API_VERSIONS: &[&str] = &[
    "credentialprovider.kubelet.k8s.io/v1",
    "credentialprovider.kubelet.k8s.io/v1beta1",
    "credentialprovider.kubelet.k8s.io/v1alpha1",
];

/// When every kubelet-mode run must be done by: kubelet kills plugins after 60 s.
pub const BUDGET: Duration = Duration::from_secs(50);

/// The only version whose requests may carry a service-account token.
pub const V1: &str = "credentialprovider.kubelet.k8s.io/v1";

/// The request kind.
pub const REQUEST_KIND: &str = "CredentialProviderRequest";

/// The response kind.
pub const RESPONSE_KIND: &str = "CredentialProviderResponse";

/// The service-account annotation naming the role to assume with the pod's
/// token; the same key as the reference plugin (cloud-provider-aws
/// `ecr-credential-provider`), so a cluster can switch plugins without relabelling.
pub const DEFAULT_ROLE_ANNOTATION: &str = "eks.amazonaws.com/ecr-role-arn";

/// Overrides [`DEFAULT_ROLE_ANNOTATION`].
pub const ROLE_ANNOTATION_ENV: &str = "DOCKER_CREDENTIAL_ECR_KUBELET_ROLE_ANNOTATION";

/// A role for every service account without the annotation (the reference plugin's variable).
pub const ROLE_ENV: &str = "AWS_ECR_ROLE_ARN";

/// Why a request could not be answered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KubeletError {
    /// Stdin is not a JSON object of the expected shape.
    #[error("stdin is not a CredentialProviderRequest: {0}")]
    Malformed(String),
    /// The request names another kind.
    #[error("expected kind {REQUEST_KIND}, got {0:?}")]
    WrongKind(String),
    /// The request names a group/version we do not speak.
    #[error(
        "apiVersion {0:?} is not supported; use credentialprovider.kubelet.k8s.io/v1, v1beta1 or v1alpha1"
    )]
    UnsupportedVersion(String),
    /// The request has no image.
    #[error("the request has no image")]
    MissingImage,
    /// A service-account token came with an older apiVersion, which cannot express the answer.
    #[error("serviceAccountToken requires apiVersion {V1}, got {0}")]
    TokenNeedsV1(String),
    /// The service-account token is not a JWT we can read the subject of.
    #[error("serviceAccountToken is not a JWT with `iss` and `sub` claims ({0})")]
    BadToken(&'static str),
    /// The annotation (or `AWS_ECR_ROLE_ARN`) is not an IAM role ARN.
    #[error(
        "{origin} {value:?} is not an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)"
    )]
    BadRole {
        /// Where the value came from.
        origin: String,
        /// The value.
        value: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRequest {
    api_version: Option<String>,
    kind: Option<String>,
    image: Option<String>,
    // Unknown fields (newer kubelets add some) are ignored, not refused.
    service_account_token: Option<Secret<String>>,
    service_account_annotations: Option<BTreeMap<String, String>>,
}

/// The pod's service account, as kubelet passes it in token mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// A token bound to the pod, for the audience the config names.
    pub token: Secret<String>,
    /// The annotations the config asked kubelet to pass.
    pub annotations: BTreeMap<String, String>,
}

/// A decoded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The request's apiVersion, one of [`API_VERSIONS`]; the response repeats it.
    pub api_version: &'static str,
    /// The repository being pulled, without tag or digest.
    pub image: String,
    /// Present when kubelet runs us in service-account token mode.
    pub service_account: Option<ServiceAccount>,
}

/// Decodes a request; unknown fields are ignored, a wrong kind or version is an error.
pub fn parse_request(stdin: &[u8]) -> Result<Request, KubeletError> {
    let raw: RawRequest = serde_json::from_slice(stdin)
        .map_err(|e| KubeletError::Malformed(crate::json_error(&e)))?;
    let kind = raw.kind.unwrap_or_default();
    if kind != REQUEST_KIND {
        return Err(KubeletError::WrongKind(kind));
    }
    let version = raw.api_version.unwrap_or_default();
    let api_version = API_VERSIONS
        .iter()
        .copied()
        .find(|v| *v == version)
        .ok_or(KubeletError::UnsupportedVersion(version))?;
    let image = raw
        .image
        .map(|i| i.trim().to_string())
        .filter(|i| !i.is_empty())
        .ok_or(KubeletError::MissingImage)?;
    let service_account = raw
        .service_account_token
        .filter(|t| !t.expose().is_empty())
        .map(|token| ServiceAccount {
            token,
            annotations: raw.service_account_annotations.unwrap_or_default(),
        });
    if service_account.is_some() && api_version != V1 {
        return Err(KubeletError::TokenNeedsV1(api_version.to_string()));
    }
    Ok(Request {
        api_version,
        image,
        service_account,
    })
}

/// The registry part of an image, as kubelet's `Registry` cache key and `auth` matching see it.
pub fn registry_of(image: &str) -> &str {
    image.split('/').next().unwrap_or_default()
}

/// One registry's credentials in a response.
pub struct Auth<'a> {
    /// The `auth` key: the image's registry, exactly as kubelet will match it.
    pub registry: &'a str,
    /// The basic-auth user name.
    pub username: &'a str,
    /// The basic-auth password.
    pub password: &'a Secret<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Response<'a> {
    api_version: &'a str,
    kind: &'static str,
    cache_key_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_duration: Option<String>,
    auth: BTreeMap<&'a str, AuthConfig<'a>>,
}

#[derive(Serialize)]
struct AuthConfig<'a> {
    username: &'a str,
    #[serde(serialize_with = "expose")]
    password: &'a Secret<String>,
}

fn expose<S: Serializer>(secret: &&Secret<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose())
}

/// The response for `request`: credentials for one registry, or none (an empty `auth`).
///
/// `cacheKeyType` is always `Registry`: an ECR token is good for every
/// repository of its registry. `cacheDuration` is omitted when `None`
/// (kubelet then uses the config's `defaultCacheDuration`). Nothing else is
/// written: in service-account mode, how kubelet caches per account is set
/// in its config (`tokenAttributes.cacheType`), and a response field some
/// kubelet does not know would make it throw the answer away.
pub fn format_response(request: &Request, cache: Option<Duration>, auth: Option<Auth>) -> String {
    let response = Response {
        api_version: request.api_version,
        kind: RESPONSE_KIND,
        cache_key_type: "Registry",
        cache_duration: cache.map(go_duration),
        auth: auth
            .into_iter()
            .map(|a| {
                (
                    a.registry,
                    AuthConfig {
                        username: a.username,
                        password: a.password,
                    },
                )
            })
            .collect(),
    };
    // Serializing string fields cannot fail.
    let mut out = serde_json::to_string(&response).unwrap_or_default();
    out.push('\n');
    out
}

/// How long kubelet may keep a token: until our own cache would stop handing
/// it out (expiry minus the safety margin), never longer. `minted` is unknown
/// when the daemon served the token; the largest margin is assumed then.
/// No expiry known, or none left: zero, which tells kubelet not to cache.
pub fn cache_duration(minted: Option<u64>, expires: Option<u64>, now: u64) -> Duration {
    let Some(expires) = expires.filter(|&e| e > 0) else {
        return Duration::ZERO;
    };
    let margin = match minted {
        Some(minted) => safety_margin(minted, expires),
        None => MAX_SAFETY_MARGIN.as_secs(),
    };
    Duration::from_secs(expires.saturating_sub(margin).saturating_sub(now))
}

/// Whole seconds written the way Go's `time.Duration.String` does (`5h59m30s`,
/// `1m0s`, `45s`, `0s`), which kubelet parses with `time.ParseDuration`.
pub fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// Whose a service-account token is; an identity input, so it lives with the cache key.
pub use crate::cache::key::Subject;

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    #[serde(default)]
    aud: Audience,
}

#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
    #[default]
    None,
}

/// Reads the issuer, subject and audience of a JWT without verifying it.
///
/// They only scope our cache: STS verifies the token whenever a token is
/// minted with it, and only kubelet, which got it from the API server, can
/// hand us one. Claims that are not text are refused, never guessed at.
pub fn token_subject(token: &Secret<String>) -> Result<Subject, KubeletError> {
    let mut parts = token.expose().trim().split('.');
    let payload = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(payload), Some(_), None) => payload,
        _ => return Err(KubeletError::BadToken("not three dot-separated parts")),
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| KubeletError::BadToken("the payload is not base64url"))?;
    let claims: Claims = serde_json::from_slice(&bytes)
        .map_err(|_| KubeletError::BadToken("the payload is not a JSON object of claims"))?;
    let (Some(issuer), Some(subject)) = (claims.iss, claims.sub) else {
        return Err(KubeletError::BadToken("a claim is missing"));
    };
    if issuer.is_empty() || subject.is_empty() {
        return Err(KubeletError::BadToken("a claim is empty"));
    }
    let mut audience = match claims.aud {
        Audience::One(a) => vec![a],
        Audience::Many(a) => a,
        Audience::None => Vec::new(),
    };
    audience.sort();
    Ok(Subject {
        issuer,
        subject,
        audience,
    })
}

/// The role to assume for a service account: its annotation (key from
/// `DOCKER_CREDENTIAL_ECR_KUBELET_ROLE_ANNOTATION`, default
/// [`DEFAULT_ROLE_ANNOTATION`]), else `AWS_ECR_ROLE_ARN`, else none (the
/// node's own credentials are used, as without a token).
pub fn role_for(
    account: &ServiceAccount,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, KubeletError> {
    let key = env(ROLE_ANNOTATION_ENV)
        .filter(|k| !k.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ROLE_ANNOTATION.to_string());
    let (origin, value) = match account.annotations.get(key.trim()) {
        Some(v) => (format!("annotation {}", key.trim()), v.trim().to_string()),
        None => match env(ROLE_ENV).filter(|v| !v.trim().is_empty()) {
            Some(v) => (ROLE_ENV.to_string(), v.trim().to_string()),
            None => return Ok(None),
        },
    };
    if crate::config::is_role_arn(&value) {
        Ok(Some(value))
    } else {
        Err(KubeletError::BadRole { origin, value })
    }
}

/// A role session name for CloudTrail: `<namespace>.<name>` from the subject, within STS's rules.
pub fn session_name(subject: &Subject) -> String {
    let short = subject
        .subject
        .strip_prefix("system:serviceaccount:")
        .unwrap_or(&subject.subject)
        .replace(':', ".");
    let name: String = short
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if name.len() < 2 {
        "docker-credential-ecr".to_string()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> Secret<String> {
        let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        Secret::new(format!("{}.{}.sig", b(r#"{"alg":"RS256"}"#), b(claims)))
    }

    #[test]
    fn requests_of_every_version_decode_and_extra_fields_are_tolerated() {
        for v in API_VERSIONS {
            let text = format!(
                r#"{{"apiVersion":"{v}","kind":"CredentialProviderRequest","image":"h/app","futureField":{{"x":1}}}}"#
            );
            let r = parse_request(text.as_bytes()).unwrap();
            assert_eq!(r.api_version, *v);
            assert_eq!(r.image, "h/app");
            assert!(r.service_account.is_none());
        }
    }

    #[test]
    fn wrong_kind_version_or_shape_is_a_clear_error() {
        let e = |s: &str| parse_request(s.as_bytes()).unwrap_err();
        assert_eq!(
            e(r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"Pod","image":"x"}"#),
            KubeletError::WrongKind("Pod".into())
        );
        assert!(matches!(
            e(r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v2","kind":"CredentialProviderRequest","image":"x"}"#),
            KubeletError::UnsupportedVersion(v) if v.ends_with("/v2")
        ));
        assert_eq!(
            e(
                r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest"}"#
            ),
            KubeletError::MissingImage
        );
        assert!(matches!(e("nonsense"), KubeletError::Malformed(_)));
        assert!(matches!(e(""), KubeletError::Malformed(_)));
        assert!(matches!(e("[]"), KubeletError::Malformed(_)));
        // An error never quotes the request (it may hold a token).
        let msg =
            e(r#"{"kind":"CredentialProviderRequest","serviceAccountToken":["SECRETVALUE"]}"#)
                .to_string();
        assert!(!msg.contains("SECRETVALUE"), "{msg}");
    }

    #[test]
    fn service_account_tokens_are_read_for_v1_only() {
        let req = |v: &str, token: &str| {
            format!(
                r#"{{"apiVersion":"credentialprovider.kubelet.k8s.io/{v}","kind":"CredentialProviderRequest","image":"h/a","serviceAccountToken":"{token}","serviceAccountAnnotations":{{"a":"b"}}}}"#
            )
        };
        let r = parse_request(req("v1", "tok").as_bytes()).unwrap();
        let sa = r.service_account.unwrap();
        assert_eq!(sa.token.expose(), "tok");
        assert_eq!(sa.annotations["a"], "b");
        // omitempty: an empty token is no token.
        assert!(
            parse_request(req("v1", "").as_bytes())
                .unwrap()
                .service_account
                .is_none()
        );
        assert!(matches!(
            parse_request(req("v1beta1", "tok").as_bytes()),
            Err(KubeletError::TokenNeedsV1(_))
        ));
    }

    #[test]
    fn response_has_exactly_kubelets_fields() {
        let request = parse_request(
            br#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","kind":"CredentialProviderRequest","image":"H:5000/a/b"}"#,
        )
        .unwrap();
        let pw = Secret::new("p\"w".to_string());
        let out = format_response(
            &request,
            Some(Duration::from_secs(3600)),
            Some(Auth {
                registry: registry_of(&request.image),
                username: "AWS",
                password: &pw,
            }),
        );
        assert_eq!(
            out,
            "{\"apiVersion\":\"credentialprovider.kubelet.k8s.io/v1beta1\",\"kind\":\"CredentialProviderResponse\",\
             \"cacheKeyType\":\"Registry\",\"cacheDuration\":\"1h0m0s\",\
             \"auth\":{\"H:5000\":{\"username\":\"AWS\",\"password\":\"p\\\"w\"}}}\n"
        );
        let empty = format_response(&request, None, None);
        assert_eq!(
            empty,
            "{\"apiVersion\":\"credentialprovider.kubelet.k8s.io/v1beta1\",\"kind\":\"CredentialProviderResponse\",\
             \"cacheKeyType\":\"Registry\",\"auth\":{}}\n"
        );
    }

    #[test]
    fn token_mode_responses_have_the_same_fields() {
        let request = Request {
            api_version: V1,
            image: "h/a".into(),
            service_account: Some(ServiceAccount {
                token: Secret::new("t".into()),
                annotations: BTreeMap::new(),
            }),
        };
        let out = format_response(&request, Some(Duration::ZERO), None);
        assert_eq!(
            out,
            "{\"apiVersion\":\"credentialprovider.kubelet.k8s.io/v1\",\"kind\":\"CredentialProviderResponse\",\
             \"cacheKeyType\":\"Registry\",\"cacheDuration\":\"0s\",\"auth\":{}}\n"
        );
    }

    #[test]
    fn go_durations() {
        let d = |s| go_duration(Duration::from_secs(s));
        assert_eq!(d(0), "0s");
        assert_eq!(d(45), "45s");
        assert_eq!(d(60), "1m0s");
        assert_eq!(d(3600), "1h0m0s");
        assert_eq!(d(21_570), "5h59m30s");
        assert_eq!(d(43_200), "12h0m0s");
        assert_eq!(go_duration(Duration::from_millis(1999)), "1s");
    }

    #[test]
    fn cache_duration_stops_where_our_cache_stops_serving() {
        let t0 = 1_000_000;
        let twelve = t0 + 12 * 3600;
        // Fresh 12 h token: until 5 minutes before expiry.
        assert_eq!(
            cache_duration(Some(t0), Some(twelve), t0),
            Duration::from_secs(12 * 3600 - 300)
        );
        // Served by the daemon (minted unknown): the largest margin.
        assert_eq!(
            cache_duration(None, Some(twelve), t0 + 3600),
            Duration::from_secs(11 * 3600 - 300)
        );
        // A short-lived token gets its proportional margin.
        assert_eq!(
            cache_duration(Some(t0), Some(t0 + 8), t0),
            Duration::from_secs(6)
        );
        // Nothing known or nothing left: do not cache.
        assert_eq!(cache_duration(Some(t0), None, t0), Duration::ZERO);
        assert_eq!(cache_duration(None, Some(0), t0), Duration::ZERO);
        assert_eq!(
            cache_duration(Some(t0), Some(twelve), twelve - 10),
            Duration::ZERO
        );
        // Never past the point the cache would stop serving it.
        for now in (t0..twelve).step_by(997) {
            let d = cache_duration(Some(t0), Some(twelve), now).as_secs();
            if d > 0 {
                assert!(crate::cache::entry::usable(t0, twelve, now + d - 1));
            }
        }
    }

    #[test]
    fn token_subjects() {
        let s = token_subject(&jwt(
            r#"{"iss":"https://oidc.example/id/ABC","sub":"system:serviceaccount:team:puller","aud":["sts.amazonaws.com"],"exp":1}"#,
        ))
        .unwrap();
        assert_eq!(s.subject, "system:serviceaccount:team:puller");
        assert_eq!(s.issuer, "https://oidc.example/id/ABC");
        assert_eq!(s.audience, ["sts.amazonaws.com"]);
        assert_eq!(session_name(&s), "team.puller");
        let one = token_subject(&jwt(r#"{"iss":"i","sub":"s","aud":"x"}"#)).unwrap();
        assert_eq!(one.audience, ["x"]);
        for bad in [
            Secret::new("abc".to_string()),
            Secret::new("a.%%%.c".to_string()),
            jwt("[1]"),
            jwt(r#"{"sub":"s"}"#),
            jwt(r#"{"iss":"","sub":"s"}"#),
            jwt(r#"{"iss":"i","sub":7}"#),
        ] {
            assert!(token_subject(&bad).is_err());
        }
    }

    #[test]
    fn roles_come_from_the_annotation_then_the_environment() {
        let sa = |k: &str, v: &str| ServiceAccount {
            token: Secret::new("t".into()),
            annotations: [(k.to_string(), v.to_string())].into(),
        };
        let arn = "arn:aws:iam::123456789012:role/pull";
        let none = |_: &str| None;
        assert_eq!(
            role_for(&sa(DEFAULT_ROLE_ANNOTATION, arn), none),
            Ok(Some(arn.into()))
        );
        assert_eq!(role_for(&sa("other", arn), none), Ok(None));
        let custom = |k: &str| (k == ROLE_ANNOTATION_ENV).then(|| "other".to_string());
        assert_eq!(role_for(&sa("other", arn), custom), Ok(Some(arn.into())));
        let fallback = |k: &str| (k == ROLE_ENV).then(|| arn.to_string());
        assert_eq!(role_for(&sa("x", "y"), fallback), Ok(Some(arn.into())));
        assert!(matches!(
            role_for(&sa(DEFAULT_ROLE_ANNOTATION, "arn:aws:iam::1:user/x"), none),
            Err(KubeletError::BadRole { .. })
        ));
    }

    #[test]
    fn session_names_stay_within_sts_rules() {
        let s = |sub: &str| Subject {
            issuer: "i".into(),
            subject: sub.into(),
            audience: vec![],
        };
        assert_eq!(session_name(&s("x")), "docker-credential-ecr");
        assert_eq!(session_name(&s("a b/c")), "a-b-c");
        assert_eq!(session_name(&s(&"n".repeat(100))).len(), 64);
    }
}
