//! JSON request bodies to the request message, for the test service's
//! `Kitchen` (a field of every kind, every well-known type).
//!
//! Properties: nothing panics, whatever the body; and a body that is
//! accepted gives a message that prints as JSON, reads back, and prints
//! the same JSON again.

#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use prost_reflect::{DynamicMessage, ReflectMessage};
use protogate_config::Decoder;
use protogate_grpc::catalog::{Catalog, DescriptorSource};
use protogate_plugin_transcoder::bindings::{BindingTable, Lookup};
use protogate_plugin_transcoder::config::{JsonSettings, UnknownFields};
use protogate_plugin_transcoder::request::{build_message, Incoming};
use protogate_plugin_transcoder::response::Printer;
use protogate_plugin_transcoder::TranscoderConfig;

fn table() -> &'static BindingTable {
    static TABLE: OnceLock<BindingTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let protos = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../protos");
        let catalog = Catalog::load(&[DescriptorSource::Protos {
            path: protos.join("protogate/testing/v1/transcoding.proto"),
            import_paths: vec![protos.clone()],
        }])
        .expect("catalog");
        let config: TranscoderConfig = protogate_config::decode_str(
            "services: [protogate.testing.v1.EchoService]",
            Path::new("fuzz.yaml"),
        )
        .expect("config");
        let mut d = Decoder::new("fuzz.yaml".into());
        BindingTable::build(&config, &catalog, &mut d).expect("bindings")
    })
}

fuzz_target!(|data: &[u8]| {
    let Lookup::Found(binding, captures) = table().find(&http::Method::POST, "/v1/echo") else {
        panic!("POST /v1/echo is bound");
    };
    let incoming = Incoming {
        captures: &captures,
        query: None,
        body: data,
        content_type: Some("application/json"),
    };
    let Ok(message) = build_message(binding, incoming, UnknownFields::Reject) else {
        return;
    };
    let printer = Printer::new(&JsonSettings::default(), [message.descriptor()]);
    let json = printer.print(&message).expect("an accepted message prints");
    let mut deserializer = serde_json::Deserializer::from_slice(&json);
    let back = DynamicMessage::deserialize(message.descriptor(), &mut deserializer)
        .unwrap_or_else(|e| panic!("printed JSON reads back: {e}: {}", String::from_utf8_lossy(&json)));
    // Printing is stable: the message read back prints the same JSON.
    // (Comparing the messages themselves would tell "unset" from "set to
    // the default", which JSON with emit_defaults cannot.)
    let again = printer.print(&back).expect("prints again");
    assert_eq!(
        String::from_utf8_lossy(&again),
        String::from_utf8_lossy(&json)
    );
});
