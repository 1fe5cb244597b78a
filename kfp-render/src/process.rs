//! Running a render command: in its own process group (so a timeout or Ctrl-C kills the whole tree, not
//! just a wrapper shell), with stdout/stderr going to files (so a chatty or stuck command can never block us
//! on a full pipe), watched for the timeout and for cancellation.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::error::RenderError;
use kfp_client::CancelToken;

use crate::target::{OUTPUT_ENV, RenderTarget};

/// How much of the command's stderr is kept for error messages.
const STDERR_TAIL_BYTES: usize = 16 * 1024;

/// Runs `target`'s command so that it writes into `output`; its stdout/stderr go to files in `logs`.
pub(crate) fn run_render_command(
    target: &RenderTarget,
    output: &Path,
    logs: &Path,
    timeout: Option<Duration>,
    cancel: &CancelToken,
) -> Result<(), RenderError> {
    let argv = target.command_for(output);
    let (program, args) = argv.split_first().ok_or(RenderError::EmptyCommand)?;
    if !target.workdir.is_dir() {
        return Err(RenderError::MissingWorkdir {
            path: target.workdir.clone(),
        });
    }
    let stdout_path = logs.join("stdout");
    let stderr_path = logs.join("stderr");
    let stdout =
        File::create(&stdout_path).map_err(|err| RenderError::io("create", &stdout_path, err))?;
    let stderr =
        File::create(&stderr_path).map_err(|err| RenderError::io("create", &stderr_path, err))?;

    let mut command = Command::new(resolve_program(program, &target.workdir));
    // A render command compiles a pipeline: it needs none of the KFP, Dex or GitHub credentials.
    kfp_client::secrets::scrub_env(&mut command);
    command
        .args(args)
        .current_dir(&target.workdir)
        .env(OUTPUT_ENV, output)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        // A group of its own: Ctrl-C at the terminal does not reach it directly, and we can kill the
        // command together with everything it started.
        command.process_group(0);
    }
    if cancel.is_cancelled() {
        return Err(RenderError::Cancelled);
    }
    let mut child = command.spawn().map_err(|source| RenderError::Spawn {
        program: program.clone(),
        source,
    })?;

    let status = wait(&mut child, timeout, cancel);
    let stderr_tail = || read_tail(&stderr_path);
    match status {
        Waited::Exited(status) if status.success() => Ok(()),
        Waited::Exited(status) => Err(RenderError::CommandFailed {
            status: describe(status),
            stderr: stderr_tail(),
        }),
        Waited::TimedOut(timeout) => Err(RenderError::TimedOut {
            timeout,
            stderr: stderr_tail(),
        }),
        Waited::Cancelled => Err(RenderError::Cancelled),
        Waited::Error(err) => Err(RenderError::io(
            "wait for the render command of",
            &target.workdir,
            err,
        )),
    }
}

/// What stderr the command wrote (its end), for errors raised after it exited successfully.
pub(crate) fn stderr_of(logs: &Path) -> String {
    read_tail(&logs.join("stderr"))
}

enum Waited {
    Exited(ExitStatus),
    TimedOut(Duration),
    Cancelled,
    Error(std::io::Error),
}

