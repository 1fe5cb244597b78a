//! [`HttpKfpClient`]: the [`KfpApi`] over HTTP with ureq.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;
use serde::de::DeserializeOwned;
use ureq::Agent;
use ureq::http::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER, SET_COOKIE};
use ureq::tls::{PemItem, RootCerts, TlsConfig};
use url::form_urlencoded::byte_serialize;

use crate::api::{KfpApi, ListItem, ListOptions, PageInfo};
use crate::config::{AuthConfig, ClientConfig, DexConfig, RetryPolicy};
use crate::cookies::CookieJar;
use crate::dex;
use crate::error::{Error, Result, TransportKind};
use crate::models::{
    Experiment, Healthz, Job, ListExperimentsResponse, ListJobsResponse, ListPipelinesResponse,
    ListRunsResponse, Page, Pipeline, Run, RunDetail,
};
use crate::secrets::Secret;
use crate::stream::{self, StreamFailure};

/// The API's path prefix under the configured URL.
pub const API_PREFIX: &str = "/apis/v1beta1";

/// Largest response body read (a page of 200 jobs with big manifests is tens of MB).
const MAX_BODY_BYTES: u64 = 1 << 30;

/// Longest server message kept in an error (the rest is cut: a gateway may echo whole requests).
const MAX_MESSAGE_CHARS: usize = 500;

/// Longest internal error chain kept in an error.
const MAX_DETAILS_CHARS: usize = 2000;

/// Read buffer of a streamed answer.
const STREAM_BUFFER_BYTES: usize = 64 << 10;

/// Consumes a 2xx answer's body as it arrives; once it runs, the call is never repeated. The reader is handed
/// over by value, as a `BufReader`: serde_json reads it byte by byte, and only a `BufReader` itself (not a
/// reference to one, nor a `dyn` reader) takes the standard library's fast path for that (several times faster).
type Stream<'a> = dyn FnMut(BodyStream<'_>) -> Result<()> + 'a;

/// A buffered response body.
type BodyStream<'a> = BufReader<ureq::BodyReader<'a>>;

/// The KFP v1beta1 API over HTTP.
///
/// * Every call goes to `{api_url}/apis/v1beta1/...`; redirects are never followed: a redirect, a 401, or a
///   200 or 403 whose body is not JSON (a login page, Istio's `RBAC: access denied`) is an
///   [`Error::NotAuthenticated`].
/// * With [`AuthConfig::Dex`] the client logs in before the first call and once more when the session has
///   expired; with [`AuthConfig::TokenFile`] the token is re-read before every call.
/// * Idempotent calls are retried on transient failures per [`RetryPolicy`]; creates are not (see
///   [`Error::is_ambiguous`]). A retried DELETE that finds the object gone, or a retried terminate that finds
///   the run no longer running, has succeeded: the earlier, unanswered attempt did it.
///
/// ```no_run
/// use kfp_client::{ClientConfig, HttpKfpClient, KfpApi, list_all_experiments};
///
/// # fn main() -> Result<(), kfp_client::Error> {
/// let config = ClientConfig::from_env_and("https://kubeflow.example.com/pipeline")?;
/// let client = HttpKfpClient::new(config)?;
/// let health = client.healthz()?;
/// let namespace = health.is_multi_user().unwrap_or(false).then_some("team-1");
/// for experiment in list_all_experiments(&client, namespace)? {
///     println!("{} {}", experiment.id, experiment.name);
/// }
/// # Ok(())
/// # }
/// ```
pub struct HttpKfpClient {
    api_url: String,
    base: String,
    agent: Agent,
    auth: Auth,
    jar: CookieJar,
    retry: RetryPolicy,
    user_agent: String,
}

impl std::fmt::Debug for HttpKfpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpKfpClient")
            .field("api_url", &self.api_url)
            .field("auth", &self.auth.describe())
            .field("cookies", &self.jar)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

enum Auth {
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
enum SessionState {
    NotLoggedIn,
    LoggedIn,
    /// The URL answered without a login redirect: no cookie needed.
    Unsecured,
}

#[derive(Debug)]
struct DexSession {
    state: SessionState,
    /// Bumped by every login, so that concurrent callers that saw the same expired session log in once.
    generation: u64,
}

impl Auth {
    fn describe(&self) -> String {
        match self {
            Self::None => AuthConfig::None.describe(),
            Self::Token(_) => AuthConfig::Token(Secret::default()).describe(),
            Self::TokenFile { path, .. } => AuthConfig::TokenFile(path.clone()).describe(),
            Self::Dex { config, .. } => AuthConfig::Dex(config.clone()).describe(),
        }
    }
}

/// Whether a call may be repeated without risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Reads, deletes, and POSTs that only set a state (enable, archive, ...).
    Idempotent,
    /// A POST that creates something: repeating it could create a duplicate.
    Create,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Delete => "DELETE",
        }
    }
}

