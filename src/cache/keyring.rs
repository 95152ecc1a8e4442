//! Keyring backends (placeholder until the platform stores are wired).

use super::{Backend, BackendError};

/// Linux kernel keyutils.
pub fn keyutils() -> Result<Box<dyn Backend>, BackendError> {
    Err(BackendError::Unavailable {
        backend: "keyutils",
        detail: "not built yet".into(),
    })
}

/// The OS keyring.
pub fn os_keyring() -> Result<Box<dyn Backend>, BackendError> {
    Err(BackendError::Unavailable {
        backend: "keyring",
        detail: "not built yet".into(),
    })
}
