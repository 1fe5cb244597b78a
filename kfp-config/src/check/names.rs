//! The rules for names that KFP stores and compares: recurring-run (job) names, experiment names and
//! namespaces.
//!
//! KFP 1.8 keeps job and experiment names in MySQL columns of 255 characters (GORM v1's default size for a
//! string column, `backend/src/apiserver/model/job.go` and `experiment.go`), written through a `utf8`
//! connection (3 bytes a character at most, so nothing beyond U+FFFF) and compared with MySQL's default
//! case-insensitive collation: `Nightly` and `nightly` are one name to KFP. A recurring run's versions are
//! named `GIT::{name}__{YYYY-MM-DDTHH-MM-SSZ}`, which leaves 255 - 27 characters for `name`, and a name that
//! itself holds such a suffix would be mistaken for a version of a shorter name. A namespace is a Kubernetes
//! namespace name (an RFC 1123 label).

use std::collections::HashMap;

use super::Checker;
use crate::naming::{KFP_NAME_CHARS, MAX_JOB_NAME_CHARS};
use crate::yaml::Node;

/// The longest Kubernetes namespace name.
pub const MAX_NAMESPACE_CHARS: usize = 63;

/// Checks a Kubernetes namespace name: at most 63 lowercase letters, digits and `-`, starting and ending
/// with a letter or digit (an RFC 1123 label). The empty namespace (a single-user KFP) is accepted.
/// `Err` says what is wrong.
pub fn namespace_name(namespace: &str) -> Result<(), String> {
    if namespace.is_empty() {
        return Ok(());
    }
    if let Some(bad) = namespace
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        let what = if bad.is_uppercase() {
            "an uppercase letter".to_owned()
        } else {
            format!("`{}`", bad.escape_debug())
        };
        return Err(format!(
            "it contains {what}; only lowercase letters, digits and `-` are allowed"
        ));
    }
    if namespace.starts_with('-') || namespace.ends_with('-') {
        return Err("it must start and end with a lowercase letter or digit".to_owned());
    }
    let length = namespace.len();
    if length > MAX_NAMESPACE_CHARS {
        return Err(format!(
            "it is {length} characters long; at most {MAX_NAMESPACE_CHARS} are allowed"
        ));
    }
    Ok(())
}

/// The tip for a namespace that [`namespace_name`] refuses.
pub const NAMESPACE_HINT: &str = "a namespace (Kubeflow profile) is a Kubernetes namespace name: at most 63 \
     lowercase letters, digits and `-`, starting and ending with a letter or digit. It comes from --namespace, \
     --config NS=DIR or the `namespaces` of kfp-gitops.yaml; `validate` without them uses the config \
     folder's name";

/// The key under which KFP's database compares two names: without regard to case, and with trailing
/// spaces ignored (MySQL's `_ci` collations pad with spaces).
fn kfp_key(name: &str) -> String {
    name.trim_end_matches(' ').to_lowercase()
}

/// The names seen so far in one file, by the key KFP compares them with: the name as written and where.
#[derive(Debug, Default)]
pub(crate) struct SeenNames {
    seen: HashMap<String, (String, String)>,
    all: Vec<String>,
}

impl SeenNames {
    /// Every name seen, as written.
    pub(crate) fn into_names(self) -> impl Iterator<Item = String> {
        self.all.into_iter()
    }

    /// Records `name` at `pointer`; the name and place of an earlier name KFP takes for the same one.
    fn insert(&mut self, name: &str, pointer: &str) -> Option<(String, String)> {
        self.all.push(name.to_owned());
        let key = kfp_key(name);
        if let Some(first) = self.seen.get(&key) {
            return Some(first.clone());
        }
        self.seen.insert(key, (name.to_owned(), pointer.to_owned()));
        None
    }
}

