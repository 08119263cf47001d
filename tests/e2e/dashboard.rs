//! The Grafana dashboard of `deploy/grafana/protogate.json` against a real
//! Prometheus (the `prometheus` binary, started on a free port) scraping a
//! real gateway that serves traffic of every kind: every panel query and
//! variable query must be accepted and return data. And the `/metrics` text
//! must pass `promtool check metrics` without a lint complaint.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use protogate_demo::pb::ecommerce::v1::product_service_client::ProductServiceClient;
use protogate_demo::pb::ecommerce::v1::{GetProductRequest, ListProductsRequest};
use protogate_demo::pb::grpc::testing::unimplemented_service_client::UnimplementedServiceClient;
use protogate_demo::pb::grpc::testing::{Empty, Payload, SimpleRequest, StreamingInputCallRequest};
use protogate_demo::SEED_PRODUCT_IDS;
use protogate_testkit::{eventually, free_port, DemoUpstream, Gateway, HttpClient};

use crate::support::{channel, protos_dir, repo_dir, test_client, value_of, SERVER};

/// Every family the dashboard must chart (histograms by their base name).
const FAMILIES: &[&str] = &[
    "grpc_server_started_total",
    "grpc_server_handled_total",
    "grpc_server_handling_seconds",
    "grpc_server_msg_received_total",
    "grpc_server_msg_sent_total",
    "protogate_http_requests_total",
    "protogate_http_request_duration_seconds",
    "protogate_upstream_latency_seconds",
    "protogate_gateway_overhead_seconds",
    "protogate_received_bytes_total",
    "protogate_sent_bytes_total",
    "protogate_open_connections",
    "protogate_open_streams",
    "protogate_build_info",
    "protogate_upstream_connect_failures_total",
    "protogate_upstream_target_healthy",
    "protogate_rate_limit_decisions_total",
    "protogate_rate_limit_redis_errors_total",
    "protogate_rate_limit_redis_breaker_open",
    "protogate_config_reloads_total",
    "protogate_tracing_spans_total",
];

/// Fewer than this many panels or queries is not the dashboard.
const MIN_PANELS: usize = 20;
const MIN_QUERIES: usize = 30;

/// What `$__rate_interval` becomes: at least four scrape intervals.
const RATE_INTERVAL: &str = "30s";

/// Traffic runs at least this long, and until every query has data.
const LOAD_AT_LEAST: Duration = Duration::from_secs(5);

/// The bound on the wait for every query to have data.
const QUERIES_WITHIN: Duration = Duration::from_secs(45);

/// A gateway with a panel's worth of everything: a health-checked demo
/// upstream; a health-checked upstream on a closed port (gauge 0); one
/// without a check on another closed port (connect failures); a method
/// route with a low rate limit; the gRPC services; a transcoded REST route;
/// spans exported to a collector nobody runs.
fn config(demo: SocketAddr, down: SocketAddr, gone: SocketAddr, collector: SocketAddr) -> String {
    format!(
        r#"
{SERVER}descriptors:
  - path: {protos}/grpc/testing/interop.proto
    import_paths: [{protos}]
  - path: {protos}/ecommerce/v1/product.proto
    import_paths: [{protos}]
tracing:
  otlp: {{ endpoint: "http://{collector}" }}
  service_name: protogate-dashboard
plugins:
  - tracing: {{ sample_ratio: 1.0 }}
upstreams:
  demo:
    protocol: grpc
    targets: ["{demo}"]
    connect_timeout: 500ms
    health_check: {{ interval: 200ms, timeout: 500ms }}
  down:
    protocol: grpc
    targets: ["{down}"]
    connect_timeout: 500ms
    health_check: {{ interval: 200ms, timeout: 500ms }}
  gone:
    protocol: grpc
    targets: ["{gone}"]
    connect_timeout: 500ms
routes:
  - name: limited
    match: {{ grpc_method: grpc.testing.TestService/EmptyCall }}
    upstream: demo
    plugins:
      - rate_limit: {{ limits: [{{ requests: 5, per: 1s }}] }}
  - name: gone
    match: {{ grpc_method: grpc.testing.TestService/UnimplementedCall }}
    upstream: gone
  - name: interop
    match: {{ grpc_service: grpc.testing.TestService }}
    upstream: demo
  - name: products
    match: {{ grpc_service: ecommerce.v1.ProductService }}
    upstream: demo
  - name: down
    match: {{ grpc_service: grpc.testing.UnimplementedService }}
    upstream: down
  - name: products-rest
    match: {{ path_prefix: /v1/ }}
    upstream: demo
    plugins:
      - transcoder: {{ services: [ecommerce.v1.ProductService] }}
"#,
        protos = protos_dir(),
    )
}

