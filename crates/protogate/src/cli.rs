//! Command-line arguments.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

/// The default configuration file, relative to the working directory.
pub const DEFAULT_CONFIG: &str = "conf/protogate.yaml";

/// protogate: one fast edge proxy for gRPC, gRPC-Web and REST.
#[derive(Debug, Parser)]
#[command(name = "protogate", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the gateway. SIGHUP or a change of the file reloads it.
    Run {
        /// The configuration file.
        #[arg(short, long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Take the listening sockets over from the running protogate
        /// (graceful upgrade): start this, then send the old process SIGQUIT.
        #[arg(long)]
        upgrade: bool,
    },
    /// Validate the configuration and print every error; exit 1 on any.
    Check {
        /// The configuration file.
        #[arg(short, long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Print the compiled route table: which route, upstream and plugin
    /// chain each gRPC method reaches.
    Routes {
        /// The configuration file.
        #[arg(short, long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Print the JSON Schema of the configuration file (what
    /// conf/protogate.schema.json holds), for editors and linters.
    Schema,
}

impl Command {
    /// The configuration file the command reads; `None` for `schema`.
    pub fn config_path(&self) -> Option<&Path> {
        match self {
            Command::Run { config, .. }
            | Command::Check { config }
            | Command::Routes { config } => Some(config),
            Command::Schema => None,
        }
    }
}
