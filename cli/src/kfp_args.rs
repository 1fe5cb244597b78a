//! The connection, authentication and TLS options shared by every command that talks to the KFP API.
//!
//! Secrets are taken from the environment (`KFP_TOKEN`, `DEX_PASSWORD`), so that they do not show up in shell
//! history or the process list. The one exception is the reference scripts' hidden `--dex-password`, accepted
//! with a warning (`legacy.rs`) and held as a [`Secret`] from the moment it is parsed, like the variable.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use kfp_client::{
    AuthConfig, ClientConfig, DexAuthType, DexConfig, ENV_DEX_PASSWORD, ENV_TOKEN, HttpKfpClient,
    Secret, Timeouts, TlsOptions,
};

use crate::args::GlobalArgs;
use crate::failure::Failure;

/// How to reach and authenticate to KFP.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "KFP connection")]
pub struct KfpArgs {
    /// File with a bearer token, re-read before every request [default: the in-cluster token
    /// /var/run/secrets/kubeflow/pipelines/token when it exists]. A token itself is read from KFP_TOKEN.
    #[arg(long, env = "KF_PIPELINES_SA_TOKEN_PATH", value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// Log in to Dex (behind oauth2-proxy or oidc-authservice) as this user; the password is read from
    /// DEX_PASSWORD
    #[arg(long, env = "DEX_USERNAME", value_name = "USER")]
    pub dex_username: Option<String>,

    /// The reference scripts' `--dex-password`: accepted with a warning, DEX_PASSWORD is the way
    #[arg(long, hide = true, value_name = "PASSWORD", value_parser = secret_arg)]
    pub dex_password: Option<Secret>,

    /// The Dex connector to log in with
    #[arg(
        long,
        env = "DEX_AUTH_TYPE",
        value_name = "TYPE",
        default_value = "local"
    )]
    pub dex_auth_type: DexAuthTypeArg,

    /// PEM file with the certificate(s) of a private CA to trust for the API's TLS certificate
    #[arg(long, env = "KFP_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,

    /// Do not verify the API's TLS certificate (insecure; for test clusters only)
    #[arg(long, env = "KFP_SKIP_TLS_VERIFY")]
    pub skip_tls_verify: bool,

    /// Time allowed to connect to the API, e.g. `10s`
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,

    /// Time allowed for one API request, e.g. `60s` or `2m`
    #[arg(long, env = "KFP_REQUEST_TIMEOUT", value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub request_timeout: Duration,
}

/// `--dex-auth-type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DexAuthTypeArg {
    /// Dex static passwords
    Local,
    /// Dex LDAP connector
    Ldap,
}

impl From<DexAuthTypeArg> for DexAuthType {
    fn from(arg: DexAuthTypeArg) -> Self {
        match arg {
            DexAuthTypeArg::Local => Self::Local,
            DexAuthTypeArg::Ldap => Self::Ldap,
        }
    }
}

/// A secret given on the command line, wrapped at once so that it never shows in `Debug`.
fn secret_arg(text: &str) -> Result<Secret, String> {
    Ok(Secret::new(text))
}

/// Parses `90`, `90s`, `5m`, `1h30m`, `2 minutes` (jiff's friendly duration format; a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let signed: jiff::SignedDuration = text
        .parse()
        .map_err(|err| format!("{text:?} is not a duration like `30s`, `5m` or `1h30m`: {err}"))?;
    Duration::try_from(signed).map_err(|_| format!("{text:?} must not be negative"))
}

/// The value of the secret environment variable `name`, which must be UTF-8 text.
fn utf8_secret<'a>(name: &str, value: &'a std::ffi::OsStr) -> Result<&'a str, Failure> {
    value.to_str().ok_or_else(|| {
        Failure::new(format!("{name} is set but is not UTF-8 text")).hint(format!(
            "set {name} to the token or password itself (UTF-8), or unset it"
        ))
    })
}

impl KfpArgs {
    /// The client configuration, with secrets from the process environment.
    /// A secret that is set but not UTF-8 is an error, not silently ignored.
    pub fn client_config(&self, global: &GlobalArgs) -> Result<ClientConfig, Failure> {
        for name in [ENV_TOKEN, ENV_DEX_PASSWORD] {
            if let Some(value) = std::env::var_os(name) {
                utf8_secret(name, &value)?;
            }
        }
        self.client_config_with_env(global, |name| std::env::var(name).ok())
    }

