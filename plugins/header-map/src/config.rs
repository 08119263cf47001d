//! The `header_map` configuration block.

use protogate_core::{Decode, Decoder, Node, YamlPath};

use crate::rules::Rules;

/// `header_map: { request: {...}, response: {...}, trailers: {...} }`.
/// Every section is optional; each applies `remove`, `rename`, `set`, `add`
/// in that order. Every rule is checked here, when the config loads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderMapConfig {
    /// On the request the upstream receives (for the transcoder: the gRPC
    /// metadata it sends).
    pub request: Rules,
    /// On the response header the caller gets (for the transcoder: the
    /// REST answer's headers).
    pub response: Rules,
    /// On the response trailers (gRPC and gRPC-Web), including the status
    /// header of a trailers-only answer.
    pub trailers: Rules,
}

impl Decode for HeaderMapConfig {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        if node.is_null() {
            return Some(Self::default());
        }
        let mut fields = d.fields(node, path, "the header_map plugin")?;
        let mut section = |key: &str, d: &mut Decoder| match fields.node(key) {
            None => Some(Rules::default()),
            Some(node) if node.is_null() => Some(Rules::default()),
            Some(node) => Rules::decode(node, &path.key(key), d),
        };
        let request = section("request", d);
        let response = section("response", d);
        let trailers = section("trailers", d);
        fields.finish(d);
        Some(Self {
            request: request?,
            response: response?,
            trailers: trailers?,
        })
    }
}
