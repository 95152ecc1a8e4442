//! `configure`: route ECR registries to this helper in docker's and the
//! containers tools' config files, and take exactly that back with `--remove`.
//!
//! Users arrive from `aws ecr get-login-password | docker login` every 12
//! hours; one command must get them to "push and pull just work" without
//! risking the file that also holds their other registries' credentials. So
//! every file is planned before any is written (one bad file means nothing is
//! written), `--dry-run` shows the diff, and what we added is recorded — which
//! entries, and the values they replaced — so `--remove` restores the files
//! byte for byte instead of guessing.
//!
//! Two ways to route registries here. `--registry`/`--region`/`--public` add
//! `credHelpers` entries, one per ECR registry. `--store` makes us docker's
//! `credsStore`, which answers for every registry: ECR hosts of any account
//! and region are minted, every other `docker login` is kept by our `store`.
//! Both can be set at once: docker asks a `credHelpers` entry first, so
//! entries naming `ecr` keep working unchanged under `--store`, and an entry
//! naming another helper keeps that registry on the other helper (configure
//! warns when that helper is not us). Before `--store` replaces another
//! `credsStore`, that store's logins are copied into ours (see [`migrate`]),
//! and `--remove` puts the previous value back exactly.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::client_config::registries_conf::{self, DROP_IN_HEADER, Locations};
use crate::client_config::{
    self, ClientConfigError, ConfigFile, ContainersAuth, HELPER_BINARY, HELPER_SUFFIX,
};
use crate::helper::Answer;
use crate::registry;

pub mod migrate;

/// More `credHelpers` entries than this make the legacy `docker build` visibly slow.
const LONG_LIST: usize = 10;

/// What the user asked `configure` to do, with every path already decided.
#[derive(Debug, Clone)]
pub struct Request {
    /// Canonical ECR registry hosts; empty with `remove` means "everything we added".
    pub hosts: Vec<String>,
    /// docker's config.json.
    pub docker: PathBuf,
    /// The containers tools' auth file to edit (`--podman`), if any.
    pub containers: Option<PathBuf>,
    /// Where the containers tools look, for the stale-token warning.
    pub containers_auth: ContainersAuth,
    /// Undo instead of add.
    pub remove: bool,
    /// Print the diff, write nothing.
    pub dry_run: bool,
    /// The PATH clients will search for our binary.
    pub path_var: OsString,
    /// Where what we added is recorded (`None`: nowhere, `--remove` falls back to matching "ecr").
    pub record: Option<PathBuf>,
    /// `--store`: docker's `credsStore` (every registry) instead of, or besides, `credHelpers`.
    pub store: bool,
    /// How to copy the logins of the `credsStore` that `--store` replaces; `None` copies nothing.
    pub copier: Option<migrate::Copier>,
    /// `AWS_ECR_IGNORE_CREDS_STORAGE=true`: our `store` keeps nothing, so copying would lose logins.
    pub storage_ignored: bool,
    /// `--store --podman`: where the containers tools read `credential-helpers`,
    /// for our drop-in (see [`registries_conf`]).
    pub registries: Option<Locations>,
}

/// Where `configure` records what it added, so `--remove` can undo exactly that.
pub fn default_record_path() -> Option<PathBuf> {
    dirs::data_local_dir().map(|d| d.join("docker-credential-ecr").join("configured.json"))
}

