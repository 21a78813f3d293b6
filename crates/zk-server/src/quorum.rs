//! The ensemble driver (QuorumPeer): leader election, then the leader, follower or observer role
//! run by zk-zab's cores on the core task that owns the tree, so ZAB's commands (log, apply,
//! truncate, load a snapshot) act on the pipeline's state in order.
//!
//! Leader: clients' writes are prepped here and proposed; forwarded requests from learners are
//! prepped the same way; a txn is finalized once ZAB commits it (a quorum logged it durably).
//! Learner: writes, `createSession` and `sync` are forwarded to the leader and answered when their
//! commit (matched by session and cxid) or SYNC comes back; reads are served from the local tree
//! behind the requests that came before them. Sessions belong to the leader's tracker; learners
//! report activity in PING replies and revalidate reconnecting sessions.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tracing::{debug, error, info, warn};
use zk_datatree::{DataTree, PendingChanges, WriteRequest};
use zk_election::{History, LearnerType};
use zk_jute::proto::RequestHeader;
use zk_jute::quorum::ServerState;
use zk_jute::txn::{TxnBody, TxnEntry};
use zk_jute::{ErrorCode, Id, OpCode, SessionId, Zxid};
use zk_persistence::{ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE};
use zk_zab::{
    ForwardedRequest, Leader, LeaderInit, Learner, LearnerId, LearnerRole, Output, PeerState,
    Proposal, ZabConfig,
};

use crate::connection::ConnId;
use crate::election::{Decision, ElectionService};
use crate::peer_link::{Inbound, Link};
use crate::pipeline::{Core, Origin, Persist, Queued, wall_ms};
use crate::quorum_config::QuorumPeerConfig;
use crate::session::SessionTracker;

/// What the election task, the learner listener and the links tell the core. `round` names the
/// role they belong to; events of an earlier role are dropped.
#[derive(Debug)]
pub(crate) enum PeerEvent {
    Decided {
        round: u64,
        decision: Option<Decision>,
    },
    LearnerConnected {
        round: u64,
        id: LearnerId,
        link: Link,
    },
    FromLearner {
        round: u64,
        id: LearnerId,
        inbound: Inbound,
    },
    ListenFailed {
        round: u64,
        why: String,
    },
    LeaderConnected {
        round: u64,
        link: Link,
    },
    LeaderUnreachable {
        round: u64,
        why: String,
    },
    FromLeader {
        round: u64,
        inbound: Inbound,
    },
}

/// This server as a member of an ensemble.
#[derive(Debug)]
pub(crate) struct Peer {
    config: QuorumPeerConfig,
    zab: ZabConfig,
    election: ElectionService,
    events: mpsc::UnboundedSender<PeerEvent>,
    round: u64,
    role: Role,
    accepted_epoch: u32,
    current_epoch: u32,
}

#[derive(Debug)]
enum Role {
    Looking,
    Leading(Box<Leading>),
    Learning(Box<Learning>),
}

#[derive(Debug)]
struct Leading {
    zab: Leader,
    links: HashMap<LearnerId, Link>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Leading {
    fn drop(&mut self) {
        // Closing the quorum port and every learner link is what stepping down means.
        self.accept.abort();
        for link in self.links.values() {
            link.close();
        }
    }
}

#[derive(Debug)]
struct Learning {
    leader: zk_jute::ServerId,
    role: LearnerRole,
    zab: Option<Learner>,
    link: Option<Link>,
    /// The snapshot that came with SNAP, installed by the core's `LoadSnapshot`.
    snapshot: Option<Box<DataTree>>,
    /// Reconnecting sessions waiting for the leader's REVALIDATE answer.
    revalidating: HashMap<i64, Vec<ConnId>>,
}

impl Drop for Learning {
    fn drop(&mut self) {
        if let Some(link) = &self.link {
            link.close();
        }
    }
}

impl Peer {
    pub(crate) fn new(
        config: QuorumPeerConfig,
        election: ElectionService,
        events: mpsc::UnboundedSender<PeerEvent>,
        epochs: zk_persistence::Epochs,
    ) -> Self {
        let zab = ZabConfig::new(
            config.my_id,
            u64::from(config.tick_ms),
            u64::from(config.init_limit_ticks),
            u64::from(config.sync_limit_ticks),
        );
        Peer {
            config,
            zab,
            election,
            events,
            round: 0,
            role: Role::Looking,
            accepted_epoch: epochs.accepted as u32,
            current_epoch: epochs.current as u32,
        }
    }

    fn poll_output(&mut self) -> Option<Output> {
        match &mut self.role {
            Role::Leading(l) => l.zab.poll_output(),
            Role::Learning(l) => l.zab.as_mut()?.poll_output(),
            Role::Looking => None,
        }
    }

    fn leading(&mut self) -> Option<&mut Leading> {
        match &mut self.role {
            Role::Leading(l) => Some(l),
            _ => None,
        }
    }

    fn learning(&mut self) -> Option<&mut Learning> {
        match &mut self.role {
            Role::Learning(l) => Some(l),
            _ => None,
        }
    }

    fn learner(&mut self) -> Option<&mut Learner> {
        self.learning()?.zab.as_mut()
    }

    fn is_established(&self) -> bool {
        match &self.role {
            Role::Leading(l) => l.zab.is_established(),
            Role::Learning(l) => l.zab.as_ref().is_some_and(Learner::is_established),
            Role::Looking => false,
        }
    }
}

/// Resolves the quorum address of a member.
fn quorum_address(config: &QuorumPeerConfig, id: zk_jute::ServerId) -> Option<SocketAddr> {
    let member = config.verifier.members().get(&id)?;
    let (host, _) = member.addresses.first()?;
    (host.host.as_str(), host.port)
        .to_socket_addrs()
        .ok()?
        .next()
}

impl Core {
    fn now_ms(&self) -> u64 {
        self.now() as u64
    }

