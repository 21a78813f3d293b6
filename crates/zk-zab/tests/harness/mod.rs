//! An in-memory ensemble for scenario tests: one core per server, a FIFO network, a simulated
//! clock and a "disk" per server (epoch files, a txn log with a durable prefix, the applied txns).

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use zk_election::{Majority, QuorumServer, QuorumVerifier};
use zk_jute::quorum::{PacketType, QuorumPacket};
use zk_jute::txn::TxnHeader;
use zk_jute::{Record, ServerId, SessionId, Zxid};
use zk_zab::{
    Leader, LeaderInit, Learner, LearnerId, LearnerRole, Output, PeerState, Proposal, ZabConfig,
};

pub const TICK_MS: u64 = 100;

pub fn z(epoch: u32, counter: u32) -> Zxid {
    Zxid::new(epoch, counter)
}

/// A txn whose data is a real TxnHeader (setData) plus a marker body.
pub fn txn(zxid: Zxid) -> Proposal {
    let mut data = BytesMut::new();
    TxnHeader {
        client_id: SessionId(1),
        cxid: zxid.counter() as i32,
        zxid,
        time: 0,
        r#type: 5,
    }
    .write(&mut data);
    data.put_slice(format!("txn {zxid}").as_bytes());
    Proposal {
        zxid,
        data: data.freeze(),
    }
}

#[derive(Debug, Default, Clone)]
pub struct Disk {
    pub accepted: u32,
    pub current: u32,
    pub log: Vec<Proposal>,
    pub durable: usize,
    /// The in-memory database: txns applied, in order.
    pub db: Vec<Proposal>,
    pub snapshots: usize,
}

impl Disk {
    pub fn with_log(epoch: u32, zxids: &[Zxid]) -> Disk {
        let log: Vec<Proposal> = zxids.iter().map(|&z| txn(z)).collect();
        Disk {
            accepted: epoch,
            current: epoch,
            durable: log.len(),
            db: log.clone(),
            log,
            snapshots: 0,
        }
    }

    pub fn log_zxids(&self) -> Vec<Zxid> {
        self.log.iter().map(|p| p.zxid).collect()
    }

    pub fn db_zxids(&self) -> Vec<Zxid> {
        self.db.iter().map(|p| p.zxid).collect()
    }

    fn state(&self) -> PeerState {
        PeerState {
            accepted_epoch: self.accepted,
            current_epoch: self.current,
            last_zxid: self.db.last().map_or(Zxid(0), |p| p.zxid),
        }
    }
}

#[derive(Debug)]
pub enum Node {
    Leader(Leader),
    Learner(Learner),
    Down,
}

#[derive(Debug)]
pub struct Server {
    pub disk: Disk,
    pub node: Node,
    /// Fsync every LogTxn at once; otherwise wait for `Cluster::fsync`.
    pub auto_fsync: bool,
    /// Every output the core emitted, in order.
    pub events: Vec<Output>,
    /// Packets this server received, in order.
    pub received: Vec<QuorumPacket>,
}

#[derive(Debug)]
enum Msg {
    ToLeader { from: u64, packet: QuorumPacket },
    ToLearner { to: u64, packet: QuorumPacket },
    Snapshot { to: u64, db: Vec<Proposal> },
}

#[derive(Debug)]
pub struct Cluster {
    pub now: u64,
    pub servers: BTreeMap<u64, Server>,
    pub leader: Option<u64>,
    net: VecDeque<Msg>,
    /// Servers whose links drop everything (partitioned, or frozen).
    pub cut: BTreeSet<u64>,
    /// Servers that send but whose inbound messages are lost.
    pub deaf: BTreeSet<u64>,
    pub verifier: Arc<dyn QuorumVerifier>,
    pub commit_log_count: usize,
}

