//! What packages install besides the binary: man pages and completions, generated from the CLI.

use crate::harness::{TestEnv, tools_present};

#[test]
fn man_pages_render_without_warnings() {
    if !tools_present("man_pages_render", &["man"], "apt-get install man-db") {
        return;
    }
    let env = TestEnv::new();
    let dir = env.path("man1");
    let run = env.run(&["manpage", "--out-dir", dir.to_str().unwrap()], "");
    assert!(run.success, "{}", run.stderr);
    let mut pages: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    let names: Vec<String> = pages
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "docker-credential-ecr.1",
        "docker-credential-ecr-configure.1",
        "docker-credential-ecr-doctor.1",
        "docker-credential-ecr-get.1",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    for page in &pages {
        let out = std::process::Command::new("man")
            .args(["--warnings", "-l"])
            .arg(page)
            .env("MANWIDTH", "80")
            .output()
            .expect("run man");
        let text = String::from_utf8_lossy(&out.stdout);
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{}: {warnings}", page.display());
        assert!(warnings.trim().is_empty(), "{}: {warnings}", page.display());
        assert!(
            text.contains("NAME") && text.contains("SYNOPSIS"),
            "{}:\n{text}",
            page.display()
        );
    }
    let main = std::process::Command::new("man")
        .arg("-l")
        .arg(dir.join("docker-credential-ecr.1"))
        .env("MANWIDTH", "200")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&main.stdout);
    for command in [
        "docker-credential-ecr-configure(1)",
        "docker-credential-ecr-doctor(1)",
    ] {
        assert!(text.contains(command), "main page lists {command}:\n{text}");
    }
}

#[test]
fn completion_scripts_are_valid_shell() {
    let env = TestEnv::new();
    let run = env.run(&["completions", "bash"], "");
    assert!(run.success, "{}", run.stderr);
    assert!(run.stdout.contains("configure") && run.stdout.contains("doctor"));
    let script = env.write("completion.bash", &run.stdout);
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let run = env.run(&["completions", shell], "");
        assert!(
            run.success && run.stdout.contains("doctor"),
            "{shell}: {}",
            run.stderr
        );
    }
    let run = env.run(&["completions", "tcsh"], "");
    assert!(!run.success, "unknown shells are refused");
}