/// A loopback address nobody listens on.
fn closed_port() -> SocketAddr {
    format!("127.0.0.1:{}", free_port()).parse().unwrap()
}

/// A real `prometheus` on a free loopback port scraping one target every
/// second, its TSDB in a temporary directory; killed when dropped.
struct Prometheus {
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts one scraping `target` (`host:port`, path `/metrics`) and waits
    /// until it answers `/-/ready`. Retries on a port taken meanwhile.
    async fn start(target: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("prometheus.yml"),
            format!(
                r#"global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: protogate
    static_configs:
      - targets: ["{target}"]
"#
            ),
        )
        .unwrap();
        let mut prometheus = Self {
            port: 0,
            child: None,
            dir,
        };
        for _ in 0..5 {
            prometheus.port = free_port();
            if prometheus.launch().await {
                return prometheus;
            }
        }
        panic!("prometheus did not start (its log follows)");
    }

    async fn launch(&mut self) -> bool {
        let log = std::fs::File::create(self.dir.path().join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                self.dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                self.dir
                    .path()
                    .join(format!("data-{}", self.port))
                    .display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start prometheus (is the Debian package `prometheus` installed?): {e}"
                )
            });
        self.child = Some(child);
        let ready = format!("{}/-/ready", self.url());
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return false; // exited: the port was taken
            }
            let reply = HttpClient::http1()
                .try_send(Method::GET, &ready, &[], Bytes::new())
                .await;
            if reply.is_ok_and(|reply| reply.status == 200) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.kill();
        false
    }

    /// `http://127.0.0.1:PORT`.
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What it logged so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// How many series (or label values) `probe` returns now; an error is
    /// Prometheus refusing it (or not answering).
    async fn count(&self, probe: &Probe) -> Result<usize, String> {
        let url = match probe {
            Probe::Query(promql) => {
                format!("{}/api/v1/query?query={}", self.url(), encode(promql))
            }
            Probe::LabelValues { selector, label } => format!(
                "{}/api/v1/label/{label}/values?match%5B%5D={}",
                self.url(),
                encode(selector)
            ),
        };
        let reply = HttpClient::http1()
            .try_send(Method::GET, &url, &[], Bytes::new())
            .await?;
        let body: serde_json::Value = serde_json::from_slice(&reply.body)
            .map_err(|e| format!("{} {e}: {}", reply.status, reply.text()))?;
        if body["status"] != "success" {
            return Err(format!(
                "{} {}: {}",
                reply.status,
                body["errorType"].as_str().unwrap_or(""),
                body["error"].as_str().unwrap_or("")
            ));
        }
        let data = &body["data"];
        let items = data["result"].as_array().or_else(|| data.as_array());
        Ok(items.map_or(0, Vec::len))
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Prometheus {
    /// Stops the process; when a test is failing, prints its log.
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- prometheus log ---\n{}--- end of prometheus log ---",
                self.log()
            );
        }
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One thing asked of Prometheus that must come back non-empty.
#[derive(Debug)]
enum Probe {
    /// An instant query.
    Query(String),
    /// A variable's `label_values(selector, label)`.
    LabelValues { selector: String, label: String },
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Probe::Query(promql) => f.write_str(promql),
            Probe::LabelValues { selector, label } => {
                write!(f, "label_values({selector}, {label})")
            }
        }
    }
}

/// Every panel, those inside collapsed rows included.
fn panels(list: &serde_json::Value) -> Vec<&serde_json::Value> {
    let mut all = Vec::new();
    for panel in list.as_array().into_iter().flatten() {
        all.push(panel);
        all.extend(panels(&panel["panels"]));
    }
    all
}

/// Grafana's interval variables become fixed windows, the dashboard's own
/// variables "All" (`.*`).
fn substitute(expr: &str, variables: &[String]) -> String {
    let mut expr = expr
        .replace("$__rate_interval", RATE_INTERVAL)
        .replace("$__interval", "5s")
        .replace("$__range", "5m");
    for name in variables {
        expr = expr
            .replace(&format!("${{{name}}}"), ".*")
            .replace(&format!("${name}"), ".*");
    }
    expr
}

