//! Issue 12, tried as an attacker and a careless admin would: hostile and
//! foreign directories, planted links, wedged sockets, a daemon that must be
//! fully detached, `erase` that must reach everywhere, reachable panics,
//! killed writers and unbounded reads. Each test names the defect it pins.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::fake_aws::{FakeAws, password_for};
use crate::harness::{BIN, HOST, TestEnv, run_command, running_as_root};

const ACCOUNT: &str = "123456789012";

fn file_env() -> (TestEnv, FakeAws) {
    let fake = FakeAws::start();
    let mut env = TestEnv::new();
    env.endpoint(&fake.url)
        .set("DOCKER_CREDENTIAL_ECR_CACHE", "file");
    (env, fake)
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Every path below `dir` with its mode and size, to show nothing changed there.
fn snapshot(dir: &Path) -> Vec<(PathBuf, u32, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let meta = std::fs::symlink_metadata(&d).unwrap();
        out.push((d.clone(), meta.mode(), meta.len()));
        if meta.is_dir() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn chown(path: &Path, uid: u32) {
    let ok = Command::new("chown")
        .args(["-h", &format!("{uid}:{uid}")])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "chown {}", path.display());
}

/// The cache key ids the state directory holds index records for.
fn key_ids(state: &Path) -> Vec<String> {
    std::fs::read_dir(state.join("meta"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(".json")
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Defect 1: root with a user's XDG_RUNTIME_DIR (`su`, `sudo -E`) never writes
/// into or chmods that tree, follows no link planted there, and still answers.
#[test]
fn d1_root_with_a_users_runtime_dir_leaves_it_untouched() {
    if !running_as_root("d1_root_with_a_users_runtime_dir_leaves_it_untouched") {
        return;
    }
    let (env, fake) = file_env();
    let victim = env.path("victim");
    std::fs::write(&victim, b"precious").unwrap();
    // The user's runtime dir, with our state dir in it, links planted inside.
    let run = env.path("run");
    let state = run.join("docker-credential-ecr");
    std::fs::create_dir_all(state.join("meta")).unwrap();
    std::os::unix::fs::symlink(&victim, state.join("tokens")).unwrap();
    std::os::unix::fs::symlink(&victim, state.join("file-backend-noted")).unwrap();
    for p in [&run, &state, &state.join("meta")] {
        chown(p, 65534);
        chmod(p, 0o700);
    }
    chown(&state.join("tokens"), 65534);
    let before = snapshot(&run);

    let token = env.get(HOST).secret(HOST);
    assert_eq!(token, password_for(ACCOUNT, 1));
    assert_eq!(snapshot(&run), before, "the user's runtime dir changed");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    // Our own cache directory took the state instead, and it works.
    assert_eq!(env.get(HOST).secret(HOST), token);
    assert_eq!(fake.token_requests().len(), 1);
    assert!(!key_ids(&env.path("cache/docker-credential-ecr")).is_empty());
}

/// Defect 1: links planted in our own state directory are never followed: a
/// dangling lock link does not create its target, and a `meta` link to
/// another directory does not get it chmodded or written into.
#[test]
fn d1_links_planted_in_the_state_dir_are_never_followed() {
    let (env, fake) = file_env();
    let state = env.path("run/docker-credential-ecr");
    env.get(HOST).secret(HOST);
    let id = key_ids(&state).pop().expect("an index record");
    // Force a miss, then plant: a lock link to a file that does not exist yet.
    std::fs::remove_file(state.join("meta").join(format!("{id}.json"))).unwrap();
    std::fs::remove_file(state.join("tokens").join(&id)).unwrap();
    let _ = std::fs::remove_file(state.join("locks").join(format!("{id}.lock")));
    let created = env.path("created-through-a-link");
    std::os::unix::fs::symlink(&created, state.join("locks").join(format!("{id}.lock"))).unwrap();
    // And `meta` swapped for a link to someone's directory.
    let theirs = env.path("theirs");
    std::fs::create_dir(&theirs).unwrap();
    chmod(&theirs, 0o755);
    std::fs::remove_dir_all(state.join("meta")).unwrap();
    std::os::unix::fs::symlink(&theirs, state.join("meta")).unwrap();

    assert_eq!(env.get(HOST).secret(HOST), password_for(ACCOUNT, 2));
    assert!(!created.exists(), "a lock link was followed");
    assert_eq!(mode(&theirs), 0o755, "a linked directory was chmodded");
    assert_eq!(std::fs::read_dir(&theirs).unwrap().count(), 0);
    assert_eq!(fake.token_requests().len(), 2);
}

/// Defect 2: a socket path in a directory that is not privately ours (a
/// shared /tmp stand-in) never gets that directory chmodded or written;
/// the daemon is skipped and `get` answers directly.
#[test]
fn d2_a_socket_in_a_shared_directory_is_refused_not_chmodded() {
    let fake = FakeAws::start();
    let mut env = TestEnv::new();
    env.endpoint(&fake.url).with_daemon();
    let shared = env.path("shared-tmp");
    std::fs::create_dir(&shared).unwrap();
    chmod(&shared, 0o1777);
    let socket = shared.join("x.sock");
    env.set("DOCKER_CREDENTIAL_ECR_SOCKET", socket.to_str().unwrap());
    assert_eq!(env.get(HOST).secret(HOST), password_for(ACCOUNT, 1));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(mode(&shared), 0o1777, "the shared directory was chmodded");
    assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0);
    let start = env.run(&["daemon", "start"], "");
    assert!(!start.success);
    assert!(
        start.stderr.contains("open to other users"),
        "{}",
        start.stderr
    );
    assert_eq!(mode(&shared), 0o1777);
}

/// Runs `BIN args` as `uid` with a clean environment plus `vars`.
fn as_user(uid: u32, vars: &[(&str, &str)], args: &[&str], stdin: &str) -> crate::harness::Run {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        &format!("--reuid={uid}"),
        &format!("--regid={uid}"),
        "--clear-groups",
        BIN,
    ])
    .args(args)
    .env_clear()
    .env("PATH", std::env::var("PATH").unwrap_or_default())
    .envs(vars.iter().copied());
    run_command(cmd, stdin)
}

/// Defects 2 and 12: the `/tmp/docker-credential-ecr-<uid>` fallback
/// survives another user planting it (file, link or directory), and a
/// missing `$HOME` is never created.
#[test]
fn d2_d12_the_tmp_fallback_survives_a_planted_path_and_home_is_not_created() {
    if !running_as_root("d2_d12_the_tmp_fallback_survives_a_planted_path") {
        return;
    }
    let fake = FakeAws::start();
    let uid = 61000 + std::process::id() % 1000;
    let planted = PathBuf::from(format!("/tmp/docker-credential-ecr-{uid}"));
    let target = tempfile::tempdir().unwrap();
    chmod(target.path(), 0o777);
    let home = target.path().join("nonexistent");
    let vars = [
        ("HOME", home.to_str().unwrap()),
        ("AWS_ACCESS_KEY_ID", crate::harness::KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", crate::harness::SECRET_KEY),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL_ECR", fake.url.as_str()),
        ("DOCKER_CREDENTIAL_ECR_CACHE", "file"),
        ("DOCKER_CREDENTIAL_ECR_DAEMON", "auto"),
        ("DOCKER_CREDENTIAL_ECR_DAEMON_IDLE", "30"),
    ];
    type Plant = fn(&Path, &Path);
    let plants: [(&str, Plant); 3] = [
        ("a file", |p, _| std::fs::write(p, b"mine").unwrap()),
        ("a link to root's directory", |p, t| {
            std::os::unix::fs::symlink(t, p).unwrap()
        }),
        ("a directory open to all", |p, _| {
            std::fs::create_dir(p).unwrap();
            chmod(p, 0o777);
        }),
    ];
    for (what, plant) in plants {
        let _ = std::fs::remove_dir_all(&planted);
        let _ = std::fs::remove_file(&planted);
        plant(&planted, target.path());
        let before = snapshot(target.path());
        let run = as_user(uid, &vars, &["get"], HOST);
        assert!(!run.stdout.contains("not found"), "{what}: {}", run.stderr);
        run.secret(HOST);
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            snapshot(target.path()),
            before,
            "{what}: the target changed"
        );
        let meta = std::fs::symlink_metadata(&planted).unwrap();
        assert_eq!(meta.uid(), 0, "{what}: the planted path was replaced");
        if meta.is_dir() && !meta.file_type().is_symlink() {
            assert_eq!(std::fs::read_dir(&planted).unwrap().count(), 0, "{what}");
            assert_eq!(mode(&planted), 0o777, "{what}");
        }
        assert!(!home.exists(), "{what}: a missing HOME was created");
    }
    let _ = std::fs::remove_dir_all(&planted);
    let _ = std::fs::remove_file(&planted);
}

