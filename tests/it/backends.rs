//! Each Linux cache backend for real, the secret read back by a separate process.
//!
//! keyutils runs inside `keyctl session` (CI has no login session keyring),
//! Secret Service inside `dbus-run-session` with gnome-keyring unlocked by a
//! test password and HOME in a temp dir. Each test checks that a second
//! helper process is served from the backend with no API call, that no token
//! file was written, and reads the stored value with the platform's own
//! tool (`keyctl`, `secret-tool`). Missing tools fail in CI and skip loudly
//! elsewhere.

use std::process::Command;

use crate::fake_aws::{FakeAws, password_for};
use crate::harness::{HOST, TestEnv, run_command, tools_present};

fn env_for(fake: &FakeAws, cache: &str) -> TestEnv {
    let mut env = TestEnv::new();
    env.endpoint(&fake.url)
        .set("DOCKER_CREDENTIAL_ECR_CACHE", cache)
        .set("HOST", HOST);
    env
}

/// The packed form our keyring backends store for a non-base64 password.
fn packed_text(password: &str) -> String {
    format!("t{password}")
}

#[test]
fn keyutils_keeps_the_token_in_the_kernel_session_keyring() {
    if !tools_present("keyutils backend", &["keyctl"], "apt-get install keyutils") {
        return;
    }
    let fake = FakeAws::start();
    let env = env_for(&fake, "keyutils");
    let script = r#"
        set -e
        printf %s "$HOST" | "$BIN" get > "$OUT/first"
        printf %s "$HOST" | "$BIN" get > "$OUT/second"
        "$BIN" status --json > "$OUT/status"
        id=$(basename "$(ls "$XDG_RUNTIME_DIR"/docker-credential-ecr/meta/*.json)" .json)
        key=$(keyctl search @s user "keyring:$id@docker-credential-ecr")
        keyctl pipe "$key" > "$OUT/stored"
        "#;
    let out = env.path("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut cmd = env.shell(&["keyctl", "session", "-"], script);
    cmd.env("OUT", &out);
    let run = run_command(cmd, "");
    assert!(run.success, "stdout={} stderr={}", run.stdout, run.stderr);

    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
    let password = password_for("123456789012", 1);
    assert!(read("first").contains(&password));
    assert_eq!(
        read("first"),
        read("second"),
        "second process served from keyutils"
    );
    assert_eq!(fake.token_requests().len(), 1);
    assert_eq!(
        read("stored"),
        packed_text(&password),
        "keyctl reads our value back"
    );
    let status: serde_json::Value = serde_json::from_str(&read("status")).unwrap();
    assert_eq!(status["backend"], "keyutils");
    assert!(
        !env.path("run/docker-credential-ecr/tokens").exists(),
        "nothing on disk with keyutils"
    );
}

#[test]
fn keyutils_outside_a_session_is_refused_and_get_still_works() {
    if !tools_present("keyutils refusal", &["keyctl"], "apt-get install keyutils") {
        return;
    }
    if in_session_keyring() {
        eprintln!("SKIPPED keyutils refusal: this test process has a login session keyring");
        return;
    }
    // Like CI, containers and cron: no session keyring. Asking for keyutils
    // must neither fail `get` nor leave a half-added key behind.
    let fake = FakeAws::start();
    let env = env_for(&fake, "keyutils");
    let keys_before = user_session_keys();
    let run = env.get(HOST);
    assert!(
        run.stdout.contains("\"Secret\""),
        "{} {}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.stderr.contains("keyutils is not usable here"),
        "{}",
        run.stderr
    );
    assert_eq!(
        user_session_keys(),
        keys_before,
        "no stray key in the user-session keyring"
    );
    let status = env.run(&["status", "--json"], "");
    assert!(
        status.stdout.contains("\"backend\":\"none\""),
        "{}",
        status.stdout
    );
}

fn user_session_keys() -> String {
    Command::new("keyctl")
        .args(["rlist", "@us"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

#[test]
fn secret_service_keeps_the_token_in_gnome_keyring() {
    if !tools_present(
        "Secret Service backend",
        &["dbus-run-session", "gnome-keyring-daemon", "secret-tool"],
        "apt-get install dbus gnome-keyring libsecret-tools",
    ) {
        return;
    }
    let fake = FakeAws::start();
    for cache in ["keyring", "auto"] {
        let env = env_for(&fake, cache);
        let out = env.path("out");
        std::fs::create_dir_all(&out).unwrap();
        let calls_before = fake.token_requests().len();
        let script = r#"
            set -e
            echo -n test-password | gnome-keyring-daemon --unlock --components=secrets > /dev/null
            printf %s "$HOST" | "$BIN" get > "$OUT/first"
            printf %s "$HOST" | "$BIN" get > "$OUT/second"
            "$BIN" status --json > "$OUT/status"
            id=$(basename "$(ls "$XDG_RUNTIME_DIR"/docker-credential-ecr/meta/*.json)" .json)
            secret-tool lookup service docker-credential-ecr username "$id" > "$OUT/stored"
            "#;
        let mut cmd = env.shell(&["dbus-run-session", "--"], script);
        cmd.env("OUT", &out);
        let run = run_command(cmd, "");
        assert!(
            run.success,
            "{cache}: stdout={} stderr={}",
            run.stdout, run.stderr
        );

        let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
        let password = password_for("123456789012", calls_before + 1);
        assert!(
            read("first").contains(&password),
            "{cache}: {}",
            read("first")
        );
        assert_eq!(read("first"), read("second"), "{cache}: second process hit");
        assert_eq!(fake.token_requests().len(), calls_before + 1, "{cache}");
        assert_eq!(
            read("stored"),
            packed_text(&password),
            "{cache}: secret-tool reads it back"
        );
        let status: serde_json::Value = serde_json::from_str(&read("status")).unwrap();
        if cache == "keyring" || !in_session_keyring() {
            assert_eq!(status["backend"], "secret-service", "{cache}");
            assert!(
                !env.path("run/docker-credential-ecr/tokens").exists(),
                "{cache}: nothing on disk"
            );
        }
    }
}

#[test]
fn a_locked_keyring_falls_back_without_hanging() {
    if !tools_present(
        "locked keyring fallback",
        &["dbus-run-session", "gnome-keyring-daemon"],
        "apt-get install dbus gnome-keyring",
    ) {
        return;
    }
    let fake = FakeAws::start();
    let env = env_for(&fake, "auto");
    // No --unlock: the collection is locked (D-Bus activation starts the daemon).
    let script = r#"printf %s "$HOST" | "$BIN" get && "$BIN" status --json"#;
    let run = run_command(env.shell(&["dbus-run-session", "--"], script), "");
    assert!(run.success, "stdout={} stderr={}", run.stdout, run.stderr);
    assert!(run.stdout.contains("\"Secret\""));
    if !in_session_keyring() {
        assert!(
            run.stdout.contains("\"backend\":\"file\""),
            "{}",
            run.stdout
        );
    }
}

/// Whether the test process itself has a session keyring (a developer's login),
/// in which case auto-selection rightly prefers keyutils.
fn in_session_keyring() -> bool {
    let ids = |spec: &str| {
        Command::new("keyctl")
            .args(["rdescribe", spec])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    match (ids("@s"), ids("@us")) {
        (Some(s), Some(us)) => !s.is_empty() && s != us,
        _ => false,
    }
}

#[test]
fn a_stuck_secret_service_cannot_stall_get() {
    if !tools_present(
        "stuck Secret Service",
        &["dbus-run-session", "gnome-keyring-daemon", "dbus-send"],
        "apt-get install dbus gnome-keyring",
    ) {
        return;
    }
    let fake = FakeAws::start();
    let env = env_for(&fake, "keyring");
    // Freeze this session's keyring daemon (found through the bus, not by name:
    // other tests run their own), then ask for a token.
    let script = r#"
        set -e
        echo -n test-password | gnome-keyring-daemon --unlock --components=secrets > /dev/null
        printf %s "$HOST" | "$BIN" get > /dev/null
        pid=$(dbus-send --session --print-reply --dest=org.freedesktop.DBus / \
              org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets \
              | awk '/uint32/ {print $2}')
        kill -STOP "$pid"
        printf %s "$HOST" | DOCKER_CREDENTIAL_ECR_LOG=warn "$BIN" get
        kill -CONT "$pid"
        "#;
    let run = run_command(env.shell(&["dbus-run-session", "--"], script), "");
    assert!(run.success, "stdout={} stderr={}", run.stdout, run.stderr);
    assert!(run.stdout.contains("\"Secret\""), "{}", run.stdout);
    assert!(run.stderr.contains("no answer within"), "{}", run.stderr);
}

#[test]
fn secret_service_keeps_registry_logins_and_nothing_secret_on_disk() {
    if !tools_present(
        "Secret Service logins",
        &["dbus-run-session", "gnome-keyring-daemon", "secret-tool"],
        "apt-get install dbus gnome-keyring libsecret-tools",
    ) {
        return;
    }
    let env = TestEnv::bare();
    let out = env.path("out");
    std::fs::create_dir_all(&out).unwrap();
    let script = r#"
        set -e
        echo -n test-password | gnome-keyring-daemon --unlock --components=secrets > /dev/null
        printf '%s' '{"ServerURL":"registry.example.test:5000","Username":"alice","Secret":"kept-in-keyring"}' \
            | "$BIN" store 2> "$OUT/store-err"
        printf %s registry.example.test:5000 | "$BIN" get > "$OUT/get"
        "$BIN" list > "$OUT/list"
        dir="$HOME/.local/share/docker-credential-ecr/logins"
        id=$(basename "$(ls "$dir"/*.json)" .json)
        secret-tool lookup service docker-credential-ecr username "login-$id" > "$OUT/stored"
        ls -A "$dir" > "$OUT/files"
        cat "$dir"/* > "$OUT/on-disk"
        printf %s registry.example.test:5000 | "$BIN" erase
        if secret-tool lookup service docker-credential-ecr username "login-$id"; then
            echo still there > "$OUT/after-erase"
        fi
        ls -A "$dir" > "$OUT/files-after-erase"
        "#;
    let mut cmd = env.shell(&["dbus-run-session", "--"], script);
    cmd.env("OUT", &out);
    let run = run_command(cmd, "");
    assert!(run.success, "stdout={} stderr={}", run.stdout, run.stderr);
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap_or_default();
    assert_eq!(read("store-err"), "", "no file-store note with a keyring");
    let got: serde_json::Value = serde_json::from_str(&read("get")).unwrap();
    assert_eq!(got["Secret"], "kept-in-keyring");
    assert_eq!(got["Username"], "alice");
    assert_eq!(
        read("list").trim(),
        r#"{"registry.example.test:5000":"alice"}"#
    );
    assert!(
        read("stored").contains("kept-in-keyring"),
        "secret-tool reads it back: {}",
        read("stored")
    );
    assert!(
        !read("on-disk").contains("kept-in-keyring"),
        "only the index is on disk: {}",
        read("files")
    );
    assert_eq!(read("after-erase"), "", "erase removed the keyring item");
    assert_eq!(read("files-after-erase").trim(), "", "and the index record");
}
