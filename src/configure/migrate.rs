//! Copying the logins of the `credsStore` that `configure --store` replaces.
//!
//! Switching docker's `credsStore` from `desktop`, `secretservice`, `pass` or
//! `osxkeychain` to us would otherwise hide every `docker login` the user
//! made: docker asks only the configured store. So, before anything is
//! written, we ask the old helper for its logins through its own protocol
//! (`list`, then `get` per server) and hand each one to our `store`, run as
//! a separate process exactly as `docker login` runs it, so the copy takes
//! the code path every other login takes. All `get`s happen before any
//! `store`, so a failing or wedged old helper copies nothing.
//!
//! Every child process is bounded: a `pass` waiting on a gpg passphrase, or a
//! keychain prompt nobody answers, is killed (with anything it started) when
//! the time is up, and configure says which helper and server hung. Secrets
//! stay in [`Secret`] and are never printed; a child's output is echoed only
//! as one short line, never when it looks like JSON (which may hold one).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::client_config::find_on_path;
use crate::protocol;
use crate::registry;
use crate::secret::Secret;

/// The most a helper may print; a real `list` of every login is far smaller.
const OUTPUT_LIMIT: u64 = 1 << 20;

/// The longest excerpt of a child's message we repeat.
const EXCERPT: usize = 160;

/// How to copy logins: which helpers to run, and for how long.
#[derive(Debug, Clone)]
pub struct Copier {
    /// PATH, where docker finds `docker-credential-<store>`.
    pub path_var: std::ffi::OsString,
    /// Our own binary, whose `store` receives each login.
    pub ours: PathBuf,
    /// The limit for each child process.
    pub timeout: Duration,
}

/// Why a helper's answer could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MigrateError {
    /// The helper ran past the time limit and was killed.
    #[error(
        "{program} {action} did not answer within {}s and was stopped (waiting for a passphrase \
         or an unlock prompt? unlock the store, e.g. run `{program} list` yourself, then retry)",
        timeout.as_secs_f32()
    )]
    TimedOut {
        /// The helper.
        program: String,
        /// The action it was running.
        action: &'static str,
        /// The limit.
        timeout: Duration,
    },
    /// The helper could not be started.
    #[error("cannot run {program}: {reason}")]
    Spawn {
        /// The helper.
        program: String,
        /// What the OS said.
        reason: String,
    },
    /// The helper exited with a failure.
    #[error("{program} {action} failed: {detail}")]
    Failed {
        /// The helper.
        program: String,
        /// The action.
        action: &'static str,
        /// A short excerpt of what it said, or its exit status.
        detail: String,
    },
    /// The helper's answer is not what the protocol says.
    #[error("{program} {action} answered something unreadable: {detail}")]
    Unreadable {
        /// The helper.
        program: String,
        /// The action.
        action: &'static str,
        /// What was wrong with it (never its content).
        detail: String,
    },
}

/// One login the old store holds: the server exactly as docker keyed it, and the user name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The server, kept as docker passed it (`https://index.docker.io/v1/`, `host:5000`).
    pub server: String,
    /// The user name `list` gave.
    pub username: String,
}

/// What the old store's `list` offers: the logins to copy and the ECR hosts we mint ourselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Logins to copy.
    pub copy: Vec<Login>,
    /// ECR servers skipped: we mint their tokens.
    pub skipped: Vec<String>,
}

/// Parses a `list` answer (a JSON object, server → user name) and sets ECR hosts aside.
pub fn parse_list(program: &str, stdout: &[u8]) -> Result<Listing, MigrateError> {
    let unreadable = |detail: String| MigrateError::Unreadable {
        program: program.to_string(),
        action: "list",
        detail,
    };
    let text = String::from_utf8_lossy(stdout);
    let text = text.trim();
    // Some helpers print nothing for an empty store.
    if text.is_empty() {
        return Ok(Listing::default());
    }
    let entries: BTreeMap<String, serde_json::Value> = serde_json::from_str(text).map_err(|e| {
        unreadable(format!(
            "expected a JSON object of server → user name: {}",
            crate::json_error(&e)
        ))
    })?;
    let mut listing = Listing::default();
    for (server, username) in entries {
        let is_ecr = protocol::canonical_host(&server)
            .and_then(|h| registry::parse_host(&h))
            .is_some();
        if is_ecr {
            listing.skipped.push(server);
            continue;
        }
        let username = username.as_str().unwrap_or_default().to_string();
        listing.copy.push(Login { server, username });
    }
    Ok(listing)
}

