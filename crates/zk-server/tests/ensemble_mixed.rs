//! Mixed ensembles of our servers and Apache ZooKeeper 3.8 on the real quorum protocol:
//! leadership lands on each kind, clients on every member see every write, and a killed member
//! of either kind rejoins and converges to the same tree.

mod common;

use std::sync::Arc;

use common::ensemble::{ONE_AT_A_TIME, WAIT, blocking, client, converged, create, ours, start};
use zk_testkit::{Ensemble, EnsembleBuilder, Kind, Mode};

/// Writes one node through every member and reads all of them back through every member.
async fn write_and_read_everywhere(e: &Ensemble, tag: &str) {
    let ids: Vec<u64> = e.ids().collect();
    let mut clients = Vec::new();
    for &id in &ids {
        if e.mode(id).is_some() {
            clients.push((id, client(&e.client_addr(id)).await));
        }
    }
    for (id, c) in &clients {
        create(c, &format!("/{tag}-{id}"), tag.as_bytes()).await;
    }
    for (_, c) in &clients {
        c.sync("/").await.expect("sync");
        for (id, _) in &clients {
            let (data, _) = c
                .get_data(&format!("/{tag}-{id}"))
                .await
                .unwrap_or_else(|err| panic!("/{tag}-{id}: {err}"));
            assert_eq!(&data[..], tag.as_bytes());
        }
    }
    for (_, c) in clients {
        c.close().await;
    }
}

fn leader_kind(e: &Ensemble, leader: u64) -> &'static str {
    match e.kind(leader) {
        Kind::Apache => "apache",
        Kind::Ours(_) => "ours",
    }
}

/// Kills the leader, waits for the next one, brings the old one back as a follower.
async fn fail_over(e: &Arc<Ensemble>, leader: u64) -> u64 {
    blocking({
        let e = e.clone();
        move || {
            e.kill(leader);
            let next = e.wait_for_leader(WAIT);
            e.start(leader);
            let mode = e.wait_serving(leader, WAIT);
            assert_eq!(mode, Mode::Follower, "{}", e.log(leader));
            next
        }
    })
    .await
}

async fn mixed(builder: EnsembleBuilder) {
    let (e, first) = start(builder).await;
    write_and_read_everywhere(&e, "start").await;
    let second = fail_over(&e, first).await;
    assert_ne!(
        leader_kind(&e, first),
        leader_kind(&e, second),
        "leadership should move to the other kind (members 1-2 vs 3)"
    );
    write_and_read_everywhere(&e, "after").await;
    converged(&e).await;
    // A follower of either kind killed and restarted catches up too.
    for id in e.ids().filter(|id| *id != second).collect::<Vec<_>>() {
        blocking({
            let e = e.clone();
            move || e.kill(id)
        })
        .await;
        let c = client(&e.client_addr(second)).await;
        create(&c, &format!("/while-{id}-down"), b"").await;
        c.close().await;
        blocking({
            let e = e.clone();
            move || {
                e.start(id);
                e.wait_serving(id, WAIT)
            }
        })
        .await;
        let t = converged(&e).await;
        assert!(t.contains_key(&format!("/while-{id}-down")));
    }
}

/// Apache is member 3, so it leads first (same zxid, highest id); ours leads once it is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_ours_and_one_apache() {
    let _one = ONE_AT_A_TIME.lock().await;
    mixed(EnsembleBuilder::new().voters(2, ours()).voter(Kind::Apache)).await;
}

/// Ours is member 3 and leads first; an Apache server leads once it is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_ours_and_two_apache() {
    let _one = ONE_AT_A_TIME.lock().await;
    mixed(EnsembleBuilder::new().voters(2, Kind::Apache).voter(ours())).await;
}
