//! FastLeaderElection (`lookForLeader` and its receiver) as a state machine.
//!
//! Drive it with [`Election::look_for_leader`], [`Election::handle_notification`] and
//! [`Election::handle_timeout`], all given the current time in milliseconds; then drain
//! [`Election::poll_output`]. [`Election::poll_timeout`] says when to call `handle_timeout`.
//! Notifications to this server itself are looped back inside, as QuorumCnxManager does.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use zk_jute::quorum::{Notification, ServerState};
use zk_jute::{ServerId, Zxid};

use crate::config::LearnerType;
use crate::verifier::QuorumVerifier;
use crate::vote::{Proposal, Vote};

/// The timing of an election, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long a vote that has a quorum waits for a better one (`finalizeWait`).
    pub finalize_wait_ms: u64,
    /// The first wait for notifications before re-sending ours (`minNotificationInterval`).
    pub min_notification_interval_ms: u64,
    /// The cap of the doubling wait (`maxNotificationInterval`).
    pub max_notification_interval_ms: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            finalize_wait_ms: 200,
            min_notification_interval_ms: 200,
            max_notification_interval_ms: 60_000,
        }
    }
}

/// What the election asks of its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send a notification to a peer.
    Send {
        to: ServerId,
        notification: Notification,
    },
    /// The election is over: this server now has `state` and follows (or is) `vote.leader`.
    Decided { vote: Vote, state: ServerState },
}

/// What this server knows of its own history when an election starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct History {
    pub last_logged_zxid: Zxid,
    pub current_epoch: i64,
}

#[derive(Debug)]
struct Looking {
    recvset: BTreeMap<ServerId, Vote>,
    outofelection: BTreeMap<ServerId, Vote>,
    notification_wait_ms: u64,
    /// When the next notification-less timeout fires.
    timeout_at: u64,
    /// Set while a quorum agrees with our proposal and we wait for anything better.
    finalize_at: Option<u64>,
}

/// One server's FastLeaderElection.
#[derive(Debug)]
pub struct Election {
    my_id: ServerId,
    learner_type: LearnerType,
    verifier: Arc<dyn QuorumVerifier>,
    timing: Timing,
    logical_clock: i64,
    proposal: Proposal,
    history: History,
    state: ServerState,
    /// The vote this server stands by when not looking (what it answers to LOOKING peers).
    current_vote: Vote,
    looking: Option<Looking>,
    /// The latest vote of each LOOKING peer heard while this server was not looking. Peers that
    /// lose the leader notice it at slightly different times; Java drops the vote of the first
    /// one to start a round if it reaches the others just before they start theirs, and the
    /// round then waits a notification timeout for it to be sent again. Replayed when this
    /// server starts looking, as if the network had delivered it a moment later.
    deferred: BTreeMap<ServerId, Notification>,
    /// Voters the transport cannot reach now (their last connection attempt failed): no vote
    /// can come from them, so waiting for one is pointless.
    unreachable: BTreeSet<ServerId>,
    loopback: VecDeque<Notification>,
    outputs: VecDeque<Output>,
}

impl Election {
    pub fn new(
        my_id: ServerId,
        learner_type: LearnerType,
        verifier: Arc<dyn QuorumVerifier>,
        timing: Timing,
    ) -> Self {
        let proposal = Proposal {
            leader: my_id,
            zxid: Zxid(-1),
            epoch: -1,
        };
        Election {
            my_id,
            learner_type,
            verifier,
            timing,
            logical_clock: 0,
            proposal,
            history: History {
                last_logged_zxid: Zxid(-1),
                current_epoch: -1,
            },
            state: ServerState::Looking,
            current_vote: Vote {
                version: Notification::CURRENT_VERSION,
                leader: my_id,
                zxid: Zxid(-1),
                election_epoch: 0,
                peer_epoch: -1,
                state: ServerState::Looking,
            },
            looking: None,
            deferred: BTreeMap::new(),
            unreachable: BTreeSet::new(),
            loopback: VecDeque::new(),
            outputs: VecDeque::new(),
        }
    }

    pub fn state(&self) -> ServerState {
        self.state
    }

    pub fn logical_clock(&self) -> i64 {
        self.logical_clock
    }

    /// The vote this server currently stands by.
    pub fn current_vote(&self) -> Vote {
        self.current_vote
    }

