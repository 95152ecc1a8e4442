//! Logins for every registry that is not ECR: what `docker login` hands to
//! `store`, kept so that `credsStore: "ecr"` can be the only line a docker
//! config needs.
//!
//! ECR tokens are minted on demand and cached per identity ([`crate::cache`]);
//! a login to any other registry is a credential the user typed once and
//! expects to survive a reboot, so it goes to the platform's persistent secret
//! store — Secret Service, the macOS Keychain, Windows Credential Manager — as
//! docker-credential-secretservice, -osxkeychain and -wincred would keep it.
//! Never to the kernel keyring alone, which a reboot or a logout empties.
//! Where no such store is usable (headless servers, containers), the secret
//! goes to a 0600 file in a 0700 directory of ours, and the user is told once.
//!
//! Every login has a small index record (server, user name, which store holds
//! the secret; never the secret) in a persistent directory of ours. `list`
//! reads only the index, so listing never unlocks a keyring, and `erase` knows
//! where to look. Server names are kept exactly as the client sent them, so
//! `get` answers for the very string `store` was given.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::warn;

use crate::cache::file::FileBackend;
use crate::cache::{Backend, BackendError};
use crate::safe_fs::{self, StateDir};
use crate::secret::Secret;

/// The Go helper's switch (exactly `true`): `store` and `erase` succeed and nothing is kept.
pub const IGNORE_ENV: &str = "AWS_ECR_IGNORE_CREDS_STORAGE";

/// Whether the user turned login storage off the way the Go helper's users do.
pub fn ignored(env: impl Fn(&str) -> Option<String>) -> bool {
    env(IGNORE_ENV).as_deref() == Some("true")
}

/// Index records and secrets are small; anything larger is not ours.
const RECORD_LIMIT: u64 = 64 * 1024;

/// The name of the file store in index records.
const FILE_STORE: &str = "file";

/// One registry login.
#[derive(Debug, Clone)]
pub struct Login {
    /// The server exactly as the client named it when it stored the login.
    pub server_url: String,
    /// The user name (`<token>` for an identity token).
    pub username: String,
    /// The password or identity token.
    pub secret: Secret<String>,
}

/// The non-secret record that says a login exists and where its secret is.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IndexRecord {
    #[serde(rename = "ServerURL")]
    server_url: String,
    #[serde(rename = "Username")]
    username: String,
    /// The backend holding the secret ([`Backend::name`]).
    store: String,
}

/// What the secret store holds: the user name travels with the secret so a
/// `get` never pairs one login's secret with another's name.
#[derive(Serialize)]
struct SecretOut<'a> {
    #[serde(rename = "Username")]
    username: &'a str,
    #[serde(rename = "Secret")]
    secret: &'a str,
}

#[derive(Deserialize)]
struct SecretIn {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: Secret<String>,
}

/// Why a login could not be kept, read or removed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// There is no directory of ours to keep the index in.
    #[error("no directory of ours can hold registry logins: {0}")]
    NoPlace(String),
    /// The index directory or a record failed a trust check or could not be written.
    #[error("{0}")]
    Index(#[from] safe_fs::TrustError),
    /// The store that holds (or would hold) the secret failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// What is stored is not something we wrote.
    #[error("the stored login for {server} is damaged; run `docker login {server}` again")]
    Damaged {
        /// The server as stored.
        server: String,
    },
}

/// Opens the OS keyring (or says why not); injected so tests choose.
pub type KeyringOpener = Box<dyn Fn() -> Result<Box<dyn Backend>, BackendError>>;

/// The login store: an index directory plus the keyring or the file fallback.
pub struct Logins {
    /// The persistent directory of ours, or why there is none.
    dir: Result<StateDir, String>,
    keyring: KeyringOpener,
}