    /// Whether clients are served: always standalone, once the role is established in an ensemble.
    pub(crate) fn is_serving(&self) -> bool {
        self.peer.as_ref().is_none_or(Peer::is_established)
    }

    /// A follower or observer: writes go to the leader.
    pub(crate) fn is_learner(&self) -> bool {
        self.peer
            .as_ref()
            .is_some_and(|p| matches!(p.role, Role::Learning(_)))
    }

    /// Standalone, or the established leader: sessions expire and containers are reaped here.
    pub(crate) fn leads(&self) -> bool {
        match &self.peer {
            None => true,
            Some(p) => matches!(&p.role, Role::Leading(l) if l.zab.is_established()),
        }
    }

    /// `Mode:` of `srvr` and `zk_server_state` of `mntr`.
    pub(crate) fn mode_name(&self) -> &'static str {
        match self.peer.as_ref().map(|p| &p.role) {
            None => "standalone",
            Some(Role::Leading(_)) => "leader",
            Some(Role::Learning(l)) if l.role == LearnerRole::Observer => "observer",
            Some(Role::Learning(_)) => "follower",
            Some(Role::Looking) => "looking",
        }
    }

    /// Starts a member: makes the peer state and runs the first election.
    pub(crate) fn start_peer(
        &mut self,
        config: QuorumPeerConfig,
        election: ElectionService,
        events: mpsc::UnboundedSender<PeerEvent>,
    ) -> Result<(), zk_persistence::Error> {
        let epochs =
            zk_persistence::load_epochs(&self.snap_dir, self.tree.read().last_processed_zxid())?;
        self.peer = Some(Peer::new(config, election, events, epochs));
        self.look_for_leader();
        Ok(())
    }

    fn look_for_leader(&mut self) {
        self.metrics.looking_count.inc();
        self.looking_since = Some(Instant::now());
        self.leading_since = None;
        self.syncing_since = None;
        let history = History {
            last_logged_zxid: self.tree.read().last_processed_zxid(),
            current_epoch: 0,
        };
        let Some(peer) = &mut self.peer else {
            return;
        };
        peer.round += 1;
        peer.role = Role::Looking;
        let history = History {
            current_epoch: i64::from(peer.current_epoch),
            ..history
        };
        let (service, events, round) = (peer.election.clone(), peer.events.clone(), peer.round);
        tokio::spawn(async move {
            let decision = service.look_for_leader(history).await;
            let _ = events.send(PeerEvent::Decided { round, decision });
        });
    }

    /// Leaves the role (StepDown, a lost link, a failed disk write): every client is
    /// disconnected, the tree catches up with the log, and a new election starts.
    fn go_looking(&mut self, why: &str) {
        info!(why, "leaving the role; looking for a leader");
        self.serving
            .store(false, std::sync::atomic::Ordering::Release);
        if let Some(p) = &mut self.peer {
            p.role = Role::Looking;
        }
        self.close_all();
        self.queue.clear();
        self.pending = PendingChanges::new();
        self.flush_log();
        self.fast_forward();
        self.look_for_leader();
    }

    /// Waits until everything handed to the persistence thread is durable.
    fn flush_log(&mut self) {
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(p) = &self.persist
            && p.send(Persist::Flush(tx)).is_ok()
        {
            let _ = rx.recv();
        }
    }

    /// `fastForwardDataBase`: applies the logged txns the tree does not have yet (proposals that
    /// were logged but not committed when the role ended), so the tree is the log's history.
    fn fast_forward(&mut self) {
        let from = Zxid(self.tree.read().last_processed_zxid().0 + 1);
        let txns = match zk_persistence::read_dir(&self.log_dir, from) {
            Ok(t) => t.live(),
            Err(e) => {
                error!(error = %e, "cannot read the txn log to catch the database up");
                return;
            }
        };
        let mut applied = 0u64;
        for txn in txns {
            match txn {
                Ok(t) if t.zxid() > self.tree.read().last_processed_zxid() => {
                    self.apply_entry(&t.entry, None);
                    applied += 1;
                }
                Ok(_) => {}
                Err(e) => {
                    warn!(error = %e, "stopped catching the database up at a bad txn");
                    break;
                }
            }
        }
        if applied > 0 {
            info!(applied, zxid = %self.tree.read().last_processed_zxid(), "caught the database up with the txn log");
        }
        self.ready_zxid = self.tree.read().last_processed_zxid().0;
    }

    fn peer_state(&self) -> PeerState {
        let (accepted_epoch, current_epoch) = self
            .peer
            .as_ref()
            .map_or((0, 0), |p| (p.accepted_epoch, p.current_epoch));
        PeerState {
            accepted_epoch,
            current_epoch,
            last_zxid: self.tree.read().last_processed_zxid(),
        }
    }

