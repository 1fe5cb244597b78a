//! The library example `kfp-reconcile/examples/reconcile_namespace.rs` reconciles the daily-digest
//! example namespace against the emulator: the first run creates the experiment and the first version,
//! the second run finds nothing to do.

use std::path::{Path, PathBuf};
use std::process::Output;

use kfp_gitops_tests::emulator::{Emulator, EmulatorConfig};

const NAMESPACE: &str = "team-1";

/// The example binary, built next to this test by `cargo test --workspace` (which builds every
/// package's examples).
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let binary = profile_dir.join("examples").join(format!(
        "reconcile_namespace{}",
        std::env::consts::EXE_SUFFIX
    ));
    assert!(
        binary.is_file(),
        "{} is missing: build it with `cargo build -p kfp-reconcile --examples` (cargo test --workspace does)",
        binary.display()
    );
    binary
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("list") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn run_example(emulator: &Emulator, config: &Path) -> Output {
    std::process::Command::new(example_binary())
        .args([&emulator.base_url(), NAMESPACE])
        .arg(config)
        .env_remove("GITHUB_TOKEN")
        .output()
        .expect("run the example")
}

/// (name, enabled) of every job of the namespace.
fn jobs(emulator: &Emulator) -> Vec<(String, bool)> {
    let response = emulator
        .request(
            "GET",
            &format!(
                "/apis/v1beta1/jobs?page_size=200&resource_reference_key.type=NAMESPACE&resource_reference_key.id={NAMESPACE}"
            ),
            None,
        )
        .expect("list jobs");
    let body = response.json();
    body["jobs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|job| {
            (
                job["name"].as_str().unwrap_or_default().to_owned(),
                job["enabled"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

#[test]
fn the_example_creates_the_versions_and_a_second_run_changes_nothing() {
    let repo = tempfile::tempdir().expect("temp dir");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/daily-digest");
    copy_dir(&source, repo.path());
    // The repository root that local sources must stay inside.
    std::fs::write(repo.path().join("kfp-gitops.yaml"), "").expect("project file");
    let config = repo.path().join("schedules").join(NAMESPACE);
    let emulator = Emulator::start(EmulatorConfig::multi_user()).expect("emulator");

    let first = run_example(&emulator, &config);
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    // The experiment, the new version (created paused), and its enable.
    assert!(stdout.starts_with("team-1: 3 action(s)\n"), "{stdout}");
    assert!(
        stdout.contains("create_experiment daily-digest Done"),
        "{stdout}"
    );
    let created = jobs(&emulator);
    assert_eq!(created.len(), 1, "{created:?}");
    assert!(
        created[0].0.starts_with("GIT::daily-digest__"),
        "{created:?}"
    );
    assert!(created[0].1, "the new version is enabled: {created:?}");

    let second = run_example(&emulator, &config);
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(second.status.success(), "{stdout}");
    assert_eq!(stdout, "team-1: 0 action(s)\nNo changes.\n");
    assert_eq!(jobs(&emulator), created);
}
