//! Tokens, passwords and session cookies never reach `Debug`, `Display`, errors or log output.
//!
//! One test per binary: it installs the global log subscriber (bridging the `log` records of the HTTP library
//! too) at TRACE level, with the HTTP library's raw byte dump capped as documented at
//! `kfp_client::WIRE_DUMP_LOG_TARGET`, and captures everything written.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use kfp_client::{
    AuthConfig, ClientConfig, DexAuthType, HttpKfpClient, KfpApi, ListOptions, Secret,
};
use support::Wire;
use support::gateway::{PASSWORD, default_gateway, dex, gateway};
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

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.very-secret-token";

#[test]
fn secrets_appear_in_no_debug_display_error_or_log_output() {
    let captured = Captured::default();
    let writer = captured.clone();
    // Everything at TRACE, except the HTTP library's raw byte dump, as the CLI configures it.
    let filter = tracing_subscriber::EnvFilter::new(format!(
        "trace,{}=off",
        kfp_client::WIRE_DUMP_LOG_TARGET
    ));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let mut shown = Vec::<String>::new();

    // Dex: a full login, an expired session, a wrong password.
    let wire = Wire::start();
    let state = gateway(&wire, default_gateway());
    let config = wire.config().with_auth(dex(PASSWORD, DexAuthType::Local));
    shown.push(format!("{config:?}"));
    let client = HttpKfpClient::new(config).unwrap();
    client
        .list_experiments(&ListOptions::namespace("ns"))
        .unwrap();
    state.lock().unwrap().valid_sessions.clear();
    client
        .list_experiments(&ListOptions::namespace("ns"))
        .unwrap();
    shown.push(format!("{client:?}"));
    let wrong = HttpKfpClient::new(
        wire.config()
            .with_auth(dex("not-the-password-42", DexAuthType::Local)),
    )
    .unwrap();
    let err = wrong.healthz().unwrap_err();
    shown.push(format!("{err:?}"));
    shown.push(err.to_string());
    let sessions = state.lock().unwrap().valid_sessions.clone();
    assert!(!sessions.is_empty());

    // A bearer token, rejected, and a token file.
    let api = Wire::start();
    api.mount(
        Mock::given(any()).respond_with(ResponseTemplate::new(401).set_body_string("denied")),
    );
    let config = api
        .config()
        .with_auth(AuthConfig::Token(Secret::new(TOKEN)));
    shown.push(format!("{config:?}"));
    let client = HttpKfpClient::new(config).unwrap();
    let err = client.get_job("j").unwrap_err();
    shown.push(format!("{err:?}"));
    shown.push(err.to_string());
    shown.push(format!("{client:?}"));
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let client =
        HttpKfpClient::new(api.config().with_auth(AuthConfig::TokenFile(token_file))).unwrap();
    let _ = client.healthz();
    shown.push(format!("{client:?}"));
    shown.push(format!(
        "{:?}",
        ClientConfig::new("http://x").with_auth(AuthConfig::Token(Secret::new(TOKEN)))
    ));
    assert!(
        api.requests()
            .iter()
            .any(|r| r.headers.get("authorization").unwrap() == format!("Bearer {TOKEN}").as_str()),
        "the token was really sent, so its absence below means something"
    );

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("logged in to Dex"),
        "logging was captured: {logs}"
    );
    let everything = format!("{}\n{logs}", shown.join("\n"));
    for secret in [PASSWORD, "not-the-password-42", TOKEN, "second-part"]
        .into_iter()
        .chain(sessions.iter().map(String::as_str))
    {
        assert!(
            !everything.contains(secret),
            "{secret:?} leaked into:\n{everything}"
        );
    }
    // Encoded forms of the password must not leak either.
    let encoded: String = url::form_urlencoded::byte_serialize(PASSWORD.as_bytes()).collect();
    assert!(!everything.contains(&encoded));
}
