//! ECR authorization tokens: what one is, how it is decoded, and why fetching one failed.
//!
//! The AWS call itself lives in [`aws`]; this module holds the parts that do
//! not need the SDK, so they can be tested without a network and so the cache
//! and daemon layers can depend on a small trait instead of on aws-sdk-*.

pub mod aws;

use std::time::{Duration, SystemTime};

use base64::Engine as _;

use crate::registry::EcrRegistry;
use crate::secret::Secret;

/// Credentials for one registry, as decoded from GetAuthorizationToken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthToken {
    /// The basic-auth user name encoded in the token; `AWS` for ECR.
    pub username: String,
    /// The basic-auth password: a bearer secret valid until `expires_at`.
    pub password: Secret<String>,
    /// When ECR says the token stops working; `None` if the response had no expiry.
    pub expires_at: Option<SystemTime>,
    /// When the AWS credentials it was minted with stop working (a session,
    /// an assumed role, SSO); `None` if long-lived or unknown (a cache hit).
    /// The daemon keeps a caller's environment for refreshes only until then.
    pub credentials_expire_at: Option<SystemTime>,
}

/// Why an `authorizationToken` from the API could not be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TokenDecodeError {
    /// The response carried an empty token.
    #[error("the authorization token is empty")]
    Empty,
    /// The token is not standard base64.
    #[error("the authorization token is not valid base64")]
    NotBase64,
    /// The decoded token is not UTF-8.
    #[error("the decoded authorization token is not UTF-8 text")]
    NotUtf8,
    /// The decoded token has no `user:password` separator.
    #[error("the decoded authorization token has no ':' between user name and password")]
    NoColon,
    /// One side of `user:password` is empty.
    #[error("the decoded authorization token has an empty user name or password")]
    EmptyPart,
}

/// Decodes ECR's `base64("AWS:<password>")` into user name and password.
pub fn decode_authorization_token(
    encoded: &str,
) -> Result<(String, Secret<String>), TokenDecodeError> {
    let encoded = encoded.trim();
    if encoded.is_empty() {
        return Err(TokenDecodeError::Empty);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| TokenDecodeError::NotBase64)?;
    let text = String::from_utf8(bytes).map_err(|_| TokenDecodeError::NotUtf8)?;
    let (user, password) = text.split_once(':').ok_or(TokenDecodeError::NoColon)?;
    if user.is_empty() || password.is_empty() {
        return Err(TokenDecodeError::EmptyPart);
    }
    Ok((user.to_string(), Secret::new(password.to_string())))
}

/// Who to act as and how long we may take, for one token fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// The AWS profile to use instead of `AWS_PROFILE`/`default`, from our config file.
    pub profile: Option<String>,
    /// A role to assume on top of the resolved credentials, from our config file.
    pub role_arn: Option<String>,
    /// The budget for the whole fetch: credential resolution, retries and the API call.
    pub timeout: Duration,
    /// Per-request timeout for the instance metadata service, which stalls off EC2.
    pub imds_timeout: Duration,
    /// How many times to try the instance metadata service.
    pub imds_attempts: u32,
    /// Credentials from a Kubernetes service-account token instead of the default chain.
    pub web_identity: Option<WebIdentity>,
}

/// A role to assume with a web identity token (kubelet's service-account token
/// flow): the credentials come from STS AssumeRoleWithWebIdentity, not from
/// the node's credential chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentity {
    /// The role to assume.
    pub role_arn: String,
    /// The OIDC token STS verifies; a bearer secret.
    pub token: Secret<String>,
    /// The role session name, seen in CloudTrail.
    pub session_name: String,
}

