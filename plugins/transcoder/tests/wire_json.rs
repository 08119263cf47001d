//! The wire printer prints what prost-reflect prints, for messages with a
//! field of every kind, under every JSON setting.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor, ReflectMessage};
use protogate_grpc::catalog::{Catalog, DescriptorSource};
use protogate_plugin_transcoder::config::{EnumStyle, FieldNames, JsonSettings};
use protogate_plugin_transcoder::response::{Body, Printer};
use protogate_plugin_transcoder::wire_json::Scratch;

fn kitchen() -> MessageDescriptor {
    let protos = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../protos");
    let catalog = Catalog::load(&[DescriptorSource::Protos {
        path: protos.join("protogate/testing/v1/transcoding.proto"),
        import_paths: vec![protos.clone()],
    }])
    .unwrap();
    catalog
        .pool()
        .get_message_by_name("protogate.testing.v1.Kitchen")
        .unwrap()
}

const DOCUMENTS: &[&str] = &[
    "{}",
    r#"{"id":"a\"b\\c\u0001é","i32":-5,"i64":"-9007199254740993","u64":"18446744073709551615",
        "s32":-7,"f64":"12","dbl":-1.5e300,"flt":0.25,"flag":true,"blob":"AAEC/w==","color":"COLOR_GREEN",
        "tags":["x","",""],"numbers":["1","-2","3"],"colors":["COLOR_RED",2,0],
        "nested":{"label":"n","count":-1,"colors":[1]},"labels":{"k":"v"},
        "at":"2024-01-02T03:04:05.123456789Z","ttl":"-1.500s","maybeI64":"-7","maybeFlag":false,
        "maybeText":"","mask":"a,nested.label","doc":{"a":[1,"x",null,true,{"b":{}}]},
        "anyValue":null,"extra":{"@type":"type.googleapis.com/protogate.testing.v1.Nested","label":"in"},
        "nothing":{},"optText":"","choiceNumber":0}"#,
    r#"{"dbl":"NaN","flt":"-Infinity","color":7,"colors":[9],"at":"1970-01-01T00:00:00Z","ttl":"0s","choiceText":"t"}"#,
    r#"{"labels":{"a":"1","b":"2","c":""},"nested":{}}"#,
];

fn settings() -> Vec<JsonSettings> {
    let mut all = Vec::new();
    for field_names in [FieldNames::LowerCamel, FieldNames::Proto] {
        for enums in [EnumStyle::Name, EnumStyle::Number] {
            for emit_defaults in [true, false] {
                all.push(JsonSettings {
                    field_names,
                    emit_defaults,
                    enums,
                });
            }
        }
    }
    all
}

fn json(body: Body) -> Vec<u8> {
    match body {
        Body::Json(json) => json,
        Body::Raw { .. } => panic!("not JSON"),
    }
}

#[test]
fn the_wire_printer_matches_prost_reflect() {
    let descriptor = kitchen();
    for settings in settings() {
        let printer = Printer::new(&settings, [descriptor.clone()]);
        for document in DOCUMENTS {
            let mut deserializer = serde_json::Deserializer::from_str(document);
            let message =
                DynamicMessage::deserialize(descriptor.clone(), &mut deserializer).unwrap();
            let bytes = Bytes::from(message.encode_to_vec());
            let slow = printer.print(&message).unwrap();
            let fast = json(
                printer
                    .body_from_wire(&descriptor, bytes, None, &mut Scratch::default())
                    .unwrap(),
            );
            let slow_value: serde_json::Value = serde_json::from_slice(&slow).unwrap();
            let fast_value: serde_json::Value = serde_json::from_slice(&fast).unwrap();
            assert_eq!(
                fast_value,
                slow_value,
                "{settings:?}\nfast: {}\nslow: {}",
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&slow)
            );
            // Maps aside (prost-reflect's order is unspecified), the bytes match.
            if !document.contains(r#""a":"1","b""#) {
                assert_eq!(
                    String::from_utf8_lossy(&fast),
                    String::from_utf8_lossy(&slow),
                    "{settings:?}"
                );
            }
            assert_eq!(message.descriptor(), descriptor);
        }
    }
}

#[test]
fn odd_wire_input_falls_back_to_the_same_answer() {
    let descriptor = kitchen();
    let printer = Printer::new(&JsonSettings::default(), [descriptor.clone()]);
    // The nested message twice (they merge); a map key twice (the last
    // wins); an unknown field; a non-packed repeated varint.
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&[0x8a, 0x01, 0x03, 0x0a, 0x01, b'a']); // nested {label: "a"}
    bytes.extend_from_slice(&[0x8a, 0x01, 0x02, 0x10, 0x05]); // nested {count: 5}
    bytes.extend_from_slice(&[0x92, 0x01, 0x06, 0x0a, 0x01, b'k', 0x12, 0x01, b'1']); // labels k=1
    bytes.extend_from_slice(&[0x92, 0x01, 0x06, 0x0a, 0x01, b'k', 0x12, 0x01, b'2']); // labels k=2
    bytes.extend_from_slice(&[0xf8, 0x07, 0x01]); // field 127: unknown
    bytes.extend_from_slice(&[0x78, 0x03, 0x78, 0x04]); // numbers 3, 4 unpacked
    let message = DynamicMessage::decode(descriptor.clone(), bytes.as_slice()).unwrap();
    let slow = printer.print(&message).unwrap();
    let fast = json(
        printer
            .body_from_wire(
                &descriptor,
                Bytes::from(bytes),
                None,
                &mut Scratch::default(),
            )
            .unwrap(),
    );
    assert_eq!(
        String::from_utf8_lossy(&fast),
        String::from_utf8_lossy(&slow)
    );
    assert!(String::from_utf8_lossy(&fast).contains(r#""labels":{"k":"2"}"#));
    assert!(String::from_utf8_lossy(&fast).contains(r#""nested":{"label":"a","count":5"#));

    // Malformed bytes get prost's error, not a panic.
    let error = printer
        .body_from_wire(
            &descriptor,
            Bytes::from_static(&[0x0a, 0x05, b'a']),
            None,
            &mut Scratch::default(),
        )
        .unwrap_err();
    assert!(
        error
            .message
            .contains("not a valid protogate.testing.v1.Kitchen"),
        "{error}"
    );
}
