//! Secrets stay secret: the real binary is run with distinctive secret values in every place a user may put
//! one (KFP_TOKEN, DEX_PASSWORD, GITHUB_TOKEN, the user info of a `git_url`, of GITHUB_API_URL and of
//! KFP_API_URL), at the most verbose log level, in text and JSON, on success and failure paths; none of the
//! values may appear in stdout, stderr, JSON output, `--help`, or the command line and environment of a child
//! process (a fake `git` on PATH and a render command record theirs).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kfp_gitops_tests::emulator::{AuthMode, Emulator, EmulatorConfig};

const KFP_TOKEN: &str = "kfptok-Zr81-SECRET";
const DEX_PASSWORD: &str = "dexpw-Lm34-SECRET";
const GITHUB_TOKEN: &str = "ghp_tok-Qw90-SECRET";
const GIT_PASSWORD: &str = "gitpw-7Xq2-SECRET";
const GITHUB_API_PASSWORD: &str = "ghapi-Ux12-SECRET";
const API_URL_PASSWORD: &str = "apiurl-Vb77-SECRET";
const QUERY_TOKEN: &str = "qtok-Ha55-SECRET";
const FILE_TOKEN: &str = "filetok-Pp43-SECRET";
/// A user name holding an `@`: redaction must cut at the last `@` of the authority.
const GIT_USER: &str = "me@corp.example";
/// `base64("me@corp.example:gitpw-7Xq2-SECRET")`: what git must receive in its `Authorization` header.
const GIT_BASIC: &str = "bWVAY29ycC5leGFtcGxlOmdpdHB3LTdYcTItU0VDUkVU";

const SECRETS: &[&str] = &[
    KFP_TOKEN,
    DEX_PASSWORD,
    GITHUB_TOKEN,
    GIT_PASSWORD,
    GITHUB_API_PASSWORD,
    API_URL_PASSWORD,
    QUERY_TOKEN,
    FILE_TOKEN,
];

const NAMESPACE: &str = "team-1";

const WORKFLOW: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: hello-pipeline-
  annotations:
    pipelines.kubeflow.org/kfp_sdk_version: 1.8.22
    pipelines.kubeflow.org/pipeline_compilation_time: '2024-01-02T03:04:05.000000'
    pipelines.kubeflow.org/pipeline_spec: '{"inputs": [{"name": "message", "type": "String"}], "name": "hello-pipeline"}'
spec:
  entrypoint: hello-pipeline
  arguments:
    parameters:
    - {name: message}
  serviceAccountName: pipeline-runner
  templates:
  - name: hello-pipeline
    container:
      image: alpine:3.18
      command: [echo, '{{inputs.parameters.message}}']
    inputs:
      parameters:
      - {name: message}
"#;

#[track_caller]
fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "{what} shows the secret {secret}:\n{text}"
        );
    }
}

#[track_caller]
fn assert_output_has_no_secret(output: &Output) {
    assert_no_secret("stdout", &String::from_utf8_lossy(&output.stdout));
    assert_no_secret("stderr", &String::from_utf8_lossy(&output.stderr));
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The binary with an environment holding only the given secrets (nothing inherited that names a KFP).
fn kfp_gitops(dir: &Path) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("kfp-gitops"));
    for var in [
        "KFP_API_URL",
        "KFP_NAMESPACE",
        "KFP_TOKEN",
        "KF_PIPELINES_SA_TOKEN_PATH",
        "DEX_USERNAME",
        "DEX_PASSWORD",
        "DEX_AUTH_TYPE",
        "GITHUB_TOKEN",
        "GITHUB_API_URL",
        "RUST_LOG",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
        "KFP_GITOPS_LOG_FORMAT",
    ] {
        command.env_remove(var);
    }
    command
        .env("NO_COLOR", "1")
        .env("KFP_GITOPS_CACHE_DIR", dir.join("cache"))
        .current_dir(dir);
    command
}

/// A fake `git` on PATH: it appends its arguments and environment to `git.log` and acts as a remote that
/// serves `WORKFLOW` at every reference, or (with `fail`) as one that cannot be reached and says so with the
/// URL it was given, as git does.
struct FakeGit {
    bin: PathBuf,
    log: PathBuf,
}

