//! The leader role: `Leader.lead()` and one `LearnerHandler` per learner connection, as a single
//! state machine. Discovery (getEpochToPropose, waitForEpochAck), synchronisation (syncFollower,
//! NEWLEADER, waitForNewLeaderAck, UPTODATE) and broadcast (propose, processAck, commit, inform,
//! ping, the syncLimit checks).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use zk_election::QuorumVerifier;
use zk_jute::quorum::{PacketType, QuorumPacket};
use zk_jute::{ServerId, SessionId, Zxid};

use crate::error::{ProposeError, ZabError};
use crate::sync::{SyncInput, SyncStep, decide_sync};
use crate::types::{LearnerId, Output, PeerState, Proposal, StepDownReason, SyncMode, ZabConfig};
use crate::wire::{
    ForwardedRequest, decode_ack_epoch, decode_learner_info, decode_revalidate_request,
    decode_touches, inform_packet, leader_info, new_leader, op_packet, proposal_packet,
    revalidate_reply,
};

/// Where the leader is in establishing its epoch.
#[derive(Debug)]
enum Phase {
    /// getEpochToPropose: waiting for a quorum of voters (with the leader) to connect.
    Discovery {
        connecting: BTreeSet<ServerId>,
    },
    /// waitForEpochAck: the epoch is chosen and persisted as accepted.
    EpochAck {
        electing: BTreeSet<ServerId>,
    },
    /// waitForNewLeaderAck: currentEpoch persisted, learners being synced.
    NewLeaderAck {
        acks: BTreeSet<ServerId>,
    },
    /// Established: proposing and committing.
    Broadcast,
    Stopped,
}

/// One learner connection (`LearnerHandler`), by what it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Blocked in getEpochToPropose.
    AwaitEpoch,
    AwaitAckEpoch,
    /// Blocked in waitForEpochAck, with the learner's last zxid.
    AwaitEpochQuorum {
        peer_last: Zxid,
    },
    /// Waiting for the driver's read of the on-disk txn log.
    AwaitTxnLog {
        peer_last: Zxid,
    },
    AwaitNewLeaderAck,
    /// NEWLEADER acked; waiting for the leader to be established before UPTODATE.
    AwaitStartup,
    Broadcast,
}

impl Stage {
    /// startForwarding has run: live proposals and commits go to this learner.
    fn forwarding(self) -> bool {
        matches!(
            self,
            Stage::AwaitNewLeaderAck | Stage::AwaitStartup | Stage::Broadcast
        )
    }
}

#[derive(Debug)]
struct Handler {
    sid: ServerId,
    observer: bool,
    participant: bool,
    stage: Stage,
    last_heard_ms: u64,
    tick_of_next_ack_deadline: u64,
    /// Proposals sent since the NEWLEADER ack and not acked yet, with when (SyncLimitCheck).
    unacked: VecDeque<(Zxid, u64)>,
    sync_mode: Option<SyncMode>,
}

#[derive(Debug)]
struct Outstanding {
    proposal: Proposal,
    acks: BTreeSet<ServerId>,
}

/// What a leader is given when it starts leading.
#[derive(Debug, Clone, Default)]
pub struct LeaderInit {
    pub state: PeerState,
    /// The last committed proposals replayed on load (ZKDatabase.committedLog), ascending, at most
    /// `commit_log_count` of them, ending at `state.last_zxid` (or empty).
    pub committed_log: Vec<Proposal>,
}

/// The leader's state machine. See the crate docs for the driving loop.
#[derive(Debug)]
pub struct Leader {
    config: ZabConfig,
    verifier: Arc<dyn QuorumVerifier>,
    state: PeerState,
    phase: Phase,
    epoch: u32,
    phase_deadline_ms: u64,
    handlers: BTreeMap<LearnerId, Handler>,
    committed_log: VecDeque<Proposal>,
    last_processed: Zxid,
    outstanding: BTreeMap<Zxid, Outstanding>,
    last_proposed: Zxid,
    last_committed: Zxid,
    pending_syncs: BTreeMap<Zxid, Vec<LearnerId>>,
    tick: u64,
    tick_skip: bool,
    next_ping_ms: u64,
    outputs: VecDeque<Output>,
}

