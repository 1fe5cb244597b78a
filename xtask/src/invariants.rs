//! `cargo xtask invariants` (a CI step): the "must never" rules of ARCHITECTURE.md, checked on the
//! sources. Each rule is one sentence of that section, which must say it word for word, so the document
//! and the check cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The library crates: they return errors and never print or exit.
const LIBRARY_CRATES: &[&str] = &["kfp-client", "kfp-config", "kfp-reconcile", "kfp-render"];

/// The crates whose `src/` is shipped or runs in CI: their files are kept short.
const SOURCE_CRATES: &[&str] = &[
    "kfp-client",
    "kfp-config",
    "kfp-reconcile",
    "kfp-render",
    "cli",
    "tests",
    "xtask",
];

/// The crates whose top-level modules must not import each other in a loop.
const LOOP_FREE_CRATES: &[&str] = &[
    "kfp-client",
    "kfp-config",
    "kfp-reconcile",
    "kfp-render",
    "tests",
    "xtask",
];

/// The longest source file allowed.
const MAX_LINES: usize = 800;

/// The rules, as ARCHITECTURE.md's "Must never" section says them.
const RULES: &[&str] = &[
    "A source file under `src/` never grows over 800 lines.",
    "A library crate never prints or exits: no `println!`, `eprintln!`, `print!`, `eprint!`, `dbg!` or `std::process::exit` in `kfp-client`, `kfp-config`, `kfp-reconcile` or `kfp-render`.",
    "`Failure`, the CLI's error type, never appears outside `cli/`.",
    "The top-level modules of the library crates (`kfp-client`, `kfp-config`, `kfp-reconcile`, `kfp-render`), `tests` and `xtask` never import each other in a loop.",
    "No crate depends on `cli` (`kfp-gitops`), and no shipped crate depends on `tests` (`kfp-gitops-tests`).",
];

