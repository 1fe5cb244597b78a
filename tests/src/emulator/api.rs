//! The v1beta1 API: routing like grpc-gateway v1.16 (custom verbs after `:`, plain-text 404/405) and the
//! handlers with KFP 1.8.5's validation order and messages (CONTRACT §2–§7).

use serde_json::{Value, json};

use super::auth::Identity;
use super::core::{Core, Route, authorize, respond};
use super::cron;
use super::http::{Request, Response};
use super::list::{self, ListParams};
use super::pipelines;
use super::profile::Profile;
use super::state::{
    ARCHIVED, AVAILABLE, Experiment, Job, JobV2, Parameter, RELATIONSHIPS, RESOURCE_TYPES,
    Reference, Run, Spec, State, new_uuid,
};
use super::wire::{self, ApiError, Out};

mod experiments;
mod jobs;
mod messages;
mod runs;
mod source;

use messages::{EXPERIMENT_MSG, JOB_MSG, Message, RUN_MSG, unknown_field};
use source::check_parameters;

/// `(method, pattern)`; `{x}` matches one segment, `:verb` must match the last segment's verb. The single
/// path parameter of a resource is always spelled `{id}` so request counts have one key per route.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/apis/v1beta1/experiments"),
    ("POST", "/apis/v1beta1/experiments"),
    ("GET", "/apis/v1beta1/experiments/{id}"),
    ("DELETE", "/apis/v1beta1/experiments/{id}"),
    ("POST", "/apis/v1beta1/experiments/{id}:archive"),
    ("POST", "/apis/v1beta1/experiments/{id}:unarchive"),
    ("GET", "/apis/v1beta1/jobs"),
    ("POST", "/apis/v1beta1/jobs"),
    ("GET", "/apis/v1beta1/jobs/{id}"),
    ("DELETE", "/apis/v1beta1/jobs/{id}"),
    ("POST", "/apis/v1beta1/jobs/{id}/enable"),
    ("POST", "/apis/v1beta1/jobs/{id}/disable"),
    ("GET", "/apis/v1beta1/runs"),
    ("POST", "/apis/v1beta1/runs"),
    ("GET", "/apis/v1beta1/runs/{id}"),
    ("DELETE", "/apis/v1beta1/runs/{id}"),
    ("POST", "/apis/v1beta1/runs/{id}:archive"),
    ("POST", "/apis/v1beta1/runs/{id}:unarchive"),
    ("POST", "/apis/v1beta1/runs/{id}/terminate"),
    ("POST", "/apis/v1beta1/runs/{id}/retry"),
    ("POST", "/apis/v1beta1/runs/{id}:reportMetrics"),
    (
        "GET",
        "/apis/v1beta1/runs/{id}/nodes/{node_id}/artifacts/{artifact_name}:read",
    ),
    ("GET", "/apis/v1beta1/pipelines"),
    ("POST", "/apis/v1beta1/pipelines"),
    ("GET", "/apis/v1beta1/pipelines/{id}"),
    ("DELETE", "/apis/v1beta1/pipelines/{id}"),
    ("GET", "/apis/v1beta1/pipelines/{id}/templates"),
    (
        "POST",
        "/apis/v1beta1/pipelines/{id}/default_version/{version_id}",
    ),
    ("GET", "/apis/v1beta1/pipeline_versions"),
    ("POST", "/apis/v1beta1/pipeline_versions"),
    ("GET", "/apis/v1beta1/pipeline_versions/{id}"),
    ("DELETE", "/apis/v1beta1/pipeline_versions/{id}"),
    ("GET", "/apis/v1beta1/pipeline_versions/{id}/templates"),
];

/// Hand-written handlers: any method.
const ANY_METHOD: &[&str] = &[
    "/apis/v1beta1/healthz",
    "/apis/v1beta1/pipelines/upload",
    "/apis/v1beta1/pipelines/upload_version",
];

fn match_pattern(pattern: &'static str, components: &[&str], verb: &str) -> Option<Vec<String>> {
    let (pattern_path, pattern_verb) = match pattern.rsplit_once(':') {
        Some((p, v)) if !v.contains('/') => (p, v),
        _ => (pattern, ""),
    };
    if pattern_verb != verb {
        return None;
    }
    let parts: Vec<&str> = pattern_path[1..].split('/').collect();
    if parts.len() != components.len() {
        return None;
    }
    let mut params = Vec::new();
    for (part, component) in parts.iter().zip(components) {
        if part.starts_with('{') {
            if component.is_empty() {
                return None;
            }
            params.push((*component).to_owned());
        } else if part != component {
            return None;
        }
    }
    Some(params)
}

