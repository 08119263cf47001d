//! `ecommerce.v1.ProductService` over a real loopback connection.

mod common;

use std::time::Duration;

use common::{DemoServer, TestResult};
use prost_types::FieldMask;
use protogate_demo::pb::ecommerce::v1::product_service_client::ProductServiceClient;
use protogate_demo::pb::ecommerce::v1::{
    Category, CreateProductRequest, DeleteProductRequest, GetProductRequest, ListProductsRequest,
    Product, UpdateProductRequest, WatchProductsRequest,
};
use protogate_demo::SEED_PRODUCT_IDS;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::Code;

async fn client(
    server: &DemoServer,
) -> Result<ProductServiceClient<Channel>, tonic::transport::Error> {
    Ok(ProductServiceClient::new(server.channel().await?))
}

fn new_product(id: &str, name: &str) -> Product {
    Product {
        id: id.to_owned(),
        name: name.to_owned(),
        price_cents: 500,
        category: Category::Toys as i32,
        ..Default::default()
    }
}

#[tokio::test]
async fn get_returns_seeded_products_and_not_found() -> TestResult {
    let server = DemoServer::start().await?;
    let mut client = client(&server).await?;

    let product = client
        .get_product(GetProductRequest {
            id: "prod-1".into(),
        })
        .await?
        .into_inner();
    assert_eq!(product.name, "Mechanical Keyboard");
    assert_eq!(product.price_cents, 8999);
    assert_eq!(product.category, Category::Electronics as i32);
    assert_eq!(
        product.attributes.get("layout").map(String::as_str),
        Some("ANSI")
    );
    assert_eq!(product.created_at.map(|t| t.seconds), Some(1_705_311_000));

    let err = client
        .get_product(GetProductRequest { id: "nope".into() })
        .await
        .err()
        .ok_or("expected NOT_FOUND")?;
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(err.message(), "product \"nope\" not found");
    server.stop().await
}

#[tokio::test]
async fn create_fills_defaults_and_rejects_bad_input() -> TestResult {
    let server = DemoServer::start().await?;
    let mut client = client(&server).await?;

    let created = client
        .create_product(CreateProductRequest {
            product: Some(new_product("", "Kite")),
        })
        .await?
        .into_inner();
    assert_eq!(created.id, "prod-4");
    assert_eq!(created.currency, "USD");
    assert!(created.created_at.is_some());
    assert_eq!(server.store.len().await, 4);

    let dup = client
        .create_product(CreateProductRequest {
            product: Some(new_product("prod-1", "Clash")),
        })
        .await
        .err()
        .ok_or("expected ALREADY_EXISTS")?;
    assert_eq!(dup.code(), Code::AlreadyExists);

    let unnamed = client
        .create_product(CreateProductRequest {
            product: Some(new_product("x", " ")),
        })
        .await
        .err()
        .ok_or("expected INVALID_ARGUMENT")?;
    assert_eq!(unnamed.code(), Code::InvalidArgument);
    assert_eq!(unnamed.message(), "product.name must not be empty");

    let missing = client
        .create_product(CreateProductRequest { product: None })
        .await
        .err()
        .ok_or("expected INVALID_ARGUMENT")?;
    assert_eq!(missing.code(), Code::InvalidArgument);
    server.stop().await
}

#[tokio::test]
async fn update_applies_only_the_mask() -> TestResult {
    let server = DemoServer::start().await?;
    let mut client = client(&server).await?;

    let patch = Product {
        id: "prod-2".into(),
        name: "ignored".into(),
        price_cents: 4200,
        ..Default::default()
    };
    let updated = client
        .update_product(UpdateProductRequest {
            product: Some(patch.clone()),
            update_mask: Some(FieldMask {
                paths: vec!["price_cents".into()],
            }),
        })
        .await?
        .into_inner();
    assert_eq!(updated.price_cents, 4200);
    assert_eq!(updated.name, "The Rust Programming Language");

    let bad_mask = client
        .update_product(UpdateProductRequest {
            product: Some(patch.clone()),
            update_mask: Some(FieldMask {
                paths: vec!["created_at".into()],
            }),
        })
        .await
        .err()
        .ok_or("expected INVALID_ARGUMENT")?;
    assert_eq!(bad_mask.code(), Code::InvalidArgument);

    let unknown = client
        .update_product(UpdateProductRequest {
            product: Some(Product {
                id: "prod-99".into(),
                ..patch
            }),
            update_mask: None,
        })
        .await
        .err()
        .ok_or("expected NOT_FOUND")?;
    assert_eq!(unknown.code(), Code::NotFound);
    server.stop().await
}