/// Where logins are indexed (and, without a keyring, kept): persistent and
/// per user, so not the runtime directory the token cache prefers.
/// `$AWS_ECR_CACHE_DIR/logins` when set, else
/// `<data dir>/docker-credential-ecr/logins` (`~/.local/share` on Linux,
/// `~/Library/Application Support` on macOS, `%LOCALAPPDATA%` on Windows).
pub fn default_dir(env: impl Fn(&str) -> Option<String>) -> Result<StateDir, String> {
    let home = env("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(dirs::home_dir);
    let (anchor, path) = if let Some(dir) = safe_fs::go_cache_dir(&env, home.as_deref()) {
        let anchor = dir
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.clone());
        (anchor, dir.join("logins"))
    } else {
        let data =
            data_dir(&env, home.as_deref()).ok_or("neither a data directory nor $HOME is known")?;
        let anchor = home
            .filter(|h| data.starts_with(h) && data != *h)
            .unwrap_or_else(|| data.clone());
        (anchor, data.join("docker-credential-ecr").join("logins"))
    };
    safe_fs::usable_under(&anchor, &path).map_err(|e| safe_fs::reason(&e))?;
    Ok(StateDir::under(anchor, path))
}

/// The per-user data directory, from the environment we were given on Linux
/// (so tests and `sudo -E` see the same answer as the rest of our state).
fn data_dir(env: &impl Fn(&str) -> Option<String>, home: Option<&Path>) -> Option<PathBuf> {
    if cfg!(target_os = "linux") {
        env("XDG_DATA_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| home.map(|h| h.join(".local/share")))
    } else {
        dirs::data_local_dir()
    }
}

/// The file and item name for a server: its exact spelling hashed, so any
/// string docker sends is a safe file name and two spellings never collide.
fn id(server_url: &str) -> String {
    let digest = Sha256::digest(server_url.as_bytes());
    crate::hex(&digest[..16])
}

/// What a server string names, for matching a client that spells a stored
/// server differently (podman asks for `docker.io`, docker stored
/// `https://index.docker.io/v1/`).
fn registry_of(server_url: &str) -> Option<String> {
    let host = crate::protocol::canonical_host(server_url)?;
    Some(match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_string()
        }
        _ => host,
    })
}

impl Logins {
    /// The store for this process: the default directory and the OS keyring.
    pub fn open(env: impl Fn(&str) -> Option<String>) -> Logins {
        Logins::new(
            default_dir(env),
            Box::new(crate::cache::keyring::os_keyring),
        )
    }

    /// A store over `dir` and a keyring opener (tests inject both).
    pub fn new(dir: Result<StateDir, String>, keyring: KeyringOpener) -> Logins {
        Logins { dir, keyring }
    }

    fn dir(&self) -> Result<&Path, LoginError> {
        self.dir
            .as_ref()
            .map(|d| d.path.as_path())
            .map_err(|e| LoginError::NoPlace(e.clone()))
    }

    fn files(&self) -> Result<FileBackend, LoginError> {
        Ok(FileBackend::new(self.dir()?.to_path_buf()))
    }

    fn index_path(&self, id: &str) -> Result<PathBuf, LoginError> {
        Ok(self.dir()?.join(format!("{id}.json")))
    }

    /// The secret's name in its store: distinct from the token cache's names.
    fn secret_id(id: &str) -> String {
        format!("login-{id}")
    }

    /// The backend an index record names.
    fn backend_for(&self, store: &str) -> Result<Box<dyn Backend>, LoginError> {
        if store == FILE_STORE {
            Ok(Box::new(self.files()?))
        } else {
            Ok((self.keyring)()?)
        }
    }

