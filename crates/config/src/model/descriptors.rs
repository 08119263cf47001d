//! `descriptors`: where the protobuf catalog comes from.
//!
//! Only the entries are read here; the gateway opens the files (at load and
//! on every reload) and reports what it finds wrong at the entry's span and
//! path, into the same [`Decoder`].

use std::borrow::Cow;
use std::path::PathBuf;

use crate::decode::Decode;
use crate::decoder::Decoder;
use crate::node::{Node, Span, Value};
use crate::path::YamlPath;
use crate::schema::{self, JsonSchema, Schema, SchemaGenerator};

/// One `descriptors` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct DescriptorEntry {
    /// What to load.
    pub source: DescriptorSourceConfig,
    /// Where the entry starts, for errors found when loading it.
    pub span: Span,
    /// The entry's YAML path (`descriptors[1]`), for the same errors.
    pub path: YamlPath,
}

/// A source of protobuf descriptors. Paths are resolved against the config
/// file's directory.
#[derive(Clone, Debug, PartialEq)]
pub enum DescriptorSourceConfig {
    /// A compiled `FileDescriptorSet` (`.pb`, `.protoset`, `.desc`), or a
    /// directory of them: written as a plain string.
    Set(PathBuf),
    /// `.proto` sources compiled at load: `{ path, import_paths }`.
    Protos {
        /// A `.proto` file or a directory of them.
        path: PathBuf,
        /// Where imports are looked up, besides `path` itself.
        import_paths: Vec<PathBuf>,
    },
}

impl Decode for DescriptorEntry {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let source = match &node.value {
            Value::String(_) => DescriptorSourceConfig::Set(PathBuf::decode(node, path, d)?),
            Value::Map(_) => {
                let mut f = d.fields(node, path, "a descriptor entry")?;
                let proto_path = f.required(d, "path");
                let import_paths = f.optional(d, "import_paths").unwrap_or_default();
                f.finish(d);
                DescriptorSourceConfig::Protos {
                    path: proto_path?,
                    import_paths,
                }
            }
            _ => {
                d.expected(
                    node,
                    path,
                    "a descriptor set file (a string) or `{ path, import_paths }` for .proto sources",
                );
                return None;
            }
        };
        Some(DescriptorEntry {
            source,
            span: node.span,
            path: path.clone(),
        })
    }
}

impl JsonSchema for DescriptorEntry {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Descriptors")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schema::any_of(
            "Where protobuf descriptors come from.",
            vec![
                schema::file_path(
                    "a compiled FileDescriptorSet (.pb, .protoset, .desc) or a directory of them",
                ),
                schema::object(
                    ".proto sources, compiled at load (no protoc needed)",
                    &["path"],
                    vec![
                        (
                            "path",
                            schema::file_path("a .proto file or a directory of them"),
                        ),
                        (
                            "import_paths",
                            schema::array(
                                "where imports are looked up",
                                schema::file_path("a directory"),
                            ),
                        ),
                    ],
                ),
            ],
        )
    }
}