/// Turns `--registry`, `--region` and `--public` into canonical hosts.
///
/// `account` is asked at most once (it costs an STS call), with the first region.
pub fn resolve_hosts(
    registries: &[String],
    regions: &[String],
    public: bool,
    account: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Vec<String>, String> {
    let mut hosts = Vec::new();
    for given in registries {
        match crate::protocol::canonical_host(given).filter(|h| registry::parse_host(h).is_some()) {
            Some(host) => hosts.push(host),
            None => {
                return Err(format!(
                    "{given:?} is not an ECR registry host (<account>.dkr.ecr.<region>.amazonaws.com \
                     or public.ecr.aws); nothing was written"
                ));
            }
        }
    }
    if let Some(first) = regions.first() {
        if let Some(bad) = regions.iter().find(|r| !registry::is_region(r)) {
            return Err(format!(
                "{bad:?} is not an AWS region name; nothing was written"
            ));
        }
        let account = account(first).map_err(|e| {
            format!("cannot tell which account to configure: {e}; nothing was written")
        })?;
        hosts.extend(regions.iter().map(|r| registry::private_host(&account, r)));
    }
    if public {
        hosts.push("public.ecr.aws".to_string());
    }
    let mut seen = std::collections::HashSet::new();
    hosts.retain(|h| seen.insert(h.clone()));
    Ok(hosts)
}

/// What configure added to one file.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileRecord {
    /// The file did not exist before.
    created_file: bool,
    /// The file had no `credHelpers` object before.
    created_cred_helpers: bool,
    /// Each host we set, with the helper it named before (`None`: no entry).
    hosts: BTreeMap<String, Option<String>>,
    /// Set when we made `credsStore` ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    creds_store: Option<StoreRecord>,
}

impl FileRecord {
    /// Nothing of ours is left in the file.
    fn is_empty(&self) -> bool {
        self.hosts.is_empty() && self.creds_store.is_none()
    }
}

/// What `credsStore` was before `--store`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoreRecord {
    /// Its value's JSON text exactly as written (`None`: there was no `credsStore`).
    previous: Option<String>,
}

/// What `--remove` takes back from a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope<'a> {
    /// Everything recorded (`--remove` alone).
    All,
    /// These hosts' `credHelpers` entries, and `credsStore` when `store`.
    Only { hosts: &'a [String], store: bool },
}

impl Scope<'_> {
    fn hosts(&self) -> Option<&[String]> {
        match self {
            Scope::All => None,
            Scope::Only { hosts, .. } => Some(hosts),
        }
    }

    fn store(&self) -> bool {
        match self {
            Scope::All => true,
            Scope::Only { store, .. } => *store,
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    files: BTreeMap<String, FileRecord>,
    /// The containers tools' drop-in we wrote (`--store --podman`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    drop_in: Option<DropInRecord>,
}

/// Our registries.conf drop-in, and the directories created for it.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct DropInRecord {
    path: PathBuf,
    /// Created for the drop-in, outermost first; removed again when empty.
    #[serde(default)]
    created_dirs: Vec<PathBuf>,
}

