//! The `grpc_proxy` configuration block.

use protogate_core::{ByteSize, Decode, Decoder, Node, YamlPath};

/// gRPC's own default receive limit: 4 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 4 * 1024 * 1024;

/// `grpc_proxy: { max_message_size: 4MiB }`. Unknown keys are errors, so a
/// typo is caught at load rather than silently ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrpcProxyConfig {
    /// The largest message accepted in either direction, read from each
    /// message's 5-byte prefix before the message arrives. A larger one ends
    /// the call with RESOURCE_EXHAUSTED.
    pub max_message_size: u64,
}

impl Default for GrpcProxyConfig {
    fn default() -> Self {
        Self {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
        }
    }
}

impl Decode for GrpcProxyConfig {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        if node.is_null() {
            return Some(Self::default());
        }
        let mut fields = d.fields(node, path, "the grpc_proxy plugin")?;
        let size = fields.optional::<ByteSize>(d, "max_message_size");
        let span = fields.span();
        fields.finish(d);
        let max_message_size = size.map_or(DEFAULT_MAX_MESSAGE_SIZE, |s| s.0);
        if max_message_size == 0 || max_message_size > u64::from(u32::MAX) {
            d.error(
                span,
                &path.key("max_message_size"),
                "max_message_size must be between 1B and 4GiB (the gRPC frame length is 32 bits)",
            );
            return None;
        }
        Some(Self { max_message_size })
    }
}
