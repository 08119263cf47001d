//! The `transcoder` plugin: REST and JSON in, gRPC to the upstream, JSON
//! back, driven by the protobuf descriptors.
//!
//! Bindings come from the `google.api.http` annotations of the listed
//! `services` and from explicit `bindings`; both are checked against the
//! descriptor catalog when the config loads ([`bindings`]). A request is
//! matched against the bindings' path templates ([`template`]), turned into
//! the request message from its path variables, query ([`query`]) and body
//! ([`request`]), sent upstream through the plugin API's out-of-pipeline
//! call, and the answer printed by the proto3 JSON rules ([`response`],
//! straight from the wire bytes by [`wire_json`]); errors come back as
//! `{"code", "message", "details"}` with the HTTP status of Google's
//! mapping table. Streaming methods stream both ways as newline-delimited
//! JSON or Server-Sent Events ([`streaming`]). See the README for the
//! configuration and every rule.

pub mod bindings;
pub mod config;
pub mod fields;
mod filter;
pub mod metadata;
pub mod openapi;
pub mod query;
pub mod request;
pub mod response;
mod stream_calls;
pub mod streaming;
pub mod template;
pub mod wire_json;

pub use config::TranscoderConfig;
pub use filter::Transcoder;

use protogate_core::Decoder;
use protogate_grpc::catalog::Catalog;

/// The plugin's name in the config file.
pub const NAME: &str = "transcoder";

/// The path variables (`id`, `product.id`) of every binding `config` makes
/// against `catalog`: what `header_map` templates may name as
/// `${path.NAME}`. Problems with the bindings are reported by [`build`],
/// not here.
pub fn path_variables(
    config: &TranscoderConfig,
    catalog: &Catalog,
) -> std::collections::BTreeSet<String> {
    let mut quiet = Decoder::new(std::path::PathBuf::new());
    let Some(table) = bindings::BindingTable::build(config, catalog, &mut quiet) else {
        return Default::default();
    };
    table
        .iter()
        .flat_map(|binding| binding.template.variables.iter())
        .map(template::Variable::field_path_text)
        .collect()
}

/// Builds the plugin for one route: resolves its bindings against
/// `catalog`, recording every problem in `d`. `None` when any failed.
pub fn build(config: &TranscoderConfig, catalog: &Catalog, d: &mut Decoder) -> Option<Transcoder> {
    let table = bindings::BindingTable::build(config, catalog, d)?;
    Some(Transcoder::new(config, table, catalog.pool().clone()))
}

/// The JSON Schema of the plugin's settings (the body of `- transcoder:`),
/// as a reference into `g`'s definitions.
pub fn settings_schema(
    g: &mut protogate_core::schema::SchemaGenerator,
) -> protogate_core::schema::Schema {
    g.subschema_for::<TranscoderConfig>()
}
