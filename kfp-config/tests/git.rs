//! git sources against bare repositories made by the test with the `git` CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

use kfp_config::{LoadOptions, validate_namespace};

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn seed_workflow() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/seed/RENDERED_PIPELINE/workflow.yaml"),
    )
    .unwrap()
}

/// A bare remote with two commits on `main`: the first tagged `v1` (message `first`), the second with
/// message `second`.
struct Remote {
    _dir: tempfile::TempDir,
    url: String,
    first: String,
    second: String,
}

fn remote() -> Remote {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(work.join("pipeline/params")).unwrap();
    git(&work, &["init", "--quiet"]);
    std::fs::write(work.join("pipeline/workflow.yaml"), seed_workflow()).unwrap();
    std::fs::write(work.join("pipeline/params/custom_message"), "first").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "--quiet", "-m", "first"]);
    git(&work, &["tag", "v1"]);
    let first = git(&work, &["rev-parse", "HEAD"]);
    std::fs::write(work.join("pipeline/params/custom_message"), "second").unwrap();
    git(&work, &["commit", "--quiet", "-am", "second"]);
    let second = git(&work, &["rev-parse", "HEAD"]);
    git(
        dir.path(),
        &["clone", "--quiet", "--bare", "work", "remote.git"],
    );
    let url = format!("file://{}", dir.path().join("remote.git").display());
    Remote {
        _dir: dir,
        url,
        first,
        second,
    }
}

fn namespace(url: &str, reference: &str, file_path: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(
        dir.path().join("experiments.yaml"),
        "experiments:\n  - name: e\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("recurring_runs.yaml"),
        format!(
            "recurring_runs:\n  - pipeline_source:\n      git_url: \"{url}\"\n      git_reference: \"{reference}\"\n      file_path: \"{file_path}\"\n    pipeline_parameters:\n      - name: custom_message\n        valueFrom:\n          file_path: pipeline/params/custom_message\n    job:\n      enabled: true\n      name: j\n      experiment: e\n      max_concurrency: 1\n      trigger:\n        catchup: false\n        interval_seconds: 60\n"
        ),
    )
    .unwrap();
    dir
}

fn options(dir: &Path) -> LoadOptions {
    LoadOptions {
        cache_dir: Some(dir.join("cache")),
        namespace: Some("ns".into()),
        ..LoadOptions::default()
    }
}

fn message_at(remote: &Remote, reference: &str) -> (String, String, usize) {
    let dir = namespace(&remote.url, reference, "pipeline/workflow.yaml");
    let validation = validate_namespace(dir.path(), &options(dir.path()));
    assert!(validation.problems.is_empty(), "{:?}", validation.problems);
    let run = &validation.desired.unwrap().recurring_runs[0];
    (
        run.parameters[0].1.clone(),
        run.source.clone(),
        validation.network_requests,
    )
}

#[test]
fn a_branch_resolves_to_its_latest_commit() {
    let remote = remote();
    let (message, source, _) = message_at(&remote, "main");
    assert_eq!(message, "second");
    assert_eq!(
        source,
        format!(
            "{}@{}:pipeline/workflow.yaml",
            remote.url,
            &remote.second[..12]
        )
    );
}

#[test]
fn a_tag_resolves_to_its_commit() {
    let remote = remote();
    assert_eq!(message_at(&remote, "v1").0, "first");
}

#[test]
fn a_commit_sha_is_fetched_directly_and_then_cached() {
    let remote = remote();
    let dir = namespace(&remote.url, &remote.first, "pipeline/workflow.yaml");
    let first = validate_namespace(dir.path(), &options(dir.path()));
    assert!(first.problems.is_empty(), "{:?}", first.problems);
    assert_eq!(
        first.desired.unwrap().recurring_runs[0].parameters[0].1,
        "first"
    );
    assert_eq!(
        first.network_requests, 1,
        "one fetch for one distinct reference"
    );
    let again = validate_namespace(dir.path(), &options(dir.path()));
    assert_eq!(again.network_requests, 0);
    assert!(again.desired.is_some());
    let offline = validate_namespace(
        dir.path(),
        &LoadOptions {
            offline: true,
            ..options(dir.path())
        },
    );
    assert!(
        offline.desired.is_some(),
        "{:?} {:?}",
        offline.problems,
        offline.skipped
    );
}

