//! `get` against the fake endpoint: the token exchange and every way it can fail.

use crate::fake_aws::{ASSUMED_KEY_ID, FakeAws, Reply, black_hole, password_for};
use crate::harness::{HOST, KEY_ID, SECRET_KEY, TestEnv};

fn env_with_fake() -> (TestEnv, FakeAws) {
    let fake = FakeAws::start();
    let mut env = TestEnv::new();
    env.endpoint(&fake.url);
    (env, fake)
}

#[test]
fn get_returns_the_decoded_token_and_sends_region_and_registry_id() {
    let (env, fake) = env_with_fake();
    let secret = env.get(HOST).secret(HOST);
    assert_eq!(secret, password_for("123456789012", 1));

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(
        r.target,
        "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
    );
    assert_eq!(r.region(), "us-west-2");
    assert_eq!(r.service(), "ecr");
    assert_eq!(r.registry_ids(), vec!["123456789012"]);
    assert_eq!(r.access_key_id(), KEY_ID);
}

#[test]
fn every_input_form_clients_send_is_accepted_and_echoed() {
    let (env, fake) = env_with_fake();
    let other = "210987654321.dkr.ecr.eu-central-1.amazonaws.com";
    for input in [
        other.to_string(),
        format!("{other}\n"),
        format!("https://{other}"),
        format!("http://{other}/v2/team/app/manifests/latest"),
        format!("{other}:443"),
        format!("HTTPS://{}/", other.to_uppercase()),
    ] {
        env.get(&input).secret(&input);
    }
    for r in fake.token_requests() {
        assert_eq!(r.region(), "eu-central-1");
        assert_eq!(r.registry_ids(), vec!["210987654321"]);
    }
}

#[test]
fn non_ecr_hosts_touch_no_aws_config_ca_bundle_or_network() {
    let (mut env, fake) = env_with_fake();
    // Anything that reads these would fail loudly.
    let garbage = env.write("aws/garbage", "[[[ not an ini file");
    env.set("AWS_CONFIG_FILE", garbage.to_str().unwrap())
        .set("AWS_CA_BUNDLE", "/nonexistent/ca.pem")
        .set("AWS_PROFILE", "no-such-profile");
    for host in [
        "docker.io",
        "https://index.docker.io/v1/",
        "ghcr.io",
        "localhost:5000",
        "quay.io/x",
    ] {
        let run = env.get(host);
        run.assert_not_found();
        assert_eq!(run.stderr, "", "{host}");
    }
    assert_eq!(fake.requests().len(), 0);
}

#[test]
fn access_denied_is_not_found_with_the_reason_on_stderr() {
    let (env, fake) = env_with_fake();
    fake.script([Reply::AccessDenied]);
    env.get(HOST).assert_not_found().assert_reason(&[
        HOST,
        "access denied",
        "ecr:GetAuthorizationToken",
    ]);
    assert_eq!(
        fake.token_requests().len(),
        1,
        "access denied is not retried"
    );
}

#[test]
fn throttling_is_retried_with_backoff_and_then_succeeds() {
    let (env, fake) = env_with_fake();
    fake.script([Reply::Throttle, Reply::Throttle]);
    let secret = env.get(HOST).secret(HOST);
    assert_eq!(secret, password_for("123456789012", 1));
    assert_eq!(fake.token_requests().len(), 3);
}

#[test]
fn persistent_throttling_ends_within_the_budget_with_a_reason() {
    let (mut env, fake) = env_with_fake();
    env.set("DOCKER_CREDENTIAL_ECR_TIMEOUT", "3");
    fake.script(std::iter::repeat_n(Reply::Throttle, 50));
    let run = env.get(HOST);
    run.assert_not_found();
    assert!(
        run.stderr.contains("throttled") || run.stderr.contains("timed out"),
        "{}",
        run.stderr
    );
    assert!(
        fake.token_requests().len() >= 2,
        "throttling must be retried"
    );
}

#[test]
fn an_endpoint_that_never_answers_is_bounded_by_the_timeout() {
    let mut env = TestEnv::new();
    env.endpoint(&black_hole())
        .set("DOCKER_CREDENTIAL_ECR_TIMEOUT", "1");
    let run = env.get(HOST);
    run.assert_not_found().assert_reason(&["timed out"]);
    // Not a speed assertion: the watchdog only proves the helper cannot hang a build.
    eprintln!("black-holed endpoint answered after {:?}", run.elapsed);
}

