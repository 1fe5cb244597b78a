//! Temporary folders beside an output folder, and the rename dance that replaces the output.
//!
//! A staging folder is named `.{output name}.kfp-gitops-{pid}-{random}` and lives in the output's parent,
//! so the final renames stay on one file system. It holds `rendered/` (what the render command writes),
//! the command's `stdout`/`stderr`, and during a replace `previous/` (the old output). If the process dies
//! at any point, the next run finds the folder by its prefix, sees that its process is gone, puts a
//! `previous/` back if the output is missing, and removes the rest.
//!
//! A folder carrying this process's own pid is live only while it is in [`ACTIVE`]: in containers pids
//! repeat (every run may be pid 1), so the pid alone cannot tell our folders from a dead earlier run's.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use crate::error::RenderError;

const RENDERED: &str = "rendered";
const PREVIOUS: &str = "previous";
const MARKER: &str = ".kfp-gitops-";

/// After this long a staging folder is stale even if a process with its pid exists (the pid was reused).
const ABANDONED_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Names of the staging folders this process is using. Names, not paths: the output's parent may be
/// spelled differently (through a symlink) by another render of the same output, and a name already
/// holds the output's name, the pid and a random part.
static ACTIVE: Mutex<Vec<OsString>> = Mutex::new(Vec::new());

fn active() -> MutexGuard<'static, Vec<OsString>> {
    // The list stays consistent even if a holder panicked: every change is a single push or remove.
    ACTIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keeps a staging folder's name in [`ACTIVE`] while it lives.
#[derive(Debug)]
struct Registration(OsString);

impl Drop for Registration {
    fn drop(&mut self) {
        let mut active = active();
        if let Some(index) = active.iter().position(|name| *name == self.0) {
            active.swap_remove(index);
        }
    }
}

/// A staging folder for one render of one output. Removed when dropped.
#[derive(Debug)]
pub(crate) struct Staging {
    // Declared before `_registration`, so the folder is removed before it stops counting as live and
    // another thread's [`remove_stale`] cannot take a folder in use for a dead run's.
    dir: tempfile::TempDir,
    output: PathBuf,
    _registration: Registration,
}

