//! The daemon process: a single-threaded tokio server on a private Unix socket.
//!
//! One task per connection; per cache key, an async mutex makes concurrent
//! misses share one fetch; per held token, a task refreshes it early (40–45%
//! of its life, before any `get` would consider it due) while it is being
//! used. Fetches run this binary's hidden `fetch` action as a child with the
//! caller's environment, bounded by the caller's timeout, so the daemon
//! holds no AWS identity of its own and a stuck credential provider cannot
//! wedge it. Failed refreshes back off with jitter and keep the token they
//! were meant to replace until it stops being usable.
//!
//! Start-up takes `daemon.lock` before touching the socket, so a stale
//! socket file is only ever removed by the one process allowed to serve it.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{debug, info, warn};

use super::client::DAEMON_LOCK;
use super::wire::{
    self, DaemonStatus, FetchReply, FetchRequest, GetRequest, Request, Response, StatusEntry,
    WIRE_VERSION,
};
use super::{MODE_ENV, secure_dir};
use crate::cache::entry::{epoch, safety_margin, usable};
use crate::cache::key::{self, Inputs, Resolved};
use crate::config::Config;
use crate::safe_fs::open_lock_file;
use crate::secret::Secret;

/// How long a connected client has to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Beyond the caller's own timeout, how long a `fetch` child may run before it is killed.
const CHILD_SLACK: Duration = Duration::from_secs(3);

/// Entries nobody asked for in this long, and holding no usable token, are dropped.
const FORGET_AFTER: Duration = Duration::from_secs(600);

/// Where and how long to serve.
#[derive(Debug, Clone)]
pub struct Options {
    /// The socket path.
    pub socket: PathBuf,
    /// Exit after this long without requests; `None` = never.
    pub idle: Option<Duration>,
}

/// Why the daemon did not run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Another daemon holds the lock for this socket.
    #[error("a daemon is already running for {0}")]
    AlreadyRunning(PathBuf),
    /// The socket, its directory or the runtime could not be set up.
    #[error("{0}")]
    Setup(String),
}

/// Runs the daemon until it is stopped, idles out, or gets SIGTERM/SIGINT.
pub fn run(options: Options) -> Result<(), DaemonError> {
    let setup = DaemonError::Setup;
    let dir = options
        .socket
        .parent()
        .ok_or_else(|| setup(format!("{} has no directory", options.socket.display())))?;
    secure_dir(dir).map_err(setup)?;
    let lock_path = dir.join(DAEMON_LOCK);
    let lock =
        open_lock_file(&lock_path).map_err(|e| setup(format!("{}: {e}", lock_path.display())))?;
    if lock.try_lock().is_err() {
        return Err(DaemonError::AlreadyRunning(options.socket.clone()));
    }
    let exe =
        std::env::current_exe().map_err(|e| setup(format!("cannot find our own binary: {e}")))?;
    let (listener, activated) = match activated_listener() {
        Some(listener) => (listener, true),
        None => (bind(&options.socket).map_err(setup)?, false),
    };
    listener
        .set_nonblocking(true)
        .map_err(|e| setup(format!("socket: {e}")))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| setup(format!("cannot start the async runtime: {e}")))?;
    let daemon = Arc::new(Daemon::new(exe, options.clone()));
    info!(
        pid = std::process::id(),
        socket = %options.socket.display(),
        activated,
        idle = ?options.idle,
        "daemon listening"
    );
    let result = runtime.block_on(serve(daemon, listener));
    drop(runtime);
    if !activated {
        // Still holding the lock: no other daemon can have bound this path.
        let _ = std::fs::remove_file(&options.socket);
    }
    info!("daemon stopped");
    drop(lock);
    result.map_err(setup)
}

/// Binds the socket 0600, replacing a stale one (the caller holds the daemon lock).
fn bind(socket: &Path) -> Result<std::os::unix::net::UnixListener, String> {
    match std::fs::symlink_metadata(socket) {
        Ok(meta) if meta.file_type().is_socket() => {
            debug!("removing stale socket {}", socket.display());
            std::fs::remove_file(socket).map_err(|e| format!("{}: {e}", socket.display()))?;
        }
        Ok(_) => {
            return Err(format!(
                "{} exists and is not a socket; refusing to replace it",
                socket.display()
            ));
        }
        Err(_) => {}
    }
    let listener = std::os::unix::net::UnixListener::bind(socket)
        .map_err(|e| format!("cannot listen on {}: {e}", socket.display()))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", socket.display()))?;
    Ok(listener)
}