/// A listener that never accepts, with its backlog full, holding
/// `daemon.lock` so nothing replaces it: a frozen daemon, or another
/// user's listener in a shared directory. Python keeps it simple (listen(0)).
fn wedged_listener(socket: &Path) -> std::process::Child {
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    chmod(socket.parent().unwrap(), 0o700);
    let script = r#"
import fcntl, os, socket, sys, time
path = sys.argv[1]
lock = open(os.path.join(os.path.dirname(path), "daemon.lock"), "w")
fcntl.flock(lock, fcntl.LOCK_EX)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(0)
fill = []
for _ in range(4):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.setblocking(False)
    try:
        c.connect(path)
    except (BlockingIOError, OSError):
        pass
    fill.append(c)
print("ready", flush=True)
time.sleep(120)
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(socket)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    child
}

/// Defect 3: a wedged listener (backlog full) costs `get` a bounded wait,
/// then it answers directly; `daemon status` says what is wrong instead of hanging.
#[test]
fn d3_a_wedged_listener_never_hangs_get_or_status() {
    let fake = FakeAws::start();
    let mut env = TestEnv::new();
    env.endpoint(&fake.url).with_daemon();
    let mut wedged = wedged_listener(&env.socket());
    let run = env.get(HOST);
    assert_eq!(run.secret(HOST), password_for(ACCOUNT, 1));
    let status = env.run(&["daemon", "status"], "");
    assert!(!status.success);
    assert!(
        status.stderr.contains("accepted no connection"),
        "{}",
        status.stderr
    );
    let _ = wedged.kill();
    let _ = wedged.wait();
}

