//! The election transport on loopback: handshakes, who keeps the connection, frame limits and the
//! re-send of the last message after a reconnect.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use zk_jute::ServerId;
use zk_jute::quorum::InitialMessage;
use zk_quorum::{CnxConfig, Message, QuorumCnxManager};

async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

fn config(my_id: i64, listener: &TcpListener, peers: &[(i64, &TcpListener)]) -> CnxConfig {
    let addr = listener.local_addr().unwrap();
    CnxConfig {
        my_id: ServerId(my_id),
        listen: addr,
        advertised: vec![addr.to_string()],
        peers: peers
            .iter()
            .map(|(id, l)| (ServerId(*id), vec![l.local_addr().unwrap().to_string()]))
            .collect::<BTreeMap<_, _>>(),
        connect_timeout: Duration::from_secs(5),
        handshake_timeout: Duration::from_secs(5),
        bind_retries: 3,
    }
}

async fn recv(manager: &QuorumCnxManager) -> Message {
    tokio::time::timeout(Duration::from_secs(10), manager.recv())
        .await
        .expect("a message within 10 s")
}

fn handshake_from(sid: i64, address: String) -> Bytes {
    InitialMessage {
        protocol_version: Some(InitialMessage::PROTOCOL_V1),
        server_id: ServerId(sid),
        addresses: vec![address],
    }
    .to_bytes()
}

fn handshake(sid: i64) -> Bytes {
    handshake_from(sid, "127.0.0.1:1".into())
}

fn frame(payload: &[u8]) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i32(payload.len() as i32);
    out.put_slice(payload);
    out.freeze()
}

async fn read_frame(stream: &mut TcpStream) -> Vec<u8> {
    let read = async {
        let len = stream.read_i32().await.unwrap();
        let mut payload = vec![0; len as usize];
        stream.read_exact(&mut payload).await.unwrap();
        payload
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("a frame within 10 s")
}

#[tokio::test]
async fn three_servers_exchange_messages_in_every_direction() {
    let (l1, l2, l3) = (listener().await, listener().await, listener().await);
    let c1 = config(1, &l1, &[(2, &l2), (3, &l3)]);
    let c2 = config(2, &l2, &[(1, &l1), (3, &l3)]);
    let c3 = config(3, &l3, &[(1, &l1), (2, &l2)]);
    let m1 = QuorumCnxManager::start_on(c1, l1).unwrap();
    let m2 = QuorumCnxManager::start_on(c2, l2).unwrap();
    let m3 = QuorumCnxManager::start_on(c3, l3).unwrap();
    let managers = [&m1, &m2, &m3];
    for from in managers {
        for to in managers {
            if from.my_id() != to.my_id() {
                let text = format!("{}->{}", from.my_id(), to.my_id());
                from.send(to.my_id(), Bytes::from(text.clone()));
                let got = recv(to).await;
                assert_eq!(got.from, from.my_id());
                assert_eq!(got.payload, Bytes::from(text));
            }
        }
    }
    // A message to oneself comes straight back.
    m2.send(ServerId(2), Bytes::from_static(b"self"));
    assert_eq!(recv(&m2).await.payload, Bytes::from_static(b"self"));
    assert!(m1.is_connected(ServerId(3)) && m3.is_connected(ServerId(1)));
}

#[tokio::test]
async fn a_lower_id_connection_is_dropped_and_the_higher_id_connects_back() {
    let peer_listener = listener().await;
    let l5 = listener().await;
    // 5's configuration has a stale address for 2: the one 2 announces must win.
    let m5 = QuorumCnxManager::start_on(config(5, &l5, &[(2, &l5)]), l5).unwrap();
    // Server 2 (a raw socket here) connects to 5 and announces itself.
    let mut outgoing = TcpStream::connect(m5.local_addr()).await.unwrap();
    let announced = peer_listener.local_addr().unwrap().to_string();
    outgoing
        .write_all(&handshake_from(2, announced))
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(10), outgoing.read(&mut byte)).await;
    assert_eq!(
        closed.expect("closed within 10 s").unwrap(),
        0,
        "5 closes the connection that 2 opened"
    );
    // ...and 5 connects back to the address 2 announced, with its own handshake.
    let (mut incoming, _) = tokio::time::timeout(Duration::from_secs(10), peer_listener.accept())
        .await
        .expect("5 connects back within 10 s")
        .unwrap();
    let mut head = [0u8; 20];
    incoming.read_exact(&mut head).await.unwrap();
    assert_eq!(
        i64::from_be_bytes(head[..8].try_into().unwrap()),
        InitialMessage::PROTOCOL_V1
    );
    assert_eq!(i64::from_be_bytes(head[8..16].try_into().unwrap()), 5);
    let len = i32::from_be_bytes(head[16..].try_into().unwrap()) as usize;
    let mut address = vec![0; len];
    incoming.read_exact(&mut address).await.unwrap();
    assert_eq!(
        String::from_utf8(address).unwrap(),
        m5.local_addr().to_string()
    );
    // That connection carries messages both ways.
    m5.send(ServerId(2), Bytes::from_static(b"vote"));
    assert_eq!(read_frame(&mut incoming).await, b"vote");
    incoming.write_all(&frame(b"reply")).await.unwrap();
    let got = recv(&m5).await;
    assert_eq!((got.from, &got.payload[..]), (ServerId(2), &b"reply"[..]));
}