fn load_record(path: Option<&Path>) -> Record {
    path.and_then(|p| crate::safe_fs::read_limited(p, crate::safe_fs::READ_LIMIT).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn save_record(path: &Path, record: &Record) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(record).map_err(std::io::Error::other)?;
    client_config::write_private(path, &(text + "\n")).map_err(std::io::Error::other)
}

fn record_key(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

/// One file's planned change.
struct Planned {
    path: PathBuf,
    before: String,
    /// The new text; `None` deletes the file (we created it and it is empty again).
    after: Option<String>,
    report: String,
    /// How the file is written.
    kind: Kind,
}

/// Whose file a plan writes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A client's config, edited in place (mode kept, `.bak`, through links).
    ClientConfig,
    /// Our own drop-in, in a directory created under `home` if missing (0600 file, 0700 dirs).
    DropIn { home: PathBuf },
}

/// Runs `configure` (or `configure --remove`).
pub fn run(request: &Request) -> Answer {
    let mut record = load_record(request.record.as_deref());
    let mut targets = vec![request.docker.clone()];
    targets.extend(request.containers.clone());
    targets.dedup();

    let mut plans = Vec::new();
    let mut notes = Vec::new();
    let mut warnings = Vec::new();
    let scope = if request.hosts.is_empty() && !request.store {
        Scope::All
    } else {
        Scope::Only {
            hosts: &request.hosts,
            store: request.store,
        }
    };
    for path in &targets {
        // credsStore is docker's alone: the containers tools ignore it.
        let docker = *path == request.docker;
        let planned = if request.remove {
            let scope = match scope {
                Scope::Only { hosts, .. } if !docker => Scope::Only {
                    hosts,
                    store: false,
                },
                scope => scope,
            };
            plan_remove(path, scope, &mut record, &mut notes)
        } else {
            plan_add(
                path,
                &request.hosts,
                request.store && docker,
                &mut record,
                &mut notes,
            )
        };
        match planned {
            Ok(Some(plan)) => plans.push(plan),
            Ok(None) => {}
            Err(e) => return Answer::failed(e.to_string()),
        }
    }
    if request.remove
        && request.registries.is_none()
        && scope.store()
        && let Some(drop_in) = &record.drop_in
    {
        notes.push(format!(
            "{}: left in place, podman, buildah and skopeo still ask {HELPER_BINARY}: add \
             --podman to remove it too",
            drop_in.path.display()
        ));
    }
    if let Some(locations) = &request.registries {
        let planned = if request.remove {
            plan_drop_in_remove(locations, &mut record, &mut notes)
        } else {
            plan_drop_in_add(locations, &mut record, &mut notes, &mut warnings)
        };
        match planned {
            Ok(Some(plan)) => plans.push(plan),
            Ok(None) => {}
            Err(e) => return Answer::failed(e),
        }
    }
    if !request.remove {
        let docker_after = plans
            .iter()
            .find(|p| p.path == request.docker)
            .and_then(|p| p.after.as_deref());
        warnings.extend(add_warnings(request, docker_after));
    }

    let mut out = String::new();
    let mut copied = Vec::new();
    if request.store && !request.remove {
        match copy_logins(request) {
            Ok(outcome) => {
                copied = outcome.report;
                warnings.extend(outcome.warnings);
            }
            Err(lines) => {
                return Answer {
                    stdout: String::new(),
                    stderr: lines,
                    success: false,
                };
            }
        }
    }
    for plan in &plans {
        if request.dry_run {
            out.push_str(&diff(plan));
            continue;
        }
        let written = match (&plan.kind, &plan.after) {
            (Kind::ClientConfig, Some(text)) => {
                client_config::write_atomic(&plan.path, text).map_err(|e| e.to_string())
            }
            (Kind::DropIn { home }, Some(text)) => write_drop_in(home, plan, text, &mut record),
            (kind, None) => {
                let removed = std::fs::remove_file(&plan.path)
                    .map_err(|e| format!("{}: {e}", plan.path.display()));
                if removed.is_ok() && *kind != Kind::ClientConfig {
                    remove_created_dirs(&mut record);
                }
                removed
            }
        };
        if let Err(e) = written {
            // Files already written stay written; the record below describes them.
            save_and_warn(request, &record, &mut warnings);
            let mut answer = Answer::failed(e);
            answer.stdout = out;
            return answer;
        }
        out.push_str(&plan.report);
    }
    out.extend(copied.iter().chain(&notes).map(|n| format!("{n}\n")));
    if request.dry_run {
        out.push_str("dry run: nothing was written\n");
    } else if !plans.is_empty() {
        save_and_warn(request, &record, &mut warnings);
    }
    Answer {
        stdout: out,
        stderr: warnings,
        success: true,
    }
}

fn save_and_warn(request: &Request, record: &Record, warnings: &mut Vec<String>) {
    if let Some(path) = &request.record
        && let Err(e) = save_record(path, record)
    {
        warnings.push(format!(
            "warning: cannot record what configure changed in {}: {e}; \
             `configure --remove` will remove entries that name \"{HELPER_SUFFIX}\" instead",
            path.display()
        ));
    }
}

fn plan_add(
    path: &Path,
    hosts: &[String],
    store: bool,
    record: &mut Record,
    notes: &mut Vec<String>,
) -> Result<Option<Planned>, ClientConfigError> {
    client_config::check_writable(path)?;
    let mut file = ConfigFile::load(path)?;
    let key = record_key(path);
    let mut entry = record.files.get(&key).cloned().unwrap_or_default();
    entry.created_file |= file.original.is_none();
    entry.created_cred_helpers |= !file.has_cred_helpers();
    let mut added = Vec::new();
    for host in hosts {
        let previous = file.set_cred_helper(host, Some(HELPER_SUFFIX));
        if previous.as_deref() != Some(HELPER_SUFFIX) {
            entry.hosts.entry(host.clone()).or_insert(previous);
            added.push(host.clone());
        }
    }
    if store && file.creds_store() != Some(HELPER_SUFFIX) {
        let previous = file.creds_store_raw();
        added.push(match file.creds_store() {
            Some(old) => format!("credsStore (every registry; was {old:?})"),
            None => "credsStore (every registry)".to_string(),
        });
        // The value in effect now is the one --remove must give back.
        entry.creds_store = Some(StoreRecord { previous });
        file.set_creds_store_raw(Some(&json_string(HELPER_SUFFIX)));
    }
    let shown = path.display();
    let Some(after) = file.changed_text() else {
        let mut what: Vec<String> = hosts.to_vec();
        if store {
            what.push("every registry (credsStore)".to_string());
        }
        notes.push(format!(
            "{shown}: already routes {} to {HELPER_BINARY}",
            what.join(", ")
        ));
        return Ok(None);
    };
    let backup = match &file.original {
        Some(_) => format!(
            " (previous version: {})",
            client_config::backup_path(path).display()
        ),
        None => String::new(),
    };
    record.files.insert(key, entry);
    Ok(Some(Planned {
        path: path.to_path_buf(),
        before: file.original.clone().unwrap_or_default(),
        after: Some(after),
        report: format!(
            "updated {shown}: {} -> {HELPER_BINARY}{backup}\n",
            added.join(", ")
        ),
        kind: Kind::ClientConfig,
    }))
}

fn plan_remove(
    path: &Path,
    scope: Scope,
    record: &mut Record,
    notes: &mut Vec<String>,
) -> Result<Option<Planned>, ClientConfigError> {
    let shown = path.display();
    let mut file = ConfigFile::load(path)?;
    let key = record_key(path);
    let mut entry = record.files.get(&key).cloned();
    if file.original.is_none() {
        notes.push(format!("{shown}: does not exist, nothing to remove"));
        record.files.remove(&key);
        return Ok(None);
    }
    client_config::check_writable(path)?;
    let targets: Vec<String> = match (&entry, scope.hosts()) {
        (_, Some(hosts)) => hosts.to_vec(),
        (Some(entry), None) => entry.hosts.keys().cloned().collect(),
        // No record (state lost): everything that names us.
        (None, None) => file
            .cred_helpers()
            .into_iter()
            .filter(|(_, helper)| *helper == HELPER_SUFFIX)
            .map(|(host, _)| host.to_string())
            .collect(),
    };
    let mut removed = Vec::new();
    for host in &targets {
        let previous = entry.as_mut().and_then(|e| e.hosts.remove(host)).flatten();
        match file.cred_helper(host) {
            Some(HELPER_SUFFIX) => {
                file.set_cred_helper(host, previous.as_deref());
                removed.push(match &previous {
                    Some(helper) => format!("{host} (back to {helper:?})"),
                    None => host.clone(),
                });
            }
            Some(other) => notes.push(format!(
                "{shown}: left {host} alone: it now names {other:?}, not {HELPER_SUFFIX:?}"
            )),
            None => {}
        }
    }
    if scope.store() {
        let recorded = entry.as_mut().and_then(|e| e.creds_store.take());
        match file.creds_store() {
            Some(HELPER_SUFFIX) => {
                let previous = recorded.and_then(|r| r.previous);
                file.set_creds_store_raw(previous.as_deref());
                removed.push(match &previous {
                    Some(raw) => format!("credsStore (back to {raw})"),
                    None => "credsStore".to_string(),
                });
            }
            Some(other) if recorded.is_some() => notes.push(format!(
                "{shown}: left credsStore alone: it now names {other:?}, not {HELPER_SUFFIX:?}"
            )),
            _ => {}
        }
    }
    let mut delete = false;
    if let Some(entry) = &entry
        && entry.is_empty()
    {
        if entry.created_cred_helpers {
            file.drop_empty_cred_helpers();
        }
        delete = entry.created_file && file.is_empty();
    }
    match entry {
        Some(e) if !e.is_empty() => {
            record.files.insert(key, e);
        }
        _ => {
            record.files.remove(&key);
        }
    }
    let before = file.original.clone().unwrap_or_default();
    if delete {
        return Ok(Some(Planned {
            path: path.to_path_buf(),
            before,
            after: None,
            report: format!("removed {shown}: configure had created it\n"),
            kind: Kind::ClientConfig,
        }));
    }
    let Some(after) = file.changed_text() else {
        notes.push(format!("{shown}: nothing of ours to remove"));
        return Ok(None);
    };
    Ok(Some(Planned {
        path: path.to_path_buf(),
        before,
        after: Some(after),
        report: format!(
            "updated {shown}: removed {} (previous version: {})\n",
            removed.join(", "),
            client_config::backup_path(path).display()
        ),
        kind: Kind::ClientConfig,
    }))
}

/// Plans our registries.conf drop-in: the helpers the other files set, then
/// `ecr`. A file of that name we did not write is refused, not replaced.
fn plan_drop_in_add(
    locations: &Locations,
    record: &mut Record,
    notes: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<Option<Planned>, String> {
    let path = locations.drop_in();
    let shown = path.display();
    // Checked now, so a directory we may not write in stops everything before any file is written.
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::safe_fs::own_dir_usable_under(&locations.home, dir)
        .map_err(|e| format!("{e}; nothing was written"))?;
    let before = read_drop_in(&path)?;
    if before
        .as_deref()
        .is_some_and(|t| !t.starts_with(DROP_IN_HEADER))
    {
        return Err(format!(
            "{shown} exists and was not written by configure: move it away, or add \
             \"{HELPER_SUFFIX}\" to its credential-helpers yourself; nothing was written"
        ));
    }
    let previous = locations.helpers(Some(&path));
    warnings.extend(previous.problems.iter().map(|p| {
        format!("warning: {p}: podman, buildah and skopeo refuse to start until it is fixed")
    }));
    let after = registries_conf::drop_in_text(&previous.helpers, HELPER_SUFFIX);
    for (file, helpers) in later_overrides(locations, &path) {
        warnings.push(format!(
            "warning: {} comes after {shown} and sets credential-helpers = {helpers:?}, \
             which replaces ours: add \"{HELPER_SUFFIX}\" there",
            file.display()
        ));
    }
    if before.is_none() && previous.includes(HELPER_SUFFIX) {
        let from = previous
            .from
            .map_or("registries.conf".to_string(), |f| f.display().to_string());
        notes.push(format!(
            "{from}: credential-helpers already lists \"{HELPER_SUFFIX}\": podman, buildah and \
             skopeo already ask {HELPER_BINARY} for every registry"
        ));
        return Ok(None);
    }
    if before.as_deref() == Some(after.as_str()) {
        notes.push(format!(
            "{shown}: already makes podman, buildah and skopeo ask {HELPER_BINARY} for every registry"
        ));
        return Ok(None);
    }
    let recorded = record.drop_in.get_or_insert_with(DropInRecord::default);
    recorded.path = path.clone();
    let verb = if before.is_some() {
        "updated"
    } else {
        "created"
    };
    Ok(Some(Planned {
        path: path.clone(),
        before: before.unwrap_or_default(),
        report: format!(
            "{verb} {shown}: podman, buildah and skopeo ask {HELPER_BINARY} for every registry \
             (credential-helpers = {:?})\n",
            with_suffix(&previous.helpers)
        ),
        after: Some(after),
        kind: Kind::DropIn {
            home: locations.home.clone(),
        },
    }))
}

fn with_suffix(helpers: &[String]) -> Vec<String> {
    let mut all = helpers.to_vec();
    if !all.iter().any(|h| h == HELPER_SUFFIX) {
        all.push(HELPER_SUFFIX.to_string());
    }
    all
}

/// User drop-ins read after ours that set `credential-helpers` without us: theirs wins.
fn later_overrides(locations: &Locations, ours: &Path) -> Vec<(PathBuf, Vec<String>)> {
    locations
        .files()
        .into_iter()
        .filter(|f| f.parent() == ours.parent() && f.file_name() > ours.file_name())
        .filter_map(|f| {
            let text =
                crate::safe_fs::read_text_if_exists(&f, crate::safe_fs::READ_LIMIT).ok()??;
            let helpers = registries_conf::parse_helpers(&text).ok()??;
            (!helpers.iter().any(|h| h == HELPER_SUFFIX)).then_some((f, helpers))
        })
        .collect()
}

/// Plans deleting our drop-in: only a file that still carries our header.
fn plan_drop_in_remove(
    locations: &Locations,
    record: &mut Record,
    notes: &mut Vec<String>,
) -> Result<Option<Planned>, String> {
    let path = record
        .drop_in
        .as_ref()
        .map_or_else(|| locations.drop_in(), |r| r.path.clone());
    let shown = path.display();
    // Unlinking is writing: never in a directory that is not ours (root with a user's HOME).
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::safe_fs::own_dir_usable_under(&locations.home, dir)
        .map_err(|e| format!("{e}; nothing was written"))?;
    let Some(before) = read_drop_in(&path)? else {
        if record.drop_in.take().is_some() {
            notes.push(format!("{shown}: does not exist, nothing to remove"));
        }
        return Ok(None);
    };
    if !before.starts_with(DROP_IN_HEADER) {
        notes.push(format!(
            "{shown}: left alone: it no longer starts with configure's header"
        ));
        record.drop_in = None;
        return Ok(None);
    }
    Ok(Some(Planned {
        path: path.clone(),
        before,
        after: None,
        report: format!(
            "removed {shown}: podman, buildah and skopeo no longer ask {HELPER_BINARY} for every \
             registry\n"
        ),
        kind: Kind::DropIn {
            home: locations.home.clone(),
        },
    }))
}

fn read_drop_in(path: &Path) -> Result<Option<String>, String> {
    crate::safe_fs::read_text_if_exists(path, crate::safe_fs::READ_LIMIT)
        .map_err(|e| format!("{e}; nothing was written"))
}

/// Creates the drop-in's directory where missing (0700, only under `home`,
/// which must be ours) and writes the file 0600 through a fresh temporary file.
fn write_drop_in(
    home: &Path,
    plan: &Planned,
    text: &str,
    record: &mut Record,
) -> Result<(), String> {
    let dir = plan.path.parent().unwrap_or(Path::new("."));
    let created = crate::safe_fs::ensure_own_dir_under(home, dir).map_err(|e| e.to_string())?;
    if let Some(recorded) = record.drop_in.as_mut() {
        recorded.created_dirs.extend(created);
    }
    crate::safe_fs::write_atomic(&plan.path, text.as_bytes()).map_err(|e| e.to_string())
}

/// Removes the directories created for the drop-in, innermost first, while empty.
fn remove_created_dirs(record: &mut Record) {
    if let Some(recorded) = record.drop_in.take() {
        for dir in recorded.created_dirs.iter().rev() {
            if std::fs::remove_dir(dir).is_err() {
                break;
            }
        }
    }
}

/// A helper name as a JSON string.
fn json_string(name: &str) -> String {
    // Serialising a string cannot fail.
    serde_json::to_string(name).unwrap_or_default()
}

/// Stores that only ever hold ECR tokens: nothing of theirs needs copying
/// (the Go helper, whose `list` may also need AWS and fail without it).
const ECR_ONLY: [&str; 1] = ["ecr-login"];

/// What copying the replaced store's logins said.
#[derive(Debug, Default)]
struct Copied {
    /// For the report on stdout.
    report: Vec<String>,
    /// For stderr.
    warnings: Vec<String>,
}

/// Copies (with `--dry-run`: lists) the logins of the `credsStore` that
/// `--store` is about to replace; `Err` holds one line per failure, and then
/// nothing may be written.
fn copy_logins(request: &Request) -> Result<Copied, Vec<String>> {
    let mut copied = Copied::default();
    let Some(copier) = &request.copier else {
        return Ok(copied);
    };
    let docker = ConfigFile::load(&request.docker).map_err(|e| vec![e.to_string()])?;
    let Some(old) = docker.creds_store().filter(|s| *s != HELPER_SUFFIX) else {
        return Ok(copied);
    };
    let program = format!("docker-credential-{old}");
    if ECR_ONLY.contains(&old) {
        copied.report.push(format!(
            "{program} only holds ECR tokens, which {HELPER_BINARY} mints itself: nothing to copy"
        ));
        return Ok(copied);
    }
    let kept = format!("\"credsStore\": {old:?} still in place; nothing was written");
    let Some(exe) = copier.locate(old) else {
        copied.warnings.push(format!(
            "warning: {program} is not on PATH, so docker cannot read its logins either: \
             there is nothing to copy"
        ));
        return Ok(copied);
    };
    let listing = copier
        .list(old, &exe)
        .map_err(|e| vec![format!("cannot copy the logins in {program}: {e}; {kept}")])?;
    if !listing.skipped.is_empty() {
        copied.report.push(format!(
            "not copied from {program}: {} ({HELPER_BINARY} mints ECR tokens itself)",
            listing.skipped.join(", ")
        ));
    }
    if listing.copy.is_empty() {
        copied
            .report
            .push(format!("{program} holds no other logins: nothing to copy"));
        return Ok(copied);
    }
    let names: Vec<&str> = listing.copy.iter().map(|l| l.server.as_str()).collect();
    let names = names.join(", ");
    let count = listing.copy.len();
    if request.storage_ignored {
        return Err(vec![format!(
            "AWS_ECR_IGNORE_CREDS_STORAGE=true makes {HELPER_BINARY} keep no logins, so the {count} \
             in {program} ({names}) would be lost: unset it, or log in again after switching; {kept}"
        )]);
    }
    if request.dry_run {
        copied.report.push(format!(
            "would copy {count} login(s) from {program} into {HELPER_BINARY}: {names}"
        ));
        return Ok(copied);
    }
    // Every login is read before any is stored: a failing old store copies nothing.
    let mut errors = Vec::new();
    let mut logins = Vec::new();
    for login in &listing.copy {
        match copier.get(old, &exe, &login.server) {
            Ok(credentials) => logins.push(credentials),
            Err(e) => {
                let wedged = matches!(e, migrate::MigrateError::TimedOut { .. });
                errors.push(format!("cannot copy {}: {e}", login.server));
                // The next get would hang the same way.
                if wedged {
                    break;
                }
            }
        }
    }
    if errors.is_empty() {
        for credentials in &logins {
            match copier.store(credentials) {
                Ok(said) => {
                    for line in said {
                        if !copied.warnings.contains(&line) {
                            copied.warnings.push(line);
                        }
                    }
                }
                Err(e) => errors.push(format!("cannot copy {}: {e}", credentials.server)),
            }
        }
    }
    if !errors.is_empty() {
        errors.push(format!("no login was lost: {kept}"));
        return Err(errors);
    }
    copied.report.push(format!(
        "copied {count} login(s) from {program} into {HELPER_BINARY}: {names}; {program} keeps \
         its copies, so `{HELPER_BINARY} configure --remove` restores \"credsStore\": {old:?} \
         with nothing lost"
    ));
    Ok(copied)
}

/// Things that will still stop the helper from being used after a successful configure.
fn add_warnings(request: &Request, docker_after: Option<&str>) -> Vec<String> {
    let mut warnings = Vec::new();
    if client_config::find_on_path(HELPER_BINARY, &request.path_var).is_none() {
        warnings.push(format!(
            "warning: {HELPER_BINARY} is not on PATH, and docker and podman look it up there: \
             add its directory to PATH (run `{HELPER_BINARY} doctor` to check)"
        ));
    }
    let docker = match docker_after {
        Some(text) => ConfigFile::parse(&request.docker, Some(text)),
        None => ConfigFile::load(&request.docker),
    };
    if let Ok(docker) = docker {
        if let Some(store) = docker.creds_store().filter(|s| *s != HELPER_SUFFIX) {
            warnings.push(format!(
                "warning: {}: \"credsStore\": {store:?} still answers for every registry not in \
                 credHelpers: other ECR registries, and the host:443 and https:// forms nerdctl \
                 and crane ask for, go to docker-credential-{store}",
                request.docker.display()
            ));
        }
        if request.store && docker.creds_store() == Some(HELPER_SUFFIX) {
            for (host, helper) in docker.cred_helpers() {
                if helper != HELPER_SUFFIX && registry::parse_host(host).is_some() {
                    warnings.push(format!(
                        "warning: {}: credHelpers still sends {host} to docker-credential-{helper} \
                         (docker asks credHelpers before credsStore): run `{HELPER_BINARY} \
                         configure --registry {host}` or delete that entry",
                        request.docker.display()
                    ));
                }
            }
        }
        let tools = ["podman", "buildah", "skopeo"];
        let installed = tools
            .iter()
            .any(|t| client_config::find_on_path(t, &request.path_var).is_some());
        if request.store && request.registries.is_none() && installed {
            warnings.push(
                "warning: podman, buildah and skopeo ignore docker's credsStore: add --podman \
                 to route every registry here for them too"
                    .to_string(),
            );
        }
        let count = docker.cred_helpers().len();
        if count > LONG_LIST {
            warnings.push(format!(
                "warning: {} has {count} credHelpers entries: the legacy `docker build` \
                 (DOCKER_BUILDKIT=0) runs every one of them before each build; BuildKit does not",
                request.docker.display()
            ));
        }
    }
    // A token `podman login` stored is read before any credHelpers entry and dies in 12 hours.
    let auth = &request.containers_auth;
    for file in auth
        .lookup_order(None)
        .iter()
        .filter_map(|p| ConfigFile::load(p).ok())
    {
        for host in request.hosts.iter().filter(|h| file.has_stored_auth(h)) {
            warnings.push(format!(
                "warning: {} holds a token stored by `podman login` for {host}; podman, buildah \
                 and skopeo use it instead of the helper until it expires (12 hours): run \
                 `podman logout {host}`",
                file.path.display()
            ));
        }
    }
    if let Some(file) = &auth.override_file
        && request.containers.as_ref() != Some(file)
    {
        warnings.push(format!(
            "warning: REGISTRY_AUTH_FILE={} makes podman, buildah and skopeo read only that file; \
             run configure with --podman to add the entries there",
            file.display()
        ));
    }
    warnings
}

fn diff(plan: &Planned) -> String {
    let after = plan.after.as_deref().unwrap_or_default();
    let shown = plan.path.display().to_string();
    let mut text = similar::TextDiff::from_lines(plan.before.as_str(), after)
        .unified_diff()
        .header(&shown, &shown)
        .to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_sts(_: &str) -> Result<String, String> {
        panic!("STS must not be called")
    }

    #[test]
    fn resolve_hosts_canonicalises_and_asks_sts_once() {
        let hosts = resolve_hosts(
            &["https://123456789012.dkr.ecr.us-east-1.amazonaws.com/".into()],
            &[],
            true,
            &no_sts,
        )
        .unwrap();
        assert_eq!(
            hosts,
            [
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                "public.ecr.aws"
            ]
        );

        let calls = std::cell::Cell::new(0);
        let sts = |region: &str| {
            calls.set(calls.get() + 1);
            assert_eq!(region, "eu-west-1");
            Ok("210987654321".to_string())
        };
        let hosts =
            resolve_hosts(&[], &["eu-west-1".into(), "cn-north-1".into()], false, &sts).unwrap();
        assert_eq!(calls.get(), 1);
        assert_eq!(
            hosts,
            [
                "210987654321.dkr.ecr.eu-west-1.amazonaws.com",
                "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn"
            ]
        );
    }

    #[test]
    fn resolve_hosts_refuses_what_is_not_ecr() {
        let e = resolve_hosts(&["ghcr.io".into()], &[], false, &no_sts).unwrap_err();
        assert!(e.contains("\"ghcr.io\" is not an ECR registry host"), "{e}");
        let e = resolve_hosts(&[], &["Not A Region".into()], false, &no_sts).unwrap_err();
        assert!(e.contains("not an AWS region"), "{e}");
        let failing = |_: &str| Err("no AWS credentials".to_string());
        let e = resolve_hosts(&[], &["us-east-1".into()], false, &failing).unwrap_err();
        assert!(e.contains("no AWS credentials") && e.contains("nothing was written"));
    }
}
