//! Shared by the tests of the offline tools: running our binaries and Apache's tool classes side
//! by side, a minimal blocking client to make a real Apache server write a data directory, and a
//! snapshot built to stress the order SnapshotFormatter prints in.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use zk_jute::proto::{
    ConnectRequest, ConnectResponse, CreateRequest, DeleteRequest, ReplyHeader, RequestHeader,
    SetDataRequest,
};
use zk_jute::{Acl, Id, Record, SessionId, StatPersisted, Xid, Zxid};
use zk_persistence::{Snapshot, SnapshotNode, ZxidDigest};

// The Apache-written data directory and copying it come from the interop tests' helpers.
#[path = "../common/mod.rs"]
mod common;
#[allow(unused_imports)] // each test binary uses a different part
pub use common::{apache_datadir, copy_dir};

/// Runs one of our tools with `TZ=UTC`, feeding `stdin`.
pub fn ours(tool: &str, args: &[&str], stdin: &[u8]) -> Output {
    let exe = match tool {
        "zk-snapshot-formatter" => env!("CARGO_BIN_EXE_zk-snapshot-formatter"),
        "zk-txnlog-toolkit" => env!("CARGO_BIN_EXE_zk-txnlog-toolkit"),
        "zk-datadir-check" => env!("CARGO_BIN_EXE_zk-datadir-check"),
        "zk-restore" => env!("CARGO_BIN_EXE_zk-restore"),
        other => panic!("unknown tool {other}"),
    };
    run(Command::new(exe).args(args), stdin)
}

/// Runs an Apache ZooKeeper 3.8 class with `TZ=UTC` and UTF-8 output, feeding `stdin`.
pub fn apache(class: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut command = Command::new("java");
    command
        .arg("-cp")
        .arg(zk_testkit::java_classpath())
        .arg("-Dfile.encoding=UTF-8")
        .arg("-Dsun.stdout.encoding=UTF-8")
        .arg(class)
        .args(args);
    run(&mut command, stdin)
}

pub const SNAPSHOT_FORMATTER: &str = "org.apache.zookeeper.server.SnapshotFormatter";
pub const TXN_LOG_TOOLKIT: &str = "org.apache.zookeeper.server.persistence.TxnLogToolkit";

fn run(command: &mut Command, stdin: &[u8]) -> Output {
    let mut child = command
        .env("TZ", "UTC")
        .env("LC_ALL", "C.UTF-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    output
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The `snapshot.*` or `log.*` files of a version-2 directory, ascending by zxid.
pub fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<(i64, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_owned();
            let hex = name.strip_prefix(prefix)?.strip_prefix('.')?;
            Some((i64::from_str_radix(hex, 16).ok()?, p))
        })
        .collect();
    files.sort();
    files.into_iter().map(|(_, p)| p).collect()
}

/// A blocking client speaking just enough of the protocol to write.
pub struct RawClient {
    stream: TcpStream,
    xid: i32,
    pub session: SessionId,
}

pub const OPEN: &[(i32, &str, &str)] = &[(31, "world", "anyone")];

pub fn acl(list: &[(i32, &str, &str)]) -> Vec<Acl> {
    list.iter()
        .map(|(perms, scheme, id)| Acl {
            perms: *perms,
            id: Id {
                scheme: (*scheme).into(),
                id: (*id).into(),
            },
        })
        .collect()
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as i32).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

