//! One `get` against moto, an ECR API implementation nobody here wrote, over TLS.
//!
//! moto (PyPI `moto[server]`, installed by .ci/run) serves HTTPS with a
//! certificate from a throwaway CA, which the helper trusts only through
//! `AWS_CA_BUNDLE`: this also proves our CA-bundle support on a real TLS
//! handshake. moto's tokens always expire in 2015, which the helper must
//! still hand out (they are simply never cached). Without moto the test
//! fails in CI and is skipped loudly on a developer machine.
//!
//! The AWS CLI v1 (PyPI `awscli`, installed by .ci/run next to moto) answers
//! its own MFA prompt on a pseudo-terminal against moto's STS and caches the
//! role session; `get` then uses that very file, with no STS call.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::TestEnv;

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn moto_available() -> bool {
    Command::new("python3")
        .args(["-c", "import moto.server, werkzeug"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is needed to make a test CA (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a localhost leaf certificate signed by it.
fn make_pki(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=dce-test-ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "leaf.pem",
        ],
    );
}

#[cfg_attr(not(unix), allow(dead_code))]
fn awscli_available() -> bool {
    Command::new("python3")
        .args(["-c", "import awscli.clidriver, moto.server, werkzeug"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts moto on a free loopback port (plain HTTP unless `tls` names the
/// leaf certificate and key) and waits, bounded, until it accepts connections.
fn start_moto(tls: Option<(&Path, &Path)>) -> (Moto, u16) {
    let port = free_port();
    let mut cmd = Command::new("python3");
    cmd.args([
        "-c",
        "import sys; from moto.server import main; main(sys.argv[1:])",
    ])
    .args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    if let Some((cert, key)) = tls {
        cmd.arg("-c").arg(cert).arg("-k").arg(key);
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto");
    let moto = Moto(child);
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "moto did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (moto, port)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn get_against_moto_over_tls_with_a_ca_bundle() {
    if !moto_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "moto is not installed, and CI must run this test: pip install 'moto[server]'"
        );
        eprintln!(
            "SKIPPED get_against_moto_over_tls_with_a_ca_bundle: moto is not installed (pip install 'moto[server]')"
        );
        return;
    }
    let env0 = TestEnv::new();
    let pki = env0.path("pki");
    std::fs::create_dir_all(&pki).unwrap();
    make_pki(&pki);

    let (_moto, port) = start_moto(Some((&pki.join("leaf.pem"), &pki.join("leaf.key"))));

    let mut env = env0;
    let ca = pki.join("ca.pem");
    env.set("AWS_ENDPOINT_URL_ECR", &format!("https://localhost:{port}"))
        .set("AWS_CA_BUNDLE", ca.to_str().unwrap());
    let host = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    let secret = env.get(host).secret(host);
    assert_eq!(secret, "123456789012-auth-token");

    // moto derives the token from the registry id we send.
    let other = "210987654321.dkr.ecr.us-east-1.amazonaws.com";
    assert_eq!(env.get(other).secret(other), "210987654321-auth-token");

    // Without the CA bundle the private CA is not trusted: a TLS error, reported.
    if Path::new("/etc/ssl/certs/ca-certificates.crt").exists() {
        env.unset("AWS_CA_BUNDLE")
            .set("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt");
        let run = env.get(host);
        run.assert_not_found()
            .assert_reason(&["could not reach the ECR API", "certificate"]);
    }
    // With no roots at all the SDK panics internally; that too must be one clear line.
    env.unset("AWS_CA_BUNDLE")
        .set("SSL_CERT_FILE", "/nonexistent")
        .set("SSL_CERT_DIR", "/nonexistent");
    let run = env.get(host);
    run.assert_not_found().assert_reason(&["certificates"]);
    eprintln!("untrusted CA: {}", run.stderr);
}

/// The AWS CLI v1 prompts for the MFA code (answered on a pty) and caches the
/// role session it got from moto's STS in `~/.aws/cli/cache/<key>.json`; our
/// `get` finds that file by botocore's key scheme and uses it: no STS call
/// (STS points at a counting fake for `get`), the token call signed with the
/// CLI's session.
#[cfg(unix)]
#[test]
fn the_aws_cli_mfa_session_serves_get() {
    use crate::fake_aws::FakeAws;
    use crate::identity::{on_a_terminal, python};
    let test = "the_aws_cli_mfa_session_serves_get";
    let python = python().filter(|_| awscli_available());
    if !crate::harness::may_run(
        test,
        python.is_some(),
        "awscli or moto is not installed (pip install awscli 'moto[server]')",
    ) {
        return;
    }
    let python = python.unwrap_or_default();
    let (_moto, port) = start_moto(None);
    let moto = format!("http://127.0.0.1:{port}");

    let mut env = TestEnv::bare();
    env.write(
        "aws/credentials",
        "[base]\naws_access_key_id = AKIDEXAMPLEAWSCLI001\naws_secret_access_key = cliSourceSecret\n",
    );
    env.write(
        "aws/config",
        "[profile mfa]\nrole_arn = arn:aws:iam::123456789012:role/mfaAdmin\nmfa_serial = arn:aws:iam::123456789012:mfa/dev\nsource_profile = base\nregion = us-east-1\n",
    );
    env.set("AWS_ENDPOINT_URL_STS", &moto)
        .set("AWS_ENDPOINT_URL_ECR", &moto)
        .set("AWS_DEFAULT_REGION", "us-east-1");

    let run = on_a_terminal(
        &env,
        &python,
        "Enter MFA code for arn:aws:iam::123456789012:mfa/dev: ",
        "123456",
        &[
            &python,
            "-m",
            "awscli",
            "sts",
            "get-caller-identity",
            "--profile",
            "mfa",
        ],
    );
    assert!(run.success, "aws sts get-caller-identity: {}", run.stdout);
    assert!(
        run.stdout.contains("assumed-role/mfaAdmin"),
        "{}",
        run.stdout
    );
    let cache = env.path("home/.aws/cli/cache/91b385929ebc1a4af1c78c3f9ea890186d451f8d.json");
    let text = std::fs::read_to_string(&cache)
        .unwrap_or_else(|e| panic!("the AWS CLI wrote no {}: {e}", cache.display()));
    let session: serde_json::Value = serde_json::from_str(&text).unwrap();
    let key_id = session["Credentials"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_string();

    // get against moto's ECR, STS at a fake that counts: none.
    let sts = FakeAws::start();
    env.set("AWS_PROFILE", "mfa")
        .set("AWS_ENDPOINT_URL_STS", &sts.url);
    let host = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    assert_eq!(env.get(host).secret(host), "123456789012-auth-token");
    assert!(
        sts.requests().is_empty(),
        "STS was called: {:?}",
        sts.requests()
    );

    // The token call is signed with the CLI's session.
    let ecr = FakeAws::start();
    env.set("AWS_ENDPOINT_URL_ECR", &ecr.url);
    env.get(host).secret(host);
    assert_eq!(ecr.token_signers(), [key_id]);
    assert!(sts.requests().is_empty());
}
