//! Keyring backends: Linux kernel keyutils, and the OS keyring via the `keyring` crate.
//!
//! keyutils keeps secrets in kernel memory with microsecond operations and
//! nothing on disk, but only works where the process has a real session
//! keyring (a login session, `keyctl session`); elsewhere (containers, cron,
//! systemd services) adding a key succeeds halfway and then fails, so we
//! refuse it up front. The OS keyring (Secret Service, Keychain, Credential
//! Manager) persists across reboots but costs milliseconds per process.
//!
//! Values are packed compactly: ECR passwords are base64 text, so we store
//! the decoded bytes (3/4 of the size), which keeps a token under Windows
//! Credential Manager's 2560-byte limit and stretches keyutils' per-user quota.

use std::time::Duration;

use super::{Backend, BackendError};

/// The service name under which every entry is filed.
pub const SERVICE: &str = "docker-credential-ecr";

const TAG_BASE64: u8 = b'b';
const TAG_TEXT: u8 = b't';

/// Packs a secret: decoded bytes when it is canonical base64, else the text.
pub fn pack(secret: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::with_capacity(secret.len() + 1);
    match engine.decode(secret) {
        Ok(raw) if engine.encode(&raw).as_bytes() == secret => {
            out.push(TAG_BASE64);
            out.extend_from_slice(&raw);
        }
        _ => {
            out.push(TAG_TEXT);
            out.extend_from_slice(secret);
        }
    }
    out
}

/// Reverses [`pack`]; `None` for anything we did not write.
pub fn unpack(stored: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    match stored.split_first()? {
        (&TAG_BASE64, raw) => Some(
            base64::engine::general_purpose::STANDARD
                .encode(raw)
                .into_bytes(),
        ),
        (&TAG_TEXT, text) => Some(text.to_vec()),
        _ => None,
    }
}

fn platform(backend: &'static str, e: impl std::fmt::Display) -> BackendError {
    BackendError::Platform {
        backend,
        detail: e.to_string(),
    }
}

/// The OS keyring through the `keyring` crate's platform store.
struct OsKeyring;

/// What the OS keyring is called in messages and `status`.
const OS_KEYRING_NAME: &str = if cfg!(target_os = "macos") {
    "keychain"
} else if cfg!(windows) {
    "credential-manager"
} else {
    "secret-service"
};

/// How long one OS keyring operation may take. Secret Service calls have no
/// timeout of their own and block forever on a stuck provider; a `get` must not.
const OS_KEYRING_DEADLINE: Duration = Duration::from_secs(2);

/// Runs `op` on its own thread and gives up after [`OS_KEYRING_DEADLINE`].
fn with_deadline<T: Send + 'static>(
    op: impl FnOnce() -> Result<T, BackendError> + Send + 'static,
) -> Result<T, BackendError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("keyring-op".into())
        .spawn(move || {
            let _ = tx.send(op());
        })
        .map_err(|e| platform(OS_KEYRING_NAME, e))?;
    rx.recv_timeout(OS_KEYRING_DEADLINE).unwrap_or_else(|_| {
        Err(BackendError::Unavailable {
            backend: OS_KEYRING_NAME,
            detail: format!("no answer within {OS_KEYRING_DEADLINE:?}"),
        })
    })
}

impl OsKeyring {
    fn entry(id: &str) -> Result<keyring_core::Entry, BackendError> {
        // On Windows, keep the token on this machine: the default "Enterprise"
        // persistence would roam a 12-hour bearer token with the user profile.
        #[cfg(windows)]
        {
            keyring::Entry::store_status()
                .as_ref()
                .map_err(|e| platform(OS_KEYRING_NAME, e))?;
            let modifiers = std::collections::HashMap::from([("persistence", "Local")]);
            keyring_core::Entry::new_with_modifiers(SERVICE, id, &modifiers)
                .map_err(|e| platform(OS_KEYRING_NAME, e))
        }
        #[cfg(not(windows))]
        keyring::Entry::new(SERVICE, id)
            .map(|e| e.inner)
            .map_err(|e| platform(OS_KEYRING_NAME, e))
    }
}

