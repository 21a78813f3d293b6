//! Helpers for the ensemble tests: our binary as an ensemble member, clients per member, and the
//! tree of a member read back so trees can be compared across members (the digest 3.8 computes
//! covers the same fields: path, data, and the persisted stat).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use zk_client::{Acl, Client, CreateMode};
use zk_testkit::{Ensemble, EnsembleBuilder, Kind};

/// The ensemble tests run one at a time: each runs several servers on two cores.
pub(crate) static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub(crate) const WAIT: Duration = Duration::from_secs(60);

/// Our server binary as a member.
pub(crate) fn ours() -> Kind {
    Kind::Ours(env!("CARGO_BIN_EXE_zk-server").into())
}

/// Starts every member and waits until the ensemble has a leader and every member serves;
/// returns the leader's id.
pub(crate) async fn start(builder: EnsembleBuilder) -> (std::sync::Arc<Ensemble>, u64) {
    let e = std::sync::Arc::new(builder.build());
    let leader = blocking({
        let e = e.clone();
        move || {
            e.start_all();
            let leader = e.wait_for_leader(WAIT);
            for id in e.ids().collect::<Vec<_>>() {
                e.wait_serving(id, WAIT);
            }
            leader
        }
    })
    .await;
    (e, leader)
}

/// Runs a blocking fixture call off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("fixture call")
}

/// A client of one member.
pub(crate) async fn client(addr: &str) -> Client {
    Client::builder(addr)
        .session_timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(20))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"))
}

pub(crate) async fn create(c: &Client, path: &str, data: &[u8]) {
    c.create(path, data, &Acl::open_unsafe(), CreateMode::Persistent)
        .await
        .unwrap_or_else(|e| panic!("create {path}: {e}"));
}

/// One node as the digest sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    pub(crate) data: Vec<u8>,
    pub(crate) czxid: i64,
    pub(crate) mzxid: i64,
    pub(crate) pzxid: i64,
    pub(crate) version: i32,
    pub(crate) cversion: i32,
    pub(crate) ephemeral_owner: i64,
}

/// Every node of a member's tree after `sync`, except the `/zookeeper/` subtree (which the
/// digest leaves out too).
pub(crate) async fn tree(addr: &str) -> BTreeMap<String, Node> {
    let c = client(addr).await;
    c.sync("/").await.expect("sync");
    let mut out = BTreeMap::new();
    let mut todo = vec!["/".to_owned()];
    while let Some(path) = todo.pop() {
        let Ok((data, stat)) = c.get_data(&path).await else {
            continue;
        };
        let children = c.get_children(&path).await.unwrap_or_default();
        for child in children {
            let full = if path == "/" {
                format!("/{child}")
            } else {
                format!("{path}/{child}")
            };
            if full != "/zookeeper" {
                todo.push(full);
            }
        }
        out.insert(
            path,
            Node {
                data: data.to_vec(),
                czxid: stat.czxid.0,
                mzxid: stat.mzxid.0,
                pzxid: stat.pzxid.0,
                version: stat.version,
                cversion: stat.cversion,
                ephemeral_owner: stat.ephemeral_owner,
            },
        );
    }
    c.close().await;
    out
}

/// Waits until every running member serves the same tree; returns it.
pub(crate) async fn converged(e: &Ensemble) -> BTreeMap<String, Node> {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut trees = Vec::new();
        for id in e.ids().collect::<Vec<_>>() {
            if e.is_running(id) && e.mode(id).is_some() {
                trees.push((id, tree(&e.client_addr(id)).await));
            }
        }
        let same = trees.windows(2).all(|w| w[0].1 == w[1].1);
        if same && !trees.is_empty() {
            return trees.swap_remove(0).1;
        }
        if Instant::now() > deadline {
            let first = &trees[0];
            let other = trees
                .iter()
                .find(|t| t.1 != first.1)
                .expect("a differing tree");
            let diff: Vec<_> = first
                .1
                .iter()
                .filter(|(k, v)| other.1.get(*k) != Some(v))
                .map(|(k, _)| k.clone())
                .chain(
                    other
                        .1
                        .keys()
                        .filter(|k| !first.1.contains_key(*k))
                        .cloned(),
                )
                .take(10)
                .collect();
            panic!(
                "members {} and {} did not converge; differing paths: {diff:?}",
                first.0, other.0
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
