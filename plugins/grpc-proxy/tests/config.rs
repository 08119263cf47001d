//! The plugin's configuration: the README example parses, typos are refused.

use std::path::Path;

use protogate_config::{parse_str, Decode, Decoder, YamlPath};
use protogate_plugin_grpc_proxy::GrpcProxyConfig;

/// The first ```yaml block of the README.
fn readme_example() -> String {
    let readme = include_str!("../README.md");
    let start = readme.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = readme[start..].find("```").expect("closed block") + start;
    readme[start..end].to_owned()
}

#[test]
fn the_readme_example_parses_and_decodes() {
    let yaml = format!(
        "server:\n  listen: [{{ address: \"127.0.0.1:0\" }}]\nupstreams:\n  products: {{ protocol: grpc, targets: [\"127.0.0.1:1\"] }}\n{}",
        readme_example()
    );
    let config = parse_str(&yaml, Path::new("README.md")).expect("valid config");
    let entry = &config.routes[0].plugins[0];
    assert_eq!(entry.name, "grpc_proxy");
    let mut d = Decoder::new("README.md".into());
    let decoded = GrpcProxyConfig::decode(&entry.body, &entry.path, &mut d);
    assert_eq!(
        decoded,
        Some(GrpcProxyConfig {
            max_message_size: 8 * 1024 * 1024
        })
    );
    assert!(!d.has_errors());
}

#[test]
fn unknown_keys_are_errors_with_position() {
    let yaml = "grpc_proxy: { max_mesage_size: 4MiB }\n";
    let root = protogate_config::decode_str::<protogate_config::Node>(yaml, Path::new("x.yaml"))
        .expect("yaml");
    let body = root.get("grpc_proxy").expect("body");
    let mut d = Decoder::new("x.yaml".into());
    GrpcProxyConfig::decode(body, &YamlPath::root().key("grpc_proxy"), &mut d);
    let text = d.into_diagnostics().to_string();
    assert_eq!(
        text.trim_end(),
        "x.yaml:1:15: grpc_proxy.max_mesage_size: unknown key `max_mesage_size`; expected one of: max_message_size; did you mean `max_message_size`?"
    );
}
