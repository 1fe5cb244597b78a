//! `cargo xtask demo`: the main job of kfp-gitops, end to end, against the built-in KFP API emulator.
//!
//! Builds the `kfp-gitops` and `kfp-emulator` binaries, starts the emulator (multi-user, namespace `team-1`),
//! copies `examples/daily-digest` to `target/kfp-gitops-demo/` and then runs the real CLI step by step,
//! printing each command: `validate`, `plan`, `apply`, `plan` again (no changes), a change of the schedule in
//! the copy, `plan` showing the replacement with its diff, `apply`, `status` (the live version, next fire
//! times, sync state, runs and health of each recurring run), the versions of the recurring run now in
//! the emulator, and finally one verified replacement (`--rollout verify`: the new version proves itself
//! with one `VERIFY::` run, which the emulator lets succeed, before it takes over the schedule).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::command::cargo_step;
use crate::emulator_process::{self, EmulatorProcess, target_dir};

const NAMESPACE: &str = "team-1";
const OLD_CRON: &str = "cron: \"0 0 7 * * *\"";
const NEW_CRON: &str = "cron: \"0 30 6 * * 1-5\"";
const VERIFIED_CRON: &str = "cron: \"0 0 8 * * 1-5\"";

pub fn run(root: &Path) -> Result<(), String> {
    let bin_dir = target_dir(root).join("debug");
    let cli = bin_dir.join(format!("kfp-gitops{}", std::env::consts::EXE_SUFFIX));
    let emulator_bin = bin_dir.join(format!("kfp-emulator{}", std::env::consts::EXE_SUFFIX));
    banner(&build_banner(
        cli.exists() && emulator_bin.exists(),
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
    ));
    cargo_step(
        root,
        &[
            "build",
            "-p",
            "kfp-gitops",
            "-p",
            "kfp-gitops-tests",
            "--bin",
            "kfp-gitops",
            "--bin",
            "kfp-emulator",
        ],
        &[],
    )?;

    let (_emulator, api_url) = start_emulator(&emulator_bin)?;
    banner(&format!(
        "KFP API emulator (multi-user) listening on {api_url}"
    ));

    let work = target_dir(root).join("kfp-gitops-demo");
    if work.exists() {
        std::fs::remove_dir_all(&work)
            .map_err(|err| format!("cannot clear {}: {err}", work.display()))?;
    }
    let example = work.join("daily-digest");
    copy_dir(&root.join("examples/daily-digest"), &example)?;
    let config = example.join("schedules").join(NAMESPACE);
    let config_arg = config.display().to_string();
    // `command [flags] --config DIR --namespace team-1 [--api-url URL]`
    let args = |command: &[&str], with_api: bool| {
        let mut all: Vec<String> = command.iter().map(|arg| (*arg).to_owned()).collect();
        all.extend([
            "--config".to_owned(),
            config_arg.clone(),
            "--namespace".to_owned(),
            NAMESPACE.to_owned(),
        ]);
        if with_api {
            all.extend(["--api-url".to_owned(), api_url.clone()]);
        }
        all
    };

    step("1. Check the config without touching KFP (what CI runs on every pull request)");
    cli_step(&cli, &example, &args(&["validate"], false), &[0])?;

    step("2. What would change? Everything is new");
    cli_step(&cli, &example, &args(&["plan"], true), &[0])?;

    step("3. Apply it: the experiment and the first version of the recurring run are created");
    cli_step(&cli, &example, &args(&["apply"], true), &[0])?;

    step("4. Plan again: KFP now matches git (exit code 0 with --detailed-exitcode)");
    cli_step(
        &cli,
        &example,
        &args(&["plan", "--detailed-exitcode"], true),
        &[0],
    )?;

    step(&format!(
        "5. Change the schedule in git: {OLD_CRON} -> {NEW_CRON} (in {})",
        config.join("recurring_runs.yaml").display()
    ));
    let runs_file = config.join("recurring_runs.yaml");
    replace_in(&runs_file, OLD_CRON, NEW_CRON)?;

    step(
        "6. Plan: KFP cannot update a recurring run, so a new version replaces the old one (exit code 2: changes)",
    );
    cli_step(
        &cli,
        &example,
        &args(&["plan", "--detailed-exitcode"], true),
        &[2],
    )?;

    step("7. Apply: create the new version paused, pause the old one, enable the new one");
    cli_step(&cli, &example, &args(&["apply"], true), &[0])?;

    step(
        "8. Status: the live version, its next fire times, in sync with git, its runs and its health",
    );
    cli_step(&cli, &example, &args(&["status"], true), &[0])?;

    step("9. The versions of the recurring run now in KFP");
    print_versions(&api_url)?;

    step(&format!(
        "10. Change the schedule again ({NEW_CRON} -> {VERIFIED_CRON}) and plan a verified rollout: the new version runs once before it takes over"
    ));
    replace_in(&runs_file, NEW_CRON, VERIFIED_CRON)?;
    cli_step(
        &cli,
        &example,
        &args(&["plan", "--rollout", "verify"], true),
        &[0],
    )?;

    step(
        "11. Apply it: the new version is created paused, its VERIFY:: run succeeds (the emulator finishes runs after 5 s), then the swap",
    );
    cli_step(
        &cli,
        &example,
        &args(&["apply", "--rollout", "verify"], true),
        &[0],
    )?;

    step("12. The versions of the recurring run now in KFP");
    print_versions(&api_url)?;
    println!();
    println!(
        "Done. Try it on your cluster: kfp-gitops plan --api-url https://HOST/pipeline --config DIR --namespace NS"
    );
    Ok(())
}

