//! Container reaping: a container whose last child is deleted disappears within a few
//! `znode.container.checkIntervalMs`; one that never had a child, and one that still has a child,
//! stay.

use std::time::{Duration, Instant};

use zk_client::{Acl, Client, CreateMode};
use zk_server::{Server, ServerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emptied_container_is_reaped_after_the_check_interval() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "tickTime=200\ndataDir={}\nclientPort=0\nclientPortAddress=127.0.0.1\n\
         znode.container.checkIntervalMs=100\nadmin.enableServer=false\n",
        dir.path().display()
    );
    let server = Server::start(ServerConfig::parse(&text).unwrap())
        .await
        .unwrap();
    let client = Client::connect(&server.client_addr().to_string(), Duration::from_secs(10))
        .await
        .unwrap();
    let open = Acl::open_unsafe();
    for path in ["/never", "/emptied", "/kept"] {
        client
            .create(path, b"", &open, CreateMode::Container)
            .await
            .unwrap();
    }
    for path in ["/emptied/kid", "/kept/kid"] {
        client
            .create(path, b"", &open, CreateMode::Persistent)
            .await
            .unwrap();
    }
    client.delete("/emptied/kid", None).await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    while client.exists("/emptied").await.unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "/emptied is still there 20 s after its last child went"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The check that deleted /emptied looked at the other two and kept them.
    assert!(client.exists("/never").await.unwrap().is_some());
    assert!(client.exists("/kept").await.unwrap().is_some());
    assert!(client.exists("/kept/kid").await.unwrap().is_some());
    client.close().await;
    server.shutdown().await;
}
