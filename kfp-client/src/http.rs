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

use crate::api::{API_PREFIX, KfpApi, ListItem, ListOptions, PageInfo};
use crate::classify::{Answer, classify_answer, redirect_reason};
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
use crate::transport::{transport_error, without_query};

mod endpoints;
mod session;

use session::{Auth, DexSession, SessionState};

/// Largest response body read (a page of 200 jobs with big manifests is tens of MB).
const MAX_BODY_BYTES: u64 = 1 << 30;

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
        if let Some(reason) = redirect_reason(status, location.as_deref()) {
            return Ok(Outcome::Unauthenticated(reason));
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
        let renewable = matches!(self.auth, Auth::Dex { .. } | Auth::TokenFile { .. });
        Ok(
            match classify_answer(method, &path, status, &content_type, body, renewable) {
                Answer::Ok(body) => Outcome::Ok(body),
                Answer::Unauthenticated(reason) => Outcome::Unauthenticated(reason),
                Answer::Failed(error) => Outcome::Failed { error, retry_after },
            },
        )
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
