//! The integration suite's harness: a server launcher trait (Apache ZooKeeper 3.8 today, ours by
//! adding one impl), a TCP proxy the tests can cut, and polling helpers with deadlines.

#![allow(dead_code, unreachable_pub)]

pub mod proxy;
pub mod suite;

use std::future::Future;
use std::time::Duration;

/// What a test needs of a server.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// `tickTime` in ms (sessions may be as short as 2 ticks). Default 500.
    pub tick_ms: Option<u32>,
}

/// A running server.
pub trait TestServer: Send + Sync {
    /// `host:port` clients connect to.
    fn address(&self) -> String;
}

/// Starts servers for the suite.
pub trait Launcher {
    fn start(options: ServerOptions) -> Box<dyn TestServer>;
}

/// Apache ZooKeeper 3.8 through zk-testkit, with TTL nodes enabled.
#[derive(Debug)]
pub struct Apache;

struct ApacheHandle(zk_testkit::ApacheServer);

impl TestServer for ApacheHandle {
    fn address(&self) -> String {
        self.0.address()
    }
}

impl Launcher for Apache {
    fn start(options: ServerOptions) -> Box<dyn TestServer> {
        let tick = options.tick_ms.unwrap_or(500);
        Box::new(ApacheHandle(zk_testkit::ApacheServer::start_with(
            zk_testkit::ApacheOptions {
                config: vec![format!("tickTime={tick}")],
                jvm_args: vec!["-Dzookeeper.extendedTypesEnabled=true".into()],
                ..Default::default()
            },
        )))
    }
}

/// Polls `f` until it returns `Some`, panicking with `what` after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Awaits `f` with a deadline.
pub async fn within<T>(limit: Duration, what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// This project's server: the `zk-server` binary (built on first use with the cargo running the
/// tests, or taken from `ZK_SERVER_BIN`), as `zk-server start-foreground zoo.cfg`.
#[derive(Debug)]
pub struct Ours;

struct OursHandle {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl TestServer for OursHandle {
    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for OursHandle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn zk_server_bin() -> std::path::PathBuf {
    static BIN: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(p) = std::env::var("ZK_SERVER_BIN") {
            return p.into();
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = std::process::Command::new(cargo)
            .args([
                "build",
                "-q",
                "-p",
                "zk-server",
                "--bin",
                "zk-server",
                "--message-format=json",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run cargo build -p zk-server");
        assert!(
            out.status.success(),
            "building zk-server failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .rfind(|l| l.contains("\"executable\":\"") && l.contains("zk-server"))
            .expect("cargo reported no zk-server executable");
        let start = line.find("\"executable\":\"").unwrap() + "\"executable\":\"".len();
        let end = start + line[start..].find('"').unwrap();
        line[start..end].into()
    })
    .clone()
}

impl Launcher for Ours {
    fn start(options: ServerOptions) -> Box<dyn TestServer> {
        let bin = zk_server_bin();
        let dir = tempfile::tempdir().expect("temp dir");
        let port = zk_testkit::free_port();
        let tick = options.tick_ms.unwrap_or(500);
        let cfg = format!(
            "tickTime={tick}\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             4lw.commands.whitelist=*\nadmin.enableServer=false\nextendedTypesEnabled=true\n",
            dir.path().join("data").display()
        );
        let cfg_path = dir.path().join("zoo.cfg");
        std::fs::write(&cfg_path, cfg).expect("write zoo.cfg");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let mut child = std::process::Command::new(bin)
            .arg("start-foreground")
            .arg(&cfg_path)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start zk-server");
        let address = format!("127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "zk-server exited with {status}:\n{}",
                    std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
                );
            }
            if zk_testkit::four_letter_word(&address, "srvr").starts_with("Zookeeper version") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "zk-server did not serve within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Box::new(OursHandle {
            child,
            port,
            _dir: dir,
        })
    }
}
