//! docker-credential-ecr: a Docker credential helper for Amazon ECR.
//!
//! A client runs `docker-credential-ecr get` with a registry host on stdin;
//! we recognise ECR hosts, exchange the caller's AWS identity for an ECR
//! authorization token and print it in the docker-credential-helpers format.
//!
//! The modules follow the path of one request:
//! [`cli`] (arguments and stdio) → [`helper`] (the actions) →
//! [`protocol`] (wire format, pure) and [`registry`] (is this ECR? pure) →
//! [`config`] and [`settings`] (who to act as, how long we may take) →
//! [`cache`] (identity-keyed, single-flight) → [`token`] (the AWS exchange).
//! [`daemon`] sits in front of the cache when it runs: a per-user process
//! that keeps tokens warm and answers `get` over a Unix socket.
//! [`kubelet`] is the same path behind kubelet's image credential provider
//! protocol. [`secret`] keeps tokens out of logs; [`safe_fs`] is the one way we
//! touch the file system: only directories our own uid owns, capped reads;
//! [`client_config`] reads and edits the files docker and podman route registries by;
//! [`configure`] and [`doctor`] are the set-up and diagnosis commands built on it.
//! [`logins`] keeps other registries' `docker login` credentials (`credsStore`);
//! [`mfa`] and [`sso`] read (and `login` writes) the AWS CLI's MFA and SSO sessions.
#![warn(missing_docs)]
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub(crate) mod aws_profile;
pub mod cache;
pub mod cli;
pub mod client_config;
pub mod config;
pub mod configure;
pub mod daemon;
pub mod doctor;
#[doc(hidden)]
pub mod fuzzing;
pub mod helper;
pub mod kubelet;
pub mod logging;
pub mod logins;
pub mod mfa;
pub mod protocol;
pub mod registry;
pub mod safe_fs;
pub mod secret;
pub mod settings;
pub mod sso;
pub mod token;

/// The text of a caught panic, for turning it into a one-line error.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown failure".to_string())
}

/// Lower-case hex of `bytes`: digests in file names, cache keys and tags.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Collapses an error text onto one line: our stderr contract is one line per diagnostic.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Describes a JSON parse error by kind and position only: serde's own text can
/// quote the offending value, which in a `store` request is the secret.
pub(crate) fn json_error(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "the JSON ends early or the input is empty",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "a value has the wrong type",
        serde_json::error::Category::Io => "it could not be read",
    };
    format!("{what} (line {}, column {})", e.line(), e.column())
}

/// A fixed set of variables standing in for the environment in unit tests.
#[cfg(test)]
pub(crate) fn fake_env(
    pairs: &'static [(&'static str, &'static str)],
) -> impl Fn(&str) -> Option<String> {
    move |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    }
}
