//! MFA role profiles: find the role session the AWS CLI cached after its MFA
//! prompt, and write one the same way after `login`.
//!
//! A role profile with `mfa_serial` can only be assumed with a fresh code
//! from the user's device. A credential helper has no terminal, and calling
//! AssumeRole without a code only fails (and repeated failures can lock a
//! user out), so `get` never does: it uses the session the AWS CLI (or our
//! `login`) cached in `~/.aws/cli/cache/<key>.json` while it is valid, and
//! otherwise names the command that makes one.
//!
//! The key is botocore's (`AssumeRoleCredentialFetcher._create_cache_key`):
//! the SHA-1 of `json.dumps(args, sort_keys=True)` over the AssumeRole
//! arguments the profile sets, so both tools find each other's sessions.
//! The source credentials are no part of it; the directory is per user.
//! Pure logic: no file or network access happens here.

use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use crate::aws_profile::Profiles;
use crate::secret::Secret;

/// How long STS makes a role session last when the profile does not say.
pub const DEFAULT_DURATION_SECS: i64 = 3600;

/// A session this close to its end is not used: the ECR call made with it
/// must still be signed and accepted.
pub const EXPIRY_MARGIN_SECS: u64 = 60;

/// The largest session file we read: real ones are about 1.5 KiB.
pub const SESSION_FILE_LIMIT: u64 = 64 * 1024;

/// One role hop: the AssumeRole arguments a profile sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleHop {
    /// The profile that sets them.
    pub profile: String,
    /// `role_arn`.
    pub role_arn: String,
    /// `external_id`.
    pub external_id: Option<String>,
    /// `duration_seconds`, when it is an integer (botocore ignores it otherwise).
    pub duration_seconds: Option<i64>,
    /// `role_session_name`.
    pub role_session_name: Option<String>,
}

/// A profile chain that reaches a role needing an MFA code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaChain {
    /// The role profile with `mfa_serial`.
    pub mfa: RoleHop,
    /// Its `mfa_serial`.
    pub mfa_serial: String,
    /// Where its own source credentials come from: `source_profile`, if set.
    pub source_profile: Option<String>,
    /// Or `credential_source` (`Environment`, `EcsContainer`, `Ec2InstanceMetadata`).
    pub credential_source: Option<String>,
    /// The role hops above it, from the one right above to the profile in use.
    pub above: Vec<RoleHop>,
}

fn hop(profiles: &Profiles, name: &str) -> Option<RoleHop> {
    // A profile with a web identity token file is web identity, not assume-role.
    if profiles.get(name, "web_identity_token_file").is_some() {
        return None;
    }
    Some(RoleHop {
        profile: name.to_string(),
        role_arn: profiles.get(name, "role_arn")?.to_string(),
        external_id: profiles.get(name, "external_id").map(String::from),
        duration_seconds: profiles
            .get(name, "duration_seconds")
            .and_then(|d| d.trim().trim_start_matches('+').parse().ok()),
        role_session_name: profiles.get(name, "role_session_name").map(String::from),
    })
}

/// Follows `profile`'s `source_profile` chain through role profiles; the
/// first one with `mfa_serial` makes it an MFA chain.
pub(crate) fn find(profiles: &Profiles, profile: &str) -> Option<MfaChain> {
    let mut above = Vec::new();
    let mut name = profile.to_string();
    loop {
        let this = hop(profiles, &name)?;
        let source = profiles.get(&name, "source_profile").map(String::from);
        if let Some(serial) = profiles.get(&name, "mfa_serial") {
            above.reverse();
            return Some(MfaChain {
                mfa: this,
                mfa_serial: serial.to_string(),
                source_profile: source,
                credential_source: profiles.get(&name, "credential_source").map(String::from),
                above,
            });
        }
        above.push(this);
        match source {
            // A profile that is its own source uses its own keys.
            Some(next) if next != name && above.len() <= 10 => name = next,
            _ => return None,
        }
    }
}

/// botocore's cache key for the MFA role's AssumeRole arguments.
pub fn cli_cache_key(chain: &MfaChain) -> String {
    let role = &chain.mfa;
    let mut args: Vec<(&str, String)> = vec![
        ("RoleArn", py_json_str(&role.role_arn)),
        ("SerialNumber", py_json_str(&chain.mfa_serial)),
    ];
    if let Some(id) = &role.external_id {
        args.push(("ExternalId", py_json_str(id)));
    }
    if let Some(d) = role.duration_seconds {
        args.push(("DurationSeconds", d.to_string()));
    }
    if let Some(name) = &role.role_session_name {
        args.push(("RoleSessionName", py_json_str(name)));
    }
    args.sort_by(|a, b| a.0.cmp(b.0));
    let body: Vec<String> = args
        .iter()
        .map(|(k, v)| format!("{}: {v}", py_json_str(k)))
        .collect();
    let json = format!("{{{}}}", body.join(", "));
    let digest = Sha1::digest(json.as_bytes());
    crate::hex(&digest)
}

/// A string as Python's `json.dumps` writes it (`ensure_ascii=True`).
fn py_json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
    }
    out.push('"');
    out
}

