//! Scenario tests of the ZAB cores wired together in memory: establishment, each sync kind, each
//! crash point, broadcast, observers, liveness, forwarding, SYNC and REVALIDATE.

mod harness;

use harness::{Cluster, Disk, z};
use zk_jute::quorum::PacketType;
use zk_jute::{SessionId, Zxid};
use zk_zab::{ForwardedRequest, Output, StepDownReason, SyncMode};

const LEADERINFO: i32 = 17;
const DIFF: i32 = 13;
const TRUNC: i32 = 14;
const SNAP: i32 = 15;
const NEWLEADER: i32 = 10;
const UPTODATE: i32 = 12;
const PROPOSAL: i32 = 2;
const COMMIT: i32 = 4;
const INFORM: i32 = 8;
const ACK: i32 = 3;

/// Leader 1 and followers 2, 3 from the given disks, established.
fn established(disks: [Disk; 3]) -> Cluster {
    let mut c = Cluster::new(3, 0);
    for (i, d) in disks.into_iter().enumerate() {
        c.servers.get_mut(&(i as u64 + 1)).unwrap().disk = d;
    }
    c.start_leader(1);
    c.start_learner(2);
    c.start_learner(3);
    c
}

fn sync_mode(c: &Cluster, id: u64) -> Option<SyncMode> {
    // The latest sync of this server.
    let types = c.received_types(id);
    types.iter().rev().find_map(|t| match *t {
        DIFF => Some(SyncMode::Diff),
        TRUNC => Some(SyncMode::Trunc),
        SNAP => Some(SyncMode::Snap),
        _ => None,
    })
}

#[test]
fn fresh_ensemble_establishes_epoch_one_with_empty_diffs() {
    let mut c = Cluster::new(3, 0);
    c.start_leader(1);
    // Alone, the leader waits for a quorum: no epoch is chosen yet.
    assert_eq!(c.disk(1).accepted, 0);
    c.start_learner(2);
    assert_eq!(
        c.established(1),
        [1],
        "leader + one follower is a quorum of 3"
    );
    c.start_learner(3);
    for id in 1..=3 {
        assert_eq!(
            (c.disk(id).accepted, c.disk(id).current),
            (1, 1),
            "server {id}"
        );
    }
    assert_eq!(c.established(2), [1]);
    assert_eq!(c.established(3), [1]);
    assert_eq!(c.received_types(2), [LEADERINFO, DIFF, NEWLEADER, UPTODATE]);
    assert_eq!(
        c.server(2).received[1].zxid,
        Zxid(0),
        "empty DIFF at the peer's zxid"
    );
    // A late joiner at zxid 0 meets a leader at 1<<32 with no history to diff: SNAP, as 3.8.
    assert_eq!(c.received_types(3), [LEADERINFO, SNAP, NEWLEADER, UPTODATE]);
    assert_eq!(c.server(3).received[1].zxid, z(1, 0));
    // The NEWLEADER config text carries version = newEpoch << 32.
    let nl = &c.server(2).received[2];
    assert_eq!(nl.zxid, z(1, 0));
    assert!(String::from_utf8_lossy(nl.data.as_ref().unwrap()).ends_with("version=100000000"));
    // The first zxid of the new epoch.
    assert_eq!(c.leader_core().next_zxid(), z(1, 1));
}