impl Cluster {
    /// Voters `1..=voters`, observers after them; every disk empty.
    pub fn new(voters: u64, observers: u64) -> Cluster {
        let members = (1..=voters + observers).map(|id| {
            let kind = if id > voters { ":observer" } else { "" };
            let text = format!("127.0.0.1:{}:{}{kind}", 2880 + id, 3880 + id);
            QuorumServer::parse(ServerId(id as i64), &text, false).unwrap()
        });
        let verifier: Arc<dyn QuorumVerifier> = Arc::new(Majority::new(members, 0));
        let servers = (1..=voters + observers)
            .map(|id| {
                (
                    id,
                    Server {
                        disk: Disk::default(),
                        node: Node::Down,
                        auto_fsync: true,
                        events: Vec::new(),
                        received: Vec::new(),
                    },
                )
            })
            .collect();
        Cluster {
            now: 1_000,
            servers,
            leader: None,
            net: VecDeque::new(),
            cut: BTreeSet::new(),
            deaf: BTreeSet::new(),
            verifier,
            commit_log_count: 500,
        }
    }

    pub fn config(&self, id: u64) -> ZabConfig {
        let mut c = ZabConfig::new(ServerId(id as i64), TICK_MS, 10, 5);
        c.commit_log_count = self.commit_log_count;
        c
    }

    pub fn server(&self, id: u64) -> &Server {
        &self.servers[&id]
    }

    pub fn disk(&self, id: u64) -> &Disk {
        &self.servers[&id].disk
    }

    pub fn leader_core(&mut self) -> &mut Leader {
        let id = self.leader.expect("a leader");
        match &mut self.servers.get_mut(&id).unwrap().node {
            Node::Leader(l) => l,
            _ => panic!("server {id} is not leading"),
        }
    }

    pub fn learner_core(&mut self, id: u64) -> &mut Learner {
        match &mut self.servers.get_mut(&id).unwrap().node {
            Node::Learner(l) => l,
            _ => panic!("server {id} is not a learner"),
        }
    }

    pub fn start_leader(&mut self, id: u64) {
        let config = self.config(id);
        let verifier = self.verifier.clone();
        let now = self.now;
        let count = self.commit_log_count;
        let s = self.servers.get_mut(&id).unwrap();
        let committed: Vec<Proposal> = s.disk.db.iter().rev().take(count).rev().cloned().collect();
        let init = LeaderInit {
            state: s.disk.state(),
            committed_log: committed,
        };
        s.node = Node::Leader(Leader::new(now, config, verifier, init));
        self.leader = Some(id);
        self.pump();
    }

    pub fn start_learner(&mut self, id: u64) {
        let role = if self.verifier.is_voter(ServerId(id as i64)) {
            LearnerRole::Follower
        } else {
            LearnerRole::Observer
        };
        let config = self.config(id);
        let now = self.now;
        let s = self.servers.get_mut(&id).unwrap();
        s.node = Node::Learner(Learner::new(now, config, role, s.disk.state(), 0));
        self.pump();
    }

    /// The server dies: what was not fsynced is lost, and on restart the whole log is loaded.
    pub fn crash(&mut self, id: u64) {
        let s = self.servers.get_mut(&id).unwrap();
        let was_learner = matches!(s.node, Node::Learner(_));
        s.node = Node::Down;
        s.disk.log.truncate(s.disk.durable);
        s.disk.db = s.disk.log.clone();
        self.net.retain(|m| match m {
            Msg::ToLeader { from, .. } => *from != id,
            Msg::ToLearner { to, .. } | Msg::Snapshot { to, .. } => *to != id,
        });
        if self.leader == Some(id) {
            self.leader = None;
        } else if was_learner {
            self.leader_disconnected(id);
        }
        self.pump();
    }

    fn leader_disconnected(&mut self, learner: u64) {
        let now = self.now;
        if let Some(l) = self.leader {
            if let Node::Leader(core) = &mut self.servers.get_mut(&l).unwrap().node {
                core.handle_disconnected(now, LearnerId(learner));
            }
        }
    }

