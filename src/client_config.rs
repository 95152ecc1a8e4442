//! The files docker and the containers tools (podman, buildah, skopeo) read to
//! decide which credential helper serves a registry, and how we edit them.
//!
//! Those files also hold other helpers, `auths` (sometimes with plain-text
//! credentials) and settings we know nothing about, so editing is
//! conservative: every other key and the key order are kept, as is the
//! indentation (docker and podman write one tab per level) and the final
//! newline, so a file we add to and remove from again comes back byte for
//! byte. The file's mode is kept (new files are 0600), a read-only file is
//! refused, the previous version is kept as `<file>.bak`, the write is atomic
//! (temp file + rename), and a file we cannot parse is refused rather than
//! replaced.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// The `credHelpers` value that makes docker run `docker-credential-ecr`.
pub const HELPER_SUFFIX: &str = "ecr";

/// The executable clients look up on PATH for [`HELPER_SUFFIX`].
pub const HELPER_BINARY: &str = "docker-credential-ecr";

/// Why a client config file could not be read or updated; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ClientConfigError {
    /// The file exists but is not a JSON object.
    #[error("{path}: not a JSON object ({detail}); fix or move it, nothing was written")]
    Unparsable {
        /// The config file.
        path: PathBuf,
        /// What the parser said.
        detail: String,
    },
    /// `credHelpers` exists but is not an object.
    #[error("{path}: \"credHelpers\" is not a JSON object; nothing was written")]
    BadCredHelpers {
        /// The config file.
        path: PathBuf,
    },
    /// The file has no write permission: someone made it read-only on purpose.
    #[error(
        "{path} is read-only; make it writable (chmod u+w) or edit it by hand, nothing was written"
    )]
    ReadOnly {
        /// The config file.
        path: PathBuf,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Where docker reads its config: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn default_path() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir).join("config.json")),
        None => dirs::home_dir().map(|h| h.join(".docker").join("config.json")),
    }
}

/// The containers tools' auth files, in the order containers/image reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainersAuth {
    /// `REGISTRY_AUTH_FILE`: when set, the only file read.
    pub override_file: Option<PathBuf>,
    /// The primary file `podman login` writes: `$XDG_RUNTIME_DIR/containers/auth.json`.
    pub runtime: Option<PathBuf>,
    /// `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`, where we add `credHelpers`.
    pub config: Option<PathBuf>,
}

impl ContainersAuth {
    /// The locations for this process's environment.
    pub fn from_env(get: impl Fn(&str) -> Option<String>, home: Option<PathBuf>) -> Self {
        let set = |k: &str| get(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let runtime = if cfg!(target_os = "linux") {
            set("XDG_RUNTIME_DIR")
                .map(|d| d.join("containers/auth.json"))
                .or_else(|| {
                    #[cfg(unix)]
                    let uid = Some(rustix::process::getuid().as_raw());
                    #[cfg(not(unix))]
                    let uid: Option<u32> = None;
                    uid.map(|uid| PathBuf::from(format!("/run/containers/{uid}/auth.json")))
                })
        } else {
            None
        };
        let config = set("XDG_CONFIG_HOME")
            .or_else(|| home.map(|h| h.join(".config")))
            .map(|d| d.join("containers/auth.json"));
        ContainersAuth {
            override_file: set("REGISTRY_AUTH_FILE"),
            runtime,
            config,
        }
    }

    /// Every file containers/image consults, in order, ending with docker's config.
    pub fn lookup_order(&self, docker: Option<&Path>) -> Vec<PathBuf> {
        if let Some(file) = &self.override_file {
            return vec![file.clone()];
        }
        let mut files: Vec<PathBuf> = [&self.runtime, &self.config]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        files.extend(docker.map(Path::to_path_buf));
        files.dedup();
        files
    }
}

/// A client config file, parsed, with the layout needed to write it back the same way.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// Where it lives.
    pub path: PathBuf,
    /// The text on disk, `None` when the file does not exist.
    pub original: Option<String>,
    /// The settings as parsed, to tell a real change from a no-op.
    parsed: Map<String, Value>,
    root: Map<String, Value>,
    indent: String,
    final_newline: bool,
}

