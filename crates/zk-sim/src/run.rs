//! A seeded run: build the ensemble, run the chaos phase (faults drawn from the seed), heal, and
//! require the ensemble to elect a leader and converge within a bounded simulated time. Every
//! event is checked as it happens; the end checks no acknowledged write was lost and that the
//! register history is linearizable.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use zk_datatree::{
    DataTree, PendingChanges, PrepConfig, RequestContext, SessionCheck, TreeConfig, WatcherId,
    WriteRequest, prep,
};
use zk_election::{Majority, Output as ElectionOutput, QuorumServer, QuorumVerifier};
use zk_jute::proto::{CreateRequest, DeleteRequest, SetDataRequest};
use zk_jute::quorum::{Notification, PacketType, ServerState};
use zk_jute::{Acl, ErrorCode, OpCode, Record, ServerId, SessionId, Zxid};
use zk_zab::{
    ForwardedRequest, Leader, LeaderInit, Learner, LearnerId, LearnerRole, Output, Proposal,
    ZabConfig,
};

use crate::checkers::Checker;
use crate::client::{ClientOp, Outcome, Reply, Workload, key_path};
use crate::disk::Disk;
use crate::net::{Endpoint, Envelope, Net, NetFaults, NetStats, Payload};
use crate::node::{Following, Leading, Node, Role, apply_to, new_election, server_id};
use crate::rng::Rng;

/// The simulated time step.
const STEP_MS: u64 = 5;

/// A deliberately broken protocol variant to run (checker tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Variant {
    #[default]
    Correct,
    #[cfg(feature = "fault-injection")]
    Broken(zk_zab::Fault),
}

/// What a run is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct SimConfig {
    pub seed: u64,
    pub chaos_ms: u64,
    /// How long the healed ensemble may take to elect a leader and converge.
    pub heal_limit_ms: u64,
    pub variant: Variant,
}

impl SimConfig {
    pub fn new(seed: u64) -> Self {
        SimConfig {
            seed,
            chaos_ms: 12_000,
            heal_limit_ms: 30_000,
            variant: Variant::Correct,
        }
    }
}

/// The faults injected in a run, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultStats {
    pub crashes: u64,
    pub txns_lost_in_crashes: u64,
    pub restarts: u64,
    pub power_failures: u64,
    pub partitions_symmetric: u64,
    pub partitions_one_way: u64,
    pub heals: u64,
    pub slow_disks: u64,
    pub skewed_clocks: u64,
    pub client_pauses: u64,
    pub sessions_expired: u64,
}

/// The result of one run.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub seed: u64,
    pub servers: usize,
    pub violation: Option<String>,
    pub end_ms: u64,
    pub faults: FaultStats,
    pub net: NetStats,
    pub committed: usize,
    pub acked_writes: usize,
    pub ops: usize,
    pub unknown_ops: usize,
    pub leaders: usize,
    /// A digest of the run's observable end state (replay must reproduce it).
    pub fingerprint: u64,
}

impl RunReport {
    pub fn passed(&self) -> bool {
        self.violation.is_none()
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {}: {} servers, {} ms, {} txns committed, {} writes acked, {} ops ({} unknown), \
             {} epochs led; faults {:?}; net {:?}",
            self.seed,
            self.servers,
            self.end_ms,
            self.committed,
            self.acked_writes,
            self.ops,
            self.unknown_ops,
            self.leaders,
            self.faults,
            self.net
        )?;
        match &self.violation {
            None => write!(f, ": ok"),
            Some(v) => write!(
                f,
                "\nFAILED (seed {}; replay with ZK_SIM_SEED={}): {v}",
                self.seed, self.seed
            ),
        }
    }
}

/// Runs one seed.
pub fn run(config: SimConfig) -> RunReport {
    let mut world = World::new(config);
    world.run();
    world.report()
}

#[derive(Debug)]
struct World {
    config: SimConfig,
    now: u64,
    rng: Rng,
    net: Net,
    nodes: Vec<Node>,
    verifier: Arc<dyn QuorumVerifier>,
    zab: ZabConfig,
    next_conn: u64,
    /// Link id -> (learner, leader).
    conns: BTreeMap<u64, (usize, usize)>,
    workload: Workload,
    checker: Checker,
    faults: FaultStats,
    chaos: bool,
    heal_started: Option<u64>,
    acked_after_heal: usize,
    /// (from, to) -> the last election notification `from` sent `to`: QuorumCnxManager's
    /// `lastMessageSent`, re-sent when the link comes back.
    last_notification: BTreeMap<(usize, usize), Notification>,
}

