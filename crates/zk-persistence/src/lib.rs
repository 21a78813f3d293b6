//! Durable storage in Apache ZooKeeper 3.8's on-disk formats: the txn log (`log.<zxid>`),
//! snapshots (`snapshot.<zxid>`), recovery (snapshot + log replay), epoch files and purge.
//!
//! Synchronous code on `std::fs`, no tokio: the server runs it on a dedicated thread and feeds
//! "durable up to zxid" back to the pipeline. Invariant: `commit()` returns only once the data is
//! fsynced, and a data directory written here is one Apache ZooKeeper 3.8 loads unchanged.
