//! The adapter to `zk-datatree`: a [`DataTree`] is a [`SnapshotSource`], a [`TreeLoader`] is a
//! [`SnapshotSink`] that rebuilds one, and [`restore_tree`] recovers a tree from a data
//! directory, replaying the log through `DataTree::apply` and checking every txn digest as 3.8's
//! `compareDigest` does (a mismatch is logged and counted, not fatal).

use tracing::{error, info};
use zk_datatree::{DataTree, TreeBuilder, TreeConfig, TreeError};
use zk_jute::{Acl, SessionId, Zxid};

use crate::error::{Error, Result};
use crate::restore::{FileTxnSnapLog, Restored};
use crate::snapshot::{NodeRef, SnapshotNode, SnapshotSink, SnapshotSource, ZxidDigest};

/// The digest version of 3.6+ trees.
const DIGEST_VERSION: i32 = 2;

impl SnapshotSource for &DataTree {
    fn sessions(&mut self) -> Vec<(SessionId, i32)> {
        DataTree::sessions(self).collect()
    }
    fn acls(&mut self) -> Vec<(i64, Vec<Acl>)> {
        self.acl_cache()
            .iter()
            .map(|(index, list)| (index, list.to_vec()))
            .collect()
    }
    fn nodes(&mut self, visit: &mut dyn FnMut(NodeRef<'_>) -> Result<()>) -> Result<()> {
        for node in self.walk() {
            visit(NodeRef {
                path: node.path,
                data: node.data,
                acl: node.acl,
                stat: node.stat,
            })?;
        }
        Ok(())
    }
    fn digest(&mut self) -> Option<ZxidDigest> {
        Some(ZxidDigest {
            zxid: self.last_processed_zxid(),
            version: DIGEST_VERSION,
            digest: DataTree::digest(self),
        })
    }
}

/// An owned tree (a copy taken for a background snapshot) is a source too.
impl SnapshotSource for DataTree {
    fn sessions(&mut self) -> Vec<(SessionId, i32)> {
        SnapshotSource::sessions(&mut &*self)
    }
    fn acls(&mut self) -> Vec<(i64, Vec<Acl>)> {
        SnapshotSource::acls(&mut &*self)
    }
    fn nodes(&mut self, visit: &mut dyn FnMut(NodeRef<'_>) -> Result<()>) -> Result<()> {
        SnapshotSource::nodes(&mut &*self, visit)
    }
    fn digest(&mut self) -> Option<ZxidDigest> {
        SnapshotSource::digest(&mut &*self)
    }
}

/// Rebuilds a [`DataTree`] from a snapshot stream.
#[derive(Debug)]
pub struct TreeLoader {
    config: TreeConfig,
    builder: TreeBuilder,
    digest: Option<ZxidDigest>,
}

impl TreeLoader {
    pub fn new(config: TreeConfig) -> Self {
        TreeLoader {
            builder: TreeBuilder::new(config),
            config,
            digest: None,
        }
    }

    /// The digest section of the loaded snapshot, when 3.8 would use it.
    pub fn snapshot_digest(&self) -> Option<ZxidDigest> {
        self.digest
    }

    pub fn finish(self) -> std::result::Result<DataTree, TreeError> {
        self.builder.finish()
    }
}

impl SnapshotSink for TreeLoader {
    fn session(&mut self, id: SessionId, timeout_ms: i32) {
        self.builder.add_session(id, timeout_ms);
    }
    fn acl(&mut self, index: i64, acls: Vec<Acl>) {
        self.builder.add_acl(index, acls);
    }
    fn node(&mut self, node: SnapshotNode) -> std::result::Result<(), String> {
        self.builder
            .add_node(node.path, node.data, node.acl, node.stat)
            .map_err(|e| e.to_string())
    }
    fn digest(&mut self, digest: ZxidDigest) {
        self.digest = Some(digest);
    }
    fn reset(&mut self) {
        self.builder = TreeBuilder::new(self.config);
        self.digest = None;
    }
    fn size_hint(&mut self, bytes: u64) {
        // A node takes 76 bytes besides its path and data; 160 in all is a typical small node,
        // so larger nodes leave the index no bigger than it would grow to, smaller ones grow
        // it once more.
        self.builder.reserve((bytes / 160) as usize);
    }
}

/// A tree recovered from a data directory.
#[derive(Debug)]
pub struct RestoredTree {
    pub tree: DataTree,
    pub restored: Restored,
    /// Txns (and the snapshot) whose recorded digest differed from the tree's after applying.
    pub digest_mismatches: u64,
}

/// Recovers the tree of `store`: the newest valid snapshot, then every later txn applied with
/// `DataTree::apply` (errors such as NONODE on a fuzzy replay are ignored, as 3.8 does), with the
/// digests compared along the way. A new empty database starts as `DataTree::new`.
pub fn restore_tree(store: &mut FileTxnSnapLog, config: TreeConfig) -> Result<RestoredTree> {
    let mut loader = TreeLoader::new(config);
    let loaded = store.load_snapshot(&mut loader)?;
    let snapshot_digest = loader.snapshot_digest();
    let mut tree = match (loader.finish(), &loaded.snapshot) {
        (Ok(tree), _) => tree,
        // No snapshot (a new database, or logs trusted without one): a fresh tree.
        (Err(TreeError::NoRoot), None) => DataTree::new(config),
        (Err(e), snapshot) => {
            return Err(Error::CorruptSnapshot {
                path: snapshot
                    .as_ref()
                    .map(|s| s.path.clone())
                    .unwrap_or_default(),
                offset: 0,
                reason: e.to_string(),
            });
        }
    };
    if let Some(s) = &loaded.snapshot {
        tree.set_last_processed_zxid(s.zxid);
    }
    let mut mismatches = 0u64;
    let mut check = |tree: &DataTree, zxid: Zxid, expected: i64, what: &str| {
        let actual = tree.digest();
        if actual != expected {
            mismatches += 1;
            error!(%zxid, expected, actual, "digest mismatch after {what}");
        }
    };
    // A snapshot that is not fuzzy is checked at once, a fuzzy one once replay reaches its zxid.
    let mut pending = snapshot_digest;
    if let Some(d) = pending.filter(|d| Some(d.zxid) == loaded.snapshot.as_ref().map(|s| s.zxid)) {
        check(&tree, d.zxid, d.digest, "loading the snapshot");
        pending = None;
    }
    let restored = store.replay_log(loaded, |txn| {
        tree.apply(&txn.entry.header, &txn.entry.body);
        if let Some(d) = &txn.entry.digest {
            check(&tree, txn.zxid(), d.tree_digest, "replaying a txn");
        }
        if let Some(d) = pending.filter(|d| d.zxid == txn.zxid()) {
            check(
                &tree,
                d.zxid,
                d.digest,
                "replaying up to the snapshot's digest",
            );
            pending = None;
        }
        Ok(())
    })?;
    if restored.zxid > tree.last_processed_zxid() {
        tree.set_last_processed_zxid(restored.zxid);
    }
    info!(
        zxid = %tree.last_processed_zxid(),
        nodes = tree.node_count(),
        digest_mismatches = mismatches,
        "tree restored"
    );
    Ok(RestoredTree {
        tree,
        restored,
        digest_mismatches: mismatches,
    })
}
