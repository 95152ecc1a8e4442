//! Diagnostics on stderr, quiet unless asked for.
//!
//! stdout belongs to the protocol: a stray log line there turns into a hard
//! error in skopeo and podman. So the subscriber writes to stderr only, is off
//! below `warn` by default, and is configured by one variable,
//! `DOCKER_CREDENTIAL_ECR_LOG` (`error`…`trace`, or `target=level` directives).
//! Secrets never reach it: tokens are wrapped in [`crate::secret::Secret`],
//! and the AWS SDK redacts credentials in its own `Debug` output.

use std::str::FromStr;

use tracing::Level;
use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets, filter_fn};
use tracing_subscriber::prelude::*;

/// Environment variable selecting the log level or directives.
pub const LOG_ENV: &str = "DOCKER_CREDENTIAL_ECR_LOG";

/// Installs the stderr logger; an unusable `DOCKER_CREDENTIAL_ECR_LOG` is reported, not fatal.
///
/// `ours` is our own level when the variable is unset (`warn` for the
/// helper, `info` for the daemon, whose log is its only record).
pub fn init(ours: Level) {
    let value = std::env::var(LOG_ENV).unwrap_or_default();
    let (filter, problem) = match parse_filter(&value, ours) {
        Ok(filter) => (filter, None),
        Err(()) => (default_filter(ours), Some(value)),
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(true);
    // Fails only if a subscriber is already set, which is fine to ignore.
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter.and(filter_fn(|meta| {
            !leaks_secrets(meta.target(), *meta.level())
        }))))
        .try_init();
    if let Some(value) = problem {
        tracing::warn!(
            "{LOG_ENV}={value:?} is not a log level (error, warn, info, debug, trace) or target=level list; using warn"
        );
    }
}

/// Our warnings, and only errors from the SDK: it warns about things that are
/// normal for a credential helper (e.g. `AWS_CONFIG_FILE` naming a missing file).
fn default_filter(ours: Level) -> Targets {
    Targets::new()
        .with_default(LevelFilter::ERROR)
        .with_target("docker_credential_ecr", LevelFilter::from_level(ours))
}

/// The SDK's orchestrator logs whole responses at trace level, and ECR's model
/// does not mark `authorizationToken` as sensitive, so that would print the
/// token. Those events are dropped whatever level the user asks for.
fn leaks_secrets(target: &str, level: Level) -> bool {
    level == Level::TRACE
        && (target.starts_with("aws_smithy_runtime") || target.starts_with("aws_sdk_"))
}

fn parse_filter(value: &str, ours: Level) -> Result<Targets, ()> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(default_filter(ours));
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

    #[test]
    fn levels_and_directives() {
        let f = parse_filter("", Level::WARN).unwrap();
        assert!(f.would_enable("docker_credential_ecr", &Level::WARN));
        assert!(!f.would_enable("docker_credential_ecr", &Level::INFO));
        assert!(!f.would_enable("aws_runtime::env_config", &Level::WARN));
        let f = parse_filter("debug", Level::WARN).unwrap();
        assert!(f.would_enable("aws_config", &Level::DEBUG));
        let f = parse_filter("docker_credential_ecr=trace,aws_config=info", Level::WARN).unwrap();
        assert!(f.would_enable("docker_credential_ecr::token", &Level::TRACE));
        assert!(!f.would_enable("aws_config", &Level::DEBUG));
        assert!(parse_filter("loud!", Level::WARN).is_err());
        assert!(leaks_secrets(
            "aws_smithy_runtime::client::orchestrator",
            Level::TRACE
        ));
        assert!(!leaks_secrets(
            "aws_smithy_runtime::client::orchestrator",
            Level::DEBUG
        ));
        assert!(!leaks_secrets("docker_credential_ecr", Level::TRACE));
    }
}
