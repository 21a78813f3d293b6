//! ZooKeeper's replicated in-memory state: the DataTree of znodes with stats, ACLs, watches,
//! quotas and the 3.8 tree digest, and `prep`, the deterministic request-to-txn step of
//! `PrepRequestProcessor` that decides the error code of every write.
//!
//! A pure crate: no I/O, no clock, no threads, no randomness of its own. Invariant:
//! [`DataTree::apply`] is the only way to change the tree; it returns the result and the watch
//! events it fired as values, and it is deterministic, so every server that applies the same txns
//! holds the same tree and the same digest.

mod acl;
mod digest;
mod kind;
mod node;
mod path;
mod prep;
mod quota;
mod tree;
mod watch;

pub use acl::{AclCache, OPEN_ACL_INDEX, check_acl, digest_auth_ids, fixup_acl, generate_digest};
pub use digest::{DIGEST_VERSION, node_digest};
pub use kind::{CONTAINER_EPHEMERAL_OWNER, MAX_TTL_MS, NodeKind, ttl_owner};
pub use node::NodeData;
pub use path::{InvalidPath, validate_path};
pub use prep::{
    PendingChanges, PrepConfig, Prepared, RequestContext, SessionCheck, WriteRequest, prep,
};
pub use quota::{
    LIMIT_NODE, QUOTA_ROOT, QuotaExceeded, STAT_NODE, StatsTrack, limit_path, stat_path,
};
pub use tree::{
    Applied, DataTree, NodeView, SnapshotNode, TreeBuilder, TreeConfig, TreeError, TxnResult,
};
pub use watch::{WatchMode, WatchNotification, WatchSummary, WatcherId};