/// The AWS CLI's role session cache: botocore's `~/.aws/cli/cache`, which no
/// setting moves.
pub fn cache_dir(home: &Path) -> PathBuf {
    home.join(".aws").join("cli").join("cache")
}

/// The session file for `chain`'s MFA role.
pub fn cache_file(home: &Path, chain: &MfaChain) -> PathBuf {
    cache_dir(home).join(format!("{}.json", cli_cache_key(chain)))
}

/// A cached role session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// `Credentials.AccessKeyId`.
    pub access_key_id: String,
    /// `Credentials.SecretAccessKey`.
    pub secret_access_key: Secret<String>,
    /// `Credentials.SessionToken`.
    pub session_token: Secret<String>,
    /// `Credentials.Expiration`, seconds since the epoch.
    pub expiration: u64,
}

impl Session {
    /// Whether it can still sign a call at `now` (seconds since the epoch).
    pub fn usable(&self, now: u64) -> bool {
        self.expiration > now.saturating_add(EXPIRY_MARGIN_SECS)
    }
}

/// Why a session file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Not JSON.
    #[error("not JSON")]
    NotJson,
    /// A field is missing or not a string.
    #[error("no Credentials.{0}")]
    Missing(&'static str),
    /// The expiration is no time we can read.
    #[error("Credentials.Expiration is not a time")]
    BadExpiration,
}

/// Reads a session file's text (botocore's or ours).
pub fn parse_session(text: &str) -> Result<Session, SessionError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|_| SessionError::NotJson)?;
    let creds = &v["Credentials"];
    let field = |name: &'static str| {
        creds[name]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(String::from)
            .ok_or(SessionError::Missing(name))
    };
    Ok(Session {
        access_key_id: field("AccessKeyId")?,
        secret_access_key: Secret::new(field("SecretAccessKey")?),
        session_token: Secret::new(field("SessionToken")?),
        expiration: parse_time(&field("Expiration")?).ok_or(SessionError::BadExpiration)?,
    })
}

/// A session file as botocore writes one, so the AWS CLI reuses our sessions too.
pub fn session_json(session: &Session, assumed_role_arn: &str, assumed_role_id: &str) -> String {
    serde_json::json!({
        "Credentials": {
            "AccessKeyId": session.access_key_id,
            "SecretAccessKey": session.secret_access_key.expose(),
            "SessionToken": session.session_token.expose(),
            "Expiration": crate::helper::iso8601(session.expiration),
        },
        "AssumedRoleUser": {
            "AssumedRoleId": assumed_role_id,
            "Arn": assumed_role_arn,
        },
        "ResponseMetadata": {},
    })
    .to_string()
}

/// How long a new session will last, for the user: `1 h`, `12 h`, `15 min`.
pub fn lasts(duration_seconds: Option<i64>) -> String {
    let secs = duration_seconds.unwrap_or(DEFAULT_DURATION_SECS).max(0);
    if secs >= 3600 && secs % 3600 == 0 {
        format!("{} h", secs / 3600)
    } else {
        format!("{} min", secs / 60)
    }
}