struct Call {
    method: Method,
    /// Below the API prefix, e.g. `/experiments/abc:archive`.
    path: String,
    /// Already encoded, without `?`.
    query: String,
    body: Option<(Vec<u8>, String)>,
    kind: Kind,
    /// On a retry, an error that shows an earlier attempt (which got no clear answer) was applied.
    applied_if: Option<fn(&Error) -> bool>,
}

impl Call {
    fn new(method: Method, path: String, kind: Kind) -> Self {
        Self {
            method,
            path,
            query: String::new(),
            body: None,
            kind,
            applied_if: None,
        }
    }

    fn display_path(&self) -> String {
        format!("{API_PREFIX}{}", self.path)
    }
}

enum Outcome {
    Ok(Vec<u8>),
    /// The body went to the caller's stream.
    Streamed,
    Unauthenticated(String),
    Failed {
        error: Error,
        retry_after: Option<std::time::Duration>,
    },
}

/// Percent-encodes one path segment (ids are UUIDs, but nothing stops a caller from passing anything).
fn segment(id: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(id, UNRESERVED).to_string()
}

fn encode(value: &str) -> String {
    byte_serialize(value.as_bytes()).collect()
}

/// For values the server URL-decodes a second time (`filter`, the upload `name`): encoded twice so that `+`,
/// `%`, `&` and spaces survive (CONTRACT §4).
fn encode_twice(value: &str) -> String {
    encode(&encode(value))
}

/// The query string of a list call, in the order the SDK uses.
pub(crate) fn list_query(options: &ListOptions) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(token) = &options.page_token {
        pairs.push(("page_token", encode(token)));
    }
    if let Some(size) = options.page_size {
        pairs.push(("page_size", size.to_string()));
    }
    if let Some(sort_by) = &options.sort_by {
        pairs.push(("sort_by", encode(sort_by)));
    }
    if let Some(key) = &options.resource_key {
        pairs.push((
            "resource_reference_key.type",
            key.r#type.as_str().to_owned(),
        ));
        pairs.push(("resource_reference_key.id", encode(&key.id)));
    }
    if let Some(filter) = &options.filter {
        pairs.push(("filter", encode_twice(&filter.to_json())));
    }
    pairs
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn looks_like_html(content_type: &str, body: &[u8]) -> bool {
    content_type.contains("text/html")
        || body
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'<')
}

/// Whether the body's first non-whitespace byte opens a JSON object; consumes the whitespace before it only.
fn opens_an_object(reader: &mut impl BufRead) -> std::io::Result<bool> {
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(false);
        }
        if let Some(at) = buffer.iter().position(|b| !b.is_ascii_whitespace()) {
            let opens = buffer[at] == b'{';
            reader.consume(at);
            return Ok(opens);
        }
        let blanks = buffer.len();
        reader.consume(blanks);
    }
}

fn is_json(body: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
}

/// What a gateway answered in place of JSON, for the not-authenticated reason.
fn not_json_reason(status: u16, content_type: &str, body: &[u8]) -> String {
    if looks_like_html(content_type, body) {
        return if status == 403 {
            "the gateway answered HTTP 403 with a sign-in page".to_owned()
        } else {
            format!(
                "the gateway answered HTTP {status} with an HTML page instead of JSON (a login page)"
            )
        };
    }
    let text = crate::secrets::excerpt(&String::from_utf8_lossy(body), 200);
    if text.is_empty() {
        format!("the gateway answered HTTP {status} without a body instead of JSON")
    } else {
        format!("the gateway answered HTTP {status} with text instead of JSON: {text}")
    }
}

/// KFP's answer to terminating a run that no longer runs: 400 `Failed to terminate run <id>. Row not found.`
/// (CONTRACT §5).
fn is_not_running(error: &Error) -> bool {
    const SAID: &str = "Row not found";
    matches!(error, Error::Api { status: 400, message, details, .. }
        if message.contains(SAID) || details.as_deref().is_some_and(|d| d.contains(SAID)))
}

/// A URL without its query (which may carry OAuth state), for messages.
pub(crate) fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

fn is_tls_error(err: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    err.is::<rustls::Error>()
}

