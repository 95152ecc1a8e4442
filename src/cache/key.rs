//! The cache key: which AWS principal would sign the token request, and proof the caller holds it.
//!
//! The Go helper keys its cache by access key id, which it can only learn by
//! resolving credentials — an STS, SSO, IMDS or credential_process round trip
//! on every `get`, cache hit or not — and which changes with every temporary
//! session, so assume-role and SSO users never hit the cache at all.
//!
//! We instead follow the SDK's default chain locally, with no network, and
//! hash what it will use: environment keys (only when both the key id and
//! its secret are set, as the SDK requires), else the selected profile and
//! every config section it depends on (source_profile chain, sso-session,
//! credential_process, web identity…), else web identity variables, else
//! container credentials, else the instance role; plus our config file's
//! profile/role for the registry and the registry's partition, region,
//! FIPS flag, registry id and any endpoint override.
//!
//! **Possession, not just selection.** Self-hosted CI runners run every job
//! as one uid. A key built from non-secret inputs alone would hand job B the
//! token job A minted, if B merely names the same access key id or role and
//! token path. So every secret the chain will use goes into the key too:
//! the secret access key and session token (environment or profile), the
//! whole web identity token (not its path, and not its claims, which anyone
//! can write into an unsigned file), and the container authorization token.
//! A caller that cannot show the same secrets derives another key and never
//! sees the entry. Secrets are hashed before they join the material, and only
//! a truncated hash of the whole material is ever stored or shown. A role
//! profile with `mfa_serial` is served with the role session the AWS CLI
//! cached (see [`crate::mfa`]), so that session's secrets are in the key: a
//! new MFA login, or another user's session, never meets the old token.
//! Sources whose secret we cannot see without resolving them (SSO,
//! credential_process, instance metadata) are keyed by what selects them, as
//! before; an SSO access token in particular is refreshed by the SDK every
//! hour, and keying by it would throw away a 12-hour ECR token each time.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::aws_profile::{Profiles, Section, SectionKind, parse_ini};
use crate::config::{Config, RegistrySettings};
use crate::registry::{EcrRegistry, RegistryKind};
use crate::safe_fs;

/// The claims of a web identity token that say whose it is: the issuer, the
/// subject and the audiences (a Kubernetes service account, a CI job).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The issuer URL.
    pub issuer: String,
    /// For Kubernetes, `system:serviceaccount:<namespace>:<name>`.
    pub subject: String,
    /// The audiences the token is for, sorted.
    pub audience: Vec<String>,
}

/// Why no key could be derived: a file the SDK would read is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

/// Cache identity of (principal, registry): a hash for storage and a label for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    /// 32 hex digits; safe as a file name and a keyring account name.
    pub id: String,
    /// Who this is, without secrets, for `status`.
    pub label: String,
}

/// Reads a file: `Ok(None)` if it does not exist, `Err` if it exists but
/// cannot be used (a FIFO, a device, too large), which fails the request
/// rather than let the SDK read it.
pub type ReadFile<'a> = &'a dyn Fn(&Path) -> Result<Option<String>, String>;

/// Reads process state; injected so the derivation is pure and testable.
pub struct Inputs<'a> {
    /// Looks up an environment variable.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Reads a file (size-capped, never blocking).
    pub read: ReadFile<'a>,
    /// The home directory, for the default AWS file locations.
    pub home: Option<PathBuf>,
}

impl Inputs<'static> {
    /// The real environment and file system.
    pub fn process() -> Inputs<'static> {
        Inputs {
            env: &|k| std::env::var(k).ok().filter(|v| !v.is_empty()),
            read: &read_file,
            home: std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from)
                .or_else(dirs::home_dir),
        }
    }
}

/// [`ReadFile`] over the real file system, with [`safe_fs::READ_LIMIT`].
pub fn read_file(path: &Path) -> Result<Option<String>, String> {
    safe_fs::read_text_if_exists(path, safe_fs::READ_LIMIT).map_err(|e| e.to_string())
}

/// Keys whose values are secrets: hashed into the key, never kept as text.
const SECRET_KEYS: &[&str] = &[
    "aws_secret_access_key",
    "aws_session_token",
    "aws_security_token",
];

/// Variables that change which credentials the chain finds or where calls go.
const CHAIN_VARS: &[&str] = &[
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_ECR",
    "AWS_ENDPOINT_URL_ECR_PUBLIC",
    "AWS_ENDPOINT_URL_STS",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
];

