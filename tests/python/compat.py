"""Proof of fidelity: drive the KFP API emulator with the official kfp 1.8.22 SDK only.

Uses `kfp.Client` and its `_job_api` / `_experiment_api` exactly as real users and the reference
reconcile scripts do. Every step names the SDK call it makes; the first failure prints that call, the
exception and the server's answer, and exits 1.

With --profile 2.0|2.5|2.14|2.17 the emulator plays a KFP 2.x backend serving v1beta1 (KFP2-V1BETA1.md) and
the checks expect what such a server answers; everything else must work as against 1.8.5. What the SDK sees
differently on a 2.x server (and so is checked differently here):

* job `status` is STATUS_UNSPECIFIED at create, not NO_STATUS (KFP2-V1BETA1.md 2.5 "status");
* job references are rebuilt without `name` (NAMESPACE first in multi-user; 2.5 "resource_references");
* experiments always carry a NAMESPACE reference, also in single-user mode (2.2);
* error bodies carry a google.rpc.Status detail (`message`, no `error_message`), and from 2.14 no `error`
  key (1 "Error body"); the max-concurrency message is new (2.6);
* the emulator keeps 1.8.5's pipeline upload (same default version id as the pipeline): real 2.x servers
  give the default version its own id (2.9), which the SDK only reads; not checked on 2.x.

usage: compat.py --host URL --mode single|multi [--namespace NS] [--dex-user EMAIL] [--profile P]
"""

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
import traceback

import kfp
import kfp_server_api
import yaml
from kfp import dsl
from kfp_server_api.rest import ApiException

STEP = {"name": "start", "call": ""}
PASSED = []


class CompatFailure(Exception):
    pass


def step(name, call):
    STEP["name"] = name
    STEP["call"] = call


def check(condition, message):
    if not condition:
        raise CompatFailure(message)


def done():
    PASSED.append(STEP["name"])
    print("  ok   %s  [%s]" % (STEP["name"], STEP["call"]), flush=True)


def echo_op(msg):
    return dsl.ContainerOp(
        name="echo",
        image="alpine:3.18",
        command=["echo", msg],
    )


@dsl.pipeline(name="compat", description="emulator compatibility pipeline")
def compat_pipeline(msg: str = "hello", n: int = 3):
    echo_op(msg)


def compile_pipeline(directory):
    path = os.path.join(directory, "pipeline.yaml")
    kfp.compiler.Compiler().compile(compat_pipeline, path)
    return path


def as_utc(value):
    check(isinstance(value, datetime.datetime), "expected a datetime, got %r" % (value,))
    check(value.tzinfo is not None, "expected a tz-aware datetime, got %r" % (value,))
    return value.astimezone(datetime.timezone.utc)


def dex_login(host, username, password):
    """The cookie login of deployKF's KFPClientManager (CONTRACT section 8.2); returns the Cookie header."""
    import re
    from urllib.parse import urlsplit

    import requests

    session = requests.Session()
    response = session.get(host, allow_redirects=True)
    check(response.history, "the endpoint is not secured: no redirect to Dex")
    url = response.url
    if urlsplit(url).path.endswith("/auth"):
        url = url.replace("/auth?", "/auth/local?", 1)
    if not re.search(r"/auth/.*/login$", urlsplit(url).path):
        response = session.get(url, allow_redirects=True)
        check(response.status_code == 200, "login page answered %s" % response.status_code)
        url = response.url
    response = session.post(url, data={"login": username, "password": password}, allow_redirects=True)
    check(response.status_code == 200 and response.history, "the login was refused")
    if urlsplit(response.url).path.endswith("/approval"):
        response = session.post(response.url, data={"approval": "approve"}, allow_redirects=True)
    cookies = "; ".join("%s=%s" % (c.name, c.value) for c in session.cookies)
    check("_deploykf_token=" in cookies, "no session cookie after login: %r" % list(session.cookies.keys()))
    return cookies


