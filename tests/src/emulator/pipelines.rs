//! Pipelines and pipeline versions: the hand-written multipart upload handlers (with their own error format,
//! CONTRACT §6) and the gateway routes.

use serde_json::{Map, Value, json};

use super::api::Ctx;
use super::archive;
use super::auth::Identity;
use super::config::AuthMode;
use super::core::{Core, authorize};
use super::http::{Request, Response};
use super::list;
use super::state::{Parameter, Pipeline, Version, new_uuid};
use super::wire::{self, ApiError, Out};

const MAX_FILE: usize = 32 * 1024 * 1024;

/// The upload handlers' error: Go `encoding/json` of `api.Error`, no Content-Type (sniffed as text).
fn upload_error(status: u16, chain: &str) -> Response {
    let body = json!({"error_message": chain, "error_details": chain});
    Response::new(status, "text/plain; charset=utf-8", body.to_string())
}

struct Part {
    filename: String,
    data: Vec<u8>,
}

fn find_part(request: &Request, field: &str) -> Result<Part, String> {
    let content_type = request.header("content-type").unwrap_or("");
    let lower = content_type.to_ascii_lowercase();
    if !lower.starts_with("multipart/form-data") {
        return Err("request Content-Type isn't multipart/form-data".to_owned());
    }
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim_matches('"').to_owned())
        .ok_or_else(|| "no multipart boundary param in Content-Type".to_owned())?;
    let delimiter = format!("--{boundary}").into_bytes();
    let body = &request.body;
    let mut positions = Vec::new();
    let mut start = 0;
    while let Some(found) = find_bytes(&body[start..], &delimiter) {
        positions.push(start + found);
        start += found + delimiter.len();
    }
    for window in positions.windows(2) {
        let part = &body[window[0] + delimiter.len()..window[1]];
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let Some(head_end) = find_bytes(part, b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..head_end]);
        let mut data = &part[head_end + 4..];
        data = data.strip_suffix(b"\r\n").unwrap_or(data);
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .unwrap_or("");
        let param = |name: &str| {
            disposition
                .split(';')
                .filter_map(|p| p.trim().split_once('='))
                .find_map(|(k, v)| {
                    (k.trim().eq_ignore_ascii_case(name))
                        .then(|| v.trim().trim_matches('"').to_owned())
                })
        };
        if param("name").as_deref() == Some(field) {
            return Ok(Part {
                filename: param("filename").unwrap_or_default(),
                data: data.to_vec(),
            });
        }
    }
    Err("http: no such file".to_owned())
}

fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Parses an uploaded pipeline package into the stored template (Go `json.Marshal` of the Argo Workflow:
/// `kind` and `apiVersion` first, `metadata.creationTimestamp: null`, sorted label/annotation maps, an empty
/// `status`) and its parameters.
fn read_package(filename: &str, data: &[u8]) -> Result<(String, Vec<Parameter>), (u16, String)> {
    if data.len() > MAX_FILE {
        return Err((
            400,
            format!(
                "Error read pipeline file.: Invalid input error: File size too large. Maximum supported size: {MAX_FILE}"
            ),
        ));
    }
    let lower = filename.to_lowercase();
    let is_text = lower.ends_with(".yaml") || lower.ends_with(".yml") || lower.ends_with(".json");
    let unpacked;
    let data = if is_text {
        data
    } else if let Some(kind) = archive::detect(data) {
        unpacked = archive::extract(kind, data)
            .map_err(|chain| (400, format!("Error read pipeline file.: {chain}")))?;
        unpacked.as_slice()
    } else {
        return Err((
            400,
            "Error read pipeline file.: Invalid input error: Unexpected pipeline file format. Support .zip, .tar.gz or YAML."
                .to_owned(),
        ));
    };
    let text = String::from_utf8_lossy(data);
    // sigs.k8s.io/yaml converts scalars into the Argo struct's field types, so `{name: n}` keeps the string
    // "n": only `true`/`false` are booleans here.
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    let workflow: Value = serde_saphyr::from_str_with_options(&text, options).map_err(|err| {
        (400, format!("Error read pipeline file.: Invalid input error: Failed to parse the pipeline YAML: {err}"))
    })?;
    let api_version = workflow
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = workflow.get("kind").and_then(Value::as_str).unwrap_or("");
    if api_version != "argoproj.io/v1alpha1" || kind != "Workflow" {
        return Err((
            400,
            format!(
                "Error creating pipeline: Invalid input error: Unsupported argo version. Expected: argoproj.io/v1alpha1. Received: {api_version}"
            ),
        ));
    }
    let parameters = workflow
        .pointer("/spec/arguments/parameters")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|p| Parameter {
                    name: p
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    value: match p.get("value") {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Null) | None => String::new(),
                        Some(other) => other.to_string(),
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    Ok((go_marshal_workflow(&workflow).to_string(), parameters))
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), map[k].clone()))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

