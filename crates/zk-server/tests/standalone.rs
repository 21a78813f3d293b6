//! The standalone server through raw sockets: handshake, writes, reads, watches, multi, errors,
//! sessions and restarts.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use zk_jute::multi::{MultiOp, MultiRequest, MultiResponse, MultiResult};
use zk_jute::proto::*;
use zk_jute::{Acl, OpCode, Record, SessionId, Xid, Zxid};
use zk_server::{Server, ServerConfig};

mod common;

use common::raw::{frame, read_frame};

fn config(dir: &std::path::Path) -> ServerConfig {
    let text = format!(
        "tickTime=200\ndataDir={}\nclientPort=0\nmaxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\n",
        dir.display()
    );
    ServerConfig::parse(&text).unwrap()
}

struct Client {
    s: TcpStream,
    xid: i32,
    session: i64,
    passwd: Bytes,
    timeout: i32,
}

impl Client {
    fn connect_with(addr: SocketAddr, session: i64, passwd: Bytes) -> (TcpStream, ConnectResponse) {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: Zxid(0),
            time_out: 30_000,
            session_id: SessionId(session),
            passwd,
        };
        let mut b = BytesMut::new();
        req.write_with_flag(false, &mut b);
        s.write_all(&frame(&b)).unwrap();
        let mut resp = read_frame(&mut s).unwrap();
        let (r, flag) = ConnectResponse::read_with_flag(&mut resp).unwrap();
        assert_eq!(flag, Some(false));
        (s, r)
    }

    fn connect(addr: SocketAddr) -> Client {
        let (s, r) = Self::connect_with(addr, 0, Bytes::from(vec![0u8; 16]));
        assert_eq!(
            r.session_id.0 >> 56,
            1,
            "standalone session ids carry server id 1"
        );
        Client {
            s,
            xid: 0,
            session: r.session_id.0,
            passwd: r.passwd,
            timeout: r.time_out,
        }
    }

    fn send(&mut self, op: OpCode, body: &impl Record) -> i32 {
        self.xid += 1;
        let mut b = BytesMut::new();
        RequestHeader {
            xid: Xid(self.xid),
            r#type: op.code(),
        }
        .write(&mut b);
        body.write(&mut b);
        self.s.write_all(&frame(&b)).unwrap();
        self.xid
    }

    /// Next reply, skipping nothing: returns (header, body).
    fn recv(&mut self) -> (ReplyHeader, Bytes) {
        let mut f = read_frame(&mut self.s).unwrap();
        let h = ReplyHeader::read(&mut f).unwrap();
        (h, f)
    }

    fn call(&mut self, op: OpCode, body: &impl Record) -> (ReplyHeader, Bytes) {
        let xid = self.send(op, body);
        let (h, b) = self.recv();
        assert_eq!(h.xid.0, xid);
        (h, b)
    }

    fn create(&mut self, path: &str, data: &[u8], flags: i32) -> (ReplyHeader, Bytes) {
        self.call(
            OpCode::Create2,
            &CreateRequest {
                path: path.into(),
                data: Some(Bytes::copy_from_slice(data)),
                acl: Acl::open_unsafe(),
                flags,
            },
        )
    }
}