impl World {
    fn new(config: SimConfig) -> Self {
        let mut rng = Rng::new(config.seed);
        let n = if rng.chance(300) { 5 } else { 3 };
        let members = (0..n).map(|i| {
            QuorumServer::parse(
                server_id(i),
                &format!("127.0.0.1:{}:{}", 2888 + i, 3888 + i),
                false,
            )
            .expect("valid server line")
        });
        let verifier: Arc<dyn QuorumVerifier> = Arc::new(Majority::new(members, 0));
        let mut zab = ZabConfig::new(server_id(0), 100, 10, 5);
        zab.commit_log_count = rng.range(2, 40) as usize;
        zab.force_snap_sync = rng.chance(100);
        #[cfg(feature = "fault-injection")]
        if let Variant::Broken(fault) = config.variant {
            zab.fault = fault;
        }
        let mut faults = FaultStats::default();
        let nodes = (0..n)
            .map(|index| {
                let slow = rng.chance(350);
                faults.slow_disks += u64::from(slow);
                let skewed = rng.chance(500);
                faults.skewed_clocks += u64::from(skewed);
                let mut node = Node {
                    index,
                    up: true,
                    disk: Disk::default(),
                    applied: Vec::new(),
                    tree: DataTree::new(TreeConfig::default()),
                    election: new_election(index, verifier.clone()),
                    role: Role::Looking,
                    clock_offset_ms: if skewed { rng.range(0, 60_000) } else { 0 },
                    drift_per_mille: if skewed {
                        rng.range(0, 60) as i64 - 30
                    } else {
                        0
                    },
                    disk_latency_ms: if slow {
                        (10, rng.range(30, 250))
                    } else {
                        (1, 3)
                    },
                    replies: BTreeMap::new(),
                    watcher: WatcherId(index as u64 * 1_000_000),
                    last_event_zxid: Zxid(i64::MIN),
                    snapshot_stash: None,
                };
                node.load_from_disk();
                node
            })
            .collect();
        let mut net = Net::new();
        net.faults = NetFaults {
            loss_per_mille: rng.range(0, 60),
            dup_per_mille: rng.range(0, 60),
            min_latency_ms: 1,
            max_latency_ms: rng.range(5, 60),
        };
        let clients = rng.range(2, 4) as usize;
        let max_ops = rng.range(60, 150) as usize;
        World {
            config,
            now: 0,
            rng,
            net,
            nodes,
            verifier,
            zab,
            next_conn: 1,
            conns: BTreeMap::new(),
            workload: Workload::new(clients, max_ops),
            checker: Checker::default(),
            faults,
            chaos: true,
            heal_started: None,
            acked_after_heal: 0,
            last_notification: BTreeMap::new(),
        }
    }

    fn report(&self) -> RunReport {
        let mut fp: u64 = 0xcbf2_9ce4_8422_2325;
        let mut mix = |x: u64| {
            fp ^= x;
            fp = fp.wrapping_mul(0x0100_0000_01b3);
        };
        mix(self.now);
        for (z, h) in &self.checker.committed {
            mix(z.0 as u64);
            mix(*h);
        }
        for r in &self.workload.history {
            mix(r.ret.unwrap_or(0));
        }
        RunReport {
            seed: self.config.seed,
            servers: self.nodes.len(),
            violation: self.checker.violation.clone(),
            end_ms: self.now,
            faults: self.faults,
            net: self.net.stats,
            committed: self.checker.committed.len(),
            acked_writes: self.checker.acked.len(),
            ops: self.workload.history.len(),
            unknown_ops: self
                .workload
                .history
                .iter()
                .filter(|r| matches!(r.outcome, Outcome::Unknown | Outcome::Pending))
                .count(),
            leaders: self.checker.leaders(),
            fingerprint: fp,
        }
    }

    fn failed(&self) -> bool {
        self.checker.violation.is_some()
    }

    fn run(&mut self) {
        for i in 0..self.nodes.len() {
            let local = self.nodes[i].local(self.now);
            let history = self.nodes[i].history();
            self.nodes[i].election.look_for_leader(local, history);
            self.pump(i);
        }
        while self.now < self.config.chaos_ms && !self.failed() {
            self.step();
            self.inject_faults();
        }
        if self.failed() {
            return;
        }
        self.heal();
        let deadline = self.now + self.config.heal_limit_ms;
        while !self.failed() {
            self.step();
            if self.converged() {
                self.final_checks();
                return;
            }
            if self.now >= deadline {
                let state = self.describe();
                self.checker.fail(format!(
                    "liveness: no converged ensemble {} ms after healing: {state}",
                    self.config.heal_limit_ms
                ));
                return;
            }
        }
    }

