//! The transcoder's generated OpenAPI 3.1 document: valid, served at the
//! configured path, regenerated on reload, and good enough for schemathesis
//! to drive the demo service through the gateway.

use std::time::Duration;

use protogate_testkit::{eventually, DemoUpstream, Gateway, HttpClient};

use crate::python_interop::run_python;
use crate::support::{protos_dir, SERVER};

fn products_config(upstream: &str, extra_binding: &str) -> String {
    format!(
        r#"
{SERVER}descriptors:
  - path: {protos}/ecommerce/v1/product.proto
    import_paths: [{protos}]
upstreams:
  demo: {{ protocol: grpc, targets: ["{upstream}"], timeout: 5s }}
routes:
  - name: products-rest
    match: {{ path_prefix: /v1/ }}
    upstream: demo
    plugins:
      - transcoder:
          services: [ecommerce.v1.ProductService]
          openapi: /v1/openapi.json{extra_binding}
"#,
        protos = protos_dir(),
    )
}

#[tokio::test]
async fn schemathesis_drives_the_demo_through_the_generated_document() {
    let upstream = DemoUpstream::start().await;
    let gateway = Gateway::start(&products_config(&upstream.addr.to_string(), "")).await;
    let spec = format!("{}/v1/openapi.json", gateway.url());
    let (ok, stdout, stderr) = run_python(
        "openapi_check.py",
        vec![spec, "--schemathesis".into(), gateway.url()],
    )
    .await;
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("valid OpenAPI 3.1.0"), "{stdout}");
    assert!(stdout.contains("passed"), "{stdout}");
}

#[tokio::test]
async fn the_document_describes_every_binding_and_follows_a_reload() {
    let upstream = DemoUpstream::start().await;
    let upstream_addr = upstream.addr.to_string();
    let gateway = Gateway::start(&products_config(&upstream_addr, "")).await;
    let url = format!("{}/v1/openapi.json", gateway.url());
    let reply = HttpClient::http1().get(&url).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["content-type"], "application/json");
    let document: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    for path in [
        "/v1/products",
        "/v1/products/{id}",
        "/v1/products:bulkCreate",
        "/v1/products:watch",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing: {:?}",
            paths.keys()
        );
    }
    // GET, DELETE and PATCH share one path (PATCH's variable is product.id).
    let item = &paths["/v1/products/{id}"];
    assert!(
        item.get("get").is_some() && item.get("delete").is_some() && item.get("patch").is_some()
    );
    let list = &paths["/v1/products"]["get"];
    assert!(list["responses"]["200"]["content"]["application/x-ndjson"].is_object());
    let names: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pageSize", "category"]);
    let product = &document["components"]["schemas"]["ecommerce.v1.Product"]["properties"];
    assert_eq!(product["priceCents"]["type"], "string", "int64 is a string");
    assert_eq!(product["createdAt"]["format"], "date-time");

    // A reload with one more binding regenerates the document.
    gateway.write_config(&products_config(
        &upstream_addr,
        "\n          bindings:\n            - { rpc: ecommerce.v1.ProductService/GetProduct, get: \"/v1/items/{id}\" }",
    ));
    eventually(
        "the document shows the new binding",
        Duration::from_secs(10),
        || {
            let url = url.clone();
            async move {
                let reply = HttpClient::http1().get(&url).await;
                String::from_utf8_lossy(&reply.body)
                    .contains("\"/v1/items/{id}\"")
                    .then_some(())
            }
        },
    )
    .await;
}

#[tokio::test]
async fn the_document_of_every_field_kind_and_streaming_method_is_valid() {
    let upstream = DemoUpstream::start().await;
    let gateway = Gateway::start(&crate::transcoding::config(&upstream.addr.to_string())).await;
    let spec = format!("{}/v1/openapi.json", gateway.url());
    let (ok, stdout, stderr) = run_python("openapi_check.py", vec![spec.clone()]).await;
    assert!(ok, "{stdout}\n{stderr}");
    let document: serde_json::Value =
        serde_json::from_slice(&HttpClient::http1().get(&spec).await.body).unwrap();
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.contains_key("/v1/{name}"), "{:?}", paths.keys());
    assert!(paths.contains_key("/v1/echo/{id}:archive"));
    let chat = &paths["/v1/chat"]["post"];
    assert!(chat["requestBody"]["content"]["application/x-ndjson"].is_object());
    assert!(chat["responses"]["200"]["content"]["text/event-stream"].is_object());
    let kitchen = &document["components"]["schemas"]["protogate.testing.v1.Kitchen"];
    assert_eq!(
        kitchen["additionalProperties"], false,
        "unknown fields are refused"
    );
    assert_eq!(
        kitchen["properties"]["maybeI64"]["type"],
        serde_json::json!(["string", "null"])
    );
    assert_eq!(kitchen["properties"]["blob"]["format"], "byte");
}