/// The largest web identity or container token we read: real ones are a few KiB.
const TOKEN_FILE_LIMIT: u64 = 64 * 1024;

/// A secret's stand-in in the material: a domain-separated SHA-256, so the
/// material itself never holds the secret (every secret the AWS chain uses is
/// machine-generated with far more than 128 bits of entropy, so the digest
/// cannot be reversed or guessed).
fn secret_digest(what: &str, value: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"docker-credential-ecr secret v2\0");
    h.update(what.as_bytes());
    h.update(b"\0");
    h.update(value);
    crate::hex(&h.finalize()[..16])
}

/// What every key holds: the registry, where calls go, and our config's role.
fn common_material(
    registry: &EcrRegistry,
    config_role: Option<&str>,
    inputs: &Inputs,
) -> Vec<String> {
    let mut material = vec![
        "v2".to_string(),
        format!("partition={}", registry.partition.id()),
        format!("region={}", registry.api_region()),
        format!("fips={}", registry.fips),
        match &registry.kind {
            RegistryKind::Private { account_id, .. } => format!("registry={account_id}"),
            RegistryKind::Public => "registry=public".to_string(),
        },
    ];
    for var in CHAIN_VARS {
        if let Some(v) = (inputs.env)(var) {
            material.push(format!("{var}={v}"));
        }
    }
    if let Some(role) = config_role {
        material.push(format!("config.role_arn={role}"));
    }
    material
}

fn digest(material: &[String]) -> String {
    crate::hex(&Sha256::digest(material.join("\n").as_bytes())[..16])
}

/// The key for a token minted with a Kubernetes service account's web
/// identity (kubelet's token flow): the role *and* the account it was
/// assumed for, so neither another role nor another service account that
/// names the same role (whose trust policy STS has not checked) is ever
/// served this token. Kubelet itself hands us the token (it is no file a
/// job could write), so its verified-by-kubelet claims are the identity.
/// Nothing of the node's own identity, and never the token itself, is part of it.
pub fn web_identity_key(
    registry: &EcrRegistry,
    config_role: Option<&str>,
    role_arn: &str,
    subject: &Subject,
    inputs: &Inputs,
) -> CacheKey {
    let mut material = common_material(registry, config_role, inputs);
    material.push("web_identity".to_string());
    material.push(format!("role_arn={role_arn:?}"));
    material.push(format!("issuer={:?}", subject.issuer));
    material.push(format!("subject={:?}", subject.subject));
    material.push(format!("audience={:?}", subject.audience));
    let mut label = format!("{} as {role_arn}", subject.subject);
    if let Some(role) = config_role {
        label.push_str(&format!(" as {role}"));
    }
    CacheKey {
        id: digest(&material),
        label,
    }
}

/// Adds the digest of a file's whole content (a token the chain will send),
/// relative paths resolved as the SDK would, against the working directory.
fn file_secret(
    what: &str,
    path: &str,
    inputs: &Inputs,
    out: &mut Vec<String>,
) -> Result<(), KeyError> {
    match (inputs.read)(Path::new(path)).map_err(KeyError)? {
        Some(text) if text.len() as u64 <= TOKEN_FILE_LIMIT => {
            out.push(format!(
                "{what}={}",
                secret_digest(what, text.trim().as_bytes())
            ));
        }
        Some(_) => {
            return Err(KeyError(format!(
                "{path} is larger than {TOKEN_FILE_LIMIT} bytes; it is not a token"
            )));
        }
        // The SDK will fail to read it too and say so; nobody can be served by it.
        None => out.push(format!("{what}=missing")),
    }
    Ok(())
}

/// The environment's keys, if the SDK's environment provider will use them:
/// it needs both the key id and its secret, and otherwise moves on.
fn env_keys(inputs: &Inputs) -> Option<(String, Vec<String>)> {
    let akid = (inputs.env)("AWS_ACCESS_KEY_ID")?;
    let secret = (inputs.env)("AWS_SECRET_ACCESS_KEY")?;
    let mut material = vec![
        format!("env.access_key_id={akid}"),
        format!(
            "env.secret_access_key={}",
            secret_digest("secret_access_key", secret.as_bytes())
        ),
    ];
    if let Some(token) = (inputs.env)("AWS_SESSION_TOKEN") {
        material.push(format!(
            "env.session_token={}",
            secret_digest("session_token", token.as_bytes())
        ));
    }
    Some((akid, material))
}