fn go_marshal_workflow(workflow: &Value) -> Value {
    let empty = Map::new();
    let source = workflow.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    out.insert("kind".to_owned(), json!("Workflow"));
    out.insert("apiVersion".to_owned(), json!("argoproj.io/v1alpha1"));
    let metadata = source
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut meta_out = Map::new();
    for key in [
        "name",
        "generateName",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
    ] {
        if let Some(v) = metadata.get(key) {
            meta_out.insert(key.to_owned(), v.clone());
        }
    }
    meta_out.insert("creationTimestamp".to_owned(), Value::Null);
    for key in ["labels", "annotations"] {
        if let Some(v) = metadata.get(key) {
            meta_out.insert(key.to_owned(), sorted(v));
        }
    }
    for (key, value) in &metadata {
        if !meta_out.contains_key(key) {
            meta_out.insert(key.clone(), value.clone());
        }
    }
    out.insert("metadata".to_owned(), Value::Object(meta_out));
    out.insert(
        "spec".to_owned(),
        source.get("spec").cloned().unwrap_or_else(|| json!({})),
    );
    out.insert(
        "status".to_owned(),
        json!({"startedAt": null, "finishedAt": null}),
    );
    Value::Object(out)
}

/// `POST /apis/v1beta1/pipelines/upload[_version]` (any method).
pub(crate) fn upload(
    core: &Core,
    request: &Request,
    identity: &Identity,
    version: bool,
) -> Response {
    if request.body_too_large {
        return upload_error(
            400,
            &format!(
                "Error read pipeline file.: Invalid input error: File size too large. Maximum supported size: {MAX_FILE}"
            ),
        );
    }
    let part = match find_part(request, "uploadfile") {
        Ok(part) => part,
        Err(err) => return upload_error(400, &format!("Failed to read pipeline from file: {err}")),
    };
    let (template, parameters) = match read_package(&part.filename, &part.data) {
        Ok(parsed) => parsed,
        Err((status, chain)) => return upload_error(status, &chain),
    };
    let pairs = wire::parse_query(&request.query).unwrap_or_default();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let namespace = get("namespace");
    // Upload authorizes only when a namespace is given, and then from the raw userid header alone (which
    // the gateway injects in `none` and Dex modes), never from a bearer token.
    let header_identity = match &core.config.auth {
        AuthMode::Token(_) => request.header_all("kubeflow-userid").len() == 1,
        _ => true,
    };
    if !namespace.is_empty()
        && core.config.multi_user
        && (!header_identity || authorize(core, identity).is_err())
    {
        return upload_error(
            400,
            "Failed to authorize with API resource references: Unauthenticated: Request header error: there is no user identity header.",
        );
    }
    // The handler unescapes name and description once more.
    let name = match wire::query_unescape(&get("name")) {
        Ok(name) if name.is_empty() => part.filename.clone(),
        Ok(name) => name,
        Err(err) => {
            return upload_error(
                400,
                &format!(
                    "Invalid pipeline name.: Invalid input error: Pipeline name in the query string has invalid format.: {err}"
                ),
            );
        }
    };
    if name.chars().count() > 100 {
        return upload_error(
            400,
            "Invalid pipeline name.: Invalid input error: Pipeline name too long. Support maximum length of 100",
        );
    }
    let description = match wire::query_unescape(&get("description")) {
        Ok(d) => d,
        Err(err) => return upload_error(400, &format!("Error read pipeline description.: {err}")),
    };
    let now = core.now_ms() / 1000;
    let mut state = core.state();
    if version {
        let pipeline_id = get("pipelineid");
        let Some(pipeline) = state.pipelines.iter_mut().find(|p| p.id == pipeline_id) else {
            return upload_error(
                500,
                &format!(
                    "Error creating pipeline version: ResourceNotFoundError: Pipeline {pipeline_id} not found."
                ),
            );
        };
        if pipeline
            .versions
            .iter()
            .any(|v| v.name.to_lowercase() == name.to_lowercase())
        {
            return upload_error(
                500,
                &format!(
                    "Error creating pipeline version: Already exist error: Failed to create a new pipeline version. The name {name} already exist. Please specify a new name."
                ),
            );
        }
        let version = Version {
            id: new_uuid(),
            name,
            description,
            created_at: now,
            parameters,
            template,
            pipeline_id: pipeline.id.clone(),
        };
        let out = version.to_json();
        pipeline.default_version_id = version.id.clone();
        pipeline.versions.push(version);
        return Response::json(200, &out);
    }
    if state
        .pipelines
        .iter()
        .any(|p| p.namespace == namespace && p.name.to_lowercase() == name.to_lowercase())
    {
        return upload_error(
            500,
            &format!(
                "Error creating pipeline: Already exist error: Failed to create a new pipeline. The name {name} already exist. Please specify a new name."
            ),
        );
    }
    let id = new_uuid();
    let pipeline = Pipeline {
        id: id.clone(),
        name: name.clone(),
        description: description.clone(),
        created_at: now,
        namespace,
        default_version_id: id.clone(),
        versions: vec![Version {
            id: id.clone(),
            name,
            description,
            created_at: now,
            parameters,
            template,
            pipeline_id: id,
        }],
    };
    let out = pipeline.to_json();
    state.pipelines.push(pipeline);
    Response::json(200, &out)
}