/// Replaces `from` by `to` in `file`, which must contain it.
fn replace_in(file: &Path, from: &str, to: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(file)
        .map_err(|err| format!("cannot read {}: {err}", file.display()))?;
    if !text.contains(from) {
        return Err(format!("{} no longer contains {from}", file.display()));
    }
    std::fs::write(file, text.replace(from, to))
        .map_err(|err| format!("cannot write {}: {err}", file.display()))
}

fn print_versions(api_url: &str) -> Result<(), String> {
    for (name, enabled, cron) in list_versions(api_url)? {
        println!(
            "    {name}  {}  cron {cron:?}",
            if enabled { "enabled " } else { "disabled" }
        );
    }
    Ok(())
}

/// What the demo says before building: a first build compiles every dependency of the workspace, which
/// takes minutes, so it says so (and how many cores it has) instead of sitting silent.
fn build_banner(built_before: bool, cores: usize) -> String {
    if built_before {
        "building kfp-gitops and the KFP API emulator (only what changed since the last build)"
            .to_owned()
    } else {
        format!(
            "building the workspace: kfp-gitops, the KFP API emulator and all their dependencies. The first \
             build takes a few minutes ({cores} CPU core(s) here; about 6 minutes on 2); later runs only \
             rebuild what changed"
        )
    }
}

fn banner(text: &str) {
    println!("==> {text}");
}

fn step(text: &str) {
    println!();
    println!("### {text}");
}

/// Runs the CLI with inherited output, printing the command first; the exit code must be one of `expected`.
fn cli_step(cli: &Path, dir: &Path, args: &[String], expected: &[i32]) -> Result<(), String> {
    let shown: Vec<String> = args
        .iter()
        .map(|arg| {
            if arg.contains(' ') {
                format!("'{arg}'")
            } else {
                arg.clone()
            }
        })
        .collect();
    println!("$ kfp-gitops {}", shown.join(" "));
    let status = Command::new(cli)
        .args(args)
        .current_dir(dir)
        .env_remove("KFP_API_URL")
        .env_remove("KFP_NAMESPACE")
        .env_remove("KFP_TOKEN")
        .status()
        .map_err(|err| format!("cannot run {}: {err}", cli.display()))?;
    match status.code() {
        Some(code) if expected.contains(&code) => {
            println!("(exit code {code})");
            Ok(())
        }
        _ => Err(format!(
            "`kfp-gitops {}` exited with {status}",
            shown.join(" ")
        )),
    }
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|err| format!("cannot create {}: {err}", to.display()))?;
    let entries =
        std::fs::read_dir(from).map_err(|err| format!("cannot read {}: {err}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|err| format!("cannot read {}: {err}", from.display()))?;
        let path = entry.path();
        let dest = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &dest)?;
        } else {
            std::fs::copy(&path, &dest)
                .map_err(|err| format!("cannot copy {}: {err}", path.display()))?;
        }
    }
    Ok(())
}

