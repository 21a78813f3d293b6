//! One simulated server: its disk, its in-memory database (the applied txns and the DataTree),
//! its election, and the ZAB role it holds. The world (`run`) executes the cores' outputs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use zk_datatree::{DataTree, PendingChanges, TreeConfig, WatcherId};
use zk_election::{Election, History, LearnerType, QuorumVerifier, Timing};
use zk_jute::txn::TxnEntry;
use zk_jute::{AddWatchMode, ServerId, SessionId, Zxid};
use zk_zab::{Leader, Learner, PeerState, Proposal};

use crate::disk::Disk;

/// The established leader's role state.
#[derive(Debug)]
pub struct Leading {
    pub core: Leader,
    pub pending: PendingChanges,
    pub established: bool,
    /// Session -> (last heard, local ms; timeout ms): the leader's session tracker.
    pub touched: BTreeMap<SessionId, (u64, i32)>,
    pub closing: BTreeSet<SessionId>,
}

/// A follower's role state: the link to its leader and its core.
#[derive(Debug)]
pub struct Following {
    pub core: Option<Learner>,
    pub conn: u64,
    pub leader: usize,
    /// Something came from the leader on this link.
    pub heard: bool,
    pub attempts: u32,
    /// A refused connection is retried at this local time (Learner.connectToLeader).
    pub retry_at: Option<u64>,
    pub established: bool,
}

#[derive(Debug)]
pub enum Role {
    Down,
    Looking,
    Leading(Box<Leading>),
    Following(Box<Following>),
}

#[derive(Debug)]
pub struct Node {
    pub index: usize,
    pub up: bool,
    pub disk: Disk,
    /// The database: the txns applied, in order (a snapshot streams these).
    pub applied: Vec<Proposal>,
    pub tree: DataTree,
    pub election: Election,
    pub role: Role,
    /// Clock skew: local = offset + global * (1000 + drift) / 1000.
    pub clock_offset_ms: u64,
    pub drift_per_mille: i64,
    pub disk_latency_ms: (u64, u64),
    /// Requests submitted here, waiting for their txn: (session, cxid) -> (client, op id).
    pub replies: BTreeMap<(SessionId, i32), (usize, u64)>,
    /// The watcher standing for a session connected here, and the zxid of its last event.
    pub watcher: WatcherId,
    pub last_event_zxid: Zxid,
    pub snapshot_stash: Option<Vec<Proposal>>,
}

pub fn server_id(index: usize) -> ServerId {
    ServerId(index as i64 + 1)
}

pub fn new_election(index: usize, verifier: Arc<dyn QuorumVerifier>) -> Election {
    let timing = Timing {
        finalize_wait_ms: 200,
        min_notification_interval_ms: 200,
        max_notification_interval_ms: 1_600,
    };
    Election::new(server_id(index), LearnerType::Participant, verifier, timing)
}

/// Decodes and applies one txn to a tree.
pub fn apply_to(tree: &mut DataTree, p: &Proposal) -> zk_datatree::Applied {
    let entry =
        TxnEntry::read(&mut p.data.clone()).expect("the simulator only logs txns it encoded");
    tree.apply(&entry.header, &entry.body)
}

impl Node {
    pub fn local(&self, now: u64) -> u64 {
        let scaled = now as i64 + now as i64 * self.drift_per_mille / 1000;
        self.clock_offset_ms + scaled as u64
    }

    pub fn last_applied(&self) -> Option<Zxid> {
        self.applied.last().map(|p| p.zxid)
    }

    pub fn peer_state(&self) -> PeerState {
        PeerState {
            accepted_epoch: self.disk.accepted_epoch,
            current_epoch: self.disk.current_epoch,
            last_zxid: self.last_applied().unwrap_or(Zxid(0)),
        }
    }

    pub fn history(&self) -> History {
        History {
            last_logged_zxid: self.last_applied().unwrap_or(Zxid(0)),
            current_epoch: i64::from(self.disk.current_epoch),
        }
    }

    /// Replaces the database with `txns` (load from disk, snapshot from the leader); a new
    /// watcher stands for the sessions that reconnect.
    pub fn install(&mut self, txns: Vec<Proposal>) {
        let mut tree = DataTree::new(TreeConfig::default());
        for p in &txns {
            apply_to(&mut tree, p);
        }
        self.tree = tree;
        self.applied = txns;
        self.watcher = WatcherId(self.watcher.0 + 1);
        self.last_event_zxid = Zxid(i64::MIN);
        self.tree
            .add_watch("/", AddWatchMode::PersistentRecursive, self.watcher);
    }

    /// Reloads from what the log holds (written, synced or not: the page cache survives a role
    /// change, as ZooKeeper reloads its database after leaving a role).
    pub fn load_from_disk(&mut self) {
        let log = self.disk.log.clone();
        self.install(log);
    }

    pub fn is_serving(&self) -> bool {
        match &self.role {
            Role::Leading(l) => l.established,
            Role::Following(f) => f.established,
            _ => false,
        }
    }
}
