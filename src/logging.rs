//! Diagnostics on stderr, quiet unless asked for.
//!
//! stdout belongs to the protocol: a stray log line there turns into a hard
//! error in skopeo and podman. So the subscriber writes to stderr only, is off
//! below `warn` by default, and is configured by one variable,
//! `DOCKER_CREDENTIAL_ECR_LOG` (`error`…`trace`, or `target=level` directives).
//! Secrets never reach it: tokens are wrapped in [`crate::secret::Secret`],
//! and the AWS SDK redacts credentials in its own `Debug` output.

use std::str::FromStr;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

/// Environment variable selecting the log level or directives.
pub const LOG_ENV: &str = "DOCKER_CREDENTIAL_ECR_LOG";

/// Installs the stderr logger; an unusable `DOCKER_CREDENTIAL_ECR_LOG` is reported, not fatal.
pub fn init() {
    let value = std::env::var(LOG_ENV).unwrap_or_default();
    let (filter, problem) = match parse_filter(&value) {
        Ok(filter) => (filter, None),
        Err(()) => (default_filter(), Some(value)),
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(true);
    // Fails only if a subscriber is already set, which is fine to ignore.
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init();
    if let Some(value) = problem {
        tracing::warn!(
            "{LOG_ENV}={value:?} is not a log level (error, warn, info, debug, trace) or target=level list; using warn"
        );
    }
}

fn default_filter() -> Targets {
    Targets::new().with_default(LevelFilter::WARN)
}

fn parse_filter(value: &str) -> Result<Targets, ()> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(default_filter());
    }
    if let Ok(level) = LevelFilter::from_str(value) {
        return Ok(Targets::new().with_default(level));
    }
    // `Targets` would read a bare word as "this target at trace"; we only take
    // levels and `target=level` pairs, so a typo is reported instead.
    let all_directives = value
        .split(',')
        .all(|part| part.contains('=') || LevelFilter::from_str(part.trim()).is_ok());
    if !all_directives {
        return Err(());
    }
    Targets::from_str(value).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn levels_and_directives() {
        let f = parse_filter("").unwrap();
        assert!(f.would_enable("docker_credential_ecr", &Level::WARN));
        assert!(!f.would_enable("docker_credential_ecr", &Level::INFO));
        let f = parse_filter("debug").unwrap();
        assert!(f.would_enable("aws_config", &Level::DEBUG));
        let f = parse_filter("docker_credential_ecr=trace,aws_config=info").unwrap();
        assert!(f.would_enable("docker_credential_ecr::token", &Level::TRACE));
        assert!(!f.would_enable("aws_config", &Level::DEBUG));
        assert!(parse_filter("loud!").is_err());
    }
}