impl Staging {
    /// Creates a fresh staging folder beside `output` (creating the output's parent if needed), with an
    /// empty `rendered/` inside.
    pub(crate) fn create(output: &Path) -> Result<Self, RenderError> {
        let output = absolute(output)?;
        let parent = parent_of(&output);
        std::fs::create_dir_all(&parent).map_err(|err| RenderError::io("create", &parent, err))?;
        let (dir, registration) = {
            // Held from creating the folder to registering it, so no [`remove_stale`] sees it in between.
            let mut active = active();
            let dir = tempfile::Builder::new()
                .prefix(&format!("{}{}-", prefix(&output), std::process::id()))
                .tempdir_in(&parent)
                .map_err(|err| RenderError::io("create a temporary folder in", &parent, err))?;
            let name = dir.path().file_name().unwrap_or_default().to_owned();
            active.push(name.clone());
            (dir, Registration(name))
        };
        let staging = Self {
            dir,
            output,
            _registration: registration,
        };
        let rendered = staging.rendered();
        std::fs::create_dir(&rendered).map_err(|err| RenderError::io("create", &rendered, err))?;
        Ok(staging)
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
    /// second move fails, the old output is moved back; if that fails too, the staging folder is kept (it
    /// then holds the only copy of the old output) for the next run to put back.
    pub(crate) fn replace_output(self) -> Result<(), RenderError> {
        self.replace_output_with(|from, to| std::fs::rename(from, to))
    }

    /// [`Self::replace_output`] with the file system's rename given, so its failures can be tested.
    fn replace_output_with(
        self,
        mut rename: impl FnMut(&Path, &Path) -> std::io::Result<()>,
    ) -> Result<(), RenderError> {
        let rendered = self.rendered();
        let previous = self.dir.path().join(PREVIOUS);
        let had_output = std::fs::symlink_metadata(&self.output).is_ok();
        if had_output {
            rename(&self.output, &previous)
                .map_err(|err| RenderError::io("move aside", &self.output, err))?;
        }
        let Err(err) = rename(&rendered, &self.output) else {
            // Dropping `self.dir` removes the staging folder with the old output.
            return Ok(());
        };
        if had_output && let Err(rollback) = rename(&previous, &self.output) {
            // Unregistered when `self._registration` drops, so [`remove_stale`] restores it later.
            let _kept = self.dir.keep();
            return Err(RenderError::RollbackFailed {
                output: self.output,
                kept: previous,
                source: err,
                rollback,
            });
        }
        Err(RenderError::io(
            "move the new render into",
            &self.output,
            err,
        ))
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
        if !is_abandoned(rest, &path, &name) {
            continue;
        }
        let previous = path.join(PREVIOUS);
        if std::fs::symlink_metadata(&output).is_err() && previous.is_dir() {
            std::fs::rename(&previous, &output)
                .map_err(|err| RenderError::io("restore", &output, err))?;
        }
        match std::fs::remove_dir_all(&path) {
            Ok(()) => removed.push(path),
            // Removed meanwhile by its own render finishing, or by another run cleaning up too.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(RenderError::io("remove", &path, err)),
        }
    }
    Ok(removed)
}

/// `rest` is `{pid}-{random}`: abandoned when that process is gone, or when the folder is very old. With
/// this process's pid, abandoned unless this process is using it (`name` is in [`ACTIVE`]).
fn is_abandoned(rest: &str, path: &Path, name: &OsStr) -> bool {
    let Some(pid) = rest
        .split('-')
        .next()
        .and_then(|pid| pid.parse::<u32>().ok())
    else {
        // Not one of ours after all (a user's file that happens to share the prefix).
        return false;
    };
    if pid == std::process::id() {
        return !active().iter().any(|active| active == name);
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

    fn folder_name(staging: &Staging) -> String {
        staging
            .logs()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
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
        // Not ours: another output's staging folder, one this process is using, and a user's file.
        write(
            &dir.path()
                .join(format!(".other.kfp-gitops-{dead_pid}-ccc/x")),
            "x",
        );
        let staging = Staging::create(&output).unwrap();
        let live = folder_name(&staging);
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
    fn a_leftover_folder_with_our_own_pid_is_recovered_unless_this_process_is_using_it() {
        // In a container every run may have the same pid: a folder with ours that this process did not
        // create was left by an earlier run that died between the two renames of a replace.
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out");
        let leftover = format!(".out.kfp-gitops-{}-eee", std::process::id());
        write(
            &dir.path().join(&leftover).join("previous/workflow.yaml"),
            "committed",
        );
        let staging = Staging::create(&output).unwrap();
        let live = folder_name(&staging);

        let removed = remove_stale(&output).unwrap();
        assert_eq!(removed, [dir.path().join(&leftover)]);
        assert_eq!(names(dir.path()), [live, "out".to_owned()]);
        assert_eq!(
            std::fs::read_to_string(output.join("workflow.yaml")).unwrap(),
            "committed"
        );
        assert_eq!(names(staging.logs()), ["rendered"]);
    }

    #[test]
    fn a_finished_staging_folder_no_longer_counts_as_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out");
        let staging = Staging::create(&output).unwrap();
        let name = folder_name(&staging);
        drop(staging);
        // Recreated as an earlier run with the same pid would have left it.
        write(&dir.path().join(&name).join("rendered/workflow.yaml"), "x");
        assert_eq!(remove_stale(&output).unwrap(), [dir.path().join(&name)]);
        assert!(names(dir.path()).is_empty());
    }

    /// A rename that fails on the calls numbered in `failing` (from 1) and renames for real otherwise.
    fn rename_failing_on(failing: &[usize]) -> impl FnMut(&Path, &Path) -> std::io::Result<()> {
        let mut calls = 0;
        move |from, to| {
            calls += 1;
            if failing.contains(&calls) {
                Err(std::io::Error::other(format!("rename {calls} refused")))
            } else {
                std::fs::rename(from, to)
            }
        }
    }

    #[test]
    fn a_failed_move_into_place_puts_the_old_output_back() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out");
        write(&output.join("workflow.yaml"), "old");
        let staging = Staging::create(&output).unwrap();
        write(&staging.rendered().join("workflow.yaml"), "new");
        let err = staging
            .replace_output_with(rename_failing_on(&[2]))
            .unwrap_err();
        assert!(
            matches!(&err, RenderError::Io { action: "move the new render into", path, .. } if *path == output),
            "{err:?}"
        );
        assert_eq!(names(dir.path()), ["out"]);
        assert_eq!(
            std::fs::read_to_string(output.join("workflow.yaml")).unwrap(),
            "old"
        );
    }

    #[test]
    fn a_failed_rollback_keeps_the_old_output_for_the_next_run_to_restore() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out");
        write(&output.join("workflow.yaml"), "old");
        let staging = Staging::create(&output).unwrap();
        let folder = staging.logs().to_path_buf();
        write(&staging.rendered().join("workflow.yaml"), "new");
        let err = staging
            .replace_output_with(rename_failing_on(&[2, 3]))
            .unwrap_err();
        let RenderError::RollbackFailed {
            output: missing,
            kept,
            source,
            rollback,
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(*missing, output);
        assert_eq!(*kept, folder.join("previous"));
        assert_eq!(source.to_string(), "rename 2 refused");
        assert_eq!(rollback.to_string(), "rename 3 refused");
        assert!(
            err.to_string().contains(&kept.display().to_string()),
            "{err}"
        );
        assert!(!output.exists());
        assert_eq!(
            std::fs::read_to_string(kept.join("workflow.yaml")).unwrap(),
            "old"
        );

        // The next run, in this process or a later one, puts the old output back.
        assert_eq!(remove_stale(&output).unwrap(), [folder]);
        assert_eq!(names(dir.path()), ["out"]);
        assert_eq!(
            std::fs::read_to_string(output.join("workflow.yaml")).unwrap(),
            "old"
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
