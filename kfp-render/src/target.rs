//! What to render: a named command run in a working directory that writes one output folder.

use std::path::{Path, PathBuf};

/// The placeholder substituted by the folder the render command must write into.
pub const OUTPUT_PLACEHOLDER: &str = "{output}";

/// The environment variable holding the folder the render command must write into.
pub const OUTPUT_ENV: &str = "KFP_GITOPS_OUTPUT";

/// The output folder used when a target names none.
pub const DEFAULT_OUTPUT: &str = "RENDERED_PIPELINE";

/// One render target: `command` runs in `workdir` and writes a rendered pipeline (`workflow.yaml` and
/// optionally `params/`) into the folder given by [`OUTPUT_PLACEHOLDER`] / [`OUTPUT_ENV`].
///
/// Paths are used as given; callers resolve them (the project file makes them relative to its folder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderTarget {
    /// Name shown in reports.
    pub name: String,
    /// Working directory of the command.
    pub workdir: PathBuf,
    /// Program and arguments; every `{output}` inside an argument is replaced by the temporary output folder.
    pub command: Vec<String>,
    /// The committed output folder this target keeps up to date.
    pub output: PathBuf,
}

impl RenderTarget {
    /// A target with every field given.
    pub fn new(
        name: impl Into<String>,
        workdir: impl Into<PathBuf>,
        command: Vec<String>,
        output: impl Into<PathBuf>,
    ) -> Self {
        Self {
            name: name.into(),
            workdir: workdir.into(),
            command,
            output: output.into(),
        }
    }

    /// The command's arguments with `{output}` replaced by `output`.
    pub fn command_for(&self, output: &Path) -> Vec<String> {
        let output = output.to_string_lossy();
        self.command
            .iter()
            .map(|arg| arg.replace(OUTPUT_PLACEHOLDER, &output))
            .collect()
    }
}

/// `path` made absolute against the current directory, with `.` and `..` resolved lexically (without
/// following symlinks), so that `a/../b` and `b` name the same output.
pub(crate) fn absolute_path(path: &Path) -> std::io::Result<PathBuf> {
    use std::path::Component;
    let absolute = std::path::absolute(path)?;
    let mut normalized = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normalized.pop();
            }
            other => normalized.push(other),
        }
    }
    Ok(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_output_placeholder_is_substituted() {
        let target = RenderTarget::new(
            "t",
            ".",
            vec![
                "python".into(),
                "--output={output}".into(),
                "{output}/x{output}".into(),
            ],
            "out",
        );
        assert_eq!(
            target.command_for(Path::new("/tmp/o")),
            ["python", "--output=/tmp/o", "/tmp/o/x/tmp/o"]
        );
    }

    #[test]
    fn absolute_paths_resolve_dot_and_dot_dot_lexically() {
        assert_eq!(
            absolute_path(Path::new("/a/./b/../c")).unwrap(),
            Path::new("/a/c")
        );
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(absolute_path(Path::new("x/..")).unwrap(), cwd);
    }
}
