//! A faithful emulator of the KFP v1beta1 API server — KFP 1.8.5 (see `CONTRACT.md` of the KFP wire contract)
//! and, by [`Profile`], the KFP 2.x backends that still serve v1beta1 — for tests, benchmarks and demos that
//! cannot run a real Kubeflow Pipelines.
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
//! | `POST /_emulator/profile {"profile": "2.5"}` (keeps the store: an upgrade) | [`Emulator::set_profile`] |
//! | `POST /_emulator/jobs {name, namespace, workflow_manifest, pipeline_manifest, error, enabled}` → `{"id"}` | [`Emulator::insert_job`] |
//! | `POST /_emulator/jobs/{id}/error {"error": "..."}` | [`Emulator::set_job_error`] |
//!
//! Choices where the real server depends on its database: string comparisons in filters, sorting and name
//! uniqueness are case-insensitive (MySQL's default `_ci` collations). Jobs never fire in real time (use
//! [`Emulator::trigger_job`], or [`Emulator::advance_clock_firing`] to fire cron jobs on the simulated
//! clock) and no persistence agent rewrites their `status`/`updated_at`.
//!
//! # Profiles: KFP 2.x backends
//!
//! `EmulatorConfig::profile` (`kfp-emulator --kfp-profile 1.8.5|2.0|2.5|2.14|2.17`, default 1.8.5) picks the
//! server played. There is one store for every profile (the rows a 2.x database holds; the 1.8.5 view reads
//! the references as sent, 2.x views rebuild them from columns), so switching profiles on a running emulator
//! ([`Emulator::set_profile`]) plays an upgrade. `2.0` stands for 2.0.0–2.3.x, `2.5` for 2.4.0–2.5.0, `2.14`
//! for 2.14.0–2.16.x (with 2.15's length limits), `2.17` for 2.17.0 (KFP2-V1BETA1.md §0, §6). The differences
//! implemented, each by its row of `KFP2-V1BETA1.md` (the report beside `CONTRACT.md`), and the §5 item it
//! serves:
//!
//! | where | difference | report row | §5 |
//! |---|---|---|---|
//! | serialiser (`state.rs`) | job refs rebuilt from columns: NAMESPACE, EXPERIMENT, PIPELINE, PIPELINE_VERSION, never a `name` | §2.5 "`resource_references`" | P0-1 |
//! | serialiser | job `status` `STATUS_UNSPECIFIED`/`ENABLED`/`DISABLED` | §2.5 "`status`" | P0-7 |
//! | serialiser | an empty `trigger` omitted instead of `{}` | §2.5 "`trigger`" | P1-16 |
//! | serialiser | experiments always carry a NAMESPACE/OWNER ref (no id in single-user) | §2.2 "`resource_references` in response" | P1-11 |
//! | serialiser | run `status` `Pending` at create, `Error` → `Failed`; run refs EXPERIMENT, NAMESPACE, JOB without names | §2.8 "`status` at create", "`status` vocabulary", "Refs" | P2-17 |
//! | validator (`api.rs`) | unknown request fields → 400 (2.14+) | §1 "Unknown JSON fields" | P0-5 |
//! | validator | empty job name → 500; empty experiment name → 500; empty run name → 500 | §2.6 "Empty `name`", §2.3 "Empty `name`", §2.8 "Empty name" | P0-6 |
//! | validator | bad apiVersion/kind → 500; YAML manifests accepted | §2.6 "Bad apiVersion/kind…", "Manifest must be JSON" | P0-6 |
//! | validator | neither manifest nor pipeline → 500 | §2.6 "Neither source" | P0-6 |
//! | validator | experiment name > 128 bytes → 500 (2.14/2.17 profiles, i.e. 2.15+) | §2.3 "Name length" | P0-6 |
//! | validator | max-concurrency message (`at leas` on 2.0) | §2.6 "`max_concurrency` ∉ \[1,10\]" | P0-6 |
//! | validator | 2.17 `BLOCK_V1_PIPELINES`: v1 CreateJob/CreateRun → 400 `Namespace <ns> is not allowed to run v1 pipelines…` (`EmulatorConfig::block_v1_except`) | §2.6 last row, §4.1 | P0-8 |
//! | controller (`control.rs`) | a blocked v1 job never fires ([`Emulator::trigger_job`] → `None`) while still `enabled` | §4.2 | P0-8 |
//! | validator | single-user experiment refs ignored; multi-user: first NAMESPACE ref | §2.3 "Multi-user refs", "Single-user refs" | P1-11 |
//! | validator | multi-user job without EXPERIMENT ref: new message; unknown experiment id → 404 | §2.6 "Multi-user, no EXPERIMENT ref", "Experiment id unknown" | — |
//! | lists (`api.rs`) | single-user ListJobs/ListExperiments ignore the NAMESPACE key | §2.5 "Single-user key", §2.2 "Single-user key" | P1-9, P1-10 |
//! | lists | ListJobs by EXPERIMENT key reads the experiment column | §2.5 "EXPERIMENT key" | P1-9 |
//! | lists | job sort/filter keys `id, recurring_run_id, name, display_name, created_at, updated_at, description`; `package_id` → 400 | §2.5 "Sort/filter keys" | P1-12 |
//! | error writer (`wire.rs`, `core.rs`) | 2.0–2.5 `{error, code, message, details:[google.rpc.Status]}`, 2.14+ without `error`; internal errors' detail `Internal Server Error` | §1 "Error body (handler errors)" | P0-4 |
//! | error writer | `… not found` without the period | §1 "NotFound text" | P1-16 |
//! | error writer | 2.14+ routing errors as JSON, a wrong method → 501 | §1 "Routing errors" | — |
//! | error writer | missing identity → 401 `Failed to check authorization…` (2.x), `WWW-Authenticate` (2.14+); 1.8.5 keeps 500 `Unauthenticated` | §1 "Missing/invalid identity" | P1-13 |
//! | error writer | Canceled → 499 on 2.14+ | §1 "gRPC→HTTP map" | — |
//! | encoder (`core.rs`, `wire.rs`) | 2.14+ answers with protojson's spacing (a space after `,` and `:` outside strings) | §1 row 1, §6.2 | P0-3 |
//! | healthz (`api.rs`) | 1.8.5 text/plain string; 2.0–2.16 the same string as `application/json`; 2.17 compact JSON; `tag_name` per profile (direct and UI proxy) | §2.1 | P1-14 |
//! | fixtures (`control.rs`) | foreign jobs (empty or v2 manifests) and a job `error` ([`Emulator::insert_job`], [`Emulator::set_job_error`]) | §2.5 "jobs created by others", §6.6 | P0-2 |
//!
//! Not emulated, and why: P0-3 (manifest comparison) is the client's alone, the byte echo is the same on
//! every profile (§2.5 row 1); P1-15 (page tokens differ by version) — the emulator's tokens are opaque on
//! every profile already, and a token refused after a server restart or upgrade is played with an injected
//! 400 fault ([`Emulator::inject_fault`]); the DB spelling of `storage_state`
//! (§2.2, P1-10) — the response is the same on every profile and the client never filters on it; the
//! "legacy" pre-upgrade job rows without an experiment column (§3) — the client lists by NAMESPACE, never by
//! EXPERIMENT; the
//! persistence agent's status ticks, `pipeline_id`-wins-over-manifest, 2.5's pin-latest and pipeline upload
//! deltas (§2.6, §2.9, P2) — kfp-gitops sends raw manifests only and never uploads.

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
mod profile;
mod state;
mod wire;

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

pub use self::config::{AuthMode, DexConfig, EmulatorConfig, Fault, ForeignJob, RunOutcome};
pub use self::cron::parse as parse_robfig_cron;
pub use self::profile::{ALL_PROFILES, Profile};

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

    /// Moves the emulated clock (which starts at the real time) forward to `target`, firing nothing.
    pub fn set_clock(&self, target: jiff::Timestamp) {
        let seconds = target.as_second() - self.core.now_ms() / 1000;
        control::advance_clock(&self.core, seconds.max(0));
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

    /// The profile served now.
    pub fn profile(&self) -> Profile {
        self.core.profile()
    }

    /// Serves another profile from now on, keeping every row: an upgrade (or downgrade) of the server.
    pub fn set_profile(&self, profile: Profile) {
        lock(&self.core.control).profile = profile;
    }

    /// Inserts a job as another client would (no validation; see [`ForeignJob`]) and returns its id.
    pub fn insert_job(&self, job: ForeignJob) -> String {
        control::insert_job(&self.core, job)
    }

    /// Sets a job's `error` field; false when there is no such job.
    pub fn set_job_error(&self, id: &str, error: &str) -> bool {
        control::set_job_error(&self.core, id, error)
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
