//! ZooKeeper's replicated in-memory state: the DataTree of znodes with stats, ACLs, watches,
//! quotas and the 3.8 tree digest.
//!
//! A pure crate: no I/O, no clock, no threads. `apply(txn header, txn)` will be the only way to change
//! the tree; it returns the result and the watch events it fired as values, and it is deterministic,
//! so every server that applies the same txns holds the same tree and the same digest.
