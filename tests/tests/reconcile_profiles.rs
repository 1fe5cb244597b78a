//! `kfp-gitops plan`/`apply` end to end against every emulator profile (KFP 1.8.5 and the KFP 2.x backends
//! serving v1beta1, KFP2-V1BETA1.md), multi-user: create, no-op, replace, drift, saved plan, prune, the seed's
//! example, foreign jobs, an upgrade, and 2.17's per-namespace v1 blocking. The CLI always names a
//! namespace, so single-user servers are reconciled through the library (namespace "").

use std::path::Path;

use assert_cmd::Command;
use kfp_gitops_tests::emulator::{
    ALL_PROFILES, Emulator, EmulatorConfig, Fault, ForeignJob, Profile,
};

const NAMESPACE: &str = "team-1";

const WORKFLOW: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: hello-
  annotations:
    pipelines.kubeflow.org/kfp_sdk_version: 1.8.22
spec:
  entrypoint: hello
  arguments:
    parameters:
    - name: msg
      value: hi
  templates:
  - name: hello
    inputs:
      parameters:
      - name: msg
    container:
      image: alpine:3.19
      command: [echo, '{{inputs.parameters.msg}}']
  serviceAccountName: pipeline-runner
"#;

/// One config folder with the experiment `nightly-exp` and the recurring run `nightly`.
struct Config {
    dir: tempfile::TempDir,
}

impl Config {
    fn new(cron: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("experiments.yaml"),
            "experiments:\n  - name: nightly-exp\n    description: the nightly experiment\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("workflow.yaml"), WORKFLOW).unwrap();
        let config = Self { dir };
        config.set(cron);
        config
    }

