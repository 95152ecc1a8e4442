//! Command-line wiring: argument parsing, stdin/stdout/stderr, exit codes.
//!
//! Everything a client can see of us passes through here, so the rules are
//! strict: stdout carries only the protocol's answer; every diagnostic is one
//! line on stderr prefixed with our name; exit status is 0 or 1 as
//! docker-credential-helpers defines it. `--help`/`--version` return before
//! any config is read.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

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
/// or, for every registry (other registries' logins are kept too):
///   "credsStore": "ecr"
/// (`docker-credential-ecr configure` writes either.)
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
    /// Ask for the MFA code of a role profile with `mfa_serial` and cache the
    /// role session where `get` and the AWS CLI find it (~/.aws/cli/cache).
    ///
    /// Needs a terminal. `get` never prompts: it uses that session while it is
    /// valid and otherwise says to run this.
    Login {
        /// The profile [default: $AWS_PROFILE or default].
        #[arg(long, value_name = "PROFILE")]
        profile: Option<String>,
    },
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
        socket: Option<PathBuf>,
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
    /// Route ECR registries (or, with --store, every registry) to this helper in docker's
    /// config, and podman's with --podman.
    ///
    /// Keeps every other setting, the file's mode and layout; writes atomically
    /// and keeps the previous version as <file>.bak. `--remove` undoes exactly
    /// what was added (with --store, only credsStore and the podman drop-in).
    Configure(ConfigureArgs),
    /// Check each step from `docker pull` to a token; say what is broken and how to fix it.
    ///
    /// Exits 0 when nothing failed.
    Doctor {
        /// The registry to check [default: every registry docker's config routes here].
        host: Option<String>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write the man pages (one per command, roff) into DIR, for packagers.
    #[command(hide = true)]
    Manpage {
        /// Where to write docker-credential-ecr.1 and docker-credential-ecr-<command>.1.
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
    },
}

