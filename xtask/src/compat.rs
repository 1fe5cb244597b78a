//! `cargo xtask compat`: proves the KFP API emulator's fidelity with the official `kfp==1.8.22` SDK.
//!
//! Builds the `kfp-emulator` binary and, for every profile (`--kfp-profile` 1.8.5, 2.0, 2.5, 2.14, 2.17: KFP
//! 1.8.5 and the KFP 2.x backends serving v1beta1), starts it in single-user and then multi-user mode
//! (multi-user through the `/pipeline` UI-proxy prefix, and for 1.8.5 and 2.17 again behind a Dex login), and
//! runs `tests/python/compat.py --profile P` with the project venv's python against each. The SDK works
//! against every 2.x profile; what it sees differently there is listed in the script's docstring. The script uses only `kfp.Client` and its
//! `_job_api`/`_experiment_api` (plus `requests` for the Dex login, as deployKF's KFPClientManager does); it
//! names the SDK call that failed and the server's answer.

use std::path::Path;
use std::process::Command;

use crate::command::{cargo_step, run_command};
use crate::emulator_process::{self, EmulatorProcess, target_dir};
use crate::venv;

/// How long a run takes in the emulator during the check (the SDK polls every 5 s).
const RUN_DURATION_MS: &str = "1500";

/// The emulator profiles the SDK is run against (`kfp-emulator --kfp-profile`).
const PROFILES: &[&str] = &["1.8.5", "2.0", "2.5", "2.14", "2.17"];

/// The profiles also checked behind a Dex login (the login is the gateway's, the same for every server; the
/// oldest and the newest server check what lies behind it).
const DEX_PROFILES: &[&str] = &["1.8.5", "2.17"];

/// The emulator's Dex user for the login check (a throw-away test credential).
const DEX_USER: &str = "compat@example.com";
const DEX_PASSWORD: &str = "compat-password";

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
    let modes = PROFILES.iter().flat_map(|&profile| {
        let dex = [("multi", true)]
            .into_iter()
            .filter(move |_| DEX_PROFILES.contains(&profile));
        [("single", false), ("multi", false)]
            .into_iter()
            .chain(dex)
            .map(move |(mode, dex)| (profile, mode, dex))
    });
    for (profile, mode, dex) in modes {
        let label = if dex {
            format!("KFP {profile} {mode}-user emulator behind a Dex login")
        } else {
            format!("KFP {profile} {mode}-user emulator")
        };
        println!("    compat: {label}");
        let (emulator, base) = start_emulator(&binary, profile, mode == "multi", dex)?;
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
            .args(["--profile", profile])
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

/// Starts the binary on an ephemeral port in the wanted mode.
fn start_emulator(
    binary: &Path,
    profile: &str,
    multi_user: bool,
    dex: bool,
) -> Result<(EmulatorProcess, String), String> {
    let mut command = Command::new(binary);
    command.args([
        "--run-duration-ms",
        RUN_DURATION_MS,
        "--kfp-profile",
        profile,
    ]);
    if multi_user {
        command.arg("--multi-user");
    }
    if dex {
        command
            .args(["--auth", "dex", "--dex-user", DEX_USER])
            .env("KFP_EMULATOR_DEX_PASSWORD", DEX_PASSWORD);
    }
    emulator_process::start(command)
}
