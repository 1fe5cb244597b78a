//! Reading the files a config names: the config folder itself, its two YAML files, local pipelines,
//! parameter files and rendered folders.
//!
//! Only regular files are ever opened. Opening a FIFO blocks until something writes to it (forever, in CI),
//! and a socket or device is not a file whose content can be reviewed in git, so anything that is not a
//! regular file (after following symlinks) is refused before it is opened.

use std::fs::{FileType, Metadata};
use std::path::Path;

use crate::problem::Problem;
use crate::sources::SourceError;

/// What a file that is not a regular file is, for messages (`a FIFO`).
pub(crate) fn kind_of(file_type: &FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
    }
    if file_type.is_dir() {
        "a folder"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

/// `Err(kind)` when `metadata` (taken after following symlinks) is not that of a regular file.
fn regular(metadata: &Metadata) -> Result<(), &'static str> {
    if metadata.is_file() {
        Ok(())
    } else {
        Err(kind_of(&metadata.file_type()))
    }
}

/// The bytes of the regular file `real` (resolved already); `shown` names it in errors. Anything else is
/// refused without being opened.
pub(crate) fn read_regular(real: &Path, shown: &Path) -> Result<Vec<u8>, SourceError> {
    let metadata = std::fs::metadata(real)
        .map_err(|err| SourceError::Io(format!("cannot read `{}`: {err}", shown.display())))?;
    regular(&metadata).map_err(|kind| SourceError::NotRegularFile {
        path: shown.display().to_string(),
        kind,
    })?;
    std::fs::read(real)
        .map_err(|err| SourceError::Io(format!("cannot read `{}`: {err}", shown.display())))
}

/// Checks that the config folder exists and is a folder: one problem naming it, instead of one for each
/// file it should hold.
pub(crate) fn config_folder(dir: &Path) -> Option<Problem> {
    let problem = |message: String| {
        Problem {
        file: dir.to_path_buf(),
        pointer: String::new(),
        line: None,
        column: None,
        message,
        tip: Some(
            "pass the folder that holds the namespace's `experiments.yaml` and `recurring_runs.yaml` (with \
             --config, or as `config` in kfp-gitops.yaml, relative to that file)"
                .to_owned(),
        ),
    }
    };
    match std::fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => None,
        Ok(metadata) => Some(problem(format!(
            "the config folder `{}` is {}, not a folder",
            dir.display(),
            kind_of(&metadata.file_type())
        ))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Some(problem(format!(
            "the config folder `{}` does not exist",
            dir.display()
        ))),
        Err(err) => Some(problem(format!(
            "cannot read the config folder `{}`: {err}",
            dir.display()
        ))),
    }
}

/// Reads a config file's text: problems for missing, non-regular, unreadable and non-UTF-8 files.
pub(crate) fn read_text(path: &Path, problems: &mut Vec<Problem>) -> Option<String> {
    let file_problem = |message: String,
                        tip: Option<String>,
                        line: Option<usize>,
                        column: Option<usize>| Problem {
        file: path.to_path_buf(),
        pointer: String::new(),
        line,
        column,
        message,
        tip,
    };
    let read = match std::fs::metadata(path).map(|metadata| regular(&metadata)) {
        Ok(Ok(())) => std::fs::read(path),
        Ok(Err(kind)) => {
            problems.push(file_problem(
                format!("the file is {kind}, not a regular file"),
                Some(crate::sources::NOT_REGULAR_TIP.to_owned()),
                None,
                None,
            ));
            return None;
        }
        Err(err) => Err(err),
    };
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            problems.push(file_problem(
                "the file does not exist".to_owned(),
                Some(
                    "each namespace folder needs `experiments.yaml` and `recurring_runs.yaml`"
                        .to_owned(),
                ),
                None,
                None,
            ));
            return None;
        }
        Err(err) => {
            problems.push(file_problem(
                format!("cannot read the file: {err}"),
                None,
                None,
                None,
            ));
            return None;
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => Some(text),
        Err(err) => {
            let valid = &err.as_bytes()[..err.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
            let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            let column = String::from_utf8_lossy(&valid[line_start..])
                .chars()
                .count()
                + 1;
            problems.push(file_problem(
                format!(
                    "the file is not valid UTF-8 (invalid byte at offset {})",
                    valid.len()
                ),
                Some("save the file as UTF-8".to_owned()),
                Some(line),
                Some(column),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `check`, which must not open `fifo`. Should it open it anyway, a writer waiting on the FIFO lets
    /// that open return and the read end at once, so the regression fails the test instead of hanging it.
    #[cfg(unix)]
    fn with_a_waiting_writer<T>(fifo: &Path, check: impl FnOnce() -> T) -> T {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let opened = Arc::new(AtomicBool::new(false));
        let writer = {
            let (fifo, opened) = (fifo.to_path_buf(), Arc::clone(&opened));
            std::thread::spawn(move || {
                let file = std::fs::OpenOptions::new().write(true).open(fifo);
                opened.store(true, Ordering::SeqCst);
                drop(file);
            })
        };
        let result = check();
        if !opened.load(Ordering::SeqCst) {
            // Nothing opened it, as it should be: a reader lets the waiting writer go.
            drop(std::fs::File::open(fifo));
        }
        writer.join().unwrap();
        result
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_being_opened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("recurring_runs.yaml");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let mut problems = Vec::new();
        let text = with_a_waiting_writer(&fifo, || read_text(&fifo, &mut problems));
        assert_eq!(text, None);
        assert_eq!(
            problems[0].message,
            "the file is a FIFO (named pipe), not a regular file"
        );
        assert_eq!(
            with_a_waiting_writer(&fifo, || read_regular(&fifo, Path::new("p.yaml"))),
            Err(SourceError::NotRegularFile {
                path: "p.yaml".into(),
                kind: "a FIFO (named pipe)"
            })
        );
        assert_eq!(
            read_regular(dir.path(), Path::new("d")),
            Err(SourceError::NotRegularFile {
                path: "d".into(),
                kind: "a folder"
            })
        );
    }

    #[test]
    fn a_missing_config_folder_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("team-9");
        let problem = config_folder(&missing).unwrap();
        assert_eq!(
            problem.message,
            format!("the config folder `{}` does not exist", missing.display())
        );
        assert_eq!(config_folder(dir.path()), None);
        std::fs::write(&missing, "").unwrap();
        assert!(
            config_folder(&missing)
                .unwrap()
                .message
                .ends_with("is a regular file, not a folder")
        );
    }
}