/// The descriptors systemd passed us for socket activation (`LISTEN_FDS`
/// from fd 3, when `LISTEN_PID` names us): the ones start-up must not close.
pub fn activated_fds() -> std::ops::Range<i32> {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<i32>().ok())
        .filter(|_| ours)
        .unwrap_or(0);
    3..3 + count.clamp(0, 64)
}

/// The listening socket systemd passed us (socket activation), if any.
fn activated_listener() -> Option<std::os::unix::net::UnixListener> {
    use std::os::fd::FromRawFd;
    let ours = std::env::var("LISTEN_PID").ok()?.parse::<u32>().ok()? == std::process::id();
    let count = std::env::var("LISTEN_FDS").ok()?.parse::<u32>().ok()?;
    if !ours || count < 1 {
        return None;
    }
    // SAFETY: under the sd_listen_fds protocol, LISTEN_PID naming this process
    // means fd 3 was opened by systemd for us and nothing else owns it.
    let listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(3) };
    match listener.local_addr() {
        Ok(_) => Some(listener),
        Err(e) => {
            warn!("LISTEN_FDS is set but fd 3 is not a Unix socket ({e}); binding our own");
            None
        }
    }
}

/// What the daemon needs to fetch as one caller.
#[derive(Debug, Clone)]
struct Caller {
    host: String,
    env: Secret<std::collections::BTreeMap<String, String>>,
    cwd: String,
    timeout: Duration,
}

/// A token held in memory.
#[derive(Debug, Clone)]
struct Held {
    username: String,
    password: Secret<String>,
    minted: u64,
    expires: u64,
    /// Epoch milliseconds.
    refresh_at: u64,
}

impl Held {
    fn usable(&self, now: u64) -> bool {
        usable(self.minted, self.expires, now)
    }

    fn response(&self) -> Response {
        Response::Token {
            username: self.username.clone(),
            password: self.password.clone(),
            expires: self.expires,
        }
    }
}

#[derive(Debug)]
struct SlotState {
    label: String,
    caller: Caller,
    /// When the caller's credentials expire (epoch seconds), if known: the
    /// environment is dropped then, and no refresh is made with it.
    env_until: Option<u64>,
    token: Option<Held>,
    last_used: Instant,
    /// Bumped whenever the token is replaced, so older refresh tasks retire.
    generation: u64,
}

/// One cache key's state: concurrent misses queue on `fetch`.
#[derive(Debug)]
struct Slot {
    key: String,
    fetch: tokio::sync::Mutex<()>,
    state: Mutex<SlotState>,
}

impl Slot {
    fn state(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn usable_token(&self) -> Option<Held> {
        let now = epoch(SystemTime::now());
        self.state().token.clone().filter(|t| t.usable(now))
    }
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    api_calls: AtomicU64,
    refreshes: AtomicU64,
    errors: AtomicU64,
    refused: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// What a `fetch` child produced.
enum Fetched {
    Token {
        key: String,
        held: Held,
        /// The child's fetch failed and it served an older, still valid token.
        stale: bool,
        /// When the caller's credentials expire, if the child learned it.
        credentials_expire: Option<u64>,
    },
    Failed(String),
    Unavailable(String),
}

struct Daemon {
    exe: PathBuf,
    options: Options,
    uid: u32,
    started: Instant,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    counters: Counters,
    last_activity: Mutex<Instant>,
    shutdown: tokio::sync::Notify,
}

async fn serve(
    daemon: Arc<Daemon>,
    listener: std::os::unix::net::UnixListener,
) -> Result<(), String> {
    let listener =
        tokio::net::UnixListener::from_std(listener).map_err(|e| format!("socket: {e}"))?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT: {e}"))?;
    loop {
        let idle_deadline = daemon.idle_deadline();
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    daemon.touch();
                    let daemon = daemon.clone();
                    tokio::spawn(async move { daemon.connection(stream).await });
                }
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = term.recv() => { info!("SIGTERM received"); break; }
            _ = int.recv() => { info!("SIGINT received"); break; }
            _ = daemon.shutdown.notified() => { info!("asked to stop"); break; }
            _ = sleep_until(idle_deadline) => {
                if daemon.idle_deadline().is_some_and(|d| d <= tokio::time::Instant::now()) {
                    info!("no requests for {:?}; exiting", daemon.options.idle.unwrap_or_default());
                    break;
                }
            }
        }
    }
    Ok(())
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

impl Daemon {
    fn new(exe: PathBuf, options: Options) -> Daemon {
        Daemon {
            exe,
            options,
            uid: rustix::process::getuid().as_raw(),
            started: Instant::now(),
            slots: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            last_activity: Mutex::new(Instant::now()),
            shutdown: tokio::sync::Notify::new(),
        }
    }

