//! The `header_map` plugin end to end: a raw HTTP/2 upstream reports the
//! exact request headers it received, the demo's tonic `EchoService` echoes
//! metadata back as response headers and trailers, and calls come in as
//! native gRPC, gRPC-Web and REST (through the transcoder).

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use bytes::{Buf, Bytes};
use http::Method;
use protogate_testkit::{frame, DemoUpstream, Gateway, HttpClient, RawClient, RawUpstream};

use crate::support::{protos_dir, SERVER};

fn config(demo: &str, raw: &str) -> String {
    format!(
        r#"
{SERVER}descriptors:
  - path: {protos}/protogate/testing/v1/transcoding.proto
    import_paths: [{protos}]
upstreams:
  demo: {{ protocol: grpc, targets: ["{demo}"] }}
  raw: {{ protocol: grpc, targets: ["{raw}"] }}
routes:
  - name: raw
    match: {{ grpc_method: protogate.testing.v1.EchoService/Unannotated }}
    upstream: raw
    plugins:
      - header_map:
          request:
            remove: [x-internal-debug]
            rename: {{ x-tenant: customerid, x-data-bin: x-moved-bin }}
            set:
              x-gateway: protogate
              x-client-ip: "${{client_ip}}"
              x-route: "${{route}}"
              x-method: "${{grpc_method}}"
              x-caller: "agent=${{header.user-agent}}"
              x-absent: "${{header.x-not-sent}}"
              grpc-region: eu
              host: api.internal
            add: {{ x-via: protogate, x-static-bin: "AAEC/w" }}
  - name: echo
    match: {{ grpc_service: protogate.testing.v1.EchoService }}
    upstream: demo
    plugins:
      - header_map:
          response:
            rename: {{ x-grpc-test-echo-initial: x-initial }}
            set: {{ x-served-by: protogate }}
          trailers:
            rename: {{ x-grpc-test-echo-trailing-bin: x-trailing-bin }}
            set: {{ x-trailer-note: checked }}
            allow_reserved: [grpc-message]
            remove: [grpc-message]
  - name: rest
    match: {{ path_prefix: /v1/ }}
    upstream: raw
    plugins:
      - header_map:
          request:
            remove: [x-internal-debug]
            rename: {{ x-tenant: customerid }}
            set: {{ x-q: "${{query.q}}", x-gateway: protogate, x-item: "item-${{path.id}}" }}
            add: {{ x-via: protogate }}
          response:
            set: {{ x-served-by: protogate }}
            add: {{ x-hop: "1" }}
      - transcoder:
          unknown_fields: ignore       # `q` is for the header rule, not the message
          bindings:
            - {{ rpc: protogate.testing.v1.EchoService/Echo, post: "/v1/echo/{{id}}", body: "*" }}
"#,
        protos = protos_dir(),
    )
}

async fn start() -> (Gateway, DemoUpstream, RawUpstream) {
    let demo = DemoUpstream::start().await;
    let raw = RawUpstream::start().await;
    let gateway = Gateway::start(&config(&demo.addr.to_string(), &raw.addr.to_string())).await;
    (gateway, demo, raw)
}

/// Binary metadata values decoded, padded or not.
fn binary(value: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(value).unwrap();
    STANDARD_NO_PAD.decode(text.trim_end_matches('=')).unwrap()
}

