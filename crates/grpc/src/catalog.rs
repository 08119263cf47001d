//! The descriptor catalog: every protobuf service the gateway knows about.
//!
//! Built once at config load (and again on reload) from the configured
//! descriptor sources, then shared read-only by the request path, which looks
//! methods up by their HTTP/2 `:path` (`/pkg.Service/Method`) to learn the RPC
//! kind (for metrics labels and streaming rules) and the message types (for
//! transcoding and reflection).
//!
//! Sources are either compiled `FileDescriptorSet`s (`protoc
//! --descriptor_set_out`, `buf build -o`) or `.proto` files, which are
//! compiled in-process with [`protox`], so no `protoc` binary is needed.
//! Extension options such as `google.api.http` survive loading.
//!
//! All sources go into one [`DescriptorPool`]. Files shared by several
//! sources (e.g. `google/protobuf/*.proto`) are loaded once; a file loaded
//! twice with different contents is an error rather than a silent
//! first-one-wins. A source may use types from any other source, in any
//! order.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use prost::Message as _;
use prost_reflect::prost_types::{
    DescriptorProto, EnumDescriptorProto, FileDescriptorProto, FileDescriptorSet,
    ServiceDescriptorProto,
};
use prost_reflect::{DescriptorPool, MethodDescriptor, ServiceDescriptor};

/// File extensions recognised as compiled descriptor sets in a directory.
pub const DESCRIPTOR_SET_EXTENSIONS: [&str; 3] = ["pb", "protoset", "desc"];

/// How deep directory sources are searched (guards against symlink loops).
const MAX_DIR_DEPTH: usize = 32;

/// Where descriptors come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DescriptorSource {
    /// A binary `FileDescriptorSet` file (`.pb`, `.protoset`, `.desc`), or a
    /// directory searched recursively for such files, each loaded on its own.
    Set(PathBuf),
    /// A `.proto` file, or a directory searched recursively for `.proto`
    /// files, compiled with `protox`. Include roots are `import_paths` in
    /// order, then `path` itself (a directory) or its parent (a file); file
    /// names come from the first root that contains them, as with `protoc
    /// -I`.
    Protos {
        /// The `.proto` file or directory.
        path: PathBuf,
        /// Extra include roots for imports.
        import_paths: Vec<PathBuf>,
    },
}

impl DescriptorSource {
    /// The configured file or directory.
    pub fn path(&self) -> &Path {
        match self {
            DescriptorSource::Set(path) | DescriptorSource::Protos { path, .. } => path,
        }
    }
}

/// Why a source could not be loaded. Each names the file or directory at
/// fault.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file or directory does not exist.
    #[error("{}: not found", path.display())]
    Missing {
        /// The missing path.
        path: PathBuf,
    },
    /// The file or directory exists but could not be read.
    #[error("{}: cannot read: {error}", path.display())]
    Unreadable {
        /// The unreadable path.
        path: PathBuf,
        /// The I/O error.
        error: io::Error,
    },
    /// A directory source holds no file of the expected kind.
    #[error("{}: directory contains no {expected} files", path.display())]
    EmptyDirectory {
        /// The directory.
        path: PathBuf,
        /// What was looked for, e.g. `".proto"`.
        expected: &'static str,
    },
    /// A descriptor set file is not a valid, self-consistent
    /// `FileDescriptorSet` (or references types no source provides).
    #[error("{}: not a valid FileDescriptorSet: {reason}", path.display())]
    InvalidDescriptorSet {
        /// The descriptor set file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A `.proto` source failed to compile.
    #[error("{}: {message}", path.display())]
    Compile {
        /// The configured `.proto` file or directory.
        path: PathBuf,
        /// protox's diagnostic, as `file:line:column: message` where known.
        message: String,
    },
    /// A source is valid on its own but clashes with another source (a file
    /// of the same name with different contents, or a duplicate type name).
    #[error("{}: conflicts with another source: {reason}", path.display())]
    Conflict {
        /// The source that was not loaded.
        path: PathBuf,
        /// The clash.
        reason: String,
    },
}

impl CatalogError {
    /// The file or directory this error is about.
    pub fn path(&self) -> &Path {
        match self {
            CatalogError::Missing { path }
            | CatalogError::Unreadable { path, .. }
            | CatalogError::EmptyDirectory { path, .. }
            | CatalogError::InvalidDescriptorSet { path, .. }
            | CatalogError::Compile { path, .. }
            | CatalogError::Conflict { path, .. } => path,
        }
    }

