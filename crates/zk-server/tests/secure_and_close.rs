//! TLS on secureClientPort (PEM key and certificate), and the closeSession reply through a raw
//! socket: `ReplyHeader(xid, zxid, 0)` arrives before the server closes the connection.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zk_jute::proto::{ReplyHeader, RequestHeader};
use zk_jute::{OpCode, Record, Xid};
use zk_server::{Server, ServerConfig};

mod common;

use common::raw::{frame, open_session, read_frame};

fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
        .display()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_on_the_secure_client_port_with_a_pem_key_store() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "tickTime=200\ndataDir={}\nclientPort=0\nsecureClientPort=0\n4lw.commands.whitelist=*\nssl.keyStore.location={}\nssl.keyStore.type=PEM\nssl.keyStore.password=unused\nadmin.enableServer=false\n",
        dir.path().display(),
        data("tls-both.pem")
    );
    let server = Server::start(ServerConfig::parse(&text).unwrap())
        .await
        .unwrap();
    let secure = server.secure_addr().expect("secure port bound");
    assert_ne!(secure, server.client_addr());

    let mut roots = rustls::RootCertStore::empty();
    let cert = std::fs::read(data("tls-ca.pem")).unwrap();
    for c in rustls_pki_types::pem::PemObject::pem_slice_iter(&cert) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = tokio::net::TcpStream::connect(secure).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(b"ruok").await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), tls.read_to_string(&mut answer))
        .await
        .unwrap()
        .ok();
    assert_eq!(answer, "imok");

    // A plain client on the secure port gets no session: the handshake fails and it is closed.
    let mut plain = tokio::net::TcpStream::connect(secure).await.unwrap();
    plain.write_all(b"ruok").await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), plain.read_to_end(&mut buf))
        .await
        .unwrap();
    assert!(!buf.starts_with(b"imok"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_client_port_without_pem_material_fails_to_start_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "dataDir={}\nclientPort=0\nsecureClientPort=0\nssl.keyStore.location=/nonexistent/keystore.jks\nadmin.enableServer=false\n",
        dir.path().display()
    );
    let err = Server::start(ServerConfig::parse(&text).unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("ssl.keyStore.type=PEM"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_session_is_answered_before_the_connection_closes() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "tickTime=200\ndataDir={}\nclientPort=0\nadmin.enableServer=false\n",
        dir.path().display()
    );
    let server = Server::start(ServerConfig::parse(&text).unwrap())
        .await
        .unwrap();
    let addr = server.client_addr();
    tokio::task::spawn_blocking(move || {
        let (mut s, r) = open_session(addr);
        assert_ne!(r.session_id.0, 0);
        let mut b = BytesMut::new();
        RequestHeader {
            xid: Xid(7),
            r#type: OpCode::CloseSession.code(),
        }
        .write(&mut b);
        s.write_all(&frame(&b)).unwrap();
        let mut reply = read_frame(&mut s).expect("the closeSession reply arrives");
        let h = ReplyHeader::read(&mut reply).unwrap();
        assert_eq!(h.xid.0, 7);
        assert_eq!(h.err, 0);
        assert!(h.zxid.0 > 0, "the closeSession txn's zxid: {h:?}");
        assert!(reply.is_empty());
        // Then the server closes the connection.
        let mut rest = Vec::new();
        assert_eq!(s.read_to_end(&mut rest).unwrap(), 0);
    })
    .await
    .unwrap();
    server.shutdown().await;
}