/// Why no token could be obtained; each variant's message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The credential chain found nothing to sign with.
    #[error(
        "no AWS credentials found for profile `{profile}` (tried {detail}); help: set AWS_PROFILE, \
         export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws configure` / `aws sso login`"
    )]
    NoCredentials {
        /// The profile that was searched.
        profile: String,
        /// What the SDK's chain reported.
        detail: String,
    },
    /// A credential source exists but is broken (bad profile, expired SSO session, failing process).
    #[error("could not load AWS credentials for profile `{profile}`: {detail}")]
    CredentialsUnavailable {
        /// The profile that was used.
        profile: String,
        /// What the failing provider reported.
        detail: String,
    },
    /// AWS did not accept the credentials' signature or session.
    #[error(
        "AWS rejected the credentials ({detail}); help: they may be expired or revoked: refresh them \
         (e.g. `aws sso login`) and retry"
    )]
    CredentialsRejected {
        /// The service's error code and message.
        detail: String,
    },
    /// The principal lacks `ecr:GetAuthorizationToken` (or `sts:AssumeRole`).
    #[error(
        "access denied: {detail}; help: the principal needs ecr:GetAuthorizationToken \
         (ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken for ECR Public)"
    )]
    AccessDenied {
        /// The service's error message.
        detail: String,
    },
    /// GetAuthorizationToken kept being throttled within our time budget.
    #[error(
        "throttled by ECR ({detail}); GetAuthorizationToken is limited per account and region: \
         retry later"
    )]
    Throttled {
        /// The service's error message.
        detail: String,
    },
    /// The whole fetch ran out of its time budget.
    #[error(
        "timed out after {after:?} waiting for AWS; help: check network access to the ECR API, \
         or raise DOCKER_CREDENTIAL_ECR_TIMEOUT"
    )]
    TimedOut {
        /// The budget that ran out.
        after: Duration,
    },
    /// The request could not be sent or its answer read.
    #[error("could not reach the ECR API: {detail}")]
    Network {
        /// The transport error chain.
        detail: String,
    },
    /// Any other error the API returned.
    #[error("ECR API error {code}: {detail}")]
    Service {
        /// The error code, e.g. `InvalidParameterException`.
        code: String,
        /// The service's message.
        detail: String,
    },
    /// `AWS_CA_BUNDLE` names a file we cannot use.
    #[error("cannot use AWS_CA_BUNDLE {path}: {detail}")]
    CaBundle {
        /// The configured path.
        path: String,
        /// Why it could not be used.
        detail: String,
    },
    /// Assuming the configured role failed.
    #[error("could not assume role {role_arn}: {detail}")]
    AssumeRole {
        /// The role from our config file.
        role_arn: String,
        /// The STS error.
        detail: String,
    },
    /// An STS call of ours (`doctor`, `configure --region`) failed; worded
    /// as STS's, not ECR's, so nobody hunts for an ECR permission.
    #[error("{detail}")]
    Sts {
        /// What STS (or the way to it) said.
        detail: String,
    },
    /// The profile's role needs an MFA code and no cached session is usable.
    /// Never answered by calling AssumeRole without a code: that can only
    /// fail, and repeated failures can lock the user out.
    #[error(
        "profile {profile} needs an MFA code: run \"docker-credential-ecr login --profile {profile}\" \
         (or any aws command with --profile {profile}) once; the session lasts {lasts}"
    )]
    MfaRequired {
        /// The profile in use.
        profile: String,
        /// How long the session `login` makes lasts, e.g. `1 h`.
        lasts: String,
    },
    /// The profile's SSO token is missing or expired: only a new login helps.
    #[error("the SSO session of profile {profile} {state}: run \"{command}\"")]
    SsoLogin {
        /// The profile in use.
        profile: String,
        /// `has expired`, `is missing`…
        state: String,
        /// `aws sso login --profile P` or `aws sso login --sso-session S`.
        command: String,
    },
    /// The API answered without any authorization data.
    #[error("the ECR API returned no authorization data")]
    EmptyResponse,
    /// The API answered with a token we cannot decode.
    #[error("the ECR API returned an unusable token: {0}")]
    BadToken(#[from] TokenDecodeError),
    /// The AWS SDK failed internally (it panicked); the message is its own.
    #[error("the AWS SDK failed: {message}{hint}")]
    Sdk {
        /// What the SDK said.
        message: String,
        /// What to do about it, when we recognise the problem.
        hint: &'static str,
    },
    /// The async runtime could not be started.
    #[error("could not start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// Something that can exchange the caller's identity for a registry token.
///
/// The AWS implementation is [`aws::AwsTokenSource`]; tests and the cache
/// layer use this seam to count and script calls without a network.
pub trait TokenSource {
    /// Fetches a fresh token for `registry`, bounded by `options.timeout`.
    fn fetch(
        &self,
        registry: &EcrRegistry,
        options: &FetchOptions,
    ) -> Result<AuthToken, TokenError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn decodes_user_and_password() {
        let (user, pw) = decode_authorization_token(&b64(b"AWS:eyJwYXlsb2FkIjoi:x=")).unwrap();
        assert_eq!(user, "AWS");
        assert_eq!(pw.expose(), "eyJwYXlsb2FkIjoi:x=");
        let (_, pw) = decode_authorization_token(&format!(" {}\n", b64(b"AWS:p"))).unwrap();
        assert_eq!(pw.expose(), "p");
    }

    #[test]
    fn rejects_malformed_tokens() {
        use TokenDecodeError::*;
        for (input, want) in [
            (String::new(), Empty),
            ("   ".to_string(), Empty),
            ("not base64!".to_string(), NotBase64),
            ("QVdT OnA=".to_string(), NotBase64),
            (b64(b"AWS"), NoColon),
            (b64(b""), Empty),
            (b64(b":pw"), EmptyPart),
            (b64(b"AWS:"), EmptyPart),
            (b64(b"AWS:\xff\xfe"), NotUtf8),
        ] {
            assert_eq!(
                decode_authorization_token(&input),
                Err(want.clone()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn error_messages_say_what_to_do() {
        let e = TokenError::NoCredentials {
            profile: "dev".into(),
            detail: "no providers in chain provided credentials".into(),
        };
        let msg = e.to_string();
        assert!(
            msg.contains("profile `dev`") && msg.contains("help:"),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn mfa_and_sso_failures_name_the_command() {
        let mfa = TokenError::MfaRequired {
            profile: "mfa".into(),
            lasts: "1 h".into(),
        }
        .to_string();
        assert_eq!(
            mfa,
            "profile mfa needs an MFA code: run \"docker-credential-ecr login --profile mfa\" \
             (or any aws command with --profile mfa) once; the session lasts 1 h"
        );
        let sso = TokenError::SsoLogin {
            profile: "dev".into(),
            state: "has expired".into(),
            command: "aws sso login --sso-session corp".into(),
        }
        .to_string();
        assert_eq!(
            sso,
            "the SSO session of profile dev has expired: run \"aws sso login --sso-session corp\""
        );
    }
}