/// Web identity from the environment (EKS IRSA, GitLab `id_tokens`, GitHub OIDC
/// files), then container credentials (ECS, EKS Pod Identity), in the SDK's order.
fn env_fallbacks(inputs: &Inputs, out: &mut Vec<String>) -> Result<Option<String>, KeyError> {
    let env = |k: &str| (inputs.env)(k);
    if let (Some(role), Some(file)) = (env("AWS_ROLE_ARN"), env("AWS_WEB_IDENTITY_TOKEN_FILE")) {
        file_secret("web_identity_token", &file, inputs, out)?;
        return Ok(Some(format!("web identity {role}")));
    }
    if env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some()
        || env("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some()
    {
        // The SDK prefers the token file over the variable.
        if let Some(file) = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
            file_secret("container_token", &file, inputs, out)?;
        } else if let Some(token) = env("AWS_CONTAINER_AUTHORIZATION_TOKEN") {
            out.push(format!(
                "container_token={}",
                secret_digest("container_token", token.as_bytes())
            ));
        }
        return Ok(Some("container credentials".to_string()));
    }
    Ok(None)
}

/// A request for one host worked out: the registry, our config's settings for it, and the key.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The ECR registry (by its host, or by an alias in our config).
    pub registry: EcrRegistry,
    /// Our config's profile and role for it.
    pub settings: RegistrySettings,
    /// Whose token it would be.
    pub key: CacheKey,
}

/// Works out who a request for `host` acts as, from `config` and the
/// caller's `inputs`; `Ok(None)` when `host` is not ECR. The one derivation
/// both `get` and the daemon use: the daemon derives each caller's key
/// itself from the environment the caller sent, so it never trusts a key
/// it is told.
pub fn resolve(host: &str, config: &Config, inputs: &Inputs) -> Result<Option<Resolved>, KeyError> {
    let Some(registry) = crate::registry::parse_host(host).or_else(|| config.alias(host)) else {
        return Ok(None);
    };
    let settings = config.settings_for(host, &registry);
    let key = cache_key(&registry, &settings, inputs)?;
    Ok(Some(Resolved {
        registry,
        settings,
        key,
    }))
}

/// Derives the cache key for `registry` as the caller would be served now.
///
/// `Err` when a file the SDK would read is unusable (a FIFO, a device, too
/// large): the request fails with that reason instead of the SDK stalling on it.
pub fn cache_key(
    registry: &EcrRegistry,
    settings: &RegistrySettings,
    inputs: &Inputs,
) -> Result<CacheKey, KeyError> {
    let env = |k: &str| (inputs.env)(k);
    let mut material = common_material(registry, settings.role_arn.as_deref(), inputs);

    // A profile from our config is used alone (ProfileFileCredentialsProvider);
    // otherwise the default chain starts with the environment.
    let env_creds = env_keys(inputs).filter(|_| settings.profile.is_none());
    let label = match env_creds {
        // The chain stops at environment credentials.
        Some((akid, keys)) => {
            material.extend(keys);
            format!("env {}", mask(&akid))
        }
        None => {
            let (profile, from) = match &settings.profile {
                Some(p) => (p.clone(), "config"),
                None => (
                    env("AWS_PROFILE").unwrap_or_else(|| "default".into()),
                    "env",
                ),
            };
            material.push(format!("profile.{from}={profile}"));
            let (config_path, creds_path) =
                crate::aws_profile::paths(inputs.env, inputs.home.as_deref());
            let read =
                |path: &Option<PathBuf>, is_config: bool| -> Result<Vec<Section>, KeyError> {
                    Ok(match path {
                        Some(p) => (inputs.read)(p)
                            .map_err(KeyError)?
                            .map(|t| parse_ini(&t, is_config))
                            .unwrap_or_default(),
                        None => Vec::new(),
                    })
                };
            let profiles = Profiles {
                config: read(&config_path, true)?,
                credentials: read(&creds_path, false)?,
            };
            material.push(format!("files={config_path:?},{creds_path:?}"));
            let chain = profile_material(
                &profile,
                &profiles.config,
                &profiles.credentials,
                &mut material,
            );
            mfa_session(&profiles, &profile, inputs, &mut material)?;
            let from_profile = settings.profile.is_some() || chain.has_credentials;
            for file in &chain.web_identity_files {
                file_secret("profile.web_identity_token", file, inputs, &mut material)?;
            }
            let source_is = |name: &str| chain.credential_source.iter().any(|s| s == name);
            if source_is("Environment")
                && let Some((_, keys)) = env_keys(inputs)
            {
                material.extend(keys);
            }
            // A profile's `credential_source = EcsContainer` reads the container token.
            if !from_profile || source_is("EcsContainer") {
                let fallback = env_fallbacks(inputs, &mut material)?;
                if let Some(source) = fallback.filter(|_| !from_profile) {
                    return Ok(finish(material, source, settings));
                }
            }
            if from_profile || env("AWS_PROFILE").is_some() {
                format!("profile {profile}")
            } else {
                "instance role".to_string()
            }
        }
    };
    Ok(finish(material, label, settings))
}