#[test]
fn broadcast_commits_in_zxid_order_once_a_quorum_logged() {
    let mut c = established(Default::default());
    // Nobody's log is durable until told: no commit without a quorum of durable logs.
    for id in 1..=3 {
        c.servers.get_mut(&id).unwrap().auto_fsync = false;
    }
    let a = c.propose();
    let b = c.propose();
    assert_eq!(c.leader_core().last_committed(), z(1, 0));
    c.fsync(1);
    assert_eq!(
        c.leader_core().last_committed(),
        z(1, 0),
        "the leader alone is no quorum"
    );
    assert!(!c.received_types(2).contains(&ACK), "leader got no ACK yet");
    assert!(
        c.server(1)
            .received
            .iter()
            .all(|p| p.r#type != ACK || p.zxid.counter() == 0)
    );
    c.fsync(3);
    assert_eq!(c.leader_core().last_committed(), b);
    for id in 1..=3 {
        c.fsync(id);
    }
    for id in 1..=3 {
        assert_eq!(c.disk(id).log_zxids(), [a, b], "log of {id}");
        assert_eq!(c.disk(id).db_zxids(), [a, b], "applied on {id}");
    }
    // COMMITs reach followers in zxid order.
    let commits: Vec<Zxid> = c
        .server(2)
        .received
        .iter()
        .filter(|p| p.r#type == COMMIT)
        .map(|p| p.zxid)
        .collect();
    assert_eq!(commits, [a, b]);
}

#[test]
fn acks_out_of_order_still_commit_in_zxid_order() {
    let mut c = established(Default::default());
    for id in 1..=3 {
        c.servers.get_mut(&id).unwrap().auto_fsync = false;
    }
    let a = c.propose();
    let b = c.propose();
    c.fsync(1);
    // A forged ACK for b alone from server 2 must not commit b before a.
    let now = c.now;
    c.leader_core()
        .handle_packet(
            now,
            zk_zab::LearnerId(2),
            zk_zab::op_packet(PacketType::Ack, b),
        )
        .unwrap();
    c.pump();
    assert_eq!(c.leader_core().last_committed(), z(1, 0));
    c.leader_core()
        .handle_packet(
            now,
            zk_zab::LearnerId(2),
            zk_zab::op_packet(PacketType::Ack, a),
        )
        .unwrap();
    c.pump();
    assert_eq!(c.leader_core().last_committed(), b);
    let applied: Vec<Zxid> = c
        .server(1)
        .events
        .iter()
        .filter_map(|e| match e {
            Output::Apply(p) => Some(p.zxid),
            _ => None,
        })
        .collect();
    assert_eq!(applied, [a, b]);
}

#[test]
fn observer_learns_by_inform_and_never_acks_proposals() {
    let mut c = Cluster::new(3, 1);
    c.start_leader(1);
    c.start_learner(4);
    assert!(
        c.established(1).is_empty(),
        "an observer is not part of the quorum"
    );
    c.start_learner(2);
    assert_eq!(c.established(1), [1]);
    assert_eq!(c.established(4), [1]);
    let a = c.propose();
    assert_eq!(c.disk(4).db_zxids(), [a]);
    assert_eq!(c.disk(4).log_zxids(), [a]);
    let types = c.received_types(4);
    assert!(types.contains(&INFORM));
    assert!(!types.contains(&PROPOSAL) && !types.contains(&COMMIT));
    // The observer's only ACKs are for NEWLEADER and UPTODATE (counter 0).
    let acks: Vec<Zxid> = c
        .server(1)
        .received
        .iter()
        .filter(|p| p.r#type == ACK)
        .map(|p| p.zxid)
        .collect();
    assert!(acks.contains(&a), "follower 2 acked the proposal");
    let observer_events = &c.server(4).events;
    assert!(observer_events.iter().all(
        |e| !matches!(e, Output::SendToLeader(p) if p.r#type == ACK && p.zxid.counter() != 0)
    ));
}

#[test]
fn diff_with_proposals_for_a_follower_that_was_down() {
    let mut c = Cluster::new(3, 0);
    c.start_leader(1);
    c.start_learner(2);
    c.start_learner(3);
    let mut zs = vec![c.propose()];
    c.crash(3);
    zs.extend((0..3).map(|_| c.propose()));
    let snapshots = c.disk(3).snapshots;
    let seen = c.server(3).received.len();
    c.start_learner(3);
    assert_eq!(sync_mode(&c, 3), Some(SyncMode::Diff));
    let types = c.received_types(3)[seen..].to_vec();
    assert_eq!(
        types,
        [
            LEADERINFO, DIFF, PROPOSAL, COMMIT, PROPOSAL, COMMIT, PROPOSAL, COMMIT, NEWLEADER,
            UPTODATE
        ]
    );
    assert_eq!(c.disk(3).log_zxids(), zs);
    assert_eq!(c.disk(3).db_zxids(), zs);
    assert_eq!(c.disk(3).snapshots, snapshots, "DIFF needs no snapshot");
    // And it takes part in broadcast afterwards.
    let d = c.propose();
    assert_eq!(c.disk(3).db_zxids().last(), Some(&d));
}

#[test]
fn follower_logs_and_persists_its_epoch_before_acking_newleader() {
    let mut c = Cluster::new(3, 0);
    c.start_leader(1);
    c.start_learner(2);
    c.start_learner(3);
    let first = c.propose();
    c.crash(3);
    let a = c.propose();
    c.servers.get_mut(&3).unwrap().auto_fsync = false;
    let seen = c.server(3).events.len();
    c.start_learner(3);
    assert_eq!(sync_mode(&c, 3), Some(SyncMode::Diff));
    // The DIFF proposal is logged at NEWLEADER but not durable: no ACK for NEWLEADER yet.
    assert_eq!(c.disk(3).log_zxids(), [first, a]);
    assert_eq!(c.disk(3).current, 1);
    let acks_to_leader = |c: &Cluster| -> Vec<Zxid> {
        c.server(3).events[seen..]
            .iter()
            .filter_map(|e| match e {
                Output::SendToLeader(p) if p.r#type == ACK => Some(p.zxid),
                _ => None,
            })
            .collect()
    };
    assert!(acks_to_leader(&c).is_empty());
    let persisted = |c: &Cluster| {
        c.server(3).events[seen..]
            .iter()
            .position(|e| matches!(e, Output::PersistCurrentEpoch(1)))
    };
    assert_eq!(
        persisted(&c),
        None,
        "currentEpoch waits for the synced txns to be durable (ZOOKEEPER-4643)"
    );
    c.fsync(3);
    let events = &c.server(3).events[seen..];
    let persist = persisted(&c).unwrap();
    let ack = events
        .iter()
        .position(|e| matches!(e, Output::SendToLeader(p) if p.r#type == ACK))
        .unwrap();
    assert!(
        persist < ack,
        "currentEpoch is persisted before the NEWLEADER ack"
    );
    // NEWLEADER ack first, then the proposal's, then UPTODATE's.
    assert_eq!(acks_to_leader(&c), [z(1, 0), a, z(1, 0)]);
    assert_eq!(c.established(3), [1, 1]);
    assert_eq!(c.disk(3).db_zxids(), [first, a]);
}

/// ZOOKEEPER-4643 (zk-sim seed 1634): a follower that loses its DIFF txns to a power failure
/// after NEWLEADER must not come back with the new currentEpoch. With it, its election vote
/// (epoch 2, old zxid) would beat a server that holds the committed txn (epoch 1, newer zxid).
#[test]
fn power_failure_after_newleader_before_the_fsync_keeps_the_old_current_epoch() {
    let mut c = Cluster::new(3, 0);
    c.start_leader(1);
    c.start_learner(2);
    c.start_learner(3);
    let first = c.propose();
    c.crash(3);
    let committed = c.propose();
    assert_eq!(c.disk(2).log_zxids(), [first, committed]);
    // Epoch 2: leader 2 (which has the txn), follower 3 is sent it by DIFF.
    c.crash(1);
    c.start_leader(2);
    c.servers.get_mut(&3).unwrap().auto_fsync = false;
    c.start_learner(3);
    assert_eq!(sync_mode(&c, 3), Some(SyncMode::Diff));
    assert_eq!(c.disk(3).log_zxids(), [first, committed]);
    assert_eq!(c.disk(3).accepted, 2);
    // Power failure before the fsync: the txn is gone, and so must the new epoch be.
    c.crash(3);
    assert_eq!(c.disk(3).log_zxids(), [first]);
    assert_eq!(
        c.disk(3).current,
        1,
        "currentEpoch 2 without the txns would outvote the servers that hold them"
    );
}

#[test]
fn diff_from_the_on_disk_log_when_the_follower_is_older_than_the_window() {
    let mut c = Cluster::new(3, 0);
    c.commit_log_count = 2;
    c.start_leader(1);
    c.start_learner(2);
    c.start_learner(3);
    let first = c.propose();
    c.crash(3);
    let later: Vec<Zxid> = (0..4).map(|_| c.propose()).collect();
    c.start_learner(3);
    assert!(
        c.server(1)
            .events
            .iter()
            .any(|e| matches!(e, Output::ReadLog { from, .. } if *from == first))
    );
    assert_eq!(sync_mode(&c, 3), Some(SyncMode::Diff));
    let mut all = vec![first];
    all.extend(later);
    assert_eq!(c.disk(3).log_zxids(), all);
    assert_eq!(c.disk(3).db_zxids(), all);
}

#[test]
fn snap_when_the_disk_log_cannot_serve_the_follower() {
    let mut c = Cluster::new(3, 0);
    c.commit_log_count = 2;
    c.start_leader(1);
    c.start_learner(2);
    let zs: Vec<Zxid> = (0..4).map(|_| c.propose()).collect();
    // Server 3 is empty (zxid 0): the leader's log does not start at 0, so the read is empty.
    c.start_learner(3);
    assert_eq!(sync_mode(&c, 3), Some(SyncMode::Snap));
    let snap = c
        .server(3)
        .received
        .iter()
        .find(|p| p.r#type == SNAP)
        .unwrap();
    assert_eq!(snap.zxid, *zs.last().unwrap());
    assert_eq!(c.disk(3).db_zxids(), zs);
    assert_eq!(
        c.disk(3).snapshots,
        1,
        "a snapshot is taken at NEWLEADER after SNAP"
    );
    assert_eq!(c.established(3), [1]);
    let next = c.propose();
    assert_eq!(c.disk(3).db_zxids().last(), Some(&next));
}

/// The old leader proposed (1,3) but only logged it itself, then died. The survivors elect 2,
/// the txn is discarded, and the old leader, back as a follower, is truncated.
#[test]
fn leader_dies_after_proposing_and_its_uncommitted_txn_is_truncated() {
    let mut c = Cluster::new(3, 0);
    c.start_leader(1);
    c.start_learner(2);
    c.start_learner(3);
    let a = c.propose();
    let b = c.propose();
    // The proposal leaves no trace on the followers: their links drop it.
    c.cut.insert(2);
    c.cut.insert(3);
    let lost = c.propose();
    assert_eq!(c.disk(1).log_zxids(), [a, b, lost]);
    c.crash(1);
    c.cut.clear();
    // Election among 2 and 3 picks 2 (outside this crate).
    c.crash(2);
    c.crash(3);
    c.start_leader(2);
    c.start_learner(3);
    assert_eq!(c.established(2).last(), Some(&2));
    assert_eq!(c.disk(2).log_zxids(), [a, b]);
    // The old leader comes back with (1,3) in its log.
    c.start_learner(1);
    assert_eq!(sync_mode(&c, 1), Some(SyncMode::Trunc));
    let trunc = c
        .server(1)
        .received
        .iter()
        .find(|p| p.r#type == TRUNC)
        .unwrap();
    assert_eq!(trunc.zxid, b);
    assert_eq!(c.disk(1).log_zxids(), [a, b]);
    assert_eq!(c.disk(1).db_zxids(), [a, b]);
    let next = c.propose();
    assert_eq!(next, z(2, 1));
    for id in 1..=3 {
        assert_eq!(c.disk(id).db_zxids(), [a, b, next], "server {id}");
    }
}

/// As above, but the new epoch has committed txns before the old leader returns: a TRUNC cannot
/// cross the epoch boundary, so it gets a snapshot.
#[test]
fn extra_uncommitted_txn_behind_an_epoch_boundary_gets_a_snapshot() {
    let mut c = Cluster::new(3, 0);
    c.servers.get_mut(&1).unwrap().disk = Disk::with_log(1, &[z(1, 1), z(1, 2), z(1, 3)]);
    c.servers.get_mut(&2).unwrap().disk = Disk::with_log(1, &[z(1, 1), z(1, 2)]);
    c.servers.get_mut(&3).unwrap().disk = Disk::with_log(1, &[z(1, 1), z(1, 2)]);
    c.start_leader(2);
    c.start_learner(3);
    let e = c.propose();
    assert_eq!(e, z(2, 1));
    c.start_learner(1);
    assert_eq!(sync_mode(&c, 1), Some(SyncMode::Snap));
    assert_eq!(c.disk(1).db_zxids(), c.disk(2).db_zxids());
    assert!(!c.disk(1).db_zxids().contains(&z(1, 3)));
}

/// Leader 1 proposed (1,2); follower 2 logged and acked it (with the leader, a quorum), but the
/// leader died before committing. 2 has the highest zxid, wins the election, and the txn survives.
#[test]
fn leader_dies_after_a_quorum_of_acks_before_commit_and_the_txn_survives() {
    let mut c = Cluster::new(3, 0);
    c.start_leader(1);
    c.start_learner(2);
    c.start_learner(3);
    let a = c.propose();
    // 3 hears nothing and the leader hears nothing: only 2 gets the next PROPOSAL.
    c.cut.insert(3);
    c.deaf.insert(1);
    let b = c.propose();
    assert_eq!(c.disk(2).log_zxids(), [a, b], "2 logged (and acked) b");
    assert_eq!(
        c.disk(1).log_zxids(),
        [a, b],
        "with the leader's own log, a quorum"
    );
    assert_eq!(
        c.leader_core().last_committed(),
        a,
        "the ACK never arrived: no COMMIT"
    );
    c.crash(1);
    c.cut.clear();
    c.deaf.clear();
    c.crash(2);
    c.crash(3);
    // 2 has the highest zxid and wins the election.
    c.start_leader(2);
    c.start_learner(3);
    c.start_learner(1);
    for id in 1..=3 {
        assert_eq!(
            c.disk(id).db_zxids(),
            [a, b],
            "server {id}: the acked txn survives"
        );
    }
    assert_eq!(sync_mode(&c, 3), Some(SyncMode::Diff));
    let c_next = c.propose();
    assert_eq!(c_next, z(2, 1));
}

#[test]
fn follower_gives_up_on_an_unreachable_leader_within_init_limit() {
    let mut c = Cluster::new(3, 0);
    c.start_leader(1);
    c.start_learner(2);
    c.cut.insert(1);
    c.start_learner(3);
    c.advance(10 * harness::TICK_MS + 100);
    assert_eq!(c.step_downs(3), [StepDownReason::LeaderTimeout]);
    assert_eq!((c.disk(3).accepted, c.disk(3).current), (0, 0));
}

#[test]
fn follower_cut_off_after_the_diff_logs_nothing_and_keeps_its_current_epoch() {
    let mut c = Cluster::new(3, 0);
    c.start_leader(1);
    c.start_learner(2);
    let a = c.propose();
    // Drive 3's core by hand with the first packets the leader would send, then silence.
    let config = c.config(3);
    let mut f = zk_zab::Learner::new(
        0,
        config,
        zk_zab::LearnerRole::Follower,
        Default::default(),
        0,
    );
    let mut out = Vec::new();
    for p in [
        zk_zab::leader_info(1),
        zk_zab::op_packet(PacketType::Diff, a),
        zk_jute::quorum::QuorumPacket {
            r#type: PROPOSAL,
            zxid: a,
            data: Some(harness::txn(a).data),
            authinfo: None,
        },
        zk_zab::op_packet(PacketType::Commit, a),
    ] {
        f.handle_packet(10, p).unwrap();
        while let Some(o) = f.poll_output() {
            out.push(o);
        }
    }
    assert!(out.contains(&Output::PersistAcceptedEpoch(1)));
    assert!(!out.iter().any(|o| matches!(
        o,
        Output::LogTxn(_) | Output::Apply(_) | Output::PersistCurrentEpoch(_)
    )));
    f.handle_timeout(10 + 10 * harness::TICK_MS);
    assert_eq!(
        f.poll_output(),
        Some(Output::StepDown(StepDownReason::LeaderTimeout))
    );
    assert_eq!(f.state().current_epoch, 0);
}

#[test]
fn leader_steps_down_after_losing_its_quorum_for_sync_limit_ticks() {
    let mut c = established(Default::default());
    c.propose();
    c.advance(20 * harness::TICK_MS);
    assert!(
        c.step_downs(1).is_empty(),
        "followers answer pings: the leader stays"
    );
    c.cut.insert(2);
    c.cut.insert(3);
    c.advance(20 * harness::TICK_MS);
    assert!(
        matches!(c.step_downs(1).as_slice(), [StepDownReason::LostQuorum { synced }] if synced.len() == 1)
    );
}

#[test]
fn follower_leaves_a_leader_that_stops_pinging() {
    let mut c = established(Default::default());
    c.advance(20 * harness::TICK_MS);
    assert!(c.step_downs(2).is_empty());
    c.cut.insert(1);
    c.advance(20 * harness::TICK_MS);
    assert_eq!(c.step_downs(2), [StepDownReason::LeaderTimeout]);
    assert_eq!(c.step_downs(3), [StepDownReason::LeaderTimeout]);
}

#[test]
fn requests_are_forwarded_and_sync_waits_for_outstanding_proposals() {
    let mut c = established(Default::default());
    let create = ForwardedRequest {
        session_id: SessionId(0x200),
        cxid: 1,
        op: 1,
        body: bytes::Bytes::from_static(b"create body"),
        authinfo: Some(vec![]),
    };
    c.learner_core(2).forward_request(&create);
    c.pump();
    assert!(c.server(1).events.iter().any(
        |e| matches!(e, Output::Request { from, request } if from.0 == 2 && *request == create)
    ));
    // A proposal is outstanding (no follower fsyncs); a forwarded sync must wait for it.
    for id in 2..=3 {
        c.servers.get_mut(&id).unwrap().auto_fsync = false;
    }
    let a = c.propose();
    let sync = ForwardedRequest {
        op: 9,
        body: bytes::Bytes::new(),
        ..create
    };
    c.learner_core(2).forward_request(&sync);
    c.pump();
    assert!(!c.server(2).events.contains(&Output::SyncDone));
    c.fsync(3);
    let events = &c.server(2).events;
    let applied = events
        .iter()
        .position(|e| matches!(e, Output::Apply(p) if p.zxid == a))
        .unwrap();
    let done = events.iter().position(|e| *e == Output::SyncDone).unwrap();
    assert!(
        applied < done,
        "SYNC completes after the txn it waited for is applied"
    );
    // With nothing outstanding SYNC comes back at once.
    c.fsync(2);
    c.learner_core(3).forward_request(&sync);
    c.pump();
    assert!(c.server(3).events.contains(&Output::SyncDone));
}

#[test]
fn revalidate_and_session_touches() {
    let mut c = established(Default::default());
    c.learner_core(2).revalidate(SessionId(7), 4000);
    c.learner_core(2).revalidate(SessionId(8), 4000);
    c.pump();
    let revalidated: Vec<_> = c
        .server(2)
        .events
        .iter()
        .filter_map(|e| match e {
            Output::Revalidated { session, valid } => Some((*session, *valid)),
            _ => None,
        })
        .collect();
    assert_eq!(revalidated, [(SessionId(7), true), (SessionId(8), false)]);
    c.learner_core(3).touch(SessionId(9), 6000);
    c.advance(harness::TICK_MS);
    assert!(c.server(1).events.iter().any(
        |e| matches!(e, Output::TouchSessions { touches } if touches == &[(SessionId(9), 6000)])
    ));
}

#[test]
fn a_malformed_packet_is_an_error_not_a_panic() {
    let mut c = established(Default::default());
    let now = c.now;
    let bad = zk_jute::quorum::QuorumPacket {
        r#type: PacketType::Revalidate.code(),
        zxid: Zxid(-1),
        data: Some(bytes::Bytes::from_static(&[1, 2])),
        authinfo: None,
    };
    assert!(
        c.leader_core()
            .handle_packet(now, zk_zab::LearnerId(2), bad.clone())
            .is_err()
    );
    assert!(c.learner_core(2).handle_packet(now, bad).is_err());
    // Unknown connection whose first packet is not FOLLOWERINFO: dropped.
    assert!(
        c.leader_core()
            .handle_packet(
                now,
                zk_zab::LearnerId(99),
                zk_zab::op_packet(PacketType::Ack, z(1, 0))
            )
            .is_err()
    );
    c.pump();
    assert!(
        c.server(1)
            .events
            .iter()
            .any(|e| matches!(e, Output::Disconnect { learner, .. } if learner.0 == 99))
    );
}
