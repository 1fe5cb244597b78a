//! The five scenarios of the benchmark. Each one generates its inputs under the work folder, runs the real
//! `kfp-gitops` binary against an in-process emulator, checks that the outcome is the expected one (a
//! failing scenario is an error, a slow one is only reported), and adds its section to the report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kfp_gitops_tests::emulator::{Emulator, EmulatorConfig};

use crate::generate::{self, NAMESPACE, NamespaceSpec};
use crate::measure::{self, Child, Figure, Measured, Stats, ms};
use crate::reference;
use crate::report::{Report, Target};

/// Sizes and repetitions of one benchmark run.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Measured repetitions of each figure.
    pub reps: usize,
    /// Scenario 1: recurring runs.
    pub noop_runs: Vec<usize>,
    /// Scenario 1: versions per recurring run.
    pub noop_versions: usize,
    /// Scenario 1 and 2: manifest bytes.
    pub manifest_bytes: usize,
    /// Scenario 1: job names replayed by the reference pattern (the rest is extrapolated).
    pub reference_sample: usize,
    /// Scenario 2: recurring runs.
    pub apply_runs: Vec<usize>,
    /// Scenario 2: injected latency.
    pub apply_latency: Duration,
    /// Scenario 3: recurring runs, versions, manifest bytes.
    pub memory: (usize, usize, usize),
    /// Scenario 4: bytes of each compared workflow and comparisons timed.
    pub compare: (usize, usize),
    /// Scenario 4: render targets and their workflow size.
    pub render: (usize, usize),
    /// Scenario 5: recurring runs validated.
    pub validate_runs: usize,
}

impl Sizes {
    /// The sizes the issue asks for.
    pub fn full() -> Self {
        Self {
            reps: 5,
            noop_runs: vec![10, 100, 500],
            noop_versions: 6,
            manifest_bytes: 200_000,
            reference_sample: 10,
            apply_runs: vec![10, 100, 500],
            apply_latency: Duration::from_millis(5),
            memory: (500, 2, 1_000_000),
            compare: (10_000_000, 20),
            render: (50, 20_000),
            validate_runs: 1000,
        }
    }

    /// Small sizes of every scenario, so the harness itself is exercised quickly.
    pub fn quick() -> Self {
        Self {
            reps: 2,
            noop_runs: vec![10],
            noop_versions: 6,
            manifest_bytes: 20_000,
            reference_sample: 10,
            apply_runs: vec![10],
            apply_latency: Duration::from_millis(5),
            memory: (20, 2, 100_000),
            compare: (1_000_000, 5),
            render: (5, 5_000),
            validate_runs: 100,
        }
    }
}

/// What every scenario needs.
pub struct Bench {
    /// The `kfp-gitops` binary.
    pub kfp_gitops: PathBuf,
    /// This binary (for the in-process comparison child).
    pub myself: PathBuf,
    /// Where inputs and logs go.
    pub work: PathBuf,
    /// Sizes.
    pub sizes: Sizes,
    /// Quick mode.
    pub quick: bool,
}

const PAGE: usize = 200;

fn pages(items: usize, page: usize) -> u64 {
    items.div_ceil(page).max(1) as u64
}

fn start_emulator(state: &Path, latency: Duration) -> Result<Emulator, String> {
    Emulator::start(EmulatorConfig {
        state_file: Some(state.to_path_buf()),
        latency,
        ..EmulatorConfig::multi_user()
    })
    .map_err(|err| format!("cannot start the emulator from {}: {err}", state.display()))
}

fn expect_code(measured: &Measured, expected: i32, what: &str) -> Result<(), String> {
    if measured.code() == Some(expected) {
        Ok(())
    } else {
        Err(format!(
            "{what}: kfp-gitops exited with {} (expected {expected})\n{}",
            measured.status,
            measured.output_tail()
        ))
    }
}

fn stats(values: &[f64]) -> Option<Stats> {
    Stats::of(values)
}

