//! The file system as a credential helper may use it: only what our own uid owns.
//!
//! This helper runs as root on build hosts and under `su` or `sudo -E` with
//! another user's `HOME` and `XDG_RUNTIME_DIR`, next to other users in a
//! shared `/tmp`. So every directory we write into is checked with `lstat`
//! first: it must be a real directory (not a symbolic link), owned by our
//! effective uid and closed to everyone else. We create missing directories
//! 0700 ourselves and never chmod one we did not just create. Files in them
//! are created with `O_CREAT|O_EXCL|O_NOFOLLOW` under random names and
//! renamed into place, and every file we read has a size cap and is opened
//! without blocking on a FIFO, so a hostile or careless path cannot make us
//! overwrite someone's file, hand them a token, or hang a `docker build`.
//!
//! Where none of our places can be trusted, callers carry on without file
//! state (no cache index, no daemon) rather than fail a `get`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The largest file we read that a user or another program may have written
/// (AWS config and credentials files, our config file, a web identity token):
/// far beyond any real one, and small enough that `/dev/zero` costs nothing.
pub const READ_LIMIT: u64 = 4 << 20;

/// Why a path was not trusted or could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The OS refused or failed an operation.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A symbolic link where we need a directory of our own.
    #[error("{} is a symbolic link; refusing to use it", path.display())]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// Something other than a directory (or, for reads, a regular file).
    #[error("{} is not a {wanted}", path.display())]
    WrongType {
        /// The path.
        path: PathBuf,
        /// What it should have been.
        wanted: &'static str,
    },
    /// Owned by another user.
    #[error("{} belongs to uid {owner}, not to us (uid {uid}); refusing to use it", path.display())]
    NotOurs {
        /// The path.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// Our effective uid.
        uid: u32,
    },
    /// Group or others have access.
    #[error("{} is open to other users (mode {mode:o}); refusing to use it", path.display())]
    NotPrivate {
        /// The path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Larger than we read.
    #[error("{} is larger than {limit} bytes; refusing to read it", path.display())]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// The cap.
        limit: u64,
    },
}

impl TrustError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> TrustError {
        TrustError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether the path simply does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, TrustError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// What went wrong, without the path (for messages that name it already).
pub fn reason(e: &TrustError) -> String {
    match e {
        TrustError::Io { source, .. } => source.to_string(),
        TrustError::WrongType { wanted, .. } => format!("not a {wanted}"),
        TrustError::TooLarge { limit, .. } => format!("larger than {limit} bytes"),
        other => other.to_string(),
    }
}

/// Our effective uid: the owner of every file we create.
#[cfg(unix)]
pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Checks that `dir` is a directory of ours that nobody else can use: not a
/// symbolic link (`lstat`), owned by our effective uid, no group or other bits.
#[cfg(unix)]
pub fn check_private_dir(dir: &Path) -> Result<(), TrustError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir).map_err(|e| TrustError::io(dir, e))?;
    let path = dir.to_path_buf();
    if meta.file_type().is_symlink() {
        return Err(TrustError::Symlink { path });
    }
    if !meta.is_dir() {
        return Err(TrustError::WrongType {
            path,
            wanted: "directory",
        });
    }
    let uid = euid();
    if meta.uid() != uid {
        return Err(TrustError::NotOurs {
            path,
            owner: meta.uid(),
            uid,
        });
    }
    if meta.mode() & 0o077 != 0 {
        return Err(TrustError::NotPrivate {
            path,
            mode: meta.mode() & 0o7777,
        });
    }
    Ok(())
}

/// Without Unix ownership, a directory is trusted if it is one.
#[cfg(not(unix))]
pub fn check_private_dir(dir: &Path) -> Result<(), TrustError> {
    let meta = std::fs::symlink_metadata(dir).map_err(|e| TrustError::io(dir, e))?;
    if meta.is_dir() {
        Ok(())
    } else {
        Err(TrustError::WrongType {
            path: dir.to_path_buf(),
            wanted: "directory",
        })
    }
}

