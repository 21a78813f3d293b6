//! The simulated network: messages in flight with delivery times, loss, duplication, reordering
//! (random latency) and partitions (symmetric or one-way).
//!
//! Election notifications travel as datagrams: they may be lost, duplicated and reordered. ZAB
//! links model TCP: FIFO per direction and never duplicated; a packet that is lost (or meets a
//! partition) stalls its direction for good, as a dead TCP stream delivers nothing after a gap,
//! and the ends find out by their read timeouts. Client messages may be lost.

use std::collections::{BTreeMap, BTreeSet};

use zk_jute::quorum::{Notification, QuorumPacket};
use zk_zab::Proposal;

use crate::client::{ClientOp, Reply};
use crate::rng::Rng;

/// Who sends or receives a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Endpoint {
    Server(usize),
    Client(usize),
}

/// What travels.
#[derive(Debug, Clone)]
pub enum Payload {
    Election(Notification),
    /// A QuorumPacket on learner link `conn`; a SNAP carries the snapshot streamed after it.
    Zab {
        conn: u64,
        packet: QuorumPacket,
        snapshot: Option<Vec<Proposal>>,
    },
    /// The link `conn` was closed by the sender (FIN/RST).
    Fin {
        conn: u64,
    },
    Request {
        op_id: u64,
        op: ClientOp,
    },
    Reply {
        op_id: u64,
        reply: Reply,
    },
}

#[derive(Debug, Clone)]
pub struct Envelope {
    pub from: Endpoint,
    pub to: Endpoint,
    pub payload: Payload,
}

/// The fault knobs of the network, changed between the chaos and heal phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetFaults {
    pub loss_per_mille: u64,
    pub dup_per_mille: u64,
    pub min_latency_ms: u64,
    pub max_latency_ms: u64,
}

impl NetFaults {
    pub const CALM: NetFaults = NetFaults {
        loss_per_mille: 0,
        dup_per_mille: 0,
        min_latency_ms: 1,
        max_latency_ms: 5,
    };
}

/// Counts of what the network did, for the run report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    pub sent: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub partitioned: u64,
    pub stalled_links: u64,
}

#[derive(Debug)]
pub struct Net {
    queue: BTreeMap<(u64, u64), Envelope>,
    seq: u64,
    /// Directed server pairs that drop everything.
    blocked: BTreeSet<(usize, usize)>,
    /// Last delivery time per ZAB link direction (FIFO).
    link_last: BTreeMap<(u64, usize), u64>,
    /// ZAB link directions that lost a packet and deliver nothing more.
    stalled: BTreeSet<(u64, usize)>,
    pub faults: NetFaults,
    pub stats: NetStats,
}

impl Net {
    pub fn new() -> Self {
        Net {
            queue: BTreeMap::new(),
            seq: 0,
            blocked: BTreeSet::new(),
            link_last: BTreeMap::new(),
            stalled: BTreeSet::new(),
            faults: NetFaults::CALM,
            stats: NetStats::default(),
        }
    }

    pub fn block(&mut self, from: usize, to: usize) {
        self.blocked.insert((from, to));
    }

    /// Ends every partition; returns the (from, to) pairs that were cut.
    pub fn heal(&mut self) -> BTreeSet<(usize, usize)> {
        std::mem::take(&mut self.blocked)
    }

    pub fn partitions(&self) -> usize {
        self.blocked.len()
    }

    fn is_blocked(&self, from: Endpoint, to: Endpoint) -> bool {
        match (from, to) {
            (Endpoint::Server(a), Endpoint::Server(b)) => self.blocked.contains(&(a, b)),
            _ => false,
        }
    }

    fn latency(&self, rng: &mut Rng) -> u64 {
        rng.range(self.faults.min_latency_ms, self.faults.max_latency_ms)
    }

    fn push(&mut self, at: u64, env: Envelope) {
        self.seq += 1;
        self.queue.insert((at, self.seq), env);
    }

    /// Sends a message; the kind decides which faults may hit it.
    pub fn send(&mut self, now: u64, rng: &mut Rng, env: Envelope) {
        self.stats.sent += 1;
        let blocked = self.is_blocked(env.from, env.to);
        match &env.payload {
            Payload::Zab { conn, .. } | Payload::Fin { conn } => {
                let dir = (*conn, sender_index(env.from));
                if self.stalled.contains(&dir) {
                    return;
                }
                let fin = matches!(env.payload, Payload::Fin { .. });
                if blocked || (!fin && rng.chance(self.faults.loss_per_mille / 4)) {
                    self.stats.lost += 1;
                    self.stats.stalled_links += 1;
                    self.stalled.insert(dir);
                    return;
                }
                let at =
                    (now + self.latency(rng)).max(self.link_last.get(&dir).copied().unwrap_or(0));
                self.link_last.insert(dir, at);
                self.push(at, env);
            }
            _ => {
                if blocked {
                    self.stats.partitioned += 1;
                    return;
                }
                if rng.chance(self.faults.loss_per_mille) {
                    self.stats.lost += 1;
                    return;
                }
                if matches!(env.payload, Payload::Election(_))
                    && rng.chance(self.faults.dup_per_mille)
                {
                    self.stats.duplicated += 1;
                    let at = now + self.latency(rng);
                    self.push(at, env.clone());
                }
                let at = now + self.latency(rng);
                self.push(at, env);
            }
        }
    }

    /// The next message due at or before `now`, after the partition check at arrival.
    pub fn pop_due(&mut self, now: u64) -> Option<Envelope> {
        loop {
            let (&key, _) = self.queue.iter().next()?;
            if key.0 > now {
                return None;
            }
            let env = self.queue.remove(&key).expect("present");
            if let Payload::Zab { conn, .. } | Payload::Fin { conn } = &env.payload {
                let dir = (*conn, sender_index(env.from));
                if self.stalled.contains(&dir) {
                    continue;
                }
                if self.is_blocked(env.from, env.to) {
                    self.stats.partitioned += 1;
                    self.stats.stalled_links += 1;
                    self.stalled.insert(dir);
                    continue;
                }
            } else if self.is_blocked(env.from, env.to) {
                self.stats.partitioned += 1;
                continue;
            }
            self.stats.delivered += 1;
            return Some(env);
        }
    }

    /// Drops everything addressed to a crashed server.
    pub fn drop_to(&mut self, server: usize) {
        self.queue
            .retain(|_, env| env.to != Endpoint::Server(server));
    }
}

impl Default for Net {
    fn default() -> Self {
        Net::new()
    }
}

fn sender_index(e: Endpoint) -> usize {
    match e {
        Endpoint::Server(i) => i,
        Endpoint::Client(i) => 1_000_000 + i,
    }
}