fn fig(values: &[f64], unit: &str, decimals: usize) -> String {
    Figure {
        stats: stats(values),
        unit,
        decimals,
    }
    .to_string()
}

fn median(values: &[f64]) -> f64 {
    stats(values).map_or(f64::NAN, |s| s.median)
}

fn mib(kib: &[f64]) -> Vec<f64> {
    kib.iter().map(|k| k / 1024.0).collect()
}

fn ratio(reference: f64, ours: f64) -> String {
    if ours > 0.0 && reference.is_finite() {
        format!("{:.1}×", reference / ours)
    } else {
        "n/a".to_owned()
    }
}

/// Fetches every page of the namespace's experiments and jobs (page size 200) over raw HTTP without
/// decoding the bodies: the emulator's share of any listing.
fn raw_listing(emulator: &Emulator) -> Result<Duration, String> {
    let started = std::time::Instant::now();
    for kind in ["experiments", "jobs"] {
        let mut token = String::new();
        loop {
            let path = format!(
                "/apis/v1beta1/{kind}?page_size={PAGE}&resource_reference_key.type=NAMESPACE&\
                 resource_reference_key.id={NAMESPACE}&page_token={token}"
            );
            let response = emulator
                .request("GET", &path, None)
                .map_err(|err| format!("raw listing of {kind}: {err}"))?;
            if response.status != 200 {
                return Err(format!(
                    "raw listing of {kind}: HTTP {}: {}",
                    response.status,
                    response.text()
                ));
            }
            token = next_page_token(&response.body);
            if token.is_empty() {
                break;
            }
        }
    }
    Ok(started.elapsed())
}

/// The `next_page_token` of a list body; inside JSON strings quotes are escaped, so the raw key with its
/// quotes only occurs as the field itself.
fn next_page_token(body: &[u8]) -> String {
    const KEY: &[u8] = b"\"next_page_token\":";
    let Some(at) = body.windows(KEY.len()).rposition(|window| window == KEY) else {
        return String::new();
    };
    let rest = &body[at + KEY.len()..];
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    match rest.strip_prefix(b"\"") {
        Some(value) => {
            let end = value.iter().position(|b| *b == b'"').unwrap_or(0);
            String::from_utf8_lossy(&value[..end]).into_owned()
        }
        None => String::new(),
    }
}

impl Bench {
    fn kfp(&self, args: &[&str], api_url: Option<&str>, logs: &str) -> Result<Measured, String> {
        let mut env = vec![("KFP_NAMESPACE".to_owned(), NAMESPACE.to_owned())];
        if let Some(url) = api_url {
            env.push(("KFP_API_URL".to_owned(), url.to_owned()));
        }
        measure::run(&Child {
            program: &self.kfp_gitops,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env,
            cwd: Some(&self.work),
            logs: self.work.join("logs").join(logs),
        })
    }

    fn plan_args(config: &Path) -> Vec<String> {
        vec![
            "plan".to_owned(),
            "--config".to_owned(),
            config.display().to_string(),
            "--detailed-exitcode".to_owned(),
        ]
    }

    fn run_plan(&self, config: &Path, api_url: &str, logs: &str) -> Result<Measured, String> {
        let args = Self::plan_args(config);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.kfp(&args, Some(api_url), logs)
    }

