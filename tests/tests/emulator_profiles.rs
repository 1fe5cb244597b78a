//! The emulator's KFP 2.x profiles (`--kfp-profile`): each difference of KFP2-V1BETA1.md it implements, as a
//! table over the profiles.

use std::collections::BTreeSet;

use kfp_gitops_tests::emulator::{
    ALL_PROFILES, AuthMode, Emulator, EmulatorConfig, ForeignJob, Profile, client,
};
use serde_json::{Value, json};

const API: &str = "/apis/v1beta1";

const MANIFEST: &str = r#"{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "hello-"}, "spec": {"entrypoint": "hello", "arguments": {"parameters": [{"name": "msg", "value": "hi"}]}, "templates": [{"name": "hello", "container": {"image": "alpine:3.18"}}]}}"#;

fn start(profile: Profile, multi_user: bool) -> Emulator {
    let config = if multi_user {
        EmulatorConfig::multi_user()
    } else {
        EmulatorConfig::single_user()
    };
    Emulator::start(config.with_profile(profile)).expect("emulator starts")
}

#[allow(clippy::needless_pass_by_value)] // the tables read better with owned bodies
fn call(emulator: &Emulator, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let response = emulator.request(method, path, body.as_ref()).unwrap();
    let status = response.status;
    let text = response.text();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn experiment(emulator: &Emulator, name: &str, namespace: Option<&str>) -> String {
    let refs: Vec<Value> = namespace
        .map(|ns| json!({"key": {"type": "NAMESPACE", "id": ns}, "relationship": "OWNER"}))
        .into_iter()
        .collect();
    let (status, body) = call(
        emulator,
        "POST",
        &format!("{API}/experiments"),
        Some(json!({"name": name, "resource_references": refs})),
    );
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

fn job(experiment_id: &str, name: &str) -> Value {
    json!({
        "name": name,
        "pipeline_spec": {"workflow_manifest": MANIFEST, "parameters": [{"name": "msg", "value": "x"}]},
        "resource_references": [{"key": {"type": "EXPERIMENT", "id": experiment_id}, "relationship": "OWNER"}],
        "max_concurrency": 1,
        "trigger": {"cron_schedule": {"cron": "0 0 * * * *"}},
        "enabled": true
    })
}

#[test]
fn job_answers_follow_the_profile_refs_status_and_trigger() {
    for &profile in ALL_PROFILES {
        let emulator = start(profile, true);
        let experiment_id = experiment(&emulator, "e", Some("team"));
        let mut body = job(&experiment_id, "j");
        body.as_object_mut().unwrap().remove("trigger");
        let (status, created) = call(&emulator, "POST", &format!("{API}/jobs"), Some(body));
        assert_eq!(status, 200, "{profile}: {created}");
        let refs = created["resource_references"].clone();
        if profile.is_v2() {
            // KFP2-V1BETA1.md §2.5: rebuilt NAMESPACE then EXPERIMENT, no names; STATUS_UNSPECIFIED; no trigger.
            assert_eq!(
                refs,
                json!([{"key": {"type": "NAMESPACE", "id": "team"}, "relationship": "OWNER"},
                       {"key": {"type": "EXPERIMENT", "id": experiment_id}, "relationship": "OWNER"}]),
                "{profile}"
            );
            assert_eq!(created["status"], "STATUS_UNSPECIFIED", "{profile}");
            assert!(created.get("trigger").is_none(), "{profile}: {created}");
        } else {
            assert_eq!(
                refs,
                json!([{"key": {"type": "EXPERIMENT", "id": experiment_id}, "name": "e", "relationship": "OWNER"}])
            );
            assert_eq!(created["status"], "NO_STATUS");
            assert_eq!(created["trigger"], json!({}));
        }
        assert_eq!(created["enabled"], true, "{profile}");
        assert_eq!(
            created["pipeline_spec"]["workflow_manifest"], MANIFEST,
            "{profile}: the manifest is echoed byte for byte"
        );
    }
}

#[test]
fn experiments_carry_a_namespace_ref_on_2x_even_in_single_user_mode() {
    for &profile in ALL_PROFILES {
        let emulator = start(profile, false);
        let (status, created) = call(
            &emulator,
            "POST",
            &format!("{API}/experiments"),
            Some(json!({"name": "e"})),
        );
        assert_eq!(status, 200, "{profile}: {created}");
        let expected = if profile.is_v2() {
            json!([{"key": {"type": "NAMESPACE"}, "relationship": "OWNER"}])
        } else {
            Value::Null
        };
        assert_eq!(created["resource_references"], expected, "{profile}");
        // §2.3 "Single-user refs": 1.8.5 refuses a NAMESPACE ref in single-user mode, 2.x ignores it.
        let (status, _) = call(
            &emulator,
            "POST",
            &format!("{API}/experiments"),
            Some(
                json!({"name": "f", "resource_references": [{"key": {"type": "NAMESPACE", "id": "x"}, "relationship": "OWNER"}]}),
            ),
        );
        assert_eq!(status, if profile.is_v2() { 200 } else { 400 }, "{profile}");
    }
}

#[test]
fn error_bodies_have_the_profile_shape() {
    for &profile in ALL_PROFILES {
        let emulator = start(profile, false);
        let (status, body) = call(&emulator, "GET", &format!("{API}/jobs/nope"), None);
        assert_eq!(status, 404, "{profile}");
        let detail = &body["details"][0];
        match profile {
            Profile::V1_8_5 => {
                assert_eq!(detail["@type"], "type.googleapis.com/api.Error");
                assert_eq!(detail["error_message"], "Job nope not found.");
                assert!(body["error"].is_string());
            }
            _ => {
                assert_eq!(detail["@type"], "type.googleapis.com/google.rpc.Status");
                assert_eq!(detail["message"], "Job nope not found", "{profile}");
                assert_eq!(
                    body["error"].is_string(),
                    !profile.gateway_v2(),
                    "{profile}"
                );
            }
        }
        assert_eq!(body["code"], 5, "{profile}");
    }
}

#[test]
fn the_calls_2x_answers_with_500_and_the_ones_it_refuses_with_400() {
    for &profile in ALL_PROFILES {
        let emulator = start(profile, false);
        let default_id = emulator.state()["default_experiment_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let post = |path: &str, body: Value| {
            call(&emulator, "POST", &format!("{API}/{path}"), Some(body)).0
        };
        let v2 = profile.is_v2();
        let server_error = if v2 { 500 } else { 400 };
        let mut nameless = job(&default_id, "");
        nameless["name"] = json!("");
        assert_eq!(
            post("jobs", nameless),
            if v2 { 500 } else { 200 },
            "{profile}: empty job name"
        );
        assert_eq!(
            post("experiments", json!({"name": ""})),
            server_error,
            "{profile}: empty experiment name"
        );
        let mut bad_kind = job(&default_id, "k");
        bad_kind["pipeline_spec"]["workflow_manifest"] =
            json!(r#"{"apiVersion": "argoproj.io/v1alpha1", "kind": "Pod"}"#);
        assert_eq!(
            post("jobs", bad_kind),
            server_error,
            "{profile}: wrong kind"
        );
        let mut no_source = job(&default_id, "n");
        no_source["pipeline_spec"] = json!({});
        assert_eq!(
            post("jobs", no_source),
            server_error,
            "{profile}: no pipeline source"
        );
        let long = "x".repeat(129);
        assert_eq!(
            post("experiments", json!({"name": long})),
            if profile.length_limits() { 500 } else { 200 },
            "{profile}: 129-byte experiment name"
        );
        let mut unknown = job(&default_id, "u");
        unknown["experiment_id"] = json!(default_id);
        assert_eq!(
            post("jobs", unknown),
            if profile.gateway_v2() { 400 } else { 200 },
            "{profile}: unknown field"
        );
        let mut nested = job(&default_id, "u2");
        nested["trigger"]["cron_schedule"]["timezone"] = json!("UTC");
        assert_eq!(
            post("jobs", nested),
            if profile.gateway_v2() { 400 } else { 200 },
            "{profile}: unknown nested field"
        );
        let mut too_many = job(&default_id, "m");
        too_many["max_concurrency"] = json!(11);
        assert_eq!(post("jobs", too_many), 400, "{profile}: max_concurrency");
    }
}

#[test]
fn list_keys_and_single_user_namespace_keys_follow_the_profile() {
    for &profile in ALL_PROFILES {
        let emulator = start(profile, false);
        let default_id = emulator.state()["default_experiment_id"]
            .as_str()
            .unwrap()
            .to_owned();
        call(
            &emulator,
            "POST",
            &format!("{API}/jobs"),
            Some(job(&default_id, "a")),
        );
        let (status, _) = call(
            &emulator,
            "GET",
            &format!("{API}/jobs?sort_by=package_id"),
            None,
        );
        assert_eq!(status, if profile.is_v2() { 400 } else { 200 }, "{profile}");
        let (status, _) = call(
            &emulator,
            "GET",
            &format!("{API}/jobs?sort_by=updated_at"),
            None,
        );
        assert_eq!(status, if profile.is_v2() { 200 } else { 400 }, "{profile}");
        let (status, body) = call(
            &emulator,
            "GET",
            &format!("{API}/jobs?resource_reference_key.type=NAMESPACE&resource_reference_key.id="),
            None,
        );
        assert_eq!(status, 200);
        // §2.5 "Single-user key": 1.8.5 filters on the namespace column ("" matches nothing), 2.x ignores it.
        assert_eq!(
            body["total_size"],
            if profile.is_v2() {
                json!(1)
            } else {
                Value::Null
            },
            "{profile}"
        );
        let (status, _) = call(
            &emulator,
            "GET",
            &format!(
                "{API}/experiments?resource_reference_key.type=NAMESPACE&resource_reference_key.id=x"
            ),
            None,
        );
        assert_eq!(status, if profile.is_v2() { 200 } else { 400 }, "{profile}");
    }
}

#[test]
fn healthz_bytes_and_tags_follow_the_profile() {
    for &profile in ALL_PROFILES {
        let emulator = start(profile, true);
        let direct = emulator
            .request("GET", &format!("{API}/healthz"), None)
            .unwrap();
        let text = direct.text();
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["tag_name"], profile.tag_name());
        assert_eq!(parsed["multi_user"], true);
        assert_eq!(
            text.contains(", "),
            profile != Profile::V2_17,
            "{profile}: {text}"
        );
        let content_type = direct.header("content-type").unwrap_or_default().to_owned();
        assert_eq!(
            content_type.starts_with("application/json"),
            profile.is_v2(),
            "{profile}"
        );
        let ui = emulator
            .request("GET", &format!("/pipeline{API}/healthz"), None)
            .unwrap();
        assert_eq!(ui.json()["apiServerTagName"], profile.tag_name());
    }
}

#[test]
fn a_missing_identity_is_500_on_1_8_5_and_401_on_2x() {
    for &profile in ALL_PROFILES {
        let config = EmulatorConfig::multi_user()
            .with_profile(profile)
            .with_auth(AuthMode::Token(BTreeSet::from(["t".to_owned()])));
        let emulator = Emulator::start(config).unwrap();
        let response = client::send(
            emulator.addr(),
            "GET",
            &format!(
                "{API}/jobs?resource_reference_key.type=NAMESPACE&resource_reference_key.id=ns"
            ),
            &[],
            b"",
        )
        .unwrap();
        let body = response.json();
        if profile.is_v2() {
            assert_eq!(response.status, 401, "{profile}: {body}");
            assert_eq!(
                response.header("www-authenticate").is_some(),
                profile.gateway_v2(),
                "{profile}"
            );
        } else {
            assert_eq!(response.status, 500);
            assert!(
                body["message"]
                    .as_str()
                    .unwrap()
                    .contains("Unauthenticated")
            );
        }
    }
}

#[test]
fn routing_errors_are_json_on_gateway_v2() {
    for &profile in ALL_PROFILES {
        let emulator = start(profile, false);
        let wrong_method = emulator
            .request("PUT", &format!("{API}/jobs"), None)
            .unwrap();
        let missing = emulator
            .request("GET", &format!("{API}/nothing"), None)
            .unwrap();
        if profile.gateway_v2() {
            assert_eq!(wrong_method.status, 501);
            assert_eq!(missing.json(), json!({"code": 5, "message": "Not Found"}));
        } else {
            assert_eq!(wrong_method.status, 405);
            assert_eq!(missing.text().trim_end(), "Not Found");
        }
    }
}

#[test]
fn kfp_2_17_blocks_v1_jobs_and_runs_outside_the_allow_list_and_stops_firing_them() {
    let config = EmulatorConfig::multi_user()
        .with_profile(Profile::V2_17)
        .with_v1_blocked_except(["allowed"]);
    let emulator = Emulator::start(config).unwrap();
    let blocked = experiment(&emulator, "e", Some("team"));
    let allowed = experiment(&emulator, "e", Some("allowed"));
    let (status, body) = call(
        &emulator,
        "POST",
        &format!("{API}/jobs"),
        Some(job(&blocked, "j")),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Namespace team is not allowed to run v1 pipelines"),
        "{body}"
    );
    let run = json!({"name": "r", "pipeline_spec": {"workflow_manifest": MANIFEST},
                     "resource_references": [{"key": {"type": "EXPERIMENT", "id": blocked}, "relationship": "OWNER"}]});
    assert_eq!(
        call(&emulator, "POST", &format!("{API}/runs"), Some(run)).0,
        400
    );
    let (status, created) = call(
        &emulator,
        "POST",
        &format!("{API}/jobs"),
        Some(job(&allowed, "j")),
    );
    assert_eq!(status, 200, "{created}");
    assert!(
        emulator
            .trigger_job(created["id"].as_str().unwrap())
            .is_some()
    );

    // A job created before blocking (an upgrade from 2.16) stays enabled but never fires again (§4.2).
    let old = emulator.insert_job(ForeignJob {
        name: "old".to_owned(),
        namespace: "team".to_owned(),
        experiment_id: blocked,
        workflow_manifest: MANIFEST.to_owned(),
        enabled: true,
        ..ForeignJob::default()
    });
    assert!(emulator.trigger_job(&old).is_none());
    let (_, got) = call(&emulator, "GET", &format!("{API}/jobs/{old}"), None);
    assert_eq!(got["enabled"], true);
}

#[test]
fn blocking_is_a_2_17_feature_only() {
    let config = EmulatorConfig::multi_user()
        .with_profile(Profile::V2_14)
        .with_v1_blocked_except(Vec::<String>::new());
    let emulator = Emulator::start(config).unwrap();
    let id = experiment(&emulator, "e", Some("team"));
    assert_eq!(
        call(
            &emulator,
            "POST",
            &format!("{API}/jobs"),
            Some(job(&id, "j"))
        )
        .0,
        200
    );
}

#[test]
fn switching_profile_keeps_the_rows_an_upgrade() {
    let emulator = start(Profile::V1_8_5, true);
    let id = experiment(&emulator, "e", Some("team"));
    let (_, created) = call(
        &emulator,
        "POST",
        &format!("{API}/jobs"),
        Some(job(&id, "j")),
    );
    let job_id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["resource_references"][0]["name"], "e");
    emulator.set_profile(Profile::V2_5);
    assert_eq!(emulator.profile(), Profile::V2_5);
    let (status, got) = call(&emulator, "GET", &format!("{API}/jobs/{job_id}"), None);
    assert_eq!(status, 200);
    assert_eq!(got["resource_references"][0]["key"]["type"], "NAMESPACE");
    assert_eq!(got["status"], "STATUS_UNSPECIFIED");
    emulator.reset();
    assert_eq!(emulator.profile(), Profile::V1_8_5);
}

#[test]
fn foreign_jobs_and_job_errors_show_as_other_clients_leave_them() {
    for &profile in ALL_PROFILES {
        let emulator = start(profile, false);
        let v2 = emulator.insert_job(ForeignJob {
            name: "v2-job".to_owned(),
            pipeline_manifest: "pipelineInfo:\n  name: x\n".to_owned(),
            ..ForeignJob::default()
        });
        assert!(emulator.set_job_error(&v2, "broken"));
        assert!(!emulator.set_job_error("nope", "broken"));
        let (_, got) = call(&emulator, "GET", &format!("{API}/jobs/{v2}"), None);
        assert!(
            got["pipeline_spec"].get("workflow_manifest").is_none(),
            "{profile}"
        );
        assert_eq!(
            got["pipeline_spec"]["pipeline_manifest"],
            "pipelineInfo:\n  name: x\n"
        );
        assert_eq!(got["error"], "broken");
    }
}

#[test]
fn runs_start_pending_on_2x() {
    for &profile in ALL_PROFILES {
        let emulator = start(profile, false);
        let run = json!({"name": "r", "pipeline_spec": {"workflow_manifest": MANIFEST}});
        let (status, body) = call(&emulator, "POST", &format!("{API}/runs"), Some(run));
        assert_eq!(status, 200, "{body}");
        let expected = if profile.is_v2() {
            json!("Pending")
        } else {
            Value::Null
        };
        assert_eq!(body["run"]["status"], expected, "{profile}");
    }
}

#[test]
fn the_binary_takes_the_profile_flag() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kfp-emulator"))
        .args(["--kfp-profile", "2.6"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("1.8.5, 2.0, 2.5, 2.14, 2.17"));
}

#[test]
fn gateway_v2_answers_carry_protojson_spacing_and_parse_the_same() {
    for &profile in ALL_PROFILES {
        let emulator = start(profile, false);
        let response = emulator
            .request("GET", &format!("{API}/experiments"), None)
            .unwrap();
        let text = response.text();
        assert_eq!(
            text.contains("\": "),
            profile.gateway_v2(),
            "{profile}: {text}"
        );
        assert_eq!(response.json()["experiments"][0]["name"], "Default");
    }
}
