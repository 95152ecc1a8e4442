//! Our own config file: which AWS identity serves which registry, and host aliases.
//!
//! The Go helper only honours the global `AWS_PROFILE`, so people with several
//! accounts wrap it in scripts, and it rejects every custom domain or proxy
//! name (its issues #94, #249, #976). This file fixes both. It is optional; a
//! file that exists but is wrong is an error naming the file and line, never
//! a silent fallback to defaults, because a silently ignored `role_arn` would
//! hand out another identity's token.
//!
//! ```toml
//! timeout = 20                      # seconds for one token fetch
//!
//! [[registry]]                      # first matching rule wins
//! host = "123456789012.dkr.ecr.*.amazonaws.com"
//! profile = "prod"
//! role_arn = "arn:aws:iam::123456789012:role/ecr-pull"
//!
//! [[alias]]
//! host = "registry.example.com"     # a CNAME or proxy in front of ECR
//! account = "123456789012"
//! region = "eu-west-1"
//! ```

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::one_line;
use crate::protocol::canonical_host;
use crate::registry::{self, EcrRegistry};

/// Environment variable naming the config file explicitly.
pub const CONFIG_ENV: &str = "DOCKER_CREDENTIAL_ECR_CONFIG";

/// A config file that exists but cannot be used, located as precisely as we can.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    /// The file at fault.
    pub path: PathBuf,
    /// The 1-based line, when the problem is tied to one.
    pub line: Option<usize>,
    /// What is wrong, and what is expected instead.
    pub message: String,
}

/// The settings that apply to one registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrySettings {
    /// The AWS profile to use for this registry, instead of `AWS_PROFILE`.
    pub profile: Option<String>,
    /// A role to assume for this registry.
    pub role_arn: Option<String>,
}

/// The parsed config file (empty when there is none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// Where it was read from, for messages.
    pub path: Option<PathBuf>,
    /// Overall time budget for one fetch.
    pub timeout: Option<Duration>,
    rules: Vec<Rule>,
    aliases: Vec<Alias>,
}

#[derive(Debug, Clone, PartialEq)]
struct Rule {
    pattern: String,
    settings: RegistrySettings,
}

#[derive(Debug, Clone, PartialEq)]
struct Alias {
    host: String,
    account: String,
    region: String,
    fips: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    timeout: Option<Spanned<u64>>,
    #[serde(default)]
    registry: Vec<RawRule>,
    #[serde(default)]
    alias: Vec<RawAlias>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    host: Spanned<String>,
    profile: Option<Spanned<String>>,
    role_arn: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlias {
    host: Spanned<String>,
    account: Spanned<String>,
    region: Spanned<String>,
    #[serde(default)]
    fips: bool,
}

/// The longest `timeout` we accept, as for `DOCKER_CREDENTIAL_ECR_TIMEOUT`:
/// a bound on how long a `get` may hold up a build.
pub const MAX_TIMEOUT_SECS: u64 = 3600;

/// The largest config file we read: real ones are a few hundred bytes.
const CONFIG_LIMIT: u64 = 1 << 20;

/// Where the config file is looked for when `DOCKER_CREDENTIAL_ECR_CONFIG` is unset.
pub fn default_path() -> Option<PathBuf> {
    default_path_with(&|k| std::env::var(k).ok())
}

fn default_path_with(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let set = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let base = match set("XDG_CONFIG_HOME") {
        Some(dir) => dir,
        None if cfg!(windows) => dirs::config_dir()?,
        None => set("HOME").or_else(dirs::home_dir)?.join(".config"),
    };
    Some(base.join("docker-credential-ecr").join("config.toml"))
}

impl Config {
    /// Loads the config file named by the environment, or the default one if it exists.
    pub fn load() -> Result<Config, ConfigError> {
        Config::load_with(&|k| std::env::var(k).ok())
    }

    /// [`Config::load`] for a caller whose environment is `env` (the daemon's callers).
    pub fn load_with(env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        match env(CONFIG_ENV).filter(|v| !v.is_empty()) {
            Some(path) => Config::load_file(Path::new(&path), true),
            None => match default_path_with(env) {
                Some(path) => Config::load_file(&path, false),
                None => Ok(Config::default()),
            },
        }
    }

    /// Loads `path`; a missing file is an error only if the user named it
    /// explicitly. Size-capped, and a FIFO or device is refused, not waited on.
    pub fn load_file(path: &Path, required: bool) -> Result<Config, ConfigError> {
        let text = match crate::safe_fs::read_text_if_exists(path, CONFIG_LIMIT) {
            Ok(Some(text)) => text,
            Ok(None) if !required => return Ok(Config::default()),
            Ok(None) => {
                return Err(ConfigError {
                    path: path.to_path_buf(),
                    line: None,
                    message: "cannot read config file: it does not exist".into(),
                });
            }
            Err(e) => {
                return Err(ConfigError {
                    path: path.to_path_buf(),
                    line: None,
                    message: format!("cannot read config file: {}", crate::safe_fs::reason(&e)),
                });
            }
        };
        Config::parse(&text, path)
    }

