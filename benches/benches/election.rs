//! Election time on loopback: an ensemble of our election services elects a leader, the leader
//! dies (its process is gone: election port closed), and the survivors elect a new one. Prints the
//! median and spread of the time from the death to every survivor's decision, for 3 and 5 servers.
//!
//! `cargo bench -p zk-benches --bench election [-- TRIALS]`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use zk_election::{Election, History, LearnerType, QuorumVerifier, Timing, parse_config_text};
use zk_jute::{ServerId, Zxid};
use zk_quorum::{CnxConfig, QuorumCnxManager};
use zk_server::election::ElectionService;

async fn ensemble(size: i64) -> BTreeMap<i64, ElectionService> {
    let mut listeners = BTreeMap::new();
    for id in 1..=size {
        listeners.insert(
            id,
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        );
    }
    let addresses: BTreeMap<i64, String> = listeners
        .iter()
        .map(|(id, l)| (*id, l.local_addr().unwrap().to_string()))
        .collect();
    let lines: String = addresses
        .iter()
        .map(|(id, a)| {
            let port: u16 = a.rsplit(':').next().unwrap().parse().unwrap();
            format!("server.{id}=127.0.0.1:{}:{port}\n", port.wrapping_add(1))
        })
        .collect();
    let verifier: Arc<dyn QuorumVerifier> = Arc::from(parse_config_text(&lines, false).unwrap());
    let mut services = BTreeMap::new();
    for (id, listener) in listeners {
        let config = CnxConfig {
            my_id: ServerId(id),
            listen: listener.local_addr().unwrap(),
            advertised: vec![addresses[&id].clone()],
            peers: addresses
                .iter()
                .filter(|(peer, _)| **peer != id)
                .map(|(peer, a)| (ServerId(*peer), vec![a.clone()]))
                .collect(),
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(5),
            bind_retries: 1,
        };
        let cnx = QuorumCnxManager::start_on(config, listener).unwrap();
        let election = Election::new(
            ServerId(id),
            LearnerType::Participant,
            verifier.clone(),
            Timing::default(),
        );
        services.insert(id, ElectionService::spawn(cnx, election));
    }
    services
}

fn history(counter: u32) -> History {
    History {
        last_logged_zxid: Zxid::new(1, counter),
        current_epoch: 1,
    }
}

/// Elects, kills the leader, and returns how long the survivors took to agree on a new one.
async fn failover(size: i64) -> Duration {
    let mut services = ensemble(size).await;
    let first: Vec<_> = services
        .values()
        .map(|s| {
            let s = s.clone();
            tokio::spawn(async move { s.look_for_leader(history(10)).await.unwrap() })
        })
        .collect();
    let mut leader = None;
    for handle in first {
        leader = Some(handle.await.unwrap().vote.leader);
    }
    let leader = leader.unwrap();
    // The leader dies: dropping its only handle stops its task and closes its election port.
    services.remove(&leader.0);
    let died = Instant::now();
    let rounds: Vec<_> = services
        .values()
        .map(|s| {
            let s = s.clone();
            tokio::spawn(async move { s.look_for_leader(history(10)).await.unwrap() })
        })
        .collect();
    let mut new_leaders = Vec::new();
    for handle in rounds {
        new_leaders.push(handle.await.unwrap().vote.leader);
    }
    let took = died.elapsed();
    assert!(
        new_leaders
            .iter()
            .all(|l| *l == new_leaders[0] && *l != leader)
    );
    took
}

fn main() {
    let trials: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for size in [3, 5] {
        let mut times: Vec<Duration> = (0..trials)
            .map(|_| runtime.block_on(failover(size)))
            .collect();
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "election after leader death, {size} servers, {trials} trials: median {:.1} ms, min {:.1} ms, p90 {:.1} ms, max {:.1} ms",
            ms(times[trials / 2]),
            ms(times[0]),
            ms(times[trials * 9 / 10]),
            ms(times[trials - 1]),
        );
    }
}