/// A name's characters and length, against what KFP stores: `(message, tip)` of the first problem.
fn stored_form(
    what: &str,
    name: &str,
    max_chars: usize,
    column_tip: &str,
) -> Option<(String, String)> {
    let shown = name.escape_debug();
    if let Some(control) = name.chars().find(|c| c.is_control()) {
        return Some((
            format!(
                "{what} `{shown}` contains the control character U+{:04X}",
                u32::from(control)
            ),
            "names are one line of printable text: KFP lists, filters and shows them as such, and a line \
             break keeps a version name from matching `GIT::{name}__{timestamp}`"
                .to_owned(),
        ));
    }
    if let Some(wide) = name.chars().find(|c| u32::from(*c) > 0xFFFF) {
        return Some((
            format!(
                "{what} `{shown}` contains `{wide}` (U+{:04X}), which KFP cannot store",
                u32::from(wide)
            ),
            "KFP 1.8 writes names through a MySQL `utf8` connection, which holds characters up to U+FFFF \
             only (no emoji); remove the character"
                .to_owned(),
        ));
    }
    let length = name.chars().count();
    if length > max_chars {
        return Some((
            format!("{what} is {length} characters long, but KFP stores at most {max_chars}"),
            format!("{column_tip}; shorten the name"),
        ));
    }
    None
}

/// Where a version-name timestamp (`__YYYY-MM-DDTHH-MM-SSZ`) starts in `name`, if it holds one.
fn version_suffix(name: &str) -> Option<&str> {
    let bytes = name.as_bytes();
    (0..bytes.len()).find_map(|start| {
        let candidate = bytes.get(start..start + 22)?;
        let shape = candidate.iter().enumerate().all(|(i, b)| match i {
            0 | 1 => *b == b'_',
            6 | 9 | 15 | 18 => *b == b'-',
            12 => *b == b'T',
            21 => *b == b'Z',
            _ => b.is_ascii_digit(),
        });
        shape.then(|| &name[start..start + 22])
    })
}

/// Checks a recurring run's `job.name` (already known to be a non-empty string) at `node`/`pointer`:
/// what KFP stores, the version suffix, and uniqueness as KFP compares names.
pub(super) fn job_name(
    checker: &mut Checker<'_>,
    node: &Node,
    pointer: &str,
    name: &str,
    seen: &mut SeenNames,
) {
    if let Some(first) = seen.insert(name, pointer) {
        let (message, tip) = if first.0 == name {
            (
                format!("job name `{name}` is used twice (first at {})", first.1),
                "the name must be unique within each namespace".to_owned(),
            )
        } else {
            (
                format!(
                    "job name `{name}` is the same as `{}` (at {}) to KFP, which compares names without regard to case",
                    first.0, first.1
                ),
                "rename one of them: KFP would take the versions of one for versions of the other"
                    .to_owned(),
            )
        };
        checker.at(node, pointer, message, Some(tip));
    }
    let column_tip = format!(
        "KFP 1.8 keeps each version as `GIT::{{name}}__{{YYYY-MM-DDTHH-MM-SSZ}}` in a {KFP_NAME_CHARS}-character \
         column, which leaves {MAX_JOB_NAME_CHARS} characters for the name"
    );
    if let Some((message, tip)) = stored_form("job name", name, MAX_JOB_NAME_CHARS, &column_tip) {
        checker.at(node, pointer, message, Some(tip));
    } else if let Some(suffix) = version_suffix(name) {
        checker.at(
            node,
            pointer,
            format!("job name `{name}` contains `{suffix}`, the timestamp of a version name"),
            Some(format!(
                "versions are named `GIT::{{name}}__{{YYYY-MM-DDTHH-MM-SSZ}}`, so the versions of this recurring run \
                 could be taken for versions of `{}`; drop the `__` or the timestamp",
                &name[..name.find(suffix).unwrap_or_default()]
            )),
        );
    }
}