/// Defect 12: a daemon that accepts but never answers is reported in words,
/// not as "os error 11".
#[test]
fn d12_status_of_a_frozen_daemon_says_so_in_words() {
    let env = TestEnv::new();
    let dir = env.socket().parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    chmod(&dir, 0o700);
    let listener = std::os::unix::net::UnixListener::bind(env.socket()).unwrap();
    let held = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(10));
        drop(stream);
    });
    let status = env.run(&["daemon", "status"], "");
    assert!(!status.success);
    assert!(
        status.stderr.contains("did not answer within"),
        "{}",
        status.stderr
    );
    assert!(!status.stderr.contains("os error"), "{}", status.stderr);
    drop(held);
}

/// Defect 12: an over-long socket path is refused with the real reason.
#[test]
fn d12_an_over_long_socket_path_says_why() {
    let mut env = TestEnv::new();
    let long = env.path(&"x".repeat(120)).join("daemon.sock");
    env.set("DOCKER_CREDENTIAL_ECR_SOCKET", long.to_str().unwrap());
    let run = env.run(&["daemon", "start"], "");
    assert!(!run.success);
    assert!(
        run.stderr.contains("limit of Unix socket"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("did not start in time"),
        "{}",
        run.stderr
    );
}

/// Defect 4 (a): EKS Pod Identity gives every pod the same URI and token
/// path with another token inside: pod B never gets pod A's ECR token.
#[test]
fn d4_pod_identity_pods_never_share_a_token() {
    let (mut env, fake) = file_env();
    env.unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .set(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            &format!("{}/v1/credentials", fake.url),
        );
    let token_file = env.write("pod-identity/token", "pod-a-token");
    env.set(
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        token_file.to_str().unwrap(),
    );
    let a = env.get(HOST).secret(HOST);
    env.write("pod-identity/token", "pod-b-token");
    let b = env.get(HOST).secret(HOST);
    assert_ne!(a, b, "pod B was served pod A's token");
    // Pod B again: a hit, the credentials endpoint is not asked.
    assert_eq!(env.get(HOST).secret(HOST), b);
    assert_eq!(fake.container_requests().len(), 2);
    let signers = fake.token_signers();
    assert_eq!(
        signers,
        [
            crate::fake_aws::container_key_id("pod-a-token"),
            crate::fake_aws::container_key_id("pod-b-token")
        ]
    );
    // The variable form (ECS) too.
    env.unset("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
        .set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "task-c");
    let c = env.get(HOST).secret(HOST);
    env.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "task-d");
    assert_ne!(env.get(HOST).secret(HOST), c);
    assert_eq!(fake.token_requests().len(), 4);
}

