//! Kubelet mode through the real binary: kubelet's request in, a response
//! kubelet's strict decoder accepts out, one AWS call for a node's parallel
//! plugin runs, the service-account token flow, and the example config's
//! `matchImages` checked with kubelet's own matching rule.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

use crate::fake_aws::{FakeAws, Reply, password_for, web_identity_key_id};
use crate::harness::{HOST, Run, TestEnv, in_parallel_with};

const ACCOUNT: &str = "123456789012";
const V1: &str = "credentialprovider.kubelet.k8s.io/v1";
const VERSIONS: [&str; 3] = [
    V1,
    "credentialprovider.kubelet.k8s.io/v1beta1",
    "credentialprovider.kubelet.k8s.io/v1alpha1",
];

/// Kubelet's `CredentialProviderResponse` (all three versions have these
/// fields), decoded the way kubelet's codec does: unknown fields are errors.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct KubeletResponse {
    api_version: String,
    kind: String,
    cache_key_type: String,
    cache_duration: Option<String>,
    auth: Option<BTreeMap<String, KubeletAuth>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KubeletAuth {
    username: String,
    password: String,
}

fn request(version: &str, image: &str) -> String {
    format!(r#"{{"apiVersion":"{version}","kind":"CredentialProviderRequest","image":"{image}"}}"#)
}

/// What kubelet makes of our stdout: strict decoding, then its own checks.
#[track_caller]
fn kubelet_decodes(run: &Run, version: &str) -> KubeletResponse {
    assert!(
        run.success,
        "exit 1: stdout={} stderr={}",
        run.stdout, run.stderr
    );
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let response: KubeletResponse = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("kubelet would reject {}: {e}", run.stdout));
    assert_eq!(response.api_version, version, "apiVersion must match");
    assert_eq!(response.kind, "CredentialProviderResponse");
    assert!(
        ["Image", "Registry", "Global"].contains(&response.cache_key_type.as_str()),
        "{response:?}"
    );
    response
}

/// Go's `time.ParseDuration`, for the `XhYmZs` forms we write.
fn parse_go_duration(s: &str) -> Duration {
    let mut total = 0u64;
    let mut number = String::new();
    for c in s.chars() {
        match c {
            '0'..='9' => number.push(c),
            'h' | 'm' | 's' => {
                let n: u64 = number
                    .parse()
                    .unwrap_or_else(|_| panic!("bad duration {s}"));
                total += n * match c {
                    'h' => 3600,
                    'm' => 60,
                    _ => 1,
                };
                number.clear();
            }
            _ => panic!("bad duration {s}"),
        }
    }
    assert!(number.is_empty() && !s.is_empty(), "bad duration {s}");
    Duration::from_secs(total)
}

fn env_with_fake(cache: &str) -> (TestEnv, FakeAws) {
    let fake = FakeAws::start();
    let mut env = TestEnv::new();
    env.endpoint(&fake.url)
        .set("DOCKER_CREDENTIAL_ECR_CACHE", cache);
    (env, fake)
}

#[test]
fn the_strict_mirror_rejects_an_extra_field() {
    // Without this, the checks below could pass with a decoder that accepts anything.
    let extra = r#"{"apiVersion":"x","kind":"CredentialProviderResponse","cacheKeyType":"Registry","auth":{},"extra":1}"#;
    assert!(serde_json::from_str::<KubeletResponse>(extra).is_err());
    let nested = r#"{"apiVersion":"x","kind":"k","cacheKeyType":"Registry","auth":{"h":{"username":"u","password":"p","email":""}}}"#;
    assert!(serde_json::from_str::<KubeletResponse>(nested).is_err());
}

