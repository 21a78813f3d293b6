//! Mixed ensembles: our election (transport + FastLeaderElection) and real Apache ZooKeeper 3.8
//! servers elect the same leader, by the same rule, over the real wire.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zk_election::{Election, History, LearnerType, QuorumVerifier, Timing, parse_config_text};
use zk_jute::quorum::{
    LEARNER_PROTOCOL_VERSION, LearnerInfo, PacketType, QuorumPacket, ServerState,
};
use zk_jute::{Record, ServerId, Zxid};
use zk_quorum::{CnxConfig, QuorumCnxManager};
use zk_server::election::{Decision, ElectionService};
use zk_testkit::{ApacheOptions, ApacheServer, free_port};

#[derive(Clone, Copy)]
struct Ports {
    quorum: u16,
    election: u16,
    client: u16,
}

/// The `server.N` lines of a 3-server ensemble on loopback.
#[derive(Clone)]
struct Layout {
    ports: BTreeMap<i64, Ports>,
}

impl Layout {
    fn new(ids: &[i64]) -> Self {
        let ports = ids
            .iter()
            .map(|id| {
                (
                    *id,
                    Ports {
                        quorum: free_port(),
                        election: free_port(),
                        client: free_port(),
                    },
                )
            })
            .collect();
        Layout { ports }
    }

    fn server_lines(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|(id, p)| format!("server.{id}=127.0.0.1:{}:{}", p.quorum, p.election))
            .collect()
    }

    fn verifier(&self) -> Arc<dyn QuorumVerifier> {
        Arc::from(parse_config_text(&self.server_lines().join("\n"), false).unwrap())
    }

    fn start_apache(&self, id: i64) -> ApacheServer {
        let mut config = vec!["initLimit=5".to_string(), "syncLimit=2".to_string()];
        config.extend(self.server_lines());
        ApacheServer::start_with(ApacheOptions {
            config,
            myid: Some(id as u64),
            client_port: Some(self.ports[&id].client),
            ..ApacheOptions::default()
        })
    }

    async fn start_ours(&self, id: i64) -> ElectionService {
        let election = self.ports[&id].election;
        let config = CnxConfig {
            my_id: ServerId(id),
            listen: format!("127.0.0.1:{election}").parse().unwrap(),
            advertised: vec![format!("127.0.0.1:{election}")],
            peers: self
                .ports
                .iter()
                .filter(|(peer, _)| **peer != id)
                .map(|(peer, p)| (ServerId(*peer), vec![format!("127.0.0.1:{}", p.election)]))
                .collect(),
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            bind_retries: 3,
        };
        let cnx = QuorumCnxManager::start(config).await.unwrap();
        let election = Election::new(
            ServerId(id),
            LearnerType::Participant,
            self.verifier(),
            Timing::default(),
        );
        ElectionService::spawn(cnx, election)
    }
}

/// A fresh server's history, as a fresh Apache server reports it.
fn fresh() -> History {
    History {
        last_logged_zxid: Zxid(0),
        current_epoch: 0,
    }
}

async fn decide(service: &ElectionService) -> Decision {
    tokio::time::timeout(Duration::from_secs(60), service.look_for_leader(fresh()))
        .await
        .expect("our server decides within 60 s")
        .expect("the election service is running")
}

