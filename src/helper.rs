//! The credential-helper actions: stdin bytes in, stdout/stderr text and a status out.
//!
//! This is where the protocol, host recognition, our config and the token
//! source meet. It performs no terminal I/O itself (like docker's
//! `HandleCommand`), so every answer can be unit-tested with a scripted token
//! source, and `cli` stays a thin shell that prints and exits.
//!
//! Failure policy for `get` on an ECR host: answer "not found" on stdout (so
//! docker and podman fall back to anonymous access rather than failing
//! unrelated pulls) and say why, in one line, on stderr, which every client
//! passes through to the user. The Go helper hides that reason in a log file.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use tracing::debug;

use crate::cache::entry::{epoch, refresh_due, usable};
use crate::cache::key::{self, CacheKey, Inputs, cache_key, web_identity_key};
use crate::cache::{Cache, Lookup, Served};
use crate::config::{Config, ConfigError};
use crate::daemon::wire::{FetchReply, FetchRequest, WIRE_VERSION};
use crate::daemon::{Outcome, TokenDaemon};
use crate::kubelet;
use crate::logins::{Login, Logins};
use crate::protocol::{self, canonical_host, parse_server_url, parse_store_request};
use crate::registry::{self, EcrRegistry};
use crate::settings::{Limits, SettingsError};
use crate::token::{AuthToken, FetchOptions, TokenError, TokenSource, WebIdentity};

/// What an action prints and whether it succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Exactly what goes to stdout (the protocol's channel).
    pub stdout: String,
    /// Human diagnostics for stderr, one line each, without the program-name prefix.
    pub stderr: Vec<String>,
    /// Exit status 0 when true, 1 otherwise.
    pub success: bool,
}

impl Answer {
    /// Success with `stdout` as the whole output.
    pub fn ok(stdout: impl Into<String>) -> Answer {
        Answer {
            stdout: stdout.into(),
            stderr: Vec::new(),
            success: true,
        }
    }

    /// The protocol's not-found answer, with an optional reason for the user.
    fn not_found(reason: Option<String>) -> Answer {
        Answer {
            stdout: format!("{}\n", protocol::NOT_FOUND),
            stderr: reason.into_iter().collect(),
            success: false,
        }
    }

    /// A human command's failure: nothing on stdout, the reason on stderr.
    pub fn failed(message: String) -> Answer {
        Answer {
            stdout: String::new(),
            stderr: vec![message],
            success: false,
        }
    }

    /// A protocol error: the message on stdout (where clients read it) and on stderr.
    pub fn error(message: String) -> Answer {
        Answer {
            stdout: format!("{message}\n"),
            stderr: vec![message],
            success: false,
        }
    }
}

/// Loads our config file; injected so tests need no files or environment.
pub type ConfigLoader<'a> = &'a dyn Fn() -> Result<Config, ConfigError>;

/// Reads run-time limits; injected so tests need no environment.
pub type LimitsLoader<'a> = &'a dyn Fn(&Config) -> Result<Limits, SettingsError>;

/// Opens the token cache (or none); injected so tests choose the backend.
pub type CacheLoader<'a> = &'a dyn Fn() -> Option<Cache>;

/// Opens the store for other registries' logins; `None` when the user chose
/// not to keep logins ([`crate::logins::IGNORE_ENV`]). Injected so tests choose.
pub type LoginsLoader<'a> = &'a dyn Fn() -> Option<Logins>;

/// How long a `get` queues behind another process fetching the same token,
/// beyond the fetch timeout itself, before fetching on its own.
const LOCK_SLACK: Duration = Duration::from_secs(2);

/// The actions, wired to a token source, a config loader and a limits loader.
pub struct Helper<'a> {
    /// Where tokens come from (AWS in production).
    pub source: &'a dyn TokenSource,
    /// Our config file.
    pub config: ConfigLoader<'a>,
    /// Time limits.
    pub limits: LimitsLoader<'a>,
    /// The token cache.
    pub cache: CacheLoader<'a>,
    /// What the cache key is derived from (environment and AWS config files).
    pub inputs: &'a Inputs<'a>,
    /// The token daemon to ask first, if `get` may use one.
    pub daemon: Option<&'a dyn TokenDaemon>,
    /// Where `docker login` credentials for other registries are kept.
    pub logins: LoginsLoader<'a>,
}

/// An ECR request worked out down to who asks and how long we may take.
pub(crate) struct Prepared {
    pub(crate) registry: EcrRegistry,
    pub(crate) key: CacheKey,
    pub(crate) options: FetchOptions,
}