    fn io(path: &Path, error: io::Error) -> Self {
        if error.kind() == io::ErrorKind::NotFound {
            CatalogError::Missing {
                path: path.to_owned(),
            }
        } else {
            CatalogError::Unreadable {
                path: path.to_owned(),
                error,
            }
        }
    }
}

/// The four RPC shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RpcKind {
    /// One request, one response.
    Unary,
    /// A request stream, one response.
    ClientStreaming,
    /// One request, a response stream.
    ServerStreaming,
    /// Streams both ways.
    BidiStreaming,
}

impl RpcKind {
    /// The kind from a method's `client_streaming` / `server_streaming` flags.
    pub const fn from_streaming(client: bool, server: bool) -> Self {
        match (client, server) {
            (false, false) => RpcKind::Unary,
            (true, false) => RpcKind::ClientStreaming,
            (false, true) => RpcKind::ServerStreaming,
            (true, true) => RpcKind::BidiStreaming,
        }
    }

    /// The go-grpc-prometheus `grpc_type` label value.
    pub const fn label(self) -> &'static str {
        match self {
            RpcKind::Unary => "unary",
            RpcKind::ClientStreaming => "client_stream",
            RpcKind::ServerStreaming => "server_stream",
            RpcKind::BidiStreaming => "bidi_stream",
        }
    }

    /// True if the client sends a stream of messages.
    pub const fn client_streaming(self) -> bool {
        matches!(self, RpcKind::ClientStreaming | RpcKind::BidiStreaming)
    }

    /// True if the server sends a stream of messages.
    pub const fn server_streaming(self) -> bool {
        matches!(self, RpcKind::ServerStreaming | RpcKind::BidiStreaming)
    }
}

impl fmt::Display for RpcKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One RPC method in the catalog.
#[derive(Debug, Clone)]
pub struct MethodInfo {
    /// The HTTP/2 path, `/pkg.Service/Method`.
    pub path: String,
    /// The service's full name, `pkg.Service`.
    pub service: String,
    /// The method's short name, `Method`.
    pub method: String,
    /// Streaming shape.
    pub kind: RpcKind,
    /// The full descriptor: input/output message types, options.
    pub descriptor: MethodDescriptor,
}

/// Splits a gRPC request path `/pkg.Service/Method` into `("pkg.Service",
/// "Method")`. `None` unless the path is exactly a leading `/` and two
/// non-empty segments.
pub fn split_grpc_path(path: &str) -> Option<(&str, &str)> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    if service.is_empty() || method.is_empty() || method.contains('/') {
        None
    } else {
        Some((service, method))
    }
}

/// All known descriptors, and an index of methods by request path.
#[derive(Clone)]
pub struct Catalog {
    pool: DescriptorPool,
    /// Sorted by path, for stable iteration.
    methods: Vec<MethodInfo>,
    by_path: HashMap<String, usize>,
}

impl Catalog {
    /// A catalog with no services (no descriptor sources configured).
    pub fn empty() -> Self {
        Catalog::from_pool(DescriptorPool::new())
    }

