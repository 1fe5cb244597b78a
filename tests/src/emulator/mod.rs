//! A faithful emulator of the KFP 1.8.5 v1beta1 API server (see `CONTRACT.md` of the KFP wire contract),
//! for tests, benchmarks and demos that cannot run a real Kubeflow Pipelines.
//!
//! ```no_run
//! use kfp_gitops_tests::emulator::{Emulator, EmulatorConfig};
//!
//! let emulator = Emulator::start(EmulatorConfig::multi_user()).unwrap();
//! let api = format!("{}/pipeline/apis/v1beta1", emulator.base_url());
//! # let _ = api;
//! assert_eq!(emulator.total_requests(), 0);
//! ```
//!
//! The API is served at `{base}/apis/v1beta1` (the API server itself) and at `{base}/pipeline/apis/v1beta1`
//! (through the UI proxy, as Kubeflow's gateway exposes it); `GET {base}/pipeline` answers a small HTML page.
//! Control endpoints live under `{base}/_emulator/` and have Rust twins on [`Emulator`]:
//!
//! | Endpoint | Rust |
//! |---|---|
//! | `GET /_emulator/requests` → `{"total", "counts": {"GET /apis/v1beta1/jobs": 3, ...}}` | [`Emulator::request_counts`], [`Emulator::total_requests`] |
//! | `POST /_emulator/reset-counts`, `POST /_emulator/reset` | [`Emulator::reset_counts`], [`Emulator::reset`] |
//! | `POST /_emulator/latency {"ms": 5}`, `POST /_emulator/run-duration {"ms": 500}` | [`Emulator::set_latency`], [`Emulator::set_run_duration`] |
//! | `POST /_emulator/faults {method, path, nth, times, status, message, drop_connection, after_apply}`, `GET`/`DELETE /_emulator/faults` | [`Emulator::inject_fault`], [`Emulator::clear_faults`] |
//! | `POST /_emulator/runs/{id}/finish {"status": "Failed"}` | [`Emulator::finish_run`] |
//! | `POST /_emulator/jobs/{id}/trigger` → `{"run_id"}` | [`Emulator::trigger_job`] |
//! | `POST /_emulator/clock {"advance_seconds": 60}` | [`Emulator::advance_clock`] |
//! | `POST /_emulator/clock {"advance_seconds": 60, "fire": true}` → `{"runs"}` | [`Emulator::advance_clock_firing`] |
//! | `POST`/`DELETE /_emulator/jobs/{id}/skip-fires` | [`Emulator::skip_fires`] |
//! | `POST /_emulator/sessions/expire` | [`Emulator::expire_sessions`] |
//! | `GET /_emulator/state` | [`Emulator::state`] |
//!
//! Choices where the real server depends on its database: string comparisons in filters, sorting and name
//! uniqueness are case-insensitive (MySQL's default `_ci` collations). Jobs never fire in real time (use
//! [`Emulator::trigger_job`], or [`Emulator::advance_clock_firing`] to fire cron jobs on the simulated
//! clock) and no persistence agent rewrites their `status`/`updated_at`.

mod api;
mod archive;
mod auth;
pub mod client;
mod config;
mod control;
mod core;
mod cron;
mod fire;
mod http;
mod list;
mod pipelines;
mod state;
mod wire;

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

pub use self::config::{AuthMode, DexConfig, EmulatorConfig, Fault, RunOutcome};
pub use self::cron::parse as parse_robfig_cron;

use self::core::{Core, lock};
use self::state::{AVAILABLE, Experiment, State, new_uuid};

/// A running emulator; it stops (and closes its connections) when dropped.
#[derive(Debug)]
pub struct Emulator {
    core: Arc<Core>,
    server: http::Server,
}

