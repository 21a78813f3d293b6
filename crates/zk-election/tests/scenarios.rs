//! Scripted elections: several `Election`s wired by an in-memory network that delivers in FIFO
//! order, with a simulated clock, crashes and partitions.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use zk_election::{
    Election, History, LearnerType, Majority, Output, QuorumServer, QuorumVerifier, Timing, Vote,
};
use zk_jute::quorum::{Notification, ServerState};
use zk_jute::{ServerId, Zxid};

fn server(id: i64, observer: bool) -> QuorumServer {
    let kind = if observer { "observer" } else { "participant" };
    QuorumServer::parse(
        ServerId(id),
        &format!("127.0.0.1:{}:{}:{kind}", 2000 + id, 3000 + id),
        false,
    )
    .unwrap()
}

fn verifier(voters: &[i64], observers: &[i64]) -> Arc<dyn QuorumVerifier> {
    let members = voters
        .iter()
        .map(|id| server(*id, false))
        .chain(observers.iter().map(|id| server(*id, true)));
    Arc::new(Majority::new(members, 0))
}

fn history(epoch: i64, counter: u32) -> History {
    History {
        last_logged_zxid: Zxid::new(epoch as u32, counter),
        current_epoch: epoch,
    }
}

struct Net {
    verifier: Arc<dyn QuorumVerifier>,
    nodes: BTreeMap<ServerId, Election>,
    queue: VecDeque<(ServerId, ServerId, Notification)>,
    now: u64,
    /// Pairs that cannot talk (both directions).
    cut: BTreeSet<(ServerId, ServerId)>,
    decided: BTreeMap<ServerId, (Vote, ServerState)>,
    sent: usize,
}

impl Net {
    fn new(voters: &[i64], observers: &[i64]) -> Self {
        let verifier = verifier(voters, observers);
        let nodes = voters
            .iter()
            .map(|id| (*id, LearnerType::Participant))
            .chain(observers.iter().map(|id| (*id, LearnerType::Observer)))
            .map(|(id, kind)| {
                (
                    ServerId(id),
                    Election::new(ServerId(id), kind, verifier.clone(), Timing::default()),
                )
            })
            .collect();
        Net {
            verifier,
            nodes,
            queue: VecDeque::new(),
            now: 0,
            cut: BTreeSet::new(),
            decided: BTreeMap::new(),
            sent: 0,
        }
    }

    fn start(&mut self, id: i64, history: History) {
        self.decided.remove(&ServerId(id));
        self.nodes
            .get_mut(&ServerId(id))
            .unwrap()
            .look_for_leader(self.now, history);
        self.collect(ServerId(id));
    }

    /// A crashed-and-restarted server: fresh state, then a new round.
    fn restart(&mut self, id: i64, history: History) {
        let kind = if self.verifier.is_voter(ServerId(id)) {
            LearnerType::Participant
        } else {
            LearnerType::Observer
        };
        self.nodes.insert(
            ServerId(id),
            Election::new(ServerId(id), kind, self.verifier.clone(), Timing::default()),
        );
        self.queue.retain(|(_, to, _)| *to != ServerId(id));
        self.start(id, history);
    }

    fn partition(&mut self, a: &[i64], b: &[i64]) {
        for x in a {
            for y in b {
                self.cut.insert((ServerId(*x), ServerId(*y)));
                self.cut.insert((ServerId(*y), ServerId(*x)));
            }
        }
    }

    fn heal(&mut self) {
        self.cut.clear();
    }

    fn collect(&mut self, from: ServerId) {
        let node = self.nodes.get_mut(&from).unwrap();
        while let Some(output) = node.poll_output() {
            match output {
                Output::Send { to, notification } => {
                    self.sent += 1;
                    self.queue.push_back((from, to, notification));
                }
                Output::Decided { vote, state } => {
                    self.decided.insert(from, (vote, state));
                }
            }
        }
    }