impl ConfigFile {
    /// Parses `text` (the file's content, `None` if it does not exist).
    pub fn parse(path: &Path, text: Option<&str>) -> Result<ConfigFile, ClientConfigError> {
        let unparsable = |detail: String| ClientConfigError::Unparsable {
            path: path.to_path_buf(),
            detail,
        };
        let root = match text.map(str::trim) {
            None | Some("") => Map::new(),
            Some(trimmed) => match serde_json::from_str::<Value>(trimmed) {
                Ok(Value::Object(map)) => map,
                Ok(_) => return Err(unparsable("the top level is not an object".into())),
                Err(e) => return Err(unparsable(crate::json_error(&e))),
            },
        };
        if root.get("credHelpers").is_some_and(|v| !v.is_object()) {
            return Err(ClientConfigError::BadCredHelpers {
                path: path.to_path_buf(),
            });
        }
        let indent = text
            .and_then(|t| t.lines().nth(1))
            .map(|line| {
                line.chars()
                    .take_while(|c| *c == ' ' || *c == '\t')
                    .collect::<String>()
            })
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| "\t".to_string());
        Ok(ConfigFile {
            path: path.to_path_buf(),
            original: text.map(str::to_string),
            parsed: root.clone(),
            root,
            indent,
            final_newline: text.is_none_or(|t| t.trim().is_empty() || t.ends_with('\n')),
        })
    }

    /// Reads and parses the file at `path`; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<ConfigFile, ClientConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => ConfigFile::parse(path, Some(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ConfigFile::parse(path, None),
            Err(source) => Err(ClientConfigError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// The helper suffix `credHelpers` names for `host`.
    pub fn cred_helper(&self, host: &str) -> Option<&str> {
        self.helpers()?.get(host)?.as_str()
    }

    /// Every `credHelpers` entry.
    pub fn cred_helpers(&self) -> Vec<(&str, &str)> {
        self.helpers()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// docker's catch-all helper (containers tools ignore it).
    pub fn creds_store(&self) -> Option<&str> {
        self.root
            .get("credsStore")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// True when `auths` holds a stored credential for `host` (as `podman login` leaves).
    pub fn has_stored_auth(&self, host: &str) -> bool {
        let Some(Value::Object(auths)) = self.root.get("auths") else {
            return false;
        };
        auths.iter().any(|(key, entry)| {
            crate::protocol::canonical_host(key).as_deref() == Some(host)
                && ["auth", "identitytoken"].iter().any(|field| {
                    entry
                        .get(field)
                        .and_then(Value::as_str)
                        .is_some_and(|v| !v.is_empty())
                })
        })
    }

    /// Whether the file has a `credHelpers` object at all.
    pub fn has_cred_helpers(&self) -> bool {
        self.root.contains_key("credHelpers")
    }

    /// True when nothing is left in the file.
    pub fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    fn helpers(&self) -> Option<&Map<String, Value>> {
        self.root.get("credHelpers")?.as_object()
    }

    /// Sets (`Some`) or removes (`None`) `credHelpers[host]`; returns the previous value.
    pub fn set_cred_helper(&mut self, host: &str, helper: Option<&str>) -> Option<String> {
        let helpers = self
            .root
            .entry("credHelpers")
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(helpers) = helpers else {
            unreachable!("parse() refuses a credHelpers that is not an object")
        };
        let previous = match helper {
            Some(name) => helpers.insert(host.to_string(), Value::String(name.to_string())),
            None => helpers.shift_remove(host),
        };
        previous.and_then(|v| v.as_str().map(str::to_string))
    }

    /// Drops an empty `credHelpers` object (one we created).
    pub fn drop_empty_cred_helpers(&mut self) {
        if self.helpers().is_some_and(Map::is_empty) {
            self.root.shift_remove("credHelpers");
        }
    }

    /// The file's text as we would write it, in its own layout.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(self.indent.as_bytes());
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
        // A map of JSON values always serialises.
        let _ = serde::Serialize::serialize(&self.root, &mut serializer);
        let mut text = String::from_utf8(out).unwrap_or_default();
        if self.final_newline {
            text.push('\n');
        }
        text
    }

    /// The new text, or `None` when rendering would not change the file's meaning.
    pub fn changed_text(&self) -> Option<String> {
        // A missing file and an empty one both parse to no settings.
        let unchanged = self.root == self.parsed;
        (!unchanged).then(|| self.render())
    }
}

/// Refuses a file whose owner took away write permission, before anything is planned.
pub fn check_writable(path: &Path) -> Result<(), ClientConfigError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.permissions().readonly() => Err(ClientConfigError::ReadOnly {
            path: path.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// Replaces `path` with `text` atomically, keeping its mode and its previous version as `.bak`.
pub fn write_atomic(path: &Path, text: &str) -> Result<(), ClientConfigError> {
    replace(path, text, true)
}

/// [`write_atomic`] for our own files, which need no backup.
pub fn write_private(path: &Path, text: &str) -> Result<(), ClientConfigError> {
    replace(path, text, false)
}

fn replace(path: &Path, text: &str, backup: bool) -> Result<(), ClientConfigError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| ClientConfigError::Io { path: p, source }
    };
    check_writable(path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let (mut file, tmp) = tempfile_in(dir, path).map_err(io(dir))?;
    let result = (|| {
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions()).map_err(io(&tmp))?;
            if backup {
                let backup = backup_path(path);
                std::fs::copy(path, &backup).map_err(io(&backup))?;
            }
        }
        file.write_all(text.as_bytes()).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `<file>.bak`: the version before our last change.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".bak");
    path.with_file_name(name)
}

/// A new 0600 file next to the target, so the final rename is atomic.
fn tempfile_in(dir: &Path, target: &Path) -> std::io::Result<(std::fs::File, PathBuf)> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    let path = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&path);
    Ok((options.open(&path)?, path))
}

