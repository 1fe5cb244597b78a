//! Reconciles one namespace: load its config folder, plan against KFP, print the plan's summary, apply.
//!
//! ```sh
//! cargo run -p kfp-reconcile --example reconcile_namespace -- http://localhost:8888 team-1 schedules/team-1
//! ```
//!
//! The arguments are the KFP API URL, the namespace and its config folder (with `experiments.yaml` and
//! `recurring_runs.yaml`). Exits 1 when an action failed; a second run reports no changes.

// A program of its own, like the CLI: printing is its output.
#![allow(clippy::print_stdout)]

use kfp_client::CancelToken;
use kfp_client::{ClientConfig, HttpKfpClient};
use kfp_config::{TargetQuery, resolve_targets};
use kfp_reconcile::{Session, SessionOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let [api_url, namespace, config] = arguments()?;
    let api = HttpKfpClient::new(ClientConfig::new(api_url))?;
    let targets = resolve_targets(&TargetQuery::new(vec![config], vec![namespace]))?.targets;
    let session = Session::new(&api, SessionOptions::default());
    let plans = session.plan(&targets, jiff::Timestamp::now())?;
    for plan in &plans {
        println!("{}: {} action(s)", plan.namespace, plan.action_count());
    }
    let reports = session.apply(&plans, &CancelToken::new());
    if plans.iter().all(kfp_reconcile::Plan::is_empty) {
        println!("No changes.");
    }
    for report in &reports {
        for step in report.steps() {
            println!("{} {} {:?}", step.action, step.target, step.outcome);
        }
    }
    if reports.iter().all(kfp_reconcile::ApplyReport::is_success) {
        Ok(())
    } else {
        Err("some actions failed".into())
    }
}

fn arguments() -> Result<[String; 3], Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    args.try_into()
        .map_err(|_| "usage: reconcile_namespace API_URL NAMESPACE CONFIG_DIR".into())
}