fn problems(remote: &Remote, reference: &str, file_path: &str) -> String {
    let dir = namespace(&remote.url, reference, file_path);
    let validation = validate_namespace(dir.path(), &options(dir.path()));
    assert!(validation.desired.is_none());
    validation
        .problems
        .iter()
        .map(kfp_config::Problem::render)
        .collect::<Vec<_>>()
        .join("\n")
        .replace(&dir.path().display().to_string(), "[dir]")
        .replace(&remote.url, "[url]")
        .replace(&remote.second, "[second]")
        .replace(&remote.second[..12], "[second]")
}

#[test]
fn a_missing_path_is_reported_with_the_commit() {
    let remote = remote();
    insta::assert_snapshot!(problems(&remote, "main", "pipeline/nope.yaml"));
}

#[test]
fn a_missing_reference_is_reported() {
    let remote = remote();
    insta::assert_snapshot!(problems(
        &remote,
        "no-such-branch",
        "pipeline/workflow.yaml"
    ));
}

#[test]
fn a_missing_repository_is_reported() {
    let remote = remote();
    let missing: PathBuf =
        Path::new(&remote.url.replace("file://", "")).with_file_name("missing.git");
    let url = format!("file://{}", missing.display());
    let dir = namespace(&url, "main", "pipeline/workflow.yaml");
    let validation = validate_namespace(dir.path(), &options(dir.path()));
    let text = validation
        .problems
        .iter()
        .map(kfp_config::Problem::render)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("not found"), "{text}");
}

#[test]
fn an_abbreviated_sha_is_explained() {
    let remote = remote();
    let short = remote.first[..8].to_owned();
    let text = problems(&remote, &short, "pipeline/workflow.yaml");
    assert!(
        text.contains("only accept full 40-character commit SHAs"),
        "{text}"
    );
}

#[test]
fn a_commit_no_branch_or_tag_points_at_is_found_when_the_server_refuses_to_send_it_directly() {
    let remote = remote();
    // A third commit moves `main` on, so the second one is neither a branch tip nor tagged.
    let work = Path::new(&remote.url.replace("file://", "")).with_file_name("work");
    std::fs::write(work.join("pipeline/params/custom_message"), "third").unwrap();
    git(&work, &["commit", "--quiet", "-am", "third"]);
    git(&work, &["push", "--quiet", "../remote.git", "main"]);
    let dir = namespace(&remote.url, "main", "pipeline/workflow.yaml");
    let first = validate_namespace(dir.path(), &options(dir.path()));
    assert!(first.desired.is_some(), "{:?}", first.problems);
    // The old wire protocol, as some servers still speak it, refuses unadvertised commits.
    let cache_repo = std::fs::read_dir(dir.path().join("cache/git"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("repo.git");
    git(&cache_repo, &["config", "protocol.version", "0"]);
    let runs = std::fs::read_to_string(dir.path().join("recurring_runs.yaml")).unwrap();
    std::fs::write(
        dir.path().join("recurring_runs.yaml"),
        runs.replace("\"main\"", &format!("\"{}\"", remote.second)),
    )
    .unwrap();
    let validation = validate_namespace(dir.path(), &options(dir.path()));
    assert!(validation.problems.is_empty(), "{:?}", validation.problems);
    assert_eq!(
        validation.desired.unwrap().recurring_runs[0].parameters[0].1,
        "second"
    );
    assert_eq!(
        validation.network_requests, 2,
        "the refused fetch, then the full fetch"
    );
}