    /// A catalog over an already built pool, e.g. one compiled into a test
    /// binary.
    pub fn from_pool(pool: DescriptorPool) -> Self {
        let mut methods: Vec<MethodInfo> = pool
            .services()
            .flat_map(|service| {
                let full_name = service.full_name().to_owned();
                service
                    .methods()
                    .map(move |m| MethodInfo {
                        path: format!("/{}/{}", full_name, m.name()),
                        service: full_name.clone(),
                        method: m.name().to_owned(),
                        kind: RpcKind::from_streaming(
                            m.is_client_streaming(),
                            m.is_server_streaming(),
                        ),
                        descriptor: m,
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        methods.sort_by(|a, b| a.path.cmp(&b.path));
        let by_path = methods
            .iter()
            .enumerate()
            .map(|(i, m)| (m.path.clone(), i))
            .collect();
        Catalog {
            pool,
            methods,
            by_path,
        }
    }

    /// Loads every source into one catalog.
    ///
    /// Returns all problems at once, one error per bad source (per bad file
    /// for a directory of descriptor sets), in source order, so a config
    /// check can report everything in one pass.
    pub fn load(sources: &[DescriptorSource]) -> Result<Catalog, Vec<CatalogError>> {
        let mut errors: Vec<(usize, CatalogError)> = Vec::new();
        let mut units: Vec<Unit> = Vec::new();
        for (index, source) in sources.iter().enumerate() {
            match source {
                DescriptorSource::Set(path) => {
                    for result in read_descriptor_sets(path) {
                        match result {
                            Ok(mut unit) => {
                                unit.source_index = index;
                                units.push(unit);
                            }
                            Err(err) => errors.push((index, err)),
                        }
                    }
                }
                DescriptorSource::Protos { path, import_paths } => {
                    match compile_protos(path, import_paths) {
                        Ok(mut unit) => {
                            unit.source_index = index;
                            units.push(unit);
                        }
                        Err(err) => errors.push((index, err)),
                    }
                }
            }
        }

        let mut pool = DescriptorPool::new();
        // Add units until no more can be added, so a descriptor set built
        // without `--include_imports` may come before the one providing its
        // imports.
        let mut pending = units;
        loop {
            let mut failed = Vec::new();
            let before = pending.len();
            for unit in pending {
                if let Err(reason) = add_unit(&mut pool, &unit) {
                    failed.push((unit, reason));
                }
            }
            if failed.is_empty() || failed.len() == before {
                for (unit, reason) in failed {
                    let index = unit.source_index;
                    errors.push((index, unit.into_error(reason)));
                }
                break;
            }
            pending = failed.into_iter().map(|(unit, _)| unit).collect();
        }

        if errors.is_empty() {
            Ok(Catalog::from_pool(pool))
        } else {
            errors.sort_by_key(|(index, _)| *index);
            Err(errors.into_iter().map(|(_, err)| err).collect())
        }
    }

    /// The method for a request path `/pkg.Service/Method`.
    pub fn method(&self, path: &str) -> Option<&MethodInfo> {
        self.by_path.get(path).and_then(|&i| self.methods.get(i))
    }

    /// Every method, sorted by path.
    pub fn methods(&self) -> impl ExactSizeIterator<Item = &MethodInfo> + '_ {
        self.methods.iter()
    }

    /// A service by full name, `pkg.Service`.
    pub fn service(&self, full_name: &str) -> Option<ServiceDescriptor> {
        self.pool.get_service_by_name(full_name)
    }

    /// The underlying pool, for message types and reflection.
    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    /// Number of methods.
    pub fn len(&self) -> usize {
        self.methods.len()
    }

    /// True if the catalog has no methods.
    pub fn is_empty(&self) -> bool {
        self.methods.is_empty()
    }
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog::empty()
    }
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog")
            .field("files", &self.pool.files().len())
            .field(
                "methods",
                &self
                    .methods
                    .iter()
                    .map(|m| m.path.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// One encoded `FileDescriptorSet` waiting to be added to the pool.
struct Unit {
    source_index: usize,
    /// The descriptor set file, or the configured `.proto` path.
    path: PathBuf,
    compiled: bool,
    /// The encoded set, added with `decode_file_descriptor_set` so extension
    /// options are kept.
    bytes: Vec<u8>,
    /// The same set decoded, to compare against files already in the pool.
    files: Vec<FileDescriptorProto>,
}

enum AddFailure {
    /// A file of this name is already loaded with a different shape.
    Shape(String),
    /// The pool rejected the set.
    Build(String),
}

impl Unit {
    fn into_error(self, failure: AddFailure) -> CatalogError {
        match failure {
            AddFailure::Shape(reason) => CatalogError::Conflict {
                path: self.path,
                reason,
            },
            // protox already checked compiled sets, so a rejection is a clash.
            AddFailure::Build(reason) if self.compiled => CatalogError::Conflict {
                path: self.path,
                reason,
            },
            AddFailure::Build(reason) => {
                // Valid on its own means it clashes with something loaded.
                if DescriptorPool::decode(self.bytes.as_slice()).is_ok() {
                    CatalogError::Conflict {
                        path: self.path,
                        reason,
                    }
                } else {
                    CatalogError::InvalidDescriptorSet {
                        path: self.path,
                        reason,
                    }
                }
            }
        }
    }
}

fn add_unit(pool: &mut DescriptorPool, unit: &Unit) -> Result<(), AddFailure> {
    for file in &unit.files {
        // Keep the FileDescriptor (a pool handle) scoped to this check.
        let clash = pool
            .get_file_by_name(file.name())
            .is_some_and(|existing| !same_file_shape(existing.file_descriptor_proto(), file));
        if clash {
            return Err(AddFailure::Shape(format!(
                "file '{}' is already loaded with different contents",
                file.name()
            )));
        }
    }
    pool.decode_file_descriptor_set(unit.bytes.as_slice())
        .map_err(|err| AddFailure::Build(err.to_string()))
}

/// Reads a descriptor set file, or every one in a directory.
fn read_descriptor_sets(path: &Path) -> Vec<Result<Unit, CatalogError>> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(err) => return vec![Err(CatalogError::io(path, err))],
    };
    if !meta.is_dir() {
        return vec![read_descriptor_set(path)];
    }
    let mut files = Vec::new();
    if let Err(err) = walk(path, 0, &mut files, &|p| {
        has_extension(p, &DESCRIPTOR_SET_EXTENSIONS)
    }) {
        return vec![Err(err)];
    }
    if files.is_empty() {
        return vec![Err(CatalogError::EmptyDirectory {
            path: path.to_owned(),
            expected: "descriptor set (.pb, .protoset, .desc)",
        })];
    }
    files.iter().map(|f| read_descriptor_set(f)).collect()
}

fn read_descriptor_set(path: &Path) -> Result<Unit, CatalogError> {
    let bytes = fs::read(path).map_err(|err| CatalogError::io(path, err))?;
    let invalid = |reason: String| CatalogError::InvalidDescriptorSet {
        path: path.to_owned(),
        reason,
    };
    let set = FileDescriptorSet::decode(bytes.as_slice()).map_err(|e| invalid(e.to_string()))?;
    if set.file.is_empty() {
        return Err(invalid("contains no file descriptors".to_owned()));
    }
    if let Some(unnamed) = set.file.iter().position(|f| f.name().is_empty()) {
        return Err(invalid(format!("file descriptor #{unnamed} has no name")));
    }
    Ok(Unit {
        source_index: 0,
        path: path.to_owned(),
        compiled: false,
        bytes,
        files: set.file,
    })
}

/// Compiles a `.proto` file or directory with protox.
fn compile_protos(path: &Path, import_paths: &[PathBuf]) -> Result<Unit, CatalogError> {
    let meta = fs::metadata(path).map_err(|err| CatalogError::io(path, err))?;
    // Absolute paths, so include roots and file paths given in different
    // forms ("protos" vs "./protos/a.proto") still match.
    let abs = |p: &Path| std::path::absolute(p).map_err(|err| CatalogError::io(p, err));
    let (root, files) = if meta.is_dir() {
        let root = abs(path)?;
        let mut files = Vec::new();
        walk(&root, 0, &mut files, &|p| has_extension(p, &["proto"]))?;
        if files.is_empty() {
            return Err(CatalogError::EmptyDirectory {
                path: path.to_owned(),
                expected: ".proto",
            });
        }
        (root, files)
    } else {
        let file = abs(path)?;
        let root = file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        (root, vec![file])
    };

    let mut includes = Vec::with_capacity(import_paths.len() + 1);
    for import in import_paths {
        match fs::metadata(import) {
            Ok(m) if m.is_dir() => includes.push(abs(import)?),
            Ok(_) => {
                return Err(CatalogError::Compile {
                    path: path.to_owned(),
                    message: format!("import path '{}' is not a directory", import.display()),
                })
            }
            Err(err) => return Err(CatalogError::io(import, err)),
        }
    }
    includes.push(root);

    let compile_error = |err: protox::Error| CatalogError::Compile {
        path: path.to_owned(),
        message: describe_protox_error(&err),
    };
    let mut compiler = protox::Compiler::new(&includes).map_err(compile_error)?;
    compiler.include_imports(true).include_source_info(false);
    compiler.open_files(&files).map_err(compile_error)?;
    Ok(Unit {
        source_index: 0,
        path: path.to_owned(),
        compiled: true,
        bytes: compiler.encode_file_descriptor_set(),
        files: compiler.file_descriptor_set().file,
    })
}

/// Turns a protox error into one line: `file:line:col: message (help: ...)`
/// for the error and each related one, then the chain of causes.
fn describe_protox_error(err: &protox::Error) -> String {
    use miette::Diagnostic;

    fn push(out: &mut String, diag: &dyn Diagnostic, fallback: Option<&dyn miette::SourceCode>) {
        let source = diag.source_code().or(fallback);
        let location = diag
            .labels()
            .and_then(|mut labels| labels.next())
            .and_then(|label| source?.read_span(label.inner(), 0, 0).ok())
            .map(|span| {
                (
                    span.name().map(str::to_owned),
                    span.line() + 1,
                    span.column() + 1,
                )
            });
        match location {
            Some((Some(name), line, col)) => {
                let _ = write!(out, "{name}:{line}:{col}: ");
            }
            Some((None, line, col)) => {
                let _ = write!(out, "{line}:{col}: ");
            }
            None => {}
        }
        let _ = write!(out, "{diag}");
        if let Some(help) = diag.help() {
            let _ = write!(out, " (help: {help})");
        }
    }

    let mut out = String::new();
    if err.labels().is_none() {
        if let Some(file) = err.file() {
            let _ = write!(out, "{file}: ");
        }
    }
    push(&mut out, err, None);
    if let Some(related) = err.related() {
        for diag in related {
            out.push_str("; ");
            push(&mut out, diag, err.source_code());
        }
    }
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        let _ = write!(out, ": {c}");
        cause = c.source();
    }
    out
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Collects matching files under `dir`, recursively, sorted for a stable
/// load order. Follows symlinks, to a bounded depth.
fn walk(
    dir: &Path,
    depth: usize,
    out: &mut Vec<PathBuf>,
    matches: &dyn Fn(&Path) -> bool,
) -> Result<(), CatalogError> {
    if depth > MAX_DIR_DEPTH {
        return Ok(());
    }
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(|err| CatalogError::io(dir, err))? {
        let entry = entry.map_err(|err| CatalogError::io(dir, err))?;
        entries.push(entry.path());
    }
    entries.sort();
    for path in entries {
        // `metadata` follows symlinks; a dangling one is skipped.
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(&path, depth + 1, out, matches)?;
        } else if meta.is_file() && matches(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// True if two descriptors of the same file name define the same things.
///
/// Compares what the gateway relies on (package, messages and their fields,
/// enums, services and methods) and ignores what compilers fill in
/// differently (source info, `json_name`, options), so the same `.proto`
/// loaded from a protoc-built set and from protox is not a conflict.
fn same_file_shape(a: &FileDescriptorProto, b: &FileDescriptorProto) -> bool {
    a.package() == b.package()
        && all_eq(&a.message_type, &b.message_type, same_message_shape)
        && all_eq(&a.enum_type, &b.enum_type, same_enum_shape)
        && all_eq(&a.service, &b.service, same_service_shape)
}

fn same_message_shape(a: &DescriptorProto, b: &DescriptorProto) -> bool {
    a.name() == b.name()
        && all_eq(&a.field, &b.field, |x, y| {
            x.name() == y.name()
                && x.number() == y.number()
                && x.label() == y.label()
                && x.r#type() == y.r#type()
                && x.type_name() == y.type_name()
                && x.oneof_index == y.oneof_index
        })
        && all_eq(&a.nested_type, &b.nested_type, same_message_shape)
        && all_eq(&a.enum_type, &b.enum_type, same_enum_shape)
}

fn same_enum_shape(a: &EnumDescriptorProto, b: &EnumDescriptorProto) -> bool {
    a.name() == b.name()
        && all_eq(&a.value, &b.value, |x, y| {
            x.name() == y.name() && x.number() == y.number()
        })
}

fn same_service_shape(a: &ServiceDescriptorProto, b: &ServiceDescriptorProto) -> bool {
    a.name() == b.name()
        && all_eq(&a.method, &b.method, |x, y| {
            x.name() == y.name()
                && x.input_type() == y.input_type()
                && x.output_type() == y.output_type()
                && x.client_streaming() == y.client_streaming()
                && x.server_streaming() == y.server_streaming()
        })
}

fn all_eq<T>(a: &[T], b: &[T], eq: impl Fn(&T, &T) -> bool) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| eq(x, y))
}
