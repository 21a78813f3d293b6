//! The ZooKeeper server: client listener, sessions, the request processor pipeline (prep, sync,
//! finalize), four-letter words, and the driver that runs election and ZAB for an ensemble.
//!
//! Invariant: a write is acknowledged to a client only after its txn is durable (fsynced) on a quorum.

pub mod election;