    fn describe(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let role = match &n.role {
                    Role::Down => "down".to_string(),
                    Role::Looking => "looking".to_string(),
                    Role::Leading(l) => format!(
                        "leading epoch {} established {}",
                        l.core.epoch(),
                        l.established
                    ),
                    Role::Following(f) => {
                        format!("following {} established {}", f.leader + 1, f.established)
                    }
                };
                format!("[{}: {role}, applied {:?}]", n.index + 1, n.last_applied())
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    // ---- the clock ----

    fn step(&mut self) {
        self.now += STEP_MS;
        while let Some(env) = self.net.pop_due(self.now) {
            self.deliver(env);
            if self.failed() {
                return;
            }
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].up {
                self.timers(i);
            }
        }
        self.expire_sessions();
        if self.acked_after_heal > 0 {
            self.workload.max_ops = self.workload.max_ops.min(self.workload.history.len());
        }
        let register_ops = true;
        let n = self.nodes.len();
        let requests = self
            .workload
            .next_requests(self.now, n, &mut self.rng, register_ops);
        for (client, server, op_id, op) in requests {
            let env = Envelope {
                from: Endpoint::Client(client),
                to: Endpoint::Server(server),
                payload: Payload::Request { op_id, op },
            };
            self.net.send(self.now, &mut self.rng, env);
        }
    }

    fn timers(&mut self, i: usize) {
        let local = self.nodes[i].local(self.now);
        if let Some(z) = self.nodes[i].disk.complete_fsync(self.now) {
            match &mut self.nodes[i].role {
                Role::Leading(l) => l.core.handle_logged(local, z),
                Role::Following(f) => {
                    if let Some(c) = f.core.as_mut() {
                        c.handle_logged(local, z);
                    }
                }
                _ => {}
            }
        }
        if self.nodes[i].disk.fsync.is_none()
            && self.nodes[i].disk.log.len() > self.nodes[i].disk.durable
        {
            self.schedule_fsync(i);
        }
        if self.nodes[i]
            .election
            .poll_timeout()
            .is_some_and(|t| t <= local)
        {
            self.nodes[i].election.handle_timeout(local);
        }
        let mut retry = false;
        match &mut self.nodes[i].role {
            Role::Leading(l) if l.core.poll_timeout().is_some_and(|t| t <= local) => {
                l.core.handle_timeout(local);
            }
            Role::Following(f) => {
                if let Some(c) = f.core.as_mut() {
                    if c.poll_timeout().is_some_and(|t| t <= local) {
                        c.handle_timeout(local);
                    }
                } else if f.retry_at.is_some_and(|t| t <= local) {
                    retry = true;
                }
            }
            _ => {}
        }
        if retry {
            self.connect(i);
        }
        self.pump(i);
    }

    fn schedule_fsync(&mut self, i: usize) {
        let (lo, hi) = self.nodes[i].disk_latency_ms;
        let at = self.now + self.rng.range(lo, hi);
        let len = self.nodes[i].disk.log.len();
        self.nodes[i].disk.fsync = Some((at, len));
    }

    // ---- faults ----

    fn inject_faults(&mut self) {
        let n = self.nodes.len();
        // Roughly: a crash every 3 s, a partition change every 2 s, at 5 ms steps.
        if self.rng.chance(2) {
            let i = self.rng.below(n as u64) as usize;
            if self.nodes[i].up {
                self.crash(i);
            }
        }
        // A power failure takes every server down at once.
        if self.rng.below(4_000) == 0 {
            self.faults.power_failures += 1;
            for i in 0..n {
                if self.nodes[i].up {
                    self.crash(i);
                }
            }
        }
        for i in 0..n {
            if !self.nodes[i].up && self.rng.chance(5) {
                self.restart(i);
            }
        }
        if self.rng.chance(3) {
            let a = self.rng.below(n as u64) as usize;
            let b = (a + 1 + self.rng.below(n as u64 - 1) as usize) % n;
            if self.rng.chance(500) {
                self.net.block(a, b);
                self.net.block(b, a);
                self.faults.partitions_symmetric += 1;
            } else {
                self.net.block(a, b);
                self.faults.partitions_one_way += 1;
            }
        }
        if self.net.partitions() > 0 && self.rng.chance(4) {
            let healed = self.net.heal();
            self.faults.heals += 1;
            self.links_back(healed);
        }
        for c in 0..self.workload.clients.len() {
            if self.rng.chance(1) && self.workload.clients[c].paused_until <= self.now {
                self.workload.clients[c].paused_until = self.now + self.rng.range(5_000, 8_000);
                self.faults.client_pauses += 1;
            }
        }
    }

    fn crash(&mut self, i: usize) {
        self.faults.crashes += 1;
        self.last_notification.retain(|&(from, _), _| from != i);
        let node = &mut self.nodes[i];
        node.up = false;
        node.role = Role::Down;
        node.replies.clear();
        node.snapshot_stash = None;
        self.faults.txns_lost_in_crashes += node.disk.crash() as u64;
        self.net.drop_to(i);
        // The OS may or may not tell the peers (RST); otherwise they time out.
        let links: Vec<(u64, usize)> = self
            .conns
            .iter()
            .filter_map(|(&c, &(learner, leader))| {
                if learner == i {
                    Some((c, leader))
                } else if leader == i {
                    Some((c, learner))
                } else {
                    None
                }
            })
            .collect();
        for (conn, peer) in links {
            self.conns.remove(&conn);
            if self.rng.chance(500) {
                self.send(i, peer, Payload::Fin { conn });
            }
        }
        // Some peers' election transports notice (their reconnect is refused), some do not.
        for j in 0..self.nodes.len() {
            if self.nodes[j].up && self.rng.chance(500) {
                self.report_reachability(j);
            }
        }
    }

