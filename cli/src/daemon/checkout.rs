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
    /// A short name of the revision: git-sync names worktrees after the commit, so this is the
    /// commit hash when the root is a git-sync link (otherwise the directory's name).
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
    let revision = dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Snapshot { dir, revision })
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

    #[test]
    fn a_missing_checkout_is_an_error_naming_the_problem() {
        let root = tempfile::tempdir().unwrap();
        let err = snapshot(&root.path().join("repo")).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