/// Routes a decoded path under `/apis/`. `Err(405)` when the path exists for another method, `Err(404)` else.
pub(crate) fn route(method: &str, path: &str) -> Result<Route, u16> {
    if let Some(pattern) = ANY_METHOD.iter().find(|p| **p == path) {
        return Ok(Route {
            pattern,
            params: Vec::new(),
        });
    }
    let mut components: Vec<&str> = path[1..].split('/').collect();
    let mut verb = "";
    let last = components.len() - 1;
    if let Some(index) = components[last].rfind(':') {
        if index == 0 {
            return Err(404);
        }
        let segment = components[last];
        components[last] = &segment[..index];
        verb = &segment[index + 1..];
    }
    let mut other_method = false;
    for (route_method, pattern) in ROUTES {
        if let Some(params) = match_pattern(pattern, &components, verb) {
            if *route_method == method {
                return Ok(Route { pattern, params });
            }
            other_method = true;
        }
    }
    Err(if other_method { 405 } else { 404 })
}

/// Runs the handler of a routed request.
pub(crate) fn dispatch(
    core: &Core,
    route: &Route,
    request: &Request,
    identity: &Identity,
    via_ui: bool,
) -> Response {
    let id = route.params.first().map_or("", String::as_str);
    let ctx = Ctx {
        core,
        identity,
        request,
    };
    let result = match route.pattern {
        "/apis/v1beta1/healthz" => return healthz(core, via_ui),
        "/apis/v1beta1/pipelines/upload" => {
            return pipelines::upload(core, request, identity, false);
        }
        "/apis/v1beta1/pipelines/upload_version" => {
            return pipelines::upload(core, request, identity, true);
        }
        "/apis/v1beta1/experiments" if request.method == "GET" => ctx.list_experiments(),
        "/apis/v1beta1/experiments" => ctx.body().and_then(|body| ctx.create_experiment(&body)),
        "/apis/v1beta1/experiments/{id}" if request.method == "GET" => ctx.get_experiment(id),
        "/apis/v1beta1/experiments/{id}" => ctx.delete_experiment(id),
        "/apis/v1beta1/experiments/{id}:archive" => ctx.archive_experiment(id, true),
        "/apis/v1beta1/experiments/{id}:unarchive" => ctx.archive_experiment(id, false),
        "/apis/v1beta1/jobs" if request.method == "GET" => ctx.list_jobs(),
        "/apis/v1beta1/jobs" => ctx.body().and_then(|body| ctx.create_job(&body)),
        "/apis/v1beta1/jobs/{id}" if request.method == "GET" => ctx.get_job(id),
        "/apis/v1beta1/jobs/{id}" => ctx.delete_job(id),
        "/apis/v1beta1/jobs/{id}/enable" => ctx.enable_job(id, true),
        "/apis/v1beta1/jobs/{id}/disable" => ctx.enable_job(id, false),
        "/apis/v1beta1/runs" if request.method == "GET" => ctx.list_runs(),
        "/apis/v1beta1/runs" => ctx.body().and_then(|body| ctx.create_run(&body)),
        "/apis/v1beta1/runs/{id}" if request.method == "GET" => ctx.get_run(id),
        "/apis/v1beta1/runs/{id}" => ctx.delete_run(id),
        "/apis/v1beta1/runs/{id}:archive" => ctx.archive_run(id, true),
        "/apis/v1beta1/runs/{id}:unarchive" => ctx.archive_run(id, false),
        "/apis/v1beta1/runs/{id}/terminate" => ctx.terminate_run(id),
        "/apis/v1beta1/runs/{id}/retry" => ctx.retry_run(id),
        "/apis/v1beta1/runs/{id}:reportMetrics" => {
            ctx.body().and_then(|body| ctx.report_metrics(id, &body))
        }
        "/apis/v1beta1/runs/{id}/nodes/{node_id}/artifacts/{artifact_name}:read" => {
            ctx.read_artifact(id)
        }
        pattern => pipelines::dispatch(&ctx, pattern, &route.params),
    };
    respond(core, result)
}

