//! The project's Python venv with the official KFP SDK, installed on demand by `cargo xtask venv`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Why the venv could not be provided.
#[derive(Debug)]
pub struct VenvError(pub String);

impl std::fmt::Display for VenvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot provide the python venv: {}", self.0)
    }
}

impl std::error::Error for VenvError {}

/// The `python` of the project's venv, creating the venv (once per process) if needed.
///
/// `KFP_GITOPS_PYTHON` overrides the location, for machines that keep a venv elsewhere.
pub fn python() -> Result<PathBuf, VenvError> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("KFP_GITOPS_PYTHON") {
                return Ok(PathBuf::from(path));
            }
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let output = Command::new(cargo)
                .args(["xtask", "venv"])
                .current_dir(workspace_root())
                .output()
                .map_err(|err| format!("cannot run `cargo xtask venv`: {err}"))?;
            if !output.status.success() {
                return Err(format!(
                    "`cargo xtask venv` failed:\n{}",
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
            let path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            Ok(PathBuf::from(path))
        })
        .clone()
        .map_err(VenvError)
}

/// The workspace root, for tests that need committed files such as `examples/`.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}
