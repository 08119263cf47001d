//! The `transcoder` plugin end to end: real HTTP/1.1 and h2 clients, the
//! real gateway binary, the demo's tonic `EchoService` and
//! `ProductService`. Where the JSON mapping matters, the exact bytes are
//! asserted.

use bytes::Bytes;
use http::Method;
use protogate_testkit::{free_port, DemoUpstream, Gateway, HttpClient, HttpReply};

use crate::support::{protos_dir, SERVER};

const ECHO: &str = "protogate.testing.v1.EchoService";

pub(crate) fn config(upstream: &str) -> String {
    format!(
        r#"
{SERVER}descriptors:
  - path: {protos}/protogate/testing/v1/transcoding.proto
    import_paths: [{protos}]
  - path: {protos}/ecommerce/v1/product.proto
    import_paths: [{protos}]
upstreams:
  demo: {{ protocol: grpc, targets: ["{upstream}"], connect_timeout: 500ms }}
routes:
  - name: rest
    match: {{ path_prefix: /v1/ }}
    upstream: demo
    timeout: 3s
    plugins:
      - transcoder:
          services: [{ECHO}, ecommerce.v1.ProductService]
          bindings:
            - rpc: {ECHO}/Unannotated
              get: "/v1/mapped/{{id}}"
              input_mapping: {{ lat: nested.count, t: tags }}
            - {{ rpc: {ECHO}/Unannotated, get: "/v1/strict/{{id}}", query_params: false }}
          max_body: 1KiB
          cors: {{ allow_origins: ["https://app.example.com"], expose_headers: [x-seen-metadata] }}
          openapi: /v1/openapi.json
  - name: lenient
    match: {{ path_prefix: /lenient/ }}
    upstream: demo
    timeout: 300ms
    plugins:
      - transcoder:
          bindings:
            - {{ rpc: {ECHO}/Echo, post: "/lenient/echo/{{id}}", body: "*" }}
            - {{ rpc: {ECHO}/Echo, get: "/lenient/echo/{{id}}" }}
            - {{ rpc: {ECHO}/Hang, post: "/lenient/hang", body: "*" }}
          unknown_fields: ignore
          json: {{ field_names: proto, emit_defaults: false, enums: number }}
"#,
        protos = protos_dir(),
    )
}

async fn start() -> (Gateway, DemoUpstream) {
    let upstream = DemoUpstream::start().await;
    let gateway = Gateway::start(&config(&upstream.addr.to_string())).await;
    (gateway, upstream)
}

pub(crate) async fn call(
    gateway: &Gateway,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> HttpReply {
    let url = format!("{}{path}", gateway.url());
    HttpClient::http1()
        .send(method, &url, headers, Bytes::from(body.to_owned()))
        .await
}

pub(crate) async fn get(gateway: &Gateway, path: &str) -> HttpReply {
    call(gateway, Method::GET, path, &[], "").await
}

pub(crate) const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn path_and_query_values_of_every_kind_reach_the_upstream() {
    let (gateway, _upstream) = start().await;
    let query = "i32=-5&i64=9007199254740993&u64=18446744073709551615&s32=-7&f64=12\
        &dbl=1.5&flt=0.25&flag=true&blob=AQID&color=COLOR_RED&tags=a&tags=b%20c\
        &numbers=1&numbers=-2&colors=2&colors=COLOR_RED&nested.label=x&nested.count=3\
        &at=2024-01-02T03:04:05.500Z&ttl=1.5s&maybeI64=7&maybe_flag=false&maybeText=hi\
        &mask=a,nested.label&optText=o&choiceNumber=4";
    for client in [HttpClient::http1(), HttpClient::http2()] {
        let url = format!("{}/v1/echo/a%2Fb?{query}", gateway.url());
        let reply = client.get(&url).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.headers["content-type"], "application/json");
        assert_eq!(
            reply.text(),
            concat!(
                r#"{"id":"a/b","name":"","path":"","i32":-5,"i64":"9007199254740993","#,
                r#""u64":"18446744073709551615","s32":-7,"f64":"12","dbl":1.5,"flt":0.25,"#,
                r#""flag":true,"blob":"AQID","color":"COLOR_RED","tags":["a","b c"],"#,
                r#""numbers":["1","-2"],"colors":["COLOR_GREEN","COLOR_RED"],"#,
                r#""nested":{"label":"x","count":3,"colors":[]},"labels":{},"#,
                r#""at":"2024-01-02T03:04:05.500Z","ttl":"1.500s","maybeI64":"7","#,
                r#""maybeFlag":false,"maybeText":"hi","mask":"a,nested.label","#,
                r#""optText":"o","choiceNumber":4}"#
            )
        );
    }
}