#[test]
fn a_fake_that_hangs_mid_request_is_bounded_too() {
    let (mut env, fake) = env_with_fake();
    env.set("DOCKER_CREDENTIAL_ECR_TIMEOUT", "1");
    fake.script([Reply::Hang]);
    env.get(HOST)
        .assert_not_found()
        .assert_reason(&["timed out"]);
}

#[test]
fn no_credentials_anywhere_is_not_found_with_what_to_do() {
    let fake = FakeAws::start();
    let mut env = TestEnv::bare();
    env.endpoint(&fake.url);
    env.get(HOST).assert_not_found().assert_reason(&[
        "no AWS credentials",
        "profile `default`",
        "help:",
    ]);
    assert_eq!(fake.requests().len(), 0);
}

#[test]
fn a_black_holed_imds_does_not_stall_get() {
    let fake = FakeAws::start();
    let mut env = TestEnv::bare();
    env.endpoint(&fake.url)
        .unset("AWS_EC2_METADATA_DISABLED")
        .set("AWS_EC2_METADATA_SERVICE_ENDPOINT", &black_hole());
    let run = env.get(HOST);
    run.assert_not_found();
    assert!(run.stderr.contains("credentials"), "{}", run.stderr);
    assert_eq!(fake.requests().len(), 0);
    eprintln!(
        "no credentials + black-holed IMDS answered after {:?}",
        run.elapsed
    );
}

#[test]
fn unknown_profile_is_reported_by_name() {
    let (mut env, fake) = env_with_fake();
    env.unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .set("AWS_PROFILE", "ghost");
    env.write("aws/config", "[default]\nregion = us-east-1\n");
    let run = env.get(HOST);
    run.assert_not_found().assert_reason(&["ghost"]);
    assert_eq!(fake.requests().len(), 0);
}

#[test]
fn ecr_public_uses_its_own_api_in_us_east_1() {
    let (env, fake) = env_with_fake();
    for host in [
        "public.ecr.aws",
        "https://public.ecr.aws/amazonlinux",
        "ecr-public.aws.com",
    ] {
        let secret = env.get(host).secret(host);
        assert!(secret.starts_with("pw-public-"), "{secret}");
    }
    for r in fake.token_requests() {
        assert_eq!(r.target, "SpencerFrontendService.GetAuthorizationToken");
        assert_eq!(r.region(), "us-east-1");
        assert_eq!(r.service(), "ecr-public");
    }
}

#[test]
fn an_undecodable_token_is_a_clear_error() {
    let (env, fake) = env_with_fake();
    fake.script([Reply::BadToken]);
    env.get(HOST)
        .assert_not_found()
        .assert_reason(&["unusable token", "base64"]);
}

#[test]
fn ca_bundle_is_read_only_for_a_network_call_and_errors_clearly() {
    let (mut env, fake) = env_with_fake();
    env.set("AWS_CA_BUNDLE", "/nonexistent/ca.pem");
    env.get("docker.io").assert_not_found();
    env.get(HOST)
        .assert_not_found()
        .assert_reason(&["AWS_CA_BUNDLE", "/nonexistent/ca.pem"]);
    assert_eq!(fake.requests().len(), 0);

    let not_pem = env.write("not-a-cert.pem", "hello");
    env.set("AWS_CA_BUNDLE", not_pem.to_str().unwrap());
    env.get(HOST)
        .assert_not_found()
        .assert_reason(&["no PEM certificate"]);
}

#[test]
fn config_maps_a_registry_to_a_profile() {
    // Environment keys are set too: an explicit mapping in our config wins.
    let (env, fake) = env_with_fake();
    env.write(
        "aws/credentials",
        "[default]\naws_access_key_id = AKIDEXAMPLEDEFAULT01\naws_secret_access_key = d\n\
         [team]\naws_access_key_id = AKIDEXAMPLETEAMKEY01\naws_secret_access_key = t\n",
    );
    env.config("[[registry]]\nhost = \"*.dkr.ecr.us-west-2.amazonaws.com\"\nprofile = \"team\"\n");
    env.get(HOST).secret(HOST);
    env.get("123456789012.dkr.ecr.eu-west-1.amazonaws.com")
        .secret("123456789012.dkr.ecr.eu-west-1.amazonaws.com");
    let keys = fake.token_signers();
    assert_eq!(keys, vec!["AKIDEXAMPLETEAMKEY01", KEY_ID]);
}