    /// Parses config text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let err = |span: Option<Range<usize>>, message: String| ConfigError {
            path: path.to_path_buf(),
            line: span.map(|s| line_of(text, s.start)),
            message,
        };
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| err(e.span(), one_line(e.message())))?;

        let timeout = match raw.timeout {
            Some(t) if *t.get_ref() == 0 || *t.get_ref() > MAX_TIMEOUT_SECS => {
                return Err(err(
                    Some(t.span()),
                    format!("timeout must be from 1 to {MAX_TIMEOUT_SECS} seconds"),
                ));
            }
            Some(t) => Some(Duration::from_secs(*t.get_ref())),
            None => None,
        };

        let mut rules = Vec::new();
        for r in raw.registry {
            let pattern = r.host.get_ref().trim().to_ascii_lowercase();
            if pattern.is_empty() {
                return Err(err(Some(r.host.span()), "`host` must not be empty".into()));
            }
            if let Some(arn) = r.role_arn.as_ref().filter(|a| !is_role_arn(a.get_ref())) {
                return Err(err(
                    Some(arn.span()),
                    format!(
                        "`role_arn` {:?} is not an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)",
                        arn.get_ref()
                    ),
                ));
            }
            if let Some(p) = r.profile.as_ref().filter(|p| p.get_ref().trim().is_empty()) {
                return Err(err(Some(p.span()), "`profile` must not be empty".into()));
            }
            rules.push(Rule {
                pattern,
                settings: RegistrySettings {
                    profile: r.profile.map(|p| p.into_inner()),
                    role_arn: r.role_arn.map(|a| a.into_inner()),
                },
            });
        }

        let mut aliases = Vec::new();
        for a in raw.alias {
            let Some(host) = canonical_host(a.host.get_ref()) else {
                return Err(err(
                    Some(a.host.span()),
                    format!("alias `host` {:?} is not a host name", a.host.get_ref()),
                ));
            };
            if !registry::is_account_id(a.account.get_ref()) {
                return Err(err(
                    Some(a.account.span()),
                    format!(
                        "`account` {:?} is not a 12-digit AWS account id",
                        a.account.get_ref()
                    ),
                ));
            }
            if !registry::is_region(a.region.get_ref()) {
                return Err(err(
                    Some(a.region.span()),
                    format!(
                        "`region` {:?} is not an AWS region name",
                        a.region.get_ref()
                    ),
                ));
            }
            aliases.push(Alias {
                host,
                account: a.account.into_inner(),
                region: a.region.into_inner(),
                fips: a.fips,
            });
        }

        Ok(Config {
            path: Some(path.to_path_buf()),
            timeout,
            rules,
            aliases,
        })
    }

    /// The ECR registry a configured alias host stands for.
    pub fn alias(&self, host: &str) -> Option<EcrRegistry> {
        self.aliases
            .iter()
            .find(|a| a.host == host)
            .map(|a| EcrRegistry::private(&a.host, &a.account, &a.region, a.fips))
    }

    /// The settings of the first rule matching `host` (the name the client used) or the registry.
    pub fn settings_for(&self, host: &str, registry: &EcrRegistry) -> RegistrySettings {
        let real_host = match (registry.account_id(), self.alias(host)) {
            (Some(account), Some(_)) => {
                format!("{account}.dkr.ecr.{}.amazonaws.com", registry.api_region())
            }
            _ => registry.host.clone(),
        };
        self.rules
            .iter()
            .find(|r| glob_match(&r.pattern, host) || glob_match(&r.pattern, &real_host))
            .map(|r| r.settings.clone())
            .unwrap_or_default()
    }
}