    /// The proposal this server sends while looking.
    pub fn proposal(&self) -> Proposal {
        self.proposal
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When `handle_timeout` must next be called, while looking.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.looking
            .as_ref()
            .map(|l| l.finalize_at.unwrap_or(l.timeout_at))
    }

    /// Leaves the election role (the server stepped down from leading or lost its leader) without
    /// starting a round yet: LOOKING peers are answered with the proposal from now on.
    pub fn set_state(&mut self, state: ServerState) {
        self.state = state;
        self.current_vote.state = state;
    }

    /// `QuorumPeer.updateElectionVote` (ZOOKEEPER-1732): once a leader or learner is established
    /// in `peer_epoch`, the vote it answers LOOKING peers with names that epoch. Votes out of
    /// election count alike only with equal epochs, and the members of one ensemble may have
    /// decided in different rounds (a follower that reconnected to its re-elected leader without
    /// an election) or on the previous epoch; without this a restarted server never sees a
    /// quorum agree and stays LOOKING.
    pub fn update_election_vote(&mut self, peer_epoch: i64) {
        self.current_vote.peer_epoch = peer_epoch;
    }

    fn init_proposal(&self) -> Proposal {
        let voter = self.verifier.is_voter(self.my_id);
        let participant = self.learner_type == LearnerType::Participant;
        Proposal {
            leader: if voter {
                self.my_id
            } else {
                ServerId(i64::MIN)
            },
            zxid: if participant {
                self.history.last_logged_zxid
            } else {
                Zxid(i64::MIN)
            },
            epoch: if participant {
                self.history.current_epoch
            } else {
                i64::MIN
            },
        }
    }

    /// Starts a new round: bumps the logical clock, votes for this server and tells every voter.
    pub fn look_for_leader(&mut self, now: u64, history: History) {
        self.history = history;
        self.state = ServerState::Looking;
        self.logical_clock += 1;
        self.proposal = self.init_proposal();
        self.looking = Some(Looking {
            recvset: BTreeMap::new(),
            outofelection: BTreeMap::new(),
            notification_wait_ms: self.timing.min_notification_interval_ms,
            timeout_at: now + self.timing.min_notification_interval_ms,
            finalize_at: None,
        });
        self.send_notifications();
        self.drain_loopback(now);
        for (from, notification) in std::mem::take(&mut self.deferred) {
            self.receive(now, from, notification);
            self.drain_loopback(now);
        }
    }

    /// The transport reports which voters it cannot reach now. A round waiting to finalize
    /// decides at once when every other voter has agreed or is unreachable.
    pub fn set_unreachable(&mut self, now: u64, unreachable: BTreeSet<ServerId>) {
        self.unreachable = unreachable;
        self.decide_if_settled();
        self.drain_loopback(now);
    }

    /// The peer `from` sent `notification`.
    pub fn handle_notification(&mut self, now: u64, from: ServerId, notification: Notification) {
        self.receive(now, from, notification);
        self.drain_loopback(now);
    }

    /// Time passed: re-send when no notification came in time, or decide after the finalize wait.
    pub fn handle_timeout(&mut self, now: u64) {
        let Some(looking) = self.looking.as_mut() else {
            return;
        };
        if let Some(finalize_at) = looking.finalize_at {
            if now >= finalize_at {
                self.decide(self.proposal, self.logical_clock);
            }
        } else if now >= looking.timeout_at {
            looking.notification_wait_ms =
                (looking.notification_wait_ms * 2).min(self.timing.max_notification_interval_ms);
            looking.timeout_at = now + looking.notification_wait_ms;
            self.send_notifications();
        }
        self.drain_loopback(now);
    }

    fn config_bytes(&self) -> Bytes {
        Bytes::from(self.verifier.config_text())
    }

    fn notification(
        &self,
        vote: Proposal,
        election_epoch: i64,
        state: ServerState,
    ) -> Notification {
        Notification {
            state: state.code(),
            leader: vote.leader,
            zxid: vote.zxid,
            election_epoch,
            peer_epoch: vote.epoch,
            version: Notification::CURRENT_VERSION,
            config: Some(self.config_bytes()),
        }
    }

    fn send(&mut self, to: ServerId, notification: Notification) {
        if to == self.my_id {
            self.loopback.push_back(notification);
        } else {
            self.outputs.push_back(Output::Send { to, notification });
        }
    }

