//! GitHub sources against a local fake of the GitHub REST API: reference → SHA → file, errors, the cache.

use std::path::{Path, PathBuf};

use kfp_client::Secret;
use kfp_config::SharedFetchers;
use kfp_config::{LoadOptions, Schedule, load_namespace, validate_namespace};
use wiremock::matchers::{bearer_token, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SEED_SHA: &str = "f73d515dfa7cff8e04b6bad3551d9db8a8d589f1";
const WORKFLOW_PATH: &str =
    "step-1--render-pipelines/example_pipeline_1/RENDERED_PIPELINE/workflow.yaml";
const PARAM_PATH: &str =
    "step-1--render-pipelines/example_pipeline_1/RENDERED_PIPELINE/params/custom_message";
const REPO: &str = "/repos/deployKF/kubeflow-pipelines-gitops";

fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/seed")
        .join(relative)
}

/// The lookup of the `main` branch, answered with `response` and expected once.
fn main_lookup(response: ResponseTemplate) -> Mock {
    Mock::given(method("GET"))
        .and(path(format!("{REPO}/commits/main")))
        .respond_with(response)
        .expect(1)
}

/// GitHub's answer to a commit lookup.
fn sha_answer(sha: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({"sha": sha}))
}

/// A repository with one config folder per name, each holding the seed configs with `git_reference: main`.
fn namespaces_on_main(names: &[&str]) -> (tempfile::TempDir, Vec<PathBuf>) {
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir(repo.path().join(".git")).unwrap();
    let runs = std::fs::read_to_string(fixture("recurring_runs.yaml"))
        .unwrap()
        .replace(SEED_SHA, "main");
    let folders = names
        .iter()
        .map(|name| {
            let folder = repo.path().join(name);
            std::fs::create_dir(&folder).unwrap();
            std::fs::copy(fixture("experiments.yaml"), folder.join("experiments.yaml")).unwrap();
            std::fs::write(folder.join("recurring_runs.yaml"), &runs).unwrap();
            folder
        })
        .collect();
    (repo, folders)
}

struct Fake {
    runtime: tokio::runtime::Runtime,
    server: MockServer,
}

impl Fake {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = runtime.block_on(MockServer::start());
        Self { runtime, server }
    }

    fn mount(&self, mock: Mock) {
        self.runtime.block_on(mock.mount(&self.server));
    }

    fn serve_seed_files(&self, sha: &str, expected_calls: u64) {
        for (file, relative) in [
            (WORKFLOW_PATH, "RENDERED_PIPELINE/workflow.yaml"),
            (PARAM_PATH, "RENDERED_PIPELINE/params/custom_message"),
        ] {
            self.mount(
                Mock::given(method("GET"))
                    .and(path(format!("{REPO}/contents/{file}")))
                    .and(query_param("ref", sha))
                    .and(header("accept", "application/vnd.github.raw"))
                    .respond_with(
                        ResponseTemplate::new(200)
                            .set_body_bytes(std::fs::read(fixture(relative)).unwrap()),
                    )
                    .expect(expected_calls),
            );
        }
    }

    fn verify(&self) {
        self.runtime.block_on(self.server.verify());
    }
}

/// A namespace folder holding the seed's config files (optionally with `recurring_runs.yaml` edited).
fn namespace(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::copy(
        fixture("experiments.yaml"),
        dir.path().join("experiments.yaml"),
    )
    .unwrap();
    let runs = std::fs::read_to_string(fixture("recurring_runs.yaml")).unwrap();
    std::fs::write(dir.path().join("recurring_runs.yaml"), edit(runs)).unwrap();
    dir
}

fn options(fake: &Fake, dir: &Path) -> LoadOptions {
    LoadOptions {
        namespace: Some("team-1".into()),
        github_api_url: fake.server.uri(),
        use_env_proxy: false,
        cache_dir: Some(dir.join("cache")),
        ..LoadOptions::default()
    }
}

/// The problems rendered, with the temporary folder replaced by `[dir]`.
fn rendered(validation: &kfp_config::Validation, dir: &Path) -> String {
    let text = validation
        .problems
        .iter()
        .map(kfp_config::Problem::render)
        .collect::<Vec<_>>()
        .join("\n");
    text.replace(&dir.display().to_string(), "[dir]")
}

