//! Command-line wiring: argument parsing, stdin/stdout/stderr, exit codes.
//!
//! Everything a client can see of us passes through here, so the rules are
//! strict: stdout carries only the protocol's answer; every diagnostic is one
//! line on stderr prefixed with our name; exit status is 0 or 1 as
//! docker-credential-helpers defines it. `--help`/`--version` return before
//! any config is read.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cache::key::Inputs;
use crate::cache::{self, Choice};
use crate::config::Config;
use crate::helper::{Answer, Helper};
use crate::protocol;
use crate::settings::Limits;
use crate::token::aws::AwsTokenSource;

/// Clients send a host name or a small JSON object; anything larger is not a request.
const MAX_STDIN: u64 = 1 << 20;

/// Docker credential helper for Amazon ECR: use ECR from docker, podman, buildah,
/// skopeo and BuildKit without `docker login`.
///
/// Add to ~/.docker/config.json:
///   "credHelpers": { "<account>.dkr.ecr.<region>.amazonaws.com": "ecr" }
///
/// Credentials come from the standard AWS chain (environment, profiles, SSO,
/// assume-role, web identity, container and instance roles).
#[derive(Debug, Parser)]
#[command(
    name = "docker-credential-ecr",
    version,
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Print credentials for the registry named on stdin (called by docker, podman, …).
    Get,
    /// Accept credentials from `docker login`; ECR tokens are minted on demand instead.
    Store,
    /// Forget credentials for the registry named on stdin (called by `docker logout`).
    Erase,
    /// Print the registries this helper holds credentials for, as a JSON object.
    List,
    /// Answer kubelet's image credential provider request on stdin (set `args: ["kubelet"]`
    /// in kubelet's CredentialProviderConfig).
    Kubelet,
    /// Print the helper's name and version.
    Version,
    /// Show the cached tokens: registry, identity, backend, minted and expiry times.
    Status {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Run the token daemon in the foreground (for systemd or launchd), or manage a running one.
    ///
    /// `get` starts one in the background by itself when none is running
    /// (DOCKER_CREDENTIAL_ECR_DAEMON=off disables that).
    Daemon {
        #[command(subcommand)]
        action: Option<DaemonAction>,
        /// Exit after this many seconds without requests; 0 = never [default: $DOCKER_CREDENTIAL_ECR_DAEMON_IDLE or 3600].
        #[arg(long, value_name = "SECS", global = true)]
        idle_timeout: Option<u64>,
        /// The socket [default: $DOCKER_CREDENTIAL_ECR_SOCKET or $XDG_RUNTIME_DIR/docker-credential-ecr/daemon.sock].
        #[arg(long, value_name = "PATH", global = true)]
        socket: Option<std::path::PathBuf>,
        /// Internal: launch a detached daemon and return.
        #[arg(long, hide = true)]
        spawn: bool,
        /// Internal: this is the detached daemon.
        #[arg(long, hide = true)]
        detached: bool,
    },
    /// Internal: mint a token as the caller whose environment we run in (used by the daemon).
    #[command(hide = true)]
    Fetch,
    /// Add `credHelpers` entries for ECR registries to docker's config.json.
    Configure {
        /// An ECR registry host, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com (repeatable).
        #[arg(long = "registry", value_name = "HOST", required = true)]
        registries: Vec<String>,
        /// The docker config file to edit [default: $DOCKER_CONFIG/config.json or ~/.docker/config.json].
        #[arg(long, value_name = "FILE")]
        docker_config: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum DaemonAction {
    /// Start a daemon in the background unless one is running.
    Start,
    /// Ask the running daemon to exit.
    Stop,
    /// Show the running daemon's tokens and counters.
    Status {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// Parses arguments, runs one action and maps the result to an exit status.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let program = program_name(&args);
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return argument_error(&program, &args, e),
    };
    // The daemon's log is its record of refusals and refresh failures: info by default.
    let serving = matches!(cli.action, Action::Daemon { action: None, .. });
    crate::logging::init(if serving {
        tracing::Level::INFO
    } else {
        tracing::Level::WARN
    });
    // Panics are caught and reported as one line (see `run_guarded`), never as
    // the default multi-line message and backtrace a client would show.
    std::panic::set_hook(Box::new(|_| {}));

    let source = AwsTokenSource;
    let inputs = Inputs::process();
    let open_cache = || match Choice::from_env(|k| std::env::var(k).ok()) {
        Ok(choice) => cache::open(choice),
        Err(e) => {
            tracing::warn!("{e}; continuing without a token cache");
            None
        }
    };
    let is_get = matches!(cli.action, Action::Get);
    let is_kubelet = matches!(cli.action, Action::Kubelet);
    let daemon = if is_get || is_kubelet {
        daemon_client()
    } else {
        None
    };
    let helper = Helper {
        source: &source,
        config: &Config::load,
        limits: &Limits::from_env,
        cache: &open_cache,
        inputs: &inputs,
        daemon: daemon.as_deref(),
    };
    let action = cli.action;
    let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_action(&helper, &program, action)
    }))
    .unwrap_or_else(|payload| {
        let message = crate::panic_message(payload.as_ref());
        let line = format!("internal error: {message}; please report this as a bug");
        Answer {
            // `get` must still give clients the answer they know how to handle.
            stdout: if is_get {
                format!("{}\n", protocol::NOT_FOUND)
            } else if is_kubelet {
                String::new() // kubelet reads only a response from stdout
            } else {
                format!("{line}\n")
            },
            stderr: vec![line],
            success: false,
        }
    });
    let code = emit(&program, &answer);
    if let Some(daemon) = &daemon {
        daemon.after_answer();
    }
    code
}