/// Seconds since the epoch for the times AWS tools write:
/// `YYYY-MM-DDTHH:MM:SS`, optional fraction, then `Z`, `UTC`, `GMT`,
/// `±HH:MM` or `±HHMM` (no zone: UTC).
pub fn parse_time(text: &str) -> Option<u64> {
    let t = text.trim();
    let b = t.as_bytes();
    if b.len() < 19
        || !t.is_char_boundary(19)
        || b[4] != b'-'
        || b[7] != b'-'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    if b[10] != b'T' && b[10] != b't' && b[10] != b' ' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &t[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "" | "Z" | "z" | "UTC" | "GMT" | "+00:00" | "-00:00" => 0,
        zone => {
            let sign = match zone.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hm: String = zone[1..].chars().filter(|c| *c != ':').collect();
            if hm.len() != 4 || !hm.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let (h, m): (i64, i64) = (hm[..2].parse().ok()?, hm[2..].parse().ok()?);
            sign * (h * 3600 + m * 60)
        }
    };
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    u64::try_from(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profiles(config: &str) -> Profiles {
        Profiles::parse(Some(config), None)
    }

    #[test]
    fn the_key_is_botocores() {
        // Checked against botocore's _create_cache_key (see tests/it/identity.rs
        // for the AWS CLI itself writing the file).
        let p = profiles(
            "[profile mfa]\nrole_arn = arn:aws:iam::123456789012:role/mfaAdmin\nmfa_serial = arn:aws:iam::123456789012:mfa/dev\nsource_profile = base\n",
        );
        let chain = find(&p, "mfa").unwrap();
        assert_eq!(
            cli_cache_key(&chain),
            "91b385929ebc1a4af1c78c3f9ea890186d451f8d"
        );
        assert_eq!(chain.source_profile.as_deref(), Some("base"));
        assert!(chain.above.is_empty());
    }

    #[test]
    fn every_argument_the_profile_sets_is_in_the_key() {
        // Values computed with botocore 1.43 (json.dumps(sort_keys=True), SHA-1).
        let p = profiles(
            "[profile full]\nrole_arn = arn:aws:iam::123456789012:role/mfaAdmin\nmfa_serial = arn:aws:iam::123456789012:mfa/dev\nexternal_id = ext-42\nduration_seconds = 7200\nrole_session_name = alice\nsource_profile = base\n",
        );
        let chain = find(&p, "full").unwrap();
        assert_eq!(chain.mfa.duration_seconds, Some(7200));
        assert_eq!(cli_cache_key(&chain), FULL_KEY);
        // A duration botocore cannot parse as an int is left out.
        let p = profiles(
            "[profile d]\nrole_arn = arn:aws:iam::123456789012:role/mfaAdmin\nmfa_serial = arn:aws:iam::123456789012:mfa/dev\nduration_seconds = 1h\n",
        );
        assert_eq!(
            cli_cache_key(&find(&p, "d").unwrap()),
            "91b385929ebc1a4af1c78c3f9ea890186d451f8d"
        );
    }

    const FULL_KEY: &str = "be7f38e914893e0fe9180207f2735e489a6b222d";

    #[test]
    fn python_json_escapes() {
        assert_eq!(py_json_str("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(py_json_str("é😀\u{1}"), r#""\u00e9\ud83d\ude00\u0001""#);
    }

    #[test]
    fn a_chain_reaches_the_mfa_role_through_other_roles() {
        let p = profiles(
            "[profile top]\nrole_arn = arn:aws:iam::1:role/top\nsource_profile = mid\n[profile mid]\nrole_arn = arn:aws:iam::1:role/mid\nexternal_id = x\nsource_profile = mfa\n[profile mfa]\nrole_arn = arn:aws:iam::1:role/m\nmfa_serial = arn:aws:iam::1:mfa/u\nsource_profile = base\n[profile plain]\nrole_arn = arn:aws:iam::1:role/p\nsource_profile = base\n[profile loop]\nrole_arn = arn:aws:iam::1:role/l\nsource_profile = loop\n[profile web]\nrole_arn = arn:aws:iam::1:role/w\nmfa_serial = x\nweb_identity_token_file = /t\n",
        );
        let chain = find(&p, "top").unwrap();
        assert_eq!(chain.mfa.profile, "mfa");
        let above: Vec<&str> = chain.above.iter().map(|h| h.profile.as_str()).collect();
        assert_eq!(above, ["mid", "top"]);
        assert_eq!(chain.above[0].external_id.as_deref(), Some("x"));
        assert!(find(&p, "plain").is_none());
        assert!(find(&p, "loop").is_none());
        assert!(find(&p, "web").is_none());
        assert!(find(&p, "missing").is_none());
    }

    #[test]
    fn sessions_round_trip_and_expire_with_a_margin() {
        let s = Session {
            access_key_id: "ASIAX".into(),
            secret_access_key: Secret::new("s".into()),
            session_token: Secret::new("t".into()),
            expiration: 1_800_000_000,
        };
        let text = session_json(&s, "arn", "id");
        assert_eq!(parse_session(&text).unwrap(), s);
        assert!(s.usable(1_800_000_000 - EXPIRY_MARGIN_SECS - 1));
        assert!(!s.usable(1_800_000_000 - EXPIRY_MARGIN_SECS));
        // botocore's own format: strftime('%Y-%m-%dT%H:%M:%S%Z').
        let cli = r#"{"Credentials": {"AccessKeyId": "ASIAX", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": "2027-01-15T08:00:00UTC"}}"#;
        assert_eq!(parse_session(cli).unwrap().expiration, 1_800_000_000);
        assert_eq!(
            parse_session("{}"),
            Err(SessionError::Missing("AccessKeyId"))
        );
        assert_eq!(parse_session("x"), Err(SessionError::NotJson));
    }

    #[test]
    fn times_in_every_format_aws_tools_write() {
        let t = 1_800_000_000; // 2027-01-15T08:00:00Z
        for s in [
            "2027-01-15T08:00:00Z",
            "2027-01-15T08:00:00UTC",
            "2027-01-15T08:00:00.000Z",
            "2027-01-15T08:00:00+00:00",
            "2027-01-15T10:00:00+02:00",
            "2027-01-15T03:00:00-0500",
            "2027-01-15 08:00:00",
        ] {
            assert_eq!(parse_time(s), Some(t), "{s}");
        }
        for s in [
            "",
            "2027-01-15",
            "2027-13-15T08:00:00Z",
            "2027-01-15T08:00:00X",
            "２０２７-01-15T08:00:00Z",
        ] {
            assert_eq!(parse_time(s), None, "{s}");
        }
        assert_eq!(crate::helper::iso8601(t), "2027-01-15T08:00:00Z");
    }

    #[test]
    fn session_lengths_read_naturally() {
        assert_eq!(lasts(None), "1 h");
        assert_eq!(lasts(Some(43_200)), "12 h");
        assert_eq!(lasts(Some(900)), "15 min");
    }
}
