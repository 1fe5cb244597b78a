//! The environment of child processes (git, render commands): without the secrets of this process.

use std::process::Command;

/// Environment variables that hold secrets of kfp-gitops or name who logs in with them; no child process
/// needs them.
pub const SECRET_ENV_VARS: &[&str] = &[
    "KFP_TOKEN",
    "KF_PIPELINES_SA_TOKEN_PATH",
    "DEX_USERNAME",
    "DEX_PASSWORD",
    "GITHUB_TOKEN",
    "GH_TOKEN",
];

/// Removes from the environment `command` will inherit every variable of [`SECRET_ENV_VARS`] and every
/// variable whose value holds a registered secret (see [`crate::secrets::register`]).
pub fn scrub_env(command: &mut Command) {
    for name in SECRET_ENV_VARS {
        command.env_remove(name);
    }
    for (name, value) in std::env::vars_os() {
        if value.to_str().is_some_and(super::registry::contains_secret) {
            command.env_remove(name);
        }
    }
}
