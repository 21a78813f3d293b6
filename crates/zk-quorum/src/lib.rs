//! Peer-to-peer transport of an ensemble, as ZooKeeper's QuorumCnxManager: the election listener,
//! the connection handshake and the rule that the higher server id keeps the connection, one send
//! and one receive worker per peer, and the leader <-> learner links.
//!
//! Tokio lives here so the election and ZAB cores stay pure.
