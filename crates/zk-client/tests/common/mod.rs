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
