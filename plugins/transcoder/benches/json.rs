//! JSON <-> protobuf for the demo `Product`: the transcoder's per-call work
//! apart from the network.
//!
//! - `get_request`: `GET /v1/products/{id}` matched against the
//!   ProductService bindings and turned into the framed GetProductRequest.
//! - `json_to_message`: a Product JSON body (CreateProduct, `body:
//!   "product"`) into its message and wire bytes.
//! - `message_to_json`: Product wire bytes (as the upstream answers) into
//!   the JSON a REST client gets, through a decoded `DynamicMessage`.
//! - `wire_to_json`: the same, straight from the wire bytes (what the
//!   gateway does for every answer it can).
//!
//! Run: `cargo bench -p protogate-plugin-transcoder --bench json`.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use http::Method;
use prost::Message as _;
use protogate_config::Decoder;
use protogate_grpc::catalog::{Catalog, DescriptorSource};
use protogate_plugin_transcoder::bindings::{BindingTable, Lookup};
use protogate_plugin_transcoder::config::{JsonSettings, UnknownFields};
use protogate_plugin_transcoder::request::{build_message, Incoming};
use protogate_plugin_transcoder::response::{decode_unary, unary_payload, Printer};
use protogate_plugin_transcoder::wire_json::Scratch;
use protogate_plugin_transcoder::TranscoderConfig;

const PRODUCT: &str = r#"{"id":"prod-1","name":"Mechanical keyboard","description":"Tenkeyless, brown switches","priceCents":"12999","currency":"USD","category":"CATEGORY_ELECTRONICS","tags":["keyboard","usb-c"],"createdAt":"2024-05-01T12:00:00Z","attributes":{"color":"black","layout":"ANSI"}}"#;

fn table() -> BindingTable {
    let protos = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../protos");
    let catalog = Catalog::load(&[DescriptorSource::Protos {
        path: protos.join("ecommerce/v1/product.proto"),
        import_paths: vec![protos.clone()],
    }])
    .unwrap();
    let config: TranscoderConfig = protogate_config::decode_str(
        "services: [ecommerce.v1.ProductService]",
        Path::new("bench.yaml"),
    )
    .unwrap();
    let mut d = Decoder::new("bench.yaml".into());
    BindingTable::build(&config, &catalog, &mut d).unwrap()
}

fn bench(c: &mut Criterion) {
    let table = table();

    c.bench_function("get_request", |b| {
        b.iter(|| {
            let Lookup::Found(binding, captures) =
                table.find(&Method::GET, black_box("/v1/products/prod-1"))
            else {
                panic!("bound");
            };
            let incoming = Incoming {
                captures: &captures,
                query: None,
                body: b"",
                content_type: None,
            };
            let message = build_message(binding, incoming, UnknownFields::Reject).unwrap();
            black_box(message.encode_to_vec())
        })
    });

    let Lookup::Found(create, no_captures) = table.find(&Method::POST, "/v1/products") else {
        panic!("bound");
    };
    c.bench_function("json_to_message", |b| {
        b.iter(|| {
            let incoming = Incoming {
                captures: &no_captures,
                query: None,
                body: black_box(PRODUCT.as_bytes()),
                content_type: Some("application/json"),
            };
            let message = build_message(create, incoming, UnknownFields::Reject).unwrap();
            black_box(message.encode_to_vec())
        })
    });

    // The upstream's answer: the Product as a framed message.
    let incoming = Incoming {
        captures: &no_captures,
        query: None,
        body: PRODUCT.as_bytes(),
        content_type: None,
    };
    let request = build_message(create, incoming, UnknownFields::Reject).unwrap();
    let product = request.get_field_by_name("product").unwrap();
    let product = product.as_message().unwrap().encode_to_vec();
    let mut framed = vec![0u8];
    framed.extend_from_slice(&u32::try_from(product.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(&product);
    let Lookup::Found(get, _) = table.find(&Method::GET, "/v1/products/prod-1") else {
        panic!("bound");
    };
    let output = get.method.output();
    let printer = Printer::new(&JsonSettings::default(), [output.clone()]);
    c.bench_function("message_to_json", |b| {
        b.iter(|| {
            let message = decode_unary(black_box(&framed), output.clone()).unwrap();
            black_box(printer.print(&message).unwrap())
        })
    });
    let framed = bytes::Bytes::from(framed);
    let mut scratch = Scratch::default();
    c.bench_function("wire_to_json", |b| {
        b.iter(|| {
            let payload = unary_payload(black_box(&framed)).unwrap();
            black_box(
                printer
                    .body_from_wire(&output, payload, None, &mut scratch)
                    .unwrap(),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
