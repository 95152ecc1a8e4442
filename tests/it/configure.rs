//! `configure`: what it does to real files, and that `--remove` gives them back.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::fake_aws::FakeAws;
use crate::harness::{HOST, TestEnv};

const DOCKER: &str = "home/.docker/config.json";

/// A config as docker itself writes it: tabs, no final newline, a credsStore,
/// a stored login and another helper.
const DOCKER_WRITTEN: &str = "{\n\t\"auths\": {\n\t\t\"ghcr.io\": {\n\t\t\t\"auth\": \"dXNlcjpwYXNz\"\n\t\t}\n\t},\n\t\"credsStore\": \"desktop\",\n\t\"credHelpers\": {\n\t\t\"gcr.io\": \"gcr\"\n\t},\n\t\"currentContext\": \"default\"\n}";

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn configure(env: &TestEnv, extra: &[&str]) -> crate::harness::Run {
    let mut args = vec!["configure"];
    args.extend_from_slice(extra);
    env.run(&args, "")
}

#[test]
fn no_file_is_created_private_and_removed_again() {
    let env = TestEnv::new();
    let path = env.path(DOCKER);
    let run = configure(&env, &["--registry", HOST]);
    assert!(run.success, "{}", run.stderr);
    assert!(run.stdout.contains(&format!("updated {}", path.display())));
    assert_eq!(
        read(&path),
        format!("{{\n\t\"credHelpers\": {{\n\t\t\"{HOST}\": \"ecr\"\n\t}}\n}}\n")
    );
    assert_eq!(mode(&path), 0o600);

    let run = configure(&env, &["--remove"]);
    assert!(run.success, "{}", run.stderr);
    assert!(
        !path.exists(),
        "configure created the file, so --remove deletes it"
    );
}

#[test]
fn empty_file_gets_an_entry_and_comes_back_as_an_empty_object() {
    let env = TestEnv::new();
    let path = env.write(DOCKER, "");
    assert!(configure(&env, &["--registry", HOST]).success);
    assert!(read(&path).contains(&format!("\"{HOST}\": \"ecr\"")));
    assert!(configure(&env, &["--remove", "--registry", HOST]).success);
    // Documented: an empty file comes back as `{}`, which docker reads the same way.
    assert_eq!(read(&path), "{}\n");
}

#[test]
fn existing_settings_survive_twice_and_remove_restores_the_bytes() {
    let env = TestEnv::new();
    let path = env.write(DOCKER, DOCKER_WRITTEN);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();

    let run = configure(&env, &["--registry", HOST, "--registry", "public.ecr.aws"]);
    assert!(run.success, "{}", run.stderr);
    let after: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
    assert_eq!(after["credHelpers"]["gcr.io"], "gcr");
    assert_eq!(after["credHelpers"][HOST], "ecr");
    assert_eq!(after["credHelpers"]["public.ecr.aws"], "ecr");
    assert_eq!(after["auths"]["ghcr.io"]["auth"], "dXNlcjpwYXNz");
    assert_eq!(after["credsStore"], "desktop");
    assert_eq!(after["currentContext"], "default");
    assert!(read(&path).starts_with("{\n\t\"auths\""), "layout kept");
    assert_eq!(mode(&path), 0o640, "mode kept");
    let backup = env.path("home/.docker/config.json.bak");
    assert_eq!(
        read(&backup),
        DOCKER_WRITTEN,
        "the previous version is kept"
    );
    assert!(
        run.stderr
            .contains("\"credsStore\": \"desktop\" still answers"),
        "credsStore warning: {}",
        run.stderr
    );

    let configured = read(&path);
    let again = configure(&env, &["--registry", HOST, "--registry", "public.ecr.aws"]);
    assert!(again.success, "{}", again.stderr);
    assert!(again.stdout.contains("already routes"), "{}", again.stdout);
    assert_eq!(read(&path), configured, "a second run changes nothing");

    let run = configure(&env, &["--remove"]);
    assert!(run.success, "{}", run.stderr);
    assert_eq!(read(&path), DOCKER_WRITTEN, "byte-identical after --remove");
    assert_eq!(mode(&path), 0o640);
}

#[test]
fn a_replaced_helper_is_put_back_by_remove() {
    let env = TestEnv::new();
    let original = format!("{{\n\t\"credHelpers\": {{\n\t\t\"{HOST}\": \"ecr-login\"\n\t}}\n}}");
    let path = env.write(DOCKER, &original);
    assert!(configure(&env, &["--registry", HOST]).success);
    assert!(read(&path).contains(&format!("\"{HOST}\": \"ecr\"")));
    let run = configure(&env, &["--remove"]);
    assert!(
        run.stdout.contains("back to \"ecr-login\""),
        "{}",
        run.stdout
    );
    assert_eq!(read(&path), original);
}

