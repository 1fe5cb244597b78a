//! Temporary mirror of `kfp_config::desired` (interfaces.md) until that module lands.
#![allow(missing_docs, dead_code)]
use jiff::Timestamp;
use kfp_config::workflow::Workflow;

#[derive(Debug, Clone)]
pub struct DesiredNamespace {
    pub namespace: String,
    pub experiments: Vec<DesiredExperiment>,
    pub recurring_runs: Vec<DesiredRecurringRun>,
}
#[derive(Debug, Clone)]
pub struct DesiredExperiment {
    pub name: String,
    pub description: Option<String>,
}
#[derive(Debug, Clone)]
pub struct DesiredRecurringRun {
    pub name: String,
    pub description: Option<String>,
    pub experiment: String,
    pub enabled: bool,
    pub max_concurrency: u8,
    pub service_account: Option<String>,
    pub keep_history: i64,
    pub trigger: DesiredTrigger,
    pub parameters: Vec<(String, String)>,
    pub workflow: Workflow,
    pub source: String,
}
#[derive(Debug, Clone)]
pub struct DesiredTrigger {
    pub catchup: bool,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub schedule: Schedule,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Cron(String),
    Interval(u64),
}