    fn touch(&self) {
        *self.last_activity.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    fn idle_deadline(&self) -> Option<tokio::time::Instant> {
        let idle = self.options.idle?;
        let last = *self.last_activity.lock().unwrap_or_else(|p| p.into_inner());
        Some(tokio::time::Instant::from_std(last + idle))
    }

    async fn connection(self: Arc<Self>, mut stream: UnixStream) {
        match stream.peer_cred() {
            Ok(cred) if cred.uid() == self.uid => {}
            Ok(cred) => {
                bump(&self.counters.refused);
                warn!(
                    uid = cred.uid(),
                    pid = ?cred.pid(),
                    "refused a connection from another user"
                );
                return;
            }
            Err(e) => {
                warn!("cannot identify a connecting process ({e}); refusing it");
                return;
            }
        }
        let body = match tokio::time::timeout(REQUEST_TIMEOUT, read_frame(&mut stream)).await {
            Ok(Ok(body)) => body,
            Ok(Err(e)) => {
                debug!("bad request: {e}");
                return;
            }
            Err(_) => {
                debug!("client sent no request within {REQUEST_TIMEOUT:?}");
                return;
            }
        };
        let (version, value) = match wire::decode_body(&body) {
            Ok(decoded) => decoded,
            Err(e) => {
                debug!("bad request: {e}");
                return;
            }
        };
        // `stop` works across versions, so an old daemon can always be retired.
        if value.get("op").and_then(|v| v.as_str()) == Some("stop") {
            let _ = write(&mut stream, &Response::Stopping).await;
            self.shutdown.notify_one();
            return;
        }
        let request = if version == WIRE_VERSION {
            serde_json::from_value::<Request>(value).unwrap_or(Request::Unknown)
        } else {
            Request::Unknown
        };
        match request {
            Request::Get(get) => self.get(get, &mut stream).await,
            Request::Status => {
                let _ = write(&mut stream, &Response::Status(self.status())).await;
            }
            Request::Erase(erase) => {
                let dropped = self.erase(&erase.host);
                info!(registry = %erase.host, dropped, "erased");
                let _ = write(&mut stream, &Response::Erased { dropped }).await;
            }
            Request::Stop => {} // answered above, whatever its version
            Request::Unknown => {
                let reason = format!(
                    "this daemon speaks wire v{WIRE_VERSION}; got v{version} or an unknown op"
                );
                let _ = write(&mut stream, &Response::Unsupported { reason }).await;
            }
        }
        self.touch();
    }

    /// Drops every slot for `host` (`docker logout`): its token, its caller's
    /// environment and its refresh task (retired by the generation bump).
    fn erase(&self, host: &str) -> u64 {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let before = slots.len();
        slots.retain(|_, slot| {
            let mut state = slot.state();
            if state.caller.host != host {
                return true;
            }
            state.token = None;
            state.generation += 1;
            state.caller.env = Secret::new(Default::default());
            false
        });
        (before - slots.len()) as u64
    }

    /// Finds or creates the slot for `key` (which this daemon derived from
    /// the caller's own environment) and records this caller as its latest.
    fn slot(&self, request: GetRequest, key: &key::CacheKey) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let now = epoch(SystemTime::now());
        slots.retain(|_, slot| {
            let state = slot.state();
            state.token.as_ref().is_some_and(|t| t.usable(now))
                || state.last_used.elapsed() < FORGET_AFTER
        });
        let caller = Caller {
            host: request.host,
            env: request.env,
            cwd: request.cwd,
            timeout: Duration::from_millis(request.timeout_ms),
        };
        let slot = slots
            .entry(key.id.clone())
            .or_insert_with(|| {
                Arc::new(Slot {
                    key: key.id.clone(),
                    fetch: tokio::sync::Mutex::new(()),
                    state: Mutex::new(SlotState {
                        label: key.label.clone(),
                        caller: caller.clone(),
                        env_until: None,
                        token: None,
                        last_used: Instant::now(),
                        generation: 0,
                    }),
                })
            })
            .clone();
        {
            let mut state = slot.state();
            state.caller = caller;
            state.label = key.label.clone();
            state.last_used = Instant::now();
        }
        slot
    }

