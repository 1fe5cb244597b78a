//! The daemon's HTTP endpoints: `/healthz`, `/readyz` and `/metrics`, served by one thread.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use tiny_http::{Header, Method, Response, Server};

use super::health::{Health, Readiness};
use super::metrics::{self, Metrics};

/// A running HTTP server; [`HttpServer::stop`] ends it.
pub struct HttpServer {
    server: Arc<Server>,
    address: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

/// Why the HTTP server could not start.
#[derive(Debug)]
pub struct BindError {
    pub address: SocketAddr,
    pub message: String,
}

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot listen on {}: {}", self.address, self.message)
    }
}

impl std::error::Error for BindError {}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl HttpServer {
    pub fn start(
        address: SocketAddr,
        health: Arc<Health>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, BindError> {
        let server = Server::http(address).map_err(|err| BindError {
            address,
            message: err.to_string(),
        })?;
        let bound = server.server_addr().to_ip().unwrap_or(address);
        let server = Arc::new(server);
        let serving = Arc::clone(&server);
        let thread = std::thread::Builder::new()
            .name("http".to_owned())
            .spawn(move || {
                for request in serving.incoming_requests() {
                    let response = answer(request.method(), request.url(), &health, &metrics);
                    if let Err(err) = request.respond(response) {
                        tracing::debug!("could not answer an HTTP request: {err}");
                    }
                }
            })
            .map_err(|err| BindError {
                address,
                message: format!("cannot start the HTTP thread: {err}"),
            })?;
        Ok(Self {
            server,
            address: bound,
            thread: Some(thread),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn text(status: u16, body: String, content_type: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    let response = Response::from_string(body).with_status_code(status);
    // The content types are ASCII constants, which tiny_http always accepts.
    match Header::from_bytes(&b"Content-Type"[..], content_type.as_bytes()) {
        Ok(header) => response.with_header(header),
        Err(()) => response,
    }
}

/// The response to one request (pure, for tests).
fn answer(
    method: &Method,
    url: &str,
    health: &Health,
    metrics: &Metrics,
) -> Response<std::io::Cursor<Vec<u8>>> {
    let path = url.split('?').next().unwrap_or("");
    if !matches!(method, Method::Get | Method::Head) {
        return text(
            405,
            "method not allowed\n".to_owned(),
            "text/plain; charset=utf-8",
        );
    }
    match path {
        "/healthz" => text(200, "ok\n".to_owned(), "text/plain; charset=utf-8"),
        "/readyz" => {
            let readiness = health.readiness(Instant::now());
            let status = if readiness == Readiness::Ready {
                200
            } else {
                503
            };
            text(
                status,
                format!("{}\n", readiness.summary()),
                "text/plain; charset=utf-8",
            )
        }
        "/metrics" => text(200, metrics.encode(), metrics::CONTENT_TYPE),
        _ => text(
            404,
            "not found: try /healthz, /readyz or /metrics\n".to_owned(),
            "text/plain; charset=utf-8",
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use super::*;

    fn get(address: SocketAddr, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response[9..12].parse().unwrap();
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    #[test]
    fn serves_health_readiness_and_metrics_over_http() {
        let health = Arc::new(Health::new(Duration::from_secs(60)));
        let metrics = Arc::new(Metrics::new());
        let server = HttpServer::start(
            "127.0.0.1:0".parse().unwrap(),
            Arc::clone(&health),
            Arc::clone(&metrics),
        )
        .unwrap();
        let address = server.address();
        assert_eq!(get(address, "/healthz"), (200, "ok\n".to_owned()));
        assert_eq!(
            get(address, "/readyz"),
            (503, "not ready: no successful reconcile yet\n".to_owned())
        );
        health.record_success(Instant::now());
        assert_eq!(get(address, "/readyz"), (200, "ok\n".to_owned()));
        let (status, body) = get(address, "/metrics");
        assert_eq!(status, 200);
        assert!(
            body.contains("# TYPE kfp_gitops_reconcile counter"),
            "{body}"
        );
        assert_eq!(get(address, "/nope").0, 404);
        // Returns (rather than hanging) once the serving thread has ended.
        server.stop();
    }
}
