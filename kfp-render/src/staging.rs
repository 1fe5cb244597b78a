//! Temporary folders beside an output folder, and the rename dance that replaces the output.
//!
//! A staging folder is named `.{output name}.kfp-gitops-{pid}-{random}` and lives in the output's parent,
//! so the final renames stay on one file system. It holds `rendered/` (what the render command writes),
//! the command's `stdout`/`stderr`, and during a replace `previous/` (the old output). If the process dies
//! at any point, the next run finds the folder by its prefix, sees that its process is gone, puts a
//! `previous/` back if the output is missing, and removes the rest.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::error::RenderError;

const RENDERED: &str = "rendered";
const PREVIOUS: &str = "previous";
const MARKER: &str = ".kfp-gitops-";

/// After this long a staging folder is stale even if a process with its pid exists (the pid was reused).
const ABANDONED_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// A staging folder for one render of one output. Removed when dropped.
#[derive(Debug)]
pub(crate) struct Staging {
    dir: tempfile::TempDir,
    output: PathBuf,
}

impl Staging {
    /// Creates a fresh staging folder beside `output` (creating the output's parent if needed), with an
    /// empty `rendered/` inside.
    pub(crate) fn create(output: &Path) -> Result<Self, RenderError> {
        let output = absolute(output)?;
        let parent = parent_of(&output);
        std::fs::create_dir_all(&parent).map_err(|err| RenderError::io("create", &parent, err))?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}{}-", prefix(&output), std::process::id()))
            .tempdir_in(&parent)
            .map_err(|err| RenderError::io("create a temporary folder in", &parent, err))?;
        let rendered = dir.path().join(RENDERED);
        std::fs::create_dir(&rendered).map_err(|err| RenderError::io("create", &rendered, err))?;
        Ok(Self { dir, output })
    }

    /// The folder the render command writes into (absolute).
    pub(crate) fn rendered(&self) -> PathBuf {
        self.dir.path().join(RENDERED)
    }

    /// The folder holding the command's `stdout` and `stderr` files.
    pub(crate) fn logs(&self) -> &Path {
        self.dir.path()
    }

    /// Replaces the output with `rendered/`: the old output is first moved into the staging folder, then
    /// `rendered/` is moved into place, then the staging folder (with the old output) is removed. If the
    /// second move fails, the old output is moved back.
    pub(crate) fn replace_output(self) -> Result<(), RenderError> {
        let rendered = self.rendered();
        let previous = self.dir.path().join(PREVIOUS);
        let had_output = std::fs::symlink_metadata(&self.output).is_ok();
        if had_output {
            std::fs::rename(&self.output, &previous)
                .map_err(|err| RenderError::io("move aside", &self.output, err))?;
        }
        if let Err(err) = std::fs::rename(&rendered, &self.output) {
            if had_output {
                let _ = std::fs::rename(&previous, &self.output);
            }
            return Err(RenderError::io(
                "move the new render into",
                &self.output,
                err,
            ));
        }
        // Dropping `self.dir` removes the staging folder with the old output.
        Ok(())
    }
}

/// Removes staging folders of `output` left behind by runs that died, restoring the old output first when
/// a run died in the middle of replacing it. Returns the removed folders.
pub(crate) fn remove_stale(output: &Path) -> Result<Vec<PathBuf>, RenderError> {
    let output = absolute(output)?;
    let parent = parent_of(&output);
    let prefix = prefix(&output);
    let entries = match std::fs::read_dir(&parent) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(RenderError::io("list", &parent, err)),
    };
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|err| RenderError::io("list", &parent, err))?;
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|name| name.strip_prefix(&prefix)) else {
            continue;
        };
        let path = entry.path();
        if !is_abandoned(rest, &path) {
            continue;
        }
        let previous = path.join(PREVIOUS);
        if std::fs::symlink_metadata(&output).is_err() && previous.is_dir() {
            std::fs::rename(&previous, &output)
                .map_err(|err| RenderError::io("restore", &output, err))?;
        }
        std::fs::remove_dir_all(&path).map_err(|err| RenderError::io("remove", &path, err))?;
        removed.push(path);
    }
    Ok(removed)
}

/// `rest` is `{pid}-{random}`: abandoned when that process is gone, or when the folder is very old.
fn is_abandoned(rest: &str, path: &Path) -> bool {
    let Some(pid) = rest
        .split('-')
        .next()
        .and_then(|pid| pid.parse::<u32>().ok())
    else {
        // Not one of ours after all (a user's file that happens to share the prefix).
        return false;
    };
    if pid == std::process::id() {
        return false;
    }
    let old = std::fs::symlink_metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
        .and_then(|modified| SystemTime::now().duration_since(modified).ok())
        .is_some_and(|age| age > ABANDONED_AFTER);
    old || !process_exists(pid)
}