    fn read_record(&self, id: &str) -> Result<Option<IndexRecord>, LoginError> {
        let path = self.index_path(id)?;
        match safe_fs::read_own(&path, RECORD_LIMIT) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every index record, by id. Nothing (not an error) when there is no directory yet.
    fn records(&self) -> BTreeMap<String, IndexRecord> {
        let mut out = BTreeMap::new();
        let Ok(dir) = self.dir() else {
            return out;
        };
        // Never read a directory that is not ours and private.
        if safe_fs::check_private_dir(dir).is_err() {
            return out;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return out;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            if let Ok(Some(record)) = self.read_record(id) {
                out.insert(id.to_string(), record);
            }
        }
        out
    }

    /// The record for `server_url`: its exact spelling, else the one stored
    /// login for the same registry (none if that is ambiguous).
    fn find(&self, server_url: &str) -> Result<Option<(String, IndexRecord)>, LoginError> {
        // No directory, or none yet: nothing can have been stored. One that
        // is not ours and private is never read, and the user hears why.
        let Ok(dir) = self.dir() else {
            return Ok(None);
        };
        match safe_fs::check_private_dir(dir) {
            Err(e) if e.is_not_found() => return Ok(None),
            other => other?,
        }
        let exact = id(server_url);
        if let Some(record) = self.read_record(&exact)? {
            return Ok(Some((exact, record)));
        }
        let Some(wanted) = registry_of(server_url) else {
            return Ok(None);
        };
        let mut same: Vec<_> = self
            .records()
            .into_iter()
            .filter(|(_, r)| registry_of(&r.server_url).as_deref() == Some(wanted.as_str()))
            .collect();
        Ok(if same.len() == 1 { same.pop() } else { None })
    }

    /// The login for `server_url`, if one was stored.
    pub fn get(&self, server_url: &str) -> Result<Option<Login>, LoginError> {
        let Some((id, record)) = self.find(server_url)? else {
            return Ok(None);
        };
        let backend = self.backend_for(&record.store)?;
        let Some(bytes) = backend.load(&Self::secret_id(&id))? else {
            return Ok(None);
        };
        let stored: SecretIn = serde_json::from_slice(&bytes).map_err(|_| LoginError::Damaged {
            server: record.server_url.clone(),
        })?;
        Ok(Some(Login {
            server_url: record.server_url,
            username: stored.username,
            secret: stored.secret,
        }))
    }

    /// Keeps `login`, replacing any login for the same server string; returns
    /// the name of the store now holding the secret.
    pub fn store(&self, login: &Login) -> Result<&'static str, LoginError> {
        let dir = self
            .dir
            .as_ref()
            .map_err(|e| LoginError::NoPlace(e.clone()))?;
        dir.ensure()?;
        let id = id(&login.server_url);
        let previous = self.read_record(&id)?;
        let (backend, fallback_reason) = match (self.keyring)() {
            Ok(keyring) => (keyring, None),
            Err(e) => (Box::new(self.files()?) as Box<dyn Backend>, Some(e)),
        };
        let secret = serde_json::to_vec(&SecretOut {
            username: &login.username,
            secret: login.secret.expose(),
        })
        .map_err(|_| LoginError::Damaged {
            server: login.server_url.clone(),
        })?;
        backend.save(&Self::secret_id(&id), &secret)?;
        let record = IndexRecord {
            server_url: login.server_url.clone(),
            username: login.username.clone(),
            store: backend.name().to_string(),
        };
        // A record always serialises: three strings.
        let text = serde_json::to_vec(&record).unwrap_or_default();
        if let Err(e) = safe_fs::write_atomic(&self.index_path(&id)?, &text) {
            // No record means no way for `erase` or `list` to find it: take it back.
            let _ = backend.remove(&Self::secret_id(&id));
            return Err(e.into());
        }
        if let Some(old) = previous.filter(|old| old.store != backend.name()) {
            // The login moved (a keyring appeared or went away): no second copy.
            if let Ok(old_backend) = self.backend_for(&old.store) {
                let _ = old_backend.remove(&Self::secret_id(&id));
            }
        }
        if let Some(reason) = fallback_reason {
            file_note_once(dir, &reason);
        }
        Ok(backend.name())
    }

