//! The optional per-user token daemon: tokens kept warm in memory, served over a Unix socket.
//!
//! A warm `get` without it still pays process start, config parsing and a
//! cache read; a cold one pays TLS set-up and a round trip to AWS; and every
//! client process decides on its own when to refresh. With the daemon, `get`
//! is connect → one request → one answer ([`client`], std only: no async
//! runtime, no AWS config, no certificates), many parallel `get`s share one
//! AWS call, and tokens are renewed before anyone waits for them
//! ([`server`]).
//!
//! The daemon never acts as itself. Every request carries the caller's
//! identity key and the environment that selects the caller's credentials
//! ([`wire::caller_env`]); the daemon mints by running this binary's hidden
//! `fetch` action as a child with exactly that environment, so what it gets
//! is what the caller's own `get` would have got, written through to the
//! same cache backend.
//!
//! Nothing here may make `get` fail: no daemon, a stale socket, a daemon that
//! dies, answers slowly or speaks another version all end in the direct path.

#[cfg(unix)]
pub mod client;
#[cfg(unix)]
pub mod commands;
#[cfg(unix)]
pub mod server;
pub mod wire;

use std::path::PathBuf;
use std::time::Duration;

use crate::cache::key::CacheKey;
use crate::safe_fs;
use crate::token::AuthToken;

/// Overrides the socket path.
pub const SOCKET_ENV: &str = "DOCKER_CREDENTIAL_ECR_SOCKET";

/// `auto` (default), `off`, or `required`.
pub const MODE_ENV: &str = "DOCKER_CREDENTIAL_ECR_DAEMON";

/// Seconds without a request before the daemon exits; 0 means never.
pub const IDLE_ENV: &str = "DOCKER_CREDENTIAL_ECR_DAEMON_IDLE";

/// How long an unused daemon stays up when nothing says otherwise.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(3600);

/// What the daemon made of a `get`.
#[derive(Debug)]
pub enum Outcome {
    /// The token.
    Token(AuthToken),
    /// Fetching failed for a reason the user must see (as the direct path would say it).
    Failed(String),
    /// No usable daemon: answer directly.
    Unavailable(String),
}

/// The daemon as `get` sees it; a trait so the helper's logic is tested without sockets.
pub trait TokenDaemon {
    /// A token for `host` as the caller identified by `key`.
    fn get(&self, host: &str, key: &CacheKey, timeout: Duration) -> Outcome;
    /// Whether only the daemon may answer.
    fn required(&self) -> bool;
    /// Called once the answer is out: time for work the client must not wait on (autostart).
    fn after_answer(&self) {}
    /// Makes a running daemon forget `host`'s tokens; `Ok` when none runs.
    fn erase(&self, host: &str) -> Result<(), String> {
        let _ = host;
        Ok(())
    }
}

/// How `get` uses the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Ask the daemon; without one, answer directly and start one for next time.
    Auto,
    /// Never talk to or start a daemon.
    Off,
    /// Only the daemon may answer: its absence is an error (for diagnosis).
    Required,
}

impl Mode {
    /// Reads `DOCKER_CREDENTIAL_ECR_DAEMON`.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Mode, String> {
        match get(MODE_ENV).as_deref().map(str::trim) {
            None | Some("") | Some("auto") | Some("on") => Ok(Mode::Auto),
            Some("off") | Some("0") | Some("false") => Ok(Mode::Off),
            Some("required") => Ok(Mode::Required),
            Some(other) => Err(format!(
                "{MODE_ENV}={other:?} is not valid: expected auto, off or required"
            )),
        }
    }
}

/// Reads the idle timeout from `DOCKER_CREDENTIAL_ECR_DAEMON_IDLE` (seconds; 0 = never).
pub fn idle_from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<Duration>, String> {
    match get(IDLE_ENV).as_deref().map(str::trim) {
        None | Some("") => Ok(Some(DEFAULT_IDLE)),
        Some(v) => match v.parse::<u64>() {
            Ok(0) => Ok(None),
            Ok(secs) => Ok(Some(Duration::from_secs(secs))),
            Err(_) => Err(format!(
                "{IDLE_ENV}={v:?} is not a number of seconds (0 keeps the daemon up)"
            )),
        },
    }
}

/// The longest socket path we use: `sun_path` holds 108 bytes on Linux, 104 on macOS.
pub const SOCKET_PATH_LIMIT: usize = 100;

