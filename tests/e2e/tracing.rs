//! The `tracing` plugin end to end: a real OTLP receiver (HTTP and gRPC)
//! decoding the OTLP protobuf, a raw upstream that records the `traceparent` it
//! received, and raw HTTP/2 gRPC calls.

use protogate_testkit::{frame, Gateway, OtlpReceiver, OtlpSpan, RawClient, RawUpstream};

use crate::support::{protos_dir, SERVER};

const SERVER_KIND: i32 = 2;
const CLIENT_KIND: i32 = 3;
const ECHO: &str = "/protogate.testing.v1.EchoService/Echo";

fn config(receiver: &OtlpReceiver, upstream: &str, sample_ratio: f64) -> String {
    format!(
        r#"
{SERVER}descriptors:
  - path: {protos}/protogate/testing/v1/transcoding.proto
    import_paths: [{protos}]
tracing:
  otlp: {{ endpoint: "{endpoint}" }}
  service_name: protogate-test
plugins:
  - tracing: {{ sample_ratio: {sample_ratio} }}
upstreams:
  raw: {{ protocol: grpc, targets: ["{upstream}"] }}
routes:
  - name: echo
    match: {{ grpc_service: protogate.testing.v1.EchoService }}
    upstream: raw
"#,
        protos = protos_dir(),
        endpoint = receiver.endpoint(),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute(span: &OtlpSpan, key: &str) -> Option<String> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    let value = span
        .attributes
        .iter()
        .find(|kv| kv.key == key)?
        .value
        .as_ref()?;
    match value.value.as_ref()? {
        Value::StringValue(s) => Some(s.clone()),
        Value::IntValue(i) => Some(i.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// Makes `times` Echo calls, each of which succeeds.
async fn echo_ok(client: &RawClient, times: usize) {
    for _ in 0..times {
        assert_eq!(
            client.call(ECHO, &[], frame(b"")).await.grpc_status(),
            Some("0")
        );
    }
}

/// Waits (bounded) until `protogate_tracing_spans_total{result}` reaches
/// `at_least`.
async fn spans_counted(gateway: &Gateway, result: &str, at_least: f64) {
    let series = format!("protogate_tracing_spans_total{{result=\"{result}\"}}");
    protogate_testkit::eventually(
        &format!("{at_least} spans counted as {result}"),
        std::time::Duration::from_secs(15),
        || async {
            let metrics = gateway.metrics().await;
            let count = crate::support::value_of(&metrics, &series).unwrap_or(0.0);
            (count >= at_least).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_grpc_call_continues_the_callers_trace_and_the_upstream_sees_the_client_span() {
    let receiver = OtlpReceiver::start().await;
    let raw = RawUpstream::start().await;
    let gateway = Gateway::start(&config(&receiver, &raw.addr.to_string(), 1.0)).await;
    let client = RawClient::connect(gateway.port).await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let reply = client
        .call(
            ECHO,
            &[
                ("traceparent", &format!("00-{trace}-{caller_span}-01")),
                ("tracestate", "vendor=abc"),
            ],
            frame(b""),
        )
        .await;
    assert_eq!(reply.grpc_status(), Some("0"));

    let spans = receiver.wait_for(2).await;
    let server = spans
        .iter()
        .find(|(_, s)| s.kind == SERVER_KIND)
        .expect("a server span");
    let client_span = spans
        .iter()
        .find(|(_, s)| s.kind == CLIENT_KIND)
        .expect("a client span");
    let (service, server) = server;
    let (_, client_span) = client_span;
    assert_eq!(service, "protogate-test");
    assert_eq!(
        hex(&server.trace_id),
        trace,
        "the caller's trace is continued"
    );
    assert_eq!(hex(&server.parent_span_id), caller_span);
    assert_eq!(hex(&client_span.trace_id), trace);
    assert_eq!(
        client_span.parent_span_id, server.span_id,
        "client under server"
    );
    assert_eq!(server.name, "protogate.testing.v1.EchoService/Echo");
    assert_eq!(
        attribute(server, "rpc.system.name").as_deref(),
        Some("grpc")
    );
    assert_eq!(
        attribute(server, "rpc.method").as_deref(),
        Some("protogate.testing.v1.EchoService/Echo")
    );
    assert_eq!(
        attribute(server, "rpc.response.status_code").as_deref(),
        Some("OK")
    );
    assert_eq!(
        attribute(server, "protogate.route").as_deref(),
        Some("echo")
    );
    assert!(server.start_time_unix_nano <= client_span.start_time_unix_nano);
    assert!(client_span.end_time_unix_nano <= server.end_time_unix_nano);

    let seen = raw.seen();
    let sent = seen.last().expect("the upstream got the call");
    assert_eq!(
        sent["traceparent"],
        format!("00-{trace}-{}-01", hex(&client_span.span_id)).as_str(),
        "the upstream sees the exported client span as its parent"
    );
    assert_eq!(sent["tracestate"], "vendor=abc");
}

#[tokio::test]
async fn unsampled_calls_are_not_exported_unless_they_fail() {
    let receiver = OtlpReceiver::start().await;
    let raw = RawUpstream::start().await;
    let dead = protogate_testkit::free_port();
    let yaml = config(&receiver, &raw.addr.to_string(), 0.0).replace(
        "routes:\n",
        &format!(
            "  dead: {{ protocol: grpc, targets: [\"127.0.0.1:{dead}\"], connect_timeout: 1s }}\nroutes:\n  - name: dead\n    match: {{ grpc_method: protogate.testing.v1.EchoService/Fail }}\n    upstream: dead\n"
        ),
    );
    let gateway = Gateway::start(&yaml).await;
    let client = RawClient::connect(gateway.port).await;

    // Ratio 0: a new trace that succeeds is not recorded.
    assert_eq!(
        client.call(ECHO, &[], frame(b"")).await.grpc_status(),
        Some("0")
    );
    // The caller said "not sampled": not recorded even though it fails.
    let refused_trace = "11111111111111111111111111111111";
    let failed = client
        .call(
            "/protogate.testing.v1.EchoService/Fail",
            &[(
                "traceparent",
                &format!("00-{refused_trace}-2222222222222222-00"),
            )],
            frame(b""),
        )
        .await;
    assert_eq!(failed.grpc_status(), Some("14"));
    // A failure in a new trace is recorded although the ratio passed it over.
    let failed = client
        .call("/protogate.testing.v1.EchoService/Fail", &[], frame(b""))
        .await;
    assert_eq!(failed.grpc_status(), Some("14"));

    let spans = receiver.wait_for(1).await;
    let (_, server) = spans
        .iter()
        .find(|(_, s)| s.kind == SERVER_KIND)
        .expect("the failed call's server span");
    assert_eq!(
        attribute(server, "rpc.response.status_code").as_deref(),
        Some("UNAVAILABLE")
    );
    assert_eq!(
        attribute(server, "error.type").as_deref(),
        Some("UNAVAILABLE")
    );
    assert_eq!(
        server.status.as_ref().map(|s| s.code),
        Some(2),
        "status ERROR"
    );
    // Spans leave in order through one queue: by now the earlier calls'
    // spans would have arrived too, had they been recorded.
    let traces: Vec<String> = receiver
        .spans()
        .iter()
        .map(|(_, s)| hex(&s.trace_id))
        .collect();
    assert!(
        traces.iter().all(|t| t == &hex(&server.trace_id)),
        "{traces:?}"
    );
    assert!(!traces.contains(&refused_trace.to_owned()));
}

#[tokio::test]
async fn spans_also_go_over_otlp_grpc() {
    let receiver = OtlpReceiver::start_grpc().await;
    let raw = RawUpstream::start().await;
    let gateway = Gateway::start(&config(&receiver, &raw.addr.to_string(), 1.0)).await;
    let client = RawClient::connect(gateway.port).await;
    echo_ok(&client, 1).await;
    let spans = receiver.wait_for(2).await;
    let kinds: Vec<i32> = spans.iter().map(|(_, s)| s.kind).collect();
    assert!(
        kinds.contains(&SERVER_KIND) && kinds.contains(&CLIENT_KIND),
        "{kinds:?}"
    );
    assert!(spans.iter().all(|(service, _)| service == "protogate-test"));
    // The receiver has the spans a moment before the exporter has its
    // answer and counts them.
    spans_counted(&gateway, "exported", 2.0).await;
}

fn rest_config(receiver: &OtlpReceiver, upstream: &str) -> String {
    format!(
        r#"
{SERVER}descriptors:
  - path: {protos}/protogate/testing/v1/transcoding.proto
    import_paths: [{protos}]
tracing:
  otlp: {{ endpoint: "{endpoint}" }}
  service_name: protogate-test
upstreams:
  demo: {{ protocol: grpc, targets: ["{upstream}"] }}
routes:
  - name: rest
    match: {{ path_prefix: /v1/ }}
    upstream: demo
    plugins:
      - tracing: {{ sample_ratio: 1.0 }}
      - transcoder: {{ services: [protogate.testing.v1.EchoService] }}
"#,
        protos = protos_dir(),
        endpoint = receiver.endpoint(),
    )
}

/// The SERVER and CLIENT span of the one call of `trace`.
fn spans_of(spans: &[(String, OtlpSpan)], trace: &str) -> (OtlpSpan, OtlpSpan) {
    let of_kind = |kind| {
        spans
            .iter()
            .map(|(_, s)| s)
            .find(|s| s.kind == kind && hex(&s.trace_id) == trace)
            .cloned()
            .unwrap_or_else(|| panic!("a span of kind {kind} in trace {trace}: {spans:?}"))
    };
    (of_kind(SERVER_KIND), of_kind(CLIENT_KIND))
}

#[tokio::test]
async fn a_transcoded_rest_call_carries_the_http_and_the_rpc_view() {
    use protogate_testkit::{DemoUpstream, HttpClient};
    let receiver = OtlpReceiver::start().await;
    let upstream = DemoUpstream::start().await;
    let gateway = Gateway::start(&rest_config(&receiver, &upstream.addr.to_string())).await;
    let ok_trace = "0af7651916cd43dd8448eb211c80319c";
    let failed_trace = "1af7651916cd43dd8448eb211c80319c";
    let traceparent = |trace: &str| format!("00-{trace}-b7ad6b7169203331-01");

    let reply = HttpClient::http1()
        .send(
            http::Method::GET,
            &format!("{}/v1/echo/abc", gateway.url()),
            &[("traceparent", &traceparent(ok_trace))],
            bytes::Bytes::new(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply = HttpClient::http1()
        .send(
            http::Method::POST,
            &format!("{}/v1/fail", gateway.url()),
            &[
                ("traceparent", &traceparent(failed_trace)),
                ("content-type", "application/json"),
            ],
            bytes::Bytes::from_static(br#"{"code":14,"message":"down"}"#),
        )
        .await;
    assert_eq!(reply.status, 503, "{}", reply.text());

    let spans = receiver.wait_for(4).await;
    let (server, client) = spans_of(&spans, ok_trace);
    assert_eq!(server.name, "GET /v1/echo/{id}");
    for (key, value) in [
        ("http.request.method", "GET"),
        ("url.path", "/v1/echo/abc"),
        ("http.route", "/v1/echo/{id}"),
        ("http.response.status_code", "200"),
        ("rpc.system.name", "grpc"),
        ("rpc.method", "protogate.testing.v1.EchoService/Echo"),
        ("rpc.response.status_code", "OK"),
        ("protogate.route", "rest"),
    ] {
        assert_eq!(attribute(&server, key).as_deref(), Some(value), "{key}");
    }
    assert_eq!(server.status, None, "a success sets no status");
    assert_eq!(hex(&server.parent_span_id), "b7ad6b7169203331");
    assert_eq!(client.parent_span_id, server.span_id);
    assert_eq!(client.name, "protogate.testing.v1.EchoService/Echo");
    assert_eq!(
        attribute(&client, "rpc.response.status_code").as_deref(),
        Some("OK")
    );

    let (server, client) = spans_of(&spans, failed_trace);
    assert_eq!(server.name, "POST /v1/fail");
    assert_eq!(
        attribute(&server, "http.response.status_code").as_deref(),
        Some("503")
    );
    assert_eq!(
        attribute(&server, "rpc.response.status_code").as_deref(),
        Some("UNAVAILABLE")
    );
    assert_eq!(attribute(&server, "error.type").as_deref(), Some("503"));
    assert_eq!(server.status.as_ref().map(|s| s.code), Some(2), "ERROR");
    assert_eq!(
        attribute(&client, "error.type").as_deref(),
        Some("UNAVAILABLE")
    );
    assert_eq!(client.status.as_ref().map(|s| s.code), Some(2), "ERROR");
}

#[tokio::test]
async fn a_stopped_collector_costs_calls_nothing_and_lost_spans_are_counted() {
    let mut receiver = OtlpReceiver::start().await;
    let raw = RawUpstream::start().await;
    let gateway = Gateway::start(&config(&receiver, &raw.addr.to_string(), 1.0)).await;
    let client = RawClient::connect(gateway.port).await;
    echo_ok(&client, 1).await;
    receiver.wait_for(2).await;

    receiver.stop();
    echo_ok(&client, 20).await;
    spans_counted(&gateway, "failed", 40.0).await;
}

#[tokio::test]
async fn a_collector_that_never_answers_fills_the_queue_and_spans_are_dropped() {
    // Accepts connections and never answers: every export waits out its
    // timeout while calls keep finishing.
    let black_hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hole = black_hole.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = black_hole.accept().await {
            held.push(stream);
        }
    });
    let receiver = OtlpReceiver::start().await;
    let raw = RawUpstream::start().await;
    let yaml = config(&receiver, &raw.addr.to_string(), 1.0)
        .replace(&receiver.endpoint(), &format!("http://{hole}"))
        .replace(
            "service_name: protogate-test\n",
            "service_name: protogate-test\n  batch: { size: 2, delay: 10ms, queue: 4 }\n",
        );
    let gateway = Gateway::start(&yaml).await;
    let client = RawClient::connect(gateway.port).await;
    echo_ok(&client, 30).await;
    // 60 spans: the hung export took at most 4 (the queue's bound), at
    // most 4 more wait, and the rest are dropped rather than waited for.
    spans_counted(&gateway, "dropped", 52.0).await;
}

#[tokio::test]
async fn rate_limit_refusals_and_retries_are_span_events() {
    let receiver = OtlpReceiver::start().await;
    let refusing = RawUpstream::start_refusing(true).await;
    let good = RawUpstream::start().await;
    let yaml = config(&receiver, &good.addr.to_string(), 1.0)
        .replace(
            &format!("targets: [\"{}\"]", good.addr),
            &format!("targets: [\"{}\", \"{}\"]", refusing.addr, good.addr),
        )
        .replace(
            "    upstream: raw\n",
            "    upstream: raw\n    plugins:\n      - rate_limit: { limits: [{ requests: 1, per: 1h, burst: 2 }] }\n",
        );
    let gateway = Gateway::start(&yaml).await;
    let client = RawClient::connect(gateway.port).await;
    // Two calls: round robin starts one of them on the refusing target,
    // which never processes it, so the gateway replays it on the other.
    for _ in 0..2 {
        assert_eq!(
            client.call(ECHO, &[], frame(b"")).await.grpc_status(),
            Some("0")
        );
    }
    let refused = client.call(ECHO, &[], frame(b"")).await;
    assert_eq!(refused.grpc_status(), Some("8"));

    // 3 SERVER spans; CLIENT spans: 1 + 2 for the replayed call.
    let spans = receiver.wait_for(6).await;
    let retried: Vec<&OtlpSpan> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.kind == CLIENT_KIND && s.events.iter().any(|e| e.name == "retry"))
        .collect();
    assert_eq!(retried.len(), 1, "one call was replayed on the next target");
    let first = retried[0];
    assert_eq!(attribute(first, "error.type").as_deref(), Some("retried"));
    assert_eq!(first.status.as_ref().map(|s| s.code), Some(2), "ERROR");
    let second: Vec<&OtlpSpan> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| {
            s.kind == CLIENT_KIND && s.trace_id == first.trace_id && s.span_id != first.span_id
        })
        .collect();
    assert_eq!(second.len(), 1, "the replay is an attempt of its own");
    let second = second[0];
    assert_eq!(
        second.parent_span_id, first.parent_span_id,
        "both under the server span"
    );
    assert!(first.end_time_unix_nano <= second.start_time_unix_nano);
    assert_eq!(
        attribute(second, "rpc.response.status_code").as_deref(),
        Some("OK")
    );
    // The target that processed the call saw the replay's own context.
    let seen = good.seen();
    assert!(
        seen.iter().any(|headers| headers["traceparent"]
            == format!("00-{}-{}-01", hex(&second.trace_id), hex(&second.span_id)).as_str()),
        "the good target got the second attempt's traceparent: {seen:?}"
    );
    let limited: Vec<_> = spans
        .iter()
        .filter(|(_, s)| s.kind == SERVER_KIND && s.events.iter().any(|e| e.name == "rate_limited"))
        .collect();
    assert_eq!(limited.len(), 1, "{spans:?}");
    let (_, span) = limited[0];
    assert_eq!(
        attribute(span, "rpc.response.status_code").as_deref(),
        Some("RESOURCE_EXHAUSTED")
    );
}

#[tokio::test]
async fn b3_single_and_multi_headers_are_continued_when_configured() {
    let receiver = OtlpReceiver::start().await;
    let raw = RawUpstream::start().await;
    let yaml = config(&receiver, &raw.addr.to_string(), 1.0).replace(
        "- tracing: { sample_ratio: 1 }",
        "- tracing: { sample_ratio: 1, propagation: [w3c, b3, b3multi] }",
    );
    assert!(yaml.contains("propagation"), "{yaml}");
    let gateway = Gateway::start(&yaml).await;
    let client = RawClient::connect(gateway.port).await;
    let trace = "80f198ee56343ba864fe8b2a57d3eff7";
    let caller = "e457b5a2e4d86bd1";
    let reply = client
        .call(ECHO, &[("b3", &format!("{trace}-{caller}-1"))], frame(b""))
        .await;
    assert_eq!(reply.grpc_status(), Some("0"));
    let spans = receiver.wait_for(2).await;
    let (_, server) = spans.iter().find(|(_, s)| s.kind == SERVER_KIND).unwrap();
    let (_, client_span) = spans.iter().find(|(_, s)| s.kind == CLIENT_KIND).unwrap();
    assert_eq!(hex(&server.trace_id), trace);
    assert_eq!(hex(&server.parent_span_id), caller);
    let ours = hex(&client_span.span_id);
    let seen = raw.seen();
    let sent = seen.last().unwrap();
    assert_eq!(sent["b3"], format!("{trace}-{ours}-1").as_str());
    assert_eq!(
        sent["traceparent"],
        format!("00-{trace}-{ours}-01").as_str()
    );
    assert_eq!(sent["x-b3-traceid"], trace);
    assert_eq!(sent["x-b3-spanid"], ours.as_str());
    assert_eq!(sent["x-b3-sampled"], "1");

    // The multi-header form, 64-bit trace id, "not sampled": continued,
    // not exported, and passed on as not sampled.
    let reply = client
        .call(
            ECHO,
            &[
                ("x-b3-traceid", "463ac35c9f6413ad"),
                ("x-b3-spanid", "a2fb4a1d1a96d312"),
                ("x-b3-sampled", "0"),
            ],
            frame(b""),
        )
        .await;
    assert_eq!(reply.grpc_status(), Some("0"));
    let seen = raw.seen();
    let sent = seen.last().unwrap();
    assert_eq!(sent["x-b3-traceid"], "0000000000000000463ac35c9f6413ad");
    assert_eq!(sent["x-b3-sampled"], "0");
    assert!(sent["traceparent"].to_str().unwrap().ends_with("-00"));
}

#[tokio::test]
async fn json_access_lines_carry_the_trace_id_of_the_exported_spans() {
    let receiver = OtlpReceiver::start().await;
    let raw = RawUpstream::start().await;
    let gateway =
        protogate_testkit::GatewayBuilder::new(&config(&receiver, &raw.addr.to_string(), 1.0))
            .log_filter("warn,protogate::access=info")
            .env("PROTOGATE_LOG_FORMAT", "json")
            .start()
            .await;
    let client = RawClient::connect(gateway.port).await;
    assert_eq!(
        client
            .call(ECHO, &[("x-request-id", "r-1")], frame(b""))
            .await
            .grpc_status(),
        Some("0")
    );
    let spans = receiver.wait_for(2).await;
    let (_, server) = spans.iter().find(|(_, s)| s.kind == SERVER_KIND).unwrap();
    let line = protogate_testkit::eventually(
        "the access line",
        std::time::Duration::from_secs(10),
        || async {
            gateway
                .log()
                .lines()
                .find(|l| l.contains("protogate::access"))
                .map(str::to_owned)
        },
    )
    .await;
    let entry: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(entry["target"], "protogate::access");
    let fields = &entry["fields"];
    assert_eq!(fields["trace_id"], hex(&server.trace_id).as_str(), "{line}");
    assert_eq!(fields["route"], "echo");
    assert_eq!(fields["grpc"], "OK");
    assert_eq!(fields["path"], ECHO);
    assert_eq!(fields["status"], 200);
}

/// The Python upstream of `tests/interop/otel_upstream.py`, killed on drop.
struct PythonUpstream {
    child: std::process::Child,
    port: u16,
}

impl PythonUpstream {
    fn start(endpoint: &str) -> Self {
        use std::io::BufRead;
        let script = format!(
            "{}/tests/interop/otel_upstream.py",
            crate::support::repo_dir()
        );
        let mut child = std::process::Command::new(crate::python_interop::python())
            .arg(script)
            .arg(endpoint)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the Python upstream");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("its port");
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("not a port: {line:?}"));
        Self { child, port }
    }

    /// Closes its stdin: it stops and flushes its spans.
    fn finish(&mut self) {
        drop(self.child.stdin.take());
    }
}

impl Drop for PythonUpstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_gateway_span_and_a_python_services_span_form_one_trace() {
    let receiver = OtlpReceiver::start().await;
    let mut python = PythonUpstream::start(&format!("{}/v1/traces", receiver.endpoint()));
    let upstream = format!("127.0.0.1:{}", python.port);
    let gateway = Gateway::start(&config(&receiver, &upstream, 1.0)).await;
    let client = RawClient::connect(gateway.port).await;
    let reply = client.call(ECHO, &[], frame(b"\x08\x01")).await;
    assert_eq!(reply.grpc_status(), Some("0"), "{:?}", reply.grpc_message());
    python.finish();

    let spans = receiver.wait_for(3).await;
    let (_, ours) = spans
        .iter()
        .find(|(service, s)| service == "protogate-test" && s.kind == CLIENT_KIND)
        .expect("the gateway's client span");
    let (_, theirs) = spans
        .iter()
        .find(|(service, _)| service == "py-upstream")
        .unwrap_or_else(|| panic!("the Python service's span: {spans:?}"));
    assert_eq!(theirs.kind, SERVER_KIND);
    assert_eq!(theirs.trace_id, ours.trace_id, "one trace");
    assert_eq!(
        theirs.parent_span_id, ours.span_id,
        "the service's span is a child of the gateway's"
    );
}
