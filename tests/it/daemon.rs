//! The token daemon through the real binary: single-flight, identities, crashes, refresh, restarts.
//!
//! Each test has its own runtime directory, hence its own socket and daemon;
//! `TestEnv` stops it on drop. Counts come from the fake endpoint (what AWS
//! would have seen) and from `daemon status --json` (what the daemon did).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::fake_aws::{FakeAws, password_for};
use crate::harness::{
    HOST, KEY_ID, TestEnv, in_parallel, run_command, running_as_root, tools_present,
};

const ACCOUNT: &str = "123456789012";

/// An environment with the daemon enabled, talking to a fresh fake.
fn daemon_env() -> (TestEnv, FakeAws) {
    let fake = FakeAws::start();
    let mut env = TestEnv::new();
    env.endpoint(&fake.url).with_daemon();
    (env, fake)
}

fn start_daemon(env: &TestEnv) -> serde_json::Value {
    let run = env.run(&["daemon", "start"], "");
    assert!(run.success, "{} {}", run.stdout, run.stderr);
    env.wait_for_daemon()
}

fn pid_of(status: &serde_json::Value) -> u32 {
    status["pid"].as_u64().expect("pid") as u32
}

fn alive(pid: u32) -> bool {
    // A zombie still has a /proc entry; count it as gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every daemon process serving `socket` (from /proc, so no procps is needed).
#[cfg(target_os = "linux")]
fn daemons_for(socket: &Path) -> Vec<u32> {
    let needle = socket.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            args.contains(&&b"--detached"[..]) && args.contains(&needle.as_bytes())
        })
        .filter(|pid| alive(*pid))
        .collect()
}

#[test]
fn parallel_cold_gets_make_one_call_and_warm_gets_none() {
    let (env, fake) = daemon_env();
    start_daemon(&env);
    // The socket and its directory are private.
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&env.socket()), 0o600);
    assert_eq!(mode(env.socket().parent().unwrap()), 0o700);

    // `required`: a get that fell back to the direct path would fail, so
    // every answer below provably came from the daemon.
    let secrets: Vec<String> = in_parallel(64, |_| {
        let mut cmd = env.command(&["get"]);
        cmd.env("DOCKER_CREDENTIAL_ECR_DAEMON", "required");
        cmd
    })
    .iter()
    .map(|run| run.secret(HOST))
    .collect();
    assert_eq!(secrets.len(), 64);
    assert!(
        secrets.iter().all(|s| *s == password_for(ACCOUNT, 1)),
        "{secrets:?}"
    );
    assert_eq!(fake.token_requests().len(), 1);

    // 1,000 sequential warm gets, in one shell loop to keep the test quick.
    let script = format!(
        "i=0; while [ $i -lt 1000 ]; do printf %s {HOST} | \"$BIN\" get || exit 1; echo; i=$((i+1)); done"
    );
    let mut loop_cmd = env.shell(&["env"], &script);
    loop_cmd.env("DOCKER_CREDENTIAL_ECR_DAEMON", "required");
    let out = loop_cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let want = format!("\"Secret\":\"{}\"", password_for(ACCOUNT, 1));
    assert_eq!(stdout.matches(&want).count(), 1000);
    assert_eq!(fake.token_requests().len(), 1, "warm gets called AWS");

    let status = env.daemon_status();
    assert_eq!(status["api_calls"], 1, "{status}");
    assert!(status["hits"].as_u64().unwrap() >= 1000, "{status}");
    assert_eq!(status["entries"][0]["registry"], HOST, "{status}");
    assert!(
        !status.to_string().contains(&password_for(ACCOUNT, 1)),
        "status must not show the token"
    );
}

#[test]
fn two_identities_through_one_daemon_never_cross() {
    let (env, fake) = daemon_env();
    start_daemon(&env);
    const OTHER_KEY: &str = "AKIDEXAMPLEOTHERKEY02";
    let get_as = |key_id: &str| {
        let mut cmd = env.command(&["get"]);
        cmd.env("AWS_ACCESS_KEY_ID", key_id)
            .env("DOCKER_CREDENTIAL_ECR_DAEMON", "required");
        run_command(cmd, HOST).secret(HOST)
    };
    let a1 = get_as(KEY_ID);
    let b1 = get_as(OTHER_KEY);
    let a2 = get_as(KEY_ID);
    let b2 = get_as(OTHER_KEY);
    assert_eq!((a1.as_str(), b1.as_str()), (a2.as_str(), b2.as_str()));
    assert_ne!(a1, b1);
    // Each token was minted with the credentials of the caller it went to.
    let calls = fake.token_requests();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].access_key_id(), KEY_ID);
    assert_eq!(a1, password_for(ACCOUNT, 1));
    assert_eq!(calls[1].access_key_id(), OTHER_KEY);
    assert_eq!(b1, password_for(ACCOUNT, 2));
    assert_eq!(env.daemon_status()["entries"].as_array().unwrap().len(), 2);
}

