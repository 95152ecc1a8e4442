//! The real token source: the AWS default credential chain and GetAuthorizationToken.
//!
//! Everything expensive happens here and only here: loading AWS config, the
//! TLS trust store (including `AWS_CA_BUNDLE`), the async runtime and the
//! network. Callers reach this module only after the registry is known to be
//! ECR (and, once cached, only on a cache miss), so a non-ECR `get` or a warm
//! `get` never pays for it.
//!
//! Every step is bounded: the instance metadata service, which stalls for
//! seconds off EC2, gets a short timeout and one attempt; the whole fetch runs
//! under one overall deadline; throttling is retried with the SDK's jittered
//! exponential backoff inside that deadline.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::provider_config::ProviderConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use tracing::debug;

use super::{
    AuthToken, FetchOptions, TokenError, TokenSource, WebIdentity, decode_authorization_token,
};
use crate::one_line;
use crate::registry::{EcrRegistry, RegistryKind};

/// Session name used when assuming a role from our config file, visible in CloudTrail.
const SESSION_NAME: &str = "docker-credential-ecr";

/// Shown in the User-Agent so account owners can tell our calls apart in CloudTrail.
const APP_NAME: &str = "docker-credential-ecr";

/// Exchanges the caller's AWS identity for an ECR token.
#[derive(Debug, Default, Clone, Copy)]
pub struct AwsTokenSource;

impl TokenSource for AwsTokenSource {
    fn fetch(
        &self,
        registry: &EcrRegistry,
        options: &FetchOptions,
    ) -> Result<AuthToken, TokenError> {
        without_panics(|| fetch_blocking(registry, options))
    }
}

/// Turns an SDK panic into an ordinary error with a hint.
///
/// The SDK panics on some environment problems (e.g. no usable root
/// certificates). A credential helper must answer, not crash.
fn without_panics<T>(
    work: impl FnOnce() -> Result<T, TokenError> + std::panic::UnwindSafe,
) -> Result<T, TokenError> {
    std::panic::catch_unwind(work).unwrap_or_else(|payload| {
        let message = crate::panic_message(payload.as_ref());
        let hint = if message.contains("root certificates") {
            "; help: no trusted CA certificates could be loaded: check SSL_CERT_FILE and \
             SSL_CERT_DIR, install ca-certificates, or set AWS_CA_BUNDLE"
        } else {
            ""
        };
        Err(TokenError::Sdk {
            message: one_line(&message),
            hint,
        })
    })
}

fn fetch_blocking(registry: &EcrRegistry, options: &FetchOptions) -> Result<AuthToken, TokenError> {
    shared_files_are_readable()?;
    guarded(options.timeout, fetch(registry, options))
}

/// The SDK reads the shared config and credentials files whole, with no
/// size limit and blocking on a FIFO, even when the credentials come from
/// elsewhere: refuse such a file before it can (`AWS_CONFIG_FILE=/dev/zero`
/// would otherwise eat memory until the deadline).
fn shared_files_are_readable() -> Result<(), TokenError> {
    ProfileFiles::load().map(|_| ())
}

/// Runs one AWS exchange on a throwaway runtime under an overall deadline.
fn guarded<T>(
    timeout: Duration,
    work: impl std::future::Future<Output = Result<T, TokenError>>,
) -> Result<T, TokenError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(TokenError::Runtime)?;
    let result = runtime.block_on(async {
        tokio::time::timeout(timeout, work)
            .await
            .unwrap_or(Err(TokenError::TimedOut { after: timeout }))
    });
    // A credential_process or socket stuck past the deadline must not hold us here.
    runtime.shutdown_timeout(Duration::from_millis(50));
    result
}

async fn fetch(registry: &EcrRegistry, options: &FetchOptions) -> Result<AuthToken, TokenError> {
    let (sdk, credentials_expire_at) = session(registry.api_region(), options).await?;
    let token = match &registry.kind {
        RegistryKind::Private { account_id, .. } => fetch_private(&sdk, registry, account_id).await,
        RegistryKind::Public => fetch_public(&sdk).await,
    }?;
    Ok(AuthToken {
        credentials_expire_at,
        ..token
    })
}