/// `GET /healthz` per profile (KFP2-V1BETA1.md §2.1): the same keys everywhere; 1.8.5 writes a hand-made
/// string without Content-Type, 2.0–2.16 the same string as `application/json`, 2.17 `json.Marshal`'s
/// compact output. Through the UI proxy the UI answers in its own shape, unchanged in 2.x.
fn healthz(core: &Core, via_ui: bool) -> Response {
    let multi = core.config.multi_user;
    let profile = core.profile();
    let tag = profile.tag_name();
    if via_ui {
        // ml-pipeline-ui answers this itself (frontend/server/handlers/healthz.ts).
        let body = json!({
            "apiServerCommitHash": "unknown", "apiServerTagName": tag, "apiServerMultiUser": multi,
            "multi_user": multi, "apiServerReady": true, "buildDate": "unknown",
            "frontendCommitHash": "unknown", "frontendTagName": tag,
        });
        return Response::new(200, "application/json; charset=utf-8", body.to_string());
    }
    let hand_made =
        format!("{{\"commit_sha\":\"unknown\", \"tag_name\":\"{tag}\", \"multi_user\":{multi}}}");
    match profile {
        // The API server writes a hand-made string and no Content-Type; Go sniffs text/plain.
        Profile::V1_8_5 => Response::new(200, "text/plain; charset=utf-8", hand_made),
        Profile::V2_17 => Response::new(
            200,
            "application/json",
            format!("{{\"commit_sha\":\"unknown\",\"tag_name\":\"{tag}\",\"multi_user\":{multi}}}"),
        ),
        _ => Response::new(200, "application/json", hand_made),
    }
}

/// One request's context.
pub(crate) struct Ctx<'a> {
    pub core: &'a Core,
    pub identity: &'a Identity,
    pub request: &'a Request,
}

/// A parsed `api.ResourceReference`.
#[derive(Debug, Clone)]
struct InRef {
    key_type: i32,
    key_id: String,
    relationship: i32,
}

fn enum_name(names: &[(&str, i32)], value: i32) -> String {
    names
        .iter()
        .find(|(_, v)| *v == value)
        .map_or_else(|| value.to_string(), |(n, _)| (*n).to_owned())
}

fn parse_refs(body: &Value) -> Result<Vec<InRef>, ApiError> {
    wire::array(body, "resource_references")?
        .iter()
        .filter(|r| !r.is_null())
        .map(|item| {
            let key = wire::object(item, "key")?.cloned().unwrap_or(Value::Null);
            Ok(InRef {
                key_type: wire::enumeration(&key, "type", "api.ResourceType", RESOURCE_TYPES)?,
                key_id: wire::string(&key, "id")?,
                relationship: wire::enumeration(
                    item,
                    "relationship",
                    "api.Relationship",
                    RELATIONSHIPS,
                )?,
            })
        })
        .collect()
}

/// Go's `%v` of `[]*api.ResourceReference` (proto text format).
fn refs_text(refs: &[InRef]) -> String {
    let items: Vec<String> = refs
        .iter()
        .map(|r| {
            format!(
                "key:<type:{} id:{} > relationship:{} ",
                enum_name(RESOURCE_TYPES, r.key_type),
                text_quote(&r.key_id),
                enum_name(RELATIONSHIPS, r.relationship)
            )
        })
        .collect();
    format!("[{}]", items.join(" "))
}

/// Go's `%+v` of an `*api.ResourceKey`: the compact proto text format, which leaves out zero-valued fields
/// and ends every field with a space.
fn key_text(key: &QueryKey) -> String {
    let mut out = String::new();
    if key.key_type != 0 {
        out.push_str(&format!(
            "type:{} ",
            enum_name(RESOURCE_TYPES, key.key_type)
        ));
    }
    if !key.id.is_empty() {
        out.push_str(&format!("id:{} ", text_quote(&key.id)));
    }
    out
}

/// A string in the proto text format: byte-wise, C escapes for `\n \r \t " \\`, octal for other
/// unprintable bytes.
fn text_quote(text: &str) -> String {
    let mut out = String::from("\"");
    for byte in text.bytes() {
        match byte {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(byte)),
            _ => out.push_str(&format!("\\{byte:03o}")),
        }
    }
    out.push('"');
    out
}

const EXPERIMENT: i32 = 1;
const JOB: i32 = 2;
const PIPELINE_VERSION: i32 = 4;
const NAMESPACE: i32 = 5;
const OWNER: i32 = 1;
const CREATOR: i32 = 2;

/// `common.ToModelResourceType`: only EXPERIMENT, JOB, PIPELINE_VERSION and NAMESPACE.
fn check_ref_type(key_type: i32) -> Result<(), ApiError> {
    if [EXPERIMENT, JOB, PIPELINE_VERSION, NAMESPACE].contains(&key_type) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "Unsupported resource type: {}",
            enum_name(RESOURCE_TYPES, key_type)
        )))
    }
}

/// The largest JSON body accepted. KFP 1.8.5 raises gRPC's receive limit to `math.MaxInt32`, which no
/// emulator should buffer; the emulator stops at the one limit CONTRACT §5 documents (32 MiB uploads) and
/// answers beyond it the way grpc-go refuses an oversized message (ResourceExhausted, real size first).
const MAX_MESSAGE: usize = 32 * 1024 * 1024;

/// A parsed `resource_reference_key` query (set as soon as either sub-field appears).
#[derive(Debug, Clone)]
struct QueryKey {
    key_type: i32,
    id: String,
}