pub(crate) fn transport_error(method: &str, path: &str, err: &ureq::Error) -> Error {
    use std::io::ErrorKind;
    let (kind, may_have_been_sent) = match err {
        ureq::Error::Timeout(timeout) => match timeout {
            ureq::Timeout::Resolve | ureq::Timeout::Connect => (TransportKind::Connect, false),
            _ => (TransportKind::Timeout, true),
        },
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => {
            (TransportKind::Connect, false)
        }
        // rustls reports handshake failures as I/O errors: nothing was sent.
        ureq::Error::Io(io) if io.get_ref().is_some_and(is_tls_error) => {
            (TransportKind::Tls, false)
        }
        ureq::Error::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused
            | ErrorKind::AddrNotAvailable
            | ErrorKind::HostUnreachable
            | ErrorKind::NetworkUnreachable => (TransportKind::Connect, false),
            ErrorKind::TimedOut | ErrorKind::WouldBlock => (TransportKind::Timeout, true),
            _ => (TransportKind::Io, true),
        },
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => {
            (TransportKind::Tls, false)
        }
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => (TransportKind::Other, false),
        _ => (TransportKind::Other, true),
    };
    let message = match kind {
        TransportKind::Connect => format!("cannot connect: {err}"),
        TransportKind::Timeout => format!("no answer in time: {err}"),
        TransportKind::Tls => format!("TLS failure: {err}"),
        _ => err.to_string(),
    };
    Error::Transport {
        method: method.to_owned(),
        path: path.to_owned(),
        kind,
        message: crate::secrets::redact_text(&message),
        may_have_been_sent,
    }
}

fn api_error(method: &str, path: &str, status: u16, content_type: &str, body: &[u8]) -> Error {
    // What the server said is cut to a bounded excerpt with every known secret masked.
    match crate::classify::api_error(
        method,
        path,
        status,
        looks_like_html(content_type, body),
        body,
    ) {
        Error::Api {
            status,
            method,
            path,
            message,
            details,
            code,
        } => Error::Api {
            status,
            method,
            path,
            message: crate::secrets::excerpt(&message, MAX_MESSAGE_CHARS),
            details: details.map(|details| crate::secrets::excerpt(&details, MAX_DETAILS_CHARS)),
            code,
        },
        Error::V1PipelinesBlocked {
            method,
            path,
            namespace,
            message,
        } => Error::V1PipelinesBlocked {
            method,
            path,
            namespace,
            message: crate::secrets::excerpt(&message, MAX_MESSAGE_CHARS),
        },
        other => other,
    }
}

