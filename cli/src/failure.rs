//! The one place that turns library errors into what the user sees and into an exit code.
//!
//! Exit codes: 0 success, 1 error, 2 "changes pending" (only with `--detailed-exitcode`).
//! Every library error type gets a `From` impl here, choosing the message, the causes and a hint, in the
//! style of cargo: `error: what went wrong`, indented `caused by:` lines, then `hint: what to do`.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde::Serialize;

use crate::args::OutputFormat;
use crate::output::Context;

/// How a successful command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done, nothing further to report (exit 0).
    Ok,
    /// Done, and changes are pending; exit 2 (only used with `--detailed-exitcode`).
    ChangesPending,
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> Self {
        match status {
            Status::Ok => ExitCode::SUCCESS,
            Status::ChangesPending => ExitCode::from(2),
        }
    }
}

/// A failed command: what went wrong, why, and what to try.
#[derive(Debug, Serialize)]
pub struct Failure {
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Extra lines printed after the message (e.g. a list of validation problems), already formatted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    #[serde(skip)]
    format: OutputFormat,
    /// Ended by Ctrl-C: exit 130 like a shell.
    #[serde(skip)]
    interrupted: bool,
    /// The command already printed its JSON document (which carries the outcome), so the failure must not
    /// add a second document on stdout.
    #[serde(skip)]
    json_reported: bool,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            causes: Vec::new(),
            hint: None,
            details: Vec::new(),
            format: OutputFormat::Text,
            interrupted: false,
            json_reported: false,
        }
    }

    /// A failure of local I/O while doing `what`.
    pub fn io(what: &str, err: &dyn std::error::Error) -> Self {
        Self::from_error(format!("failed {what}"), err)
    }

    /// A failure described by `message`, with the source chain of `err` as causes.
    pub fn from_error(message: impl Into<String>, err: &dyn std::error::Error) -> Self {
        let mut failure = Self::new(message);
        let mut next: Option<&dyn std::error::Error> = Some(err);
        while let Some(cause) = next {
            failure.causes.push(cause.to_string());
            next = cause.source();
        }
        failure
    }

    #[allow(dead_code)] // used by the commands that talk to KFP and read configs
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    #[allow(dead_code)] // used by the commands that talk to KFP and read configs
    pub fn detail(mut self, line: impl Into<String>) -> Self {
        self.details.push(line.into());
        self
    }

    /// Marks the failure as already described by the JSON document the command printed, when `format`
    /// is JSON: stdout then keeps exactly one JSON document.
    pub fn json_reported_if(mut self, format: OutputFormat) -> Self {
        self.json_reported = format == OutputFormat::Json;
        self
    }

    pub fn with_output(mut self, format: OutputFormat) -> Self {
        self.format = format;
        self
    }

    /// Marks the failure as caused by Ctrl-C (exit code 130).
    pub fn interrupted(mut self) -> Self {
        self.interrupted = true;
        self
    }

    pub fn exit_code(&self) -> ExitCode {
        if self.interrupted {
            return ExitCode::from(130);
        }
        ExitCode::FAILURE
    }

    /// Prints the failure on stderr (and as JSON on stdout with `--output json`), redacted: URLs lose their
    /// credentials and every secret the process knows is masked (see [`Failure::redacted`]).
    pub fn report(&self, ctx: &Context) {
        let failure = self.redacted();
        if failure.format == OutputFormat::Json && !failure.json_reported {
            let json = serde_json::json!({ "error": failure });
            println!("{json}");
        }
        eprint!("{}", failure.render(ctx.color));
    }

    /// The failure as it may leave the process: every text through [`kfp_client::secrets::redact_text`].
    pub fn redacted(&self) -> Self {
        let redact = |text: &String| kfp_client::secrets::redact_text(text);
        Self {
            message: redact(&self.message),
            causes: self.causes.iter().map(redact).collect(),
            hint: self.hint.as_ref().map(redact),
            details: self.details.iter().map(redact).collect(),
            format: self.format,
            interrupted: self.interrupted,
            json_reported: self.json_reported,
        }
    }

    fn render(&self, color: bool) -> String {
        let (red, yellow, bold, reset) = if color {
            ("\x1b[1;31m", "\x1b[1;33m", "\x1b[1m", "\x1b[0m")
        } else {
            ("", "", "", "")
        };
        let mut out = String::new();
        let _ = writeln!(out, "{red}error{reset}{bold}: {}{reset}", self.message);
        for detail in &self.details {
            let _ = writeln!(out, "  {detail}");
        }
        // The first cause often repeats the message verbatim; show only what adds information.
        for cause in self.causes.iter().filter(|cause| **cause != self.message) {
            let _ = writeln!(out, "  caused by: {cause}");
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "{yellow}hint{reset}: {hint}");
        }
        out
    }
}