/// The SDK config acting as the principal `get` would use: the chain (or the
/// configured profile), then the configured role if any; and when those
/// credentials expire, if they do.
async fn session(
    region: &str,
    options: &FetchOptions,
) -> Result<(SdkConfig, Option<SystemTime>), TokenError> {
    let region = Region::new(region.to_string());
    let http_client = https_client()?;
    let profile = options
        .profile
        .clone()
        .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()))
        .unwrap_or_else(|| "default".to_string());

    let base = match &options.web_identity {
        Some(identity) => {
            assume_role_with_web_identity(&region, http_client.clone(), options, identity).await?
        }
        None => {
            let files = ProfileFiles::load()?;
            match files
                .in_use(options)
                .and_then(|p| files.mfa(&p).map(|c| (p, c)))
            {
                Some((used, chain)) => {
                    mfa_credentials(&region, http_client.clone(), options, &files, &used, &chain)
                        .await?
                }
                None => resolve_credentials(&region, http_client.clone(), options, &profile)
                    .await
                    .map_err(|e| files.hint(e, options))?,
            }
        }
    };
    debug!(
        region = %region,
        access_key_id = %base.access_key_id(),
        "resolved AWS credentials"
    );

    let mut expiry = base.expiry();
    let mut sdk = sdk_config(&region, http_client.clone(), options, base).await;
    if let Some(role_arn) = &options.role_arn {
        let assumed = assume_role(&sdk, role_arn).await?;
        debug!(role_arn = %role_arn, access_key_id = %assumed.access_key_id(), "assumed role");
        expiry = assumed.expiry();
        sdk = sdk_config(&region, http_client, options, assumed).await;
    }
    Ok((sdk, expiry))
}

/// The shared config and credentials files and the home directory, as the
/// SDK in this process will read them: what tells us, before the SDK tries,
/// that a profile needs an MFA session or an SSO login.
struct ProfileFiles {
    profiles: crate::aws_profile::Profiles,
    home: Option<PathBuf>,
}

impl ProfileFiles {
    fn load() -> Result<ProfileFiles, TokenError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let home = env("HOME").map(PathBuf::from).or_else(dirs::home_dir);
        let (config, credentials) = crate::aws_profile::paths(&env, home.as_deref());
        let read = |path: Option<PathBuf>| -> Result<Option<String>, TokenError> {
            let Some(path) = path else { return Ok(None) };
            crate::safe_fs::read_text_if_exists(&path, crate::safe_fs::READ_LIMIT).map_err(|e| {
                TokenError::CredentialsUnavailable {
                    profile: env("AWS_PROFILE").unwrap_or_else(|| "default".into()),
                    detail: e.to_string(),
                }
            })
        };
        let (config, credentials) = (read(config)?, read(credentials)?);
        Ok(ProfileFiles {
            profiles: crate::aws_profile::Profiles::parse(
                config.as_deref(),
                credentials.as_deref(),
            ),
            home,
        })
    }

    /// The profile the credentials come from, or `None` when the default
    /// chain stops at environment keys first (as the SDK's does).
    fn in_use(&self, options: &FetchOptions) -> Option<String> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(profile) = &options.profile {
            return Some(profile.clone());
        }
        if env("AWS_ACCESS_KEY_ID").is_some() && env("AWS_SECRET_ACCESS_KEY").is_some() {
            return None;
        }
        Some(env("AWS_PROFILE").unwrap_or_else(|| "default".to_string()))
    }

    fn mfa(&self, profile: &str) -> Option<crate::mfa::MfaChain> {
        crate::mfa::find(&self.profiles, profile)
    }

    /// The cached MFA session for `chain`, if its file exists and parses.
    fn mfa_session(
        &self,
        chain: &crate::mfa::MfaChain,
    ) -> Result<Option<crate::mfa::Session>, TokenError> {
        let Some(home) = &self.home else {
            return Ok(None);
        };
        let path = crate::mfa::cache_file(home, chain);
        let text = crate::safe_fs::read_text_if_exists(&path, crate::mfa::SESSION_FILE_LIMIT)
            .map_err(|e| TokenError::CredentialsUnavailable {
                profile: chain.mfa.profile.clone(),
                detail: e.to_string(),
            })?;
        Ok(text.and_then(|t| {
            crate::mfa::parse_session(&t)
                .inspect_err(|e| debug!(path = %path.display(), "unusable MFA session: {e}"))
                .ok()
        }))
    }

    /// A credential failure the files explain: a `source_profile` that
    /// names no profile, or an SSO login that is missing or has expired.
    fn hint(&self, e: TokenError, options: &FetchOptions) -> TokenError {
        if !matches!(
            e,
            TokenError::CredentialsUnavailable { .. } | TokenError::NoCredentials { .. }
        ) {
            return e;
        }
        if let Some(profile) = self.in_use(options)
            && let Some((from, missing)) = self.profiles.missing_source(&profile)
        {
            return TokenError::CredentialsUnavailable {
                profile,
                detail: format!(
                    "profile {from} has source_profile = {missing}, but no profile {missing} \
                     exists in the shared config or credentials file"
                ),
            };
        }
        self.sso_hint(e, options)
    }

    /// The SSO login `profile`'s credentials depend on, and its cached token's state.
    fn sso(&self, profile: &str) -> Option<(crate::sso::SsoLogin, crate::sso::TokenState)> {
        let login = crate::sso::find(&self.profiles, profile)?;
        let home = self.home.as_ref()?;
        let text = login.token_file(home).and_then(|path| {
            crate::safe_fs::read_text_if_exists(&path, crate::safe_fs::READ_LIMIT)
                .ok()
                .flatten()
        });
        let now = crate::cache::entry::epoch(SystemTime::now());
        let state = crate::sso::token_state(text.as_deref(), now);
        Some((login, state))
    }

    /// A credential failure (already known to be one, see [`ProfileFiles::hint`])
    /// of an SSO profile whose token is missing or expired becomes the one
    /// command that fixes it.
    fn sso_hint(&self, e: TokenError, options: &FetchOptions) -> TokenError {
        use crate::sso::TokenState;
        let Some(profile) = self.in_use(options) else {
            return e;
        };
        let Some((login, state)) = self.sso(&profile) else {
            return e;
        };
        let state = match state {
            TokenState::Missing => "has no cached token (not logged in)",
            TokenState::Expired(_) => "has expired",
            TokenState::Unreadable => "has an unreadable cached token",
            TokenState::Valid(_) => return e,
        };
        TokenError::SsoLogin {
            profile,
            state: state.to_string(),
            command: login.command(),
        }
    }
}