/// Whether we may create entries directly in `parent`: a directory (links
/// followed: the link's owner already had the say) that is ours and that
/// nobody else can write in (or sticky), or a root-owned sticky directory
/// such as `/tmp`, where nobody can remove or replace what we create.
#[cfg(unix)]
fn may_create_in(parent: &Path) -> Result<(), TrustError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(parent).map_err(|e| TrustError::io(parent, e))?;
    if !meta.is_dir() {
        return Err(TrustError::WrongType {
            path: parent.to_path_buf(),
            wanted: "directory",
        });
    }
    let uid = euid();
    let sticky = meta.mode() & 0o1000 != 0;
    // Ours but writable by others without the sticky bit: anyone could
    // remove or replace what we create there.
    if meta.uid() == uid && meta.mode() & 0o022 != 0 && !sticky {
        return Err(TrustError::NotPrivate {
            path: parent.to_path_buf(),
            mode: meta.mode() & 0o7777,
        });
    }
    if meta.uid() == uid || (sticky && meta.uid() == 0) {
        Ok(())
    } else {
        Err(TrustError::NotOurs {
            path: parent.to_path_buf(),
            owner: meta.uid(),
            uid,
        })
    }
}

#[cfg(not(unix))]
fn may_create_in(parent: &Path) -> Result<(), TrustError> {
    match std::fs::metadata(parent) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(TrustError::WrongType {
            path: parent.to_path_buf(),
            wanted: "directory",
        }),
        Err(e) => Err(TrustError::io(parent, e)),
    }
}

/// Whether [`ensure_private_dir`] would accept `dir` now, without creating
/// anything: it is ours and private, or it is missing and its parent is one
/// we may create in.
pub fn usable_dir(dir: &Path) -> Result<(), TrustError> {
    match check_private_dir(dir) {
        Err(e) if e.is_not_found() => may_create_in(dir.parent().unwrap_or(Path::new("/"))),
        other => other,
    }
}

/// Makes sure `dir` is a private directory of ours: an existing one is
/// checked (never chmodded: if it is not ours and private we do not use it);
/// a missing one is created 0700, only directly in a parent we may create
/// in (never its ancestors: a missing `$HOME` stays missing).
pub fn ensure_private_dir(dir: &Path) -> Result<(), TrustError> {
    match check_private_dir(dir) {
        Err(e) if e.is_not_found() => {}
        other => return other,
    }
    may_create_in(dir.parent().unwrap_or(Path::new("/")))?;
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(dir) {
        Ok(()) => {
            // Ours, just made: a umask cannot have widened it, but one that
            // took our own bits away would make it useless.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| TrustError::io(dir, e))?;
            }
        }
        // Someone (maybe another of our processes) made it first: check theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(TrustError::io(dir, e)),
    }
    check_private_dir(dir)
}

/// Creates the directories from `anchor` (which must exist and be ours) down
/// to `dir`, which ends private; the ones in between may be shared by other
/// programs of ours (`~/.cache`), so they need only be ours.
pub fn ensure_dir_under(anchor: &Path, dir: &Path) -> Result<(), TrustError> {
    let Ok(rel) = dir.strip_prefix(anchor) else {
        return ensure_private_dir(dir);
    };
    let mut at = anchor.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        if i + 1 == parts.len() {
            break;
        }
        match std::fs::metadata(&at) {
            Ok(_) => may_create_in(&at)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ensure_private_dir(&at)?,
            Err(e) => return Err(TrustError::io(&at, e)),
        }
    }
    ensure_private_dir(dir)
}