impl HttpKfpClient {
    /// Builds a client. Fails when the URL is not http(s) or the CA certificate cannot be read. Makes no
    /// request: a Dex login happens on the first call.
    pub fn new(config: ClientConfig) -> Result<Self> {
        let api_url = normalize_api_url(&config.api_url)?;
        let tls = tls_config(&config)?;
        let mut builder = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(config.timeouts.connect))
            .timeout_per_call(Some(config.timeouts.request))
            .user_agent(config.user_agent.as_str())
            .tls_config(tls);
        if !config.proxy_from_env {
            builder = builder.proxy(None);
        }
        let agent: Agent = builder.build().into();
        let auth = match config.auth {
            AuthConfig::None => Auth::None,
            AuthConfig::Token(token) => Auth::Token(token),
            AuthConfig::TokenFile(path) => Auth::TokenFile {
                path,
                last_hash: Mutex::new(None),
            },
            AuthConfig::Dex(dex) => Auth::Dex {
                config: dex,
                session: Mutex::new(DexSession {
                    state: SessionState::NotLoggedIn,
                    generation: 0,
                }),
            },
        };
        tracing::debug!(api_url = %api_url, auth = %auth.describe(), "KFP client configured");
        Ok(Self {
            base: format!("{api_url}{API_PREFIX}"),
            api_url,
            agent,
            auth,
            jar: CookieJar::default(),
            retry: config.retry,
            user_agent: config.user_agent,
        })
    }

    /// The API URL (without trailing slash), e.g. for UI links `{api_url}/#/runs/details/{id}`.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// How this client authenticates, for messages.
    pub fn auth_description(&self) -> String {
        self.auth.describe()
    }

    /// Logs in now (Dex only; a no-op otherwise), so that a login problem is reported as such.
    pub fn login(&self) -> Result<()> {
        self.ensure_session().map(|_| ())
    }

    fn bearer(&self) -> Result<Option<Secret>> {
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
    fn ensure_session(&self) -> Result<u64> {
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
    fn relogin(&self, seen_generation: u64) -> Result<()> {
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

    fn not_authenticated(&self, call: &Call, reason: String) -> Error {
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

    /// One attempt. With `stream`, a 2xx answer whose body is a JSON object goes to `stream` as it arrives (an
    /// error from it is final: part of the body has been consumed); any other answer is read whole and judged
    /// as without `stream`.
    fn send_once(&self, call: &Call, stream: Option<&mut Stream<'_>>) -> Result<Outcome> {
        let method = call.method.as_str();
        let path = call.display_path();
        let url = if call.query.is_empty() {
            format!("{}{}", self.base, call.path)
        } else {
            format!("{}{}?{}", self.base, call.path, call.query)
        };
        let bearer = self.bearer()?;
        let authorization = bearer.map(|token| format!("Bearer {}", token.expose()));
        let request_url = url::Url::parse(&url).map_err(|err| {
            Error::Config(format!(
                "the request URL {} is not a URL: {err}",
                shown_url(&url)
            ))
        })?;
        let cookie = self.jar.header_for(&request_url);
        macro_rules! headers {
            ($builder:expr) => {{
                let mut builder = $builder
                    .header("Accept", "application/json")
                    .header("User-Agent", self.user_agent.as_str());
                if let Some(value) = &authorization {
                    builder = builder.header("Authorization", value.as_str());
                }
                if let Some(value) = &cookie {
                    builder = builder.header("Cookie", value.as_str());
                }
                builder
            }};
        }
        let result = match (call.method, &call.body) {
            (Method::Get, _) => headers!(self.agent.get(&url)).call(),
            (Method::Delete, _) => headers!(self.agent.delete(&url)).call(),
            (Method::Post, Some((body, content_type))) => headers!(self.agent.post(&url))
                .header("Content-Type", content_type.as_str())
                .send(&body[..]),
            (Method::Post, None) => headers!(self.agent.post(&url)).send_empty(),
        };
        let mut response = match result {
            Ok(response) => response,
            Err(err) => {
                return Ok(Outcome::Failed {
                    error: transport_error(method, &path, &err),
                    retry_after: None,
                });
            }
        };
        let status = response.status().as_u16();
        // oauth2-proxy refreshes its session cookie on API answers.
        self.jar.store(
            &request_url,
            response
                .headers()
                .get_all(SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &ureq::http::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(CONTENT_TYPE).unwrap_or_default();
        let location = header(LOCATION);
        let retry_after = header(RETRY_AFTER)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(std::time::Duration::from_secs);
        tracing::debug!(method, path = %path, status, "KFP API answered");
        if (300..400).contains(&status) {
            let target = location.as_deref().map_or_else(
                || "nowhere".to_owned(),
                |location| crate::secrets::redact_url(without_query(location)),
            );
            return Ok(Outcome::Unauthenticated(format!(
                "the gateway answered HTTP {status} with a redirect to {target} (a login page)"
            )));
        }
        let mut reader = BufReader::with_capacity(
            STREAM_BUFFER_BYTES,
            response
                .body_mut()
                .with_config()
                .limit(MAX_BODY_BYTES)
                .reader(),
        );
        let read_failed = |err: std::io::Error| Outcome::Failed {
            error: transport_error(method, &path, &ureq::Error::from(err)),
            retry_after: None,
        };
        if let Some(stream) = stream
            && (200..300).contains(&status)
        {
            match opens_an_object(&mut reader) {
                Ok(true) => return stream(reader).map(|()| Outcome::Streamed),
                Ok(false) => {}
                Err(err) => return Ok(read_failed(err)),
            }
        }
        let mut body = Vec::new();
        if let Err(err) = reader.read_to_end(&mut body) {
            return Ok(read_failed(err));
        }
        // KFP answers JSON, so a 200 or 403 with anything else is a gateway in front of it: a login page, or
        // Istio's `403 text/plain RBAC: access denied` (CONTRACT §6). An empty 200 is how some proxies pass `{}`
        // on; a JSON 403 is KFP's own permission error.
        if (200..300).contains(&status) {
            if body.iter().all(u8::is_ascii_whitespace) || is_json(&body) {
                return Ok(Outcome::Ok(body));
            }
            return Ok(Outcome::Unauthenticated(not_json_reason(
                status,
                &content_type,
                &body,
            )));
        }
        if status == 403 && !is_json(&body) {
            return Ok(Outcome::Unauthenticated(not_json_reason(
                status,
                &content_type,
                &body,
            )));
        }
        if status == 401 {
            let said = match api_error(method, &path, status, &content_type, &body) {
                Error::Api { message, .. } if !message.starts_with("HTTP 401") => {
                    format!(": {message}")
                }
                _ => String::new(),
            };
            return Ok(Outcome::Unauthenticated(format!(
                "the server answered HTTP 401{said}"
            )));
        }
        let error = api_error(method, &path, status, &content_type, &body);
        // KFP 1.8.5 answers a lost identity with a 500 `Unauthenticated`: a new login (or a rotated token
        // file) may help, as with a 401 (KFP2-V1BETA1.md §1, §5 P1-13).
        if matches!(self.auth, Auth::Dex { .. } | Auth::TokenFile { .. })
            && crate::classify::is_lost_identity(&error)
        {
            return Ok(Outcome::Unauthenticated(format!(
                "the server saw no user identity: {error}"
            )));
        }
        Ok(Outcome::Failed { error, retry_after })
    }

    fn should_retry(kind: Kind, error: &Error) -> bool {
        match error {
            Error::Transport {
                kind: TransportKind::Connect,
                ..
            } => true,
            Error::Transport {
                kind: TransportKind::Timeout | TransportKind::Io,
                ..
            } => kind == Kind::Idempotent,
            // A gateway may answer 429 or 5xx after the server behind it acted: a create is not repeated
            // blindly (the caller looks it up first, see `Error::is_ambiguous`).
            Error::Api {
                status: 429 | 502..=504,
                ..
            } => kind == Kind::Idempotent,
            _ => false,
        }
    }

    fn execute(&self, call: &Call) -> Result<Vec<u8>> {
        self.execute_with(call, None).map(Option::unwrap_or_default)
    }

    /// The call with its retries; `None` when the body went to `stream` (see [`Self::send_once`]).
    fn execute_with(
        &self,
        call: &Call,
        mut stream: Option<&mut Stream<'_>>,
    ) -> Result<Option<Vec<u8>>> {
        let mut attempt: u32 = 0;
        let mut relogged = false;
        loop {
            attempt += 1;
            let generation = self.ensure_session()?;
            match self.send_once(call, stream.as_deref_mut())? {
                Outcome::Ok(body) => return Ok(Some(body)),
                Outcome::Streamed => return Ok(None),
                Outcome::Unauthenticated(reason) => {
                    // A Dex session logs in again; a token file is re-read (it may have been rotated).
                    let can_renew = matches!(self.auth, Auth::Dex { .. } | Auth::TokenFile { .. });
                    if can_renew && !relogged {
                        // Nothing was done (a login page, or KFP's identity check, which precedes every
                        // change), so even a create can be repeated after the login.
                        relogged = true;
                        attempt -= 1;
                        self.relogin(generation)?;
                        continue;
                    }
                    return Err(self.not_authenticated(call, reason));
                }
                Outcome::Failed { error, retry_after } => {
                    if attempt > 1 && call.applied_if.is_some_and(|applied| applied(&error)) {
                        tracing::debug!(
                            method = call.method.as_str(),
                            path = %call.display_path(),
                            error = %error,
                            "already done by an earlier attempt that got no clear answer"
                        );
                        return Ok(Some(b"{}".to_vec()));
                    }
                    if attempt >= self.retry.max_attempts || !Self::should_retry(call.kind, &error)
                    {
                        return Err(error);
                    }
                    let delay = retry_after.map_or_else(
                        || self.retry.backoff(attempt),
                        |d| d.min(self.retry.max_backoff),
                    );
                    tracing::warn!(
                        method = call.method.as_str(),
                        path = %call.display_path(),
                        attempt,
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        error = %error,
                        "transient KFP API failure; retrying"
                    );
                    std::thread::sleep(delay);
                }
            }
        }
    }

    fn json<T: DeserializeOwned>(&self, call: &Call) -> Result<T> {
        let body = self.execute(call)?;
        Self::decode(call, &body)
    }

    fn decode<T: DeserializeOwned>(call: &Call, body: &[u8]) -> Result<T> {
        // The API server's healthz and some proxies answer an empty body for "{}".
        let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            body
        };
        serde_json::from_slice(body).map_err(|err| Error::Decode {
            method: call.method.as_str().to_owned(),
            path: call.display_path(),
            status: 200,
            message: err.to_string(),
        })
    }

    /// The error of a streamed answer that failed part-way: a broken connection is a transport error, a body
    /// that is not a jobs listing (or ends early) a decode error. Neither is retried, as the caller has been
    /// handed part of the page.
    fn stream_error(call: &Call, failure: StreamFailure) -> Error {
        let method = call.method.as_str();
        let path = call.display_path();
        let after = match failure.jobs_seen {
            1 => "after 1 job".to_owned(),
            n => format!("after {n} jobs"),
        };
        match failure.error.classify() {
            serde_json::error::Category::Io => {
                let io = std::io::Error::from(failure.error);
                match transport_error(method, &path, &ureq::Error::from(io)) {
                    Error::Transport {
                        method,
                        path,
                        kind: _,
                        message,
                        may_have_been_sent,
                    } => Error::Transport {
                        method,
                        path,
                        kind: TransportKind::Interrupted,
                        message: format!("the answer broke off {after}: {message}"),
                        may_have_been_sent,
                    },
                    other => other,
                }
            }
            serde_json::error::Category::Eof => Error::Decode {
                method: method.to_owned(),
                path,
                status: 200,
                message: format!("the answer ended {after}, before the listing was complete"),
            },
            serde_json::error::Category::Syntax | serde_json::error::Category::Data => {
                Error::Decode {
                    method: method.to_owned(),
                    path,
                    status: 200,
                    message: format!("{} ({after})", failure.error),
                }
            }
        }
    }

    fn empty(&self, call: &Call) -> Result<()> {
        self.execute(call).map(|_| ())
    }

    fn with_json_body(mut call: Call, value: &impl Serialize) -> Result<Call> {
        let body = serde_json::to_vec(value).map_err(|err| Error::Config(err.to_string()))?;
        call.body = Some((body, "application/json".to_owned()));
        Ok(call)
    }

    fn get(path: String) -> Call {
        Call::new(Method::Get, path, Kind::Idempotent)
    }

    fn list(path: &str, options: &ListOptions) -> Call {
        let mut call = Self::get(path.to_owned());
        call.query = list_query(options);
        call
    }

    fn action(path: String) -> Call {
        Call::new(Method::Post, path, Kind::Idempotent)
    }

    fn delete(path: String) -> Call {
        let mut call = Call::new(Method::Delete, path, Kind::Idempotent);
        call.applied_if = Some(Error::is_not_found);
        call
    }

    fn create(path: &str) -> Call {
        Call::new(Method::Post, path.to_owned(), Kind::Create)
    }
}

fn normalize_api_url(url: &str) -> Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    let trimmed = trimmed
        .strip_suffix(API_PREFIX)
        .unwrap_or(trimmed)
        .trim_end_matches('/');
    let parsed = url::Url::parse(trimmed).map_err(|err| {
        Error::Config(format!(
            "the API URL {:?} is not a URL: {err}",
            shown_url(trimmed)
        ))
    })?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::CredentialsInApiUrl {
            url: shown_url(trimmed),
        });
    }
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::Config(format!(
            "the API URL {:?} must start with http:// or https://",
            shown_url(trimmed)
        )));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::Config(format!(
            "the API URL {:?} must not have a query or fragment",
            shown_url(trimmed)
        )));
    }
    Ok(trimmed.to_owned())
}

