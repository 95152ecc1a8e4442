//! `docker-credential-ecr daemon [start|stop|status]`: the human side of the daemon.
//!
//! These are commands a person types, so reports go to stdout as for any
//! CLI; only `get` is bound by the credential-helper protocol.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::client::{self, Client};
use super::server::{self, DaemonError, Options};
use super::{Mode, idle_from_env, socket_path};
use crate::helper::{Answer, iso8601};

/// What `daemon` was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Serve in the foreground (`detached`: autostart's daemon, leaving the starter's session).
    Run {
        /// Started by a launcher rather than by a person or service manager.
        detached: bool,
    },
    /// Autostart's launcher: start a detached daemon and return at once.
    Launch,
    /// Start a background daemon.
    Start,
    /// Stop the running daemon.
    Stop,
    /// Report on the running daemon (`json` for scripts).
    Status {
        /// Print JSON.
        json: bool,
    },
}

/// Runs a `daemon` command.
pub fn run(command: Command, idle_timeout: Option<u64>, socket: Option<PathBuf>) -> Answer {
    let env = |k: &str| std::env::var(k).ok();
    let Some(socket) = socket.or_else(|| socket_path(env)) else {
        return Answer::failed(
            "cannot place the daemon's socket: set DOCKER_CREDENTIAL_ECR_SOCKET or XDG_RUNTIME_DIR"
                .into(),
        );
    };
    match command {
        Command::Run { detached } => serve(socket, idle_timeout, detached),
        Command::Launch => match client::spawn_detached(&socket, idle_timeout) {
            Ok(()) => Answer::ok(""),
            Err(e) => Answer::failed(e),
        },
        Command::Start => match client::start(&socket, idle_timeout) {
            Ok(true) => Answer::ok(format!("daemon started on {}\n", socket.display())),
            Ok(false) => Answer::ok(format!("daemon already running on {}\n", socket.display())),
            Err(e) => Answer::failed(format!("cannot start the daemon: {e}")),
        },
        Command::Stop => stop(&Client::new(socket, Mode::Auto)),
        Command::Status { json } => status(&Client::new(socket, Mode::Auto), json),
    }
}

fn serve(socket: PathBuf, idle_timeout: Option<u64>, detached: bool) -> Answer {
    let idle = match idle_timeout {
        Some(0) => None,
        Some(secs) => Some(Duration::from_secs(secs)),
        None => match idle_from_env(|k| std::env::var(k).ok()) {
            Ok(idle) => idle,
            Err(e) => return Answer::failed(e),
        },
    };
    if detached {
        // Leave the starter's session: no controlling terminal, no SIGHUP.
        let _ = rustix::process::setsid();
    }
    // The socket path must survive the move to `/`.
    let socket = std::path::absolute(&socket).unwrap_or(socket);
    super::detach(server::activated_fds());
    match server::run(Options { socket, idle }) {
        Ok(()) => Answer::ok(""),
        // A racing starter got there first: nothing to do.
        Err(DaemonError::AlreadyRunning(_)) if detached => Answer::ok(""),
        Err(e) => Answer::failed(e.to_string()),
    }
}

fn stop(client: &Client) -> Answer {
    let before = client.status().ok().flatten().map(|s| s.pid);
    match client.stop() {
        Ok(false) => Answer::ok(format!(
            "daemon: not running ({})\n",
            client.socket().display()
        )),
        Ok(true) => {
            // Wait (briefly) until it has let go of the socket.
            let deadline = Instant::now() + Duration::from_secs(5);
            while client.connect().is_ok() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let pid = before.map(|p| format!(" (pid {p})")).unwrap_or_default();
            Answer::ok(format!("daemon stopped{pid}\n"))
        }
        Err(e) => Answer::failed(format!("cannot stop the daemon: {e}")),
    }
}

fn status(client: &Client, json: bool) -> Answer {
    let socket = client.socket().display().to_string();
    let status = match client.status() {
        Ok(status) => status,
        Err(e) => return Answer::failed(format!("daemon at {socket}: {e}")),
    };
    let Some(s) = status else {
        let stdout = if json {
            format!(
                "{}\n",
                serde_json::json!({ "running": false, "socket": socket })
            )
        } else {
            format!("daemon: not running ({socket})\n")
        };
        return Answer {
            stdout,
            stderr: Vec::new(),
            success: false,
        };
    };
    if json {
        let mut doc = serde_json::to_value(&s).unwrap_or_default();
        if let serde_json::Value::Object(map) = &mut doc {
            map.insert("running".into(), true.into());
        }
        return Answer::ok(format!("{doc}\n"));
    }
    let idle = match s.idle_timeout_secs {
        0 => "never".to_string(),
        secs => format!("after {secs}s without requests"),
    };
    let mut out = format!(
        "daemon: running, pid {}, up {}s, socket {}\n\
         exits: {idle}\n\
         requests: {} answered from memory, {} needed a fetch\n\
         AWS calls: {}, background refreshes: {}, errors: {}, refused connections: {}\n",
        s.pid,
        s.uptime_secs,
        s.socket,
        s.hits,
        s.misses,
        s.api_calls,
        s.refreshes,
        s.errors,
        s.refused
    );
    if s.entries.is_empty() {
        out.push_str("no tokens held\n");
    }
    for e in &s.entries {
        out.push_str(&format!(
            "{}\n  identity: {}\n  minted:   {}\n  expires:  {}\n  refresh:  {}\n",
            e.registry,
            e.identity,
            iso8601(e.minted),
            iso8601(e.expires),
            iso8601(e.refresh_at)
        ));
    }
    Answer::ok(out)
}