#[test]
fn unparsable_files_are_refused_and_left_alone() {
    for bad in [
        "{\n  // docker does not allow comments\n  \"auths\": {}\n}\n",
        "{\"auths\": {}}\ngarbage\n",
    ] {
        let env = TestEnv::new();
        let path = env.write(DOCKER, bad);
        let run = configure(&env, &["--registry", HOST]);
        assert!(!run.success, "{bad:?} must be refused");
        assert!(run.stdout.is_empty(), "{}", run.stdout);
        assert!(
            run.stderr.contains(&path.display().to_string())
                && run.stderr.contains("nothing was written"),
            "{}",
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert_eq!(read(&path), bad);
        assert!(!env.path("home/.docker/config.json.bak").exists());
    }
}

#[test]
fn read_only_file_is_a_clear_error() {
    let env = TestEnv::new();
    let path = env.write(DOCKER, DOCKER_WRITTEN);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let run = configure(&env, &["--registry", HOST]);
    assert!(!run.success);
    assert!(
        run.stderr.contains("is read-only") && run.stderr.contains("nothing was written"),
        "{}",
        run.stderr
    );
    assert_eq!(read(&path), DOCKER_WRITTEN);
    assert_eq!(mode(&path), 0o444);
}

#[test]
fn dry_run_prints_a_diff_and_writes_nothing() {
    let env = TestEnv::new();
    let path = env.write(DOCKER, DOCKER_WRITTEN);
    let run = configure(&env, &["--registry", HOST, "--dry-run"]);
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!("+\t\t\"{HOST}\": \"ecr\"")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(&format!("--- {}", path.display())));
    assert!(run.stdout.ends_with("dry run: nothing was written\n"));
    assert_eq!(read(&path), DOCKER_WRITTEN);
    assert!(!env.path("home/.docker/config.json.bak").exists());
    assert!(!env.path("home/.local/share/docker-credential-ecr").exists());
}

#[test]
fn not_ecr_is_refused() {
    let env = TestEnv::new();
    let run = configure(&env, &["--registry", "ghcr.io"]);
    assert!(!run.success);
    assert!(
        run.stderr.contains("not an ECR registry host"),
        "{}",
        run.stderr
    );
    assert!(!env.path(DOCKER).exists());
    let run = configure(&env, &[]);
    assert!(!run.success);
    assert!(
        run.stderr
            .contains("--registry HOST, --region REGION or --public")
    );
}

#[test]
fn podman_gets_its_own_file_and_a_warning_about_stale_tokens() {
    let env = TestEnv::new();
    let stale = env.write(
        "run/containers/auth.json",
        &format!("{{\"auths\":{{\"{HOST}\":{{\"auth\":\"QVdTOm9sZA==\"}}}}}}"),
    );
    let run = configure(&env, &["--registry", HOST, "--podman"]);
    assert!(run.success, "{}", run.stderr);
    let podman = env.path("config/containers/auth.json");
    let written: serde_json::Value = serde_json::from_str(&read(&podman)).unwrap();
    assert_eq!(written["credHelpers"][HOST], "ecr");
    assert!(env.path(DOCKER).exists(), "docker is configured too");
    assert!(
        run.stderr
            .contains(&format!("{} holds a token", stale.display()))
            && run.stderr.contains(&format!("podman logout {HOST}")),
        "{}",
        run.stderr
    );

    assert!(configure(&env, &["--remove", "--podman"]).success);
    assert!(!podman.exists() && !env.path(DOCKER).exists());
}

#[test]
fn region_finds_the_account_with_one_sts_call() {
    let fake = FakeAws::start();
    let mut env = TestEnv::new();
    env.endpoint(&fake.url);
    let run = configure(&env, &["--region", "us-west-2", "--region", "eu-west-1"]);
    assert!(run.success, "{}", run.stderr);
    let written: serde_json::Value = serde_json::from_str(&read(&env.path(DOCKER))).unwrap();
    assert_eq!(written["credHelpers"][HOST], "ecr");
    assert_eq!(
        written["credHelpers"]["123456789012.dkr.ecr.eu-west-1.amazonaws.com"],
        "ecr"
    );
    let calls: Vec<String> = fake.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(calls, ["STS.GetCallerIdentity"]);
}

#[test]
fn long_credhelpers_lists_are_flagged() {
    let env = TestEnv::new();
    let helpers: Vec<String> = (0..10)
        .map(|i| format!("\"{i}23456789012.dkr.ecr.us-east-1.amazonaws.com\": \"ecr\""))
        .collect();
    env.write(
        DOCKER,
        &format!("{{\"credHelpers\": {{{}}}}}", helpers.join(",")),
    );
    let run = configure(&env, &["--registry", HOST]);
    assert!(run.success);
    assert!(
        run.stderr.contains("has 11 credHelpers entries") && run.stderr.contains("docker build"),
        "{}",
        run.stderr
    );
}

