//! A rendered pipeline folder: `workflow.yaml` and optionally `params/`, one file per parameter.
//!
//! Every reader of such a folder (`render`, loading a config's `rendered_pipeline`, `run`) lists `params/`
//! here, so that one rule says which entries are parameters: hidden entries (`.gitkeep`, an editor's swap
//! file) never are, and a parameter's file name is its name, which must be UTF-8. Which values fit a
//! pipeline is decided here too ([`match_inputs`]): a value for an input the pipeline does not declare is
//! unknown, a required input without a value is missing.

use std::fs::FileType;
use std::path::{Path, PathBuf};

use crate::workflow::PipelineInput;

/// The workflow file inside a rendered folder.
pub const WORKFLOW_FILE: &str = "workflow.yaml";

/// The folder of parameter files inside a rendered folder.
pub const PARAMS_DIR: &str = "params";

/// Whether an entry of a rendered folder is hidden (its name starts with `.`): hidden entries of `params/`
/// are not parameters (a `.gitkeep` keeps an empty folder in git).
pub fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// A file of `params/` that holds a parameter's value.
#[derive(Debug, Clone)]
pub struct ParamFile {
    /// The parameter's name: the file name.
    pub name: String,
    /// The file's path (the folder given to [`param_files`] joined with the name).
    pub path: PathBuf,
    /// The entry's type, symbolic links not followed.
    pub file_type: FileType,
}

/// Why `params/` cannot be listed.
#[derive(Debug, thiserror::Error)]
pub enum ParamsError {
    /// The folder exists but cannot be listed.
    #[error("cannot list `{}`: {source}", dir.display())]
    List {
        /// The folder.
        dir: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A file name is not UTF-8, so it cannot name a parameter.
    #[error("parameter file names must be UTF-8: `{name}`")]
    NameNotUtf8 {
        /// The name, lossily converted.
        name: String,
    },
}

/// The parameter files of the folder `params_dir` (a rendered folder's `params/`), by name; none when the
/// folder does not exist. Hidden entries are skipped ([`is_hidden`]); what the other entries may be
/// (a regular file, a link) is the caller's rule.
pub fn param_files(params_dir: &Path) -> Result<Vec<ParamFile>, ParamsError> {
    let list_error = |source| ParamsError::List {
        dir: params_dir.to_path_buf(),
        source,
    };
    let entries = match std::fs::read_dir(params_dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(list_error(err)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(list_error)?;
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            let name = file_name.to_string_lossy().into_owned();
            if is_hidden(&name) {
                continue;
            }
            return Err(ParamsError::NameNotUtf8 { name });
        };
        if is_hidden(name) {
            continue;
        }
        let file_type = entry.file_type().map_err(list_error)?;
        files.push(ParamFile {
            name: name.to_owned(),
            path: entry.path(),
            file_type,
        });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// How a set of parameter names fits a pipeline's inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputMatch<'a> {
    /// The names the pipeline declares no input for, in the order given.
    pub unknown: Vec<&'a str>,
    /// The required inputs without a value, in the pipeline's order.
    pub missing: Vec<&'a PipelineInput>,
}

impl InputMatch<'_> {
    /// Whether every name is an input and every required input has a value.
    pub fn fits(&self) -> bool {
        self.unknown.is_empty() && self.missing.is_empty()
    }
}

/// Matches the parameter names that have a value against the pipeline's inputs.
pub fn match_inputs<'a>(inputs: &'a [PipelineInput], names: &[&'a str]) -> InputMatch<'a> {
    InputMatch {
        unknown: names
            .iter()
            .copied()
            .filter(|name| !inputs.iter().any(|input| input.name == *name))
            .collect(),
        missing: inputs
            .iter()
            .filter(|input| input.is_required() && !names.contains(&input.name.as_str()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, default: Option<&str>) -> PipelineInput {
        PipelineInput {
            name: name.to_owned(),
            optional: false,
            default: default.map(str::to_owned),
            r#type: None,
        }
    }

    #[test]
    fn hidden_entries_are_not_parameters_and_a_missing_folder_has_none() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("message"), "hi").unwrap();
        std::fs::write(dir.path().join(".gitkeep"), "").unwrap();
        std::fs::create_dir(dir.path().join(".hidden-folder")).unwrap();
        std::fs::write(dir.path().join("count"), "3").unwrap();
        let files = param_files(dir.path()).unwrap();
        let names: Vec<&str> = files.iter().map(|file| file.name.as_str()).collect();
        assert_eq!(names, ["count", "message"]);
        assert_eq!(files[1].path, dir.path().join("message"));
        assert!(files[1].file_type.is_file());
        assert!(param_files(&dir.path().join("absent")).unwrap().is_empty());
        assert!(is_hidden(".gitkeep") && !is_hidden("gitkeep"));
    }

    #[test]
    fn unknown_names_and_missing_required_inputs_are_told_apart() {
        let inputs = [input("a", None), input("b", Some("x")), input("c", None)];
        let matched = match_inputs(&inputs, &["b", "typo", "a"]);
        assert_eq!(matched.unknown, ["typo"]);
        let missing: Vec<&str> = matched.missing.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(missing, ["c"]);
        assert!(!matched.fits());
        assert!(match_inputs(&inputs, &["a", "c"]).fits());
        assert!(match_inputs(&[], &[]).fits());
    }
}
