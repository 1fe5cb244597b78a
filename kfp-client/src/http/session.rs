//! The login session of the client: the configured authentication, the bearer token (re-read from a token
//! file when it changed), the Dex login and its one re-login, and the not-authenticated error with its hint.

use super::*;

pub(super) enum Auth {
    None,
    Token(Secret),
    TokenFile {
        path: PathBuf,
        last_hash: Mutex<Option<u64>>,
    },
    Dex {
        config: DexConfig,
        session: Mutex<DexSession>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SessionState {
    NotLoggedIn,
    LoggedIn,
    /// The URL answered without a login redirect: no cookie needed.
    Unsecured,
}

#[derive(Debug)]
pub(super) struct DexSession {
    pub(super) state: SessionState,
    /// Bumped by every login, so that concurrent callers that saw the same expired session log in once.
    pub(super) generation: u64,
}

impl Auth {
    pub(super) fn describe(&self) -> String {
        match self {
            Self::None => AuthConfig::None.describe(),
            Self::Token(_) => AuthConfig::Token(Secret::default()).describe(),
            Self::TokenFile { path, .. } => AuthConfig::TokenFile(path.clone()).describe(),
            Self::Dex { config, .. } => AuthConfig::Dex(config.clone()).describe(),
        }
    }
}

impl HttpKfpClient {
    pub(super) fn bearer(&self) -> Result<Option<Secret>> {
        match &self.auth {
            Auth::Token(token) => Ok(Some(token.clone())),
            Auth::TokenFile { path, last_hash } => {
                let text = std::fs::read_to_string(path).map_err(|source| Error::TokenFile {
                    path: path.clone(),
                    source,
                })?;
                let token = text.trim();
                if token.is_empty() {
                    return Err(Error::TokenFile {
                        path: path.clone(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "the file is empty",
                        ),
                    });
                }
                let mut hasher = DefaultHasher::new();
                token.hash(&mut hasher);
                let hash = hasher.finish();
                let mut last = last_hash
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if last.is_some_and(|h| h != hash) {
                    tracing::debug!(path = %path.display(), "the token file changed; using the new token");
                }
                *last = Some(hash);
                Ok(Some(Secret::new(token)))
            }
            Auth::None | Auth::Dex { .. } => Ok(None),
        }
    }

    /// Makes sure a Dex session exists; returns its generation (0 without Dex).
    pub(super) fn ensure_session(&self) -> Result<u64> {
        let Auth::Dex { config, session } = &self.auth else {
            return Ok(0);
        };
        let mut session = session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if session.state == SessionState::NotLoggedIn {
            self.dex_login(config, &mut session)?;
        }
        Ok(session.generation)
    }

    /// Logs in again unless another caller already did since `seen_generation`.
    pub(super) fn relogin(&self, seen_generation: u64) -> Result<()> {
        let Auth::Dex { config, session } = &self.auth else {
            return Ok(());
        };
        let mut session = session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if session.generation == seen_generation {
            tracing::info!("the KFP session has expired; logging in to Dex again");
            self.jar.clear();
            self.dex_login(config, &mut session)?;
        }
        Ok(())
    }

    fn dex_login(&self, config: &DexConfig, session: &mut DexSession) -> Result<()> {
        let outcome = dex::login(&self.agent, &self.jar, &self.api_url, config)?;
        session.generation += 1;
        session.state = match outcome {
            dex::LoginOutcome::LoggedIn => SessionState::LoggedIn,
            dex::LoginOutcome::Unsecured => SessionState::Unsecured,
        };
        Ok(())
    }

    pub(super) fn not_authenticated(&self, call: &Call, reason: String) -> Error {
        let hint = match &self.auth {
            Auth::None => format!(
                "{} needs a login: set DEX_USERNAME and DEX_PASSWORD (Dex behind oauth2-proxy), or give a \
                 bearer token with KFP_TOKEN or --token-file",
                self.api_url
            ),
            Auth::Token(_) | Auth::TokenFile { .. } => {
                "the gateway did not accept the bearer token: use a ServiceAccount token with audience \
                 `pipelines.kubeflow.org` (e.g. `kubectl create token SA --audience pipelines.kubeflow.org`), \
                 or log in with DEX_USERNAME/DEX_PASSWORD"
                    .to_owned()
            }
            Auth::Dex { config, .. } => format!(
                "logging in to Dex as {} worked but the session was not accepted: check --dex-auth-type \
                 (local or ldap) and that --api-url is the URL of the pipelines UI (e.g. https://HOST/pipeline)",
                config.username
            ),
        };
        Error::NotAuthenticated {
            method: call.method.as_str().to_owned(),
            path: call.display_path(),
            reason,
            hint,
        }
    }
}
