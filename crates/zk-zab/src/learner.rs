//! The learner roles, follower and observer: `Learner.registerWithLeader`, `syncWithLeader` and
//! the steady-state `processPacket` of Follower.java and Observer.java.

use std::collections::{BTreeMap, VecDeque};

use zk_jute::quorum::{LEARNER_PROTOCOL_VERSION, LearnerInfo, PacketType, QuorumPacket};
use zk_jute::{SessionId, Zxid};

use crate::error::ZabError;
use crate::types::{Output, PeerState, Proposal, StepDownReason, SyncMode, ZabConfig};
use crate::wire::{
    ForwardedRequest, ack_epoch, check_txn, data_packet, decode_revalidate_reply, encode_touches,
    learner_info, op_packet, revalidate_request,
};

/// Follower (votes, acks proposals) or observer (learns committed txns only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnerRole {
    Follower,
    Observer,
}

/// Whether the NEWLEADER of the sync has been acked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NewLeader {
    NotYet,
    /// Waiting for the txns logged at NEWLEADER to be durable.
    AwaitDurable(Zxid),
    Acked,
}

#[derive(Debug)]
struct Syncing {
    epoch: u32,
    mode: SyncMode,
    /// Apply commits in memory (SNAP, TRUNC before NEWLEADER) or buffer them until UPTODATE.
    write_to_log: bool,
    /// Proposals not committed yet: unlogged before NEWLEADER, logged after (followers).
    pending: VecDeque<Proposal>,
    /// Commits buffered until UPTODATE.
    committed: VecDeque<Zxid>,
    new_leader: NewLeader,
}

#[derive(Debug)]
enum Phase {
    AwaitLeaderInfo,
    AwaitSyncMode {
        epoch: u32,
    },
    Syncing(Box<Syncing>),
    Broadcast {
        epoch: u32,
        /// Logged, not committed yet, in zxid order.
        pending: VecDeque<Proposal>,
    },
    Stopped,
}

/// A follower's or observer's state machine, from FOLLOWERINFO/OBSERVERINFO to broadcast.
#[derive(Debug)]
pub struct Learner {
    config: ZabConfig,
    role: LearnerRole,
    state: PeerState,
    phase: Phase,
    last_heard_ms: u64,
    /// Txns handed out as LogTxn and the durable point (followers ACK once durable).
    to_ack: VecDeque<Zxid>,
    logged: Zxid,
    touches: BTreeMap<SessionId, i32>,
    new_leader_config: Option<String>,
    outputs: VecDeque<Output>,
}