    /// Delivers messages and advances time until nothing is left to do or `limit_ms` passes.
    fn run(&mut self, limit_ms: u64) {
        let deadline = self.now + limit_ms;
        let mut delivered = 0;
        loop {
            if let Some((from, to, n)) = self.queue.pop_front() {
                delivered += 1;
                assert!(delivered < 1_000_000, "messages never stop: a reply loop");
                if self.cut.contains(&(from, to)) {
                    continue;
                }
                if let Some(node) = self.nodes.get_mut(&to) {
                    node.handle_notification(self.now, from, n);
                    self.collect(to);
                }
                continue;
            }
            let next = self.nodes.values().filter_map(Election::poll_timeout).min();
            match next {
                Some(at) if at <= deadline => {
                    self.now = self.now.max(at);
                    let ids: Vec<ServerId> = self.nodes.keys().copied().collect();
                    for id in ids {
                        self.nodes.get_mut(&id).unwrap().handle_timeout(self.now);
                        self.collect(id);
                    }
                }
                _ => {
                    self.now = deadline;
                    break;
                }
            }
        }
    }

    /// What server `id`'s transport reports: these voters cannot be reached.
    fn set_unreachable(&mut self, id: i64, unreachable: &[i64]) {
        let ids = unreachable.iter().map(|u| ServerId(*u)).collect();
        let now = self.now;
        self.nodes
            .get_mut(&ServerId(id))
            .unwrap()
            .set_unreachable(now, ids);
        self.collect(ServerId(id));
    }

    fn leader_of(&self, id: i64) -> Option<(i64, ServerState)> {
        self.decided
            .get(&ServerId(id))
            .map(|(vote, state)| (vote.leader.0, *state))
    }
}

fn start_all(net: &mut Net, histories: &[(i64, History)]) {
    for (id, h) in histories {
        net.start(*id, *h);
    }
}

#[test]
fn equal_histories_elect_the_highest_server_id() {
    let mut net = Net::new(&[1, 2, 3], &[]);
    start_all(
        &mut net,
        &[(1, history(1, 5)), (2, history(1, 5)), (3, history(1, 5))],
    );
    net.run(10_000);
    assert_eq!(net.leader_of(3), Some((3, ServerState::Leading)));
    assert_eq!(net.leader_of(1), Some((3, ServerState::Following)));
    assert_eq!(net.leader_of(2), Some((3, ServerState::Following)));
    let vote = net.decided[&ServerId(1)].0;
    assert_eq!(vote.zxid, Zxid::new(1, 5));
    assert_eq!(vote.peer_epoch, 1);
}

#[test]
fn the_longest_history_wins_over_a_higher_id() {
    let mut net = Net::new(&[1, 2, 3], &[]);
    start_all(
        &mut net,
        &[(1, history(1, 9)), (2, history(1, 5)), (3, history(1, 5))],
    );
    net.run(10_000);
    for id in 1..=3 {
        assert_eq!(net.leader_of(id).unwrap().0, 1, "server {id}");
    }
    assert_eq!(net.leader_of(1), Some((1, ServerState::Leading)));
}

#[test]
fn a_higher_epoch_beats_a_higher_zxid() {
    let mut net = Net::new(&[1, 2, 3], &[]);
    start_all(
        &mut net,
        &[
            (1, history(1, 900)),
            (2, history(2, 1)),
            (3, history(1, 900)),
        ],
    );
    net.run(10_000);
    for id in 1..=3 {
        assert_eq!(net.leader_of(id).unwrap().0, 2, "server {id}");
    }
}

#[test]
fn the_decision_waits_for_the_finalize_window_while_a_voter_is_unheard() {
    let mut net = Net::new(&[1, 2, 3], &[]);
    // Server 3 is not running yet, but nothing says it cannot be reached: a quorum agrees at
    // once, and nobody decides before finalizeWait (200 ms) has passed without a better vote.
    start_all(&mut net, &[(1, history(1, 5)), (2, history(1, 5))]);
    net.run(0);
    assert!(net.decided.is_empty());
    net.run(199);
    assert!(net.decided.is_empty());
    net.run(1);
    assert_eq!(net.leader_of(2), Some((2, ServerState::Leading)));
    assert_eq!(net.leader_of(1), Some((2, ServerState::Following)));
}

