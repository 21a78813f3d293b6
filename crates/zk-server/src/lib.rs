//! The ZooKeeper server: client listener, sessions, the request processor pipeline (prep, sync,
//! finalize), four-letter words, the AdminServer and Prometheus metrics over HTTP, and the driver
//! that runs election and ZAB for an ensemble.
//!
//! Invariant: a write is acknowledged to a client only after its txn is durable (fsynced) on a quorum.

mod admin;
pub mod config;
mod connection;
pub mod election;
mod four_letter;
mod memory;
mod metrics;
mod peer_link;
mod pipeline;
mod quorum;
pub mod quorum_config;
mod sasl;
mod server;
pub mod session;
mod stats;
mod tls;

pub use config::{ConfigError, ServerConfig, Whitelist};
pub use server::{Server, StartError};

/// A map keyed by ids the server makes itself (session and connection ids), looked up on every
/// request: foldhash instead of SipHash, whose flooding resistance such keys do not need.
pub(crate) type IdMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