#[test]
fn every_api_version_round_trips_and_kubelet_decodes_the_answer_strictly() {
    let (env, fake) = env_with_fake("none");
    for (n, version) in VERSIONS.iter().enumerate() {
        let image = format!("{HOST}/team/app");
        let run = env.run(&["kubelet"], &request(version, &image));
        let response = kubelet_decodes(&run, version);
        assert_eq!(response.cache_key_type, "Registry");
        let auth = response.auth.expect("auth");
        assert_eq!(auth.keys().collect::<Vec<_>>(), [HOST]);
        assert_eq!(auth[HOST].username, "AWS");
        assert_eq!(auth[HOST].password, password_for(ACCOUNT, n + 1));
        // Kubelet may keep it until 5 minutes before the 12 h token expires, never longer.
        let kept = parse_go_duration(&response.cache_duration.expect("cacheDuration"));
        let limit = Duration::from_secs(12 * 3600 - 300);
        assert!(kept <= limit, "{kept:?}");
        assert!(kept >= limit - Duration::from_secs(60), "{kept:?}");
    }
    assert_eq!(fake.token_requests().len(), 3);
    assert!(
        fake.token_requests()
            .iter()
            .all(|r| r.region() == "us-west-2" && r.registry_ids() == [ACCOUNT])
    );
}

#[test]
fn the_auth_key_is_the_images_registry_exactly_as_kubelet_matches_it() {
    let (env, _fake) = env_with_fake("none");
    // Kubelet matches auth keys case-sensitively and with the port, as written in the image.
    let upper = HOST.to_ascii_uppercase();
    for (image, key) in [
        (format!("{upper}/app"), upper.clone()),
        (format!("{HOST}:443/app"), format!("{HOST}:443")),
        (HOST.to_string(), HOST.to_string()),
    ] {
        let response = kubelet_decodes(&env.run(&["kubelet"], &request(V1, &image)), V1);
        let auth = response.auth.unwrap();
        assert_eq!(auth.keys().collect::<Vec<_>>(), [&key], "{image}");
    }
}

#[test]
fn images_that_are_not_ecr_get_no_credentials_and_exit_0() {
    let (env, fake) = env_with_fake("none");
    for image in [
        "docker.io/library/nginx",
        "ghcr.io/org/app",
        "nginx",
        "localhost:5000/app",
        "notanaccount.dkr.ecr.us-east-1.amazonaws.com/app",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example/app",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com:5000/app",
    ] {
        let response = kubelet_decodes(&env.run(&["kubelet"], &request(V1, image)), V1);
        assert_eq!(response.auth.unwrap().len(), 0, "{image}");
        // Answering costs nothing, so kubelet is told not to keep the empty answer.
        assert_eq!(response.cache_duration.as_deref(), Some("0s"), "{image}");
    }
    assert!(fake.requests().is_empty());
}

#[test]
fn ecr_public_images_get_an_ecr_public_token() {
    let (env, fake) = env_with_fake("none");
    let response = kubelet_decodes(
        &env.run(&["kubelet"], &request(V1, "public.ecr.aws/nginx/nginx")),
        V1,
    );
    let auth = response.auth.unwrap();
    assert_eq!(auth["public.ecr.aws"].password, password_for("public", 1));
    let calls = fake.token_requests();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].target.starts_with("SpencerFrontendService"));
    assert_eq!(calls[0].region(), "us-east-1");
}

#[track_caller]
fn assert_failed(run: &Run, needles: &[&str]) {
    assert!(!run.success, "{}", run.stdout);
    assert_eq!(run.stdout, "", "kubelet reads only a response from stdout");
    run.assert_reason(needles);
}

#[test]
fn failures_exit_1_with_one_line_on_stderr_and_nothing_on_stdout() {
    let (env, fake) = env_with_fake("none");
    fake.script([Reply::AccessDenied]);
    let req = request(V1, &format!("{HOST}/app"));
    assert_failed(
        &env.run(&["kubelet"], &req),
        &[HOST, "access denied", "ecr:GetAuthorizationToken"],
    );

    let mut bare = TestEnv::bare();
    bare.endpoint(&fake.url);
    assert_failed(&bare.run(&["kubelet"], &req), &["no AWS credentials"]);

    for (bad, needle) in [
        ("", "not a CredentialProviderRequest"),
        ("nonsense", "not a CredentialProviderRequest"),
        (
            r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderResponse","image":"x"}"#,
            "expected kind",
        ),
        (
            r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v2","kind":"CredentialProviderRequest","image":"x"}"#,
            "not supported",
        ),
        (
            r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest"}"#,
            "no image",
        ),
    ] {
        assert_failed(&env.run(&["kubelet"], bad), &[needle]);
    }
    assert_eq!(fake.token_requests().len(), 1);
}

