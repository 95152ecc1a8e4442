//! The docker-credential-helpers contract through the real binary: actions, exit codes, streams.

use crate::harness::{HOST, TestEnv};

#[test]
fn store_succeeds_for_ecr_so_docker_login_works() {
    let env = TestEnv::bare();
    for server in [HOST, "https://public.ecr.aws"] {
        let body =
            format!(r#"{{"ServerURL":"{server}","Username":"AWS","Secret":"eyJwYXlsb2FkIjoi"}}"#);
        let run = env.run(&["store"], &body);
        assert!(run.success, "{server}: {} {}", run.stdout, run.stderr);
        assert_eq!(run.stdout, "");
        assert!(!run.stderr.contains("eyJwYXlsb2FkIjoi"));
    }
}

#[test]
fn store_keeps_other_registries_and_refuses_bad_input_clearly() {
    let env = TestEnv::bare();
    let run = env.run(
        &["store"],
        r#"{"ServerURL":"docker.io","Username":"me","Secret":"s3cr3t-value"}"#,
    );
    assert!(run.success, "{} {}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("s3cr3t-value") && !run.stderr.contains("s3cr3t-value"));

    for (input, needle) in [
        ("", "invalid `store` request"),
        ("{\"ServerURL\":", "invalid `store` request"),
        (
            r#"{"ServerURL":"","Username":"AWS"}"#,
            "no credentials server URL",
        ),
        (
            r#"{"ServerURL":"x","Username":""}"#,
            "no credentials username",
        ),
    ] {
        let run = env.run(&["store"], input);
        assert!(!run.success, "{input}");
        assert!(run.stdout.contains(needle), "{input}: {}", run.stdout);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(!run.stderr.contains("panicked"));
    }
}

#[test]
fn erase_is_idempotent_and_list_always_succeeds() {
    let env = TestEnv::bare();
    for _ in 0..2 {
        let run = env.run(&["erase"], HOST);
        assert!(
            run.success && run.stdout.is_empty(),
            "{} {}",
            run.stdout,
            run.stderr
        );
    }
    let run = env.run(&["erase"], "");
    assert!(!run.success);
    assert_eq!(run.stdout, "no credentials server URL\n");

    let run = env.run(&["list"], "unused");
    assert!(run.success);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(v.is_object());
}

#[test]
fn empty_get_is_the_protocols_error_not_not_found() {
    let env = TestEnv::bare();
    for input in ["", "\n", "   "] {
        let run = env.get(input);
        assert!(!run.success);
        assert_eq!(run.stdout, "no credentials server URL\n");
    }
}

#[test]
fn usage_version_and_help() {
    let env = TestEnv::bare();
    for args in [&[][..], &["get", "extra"][..]] {
        let run = env.run(args, "");
        assert!(!run.success);
        assert_eq!(
            run.stdout,
            "Usage: docker-credential-ecr <store|get|erase|list|version>\n"
        );
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
    let run = env.run(&["frobnicate"], "");
    assert!(!run.success);
    assert_eq!(
        run.stdout,
        "docker-credential-ecr: unknown action: frobnicate\n"
    );

    let run = env.run(&["version"], "");
    assert!(run.success);
    assert_eq!(
        run.stdout,
        format!(
            "docker-credential-ecr (docker-credential-ecr) {}\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    let run = env.run(&["--version"], "");
    assert!(run.success && run.stdout.contains(env!("CARGO_PKG_VERSION")));
    let run = env.run(&["--help"], "");
    assert!(run.success && run.stdout.contains("credHelpers") && run.stdout.contains("get"));
}

#[test]
fn binary_stdin_is_an_error_not_a_panic() {
    let env = TestEnv::bare();
    let mut cmd = env.command(&["get"]);
    cmd.stdin(std::process::Stdio::piped());
    let run = crate::harness::run_command(cmd, "\u{0}\u{1}");
    assert!(!run.success);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}