impl RawClient {
    pub fn connect(address: &str) -> RawClient {
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut b = BytesMut::new();
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: Zxid(0),
            time_out: 30_000,
            session_id: SessionId(0),
            passwd: Bytes::from_static(&[0; 16]),
        }
        .write_with_flag(false, &mut b);
        stream.write_all(&frame(&b)).unwrap();
        let mut reply = Self::read_frame(&mut stream);
        let (response, _) = ConnectResponse::read_with_flag(&mut reply).unwrap();
        RawClient {
            stream,
            xid: 0,
            session: response.session_id,
        }
    }

    fn read_frame(stream: &mut TcpStream) -> Bytes {
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).unwrap();
        let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
        stream.read_exact(&mut body).unwrap();
        Bytes::from(body)
    }

    /// Sends one request and returns the error code of its reply (0 = ok).
    pub fn call(&mut self, op: i32, body: &impl Record) -> i32 {
        self.xid += 1;
        let mut b = BytesMut::new();
        RequestHeader {
            xid: Xid(self.xid),
            r#type: op,
        }
        .write(&mut b);
        body.write(&mut b);
        self.stream.write_all(&frame(&b)).unwrap();
        loop {
            let mut reply = Self::read_frame(&mut self.stream);
            let header = ReplyHeader::read(&mut reply).unwrap();
            if header.xid.0 == self.xid {
                return header.err;
            }
        }
    }

    pub fn create(&mut self, path: &str, data: Option<&[u8]>, flags: i32) -> i32 {
        self.create_with(path, data, acl(OPEN), flags)
    }

    pub fn create_with(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: Vec<Acl>,
        flags: i32,
    ) -> i32 {
        let request = CreateRequest {
            path: path.into(),
            data: data.map(Bytes::copy_from_slice),
            acl,
            flags,
        };
        let op = if flags == 4 || flags == 12 { 19 } else { 1 };
        self.call(op, &request)
    }

    pub fn set_data(&mut self, path: &str, data: &[u8], version: i32) -> i32 {
        self.call(
            5,
            &SetDataRequest {
                path: path.into(),
                data: Some(Bytes::copy_from_slice(data)),
                version,
            },
        )
    }

    pub fn delete(&mut self, path: &str) -> i32 {
        self.call(
            2,
            &DeleteRequest {
                path: path.into(),
                version: -1,
            },
        )
    }

    /// closeSession (its reply comes back before the socket closes).
    pub fn close(mut self) {
        self.xid += 1;
        let mut b = BytesMut::new();
        RequestHeader {
            xid: Xid(self.xid),
            r#type: -11,
        }
        .write(&mut b);
        let _ = self.stream.write_all(&frame(&b));
        let _ = Self::read_frame(&mut self.stream);
    }
}

