//! The real `protogate` binary, started from a YAML string.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, HttpClient};

/// Finds a binary built beside the test executable
/// (`target/<profile>/NAME`; tests run from `target/<profile>/deps/`).
/// `PROTOGATE_BIN_DIR` overrides the directory.
pub fn sibling_binary(name: &str) -> PathBuf {
    let dir = match std::env::var_os("PROTOGATE_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe().expect("current exe");
            let deps = exe.parent().expect("deps dir");
            deps.parent().expect("profile dir").to_path_buf()
        }
    };
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first (`cargo build --workspace --bins`)",
        path.display()
    );
    path
}

/// The `protogate` binary under test.
pub fn protogate_bin() -> PathBuf {
    sibling_binary("protogate")
}

/// Prepares a gateway: the YAML may use `{listen}` and `{admin}`, which are
/// replaced by ephemeral loopback addresses, and `{dir}` for the temporary
/// directory holding the config file.
pub struct GatewayBuilder {
    yaml: String,
    files: Vec<(String, String)>,
    log_filter: String,
    env: Vec<(String, String)>,
}

impl GatewayBuilder {
    /// A gateway from this YAML template.
    pub fn new(yaml: &str) -> Self {
        Self {
            yaml: yaml.to_owned(),
            files: Vec::new(),
            log_filter: "warn".to_owned(),
            env: Vec::new(),
        }
    }

    /// The gateway's `RUST_LOG` (default `warn`); its log is `Gateway::log`.
    pub fn log_filter(mut self, filter: &str) -> Self {
        filter.clone_into(&mut self.log_filter);
        self
    }

    /// Sets an environment variable for the gateway process.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Writes an extra file next to the config (e.g. a .proto).
    pub fn file(mut self, name: &str, contents: &str) -> Self {
        self.files.push((name.to_owned(), contents.to_owned()));
        self
    }

    /// Starts the gateway and waits until `/readyz` says ready. Retries
    /// with new ports if one was taken between reservation and bind.
    pub async fn start(self) -> Gateway {
        let mut last_log = String::new();
        for _ in 0..3 {
            match self.try_start().await {
                Ok(gateway) => return gateway,
                Err(log) => last_log = log,
            }
        }
        panic!("the gateway did not become ready; its log:\n{last_log}");
    }

    async fn try_start(&self) -> Result<Gateway, String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let admin_port = free_port();
        let yaml = self
            .yaml
            .replace("{listen}", &format!("127.0.0.1:{port}"))
            .replace("{admin}", &format!("127.0.0.1:{admin_port}"))
            .replace("{dir}", &dir.path().display().to_string());
        let config = dir.path().join("protogate.yaml");
        std::fs::write(&config, yaml).expect("write config");
        for (name, contents) in &self.files {
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("create dirs");
            }
            std::fs::write(path, contents).expect("write file");
        }
        let log_path = dir.path().join("gateway.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = Command::new(protogate_bin())
            .args(["run", "--config"])
            .arg(&config)
            .env("RUST_LOG", &self.log_filter)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start protogate");
        let mut gateway = Gateway {
            child: Some(child),
            port,
            admin_port,
            dir_path: dir.path().to_path_buf(),
            _owned_dir: Some(dir),
            log_path,
        };
        if gateway.wait_ready().await {
            Ok(gateway)
        } else {
            let log = gateway.log();
            gateway.stop();
            Err(log)
        }
    }
}

/// A running gateway process, killed when dropped.
pub struct Gateway {
    child: Option<Child>,
    /// The proxy port on 127.0.0.1.
    pub port: u16,
    /// The admin port on 127.0.0.1.
    pub admin_port: u16,
    dir_path: PathBuf,
    /// Owned by the first process; a graceful-upgrade successor shares it.
    _owned_dir: Option<tempfile::TempDir>,
    log_path: PathBuf,
}

impl Gateway {
    /// Starts a gateway from a YAML template (see [`GatewayBuilder`]).
    pub async fn start(yaml: &str) -> Gateway {
        GatewayBuilder::new(yaml).start().await
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:ADMIN_PORT`.
    pub fn admin_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.admin_port)
    }

    /// The directory holding the config file.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir_path
    }

    /// The config file the process runs with.
    pub fn config_path(&self) -> PathBuf {
        self.dir_path.join("protogate.yaml")
    }

    /// Rewrites the config file from a template, with this gateway's ports
    /// and directory filled in (a running gateway picks the change up).
    pub fn write_config(&self, yaml: &str) {
        let yaml = yaml
            .replace("{listen}", &format!("127.0.0.1:{}", self.port))
            .replace("{admin}", &format!("127.0.0.1:{}", self.admin_port))
            .replace("{dir}", &self.dir_path.display().to_string());
        // Write then rename, so the watcher never reads half a file.
        let staged = self.dir_path.join("protogate.yaml.new");
        std::fs::write(&staged, yaml).expect("write config");
        std::fs::rename(&staged, self.config_path()).expect("replace config");
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends a signal (`HUP`, `TERM`, `QUIT`, `INT`) with `kill`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits (bounded) for the process to exit and returns its status.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(child) = &mut self.child {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Some(status);
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// Starts a second process on the same config, ports and directory
    /// with `--upgrade`: it takes the listening sockets over when this one
    /// gets SIGQUIT. Returns once the new process runs (it becomes ready
    /// only after the hand-over).
    pub fn start_upgrade(&self) -> Gateway {
        let log_path = self.dir_path.join("gateway-upgraded.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let child = Command::new(protogate_bin())
            .args(["run", "--upgrade", "--config"])
            .arg(self.config_path())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start protogate --upgrade");
        Gateway {
            child: Some(child),
            port: self.port,
            admin_port: self.admin_port,
            dir_path: self.dir_path.clone(),
            _owned_dir: None,
            log_path,
        }
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        HttpClient::http1()
            .get(&format!("{}/metrics", self.admin_url()))
            .await
            .text()
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// What the gateway logged so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log_path) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// Waits (bounded) until `/readyz` answers 200; false if the process
    /// exits or the bound passes first.
    pub async fn wait_ready(&mut self) -> bool {
        let url = format!("{}/readyz", self.admin_url());
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if !self.is_running() {
                return false;
            }
            let probe = tokio::time::timeout(Duration::from_secs(1), async {
                let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.admin_port)).await;
                if stream.is_err() {
                    return false;
                }
                // Whatever answers may not be this gateway (a port another
                // test took meanwhile): a failed exchange is "not ready".
                HttpClient::http1()
                    .try_send(http::Method::GET, &url, &[], bytes::Bytes::new())
                    .await
                    .is_ok_and(|reply| reply.status == 200)
            });
            if let Ok(true) = probe.await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Kills the process and reaps it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Gateway {
    /// Stops the process; when a test is failing, prints the gateway's log
    /// so the failure explains itself.
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!(
                "--- protogate log ---\n{}--- end of protogate log ---",
                self.log()
            );
        }
    }
}