    /// Handles an event of the election, the learner listener or a link.
    pub(crate) fn handle_peer(&mut self, event: PeerEvent) {
        let now = self.now_ms();
        let Some(peer) = &mut self.peer else {
            return;
        };
        let round = match &event {
            PeerEvent::Decided { round, .. }
            | PeerEvent::LearnerConnected { round, .. }
            | PeerEvent::FromLearner { round, .. }
            | PeerEvent::ListenFailed { round, .. }
            | PeerEvent::LeaderConnected { round, .. }
            | PeerEvent::LeaderUnreachable { round, .. }
            | PeerEvent::FromLeader { round, .. } => *round,
        };
        if round != peer.round {
            match event {
                PeerEvent::LearnerConnected { link, .. }
                | PeerEvent::LeaderConnected { link, .. } => link.close(),
                _ => {}
            }
            return;
        }
        match event {
            PeerEvent::Decided { decision, .. } => match decision {
                Some(d) => self.decided(d),
                None => error!("the election task stopped"),
            },
            PeerEvent::LearnerConnected { id, link, .. } => match peer.leading() {
                Some(l) => {
                    l.links.insert(id, link);
                }
                None => link.close(),
            },
            PeerEvent::FromLearner { id, inbound, .. } => {
                let Some(l) = peer.leading() else {
                    return;
                };
                match inbound {
                    Inbound::Packet(packet) => {
                        if let Err(e) = l.zab.handle_packet(now, id, packet) {
                            warn!(learner = id.0, error = %e, "bad packet from a learner");
                        }
                    }
                    Inbound::Snap { .. } => {}
                    Inbound::Closed(why) => {
                        debug!(learner = id.0, why, "learner link closed");
                        l.links.remove(&id);
                        l.zab.handle_disconnected(now, id);
                    }
                }
            }
            PeerEvent::ListenFailed { why, .. } => {
                return self.go_looking(&format!("cannot accept learners: {why}"));
            }
            PeerEvent::LeaderConnected { link, .. } => {
                let config_version = peer.config.verifier.version();
                let zab = peer.zab.clone();
                let state = self.peer_state();
                let Some(l) = self.peer.as_mut().and_then(Peer::learning) else {
                    link.close();
                    return;
                };
                info!(leader = %l.leader, "connected to the leader");
                self.syncing_since = Some(Instant::now());
                l.link = Some(link);
                l.zab = Some(Learner::new(now, zab, l.role, state, config_version));
            }
            PeerEvent::LeaderUnreachable { why, .. } => {
                return self.go_looking(&format!("cannot reach the leader: {why}"));
            }
            PeerEvent::FromLeader { inbound, .. } => {
                let Some(l) = peer.learning() else {
                    return;
                };
                let Some(zab) = l.zab.as_mut() else {
                    return;
                };
                let result = match inbound {
                    Inbound::Packet(packet) => {
                        use zk_jute::quorum::PacketType;
                        match PacketType::try_from(packet.r#type) {
                            Ok(PacketType::Proposal) => {
                                self.metrics.learner_proposal_received_count.inc()
                            }
                            Ok(PacketType::Commit) => {
                                self.metrics.learner_commit_received_count.inc()
                            }
                            _ => {}
                        }
                        zab.handle_packet(now, packet)
                    }
                    Inbound::Snap { packet, tree } => {
                        l.snapshot = Some(tree);
                        zab.handle_packet(now, packet)
                    }
                    Inbound::Closed(why) => {
                        info!(why, "the link to the leader closed");
                        zab.handle_disconnected(now);
                        Ok(())
                    }
                };
                if let Err(e) = result {
                    warn!(error = %e, "bad packet from the leader");
                }
            }
        }
        self.drain_zab();
    }

    fn decided(&mut self, decision: Decision) {
        if decision.state != ServerState::Looking
            && let Some(since) = self.looking_since.take()
        {
            self.metrics.election_time.add_duration(since.elapsed());
        }
        let Some(peer) = &mut self.peer else {
            return;
        };
        match decision.state {
            ServerState::Leading => self.start_leading(),
            ServerState::Following | ServerState::Observing => {
                let role = if peer.config.learner_type == LearnerType::Observer {
                    LearnerRole::Observer
                } else {
                    LearnerRole::Follower
                };
                self.start_learning(decision.vote.leader, role);
            }
            ServerState::Looking => self.look_for_leader(),
        }
    }

    fn start_leading(&mut self) {
        let max_packet = self.config.jute_max_buffer + 1024;
        let committed_log = self.committed_log_tail();
        let state = self.peer_state();
        let now = self.now_ms();
        let Some(peer) = &mut self.peer else {
            return;
        };
        let addr = peer.config.quorum_listen;
        let listener = match crate::server::bind(addr, 50) {
            Ok(l) => l,
            Err(e) => {
                let why = format!("cannot listen for learners on {addr}: {e}");
                return self.go_looking(&why);
            }
        };
        info!(%addr, zxid = %state.last_zxid, "LEADING");
        let (round, events) = (peer.round, peer.events.clone());
        let accept = tokio::spawn(accept_learners(listener, round, events, max_packet));
        let zab = Leader::new(
            now,
            peer.zab.clone(),
            peer.config.verifier.clone(),
            LeaderInit {
                state,
                committed_log,
            },
        );
        peer.role = Role::Leading(Box::new(Leading {
            zab,
            links: HashMap::new(),
            accept,
        }));
        self.leading_since = Some(Instant::now());
    }

    fn start_learning(&mut self, leader: zk_jute::ServerId, role: LearnerRole) {
        let tree_config = self.tree_config;
        let max_packet = self.config.jute_max_buffer + 1024;
        let Some(peer) = &mut self.peer else {
            return;
        };
        let Some(addr) = quorum_address(&peer.config, leader) else {
            let why = format!("server.{leader} has no resolvable quorum address");
            return self.go_looking(&why);
        };
        info!(%leader, %addr, ?role, "{}", if role == LearnerRole::Observer { "OBSERVING" } else { "FOLLOWING" });
        peer.role = Role::Learning(Box::new(Learning {
            leader,
            role,
            zab: None,
            link: None,
            snapshot: None,
            revalidating: HashMap::new(),
        }));
        let (round, events) = (peer.round, peer.events.clone());
        let timeout = Duration::from_millis(peer.zab.tick_ms * peer.zab.init_limit_ticks);
        std::thread::spawn(move || {
            connect_leader(addr, timeout, round, events, tree_config, max_packet)
        });
    }