/// Makes a real Apache ZooKeeper 3.8 write a data directory into `data_dir`: several snapshots
/// and log files (snapCount 25), nodes of several kinds, ephemerals of open sessions, a closed
/// session, failed writes. The server is killed at the end, as a crash would.
pub fn apache_writes_datadir(data_dir: &Path) {
    let server = zk_testkit::ApacheServer::start_with(zk_testkit::ApacheOptions {
        data_dir: Some(data_dir.to_path_buf()),
        jvm_args: vec![
            "-Dzookeeper.snapCount=25".into(),
            "-Dzookeeper.extendedTypesEnabled=true".into(),
        ],
        ..Default::default()
    });
    let address = server.address();
    let mut a = RawClient::connect(&address);
    let mut b = RawClient::connect(&address);
    let c = RawClient::connect(&address);
    assert_eq!(a.create("/app", Some(b"app"), 0), 0);
    for i in 0..40 {
        assert_eq!(
            a.create(
                &format!("/app/n{i:02}"),
                Some(format!("v{i}").as_bytes()),
                0
            ),
            0
        );
        if i % 3 == 0 {
            assert_eq!(a.set_data(&format!("/app/n{i:02}"), b"again", -1), 0);
        }
        if i % 7 == 0 {
            assert_eq!(a.delete(&format!("/app/n{i:02}")), 0);
        }
    }
    assert_eq!(a.create("/app/seq-", Some(b"s"), 2), 0);
    assert_eq!(a.create("/app/seq-", None, 2), 0);
    assert_eq!(a.create("/eph-a", Some(b"a"), 1), 0);
    assert_eq!(b.create("/eph-b", Some(b"b"), 1), 0);
    assert_eq!(b.create("/eph-seq-", Some(b""), 3), 0);
    assert_eq!(a.create("/container", None, 4), 0);
    assert_eq!(a.create("/container/child", Some(b"c"), 0), 0);
    assert_eq!(
        a.create_with(
            "/readonly",
            Some(&[0, 0xff, 0xc3, 0x28, b',', b'}', b'%', b'\n']),
            acl(&[(1, "world", "anyone"), (3, "ip", "127.0.0.1")]),
            0
        ),
        0
    );
    assert_eq!(
        a.create("/caf\u{e9}-\u{4e2d}", Some("\u{e9}t\u{e9}".as_bytes()), 0),
        0
    );
    // Failed writes become error txns.
    assert_ne!(a.create("/app", None, 0), 0);
    assert_ne!(a.set_data("/app", b"x", 42), 0);
    assert_ne!(a.delete("/nope"), 0);
    for i in 0..30 {
        assert_eq!(b.set_data("/app", format!("w{i}").as_bytes(), -1), 0);
    }
    b.close();
    // Snapshots are written in the background: let the last one finish before the crash, so
    // every snapshot file is complete.
    let v2 = data_dir.join("version-2");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !files(&v2, "snapshot").iter().all(|f| sealed(f)) {
        assert!(
            std::time::Instant::now() < deadline,
            "Apache did not finish its snapshot"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(c);
    drop(a);
    drop(server);
}

/// Whether a snapshot file ends with its seal (the string "/"), as a finished one does.
pub fn sealed(path: &Path) -> bool {
    let bytes = std::fs::read(path).unwrap_or_default();
    bytes.len() >= 10 && bytes.ends_with(&[0, 0, 0, 1, b'/'])
}

/// A Java `String.hashCode()`, spread as HashMap does.
pub fn java_spread_hash(s: &str) -> u32 {
    let h = s
        .encode_utf16()
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)));
    (h ^ ((h as u32) >> 16) as i32) as u32
}

fn node(path: &str, data: Option<&[u8]>, acl: i64, seed: i64, owner: i64) -> SnapshotNode {
    SnapshotNode {
        path: path.into(),
        data: data.map(Arc::from),
        acl,
        stat: StatPersisted {
            czxid: Zxid(seed),
            mzxid: Zxid(seed + 3),
            ctime: 1_700_000_000_000 + seed * 1_234_567,
            mtime: 1_700_000_000_000 + seed * 7_654_321,
            version: (seed % 5) as i32,
            cversion: (seed % 11) as i32,
            aversion: (seed % 3) as i32,
            ephemeral_owner: owner,
            pzxid: Zxid(seed + 1),
        },
    }
}

