//! Issue 16: a self-hosted CI runner runs every job as one uid. A cached token
//! goes only to a caller that holds the credentials it was minted with,
//! directly, through the lock-file single-flight, and through the daemon.

use crate::fake_aws::{FakeAws, password_for};
use crate::harness::{HOST, TestEnv};

const ACCOUNT: &str = "123456789012";

/// Both ways a job's `get` can be served: direct (file cache) and through the daemon.
fn modes() -> [(&'static str, bool); 2] {
    [("direct", false), ("daemon", true)]
}

fn runner(daemon: bool) -> (TestEnv, FakeAws) {
    let fake = FakeAws::start();
    let mut env = TestEnv::new();
    env.endpoint(&fake.url)
        .set("DOCKER_CREDENTIAL_ECR_CACHE", "file");
    if daemon {
        env.with_daemon();
    }
    (env, fake)
}

/// With the daemon on, the first `get` starts it; make sure it serves the rest.
fn warm_up(env: &TestEnv, daemon: bool) {
    if daemon {
        env.wait_for_daemon();
    }
}

/// Job A (`repo:org/prod`) and job B (`repo:evil/fork`) name the same role
/// and the same token path; only the token inside differs. B must go to STS,
/// whose trust policy is what keeps the role to A's repository.
#[test]
fn web_identity_jobs_with_the_same_role_and_path_never_share_a_token() {
    for (mode, daemon) in modes() {
        let (mut env, fake) = runner(daemon);
        env.unset("AWS_ACCESS_KEY_ID")
            .unset("AWS_SECRET_ACCESS_KEY")
            .set("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/deployProd");
        let token = env.write("runner/oidc-token", "jwt-for-repo:org/prod");
        env.set("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap());
        let a = env.get(HOST).secret(HOST);
        warm_up(&env, daemon);
        // Job A again: its own token, no new call.
        assert_eq!(env.get(HOST).secret(HOST), a, "{mode}");
        let calls = fake.token_requests().len();

        env.write("runner/oidc-token", "jwt-for-repo:evil/fork");
        let b = env.get(HOST).secret(HOST);
        assert_ne!(a, b, "{mode}: job B was served job A's token");
        assert_eq!(fake.token_requests().len(), calls + 1, "{mode}");
        let presented: Vec<String> = fake
            .web_identity_requests()
            .iter()
            .filter_map(|r| r.form("WebIdentityToken"))
            .collect();
        assert!(
            presented.iter().any(|t| t == "jwt-for-repo:evil/fork"),
            "{mode}: STS never saw job B's token: {presented:?}"
        );
        assert_eq!(password_for(ACCOUNT, 1), a, "{mode}");
    }
}

/// The same access key id with another (wrong, revoked) secret is another
/// caller: it never hits the first one's entry.
#[test]
fn an_access_key_id_without_its_secret_never_hits_the_cache() {
    for (mode, daemon) in modes() {
        let (mut env, fake) = runner(daemon);
        env.set("AWS_SECRET_ACCESS_KEY", "secretA");
        let a = env.get(HOST).secret(HOST);
        warm_up(&env, daemon);
        assert_eq!(env.get(HOST).secret(HOST), a, "{mode}");
        assert_eq!(fake.token_requests().len(), 1, "{mode}");

        env.set("AWS_SECRET_ACCESS_KEY", "secretB");
        let b = env.get(HOST).secret(HOST);
        assert_ne!(a, b, "{mode}: the wrong secret was served the token");
        assert_eq!(fake.token_requests().len(), 2, "{mode}");
        // A session token is part of the possession too.
        env.set("AWS_SESSION_TOKEN", "session-1");
        let c = env.get(HOST).secret(HOST);
        assert_ne!(c, b, "{mode}");
        assert_eq!(fake.token_requests().len(), 3, "{mode}");
    }
}

/// A credentials-file profile whose secret changed is another caller too.
#[test]
fn a_profile_whose_secret_changed_never_hits_the_cache() {
    for (mode, daemon) in modes() {
        let (mut env, fake) = runner(daemon);
        env.unset("AWS_ACCESS_KEY_ID")
            .unset("AWS_SECRET_ACCESS_KEY")
            .set("AWS_PROFILE", "ci");
        let creds = |secret: &str| {
            format!(
                "[ci]\naws_access_key_id = AKIDEXAMPLECIJOB0001\naws_secret_access_key = {secret}\n"
            )
        };
        env.write("aws/credentials", &creds("one"));
        let a = env.get(HOST).secret(HOST);
        warm_up(&env, daemon);
        assert_eq!(env.get(HOST).secret(HOST), a, "{mode}");
        env.write("aws/credentials", &creds("two"));
        let b = env.get(HOST).secret(HOST);
        assert_ne!(a, b, "{mode}");
        assert_eq!(fake.token_requests().len(), 2, "{mode}");
    }
}

/// A client that claims another caller's key over the socket gets only what
/// its own environment can mint: the daemon derives the key itself.
#[test]
fn the_daemon_never_serves_a_key_the_callers_environment_does_not_give() {
    use std::io::{Read, Write};
    let (env, fake) = runner(true);
    let a = env.get(HOST).secret(HOST);
    env.wait_for_daemon();
    assert_eq!(env.get(HOST).secret(HOST), a);
    let key = std::fs::read_dir(env.path("run/docker-credential-ecr/meta"))
        .unwrap()
        .flatten()
        .find_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".json")
                .map(str::to_string)
        })
        .expect("job A's key id");
    // Job B knows A's key id and access key id, not A's secret.
    let mut vars = serde_json::Map::new();
    for (k, v) in [
        ("HOME", env.var("HOME").unwrap()),
        ("XDG_RUNTIME_DIR", env.var("XDG_RUNTIME_DIR").unwrap()),
        ("XDG_CONFIG_HOME", env.var("XDG_CONFIG_HOME").unwrap()),
        ("AWS_CONFIG_FILE", env.var("AWS_CONFIG_FILE").unwrap()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            env.var("AWS_SHARED_CREDENTIALS_FILE").unwrap(),
        ),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL_ECR", fake.url.as_str()),
        ("AWS_ENDPOINT_URL_ECR_PUBLIC", fake.url.as_str()),
        ("AWS_ENDPOINT_URL_STS", fake.url.as_str()),
        ("DOCKER_CREDENTIAL_ECR_CACHE", "file"),
        ("AWS_ACCESS_KEY_ID", crate::harness::KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", "not-the-secret"),
    ] {
        vars.insert(k.into(), v.into());
    }
    let request = serde_json::json!({
        "v": 2, "op": "get", "host": HOST, "key": key, "label": "forged",
        "timeout_ms": 20000, "cwd": "/", "env": vars,
    })
    .to_string();
    let mut stream = std::os::unix::net::UnixStream::connect(env.socket()).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut frame = (request.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(request.as_bytes());
    stream.write_all(&frame).unwrap();
    let mut replies = String::new();
    let _ = stream.read_to_string(&mut replies);
    assert!(
        !replies.contains(&a),
        "the daemon served job A's token: {replies}"
    );
    assert!(replies.contains("\"reply\":\"token\""), "{replies}");
    assert_eq!(fake.token_requests().len(), 2);
}
