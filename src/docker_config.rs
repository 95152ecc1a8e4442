//! Adding our `credHelpers` entries to docker's config.json without damaging it.
//!
//! That file also holds other helpers, `auths` (sometimes with plain-text
//! credentials) and settings we know nothing about, so editing is
//! conservative: every other key and the key order are kept, the file's mode
//! is kept (new files are 0600), the write is atomic (temp file + rename), an
//! unchanged file is not rewritten, and a file we cannot parse is refused
//! rather than replaced.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// The `credHelpers` value that makes docker run `docker-credential-ecr`.
pub const HELPER_SUFFIX: &str = "ecr";

/// Why docker's config could not be updated; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum DockerConfigError {
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

/// Returns the new file text with `credHelpers[host] = "ecr"` for each host, or
/// `None` when every entry is already there.
pub fn with_cred_helpers(
    path: &Path,
    existing: Option<&str>,
    hosts: &[String],
) -> Result<Option<String>, DockerConfigError> {
    let mut root: Map<String, Value> = match existing.map(str::trim) {
        None | Some("") => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(DockerConfigError::Unparsable {
                    path: path.to_path_buf(),
                    detail: "the top level is not an object".into(),
                });
            }
            Err(e) => {
                return Err(DockerConfigError::Unparsable {
                    path: path.to_path_buf(),
                    detail: crate::json_error(&e),
                });
            }
        },
    };
    let helpers = root
        .entry("credHelpers")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(helpers) = helpers else {
        return Err(DockerConfigError::BadCredHelpers {
            path: path.to_path_buf(),
        });
    };
    let mut changed = false;
    for host in hosts {
        if helpers.get(host).and_then(Value::as_str) != Some(HELPER_SUFFIX) {
            helpers.insert(host.clone(), Value::String(HELPER_SUFFIX.into()));
            changed = true;
        }
    }
    if !changed {
        return Ok(None);
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(root)).unwrap_or_default();
    text.push('\n');
    Ok(Some(text))
}

/// Adds our entries to the config at `path`; returns whether the file changed.
pub fn add_cred_helpers(path: &Path, hosts: &[String]) -> Result<bool, DockerConfigError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| DockerConfigError::Io { path: p, source }
    };
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(path)(e)),
    };
    let Some(text) = with_cred_helpers(path, existing.as_deref(), hosts)? else {
        return Ok(false);
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut tmp = tempfile_in(dir).map_err(io(dir))?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(&tmp.1, meta.permissions()).map_err(io(&tmp.1))?;
    }
    tmp.0.write_all(text.as_bytes()).map_err(io(&tmp.1))?;
    tmp.0.sync_all().map_err(io(&tmp.1))?;
    std::fs::rename(&tmp.1, path).map_err(io(path))?;
    Ok(true)
}

/// A new 0600 file next to the target, so the final rename is atomic.
fn tempfile_in(dir: &Path) -> std::io::Result<(std::fs::File, PathBuf)> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let path = dir.join(format!(".config.json.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&path);
    Ok((options.open(&path)?, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(existing: Option<&str>, hosts: &[&str]) -> Result<Option<String>, DockerConfigError> {
        let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        with_cred_helpers(Path::new("/c.json"), existing, &hosts)
    }

    #[test]
    fn adds_to_nothing_and_keeps_everything_else_in_order() {
        let out = add(None, &["1.dkr"]).unwrap().unwrap();
        assert_eq!(
            out,
            "{\n  \"credHelpers\": {\n    \"1.dkr\": \"ecr\"\n  }\n}\n"
        );

        let existing = r#"{"auths":{"ghcr.io":{"auth":"eA=="}},"credsStore":"pass","credHelpers":{"gcr.io":"gcr"},"zzz":1}"#;
        let out = add(Some(existing), &["1.dkr", "2.dkr"]).unwrap().unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["auths", "credsStore", "credHelpers", "zzz"]);
        assert_eq!(v["credHelpers"]["gcr.io"], "gcr");
        assert_eq!(v["credHelpers"]["2.dkr"], "ecr");
        assert_eq!(v["auths"]["ghcr.io"]["auth"], "eA==");
    }

    #[test]
    fn idempotent_and_refuses_what_it_cannot_parse() {
        let once = add(Some("{}"), &["1.dkr"]).unwrap().unwrap();
        assert_eq!(add(Some(&once), &["1.dkr"]).unwrap(), None);
        assert!(add(Some(""), &["1.dkr"]).unwrap().is_some());
        for bad in [
            "{ // comment\n}",
            "{} trailing",
            "[1]",
            r#"{"credHelpers":"ecr"}"#,
        ] {
            let e = add(Some(bad), &["1.dkr"]).unwrap_err().to_string();
            assert!(
                e.contains("/c.json") && e.contains("nothing was written"),
                "{bad}: {e}"
            );
        }
    }
}