    /// [`KfpArgs::client_config`] with the environment given as a lookup function.
    pub fn client_config_with_env(
        &self,
        global: &GlobalArgs,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ClientConfig, Failure> {
        let api_url = global.api_url.clone().filter(|u| !u.trim().is_empty()).ok_or_else(|| {
            Failure::new("no KFP API URL given").hint(
                "pass --api-url (or set KFP_API_URL), e.g. https://kubeflow.example.com/pipeline through the \
                 gateway, or http://localhost:8888 with `kubectl port-forward svc/ml-pipeline 8888`",
            )
        })?;
        let env = |name: &str| env(name).filter(|v| !v.is_empty());
        let password = self
            .dex_password
            .clone()
            .filter(|password| !password.is_empty())
            .or_else(|| env(ENV_DEX_PASSWORD).map(Secret::new));
        let dex = match (&self.dex_username, password) {
            (Some(username), Some(password)) => Some(DexConfig {
                username: username.clone(),
                password,
                auth_type: self.dex_auth_type.into(),
            }),
            (Some(username), None) => {
                return Err(Failure::new(format!("no Dex password for {username}"))
                    .hint("set DEX_PASSWORD in the environment"));
            }
            (None, Some(_)) => {
                return Err(
                    Failure::new("a Dex password is given (DEX_PASSWORD) but no Dex user")
                        .hint("set DEX_USERNAME or pass --dex-username"),
                );
            }
            (None, None) => None,
        };
        let token = env(ENV_TOKEN).map(Secret::new);
        let auth = AuthConfig::resolve(token, self.token_file.clone(), dex).map_err(|err| {
            Failure::from(err).hint(
                "KFP_TOKEN, --token-file (KF_PIPELINES_SA_TOKEN_PATH) and --dex-username (DEX_USERNAME) are \
                 alternatives: unset all but one",
            )
        })?;
        let mut config = ClientConfig::new(api_url).with_auth(auth);
        config.tls = TlsOptions {
            ca_cert: self.ca_cert.clone(),
            skip_verify: self.skip_tls_verify,
        };
        config.timeouts = Timeouts {
            connect: self.connect_timeout,
            request: self.request_timeout,
        };
        Ok(config)
    }

    /// A ready client for the API of `global.api_url`.
    pub fn client(&self, global: &GlobalArgs) -> Result<HttpKfpClient, Failure> {
        HttpKfpClient::new(self.client_config(global)?).map_err(Failure::from)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct TestCli {
        #[command(flatten)]
        global: GlobalArgs,
        #[command(flatten)]
        kfp: KfpArgs,
    }

    fn parse(args: &[&str]) -> TestCli {
        TestCli::try_parse_from(std::iter::once("kfp-gitops").chain(args.iter().copied())).unwrap()
    }

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn dex_login_takes_the_password_from_the_environment() {
        let cli = parse(&[
            "--api-url",
            "https://h/pipeline",
            "--dex-username",
            "u@x",
            "--dex-auth-type",
            "ldap",
        ]);
        let config = cli
            .kfp
            .client_config_with_env(&cli.global, env_of(&[("DEX_PASSWORD", "pw")]))
            .unwrap();
        match config.auth {
            AuthConfig::Dex(dex) => {
                assert_eq!(dex.username, "u@x");
                assert_eq!(dex.password.expose(), "pw");
                assert_eq!(dex.auth_type, DexAuthType::Ldap);
            }
            other => panic!("{other:?}"),
        }
        let failure = cli
            .kfp
            .client_config_with_env(&cli.global, env_of(&[]))
            .unwrap_err();
        assert_eq!(failure.message, "no Dex password for u@x");
    }

    #[test]
    fn the_reference_scripts_dex_password_flag_wins_over_the_environment_and_stays_secret() {
        let cli = parse(&[
            "--api-url",
            "https://h/pipeline",
            "--dex-username",
            "user1@example.com",
            "--dex-password",
            "from-flag",
        ]);
        assert!(!format!("{cli:?}").contains("from-flag"), "{cli:?}");
        let config = cli
            .kfp
            .client_config_with_env(&cli.global, env_of(&[("DEX_PASSWORD", "from-env")]))
            .unwrap();
        match config.auth {
            AuthConfig::Dex(dex) => assert_eq!(dex.password.expose(), "from-flag"),
            other => panic!("{other:?}"),
        }
        let without_user = parse(&["--api-url", "https://h", "--dex-password", "pw"]);
        let failure = without_user
            .kfp
            .client_config_with_env(&without_user.global, env_of(&[]))
            .unwrap_err();
        assert!(
            failure.message.contains("no Dex user"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn token_from_the_environment_conflicts_with_a_token_file() {
        let cli = parse(&["--api-url", "http://h", "--token-file", "/tmp/tok"]);
        let failure = cli
            .kfp
            .client_config_with_env(&cli.global, env_of(&[("KFP_TOKEN", "t")]))
            .unwrap_err();
        assert!(failure.hint.unwrap().contains("alternatives"));
    }

    #[test]
    fn a_missing_api_url_says_how_to_give_one() {
        let cli = parse(&[]);
        let failure = cli
            .kfp
            .client_config_with_env(&cli.global, env_of(&[]))
            .unwrap_err();
        assert_eq!(failure.message, "no KFP API URL given");
        assert!(failure.hint.unwrap().contains("--api-url"));
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_that_is_not_utf8_is_an_error() {
        use std::os::unix::ffi::OsStrExt;
        let value = std::ffi::OsStr::from_bytes(b"tok\xff");
        let failure = utf8_secret("KFP_TOKEN", value).unwrap_err();
        assert_eq!(failure.message, "KFP_TOKEN is set but is not UTF-8 text");
        assert_eq!(
            utf8_secret("KFP_TOKEN", std::ffi::OsStr::new("tok")).unwrap(),
            "tok"
        );
    }

    #[test]
    fn durations_accept_seconds_and_friendly_units() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-5s").is_err());
    }

    #[test]
    fn timeouts_and_tls_flags_reach_the_client_config() {
        let cli = parse(&[
            "--api-url",
            "https://h",
            "--skip-tls-verify",
            "--connect-timeout",
            "3s",
            "--request-timeout",
            "2m",
        ]);
        let config = cli
            .kfp
            .client_config_with_env(&cli.global, env_of(&[]))
            .unwrap();
        assert!(config.tls.skip_verify);
        assert_eq!(config.timeouts.connect, Duration::from_secs(3));
        assert_eq!(config.timeouts.request, Duration::from_secs(120));
    }
}
