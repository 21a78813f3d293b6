//! FastLeaderElection as a pure state machine: votes, notifications, logical clocks, the
//! (epoch, zxid, server id) total order and pluggable quorum verifiers.
//!
//! No I/O, no clock, no threads: time and incoming notifications are inputs, notifications to send
//! and the decided vote are outputs. Wire-compatible with Apache ZooKeeper 3.8 so mixed ensembles elect
//! the same leader.