/// A URL as messages show it: without `user:password@` (also when the scheme is missing, where
/// `user:password@host` would parse as scheme `user`) and without its query or fragment, either of which
/// may carry a secret.
fn shown_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let rest = without_query(rest);
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let rest = rest[..authority_end]
        .rfind('@')
        .map_or(rest, |at| &rest[at + 1..]);
    match scheme {
        Some(scheme) => format!("{scheme}://{rest}"),
        None => rest.to_owned(),
    }
}

fn tls_config(config: &ClientConfig) -> Result<TlsConfig> {
    let mut builder = TlsConfig::builder();
    if let Some(path) = &config.tls.ca_cert {
        let pem = std::fs::read(path).map_err(|err| {
            Error::Config(format!(
                "cannot read the CA certificate {}: {err}",
                path.display()
            ))
        })?;
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(PemItem::Certificate(cert)) => certs.push(cert),
                Ok(_) => {}
                Err(err) => {
                    return Err(Error::Config(format!(
                        "the CA certificate {} is not valid PEM: {err}",
                        path.display()
                    )));
                }
            }
        }
        if certs.is_empty() {
            return Err(Error::Config(format!(
                "the CA certificate file {} holds no certificate",
                path.display()
            )));
        }
        builder = builder.root_certs(RootCerts::new_with_certs(&certs));
    }
    if config.tls.skip_verify {
        tracing::warn!(
            target: crate::SECURITY_WARNING_LOG_TARGET,
            "TLS certificate verification is disabled (--skip-tls-verify): the connection to {} can be \
             intercepted",
            shown_url(&config.api_url)
        );
        builder = builder.disable_verification(true);
    }
    Ok(builder.build())
}