#[tokio::test]
async fn a_frame_of_bad_length_closes_only_that_link() {
    let l1 = listener().await;
    let m1 = QuorumCnxManager::start_on(config(1, &l1, &[]), l1).unwrap();
    for bad in [0i32, -1, 512 * 1024 + 1] {
        let mut peer = TcpStream::connect(m1.local_addr()).await.unwrap();
        peer.write_all(&handshake(7)).await.unwrap();
        peer.write_all(&bad.to_be_bytes()).await.unwrap();
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), peer.read_to_end(&mut rest)).await;
        assert!(matches!(read, Ok(Ok(0))), "length {bad} closes the link");
    }
    // The largest allowed frame still gets through on a fresh link.
    let mut peer = TcpStream::connect(m1.local_addr()).await.unwrap();
    peer.write_all(&handshake(7)).await.unwrap();
    let big = vec![7u8; 512 * 1024];
    peer.write_all(&frame(&big)).await.unwrap();
    let got = recv(&m1).await;
    assert_eq!((got.from, got.payload.len()), (ServerId(7), 512 * 1024));
}

#[tokio::test]
async fn a_pre_3_5_handshake_of_only_an_id_is_accepted() {
    let l1 = listener().await;
    let m1 = QuorumCnxManager::start_on(config(1, &l1, &[]), l1).unwrap();
    let mut peer = TcpStream::connect(m1.local_addr()).await.unwrap();
    peer.write_all(&9i64.to_be_bytes()).await.unwrap();
    peer.write_all(&frame(b"old")).await.unwrap();
    assert_eq!(recv(&m1).await.from, ServerId(9));
}

#[tokio::test]
async fn the_last_message_is_sent_again_after_a_reconnect() {
    let l1 = listener().await;
    let m1 = QuorumCnxManager::start_on(config(1, &l1, &[]), l1).unwrap();
    let mut peer = TcpStream::connect(m1.local_addr()).await.unwrap();
    peer.write_all(&handshake(6)).await.unwrap();
    peer.write_all(&frame(b"hello")).await.unwrap();
    assert_eq!(recv(&m1).await.from, ServerId(6));
    m1.send(ServerId(6), Bytes::from_static(b"my vote"));
    assert_eq!(read_frame(&mut peer).await, b"my vote");
    drop(peer);
    // The peer comes back; with nothing new queued, 1 repeats its last message to it.
    let mut again = TcpStream::connect(m1.local_addr()).await.unwrap();
    again.write_all(&handshake(6)).await.unwrap();
    assert_eq!(read_frame(&mut again).await, b"my vote");
}

async fn wait_reachability(manager: &QuorumCnxManager) {
    tokio::time::timeout(Duration::from_secs(10), manager.reachability_changed())
        .await
        .expect("a reachability change within 10 s");
}

#[tokio::test]
async fn a_peer_that_refuses_connections_is_reported_unreachable() {
    let l1 = listener().await;
    let dead = listener().await;
    let c1 = config(1, &l1, &[(2, &dead)]);
    drop(dead);
    let m1 = QuorumCnxManager::start_on(c1, l1).unwrap();
    assert!(
        m1.unreachable().is_empty(),
        "nothing is known before trying"
    );
    m1.send(ServerId(2), Bytes::from_static(b"vote"));
    wait_reachability(&m1).await;
    assert_eq!(
        m1.unreachable().into_iter().collect::<Vec<_>>(),
        [ServerId(2)]
    );
}

#[tokio::test]
async fn a_peer_that_dies_is_known_unreachable_without_a_new_message() {
    let (l1, l2) = (listener().await, listener().await);
    let c1 = config(1, &l1, &[(2, &l2)]);
    let m1 = QuorumCnxManager::start_on(c1, l1).unwrap();
    // Server 2 (higher id) connects and keeps the link up for a while, then its process dies:
    // the link closes and its port refuses connections.
    let mut link = TcpStream::connect(m1.local_addr()).await.unwrap();
    link.write_all(&handshake_from(2, l2.local_addr().unwrap().to_string()))
        .await
        .unwrap();
    m1.send(ServerId(2), Bytes::from_static(b"vote"));
    assert_eq!(read_frame(&mut link).await, b"vote");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    drop(l2);
    drop(link);
    wait_reachability(&m1).await;
    assert_eq!(
        m1.unreachable().into_iter().collect::<Vec<_>>(),
        [ServerId(2)]
    );
    assert!(!m1.is_connected(ServerId(2)));
}

#[tokio::test]
async fn an_unreachable_peer_that_connects_is_reachable_again() {
    let l1 = listener().await;
    let l2 = listener().await;
    let addr2 = l2.local_addr().unwrap().to_string();
    let c1 = config(1, &l1, &[(2, &l2)]);
    drop(l2);
    let m1 = QuorumCnxManager::start_on(c1, l1).unwrap();
    m1.send(ServerId(2), Bytes::from_static(b"vote"));
    wait_reachability(&m1).await;
    assert!(m1.unreachable().contains(&ServerId(2)));
    let mut link = TcpStream::connect(m1.local_addr()).await.unwrap();
    link.write_all(&handshake_from(2, addr2)).await.unwrap();
    wait_reachability(&m1).await;
    assert!(m1.unreachable().is_empty());
    assert_eq!(read_frame(&mut link).await, b"vote");
}
