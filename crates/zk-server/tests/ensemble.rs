//! Our servers as an ensemble, as real processes on loopback: every member serves reads and
//! writes, a killed leader loses no acknowledged write, and restarted members catch up by DIFF,
//! SNAP and TRUNC until every member serves the same tree.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::ensemble::{
    ONE_AT_A_TIME, WAIT, blocking, client, converged, create, ours, start, tree,
};
use zk_client::{Acl, CreateMode};
use zk_testkit::{EnsembleBuilder, Mode};

async fn serve_through_every_member(voters: usize, observers: usize) {
    let (e, leader) = start(
        EnsembleBuilder::new()
            .voters(voters, ours())
            .observers(observers, ours()),
    )
    .await;
    let ids: Vec<u64> = e.ids().collect();
    let mut clients = Vec::new();
    for &id in &ids {
        let expected = if id == leader {
            Mode::Leader
        } else if e.is_observer(id) {
            Mode::Observer
        } else {
            Mode::Follower
        };
        assert_eq!(e.mode(id), Some(expected), "member {id}:\n{}", e.log(id));
        clients.push(client(&e.client_addr(id)).await);
    }
    // A write through every member, read back through every member.
    for (i, c) in clients.iter().enumerate() {
        create(
            c,
            &format!("/m{}", ids[i]),
            format!("from {}", ids[i]).as_bytes(),
        )
        .await;
        c.set_data(&format!("/m{}", ids[i]), b"updated", Some(0))
            .await
            .expect("set through its own member");
    }
    for c in &clients {
        c.sync("/").await.expect("sync");
        for id in &ids {
            let (data, stat) = c.get_data(&format!("/m{id}")).await.expect("read");
            assert_eq!(&data[..], b"updated");
            assert_eq!(stat.version, 1);
        }
    }
    // A conditional write with a stale version fails the same way on a learner.
    let stale = clients[1].set_data("/m1", b"x", Some(0)).await;
    assert!(stale.is_err(), "a stale version must fail: {stale:?}");
    // A watch set through one member fires for a write through another.
    let (_, _, watch) = clients[0].get_data_watch("/m2").await.expect("watch");
    clients[2]
        .set_data("/m2", b"again", None)
        .await
        .expect("set");
    let event = tokio::time::timeout(WAIT, watch)
        .await
        .expect("watch fires");
    assert_eq!(event.path.as_deref(), Some("/m2"));
    // An ephemeral made through a learner goes away everywhere when its session closes.
    let owner = client(&e.client_addr(ids[1])).await;
    owner
        .create("/eph", b"", &Acl::open_unsafe(), CreateMode::Ephemeral)
        .await
        .expect("ephemeral");
    clients[0].sync("/").await.expect("sync");
    assert!(clients[0].exists("/eph").await.expect("exists").is_some());
    owner.close().await;
    for c in &clients {
        c.sync("/").await.expect("sync");
        assert!(c.exists("/eph").await.expect("exists").is_none());
    }
    let t = converged(&e).await;
    assert!(t.contains_key("/m1") && !t.contains_key("/eph"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_voters_and_an_observer_serve_reads_and_writes_through_every_member() {
    let _one = ONE_AT_A_TIME.lock().await;
    serve_through_every_member(3, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_voters_serve_reads_and_writes_through_every_member() {
    let _one = ONE_AT_A_TIME.lock().await;
    serve_through_every_member(5, 0).await;
}

/// Writers create nodes through every member while the leader is killed with SIGKILL. Every
/// create that was acknowledged must be on every member at the end, and the sessions of the
/// clients that were on the dead leader live on elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_under_write_load_loses_no_acknowledged_write() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (e, leader) = start(EnsembleBuilder::new().voters(3, ours())).await;
    let admin = client(&e.connect_string()).await;
    create(&admin, "/load", b"").await;
    // Acknowledged creates: path, the epoch of their zxid, when the ack came.
    let acked = Arc::new(Mutex::new(Vec::<(String, u32, Instant)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for id in e.ids().collect::<Vec<_>>() {
        // Each writer starts on one member and may move to any other.
        let others: Vec<String> = e
            .ids()
            .filter(|o| *o != id)
            .map(|o| e.client_addr(o))
            .collect();
        let connect = format!("{},{}", e.client_addr(id), others.join(","));
        let c = client(&connect).await;
        let (acked, stop) = (acked.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let session = c.session_id();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let path = format!("/load/w{id}-{n}");
                n += 1;
                let created = c
                    .create2(&path, b"v", &Acl::open_unsafe(), CreateMode::Persistent)
                    .await;
                if let Ok((_, stat)) = created {
                    let epoch = stat.czxid.epoch();
                    acked.lock().unwrap().push((path, epoch, Instant::now()));
                }
            }
            assert_eq!(c.session_id(), session, "writer {id} kept its session");
        }));
    }
    let wait_acked = |n: usize| {
        let acked = acked.clone();
        async move {
            let deadline = Instant::now() + WAIT;
            while acked.lock().unwrap().len() < n {
                assert!(Instant::now() < deadline, "writes stalled at {n}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    wait_acked(200).await;
    let old_epoch = acked.lock().unwrap().last().expect("acked").1;
    let killed_at = Instant::now();
    blocking({
        let e = e.clone();
        move || e.kill(leader)
    })
    .await;
    let before = acked.lock().unwrap().len();
    let new_leader = blocking({
        let e = e.clone();
        move || e.wait_for_leader(WAIT)
    })
    .await;
    assert_ne!(new_leader, leader);
    wait_acked(before + 300).await;
    // Not asserted (timing is not a test); the failover tool measures it properly.
    let first_new = acked
        .lock()
        .unwrap()
        .iter()
        .find(|a| a.1 > old_epoch)
        .map(|a| a.2 - killed_at);
    eprintln!(
        "first write of the new epoch acknowledged {first_new:?} after the leader was killed"
    );
    if std::env::var("SHOWLOG").is_ok() {
        for id in e.ids() {
            eprintln!("{}", e.log(id));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.expect("writer");
    }
    blocking({
        let e = e.clone();
        move || {
            e.start(leader);
            e.wait_serving(leader, WAIT)
        }
    })
    .await;
    let t = converged(&e).await;
    let acked = acked.lock().unwrap().clone();
    let missing: Vec<_> = acked.iter().filter(|a| !t.contains_key(&a.0)).collect();
    assert!(missing.is_empty(), "acknowledged creates lost: {missing:?}");
}

/// A follower that was down catches up by DIFF when the leader has the txns it missed in memory,
/// and by SNAP when it missed more than the leader keeps (commitLogCount 500) and the txn log is
/// too large next to the snapshot to send instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_follower_catches_up_by_diff_and_by_snap() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (e, leader) = start(EnsembleBuilder::new().voters(3, ours())).await;
    let follower = e.ids().find(|id| *id != leader).expect("a follower");
    let c = client(&e.client_addr(leader)).await;
    for (round, writes, kind) in [(0, 20, "DIFF"), (1, 700, "SNAP")] {
        blocking({
            let e = e.clone();
            move || e.stop(follower)
        })
        .await;
        for i in 0..writes {
            create(&c, &format!("/r{round}-{i}"), &[7u8; 100]).await;
        }
        let logged_before = e.log(leader).matches(&format!("Sending {kind}")).count();
        blocking({
            let e = e.clone();
            move || {
                e.start(follower);
                e.wait_serving(follower, WAIT)
            }
        })
        .await;
        let logged = e.log(leader).matches(&format!("Sending {kind}")).count();
        assert!(
            logged > logged_before,
            "the leader did not sync the follower by {kind}:\n{}",
            e.log(leader)
        );
        let t = converged(&e).await;
        assert!(t.contains_key(&format!("/r{round}-{}", writes - 1)));
    }
}

/// A leader that logged a txn no follower received, then died, has it cut off (TRUNC) when it
/// comes back under the leader the others elected meanwhile, before that leader's first txn.
/// (Once the new epoch has txns, 3.8 sends SNAP instead: TRUNC never crosses an epoch.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_with_an_uncommitted_txn_is_truncated() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (e, leader) = start(EnsembleBuilder::new().voters(3, ours())).await;
    let followers: Vec<u64> = e.ids().filter(|id| *id != leader).collect();
    let c = client(&e.client_addr(leader)).await;
    create(&c, "/before", b"").await;
    // Followers stop acking; the leader logs the next proposal alone.
    blocking({
        let (e, f) = (e.clone(), followers.clone());
        move || f.iter().for_each(|id| e.pause(*id))
    })
    .await;
    let lost = tokio::spawn(async move {
        c.create("/lost", b"", &Acl::open_unsafe(), CreateMode::Persistent)
            .await
    });
    let log_dir = e.data_dir(leader).join("version-2");
    let deadline = Instant::now() + WAIT;
    while !logged(&log_dir, "/lost") {
        assert!(Instant::now() < deadline, "the leader never logged /lost");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    blocking({
        let (e, f) = (e.clone(), followers.clone());
        move || {
            e.kill(leader);
            f.iter().for_each(|id| e.kill(*id));
            f.iter().for_each(|id| e.start(*id));
            e.wait_for_leader(WAIT)
        }
    })
    .await;
    assert!(
        lost.await.expect("client task").is_err(),
        "/lost was never committed"
    );
    // Back before the new epoch has a txn: its zxid is past the leader's last committed one.
    blocking({
        let e = e.clone();
        move || {
            e.start(leader);
            e.wait_serving(leader, WAIT)
        }
    })
    .await;
    let new_leader = e
        .ids()
        .find(|id| e.mode(*id) == Some(Mode::Leader))
        .expect("leader");
    assert!(
        e.log(new_leader).contains("Sending TRUNC"),
        "the old leader was not truncated:\n{}",
        e.log(new_leader)
    );
    let c = client(&e.client_addr(leader)).await;
    create(&c, "/after", b"").await;
    let t = converged(&e).await;
    assert!(t.contains_key("/before") && t.contains_key("/after"));
    assert!(!t.contains_key("/lost"), "an uncommitted txn survived");
    assert!(!tree(&e.client_addr(leader)).await.contains_key("/lost"));
}

/// Whether the txn log in `dir` has a create of `path`.
fn logged(dir: &std::path::Path, path: &str) -> bool {
    let Ok(txns) = zk_persistence::read_dir(dir, zk_jute::Zxid(0)) else {
        return false;
    };
    txns.live()
        .map_while(Result::ok)
        .any(|t| matches!(&t.entry.body, zk_jute::txn::TxnBody::Create(c) if c.path == path))
}

/// A follower whose snapshot directory fills up while it syncs by SNAP stops, as 3.8 does
/// ("Severe unrecoverable error, exiting"), instead of rejoining and failing again in a loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_that_cannot_write_its_snapshot_stops() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (e, leader) = start(
        EnsembleBuilder::new()
            .voters(3, ours())
            .separate_data_log_dirs(),
    )
    .await;
    let follower = e.ids().find(|id| *id != leader).expect("a follower");
    blocking({
        let e = e.clone();
        move || e.kill(follower)
    })
    .await;
    // Its snapshots and epoch files now go to a 1 MiB disk; the tree it must take is larger.
    let disk = zk_jepsen::disk::SmallDisk::mount(&e.data_dir(follower).join("version-2"), 1 << 20)
        .expect("mount a small tmpfs (needs root, as CI has)");
    let c = client(&e.client_addr(leader)).await;
    for i in 0..800 {
        create(&c, &format!("/big-{i}"), &[1u8; 1500]).await;
    }
    blocking({
        let e = e.clone();
        move || e.start(follower)
    })
    .await;
    let deadline = Instant::now() + WAIT;
    while e.is_running(follower) {
        assert!(
            Instant::now() < deadline,
            "the follower kept running with a full disk:\n{}",
            e.log(follower)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = e.log(follower);
    let last_run = log.rsplit("===== zk-testkit").next().unwrap_or_default();
    assert!(last_run.contains("severe unrecoverable error"), "{log}");
    let roles = last_run.matches("LEADING").count() + last_run.matches("FOLLOWING").count();
    assert_eq!(roles, 1, "it took a role once, then stopped:\n{last_run}");
    drop(disk);
}

/// Starts member 1 alone (no quorum, so it does not serve) and asks it for a new session of
/// `time_out` ms as soon as its client port listens.
fn connect_to_lone_member(e: &zk_testkit::Ensemble, time_out: i32) -> std::net::TcpStream {
    e.start(1);
    let addr = e.client_addr(1);
    let deadline = Instant::now() + WAIT;
    let mut s = loop {
        match std::net::TcpStream::connect(&addr) {
            Ok(s) => break s,
            Err(err) if Instant::now() > deadline => panic!("{addr} never listened: {err}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    common::raw::send_connect(&mut s, time_out);
    s
}

/// A client that connects while the ensemble has no leader (here: before a quorum runs) is
/// answered once there is one, instead of being closed and left to back off and retry: after a
/// leader's crash, clients are back as soon as the new leader serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_connecting_during_an_election_gets_its_session_when_it_ends() {
    let _one = ONE_AT_A_TIME.lock().await;
    // A long tick holds the connection long enough for a slow machine to form the quorum.
    let e = Arc::new(
        EnsembleBuilder::new()
            .voters(3, ours())
            .tick_time(5000)
            .build(),
    );
    let response = blocking({
        let e = e.clone();
        move || {
            let mut s = connect_to_lone_member(&e, 30_000);
            e.start(2);
            common::raw::read_connect_response(&mut s)
        }
    })
    .await
    .expect("the member closed the connection instead of answering it once it served");
    assert_ne!(response.session_id.0, 0, "a new session: {response:?}");
    assert_eq!(response.time_out, 30_000);
    assert!(e.mode(1).is_some(), "member 1 serves");
}

/// Without a leader in sight, a held connection is closed after a tick (at most a third of the
/// session timeout), as 3.8 closes it when it does not serve, so the client tries elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_held_without_a_leader_is_closed_in_time_to_try_another_member() {
    let _one = ONE_AT_A_TIME.lock().await;
    let e = Arc::new(EnsembleBuilder::new().voters(3, ours()).build());
    let answer = blocking({
        let e = e.clone();
        move || {
            // Held for one tick (200 ms here), well within the 10 s read timeout.
            let mut s = connect_to_lone_member(&e, 3_000);
            common::raw::read_connect_response(&mut s)
        }
    })
    .await;
    let err = answer.expect_err("a member without a quorum answered a connect");
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");
}
