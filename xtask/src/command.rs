//! What every task shares: the workspace root, the cargo that started us, and running a command (or a
//! cargo step) with inherited stdio, a non-zero exit turned into an error naming it. Imports nothing of ours.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (the parent of this crate's directory).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The cargo that started us, so a pinned toolchain is honoured.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Runs `cargo <args>` in the workspace root with extra environment variables.
pub fn cargo_step(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let mut command = Command::new(cargo());
    command.args(args).current_dir(root);
    for (key, value) in env {
        command.env(key, value);
    }
    run_command(&mut command)
}

/// Runs a command with inherited stdio and turns a non-zero exit into an error naming the command.
pub fn run_command(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let status = command
        .status()
        .map_err(|err| format!("could not start {shown}: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} exited with {status}"))
    }
}
