//! One cached token and the rules for when it may be used.
//!
//! Two moments matter. A token is *usable* until shortly before ECR's expiry
//! (clients keep using what `get` gave them for a while — a long push — so
//! handing out a token with seconds left would fail mid-transfer). It is
//! *due for refresh* at half its lifetime, as the Go helper does, so the
//! usual case never comes near expiry at all; a due-but-usable token is
//! still served when the refresh fails.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::secret::Secret;
use crate::token::AuthToken;

/// The longest safety margin before expiry; shorter-lived tokens get a quarter of their life.
pub const MAX_SAFETY_MARGIN: Duration = Duration::from_secs(300);

/// A cached token with what `status` and `erase` need to know about it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Entry {
    /// Format version, so a future layout can be told apart.
    pub v: u32,
    /// The registry host the token is for.
    pub registry: String,
    /// Whose token it is (no secrets), for humans.
    pub identity: String,
    /// The basic-auth user name.
    pub username: String,
    /// The basic-auth password.
    pub password: Secret<String>,
    /// When we received it, seconds since the epoch.
    pub minted: u64,
    /// When ECR says it expires, seconds since the epoch.
    pub expires: u64,
}

/// The same entry without the secret: what the metadata index holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The cache key id.
    pub key: String,
    /// The registry host.
    pub registry: String,
    /// Whose token it is.
    pub identity: String,
    /// The backend holding the secret.
    pub backend: String,
    /// When it was received.
    pub minted: u64,
    /// When it expires.
    pub expires: u64,
}

/// Seconds since the epoch, saturating for clocks before 1970.
pub fn epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// When a token with this lifetime stops being handed out, seconds before expiry.
pub fn safety_margin(minted: u64, expires: u64) -> u64 {
    (expires.saturating_sub(minted) / 4).min(MAX_SAFETY_MARGIN.as_secs())
}

/// Whether a token with these times may still be handed out at `now`.
pub fn usable(minted: u64, expires: u64, now: u64) -> bool {
    now + safety_margin(minted, expires) < expires
}

/// Whether a token with these times should be replaced at `now`.
pub fn refresh_due(minted: u64, expires: u64, now: u64) -> bool {
    now >= minted + expires.saturating_sub(minted) / 2
}

impl Entry {
    /// A cache entry for a freshly minted token, or `None` if it must not be cached
    /// (no expiry, or already unusable: moto's tokens "expire" in 2015).
    pub fn new(
        registry: &str,
        identity: &str,
        token: &AuthToken,
        now: SystemTime,
    ) -> Option<Entry> {
        let minted = epoch(now);
        let expires = epoch(token.expires_at?);
        usable(minted, expires, minted).then(|| Entry {
            v: 1,
            registry: registry.to_string(),
            identity: identity.to_string(),
            username: token.username.clone(),
            password: token.password.clone(),
            minted,
            expires,
        })
    }

    /// The token to hand out.
    pub fn token(&self) -> AuthToken {
        AuthToken {
            username: self.username.clone(),
            password: self.password.clone(),
            expires_at: Some(UNIX_EPOCH + Duration::from_secs(self.expires)),
        }
    }

    /// May this entry be handed out at `now`?
    pub fn usable(&self, now: u64) -> bool {
        usable(self.minted, self.expires, now)
    }

    /// Should this entry be replaced at `now`?
    pub fn refresh_due(&self, now: u64) -> bool {
        refresh_due(self.minted, self.expires, now)
    }

    /// The serialised form a backend stores; it contains the secret.
    pub fn encode(&self) -> Secret<Vec<u8>> {
        let value = serde_json::json!({
            "v": self.v,
            "registry": self.registry,
            "identity": self.identity,
            "username": self.username,
            "password": self.password.expose(),
            "minted": self.minted,
            "expires": self.expires,
        });
        Secret::new(serde_json::to_vec(&value).unwrap_or_default())
    }

    /// Parses what a backend returned; `None` for anything corrupt or of another version.
    pub fn decode(bytes: &[u8]) -> Option<Entry> {
        let entry: Entry = serde_json::from_slice(bytes).ok()?;
        (entry.v == 1 && !entry.password.expose().is_empty() && entry.expires > entry.minted)
            .then_some(entry)
    }

    /// The index record for this entry.
    pub fn meta(&self, key: &str, backend: &str) -> Meta {
        Meta {
            key: key.to_string(),
            registry: self.registry.clone(),
            identity: self.identity.clone(),
            backend: backend.to_string(),
            minted: self.minted,
            expires: self.expires,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(expires_in: Option<i64>, now: SystemTime) -> AuthToken {
        AuthToken {
            username: "AWS".into(),
            password: Secret::new("pw".into()),
            expires_at: expires_in.map(|s| {
                if s >= 0 {
                    now + Duration::from_secs(s as u64)
                } else {
                    now - Duration::from_secs((-s) as u64)
                }
            }),
        }
    }

    #[test]
    fn twelve_hour_token_lifecycle() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let e = Entry::new("h", "id", &token(Some(12 * 3600), now), now).unwrap();
        let t0 = epoch(now);
        assert!(e.usable(t0) && !e.refresh_due(t0));
        assert!(!e.refresh_due(t0 + 6 * 3600 - 1));
        assert!(e.refresh_due(t0 + 6 * 3600));
        assert!(e.usable(t0 + 12 * 3600 - 301));
        assert!(!e.usable(t0 + 12 * 3600 - 300));
    }

    #[test]
    fn short_lived_tokens_get_a_proportional_margin() {
        assert_eq!(safety_margin(0, 8), 2);
        assert!(usable(0, 8, 5));
        assert!(!usable(0, 8, 6));
        assert!(refresh_due(0, 8, 4));
    }

    #[test]
    fn expired_or_undated_tokens_are_not_cached() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(Entry::new("h", "id", &token(Some(-10), now), now).is_none());
        assert!(Entry::new("h", "id", &token(None, now), now).is_none());
        assert!(Entry::new("h", "id", &token(Some(0), now), now).is_none());
    }

    #[test]
    fn round_trip_and_corruption() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let e = Entry::new("h", "id", &token(Some(3600), now), now).unwrap();
        let bytes = e.encode();
        assert_eq!(Entry::decode(bytes.expose()), Some(e.clone()));
        assert_eq!(e.token().password.expose(), "pw");
        for bad in [
            &b""[..],
            b"{",
            b"null",
            br#"{"v":2}"#,
            &bytes.expose()[..bytes.expose().len() - 3],
        ] {
            assert_eq!(Entry::decode(bad), None);
        }
        assert!(!format!("{e:?}").contains("pw\""));
    }
}
