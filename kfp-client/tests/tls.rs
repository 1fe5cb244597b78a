//! TLS: verified by default, a private CA from a PEM file, and an explicit, logged opt-out.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use kfp_client::{ClientConfig, Error, HttpKfpClient, KfpApi, TransportKind};
use support::Wire;
use wiremock::matchers::any;
use wiremock::{Mock, ResponseTemplate};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs_of(f: impl FnOnce()) -> String {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn skipping_tls_verification_is_logged_as_a_warning() {
    let logs = logs_of(|| {
        let mut config = ClientConfig::new("https://kfp.example.com/pipeline");
        config.tls.skip_verify = true;
        HttpKfpClient::new(config).unwrap();
    });
    assert!(logs.contains("WARN"), "{logs}");
    assert!(
        logs.contains("TLS certificate verification is disabled"),
        "{logs}"
    );
    let quiet = logs_of(|| {
        HttpKfpClient::new(ClientConfig::new("https://kfp.example.com/pipeline")).unwrap();
    });
    assert!(!quiet.contains("WARN"), "{quiet}");
}

#[test]
fn a_pem_file_with_a_ca_certificate_is_accepted() {
    let mut config = ClientConfig::new("https://kfp.example.com/pipeline");
    config.tls.ca_cert =
        Some(format!("{}/tests/fixtures/test-ca.pem", env!("CARGO_MANIFEST_DIR")).into());
    HttpKfpClient::new(config).unwrap();
}

#[test]
fn a_tls_handshake_with_a_server_that_does_not_speak_tls_is_a_transport_error_not_an_answer() {
    let wire = Wire::start();
    wire.mount(Mock::given(any()).respond_with(ResponseTemplate::new(200).set_body_string("{}")));
    let https = wire.uri().replace("http://", "https://");
    let mut config = ClientConfig::new(format!("{https}/pipeline"));
    config.proxy_from_env = false;
    config.retry = kfp_client::RetryPolicy::none();
    let err = HttpKfpClient::new(config).unwrap().healthz().unwrap_err();
    match &err {
        Error::Transport { kind, .. } => {
            assert_eq!(*kind, TransportKind::Tls, "{err:?}");
            assert!(!err.is_ambiguous(), "a failed handshake sent nothing");
        }
        other => panic!("{other:?}"),
    }
}