/// A snapshot made to stress SnapshotFormatter's order and text: hundreds of children, a child
/// set whose hash bin grows into a red-black tree and splits, dozens of sessions (negative ids
/// too) with ephemerals, quota nodes with stale stats, names and data that need escaping.
pub fn stress_snapshot() -> Snapshot {
    let mut nodes = vec![
        node("", None, -1, 0, 0),
        node("/zookeeper", Some(b""), -1, 0, 0),
        node("/zookeeper/quota", Some(b""), -1, 0, 0),
        node("/zookeeper/quota/app", None, -1, 0, 0),
        node(
            "/zookeeper/quota/app/zookeeper_limits",
            Some(b"count=100,bytes=-1"),
            -1,
            0,
            0,
        ),
        node(
            "/zookeeper/quota/app/zookeeper_stats",
            Some(b"count=1,bytes=0"),
            -1,
            0,
            0,
        ),
        node("/zookeeper/config", Some(b""), 1, 0, 0),
    ];
    let mut seed = 10;
    let mut next = |path: String, data: Option<Vec<u8>>, acl: i64, owner: i64| {
        seed += 1;
        node(&path, data.as_deref(), acl, seed, owner)
    };
    nodes.push(next("/app".into(), Some(b"application".to_vec()), 1, 0));
    for i in 0..300 {
        let data = match i % 4 {
            0 => None,
            1 => Some(Vec::new()),
            2 => Some(format!("value {i}").into_bytes()),
            _ => Some(vec![i as u8, 0xff, 0, 0x80]),
        };
        nodes.push(next(format!("/app/c{i}"), data, -1, 0));
    }
    // Children sharing one bucket of a 64-slot table, split by the next hash bits, inserted once
    // the set has grown to 64 slots: a tree bin that later splits into two trees.
    nodes.push(next("/tree".into(), None, -1, 0));
    let fillers: Vec<String> = (0..30).map(|i| format!("f{i}")).collect();
    let mut same_bucket: Vec<String> = Vec::new();
    let mut lo = 0;
    let mut hi = 0;
    let target = java_spread_hash("k0") & 63;
    for i in 0.. {
        let name = format!("k{i}");
        let h = java_spread_hash(&name);
        if h & 63 != target {
            continue;
        }
        if h & 64 == 0 && lo < 9 {
            lo += 1;
            same_bucket.push(name);
        } else if h & 64 != 0 && hi < 9 {
            hi += 1;
            same_bucket.push(name);
        }
        if lo == 9 && hi == 9 {
            break;
        }
    }
    for name in fillers.iter().chain(&same_bucket) {
        nodes.push(next(
            format!("/tree/{name}"),
            Some(name.clone().into_bytes()),
            -1,
            0,
        ));
    }
    for i in 0..120 {
        nodes.push(next(format!("/tree/g{i}"), None, -1, 0));
    }
    // All 64 six-pair strings of "Aa"/"BB" share one hash: a tree bin from the start.
    nodes.push(next("/collide".into(), None, -1, 0));
    for i in 0..64u32 {
        let name: String = (0..6)
            .map(|b| if i >> b & 1 == 0 { "Aa" } else { "BB" })
            .collect();
        nodes.push(next(format!("/collide/{name}"), None, -1, 0));
    }
    // Names that need escaping in JSON, and non-ASCII ones.
    for name in [
        "quote\"d",
        "back\\slash",
        "tab\there",
        "line\u{2028}sep",
        "ctl\u{1}",
        "caf\u{e9}",
        "\u{4e2d}\u{6587}",
        "emoji\u{1f600}",
        "per%cent,comma}",
    ] {
        nodes.push(next(
            format!("/{name}"),
            Some(name.as_bytes().to_vec()),
            -1,
            0,
        ));
    }
    // Sessions, some with ephemerals; a container and a TTL node.
    let sessions: Vec<(i64, i32)> = (0..40i64)
        .map(|i| {
            let id = if i % 9 == 8 {
                -(i * 0x0101_0101_0101)
            } else {
                (i << 56) | (i * 0x1_2345_6789)
            };
            (id, 4000 + i as i32 * 100)
        })
        .collect();
    nodes.push(next("/eph".into(), None, -1, 0));
    for (i, (id, _)) in sessions.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        for j in 0..(i % 4 + 1) {
            nodes.push(next(format!("/eph/s{i}-{j}"), Some(b"e".to_vec()), -1, *id));
        }
    }
    nodes.push(next("/container".into(), None, -1, i64::MIN));
    nodes.push(next(
        "/ttl".into(),
        Some(b"t".to_vec()),
        -1,
        0xff00_0000_0000_1000u64 as i64,
    ));
    // The quota root counts these.
    for i in 0..5 {
        nodes.push(next(format!("/app/c{i}/q"), Some(vec![b'q'; i]), -1, 0));
    }
    Snapshot {
        sessions: sessions
            .into_iter()
            .map(|(id, t)| (SessionId(id), t))
            .collect(),
        acls: vec![(1, acl(&[(1, "world", "anyone"), (31, "digest", "u:p=")]))],
        nodes,
        digest: Some(ZxidDigest {
            zxid: Zxid(0x1_0000_0200),
            version: 2,
            digest: 12345,
        }),
    }
}
