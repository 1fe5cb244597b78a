//! `kfp-gitops ping`: does the API answer, does authentication work, is the namespace accessible?

use clap::Args;
use kfp_client::{Error, HttpKfpClient, KfpApi, ListOptions};
use serde::Serialize;

use crate::args::OutputFormat;
use crate::failure::{Failure, Status};
use crate::kfp_args::KfpArgs;
use crate::output::Context;

/// Check the connection to KFP: the API answers, authentication works, and the namespace is accessible (its
/// experiments can be listed). Says which of the three failed and what to try.
#[derive(Debug, Args)]
pub struct PingArgs {
    #[command(flatten)]
    pub kfp: KfpArgs,
}

/// One of the three checks.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    /// `None` = not reached because an earlier check failed.
    pub ok: Option<bool>,
    pub detail: String,
}

#[derive(Debug, Default)]
struct Report {
    checks: Vec<Check>,
    failure: Option<Failure>,
}

impl Report {
    fn pass(&mut self, name: &'static str, detail: impl Into<String>) {
        self.checks.push(Check {
            name,
            ok: Some(true),
            detail: detail.into(),
        });
    }

    /// Records a failed check and skips the rest.
    fn fail(&mut self, name: &'static str, failure: Failure) {
        self.checks.push(Check {
            name,
            ok: Some(false),
            detail: failure.message.clone(),
        });
        for rest in CHECKS.iter().skip(self.checks.len()) {
            self.checks.push(Check {
                name: rest,
                ok: None,
                detail: "not checked".into(),
            });
        }
        self.failure = Some(failure);
    }
}

const API: &str = "api";
const AUTH: &str = "auth";
const NAMESPACE: &str = "namespace";
const CHECKS: [&str; 3] = [API, AUTH, NAMESPACE];

/// Which check an error from a call belongs to.
fn blame(err: &Error) -> &'static str {
    match err {
        Error::NotAuthenticated { .. } | Error::Login { .. } | Error::TokenFile { .. } => AUTH,
        Error::Api { status: 401, .. } => AUTH,
        Error::Api {
            status: 500,
            message,
            details,
            ..
        } if message.contains("Unauthenticated")
            || message.contains("user identity")
            || details
                .as_deref()
                .is_some_and(|d| d.contains("Unauthenticated")) =>
        {
            AUTH
        }
        Error::Api {
            status: 403 | 400, ..
        } => NAMESPACE,
        _ => API,
    }
}

fn checks(client: &HttpKfpClient, namespace: Option<&str>) -> Report {
    let mut report = Report::default();
    let api_url = client.api_url().to_owned();

    // 1. The API answers.
    let health = match client.healthz() {
        Ok(health) => Some(health),
        // The gateway sent us to the login, and the login failed: the API is there, the credentials are not.
        Err(err @ Error::Login { .. }) => {
            report.pass(API, format!("{api_url} answers (behind a login)"));
            report.fail(AUTH, Failure::from(err));
            return report;
        }
        // Behind a gateway even healthz needs a session: the API answered, so judge the login next.
        Err(err) if blame(&err) == AUTH => None,
        Err(err) => {
            let failure = Failure::from(err);
            report.fail(
                API,
                Failure::new(format!("the KFP API at {api_url} does not answer"))
                    .with_cause_of(failure),
            );
            return report;
        }
    };
    let multi_user = health
        .as_ref()
        .and_then(kfp_client::models::Healthz::is_multi_user);
    match &health {
        Some(health) if !health.api_server_ready() => {
            report.fail(
                API,
                Failure::new(format!(
                    "the KFP UI at {api_url} answers, but its API server does not"
                ))
                .hint("check the ml-pipeline pods and service in the kubeflow namespace"),
            );
            return report;
        }
        Some(health) => {
            let version = health.server_version().unwrap_or("unknown version");
            let mode = match multi_user {
                Some(true) => ", multi-user",
                Some(false) => ", single-user",
                None => "",
            };
            report.pass(API, format!("{api_url} answers (KFP {version}{mode})"));
        }
        None => report.pass(API, format!("{api_url} answers (behind a login)")),
    }

    // 2. Authentication works: log in (Dex) now so that a login problem is reported as such.
    if let Err(err) = client.login() {
        report.fail(AUTH, Failure::from(err));
        return report;
    }

    // 3. The namespace is accessible; listing it also proves that KFP accepted our identity.
    if namespace.is_none() && multi_user == Some(true) {
        report.pass(AUTH, client.auth_description());
        report.fail(
            NAMESPACE,
            Failure::new("no namespace given, and this KFP runs in multi-user mode")
                .hint("pass --namespace (or set KFP_NAMESPACE) to the Kubeflow profile to check"),
        );
        return report;
    }
    let options = ListOptions::namespace(namespace.unwrap_or_default()).with_page_size(1);
    match client.list_experiments(&options) {
        Ok(page) => {
            report.pass(AUTH, client.auth_description());
            let place = namespace.map_or_else(
                || "single-user mode".to_owned(),
                |ns| format!("namespace {ns}"),
            );
            report.pass(
                NAMESPACE,
                format!("{place}: {} experiment(s)", page.total_size),
            );
        }
        Err(err) => {
            let step = blame(&err);
            let failure = Failure::from(err);
            if step == NAMESPACE || step == API {
                report.pass(AUTH, client.auth_description());
                let who = namespace.unwrap_or("(single-user)");
                let failure =
                    Failure::new(format!("cannot list the experiments of namespace {who}"))
                        .with_cause_of(failure);
                report.fail(NAMESPACE, failure);
            } else {
                report.fail(AUTH, failure);
            }
        }
    }
    report
}

trait WithCause {
    fn with_cause_of(self, inner: Failure) -> Failure;
}

impl WithCause for Failure {
    /// Keeps `inner`'s message as a cause and its hint, under a message saying which check failed.
    fn with_cause_of(self, inner: Failure) -> Failure {
        let mut outer = self;
        outer.causes.push(inner.message);
        outer.causes.extend(inner.causes);
        if outer.hint.is_none() {
            outer.hint = inner.hint;
        }
        outer
    }
}

pub fn run(args: &PingArgs, ctx: &Context) -> Result<Status, Failure> {
    let namespace = ctx.global.single_namespace()?;
    let client = args.kfp.client(&ctx.global)?;
    let report = checks(&client, namespace);
    match ctx.format {
        OutputFormat::Text => {
            for check in &report.checks {
                let mark = match check.ok {
                    Some(true) => "ok     ",
                    Some(false) => "FAILED ",
                    None => "skipped",
                };
                println!("{mark} {:<9} {}", check.name, check.detail);
            }
        }
        OutputFormat::Json if report.failure.is_none() => {
            println!(
                "{}",
                serde_json::json!({ "ok": true, "checks": report.checks })
            );
        }
        // The failure is printed as the one JSON document, with the checks as its details.
        OutputFormat::Json => {}
    }
    match report.failure {
        None => Ok(Status::Ok),
        Some(failure) if ctx.format == OutputFormat::Json => {
            Err(report.checks.iter().fold(failure, |failure, check| {
                let state = match check.ok {
                    Some(true) => "ok",
                    Some(false) => "failed",
                    None => "skipped",
                };
                failure.detail(format!("{}: {state}: {}", check.name, check.detail))
            }))
        }
        Some(failure) => Err(failure),
    }
}
