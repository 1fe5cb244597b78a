//! Cross-checks of the rendered Kubernetes objects where schemas cannot help: volumes, probes, selectors,
//! referenced Secrets and ConfigMaps, and the properties the daemon's Deployment promises.

use super::*;

pub(super) fn selects(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Cross-checks of one rendered kustomization; returns the problems found.
pub fn check_objects(objects: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    let named = |kind: &str| -> BTreeSet<String> {
        objects
            .iter()
            .filter(|o| str_at(o, "/kind") == Some(kind))
            .filter_map(|o| str_at(o, "/metadata/name").map(str::to_owned))
            .collect()
    };
    let secrets = named("Secret");
    let config_maps = named("ConfigMap");
    let service_accounts = named("ServiceAccount");
    let deployments: Vec<&Value> = objects
        .iter()
        .filter(|o| str_at(o, "/kind") == Some("Deployment"))
        .collect();
    let services: Vec<&Value> = objects
        .iter()
        .filter(|o| str_at(o, "/kind") == Some("Service"))
        .collect();

    for deployment in &deployments {
        let name = str_at(deployment, "/metadata/name").unwrap_or("?");
        let what = format!("Deployment {name}");
        problems.extend(check_pod(
            &what,
            deployment
                .pointer("/spec/template/spec")
                .unwrap_or(&Value::Null),
            &secrets,
            &config_maps,
            &service_accounts,
        ));
        if deployment.pointer("/spec/replicas").and_then(Value::as_i64) != Some(1) {
            problems.push(format!(
                "{what}: must run exactly one replica (spec.replicas: 1)"
            ));
        }
        if str_at(deployment, "/spec/strategy/type") != Some("Recreate") {
            problems.push(format!(
                "{what}: must use the Recreate strategy (never two reconcilers at once)"
            ));
        }
        let selector = string_map(deployment.pointer("/spec/selector/matchLabels"));
        let labels = string_map(deployment.pointer("/spec/template/metadata/labels"));
        if !selects(&selector, &labels) {
            problems.push(format!(
                "{what}: spec.selector does not match the pod template's labels"
            ));
        }
    }

    for service in &services {
        let name = str_at(service, "/metadata/name").unwrap_or("?");
        let selector = string_map(service.pointer("/spec/selector"));
        let target = deployments.iter().find(|d| {
            selects(
                &selector,
                &string_map(d.pointer("/spec/template/metadata/labels")),
            )
        });
        let Some(target) = target else {
            problems.push(format!(
                "Service {name}: its selector matches no Deployment's pods"
            ));
            continue;
        };
        let pod_ports: BTreeSet<&str> = array_at(target, "/spec/template/spec/containers")
            .iter()
            .flat_map(|c| array_at(c, "/ports"))
            .filter_map(|p| str_at(p, "/name"))
            .collect();
        for port in array_at(service, "/spec/ports") {
            if let Some(target_port) = str_at(port, "/targetPort")
                && !pod_ports.contains(target_port)
            {
                problems.push(format!(
                    "Service {name}: targetPort `{target_port}` is not a named container port"
                ));
            }
        }
    }

    for monitor in objects
        .iter()
        .filter(|o| str_at(o, "/kind") == Some("ServiceMonitor"))
    {
        let name = str_at(monitor, "/metadata/name").unwrap_or("?");
        if str_at(monitor, "/apiVersion") != Some("monitoring.coreos.com/v1") {
            problems.push(format!(
                "ServiceMonitor {name}: apiVersion must be monitoring.coreos.com/v1"
            ));
        }
        let selector = string_map(monitor.pointer("/spec/selector/matchLabels"));
        let selected: Vec<&&Value> = services
            .iter()
            .filter(|s| selects(&selector, &string_map(s.pointer("/metadata/labels"))))
            .collect();
        if selected.is_empty() {
            problems.push(format!(
                "ServiceMonitor {name}: its selector matches no Service"
            ));
        }
        let endpoints = array_at(monitor, "/spec/endpoints");
        if endpoints.is_empty() {
            problems.push(format!("ServiceMonitor {name}: no endpoints"));
        }
        for endpoint in endpoints {
            let port = str_at(endpoint, "/port").unwrap_or("");
            let known = selected.iter().any(|s| {
                array_at(s, "/spec/ports")
                    .iter()
                    .any(|p| str_at(p, "/name") == Some(port))
            });
            if !known {
                problems.push(format!(
                    "ServiceMonitor {name}: endpoint port `{port}` is not a port of the selected Service"
                ));
            }
        }
    }

    for rule_set in objects
        .iter()
        .filter(|o| str_at(o, "/kind") == Some("PrometheusRule"))
    {
        let name = str_at(rule_set, "/metadata/name").unwrap_or("?");
        let groups = array_at(rule_set, "/spec/groups");
        if groups.is_empty() {
            problems.push(format!("PrometheusRule {name}: no groups"));
        }
        for group in groups {
            for rule in array_at(group, "/rules") {
                let has_name = str_at(rule, "/alert").or_else(|| str_at(rule, "/record"));
                if has_name.is_none() || str_at(rule, "/expr").is_none_or(str::is_empty) {
                    problems.push(format!(
                        "PrometheusRule {name}: every rule needs `alert` (or `record`) and `expr`"
                    ));
                }
            }
        }
    }

    if let Some(daemon) = deployments.iter().find(|d| {
        array_at(d, "/spec/template/spec/containers")
            .iter()
            .any(|c| str_at(c, "/name") == Some("kfp-gitops"))
    }) {
        problems.extend(check_daemon(daemon));
    } else if !deployments.is_empty() {
        problems.push("no Deployment has the `kfp-gitops` container".to_owned());
    }
    problems
}

/// References inside one pod spec: volumes, ports of probes, Secrets, ConfigMaps, ServiceAccount.
pub(super) fn check_pod(
    what: &str,
    pod: &Value,
    secrets: &BTreeSet<String>,
    config_maps: &BTreeSet<String>,
    service_accounts: &BTreeSet<String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let volumes: BTreeSet<&str> = array_at(pod, "/volumes")
        .iter()
        .filter_map(|v| str_at(v, "/name"))
        .collect();
    if let Some(account) = str_at(pod, "/serviceAccountName")
        && !service_accounts.contains(account)
    {
        problems.push(format!(
            "{what}: ServiceAccount `{account}` is not part of the manifests"
        ));
    }
    let optional = |v: &Value| v.get("optional").and_then(Value::as_bool) == Some(true);
    for volume in array_at(pod, "/volumes") {
        if let Some(secret) = str_at(volume, "/secret/secretName")
            && !secrets.contains(secret)
            && !volume.pointer("/secret").is_some_and(optional)
        {
            problems.push(format!(
                "{what}: volume uses Secret `{secret}`, which is not part of the manifests"
            ));
        }
    }
    let containers = array_at(pod, "/containers")
        .iter()
        .chain(array_at(pod, "/initContainers"));
    for container in containers {
        let cname = str_at(container, "/name").unwrap_or("?");
        let ports: BTreeSet<&str> = array_at(container, "/ports")
            .iter()
            .filter_map(|p| str_at(p, "/name"))
            .collect();
        for mount in array_at(container, "/volumeMounts") {
            let volume = str_at(mount, "/name").unwrap_or("");
            if !volumes.contains(volume) {
                problems.push(format!(
                    "{what}: container {cname} mounts the undeclared volume `{volume}`"
                ));
            }
        }
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            if let Some(port) = str_at(container, &format!("/{probe}/httpGet/port"))
                && !ports.contains(port)
            {
                problems.push(format!(
                    "{what}: container {cname}: {probe} uses the undeclared port `{port}`"
                ));
            }
        }
        for env in array_at(container, "/env") {
            if let Some(reference) = env.pointer("/valueFrom/secretKeyRef") {
                let secret = str_at(reference, "/name").unwrap_or("");
                if !secrets.contains(secret) && !optional(reference) {
                    problems.push(format!(
                        "{what}: container {cname} reads Secret `{secret}`, which is not part of the manifests"
                    ));
                }
            }
            if let Some(reference) = env.pointer("/valueFrom/configMapKeyRef") {
                let map = str_at(reference, "/name").unwrap_or("");
                if !config_maps.contains(map) && !optional(reference) {
                    problems.push(format!(
                        "{what}: container {cname} reads ConfigMap `{map}`, which is not part of the manifests"
                    ));
                }
            }
        }
        for source in array_at(container, "/envFrom") {
            if let Some(reference) = source.pointer("/configMapRef") {
                let map = str_at(reference, "/name").unwrap_or("");
                if !config_maps.contains(map) && !optional(reference) {
                    problems.push(format!(
                        "{what}: container {cname} reads ConfigMap `{map}`, which is not part of the manifests"
                    ));
                }
            }
            if let Some(reference) = source.pointer("/secretRef") {
                let secret = str_at(reference, "/name").unwrap_or("");
                if !secrets.contains(secret) && !optional(reference) {
                    problems.push(format!(
                        "{what}: container {cname} reads Secret `{secret}`, which is not part of the manifests"
                    ));
                }
            }
        }
    }
    problems
}