/// What to do when the render command's Python has no KFP SDK: what a user does in their own repository.
const KFP_MISSING_HINT: &str = "the Python that runs the pipeline has no KFP SDK: install it there with \
     `pip install kfp==1.8.22` (e.g. in a virtual environment), or run the render command with a Python that \
     has it (`command:` of the target in kfp-gitops.yaml, or the command after `--`, e.g. \
     `.venv/bin/python pipeline.py`)";

/// A render target's failure: the error, its causes, a hint, and the end of the command's stderr.
pub fn render_error(err: &kfp_render::RenderError) -> Failure {
    use kfp_render::RenderError;
    let mut failure = Failure::from_error(err.to_string(), err);
    let hint = match err {
        RenderError::Spawn { program, source } if source.kind() == std::io::ErrorKind::NotFound => Some(format!(
            "`{program}` was not found: install it or put it on PATH, or write its full path in the render \
             command (`command:` of the target in kfp-gitops.yaml, or after `--`), e.g. `.venv/bin/python`"
        )),
        RenderError::CommandFailed { stderr, .. } if stderr.contains("No module named 'kfp'") => {
            Some(KFP_MISSING_HINT.to_owned())
        }
        RenderError::TimedOut { .. } => Some("raise the limit with --timeout".to_owned()),
        RenderError::NoWorkflow { .. } => Some(
            "the command must write workflow.yaml (and optionally params/) into the folder given by \
             `{output}` in its arguments, also in $KFP_GITOPS_OUTPUT"
                .to_owned(),
        ),
        RenderError::MissingPipelineSpec => Some(
            "compile the pipeline with the KFP v1 SDK compiler, which records the pipeline's name and inputs in \
             that annotation: `kfp.compiler.Compiler().compile(pipeline_func, package_path)` in Python, or \
             `dsl-compile --py pipeline.py --output workflow.yaml`"
                .to_owned(),
        ),
        RenderError::DuplicateOutput { .. } => Some("give every render target its own output folder".to_owned()),
        RenderError::EmptyCommand => Some("give the command after `--`, or as `command:` of the target".to_owned()),
        _ => None,
    };
    if let Some(hint) = hint {
        failure = failure.hint(hint);
    }
    if let Some(stderr) = err.stderr().filter(|stderr| !stderr.trim().is_empty()) {
        failure = failure.detail("stderr of the render command:");
        for line in stderr.lines() {
            failure = failure.detail(format!("| {line}"));
        }
    }
    failure
}

/// A library error: its message, its chain of causes and the library's hint.
fn from_library(err: &dyn std::error::Error, hint: Option<String>) -> Failure {
    let mut failure = Failure::new(err.to_string());
    let mut next = err.source();
    while let Some(cause) = next {
        failure.causes.push(cause.to_string());
        next = cause.source();
    }
    failure.hint = hint;
    failure
}

impl From<kfp_config::TargetError> for Failure {
    fn from(err: kfp_config::TargetError) -> Self {
        from_library(&err, err.hint())
    }
}

impl From<kfp_reconcile::SavedPlanError> for Failure {
    fn from(err: kfp_reconcile::SavedPlanError) -> Self {
        match err {
            kfp_reconcile::SavedPlanError::Observe(err) => Failure::from(err),
            err => from_library(&err, err.hint().map(str::to_owned)),
        }
    }
}

