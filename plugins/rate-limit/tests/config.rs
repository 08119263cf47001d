//! The plugin's configuration: the README example parses and decodes to
//! what it says, and bad settings are reported with their positions.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use protogate_config::{Decode, Decoder, Node, YamlPath};
use protogate_core::Code;
use protogate_plugin_rate_limit::config::{KeyPart, Mode, OnError, Store};
use protogate_plugin_rate_limit::RateLimitConfig;

/// The ```yaml block under the README's "## Example".
fn readme_example() -> String {
    protogate_config::yaml_block(include_str!("../README.md"), "## Example")
        .expect("a yaml example")
        .to_owned()
}

/// Decodes the `rate_limit` body of the first plugin of the first route.
fn decode(yaml: &str) -> (Option<RateLimitConfig>, String) {
    let root = protogate_config::decode_str::<Node>(yaml, Path::new("x.yaml")).expect("yaml");
    let plugin = &root.get("routes").unwrap().as_seq().unwrap()[0]
        .get("plugins")
        .unwrap()
        .as_seq()
        .unwrap()[0];
    let body = plugin.get("rate_limit").expect("a rate_limit");
    let path = YamlPath::root()
        .key("routes")
        .index(0)
        .key("plugins")
        .index(0)
        .key("rate_limit");
    let mut d = Decoder::new("x.yaml".into());
    let decoded = RateLimitConfig::decode(body, &path, &mut d);
    (decoded, d.into_diagnostics().to_string())
}

#[test]
fn the_readme_example_parses_and_decodes() {
    let (decoded, errors) = decode(&readme_example());
    let config = decoded.unwrap_or_else(|| panic!("{errors}"));
    assert_eq!(
        config.key,
        [
            KeyPart::ClientIp,
            KeyPart::Header(http::HeaderName::from_static("x-api-key"))
        ]
    );
    assert_eq!(config.limits.len(), 2);
    assert_eq!(config.limits[0].name, "10-per-1s");
    assert_eq!(config.limits[0].burst, 20);
    assert_eq!(config.limits[1].name, "hourly");
    assert_eq!(config.limits[1].burst, 1000, "burst defaults to requests");
    assert_eq!(config.limits[1].per, Duration::from_secs(3600));
    assert_eq!(config.concurrency, Some(50));
    assert_eq!(config.mode, Mode::Enforce);
    assert_eq!(config.grpc_status, Code::ResourceExhausted);
    let Store::Redis(redis) = &config.store else {
        panic!("a redis store");
    };
    assert_eq!(redis.timeout, Duration::from_millis(20));
    assert_eq!(redis.on_error, OnError::Allow);
    assert_eq!((redis.breaker_failures, redis.instances), (3, 4));
}

#[test]
fn bad_settings_are_reported_with_positions() {
    let (decoded, errors) = decode(
        r#"routes:
  - plugins:
      - rate_limit:
          key: [client_ip, client_ip, colour]
          limits:
            - { requests: 10, per: 0s }
            - { requests: 10, per: 1s, burst: 0 }
          store: memcached
          mode: dry-run
          redis: { url: "http://x" }
"#,
    );
    assert!(decoded.is_none());
    for expected in [
        "x.yaml:4:28: routes[0].plugins[0].rate_limit.key[1]: `client_ip` is named twice",
        "x.yaml:4:39: routes[0].plugins[0].rate_limit.key[2]: unknown key part `colour`",
        "x.yaml:6:36: routes[0].plugins[0].rate_limit.limits[0].per: per must be longer than zero",
        "x.yaml:7:47: routes[0].plugins[0].rate_limit.limits[1].burst: burst must be at least 1",
        "x.yaml:9:17: routes[0].plugins[0].rate_limit.mode: ",
        "rate_limit.redis.url: ",
    ] {
        assert!(errors.contains(expected), "missing: {expected}\n{errors}");
    }
}

#[test]
fn a_limit_needs_something_to_limit() {
    let (decoded, errors) = decode("routes:\n  - plugins:\n      - rate_limit: { key: [route] }\n");
    assert!(decoded.is_none());
    assert!(
        errors.contains("a rate_limit needs `limits`, `concurrency`, or both"),
        "{errors}"
    );
}