fn wait(child: &mut Child, timeout: Option<Duration>, cancel: &CancelToken) -> Waited {
    let started = Instant::now();
    // Short polls first so quick commands finish quickly, then back off to keep the CPU idle.
    let mut pause = Duration::from_millis(2);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Waited::Exited(status),
            Ok(None) => {}
            Err(err) => {
                kill_tree(child);
                return Waited::Error(err);
            }
        }
        if cancel.is_cancelled() {
            kill_tree(child);
            return Waited::Cancelled;
        }
        if let Some(timeout) = timeout
            && started.elapsed() >= timeout
        {
            kill_tree(child);
            return Waited::TimedOut(timeout);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Kills the command's whole process group, then reaps the command itself.
fn kill_tree(child: &mut Child) {
    #[cfg(unix)]
    {
        // The child has not been reaped yet, so its pid still names its group.
        let group = rustix::process::Pid::from_child(child);
        if rustix::process::kill_process_group(group, rustix::process::Signal::KILL).is_err() {
            let _ = child.kill();
        }
    }
    #[cfg(not(unix))]
    {
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// A program given with a relative path containing a slash (`./render.sh`, `bin/render`) is relative to
/// the working directory, as it would be in a shell started there; bare names are looked up on `PATH`.
fn resolve_program(program: &str, workdir: &Path) -> PathBuf {
    let path = Path::new(program);
    if path.is_relative() && path.components().count() > 1 {
        workdir.join(path)
    } else {
        path.to_path_buf()
    }
}

fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => status.to_string(),
    }
}

/// The last [`STDERR_TAIL_BYTES`] of a log file, starting at a line boundary, trimmed.
fn read_tail(path: &Path) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return String::new();
    };
    let tail = if bytes.len() > STDERR_TAIL_BYTES {
        let start = bytes.len() - STDERR_TAIL_BYTES;
        let line_start = bytes[start..]
            .iter()
            .position(|byte| *byte == b'\n')
            .map_or(start, |offset| start + offset + 1);
        &bytes[line_start..]
    } else {
        &bytes[..]
    };
    String::from_utf8_lossy(tail).trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(dir: &Path, script: &str) -> RenderTarget {
        RenderTarget::new(
            "t",
            dir,
            vec![
                "sh".into(),
                "-c".into(),
                script.into(),
                "sh".into(),
                "{output}".into(),
            ],
            dir.join("out"),
        )
    }

    fn run(dir: &Path, script: &str, timeout: Option<Duration>) -> Result<(), RenderError> {
        let output = dir.join("rendered");
        std::fs::create_dir_all(&output).unwrap();
        run_render_command(
            &target(dir, script),
            &output,
            dir,
            timeout,
            &CancelToken::new(),
        )
    }

    #[test]
    fn the_output_folder_is_passed_as_argument_and_environment_variable() {
        let dir = tempfile::tempdir().unwrap();
        run(
            dir.path(),
            r#"[ "$1" = "$KFP_GITOPS_OUTPUT" ] && echo ok > "$1/marker""#,
            None,
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("rendered/marker")).unwrap(),
            "ok\n"
        );
    }

    #[test]
    fn a_failing_command_reports_its_exit_code_and_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let err = run(dir.path(), "echo first >&2; echo boom >&2; exit 3", None).unwrap_err();
        match err {
            RenderError::CommandFailed { status, stderr } => {
                assert_eq!(status, "exit code 3");
                assert_eq!(stderr, "first\nboom");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_missing_program_is_a_spawn_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = RenderTarget::new(
            "t",
            dir.path(),
            vec!["kfp-gitops-no-such-program".into()],
            dir.path().join("out"),
        );
        let err = run_render_command(&target, dir.path(), dir.path(), None, &CancelToken::new())
            .unwrap_err();
        assert!(
            matches!(&err, RenderError::Spawn { program, .. } if program == "kfp-gitops-no-such-program"),
            "{err:?}"
        );
    }

    #[test]
    fn a_relative_program_path_is_relative_to_the_workdir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        std::fs::write(
            dir.path().join("bin/render.sh"),
            "echo hi > \"$1/marker\"\n",
        )
        .unwrap();
        let target = RenderTarget::new(
            "t",
            dir.path(),
            vec!["sh".into(), "bin/render.sh".into(), "{output}".into()],
            dir.path().join("out"),
        );
        run_render_command(&target, dir.path(), dir.path(), None, &CancelToken::new()).unwrap();
        assert!(dir.path().join("marker").exists());
        assert_eq!(
            resolve_program("./render.sh", Path::new("/w")),
            Path::new("/w/./render.sh")
        );
        assert_eq!(
            resolve_program("python", Path::new("/w")),
            Path::new("python")
        );
    }

    #[test]
    fn a_command_exceeding_the_timeout_is_killed_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        // The grandchild records its pid; after the timeout it must be gone too.
        let script = r#"sleep 60 & echo $! > "$1/../grandchild.pid"; wait"#;
        let err = run(dir.path(), script, Some(Duration::from_secs(3))).unwrap_err();
        assert!(matches!(err, RenderError::TimedOut { .. }), "{err:?}");
        let pid: i32 = std::fs::read_to_string(dir.path().join("grandchild.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // SIGKILL is delivered asynchronously: give the kernel a moment to finish the process.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while process_alive(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!process_alive(pid), "the grandchild {pid} survived");
    }

    #[test]
    fn a_cancelled_token_stops_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("rendered");
        std::fs::create_dir_all(&output).unwrap();
        let cancel = CancelToken::new();
        let canceller = {
            let cancel = cancel.clone();
            let started = dir.path().join("started");
            std::thread::spawn(move || {
                while !started.exists() {
                    std::thread::sleep(Duration::from_millis(10));
                }
                cancel.cancel();
            })
        };
        let target = target(dir.path(), r#"touch "$1/../started"; sleep 60"#);
        let err = run_render_command(&target, &output, dir.path(), None, &cancel).unwrap_err();
        canceller.join().unwrap();
        assert!(matches!(err, RenderError::Cancelled), "{err:?}");
    }

    #[test]
    fn only_the_end_of_a_long_stderr_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stderr");
        let mut text = String::new();
        for line in 0..5000 {
            text.push_str(&format!("line {line}\n"));
        }
        std::fs::write(&path, &text).unwrap();
        let tail = read_tail(&path);
        assert!(tail.len() <= STDERR_TAIL_BYTES);
        assert!(tail.starts_with("line "), "{}", &tail[..20]);
        assert!(tail.ends_with("line 4999"));
    }

    /// Whether a process exists and is not a zombie waiting to be reaped by someone else.
    fn process_alive(pid: i32) -> bool {
        // A killed grandchild may linger as a zombie until init reaps it; that is not "alive".
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                !state.starts_with('Z')
            })
            .unwrap_or(false)
    }
}