/// Credentials for a profile chain that reaches an MFA role: the role
/// session the AWS CLI (or `login`) cached, then the role hops above it.
/// Without a usable session: [`TokenError::MfaRequired`], and no STS call.
async fn mfa_credentials(
    region: &Region,
    http_client: Option<SharedHttpClient>,
    options: &FetchOptions,
    files: &ProfileFiles,
    used: &str,
    chain: &crate::mfa::MfaChain,
) -> Result<Credentials, TokenError> {
    let now = crate::cache::entry::epoch(SystemTime::now());
    let Some(session) = files.mfa_session(chain)?.filter(|s| s.usable(now)) else {
        return Err(TokenError::MfaRequired {
            profile: used.to_string(),
            lasts: crate::mfa::lasts(chain.mfa.duration_seconds),
        });
    };
    debug!(profile = %chain.mfa.profile, "using the cached MFA role session");
    let mut credentials = Credentials::new(
        session.access_key_id,
        session.secret_access_key.expose(),
        Some(session.session_token.expose().clone()),
        Some(std::time::UNIX_EPOCH + Duration::from_secs(session.expiration)),
        "AwsCliCache",
    );
    for hop in &chain.above {
        let sdk = plain_sdk_config(region, http_client.clone(), options, credentials).await;
        let mut builder = aws_config::sts::AssumeRoleProvider::builder(&hop.role_arn)
            .session_name(
                hop.role_session_name
                    .clone()
                    .unwrap_or_else(|| SESSION_NAME.to_string()),
            )
            .configure(&sdk);
        if let Some(id) = &hop.external_id {
            builder = builder.external_id(id);
        }
        if let Some(secs) = hop.duration_seconds.and_then(|d| u64::try_from(d).ok()) {
            builder = builder.session_length(Duration::from_secs(secs));
        }
        credentials = builder
            .build()
            .await
            .provide_credentials()
            .await
            .map_err(|e| TokenError::AssumeRole {
                role_arn: hop.role_arn.clone(),
                detail: one_line(&ErrorChain(&e).to_string()),
            })?;
    }
    Ok(credentials)
}

/// [`sdk_config`] without a profile: for calls whose credentials we already hold.
async fn plain_sdk_config(
    region: &Region,
    http_client: Option<SharedHttpClient>,
    options: &FetchOptions,
    credentials: Credentials,
) -> SdkConfig {
    let options = FetchOptions {
        profile: None,
        ..options.clone()
    };
    sdk_config(region, http_client, &options, credentials).await
}

/// The SSO login the credentials in use depend on, and its token's state
/// (for `doctor`); `Ok(None)` when they do not come from SSO.
pub fn sso_status(
    options: &FetchOptions,
) -> Result<Option<(crate::sso::SsoLogin, crate::sso::TokenState)>, TokenError> {
    let files = ProfileFiles::load()?;
    Ok(files
        .in_use(options)
        .and_then(|profile| files.sso(&profile)))
}

/// What `login` needs to know before it asks for a code.
#[derive(Debug, Clone)]
pub struct MfaProfile {
    /// The profile in use.
    pub profile: String,
    /// Its chain down to the MFA role.
    pub chain: crate::mfa::MfaChain,
    /// Where the session will be cached.
    pub cache_file: PathBuf,
    /// The home directory it is under.
    pub home: PathBuf,
}

