//! Shared helpers of the wire tests: a wiremock server driven from ordinary sync tests, and a client for it.
//!
//! wiremock serves from its own thread; the tests keep a current-thread tokio runtime only to call wiremock's
//! async API (mounting mocks, reading received requests) and call the blocking client outside `block_on`.

#![allow(dead_code)] // each test file uses a different part

pub mod gateway;

use std::time::Duration;

use kfp_client::{AuthConfig, ClientConfig, HttpKfpClient, RetryPolicy};
use wiremock::{Mock, MockServer, Request};

/// A running wiremock server and the runtime that talks to it.
pub struct Wire {
    pub runtime: tokio::runtime::Runtime,
    pub server: MockServer,
}

impl Wire {
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = runtime.block_on(MockServer::start());
        Self { runtime, server }
    }

    pub fn mount(&self, mock: Mock) {
        self.runtime.block_on(mock.mount(&self.server));
    }

    /// Every request the server received, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.runtime
            .block_on(self.server.received_requests())
            .unwrap_or_default()
    }

    /// Checks the `expect(...)` counts of the mounted mocks.
    pub fn verify(&self) {
        self.runtime.block_on(self.server.verify());
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The API URL in the gateway form `{server}/pipeline`.
    pub fn api_url(&self) -> String {
        format!("{}/pipeline", self.server.uri())
    }

    /// A client config for `{server}/pipeline` with fast retries and no proxy.
    pub fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new(self.api_url());
        config.proxy_from_env = false;
        config.retry = RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
        };
        config
    }

    pub fn client(&self) -> HttpKfpClient {
        HttpKfpClient::new(self.config()).unwrap()
    }

    pub fn client_with(&self, auth: AuthConfig) -> HttpKfpClient {
        HttpKfpClient::new(self.config().with_auth(auth)).unwrap()
    }
}

/// The request's path with its raw (still encoded) query, as the server saw it.
pub fn path_and_query(request: &Request) -> String {
    match request.url.query() {
        Some(query) => format!("{}?{}", request.url.path(), query),
        None => request.url.path().to_owned(),
    }
}

/// Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte; a bad escape is an error.
pub fn go_query_unescape(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = text
                    .get(i + 1..i + 3)
                    .ok_or_else(|| format!("invalid URL escape at {i}"))?;
                let byte = u8::from_str_radix(hex, 16)
                    .map_err(|_| format!("invalid URL escape {hex:?}"))?;
                out.push(byte);
                i += 3;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|err| err.to_string())
}

/// The query parameters as Go's `url.ParseQuery` decodes them (one decoding), in order.
pub fn go_parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                go_query_unescape(key).unwrap(),
                go_query_unescape(value).unwrap(),
            )
        })
        .collect()
}

/// The filter JSON exactly as the KFP server reads it: query decoding, then a second `QueryUnescape`.
pub fn server_side_filter(request: &Request) -> Option<String> {
    let query = request.url.query()?;
    let (_, value) = go_parse_query(query)
        .into_iter()
        .find(|(key, _)| key == "filter")?;
    Some(go_query_unescape(&value).expect("the server's second decoding fails"))
}

/// One recorded request of the official SDK (`tests/fixtures/*.jsonl`).
#[derive(Debug, serde::Deserialize)]
pub struct SdkRequest {
    pub method: String,
    pub path: String,
    pub headers: std::collections::BTreeMap<String, String>,
    pub body: String,
}

pub fn sdk_requests(file: &str) -> Vec<SdkRequest> {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The SDK request whose method and path (without query) match.
pub fn sdk_request<'a>(
    requests: &'a [SdkRequest],
    method: &str,
    path_prefix: &str,
) -> &'a SdkRequest {
    requests
        .iter()
        .find(|r| r.method == method && r.path.split('?').next() == Some(path_prefix))
        .unwrap_or_else(|| panic!("no SDK capture of {method} {path_prefix}"))
}

/// The query of an SDK capture, decoded once like Go does.
pub fn sdk_query(request: &SdkRequest) -> Vec<(String, String)> {
    request
        .path
        .split_once('?')
        .map(|(_, q)| go_parse_query(q))
        .unwrap_or_default()
}

/// The query of a received request, decoded once like Go does.
pub fn query(request: &Request) -> Vec<(String, String)> {
    request.url.query().map(go_parse_query).unwrap_or_default()
}