/// Defect 4 (b): an access key id without its secret is ignored by the SDK,
/// which uses the profile: profile p2 is never served p1's token.
#[test]
fn d4_a_key_id_alone_does_not_make_profiles_share_a_token() {
    let (mut env, fake) = file_env();
    env.unset("AWS_SECRET_ACCESS_KEY");
    env.write(
        "aws/credentials",
        "[p1]\naws_access_key_id = AKIDEXAMPLEPROFILE01\naws_secret_access_key = s1\n\
         [p2]\naws_access_key_id = AKIDEXAMPLEPROFILE02\naws_secret_access_key = s2\n",
    );
    env.set("AWS_PROFILE", "p1");
    let p1 = env.get(HOST).secret(HOST);
    env.set("AWS_PROFILE", "p2");
    let p2 = env.get(HOST).secret(HOST);
    assert_ne!(p1, p2);
    let signers = fake.token_signers();
    assert_eq!(signers, ["AKIDEXAMPLEPROFILE01", "AKIDEXAMPLEPROFILE02"]);
}

/// Defect 5: a `credential_process` that needs variables no allow-list
/// would carry (here VAULT_TOKEN) works through the daemon as it does directly.
#[test]
fn d5_credential_process_sees_the_callers_whole_environment_through_the_daemon() {
    let fake = FakeAws::start();
    let mut env = TestEnv::bare();
    env.endpoint(&fake.url).with_daemon();
    let script = env.write(
        "bin/vault-creds",
        "#!/bin/sh\n[ \"$VAULT_TOKEN\" = s.vault ] || { echo 'VAULT_TOKEN missing' >&2; exit 1; }\n\
         printf '{\"Version\":1,\"AccessKeyId\":\"AKIDEXAMPLEVAULT0001\",\"SecretAccessKey\":\"v\"}'\n",
    );
    chmod(&script, 0o755);
    env.write(
        "aws/config",
        &format!("[default]\ncredential_process = {}\n", script.display()),
    );
    env.set("VAULT_TOKEN", "s.vault");
    // The first get answers directly and starts the daemon.
    assert_eq!(env.get(HOST).secret(HOST), password_for(ACCOUNT, 1));
    env.wait_for_daemon();
    // A miss in the daemon: its fetch child must see VAULT_TOKEN too.
    let run = env.get(HOST);
    assert_eq!(run.secret(HOST), password_for(ACCOUNT, 2), "{}", run.stderr);
    let status = env.daemon_status();
    assert_eq!(status["api_calls"], 1, "{status}");
    assert_eq!(status["errors"], 0, "{status}");
    let signers = fake.token_signers();
    assert_eq!(signers, ["AKIDEXAMPLEVAULT0001", "AKIDEXAMPLEVAULT0001"]);
}

fn daemon_pid(env: &TestEnv) -> u32 {
    env.wait_for_daemon()["pid"].as_u64().unwrap() as u32
}

