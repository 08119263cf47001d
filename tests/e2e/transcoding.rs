//! The `transcoder` plugin end to end: real HTTP/1.1 and h2 clients, the
//! real gateway binary, the demo's tonic `EchoService` and
//! `ProductService`. Where the JSON mapping matters, the exact bytes are
//! asserted.

use bytes::Bytes;
use http::Method;
use protogate_testkit::{free_port, DemoUpstream, Gateway, HttpClient, HttpReply};

use crate::support::{protos_dir, SERVER};

const ECHO: &str = "protogate.testing.v1.EchoService";

fn config(upstream: &str) -> String {
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

async fn call(
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

async fn get(gateway: &Gateway, path: &str) -> HttpReply {
    call(gateway, Method::GET, path, &[], "").await
}

const JSON: (&str, &str) = ("content-type", "application/json");

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