/// Whether `profile` (or `AWS_PROFILE`, or `default`) needs an MFA code;
/// `Ok(None)` when it does not. Reads only local files.
pub fn mfa_profile(profile: Option<&str>) -> Result<Option<MfaProfile>, TokenError> {
    let files = ProfileFiles::load()?;
    let profile = profile
        .map(String::from)
        .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()))
        .unwrap_or_else(|| "default".to_string());
    let Some(chain) = files.mfa(&profile) else {
        return Ok(None);
    };
    let Some(home) = files.home else {
        return Err(TokenError::CredentialsUnavailable {
            profile,
            detail: "no home directory for the AWS CLI's session cache: set HOME".to_string(),
        });
    };
    Ok(Some(MfaProfile {
        profile,
        cache_file: crate::mfa::cache_file(&home, &chain),
        chain,
        home,
    }))
}

/// Assumes the MFA role with `code` (honouring the profile's
/// `duration_seconds`, `external_id`, `role_session_name`), using its source
/// credentials, and caches the session where the AWS CLI looks for it (0600).
/// Returns when the session ends (seconds since the epoch).
pub fn mfa_login(target: &MfaProfile, code: &str, timeout: Duration) -> Result<u64, TokenError> {
    let options = FetchOptions {
        profile: None,
        role_arn: None,
        timeout,
        imds_timeout: Duration::from_secs(1),
        imds_attempts: 2,
        web_identity: None,
    };
    let files = ProfileFiles::load()?;
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let region = env("AWS_REGION")
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| {
            files
                .profiles
                .get(&target.chain.mfa.profile, "region")
                .map(String::from)
        })
        .or_else(|| {
            files
                .profiles
                .get(&target.profile, "region")
                .map(String::from)
        })
        .unwrap_or_else(|| "us-east-1".to_string());
    let (session, arn, id) = without_panics(|| {
        guarded(timeout, async {
            let region = Region::new(region);
            let http_client = https_client()?;
            let source = mfa_source(&region, http_client.clone(), &files, target).await?;
            let sdk = plain_sdk_config(&region, http_client, &options, source).await;
            let role = &target.chain.mfa;
            let mut request = aws_sdk_sts::Client::new(&sdk)
                .assume_role()
                .role_arn(&role.role_arn)
                .role_session_name(role.role_session_name.clone().unwrap_or_else(|| {
                    format!(
                        "{SESSION_NAME}-{}",
                        crate::cache::entry::epoch(SystemTime::now())
                    )
                }))
                .serial_number(&target.chain.mfa_serial)
                .token_code(code);
            if let Some(id) = &role.external_id {
                request = request.external_id(id);
            }
            if let Some(secs) = role.duration_seconds {
                request = request.duration_seconds(i32::try_from(secs).unwrap_or(i32::MAX));
            }
            let output = request.send().await.map_err(classify_sts_error)?;
            let c = output.credentials().ok_or(TokenError::EmptyResponse)?;
            let user = output.assumed_role_user();
            Ok((
                crate::mfa::Session {
                    access_key_id: c.access_key_id().to_string(),
                    secret_access_key: crate::secret::Secret::new(
                        c.secret_access_key().to_string(),
                    ),
                    session_token: crate::secret::Secret::new(c.session_token().to_string()),
                    expiration: SystemTime::try_from(*c.expiration())
                        .map(crate::cache::entry::epoch)
                        .unwrap_or(0),
                },
                user.map(|u| u.arn().to_string()).unwrap_or_default(),
                user.map(|u| u.assumed_role_id().to_string())
                    .unwrap_or_default(),
            ))
        })
    })?;
    let unwritable = |e: crate::safe_fs::TrustError| TokenError::CredentialsUnavailable {
        profile: target.profile.clone(),
        detail: format!("cannot cache the session: {}", crate::safe_fs::reason(&e)),
    };
    let dir = crate::mfa::cache_dir(&target.home);
    crate::safe_fs::ensure_own_dir_under(&target.home, &dir).map_err(unwritable)?;
    let text = crate::mfa::session_json(&session, &arn, &id);
    crate::safe_fs::write_atomic(&target.cache_file, text.as_bytes()).map_err(unwritable)?;
    Ok(session.expiration)
}