/// Issue 12, defect 8: docker writes through a symlinked config.json, and
/// dotfile managers (stow, chezmoi, home-manager) rely on it.
#[test]
fn r12_configure_writes_through_a_symlinked_config_json() {
    let env = TestEnv::new();
    let target = env.write("dotfiles/docker/config.json", DOCKER_WRITTEN);
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = env.path(DOCKER);
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink("../../dotfiles/docker/config.json", &link).unwrap();
    let is_link = |p: &Path| {
        std::fs::symlink_metadata(p)
            .unwrap()
            .file_type()
            .is_symlink()
    };

    let run = configure(&env, &["--registry", HOST]);
    assert!(run.success, "{}", run.stderr);
    assert!(is_link(&link), "config.json must stay a symlink");
    assert!(
        read(&target).contains(&format!("\"{HOST}\": \"ecr\"")),
        "the link's target gets the entry: {}",
        read(&target)
    );
    assert_eq!(mode(&target), 0o640, "the target's mode is kept");
    let strays: Vec<_> = std::fs::read_dir(target.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "config.json")
        .collect();
    assert!(strays.is_empty(), "no temp file left: {strays:?}");

    let run = configure(&env, &["--remove"]);
    assert!(run.success, "{}", run.stderr);
    assert!(is_link(&link), "still a symlink after --remove");
    assert_eq!(
        read(&target),
        DOCKER_WRITTEN,
        "byte-identical after --remove"
    );

    // A dangling link: the file is created where it points, 0600, and the link stays.
    let dangling = TestEnv::new();
    let link = dangling.path(DOCKER);
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::fs::create_dir_all(dangling.path("dotfiles")).unwrap();
    std::os::unix::fs::symlink(dangling.path("dotfiles/config.json"), &link).unwrap();
    let run = configure(&dangling, &["--registry", HOST]);
    assert!(run.success, "{}", run.stderr);
    assert!(is_link(&link));
    let created = dangling.path("dotfiles/config.json");
    assert!(read(&created).contains(HOST));
    assert_eq!(mode(&created), 0o600);
}

/// Issue 12, defect 8: numbers (and escapes, and a compact layout) other tools
/// wrote are theirs; configure and --remove must not reformat them.
#[test]
fn r12_configure_keeps_other_tools_numbers_byte_for_byte() {
    let numbers =
        "\"n\": [1e2, 12345678901234567890123, -0, 1.0, 0.1e-5, 1E+2, 3.141592653589793238462643]";
    let strings = r#""s": "caf\u00e9 \/ \ud83d\ude00""#;
    for original in [
        format!("{{\n\t{numbers},\n\t{strings},\n\t\"auths\": {{}}\n}}"),
        format!("{{{numbers},{strings},\"credHelpers\":{{\"gcr.io\":\"gcr\"}}}}"),
        format!("{{ {numbers} }}\n"),
    ] {
        let env = TestEnv::new();
        let path = env.write(DOCKER, &original);
        let run = configure(&env, &["--registry", HOST, "--public"]);
        assert!(run.success, "{}", run.stderr);
        let configured = read(&path);
        assert!(
            configured.contains(numbers),
            "numbers rewritten:\n{configured}"
        );
        if original.contains(strings) {
            assert!(
                configured.contains(strings),
                "escapes rewritten:\n{configured}"
            );
        }
        let v: serde_json::Value = serde_json::from_str(&configured).unwrap();
        assert_eq!(v["credHelpers"][HOST], "ecr");
        assert_eq!(v["credHelpers"]["public.ecr.aws"], "ecr");

        let run = configure(&env, &["--remove"]);
        assert!(run.success, "{}", run.stderr);
        assert_eq!(read(&path), original, "byte-identical after --remove");
    }
}

/// Issue 12, defect 8: writing through links must not let root (with another
/// user's HOME: `su`, `sudo -E`) write into that user's directory, nor follow
/// a link that user planted to a file of root's.
#[cfg(target_os = "linux")]
#[test]
fn r12_configure_as_root_never_writes_into_another_users_directory() {
    if !crate::harness::running_as_root(
        "r12_configure_as_root_never_writes_into_another_users_directory",
    ) {
        return;
    }
    const NOBODY: u32 = 65534;
    let env = TestEnv::new();
    let docker_dir = env.path("home/.docker");
    std::fs::create_dir_all(&docker_dir).unwrap();
    std::os::unix::fs::chown(&docker_dir, Some(NOBODY), Some(NOBODY)).unwrap();
    // The user's link to a file only root may write.
    let victim = env.write("rootonly/precious.json", "{\"keep\": true}\n");
    std::os::unix::fs::symlink(&victim, docker_dir.join("config.json")).unwrap();

    let run = configure(&env, &["--registry", HOST]);
    assert!(!run.success, "must refuse: {}", run.stdout);
    assert!(
        run.stderr.contains("belongs to uid 65534") && run.stderr.contains("nothing was written"),
        "{}",
        run.stderr
    );
    assert_eq!(
        read(&victim),
        "{\"keep\": true}\n",
        "the link's target is untouched"
    );
    let names: Vec<_> = std::fs::read_dir(&docker_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        ["config.json"],
        "nothing created in the user's directory"
    );
}

