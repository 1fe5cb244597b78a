//! Transport failures of the HTTP library as typed errors, shared by the API client and the Dex login.

use crate::error::{Error, TransportKind};

/// A URL without its query (which may carry OAuth state), for messages.
pub(crate) fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

pub(crate) fn is_tls_error(err: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
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