    /// The committed txns the leader keeps for DIFF (ZKDatabase.committedLog): the tail of the
    /// log up to the tree's last zxid.
    fn committed_log_tail(&self) -> Vec<Proposal> {
        let count = self.peer.as_ref().map_or(500, |p| p.zab.commit_log_count);
        let last = self.tree.read().last_processed_zxid();
        let start = Zxid((last.0 - count as i64 + 1).max(0));
        let mut out: Vec<Proposal> = Vec::new();
        if let Ok(txns) = zk_persistence::read_dir(&self.log_dir, start) {
            for txn in txns.live().map_while(Result::ok) {
                if txn.zxid() > last {
                    break;
                }
                out.push(Proposal {
                    zxid: txn.zxid(),
                    data: txn.payload,
                });
            }
        }
        let skip = out.len().saturating_sub(count);
        out.split_off(skip)
    }

    /// `getProposalsFromTxnLog`: the logged txns from `from` on, or none when the log does not
    /// hold `from` or they add up to more than a third of the newest snapshot.
    fn proposals_from_log(&self, from: Zxid) -> Vec<Proposal> {
        let limit = self
            .snap
            .all()
            .ok()
            .and_then(|all| all.last().map(|(_, path)| path.clone()))
            .and_then(|path| std::fs::metadata(path).ok())
            .map_or(u64::MAX, |m| (m.len() as f64 * 0.33) as u64);
        let Ok(txns) = zk_persistence::read_dir(&self.log_dir, from) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut bytes = 0u64;
        for txn in txns.live().map_while(Result::ok) {
            bytes += txn.payload.len() as u64;
            if bytes > limit {
                return Vec::new();
            }
            out.push(Proposal {
                zxid: txn.zxid(),
                data: txn.payload,
            });
        }
        if out.first().map(|p| p.zxid) != Some(from) {
            return Vec::new();
        }
        out
    }

    /// When ZAB's next timer fires, on the core's clock.
    pub(crate) fn zab_deadline(&self) -> Option<Instant> {
        let at = match &self.peer.as_ref()?.role {
            Role::Leading(l) => l.zab.poll_timeout(),
            Role::Learning(l) => l.zab.as_ref()?.poll_timeout(),
            Role::Looking => None,
        }?;
        Some(self.started + Duration::from_millis(at))
    }

    pub(crate) fn zab_timeout(&mut self) {
        let now = self.now_ms();
        match self.peer.as_mut().map(|p| &mut p.role) {
            Some(Role::Leading(l)) => l.zab.handle_timeout(now),
            Some(Role::Learning(l)) => {
                if let Some(z) = l.zab.as_mut() {
                    z.handle_timeout(now);
                }
            }
            _ => {}
        }
        self.drain_zab();
    }

    /// The txn log is durable up to `zxid`: ZAB acks (learner) or counts the leader's own ack.
    pub(crate) fn logged(&mut self, zxid: Zxid) {
        let now = self.now_ms();
        match self.peer.as_mut().map(|p| &mut p.role) {
            Some(Role::Leading(l)) => l.zab.handle_logged(now, zxid),
            Some(Role::Learning(l)) => {
                if let Some(z) = l.zab.as_mut() {
                    z.handle_logged(now, zxid);
                }
            }
            _ => {}
        }
        self.drain_zab();
    }

    /// Executes ZAB's commands in order.
    pub(crate) fn drain_zab(&mut self) {
        while let Some(out) = self.peer.as_mut().and_then(Peer::poll_output) {
            self.zab_output(out);
        }
    }