/// Reads a packed secret; a missing item, or duplicates someone else made, is a miss.
fn entry_load(
    backend: &'static str,
    entry: &keyring_core::Entry,
) -> Result<Option<Vec<u8>>, BackendError> {
    match entry.get_secret() {
        Ok(stored) => Ok(unpack(&stored)),
        // Duplicates are a miss; the next save clears them.
        Err(keyring_core::Error::NoEntry | keyring_core::Error::Ambiguous(_)) => Ok(None),
        Err(e) => Err(platform(backend, e)),
    }
}

/// Stores a packed secret, clearing duplicates first if the store reports them.
fn entry_save(
    backend: &'static str,
    entry: &keyring_core::Entry,
    data: &[u8],
) -> Result<(), BackendError> {
    let packed = pack(data);
    match entry.set_secret(&packed) {
        Err(keyring_core::Error::Ambiguous(all)) => {
            delete_all(backend, all)?;
            entry.set_secret(&packed)
        }
        other => other,
    }
    .map_err(|e| platform(backend, e))
}

/// Removes an item; removing what is not there succeeds.
fn entry_remove(backend: &'static str, entry: &keyring_core::Entry) -> Result<(), BackendError> {
    match entry.delete_credential() {
        Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
        Err(keyring_core::Error::Ambiguous(all)) => delete_all(backend, all),
        Err(e) => Err(platform(backend, e)),
    }
}

fn delete_all(
    backend: &'static str,
    entries: Vec<keyring_core::Entry>,
) -> Result<(), BackendError> {
    for entry in entries {
        entry
            .delete_credential()
            .map_err(|e| platform(backend, e))?;
    }
    Ok(())
}

impl Backend for OsKeyring {
    fn name(&self) -> &'static str {
        OS_KEYRING_NAME
    }

    fn load(&self, id: &str) -> Result<Option<Vec<u8>>, BackendError> {
        let id = id.to_string();
        with_deadline(move || entry_load(OS_KEYRING_NAME, &OsKeyring::entry(&id)?))
    }

    fn save(&self, id: &str, data: &[u8]) -> Result<(), BackendError> {
        let (id, data) = (id.to_string(), data.to_vec());
        with_deadline(move || entry_save(OS_KEYRING_NAME, &OsKeyring::entry(&id)?, &data))
    }

    fn remove(&self, id: &str) -> Result<(), BackendError> {
        let id = id.to_string();
        with_deadline(move || entry_remove(OS_KEYRING_NAME, &OsKeyring::entry(&id)?))
    }
}

/// The OS keyring, if it can be reached (and, on Linux, is unlocked) right now.
pub fn os_keyring() -> Result<Box<dyn super::Backend>, BackendError> {
    #[cfg(target_os = "linux")]
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none_or(|v| v.is_empty()) {
        // Without this the D-Bus library would try to autolaunch a bus.
        return Err(BackendError::Unavailable {
            backend: OS_KEYRING_NAME,
            detail: "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset)".into(),
        });
    }
    with_deadline(|| {
        if let Err(e) = keyring::Entry::store_status() {
            return Err(BackendError::Unavailable {
                backend: OS_KEYRING_NAME,
                detail: e.to_string(),
            });
        }
        // A locked Secret Service collection still answers "no such item" to a
        // lookup but refuses to read or write one. So: reading our probe item
        // proves the collection is unlocked; if it does not exist yet, writing it
        // proves the same and makes the next probe a single read.
        #[cfg(target_os = "linux")]
        {
            let probe = OsKeyring::entry("probe")?;
            let locked = |e: keyring_core::Error| BackendError::Unavailable {
                backend: OS_KEYRING_NAME,
                detail: format!("{e} (is the keyring locked?)"),
            };
            match probe.get_secret() {
                Ok(_) => {}
                Err(keyring_core::Error::NoEntry) => {
                    probe.set_secret(&pack(b"ok")).map_err(locked)?
                }
                Err(e) => return Err(locked(e)),
            }
        }
        Ok(())
    })?;
    Ok(Box::new(OsKeyring))
}

