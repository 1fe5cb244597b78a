//! Running a child process and measuring it: wall time and peak resident memory (from the kernel's rusage
//! through GNU `time` when installed, else from `VmHWM` in `/proc/<pid>/status` while polling).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const GNU_TIME: &str = "/usr/bin/time";

/// One child run.
#[derive(Debug, Clone)]
pub struct Measured {
    /// From spawn to exit.
    pub wall: Duration,
    /// Peak resident set size in KiB, when it could be read.
    pub max_rss_kib: Option<u64>,
    /// Exit status.
    pub status: ExitStatus,
    /// Where its stdout went.
    pub stdout: PathBuf,
    /// Where its stderr went.
    pub stderr: PathBuf,
}

impl Measured {
    /// The exit code (None when killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The tail of its stderr and stdout, for error messages.
    pub fn output_tail(&self) -> String {
        let tail = |path: &Path| {
            let text = fs::read_to_string(path).unwrap_or_default();
            let start = text.len().saturating_sub(3000);
            let start = (start..text.len())
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(text.len());
            text[start..].to_owned()
        };
        format!(
            "--- stderr ({}) ---\n{}\n--- stdout ({}) ---\n{}",
            self.stderr.display(),
            tail(&self.stderr),
            self.stdout.display(),
            tail(&self.stdout)
        )
    }
}

/// How to run a measured child.
pub struct Child<'a> {
    /// The program.
    pub program: &'a Path,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: Option<&'a Path>,
    /// Files for stdout/stderr are `{logs}.stdout` / `{logs}.stderr`.
    pub logs: PathBuf,
}

/// Runs the child to completion and measures it.
pub fn run(child: &Child<'_>) -> Result<Measured, String> {
    let stdout = child.logs.with_extension("stdout");
    let stderr = child.logs.with_extension("stderr");
    let rss_file = child.logs.with_extension("rss");
    if let Some(parent) = child.logs.parent() {
        fs::create_dir_all(parent)
            .map_err(|err| format!("creating {}: {err}", parent.display()))?;
    }
    let gnu_time = Path::new(GNU_TIME).exists();
    let mut command = if gnu_time {
        let mut command = Command::new(GNU_TIME);
        command
            .arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&rss_file)
            .arg("--")
            .arg(child.program);
        command
    } else {
        Command::new(child.program)
    };
    command
        .args(&child.args)
        .envs(child.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout).map_err(|err| format!("{}: {err}", stdout.display()))?)
        .stderr(fs::File::create(&stderr).map_err(|err| format!("{}: {err}", stderr.display()))?);
    if let Some(cwd) = child.cwd {
        command.current_dir(cwd);
    }
    let started = Instant::now();
    let mut process = command
        .spawn()
        .map_err(|err| format!("cannot start {}: {err}", child.program.display()))?;
    let mut polled_peak: Option<u64> = None;
    let status = loop {
        if let Some(status) = process
            .try_wait()
            .map_err(|err| format!("waiting for {}: {err}", child.program.display()))?
        {
            break status;
        }
        if !gnu_time && let Some(peak) = vm_hwm(process.id()) {
            polled_peak = Some(polled_peak.map_or(peak, |p| p.max(peak)));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let wall = started.elapsed();
    let max_rss_kib = if gnu_time {
        fs::read_to_string(&rss_file).ok().and_then(|text| {
            text.lines()
                .filter_map(|line| line.trim().parse::<u64>().ok())
                .next_back()
        })
    } else {
        polled_peak
    };
    Ok(Measured {
        wall,
        max_rss_kib,
        status,
        stdout,
        stderr,
    })
}

fn vm_hwm(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Median, minimum and maximum of a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Median (mean of the middle two for an even count).
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Sample size.
    pub n: usize,
}

impl Stats {
    /// Statistics of `values`; None when empty.
    pub fn of(values: &[f64]) -> Option<Stats> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Some(Stats {
            median,
            min: sorted[0],
            max: sorted[n - 1],
            n,
        })
    }
}

/// A figure with a unit, printed as `median (min–max)`.
pub struct Figure<'a> {
    /// The statistics.
    pub stats: Option<Stats>,
    /// Unit suffix, e.g. `ms`.
    pub unit: &'a str,
    /// Decimals.
    pub decimals: usize,
}

impl fmt::Display for Figure<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(s) = self.stats else {
            return f.write_str("n/a");
        };
        let (d, unit) = (self.decimals, self.unit);
        let median = format!("{:.*}", d, s.median);
        let (min, max) = (format!("{:.*}", d, s.min), format!("{:.*}", d, s.max));
        let unit = if unit.is_empty() {
            String::new()
        } else {
            format!(" {unit}")
        };
        if min == max {
            write!(f, "{median}{unit}")
        } else {
            write!(f, "{median}{unit} ({min}–{max})")
        }
    }
}

/// Milliseconds of a duration.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
