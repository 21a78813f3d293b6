//! autopurge: with `autopurge.purgeInterval` set, the server purges at start and keeps the newest
//! `autopurge.snapRetainCount` snapshots.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use bytes::BytesMut;
use zk_jute::proto::{ReplyHeader, RequestHeader};
use zk_jute::{OpCode, Record, Xid};
use zk_server::{Server, ServerConfig};

mod common;

use common::raw::{frame, open_session, read_frame};

/// Opens and closes one session: two txns, so the next start snapshots at a new zxid.
fn session_round_trip(addr: SocketAddr) {
    let (mut s, _) = open_session(addr);
    let mut b = BytesMut::new();
    RequestHeader {
        xid: Xid(1),
        r#type: OpCode::CloseSession.code(),
    }
    .write(&mut b);
    s.write_all(&frame(&b)).unwrap();
    let mut reply = read_frame(&mut s).unwrap();
    assert_eq!(ReplyHeader::read(&mut reply).unwrap().err, 0);
}

fn snapshots(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("version-2"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("snapshot."))
        .collect();
    v.sort_by_key(|n| i64::from_str_radix(&n["snapshot.".len()..], 16).unwrap_or(0));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autopurge_keeps_the_newest_snap_retain_count_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let base = format!(
        "tickTime=200\ndataDir={}\nclientPort=0\nadmin.enableServer=false\n",
        dir.path().display()
    );
    for _ in 0..5 {
        let server = Server::start(ServerConfig::parse(&base).unwrap())
            .await
            .unwrap();
        assert!(!server.wait_for_purges(1), "autopurge is off by default");
        let addr = server.client_addr();
        tokio::task::spawn_blocking(move || session_round_trip(addr))
            .await
            .unwrap();
        server.shutdown().await;
    }
    let before = snapshots(dir.path());
    assert!(before.len() >= 5, "{before:?}");

    let text = format!("{base}autopurge.snapRetainCount=3\nautopurge.purgeInterval=1\n");
    let server = Server::start(ServerConfig::parse(&text).unwrap())
        .await
        .unwrap();
    let server = tokio::task::spawn_blocking(move || {
        assert!(server.wait_for_purges(1));
        server
    })
    .await
    .unwrap();
    let after = snapshots(dir.path());
    // The start-up snapshot of this run is the newest; the two before it stay too.
    assert_eq!(after.len(), 3, "{after:?}");
    assert_eq!(after[..2], before[before.len() - 2..]);
    let addr = server.client_addr();
    tokio::task::spawn_blocking(move || session_round_trip(addr))
        .await
        .unwrap();
    server.shutdown().await;
}