/// Configuration problems are listed one per line, each with its namespace.
impl From<kfp_reconcile::SessionError> for Failure {
    fn from(err: kfp_reconcile::SessionError) -> Self {
        use kfp_reconcile::SessionError;
        let hint = err.hint().map(str::to_owned);
        match err {
            SessionError::Observe(err) => Failure::from(err),
            SessionError::Config { ref problems } => {
                let mut failure = from_library(&err, hint);
                failure.details = problems
                    .iter()
                    .map(|p| format!("[{}] {}", p.namespace, p.problem.render()))
                    .collect();
                failure
            }
            err => from_library(&err, hint),
        }
    }
}

/// A KFP API client error: the error line, the server's internal details as a cause, and what to try.
/// A failed listing of a namespace: the namespace and what was listed, then the API error's causes and hint.
impl From<kfp_reconcile::ObserveError> for Failure {
    fn from(err: kfp_reconcile::ObserveError) -> Self {
        let message = err.to_string();
        let api = Failure::from(err.into_api_error());
        let mut failure = Failure::new(message);
        failure.causes.push(api.message);
        failure.causes.extend(api.causes);
        failure.hint = api.hint;
        failure
    }
}

/// A run that could not be started: what failed, the API error's causes, the library's hint (else the
/// API error's).
impl From<kfp_reconcile::RunNowError> for Failure {
    fn from(err: kfp_reconcile::RunNowError) -> Self {
        let mut failure = Failure::new(err.to_string());
        let hint = err.hint();
        if let Some(api) = err.into_api_error() {
            let api = Failure::from(api);
            failure.causes.push(api.message);
            failure.causes.extend(api.causes);
            failure.hint = api.hint;
        }
        if hint.is_some() {
            failure.hint = hint;
        }
        failure
    }
}

