//! The AWS shared config and credentials files, read the way the SDKs read them.
//!
//! Both the cache key (which must follow the chain without the network) and
//! the token source (which must know when a profile needs an MFA code or an
//! SSO login before the SDK fails on it) read these files, so the reader lives
//! below both of them.

use std::path::{Path, PathBuf};

/// What a section header names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SectionKind {
    /// `[profile NAME]` (or `[default]`, or any section of the credentials file).
    Profile,
    /// `[sso-session NAME]`.
    SsoSession,
    /// Anything else (`[services NAME]`…).
    Other,
}

/// One section: its kind, its name and its `key = value` entries in file order
/// (keys lower-cased, values trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Section {
    pub(crate) kind: SectionKind,
    pub(crate) name: String,
    pub(crate) entries: Vec<(String, String)>,
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

/// Where the SDK reads the config and credentials files: `AWS_CONFIG_FILE`
/// and `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/config` and `~/.aws/credentials`.
pub(crate) fn paths(
    env: &dyn Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> (Option<PathBuf>, Option<PathBuf>) {
    let default = |name: &str| home.map(|h| h.join(".aws").join(name));
    (
        env("AWS_CONFIG_FILE")
            .map(PathBuf::from)
            .or_else(|| default("config")),
        env("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .or_else(|| default("credentials")),
    )
}

/// Both files, parsed: enough to look up a profile's settings as the SDK merges them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Profiles {
    pub(crate) config: Vec<Section>,
    pub(crate) credentials: Vec<Section>,
}

impl Profiles {
    /// Parses the two files' text (either may be absent).
    pub(crate) fn parse(config: Option<&str>, credentials: Option<&str>) -> Profiles {
        Profiles {
            config: config.map(|t| parse_ini(t, true)).unwrap_or_default(),
            credentials: credentials.map(|t| parse_ini(t, false)).unwrap_or_default(),
        }
    }

    /// A profile's setting: the credentials file wins over the config file,
    /// and within a file the last occurrence wins, as in the SDKs.
    pub(crate) fn get(&self, profile: &str, key: &str) -> Option<&str> {
        [&self.credentials, &self.config]
            .into_iter()
            .find_map(|sections| {
                sections
                    .iter()
                    .filter(|s| s.kind == SectionKind::Profile && s.name == profile)
                    .flat_map(|s| s.entries.iter())
                    .rfind(|(k, _)| k == key)
                    .map(|(_, v)| v.as_str())
                    .filter(|v| !v.is_empty())
            })
    }

    /// Whether either file has a section for `profile`.
    pub(crate) fn exists(&self, profile: &str) -> bool {
        [&self.credentials, &self.config]
            .into_iter()
            .flatten()
            .any(|s| s.kind == SectionKind::Profile && s.name == profile)
    }

    /// The first role profile in `profile`'s chain whose `source_profile`
    /// names no profile at all: `(that profile, the missing name)`.
    pub(crate) fn missing_source(&self, profile: &str) -> Option<(String, String)> {
        let mut name = profile.to_string();
        for _ in 0..=10 {
            self.get(&name, "role_arn")?;
            let source = self.get(&name, "source_profile")?;
            if !self.exists(source) {
                return Some((name, source.to_string()));
            }
            if source == name {
                return None;
            }
            name = source.to_string();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn credentials_file_wins_and_the_last_occurrence_counts() {
        let p = Profiles::parse(
            Some(
                "[profile a]\nregion = eu\nrole_arn = x\nrole_arn = y\n[sso-session s]\nsso_region = us\n",
            ),
            Some("[a]\nregion = us\n"),
        );
        assert_eq!(p.get("a", "region"), Some("us"));
        assert_eq!(p.get("a", "role_arn"), Some("y"));
        assert_eq!(p.get("b", "region"), None);
    }

    #[test]
    fn a_source_profile_that_names_nothing_is_found() {
        let p = Profiles::parse(
            Some(
                "[profile top]\nrole_arn = a\nsource_profile = mid\n[profile mid]\nrole_arn = b\nsource_profile = gone\n[profile ok]\nrole_arn = c\nsource_profile = base\n",
            ),
            Some("[base]\naws_access_key_id = A\n"),
        );
        assert_eq!(p.missing_source("top"), Some(("mid".into(), "gone".into())));
        assert_eq!(p.missing_source("ok"), None);
        assert_eq!(p.missing_source("base"), None);
    }
}