    fn set(&self, cron: &str) {
        std::fs::write(
            self.dir.path().join("recurring_runs.yaml"),
            format!(
                r#"recurring_runs:
  - pipeline_source:
      path: workflow.yaml
    pipeline_parameters:
      - name: msg
        value: hello
    keep_history: 1
    job:
      enabled: true
      name: nightly
      description: ~
      experiment: nightly-exp
      max_concurrency: 1
      service_account: ~
      trigger:
        catchup: false
        cron: "{cron}"
"#
            ),
        )
        .unwrap();
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// The emulator and how the CLI addresses it.
struct Kfp {
    emulator: Emulator,
    multi_user: bool,
    label: String,
}

impl Kfp {
    fn start(profile: Profile, multi_user: bool) -> Self {
        let config = if multi_user {
            EmulatorConfig::multi_user()
        } else {
            EmulatorConfig::single_user()
        };
        Self::with(config.with_profile(profile), multi_user)
    }

    fn with(config: EmulatorConfig, multi_user: bool) -> Self {
        let label = format!(
            "KFP {} {}",
            config.profile,
            if multi_user {
                "multi-user"
            } else {
                "single-user"
            }
        );
        Self {
            emulator: Emulator::start(config).unwrap(),
            multi_user,
            label,
        }
    }

    fn cli(&self, dir: &Path) -> Command {
        let mut command = Command::cargo_bin("kfp-gitops").unwrap();
        command
            .env_remove("KFP_API_URL")
            .env_remove("KFP_NAMESPACE")
            .env_remove("KFP_TOKEN")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .current_dir(dir)
            .args(["--api-url", &self.emulator.base_url()]);
        if self.multi_user {
            command.args(["--namespace", NAMESPACE]);
        }
        command
    }

    fn run(&self, dir: &Path, args: &[&str]) -> Output {
        let output = self.cli(dir).args(args).output().unwrap();
        Output {
            code: output.status.code(),
            text: format!(
                "{}: exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
                self.label,
                output.status.code(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    }

    fn plan(&self, config: &Config) -> Output {
        let dir = config.path().to_str().unwrap();
        self.run(
            config.path(),
            &["plan", "--detailed-exitcode", "--config", dir],
        )
    }

    fn apply(&self, config: &Config) -> Output {
        let dir = config.path().to_str().unwrap();
        self.run(config.path(), &["apply", "--config", dir])
    }

    /// The versions of `nightly`: (id, name, enabled), by name.
    fn versions(&self) -> Vec<(String, String, bool)> {
        let query = if self.multi_user {
            format!("&resource_reference_key.type=NAMESPACE&resource_reference_key.id={NAMESPACE}")
        } else {
            String::new()
        };
        let body = self
            .emulator
            .request(
                "GET",
                &format!("/apis/v1beta1/jobs?page_size=200{query}"),
                None,
            )
            .unwrap()
            .json();
        let mut versions: Vec<(String, String, bool)> = body["jobs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|job| {
                (
                    job["id"].as_str().unwrap_or_default().to_owned(),
                    job["name"].as_str().unwrap_or_default().to_owned(),
                    job["enabled"].as_bool().unwrap_or(false),
                )
            })
            .filter(|(_, name, _)| name.starts_with("GIT::nightly__"))
            .collect();
        versions.sort_by(|a, b| a.1.cmp(&b.1));
        versions
    }

    /// Plan exits 0 three times in a row (nothing is ever replaced twice) and exactly one version is enabled.
    fn assert_converged(&self, config: &Config, step: &str) {
        for round in 1..=3 {
            let output = self.plan(config);
            assert_eq!(
                output.code,
                Some(0),
                "{step}, plan {round}: {}",
                output.text
            );
        }
        let versions = self.versions();
        let enabled = versions.iter().filter(|v| v.2).count();
        assert_eq!(enabled, 1, "{}: {step}: {versions:?}", self.label);
    }
}

struct Output {
    code: Option<i32>,
    text: String,
}

#[test]
fn plan_apply_replace_drift_and_prune_converge_on_every_profile() {
    for &profile in ALL_PROFILES {
        let kfp = Kfp::start(profile, true);
        let config = Config::new("0 0 7 * * *");

        // healthz in the profile's shape, the namespace reachable (KFP2-V1BETA1.md §2.1).
        let ping = kfp.run(config.path(), &["ping"]);
        assert_eq!(ping.code, Some(0), "{}", ping.text);

        let first = kfp.plan(&config);
        assert_eq!(first.code, Some(2), "{}", first.text);
        let applied = kfp.apply(&config);
        assert_eq!(applied.code, Some(0), "{}", applied.text);
        assert!(
            applied.text.contains("3 action(s) done, 0 failed"),
            "{}",
            applied.text
        );
        kfp.assert_converged(&config, "after the first apply");

        // A cron change replaces the version with one enabled new version.
        config.set("0 30 6 * * 1-5");
        let replace = kfp.plan(&config);
        assert_eq!(replace.code, Some(2), "{}", replace.text);
        assert!(
            replace.text.contains("replace with a new version"),
            "{}",
            replace.text
        );
        let applied = kfp.apply(&config);
        assert_eq!(applied.code, Some(0), "{}", applied.text);
        kfp.assert_converged(&config, "after the replacement");
        assert_eq!(kfp.versions().len(), 2, "{}: keep_history 1", kfp.label);

        // Drift: the latest version disabled by hand is enabled again.
        let (latest, _, _) = kfp.versions().into_iter().find(|v| v.2).unwrap();
        kfp.emulator
            .request(
                "POST",
                &format!("/apis/v1beta1/jobs/{latest}/disable"),
                None,
            )
            .unwrap();
        let drift = kfp.plan(&config);
        assert_eq!(drift.code, Some(2), "{}", drift.text);
        assert_eq!(kfp.apply(&config).code, Some(0));
        kfp.assert_converged(&config, "after repairing the drift");

        // A saved plan is applied exactly.
        config.set("0 0 8 * * *");
        let plan_file = config.path().join("plan.json");
        let dir = config.path().to_str().unwrap().to_owned();
        let saved = kfp.run(
            config.path(),
            &[
                "plan",
                "--config",
                &dir,
                "--out",
                plan_file.to_str().unwrap(),
            ],
        );
        assert_eq!(saved.code, Some(0), "{}", saved.text);
        let applied = kfp.run(config.path(), &["apply", plan_file.to_str().unwrap()]);
        assert_eq!(applied.code, Some(0), "{}", applied.text);
        std::fs::remove_file(&plan_file).unwrap();
        kfp.assert_converged(&config, "after the saved plan");

        // Prune: the recurring run leaves the config.
        std::fs::write(
            config.path().join("recurring_runs.yaml"),
            "recurring_runs: []\n",
        )
        .unwrap();
        let pruned = kfp.run(
            config.path(),
            &[
                "apply",
                "--prune=delete",
                "--allow-empty-prune",
                "--config",
                &dir,
            ],
        );
        assert_eq!(pruned.code, Some(0), "{}", pruned.text);
        assert!(
            kfp.versions().is_empty(),
            "{}: {:?}",
            kfp.label,
            kfp.versions()
        );
        let after = kfp.plan(&config);
        assert_eq!(after.code, Some(0), "{}", after.text);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn the_seed_example_applies_and_converges_on_every_profile() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/daily-digest");
    for &profile in ALL_PROFILES {
        let repo = tempfile::tempdir().unwrap();
        copy_dir(&source, repo.path());
        std::fs::write(repo.path().join("kfp-gitops.yaml"), "").unwrap();
        let config = repo.path().join("schedules").join(NAMESPACE);
        let dir = config.to_str().unwrap();
        let kfp = Kfp::start(profile, true);
        let applied = kfp.run(&config, &["apply", "--config", dir]);
        assert_eq!(applied.code, Some(0), "{}", applied.text);
        for _ in 0..3 {
            let planned = kfp.run(&config, &["plan", "--detailed-exitcode", "--config", dir]);
            assert_eq!(planned.code, Some(0), "{}", planned.text);
        }
    }
}

#[test]
fn foreign_and_erroring_jobs_under_a_managed_name_are_skipped_with_a_warning() {
    for &profile in ALL_PROFILES {
        let kfp = Kfp::start(profile, true);
        let config = Config::new("0 0 7 * * *");
        assert_eq!(kfp.apply(&config).code, Some(0));
        // A v2 job (UI or v2 SDK) and a both-empty "always latest" job under newer managed names.
        kfp.emulator.insert_job(ForeignJob {
            name: "GIT::nightly__2099-01-01T00-00-00Z".to_owned(),
            namespace: NAMESPACE.to_owned(),
            pipeline_manifest: "pipelineInfo:\n  name: nightly\n".to_owned(),
            enabled: true,
            ..ForeignJob::default()
        });
        kfp.emulator.insert_job(ForeignJob {
            name: "GIT::nightly__2098-01-01T00-00-00Z".to_owned(),
            namespace: NAMESPACE.to_owned(),
            ..ForeignJob::default()
        });
        let planned = kfp.plan(&config);
        assert_eq!(planned.code, Some(0), "never drift: {}", planned.text);
        assert!(
            planned
                .text
                .contains("is skipped because it is a KFP v2 job"),
            "{}",
            planned.text
        );
        assert!(
            planned
                .text
                .contains("is skipped because it has no workflow manifest"),
            "{}",
            planned.text
        );
        let applied = kfp.apply(&config);
        assert_eq!(
            applied.code,
            Some(0),
            "never a failed run: {}",
            applied.text
        );

        // Our own version with an `error`: skipped; a new version is created once, then the plan is quiet.
        let (ours, _, _) = kfp
            .versions()
            .into_iter()
            .find(|(_, name, _)| !name.starts_with("GIT::nightly__209"))
            .unwrap();
        assert!(
            kfp.emulator
                .set_job_error(&ours, "the ScheduledWorkflow is broken")
        );
        let applied = kfp.apply(&config);
        assert_eq!(applied.code, Some(0), "{}", applied.text);
        for _ in 0..3 {
            let planned = kfp.plan(&config);
            assert_eq!(planned.code, Some(0), "{}", planned.text);
        }
    }
}

#[test]
fn an_upgrade_from_1_8_5_to_each_2x_profile_changes_nothing() {
    for &profile in &ALL_PROFILES[1..] {
        let kfp = Kfp::start(Profile::V1_8_5, true);
        let config = Config::new("0 0 7 * * *");
        assert_eq!(kfp.apply(&config).code, Some(0));
        kfp.emulator.set_profile(profile);
        let planned = kfp.plan(&config);
        assert_eq!(
            planned.code,
            Some(0),
            "after the upgrade to {profile}: {}",
            planned.text
        );
    }
}

#[test]
fn kfp_2_17_v1_blocking_fails_the_apply_clearly_and_leaves_the_old_version_enabled() {
    // Blocking is configured from the start but honoured only once the server is 2.17 (an upgrade).
    let config = EmulatorConfig::multi_user()
        .with_profile(Profile::V2_14)
        .with_v1_blocked_except(["another-team"]);
    let kfp = Kfp::with(config, true);
    let schedules = Config::new("0 0 7 * * *");
    assert_eq!(kfp.apply(&schedules).code, Some(0));
    let before = kfp.versions();
    assert_eq!(before.len(), 1);

    kfp.emulator.set_profile(Profile::V2_17);
    assert_eq!(
        kfp.plan(&schedules).code,
        Some(0),
        "nothing to do is still nothing to do"
    );
    schedules.set("0 0 8 * * *");
    let refused = kfp.apply(&schedules);
    assert_ne!(refused.code, Some(0), "{}", refused.text);
    assert!(
        refused
            .text
            .contains("KFP refuses v1 pipelines in namespace \"team-1\""),
        "{}",
        refused.text
    );
    assert_eq!(
        kfp.versions(),
        before,
        "the old version stays, enabled: {}",
        refused.text
    );
    assert!(before[0].2);
}

/// Plans and applies the config folder in namespace "" (a single-user KFP) through the library; returns the
/// number of actions planned.
fn reconcile_single_user(api: &kfp_client::HttpKfpClient, config: &Config) -> usize {
    let options = kfp_config::LoadOptions {
        namespace: Some(String::new()),
        repo_root: Some(config.path().to_owned()),
        ..kfp_config::LoadOptions::default()
    };
    let desired = kfp_config::load_namespace(config.path(), &options).unwrap();
    let observed = kfp_reconcile::observe(api, "").unwrap();
    let plan = kfp_reconcile::plan(
        &desired,
        &observed,
        jiff::Timestamp::now(),
        &kfp_reconcile::PlanOptions::default(),
    );
    let report = kfp_reconcile::apply(&plan, api, &kfp_reconcile::ApplyOptions::default());
    assert!(report.is_success(), "{report:?}");
    plan.action_count()
}

#[test]
fn the_library_reconciles_a_single_user_server_on_every_profile() {
    for &profile in ALL_PROFILES {
        let kfp = Kfp::start(profile, false);
        let api =
            kfp_client::HttpKfpClient::new(kfp_client::ClientConfig::new(kfp.emulator.base_url()))
                .unwrap();
        let config = Config::new("0 0 7 * * *");
        assert_eq!(reconcile_single_user(&api, &config), 3, "{}", kfp.label);
        assert_eq!(
            reconcile_single_user(&api, &config),
            0,
            "{}: converged",
            kfp.label
        );
        config.set("0 0 9 * * *");
        assert!(reconcile_single_user(&api, &config) > 0, "{}", kfp.label);
        for _ in 0..3 {
            assert_eq!(
                reconcile_single_user(&api, &config),
                0,
                "{}: converged",
                kfp.label
            );
        }
        let enabled = kfp.versions().iter().filter(|v| v.2).count();
        assert_eq!(enabled, 1, "{}: {:?}", kfp.label, kfp.versions());
    }
}

#[test]
fn a_refused_page_token_restarts_the_listing_once_on_every_profile() {
    for &profile in ALL_PROFILES {
        let kfp = Kfp::start(profile, true);
        let config = Config::new("0 0 7 * * *");
        assert_eq!(kfp.apply(&config).code, Some(0));
        // The server was restarted or upgraded between two pages (KFP2-V1BETA1.md §1, §5 P1-15).
        for path in ["/apis/v1beta1/jobs", "/apis/v1beta1/experiments"] {
            kfp.emulator.inject_fault(Fault {
                message: "Failed to create list options: Invalid page token".to_owned(),
                ..Fault::status("GET", path, 400)
            });
        }
        kfp.emulator.reset_counts();
        let planned = kfp.plan(&config);
        assert_eq!(planned.code, Some(0), "{}", planned.text);
        assert_eq!(
            kfp.emulator.count("GET /apis/v1beta1/jobs"),
            2,
            "{}",
            kfp.label
        );
        assert_eq!(
            kfp.emulator.count("GET /apis/v1beta1/experiments"),
            2,
            "{}",
            kfp.label
        );
        // Twice in a row is a real failure.
        kfp.emulator.inject_fault(Fault {
            message: "Invalid page token".to_owned(),
            times: 2,
            ..Fault::status("GET", "/apis/v1beta1/jobs", 400)
        });
        let failed = kfp.plan(&config);
        assert_eq!(failed.code, Some(1), "{}", failed.text);
        kfp.emulator.clear_faults();
    }
}