#[test]
fn a_vote_every_voter_agrees_with_is_decided_without_waiting() {
    let mut net = Net::new(&[1, 2, 3], &[]);
    start_all(
        &mut net,
        &[(1, history(1, 5)), (2, history(1, 5)), (3, history(1, 5))],
    );
    // No voter is left to offer anything better: the finalize window would only add latency.
    net.run(0);
    assert_eq!(net.leader_of(3), Some((3, ServerState::Leading)));
    assert_eq!(net.leader_of(1), Some((3, ServerState::Following)));
    assert_eq!(net.leader_of(2), Some((3, ServerState::Following)));
}

#[test]
fn an_unreachable_voter_is_not_waited_for() {
    let mut net = Net::new(&[1, 2, 3], &[]);
    // The leader (3) was killed: the survivors' transports cannot reach it.
    net.set_unreachable(1, &[3]);
    net.set_unreachable(2, &[3]);
    start_all(&mut net, &[(1, history(1, 5)), (2, history(1, 7))]);
    net.run(0);
    assert_eq!(net.leader_of(2), Some((2, ServerState::Leading)));
    assert_eq!(net.leader_of(1), Some((2, ServerState::Following)));
}

#[test]
fn a_voter_found_unreachable_during_the_window_ends_it() {
    let mut net = Net::new(&[1, 2, 3], &[]);
    start_all(&mut net, &[(1, history(1, 5)), (2, history(1, 5))]);
    net.run(50);
    assert!(net.decided.is_empty());
    net.set_unreachable(1, &[3]);
    assert_eq!(net.leader_of(1), Some((2, ServerState::Following)));
    assert_eq!(
        net.leader_of(2),
        None,
        "server 2 still hopes to hear from 3"
    );
    net.run(150);
    assert_eq!(net.leader_of(2), Some((2, ServerState::Leading)));
}

#[test]
fn an_unreachable_voter_does_not_excuse_a_silent_reachable_one() {
    let mut net = Net::new(&[1, 2, 3, 4, 5], &[]);
    // 5 is down, 4 is reachable but has not voted yet: 1, 2 and 3 agree and still wait for 4.
    for id in 1..=3 {
        net.set_unreachable(id, &[5]);
    }
    start_all(
        &mut net,
        &[(1, history(1, 5)), (2, history(1, 5)), (3, history(1, 5))],
    );
    net.run(199);
    assert!(net.decided.is_empty());
    net.run(1);
    assert_eq!(net.leader_of(3), Some((3, ServerState::Leading)));
}

#[test]
fn a_better_vote_inside_the_finalize_window_changes_the_outcome() {
    let mut net = Net::new(&[1, 2, 3], &[]);
    start_all(&mut net, &[(1, history(1, 5)), (2, history(1, 5))]);
    net.run(100);
    assert!(
        net.decided.is_empty(),
        "servers 1 and 2 are still in their finalize window"
    );
    net.start(3, history(4, 1));
    net.run(10_000);
    for id in 1..=3 {
        assert_eq!(net.leader_of(id).unwrap().0, 3, "server {id}");
    }
}

#[test]
fn a_higher_epoch_arriving_after_the_decision_follows_the_established_leader() {
    let mut net = Net::new(&[1, 2, 3], &[]);
    start_all(&mut net, &[(1, history(1, 5)), (2, history(1, 5))]);
    net.run(10_000);
    assert_eq!(net.leader_of(2), Some((2, ServerState::Leading)));
    assert_eq!(net.leader_of(1), Some((2, ServerState::Following)));
    // Server 3 has a newer history, but a quorum already follows 2: it joins them.
    net.start(3, history(4, 1));
    net.run(10_000);
    assert_eq!(net.leader_of(3), Some((2, ServerState::Following)));
    assert_eq!(
        net.leader_of(2),
        Some((2, ServerState::Leading)),
        "no new election"
    );
}