#[cfg(unix)]
fn process_exists(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        // It exists but belongs to someone else.
        Err(err) => err == rustix::io::Errno::PERM,
    }
}

#[cfg(not(unix))]
fn process_exists(_pid: u32) -> bool {
    // Without a portable liveness check, only age makes a staging folder stale.
    true
}

fn prefix(output: &Path) -> String {
    let name = output
        .file_name()
        .map_or_else(|| "output".into(), |name| name.to_string_lossy());
    format!(".{name}{MARKER}")
}

fn parent_of(output: &Path) -> PathBuf {
    output
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}

fn absolute(path: &Path) -> Result<PathBuf, RenderError> {
    crate::target::absolute_path(path).map_err(|err| RenderError::io("resolve", path, err))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replacing_moves_the_render_into_place_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("RENDERED_PIPELINE");
        write(&output.join("workflow.yaml"), "old");
        write(&output.join("params/p"), "old");
        let staging = Staging::create(&output).unwrap();
        write(&staging.rendered().join("workflow.yaml"), "new");
        staging.replace_output().unwrap();
        assert_eq!(names(dir.path()), ["RENDERED_PIPELINE"]);
        assert_eq!(names(&output), ["workflow.yaml"]);
        assert_eq!(
            std::fs::read_to_string(output.join("workflow.yaml")).unwrap(),
            "new"
        );
    }

    #[test]
    fn replacing_creates_a_missing_output_and_its_parents() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("variants/dev");
        let staging = Staging::create(&output).unwrap();
        write(&staging.rendered().join("workflow.yaml"), "new");
        staging.replace_output().unwrap();
        assert_eq!(names(&dir.path().join("variants")), ["dev"]);
    }

    #[test]
    fn a_dropped_staging_folder_leaves_the_output_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out");
        write(&output.join("workflow.yaml"), "old");
        let staging = Staging::create(&output).unwrap();
        write(&staging.rendered().join("workflow.yaml"), "half");
        drop(staging);
        assert_eq!(names(dir.path()), ["out"]);
        assert_eq!(
            std::fs::read_to_string(output.join("workflow.yaml")).unwrap(),
            "old"
        );
    }

    #[test]
    fn stale_folders_of_dead_processes_are_removed_and_an_interrupted_replace_is_undone() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out");
        // A run that died while rendering, and one that died between the two renames of a replace
        // (the output is missing, its previous content sits in the staging folder).
        let dead_pid = u32::try_from(i32::MAX).unwrap();
        write(
            &dir.path().join(format!(
                ".out.kfp-gitops-{dead_pid}-aaa/rendered/workflow.yaml"
            )),
            "x",
        );
        write(
            &dir.path().join(format!(
                ".out.kfp-gitops-{dead_pid}-bbb/previous/workflow.yaml"
            )),
            "committed",
        );
        // Not ours: another output's staging folder, a live process's one, and a user's file.
        write(
            &dir.path()
                .join(format!(".other.kfp-gitops-{dead_pid}-ccc/x")),
            "x",
        );
        let live = format!(".out.kfp-gitops-{}-ddd", std::process::id());
        write(&dir.path().join(&live).join("x"), "x");
        write(&dir.path().join(".out.kfp-gitops-notes"), "x");

        let removed = remove_stale(&output).unwrap();
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert_eq!(
            names(dir.path()),
            [
                format!(".other.kfp-gitops-{dead_pid}-ccc"),
                live,
                ".out.kfp-gitops-notes".to_owned(),
                "out".to_owned()
            ]
        );
        assert_eq!(
            std::fs::read_to_string(output.join("workflow.yaml")).unwrap(),
            "committed"
        );
    }

    #[test]
    fn a_present_output_is_never_overwritten_by_a_stale_previous_copy() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out");
        write(&output.join("workflow.yaml"), "current");
        write(
            &dir.path().join(format!(
                ".out.kfp-gitops-{}-bbb/previous/workflow.yaml",
                i32::MAX
            )),
            "older",
        );
        remove_stale(&output).unwrap();
        assert_eq!(names(dir.path()), ["out"]);
        assert_eq!(
            std::fs::read_to_string(output.join("workflow.yaml")).unwrap(),
            "current"
        );
    }
}
