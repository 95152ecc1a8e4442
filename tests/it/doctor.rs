//! `doctor` against the fake AWS endpoint: a healthy set-up passes, and each
//! broken step is named with its fix.

use std::path::Path;

use crate::fake_aws::{CALLER_ARN, FakeAws};
use crate::harness::{BIN, HOST, Run, TestEnv};

/// PATH with our binary's directory first, as an installed helper would be.
fn installed(env: &mut TestEnv) -> &mut TestEnv {
    let dir = Path::new(BIN).parent().unwrap().display().to_string();
    let path = format!("{dir}:{}", env.var("PATH").unwrap_or_default());
    env.set("PATH", &path)
}

fn routed(env: &TestEnv) {
    env.write(
        "home/.docker/config.json",
        &format!("{{\"credHelpers\": {{\"{HOST}\": \"ecr\"}}}}"),
    );
}

fn line<'a>(run: &'a Run, check: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|l| {
            l.split_once(' ')
                .is_some_and(|(_, rest)| rest.starts_with(check))
        })
        .unwrap_or_else(|| panic!("no {check} line in:\n{}", run.stdout))
}

#[test]
fn healthy_setup_passes_every_check() {
    let fake = FakeAws::start();
    let mut env = TestEnv::new();
    env.endpoint(&fake.url)
        .set("DOCKER_CREDENTIAL_ECR_CACHE", "file");
    installed(&mut env);
    routed(&env);

    let run = env.run(&["doctor", HOST], "");
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    for check in ["path", "docker", "credentials", "token", "cache", "daemon"] {
        assert!(line(&run, check).starts_with('✓'), "{}", run.stdout);
    }
    assert!(line(&run, "credentials").contains(CALLER_ARN));
    assert!(line(&run, "token").contains("GetAuthorizationToken succeeded"));
    assert!(line(&run, "cache").contains("file"));
    assert!(
        run.stdout.ends_with("no problems found\n"),
        "{}",
        run.stdout
    );
    let targets: Vec<String> = fake.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(
        targets,
        [
            "STS.GetCallerIdentity",
            "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
        ]
    );
    // The token doctor fetched is cached for the next `get`.
    let get = env.get(HOST);
    assert!(get.success);
    assert_eq!(fake.token_requests().len(), 1);

    // Without a host it checks every registry docker routes here; JSON for scripts.
    let run = env.run(&["doctor", "--json"], "");
    assert!(run.success, "{}", run.stdout);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["ok"], true);
    let checks = doc["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["check"] == "docker" && c["detail"].as_str().unwrap().contains(HOST))
    );
    assert!(checks.iter().all(|c| c["status"] != "fail"), "{doc}");
}

#[test]
fn no_credentials_fails_the_credentials_line_with_the_reason() {
    let fake = FakeAws::start();
    let mut env = TestEnv::bare();
    env.endpoint(&fake.url);
    installed(&mut env);
    routed(&env);

    let run = env.run(&["doctor", HOST], "");
    assert!(!run.success, "{}", run.stdout);
    let credentials = line(&run, "credentials");
    assert!(credentials.starts_with('✗'), "{credentials}");
    assert!(
        credentials.contains("no AWS credentials found"),
        "{credentials}"
    );
    assert!(
        run.stdout.contains("fix: set AWS_PROFILE"),
        "{}",
        run.stdout
    );
    assert!(
        line(&run, "token").starts_with('-'),
        "skipped: {}",
        run.stdout
    );
    assert!(line(&run, "docker").starts_with('✓'));
    assert!(
        fake.requests().is_empty(),
        "nothing to sign with, nothing sent"
    );
}

#[test]
fn unrouted_host_names_the_file_to_fix() {
    let fake = FakeAws::start();
    let mut env = TestEnv::new();
    env.endpoint(&fake.url);
    installed(&mut env);
    env.write(
        "home/.docker/config.json",
        "{\"credHelpers\": {\"gcr.io\": \"gcr\"}}",
    );

    let run = env.run(&["doctor", HOST], "");
    assert!(!run.success);
    let docker = line(&run, "docker");
    let file = env.path("home/.docker/config.json");
    assert!(
        docker.starts_with('✗')
            && docker.contains(&format!(
                "{} has no credHelpers entry for {HOST}",
                file.display()
            )),
        "{docker}"
    );
    assert!(
        run.stdout.contains(&format!(
            "fix: docker-credential-ecr configure --registry {HOST}"
        )),
        "{}",
        run.stdout
    );
    // The rest still runs: the credentials and token are fine.
    assert!(line(&run, "token").starts_with('✓'), "{}", run.stdout);
}