#[tokio::test]
async fn delete_removes_the_product() -> TestResult {
    let server = DemoServer::start().await?;
    let mut client = client(&server).await?;

    client
        .delete_product(DeleteProductRequest {
            id: "prod-3".into(),
        })
        .await?;
    let gone = client
        .get_product(GetProductRequest {
            id: "prod-3".into(),
        })
        .await
        .err()
        .ok_or("expected NOT_FOUND")?;
    assert_eq!(gone.code(), Code::NotFound);
    let again = client
        .delete_product(DeleteProductRequest {
            id: "prod-3".into(),
        })
        .await
        .err()
        .ok_or("expected NOT_FOUND")?;
    assert_eq!(again.code(), Code::NotFound);
    server.stop().await
}

async fn list_ids(
    client: &mut ProductServiceClient<Channel>,
    request: ListProductsRequest,
) -> Result<Vec<String>, tonic::Status> {
    let mut stream = client.list_products(request).await?.into_inner();
    let mut ids = Vec::new();
    while let Some(product) = stream.message().await? {
        ids.push(product.id);
    }
    Ok(ids)
}

#[tokio::test]
async fn list_streams_in_id_order_with_filters() -> TestResult {
    let server = DemoServer::start().await?;
    let mut client = client(&server).await?;

    let all = list_ids(&mut client, ListProductsRequest::default()).await?;
    assert_eq!(all, SEED_PRODUCT_IDS);
    let first_two = list_ids(
        &mut client,
        ListProductsRequest {
            page_size: 2,
            ..Default::default()
        },
    )
    .await?;
    assert_eq!(first_two, ["prod-1", "prod-2"]);
    let books = list_ids(
        &mut client,
        ListProductsRequest {
            category: Category::Books as i32,
            ..Default::default()
        },
    )
    .await?;
    assert_eq!(books, ["prod-2"]);
    server.stop().await
}

#[tokio::test]
async fn bulk_create_is_all_or_nothing() -> TestResult {
    let server = DemoServer::start().await?;
    let mut client = client(&server).await?;

    let batch = vec![
        CreateProductRequest {
            product: Some(new_product("bulk-a", "A")),
        },
        CreateProductRequest {
            product: Some(new_product("", "B")),
        },
    ];
    let response = client
        .bulk_create_products(tokio_stream::iter(batch))
        .await?
        .into_inner();
    assert_eq!(response.created_count, 2);
    assert_eq!(response.ids, ["bulk-a", "prod-4"]);

    let bad_batch = vec![
        CreateProductRequest {
            product: Some(new_product("bulk-c", "C")),
        },
        CreateProductRequest {
            product: Some(new_product("bulk-d", "")),
        },
    ];
    let err = client
        .bulk_create_products(tokio_stream::iter(bad_batch))
        .await
        .err()
        .ok_or("expected INVALID_ARGUMENT")?;
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        server.store.len().await,
        5,
        "nothing from the bad batch is stored"
    );
    server.stop().await
}

#[tokio::test]
async fn watch_answers_each_id_as_it_arrives() -> TestResult {
    let server = DemoServer::start().await?;
    let mut client = client(&server).await?;

    let (tx, rx) = mpsc::channel(4);
    let mut answers = client
        .watch_products(ReceiverStream::new(rx))
        .await?
        .into_inner();
    for id in SEED_PRODUCT_IDS {
        tx.send(WatchProductsRequest { id: id.into() }).await?;
        // The answer must come before the next id is even sent.
        let product = tokio::time::timeout(Duration::from_secs(5), answers.message())
            .await??
            .ok_or("stream ended early")?;
        assert_eq!(product.id, id);
    }
    tx.send(WatchProductsRequest { id: "nope".into() }).await?;
    let err = answers.message().await.err().ok_or("expected NOT_FOUND")?;
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await
}