/// The first executable called `name` on `path_var` (a PATH value).
pub fn find_on_path(name: &str, path_var: &std::ffi::OsStr) -> Option<PathBuf> {
    let names: Vec<String> = if cfg!(windows) {
        vec![format!("{name}.exe"), name.to_string()]
    } else {
        vec![name.to_string()]
    };
    std::env::split_paths(path_var)
        .filter(|dir| !dir.as_os_str().is_empty())
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    meta.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: Option<&str>) -> Result<ConfigFile, ClientConfigError> {
        ConfigFile::parse(Path::new("/c.json"), text)
    }

    fn with(text: Option<&str>, hosts: &[&str]) -> Option<String> {
        let mut file = parse(text).unwrap();
        for host in hosts {
            file.set_cred_helper(host, Some(HELPER_SUFFIX));
        }
        file.changed_text()
    }

    #[test]
    fn adds_to_nothing_and_keeps_everything_else_in_order() {
        assert_eq!(
            with(None, &["1.dkr"]).unwrap(),
            "{\n\t\"credHelpers\": {\n\t\t\"1.dkr\": \"ecr\"\n\t}\n}\n"
        );
        let existing = r#"{"auths":{"ghcr.io":{"auth":"eA=="}},"credsStore":"pass","credHelpers":{"gcr.io":"gcr"},"zzz":1}"#;
        let out = with(Some(existing), &["1.dkr", "2.dkr"]).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["auths", "credsStore", "credHelpers", "zzz"]);
        assert_eq!(v["credHelpers"]["gcr.io"], "gcr");
        assert_eq!(v["credHelpers"]["2.dkr"], "ecr");
        assert_eq!(v["auths"]["ghcr.io"]["auth"], "eA==");
    }

    #[test]
    fn keeps_the_files_indentation_and_final_newline() {
        let docker = "{\n\t\"auths\": {}\n}";
        let out = with(Some(docker), &["1.dkr"]).unwrap();
        assert!(
            out.starts_with("{\n\t\"auths\"") && out.ends_with('}'),
            "{out}"
        );
        let spaces = "{\n    \"auths\": {}\n}\n";
        let out = with(Some(spaces), &["1.dkr"]).unwrap();
        assert!(
            out.contains("\n        \"1.dkr\"") && out.ends_with("}\n"),
            "{out}"
        );
    }

    #[test]
    fn add_then_remove_gives_the_same_bytes() {
        let original = "{\n\t\"auths\": {\n\t\t\"ghcr.io\": {}\n\t},\n\t\"credHelpers\": {\n\t\t\"gcr.io\": \"gcr\"\n\t}\n}";
        let mut file = parse(Some(original)).unwrap();
        assert_eq!(file.set_cred_helper("1.dkr", Some("ecr")), None);
        let added = file.changed_text().unwrap();
        let mut file = parse(Some(&added)).unwrap();
        assert_eq!(file.set_cred_helper("1.dkr", None).as_deref(), Some("ecr"));
        assert_eq!(file.render(), original);
    }

    #[test]
    fn idempotent_and_refuses_what_it_cannot_parse() {
        let once = with(Some("{}"), &["1.dkr"]).unwrap();
        assert_eq!(with(Some(&once), &["1.dkr"]), None);
        assert!(with(Some(""), &["1.dkr"]).is_some());
        for bad in [
            "{ // comment\n}",
            "{} trailing",
            "[1]",
            r#"{"credHelpers":"ecr"}"#,
        ] {
            let e = parse(Some(bad)).unwrap_err().to_string();
            assert!(
                e.contains("/c.json") && e.contains("nothing was written"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn stored_auth_is_an_auth_value_not_docker_logins_empty_marker() {
        let file = parse(Some(
            r#"{"auths":{"https://1.dkr.ecr.us-east-1.amazonaws.com":{"auth":"QVdTOng="},"2.dkr.ecr.us-east-1.amazonaws.com":{}}}"#,
        ))
        .unwrap();
        assert!(file.has_stored_auth("1.dkr.ecr.us-east-1.amazonaws.com"));
        assert!(!file.has_stored_auth("2.dkr.ecr.us-east-1.amazonaws.com"));
    }

    #[test]
    fn containers_lookup_order_follows_containers_image() {
        let env = crate::fake_env;
        let home = Some(PathBuf::from("/home/u"));
        let docker = Path::new("/home/u/.docker/config.json");
        let auth =
            ContainersAuth::from_env(env(&[("XDG_RUNTIME_DIR", "/run/user/1")]), home.clone());
        let expected_config = PathBuf::from("/home/u/.config/containers/auth.json");
        assert_eq!(auth.config.as_ref(), Some(&expected_config));
        let order = auth.lookup_order(Some(docker));
        assert_eq!(order.last().map(PathBuf::as_path), Some(docker));
        if cfg!(target_os = "linux") {
            assert_eq!(order[0], PathBuf::from("/run/user/1/containers/auth.json"));
        }
        let only = ContainersAuth::from_env(env(&[("REGISTRY_AUTH_FILE", "/a.json")]), home);
        assert_eq!(only.lookup_order(Some(docker)), [PathBuf::from("/a.json")]);
    }
}
