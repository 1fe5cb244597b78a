//! `cargo xtask compat`: proves the KFP API emulator's fidelity with the official `kfp==1.8.22` SDK.
//!
//! Builds the `kfp-emulator` binary, starts it in single-user and then multi-user mode (multi-user through
//! the `/pipeline` UI-proxy prefix, then again behind a Dex login), and runs `tests/python/compat.py` with
//! the project venv's python against each. The script uses only `kfp.Client` and its
//! `_job_api`/`_experiment_api` (plus `requests` for the Dex login, as deployKF's KFPClientManager does); it
//! names the SDK call that failed and the server's answer.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::ci::{cargo_step, run_command};
use crate::venv;

/// How long a run takes in the emulator during the check (the SDK polls every 5 s).
const RUN_DURATION_MS: &str = "1500";

/// The emulator's Dex user for the login check (a throw-away test credential).
const DEX_USER: &str = "compat@example.com";
const DEX_PASSWORD: &str = "compat-password";

/// Kills the emulator when the check ends, however it ends.
struct Emulator(Child);

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(root: &Path) -> Result<(), String> {
    let python = venv::ensure(root)?;
    cargo_step(
        root,
        &["build", "-p", "kfp-gitops-tests", "--bin", "kfp-emulator"],
        &[],
    )?;
    let binary = target_dir(root)
        .join("debug")
        .join(format!("kfp-emulator{}", std::env::consts::EXE_SUFFIX));
    let script = root.join("tests/python/compat.py");
    for (mode, dex) in [("single", false), ("multi", false), ("multi", true)] {
        let label = if dex {
            format!("{mode}-user emulator behind a Dex login")
        } else {
            format!("{mode}-user emulator")
        };
        println!("    compat: {label}");
        let (emulator, base) = start_emulator(&binary, mode == "multi", dex)?;
        let host = if mode == "multi" {
            format!("{base}/pipeline")
        } else {
            base
        };
        let mut command = Command::new(&python);
        command
            .arg("-W")
            .arg("ignore::FutureWarning")
            .arg(&script)
            .args(["--host", &host, "--mode", mode, "--namespace", "team-1"])
            .current_dir(root);
        if dex {
            command
                .args(["--dex-user", DEX_USER])
                .env("COMPAT_DEX_PASSWORD", DEX_PASSWORD);
        }
        let result = run_command(&mut command);
        drop(emulator);
        result.map_err(|err| {
            format!("the kfp SDK compatibility script failed against the {label}: {err}")
        })?;
    }
    Ok(())
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Starts the binary on an ephemeral port and waits for its `listening on http://ADDR` line.
fn start_emulator(
    binary: &Path,
    multi_user: bool,
    dex: bool,
) -> Result<(Emulator, String), String> {
    let mut command = Command::new(binary);
    command
        .args([
            "--listen",
            "127.0.0.1:0",
            "--run-duration-ms",
            RUN_DURATION_MS,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if multi_user {
        command.arg("--multi-user");
    }
    if dex {
        command
            .args(["--auth", "dex", "--dex-user", DEX_USER])
            .env("KFP_EMULATOR_DEX_PASSWORD", DEX_PASSWORD);
    }
    let mut child = command
        .spawn()
        .map_err(|err| format!("cannot start {}: {err}", binary.display()))?;
    let stdout = child.stdout.take().ok_or("the emulator has no stdout")?;
    let emulator = Emulator(child);
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let line = receiver
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| "the emulator did not report its address within 30 s".to_owned())?;
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| format!("unexpected first line from the emulator: {line:?}"))?
        .to_owned();
    Ok((emulator, base))
}