    /// Removes the login for `server_url` (its exact spelling, else the one
    /// for the same registry). `Ok(false)`: there was none.
    pub fn erase(&self, server_url: &str) -> Result<bool, LoginError> {
        let Some((id, record)) = self.find(server_url)? else {
            return Ok(false);
        };
        self.backend_for(&record.store)?
            .remove(&Self::secret_id(&id))?;
        if record.store != FILE_STORE {
            // A copy left by an earlier fallback, if any.
            self.files()?.remove(&Self::secret_id(&id))?;
        }
        let path = self.index_path(&id)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
            Err(e) => Err(safe_fs::TrustError::io(&path, e).into()),
        }
    }

    /// Every stored login's server and user name; never a secret, never a keyring call.
    pub fn list(&self) -> Vec<(String, String)> {
        self.records()
            .into_values()
            .map(|r| (r.server_url, r.username))
            .collect()
    }
}

/// Tells the user, once, that logins are in files because no keyring works here.
fn file_note_once(dir: &StateDir, why: &BackendError) {
    let marker = dir.path.join("file-store-noted");
    if std::fs::symlink_metadata(&marker).is_ok() {
        return;
    }
    warn!(
        "no keyring is usable here ({why}), so registry logins are kept in 0600 files under {} \
         (this note is shown once)",
        dir.path.display()
    );
    let _ = safe_fs::write_atomic(&marker, b"");
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::rc::Rc;

    use super::*;

    /// An in-memory keyring that can be switched off.
    #[derive(Clone, Default)]
    struct Memory {
        items: Rc<RefCell<HashMap<String, Vec<u8>>>>,
        down: Rc<RefCell<bool>>,
    }

    impl Backend for Memory {
        fn name(&self) -> &'static str {
            "memory"
        }
        fn load(&self, id: &str) -> Result<Option<Vec<u8>>, BackendError> {
            Ok(self.items.borrow().get(id).cloned())
        }
        fn save(&self, id: &str, data: &[u8]) -> Result<(), BackendError> {
            self.items.borrow_mut().insert(id.into(), data.to_vec());
            Ok(())
        }
        fn remove(&self, id: &str) -> Result<(), BackendError> {
            self.items.borrow_mut().remove(id);
            Ok(())
        }
    }

    fn logins(dir: &Path, memory: &Memory) -> Logins {
        let memory = memory.clone();
        Logins::new(
            Ok(StateDir::at(dir.join("logins"))),
            Box::new(move || {
                if *memory.down.borrow() {
                    Err(BackendError::Unavailable {
                        backend: "memory",
                        detail: "switched off".into(),
                    })
                } else {
                    Ok(Box::new(memory.clone()))
                }
            }),
        )
    }

    fn login(server: &str, user: &str, secret: &str) -> Login {
        Login {
            server_url: server.into(),
            username: user.into(),
            secret: Secret::new(secret.into()),
        }
    }

    #[test]
    fn round_trips_exact_server_names_and_identity_tokens() {
        let t = tempfile::tempdir().unwrap();
        let memory = Memory::default();
        let l = logins(t.path(), &memory);
        l.store(&login("https://index.docker.io/v1/", "<token>", "refresh"))
            .unwrap();
        l.store(&login("host:5000", "u", "p")).unwrap();
        let hub = l.get("https://index.docker.io/v1/").unwrap().unwrap();
        assert_eq!(hub.server_url, "https://index.docker.io/v1/");
        assert_eq!(hub.username, "<token>");
        assert_eq!(hub.secret.expose(), "refresh");
        assert_eq!(l.get("host:5000").unwrap().unwrap().secret.expose(), "p");
        // Another spelling of the same registry finds the one login for it.
        assert_eq!(l.get("docker.io").unwrap().unwrap().username, "<token>");
        assert_eq!(
            l.get("https://host:5000").unwrap().unwrap().server_url,
            "host:5000"
        );
        assert!(l.get("other:5000").unwrap().is_none());
        let mut listed = l.list();
        listed.sort();
        assert_eq!(
            listed,
            vec![
                ("host:5000".into(), "u".into()),
                ("https://index.docker.io/v1/".into(), "<token>".into())
            ]
        );
        // The index holds no secret.
        for entry in std::fs::read_dir(t.path().join("logins")).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            assert!(
                !text.contains("refresh") && !text.contains("\"p\""),
                "{text}"
            );
        }
    }

    #[test]
    fn erase_removes_exactly_one_server() {
        let t = tempfile::tempdir().unwrap();
        let memory = Memory::default();
        let l = logins(t.path(), &memory);
        l.store(&login("a.example:5000", "u", "p1")).unwrap();
        l.store(&login("b.example", "u", "p2")).unwrap();
        assert!(l.erase("a.example:5000").unwrap());
        assert!(!l.erase("a.example:5000").unwrap());
        assert!(l.get("a.example:5000").unwrap().is_none());
        assert_eq!(l.get("b.example").unwrap().unwrap().secret.expose(), "p2");
        assert_eq!(memory.items.borrow().len(), 1);
    }

    #[test]
    fn an_ambiguous_spelling_matches_nothing() {
        let t = tempfile::tempdir().unwrap();
        let l = logins(t.path(), &Memory::default());
        l.store(&login("https://r.example/v1/", "u1", "p1"))
            .unwrap();
        l.store(&login("r.example", "u2", "p2")).unwrap();
        assert!(l.get("http://r.example").unwrap().is_none());
        assert!(!l.erase("http://r.example").unwrap());
        assert_eq!(l.get("r.example").unwrap().unwrap().username, "u2");
    }

    #[cfg(unix)]
    #[test]
    fn without_a_keyring_secrets_go_to_private_files_and_move_back_later() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let memory = Memory::default();
        *memory.down.borrow_mut() = true;
        let l = logins(t.path(), &memory);
        assert_eq!(l.store(&login("r.example", "u", "p")).unwrap(), "file");
        let dir = t.path().join("logins");
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let secret_file = dir.join(format!("login-{}", id("r.example")));
        assert_eq!(
            std::fs::metadata(&secret_file)
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        assert!(dir.join("file-store-noted").exists());
        assert_eq!(l.get("r.example").unwrap().unwrap().secret.expose(), "p");
        // The keyring comes back: the next store moves the secret there.
        *memory.down.borrow_mut() = false;
        assert_eq!(l.store(&login("r.example", "u", "p2")).unwrap(), "memory");
        assert!(!secret_file.exists(), "no second copy in a file");
        assert_eq!(l.get("r.example").unwrap().unwrap().secret.expose(), "p2");
    }

    #[test]
    fn an_unreachable_keyring_is_an_error_not_a_miss() {
        let t = tempfile::tempdir().unwrap();
        let memory = Memory::default();
        let l = logins(t.path(), &memory);
        l.store(&login("r.example", "u", "p")).unwrap();
        *memory.down.borrow_mut() = true;
        assert!(matches!(
            l.get("r.example"),
            Err(LoginError::Backend(BackendError::Unavailable { .. }))
        ));
        // Listing needs no keyring.
        assert_eq!(l.list().len(), 1);
    }

    #[test]
    fn no_place_means_a_clear_error_and_an_empty_list() {
        let l = Logins::new(
            Err("$HOME is missing".into()),
            Box::new(|| Ok(Box::new(Memory::default()))),
        );
        let e = l.store(&login("r.example", "u", "p")).unwrap_err();
        assert!(e.to_string().contains("$HOME is missing"), "{e}");
        assert!(l.list().is_empty());
        assert!(l.get("r.example").unwrap().is_none());
        assert!(!l.erase("r.example").unwrap());
    }

    #[test]
    fn the_go_helpers_switch_is_exactly_true() {
        assert!(ignored(crate::fake_env(&[(IGNORE_ENV, "true")])));
        for other in ["1", "TRUE", "yes", ""] {
            let env = move |k: &str| (k == IGNORE_ENV).then(|| other.to_string());
            assert!(!ignored(env), "{other}");
        }
    }
}
