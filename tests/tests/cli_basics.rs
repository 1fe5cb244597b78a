//! The `kfp-gitops` binary's own surface: help, version, completions and the manual page.

use assert_cmd::Command;
use predicates::prelude::*;

fn kfp_gitops() -> Command {
    let mut command =
        Command::cargo_bin("kfp-gitops").expect("the kfp-gitops binary is built by this workspace");
    command
        .env_remove("KFP_API_URL")
        .env_remove("KFP_NAMESPACE")
        .env_remove("RUST_LOG");
    command
}

#[test]
fn help_lists_the_global_options() {
    let assert = kfp_gitops().arg("--help").assert().success();
    let help = String::from_utf8(assert.get_output().stdout.clone()).expect("help is UTF-8");
    for option in [
        "--api-url",
        "--namespace",
        "--log-level",
        "--verbose",
        "--output",
        "--no-color",
    ] {
        assert!(
            help.contains(option),
            "--help does not mention {option}:\n{help}"
        );
    }
    // Named without its value: the URL may carry credentials (`hide_env_values`).
    assert!(
        help.contains("[env: KFP_API_URL]"),
        "--api-url should name its env var, never its value:\n{help}"
    );
    assert!(
        help.contains("[env: KFP_NAMESPACE="),
        "--namespace should name its env var:\n{help}"
    );
}

#[test]
fn render_help_leaves_out_the_kfp_options_that_mean_nothing_to_it() {
    for args in [
        &["render", "--help"][..],
        &["help", "render"],
        &["render", "-h"],
    ] {
        let assert = kfp_gitops().args(args).assert().success();
        let help = String::from_utf8(assert.get_output().stdout.clone()).expect("help is UTF-8");
        assert!(help.contains("--check"), "{args:?}:\n{help}");
        assert!(help.contains("--log-level"), "{args:?}:\n{help}");
        assert!(
            !help.contains("--api-url") && !help.contains("--namespace"),
            "{args:?}:\n{help}"
        );
    }
    for command in ["plan", "apply", "run", "ping", "watch", "validate"] {
        let assert = kfp_gitops().args([command, "--help"]).assert().success();
        let help = String::from_utf8(assert.get_output().stdout.clone()).expect("help is UTF-8");
        assert!(
            help.contains("--api-url") && help.contains("--namespace"),
            "{command}:\n{help}"
        );
    }
    // Still accepted, so that one KFP_API_URL or --api-url for a whole script never breaks a render.
    kfp_gitops()
        .args([
            "render",
            "--api-url",
            "http://kfp",
            "-n",
            "team-1",
            "--help",
        ])
        .assert()
        .success();
}

#[test]
fn a_reference_log_level_gets_a_note_which_is_a_json_record_with_json_logs() {
    let text = kfp_gitops()
        .args(["--log-level", "WARNING", "schema"])
        .assert()
        .success();
    let stderr = String::from_utf8(text.get_output().stderr.clone()).unwrap();
    assert_eq!(
        stderr,
        "note: --log-level WARNING is spelled --log-level warn in kfp-gitops\n"
    );
    let json = kfp_gitops()
        .args(["--log-format", "json", "--log-level", "WARNING", "schema"])
        .assert()
        .success();
    let stderr = String::from_utf8(json.get_output().stderr.clone()).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let record: serde_json::Value = serde_json::from_str(lines[0]).expect("a JSON log record");
    assert_eq!(
        record["fields"]["message"],
        "note: --log-level WARNING is spelled --log-level warn in kfp-gitops"
    );
}

#[test]
fn version_prints_the_crate_version() {
    kfp_gitops()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::diff(format!(
            "kfp-gitops {}\n",
            env!("CARGO_PKG_VERSION")
        )));
}

#[test]
fn bash_completions_are_a_script_bash_accepts() {
    let assert = kfp_gitops()
        .args(["completions", "bash"])
        .assert()
        .success();
    let script = assert.get_output().stdout.clone();
    assert!(String::from_utf8_lossy(&script).contains("complete -F"));
    // bash itself must be able to load the script and register the completion function.
    let dir = std::env::temp_dir().join(format!("kfp-gitops-completions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("kfp-gitops.bash");
    std::fs::write(&path, &script).expect("write completion script");
    let status = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}' && complete -p kfp-gitops",
            path.display()
        ))
        .output()
        .expect("bash runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        status.status.success(),
        "bash could not load the script: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(String::from_utf8_lossy(&status.stdout).contains("kfp-gitops"));
}

#[test]
fn completions_exist_for_every_supported_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        kfp_gitops()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::is_empty().not());
    }
}

#[test]
fn man_prints_a_roff_page_documenting_the_options() {
    let assert = kfp_gitops().arg("man").assert().success();
    let page = String::from_utf8(assert.get_output().stdout.clone()).expect("man page is UTF-8");
    assert!(
        page.starts_with(".ie") || page.starts_with(".TH"),
        "not roff:\n{}",
        &page[..page.len().min(200)]
    );
    assert!(page.contains(".TH kfp-gitops"), "missing the title header");
    assert!(
        page.contains("api\\-url"),
        "the page should document --api-url"
    );
}

#[test]
fn an_unknown_subcommand_is_a_usage_error() {
    kfp_gitops()
        .arg("frobnicate")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unrecognized subcommand"));
}
