//! Binding lookup against the test service's catalog: precedence between
//! overlapping templates, and the methods a 405 lists.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use http::Method;
use protogate_config::Decoder;
use protogate_grpc::catalog::{Catalog, DescriptorSource};
use protogate_plugin_transcoder::bindings::{BindingTable, Lookup};
use protogate_plugin_transcoder::TranscoderConfig;

fn table(yaml: &str) -> BindingTable {
    let protos = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../protos");
    let catalog = Catalog::load(&[DescriptorSource::Protos {
        path: protos.join("protogate/testing/v1/transcoding.proto"),
        import_paths: vec![protos.clone()],
    }])
    .unwrap();
    let config: TranscoderConfig = protogate_config::decode_str(yaml, Path::new("t.yaml")).unwrap();
    let mut d = Decoder::new("t.yaml".into());
    let table = BindingTable::build(&config, &catalog, &mut d);
    assert!(!d.has_errors(), "{}", d.into_diagnostics());
    table.unwrap()
}

fn method_of(table: &BindingTable, method: Method, path: &str) -> String {
    match table.find(&method, path) {
        Lookup::Found(binding, _) => binding.method_label.to_string(),
        other => panic!("{method} {path}: {other:?}"),
    }
}

#[test]
fn a_literal_segment_beats_a_variable_whatever_the_order() {
    let table = table(
        "services: [protogate.testing.v1.EchoService]\n\
         bindings:\n  - { rpc: protogate.testing.v1.EchoService/Unannotated, get: \"/v1/echo/special\" }\n",
    );
    assert_eq!(
        method_of(&table, Method::GET, "/v1/echo/special"),
        "Unannotated"
    );
    assert_eq!(method_of(&table, Method::GET, "/v1/echo/other"), "Echo");
    assert_eq!(
        method_of(&table, Method::GET, "/v1/echo/x/nested"),
        "EchoNested"
    );
}

#[test]
fn a_wrong_method_lists_every_method_the_path_allows() {
    let table = table("services: [protogate.testing.v1.EchoService]");
    match table.find(&Method::PATCH, "/v1/echo/x") {
        Lookup::WrongMethod(allowed) => {
            let names: Vec<&str> = allowed.iter().map(Method::as_str).collect();
            assert_eq!(names, ["DELETE", "GET", "PUT"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        table.find(&Method::GET, "/v2/none"),
        Lookup::NotFound
    ));
}
