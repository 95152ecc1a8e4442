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
use sha2::{Digest, Sha256};

use crate::secret::Secret;
use crate::token::AuthToken;

/// The longest safety margin before expiry; shorter-lived tokens get a quarter of their life.
pub const MAX_SAFETY_MARGIN: Duration = Duration::from_secs(300);

/// A cached token with what `status` and `erase` need to know about it.
///
/// Only the password goes to the secret backend; everything else lives in the
/// non-secret index ([`Meta`]), which also carries a fingerprint of the
/// password so a pairing of one write's index with another's secret (a
/// reader racing a writer, or a damaged entry) is detected, not served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
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
    /// Format version, so a future layout can be told apart.
    pub v: u32,
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
    /// The basic-auth user name.
    pub username: String,
    /// A short hash of the password, to check the secret belongs to this record.
    pub fingerprint: String,
}

/// A short, non-reversible tag of a password.
fn fingerprint(password: &str) -> String {
    let digest = Sha256::digest(password.as_bytes());
    crate::hex(&digest[..8])
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
    now >= minted.saturating_add(expires.saturating_sub(minted) / 2)
}

/// The longest lifetime a record may claim: ECR tokens live 12 hours, so a
/// record claiming more is damaged (or forged) and is treated as a miss.
pub const MAX_LIFETIME: u64 = 7 * 24 * 3600;

/// 9999-12-31T23:59:59Z: no real record is dated later, and every time we
/// compute with stays far from overflow below it.
pub const MAX_EPOCH: u64 = 253_402_300_799;

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
            expires_at: UNIX_EPOCH.checked_add(Duration::from_secs(self.expires)),
            credentials_expire_at: None,
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

    /// Joins an index record with the secret a backend returned; `None` if they do not belong together.
    pub fn from_parts(meta: &Meta, secret: &[u8]) -> Option<Entry> {
        let password = std::str::from_utf8(secret).ok()?;
        (meta.v == 1
            && !password.is_empty()
            && meta.expires > meta.minted
            && meta.expires - meta.minted <= MAX_LIFETIME
            && meta.expires <= MAX_EPOCH
            && fingerprint(password) == meta.fingerprint)
            .then(|| Entry {
                registry: meta.registry.clone(),
                identity: meta.identity.clone(),
                username: meta.username.clone(),
                password: Secret::new(password.to_string()),
                minted: meta.minted,
                expires: meta.expires,
            })
    }

    /// The index record for this entry.
    pub fn meta(&self, key: &str, backend: &str) -> Meta {
        Meta {
            v: 1,
            key: key.to_string(),
            registry: self.registry.clone(),
            identity: self.identity.clone(),
            backend: backend.to_string(),
            minted: self.minted,
            expires: self.expires,
            username: self.username.clone(),
            fingerprint: fingerprint(self.password.expose()),
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
            credentials_expire_at: None,
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
    fn parts_round_trip_and_mismatches_are_rejected() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let e = Entry::new("h", "id", &token(Some(3600), now), now).unwrap();
        let meta = e.meta("k", "file");
        assert_eq!(Entry::from_parts(&meta, b"pw"), Some(e.clone()));
        assert_eq!(e.token().password.expose(), "pw");
        for bad in [&b""[..], b"pw2", b"p", b"\xff"] {
            assert_eq!(Entry::from_parts(&meta, bad), None);
        }
        let v2 = Meta {
            v: 2,
            ..meta.clone()
        };
        assert_eq!(Entry::from_parts(&v2, b"pw"), None);
        // A record claiming an absurd life is damaged: a miss, never a panic.
        for (minted, expires) in [(meta.minted, u64::MAX), (u64::MAX - 1, u64::MAX)] {
            let absurd = Meta {
                minted,
                expires,
                ..meta.clone()
            };
            assert_eq!(Entry::from_parts(&absurd, b"pw"), None);
            // And the time rules never overflow on it (a debug build would panic).
            assert!(!refresh_due(minted, expires, 0));
            assert!(usable(minted, expires, 0));
        }
        assert!(!format!("{e:?}").contains("\"pw\""));
        assert!(!serde_json::to_string(&meta).unwrap().contains("\"pw\""));
    }
}