/// A docker config using another credsStore, as Docker Desktop leaves it.
const DESKTOP: &str =
    "{\n\t\"auths\": {},\n\t\"credsStore\": \"desktop\",\n\t\"currentContext\": \"default\"\n}";

#[test]
fn store_sets_creds_store_and_remove_restores_the_old_one_exactly() {
    for original in [
        DESKTOP.to_string(),
        // An escaped value comes back as written.
        "{\"credsStore\":\"desk\\u0074op\"}\n".to_string(),
        // No credsStore: --remove takes the key out again.
        format!("{{\n\t\"credHelpers\": {{\n\t\t\"{HOST}\": \"ecr\"\n\t}}\n}}"),
    ] {
        let env = TestEnv::new();
        let path = env.write(DOCKER, &original);
        // `desktop` is not on this PATH: docker cannot read its logins either.
        let run = configure(&env, &["--store"]);
        assert!(run.success, "{}", run.stderr);
        let v: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
        assert_eq!(v["credsStore"], "ecr", "{}", read(&path));
        assert!(
            run.stdout.contains("credsStore (every registry"),
            "{}",
            run.stdout
        );
        let again = configure(&env, &["--store"]);
        assert!(
            again.stdout.contains("already routes every registry"),
            "{}",
            again.stdout
        );

        let run = configure(&env, &["--remove", "--store"]);
        assert!(run.success, "{}", run.stderr);
        assert_eq!(read(&path), original, "byte-identical after --remove");
    }
}

#[test]
fn store_and_registry_entries_are_taken_back_separately() {
    let env = TestEnv::new();
    let path = env.write(DOCKER, DESKTOP);
    assert!(configure(&env, &["--store", "--registry", HOST]).success);
    let v: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
    assert_eq!(
        (&v["credsStore"], &v["credHelpers"][HOST]),
        (&"ecr".into(), &"ecr".into())
    );
    // Only credsStore goes back; the credHelpers entry stays.
    let run = configure(&env, &["--remove", "--store"]);
    assert!(run.stdout.contains("back to \"desktop\""), "{}", run.stdout);
    let v: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
    assert_eq!(
        (&v["credsStore"], &v["credHelpers"][HOST]),
        (&"desktop".into(), &"ecr".into())
    );
    // --remove alone takes the rest.
    assert!(configure(&env, &["--remove"]).success);
    assert_eq!(read(&path), DESKTOP);

    // A file configure created goes away again.
    let fresh = TestEnv::new();
    assert!(configure(&fresh, &["--store"]).success);
    assert_eq!(
        read(&fresh.path(DOCKER)),
        "{\n\t\"credsStore\": \"ecr\"\n}\n"
    );
    assert!(configure(&fresh, &["--remove"]).success);
    assert!(!fresh.path(DOCKER).exists());
}

#[test]
fn store_keeps_other_helpers_entries_and_says_so() {
    let env = TestEnv::new();
    let other = "210987654321.dkr.ecr.eu-west-1.amazonaws.com";
    env.write(
        DOCKER,
        &format!("{{\"credHelpers\": {{\"{HOST}\": \"ecr\", \"{other}\": \"ecr-login\"}}}}"),
    );
    let run = configure(&env, &["--store"]);
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "credHelpers still sends {other} to docker-credential-ecr-login"
        )),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains(&format!("sends {HOST}")),
        "{}",
        run.stderr
    );
}

/// A fake `docker-credential-fakeold` first on PATH; it logs each call (never a secret) to `calls.log`.
fn fake_old_store(env: &mut TestEnv, get_body: &str) -> std::path::PathBuf {
    let log = env.path("fakeold/calls.log");
    let script = format!(
        "#!/bin/sh\necho \"$1\" >> '{log}'\ncase \"$1\" in\n\
         list) printf '{{\"ghcr.io\":\"bob\",\"https://index.docker.io/v1/\":\"alice\",\"{HOST}\":\"AWS\"}}\\n' ;;\n\
         get) read -r server; echo \"get $server\" >> '{log}'\n{get_body}\n ;;\n\
         *) echo unsupported; exit 1 ;;\nesac\n",
        log = log.display()
    );
    let exe = env.write("fakeold/docker-credential-fakeold", &script);
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        env.path("fakeold").display(),
        env.var("PATH").unwrap_or_default()
    );
    env.set("PATH", &path);
    log
}