    /// Tells server `j`'s election which voters its transport cannot reach: the servers that
    /// are down, and now and then a live one by mistake. Elections may decide early on it, which
    /// must never cost safety, however wrong the report.
    fn report_reachability(&mut self, j: usize) {
        let n = self.nodes.len();
        let mut unreachable: BTreeSet<ServerId> = (0..n)
            .filter(|&k| k != j && !self.nodes[k].up)
            .map(server_id)
            .collect();
        if self.rng.chance(100) {
            let wrong = self.rng.below(n as u64) as usize;
            if wrong != j {
                unreachable.insert(server_id(wrong));
            }
        }
        let local = self.nodes[j].local(self.now);
        self.nodes[j].election.set_unreachable(local, unreachable);
        self.pump(j);
    }

    fn restart(&mut self, i: usize) {
        self.faults.restarts += 1;
        let verifier = self.verifier.clone();
        let node = &mut self.nodes[i];
        node.up = true;
        node.load_from_disk();
        node.election = new_election(i, verifier);
        node.role = Role::Looking;
        let applied = node.applied.clone();
        let digest = node.tree.digest();
        self.checker.loaded(i, &applied, digest);
        let local = self.nodes[i].local(self.now);
        let history = self.nodes[i].history();
        self.nodes[i].election.look_for_leader(local, history);
        self.pump(i);
        // Its notifications open election links to every peer, and each peer's SendWorker
        // starts by re-sending the last notification it had for this server.
        let links = (0..self.nodes.len())
            .filter(|&j| j != i)
            .map(|j| (j, i))
            .collect();
        self.links_back(links);
        for j in 0..self.nodes.len() {
            if self.nodes[j].up {
                self.report_reachability(j);
            }
        }
    }

    /// Election links that come back (a partition healed, a peer restarted): QuorumCnxManager's
    /// SendWorker re-sends `lastMessageSent` on a new connection when its queue is empty, so the
    /// last notification on each restored direction arrives after all (and is lost only if the
    /// link is cut again).
    fn links_back(&mut self, links: BTreeSet<(usize, usize)>) {
        for (from, to) in links {
            if !(self.nodes[from].up && self.nodes[to].up) {
                continue;
            }
            if let Some(n) = self.last_notification.get(&(from, to)).cloned() {
                self.send(from, to, Payload::Election(n));
            }
        }
    }

    fn heal(&mut self) {
        self.chaos = false;
        self.heal_started = Some(self.now);
        let healed = self.net.heal();
        self.net.faults = NetFaults::CALM;
        self.links_back(healed);
        for i in 0..self.nodes.len() {
            if !self.nodes[i].up {
                self.restart(i);
            }
        }
        for c in &mut self.workload.clients {
            c.paused_until = 0;
        }
        // Writes go on until one succeeds on the healed ensemble (then the workload stops).
        self.workload.max_ops = usize::MAX;
    }

    fn converged(&self) -> bool {
        let Some(leader) = self
            .nodes
            .iter()
            .position(|n| matches!(&n.role, Role::Leading(l) if l.established))
        else {
            return false;
        };
        let Role::Leading(l) = &self.nodes[leader].role else {
            return false;
        };
        let epoch = l.core.epoch();
        let last = self.nodes[leader].last_applied();
        let digest = self.nodes[leader].tree.digest();
        let all = self.nodes.iter().all(|n| {
            let role_ok = match &n.role {
                Role::Leading(_) => n.index == leader,
                Role::Following(f) => {
                    f.established
                        && f.leader == leader
                        && f.core.as_ref().is_some_and(|c| c.epoch() == Some(epoch))
                }
                _ => false,
            };
            role_ok && n.last_applied() == last && n.tree.digest() == digest
        });
        all && self.workload.idle() && self.acked_after_heal > 0
    }

    fn final_checks(&mut self) {
        for i in 0..self.nodes.len() {
            let applied = std::mem::take(&mut self.nodes[i].applied);
            self.checker.no_acked_write_lost(i, &applied);
            self.nodes[i].applied = applied;
        }
        if let Err(e) = crate::linearizability::check(&self.workload.history) {
            self.checker.fail(format!(
                "the register history of /k{} is not linearizable (ops {:?})",
                e.key, e.op_ids
            ));
        }
    }

