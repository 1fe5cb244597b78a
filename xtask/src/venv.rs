//! Python venvs under `target/`, each created on first use with the packages of one requirements file
//! and reused while that file is unchanged (a stamp file records what was installed), rebuilt when it
//! changes. `target/kfp-venv` holds the packages of `tests/python/requirements.txt`; `lint_tools` keeps
//! the linters in a venv of their own.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::command::run_command;

const STAMP: &str = "kfp-gitops-requirements.stamp";

/// Makes sure the project venv exists and is current; returns the path of its `python`.
pub fn ensure(root: &Path) -> Result<PathBuf, String> {
    ensure_venv(
        &root.join("target/kfp-venv"),
        &root.join("tests/python/requirements.txt"),
    )
}

/// Makes sure the venv at `venv` holds exactly the packages of `requirements_path`; returns the path
/// of its `python`.
pub fn ensure_venv(venv: &Path, requirements_path: &Path) -> Result<PathBuf, String> {
    let requirements = fs::read_to_string(requirements_path)
        .map_err(|err| format!("cannot read {}: {err}", requirements_path.display()))?;
    let python = venv.join("bin/python");
    let stamp = venv.join(STAMP);
    if python.exists() && fs::read_to_string(&stamp).ok().as_deref() == Some(requirements.as_str())
    {
        eprintln!("    python venv up to date: {}", venv.display());
        return Ok(python);
    }
    if venv.exists() {
        fs::remove_dir_all(venv)
            .map_err(|err| format!("cannot remove stale {}: {err}", venv.display()))?;
    }
    let host_python = find_host_python()?;
    eprintln!(
        "    creating python venv at {} with {host_python}",
        venv.display()
    );
    run_command(Command::new(&host_python).args(["-m", "venv"]).arg(venv))?;
    run_command(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(requirements_path),
    )
    .map_err(|err| format!("installing the python packages failed: {err}"))?;
    fs::write(&stamp, &requirements)
        .map_err(|err| format!("cannot write {}: {err}", stamp.display()))?;
    Ok(python)
}

fn find_host_python() -> Result<String, String> {
    for candidate in ["python3.11", "python3", "python"] {
        let works = Command::new(candidate)
            .args([
                "-c",
                "import sys, venv; sys.exit(0 if sys.version_info >= (3, 8) else 1)",
            ])
            .output()
            .is_ok_and(|output| output.status.success());
        if works {
            return Ok(candidate.to_owned());
        }
    }
    Err("no usable python3 (3.8 or newer, with the venv module) found on PATH".to_owned())
}