#[test]
fn a_hung_endpoint_is_an_error_within_the_fetch_timeout() {
    let (mut env, fake) = env_with_fake("none");
    env.set("DOCKER_CREDENTIAL_ECR_TIMEOUT", "1");
    fake.script([Reply::Hang]);
    let run = env.run(&["kubelet"], &request(V1, &format!("{HOST}/app")));
    assert_failed(&run, &["timed out"]);
}

#[test]
fn parallel_plugin_runs_for_one_registry_make_one_call() {
    // Kubelet's singleflight is per image: a node starting pods from one
    // registry runs the plugin once per image, all at once.
    let (env, fake) = env_with_fake("file");
    let req = request(V1, &format!("{HOST}/team/app"));
    let runs = in_parallel_with(32, &req, |_| env.command(&["kubelet"]));
    for run in &runs {
        let auth = kubelet_decodes(run, V1).auth.unwrap();
        assert_eq!(auth[HOST].password, password_for(ACCOUNT, 1));
    }
    assert_eq!(fake.token_requests().len(), 1);
}

#[cfg(unix)]
#[test]
fn parallel_plugin_runs_through_the_daemon_make_one_call() {
    let (mut env, fake) = env_with_fake("file");
    env.with_daemon();
    let started = env.run(&["daemon", "start"], "");
    assert!(started.success, "{}", started.stderr);
    env.wait_for_daemon();
    let req = request(V1, &format!("{HOST}/team/app"));
    // `required`: an answer that did not come from the daemon would be an error.
    let runs = in_parallel_with(32, &req, |_| {
        let mut cmd = env.command(&["kubelet"]);
        cmd.env("DOCKER_CREDENTIAL_ECR_DAEMON", "required");
        cmd
    });
    for run in &runs {
        let response = kubelet_decodes(run, V1);
        assert_eq!(
            response.auth.unwrap()[HOST].password,
            password_for(ACCOUNT, 1)
        );
        // The daemon does not say when it minted the token: the largest margin is assumed.
        let kept = parse_go_duration(&response.cache_duration.unwrap());
        assert!(kept <= Duration::from_secs(12 * 3600 - 300), "{kept:?}");
    }
    assert_eq!(fake.token_requests().len(), 1);
    assert_eq!(env.daemon_status()["api_calls"], 1);
}