/// The socket path: `$DOCKER_CREDENTIAL_ECR_SOCKET`, else `daemon.sock` in
/// our state directory ([`safe_fs::state_dir`]), or in
/// `/tmp/docker-credential-ecr-<uid>` when that path is too long for a
/// socket address. Whether its directory can be trusted is checked by
/// [`secure_dir`] before anything is sent or bound there.
pub fn socket_path(get: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(path) = get(SOCKET_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let preferred = safe_fs::state_dir(&get)?.path.join("daemon.sock");
    if preferred.as_os_str().len() <= SOCKET_PATH_LIMIT {
        return Some(preferred);
    }
    fallback_socket()
}

/// Makes sure the socket's directory is a private directory of ours, creating
/// it 0700 if missing (never its ancestors) and never chmodding one that
/// exists: the socket, the locks and the log live there, and a directory
/// another user controls could impersonate the daemon or read what clients send.
pub fn secure_dir(dir: &std::path::Path) -> Result<(), String> {
    safe_fs::ensure_private_dir(dir).map_err(|e| e.to_string())
}

/// Cuts the daemon loose from whoever started it: working directory `/` (a
/// caller's directory must stay unmountable), no descriptor but stdio and
/// `keep` (a caller's pipe left open in us would keep its shell pipeline
/// from ever ending), and no core dumps (callers' AWS secrets live in our memory).
#[cfg(unix)]
pub fn detach(keep: std::ops::Range<i32>) {
    let _ = rustix::process::chdir("/");
    close_inherited_fds(keep);
    no_core_dumps();
}

/// No core file, ever, from this process or its children (RLIMIT_CORE 0 is
/// inherited); on Linux, also not dumpable (no core on SIGQUIT, no ptrace by
/// our other processes). For the daemon and its `fetch` children, which hold
/// callers' credentials.
#[cfg(unix)]
pub fn no_core_dumps() {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let zero = Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    let _ = setrlimit(Resource::Core, zero);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
}

/// Closes every descriptor above stderr that is not in `keep`.
#[cfg(unix)]
fn close_inherited_fds(keep: std::ops::Range<i32>) {
    let listing = if cfg!(target_os = "linux") {
        "/proc/self/fd"
    } else {
        "/dev/fd"
    };
    let Ok(entries) = std::fs::read_dir(listing) else {
        return;
    };
    let fds: Vec<i32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2 && !keep.contains(fd))
        .collect();
    for fd in fds {
        // The listing's own descriptor is already closed: skip what is not open.
        // SAFETY: only checked for validity, not kept.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        if rustix::io::fcntl_getfd(borrowed).is_ok() {
            // SAFETY: at start-up nothing in this process owns an inherited
            // descriptor, so closing it invalidates no handle of ours.
            unsafe { rustix::io::close(fd) };
        }
    }
}

#[cfg(unix)]
fn fallback_socket() -> Option<PathBuf> {
    Some(PathBuf::from(format!(
        "/tmp/docker-credential-ecr-{}/daemon.sock",
        safe_fs::euid()
    )))
}

#[cfg(not(unix))]
fn fallback_socket() -> Option<PathBuf> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_idle() {
        let env = |v: &'static str| move |k: &str| (k == MODE_ENV).then(|| v.to_string());
        assert_eq!(Mode::from_env(|_| None), Ok(Mode::Auto));
        assert_eq!(Mode::from_env(env("off")), Ok(Mode::Off));
        assert_eq!(Mode::from_env(env("required")), Ok(Mode::Required));
        assert!(Mode::from_env(env("sometimes")).is_err());
        let idle = |v: &'static str| idle_from_env(move |_| Some(v.to_string()));
        assert_eq!(idle("0"), Ok(None));
        assert_eq!(idle("90"), Ok(Some(Duration::from_secs(90))));
        assert!(idle("soon").is_err());
        assert_eq!(idle_from_env(|_| None), Ok(Some(DEFAULT_IDLE)));
    }

    #[test]
    fn socket_path_prefers_the_override_then_the_runtime_dir() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().to_string_lossy().into_owned();
        let env = |socket: Option<&'static str>| {
            let run = run.clone();
            move |k: &str| match k {
                SOCKET_ENV => socket.map(str::to_string),
                "XDG_RUNTIME_DIR" => Some(run.clone()),
                _ => None,
            }
        };
        assert_eq!(
            socket_path(env(Some("/x/d.sock"))),
            Some(PathBuf::from("/x/d.sock"))
        );
        assert_eq!(
            socket_path(env(None)),
            Some(dir.path().join("docker-credential-ecr/daemon.sock"))
        );
    }
}