    /// Makes everything a server logged durable.
    pub fn fsync(&mut self, id: u64) {
        let now = self.now;
        let s = self.servers.get_mut(&id).unwrap();
        s.disk.durable = s.disk.log.len();
        if let Some(last) = s.disk.log.last().map(|p| p.zxid) {
            match &mut s.node {
                Node::Leader(l) => l.handle_logged(now, last),
                Node::Learner(l) => l.handle_logged(now, last),
                Node::Down => {}
            }
        }
        self.pump();
    }

    /// Delivers messages and executes commands until nothing moves.
    pub fn pump(&mut self) {
        for _ in 0..100_000 {
            let mut moved = false;
            let ids: Vec<u64> = self.servers.keys().copied().collect();
            for id in ids {
                moved |= self.drain(id);
            }
            if let Some(msg) = self.net.pop_front() {
                self.deliver(msg);
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("the ensemble does not settle");
    }

    /// Advances the clock in half-tick steps, firing timers and pumping in between.
    pub fn advance(&mut self, ms: u64) {
        let end = self.now + ms;
        while self.now < end {
            self.now = (self.now + TICK_MS / 2).min(end);
            let now = self.now;
            for s in self.servers.values_mut() {
                match &mut s.node {
                    Node::Leader(l) if l.poll_timeout().is_some_and(|t| t <= now) => {
                        l.handle_timeout(now)
                    }
                    Node::Learner(l) if l.poll_timeout().is_some_and(|t| t <= now) => {
                        l.handle_timeout(now)
                    }
                    _ => {}
                }
            }
            self.pump();
        }
    }

    fn deliver(&mut self, msg: Msg) {
        let now = self.now;
        match msg {
            Msg::ToLeader { from, packet } => {
                let Some(l) = self.leader else { return };
                if self.cut.contains(&from) || self.cut.contains(&l) || self.deaf.contains(&l) {
                    return;
                }
                let s = self.servers.get_mut(&l).unwrap();
                s.received.push(packet.clone());
                if let Node::Leader(core) = &mut s.node {
                    let _ = core.handle_packet(now, LearnerId(from), packet);
                }
            }
            Msg::ToLearner { to, packet } => {
                if self.cut.contains(&to)
                    || self.deaf.contains(&to)
                    || self.leader.is_some_and(|l| self.cut.contains(&l))
                {
                    return;
                }
                let stash = if packet.r#type == PacketType::Snap.code() {
                    match self.net.pop_front() {
                        Some(Msg::Snapshot { to: t, db }) if t == to => Some(db),
                        other => panic!("SNAP not followed by its snapshot: {other:?}"),
                    }
                } else {
                    None
                };
                let s = self.servers.get_mut(&to).unwrap();
                s.received.push(packet.clone());
                if let Node::Learner(core) = &mut s.node {
                    let _ = core.handle_packet(now, packet);
                    if let Some(db) = stash {
                        // The driver read the stream; LoadSnapshot (drained next) installs it.
                        s.disk.db = db;
                    }
                }
            }
            Msg::Snapshot { .. } => panic!("a snapshot without its SNAP"),
        }
    }

    /// Executes one server's pending commands; whether there were any.
    fn drain(&mut self, id: u64) -> bool {
        let now = self.now;
        let mut any = false;
        loop {
            let s = self.servers.get_mut(&id).unwrap();
            let out = match &mut s.node {
                Node::Leader(l) => l.poll_output(),
                Node::Learner(l) => l.poll_output(),
                Node::Down => None,
            };
            let Some(out) = out else { return any };
            any = true;
            s.events.push(out.clone());
            let mut logged = None;
            match out {
                Output::Send { to, packet } => {
                    self.net.push_back(Msg::ToLearner { to: to.0, packet })
                }
                Output::SendToLeader(packet) => {
                    self.net.push_back(Msg::ToLeader { from: id, packet })
                }
                Output::Disconnect { learner, .. } => {
                    if let Some(Server {
                        node: Node::Learner(core),
                        ..
                    }) = self.servers.get_mut(&learner.0)
                    {
                        core.handle_disconnected(now);
                    }
                }
                Output::PersistAcceptedEpoch(e) => s.disk.accepted = e,
                Output::PersistCurrentEpoch(e) => s.disk.current = e,
                Output::LogTxn(p) => {
                    s.disk.log.push(p.clone());
                    if s.auto_fsync {
                        s.disk.durable = s.disk.log.len();
                        logged = Some(p.zxid);
                    }
                }
                Output::Apply(p) => s.disk.db.push(p),
                Output::Truncate(zxid) => {
                    s.disk.log.retain(|p| p.zxid <= zxid);
                    s.disk.durable = s.disk.durable.min(s.disk.log.len());
                    s.disk.db = s.disk.log.clone();
                }
                Output::LoadSnapshot(_) => {
                    // Installed by `deliver`; the log now starts from the snapshot.
                    s.disk.log = s.disk.db.clone();
                    s.disk.durable = s.disk.log.len();
                }
                Output::TakeSnapshot => s.disk.snapshots += 1,
                Output::SendSnapshot { to, .. } => {
                    let db = s.disk.db.clone();
                    self.net.push_back(Msg::Snapshot { to: to.0, db });
                }
                Output::ReadLog { for_learner, from } => {
                    // FileTxnSnapLog.readTxnLog: the log must hold `from` itself.
                    let mut entries: Vec<Proposal> = s
                        .disk
                        .log
                        .iter()
                        .filter(|p| p.zxid >= from)
                        .cloned()
                        .collect();
                    if entries.first().is_none_or(|p| p.zxid != from) {
                        entries.clear();
                    }
                    if let Node::Leader(l) = &mut s.node {
                        l.handle_log_read(now, for_learner, entries);
                    }
                }
                Output::Request { from, request } if request.op == 9 => {
                    if let Node::Leader(l) = &mut s.node {
                        l.sync(now, from);
                    }
                }
                Output::Revalidate {
                    from,
                    session,
                    zxid,
                    ..
                } => {
                    if let Node::Leader(l) = &mut s.node {
                        l.revalidate_reply(from, zxid, session, session.0 % 2 == 1);
                    }
                }
                Output::StepDown(_) => {
                    if self.leader == Some(id) {
                        self.leader = None;
                    } else {
                        self.leader_disconnected(id);
                    }
                }
                _ => {}
            }
            if let Some(zxid) = logged {
                let s = self.servers.get_mut(&id).unwrap();
                match &mut s.node {
                    Node::Leader(l) => l.handle_logged(now, zxid),
                    Node::Learner(l) => l.handle_logged(now, zxid),
                    Node::Down => {}
                }
            }
        }
    }

    /// Proposes the leader's next txn.
    pub fn propose(&mut self) -> Zxid {
        let now = self.now;
        let leader = self.leader_core();
        let zxid = leader.next_zxid();
        leader.propose(now, txn(zxid)).unwrap();
        self.pump();
        zxid
    }

    /// The packet types server `id` received, in order.
    pub fn received_types(&self, id: u64) -> Vec<i32> {
        self.servers[&id]
            .received
            .iter()
            .map(|p| p.r#type)
            .collect()
    }

    pub fn step_downs(&self, id: u64) -> Vec<zk_zab::StepDownReason> {
        self.servers[&id]
            .events
            .iter()
            .filter_map(|e| match e {
                Output::StepDown(r) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn established(&self, id: u64) -> Vec<u32> {
        self.servers[&id]
            .events
            .iter()
            .filter_map(|e| match e {
                Output::Established { epoch } => Some(*epoch),
                _ => None,
            })
            .collect()
    }
}