/// An MFA role profile is served with the role session the AWS CLI (or our
/// `login`) cached: the key holds that session's secrets, hashed, so a token
/// minted with one session never goes to a caller holding another (a new
/// MFA login, another user's home) or none at all.
fn mfa_session(
    profiles: &Profiles,
    profile: &str,
    inputs: &Inputs,
    out: &mut Vec<String>,
) -> Result<(), KeyError> {
    let Some(chain) = crate::mfa::find(profiles, profile) else {
        return Ok(());
    };
    let session = match &inputs.home {
        Some(home) => (inputs.read)(&crate::mfa::cache_file(home, &chain))
            .map_err(KeyError)?
            .and_then(|text| crate::mfa::parse_session(&text).ok()),
        None => None,
    };
    out.push(match session {
        Some(s) => {
            let mut secret = s.secret_access_key.expose().as_bytes().to_vec();
            secret.push(0);
            secret.extend_from_slice(s.session_token.expose().as_bytes());
            format!("mfa_session={}", secret_digest("mfa_session", &secret))
        }
        None => "mfa_session=none".to_string(),
    });
    Ok(())
}

/// The key from its material, and the label naming whose it is.
fn finish(material: Vec<String>, mut label: String, settings: &RegistrySettings) -> CacheKey {
    if let Some(role) = &settings.role_arn {
        label.push_str(&format!(" as {role}"));
    }
    CacheKey {
        id: digest(&material),
        label,
    }
}

