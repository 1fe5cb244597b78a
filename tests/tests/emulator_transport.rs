//! The emulator's HTTP layer and life cycle: keep-alive, chunked bodies, the body limit, state files, the
//! `kfp-emulator` binary, stopping on drop.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use kfp_gitops_tests::emulator::{Emulator, EmulatorConfig, client};
use serde_json::json;

const API: &str = "/apis/v1beta1";

#[test]
fn one_connection_carries_several_requests() {
    let emulator = Emulator::start(EmulatorConfig::single_user()).unwrap();
    let stream = TcpStream::connect(emulator.addr()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    for _ in 0..3 {
        write!(writer, "GET {API}/healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let response = client::read_response(&mut reader).unwrap();
        assert_eq!(response.status, 200);
        assert!(response.text().contains("multi_user"));
    }
}

#[test]
fn chunked_request_bodies_are_read() {
    let emulator = Emulator::start(EmulatorConfig::single_user()).unwrap();
    let mut stream = TcpStream::connect(emulator.addr()).unwrap();
    let body = r#"{"name": "chunked"}"#;
    let (first, second) = body.split_at(7);
    write!(
        stream,
        "POST {API}/experiments HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
        first.len(),
        second.len()
    )
    .unwrap();
    let response = client::read_response(&mut BufReader::new(stream)).unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["name"], json!("chunked"));
}

/// CONTRACT §5: uploads read at most 32 MiB; the emulator holds JSON bodies to the same limit.
const LIMIT: usize = 32 * 1024 * 1024;

/// `{"name": <name>}` padded with trailing spaces (insignificant JSON whitespace) to exactly `len` bytes.
fn padded_experiment(name: &str, len: usize) -> Vec<u8> {
    let mut body = json!({"name": name}).to_string().into_bytes();
    body.resize(len, b' ');
    body
}

fn post_experiment(emulator: &Emulator, body: &[u8]) -> client::RawResponse {
    client::send(
        emulator.addr(),
        "POST",
        &format!("{API}/experiments"),
        &[("Content-Type", "application/json")],
        body,
    )
    .unwrap()
}

fn assert_refused_as_too_large(response: &client::RawResponse, size: usize) {
    assert_eq!(response.status, 429, "{}", response.text());
    assert_eq!(
        response.json(),
        json!({
            "error": format!("grpc: received message larger than max ({size} vs. 33554432)"),
            "code": 8,
            "message": format!("grpc: received message larger than max ({size} vs. 33554432)")
        })
    );
}

#[test]
fn a_json_body_of_exactly_32_mib_is_read_and_one_byte_more_is_refused_with_its_size() {
    let emulator = Emulator::start(EmulatorConfig::single_user()).unwrap();
    let at_limit = post_experiment(&emulator, &padded_experiment("at-limit", LIMIT));
    assert_eq!(at_limit.status, 200, "{}", at_limit.text());
    assert_eq!(at_limit.json()["name"], json!("at-limit"));

    let over = post_experiment(&emulator, &padded_experiment("over", LIMIT + 1));
    assert_refused_as_too_large(&over, LIMIT + 1);

    let far_over = post_experiment(&emulator, &padded_experiment("far-over", 33 * 1024 * 1024));
    assert_refused_as_too_large(&far_over, 33 * 1024 * 1024);

    let names = emulator
        .request("GET", &format!("{API}/experiments?sort_by=name"), None)
        .unwrap()
        .json();
    let names: Vec<&str> = names["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["at-limit", "Default"]);
}

#[test]
fn an_oversized_chunked_body_is_refused_with_its_full_size() {
    let emulator = Emulator::start(EmulatorConfig::single_user()).unwrap();
    let body = padded_experiment("chunked", 33 * 1024 * 1024 + 5);
    let mut stream = TcpStream::connect(emulator.addr()).unwrap();
    write!(
        stream,
        "POST {API}/experiments HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    for chunk in body.chunks(1024 * 1024) {
        write!(stream, "{:x}\r\n", chunk.len()).unwrap();
        stream.write_all(chunk).unwrap();
        stream.write_all(b"\r\n").unwrap();
    }
    stream.write_all(b"0\r\n\r\n").unwrap();
    let response = client::read_response(&mut BufReader::new(stream)).unwrap();
    assert_refused_as_too_large(&response, body.len());
}

fn upload_file(emulator: &Emulator, filename: &str, content: &[u8]) -> client::RawResponse {
    let boundary = "b0a2e1";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"uploadfile\"; filename=\"{filename}\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    client::send(
        emulator.addr(),
        "POST",
        &format!("{API}/pipelines/upload?name=big"),
        &[(
            "Content-Type",
            &format!("multipart/form-data; boundary={boundary}"),
        )],
        &body,
    )
    .unwrap()
}

#[test]
fn an_uploaded_file_of_exactly_32_mib_is_read_and_one_byte_more_is_refused() {
    let emulator = Emulator::start(EmulatorConfig::single_user()).unwrap();
    let mut package =
        br#"{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "spec": {}}"#.to_vec();
    package.resize(LIMIT, b' ');
    let at_limit = upload_file(&emulator, "big.json", &package);
    assert_eq!(at_limit.status, 200, "{}", at_limit.text());
    assert_eq!(at_limit.json()["name"], json!("big"));

    package.push(b' ');
    let too_large = json!(
        "Error read pipeline file.: Invalid input error: File size too large. Maximum supported size: 33554432"
    );
    let over = upload_file(&emulator, "big.json", &package);
    assert_eq!(over.status, 400);
    assert_eq!(over.json()["error_message"], too_large);

    // A body too large to be kept at all gets the same answer.
    let huge = upload_file(&emulator, "big.json", &vec![b' '; LIMIT + 1024 * 1024]);
    assert_eq!(huge.status, 400);
    assert_eq!(huge.json()["error_message"], too_large);
    // The server still answers afterwards.
    assert_eq!(
        emulator
            .request("GET", &format!("{API}/healthz"), None)
            .unwrap()
            .status,
        200
    );
}

#[test]
fn a_state_file_is_loaded_at_start_and_on_reset() {
    let first = Emulator::start(EmulatorConfig::single_user()).unwrap();
    first
        .request(
            "POST",
            &format!("{API}/experiments"),
            Some(&json!({"name": "kept"})),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    std::fs::write(&path, first.state().to_string()).unwrap();

    let config = EmulatorConfig {
        state_file: Some(path),
        ..EmulatorConfig::single_user()
    };
    let second = Emulator::start(config).unwrap();
    let list = || {
        second
            .request("GET", &format!("{API}/experiments?sort_by=name"), None)
            .unwrap()
            .json()
    };
    assert_eq!(list()["total_size"], json!(2));
    second
        .request(
            "POST",
            &format!("{API}/experiments"),
            Some(&json!({"name": "later"})),
        )
        .unwrap();
    assert_eq!(list()["total_size"], json!(3));
    second.reset();
    assert_eq!(list()["experiments"][1]["name"], json!("kept"));
    assert_eq!(list()["total_size"], json!(2));

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{not json").unwrap();
    let error = Emulator::start(EmulatorConfig {
        state_file: Some(broken),
        ..EmulatorConfig::single_user()
    })
    .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
}

#[test]
fn the_emulator_stops_listening_when_dropped() {
    let emulator = Emulator::start(EmulatorConfig::single_user()).unwrap();
    let addr = emulator.addr();
    let idle = TcpStream::connect(addr).unwrap();
    drop(emulator);
    assert!(TcpStream::connect(addr).is_err());
    let mut reader = BufReader::new(idle);
    let mut line = String::new();
    assert_eq!(
        reader.read_line(&mut line).unwrap_or(0),
        0,
        "open connections are closed"
    );
}

#[test]
fn the_binary_prints_its_address_and_serves_the_chosen_mode() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kfp-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--multi-user",
            "--auth",
            "token",
            "--token",
            "t1",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on http://")
        .expect("the address line")
        .to_owned();
    let addr = base.parse().unwrap();
    let health = client::send(addr, "GET", &format!("{API}/healthz"), &[], b"").unwrap();
    let unauthenticated = client::send(
        addr,
        "GET",
        &format!("{API}/jobs?resource_reference_key.type=NAMESPACE&resource_reference_key.id=ns"),
        &[],
        b"",
    )
    .unwrap();
    let authenticated = client::send(
        addr,
        "GET",
        &format!("{API}/jobs?resource_reference_key.type=NAMESPACE&resource_reference_key.id=ns"),
        &[("Authorization", "Bearer t1")],
        b"",
    )
    .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(health.text().contains("\"multi_user\":true"));
    assert_eq!(unauthenticated.status, 500);
    assert_eq!(authenticated.status, 200);
}

#[test]
fn the_binary_in_dex_mode_says_the_api_is_under_pipeline() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kfp-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--multi-user",
            "--auth",
            "dex",
            "--dex-user",
            "user1@example.com",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let (mut first, mut second) = (String::new(), String::new());
    reader.read_line(&mut first).unwrap();
    reader.read_line(&mut second).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let base = first
        .trim()
        .strip_prefix("listening on ")
        .expect("the address line comes first, unchanged");
    assert_eq!(
        second.trim(),
        format!(
            "Dex mode: the KFP API is under {base}/pipeline (--api-url {base}/pipeline), behind a Dex login \
             as user1@example.com"
        )
    );
}

#[test]
fn the_binary_refuses_token_mode_without_tokens() {
    let output = Command::new(env!("CARGO_BIN_EXE_kfp-emulator"))
        .args(["--listen", "127.0.0.1:0", "--auth", "token"])
        .env_remove("KFP_EMULATOR_TOKENS")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--auth token needs at least one --token")
    );
}

#[test]
fn expect_100_continue_is_answered_before_the_body() {
    let emulator = Emulator::start(EmulatorConfig::single_user()).unwrap();
    let stream = TcpStream::connect(emulator.addr()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let body = r#"{"name": "patient"}"#;
    write!(
        writer,
        "POST {API}/experiments HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    let mut interim = String::new();
    reader.read_line(&mut interim).unwrap();
    assert_eq!(interim, "HTTP/1.1 100 Continue\r\n");
    let mut blank = String::new();
    reader.read_line(&mut blank).unwrap();
    assert_eq!(blank, "\r\n");
    writer.write_all(body.as_bytes()).unwrap();
    let response = client::read_response(&mut reader).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["name"], json!("patient"));
}
