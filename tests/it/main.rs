//! Behaviour of the real `docker-credential-ecr` binary, end to end.
//!
//! One test binary (as in ripgrep) so the suite links once. Each test gets a
//! hermetic environment from [`harness`] and, where AWS is involved, its own
//! in-process fake endpoint from [`fake_aws`].

mod fake_aws;
mod harness;

#[cfg(target_os = "linux")]
mod backends;
mod cache;
#[cfg(unix)]
mod configure;
#[cfg(unix)]
mod daemon;
#[cfg(unix)]
mod doctor;
mod fleet;
mod fuzzing;
mod get;
#[cfg(target_os = "linux")]
mod hardening;
mod kubelet;
#[cfg(unix)]
mod logins;
mod moto;
#[cfg(unix)]
mod packaging;
mod protocol;
#[cfg(unix)]
mod shared_runner;