/// `configure`'s options.
#[derive(Debug, clap::Args)]
struct ConfigureArgs {
    /// An ECR registry host, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com (repeatable).
    #[arg(long = "registry", value_name = "HOST")]
    registries: Vec<String>,
    /// Your account's registry in REGION; one STS call finds the account (repeatable).
    #[arg(long = "region", value_name = "REGION")]
    regions: Vec<String>,
    /// ECR Public (public.ecr.aws).
    #[arg(long)]
    public: bool,
    /// Every registry: set docker's "credsStore" to "ecr" (ECR hosts are minted, other
    /// `docker login`s are stored by this helper). The logins of the credsStore it replaces
    /// are copied first; credHelpers entries keep precedence.
    #[arg(long)]
    store: bool,
    /// Also configure podman, buildah and skopeo: credHelpers in containers' auth.json, and with
    /// --store a drop-in ~/.config/containers/registries.conf.d/50-docker-credential-ecr.conf
    /// adding "ecr" to credential-helpers.
    #[arg(long)]
    podman: bool,
    /// The docker config file [default: $DOCKER_CONFIG/config.json or ~/.docker/config.json].
    #[arg(long, value_name = "FILE")]
    docker_config: Option<PathBuf>,
    /// The containers auth file for --podman [default: $REGISTRY_AUTH_FILE or ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json].
    #[arg(long, value_name = "FILE", requires = "podman")]
    auth_file: Option<PathBuf>,
    /// Undo what configure added (only for the registries given, if any).
    #[arg(long)]
    remove: bool,
    /// Print the change as a diff and write nothing.
    #[arg(long)]
    dry_run: bool,
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
    // The Go helper answers `-v` with a banner; scripts written for it check that.
    if args.len() == 2 && args[1] == "-v" {
        return emit(&program, &Answer::ok(version_banner(&program)));
    }
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
    // `erase` reaches a running daemon too: docker logout must not leave a copy there.
    let daemon = if is_get || is_kubelet || matches!(cli.action, Action::Erase) {
        daemon_client()
    } else {
        None
    };
    let env = |k: &str| std::env::var(k).ok();
    let open_logins = || (!crate::logins::ignored(env)).then(|| crate::logins::Logins::open(env));
    let helper = Helper {
        logins: &open_logins,
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
        // Never send a caller's environment into, or start a daemon in, a
        // directory that is not privately ours (a shared /tmp, a user's
        // runtime directory under `sudo -E`): answer directly instead.
        if let Err(e) = crate::safe_fs::usable_dir(socket.parent()?) {
            tracing::warn!("not using the daemon: {e}");
            return None;
        }
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
        Action::Fetch => {
            // The daemon's child holds a caller's credentials: never in a core file.
            #[cfg(unix)]
            crate::daemon::no_core_dumps();
            with_stdin(|input| helper.fetch(input))
        }
        Action::Daemon {
            action,
            idle_timeout,
            socket,
            spawn,
            detached,
        } => daemon_command(action, idle_timeout, socket, spawn, detached),
        Action::Configure(args) => configure(helper, args),
        Action::Login { profile } => login(helper, profile),
        Action::Doctor { host, json } => doctor(helper, host, json),
        Action::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), program, &mut out);
            Answer::ok(String::from_utf8_lossy(&out).into_owned())
        }
        Action::Manpage { out_dir } => {
            match std::fs::create_dir_all(&out_dir)
                .and_then(|()| clap_mangen::generate_to(Cli::command(), &out_dir))
            {
                Ok(()) => Answer::ok(""),
                Err(e) => Answer::failed(format!(
                    "cannot write the man pages to {}: {e}",
                    out_dir.display()
                )),
            }
        }
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
fn configure(helper: &Helper, args: ConfigureArgs) -> Answer {
    use crate::client_config::{self, ContainersAuth};
    if args.registries.is_empty()
        && args.regions.is_empty()
        && !args.public
        && !args.store
        && !args.remove
    {
        return Answer::failed(
            "name the registries: --registry HOST, --region REGION or --public, or --store for \
             every registry"
                .to_string(),
        );
    }
    let account = |region: &str| {
        let options = helper.plain_options()?;
        crate::token::aws::caller_identity(region, &options)
            .map(|identity| identity.account)
            .map_err(|e| e.to_string())
    };
    let hosts = match crate::configure::resolve_hosts(
        &args.registries,
        &args.regions,
        args.public,
        &account,
    ) {
        Ok(hosts) => hosts,
        Err(e) => return Answer::failed(e),
    };
    let Some(docker) = args.docker_config.or_else(client_config::default_path) else {
        return Answer::failed("cannot find docker's config: set DOCKER_CONFIG or HOME".into());
    };
    let containers_auth = ContainersAuth::from_env(|k| std::env::var(k).ok(), dirs::home_dir());
    // `--store` alone needs no credHelpers in the containers auth file.
    let auth_entries = !hosts.is_empty() || (args.remove && !args.store);
    let containers = match (args.podman && auth_entries, args.auth_file) {
        (false, _) => None,
        (true, Some(file)) => Some(file),
        (true, None) => match containers_auth
            .override_file
            .clone()
            .or_else(|| containers_auth.config.clone())
        {
            Some(file) => Some(file),
            None => {
                return Answer::failed(
                    "cannot find the containers auth file: set XDG_CONFIG_HOME or HOME, or pass \
                     --auth-file"
                        .into(),
                );
            }
        },
    };
    // The drop-in, for --store, or for --remove taking back everything.
    let registries = if args.podman && (args.store || (args.remove && hosts.is_empty())) {
        let env = |k: &str| std::env::var(k).ok();
        match crate::client_config::registries_conf::Locations::from_env(env, dirs::home_dir()) {
            Some(locations) => Some(locations),
            None => {
                return Answer::failed(
                    "cannot find the containers tools' registries.conf.d: set HOME".into(),
                );
            }
        }
    } else {
        None
    };
    // Copying the replaced store's logins runs helpers: each is bounded like a fetch.
    let copier = match std::env::current_exe() {
        Ok(ours) => {
            let config = (helper.config)().unwrap_or_default();
            let timeout = match (helper.limits)(&config) {
                Ok(limits) => limits.timeout,
                Err(e) => return Answer::failed(e.to_string()),
            };
            Some(crate::configure::migrate::Copier {
                path_var: std::env::var_os("PATH").unwrap_or_default(),
                ours,
                timeout,
            })
        }
        Err(e) if args.store && !args.remove => {
            return Answer::failed(format!(
                "cannot find this program to copy logins into it: {e}; nothing was written"
            ));
        }
        Err(_) => None,
    };
    crate::configure::run(&crate::configure::Request {
        hosts,
        docker,
        containers,
        containers_auth,
        remove: args.remove,
        dry_run: args.dry_run,
        path_var: std::env::var_os("PATH").unwrap_or_default(),
        record: crate::configure::default_record_path(),
        store: args.store,
        copier,
        storage_ignored: crate::logins::ignored(|k| std::env::var(k).ok()),
        registries,
    })
}

