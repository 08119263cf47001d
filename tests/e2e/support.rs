//! Shared set-up: configs, channels and clients.

use std::time::Duration;

use protogate_demo::pb::grpc::testing::test_service_client::TestServiceClient;
use protogate_testkit::{DemoUpstream, Gateway};
use tonic::transport::{Channel, Endpoint};

/// The `server` section every test gateway starts with: ephemeral
/// loopback ports (filled in by the testkit) and one worker thread. A test
/// may add more `server` keys on the lines right after it.
pub const SERVER: &str = r#"server:
  listen: [{ address: "{listen}" }]
  admin: "{admin}"
  threads: 1
"#;

/// The repository's `protos/` directory.
pub fn protos_dir() -> String {
    format!("{}/../protos", env!("CARGO_MANIFEST_DIR"))
}

/// The repository root.
pub fn repo_dir() -> String {
    format!("{}/..", env!("CARGO_MANIFEST_DIR"))
}

/// A gateway in front of `upstream` with routes for the interop services
/// (`interop` by service, `empty-call` by method) and the demo catalog.
pub fn interop_config(upstreams: &[std::net::SocketAddr]) -> String {
    let targets: Vec<String> = upstreams.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        r#"
{SERVER}descriptors:
  - path: {protos}/grpc/testing/interop.proto
    import_paths: [{protos}]
  - path: {protos}/ecommerce/v1/product.proto
    import_paths: [{protos}]
upstreams:
  demo:
    protocol: grpc
    targets: [{targets}]
    connect_timeout: 500ms
routes:
  - name: interop
    match: {{ grpc_service: grpc.testing.TestService }}
    upstream: demo
    plugins:
      - grpc_proxy: {{ max_message_size: 8MiB }}   # large_unary sends 4 MiB payloads
  - name: unimplemented-service
    match: {{ grpc_service: grpc.testing.UnimplementedService }}
    upstream: demo
  - name: empty-call
    match: {{ grpc_method: grpc.testing.TestService/EmptyCall }}
    upstream: demo
  - name: products
    match: {{ grpc_service: ecommerce.v1.ProductService }}
    upstream: demo
  - name: reflection
    match: {{ path_prefix: /grpc.reflection. }}
    upstream: demo
    plugins:
      - grpc_proxy: {{}}
"#,
        protos = protos_dir(),
        targets = targets.join(", ")
    )
}

/// A demo upstream and a gateway in front of it.
pub async fn gateway_with_demo() -> (Gateway, DemoUpstream) {
    let upstream = DemoUpstream::start().await;
    let gateway = Gateway::start(&interop_config(&[upstream.addr])).await;
    (gateway, upstream)
}

/// An h2c channel to the gateway.
pub async fn channel(gateway: &Gateway) -> Channel {
    Endpoint::from_shared(gateway.url())
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap()
}

/// An interop client through the gateway that accepts 8 MiB messages.
pub async fn test_client(gateway: &Gateway) -> TestServiceClient<Channel> {
    TestServiceClient::new(channel(gateway).await)
        .max_decoding_message_size(8 * 1024 * 1024)
        .max_encoding_message_size(8 * 1024 * 1024)
}

/// Metrics are recorded in the logging phase, after the answer went out, so
/// a scrape right after a call may not see it yet: poll until `series`
/// reaches `want` (bounded), then return the whole text.
pub async fn metrics_when(gateway: &Gateway, series: &str, want: f64) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        last = gateway.metrics().await;
        if value_of(&last, series) == Some(want) {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    last
}

pub fn value_of(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Runs `protogate COMMAND --config FILE` (`check`, `routes`) on `yaml`
/// written to `NAME` in a temporary directory: its success, stdout and
/// stderr. Error lines name the file as `NAME`'s full path.
pub fn protogate_on(command: &str, name: &str, yaml: &str) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, yaml).unwrap();
    let output = std::process::Command::new(protogate_testkit::protogate_bin())
        .arg(command)
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Every `*.yaml` file under `dir`, in subdirectories too, sorted. Hidden
/// files are left out: `tests/interop/schema_check.py` writes its probes
/// as `.schema-check-*.yaml` beside the file it probes, for a moment.
pub fn yaml_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let hidden = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}
