//! Arbitrary bytes as a `Kitchen` answer from the upstream.
//!
//! Properties: nothing panics; when prost-reflect can decode the bytes,
//! the gateway's wire printer gives the same JSON value as printing the
//! decoded message (maps compared as objects: their order is free); when
//! it cannot, the printer reports an error too.

#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use protogate_grpc::catalog::{Catalog, DescriptorSource};
use protogate_plugin_transcoder::config::JsonSettings;
use protogate_plugin_transcoder::response::{Body, Printer};
use protogate_plugin_transcoder::wire_json::Scratch;

fn setup() -> &'static (MessageDescriptor, Printer) {
    static SETUP: OnceLock<(MessageDescriptor, Printer)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let protos = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../protos");
        let catalog = Catalog::load(&[DescriptorSource::Protos {
            path: protos.join("protogate/testing/v1/transcoding.proto"),
            import_paths: vec![protos.clone()],
        }])
        .expect("catalog");
        let kitchen = catalog
            .pool()
            .get_message_by_name("protogate.testing.v1.Kitchen")
            .expect("Kitchen");
        let printer = Printer::new(&JsonSettings::default(), [kitchen.clone()]);
        (kitchen, printer)
    })
}

fuzz_target!(|data: &[u8]| {
    let (kitchen, printer) = setup();
    let fast = printer.body_from_wire(
        kitchen,
        Bytes::copy_from_slice(data),
        None,
        &mut Scratch::default(),
    );
    let decoded = DynamicMessage::decode(kitchen.clone(), data);
    match (fast, decoded) {
        (Ok(Body::Json(fast)), Ok(message)) => {
            let Ok(slow) = printer.print(&message) else {
                return; // prost-reflect cannot print it either (e.g. a bad Any)
            };
            let fast_value: serde_json::Value = serde_json::from_slice(&fast).expect("valid JSON");
            let slow_value: serde_json::Value = serde_json::from_slice(&slow).expect("valid JSON");
            assert_eq!(
                fast_value,
                slow_value,
                "fast: {}\nslow: {}",
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&slow)
            );
        }
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) => panic!("printed bytes prost cannot decode: {e}"),
        (Err(e), Ok(message)) => {
            // The slow path failed too; make sure it is the printing.
            assert!(printer.print(&message).is_err(), "fast path failed alone: {e}");
        }
        (Ok(Body::Raw { .. }), _) => panic!("Kitchen is not an HttpBody"),
    }
});