/// The daemon client for `get`, unless the daemon is off or unsupported here.
fn daemon_client() -> Option<Box<dyn crate::daemon::TokenDaemon>> {
    #[cfg(unix)]
    {
        use crate::daemon::{self, Mode};
        let env = |k: &str| std::env::var(k).ok();
        let mode = match Mode::from_env(env) {
            Ok(Mode::Off) => return None,
            Ok(mode) => mode,
            Err(e) => {
                tracing::warn!("{e}; not using the daemon");
                return None;
            }
        };
        let socket = daemon::socket_path(env)?;
        Some(Box::new(daemon::client::Client::new(socket, mode)))
    }
    #[cfg(not(unix))]
    None
}

fn run_action(helper: &Helper, program: &str, action: Action) -> Answer {
    match action {
        Action::Get => with_stdin(|input| helper.get(input)),
        Action::Kubelet => with_stdin(|input| helper.kubelet(input)),
        Action::Store => with_stdin(|input| helper.store(input)),
        Action::Erase => with_stdin(|input| helper.erase(input)),
        Action::List => helper.list(),
        Action::Status { json } => helper.status(json),
        Action::Fetch => with_stdin(|input| helper.fetch(input)),
        Action::Daemon {
            action,
            idle_timeout,
            socket,
            spawn,
            detached,
        } => daemon_command(action, idle_timeout, socket, spawn, detached),
        Action::Configure {
            registries,
            docker_config,
        } => configure(&registries, docker_config),
        Action::Version => Answer::ok(format!(
            "{} ({}) {}\n",
            program,
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION")
        )),
    }
}

/// `daemon …`: human commands, reports on stdout.
fn daemon_command(
    action: Option<DaemonAction>,
    idle_timeout: Option<u64>,
    socket: Option<std::path::PathBuf>,
    spawn: bool,
    detached: bool,
) -> Answer {
    #[cfg(unix)]
    {
        use crate::daemon::commands::{Command, run};
        let command = match action {
            _ if spawn => Command::Launch,
            None => Command::Run { detached },
            Some(DaemonAction::Start) => Command::Start,
            Some(DaemonAction::Stop) => Command::Stop,
            Some(DaemonAction::Status { json }) => Command::Status { json },
        };
        run(command, idle_timeout, socket)
    }
    #[cfg(not(unix))]
    {
        let _ = (action, idle_timeout, socket, spawn, detached);
        Answer::failed(
            "the daemon needs Unix domain sockets and is not available on this platform; `get` works without it".into(),
        )
    }
}

