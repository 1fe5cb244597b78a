//! The one error type of the client. Every variant names the request (method and path, never the query's
//! secrets — there are none in KFP URLs — and never a header) and keeps what the server said.

use std::path::PathBuf;

/// What went wrong with a KFP API call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with an error status (4xx/5xx) and, usually, a JSON error body.
    #[error("{method} {path} failed with HTTP {status}: {message}")]
    Api {
        /// HTTP status code.
        status: u16,
        /// Request method.
        method: String,
        /// Request path (without query).
        path: String,
        /// The server's user-facing message (`details[].error_message`, `message`, `error`, or the body text).
        message: String,
        /// The server's full internal error chain, when it adds to `message`.
        details: Option<String>,
        /// The gRPC code from the error body, when present.
        code: Option<i32>,
    },

    /// The request did not reach KFP because the gateway wants a login: a redirect, a 401, or a 200/403 whose
    /// body is not JSON (a login page, Istio's `RBAC: access denied`).
    #[error("{method} {path}: not authenticated: {reason}")]
    NotAuthenticated {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
        /// What was seen (e.g. "redirect to https://host/dex/auth").
        reason: String,
        /// How to authenticate.
        hint: String,
    },

    /// The Dex/oauth2-proxy login itself failed (wrong credentials, unexpected page, ...).
    #[error("login to {url} failed: {reason}")]
    Login {
        /// The URL of the failing step (no query, no secrets).
        url: String,
        /// What went wrong.
        reason: String,
    },

    /// The API URL answered the first login step with neither 200, a redirect to a login, nor a 403 sign-in
    /// page (CONTRACT §8.2): it is most likely not the URL of the pipelines UI.
    #[error(
        "{url} answered HTTP {status} instead of the pipelines UI or a login redirect: check --api-url \
         (KFP_API_URL), it must be the URL of the pipelines UI, e.g. https://HOST/pipeline"
    )]
    LoginStart {
        /// The API URL (no query, no credentials).
        url: String,
        /// The HTTP status it answered.
        status: u16,
    },

    /// The API URL carries a username or password (`https://user:pass@host/...`), which would end up in
    /// logs, messages and links.
    #[error(
        "the API URL {url} must not carry a username or password: remove them from the URL and log in \
         with DEX_USERNAME and DEX_PASSWORD, or pass a bearer token (KFP_TOKEN or --token-file)"
    )]
    CredentialsInApiUrl {
        /// The API URL without its username and password.
        url: String,
    },

    /// No answer: connection refused or reset, DNS failure, TLS failure, timeout.
    #[error("{method} {path}: {message}")]
    Transport {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
        /// The kind of failure.
        kind: TransportKind,
        /// Human description (from the HTTP library).
        message: String,
        /// Whether the request may have reached the server (so a create may have been applied).
        may_have_been_sent: bool,
    },

    /// A 2xx answer whose body is not what the endpoint returns.
    #[error("{method} {path}: unexpected response body: {message}")]
    Decode {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// The parse error.
        message: String,
    },

    /// KFP 2.17 with `BLOCK_V1_PIPELINES=true` refuses v1 jobs and runs in this namespace (it is not in
    /// `V1_ALLOWED_NAMESPACES`): HTTP 400 `Namespace <ns> is not allowed to run v1 pipelines…`
    /// (KFP2-V1BETA1.md §2.6, §4.1). Nothing was created.
    #[error(
        "{method} {path}: KFP refuses v1 pipelines in namespace {namespace:?} (KFP 2.17 BLOCK_V1_PIPELINES; \
         the namespace is not in V1_ALLOWED_NAMESPACES): {message}"
    )]
    V1PipelinesBlocked {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
        /// The refused namespace.
        namespace: String,
        /// The server's message.
        message: String,
    },

    /// A request refused before it was sent because KFP would reject it — KFP 2.x with an HTTP 500 that a
    /// retry loop would hammer (KFP2-V1BETA1.md §5 P0-6). See [`crate::precheck`].
    #[error("{what} was not sent to KFP: {reason}")]
    Refused {
        /// What was refused, e.g. `recurring run "GIT::x__…"`.
        what: String,
        /// Why.
        reason: String,
    },

    /// The bearer-token file could not be read.
    #[error("cannot read the KFP token file {}", path.display())]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The client configuration is unusable (bad URL, unreadable CA certificate, ...).
    #[error("invalid KFP client configuration: {0}")]
    Config(String),
}

/// Classes of [`Error::Transport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// Could not connect (refused, unreachable, DNS): the request was certainly not sent.
    Connect,
    /// A timeout.
    Timeout,
    /// TLS handshake or certificate problem.
    Tls,
    /// The connection broke while sending or receiving.
    Io,
    /// A streamed answer began but broke off part-way (the connection was lost or timed out while the body
    /// arrived), after some of it had been handed over: not retried by the client, but a listing may be read
    /// again from the start of the page (see [`crate::for_each_job`]).
    Interrupted,
    /// Any other failure of the HTTP layer.
    Other,
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Tls => "tls",
            Self::Io => "io",
            Self::Interrupted => "interrupted",
            Self::Other => "other",
        })
    }
}

impl Error {
    /// The HTTP status of an [`Error::Api`] (or [`Error::Decode`]) answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::Decode { status, .. } => Some(*status),
            Self::V1PipelinesBlocked { .. } => Some(400),
            _ => None,
        }
    }

    /// Whether the server said the resource does not exist (HTTP 404).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether the server said the name already exists (HTTP 409).
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// Whether the request may have been applied although no (successful) answer arrived: a timeout or a
    /// broken connection after the request was sent, a 429 or any 5xx (a proxy may produce them after
    /// forwarding the request, and the server may fail after writing). A caller that created something
    /// must look it up before creating again.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            Self::Transport {
                may_have_been_sent, ..
            } => *may_have_been_sent,
            // A gateway's 429 or 5xx may come after the server behind it acted; so may the server's own
            // 500 (it can fail after writing).
            Self::Api { status, .. } => matches!(status, 429 | 500..=599),
            _ => false,
        }
    }

    /// Whether the failure is about authentication (gateway login needed, login failed, or a token problem).
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            Self::NotAuthenticated { .. } | Self::Login { .. } | Self::TokenFile { .. }
        ) || self.status() == Some(401)
    }

    /// A hint on what to do about the error, when there is a useful one.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Self::NotAuthenticated { hint, .. } => Some(hint),
            _ => None,
        }
    }
}

/// The result type of the client.
pub type Result<T, E = Error> = std::result::Result<T, E>;