impl Ctx<'_> {
    fn multi(&self) -> bool {
        self.core.config.multi_user
    }

    fn profile(&self) -> Profile {
        self.core.profile()
    }

    /// KFP2-V1BETA1.md §1 "Unknown JSON fields": gateway v2 (2.14+) decodes bodies with
    /// `DiscardUnknown: false` and answers 400 InvalidArgument; older gateways ignore them.
    fn check_fields(&self, body: &Value, schema: &'static Message) -> Result<(), ApiError> {
        if self.profile().gateway_v2() {
            unknown_field(body, schema).map_or(Ok(()), |name| {
                Err(ApiError::gateway(format!(
                    "proto: (line 1:2): unknown field \"{name}\""
                )))
            })
        } else {
            Ok(())
        }
    }

    /// KFP 2.17 `BLOCK_V1_PIPELINES` with `V1_ALLOWED_NAMESPACES` (KFP2-V1BETA1.md §2.6 last rows, §4.1):
    /// v1 CreateJob/CreateRun in any other namespace answer 400.
    fn check_v1_allowed(&self, namespace: &str) -> Result<(), ApiError> {
        if v1_blocked(self.core, namespace) {
            return Err(ApiError::invalid(format!(
                "Namespace {namespace} is not allowed to run v1 pipelines. Please migrate to using KFP V2 pipelines."
            )));
        }
        Ok(())
    }

    fn now(&self) -> i64 {
        self.core.now_ms() / 1000
    }

    /// The request body as JSON (empty → `{}`).
    fn body(&self) -> Result<Value, ApiError> {
        if self.request.body_too_large || self.request.body_len > MAX_MESSAGE {
            return Err(ApiError {
                code: 8,
                message: format!(
                    "grpc: received message larger than max ({} vs. {MAX_MESSAGE})",
                    self.request.body_len
                ),
                external: None,
            });
        }
        let text = String::from_utf8_lossy(&self.request.body);
        if text.trim().is_empty() {
            return Ok(json!({}));
        }
        match serde_json::from_str::<Value>(&text) {
            Ok(value @ Value::Object(_)) => Ok(value),
            Ok(Value::Null) => Ok(json!({})),
            Ok(_) => Err(ApiError::gateway(
                "json: cannot unmarshal non-object into Go value",
            )),
            Err(err) => Err(ApiError::gateway(err.to_string())),
        }
    }

    fn query(&self) -> Result<Vec<(String, String)>, ApiError> {
        wire::parse_query(&self.request.query)
    }

    /// A query parameter by proto name or JSON name (first value).
    fn param(&self, pairs: &[(String, String)], name: &str) -> Option<String> {
        let camel = name
            .split('.')
            .map(wire::camel)
            .collect::<Vec<_>>()
            .join(".");
        pairs
            .iter()
            .find(|(k, _)| *k == name || *k == camel)
            .map(|(_, v)| v.clone())
    }

    fn list_params(&self, pairs: &[(String, String)]) -> Result<ListParams, ApiError> {
        let page_size = match self.param(pairs, "page_size") {
            None => 0,
            Some(s) if s.is_empty() => 0,
            Some(s) => s.parse::<i32>().map_err(|_| {
                ApiError::gateway(format!("strconv.ParseInt: parsing \"{s}\": invalid syntax"))
            })?,
        };
        Ok(ListParams {
            page_token: self.param(pairs, "page_token").unwrap_or_default(),
            page_size: i64::from(page_size),
            sort_by: self.param(pairs, "sort_by").unwrap_or_default(),
            filter: self.param(pairs, "filter").unwrap_or_default(),
        })
    }

    fn query_key(
        &self,
        pairs: &[(String, String)],
        prefix: &str,
    ) -> Result<Option<QueryKey>, ApiError> {
        let key_type = self.param(pairs, &format!("{prefix}.type"));
        let id = self.param(pairs, &format!("{prefix}.id"));
        if key_type.is_none() && id.is_none() {
            return Ok(None);
        }
        let key_type = match key_type {
            None => 0,
            Some(t) => wire::enum_value(
                &t.parse::<i64>()
                    .map_or_else(|_| Value::String(t.clone()), Value::from),
                "api.ResourceType",
                RESOURCE_TYPES,
            )?,
        };
        Ok(Some(QueryKey {
            key_type,
            id: id.unwrap_or_default(),
        }))
    }
}

/// Whether 2.17's v1 blocking refuses `namespace` (never on other profiles).
pub(crate) fn v1_blocked(core: &Core, namespace: &str) -> bool {
    core.profile().can_block_v1()
        && core
            .config
            .block_v1_except
            .as_ref()
            .is_some_and(|allowed| !allowed.contains(namespace))
}