impl Leader {
    /// Starts leading (`lead()`): the leader counts itself towards the epoch quorum at once.
    pub fn new(
        now_ms: u64,
        config: ZabConfig,
        verifier: Arc<dyn QuorumVerifier>,
        init: LeaderInit,
    ) -> Self {
        let state = init.state;
        let mut committed_log: VecDeque<Proposal> = init.committed_log.into();
        while committed_log.len() > config.commit_log_count {
            committed_log.pop_front();
        }
        let mut leader = Leader {
            epoch: state.accepted_epoch + 1,
            phase: Phase::Discovery {
                connecting: BTreeSet::from([config.my_id]),
            },
            phase_deadline_ms: now_ms + config.init_ms(),
            handlers: BTreeMap::new(),
            committed_log,
            last_processed: state.last_zxid,
            outstanding: BTreeMap::new(),
            last_proposed: state.last_zxid,
            last_committed: state.last_zxid,
            pending_syncs: BTreeMap::new(),
            tick: 0,
            tick_skip: true,
            next_ping_ms: 0,
            outputs: VecDeque::new(),
            config,
            verifier,
            state,
        };
        leader.check_epoch_quorum(now_ms);
        leader
    }

    /// The next command for the driver.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to call [`Leader::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<u64> {
        let phase = match self.phase {
            Phase::Stopped => return None,
            Phase::Broadcast => self.next_ping_ms,
            _ => self.phase_deadline_ms,
        };
        let reads = self
            .handlers
            .values()
            .filter_map(|h| self.read_deadline(h))
            .min();
        Some(reads.map_or(phase, |r| r.min(phase)))
    }

    /// The epoch being established (or established).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    pub fn is_established(&self) -> bool {
        matches!(self.phase, Phase::Broadcast)
    }

    pub fn is_stopped(&self) -> bool {
        matches!(self.phase, Phase::Stopped)
    }

    /// The zxid the next proposal must carry.
    pub fn next_zxid(&self) -> Zxid {
        Zxid(self.last_proposed.0 + 1)
    }

    pub fn last_committed(&self) -> Zxid {
        self.last_committed
    }

    /// The server ids of learners that completed sync, with how they were synced.
    pub fn synced_learners(&self) -> Vec<(ServerId, SyncMode)> {
        self.handlers
            .values()
            .filter(|h| h.stage == Stage::Broadcast)
            .filter_map(|h| h.sync_mode.map(|m| (h.sid, m)))
            .collect()
    }

    /// A packet from a learner connection (the driver's id for it).
    pub fn handle_packet(
        &mut self,
        now_ms: u64,
        from: LearnerId,
        packet: QuorumPacket,
    ) -> Result<(), ZabError> {
        if self.is_stopped() {
            return Ok(());
        }
        let Some(handler) = self.handlers.get_mut(&from) else {
            return self.first_packet(now_ms, from, packet);
        };
        handler.last_heard_ms = now_ms;
        match handler.stage {
            Stage::AwaitAckEpoch => {
                if packet.r#type != PacketType::AckEpoch.code() {
                    self.drop_learner(from, "the packet after LEADERINFO is not ACKEPOCH");
                    return Err(unexpected(&packet, "while waiting for ACKEPOCH"));
                }
                let current_epoch = match decode_ack_epoch(&packet) {
                    Ok(e) => e,
                    Err(e) => {
                        self.drop_learner(from, "malformed ACKEPOCH");
                        return Err(e);
                    }
                };
                self.epoch_ack(now_ms, from, current_epoch, packet.zxid);
                Ok(())
            }
            Stage::AwaitNewLeaderAck => {
                if packet.r#type != PacketType::Ack.code() {
                    self.drop_learner(from, "the packet after NEWLEADER is not an ACK");
                    return Err(unexpected(&packet, "while waiting for the NEWLEADER ACK"));
                }
                self.new_leader_ack(now_ms, from, packet.zxid);
                Ok(())
            }
            Stage::AwaitStartup | Stage::Broadcast => {
                handler.tick_of_next_ack_deadline = self.tick + self.config.sync_limit_ticks;
                self.broadcast_packet(now_ms, from, packet)
            }
            Stage::AwaitEpoch | Stage::AwaitEpochQuorum { .. } | Stage::AwaitTxnLog { .. } => {
                // The Java handler is blocked and not reading; the packet would be read later and
                // break the handshake, so the connection goes.
                self.drop_learner(from, "packet while the handler waits for the quorum");
                Err(unexpected(&packet, "while the handler waits"))
            }
        }
    }

    /// The driver lost a learner's link.
    pub fn handle_disconnected(&mut self, _now_ms: u64, learner: LearnerId) {
        self.handlers.remove(&learner);
    }

    /// The leader's own txn log is durable up to `zxid` (its own ACK).
    pub fn handle_logged(&mut self, _now_ms: u64, zxid: Zxid) {
        if !self.is_established() {
            return;
        }
        let me = self.config.my_id;
        for (_, p) in self.outstanding.range_mut(..=zxid) {
            p.acks.insert(me);
        }
        self.commit_ready();
    }

    /// The answer to [`Output::ReadLog`]: committed proposals of the on-disk log from the
    /// learner's zxid (inclusive), or none if the log cannot serve it.
    pub fn handle_log_read(&mut self, now_ms: u64, learner: LearnerId, proposals: Vec<Proposal>) {
        let Some(h) = self.handlers.get(&learner) else {
            return;
        };
        if let Stage::AwaitTxnLog { peer_last } = h.stage {
            self.start_sync(now_ms, learner, peer_last, Some(&proposals));
        }
    }

    /// Timers: discovery/sync deadlines, learner read timeouts, the half-tick ping loop.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        match self.phase {
            Phase::Stopped => return,
            Phase::Discovery { .. } if now_ms >= self.phase_deadline_ms => {
                return self.step_down(StepDownReason::EpochTimeout);
            }
            Phase::EpochAck { .. } if now_ms >= self.phase_deadline_ms => {
                return self.step_down(StepDownReason::EpochAckTimeout);
            }
            Phase::NewLeaderAck { .. } if now_ms >= self.phase_deadline_ms => {
                return self.step_down(StepDownReason::NewLeaderAckTimeout);
            }
            _ => {}
        }
        let expired: Vec<LearnerId> = self
            .handlers
            .iter()
            .filter(|(_, h)| self.read_deadline(h).is_some_and(|d| now_ms >= d))
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.drop_learner(id, "read timeout");
        }
        if self.is_established() {
            let half_tick = (self.config.tick_ms / 2).max(1);
            while now_ms >= self.next_ping_ms && self.is_established() {
                self.ping_round(now_ms);
                self.next_ping_ms += half_tick;
            }
        }
    }

    /// Proposes a txn (the ProposalRequestProcessor): logs it locally and sends PROPOSAL to every
    /// forwarding follower. Its zxid must be [`Leader::next_zxid`].
    pub fn propose(&mut self, now_ms: u64, proposal: Proposal) -> Result<(), ProposeError> {
        if !self.is_established() {
            return Err(ProposeError::NotEstablished);
        }
        let expected = self.next_zxid();
        if proposal.zxid != expected {
            return Err(ProposeError::WrongZxid {
                expected,
                got: proposal.zxid,
            });
        }
        if proposal.zxid.counter() == u32::MAX {
            self.step_down(StepDownReason::ZxidRollover);
            return Err(ProposeError::Rollover);
        }
        self.last_proposed = proposal.zxid;
        self.outputs.push_back(Output::LogTxn(proposal.clone()));
        let packet = proposal_packet(&proposal);
        for (id, h) in self.handlers.iter_mut() {
            if h.participant && h.stage.forwarding() {
                if h.stage == Stage::Broadcast {
                    h.unacked.push_back((proposal.zxid, now_ms));
                }
                self.outputs.push_back(Output::Send {
                    to: *id,
                    packet: packet.clone(),
                });
            }
        }
        self.outstanding.insert(
            proposal.zxid,
            Outstanding {
                proposal,
                acks: BTreeSet::new(),
            },
        );
        Ok(())
    }

    /// A learner's forwarded `sync` reached the proposal stage (`processSync`): SYNC goes back once
    /// everything proposed so far is committed.
    pub fn sync(&mut self, _now_ms: u64, learner: LearnerId) {
        if self.outstanding.is_empty() {
            self.send(learner, op_packet(PacketType::Sync, Zxid(0)));
        } else {
            self.pending_syncs
                .entry(self.last_proposed)
                .or_default()
                .push(learner);
        }
    }

    /// The answer to [`Output::Revalidate`].
    pub fn revalidate_reply(
        &mut self,
        learner: LearnerId,
        zxid: Zxid,
        session: SessionId,
        valid: bool,
    ) {
        self.send(learner, revalidate_reply(zxid, session, valid));
    }

    // ---- discovery ----

    fn first_packet(
        &mut self,
        now_ms: u64,
        from: LearnerId,
        packet: QuorumPacket,
    ) -> Result<(), ZabError> {
        let observer = packet.r#type == PacketType::ObserverInfo.code();
        if !observer && packet.r#type != PacketType::FollowerInfo.code() {
            self.disconnect(from, "first packet is not FOLLOWERINFO or OBSERVERINFO");
            return Err(unexpected(&packet, "as the first packet"));
        }
        let info = match decode_learner_info(&packet) {
            Ok(info) => info,
            Err(e) => {
                self.disconnect(from, "malformed LearnerInfo");
                return Err(e);
            }
        };
        if info.config_version > self.verifier.version() {
            self.disconnect(
                from,
                "Follower is ahead of the leader (has a later activated configuration)",
            );
            return Ok(());
        }
        if info.protocol_version < zk_jute::quorum::LEARNER_PROTOCOL_VERSION {
            self.disconnect(from, "pre-Zab-1.0 learners are not supported");
            return Ok(());
        }
        let sid = info.server_id;
        let participant = !observer && self.verifier.is_voter(sid);
        self.handlers.insert(
            from,
            Handler {
                sid,
                observer,
                participant,
                stage: Stage::AwaitEpoch,
                last_heard_ms: now_ms,
                tick_of_next_ack_deadline: self.tick
                    + self.config.init_limit_ticks
                    + self.config.sync_limit_ticks,
                unacked: VecDeque::new(),
                sync_mode: None,
            },
        );
        let last_accepted = packet.zxid.epoch();
        if let Phase::Discovery { connecting } = &mut self.phase {
            if last_accepted >= self.epoch {
                self.epoch = last_accepted + 1;
            }
            if participant {
                connecting.insert(sid);
            }
            self.check_epoch_quorum(now_ms);
        } else {
            self.send_leader_info(now_ms, from);
        }
        Ok(())
    }

    fn check_epoch_quorum(&mut self, now_ms: u64) {
        let Phase::Discovery { connecting } = &self.phase else {
            return;
        };
        if !(connecting.contains(&self.config.my_id) && self.verifier.contains_quorum(connecting)) {
            return;
        }
        self.state.accepted_epoch = self.epoch;
        self.outputs
            .push_back(Output::PersistAcceptedEpoch(self.epoch));
        self.last_proposed = Zxid::new(self.epoch, 0);
        // The leader's own waitForEpochAck.
        self.phase = Phase::EpochAck {
            electing: BTreeSet::from([self.config.my_id]),
        };
        self.phase_deadline_ms = now_ms + self.config.init_ms();
        let waiting: Vec<LearnerId> = self
            .handlers
            .iter()
            .filter(|(_, h)| h.stage == Stage::AwaitEpoch)
            .map(|(id, _)| *id)
            .collect();
        for id in waiting {
            self.send_leader_info(now_ms, id);
        }
        self.check_epoch_ack_quorum(now_ms);
    }

    fn send_leader_info(&mut self, now_ms: u64, id: LearnerId) {
        if let Some(h) = self.handlers.get_mut(&id) {
            h.stage = Stage::AwaitAckEpoch;
            h.last_heard_ms = now_ms;
        }
        self.send(id, leader_info(self.epoch));
    }

    fn epoch_ack(&mut self, now_ms: u64, from: LearnerId, current_epoch: i32, last_zxid: Zxid) {
        let (sid, participant) = {
            let h = &self.handlers[&from];
            (h.sid, h.participant)
        };
        if let Phase::EpochAck { electing } = &mut self.phase {
            if current_epoch != -1 {
                let mine = (i64::from(self.state.current_epoch), self.state.last_zxid);
                if (i64::from(current_epoch), last_zxid) > mine {
                    self.drop_learner(from, "Follower is ahead of the leader");
                    return;
                }
                if last_zxid != Zxid(-1) && participant {
                    electing.insert(sid);
                }
            }
            if let Some(h) = self.handlers.get_mut(&from) {
                h.stage = Stage::AwaitEpochQuorum {
                    peer_last: last_zxid,
                };
            }
            self.check_epoch_ack_quorum(now_ms);
        } else {
            self.start_sync(now_ms, from, last_zxid, None);
        }
    }

    fn check_epoch_ack_quorum(&mut self, now_ms: u64) {
        let Phase::EpochAck { electing } = &self.phase else {
            return;
        };
        if !(electing.contains(&self.config.my_id) && self.verifier.contains_quorum(electing)) {
            return;
        }
        self.state.current_epoch = self.epoch;
        self.outputs
            .push_back(Output::PersistCurrentEpoch(self.epoch));
        self.phase = Phase::NewLeaderAck {
            acks: BTreeSet::from([self.config.my_id]),
        };
        self.phase_deadline_ms = now_ms + self.config.init_ms();
        let waiting: Vec<(LearnerId, Zxid)> = self
            .handlers
            .iter()
            .filter_map(|(id, h)| match h.stage {
                Stage::AwaitEpochQuorum { peer_last } => Some((*id, peer_last)),
                _ => None,
            })
            .collect();
        for (id, peer_last) in waiting {
            self.start_sync(now_ms, id, peer_last, None);
        }
        self.check_new_leader_quorum(now_ms);
    }

    // ---- synchronisation ----

    fn start_sync(
        &mut self,
        now_ms: u64,
        id: LearnerId,
        peer_last: Zxid,
        txn_log: Option<&[Proposal]>,
    ) {
        let committed: Vec<Proposal> = self.committed_log.iter().cloned().collect();
        let input = SyncInput {
            peer_last_zxid: peer_last,
            last_processed: self.last_processed,
            committed_log: &committed,
            txn_log_sync: self.config.txn_log_sync,
            force_snap: self.config.force_snap_sync,
        };
        let plan = match decide_sync(&input, txn_log) {
            SyncStep::NeedTxnLog { from } => {
                if let Some(h) = self.handlers.get_mut(&id) {
                    h.stage = Stage::AwaitTxnLog { peer_last };
                }
                self.outputs.push_back(Output::ReadLog {
                    for_learner: id,
                    from,
                });
                return;
            }
            SyncStep::Decided(plan) => plan,
        };
        if plan.mode == SyncMode::Snap {
            self.send(id, op_packet(PacketType::Snap, self.last_processed));
            self.outputs.push_back(Output::SendSnapshot {
                to: id,
                zxid: self.last_processed,
            });
        }
        for packet in plan.packets {
            self.send(id, packet);
        }
        // startForwarding: outstanding proposals after what the learner will have.
        let participant = self.handlers.get(&id).is_some_and(|h| h.participant);
        if participant {
            let forward: Vec<QuorumPacket> = self
                .outstanding
                .values()
                .filter(|p| p.proposal.zxid > plan.current_zxid)
                .map(|p| proposal_packet(&p.proposal))
                .collect();
            for packet in forward {
                self.send(id, packet);
            }
        }
        let text = self.new_leader_config_text();
        self.send(id, new_leader(self.epoch, &text));
        if let Some(h) = self.handlers.get_mut(&id) {
            h.stage = Stage::AwaitNewLeaderAck;
            h.sync_mode = Some(plan.mode);
            h.last_heard_ms = now_ms;
        }
    }

    /// The config text of NEWLEADER. A version-0 config goes out with version `newEpoch << 32`,
    /// as 3.8 does through lastSeenQuorumVerifier (ZOOKEEPER-1783).
    fn new_leader_config_text(&self) -> String {
        let text = self.verifier.config_text();
        if self.verifier.version() != 0 {
            return text;
        }
        match text.rsplit_once("version=") {
            Some((members, _)) => {
                format!("{members}version={:x}", Zxid::new(self.epoch, 0).0)
            }
            None => text,
        }
    }

    fn new_leader_ack(&mut self, now_ms: u64, from: LearnerId, zxid: Zxid) {
        let (sid, participant) = {
            let h = self.handlers.get_mut(&from).expect("handler exists");
            h.stage = Stage::AwaitStartup;
            h.tick_of_next_ack_deadline = self.tick + self.config.sync_limit_ticks;
            (h.sid, h.participant)
        };
        match &mut self.phase {
            Phase::NewLeaderAck { acks } => {
                // An ACK for another zxid is logged by Java and not counted.
                if zxid == Zxid::new(self.epoch, 0) && participant {
                    acks.insert(sid);
                }
                self.check_new_leader_quorum(now_ms);
            }
            Phase::Broadcast => self.send_up_to_date(from),
            _ => {}
        }
    }

    fn check_new_leader_quorum(&mut self, now_ms: u64) {
        let Phase::NewLeaderAck { acks } = &self.phase else {
            return;
        };
        if !self.verifier.contains_quorum(acks) {
            return;
        }
        // startZkServer: the database's lastProcessedZxid becomes newEpoch << 32.
        self.phase = Phase::Broadcast;
        self.last_processed = Zxid::new(self.epoch, 0);
        self.last_committed = self.last_processed;
        self.state.last_zxid = self.last_processed;
        self.outputs
            .push_back(Output::Established { epoch: self.epoch });
        self.tick_skip = true;
        self.next_ping_ms = now_ms + (self.config.tick_ms / 2).max(1);
        let ready: Vec<LearnerId> = self
            .handlers
            .iter()
            .filter(|(_, h)| h.stage == Stage::AwaitStartup)
            .map(|(id, _)| *id)
            .collect();
        for id in ready {
            self.send_up_to_date(id);
        }
    }

    fn send_up_to_date(&mut self, id: LearnerId) {
        if let Some(h) = self.handlers.get_mut(&id) {
            h.stage = Stage::Broadcast;
        }
        self.send(id, op_packet(PacketType::UpToDate, Zxid(-1)));
    }

    // ---- broadcast ----

    fn broadcast_packet(
        &mut self,
        _now_ms: u64,
        from: LearnerId,
        packet: QuorumPacket,
    ) -> Result<(), ZabError> {
        let h = self.handlers.get_mut(&from).expect("handler exists");
        match PacketType::try_from(packet.r#type) {
            Ok(PacketType::Ack) => {
                if h.observer {
                    return Ok(());
                }
                while h.unacked.front().is_some_and(|(z, _)| *z <= packet.zxid) {
                    h.unacked.pop_front();
                }
                let sid = h.sid;
                self.process_ack(sid, packet.zxid);
                Ok(())
            }
            Ok(PacketType::Ping) => {
                let touches = decode_touches(packet.data.as_deref())?;
                if !touches.is_empty() {
                    self.outputs.push_back(Output::TouchSessions { touches });
                }
                Ok(())
            }
            Ok(PacketType::Revalidate) => {
                let (session, timeout_ms) = decode_revalidate_request(&packet)?;
                self.outputs.push_back(Output::Revalidate {
                    from,
                    session,
                    timeout_ms,
                    zxid: packet.zxid,
                });
                Ok(())
            }
            Ok(PacketType::Request) => {
                let request = ForwardedRequest::from_packet(&packet)?;
                self.outputs.push_back(Output::Request { from, request });
                Ok(())
            }
            _ => Err(unexpected(&packet, "from a learner")),
        }
    }

    fn process_ack(&mut self, sid: ServerId, zxid: Zxid) {
        if zxid.counter() == 0 || zxid <= self.last_committed {
            return;
        }
        let Some(p) = self.outstanding.get_mut(&zxid) else {
            return;
        };
        p.acks.insert(sid);
        self.commit_ready();
    }

    /// Commits, lowest zxid first, every outstanding proposal a quorum has acked, stopping at the
    /// first that has no quorum yet (tryToCommit's in-order rule).
    fn commit_ready(&mut self) {
        while let Some(entry) = self.outstanding.first_entry() {
            if !has_commit_quorum(&self.config, self.verifier.as_ref(), &entry.get().acks) {
                break;
            }
            let proposal = entry.remove().proposal;
            let zxid = proposal.zxid;
            self.last_committed = zxid;
            let commit = op_packet(PacketType::Commit, zxid);
            let inform = inform_packet(&proposal);
            for (id, h) in &self.handlers {
                if !h.stage.forwarding() {
                    continue;
                }
                let packet = if h.participant {
                    commit.clone()
                } else if h.observer {
                    inform.clone()
                } else {
                    continue;
                };
                self.outputs.push_back(Output::Send { to: *id, packet });
            }
            self.outputs.push_back(Output::Apply(proposal.clone()));
            self.last_processed = zxid;
            self.committed_log.push_back(proposal);
            while self.committed_log.len() > self.config.commit_log_count {
                self.committed_log.pop_front();
            }
            if let Some(learners) = self.pending_syncs.remove(&zxid) {
                for id in learners {
                    self.send(id, op_packet(PacketType::Sync, Zxid(0)));
                }
            }
        }
    }

    fn ping_round(&mut self, now_ms: u64) {
        if !self.tick_skip {
            self.tick += 1;
            let mut synced = BTreeSet::from([self.config.my_id]);
            for h in self.handlers.values() {
                if self.tick <= h.tick_of_next_ack_deadline {
                    synced.insert(h.sid);
                }
            }
            if !self.verifier.contains_quorum(&synced) {
                self.step_down(StepDownReason::LostQuorum {
                    synced: synced.into_iter().collect(),
                });
                return;
            }
        }
        self.tick_skip = !self.tick_skip;
        let ids: Vec<LearnerId> = self
            .handlers
            .iter()
            .filter(|(_, h)| h.stage.forwarding())
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let late = self.handlers[&id]
                .unacked
                .front()
                .is_some_and(|(_, t)| now_ms.saturating_sub(*t) >= self.config.sync_ms());
            if late {
                self.drop_learner(id, "transaction timeout (no ACK within syncLimit)");
            } else {
                self.send(id, op_packet(PacketType::Ping, self.last_proposed));
            }
        }
    }

    // ---- plumbing ----

    fn read_deadline(&self, h: &Handler) -> Option<u64> {
        match h.stage {
            Stage::AwaitAckEpoch | Stage::AwaitNewLeaderAck => {
                Some(h.last_heard_ms + self.config.init_ms())
            }
            Stage::Broadcast => Some(h.last_heard_ms + self.config.sync_ms()),
            _ => None,
        }
    }

    fn send(&mut self, to: LearnerId, packet: QuorumPacket) {
        if self.handlers.contains_key(&to) {
            self.outputs.push_back(Output::Send { to, packet });
        }
    }

    fn disconnect(&mut self, learner: LearnerId, reason: &str) {
        self.outputs.push_back(Output::Disconnect {
            learner,
            reason: reason.to_owned(),
        });
    }

    fn drop_learner(&mut self, learner: LearnerId, reason: &str) {
        self.handlers.remove(&learner);
        self.disconnect(learner, reason);
    }

    fn step_down(&mut self, reason: StepDownReason) {
        let ids: Vec<LearnerId> = self.handlers.keys().copied().collect();
        for id in ids {
            self.drop_learner(id, "the leader is shutting down");
        }
        self.phase = Phase::Stopped;
        self.outputs.push_back(Output::StepDown(reason));
    }
}

/// Whether `acks` may commit a proposal: a quorum of voters.
fn has_commit_quorum(
    config: &ZabConfig,
    verifier: &dyn QuorumVerifier,
    acks: &BTreeSet<ServerId>,
) -> bool {
    #[cfg(feature = "fault-injection")]
    if config.fault == crate::types::Fault::CommitWithoutQuorum {
        return !acks.is_empty();
    }
    let _ = config;
    verifier.contains_quorum(acks)
}

fn unexpected(packet: &QuorumPacket, phase: &'static str) -> ZabError {
    ZabError::Unexpected {
        packet_type: packet.r#type,
        phase,
    }
}
