//! The README's example must stay a valid config.

use std::path::Path;

const README: &str = include_str!("../README.md");

/// The first ```yaml block of the README.
fn yaml_example() -> &'static str {
    protogate_config::yaml_block(README, "").expect("a yaml block")
}

#[test]
fn readme_example_is_a_valid_config() {
    let config = protogate_config::parse_str(yaml_example(), Path::new("README.md"))
        .unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(config.routes[0].upstream.value, "products");
    assert_eq!(config.routes[0].plugins[0].name, "rate_limit");
}
