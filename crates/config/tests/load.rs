//! Loading from disk, and the gateway's way of adding its own errors.

use std::fs;
use std::path::{Path, PathBuf};

use protogate_config::{
    decode_str, load, load_with, parse_str_with, Decode, Decoder, Node, YamlPath,
};

const CONFIG: &str = r#"
server:
  listen:
    - address: "127.0.0.1:8443"
      tls: { cert: certs/server.crt, key: /etc/ssl/server.key }
descriptors: [protos/all.pb]
upstreams:
  products: { protocol: grpc, targets: ["127.0.0.1:50051"] }
routes:
  - name: products
    match: { grpc_service: ecommerce.v1.ProductService }
    upstream: products
    plugins:
      - rate_limit:
          limits:
            - { requests: 10, per: 1s, burts: 20 }
"#;

#[test]
fn relative_paths_resolve_against_the_config_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("gw.yaml");
    fs::write(&file, CONFIG).expect("write config");
    let config = load(&file).expect("valid config");
    let tls = config.server.listen[0].tls.as_ref().expect("tls");
    assert_eq!(tls.cert, dir.path().join("certs/server.crt"));
    assert_eq!(tls.key, PathBuf::from("/etc/ssl/server.key"));
}

#[test]
fn an_unreadable_file_is_one_error_without_a_position() {
    let errors = load(Path::new("/nonexistent/protogate.yaml")).expect_err("no such file");
    let text = errors.to_string();
    assert!(
        text.starts_with("/nonexistent/protogate.yaml: cannot read the config file: "),
        "{text}"
    );
}

/// What a plugin's settings look like to the gateway: a typed struct read
/// with `Fields`, so its errors land in the same decoder.
#[derive(Debug)]
struct Limit {
    requests: u32,
}

impl Decode for Limit {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let mut f = d.fields(node, path, "a limit")?;
        let requests = f.required(d, "requests");
        let _per: Option<std::time::Duration> = f.required(d, "per");
        let _burst: Option<u32> = f.optional(d, "burst");
        f.finish(d);
        Some(Limit {
            requests: requests?,
        })
    }
}

#[test]
fn the_gateway_adds_plugin_and_descriptor_errors_to_the_same_report() {
    let text = CONFIG.replace("upstream: products\n", "upstream: prodcuts\n");
    let (config, mut d) = parse_str_with(&text, Path::new("gw.yaml"));
    // The core model has an error, but the best-effort model is still there.
    assert!(d.has_errors());
    let config = config.expect("best-effort model");

    for route in &config.routes {
        for plugin in &route.plugins {
            if let Some(mut f) = d.fields(&plugin.body, &plugin.path, "`rate_limit`") {
                // An unknown key is reported but does not stop the value.
                let limits: Option<Vec<Limit>> = f.required(&mut d, "limits");
                f.finish(&mut d);
                assert_eq!(limits.map(|l| l[0].requests), Some(10));
            }
        }
    }
    for entry in &config.descriptors {
        d.error(
            entry.span,
            &entry.path,
            "cannot open `protos/all.pb`: no such file",
        );
    }

    let all = d.finish(Some(config)).expect_err("three errors");
    assert_eq!(
        all.to_string(),
        "gw.yaml:6:15: descriptors[0]: cannot open `protos/all.pb`: no such file\n\
         gw.yaml:12:15: routes[0].upstream: upstream `prodcuts` is not declared under `upstreams`; did you mean `products`?\n\
         gw.yaml:16:40: routes[0].plugins[0].rate_limit.limits[0].burts: unknown key `burts`; expected one of: requests, per, burst; did you mean `burst`?"
    );
}

#[test]
fn load_with_gives_no_model_after_a_syntax_error() {
    let (config, d) = parse_str_with("server: [", Path::new("gw.yaml"));
    assert!(config.is_none());
    assert_eq!(d.error_count(), 1);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("gw.yaml");
    fs::write(&file, CONFIG).expect("write config");
    let (config, d) = load_with(&file);
    assert!(config.is_some());
    assert!(!d.has_errors());
}

#[test]
fn decode_str_reads_any_decodable_type() {
    let limits: Vec<Limit> = decode_str(
        "- { requests: 3, per: 1s }\n- { requests: 5, per: 2m }\n",
        Path::new("t.yaml"),
    )
    .expect("limits");
    assert_eq!(limits.iter().map(|l| l.requests).sum::<u32>(), 8);
}
