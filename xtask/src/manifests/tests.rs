//! Unit tests of the manifest checks.

use super::kubernetes::{check_istio_drain, duration_seconds};
use super::workflows::references;
use super::*;

fn project_file(path: &str) -> String {
    fs::read_to_string(crate::command::project_root().join(path)).unwrap()
}

#[test]
fn the_projects_workflows_pass_the_workflow_checks() {
    let files = read_files(
        &crate::command::project_root().join(".github/workflows"),
        &["yaml", "yml"],
    )
    .unwrap();
    assert!(
        files.len() >= 4,
        "expected the CI workflow and three templates"
    );
    for (path, text) in files {
        assert_eq!(
            check_github_workflow(&text),
            Vec::<String>::new(),
            "{}",
            path.display()
        );
    }
}

#[test]
fn the_gitlab_example_and_the_dockerfile_pass_their_checks() {
    assert_eq!(
        check_gitlab_ci(&project_file("docs/ci/gitlab-ci.yml")),
        Vec::<String>::new()
    );
    assert_eq!(
        check_dockerfile(&project_file("Dockerfile")),
        Vec::<String>::new()
    );
}

const CALLABLE: &str = r#"
on:
  workflow_call:
    inputs:
      api-url:
        type: string
    secrets:
      KFP_TOKEN:
        required: false
jobs:
  plan:
    runs-on: ubuntu-24.04
    if: inputs.api-url != ''
    steps:
      - id: plan
        run: echo "${{ inputs.api-url }} ${{ secrets.KFP_TOKEN }} ${{ secrets.GITHUB_TOKEN }}"
      - if: steps.plan.outputs.reachable == 'true'
        run: echo ok
"#;

#[test]
fn a_workflow_using_only_what_it_declares_passes() {
    assert_eq!(check_github_workflow(CALLABLE), Vec::<String>::new());
}

#[test]
fn an_undeclared_input_is_reported_also_inside_an_if_condition() {
    let text = CALLABLE.replace("if: inputs.api-url", "if: inputs.api_url");
    assert_eq!(
        check_github_workflow(&text),
        vec!["job `plan` uses `inputs.api_url`, which the workflow does not declare"]
    );
}

#[test]
fn an_undeclared_secret_and_an_unknown_step_id_are_reported() {
    let text = CALLABLE
        .replace("secrets.KFP_TOKEN }}", "secrets.DEX_PASSWORD }}")
        .replace("steps.plan.outputs", "steps.planned.outputs");
    assert_eq!(
        check_github_workflow(&text),
        vec![
            "job `plan` uses `secrets.DEX_PASSWORD`, which the reusable workflow does not declare",
            "job `plan` uses `steps.planned`, but no step has that id",
        ]
    );
}

#[test]
fn a_workflow_that_is_not_yaml_is_reported() {
    let problems = check_github_workflow("on: [push\njobs: {");
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].starts_with("does not parse as YAML"),
        "{problems:?}"
    );
}

#[test]
fn callers_of_a_template_may_pass_only_what_it_declares_and_must_pass_what_it_requires() {
    let template: Value = serde_saphyr::from_str::<Value>(
            "on:\n  workflow_call:\n    inputs:\n      api-url: {type: string, required: true}\n      prune: {type: string}\n    secrets:\n      KFP_TOKEN: {}\n",
        )
        .unwrap();
    let templates = BTreeMap::from([("_apply-on-merge.yaml".to_owned(), template)]);
    let caller = "on: push\njobs:\n  apply:\n    uses: o/r/.github/workflows/_apply-on-merge.yaml@v1\n    with:\n      prune: delete\n      dry-run: true\n    secrets:\n      DEX_PASSWORD: x\n";
    assert_eq!(
        check_template_calls(caller, &templates),
        vec![
            "job `apply` passes input `dry-run`, which _apply-on-merge.yaml does not declare",
            "job `apply` does not pass the required input `api-url` of _apply-on-merge.yaml",
            "job `apply` passes secret `DEX_PASSWORD`, which _apply-on-merge.yaml does not declare",
        ]
    );
    let fine = "on: push\njobs:\n  apply:\n    uses: o/r/.github/workflows/_apply-on-merge.yaml@v1\n    with:\n      api-url: u\n    secrets: inherit\n";
    assert_eq!(check_template_calls(fine, &templates), Vec::<String>::new());
}