#[test]
fn stale_podman_token_and_missing_path_are_reported() {
    let fake = FakeAws::start();
    let mut env = TestEnv::new();
    env.endpoint(&fake.url).set("PATH", "/nonexistent");
    routed(&env);
    let stale = env.write(
        "run/containers/auth.json",
        &format!("{{\"auths\":{{\"{HOST}\":{{\"auth\":\"QVdTOm9sZA==\"}}}}}}"),
    );
    let run = env.run(&["doctor", HOST], "");
    assert!(!run.success);
    assert!(line(&run, "path").starts_with('✗'), "{}", run.stdout);
    let podman = line(&run, "podman");
    assert!(
        podman.starts_with('✗') && podman.contains(&stale.display().to_string()),
        "{podman}"
    );
    assert!(run.stdout.contains(&format!("fix: podman logout {HOST}")));
}

/// Every line for `check`, in order.
fn lines<'a>(run: &'a Run, check: &str) -> Vec<&'a str> {
    run.stdout
        .lines()
        .filter(|l| {
            l.split_once(' ')
                .is_some_and(|(_, rest)| rest.starts_with(check))
        })
        .collect()
}

#[test]
fn creds_store_mode_routes_every_ecr_host_and_checks_the_callers_own_registry() {
    let fake = FakeAws::start();
    let mut env = TestEnv::new();
    env.endpoint(&fake.url).set("AWS_REGION", "eu-west-1");
    installed(&mut env);
    env.write("home/.docker/config.json", "{\"credsStore\": \"ecr\"}");

    let run = env.run(&["doctor"], "");
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let docker = line(&run, "docker");
    assert!(
        docker.starts_with('✓')
            && docker.contains("credsStore mode")
            && docker.contains("every registry"),
        "{docker}"
    );
    // No host named: the caller's own registry in the default region is tried.
    let token = line(&run, "token");
    assert!(
        token.starts_with('✓')
            && token
                .contains("123456789012.dkr.ecr.eu-west-1.amazonaws.com: GetAuthorizationToken"),
        "{}",
        run.stdout
    );
    // podman ignores credsStore: at most a warning until configured.
    assert!(
        lines(&run, "podman").iter().all(|l| l.starts_with('!')),
        "{}",
        run.stdout
    );

    // A host listed nowhere is routed all the same.
    let run = env.run(&["doctor", HOST], "");
    let docker = line(&run, "docker");
    assert!(
        docker.starts_with('✓')
            && docker.contains(&format!("credsStore routes {HOST}, and every registry")),
        "{docker}"
    );

    // With the registries.conf drop-in, podman is in credential-helpers mode.
    assert!(env.run(&["configure", "--store", "--podman"], "").success);
    for args in [&["doctor"][..], &["doctor", HOST]] {
        let run = env.run(args, "");
        assert!(run.success, "{}", run.stdout);
        let podman = line(&run, "podman");
        assert!(
            podman.starts_with('✓')
                && podman.contains("50-docker-credential-ecr.conf: credential-helpers mode")
                && podman.contains("\"containers-auth.json\", \"ecr\""),
            "{podman}"
        );
    }
}

#[test]
fn another_creds_store_names_both_ways_to_route_ecr_here() {
    let fake = FakeAws::start();
    let mut env = TestEnv::new();
    env.endpoint(&fake.url);
    installed(&mut env);
    env.write("home/.docker/config.json", "{\"credsStore\": \"desktop\"}");

    let run = env.run(&["doctor", HOST], "");
    assert!(!run.success);
    let docker = line(&run, "docker");
    assert!(
        docker.starts_with('✗')
            && docker.contains(&format!(
                "credsStore routes {HOST} to docker-credential-desktop"
            )),
        "{docker}"
    );
    assert!(
        run.stdout.contains(&format!(
            "fix: docker-credential-ecr configure --registry {HOST} (or --store for every \
             registry; it copies docker-credential-desktop's logins first)"
        )),
        "{}",
        run.stdout
    );

    let run = env.run(&["doctor"], "");
    assert!(!run.success);
    let docker = line(&run, "docker");
    assert!(
        docker.starts_with('✗')
            && docker.contains("\"credsStore\": \"desktop\" answers for every registry"),
        "{docker}"
    );
    assert!(
        run.stdout.contains("or --store for every registry"),
        "{}",
        run.stdout
    );
}
