//! The ZAB protocol core: discovery (epochs), synchronisation (DIFF, TRUNC, SNAP) and broadcast
//! (proposal, ack, commit) for the leader, follower and observer roles of ZooKeeper 3.8, on the
//! same QuorumPackets, so a mixed ensemble with Apache learners or leaders works.
//!
//! Pure: it reads no clock and does no I/O. The server (or the simulator) drives it with packets,
//! durability reports and timeouts (`handle_*(now_ms, ..)`), drains the commands it emits
//! ([`Output`]: send, persist an epoch, log, apply, truncate, snapshot, step down) with
//! `poll_output()` and executes them in order, and calls `handle_timeout` at `poll_timeout()`.
//! Invariant: a txn is committed (COMMIT, INFORM, `Apply`) only after a quorum of voters has
//! logged it durably, and in zxid order; a learner acks NEWLEADER and proposals only once they
//! are durable and its epochs are persisted.
//!
//! # Driving a leader
//!
//! 1. `Leader::new(now, config, verifier, LeaderInit { state, committed_log })` after the election.
//! 2. For each learner connection pick a [`LearnerId`]; feed its packets (decoded with
//!    [`PacketDecoder`]) to `handle_packet`, and `handle_disconnected` when it drops.
//! 3. Drain `poll_output()` after every call and execute in order. `PersistAcceptedEpoch`,
//!    `PersistCurrentEpoch` must be durable before any later `Send` is written. `SendSnapshot`
//!    streams the snapshot right after the SNAP packet queued before it on that link. `ReadLog`
//!    is answered with `handle_log_read`. `LogTxn` is reported durable with `handle_logged`.
//! 4. Once `Established`, `propose(now, Proposal { zxid: next_zxid(), data })` for each txn,
//!    `sync(now, learner)` when a forwarded sync reaches the proposal stage, and
//!    `revalidate_reply` for each `Revalidate`.
//!
//! # Driving a learner
//!
//! `Learner::new(now, config, LearnerRole::Follower | Observer, state, config_version)` once
//! connected to the leader; `handle_packet` for each packet, `handle_logged`, `handle_timeout`,
//! `handle_disconnected`; `forward_request`, `revalidate`, `touch` from the server. After a SNAP
//! packet the driver reads the snapshot and "BenWasHere" off the link itself, then executes the
//! `LoadSnapshot` the core emitted for that packet.

mod error;
mod leader;
mod learner;
mod stream;
mod sync;
mod types;
mod wire;

pub use error::{ProposeError, ZabError};
pub use leader::{Leader, LeaderInit};
pub use learner::{Learner, LearnerRole};
pub use stream::PacketDecoder;
pub use sync::{SyncInput, SyncPlan, SyncStep, decide_sync};
#[cfg(feature = "fault-injection")]
pub use types::Fault;
pub use types::{LearnerId, Output, PeerState, Proposal, StepDownReason, SyncMode, ZabConfig};
pub use wire::{
    ForwardedRequest, ack_epoch, decode_ack_epoch, decode_leader_info, decode_learner_info,
    decode_revalidate_reply, decode_revalidate_request, decode_touches, encode_touches,
    leader_info, learner_info, new_leader, op_packet, revalidate_reply, revalidate_request,
};