/// An unsigned JWT with the claims kubelet's service-account tokens carry.
fn sa_token(namespace: &str, name: &str) -> String {
    let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let claims = format!(
        r#"{{"aud":["sts.amazonaws.com"],"exp":4102444800,"iss":"https://oidc.example/id/CLUSTER","sub":"system:serviceaccount:{namespace}:{name}","kubernetes.io":{{"namespace":"{namespace}"}}}}"#
    );
    format!(
        "{}.{}.c2lnbmF0dXJlLW5vdC1jaGVja2Vk",
        b(r#"{"alg":"RS256"}"#),
        b(&claims)
    )
}

fn sa_request(token: &str, role: Option<&str>) -> String {
    let annotations = role
        .map(|r| {
            format!(r#","serviceAccountAnnotations":{{"eks.amazonaws.com/ecr-role-arn":"{r}"}}"#)
        })
        .unwrap_or_default();
    format!(
        r#"{{"apiVersion":"{V1}","kind":"CredentialProviderRequest","image":"{HOST}/team/app","serviceAccountToken":"{token}"{annotations}}}"#
    )
}

const ROLE_A: &str = "arn:aws:iam::123456789012:role/pull-a";
const ROLE_B: &str = "arn:aws:iam::123456789012:role/pull-b";

#[test]
fn service_account_roles_are_assumed_with_web_identity_and_cached_per_role_and_account() {
    let (mut env, fake) = env_with_fake("file");
    env.set("DOCKER_CREDENTIAL_ECR_LOG", "trace");
    let puller = sa_token("team", "puller");
    let password = |run: &Run| {
        kubelet_decodes_logged(run).auth.unwrap()[HOST]
            .password
            .clone()
    };

    let first = env.run(&["kubelet"], &sa_request(&puller, Some(ROLE_A)));
    // The SDK's own trace, request signing included, is on and still shows no secret.
    assert!(first.stderr.contains("aws_sigv4"), "{}", first.stderr);
    let a1 = password(&first);
    let a2 = password(&env.run(&["kubelet"], &sa_request(&puller, Some(ROLE_A))));
    assert_eq!(a1, a2, "same role, same account: served from the cache");
    let b = password(&env.run(&["kubelet"], &sa_request(&puller, Some(ROLE_B))));
    assert_ne!(a1, b, "another role never gets the first role's token");
    // Another account naming the same role: STS must check its trust policy, so it is not shared.
    let other = sa_token("other", "puller");
    let o = password(&env.run(&["kubelet"], &sa_request(&other, Some(ROLE_A))));
    assert_ne!(a1, o);

    let sts = fake.web_identity_requests();
    let roles: Vec<String> = sts.iter().map(|r| r.form("RoleArn").unwrap()).collect();
    assert_eq!(roles, [ROLE_A, ROLE_B, ROLE_A]);
    assert_eq!(sts[0].form("WebIdentityToken").unwrap(), puller);
    assert_eq!(sts[0].form("RoleSessionName").unwrap(), "team.puller");
    assert_eq!(sts[2].form("RoleSessionName").unwrap(), "other.puller");
    // Each ECR call is signed with the credentials of the role assumed for it.
    let signers = fake.token_signers();
    assert_eq!(
        signers,
        [
            web_identity_key_id(ROLE_A),
            web_identity_key_id(ROLE_B),
            web_identity_key_id(ROLE_A)
        ]
    );

    // No role named: the node's own credentials, and its own cache entry.
    let node = password(&env.run(&["kubelet"], &sa_request(&puller, None)));
    assert_eq!(fake.web_identity_requests().len(), 3);
    assert_eq!(
        fake.token_requests().last().unwrap().access_key_id(),
        crate::harness::KEY_ID
    );
    assert!(![&a1, &b, &o].contains(&&node));

    // `status` tells the entries apart without showing a token.
    let status = env.run(&["status"], "").stdout;
    assert!(
        status.contains(&format!("system:serviceaccount:team:puller as {ROLE_A}")),
        "{status}"
    );
    assert!(!status.contains(&puller) && !status.contains(&a1));
}

/// Like [`kubelet_decodes`], for runs with trace logging on: stderr may have
/// lines, but never the service-account token nor a secret.
#[track_caller]
fn kubelet_decodes_logged(run: &Run) -> KubeletResponse {
    assert!(
        run.stderr.contains(" DEBUG "),
        "logging is off: {}",
        run.stderr
    );
    for secret in [
        "c2lnbmF0dXJlLW5vdC1jaGVja2Vk",
        "fakeWebIdentitySecretDoNotLog",
        "fakeWebIdentitySessionDoNotLog",
    ] {
        assert!(!run.stderr.contains(secret), "stderr shows {secret}");
    }
    assert!(run.success, "{} {}", run.stdout, run.stderr);
    let response: KubeletResponse = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("kubelet would reject {}: {e}", run.stdout));
    assert_eq!(response.api_version, V1);
    response
}

#[test]
fn parallel_runs_for_one_service_account_make_one_sts_and_one_ecr_call() {
    let (env, fake) = env_with_fake("file");
    let req = sa_request(&sa_token("team", "puller"), Some(ROLE_A));
    for run in in_parallel_with(16, &req, |_| env.command(&["kubelet"])) {
        kubelet_decodes(&run, V1);
    }
    assert_eq!(fake.web_identity_requests().len(), 1);
    assert_eq!(fake.token_requests().len(), 1);
}

#[test]
fn service_account_failures_say_why_without_showing_the_token() {
    let (env, fake) = env_with_fake("none");
    fake.deny_web_identity();
    let token = sa_token("team", "puller");
    let run = env.run(&["kubelet"], &sa_request(&token, Some(ROLE_A)));
    assert_failed(
        &run,
        &[ROLE_A, "AssumeRoleWithWebIdentity", "InvalidIdentityToken"],
    );
    assert!(!run.stderr.contains(&token));
    assert!(fake.token_requests().is_empty());

    // A token we cannot read, or a role that is not an ARN: refused before any call.
    let run = env.run(&["kubelet"], &sa_request("opaque-token", Some(ROLE_A)));
    assert_failed(&run, &["not a JWT"]);
    assert!(!run.stderr.contains("opaque-token"));
    let run = env.run(&["kubelet"], &sa_request(&token, Some("pull-a")));
    assert_failed(
        &run,
        &["eks.amazonaws.com/ecr-role-arn", "not an IAM role ARN"],
    );
    assert_eq!(fake.web_identity_requests().len(), 1);

    // The token needs the v1 API; older versions cannot carry it.
    let old = sa_request(&token, Some(ROLE_A)).replace(V1, VERSIONS[1]);
    assert_failed(&env.run(&["kubelet"], &old), &["requires apiVersion"]);
}

// --- The example CredentialProviderConfig -------------------------------------------------

const CONFIG: &str = include_str!("../../packaging/kubelet/credential-provider-config.yaml");

/// The `matchImages` list of the config's only provider, read line by line.
fn match_images() -> Vec<String> {
    let mut patterns = Vec::new();
    let mut inside = false;
    for line in CONFIG.lines() {
        let trimmed = line.trim();
        if trimmed == "matchImages:" {
            inside = true;
            continue;
        }
        if !inside || trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        match trimmed.strip_prefix("- ") {
            Some(item) => patterns.push(item.trim().trim_matches('"').to_string()),
            None => break,
        }
    }
    patterns
}

/// Go's `filepath.Match` for one label: `*` (within the label), `?`, literals.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], text) || (!text.is_empty() && glob(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &text[1..]),
        (Some(b'['), _) | (Some(b'\\'), _) => panic!("classes and escapes are not used here"),
        (Some(p), Some(t)) if p == t => glob(&pattern[1..], &text[1..]),
        _ => false,
    }
}

