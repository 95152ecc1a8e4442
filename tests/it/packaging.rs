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
        "docker-credential-ecr-login.1",
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

/// The cold-path fix cannot regress silently: the binary every build route
/// ships links no aws-lc CPU jitter entropy (`jent_*`, ~35 ms of CPU per
/// process that opens a TLS connection). Test builds keep their symbols.
#[test]
fn binary_has_no_jitter_entropy_code() {
    let bytes = std::fs::read(crate::harness::BIN).expect("read the binary");
    assert!(
        !bytes.windows(5).any(|w| w == b"jent_"),
        "{} contains jent_* (aws-lc's jitter entropy): TLS must stay on rustls' ring provider \
         (Cargo.toml, src/token/aws.rs https_client)",
        crate::harness::BIN
    );
}

/// build.rs links the binary statically and not as PIE on Linux/glibc, for
/// every build route (a warm `get` is mostly process start-up).
#[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
#[test]
fn binary_is_static_and_not_pie_on_glibc() {
    // A build that asked for another link (build.rs) is not checked.
    if !matches!(
        option_env!("DOCKER_CREDENTIAL_ECR_LINK"),
        None | Some("static")
    ) {
        return;
    }
    let elf = std::fs::read(crate::harness::BIN).expect("read the binary");
    assert_eq!(&elf[..4], b"\x7fELF");
    let u16_at = |at: usize| u16::from_le_bytes(elf[at..at + 2].try_into().unwrap());
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().unwrap());
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap());
    // e_type 2 = ET_EXEC (fixed addresses); a PIE is ET_DYN (3).
    assert_eq!(
        u16_at(16),
        2,
        "the binary is a PIE (ET_DYN), expected ET_EXEC"
    );
    let (phoff, phentsize, phnum) = (u64_at(32) as usize, u16_at(54) as usize, u16_at(56));
    for i in 0..phnum as usize {
        let p_type = u32_at(phoff + i * phentsize);
        // PT_DYNAMIC (2) or PT_INTERP (3): the dynamic loader would run.
        assert!(
            p_type != 2 && p_type != 3,
            "the binary is dynamically linked (program header type {p_type})"
        );
    }
}
