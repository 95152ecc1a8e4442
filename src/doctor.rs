//! `doctor [HOST]`: walk the path a `docker pull` takes to our token and say
//! where it breaks, and how to fix it.
//!
//! The Go helper's users file issue after issue because its failures are
//! silent: docker says "no basic auth credentials" and the reason sits in a
//! log file. The checks run in the order a client meets them — is the binary
//! on PATH under the name docker runs, do the docker and podman configs route
//! the host to it, do AWS credentials resolve (and to whom, per STS), does the
//! token call succeed, does the cache backend work, is the daemon up — and a
//! check whose prerequisite failed is skipped rather than failing noisily.
//!
//! Each client is in one of two modes, and the report says which. docker:
//! `credsStore: "ecr"` sends every registry here (no host can be unrouted),
//! or `credHelpers` entries route named registries. The containers tools:
//! `credential-helpers` listing `ecr` in registries.conf (or a drop-in) asks
//! us for every registry, or `credHelpers` entries in their auth files do.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use crate::cache::Served;
use crate::cache::entry::epoch;
use crate::client_config::registries_conf::{AUTH_FILES, Effective, Locations};
use crate::client_config::{
    ConfigFile, ContainersAuth, HELPER_BINARY, HELPER_SUFFIX, find_on_path,
};
use crate::helper::{Answer, Helper, iso8601};
use crate::token::TokenError;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Works.
    Ok,
    /// Works, but something deserves attention.
    Warn,
    /// Broken: `get` will not give this user a token.
    Fail,
    /// Not checked, because something it needs failed or is absent.
    Skip,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Status::Ok => "✓",
            Status::Warn => "!",
            Status::Fail => "✗",
            Status::Skip => "-",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Which step: path, docker, podman, sso, credentials, token, cache, daemon.
    pub check: &'static str,
    /// The outcome.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do about it.
    pub fix: Option<String>,
}

fn check(check: &'static str, status: Status, detail: String, fix: Option<String>) -> Check {
    Check {
        check,
        status,
        detail,
        fix,
    }
}

/// Where the clients look, as this process sees it.
#[derive(Debug, Clone)]
pub struct Context {
    /// The host to diagnose; `None`: every host docker's config routes to us.
    pub host: Option<String>,
    /// PATH, as clients inherit it.
    pub path_var: OsString,
    /// This binary.
    pub current_exe: Option<PathBuf>,
    /// docker's config.json.
    pub docker: PathBuf,
    /// The containers tools' auth files.
    pub containers: ContainersAuth,
    /// Where the containers tools read `credential-helpers` (`None`: no HOME).
    pub registries: Option<Locations>,
    /// The region to ask STS in when no host names one.
    pub default_region: String,
}

/// Runs every check and renders the report (human or `--json`); fails if any check failed.
pub fn run(helper: &Helper, context: &Context, json: bool) -> Answer {
    let checks = checks(helper, context);
    let ok = checks.iter().all(|c| c.status != Status::Fail);
    let stdout = if json {
        let doc = serde_json::json!({ "ok": ok, "host": context.host, "checks": checks });
        format!("{doc}\n")
    } else {
        render(&checks)
    };
    Answer {
        stdout,
        stderr: Vec::new(),
        success: ok,
    }
}

fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        out.push_str(&format!(
            "{} {:<11} {}\n",
            c.status.mark(),
            c.check,
            c.detail
        ));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("  {:<11} fix: {fix}\n", ""));
        }
    }
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    out.push_str(&match failed {
        0 => "no problems found\n".to_string(),
        1 => "1 problem found\n".to_string(),
        n => format!("{n} problems found\n"),
    });
    out
}