/// Defect 6: the daemon keeps no caller's directory, no caller's descriptor
/// (a pipeline around `get` ends), and dumps no core.
#[test]
fn d6_the_daemon_is_fully_detached() {
    let fake = FakeAws::start();
    let mut env = TestEnv::new();
    env.endpoint(&fake.url).with_daemon();
    let cwd = env.path("workdir");
    std::fs::create_dir(&cwd).unwrap();
    // fd 3 is this shell's stdout pipe, left open (not close-on-exec) for `get`:
    // if the daemon kept it, reading the pipe to its end would wait for the daemon.
    let mut cmd = env.shell(
        &["env"],
        &format!(
            "cd '{}' && exec 3>&1 && printf %s {HOST} | \"$BIN\" get >/dev/null",
            cwd.display()
        ),
    );
    cmd.current_dir(&cwd);
    // No time limit asserted: if the daemon kept fd 3, reading the pipe to its
    // end would wait for the daemon, and the harness's watchdog fails the test.
    let run = run_command(cmd, "");
    assert!(run.success, "{}", run.stderr);
    let pid = daemon_pid(&env);
    let dir = |p: &str| std::fs::read_link(format!("/proc/{pid}/{p}")).unwrap();
    assert_eq!(dir("cwd"), PathBuf::from("/"));
    let fds: Vec<PathBuf> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .collect();
    assert!(
        !fds.iter().any(|f| f.to_string_lossy().starts_with("pipe:")),
        "the daemon holds a pipe: {fds:?}"
    );
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    assert_eq!(
        core.split_whitespace().collect::<Vec<_>>()[4..6],
        ["0", "0"],
        "{core}"
    );
}

/// Defect 7: `erase` (docker logout) reaches the daemon, which stops serving
/// the erased token; and it fails, saying so, when a token cannot be removed.
#[test]
fn d7_erase_reaches_the_daemon_and_tells_the_truth() {
    let fake = FakeAws::start();
    let mut env = TestEnv::new();
    env.endpoint(&fake.url)
        .with_daemon()
        .set("DOCKER_CREDENTIAL_ECR_CACHE", "file");
    assert_eq!(env.get(HOST).secret(HOST), password_for(ACCOUNT, 1));
    env.wait_for_daemon();
    assert_eq!(env.get(HOST).secret(HOST), password_for(ACCOUNT, 1));
    let erased = env.run(&["erase"], HOST);
    assert!(erased.success, "{}", erased.stderr);
    assert_eq!(env.daemon_status()["entries"].as_array().unwrap().len(), 0);
    assert_eq!(env.get(HOST).secret(HOST), password_for(ACCOUNT, 2));

    // A token that cannot be removed (here: something else in its place).
    env.set("DOCKER_CREDENTIAL_ECR_DAEMON", "off");
    let state = env.path("run/docker-credential-ecr");
    for id in key_ids(&state) {
        let token = state.join("tokens").join(&id);
        let _ = std::fs::remove_file(&token);
        std::fs::create_dir_all(token.join("stuck")).unwrap();
    }
    let erased = env.run(&["erase"], HOST);
    assert!(!erased.success, "erase claimed success: {}", erased.stdout);
    assert!(erased.stdout.contains("not erased"), "{}", erased.stdout);
    assert!(erased.stderr.contains("not erased"), "{}", erased.stderr);
}