/// A `get` answer: docker-credential-helpers' three fields (case-insensitive in Go; exact here).
#[derive(Deserialize)]
struct GetReply {
    #[serde(rename = "Username", alias = "username", default)]
    username: String,
    #[serde(rename = "Secret", alias = "secret", default)]
    secret: Option<Secret<String>>,
}

/// A login read back from the old store, ready for our `store`.
pub struct Credentials {
    /// The server, as `list` keyed it.
    pub server: String,
    /// The user name (`<token>` for an identity token, as docker stores it).
    pub username: String,
    /// The password or identity token.
    pub secret: Secret<String>,
}

/// Parses a `get` answer for `server`; the secret never appears in an error.
pub fn parse_get(program: &str, server: &str, stdout: &[u8]) -> Result<Credentials, MigrateError> {
    let unreadable = |detail: String| MigrateError::Unreadable {
        program: program.to_string(),
        action: "get",
        detail,
    };
    let reply: GetReply = serde_json::from_slice(stdout.trim_ascii()).map_err(|e| {
        unreadable(format!(
            "expected {{\"ServerURL\",\"Username\",\"Secret\"}}: {}",
            crate::json_error(&e)
        ))
    })?;
    let secret = reply.secret.filter(|s| !s.expose().is_empty());
    match (reply.username.is_empty(), secret) {
        (false, Some(secret)) => Ok(Credentials {
            server: server.to_string(),
            username: reply.username,
            secret,
        }),
        _ => Err(unreadable("no user name or no secret".to_string())),
    }
}

/// The JSON `docker login` sends to `store`, for one copied login.
pub fn store_request(credentials: &Credentials) -> String {
    serde_json::json!({
        "ServerURL": credentials.server,
        "Username": credentials.username,
        "Secret": credentials.secret.expose(),
    })
    .to_string()
}

/// One short line from a failed child, never JSON (which may carry a secret)
/// and never containing `secret`; the exit status when there is nothing else.
pub fn excerpt(stdout: &[u8], stderr: &[u8], status: &str, secret: Option<&str>) -> String {
    let pick = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        text.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_string)
    };
    let line = pick(stdout)
        .or_else(|| pick(stderr))
        .filter(|l| !l.starts_with('{') && !l.starts_with('['))
        .filter(|l| secret.is_none_or(|s| s.is_empty() || !l.contains(s)));
    match line {
        Some(line) => {
            let mut short: String = crate::one_line(&line).chars().take(EXCERPT).collect();
            if short.len() < line.len() {
                short.push('…');
            }
            format!("{short:?} ({status})")
        }
        None => status.to_string(),
    }
}

/// The message of one of our own log lines, without its time stamp, level and target.
fn strip_log_prefix(line: &str) -> &str {
    match line.find(" docker_credential_ecr::") {
        Some(at) => line[at..]
            .split_once(": ")
            .map_or(line, |(_, message)| message),
        None => line,
    }
}