#[test]
fn the_seed_example_loads_unchanged_with_the_same_meaning() {
    let fake = Fake::start();
    fake.serve_seed_files(SEED_SHA, 1);
    let dir = namespace(|runs| runs);
    let desired = load_namespace(dir.path(), &options(&fake, dir.path())).unwrap();
    assert_eq!(desired.namespace, "team-1");
    assert_eq!(desired.experiments.len(), 1);
    assert_eq!(desired.experiments[0].name, "example-pipeline-1");
    assert_eq!(
        desired.experiments[0].description.as_deref(),
        Some("example-pipeline-1 description")
    );
    let run = &desired.recurring_runs[0];
    assert_eq!(run.name, "example-pipeline-1");
    assert_eq!(run.experiment, "example-pipeline-1");
    assert!(run.enabled);
    assert_eq!(run.max_concurrency, 1);
    assert_eq!(run.keep_history, 5);
    assert_eq!(run.description, None);
    assert_eq!(run.service_account, None);
    assert!(!run.trigger.catchup);
    assert_eq!((run.trigger.start, run.trigger.end), (None, None));
    assert_eq!(run.trigger.schedule, Schedule::Cron("0 0 0 * * *".into()));
    let message =
        std::fs::read_to_string(fixture("RENDERED_PIPELINE/params/custom_message")).unwrap();
    assert_eq!(run.parameters, vec![("custom_message".to_owned(), message)]);
    let local = kfp_config::Workflow::parse_yaml(
        &std::fs::read_to_string(fixture("RENDERED_PIPELINE/workflow.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(run.pipeline.digest(), &local.digest());
    assert_eq!(
        run.source,
        format!(
            "github:deployKF/kubeflow-pipelines-gitops@{}:{WORKFLOW_PATH}",
            &SEED_SHA[..12]
        )
    );
    fake.verify();
}

#[test]
fn a_cache_hit_makes_no_request() {
    let fake = Fake::start();
    // Each file is served exactly once: the second load must come from the cache.
    fake.serve_seed_files(SEED_SHA, 1);
    let dir = namespace(|runs| runs);
    let first = validate_namespace(dir.path(), &options(&fake, dir.path()));
    assert!(first.desired.is_some(), "{:?}", first.problems);
    assert_eq!(first.network_requests, 2);
    let second = validate_namespace(dir.path(), &options(&fake, dir.path()));
    assert_eq!(second.network_requests, 0);
    assert_eq!(second.desired.unwrap(), first.desired.unwrap());
    // Offline works too once the files are cached under their SHA.
    let offline = validate_namespace(
        dir.path(),
        &LoadOptions {
            offline: true,
            ..options(&fake, dir.path())
        },
    );
    assert!(
        offline.desired.is_some() && offline.skipped.is_empty(),
        "{:?}",
        offline.skipped
    );
    fake.verify();
}

#[test]
fn a_branch_is_resolved_to_a_sha_once_and_files_are_fetched_at_that_sha() {
    let fake = Fake::start();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    fake.mount(main_lookup(sha_answer(sha)));
    fake.serve_seed_files(sha, 1);
    let dir = namespace(|runs| runs.replace(SEED_SHA, "main"));
    let desired = load_namespace(dir.path(), &options(&fake, dir.path())).unwrap();
    assert!(
        desired.recurring_runs[0].source.contains("@0123456789ab:"),
        "{}",
        desired.recurring_runs[0].source
    );
    fake.verify();
}

#[test]
fn the_token_is_sent_as_a_bearer_token() {
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("GET"))
            .and(path(format!("{REPO}/commits/v1")))
            .and(bearer_token("s3cret"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(serde_json::json!({"sha": SEED_SHA})),
            )
            .expect(1),
    );
    fake.serve_seed_files(SEED_SHA, 1);
    let dir = namespace(|runs| runs.replace(SEED_SHA, "v1"));
    let options = LoadOptions {
        github_token: Some(Secret::new("s3cret")),
        ..options(&fake, dir.path())
    };
    assert!(!format!("{options:?}").contains("s3cret"));
    load_namespace(dir.path(), &options).unwrap();
    fake.verify();
}

fn failing(
    status: u16,
    headers: &[(&str, &str)],
    body: serde_json::Value,
) -> (String, tempfile::TempDir) {
    let fake = Fake::start();
    let mut response = ResponseTemplate::new(status).set_body_json(body);
    for (name, value) in headers {
        response = response.insert_header(*name, *value);
    }
    // The pipeline and its parameter file share the reference, whose failed lookup is made once.
    fake.mount(main_lookup(response));
    let dir = namespace(|runs| runs.replace(SEED_SHA, "main"));
    let validation = validate_namespace(dir.path(), &options(&fake, dir.path()));
    assert!(validation.desired.is_none());
    fake.verify();
    let text = rendered(&validation, dir.path()).replace(&fake.server.uri(), "[api]");
    (text, dir)
}

#[test]
fn a_missing_repository_names_the_recurring_run_and_the_source() {
    let (text, _dir) = failing(404, &[], serde_json::json!({"message": "Not Found"}));
    insta::assert_snapshot!(text);
}

#[test]
fn a_bad_token_is_reported_as_such() {
    let (text, _dir) = failing(401, &[], serde_json::json!({"message": "Bad credentials"}));
    insta::assert_snapshot!(text);
}

#[test]
fn a_rate_limited_403_says_when_the_limit_resets_and_what_to_do() {
    let (text, _dir) = failing(
        403,
        &[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1767225600"),
        ],
        serde_json::json!({"message": "API rate limit exceeded for 127.0.0.1."}),
    );
    insta::assert_snapshot!(text);
}

#[test]
fn offline_validation_skips_remote_sources_and_says_so() {
    let fake = Fake::start();
    let dir = namespace(|runs| runs);
    let validation = validate_namespace(
        dir.path(),
        &LoadOptions {
            offline: true,
            ..options(&fake, dir.path())
        },
    );
    assert!(validation.problems.is_empty(), "{:?}", validation.problems);
    assert_eq!(validation.network_requests, 0);
    insta::assert_snapshot!(validation.skipped.join("\n"));
    assert!(validation.desired.is_none());
}

#[test]
fn a_branch_name_with_slashes_is_resolved() {
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("GET"))
            .and(path(format!("{REPO}/commits/release/2024.1")))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(serde_json::json!({"sha": SEED_SHA})),
            )
            .expect(1),
    );
    fake.serve_seed_files(SEED_SHA, 1);
    let dir = namespace(|runs| runs.replace(SEED_SHA, "release/2024.1"));
    load_namespace(dir.path(), &options(&fake, dir.path())).unwrap();
    fake.verify();
}