impl FakeGit {
    fn install(dir: &Path, fail: bool) -> Self {
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let log = dir.join("git.log");
        let workflow = dir.join("served-workflow.yaml");
        std::fs::write(&workflow, WORKFLOW).unwrap();
        let fetch = if fail {
            "for a in \"$@\"; do case \"$a\" in *://*) url=\"$a\";; esac; done\n    \
             echo \"fatal: unable to access '$url': Could not resolve host: git.invalid\" >&2; exit 128"
        } else {
            "exit 0"
        };
        let script = format!(
            "#!/bin/sh\n\
             {{ printf 'ARGV'; for a in \"$@\"; do printf ' [%s]' \"$a\"; done; printf '\\n'; env | sed 's/^/ENV /'; }} >> '{log}'\n\
             for a in \"$@\"; do last=\"$a\"; done\n\
             case \" $* \" in\n\
             *\" init \"*) mkdir -p \"$last\" && : > \"$last/HEAD\"; exit 0 ;;\n\
             *\" fetch \"*)\n    {fetch} ;;\n\
             *\" rev-parse \"*) echo 0123456789abcdef0123456789abcdef01234567; exit 0 ;;\n\
             *\" cat-file -e \"*) exit 1 ;;\n\
             *\" cat-file blob \"*) cat '{workflow}'; exit 0 ;;\n\
             esac\n\
             echo \"fake git: unexpected $*\" >&2; exit 2\n",
            log = log.display(),
            workflow = workflow.display(),
        );
        let git = bin.join("git");
        std::fs::write(&git, script).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&git, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Self { bin, log }
    }

    /// PATH with the fake git first.
    fn path(&self) -> std::ffi::OsString {
        let mut paths = vec![self.bin.clone()];
        paths.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        std::env::join_paths(paths).unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The argument lines and the environment lines of every call.
    fn calls(&self) -> (Vec<String>, Vec<String>) {
        let log = self.log();
        let argv = log
            .lines()
            .filter(|l| l.starts_with("ARGV"))
            .map(str::to_owned)
            .collect();
        let env = log
            .lines()
            .filter(|l| l.starts_with("ENV "))
            .map(str::to_owned)
            .collect();
        (argv, env)
    }
}

/// A config folder (below a repository root) whose one recurring run takes its pipeline from `git_url`.
fn git_config(dir: &Path, git_url: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    let config = dir.join("team-1");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("experiments.yaml"),
        "experiments:\n  - name: e\n",
    )
    .unwrap();
    std::fs::write(
        config.join("recurring_runs.yaml"),
        format!(
            "recurring_runs:\n  - pipeline_source:\n      git_url: \"{git_url}\"\n      git_reference: main\n      \
             file_path: pipeline.yaml\n    pipeline_parameters:\n      - name: message\n        value: hi\n    job:\n      \
             enabled: true\n      name: j\n      experiment: e\n      max_concurrency: 1\n      trigger:\n        \
             catchup: false\n        interval_seconds: 3600\n"
        ),
    )
    .unwrap();
    config
}

fn github_config(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    let config = dir.join("team-1");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("experiments.yaml"),
        "experiments:\n  - name: e\n",
    )
    .unwrap();
    std::fs::write(
        config.join("recurring_runs.yaml"),
        "recurring_runs:\n  - pipeline_source:\n      github_owner: o\n      github_repo: r\n      git_reference: main\n      \
         file_path: pipeline.yaml\n    job:\n      enabled: true\n      name: j\n      experiment: e\n      \
         max_concurrency: 1\n      trigger:\n        catchup: false\n        interval_seconds: 3600\n",
    )
    .unwrap();
    config
}

fn git_url() -> String {
    format!("https://{GIT_USER}:{GIT_PASSWORD}@git.invalid/team/pipelines.git")
}