/// The secrets the fake store hands out; they must never be printed.
const OLD_SECRETS: [&str; 2] = ["ghp_fakeOldSecret1", "dckr_fakeOldSecret2"];

const ANSWERING: &str = "case \"$server\" in\n\
    ghcr.io) printf '{\"ServerURL\":\"ghcr.io\",\"Username\":\"bob\",\"Secret\":\"ghp_fakeOldSecret1\"}\\n' ;;\n\
    https://index.docker.io/v1/) printf '{\"ServerURL\":\"x\",\"Username\":\"<token>\",\"Secret\":\"dckr_fakeOldSecret2\"}\\n' ;;\n\
    *) echo 'credentials not found in native keychain'; exit 1 ;;\n\
    esac";

fn assert_no_secret(run: &crate::harness::Run) {
    for secret in OLD_SECRETS {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "secret printed:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
}

#[test]
fn store_dry_run_names_the_logins_it_would_copy_and_copies_nothing() {
    let mut env = TestEnv::new();
    let log = fake_old_store(&mut env, ANSWERING);
    let path = env.write(DOCKER, "{\"credsStore\": \"fakeold\"}");
    let run = configure(&env, &["--store", "--dry-run"]);
    assert!(run.success, "{}", run.stderr);
    assert_no_secret(&run);
    assert!(
        run.stdout.contains(
            "would copy 2 login(s) from docker-credential-fakeold into docker-credential-ecr: \
             ghcr.io, https://index.docker.io/v1/"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(&format!(
        "not copied from docker-credential-fakeold: {HOST}"
    )));
    assert!(
        run.stdout.ends_with("dry run: nothing was written\n"),
        "{}",
        run.stdout
    );
    assert_eq!(read(&path), "{\"credsStore\": \"fakeold\"}");
    assert_eq!(
        read(&log),
        "list\n",
        "only list was asked, no secret was read"
    );
    assert!(
        run.stdout.contains("\n+{\"credsStore\": \"ecr\"}\n"),
        "the diff: {}",
        run.stdout
    );
    assert!(!env.path("home/.local/share/docker-credential-ecr").exists());
}

#[test]
fn store_refuses_to_migrate_when_our_store_would_keep_nothing() {
    let mut env = TestEnv::new();
    fake_old_store(&mut env, ANSWERING);
    env.set("AWS_ECR_IGNORE_CREDS_STORAGE", "true");
    let path = env.write(DOCKER, "{\"credsStore\": \"fakeold\"}");
    let run = configure(&env, &["--store"]);
    assert!(!run.success);
    assert!(
        run.stderr.contains("AWS_ECR_IGNORE_CREDS_STORAGE=true")
            && run.stderr.contains("ghcr.io, https://index.docker.io/v1/")
            && run.stderr.contains("nothing was written"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert_eq!(read(&path), "{\"credsStore\": \"fakeold\"}");
}

#[test]
fn store_writes_nothing_when_the_old_store_fails_a_get() {
    let mut env = TestEnv::new();
    let failing = "case \"$server\" in\n\
        ghcr.io) printf '{\"ServerURL\":\"ghcr.io\",\"Username\":\"bob\",\"Secret\":\"ghp_fakeOldSecret1\"}\\n' ;;\n\
        *) echo 'the keyring is locked'; exit 1 ;;\n\
        esac";
    let log = fake_old_store(&mut env, failing);
    let path = env.write(DOCKER, DESKTOP.replace("desktop", "fakeold").as_str());
    let run = configure(&env, &["--store"]);
    assert!(!run.success, "{}", run.stdout);
    assert_no_secret(&run);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stderr);
    assert!(
        lines[0].contains("cannot copy https://index.docker.io/v1/")
            && lines[0].contains("\"the keyring is locked\" (exit status 1)"),
        "{}",
        run.stderr
    );
    assert!(lines[1].contains("nothing was written"), "{}", run.stderr);
    assert_eq!(read(&path), DESKTOP.replace("desktop", "fakeold"));
    assert!(!env.path("home/.docker/config.json.bak").exists());
    // Nothing was stored: the reads come first, and one failed.
    let calls = read(&log);
    assert!(!calls.contains("store"), "{calls}");
}

#[test]
fn store_gives_up_on_a_wedged_old_store_and_writes_nothing() {
    let mut env = TestEnv::new();
    let log = fake_old_store(&mut env, "sleep 600");
    env.set("DOCKER_CREDENTIAL_ECR_TIMEOUT", "1");
    let path = env.write(DOCKER, "{\"credsStore\": \"fakeold\"}");
    let run = configure(&env, &["--store"]);
    assert!(!run.success, "{}", run.stdout);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stderr);
    assert!(
        lines[0].contains(
            "cannot copy ghcr.io: docker-credential-fakeold get did not answer within 1s"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(read(&path), "{\"credsStore\": \"fakeold\"}");
    // It gave up after the first hung get rather than hanging once per login.
    assert_eq!(read(&log).matches("get ").count(), 1, "{}", read(&log));
}

#[test]
fn store_copies_the_old_stores_logins_into_ours_first() {
    let mut env = TestEnv::new();
    let log = fake_old_store(&mut env, ANSWERING);
    let original = DESKTOP.replace("desktop", "fakeold");
    let path = env.write(DOCKER, &original);
    let run = configure(&env, &["--store"]);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert_no_secret(&run);
    assert!(
        run.stdout.contains(
            "copied 2 login(s) from docker-credential-fakeold into docker-credential-ecr: \
             ghcr.io, https://index.docker.io/v1/; docker-credential-fakeold keeps its copies"
        ),
        "{}",
        run.stdout
    );
    // What our store said (where logins are kept) reaches the user as our own lines.
    assert!(
        run.stderr
            .lines()
            .all(|l| l.starts_with("docker-credential-ecr: ")
                && !l.contains("WARN docker_credential_ecr")),
        "{}",
        run.stderr
    );
    let v: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
    assert_eq!(v["credsStore"], "ecr");
    // Our own get now answers, for the server names exactly as docker keyed them.
    for (server, user, secret) in [
        ("ghcr.io", "bob", OLD_SECRETS[0]),
        ("https://index.docker.io/v1/", "<token>", OLD_SECRETS[1]),
    ] {
        let get = env.get(server);
        assert!(get.success, "get {server}: {} {}", get.stdout, get.stderr);
        let got: serde_json::Value = serde_json::from_str(&get.stdout).unwrap();
        assert_eq!(
            (&got["Username"], &got["Secret"]),
            (&user.into(), &secret.into())
        );
    }
    // The ECR host was not asked for: we mint it.
    assert!(
        !read(&log).contains(&format!("get {HOST}")),
        "{}",
        read(&log)
    );

    // --remove gives docker its old store back; the old store still has everything.
    assert!(configure(&env, &["--remove"]).success);
    assert_eq!(read(&path), original);
}

const DROP_IN: &str = "home/.config/containers/registries.conf.d/50-docker-credential-ecr.conf";

#[test]
fn store_podman_adds_a_drop_in_and_remove_takes_exactly_it_back() {
    let env = TestEnv::new();
    // The user's own registries.conf: containers/image reads it instead of
    // the system one, and our drop-in besides; it must stay as it is.
    let user_main = "unqualified-search-registries = [\"docker.io\"]\n";
    let main = env.write("home/.config/containers/registries.conf", user_main);
    let run = configure(&env, &["--store", "--podman", "--dry-run"]);
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("+credential-helpers = [\"containers-auth.json\", \"ecr\"]"),
        "{}",
        run.stdout
    );
    assert!(!env.path(DROP_IN).exists() && !env.path(DOCKER).exists());

    let run = configure(&env, &["--store", "--podman"]);
    assert!(run.success, "{}", run.stderr);
    let drop_in = env.path(DROP_IN);
    assert!(
        read(&drop_in).ends_with("credential-helpers = [\"containers-auth.json\", \"ecr\"]\n"),
        "{}",
        read(&drop_in)
    );
    assert_eq!(mode(&drop_in), 0o600);
    assert_eq!(mode(drop_in.parent().unwrap()), 0o700);
    assert_eq!(read(&main), user_main);
    assert!(
        !env.path("config/containers/auth.json").exists(),
        "--store needs no credHelpers entry in containers' auth.json"
    );
    let v: serde_json::Value = serde_json::from_str(&read(&env.path(DOCKER))).unwrap();
    assert_eq!(v["credsStore"], "ecr");

    let again = configure(&env, &["--store", "--podman"]);
    assert!(
        again.stdout.contains("already makes podman"),
        "{}",
        again.stdout
    );
    // Without --podman, the drop-in stays, and configure says so.
    let run = configure(&env, &["--remove", "--store", "--dry-run"]);
    assert!(
        run.stdout
            .contains("50-docker-credential-ecr.conf: left in place"),
        "{}",
        run.stdout
    );

    let run = configure(&env, &["--remove", "--store", "--podman"]);
    assert!(run.success, "{}", run.stderr);
    assert!(!drop_in.exists());
    assert!(
        !drop_in.parent().unwrap().exists(),
        "the directory configure created goes too"
    );
    assert_eq!(read(&main), user_main);
    assert!(!env.path(DOCKER).exists());
}

#[test]
fn store_podman_keeps_the_helpers_set_before_it_and_never_replaces_a_foreign_file() {
    let env = TestEnv::new();
    let dir = env.path("home/.config/containers/registries.conf.d");
    let theirs = "credential-helpers = [\"containers-auth.json\", \"pass\"]\n";
    env.write(
        "home/.config/containers/registries.conf.d/10-pass.conf",
        theirs,
    );
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.write(
        "home/.config/containers/registries.conf.d/90-later.conf",
        "credential-helpers = [\"later\"]\n",
    );
    let run = configure(&env, &["--store", "--podman"]);
    assert!(run.success, "{}", run.stderr);
    assert!(
        read(&env.path(DROP_IN))
            .ends_with("credential-helpers = [\"containers-auth.json\", \"pass\", \"ecr\"]\n"),
        "its list replaces theirs, so it keeps them: {}",
        read(&env.path(DROP_IN))
    );
    assert!(
        run.stderr.contains("90-later.conf comes after") && run.stderr.contains("replaces ours"),
        "{}",
        run.stderr
    );
    assert_eq!(
        mode(&dir),
        0o755,
        "a directory that was there keeps its mode"
    );
    assert!(configure(&env, &["--remove", "--podman"]).success);
    assert!(!env.path(DROP_IN).exists());
    assert_eq!(mode(&dir), 0o755, "and stays");
    assert_eq!(
        read(&env.path("home/.config/containers/registries.conf.d/10-pass.conf")),
        theirs
    );

    // A file of that name configure did not write is refused, and nothing is written.
    let foreign = TestEnv::new();
    let mine = "credential-helpers = [\"mine\"]\n";
    let path = foreign.write(DROP_IN, mine);
    let run = configure(&foreign, &["--store", "--podman"]);
    assert!(!run.success);
    assert!(
        run.stderr.contains("was not written by configure")
            && run.stderr.contains("nothing was written"),
        "{}",
        run.stderr
    );
    assert_eq!(read(&path), mine);
    assert!(!foreign.path(DOCKER).exists());
    assert!(configure(&foreign, &["--remove", "--podman"]).success);
    assert_eq!(read(&path), mine, "--remove leaves it alone too");
}

/// An environment whose PATH finds our helper as `docker-credential-ecr`, with
/// a login stored for a server nothing listens on, for the real clients' tests.
fn real_client_env() -> (TestEnv, &'static str) {
    let mut env = TestEnv::new();
    let dir = Path::new(crate::harness::BIN)
        .parent()
        .unwrap()
        .display()
        .to_string();
    let path = format!("{dir}:{}", env.var("PATH").unwrap_or_default());
    env.set("PATH", &path);
    let server = "127.0.0.1:1";
    let login = serde_json::json!({"ServerURL": server, "Username": "bob", "Secret": "pw"});
    let run = env.run(&["store"], &login.to_string());
    assert!(run.success, "{}", run.stderr);
    (env, server)
}

/// A real skopeo reads our drop-in and asks our helper for a registry listed nowhere.
#[test]
fn store_podman_routes_a_real_skopeo_to_us() {
    let test = "store_podman_routes_a_real_skopeo_to_us";
    if !crate::harness::tools_present(test, &["skopeo"], "apt-get install skopeo") {
        return;
    }
    // Nothing listens on port 1: skopeo fails to connect, after asking for credentials.
    let (env, server) = real_client_env();
    let inspect = "skopeo --debug inspect docker://127.0.0.1:1/demo:1";
    let before = crate::harness::run_command(env.shell(&["env"], inspect), "");
    assert!(
        !before.stderr.contains("credential helper ecr"),
        "{}",
        before.stderr
    );

    assert!(configure(&env, &["--store", "--podman"]).success);
    let after = crate::harness::run_command(env.shell(&["env"], inspect), "");
    assert!(
        after.stderr.contains(&format!(
            "Found credentials for {server} in credential helper ecr"
        )),
        "{}",
        after.stderr
    );
}

#[test]
fn store_writes_nothing_when_our_store_cannot_keep_a_login() {
    let mut env = TestEnv::new();
    fake_old_store(&mut env, ANSWERING);
    // Our logins would go under a regular file: every store fails.
    let not_a_dir = env.write("not-a-dir", "");
    env.set("AWS_ECR_CACHE_DIR", &not_a_dir.display().to_string());
    let original = "{\"credsStore\": \"fakeold\"}";
    let path = env.write(DOCKER, original);
    let run = configure(&env, &["--store"]);
    assert!(!run.success, "{}", run.stdout);
    assert_no_secret(&run);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "one line per server, then the outcome: {}",
        run.stderr
    );
    assert!(
        lines[0].contains("cannot copy ghcr.io: docker-credential-ecr store failed")
            && lines[1].contains("cannot copy https://index.docker.io/v1/"),
        "{}",
        run.stderr
    );
    assert!(lines[2].contains("nothing was written"), "{}", run.stderr);
    assert_eq!(read(&path), original);
}

#[test]
fn store_replaces_the_go_helper_without_asking_it_for_logins() {
    let mut env = TestEnv::new();
    // A Go helper that would fail its list (no region): it is never asked.
    let log = env.path("go/calls.log");
    let exe = env.write(
        "go/docker-credential-ecr-login",
        &format!("#!/bin/sh\necho \"$1\" >> '{}'\nexit 1\n", log.display()),
    );
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        env.path("go").display(),
        env.var("PATH").unwrap_or_default()
    );
    env.set("PATH", &path);
    let original = "{\"credsStore\": \"ecr-login\"}";
    let file = env.write(DOCKER, original);
    let run = configure(&env, &["--store"]);
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("docker-credential-ecr-login only holds ECR tokens"),
        "{}",
        run.stdout
    );
    assert!(!log.exists(), "the Go helper was run");
    assert!(configure(&env, &["--remove"]).success);
    assert_eq!(read(&file), original);
}

