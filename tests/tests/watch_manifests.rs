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
