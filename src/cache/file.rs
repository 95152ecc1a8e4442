//! The fallback backend: one 0600 file per token in a 0700 directory.
//!
//! Used where no keyring works (headless CI, containers, cron). The
//! directory prefers `$XDG_RUNTIME_DIR`, which is RAM-backed and private to
//! the user, over the on-disk cache directory. Writes go to a temporary file
//! that is renamed into place, so a reader sees the old entry or the new
//! one, never half of either; each entry is its own file, so one corrupt
//! entry cannot take the others with it (the Go helper deletes its whole
//! cache file when it cannot parse it).

use std::path::PathBuf;

use super::{Backend, BackendError};
use crate::safe_fs;

/// The largest token file we read: ECR passwords are a few KiB.
const TOKEN_LIMIT: u64 = 64 * 1024;

/// Tokens as files under `<state dir>/tokens`.
#[derive(Debug)]
pub struct FileBackend {
    dir: PathBuf,
}

impl FileBackend {
    /// A backend storing under `dir`, a subdirectory of our checked state
    /// directory (created 0700 on first write).
    pub fn new(dir: PathBuf) -> FileBackend {
        FileBackend { dir }
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }
}

impl Backend for FileBackend {
    fn name(&self) -> &'static str {
        "file"
    }

    fn load(&self, id: &str) -> Result<Option<Vec<u8>>, BackendError> {
        match safe_fs::read_own(&self.path(id), TOKEN_LIMIT) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn save(&self, id: &str, data: &[u8]) -> Result<(), BackendError> {
        safe_fs::ensure_private_dir(&self.dir)?;
        Ok(safe_fs::write_atomic(&self.path(id), data)?)
    }

    fn remove(&self, id: &str) -> Result<(), BackendError> {
        match std::fs::remove_file(self.path(id)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(BackendError::io(&self.path(id), e)),
        }
    }

    fn tidy(&self) -> Result<(), BackendError> {
        safe_fs::remove_leftovers(&self.dir)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    use std::path::Path;

    use super::*;

    #[test]
    fn save_load_remove_with_private_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let b = FileBackend::new(dir.path().join("tokens"));
        assert_eq!(b.load("k").unwrap(), None);
        b.save("k", b"one").unwrap();
        b.save("k", b"two").unwrap();
        assert_eq!(b.load("k").unwrap().as_deref(), Some(&b"two"[..]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir.path().join("tokens")), 0o700);
            assert_eq!(mode(&dir.path().join("tokens/k")), 0o600);
        }
        b.remove("k").unwrap();
        b.remove("k").unwrap();
        assert_eq!(b.load("k").unwrap(), None);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("tokens"))
            .unwrap()
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
