//! Emulator configuration and the fault/run-outcome types of the control API.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::profile::Profile;

/// How the emulator authenticates callers.
#[derive(Clone, Default)]
pub enum AuthMode {
    /// No authentication. In multi-user mode every request acts as a user with access to every namespace, as
    /// behind the KFP gateway that injects the identity (a `kubeflow-userid` header, if sent, names the user).
    #[default]
    None,
    /// `Authorization: Bearer <token>` with one of these tokens. In multi-user mode a missing or unknown token
    /// answers like KFP 1.8.5 does (HTTP 500 `Internal error: Unauthenticated: ...` at the authorization
    /// check); in single-user mode the emulator plays the authenticating gateway and answers 401.
    Token(BTreeSet<String>),
    /// A Dex + oauth2-proxy style login in front of `/pipeline` (CONTRACT §8.2).
    Dex(DexConfig),
}

impl fmt::Debug for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthMode::None => f.write_str("None"),
            AuthMode::Token(tokens) => write!(f, "Token(<{} redacted>)", tokens.len()),
            AuthMode::Dex(dex) => f.debug_tuple("Dex").field(dex).finish(),
        }
    }
}

/// The Dex static-password login the emulator serves.
#[derive(Clone)]
pub struct DexConfig {
    /// The static user's email (the `login` form field).
    pub username: String,
    /// Its password.
    pub password: String,
    /// Show Dex's approval screen after login (Kubeflow without `skipApprovalScreen`).
    pub approval_screen: bool,
    /// Show the connector picker (`/dex/auth` lists `local` and `ldap`) instead of going straight to `local`.
    pub connector_picker: bool,
    /// Answer unauthenticated browser requests with oauth2-proxy's 403 sign-in page (deployKF's
    /// `enableSignInPage: true`) instead of redirecting to Dex; the page leads to `/oauth2/start?rd=...`.
    pub sign_in_page: bool,
    /// The session cookie's lifetime.
    pub session_ttl: Duration,
    /// The session cookie's name (`_deploykf_token` like deployKF, `oauth2_proxy_kubeflow` like Kubeflow).
    pub cookie_name: String,
}

impl Default for DexConfig {
    fn default() -> Self {
        Self {
            username: "user@example.com".to_owned(),
            password: "12341234".to_owned(),
            approval_screen: false,
            connector_picker: false,
            sign_in_page: false,
            session_ttl: Duration::from_secs(168 * 3600),
            cookie_name: "_deploykf_token".to_owned(),
        }
    }
}

impl fmt::Debug for DexConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DexConfig")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("approval_screen", &self.approval_screen)
            .field("connector_picker", &self.connector_picker)
            .field("sign_in_page", &self.sign_in_page)
            .field("session_ttl", &self.session_ttl)
            .field("cookie_name", &self.cookie_name)
            .finish()
    }
}

/// Everything [`super::Emulator::start`] needs.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Where to listen (default `127.0.0.1:0`, an ephemeral port).
    pub listen: SocketAddr,
    /// KFP multi-user mode (`MULTIUSER=true`).
    pub multi_user: bool,
    /// Authentication.
    pub auth: AuthMode,
    /// Latency added to every counted request.
    pub latency: Duration,
    /// How long a run takes from creation to `Succeeded` (a quarter of it `Pending`, the rest `Running`).
    pub run_duration: Duration,
    /// A state file (the JSON of `GET /_emulator/state`) loaded at start and on reset.
    pub state_file: Option<PathBuf>,
    /// The API server's pod namespace: the Namespace column of jobs and runs in single-user mode.
    pub pod_namespace: String,
    /// Which KFP server to play (default 1.8.5; see [`Profile`]).
    pub profile: Profile,
    /// KFP 2.17's `BLOCK_V1_PIPELINES=true` with this `V1_ALLOWED_NAMESPACES` allow-list; `None` = blocking
    /// off (the default). Honoured by the 2.17 profile only (KFP2-V1BETA1.md §2.6 last rows, §4.1–4.2).
    pub block_v1_except: Option<BTreeSet<String>>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            multi_user: false,
            auth: AuthMode::None,
            latency: Duration::ZERO,
            run_duration: Duration::from_secs(5),
            state_file: None,
            pod_namespace: "kubeflow".to_owned(),
            profile: Profile::default(),
            block_v1_except: None,
        }
    }
}

impl EmulatorConfig {
    /// A standalone (single-user) KFP.
    pub fn single_user() -> Self {
        Self::default()
    }

    /// A multi-user KFP (Kubeflow / deployKF).
    pub fn multi_user() -> Self {
        Self {
            multi_user: true,
            ..Self::default()
        }
    }

    /// Sets the authentication mode.
    #[must_use]
    pub fn with_auth(mut self, auth: AuthMode) -> Self {
        self.auth = auth;
        self
    }