def run(args):
    v2 = args.profile != "1.8.5"
    multi = args.mode == "multi"
    namespace = args.namespace if multi else None
    workdir = tempfile.mkdtemp(prefix="kfp-compat-")
    # The SDK keeps a context file under ~/.config/kfp; keep it out of the user's home.
    os.environ["HOME"] = workdir

    step("compile the pipeline", "kfp.compiler.Compiler().compile")
    package = compile_pipeline(workdir)
    with open(package) as f:
        rendered_manifest = json.dumps(yaml.safe_load(f))
    done()

    cookies = None
    if args.dex_user:
        step("log in through Dex like KFPClientManager", "requests: GET host, POST the login form")
        cookies = dex_login(args.host, args.dex_user, os.environ["COMPAT_DEX_PASSWORD"])
        done()

    step("connect and read healthz", "kfp.Client(host).get_kfp_healthz()")
    client = kfp.Client(host=args.host, namespace=namespace or "kubeflow", cookies=cookies)
    health = client.get_kfp_healthz()
    check(health.multi_user is multi, "healthz multi_user=%r, expected %r" % (health.multi_user, multi))
    done()

    step("create an experiment", "client.create_experiment")
    experiment = client.create_experiment("compat-exp", description="compat experiment", namespace=namespace)
    check(experiment.id, "no experiment id")
    check(experiment.name == "compat-exp", "name %r" % experiment.name)
    check(experiment.storage_state == "STORAGESTATE_AVAILABLE", "storage_state %r" % experiment.storage_state)
    if multi:
        refs = experiment.resource_references or []
        check(
            len(refs) == 1 and refs[0].key.type == "NAMESPACE" and refs[0].key.id == namespace,
            "namespace ref %r" % refs,
        )
    done()

    step("create_experiment finds the existing one by name", "client.create_experiment (again)")
    again = client.create_experiment("compat-exp", namespace=namespace)
    check(again.id == experiment.id, "a second experiment was created: %r vs %r" % (again.id, experiment.id))
    done()

    step("get an experiment by id and by name", "client.get_experiment")
    by_id = client.get_experiment(experiment_id=experiment.id)
    by_name = client.get_experiment(experiment_name="compat-exp", namespace=namespace)
    check(by_id.id == experiment.id and by_name.id == experiment.id, "lookups disagree")
    check(by_id.description == "compat experiment", "description %r" % by_id.description)
    done()

    step("list experiments in the namespace", "client.list_experiments")
    listed = client.list_experiments(namespace=namespace, page_size=100)
    names = [e.name for e in (listed.experiments or [])]
    check("compat-exp" in names, "compat-exp not listed: %r" % names)
    if not multi:
        check("Default" in names, "the Default experiment is missing: %r" % names)
    done()

    step("create a cron recurring run from the rendered workflow", "client.create_recurring_run(cron_expression=...)")
    cron_job = client.create_recurring_run(
        experiment_id=experiment.id,
        job_name="GIT::compat-cron__2024-01-02T03-04-05Z",
        description="cron job",
        start_time="2024-01-02T03:04:05+00:00",
        cron_expression="0 0 9 ? * 2-6",
        max_concurrency=2,
        no_catchup=True,
        params={"msg": "hello world", "n": 5},
        pipeline_package_path=package,
        enabled=False,
    )
    check(cron_job.max_concurrency == "2", "max_concurrency %r (int64 must arrive as a string)" % cron_job.max_concurrency)
    check(cron_job.trigger.cron_schedule.cron == "0 0 9 ? * 2-6", "cron %r" % cron_job.trigger.cron_schedule.cron)
    start = as_utc(cron_job.trigger.cron_schedule.start_time)
    check(start == datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc), "start_time %r" % start)
    check(not cron_job.enabled, "enabled %r" % cron_job.enabled)
    check(cron_job.no_catchup is True, "no_catchup %r" % cron_job.no_catchup)
    expected_status = "STATUS_UNSPECIFIED" if v2 else "NO_STATUS"
    check(cron_job.status == expected_status, "status %r" % cron_job.status)
    check(cron_job.pipeline_spec.workflow_manifest == rendered_manifest, "workflow_manifest is not byte-exact")
    params = {p.name: p.value for p in cron_job.pipeline_spec.parameters}
    check(params == {"msg": "hello world", "n": "5"}, "parameters %r" % params)
    check(
        cron_job.service_account == ("default-editor" if multi else "pipeline-runner"),
        "service_account %r" % cron_job.service_account,
    )
    exp_refs = [r for r in cron_job.resource_references if r.key.type == "EXPERIMENT"]
    expected_ref_name = None if v2 else "compat-exp"
    check(exp_refs and exp_refs[0].key.id == experiment.id and exp_refs[0].name == expected_ref_name, "refs %r" % cron_job.resource_references)
    done()

    step("create an interval recurring run", "client.create_recurring_run(interval_second=3600)")
    periodic_job = client.create_recurring_run(
        experiment_id=experiment.id,
        job_name="compat-periodic",
        interval_second=3600,
        params={"msg": "periodic"},
        pipeline_package_path=package,
        enabled=True,
        service_account="custom-sa",
    )
    check(periodic_job.trigger.periodic_schedule.interval_second == "3600", "interval %r" % periodic_job.trigger.periodic_schedule.interval_second)
    check(periodic_job.trigger.cron_schedule is None, "cron_schedule set on a periodic job")
    check(periodic_job.enabled is True, "enabled %r" % periodic_job.enabled)
    check(periodic_job.service_account == "custom-sa", "service_account %r" % periodic_job.service_account)
    done()

    step("a bad call raises ApiException 400 with the server's message", "client.create_recurring_run(max_concurrency=11)")
    try:
        client.create_recurring_run(
            experiment_id=experiment.id,
            job_name="too-concurrent",
            cron_expression="0 0 * * * *",
            max_concurrency=11,
            pipeline_package_path=package,
        )
        raise CompatFailure("max_concurrency 11 was accepted")
    except ApiException as err:
        check(err.status == 400, "status %r" % err.status)
        body = json.loads(err.body)
        if v2:
            typo = "leas" if args.profile == "2.0" else "least"
            expected = "Max concurrency of a recurring run must be at %s 1 and at most 10. Received 11" % typo
            check(body["details"][0]["message"] == expected, "detail message %r" % body)
            check(expected in body["message"] and body["code"] == 3, "error body %r" % body)
            gateway_v2 = args.profile in ("2.14", "2.17")
            check(("error" in body) != gateway_v2, "`error` key on %s: %r" % (args.profile, body))
        else:
            expected = "The max concurrency of the job is out of range. Support 1-10. Received 11."
            check(body["details"][0]["error_message"] == expected, "error_message %r" % body)
            check(expected in body["error"] and body["code"] == 3, "error body %r" % body)
    done()

    step("create more jobs to page through, in batches a second apart", "client.create_recurring_run x5")
    # KFP stores created_at in whole seconds: a pause of over a second between batches gives each batch a
    # later timestamp than the one before, while jobs inside a batch may share one.
    batches, index = [[cron_job, periodic_job]], 0
    for batch_size in (2, 3):
        time.sleep(1.1)
        batch = []
        for _ in range(batch_size):
            batch.append(
                client.create_recurring_run(
                    experiment_id=experiment.id,
                    job_name="compat-page-%d" % index,
                    cron_expression="@every 1h",
                    pipeline_package_path=package,
                )
            )
            index += 1
        batches.append(batch)
    job_ids = {job.id for batch in batches for job in batch}
    check(len(job_ids) == 7, "job ids are not unique: %r" % job_ids)
    # sort_by created_at desc: newest batch first; inside a batch, equal created_at are ordered by id, in the
    # same (descending) direction (CONTRACT section 4, Sorting).
    expected_order = [
        job.id
        for batch in reversed(batches)
        for job in sorted(batch, key=lambda j: (as_utc(j.created_at), j.id), reverse=True)
    ]
    done()

    step("list jobs sorted by created_at desc across several pages", "client._job_api.list_jobs(page_size=3, sort_by='created_at desc')")
    if multi:
        key_type, key_id = "NAMESPACE", namespace
    else:
        key_type, key_id = "EXPERIMENT", experiment.id
    seen, created, pages, token = [], [], 0, ""
    while True:
        response = client._job_api.list_jobs(
            page_token=token,
            page_size=3,
            sort_by="created_at desc",
            resource_reference_key_type=key_type,
            resource_reference_key_id=key_id,
        )
        pages += 1
        check(response.total_size == len(job_ids), "total_size %r, expected %d" % (response.total_size, len(job_ids)))
        for job in response.jobs or []:
            seen.append(job.id)
            created.append(job.created_at)
        token = response.next_page_token
        if not token:
            break
        check(pages < 10, "paging does not end")
    check(pages == 3, "expected 3 pages of 3, got %d" % pages)
    check(seen == expected_order, "order %r, expected %r" % (seen, expected_order))
    check(len(set(created)) >= 3, "the batches share a created_at: %r" % created)
    done()

    step("list recurring runs of the experiment", "client.list_recurring_runs(experiment_id=...)")
    listed_jobs = client.list_recurring_runs(experiment_id=experiment.id, page_size=100)
    check(len(listed_jobs.jobs or []) == len(job_ids), "listed %d jobs" % len(listed_jobs.jobs or []))
    done()

    step("enable a job", "client._job_api.enable_job")
    client._job_api.enable_job(id=cron_job.id)
    check(client.get_recurring_run(cron_job.id).enabled is True, "job not enabled")
    done()

    step("disable a job", "client._job_api.disable_job")
    client._job_api.disable_job(id=cron_job.id)
    check(not client.get_recurring_run(cron_job.id).enabled, "job still enabled")
    done()

    step("delete a job", "client._job_api.delete_job")
    client._job_api.delete_job(id=cron_job.id)
    try:
        client.get_recurring_run(cron_job.id)
        raise CompatFailure("deleted job still readable")
    except ApiException as err:
        check(err.status == 404, "status %r" % err.status)
    done()

    step("archive an experiment disables its jobs", "client.archive_experiment")
    client.archive_experiment(experiment.id)
    check(client.get_experiment(experiment_id=experiment.id).storage_state == "STORAGESTATE_ARCHIVED", "not archived")
    check(not client.get_recurring_run(periodic_job.id).enabled, "archiving left a job enabled")
    done()

    step("unarchive an experiment", "client._experiment_api.unarchive_experiment")
    client._experiment_api.unarchive_experiment(id=experiment.id)
    check(client.get_experiment(experiment_id=experiment.id).storage_state == "STORAGESTATE_AVAILABLE", "still archived")
    done()

    step("upload a pipeline", "client.upload_pipeline")
    pipeline = client.upload_pipeline(package, pipeline_name="compat pipeline", description="uploaded by compat")
    check(pipeline.id and pipeline.name == "compat pipeline", "pipeline %r" % pipeline)
    check(pipeline.description == "uploaded by compat", "description %r" % pipeline.description)
    if not v2:
        check(pipeline.default_version.id == pipeline.id, "default version id %r" % pipeline.default_version.id)
    check(sorted(p.name for p in pipeline.parameters) == ["msg", "n"], "parameters %r" % pipeline.parameters)
    check(client.get_pipeline_id("compat pipeline") == pipeline.id, "get_pipeline_id")
    check(client.get_pipeline(pipeline.id).name == "compat pipeline", "get_pipeline")
    done()

    step("upload a compiled .tar.gz package", "client.upload_pipeline(<.tar.gz>)")
    tarball = os.path.join(workdir, "pipeline.tar.gz")
    kfp.compiler.Compiler().compile(compat_pipeline, tarball)
    packaged = client.upload_pipeline(tarball, pipeline_name="compat tarball")
    check(packaged.name == "compat tarball", "pipeline %r" % packaged)
    check(sorted(p.name for p in packaged.parameters) == ["msg", "n"], "parameters %r" % packaged.parameters)
    client.delete_pipeline(packaged.id)
    done()

    step("create a recurring run from the uploaded pipeline", "client.create_recurring_run(pipeline_id=...)")
    from_pipeline = client.create_recurring_run(
        experiment_id=experiment.id, job_name="from-pipeline", interval_second=60, pipeline_id=pipeline.id
    )
    check(from_pipeline.pipeline_spec.pipeline_id == pipeline.id, "pipeline_id %r" % from_pipeline.pipeline_spec.pipeline_id)
    check(from_pipeline.pipeline_spec.pipeline_name == "compat pipeline", "pipeline_name")
    check(json.loads(from_pipeline.pipeline_spec.workflow_manifest)["kind"] == "Workflow", "stored template")
    done()

    step("create a run and read its status until it finishes", "client.run_pipeline + client.wait_for_run_completion")
    run = client.run_pipeline(experiment.id, "compat-run", pipeline_package_path=package, params={"msg": "once"})
    check(run.id, "no run id")
    detail = client.wait_for_run_completion(run.id, timeout=120)
    check(detail.run.status == "Succeeded", "status %r" % detail.run.status)
    check(detail.run.finished_at.year >= 2020, "finished_at %r" % detail.run.finished_at)
    listed_runs = client.list_runs(experiment_id=experiment.id, page_size=10)
    check(any(r.id == run.id for r in (listed_runs.runs or [])), "run not listed")
    done()

    step("delete the pipeline", "client.delete_pipeline")
    client.delete_pipeline(pipeline.id)
    try:
        client.get_pipeline(pipeline.id)
        raise CompatFailure("deleted pipeline still readable")
    except ApiException as err:
        check(err.status == 404, "status %r" % err.status)
    done()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--mode", choices=["single", "multi"], required=True)
    parser.add_argument("--namespace", default="team-1")
    parser.add_argument("--dex-user", help="log in through Dex first (password in $COMPAT_DEX_PASSWORD)")
    parser.add_argument("--profile", default="1.8.5", choices=["1.8.5", "2.0", "2.5", "2.14", "2.17"])
    args = parser.parse_args()
    print("kfp %s against %s (KFP %s, %s-user)" % (kfp.__version__, args.host, args.profile, args.mode), flush=True)
    try:
        run(args)
    except ApiException as err:
        print("FAILED step %r: SDK call %s raised ApiException %s %s" % (STEP["name"], STEP["call"], err.status, err.reason))
        print("  server answered: %s" % (err.body,))
        return 1
    except Exception as err:  # noqa: BLE001 - every failure must name the step
        print("FAILED step %r: SDK call %s: %s: %s" % (STEP["name"], STEP["call"], type(err).__name__, err))
        traceback.print_exc()
        return 1
    print("all %d steps passed (KFP %s, %s-user%s)" % (len(PASSED), args.profile, args.mode, ", Dex login" if args.dex_user else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
