//! Why a packet from a peer, or a call from the driver, was refused.

use thiserror::Error;
use zk_jute::{DecodeError, Zxid};

/// A malformed or unexpected packet from a peer. The core has not changed state for it (or has
/// already emitted the `Disconnect`/`StepDown` the protocol demands); the driver logs and counts it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ZabError {
    /// The packet's data does not have the layout its type requires.
    #[error("malformed {packet} packet: {source}")]
    Malformed {
        packet: &'static str,
        #[source]
        source: DecodeError,
    },
    /// A packet type this role does not accept in its current phase.
    #[error("unexpected packet type {packet_type} {phase}")]
    Unexpected {
        packet_type: i32,
        phase: &'static str,
    },
    /// A packet from a connection the leader does not know (already dropped).
    #[error("unknown learner connection {0}")]
    UnknownLearner(u64),
}

/// Why [`crate::Leader::propose`] refused a txn.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProposeError {
    #[error("the leader is not established (still in discovery or sync) or has stepped down")]
    NotEstablished,
    #[error("zxid {got} is not the next zxid {expected}")]
    WrongZxid { expected: Zxid, got: Zxid },
    /// The low 32 bits would roll over: the leader steps down so a new epoch starts (ZOOKEEPER-1277).
    #[error("zxid counter rolled over; the leader stepped down")]
    Rollover,
}

pub(crate) fn malformed(packet: &'static str) -> impl FnOnce(DecodeError) -> ZabError {
    move |source| ZabError::Malformed { packet, source }
}
