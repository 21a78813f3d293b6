//! Node and tree caches kept up to date by one persistent (node) or persistent-recursive (tree)
//! watch, as Curator's `CuratorCache` does on ZooKeeper 3.6+: the watch is set first, then the
//! data is loaded, then every event re-reads what it names; after a reconnect the whole cache is
//! reloaded (persistent watches do not replay what changed while away).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::path::join;
use crate::{
    AddWatchMode, Bytes, Client, Error, EventStream, EventType, KeeperState, Result, Stat,
};

type Nodes = Arc<Mutex<BTreeMap<String, (Bytes, Stat)>>>;

#[derive(Debug)]
struct Cache {
    nodes: Nodes,
    version: watch::Receiver<u64>,
    task: JoinHandle<()>,
}

impl Cache {
    async fn start(client: &Client, root: &str, recursive: bool) -> Result<Cache> {
        let mode = if recursive {
            AddWatchMode::PersistentRecursive
        } else {
            AddWatchMode::Persistent
        };
        let events = client.add_watch(root, mode).await?;
        let nodes: Nodes = Arc::default();
        load(client, root, recursive, &nodes).await?;
        let (tx, version) = watch::channel(0);
        let task = tokio::spawn(run(
            client.clone(),
            root.to_owned(),
            recursive,
            events,
            nodes.clone(),
            tx,
        ));
        Ok(Cache {
            nodes,
            version,
            task,
        })
    }

    fn get(&self, path: &str) -> Option<(Bytes, Stat)> {
        self.nodes.lock().expect("cache lock").get(path).cloned()
    }

    async fn wait_until(&mut self, mut f: impl FnMut(&BTreeMap<String, (Bytes, Stat)>) -> bool) {
        loop {
            if f(&self.nodes.lock().expect("cache lock")) {
                return;
            }
            if self.version.changed().await.is_err() {
                return;
            }
        }
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn load(client: &Client, root: &str, recursive: bool, nodes: &Nodes) -> Result<()> {
    let mut fresh = BTreeMap::new();
    let mut todo = vec![root.to_owned()];
    while let Some(path) = todo.pop() {
        match client.get_data(&path).await {
            Ok(v) => {
                fresh.insert(path.clone(), v);
            }
            Err(Error::NoNode) => continue,
            Err(e) => return Err(e),
        }
        if recursive {
            match client.get_children(&path).await {
                Ok(children) => todo.extend(children.iter().map(|c| join(&path, c))),
                Err(Error::NoNode) => {}
                Err(e) => return Err(e),
            }
        }
    }
    *nodes.lock().expect("cache lock") = fresh;
    Ok(())
}

async fn refresh(client: &Client, path: &str, nodes: &Nodes) -> Result<()> {
    match client.get_data(path).await {
        Ok(v) => {
            nodes.lock().expect("cache lock").insert(path.to_owned(), v);
            Ok(())
        }
        Err(Error::NoNode) => {
            remove(path, nodes);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn remove(path: &str, nodes: &Nodes) {
    let mut n = nodes.lock().expect("cache lock");
    n.remove(path);
    let prefix = if path == "/" {
        "/".to_owned()
    } else {
        format!("{path}/")
    };
    n.retain(|k, _| !k.starts_with(&prefix));
}

async fn run(
    client: Client,
    root: String,
    recursive: bool,
    mut events: EventStream,
    nodes: Nodes,
    version: watch::Sender<u64>,
) {
    let mut reload = false;
    while let Some(event) = events.next().await {
        match (event.event_type, event.path.as_deref()) {
            (EventType::None, _) => match event.state {
                KeeperState::SyncConnected | KeeperState::ConnectedReadOnly if reload => {
                    reload = load(&client, &root, recursive, &nodes).await.is_err();
                }
                KeeperState::Disconnected => reload = true,
                _ => {}
            },
            (EventType::NodeDeleted, Some(p)) => remove(p, &nodes),
            (EventType::NodeCreated | EventType::NodeDataChanged, Some(p)) => {
                reload |= refresh(&client, p, &nodes).await.is_err();
            }
            _ => {}
        }
        version.send_modify(|v| *v += 1);
    }
}

/// A local copy of one node, kept current by a persistent watch.
#[derive(Debug)]
pub struct NodeCache {
    path: String,
    cache: Cache,
}

impl NodeCache {
    pub async fn start(client: &Client, path: &str) -> Result<NodeCache> {
        Ok(NodeCache {
            path: path.to_owned(),
            cache: Cache::start(client, path, false).await?,
        })
    }

    /// The node's data and stat, `None` while it does not exist.
    pub fn current(&self) -> Option<(Bytes, Stat)> {
        self.cache.get(&self.path)
    }

    /// Waits until `f` holds for the cached value.
    pub async fn wait_until(&mut self, mut f: impl FnMut(Option<&(Bytes, Stat)>) -> bool) {
        let path = self.path.clone();
        self.cache.wait_until(|n| f(n.get(&path))).await;
    }
}

/// A local copy of a subtree, kept current by a persistent-recursive watch.
#[derive(Debug)]
pub struct TreeCache {
    cache: Cache,
}

impl TreeCache {
    pub async fn start(client: &Client, root: &str) -> Result<TreeCache> {
        Ok(TreeCache {
            cache: Cache::start(client, root, true).await?,
        })
    }

    /// One node's data and stat.
    pub fn get(&self, path: &str) -> Option<(Bytes, Stat)> {
        self.cache.get(path)
    }

    /// Every cached path and its data.
    pub fn snapshot(&self) -> BTreeMap<String, Bytes> {
        self.cache
            .nodes
            .lock()
            .expect("cache lock")
            .iter()
            .map(|(k, (d, _))| (k.clone(), d.clone()))
            .collect()
    }

    /// Waits until `f` holds for the cached tree.
    pub async fn wait_until(&mut self, f: impl FnMut(&BTreeMap<String, (Bytes, Stat)>) -> bool) {
        self.cache.wait_until(f).await;
    }
}
