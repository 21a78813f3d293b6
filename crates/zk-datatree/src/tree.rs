//! The DataTree: nodes, the ACL table, ephemerals, sessions, watches, quotas and the digest, and
//! `apply`, the only way to change them (`DataTree.processTxn`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use zk_jute::txn::{MultiTxn, TxnBody, TxnHeader};
use zk_jute::{
    Acl, ErrorCode, EventType, Id, OpCode, Perms, SessionId, Stat, StatPersisted, Zxid,
    multi::MultiResult,
    proto::{Create2Response, CreateResponse, SetDataResponse},
};

use crate::acl::{AclCache, OPEN_ACL_INDEX, check_acl, mask_digests};
use crate::digest::node_digest;
use crate::kind::{CONTAINER_EPHEMERAL_OWNER, NodeKind};
use crate::node::{Node, NodeData, NodeId, NodeStore, SeededHasher};
use crate::path::{node_key, split_parent, watch_path};
use crate::quota::{self, QUOTA_ROOT, StatsTrack};
use crate::watch::{WatchNotification, WatchSummary, WatchTable, WatcherId};

/// Settings that change what the tree does; every replica must use the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeConfig {
    /// `zookeeper.extendedTypesEnabled`: TTL nodes exist (default false).
    pub extended_types_enabled: bool,
    /// Keys the hash of the path index and watch tables (pass a random value in a server, a
    /// fixed one in tests); it changes no result.
    pub hash_seed: u64,
}

impl Default for TreeConfig {
    fn default() -> Self {
        TreeConfig {
            extended_types_enabled: false,
            hash_seed: 0x5a4b_5452_4545,
        }
    }
}

/// What applying one txn did (`ProcessTxnResult`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnResult {
    pub client_id: SessionId,
    pub cxid: i32,
    pub zxid: Zxid,
    /// The txn type; for the sub-results of a failed multi, -1 (error).
    pub r#type: i32,
    /// 0 or the error code; a multi carries the first failing sub-result's code.
    pub err: i32,
    /// The created path; only creates report it (the one reply that carries a path), so other
    /// writes do not copy theirs.
    pub path: Option<String>,
    pub stat: Option<Stat>,
    /// The sub-results of a multi, in order.
    pub multi: Option<Vec<TxnResult>>,
}

impl TxnResult {
    fn new(header: &TxnHeader, ty: i32) -> Self {
        TxnResult {
            client_id: header.client_id,
            cxid: header.cxid,
            zxid: header.zxid,
            r#type: ty,
            err: 0,
            path: None,
            stat: None,
            multi: None,
        }
    }

    /// The results of a multi as the reply carries them (`FinalRequestProcessor`): a create2
    /// sub-op answers with its stat (the 3.8.2 behaviour).
    pub fn multi_results(&self) -> Vec<MultiResult> {
        let Some(subs) = &self.multi else {
            return Vec::new();
        };
        subs.iter()
            .map(|sub| match OpCode::try_from(sub.r#type) {
                Ok(OpCode::Check) => MultiResult::Check,
                Ok(OpCode::Create) => MultiResult::Create(CreateResponse {
                    path: sub.path.clone().unwrap_or_default(),
                }),
                Ok(OpCode::Create2 | OpCode::CreateTtl | OpCode::CreateContainer) => {
                    MultiResult::Create2(Create2Response {
                        path: sub.path.clone().unwrap_or_default(),
                        stat: sub.stat.clone().unwrap_or_default(),
                    })
                }
                Ok(OpCode::Delete | OpCode::DeleteContainer) => MultiResult::Delete,
                Ok(OpCode::SetData) => MultiResult::SetData(SetDataResponse {
                    stat: sub.stat.clone().unwrap_or_default(),
                }),
                _ => MultiResult::Error(sub.err),
            })
            .collect()
    }
}

/// A node as [`DataTree::node_view`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    pub stat: StatPersisted,
    pub data: Option<NodeData>,
    pub num_children: i32,
    pub acl: Arc<[Acl]>,
}

/// The result of `apply` and the watch events it fired, in firing order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub result: TxnResult,
    pub events: Vec<WatchNotification>,
}

/// Why a tree could not be rebuilt from a snapshot stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("Invalid Datatree, unable to find parent {parent} of path {path}")]
    MissingParent { parent: String, path: String },
    #[error("node {path} refers to ACL index {index}, which the ACL map does not have")]
    UnknownAcl { path: String, index: i64 },
    #[error("the snapshot has no root node")]
    NoRoot,
}

/// One node of a pre-order walk, as a snapshot stores it.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotNode<'a> {
    /// The root is `""`, then `/a`, `/a/b`, ...
    pub path: &'a str,
    pub data: Option<&'a [u8]>,
    pub acl: i64,
    pub stat: &'a StatPersisted,
}

/// ZooKeeper's replicated state.
#[derive(Debug, Clone)]
pub struct DataTree {
    config: TreeConfig,
    nodes: NodeStore,
    acls: AclCache,
    ephemerals: BTreeMap<i64, BTreeSet<NodeId>>,
    containers: BTreeSet<NodeId>,
    ttls: BTreeSet<NodeId>,
    sessions: BTreeMap<i64, i32>,
    data_watches: WatchTable,
    child_watches: WatchTable,
    quota_paths: BTreeSet<String>,
    digest: i64,
    last_processed_zxid: Zxid,
}

fn create_stat(zxid: Zxid, time: i64, ephemeral_owner: i64) -> StatPersisted {
    StatPersisted {
        czxid: zxid,
        mzxid: zxid,
        ctime: time,
        mtime: time,
        version: 0,
        cversion: 0,
        aversion: 0,
        ephemeral_owner,
        pzxid: zxid,
    }
}

impl Default for DataTree {
    fn default() -> Self {
        Self::new(TreeConfig::default())
    }
}