#[tokio::test]
async fn bodies_of_every_shape_map_and_the_body_wins_on_a_collision() {
    let (gateway, _upstream) = start().await;
    // body: "*", with the JSON-only well-known types.
    let body = r#"{"id":"b1","labels":{"k":"v"},"doc":{"a":[1,"x",null,true]},
        "anyValue":{"n":1.5},"extra":{"@type":"type.googleapis.com/protogate.testing.v1.Nested","label":"in-any"},
        "nothing":{},"at":"2024-01-02T03:04:05Z","i64":"-3","u64":4,"choice_text":"t"}"#;
    let reply = call(&gateway, Method::POST, "/v1/echo", &[JSON], body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let text = reply.text();
    for part in [
        r#""labels":{"k":"v"}"#,
        r#""doc":{"a":[1.0,"x",null,true]}"#,
        r#""anyValue":{"n":1.5}"#,
        r#""extra":{"@type":"type.googleapis.com/protogate.testing.v1.Nested","label":"in-any","count":0,"colors":[]}"#,
        r#""nothing":{}"#,
        r#""at":"2024-01-02T03:04:05Z""#,
        r#""i64":"-3","u64":"4""#,
        r#""choiceText":"t""#,
    ] {
        assert!(text.contains(part), "{part} missing from {text}");
    }

    // body: "nested" with a path variable outside it.
    let reply = call(
        &gateway,
        Method::PUT,
        "/v1/echo/p1?i32=9",
        &[JSON],
        r#"{"label":"L","count":2,"colors":["COLOR_RED",2]}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply.text().starts_with(r#"{"id":"p1","#),
        "{}",
        reply.text()
    );
    assert!(reply.text().contains(r#""i32":9"#));
    assert!(reply
        .text()
        .contains(r#""nested":{"label":"L","count":2,"colors":["COLOR_RED","COLOR_GREEN"]}"#));

    // body: "tags" (a repeated field) with a nested path variable.
    let reply = call(
        &gateway,
        Method::PATCH,
        "/v1/echo/lbl/tags",
        &[JSON],
        r#"["x","y"]"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply.text().contains(r#""tags":["x","y"]"#),
        "{}",
        reply.text()
    );
    assert!(
        reply.text().contains(r#""nested":{"label":"lbl""#),
        "{}",
        reply.text()
    );

    // A custom verb; the body's id wins over the path's.
    let reply = call(
        &gateway,
        Method::POST,
        "/v1/echo/from-path:archive",
        &[JSON],
        r#"{"id":"from-body"}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply.text().starts_with(r#"{"id":"from-body","#),
        "{}",
        reply.text()
    );
    let reply = call(
        &gateway,
        Method::POST,
        "/v1/echo/from-path:archive",
        &[JSON],
        "{}",
    )
    .await;
    assert!(
        reply.text().starts_with(r#"{"id":"from-path","#),
        "{}",
        reply.text()
    );

    // An empty body is the empty message.
    let reply = call(&gateway, Method::POST, "/v1/echo", &[], "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn templates_match_multi_segment_variables_wildcards_verbs_and_custom_methods() {
    let (gateway, _upstream) = start().await;
    let reply = get(&gateway, "/v1/shelves/s1/books/b%2F2").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply.text().contains(r#""name":"shelves/s1/books/b%2F2""#),
        "{}",
        reply.text()
    );
    let reply = get(&gateway, "/v1/files/a/b%20c/d.txt").await;
    assert!(
        reply.text().contains(r#""path":"a/b c/d.txt""#),
        "{}",
        reply.text()
    );
    // A colon in an id is data, not a verb, on a template without one.
    let reply = get(&gateway, "/v1/echo/urn:isbn:1").await;
    assert!(
        reply.text().starts_with(r#"{"id":"urn:isbn:1","#),
        "{}",
        reply.text()
    );
    let search = Method::from_bytes(b"SEARCH").unwrap();
    let reply = call(&gateway, search, "/v1/echo?id=s", &[], "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply.text().starts_with(r#"{"id":"s","#),
        "{}",
        reply.text()
    );
    let reply = call(&gateway, Method::DELETE, "/v1/echo/d1", &[], "").await;
    assert!(
        reply.text().starts_with(r#"{"id":"d1","#),
        "{}",
        reply.text()
    );
    // input_mapping renames query parameters onto nested fields.
    let reply = get(&gateway, "/v1/mapped/m1?lat=12&t=a&t=b").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply.text().contains(r#""tags":["a","b"]"#),
        "{}",
        reply.text()
    );
    assert!(
        reply.text().contains(r#""nested":{"label":"","count":12"#),
        "{}",
        reply.text()
    );
}

/// The `id` of every line of an NDJSON answer.
pub(crate) fn ndjson_ids(reply: &HttpReply) -> Vec<String> {
    reply
        .text()
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Asserts an error answer: status, JSON content type and exact body.
fn assert_error(reply: &HttpReply, status: u16, body: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(reply.text(), body);
}

#[tokio::test]
async fn bad_input_gets_a_400_that_names_the_problem_and_never_reaches_the_upstream() {
    let (upstream, counter) = DemoUpstream::start_counted().await;
    let gateway = Gateway::start(&config(&upstream.addr.to_string())).await;
    assert_error(
        &get(&gateway, "/v1/echo/x?colour=red").await,
        400,
        r#"{"code":3,"message":"unknown query parameter `colour`: `protogate.testing.v1.Kitchen` has no field `colour` (in `colour`)","details":[]}"#,
    );
    let reply = call(
        &gateway,
        Method::POST,
        "/v1/echo",
        &[JSON],
        r#"{"id":"x","colour":"red"}"#,
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(reply.text().contains("colour"), "{}", reply.text());
    let reply = call(&gateway, Method::POST, "/v1/echo", &[JSON], r#"{"id":"x""#).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.text().contains("invalid JSON body"),
        "{}",
        reply.text()
    );
    assert!(reply.text().contains("line 1 column"), "{}", reply.text());
    let reply = call(
        &gateway,
        Method::POST,
        "/v1/echo",
        &[JSON],
        r#"{"i32":"many"}"#,
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_error(
        &get(&gateway, "/v1/echo/x?i32=many").await,
        400,
        r#"{"code":3,"message":"query parameter `i32`: `many` is not an int32","details":[]}"#,
    );
    assert_error(
        &get(&gateway, "/v1/echo/x?color=PURPLE").await,
        400,
        r#"{"code":3,"message":"query parameter `color`: `PURPLE` is not a value of protogate.testing.v1.Color (one of: COLOR_UNSPECIFIED, COLOR_RED, COLOR_GREEN)","details":[]}"#,
    );
    assert_error(
        &get(&gateway, "/v1/echo/x?id=y").await,
        400,
        r#"{"code":3,"message":"query parameter `id`: the path already binds this field","details":[]}"#,
    );
    assert_error(
        &get(&gateway, "/v1/echo/x?i32=1&i32=2").await,
        400,
        r#"{"code":3,"message":"query parameter `i32` is given more than once","details":[]}"#,
    );
    assert_error(
        &get(&gateway, "/v1/strict/x?a=1").await,
        400,
        r#"{"code":3,"message":"query parameter `a`: GET /v1/strict/{id} takes no query parameters","details":[]}"#,
    );
    assert_error(
        &call(&gateway, Method::GET, "/v1/echo/x", &[], "{}").await,
        400,
        r#"{"code":3,"message":"GET /v1/echo/{id} takes no request body","details":[]}"#,
    );
    let reply = get(&gateway, "/v1/echo/x?at=yesterday").await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(
        reply.text().starts_with(
            r#"{"code":3,"message":"query parameter `at`: `yesterday` is not a valid google.protobuf.Timestamp"#
        ),
        "{}",
        reply.text()
    );

    // Over max_body (1 KiB): 413, with or without a content-length.
    let big = format!(r#"{{"name":"{}"}}"#, "n".repeat(2000));
    let reply = call(&gateway, Method::POST, "/v1/echo", &[JSON], &big).await;
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert!(
        reply.text().starts_with(r#"{"code":8,"#),
        "{}",
        reply.text()
    );
    let reply = HttpClient::http2()
        .send(
            Method::POST,
            &format!("{}/v1/echo", gateway.url()),
            &[JSON],
            big,
        )
        .await;
    assert_eq!(reply.status, 413);

    assert_eq!(counter.calls(), 0, "bad input reached the upstream");
    // The gateway kept serving.
    assert_eq!(get(&gateway, "/v1/echo/still-here").await.status, 200);
    assert_eq!(counter.calls(), 1);
}

#[tokio::test]
async fn wrong_methods_and_unknown_paths_get_json_answers() {
    let (gateway, _upstream) = start().await;
    let reply = call(&gateway, Method::POST, "/v1/echo/x", &[JSON], "{}").await;
    assert_eq!(reply.status, 405, "{}", reply.text());
    assert_eq!(reply.headers["allow"], "DELETE, GET, PUT");
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_error(
        &get(&gateway, "/v1/nothing/here").await,
        404,
        r#"{"code":12,"message":"no REST binding for GET /v1/nothing/here","details":[]}"#,
    );
}

#[tokio::test]
async fn upstream_errors_keep_their_code_message_and_decoded_details() {
    let (gateway, _upstream) = start().await;
    let reply = call(
        &gateway,
        Method::POST,
        "/v1/fail",
        &[JSON],
        r#"{"code":9,"message":"not now: 100% busy","withDetails":true}"#,
    )
    .await;
    assert_error(
        &reply,
        400,
        concat!(
            r#"{"code":9,"message":"not now: 100% busy","details":["#,
            r#"{"@type":"type.googleapis.com/protogate.testing.v1.FailDetail","reason":"demo","retryAfterMs":"1500"},"#,
            r#"{"@type":"type.googleapis.com/nowhere.Secret","value":"AQID"}]}"#
        ),
    );
    // tonic answers an error without details trailers-only: same shape.
    for (code, status) in [(5, 404), (7, 403), (16, 401), (14, 503), (8, 429), (1, 499)] {
        let body = format!(r#"{{"code":{code},"message":"m{code}"}}"#);
        let reply = call(&gateway, Method::POST, "/v1/fail", &[JSON], &body).await;
        assert_error(
            &reply,
            status,
            &format!(r#"{{"code":{code},"message":"m{code}","details":[]}}"#),
        );
    }
}

#[tokio::test]
async fn a_dead_upstream_and_a_passed_deadline_get_json_errors() {
    let dead = free_port();
    let gateway = Gateway::start(&config(&format!("127.0.0.1:{dead}"))).await;
    let reply = get(&gateway, "/v1/echo/x").await;
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert!(
        reply.text().starts_with(r#"{"code":14,"message":"#),
        "{}",
        reply.text()
    );

    // An upstream that never answers and ignores grpc-timeout (tonic would
    // end the call itself at the same instant, and win the race at times):
    // the gateway's own timer must end the call.
    let hanging = protogate_testkit::RawUpstream::start().await;
    let gateway = Gateway::start(&config(&hanging.addr.to_string())).await;
    let reply = call(&gateway, Method::POST, "/lenient/hang", &[JSON], "{}").await;
    assert_error(
        &reply,
        504,
        r#"{"code":4,"message":"deadline exceeded (the route's timeout)","details":[]}"#,
    );
    let reply = call(
        &gateway,
        Method::POST,
        "/lenient/hang",
        &[JSON, ("grpc-timeout", "50m")],
        "{}",
    )
    .await;
    assert_error(
        &reply,
        504,
        r#"{"code":4,"message":"deadline exceeded (the caller's grpc-timeout)","details":[]}"#,
    );
    // The upstream was told the budget left, never more than the caller's.
    let seen = hanging.seen();
    let told = seen.last().unwrap()["grpc-timeout"]
        .to_str()
        .unwrap()
        .to_owned();
    let budget = protogate_grpc::timeout::parse_grpc_timeout(told.as_bytes()).unwrap();
    assert!(budget <= std::time::Duration::from_millis(50), "{told}");
}

#[tokio::test]
async fn response_body_and_http_body_pass_raw_content() {
    let (gateway, _upstream) = start().await;
    let reply = get(
        &gateway,
        "/v1/echo/n1/nested?nested.label=only&nested.count=2",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), r#"{"label":"only","count":2,"colors":[]}"#);

    let reply = get(&gateway, "/v1/download/hello%20world?contentType=text/csv").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.headers["content-type"], "text/csv");
    assert_eq!(reply.text(), "hello world");

    let reply = call(
        &gateway,
        Method::POST,
        "/v1/upload",
        &[("content-type", "image/png")],
        "\u{89}PNG....",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), r#"{"size":"9","contentType":"image/png"}"#);
}

#[tokio::test]
async fn headers_become_metadata_and_metadata_comes_back_as_headers() {
    let (gateway, _upstream) = start().await;
    let reply = call(
        &gateway,
        Method::GET,
        "/v1/echo/m",
        &[
            ("x-tenant", "acme"),
            ("authorization", "Bearer t"),
            ("grpc-status", "0"),
            ("x-grpc-test-echo-initial", "first"),
            ("x-grpc-test-echo-trailing-bin", "AAEC"),
        ],
        "",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = reply.headers["x-seen-metadata"]
        .to_str()
        .unwrap()
        .to_owned();
    let names: Vec<&str> = seen.split(',').collect();
    for expected in ["authorization", "x-tenant", "x-grpc-test-echo-initial"] {
        assert!(names.contains(&expected), "{expected} missing from {seen}");
    }
    assert_eq!(reply.headers["x-grpc-test-echo-initial"], "first");
    assert_eq!(reply.headers["x-grpc-test-echo-trailing-bin"], "AAEC");
    assert!(reply.headers.get("grpc-status").is_none());
}

#[tokio::test]
async fn hop_by_hop_body_and_reserved_headers_never_reach_the_upstream() {
    // tonic hides some headers from the metadata it shows (content-type,
    // grpc-status), so look at the raw HTTP/2 request instead.
    let raw = protogate_testkit::RawUpstream::start().await;
    let gateway = Gateway::start(&config(&raw.addr.to_string())).await;
    let reply = call(
        &gateway,
        Method::POST,
        "/v1/echo",
        &[
            JSON,
            ("x-tenant", "acme"),
            ("grpc-status", "0"),
            ("connection", "keep-alive, x-hop"),
            ("x-hop", "1"),
        ],
        r#"{"id":"raw"}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply.text().starts_with(r#"{"id":"raw","#),
        "{}",
        reply.text()
    );
    let seen = raw.seen();
    let request = seen.last().unwrap();
    assert_eq!(request["x-tenant"], "acme");
    assert_eq!(request["content-type"], "application/grpc");
    assert_eq!(request["te"], "trailers");
    for refused in ["grpc-status", "connection", "x-hop", "content-length"] {
        assert!(
            request.get(refused).is_none(),
            "{refused} reached the upstream: {request:?}"
        );
    }
}

#[tokio::test]
async fn cors_preflights_are_answered_and_answers_carry_the_origin() {
    let (gateway, _upstream) = start().await;
    let origin = ("origin", "https://app.example.com");
    let reply = call(
        &gateway,
        Method::OPTIONS,
        "/v1/echo/x",
        &[
            origin,
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "content-type"),
        ],
        "",
    )
    .await;
    assert_eq!(reply.status, 204);
    assert_eq!(
        reply.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(
        reply.headers["access-control-allow-headers"],
        "content-type"
    );
    assert!(reply.headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("PUT"));

    let reply = call(&gateway, Method::GET, "/v1/echo/x", &[origin], "").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(
        reply.headers["access-control-expose-headers"],
        "x-seen-metadata"
    );
    // Errors carry them too, so the page can read the JSON.
    let reply = call(&gateway, Method::GET, "/v1/nothing", &[origin], "").await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.headers["access-control-allow-origin"],
        "https://app.example.com"
    );

    let reply = call(
        &gateway,
        Method::OPTIONS,
        "/v1/echo/x",
        &[
            ("origin", "https://evil.test"),
            ("access-control-request-method", "GET"),
        ],
        "",
    )
    .await;
    assert_eq!(reply.status, 403);
    assert!(reply.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn json_options_and_ignore_apply_per_route() {
    let (gateway, _upstream) = start().await;
    let reply = call(
        &gateway,
        Method::POST,
        "/lenient/echo/l1?whatever=1",
        &[JSON],
        r#"{"maybeI64":"5","color":"COLOR_GREEN","unknownField":1,"nested":{"label":"n"}}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.text(),
        r#"{"id":"l1","color":2,"nested":{"label":"n"},"maybe_i64":"5"}"#
    );
}

#[tokio::test]
async fn the_product_service_is_served_over_rest() {
    let (gateway, _upstream) = start().await;
    let reply = get(&gateway, "/v1/products/prod-1").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let product: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(product["id"], "prod-1");
    assert!(
        product["priceCents"].is_string(),
        "int64 as a string: {product}"
    );
    assert!(product["category"]
        .as_str()
        .unwrap()
        .starts_with("CATEGORY_"));

    let created = call(
        &gateway,
        Method::POST,
        "/v1/products",
        &[JSON],
        r#"{"id":"rest-1","name":"Lamp","priceCents":"2500","currency":"EUR","category":"CATEGORY_HOME"}"#,
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let reply = get(&gateway, "/v1/products/rest-1").await;
    assert!(
        reply.text().contains(r#""name":"Lamp""#),
        "{}",
        reply.text()
    );
    let reply = call(&gateway, Method::DELETE, "/v1/products/rest-1", &[], "").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "{}");
    assert_eq!(get(&gateway, "/v1/products/rest-1").await.status, 404);

    // ListProducts streams: one product per line, with query parameters.
    let reply = get(&gateway, "/v1/products?pageSize=2").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.headers["content-type"], "application/x-ndjson");
    assert_eq!(ndjson_ids(&reply), ["prod-1", "prod-2"]);
}

fn check(yaml: &str) -> (bool, String) {
    let (ok, _, stderr) = crate::support::protogate_on("check", "rest.yaml", yaml);
    (ok, stderr)
}

#[test]
fn bad_bindings_are_config_errors_with_line_and_column() {
    let yaml = format!(
        r#"server:
  listen: [{{ address: "127.0.0.1:0" }}]
descriptors:
  - path: {protos}/protogate/testing/v1/transcoding.proto
    import_paths: [{protos}]
upstreams:
  demo: {{ protocol: grpc, targets: ["127.0.0.1:1"] }}
routes:
  - name: rest
    match: {{ path_prefix: / }}
    upstream: demo
    plugins:
      - transcoder:
          services: [{ECHO}, nowhere.Service]
          bindings:
            - {{ rpc: {ECHO}/Missing, get: "/x" }}
            - {{ rpc: {ECHO}/Unannotated, get: "/y/{{nope}}" }}
            - {{ rpc: {ECHO}/Unannotated, post: "/y", body: "nope" }}
            - {{ rpc: {ECHO}/Unannotated, get: "/v1/echo/{{name}}" }}
            - {{ rpc: {ECHO}/Unannotated, get: "/z/**/w" }}
            - {{ rpc: {ECHO}/Unannotated, get: "/q", post: "/q" }}
            - {{ rpc: {ECHO}/Unannotated, get: "/n/{{nested}}" }}
          unknown_fields: drop
"#,
        protos = protos_dir()
    );
    let (ok, stderr) = check(&yaml);
    assert!(!ok, "check must fail");
    for expected in [
        "rest.yaml:14:56: routes[0].plugins[0].transcoder.services[1]: service `nowhere.Service` is not in the descriptor catalog",
        "rest.yaml:16:22: routes[0].plugins[0].transcoder.bindings[0].rpc: method `protogate.testing.v1.EchoService/Missing` is not in the descriptor catalog",
        "rest.yaml:17:15: routes[0].plugins[0].transcoder.bindings[1]: path variable: `protogate.testing.v1.Kitchen` has no field `nope`",
        "rest.yaml:18:15: routes[0].plugins[0].transcoder.bindings[2]: body: `nope` is not a field of protogate.testing.v1.Kitchen",
        "rest.yaml:19:15: routes[0].plugins[0].transcoder: bindings conflict: GET /v1/echo/{name} (routes[0].plugins[0].transcoder.bindings[3]) and GET /v1/echo/{id} (google.api.http of protogate.testing.v1.EchoService.Echo) match the same requests",
        "rest.yaml:20:73: routes[0].plugins[0].transcoder.bindings[4].get: path template `/z/**/w`: `**` may only be the last segment",
        "rest.yaml:21:15: routes[0].plugins[0].transcoder.bindings[5]: a binding has exactly one of get, put, post, delete, patch, custom",
        "rest.yaml:22:15: routes[0].plugins[0].transcoder.bindings[6]: path variable `nested` is a message (protogate.testing.v1.Nested)",
        "rest.yaml:23:27: routes[0].plugins[0].transcoder.unknown_fields: unknown unknown_fields policy `drop`; expected one of: reject, ignore",
        "has 9 errors",
    ] {
        assert!(stderr.contains(expected), "missing: {expected}\n{stderr}");
    }
}

#[test]
fn routes_lists_every_rest_binding() {
    let yaml = config("127.0.0.1:1");
    let yaml = yaml
        .replace("{listen}", "127.0.0.1:0")
        .replace("{admin}", "127.0.0.1:0");
    let (ok, stdout, _) = crate::support::protogate_on("routes", "rest.yaml", &yaml);
    assert!(ok, "{stdout}");
    for line in [
        "transcoder: GET /v1/products/{id} -> ecommerce.v1.ProductService/GetProduct [google.api.http of ecommerce.v1.ProductService.GetProduct]",
        "transcoder: PUT /v1/echo/{id} -> protogate.testing.v1.EchoService/Echo (body: nested)",
        "transcoder: GET /v1/mapped/{id} -> protogate.testing.v1.EchoService/Unannotated [routes[0].plugins[0].transcoder.bindings[0]]",
    ] {
        assert!(stdout.contains(line), "missing: {line}\n{stdout}");
    }
}

#[tokio::test]
async fn a_stream_the_upstream_refused_goes_to_the_next_target() {
    let refusing = protogate_testkit::RawUpstream::start_refusing(true).await;
    let (upstream, counter) = DemoUpstream::start_counted().await;
    let targets = format!("{}\", \"{}", refusing.addr, upstream.addr);
    let gateway = Gateway::start(&config(&targets)).await;
    // Round robin starts each call on the next target: both orders happen.
    for i in 0..4 {
        let reply = get(&gateway, &format!("/v1/echo/r{i}")).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    assert_eq!(counter.calls(), 4, "each call ran exactly once");
    assert!(refusing.calls() >= 2, "the refusing target was tried");
}