#[cfg(target_os = "linux")]
#[test]
fn kill_9_mid_burst_costs_no_get_and_autostart_replaces_the_stale_socket() {
    let (env, fake) = daemon_env();
    // Autostart: the first get answers directly and leaves a daemon behind.
    env.get(HOST).secret(HOST);
    let first = pid_of(&env.wait_for_daemon());

    let handles: Vec<_> = (0..48)
        .map(|i| {
            let cmd = env.command(&["get"]);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(5 * i));
                run_command(cmd, HOST)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(60));
    signal(first, "-9");
    for h in handles {
        h.join().unwrap().secret(HOST);
    }

    // Whatever the burst restarted, kill it too, leaving a stale socket file.
    for pid in daemons_for(&env.socket()) {
        signal(pid, "-9");
    }
    wait_until("daemons to die", Duration::from_secs(10), || {
        daemons_for(&env.socket()).is_empty()
    });
    assert!(
        env.socket().exists(),
        "kill -9 leaves the socket file behind"
    );
    assert_eq!(env.daemon_status()["running"], false);

    let calls_before = fake.token_requests().len();
    env.get(HOST).secret(HOST);
    let status = env.wait_for_daemon();
    assert_ne!(pid_of(&status), first);
    // The new daemon serves: a required get now works.
    let mut cmd = env.command(&["get"]);
    cmd.env("DOCKER_CREDENTIAL_ECR_DAEMON", "required");
    run_command(cmd, HOST).secret(HOST);
    assert!(fake.token_requests().len() <= calls_before + 2);
}

#[cfg(target_os = "linux")]
#[test]
fn racing_autostarts_leave_exactly_one_detached_daemon_and_no_zombie() {
    let (env, _fake) = daemon_env();
    for run in in_parallel(16, |_| env.command(&["get"])) {
        run.secret(HOST);
    }
    let pid = pid_of(&env.wait_for_daemon());
    assert_eq!(daemons_for(&env.socket()), vec![pid]);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let (ppid, session): (u32, u32) = (fields[1].parse().unwrap(), fields[3].parse().unwrap());
    assert_ne!(ppid, std::process::id(), "the daemon must not be our child");
    assert_eq!(session, pid, "the daemon leads its own session (setsid)");
}

#[test]
fn a_token_is_refreshed_in_the_background_before_half_life() {
    let (env, fake) = daemon_env();
    fake.set_ttl(6.0);
    start_daemon(&env);
    let first = env.get(HOST).secret(HOST);
    let t0 = Instant::now();
    assert_eq!(first, password_for(ACCOUNT, 1));
    assert_eq!(fake.token_requests().len(), 1);

    // Half-life is 3 s; the daemon refreshes at 40–45% of the life.
    std::thread::sleep(Duration::from_millis(3300).saturating_sub(t0.elapsed()));
    assert_eq!(
        fake.token_requests().len(),
        2,
        "the refresh should have happened before half-life"
    );
    let before = env.daemon_status();
    let second = env.get(HOST).secret(HOST);
    let after = env.daemon_status();
    assert_eq!(second, password_for(ACCOUNT, 2));
    assert_eq!(fake.token_requests().len(), 2, "served from memory");
    assert_eq!(
        after["hits"].as_u64().unwrap(),
        before["hits"].as_u64().unwrap() + 1
    );
    assert_eq!(after["misses"], before["misses"]);
    assert_eq!(after["refreshes"], 1);
}

#[test]
fn a_restarted_daemon_starts_warm_from_the_file_cache() {
    let (mut env, fake) = daemon_env();
    env.set("DOCKER_CREDENTIAL_ECR_CACHE", "file");
    start_daemon(&env);
    let first = env.get(HOST).secret(HOST);
    assert_eq!(fake.token_requests().len(), 1);

    let stop = env.run(&["daemon", "stop"], "");
    assert!(
        stop.success && stop.stdout.contains("stopped"),
        "{}",
        stop.stdout
    );
    assert!(!env.socket().exists(), "stop removes the socket");
    start_daemon(&env);
    let mut cmd = env.command(&["get"]);
    cmd.env("DOCKER_CREDENTIAL_ECR_DAEMON", "required");
    assert_eq!(run_command(cmd, HOST).secret(HOST), first);
    assert_eq!(fake.token_requests().len(), 1, "no API call after restart");
    let status = env.daemon_status();
    assert_eq!(status["api_calls"], 0, "{status}");
    assert_eq!(status["misses"], 1, "{status}");
}

