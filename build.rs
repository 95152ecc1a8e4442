//! Link settings for the `docker-credential-ecr` binary, applied by every build
//! route (`cargo build`, `cargo install`, install.sh, distribution packagers),
//! because a build script is the one place all of them run.
//!
//! On Linux with glibc the binary is linked statically and not as PIE: a warm
//! `get` is a process that starts, reads one file and exits, thousands of times
//! a day, and most of its cost is start-up. A dynamic PIE spends it in the
//! dynamic loader: ~33,500 relative relocations, libc and libgcc_s mapped and
//! bound, about twice the page faults of a static non-PIE binary
//! (docs/benchmarks.md has the measured rows).
//!
//! Rust's own switch for this (`-C target-feature=+crt-static`) is a RUSTFLAGS
//! setting: it cannot come from a build script, and without an explicit
//! `--target` it also reaches proc macros, which then fail to build. So the
//! static link is done at the linker, for the binary alone
//! (`cargo:rustc-link-arg-bins`):
//! - `-static -no-pie`: the C driver's static start files, no interpreter;
//! - rustc asks for the system libraries as shared ones (`-Bdynamic -lgcc_s
//!   -lc -lm ...`); linker scripts in OUT_DIR under those names point at the
//!   static archives instead (glibc's own `libc.so` is such a script).
//!
//! The result is what `+crt-static` produces for the same code. Before using
//! it, the build links and runs a small C program the same way; if that fails
//! (no `libc.a`, a cross build, another toolchain) the binary is linked
//! dynamically without PIE, and failing that, left as it is.
//!
//! `DOCKER_CREDENTIAL_ECR_LINK` chooses: `static` (default), `no-pie` (dynamic,
//! not PIE) or `default` (whatever rustc does: a dynamic PIE). Packagers whose
//! policy forbids static glibc set `no-pie`; `install.sh --dynamic` does too.
//! A static glibc binary resolves host names through /etc/hosts and DNS (both
//! built into glibc >= 2.34) but loads no other NSS modules.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DOCKER_CREDENTIAL_ECR_LINK");
    git_commit();

    let var = |name: &str| env::var(name).unwrap_or_default();
    let linux_gnu = var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu";
    // RUSTFLAGS with +crt-static already link statically; nothing to add.
    let crt_static = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    // The probe runs what it links, so only for a native build.
    let native = var("TARGET") == var("HOST");
    if !linux_gnu || crt_static {
        return;
    }
    let wanted = env::var("DOCKER_CREDENTIAL_ECR_LINK").unwrap_or_else(|_| "static".into());
    let out = PathBuf::from(var("OUT_DIR"));
    // The linker rustc will call: the configured one (cargo passes it on), else `cc`.
    let cc = env::var("RUSTC_LINKER").unwrap_or_else(|_| "cc".into());

    let chosen = match wanted.as_str() {
        "default" | "pie" | "dynamic-pie" => "default",
        "static" if native && static_link_works(&cc, &out) => "static",
        "static" | "no-pie" if native && probe(&cc, &out, &["-no-pie"], "no-pie") => "no-pie",
        "static" | "no-pie" => "default",
        other => {
            panic!("DOCKER_CREDENTIAL_ECR_LINK={other}: expected `static`, `no-pie` or `default`")
        }
    };
    if chosen != wanted {
        println!(
            "cargo:warning=docker-credential-ecr: DOCKER_CREDENTIAL_ECR_LINK={wanted} is not \
             possible with this toolchain or target; linking `{chosen}` (see build.rs)"
        );
    }
    match chosen {
        "static" => {
            println!("cargo:rustc-link-arg-bins=-static");
            println!("cargo:rustc-link-arg-bins=-no-pie");
            println!(
                "cargo:rustc-link-arg-bins=-L{}",
                out.join("static").display()
            );
        }
        "no-pie" => println!("cargo:rustc-link-arg-bins=-no-pie"),
        _ => {}
    }
}

