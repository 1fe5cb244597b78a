//! Reading one revision of the configuration repository at a time.
//!
//! git-sync publishes each revision as a new worktree and then swaps a symlink (`/git/repo ->
//! .worktrees/<sha>`) to it. A cycle that opened paths through the symlink could read some files of
//! the old revision and some of the new one. So the symlink is resolved once, at the start of each
//! cycle, and every file of that cycle is read below the resolved directory: a swap during the cycle
//! takes effect in the next one.

use std::path::{Path, PathBuf};

/// The configuration checkout for one cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The resolved directory (no symlinks): read everything below it.
    pub dir: PathBuf,
    /// The revision: the commit (`git rev-parse HEAD`) when the directory is a git work tree (a plain
    /// checkout, or git-sync's worktree, which is also named after its commit), otherwise the
    /// directory's name.
    pub revision: String,
}

/// Resolves `root` (typically git-sync's link) to the directory of the current revision.
pub fn snapshot(root: &Path) -> std::io::Result<Snapshot> {
    let dir = std::fs::canonicalize(root)?;
    if !dir.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!("{} is not a directory", dir.display()),
        ));
    }
    let revision = head_commit(&dir).unwrap_or_else(|| {
        dir.file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    Ok(Snapshot { dir, revision })
}

/// The commit checked out in `dir` when `dir` is the top of a git work tree (it has `.git`, a folder in
/// a clone or a file in a worktree); `None` when it is not, or git cannot say (not installed, no commit
/// yet). The checkout may belong to another user (a volume written by git-sync), which git refuses
/// unless the folder is named safe; reading `HEAD` is all that is done.
fn head_commit(dir: &Path) -> Option<String> {
    if !dir.join(".git").exists() {
        return None;
    }
    let mut safe_directory = std::ffi::OsString::from("safe.directory=");
    safe_directory.push(dir);
    let output = std::process::Command::new("git")
        .arg("-c")
        .arg(safe_directory)
        .args(["rev-parse", "--verify", "--quiet", "HEAD"])
        .current_dir(dir)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let commit = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !commit.is_empty()).then_some(commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_git_sync_link_resolves_to_the_worktree_it_points_to_at_that_moment() {
        let root = tempfile::tempdir().unwrap();
        let worktrees = root.path().join(".worktrees");
        for sha in ["1111", "2222"] {
            std::fs::create_dir_all(worktrees.join(sha)).unwrap();
            std::fs::write(worktrees.join(sha).join("rev"), sha).unwrap();
        }
        let link = root.path().join("repo");
        std::os::unix::fs::symlink(".worktrees/1111", &link).unwrap();
        let first = snapshot(&link).unwrap();
        assert_eq!(first.revision, "1111");

        // git-sync's swap: a new link renamed over the old one.
        let staged = root.path().join("repo.tmp");
        std::os::unix::fs::symlink(".worktrees/2222", &staged).unwrap();
        std::fs::rename(&staged, &link).unwrap();

        // The first snapshot keeps reading the old revision; the next one sees the new.
        assert_eq!(
            std::fs::read_to_string(first.dir.join("rev")).unwrap(),
            "1111"
        );
        let second = snapshot(&link).unwrap();
        assert_eq!(second.revision, "2222");
        assert_eq!(
            std::fs::read_to_string(second.dir.join("rev")).unwrap(),
            "2222"
        );
    }

    fn git(dir: &Path, args: &[&str]) -> String {
        let output = std::process::Command::new("git")
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args([
                "-c",
                "init.defaultBranch=main",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(dir)
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    #[test]
    fn a_plain_git_checkout_reports_its_commit_not_its_folder_name() {
        let root = tempfile::tempdir().unwrap();
        let checkout = root.path().join("seed");
        std::fs::create_dir(&checkout).unwrap();
        git(&checkout, &["init", "-q"]);
        // Without a commit git cannot name one: the folder's name it is.
        assert_eq!(snapshot(&checkout).unwrap().revision, "seed");
        std::fs::write(checkout.join("kfp-gitops.yaml"), "namespaces: []\n").unwrap();
        git(&checkout, &["add", "."]);
        git(&checkout, &["commit", "-q", "-m", "first"]);
        let head = git(&checkout, &["rev-parse", "HEAD"]);
        assert_eq!(head.len(), 40, "{head}");
        assert_eq!(snapshot(&checkout).unwrap().revision, head);
        // A folder below the work tree's top is not a checkout of its own.
        std::fs::create_dir(checkout.join("team-1")).unwrap();
        assert_eq!(
            snapshot(&checkout.join("team-1")).unwrap().revision,
            "team-1"
        );
    }

    #[test]
    fn a_missing_checkout_is_an_error_naming_the_problem() {
        let root = tempfile::tempdir().unwrap();
        let err = snapshot(&root.path().join("repo")).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