#[test]
fn aws_failures_reach_the_user_through_the_daemon() {
    let (env, fake) = daemon_env();
    start_daemon(&env);
    fake.script([crate::fake_aws::Reply::AccessDenied]);
    let mut cmd = env.command(&["get"]);
    cmd.env("DOCKER_CREDENTIAL_ECR_DAEMON", "required");
    run_command(cmd, HOST)
        .assert_not_found()
        .assert_reason(&[HOST, "access denied"]);
    // Not retried directly: one call, as the direct path would have made.
    assert_eq!(fake.token_requests().len(), 1);
    assert_eq!(env.daemon_status()["errors"], 1);
}

/// A stand-in daemon on the socket that misbehaves in a chosen way. The
/// test holds `daemon.lock`, so autostart leaves it alone.
fn impostor(env: &TestEnv, behave: fn(std::os::unix::net::UnixStream)) -> std::fs::File {
    let dir = env.socket().parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let lock = std::fs::File::create(dir.join("daemon.lock")).unwrap();
    lock.try_lock().unwrap();
    let listener = UnixListener::bind(env.socket()).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            behave(stream);
        }
    });
    lock
}

fn frame(json: &str) -> Vec<u8> {
    let mut f = (json.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(json.as_bytes());
    f
}

#[test]
fn a_broken_daemon_never_fails_get() {
    use std::io::{Read, Write};
    type Behaviour = fn(std::os::unix::net::UnixStream);
    let cases: [(&str, Behaviour); 4] = [
        ("dies mid-request", |s| drop(s)),
        ("speaks another version", |mut s| {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(&frame(r#"{"v":99,"reply":"token","daemon":"9.0.0"}"#));
        }),
        ("sends garbage", |mut s| {
            let _ = s.write_all(b"\x00\x00\x00\x05hello");
        }),
        ("hangs", |s| {
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(30));
                drop(s);
            });
        }),
    ];
    for (what, behave) in cases {
        let (env, fake) = daemon_env();
        let _lock = impostor(&env, behave);
        let run = env.get(HOST);
        assert_eq!(run.secret(HOST), password_for(ACCOUNT, 1), "{what}");
        assert_eq!(fake.token_requests().len(), 1, "{what}");
        // With `required`, the same daemon is a diagnosable error instead.
        let mut cmd = env.command(&["get"]);
        cmd.env("DOCKER_CREDENTIAL_ECR_DAEMON", "required");
        run_command(cmd, HOST)
            .assert_not_found()
            .assert_reason(&["daemon is required"]);
    }
}

#[test]
fn a_stale_socket_file_is_no_obstacle() {
    let (env, fake) = daemon_env();
    std::fs::create_dir_all(env.socket().parent().unwrap()).unwrap();
    drop(UnixListener::bind(env.socket()).unwrap());
    assert!(env.socket().exists());
    env.get(HOST).secret(HOST);
    env.wait_for_daemon();
    assert_eq!(fake.token_requests().len(), 1);
}

#[test]
fn idle_timeout_and_sigterm_stop_the_daemon_and_remove_the_socket() {
    let (mut env, _fake) = daemon_env();
    env.set("DOCKER_CREDENTIAL_ECR_DAEMON_IDLE", "1");
    start_daemon(&env);
    wait_until("the idle daemon to exit", Duration::from_secs(20), || {
        !env.socket().exists()
    });
    assert_eq!(env.daemon_status()["running"], false);

    env.set("DOCKER_CREDENTIAL_ECR_DAEMON_IDLE", "0");
    let pid = pid_of(&start_daemon(&env));
    signal(pid, "-TERM");
    wait_until(
        "SIGTERM to stop the daemon",
        Duration::from_secs(20),
        || !env.socket().exists() && !alive(pid),
    );
}

#[test]
fn off_means_no_daemon_is_started_or_asked() {
    let (mut env, fake) = daemon_env();
    env.set("DOCKER_CREDENTIAL_ECR_DAEMON", "off");
    env.get(HOST).secret(HOST);
    env.get(HOST).secret(HOST);
    assert_eq!(fake.token_requests().len(), 2);
    std::thread::sleep(Duration::from_millis(200));
    assert!(!env.socket().exists());
}

#[test]
fn non_ecr_hosts_never_reach_the_daemon() {
    let (env, _fake) = daemon_env();
    env.get("docker.io").assert_not_found();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !env.socket().exists(),
        "a non-ECR get must not start a daemon"
    );
}

