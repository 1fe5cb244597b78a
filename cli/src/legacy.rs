//! The command lines of deployKF's reference scripts (`reconcile_kfp.py`, `run_pipeline.py`) keep working:
//! their flags are hidden clap aliases or hidden options of `apply` and `run`, and each use prints one line
//! on stderr with the kfp-gitops spelling. This module only says what to print; the flags themselves live
//! with the options they stand for (`settings.rs`, `kfp_args.rs`, `commands/{apply,run}.rs`).

use std::ffi::OsString;

use clap::ValueEnum as _;

use crate::args::LogLevel;

/// A reference script's flag and what kfp-gitops prints when it is used.
struct Spelling {
    /// The reference scripts' flag.
    flag: &'static str,
    /// `note` (a renamed flag) or `warning` (a secret on the command line).
    kind: &'static str,
    /// What to say.
    text: &'static str,
}

/// Every reference flag that kfp-gitops spells differently. `--namespace`, `--api-url`, `--skip-tls-verify`,
/// `--dex-username`, `--dex-auth-type` and `--pipeline-folder` are spelled the same and need no line.
const SPELLINGS: &[Spelling] = &[
    Spelling {
        flag: "--config-path",
        kind: "note",
        text: "--config-path (reconcile_kfp.py) is spelled --config in kfp-gitops",
    },
    Spelling {
        flag: "--kfp-default-runner-sa",
        kind: "note",
        text: "--kfp-default-runner-sa (reconcile_kfp.py) is spelled --default-runner-sa in kfp-gitops",
    },
    Spelling {
        flag: "--dry-run",
        kind: "note",
        text: "apply --dry-run (reconcile_kfp.py --dry-run) is `kfp-gitops plan`: it shows the changes and makes \
               none; to check configs without KFP access use `kfp-gitops validate`",
    },
    Spelling {
        flag: "--run-name",
        kind: "note",
        text: "--run-name (run_pipeline.py) is spelled --name in kfp-gitops",
    },
    Spelling {
        flag: "--experiment-name",
        kind: "note",
        text: "--experiment-name (run_pipeline.py) is spelled --experiment in kfp-gitops",
    },
    Spelling {
        flag: "--github-token",
        kind: "warning",
        text: "a token on the command line is visible to other users of this machine (ps, /proc) and stays in \
               the shell history; set GITHUB_TOKEN instead of --github-token",
    },
    Spelling {
        flag: "--dex-password",
        kind: "warning",
        text: "a password on the command line is visible to other users of this machine (ps, /proc) and stays \
               in the shell history; set DEX_PASSWORD instead of --dex-password",
    },
];

/// The lines to print on stderr for the reference scripts' spellings in `argv` (program name first), in
/// the order they appear, each once. Called after clap accepted `argv`, so every `--…` word before a
/// lone `--` is an option (clap refuses an option-like value unless it is attached with `=`).
pub fn notes(argv: impl IntoIterator<Item = OsString>) -> Vec<String> {
    let words: Vec<String> = argv
        .into_iter()
        .skip(1)
        .map(|word| word.to_string_lossy().into_owned())
        .take_while(|word| word != "--")
        .collect();
    let mut lines = Vec::new();
    let mut push = |line: String| {
        if !lines.contains(&line) {
            lines.push(line);
        }
    };
    for (index, word) in words.iter().enumerate() {
        let (flag, attached) = match word.split_once('=') {
            Some((flag, value)) => (flag, Some(value)),
            None => (word.as_str(), None),
        };
        if let Some(spelling) = SPELLINGS.iter().find(|spelling| spelling.flag == flag) {
            push(format!("{}: {}", spelling.kind, spelling.text));
        }
        if flag == "--log-level" {
            let value = attached.or_else(|| words.get(index + 1).map(String::as_str));
            if let Some(line) = value.and_then(log_level_note) {
                push(line);
            }
        }
    }
    lines
}

/// The note for a `--log-level` value written as the reference scripts write it (`DEBUG`, `INFO`,
/// `WARNING`), or any other spelling than kfp-gitops' own.
fn log_level_note(value: &str) -> Option<String> {
    let level = LogLevel::from_str(value, true).ok()?;
    let name = level.to_possible_value()?.get_name().to_owned();
    (name != value)
        .then(|| format!("note: --log-level {value} is spelled --log-level {name} in kfp-gitops"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notes_of(argv: &[&str]) -> Vec<String> {
        notes(
            std::iter::once("kfp-gitops")
                .chain(argv.iter().copied())
                .map(OsString::from),
        )
    }

    #[test]
    fn the_reference_reconcile_command_line_gets_one_note_per_renamed_flag() {
        assert_eq!(
            notes_of(&[
                "apply",
                "--config-path",
                "./team-1",
                "--namespace",
                "team-1",
                "--kfp-default-runner-sa=runner",
                "--log-level",
                "DEBUG",
                "--dry-run",
            ]),
            [
                "note: --config-path (reconcile_kfp.py) is spelled --config in kfp-gitops",
                "note: --kfp-default-runner-sa (reconcile_kfp.py) is spelled --default-runner-sa in kfp-gitops",
                "note: --log-level DEBUG is spelled --log-level debug in kfp-gitops",
                "note: apply --dry-run (reconcile_kfp.py --dry-run) is `kfp-gitops plan`: it shows the changes and \
                 makes none; to check configs without KFP access use `kfp-gitops validate`",
            ]
        );
    }

    #[test]
    fn secrets_on_the_command_line_get_a_warning_that_names_the_variable() {
        let lines = notes_of(&["apply", "--github-token", "ghp_x", "--dex-password=pw"]);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].starts_with("warning: a token on the command line is visible to other users")
        );
        assert!(lines[0].ends_with("set GITHUB_TOKEN instead of --github-token"));
        assert!(
            lines[1]
                .starts_with("warning: a password on the command line is visible to other users")
        );
        assert!(lines[1].ends_with("set DEX_PASSWORD instead of --dex-password"));
        assert!(!lines.concat().contains("ghp_x") && !lines.concat().contains("pw "));
    }

    #[test]
    fn the_reference_log_levels_map_to_kfp_gitops_levels() {
        assert_eq!(
            notes_of(&[
                "--log-level=WARNING",
                "run",
                "--run-name",
                "x",
                "--experiment-name",
                "y"
            ]),
            [
                "note: --log-level WARNING is spelled --log-level warn in kfp-gitops",
                "note: --run-name (run_pipeline.py) is spelled --name in kfp-gitops",
                "note: --experiment-name (run_pipeline.py) is spelled --experiment in kfp-gitops",
            ]
        );
        assert_eq!(
            notes_of(&["--log-level", "INFO", "ping"]),
            ["note: --log-level INFO is spelled --log-level info in kfp-gitops"]
        );
    }

    #[test]
    fn kfp_gitops_spellings_and_words_after_a_double_dash_get_no_note() {
        assert!(
            notes_of(&[
                "--log-level",
                "debug",
                "apply",
                "--config",
                "x",
                "--namespace",
                "n"
            ])
            .is_empty()
        );
        assert!(notes_of(&["render", "--", "python", "pipeline.py", "--run-name", "x"]).is_empty());
    }

    #[test]
    fn a_flag_given_twice_gets_one_note() {
        assert_eq!(
            notes_of(&["apply", "--config-path", "a", "--config-path", "b"]).len(),
            1
        );
    }
}
