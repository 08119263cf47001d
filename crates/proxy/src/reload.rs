//! Live reload: SIGHUP, or a change of the config file, swaps in a new
//! runtime when the new file is valid.
//!
//! The new file goes through the same load as at start (every error is
//! logged when it is refused). A change under `server` (listeners,
//! threads, admin, ...) is refused: those are fixed while Pingora runs, and
//! a restart (or a graceful upgrade, which keeps the sockets) applies them.
//! The certificate files of the TLS listeners are read again at every
//! reload (all or none: a bad file refuses the reload).
//! A refused reload leaves the running config untouched. A call keeps the
//! runtime it started with, so a swap only affects new calls.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use protogate_config::ServerConfig;
use protogate_metrics::Metrics;

use crate::tls::ListenerTlsSlot;
use crate::Runtime;

/// How often the config file is compared with the last one loaded.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

/// What a reload attempt did.
#[derive(Debug, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The new runtime serves new calls.
    Applied,
    /// The file has errors; the old config keeps serving.
    Invalid,
    /// `server` changed; the old config keeps serving.
    NeedsRestart,
}

impl ReloadOutcome {
    /// The `result` label of `protogate_config_reloads_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Invalid => "invalid",
            Self::NeedsRestart => "needs_restart",
        }
    }
}

/// Reloads one config file into a running gateway.
pub struct Reloader {
    path: PathBuf,
    running: Arc<ArcSwap<Runtime>>,
    server: ServerConfig,
    metrics: Arc<Metrics>,
    listener_tls: Vec<Arc<ListenerTlsSlot>>,
}

impl Reloader {
    /// A reloader for the file at `path`, whose `server` section is `server`.
    pub fn new(
        path: &Path,
        running: Arc<ArcSwap<Runtime>>,
        server: ServerConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            path: path.to_path_buf(),
            running,
            server,
            metrics,
            listener_tls: Vec::new(),
        }
    }

    /// The TLS listeners, whose certificate files every reload reads again.
    pub fn with_listener_tls(mut self, slots: Vec<Arc<ListenerTlsSlot>>) -> Self {
        self.listener_tls = slots;
        self
    }

    /// Loads the file again and swaps it in if it is valid and leaves
    /// `server` as it is.
    pub fn reload(&self, why: &str) -> ReloadOutcome {
        let outcome = match crate::load(&self.path, &self.metrics) {
            Err(diagnostics) => {
                log::error!(
                    "reload ({why}) refused: {} has {} error(s); the running config keeps serving\n{diagnostics}",
                    self.path.display(),
                    diagnostics.0.len()
                );
                ReloadOutcome::Invalid
            }
            Ok((config, _)) if !config.server.same_settings(&self.server) => {
                log::error!(
                    "reload ({why}) refused: `server` changed in {}; listeners, threads, admin and the other \
                     server settings need a restart (a graceful upgrade keeps the sockets); the running config keeps serving",
                    self.path.display()
                );
                ReloadOutcome::NeedsRestart
            }
            Ok((_, runtime)) => {
                if let Err(error) = ListenerTlsSlot::reload_all(&self.listener_tls) {
                    log::error!(
                        "reload ({why}) refused: {error}; the running config and certificates keep serving"
                    );
                    self.metrics.config_reload(ReloadOutcome::Invalid.label());
                    return ReloadOutcome::Invalid;
                }
                let routes = runtime.routes.len();
                crate::health::start(&runtime, &self.metrics);
                self.running.store(Arc::new(runtime));
                log::info!(
                    "reload ({why}): {} applied, {routes} routes",
                    self.path.display()
                );
                ReloadOutcome::Applied
            }
        };
        self.metrics.config_reload(outcome.label());
        outcome
    }

    /// Starts the reload thread: SIGHUP and file changes trigger a reload.
    /// Returns once the SIGHUP handler is installed, so a SIGHUP can never
    /// hit the default action (ending the process) once serving starts.
    pub fn spawn(self) -> std::io::Result<()> {
        let (installed, wait_installed) = std::sync::mpsc::channel::<std::io::Result<()>>();
        std::thread::Builder::new()
            .name("protogate-reload".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = installed.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(self.watch(installed));
            })?;
        wait_installed
            .recv()
            .map_err(|_| std::io::Error::other("the reload thread ended before it started"))?
    }

    async fn watch(self, installed: std::sync::mpsc::Sender<std::io::Result<()>>) {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(hangup) => hangup,
            Err(e) => {
                let _ = installed.send(Err(e));
                return;
            }
        };
        let _ = installed.send(Ok(()));
        let mut last = std::fs::read(&self.path).ok();
        let mut tick = tokio::time::interval(WATCH_INTERVAL);
        loop {
            tokio::select! {
                _ = hangup.recv() => {
                    last = std::fs::read(&self.path).ok();
                    self.reload("SIGHUP");
                }
                _ = tick.tick() => {
                    let now = std::fs::read(&self.path).ok();
                    if now.is_some() && now != last {
                        last = now;
                        self.reload("file changed");
                    }
                }
            }
        }
    }
}