impl DataTree {
    /// A fresh tree: `/`, `/zookeeper`, `/zookeeper/quota` and `/zookeeper/config`, the last
    /// with ACL `[READ world:anyone]` (ACL index 1) and aversion -1, as 3.8 starts.
    pub fn new(config: TreeConfig) -> Self {
        let mut tree = Self::empty(config);
        let empty: Option<NodeData> = Some(Arc::new([]));
        let root = tree.insert_node("", empty.clone(), OPEN_ACL_INDEX, StatPersisted::default());
        let zk = tree.insert_node(
            "/zookeeper",
            empty.clone(),
            OPEN_ACL_INDEX,
            StatPersisted::default(),
        );
        tree.nodes.link_child(root, zk);
        let quota = tree.insert_node(
            QUOTA_ROOT,
            empty.clone(),
            OPEN_ACL_INDEX,
            StatPersisted::default(),
        );
        tree.nodes.link_child(zk, quota);
        let config_acl = tree.acls.convert_acls(&Acl::read_unsafe());
        let stat = StatPersisted {
            aversion: -1,
            ..StatPersisted::default()
        };
        let config_node = tree.insert_node("/zookeeper/config", empty, config_acl, stat);
        tree.nodes.link_child(zk, config_node);
        tree
    }

    fn empty(config: TreeConfig) -> Self {
        let hasher = SeededHasher::new(config.hash_seed);
        DataTree {
            config,
            nodes: NodeStore::new(config.hash_seed),
            acls: AclCache::default(),
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            sessions: BTreeMap::new(),
            data_watches: WatchTable::new(hasher),
            child_watches: WatchTable::new(hasher),
            quota_paths: BTreeSet::new(),
            digest: 0,
            last_processed_zxid: Zxid(0),
        }
    }

    /// Stores a node (not yet linked) and adds it to the digest.
    fn insert_node(
        &mut self,
        path: &str,
        data: Option<NodeData>,
        acl: i64,
        stat: StatPersisted,
    ) -> NodeId {
        self.digest = self
            .digest
            .wrapping_add(node_digest(path, data.as_deref(), &stat));
        self.nodes.insert(Node::new(path.into(), data, acl, stat))
    }

    /// Whether the node `path` exists.
    pub(crate) fn contains(&self, path: &str) -> bool {
        self.lookup(path).is_some()
    }

    /// The digest of the node at `path` (what request prep replaces when it changes it).
    pub(crate) fn node_digest_of(&self, path: &str) -> Option<i64> {
        self.lookup(path).map(|id| self.digest_of(id))
    }

    fn digest_of(&self, id: NodeId) -> i64 {
        let n = self.nodes.get(id);
        node_digest(&n.path, n.data.as_deref(), &n.stat)
    }

    /// Runs `change` on a node with its digest taken out before and put back after.
    fn change_node<R>(&mut self, id: NodeId, change: impl FnOnce(&mut Node) -> R) -> R {
        self.digest = self.digest.wrapping_sub(self.digest_of(id));
        let r = change(self.nodes.get_mut(id));
        self.digest = self.digest.wrapping_add(self.digest_of(id));
        r
    }

    pub fn config(&self) -> &TreeConfig {
        &self.config
    }

    fn lookup(&self, path: &str) -> Option<NodeId> {
        self.nodes.lookup(node_key(path))
    }

    fn kind_of(&self, ephemeral_owner: i64) -> NodeKind {
        NodeKind::of(ephemeral_owner, self.config.extended_types_enabled)
    }

    /// Files a new node under the containers, TTL nodes or its session's ephemerals.
    fn index_kind(&mut self, id: NodeId, ephemeral_owner: i64) {
        match self.kind_of(ephemeral_owner) {
            NodeKind::Container => {
                self.containers.insert(id);
            }
            NodeKind::Ttl(_) => {
                self.ttls.insert(id);
            }
            NodeKind::Ephemeral(session) => {
                self.ephemerals.entry(session).or_default().insert(id);
            }
            NodeKind::Persistent => {}
        }
    }