#[test]
fn namespaces_of_one_run_resolve_a_shared_branch_once_and_fetch_each_file_once() {
    let fake = Fake::start();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    fake.mount(main_lookup(sha_answer(sha)));
    fake.serve_seed_files(sha, 1);
    let (repo, folders) = namespaces_on_main(&["team-1", "team-2"]);
    let shared = SharedFetchers::default();
    let validations: Vec<kfp_config::Validation> = std::thread::scope(|scope| {
        let handles: Vec<_> = folders
            .iter()
            .map(|folder| {
                let options = LoadOptions {
                    namespace: None,
                    fetchers: Some(shared.clone()),
                    ..options(&fake, repo.path())
                };
                scope.spawn(move || validate_namespace(folder, &options))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for validation in &validations {
        let desired = validation.desired.as_ref().expect("valid");
        assert!(desired.recurring_runs[0].source.contains("@0123456789ab:"));
    }
    assert_eq!(
        validations
            .iter()
            .map(|v| v.namespace.as_str())
            .collect::<Vec<_>>(),
        ["team-1", "team-2"]
    );
    // One lookup and two files in all, each counted by the namespace that made it.
    assert_eq!(
        validations
            .iter()
            .map(|v| v.network_requests)
            .sum::<usize>(),
        3
    );
    fake.verify();
}

#[test]
fn a_namespace_after_a_transient_failure_asks_again_instead_of_sharing_the_failure() {
    let fake = Fake::start();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    // Mounted first, so it answers while it has calls left; then the lookup succeeds.
    fake.mount(
        main_lookup(
            ResponseTemplate::new(503).set_body_json(serde_json::json!({"message": "busy"})),
        )
        .up_to_n_times(1),
    );
    fake.mount(main_lookup(sha_answer(sha)));
    fake.serve_seed_files(sha, 1);
    let (repo, folders) = namespaces_on_main(&["team-1", "team-2"]);
    let shared = SharedFetchers::default();
    // One after the other, as a run reaching the second namespace after the first has failed.
    let validations: Vec<kfp_config::Validation> = folders
        .iter()
        .map(|folder| {
            let options = LoadOptions {
                namespace: None,
                fetchers: Some(shared.clone()),
                ..options(&fake, repo.path())
            };
            validate_namespace(folder, &options)
        })
        .collect();
    assert!(validations[0].desired.is_none());
    assert!(
        rendered(&validations[0], repo.path()).contains("HTTP 503"),
        "{}",
        rendered(&validations[0], repo.path())
    );
    let second = validations[1].desired.as_ref().unwrap_or_else(|| {
        panic!("{}", rendered(&validations[1], repo.path()));
    });
    assert!(second.recurring_runs[0].source.contains("@0123456789ab:"));
    fake.verify();
}

#[test]
fn a_namespace_after_a_missing_repository_shares_that_answer_without_asking_again() {
    let fake = Fake::start();
    fake.mount(main_lookup(
        ResponseTemplate::new(404).set_body_json(serde_json::json!({"message": "Not Found"})),
    ));
    let (repo, folders) = namespaces_on_main(&["team-1", "team-2"]);
    let shared = SharedFetchers::default();
    for folder in &folders {
        let options = LoadOptions {
            namespace: None,
            fetchers: Some(shared.clone()),
            ..options(&fake, repo.path())
        };
        let validation = validate_namespace(folder, &options);
        assert!(
            rendered(&validation, repo.path()).contains("not found"),
            "{}: {}",
            folder.display(),
            rendered(&validation, repo.path())
        );
    }
    fake.verify();
}