    async fn get(self: &Arc<Self>, request: GetRequest, stream: &mut UnixStream) {
        // The key is derived here, from the environment the caller sent: a
        // caller gets only a token minted with secrets it holds itself,
        // whatever key it claims.
        let resolved = match derive(&request) {
            Ok(Some(resolved)) => resolved,
            Ok(None) => {
                let reason = format!("{} is not an ECR registry", request.host);
                let _ = write(stream, &Response::Unavailable { reason }).await;
                return;
            }
            Err(reason) => {
                bump(&self.counters.errors);
                let _ = write(stream, &Response::Failed { reason }).await;
                return;
            }
        };
        if resolved.key.id != request.key {
            debug!(registry = %request.host, "the caller's key is not the one its environment gives; serving by ours");
        }
        let slot = self.slot(request, &resolved.key);
        if let Some(held) = slot.usable_token() {
            bump(&self.counters.hits);
            let _ = write(stream, &held.response()).await;
            return;
        }
        bump(&self.counters.misses);
        // Tell the client we are alive and working, then fetch even if it
        // has gone: the token will be warm for the next one.
        let _ = write(stream, &Response::Pending).await;
        let reply = self.obtain(&slot).await;
        let _ = write(stream, &reply).await;
    }

    /// The slot's token, fetching it once however many callers are waiting.
    async fn obtain(self: &Arc<Self>, slot: &Arc<Slot>) -> Response {
        let _turn = slot.fetch.lock().await;
        if let Some(held) = slot.usable_token() {
            return held.response();
        }
        let caller = slot.state().caller.clone();
        match self.fetch(&caller, None).await {
            Fetched::Token {
                key,
                held,
                credentials_expire,
                ..
            } => {
                let response = held.response();
                if key == slot.key {
                    slot.state().env_until = credentials_expire;
                    self.store(slot, held);
                } else {
                    // The caller's files changed between its request and our
                    // fetch: serve this answer but do not file it under a key
                    // that no longer describes it.
                    warn!(registry = %caller.host, "identity changed during the fetch; not keeping the token");
                }
                response
            }
            Fetched::Failed(reason) => {
                bump(&self.counters.errors);
                Response::Failed { reason }
            }
            Fetched::Unavailable(reason) => {
                bump(&self.counters.errors);
                warn!(registry = %caller.host, "{reason}");
                Response::Unavailable { reason }
            }
        }
    }

    /// Keeps a token and schedules its refresh; tokens without a usable life are not kept.
    fn store(self: &Arc<Self>, slot: &Arc<Slot>, held: Held) {
        if !usable(held.minted, held.expires, held.minted) {
            debug!("token has no usable lifetime; not keeping it");
            return;
        }
        let generation = {
            let mut state = slot.state();
            state.generation += 1;
            state.token = Some(held);
            state.generation
        };
        let daemon = self.clone();
        let slot = slot.clone();
        tokio::spawn(async move { daemon.refresh(slot, generation).await });
    }