fn checks(helper: &Helper, context: &Context) -> Vec<Check> {
    let mut out = vec![path_check(context)];
    let docker = ConfigFile::load(&context.docker);
    let hosts = match (&context.host, &docker) {
        (Some(host), _) => vec![host.clone()],
        (None, Ok(file)) => file
            .cred_helpers()
            .into_iter()
            .filter(|(_, helper)| *helper == HELPER_SUFFIX)
            .map(|(host, _)| host.to_string())
            .collect(),
        (None, Err(_)) => Vec::new(),
    };
    // credsStore naming us: every registry is ours, whatever credHelpers lists.
    let store_mode = docker
        .as_ref()
        .ok()
        .and_then(ConfigFile::creds_store)
        .is_some_and(|s| suffix_is_us(s, context).is_ok());
    match &docker {
        Err(e) => out.push(check("docker", Status::Fail, e.to_string(), None)),
        Ok(file) if hosts.is_empty() => out.push(docker_mode(file, context)),
        Ok(file) => {
            for host in &hosts {
                out.push(docker_route(file, host, context));
            }
        }
    }
    let registries = context.registries.as_ref().map(|l| l.helpers(None));
    for host in &hosts {
        out.push(containers_route(host, context, registries.as_ref()));
    }
    if hosts.is_empty() {
        out.extend(containers_mode(context, registries.as_ref(), store_mode));
    }
    if let Some(effective) = &registries {
        out.extend(effective.problems.iter().map(|p| {
            check(
                "podman",
                Status::Warn,
                format!("{p}: podman, buildah and skopeo refuse to start until it is fixed"),
                None,
            )
        }));
    }
    aws_checks(helper, context, &hosts, store_mode, &mut out);
    out.push(cache_check(helper));
    out.push(daemon_check());
    out
}

/// docker's mode when no ECR host is named: credsStore for everything, or nothing routed.
fn docker_mode(file: &ConfigFile, context: &Context) -> Check {
    let shown = file.path.display();
    let store = file.creds_store();
    if let Some(store) = store.filter(|s| suffix_is_us(s, context).is_ok()) {
        return check(
            "docker",
            Status::Ok,
            format!(
                "{shown}: credsStore mode: \"credsStore\": {store:?} sends every registry to \
                 {HELPER_BINARY} (ECR hosts of any account and region, and other registries' logins)"
            ),
            None,
        );
    }
    let detail = match store {
        Some(other) => format!(
            "{shown} routes no registry to {HELPER_BINARY}: \"credsStore\": {other:?} answers \
             for every registry"
        ),
        None => format!("{shown} routes no registry to {HELPER_BINARY}"),
    };
    check("docker", Status::Fail, detail, Some(route_fix(None, store)))
}

