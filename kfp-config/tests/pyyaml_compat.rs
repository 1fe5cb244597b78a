//! Our YAML reading must agree with what the KFP v1 SDK sends: `json.dumps(yaml.safe_load(file))`.
//! These tests ask the real PyYAML (from the project's venv with `kfp==1.8.22`) and compare.

use std::path::{Path, PathBuf};
use std::process::Command;

use kfp_config::{CompareOptions, compare};
use kfp_config::{Workflow, to_json_value};
use serde_json::Value;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The venv python (created by `cargo xtask venv` on first use; `KFP_GITOPS_PYTHON` overrides).
fn python() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(find_python).clone()
}

fn find_python() -> PathBuf {
    if let Some(path) = std::env::var_os("KFP_GITOPS_PYTHON") {
        return PathBuf::from(path);
    }
    // A venv that `cargo xtask venv` already made (CI makes it before the tests) needs no nested cargo,
    // which would wait for the build lock of whatever else is compiling.
    let existing = workspace_root().join("target/kfp-venv/bin/python");
    let usable = Command::new(&existing)
        .args(["-c", "import kfp, yaml"])
        .output()
        .is_ok_and(|output| output.status.success());
    if usable {
        return existing;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["xtask", "venv"])
        .current_dir(workspace_root())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo xtask venv failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

fn run_python(script: &str, args: &[&str]) -> String {
    let output = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Nothing ignored; the float tolerance only absorbs serde_json's last-bit rounding of the Python output.
fn exact() -> CompareOptions {
    CompareOptions {
        ignore_keys: Vec::new(),
        ..CompareOptions::default()
    }
}

#[test]
fn the_seed_manifest_means_what_the_kfp_sdk_sends() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/seed/RENDERED_PIPELINE/workflow.yaml");
    let sdk = run_python(
        "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        &[path.to_str().unwrap()],
    );
    let sdk: Value = serde_json::from_str(&sdk).unwrap();
    let ours = Workflow::parse_yaml(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let ours: Value = serde_json::from_str(&ours.to_manifest_json()).unwrap();
    assert_eq!(compare(&sdk, &ours, &exact()), vec![]);
}

/// Values whose YAML spelling differs between YAML 1.1 (PyYAML) and YAML 1.2, written by PyYAML's
/// dumper in block and flow style, and a hand-written document with YAML 1.1 forms. (Left out: a raw
/// U+2028/U+2029 inside a quoted scalar, a line break only in YAML 1.1, which PyYAML writes raw only with
/// `allow_unicode=True`; the KFP compiler does not set it.)
const CORPUS_SCRIPT: &str = r#"
import json, yaml
strings = ['yes', 'no', 'on', 'off', 'y', 'n', 'Y', 'N', 'true', 'True', 'null', '~', '', '1.8.22', '0755',
    '1_000', '1e3', '1.5e3', '1E+3', '+1', '-0', '0x1F', '0o17', '0b101', '.inf', '.nan', '-.inf', '2023-07-30',
    '2023-07-30T19:31:36.462884', '12:30', '1:30:00', '3.10', '.5', '+.5', '1.', 'multi\nline', '=', '<<', '0.',
    '1e-3', '6.02e+23', '0:30', '09', '-', ':', '- a', 'a: b', '#x', '@x', '`x`', '{x}', '[x]', '*x', '&x', '!x',
    '%x', '|', '>', "'", '"', ' lead', 'trail ', 'tab\there', 'uni\u00e9\u4e2d', 'NaN', 'Infinity']
data = {
    'strings': strings,
    'ints': [0, -5, 10**15, -(2**63), 2**63 - 1, 15, 1000],
    'floats': [1.5, 0.1, 1e-10, 1e20, 3.0, -0.0, 6.02e23, 1.0 / 3.0, 123456789.123456789],
    'bools': [True, False],
    'none': None,
    'keys': {s: i for i, s in enumerate(strings)},
    'nested': [{'a': [1, {'b': None}]}, [], {}],
}
documents = [
    yaml.safe_dump(data, default_flow_style=False, sort_keys=False),
    yaml.safe_dump(data, default_flow_style=None, sort_keys=False, width=40),
    yaml.safe_dump(data, default_flow_style=True, sort_keys=True),
    yaml.safe_dump(data, allow_unicode=True),
    '''
a: 0755
b: 1_000
c: 0b1_0
d: 0x_1F
e: 190:20:30
f: 190:20:30.15
g: 1.5e+3
h: YES
i: Off
j: ~
k:
l: !!str 123
m: !!float '1'
n: [1, 2, {o: p}]
base: &base {x: 1, y: [a, b]}
ref: *base
merged:
  <<: [*base, {z: 3}]
  y: override
folded: >
  one
  two
literal: |+
  keep

quoted: "tab\\tand \\u00e9"
single: 'it''s'
''',
]
print(json.dumps([{'yaml': d, 'json': json.dumps(yaml.safe_load(d))} for d in documents]))
"#;

#[test]
fn yaml_written_or_read_by_pyyaml_means_the_same_to_us() {
    let cases: Vec<Value> = serde_json::from_str(&run_python(CORPUS_SCRIPT, &[])).unwrap();
    assert_eq!(cases.len(), 5);
    for case in cases {
        let text = case["yaml"].as_str().unwrap();
        let expected: Value = serde_json::from_str(case["json"].as_str().unwrap()).unwrap();
        let ours = to_json_value(text).unwrap_or_else(|err| panic!("{err}\n{text}"));
        let differences = compare(&expected, &ours, &exact());
        assert!(differences.is_empty(), "{differences:#?}\nin:\n{text}");
    }
}
