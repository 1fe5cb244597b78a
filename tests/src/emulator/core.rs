//! The emulator's request pipeline: control routes, the UI/auth front, route matching, request counting,
//! latency, faults, then the API handlers.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::auth::{self, Identity, Sessions};
use super::config::{AuthMode, EmulatorConfig, Fault};
use super::http::{Handler, Reply, Request, Response};
use super::profile::Profile;
use super::state::State;
use super::wire::{self, ApiError};
use super::{api, control};

/// A fault with its count of matching requests so far.
#[derive(Debug, Clone)]
pub(crate) struct FaultSlot {
    pub fault: Fault,
    pub seen: u64,
}

/// Mutable control-plane state.
#[derive(Debug, Default)]
pub(crate) struct Control {
    pub counts: BTreeMap<String, u64>,
    pub total: u64,
    pub latency: Duration,
    pub faults: Vec<FaultSlot>,
    pub run_duration: Duration,
    pub clock_offset_s: i64,
    /// Jobs whose scheduled fires are skipped (see `fire.rs`).
    pub skipped_fires: std::collections::BTreeSet<String>,
    /// The profile served now (starts as the configured one; the control API can switch it, keeping the
    /// store, to play an upgrade).
    pub profile: Profile,
}

/// Shared by every connection thread.
#[derive(Debug)]
pub(crate) struct Core {
    pub config: EmulatorConfig,
    pub initial: State,
    pub state: Mutex<State>,
    pub control: Mutex<Control>,
    pub sessions: Mutex<Sessions>,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a request was routed to, for counting and dispatch.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    /// The route pattern, e.g. `/apis/v1beta1/jobs/{id}/enable`.
    pub pattern: &'static str,
    /// Path parameters in order.
    pub params: Vec<String>,
}

impl Core {
    pub fn new(config: EmulatorConfig, initial: State) -> Self {
        let control = Control {
            latency: config.latency,
            run_duration: config.run_duration,
            profile: config.profile,
            ..Control::default()
        };
        Self {
            state: Mutex::new(initial.clone()),
            initial,
            control: Mutex::new(control),
            sessions: Mutex::new(Sessions::default()),
            config,
        }
    }

    /// The profile served now.
    pub fn profile(&self) -> Profile {
        lock(&self.control).profile
    }

    /// Emulated wall clock, unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        real + lock(&self.control).clock_offset_s * 1000
    }

    /// The state with run phases brought up to date.
    pub fn state(&self) -> MutexGuard<'_, State> {
        let now = self.now_ms();
        let duration =
            i64::try_from(lock(&self.control).run_duration.as_millis()).unwrap_or(i64::MAX);
        let mut state = lock(&self.state);
        for run in &mut state.runs {
            run.advance(now, duration);
        }
        state
    }

    fn count(&self, key: String) {
        let mut control = lock(&self.control);
        control.total += 1;
        *control.counts.entry(key).or_default() += 1;
    }

    /// The fault to apply to this request, if one fires.
    fn fault_for(&self, method: &str, path: &str) -> Option<Fault> {
        let mut control = lock(&self.control);
        let mut fired = None;
        for slot in &mut control.faults {
            if !slot.fault.matches(method, path) {
                continue;
            }
            slot.seen += 1;
            let first = slot.fault.nth.max(1);
            let within = slot.seen >= first
                && (slot.fault.times == 0 || slot.seen < first + slot.fault.times);
            if within && fired.is_none() {
                fired = Some(slot.fault.clone());
            }
        }
        fired
    }

    fn fault_reply(&self, fault: &Fault) -> Reply {
        if fault.drop_connection {
            return Reply::Drop;
        }
        let code = wire::code_of_http_status(fault.status);
        // KFP2-V1BETA1.md §1 "Error body": 2.14+'s gateway writes no `error` key.
        let body = if self.profile().gateway_v2() {
            serde_json::json!({"code": code, "message": fault.message})
        } else {
            serde_json::json!({"error": fault.message, "code": code, "message": fault.message})
        };
        Reply::Response(Response::json(fault.status, &body))
    }
}