    fn expire_sessions(&mut self) {
        for i in 0..self.nodes.len() {
            let local = self.nodes[i].local(self.now);
            let expired: Vec<SessionId> = match &mut self.nodes[i].role {
                Role::Leading(l) if l.established => l
                    .touched
                    .iter()
                    .filter(|(s, (t, timeout))| {
                        local > t + *timeout as u64 && !l.closing.contains(s)
                    })
                    .map(|(s, _)| *s)
                    .collect(),
                _ => continue,
            };
            for s in expired {
                if let Role::Leading(l) = &mut self.nodes[i].role {
                    l.closing.insert(s);
                }
                self.faults.sessions_expired += 1;
                let request = ForwardedRequest {
                    session_id: s,
                    cxid: -2,
                    op: OpCode::CloseSession.code(),
                    body: Bytes::new(),
                    authinfo: None,
                };
                self.submit(i, &request);
            }
            self.pump(i);
        }
    }

    // ---- the network ----

    fn send(&mut self, from: usize, to: usize, payload: Payload) {
        let env = Envelope {
            from: Endpoint::Server(from),
            to: Endpoint::Server(to),
            payload,
        };
        self.net.send(self.now, &mut self.rng, env);
    }

    fn deliver(&mut self, env: Envelope) {
        let i = match env.to {
            Endpoint::Client(c) => {
                if let Payload::Reply { op_id, reply } = env.payload {
                    if let Reply::Done { err: 0, zxid, .. } = reply {
                        let rec = &self.workload.history[op_id as usize];
                        let still_waiting = matches!(rec.outcome, Outcome::Pending);
                        if still_waiting && !matches!(rec.op, ClientOp::CreateSession { .. }) {
                            self.checker.acknowledged(zxid, op_id);
                            if self.heal_started.is_some() {
                                self.acked_after_heal += 1;
                            }
                        }
                    }
                    self.workload.reply(c, op_id, reply);
                }
                return;
            }
            Endpoint::Server(i) => i,
        };
        if !self.nodes[i].up {
            return;
        }
        let local = self.nodes[i].local(self.now);
        match env.payload {
            Payload::Election(n) => {
                let Endpoint::Server(from) = env.from else {
                    return;
                };
                self.nodes[i]
                    .election
                    .handle_notification(local, server_id(from), n);
            }
            Payload::Zab {
                conn,
                packet,
                snapshot,
            } => self.deliver_zab(i, env.from, conn, packet, snapshot),
            Payload::Fin { conn } => self.deliver_fin(i, conn),
            Payload::Request { op_id, op } => {
                let Endpoint::Client(c) = env.from else {
                    return;
                };
                self.client_request(i, c, op_id, op);
            }
            Payload::Reply { .. } => {}
        }
        self.pump(i);
    }

    fn deliver_zab(
        &mut self,
        i: usize,
        from: Endpoint,
        conn: u64,
        packet: zk_jute::quorum::QuorumPacket,
        snapshot: Option<Vec<Proposal>>,
    ) {
        let Endpoint::Server(from) = from else { return };
        let local = self.nodes[i].local(self.now);
        let link = self.conns.get(&conn).copied();
        match &mut self.nodes[i].role {
            Role::Leading(l) if link.is_some_and(|(_, leader)| leader == i) => {
                let _ = l.core.handle_packet(local, LearnerId(conn), packet);
                return;
            }
            Role::Following(f) if f.conn == conn && f.core.is_some() => {
                f.heard = true;
                let core = f.core.as_mut().expect("checked");
                let _ = core.handle_packet(local, packet);
                if snapshot.is_some() {
                    self.nodes[i].snapshot_stash = snapshot;
                }
                return;
            }
            _ => {}
        }
        // Nobody listens on that link here: refuse it.
        self.conns.remove(&conn);
        self.send(i, from, Payload::Fin { conn });
    }

    fn deliver_fin(&mut self, i: usize, conn: u64) {
        let local = self.nodes[i].local(self.now);
        match &mut self.nodes[i].role {
            Role::Leading(l) => l.core.handle_disconnected(local, LearnerId(conn)),
            Role::Following(f) if f.conn == conn => {
                self.conns.remove(&conn);
                if !f.heard && f.attempts < 5 && f.core.is_some() {
                    // Connection refused: Learner.connectToLeader retries.
                    f.core = None;
                    f.retry_at = Some(local + 200);
                } else if let Some(c) = f.core.as_mut() {
                    c.handle_disconnected(local);
                } else {
                    self.become_looking(i);
                }
            }
            _ => {}
        }
    }

    // ---- executing the cores ----

    fn pump(&mut self, i: usize) {
        for _ in 0..100_000 {
            if !self.nodes[i].up || self.failed() {
                return;
            }
            if let Some(out) = self.nodes[i].election.poll_output() {
                self.election_output(i, out);
                continue;
            }
            let out = match &mut self.nodes[i].role {
                Role::Leading(l) => l.core.poll_output(),
                Role::Following(f) => f.core.as_mut().and_then(|c| c.poll_output()),
                _ => None,
            };
            match out {
                Some(out) => self.zab_output(i, out),
                None => return,
            }
        }
        self.checker
            .fail(format!("server {} does not settle (output loop)", i + 1));
    }