#[test]
fn store_podman_checks_the_drop_in_directory_before_writing_anything() {
    let env = TestEnv::new();
    // `~/.config` is a file: the drop-in cannot be created.
    env.write("home/.config", "");
    let run = configure(&env, &["--store", "--podman"]);
    assert!(!run.success, "{}", run.stdout);
    assert!(
        run.stderr.contains(".config is not a directory")
            && run.stderr.contains("nothing was written"),
        "{}",
        run.stderr
    );
    assert!(
        !env.path(DOCKER).exists(),
        "docker's config was not written either"
    );
}

/// Root with another user's HOME (`su`, `sudo -E`) must not create the drop-in
/// (or its directories) there, where that user could not even remove them.
#[cfg(target_os = "linux")]
#[test]
fn store_podman_as_root_never_writes_into_another_users_home() {
    if !crate::harness::running_as_root("store_podman_as_root_never_writes_into_another_users_home")
    {
        return;
    }
    let env = TestEnv::new();
    let home = env.path("home");
    std::os::unix::fs::chown(&home, Some(65534), Some(65534)).unwrap();
    let docker = env.path("docker-config.json");
    let run = configure(
        &env,
        &[
            "--store",
            "--podman",
            "--docker-config",
            docker.to_str().unwrap(),
        ],
    );
    assert!(!run.success, "{}", run.stdout);
    assert!(
        run.stderr.contains("belongs to uid 65534") && run.stderr.contains("nothing was written"),
        "{}",
        run.stderr
    );
    assert!(!env.path("home/.config").exists());
    assert!(!docker.exists());

    // Nor unlinks anything there: the user's own drop-in of that name stays.
    let dir = env.path("home/.config/containers/registries.conf.d");
    std::fs::create_dir_all(&dir).unwrap();
    let theirs = dir.join("50-docker-credential-ecr.conf");
    std::fs::write(
        &theirs,
        "# Written by `docker-credential-ecr configure --store --podman`.\ncredential-helpers = [\"containers-auth.json\", \"ecr\"]\n",
    )
    .unwrap();
    for p in [
        env.path("home/.config"),
        env.path("home/.config/containers"),
        dir,
        theirs.clone(),
    ] {
        std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap();
    }
    let run = configure(
        &env,
        &[
            "--remove",
            "--store",
            "--podman",
            "--docker-config",
            docker.to_str().unwrap(),
        ],
    );
    assert!(!run.success, "{}", run.stdout);
    assert!(
        run.stderr.contains("belongs to uid 65534"),
        "{}",
        run.stderr
    );
    assert!(theirs.exists(), "another user's file was unlinked");
}