/// An access key id shortened for display: identifying enough, not a full copy.
fn mask(akid: &str) -> String {
    let chars: Vec<char> = akid.chars().collect();
    if chars.len() <= 8 || !akid.is_ascii() {
        return "****".to_string();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// What a profile's chain told us beyond its non-secret settings.
#[derive(Debug, Default)]
struct Chain {
    /// Some profile in the chain yields credentials (keys, a role, SSO, a process…).
    has_credentials: bool,
    /// `web_identity_token_file` values: their contents are the secret.
    web_identity_files: Vec<String>,
    /// `credential_source` values (`Environment`, `EcsContainer`, `Ec2InstanceMetadata`).
    credential_source: Vec<String>,
}

/// Keys that make the SDK's profile provider produce credentials (rather
/// than report "no credentials" and let the chain move on).
const CREDENTIAL_KEYS: &[&str] = &[
    "aws_access_key_id",
    "role_arn",
    "credential_process",
    "sso_start_url",
    "sso_session",
    "sso_account_id",
    "web_identity_token_file",
    "credential_source",
];

/// Adds every setting of `profile` and the sections it depends on: secrets
/// as digests, everything else as written.
fn profile_material(
    profile: &str,
    config: &[Section],
    creds: &[Section],
    out: &mut Vec<String>,
) -> Chain {
    let mut chain = Chain::default();
    let mut next = Some(profile.to_string());
    let mut seen = Vec::new();
    while let Some(name) = next.take() {
        if seen.contains(&name) || seen.len() > 10 {
            break; // a source_profile loop; the SDK reports it when fetching
        }
        seen.push(name.clone());
        for (file, sections) in [("credentials", creds), ("config", config)] {
            for section in sections
                .iter()
                .filter(|s| s.kind == SectionKind::Profile && s.name == name)
            {
                for (k, v) in &section.entries {
                    if SECRET_KEYS.contains(&k.as_str()) {
                        out.push(format!(
                            "{file}[{name}].{k}={}",
                            secret_digest(k, v.as_bytes())
                        ));
                    } else {
                        out.push(format!("{file}[{name}].{k}={v}"));
                    }
                    if CREDENTIAL_KEYS.contains(&k.as_str()) {
                        chain.has_credentials = true;
                    }
                    match k.as_str() {
                        "web_identity_token_file" => chain.web_identity_files.push(v.clone()),
                        "credential_source" => chain.credential_source.push(v.clone()),
                        "services" => {
                            let wanted = format!("services {v}");
                            for s in config
                                .iter()
                                .filter(|s| s.kind == SectionKind::Other && s.name == wanted)
                            {
                                for (k2, v2) in &s.entries {
                                    out.push(format!("config[{wanted}].{k2}={v2}"));
                                }
                            }
                        }
                        "source_profile" => next = Some(v.clone()),
                        "sso_session" => {
                            for s in config
                                .iter()
                                .filter(|s| s.kind == SectionKind::SsoSession && &s.name == v)
                            {
                                for (k2, v2) in &s.entries {
                                    out.push(format!("config[sso-session {v}].{k2}={v2}"));
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    chain
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::registry::parse_host;

    struct World {
        env: HashMap<String, String>,
        files: HashMap<PathBuf, String>,
    }

    impl World {
        fn new(env: &[(&str, &str)]) -> World {
            World {
                env: env
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                files: HashMap::new(),
            }
        }
        fn file(mut self, path: &str, text: &str) -> World {
            self.files.insert(PathBuf::from(path), text.to_string());
            self
        }
        fn key(&self, host: &str, settings: &RegistrySettings) -> CacheKey {
            let env = |k: &str| self.env.get(k).cloned();
            let read = |p: &Path| Ok(self.files.get(p).cloned());
            let inputs = Inputs {
                env: &env,
                read: &read,
                home: Some(PathBuf::from("/home/u")),
            };
            cache_key(&parse_host(host).unwrap(), settings, &inputs).unwrap()
        }
    }

    #[test]
    fn service_accounts_and_roles_never_share_a_web_identity_key() {
        let env = |_: &str| None;
        let read = |_: &Path| Ok(None);
        let inputs = Inputs {
            env: &env,
            read: &read,
            home: None,
        };
        let registry = parse_host(H).unwrap();
        let sa = |sub: &str| Subject {
            issuer: "https://oidc.example".into(),
            subject: sub.into(),
            audience: vec!["sts.amazonaws.com".into()],
        };
        let key =
            |role: &str, sub: &str| web_identity_key(&registry, None, role, &sa(sub), &inputs);
        let (a, b) = ("arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b");
        let puller = "system:serviceaccount:team:puller";
        assert_eq!(key(a, puller), key(a, puller));
        assert_ne!(key(a, puller), key(b, puller));
        assert_ne!(key(a, puller), key(a, "system:serviceaccount:other:puller"));
        assert_ne!(
            key(a, puller),
            cache_key(&registry, &none(), &inputs).unwrap()
        );
        assert_eq!(key(a, puller).label, format!("{puller} as {a}"));
    }

    const H: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    const CFG: &str = "/home/u/.aws/config";
    const CREDS: &str = "/home/u/.aws/credentials";

    fn none() -> RegistrySettings {
        RegistrySettings::default()
    }

    #[test]
    fn different_principals_never_share_a_key() {
        let a = World::new(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEAAAA0001"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ]);
        let b = World::new(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEBBBB0002"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ]);
        assert_ne!(a.key(H, &none()), b.key(H, &none()));

        let files = |w: World| {
            w.file(CFG, "[profile dev]\nrole_arn = arn:aws:iam::1:role/dev\nsource_profile = base\n[profile prod]\nrole_arn = arn:aws:iam::1:role/prod\nsource_profile = base\n")
                .file(CREDS, "[base]\naws_access_key_id = AKIDEXAMPLEBASE0001\naws_secret_access_key = s\n")
        };
        let dev = files(World::new(&[("AWS_PROFILE", "dev")])).key(H, &none());
        let prod = files(World::new(&[("AWS_PROFILE", "prod")])).key(H, &none());
        assert_ne!(dev, prod);
        assert_eq!(dev.label, "profile dev");

        // Registry, region and partition are part of the key.
        let w = World::new(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEAAAA0001"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ]);
        assert_ne!(
            w.key(H, &none()),
            w.key("210987654321.dkr.ecr.us-east-1.amazonaws.com", &none())
        );
        assert_ne!(
            w.key(H, &none()),
            w.key("123456789012.dkr.ecr.us-west-2.amazonaws.com", &none())
        );
        assert_ne!(
            w.key(H, &none()),
            w.key("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com", &none())
        );
        assert_ne!(w.key(H, &none()), w.key("public.ecr.aws", &none()));

        // So are an endpoint override and a role from our config.
        let o = World::new(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEAAAA0001"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_ENDPOINT_URL_ECR", "http://x"),
        ]);
        assert_ne!(w.key(H, &none()), o.key(H, &none()));
        let role = RegistrySettings {
            role_arn: Some("arn:aws:iam::1:role/r".into()),
            ..none()
        };
        assert_ne!(w.key(H, &none()), w.key(H, &role));
    }

    #[test]
    fn sso_keeps_its_key_across_sessions_but_the_sso_session_is_part_of_it() {
        let sso = "[profile sso]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = Dev\n[sso-session corp]\nsso_start_url = https://x\n";
        // Unrelated profiles' secrets are not this identity's.
        let w1 = World::new(&[("AWS_PROFILE", "sso")]).file(CFG, sso).file(
            CREDS,
            "[other]\naws_access_key_id = A\naws_secret_access_key = one\n",
        );
        let w2 = World::new(&[("AWS_PROFILE", "sso")]).file(CFG, sso).file(
            CREDS,
            "[other]\naws_access_key_id = A\naws_secret_access_key = two\n",
        );
        assert_eq!(w1.key(H, &none()), w2.key(H, &none()));
        let w3 =
            World::new(&[("AWS_PROFILE", "sso")]).file(CFG, &sso.replace("https://x", "https://y"));
        assert_ne!(w1.key(H, &none()), w3.key(H, &none()));
    }

    #[test]
    fn a_caller_without_the_same_secret_never_shares_a_key() {
        // Environment keys: the same id with another secret or session token.
        let env = |secret: &'static str, token: Option<&'static str>| {
            let mut v = vec![
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEAAAA0001"),
                ("AWS_SECRET_ACCESS_KEY", secret),
            ];
            v.extend(token.map(|t| ("AWS_SESSION_TOKEN", t)));
            World::new(&v).key(H, &none())
        };
        assert_eq!(env("A", None), env("A", None));
        assert_ne!(env("A", None), env("B", None));
        assert_ne!(env("A", Some("t1")), env("A", Some("t2")));
        assert_ne!(env("A", None), env("A", Some("t1")));

        // A profile's secret key.
        let profile = |secret: &str| {
            World::new(&[])
                .file(
                    CREDS,
                    &format!("[default]\naws_access_key_id = AKIDEXAMPLE0000001\naws_secret_access_key = {secret}\n"),
                )
                .key(H, &none())
        };
        assert_eq!(profile("one"), profile("one"));
        assert_ne!(profile("one"), profile("two"));

        // Web identity: the token's whole content, not its path or claims.
        let web = |token: &str| {
            World::new(&[
                ("AWS_ROLE_ARN", "arn:aws:iam::1:role/deployProd"),
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "/run/token"),
            ])
            .file("/run/token", token)
            .key(H, &none())
        };
        assert_eq!(web("jwt-a"), web("jwt-a\n"));
        assert_ne!(web("jwt-a"), web("jwt-b"));
        assert_eq!(
            web("jwt-a").label,
            "web identity arn:aws:iam::1:role/deployProd"
        );

        // Container credentials (EKS Pod Identity): same URI and path, another token.
        let pod = |token: &str| {
            World::new(&[
                (
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                    "http://169.254.170.23/v1/credentials",
                ),
                (
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                    "/var/run/pod-identity/token",
                ),
            ])
            .file("/var/run/pod-identity/token", token)
            .key(H, &none())
        };
        assert_ne!(pod("pod-a"), pod("pod-b"));
        let ecs = |token: &str| {
            World::new(&[
                (
                    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                    "/v2/credentials/x",
                ),
                ("AWS_CONTAINER_AUTHORIZATION_TOKEN", token),
            ])
            .key(H, &none())
        };
        assert_ne!(ecs("a"), ecs("b"));
        assert_eq!(ecs("a").label, "container credentials");
    }

    #[test]
    fn a_key_id_without_its_secret_is_not_environment_credentials() {
        // The SDK ignores AWS_ACCESS_KEY_ID alone and uses the profile.
        let files = |w: World| {
            w.file(CREDS, "[p1]\naws_access_key_id = AKIDEXAMPLEP1000001\naws_secret_access_key = s1\n[p2]\naws_access_key_id = AKIDEXAMPLEP2000002\naws_secret_access_key = s2\n")
        };
        let p1 = files(World::new(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEAAAA0001"),
            ("AWS_PROFILE", "p1"),
        ]));
        let p2 = files(World::new(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEAAAA0001"),
            ("AWS_PROFILE", "p2"),
        ]));
        assert_ne!(p1.key(H, &none()), p2.key(H, &none()));
        assert_eq!(p1.key(H, &none()).label, "profile p1");
    }

    #[test]
    fn a_profile_without_credentials_falls_through_as_the_sdk_does() {
        // EKS: a config file with only a region, and IRSA variables.
        let w = |token: &str| {
            World::new(&[
                ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
            ])
            .file(CFG, "[default]\nregion = us-east-1\n")
            .file("/t", token)
            .key(H, &none())
        };
        assert_ne!(w("a"), w("b"));
        // A profile's own web_identity_token_file is read the same way.
        let p = |token: &str| {
            World::new(&[("AWS_PROFILE", "ci")])
                .file(CFG, "[profile ci]\nrole_arn = arn:aws:iam::1:role/r\nweb_identity_token_file = /t\n")
                .file("/t", token)
                .key(H, &none())
        };
        assert_ne!(p("a"), p("b"));
        assert_eq!(World::new(&[]).key(H, &none()).label, "instance role");
    }

    #[test]
    fn an_mfa_profile_is_keyed_by_the_session_it_will_use() {
        const CACHE: &str = "/home/u/.aws/cli/cache/91b385929ebc1a4af1c78c3f9ea890186d451f8d.json";
        let session = |secret: &str| {
            format!(
                r#"{{"Credentials":{{"AccessKeyId":"ASIAMFA","SecretAccessKey":"{secret}","SessionToken":"t","Expiration":"2099-01-01T00:00:00Z"}}}}"#
            )
        };
        let w = |file: Option<String>| {
            let w = World::new(&[("AWS_PROFILE", "mfa")]).file(
                CFG,
                "[profile mfa]\nrole_arn = arn:aws:iam::123456789012:role/mfaAdmin\nmfa_serial = arn:aws:iam::123456789012:mfa/dev\nsource_profile = base\n",
            );
            match file {
                Some(text) => w.file(CACHE, &text),
                None => w,
            }
            .key(H, &none())
        };
        assert_eq!(w(Some(session("a"))), w(Some(session("a"))));
        assert_ne!(w(Some(session("a"))), w(Some(session("b"))));
        assert_ne!(w(Some(session("a"))), w(None));
        assert_eq!(w(None).label, "profile mfa");
    }

    #[test]
    fn unusable_files_fail_the_derivation_with_their_reason() {
        let env = |k: &str| (k == "AWS_CONFIG_FILE").then(|| "/dev/zero".to_string());
        let read = |p: &Path| Err(format!("{} is not a regular file", p.display()));
        let inputs = Inputs {
            env: &env,
            read: &read,
            home: None,
        };
        let e = cache_key(&parse_host(H).unwrap(), &none(), &inputs).unwrap_err();
        assert!(e.0.contains("/dev/zero"), "{e}");
    }

    #[test]
    fn masks_never_split_a_character() {
        assert_eq!(mask("AKIDEXAMPLEAAAA0001"), "AKID…0001");
        assert_eq!(mask("ÄKIDEXAMPLEÄÄÄÄ0001"), "****");
        assert_eq!(mask("short"), "****");
    }

    #[test]
    fn a_configured_profile_wins_over_environment_keys() {
        let w = World::new(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEAAAA0001"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ])
        .file(CREDS, "[team]\naws_access_key_id = AKIDEXAMPLETEAM0001\n");
        let team = RegistrySettings {
            profile: Some("team".into()),
            ..none()
        };
        let k = w.key(H, &team);
        assert_eq!(k.label, "profile team");
        assert_ne!(k, w.key(H, &none()));
        assert_eq!(w.key(H, &none()).label, "env AKID…0001");
    }

    #[test]
    fn key_is_hex_and_stable() {
        let w = World::new(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEAAAA0001"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ]);
        let k = w.key(H, &none());
        assert_eq!(k.id.len(), 32);
        assert!(k.id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(k, w.key(H, &none()));
    }
}