    fn election_output(&mut self, i: usize, out: ElectionOutput) {
        match out {
            ElectionOutput::Send { to, notification } => {
                let to = (to.0 - 1) as usize;
                self.last_notification.insert((i, to), notification.clone());
                self.send(i, to, Payload::Election(notification));
            }
            ElectionOutput::Decided { vote, state } => match state {
                ServerState::Leading => self.start_leading(i),
                ServerState::Following => {
                    let leader = (vote.leader.0 - 1) as usize;
                    self.nodes[i].role = Role::Following(Box::new(Following {
                        core: None,
                        conn: 0,
                        leader,
                        heard: false,
                        attempts: 0,
                        retry_at: None,
                        established: false,
                    }));
                    self.connect(i);
                }
                _ => self.become_looking(i),
            },
        }
    }

    fn zab_config(&self, i: usize) -> ZabConfig {
        let mut c = self.zab.clone();
        c.my_id = server_id(i);
        c
    }

    fn start_leading(&mut self, i: usize) {
        let local = self.nodes[i].local(self.now);
        let count = self.zab.commit_log_count;
        let node = &self.nodes[i];
        let committed_log: Vec<Proposal> = node
            .applied
            .iter()
            .rev()
            .take(count)
            .rev()
            .cloned()
            .collect();
        let init = LeaderInit {
            state: node.peer_state(),
            committed_log,
        };
        let core = Leader::new(local, self.zab_config(i), self.verifier.clone(), init);
        self.nodes[i].role = Role::Leading(Box::new(Leading {
            core,
            pending: PendingChanges::new(),
            established: false,
            touched: BTreeMap::new(),
            closing: BTreeSet::new(),
        }));
    }

    /// A follower (re)connects to its leader: a new link and a new learner core.
    fn connect(&mut self, i: usize) {
        let local = self.nodes[i].local(self.now);
        let conn = self.next_conn;
        self.next_conn += 1;
        let config = self.zab_config(i);
        let state = self.nodes[i].peer_state();
        let Role::Following(f) = &mut self.nodes[i].role else {
            return;
        };
        f.conn = conn;
        f.heard = false;
        f.attempts += 1;
        f.retry_at = None;
        f.core = Some(Learner::new(local, config, LearnerRole::Follower, state, 0));
        self.conns.insert(conn, (i, f.leader));
    }

    fn become_looking(&mut self, i: usize) {
        if let Role::Following(f) = &self.nodes[i].role {
            if f.core.is_some() {
                let (conn, leader) = (f.conn, f.leader);
                self.conns.remove(&conn);
                self.send(i, leader, Payload::Fin { conn });
            }
        }
        let node = &mut self.nodes[i];
        // Shutting a role down flushes and fsyncs the log (SyncRequestProcessor.shutdown), so the
        // database reloaded below is durable.
        node.disk.durable = node.disk.log.len();
        node.disk.fsync = None;
        node.role = Role::Looking;
        node.replies.clear();
        node.snapshot_stash = None;
        node.load_from_disk();
        let applied = node.applied.clone();
        let digest = node.tree.digest();
        self.checker.loaded(i, &applied, digest);
        let local = self.nodes[i].local(self.now);
        let history = self.nodes[i].history();
        self.nodes[i].election.look_for_leader(local, history);
    }

