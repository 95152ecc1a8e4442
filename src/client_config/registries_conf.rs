//! containers-registries.conf(5): where podman, buildah and skopeo read the
//! `credential-helpers` they ask for every registry (they ignore docker's
//! `credsStore`).
//!
//! Which files containers/image reads (`pkg/sysregistriesv2`,
//! `newConfigWrapperWithHomeDir`, `dropInConfigs`, `tryUpdatingCache`; the
//! same in v5.23 as on main and in container-libs):
//!
//! - the main file: `$CONTAINERS_REGISTRIES_CONF` (podman, buildah) if set,
//!   else `$HOME/.config/containers/registries.conf` **if it exists**, else
//!   `/etc/containers/registries.conf`. An existing user file is read
//!   *instead of* the system one, and then the system drop-in directory is
//!   not read either: creating that file would silently drop every system
//!   setting (search registries, mirrors, blocks);
//! - drop-ins: every `*.conf` in `/etc/containers/registries.conf.d` (unless
//!   the user main file exists), then in `$HOME/.config/containers/registries.conf.d`
//!   (always; `$HOME`, not `$XDG_CONFIG_HOME`), each directory in name order;
//! - a drop-in that sets `credential-helpers` replaces the list set before
//!   it (`updateWithConfigurationFrom`); an empty or unset list means
//!   `["containers-auth.json"]`.
//!
//! So `configure --store --podman` writes a drop-in of its own in the user
//! directory, which is read whether or not the user has a main file and hides
//! nothing, and `--remove` deletes it. It keeps the helpers the other files
//! set (adding `ecr` after them), because its list replaces theirs.

use std::path::{Path, PathBuf};

/// Our drop-in's file name: after the usual `00-`…`49-` system-style names,
/// leaving room for the user's own files to come later and win.
pub const DROP_IN_NAME: &str = "50-docker-credential-ecr.conf";

/// The first line of our drop-in, how `--remove` knows the file is still ours.
pub const DROP_IN_HEADER: &str = "# Written by `docker-credential-ecr configure --store --podman`.";

/// containers/image's name for "the auth files" in `credential-helpers`.
pub const AUTH_FILES: &str = "containers-auth.json";

/// The files containers/image reads registries.conf settings from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locations {
    /// The main file.
    pub main: PathBuf,
    /// The system drop-in directory, when read.
    pub system_dir: Option<PathBuf>,
    /// `$HOME/.config/containers/registries.conf.d`.
    pub user_dir: PathBuf,
    /// `$HOME`: the existing directory of ours the drop-in directory is created under.
    pub home: PathBuf,
}

/// The system-wide main file.
const SYSTEM_MAIN: &str = "/etc/containers/registries.conf";
/// The system-wide drop-in directory.
const SYSTEM_DIR: &str = "/etc/containers/registries.conf.d";

