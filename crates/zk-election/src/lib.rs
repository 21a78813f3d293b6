//! FastLeaderElection as a pure state machine: votes, notifications, logical clocks, the
//! (epoch, zxid, server id) total order and pluggable quorum verifiers, plus the `server.N`
//! configuration lines and config text they are built from.
//!
//! No I/O, no clock, no threads: time and incoming notifications are inputs, notifications to send
//! and the decided vote are outputs. Invariant: given the same notifications, it decides what
//! Apache ZooKeeper 3.8's FastLeaderElection decides, so mixed ensembles elect the same leader.

mod config;
mod election;
mod verifier;
mod vote;

pub use config::{ConfigError, HostPort, LearnerType, QuorumServer};
pub use election::{Election, History, Output, Timing};
pub use verifier::{Hierarchical, Majority, QuorumVerifier, parse_config_text};
pub use vote::{Proposal, Vote};