fn four(addr: SocketAddr, word: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(word.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn local(addr: SocketAddr) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], addr.port()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_watch_multi_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(dir.path())).await.unwrap();
    let addr = local(server.client_addr());
    let d = dir.path().to_path_buf();
    let handle = tokio::task::spawn_blocking(move || {
        let mut c = Client::connect(addr);
        assert_eq!(c.timeout, 4000, "30 s is clamped to 20 ticks of 200 ms");
        let (h, mut b) = c.create("/a", b"v1", 0);
        assert_eq!(h.err, 0);
        let r = Create2Response::read(&mut b).unwrap();
        assert_eq!(r.path, "/a");
        assert_eq!(r.stat.czxid, h.zxid);
        let (h, _) = c.create("/a", b"v1", 0);
        assert_eq!(h.err, -110);
        let (h, _) = c.create("/missing/x", b"", 0);
        assert_eq!(h.err, -101);
        // A data watch, then a change from another session: the event comes with the change's zxid.
        let (h, mut b) = c.call(
            OpCode::GetData,
            &GetDataRequest {
                path: "/a".into(),
                watch: true,
            },
        );
        assert_eq!(h.err, 0);
        assert_eq!(
            GetDataResponse::read(&mut b).unwrap().data.as_deref(),
            Some(&b"v1"[..])
        );
        let mut other = Client::connect(addr);
        let (h2, _) = other.call(
            OpCode::SetData,
            &SetDataRequest {
                path: "/a".into(),
                data: Some(Bytes::from_static(b"v2")),
                version: 0,
            },
        );
        assert_eq!(h2.err, 0);
        let (ev, mut b) = c.recv();
        assert_eq!(ev.xid.0, -1);
        assert_eq!(ev.zxid, h2.zxid);
        let e = WatcherEvent::read(&mut b).unwrap();
        assert_eq!((e.r#type, e.path.as_str()), (3, "/a"));
        // Pipelined requests answer in order.
        let x1 = c.send(
            OpCode::Exists,
            &ExistsRequest {
                path: "/nope".into(),
                watch: false,
            },
        );
        let x2 = c.send(
            OpCode::SetData,
            &SetDataRequest {
                path: "/a".into(),
                data: None,
                version: 5,
            },
        );
        let x3 = c.send(OpCode::Sync, &SyncRequest { path: "/a".into() });
        let (r1, _) = c.recv();
        let (r2, _) = c.recv();
        let (r3, mut b3) = c.recv();
        assert_eq!((r1.xid.0, r1.err), (x1, -101));
        assert_eq!((r2.xid.0, r2.err), (x2, -103));
        assert_eq!(r3.xid.0, x3);
        assert_eq!(SyncResponse::read(&mut b3).unwrap().path, "/a");
        // Multi: create2 results carry their stat; a failed multi is err 0 with error results.
        let m = MultiRequest {
            ops: vec![
                MultiOp::Create {
                    op: OpCode::Create2,
                    request: CreateRequest {
                        path: "/m".into(),
                        data: None,
                        acl: Acl::open_unsafe(),
                        flags: 0,
                    },
                },
                MultiOp::SetData(SetDataRequest {
                    path: "/a".into(),
                    data: None,
                    version: -1,
                }),
            ],
        };
        let (h, mut b) = c.call(OpCode::Multi, &m);
        assert_eq!(h.err, 0);
        let r = MultiResponse::read(&mut b).unwrap();
        match &r.results[0] {
            MultiResult::Create2(c2) => assert_eq!(c2.stat.czxid, h.zxid),
            other => panic!("{other:?}"),
        }
        let bad = MultiRequest {
            ops: vec![
                MultiOp::Delete(DeleteRequest {
                    path: "/m".into(),
                    version: -1,
                }),
                MultiOp::Delete(DeleteRequest {
                    path: "/nope".into(),
                    version: -1,
                }),
            ],
        };
        let (h, mut b) = c.call(OpCode::Multi, &bad);
        assert_eq!(h.err, 0);
        let r = MultiResponse::read(&mut b).unwrap();
        assert_eq!(
            r.results,
            vec![MultiResult::Error(0), MultiResult::Error(-101)]
        );
        // A bare check is rejected.
        let (h, _) = c.call(
            OpCode::Check,
            &CheckVersionRequest {
                path: "/a".into(),
                version: 1,
            },
        );
        assert_eq!(h.err, -6);
        // Ephemerals, getEphemerals, getAllChildrenNumber, whoAmI.
        let (h, _) = c.create("/a/e", b"", 1);
        assert_eq!(h.err, 0);
        let (_, mut b) = c.call(
            OpCode::GetEphemerals,
            &GetEphemeralsRequest {
                prefix_path: "/".into(),
            },
        );
        assert_eq!(
            GetEphemeralsResponse::read(&mut b).unwrap().ephemerals,
            vec!["/a/e".to_string()]
        );
        let (_, mut b) = c.call(
            OpCode::GetAllChildrenNumber,
            &GetAllChildrenNumberRequest { path: "/a".into() },
        );
        assert_eq!(
            GetAllChildrenNumberResponse::read(&mut b)
                .unwrap()
                .total_number,
            1
        );
        let (h, mut b) = c.call(OpCode::WhoAmI, &ErrorResponse { err: 0 });
        assert_eq!(h.err, 0);
        let who = WhoAmIResponse::read(&mut b).unwrap();
        assert_eq!(who.client_info[0].auth_scheme, "ip");
        // Reconnect with a wrong password: refused; with the right one: accepted.
        let (_, r) = Client::connect_with(addr, c.session, Bytes::from(vec![1u8; 16]));
        assert_eq!((r.time_out, r.session_id.0), (0, 0));
        let (mut s2, r) = Client::connect_with(addr, c.session, c.passwd.clone());
        assert_eq!(r.session_id.0, c.session);
        // Ping on the new connection.
        let mut b = BytesMut::new();
        RequestHeader {
            xid: Xid(-2),
            r#type: 11,
        }
        .write(&mut b);
        s2.write_all(&frame(&b)).unwrap();
        let mut f = read_frame(&mut s2).unwrap();
        assert_eq!(ReplyHeader::read(&mut f).unwrap().xid.0, -2);
        // Close the session: the ephemeral goes.
        let mut b = BytesMut::new();
        RequestHeader {
            xid: Xid(7),
            r#type: -11,
        }
        .write(&mut b);
        s2.write_all(&frame(&b)).unwrap();
        let mut f = read_frame(&mut s2).unwrap();
        assert_eq!(ReplyHeader::read(&mut f).unwrap().err, 0);
        let (h, _) = other.call(
            OpCode::Exists,
            &ExistsRequest {
                path: "/a/e".into(),
                watch: false,
            },
        );
        assert_eq!(h.err, -101);
        // Unknown opcode: Unimplemented, then the connection closes.
        let (h, _) = other.call(OpCode::Notification, &ErrorResponse { err: 0 });
        assert_eq!(h.err, -6);
        assert!(read_frame(&mut other.s).is_err());
        // Four-letter words.
        assert_eq!(four(addr, "ruok"), "imok");
        let srvr = four(addr, "srvr");
        assert!(srvr.contains("Mode: standalone"), "{srvr}");
        assert!(four(addr, "conf").contains(&format!("dataDir={}", d.join("version-2").display())));
    });
    handle.await.unwrap();
    server.shutdown().await;
    // Restart on the same directory: the data is there.
    let server = Server::start(config(dir.path())).await.unwrap();
    let addr = local(server.client_addr());
    tokio::task::spawn_blocking(move || {
        let mut c = Client::connect(addr);
        let (h, mut b) = c.call(
            OpCode::GetData,
            &GetDataRequest {
                path: "/a".into(),
                watch: false,
            },
        );
        assert_eq!(h.err, 0);
        assert_eq!(GetDataResponse::read(&mut b).unwrap().data, None);
        let (h, _) = c.call(
            OpCode::Exists,
            &ExistsRequest {
                path: "/m".into(),
                watch: false,
            },
        );
        assert_eq!(h.err, 0);
    })
    .await
    .unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_close_only_that_connection_and_sessions_expire() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(dir.path())).await.unwrap();
    let addr = local(server.client_addr());
    tokio::task::spawn_blocking(move || {
        let mut keep = Client::connect(addr);
        let (h, _) = keep.create("/e", b"", 1);
        assert_eq!(h.err, 0);
        // Oversized frame.
        let mut c = Client::connect(addr);
        c.s.write_all(&0x7fff_ffffu32.to_be_bytes()).unwrap();
        assert!(read_frame(&mut c.s).is_err());
        // Negative length.
        let mut c = Client::connect(addr);
        c.s.write_all(&(-5i32).to_be_bytes()).unwrap();
        assert!(read_frame(&mut c.s).is_err());
        // Truncated header.
        let mut c = Client::connect(addr);
        c.s.write_all(&frame(&[0, 0, 1])).unwrap();
        assert!(read_frame(&mut c.s).is_err());
        // The first client is unharmed.
        let (h, _) = keep.call(
            OpCode::Exists,
            &ExistsRequest {
                path: "/e".into(),
                watch: false,
            },
        );
        assert_eq!(h.err, 0);
        // Stop pinging: the session expires within its timeout (4 s) plus a tick, the ephemeral goes.
        let mut watcher = Client::connect(addr);
        let (h, _) = watcher.call(
            OpCode::Exists,
            &ExistsRequest {
                path: "/e".into(),
                watch: true,
            },
        );
        assert_eq!(h.err, 0);
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            // The watcher pings to stay alive and waits for the deletion event.
            let mut b = BytesMut::new();
            RequestHeader {
                xid: Xid(-2),
                r#type: 11,
            }
            .write(&mut b);
            watcher.s.write_all(&frame(&b)).unwrap();
            let (h, mut body) = watcher.recv();
            if h.xid.0 == -1 {
                let e = WatcherEvent::read(&mut body).unwrap();
                assert_eq!((e.r#type, e.path.as_str()), (2, "/e"));
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "session never expired"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = keep.s.read(&mut [0u8; 1]);
        let _ = bytes::Bytes::new().remaining();
        let _ = BytesMut::new().remaining_mut();
    })
    .await
    .unwrap();
    server.shutdown().await;
}