/// The gateway routes of pipelines and pipeline versions.
pub(crate) fn dispatch(ctx: &Ctx<'_>, pattern: &str, params: &[String]) -> Result<Value, ApiError> {
    let id = params.first().map_or("", String::as_str);
    let method = ctx.request.method.as_str();
    match pattern {
        "/apis/v1beta1/pipelines" if method == "GET" => list_pipelines(ctx),
        "/apis/v1beta1/pipeline_versions" if method == "GET" => list_versions(ctx),
        "/apis/v1beta1/pipelines" | "/apis/v1beta1/pipeline_versions" => {
            Err(ApiError::invalid("Failed to download the pipeline from the URL: the emulator does not fetch URLs; upload the file instead.")
                .wrap("Failed to create a pipeline."))
        }
        "/apis/v1beta1/pipelines/{id}" if method == "GET" => {
            let state = ctx.core.state();
            find(&state.pipelines, id).map(Pipeline::to_json).map_err(|e| e.wrap("Get pipeline failed."))
        }
        "/apis/v1beta1/pipelines/{id}" => {
            let mut state = ctx.core.state();
            find(&state.pipelines, id).map_err(|e| e.wrap("Delete pipeline failed."))?;
            state.pipelines.retain(|p| p.id != id);
            Ok(json!({}))
        }
        "/apis/v1beta1/pipelines/{id}/templates" => {
            let state = ctx.core.state();
            let pipeline = find(&state.pipelines, id).map_err(|e| e.wrap("Get pipeline template failed."))?;
            let template = pipeline.default_version().map(|v| v.template.clone()).unwrap_or_default();
            Ok(Out::new().str("template", &template).done())
        }
        "/apis/v1beta1/pipelines/{id}/default_version/{version_id}" => {
            let version_id = params.get(1).map_or("", String::as_str);
            let mut state = ctx.core.state();
            let pipeline = state
                .pipelines
                .iter_mut()
                .find(|p| p.id == id)
                .ok_or_else(|| ApiError::not_found("Pipeline", id))?;
            if !pipeline.versions.iter().any(|v| v.id == version_id) {
                return Err(ApiError::not_found("Version", version_id));
            }
            pipeline.default_version_id = version_id.to_owned();
            Ok(json!({}))
        }
        "/apis/v1beta1/pipeline_versions/{id}" if method == "GET" => {
            let state = ctx.core.state();
            find_version(&state.pipelines, id).map(Version::to_json)
        }
        "/apis/v1beta1/pipeline_versions/{id}" => {
            let mut state = ctx.core.state();
            find_version(&state.pipelines, id)?;
            for pipeline in &mut state.pipelines {
                pipeline.versions.retain(|v| v.id != id);
                if pipeline.default_version_id == id {
                    pipeline.default_version_id = pipeline.versions.last().map(|v| v.id.clone()).unwrap_or_default();
                }
            }
            Ok(json!({}))
        }
        "/apis/v1beta1/pipeline_versions/{id}/templates" => {
            let state = ctx.core.state();
            let version = find_version(&state.pipelines, id)?;
            Ok(Out::new().str("template", &version.template).done())
        }
        _ => Err(ApiError { code: 12, message: "Not Implemented".to_owned(), external: None }),
    }
}

