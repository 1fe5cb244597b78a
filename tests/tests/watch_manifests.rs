//! The Kubernetes manifests in `deploy/kubernetes` start the daemon with flags and environment
//! variables that `kfp-gitops watch` really has, and probe the endpoints it really serves.

use std::process::Command;

use kfp_gitops_tests::python::workspace_root;
use serde_json::Value;

fn deployment() -> Value {
    let text =
        std::fs::read_to_string(workspace_root().join("deploy/kubernetes/base/deployment.yaml"))
            .unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

fn daemon_container(deployment: &Value) -> Value {
    deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "kfp-gitops")
        .cloned()
        .expect("a kfp-gitops container")
}

fn watch_help() -> String {
    let output = Command::new(assert_cmd::cargo::cargo_bin("kfp-gitops"))
        .args(["watch", "--help"])
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn every_flag_the_deployment_passes_is_a_flag_of_watch() {
    let container = daemon_container(&deployment());
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "watch");
    let help = watch_help();
    for arg in &args[1..] {
        let flag = arg.split('=').next().unwrap();
        assert!(flag.starts_with("--"), "{arg}");
        assert!(
            help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
            "`kfp-gitops watch` has no {flag}:\n{help}"
        );
    }
}

#[test]
fn every_kfp_gitops_variable_of_the_deployment_and_its_config_map_is_read_by_watch() {
    let container = daemon_container(&deployment());
    let mut names: Vec<String> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect();
    let config_map: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(workspace_root().join("deploy/kubernetes/base/configmap.yaml"))
            .unwrap(),
    )
    .unwrap();
    names.extend(config_map["data"].as_object().unwrap().keys().cloned());
    let help = watch_help();
    for name in names
        .iter()
        .filter(|n| n.starts_with("KFP_") || n.starts_with("KF_"))
    {
        assert!(
            help.contains(&format!("[env: {name}")),
            "`kfp-gitops watch` does not read {name}:\n{help}"
        );
    }
}

#[test]
fn the_probes_use_the_endpoints_the_daemon_serves_on_the_port_it_listens_on() {
    let container = daemon_container(&deployment());
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    let listen = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|a| a.as_str().unwrap().strip_prefix("--listen="))
        .expect("--listen");
    let port = listen.rsplit(':').next().unwrap();
    assert_eq!(container["ports"][0]["containerPort"].to_string(), port);
}

/// Every `kfp-gitops SUBCOMMAND --flag` written in the CI templates and the GitLab example, as
/// (file, subcommand, flags).
fn ci_invocations() -> Vec<(String, String, Vec<String>)> {
    let root = workspace_root();
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(root.join(".github/workflows"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.push(root.join("docs/ci/gitlab-ci.yml"));
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.lines() {
            let line = line.trim_start();
            // Comments and prose (descriptions, headings echoed into summaries) are not commands.
            if line.starts_with('#') || line.starts_with("description:") {
                continue;
            }
            for (index, _) in line.match_indices("kfp-gitops ") {
                let before = &line[..index];
                // `cargo install kfp-gitops`, `command -v kfp-gitops`, image names: not invocations.
                if before.ends_with("### ")
                    || before.ends_with("install ")
                    || before.ends_with("-v ")
                    || before.ends_with('/')
                    || before.ends_with("--from ")
                {
                    continue;
                }
                let words: Vec<&str> = line[index + "kfp-gitops ".len()..]
                    .split_whitespace()
                    .take_while(|w| !matches!(*w, "|" | ">" | "2>&1" | "||" | "&&" | ";"))
                    .collect();
                let Some(subcommand) = words.iter().find(|w| !w.starts_with('-')) else {
                    continue;
                };
                let flags = words
                    .iter()
                    .filter(|w| w.starts_with("--"))
                    .map(|w| w.split('=').next().unwrap().to_owned())
                    .collect();
                found.push((
                    file.file_name().unwrap().to_string_lossy().into_owned(),
                    (*subcommand).to_owned(),
                    flags,
                ));
            }
        }
    }
    found
}

#[test]
fn the_ci_templates_call_only_subcommands_and_flags_the_cli_has() {
    let invocations = ci_invocations();
    let subcommands: std::collections::BTreeSet<&str> =
        invocations.iter().map(|(_, sub, _)| sub.as_str()).collect();
    // render --check, validate, ping, plan and apply: the CI flow of the user guide.
    assert_eq!(
        subcommands.into_iter().collect::<Vec<_>>(),
        ["apply", "ping", "plan", "render", "validate"]
    );
    for (file, subcommand, flags) in invocations {
        let output = Command::new(assert_cmd::cargo::cargo_bin("kfp-gitops"))
            .args([subcommand.as_str(), "--help"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{file}: `kfp-gitops {subcommand}` does not exist"
        );
        let help = String::from_utf8(output.stdout).unwrap();
        for flag in flags {
            assert!(
                help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
                "{file}: `kfp-gitops {subcommand}` has no {flag}"
            );
        }
    }
}
