//! The `protogate` command: `run`, `check` and `routes`.

mod cli;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use protogate_metrics::Metrics;

use cli::{Cli, Command};

/// mimalloc instead of glibc's malloc: a REST call through the transcoder
/// makes dozens of small allocations (headers, the dynamic message, the
/// JSON), and glibc's allocator spent about 12% of the gateway's CPU on them
/// (bench/run.sh, rest-get). mimalloc is built from source by its crate, with
/// no download.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(path) = cli.command.config_path().map(Path::to_path_buf) else {
        return print_schema();
    };
    init_logging();
    let metrics = match Metrics::new() {
        Ok(m) => Arc::new(m),
        Err(e) => {
            eprintln!("protogate: cannot create metrics: {e}");
            return ExitCode::FAILURE;
        }
    };
    let path = path.as_path();
    let loaded = protogate_proxy::load(path, &metrics);
    let (config, runtime) = match loaded {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            let count = diagnostics.0.len();
            eprintln!(
                "protogate: {} has {count} error{}",
                path.display(),
                if count == 1 { "" } else { "s" }
            );
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Check { .. } => {
            println!("{}: ok ({} routes)", path.display(), runtime.routes.len());
            ExitCode::SUCCESS
        }
        Command::Routes { .. } => {
            print!("{}", runtime.describe());
            ExitCode::SUCCESS
        }
        Command::Schema => print_schema(),
        Command::Run { upgrade, .. } => {
            let options = protogate_proxy::ServeOptions { upgrade };
            match protogate_proxy::serve(path, &config, runtime, metrics, options) {
                Ok(never) => match never {},
                Err(message) => {
                    eprintln!("protogate: {message}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Writes the config file's JSON Schema to stdout.
fn print_schema() -> ExitCode {
    let schema = protogate_proxy::PluginConfig::config_schema();
    match serde_json::to_string_pretty(&schema) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("protogate: cannot write the schema: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr; `RUST_LOG` filters them (default `info`, without the
/// access log: `RUST_LOG=info,protogate::access=info` adds a line per call).
/// `PROTOGATE_LOG_FORMAT=json` writes one JSON object per line (fields
/// under `fields`), for log shippers; the default is text. Pingora's own
/// `log` records are bridged in.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,protogate::access=off"));
    let json = std::env::var("PROTOGATE_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // Colours only on a terminal: a log file or journald gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