impl KfpApi for HttpKfpClient {
    fn healthz(&self) -> Result<Healthz> {
        self.json(&Self::get("/healthz".into()))
    }

    fn create_experiment(&self, experiment: &Experiment) -> Result<Experiment> {
        self.json(&Self::with_json_body(
            Self::create("/experiments"),
            experiment,
        )?)
    }

    fn get_experiment(&self, id: &str) -> Result<Experiment> {
        self.json(&Self::get(format!("/experiments/{}", segment(id))))
    }

    fn list_experiments(&self, options: &ListOptions) -> Result<Page<Experiment>> {
        self.json::<ListExperimentsResponse>(&Self::list(Experiment::LIST_PATH, options))
            .map(Into::into)
    }

    fn delete_experiment(&self, id: &str) -> Result<()> {
        self.empty(&Self::delete(format!("/experiments/{}", segment(id))))
    }

    fn archive_experiment(&self, id: &str) -> Result<()> {
        self.empty(&Self::action(format!(
            "/experiments/{}:archive",
            segment(id)
        )))
    }

    fn unarchive_experiment(&self, id: &str) -> Result<()> {
        self.empty(&Self::action(format!(
            "/experiments/{}:unarchive",
            segment(id)
        )))
    }

    fn create_job(&self, job: &Job) -> Result<Job> {
        self.json(&Self::with_json_body(Self::create("/jobs"), job)?)
    }