impl Locations {
    /// The locations for an environment (`get`) and home directory, as containers/image decides them.
    pub fn from_env(get: impl Fn(&str) -> Option<String>, home: Option<PathBuf>) -> Option<Self> {
        let home = home?;
        let user_main = home.join(".config/containers/registries.conf");
        let user_dir = home.join(".config/containers/registries.conf.d");
        let set = |k: &str| get(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let (main, system_dir) =
            match set("CONTAINERS_REGISTRIES_CONF").or_else(|| set("REGISTRIES_CONFIG_PATH")) {
                Some(file) => (file, Some(PathBuf::from(SYSTEM_DIR))),
                None if user_main.exists() => (user_main, None),
                None => (PathBuf::from(SYSTEM_MAIN), Some(PathBuf::from(SYSTEM_DIR))),
            };
        Some(Locations {
            main,
            system_dir,
            user_dir,
            home,
        })
    }

    /// Our drop-in.
    pub fn drop_in(&self) -> PathBuf {
        self.user_dir.join(DROP_IN_NAME)
    }

    /// Every file read, in order: the main file, then each directory's `*.conf` by name.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files = vec![self.main.clone()];
        for dir in self.system_dir.iter().chain([&self.user_dir]) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<PathBuf> = entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect();
            names.sort();
            files.extend(names);
        }
        files
    }

    /// The `credential-helpers` in effect; with `before`, as set by the files
    /// read before that drop-in (what a drop-in of that name replaces).
    pub fn helpers(&self, before: Option<&Path>) -> Effective {
        let mut effective = Effective::default();
        for file in self.files() {
            let at_or_after = before.is_some_and(|ours| {
                file.parent() == ours.parent() && file.file_name() >= ours.file_name()
            });
            if at_or_after {
                continue;
            }
            match read_helpers(&file) {
                Ok(Some(helpers)) => {
                    effective.helpers = helpers;
                    effective.from = Some(file);
                }
                Ok(None) => {}
                Err(problem) => effective.problems.push(problem),
            }
        }
        if effective.helpers.is_empty() {
            effective.helpers = vec![AUTH_FILES.to_string()];
            effective.from = None;
        }
        effective
    }
}

/// What containers/image ends up with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effective {
    /// The helpers, in the order they are tried.
    pub helpers: Vec<String>,
    /// The file that set them (`None`: the built-in default).
    pub from: Option<PathBuf>,
    /// Files that could not be read; containers/image refuses to run with them.
    pub problems: Vec<String>,
}

impl Effective {
    /// Whether `docker-credential-<suffix>` is among the helpers.
    pub fn includes(&self, suffix: &str) -> bool {
        self.helpers.iter().any(|h| h == suffix)
    }
}

/// The `credential-helpers` one file sets (`None`: not set, or no such file).
fn read_helpers(path: &Path) -> Result<Option<Vec<String>>, String> {
    let text = match crate::safe_fs::read_text_if_exists(path, crate::safe_fs::READ_LIMIT) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(None),
        Err(e) => {
            return Err(format!(
                "{}: {}",
                path.display(),
                crate::safe_fs::reason(&e)
            ));
        }
    };
    parse_helpers(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The top-level `credential-helpers` array of a registries.conf text.
pub fn parse_helpers(text: &str) -> Result<Option<Vec<String>>, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        format!("not valid TOML ({})", crate::one_line(e.message()))
    })?;
    let Some(value) = table.get("credential-helpers") else {
        return Ok(None);
    };
    let not_strings = || "\"credential-helpers\" is not an array of strings".to_string();
    let array = value.as_array().ok_or_else(not_strings)?;
    array
        .iter()
        .map(|v| v.as_str().map(str::to_string).ok_or_else(not_strings))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Our drop-in's text: `previous` (what the other files set) with `suffix` added last.