/// `configure`: a human command, so its report goes to stdout like any CLI's.
fn configure(registries: &[String], path: Option<std::path::PathBuf>) -> Answer {
    let failed = Answer::failed;
    let mut hosts = Vec::new();
    for registry in registries {
        match crate::protocol::canonical_host(registry)
            .filter(|h| crate::registry::parse_host(h).is_some())
        {
            Some(host) => hosts.push(host),
            None => {
                return failed(format!(
                    "{registry:?} is not an ECR registry host (<account>.dkr.ecr.<region>.amazonaws.com \
                     or public.ecr.aws); nothing was written"
                ));
            }
        }
    }
    let Some(path) = path.or_else(crate::docker_config::default_path) else {
        return failed("cannot find docker's config: set DOCKER_CONFIG or HOME".into());
    };
    match crate::docker_config::add_cred_helpers(&path, &hosts) {
        Ok(changed) => Answer::ok(format!(
            "{} {}: credHelpers for {} -> docker-credential-ecr\n",
            if changed {
                "updated"
            } else {
                "already configured"
            },
            path.display(),
            hosts.join(", ")
        )),
        Err(e) => failed(e.to_string()),
    }
}

fn with_stdin(action: impl FnOnce(&[u8]) -> Answer) -> Answer {
    let mut input = Vec::new();
    match io::stdin().lock().take(MAX_STDIN).read_to_end(&mut input) {
        Ok(_) => action(&input),
        Err(e) => Answer::error(format!("cannot read stdin: {e}")),
    }
}

/// Writes an answer; a closed stdout (the client went away) is not worth a panic.
fn emit(program: &str, answer: &Answer) -> ExitCode {
    let mut err = io::stderr().lock();
    for line in &answer.stderr {
        let _ = writeln!(err, "{program}: {line}");
    }
    let mut out = io::stdout().lock();
    let written = out
        .write_all(answer.stdout.as_bytes())
        .and_then(|_| out.flush());
    if answer.success && written.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Help and version succeed; anything else gets docker-credential-helpers' usage line on stdout.
fn argument_error(program: &str, args: &[OsString], e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = write!(io::stdout().lock(), "{e}");
            ExitCode::SUCCESS
        }
        ErrorKind::InvalidSubcommand => {
            let action = args.get(1).map(|a| a.to_string_lossy()).unwrap_or_default();
            emit(
                program,
                &Answer {
                    stdout: format!("{program}: unknown action: {action}\n"),
                    stderr: vec![format!("unknown action {action:?}; see `{program} --help`")],
                    success: false,
                },
            )
        }
        _ => {
            let detail = match e.kind() {
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                | ErrorKind::MissingSubcommand => {
                    "expected one action: store, get, erase, list or version".to_string()
                }
                kind => kind.as_str().unwrap_or("invalid arguments").to_string(),
            };
            emit(
                program,
                &Answer {
                    stdout: format!("{}\n", protocol::usage(program)),
                    stderr: vec![format!("{detail}; see `{program} --help`")],
                    success: false,
                },
            )
        }
    }
}

fn program_name(args: &[OsString]) -> String {
    args.first()
        .and_then(|a| Path::new(a).file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| s.starts_with("docker-credential-"))
        .unwrap_or_else(|| env!("CARGO_PKG_NAME").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn program_name_follows_argv0_only_for_helper_names() {
        let n = |s: &str| program_name(&[OsString::from(s)]);
        assert_eq!(n("/usr/bin/docker-credential-ecr"), "docker-credential-ecr");
        assert_eq!(
            n("docker-credential-ecr-login"),
            "docker-credential-ecr-login"
        );
        assert_eq!(n("target/debug/deps/cli-1234"), "docker-credential-ecr");
    }
}