/// Writes the linker scripts that turn rustc's shared system libraries into
/// static archives, then checks that a program linked that way runs.
fn static_link_works(cc: &str, out: &Path) -> bool {
    let Some(libc) = archive(cc, "libc.a") else {
        return false;
    };
    let Some(libgcc) = archive(cc, "libgcc.a") else {
        return false;
    };
    let Some(libgcc_eh) = archive(cc, "libgcc_eh.a") else {
        return false;
    };
    let dir = out.join("static");
    if fs::create_dir_all(&dir).is_err() {
        return false;
    }
    let mut scripts = vec![
        (
            "libc.so".to_string(),
            format!("GROUP({libc} {libgcc} {libgcc_eh})\n"),
        ),
        // Unwinding (panics are caught, not aborted) comes from libgcc_eh.
        ("libgcc_s.so".to_string(), format!("INPUT({libgcc_eh})\n")),
    ];
    // Merged into libc since glibc 2.34; the archives may be empty stubs.
    for name in ["m", "util", "rt", "pthread", "dl"] {
        let contents = match archive(cc, &format!("lib{name}.a")) {
            Some(path) => format!("INPUT({path})\n"),
            None => format!("INPUT({libc})\n"),
        };
        scripts.push((format!("lib{name}.so"), contents));
    }
    for (name, contents) in scripts {
        if fs::write(dir.join(name), contents).is_err() {
            return false;
        }
    }
    let search = format!("-L{}", dir.display());
    // The same shape as rustc's link line: shared-library requests, no default libs.
    probe(
        cc,
        out,
        &[
            "-static",
            "-no-pie",
            "-nodefaultlibs",
            &search,
            "-Wl,-Bdynamic",
            "-lgcc_s",
            "-lm",
            "-lpthread",
            "-lc",
        ],
        "static",
    )
}

/// The absolute path of a static archive the C compiler links, if it has one.
fn archive(cc: &str, name: &str) -> Option<String> {
    let output = Command::new(cc)
        .arg(format!("-print-file-name={name}"))
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    // Not found: the compiler echoes the bare name back.
    if !path.is_absolute() || !path.is_file() {
        return None;
    }
    // Linker scripts take paths without spaces or parentheses unquoted.
    let path = fs::canonicalize(path).ok()?.to_str()?.to_string();
    (!path.contains([' ', '(', ')', '"'])).then_some(path)
}

/// Links a small C program with `args` and runs it; true if it printed its answer.
fn probe(cc: &str, out: &Path, args: &[&str], name: &str) -> bool {
    let source = out.join(format!("probe-{name}.c"));
    let program = out.join(format!("probe-{name}"));
    let code = "#include <stdio.h>\nint main(void) { puts(\"linked\"); return 0; }\n";
    if fs::write(&source, code).is_err() {
        return false;
    }
    let linked = Command::new(cc)
        .arg(&source)
        .arg("-o")
        .arg(&program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    linked
        && Command::new(&program)
            .output()
            .is_ok_and(|o| o.status.success() && o.stdout == b"linked\n")
}

/// The commit the binary is built from, for the `-v` banner the Go helper's
/// users may parse (`Git commit:`): `DOCKER_CREDENTIAL_ECR_GIT_COMMIT` (for
/// packagers building from a tarball), else `git` when building in a checkout,
/// else "unknown". Rebuilt when HEAD moves, so the banner is never stale.
fn git_commit() {
    println!("cargo:rerun-if-env-changed=DOCKER_CREDENTIAL_ECR_GIT_COMMIT");
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let commit = env::var("DOCKER_CREDENTIAL_ECR_GIT_COMMIT")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
            // HEAD names a branch whose ref moves with each commit; watch both.
            for path in ["HEAD", "packed-refs"] {
                if let Some(p) = git(&["rev-parse", "--path-format=absolute", "--git-path", path]) {
                    println!("cargo:rerun-if-changed={p}");
                }
            }
            let branch = git(&["symbolic-ref", "-q", "HEAD"]);
            if let Some(p) = branch.and_then(|branch| {
                git(&["rev-parse", "--path-format=absolute", "--git-path", &branch])
            }) {
                println!("cargo:rerun-if-changed={p}");
            }
            Some(commit)
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=DOCKER_CREDENTIAL_ECR_GIT_COMMIT={commit}");
}
