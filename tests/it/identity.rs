//! Issue 14: the identity matrix. Every credential source a user may have,
//! through the real binary, against in-process fakes of STS, the SSO portal,
//! instance metadata (v2) and container credentials, all on loopback.
//!
//! For each row: the ECR call is signed with that source's credentials; a
//! warm `get` contacts no credential source (nor ECR); another principal of
//! the same kind never gets the first one's token; and where the source has a
//! natural failure, the user sees one line that names the fix. MFA and SSO
//! rows run with the daemon off and on.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::fake_aws::{
    FakeAws, IMDS_KEY_ID, MFA_CODE, Recorded, assumed_key_id, container_key_id, sso_key_id,
    web_identity_key_id,
};
use crate::harness::{HOST, KEY_ID, Run, SECRET_KEY, TestEnv, run_command};

/// Both ways `get` can be served: directly (file cache) and through the daemon.
fn modes() -> [(&'static str, bool); 2] {
    [("direct", false), ("daemon", true)]
}

/// No credentials at all; every AWS endpoint (ECR, STS, the SSO portal) is
/// the fake; the file cache on, so a warm `get` has something to hit.
fn world(daemon: bool) -> (TestEnv, FakeAws) {
    let fake = FakeAws::start();
    let mut env = TestEnv::bare();
    env.endpoint(&fake.url)
        .set("AWS_ENDPOINT_URL_SSO", &fake.url)
        .set("DOCKER_CREDENTIAL_ECR_CACHE", "file");
    if daemon {
        env.with_daemon();
    }
    (env, fake)
}

/// What every row checks: the token call is signed by `signer`, and a warm
/// `get` returns the same token while contacting nothing. Returns the secret.
#[track_caller]
fn mint(env: &TestEnv, fake: &FakeAws, signer: &str, daemon: bool, row: &str) -> String {
    let calls = fake.token_requests().len();
    let secret = env.get(HOST).secret(HOST);
    let signers = fake.token_signers();
    assert_eq!(signers.len(), calls + 1, "{row}: one token call");
    assert_eq!(
        signers.last().unwrap(),
        signer,
        "{row}: signed by the source"
    );
    if daemon {
        env.wait_for_daemon();
    }
    let seen = fake.requests().len();
    assert_eq!(env.get(HOST).secret(HOST), secret, "{row}: warm get");
    assert_eq!(
        fake.requests().len(),
        seen,
        "{row}: a warm get contacted AWS: {:?}",
        &fake.requests()[seen..]
    );
    secret
}

/// Another principal of the same kind: a new token call, signed by `signer`, another token.
#[track_caller]
fn another(env: &TestEnv, fake: &FakeAws, signer: &str, first: &str, row: &str) -> String {
    let calls = fake.token_requests().len();
    let secret = env.get(HOST).secret(HOST);
    assert_ne!(
        secret, first,
        "{row}: another principal got the first one's token"
    );
    let signers = fake.token_signers();
    assert_eq!(signers.len(), calls + 1, "{row}");
    assert_eq!(signers.last().unwrap(), signer, "{row}");
    secret
}

/// A failing `get`: not-found on stdout, one stderr line with every needle.
#[track_caller]
fn fails(env: &TestEnv, needles: &[&str]) -> Run {
    let run = env.get(HOST);
    run.assert_not_found().assert_reason(needles);
    eprintln!("fix line: {}", run.stderr.trim());
    run
}

#[test]
fn environment_keys() {
    let (mut env, fake) = world(false);
    env.set("AWS_ACCESS_KEY_ID", KEY_ID)
        .set("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
    let a = mint(&env, &fake, KEY_ID, false, "env keys");
    env.set("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEENVKEY002");
    another(&env, &fake, "AKIDEXAMPLEENVKEY002", &a, "env keys");
    assert!(fake.credential_requests().is_empty());
}

#[test]
fn environment_session_keys() {
    let (mut env, fake) = world(false);
    env.set("AWS_ACCESS_KEY_ID", "ASIAFAKEENVSESSION01")
        .set("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .set("AWS_SESSION_TOKEN", "session-one");
    let a = mint(&env, &fake, "ASIAFAKEENVSESSION01", false, "env session");
    // The same key id with another session token is another session.
    env.set("AWS_SESSION_TOKEN", "session-two");
    another(&env, &fake, "ASIAFAKEENVSESSION01", &a, "env session");
}

#[test]
fn profile_keys() {
    let (mut env, fake) = world(false);
    env.write(
        "aws/credentials",
        "[ci]\naws_access_key_id = AKIDEXAMPLEPROFILE01\naws_secret_access_key = s1\n[qa]\naws_access_key_id = AKIDEXAMPLEPROFILE02\naws_secret_access_key = s2\n",
    );
    env.set("AWS_PROFILE", "ci");
    let a = mint(&env, &fake, "AKIDEXAMPLEPROFILE01", false, "profile");
    env.set("AWS_PROFILE", "qa");
    another(&env, &fake, "AKIDEXAMPLEPROFILE02", &a, "profile");
}

#[test]
fn credential_process() {
    let (mut env, fake) = world(false);
    let calls = env.path("process-calls");
    let script = env.write(
        "bin/creds.sh",
        &format!(
            "#!/bin/sh\necho \"$1\" >> '{}'\n[ \"$1\" = broken ] && {{ echo 'token expired: re-run vault login' >&2; exit 1; }}\nprintf '{{\"Version\":1,\"AccessKeyId\":\"AKIDFAKEPROC%s\",\"SecretAccessKey\":\"procSecret\"}}' \"$1\"\n",
            calls.display()
        ),
    );
    make_executable(&script);
    let script = script.display();
    env.write(
        "aws/config",
        &format!(
            "[profile alice]\ncredential_process = {script} ALICE\n[profile bob]\ncredential_process = {script} BOB\n[profile broken]\ncredential_process = {script} broken\n"
        ),
    );
    let ran = || {
        std::fs::read_to_string(&calls)
            .unwrap_or_default()
            .lines()
            .count()
    };
    env.set("AWS_PROFILE", "alice");
    let a = mint(
        &env,
        &fake,
        "AKIDFAKEPROCALICE",
        false,
        "credential_process",
    );
    assert_eq!(ran(), 1, "the warm get ran the process");
    env.set("AWS_PROFILE", "bob");
    another(&env, &fake, "AKIDFAKEPROCBOB", &a, "credential_process");
    env.set("AWS_PROFILE", "broken");
    fails(&env, &["broken"]);
}

#[test]
fn a_two_hop_role_chain() {
    let (mut env, fake) = world(false);
    env.write(
        "aws/credentials",
        "[base]\naws_access_key_id = AKIDEXAMPLECHAIN001\naws_secret_access_key = s\n",
    );
    env.write(
        "aws/config",
        "[profile mid]\nrole_arn = arn:aws:iam::123456789012:role/mid\nsource_profile = base\n\
         [profile top]\nrole_arn = arn:aws:iam::123456789012:role/top\nsource_profile = mid\n\
         [profile other]\nrole_arn = arn:aws:iam::123456789012:role/other\nsource_profile = mid\n\
         [profile dangling]\nrole_arn = arn:aws:iam::123456789012:role/top\nsource_profile = nowhere\n",
    );
    env.set("AWS_PROFILE", "top");
    let top = assumed_key_id("arn:aws:iam::123456789012:role/top");
    let a = mint(&env, &fake, &top, false, "chain");
    let hops: Vec<(String, String)> = fake
        .assume_role_requests()
        .iter()
        .map(|r| (r.form("RoleArn").unwrap(), r.access_key_id()))
        .collect();
    assert_eq!(
        hops,
        [
            (
                "arn:aws:iam::123456789012:role/mid".to_string(),
                "AKIDEXAMPLECHAIN001".to_string()
            ),
            (
                "arn:aws:iam::123456789012:role/top".to_string(),
                assumed_key_id("arn:aws:iam::123456789012:role/mid")
            ),
        ]
    );
    env.set("AWS_PROFILE", "other");
    let other = assumed_key_id("arn:aws:iam::123456789012:role/other");
    another(&env, &fake, &other, &a, "chain");
    env.set("AWS_PROFILE", "dangling");
    fails(
        &env,
        &["profile dangling has source_profile = nowhere, but no profile nowhere exists"],
    );
}

/// An MFA role profile (source: static keys in the credentials file).
fn mfa_profile(env: &TestEnv, extra: &str) {
    env.write(
        "aws/credentials",
        &format!("[base]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET_KEY}\n"),
    );
    env.write(
        "aws/config",
        &format!(
            "[profile mfa]\nrole_arn = arn:aws:iam::123456789012:role/mfaAdmin\nmfa_serial = arn:aws:iam::123456789012:mfa/dev\nsource_profile = base\n{extra}"
        ),
    );
}

/// botocore's cache file name for the `mfa` profile without extra arguments.
const MFA_CACHE: &str = "home/.aws/cli/cache/91b385929ebc1a4af1c78c3f9ea890186d451f8d.json";

/// A role session as the AWS CLI caches it after the MFA prompt.
fn cli_session(key_id: &str, secret: &str, expiration: &str) -> String {
    format!(
        r#"{{"Credentials": {{"AccessKeyId": "{key_id}", "SecretAccessKey": "{secret}", "SessionToken": "session-of-{secret}", "Expiration": "{expiration}"}}, "AssumedRoleUser": {{"AssumedRoleId": "AROAFAKE:botocore-session-1", "Arn": "arn:aws:sts::123456789012:assumed-role/mfaAdmin/botocore-session-1"}}, "ResponseMetadata": {{}}}}"#
    )
}

#[track_caller]
fn no_sts(fake: &FakeAws, row: &str) {
    let sts: Vec<Recorded> = fake
        .requests()
        .into_iter()
        .filter(|r| r.target.starts_with("STS."))
        .collect();
    assert!(sts.is_empty(), "{row}: STS was called: {sts:?}");
}

/// Acceptance: with a valid CLI session, `get` makes no STS call; with none,
/// none either, and names the fix. Before issue 14 it called AssumeRole
/// without a code (STS refuses) and said only AccessDenied.
#[test]
fn mfa_via_the_aws_cli_cache() {
    for (mode, daemon) in modes() {
        let row = format!("mfa cli cache ({mode})");
        let (mut env, fake) = world(daemon);
        mfa_profile(&env, "");
        env.set("AWS_PROFILE", "mfa");

        // No session yet: the fix, and no STS call.
        let run = fails(
            &env,
            &[
                "profile mfa needs an MFA code",
                "\"docker-credential-ecr login --profile mfa\"",
                "any aws command with --profile mfa",
                "the session lasts 1 h",
            ],
        );
        no_sts(&fake, &row);
        eprintln!("{row}: {}", run.stderr.trim());

        env.write(
            MFA_CACHE,
            &cli_session(
                "ASIAFAKEMFACLISESS01",
                "cliSecretOne",
                "2099-01-01T00:00:00UTC",
            ),
        );
        let a = mint(&env, &fake, "ASIAFAKEMFACLISESS01", daemon, &row);
        no_sts(&fake, &row);

        // A new MFA session (a new login, or another user's) never gets the first one's token.
        env.write(
            MFA_CACHE,
            &cli_session(
                "ASIAFAKEMFACLISESS02",
                "cliSecretTwo",
                "2099-01-01T00:00:00Z",
            ),
        );
        another(&env, &fake, "ASIAFAKEMFACLISESS02", &a, &row);

        // An expired session is no session.
        env.write(
            MFA_CACHE,
            &cli_session(
                "ASIAFAKEMFACLISESS03",
                "cliSecretOld",
                "2020-01-01T00:00:00Z",
            ),
        );
        fails(&env, &["profile mfa needs an MFA code"]);
        no_sts(&fake, &row);
    }
}

/// The interpreter behind `python3` (pyenv's shim needs the real HOME, which tests replace).
pub(crate) fn python() -> Option<String> {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let exe = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !exe.is_empty()).then_some(exe)
}

/// Runs `argv` on a new pseudo-terminal, typing `answer` once `prompt` shows;
/// prints everything the terminal showed, exits with the program's status.
const PTY_DRIVER: &str = r#"
import os, pty, select, sys, time
prompt, answer, argv = sys.argv[1].encode(), sys.argv[2].encode(), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
out, sent, deadline = b"", False, time.time() + 60
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.2)
    if not ready:
        continue
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    if not sent and prompt in out:
        os.write(fd, answer + b"\n")
        sent = True
else:
    os.kill(pid, 9)
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;

/// `argv` on a terminal through [`PTY_DRIVER`], answering `prompt` with `answer`.
pub(crate) fn on_a_terminal(
    env: &TestEnv,
    python: &str,
    prompt: &str,
    answer: &str,
    argv: &[&str],
) -> Run {
    let mut cmd = env.program(python);
    cmd.args(["-c", PTY_DRIVER, prompt, answer]).args(argv);
    run_command(cmd, "")
}

#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `login` asks for the code on the terminal, sends it with every argument the
/// profile sets, and caches the session where `get` (and the AWS CLI) use it.
#[test]
fn mfa_via_login() {
    let Some(python) = python() else {
        crate::harness::may_run("mfa_via_login", false, "python3 is not installed");
        return;
    };
    for (mode, daemon) in modes() {
        let row = format!("mfa login ({mode})");
        let (mut env, fake) = world(daemon);
        mfa_profile(
            &env,
            "duration_seconds = 7200\nexternal_id = ext-42\nrole_session_name = alice\n",
        );
        // botocore's key for these arguments (see src/mfa.rs).
        let cache = env.path("home/.aws/cli/cache/be7f38e914893e0fe9180207f2735e489a6b222d.json");

        // A profile without mfa_serial has nothing to log in to.
        env.run(&["login", "--profile", "base"], "")
            .assert_reason(&["profile base assumes no role with mfa_serial"]);

        // No terminal: one line, nothing sent.
        let run = env.run(&["login", "--profile", "mfa"], "123456\n");
        assert!(!run.success, "{row}");
        run.assert_reason(&["needs a terminal", "arn:aws:iam::123456789012:mfa/dev"]);
        assert!(fake.requests().is_empty(), "{row}");

        // A wrong code: STS refuses, the user is told, nothing is cached.
        let bin = crate::harness::BIN;
        let run = on_a_terminal(
            &env,
            &python,
            "mfa/dev: ",
            "000000",
            &[bin, "login", "--profile", "mfa"],
        );
        assert!(!run.success, "{row}: {}", run.stdout);
        assert!(
            run.stdout.contains("MultiFactorAuthentication failed"),
            "{row}: {}",
            run.stdout
        );
        assert!(!cache.exists(), "{row}");

        let run = on_a_terminal(
            &env,
            &python,
            "mfa/dev: ",
            MFA_CODE,
            &[bin, "login", "--profile", "mfa"],
        );
        assert!(run.success, "{row}: {} / {}", run.stdout, run.stderr);
        assert!(
            run.stdout
                .contains("MFA code for arn:aws:iam::123456789012:mfa/dev")
                && run.stdout.contains("valid until"),
            "{row}: {}",
            run.stdout
        );
        let calls = fake.assume_role_requests();
        let login = calls.last().unwrap();
        for (name, want) in [
            ("RoleArn", "arn:aws:iam::123456789012:role/mfaAdmin"),
            ("SerialNumber", "arn:aws:iam::123456789012:mfa/dev"),
            ("TokenCode", MFA_CODE),
            ("DurationSeconds", "7200"),
            ("ExternalId", "ext-42"),
            ("RoleSessionName", "alice"),
        ] {
            assert_eq!(login.form(name).as_deref(), Some(want), "{row}: {name}");
        }
        assert_eq!(
            login.access_key_id(),
            KEY_ID,
            "{row}: signed by the source profile"
        );
        #[cfg(unix)]
        {
            assert_eq!(mode_of(&cache), 0o600, "{row}");
            assert_eq!(mode_of(cache.parent().unwrap()), 0o700, "{row}");
        }
        let signer = assumed_key_id("arn:aws:iam::123456789012:role/mfaAdmin");
        let text = std::fs::read_to_string(&cache).unwrap();
        assert!(
            text.contains(&format!(r#""AccessKeyId":"{signer}""#)),
            "{row}: {text}"
        );

        // get uses that session: no STS call.
        let sts = fake.assume_role_requests().len();
        env.set("AWS_PROFILE", "mfa");
        let a = mint(&env, &fake, &signer, daemon, &row);
        assert_eq!(fake.assume_role_requests().len(), sts, "{row}");

        // A second login is a new session: never the first one's token.
        let run = on_a_terminal(&env, &python, "mfa/dev: ", MFA_CODE, &[bin, "login"]);
        assert!(run.success, "{row}: {} / {}", run.stdout, run.stderr);
        another(&env, &fake, &signer, &a, &row);
    }
}

/// `~/.aws/sso/cache/<sha1(name)>.json` for the two names these tests use.
fn sso_cache_file(name: &str) -> &'static str {
    match name {
        "corp" => "ee0bfd2552fbd840c02cc48b6e823320543c450f",
        "https://corp.awsapps.com/start" => "a51746d4aa793ae07b25e90c3a5db96fc7832bd7",
        other => panic!("no precomputed SHA-1 for {other}"),
    }
}

/// The SSO token `aws sso login` caches, valid until `expires`.
fn sso_token(env: &TestEnv, name: &str, bearer: &str, expires: &str) {
    env.write(
        &format!("home/.aws/sso/cache/{}.json", sso_cache_file(name)),
        &format!(
            r#"{{"startUrl":"https://corp.awsapps.com/start","region":"us-west-2","accessToken":"{bearer}","expiresAt":"{expires}"}}"#
        ),
    );
}

#[test]
fn sso_with_an_sso_session() {
    for (mode, daemon) in modes() {
        let row = format!("sso-session ({mode})");
        let (mut env, fake) = world(daemon);
        env.write(
            "aws/config",
            "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Dev\n\
             [profile ops]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Ops\n\
             [profile qa]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = QA\n\
             [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-west-2\n",
        );
        env.set("AWS_PROFILE", "dev");
        // Not logged in: the exact command.
        fails(&env, &["aws sso login --sso-session corp"]);
        assert!(fake.sso_requests().is_empty(), "{row}");

        sso_token(&env, "corp", "corpBearerAlice", "2099-01-01T00:00:00Z");
        let a = mint(&env, &fake, &sso_key_id("corpBearerAlice"), daemon, &row);
        let portal = fake.sso_requests();
        assert_eq!(portal.len(), 1, "{row}");
        assert_eq!(portal[0].authorization, "corpBearerAlice", "{row}");
        assert!(
            portal[0].body.contains("role_name=Dev")
                && portal[0].body.contains("account_id=123456789012"),
            "{row}: {}",
            portal[0].body
        );
        // Another role of the same login is another principal.
        env.set("AWS_PROFILE", "ops");
        another(&env, &fake, &sso_key_id("corpBearerAlice"), &a, &row);

        // Expired: the exact command, and the portal is not asked.
        let before = fake.sso_requests().len();
        sso_token(&env, "corp", "corpBearerAlice", "2020-01-01T00:00:00Z");
        env.set("AWS_PROFILE", "dev");
        // The cached ECR token is still valid: it is served (nothing past what the cache allows).
        assert_eq!(env.get(HOST).secret(HOST), a, "{row}");
        env.set("AWS_PROFILE", "qa");
        let run = fails(
            &env,
            &[
                "the SSO session of profile qa has expired",
                "aws sso login --sso-session corp",
            ],
        );
        eprintln!("{row}: {}", run.stderr.trim());
        assert_eq!(fake.sso_requests().len(), before, "{row}");
    }
}

#[test]
fn sso_legacy_profile() {
    for (mode, daemon) in modes() {
        let row = format!("legacy sso ({mode})");
        let (mut env, fake) = world(daemon);
        env.write(
            "aws/config",
            "[profile old]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-west-2\nsso_account_id = 123456789012\nsso_role_name = Dev\n\
             [profile old2]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-west-2\nsso_account_id = 210987654321\nsso_role_name = Dev\n\
             [profile old3]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-west-2\nsso_account_id = 123456789012\nsso_role_name = QA\n",
        );
        env.set("AWS_PROFILE", "old");
        fails(&env, &["aws sso login --profile old"]);
        sso_token(
            &env,
            "https://corp.awsapps.com/start",
            "legacyBearer",
            "2099-01-01T00:00:00Z",
        );
        let a = mint(&env, &fake, &sso_key_id("legacyBearer"), daemon, &row);
        env.set("AWS_PROFILE", "old2");
        another(&env, &fake, &sso_key_id("legacyBearer"), &a, &row);
        sso_token(
            &env,
            "https://corp.awsapps.com/start",
            "legacyBearer",
            "2020-01-01T00:00:00Z",
        );
        // The SDK sends a legacy token without looking at its expiry: the
        // portal refuses it (one call), and the user gets the command.
        fake.expire_sso_token("legacyBearer");
        let before = fake.sso_requests().len();
        env.set("AWS_PROFILE", "old3");
        fails(&env, &["has expired", "aws sso login --profile old3"]);
        assert!(fake.sso_requests().len() <= before + 1, "{row}");
    }
}

#[test]
fn web_identity() {
    let (mut env, fake) = world(false);
    let token = env.write("oidc/token", "jwt-for-deploy");
    env.set("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/deploy")
        .set("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap());
    let signer = web_identity_key_id("arn:aws:iam::123456789012:role/deploy");
    let a = mint(&env, &fake, &signer, false, "web identity");
    env.set("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/build");
    let b = web_identity_key_id("arn:aws:iam::123456789012:role/build");
    another(&env, &fake, &b, &a, "web identity");
    fake.deny_web_identity();
    env.write("oidc/token", "jwt-for-someone-else");
    fails(&env, &["InvalidIdentityToken"]);
}

#[test]
fn container_credentials_ecs_and_eks_pod_identity() {
    let (mut env, fake) = world(false);
    // ECS-style: the authorization token in a variable.
    env.set(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        &format!("{}/v2/credentials", fake.url),
    )
    .set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "task-a");
    let a = mint(&env, &fake, &container_key_id("task-a"), false, "ecs");
    env.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "task-b");
    another(&env, &fake, &container_key_id("task-b"), &a, "ecs");
    // EKS Pod Identity: the token in a file.
    env.unset("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    let file = env.write("pod/token", "pod-a");
    env.set(
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        file.to_str().unwrap(),
    );
    let b = mint(
        &env,
        &fake,
        &container_key_id("pod-a"),
        false,
        "pod identity",
    );
    env.write("pod/token", "pod-b");
    another(&env, &fake, &container_key_id("pod-b"), &b, "pod identity");
    assert_eq!(fake.container_requests().len(), 4);
}

#[test]
fn instance_metadata_v2() {
    let (mut env, fake) = world(false);
    env.unset("AWS_EC2_METADATA_DISABLED")
        .set("AWS_EC2_METADATA_SERVICE_ENDPOINT", &fake.url);
    mint(&env, &fake, IMDS_KEY_ID, false, "imds");
    let targets: Vec<String> = fake
        .credential_requests()
        .iter()
        .map(|r| r.target.clone())
        .collect();
    assert!(targets.contains(&"IMDS.Token".to_string()), "{targets:?}");
    assert!(
        targets.contains(&"IMDS.Credentials".to_string()),
        "{targets:?}"
    );
    assert!(
        !targets.contains(&"IMDS.Unauthorized".to_string()),
        "v1 fallback: {targets:?}"
    );
    // Off EC2 (metadata disabled) there is nothing: one line that says what to set.
    env.set("AWS_EC2_METADATA_DISABLED", "true")
        .set("DOCKER_CREDENTIAL_ECR_CACHE", "none");
    fails(&env, &["no AWS credentials found", "help:"]);
}

/// A role assumed on top of the MFA role (`source_profile = mfa`): the
/// cached MFA session signs that AssumeRole; the MFA role itself is never
/// assumed without a code.
#[test]
fn a_role_above_the_mfa_role_uses_the_cached_session() {
    let (mut env, fake) = world(false);
    mfa_profile(
        &env,
        "[profile top]\nrole_arn = arn:aws:iam::123456789012:role/top\nsource_profile = mfa\n",
    );
    env.set("AWS_PROFILE", "top");
    fails(
        &env,
        &["profile top needs an MFA code", "login --profile top"],
    );
    no_sts(&fake, "above mfa");
    env.write(
        MFA_CACHE,
        &cli_session(
            "ASIAFAKEMFACLISESS01",
            "cliSecretOne",
            "2099-01-01T00:00:00Z",
        ),
    );
    let top = assumed_key_id("arn:aws:iam::123456789012:role/top");
    mint(&env, &fake, &top, false, "above mfa");
    let hops: Vec<(String, String)> = fake
        .assume_role_requests()
        .iter()
        .map(|r| (r.form("RoleArn").unwrap(), r.access_key_id()))
        .collect();
    assert_eq!(
        hops,
        [(
            "arn:aws:iam::123456789012:role/top".to_string(),
            "ASIAFAKEMFACLISESS01".to_string()
        )]
    );
}

/// `doctor` says when the SSO session ends, warns within the hour and fails
/// with the login command once it is over.
#[test]
fn doctor_says_when_the_sso_session_ends() {
    use std::time::{SystemTime, UNIX_EPOCH};
    let (mut env, _fake) = world(false);
    env.write(
        "aws/config",
        "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Dev\n\
         [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-west-2\n",
    );
    env.set("AWS_PROFILE", "dev");
    let sso = |env: &TestEnv| {
        let run = env.run(&["doctor", "--json", HOST], "");
        let report: serde_json::Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("doctor --json: {e}: {}", run.stdout));
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == "sso")
            .cloned()
            .unwrap_or_else(|| panic!("no sso check: {report}"))
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let at = |secs: u64| crate::fake_aws::iso8601(secs);

    let check = sso(&env);
    assert_eq!(check["status"], "fail", "{check}");
    assert_eq!(check["fix"], "aws sso login --sso-session corp", "{check}");

    sso_token(&env, "corp", "corpBearer", &at(now + 4 * 3600));
    let check = sso(&env);
    assert_eq!(check["status"], "ok", "{check}");
    assert!(
        check["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("valid until {}", at(now + 4 * 3600))),
        "{check}"
    );

    sso_token(&env, "corp", "corpBearer", &at(now + 1800));
    let check = sso(&env);
    assert_eq!(check["status"], "warn", "{check}");
    assert!(
        check["detail"]
            .as_str()
            .unwrap()
            .contains("ends within the hour"),
        "{check}"
    );
    assert_eq!(check["fix"], "aws sso login --sso-session corp", "{check}");

    sso_token(&env, "corp", "corpBearer", "2020-01-01T00:00:00Z");
    let check = sso(&env);
    assert_eq!(check["status"], "fail", "{check}");
    assert!(
        check["detail"]
            .as_str()
            .unwrap()
            .contains("expired at 2020-01-01T00:00:00Z"),
        "{check}"
    );
}
