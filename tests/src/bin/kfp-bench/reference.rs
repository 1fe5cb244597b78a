//! The reference scripts' request pattern (deployKF `reconcile_kfp.py`, CONTRACT §10), replayed with
//! kfp-client: healthz, one experiment listing, a look-up and an unarchive per experiment, and for every
//! recurring run a walk through **all** jobs of the namespace (page size 100, newest first) to find its
//! versions, whose newest manifest is then parsed for the comparison.

use std::time::{Duration, Instant};

use kfp_client::models::{Filter, Job};
use kfp_client::{ClientConfig, HttpKfpClient, KfpApi, ListOptions, for_each_page};

/// Replays the pattern for `experiments` and `jobs`; returns the wall time of the experiment part and of
/// the recurring-run part.
pub fn replay(
    api_url: &str,
    namespace: &str,
    experiments: &[String],
    jobs: &[String],
) -> Result<(Duration, Duration), String> {
    let client =
        HttpKfpClient::new(ClientConfig::new(api_url)).map_err(|err| format!("client: {err}"))?;
    let started = Instant::now();
    client.healthz().map_err(|err| format!("healthz: {err}"))?;
    client
        .list_experiments(&ListOptions::namespace(namespace).with_page_size(10))
        .map_err(|err| format!("listing experiments: {err}"))?;
    for name in experiments {
        let page = client
            .list_experiments(
                &ListOptions::namespace(namespace)
                    .with_filter(Filter::name_equals(name.clone()))
                    .with_page_size(1),
            )
            .map_err(|err| format!("looking up experiment {name}: {err}"))?;
        let experiment = page
            .items
            .first()
            .ok_or_else(|| format!("experiment {name} is missing from the emulator"))?;
        client
            .unarchive_experiment(&experiment.id)
            .map_err(|err| format!("unarchiving experiment {name}: {err}"))?;
    }
    let setup = started.elapsed();
    let started = Instant::now();
    for name in jobs {
        let prefix = format!("GIT::{name}__");
        let mut newest: Option<Job> = None;
        let options = ListOptions::namespace(namespace)
            .with_page_size(100)
            .with_sort_by("created_at desc");
        for_each_page(
            &options,
            |page| client.list_jobs(page),
            |items| {
                for job in items {
                    let is_version = job
                        .name
                        .strip_prefix(&prefix)
                        .is_some_and(|stamp| stamp.len() == 20 && stamp.ends_with('Z'));
                    if is_version
                        && newest
                            .as_ref()
                            .is_none_or(|current| job.name > current.name)
                    {
                        newest = Some(job);
                    }
                }
                Ok(())
            },
        )
        .map_err(|err| format!("listing the jobs of {name}: {err}"))?;
        let newest = newest.ok_or_else(|| format!("no version of {name} in the emulator"))?;
        serde_json::from_str::<serde_json::Value>(&newest.pipeline_spec.workflow_manifest)
            .map_err(|err| format!("the manifest of {}: {err}", newest.name))?;
    }
    Ok((setup, started.elapsed()))
}
