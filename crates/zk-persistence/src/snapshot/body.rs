//! The snapshot body in persistence terms, so this crate does not need the tree: what a writer
//! takes ([`SnapshotSource`]), what a reader feeds ([`SnapshotSink`]), and an owned form of every
//! record ([`Snapshot`]).

use std::collections::HashSet;
use std::sync::Arc;

use zk_jute::{Acl, SessionId, StatPersisted, Zxid};

use crate::error::Error;

/// The ACL index meaning OPEN_ACL_UNSAFE, never present in the ACL map.
pub const OPEN_ACL_INDEX: i64 = -1;

/// The `(zxid, digest)` pair of the digest section: the tree digest as of `zxid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ZxidDigest {
    pub zxid: Zxid,
    /// The digest algorithm version (2 in 3.6+).
    pub version: i32,
    pub digest: i64,
}

/// One node as the writer reads it from the tree. The root's path is `""`.
#[derive(Debug, Clone, Copy)]
pub struct NodeRef<'a> {
    pub path: &'a str,
    /// `None` is kept apart from empty data, as ZooKeeper does.
    pub data: Option<&'a [u8]>,
    /// An index into the ACL map, or [`OPEN_ACL_INDEX`].
    pub acl: i64,
    pub stat: &'a StatPersisted,
}

/// One node as the reader hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotNode {
    /// `""` for the root, `/a/b` otherwise.
    pub path: String,
    /// Shared, so the tree keeps the buffer the reader allocated.
    pub data: Option<Arc<[u8]>>,
    pub acl: i64,
    pub stat: StatPersisted,
}

impl SnapshotNode {
    pub fn as_ref(&self) -> NodeRef<'_> {
        NodeRef {
            path: &self.path,
            data: self.data.as_deref(),
            acl: self.acl,
            stat: &self.stat,
        }
    }
}

/// What a snapshot is written from: the tree (or a copy of it) and the session table. The writer
/// calls `sessions`, then `acls`, then `nodes`, then `digest`, once each, in that order, so a
/// fuzzy source may return the digest as of the end of the traversal, as 3.8 does.
pub trait SnapshotSource {
    /// Every live session and its timeout in milliseconds.
    fn sessions(&mut self) -> Vec<(SessionId, i32)>;
    /// The ACL map: index and ACL list (never the reserved index -1).
    fn acls(&mut self) -> Vec<(i64, Vec<Acl>)>;
    /// Calls `visit` for every node in pre-order (a parent before its children), the root first
    /// with path `""`. Stops at and returns the first error of `visit`.
    fn nodes(
        &mut self,
        visit: &mut dyn FnMut(NodeRef<'_>) -> Result<(), Error>,
    ) -> Result<(), Error>;
    /// The digest section, or `None` to write none (as with `zookeeper.digest.enabled=false`).
    fn digest(&mut self) -> Option<ZxidDigest>;
}

/// Where a snapshot is read into. Records arrive in file order: sessions, ACL map, nodes (parents
/// first), then the digest if the file has one.
pub trait SnapshotSink {
    fn session(&mut self, id: SessionId, timeout_ms: i32);
    fn acl(&mut self, index: i64, acls: Vec<Acl>);
    /// A node; an `Err` (such as "parent not found") makes the snapshot invalid.
    fn node(&mut self, node: SnapshotNode) -> Result<(), String>;
    /// The digest section, only when its zxid is not below the snapshot's (otherwise 3.8 ignores
    /// it) and not zero (3.8's "empty digest").
    fn digest(&mut self, digest: ZxidDigest);
    /// Forget everything received: the snapshot turned out invalid and an older one is tried next.
    fn reset(&mut self);
    /// The snapshot file is `bytes` long: a hint for sizing tables before the records arrive.
    fn size_hint(&mut self, bytes: u64) {
        let _ = bytes;
    }
}

/// Every record of a snapshot, owned: handy for tests, tools and small trees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub sessions: Vec<(SessionId, i32)>,
    pub acls: Vec<(i64, Vec<Acl>)>,
    pub nodes: Vec<SnapshotNode>,
    pub digest: Option<ZxidDigest>,
}

impl SnapshotSource for Snapshot {
    fn sessions(&mut self) -> Vec<(SessionId, i32)> {
        self.sessions.clone()
    }
    fn acls(&mut self) -> Vec<(i64, Vec<Acl>)> {
        self.acls.clone()
    }
    fn nodes(
        &mut self,
        visit: &mut dyn FnMut(NodeRef<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.nodes.iter().try_for_each(|n| visit(n.as_ref()))
    }
    fn digest(&mut self) -> Option<ZxidDigest> {
        self.digest
    }
}

/// Collects every record, rejecting a node whose parent was not seen before it (as
/// `DataTree.deserialize` does).
#[derive(Debug, Default)]
pub struct SnapshotCollector {
    pub snapshot: Snapshot,
    seen: HashSet<String>,
}

impl SnapshotCollector {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn into_snapshot(self) -> Snapshot {
        self.snapshot
    }
}

impl SnapshotSink for SnapshotCollector {
    fn session(&mut self, id: SessionId, timeout_ms: i32) {
        self.snapshot.sessions.push((id, timeout_ms));
    }
    fn acl(&mut self, index: i64, acls: Vec<Acl>) {
        self.snapshot.acls.push((index, acls));
    }
    fn node(&mut self, node: SnapshotNode) -> Result<(), String> {
        if let Some(slash) = node.path.rfind('/') {
            let parent = &node.path[..slash];
            if !self.seen.contains(parent) {
                return Err(format!(
                    "invalid datatree: unable to find parent {parent} of path {}",
                    node.path
                ));
            }
        }
        self.seen.insert(node.path.clone());
        self.snapshot.nodes.push(node);
        Ok(())
    }
    fn digest(&mut self, digest: ZxidDigest) {
        self.snapshot.digest = Some(digest);
    }
    fn reset(&mut self) {
        self.snapshot = Snapshot::default();
        self.seen.clear();
    }
}
