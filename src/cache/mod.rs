//! The token cache: fast hits, one AWS call for many parallel misses, never a stale token.
//!
//! ECR throttles GetAuthorizationToken per account and region across a whole
//! fleet, so caching is a duty, not an optimisation. A hit must be cheap: no
//! AWS config, no credentials, no TLS — just the key derivation ([`key`]) and
//! one backend read. A miss takes a per-key file lock, so N concurrent
//! `get`s from a cold cache make one call and N-1 reads ([`Cache::get`]).
//!
//! Secrets live in a [`Backend`] (kernel keyutils, the OS keyring, or 0600
//! files); a small non-secret index (`meta/`) next to the lock files lets
//! `list`, `status`, `erase` and pruning work the same on every backend.

pub mod entry;
pub mod file;
pub mod key;
pub mod keyring;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use tracing::{debug, warn};

use self::entry::{Entry, Meta, epoch};
use self::key::CacheKey;
use crate::safe_fs::{self, StateDir, TrustError};
use crate::token::{AuthToken, TokenError};

/// Selects the backend: `auto`, `keyring`, `keyutils`, `file` or `none`.
pub const CACHE_ENV: &str = "DOCKER_CREDENTIAL_ECR_CACHE";

/// The Go helper's switch, honoured as `none`.
pub const GO_DISABLE_ENV: &str = "AWS_ECR_DISABLE_CACHE";

/// Where secrets are kept; each backend maps its native "missing" to `Ok(None)`.
pub trait Backend {
    /// Short name for `status` and messages.
    fn name(&self) -> &'static str;
    /// The stored bytes for `id`, `None` when there are none.
    fn load(&self, id: &str) -> Result<Option<Vec<u8>>, BackendError>;
    /// Stores `data` for `id`, replacing what was there as one operation.
    fn save(&self, id: &str, data: &[u8]) -> Result<(), BackendError>;
    /// Removes `id`; removing what is not there succeeds.
    fn remove(&self, id: &str) -> Result<(), BackendError>;
    /// Removes what an interrupted `save` may have left (file backends).
    fn tidy(&self) -> Result<(), BackendError> {
        Ok(())
    }
}

/// A backend failure; the cache reports it and carries on without caching.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The backend cannot be used here (no session keyring, no D-Bus, locked keyring…).
    #[error("{backend} is not usable here: {detail}")]
    Unavailable {
        /// Which backend.
        backend: &'static str,
        /// Why.
        detail: String,
    },
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A directory or file of ours failed a trust check.
    #[error(transparent)]
    Untrusted(#[from] TrustError),
    /// The platform store reported an error.
    #[error("{backend}: {detail}")]
    Platform {
        /// Which backend.
        backend: &'static str,
        /// What it said.
        detail: String,
    },
}

impl BackendError {
    fn io(path: &Path, source: std::io::Error) -> BackendError {
        BackendError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The user's cache choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// The best backend that works here.
    Auto,
    /// The OS keyring (Secret Service, Keychain, Credential Manager).
    Keyring,
    /// Linux kernel keyutils.
    Keyutils,
    /// 0600 files.
    File,
    /// No caching.
    None,
}

impl Choice {
    /// Reads `DOCKER_CREDENTIAL_ECR_CACHE` (and the Go helper's disable switch).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Choice, String> {
        if get(GO_DISABLE_ENV).is_some_and(|v| !v.is_empty()) {
            return Ok(Choice::None);
        }
        match get(CACHE_ENV).as_deref().map(str::trim) {
            None | Some("") | Some("auto") => Ok(Choice::Auto),
            Some("keyring") => Ok(Choice::Keyring),
            Some("keyutils") => Ok(Choice::Keyutils),
            Some("file") => Ok(Choice::File),
            Some("none") | Some("off") => Ok(Choice::None),
            Some(other) => Err(format!(
                "{CACHE_ENV}={other:?} is not valid: expected auto, keyring, keyutils, file or none"
            )),
        }
    }
}