    fn zab_output(&mut self, out: Output) {
        let now = self.now_ms();
        let Some(peer) = &mut self.peer else {
            return;
        };
        match out {
            Output::Send { to, packet } => {
                if let Some(kind) = sync_kind(packet.r#type) {
                    info!(learner = to.0, zxid = %packet.zxid, "Sending {kind}");
                    match kind {
                        "DIFF" => self.metrics.diff_count.inc(),
                        "SNAP" => self.metrics.snap_count.inc(),
                        _ => {}
                    }
                }
                if let Some(link) = peer.leading().and_then(|l| l.links.get(&to)) {
                    link.send(packet);
                }
            }
            Output::SendToLeader(packet) => {
                if let Some(link) = peer.learning().and_then(|l| l.link.as_ref()) {
                    link.send(packet);
                }
            }
            Output::Disconnect { learner, reason } => {
                if let Some(link) = peer.leading().and_then(|l| l.links.remove(&learner)) {
                    info!(learner = learner.0, reason, "dropping a learner");
                    link.close();
                }
            }
            Output::PersistAcceptedEpoch(epoch) => {
                peer.accepted_epoch = epoch;
                self.persist_epoch(ACCEPTED_EPOCH_FILE, epoch);
            }
            Output::PersistCurrentEpoch(epoch) => {
                peer.current_epoch = epoch;
                self.persist_epoch(CURRENT_EPOCH_FILE, epoch);
            }
            Output::LogTxn(p) => {
                if let Some(persist) = &self.persist {
                    let _ = persist.send(Persist::Payload(p.zxid, p.data));
                }
            }
            Output::Apply(p) => {
                if self.leads() {
                    self.metrics.commit_count.inc();
                }
                self.apply_committed(p)
            }
            Output::Truncate(zxid) => self.truncate(zxid),
            Output::LoadSnapshot(zxid) => {
                let Some(mut tree) = peer.learning().and_then(|l| l.snapshot.take()) else {
                    return self.go_looking("SNAP without a snapshot");
                };
                tree.set_last_processed_zxid(zxid);
                // Txns past the snapshot in our log are not in the leader's history.
                self.truncate_log(zxid, false);
                *self.tree.write() = *tree;
                self.pending = PendingChanges::new();
                self.ready_zxid = zxid.0;
            }
            Output::TakeSnapshot => {
                let zxid = self.tree.read().last_processed_zxid();
                let started = Instant::now();
                let written = self.snap.write(zxid, &mut &*self.tree.read());
                if let Err(e) = written {
                    // A partial file would keep the disk full; 3.8 deletes it too, then exits.
                    let _ = std::fs::remove_file(self.snap.path_for(zxid));
                    self.fail_storage(&format!("cannot write the synced snapshot: {e}"));
                } else {
                    self.metrics.snapshot_time.add_duration(started.elapsed());
                }
            }
            Output::SendSnapshot { to, zxid } => {
                let tree = Box::new(self.tree.read().clone());
                if let Some(link) = peer.leading().and_then(|l| l.links.get(&to)) {
                    info!(learner = to.0, %zxid, "sending a snapshot");
                    link.send_snapshot(tree);
                }
            }
            Output::ReadLog { for_learner, from } => {
                let proposals = self.proposals_from_log(from);
                if let Some(l) = self.peer.as_mut().and_then(Peer::leading) {
                    l.zab.handle_log_read(now, for_learner, proposals);
                }
            }
            Output::Established { epoch } => self.established(epoch),
            Output::StepDown(reason) => self.go_looking(&format!("{reason:?}")),
            Output::TouchSessions { touches } => {
                let now = self.now();
                for (session, timeout) in touches {
                    self.sessions.touch(session.0, timeout, now);
                }
            }
            Output::Request { from, request } => self.leader_request(from, request),
            Output::Revalidate {
                from,
                session,
                timeout_ms,
                zxid,
            } => {
                let valid = self.sessions.touch(session.0, timeout_ms, self.now());
                if let Some(l) = self.peer.as_mut().and_then(Peer::leading) {
                    l.zab.revalidate_reply(from, zxid, session, valid);
                }
            }
            Output::Revalidated { session, valid } => {
                let conns = peer
                    .learning()
                    .and_then(|l| l.revalidating.remove(&session.0))
                    .unwrap_or_default();
                for conn in conns {
                    self.reconnected(conn, session.0, valid);
                }
            }
            Output::SyncDone => {
                if let Some(Queued::Sync { done, .. }) = self
                    .queue
                    .iter_mut()
                    .find(|q| matches!(q, Queued::Sync { done: false, .. }))
                {
                    *done = true;
                }
                self.drain_ready();
            }
        }
    }

    fn persist_epoch(&mut self, file: &str, epoch: u32) {
        if let Err(e) = zk_persistence::write_epoch(&self.snap_dir, file, i64::from(epoch)) {
            self.fail_storage(&format!("cannot write {file}: {e}"));
        }
    }

    /// A write to the data directory failed (a full or broken disk): as 3.8 ("Severe
    /// unrecoverable error, exiting"), the server stops rather than rejoin and fail again.
    fn fail_storage(&mut self, why: &str) {
        error!("severe unrecoverable error, stopping: {why}; free the disk, then restart");
        self.fatal = Some(why.to_owned());
        if let Some(p) = &mut self.peer {
            p.role = Role::Looking;
            p.round += 1;
        }
        self.serving
            .store(false, std::sync::atomic::Ordering::Release);
        self.close_all();
    }

    /// Cuts the log after `zxid`; with `reload`, rebuilds the tree from disk (TRUNC).
    fn truncate_log(&mut self, zxid: Zxid, reload: bool) -> Option<DataTree> {
        let (reply, answer) = std::sync::mpsc::channel();
        let command = Persist::Truncate {
            zxid,
            reload: reload.then_some(self.tree_config),
            reply,
        };
        self.persist.as_ref()?.send(command).ok()?;
        match answer.recv() {
            Ok(Ok(restored)) => restored.map(|r| r.tree),
            Ok(Err(e)) => {
                error!(%zxid, error = %e, "cannot truncate the txn log");
                None
            }
            Err(_) => None,
        }
    }

    fn truncate(&mut self, zxid: Zxid) {
        info!(%zxid, "truncating the txn log (TRUNC)");
        match self.truncate_log(zxid, true) {
            Some(tree) => {
                *self.tree.write() = tree;
                self.pending = PendingChanges::new();
                self.ready_zxid = self.tree.read().last_processed_zxid().0;
            }
            None => self.fail_storage("cannot truncate the txn log as the leader asked"),
        }
    }

    fn established(&mut self, epoch: u32) {
        if let Some(since) = self.syncing_since.take() {
            let observer = self.mode_name() == "observer";
            let summary = if observer {
                &self.metrics.observer_sync_time
            } else {
                &self.metrics.follower_sync_time
            };
            summary.add_duration(since.elapsed());
        }
        let Some(peer) = &mut self.peer else {
            return;
        };
        let service = peer.election.clone();
        tokio::spawn(async move { service.update_election_vote(i64::from(epoch)).await });
        let my_id = peer.config.my_id.0 as u8;
        if let Some(l) = peer.leading() {
            self.next_zxid = l.zab.next_zxid().0;
            // Leader.lead ends with setlastProcessedZxid(zk.getZxid()): the new epoch's zero
            // zxid until the first txn, which `srvr` and later votes show, as 3.8's do.
            let mut tree = self.tree.write();
            let epoch_start = Zxid::new(epoch, 0);
            if tree.last_processed_zxid() < epoch_start {
                tree.set_last_processed_zxid(epoch_start);
            }
        }
        // The sessions of the tree, freshly timed, as a new server's tracker starts.
        let now = self.now();
        self.sessions = SessionTracker::new(self.config.tick_ms, my_id, wall_ms());
        let known: Vec<(SessionId, i32)> = self.tree.read().sessions().collect();
        for (id, timeout) in known {
            self.sessions.add(id.0, timeout, now);
        }
        self.pending = PendingChanges::new();
        self.ready_zxid = self.tree.read().last_processed_zxid().0;
        self.serving
            .store(true, std::sync::atomic::Ordering::Release);
        info!(
            epoch,
            role = self.mode_name(),
            zxid = %self.tree.read().last_processed_zxid(),
            "serving clients"
        );
        self.release_held();
    }

