//! The cache key: which AWS principal would sign the token request, worked out locally.
//!
//! The Go helper keys its cache by access key id, which it can only learn by
//! resolving credentials — an STS, SSO, IMDS or credential_process round trip
//! on every `get`, cache hit or not — and which changes with every temporary
//! session, so assume-role and SSO users never hit the cache at all.
//!
//! We instead hash what *selects* the principal: the environment's access
//! key id when static keys are set there, else the selected profile and
//! every config section it depends on (source_profile chain, sso-session,
//! credential_process, web identity…), the web-identity and container
//! variables, our config file's profile/role for the registry, and the
//! registry's partition, region, FIPS flag, registry id and any endpoint
//! override. Two different principals can never share a key; the same
//! principal keeps its key across temporary sessions. Secret values are
//! never part of the material, and only a hash of it is stored.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::RegistrySettings;
use crate::kubelet::Subject;
use crate::registry::{EcrRegistry, RegistryKind};

/// Cache identity of (principal, registry): a hash for storage and a label for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    /// 32 hex digits; safe as a file name and a keyring account name.
    pub id: String,
    /// Who this is, without secrets, for `status`.
    pub label: String,
}

/// Reads process state; injected so the derivation is pure and testable.
pub struct Inputs<'a> {
    /// Looks up an environment variable.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Reads a file, `None` if it cannot be read.
    pub read: &'a dyn Fn(&Path) -> Option<String>,
    /// The home directory, for the default AWS file locations.
    pub home: Option<PathBuf>,
}

impl Inputs<'static> {
    /// The real environment and file system.
    pub fn process() -> Inputs<'static> {
        Inputs {
            env: &|k| std::env::var(k).ok().filter(|v| !v.is_empty()),
            read: &|p| std::fs::read_to_string(p).ok(),
            home: dirs::home_dir(),
        }
    }
}

/// Keys whose values are secrets: they select nothing and must never be hashed.
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
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_ECR",
    "AWS_ENDPOINT_URL_ECR_PUBLIC",
    "AWS_ENDPOINT_URL_STS",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
];

