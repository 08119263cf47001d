//! Health checking, server reflection and the embedded descriptor set: the
//! parts a gateway relies on besides the application methods.

mod common;

use common::{DemoServer, TestResult};
use prost_reflect::{DescriptorPool, Value};
use protogate_demo::FILE_DESCRIPTOR_SET;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1alpha;

#[tokio::test]
async fn health_reports_serving() -> TestResult {
    let server = DemoServer::start().await?;
    let mut health = HealthClient::new(server.channel().await?);
    for service in [
        "",
        "ecommerce.v1.ProductService",
        "grpc.testing.TestService",
    ] {
        let response = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await?
            .into_inner();
        assert_eq!(
            response.status,
            ServingStatus::Serving as i32,
            "{service:?}"
        );
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .err()
        .ok_or("expected NOT_FOUND")?;
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    server.stop().await
}

#[tokio::test]
async fn reflection_v1_lists_services_and_finds_symbols() -> TestResult {
    let server = DemoServer::start().await?;
    let mut reflection = ServerReflectionClient::new(server.channel().await?);
    let requests = vec![
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        },
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(
                "ecommerce.v1.ProductService".into(),
            )),
        },
    ];
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter(requests))
        .await?
        .into_inner();

    let listed = responses.message().await?.ok_or("no list response")?;
    let Some(MessageResponse::ListServicesResponse(list)) = listed.message_response else {
        return Err(format!("unexpected response {listed:?}").into());
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "ecommerce.v1.ProductService",
        "grpc.testing.TestService",
        "grpc.testing.UnimplementedService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not in {names:?}"
        );
    }

    let found = responses.message().await?.ok_or("no symbol response")?;
    let Some(MessageResponse::FileDescriptorResponse(files)) = found.message_response else {
        return Err(format!("unexpected response {found:?}").into());
    };
    // The file is served verbatim, so the google.api.http options survive.
    let needle = b"/v1/products/{id}";
    assert!(files
        .file_descriptor_proto
        .iter()
        .any(|file| file.windows(needle.len()).any(|w| w == needle)));
    server.stop().await
}

#[tokio::test]
async fn reflection_v1alpha_lists_services() -> TestResult {
    let server = DemoServer::start().await?;
    let mut reflection =
        v1alpha::server_reflection_client::ServerReflectionClient::new(server.channel().await?);
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await?
        .into_inner();
    let listed = responses.message().await?.ok_or("no list response")?;
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        listed.message_response
    else {
        return Err(format!("unexpected response {listed:?}").into());
    };
    assert!(list
        .service
        .iter()
        .any(|s| s.name == "ecommerce.v1.ProductService"));
    server.stop().await
}

/// The `google.api.http` rule of `service`/`method` as (verb, path, body).
fn http_rule(
    pool: &DescriptorPool,
    service: &str,
    method: &str,
) -> Result<(String, String, String), Box<dyn std::error::Error + Send + Sync>> {
    let extension = pool
        .get_extension_by_name("google.api.http")
        .ok_or("google.api.http not in the descriptor set")?;
    let method = pool
        .get_service_by_name(service)
        .ok_or("no such service")?
        .methods()
        .find(|m| m.name() == method)
        .ok_or("no such method")?;
    let options = method.options();
    let Value::Message(rule) = options.get_extension(&extension).into_owned() else {
        return Err("google.api.http is not a message".into());
    };
    let text = |field: &str| {
        rule.get_field_by_name(field)
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    for verb in ["get", "put", "post", "delete", "patch"] {
        if rule.has_field_by_name(verb) {
            return Ok((verb.to_owned(), text(verb), text("body")));
        }
    }
    Err("rule has no verb".into())
}

#[test]
fn descriptor_set_carries_the_http_rules() -> TestResult {
    let pool = DescriptorPool::decode(FILE_DESCRIPTOR_SET)?;
    let service = "ecommerce.v1.ProductService";
    let expect =
        |verb: &str, path: &str, body: &str| (verb.to_owned(), path.to_owned(), body.to_owned());
    assert_eq!(
        http_rule(&pool, service, "GetProduct")?,
        expect("get", "/v1/products/{id}", "")
    );
    assert_eq!(
        http_rule(&pool, service, "CreateProduct")?,
        expect("post", "/v1/products", "product")
    );
    assert_eq!(
        http_rule(&pool, service, "UpdateProduct")?,
        expect("patch", "/v1/products/{product.id}", "product")
    );
    assert_eq!(
        http_rule(&pool, service, "DeleteProduct")?,
        expect("delete", "/v1/products/{id}", "")
    );
    assert_eq!(
        http_rule(&pool, service, "ListProducts")?,
        expect("get", "/v1/products", "")
    );
    assert_eq!(
        http_rule(&pool, service, "BulkCreateProducts")?,
        expect("post", "/v1/products:bulkCreate", "*")
    );
    assert_eq!(
        http_rule(&pool, service, "WatchProducts")?,
        expect("post", "/v1/products:watch", "*")
    );
    assert!(pool
        .get_service_by_name("grpc.testing.TestService")
        .is_some());
    assert!(pool
        .get_message_by_name("google.protobuf.Timestamp")
        .is_some());
    Ok(())
}