    /// Proposes a txn prepared here (leader); false when there is no established leadership.
    pub(crate) fn propose(&mut self, entry: &TxnEntry) -> bool {
        let now = self.now_ms();
        let Some(l) = self.peer.as_mut().and_then(Peer::leading) else {
            return false;
        };
        let proposal = Proposal {
            zxid: entry.header.zxid,
            data: entry.to_bytes(),
        };
        let size = proposal.data.len();
        if let Err(e) = l.zab.propose(now, proposal) {
            warn!(error = %e, "cannot propose");
            self.next_zxid = l.zab.next_zxid().0;
            self.drain_zab();
            return false;
        }
        self.metrics.proposal_count.inc();
        self.proposal_sizes.record(size);
        self.drain_zab();
        true
    }

    /// A committed txn: the leader finalizes its queue up to it; a learner applies it and
    /// answers the local request it belongs to.
    fn apply_committed(&mut self, p: Proposal) {
        if self.leads() {
            self.ready_zxid = p.zxid.0;
            return self.drain_ready();
        }
        let entry = match TxnEntry::read(&mut p.data.clone()) {
            Ok(e) => e,
            Err(e) => {
                return self.go_looking(&format!("cannot decode committed txn {}: {e}", p.zxid));
            }
        };
        if entry.header.zxid <= self.tree.read().last_processed_zxid() {
            return;
        }
        let key = (entry.header.client_id.0, entry.header.cxid);
        let waiting = self.queue.iter().position(|q| {
            matches!(q, Queued::Forwarded { session, cxid, done: None, .. } if (*session, *cxid) == key)
        });
        let origin = waiting.and_then(|i| match &self.queue[i] {
            Queued::Forwarded { origin, .. } => origin.conn(),
            _ => None,
        });
        let result = self.apply_entry(&entry, origin);
        if let TxnBody::CreateSession(t) = &entry.body {
            let now = self.now();
            self.sessions.add(key.0, t.time_out, now);
        }
        if let Some(Queued::Forwarded { done, .. }) = waiting.and_then(|i| self.queue.get_mut(i)) {
            *done = Some(result);
        }
        self.ready_zxid = p.zxid.0;
        self.drain_ready();
    }

    /// A request a learner forwarded: prepped and proposed like a local one, answered by the
    /// learner once committed.
    fn leader_request(&mut self, from: LearnerId, request: ForwardedRequest) {
        let now = self.now();
        let Ok(op) = OpCode::try_from(request.op) else {
            warn!(op = request.op, "a learner forwarded an unknown opcode");
            return;
        };
        if op == OpCode::Sync {
            let now = self.now_ms();
            if let Some(l) = self.peer.as_mut().and_then(Peer::leading) {
                l.zab.sync(now, from);
            }
            return self.drain_zab();
        }
        let sid = request.session_id.0;
        let auth = request.authinfo.as_deref().unwrap_or_default();
        let (entry, error) = if op == OpCode::CreateSession {
            let timeout = request
                .body
                .get(..4)
                .map_or(self.config.min_session_timeout_ms, |b| {
                    i32::from_be_bytes([b[0], b[1], b[2], b[3]])
                });
            self.sessions.add(sid, timeout, now);
            let create = WriteRequest::CreateSession {
                timeout_ms: timeout,
            };
            self.prep_write(sid, request.cxid, Ok(()), &create, auth)
        } else {
            let check = if self.sessions.is_live(sid) {
                Ok(())
            } else {
                Err(ErrorCode::SessionExpired)
            };
            self.prep_client_write(sid, request.cxid, op, &request.body, check, auth)
        };
        self.enqueue_write(entry, error, Origin::Internal);
    }

    fn forward(&mut self, request: ForwardedRequest) {
        if let Some(z) = self.peer.as_mut().and_then(Peer::learner) {
            z.forward_request(&request);
        }
        self.drain_zab();
    }

    /// Learner: a client write goes to the leader and waits for its commit.
    pub(crate) fn forward_write(
        &mut self,
        sid: i64,
        xid: i32,
        op: OpCode,
        body: Bytes,
        auth: &[Id],
        origin: Origin,
    ) {
        self.queue.push_back(Queued::Forwarded {
            session: sid,
            cxid: xid,
            origin,
            done: None,
        });
        self.forward(ForwardedRequest {
            session_id: SessionId(sid),
            cxid: xid,
            op: op.code(),
            body,
            authinfo: Some(auth.to_vec()),
        });
    }

    /// Learner: a new session is created by the leader through the log.
    pub(crate) fn forward_create_session(&mut self, conn: ConnId, sid: i64, timeout: i32) {
        let mut body = BytesMut::with_capacity(4);
        body.put_i32(timeout);
        let auth = self
            .conns
            .get(&conn)
            .map(|c| c.shared.auth())
            .unwrap_or_default();
        self.forward_write(
            sid,
            0,
            OpCode::CreateSession,
            body.freeze(),
            &auth,
            Origin::NewSession {
                conn,
                timeout_ms: timeout,
                permit: None,
            },
        );
    }