/// Starts the emulator (multi-user) on an ephemeral port.
fn start_emulator(binary: &Path) -> Result<(EmulatorProcess, String), String> {
    let mut command = Command::new(binary);
    command.arg("--multi-user");
    emulator_process::start(command)
}

/// The jobs in the namespace: (name, enabled, cron), newest first.
fn list_versions(api_url: &str) -> Result<Vec<(String, bool, String)>, String> {
    let path = format!(
        "/apis/v1beta1/jobs?page_size=200&resource_reference_key.type=NAMESPACE&resource_reference_key.id={NAMESPACE}"
    );
    let body = http_get(api_url, &path)?;
    let value: serde_json::Value = serde_json::from_str(&body)
        .map_err(|err| format!("the job list is not JSON: {err}: {body}"))?;
    let jobs = value
        .get("jobs")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut versions: Vec<(String, bool, String)> = jobs
        .iter()
        .map(|job| {
            let text = |pointer: &str| {
                job.pointer(pointer)
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            (
                text("/name"),
                job.get("enabled")
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false),
                text("/trigger/cron_schedule/cron"),
            )
        })
        .collect();
    // Version names end in their timestamp: newest first, as kfp-gitops orders them.
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    Ok(versions)
}

/// A plain HTTP/1.1 GET on the emulator (loopback, no TLS), reading exactly `Content-Length` bytes.
fn http_get(base: &str, path: &str) -> Result<String, String> {
    let authority = base
        .strip_prefix("http://")
        .ok_or_else(|| format!("{base} is not an http:// URL"))?
        .trim_end_matches('/');
    let mut stream = TcpStream::connect(authority)
        .map_err(|err| format!("cannot connect to {authority}: {err}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|err| format!("cannot configure the connection: {err}"))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )
    .map_err(|err| format!("cannot send to {authority}: {err}"))?;
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader
        .read_line(&mut status)
        .map_err(|err| format!("cannot read from {authority}: {err}"))?;
    if !status.starts_with("HTTP/1.1 200") && !status.starts_with("HTTP/1.0 200") {
        return Err(format!("GET {path} answered {}", status.trim()));
    }
    let mut length: Option<usize> = None;
    loop {
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .map_err(|err| format!("cannot read from {authority}: {err}"))?;
        let line = line.trim();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok();
        }
    }
    let mut body = Vec::new();
    match length {
        Some(length) => {
            body.resize(length, 0);
            reader
                .read_exact(&mut body)
                .map_err(|err| format!("cannot read from {authority}: {err}"))?;
        }
        None => {
            reader
                .read_to_end(&mut body)
                .map_err(|err| format!("cannot read from {authority}: {err}"))?;
        }
    }
    String::from_utf8(body).map_err(|err| format!("the answer is not UTF-8: {err}"))
}

#[cfg(test)]
mod tests {
    use super::build_banner;

    #[test]
    fn the_first_build_says_it_builds_the_workspace_and_takes_minutes() {
        let first = build_banner(false, 2);
        assert!(first.starts_with("building the workspace"), "{first}");
        assert!(
            first.contains("a few minutes (2 CPU core(s) here"),
            "{first}"
        );
        let again = build_banner(true, 2);
        assert!(again.contains("only what changed"), "{again}");
        assert!(!again.contains("minutes"), "{again}");
    }
}
