//! The files docker and the containers tools (podman, buildah, skopeo) read to
//! decide which credential helper serves a registry, and how we edit them.
//!
//! Those files also hold other helpers, `auths` (sometimes with plain-text
//! credentials) and settings we know nothing about, so editing is
//! conservative: we edit the file's *text*, splicing our `credHelpers` entries
//! in and out (see `json_text`), so every other byte — key order, layout,
//! numbers such as `1e2` or a 23-digit integer, string escapes, the final
//! newline — stays as written, and a file we add to and remove from again
//! comes back byte for byte. The file's mode is kept (new files are 0600), a
//! read-only file is refused, the previous version is kept as `<file>.bak`,
//! the write is atomic (a fresh temp file + rename), a symlinked file is
//! written through (the link stays, as docker does it), a directory another
//! user owns is never written into, and a file we cannot parse is refused
//! rather than replaced.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

mod json_text;
pub mod registries_conf;

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
    /// The file would go into a directory another user owns.
    #[error(
        "{path} belongs to uid {owner}, not to you (uid {me}): run configure as that user; \
         nothing was written"
    )]
    ForeignDirectory {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// Our effective uid.
        me: u32,
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

/// A client config file: its text, edited in place, and what that text says.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// Where it lives.
    pub path: PathBuf,
    /// The text on disk, `None` when the file does not exist.
    pub original: Option<String>,
    /// The text as edited so far (see [`json_text`]); empty for no document.
    text: String,
    /// What `text` says, for the queries.
    root: Map<String, Value>,
}

/// Where the top-level object of `text` starts: after the whitespace `parse` trims.
fn root_start(text: &str) -> usize {
    text.len() - text.trim_start().len()
}