    /// Learner: `sync` completes when the leader's SYNC comes back.
    pub(crate) fn forward_sync(
        &mut self,
        conn: ConnId,
        header: RequestHeader,
        body: Bytes,
        permit: Option<OwnedSemaphorePermit>,
        arrived: Instant,
    ) {
        let (sid, auth) = self
            .conns
            .get(&conn)
            .map(|c| (c.session().unwrap_or(0), c.shared.auth()))
            .unwrap_or_default();
        let request = ForwardedRequest {
            session_id: SessionId(sid),
            cxid: header.xid.0,
            op: OpCode::Sync.code(),
            body: body.clone(),
            authinfo: Some(auth.to_vec()),
        };
        self.queue.push_back(Queued::Sync {
            conn,
            header,
            body,
            permit,
            arrived,
            done: false,
        });
        self.forward(request);
    }

    /// Learner: asks the leader whether a reconnecting session is alive.
    pub(crate) fn revalidate(&mut self, conn: ConnId, sid: i64, timeout: i32) {
        self.metrics.revalidate_count.inc();
        if let Some(l) = self.peer.as_mut().and_then(Peer::learning) {
            l.revalidating.entry(sid).or_default().push(conn);
            if let Some(z) = l.zab.as_mut() {
                z.revalidate(SessionId(sid), timeout);
            }
        }
        self.drain_zab();
    }

    /// Learner: session activity for the next PING reply.
    pub(crate) fn learner_touch(&mut self, sid: i64, timeout: i32) {
        if let Some(z) = self.peer.as_mut().and_then(Peer::learner) {
            z.touch(SessionId(sid), timeout);
        }
    }
}

/// The ensemble role as the admin commands and the leader's gauges show it.
impl Core {
    /// `LeaderZooKeeperServer.registerMetrics`' gauges, while this server leads.
    pub(crate) fn leader_gauges(&self) -> Vec<(&'static str, i64)> {
        let Some(peer) = &self.peer else {
            return Vec::new();
        };
        let Role::Leading(l) = &peer.role else {
            return Vec::new();
        };
        let observers = self.synced_observers().len();
        let synced = l.zab.synced_learners().len();
        let uptime = self
            .leading_since
            .map_or(0, |t| t.elapsed().as_millis() as i64);
        vec![
            ("learners", l.links.len() as i64),
            ("synced_followers", (synced - observers) as i64),
            ("synced_observers", observers as i64),
            ("leader_uptime", uptime),
            ("last_proposal_size", self.proposal_sizes.last),
            ("max_proposal_size", self.proposal_sizes.max),
            ("min_proposal_size", self.proposal_sizes.min),
        ]
    }

    /// The ids of the observers that completed sync with this leader.
    pub(crate) fn synced_observers(&self) -> Vec<i64> {
        let Some(peer) = &self.peer else {
            return Vec::new();
        };
        let Role::Leading(l) = &peer.role else {
            return Vec::new();
        };
        let members = peer.config.verifier.members();
        l.zab
            .synced_learners()
            .into_iter()
            .filter(|(id, _)| {
                members
                    .get(id)
                    .is_some_and(|m| m.learner_type == LearnerType::Observer)
            })
            .map(|(id, _)| id.0)
            .collect()
    }

