//! The `grpc_proxy` configuration block.

use protogate_core::{Decode, Decoder, Node, YamlPath};

/// `grpc_proxy: {}` — no settings yet; unknown keys are errors, so a typo
/// is caught at load rather than silently ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrpcProxyConfig {}

impl Decode for GrpcProxyConfig {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        if node.is_null() {
            return Some(Self::default());
        }
        let fields = d.fields(node, path, "the grpc_proxy plugin")?;
        fields.finish(d);
        Some(Self {})
    }
}
