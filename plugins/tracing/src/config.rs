//! The `tracing` plugin's settings. The exporter (where spans go) is the
//! top-level `tracing` section, shared by every route.

use protogate_core::{Decode, Decoder, Node, Spanned, YamlPath};

/// `tracing: { sample_ratio: 1.0 }`.
#[derive(Clone, Debug, PartialEq)]
pub struct TracingPluginConfig {
    /// The share of new traces recorded, 0 to 1. A caller's sampled flag
    /// decides for the traces it continues; a failed call is recorded
    /// anyway unless its caller said "not sampled".
    pub sample_ratio: f64,
}

impl Default for TracingPluginConfig {
    fn default() -> Self {
        Self { sample_ratio: 1.0 }
    }
}

impl Decode for TracingPluginConfig {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        if node.is_null() {
            return Some(Self::default());
        }
        let mut fields = d.fields(node, path, "the tracing plugin")?;
        let ratio = fields.optional::<Spanned<f64>>(d, "sample_ratio");
        fields.finish(d);
        let sample_ratio = match ratio {
            None => 1.0,
            Some(r) if (0.0..=1.0).contains(&r.value) => r.value,
            Some(r) => {
                d.error(
                    r.span,
                    &path.key("sample_ratio"),
                    "sample_ratio is a share from 0 to 1",
                );
                return None;
            }
        };
        Some(Self { sample_ratio })
    }
}
