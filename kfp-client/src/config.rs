//! How to reach and authenticate to a KFP API: [`ClientConfig`] and its parts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Error;
use crate::secrets::Secret;

/// Where the projected ServiceAccount token lives inside a Kubeflow pod (CONTRACT §8.1).
pub const IN_CLUSTER_TOKEN_PATH: &str = "/var/run/secrets/kubeflow/pipelines/token";

/// Environment variable holding a bearer token.
pub const ENV_TOKEN: &str = "KFP_TOKEN";
/// Environment variable overriding the token file path.
pub const ENV_TOKEN_PATH: &str = "KF_PIPELINES_SA_TOKEN_PATH";
/// Environment variable holding the Dex user name.
pub const ENV_DEX_USERNAME: &str = "DEX_USERNAME";
/// Environment variable holding the Dex password.
pub const ENV_DEX_PASSWORD: &str = "DEX_PASSWORD";
/// Environment variable choosing the Dex connector (`local` or `ldap`).
pub const ENV_DEX_AUTH_TYPE: &str = "DEX_AUTH_TYPE";

/// Everything [`HttpKfpClient::new`](crate::HttpKfpClient::new) needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL, e.g. `https://kubeflow.example.com/pipeline` or `http://ml-pipeline:8888`; the client appends
    /// `/apis/v1beta1`.
    pub api_url: String,
    /// How to authenticate.
    pub auth: AuthConfig,
    /// TLS settings.
    pub tls: TlsOptions,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Retries of idempotent calls.
    pub retry: RetryPolicy,
    /// Use the `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` environment (default true).
    pub proxy_from_env: bool,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl ClientConfig {
    /// Defaults for `api_url`: no auth, verified TLS, default timeouts and retries.
    pub fn new(api_url: impl Into<String>) -> Self {
        Self {
            api_url: api_url.into(),
            auth: AuthConfig::None,
            tls: TlsOptions::default(),
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            proxy_from_env: true,
            user_agent: format!("kfp-gitops/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Defaults for `api_url` with authentication taken from the environment the way the KFP SDK does:
    /// `KFP_TOKEN`, else `KF_PIPELINES_SA_TOKEN_PATH`, else `DEX_USERNAME`/`DEX_PASSWORD` (`DEX_AUTH_TYPE`),
    /// else the in-cluster token file when it exists, else none.
    pub fn from_env_and(api_url: impl Into<String>) -> Result<Self, Error> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let dex = match (env(ENV_DEX_USERNAME), env(ENV_DEX_PASSWORD)) {
            (Some(username), Some(password)) => Some(DexConfig {
                username,
                password: Secret::new(password),
                auth_type: env(ENV_DEX_AUTH_TYPE)
                    .map(|t| t.parse())
                    .transpose()?
                    .unwrap_or_default(),
            }),
            (None, None) => None,
            _ => {
                return Err(Error::Config(format!(
                    "set both {ENV_DEX_USERNAME} and {ENV_DEX_PASSWORD}, or neither"
                )));
            }
        };
        let auth = AuthConfig::resolve(
            env(ENV_TOKEN).map(Secret::new),
            env(ENV_TOKEN_PATH).map(PathBuf::from),
            dex,
        )?;
        Ok(Self {
            auth,
            ..Self::new(api_url)
        })
    }

    /// Sets the authentication.
    #[must_use]
    pub fn with_auth(mut self, auth: AuthConfig) -> Self {
        self.auth = auth;
        self
    }
}

/// How requests are authenticated.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum AuthConfig {
    /// No credentials (a port-forward to `ml-pipeline`, or a single-user deployment).
    #[default]
    None,
    /// `Authorization: Bearer <token>` with a fixed token.
    Token(Secret),
    /// `Authorization: Bearer <token>` with the token read from a file before each request (the kubelet
    /// rotates projected tokens).
    TokenFile(PathBuf),
    /// Cookie session obtained by logging in to Dex behind oauth2-proxy or oidc-authservice.
    Dex(DexConfig),
}

impl AuthConfig {
    /// Chooses the authentication from what the user gave: at most one of a token, a token file and Dex
    /// credentials; with none of them, the in-cluster token file when it exists, else no authentication.
    pub fn resolve(
        token: Option<Secret>,
        token_file: Option<PathBuf>,
        dex: Option<DexConfig>,
    ) -> Result<Self, Error> {
        Self::resolve_with_default(token, token_file, dex, Path::new(IN_CLUSTER_TOKEN_PATH))
    }

    /// [`AuthConfig::resolve`] with another default token path (for tests and unusual mounts).
    pub fn resolve_with_default(
        token: Option<Secret>,
        token_file: Option<PathBuf>,
        dex: Option<DexConfig>,
        default_token_path: &Path,
    ) -> Result<Self, Error> {
        let given = usize::from(token.is_some())
            + usize::from(token_file.is_some())
            + usize::from(dex.is_some());
        if given > 1 {
            return Err(Error::Config(
                "choose one way to authenticate: a token, a token file, or Dex credentials".into(),
            ));
        }
        Ok(if let Some(token) = token {
            Self::Token(token)
        } else if let Some(path) = token_file {
            Self::TokenFile(path)
        } else if let Some(dex) = dex {
            Self::Dex(dex)
        } else if default_token_path.is_file() {
            Self::TokenFile(default_token_path.to_path_buf())
        } else {
            Self::None
        })
    }

    /// A short description for messages (never the secret).
    pub fn describe(&self) -> String {
        match self {
            Self::None => "no authentication".into(),
            Self::Token(_) => "a bearer token".into(),
            Self::TokenFile(path) => format!("the bearer token in {}", path.display()),
            Self::Dex(dex) => format!("a Dex login as {} ({})", dex.username, dex.auth_type),
        }
    }
}

/// Dex static-password or LDAP login.
#[derive(Debug, Clone, PartialEq)]
pub struct DexConfig {
    /// The login (usually an e-mail address).
    pub username: String,
    /// The password.
    pub password: Secret,
    /// Which Dex connector to pick.
    pub auth_type: DexAuthType,
}

/// The Dex connector used for the login.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DexAuthType {
    /// Static passwords (`/dex/auth/local`).
    #[default]
    Local,
    /// LDAP (`/dex/auth/ldap`).
    Ldap,
}