    /// Renews the slot's token early while it is in use; on failure, retries
    /// with jittered backoff and keeps the current token until it is unusable.
    async fn refresh(self: Arc<Self>, slot: Arc<Slot>, generation: u64) {
        let Some(first) = slot.state().token.as_ref().map(|t| t.refresh_at) else {
            return;
        };
        let mut wake = first;
        let mut attempt = 0u32;
        loop {
            tokio::time::sleep(Duration::from_millis(wake.saturating_sub(now_ms()))).await;
            let (caller, held, recently_used) = {
                let mut state = slot.state();
                if state.generation != generation {
                    return;
                }
                let Some(held) = state.token.clone() else {
                    return;
                };
                let now = epoch(SystemTime::now());
                if !held.usable(now) {
                    debug!(registry = %state.caller.host, "token no longer usable; dropping it");
                    state.token = None;
                    return;
                }
                if state.env_until.is_some_and(|until| now >= until) {
                    debug!(registry = %state.caller.host, "the caller's credentials have expired; dropping its environment");
                    state.caller.env = Secret::new(Default::default());
                    return;
                }
                let life = Duration::from_secs(held.expires - held.minted);
                (
                    state.caller.clone(),
                    held,
                    state.last_used.elapsed() <= life / 2,
                )
            };
            if !recently_used {
                debug!(registry = %caller.host, "not used recently; letting the token lapse");
                return;
            }
            let _turn = slot.fetch.lock().await;
            if slot.state().generation != generation {
                return;
            }
            match self.fetch(&caller, Some(held.minted)).await {
                Fetched::Token {
                    key,
                    held: fresh,
                    stale: false,
                    credentials_expire,
                } if key == slot.key && fresh.minted > held.minted => {
                    bump(&self.counters.refreshes);
                    debug!(registry = %caller.host, "token refreshed");
                    slot.state().env_until = credentials_expire;
                    self.store(&slot, fresh);
                    return;
                }
                other => {
                    bump(&self.counters.errors);
                    let reason = match other {
                        Fetched::Failed(r) | Fetched::Unavailable(r) => r,
                        Fetched::Token { .. } => "no newer token".to_string(),
                    };
                    attempt += 1;
                    let life = Duration::from_secs(held.expires - held.minted);
                    let delay = backoff(attempt, life);
                    let usable_until = (held.expires - safety_margin(held.minted, held.expires))
                        .saturating_mul(1000);
                    wake = (now_ms() + delay.as_millis() as u64).min(usable_until);
                    warn!(
                        registry = %caller.host,
                        attempt,
                        "background refresh failed ({reason}); keeping the current token, retrying in {:?}",
                        Duration::from_millis(wake.saturating_sub(now_ms()))
                    );
                }
            }
        }
    }

    /// Runs a `fetch` child as the caller.
    async fn fetch(&self, caller: &Caller, newer_than: Option<u64>) -> Fetched {
        let cwd = if Path::new(&caller.cwd).is_dir() {
            caller.cwd.as_str()
        } else {
            "/"
        };
        let mut command = tokio::process::Command::new(&self.exe);
        command
            .arg("fetch")
            .env_clear()
            .envs(caller.env.expose())
            .env(MODE_ENV, "off")
            .current_dir(cwd)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                return Fetched::Unavailable(format!("cannot run {}: {e}", self.exe.display()));
            }
        };
        let request = FetchRequest {
            v: WIRE_VERSION,
            host: caller.host.clone(),
            newer_than,
        };
        if let Some(mut stdin) = child.stdin.take() {
            let body = serde_json::to_vec(&request).unwrap_or_default();
            let _ = stdin.write_all(&body).await;
        }
        let limit = caller.timeout + CHILD_SLACK;
        let output = match tokio::time::timeout(limit, child.wait_with_output()).await {
            Ok(Ok(output)) => output,
            Ok(Err(e)) => return Fetched::Unavailable(format!("fetch child failed: {e}")),
            Err(_) => {
                return Fetched::Unavailable(format!(
                    "fetch for {} took over {limit:?}; killed it",
                    caller.host
                ));
            }
        };
        for line in String::from_utf8_lossy(&output.stderr).lines() {
            info!(registry = %caller.host, "fetch: {line}");
        }
        match serde_json::from_slice::<FetchReply>(&output.stdout) {
            Ok(FetchReply::Token {
                key,
                username,
                password,
                minted,
                expires,
                called_aws,
                stale,
                credentials_expire,
            }) => {
                // Counted here, the one place every fetch passes through.
                if called_aws {
                    bump(&self.counters.api_calls);
                }
                Fetched::Token {
                    key,
                    held: Held {
                        username,
                        password,
                        minted,
                        expires,
                        refresh_at: refresh_point(minted, expires),
                    },
                    stale,
                    credentials_expire,
                }
            }
            Ok(FetchReply::Failed { reason }) => Fetched::Failed(reason),
            Ok(FetchReply::Refused { reason }) => {
                // Our binary was replaced by one that no longer speaks our
                // version: step aside so autostart brings up a current daemon.
                warn!("fetch child refused the request ({reason}); stopping this daemon");
                self.shutdown.notify_one();
                Fetched::Unavailable(reason)
            }
            Err(_) => Fetched::Unavailable(format!(
                "fetch child exited ({}) without an answer",
                output.status
            )),
        }
    }

    fn status(&self) -> DaemonStatus {
        let c = &self.counters;
        let now = epoch(SystemTime::now());
        let mut entries: Vec<StatusEntry> = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter_map(|slot| {
                let state = slot.state();
                let held = state.token.as_ref().filter(|t| t.usable(now))?;
                Some(StatusEntry {
                    registry: state.caller.host.clone(),
                    identity: state.label.clone(),
                    minted: held.minted,
                    expires: held.expires,
                    refresh_at: held.refresh_at / 1000,
                })
            })
            .collect();
        entries.sort_by(|a, b| (&a.registry, &a.identity).cmp(&(&b.registry, &b.identity)));
        DaemonStatus {
            pid: std::process::id(),
            uptime_secs: self.started.elapsed().as_secs(),
            socket: self.options.socket.display().to_string(),
            idle_timeout_secs: self.options.idle.map_or(0, |d| d.as_secs()),
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            api_calls: c.api_calls.load(Ordering::Relaxed),
            refreshes: c.refreshes.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            entries,
        }
    }
}