impl Handler for Core {
    fn handle(&self, request: Request) -> Reply {
        if let Some(rest) = request.path.strip_prefix("/_emulator/") {
            let rest = rest.to_owned();
            return Reply::Response(control::handle(self, &request, &rest));
        }
        let path = wire::path_unescape(&request.path);
        // The UI's proxy strips `/pipeline` from `/pipeline/apis/...`; the UI itself answers `/pipeline`.
        let (api_path, via_ui) = match path.strip_prefix("/pipeline") {
            Some(rest) if rest.starts_with("/apis/") => (rest.to_owned(), true),
            _ => (path.clone(), false),
        };
        let is_ui_page = path == "/pipeline" || (path.starts_with("/pipeline/") && !via_ui);
        let route = if api_path.starts_with("/apis/") {
            api::route(&request.method, &api_path)
        } else {
            Err(0)
        };
        let count_key = match &route {
            Ok(route) => format!("{} {}", request.method, route.pattern),
            Err(_) => format!("{} {}", request.method, api_path),
        };
        self.count(count_key);
        let latency = lock(&self.control).latency;
        if !latency.is_zero() {
            std::thread::sleep(latency);
        }

        // The login front (Dex + oauth2-proxy) guards `/pipeline`; it also serves `/dex/...` and `/oauth2/...`.
        if let AuthMode::Dex(dex) = &self.config.auth {
            if let Some(reply) = auth::dex_endpoints(self, dex, &request, &path) {
                return Reply::Response(reply);
            }
            if (via_ui || is_ui_page)
                && let Err(reply) = auth::require_session(self, dex, &request, &path)
            {
                return Reply::Response(reply);
            }
        }
        if let AuthMode::Token(tokens) = &self.config.auth
            && !self.config.multi_user
            && !auth::has_valid_token(tokens, &request)
        {
            return Reply::Response(Response::text(401, "Unauthorized"));
        }
        if is_ui_page {
            return Reply::Response(ui_page());
        }

        let fault = self.fault_for(&request.method, &api_path);
        if let Some(fault) = &fault
            && !fault.after_apply
        {
            return self.fault_reply(fault);
        }
        let response = match route {
            Ok(route) => {
                let identity = auth::identity(self, &request, via_ui);
                api::dispatch(self, &route, &request, &identity, via_ui)
            }
            // KFP2-V1BETA1.md §1 "Routing errors": gateway v2 answers JSON statuses, a wrong method as 501.
            Err(405) if self.profile().gateway_v2() => Response::json(
                501,
                &serde_json::json!({"code": 12, "message": "Method Not Allowed"}),
            ),
            Err(_) if api_path.starts_with("/apis/") && self.profile().gateway_v2() => {
                Response::json(404, &serde_json::json!({"code": 5, "message": "Not Found"}))
            }
            Err(405) => Response::text(405, "Method Not Allowed"),
            Err(_) if api_path.starts_with("/apis/") => Response::text(404, "Not Found"),
            Err(_) => Response::text(404, "404 page not found"),
        };
        match fault {
            Some(fault) => self.fault_reply(&fault),
            None => Reply::Response(response),
        }
    }
}

fn ui_page() -> Response {
    Response::new(
        200,
        "text/html; charset=utf-8",
        "<!doctype html><html><head><title>Kubeflow Pipelines</title></head>\
         <body><div id=\"root\">Kubeflow Pipelines (emulated)</div></body></html>",
    )
}

/// Turns a handler result into the gateway's answer, in the profile's error shape (KFP2-V1BETA1.md §1
/// "Error body"); gateway v2 adds `WWW-Authenticate` to a 401 (§1 "Missing/invalid identity").
pub(crate) fn respond(core: &Core, result: Result<Value, ApiError>) -> Response {
    let profile = core.profile();
    let json = |status: u16, value: &Value| {
        if profile.gateway_v2() {
            Response::new(
                status,
                "application/json",
                wire::protojson_spacing(&value.to_string()),
            )
        } else {
            Response::json(status, value)
        }
    };
    match result {
        Ok(value) => json(200, &value),
        Err(err) => {
            let status = err.http_status_for(profile);
            let response = json(status, &err.body_for(profile));
            if status == 401 && profile.gateway_v2() {
                response.with_header("WWW-Authenticate", "Bearer")
            } else {
                response
            }
        }
    }
}

/// The identity used by RBAC checks in multi-user mode.
pub(crate) fn authorize(core: &Core, identity: &Identity) -> Result<(), ApiError> {
    if !core.config.multi_user {
        return Ok(());
    }
    match identity {
        Identity::User(_) => Ok(()),
        // KFP2-V1BETA1.md §1 "Missing/invalid identity": 2.x keeps the Unauthenticated code (HTTP 401);
        // 1.8.5's aggregate error loses it (HTTP 500).
        Identity::Missing(reason) if core.profile().is_v2() => Err(ApiError {
            code: 16,
            message: format!(
                "Failed to check authorization. User identity is empty in the request header: {reason}"
            ),
            external: Some(
                "Failed to check authorization. User identity is empty in the request header"
                    .to_owned(),
            ),
        }),
        Identity::Missing(reason) => Err(ApiError::non_user(reason)),
    }
}