/// The cache for this run, or `None` when caching is off or nothing works; notes go to the log.
///
/// Probing is cheap (a keyutils probe is microseconds; Secret Service is only
/// tried when a session bus is advertised) and never fails a `get`.
pub fn open(choice: Choice) -> Option<Cache> {
    if choice == Choice::None {
        return None;
    }
    let Some(state) = safe_fs::state_dir(|k| std::env::var(k).ok()) else {
        warn!(
            "no directory of ours can hold the token cache (every candidate is missing or \
             belongs to another user); continuing without a token cache"
        );
        return None;
    };
    note_passed_over_once(&state);
    let explicit = |result: Result<Box<dyn Backend>, BackendError>| match result {
        Ok(backend) => Some(Cache::new(backend, state.clone())),
        Err(e) => {
            warn!("{e}; continuing without a token cache");
            None
        }
    };
    match choice {
        Choice::None => None,
        Choice::File => Some(Cache::new(
            Box::new(file::FileBackend::new(state.path.join("tokens"))),
            state,
        )),
        Choice::Keyutils => explicit(keyring::keyutils()),
        Choice::Keyring => explicit(keyring::os_keyring()),
        Choice::Auto => {
            let found = keyring::keyutils()
                .map_err(|e| debug!("{e}"))
                .or_else(|()| keyring::os_keyring().map_err(|e| debug!("{e}")));
            match found {
                Ok(backend) => Some(Cache::new(backend, state)),
                Err(()) => {
                    file_hint_once(&state);
                    Some(Cache::new(
                        Box::new(file::FileBackend::new(state.path.join("tokens"))),
                        state,
                    ))
                }
            }
        }
    }
}

/// Says `message` once per state directory: a marker file records that it was said.
fn once(state: &StateDir, marker: &str, message: impl FnOnce() -> String) {
    let marker = state.path.join(marker);
    if std::fs::symlink_metadata(&marker).is_ok() {
        return;
    }
    warn!("{}", message());
    if state.ensure().is_ok() {
        let _ = safe_fs::write_atomic(&marker, b"");
    }
}

/// Tells the user, once per state directory, that tokens are kept in files.
fn file_hint_once(state: &StateDir) {
    once(state, "file-backend-noted", || {
        format!(
            "no keyring is usable here, so ECR tokens are cached in 0600 files under {} \
             (set {CACHE_ENV}=none to disable caching; this note is shown once)",
            state.path.join("tokens").display()
        )
    });
}

/// Tells the user, once, why our usual places were not used (another
/// user's `XDG_RUNTIME_DIR` under `sudo -E`, a missing `$HOME`…).
fn note_passed_over_once(state: &StateDir) {
    if state.passed_over.is_empty() {
        return;
    }
    once(state, "fallback-noted", || {
        format!(
            "keeping state in {} instead: {} (this note is shown once)",
            state.path.display(),
            state.passed_over.join("; ")
        )
    });
}

/// How a `get` was served, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// From the cache, no AWS call.
    Hit,
    /// Another process refreshed it while we waited for the lock.
    HitAfterWait,
    /// We called AWS.
    Fetched,
    /// The refresh failed; a still-valid cached token was served.
    StaleButValid,
}

/// A token with how it was served and when it was minted (seconds since the epoch).
#[derive(Debug, Clone)]
pub struct Lookup {
    /// The token to hand out.
    pub token: AuthToken,
    /// Whether AWS was called.
    pub served: Served,
    /// When the token was received from AWS.
    pub minted: u64,
}

/// The largest index record we read: real ones are a few hundred bytes.
const META_LIMIT: u64 = 64 * 1024;

/// The token cache over one backend.
pub struct Cache {
    backend: Box<dyn Backend>,
    state: StateDir,
    dir: PathBuf,
}

impl Cache {
    /// A cache keeping secrets in `backend` and its index and locks under `state`.
    pub fn new(backend: Box<dyn Backend>, state: StateDir) -> Cache {
        Cache {
            backend,
            dir: state.path.clone(),
            state,
        }
    }

    /// A private subdirectory of our (checked) state directory, created if missing.
    fn subdir(&self, name: &str) -> Result<PathBuf, BackendError> {
        self.state.ensure()?;
        let dir = self.dir.join(name);
        safe_fs::ensure_private_dir(&dir)?;
        Ok(dir)
    }

    /// The backend's name.
    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    fn meta_path(&self, id: &str) -> PathBuf {
        self.dir.join("meta").join(format!("{id}.json"))
    }

    fn lock_path(&self, id: &str) -> PathBuf {
        self.dir.join("locks").join(format!("{id}.lock"))
    }