    fn zab_output(&mut self, i: usize, out: Output) {
        let local = self.nodes[i].local(self.now);
        match out {
            Output::Send { to, packet } => {
                let Some(&(learner, _)) = self.conns.get(&to.0) else {
                    return;
                };
                let snapshot = (packet.r#type == PacketType::Snap.code())
                    .then(|| self.nodes[i].applied.clone());
                self.send(
                    i,
                    learner,
                    Payload::Zab {
                        conn: to.0,
                        packet,
                        snapshot,
                    },
                );
            }
            Output::SendToLeader(packet) => {
                if let Role::Following(f) = &self.nodes[i].role {
                    let (conn, leader) = (f.conn, f.leader);
                    self.send(
                        i,
                        leader,
                        Payload::Zab {
                            conn,
                            packet,
                            snapshot: None,
                        },
                    );
                }
            }
            Output::Disconnect { learner, .. } => {
                if let Some((peer, _)) = self.conns.remove(&learner.0) {
                    self.send(i, peer, Payload::Fin { conn: learner.0 });
                }
            }
            Output::PersistAcceptedEpoch(e) => self.nodes[i].disk.accepted_epoch = e,
            Output::PersistCurrentEpoch(e) => self.nodes[i].disk.current_epoch = e,
            Output::LogTxn(p) => {
                let last = self.nodes[i].disk.log.last().map(|p| p.zxid);
                self.checker.logged(i, last, p.zxid);
                if self.nodes[i].disk.append(p) {
                    self.schedule_fsync(i);
                }
            }
            Output::Apply(p) => self.apply(i, p),
            Output::Truncate(zxid) => {
                self.nodes[i].disk.truncate_after(zxid);
                self.nodes[i].load_from_disk();
            }
            Output::LoadSnapshot(zxid) => {
                let Some(txns) = self.nodes[i].snapshot_stash.take() else {
                    self.checker
                        .fail(format!("server {}: LoadSnapshot without a snapshot", i + 1));
                    return;
                };
                self.nodes[i].install(txns);
                // The leader's lastProcessedZxid may be its epoch's first zxid, which no txn has.
                if self.nodes[i].last_applied().unwrap_or(Zxid(0)) > zxid {
                    self.checker
                        .fail(format!("server {}: snapshot does not end at {zxid}", i + 1));
                }
                let applied = self.nodes[i].applied.clone();
                let digest = self.nodes[i].tree.digest();
                self.checker.loaded(i, &applied, digest);
            }
            Output::TakeSnapshot => {
                let db = self.nodes[i].applied.clone();
                self.nodes[i].disk.snapshot(&db);
            }
            Output::SendSnapshot { .. } => {} // Sent with the SNAP packet.
            Output::ReadLog { for_learner, from } => {
                let mut entries: Vec<Proposal> = self.nodes[i]
                    .disk
                    .log
                    .iter()
                    .filter(|p| p.zxid >= from)
                    .cloned()
                    .collect();
                if entries.first().is_none_or(|p| p.zxid != from) {
                    entries.clear();
                }
                if let Role::Leading(l) = &mut self.nodes[i].role {
                    l.core.handle_log_read(local, for_learner, entries);
                }
            }
            Output::Established { epoch } => {
                // Leader.lead and Learner.syncWithLeader: updateElectionVote(epoch).
                self.nodes[i]
                    .election
                    .update_election_vote(i64::from(epoch));
                match &mut self.nodes[i].role {
                    Role::Leading(l) => {
                        l.established = true;
                        let sessions: Vec<(SessionId, i32)> =
                            self.nodes[i].tree.sessions().collect();
                        if let Role::Leading(l) = &mut self.nodes[i].role {
                            for (s, t) in sessions {
                                l.touched.insert(s, (local, t));
                            }
                        }
                        self.checker.leader_established(epoch, i);
                    }
                    Role::Following(f) => f.established = true,
                    _ => {}
                }
            }
            Output::StepDown(_) => self.become_looking(i),
            Output::TouchSessions { touches } => {
                if let Role::Leading(l) = &mut self.nodes[i].role {
                    for (s, _) in touches {
                        if let Some(t) = l.touched.get_mut(&s) {
                            t.0 = local;
                        }
                    }
                }
            }
            Output::Request { request, .. } => self.submit(i, &request),
            Output::Revalidate {
                from,
                session,
                zxid,
                ..
            } => {
                if let Role::Leading(l) = &mut self.nodes[i].role {
                    l.core.revalidate_reply(from, zxid, session, true);
                }
            }
            Output::Revalidated { .. } | Output::SyncDone => {}
        }
    }

    fn apply(&mut self, i: usize, p: Proposal) {
        let prev = self.nodes[i].last_applied();
        let applied = apply_to(&mut self.nodes[i].tree, &p);
        let node = &mut self.nodes[i];
        node.applied.push(p.clone());
        let watcher = node.watcher;
        for ev in applied.events.iter().filter(|e| e.watcher == watcher) {
            if ev.zxid != p.zxid || ev.zxid < node.last_event_zxid {
                let text = format!(
                    "server {}: watch event of {} delivered after {} (txn {})",
                    i + 1,
                    ev.zxid,
                    node.last_event_zxid,
                    p.zxid
                );
                self.checker.fail(text);
                return;
            }
            node.last_event_zxid = ev.zxid;
        }
        let digest = node.tree.digest();
        let result = applied.result;
        if let Role::Leading(l) = &mut node.role {
            l.pending.applied(p.zxid);
            if result.r#type == OpCode::CreateSession.code() {
                l.touched
                    .insert(result.client_id, (node.clock_offset_ms + self.now, 4_000));
            } else if result.r#type == OpCode::CloseSession.code() {
                l.touched.remove(&result.client_id);
                l.closing.remove(&result.client_id);
            }
        }
        if let Some((client, op_id)) = node.replies.remove(&(result.client_id, result.cxid)) {
            let version = (result.r#type == OpCode::SetData.code())
                .then(|| result.stat.as_ref().map(|s| s.version))
                .flatten();
            let env = Envelope {
                from: Endpoint::Server(i),
                to: Endpoint::Client(client),
                payload: Payload::Reply {
                    op_id,
                    reply: Reply::Done {
                        err: result.err,
                        version,
                        zxid: p.zxid,
                    },
                },
            };
            self.net.send(self.now, &mut self.rng, env);
        }
        if self.checker.applied(i, prev, &p, digest) {
            for j in 0..self.nodes.len() {
                if j != i {
                    let applied = std::mem::take(&mut self.nodes[j].applied);
                    self.checker.not_skipped(j, &applied, p.zxid);
                    self.nodes[j].applied = applied;
                }
            }
        }
    }

