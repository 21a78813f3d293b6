//! Durable storage in Apache ZooKeeper 3.8's on-disk formats: the txn log (`log.<zxid>`),
//! snapshots (`snapshot.<zxid>`), recovery (snapshot + log replay), epoch files and purge.
//!
//! Synchronous code on `std::fs`, no tokio: the server runs it on a dedicated thread and feeds
//! "durable up to zxid" back to the pipeline. Invariant: `commit()` returns only once the data is
//! fsynced, and a data directory written here is one Apache ZooKeeper 3.8 loads unchanged.

mod adler32;
mod datatree;
mod epoch;
mod error;
mod names;
mod purge;
mod restore;
mod snapshot;
#[cfg(test)]
mod testutil;
mod trigger;
mod txnlog;

pub use adler32::adler32;
pub use datatree::{RestoredTree, TreeLoader, restore_tree};
pub use epoch::{
    ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE, Epochs, load_epochs, read_epoch, write_epoch,
};
pub use error::{Error, Result};
pub use names::VERSION_DIR;
pub use purge::{DatadirCleanup, MIN_SNAP_RETAIN_COUNT, purge};
pub use restore::{FileTxnSnapLog, Restored, SnapshotLoad, StoreOptions};
pub use snapshot::{
    FileSnap, LEARNER_SNAPSHOT_SIGNATURE, LoadedSnapshot, MAX_SNAPSHOTS_TRIED, NodeRef,
    OPEN_ACL_INDEX, Snapshot, SnapshotCollector, SnapshotJob, SnapshotNode, SnapshotSink,
    SnapshotSource, SnapshotSummary, SnapshotThread, WrittenSnapshot, ZxidDigest,
    read_learner_snapshot, write_learner_snapshot, write_snapshot_to,
};
pub use trigger::{DEFAULT_SNAP_COUNT, DEFAULT_SNAP_SIZE_LIMIT_KB, SnapshotPolicy};
pub use txnlog::{
    FileTxnLog, LogOptions, LoggedTxn, TornTail, TxnIterator, read_dir, read_log_file,
};
