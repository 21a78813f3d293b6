//! The ensemble fixture runs real Apache ZooKeeper 3.8 ensembles: election, failover, rejoin and
//! observers, read through `srvr`.

use std::time::Duration;

use zk_testkit::{Ensemble, EnsembleBuilder, Kind, Mode};

/// Generous: five JVMs starting on a small, busy machine.
const TIMEOUT: Duration = Duration::from_secs(90);

fn modes(ensemble: &Ensemble) -> Vec<(u64, Option<Mode>)> {
    ensemble.ids().map(|id| (id, ensemble.mode(id))).collect()
}

#[test]
fn three_apache_servers_elect_fail_over_and_rejoin() {
    let ensemble = EnsembleBuilder::new().voters(3, Kind::Apache).build();
    ensemble.start_all();
    let leader = ensemble.wait_for_leader(TIMEOUT);

    let modes_now = modes(&ensemble);
    let leaders = modes_now.iter().filter(|(_, m)| *m == Some(Mode::Leader));
    let followers = modes_now.iter().filter(|(_, m)| *m == Some(Mode::Follower));
    assert_eq!(
        (leaders.count(), followers.count()),
        (1, 2),
        "{modes_now:?}"
    );
    assert_eq!(ensemble.mode(leader), Some(Mode::Leader));
    assert!(
        ensemble.zxid(leader).is_some(),
        "{}",
        ensemble.four_letter_word(leader, "srvr")
    );

    ensemble.kill(leader);
    assert!(!ensemble.is_running(leader));
    let next = ensemble.wait_for_leader(TIMEOUT);
    assert_ne!(next, leader, "{:?}", modes(&ensemble));
    // A new epoch: the new leader's zxid is above the old leader's epoch.
    assert!(
        ensemble.zxid(next).unwrap() >> 32 >= 2,
        "{}",
        ensemble.four_letter_word(next, "srvr")
    );

    ensemble.start(leader);
    assert_eq!(
        ensemble.wait_serving(leader, TIMEOUT),
        Mode::Follower,
        "{}",
        ensemble.log(leader)
    );
    assert_eq!(ensemble.wait_for_leader(TIMEOUT), next);
}

#[test]
fn an_observer_observes() {
    let ensemble = EnsembleBuilder::new()
        .voters(3, Kind::Apache)
        .observer(Kind::Apache)
        .build();
    ensemble.start_all();
    ensemble.wait_for_leader(TIMEOUT);
    assert_eq!(
        ensemble.wait_serving(4, TIMEOUT),
        Mode::Observer,
        "{}",
        ensemble.log(4)
    );
    let modes_now = modes(&ensemble);
    let observers = modes_now.iter().filter(|(_, m)| *m == Some(Mode::Observer));
    assert_eq!(observers.count(), 1, "{modes_now:?}");
}

#[test]
fn a_stopped_member_restarts_and_a_paused_one_resumes() {
    let ensemble = EnsembleBuilder::new().voters(3, Kind::Apache).build();
    ensemble.start_all();
    let leader = ensemble.wait_for_leader(TIMEOUT);
    let follower = ensemble.ids().find(|id| *id != leader).unwrap();

    ensemble.pause(follower);
    assert!(ensemble.is_running(follower) && ensemble.is_paused(follower));
    // The other two still form a quorum.
    assert_eq!(ensemble.wait_for_leader(TIMEOUT), leader);
    ensemble.resume(follower);
    ensemble.wait_serving(follower, TIMEOUT);

    ensemble.stop(follower);
    assert!(!ensemble.is_running(follower));
    ensemble.restart(follower);
    assert_eq!(ensemble.wait_serving(follower, TIMEOUT), Mode::Follower);
    let log = ensemble.log(follower);
    assert_eq!(log.matches("===== zk-testkit: member").count(), 2, "{log}");
}