pub fn drop_in_text(previous: &[String], suffix: &str) -> String {
    let mut helpers: Vec<&str> = previous.iter().map(String::as_str).collect();
    if !helpers.contains(&suffix) {
        helpers.push(suffix);
    }
    // A JSON string is a valid TOML basic string.
    let quoted: Vec<String> = helpers
        .iter()
        .map(|h| serde_json::to_string(h).unwrap_or_default())
        .collect();
    format!(
        "{DROP_IN_HEADER}\n\
         # podman, buildah and skopeo ask each helper in turn, for every registry; this list\n\
         # replaces the one set before it, so it keeps those helpers and adds \"{suffix}\".\n\
         # `docker-credential-ecr configure --remove --store --podman` deletes this file.\n\
         credential-helpers = [{}]\n",
        quoted.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_are_read_as_containers_image_reads_them() {
        assert_eq!(parse_helpers("").unwrap(), None);
        assert_eq!(
            parse_helpers(
                "unqualified-search-registries = [\"docker.io\"]\n[aliases]\n\"a\" = \"b\"\n"
            )
            .unwrap(),
            None
        );
        assert_eq!(
            parse_helpers("credential-helpers = [ \"containers-auth.json\", 'pass' ]\n").unwrap(),
            Some(vec!["containers-auth.json".to_string(), "pass".to_string()])
        );
        assert!(parse_helpers("credential-helpers = \"ecr\"").is_err());
        assert!(
            parse_helpers("credential-helpers = [")
                .unwrap_err()
                .contains("not valid TOML")
        );
    }

    #[test]
    fn our_drop_in_keeps_earlier_helpers_and_parses_back() {
        let text = drop_in_text(&[AUTH_FILES.to_string()], "ecr");
        assert!(text.starts_with(DROP_IN_HEADER), "{text}");
        assert!(
            text.ends_with("credential-helpers = [\"containers-auth.json\", \"ecr\"]\n"),
            "{text}"
        );
        let kept = drop_in_text(&[AUTH_FILES.to_string(), "pass".to_string()], "ecr");
        assert_eq!(
            parse_helpers(&kept).unwrap().unwrap(),
            ["containers-auth.json", "pass", "ecr"]
        );
        let once = drop_in_text(&["ecr".to_string()], "ecr");
        assert_eq!(parse_helpers(&once).unwrap().unwrap(), ["ecr"]);
    }

    #[test]
    fn a_user_main_file_hides_the_system_ones_but_never_the_user_drop_ins() {
        let home = tempfile::tempdir().unwrap();
        let env = |_: &str| None;
        let l = Locations::from_env(env, Some(home.path().to_path_buf())).unwrap();
        assert_eq!(l.main, PathBuf::from(SYSTEM_MAIN));
        assert_eq!(l.system_dir, Some(PathBuf::from(SYSTEM_DIR)));
        assert_eq!(
            l.drop_in(),
            home.path()
                .join(".config/containers/registries.conf.d/50-docker-credential-ecr.conf")
        );

        let user_main = home.path().join(".config/containers/registries.conf");
        std::fs::create_dir_all(&l.user_dir).unwrap();
        std::fs::write(&user_main, "credential-helpers = [\"pass\"]\n").unwrap();
        let l = Locations::from_env(env, Some(home.path().to_path_buf())).unwrap();
        assert_eq!(
            (l.main.clone(), l.system_dir.clone()),
            (user_main.clone(), None)
        );

        // Drop-ins by name, each replacing the list before it; ours can be skipped.
        std::fs::write(
            l.user_dir.join("10-a.conf"),
            "credential-helpers = [\"a\"]\n",
        )
        .unwrap();
        std::fs::write(l.drop_in(), drop_in_text(&["a".to_string()], "ecr")).unwrap();
        std::fs::write(
            l.user_dir.join("90-z.conf.off"),
            "credential-helpers = [\"z\"]\n",
        )
        .unwrap();
        // An empty list replaces ours too, and means the default.
        std::fs::write(l.user_dir.join("95-y.conf"), "credential-helpers = []\n").unwrap();
        let all = l.helpers(None);
        assert_eq!(all.helpers, ["containers-auth.json"]);
        assert!(!all.includes("ecr"));
        std::fs::remove_file(l.user_dir.join("95-y.conf")).unwrap();
        let all = l.helpers(None);
        assert_eq!(all.helpers, ["a", "ecr"]);
        assert_eq!(all.from, Some(l.drop_in()));
        assert!(all.includes("ecr"));
        let before = l.helpers(Some(&l.drop_in()));
        assert_eq!(before.helpers, ["a"]);

        let over = |k: &str| (k == "CONTAINERS_REGISTRIES_CONF").then(|| "/x.conf".to_string());
        let l = Locations::from_env(over, Some(home.path().to_path_buf())).unwrap();
        assert_eq!(l.main, PathBuf::from("/x.conf"));
        assert_eq!(l.system_dir, Some(PathBuf::from(SYSTEM_DIR)));
    }
}