#[cfg(target_os = "linux")]
mod keyutils {
    use std::sync::Arc;

    use keyring_core::CredentialStore;

    use super::{BackendError, entry_load, entry_remove, entry_save, platform};
    use crate::cache::Backend;

    const NAME: &str = "keyutils";

    /// Secrets in the kernel's session keyring (linked into the user's persistent keyring).
    pub struct Keyutils {
        store: Arc<CredentialStore>,
    }

    impl Keyutils {
        fn entry(&self, id: &str) -> Result<keyring_core::Entry, BackendError> {
            self.store
                .build(super::SERVICE, id, None)
                .map_err(|e| platform(NAME, e))
        }
    }

    impl Backend for Keyutils {
        fn name(&self) -> &'static str {
            NAME
        }

        fn load(&self, id: &str) -> Result<Option<Vec<u8>>, BackendError> {
            entry_load(NAME, &self.entry(id)?)
        }

        fn save(&self, id: &str, data: &[u8]) -> Result<(), BackendError> {
            entry_save(NAME, &self.entry(id)?, data)
        }

        fn remove(&self, id: &str) -> Result<(), BackendError> {
            entry_remove(NAME, &self.entry(id)?)
        }
    }

    /// keyutils, if this process has a session keyring of its own.
    ///
    /// Asking for the session keyring without creating one falls back to the
    /// user-session keyring when there is none; comparing the two ids tells
    /// the cases apart in two syscalls.
    pub fn open() -> Result<Box<dyn Backend>, BackendError> {
        use linux_keyutils::{KeyRing, KeyRingIdentifier};
        let unavailable = |detail: String| BackendError::Unavailable {
            backend: NAME,
            detail,
        };
        let session = KeyRing::from_special_id(KeyRingIdentifier::Session, false)
            .map_err(|e| unavailable(format!("no session keyring ({e:?})")))?;
        let user_session = KeyRing::from_special_id(KeyRingIdentifier::UserSession, false);
        if user_session.is_ok_and(|us| us == session) {
            return Err(unavailable(
                "no session keyring of our own (not in a login session or `keyctl session`)".into(),
            ));
        }
        let store =
            linux_keyutils_keyring_store::Store::new().map_err(|e| unavailable(e.to_string()))?;
        Ok(Box::new(Keyutils { store }))
    }
}

/// Linux kernel keyutils, if usable here.
pub fn keyutils() -> Result<Box<dyn Backend>, BackendError> {
    #[cfg(target_os = "linux")]
    return keyutils::open();
    #[cfg(not(target_os = "linux"))]
    Err(BackendError::Unavailable {
        backend: "keyutils",
        detail: "kernel keyutils exists only on Linux".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_and_shrinks_base64() {
        use base64::Engine as _;
        let raw: Vec<u8> = (0..1950u32).map(|i| (i * 7 + 3) as u8).collect();
        let password = base64::engine::general_purpose::STANDARD.encode(&raw);
        let packed = pack(password.as_bytes());
        assert_eq!(
            packed.len(),
            1951,
            "fits Windows' 2560-byte credential blob"
        );
        assert_eq!(unpack(&packed).unwrap(), password.as_bytes());
        for s in ["", "abc", "pw-123456789012-1", "QUJD", "QUI=", "QUJ="] {
            assert_eq!(unpack(&pack(s.as_bytes())).unwrap(), s.as_bytes(), "{s}");
        }
        assert_eq!(unpack(b""), None);
        assert_eq!(unpack(b"xyz"), None);
    }
}