/// `host[:port]` and path of `s` parsed as `https://` + s, as kubelet does.
fn split_url(s: &str) -> (&str, Option<&str>, &str) {
    let (authority, path) = match s.find('/') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    };
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port), path),
        None => (authority, None, path),
    }
}

/// Kubelet's `URLsMatch(glob, target)`: same number of host labels, each
/// matched with `filepath.Match`; equal ports (both absent counts); the
/// glob's path a string prefix of the target's.
fn urls_match(pattern: &str, image: &str) -> bool {
    let (g_host, g_port, g_path) = split_url(pattern);
    let (t_host, t_port, t_path) = split_url(image);
    let g: Vec<&str> = g_host.split('.').collect();
    let t: Vec<&str> = t_host.split('.').collect();
    g.len() == t.len()
        && g.iter()
            .zip(&t)
            .all(|(p, l)| glob(p.as_bytes(), l.as_bytes()))
        && g_port == t_port
        && t_path.starts_with(g_path)
}

#[test]
fn the_matcher_follows_kubelets_rule() {
    assert!(urls_match("*.k8s.io", "a.k8s.io/x"));
    assert!(!urls_match("*.io", "a.k8s.io"));
    assert!(urls_match("app*.k8s.io", "apple.k8s.io"));
    assert!(!urls_match("*.k8s.io", "a.k8s.io:5000/x"));
    assert!(urls_match(
        "registry.io:8080/path",
        "registry.io:8080/path/app"
    ));
    assert!(!urls_match(
        "registry.io:8080/path",
        "registry.io:8080/other"
    ));
}