/// The MFA role's own source credentials: its `source_profile` (resolved by
/// the SDK, which may itself assume roles or use SSO) or `credential_source`.
async fn mfa_source(
    region: &Region,
    http_client: Option<SharedHttpClient>,
    files: &ProfileFiles,
    target: &MfaProfile,
) -> Result<Credentials, TokenError> {
    use aws_config::environment::EnvironmentVariableCredentialsProvider;
    let chain = &target.chain;
    let mut provider_config = ProviderConfig::without_region().with_region(Some(region.clone()));
    if let Some(client) = http_client {
        provider_config = provider_config.with_http_client(client);
    }
    let failed = |detail: String| TokenError::CredentialsUnavailable {
        profile: chain.mfa.profile.clone(),
        detail,
    };
    let result = match (&chain.source_profile, chain.credential_source.as_deref()) {
        (Some(source), _) if *source == chain.mfa.profile => {
            // A profile that is its own source signs with its own keys.
            let get = |k: &str| files.profiles.get(source, k).map(String::from);
            match (get("aws_access_key_id"), get("aws_secret_access_key")) {
                (Some(id), Some(secret)) => Ok(Credentials::new(
                    id,
                    secret,
                    get("aws_session_token"),
                    None,
                    "ProfileFile",
                )),
                _ => return Err(failed(format!("profile {source} has no keys of its own"))),
            }
        }
        (Some(source), _) => {
            if let Some(deeper) = files.mfa(source) {
                return Err(failed(format!(
                    "its source profile {source} needs an MFA code for profile {} too; log in \
                     to that one first",
                    deeper.mfa.profile
                )));
            }
            aws_config::profile::ProfileFileCredentialsProvider::builder()
                .profile_name(source)
                .configure(&provider_config)
                .build()
                .provide_credentials()
                .await
        }
        (None, Some("Environment")) => {
            EnvironmentVariableCredentialsProvider::new()
                .provide_credentials()
                .await
        }
        (None, Some("EcsContainer")) => {
            aws_config::ecs::EcsCredentialsProvider::builder()
                .configure(&provider_config)
                .build()
                .provide_credentials()
                .await
        }
        (None, Some("Ec2InstanceMetadata")) => {
            aws_config::imds::credentials::ImdsCredentialsProvider::builder()
                .configure(&provider_config)
                .build()
                .provide_credentials()
                .await
        }
        (None, other) => {
            return Err(failed(format!(
                "it names neither source_profile nor a known credential_source ({other:?})"
            )));
        }
    };
    result.map_err(|e| classify_credentials_error(&e, &chain.mfa.profile))
}

/// Who AWS says we are (STS GetCallerIdentity), for `doctor` and `configure --region`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The 12-digit account the credentials belong to.
    pub account: String,
    /// The principal's ARN.
    pub arn: String,
}

/// Resolves credentials as `get` would and asks STS whose they are, within `options.timeout`.
pub fn caller_identity(region: &str, options: &FetchOptions) -> Result<CallerIdentity, TokenError> {
    shared_files_are_readable()?;
    let sts_timeout = |e| match e {
        TokenError::TimedOut { after } => TokenError::Sts {
            detail: format!("STS did not answer within {after:?}"),
        },
        other => other,
    };
    without_panics(|| {
        guarded(options.timeout, async {
            let (sdk, _) = session(region, options).await?;
            let output = aws_sdk_sts::Client::new(&sdk)
                .get_caller_identity()
                .send()
                .await
                .map_err(classify_sts_error)?;
            match (output.account(), output.arn()) {
                (Some(account), Some(arn)) => Ok(CallerIdentity {
                    account: account.to_string(),
                    arn: arn.to_string(),
                }),
                _ => Err(TokenError::EmptyResponse),
            }
        })
    })
    .map_err(sts_timeout)
}