#[test]
fn a_git_source_with_credentials_is_shown_redacted_and_git_gets_them_only_through_its_environment()
{
    let dir = tempfile::tempdir().unwrap();
    let git = FakeGit::install(dir.path(), false);
    let config = git_config(dir.path(), &git_url());
    let emulator = Emulator::start(
        EmulatorConfig::multi_user()
            .with_auth(AuthMode::Token(BTreeSet::from([KFP_TOKEN.to_owned()]))),
    )
    .unwrap();
    for log_format in ["text", "json"] {
        let output = kfp_gitops(dir.path())
            .env("PATH", git.path())
            .env("KFP_TOKEN", KFP_TOKEN)
            .env("GITHUB_TOKEN", GITHUB_TOKEN)
            .args(["--api-url", &emulator.base_url(), "-n", NAMESPACE])
            .args(["--log-level", "trace", "--log-format", log_format])
            .args(["plan", "-o", "json", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
        assert_output_has_no_secret(&output);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("https://***@git.invalid/team/pipelines.git"),
            "the plan names the source, redacted: {stdout}"
        );
    }
    let (argv, env) = git.calls();
    assert!(!argv.is_empty());
    for line in &argv {
        assert!(!line.contains(GIT_PASSWORD), "git's command line: {line}");
        assert!(!line.contains("corp.example"), "git's command line: {line}");
    }
    let fetches: Vec<&String> = argv.iter().filter(|l| l.contains("[fetch]")).collect();
    assert!(!fetches.is_empty(), "{argv:?}");
    for fetch in fetches {
        assert!(
            fetch.starts_with("ARGV [-c] [credential.helper=]")
                && fetch.contains("[https://git.invalid/team/pipelines.git]"),
            "the fetch gets the URL without user info, credential helpers off: {fetch}"
        );
    }
    for line in &env {
        assert_no_secret("git's environment", line);
    }
    assert!(
        env.iter()
            .any(|l| l == "ENV GIT_CONFIG_KEY_0=http.extraHeader"),
        "{env:?}"
    );
    assert!(
        env.iter()
            .any(|l| *l == format!("ENV GIT_CONFIG_VALUE_0=Authorization: Basic {GIT_BASIC}")),
        "{env:?}"
    );
}

#[test]
fn failures_and_skips_naming_a_git_source_show_no_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let git = FakeGit::install(dir.path(), true);
    let url = format!("https://{GIT_USER}:{GIT_PASSWORD}@git.invalid/team/pipelines.git");
    let config = git_config(dir.path(), &url);
    for extra in [
        &["--log-level", "trace"][..],
        &["--log-level", "trace", "--log-format", "json", "-o", "json"],
        &["--offline"],
        &["--offline", "-o", "json"],
    ] {
        let output = kfp_gitops(dir.path())
            .env("PATH", git.path())
            .env("DEX_USERNAME", "someone@example.com")
            .env("DEX_PASSWORD", DEX_PASSWORD)
            .env("GITHUB_TOKEN", GITHUB_TOKEN)
            .arg("validate")
            .args(extra)
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert!(
            !output.status.success() || extra.contains(&"--offline"),
            "{}",
            text(&output)
        );
        assert_output_has_no_secret(&output);
        assert!(
            text(&output).contains("https://***@git.invalid/team/pipelines.git"),
            "{extra:?}: {}",
            text(&output)
        );
    }
    let (argv, env) = git.calls();
    assert!(argv.iter().any(|l| l.contains("[fetch]")), "{argv:?}");
    for line in argv.iter().chain(&env) {
        assert_no_secret("git's command line or environment", line);
    }
}

#[test]
fn a_token_in_the_query_of_a_git_url_is_not_shown() {
    let dir = tempfile::tempdir().unwrap();
    let config = git_config(
        dir.path(),
        &format!("https://git.invalid/team/pipelines.git?Access_Token={QUERY_TOKEN}"),
    );
    for extra in [&["--offline"][..], &["--offline", "-o", "json"]] {
        let output = kfp_gitops(dir.path())
            .args(["--log-level", "trace", "validate"])
            .args(extra)
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert_output_has_no_secret(&output);
        assert!(
            text(&output).contains("https://git.invalid/team/pipelines.git?Access_Token=***"),
            "{}",
            text(&output)
        );
    }
}

#[test]
fn the_github_api_url_and_kfp_api_url_are_never_shown_with_their_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let config = github_config(dir.path());
    // Nothing listens on port 9 of the loopback: "cannot reach" names the URL.
    let github = format!("http://user:{GITHUB_API_PASSWORD}@127.0.0.1:9/api/v3");
    let output = kfp_gitops(dir.path())
        .env("GITHUB_API_URL", &github)
        .env("GITHUB_TOKEN", GITHUB_TOKEN)
        .args(["--log-level", "trace", "validate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("http://***@127.0.0.1:9/api/v3"),
        "{}",
        text(&output)
    );
    assert_output_has_no_secret(&output);

    let api_url = format!("https://user:{API_URL_PASSWORD}@kfp.example/pipeline");
    for args in [
        &["--help"][..],
        &["plan", "--help"],
        &["validate", "--help"],
        &["watch", "--help"],
        &["ping"],
    ] {
        let output = kfp_gitops(dir.path())
            .env("KFP_API_URL", &api_url)
            .env("GITHUB_API_URL", &github)
            .args(args)
            .output()
            .unwrap();
        assert_output_has_no_secret(&output);
    }
}

/// A server that answers every request with HTTP 500 and a body that echoes the request's headers,
/// followed by a long tail, as some gateways do; returns its URL.
fn echoing_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                headers.push_str(&line);
            }
            let body = format!(
                "upstream error; your request was:\n{headers}\n{}",
                "x".repeat(20_000)
            );
            let _ = write!(
                stream,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{address}/pipeline")
}