    /// The `leader` command: whether this server leads, the leader's id (-1 while there is
    /// none) and its quorum host; `None` when standalone.
    pub(crate) fn leader_info(&self) -> Option<(bool, i64, String)> {
        let peer = self.peer.as_ref()?;
        let leader = match &peer.role {
            Role::Leading(_) => Some(peer.config.my_id),
            Role::Learning(l) => Some(l.leader),
            Role::Looking => None,
        };
        let host = leader
            .and_then(|id| peer.config.verifier.members().get(&id))
            .map(|m| {
                m.addresses
                    .iter()
                    .map(|(hp, _)| hp.host.clone())
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .unwrap_or_default();
        Some((
            matches!(peer.role, Role::Leading(_)),
            leader.map_or(-1, |id| id.0),
            host,
        ))
    }

    /// `voting_view`: each voting member's addresses, by id.
    pub(crate) fn voting_view(&self) -> serde_json::Value {
        let mut view = serde_json::Map::new();
        if let Some(peer) = &self.peer {
            for (id, m) in peer.config.verifier.members() {
                if m.learner_type != LearnerType::Participant {
                    continue;
                }
                let server: Vec<String> =
                    m.addresses.iter().map(|(hp, _)| hp.to_string()).collect();
                let election: Vec<String> = m
                    .addresses
                    .iter()
                    .map(|(hp, port)| {
                        zk_election::HostPort {
                            host: hp.host.clone(),
                            port: *port,
                        }
                        .to_string()
                    })
                    .collect();
                view.insert(
                    id.0.to_string(),
                    serde_json::json!({
                        "server_addresses": server,
                        "election_addresses": election,
                        "client_address": m.client_address.as_ref().map_or(String::new(), |c| c.to_string()),
                        "learner_type": "participant",
                    }),
                );
            }
        }
        serde_json::Value::Object(view)
    }

    /// `zabstate`: where this member is in the protocol; `voting: false` and an empty state when
    /// standalone.
    pub(crate) fn zab_state(&self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::Value;
        let mut out = serde_json::Map::new();
        let Some(peer) = &self.peer else {
            out.insert("voting".into(), Value::from(false));
            out.insert("zabstate".into(), Value::from(""));
            return out;
        };
        let me = peer.config.verifier.members().get(&peer.config.my_id);
        // `MultipleAddresses` as Jackson writes the bean: this member's own quorum or election
        // addresses (it listens on them, so they are the reachable ones), and their wildcards.
        let address = |election: bool| -> Value {
            let Some(m) = me else {
                return Value::Null;
            };
            let pairs: Vec<zk_election::HostPort> = m
                .addresses
                .iter()
                .map(|(hp, port)| zk_election::HostPort {
                    host: hp.host.clone(),
                    port: if election { *port } else { hp.port },
                })
                .collect();
            let all: Vec<String> = pairs.iter().map(ToString::to_string).collect();
            let one = all.first().cloned().unwrap_or_default();
            serde_json::json!({
                "all_addresses": all,
                "all_host_strings": pairs.iter().map(|p| p.host.clone()).collect::<Vec<_>>(),
                "all_ports": pairs.iter().map(|p| p.port).collect::<Vec<_>>(),
                "all_reachable_addresses": all,
                "all_reachable_addresses_or_all": all,
                "empty": all.is_empty(),
                "one": one,
                "reachable_address": one,
                "reachable_or_one": one,
                "wildcard_addresses": pairs.iter().map(|p| format!("0.0.0.0:{}", p.port)).collect::<Vec<_>>(),
            })
        };
        let client_address = self.bound_client_port.map_or(Value::Null, |port| {
            let ip = self
                .config
                .client_port_address
                .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
            Value::from(std::net::SocketAddr::new(ip, port).to_string())
        });
        let state = match &peer.role {
            Role::Looking => "election",
            Role::Leading(l) if l.zab.is_established() => "broadcast",
            Role::Leading(_) => "discovery",
            Role::Learning(l) => match &l.zab {
                Some(z) if z.is_established() => "broadcast",
                Some(z) if z.sync_mode().is_some() => "synchronization",
                _ => "discovery",
            },
        };
        let zxid = self.last_zxid();
        out.insert("myid".into(), Value::from(peer.config.my_id.0));
        out.insert(
            "is_leader".into(),
            Value::from(matches!(peer.role, Role::Leading(_))),
        );
        out.insert("quorum_address".into(), address(false));
        out.insert("election_address".into(), address(true));
        out.insert("client_address".into(), client_address);
        out.insert(
            "voting".into(),
            Value::from(me.is_some_and(|m| m.learner_type == LearnerType::Participant)),
        );
        out.insert("last_zxid".into(), Value::from(format!("0x{zxid:x}")));
        out.insert("zab_epoch".into(), Value::from(zxid >> 32));
        out.insert("zab_counter".into(), Value::from(zxid & 0xffff_ffff));
        out.insert("zabstate".into(), Value::from(state));
        out
    }
}

async fn accept_learners(
    listener: tokio::net::TcpListener,
    round: u64,
    events: mpsc::UnboundedSender<PeerEvent>,
    max_packet: usize,
) {
    let mut next = 0u64;
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                let _ = events.send(PeerEvent::ListenFailed {
                    round,
                    why: e.to_string(),
                });
                return;
            }
        };
        let Ok(stream) = stream.into_std().and_then(|s| {
            s.set_nonblocking(false)?;
            Ok(s)
        }) else {
            continue;
        };
        next += 1;
        let id = LearnerId(next);
        let link = match Link::new(stream, format!("learner-{next}")) {
            Ok(l) => l,
            Err(e) => {
                warn!(error = %e, "cannot serve a learner connection");
                continue;
            }
        };
        // The core learns of the link before any packet from it.
        let _ = events.send(PeerEvent::LearnerConnected {
            round,
            id,
            link: link.clone(),
        });
        let events = events.clone();
        let started = link.start_reader(None, max_packet, move |inbound| {
            let _ = events.send(PeerEvent::FromLearner { round, id, inbound });
        });
        if let Err(e) = started {
            warn!(error = %e, "cannot read a learner connection");
            link.close();
        }
    }
}

/// `Learner.connectToLeader`: attempts within initLimit for as long as 3.8's five attempts 100 ms
/// apart (`zookeeper.leaderConnectDelayDuringRetryMs`) would try. The first retries come sooner:
/// a follower usually decides a moment before its new leader listens, and a 100 ms wait there
/// would be most of a failover.
fn connect_leader(
    addr: SocketAddr,
    timeout: Duration,
    round: u64,
    events: mpsc::UnboundedSender<PeerEvent>,
    tree_config: zk_datatree::TreeConfig,
    max_packet: usize,
) {
    const RETRY_BUDGET: Duration = Duration::from_millis(400);
    let deadline = Instant::now() + timeout;
    let mut why = String::new();
    let mut delay = Duration::from_millis(5);
    let mut waited = Duration::ZERO;
    for attempt in 1.. {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || waited > RETRY_BUDGET {
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(stream) => {
                let link = match Link::new(stream, "leader".into()) {
                    Ok(l) => l,
                    Err(e) => {
                        why = e.to_string();
                        break;
                    }
                };
                let _ = events.send(PeerEvent::LeaderConnected {
                    round,
                    link: link.clone(),
                });
                let reports = events.clone();
                let started = link.start_reader(Some(tree_config), max_packet, move |inbound| {
                    let _ = reports.send(PeerEvent::FromLeader { round, inbound });
                });
                if let Err(e) = started {
                    link.close();
                    let _ = events.send(PeerEvent::FromLeader {
                        round,
                        inbound: Inbound::Closed(e.to_string()),
                    });
                }
                return;
            }
            Err(e) => {
                debug!(%addr, attempt, error = %e, "cannot connect to the leader yet");
                why = e.to_string();
                let pause = delay.min(left);
                std::thread::sleep(pause);
                waited += pause;
                delay = (delay * 2).min(Duration::from_millis(100));
            }
        }
    }
    let _ = events.send(PeerEvent::LeaderUnreachable { round, why });
}

/// The name of a sync packet, which the leader logs as 3.8 does ("Sending DIFF").
fn sync_kind(packet_type: i32) -> Option<&'static str> {
    use zk_jute::quorum::PacketType;
    match PacketType::try_from(packet_type) {
        Ok(PacketType::Diff) => Some("DIFF"),
        Ok(PacketType::Trunc) => Some("TRUNC"),
        Ok(PacketType::Snap) => Some("SNAP"),
        _ => None,
    }
}