/// Checks an experiment's `name` (already known to be a non-empty string): what KFP stores and uniqueness
/// as KFP compares names. Returns whether it has no problem.
pub(super) fn experiment_name(
    checker: &mut Checker<'_>,
    node: &Node,
    pointer: &str,
    name: &str,
    seen: &mut SeenNames,
) -> bool {
    let mut ok = true;
    if let Some(first) = seen.insert(name, pointer) {
        let (message, tip) = if first.0 == name {
            (
                format!(
                    "experiment `{name}` is declared twice (first at {})",
                    first.1
                ),
                "experiment names must be unique within a namespace".to_owned(),
            )
        } else {
            (
                format!(
                    "experiment `{name}` is the same as `{}` (at {}) to KFP, which compares names without regard to case",
                    first.0, first.1
                ),
                "rename one of them: KFP refuses a second experiment whose name differs only in case".to_owned(),
            )
        };
        checker.at(node, pointer, message, Some(tip));
        ok = false;
    }
    let column_tip =
        format!("KFP 1.8 keeps experiment names in a {KFP_NAME_CHARS}-character column");
    if let Some((message, tip)) = stored_form("experiment", name, KFP_NAME_CHARS, &column_tip) {
        checker.at(node, pointer, message, Some(tip));
        ok = false;
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_name_limit_leaves_room_for_the_version_name() {
        assert_eq!(MAX_JOB_NAME_CHARS, 228);
        let longest = "a".repeat(MAX_JOB_NAME_CHARS);
        assert_eq!(
            format!("GIT::{longest}__2024-01-02T03-04-05Z").len(),
            KFP_NAME_CHARS
        );
    }

    #[test]
    fn namespace_names_are_rfc_1123_labels() {
        for good in [
            "",
            "team-1",
            "a",
            "kubeflow-user-example-com",
            &"a".repeat(63),
        ] {
            assert_eq!(namespace_name(good), Ok(()), "{good}");
        }
        let bad = [
            (
                "a/b",
                "it contains `/`; only lowercase letters, digits and `-` are allowed",
            ),
            (
                "..",
                "it contains `.`; only lowercase letters, digits and `-` are allowed",
            ),
            (
                "Team",
                "it contains an uppercase letter; only lowercase letters, digits and `-` are allowed",
            ),
            (
                "team_1",
                "it contains `_`; only lowercase letters, digits and `-` are allowed",
            ),
            (
                "a\nb",
                "it contains `\\n`; only lowercase letters, digits and `-` are allowed",
            ),
            (
                "-team",
                "it must start and end with a lowercase letter or digit",
            ),
            (
                "team-",
                "it must start and end with a lowercase letter or digit",
            ),
        ];
        for (namespace, reason) in bad {
            assert_eq!(
                namespace_name(namespace),
                Err(reason.to_owned()),
                "{namespace}"
            );
        }
        assert_eq!(
            namespace_name(&"a".repeat(64)),
            Err("it is 64 characters long; at most 63 are allowed".to_owned())
        );
    }

    #[test]
    fn names_compare_as_kfp_compares_them() {
        let mut seen = SeenNames::default();
        assert_eq!(seen.insert("Nightly", "/a"), None);
        assert_eq!(
            seen.insert("nightly", "/b"),
            Some(("Nightly".to_owned(), "/a".to_owned()))
        );
        assert!(seen.insert("NIGHTLY ", "/c").is_some());
        assert_eq!(seen.insert("nightly-2", "/d"), None);
        let all: Vec<String> = seen.into_names().collect();
        assert_eq!(all, ["Nightly", "nightly", "NIGHTLY ", "nightly-2"]);
    }

    #[test]
    fn a_version_suffix_is_found_anywhere_in_a_name() {
        assert_eq!(
            version_suffix("a__2024-01-02T03-04-05Z"),
            Some("__2024-01-02T03-04-05Z")
        );
        assert_eq!(
            version_suffix("a__2024-01-02T03-04-05Z__b"),
            Some("__2024-01-02T03-04-05Z")
        );
        assert_eq!(version_suffix("a_2024-01-02T03-04-05Z"), None);
        assert_eq!(version_suffix("a__2024-01-02T03:04:05Z"), None);
        assert_eq!(version_suffix("é__2024-01-02"), None);
    }

    #[test]
    fn stored_forms_refuse_control_characters_wide_characters_and_long_names() {
        let check = |name: &str| stored_form("job name", name, 5, "tip").map(|(m, _)| m);
        assert_eq!(check("abcde"), None);
        assert_eq!(check("über"), None);
        assert_eq!(
            check("a\tb"),
            Some("job name `a\\tb` contains the control character U+0009".to_owned())
        );
        assert_eq!(
            check("a\u{1F600}"),
            Some(
                "job name `a\u{1F600}` contains `\u{1F600}` (U+1F600), which KFP cannot store"
                    .to_owned()
            )
        );
        assert_eq!(
            check("abcdef"),
            Some("job name is 6 characters long, but KFP stores at most 5".to_owned())
        );
    }
}