impl Helper<'_> {
    /// Whether `host` is ECR: by its name, or by an alias in our config file.
    fn is_ecr(&self, host: &str) -> Result<bool, ConfigError> {
        let config = (self.config)()?;
        Ok(registry::parse_host(host).is_some() || config.alias(host).is_some())
    }

    /// Works out registry, identity and limits for `host`; `Ok(None)` if it is not ECR.
    pub(crate) fn prepare(&self, host: &str) -> Result<Option<Prepared>, String> {
        let config = (self.config)().map_err(|e| format!("{host}: config error: {e}"))?;
        // key::resolve says whether it is ECR (by host or alias) and whose token it would be.
        let Some(resolved) =
            key::resolve(host, &config, self.inputs).map_err(|e| format!("{host}: {e}"))?
        else {
            return Ok(None);
        };
        let limits = (self.limits)(&config).map_err(|e| format!("{host}: {e}"))?;
        let options = FetchOptions {
            profile: resolved.settings.profile,
            role_arn: resolved.settings.role_arn,
            ..options_within(limits)
        };
        Ok(Some(Prepared {
            registry: resolved.registry,
            key: resolved.key,
            options,
        }))
    }

    /// Options for an AWS call tied to no registry (STS in `doctor` and `configure --region`).
    pub(crate) fn plain_options(&self) -> Result<FetchOptions, String> {
        let config = (self.config)().map_err(|e| format!("config error: {e}"))?;
        let limits = (self.limits)(&config).map_err(|e| e.to_string())?;
        Ok(options_within(limits))
    }

    /// The direct path: the cache (single-flight across processes) or AWS.
    pub(crate) fn direct(
        &self,
        p: &Prepared,
        newer_than: Option<u64>,
    ) -> Result<Lookup, TokenError> {
        let fetch = || {
            debug!(registry = ?p.registry, options = ?p.options, "fetching token");
            self.source.fetch(&p.registry, &p.options)
        };
        match (self.cache)() {
            Some(cache) => cache
                .get(
                    &p.key,
                    &p.registry.host,
                    p.options.timeout + LOCK_SLACK,
                    newer_than,
                    fetch,
                )
                .inspect(|found| {
                    debug!(served = ?found.served, backend = cache.backend_name(), identity = %p.key.label, "token served");
                }),
            None => fetch().map(|token| Lookup {
                token,
                served: Served::Fetched,
                minted: epoch(SystemTime::now()),
            }),
        }
    }

    /// `get`: credentials for the server named on stdin, or not-found with a reason.
    pub fn get(&self, stdin: &[u8]) -> Answer {
        let server_url = match parse_server_url(stdin) {
            Ok(url) => url,
            Err(e) => return Answer::error(e.to_string()),
        };
        let Some(host) = canonical_host(&server_url) else {
            return self.stored_login(&server_url);
        };
        let prepared = match self.prepare(&host) {
            Ok(Some(prepared)) => prepared,
            Ok(None) => return self.stored_login(&server_url),
            Err(reason) => return Answer::not_found(Some(reason)),
        };
        match self.obtain(&host, &prepared, true) {
            Ok((token, _)) => Answer::ok(protocol::format_get_response(
                &server_url,
                &token.username,
                &token.password,
            )),
            Err(reason) => Answer::not_found(Some(reason)),
        }
    }

    /// `get` for a registry that is not ECR: the login `docker login` stored, if any.
    fn stored_login(&self, server_url: &str) -> Answer {
        let Some(logins) = (self.logins)() else {
            return Answer::not_found(None);
        };
        match logins.get(server_url) {
            Ok(Some(login)) => Answer::ok(protocol::format_get_response(
                server_url,
                &login.username,
                &login.secret,
            )),
            Ok(None) => Answer::not_found(None),
            Err(e) => Answer::not_found(Some(format!(
                "{server_url}: the stored login cannot be read: {e}"
            ))),
        }
    }

    /// A token for a prepared request, from the daemon (if `via_daemon` and one
    /// answers) or directly, with when it was minted if known (the daemon does
    /// not say). `Err` is the one-line reason for the user.
    fn obtain(
        &self,
        host: &str,
        prepared: &Prepared,
        via_daemon: bool,
    ) -> Result<(AuthToken, Option<u64>), String> {
        if let Some(daemon) = self.daemon.filter(|_| via_daemon) {
            match daemon.get(host, &prepared.key, prepared.options.timeout) {
                Outcome::Token(token) => return Ok((token, None)),
                Outcome::Failed(reason) => return Err(reason),
                Outcome::Unavailable(reason) if daemon.required() => {
                    return Err(format!(
                        "{host}: the daemon is required ({}=required) but did not answer: {reason}",
                        crate::daemon::MODE_ENV
                    ));
                }
                Outcome::Unavailable(reason) => debug!("answering directly: {reason}"),
            }
        }
        self.direct(prepared, None)
            .map(|found| (found.token, Some(found.minted)))
            .map_err(|e| format!("{host}: {e}"))
    }

    /// `kubelet`: answers kubelet's image credential provider request on stdin
    /// (see [`crate::kubelet`]) with the same cache, single-flight and daemon as `get`.
    ///
    /// Not ECR: no credentials (an empty `auth`) and success, never an error.
    /// Failures: nothing on stdout, the reason on stderr, exit 1, well inside
    /// kubelet's 60 s (the fetch timeout is capped by [`kubelet_timeout`]).
    pub fn kubelet(&self, stdin: &[u8]) -> Answer {
        let request = match kubelet::parse_request(stdin) {
            Ok(request) => request,
            Err(e) => return Answer::failed(e.to_string()),
        };
        let registry = kubelet::registry_of(&request.image);
        // Answering "no credentials" costs nothing here, so kubelet should not
        // keep it: a cached empty answer would outlive a new [[alias]].
        let none = || {
            Answer::ok(kubelet::format_response(
                &request,
                Some(Duration::ZERO),
                None,
            ))
        };
        let Some(host) = canonical_host(registry) else {
            return none();
        };
        let mut prepared = match self.prepare(&host) {
            Ok(Some(prepared)) => prepared,
            Ok(None) => return none(),
            Err(reason) => return Answer::failed(reason),
        };
        prepared.options.timeout = kubelet_timeout(prepared.options.timeout);
        let mut via_daemon = true;
        if let Some(account) = &request.service_account {
            match self.web_identity(&host, account, &mut prepared) {
                Ok(used) => via_daemon = !used,
                Err(reason) => return Answer::failed(reason),
            }
        }
        match self.obtain(&host, &prepared, via_daemon) {
            Ok((token, minted)) => {
                let expires = token.expires_at.map(epoch);
                let duration = kubelet::cache_duration(minted, expires, epoch(SystemTime::now()));
                Answer::ok(kubelet::format_response(
                    &request,
                    Some(duration),
                    Some(kubelet::Auth {
                        registry,
                        username: &token.username,
                        password: &token.password,
                    }),
                ))
            }
            Err(reason) => Answer::failed(reason),
        }
    }

    /// Switches `prepared` to the service account's role, if it names one:
    /// web identity credentials, cached per role and account. `Ok(false)`:
    /// no role, so the node's own credentials apply, as without a token.
    fn web_identity(
        &self,
        host: &str,
        account: &kubelet::ServiceAccount,
        prepared: &mut Prepared,
    ) -> Result<bool, String> {
        let fail = |e: kubelet::KubeletError| format!("{host}: {e}");
        let Some(role_arn) = kubelet::role_for(account, self.inputs.env).map_err(fail)? else {
            debug!("the service account names no role; using the node's credentials");
            return Ok(false);
        };
        let subject = kubelet::token_subject(&account.token).map_err(fail)?;
        prepared.key = web_identity_key(
            &prepared.registry,
            prepared.options.role_arn.as_deref(),
            &role_arn,
            &subject,
            self.inputs,
        );
        prepared.options.web_identity = Some(WebIdentity {
            session_name: kubelet::session_name(&subject),
            role_arn,
            token: account.token.clone(),
        });
        Ok(true)
    }

    /// `fetch` (internal): the daemon's way of minting as its caller, whose
    /// environment this process runs with. Reads a [`FetchRequest`], answers a
    /// [`FetchReply`] on stdout; the token is written through to the cache.
    pub fn fetch(&self, stdin: &[u8]) -> Answer {
        let reply = |reply: FetchReply| {
            let success = matches!(reply, FetchReply::Token { .. });
            Answer {
                stdout: serde_json::to_string(&reply).unwrap_or_default(),
                stderr: Vec::new(),
                success,
            }
        };
        let request: FetchRequest = match serde_json::from_slice(stdin) {
            Ok(request) => request,
            Err(e) => {
                return reply(FetchReply::Refused {
                    reason: format!("bad fetch request: {}", crate::json_error(&e)),
                });
            }
        };
        if request.v != WIRE_VERSION {
            return reply(FetchReply::Refused {
                reason: format!(
                    "fetch request v{} from the daemon; this binary speaks v{WIRE_VERSION}",
                    request.v
                ),
            });
        }
        let prepared = match self.prepare(&request.host) {
            Ok(Some(prepared)) => prepared,
            Ok(None) => {
                return reply(FetchReply::Refused {
                    reason: format!("{} is not an ECR registry", request.host),
                });
            }
            Err(reason) => return reply(FetchReply::Failed { reason }),
        };
        match self.direct(&prepared, request.newer_than) {
            Ok(found) => reply(FetchReply::Token {
                key: prepared.key.id,
                username: found.token.username,
                password: found.token.password,
                minted: found.minted,
                expires: found.token.expires_at.map_or(0, epoch),
                called_aws: found.served == Served::Fetched,
                stale: found.served == Served::StaleButValid,
                credentials_expire: found.token.credentials_expire_at.map(epoch),
            }),
            Err(e) => reply(FetchReply::Failed {
                reason: format!("{}: {e}", request.host),
            }),
        }
    }

    /// `store`: for ECR it succeeds and keeps nothing (tokens are minted on
    /// demand); any other registry's login is kept in the login store, so
    /// `docker login` works with `credsStore: "ecr"`.
    pub fn store(&self, stdin: &[u8]) -> Answer {
        let request = match parse_store_request(stdin) {
            Ok(request) => request,
            Err(e) => return Answer::error(e.to_string()),
        };
        let server_url = request.server_url.trim();
        if let Some(host) = canonical_host(server_url) {
            match self.is_ecr(&host) {
                Ok(true) => {
                    debug!(%host, "store: nothing to keep, tokens are fetched on demand");
                    return Answer::ok("");
                }
                Ok(false) => {}
                Err(e) => return Answer::error(format!("config error: {e}")),
            }
        }
        let Some(logins) = (self.logins)() else {
            debug!(
                "store: {} is set, so the login is not kept",
                crate::logins::IGNORE_ENV
            );
            return Answer::ok("");
        };
        let login = Login {
            server_url: server_url.to_string(),
            username: request.username,
            secret: request.secret.unwrap_or_else(|| String::new().into()),
        };
        match logins.store(&login) {
            Ok(store) => {
                debug!(server = server_url, store, "login stored");
                Answer::ok("")
            }
            Err(e) => Answer::error(format!("{server_url}: the login was not stored: {e}")),
        }
    }

    /// `erase`: drops every identity's token for the host wherever it lives,
    /// the cache backend and a running daemon's memory; `docker logout` may
    /// call it twice. If a copy may remain, it fails and says where, rather
    /// than let `docker logout` report a success that did not happen.
    pub fn erase(&self, stdin: &[u8]) -> Answer {
        let server_url = match parse_server_url(stdin) {
            Ok(url) => url,
            Err(e) => return Answer::error(e.to_string()),
        };
        let mut left = Vec::new();
        // Any server may have a stored login (ECR hosts never do: `store` keeps none).
        if let Some(logins) = (self.logins)() {
            match logins.erase(&server_url) {
                Ok(removed) => debug!(server = server_url, removed, "erase login"),
                Err(e) => left.push(format!("the stored login could not be removed: {e}")),
            }
        }
        let Some(host) = canonical_host(&server_url) else {
            return match left.is_empty() {
                true => Answer::ok(""),
                false => Answer::error(format!("{server_url}: not erased: {}", left.join("; "))),
            };
        };
        if let Some(cache) = (self.cache)() {
            match cache.erase(&host) {
                Ok(removed) => debug!(%host, removed, "erase"),
                Err(e) => left.push(format!("the cached token could not be removed: {e}")),
            }
        }
        if let Some(Err(e)) = self.daemon.map(|d| d.erase(&host)) {
            left.push(format!("the daemon may still hold it: {e}"));
        }
        if left.is_empty() {
            Answer::ok("")
        } else {
            Answer::error(format!("{host}: not erased: {}", left.join("; ")))
        }
    }

    /// `list`: registries for which the caller's identity has a valid cached
    /// token, and stored logins for other registries. No network, no secret.
    pub fn list(&self) -> Answer {
        let mut hosts = BTreeMap::new();
        if let Some(logins) = (self.logins)() {
            hosts.extend(logins.list());
        }
        if let Some(cache) = (self.cache)() {
            let config = (self.config)().unwrap_or_default();
            let now = epoch(SystemTime::now());
            for meta in cache.entries() {
                if !usable(meta.minted, meta.expires, now) {
                    continue;
                }
                let Some(registry) =
                    registry::parse_host(&meta.registry).or_else(|| config.alias(&meta.registry))
                else {
                    continue;
                };
                let settings = config.settings_for(&meta.registry, &registry);
                if cache_key(&registry, &settings, self.inputs).is_ok_and(|k| k.id == meta.key) {
                    hosts.insert(meta.registry, "AWS".to_string());
                }
            }
        }
        Answer::ok(protocol::format_list(&hosts))
    }

    /// `status`: what the cache holds, for humans or (`json`) scripts. Never shows a secret.
    pub fn status(&self, json: bool) -> Answer {
        let cache = (self.cache)();
        let backend = cache.as_ref().map_or("none", |c| c.backend_name());
        let entries = cache.as_ref().map(|c| c.entries()).unwrap_or_default();
        let now = epoch(SystemTime::now());
        let state = |minted: u64, expires: u64| {
            if !usable(minted, expires, now) {
                "expired"
            } else if refresh_due(minted, expires, now) {
                "refresh due"
            } else {
                "valid"
            }
        };
        if json {
            let list: Vec<serde_json::Value> = entries
                .iter()
                .map(|m| {
                    serde_json::json!({
                        "registry": m.registry,
                        "identity": m.identity,
                        "backend": m.backend,
                        "minted": iso8601(m.minted),
                        "expires": iso8601(m.expires),
                        "state": state(m.minted, m.expires),
                    })
                })
                .collect();
            let doc = serde_json::json!({ "backend": backend, "entries": list });
            return Answer::ok(format!("{doc}\n"));
        }
        let mut out = format!("cache backend: {backend}\n");
        if entries.is_empty() {
            out.push_str("no cached tokens\n");
        }
        for m in &entries {
            out.push_str(&format!(
                "{}\n  identity: {}\n  backend:  {}\n  minted:   {}\n  expires:  {} ({})\n",
                m.registry,
                m.identity,
                m.backend,
                iso8601(m.minted),
                iso8601(m.expires),
                state(m.minted, m.expires)
            ));
        }
        Answer::ok(out)
    }
}

