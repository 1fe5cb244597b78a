//! Typed client for the Kubeflow Pipelines (KFP) v1beta1 REST API.
//!
//! This crate is the only place in kfp-gitops that knows how KFP speaks on the wire: the models mirror the
//! JSON the API server emits (snake_case names, int64 as strings, omitted defaults, RFC 3339 times), the
//! `KfpApi` trait names every call the rest of the workspace makes, and the HTTP client implements it with
//! authentication, timeouts, retries and paging.
//!
//! What it must never do: print, exit the process, or let a token, password or cookie reach a log line, an
//! error message or `Debug` output.

mod api;
mod config;
mod cookies;
mod dex;
mod error;
mod http;
pub mod models;
mod secret;
mod wire;

pub use api::{
    KfpApi, ListOptions, ListScope, MAX_PAGE_SIZE, find_experiment_by_name, for_each_page,
    list_all, list_all_experiments, list_all_jobs, list_all_pipelines, list_all_runs,
};
pub use config::{
    AuthConfig, ClientConfig, DexAuthType, DexConfig, ENV_DEX_AUTH_TYPE, ENV_DEX_PASSWORD,
    ENV_DEX_USERNAME, ENV_TOKEN, ENV_TOKEN_PATH, IN_CLUSTER_TOKEN_PATH, RetryPolicy, Timeouts,
    TlsOptions,
};
pub use error::{Error, Result, TransportKind};
pub use http::{API_PREFIX, HttpKfpClient};
pub use secret::Secret;

/// The log target under which the HTTP library dumps raw request and response bytes at TRACE level, headers
/// included (bearer tokens, session cookies). A subscriber that may enable TRACE should switch this target off
/// (the directive `ureq_proto=off`); everything this crate logs itself is free of secrets.
pub const WIRE_DUMP_LOG_TARGET: &str = "ureq_proto";