/// Works out, from the caller's own environment and files (relative paths
/// against its working directory), who its request acts as: the same
/// derivation its `get` made, so the key is ours, not the caller's word.
fn derive(request: &GetRequest) -> Result<Option<Resolved>, String> {
    let vars = request.env.expose();
    let cwd = Path::new(&request.cwd);
    let env = |k: &str| {
        let v = vars.get(k).filter(|v| !v.is_empty())?;
        // A relative path in the caller's environment means one under its directory.
        Some(if k == crate::config::CONFIG_ENV {
            cwd.join(v).to_string_lossy().into_owned()
        } else {
            v.clone()
        })
    };
    let read = |p: &Path| key::read_file(&cwd.join(p));
    let inputs = Inputs {
        env: &env,
        read: &read,
        home: env("HOME").map(PathBuf::from).or_else(dirs::home_dir),
    };
    let config =
        Config::load_with(&env).map_err(|e| format!("{}: config error: {e}", request.host))?;
    key::resolve(&request.host, &config, &inputs).map_err(|e| format!("{}: {e}", request.host))
}

async fn read_frame(stream: &mut UnixStream) -> Result<Vec<u8>, wire::FrameError> {
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).await?;
    let mut body = vec![0u8; wire::body_len(header)?];
    stream.read_exact(&mut body).await?;
    Ok(body)
}

async fn write(stream: &mut UnixStream, response: &Response) -> std::io::Result<()> {
    stream.write_all(&wire::encode_response(response)).await?;
    stream.flush().await
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A fresh random fraction in [0, 1), for jitter (no RNG crate needed).
fn jitter() -> f64 {
    (RandomState::new().hash_one(Instant::now()) % 10_000) as f64 / 10_000.0
}

/// When to refresh a token (epoch ms): 40–45% into its life, so it is
/// renewed before a direct `get` would find it due at half-life, and spread
/// so a fleet of daemons does not refresh in step.
pub fn refresh_point(minted: u64, expires: u64) -> u64 {
    let life_ms = expires.saturating_sub(minted).saturating_mul(1000);
    let offset = (life_ms as f64 * (0.40 + 0.05 * jitter())) as u64;
    minted.saturating_mul(1000).saturating_add(offset.max(2000))
}

/// Delay before refresh attempt `attempt` (1-based): doubling from a base
/// scaled to the token's life (1–30 s), at most 10 minutes, ±25% jitter.
pub fn backoff(attempt: u32, life: Duration) -> Duration {
    let base = (life / 1000).clamp(Duration::from_secs(1), Duration::from_secs(30));
    let raw = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let capped = raw.min(Duration::from_secs(600));
    capped.mul_f64(0.75 + 0.5 * jitter())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_comes_before_half_life() {
        for _ in 0..100 {
            let at = refresh_point(1_000, 1_000 + 43_200);
            assert!(at >= (1_000 + 17_280) * 1000, "{at}");
            assert!(at <= (1_000 + 19_440) * 1000, "{at}");
            assert!(at < (1_000 + 21_600) * 1000);
        }
        // Very short lives still leave a second between mint and refresh.
        assert_eq!(refresh_point(10, 11), 12_000);
    }

    #[test]
    fn backoff_doubles_within_bounds() {
        let life = Duration::from_secs(43_200);
        for attempt in 1..40 {
            let d = backoff(attempt, life);
            assert!(
                d >= Duration::from_secs(22) && d <= Duration::from_secs(750),
                "{d:?}"
            );
        }
        let first = backoff(1, Duration::from_secs(6));
        assert!(first >= Duration::from_millis(750) && first <= Duration::from_millis(1250));
        assert!(backoff(30, life) <= Duration::from_secs(750));
    }
}
