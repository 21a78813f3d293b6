//! Votes and the order that decides between them.

use zk_jute::quorum::{Notification, ServerState};
use zk_jute::{ServerId, Zxid};

/// A server's proposal for leader, as notifications carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Vote {
    /// Notification format version of the sender (0 for pre-3.4.6 peers).
    pub version: i32,
    pub leader: ServerId,
    pub zxid: Zxid,
    /// The round (logical clock) in which the vote was cast.
    pub election_epoch: i64,
    /// The epoch of the proposed leader.
    pub peer_epoch: i64,
    pub state: ServerState,
}

impl Vote {
    /// The vote a notification carries, from a sender in `state`.
    pub fn from_notification(n: &Notification, state: ServerState) -> Vote {
        Vote {
            version: n.version,
            leader: n.leader,
            zxid: n.zxid,
            election_epoch: n.election_epoch,
            peer_epoch: n.peer_epoch,
            state,
        }
    }

    /// Whether two votes count as the same vote when tallying, as `Vote.equals` decides: all of
    /// leader, zxid, round and epoch while either is LOOKING; otherwise (servers out of election)
    /// only the leader and its epoch, and only the leader across format versions.
    pub fn agrees_with(&self, other: &Vote) -> bool {
        if self.state == ServerState::Looking || other.state == ServerState::Looking {
            self.leader == other.leader
                && self.zxid == other.zxid
                && self.election_epoch == other.election_epoch
                && self.peer_epoch == other.peer_epoch
        } else if (self.version > 0) != (other.version > 0) {
            self.leader == other.leader
        } else {
            self.leader == other.leader && self.peer_epoch == other.peer_epoch
        }
    }
}

/// The proposal part of a vote: who, with what history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Proposal {
    pub leader: ServerId,
    pub zxid: Zxid,
    pub epoch: i64,
}

impl Proposal {
    /// `totalOrderPredicate`: whether `self` beats `current`, ordering by (epoch, zxid, server id).
    /// A candidate of weight 0 never wins.
    pub fn beats(&self, current: &Proposal, candidate_weight: u64) -> bool {
        candidate_weight > 0
            && (self.epoch, self.zxid.0, self.leader.0)
                > (current.epoch, current.zxid.0, current.leader.0)
    }
}