#[test]
fn a_restarted_follower_rejoins_without_a_new_election() {
    let mut net = Net::new(&[1, 2, 3, 4, 5], &[]);
    for id in 1..=5 {
        net.start(id, history(1, 7));
    }
    net.run(10_000);
    assert_eq!(net.leader_of(5), Some((5, ServerState::Leading)));
    let leader_clock = net.nodes[&ServerId(5)].logical_clock();
    net.restart(2, history(1, 7));
    net.run(10_000);
    assert_eq!(net.leader_of(2), Some((5, ServerState::Following)));
    assert_eq!(net.nodes[&ServerId(5)].logical_clock(), leader_clock);
    assert_eq!(
        net.nodes[&ServerId(2)].logical_clock(),
        leader_clock,
        "adopted the leader's round"
    );
}

/// zk-sim seed 92: the leader decided in a round on epoch 3, a follower that reconnected without
/// an election still stands by its vote on epoch 2, and both are established in epoch 4. With
/// `update_election_vote` (as Leader.lead and Learner.syncWithLeader call it) a restarted server
/// sees a quorum agree on the leader; without it the votes differ and it stays LOOKING.
#[test]
fn a_restarted_server_joins_members_that_decided_in_different_rounds() {
    let mut net = Net::new(&[1, 2, 3], &[]);
    for id in 1..=3 {
        net.start(id, history(2, 5));
    }
    net.run(10_000);
    assert_eq!(net.leader_of(2), Some((3, ServerState::Following)));
    // 1 and 3 elect 3 again on epoch 3; 2 keeps following (it reconnected to 3 by itself).
    net.restart(3, history(3, 1));
    net.restart(1, history(3, 1));
    net.run(10_000);
    assert_eq!(net.leader_of(3), Some((3, ServerState::Leading)));
    assert_eq!(net.leader_of(1), Some((3, ServerState::Following)));
    assert_eq!(net.nodes[&ServerId(2)].current_vote().peer_epoch, 2);
    // ZAB establishes epoch 4 with all three.
    for id in 1..=3 {
        net.nodes
            .get_mut(&ServerId(id))
            .unwrap()
            .update_election_vote(4);
    }
    net.restart(1, history(4, 1));
    net.run(10_000);
    assert_eq!(net.leader_of(1), Some((3, ServerState::Following)));
}

#[test]
fn a_stale_logical_clock_catches_up() {
    let mut net = Net::new(&[1, 2, 3], &[]);
    // Server 3 lost several rounds on its own.
    for _ in 0..4 {
        net.start(3, history(1, 2));
    }
    assert_eq!(net.nodes[&ServerId(3)].logical_clock(), 4);
    net.queue.clear();
    start_all(&mut net, &[(1, history(1, 2)), (2, history(1, 2))]);
    net.run(10_000);
    for id in 1..=3 {
        assert_eq!(net.leader_of(id).unwrap().0, 3, "server {id}");
        assert_eq!(
            net.decided[&ServerId(id)].0.election_epoch,
            4,
            "server {id}"
        );
    }
}

#[test]
fn a_minority_never_decides_and_a_healed_partition_elects_one_leader() {
    let mut net = Net::new(&[1, 2, 3, 4], &[]);
    net.partition(&[1, 2], &[3, 4]);
    for id in 1..=4 {
        net.start(id, history(1, 3));
    }
    net.run(5_000);
    assert!(
        net.decided.is_empty(),
        "2 of 4 is no quorum: {:?}",
        net.decided
    );
    net.heal();
    net.run(120_000);
    let leaders: BTreeSet<i64> = (1..=4)
        .map(|id| net.leader_of(id).expect("decided").0)
        .collect();
    assert_eq!(leaders, BTreeSet::from([4]));
}

#[test]
fn an_observer_learns_the_leader_but_never_counts() {
    let mut net = Net::new(&[1, 2, 3], &[4]);
    net.start(3, history(1, 1));
    net.start(4, history(1, 9));
    net.run(5_000);
    assert!(
        net.decided.is_empty(),
        "one voter and an observer are no quorum"
    );
    net.start(2, history(1, 1));
    net.run(10_000);
    assert_eq!(net.leader_of(3), Some((3, ServerState::Leading)));
    assert_eq!(net.leader_of(2), Some((3, ServerState::Following)));
    assert_eq!(net.leader_of(4), Some((3, ServerState::Observing)));
    // The observer's longer history did not make it a candidate.
    assert!(net.nodes[&ServerId(4)].proposal().leader != ServerId(4));
}

