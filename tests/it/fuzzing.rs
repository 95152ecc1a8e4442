//! The fuzz targets' bodies (`docker_credential_ecr::fuzzing`) under plain
//! `cargo test`: every committed corpus and regression input is replayed,
//! and each property runs a bounded number of generated cases, so CI catches
//! a regression without a fuzzer. The long campaign is `scripts/fuzz.sh`.
//!
//! The property cases come from a seeded SplitMix64 generator
//! ([`fuzzing::Gen::seeded`]) rather than proptest: the generator is the one
//! the fuzz targets already use to build structured inputs, it needs no new
//! dependency to compile on CI's two cores, and a failure names its seed, which
//! replays it exactly. Shrinking is what `cargo fuzz tmin` is for.

use std::path::{Path, PathBuf};

use docker_credential_ecr::fuzzing::{self, Gen, TARGETS};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Feeds `file` to `body`, naming the file if it panics.
fn replay(target: &str, body: fn(&[u8]), file: &Path) {
    let data = std::fs::read(file).unwrap();
    if std::panic::catch_unwind(|| body(&data)).is_err() {
        panic!(
            "fuzz target {target} fails on {} (reproduce: cargo fuzz run --sanitizer none {target} {})",
            file.display(),
            file.display()
        );
    }
}

#[test]
fn every_target_replays_its_corpus_and_regressions() {
    let mut replayed = 0;
    for (target, body) in TARGETS {
        let corpus = files(&fuzz_dir().join("corpus").join(target));
        assert!(
            !corpus.is_empty(),
            "fuzz/corpus/{target} has no seed inputs"
        );
        let regressions = files(&fuzz_dir().join("regressions").join(target));
        for file in corpus.iter().chain(&regressions) {
            replay(target, *body, file);
            replayed += 1;
        }
    }
    assert!(replayed > 0);
}

/// `cargo fuzz` builds what `fuzz/Cargo.toml` lists: one wrapper per body, no more, no less.
#[test]
fn every_target_has_a_cargo_fuzz_wrapper() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let wrappers = files(&fuzz_dir().join("fuzz_targets"));
    assert_eq!(wrappers.len(), TARGETS.len(), "{wrappers:?}");
    for (target, _) in TARGETS {
        let wrapper = fuzz_dir().join(format!("fuzz_targets/{target}.rs"));
        let text = std::fs::read_to_string(&wrapper)
            .unwrap_or_else(|e| panic!("{}: {e}", wrapper.display()));
        assert!(
            text.contains("docker_credential_ecr::fuzzing::")
                && text.contains("stdout_guard::checked"),
            "{} must call its body through the stdout guard",
            wrapper.display()
        );
        assert!(
            manifest.contains(&format!(
                "name = \"{target}\"\npath = \"fuzz_targets/{target}.rs\""
            )),
            "fuzz/Cargo.toml has no [[bin]] for {target}"
        );
    }
}

#[test]
fn property_configure_then_remove_gives_the_bytes_back() {
    let mut parsed = 0;
    for seed in 0..3000 {
        let text = fuzzing::json_document(&mut Gen::seeded(seed));
        if serde_json::from_str::<serde_json::Value>(text.trim()).is_ok() {
            parsed += 1;
        }
        if std::panic::catch_unwind(|| fuzzing::check_configure_round_trip(&text)).is_err() {
            panic!("seed {seed}: {text:?}");
        }
    }
    // The generator must make valid documents, or the property tests nothing.
    assert_eq!(parsed, 3000);
}

#[test]
fn property_wire_encode_decode_is_the_identity() {
    for seed in 0..3000 {
        if std::panic::catch_unwind(|| fuzzing::check_wire_round_trip(&mut Gen::seeded(seed)))
            .is_err()
        {
            panic!("seed {seed}");
        }
    }
}

#[test]
fn property_host_canonicalisation_is_idempotent() {
    const PARTS: &[&[&str]] = &[
        &["", "https://", "http://", "HTTPS://", "ftp://", "//"],
        &["", "user@", "u:p@", "@"],
        &[
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.DKR-ECR-FIPS.us-gov-west-1.amazonaws.com",
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
            "public.ecr.aws",
            "ECR-PUBLIC.aws.com",
            "[::1]",
            "docker.io",
            "",
            "é.example",
        ],
        &["", ".", ".."],
        &["", ":443", ":5000", ":", ":123456", ":x"],
        &["", "/", "/v2/", "?q", "#f", " \n"],
    ];
    for seed in 0..5000 {
        let g = &mut Gen::seeded(seed);
        let text: String = PARTS.iter().map(|choices| g.pick(choices)).collect();
        if std::panic::catch_unwind(|| fuzzing::host(text.as_bytes())).is_err() {
            panic!("seed {seed}: {text:?}");
        }
    }
}

#[test]
fn property_random_bytes_never_break_a_parser() {
    for (target, body) in TARGETS {
        for seed in 0..300 {
            let g = &mut Gen::seeded(seed);
            let len = g.below(200);
            let data: Vec<u8> = (0..len).map(|_| g.byte()).collect();
            if std::panic::catch_unwind(|| body(&data)).is_err() {
                panic!("{target}, seed {seed}: {data:?}");
            }
        }
    }
}
