//! `header_map`: rewrites the headers and gRPC metadata that cross the
//! gateway, in both directions, with every rule checked when the config
//! loads.
//!
//! Three sections: `request` (what the upstream receives), `response` (the
//! response header the caller gets) and `trailers` (gRPC trailers, and the
//! status header of a trailers-only answer). Each applies `remove`,
//! `rename`, `set` and `add` in that order ([`rules`]). Values may be
//! templates (`${client_ip}`, `${header.NAME}`, ...; [`template`]); names
//! follow gRPC's metadata rules ([`names`]). See the README.

pub mod config;
mod filter;
pub mod names;
pub mod request_id;
pub mod rules;
pub mod template;

pub use config::{GatewayHeaders, HeaderMapConfig};
pub use filter::HeaderMapper;

/// The plugin's name in the config file.
pub const NAME: &str = "header_map";

/// The JSON Schema of the plugin's settings (the body of `- header_map:`),
/// as a reference into `g`'s definitions.
pub fn settings_schema(
    g: &mut protogate_core::schema::SchemaGenerator,
) -> protogate_core::schema::Schema {
    g.subschema_for::<HeaderMapConfig>()
}
