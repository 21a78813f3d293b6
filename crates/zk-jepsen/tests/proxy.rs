//! Each fault mode of the proxy, seen from a client of a loopback echo server. Every wait is
//! bounded; nothing depends on how fast the machine is.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout};
use zk_jepsen::proxy::Stats;
use zk_jepsen::{Direction, Mesh, PartitionStyle, Proxy, ProxyHandle};

const BOUND: Duration = Duration::from_secs(10);

/// Echoes every byte back, on a free loopback port.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// Writes its name to every connection, then echoes.
async fn named_server(name: String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let name = name.clone();
            tokio::spawn(async move {
                let _ = stream.write_all(name.as_bytes()).await;
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// Awaits a proxy control, bounded.
async fn bounded<T>(control: impl std::future::Future<Output = T>) -> T {
    timeout(BOUND, control)
        .await
        .expect("the control never took effect")
}

async fn connect(addr: SocketAddr) -> TcpStream {
    timeout(BOUND, TcpStream::connect(addr))
        .await
        .expect("connect timed out")
        .expect("connect failed")
}

async fn read_n(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    timeout(BOUND, stream.read_exact(&mut buf))
        .await
        .expect("read timed out")
        .expect("read failed");
    buf
}

async fn echo(stream: &mut TcpStream, data: &[u8]) {
    stream.write_all(data).await.unwrap();
    assert_eq!(read_n(stream, data.len()).await, data);
}

/// Waits (bounded) until the peer closed the connection: end of stream or a reset.
async fn assert_closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 64];
    match timeout(BOUND, stream.read(&mut buf))
        .await
        .expect("the connection stayed open")
    {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("read {n} bytes from a connection that should be closed"),
    }
}

/// Waits (bounded) until the proxy's counters satisfy `done`.
async fn wait_stats(proxy: &ProxyHandle, done: impl Fn(&Stats) -> bool) {
    let deadline = Instant::now() + BOUND;
    while !done(&proxy.stats()) {
        assert!(
            Instant::now() < deadline,
            "stats stayed {:?}",
            proxy.stats()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test]
async fn forwards_both_ways_and_counts() {
    let proxy = Proxy::start(echo_server().await).await.unwrap();
    let mut client = connect(proxy.listen_addr()).await;
    echo(&mut client, b"hello").await;
    echo(&mut client, b"again").await;
    let stats = proxy.stats();
    assert_eq!(stats.relayed, 1);
    assert_eq!(stats.forwarded_upstream, 10);
    assert_eq!(stats.forwarded_downstream, 10);
    assert_eq!(proxy.connections(), 1);
    // An orderly close reaches the far side and back.
    client.shutdown().await.unwrap();
    assert_closed(&mut client).await;
}

#[tokio::test]
async fn a_delay_holds_each_direction_back_and_keeps_the_bytes() {
    let proxy = Proxy::start(echo_server().await).await.unwrap();
    let mut client = connect(proxy.listen_addr()).await;
    echo(&mut client, b"warm").await;
    let delay = Duration::from_millis(100);
    proxy.set_delay(delay);
    let started = Instant::now();
    echo(&mut client, b"slow bytes").await;
    // A timer never fires early: the echo crossed the proxy twice.
    assert!(started.elapsed() >= 2 * delay);
    proxy.set_delay(Duration::ZERO);
    echo(&mut client, b"fast again").await;
}

#[tokio::test]
async fn drop_all_closes_current_and_new_connections_until_healed() {
    let proxy = Proxy::start(echo_server().await).await.unwrap();
    let mut before = connect(proxy.listen_addr()).await;
    echo(&mut before, b"up").await;
    bounded(proxy.drop_all()).await.unwrap();
    assert_closed(&mut before).await;
    // A new connection is accepted, then closed at once.
    let mut during = connect(proxy.listen_addr()).await;
    assert_closed(&mut during).await;
    wait_stats(&proxy, |s| s.dropped >= 1).await;
    bounded(proxy.heal()).await.unwrap();
    let mut after = connect(proxy.listen_addr()).await;
    echo(&mut after, b"back").await;
}

#[tokio::test]
async fn an_upstream_black_hole_discards_what_the_client_sends_and_keeps_the_connection() {
    let proxy = Proxy::start(echo_server().await).await.unwrap();
    let mut client = connect(proxy.listen_addr()).await;
    echo(&mut client, b"one").await;
    proxy.blackhole(Direction::Upstream);
    client.write_all(b"lost").await.unwrap();
    wait_stats(&proxy, |s| s.discarded_upstream == 4).await;
    bounded(proxy.heal()).await.unwrap();
    // Only what was sent after healing comes back: "lost" never reached the server.
    echo(&mut client, b"kept").await;
    assert_eq!(proxy.stats().forwarded_upstream, 3 + 4);
}

#[tokio::test]
async fn a_downstream_black_hole_discards_the_replies_and_keeps_the_connection() {
    let proxy = Proxy::start(echo_server().await).await.unwrap();
    let mut client = connect(proxy.listen_addr()).await;
    proxy.blackhole(Direction::Downstream);
    client.write_all(b"gone").await.unwrap();
    // The server got it and echoed it; the proxy threw the echo away.
    wait_stats(&proxy, |s| {
        s.forwarded_upstream == 4 && s.discarded_downstream == 4
    })
    .await;
    bounded(proxy.heal()).await.unwrap();
    echo(&mut client, b"back").await;
}

#[tokio::test]
async fn a_black_hole_both_ways_carries_nothing_and_new_connections_are_still_accepted() {
    let proxy = Proxy::start(echo_server().await).await.unwrap();
    let mut client = connect(proxy.listen_addr()).await;
    proxy.blackhole(Direction::Both);
    client.write_all(b"void").await.unwrap();
    let mut second = connect(proxy.listen_addr()).await;
    second.write_all(b"void").await.unwrap();
    wait_stats(&proxy, |s| s.discarded_upstream == 8 && s.relayed == 2).await;
    assert_eq!(proxy.stats().forwarded_upstream, 0);
    bounded(proxy.heal()).await.unwrap();
    echo(&mut client, b"one").await;
    echo(&mut second, b"two").await;
}

#[tokio::test]
async fn a_cut_closes_connections_and_refuses_new_ones_until_healed() {
    let proxy = Proxy::start(echo_server().await).await.unwrap();
    let addr = proxy.listen_addr();
    let mut before = connect(addr).await;
    echo(&mut before, b"up").await;
    bounded(proxy.cut()).await;
    assert_closed(&mut before).await;
    let refused = timeout(BOUND, TcpStream::connect(addr))
        .await
        .expect("connect timed out");
    assert_eq!(
        refused.map(|_| ()).unwrap_err().kind(),
        io::ErrorKind::ConnectionRefused
    );
    bounded(proxy.heal()).await.unwrap();
    assert_eq!(proxy.listen_addr(), addr);
    let mut after = connect(addr).await;
    echo(&mut after, b"back").await;
}

#[tokio::test]
async fn an_unreachable_target_closes_the_client_connection() {
    // A port that was free a moment ago: nothing listens there.
    let target = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let proxy = Proxy::start(target).await.unwrap();
    let mut client = connect(proxy.listen_addr()).await;
    assert_closed(&mut client).await;
}

#[tokio::test]
async fn a_mesh_partitions_members_and_heals() {
    let mut targets = BTreeMap::new();
    for m in 1..=3u32 {
        let mut ports = Vec::new();
        for p in 0..2 {
            ports.push(named_server(format!("m{m}p{p}")).await);
        }
        targets.insert(m, ports);
    }
    let mesh = Mesh::start(&targets).await.unwrap();
    assert_eq!(mesh.addr(1, 1, 0), None, "no link to oneself");
    for from in 1..=3u32 {
        for to in (1..=3u32).filter(|t| *t != from) {
            for p in 0..2 {
                let mut s = connect(mesh.addr(from, to, p).unwrap()).await;
                assert_eq!(read_n(&mut s, 4).await, format!("m{to}p{p}").as_bytes());
            }
        }
    }
    bounded(mesh.partition(&[vec![1], vec![2, 3]], PartitionStyle::Cut)).await;
    for (from, to) in [(1, 2), (2, 1), (1, 3), (3, 1)] {
        for p in 0..2 {
            let refused = TcpStream::connect(mesh.addr(from, to, p).unwrap()).await;
            assert!(refused.is_err(), "{from} reached {to}");
        }
    }
    let mut inside = connect(mesh.addr(2, 3, 1).unwrap()).await;
    assert_eq!(read_n(&mut inside, 4).await, b"m3p1");
    assert_eq!(mesh.between(1, 2).count(), 4);

    bounded(mesh.heal()).await.unwrap();
    let mut healed = connect(mesh.addr(1, 2, 0).unwrap()).await;
    assert_eq!(read_n(&mut healed, 4).await, b"m2p0");

    bounded(mesh.partition(&[vec![3], vec![1, 2]], PartitionStyle::Blackhole)).await;
    let mut dark = connect(mesh.addr(3, 1, 0).unwrap()).await;
    dark.write_all(b"ping").await.unwrap();
    // The server's name went down the hole one way, "ping" the other.
    let deadline = Instant::now() + BOUND;
    while !mesh.between(3, 1).any(|p| {
        let s = p.stats();
        s.discarded_downstream == 4 && s.discarded_upstream == 4
    }) {
        assert!(Instant::now() < deadline, "nothing was discarded");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    bounded(mesh.heal()).await.unwrap();
    echo(&mut dark, b"pong").await;
}
