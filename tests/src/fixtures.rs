//! Workflows the end-to-end suites apply: small, valid Argo Workflows as the KFP SDK 1.8.22 writes them.

/// One step that echoes its `msg` parameter (default `hi`), with the SDK's pipeline-spec annotation, so that
/// recurring runs can set `msg`.
pub const HELLO_WORKFLOW: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: hello-
  annotations:
    pipelines.kubeflow.org/kfp_sdk_version: 1.8.22
    pipelines.kubeflow.org/pipeline_spec: '{"inputs": [{"default": "hi", "name": "msg", "optional": true, "type": "String"}], "name": "hello"}'
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

/// One step without parameters.
pub const ECHO_WORKFLOW: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: hello-
spec:
  entrypoint: hello
  templates:
  - name: hello
    container:
      image: alpine:3.19
      command: [echo, hi]
"#;
