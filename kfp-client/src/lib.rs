//! Typed client for the Kubeflow Pipelines (KFP) v1beta1 REST API.
//!
//! This crate is the only place in kfp-gitops that knows how KFP speaks on the wire:
//!
//! * [`models`] mirror the JSON the API server emits: snake_case names, int64 as strings (numbers accepted),
//!   omitted defaults, RFC 3339 times, enums by name or number, unknown fields ignored.
//! * [`KfpApi`] names every call (experiments, jobs, runs, pipelines, healthz); it is object safe so that code
//!   can take `&dyn KfpApi` and tests can substitute a fake.
//! * [`HttpKfpClient`] implements it over HTTP: `{api_url}/apis/v1beta1/...`, filters encoded so that they
//!   survive the server's second URL-decoding, typed [`Error`]s that keep the server's message, no redirects
//!   followed (a login page is [`Error::NotAuthenticated`]), timeouts, and retries with backoff and jitter
//!   for idempotent calls only ([`Error::is_ambiguous`] tells when a create may have been applied anyway).
//! * Authentication ([`AuthConfig`]): none, a bearer token, a token file re-read before every call (the
//!   in-cluster ServiceAccount token is used when present and nothing else is configured), or a Dex login
//!   behind oauth2-proxy/oidc-authservice with one re-login when the session expires. `kubeflow-userid` is
//!   never sent.
//! * [`list_all`] and friends walk every page of a listing (200 items per page); [`for_each_job`] walks the
//!   jobs listing one decoded job at a time ([`KfpApi::list_jobs_each`]; the HTTP client decodes the answer
//!   as it arrives), so a page of large manifests is never held at once.
//!
//! * KFP 2.x backends serving v1beta1 (2.0 … 2.17) are handled like 1.8.5: errors are keyed on the HTTP
//!   status and read from every body shape ([`classify`]), a 401 or 1.8.5's 500 `Unauthenticated` triggers
//!   the one re-login, 2.17's per-namespace v1 refusal is [`Error::V1PipelinesBlocked`], only v1beta1 proto
//!   fields are sent, and [`precheck`] refuses locally what 2.x would answer with a 500.
//!
//! What it never does: print, exit the process, or let a token, password or cookie reach a log line, an
//! error message or `Debug` output (see [`Secret`] and [`WIRE_DUMP_LOG_TARGET`]).
//!
//! ```no_run
//! use kfp_client::models::{Experiment, ResourceReference};
//! use kfp_client::{AuthConfig, ClientConfig, DexAuthType, DexConfig, HttpKfpClient, KfpApi, Secret};
//! use kfp_client::{ListScope, find_experiment_by_name, list_all_jobs};
//!
//! # fn main() -> Result<(), kfp_client::Error> {
//! let auth = AuthConfig::Dex(DexConfig {
//!     username: "user@example.com".into(),
//!     password: Secret::new(std::env::var("DEX_PASSWORD").unwrap_or_default()),
//!     auth_type: DexAuthType::Local,
//! });
//! let client = HttpKfpClient::new(ClientConfig::new("https://kubeflow.example.com/pipeline").with_auth(auth))?;
//!
//! let experiment = match find_experiment_by_name(&client, Some("team-1"), "nightly")? {
//!     Some(experiment) => experiment,
//!     None => client.create_experiment(&Experiment {
//!         name: "nightly".into(),
//!         resource_references: vec![ResourceReference::namespace_owner("team-1")],
//!         ..Experiment::default()
//!     })?,
//! };
//! for job in list_all_jobs(&client, &ListScope::Experiment(experiment.id.clone()))? {
//!     println!("{} enabled={} max_concurrency={}", job.name, job.enabled, job.max_concurrency);
//! }
//! # Ok(())
//! # }
//! ```

mod api;
mod cancel;
pub mod classify;
mod config;
mod cookies;
mod dex;
mod error;
mod http;
pub mod models;
pub mod precheck;
pub mod secrets;
mod stream;
mod transport;
mod wire;

pub use api::{
    API_PREFIX, JobsEvent, KfpApi, ListItem, ListOptions, ListScope, MAX_PAGE_SIZE, PAGE_RETRIES,
    PageInfo, find_experiment_by_name, for_each_job, for_each_page, list_all, list_all_experiments,
    list_all_jobs, list_all_pipelines, list_all_runs,
};
pub use cancel::CancelToken;
pub use config::{
    AuthConfig, ClientConfig, DexAuthType, DexConfig, ENV_DEX_AUTH_TYPE, ENV_DEX_PASSWORD,
    ENV_DEX_USERNAME, ENV_TOKEN, ENV_TOKEN_PATH, IN_CLUSTER_TOKEN_PATH, RetryPolicy, Timeouts,
    TlsOptions,
};
pub use error::{Error, Result, TransportKind};
pub use http::HttpKfpClient;
pub use secrets::Secret;

/// The log target of warnings about weakened security (`--skip-tls-verify`): a subscriber should show them at
/// every log level (the directive `kfp_gitops::security=warn`).
pub const SECURITY_WARNING_LOG_TARGET: &str = "kfp_gitops::security";

/// The log target under which the HTTP library dumps raw request and response bytes at TRACE level, headers
/// included (bearer tokens, session cookies). A subscriber that may enable TRACE should switch this target off
/// (the directive `ureq_proto=off`); everything this crate logs itself is free of secrets.
pub const WIRE_DUMP_LOG_TARGET: &str = "ureq_proto";