    fn get_job(&self, id: &str) -> Result<Job> {
        self.json(&Self::get(format!("/jobs/{}", segment(id))))
    }

    fn list_jobs(&self, options: &ListOptions) -> Result<Page<Job>> {
        self.json::<ListJobsResponse>(&Self::list(Job::LIST_PATH, options))
            .map(Into::into)
    }

    fn list_jobs_each(
        &self,
        options: &ListOptions,
        visit: &mut dyn FnMut(Job),
    ) -> Result<PageInfo> {
        let call = Self::list(Job::LIST_PATH, options);
        let mut streamed = None;
        let body = {
            let mut consume = |reader: BodyStream<'_>| -> Result<()> {
                let info = stream::decode_jobs(reader, &mut *visit)
                    .map_err(|failure| Self::stream_error(&call, failure))?;
                streamed = Some(info);
                Ok(())
            };
            self.execute_with(&call, Some(&mut consume))?
        };
        if let Some(info) = streamed {
            return Ok(info);
        }
        // Not a JSON object (an empty body, or a JSON value of another kind): judged as `list_jobs` judges it.
        let response: ListJobsResponse = Self::decode(&call, &body.unwrap_or_default())?;
        let info = PageInfo {
            next_page_token: response.next_page_token,
            total_size: response.total_size,
        };
        response.jobs.into_iter().for_each(visit);
        Ok(info)
    }

    fn delete_job(&self, id: &str) -> Result<()> {
        self.empty(&Self::delete(format!("/jobs/{}", segment(id))))
    }

    fn enable_job(&self, id: &str) -> Result<()> {
        self.empty(&Self::action(format!("/jobs/{}/enable", segment(id))))
    }

    fn disable_job(&self, id: &str) -> Result<()> {
        self.empty(&Self::action(format!("/jobs/{}/disable", segment(id))))
    }

    fn create_run(&self, run: &Run) -> Result<RunDetail> {
        self.json(&Self::with_json_body(Self::create("/runs"), run)?)
    }

    fn get_run(&self, id: &str) -> Result<RunDetail> {
        self.json(&Self::get(format!("/runs/{}", segment(id))))
    }

    fn list_runs(&self, options: &ListOptions) -> Result<Page<Run>> {
        self.json::<ListRunsResponse>(&Self::list(Run::LIST_PATH, options))
            .map(Into::into)
    }

    fn terminate_run(&self, id: &str) -> Result<()> {
        let mut call = Self::action(format!("/runs/{}/terminate", segment(id)));
        call.applied_if = Some(is_not_running);
        self.empty(&call)
    }

    fn archive_run(&self, id: &str) -> Result<()> {
        self.empty(&Self::action(format!("/runs/{}:archive", segment(id))))
    }

    fn unarchive_run(&self, id: &str) -> Result<()> {
        self.empty(&Self::action(format!("/runs/{}:unarchive", segment(id))))
    }

    fn delete_run(&self, id: &str) -> Result<()> {
        self.empty(&Self::delete(format!("/runs/{}", segment(id))))
    }

    fn upload_pipeline(
        &self,
        name: &str,
        description: Option<&str>,
        file_name: &str,
        bytes: &[u8],
    ) -> Result<Pipeline> {
        let mut call = Self::create("/pipelines/upload");
        // The upload handler URL-decodes `name` and `description` once more (CONTRACT §5).
        call.query = format!("name={}", encode_twice(name));
        if let Some(description) = description {
            call.query
                .push_str(&format!("&description={}", encode_twice(description)));
        }
        let boundary = format!("kfp-gitops-{:032x}", rand::random::<u128>());
        let file_name = file_name.replace(['"', '\r', '\n'], "_");
        let mut body = Vec::with_capacity(bytes.len() + 256);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"uploadfile\"; filename=\"{file_name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        call.body = Some((body, format!("multipart/form-data; boundary={boundary}")));
        self.json(&call)
    }

    fn list_pipelines(&self, options: &ListOptions) -> Result<Page<Pipeline>> {
        self.json::<ListPipelinesResponse>(&Self::list(Pipeline::LIST_PATH, options))
            .map(Into::into)
    }

    fn get_pipeline(&self, id: &str) -> Result<Pipeline> {
        self.json(&Self::get(format!("/pipelines/{}", segment(id))))
    }

    fn delete_pipeline(&self, id: &str) -> Result<()> {
        self.empty(&Self::delete(format!("/pipelines/{}", segment(id))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Filter, Predicate, ResourceKey};

    #[test]
    fn api_url_accepts_a_trailing_slash_or_the_api_prefix() {
        for url in [
            "https://h/pipeline",
            "https://h/pipeline/",
            "https://h/pipeline/apis/v1beta1",
            "https://h/pipeline/apis/v1beta1/",
        ] {
            assert_eq!(normalize_api_url(url).unwrap(), "https://h/pipeline");
        }
        assert!(normalize_api_url("ftp://h").is_err());
        assert!(normalize_api_url("h:8888").is_err());
    }

    #[test]
    fn list_query_orders_like_the_sdk_and_double_encodes_the_filter() {
        let options = ListOptions {
            page_token: Some("tok=".into()),
            page_size: Some(200),
            sort_by: Some("created_at desc".into()),
            filter: Some(Filter::single(Predicate::equals("name", "a+b %20&c"))),
            resource_key: Some(ResourceKey::namespace("team-1")),
        };
        let query = list_query(&options);
        let once = "%7B%22predicates%22%3A%5B%7B%22key%22%3A%22name%22%2C%22op%22%3A%22EQUALS%22%2C%22string_value%22%3A%22a%2Bb+%2520%26c%22%7D%5D%7D";
        let twice: String = byte_serialize(once.as_bytes()).collect();
        assert_eq!(
            query,
            format!(
                "page_token=tok%3D&page_size=200&sort_by=created_at+desc&resource_reference_key.type=NAMESPACE&\
                 resource_reference_key.id=team-1&filter={twice}"
            )
        );
    }

    /// Go's `url.QueryUnescape`.
    fn go_unescape(text: &str) -> Option<String> {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    out.push(u8::from_str_radix(text.get(i + 1..i + 3)?, 16).ok()?);
                    i += 2;
                }
                other => out.push(other),
            }
            i += 1;
        }
        String::from_utf8(out).ok()
    }

    proptest::proptest! {
        #[test]
        fn any_filter_value_reaches_the_server_unchanged(value in "\\PC*") {
            let filter = Filter::single(Predicate::equals("name", value.clone()));
            let query = list_query(&ListOptions::default().with_filter(filter.clone()));
            let raw = query.strip_prefix("filter=").unwrap();
            // The gateway decodes the query once, then parseAPIFilter once more.
            let json = go_unescape(&go_unescape(raw).unwrap()).unwrap();
            let seen: Filter = serde_json::from_str(&json).unwrap();
            proptest::prop_assert_eq!(seen, filter);
        }
    }

    #[test]
    fn html_detection_uses_content_type_or_a_leading_angle_bracket() {
        assert!(looks_like_html("text/html; charset=utf-8", b"{}"));
        assert!(looks_like_html("", b"  \n<!DOCTYPE html>"));
        assert!(!looks_like_html("application/json", b"{\"a\":1}"));
        assert!(!looks_like_html("", b""));
    }
}