    // ---- clients ----

    fn client_request(&mut self, i: usize, client: usize, op_id: u64, op: ClientOp) {
        if !self.nodes[i].is_serving() {
            let env = Envelope {
                from: Endpoint::Server(i),
                to: Endpoint::Client(client),
                payload: Payload::Reply {
                    op_id,
                    reply: Reply::NotReady,
                },
            };
            self.net.send(self.now, &mut self.rng, env);
            return;
        }
        let request = encode_request(&op);
        let local = self.nodes[i].local(self.now);
        let node = &mut self.nodes[i];
        node.replies
            .insert((op.session(), op.cxid()), (client, op_id));
        match &mut node.role {
            Role::Leading(l) => {
                if let Some(t) = l.touched.get_mut(&op.session()) {
                    t.0 = local;
                }
                self.submit(i, &request);
            }
            Role::Following(f) => {
                if let Some(c) = f.core.as_mut() {
                    c.touch(op.session(), 4_000);
                    c.forward_request(&request);
                }
            }
            _ => {}
        }
    }

    /// The leader's prep and propose for a (local or forwarded) request.
    fn submit(&mut self, i: usize, request: &ForwardedRequest) {
        let local = self.nodes[i].local(self.now);
        let Some(write) = decode_request(request) else {
            return;
        };
        let node = &mut self.nodes[i];
        let live = node.tree.sessions().any(|(s, _)| s == request.session_id);
        let Role::Leading(l) = &mut node.role else {
            return;
        };
        if !l.established {
            return;
        }
        let ok = matches!(write, WriteRequest::CreateSession { .. })
            || (live && !l.closing.contains(&request.session_id))
            || matches!(write, WriteRequest::CloseSession);
        let check = if ok {
            SessionCheck::VALID
        } else {
            SessionCheck {
                session: Err(ErrorCode::SessionExpired),
                global: Err(ErrorCode::SessionExpired),
            }
        };
        let zxid = l.core.next_zxid();
        let ctx = RequestContext {
            session_id: request.session_id,
            cxid: request.cxid,
            zxid,
            time_ms: local as i64,
            auth: &[],
            session: check,
        };
        let prepared = prep(
            &node.tree,
            &mut l.pending,
            &PrepConfig::default(),
            &ctx,
            &write,
        );
        let proposal = Proposal {
            zxid,
            data: prepared.entry.to_bytes(),
        };
        let _ = l.core.propose(local, proposal);
    }
}

fn value_bytes(value: u64) -> Option<Bytes> {
    Some(Bytes::from(format!("v{value}")))
}

/// A client op as the REQUEST a follower forwards (session, cxid, type, request record).
fn encode_request(op: &ClientOp) -> ForwardedRequest {
    let mut body = BytesMut::new();
    let code = match op {
        ClientOp::CreateSession { timeout_ms, .. } => {
            body.put_i32(*timeout_ms);
            OpCode::CreateSession
        }
        ClientOp::Create { key, value, .. } => {
            CreateRequest {
                path: key_path(*key),
                data: value_bytes(*value),
                acl: Acl::open_unsafe(),
                flags: 0,
            }
            .write(&mut body);
            OpCode::Create
        }
        ClientOp::Ephemeral { session, cxid } => {
            CreateRequest {
                path: format!("/e-{:x}-{cxid}", session.0),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 1,
            }
            .write(&mut body);
            OpCode::Create
        }
        ClientOp::Set {
            key,
            value,
            version,
            ..
        } => {
            SetDataRequest {
                path: key_path(*key),
                data: value_bytes(*value),
                version: *version,
            }
            .write(&mut body);
            OpCode::SetData
        }
        ClientOp::Delete { key, version, .. } => {
            DeleteRequest {
                path: key_path(*key),
                version: *version,
            }
            .write(&mut body);
            OpCode::Delete
        }
    };
    ForwardedRequest {
        session_id: op.session(),
        cxid: op.cxid(),
        op: code.code(),
        body: body.freeze(),
        authinfo: None,
    }
}

fn decode_request(r: &ForwardedRequest) -> Option<WriteRequest> {
    let mut body = r.body.clone();
    let op = OpCode::try_from(r.op).ok()?;
    Some(match op {
        OpCode::CreateSession => WriteRequest::CreateSession {
            timeout_ms: i32::read(&mut body).ok()?,
        },
        OpCode::CloseSession => WriteRequest::CloseSession,
        OpCode::Create => WriteRequest::Create {
            op,
            request: CreateRequest::read(&mut body).ok()?,
        },
        OpCode::SetData => WriteRequest::SetData(SetDataRequest::read(&mut body).ok()?),
        OpCode::Delete => WriteRequest::Delete(DeleteRequest::read(&mut body).ok()?),
        _ => return None,
    })
}