/// Whether `s` is an IAM role ARN: `arn:<partition>:iam::<account>:role/<name>`.
pub(crate) fn is_role_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "iam"
        && registry::is_account_id(parts[4])
        && parts[5].starts_with("role/")
        && parts[5].len() > "role/".len()
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Shell-style glob on host names: `*` matches any run of characters, `?` one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                backtrack = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == b'?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match backtrack {
                Some((bp, bt)) => {
                    pi = bp + 1;
                    ti = bt + 1;
                    backtrack = Some((bp, bt + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/cfg.toml"))
    }

    #[test]
    fn glob_table() {
        for (p, t, want) in [
            ("*", "anything.at.all", true),
            (
                "123456789012.dkr.ecr.*.amazonaws.com",
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
                true,
            ),
            (
                "123456789012.dkr.ecr.*.amazonaws.com",
                "210987654321.dkr.ecr.eu-west-1.amazonaws.com",
                false,
            ),
            (
                "*.dkr.ecr.us-east-1.amazonaws.com",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                true,
            ),
            ("*.amazonaws.com", "x.amazonaws.com.cn", false),
            ("public.ecr.aws", "public.ecr.aws", true),
            ("public.ecr.?ws", "public.ecr.aws", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("", "", true),
            ("", "x", false),
        ] {
            assert_eq!(glob_match(p, t), want, "{p} ~ {t}");
        }
    }

    #[test]
    fn empty_config_is_default() {
        let c = parse("").unwrap();
        assert_eq!(c.timeout, None);
        let r = registry::parse_host("123456789012.dkr.ecr.us-east-1.amazonaws.com").unwrap();
        assert_eq!(c.settings_for(&r.host, &r), RegistrySettings::default());
    }

    #[test]
    fn first_matching_rule_wins() {
        let c = parse(
            r#"
timeout = 7
[[registry]]
host = "123456789012.dkr.ecr.eu-*.amazonaws.com"
profile = "eu"

[[registry]]
host = "*"
profile = "fallback"
role_arn = "arn:aws:iam::123456789012:role/ecr-pull"
"#,
        )
        .unwrap();
        assert_eq!(c.timeout, Some(Duration::from_secs(7)));
        let eu = registry::parse_host("123456789012.dkr.ecr.eu-west-1.amazonaws.com").unwrap();
        assert_eq!(c.settings_for(&eu.host, &eu).profile.as_deref(), Some("eu"));
        let us = registry::parse_host("123456789012.dkr.ecr.us-east-1.amazonaws.com").unwrap();
        let s = c.settings_for(&us.host, &us);
        assert_eq!(s.profile.as_deref(), Some("fallback"));
        assert_eq!(
            s.role_arn.as_deref(),
            Some("arn:aws:iam::123456789012:role/ecr-pull")
        );
    }

    #[test]
    fn aliases_map_to_a_private_registry_and_match_rules_by_either_name() {
        let c = parse(
            r#"
[[alias]]
host = "https://Registry.Example.com/"
account = "123456789012"
region = "eu-west-1"

[[registry]]
host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
profile = "via-real-host"
"#,
        )
        .unwrap();
        let r = c.alias("registry.example.com").unwrap();
        assert_eq!(r.account_id(), Some("123456789012"));
        assert_eq!(r.api_region(), "eu-west-1");
        assert_eq!(
            c.settings_for("registry.example.com", &r)
                .profile
                .as_deref(),
            Some("via-real-host")
        );
        assert!(c.alias("other.example.com").is_none());
    }

    #[test]
    fn errors_name_the_file_and_line() {
        for (text, line, needle) in [
            (
                "[[registry]]\nhost = \"x\"\nprofil = \"typo\"\n",
                3,
                "unknown field `profil`",
            ),
            ("timeout = \"soon\"\n", 1, "invalid type"),
            ("timeout = 0\n", 1, "from 1 to 3600 seconds"),
            (
                "timeout = 9223372036854775807\n",
                1,
                "from 1 to 3600 seconds",
            ),
            (
                "[[registry]]\nhost = \"x\"\nrole_arn = \"arn:aws:iam::1:user/x\"\n",
                3,
                "not an IAM role ARN",
            ),
            (
                "\n[[alias]]\nhost = \"a.example\"\naccount = \"12\"\nregion = \"us-east-1\"\n",
                4,
                "12-digit",
            ),
            (
                "[[alias]]\nhost = \"a.example\"\naccount = \"123456789012\"\nregion = \"US EAST\"\n",
                4,
                "region",
            ),
            (
                "[[alias]]\nhost = \"a b\"\naccount = \"123456789012\"\nregion = \"us-east-1\"\n",
                2,
                "not a host name",
            ),
            ("this is not toml", 1, ""),
            ("[[registry]]\nprofile = \"p\"\n", 1, "missing field `host`"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, Some(line), "{text:?}: {e}");
            assert!(e.message.contains(needle), "{text:?}: {e}");
            let shown = e.to_string();
            assert!(shown.starts_with(&format!("/cfg.toml:{line}: ")), "{shown}");
            assert!(!shown.contains('\n'), "{shown}");
        }
    }

    #[test]
    fn missing_file_is_fine_unless_named() {
        let p = Path::new("/nonexistent/docker-credential-ecr/config.toml");
        assert_eq!(Config::load_file(p, false).unwrap(), Config::default());
        let e = Config::load_file(p, true).unwrap_err();
        assert!(e.message.contains("cannot read"), "{e}");
    }
}