    /// Sets the profile (which KFP server to play).
    #[must_use]
    pub fn with_profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Turns on 2.17's v1 blocking: every namespace but `allowed` refuses v1 jobs and runs.
    #[must_use]
    pub fn with_v1_blocked_except<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        allowed: I,
    ) -> Self {
        self.block_v1_except = Some(allowed.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the run duration.
    #[must_use]
    pub fn with_run_duration(mut self, duration: Duration) -> Self {
        self.run_duration = duration;
        self
    }
}

/// An injected fault: the `nth` request (1-based, counted from installation) matching `method` and `path`
/// fails with `status`/`message`, or the connection is closed without an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Fault {
    /// HTTP method, or `*` for any.
    pub method: String,
    /// Path pattern without the `/pipeline` prefix; `*` matches one segment (`/apis/v1beta1/jobs/*/enable`).
    pub path: String,
    /// Which matching request fails first (1-based).
    pub nth: u64,
    /// How many consecutive matching requests fail from the `nth` on (0 = all of them).
    pub times: u64,
    /// The HTTP status to answer.
    pub status: u16,
    /// The error message in the gateway-style body.
    pub message: String,
    /// Close the connection without answering.
    pub drop_connection: bool,
    /// Perform the request's action first, then fail or drop (the ambiguous case).
    pub after_apply: bool,
}

impl Default for Fault {
    fn default() -> Self {
        Self {
            method: "*".to_owned(),
            path: String::new(),
            nth: 1,
            times: 1,
            status: 500,
            message: "injected fault".to_owned(),
            drop_connection: false,
            after_apply: false,
        }
    }
}

impl Fault {
    /// A fault failing the first request matching `method` and `path` with `status`.
    pub fn status(method: &str, path: &str, status: u16) -> Self {
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            status,
            ..Self::default()
        }
    }

    /// A fault closing the connection of the first request matching `method` and `path`.
    pub fn drop_connection(method: &str, path: &str) -> Self {
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            drop_connection: true,
            ..Self::default()
        }
    }

    /// Fails the `nth` matching request instead of the first.
    #[must_use]
    pub fn nth(mut self, nth: u64) -> Self {
        self.nth = nth;
        self
    }

    /// Applies the request before failing.
    #[must_use]
    pub fn after_apply(mut self) -> Self {
        self.after_apply = true;
        self
    }

    pub(crate) fn matches(&self, method: &str, path: &str) -> bool {
        if self.method != "*" && !self.method.eq_ignore_ascii_case(method) {
            return false;
        }
        let pattern: Vec<&str> = self.path.split('/').collect();
        let actual: Vec<&str> = path.split('/').collect();
        pattern.len() == actual.len()
            && pattern.iter().zip(&actual).all(|(p, a)| {
                *p == "*"
                    || p == a
                    // `*` also matches the id part of a custom-verb segment: `*:archive`.
                    || p.strip_prefix("*:").is_some_and(|verb| a.rsplit_once(':').is_some_and(|(_, v)| v == verb))
            })
    }
}

/// A job inserted behind the API's back ([`super::Emulator::insert_job`], `POST /_emulator/jobs`), as the UI,
/// the v2 SDK or the v2beta1 API leave them in a namespace (KFP2-V1BETA1.md §2.5 "jobs created by others").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ForeignJob {
    /// Display name.
    pub name: String,
    /// Namespace ("" = the pod namespace).
    pub namespace: String,
    /// Owning experiment ("" = the Default experiment).
    pub experiment_id: String,
    /// `pipeline_spec.workflow_manifest` ("" for a v2 job).
    pub workflow_manifest: String,
    /// `pipeline_spec.pipeline_manifest` (a v2 IR YAML, or "").
    pub pipeline_manifest: String,
    /// The `error` field.
    pub error: String,
    /// Enabled.
    pub enabled: bool,
}

/// The outcome a control call gives a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// `Succeeded`.
    Succeeded,
    /// `Failed`.
    Failed,
    /// `Error`.
    Error,
    /// `Skipped`.
    Skipped,
}

impl RunOutcome {
    /// The workflow phase name.
    pub fn phase(self) -> &'static str {
        match self {
            RunOutcome::Succeeded => "Succeeded",
            RunOutcome::Failed => "Failed",
            RunOutcome::Error => "Error",
            RunOutcome::Skipped => "Skipped",
        }
    }

    /// Parses a phase name.
    pub fn from_phase(phase: &str) -> Option<Self> {
        Some(match phase {
            "Succeeded" => RunOutcome::Succeeded,
            "Failed" => RunOutcome::Failed,
            "Error" => RunOutcome::Error,
            "Skipped" => RunOutcome::Skipped,
            _ => return None,
        })
    }
}