/// How to route `host` (or every registry) here, given the credsStore in place.
fn route_fix(host: Option<&str>, store: Option<&str>) -> String {
    let registry = host.unwrap_or("<account>.dkr.ecr.<region>.amazonaws.com");
    let copied = match store {
        Some(old) if old != HELPER_SUFFIX => {
            format!("; it copies docker-credential-{old}'s logins first")
        }
        _ => String::new(),
    };
    format!(
        "{HELPER_BINARY} configure --registry {registry} (or --store for every registry{copied})"
    )
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn path_check(context: &Context) -> Check {
    let here = context
        .current_exe
        .as_ref()
        .and_then(|p| p.parent())
        .map(|d| d.display().to_string())
        .unwrap_or_else(|| "<its directory>".to_string());
    match find_on_path(HELPER_BINARY, &context.path_var) {
        None => check(
            "path",
            Status::Fail,
            format!("{HELPER_BINARY} is not on PATH, where docker and podman look for it"),
            Some(format!(
                "export PATH=\"{here}:$PATH\" (or install with ./install.sh)"
            )),
        ),
        Some(found) => match &context.current_exe {
            Some(exe) if !same_file(&found, exe) => check(
                "path",
                Status::Warn,
                format!(
                    "PATH finds {} first, not this binary ({})",
                    found.display(),
                    exe.display()
                ),
                Some("remove or update the other copy".to_string()),
            ),
            _ => check("path", Status::Ok, found.display().to_string(), None),
        },
    }
}

/// Whether `docker-credential-<suffix>` on PATH is this helper (our name, or a compatibility link).
fn suffix_is_us(suffix: &str, context: &Context) -> Result<(), String> {
    if suffix == HELPER_SUFFIX {
        return Ok(());
    }
    let name = format!("docker-credential-{suffix}");
    match (find_on_path(&name, &context.path_var), &context.current_exe) {
        (Some(found), Some(exe)) if same_file(&found, exe) => Ok(()),
        (Some(found), _) => Err(format!("{name} ({})", found.display())),
        (None, _) => Err(format!("{name}, which is not on PATH")),
    }
}

fn docker_route(file: &ConfigFile, host: &str, context: &Context) -> Check {
    let shown = file.path.display();
    let fix = Some(route_fix(Some(host), file.creds_store()));
    let (how, suffix) = match (file.cred_helper(host), file.creds_store()) {
        (Some(helper), _) => ("credHelpers", helper),
        (None, Some(store)) => ("credsStore", store),
        (None, None) => {
            return check(
                "docker",
                Status::Fail,
                format!("{shown} has no credHelpers entry for {host}"),
                fix,
            );
        }
    };
    let routes = match how {
        "credsStore" => format!("credsStore mode: credsStore routes {host}, and every registry,"),
        _ => format!("credHelpers mode: credHelpers routes {host}"),
    };
    match suffix_is_us(suffix, context) {
        Ok(()) => check(
            "docker",
            Status::Ok,
            format!("{shown}: {routes} to docker-credential-{suffix}"),
            None,
        ),
        Err(other) => check(
            "docker",
            Status::Fail,
            format!("{shown}: {how} routes {host} to {other}, not to {HELPER_BINARY}"),
            fix,
        ),
    }
}

/// Whether registries.conf asks us, and whether the auth files are asked before us.
fn conf_order(registries: Option<&Effective>) -> (bool, bool) {
    let Some(effective) = registries else {
        return (false, true);
    };
    let position = |name: &str| effective.helpers.iter().position(|h| h == name);
    let ours = position(HELPER_SUFFIX);
    let auth_first = match (position(AUTH_FILES), ours) {
        (Some(auth), Some(ours)) => auth < ours,
        (auth, _) => auth.is_some(),
    };
    (ours.is_some(), auth_first)
}

fn conf_source(effective: &Effective) -> String {
    effective
        .from
        .as_ref()
        .map_or("registries.conf".to_string(), |p| p.display().to_string())
}

/// The containers tools' mode when no ECR host is named.
fn containers_mode(
    context: &Context,
    registries: Option<&Effective>,
    store_mode: bool,
) -> Option<Check> {
    let (ours, _) = conf_order(registries);
    if let Some(effective) = registries.filter(|_| ours) {
        return Some(check(
            "podman",
            Status::Ok,
            format!(
                "{}: credential-helpers mode: {:?}: podman, buildah and skopeo ask \
                 {HELPER_BINARY} for every registry",
                conf_source(effective),
                effective.helpers
            ),
            None,
        ));
    }
    let installed = ["podman", "buildah", "skopeo"]
        .iter()
        .any(|t| find_on_path(t, &context.path_var).is_some());
    (store_mode && installed).then(|| {
        check(
            "podman",
            Status::Warn,
            "podman, buildah and skopeo ignore docker's credsStore, and no registries.conf \
             credential-helpers list names \"ecr\""
                .to_string(),
            Some(format!("{HELPER_BINARY} configure --store --podman")),
        )
    })
}

fn containers_route(host: &str, context: &Context, registries: Option<&Effective>) -> Check {
    let tools = ["podman", "buildah", "skopeo"];
    let files = context.containers.lookup_order(Some(&context.docker));
    let installed = tools
        .iter()
        .any(|t| find_on_path(t, &context.path_var).is_some());
    let fix = Some(format!(
        "{HELPER_BINARY} configure --podman --registry {host} (or --podman --store for every \
         registry)"
    ));
    let (conf_routes, auth_first) = conf_order(registries);
    // containers/image tries credential-helpers in order; "containers-auth.json"
    // is the auth files, where the first file with an entry wins and, in a
    // file, credHelpers wins over a stored token.
    for file in files
        .iter()
        .filter(|_| auth_first)
        .filter_map(|p| ConfigFile::load(p).ok())
    {
        let shown = file.path.display();
        if let Some(suffix) = file.cred_helper(host) {
            return match suffix_is_us(suffix, context) {
                Ok(()) => check(
                    "podman",
                    Status::Ok,
                    format!(
                        "{shown}: credHelpers mode: credHelpers routes {host} to \
                         docker-credential-{suffix}"
                    ),
                    None,
                ),
                Err(other) => check(
                    "podman",
                    Status::Fail,
                    format!(
                        "{shown}: credHelpers routes {host} to {other}, not to {HELPER_BINARY}"
                    ),
                    fix,
                ),
            };
        }
        if file.has_stored_auth(host) {
            return check(
                "podman",
                Status::Fail,
                format!(
                    "{shown} holds a token stored by `podman login` for {host}; podman, buildah \
                     and skopeo use it instead of the helper, and it expires within 12 hours"
                ),
                Some(format!("podman logout {host}")),
            );
        }
    }
    if let Some(effective) = registries.filter(|_| conf_routes) {
        return check(
            "podman",
            Status::Ok,
            format!(
                "{}: credential-helpers mode: {:?}: podman, buildah and skopeo ask \
                 {HELPER_BINARY} for {host}, and every registry",
                conf_source(effective),
                effective.helpers
            ),
            None,
        );
    }
    if !installed {
        return check(
            "podman",
            Status::Skip,
            "podman, buildah and skopeo are not on PATH".to_string(),
            None,
        );
    }
    let read: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    check(
        "podman",
        Status::Fail,
        format!(
            "no file routes {host} to {HELPER_BINARY} (read: {}, and registries.conf's \
             credential-helpers)",
            read.join(", ")
        ),
        fix,
    )
}

/// Credentials, then a token per host; in credsStore mode with no host
/// named, a token for the caller's own registry in the default region.
fn aws_checks(
    helper: &Helper,
    context: &Context,
    hosts: &[String],
    store_mode: bool,
    out: &mut Vec<Check>,
) {
    let mut prepared: Vec<(String, Result<Option<crate::helper::Prepared>, String>)> = hosts
        .iter()
        .map(|h| (h.clone(), helper.prepare(h)))
        .collect();
    // Credentials are checked as the first ECR host would use them (its profile and role).
    let first = prepared.iter().find_map(|(_, p)| p.as_ref().ok()?.as_ref());
    let region = first
        .map_or(context.default_region.as_str(), |p| p.registry.api_region())
        .to_string();
    let first_account = first
        .and_then(|p| p.registry.account_id())
        .map(str::to_string);
    let options = match first.map(|p| Ok(p.options.clone())) {
        Some(options) => options,
        None => helper.plain_options(),
    };
    if let Ok(options) = &options
        && let Some(sso) = sso_check(options)
    {
        out.push(sso);
    }
    let identity = options.map_err(|e| (e, None)).and_then(|options| {
        crate::token::aws::caller_identity(&region, &options).map_err(|e| {
            let fix = credentials_fix(&e);
            (format!("STS GetCallerIdentity in {region}: {e}"), fix)
        })
    });
    let credentials_ok = match identity {
        Ok(identity) => {
            if hosts.is_empty() && store_mode {
                let own = crate::registry::private_host(&identity.account, &region);
                prepared.push((own.clone(), helper.prepare(&own)));
            }
            let mut detail = format!("{} (account {})", identity.arn, identity.account);
            if let Some(other) = first_account.filter(|a| *a != identity.account) {
                detail.push_str(&format!(
                    "; the registry is in account {other}: its repository policies must allow \
                     this principal"
                ));
            }
            out.push(check("credentials", Status::Ok, detail, None));
            true
        }
        Err((reason, fix)) => {
            out.push(check("credentials", Status::Fail, reason, fix));
            false
        }
    };
    for (host, prepared) in &prepared {
        out.push(match prepared {
            Err(reason) => check("token", Status::Fail, reason.clone(), None),
            Ok(None) => check(
                "token",
                Status::Fail,
                format!("{host} is not an Amazon ECR registry host"),
                Some(format!(
                    "map it to a registry in {HELPER_BINARY}'s config file, or remove it"
                )),
            ),
            Ok(Some(_)) if !credentials_ok => check(
                "token",
                Status::Skip,
                format!("{host}: needs working credentials"),
                None,
            ),
            Ok(Some(p)) => token_check(helper, host, p),
        });
    }
}

/// The SSO session the credentials depend on: when it ends, a warning
/// within the hour, a failure once it has ended (with the login command).
fn sso_check(options: &crate::token::FetchOptions) -> Option<Check> {
    use crate::sso::TokenState;
    let (login, state) = crate::token::aws::sso_status(options).ok()??;
    let name = match &login.session {
        Some(session) => format!("SSO session {session} (profile {})", login.profile),
        None => format!("SSO login of profile {}", login.profile),
    };
    let fix = Some(login.command());
    let now = epoch(SystemTime::now());
    Some(match state {
        TokenState::Valid(until) if until.saturating_sub(now) < 3600 => check(
            "sso",
            Status::Warn,
            format!(
                "{name} ends within the hour, at {} ({} min left)",
                iso8601(until),
                until.saturating_sub(now) / 60
            ),
            fix,
        ),
        TokenState::Valid(until) => check(
            "sso",
            Status::Ok,
            format!("{name} valid until {}", iso8601(until)),
            None,
        ),
        TokenState::Expired(at) => check(
            "sso",
            Status::Fail,
            format!("{name} expired at {}", iso8601(at)),
            fix,
        ),
        TokenState::Missing => check(
            "sso",
            Status::Fail,
            format!("{name}: no cached token (not logged in)"),
            fix,
        ),
        TokenState::Unreadable => check(
            "sso",
            Status::Fail,
            format!("{name}: the cached token cannot be read"),
            fix,
        ),
    })
}

fn credentials_fix(e: &TokenError) -> Option<String> {
    match e {
        TokenError::NoCredentials { .. } => Some(
            "set AWS_PROFILE, export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws configure` \
             / `aws sso login`"
                .to_string(),
        ),
        TokenError::CredentialsRejected { .. } | TokenError::CredentialsUnavailable { .. } => {
            Some("refresh the credentials (e.g. `aws sso login`) and retry".to_string())
        }
        _ => None,
    }
}

/// Calls GetAuthorizationToken for real (a fresh token replaces the cached one).
fn token_check(helper: &Helper, host: &str, prepared: &crate::helper::Prepared) -> Check {
    let now = epoch(SystemTime::now());
    match helper.direct(prepared, Some(now.saturating_sub(1))) {
        Ok(found) => {
            let how = match found.served {
                Served::Fetched => "GetAuthorizationToken succeeded",
                _ => "another process had just refreshed it",
            };
            let until = found
                .token
                .expires_at
                .map(|t| format!("; valid until {}", iso8601(epoch(t))))
                .unwrap_or_default();
            check(
                "token",
                Status::Ok,
                format!("{host}: {how}{until} (identity {})", prepared.key.label),
                None,
            )
        }
        Err(e) => check("token", Status::Fail, format!("{host}: {e}"), None),
    }
}

fn cache_check(helper: &Helper) -> Check {
    let choice = crate::cache::Choice::from_env(|k| std::env::var(k).ok());
    let Some(cache) = (helper.cache)() else {
        return match choice {
            Ok(crate::cache::Choice::None) => check(
                "cache",
                Status::Warn,
                format!(
                    "caching is off ({}): every get calls AWS, which ECR throttles per account",
                    crate::cache::CACHE_ENV
                ),
                Some(format!(
                    "unset {} and AWS_ECR_DISABLE_CACHE",
                    crate::cache::CACHE_ENV
                )),
            ),
            Err(e) => check("cache", Status::Fail, e, None),
            Ok(_) => check(
                "cache",
                Status::Fail,
                "no cache backend works here".to_string(),
                Some(format!("set {}=file", crate::cache::CACHE_ENV)),
            ),
        };
    };
    let backend = cache.backend_name();
    match cache.probe() {
        Ok(()) => check(
            "cache",
            Status::Ok,
            format!("{backend}: stores and reads back"),
            None,
        ),
        Err(e) => check(
            "cache",
            Status::Fail,
            format!("{backend}: {e}"),
            Some(format!(
                "choose another backend: {}=file",
                crate::cache::CACHE_ENV
            )),
        ),
    }
}

#[cfg(unix)]
fn daemon_check() -> Check {
    use crate::daemon::{self, MODE_ENV, Mode};
    let env = |k: &str| std::env::var(k).ok();
    let mode = match Mode::from_env(env) {
        Ok(mode) => mode,
        Err(e) => return check("daemon", Status::Fail, e, None),
    };
    if mode == Mode::Off {
        return check(
            "daemon",
            Status::Ok,
            format!("off ({MODE_ENV}=off): every get answers directly"),
            None,
        );
    }
    let Some(socket) = daemon::socket_path(env) else {
        return check(
            "daemon",
            Status::Warn,
            "no socket location: set XDG_RUNTIME_DIR or DOCKER_CREDENTIAL_ECR_SOCKET".to_string(),
            None,
        );
    };
    let client = daemon::client::Client::new(socket.clone(), mode);
    match client.status() {
        Ok(Some(status)) => check(
            "daemon",
            Status::Ok,
            format!(
                "running (pid {}, {} token(s), {} AWS call(s), socket {})",
                status.pid,
                status.entries.len(),
                status.api_calls,
                status.socket
            ),
            None,
        ),
        Ok(None) if mode == Mode::Required => check(
            "daemon",
            Status::Fail,
            format!("not running, and {MODE_ENV}=required"),
            Some(format!("{HELPER_BINARY} daemon start")),
        ),
        Ok(None) => check(
            "daemon",
            Status::Ok,
            format!("not running; the next get starts it ({})", socket.display()),
            None,
        ),
        Err(e) => check(
            "daemon",
            Status::Warn,
            format!("{}: {e}; get answers directly meanwhile", socket.display()),
            Some(format!("{HELPER_BINARY} daemon stop, then retry")),
        ),
    }
}

#[cfg(not(unix))]
fn daemon_check() -> Check {
    check(
        "daemon",
        Status::Skip,
        "not available on this platform; get answers directly".to_string(),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_marks_each_check_and_counts_failures() {
        let checks = [
            check(
                "path",
                Status::Ok,
                "/usr/bin/docker-credential-ecr".into(),
                None,
            ),
            check(
                "docker",
                Status::Fail,
                "no entry".into(),
                Some("docker-credential-ecr configure --registry h".into()),
            ),
            check("token", Status::Skip, "needs credentials".into(), None),
        ];
        let text = render(&checks);
        assert!(
            text.contains("✓ path        /usr/bin/docker-credential-ecr\n"),
            "{text}"
        );
        assert!(text.contains("✗ docker      no entry\n"), "{text}");
        assert!(
            text.contains("fix: docker-credential-ecr configure --registry h\n"),
            "{text}"
        );
        assert!(text.contains("- token       needs credentials\n"), "{text}");
        assert!(text.ends_with("1 problem found\n"), "{text}");
    }

    #[test]
    fn credential_helpers_order_decides_whether_auth_files_come_first() {
        let effective = |helpers: &[&str]| Effective {
            helpers: helpers.iter().map(|h| h.to_string()).collect(),
            ..Effective::default()
        };
        let order = |helpers: &[&str]| conf_order(Some(&effective(helpers)));
        assert_eq!(order(&["containers-auth.json"]), (false, true));
        assert_eq!(order(&["containers-auth.json", "ecr"]), (true, true));
        // Asked before the auth files, we win over a stale `podman login` token.
        assert_eq!(order(&["ecr", "containers-auth.json"]), (true, false));
        assert_eq!(order(&["pass"]), (false, false));
        assert_eq!(conf_order(None), (false, true));
    }

    #[test]
    fn json_status_names_are_lowercase() {
        let c = check("cache", Status::Warn, "off".into(), None);
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["status"], "warn");
        assert_eq!(v["check"], "cache");
    }
}