/// What the product promises about the daemon's Deployment (issue: automatic reconciliation).
pub(super) fn check_daemon(deployment: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let pod = deployment
        .pointer("/spec/template/spec")
        .unwrap_or(&Value::Null);
    if pod
        .pointer("/securityContext/runAsNonRoot")
        .and_then(Value::as_bool)
        != Some(true)
    {
        problems.push("the daemon's pod must set securityContext.runAsNonRoot: true".to_owned());
    }
    let containers = array_at(pod, "/containers");
    for container in containers {
        let cname = str_at(container, "/name").unwrap_or("?");
        if container
            .pointer("/securityContext/readOnlyRootFilesystem")
            .and_then(Value::as_bool)
            != Some(true)
        {
            problems.push(format!(
                "container {cname} must have a read-only root filesystem"
            ));
        }
        if container
            .pointer("/securityContext/allowPrivilegeEscalation")
            .and_then(Value::as_bool)
            != Some(false)
        {
            problems.push(format!(
                "container {cname} must set allowPrivilegeEscalation: false"
            ));
        }
        if container.pointer("/resources/requests").is_none()
            || container.pointer("/resources/limits/memory").is_none()
        {
            problems.push(format!(
                "container {cname} must declare resource requests and a memory limit"
            ));
        }
    }
    problems.extend(check_istio_drain(deployment));
    let Some(daemon) = containers
        .iter()
        .find(|c| str_at(c, "/name") == Some("kfp-gitops"))
    else {
        return problems;
    };
    if str_at(daemon, "/livenessProbe/httpGet/path") != Some("/healthz") {
        problems.push("the kfp-gitops container's liveness probe must be GET /healthz".to_owned());
    }
    if str_at(daemon, "/readinessProbe/httpGet/path") != Some("/readyz") {
        problems.push("the kfp-gitops container's readiness probe must be GET /readyz".to_owned());
    }
    let token_volume = array_at(pod, "/volumes").iter().find(|v| {
        array_at(v, "/projected/sources").iter().any(|s| {
            str_at(s, "/serviceAccountToken/audience") == Some("pipelines.kubeflow.org")
                && str_at(s, "/serviceAccountToken/path") == Some("token")
        })
    });
    match token_volume.and_then(|v| str_at(v, "/name")) {
        None => problems.push(
            "no projected serviceAccountToken volume with audience pipelines.kubeflow.org and path token"
                .to_owned(),
        ),
        Some(volume) => {
            let mounted = array_at(daemon, "/volumeMounts").iter().any(|m| {
                str_at(m, "/name") == Some(volume)
                    && str_at(m, "/mountPath") == Some("/var/run/secrets/kubeflow/pipelines")
            });
            if !mounted {
                problems.push(format!(
                    "the token volume `{volume}` must be mounted at /var/run/secrets/kubeflow/pipelines"
                ));
            }
        }
    }
    let git_sync = containers.iter().find(|c| {
        str_at(c, "/image")
            .is_some_and(|image| image.starts_with("registry.k8s.io/git-sync/git-sync:v4."))
    });
    match git_sync {
        None => problems
            .push("no git-sync v4 sidecar (registry.k8s.io/git-sync/git-sync:v4.x)".to_owned()),
        Some(sidecar) => {
            let shared = array_at(sidecar, "/volumeMounts").iter().any(|m| {
                let name = str_at(m, "/name");
                array_at(daemon, "/volumeMounts")
                    .iter()
                    .any(|d| str_at(d, "/name") == name)
                    && array_at(pod, "/volumes")
                        .iter()
                        .any(|v| str_at(v, "/name") == name && v.get("emptyDir").is_some())
            });
            if !shared {
                problems.push("git-sync and kfp-gitops must share an emptyDir volume".to_owned());
            }
        }
    }
    problems
}

