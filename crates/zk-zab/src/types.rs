//! The values shared by the leader and learner cores: txns, persisted state, timing, outputs.

use bytes::Bytes;
use zk_jute::quorum::QuorumPacket;
use zk_jute::{ServerId, SessionId, Zxid};

use crate::wire::ForwardedRequest;

/// One txn as logged and proposed: its zxid and the log payload (TxnHeader, txn, TxnDigest), which
/// is also the data of PROPOSAL and INFORM packets. The core never looks inside past the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub zxid: Zxid,
    pub data: Bytes,
}

/// What a server has on disk when it takes a role: both epoch files and the last txn in its log
/// (which is also its DataTree's lastProcessedZxid, as ZooKeeper applies its whole log on load).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeerState {
    pub accepted_epoch: u32,
    pub current_epoch: u32,
    pub last_zxid: Zxid,
}

/// Timing and tunables (zoo.cfg `tickTime`, `initLimit`, `syncLimit`; system properties
/// `zookeeper.commitLogCount`, `zookeeper.snapshotSizeFactor`, `zookeeper.forceSnapshotSync`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZabConfig {
    pub my_id: ServerId,
    pub tick_ms: u64,
    pub init_limit_ticks: u64,
    pub sync_limit_ticks: u64,
    /// How many committed proposals the leader keeps in memory for DIFF (default 500).
    pub commit_log_count: usize,
    /// Whether a learner older than the in-memory window may be synced from the on-disk txn log
    /// (`snapshotSizeFactor >= 0`; the size limit itself is applied by the driver's log read).
    pub txn_log_sync: bool,
    /// Always SNAP (`zookeeper.forceSnapshotSync`, for tests).
    pub force_snap_sync: bool,
    /// A deliberately broken variant of the protocol (simulator tests only).
    #[cfg(feature = "fault-injection")]
    pub fault: Fault,
}

/// Deliberately broken protocol variants, so the simulator's tests can show its checkers catch
/// them. Behind the `fault-injection` feature, which only zk-sim's tests enable.
#[cfg(feature = "fault-injection")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// The real protocol.
    #[default]
    None,
    /// A follower acks a proposal (and NEWLEADER) as soon as it is written, before it is durable.
    AckBeforeFsync,
    /// The leader commits a proposal once anyone (itself included) acked it, without a quorum.
    CommitWithoutQuorum,
}

impl ZabConfig {
    pub fn new(
        my_id: ServerId,
        tick_ms: u64,
        init_limit_ticks: u64,
        sync_limit_ticks: u64,
    ) -> Self {
        ZabConfig {
            my_id,
            tick_ms,
            init_limit_ticks,
            sync_limit_ticks,
            commit_log_count: 500,
            txn_log_sync: true,
            force_snap_sync: false,
            #[cfg(feature = "fault-injection")]
            fault: Fault::None,
        }
    }

    pub(crate) fn init_ms(&self) -> u64 {
        self.tick_ms * self.init_limit_ticks
    }

    pub(crate) fn sync_ms(&self) -> u64 {
        self.tick_ms * self.sync_limit_ticks
    }
}

/// The driver's handle for one learner connection on the leader (the server id is only known
/// once FOLLOWERINFO/OBSERVERINFO arrives, and two connections may claim the same id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LearnerId(pub u64);

/// How a learner was (or is being) synchronised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// DIFF: the learner keeps its data; proposals (maybe none) follow.
    Diff,
    /// TRUNC: the learner truncates its log to the packet's zxid, then proposals follow.
    Trunc,
    /// SNAP: the learner replaces its data with the streamed snapshot.
    Snap,
}