#[test]
fn server_bodies_that_echo_the_token_are_masked_and_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{FILE_TOKEN}\n")).unwrap();
    let api = echoing_server();
    for args in [
        &["ping"][..],
        &["-o", "json", "--log-level", "trace", "ping"],
    ] {
        for with_file in [false, true] {
            let mut command = kfp_gitops(dir.path());
            if with_file {
                command.env("KF_PIPELINES_SA_TOKEN_PATH", &token_file);
            } else {
                command.env("KFP_TOKEN", KFP_TOKEN);
            }
            let output = command
                .args(["--api-url", &api])
                .args(args)
                .output()
                .unwrap();
            assert!(!output.status.success(), "{}", text(&output));
            assert!(text(&output).contains("HTTP 500"), "{}", text(&output));
            assert_output_has_no_secret(&output);
            assert!(
                output.stdout.len() + output.stderr.len() < 12_000,
                "the 20 kB body is cut to an excerpt: {}",
                text(&output)
            );
        }
    }
}

#[test]
fn render_commands_inherit_none_of_the_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("render-env");
    std::fs::write(
        dir.path().join("render.sh"),
        format!(
            "set -e\nenv > '{}'\ncat > \"$1/workflow.yaml\" <<'EOF'\n{WORKFLOW}EOF\n",
            env_file.display()
        ),
    )
    .unwrap();
    let output = kfp_gitops(dir.path())
        .env("KFP_TOKEN", KFP_TOKEN)
        .env("DEX_USERNAME", "someone@example.com")
        .env("DEX_PASSWORD", DEX_PASSWORD)
        .env("GITHUB_TOKEN", GITHUB_TOKEN)
        .args([
            "render",
            "--workdir",
            ".",
            "--",
            "sh",
            "render.sh",
            "{output}",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let env = std::fs::read_to_string(&env_file).unwrap();
    assert!(env.contains("PATH="), "{env}");
    assert_no_secret("the render command's environment", &env);
    for name in [
        "KFP_TOKEN=",
        "DEX_PASSWORD=",
        "DEX_USERNAME=",
        "GITHUB_TOKEN=",
    ] {
        assert!(!env.lines().any(|l| l.starts_with(name)), "{name} in {env}");
    }
}

#[test]
fn skipping_tls_verification_is_announced_even_at_log_level_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = kfp_gitops(dir.path())
        .args([
            "--api-url",
            "https://127.0.0.1:9/pipeline",
            "--log-level",
            "error",
        ])
        .args(["ping", "--skip-tls-verify"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("TLS certificate verification is disabled (--skip-tls-verify)"),
        "{}",
        text(&output)
    );
}

#[cfg(unix)]
#[test]
fn a_kfp_token_that_is_not_utf8_is_an_error() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let output = kfp_gitops(dir.path())
        .env("KFP_TOKEN", std::ffi::OsStr::from_bytes(b"tok\xffen"))
        .args(["--api-url", "http://127.0.0.1:9/pipeline", "ping"])
        .output()
        .unwrap();
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("KFP_TOKEN is set but is not UTF-8 text"),
        "{}",
        text(&output)
    );
}

/// A child process that is killed when the test ends, also when it fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `GET path` on `address`: the status and the body.
fn http_get(address: std::net::SocketAddr, path: &str) -> Option<(u16, String)> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(address).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.get(9..12)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

#[test]
fn the_daemons_endpoints_serve_no_error_text_and_its_log_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let git = FakeGit::install(dir.path(), true);
    git_config(dir.path(), &git_url());
    let emulator = Emulator::start(
        EmulatorConfig::multi_user()
            .with_auth(AuthMode::Token(BTreeSet::from([KFP_TOKEN.to_owned()]))),
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let log = dir.path().join("daemon.log");
    let daemon = kfp_gitops(dir.path())
        .env("PATH", git.path())
        .env("KFP_TOKEN", KFP_TOKEN)
        .env("GITHUB_TOKEN", GITHUB_TOKEN)
        .args(["--api-url", &emulator.base_url(), "--log-level", "trace"])
        .args(["watch", "--interval", "1h", "--root"])
        .arg(dir.path())
        .args([
            "--config",
            "team-1=team-1",
            "--listen",
            &address.to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let daemon = KillOnDrop(daemon);
    // The first cycle fails on the unreachable git source; /readyz then names the class of the failure.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let readyz = loop {
        if let Some((status, body)) = http_get(address, "/readyz")
            && body.contains("; last ")
        {
            break (status, body);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failed cycle reported; log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let healthz = http_get(address, "/healthz").unwrap();
    let metrics = http_get(address, "/metrics").unwrap();
    drop(daemon);
    assert_eq!(
        readyz,
        (
            503,
            "not ready: no successful reconcile yet; last failure: namespace (see the log)\n"
                .to_owned()
        )
    );
    assert_eq!(healthz, (200, "ok\n".to_owned()));
    assert_no_secret("/metrics", &metrics.1);
    assert!(!metrics.1.contains("git.invalid"), "{}", metrics.1);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("https://***@git.invalid/team/pipelines.git"),
        "{log}"
    );
    assert_no_secret("the daemon's log", &log);
}