/// Makes `dir` (under `anchor`, which must exist and be ours) a directory we
/// may create files in, for a file of ours in a directory other programs of
/// the user's share (`~/.config/containers/registries.conf.d`, the AWS CLI's
/// `~/.aws/cli/cache`; the files we put there are 0600): existing
/// directories on the way must be ours (their mode is theirs to choose, and
/// is never changed), missing ones are created 0700. Returns the directories
/// created, outermost first, so that exactly those can be removed again.
pub fn ensure_own_dir_under(anchor: &Path, dir: &Path) -> Result<Vec<PathBuf>, TrustError> {
    may_create_in(anchor)?;
    let rel = dir.strip_prefix(anchor).map_err(|_| {
        TrustError::io(
            dir,
            std::io::Error::other(format!("not under {}", anchor.display())),
        )
    })?;
    let mut created = Vec::new();
    let mut at = anchor.to_path_buf();
    for part in rel.components() {
        at.push(part);
        match std::fs::metadata(&at) {
            Ok(_) => may_create_in(&at)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                ensure_private_dir(&at)?;
                created.push(at.clone());
            }
            Err(e) => return Err(TrustError::io(&at, e)),
        }
    }
    Ok(created)
}

/// Checks, without creating anything, that [`ensure_own_dir_under`] could succeed.
pub fn own_dir_usable_under(anchor: &Path, dir: &Path) -> Result<(), TrustError> {
    may_create_in(anchor)?;
    let Ok(rel) = dir.strip_prefix(anchor) else {
        return Err(TrustError::io(
            dir,
            std::io::Error::other(format!("not under {}", anchor.display())),
        ));
    };
    let mut at = anchor.to_path_buf();
    for part in rel.components() {
        at.push(part);
        match std::fs::metadata(&at) {
            Ok(_) => may_create_in(&at)?,
            // Everything below a missing directory will be ours.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(TrustError::io(&at, e)),
        }
    }
    Ok(())
}

/// Checks, without creating anything, that [`ensure_dir_under`] could succeed.
pub fn usable_under(anchor: &Path, dir: &Path) -> Result<(), TrustError> {
    may_create_in(anchor)?;
    let Ok(rel) = dir.strip_prefix(anchor) else {
        return usable_dir(dir);
    };
    let mut at = anchor.to_path_buf();
    for part in rel.components() {
        at.push(part);
        if at == dir {
            return usable_dir(dir);
        }
        match std::fs::metadata(&at) {
            Ok(_) => may_create_in(&at)?,
            // Everything below a missing directory will be ours.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(TrustError::io(&at, e)),
        }
    }
    usable_dir(dir)
}

/// Options that never follow a symbolic link in the last component.
fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        options,
        rustix::fs::OFlags::NOFOLLOW.bits() as i32,
    );
    options
}

/// Opens (creating it 0600) a file in one of our directories that is only
/// ever `flock`ed; a symbolic link planted in its place is refused.
pub fn open_lock_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    no_follow(&mut options).open(path)
}

/// Opens a file of ours for reading, refusing links, FIFOs and devices.
pub fn open_own_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32,
    );
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(file)
}

/// Reads a file of ours from one of our directories (no links), at most `limit` bytes.
pub fn read_own(path: &Path, limit: u64) -> Result<Vec<u8>, TrustError> {
    let file = open_own_file(path).map_err(|e| TrustError::io(path, e))?;
    read_capped(file, path, limit)
}

/// Reads a file a user or another program may have written (links followed:
/// dotfile managers rely on them), refusing FIFOs, devices and anything over
/// `limit` bytes, so that neither `/dev/zero` nor a FIFO can stall us.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, TrustError> {
    let mut options = OpenOptions::new();
    options.read(true);
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        rustix::fs::OFlags::NONBLOCK.bits() as i32,
    );
    let file = options.open(path).map_err(|e| TrustError::io(path, e))?;
    let meta = file.metadata().map_err(|e| TrustError::io(path, e))?;
    if !meta.is_file() {
        return Err(TrustError::WrongType {
            path: path.to_path_buf(),
            wanted: "regular file",
        });
    }
    read_capped(file, path, limit)
}