#[tokio::test]
async fn request_rules_reach_a_grpc_upstream_exactly() {
    let (gateway, _demo, raw) = start().await;
    let client = RawClient::connect(gateway.port).await;
    let reply = client
        .call(
            "/protogate.testing.v1.EchoService/Unannotated",
            &[
                ("x-internal-debug", "1"),
                ("x-tenant", "acme"),
                ("x-data-bin", "AAEC/w=="),
                ("user-agent", "grpc-test/1.0"),
                ("x-gateway", "from-the-caller"),
                ("x-via", "edge"),
            ],
            frame(b"ping"),
        )
        .await;
    assert_eq!(reply.grpc_status(), Some("0"));
    let seen = raw.seen();
    let got = seen.last().unwrap();
    assert!(got.get("x-internal-debug").is_none(), "removed");
    assert!(got.get("x-tenant").is_none(), "renamed away");
    assert_eq!(got["customerid"], "acme");
    assert_eq!(
        binary(got["x-moved-bin"].as_bytes()),
        [0, 1, 2, 255],
        "binary metadata renamed byte for byte"
    );
    assert_eq!(
        got["x-gateway"], "protogate",
        "set replaces the caller's value"
    );
    assert_eq!(got["x-client-ip"], "127.0.0.1");
    assert_eq!(got["x-route"], "raw");
    assert_eq!(
        got["x-method"],
        "protogate.testing.v1.EchoService/Unannotated"
    );
    assert_eq!(got["x-caller"], "agent=grpc-test/1.0");
    assert!(
        got.get("x-absent").is_none(),
        "a missing source skips the rule"
    );
    assert_eq!(
        got["in-grpc-region"], "eu",
        "reserved names are moved aside"
    );
    assert!(got.get("grpc-region").is_none());
    let via: Vec<_> = got.get_all("x-via").iter().collect();
    assert_eq!(via, ["edge", "protogate"], "add appends");
    assert_eq!(binary(got["x-static-bin"].as_bytes()), [0, 1, 2, 255]);
    assert_eq!(got["te"], "trailers", "te survives");
    assert_eq!(
        raw.authorities().last().unwrap(),
        "api.internal",
        "host is the HTTP/2 upstream's :authority"
    );
    assert_eq!(got["content-type"], "application/grpc");
}

#[tokio::test]
async fn response_and_trailer_rules_on_grpc_and_grpc_web() {
    let (gateway, _demo, _raw) = start().await;
    let echo_headers = [
        ("x-grpc-test-echo-initial", "hello"),
        ("x-grpc-test-echo-trailing-bin", "AAEC/w"),
    ];
    let kitchen =
        prost::Message::encode_to_vec(&protogate_demo::pb::protogate::testing::v1::Kitchen {
            id: "k".into(),
            ..Default::default()
        });
    // Native gRPC.
    let client = RawClient::connect(gateway.port).await;
    let reply = client
        .call(
            "/protogate.testing.v1.EchoService/Echo",
            &echo_headers,
            frame(&kitchen),
        )
        .await;
    assert_eq!(reply.headers["x-initial"], "hello");
    assert!(reply.headers.get("x-grpc-test-echo-initial").is_none());
    assert_eq!(reply.headers["x-served-by"], "protogate");
    let trailers = reply.trailers.as_ref().unwrap();
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(
        binary(trailers["x-trailing-bin"].as_bytes()),
        [0, 1, 2, 255]
    );
    assert_eq!(trailers["x-trailer-note"], "checked");

    // A trailers-only error: the trailer rules apply to its header.
    let fail =
        prost::Message::encode_to_vec(&protogate_demo::pb::protogate::testing::v1::FailRequest {
            code: 7,
            message: "secret detail".into(),
            with_details: false,
        });
    let reply = client
        .call("/protogate.testing.v1.EchoService/Fail", &[], frame(&fail))
        .await;
    assert_eq!(reply.grpc_status(), Some("7"));
    assert_eq!(reply.grpc_message(), None, "grpc-message removed (allowed)");
    assert_eq!(reply.headers["x-trailer-note"], "checked");

    // gRPC-Web over HTTP/1.1: the trailer rules shape the trailer frame.
    let mut headers = vec![("content-type", "application/grpc-web+proto")];
    headers.extend_from_slice(&echo_headers);
    let reply = HttpClient::http1()
        .send(
            Method::POST,
            &format!("{}/protogate.testing.v1.EchoService/Echo", gateway.url()),
            &headers,
            frame(&kitchen),
        )
        .await;
    assert_eq!(reply.headers["x-initial"], "hello");
    assert_eq!(reply.headers["x-served-by"], "protogate");
    let mut body = &reply.body[..];
    let mut trailer_block = String::new();
    while body.has_remaining() {
        let flag = body.get_u8();
        let len = body.get_u32() as usize;
        if flag & 0x80 != 0 {
            trailer_block = String::from_utf8(body[..len].to_vec()).unwrap();
        }
        body.advance(len);
    }
    assert!(
        trailer_block.contains("x-trailer-note: checked\r\n"),
        "{trailer_block}"
    );
    let line = trailer_block
        .lines()
        .find_map(|l| l.strip_prefix("x-trailing-bin: "))
        .unwrap_or_else(|| panic!("{trailer_block}"));
    assert_eq!(binary(line.as_bytes()), [0, 1, 2, 255]);
}