#[test]
fn config_role_arn_is_assumed_before_the_token_call() {
    let (env, fake) = env_with_fake();
    env.config(
        "[[registry]]\nhost = \"123456789012.*\"\nrole_arn = \"arn:aws:iam::123456789012:role/ecr-pull\"\n",
    );
    env.get(HOST).secret(HOST);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(reqs[0].target, "STS.AssumeRole");
    assert!(reqs[0].body.contains("role%2Fecr-pull"), "{}", reqs[0].body);
    assert_eq!(reqs[0].access_key_id(), KEY_ID);
    assert_eq!(reqs[1].access_key_id(), ASSUMED_KEY_ID);
}

#[test]
fn config_alias_serves_a_custom_domain() {
    let (env, fake) = env_with_fake();
    env.config(
        "[[alias]]\nhost = \"registry.example.test\"\naccount = \"210987654321\"\nregion = \"ap-southeast-2\"\n",
    );
    let secret = env
        .get("https://registry.example.test/v2/")
        .secret("https://registry.example.test/v2/");
    assert_eq!(secret, password_for("210987654321", 1));
    let r = &fake.token_requests()[0];
    assert_eq!(r.region(), "ap-southeast-2");
    assert_eq!(r.registry_ids(), vec!["210987654321"]);
    env.get("other.example.test").assert_not_found();
}

#[test]
fn a_broken_config_file_is_named_with_its_line() {
    let (mut env, fake) = env_with_fake();
    let path = env.config("timeout = 5\n[[registry]]\nhost = \"*\"\nrole = \"x\"\n");
    let shown = format!("{}:4:", path.display());
    env.get(HOST)
        .assert_not_found()
        .assert_reason(&[&shown, "unknown field `role`"]);
    assert_eq!(fake.requests().len(), 0);

    env.set("DOCKER_CREDENTIAL_ECR_CONFIG", "/nonexistent/config.toml");
    env.get(HOST)
        .assert_not_found()
        .assert_reason(&["/nonexistent/config.toml", "cannot read"]);
}

#[test]
fn an_invalid_timeout_is_reported_not_defaulted() {
    let (mut env, _fake) = env_with_fake();
    env.set("DOCKER_CREDENTIAL_ECR_TIMEOUT", "soon");
    env.get(HOST)
        .assert_not_found()
        .assert_reason(&["DOCKER_CREDENTIAL_ECR_TIMEOUT", "seconds"]);
}

#[test]
fn secrets_never_reach_the_log_even_at_trace() {
    let (mut env, _fake) = env_with_fake();
    env.set("DOCKER_CREDENTIAL_ECR_LOG", "trace")
        .set("AWS_SESSION_TOKEN", "fakeSessionTokenThatMustNeverBeLogged");
    // Through an assumed role too, so STS's answer is covered.
    env.config("[[registry]]\nhost = \"*\"\nrole_arn = \"arn:aws:iam::123456789012:role/r\"\n");
    let run = env.get(HOST);
    let password = run.secret(HOST);
    assert!(
        run.stderr.len() > 200,
        "trace logging should say something: {}",
        run.stderr
    );
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"));
    for secret in [
        password.as_str(),
        encoded.as_str(),
        SECRET_KEY,
        "fakeSessionTokenThatMustNeverBeLogged",
        "fakeAssumedSecretKeyDoNotLog",
        "fakeAssumedSessionTokenDoNotLog",
    ] {
        assert!(!run.stderr.contains(secret), "{secret} leaked into the log");
    }
}

#[test]
fn an_unknown_log_level_is_reported_and_quiet_default_kept() {
    let (mut env, _fake) = env_with_fake();
    env.set("DOCKER_CREDENTIAL_ECR_LOG", "loudest");
    let run = env.get(HOST);
    run.secret(HOST);
    assert!(
        run.stderr.contains("DOCKER_CREDENTIAL_ECR_LOG"),
        "{}",
        run.stderr
    );

    env.unset("DOCKER_CREDENTIAL_ECR_LOG");
    let run = env.get(HOST);
    run.secret(HOST);
    assert_eq!(run.stderr, "", "quiet by default");
}

#[test]
fn timeout_setting_from_config_is_used() {
    let mut env = TestEnv::new();
    env.endpoint(&black_hole());
    env.config("timeout = 1\n");
    let run = env.get(HOST);
    run.assert_not_found()
        .assert_reason(&["timed out after 1s"]);
}