/// [`read_limited`] as text: `Ok(None)` when the file does not exist.
pub fn read_text_if_exists(path: &Path, limit: u64) -> Result<Option<String>, TrustError> {
    match read_limited(path, limit) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            TrustError::io(
                path,
                std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
            )
        }),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn read_capped(file: File, path: &Path, limit: u64) -> Result<Vec<u8>, TrustError> {
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| TrustError::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(TrustError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(bytes)
}

/// Where our per-user state (cache index, locks, token files, the daemon's
/// socket) lives, and why better places were passed over.
#[derive(Debug, Clone)]
pub struct StateDir {
    /// Our directory (it may not exist yet).
    pub path: PathBuf,
    /// The existing directory of ours it is created under.
    anchor: PathBuf,
    /// Why each preferred place was not used, for a one-time note.
    pub passed_over: Vec<String>,
}

impl StateDir {
    /// `path` itself, created under its parent if missing (tests, explicit overrides).
    pub fn at(path: PathBuf) -> StateDir {
        StateDir {
            anchor: path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| path.clone()),
            path,
            passed_over: Vec::new(),
        }
    }

    /// `path`, to be created (the directories in between need only be ours,
    /// `path` itself private) under `anchor`, an existing directory of ours.
    pub fn under(anchor: PathBuf, path: PathBuf) -> StateDir {
        StateDir {
            path,
            anchor,
            passed_over: Vec::new(),
        }
    }

    /// Creates the directory (0700) if missing, and checks it is ours and private.
    pub fn ensure(&self) -> Result<(), TrustError> {
        ensure_dir_under(&self.anchor, &self.path)
    }
}

/// Our name under each base directory.
const APP_DIR: &str = "docker-credential-ecr";

/// The Go helper's cache directory setting, honoured for our file state:
/// users set it where `$HOME` is read-only (distroless, non-root images).
pub const GO_CACHE_DIR_ENV: &str = "AWS_ECR_CACHE_DIR";

/// `$AWS_ECR_CACHE_DIR` as the Go helper reads it (a leading `~` is the home
/// directory), if set to an absolute path; a relative one would depend on
/// each client's working directory, so it is ignored.
pub fn go_cache_dir(env: impl Fn(&str) -> Option<String>, home: Option<&Path>) -> Option<PathBuf> {
    let value = env(GO_CACHE_DIR_ENV).filter(|v| !v.trim().is_empty())?;
    let path = match value.strip_prefix('~') {
        Some("") => home?.to_path_buf(),
        Some(rest) if rest.starts_with('/') => home?.join(rest.trim_start_matches('/')),
        _ => PathBuf::from(value),
    };
    path.is_absolute().then_some(path)
}

/// The first trustworthy place for our state, in order: `$AWS_ECR_CACHE_DIR`
/// when the user set it, `$XDG_RUNTIME_DIR`
/// (RAM-backed, private to the login), the user's cache directory, then
/// `/tmp/docker-credential-ecr-<uid>`. A base that is not ours (root under
/// `sudo -E` with a user's variables) or a missing `$HOME` is passed over,
/// never written into or created; `None` when no place can be trusted.
pub fn state_dir(env: impl Fn(&str) -> Option<String>) -> Option<StateDir> {
    let set = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = set("HOME").or_else(dirs::home_dir);
    let mut candidates: Vec<(PathBuf, PathBuf)> = Vec::new();
    if let Some(dir) = go_cache_dir(&env, home.as_deref()) {
        // The user chose this place (a read-only home, say): it is our state directory itself.
        let anchor = dir
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.clone());
        candidates.push((anchor, dir));
    }
    if let Some(run) = set("XDG_RUNTIME_DIR").filter(|p| p.is_absolute()) {
        candidates.push((run.clone(), run.join(APP_DIR)));
    }
    let cache = if cfg!(target_os = "linux") {
        set("XDG_CACHE_HOME")
            .filter(|p| p.is_absolute())
            .or_else(|| home.as_ref().map(|h| h.join(".cache")))
    } else {
        dirs::cache_dir()
    };
    if let Some(cache) = cache {
        let anchor = home
            .clone()
            .filter(|h| cache.starts_with(h) && cache != *h)
            .unwrap_or_else(|| cache.clone());
        candidates.push((anchor, cache.join(APP_DIR)));
    }
    #[cfg(unix)]
    candidates.push((
        PathBuf::from("/tmp"),
        PathBuf::from(format!("/tmp/{APP_DIR}-{}", euid())),
    ));
    let mut passed_over = Vec::new();
    for (anchor, path) in candidates {
        match usable_under(&anchor, &path) {
            Ok(()) => {
                return Some(StateDir {
                    path,
                    anchor,
                    passed_over,
                });
            }
            Err(e) => passed_over.push(e.to_string()),
        }
    }
    None
}

