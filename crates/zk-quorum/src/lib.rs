//! Peer-to-peer transport of an ensemble, as ZooKeeper's QuorumCnxManager: the election listener,
//! the connection handshake and the rule that the higher server id keeps the connection, one send
//! and one receive worker per peer with queues that drop their oldest message; the leader <->
//! learner links join it with ZAB.
//!
//! Tokio lives here so the election and ZAB cores stay pure. Invariant: a frame whose length is not
//! positive or exceeds the limit closes that link, never the process.

mod election_cnx;
mod queue;

pub use election_cnx::{CnxConfig, MAX_MESSAGE_LEN, Message, QuorumCnxManager};