/// Host shapes: (image, the config should route it to us, we recognise it as ECR).
const SHAPES: &[(&str, bool, bool)] = &[
    (
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app",
        true,
        true,
    ),
    (
        "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com/app",
        true,
        true,
    ),
    (
        "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/app",
        true,
        true,
    ),
    (
        "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/app",
        true,
        true,
    ),
    ("123456789012.dkr-ecr.us-west-2.on.aws/app", true, true),
    ("123456789012.dkr-ecr-fips.us-west-2.on.aws/app", true, true),
    (
        "123456789012.dkr-ecr-fips.us-gov-east-1.on.aws/app",
        true,
        true,
    ),
    (
        "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn/app",
        true,
        true,
    ),
    (
        "210987654321.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn/app",
        true,
        true,
    ),
    (
        "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu/app",
        true,
        true,
    ),
    (
        "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov/app",
        true,
        true,
    ),
    (
        "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov/app",
        true,
        true,
    ),
    (
        "123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk/app",
        true,
        true,
    ),
    (
        "123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov/app",
        true,
        true,
    ),
    ("public.ecr.aws/nginx/nginx", true, true),
    ("ecr-public.aws.com/nginx/nginx", true, true),
    // Routed to us by a wildcard but not ECR: answered with no credentials.
    (
        "notanaccount.dkr.ecr.us-east-1.amazonaws.com/app",
        true,
        false,
    ),
    // Not routed to us.
    ("docker.io/library/nginx", false, false),
    ("ghcr.io/org/app", false, false),
    (
        "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example/app",
        false,
        false,
    ),
    (
        "evil.123456789012.dkr.ecr.us-east-1.amazonaws.com/app",
        false,
        false,
    ),
    (
        "123456789012.dkr.ecr.us-east-1.amazonaws.com:5000/app",
        false,
        false,
    ),
];

#[test]
fn the_example_configs_match_images_cover_every_ecr_host_shape() {
    assert!(CONFIG.contains("apiVersion: kubelet.config.k8s.io/v1\n"));
    assert!(CONFIG.contains("kind: CredentialProviderConfig\n"));
    assert!(CONFIG.contains("  - name: docker-credential-ecr\n"));
    assert!(CONFIG.contains("    apiVersion: credentialprovider.kubelet.k8s.io/v1\n"));
    assert!(CONFIG.contains("    defaultCacheDuration: "));
    assert!(CONFIG.contains("    args:\n      - kubelet\n"));
    let patterns = match_images();
    assert!(patterns.len() >= 10, "{patterns:?}");
    for pattern in &patterns {
        assert!(
            SHAPES
                .iter()
                .any(|(image, _, _)| urls_match(pattern, image)),
            "{pattern} matches no host shape in the table: add one"
        );
    }
    for (image, routed, _) in SHAPES {
        let matched: Vec<&String> = patterns.iter().filter(|p| urls_match(p, image)).collect();
        assert_eq!(
            !matched.is_empty(),
            *routed,
            "{image}: matched by {matched:?}"
        );
    }
}

#[test]
fn every_routed_host_shape_is_answered_with_credentials_by_the_binary() {
    let (env, fake) = env_with_fake("none");
    for (image, routed, ecr) in SHAPES.iter().filter(|(_, routed, _)| *routed) {
        assert!(routed);
        let host = image.split('/').next().unwrap();
        let ours = docker_credential_ecr::registry::parse_host(host).is_some();
        assert_eq!(
            ours, *ecr,
            "{host}: src/registry.rs disagrees with the table"
        );
        let auth = kubelet_decodes(&env.run(&["kubelet"], &request(V1, image)), V1)
            .auth
            .unwrap();
        assert_eq!(auth.contains_key(host), *ecr, "{image}: {auth:?}");
    }
    let ecr_shapes = SHAPES.iter().filter(|(_, r, e)| *r && *e).count();
    assert_eq!(fake.token_requests().len(), ecr_shapes);
}