/// The marker in our temporary files' names: `.<target>.<pid>.<random>.tmp`.
const TMP_SUFFIX: &str = ".tmp";

/// A name no other writer will pick, so `O_EXCL` never meets a planted file by design.
fn temp_name(target: &str) -> String {
    use std::hash::{BuildHasher, RandomState};
    let random = RandomState::new().hash_one((std::process::id(), std::time::Instant::now()));
    format!(".{target}.{}.{random:016x}{TMP_SUFFIX}", std::process::id())
}

/// Writes `data` to `path` (in a directory of ours) through a new 0600
/// temporary file (`O_EXCL|O_NOFOLLOW`, random name) and a rename, so a
/// reader sees the old content or the new, and a planted link is never followed.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), TrustError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let target = path.file_name().and_then(|n| n.to_str()).unwrap_or("entry");
    let tmp = dir.join(temp_name(target));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut file = no_follow(&mut options).open(&tmp)?;
        file.write_all(data)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| TrustError::io(path, e))
}

/// Removes temporary files that a killed writer left in `dir` (one of ours):
/// those whose writer is gone, or older than a minute whoever wrote them.
/// A leftover may hold a live token, so `erase` and pruning must see them.
pub fn remove_leftovers(dir: &Path) -> Result<usize, TrustError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(TrustError::io(dir, e)),
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pid) = leftover_pid(name) else {
            continue;
        };
        let old = entry
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 60);
        if old || !process_alive(pid) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(TrustError::io(&entry.path(), e)),
            }
        }
    }
    Ok(removed)
}

/// The writer's pid in one of our temporary files' names.
fn leftover_pid(name: &str) -> Option<u32> {
    let inner = name.strip_prefix('.')?.strip_suffix(TMP_SUFFIX)?;
    let mut parts = inner.rsplitn(3, '.');
    let random = parts.next()?;
    let pid = parts.next()?;
    let _target = parts.next()?;
    (random.len() == 16 && random.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| pid.parse().ok())
        .flatten()
}

#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    // EPERM means it exists under another uid: alive.
    !matches!(
        rustix::process::test_kill_process(pid),
        Err(rustix::io::Errno::SRCH)
    )
}