/// The same with a real podman (rootful, storage in the test directory).
#[test]
fn store_podman_routes_a_real_podman_to_us() {
    let test = "store_podman_routes_a_real_podman_to_us";
    if !crate::harness::tools_present(test, &["podman"], "apt-get install podman") {
        return;
    }
    let (env, server) = real_client_env();
    assert!(configure(&env, &["--store", "--podman"]).success);
    let p = env.path("podman").display().to_string();
    let pull = format!(
        "podman --root {p}/root --runroot {p}/runroot --storage-driver vfs --cgroup-manager \
         cgroupfs --events-backend file --tmpdir {p}/tmp --log-level debug pull \
         --retry 0 docker://{server}/demo:1"
    );
    let run = crate::harness::run_command(env.shell(&["env"], &pull), "");
    if run.stderr.contains("unknown flag: --retry") {
        // podman before 4.7 has no --retry; it retries a refused connection a few times.
        let pull = pull.replace(" --retry 0", "");
        let run = crate::harness::run_command(env.shell(&["env"], &pull), "");
        assert_found(&run.stderr, server);
    } else {
        assert_found(&run.stderr, server);
    }
}

#[track_caller]
fn assert_found(stderr: &str, server: &str) {
    assert!(
        stderr.contains(&format!(
            "Found credentials for {server} in credential helper ecr"
        )),
        "{stderr}"
    );
}
