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

    // ----- experiments -----

    fn create_experiment(&self, body: &Value) -> Result<Value, ApiError> {
        let name = wire::string(body, "name")?;
        let description = wire::string(body, "description")?;
        let refs = parse_refs(body)?;
        self.check_fields(body, &EXPERIMENT_MSG)?;
        let validate = || -> Result<String, ApiError> {
            if name.is_empty() {
                // KFP2-V1BETA1.md §2.3 "Empty `name`": 2.x wraps it in an InternalServerError (500).
                if self.profile().is_v2() {
                    return Err(ApiError::internal(
                        "Experiment must have a non-empty name",
                        "Failed to convert an experiment",
                    ));
                }
                return Err(ApiError::invalid(
                    "Experiment name is empty. Please specify a valid experiment name.",
                ));
            }
            // KFP2-V1BETA1.md §2.3 "Name length": 2.15+ (our 2.14/2.17 profiles) answers 500 beyond 128 bytes.
            if self.profile().length_limits() && name.len() > 128 {
                return Err(ApiError::internal(
                    &format!(
                        "Experiment.Name length cannot exceed 128 (got {})",
                        name.len()
                    ),
                    "Failed to convert an experiment",
                ));
            }
            if self.profile().is_v2() {
                // KFP2-V1BETA1.md §2.3 "Multi-user refs"/"Single-user refs": the first NAMESPACE ref counts
                // (any relationship), single-user refs are ignored.
                if !self.multi() {
                    return Ok(String::new());
                }
                return refs
                    .iter()
                    .find(|r| r.key_type == NAMESPACE && !r.key_id.is_empty())
                    .map(|r| r.key_id.clone())
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "An experiment cannot have an empty namespace in multi-user mode",
                        )
                    });
            }
            if self.multi() {
                let ok = refs.len() == 1
                    && refs[0].key_type == NAMESPACE
                    && refs[0].relationship == OWNER
                    && !refs[0].key_id.is_empty();
                if !ok {
                    return Err(ApiError::invalid(format!(
                        "Invalid resource references for experiment. Expect one namespace type with owner relationship. Got: {}",
                        refs_text(&refs)
                    )));
                }
                Ok(refs[0].key_id.clone())
            } else if !refs.is_empty() {
                Err(ApiError::invalid(
                    "In single-user mode, CreateExperimentRequest shouldn't contain resource references.",
                ))
            } else {
                Ok(String::new())
            }
        };
        let namespace = validate().map_err(|e| e.wrap("Validate experiment request failed."))?;
        authorize(self.core, self.identity)
            .map_err(|e| e.wrap("Failed to authorize the request."))?;
        let mut state = self.core.state();
        if state
            .experiments
            .iter()
            .any(|e| e.namespace == namespace && e.name.to_lowercase() == name.to_lowercase())
        {
            return Err(ApiError::already_exists(format!(
                "Failed to create a new experiment. The name {name} already exists. Please specify a new name."
            ))
            .wrap("Failed to create a new experiment."));
        }
        let experiment = Experiment {
            id: new_uuid(),
            name,
            description,
            created_at: self.now(),
            namespace,
            storage_state: AVAILABLE.to_owned(),
        };
        let out = experiment.to_json(self.multi(), self.profile());
        state.experiments.push(experiment);
        Ok(out)
    }

    fn find_experiment<'s>(&self, state: &'s State, id: &str) -> Result<&'s Experiment, ApiError> {
        state
            .experiments
            .iter()
            .find(|e| e.id == id)
            .ok_or_else(|| ApiError::not_found("Experiment", id))
    }

    fn get_experiment(&self, id: &str) -> Result<Value, ApiError> {
        let state = self.core.state();
        let experiment = self
            .find_experiment(&state, id)
            .map_err(|e| self.auth_wrap(e))?;
        authorize(self.core, self.identity)
            .map_err(|e| e.wrap("Failed to authorize the request."))?;
        Ok(experiment.to_json(self.multi(), self.profile()))
    }

    /// In multi-user mode the RBAC check looks the resource up first, so its errors carry that prefix.
    fn auth_wrap(&self, err: ApiError) -> ApiError {
        if self.multi() {
            err.wrap("Failed to authorize the request.")
        } else {
            err.wrap("Failed to get experiment.")
        }
    }

    fn list_experiments(&self) -> Result<Value, ApiError> {
        let pairs = self.query()?;
        let params = self.list_params(&pairs)?;
        let options = list::options::<Experiment>(&params)
            .map_err(|e| e.wrap("Failed to create list options"))?;
        let key = self.query_key(&pairs, "resource_reference_key")?;
        if let Some(key) = &key {
            check_ref_type(key.key_type).map_err(|e| e.wrap("Validating filter failed."))?;
        }
        let namespace = if self.multi() {
            let Some(key) = key.filter(|k| k.key_type == NAMESPACE) else {
                return Err(ApiError::invalid(
                    "Invalid resource references for experiment. ListExperiment requires filtering by namespace.",
                ));
            };
            if key.id.is_empty() {
                return Err(ApiError::invalid(
                    "Invalid resource references for experiment. Namespace is empty.",
                ));
            }
            authorize(self.core, self.identity)
                .map_err(|e| e.wrap("Failed to authorize the request."))?;
            key.id
        } else {
            // KFP2-V1BETA1.md §2.2 "Single-user key": 2.x ignores the namespace instead of refusing it.
            if !self.profile().is_v2()
                && key
                    .as_ref()
                    .is_some_and(|k| k.key_type == NAMESPACE && !k.id.is_empty())
            {
                return Err(ApiError::invalid(
                    "In single-user mode, ListExperiment cannot filter by namespace.",
                ));
            }
            String::new()
        };
        let state = self.core.state();
        let (page, total, next) = list::page(
            state
                .experiments
                .iter()
                .filter(|e| e.namespace == namespace),
            &options,
        );
        Ok(Out::new()
            .list(
                "experiments",
                page.iter()
                    .map(|e| e.to_json(self.multi(), self.profile()))
                    .collect(),
            )
            .i32("total_size", total as i64)
            .str("next_page_token", &next)
            .done())
    }

    fn delete_experiment(&self, id: &str) -> Result<Value, ApiError> {
        let mut state = self.core.state();
        self.find_experiment(&state, id)
            .map_err(|e| self.auth_wrap(e))?;
        authorize(self.core, self.identity)
            .map_err(|e| e.wrap("Failed to authorize the request."))?;
        state.experiments.retain(|e| e.id != id);
        if state.default_experiment_id == id {
            state.default_experiment_id.clear();
        }
        Ok(json!({}))
    }

    fn archive_experiment(&self, id: &str, archive: bool) -> Result<Value, ApiError> {
        let now = self.now();
        let mut state = self.core.state();
        if self.multi() {
            self.find_experiment(&state, id)
                .map_err(|e| self.auth_wrap(e))?;
            authorize(self.core, self.identity)
                .map_err(|e| e.wrap("Failed to authorize the request."))?;
        }
        // A missing id in single-user mode: the UPDATEs touch no rows and the call succeeds.
        let target = if archive { ARCHIVED } else { AVAILABLE };
        for experiment in state.experiments.iter_mut().filter(|e| e.id == id) {
            experiment.storage_state = target.to_owned();
        }
        if archive {
            for run in state.runs.iter_mut().filter(|r| r.experiment_id == id) {
                run.storage_state = ARCHIVED.to_owned();
            }
            for job in state
                .jobs
                .iter_mut()
                .filter(|j| j.experiment_id == id && j.enabled)
            {
                job.enabled = false;
                job.updated_at = now;
            }
        }
        Ok(json!({}))
    }

    // ----- pipeline source (jobs and runs) -----

    /// `ValidatePipelineSpecAndResourceReferences`; returns the spec with manifest/name resolved for
    /// pipeline-id sources and the parameters sent.
    fn validate_spec(&self, state: &State, body: &Value, refs: &[InRef]) -> Result<Spec, ApiError> {
        let spec = wire::object(body, "pipeline_spec")?
            .cloned()
            .unwrap_or_else(|| json!({}));
        let pipeline_id = wire::string(&spec, "pipeline_id")?;
        let workflow_manifest = wire::string(&spec, "workflow_manifest")?;
        let pipeline_manifest = wire::string(&spec, "pipeline_manifest")?;
        let version_id = refs
            .iter()
            .find(|r| r.key_type == PIPELINE_VERSION && r.relationship == CREATOR)
            .map(|r| r.key_id.clone())
            .unwrap_or_default();
        let parameters = wire::array(&spec, "parameters")?
            .iter()
            .map(|p| {
                Ok(Parameter {
                    name: wire::string(p, "name")?,
                    value: wire::string(p, "value")?,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let mut out = Spec {
            parameters,
            ..Spec::default()
        };
        if !workflow_manifest.is_empty() || !pipeline_manifest.is_empty() {
            if !workflow_manifest.is_empty() && !pipeline_manifest.is_empty() {
                return Err(ApiError::invalid(
                    "Please don't specify both workflow manifest and pipeline manifest.",
                ));
            }
            if !pipeline_id.is_empty() || !version_id.is_empty() {
                return Err(ApiError::invalid(
                    "Please don't specify a pipeline version or pipeline ID when you specify a workflow manifest or pipeline manifest.",
                ));
            }
            if !workflow_manifest.is_empty() {
                self.validate_manifest(&workflow_manifest)?;
            }
            out.workflow_manifest = workflow_manifest;
            out.pipeline_manifest = pipeline_manifest;
        } else {
            if pipeline_id.is_empty() && version_id.is_empty() {
                // KFP2-V1BETA1.md §2.6 "Neither source": 500 in all 2.x (2.0–2.4 a wrapped InvalidInput,
                // 2.5+ a plain error).
                match self.profile() {
                    Profile::V1_8_5 => {}
                    Profile::V2_0 => {
                        return Err(ApiError::internal(
                            "Invalid input error: empty pipeline spec manifest",
                            "Failed to fetch a template with an invalid pipeline spec manifest",
                        ));
                    }
                    _ => {
                        return Err(ApiError::non_user(
                            "Cannot create a job with an empty pipeline ID",
                        ));
                    }
                }
                return Err(ApiError::invalid(
                    "Please specify a pipeline by providing a (workflow manifest or pipeline manifest) or (pipeline id or/and pipeline version).",
                ));
            }
            let pipeline = if pipeline_id.is_empty() {
                None
            } else {
                Some(
                    state
                        .pipelines
                        .iter()
                        .find(|p| p.id == pipeline_id)
                        .ok_or_else(|| {
                            ApiError::not_found("Pipeline", &pipeline_id)
                                .wrap("Get pipelineId failed.")
                        })?,
                )
            };
            let version = if version_id.is_empty() {
                pipeline.and_then(|p| p.default_version())
            } else {
                let version = state
                    .pipelines
                    .iter()
                    .flat_map(|p| &p.versions)
                    .find(|v| v.id == version_id)
                    .ok_or_else(|| {
                        ApiError::not_found("PipelineVersion", &version_id)
                            .wrap("Get pipelineVersionId failed.")
                    })?;
                if !pipeline_id.is_empty() && version.pipeline_id != pipeline_id {
                    return Err(ApiError::invalid(
                        "pipeline ID should be parent of pipeline version.",
                    ));
                }
                Some(version)
            };
            let version =
                version.ok_or_else(|| ApiError::not_found("PipelineVersion", &pipeline_id))?;
            let owner = state.pipelines.iter().find(|p| p.id == version.pipeline_id);
            out.pipeline_id = owner.map(|p| p.id.clone()).unwrap_or_default();
            out.pipeline_name = owner.map(|p| p.name.clone()).unwrap_or_default();
            out.workflow_manifest = version.template.clone();
        }
        if !out.parameters.is_empty() && wire::field(&spec, "runtime_config").is_some() {
            return Err(ApiError::invalid(
                "Please don't specify both parameters and runtime config.",
            ));
        }
        let params_json = serde_json::to_string(
            &out.parameters
                .iter()
                .map(Parameter::to_json)
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default();
        if params_json.len() > 10_000 {
            return Err(ApiError::invalid(
                "The input parameter length exceed maximum size of 10000.",
            ));
        }
        Ok(out)
    }

    /// The manifest checks of the profile: 1.8.5 `json.Unmarshal` + apiVersion/kind (400); 2.x accepts YAML
    /// and wraps every template error in an InternalServerError, HTTP 500 (KFP2-V1BETA1.md §2.6 "Manifest
    /// must be JSON", "Bad apiVersion/kind, Argo lint failure").
    fn validate_manifest(&self, manifest: &str) -> Result<(), ApiError> {
        if !self.profile().is_v2() {
            return validate_workflow(manifest);
        }
        let internal = |cause: &str| {
            ApiError::internal(
                cause,
                "Failed to create a recurring run with an invalid pipeline spec manifest",
            )
        };
        let parsed = manifest_value(manifest).ok_or_else(|| {
            internal("Invalid input error: Failed to parse the workflow manifest")
        })?;
        let field = |name: &str| parsed.get(name).and_then(Value::as_str).unwrap_or("");
        if field("apiVersion") != "argoproj.io/v1alpha1" {
            return Err(internal(&format!(
                "Invalid input error: Unsupported argo version. Expected: argoproj.io/v1alpha1. Received: {}",
                field("apiVersion")
            )));
        }
        if field("kind") != "Workflow" {
            return Err(internal(&format!(
                "Invalid input error: Unexpected resource type. Expected: Workflow. Received: {}",
                field("kind")
            )));
        }
        Ok(())
    }

    /// The source's version reference to add when only `pipeline_id` was sent.
    fn version_ref(state: &State, spec: &Spec, refs: &[InRef]) -> Option<Reference> {
        if spec.pipeline_id.is_empty() || refs.iter().any(|r| r.key_type == PIPELINE_VERSION) {
            return None;
        }
        let pipeline = state.pipelines.iter().find(|p| p.id == spec.pipeline_id)?;
        let version = pipeline.default_version()?;
        Some(Reference {
            key_type: "PIPELINE_VERSION".to_owned(),
            key_id: version.id.clone(),
            name: version.name.clone(),
            relationship: "CREATOR".to_owned(),
        })
    }

    /// Multi-user: the EXPERIMENT ref must name an existing experiment with a namespace; returns its namespace.
    fn multi_user_experiment(
        &self,
        state: &State,
        refs: &[InRef],
        kind: &str,
    ) -> Result<String, ApiError> {
        let Some(experiment_id) = refs
            .iter()
            .find(|r| r.key_type == EXPERIMENT)
            .map(|r| r.key_id.clone())
        else {
            // KFP2-V1BETA1.md §2.6 "Multi-user, no EXPERIMENT ref".
            if self.profile().is_v2() {
                return Err(ApiError::invalid(
                    "Experiment id can not be empty in multi-user mode",
                ));
            }
            return Err(ApiError::invalid(format!("{kind} has no experiment.")));
        };
        let experiment = self.find_experiment(state, &experiment_id).map_err(|e| {
            e.wrap("Failed to get namespace from experiment ID.")
                .wrap("Failed to authorize the request.")
        })?;
        if experiment.namespace.is_empty() {
            return Err(ApiError::invalid(format!(
                "{kind}'s experiment has no namespace."
            )));
        }
        authorize(self.core, self.identity)
            .map_err(|e| e.wrap("Failed to authorize the request."))?;
        Ok(experiment.namespace.clone())
    }

    /// Converts the refs (types, relationships, names), adds the Default experiment when no owner experiment
    /// was given; returns (refs, experiment id).
    fn resolve_refs(
        &self,
        state: &State,
        refs: &[InRef],
        extra: Option<Reference>,
    ) -> Result<(Vec<Reference>, String), ApiError> {
        let mut out = Vec::new();
        let mut experiment_id = String::new();
        for r in refs {
            check_ref_type(r.key_type)?;
            if r.relationship != OWNER && r.relationship != CREATOR {
                return Err(ApiError::invalid("Unsupported resource relationship"));
            }
            let name = match r.key_type {
                EXPERIMENT => {
                    let experiment = state
                        .experiments
                        .iter()
                        .find(|e| e.id == r.key_id)
                        .ok_or_else(|| {
                            // KFP2-V1BETA1.md §2.6 "Experiment id unknown": 404 in both modes on 2.x.
                            if self.profile().is_v2() {
                                ApiError::not_found("Experiment", &r.key_id)
                            } else {
                                ApiError::internal(
                                    "sql: no rows in result set",
                                    "Failed to get experiment.",
                                )
                            }
                        })?;
                    if r.relationship == OWNER {
                        experiment_id = experiment.id.clone();
                    }
                    experiment.name.clone()
                }
                JOB => state
                    .jobs
                    .iter()
                    .find(|j| j.id == r.key_id)
                    .map(|j| j.name.clone())
                    .unwrap_or_default(),
                PIPELINE_VERSION => state
                    .pipelines
                    .iter()
                    .flat_map(|p| &p.versions)
                    .find(|v| v.id == r.key_id)
                    .map(|v| v.name.clone())
                    .unwrap_or_default(),
                _ => String::new(),
            };
            out.push(Reference {
                key_type: enum_name(RESOURCE_TYPES, r.key_type),
                key_id: r.key_id.clone(),
                name,
                relationship: enum_name(RELATIONSHIPS, r.relationship),
            });
        }
        out.extend(extra);
        if experiment_id.is_empty() {
            let default = state
                .experiments
                .iter()
                .find(|e| e.id == state.default_experiment_id)
                .ok_or_else(|| {
                    ApiError::internal("no default experiment", "Failed to get default experiment.")
                })?;
            experiment_id = default.id.clone();
            out.push(Reference {
                key_type: "EXPERIMENT".to_owned(),
                key_id: default.id.clone(),
                name: default.name.clone(),
                relationship: "OWNER".to_owned(),
            });
        }
        Ok((out, experiment_id))
    }

    /// The service account the workflow will run as.
    fn service_account(&self, requested: &str, manifest: &str) -> String {
        if !requested.is_empty() {
            return requested.to_owned();
        }
        let from_manifest = serde_json::from_str::<Value>(manifest)
            .ok()
            .and_then(|w| {
                w.pointer("/spec/serviceAccountName")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        if from_manifest.is_empty() || from_manifest == "pipeline-runner" {
            if self.multi() {
                "default-editor"
            } else {
                "pipeline-runner"
            }
            .to_owned()
        } else {
            from_manifest
        }
    }

    // ----- jobs -----

    fn create_job(&self, body: &Value) -> Result<Value, ApiError> {
        self.check_fields(body, &JOB_MSG)?;
        let mut state = self.core.state();
        let refs = parse_refs(body)?;
        let max_concurrency = wire::int64(body, "max_concurrency")?;
        let trigger = wire::object(body, "trigger")?.cloned();
        let cron_schedule = match &trigger {
            Some(t) => wire::object(t, "cron_schedule")?.cloned(),
            None => None,
        };
        let periodic = match &trigger {
            Some(t) => wire::object(t, "periodic_schedule")?.cloned(),
            None => None,
        };
        if cron_schedule.is_some() && periodic.is_some() {
            return Err(ApiError::gateway(
                "proto: oneof field \"trigger\" is already set (cron_schedule and periodic_schedule)",
            ));
        }
        let validate = || -> Result<Spec, ApiError> {
            // KFP2-V1BETA1.md §2.6 "Empty `name`": 2.x falls back to the pipeline name, else answers 500.
            if self.profile().is_v2() && wire::string(body, "name")?.is_empty() {
                return Err(ApiError::internal(
                    "Job name cannot be empty",
                    "Failed to convert a recurring run",
                ));
            }
            let spec = self.validate_spec(&state, body, &refs)?;
            if !(1..=10).contains(&max_concurrency) {
                // KFP2-V1BETA1.md §2.6 "`max_concurrency` ∉ [1,10]": new text, "at leas" until 2.4.0.
                return Err(ApiError::invalid(match self.profile() {
                    Profile::V1_8_5 => format!(
                        "The max concurrency of the job is out of range. Support 1-10. Received {max_concurrency}."
                    ),
                    Profile::V2_0 => format!(
                        "Max concurrency of a recurring run must be at leas 1 and at most 10. Received {max_concurrency}"
                    ),
                    _ => format!(
                        "Max concurrency of a recurring run must be at least 1 and at most 10. Received {max_concurrency}"
                    ),
                }));
            }
            if let Some(cron_schedule) = &cron_schedule {
                let expression = wire::string(cron_schedule, "cron")?;
                cron::parse(&expression).map_err(|err| {
                    ApiError::invalid(format!(
                        "Schedule cron is not a supported format(https://godoc.org/github.com/robfig/cron). Error: {err}"
                    ))
                })?;
            }
            if let Some(periodic) = &periodic {
                let interval = wire::int64(periodic, "interval_second")?;
                if interval < 1 {
                    return Err(ApiError::invalid(format!(
                        "Found invalid period schedule interval {interval}. Set at interval to least 1 second."
                    )));
                }
            }
            Ok(spec)
        };
        let spec = validate().map_err(|e| e.wrap("Validate create job request failed."))?;
        let namespace = if self.multi() {
            self.multi_user_experiment(&state, &refs, "Job")?
        } else {
            self.core.config.pod_namespace.clone()
        };
        self.check_v1_allowed(&namespace)
            .map_err(|e| e.wrap("Failed to create a recurring run"))?;
        let wrap = |e: ApiError| e.wrap("Failed to create a new job.");
        check_parameters(&spec).map_err(wrap)?;
        let extra = Self::version_ref(&state, &spec, &refs);
        let (references, experiment_id) = self.resolve_refs(&state, &refs, extra).map_err(wrap)?;
        let (start_time, end_time, cron_text, interval) = match (&cron_schedule, &periodic) {
            (Some(c), _) => (
                wire::timestamp(c, "start_time")?,
                wire::timestamp(c, "end_time")?,
                wire::string(c, "cron")?,
                0,
            ),
            (None, Some(p)) => (
                wire::timestamp(p, "start_time")?,
                wire::timestamp(p, "end_time")?,
                String::new(),
                wire::int64(p, "interval_second")?,
            ),
            (None, None) => (None, None, String::new(), 0),
        };
        let now = self.now();
        let job = Job {
            id: new_uuid(),
            name: wire::string(body, "name")?,
            description: wire::string(body, "description")?,
            service_account: self.service_account(
                &wire::string(body, "service_account")?,
                &spec.workflow_manifest,
            ),
            spec,
            references,
            max_concurrency,
            cron: cron_text,
            interval_second: interval,
            start_time,
            end_time,
            created_at: now,
            updated_at: now,
            status: "NO_STATUS".to_owned(),
            error: String::new(),
            enabled: wire::boolean(body, "enabled")?,
            no_catchup: wire::boolean(body, "no_catchup")?,
            namespace,
            experiment_id,
        };
        let out = job.to_json(self.profile());
        state.jobs.push(job);
        Ok(out)
    }

    fn find_job(&self, state: &State, id: &str) -> Result<usize, ApiError> {
        let index = state
            .jobs
            .iter()
            .position(|j| j.id == id)
            .ok_or_else(|| ApiError::not_found("Job", id));
        if self.multi() {
            let index = index.map_err(|e| e.wrap("Failed to authorize the request."))?;
            authorize(self.core, self.identity)
                .map_err(|e| e.wrap("Failed to authorize the request."))?;
            Ok(index)
        } else {
            index
        }
    }

    fn get_job(&self, id: &str) -> Result<Value, ApiError> {
        let state = self.core.state();
        let index = self.find_job(&state, id)?;
        Ok(state.jobs[index].to_json(self.profile()))
    }

    fn delete_job(&self, id: &str) -> Result<Value, ApiError> {
        let mut state = self.core.state();
        let index = self
            .find_job(&state, id)
            .map_err(|e| e.wrap("Failed to delete a job."))?;
        state.jobs.remove(index);
        Ok(json!({}))
    }

    fn enable_job(&self, id: &str, enabled: bool) -> Result<Value, ApiError> {
        let now = self.now();
        let mut state = self.core.state();
        let what = if enabled {
            "Failed to enable a job."
        } else {
            "Failed to disable a job."
        };
        let index = self.find_job(&state, id).map_err(|e| e.wrap(what))?;
        let job = &mut state.jobs[index];
        // `UPDATE ... WHERE Enabled = !enabled`: idempotent, and a no-op keeps updated_at.
        if job.enabled != enabled {
            job.enabled = enabled;
            job.updated_at = now;
        }
        Ok(json!({}))
    }

    /// `ListJobs`/`ListRuns` resource-key validation (job_server.go, run_server.go). `kind` is `Jobs` or `Runs`.
    fn list_scope(
        &self,
        state: &State,
        pairs: &[(String, String)],
        kind: &str,
    ) -> Result<Option<QueryKey>, ApiError> {
        let key = self.query_key(pairs, "resource_reference_key")?;
        if let Some(key) = &key {
            check_ref_type(key.key_type).map_err(|e| e.wrap("Validating filter failed."))?;
        }
        if self.multi() {
            let Some(key) = &key else {
                return Err(ApiError::invalid(format!(
                    "List{kind} must filter by resource reference in multi-user mode."
                )));
            };
            match key.key_type {
                NAMESPACE if key.id.is_empty() => {
                    return Err(ApiError::invalid(format!(
                        "Invalid resource references for List{kind}. Namespace is empty."
                    )));
                }
                NAMESPACE => {}
                EXPERIMENT => {
                    let (singular, wrap) = if kind == "Jobs" {
                        ("job", "Failed to get namespace for job's experiment.")
                    } else {
                        ("run", "Run's experiment has no namespace.")
                    };
                    if key.id.is_empty() {
                        return Err(ApiError::invalid(format!(
                            "Invalid resource references for {singular}. Experiment ID is empty."
                        )));
                    }
                    self.find_experiment(state, &key.id).map_err(|e| {
                        e.wrap("Failed to get namespace from experiment ID.")
                            .wrap(wrap)
                    })?;
                }
                _ => {
                    return Err(ApiError::invalid(format!(
                        "Invalid resource references for List{kind}. Got {}",
                        key_text(key)
                    )));
                }
            }
            authorize(self.core, self.identity)
                .map_err(|e| e.wrap("Failed to authorize the request."))?;
        }
        Ok(key)
    }

    fn list_jobs(&self) -> Result<Value, ApiError> {
        let pairs = self.query()?;
        let params = self.list_params(&pairs)?;
        let profile = self.profile();
        let state = self.core.state();
        let key = self.list_scope(&state, &pairs, "Jobs")?;
        let in_scope = |job: &&Job| match &key {
            None => true,
            // KFP2-V1BETA1.md §2.5 "Single-user key": 2.x ignores the namespace in single-user mode.
            Some(k) if k.key_type == NAMESPACE && profile.is_v2() && !self.multi() => true,
            Some(k) if k.key_type == NAMESPACE => job.namespace == k.id,
            // KFP2-V1BETA1.md §2.5 "EXPERIMENT key": 2.x filters on the experiment column.
            Some(k) if k.key_type == EXPERIMENT && profile.is_v2() => job.experiment_id == k.id,
            Some(k) => {
                let type_name = enum_name(RESOURCE_TYPES, k.key_type);
                job.references
                    .iter()
                    .any(|r| r.key_type == type_name && r.key_id == k.id)
            }
        };
        let (page, total, next): (Vec<&Job>, usize, String) = if profile.is_v2() {
            // KFP2-V1BETA1.md §2.5 "Sort/filter keys": 2.x's keys, `package_id` refused.
            let options = list::options::<JobV2<'_>>(&params)
                .map_err(|e| e.wrap("Failed to create list options"))?;
            let rows: Vec<JobV2<'_>> = state.jobs.iter().filter(in_scope).map(JobV2).collect();
            let (page, total, next) = list::page(&rows, &options);
            (page.into_iter().map(|j| j.0).collect(), total, next)
        } else {
            let options = list::options::<Job>(&params)
                .map_err(|e| e.wrap("Failed to create list options"))?;
            list::page(state.jobs.iter().filter(in_scope), &options)
        };
        Ok(Out::new()
            .list("jobs", page.iter().map(|j| j.to_json(profile)).collect())
            .i32("total_size", total as i64)
            .str("next_page_token", &next)
            .done())
    }

    // ----- runs -----

    fn create_run(&self, body: &Value) -> Result<Value, ApiError> {
        self.check_fields(body, &RUN_MSG)?;
        let mut state = self.core.state();
        let refs = parse_refs(body)?;
        let name = wire::string(body, "name")?;
        let validate = || -> Result<Spec, ApiError> {
            // KFP2-V1BETA1.md §2.8 "Empty name": 500 on 2.x (no pipeline_name to fall back to here).
            if name.is_empty() && self.profile().is_v2() {
                return Err(ApiError::internal(
                    "Run name cannot be empty",
                    "Failed to convert a run",
                ));
            }
            if name.is_empty() {
                return Err(ApiError::invalid(
                    "The run name is empty. Please specify a valid name.",
                ));
            }
            self.validate_spec(&state, body, &refs)
        };
        let spec = validate().map_err(|e| e.wrap("Validate create run request failed."))?;
        let namespace = if self.multi() {
            self.multi_user_experiment(&state, &refs, "Run")?
        } else {
            self.core.config.pod_namespace.clone()
        };
        self.check_v1_allowed(&namespace)
            .map_err(|e| e.wrap("Failed to create a run"))?;
        let wrap = |e: ApiError| e.wrap("Failed to create a new run.");
        check_parameters(&spec).map_err(wrap)?;
        let extra = Self::version_ref(&state, &spec, &refs);
        let (references, experiment_id) = self.resolve_refs(&state, &refs, extra).map_err(wrap)?;
        let now_ms = self.core.now_ms();
        let run = Run {
            id: new_uuid(),
            name,
            description: wire::string(body, "description")?,
            storage_state: AVAILABLE.to_owned(),
            service_account: self.service_account(
                &wire::string(body, "service_account")?,
                &spec.workflow_manifest,
            ),
            spec,
            references,
            created_at: now_ms / 1000,
            scheduled_at: now_ms / 1000,
            finished_at: 0,
            // The persistence agent has not reported the workflow yet.
            status: String::new(),
            error: String::new(),
            namespace,
            experiment_id,
            metrics: Vec::new(),
            phase_started_ms: now_ms,
            settled: false,
        };
        let out = run.detail_json(self.profile());
        state.runs.push(run);
        Ok(out)
    }

    fn find_run(&self, state: &State, id: &str) -> Result<usize, ApiError> {
        let index = state
            .runs
            .iter()
            .position(|r| r.id == id)
            .ok_or_else(|| ApiError::not_found("Run", id));
        if self.multi() {
            let index = index.map_err(|e| e.wrap("Failed to authorize the request."))?;
            authorize(self.core, self.identity)
                .map_err(|e| e.wrap("Failed to authorize the request."))?;
            Ok(index)
        } else {
            index
        }
    }

    fn get_run(&self, id: &str) -> Result<Value, ApiError> {
        let state = self.core.state();
        let index = self
            .find_run(&state, id)
            .map_err(|e| e.wrap("Failed to get a run."))?;
        Ok(state.runs[index].detail_json(self.profile()))
    }

    fn delete_run(&self, id: &str) -> Result<Value, ApiError> {
        let mut state = self.core.state();
        let index = self
            .find_run(&state, id)
            .map_err(|e| e.wrap("Failed to delete a run."))?;
        state.runs.remove(index);
        Ok(json!({}))
    }

    fn archive_run(&self, id: &str, archive: bool) -> Result<Value, ApiError> {
        let mut state = self.core.state();
        let what = if archive {
            "Failed to archive a run."
        } else {
            "Failed to unarchive a run."
        };
        let index = self.find_run(&state, id).map_err(|e| e.wrap(what))?;
        state.runs[index].storage_state = if archive { ARCHIVED } else { AVAILABLE }.to_owned();
        Ok(json!({}))
    }

    fn terminate_run(&self, id: &str) -> Result<Value, ApiError> {
        let now_ms = self.core.now_ms();
        let mut state = self.core.state();
        let index = self
            .find_run(&state, id)
            .map_err(|e| e.wrap("Failed to terminate a run."))?;
        let run = &mut state.runs[index];
        if !["Running", "Pending", ""].contains(&run.status.as_str()) {
            return Err(
                ApiError::invalid(format!("Failed to terminate run {id}. Row not found."))
                    .wrap("Failed to terminate a run."),
            );
        }
        run.status = "Terminating".to_owned();
        run.phase_started_ms = now_ms;
        Ok(json!({}))
    }

    fn retry_run(&self, id: &str) -> Result<Value, ApiError> {
        let now_ms = self.core.now_ms();
        let mut state = self.core.state();
        let index = self
            .find_run(&state, id)
            .map_err(|e| e.wrap("Retry run failed."))?;
        let run = &mut state.runs[index];
        if run.status != "Failed" && run.status != "Error" {
            return Err(ApiError::bad_request(
                "workflow cannot be retried",
                "Workflow must be Failed/Error to retry",
            )
            .wrap("Retry run failed."));
        }
        run.status = "Pending".to_owned();
        run.finished_at = 0;
        run.phase_started_ms = now_ms;
        run.settled = false;
        Ok(json!({}))
    }

    fn report_metrics(&self, id: &str, body: &Value) -> Result<Value, ApiError> {
        let mut state = self.core.state();
        let index = self
            .find_run(&state, id)
            .map_err(|e| e.wrap("Failed to report run metrics."))?;
        let mut results = Vec::new();
        for metric in wire::array(body, "metrics")? {
            let name = wire::string(metric, "name")?;
            let node_id = wire::string(metric, "node_id")?;
            let value = wire::field(metric, "number_value")
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            let run = &mut state.runs[index];
            run.metrics
                .retain(|m| m.get("name").and_then(Value::as_str) != Some(name.as_str()));
            let mut stored = Out::new()
                .str("name", &name)
                .str("node_id", &node_id)
                .done();
            if value != 0.0 {
                stored["number_value"] = json!(value);
            }
            if let Some(format) = wire::field(metric, "format")
                .and_then(Value::as_str)
                .filter(|f| *f != "UNSPECIFIED")
            {
                stored["format"] = json!(format);
            }
            run.metrics.push(stored);
            results.push(json!({"metric_name": name, "metric_node_id": node_id, "status": "OK"}));
        }
        Ok(Out::new().list("results", results).done())
    }

    fn read_artifact(&self, id: &str) -> Result<Value, ApiError> {
        let state = self.core.state();
        self.find_run(&state, id)
            .map_err(|e| e.wrap("failed to read artifact"))?;
        Err(ApiError::not_found("artifact", id).wrap("failed to read artifact"))
    }

    fn list_runs(&self) -> Result<Value, ApiError> {
        let pairs = self.query()?;
        let params = self.list_params(&pairs)?;
        let options =
            list::options::<Run>(&params).map_err(|e| e.wrap("Failed to create list options"))?;
        let state = self.core.state();
        let key = self.list_scope(&state, &pairs, "Runs")?;
        let in_scope = |run: &&Run| match &key {
            None => true,
            Some(k) if k.key_type == NAMESPACE => run.namespace == k.id,
            Some(k) if k.key_type == EXPERIMENT => run.experiment_id == k.id,
            Some(k) => {
                let type_name = enum_name(RESOURCE_TYPES, k.key_type);
                run.references
                    .iter()
                    .any(|r| r.key_type == type_name && r.key_id == k.id)
            }
        };
        let (page, total, next) = list::page(state.runs.iter().filter(in_scope), &options);
        Ok(Out::new()
            .list(
                "runs",
                page.iter().map(|r| r.to_json(self.profile())).collect(),
            )
            .i32("total_size", total as i64)
            .str("next_page_token", &next)
            .done())
    }
}

/// Go `json.Unmarshal` of the manifest into an Argo Workflow, then the apiVersion/kind checks.
fn validate_workflow(manifest: &str) -> Result<(), ApiError> {
    let parsed: Value = serde_json::from_str(manifest).map_err(|err| ApiError {
        code: 3,
        message: format!(
            "Invalid input error: Invalid argo workflow format. Workflow: {manifest}: {}",
            go_json_error(manifest, &err)
        ),
        external: Some(format!(
            "Invalid argo workflow format. Workflow: {manifest}"
        )),
    })?;
    if !(parsed.is_object() || parsed.is_null()) {
        return Err(ApiError {
            code: 3,
            message: format!(
                "Invalid input error: Invalid argo workflow format. Workflow: {manifest}: json: cannot unmarshal {} into Go value of type util.Workflow",
                if parsed.is_array() { "array" } else { "value" }
            ),
            external: Some(format!(
                "Invalid argo workflow format. Workflow: {manifest}"
            )),
        });
    }
    let api_version = parsed
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if api_version != "argoproj.io/v1alpha1" {
        return Err(ApiError::invalid(format!(
            "Unsupported argo version. Expected: argoproj.io/v1alpha1. Received: {api_version}"
        )));
    }
    let kind = parsed.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind != "Workflow" {
        return Err(ApiError::invalid(format!(
            "Unexpected resource type. Expected: Workflow. Received: {kind}"
        )));
    }
    Ok(())
}

/// Roughly Go `encoding/json`'s wording for a syntax error.
fn go_json_error(text: &str, err: &serde_json::Error) -> String {
    if err.is_eof() {
        return "unexpected end of JSON input".to_owned();
    }
    let offending = text
        .lines()
        .nth(err.line().saturating_sub(1))
        .and_then(|line| line.chars().nth(err.column().saturating_sub(1)))
        .unwrap_or(' ');
    if err.line() == 1 && err.column() <= 1 {
        format!("invalid character '{offending}' looking for beginning of value")
    } else {
        format!("invalid character '{offending}' ({err})")
    }
}

/// Every parameter sent must be declared in the manifest's `spec.arguments.parameters`.
fn check_parameters(spec: &Spec) -> Result<(), ApiError> {
    if spec.workflow_manifest.is_empty() {
        return Ok(());
    }
    let workflow = manifest_value(&spec.workflow_manifest).unwrap_or(Value::Null);
    let declared: Vec<&str> = workflow
        .pointer("/spec/arguments/parameters")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|p| p.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    for parameter in &spec.parameters {
        if !declared.contains(&parameter.name.as_str()) {
            return Err(ApiError::invalid(format!(
                "Unrecognized input parameter: {}",
                parameter.name
            )));
        }
    }
    Ok(())
}

/// A manifest as JSON, or as YAML (which KFP 2.x accepts and echoes, KFP2-V1BETA1.md §2.5 "YAML manifests").
fn manifest_value(manifest: &str) -> Option<Value> {
    serde_json::from_str::<Value>(manifest)
        .ok()
        .or_else(|| serde_saphyr::from_str::<Value>(manifest).ok())
        .filter(Value::is_object)
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

/// The fields of a v1beta1 proto message, for 2.14+'s unknown-field check: `(proto name, sub-message)`.
pub(crate) struct Message(&'static [(&'static str, Option<&'static Message>)]);

static KEY_MSG: Message = Message(&[("type", None), ("id", None)]);
static REF_MSG: Message = Message(&[
    ("key", Some(&KEY_MSG)),
    ("name", None),
    ("relationship", None),
]);
static PARAMETER_MSG: Message = Message(&[("name", None), ("value", None)]);
static RUNTIME_CONFIG_MSG: Message = Message(&[("parameters", None), ("pipeline_root", None)]);
static SPEC_MSG: Message = Message(&[
    ("pipeline_id", None),
    ("pipeline_name", None),
    ("workflow_manifest", None),
    ("pipeline_manifest", None),
    ("parameters", Some(&PARAMETER_MSG)),
    ("runtime_config", Some(&RUNTIME_CONFIG_MSG)),
]);
static CRON_MSG: Message = Message(&[("start_time", None), ("end_time", None), ("cron", None)]);
static PERIODIC_MSG: Message = Message(&[
    ("start_time", None),
    ("end_time", None),
    ("interval_second", None),
]);
static TRIGGER_MSG: Message = Message(&[
    ("cron_schedule", Some(&CRON_MSG)),
    ("periodic_schedule", Some(&PERIODIC_MSG)),
]);
/// `api.Job`.
pub(crate) static JOB_MSG: Message = Message(&[
    ("id", None),
    ("name", None),
    ("description", None),
    ("pipeline_spec", Some(&SPEC_MSG)),
    ("resource_references", Some(&REF_MSG)),
    ("service_account", None),
    ("max_concurrency", None),
    ("trigger", Some(&TRIGGER_MSG)),
    ("mode", None),
    ("created_at", None),
    ("updated_at", None),
    ("status", None),
    ("error", None),
    ("enabled", None),
    ("no_catchup", None),
]);
/// `api.Experiment`.
pub(crate) static EXPERIMENT_MSG: Message = Message(&[
    ("id", None),
    ("name", None),
    ("description", None),
    ("created_at", None),
    ("resource_references", Some(&REF_MSG)),
    ("storage_state", None),
]);
/// `api.Run`.
pub(crate) static RUN_MSG: Message = Message(&[
    ("id", None),
    ("name", None),
    ("storage_state", None),
    ("description", None),
    ("pipeline_spec", Some(&SPEC_MSG)),
    ("resource_references", Some(&REF_MSG)),
    ("service_account", None),
    ("created_at", None),
    ("scheduled_at", None),
    ("finished_at", None),
    ("status", None),
    ("error", None),
    ("metrics", None),
]);

/// The first field of `value` (recursively) that `schema` does not know, by proto or JSON name.
fn unknown_field(value: &Value, schema: &Message) -> Option<String> {
    let object = value.as_object()?;
    for (name, item) in object {
        let Some((_, sub)) = schema
            .0
            .iter()
            .find(|(proto, _)| *proto == name || wire::camel(proto) == *name)
        else {
            return Some(name.clone());
        };
        if let Some(sub) = sub {
            let items: Vec<&Value> = match item {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            if let Some(found) = items.into_iter().find_map(|i| unknown_field(i, sub)) {
                return Some(found);
            }
        }
    }
    None
}