/// The HTTPS client for every AWS call: rustls on ring, trusting the system's
/// roots, or only `AWS_CA_BUNDLE` as the AWS CLI and Go SDK do.
///
/// Always set explicitly: the SDK's own default client (feature
/// `default-https-client`, not compiled in) is rustls on aws-lc, which seeds
/// its DRBG with CPU jitter entropy at ~35 ms of CPU per process. ring draws
/// key material from the OS CSPRNG (getrandom(2)), as Go and OpenSSL do.
/// Proxies come from the environment, as with the SDK's default client.
///
/// The Rust SDK does not read `AWS_CA_BUNDLE` itself. We read it here, on the
/// network path only, so a warm or non-ECR `get` never parses certificates.
fn https_client() -> Result<Option<SharedHttpClient>, TokenError> {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};

    let context = match std::env::var_os("AWS_CA_BUNDLE").filter(|p| !p.is_empty()) {
        None => None,
        Some(path) => Some(ca_bundle_context(&path)?),
    };
    let client = aws_smithy_http_client::Builder::new().build_with_connector_fn(
        move |settings, components| {
            let mut builder = aws_smithy_http_client::Connector::builder().tls_provider(
                tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring),
            );
            if let Some(context) = &context {
                builder = builder.tls_context(context.clone());
            }
            builder.set_connector_settings(settings.cloned());
            if let Some(components) = components {
                builder.set_sleep_impl(components.sleep_impl());
            }
            builder.set_proxy_config(Some(ProxyConfig::from_env()));
            builder.build()
        },
    );
    return Ok(Some(client));

    fn ca_bundle_context(path: &std::ffi::OsStr) -> Result<TlsContext, TokenError> {
        let shown = path.to_string_lossy().into_owned();
        // Capped and never blocking: a bundle is a few hundred KiB at most.
        let pem =
            crate::safe_fs::read_limited(std::path::Path::new(path), crate::safe_fs::READ_LIMIT)
                .map_err(|e| TokenError::CaBundle {
                    path: shown.clone(),
                    detail: crate::safe_fs::reason(&e),
                })?;
        if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            return Err(TokenError::CaBundle {
                path: shown,
                detail: "no PEM certificate in the file".to_string(),
            });
        }
        TlsContext::builder()
            .with_trust_store(TrustStore::empty().with_pem_certificate(pem))
            .build()
            .map_err(|e| TokenError::CaBundle {
                path: shown,
                detail: ErrorChain(&e).to_string(),
            })
    }
}

/// Runs the default chain once, with a short-fused IMDS client, and classifies its failure.
async fn resolve_credentials(
    region: &Region,
    http_client: Option<SharedHttpClient>,
    options: &FetchOptions,
    profile: &str,
) -> Result<Credentials, TokenError> {
    let mut provider_config = ProviderConfig::without_region().with_region(Some(region.clone()));
    if let Some(client) = http_client {
        provider_config = provider_config.with_http_client(client);
    }
    let imds = aws_config::imds::Client::builder()
        .configure(&provider_config)
        .connect_timeout(options.imds_timeout)
        .read_timeout(options.imds_timeout)
        .max_attempts(options.imds_attempts.max(1))
        .build();
    let result = match &options.profile {
        // A profile named in our config for this registry is what the user
        // asked for, so it wins over environment keys, unlike AWS_PROFILE.
        Some(name) => {
            aws_config::profile::ProfileFileCredentialsProvider::builder()
                .profile_name(name)
                .configure(&provider_config)
                .build()
                .provide_credentials()
                .await
        }
        None => {
            DefaultCredentialsChain::builder()
                .configure(provider_config)
                .region(region.clone())
                .imds_client(imds)
                .build()
                .await
                .provide_credentials()
                .await
        }
    };
    result.map_err(|e| classify_credentials_error(&e, profile))
}

fn classify_credentials_error(err: &CredentialsError, profile: &str) -> TokenError {
    let detail = one_line(&ErrorChain(err).to_string());
    match err {
        CredentialsError::CredentialsNotLoaded(_) => {
            // The chain's own text lists every provider at length; keep it for debugging.
            debug!(%detail, "credential chain found nothing");
            TokenError::NoCredentials {
                profile: profile.to_string(),
                detail: "environment variables, shared config/credentials files, web identity, \
                         container and instance metadata"
                    .to_string(),
            }
        }
        CredentialsError::ProviderTimedOut(_) => TokenError::CredentialsUnavailable {
            profile: profile.to_string(),
            detail: format!("a credential provider timed out: {detail}"),
        },
        _ => TokenError::CredentialsUnavailable {
            profile: profile.to_string(),
            detail,
        },
    }
}

/// The SDK config for the API call: already-resolved credentials, bounded retries and timeouts.
async fn sdk_config(
    region: &Region,
    http_client: Option<SharedHttpClient>,
    options: &FetchOptions,
    credentials: Credentials,
) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region.clone())
        .app_name(aws_config::AppName::new(APP_NAME).expect("static app name is valid"))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(5)
                .with_initial_backoff(Duration::from_millis(200))
                .with_max_backoff(Duration::from_secs(5)),
        )
        .timeout_config(timeouts(options));
    if let Some(client) = http_client {
        loader = loader.http_client(client);
    }
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

/// Connect within 5 s (or the whole budget, if shorter); finish within the budget.
fn timeouts(options: &FetchOptions) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(options.timeout.min(Duration::from_secs(5)))
        .operation_timeout(options.timeout)
        .build()
}

async fn assume_role(sdk: &SdkConfig, role_arn: &str) -> Result<Credentials, TokenError> {
    let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
        .session_name(SESSION_NAME)
        .configure(sdk)
        .build()
        .await;
    provider
        .provide_credentials()
        .await
        .map_err(|e| TokenError::AssumeRole {
            role_arn: role_arn.to_string(),
            detail: one_line(&ErrorChain(&e).to_string()),
        })
}

