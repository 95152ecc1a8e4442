//! `credsStore: "ecr"`: other registries' logins through the real binary —
//! `store`/`get`/`erase`/`list`, where the secrets live, and the Go helper's
//! knobs (`AWS_ECR_IGNORE_CREDS_STORAGE`, `AWS_ECR_CACHE_DIR`, `-v`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::fake_aws::{FakeAws, password_for};
use crate::harness::{HOST, Run, TestEnv};

const HUB: &str = "https://index.docker.io/v1/";
const LOCAL: &str = "registry.example.test:5000";

fn store(env: &TestEnv, server: &str, user: &str, secret: &str) -> Run {
    let body = serde_json::json!({"ServerURL": server, "Username": user, "Secret": secret});
    env.run(&["store"], &body.to_string())
}

/// The `get` answer as (ServerURL, Username, Secret).
#[track_caller]
fn got(env: &TestEnv, server: &str) -> (String, String, String) {
    let run = env.get(server);
    assert!(run.success, "get {server}: {} {}", run.stdout, run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    (s("ServerURL"), s("Username"), s("Secret"))
}

fn list(env: &TestEnv) -> serde_json::Value {
    let run = env.run(&["list"], "");
    assert!(run.success, "{} {}", run.stdout, run.stderr);
    serde_json::from_str(&run.stdout).expect("list is JSON")
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Every file under `dir`, with its contents.
fn files_under(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap_or_default()));
        }
    }
    out
}

#[test]
fn other_registries_logins_round_trip_exactly_as_docker_sent_them() {
    let env = TestEnv::bare();
    for (server, user, secret) in [
        (HUB, "<token>", "identity-refresh-token-1"),
        (LOCAL, "alice", "pa$$ \"word\""),
        ("ghcr.io", "bob", "ghp_secret"),
    ] {
        let run = store(&env, server, user, secret);
        assert!(run.success, "{server}: {} {}", run.stdout, run.stderr);
        assert_eq!(run.stdout, "");
        assert!(!run.stderr.contains(secret), "{}", run.stderr);
    }
    assert_eq!(
        got(&env, HUB),
        (
            HUB.into(),
            "<token>".into(),
            "identity-refresh-token-1".into()
        )
    );
    assert_eq!(
        got(&env, LOCAL),
        (LOCAL.into(), "alice".into(), "pa$$ \"word\"".into())
    );
    // A client spelling the same registry another way gets the one login for it.
    assert_eq!(got(&env, "docker.io").2, "identity-refresh-token-1");
    env.get("other.example.test").assert_not_found();

    let listed = list(&env);
    assert_eq!(
        listed,
        serde_json::json!({HUB: "<token>", LOCAL: "alice", "ghcr.io": "bob"})
    );

    // Replacing a login keeps one entry.
    assert!(store(&env, LOCAL, "alice", "new-password").success);
    assert_eq!(got(&env, LOCAL).2, "new-password");

    // `erase` removes exactly one server; a second erase still succeeds.
    for _ in 0..2 {
        let run = env.run(&["erase"], LOCAL);
        assert!(run.success && run.stdout.is_empty(), "{}", run.stderr);
    }
    env.get(LOCAL).assert_not_found();
    assert_eq!(got(&env, "ghcr.io").2, "ghp_secret");
    assert_eq!(
        list(&env),
        serde_json::json!({HUB: "<token>", "ghcr.io": "bob"})
    );
}

#[test]
fn without_a_keyring_logins_are_private_files_that_survive_a_reboot() {
    let env = TestEnv::bare();
    let run = store(&env, LOCAL, "alice", "s3cr3t-login");
    assert!(run.success, "{}", run.stderr);
    // One note, once, saying where and why.
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("no keyring is usable here")
            && run.stderr.contains("0600 files")
            && run.stderr.contains("shown once"),
        "{}",
        run.stderr
    );
    assert_eq!(store(&env, "ghcr.io", "bob", "other").stderr, "");

    let dir = env.path("home/.local/share/docker-credential-ecr/logins");
    assert_eq!(mode(&dir), 0o700);
    let files = files_under(&dir);
    assert!(files.len() >= 4, "{files:?}");
    for (path, _) in &files {
        assert_eq!(mode(path), 0o600, "{}", path.display());
    }
    // The secret is in exactly one file; the index records hold none.
    let holding: Vec<_> = files
        .iter()
        .filter(|(_, data)| String::from_utf8_lossy(data).contains("s3cr3t-login"))
        .collect();
    assert_eq!(holding.len(), 1, "{files:?}");
    // Nothing in docker's config, the token cache or the runtime directory.
    for other in ["run", "cache", "config"] {
        for (path, data) in files_under(&env.path(other)) {
            assert!(
                !String::from_utf8_lossy(&data).contains("s3cr3t-login"),
                "{}",
                path.display()
            );
        }
    }
    // A reboot empties the runtime directory; the login stays.
    std::fs::remove_dir_all(env.path("run")).unwrap();
    std::fs::create_dir_all(env.path("run")).unwrap();
    assert_eq!(got(&env, LOCAL).2, "s3cr3t-login");
}