/// `login`: the one place we talk to a terminal. The prompt and the code
/// use the terminal (stderr and stdin), never stdout; without a terminal we
/// refuse rather than wait for input that will never come.
fn login(helper: &Helper, profile: Option<String>) -> Answer {
    use crate::token::aws;
    use std::io::{BufRead, IsTerminal};
    let shown = profile
        .clone()
        .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()))
        .unwrap_or_else(|| "default".to_string());
    let target = match aws::mfa_profile(profile.as_deref()) {
        Ok(Some(target)) => target,
        Ok(None) => {
            return Answer::failed(format!(
                "profile {shown} assumes no role with mfa_serial: it needs no MFA code"
            ));
        }
        Err(e) => return Answer::failed(e.to_string()),
    };
    let serial = &target.chain.mfa_serial;
    if !io::stdin().is_terminal() || !io::stderr().is_terminal() {
        return Answer::failed(format!(
            "login needs a terminal to ask for the MFA code of {serial}; run it in one \
             (or run any aws command with --profile {shown})"
        ));
    }
    let timeout = match helper.plain_options() {
        Ok(options) => options.timeout,
        Err(e) => return Answer::failed(e),
    };
    // One write: a terminal (or a program driving one) sees the whole prompt at once.
    let prompt = format!("MFA code for {serial}: ");
    let mut err = io::stderr().lock();
    let _ = err.write_all(prompt.as_bytes()).and_then(|()| err.flush());
    drop(err);
    let mut line = String::new();
    if let Err(e) = io::stdin().lock().take(256).read_line(&mut line) {
        return Answer::failed(format!("cannot read the MFA code: {e}"));
    }
    let code = line.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Answer::failed("an MFA code is 6 digits; nothing was sent to AWS".to_string());
    }
    match aws::mfa_login(&target, code, timeout) {
        Ok(until) => Answer::ok(format!(
            "profile {shown}: MFA session for {} cached in {}, valid until {}\n",
            target.chain.mfa.role_arn,
            target.cache_file.display(),
            crate::helper::iso8601(until)
        )),
        Err(e) => Answer::failed(format!("login failed: {e}")),
    }
}

/// `doctor`: a human command; the report is on stdout, the exit status says whether all is well.
fn doctor(helper: &Helper, host: Option<String>, json: bool) -> Answer {
    use crate::client_config::{self, ContainersAuth};
    let host = match host {
        None => None,
        Some(given) => match protocol::canonical_host(&given) {
            Some(host) => Some(host),
            None => return Answer::failed(format!("{given:?} is not a registry host name")),
        },
    };
    let Some(docker) = client_config::default_path() else {
        return Answer::failed("cannot find docker's config: set DOCKER_CONFIG or HOME".into());
    };
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let context = crate::doctor::Context {
        host,
        path_var: std::env::var_os("PATH").unwrap_or_default(),
        current_exe: std::env::current_exe().ok(),
        docker,
        containers: ContainersAuth::from_env(env, dirs::home_dir()),
        registries: crate::client_config::registries_conf::Locations::from_env(
            env,
            dirs::home_dir(),
        ),
        default_region: env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_string()),
    };
    crate::doctor::run(helper, &context, json)
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

/// The Go helper's `-v` layout: name, `Version:`, `Git commit:`.
fn version_banner(program: &str) -> String {
    format!(
        "{program}\nVersion:    {}\nGit commit: {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("DOCKER_CREDENTIAL_ECR_GIT_COMMIT")
    )
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