impl From<kfp_client::Error> for Failure {
    fn from(err: kfp_client::Error) -> Self {
        use kfp_client::{Error, TransportKind};
        let mut failure = Failure::new(err.to_string());
        let hint: Option<String> = match &err {
            Error::Api {
                status, message, details, ..
            } => {
                if let Some(details) = details {
                    failure.causes.push(details.clone());
                }
                let identity_missing = message.contains("no user identity")
                    || message.contains("Unauthenticated")
                    || details.as_deref().is_some_and(|d| d.contains("Unauthenticated"));
                let about_namespace = |needle: &str| {
                    message.contains(needle) || details.as_deref().is_some_and(|d| d.contains(needle))
                };
                match status {
                    400 if about_namespace("single-user mode") => Some("this KFP runs in single-user mode, where namespaces do not apply: leave out --namespace (KFP_NAMESPACE)".into()),
                    400 if about_namespace("filtering by namespace") || about_namespace("Namespace is empty") || about_namespace("must filter by resource reference") => Some("this KFP runs in multi-user mode: pass --namespace (or set KFP_NAMESPACE) to your Kubeflow profile".into()),
                    404 => Some("the object does not exist (any more), or --api-url points at something else than the KFP API".into()),
                    409 => Some("an object with this name already exists".into()),
                    403 => Some("the user or ServiceAccount may not do this in the namespace: it must be an owner or contributor of the Kubeflow profile".into()),
                    500 if identity_missing => Some("KFP saw no user identity: log in with DEX_USERNAME/DEX_PASSWORD through the gateway, or send a ServiceAccount token (KFP_TOKEN or --token-file) with audience pipelines.kubeflow.org".into()),
                    502..=504 => Some("the API server or the gateway in front of it is unavailable; try again later, and check the ml-pipeline pods".into()),
                    _ => None,
                }
            }
            Error::NotAuthenticated { hint, .. } => Some(hint.clone()),
            Error::Login { .. } => Some("check DEX_USERNAME and DEX_PASSWORD, and --dex-auth-type (local for static passwords, ldap for LDAP)".into()),
            Error::Transport { kind, .. } => match kind {
                TransportKind::Connect => Some("check --api-url (KFP_API_URL) and that the API is reachable from here, e.g. `kubectl port-forward -n kubeflow svc/ml-pipeline 8888` and --api-url http://localhost:8888".into()),
                TransportKind::Timeout => Some("the API did not answer in time: raise --request-timeout or --connect-timeout, or try again later".into()),
                TransportKind::Tls if failure.message.contains("CaUsedAsEndEntity") => Some(
                    "the server presents a CA certificate as its own certificate (a self-signed certificate made \
                     with `openssl req -x509` is marked as a CA), which TLS refuses even when it is given with \
                     --ca-cert: give the server a certificate signed by a CA, or make the self-signed one with \
                     `-addext basicConstraints=critical,CA:FALSE -addext subjectAltName=DNS:HOST`; only on a \
                     test cluster use --skip-tls-verify".into(),
                ),
                TransportKind::Tls => Some("for a private CA pass --ca-cert FILE; only on a test cluster use --skip-tls-verify".into()),
                _ => None,
            },
            Error::TokenFile { .. } => Some("check --token-file (KF_PIPELINES_SA_TOKEN_PATH): it must hold a ServiceAccount token with audience pipelines.kubeflow.org".into()),
            Error::Decode { .. } => Some("is --api-url the KFP API (e.g. https://HOST/pipeline)?".into()),
            _ => None,
        };
        if let Some(source) = std::error::Error::source(&err) {
            failure.causes.push(source.to_string());
        }
        match hint {
            Some(hint) => failure.hint(hint),
            None => failure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer problem")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn renders_message_causes_and_hint_without_colour() {
        let err = Outer(std::io::Error::other("disk on fire"));
        let failure = Failure::from_error("could not save the plan", &err).hint("free some space");
        assert_eq!(
            failure.render(false),
            "error: could not save the plan\n  caused by: outer problem\n  caused by: disk on fire\nhint: free some space\n"
        );
    }

    #[test]
    fn a_python_without_kfp_gets_a_hint_about_the_users_python_not_this_projects_folders() {
        let err = kfp_render::RenderError::CommandFailed {
            status: "exit status: 1".to_owned(),
            stderr:
                "Traceback (most recent call last):\nModuleNotFoundError: No module named 'kfp'\n"
                    .to_owned(),
        };
        let hint = render_error(&err).hint.unwrap();
        assert!(hint.contains("pip install kfp==1.8.22"), "{hint}");
        assert!(
            hint.contains("command:") && hint.contains("after `--`"),
            "{hint}"
        );
        for internal in ["target/", "kfp-venv", "xtask"] {
            assert!(!hint.contains(internal), "{hint}");
        }
        let missing = kfp_render::RenderError::Spawn {
            program: "python3.9".to_owned(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let hint = render_error(&missing).hint.unwrap();
        assert!(hint.starts_with("`python3.9` was not found"), "{hint}");
        assert!(
            !hint.contains("target/") && !hint.contains("xtask"),
            "{hint}"
        );
    }

    #[test]
    fn what_is_reported_has_no_credentials_of_urls_nor_known_secrets() {
        let _ = kfp_client::secrets::Secret::new("failure-test-t0ken");
        let failure = Failure::new("cannot reach https://me@corp:pw@host/r.git?token=abc")
            .detail("the server said failure-test-t0ken")
            .hint("retry");
        let mut failure = failure;
        failure
            .causes
            .push("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig".into());
        assert_eq!(
            failure.redacted().render(false),
            "error: cannot reach https://***@host/r.git?token=***\n  the server said ***\n  caused by: \
             Authorization: Bearer ***\nhint: retry\n"
        );
    }

    #[test]
    fn a_ca_certificate_used_as_the_servers_own_gets_its_own_hint() {
        let tls = |message: &str| {
            Failure::from(kfp_client::Error::Transport {
                method: "GET".into(),
                path: "/apis/v1beta1/healthz".into(),
                kind: kfp_client::TransportKind::Tls,
                message: message.into(),
                may_have_been_sent: false,
            })
            .hint
            .unwrap()
        };
        let hint =
            tls("TLS failure: invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))");
        assert!(hint.contains("openssl req -x509"), "{hint}");
        assert!(
            hint.contains("basicConstraints=critical,CA:FALSE"),
            "{hint}"
        );
        assert!(
            tls("TLS failure: UnknownIssuer").starts_with("for a private CA pass --ca-cert FILE")
        );
    }

    #[test]
    fn exit_codes_follow_the_documented_contract() {
        assert_eq!(ExitCode::from(Status::Ok), ExitCode::SUCCESS);
        assert_eq!(ExitCode::from(Status::ChangesPending), ExitCode::from(2));
        assert_eq!(Failure::new("x").exit_code(), ExitCode::FAILURE);
    }
}