/// Checks every rule; the error lists every violation.
pub fn run(root: &Path) -> Result<(), String> {
    let mut problems = Vec::new();
    let architecture = fs::read_to_string(root.join("ARCHITECTURE.md"))
        .map_err(|err| format!("cannot read ARCHITECTURE.md: {err}"))?;
    problems.extend(undocumented_rules(&architecture));
    let mut sources = BTreeMap::new();
    for krate in SOURCE_CRATES {
        sources.insert(*krate, rust_files(&root.join(krate).join("src"))?);
    }
    for (krate, files) in &sources {
        let shown = |path: &Path| relative(root, path);
        problems.extend(long_files(files).into_iter().map(|(path, lines)| {
            format!("{} has {lines} lines (at most {MAX_LINES})", shown(path))
        }));
        if LIBRARY_CRATES.contains(krate) {
            problems.extend(
                prints_or_exits(files)
                    .into_iter()
                    .map(|(path, line, what)| format!("{}:{line} uses `{what}`", shown(path))),
            );
        }
        if *krate != "cli" {
            // This file names the word to look for it.
            let others: Vec<(PathBuf, String)> = files
                .iter()
                .filter(|(path, _)| !path.ends_with("xtask/src/invariants.rs"))
                .cloned()
                .collect();
            problems.extend(
                cli_failure(&others)
                    .into_iter()
                    .map(|(path, line)| format!("{}:{line} names `Failure`", shown(path))),
            );
        }
        if LOOP_FREE_CRATES.contains(krate) {
            let src = root.join(krate).join("src");
            problems.extend(
                module_loops(&src, files)
                    .into_iter()
                    .map(|cycle| format!("{krate} imports in a loop: {}", cycle.join(" -> "))),
            );
        }
    }
    for krate in [
        "kfp-client",
        "kfp-config",
        "kfp-reconcile",
        "kfp-render",
        "cli",
        "tests",
    ] {
        let manifest = root.join(krate).join("Cargo.toml");
        let text = fs::read_to_string(&manifest)
            .map_err(|err| format!("cannot read {}: {err}", manifest.display()))?;
        problems.extend(
            forbidden_dependencies(krate, &text)
                .into_iter()
                .map(|dependency| format!("{krate}/Cargo.toml depends on `{dependency}`")),
        );
    }
    if problems.is_empty() {
        println!("    {} rules of ARCHITECTURE.md hold", RULES.len());
        Ok(())
    } else {
        Err(format!(
            "ARCHITECTURE.md's \"Must never\" rules are broken:\n  {}",
            problems.join("\n  ")
        ))
    }
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Every `.rs` file below `dir` with its text, sorted by path.
fn rust_files(dir: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries =
            fs::read_dir(&dir).map_err(|err| format!("cannot list {}: {err}", dir.display()))?;
        for entry in entries {
            let path = entry
                .map_err(|err| format!("cannot list {}: {err}", dir.display()))?
                .path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = fs::read_to_string(&path)
                    .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
                files.push((path, text));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The rules that ARCHITECTURE.md does not state word for word.
fn undocumented_rules(architecture: &str) -> Vec<String> {
    let text = architecture
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    RULES
        .iter()
        .filter(|rule| !text.contains(*rule))
        .map(|rule| format!("ARCHITECTURE.md does not say: {rule}"))
        .collect()
}

/// The code of a line: nothing when it is a comment (doc examples may print).
fn code(line: &str) -> &str {
    let trimmed = line.trim_start();
    if trimmed.starts_with("//") { "" } else { line }
}

/// Files over [`MAX_LINES`] lines, with their line count.
fn long_files(files: &[(PathBuf, String)]) -> Vec<(&Path, usize)> {
    files
        .iter()
        .map(|(path, text)| (path.as_path(), text.lines().count()))
        .filter(|(_, lines)| *lines > MAX_LINES)
        .collect()
}

/// Places that print or exit, outside comments.
fn prints_or_exits(files: &[(PathBuf, String)]) -> Vec<(&Path, usize, &'static str)> {
    const FORBIDDEN: &[&str] = &[
        "println!",
        "eprintln!",
        "print!",
        "eprint!",
        "dbg!",
        "process::exit",
    ];
    let mut found = Vec::new();
    for (path, text) in files {
        for (index, line) in text.lines().enumerate() {
            let code = code(line);
            for what in FORBIDDEN {
                let hit = code.match_indices(what).any(|(at, _)| {
                    // `eprintln!` contains `println!`; a name ends where the word before it ends.
                    !code[..at]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
                });
                if hit {
                    found.push((path.as_path(), index + 1, *what));
                }
            }
        }
    }
    found
}

/// Places that name the word `Failure`, outside comments.
fn cli_failure(files: &[(PathBuf, String)]) -> Vec<(&Path, usize)> {
    let mut found = Vec::new();
    for (path, text) in files {
        for (index, line) in text.lines().enumerate() {
            let code = code(line);
            let named = code.match_indices("Failure").any(|(at, word)| {
                let before = code[..at].chars().next_back();
                let after = code[at + word.len()..].chars().next();
                let part_of_word =
                    |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                !part_of_word(before) && !part_of_word(after)
            });
            if named {
                found.push((path.as_path(), index + 1));
            }
        }
    }
    found
}

/// The top-level module a file of `src` belongs to (`None` for the crate root and binaries).
fn top_module(src: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    if first == "bin" || first == "lib.rs" || first == "main.rs" {
        return None;
    }
    Some(first.trim_end_matches(".rs").to_owned())
}

/// The top-level modules a file refers to through `crate::` (and, in a file directly in `src/`, `super::`).
fn referenced_modules(text: &str, top_level_file: bool) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let ident = |text: &str| -> String {
        text.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for line in text.lines() {
        let code = code(line);
        let mut prefixes = vec!["crate::"];
        if top_level_file {
            prefixes.push("super::");
        }
        for prefix in prefixes {
            for (at, _) in code.match_indices(prefix) {
                if code[..at].ends_with('$') || code[..at].ends_with(|c: char| c.is_alphanumeric())
                {
                    continue;
                }
                let rest = &code[at + prefix.len()..];
                if let Some(group) = rest.strip_prefix('{') {
                    let mut depth = 0;
                    let mut item_start = true;
                    for (i, c) in group.char_indices() {
                        match c {
                            '{' => depth += 1,
                            '}' if depth == 0 => break,
                            '}' => depth -= 1,
                            ',' if depth == 0 => item_start = true,
                            c if item_start && !c.is_whitespace() => {
                                item_start = false;
                                let name = ident(&group[i..]);
                                if !name.is_empty() {
                                    found.insert(name);
                                }
                            }
                            _ => {}
                        }
                    }
                } else {
                    let name = ident(rest);
                    if !name.is_empty() {
                        found.insert(name);
                    }
                }
            }
        }
    }
    found
}

/// Loops among the top-level modules of the crate whose sources are `files` (below `src`), each as the
/// modules along it, the first repeated at the end.
fn module_loops(src: &Path, files: &[(PathBuf, String)]) -> Vec<Vec<String>> {
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|(path, _)| top_module(src, path))
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in files {
        let Some(from) = top_module(src, path) else {
            continue;
        };
        let top_level_file = path.parent() == Some(src);
        let targets = edges.entry(from.clone()).or_default();
        for to in referenced_modules(text, top_level_file) {
            if to != from && modules.contains(&to) {
                targets.insert(to);
            }
        }
    }
    let mut loops = Vec::new();
    let mut reported: BTreeSet<BTreeSet<String>> = BTreeSet::new();
    for start in &modules {
        // Depth-first search for a way back to `start`.
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for next in edges.get(&node).into_iter().flatten() {
                if next == start {
                    let members: BTreeSet<String> = path.iter().cloned().collect();
                    if reported.insert(members) {
                        let mut cycle = path.clone();
                        cycle.push(start.clone());
                        loops.push(cycle);
                    }
                } else if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    loops
}

/// Dependencies that `krate`'s manifest must not have: `kfp-gitops` (the CLI) anywhere, and
/// `kfp-gitops-tests` among the dependencies of a shipped crate (development dependencies aside).
fn forbidden_dependencies(krate: &str, manifest: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut section = String::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line.trim_matches(['[', ']']).to_owned();
            continue;
        }
        let Some(name) = line
            .split(['=', '.', ' '])
            .next()
            .filter(|name| !name.is_empty() && !line.starts_with('#'))
        else {
            continue;
        };
        let dependencies = matches!(
            section.as_str(),
            "dependencies" | "build-dependencies" | "dev-dependencies"
        );
        let shipped = matches!(section.as_str(), "dependencies" | "build-dependencies");
        if dependencies && name == "kfp-gitops" {
            found.push(name.to_owned());
        }
        if shipped && name == "kfp-gitops-tests" && krate != "tests" {
            found.push(name.to_owned());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(items: &[(&str, &str)]) -> Vec<(PathBuf, String)> {
        items
            .iter()
            .map(|(path, text)| (PathBuf::from(path), (*text).to_owned()))
            .collect()
    }

    #[test]
    fn the_project_keeps_every_rule() {
        run(&crate::command::project_root()).unwrap();
    }

    #[test]
    fn every_rule_must_be_stated_in_the_document() {
        let all = RULES.join("\n\n* ");
        assert!(undocumented_rules(&all).is_empty());
        // Line breaks inside a sentence do not matter.
        assert!(undocumented_rules(&all.replace(" never ", "\n never ")).is_empty());
        let missing = undocumented_rules(&RULES[1..].join(" "));
        assert_eq!(missing.len(), 1);
        assert!(missing[0].contains("800 lines"), "{missing:?}");
    }

    #[test]
    fn a_file_over_800_lines_is_reported_with_its_length() {
        let long = "x\n".repeat(801);
        let ok = "x\n".repeat(800);
        let found = files(&[("src/long.rs", &long), ("src/ok.rs", &ok)]);
        assert_eq!(long_files(&found), [(Path::new("src/long.rs"), 801)]);
    }

    #[test]
    fn printing_and_exiting_are_found_outside_comments_only() {
        let found = files(&[(
            "src/lib.rs",
            "//! println!(\"doc example\");\nfn a() {\n    eprintln!(\"x\");\n    std::process::exit(1);\n    \
             my_println!(\"y\");\n}\n",
        )]);
        let hits: Vec<(usize, &str)> = prints_or_exits(&found)
            .into_iter()
            .map(|(_, line, what)| (line, what))
            .collect();
        assert_eq!(hits, [(3, "eprintln!"), (4, "process::exit")]);
    }

    #[test]
    fn the_word_failure_is_found_but_not_inside_other_names() {
        let found = files(&[(
            "src/a.rs",
            "use crate::failure::Failure;\nlet x = StreamFailure::new();\n// a Failure in a comment\nFailure::new(x)\n",
        )]);
        let lines: Vec<usize> = cli_failure(&found)
            .into_iter()
            .map(|(_, line)| line)
            .collect();
        assert_eq!(lines, [1, 4]);
    }

    #[test]
    fn module_references_include_groups_and_super_in_top_level_files() {
        let text = "use crate::{api::{A, B}, error::Error};\nuse crate::dex;\nlet x = crate::wire::f();\n\
                    use super::models::Job;\n/// [`crate::docs`]\nmacro_rules! m { () => { $crate::hidden } }\n";
        let names: Vec<String> = referenced_modules(text, true).into_iter().collect();
        assert_eq!(names, ["api", "dex", "error", "models", "wire"]);
        let names: Vec<String> = referenced_modules(text, false).into_iter().collect();
        assert_eq!(names, ["api", "dex", "error", "wire"]);
    }

    #[test]
    fn a_loop_among_top_level_modules_is_found_once_and_submodules_belong_to_their_parent() {
        let src = Path::new("src");
        let found = files(&[
            ("src/lib.rs", "mod api; mod http; mod dex;"),
            ("src/api.rs", "use crate::http::API_PREFIX;"),
            ("src/http.rs", "use crate::api::KfpApi;\nmod endpoints;"),
            ("src/http/endpoints.rs", "use crate::dex;"),
            ("src/dex.rs", "use crate::error::Error;"),
            ("src/error.rs", ""),
            ("src/bin/tool.rs", "use crate::api;"),
        ]);
        assert_eq!(module_loops(src, &found), [["api", "http", "api"]]);
        let fixed = files(&[
            ("src/api.rs", "use crate::error::Error;"),
            ("src/http.rs", "use crate::api::KfpApi;"),
            ("src/http/endpoints.rs", "use crate::dex;"),
            ("src/dex.rs", "use crate::error::Error;"),
            ("src/error.rs", ""),
        ]);
        assert!(module_loops(src, &fixed).is_empty());
    }

    #[test]
    fn no_crate_may_depend_on_the_cli_nor_a_shipped_one_on_the_tests() {
        let manifest = "[package]\nname = \"kfp-render\"\n\n[dependencies]\nkfp-config.workspace = true\n\
                        kfp-gitops-tests = { path = \"../tests\" }\n\n[dev-dependencies]\nkfp-gitops-tests.workspace = true\n\
                        kfp-gitops = { path = \"../cli\" }\n";
        assert_eq!(
            forbidden_dependencies("kfp-render", manifest),
            ["kfp-gitops-tests", "kfp-gitops"]
        );
        let cli = "[package]\nname = \"kfp-gitops\"\n\n[dependencies]\nkfp-reconcile.workspace = true\n\n\
                   [dev-dependencies]\nkfp-gitops-tests.workspace = true\n";
        assert!(forbidden_dependencies("cli", cli).is_empty());
    }
}