    fn send_notifications(&mut self) {
        let notification =
            self.notification(self.proposal, self.logical_clock, ServerState::Looking);
        for voter in self.verifier.voters() {
            self.send(voter, notification.clone());
        }
    }

    fn drain_loopback(&mut self, now: u64) {
        while let Some(notification) = self.loopback.pop_front() {
            self.receive(now, self.my_id, notification);
        }
    }

    fn current_as_proposal(&self) -> Proposal {
        Proposal {
            leader: self.current_vote.leader,
            zxid: self.current_vote.zxid,
            epoch: self.current_vote.peer_epoch,
        }
    }

    /// `WorkerReceiver`: answers peers that need an answer, and hands the rest to the round.
    fn receive(&mut self, now: u64, from: ServerId, n: Notification) {
        let Ok(state) = ServerState::try_from(n.state) else {
            return;
        };
        if self.state == ServerState::Looking && self.looking.is_none() {
            // Not started: a Java peer has no receiver before its first round either.
            return;
        }
        if !self.verifier.is_voter(from) {
            let reply =
                self.notification(self.current_as_proposal(), self.logical_clock, self.state);
            self.send(from, reply);
            return;
        }
        if self.state == ServerState::Looking {
            if state == ServerState::Looking && n.election_epoch < self.logical_clock {
                let reply =
                    self.notification(self.proposal, self.logical_clock, ServerState::Looking);
                self.send(from, reply);
            }
            self.look(now, from, state, n);
        } else if state == ServerState::Looking {
            let reply = self.notification(
                self.current_as_proposal(),
                self.current_vote.election_epoch,
                self.state,
            );
            self.send(from, reply);
            self.deferred.insert(from, n);
        }
    }

    /// One turn of `lookForLeader`'s loop for a received notification.
    fn look(&mut self, now: u64, from: ServerId, state: ServerState, n: Notification) {
        let Some(looking) = self.looking.as_mut() else {
            return;
        };
        let offered = Proposal {
            leader: n.leader,
            zxid: n.zxid,
            epoch: n.peer_epoch,
        };
        let weight = self.verifier.weight(n.leader);
        if let Some(finalize_at) = looking.finalize_at.as_mut() {
            // Waiting to finalize: anything not better is consumed; something better reopens the round.
            if !offered.beats(&self.proposal, weight) {
                *finalize_at = now + self.timing.finalize_wait_ms;
                if state == ServerState::Looking
                    && n.election_epoch == self.logical_clock
                    && self.verifier.is_voter(from)
                {
                    looking
                        .recvset
                        .insert(from, Vote::from_notification(&n, state));
                    self.decide_if_settled();
                }
                return;
            }
            looking.finalize_at = None;
        }
        looking.timeout_at = now + looking.notification_wait_ms;
        if !(self.verifier.is_voter(from) && self.verifier.is_voter(n.leader)) {
            return;
        }
        match state {
            ServerState::Looking => self.looking_notification(now, from, offered, n),
            ServerState::Observing => {}
            ServerState::Following | ServerState::Leading => {
                self.following_or_leading_notification(from, state, n)
            }
        }
    }

    fn looking_notification(
        &mut self,
        now: u64,
        from: ServerId,
        offered: Proposal,
        n: Notification,
    ) {
        if self.init_proposal().zxid == Zxid(-1) || n.zxid == Zxid(-1) {
            return;
        }
        let weight = self.verifier.weight(n.leader);
        if n.election_epoch > self.logical_clock {
            self.logical_clock = n.election_epoch;
            self.looking.as_mut().expect("looking").recvset.clear();
            let init = self.init_proposal();
            self.proposal = if offered.beats(&init, weight) {
                offered
            } else {
                init
            };
            self.send_notifications();
        } else if n.election_epoch < self.logical_clock {
            return;
        } else if offered.beats(&self.proposal, weight) {
            self.proposal = offered;
            self.send_notifications();
        }
        let ours = self.our_looking_vote();
        let looking = self.looking.as_mut().expect("looking");
        looking
            .recvset
            .insert(from, Vote::from_notification(&n, ServerState::Looking));
        if has_quorum(self.verifier.as_ref(), &looking.recvset, &ours) {
            looking.finalize_at = Some(now + self.timing.finalize_wait_ms);
            self.decide_if_settled();
        }
    }