/// Why a role ended; the driver goes back to leader election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepDownReason {
    /// Leader: no quorum of learners connected in time (getEpochToPropose).
    EpochTimeout,
    /// Leader: no quorum of ACKEPOCH in time (waitForEpochAck).
    EpochAckTimeout,
    /// Leader: no quorum of NEWLEADER acks in time (waitForNewLeaderAck).
    NewLeaderAckTimeout,
    /// Leader: a quorum of learners has not been heard from for syncLimit ticks.
    LostQuorum { synced: Vec<ServerId> },
    /// Leader: the zxid counter would roll over.
    ZxidRollover,
    /// Learner: nothing from the leader within the read timeout (initLimit or syncLimit ticks).
    LeaderTimeout,
    /// Learner: the leader's epoch is lower than the accepted epoch.
    LeaderEpochTooLow { leader: u32, accepted: u32 },
    /// Learner: the leader broke the protocol (e.g. COMMIT not for the next pending txn, the
    /// case where ZooKeeper exits with code 12); the text says how.
    ProtocolViolation(String),
    /// The driver said the link to the leader is gone.
    Disconnected,
}

/// A command for the driver. Execute them in the order they are drained: each `Persist*`,
/// `Truncate`, `LoadSnapshot` and `TakeSnapshot` must be done (durably) before any later `Send`
/// of the same drain goes out; `LogTxn` may complete asynchronously and is reported back with
/// `handle_logged`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Leader: queue a packet on a learner's FIFO link.
    Send { to: LearnerId, packet: QuorumPacket },
    /// Learner: send a packet to the leader.
    SendToLeader(QuorumPacket),
    /// Leader: close a learner's link (protocol error, timeout, or the leader stepping down).
    Disconnect { learner: LearnerId, reason: String },
    /// Write the acceptedEpoch file (and fsync) before continuing.
    PersistAcceptedEpoch(u32),
    /// Write the currentEpoch file (and fsync) before continuing.
    PersistCurrentEpoch(u32),
    /// Append to the txn log; report durability with `handle_logged(zxid)` (group commit allowed).
    LogTxn(Proposal),
    /// Apply a committed txn to the DataTree (in zxid order; the finalize stage).
    Apply(Proposal),
    /// Learner: truncate the txn log after this zxid and reload the database to it. A server
    /// that cannot must exit, as ZooKeeper does.
    Truncate(Zxid),
    /// Learner: the snapshot stream following SNAP (read by the driver off the link, signature
    /// "BenWasHere" checked) replaces the database; its lastProcessedZxid is this zxid.
    LoadSnapshot(Zxid),
    /// Learner: write a snapshot of the current database (and fsync) before continuing.
    TakeSnapshot,
    /// Leader: right after the SNAP packet just queued for `to`, stream a snapshot of the current
    /// database and the string "BenWasHere" on that link, before the packets that follow.
    SendSnapshot { to: LearnerId, zxid: Zxid },
    /// Leader: read the committed proposals of the on-disk txn log starting at `from` (inclusive,
    /// the learner's last zxid) up to the in-memory window, within the snapshotSizeFactor limit,
    /// and answer with `handle_log_read` (an empty list when the log is too old or too big).
    ReadLog { for_learner: LearnerId, from: Zxid },
    /// Leader: the epoch is established (a quorum acked NEWLEADER); start serving clients.
    /// Learner: UPTODATE arrived; start serving clients.
    Established { epoch: u32 },
    /// The role is over; go back to election. No further outputs follow.
    StepDown(StepDownReason),
    /// Leader: a learner reported session activity (PING reply).
    TouchSessions { touches: Vec<(SessionId, i32)> },
    /// Leader: a learner forwarded a client request; submit it to the pipeline (a `sync` request,
    /// op 9, must come back through `Leader::sync` when it reaches the proposal stage).
    Request {
        from: LearnerId,
        request: ForwardedRequest,
    },
    /// Leader: a learner asks whether a session is still valid; answer with
    /// `Leader::revalidate_reply`.
    Revalidate {
        from: LearnerId,
        session: SessionId,
        timeout_ms: i32,
        zxid: Zxid,
    },
    /// Learner: the leader answered a REVALIDATE.
    Revalidated { session: SessionId, valid: bool },
    /// Learner: the leader answered the oldest outstanding forwarded `sync` (complete it).
    SyncDone,
}
