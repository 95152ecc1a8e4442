//! SSO profiles: which login a profile depends on, where its token is cached,
//! and the exact command that renews it.
//!
//! `aws sso login` caches the portal token in
//! `~/.aws/sso/cache/<sha1(session name or start URL)>.json`; an expired or
//! missing token is the SSO user's most common failure, and the only fix is
//! that command, so `get` and `doctor` name it. Pure logic.

use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use crate::aws_profile::Profiles;

/// The SSO login a profile chain uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoLogin {
    /// The profile that holds the SSO settings (the one `aws sso login --profile` needs).
    pub profile: String,
    /// Its `sso_session`, if it uses the `[sso-session]` form.
    pub session: Option<String>,
    /// The portal's start URL (legacy profiles), if set.
    pub start_url: Option<String>,
}

impl SsoLogin {
    /// The command that renews the token.
    pub fn command(&self) -> String {
        match &self.session {
            Some(session) => format!("aws sso login --sso-session {session}"),
            None => format!("aws sso login --profile {}", self.profile),
        }
    }

    /// The token cache file, or `None` when the profile names neither a session nor a URL.
    pub fn token_file(&self, home: &Path) -> Option<PathBuf> {
        let name = self.session.as_deref().or(self.start_url.as_deref())?;
        let hash = crate::hex(&Sha1::digest(name.as_bytes()));
        Some(
            home.join(".aws")
                .join("sso")
                .join("cache")
                .join(format!("{hash}.json")),
        )
    }
}

/// Follows `profile`'s `source_profile` chain to the profile whose credentials come from SSO.
pub(crate) fn find(profiles: &Profiles, profile: &str) -> Option<SsoLogin> {
    let mut name = profile.to_string();
    for _ in 0..=10 {
        let session = profiles.get(&name, "sso_session");
        let start_url = profiles.get(&name, "sso_start_url");
        if session.is_some() || start_url.is_some() {
            return Some(SsoLogin {
                profile: name,
                session: session.map(String::from),
                start_url: start_url.map(String::from),
            });
        }
        profiles.get(&name, "role_arn")?;
        match profiles.get(&name, "source_profile") {
            Some(next) if next != name => name = next.to_string(),
            _ => return None,
        }
    }
    None
}

/// The token's state as its cache file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// No token file (never logged in, or logged out).
    Missing,
    /// The file is there but unreadable as a token.
    Unreadable,
    /// `expiresAt` has passed (seconds since the epoch).
    Expired(u64),
    /// Valid until then (seconds since the epoch).
    Valid(u64),
}

/// Reads a token file's text (`None`: no file) as of `now`.
pub fn token_state(text: Option<&str>, now: u64) -> TokenState {
    let Some(text) = text else {
        return TokenState::Missing;
    };
    let expires = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v["expiresAt"].as_str().and_then(crate::mfa::parse_time));
    match expires {
        None => TokenState::Unreadable,
        Some(at) if at <= now => TokenState::Expired(at),
        Some(at) => TokenState::Valid(at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sso_session_and_legacy_profiles_name_their_own_login() {
        let p = Profiles::parse(
            Some(
                "[profile dev]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = R\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n[profile old]\nsso_start_url = https://old.awsapps.com/start\nsso_account_id = 1\n[profile admin]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = old\n[profile keys]\nregion = eu-west-1\n",
            ),
            None,
        );
        let dev = find(&p, "dev").unwrap();
        assert_eq!(dev.command(), "aws sso login --sso-session corp");
        let home = Path::new("/h");
        // sha1("corp"), as botocore and the Rust SDK name the file.
        assert_eq!(
            dev.token_file(home).unwrap(),
            Path::new("/h/.aws/sso/cache/ee0bfd2552fbd840c02cc48b6e823320543c450f.json")
        );
        let old = find(&p, "admin").unwrap();
        assert_eq!(old.profile, "old");
        assert_eq!(old.command(), "aws sso login --profile old");
        assert!(find(&p, "keys").is_none());
    }

    #[test]
    fn token_states() {
        let t = |s: &str| format!(r#"{{"accessToken":"x","expiresAt":"{s}"}}"#);
        assert_eq!(token_state(None, 10), TokenState::Missing);
        assert_eq!(token_state(Some("x"), 10), TokenState::Unreadable);
        assert_eq!(
            token_state(Some(&t("2027-01-15T08:00:00Z")), 1_800_000_000),
            TokenState::Expired(1_800_000_000)
        );
        assert_eq!(
            token_state(Some(&t("2027-01-15T08:00:00UTC")), 1),
            TokenState::Valid(1_800_000_000)
        );
    }
}