/// The dashboard file's checks: the variables' `label_values` queries and
/// every panel query, with the shape of the file asserted on the way.
fn dashboard_probes() -> Vec<Probe> {
    let path = format!("{}/deploy/grafana/protogate.json", repo_dir());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let dashboard: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let templating = dashboard["templating"]["list"]
        .as_array()
        .expect("variables");
    assert!(
        templating.iter().any(|v| v["name"] == "datasource"
            && v["type"] == "datasource"
            && v["query"] == "prometheus"),
        "a `datasource` variable of Prometheus data sources"
    );
    let mut variables: Vec<String> = templating
        .iter()
        .filter(|v| v["type"] != "datasource")
        .filter_map(|v| v["name"].as_str().map(str::to_owned))
        .collect();
    assert!(variables.iter().any(|v| v == "route"), "{variables:?}");
    // Longest first, so `$route` cannot eat the start of `$routes`.
    variables.sort_by_key(|v| std::cmp::Reverse(v.len()));

    let mut probes = Vec::new();
    let mut exprs = Vec::new();
    for variable in templating.iter().filter(|v| v["type"] == "query") {
        let query = variable["query"]["query"]
            .as_str()
            .or_else(|| variable["query"].as_str())
            .expect("a variable query");
        let query = substitute(query, &variables);
        let (selector, label) = query
            .trim()
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
            .and_then(|q| q.rsplit_once(','))
            .unwrap_or_else(|| panic!("not label_values(selector, label): {query}"));
        probes.push(Probe::LabelValues {
            selector: selector.trim().to_owned(),
            label: label.trim().to_owned(),
        });
    }
    let all = panels(&dashboard["panels"]);
    let charts: Vec<_> = all.iter().filter(|p| p["type"] != "row").collect();
    assert!(
        charts.len() >= MIN_PANELS,
        "only {} panels in {path}",
        charts.len()
    );
    for panel in &charts {
        let title = panel["title"].as_str().unwrap_or("?");
        let targets = panel["targets"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        assert!(!targets.is_empty(), "panel {title:?} has no query");
        for target in targets {
            assert_eq!(
                target["datasource"]["uid"], "${datasource}",
                "panel {title:?}: every query on the `datasource` variable"
            );
            let expr = target["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("panel {title:?}: a target without expr"));
            let promql = substitute(expr, &variables);
            assert!(
                !promql.contains('$'),
                "panel {title:?}: an unknown variable in {expr}"
            );
            exprs.push(expr.to_owned());
            probes.push(Probe::Query(promql));
        }
    }
    assert!(
        exprs.len() >= MIN_QUERIES,
        "only {} queries in {path}",
        exprs.len()
    );
    let missing: Vec<_> = FAMILIES
        .iter()
        .filter(|family| !exprs.iter().any(|e| e.contains(**family)))
        .collect();
    assert!(missing.is_empty(), "no panel charts {missing:?}");
    probes
}

/// Outcomes of the load, as `what: code`.
#[derive(Default)]
struct Seen(HashSet<String>);

impl Seen {
    fn grpc<T>(&mut self, what: &str, result: Result<tonic::Response<T>, tonic::Status>) {
        let code = match result {
            Ok(_) => tonic::Code::Ok,
            Err(status) => status.code(),
        };
        self.0.insert(format!("{what}: {code:?}"));
    }

    fn http(&mut self, what: &str, status: http::StatusCode) {
        self.0.insert(format!("{what}: {}", status.as_u16()));
    }
}

/// Calls of every kind through the gateway, at least [`LOAD_AT_LEAST`] and
/// until `stop`.
async fn drive_load(gateway: &Gateway, stop: &AtomicBool) -> Seen {
    let mut interop = test_client(gateway).await;
    let mut products = ProductServiceClient::new(channel(gateway).await);
    let mut down = UnimplementedServiceClient::new(channel(gateway).await);
    let rest = HttpClient::http1();
    let url = gateway.url();
    let known = SEED_PRODUCT_IDS[0];
    let mut seen = Seen::default();
    let started = Instant::now();
    while started.elapsed() < LOAD_AT_LEAST || !stop.load(Ordering::Relaxed) {
        // 5 a second pass, the rest are refused.
        seen.grpc("EmptyCall", interop.empty_call(Empty {}).await);
        seen.grpc(
            "UnaryCall",
            interop.unary_call(SimpleRequest::default()).await,
        );
        let sizes = [27, 8, 1828].map(|n| StreamingInputCallRequest {
            payload: Some(Payload { body: vec![0; n] }),
        });
        seen.grpc(
            "StreamingInputCall",
            interop
                .streaming_input_call(tokio_stream::iter(sizes))
                .await,
        );
        seen.grpc(
            "UnimplementedCall (gone)",
            interop.unimplemented_call(Empty {}).await,
        );
        seen.grpc(
            "UnimplementedService (down)",
            down.unimplemented_call(Empty {}).await,
        );
        seen.grpc(
            "GetProduct known",
            products
                .get_product(GetProductRequest {
                    id: known.to_owned(),
                })
                .await,
        );
        seen.grpc(
            "GetProduct unknown",
            products
                .get_product(GetProductRequest {
                    id: "no-such-product".to_owned(),
                })
                .await,
        );
        let mut stream = products
            .list_products(ListProductsRequest::default())
            .await
            .unwrap()
            .into_inner();
        while stream.message().await.unwrap().is_some() {}
        for path in [
            format!("/v1/products/{known}"),
            "/v1/products/no-such-product".to_owned(),
            "/v1/products?pageSize=2".to_owned(),
            "/nowhere".to_owned(),
        ] {
            let reply = rest.get(&format!("{url}{path}")).await;
            seen.http(&format!("GET {path}"), reply.status);
        }
    }
    seen
}

/// Runs `promtool check metrics` on `text`: its success and everything it
/// printed (lint problems go to stderr).
fn promtool_check_metrics(text: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run promtool (is the Debian package `prometheus` installed?): {e}")
        });
    child
        .stdin
        .take()
        .expect("promtool's stdin")
        .write_all(text.as_bytes())
        .expect("write the metrics to promtool");
    let output = child.wait_with_output().expect("promtool");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[tokio::test]
async fn every_dashboard_query_has_data_in_a_real_prometheus_and_promtool_finds_no_lint() {
    let dashboard = dashboard_probes();

    let upstream = DemoUpstream::start().await;
    let gateway = Gateway::start(&config(
        upstream.addr,
        closed_port(),
        closed_port(),
        closed_port(),
    ))
    .await;
    let prometheus = Prometheus::start(&format!("127.0.0.1:{}", gateway.admin_port)).await;

    // A reload (same file: applied) for the reload counter.
    gateway.signal("HUP");
    let applied = r#"protogate_config_reloads_total{result="applied"}"#;
    eventually(
        "the reload to be applied",
        Duration::from_secs(15),
        || async {
            value_of(&gateway.metrics().await, applied)
                .is_some_and(|n| n >= 1.0)
                .then_some(())
        },
    )
    .await;

    // The scenario itself, so an empty panel points at the dashboard and
    // not at a load that missed something.
    let scenario = [
        r#"up{job="protogate"} == 1"#,
        r#"protogate_upstream_target_healthy{upstream="demo"} == 1"#,
        r#"protogate_upstream_target_healthy{upstream="down"} == 0"#,
        r#"protogate_upstream_connect_failures_total{upstream="gone"} > 0"#,
        r#"protogate_rate_limit_decisions_total{route="limited", decision="refused"} > 0"#,
        r#"grpc_server_handled_total{route="products", grpc_code="NotFound"} > 0"#,
        r#"grpc_server_msg_sent_total{grpc_method="ListProducts"} > 1"#,
        r#"protogate_http_requests_total{route="products-rest", status="404"} > 0"#,
        r#"protogate_tracing_spans_total{result="failed"} > 0"#,
    ]
    .map(|q| Probe::Query(q.to_owned()));

    let stop = AtomicBool::new(false);
    let watch = async {
        let mut pending: Vec<Probe> = scenario.into_iter().chain(dashboard).collect();
        let mut refused = Vec::new();
        let deadline = Instant::now() + QUERIES_WITHIN;
        loop {
            let mut empty = Vec::new();
            for probe in pending {
                match prometheus.count(&probe).await {
                    Ok(0) => empty.push(probe),
                    Ok(_) => {}
                    Err(e) => refused.push(format!("{probe}\n    {e}")),
                }
            }
            pending = empty;
            if pending.is_empty() || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        stop.store(true, Ordering::Relaxed);
        (pending, refused)
    };
    let (seen, (empty, refused)) = tokio::join!(drive_load(&gateway, &stop), watch);

    for outcome in [
        "EmptyCall: Ok",
        "EmptyCall: ResourceExhausted",
        "UnaryCall: Ok",
        "StreamingInputCall: Ok",
        "UnimplementedCall (gone): Unavailable",
        "UnimplementedService (down): Unavailable",
        "GetProduct known: Ok",
        "GetProduct unknown: NotFound",
        "GET /v1/products/prod-1: 200",
        "GET /v1/products/no-such-product: 404",
        "GET /v1/products?pageSize=2: 200",
        "GET /nowhere: 404",
    ] {
        assert!(
            seen.0.contains(outcome),
            "the load never saw {outcome:?}; it saw {:?}",
            seen.0
        );
    }
    assert!(
        refused.is_empty(),
        "Prometheus refused {} queries:\n{}",
        refused.len(),
        refused.join("\n")
    );
    let text = gateway.metrics().await;
    let empty: Vec<String> = empty.iter().map(ToString::to_string).collect();
    assert!(
        empty.is_empty(),
        "{} queries stayed empty for {QUERIES_WITHIN:?}:\n{}\n--- /metrics ---\n{text}",
        empty.len(),
        empty.join("\n"),
    );

    let (ok, printed) = tokio::task::spawn_blocking(move || promtool_check_metrics(&text))
        .await
        .unwrap();
    assert!(
        ok && printed.trim().is_empty(),
        "promtool check metrics (success: {ok}):\n{printed}"
    );
}
