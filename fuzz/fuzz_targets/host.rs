#![no_main]
//! See `docker_credential_ecr::fuzzing::host`.

#[path = "../stdout_guard.rs"]
mod stdout_guard;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    stdout_guard::checked(|| docker_credential_ecr::fuzzing::host(data));
});