/// What every key holds: the registry, where calls go, and our config's role.
fn common_material(
    registry: &EcrRegistry,
    config_role: Option<&str>,
    inputs: &Inputs,
) -> Vec<String> {
    let mut material = vec![
        "v1".to_string(),
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
    let digest = Sha256::digest(material.join("\n").as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The key for a token minted with a Kubernetes service account's web
/// identity (kubelet's token flow): the role *and* the account it was
/// assumed for, so neither another role nor another service account that
/// names the same role (whose trust policy STS has not checked) is ever
/// served this token. Nothing of the node's own identity, and never the
/// service-account token itself, is part of it.
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

/// Derives the cache key for `registry` as the caller would be served now.
pub fn cache_key(registry: &EcrRegistry, settings: &RegistrySettings, inputs: &Inputs) -> CacheKey {
    let env = |k: &str| (inputs.env)(k);
    let mut material = common_material(registry, settings.role_arn.as_deref(), inputs);

    let env_key = env("AWS_ACCESS_KEY_ID").filter(|_| settings.profile.is_none());
    let mut label = match &env_key {
        // The chain stops at environment credentials.
        Some(akid) => {
            material.push(format!("env.access_key_id={akid}"));
            format!("env {}", mask(akid))
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
            let config_path = env("AWS_CONFIG_FILE")
                .map(PathBuf::from)
                .or_else(|| inputs.home.as_ref().map(|h| h.join(".aws").join("config")));
            let creds_path = env("AWS_SHARED_CREDENTIALS_FILE")
                .map(PathBuf::from)
                .or_else(|| {
                    inputs
                        .home
                        .as_ref()
                        .map(|h| h.join(".aws").join("credentials"))
                });
            let config = config_path
                .as_deref()
                .and_then(|p| (inputs.read)(p))
                .map(|t| parse_ini(&t, true))
                .unwrap_or_default();
            let creds = creds_path
                .as_deref()
                .and_then(|p| (inputs.read)(p))
                .map(|t| parse_ini(&t, false))
                .unwrap_or_default();
            material.push(format!("files={config_path:?},{creds_path:?}"));
            profile_material(&profile, &config, &creds, &mut material);
            format!("profile {profile}")
        }
    };
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
    if akid.len() <= 8 {
        return "****".to_string();
    }
    format!("{}…{}", &akid[..4], &akid[akid.len() - 4..])
}

/// Adds every non-secret setting of `profile` and the sections it depends on.
fn profile_material(profile: &str, config: &[Section], creds: &[Section], out: &mut Vec<String>) {
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
                    if !SECRET_KEYS.contains(&k.as_str()) {
                        out.push(format!("{file}[{name}].{k}={v}"));
                    }
                    if k == "services" {
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
                    if k == "source_profile" {
                        next = Some(v.clone());
                    }
                    if k == "sso_session" {
                        for s in config
                            .iter()
                            .filter(|s| s.kind == SectionKind::SsoSession && &s.name == v)
                        {
                            for (k2, v2) in &s.entries {
                                out.push(format!("config[sso-session {v}].{k2}={v2}"));
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SectionKind {
    Profile,
    SsoSession,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Section {
    kind: SectionKind,
    name: String,
    entries: Vec<(String, String)>,
}

/// A lenient reader of the AWS shared config format: sections, `key = value`,
/// indented sub-properties folded into their parent, `#`/`;` comments.
pub(crate) fn parse_ini(text: &str, is_config_file: bool) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            let header = header.trim();
            let (kind, name) = if let Some(n) = header.strip_prefix("profile ") {
                (SectionKind::Profile, n.trim())
            } else if let Some(n) = header.strip_prefix("sso-session ") {
                (SectionKind::SsoSession, n.trim())
            } else if !is_config_file || header == "default" {
                (SectionKind::Profile, header)
            } else {
                (SectionKind::Other, header)
            };
            sections.push(Section {
                kind,
                name: name.to_string(),
                entries: Vec::new(),
            });
            continue;
        }
        let Some(section) = sections.last_mut() else {
            continue;
        };
        let indented = raw.starts_with([' ', '\t']);
        match line.split_once('=') {
            Some((k, v)) if !indented => {
                section
                    .entries
                    .push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
            _ => {
                if let Some(last) = section.entries.last_mut() {
                    last.1.push('\n');
                    last.1.push_str(line);
                }
            }
        }
    }
    sections
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
            let read = |p: &Path| self.files.get(p).cloned();
            let inputs = Inputs {
                env: &env,
                read: &read,
                home: Some(PathBuf::from("/home/u")),
            };
            cache_key(&parse_host(host).unwrap(), settings, &inputs)
        }
    }

    #[test]
    fn service_accounts_and_roles_never_share_a_web_identity_key() {
        let env = |_: &str| None;
        let read = |_: &Path| None;
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
        assert_ne!(key(a, puller), cache_key(&registry, &none(), &inputs));
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
        let a = World::new(&[("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEAAAA0001")]);
        let b = World::new(&[("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEBBBB0002")]);
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
        let w = World::new(&[("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEAAAA0001")]);
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
    fn the_same_principal_keeps_its_key_across_sessions_and_secrets_are_not_hashed() {
        let w1 = World::new(&[("AWS_PROFILE", "sso")])
            .file(CFG, "[profile sso]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = Dev\n[sso-session corp]\nsso_start_url = https://x\n")
            .file(CREDS, "[other]\naws_access_key_id = A\naws_secret_access_key = one\n");
        let w2 = World::new(&[("AWS_PROFILE", "sso")])
            .file(CFG, "[profile sso]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = Dev\n[sso-session corp]\nsso_start_url = https://x\n")
            .file(CREDS, "[other]\naws_access_key_id = A\naws_secret_access_key = two\n");
        assert_eq!(w1.key(H, &none()), w2.key(H, &none()));

        // A rotated secret key with the same key id is the same principal.
        let s1 = World::new(&[]).file(
            CREDS,
            "[default]\naws_access_key_id = AKIDEXAMPLE0000001\naws_secret_access_key = one\n",
        );
        let s2 = World::new(&[]).file(
            CREDS,
            "[default]\naws_access_key_id = AKIDEXAMPLE0000001\naws_secret_access_key = two\n",
        );
        assert_eq!(s1.key(H, &none()), s2.key(H, &none()));

        // But the sso-session it points at is part of the identity.
        let w3 = World::new(&[("AWS_PROFILE", "sso")])
            .file(CFG, "[profile sso]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = Dev\n[sso-session corp]\nsso_start_url = https://y\n");
        assert_ne!(w1.key(H, &none()), w3.key(H, &none()));
    }

    #[test]
    fn a_configured_profile_wins_over_environment_keys() {
        let w = World::new(&[("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEAAAA0001")])
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
        let w = World::new(&[("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEAAAA0001")]);
        let k = w.key(H, &none());
        assert_eq!(k.id.len(), 32);
        assert!(k.id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(k, w.key(H, &none()));
    }

    #[test]
    fn ini_reader_handles_the_aws_format() {
        let s = parse_ini(
            "# c\n[default]\nregion = us-east-1\n[profile a]\nRole_Arn=x\ns3 =\n  max = 1\n; c\n[sso-session s]\nsso_region = eu\n[services x]\necr =\n  endpoint_url = http://y\n",
            true,
        );
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].name, "default");
        assert_eq!(s[1].entries[0], ("role_arn".into(), "x".into()));
        assert_eq!(s[1].entries[1], ("s3".into(), "\nmax = 1".into()));
        assert_eq!(s[2].kind, SectionKind::SsoSession);
        assert_eq!(s[3].kind, SectionKind::Other);
        let c = parse_ini("[a]\naws_access_key_id = A\n", false);
        assert_eq!(c[0].kind, SectionKind::Profile);
    }
}
