//! Backups over the AdminServer (3.9's `snapshot` command): taken under write load, the streamed
//! snapshot restores to a tree whose digest equals the server's at the backup's zxid, as the
//! server's own txn log records it. A second backup within the interval is refused.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use zk_client::{Acl, Client, CreateMode};
use zk_jute::Zxid;
use zk_server::{Server, ServerConfig};

/// GET over HTTP/1.1: status, the `last_zxid` header, the body.
async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, Option<String>, Bytes) {
    let (status, headers, body) = common::http::get(addr, path).await;
    let zxid = Some(common::http::header(&headers, "last_zxid")).filter(|z| !z.is_empty());
    (status, zxid, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_to_the_servers_tree_at_its_zxid() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = format!(
        "tickTime=2000\ndataDir={}\nclientPort=0\nclientPortAddress=127.0.0.1\n\
         admin.serverAddress=127.0.0.1\nadmin.serverPort=0\nadmin.snapshot.enabled=true\n\
         admin.snapshot.intervalInMS=600000\n",
        dir.path().join("data").display()
    );
    let server = Server::start(ServerConfig::parse(&text).expect("zoo.cfg"))
        .await
        .expect("server starts");
    let admin = server.admin_addr().expect("the AdminServer is on");
    let address = server.client_addr().to_string();

    // Writers keep creating and updating nodes while the backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..3 {
        let c = Client::connect(&address, Duration::from_secs(10))
            .await
            .expect("connect");
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let path = format!("/w{w}-{n}");
                c.create(&path, b"v", &Acl::open_unsafe(), CreateMode::Persistent)
                    .await
                    .expect("create");
                c.set_data(&path, &n.to_be_bytes(), None)
                    .await
                    .expect("set");
                n += 1;
            }
            n
        }));
    }
    let probe = Client::connect(&address, Duration::from_secs(10))
        .await
        .expect("connect");
    while probe.get_all_children_number("/").await.expect("count") < 300 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, zxid, body) = get(admin, "/commands/snapshot?streaming=true").await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let zxid = zxid.expect("a last_zxid header");
    let zxid = Zxid(i64::from_str_radix(zxid.trim_start_matches("0x"), 16).expect("hex zxid"));
    // Within the interval, the next one is refused.
    let (again, _, _) = get(admin, "/commands/snapshot").await;
    assert_eq!(again, 429);
    stop.store(true, Ordering::Relaxed);
    let mut writes = 0;
    for w in writers {
        writes += w.await.expect("writer");
    }
    assert!(writes > 0);
    // The server's digest right after the txn at the backup's zxid, from its own log.
    let server_log = dir.path().join("data").join("version-2");
    let at_backup = zk_persistence::read_dir(&server_log, zxid)
        .expect("server log")
        .live()
        .map_while(Result::ok)
        .find(|t| t.zxid() == zxid)
        .and_then(|t| t.entry.digest)
        .expect("the backup's zxid is a logged txn with a digest")
        .tree_digest;
    server.shutdown().await;

    // Restore: the backup is a complete snapshot file named for its zxid.
    let restored = tempfile::tempdir().expect("temp dir");
    let version2 = restored.path().join("version-2");
    std::fs::create_dir_all(&version2).expect("version-2");
    std::fs::write(version2.join(format!("snapshot.{:x}", zxid.0)), &body).expect("write");
    let mut store = zk_persistence::FileTxnSnapLog::open(
        restored.path(),
        restored.path(),
        zk_persistence::StoreOptions::default(),
    )
    .expect("open restored dir");
    let tree = zk_persistence::restore_tree(&mut store, zk_datatree::TreeConfig::default())
        .expect("the backup loads")
        .tree;
    assert_eq!(tree.last_processed_zxid(), zxid);
    assert_eq!(
        tree.digest(),
        at_backup,
        "restored digest = server's at the backup zxid"
    );
    assert!(tree.node_count() > 300);
}