    /// Scenario 1: no-op reconcile, requests / wall / peak RSS, next to the reference pattern.
    pub fn no_op(&self, report: &mut Report) -> Result<(), String> {
        let sizes = &self.sizes;
        let mut table = String::from(
            "| R | jobs in KFP | requests (minimum) | wall time | serving floor | peak RSS | reference requests | reference wall time | fewer requests | faster |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        let mut notes = Vec::new();
        let mut all_minimal = true;
        let mut phases: Option<String> = None;
        let mut counts_seen = Vec::new();
        for &runs in &sizes.noop_runs {
            let spec = NamespaceSpec {
                runs,
                versions: sizes.noop_versions,
                manifest_bytes: sizes.manifest_bytes,
                stale: false,
            };
            let dir = self.work.join(format!("noop-{runs}"));
            eprintln!("kfp-bench: scenario 1, R = {runs}: generating inputs");
            let config = generate::config(&dir.join("config"), &spec)
                .map_err(|err| format!("generating the config: {err}"))?;
            let state = dir.join("state.json");
            generate::state_file(&state, &spec, &config)?;
            let emulator = start_emulator(&state, Duration::ZERO)?;
            let url = emulator.base_url();
            // The reference pattern, on a sample of job names when the namespace is large.
            let sample = sizes.reference_sample.min(runs);
            // One replay of a sampled large namespace already takes tens of seconds.
            let reference_reps = if self.quick || sample < runs && runs > 100 {
                1
            } else {
                3
            };
            let (mut ref_walls, mut ref_totals) = (Vec::new(), Vec::new());
            for _ in 0..reference_reps {
                emulator.reset_counts();
                let (setup, jobs) = reference::replay(
                    &url,
                    NAMESPACE,
                    &config.experiments,
                    &config.jobs[..sample],
                )?;
                let scale = runs as f64 / sample as f64;
                ref_walls.push(ms(setup) + ms(jobs) * scale);
                let job_pages = emulator.count("GET /apis/v1beta1/jobs") as f64;
                let other = emulator.total_requests() as f64 - job_pages;
                ref_totals.push(other + job_pages * scale);
            }
            if sample < runs {
                notes.push(format!(
                    "R = {runs}: the reference pattern was replayed for {sample} of the {runs} recurring runs and \
                     scaled to all of them (every recurring run walks the same {} pages of the namespace's jobs).",
                    pages(spec.jobs(), 100)
                ));
            }
            let warm = self.run_plan(&config.dir, &url, &format!("noop-{runs}-warmup"))?;
            expect_code(
                &warm,
                0,
                &format!("the no-op plan of R = {runs} (it must find nothing to change)"),
            )?;
            let (mut walls, mut rss, mut totals) = (Vec::new(), Vec::new(), Vec::new());
            let mut routes = BTreeMap::new();
            for rep in 0..sizes.reps {
                emulator.reset_counts();
                let measured = self.run_plan(&config.dir, &url, &format!("noop-{runs}-{rep}"))?;
                expect_code(&measured, 0, &format!("the no-op plan of R = {runs}"))?;
                walls.push(ms(measured.wall));
                rss.extend(measured.max_rss_kib.map(|k| k as f64));
                totals.push(emulator.total_requests() as f64);
                routes = emulator.request_counts();
            }
            let mut floor = Vec::new();
            for _ in 0..sizes.reps.min(3) {
                floor.push(ms(raw_listing(&emulator)?));
            }
            let minimum = pages(spec.experiments(), PAGE) + pages(spec.jobs(), PAGE);
            let minimal = totals.iter().all(|t| *t as u64 == minimum);
            all_minimal &= minimal;
            counts_seen.push(format!(
                "R = {runs}: {} requests ({}), minimum {minimum}",
                median(&totals),
                routes
                    .iter()
                    .map(|(route, n)| format!("{route} × {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));

            let _ = writeln!(
                table,
                "| {runs} | {} | {} ({minimum}) | {} | {} | {} | {} | {} | {} | {} |",
                spec.jobs(),
                fig(&totals, "", 0).trim_end(),
                fig(&walls, "ms", 1),
                fig(&floor, "ms", 1),
                fig(&mib(&rss), "MiB", 1),
                fig(&ref_totals, "", 0).trim_end(),
                fig(&ref_walls, "ms", 0),
                ratio(median(&ref_totals), median(&totals)),
                ratio(median(&ref_walls), median(&walls)),
            );
            let largest = runs == *sizes.noop_runs.iter().max().unwrap_or(&runs);
            if largest {
                let size_note = if runs == 500 {
                    String::new()
                } else {
                    format!(" (measured at R = {runs})")
                };
                report.target(Target {
                    name: "≥ 50× fewer requests than the reference pattern at R = 500".to_owned(),
                    figure: format!("{}{size_note}", ratio(median(&ref_totals), median(&totals))),
                    met: median(&ref_totals) >= 50.0 * median(&totals),
                    at_size: runs == 500,
                    limit: Some(format!(
                        "the reference walks ⌈jobs / 100⌉ pages per recurring run, so the ratio grows with R; at \
                         R = {runs} the namespace holds only {} jobs",
                        spec.jobs()
                    )),
                });
                // What the plan's time is made of: the emulator's serving, the config (validate does the
                // same loading without KFP), and the rest (decoding pages, digesting the newest versions).
                let dir_arg = config.dir.display().to_string();
                let mut load = Vec::new();
                for rep in 0..sizes.reps.min(3) {
                    let measured = self.kfp(
                        &["validate", "--config", &dir_arg],
                        None,
                        &format!("noop-{runs}-validate-{rep}"),
                    )?;
                    expect_code(&measured, 0, &format!("validate of the R = {runs} config"))?;
                    load.push(ms(measured.wall));
                }
                let manifest_mb = (spec.jobs() * sizes.manifest_bytes) as f64 / 1e6;
                let rest = (median(&walls) - median(&floor) - median(&load)).max(0.0);
                let breakdown = format!(
                    "of the {:.0} ms at R = {runs}: the emulator alone needs {:.0} ms to serve the listings \
                     ({} jobs, {manifest_mb:.0} MB of manifests); loading the config ({} pipelines of {} KB \
                     YAML, `validate` of the same folder) takes {:.0} ms; the remaining ≈ {rest:.0} ms is \
                     kfp-gitops decoding the pages (≈ {:.1} ms per MB of manifests), parsing and digesting \
                     the manifest of each job's newest version ({} of the {} versions) and planning",
                    median(&walls),
                    median(&floor),
                    spec.jobs(),
                    spec.pipelines(),
                    sizes.manifest_bytes / 1000,
                    median(&load),
                    rest / manifest_mb,
                    runs,
                    spec.jobs(),
                );
                phases = Some(breakdown.clone());
                report.target(Target {
                    name: "R = 500 no-op plan under 1 s".to_owned(),
                    figure: format!("{}{size_note}", fig(&walls, "ms", 1)),
                    met: median(&walls) < 1000.0,
                    at_size: runs == 500,
                    limit: Some(breakdown),
                });
            }
            drop(emulator);
        }
        report.target(Target {
            name: "no-op request count equals the minimum (pages of experiments + pages of jobs at 200 per page)"
                .to_owned(),
            figure: counts_seen.join("; "),
            met: all_minimal,
            at_size: true,
            limit: Some("requests beyond the two listings (see the routes above)".to_owned()),
        });
        let mut section = format!(
            "One namespace with R recurring runs × {} versions each ({} KB manifests, one pipeline and one \
             experiment per 10 recurring runs), already in the desired state; `kfp-gitops plan \
             --detailed-exitcode` must exit 0 (nothing to change). Requests are counted by the emulator; the \
             minimum is one page of experiments plus ⌈jobs / 200⌉ pages of jobs. The reference is the request \
             pattern of the reference scripts (CONTRACT §10) replayed with kfp-client against the same emulator \
             (its wall time excludes process start and config loading, so it favours the reference). The \
             serving floor is the time the emulator alone takes to answer the same listings (raw HTTP, bodies \
             not decoded): no client can list the namespace faster against it.\n\n{table}",
            sizes.noop_versions,
            sizes.manifest_bytes / 1000
        );
        for note in notes {
            let _ = write!(section, "\n* {note}");
        }
        if let Some(phases) = phases {
            let _ = write!(section, "\n* Where the time goes: {phases}.");
        }
        let _ = write!(
            section,
            "\n* Requests by route (last run): {}\n",
            counts_seen.join("; ")
        );
        report.section(
            "1. No-op reconcile: API economy, wall time, memory",
            section,
        );
        Ok(())
    }

    /// Scenario 2: apply of R changed recurring runs with injected latency, concurrent vs one at a time.
    pub fn apply(&self, report: &mut Report) -> Result<(), String> {
        let sizes = &self.sizes;
        let latency_ms = sizes.apply_latency.as_millis();
        let mut table = String::from(
            "| R | concurrency | wall time | of which planning | requests | requests per job | mutations per job | one-at-a-time / concurrent |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for &runs in &sizes.apply_runs {
            let spec = NamespaceSpec {
                runs,
                versions: 1,
                manifest_bytes: sizes.manifest_bytes,
                stale: true,
            };
            let dir = self.work.join(format!("apply-{runs}"));
            eprintln!("kfp-bench: scenario 2, R = {runs}: generating inputs");
            let config = generate::config(&dir.join("config"), &spec)
                .map_err(|err| format!("generating the config: {err}"))?;
            let state = dir.join("state.json");
            generate::state_file(&state, &spec, &config)?;
            let emulator = start_emulator(&state, sizes.apply_latency)?;
            let url = emulator.base_url();
            let pending = self.run_plan(&config.dir, &url, &format!("apply-{runs}-pending"))?;
            expect_code(
                &pending,
                2,
                &format!("the plan before applying R = {runs} changed recurring runs"),
            )?;
            let mut medians = Vec::new();
            for concurrency in [1usize, 4] {
                let (mut walls, mut totals, mut mutations) = (Vec::new(), Vec::new(), Vec::new());
                for rep in 0..sizes.reps.min(3) {
                    emulator.reset();
                    let dir_arg = config.dir.display().to_string();
                    let conc = concurrency.to_string();
                    let measured = self.kfp(
                        &["apply", "--config", &dir_arg, "--concurrency", &conc],
                        Some(&url),
                        &format!("apply-{runs}-c{concurrency}-{rep}"),
                    )?;
                    expect_code(
                        &measured,
                        0,
                        &format!("apply of R = {runs} (concurrency {concurrency})"),
                    )?;
                    walls.push(ms(measured.wall));
                    totals.push(emulator.total_requests() as f64);
                    let writes: u64 = emulator
                        .request_counts()
                        .iter()
                        .filter(|(route, _)| !route.starts_with("GET "))
                        .map(|(_, n)| *n)
                        .sum();
                    mutations.push(writes as f64);
                    if rep == 0 {
                        let after = self.run_plan(
                            &config.dir,
                            &url,
                            &format!("apply-{runs}-c{concurrency}-converged"),
                        )?;
                        expect_code(
                            &after,
                            0,
                            &format!("the plan after applying R = {runs} (it must have converged)"),
                        )?;
                    }
                }
                medians.push(median(&walls));
                let per_job = |v: &[f64]| format!("{:.2}", median(v) / runs as f64);
                let speedup = if concurrency == 1 {
                    "—".to_owned()
                } else {
                    ratio(medians[0], median(&walls))
                };
                let _ = writeln!(
                    table,
                    "| {runs} | {concurrency} | {} | {:.0} ms | {} | {} | {} | {speedup} |",
                    fig(&walls, "ms", 0),
                    ms(pending.wall),
                    fig(&totals, "", 0).trim_end(),
                    per_job(&totals),
                    per_job(&mutations),
                );
            }
            drop(emulator);
        }
        report.section(
            "2. Apply of changed recurring runs",
            format!(
                "R recurring runs whose latest version differs from the config (a parameter), {latency_ms} ms of \
                 latency injected into every request. `kfp-gitops apply` creates a new version paused, disables \
                 the old one and enables the new one for each. The one-at-a-time apply is the same command with \
                 `--concurrency 1` (the reference scripts also work one job after another); the default is 4. \
                 Each run starts from the same emulator state; after the first, `plan --detailed-exitcode` must \
                 exit 0 (converged). \"Of which planning\" is one `plan` of the same change (config loading and \
                 listing, with the same latency): the part of the apply that concurrency cannot shorten. Both \
                 binaries and the emulator share the machine's cores, so CPU time spent per request (sending and \
                 validating each new version's manifest) also caps the gain.\n\n{table}"
            ),
        );
        Ok(())
    }

    /// Scenario 3: peak RSS of a no-op plan with 1 MB manifests.
    pub fn memory(&self, report: &mut Report) -> Result<(), String> {
        let (runs, versions, bytes) = self.sizes.memory;
        let spec = NamespaceSpec {
            runs,
            versions,
            manifest_bytes: bytes,
            stale: false,
        };
        let dir = self.work.join("memory");
        eprintln!("kfp-bench: scenario 3: generating inputs");
        let config = generate::config(&dir.join("config"), &spec)
            .map_err(|err| format!("generating the config: {err}"))?;
        let state = dir.join("state.json");
        generate::state_file(&state, &spec, &config)?;
        let emulator = start_emulator(&state, Duration::ZERO)?;
        let url = emulator.base_url();
        let warm = self.run_plan(&config.dir, &url, "memory-warmup")?;
        expect_code(&warm, 0, "the no-op plan of scenario 3")?;
        let (mut rss, mut walls, mut validate_rss) = (Vec::new(), Vec::new(), Vec::new());
        for rep in 0..self.sizes.reps.min(3) {
            let measured = self.run_plan(&config.dir, &url, &format!("memory-{rep}"))?;
            expect_code(&measured, 0, "the no-op plan of scenario 3")?;
            rss.extend(measured.max_rss_kib.map(|k| k as f64 / 1024.0));
            walls.push(ms(measured.wall));
            let dir_arg = config.dir.display().to_string();
            let validate = self.kfp(
                &["validate", "--config", &dir_arg],
                None,
                &format!("memory-validate-{rep}"),
            )?;
            expect_code(&validate, 0, "validate of the scenario 3 config")?;
            validate_rss.extend(validate.max_rss_kib.map(|k| k as f64 / 1024.0));
        }
        drop(emulator);
        let namespace_mb = (spec.jobs() * bytes) as f64 / 1e6;
        let page_mb = (PAGE.min(spec.jobs()) * bytes) as f64 / 1e6;
        report.section(
            "3. Memory with 1 MB manifests",
            format!(
                "R = {runs} recurring runs × {versions} versions with {} KB manifests ({namespace_mb:.0} MB of \
                 manifests in the namespace, {page_mb:.0} MB in one page of {PAGE} jobs), {} distinct pipelines \
                 in the config; a no-op `kfp-gitops plan`. `validate` of the same config (no KFP access) shows \
                 the part of the memory that the config and its pipelines take.\n\n\
                 | figure | value |\n|---|---:|\n| plan peak RSS | {} |\n| plan wall time | {} |\n| validate peak RSS (same config) | {} |\n",
                bytes / 1000,
                spec.pipelines(),
                fig(&rss, "MiB", 1),
                fig(&walls, "ms", 0),
                fig(&validate_rss, "MiB", 1),
            ),
        );
        let size_note = if runs == 500 {
            String::new()
        } else {
            format!(" (measured at R = {runs}, {} KB)", bytes / 1000)
        };
        report.target(Target {
            name: "peak RSS of the scenario 3 plan under 150 MB".to_owned(),
            figure: format!("{}{size_note}", fig(&rss, "MiB", 1)),
            met: median(&rss) < 150.0 * 1e6 / (1024.0 * 1024.0),
            at_size: runs == 500 && bytes >= 1_000_000,
            limit: Some(format!(
                "jobs are decoded one at a time off the connection (a page of {PAGE} carries {page_mb:.0} MB of \
                 manifests), so what stays is the config's pipelines, one digest and compact manifest per \
                 distinct file (validate alone peaks at {}), and one job's manifest with its parsed tree",
                fig(&validate_rss, "MiB", 1)
            )),
        });
        Ok(())
    }

    /// Scenario 4: semantic comparison of two large workflows, and `render --check` over many targets.
    pub fn rendering(&self, report: &mut Report) -> Result<(), String> {
        let (bytes, iterations) = self.sizes.compare;
        let dir = self.work.join("compare");
        std::fs::create_dir_all(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        eprintln!("kfp-bench: scenario 4: generating inputs");
        let left = generate::workflow("big-pipeline", bytes, 7, "2026-01-01T00:00:00.000000");
        let mut right = generate::workflow("big-pipeline", bytes, 7, "2026-03-03T03:03:03.333333");
        let left_path = dir.join("left.yaml");
        let right_path = dir.join("right.yaml");
        let changed_path = dir.join("changed.yaml");
        let write = |path: &Path, value: &serde_json::Value| {
            std::fs::write(path, generate::to_yaml(value))
                .map_err(|err| format!("{}: {err}", path.display()))
        };
        write(&left_path, &left)?;
        write(&right_path, &right)?;
        if let Some(last) = right.pointer_mut("/spec/templates/0/container/image") {
            *last = serde_json::json!("python:3.11");
        }
        write(&changed_path, &right)?;
        let manifest_mb = left.to_string().len() as f64 / 1e6;
        let yaml_mb = std::fs::metadata(&left_path)
            .map(|m| m.len() as f64 / 1e6)
            .unwrap_or(0.0);
        let mut rows = String::new();
        let mut equal_median = f64::NAN;
        for (label, other, expected) in [
            ("equal (volatile keys differ)", &right_path, 0),
            ("one value differs", &changed_path, 1),
        ] {
            let measured = measure::run(&Child {
                program: &self.myself,
                args: vec![
                    "compare".to_owned(),
                    left_path.display().to_string(),
                    other.display().to_string(),
                    "--iterations".to_owned(),
                    iterations.to_string(),
                    "--expect-differences".to_owned(),
                    expected.to_string(),
                ],
                env: Vec::new(),
                cwd: None,
                logs: self.work.join("logs").join(format!("compare-{expected}")),
            })?;
            if !measured.status.success() {
                return Err(format!(
                    "the workflow comparison failed\n{}",
                    measured.output_tail()
                ));
            }
            let output =
                std::fs::read_to_string(&measured.stdout).map_err(|err| err.to_string())?;
            let result: serde_json::Value = serde_json::from_str(&output)
                .map_err(|err| format!("the comparison's report: {err}: {output}"))?;
            let samples: Vec<f64> = result["compare_ms"]
                .as_array()
                .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
                .unwrap_or_default();
            let digest: Vec<f64> = result["digest_ms"]
                .as_array()
                .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
                .unwrap_or_default();
            if expected == 0 {
                equal_median = median(&samples);
            }
            let _ = writeln!(
                rows,
                "| {label} | {} | {} | {:.0} ms | {} |",
                fig(&samples, "ms", 2),
                fig(&digest, "ms", 2),
                result["parse_ms"].as_f64().unwrap_or(f64::NAN),
                fig(
                    &measured
                        .max_rss_kib
                        .map(|k| k as f64 / 1024.0)
                        .into_iter()
                        .collect::<Vec<_>>(),
                    "MiB",
                    0
                ),
            );
        }
        report.target(Target {
            name: "comparison of two 10 MB workflows under 100 ms".to_owned(),
            figure: if bytes >= 10_000_000 {
                fig(&[equal_median], "ms", 2)
            } else {
                format!("{} (measured at {manifest_mb:.1} MB)", fig(&[equal_median], "ms", 2))
            },
            met: equal_median < 100.0,
            at_size: bytes >= 10_000_000,
            limit: Some("the comparison walks both whole trees (every map key is looked up in the other map)".to_owned()),
        });

        // render --check over many targets, in parallel and one at a time.
        let (targets, target_bytes) = self.sizes.render;
        let project = generate::render_project(&self.work.join("render"), targets, target_bytes)
            .map_err(|err| format!("generating the render project: {err}"))?;
        let project_arg = project.display().to_string();
        let mut render_rows = String::new();
        let mut medians = Vec::new();
        for (label, extra) in [
            ("parallel (default)", None),
            ("one at a time (`-j 1`)", Some("1")),
        ] {
            let mut walls = Vec::new();
            for rep in 0..=self.sizes.reps {
                let mut args = vec!["render", "--check", "--project", &project_arg];
                if let Some(jobs) = extra {
                    args.extend(["-j", jobs]);
                }
                let measured = self.kfp(
                    &args,
                    None,
                    &format!("render-{}-{rep}", extra.unwrap_or("default")),
                )?;
                expect_code(&measured, 0, "render --check of fresh targets")?;
                if rep > 0 {
                    walls.push(ms(measured.wall));
                }
            }
            medians.push(median(&walls));
            let _ = writeln!(render_rows, "| {label} | {} |", fig(&walls, "ms", 0));
        }
        report.section(
            "4. Rendering",
            format!(
                "Two generated workflows of {manifest_mb:.1} MB as compact JSON ({yaml_mb:.1} MB of YAML), parsed \
                 once, then `kfp_config::compare` timed in-process ({iterations} times) by the \
                 `kfp-bench compare` helper; the digest (normalise + SHA-256, what plan keeps per job) is timed \
                 alongside.\n\n| pair | compare | digest of one | parse both | helper peak RSS |\n|---|---:|---:|---:|---:|\n{rows}\n\
                 `kfp-gitops render --check` over {targets} targets whose render command copies a {} KB workflow \
                 and a parameter file (`cp -R src/. {{output}}`); the committed outputs differ only in the \
                 compile time, so every target is fresh and the check exits 0. The reference scripts render \
                 and check one pipeline after another.\n\n| mode | wall time |\n|---|---:|\n{render_rows}\n\
                 Parallel vs one at a time: {}.\n",
                target_bytes / 1000,
                ratio(medians[1], medians[0]),
            ),
        );
        Ok(())
    }

    /// Scenario 5: `validate` of many recurring runs with local sources.
    pub fn validate(&self, report: &mut Report) -> Result<(), String> {
        let runs = self.sizes.validate_runs;
        let spec = NamespaceSpec {
            runs,
            versions: 1,
            manifest_bytes: self.sizes.manifest_bytes,
            stale: false,
        };
        eprintln!("kfp-bench: scenario 5: generating inputs");
        let config = generate::config(&self.work.join("validate").join("config"), &spec)
            .map_err(|err| format!("generating the config: {err}"))?;
        let dir_arg = config.dir.display().to_string();
        let (mut walls, mut rss) = (Vec::new(), Vec::new());
        for rep in 0..=self.sizes.reps {
            let measured = self.kfp(
                &["validate", "--config", &dir_arg],
                None,
                &format!("validate-{rep}"),
            )?;
            expect_code(&measured, 0, "validate of the generated config")?;
            if rep > 0 {
                walls.push(ms(measured.wall));
                rss.extend(measured.max_rss_kib.map(|k| k as f64 / 1024.0));
            }
        }
        report.section(
            "5. Validate",
            format!(
                "`kfp-gitops validate` of {runs} recurring runs ({} experiments) whose `pipeline_source` is a \
                 local file: {} distinct pipelines of {} KB. Everything plan checks without KFP: schema, \
                 sources, workflows, parameters, cron. (The reference scripts' `--dry-run` downloads every \
                 pipeline from GitHub, so there is no offline reference figure.)\n\n\
                 | figure | value |\n|---|---:|\n| wall time | {} |\n| peak RSS | {} |\n| per recurring run | {:.2} ms |\n",
                spec.experiments(),
                spec.pipelines(),
                self.sizes.manifest_bytes / 1000,
                fig(&walls, "ms", 0),
                fig(&rss, "MiB", 1),
                median(&walls) / runs as f64,
            ),
        );
        Ok(())
    }
}
