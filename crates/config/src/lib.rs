//! The YAML configuration model with line:column diagnostics.
//!
//! A config file is parsed into an owned, spanned [`Node`] tree, then
//! decoded into [`GatewayConfig`] by small [`Decode`] implementations that
//! record every problem in a [`Decoder`] and keep going. Unknown keys are
//! errors (with a "did you mean"), and every error names the file, line,
//! column and YAML path (`routes[2].plugins[0].rate_limit.burst`), so
//! `protogate check` can print all of them at once.
//!
//! Plugin settings are not decoded here: the gateway owns the plugin set
//! and decodes each [`PluginEntry::body`] with the same framework, into the
//! same [`Decoder`], through [`load_with`]:
//!
//! ```no_run
//! # use std::path::Path;
//! let (config, mut decoder) = protogate_config::load_with(Path::new("conf/protogate.yaml"));
//! if let Some(config) = &config {
//!     for plugin in &config.plugins {
//!         if let Some(mut fields) = decoder.fields(&plugin.body, &plugin.path, &plugin.name) {
//!             // fields.required(&mut decoder, "...") for each setting, then:
//!             fields.finish(&mut decoder);
//!         }
//!     }
//! }
//! match decoder.finish(config) {
//!     Ok(config) => { /* run it */ }
//!     Err(all) => eprintln!("{all}"),
//! }
//! ```

mod check;
mod decode;
mod decoder;
mod diag;
mod fields;
mod map;
mod markdown;
mod model;
mod names;
mod net;
mod node;
mod parse;
mod path;
pub mod schema;
mod suggest;
mod units;

use std::path::Path;

pub use decode::{Decode, Spanned};
pub use decoder::Decoder;
pub use diag::{Diagnostic, Diagnostics};
pub use fields::Fields;
pub use map::OrderedMap;
pub use markdown::yaml_block;
pub use model::*;
pub use names::{check_grpc_method, check_grpc_service, check_hostname};
pub use net::{parse_host_port, parse_ip_net, parse_socket_addr};
pub use node::{Node, Span, Value};
pub use path::YamlPath;
pub use units::{parse_byte_size, parse_duration, ByteSize, Timeout};

/// Re-exported: the type of `server.trusted_proxies`.
pub use ipnet::IpNet;

/// Loads and checks the config file at `path`, returning every problem.
///
/// Plugin bodies are not checked (see [`load_with`]).
pub fn load(path: &Path) -> Result<GatewayConfig, Diagnostics> {
    let (config, decoder) = load_with(path);
    decoder.finish(config)
}

/// Parses and checks config text as if read from `file` (which names the
/// file in diagnostics and anchors relative paths), returning every problem.
pub fn parse_str(text: &str, file: &Path) -> Result<GatewayConfig, Diagnostics> {
    let (config, decoder) = parse_str_with(text, file);
    decoder.finish(config)
}

/// Loads the config file at `path` for a caller that adds its own checks.
///
/// Returns a best-effort model and the decoder holding every problem found
/// so far. The model is `Some` whenever the file was read, parsed as YAML
/// and has a mapping at its root, even if other problems were found, so the
/// caller can go on checking plugin bodies and descriptor files and report
/// those problems together with these. It is only valid to run when the
/// decoder has no error after the caller's checks: end with
/// [`Decoder::finish`].
pub fn load_with(path: &Path) -> (Option<GatewayConfig>, Decoder) {
    let mut decoder = Decoder::new(path.to_path_buf());
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let config = decode_text(&text, &mut decoder);
            (config, decoder)
        }
        Err(error) => {
            decoder.error(
                Span::default(),
                &YamlPath::root(),
                format!("cannot read the config file: {error}"),
            );
            (None, decoder)
        }
    }
}

/// [`load_with`] for text already in memory, as if read from `file`.
pub fn parse_str_with(text: &str, file: &Path) -> (Option<GatewayConfig>, Decoder) {
    let mut decoder = Decoder::new(file.to_path_buf());
    let config = decode_text(text, &mut decoder);
    (config, decoder)
}

/// Parses YAML text into a [`Node`] tree, recording syntax errors and
/// duplicate keys in `d`; `None` after a syntax error. For decoding other
/// YAML (a plugin's example in its README, a test) with this framework.
pub fn parse_yaml(text: &str, d: &mut Decoder) -> Option<Node> {
    parse::parse_document(text, d)
}

/// Parses `text` and decodes its root as a `T`, returning every problem.
/// `file` names the text in diagnostics and anchors relative paths.
pub fn decode_str<T: Decode>(text: &str, file: &Path) -> Result<T, Diagnostics> {
    let mut decoder = Decoder::new(file.to_path_buf());
    let value = parse_yaml(text, &mut decoder)
        .and_then(|root| T::decode(&root, &YamlPath::root(), &mut decoder));
    decoder.finish(value)
}

fn decode_text(text: &str, d: &mut Decoder) -> Option<GatewayConfig> {
    let root = parse::parse_document(text, d)?;
    model::decode_config(&root, d)
}
