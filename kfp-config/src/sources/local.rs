//! Local sources: a path written in a config file, resolved inside the repository.

use super::*;

/// Resolves a local path written in a config file: relative to `base` (the config folder), and inside
/// `root` (the repository) both as written and after following symlinks.
pub fn resolve_local(root: &Path, base: &Path, relative: &Path) -> Result<PathBuf, SourceError> {
    if relative.as_os_str().is_empty() {
        return Err(SourceError::BadPath("the path is empty".to_owned()));
    }
    if relative.is_absolute()
        || relative
            .components()
            .any(|c| matches!(c, Component::Prefix(_) | Component::RootDir))
    {
        return Err(SourceError::BadPath(format!(
            "`{}` is absolute; use a path relative to the config folder",
            relative.display()
        )));
    }
    let root = absolute(root);
    let mut resolved = absolute(base);
    for component in relative.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop();
            }
            Component::Normal(part) => resolved.push(part),
            Component::Prefix(_) | Component::RootDir => {}
        }
    }
    if !resolved.starts_with(&root) {
        return Err(SourceError::BadPath(format!(
            "`{}` leads outside the repository root {}",
            relative.display(),
            root.display()
        )));
    }
    let real = resolved.canonicalize().map_err(|err| {
        if err.kind() == std::io::ErrorKind::NotFound {
            SourceError::NotFound {
                what: format!("local path `{}`", relative.display()),
            }
        } else {
            SourceError::Io(format!("cannot read `{}`: {err}", relative.display()))
        }
    })?;
    let real_root = root.canonicalize().map_err(|err| {
        SourceError::Io(format!(
            "cannot read the repository root {}: {err}",
            root.display()
        ))
    })?;
    if !real.starts_with(&real_root) {
        return Err(SourceError::BadPath(format!(
            "`{}` follows a symlink outside the repository root {}",
            relative.display(),
            root.display()
        )));
    }
    Ok(real)
}

pub(super) fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    // Lexically normalized, so that `a/../b` and `b` compare equal.
    let mut normalized = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                normalized.pop();
            }
            Component::CurDir => {}
            other => normalized.push(other),
        }
    }
    normalized
}