/// Polls `condition` for up to 60 s; whether it came true.
fn wait_until(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn wait_for(what: &str, condition: impl FnMut() -> bool) {
    assert!(wait_until(condition), "timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_ours_follows_the_leader_two_apache_servers_elect() {
    let layout = Layout::new(&[1, 2, 3]);
    let ours = layout.start_ours(1).await;
    // Keep our server alive after it decides: it must answer the late joiner.
    let decision = tokio::spawn(async move { (decide(&ours).await, ours) });
    let (apache2, apache3) = tokio::task::spawn_blocking({
        let layout = layout.clone();
        move || (layout.start_apache(2), layout.start_apache(3))
    })
    .await
    .unwrap();
    let (decision, _ours) = decision.await.unwrap();
    // Whoever of 2 and 3 is up first with us forms the first quorum; 3 then joins it.
    assert_eq!(decision.state, ServerState::Following);
    let (leader, follower) = match decision.vote.leader {
        ServerId(2) => (apache2, apache3),
        ServerId(3) => (apache3, apache2),
        other => panic!("we elected {other}, which is not an Apache server"),
    };
    // The Apache servers agree with us, and being 2 of 3 they really form the ensemble.
    tokio::task::spawn_blocking(move || {
        let leads = || leader.four_letter_word("srvr").contains("Mode: leader");
        if !wait_until(leads) {
            panic!(
                "our leader does not lead.\nleader log:\n{}\nother log:\n{}",
                leader.log(),
                follower.log()
            );
        }
        wait_for("the other Apache server to follow", || {
            follower.four_letter_word("srvr").contains("Mode: follower")
        });
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_ours_and_apache_elect_the_apache_server() {
    let layout = Layout::new(&[1, 2, 3]);
    let (one, two) = (layout.start_ours(1).await, layout.start_ours(2).await);
    let decisions = tokio::spawn(async move { (decide(&one).await, decide(&two).await, one, two) });
    let apache3 = tokio::task::spawn_blocking({
        let layout = layout.clone();
        move || layout.start_apache(3)
    })
    .await
    .unwrap();
    let (d1, d2, _one, _two) = decisions.await.unwrap();
    for d in [d1, d2] {
        assert_eq!(
            (d.vote.leader, d.state),
            (ServerId(3), ServerState::Following)
        );
    }
    tokio::task::spawn_blocking(move || {
        wait_for("Apache 3 to decide to lead", || {
            apache3.log().contains("LEADING - LEADER ELECTION TOOK")
        });
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apache_servers_follow_ours() {
    let layout = Layout::new(&[1, 2, 3]);
    // Stand in for 3's leader port: whoever follows 3 connects here and introduces itself.
    let leader_port = tokio::net::TcpListener::bind(("127.0.0.1", layout.ports[&3].quorum))
        .await
        .unwrap();
    let three = layout.start_ours(3).await;
    let decision = tokio::spawn(async move { (decide(&three).await, three) });
    let apaches = tokio::task::spawn_blocking({
        let layout = layout.clone();
        move || (layout.start_apache(1), layout.start_apache(2))
    })
    .await
    .unwrap();
    let (decision, _three) = decision.await.unwrap();
    assert_eq!(
        (decision.vote.leader, decision.state),
        (ServerId(3), ServerState::Leading)
    );
    // Hold each follower's link open, so it stays a follower while the other one joins.
    let mut followers = BTreeSet::new();
    let mut links = Vec::new();
    while followers.len() < 2 {
        let Ok(accepted) =
            tokio::time::timeout(Duration::from_secs(60), leader_port.accept()).await
        else {
            panic!(
                "the Apache servers did not both follow 3; so far {followers:?}.\n\
                 Apache 1 logged:\n{}\nApache 2 logged:\n{}",
                apaches.0.log(),
                apaches.1.log()
            );
        };
        let (mut stream, _) = accepted.unwrap();
        followers.insert(follower_info(&mut stream).await);
        links.push(stream);
    }
    assert_eq!(followers, BTreeSet::from([ServerId(1), ServerId(2)]));
}

/// Reads the FOLLOWERINFO a learner sends first on the leader's quorum port.
async fn follower_info(stream: &mut tokio::net::TcpStream) -> ServerId {
    use tokio::io::AsyncReadExt;
    let mut bytes = Vec::new();
    loop {
        let mut chunk = [0u8; 256];
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk))
            .await
            .expect("FOLLOWERINFO within 30 s")
            .unwrap();
        assert!(n > 0, "the learner closed before FOLLOWERINFO");
        bytes.extend_from_slice(&chunk[..n]);
        if let Ok(packet) = QuorumPacket::from_bytes(&bytes) {
            assert_eq!(packet.r#type, PacketType::FollowerInfo.code());
            let info = LearnerInfo::from_bytes(packet.data.as_deref().unwrap()).unwrap();
            assert_eq!(info.protocol_version, LEARNER_PROTOCOL_VERSION);
            return info.server_id;
        }
    }
}