fn find<'a>(pipelines: &'a [Pipeline], id: &str) -> Result<&'a Pipeline, ApiError> {
    pipelines
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(|| ApiError::not_found("Pipeline", id))
}

fn find_version<'a>(pipelines: &'a [Pipeline], id: &str) -> Result<&'a Version, ApiError> {
    pipelines
        .iter()
        .flat_map(|p| &p.versions)
        .find(|v| v.id == id)
        .ok_or_else(|| ApiError::not_found("PipelineVersion", id))
}

fn list_pipelines(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let pairs = wire::parse_query(&ctx.request.query)?;
    let get = |name: &str| {
        let camel = name
            .split('.')
            .map(wire::camel)
            .collect::<Vec<_>>()
            .join(".");
        pairs
            .iter()
            .find(|(k, _)| *k == name || *k == camel)
            .map(|(_, v)| v.clone())
    };
    let params = list_params(&get)?;
    let options =
        list::options::<Pipeline>(&params).map_err(|e| e.wrap("Failed to create list options"))?;
    let key_type = get("resource_reference_key.type");
    let key_id = get("resource_reference_key.id").unwrap_or_default();
    if let Some(t) = &key_type
        && t != "NAMESPACE"
        && t != "5"
    {
        return Err(ApiError::invalid(format!(
            "Invalid resource reference key type: {t}. Only namespace is supported for pipelines."
        )));
    }
    if !key_id.is_empty() {
        authorize(ctx.core, ctx.identity)
            .map_err(|e| e.wrap("Failed to authorize the request."))?;
    }
    let state = ctx.core.state();
    let (page, total, next) = list::page(
        state.pipelines.iter().filter(|p| p.namespace == key_id),
        &options,
    );
    Ok(Out::new()
        .list("pipelines", page.iter().map(|p| p.to_json()).collect())
        .i32("total_size", total as i64)
        .str("next_page_token", &next)
        .done())
}

fn list_params(get: &dyn Fn(&str) -> Option<String>) -> Result<list::ListParams, ApiError> {
    let size = get("page_size").unwrap_or_default();
    let page_size = if size.is_empty() {
        0
    } else {
        size.parse::<i32>().map_err(|_| {
            ApiError::gateway(format!(
                "strconv.ParseInt: parsing \"{size}\": invalid syntax"
            ))
        })?
    };
    Ok(list::ListParams {
        page_token: get("page_token").unwrap_or_default(),
        page_size: i64::from(page_size),
        sort_by: get("sort_by").unwrap_or_default(),
        filter: get("filter").unwrap_or_default(),
    })
}

fn list_versions(ctx: &Ctx<'_>) -> Result<Value, ApiError> {
    let pairs = wire::parse_query(&ctx.request.query)?;
    let get = |name: &str| {
        let camel = name
            .split('.')
            .map(wire::camel)
            .collect::<Vec<_>>()
            .join(".");
        pairs
            .iter()
            .find(|(k, _)| *k == name || *k == camel)
            .map(|(_, v)| v.clone())
    };
    let params = list_params(&get)?;
    let options =
        list::options::<Version>(&params).map_err(|e| e.wrap("Failed to create list options"))?;
    // `resource_key` is set as soon as either sub-field appears; an absent key is an error.
    let Some(pipeline_id) =
        get("resource_key.id").or_else(|| get("resource_key.type").map(|_| String::new()))
    else {
        return Err(ApiError::invalid("ResourceKey must be set in the input")
            .wrap("Failed to list pipeline versions"));
    };
    let state = ctx.core.state();
    let versions: Vec<&Version> = state
        .pipelines
        .iter()
        .flat_map(|p| &p.versions)
        .filter(|v| v.pipeline_id == pipeline_id)
        .collect();
    let (page, total, next) = list::page(versions, &options);
    Ok(Out::new()
        .list("versions", page.iter().map(|v| v.to_json()).collect())
        .str("next_page_token", &next)
        .i32("total_size", total as i64)
        .done())
}
