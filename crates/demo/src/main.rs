//! `protogate-demo`: runs the demo upstream until Ctrl-C or SIGTERM.
//!
//! Logs exactly one line once the listener is bound, naming the real
//! address, so `--listen 127.0.0.1:0` can be used and the port read back.
//! With `--count-calls` it prints `calls: N ok: N failed: N` to stdout once
//! it has stopped (for benchmarks, whose load generators do not read
//! `grpc-status`).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use protogate_demo::{numbered_product, CallCounter, ProductStore};
use tokio::net::TcpListener;

/// The demo gRPC upstream for protogate: ProductService, the interop
/// TestService, health checking and server reflection.
#[derive(Debug, Parser)]
#[command(name = "protogate-demo", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:50051")]
    listen: SocketAddr,

    /// Count every ProductService and TestService call by its grpc-status
    /// and print `calls: N ok: N failed: N` to stdout on shutdown.
    #[arg(long)]
    count_calls: bool,

    /// Adds this many numbered products ("p-1", "p-2", ...) to the seeded
    /// catalogue, for long ListProducts streams in benchmarks.
    #[arg(long, default_value_t = 0)]
    extra_products: u32,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let args = Args::parse();

    let listener = match TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!(listen = %args.listen, %err, "cannot bind");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => tracing::info!("protogate-demo serving on {addr}"),
        Err(err) => tracing::info!(%err, "protogate-demo serving (address unknown)"),
    }

    let counter = args.count_calls.then(CallCounter::new);
    let store = ProductStore::seeded();
    if args.extra_products > 0 {
        let extra = (1..=i64::from(args.extra_products))
            .map(numbered_product)
            .collect();
        if let Err(err) = store.create_all(extra).await {
            tracing::error!(%err, "cannot add the extra products");
            return ExitCode::FAILURE;
        }
    }
    let served =
        protogate_demo::serve_with(listener, store, counter.clone(), shutdown_signal()).await;
    if let Some(counter) = counter {
        println!(
            "calls: {} ok: {} failed: {}",
            counter.calls(),
            counter.ok(),
            counter.failed()
        );
    }
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(%err, "server failed");
            ExitCode::FAILURE
        }
    }
}

/// Completes on Ctrl-C, or on SIGTERM where there is such a thing.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