    /// Our proposal as a LOOKING vote of the current round, to tally against.
    fn our_looking_vote(&self) -> Vote {
        Vote {
            version: 0,
            leader: self.proposal.leader,
            zxid: self.proposal.zxid,
            election_epoch: self.logical_clock,
            peer_epoch: self.proposal.epoch,
            state: ServerState::Looking,
        }
    }

    /// The finalize wait (`finalizeWait`) gives a voter that has not been heard a chance to
    /// offer a better vote. When every voter has agreed with our proposal, or cannot be reached,
    /// none can come: decide now instead of 200 ms later. A leader killed under load is the
    /// common case: its followers agree at once and would otherwise wait the full window.
    fn decide_if_settled(&mut self) {
        let Some(looking) = self.looking.as_ref() else {
            return;
        };
        if looking.finalize_at.is_none() {
            return;
        }
        let ours = self.our_looking_vote();
        let settled = self.verifier.voters().into_iter().all(|voter| {
            self.unreachable.contains(&voter)
                || looking
                    .recvset
                    .get(&voter)
                    .is_some_and(|vote| ours.agrees_with(vote))
        });
        if settled {
            self.decide(self.proposal, self.logical_clock);
        }
    }

    fn following_or_leading_notification(
        &mut self,
        from: ServerId,
        state: ServerState,
        n: Notification,
    ) {
        let vote = Vote::from_notification(&n, state);
        let looking = self.looking.as_mut().expect("looking");
        if n.election_epoch == self.logical_clock {
            looking.recvset.insert(from, vote);
            let recvset = looking.recvset.clone();
            if has_quorum(self.verifier.as_ref(), &recvset, &vote)
                && self.check_leader(&recvset, n.leader, n.election_epoch)
            {
                let proposal = Proposal {
                    leader: n.leader,
                    zxid: n.zxid,
                    epoch: n.peer_epoch,
                };
                self.decide(proposal, n.election_epoch);
                return;
            }
        }
        let looking = self.looking.as_mut().expect("looking");
        looking.outofelection.insert(from, vote);
        let outofelection = looking.outofelection.clone();
        if has_quorum(self.verifier.as_ref(), &outofelection, &vote)
            && self.check_leader(&outofelection, n.leader, n.election_epoch)
        {
            self.logical_clock = n.election_epoch;
            let proposal = Proposal {
                leader: n.leader,
                zxid: n.zxid,
                epoch: n.peer_epoch,
            };
            self.decide(proposal, n.election_epoch);
        }
    }

    /// `checkLeader`: a leader other than us must be known to lead; if it is us, the round must be ours.
    fn check_leader(
        &self,
        votes: &BTreeMap<ServerId, Vote>,
        leader: ServerId,
        election_epoch: i64,
    ) -> bool {
        if leader != self.my_id {
            votes
                .get(&leader)
                .is_some_and(|v| v.state == ServerState::Leading)
        } else {
            self.logical_clock == election_epoch
        }
    }

    fn decide(&mut self, proposal: Proposal, election_epoch: i64) {
        let state = if proposal.leader == self.my_id {
            ServerState::Leading
        } else if self.learner_type == LearnerType::Participant {
            ServerState::Following
        } else {
            ServerState::Observing
        };
        self.proposal = proposal;
        self.state = state;
        self.current_vote = Vote {
            version: Notification::CURRENT_VERSION,
            leader: proposal.leader,
            zxid: proposal.zxid,
            election_epoch,
            peer_epoch: proposal.epoch,
            state,
        };
        self.looking = None;
        self.loopback.clear();
        self.outputs.push_back(Output::Decided {
            vote: self.current_vote,
            state,
        });
    }
}

/// Whether the voters whose vote agrees with `vote` form a quorum (`SyncedLearnerTracker`).
fn has_quorum(
    verifier: &dyn QuorumVerifier,
    votes: &BTreeMap<ServerId, Vote>,
    vote: &Vote,
) -> bool {
    let acks: BTreeSet<ServerId> = votes
        .iter()
        .filter(|(id, v)| verifier.is_voter(**id) && vote.agrees_with(v))
        .map(|(id, _)| *id)
        .collect();
    verifier.contains_quorum(&acks)
}