    /// The stat clients see (`DataNode.copyStat`): cversion is `2 * stored - numChildren`.
    fn client_stat(&self, id: NodeId) -> Stat {
        let n = self.nodes.get(id);
        let s = &n.stat;
        let num_children = n.num_children as i32;
        Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: s.aversion,
            ephemeral_owner: self.kind_of(s.ephemeral_owner).client_owner(),
            data_length: n.data_len() as i32,
            num_children,
            pzxid: s.pzxid,
        }
    }

    fn acl_of(&self, id: NodeId) -> &[Acl] {
        self.acls.acls(self.nodes.get(id).acl).unwrap_or(&[])
    }

    // ---------------------------------------------------------------------------------------
    // Plain lookups (no ACL check, no watch).

    /// The stat clients would see for `path`.
    pub fn stat(&self, path: &str) -> Option<Stat> {
        self.lookup(path).map(|id| self.client_stat(id))
    }

    /// The stored stat, data, child count and ACL of `path` in one lookup (what request prep
    /// reads of a node it changes).
    pub fn node_view(&self, path: &str) -> Option<NodeView> {
        let id = self.lookup(path)?;
        let n = self.nodes.get(id);
        Some(NodeView {
            stat: n.stat.clone(),
            data: n.data.clone(),
            num_children: n.num_children as i32,
            acl: self.acls.shared(n.acl).unwrap_or_else(|| Arc::new([])),
        })
    }

    /// The stored stat of `path` (cversion as stored).
    pub fn stat_persisted(&self, path: &str) -> Option<StatPersisted> {
        self.lookup(path).map(|id| self.nodes.get(id).stat.clone())
    }

    /// The data of `path`, null kept apart from empty.
    pub fn data(&self, path: &str) -> Option<Option<NodeData>> {
        self.lookup(path).map(|id| self.nodes.get(id).data.clone())
    }

    /// The ACL of `path`.
    pub fn acl(&self, path: &str) -> Option<Vec<Acl>> {
        self.lookup(path).map(|id| self.acl_of(id).to_vec())
    }

    /// The ACL index of `path` in the ACL table.
    pub fn acl_index(&self, path: &str) -> Option<i64> {
        self.lookup(path).map(|id| self.nodes.get(id).acl)
    }

    /// The names of the children of `path`, oldest first.
    pub fn children(&self, path: &str) -> Option<Vec<String>> {
        let id = self.lookup(path)?;
        Some(
            self.nodes
                .children(id)
                .map(|c| self.nodes.get(c).name().to_owned())
                .collect(),
        )
    }

    pub fn kind(&self, path: &str) -> Option<NodeKind> {
        self.lookup(path)
            .map(|id| self.kind_of(self.nodes.get(id).stat.ephemeral_owner))
    }

    /// Number of nodes, the root and the `/zookeeper` nodes included.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The tree digest (0 for nothing; sum of node CRCs).
    pub fn digest(&self) -> i64 {
        self.digest
    }

    /// The highest zxid applied.
    pub fn last_processed_zxid(&self) -> Zxid {
        self.last_processed_zxid
    }

    /// Sets the last processed zxid (after loading a snapshot whose name says it).
    pub fn set_last_processed_zxid(&mut self, zxid: Zxid) {
        self.last_processed_zxid = zxid;
    }

    pub fn acl_cache(&self) -> &AclCache {
        &self.acls
    }

    /// Sessions and their timeouts in ms, by id.
    pub fn sessions(&self) -> impl Iterator<Item = (SessionId, i32)> + '_ {
        self.sessions.iter().map(|(id, t)| (SessionId(*id), *t))
    }

    /// Adds a session (from a snapshot; txns add them through `apply`).
    pub fn add_session(&mut self, session: SessionId, timeout_ms: i32) {
        self.sessions.insert(session.0, timeout_ms);
    }

    fn paths_of(&self, ids: &BTreeSet<NodeId>) -> Vec<String> {
        let mut paths: Vec<String> = ids
            .iter()
            .map(|&id| self.nodes.get(id).path.to_string())
            .collect();
        paths.sort();
        paths
    }

    /// The ephemeral paths of `session`, sorted.
    pub fn ephemerals(&self, session: SessionId) -> Vec<String> {
        self.ephemerals
            .get(&session.0)
            .map(|ids| self.paths_of(ids))
            .unwrap_or_default()
    }

    /// Sessions that own ephemerals.
    pub fn ephemeral_sessions(&self) -> Vec<SessionId> {
        self.ephemerals.keys().map(|s| SessionId(*s)).collect()
    }

    /// Container node paths, sorted (for the container manager).
    pub fn containers(&self) -> Vec<String> {
        self.paths_of(&self.containers)
    }

    /// TTL node paths, sorted.
    pub fn ttl_nodes(&self) -> Vec<String> {
        self.paths_of(&self.ttls)
    }

    /// Whether `path` is one of the nodes the server owns and never deletes.
    pub fn is_special_path(path: &str) -> bool {
        matches!(path, "/" | "/zookeeper" | QUOTA_ROOT | "/zookeeper/config")
    }

    /// Counts of the data/exists registry and of the child registry.
    pub fn watch_summary(&self) -> (WatchSummary, WatchSummary) {
        (self.data_watches.summary(), self.child_watches.summary())
    }

    /// The paths `watcher` has data/exists watches on, and child watches on, sorted.
    pub fn watched_paths(&self, watcher: WatcherId) -> (Vec<String>, Vec<String>) {
        (
            self.data_watches.paths_of(watcher),
            self.child_watches.paths_of(watcher),
        )
    }

    // ---------------------------------------------------------------------------------------
    // Requests that read (FinalRequestProcessor): existence first, then the ACL, then the watch.

    /// getData: NONODE, NOAUTH without READ; registers a data watch when asked.
    pub fn get_data(
        &mut self,
        path: &str,
        auth: &[Id],
        watch: Option<WatcherId>,
    ) -> Result<(Option<NodeData>, Stat), ErrorCode> {
        let found = self.read_data(path, auth)?;
        if let Some(w) = watch {
            self.data_watches.add(path, w, crate::WatchMode::Standard);
        }
        Ok(found)
    }

    /// getData without a watch, through a shared reference (readers running beside the writer).
    pub fn read_data(
        &self,
        path: &str,
        auth: &[Id],
    ) -> Result<(Option<NodeData>, Stat), ErrorCode> {
        let id = self.lookup(path).ok_or(ErrorCode::NoNode)?;
        check_acl(self.acl_of(id), Perms::READ, auth)?;
        Ok((self.nodes.get(id).data.clone(), self.client_stat(id)))
    }

    /// exists: no ACL check; the watch is registered whether or not the node exists, so it
    /// fires NodeCreated later. A path with NUL is BADARGUMENTS.
    pub fn exists(&mut self, path: &str, watch: Option<WatcherId>) -> Result<Stat, ErrorCode> {
        if path.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        if let Some(w) = watch {
            self.data_watches.add(path, w, crate::WatchMode::Standard);
        }
        self.read_exists(path)
    }

    /// exists without a watch, through a shared reference.
    pub fn read_exists(&self, path: &str) -> Result<Stat, ErrorCode> {
        if path.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        let id = self.lookup(path).ok_or(ErrorCode::NoNode)?;
        Ok(self.client_stat(id))
    }

    /// getChildren and getChildren2: NONODE, NOAUTH without READ; the stat is for getChildren2.
    pub fn get_children(
        &mut self,
        path: &str,
        auth: &[Id],
        watch: Option<WatcherId>,
    ) -> Result<(Vec<String>, Stat), ErrorCode> {
        let found = self.read_children(path, auth)?;
        if let Some(w) = watch {
            self.child_watches.add(path, w, crate::WatchMode::Standard);
        }
        Ok(found)
    }

    /// getChildren without a watch, through a shared reference.
    pub fn read_children(&self, path: &str, auth: &[Id]) -> Result<(Vec<String>, Stat), ErrorCode> {
        let id = self.lookup(path).ok_or(ErrorCode::NoNode)?;
        check_acl(self.acl_of(id), Perms::READ, auth)?;
        let children = self
            .nodes
            .children(id)
            .map(|c| self.nodes.get(c).name().to_owned())
            .collect();
        Ok((children, self.client_stat(id)))
    }

    /// getAllChildrenNumber: every descendant, the node itself not counted.
    pub fn get_all_children_number(&self, path: &str, auth: &[Id]) -> Result<i32, ErrorCode> {
        let id = self.lookup(path).ok_or(ErrorCode::NoNode)?;
        check_acl(self.acl_of(id), Perms::READ, auth)?;
        if node_key(path).is_empty() {
            return Ok(self.nodes.len() as i32 - 1);
        }
        let mut count = 0i32;
        let mut stack: Vec<NodeId> = self.nodes.children(id).collect();
        while let Some(n) = stack.pop() {
            count += 1;
            stack.extend(self.nodes.children(n));
        }
        Ok(count)
    }

    /// getEphemerals: the calling session's ephemerals starting with `prefix` (all for empty,
    /// blank or `/`), sorted.
    pub fn get_ephemerals(&self, session: SessionId, prefix: &str) -> Vec<String> {
        let all = self.ephemerals(session);
        let trimmed = prefix.trim();
        if trimmed.is_empty() || trimmed == "/" {
            return all;
        }
        all.into_iter().filter(|p| p.starts_with(prefix)).collect()
    }

    /// getACL: needs READ or ADMIN; without ADMIN, digest ids are shown as `user:x`.
    pub fn get_acl(&self, path: &str, auth: &[Id]) -> Result<(Vec<Acl>, Stat), ErrorCode> {
        let id = self.lookup(path).ok_or(ErrorCode::NoNode)?;
        let acl = self.acl_of(id);
        check_acl(acl, Perms::READ | Perms::ADMIN, auth)?;
        let shown = match check_acl(acl, Perms::ADMIN, auth) {
            Ok(()) => acl.to_vec(),
            Err(_) => mask_digests(acl),
        };
        Ok((shown, self.client_stat(id)))
    }

    // ---------------------------------------------------------------------------------------
    // Watch registrations.

    /// addWatch: a persistent or persistent-recursive watch on `path`, in both registries.
    pub fn add_watch(&mut self, path: &str, mode: zk_jute::AddWatchMode, watcher: WatcherId) {
        let mode = match mode {
            zk_jute::AddWatchMode::Persistent => crate::WatchMode::Persistent,
            zk_jute::AddWatchMode::PersistentRecursive => crate::WatchMode::PersistentRecursive,
        };
        self.data_watches.add(path, watcher, mode);
        self.child_watches.add(path, watcher, mode);
    }

    /// checkWatches: NOWATCHER when there is none of `ty` (3.8 looks at the path only).
    pub fn check_watches(
        &self,
        path: &str,
        ty: zk_jute::WatcherType,
        watcher: WatcherId,
    ) -> Result<(), ErrorCode> {
        use zk_jute::WatcherType as T;
        let found = match ty {
            T::Children => self.child_watches.contains(path, watcher),
            T::Data => self.data_watches.contains(path, watcher),
            T::Any => {
                self.child_watches.contains(path, watcher)
                    || self.data_watches.contains(path, watcher)
            }
        };
        if found {
            Ok(())
        } else {
            Err(ErrorCode::NoWatcher)
        }
    }

    /// removeWatches: removes `watcher`'s watches of `ty` on `path`; NOWATCHER when none.
    pub fn remove_watches(
        &mut self,
        path: &str,
        ty: zk_jute::WatcherType,
        watcher: WatcherId,
    ) -> Result<(), ErrorCode> {
        use zk_jute::WatcherType as T;
        let removed = match ty {
            T::Children => self.child_watches.remove(path, watcher),
            T::Data => self.data_watches.remove(path, watcher),
            T::Any => {
                let child = self.child_watches.remove(path, watcher);
                let data = self.data_watches.remove(path, watcher);
                child || data
            }
        };
        if removed {
            Ok(())
        } else {
            Err(ErrorCode::NoWatcher)
        }
    }

    /// Drops every watch of `watcher` (its connection closed).
    pub fn remove_watcher(&mut self, watcher: WatcherId) {
        self.data_watches.remove_watcher(watcher);
        self.child_watches.remove_watcher(watcher);
    }

    /// setWatches / setWatches2 on reconnect: fires at once what the client missed since
    /// `relative_zxid`, registers the rest.
    pub fn set_watches(
        &mut self,
        relative_zxid: Zxid,
        watches: &zk_jute::proto::SetWatches2,
        watcher: WatcherId,
    ) -> Vec<WatchNotification> {
        use crate::WatchMode::{Persistent, PersistentRecursive, Standard};
        let zxid = self.last_processed_zxid;
        let mut out = Vec::new();
        let mut fire =
            |kind, path: &str| out.push(WatchNotification::new(watcher, kind, path, zxid));
        for path in &watches.data_watches {
            match self.lookup(path) {
                None => fire(EventType::NodeDeleted, path),
                Some(id) if self.nodes.get(id).stat.mzxid > relative_zxid => {
                    fire(EventType::NodeDataChanged, path)
                }
                Some(_) => self.data_watches.add(path, watcher, Standard),
            }
        }
        for path in &watches.exist_watches {
            match self.lookup(path) {
                Some(_) => fire(EventType::NodeCreated, path),
                None => self.data_watches.add(path, watcher, Standard),
            }
        }
        for path in &watches.child_watches {
            match self.lookup(path) {
                None => fire(EventType::NodeDeleted, path),
                Some(id) if self.nodes.get(id).stat.pzxid > relative_zxid => {
                    fire(EventType::NodeChildrenChanged, path)
                }
                Some(_) => self.child_watches.add(path, watcher, Standard),
            }
        }
        for path in &watches.persistent_watches {
            self.child_watches.add(path, watcher, Persistent);
            self.data_watches.add(path, watcher, Persistent);
        }
        for path in &watches.persistent_recursive_watches {
            self.child_watches.add(path, watcher, PersistentRecursive);
            self.data_watches.add(path, watcher, PersistentRecursive);
        }
        out
    }

    /// multiRead: each getData / getChildren answered on its own; failures are error results.
    pub fn multi_read(
        &mut self,
        ops: &[zk_jute::multi::MultiOp],
        auth: &[Id],
        watcher: WatcherId,
    ) -> Vec<MultiResult> {
        use zk_jute::multi::MultiOp;
        use zk_jute::proto::{GetChildrenResponse, GetDataResponse};
        ops.iter()
            .map(|op| match op {
                MultiOp::GetData(r) => {
                    match self.get_data(&r.path, auth, r.watch.then_some(watcher)) {
                        Ok((data, stat)) => MultiResult::GetData(GetDataResponse {
                            data: data.map(Bytes::from_owner),
                            stat,
                        }),
                        Err(e) => MultiResult::Error(e.code()),
                    }
                }
                MultiOp::GetChildren(r) => {
                    match self.get_children(&r.path, auth, r.watch.then_some(watcher)) {
                        Ok((children, _)) => {
                            MultiResult::GetChildren(GetChildrenResponse { children })
                        }
                        Err(e) => MultiResult::Error(e.code()),
                    }
                }
                _ => MultiResult::Error(ErrorCode::MarshallingError.code()),
            })
            .collect()
    }

    // ---------------------------------------------------------------------------------------
    // Mutations: only through apply.

    /// Applies one txn (`DataTree.processTxn`). Deterministic: equal trees that apply equal txns
    /// end equal, digest included. Errors (NONODE, NODEEXISTS on replay) are reported in the
    /// result and change nothing, except the parent-cversion fix-up of a replayed create.
    pub fn apply(&mut self, header: &TxnHeader, body: &TxnBody) -> Applied {
        let mut events = Vec::new();
        let result = self.process(header, header.r#type, body, &mut events);
        if header.zxid > self.last_processed_zxid {
            self.last_processed_zxid = header.zxid;
        }
        Applied { result, events }
    }

    fn process(
        &mut self,
        header: &TxnHeader,
        ty: i32,
        body: &TxnBody,
        events: &mut Vec<WatchNotification>,
    ) -> TxnResult {
        let mut rc = TxnResult::new(header, ty);
        let zxid = header.zxid;
        let time = header.time;
        let outcome: Result<(), ErrorCode> = match body {
            TxnBody::Create(t) => {
                rc.path = Some(t.path.clone());
                let owner = if t.ephemeral { header.client_id.0 } else { 0 };
                let r = self.create_node(
                    &t.path,
                    t.data.as_deref(),
                    &t.acl,
                    owner,
                    t.parent_c_version,
                    zxid,
                    time,
                    events,
                );
                r.map(|stat| {
                    if ty != OpCode::Create.code() {
                        rc.stat = Some(stat);
                    }
                })
            }
            TxnBody::CreateTtl(t) => {
                rc.path = Some(t.path.clone());
                let owner = crate::kind::ttl_owner(t.ttl).unwrap_or(0);
                self.create_node(
                    &t.path,
                    t.data.as_deref(),
                    &t.acl,
                    owner,
                    t.parent_c_version,
                    zxid,
                    time,
                    events,
                )
                .map(|stat| rc.stat = Some(stat))
            }
            TxnBody::CreateContainer(t) => {
                rc.path = Some(t.path.clone());
                self.create_node(
                    &t.path,
                    t.data.as_deref(),
                    &t.acl,
                    CONTAINER_EPHEMERAL_OWNER,
                    t.parent_c_version,
                    zxid,
                    time,
                    events,
                )
                .map(|stat| rc.stat = Some(stat))
            }
            TxnBody::Delete(t) => self.delete_node(&t.path, zxid, events),
            TxnBody::SetData(t) => self
                .set_data(&t.path, t.data.as_deref(), t.version, zxid, time, events)
                .map(|stat| rc.stat = Some(stat)),
            TxnBody::SetAcl(t) => self
                .set_acl(&t.path, &t.acl, t.version)
                .map(|stat| rc.stat = Some(stat)),
            TxnBody::CreateSession(t) => {
                self.sessions.insert(header.client_id.0, t.time_out);
                Ok(())
            }
            TxnBody::CloseSession(t) => {
                self.kill_session(
                    header.client_id.0,
                    zxid,
                    t.as_ref().map(|t| t.paths2_delete.as_slice()),
                    events,
                );
                Ok(())
            }
            TxnBody::Error(t) => {
                rc.err = t.err;
                Ok(())
            }
            TxnBody::Check(_) => Ok(()),
            TxnBody::Multi(m) => {
                self.process_multi(header, m, &mut rc, events);
                Ok(())
            }
        };
        if let Err(code) = outcome {
            rc.err = code.code();
        }
        // A create replayed over a node a fuzzy snapshot already has still moves the parent's
        // cversion and pzxid forward.
        if ty == OpCode::Create.code() && rc.err == ErrorCode::NodeExists.code() {
            if let (TxnBody::Create(t), Some(path)) = (body, rc.path.as_deref()) {
                let parent = split_parent(path).map_or("", |(p, _)| p);
                if let Err(code) = self.set_cversion_pzxid(parent, t.parent_c_version, zxid) {
                    rc.err = code.code();
                }
            }
        }
        rc
    }

    fn process_multi(
        &mut self,
        header: &TxnHeader,
        multi: &MultiTxn,
        rc: &mut TxnResult,
        events: &mut Vec<WatchNotification>,
    ) {
        let error = OpCode::Error.code();
        let failed = multi.txns.iter().any(|t| t.r#type == error);
        let mut subs = Vec::with_capacity(multi.txns.len());
        let mut post_failed = false;
        for sub in &multi.txns {
            let Ok(body) = TxnBody::read_sub(sub) else {
                // Java stops at a sub-txn it cannot read and keeps what it did so far.
                break;
            };
            let (ty, body) = if sub.r#type == error {
                post_failed = true;
                (error, body)
            } else if failed {
                let code = if post_failed {
                    ErrorCode::RuntimeInconsistency
                } else {
                    ErrorCode::Ok
                };
                (
                    error,
                    TxnBody::Error(zk_jute::txn::ErrorTxn { err: code.code() }),
                )
            } else {
                (sub.r#type, body)
            };
            let sub_header = TxnHeader {
                r#type: ty,
                ..header.clone()
            };
            let sub_rc = self.process(&sub_header, ty, &body, events);
            if sub_rc.err != 0 && rc.err == 0 {
                rc.err = sub_rc.err;
            }
            subs.push(sub_rc);
        }
        rc.multi = Some(subs);
    }

    #[allow(clippy::too_many_arguments)]
    fn create_node(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        ephemeral_owner: i64,
        parent_c_version: i32,
        zxid: Zxid,
        time: i64,
        events: &mut Vec<WatchNotification>,
    ) -> Result<Stat, ErrorCode> {
        let (parent_path, child_name) = split_parent(path).ok_or(ErrorCode::NoNode)?;
        let parent = self.nodes.lookup(parent_path).ok_or(ErrorCode::NoNode)?;
        // As Java, the ACL is counted before the existence check.
        let acl_index = self.acls.convert_acls(acl);
        if child_name.is_empty() || self.nodes.lookup(path).is_some() {
            return Err(ErrorCode::NodeExists);
        }
        self.change_node(parent, |p| {
            let cversion = if parent_c_version == -1 {
                p.stat.cversion.wrapping_add(1)
            } else {
                parent_c_version
            };
            if cversion > p.stat.cversion {
                p.stat.cversion = cversion;
                p.stat.pzxid = zxid;
            }
        });
        // Copy the data so the node never pins a larger buffer it was decoded from.
        let data: Option<NodeData> = data.map(Arc::from);
        let bytes = data.as_ref().map_or(0, |d| d.len()) as i64;
        let child = self.insert_node(
            path,
            data,
            acl_index,
            create_stat(zxid, time, ephemeral_owner),
        );
        self.nodes.link_child(parent, child);
        self.index_kind(child, ephemeral_owner);
        if let Some(real) = parent_path.strip_prefix(QUOTA_ROOT) {
            if child_name == quota::LIMIT_NODE && !real.is_empty() {
                self.quota_paths.insert(real.to_owned());
            }
            if child_name == quota::STAT_NODE {
                self.update_quota_for_path(real);
            }
        }
        if let Some(prefix) = self.max_prefix_with_quota(path) {
            self.update_quota_stat(&prefix, bytes, 1);
        }
        let stat = self.client_stat(child);
        self.data_watches
            .trigger(path, EventType::NodeCreated, zxid, &[], events);
        self.child_watches.trigger(
            watch_path(parent_path),
            EventType::NodeChildrenChanged,
            zxid,
            &[],
            events,
        );
        Ok(stat)
    }

    fn delete_node(
        &mut self,
        path: &str,
        zxid: Zxid,
        events: &mut Vec<WatchNotification>,
    ) -> Result<(), ErrorCode> {
        let (parent_path, child_name) = split_parent(path).ok_or(ErrorCode::NoNode)?;
        let parent = self.nodes.lookup(parent_path).ok_or(ErrorCode::NoNode)?;
        let node = self.nodes.lookup(path);
        // As Java: the parent's pzxid moves even when the child turns out to be missing.
        self.change_node(parent, |p| {
            if zxid > p.stat.pzxid {
                p.stat.pzxid = zxid;
            }
        });
        let id = node.ok_or(ErrorCode::NoNode)?;
        if self.nodes.get(id).parent == parent {
            self.nodes.unlink_child(parent, id);
        }
        // Only a replayed delete of a node that still has children gets here with children;
        // like Java, they stay reachable by path but leave the tree walk.
        let orphans: Vec<NodeId> = self.nodes.children(id).collect();
        for orphan in orphans {
            self.nodes.unlink_child(id, orphan);
        }
        self.digest = self.digest.wrapping_sub(self.digest_of(id));
        let removed = self.nodes.remove(id);
        self.acls.remove_usage(removed.acl);
        match self.kind_of(removed.stat.ephemeral_owner) {
            NodeKind::Container => {
                self.containers.remove(&id);
            }
            NodeKind::Ttl(_) => {
                self.ttls.remove(&id);
            }
            NodeKind::Ephemeral(session) => {
                if let Some(set) = self.ephemerals.get_mut(&session) {
                    set.remove(&id);
                    if set.is_empty() {
                        self.ephemerals.remove(&session);
                    }
                }
            }
            NodeKind::Persistent => {}
        }
        if parent_path.starts_with("/zookeeper") && child_name == quota::LIMIT_NODE {
            if let Some(real) = parent_path.strip_prefix(QUOTA_ROOT) {
                self.quota_paths.remove(real);
            }
        }
        if let Some(prefix) = self.max_prefix_with_quota(path) {
            self.update_quota_stat(&prefix, -(removed.data_len() as i64), -1);
        }
        let matched = self
            .data_watches
            .trigger(path, EventType::NodeDeleted, zxid, &[], events);
        self.child_watches
            .trigger(path, EventType::NodeDeleted, zxid, &matched, events);
        self.child_watches.trigger(
            watch_path(parent_path),
            EventType::NodeChildrenChanged,
            zxid,
            &[],
            events,
        );
        Ok(())
    }

    fn set_data(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        version: i32,
        zxid: Zxid,
        time: i64,
        events: &mut Vec<WatchNotification>,
    ) -> Result<Stat, ErrorCode> {
        let id = self.lookup(path).ok_or(ErrorCode::NoNode)?;
        let data: Option<NodeData> = data.map(Arc::from);
        let new_len = data.as_ref().map_or(0, |d| d.len()) as i64;
        let old_len = self.change_node(id, |n| {
            let old = n.data_len() as i64;
            n.data = data;
            n.stat.mtime = time;
            n.stat.mzxid = zxid;
            n.stat.version = version;
            old
        });
        let stat = self.client_stat(id);
        if let Some(prefix) = self.max_prefix_with_quota(path) {
            self.update_quota_stat(&prefix, new_len - old_len, 0);
        }
        self.data_watches
            .trigger(path, EventType::NodeDataChanged, zxid, &[], events);
        Ok(stat)
    }

    fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> Result<Stat, ErrorCode> {
        let id = self.lookup(path).ok_or(ErrorCode::NoNode)?;
        self.acls.remove_usage(self.nodes.get(id).acl);
        let index = self.acls.convert_acls(acl);
        self.change_node(id, |n| {
            n.stat.aversion = version;
            n.acl = index;
        });
        Ok(self.client_stat(id))
    }

    fn set_cversion_pzxid(
        &mut self,
        path: &str,
        cversion: i32,
        zxid: Zxid,
    ) -> Result<(), ErrorCode> {
        let path = path.strip_suffix('/').unwrap_or(path);
        let id = self.nodes.lookup(path).ok_or(ErrorCode::NoNode)?;
        let current = self.nodes.get(id).stat.cversion;
        let cversion = if cversion == -1 {
            current.wrapping_add(1)
        } else {
            cversion
        };
        if cversion > current {
            self.change_node(id, |n| {
                n.stat.cversion = cversion;
                n.stat.pzxid = zxid;
            });
        }
        Ok(())
    }

    fn kill_session(
        &mut self,
        session: i64,
        zxid: Zxid,
        listed: Option<&[String]>,
        events: &mut Vec<WatchNotification>,
    ) {
        self.sessions.remove(&session);
        let local: Vec<String> = self
            .ephemerals
            .remove(&session)
            .map(|ids| self.paths_of(&ids))
            .unwrap_or_default();
        let mut remaining = local;
        if let Some(listed) = listed {
            for path in listed {
                if self.delete_node(path, zxid, events).is_err() {
                    tracing::warn!(path, session = %SessionId(session), "ignoring NoNode while removing ephemeral of a closed session");
                }
            }
            remaining.retain(|p| !listed.contains(p));
            if !remaining.is_empty() {
                tracing::warn!(?remaining, zxid = %zxid, "ephemerals of a closed session not listed in its txn");
            }
        }
        for path in remaining {
            let _ = self.delete_node(&path, zxid, events);
        }
    }

    // ---------------------------------------------------------------------------------------
    // Quotas.

    /// The deepest path with a quota that is `path` or an ancestor of it (`getMaxPrefixWithQuota`).
    pub fn max_prefix_with_quota(&self, path: &str) -> Option<String> {
        if self.quota_paths.is_empty() {
            return None;
        }
        let mut candidate = path;
        loop {
            if candidate.is_empty() || candidate == "/" {
                return None;
            }
            if self.quota_paths.contains(candidate) {
                return Some(candidate.to_owned());
            }
            candidate = split_parent(candidate)?.0;
        }
    }

    /// The quota limits and current usage of `prefix`, when both nodes exist.
    pub(crate) fn quota_stats(&self, prefix: &str) -> Option<(StatsTrack, StatsTrack)> {
        let limit = self.nodes.lookup(&quota::limit_path(prefix))?;
        let stat = self.nodes.lookup(&quota::stat_path(prefix))?;
        let parse = |id| StatsTrack::parse(self.nodes.get(id).data.as_deref().unwrap_or_default());
        Some((parse(limit), parse(stat)))
    }

    fn update_quota_stat(&mut self, prefix: &str, bytes_diff: i64, count_diff: i64) {
        let Some(id) = self.nodes.lookup(&quota::stat_path(prefix)) else {
            tracing::error!(prefix, "missing quota stat node");
            return;
        };
        let mut stats = StatsTrack::parse(self.nodes.get(id).data.as_deref().unwrap_or_default());
        stats.set_count(stats.count() + count_diff);
        stats.set_bytes(stats.bytes() + bytes_diff);
        let text = Arc::from(stats.to_text().into_bytes());
        // Under /zookeeper/: outside the digest, and no stat change, as Java.
        self.change_node(id, |n| n.data = Some(text));
    }

    fn update_quota_for_path(&mut self, path: &str) {
        let (mut count, mut bytes) = (0i64, 0i64);
        if let Some(id) = self.nodes.lookup(path) {
            let mut stack = vec![id];
            while let Some(n) = stack.pop() {
                count += 1;
                bytes += self.nodes.get(n).data_len() as i64;
                stack.extend(self.nodes.children(n));
            }
        }
        let Some(id) = self.nodes.lookup(&quota::stat_path(path)) else {
            return;
        };
        let mut stats = StatsTrack::default();
        stats.set_bytes(bytes);
        stats.set_count(count);
        let text = Arc::from(stats.to_text().into_bytes());
        self.change_node(id, |n| n.data = Some(text));
    }

    /// Rebuilds the quota set and usage from `/zookeeper/quota` (`setupQuota`).
    fn setup_quota(&mut self) {
        let Some(quota_root) = self.nodes.lookup(QUOTA_ROOT) else {
            return;
        };
        let mut stack = vec![quota_root];
        let mut limits = Vec::new();
        while let Some(id) = stack.pop() {
            let n = self.nodes.get(id);
            if n.num_children == 0 {
                let suffix = format!("/{}", quota::LIMIT_NODE);
                if let Some(i) = n.path.find(&suffix) {
                    if n.path.ends_with(&suffix) && i >= QUOTA_ROOT.len() {
                        limits.push(n.path[QUOTA_ROOT.len()..i].to_owned());
                    }
                }
            }
            stack.extend(self.nodes.children(id));
        }
        for real in limits {
            self.update_quota_for_path(&real);
            if !real.is_empty() {
                self.quota_paths.insert(real);
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Snapshots.

    /// Every node in pre-order, parents before children, the root first with path `""`.
    pub fn walk(&self) -> impl Iterator<Item = SnapshotNode<'_>> + '_ {
        let mut stack: Vec<NodeId> = self.nodes.lookup("").into_iter().collect();
        std::iter::from_fn(move || {
            let id = stack.pop()?;
            let first = stack.len();
            stack.extend(self.nodes.children(id));
            stack[first..].reverse();
            let n = self.nodes.get(id);
            Some(SnapshotNode {
                path: &n.path,
                data: n.data.as_deref(),
                acl: n.acl,
                stat: &n.stat,
            })
        })
    }

    /// Heap bytes of the node tables themselves (not of paths and data), for reports.
    pub fn table_bytes(&self) -> usize {
        self.nodes.table_capacity_bytes()
    }
}

/// Rebuilds a tree from a snapshot stream (`DataTree.deserialize`): sessions and ACL map first,
/// then nodes in pre-order with parents before children.
#[derive(Debug)]
pub struct TreeBuilder {
    tree: DataTree,
    /// The parent of the previous node: in pre-order, siblings follow each other, so most
    /// parents are found without a lookup.
    last_parent: Option<(String, NodeId)>,
}

impl TreeBuilder {
    pub fn new(config: TreeConfig) -> Self {
        TreeBuilder {
            tree: DataTree::empty(config),
            last_parent: None,
        }
    }

    pub fn add_session(&mut self, session: SessionId, timeout_ms: i32) {
        self.tree.add_session(session, timeout_ms);
    }

    /// One entry of the snapshot's ACL map.
    pub fn add_acl(&mut self, index: i64, acls: Vec<Acl>) {
        self.tree.acls.insert_loaded(index, acls);
    }

    /// One node; the root has path `""` and every other node's parent must come before it.
    pub fn add_node(
        &mut self,
        path: impl Into<Box<str>>,
        data: Option<NodeData>,
        acl: i64,
        stat: StatPersisted,
    ) -> Result<(), TreeError> {
        // A `String` from the snapshot reader becomes the node's path without a copy.
        let path: Box<str> = path.into();
        let tree = &mut self.tree;
        if acl != OPEN_ACL_INDEX && tree.acls.acls(acl).is_none() {
            return Err(TreeError::UnknownAcl {
                path: path.into(),
                index: acl,
            });
        }
        let parent = match split_parent(&path) {
            None => None,
            Some((parent_path, _)) => match &self.last_parent {
                Some((cached, id)) if cached == parent_path => Some(*id),
                _ => {
                    let id =
                        tree.nodes
                            .lookup(parent_path)
                            .ok_or_else(|| TreeError::MissingParent {
                                parent: parent_path.to_owned(),
                                path: path.to_string(),
                            })?;
                    self.last_parent = Some((parent_path.to_owned(), id));
                    Some(id)
                }
            },
        };
        tree.acls.add_usage(acl);
        let hash = tree.nodes.hash_path(&path);
        let node_digest = node_digest(&path, data.as_deref(), &stat);
        let owner = stat.ephemeral_owner;
        match tree
            .nodes
            .try_insert_hashed(Node::new(path, data, acl, stat), hash)
        {
            Ok(id) => {
                tree.digest = tree.digest.wrapping_add(node_digest);
                if let Some(parent) = parent {
                    tree.nodes.link_child(parent, id);
                    tree.index_kind(id, owner);
                }
            }
            // A node the empty tree starts with (the root, /zookeeper, ...): the snapshot's wins.
            Err((existing, node)) => {
                let old_acl = tree.nodes.get(existing).acl;
                tree.acls.remove_usage(old_acl);
                tree.change_node(existing, |n| {
                    n.data = node.data;
                    n.acl = node.acl;
                    n.stat = node.stat;
                });
            }
        }
        Ok(())
    }

    /// Room for `nodes` more nodes, so loading a large snapshot does not grow the index as it goes.
    pub fn reserve(&mut self, nodes: usize) {
        self.tree.nodes.reserve(nodes);
    }

    /// Finishes: quotas set up from `/zookeeper/quota`, unused ACL entries purged.
    pub fn finish(mut self) -> Result<DataTree, TreeError> {
        if self.tree.nodes.lookup("").is_none() {
            return Err(TreeError::NoRoot);
        }
        self.tree.setup_quota();
        self.tree.acls.purge_unused();
        Ok(self.tree)
    }
}