/// Exchanges a Kubernetes service-account token for the role's credentials.
///
/// AssumeRoleWithWebIdentity is unsigned, so the node's own credentials are
/// neither needed nor resolved. STS is called in the registry's region (and
/// so its partition), or at `AWS_ENDPOINT_URL_STS`.
async fn assume_role_with_web_identity(
    region: &Region,
    http_client: Option<SharedHttpClient>,
    options: &FetchOptions,
    identity: &WebIdentity,
) -> Result<Credentials, TokenError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region.clone())
        .no_credentials()
        .app_name(aws_config::AppName::new(APP_NAME).expect("static app name is valid"))
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(timeouts(options));
    if let Some(client) = http_client {
        loader = loader.http_client(client);
    }
    let sdk = loader.load().await;
    let failed = |detail: String| TokenError::AssumeRole {
        role_arn: identity.role_arn.clone(),
        detail,
    };
    let output = aws_sdk_sts::Client::new(&sdk)
        .assume_role_with_web_identity()
        .role_arn(&identity.role_arn)
        .role_session_name(&identity.session_name)
        .web_identity_token(identity.token.expose())
        .send()
        .await
        .map_err(|e| {
            // The service's code and message; never the request, which holds the token.
            let code = e.code().unwrap_or("no error code").to_string();
            let message = e
                .message()
                .map(one_line)
                .unwrap_or_else(|| one_line(&ErrorChain(&e).to_string()));
            failed(format!("sts:AssumeRoleWithWebIdentity: {code}: {message}"))
        })?;
    let c = output
        .credentials()
        .ok_or_else(|| failed("STS returned no credentials".to_string()))?;
    Ok(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        SystemTime::try_from(*c.expiration()).ok(),
        "WebIdentity",
    ))
}

/// True when the user pointed the SDK at their own endpoint, which excludes FIPS/dual-stack rules.
fn endpoint_overridden(service_env: &str) -> bool {
    if std::env::var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_ok_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return false;
    }
    ["AWS_ENDPOINT_URL", service_env]
        .iter()
        .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
}

/// (use FIPS, use dual-stack) for the API call: FIPS and dual-stack hosts get matching API
/// endpoints. The SDK refuses FIPS together with a custom endpoint, so an override wins.
fn endpoint_variant(registry: &EcrRegistry) -> (bool, bool) {
    if endpoint_overridden("AWS_ENDPOINT_URL_ECR") {
        (false, false)
    } else {
        (registry.fips, registry.dual_stack)
    }
}

fn ecr_config(sdk: &SdkConfig, registry: &EcrRegistry) -> aws_sdk_ecr::Config {
    let (fips, dual_stack) = endpoint_variant(registry);
    aws_sdk_ecr::config::Builder::from(sdk)
        .use_fips(fips)
        .use_dual_stack(dual_stack)
        .build()
}

async fn fetch_private(
    sdk: &SdkConfig,
    registry: &EcrRegistry,
    account_id: &str,
) -> Result<AuthToken, TokenError> {
    let client = aws_sdk_ecr::Client::from_conf(ecr_config(sdk, registry));
    #[allow(deprecated)]
    // registryIds is deprecated but still selects the account we are asked for.
    let output = client
        .get_authorization_token()
        .registry_ids(account_id)
        .send()
        .await
        .map_err(classify_api_error)?;
    let data = output.authorization_data();
    // Prefer the entry for the account we asked for; ECR returns exactly one today.
    let entry = data
        .iter()
        .find(|d| {
            d.proxy_endpoint()
                .is_some_and(|p| p.contains(&format!("//{account_id}.")))
        })
        .or_else(|| data.first())
        .ok_or(TokenError::EmptyResponse)?;
    let encoded = entry
        .authorization_token()
        .ok_or(TokenError::EmptyResponse)?;
    token_from(encoded, entry.expires_at())
}

async fn fetch_public(sdk: &SdkConfig) -> Result<AuthToken, TokenError> {
    let client = aws_sdk_ecrpublic::Client::new(sdk);
    let output = client
        .get_authorization_token()
        .send()
        .await
        .map_err(classify_api_error)?;
    let data = output
        .authorization_data()
        .ok_or(TokenError::EmptyResponse)?;
    let encoded = data
        .authorization_token()
        .ok_or(TokenError::EmptyResponse)?;
    token_from(encoded, data.expires_at())
}