    fn read_meta(&self, id: &str) -> Option<Meta> {
        let bytes = match safe_fs::read_own(&self.meta_path(id), META_LIMIT) {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => return None,
            Err(e) => {
                warn!("cache index record unusable ({e}); fetching a new token to replace it");
                return None;
            }
        };
        serde_json::from_slice(&bytes)
            .map_err(|e| warn!(key = %id, "cache index record is corrupt ({}); fetching a new token to replace it", crate::json_error(&e)))
            .ok()
    }

    /// The cached entry for `key`, if readable; corrupt entries are reported and ignored.
    fn read(&self, key: &CacheKey) -> Option<Entry> {
        let meta = self.read_meta(&key.id)?;
        match self.backend.load(&key.id) {
            Ok(Some(secret)) => {
                let entry = Entry::from_parts(&meta, &secret);
                if entry.is_none() {
                    warn!(
                        backend = self.backend.name(),
                        key = %key.id,
                        "cached token does not match its index record (corrupt, or being replaced); fetching anew"
                    );
                }
                entry
            }
            Ok(None) => None,
            Err(e) => {
                warn!("cannot read the token cache: {e}");
                None
            }
        }
    }

    /// Stores an entry: the index directory is made sure of first, so a
    /// secret is never written that no index record (and so no `erase`) finds.
    fn write(&self, key: &CacheKey, entry: &Entry) {
        let meta_dir = match self.subdir("meta") {
            Ok(dir) => dir,
            Err(e) => {
                warn!("cannot write the token cache: {e}");
                return;
            }
        };
        if let Err(e) = self
            .backend
            .save(&key.id, entry.password.expose().as_bytes())
        {
            warn!("cannot write the token cache: {e}");
            return;
        }
        let meta = entry.meta(&key.id, self.backend.name());
        if let Err(e) = safe_fs::write_atomic(
            &meta_dir.join(format!("{}.json", key.id)),
            &serde_json::to_vec(&meta).unwrap_or_default(),
        ) {
            warn!("cannot write the cache index: {e}");
            // A secret without its record would outlive `erase`.
            if let Err(e) = self.backend.remove(&key.id) {
                warn!("cannot remove the unindexed token: {e}");
            }
        }
        self.tidy();
    }

    /// Removes what writers killed mid-write left behind (a temporary file may hold a token).
    fn tidy(&self) {
        let meta = safe_fs::remove_leftovers(&self.dir.join("meta")).map_err(BackendError::from);
        if let Err(e) = meta.and_then(|_| self.backend.tidy()) {
            warn!("cannot remove leftover temporary files: {e}");
        }
    }

    /// Serves `key` from the cache, or calls `fetch` once for everyone waiting on it.
    ///
    /// `wait` bounds how long we queue behind another process's fetch; past
    /// it we fetch ourselves rather than fail. `newer_than` (seconds since
    /// the epoch) makes entries minted at or before it count as stale: the
    /// daemon's early refresh uses it, and still accepts a token another
    /// process minted since. Backend errors never fail a `get`: they are
    /// logged and the token is served uncached.
    pub fn get(
        &self,
        key: &CacheKey,
        registry: &str,
        wait: Duration,
        newer_than: Option<u64>,
        fetch: impl FnOnce() -> Result<AuthToken, TokenError>,
    ) -> Result<Lookup, TokenError> {
        let fresh = |e: &Entry, now: u64| {
            e.usable(now) && !e.refresh_due(now) && newer_than.is_none_or(|t| e.minted > t)
        };
        let hit = |entry: &Entry, served| Lookup {
            token: entry.token(),
            served,
            minted: entry.minted,
        };
        let now = epoch(SystemTime::now());
        let cached = self.read(key);
        if let Some(entry) = cached.as_ref().filter(|e| fresh(e, now)) {
            return Ok(hit(entry, Served::Hit));
        }

        let _lock = self.lock(&key.id, wait);
        // Someone may have refreshed it while we queued.
        let now = epoch(SystemTime::now());
        let cached = if _lock.is_some() {
            self.read(key)
        } else {
            cached
        };
        if let Some(entry) = cached.as_ref().filter(|e| fresh(e, now)) {
            return Ok(hit(entry, Served::HitAfterWait));
        }

        match fetch() {
            Ok(token) => {
                let minted = SystemTime::now();
                match Entry::new(registry, &key.label, &token, minted) {
                    Some(entry) => {
                        self.write(key, &entry);
                        self.prune();
                    }
                    None => debug!(%registry, "token has no usable lifetime; not caching it"),
                }
                Ok(Lookup {
                    token,
                    served: Served::Fetched,
                    minted: epoch(minted),
                })
            }
            Err(e) => match cached.filter(|c| c.usable(epoch(SystemTime::now()))) {
                Some(entry) => {
                    debug!(%registry, error = %e, "refresh failed; serving the cached token, still valid");
                    Ok(hit(&entry, Served::StaleButValid))
                }
                None => Err(e),
            },
        }
    }

