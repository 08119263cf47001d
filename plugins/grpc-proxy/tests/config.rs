//! The plugin's configuration: the README example parses, typos are refused.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use protogate_config::{parse_str, Decode, Decoder, YamlPath};
use protogate_plugin_grpc_proxy::GrpcProxyConfig;

/// The README's first ```yaml block.
fn readme_example() -> String {
    protogate_config::yaml_block(include_str!("../README.md"), "")
        .expect("a yaml example")
        .to_owned()
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
    let decoded = GrpcProxyConfig::decode(&entry.body, &entry.path, &mut d).expect("decoded");
    assert!(!d.has_errors(), "{}", d.into_diagnostics());
    assert_eq!(decoded.max_message_size, 8 * 1024 * 1024);
    let cors = decoded
        .grpc_web
        .and_then(|web| web.cors)
        .expect("a narrowed policy");
    assert!(cors.lists_exposed_headers());
}

/// Decodes `yaml` as the body of a `grpc_proxy:` entry.
fn decode(yaml: &str) -> (Option<GrpcProxyConfig>, String) {
    let root = protogate_config::decode_str::<protogate_config::Node>(yaml, Path::new("x.yaml"))
        .expect("yaml");
    let body = root.get("grpc_proxy").expect("body");
    let mut d = Decoder::new("x.yaml".into());
    let decoded = GrpcProxyConfig::decode(body, &YamlPath::root().key("grpc_proxy"), &mut d);
    (decoded, d.into_diagnostics().to_string())
}

#[test]
fn grpc_web_is_on_with_cors_unless_turned_off() {
    let (default, _) = decode("grpc_proxy: {}\n");
    let web = default.unwrap().grpc_web.expect("on by default");
    assert!(web.cors.is_some(), "permissive CORS by default");
    let (off, _) = decode("grpc_proxy: { grpc_web: false }\n");
    assert_eq!(off.unwrap().grpc_web, None);
    let (same_origin, _) = decode("grpc_proxy: { grpc_web: { cors: false } }\n");
    assert_eq!(same_origin.unwrap().grpc_web.unwrap().cors, None);
    let (on, _) = decode("grpc_proxy: { grpc_web: true }\n");
    assert_eq!(on.unwrap().grpc_web, GrpcProxyConfig::default().grpc_web);
}

#[test]
fn grpc_web_errors_have_position() {
    let (decoded, errors) = decode(
        "grpc_proxy:\n  grpc_web:\n    cors: { allow_origins: [\"https://a.test/\"] }\n    corz: {}\n",
    );
    assert!(decoded.is_none());
    assert_eq!(
        errors.trim_end(),
        "x.yaml:3:11: grpc_proxy.grpc_web.cors.allow_origins: `https://a.test/` is not an origin (scheme://host[:port], no path, or *.domain)\n\
         x.yaml:4:5: grpc_proxy.grpc_web.corz: unknown key `corz`; expected one of: cors; did you mean `cors`?"
    );
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
        "x.yaml:1:15: grpc_proxy.max_mesage_size: unknown key `max_mesage_size`; expected one of: max_message_size, grpc_web; did you mean `max_message_size`?"
    );
}