impl Learner {
    /// Connected to the leader: sends FOLLOWERINFO/OBSERVERINFO (`registerWithLeader`).
    /// `config_version` is the version of this server's quorum verifier.
    pub fn new(
        now_ms: u64,
        config: ZabConfig,
        role: LearnerRole,
        state: PeerState,
        config_version: i64,
    ) -> Self {
        let info = LearnerInfo {
            server_id: config.my_id,
            protocol_version: LEARNER_PROTOCOL_VERSION,
            config_version,
        };
        let first = learner_info(role == LearnerRole::Observer, state.accepted_epoch, &info);
        Learner {
            config,
            role,
            state,
            phase: Phase::AwaitLeaderInfo,
            last_heard_ms: now_ms,
            to_ack: VecDeque::new(),
            logged: state.last_zxid,
            touches: BTreeMap::new(),
            new_leader_config: None,
            outputs: VecDeque::from([Output::SendToLeader(first)]),
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The read deadline: initLimit ticks until NEWLEADER, then syncLimit ticks, since the last
    /// packet from the leader.
    pub fn poll_timeout(&self) -> Option<u64> {
        let limit = match &self.phase {
            Phase::Stopped => return None,
            Phase::Syncing(s) if s.new_leader != NewLeader::NotYet => self.config.sync_ms(),
            Phase::Broadcast { .. } => self.config.sync_ms(),
            _ => self.config.init_ms(),
        };
        Some(self.last_heard_ms + limit)
    }

    pub fn role(&self) -> LearnerRole {
        self.role
    }

    /// Epochs as persisted so far and the last zxid received.
    pub fn state(&self) -> PeerState {
        self.state
    }

    /// The leader's epoch once LEADERINFO arrived.
    pub fn epoch(&self) -> Option<u32> {
        match &self.phase {
            Phase::AwaitSyncMode { epoch } | Phase::Broadcast { epoch, .. } => Some(*epoch),
            Phase::Syncing(s) => Some(s.epoch),
            _ => None,
        }
    }

    pub fn is_established(&self) -> bool {
        matches!(self.phase, Phase::Broadcast { .. })
    }

    pub fn is_stopped(&self) -> bool {
        matches!(self.phase, Phase::Stopped)
    }

    /// How this learner was synced, once the leader said so.
    pub fn sync_mode(&self) -> Option<SyncMode> {
        match &self.phase {
            Phase::Syncing(s) => Some(s.mode),
            _ => None,
        }
    }

    /// The config text the leader sent with NEWLEADER.
    pub fn new_leader_config(&self) -> Option<&str> {
        self.new_leader_config.as_deref()
    }

    /// Records session activity to report in the next PING reply.
    pub fn touch(&mut self, session: SessionId, timeout_ms: i32) {
        self.touches.insert(session, timeout_ms);
    }

    /// Forwards a client request to the leader (REQUEST).
    pub fn forward_request(&mut self, request: &ForwardedRequest) {
        if !self.is_stopped() {
            self.outputs
                .push_back(Output::SendToLeader(request.to_packet()));
        }
    }

    /// Asks the leader whether a reconnecting session is valid (REVALIDATE).
    pub fn revalidate(&mut self, session: SessionId, timeout_ms: i32) {
        if !self.is_stopped() {
            self.outputs
                .push_back(Output::SendToLeader(revalidate_request(
                    session, timeout_ms,
                )));
        }
    }

    pub fn handle_disconnected(&mut self, _now_ms: u64) {
        if !self.is_stopped() {
            self.stop(StepDownReason::Disconnected);
        }
    }

    pub fn handle_timeout(&mut self, now_ms: u64) {
        if self.poll_timeout().is_some_and(|t| now_ms >= t) {
            self.stop(StepDownReason::LeaderTimeout);
        }
    }

    /// The txn log is durable up to `zxid`: ACK what can be acked.
    pub fn handle_logged(&mut self, _now_ms: u64, zxid: Zxid) {
        if zxid > self.logged {
            self.logged = zxid;
        }
        if let Phase::Syncing(s) = &mut self.phase {
            if let NewLeader::AwaitDurable(upto) = s.new_leader {
                if self.logged >= upto {
                    s.new_leader = NewLeader::Acked;
                    // ZOOKEEPER-4643: currentEpoch only once the synced txns are durable.
                    self.state.current_epoch = s.epoch;
                    self.outputs.push_back(Output::PersistCurrentEpoch(s.epoch));
                    let ack = op_packet(PacketType::Ack, Zxid::new(s.epoch, 0));
                    self.outputs.push_back(Output::SendToLeader(ack));
                }
            }
        }
        self.flush_acks();
    }

    /// A packet from the leader.
    pub fn handle_packet(&mut self, now_ms: u64, packet: QuorumPacket) -> Result<(), ZabError> {
        if self.is_stopped() {
            return Ok(());
        }
        self.last_heard_ms = now_ms;
        let ty = PacketType::try_from(packet.r#type);
        match &mut self.phase {
            Phase::Stopped => Ok(()),
            Phase::AwaitLeaderInfo => self.leader_info(packet),
            Phase::AwaitSyncMode { epoch } => {
                let epoch = *epoch;
                self.sync_mode_packet(epoch, packet)
            }
            Phase::Syncing(_) => self.sync_packet(packet),
            Phase::Broadcast { .. } => match ty {
                Ok(PacketType::Ping) => {
                    let touches: Vec<(SessionId, i32)> =
                        std::mem::take(&mut self.touches).into_iter().collect();
                    let reply = QuorumPacket {
                        r#type: packet.r#type,
                        zxid: packet.zxid,
                        data: Some(encode_touches(&touches)),
                        authinfo: packet.authinfo,
                    };
                    self.outputs.push_back(Output::SendToLeader(reply));
                    Ok(())
                }
                Ok(PacketType::Revalidate) => {
                    let (session, valid) = decode_revalidate_reply(&packet)?;
                    self.outputs
                        .push_back(Output::Revalidated { session, valid });
                    Ok(())
                }
                Ok(PacketType::Sync) => {
                    self.outputs.push_back(Output::SyncDone);
                    Ok(())
                }
                Ok(PacketType::Proposal) if self.role == LearnerRole::Follower => {
                    let proposal = check_txn(&packet, "PROPOSAL")?;
                    self.log(proposal.clone());
                    if let Phase::Broadcast { pending, .. } = &mut self.phase {
                        pending.push_back(proposal);
                    }
                    Ok(())
                }
                Ok(PacketType::Commit | PacketType::CommitAndActivate)
                    if self.role == LearnerRole::Follower =>
                {
                    self.commit(packet.zxid);
                    Ok(())
                }
                Ok(PacketType::Inform | PacketType::InformAndActivate)
                    if self.role == LearnerRole::Observer =>
                {
                    let packet = strip_activate(packet)?;
                    let proposal = check_txn(&packet, "INFORM")?;
                    self.state.last_zxid = proposal.zxid;
                    self.outputs.push_back(Output::LogTxn(proposal.clone()));
                    self.outputs.push_back(Output::Apply(proposal));
                    Ok(())
                }
                _ => Err(ZabError::Unexpected {
                    packet_type: packet.r#type,
                    phase: "while broadcasting",
                }),
            },
        }
    }

    // ---- discovery ----

    fn leader_info(&mut self, packet: QuorumPacket) -> Result<(), ZabError> {
        if packet.r#type != PacketType::LeaderInfo.code() {
            // A pre-Zab-1.0 leader would send NEWLEADER here; 3.8 never does.
            self.stop(StepDownReason::ProtocolViolation(format!(
                "expected LEADERINFO, got packet type {}",
                packet.r#type
            )));
            return Err(ZabError::Unexpected {
                packet_type: packet.r#type,
                phase: "while waiting for LEADERINFO",
            });
        }
        let new_epoch = packet.zxid.epoch();
        let accepted = self.state.accepted_epoch;
        let current = if new_epoch > accepted {
            self.state.accepted_epoch = new_epoch;
            self.outputs
                .push_back(Output::PersistAcceptedEpoch(new_epoch));
            Some(self.state.current_epoch)
        } else if new_epoch == accepted {
            None
        } else {
            self.stop(StepDownReason::LeaderEpochTooLow {
                leader: new_epoch,
                accepted,
            });
            return Ok(());
        };
        self.outputs.push_back(Output::SendToLeader(ack_epoch(
            self.state.last_zxid,
            current,
        )));
        self.phase = Phase::AwaitSyncMode { epoch: new_epoch };
        Ok(())
    }

    // ---- synchronisation ----

    fn sync_mode_packet(&mut self, epoch: u32, packet: QuorumPacket) -> Result<(), ZabError> {
        let mode = match PacketType::try_from(packet.r#type) {
            Ok(PacketType::Diff) => SyncMode::Diff,
            Ok(PacketType::Snap) => {
                self.outputs.push_back(Output::LoadSnapshot(packet.zxid));
                self.state.last_zxid = packet.zxid;
                SyncMode::Snap
            }
            Ok(PacketType::Trunc) => {
                self.outputs.push_back(Output::Truncate(packet.zxid));
                self.state.last_zxid = packet.zxid;
                SyncMode::Trunc
            }
            _ => {
                self.stop(StepDownReason::ProtocolViolation(format!(
                    "expected DIFF, TRUNC or SNAP, got packet type {}",
                    packet.r#type
                )));
                return Err(ZabError::Unexpected {
                    packet_type: packet.r#type,
                    phase: "while waiting for the sync mode",
                });
            }
        };
        // Everything up to here is durable (log, truncated log or the snapshot about to be taken).
        self.logged = self.state.last_zxid;
        self.phase = Phase::Syncing(Box::new(Syncing {
            epoch,
            mode,
            write_to_log: mode == SyncMode::Diff,
            pending: VecDeque::new(),
            committed: VecDeque::new(),
            new_leader: NewLeader::NotYet,
        }));
        Ok(())
    }

    fn sync_packet(&mut self, packet: QuorumPacket) -> Result<(), ZabError> {
        let Phase::Syncing(s) = &mut self.phase else {
            unreachable!("sync_packet outside sync");
        };
        match PacketType::try_from(packet.r#type) {
            Ok(PacketType::Proposal) => {
                let proposal = check_txn(&packet, "PROPOSAL")?;
                self.state.last_zxid = self.state.last_zxid.max(proposal.zxid);
                let log_now =
                    s.new_leader != NewLeader::NotYet && self.role == LearnerRole::Follower;
                s.pending.push_back(proposal.clone());
                if log_now {
                    self.log(proposal);
                }
                Ok(())
            }
            Ok(PacketType::Commit | PacketType::CommitAndActivate) => {
                if s.write_to_log {
                    s.committed.push_back(packet.zxid);
                } else if s.pending.front().is_some_and(|p| p.zxid == packet.zxid) {
                    // SNAP/TRUNC before NEWLEADER: applied in memory; the snapshot at NEWLEADER
                    // makes it durable.
                    let p = s.pending.pop_front().expect("checked");
                    self.outputs.push_back(Output::Apply(p));
                }
                Ok(())
            }
            Ok(PacketType::Inform | PacketType::InformAndActivate) => {
                let packet = strip_activate(packet)?;
                let proposal = check_txn(&packet, "INFORM")?;
                self.state.last_zxid = self.state.last_zxid.max(proposal.zxid);
                if s.write_to_log {
                    s.committed.push_back(proposal.zxid);
                    s.pending.push_back(proposal);
                } else {
                    self.outputs.push_back(Output::Apply(proposal));
                }
                Ok(())
            }
            Ok(PacketType::NewLeader) => {
                if s.new_leader != NewLeader::NotYet {
                    return Err(ZabError::Unexpected {
                        packet_type: packet.r#type,
                        phase: "after NEWLEADER",
                    });
                }
                if let Some(data) = packet.data.as_ref().filter(|d| d.len() > 1) {
                    self.new_leader_config = Some(String::from_utf8_lossy(data).into_owned());
                }
                if s.mode != SyncMode::Diff {
                    self.outputs.push_back(Output::TakeSnapshot);
                }
                s.write_to_log = true;
                let epoch = s.epoch;
                // currentEpoch is persisted after the synced txns are durable, right before the
                // NEWLEADER ack (ZOOKEEPER-4643, fixed in 3.9; 3.8.0 persists it first). Were it
                // persisted first, a power failure before the fsync would leave this server with
                // the new epoch but without the txns: its vote, (epoch, zxid), would then beat a
                // server holding them, and the leader it elects would TRUNC committed txns away.
                if self.role == LearnerRole::Follower && !s.pending.is_empty() {
                    let upto = s.pending.back().expect("non-empty").zxid;
                    s.new_leader = NewLeader::AwaitDurable(upto);
                    let to_log: Vec<Proposal> = s.pending.iter().cloned().collect();
                    for p in to_log {
                        self.log(p);
                    }
                    // Already durable (cannot happen for new txns, but harmless).
                    let logged = self.logged;
                    self.handle_logged(self.last_heard_ms, logged);
                } else {
                    s.new_leader = NewLeader::Acked;
                    self.state.current_epoch = epoch;
                    self.outputs.push_back(Output::PersistCurrentEpoch(epoch));
                    let ack = op_packet(PacketType::Ack, Zxid::new(epoch, 0));
                    self.outputs.push_back(Output::SendToLeader(ack));
                }
                Ok(())
            }
            Ok(PacketType::UpToDate) => self.up_to_date(),
            _ => Err(ZabError::Unexpected {
                packet_type: packet.r#type,
                phase: "during sync",
            }),
        }
    }

    fn up_to_date(&mut self) -> Result<(), ZabError> {
        let Phase::Syncing(s) = &mut self.phase else {
            unreachable!("up_to_date outside sync");
        };
        if s.new_leader == NewLeader::NotYet {
            self.stop(StepDownReason::ProtocolViolation(
                "UPTODATE before NEWLEADER (pre-Zab-1.0 leader)".into(),
            ));
            return Ok(());
        }
        let mut s = std::mem::replace(&mut self.phase, Phase::Stopped);
        let Phase::Syncing(sync) = &mut s else {
            unreachable!()
        };
        let epoch = sync.epoch;
        let ack = op_packet(PacketType::Ack, Zxid::new(epoch, 0));
        self.outputs.push_back(Output::SendToLeader(ack));
        let mut pending = std::mem::take(&mut sync.pending);
        let committed = std::mem::take(&mut sync.committed);
        self.phase = Phase::Broadcast {
            epoch,
            pending: VecDeque::new(),
        };
        self.outputs.push_back(Output::Established { epoch });
        match self.role {
            LearnerRole::Follower => {
                if let Phase::Broadcast { pending: p, .. } = &mut self.phase {
                    *p = pending;
                }
                for zxid in committed {
                    self.commit(zxid);
                    if self.is_stopped() {
                        break;
                    }
                }
            }
            LearnerRole::Observer => {
                for zxid in committed {
                    let Some(pos) = pending.iter().position(|p| p.zxid == zxid) else {
                        continue;
                    };
                    // Anything before it never committed (warned about and skipped by Java).
                    let p = pending.drain(..=pos).last().expect("non-empty");
                    self.outputs.push_back(Output::LogTxn(p.clone()));
                    self.outputs.push_back(Output::Apply(p));
                }
            }
        }
        Ok(())
    }

    // ---- broadcast ----

    /// COMMIT: must name the oldest pending txn (FollowerZooKeeperServer.commit).
    fn commit(&mut self, zxid: Zxid) {
        let Phase::Broadcast { pending, .. } = &mut self.phase else {
            return;
        };
        match pending.front() {
            // "Committing X without seeing txn": a warning only.
            None => {}
            Some(p) if p.zxid == zxid => {
                let p = pending.pop_front().expect("checked");
                self.outputs.push_back(Output::Apply(p));
            }
            Some(p) => {
                let reason = format!("committing zxid {zxid} but next pending txn is {}", p.zxid);
                self.stop(StepDownReason::ProtocolViolation(reason));
            }
        }
    }

    fn log(&mut self, proposal: Proposal) {
        self.state.last_zxid = self.state.last_zxid.max(proposal.zxid);
        self.to_ack.push_back(proposal.zxid);
        let zxid = proposal.zxid;
        self.outputs.push_back(Output::LogTxn(proposal));
        #[cfg(feature = "fault-injection")]
        if self.config.fault == crate::types::Fault::AckBeforeFsync {
            // Broken on purpose: treat the write as durable at once.
            self.logged = self.logged.max(zxid);
            self.flush_acks();
        }
        let _ = zxid;
    }

    fn flush_acks(&mut self) {
        let may_ack = match &self.phase {
            Phase::Syncing(s) => s.new_leader == NewLeader::Acked,
            Phase::Broadcast { .. } => true,
            _ => false,
        };
        if !may_ack || self.role != LearnerRole::Follower {
            return;
        }
        while let Some(&zxid) = self.to_ack.front() {
            if zxid > self.logged {
                break;
            }
            self.to_ack.pop_front();
            self.outputs
                .push_back(Output::SendToLeader(op_packet(PacketType::Ack, zxid)));
        }
    }

    fn stop(&mut self, reason: StepDownReason) {
        self.phase = Phase::Stopped;
        self.outputs.push_back(Output::StepDown(reason));
    }
}

/// INFORMANDACTIVATE carries `long designatedLeaderSid` before the txn; reconfig activation is
/// the driver's business, the txn is handled as an INFORM.
fn strip_activate(packet: QuorumPacket) -> Result<QuorumPacket, ZabError> {
    if packet.r#type != PacketType::InformAndActivate.code() {
        return Ok(packet);
    }
    let data = packet.data.clone().unwrap_or_default();
    if data.len() < 8 {
        return Err(ZabError::Malformed {
            packet: "INFORMANDACTIVATE",
            source: zk_jute::DecodeError::UnexpectedEnd {
                needed: 8,
                remaining: data.len(),
            },
        });
    }
    Ok(data_packet(
        PacketType::Inform,
        packet.zxid,
        data.slice(8..),
    ))
}