#[test]
fn the_wait_between_resends_doubles_up_to_the_maximum() {
    let mut net = Net::new(&[1, 2, 3], &[]);
    net.partition(&[1], &[2, 3]);
    net.start(1, history(1, 1));
    let mut waits = Vec::new();
    let mut last = net.now;
    for _ in 0..12 {
        let at = net.nodes[&ServerId(1)].poll_timeout().unwrap();
        waits.push(at - last);
        last = at;
        net.now = at;
        net.nodes.get_mut(&ServerId(1)).unwrap().handle_timeout(at);
        net.collect(ServerId(1));
        net.queue.clear();
    }
    assert_eq!(
        waits,
        [
            200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000, 60000
        ]
    );
}

#[test]
fn notifications_carry_the_config_text() {
    let mut net = Net::new(&[1, 2, 3], &[]);
    net.start(1, history(1, 1));
    let (_, to, n) = net.queue.front().cloned().unwrap();
    assert_eq!(to, ServerId(2));
    assert_eq!(n.version, 2);
    assert_eq!(
        std::str::from_utf8(n.config.as_ref().unwrap()).unwrap(),
        "server.1=127.0.0.1:2001:3001:participant\n\
         server.2=127.0.0.1:2002:3002:participant\n\
         server.3=127.0.0.1:2003:3003:participant\n\
         version=0"
    );
    // And they survive the wire.
    assert_eq!(Notification::decode(&n.to_bytes()).unwrap(), n);
}

#[test]
fn a_leading_server_answers_looking_peers_with_its_vote() {
    let mut net = Net::new(&[1, 2, 3], &[]);
    start_all(
        &mut net,
        &[(1, history(1, 5)), (2, history(1, 5)), (3, history(1, 5))],
    );
    net.run(10_000);
    net.queue.clear();
    let probe = Notification {
        state: ServerState::Looking.code(),
        leader: ServerId(1),
        zxid: Zxid(0),
        election_epoch: 1,
        peer_epoch: 0,
        version: 2,
        config: None,
    };
    let leader = net.nodes.get_mut(&ServerId(3)).unwrap();
    leader.handle_notification(net.now, ServerId(1), probe.clone());
    match leader.poll_output() {
        Some(Output::Send { to, notification }) => {
            assert_eq!(to, ServerId(1));
            assert_eq!(notification.state, ServerState::Leading.code());
            assert_eq!(notification.leader, ServerId(3));
        }
        other => panic!("expected a reply, got {other:?}"),
    }
    // A following server answers too; a non-looking sender gets no answer.
    let follower = net.nodes.get_mut(&ServerId(2)).unwrap();
    follower.handle_notification(net.now, ServerId(1), probe.clone());
    assert!(matches!(follower.poll_output(), Some(Output::Send { .. })));
    let mut quiet = probe;
    quiet.state = ServerState::Following.code();
    follower.handle_notification(net.now, ServerId(1), quiet);
    assert_eq!(follower.poll_output(), None);
}

/// The leader dies and server 2 notices first: its vote reaches server 1 while 1 still follows.
/// Server 1 counts it when its own round starts, so both decide one finalize wait (200 ms) into
/// the round, instead of after a notification timeout (200 ms) for 2 to send it again as well.
#[test]
fn a_vote_heard_just_before_this_server_looks_counts_in_its_round() {
    let mut net = Net::new(&[1, 2, 3], &[]);
    start_all(
        &mut net,
        &[(1, history(1, 5)), (2, history(1, 5)), (3, history(1, 5))],
    );
    net.run(10_000);
    assert_eq!(net.leader_of(3), Some((3, ServerState::Leading)));
    net.nodes.remove(&ServerId(3));
    net.start(2, history(1, 9));
    net.run(0);
    assert!(net.decided.contains_key(&ServerId(1)), "1 still follows 3");
    net.start(1, history(1, 9));
    net.run(200);
    assert_eq!(net.leader_of(1), Some((2, ServerState::Following)));
    assert_eq!(net.leader_of(2), Some((2, ServerState::Leading)));
}