/// Another user is refused: by the directory's mode, and (with the modes
/// opened up on purpose) by the daemon's peer-uid check. Needs root.
#[cfg(target_os = "linux")]
#[test]
fn another_user_is_refused_at_the_socket() {
    if !running_as_root("another_user_is_refused_at_the_socket") {
        return;
    }
    let (mut env, _fake) = daemon_env();
    // A path `nobody` can traverse once we open the modes below.
    let socket = env.path("sock/daemon.sock");
    env.set("DOCKER_CREDENTIAL_ECR_SOCKET", socket.to_str().unwrap());
    start_daemon(&env);
    let client = |expect: &str| {
        // Perl is essential in Debian (perl-base), so this raw client needs no install.
        let script = r#"
use IO::Socket::UNIX;
$SIG{PIPE} = 'IGNORE';
my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $ARGV[0]);
if (!$s) { if ($!{EACCES}) { print "EACCES\n"; exit 0 } die "connect: $!\n" }
my $body = '{"v":1,"op":"status"}';
# The daemon may hang up before we finish writing: that is a refusal too.
my $n = (print $s pack("N", length $body) . $body) && $s->flush
    ? sysread($s, my $buf, 65536) : 0;
print(($n ? "answered" : "closed") . "\n");
"#;
        let out = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "perl",
                "-e",
                script,
            ])
            .arg(&socket)
            .output()
            .expect("setpriv and perl");
        let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(said, expect, "{}", String::from_utf8_lossy(&out.stderr));
    };
    // As created: the directory shuts everyone else out.
    client("EACCES");

    // Opened up (as a careless admin might): the daemon itself refuses.
    for dir in [env.dir.path(), socket.parent().unwrap()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    client("closed");
    let status = env.daemon_status();
    assert_eq!(status["refused"], 1, "{status}");
    let log = std::fs::read_to_string(socket.with_file_name("daemon.log")).unwrap();
    assert!(
        log.contains("refused a connection from another user") && log.contains("uid=65534"),
        "{log}"
    );
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
}

/// The packaged systemd units, installed the way the README says, are valid
/// and socket activation hands the daemon its listening socket.
#[cfg(target_os = "linux")]
#[test]
fn systemd_socket_activation_serves_gets_and_leaves_the_socket_to_systemd() {
    let test = "systemd socket activation";
    if !tools_present(
        test,
        &["systemd-socket-activate"],
        "apt-get install systemd",
    ) {
        return;
    }
    let (env, fake) = daemon_env();
    let socket = env.socket();
    let dir = socket.parent().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    // systemd passes the daemon only the environment it is told to.
    let mut activate = Command::new("systemd-socket-activate");
    activate.arg("--listen").arg(&socket);
    for key in ["PATH", "HOME", "XDG_RUNTIME_DIR"] {
        activate.arg(format!("--setenv={key}={}", env.var(key).unwrap()));
    }
    let mut manager = activate
        .args([crate::harness::BIN, "daemon"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the activation socket", Duration::from_secs(10), || {
        socket.exists()
    });

    let mut cmd = env.command(&["get"]);
    cmd.env("DOCKER_CREDENTIAL_ECR_DAEMON", "required");
    assert_eq!(
        run_command(cmd, HOST).secret(HOST),
        password_for(ACCOUNT, 1)
    );
    let status = env.daemon_status();
    assert_eq!(
        status["pid"],
        manager.id(),
        "systemd execs the daemon in place"
    );
    assert_eq!(fake.token_requests().len(), 1);

    assert!(env.run(&["daemon", "stop"], "").success);
    let exit = manager.wait().unwrap();
    assert!(exit.success(), "{exit}");
    assert!(
        socket.exists(),
        "the socket belongs to systemd; the daemon must leave it"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn packaged_systemd_units_verify() {
    if !tools_present(
        "systemd units",
        &["systemd-analyze"],
        "apt-get install systemd",
    ) {
        return;
    }
    let (env, _fake) = daemon_env();
    let units = env.path("units");
    std::fs::create_dir_all(&units).unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/systemd");
    for name in [
        "docker-credential-ecr.socket",
        "docker-credential-ecr.service",
    ] {
        let text = std::fs::read_to_string(source.join(name)).unwrap();
        // What the README's install commands do for a binary outside /usr/bin.
        let text = text.replace("/usr/bin/docker-credential-ecr", crate::harness::BIN);
        std::fs::write(units.join(name), text).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--user"])
        .arg(units.join("docker-credential-ecr.socket"))
        .arg(units.join("docker-credential-ecr.service"))
        .env("XDG_RUNTIME_DIR", env.var("XDG_RUNTIME_DIR").unwrap())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
}
