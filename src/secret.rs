//! A wrapper that keeps bearer secrets out of logs and error chains.
//!
//! An ECR password is a bearer token valid for 12 hours: anyone who sees it can
//! push to the registry. `Secret` has no `Display`, prints `REDACTED` under
//! `Debug`, and makes every read an explicit `expose()` call, so the places where
//! a secret leaves protection (the protocol writer, a cache backend) are easy to
//! audit with a grep.

use std::fmt;

/// A value that must never be printed except where the protocol requires it.
///
/// `Deserialize` is transparent so secrets can be read straight into the wrapper;
/// there is deliberately no `Serialize`: writing a secret out is always explicit.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value so it can only be read through [`Secret::expose`].
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// Reads the secret; each call site is a point where the secret may leave protection.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("REDACTED")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s:?}"), "REDACTED");
        assert_eq!(format!("{:?}", Some(&s)), "Some(REDACTED)");
        assert_eq!(s.expose(), "hunter2");
    }
}