/// What a finished child printed.
struct Output {
    success: bool,
    status: String,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Copier {
    fn program(store: &str) -> String {
        format!("docker-credential-{store}")
    }

    /// The old helper's executable, or `None` when PATH has none: then docker
    /// cannot read its logins either, and there is nothing to copy.
    pub fn locate(&self, store: &str) -> Option<PathBuf> {
        find_on_path(&Copier::program(store), &self.path_var)
    }

    /// Asks the old store for its logins.
    pub fn list(&self, store: &str, exe: &Path) -> Result<Listing, MigrateError> {
        let program = Copier::program(store);
        let out = self.run(&program, exe, "list", b"")?;
        if !out.success {
            return Err(MigrateError::Failed {
                program,
                action: "list",
                detail: excerpt(&out.stdout, &out.stderr, &out.status, None),
            });
        }
        parse_list(&program, &out.stdout)
    }

    /// Reads one login from the old store.
    pub fn get(&self, store: &str, exe: &Path, server: &str) -> Result<Credentials, MigrateError> {
        let program = Copier::program(store);
        let out = self.run(&program, exe, "get", server.as_bytes())?;
        if !out.success {
            return Err(MigrateError::Failed {
                program,
                action: "get",
                detail: excerpt(&out.stdout, &out.stderr, &out.status, None),
            });
        }
        parse_get(&program, server, &out.stdout)
    }

    /// Hands one login to our own `store`, as `docker login` would; returns
    /// what it said on stderr (where a login is kept, said once), minus our
    /// name, so the user sees it too.
    pub fn store(&self, credentials: &Credentials) -> Result<Vec<String>, MigrateError> {
        let program = crate::client_config::HELPER_BINARY.to_string();
        let request = store_request(credentials);
        let out = self.run(&program, &self.ours, "store", request.as_bytes())?;
        if out.success {
            let secret = credentials.secret.expose();
            let prefix = format!("{program}: ");
            return Ok(String::from_utf8_lossy(&out.stderr)
                .lines()
                .map(|l| strip_log_prefix(l.trim().trim_start_matches(&prefix)).to_string())
                .filter(|l| !l.is_empty() && !l.contains(secret.as_str()))
                .collect());
        }
        Err(MigrateError::Failed {
            program,
            action: "store",
            detail: excerpt(
                &out.stdout,
                &out.stderr,
                &out.status,
                Some(credentials.secret.expose()),
            ),
        })
    }

    /// Runs `exe action` with `input` on stdin, bounded by the timeout; on
    /// expiry the child and everything it started are killed.
    fn run(
        &self,
        program: &str,
        exe: &Path,
        action: &'static str,
        input: &[u8],
    ) -> Result<Output, MigrateError> {
        let mut command = Command::new(exe);
        command
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Its own process group, so a timeout kills what it started too (gpg, a
        // `sleep` in a script); and in the background, so a prompt on the
        // terminal stops it instead of stealing the user's keystrokes.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().map_err(|e| MigrateError::Spawn {
            program: program.to_string(),
            reason: e.to_string(),
        })?;
        let deadline = Instant::now() + self.timeout;
        let (tx, rx) = mpsc::channel::<(bool, Vec<u8>)>();
        if let Some(mut stdin) = child.stdin.take() {
            let input = input.to_vec();
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        for (is_stdout, pipe) in [
            (
                true,
                child
                    .stdout
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
            ),
            (
                false,
                child
                    .stderr
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
            ),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(pipe) = pipe {
                    let _ = pipe.take(OUTPUT_LIMIT).read_to_end(&mut bytes);
                }
                let _ = tx.send((is_stdout, bytes));
            });
        }
        drop(tx);
        let timed_out = || MigrateError::TimedOut {
            program: program.to_string(),
            action,
            timeout: self.timeout,
        };
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => {
                    kill(&mut child);
                    return Err(timed_out());
                }
            }
        };
        // The pipes close when every process holding them is gone; one left
        // behind in the background is stopped with the group.
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        for _ in 0..2 {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((true, bytes)) => stdout = bytes,
                Ok((false, bytes)) => stderr = bytes,
                Err(_) => {
                    kill(&mut child);
                    return Err(timed_out());
                }
            }
        }
        let status_text = match status.code() {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".to_string(),
        };
        Ok(Output {
            success: status.success(),
            status: status_text,
            stdout,
            stderr,
        })
    }
}