/// Seconds of a Go-style duration as Istio writes them (`90s`, `2m`, `1m30s`).
pub(super) fn duration_seconds(text: &str) -> Option<u64> {
    let mut total = 0;
    let mut number = String::new();
    for c in text.chars() {
        match c {
            '0'..='9' => number.push(c),
            'h' | 'm' | 's' => {
                let unit = match c {
                    'h' => 3600,
                    'm' => 60,
                    _ => 1,
                };
                total += number.parse::<u64>().ok()? * unit;
                number.clear();
            }
            _ => return None,
        }
    }
    number.is_empty().then_some(total)
}

/// A daemon pod configured for an Istio sidecar (`proxy.istio.io/config`) must keep the proxy up
/// while the daemon finishes its job after SIGTERM: Istio's default drain of 5 s would cut off the KFP
/// calls of the grace period. Either `terminationDrainDuration` covers
/// `terminationGracePeriodSeconds`, or the proxy waits for the connections to end
/// (`EXIT_ON_ZERO_ACTIVE_CONNECTIONS`).
pub(super) fn check_istio_drain(deployment: &Value) -> Vec<String> {
    let Some(text) = str_at(
        deployment,
        "/spec/template/metadata/annotations/proxy.istio.io~1config",
    ) else {
        return Vec::new();
    };
    let Ok(config) = serde_saphyr::from_str::<Value>(text) else {
        return vec!["the proxy.istio.io/config annotation does not parse".to_owned()];
    };
    let grace = deployment
        .pointer("/spec/template/spec/terminationGracePeriodSeconds")
        .and_then(Value::as_u64)
        .unwrap_or(30);
    if str_at(&config, "/proxyMetadata/EXIT_ON_ZERO_ACTIVE_CONNECTIONS") == Some("true") {
        return Vec::new();
    }
    let drain = str_at(&config, "/terminationDrainDuration");
    match drain.map(duration_seconds) {
        Some(Some(seconds)) if seconds >= grace => Vec::new(),
        Some(None) => vec![format!(
            "terminationDrainDuration `{}` of proxy.istio.io/config is not a duration",
            drain.unwrap_or_default()
        )],
        _ => vec![format!(
            "the Istio proxy drains for {}, less than the {grace} s terminationGracePeriodSeconds the daemon may use to finish a job: set terminationDrainDuration (or EXIT_ON_ZERO_ACTIVE_CONNECTIONS) in proxy.istio.io/config",
            drain.unwrap_or("5s (the default)")
        )],
    }
}