    /// Takes the per-key lock, polling up to `wait`; `None` if it could not be had.
    fn lock(&self, id: &str, wait: Duration) -> Option<File> {
        let path = self.lock_path(id);
        let file = self
            .subdir("locks")
            .and_then(|_| safe_fs::open_lock_file(&path).map_err(|e| BackendError::io(&path, e)))
            .map_err(|e| warn!("cannot open lock {}: {e}", path.display()))
            .ok()?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Some(file),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    debug!(
                        "waited {wait:?} for another fetch of the same token; fetching ourselves"
                    );
                    return None;
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    warn!("cannot lock {}: {e}", path.display());
                    return None;
                }
            }
        }
    }

    /// Stores, reads back and removes a dummy entry: does the backend work here, now?
    pub fn probe(&self) -> Result<(), BackendError> {
        const ID: &str = "doctor-probe";
        let data = b"docker-credential-ecr doctor";
        self.backend.save(ID, data)?;
        let read = self.backend.load(ID);
        let removed = self.backend.remove(ID);
        match read? {
            Some(bytes) if bytes == data => removed,
            _ => Err(BackendError::Platform {
                backend: self.backend.name(),
                detail: "an entry just stored could not be read back".to_string(),
            }),
        }
    }

    /// Every index record, valid or not.
    pub fn entries(&self) -> Vec<Meta> {
        let Ok(dir) = std::fs::read_dir(self.dir.join("meta")) else {
            return Vec::new();
        };
        let mut out: Vec<Meta> = dir
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| safe_fs::read_own(&e.path(), META_LIMIT).ok())
            .filter_map(|b| serde_json::from_slice(&b).ok())
            .collect();
        out.sort_by(|a, b| (&a.registry, &a.identity).cmp(&(&b.registry, &b.identity)));
        out
    }

    /// Removes one entry: the secret first, then its index record and lock.
    fn forget(&self, id: &str) -> Result<(), BackendError> {
        self.backend.remove(id)?;
        for path in [self.meta_path(id), self.lock_path(id)] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(BackendError::io(&path, e)),
            }
        }
        Ok(())
    }

    /// Removes every identity's token for `registry`, and any temporary file
    /// a killed writer left; returns how many entries went. An error means a
    /// token may still be there: the caller must say so.
    pub fn erase(&self, registry: &str) -> Result<usize, BackendError> {
        let victims: Vec<Meta> = self
            .entries()
            .into_iter()
            .filter(|m| m.registry == registry)
            .collect();
        for m in &victims {
            self.forget(&m.key)?;
        }
        safe_fs::remove_leftovers(&self.dir.join("meta"))?;
        self.backend.tidy()?;
        Ok(victims.len())
    }

    /// Drops expired entries and leftovers, so the cache never grows without bound.
    pub fn prune(&self) {
        let now = epoch(SystemTime::now());
        for m in self.entries().into_iter().filter(|m| m.expires <= now) {
            debug!(registry = %m.registry, "pruning expired cache entry");
            if let Err(e) = self.forget(&m.key) {
                warn!("cannot prune an expired cache entry: {e}");
            }
        }
        self.tidy();
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::secret::Secret;

    /// An in-memory backend that can be told to fail.
    #[derive(Clone, Default)]
    struct Memory {
        map: Arc<Mutex<std::collections::HashMap<String, Vec<u8>>>>,
        broken: bool,
    }

    impl Backend for Memory {
        fn name(&self) -> &'static str {
            "memory"
        }
        fn load(&self, id: &str) -> Result<Option<Vec<u8>>, BackendError> {
            if self.broken {
                return Err(BackendError::Platform {
                    backend: "memory",
                    detail: "broken".into(),
                });
            }
            Ok(self.map.lock().unwrap().get(id).cloned())
        }
        fn save(&self, id: &str, data: &[u8]) -> Result<(), BackendError> {
            if self.broken {
                return Err(BackendError::Platform {
                    backend: "memory",
                    detail: "broken".into(),
                });
            }
            self.map.lock().unwrap().insert(id.into(), data.to_vec());
            Ok(())
        }
        fn remove(&self, id: &str) -> Result<(), BackendError> {
            self.map.lock().unwrap().remove(id);
            Ok(())
        }
    }

    fn key(id: &str) -> CacheKey {
        CacheKey {
            id: id.into(),
            label: format!("label-{id}"),
        }
    }

    fn token(pw: &str, ttl: i64) -> AuthToken {
        let now = SystemTime::now();
        AuthToken {
            username: "AWS".into(),
            password: Secret::new(pw.into()),
            expires_at: Some(if ttl >= 0 {
                now + Duration::from_secs(ttl as u64)
            } else {
                now - Duration::from_secs((-ttl) as u64)
            }),
            credentials_expire_at: None,
        }
    }

    fn cache(mem: &Memory) -> (Cache, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (
            Cache::new(
                Box::new(mem.clone()),
                StateDir::at(dir.path().join("state")),
            ),
            dir,
        )
    }

    const W: Duration = Duration::from_secs(1);

    fn lookup(
        c: &Cache,
        id: &str,
        registry: &str,
        fetch: impl FnOnce() -> Result<AuthToken, TokenError>,
    ) -> Result<(AuthToken, Served), TokenError> {
        c.get(&key(id), registry, W, None, fetch)
            .map(|l| (l.token, l.served))
    }

    #[test]
    fn newer_than_refreshes_early_but_accepts_a_newer_token() {
        let mem = Memory::default();
        let (c, _d) = cache(&mem);
        let first = c
            .get(&key("a"), "h", W, None, || Ok(token("one", 3600)))
            .unwrap();
        // The daemon's early refresh: the entry it holds is not good enough.
        let again = c
            .get(&key("a"), "h", W, Some(first.minted), || {
                Ok(token("two", 3600))
            })
            .unwrap();
        assert_eq!(
            (again.token.password.expose().as_str(), again.served),
            ("two", Served::Fetched)
        );
        // A token minted after the one held (here: the entry predates the
        // threshold by one second) is accepted without a call.
        let older = first.minted - 1;
        let hit = c
            .get(&key("a"), "h", W, Some(older), || unreachable!())
            .unwrap();
        assert_eq!(hit.served, Served::Hit);
        assert_eq!(hit.minted, again.minted);
    }

    #[test]
    fn miss_then_hit() {
        let mem = Memory::default();
        let (c, _d) = cache(&mem);
        let calls = Cell::new(0);
        let fetch = || {
            calls.set(calls.get() + 1);
            Ok(token("one", 3600))
        };
        let (t, s) = lookup(&c, "a", "h", fetch).unwrap();
        assert_eq!((t.password.expose().as_str(), s), ("one", Served::Fetched));
        let (t, s) = lookup(&c, "a", "h", || unreachable!()).unwrap();
        assert_eq!((t.password.expose().as_str(), s), ("one", Served::Hit));
        assert_eq!(calls.get(), 1);
        assert_eq!(c.entries().len(), 1);
        assert_eq!(c.entries()[0].identity, "label-a");
    }

    #[test]
    fn expired_at_mint_is_returned_not_cached() {
        let mem = Memory::default();
        let (c, _d) = cache(&mem);
        let (t, _) = lookup(&c, "a", "h", || Ok(token("old", -10))).unwrap();
        assert_eq!(t.password.expose(), "old");
        assert!(c.entries().is_empty());
        assert!(mem.map.lock().unwrap().is_empty());
    }

    #[test]
    fn failed_refresh_serves_a_valid_token_but_never_an_expired_one() {
        let mem = Memory::default();
        let (c, _d) = cache(&mem);
        let now = epoch(SystemTime::now());
        // Minted long ago, refresh due, still valid for an hour.
        let due = Entry {
            registry: "h".into(),
            identity: "i".into(),
            username: "AWS".into(),
            password: Secret::new("cached".into()),
            minted: now - 10 * 3600,
            expires: now + 3600,
        };
        c.write(&key("a"), &due);
        let denied = || Err(TokenError::EmptyResponse);
        let (t, s) = lookup(&c, "a", "h", denied).unwrap();
        assert_eq!(
            (t.password.expose().as_str(), s),
            ("cached", Served::StaleButValid)
        );

        let expired = Entry {
            expires: now - 1,
            minted: now - 100,
            ..due
        };
        c.write(&key("a"), &expired);
        assert!(lookup(&c, "a", "h", || Err(TokenError::EmptyResponse)).is_err());
    }

    #[test]
    fn corrupt_entry_is_replaced_and_others_survive() {
        let mem = Memory::default();
        let (c, _d) = cache(&mem);
        lookup(&c, "a", "h", || Ok(token("a", 3600))).unwrap();
        lookup(&c, "b", "h2", || Ok(token("b", 3600))).unwrap();
        mem.save("a", b"{garbage").unwrap();
        let (t, s) = lookup(&c, "a", "h", || Ok(token("fresh", 3600))).unwrap();
        assert_eq!(
            (t.password.expose().as_str(), s),
            ("fresh", Served::Fetched)
        );
        let (t, _) = lookup(&c, "a", "h", || unreachable!()).unwrap();
        assert_eq!(t.password.expose(), "fresh");
        std::fs::write(c.meta_path("a"), b"{\"v\":").unwrap();
        let (t, s) = lookup(&c, "a", "h", || Ok(token("again", 3600))).unwrap();
        assert_eq!(
            (t.password.expose().as_str(), s),
            ("again", Served::Fetched)
        );
        let (t, _) = lookup(&c, "b", "h2", || unreachable!()).unwrap();
        assert_eq!(t.password.expose(), "b");
    }

    #[test]
    fn a_broken_backend_never_fails_get() {
        let mem = Memory {
            broken: true,
            ..Memory::default()
        };
        let (c, _d) = cache(&mem);
        let (t, s) = lookup(&c, "a", "h", || Ok(token("x", 3600))).unwrap();
        assert_eq!((t.password.expose().as_str(), s), ("x", Served::Fetched));
    }

    #[test]
    fn erase_and_prune() {
        let mem = Memory::default();
        let (c, _d) = cache(&mem);
        lookup(&c, "a", "h", || Ok(token("a", 3600))).unwrap();
        lookup(&c, "b", "h", || Ok(token("b", 3600))).unwrap();
        lookup(&c, "c", "other", || Ok(token("c", 3600))).unwrap();
        assert_eq!(c.erase("h").unwrap(), 2);
        assert_eq!(c.entries().len(), 1);
        assert!(mem.load("a").unwrap().is_none());

        // An index record for an expired token is pruned with its secret.
        let m = Meta {
            v: 1,
            key: "d".into(),
            registry: "old".into(),
            identity: "i".into(),
            backend: "memory".into(),
            minted: 1,
            expires: 2,
            username: "AWS".into(),
            fingerprint: "00".into(),
        };
        safe_fs::write_atomic(&c.meta_path("d"), &serde_json::to_vec(&m).unwrap()).unwrap();
        mem.save("d", b"x").unwrap();
        c.prune();
        assert_eq!(c.entries().len(), 1);
        assert!(mem.load("d").unwrap().is_none());
    }

    #[test]
    fn choice_from_env() {
        let env = crate::fake_env;
        assert_eq!(Choice::from_env(env(&[])), Ok(Choice::Auto));
        assert_eq!(
            Choice::from_env(env(&[(CACHE_ENV, "file")])),
            Ok(Choice::File)
        );
        assert_eq!(
            Choice::from_env(env(&[(CACHE_ENV, "keyutils")])),
            Ok(Choice::Keyutils)
        );
        assert_eq!(
            Choice::from_env(env(&[(GO_DISABLE_ENV, "1"), (CACHE_ENV, "file")])),
            Ok(Choice::None)
        );
        assert!(Choice::from_env(env(&[(CACHE_ENV, "redis")])).is_err());
    }
}