#[test]
fn an_istio_proxy_must_outlast_the_daemons_grace_period() {
    let deployment = |config: &str| -> Value {
        serde_json::json!({"spec": {"template": {
            "metadata": {"annotations": {"proxy.istio.io/config": config}},
            "spec": {"terminationGracePeriodSeconds": 120},
        }}})
    };
    assert_eq!(
        check_istio_drain(&deployment(r#"{"holdApplicationUntilProxyStarts": true}"#)),
        vec![
            "the Istio proxy drains for 5s (the default), less than the 120 s terminationGracePeriodSeconds the daemon may use to finish a job: set terminationDrainDuration (or EXIT_ON_ZERO_ACTIVE_CONNECTIONS) in proxy.istio.io/config"
        ]
    );
    assert_eq!(
        check_istio_drain(&deployment(r#"{"terminationDrainDuration": "1m"}"#)).len(),
        1
    );
    assert_eq!(
        check_istio_drain(&deployment(r#"{"terminationDrainDuration": "2m"}"#)),
        Vec::<String>::new()
    );
    assert_eq!(
        check_istio_drain(&deployment(
            "proxyMetadata:\n  EXIT_ON_ZERO_ACTIVE_CONNECTIONS: 'true'\n"
        )),
        Vec::<String>::new()
    );
    assert_eq!(
        check_istio_drain(&deployment(r#"{"terminationDrainDuration": "soon"}"#)),
        vec!["terminationDrainDuration `soon` of proxy.istio.io/config is not a duration"]
    );
    assert_eq!(duration_seconds("1m30s"), Some(90));
    // Without the annotation, no sidecar is configured here: nothing to check.
    assert_eq!(
        check_istio_drain(&serde_json::json!({"spec": {}})),
        Vec::<String>::new()
    );
}

#[test]
fn yaml_blocks_of_markdown_are_found() {
    let markdown = "text\n```yaml\na: 1\n```\n```sh\nls\n```\n```yml\nb: 2\n```\n";
    assert_eq!(yaml_blocks(markdown), vec!["a: 1\n", "b: 2\n"]);
}

#[test]
fn callers_of_a_template_must_grant_the_permissions_it_asks_for() {
    let template: Value = serde_saphyr::from_str::<Value>(
            "on:\n  workflow_call: {}\npermissions:\n  contents: read\n  pull-requests: write\njobs:\n  check:\n    runs-on: x\n    permissions:\n      checks: read\n",
        )
        .unwrap();
    let templates = BTreeMap::from([("_check-configs.yaml".to_owned(), template)]);
    let call = |permissions: &str| {
        format!(
            "on: pull_request\n{permissions}jobs:\n  check:\n    uses: o/r/.github/workflows/_check-configs.yaml@v1\n"
        )
    };
    assert_eq!(
        check_template_calls(&call(""), &templates),
        vec![
            "job `check` does not grant `checks: read`, which _check-configs.yaml asks for",
            "job `check` does not grant `pull-requests: write`, which _check-configs.yaml asks for",
        ]
    );
    assert_eq!(
        check_template_calls(
            &call("permissions:\n  contents: read\n  checks: write\n  pull-requests: read\n"),
            &templates
        ),
        vec![
            "job `check` does not grant `pull-requests: write`, which _check-configs.yaml asks for"
        ]
    );
    assert_eq!(
        check_template_calls(&call("permissions: write-all\n"), &templates),
        Vec::<String>::new()
    );
    let in_the_job = "on: pull_request\njobs:\n  check:\n    uses: o/r/.github/workflows/_check-configs.yaml@v1\n    permissions:\n      contents: read\n      checks: read\n      pull-requests: write\n";
    assert_eq!(
        check_template_calls(in_the_job, &templates),
        Vec::<String>::new()
    );
}

#[test]
fn outputs_of_needed_jobs_are_not_mistaken_for_inputs() {
    assert_eq!(
        references("needs.build.outputs.inputs.x && inputs.y", "inputs."),
        vec!["y"]
    );
}

#[test]
fn a_dockerfile_running_as_root_or_copying_from_an_unknown_stage_is_reported() {
    let text =
        "FROM rust AS build\nRUN cargo build\nFROM debian\nCOPY --from=builder /a /b\nUSER root\n";
    assert_eq!(
        check_dockerfile(text),
        vec![
            "COPY --from=builder: no earlier stage is named `builder`",
            "the final stage runs as `root`: it must be a non-root user",
        ]
    );
    let text = "FROM rust AS build\nFROM debian\nCOPY --from=build /a /b\n";
    assert_eq!(
        check_dockerfile(text),
        vec!["the final stage has no USER: the image would run as root"]
    );
}

#[test]
fn a_gitlab_job_without_script_or_with_an_unknown_stage_is_reported() {
    let text = "stages: [check]\nvalidate:\n  stage: check\n  script: [kfp-gitops validate]\napply:\n  stage: deploy\n  image: x\n";
    assert_eq!(
        check_gitlab_ci(text),
        vec![
            "job `apply` has no `script`",
            "job `apply` uses the undeclared stage `deploy`",
        ]
    );
}

fn rendered_base() -> Vec<Value> {
    serde_saphyr::from_multiple(
        r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: kfp-gitops}
---
apiVersion: v1
kind: Service
metadata:
  name: kfp-gitops
  labels: {app: kfp-gitops}
spec:
  selector: {app: kfp-gitops}
  ports: [{name: http, port: 9090, targetPort: http}]
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: kfp-gitops}
spec:
  selector: {matchLabels: {app: kfp-gitops}}
  endpoints: [{port: http}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: kfp-gitops}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app: kfp-gitops}}
  template:
    metadata: {labels: {app: kfp-gitops}}
    spec:
      serviceAccountName: kfp-gitops
      securityContext: {runAsNonRoot: true}
      containers:
        - name: kfp-gitops
          image: kfp-gitops
          ports: [{name: http, containerPort: 9090}]
          livenessProbe: {httpGet: {path: /healthz, port: http}}
          readinessProbe: {httpGet: {path: /readyz, port: http}}
          resources: {requests: {cpu: 10m}, limits: {memory: 64Mi}}
          securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}
          volumeMounts:
            - {name: git, mountPath: /git}
            - {name: kfp-token, mountPath: /var/run/secrets/kubeflow/pipelines}
        - name: git-sync
          image: registry.k8s.io/git-sync/git-sync:v4.4.2
          resources: {requests: {cpu: 10m}, limits: {memory: 64Mi}}
          securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}
          env:
            - name: GITSYNC_PASSWORD
              valueFrom: {secretKeyRef: {name: creds, key: p, optional: true}}
          volumeMounts: [{name: git, mountPath: /git}]
      volumes:
        - {name: git, emptyDir: {}}
        - name: kfp-token
          projected:
            sources: [{serviceAccountToken: {path: token, audience: pipelines.kubeflow.org}}]
"#,
    )
    .unwrap()
}

#[test]
fn a_consistent_deployment_with_service_and_monitor_passes() {
    assert_eq!(check_objects(&rendered_base()), Vec::<String>::new());
}

#[test]
fn broken_references_and_lost_promises_are_reported() {
    let mut objects = rendered_base();
    let deployment = &mut objects[3];
    deployment["spec"]["strategy"]["type"] = "RollingUpdate".into();
    let pod = &mut deployment["spec"]["template"]["spec"];
    pod["containers"][0]["readinessProbe"]["httpGet"]["port"] = "metrics".into();
    pod["containers"][1]["volumeMounts"][0]["name"] = "checkout".into();
    pod["volumes"][1]["projected"]["sources"][0]["serviceAccountToken"]["audience"] =
        "kubernetes".into();
    objects[2]["spec"]["endpoints"][0]["port"] = "web".into();
    assert_eq!(
        check_objects(&objects),
        vec![
            "Deployment kfp-gitops: container kfp-gitops: readinessProbe uses the undeclared port `metrics`",
            "Deployment kfp-gitops: container git-sync mounts the undeclared volume `checkout`",
            "Deployment kfp-gitops: must use the Recreate strategy (never two reconcilers at once)",
            "ServiceMonitor kfp-gitops: endpoint port `web` is not a port of the selected Service",
            "no projected serviceAccountToken volume with audience pipelines.kubeflow.org and path token",
            "git-sync and kfp-gitops must share an emptyDir volume",
        ]
    );
}