#[cfg(not(unix))]
fn process_alive(_pid: u32) -> bool {
    true
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn creates_private_dirs_and_refuses_links_and_open_ones() {
        let t = tempfile::tempdir().unwrap();
        let ours = t.path().join("ours");
        ensure_private_dir(&ours).unwrap();
        assert_eq!(mode(&ours), 0o700);
        ensure_private_dir(&ours).unwrap();

        let open = t.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(
            ensure_private_dir(&open),
            Err(TrustError::NotPrivate { .. })
        ));
        assert_eq!(
            mode(&open),
            0o755,
            "an existing directory is never chmodded"
        );

        let link = t.path().join("link");
        std::os::unix::fs::symlink(&ours, &link).unwrap();
        assert!(matches!(
            ensure_private_dir(&link),
            Err(TrustError::Symlink { .. })
        ));

        let file = t.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert!(matches!(
            ensure_private_dir(&file),
            Err(TrustError::WrongType { .. })
        ));
    }

    #[test]
    fn the_go_helpers_cache_dir_comes_first_and_expands_the_home() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().to_path_buf();
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
        let chosen = home.join("ecr");
        let value = chosen.to_string_lossy().into_owned();
        let env = |v: &'static str| {
            let home = home.to_string_lossy().into_owned();
            let value = value.clone();
            move |k: &str| match k {
                "HOME" => Some(home.clone()),
                GO_CACHE_DIR_ENV if v == "abs" => Some(value.clone()),
                GO_CACHE_DIR_ENV => Some(v.to_string()),
                _ => None,
            }
        };
        assert_eq!(state_dir(env("abs")).unwrap().path, chosen);
        assert_eq!(state_dir(env("~/ecr")).unwrap().path, chosen);
        assert_eq!(go_cache_dir(env("~"), Some(&home)), Some(home.clone()));
        // The home itself is open (0755): passed over, with the reason kept for the note.
        let s = state_dir(env("~")).unwrap();
        assert_ne!(s.path, home);
        assert!(
            s.passed_over[0].contains("open to other users"),
            "{:?}",
            s.passed_over
        );
        // Relative or another user's `~name`: not a place we can pin down.
        for ignored in ["rel/dir", "~bob/x", " "] {
            assert_ne!(state_dir(env(ignored)).unwrap().path, chosen, "{ignored}");
        }
    }

    #[test]
    fn never_creates_missing_ancestors() {
        let t = tempfile::tempdir().unwrap();
        let deep = t.path().join("nonexistent/.cache/x");
        assert!(ensure_private_dir(&deep).unwrap_err().is_not_found());
        assert!(!t.path().join("nonexistent").exists());
        // Under an anchor that exists, the chain is created.
        let home = t.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let dir = home.join(".cache/docker-credential-ecr");
        usable_under(&home, &dir).unwrap();
        ensure_dir_under(&home, &dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert!(usable_under(&t.path().join("nonexistent"), &deep).is_err());
    }

    #[test]
    fn a_directory_of_ours_that_others_may_write_in_is_not_created_in() {
        let t = tempfile::tempdir().unwrap();
        let open = t.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            ensure_private_dir(&open.join("ours")),
            Err(TrustError::NotPrivate { mode: 0o777, .. })
        ));
        assert!(usable_dir(&open.join("ours")).is_err());
        assert!(!open.join("ours").exists());
        // Sticky, like a shared /tmp: others cannot remove what we create.
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        ensure_private_dir(&open.join("ours")).unwrap();
    }

    #[test]
    fn atomic_writes_refuse_planted_links_and_leftovers_are_removed() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("victim");
        std::fs::write(&target, b"precious").unwrap();
        let path = t.path().join("entry");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        // The rename replaces the link itself; the victim is untouched.
        write_atomic(&path, b"token").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        assert_eq!(std::fs::read(&path).unwrap(), b"token");
        assert_eq!(mode(&path), 0o600);

        // A dead writer's temporary file goes; a live one's stays.
        let dead = t.path().join(".entry.999999999.0123456789abcdef.tmp");
        let live = t.path().join(format!(
            ".entry.{}.0123456789abcdef.tmp",
            std::process::id()
        ));
        std::fs::write(&dead, b"x").unwrap();
        std::fs::write(&live, b"x").unwrap();
        assert_eq!(remove_leftovers(t.path()).unwrap(), 1);
        assert!(!dead.exists() && live.exists());
        assert_eq!(leftover_pid("entry"), None);
    }

    #[test]
    fn reads_are_capped_and_never_block_on_fifos_or_devices() {
        let t = tempfile::tempdir().unwrap();
        let big = t.path().join("big");
        std::fs::write(&big, vec![b'a'; 100]).unwrap();
        assert!(matches!(
            read_limited(&big, 99),
            Err(TrustError::TooLarge { .. })
        ));
        assert_eq!(read_limited(&big, 100).unwrap().len(), 100);
        assert!(matches!(
            read_limited(Path::new("/dev/zero"), 10),
            Err(TrustError::WrongType { .. })
        ));
        let fifo = t.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        assert!(matches!(
            read_limited(&fifo, 10),
            Err(TrustError::WrongType { .. })
        ));
        assert_eq!(
            read_text_if_exists(&t.path().join("missing"), 10).unwrap(),
            None
        );
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&big, &link).unwrap();
        assert!(
            read_own(&link, 1000).is_err(),
            "our own files are never links"
        );
        assert_eq!(read_limited(&link, 1000).unwrap().len(), 100);
    }
}