impl Emulator {
    /// Starts an emulator: loads the state file if configured (else creates the `Default` experiment) and
    /// listens on `config.listen`.
    pub fn start(config: EmulatorConfig) -> io::Result<Emulator> {
        let initial = match &config.state_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)?;
                serde_json::from_str::<State>(&text).map_err(|err| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: {err}", path.display()),
                    )
                })?
            }
            None => initial_state(),
        };
        let listen = config.listen;
        let core = Arc::new(Core::new(config, initial));
        let server = http::Server::start(listen, Arc::clone(&core) as Arc<dyn http::Handler>)?;
        Ok(Emulator { core, server })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The bound address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.addr()
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &EmulatorConfig {
        &self.core.config
    }

    /// Requests per route (`"POST /apis/v1beta1/jobs/{id}/enable"` → 1); the `/pipeline` prefix is stripped and
    /// control routes are not counted.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        lock(&self.core.control).counts.clone()
    }

    /// How many requests one route pattern got.
    pub fn count(&self, route: &str) -> u64 {
        lock(&self.core.control)
            .counts
            .get(route)
            .copied()
            .unwrap_or(0)
    }

    /// All counted requests.
    pub fn total_requests(&self) -> u64 {
        lock(&self.core.control).total
    }

    /// Clears the request counters.
    pub fn reset_counts(&self) {
        control::reset_counts(&self.core);
    }

    /// Puts everything back as at start: state, counters, faults, latency, clock, sessions.
    pub fn reset(&self) {
        control::reset(&self.core);
    }

    /// Sets the latency added to every counted request.
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.core.control).latency = latency;
    }

    /// Sets how long new (and unfinished) runs take to succeed.
    pub fn set_run_duration(&self, duration: Duration) {
        lock(&self.core.control).run_duration = duration;
    }

    /// Installs a fault.
    pub fn inject_fault(&self, fault: Fault) {
        control::inject_fault(&self.core, fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        lock(&self.core.control).faults.clear();
    }

    /// Ends a run with the given outcome; false when there is no such run.
    pub fn finish_run(&self, id: &str, outcome: RunOutcome) -> bool {
        control::finish_run(&self.core, id, outcome)
    }

    /// Fires a job once, as its schedule would: creates a run with the job's spec, owned by its experiment and
    /// created by the job. Returns the run id, or `None` when there is no such job.
    pub fn trigger_job(&self, id: &str) -> Option<String> {
        control::trigger_job(&self.core, id)
    }

    /// Moves the emulated clock forward (timestamps, run progress, session expiry).
    pub fn advance_clock(&self, by: Duration) {
        control::advance_clock(&self.core, i64::try_from(by.as_secs()).unwrap_or(i64::MAX));
    }

    /// Moves the emulated clock forward and fires every enabled cron job at each of its times in between
    /// (UTC), as KFP's ScheduledWorkflow controller would: runs created by the job. Returns how many.
    pub fn advance_clock_firing(&self, by: Duration) -> usize {
        fire::advance_firing(&self.core, i64::try_from(by.as_secs()).unwrap_or(i64::MAX))
    }

    /// Makes the controller skip (`true`) or resume (`false`) the scheduled fires of a job.
    pub fn skip_fires(&self, id: &str, skip: bool) {
        fire::skip_fires(&self.core, id, skip);
    }

    /// Expires every Dex login session.
    pub fn expire_sessions(&self) {
        lock(&self.core.sessions).expire_all();
    }

    /// Sends one request to the emulator (`path` may carry a query); a JSON `body` is sent with
    /// `Content-Type: application/json`.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> io::Result<client::RawResponse> {
        match body {
            Some(body) => client::send(
                self.addr(),
                method,
                path,
                &[("Content-Type", "application/json")],
                body.to_string().as_bytes(),
            ),
            None => client::send(self.addr(), method, path, &[], &[]),
        }
    }

    /// The whole state as JSON (the format a state file has).
    pub fn state(&self) -> Value {
        control::state(&self.core)
    }
}

/// A fresh server: only the `Default` experiment.
fn initial_state() -> State {
    let id = new_uuid();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    State {
        experiments: vec![Experiment {
            id: id.clone(),
            name: "Default".to_owned(),
            description: "All runs created without specifying an experiment will be grouped here."
                .to_owned(),
            created_at: now,
            namespace: String::new(),
            storage_state: AVAILABLE.to_owned(),
        }],
        default_experiment_id: id,
        ..State::default()
    }
}