/// Defect 9: a non-ASCII access key id, a huge timeout and a cache record
/// with an absurd expiry each get a clear answer, never "internal error";
/// the damaged record is treated as a miss and replaced.
#[test]
fn d9_reachable_panics_are_clear_answers() {
    let (mut env, fake) = file_env();
    env.set("AWS_ACCESS_KEY_ID", "AKIÄEXAMPLEÜÜÜÜ0001");
    let run = env.get(HOST);
    assert!(!run.stderr.contains("internal error"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("AKIÄ"),
        "the key id was quoted: {}",
        run.stderr
    );

    env.set("AWS_ACCESS_KEY_ID", crate::harness::KEY_ID);
    env.config("timeout = 9223372036854775807\n");
    env.get(HOST)
        .assert_not_found()
        .assert_reason(&["config.toml", "from 1 to 3600"]);
    env.config("");

    let state = env.path("run/docker-credential-ecr");
    let first = env.get(HOST).secret(HOST);
    let calls = fake.token_requests().len();
    for id in key_ids(&state) {
        let path = state.join("meta").join(format!("{id}.json"));
        let mut record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        record["expires"] = serde_json::json!(u64::MAX);
        std::fs::write(&path, serde_json::to_vec(&record).unwrap()).unwrap();
    }
    let run = env.get(HOST);
    assert!(!run.stderr.contains("internal error"), "{}", run.stderr);
    let replaced = run.secret(HOST);
    assert_ne!(replaced, first);
    assert_eq!(fake.token_requests().len(), calls + 1);
    // Replaced: the next get is a hit.
    assert_eq!(env.get(HOST).secret(HOST), replaced);
    assert_eq!(fake.token_requests().len(), calls + 1);
}

/// Defect 10: a writer killed mid-write leaves a temporary file that may hold
/// a live token; the next write removes it, and so does `erase`.
#[test]
fn d10_leftovers_of_a_killed_writer_are_removed() {
    let (env, _fake) = file_env();
    let state = env.path("run/docker-credential-ecr");
    env.get(HOST).secret(HOST);
    let id = key_ids(&state).pop().unwrap();
    // What a writer killed between create and rename leaves (a pid that is gone).
    let leftover = |dir: &str, name: &str| {
        let p = state
            .join(dir)
            .join(format!(".{name}.4194304.0123456789abcdef.tmp"));
        std::fs::write(&p, b"pw-live-token").unwrap();
        p
    };
    let token_tmp = leftover("tokens", &id);
    let meta_tmp = leftover("meta", &format!("{id}.json"));
    // The next write (a miss on another registry) tidies up.
    env.get("210987654321.dkr.ecr.us-west-2.amazonaws.com")
        .secret("210987654321.dkr.ecr.us-west-2.amazonaws.com");
    assert!(!token_tmp.exists() && !meta_tmp.exists());
    // So does erase.
    let token_tmp = leftover("tokens", &id);
    assert!(env.run(&["erase"], HOST).success);
    assert!(!token_tmp.exists());
}

/// Defect 11: files that never end or never open (`/dev/zero`, a FIFO) are
/// refused at once with one line, never read without bound or waited on.
#[test]
fn d11_endless_and_blocking_files_are_refused() {
    let (mut env, fake) = file_env();
    // Environment keys: the SDK still loads the shared config file.
    env.set("AWS_CONFIG_FILE", "/dev/zero");
    env.get(HOST)
        .assert_not_found()
        .assert_reason(&["/dev/zero", "regular file"]);
    // A profile: the key derivation reads it first.
    env.unset("AWS_ACCESS_KEY_ID");
    env.get(HOST)
        .assert_not_found()
        .assert_reason(&["/dev/zero", "regular file"]);
    env.set("AWS_CONFIG_FILE", env.path("aws/config").to_str().unwrap());

    let fifo = env.path("config/docker-credential-ecr/config.toml");
    std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    env.get(HOST)
        .assert_not_found()
        .assert_reason(&["config.toml", "regular file"]);
    std::fs::remove_file(&fifo).unwrap();

    // AWS_CA_BUNDLE, read on the network path.
    let bundle = env.path("bundle.fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&bundle)
            .status()
            .unwrap()
            .success()
    );
    env.set("AWS_CA_BUNDLE", bundle.to_str().unwrap());
    env.get(HOST)
        .assert_not_found()
        .assert_reason(&["AWS_CA_BUNDLE", "regular file"]);
    env.unset("AWS_CA_BUNDLE");
    assert!(fake.token_requests().is_empty());

    // docker's config.json, which configure and doctor read.
    let docker = env.path("home/.docker/config.json");
    std::fs::create_dir_all(docker.parent().unwrap()).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(&docker)
            .status()
            .unwrap()
            .success()
    );
    let run = env.run(&["configure", "--registry", HOST], "");
    assert!(!run.success);
    assert!(run.stderr.contains("regular file"), "{}", run.stderr);
}

/// Defect 12: a doctor whose STS call fails says it is STS, not ECR.
#[test]
fn d12_doctor_words_sts_failures_as_sts() {
    let fake = FakeAws::start();
    let mut env = TestEnv::new();
    env.endpoint(&fake.url);
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    env.set("AWS_ENDPOINT_URL_STS", &url);
    let run = env.run(&["doctor", HOST], "");
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("credentials"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(line.contains("STS"), "{line}");
    assert!(!line.contains("ECR API"), "{line}");
}