/// Kills the child's process group (the child itself where there are none) and reaps it.
fn kill(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        use rustix::process::{Pid, Signal, kill_process_group};
        let _ = kill_process_group(Pid::from_child(child), Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_keeps_server_names_and_sets_ecr_aside() {
        let listing = parse_list(
            "docker-credential-desktop",
            br#"{"https://index.docker.io/v1/":"alice","ghcr.io":"bob","host:5000":"c","123456789012.dkr.ecr.us-east-1.amazonaws.com":"AWS"}"#,
        )
        .unwrap();
        let servers: Vec<&str> = listing.copy.iter().map(|l| l.server.as_str()).collect();
        assert_eq!(
            servers,
            ["ghcr.io", "host:5000", "https://index.docker.io/v1/"]
        );
        assert_eq!(listing.copy[0].username, "bob");
        assert_eq!(
            listing.skipped,
            ["123456789012.dkr.ecr.us-east-1.amazonaws.com"]
        );
        assert_eq!(parse_list("p", b"\n").unwrap(), Listing::default());
        let e = parse_list("p", b"[\"ghcr.io\"]").unwrap_err().to_string();
        assert!(e.contains("p list answered something unreadable"), "{e}");
    }

    #[test]
    fn get_reply_errors_never_show_the_secret() {
        let ok = parse_get(
            "p",
            "ghcr.io",
            b"{\"ServerURL\":\"x\",\"Username\":\"<token>\",\"Secret\":\"s3cr3t\"}\n",
        )
        .unwrap();
        assert_eq!(
            (ok.server.as_str(), ok.username.as_str()),
            ("ghcr.io", "<token>")
        );
        assert_eq!(ok.secret.expose(), "s3cr3t");
        let request: serde_json::Value = serde_json::from_str(&store_request(&ok)).unwrap();
        assert_eq!(request["ServerURL"], "ghcr.io");
        assert_eq!(request["Secret"], "s3cr3t");
        for bad in [
            &b"{\"Username\":\"u\",\"Secret\":\"s3cr3t\""[..],
            b"{\"Username\":\"\",\"Secret\":\"s3cr3t\"}",
            b"{\"Username\":\"u\",\"Secret\":\"\"}",
            b"{\"Username\":\"u\",\"Secret\":7}",
        ] {
            let e = parse_get("p", "h", bad).err().unwrap().to_string();
            assert!(!e.contains("s3cr3t"), "{e}");
        }
    }

    #[test]
    fn our_log_lines_are_relayed_as_their_message() {
        assert_eq!(
            strip_log_prefix(
                "2026-11-23T22:10:59.923693Z  WARN docker_credential_ecr::logins: kept in files: a"
            ),
            "kept in files: a"
        );
        assert_eq!(strip_log_prefix("plain: line"), "plain: line");
    }

    #[test]
    fn excerpts_are_one_short_line_without_secrets() {
        assert_eq!(
            excerpt(
                b"credentials not found in native keychain\n",
                b"",
                "exit status 1",
                None
            ),
            "\"credentials not found in native keychain\" (exit status 1)"
        );
        assert_eq!(
            excerpt(b"", b"\n  boom\nmore\n", "exit status 2", None),
            "\"boom\" (exit status 2)"
        );
        assert_eq!(
            excerpt(b"{\"Secret\":\"x\"}", b"", "exit status 1", None),
            "exit status 1"
        );
        assert_eq!(
            excerpt(b"rejected s3cr3t", b"", "exit status 1", Some("s3cr3t")),
            "exit status 1"
        );
        let long = "x".repeat(500);
        assert!(excerpt(long.as_bytes(), b"", "s", None).chars().count() < 200);
    }

    #[cfg(unix)]
    #[test]
    fn a_wedged_helper_and_what_it_started_are_killed() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("docker-credential-wedged");
        std::fs::write(&exe, "#!/bin/sh\nsleep 600 &\nsleep 600\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let copier = Copier {
            path_var: dir.path().as_os_str().to_os_string(),
            ours: exe.clone(),
            timeout: Duration::from_millis(300),
        };
        let found = copier.locate("wedged").unwrap();
        let e = copier.list("wedged", &found).unwrap_err();
        assert!(
            matches!(e, MigrateError::TimedOut { action: "list", .. }),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains("docker-credential-wedged list did not answer")
        );
    }
}