/// Acting as the default chain's principal, within the run's time limits.
fn options_within(limits: Limits) -> FetchOptions {
    FetchOptions {
        profile: None,
        role_arn: None,
        timeout: limits.timeout,
        imds_timeout: limits.imds_timeout,
        imds_attempts: limits.imds_attempts,
        web_identity: None,
    }
}

/// The longest a kubelet-mode fetch may be given so that the slowest path —
/// the daemon's first reply and its fetch, then the wait for another
/// process's fetch under the cache lock, then our own fetch — ends within
/// [`kubelet::BUDGET`], well inside kubelet's 60 s.
pub fn kubelet_timeout(configured: Duration) -> Duration {
    #[cfg(unix)]
    let daemon_slack = crate::daemon::client::FIRST_REPLY + crate::daemon::client::FETCH_SLACK;
    #[cfg(not(unix))]
    let daemon_slack = Duration::ZERO;
    let cap = kubelet::BUDGET.saturating_sub(daemon_slack + LOCK_SLACK) / 3;
    configured.min(cap)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (UTC), without a date library.
pub fn iso8601(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::secret::Secret;
    use crate::token::{AuthToken, TokenError};

    /// A token source that records what it was asked and answers from a script.
    struct Scripted {
        calls: RefCell<Vec<(EcrRegistry, FetchOptions)>>,
        fail: bool,
    }

    impl TokenSource for Scripted {
        fn fetch(&self, r: &EcrRegistry, o: &FetchOptions) -> Result<AuthToken, TokenError> {
            self.calls.borrow_mut().push((r.clone(), o.clone()));
            if self.fail {
                return Err(TokenError::AccessDenied {
                    detail: "not authorized to perform: ecr:GetAuthorizationToken".into(),
                });
            }
            Ok(AuthToken {
                username: "AWS".into(),
                password: Secret::new("pw".into()),
                expires_at: Some(SystemTime::now() + Duration::from_secs(12 * 3600)),
                credentials_expire_at: None,
            })
        }
    }

    fn run(
        config_text: &str,
        fail: bool,
        action: impl Fn(&Helper) -> Answer,
    ) -> (Answer, Vec<(EcrRegistry, FetchOptions)>) {
        run_with_daemon(config_text, fail, None, action)
    }

    /// A daemon that answers from a script and records the keys it was asked for.
    struct FakeDaemon {
        answer: fn() -> Outcome,
        required: bool,
        asked: RefCell<Vec<String>>,
    }

    impl TokenDaemon for FakeDaemon {
        fn get(&self, host: &str, key: &CacheKey, _: Duration) -> Outcome {
            self.asked
                .borrow_mut()
                .push(format!("{host} {}", key.label));
            (self.answer)()
        }
        fn required(&self) -> bool {
            self.required
        }
    }

    fn run_with_daemon(
        config_text: &str,
        fail: bool,
        daemon: Option<&dyn TokenDaemon>,
        action: impl Fn(&Helper) -> Answer,
    ) -> (Answer, Vec<(EcrRegistry, FetchOptions)>) {
        let source = Scripted {
            calls: RefCell::new(Vec::new()),
            fail,
        };
        let text = config_text.to_string();
        let load = move || Config::parse(&text, Path::new("/c.toml"));
        let limits = |c: &Config| {
            Ok(Limits {
                timeout: c.timeout.unwrap_or(Duration::from_secs(20)),
                imds_timeout: Duration::from_millis(500),
                imds_attempts: 1,
            })
        };
        let env = |_: &str| None;
        let read = |_: &Path| Ok(None);
        let inputs = Inputs {
            env: &env,
            read: &read,
            home: None,
        };
        let helper = Helper {
            source: &source,
            config: &load,
            limits: &limits,
            cache: &|| None,
            inputs: &inputs,
            daemon,
            logins: &|| None,
        };
        let answer = action(&helper);
        (answer, source.calls.into_inner())
    }

    const HOST: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com";

    #[test]
    fn get_echoes_the_server_url_as_given() {
        for input in [
            HOST.to_string(),
            format!("https://{HOST}/v2/\n"),
            format!("{HOST}:443"),
        ] {
            let (a, calls) = run("", false, |h| h.get(input.as_bytes()));
            assert!(a.success, "{input}");
            let want = format!(
                "{{\"ServerURL\":\"{}\",\"Username\":\"AWS\",\"Secret\":\"pw\"}}\n",
                input.trim()
            );
            assert_eq!(a.stdout, want);
            assert!(a.stderr.is_empty());
            assert_eq!(calls.len(), 1);
            assert_eq!(calls[0].0.api_region(), "us-west-2");
            assert_eq!(calls[0].0.account_id(), Some("123456789012"));
        }
    }

    #[test]
    fn non_ecr_hosts_are_not_found_without_a_fetch_or_a_reason() {
        for input in [
            "docker.io",
            "https://index.docker.io/v1/",
            "ghcr.io",
            "ftp://x",
            "localhost:5000",
        ] {
            let (a, calls) = run("", false, |h| h.get(input.as_bytes()));
            assert_eq!(
                a.stdout, "credentials not found in native keychain\n",
                "{input}"
            );
            assert!(
                !a.success && a.stderr.is_empty() && calls.is_empty(),
                "{input}"
            );
        }
    }

    #[test]
    fn failures_are_not_found_plus_one_line_reason() {
        let (a, _) = run("", true, |h| h.get(HOST.as_bytes()));
        assert_eq!(a.stdout, "credentials not found in native keychain\n");
        assert!(!a.success);
        assert_eq!(a.stderr.len(), 1);
        assert!(
            a.stderr[0].starts_with(HOST) && a.stderr[0].contains("access denied"),
            "{:?}",
            a.stderr
        );
    }

    #[test]
    fn empty_input_is_the_protocols_error() {
        let (a, _) = run("", false, |h| h.get(b"\n"));
        assert_eq!(a.stdout, "no credentials server URL\n");
        assert!(!a.success);
    }

    #[test]
    fn config_rules_and_aliases_reach_the_token_source() {
        let cfg = "timeout = 3\n[[registry]]\nhost = \"*.us-west-2.amazonaws.com\"\nprofile = \"west\"\n\
                   [[alias]]\nhost = \"ecr.example.com\"\naccount = \"210987654321\"\nregion = \"eu-central-1\"\n";
        let (a, calls) = run(cfg, false, |h| h.get(HOST.as_bytes()));
        assert!(a.success);
        assert_eq!(calls[0].1.profile.as_deref(), Some("west"));
        assert_eq!(calls[0].1.timeout, Duration::from_secs(3));

        let (a, calls) = run(cfg, false, |h| h.get(b"https://ecr.example.com/v2/"));
        assert!(a.success);
        assert_eq!(calls[0].0.account_id(), Some("210987654321"));
        assert_eq!(calls[0].0.api_region(), "eu-central-1");
        assert_eq!(calls[0].1.profile, None);
    }

    #[test]
    fn a_broken_config_is_reported_not_ignored() {
        let (a, calls) = run("[[registry]]\nhots = 1\n", false, |h| {
            h.get(HOST.as_bytes())
        });
        assert_eq!(a.stdout, "credentials not found in native keychain\n");
        assert!(calls.is_empty());
        assert!(a.stderr[0].contains("/c.toml:2:"), "{:?}", a.stderr);
    }

    #[test]
    fn store_keeps_nothing_for_ecr_and_validates_requests() {
        let body = format!(r#"{{"ServerURL":"{HOST}","Username":"AWS","Secret":"s"}}"#);
        let (a, calls) = run("", false, |h| h.store(body.as_bytes()));
        assert!(a.success && a.stdout.is_empty() && calls.is_empty());

        // With login storage off (AWS_ECR_IGNORE_CREDS_STORAGE), other registries succeed too.
        let (a, calls) = run("", false, |h| {
            h.store(br#"{"ServerURL":"docker.io","Username":"u","Secret":"s"}"#)
        });
        assert!(
            a.success && a.stdout.is_empty() && calls.is_empty(),
            "{a:?}"
        );

        let (a, _) = run("", false, |h| h.store(b"garbage"));
        assert!(
            !a.success && a.stdout.contains("invalid `store` request"),
            "{a:?}"
        );
        let (a, _) = run("", false, |h| h.store(br#"{"ServerURL":"x"}"#));
        assert_eq!(a.stdout, "no credentials username\n");
    }

    #[test]
    fn the_daemon_answers_first_and_only_its_own_failures_fall_back() {
        let daemon = |answer: fn() -> Outcome, required| FakeDaemon {
            answer,
            required,
            asked: RefCell::new(Vec::new()),
        };
        let token = || {
            Outcome::Token(AuthToken {
                username: "AWS".into(),
                password: Secret::new("from-daemon".into()),
                expires_at: None,
                credentials_expire_at: None,
            })
        };
        let d = daemon(token, false);
        let (a, calls) = run_with_daemon("", false, Some(&d), |h| h.get(HOST.as_bytes()));
        assert!(
            a.stdout.contains("from-daemon") && calls.is_empty(),
            "{a:?}"
        );
        assert_eq!(*d.asked.borrow(), [format!("{HOST} instance role")]);

        // AWS said no: the user hears why, and AWS is not asked a second time.
        let d = daemon(|| Outcome::Failed("denied by policy".into()), false);
        let (a, calls) = run_with_daemon("", false, Some(&d), |h| h.get(HOST.as_bytes()));
        assert_eq!(a.stderr, ["denied by policy"]);
        assert!(!a.success && calls.is_empty());

        // The daemon's own trouble: answered directly, silently.
        let d = daemon(|| Outcome::Unavailable("gone".into()), false);
        let (a, calls) = run_with_daemon("", false, Some(&d), |h| h.get(HOST.as_bytes()));
        assert!(
            a.success && a.stderr.is_empty() && calls.len() == 1,
            "{a:?}"
        );

        // …unless the daemon is required, for diagnosis.
        let d = daemon(|| Outcome::Unavailable("gone".into()), true);
        let (a, calls) = run_with_daemon("", false, Some(&d), |h| h.get(HOST.as_bytes()));
        assert!(!a.success && calls.is_empty());
        assert!(a.stderr[0].contains("required") && a.stderr[0].contains("gone"));

        // Non-ECR hosts never reach it.
        let d = daemon(token, true);
        let (a, _) = run_with_daemon("", false, Some(&d), |h| h.get(b"docker.io"));
        assert!(!a.success && d.asked.borrow().is_empty());
    }

    #[test]
    fn fetch_answers_the_daemon_in_its_format() {
        let req = format!(r#"{{"v":{WIRE_VERSION},"host":"{HOST}"}}"#);
        let (a, calls) = run("", false, |h| h.fetch(req.as_bytes()));
        assert!(a.success && calls.len() == 1);
        let reply: FetchReply = serde_json::from_str(&a.stdout).unwrap();
        assert!(
            matches!(&reply, FetchReply::Token { password, called_aws: true, stale: false, .. } if password.expose() == "pw"),
            "{reply:?}"
        );

        let (a, _) = run("", true, |h| h.fetch(req.as_bytes()));
        let reply: FetchReply = serde_json::from_str(&a.stdout).unwrap();
        assert!(!a.success);
        assert!(matches!(reply, FetchReply::Failed { reason } if reason.contains("access denied")));

        for bad in [
            r#"{"v":2,"host":"x"}"#,
            "nonsense",
            r#"{"v":1,"host":"docker.io"}"#,
        ] {
            let (a, calls) = run("", false, |h| h.fetch(bad.as_bytes()));
            let reply: FetchReply = serde_json::from_str(&a.stdout).unwrap();
            assert!(
                matches!(reply, FetchReply::Refused { .. }),
                "{bad}: {reply:?}"
            );
            assert!(calls.is_empty());
        }
    }

    fn kubelet_request(image: &str, extra: &str) -> String {
        format!(
            r#"{{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"{image}"{extra}}}"#
        )
    }

    #[test]
    fn kubelet_answers_ecr_images_with_a_registry_keyed_token() {
        let req = kubelet_request(&format!("{HOST}/team/app"), "");
        let (a, calls) = run("", false, |h| h.kubelet(req.as_bytes()));
        assert!(a.success && a.stderr.is_empty(), "{a:?}");
        let v: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
        assert_eq!(v["auth"][HOST]["password"], "pw");
        assert_eq!(v["cacheKeyType"], "Registry");
        // A freshly minted 12 h token: kubelet may keep it until 5 minutes before expiry.
        let d = v["cacheDuration"].as_str().unwrap();
        assert!(d == "11h55m0s" || d == "11h54m59s", "{d}");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].1.web_identity, None);
    }

    #[test]
    fn kubelet_gives_other_images_no_credentials_and_no_call() {
        for image in [
            "docker.io/library/nginx",
            "nginx",
            "localhost:5000/x",
            "public.ecr.aws:8443/a",
        ] {
            let (a, calls) = run("", false, |h| {
                h.kubelet(kubelet_request(image, "").as_bytes())
            });
            assert!(a.success && calls.is_empty(), "{image}: {a:?}");
            assert!(
                a.stdout.contains(r#""cacheDuration":"0s","auth":{}"#),
                "{a:?}"
            );
        }
    }

    #[test]
    fn kubelet_failures_are_exit_1_with_the_reason_on_stderr_only() {
        let req = kubelet_request(HOST, "");
        let (a, _) = run("", true, |h| h.kubelet(req.as_bytes()));
        assert!(!a.success && a.stdout.is_empty());
        assert!(a.stderr[0].contains("access denied"), "{a:?}");
        let (a, calls) = run("", false, |h| h.kubelet(b"{}"));
        assert!(!a.success && a.stdout.is_empty() && calls.is_empty());
        assert!(a.stderr[0].contains("CredentialProviderRequest"), "{a:?}");
    }

    #[test]
    fn kubelet_service_account_roles_use_web_identity_and_skip_the_daemon() {
        let b = |s: &str| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
        };
        let token = format!(
            "{}.{}.sig",
            b("{}"),
            b(
                r#"{"iss":"https://oidc","sub":"system:serviceaccount:ns:sa","aud":"sts.amazonaws.com"}"#
            )
        );
        let arn = "arn:aws:iam::123456789012:role/pull";
        let with_role = kubelet_request(
            HOST,
            &format!(
                r#","serviceAccountToken":"{token}","serviceAccountAnnotations":{{"eks.amazonaws.com/ecr-role-arn":"{arn}"}}"#
            ),
        );
        let d = FakeDaemon {
            answer: || Outcome::Failed("the daemon was asked".into()),
            required: false,
            asked: RefCell::new(Vec::new()),
        };
        let (a, calls) = run_with_daemon("", false, Some(&d), |h| h.kubelet(with_role.as_bytes()));
        assert!(a.success, "{a:?}");
        assert!(a.stdout.contains(r#""username":"AWS","password":"pw""#));
        assert!(d.asked.borrow().is_empty());
        let identity = calls[0].1.web_identity.as_ref().unwrap();
        assert_eq!(identity.role_arn, arn);
        assert_eq!(identity.session_name, "ns.sa");
        assert_eq!(identity.token.expose(), &token);
        assert!(!format!("{:?}", calls[0].1).contains(&token));

        // No role named: the node's credentials, through the daemon as usual.
        let without = kubelet_request(HOST, &format!(r#","serviceAccountToken":"{token}""#));
        let (a, calls) = run_with_daemon("", false, Some(&d), |h| h.kubelet(without.as_bytes()));
        assert_eq!(a.stderr, ["the daemon was asked"]);
        assert!(calls.is_empty() && d.asked.borrow().len() == 1);

        // A role but a token we cannot read: refused before any call.
        let bad = with_role.replace(&token, "not-a-jwt");
        let (a, calls) = run("", false, |h| h.kubelet(bad.as_bytes()));
        assert!(!a.success && calls.is_empty());
        assert!(
            a.stderr[0].contains("not a JWT") && !a.stderr[0].contains("not-a-jwt"),
            "{a:?}"
        );
    }

    #[test]
    fn kubelet_runs_end_well_inside_kubelets_minute() {
        assert_eq!(
            kubelet_timeout(Duration::from_secs(5)),
            Duration::from_secs(5)
        );
        let cap = kubelet_timeout(Duration::from_secs(3600));
        // Slowest path: the daemon's first reply and fetch, the lock wait, our own fetch.
        let worst =
            Duration::from_secs(2) + (cap + Duration::from_secs(5)) + (cap + LOCK_SLACK) + cap;
        assert!(
            worst <= kubelet::BUDGET && kubelet::BUDGET < Duration::from_secs(60),
            "{worst:?}"
        );
        assert!(cap >= Duration::from_secs(10), "{cap:?}");
    }

    #[test]
    fn iso8601_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(iso8601(1_795_000_000), "2026-11-18T11:06:40Z");
    }

    #[test]
    fn erase_and_list_always_succeed_on_valid_input() {
        let (a, _) = run("", false, |h| h.erase(HOST.as_bytes()));
        assert!(a.success && a.stdout.is_empty());
        let (a, _) = run("", false, |h| h.erase(b""));
        assert_eq!(a.stdout, "no credentials server URL\n");
        let (a, _) = run("", false, |h| h.list());
        assert!(a.success);
        assert_eq!(a.stdout, "{}\n");
    }
}
