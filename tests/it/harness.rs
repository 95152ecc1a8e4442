//! Runs the real binary in a hermetic environment: its own HOME, config dirs and AWS files.
//!
//! The environment is cleared first, so nothing from the developer's or CI's
//! shell (this machine sets AWS_CA_BUNDLE globally, for one) leaks into a
//! test, and IMDS is disabled unless a test points it somewhere on purpose.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_docker-credential-ecr");

/// Obvious fakes; the before-stop hook flags anything shaped like a real key id.
pub const KEY_ID: &str = "AKIDEXAMPLEENVKEY001";
pub const SECRET_KEY: &str = "fakeSecretAccessKeyThatMustNeverBeLogged";

/// A registry host used throughout.
pub const HOST: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com";

/// A watchdog, not a speed assertion: a `get` that hangs this long is a bug.
const WATCHDOG: Duration = Duration::from_secs(60);

pub struct TestEnv {
    pub dir: tempfile::TempDir,
    vars: Vec<(String, String)>,
}

/// What a run printed and how long it took.
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub success: bool,
    pub elapsed: Duration,
}

impl TestEnv {
    /// A clean environment with static credentials in the environment and IMDS disabled.
    pub fn new() -> TestEnv {
        let mut env = TestEnv::bare();
        env.set("AWS_ACCESS_KEY_ID", KEY_ID);
        env.set("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
        env
    }

    /// A clean environment with no AWS credentials at all (IMDS disabled).
    pub fn bare() -> TestEnv {
        let dir = tempfile::tempdir().expect("temp dir");
        let p = |sub: &str| dir.path().join(sub).to_string_lossy().into_owned();
        let vars = vec![
            (
                "PATH".to_string(),
                std::env::var("PATH").unwrap_or_default(),
            ),
            ("HOME".to_string(), p("home")),
            ("XDG_CONFIG_HOME".to_string(), p("config")),
            ("XDG_CACHE_HOME".to_string(), p("cache")),
            ("XDG_RUNTIME_DIR".to_string(), p("run")),
            ("AWS_CONFIG_FILE".to_string(), p("aws/config")),
            (
                "AWS_SHARED_CREDENTIALS_FILE".to_string(),
                p("aws/credentials"),
            ),
            ("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string()),
            // Token-exchange tests count every call; cache tests opt in explicitly.
            (
                "DOCKER_CREDENTIAL_ECR_CACHE".to_string(),
                "none".to_string(),
            ),
            // Likewise the daemon: only its own tests start one (`with_daemon`).
            (
                "DOCKER_CREDENTIAL_ECR_DAEMON".to_string(),
                "off".to_string(),
            ),
        ];
        for sub in ["home", "config", "cache", "run", "aws"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        TestEnv { dir, vars }
    }

    /// Lets `get` use (and autostart) a daemon on this environment's socket;
    /// the daemon is stopped when the environment is dropped.
    /// The value this environment gives `key`.
    #[cfg_attr(not(unix), allow(dead_code))]
    pub fn var(&self, key: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[cfg_attr(not(unix), allow(dead_code))]
    pub fn with_daemon(&mut self) -> &mut TestEnv {
        // A safety net should a test die before its drop: nothing lingers long.
        self.set("DOCKER_CREDENTIAL_ECR_DAEMON", "auto")
            .set("DOCKER_CREDENTIAL_ECR_DAEMON_IDLE", "120")
    }

    /// The daemon's socket for this environment.
    #[cfg_attr(not(unix), allow(dead_code))]
    pub fn socket(&self) -> PathBuf {
        self.path("run/docker-credential-ecr/daemon.sock")
    }

    /// The running daemon's status as JSON (`running: false` when there is none).
    #[cfg_attr(not(unix), allow(dead_code))]
    pub fn daemon_status(&self) -> serde_json::Value {
        let run = self.run(&["daemon", "status", "--json"], "");
        serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("daemon status: {e}: {} / {}", run.stdout, run.stderr))
    }

    /// Waits (bounded) until a daemon answers status, and returns it.
    #[cfg_attr(not(unix), allow(dead_code))]
    pub fn wait_for_daemon(&self) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = self.daemon_status();
            if status["running"] == true {
                return status;
            }
            if Instant::now() >= deadline {
                let log = std::fs::read_to_string(self.socket().with_file_name("daemon.log"))
                    .unwrap_or_else(|e| format!("(no daemon.log: {e})"));
                panic!("no daemon came up: {status}\ndaemon.log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn set(&mut self, key: &str, value: &str) -> &mut TestEnv {
        self.vars.retain(|(k, _)| k != key);
        self.vars.push((key.to_string(), value.to_string()));
        self
    }

    pub fn unset(&mut self, key: &str) -> &mut TestEnv {
        self.vars.retain(|(k, _)| k != key);
        self
    }

    /// Points the ECR, ECR Public and STS clients at a fake endpoint.
    pub fn endpoint(&mut self, url: &str) -> &mut TestEnv {
        self.set("AWS_ENDPOINT_URL_ECR", url)
            .set("AWS_ENDPOINT_URL_ECR_PUBLIC", url)
            .set("AWS_ENDPOINT_URL_STS", url)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file under the test dir, creating parents.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Writes our config file at its default location.
    pub fn config(&self, text: &str) -> PathBuf {
        self.write("config/docker-credential-ecr/config.toml", text)
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env_clear()
            .envs(self.vars.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// `sh -c script` with this environment and `$BIN` naming the helper.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub fn shell(&self, wrapper: &[&str], script: &str) -> Command {
        let (program, args) = wrapper.split_first().expect("a wrapper command");
        let mut cmd = Command::new(program);
        cmd.args(args)
            .args(["sh", "-c", script])
            .env_clear()
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .env("BIN", BIN);
        cmd
    }

    /// Any program, with this environment and `$BIN` naming the helper.
    #[cfg_attr(not(unix), allow(dead_code))]
    pub fn program(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .env("BIN", BIN);
        cmd
    }

    pub fn run(&self, args: &[&str], stdin: &str) -> Run {
        run_command(self.command(args), stdin)
    }

    pub fn get(&self, server: &str) -> Run {
        self.run(&["get"], server)
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let daemon_on = self
            .vars
            .iter()
            .any(|(k, v)| k == "DOCKER_CREDENTIAL_ECR_DAEMON" && v != "off");
        if daemon_on {
            let _ = self
                .command(&["daemon", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Runs the commands `make(0..n)` builds all at once and returns every result.
pub fn in_parallel(n: usize, make: impl Fn(usize) -> Command) -> Vec<Run> {
    in_parallel_with(n, HOST, make)
}

/// [`in_parallel`], feeding each command `stdin`.
pub fn in_parallel_with(n: usize, stdin: &str, make: impl Fn(usize) -> Command) -> Vec<Run> {
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let cmd = make(i);
            let stdin = stdin.to_string();
            std::thread::spawn(move || run_command(cmd, &stdin))
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// Whether a test may run: `true` when `ok`; otherwise a loud skip on a
/// developer machine and a failure in CI (`.ci/run` sets `CI`), which must run it.
#[cfg_attr(not(unix), allow(dead_code))]
pub fn may_run(test: &str, ok: bool, missing: &str) -> bool {
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: {missing}, and CI must run this test"
        );
        eprintln!("SKIPPED {test}: {missing}");
    }
    ok
}

/// [`may_run`] for tests that act as another user: they need root.
#[cfg(target_os = "linux")]
pub fn running_as_root(test: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to our effective uid.
    let euid = std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid());
    may_run(test, euid == 0, "needs root to act as another user")
}

/// [`may_run`] for tests that need programs on `PATH`.
#[cfg_attr(not(unix), allow(dead_code))]
pub fn tools_present(test: &str, tools: &[&str], install: &str) -> bool {
    let have = |tool: &&str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
    };
    let missing: Vec<&&str> = tools.iter().filter(|t| !have(t)).collect();
    may_run(
        test,
        missing.is_empty(),
        &format!("{missing:?} not installed ({install})"),
    )
}

/// Runs a command to completion, feeding stdin, killing it if the watchdog fires.
pub fn run_command(mut cmd: Command, stdin: &str) -> Run {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn helper");
    {
        let mut input = child.stdin.take().unwrap();
        let _ = input.write_all(stdin.as_bytes());
    }
    let pid = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output());
    while !waiter.is_finished() {
        if start.elapsed() > WATCHDOG {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("helper did not finish within {WATCHDOG:?}: a hung get would hang docker build");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out: Output = waiter.join().unwrap().expect("wait for helper");
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        success: out.status.success(),
        elapsed: start.elapsed(),
    }
}

impl Run {
    /// Asserts the protocol's not-found answer: exact stdout, exit 1.
    #[track_caller]
    pub fn assert_not_found(&self) -> &Run {
        assert_eq!(
            self.stdout, "credentials not found in native keychain\n",
            "stderr: {}",
            self.stderr
        );
        assert!(!self.success);
        self
    }

    /// Asserts a successful `get` and returns the secret.
    #[track_caller]
    pub fn secret(&self, server_url: &str) -> String {
        assert!(
            self.success,
            "get failed: stdout={} stderr={}",
            self.stdout, self.stderr
        );
        assert!(
            self.stdout.ends_with('\n') && self.stdout.lines().count() == 1,
            "{:?}",
            self.stdout
        );
        let v: serde_json::Value = serde_json::from_str(&self.stdout).expect("JSON on stdout");
        assert_eq!(v["ServerURL"], server_url.trim(), "{}", self.stdout);
        assert_eq!(v["Username"], "AWS");
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 3, "{}", self.stdout);
        v["Secret"]
            .as_str()
            .expect("Secret is a string")
            .to_string()
    }

    /// Asserts stderr is a single diagnostic line containing every needle.
    #[track_caller]
    pub fn assert_reason(&self, needles: &[&str]) -> &Run {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one stderr line, got: {}",
            self.stderr
        );
        assert!(
            lines[0].starts_with("docker-credential-ecr: "),
            "{}",
            self.stderr
        );
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "stderr lacks {needle:?}: {}",
                self.stderr
            );
        }
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }
}
