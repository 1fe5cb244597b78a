//! The `kfp-emulator` binary as a child process of a task (`compat`, `demo`): started on an ephemeral port,
//! its address read from the `listening on http://ADDR` line it prints once ready, killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long the emulator may take to report its address.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running emulator; killed however the task ends.
#[derive(Debug)]
pub struct EmulatorProcess(Child);

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command` (the emulator binary with its flags; `--listen 127.0.0.1:0` is added) and waits for its
/// address; returns the process and its base URL.
pub fn start(mut command: Command) -> Result<(EmulatorProcess, String), String> {
    let shown = format!("{:?}", command.get_program());
    let mut child = command
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|err| format!("cannot start {shown}: {err}"))?;
    let stdout = child.stdout.take().ok_or("the emulator has no stdout")?;
    let emulator = EmulatorProcess(child);
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let line = receiver.recv_timeout(START_TIMEOUT).map_err(|_| {
        format!(
            "the emulator did not report its address within {} s",
            START_TIMEOUT.as_secs()
        )
    })?;
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| format!("unexpected first line from the emulator: {line:?}"))?
        .to_owned();
    Ok((emulator, base))
}

/// Cargo's target directory (honours `CARGO_TARGET_DIR`).
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}
