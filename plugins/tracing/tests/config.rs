//! The README example parses, and a bad ratio is reported with its place.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use protogate_config::{Decode, Decoder, Node, YamlPath};
use protogate_plugin_tracing::TracingPluginConfig;

fn decode(yaml: &str) -> (Option<TracingPluginConfig>, String) {
    let root = protogate_config::decode_str::<Node>(yaml, Path::new("x.yaml")).unwrap();
    let plugin = &root.get("plugins").unwrap().as_seq().unwrap()[0];
    let path = YamlPath::root().key("plugins").index(0).key("tracing");
    let mut d = Decoder::new("x.yaml".into());
    let decoded = TracingPluginConfig::decode(plugin.get("tracing").unwrap(), &path, &mut d);
    (decoded, d.into_diagnostics().to_string())
}

#[test]
fn the_readme_example_is_a_valid_config() {
    let yaml = protogate_config::yaml_block(include_str!("../README.md"), "## Example").unwrap();
    let (decoded, errors) = decode(yaml);
    assert_eq!(
        decoded.unwrap_or_else(|| panic!("{errors}")).sample_ratio,
        0.25
    );
    // The whole example, with a route, is a valid gateway config.
    let full = format!(
        "server:\n  listen: [{{ address: \"127.0.0.1:8080\" }}]\n{yaml}upstreams:\n  u: {{ protocol: grpc, targets: [\"127.0.0.1:1\"] }}\nroutes:\n  - {{ name: r, match: {{ grpc_service: a.B }}, upstream: u }}\n"
    );
    protogate_config::parse_str(&full, Path::new("x.yaml")).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_ratio_outside_zero_to_one_is_refused() {
    let (decoded, errors) = decode("plugins:\n  - tracing: { sample_ratio: 1.5 }\n");
    assert!(decoded.is_none());
    assert!(
        errors.contains(
            "x.yaml:2:30: plugins[0].tracing.sample_ratio: sample_ratio is a share from 0 to 1"
        ),
        "{errors}"
    );
}
