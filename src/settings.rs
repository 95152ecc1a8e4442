//! Time limits for one run, from the environment and the config file.
//!
//! No client gives a credential helper a deadline (docker, containers/image
//! and BuildKit run us with none; kubelet kills us after 60 s), so we carry
//! our own. Invalid values are errors rather than silent defaults: a typo in
//! a timeout should be seen, not discovered as a hung build.

use std::time::Duration;

use crate::config::Config;

/// Overall budget for one token fetch, in (fractional) seconds.
pub const TIMEOUT_ENV: &str = "DOCKER_CREDENTIAL_ECR_TIMEOUT";

/// Default budget for one fetch: well under kubelet's 60 s, generous for a slow SSO refresh.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// Default per-request IMDS timeout: EC2's IMDS answers in milliseconds; off EC2 it may black-hole.
pub const DEFAULT_IMDS_TIMEOUT: Duration = Duration::from_millis(500);

/// An environment variable with a value we cannot use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{name}={value:?} is not valid: expected {expected}")]
pub struct SettingsError {
    /// The variable.
    pub name: &'static str,
    /// Its value.
    pub value: String,
    /// What would have been accepted.
    pub expected: &'static str,
}

/// The limits that apply to this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Overall budget for one fetch.
    pub timeout: Duration,
    /// Per-request IMDS timeout (`AWS_METADATA_SERVICE_TIMEOUT`, as in the AWS CLI).
    pub imds_timeout: Duration,
    /// IMDS attempts (`AWS_METADATA_SERVICE_NUM_ATTEMPTS`, as in the AWS CLI).
    pub imds_attempts: u32,
}

impl Limits {
    /// Environment first, then the config file, then our defaults.
    pub fn from_env(config: &Config) -> Result<Limits, SettingsError> {
        Limits::from_lookup(config, |k| std::env::var(k).ok())
    }

    fn from_lookup(
        config: &Config,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Limits, SettingsError> {
        let seconds = |name: &'static str| -> Result<Option<Duration>, SettingsError> {
            let Some(value) = get(name).filter(|v| !v.trim().is_empty()) else {
                return Ok(None);
            };
            parse_seconds(&value).map(Some).ok_or(SettingsError {
                name,
                value,
                expected: "a positive number of seconds, e.g. 20 or 0.5",
            })
        };
        let timeout = seconds(TIMEOUT_ENV)?
            .or(config.timeout)
            .unwrap_or(DEFAULT_TIMEOUT);
        let imds_timeout = seconds("AWS_METADATA_SERVICE_TIMEOUT")?.unwrap_or(DEFAULT_IMDS_TIMEOUT);
        let imds_attempts =
            match get("AWS_METADATA_SERVICE_NUM_ATTEMPTS").filter(|v| !v.trim().is_empty()) {
                None => 1,
                Some(value) => match value.trim().parse::<u32>() {
                    Ok(n) if (1..=10).contains(&n) => n,
                    _ => {
                        return Err(SettingsError {
                            name: "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
                            value,
                            expected: "a whole number from 1 to 10",
                        });
                    }
                },
            };
        Ok(Limits {
            timeout,
            imds_timeout,
            imds_attempts,
        })
    }
}

fn parse_seconds(s: &str) -> Option<Duration> {
    let secs: f64 = s.trim().trim_end_matches('s').parse().ok()?;
    (secs.is_finite() && secs > 0.0 && secs <= 3600.0).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(env: &[(&str, &str)], config: &Config) -> Result<Limits, SettingsError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Limits::from_lookup(config, |k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_config_and_env_precedence() {
        let none = Config::default();
        let l = limits(&[], &none).unwrap();
        assert_eq!(l.timeout, DEFAULT_TIMEOUT);
        assert_eq!(l.imds_timeout, DEFAULT_IMDS_TIMEOUT);
        assert_eq!(l.imds_attempts, 1);

        let cfg = Config::parse("timeout = 9", std::path::Path::new("/c.toml")).unwrap();
        assert_eq!(limits(&[], &cfg).unwrap().timeout, Duration::from_secs(9));
        let l = limits(
            &[
                (TIMEOUT_ENV, "0.5"),
                ("AWS_METADATA_SERVICE_TIMEOUT", "2s"),
                ("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "3"),
            ],
            &cfg,
        )
        .unwrap();
        assert_eq!(l.timeout, Duration::from_millis(500));
        assert_eq!(l.imds_timeout, Duration::from_secs(2));
        assert_eq!(l.imds_attempts, 3);
    }

    #[test]
    fn bad_values_are_errors() {
        let none = Config::default();
        for (k, v) in [
            (TIMEOUT_ENV, "soon"),
            (TIMEOUT_ENV, "0"),
            (TIMEOUT_ENV, "-1"),
            (TIMEOUT_ENV, "NaN"),
            ("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "0"),
            ("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "many"),
        ] {
            let e = limits(&[(k, v)], &none).unwrap_err();
            assert_eq!(e.name, k);
            assert!(e.to_string().contains("expected"), "{e}");
        }
    }
}