impl DexAuthType {
    /// The connector id in Dex URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Ldap => "ldap",
        }
    }
}

impl std::fmt::Display for DexAuthType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DexAuthType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "local" => Ok(Self::Local),
            "ldap" => Ok(Self::Ldap),
            other => Err(Error::Config(format!(
                "unknown Dex auth type {other:?}: use `local` or `ldap`"
            ))),
        }
    }
}

/// TLS settings. Certificates are verified against the built-in web PKI roots unless told otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file with the CA certificate(s) to trust instead of the built-in roots.
    pub ca_cert: Option<PathBuf>,
    /// Accept any certificate. Insecure: a warning is logged when the client is built.
    pub skip_verify: bool,
}

/// Timeouts of every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the connection (DNS, TCP, TLS).
    pub connect: Duration,
    /// One whole request: sending it and receiving the complete answer.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(60),
        }
    }
}

/// Retries of transient failures with exponential backoff and jitter. Only idempotent calls are retried on
/// every transient failure (connect errors, timeouts, 429, 502, 503, 504); a create is retried only when the
/// request certainly did not reach the server (connect error): after any other failure it may have been
/// applied, which only a look-up can tell ([`crate::Error::is_ambiguous`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, including the first (1 = no retry).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled for each further one.
    pub initial_backoff: Duration,
    /// Upper bound of one delay.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The delay before retry number `retry` (1-based): `initial * 2^(retry-1)` capped at `max_backoff`, then
    /// "equal jitter": a random point in its upper half, so that concurrent clients spread out.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16));
        let capped = exp.min(self.max_backoff);
        let half = capped / 2;
        let jitter = rand::random_range(0.0..=1.0);
        half + half.mul_f64(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_token_wins_and_two_sources_are_rejected() {
        let none = Path::new("/nonexistent/token");
        let auth =
            AuthConfig::resolve_with_default(Some(Secret::new("t")), None, None, none).unwrap();
        assert_eq!(auth, AuthConfig::Token(Secret::new("t")));
        let err = AuthConfig::resolve_with_default(
            Some(Secret::new("t")),
            Some(PathBuf::from("/x")),
            None,
            none,
        )
        .unwrap_err();
        assert!(err.to_string().contains("choose one way"), "{err}");
    }

    #[test]
    fn in_cluster_token_file_is_used_only_when_present_and_nothing_else_is_configured() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        assert_eq!(
            AuthConfig::resolve_with_default(None, None, None, &path).unwrap(),
            AuthConfig::None
        );
        std::fs::write(&path, "tok").unwrap();
        assert_eq!(
            AuthConfig::resolve_with_default(None, None, None, &path).unwrap(),
            AuthConfig::TokenFile(path.clone())
        );
        let dex = DexConfig {
            username: "u".into(),
            password: Secret::new("p"),
            auth_type: DexAuthType::Ldap,
        };
        assert_eq!(
            AuthConfig::resolve_with_default(None, None, Some(dex.clone()), &path).unwrap(),
            AuthConfig::Dex(dex)
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_stays_in_the_upper_half() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
        };
        for (retry, full) in [(1, 100), (2, 200), (3, 350), (9, 350)] {
            let full = Duration::from_millis(full);
            for _ in 0..20 {
                let delay = policy.backoff(retry);
                assert!(delay >= full / 2 && delay <= full, "{retry}: {delay:?}");
            }
        }
    }

    #[test]
    fn dex_auth_type_parses_local_and_ldap_only() {
        assert_eq!("LDAP".parse::<DexAuthType>().unwrap(), DexAuthType::Ldap);
        assert_eq!("local".parse::<DexAuthType>().unwrap(), DexAuthType::Local);
        assert!("github".parse::<DexAuthType>().is_err());
    }
}