#[tokio::test]
async fn rest_calls_get_the_rules_on_metadata_and_answer() {
    let (gateway, _demo, raw) = start().await;
    let reply = HttpClient::http1()
        .send(
            Method::POST,
            &format!("{}/v1/echo/k-9?q=caf%C3%A9", gateway.url()),
            &[
                ("content-type", "application/json"),
                ("x-tenant", "acme"),
                ("x-internal-debug", "1"),
                ("x-via", "edge"),
            ],
            Bytes::from_static(b"{\"name\":\"n\"}"),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.headers["x-served-by"], "protogate");
    assert_eq!(reply.headers["x-hop"], "1");
    let seen = raw.seen();
    let got = seen.last().unwrap();
    assert!(got.get("x-internal-debug").is_none(), "removed");
    let via: Vec<_> = got.get_all("x-via").iter().collect();
    assert_eq!(
        via,
        ["edge", "protogate"],
        "add appends to the forwarded header"
    );
    assert_eq!(got["customerid"], "acme");
    assert_eq!(got["x-gateway"], "protogate");
    assert_eq!(got["x-item"], "item-k-9", "a transcoder path variable");
    // Query values are percent-decoded; header values must be ASCII, so a
    // non-ASCII value skips the rule rather than mangling it.
    assert!(got.get("x-q").is_none(), "{got:?}");
    let reply = HttpClient::http1()
        .send(
            Method::POST,
            &format!("{}/v1/echo/k-9?q=plain+text", gateway.url()),
            &[("content-type", "application/json")],
            Bytes::from_static(b"{}"),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(raw.seen().last().unwrap()["x-q"], "plain text");
}

#[test]
fn check_refuses_bad_rules_with_their_position_and_routes_shows_them() {
    let run = |command: &str, yaml: &str| {
        let (ok, stdout, stderr) = crate::support::protogate_on(command, "rules.yaml", yaml);
        (ok, format!("{stdout}{stderr}"))
    };

    let bad = r#"server:
  listen: [{ address: "127.0.0.1:0" }]
upstreams:
  demo: { protocol: grpc, targets: ["127.0.0.1:1"] }
routes:
  - name: a
    match: { grpc_service: pkg.Svc }
    upstream: demo
    plugins:
      - header_map:
          trailers:
            remove: [grpc-status]
  - name: b
    match: { path_prefix: /v1/ }
    upstream: demo
    plugins:
      - transcoder: { bindings: [] }
      - header_map: { request: { set: { x-a: b } } }
  - name: c
    match: { path_prefix: /v2/ }
    upstream: demo
    plugins:
      - header_map: { request: { set: { x-a: "${path.nope}" } } }
      - transcoder:
          bindings: [{ rpc: protogate.testing.v1.EchoService/Echo, get: "/v2/{id}" }]
descriptors:
  - path: PROTOS/protogate/testing/v1/transcoding.proto
    import_paths: [PROTOS]
"#
    .replace("PROTOS", &protos_dir());
    let (ok, text) = run("check", &bad);
    assert!(!ok);
    assert!(
        text.contains("rules.yaml:12:22: routes[0].plugins[0].header_map.trailers.remove: `grpc-status` is reserved for gRPC; list it under `allow_reserved` to change it"),
        "{text}"
    );
    assert!(
        text.contains("rules.yaml:18:9: routes[1].plugins[1].header_map: header_map must come before transcoder"),
        "{text}"
    );
    assert!(
        text.contains("rules.yaml:23:9: routes[2].plugins[0].header_map: no binding of this route's transcoder has the path variable `nope`; its path variables: id"),
        "{text}"
    );
    let reserved = r#"server:
  listen: [{ address: "127.0.0.1:0" }]
upstreams:
  demo: { protocol: grpc, targets: ["127.0.0.1:1"] }
routes:
  - name: a
    match: { grpc_service: pkg.Svc }
    upstream: demo
    plugins:
      - header_map:
          request: { set: { grpc-tenant: "${header.x-tenant}" } }
"#;
    let (ok, text) = run("routes", reserved);
    assert!(ok, "{text}");
    assert!(
        text.contains(
            "request: note: `grpc-tenant` is reserved for gRPC and is written as `in-grpc-tenant`"
        ),
        "{text}"
    );
    assert!(
        text.contains("request: set in-grpc-tenant: \"${header.x-tenant}\""),
        "{text}"
    );
}

#[tokio::test]
async fn request_ids_and_gateway_headers_and_the_access_log() {
    let raw = RawUpstream::start().await;
    let yaml = format!(
        r#"
{SERVER}upstreams:
  raw: {{ protocol: grpc, targets: ["{addr}"] }}
routes:
  - name: traced
    match: {{ grpc_service: test.Raw }}
    upstream: raw
    plugins:
      - header_map:
          request_id: true
          gateway_headers: true
          request: {{ set: {{ x-rid: "${{request_id}}" }} }}
"#,
        addr = raw.addr
    );
    let gateway = protogate_testkit::GatewayBuilder::new(&yaml)
        .log_filter("warn,protogate::access=info")
        .start()
        .await;
    let client = RawClient::connect(gateway.port).await;
    // The caller's id is kept, passed upstream and returned.
    let reply = client
        .call(
            "/test.Raw/Echo",
            &[("x-request-id", "caller-id-1")],
            frame(b"a"),
        )
        .await;
    assert_eq!(reply.headers["x-request-id"], "caller-id-1");
    let upstream = raw.seen().last().unwrap().clone();
    assert_eq!(upstream["x-request-id"], "caller-id-1");
    assert_eq!(
        upstream["x-rid"], "caller-id-1",
        "${{request_id}} in a template"
    );
    assert_eq!(upstream["via"], "2 protogate");
    assert_eq!(reply.headers["via"], "2 protogate");
    for name in [
        "x-protogate-upstream-latency",
        "x-protogate-gateway-latency",
    ] {
        let ms: f64 = reply.headers[name].to_str().unwrap().parse().unwrap();
        assert!(ms >= 0.0, "{name}: {ms}");
    }
    // Without one, the gateway makes one: the same id both ways.
    let reply = client.call("/test.Raw/Echo", &[], frame(b"b")).await;
    let made = reply.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made.len(), 36, "{made}");
    assert_eq!(raw.seen().last().unwrap()["x-request-id"], made.as_str());
    // Both calls are in the access log with their ids.
    let log = protogate_testkit::eventually(
        "two access lines",
        std::time::Duration::from_secs(5),
        || async {
            let log = gateway.log();
            (log.matches("protogate::access").count() >= 2).then_some(log)
        },
    )
    .await;
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("protogate::access"))
        .collect();
    assert!(
        lines[0].contains("method=POST path=/test.Raw/Echo"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("grpc=OK route=traced"), "{}", lines[0]);
    assert!(lines[0].contains("request_id=caller-id-1"), "{}", lines[0]);
    assert!(
        lines[1].contains(&format!("request_id={made}")),
        "{}",
        lines[1]
    );
}