#[test]
fn ecr_hosts_stay_minted_on_demand_and_list_shows_both() {
    let fake = FakeAws::start();
    let mut env = TestEnv::new();
    env.endpoint(&fake.url)
        .set("DOCKER_CREDENTIAL_ECR_CACHE", "file");
    // `docker login` to ECR (an old habit) is accepted and keeps nothing.
    assert!(store(&env, HOST, "AWS", "old-ecr-password").success);
    let secret = env.get(HOST).secret(HOST);
    assert_eq!(secret, password_for("123456789012", 1));
    assert!(store(&env, LOCAL, "alice", "pw").success);
    assert_eq!(list(&env), serde_json::json!({HOST: "AWS", LOCAL: "alice"}));
    for (path, data) in files_under(&env.path("home")) {
        assert!(
            !String::from_utf8_lossy(&data).contains("old-ecr-password"),
            "{}",
            path.display()
        );
    }
    // Erasing the ECR host forgets its token, not the other login.
    assert!(env.run(&["erase"], HOST).success);
    assert_eq!(list(&env), serde_json::json!({LOCAL: "alice"}));
}

#[test]
fn ignore_creds_storage_means_store_and_erase_succeed_and_nothing_is_kept() {
    let mut env = TestEnv::bare();
    env.set("AWS_ECR_IGNORE_CREDS_STORAGE", "true");
    let run = store(&env, LOCAL, "alice", "not-kept");
    assert!(run.success && run.stdout.is_empty(), "{}", run.stderr);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    env.get(LOCAL).assert_not_found();
    assert!(env.run(&["erase"], LOCAL).success);
    for (path, data) in files_under(env.dir.path()) {
        assert!(
            !String::from_utf8_lossy(&data).contains("not-kept"),
            "{}",
            path.display()
        );
    }
    // Only exactly "true", as in the Go helper.
    env.set("AWS_ECR_IGNORE_CREDS_STORAGE", "1");
    assert!(store(&env, LOCAL, "alice", "kept").success);
    assert_eq!(got(&env, LOCAL).2, "kept");
}

#[test]
fn aws_ecr_cache_dir_holds_all_our_file_state() {
    let fake = FakeAws::start();
    let mut env = TestEnv::new();
    let chosen = env.path("ecr-cache");
    env.endpoint(&fake.url)
        .set("DOCKER_CREDENTIAL_ECR_CACHE", "file")
        .set("AWS_ECR_CACHE_DIR", chosen.to_str().unwrap());
    env.get(HOST).secret(HOST);
    assert!(store(&env, LOCAL, "alice", "pw").success);
    assert_eq!(mode(&chosen), 0o700);
    let names: Vec<String> = files_under(&chosen)
        .iter()
        .map(|(p, _)| p.strip_prefix(&chosen).unwrap().display().to_string())
        .collect();
    assert!(names.iter().any(|n| n.starts_with("tokens/")), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("logins/")), "{names:?}");
    for elsewhere in ["run", "cache", "home/.local"] {
        assert!(
            files_under(&env.path(elsewhere)).is_empty(),
            "{elsewhere}: {:?}",
            files_under(&env.path(elsewhere))
        );
    }
    // Still served from there by the next process.
    env.get(HOST).secret(HOST);
    assert_eq!(fake.token_requests().len(), 1);
    assert_eq!(got(&env, LOCAL).2, "pw");
}

#[test]
fn a_planted_login_directory_is_refused_not_followed() {
    let env = TestEnv::bare();
    let elsewhere = env.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::create_dir_all(env.path("home/.local/share/docker-credential-ecr")).unwrap();
    std::os::unix::fs::symlink(
        &elsewhere,
        env.path("home/.local/share/docker-credential-ecr/logins"),
    )
    .unwrap();
    let run = store(&env, LOCAL, "alice", "pw");
    assert!(!run.success);
    assert!(run.stdout.contains("not stored"), "{}", run.stdout);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(std::fs::read_dir(&elsewhere).unwrap().next().is_none());
    // A `get` is still the protocol's answer, with the reason on stderr.
    env.get(LOCAL).assert_not_found();
}

#[test]
fn logins_are_never_created_in_a_directory_others_may_write_in() {
    let mut env = TestEnv::bare();
    // Ours, but world-writable: anyone could swap what we put there.
    let data = env.path("shared-data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();
    env.set("XDG_DATA_HOME", data.to_str().unwrap());
    let run = store(&env, LOCAL, "alice", "pw");
    assert!(!run.success, "{}", run.stderr);
    assert!(run.stdout.contains("open to other users"), "{}", run.stdout);
    assert!(std::fs::read_dir(&data).unwrap().next().is_none());
}

#[test]
fn dash_v_prints_the_go_helpers_banner() {
    let env = TestEnv::bare();
    let run = env.run(&["-v"], "");
    assert!(run.success, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    assert_eq!(lines[0], "docker-credential-ecr");
    assert_eq!(
        lines[1],
        format!("Version:    {}", env!("CARGO_PKG_VERSION"))
    );
    assert!(lines[2].starts_with("Git commit: "), "{}", run.stdout);
    assert!(lines[2].len() > "Git commit: ".len(), "{}", run.stdout);
}