fn token_from(
    encoded: &str,
    expires_at: Option<&aws_sdk_ecr::primitives::DateTime>,
) -> Result<AuthToken, TokenError> {
    let (username, password) = decode_authorization_token(encoded)?;
    let expires_at = expires_at.and_then(|t| SystemTime::try_from(*t).ok());
    Ok(AuthToken {
        username,
        password,
        expires_at,
        credentials_expire_at: None,
    })
}

/// [`classify_api_error`] for STS: credential problems keep their advice;
/// everything else is said as STS's, since ECR permissions are not the issue.
fn classify_sts_error<E, R>(err: SdkError<E, R>) -> TokenError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match classify_api_error(err) {
        TokenError::Network { detail } => TokenError::Sts {
            detail: format!("could not reach STS: {detail}"),
        },
        TokenError::AccessDenied { detail } => TokenError::Sts {
            detail: format!("access denied by STS: {detail}"),
        },
        TokenError::Throttled { detail } => TokenError::Sts {
            detail: format!("throttled by STS: {detail}; retry later"),
        },
        TokenError::Service { code, detail } => TokenError::Sts {
            detail: format!("STS error {code}: {detail}"),
        },
        other => other,
    }
}

/// Maps an SDK failure to the variant whose message tells the user what to do.
fn classify_api_error<E, R>(err: SdkError<E, R>) -> TokenError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &err {
        SdkError::TimeoutError(_) => {
            return TokenError::Network {
                detail: "the request timed out".to_string(),
            };
        }
        SdkError::DispatchFailure(failure) => {
            let detail = one_line(&ErrorChain(&err).to_string());
            return if failure.is_timeout() {
                TokenError::Network {
                    detail: format!("the request timed out: {detail}"),
                }
            } else {
                TokenError::Network { detail }
            };
        }
        _ => {}
    }
    let code = err.code().unwrap_or_default().to_string();
    let message = err
        .message()
        .map(one_line)
        .unwrap_or_else(|| one_line(&ErrorChain(&err).to_string()));
    match code.as_str() {
        "" => TokenError::Network { detail: message },
        c if c.contains("AccessDenied") => TokenError::AccessDenied { detail: message },
        "ThrottlingException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "LimitExceededException" => TokenError::Throttled { detail: message },
        "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature" => TokenError::CredentialsRejected {
            detail: format!("{code}: {message}"),
        },
        _ => TokenError::Service {
            code,
            detail: message,
        },
    }
}

/// An error and its sources, joined with ": ", using `Display` only.
///
/// The SDK's `DisplayErrorContext` appends the `Debug` form, which is long and
/// repeats the same text; users need the chain of reasons, on one line.
struct ErrorChain<'a, E: ?Sized>(&'a E);

impl<E: std::error::Error + ?Sized> std::fmt::Display for ErrorChain<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut last = self.0.to_string();
        f.write_str(&last)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            let text = err.to_string();
            if !text.is_empty() && !last.contains(&text) {
                write!(f, ": {text}")?;
            }
            last = text;
            source = err.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::canonical_host;
    use crate::registry::parse_host;
    use aws_sdk_ecr::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};

    async fn endpoint_for(host: &str) -> String {
        let registry = parse_host(&canonical_host(host).unwrap()).unwrap();
        let (fips, dual_stack) = endpoint_variant(&registry);
        let params = Params::builder()
            .region(registry.api_region())
            .use_fips(fips)
            .use_dual_stack(dual_stack)
            .build()
            .unwrap();
        DefaultResolver::new()
            .resolve_endpoint(&params)
            .await
            .unwrap()
            .url()
            .to_string()
    }

    #[tokio::test]
    async fn api_endpoint_follows_the_registry_host() {
        if endpoint_overridden("AWS_ENDPOINT_URL_ECR") {
            return; // the developer's environment points the SDK elsewhere
        }
        assert_eq!(
            endpoint_for("123456789012.dkr.ecr.eu-west-1.amazonaws.com").await,
            "https://api.ecr.eu-west-1.amazonaws.com"
        );
        let fips = endpoint_for("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com").await;
        assert!(
            fips.contains("ecr-fips.us-gov-west-1.amazonaws.com"),
            "{fips}"
        );
        assert_eq!(
            endpoint_for("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn").await,
            "https://api.ecr.cn-north-1.amazonaws.com.cn"
        );
        let dual = endpoint_for("123456789012.dkr-ecr.us-west-2.on.aws").await;
        assert!(
            dual.contains("us-west-2") && dual.ends_with(".aws"),
            "{dual}"
        );
    }

    #[test]
    fn one_line_squashes_whitespace() {
        assert_eq!(one_line("a\n  b\tc "), "a b c");
    }
}
