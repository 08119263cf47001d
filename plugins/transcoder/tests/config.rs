//! The plugin's configuration: the README example parses, decodes and
//! builds against the repository's protos; typos are refused with position.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use protogate_config::{parse_str, Decode, Decoder, YamlPath};
use protogate_grpc::catalog::{Catalog, DescriptorSource};
use protogate_plugin_transcoder::config::{EnumStyle, FieldNames, UnknownFields};
use protogate_plugin_transcoder::TranscoderConfig;

/// The README's first ```yaml block.
fn readme_example() -> String {
    protogate_config::yaml_block(include_str!("../README.md"), "")
        .expect("a yaml example")
        .to_owned()
}

fn protos() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../protos")
}

fn catalog() -> Catalog {
    Catalog::load(&[DescriptorSource::Protos {
        path: protos().join("ecommerce/v1/product.proto"),
        import_paths: vec![protos()],
    }])
    .unwrap()
}

#[test]
fn the_readme_example_parses_decodes_and_builds() {
    let yaml = format!(
        "server:\n  listen: [{{ address: \"127.0.0.1:0\" }}]\nupstreams:\n  products: {{ protocol: grpc, targets: [\"127.0.0.1:1\"] }}\n{}",
        readme_example()
    );
    let config = parse_str(&yaml, Path::new("README.md")).expect("valid config");
    let entry = &config.routes[0].plugins[0];
    assert_eq!(entry.name, "transcoder");
    let mut d = Decoder::new("README.md".into());
    let decoded = TranscoderConfig::decode(&entry.body, &entry.path, &mut d).unwrap();
    assert!(!d.has_errors(), "{}", d.into_diagnostics());
    assert_eq!(decoded.json.field_names, FieldNames::LowerCamel);
    assert_eq!(decoded.json.enums, EnumStyle::Name);
    assert!(decoded.json.emit_defaults);
    assert_eq!(decoded.unknown_fields, UnknownFields::Reject);
    assert_eq!(decoded.max_body, 4 * 1024 * 1024);
    assert_eq!(decoded.bindings.len(), 2);
    assert!(decoded.cors.is_some());

    let mut d = Decoder::new("README.md".into());
    let plugin = protogate_plugin_transcoder::build(&decoded, &catalog(), &mut d);
    assert!(!d.has_errors(), "{}", d.into_diagnostics());
    let plugin = plugin.unwrap();
    let lines: Vec<String> = plugin
        .bindings()
        .map(protogate_plugin_transcoder::bindings::Binding::describe)
        .collect();
    // The seven annotated ProductService methods, plus the two explicit ones.
    assert_eq!(lines.len(), 9, "{lines:#?}");
    assert!(lines
        .iter()
        .any(|l| l.starts_with("GET /v1/items/{id} -> ecommerce.v1.ProductService/GetProduct")));
}

fn decode_errors(body: &str) -> String {
    let yaml = format!("transcoder: {body}\n");
    let root = protogate_config::decode_str::<protogate_config::Node>(&yaml, Path::new("x.yaml"))
        .expect("yaml");
    let node = root.get("transcoder").expect("body");
    let mut d = Decoder::new("x.yaml".into());
    TranscoderConfig::decode(node, &YamlPath::root().key("transcoder"), &mut d);
    d.into_diagnostics().to_string()
}

#[test]
fn typos_and_missing_parts_are_errors_with_position() {
    assert_eq!(
        decode_errors("{ servces: [a.B] }").trim_end(),
        "x.yaml:1:13: transcoder: the transcoder needs `services` (bindings from google.api.http annotations) or `bindings`\n\
         x.yaml:1:15: transcoder.servces: unknown key `servces`; expected one of: services, bindings, json, unknown_fields, max_body, cors, openapi; did you mean `services`?"
    );
    let text = decode_errors("{ bindings: [{ rpc: a.B/C }] }");
    assert!(
        text.contains("a binding needs one of: get, put, post, delete, patch, custom"),
        "{text}"
    );
    let text = decode_errors("{ services: [a.B], json: { enums: names } }");
    assert!(
        text.contains(
            "unknown enum style `names`; expected one of: name, number; did you mean `name`?"
        ),
        "{text}"
    );
    let text = decode_errors("{ services: [a.B], openapi: openapi.json }");
    assert!(
        text.contains("openapi must be a path like /v1/openapi.json, not `openapi.json`"),
        "{text}"
    );
}