/// The top-level object of `text`, its `credHelpers` member and that member's object.
fn helpers_object_in(
    text: &str,
) -> Option<(json_text::Object, json_text::Member, json_text::Object)> {
    let root = json_text::object_at(text, root_start(text))?;
    let member = json_text::find(text, &root, "credHelpers")?;
    let object = json_text::object_at(text, member.value.start)?;
    Some((root, member, object))
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
        let file = ConfigFile {
            path: path.to_path_buf(),
            original: text.map(str::to_string),
            text: text.unwrap_or_default().to_string(),
            root,
        };
        // serde_json accepted it, so the scanner finds its structure; if it ever
        // did not, refusing is the safe answer.
        if !file.is_blank() && file.root_object().is_none() {
            return Err(unparsable("its structure could not be followed".into()));
        }
        Ok(file)
    }

    /// Reads and parses the file at `path`; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<ConfigFile, ClientConfigError> {
        // Capped, and a FIFO or device is refused rather than waited on.
        match crate::safe_fs::read_text_if_exists(path, crate::safe_fs::READ_LIMIT) {
            Ok(Some(text)) => ConfigFile::parse(path, Some(&text)),
            Ok(None) => ConfigFile::parse(path, None),
            Err(e) => Err(ClientConfigError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other(crate::safe_fs::reason(&e)),
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

    /// No JSON document at all: a missing or blank file.
    fn is_blank(&self) -> bool {
        self.text.trim().is_empty()
    }

    fn root_object(&self) -> Option<json_text::Object> {
        json_text::object_at(&self.text, root_start(&self.text))
    }

    /// The `credHelpers` member of the top-level object and its object.
    fn helpers_object(&self) -> Option<(json_text::Object, json_text::Member, json_text::Object)> {
        helpers_object_in(&self.text)
    }

    /// Applies a text edit and re-reads what the text now says; an edit that
    /// would leave something we cannot read is not applied.
    fn commit(&mut self, text: String) {
        let trimmed = text.trim();
        let root = match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Object(map)) => map,
            _ if trimmed.is_empty() => Map::new(),
            _ => {
                debug_assert!(false, "an edit made {text:?} unreadable");
                return;
            }
        };
        self.text = text;
        self.root = root;
    }

    /// Sets (`Some`) or removes (`None`) `credHelpers[host]`; returns the previous value.
    ///
    /// Only the text of that one entry changes (see [`json_text`]): every other
    /// byte, numbers and escapes included, stays as it was written.
    pub fn set_cred_helper(&mut self, host: &str, helper: Option<&str>) -> Option<String> {
        let previous = self.cred_helper(host).map(str::to_string);
        let mut text = self.text.clone();
        match helper {
            Some(name) if previous.as_deref() == Some(name) => return previous,
            Some(name) => {
                // Serialising a string cannot fail.
                let value = serde_json::to_string(name).unwrap_or_default();
                if self.is_blank() {
                    // No document yet: start one, keeping whatever followed (the final newline).
                    text = format!("{{}}{}", if text.is_empty() { "\n" } else { &text });
                }
                match helpers_object_in(&text) {
                    Some((root, _, helpers)) => match json_text::find(&text, &helpers, host) {
                        Some(entry) => json_text::replace_value(&mut text, &entry, &value),
                        None => {
                            let parent = json_text::layout_of(&text, &root)
                                .unwrap_or_else(|| json_text::top_level_layouts().1);
                            json_text::append(&mut text, &helpers, host, &value, &parent);
                        }
                    },
                    None => {
                        let Some(root) = json_text::object_at(&text, root_start(&text)) else {
                            return previous;
                        };
                        let (parent, own) = match json_text::layout_of(&text, &root) {
                            Some(layout) => (layout.clone(), layout),
                            None => {
                                let inside = &text[root.open + 1..root.close];
                                let (parent, mut own) = json_text::top_level_layouts();
                                if !inside.is_empty() {
                                    own.lead = inside.to_string();
                                }
                                (parent, own)
                            }
                        };
                        let object = json_text::new_object(&own, host, &value);
                        json_text::append(&mut text, &root, "credHelpers", &object, &parent);
                    }
                }
            }
            None => {
                // Every entry for the host goes: a duplicate key would otherwise take over.
                while let Some((_, _, helpers)) = helpers_object_in(&text) {
                    let Some(entry) = json_text::find(&text, &helpers, host) else {
                        break;
                    };
                    json_text::remove(&mut text, &helpers, &entry);
                }
            }
        }
        self.commit(text);
        previous
    }

    /// The text of the top-level `credsStore` value exactly as written
    /// (`"desktop"`, quotes and escapes included), `None` without one: what
    /// `configure --remove` puts back byte for byte.
    pub fn creds_store_raw(&self) -> Option<String> {
        let root = self.root_object()?;
        let member = json_text::find(&self.text, &root, "credsStore")?;
        self.text.get(member.value.clone()).map(str::to_string)
    }

    /// Sets the top-level `credsStore` to the JSON text `raw` (a value
    /// [`creds_store_raw`](Self::creds_store_raw) returned, or a serialised
    /// helper name), or removes every `credsStore` member (`None`). Only that
    /// member's text changes.
    pub fn set_creds_store_raw(&mut self, raw: Option<&str>) {
        let mut text = self.text.clone();
        match raw {
            Some(raw) => {
                if self.is_blank() {
                    // No document yet: start one, keeping whatever followed (the final newline).
                    text = format!("{{}}{}", if text.is_empty() { "\n" } else { &text });
                }
                let Some(root) = json_text::object_at(&text, root_start(&text)) else {
                    return;
                };
                match json_text::find(&text, &root, "credsStore") {
                    Some(member) => json_text::replace_value(&mut text, &member, raw),
                    None => {
                        let parent = json_text::layout_of(&text, &root)
                            .unwrap_or_else(|| json_text::top_level_layouts().0);
                        json_text::append(&mut text, &root, "credsStore", raw, &parent);
                    }
                }
            }
            None => {
                // Every member goes: a duplicate key would otherwise take over.
                while let Some(root) = json_text::object_at(&text, root_start(&text)) {
                    let Some(member) = json_text::find(&text, &root, "credsStore") else {
                        break;
                    };
                    json_text::remove(&mut text, &root, &member);
                }
            }
        }
        self.commit(text);
    }

    /// Drops an empty `credHelpers` object (one we created).
    pub fn drop_empty_cred_helpers(&mut self) {
        if !self.helpers().is_some_and(Map::is_empty) {
            return;
        }
        let Some((root, member, _)) = self.helpers_object() else {
            return;
        };
        let mut text = self.text.clone();
        json_text::remove(&mut text, &root, &member);
        self.commit(text);
    }

    /// The file's text as we would write it.
    pub fn render(&self) -> String {
        self.text.clone()
    }

    /// The new text, or `None` when the edits left the file as it was.
    pub fn changed_text(&self) -> Option<String> {
        let unchanged = self.text == self.original.as_deref().unwrap_or_default();
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
    // The directory holding the name we were given (and the backup) must be
    // ours too: root with another user's HOME must not follow a link that
    // user planted there.
    check_owner(path.parent().unwrap_or(Path::new(".")))?;
    // Like docker, write through a symlink: the link (a dotfile manager's,
    // say) stays, the file it points to gets the new text.
    let target = resolve_links(path).map_err(io(path))?;
    let dir = target.parent().unwrap_or(Path::new("."));
    check_owner(dir)?;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let (mut file, tmp) = tempfile_in(dir, &target).map_err(io(dir))?;
    let result = (|| {
        if let Ok(meta) = std::fs::metadata(&target) {
            std::fs::set_permissions(&tmp, meta.permissions()).map_err(io(&tmp))?;
            if backup {
                let backup = backup_path(path);
                std::fs::copy(&target, &backup).map_err(io(&backup))?;
            }
        }
        file.write_all(text.as_bytes()).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, &target).map_err(io(&target))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The file `path` names once symlinks are followed; a dangling link names
/// the file it would point to. Only the final component is followed, hop by
/// hop, so the directories on the way keep their own names.
fn resolve_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    // The kernel's own limit on a chain of links.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

/// Refuses to put files in a directory another user owns (root running with a
/// user's `HOME`, say): the file would end up owned by us, and unreadable to them.
/// A directory that does not exist yet is judged by the one it will be created
/// in, where a shared sticky directory such as `/tmp` is fine.
fn check_owner(dir: &Path) -> Result<(), ClientConfigError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = rustix::process::geteuid().as_raw();
        let mut probe = Some(dir);
        let mut existing = true;
        while let Some(d) = probe {
            let looked = if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            };
            match std::fs::metadata(looked) {
                Ok(meta) => {
                    let sticky = meta.mode() & 0o1000 != 0;
                    if meta.uid() != me && (existing || !sticky) {
                        return Err(ClientConfigError::ForeignDirectory {
                            path: looked.to_path_buf(),
                            owner: meta.uid(),
                            me,
                        });
                    }
                    return Ok(());
                }
                Err(_) => {
                    existing = false;
                    probe = d.parent();
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// `<file>.bak`: the version before our last change.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".bak");
    path.with_file_name(name)
}

/// A new 0600 file next to the target, so the final rename is atomic.
///
/// The name is unpredictable and the file must not exist (`create_new` does
/// not follow a symlink planted under that name).
fn tempfile_in(dir: &Path, target: &Path) -> std::io::Result<(std::fs::File, PathBuf)> {
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    let mut last = None;
    for attempt in 0u32..8 {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let path = dir.join(format!(".{name}.{}.tmp", random_suffix(attempt)));
        match options.open(&path) {
            Ok(file) => return Ok((file, path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
}

/// 16 hex digits no other process will guess: a hash of the time, pid, attempt and a stack address.
fn random_suffix(attempt: u32) -> String {
    use sha2::{Digest, Sha256};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let local = 0u8;
    let seed = format!(
        "{}:{}:{attempt}:{:p}",
        now.as_nanos(),
        std::process::id(),
        &local
    );
    let digest = Sha256::digest(seed.as_bytes());
    crate::hex(&digest[..8])
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
    fn creds_store_is_set_and_restored_byte_for_byte() {
        let store = |text: Option<&str>| {
            let mut file = parse(text).unwrap();
            let previous = file.creds_store_raw();
            file.set_creds_store_raw(Some("\"ecr\""));
            let set = file.render();
            let mut again = parse(Some(&set)).unwrap();
            assert_eq!(again.creds_store(), Some("ecr"), "{set}");
            again.set_creds_store_raw(previous.as_deref());
            (set, again.render())
        };
        // An escaped previous value comes back as written, not re-serialised.
        for original in [
            "{\n\t\"auths\": {},\n\t\"credsStore\": \"desk\\u0074op\"\n}",
            "{\"auths\":{}}",
            "{\n\t\"auths\": {}\n}\n",
            "{}",
            "{ }",
        ] {
            let (set, back) = store(Some(original));
            assert_eq!(back, original, "after {set}");
        }
        let (set, _) = store(None);
        assert_eq!(set, "{\n\t\"credsStore\": \"ecr\"\n}\n");
        let (set, _) = store(Some("{\"credsStore\":\"pass\",\"credHelpers\":{}}"));
        assert_eq!(set, "{\"credsStore\":\"ecr\",\"credHelpers\":{}}");
        // Duplicate keys all go on removal, or the earlier one would take over.
        let mut dup = parse(Some("{\"credsStore\":\"a\",\"x\":1,\"credsStore\":\"b\"}")).unwrap();
        dup.set_creds_store_raw(None);
        assert_eq!(dup.render(), "{\"x\":1}");
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
