use std::fs;
use std::sync::Arc;

use zk_jute::{Acl, Id, Perms, SessionId, StatPersisted, Zxid};

use super::*;

fn stat(z: i64) -> StatPersisted {
    StatPersisted {
        czxid: Zxid(z),
        mzxid: Zxid(z),
        ctime: 1_700_000_000_000 + z,
        mtime: 1_700_000_000_000 + z,
        version: 0,
        cversion: 1,
        aversion: 0,
        ephemeral_owner: 0,
        pzxid: Zxid(z),
    }
}

fn node(path: &str, data: Option<&[u8]>, acl: i64, z: i64) -> SnapshotNode {
    SnapshotNode {
        path: path.into(),
        data: data.map(Arc::from),
        acl,
        stat: stat(z),
    }
}

pub(crate) fn sample(zxid: i64) -> Snapshot {
    Snapshot {
        sessions: vec![
            (SessionId(0x0100_0000_0000_0001), 30_000),
            (SessionId(7), 4000),
        ],
        acls: vec![
            (1, vec![Acl::new(Perms::READ, Id::anyone())]),
            (
                2,
                vec![
                    Acl::new(Perms::ALL, Id::new("digest", "bob:abc=")),
                    Acl::new(Perms::READ, Id::new("ip", "127.0.0.1")),
                ],
            ),
        ],
        nodes: vec![
            node("", None, -1, 0),
            node("/zookeeper", Some(b""), -1, 0),
            node("/zookeeper/quota", Some(b""), -1, 0),
            node("/zookeeper/config", Some(b""), 1, 0),
            node("/a", Some(b"hello"), 2, 3),
            node("/a/null", None, -1, 4),
            node("/a/empty", Some(b""), 1, zxid),
        ],
        digest: Some(ZxidDigest {
            zxid: Zxid(zxid),
            version: 2,
            digest: 1_371_985_504,
        }),
    }
}

fn load(path: &Path) -> Result<Snapshot> {
    let mut sink = SnapshotCollector::new();
    FileSnap::read_file(path, &mut sink)?;
    Ok(sink.into_snapshot())
}

#[test]
fn a_snapshot_reads_back_record_for_record() {
    let dir = tempfile::tempdir().unwrap();
    let snap = FileSnap::new(dir.path());
    let mut original = sample(9);
    let written = snap.write(Zxid(9), &mut original).unwrap();
    assert_eq!(written.nodes, 7);
    let path = dir.path().join("snapshot.9");
    assert_eq!(load(&path).unwrap(), original);
    let bytes = fs::read(&path).unwrap();
    assert_eq!(
        &bytes[..16],
        b"ZKSN\0\0\0\x02\xff\xff\xff\xff\xff\xff\xff\xff"
    );
    assert_eq!(&bytes[bytes.len() - 5..], b"\0\0\0\x01/");
    // The digest section: zxid, version, digest, checksum, "/".
    let tail = &bytes[bytes.len() - 33..];
    assert_eq!(&tail[..8], &9i64.to_be_bytes());
    assert_eq!(&tail[8..12], &2i32.to_be_bytes());
    assert_eq!(&tail[12..20], &1_371_985_504i64.to_be_bytes());
    let checksum2 = crate::adler32::adler32(&bytes[..bytes.len() - 13]);
    assert_eq!(&tail[20..28], &i64::from(checksum2).to_be_bytes());
}

#[test]
fn the_digest_section_is_optional() {
    let dir = tempfile::tempdir().unwrap();
    let snap = FileSnap::new(dir.path());
    let mut plain = sample(5);
    plain.digest = None;
    snap.write(Zxid(5), &mut plain).unwrap();
    let path = dir.path().join("snapshot.5");
    assert_eq!(load(&path).unwrap(), plain);
    // A digest older than the snapshot's zxid is stored but not used.
    let mut old = sample(5);
    old.digest.as_mut().unwrap().zxid = Zxid(4);
    snap.write(Zxid(5), &mut old).unwrap();
    let mut sink = SnapshotCollector::new();
    let summary = FileSnap::read_file(&path, &mut sink).unwrap();
    assert_eq!(summary.digest.unwrap().zxid, Zxid(4));
    assert_eq!(sink.snapshot.digest, None);
}

#[test]
fn corruption_anywhere_is_detected_and_recovery_uses_an_older_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let snap = FileSnap::new(dir.path());
    snap.write(Zxid(5), &mut sample(5)).unwrap();
    snap.write(Zxid(9), &mut sample(9)).unwrap();
    let path = dir.path().join("snapshot.9");
    let original = fs::read(&path).unwrap();
    for at in 16..original.len() - 5 {
        let mut bytes = original.clone();
        bytes[at] ^= 0x01;
        fs::write(&path, &bytes).unwrap();
        let mut sink = SnapshotCollector::new();
        match snap.load(&mut sink).unwrap() {
            Some(loaded) if loaded.zxid == Zxid(9) => {
                panic!("a flipped byte at {at} was not detected")
            }
            Some(loaded) => {
                assert_eq!(loaded.zxid, Zxid(5));
                assert_eq!(sink.snapshot, sample(5));
            }
            None => panic!("no snapshot"),
        }
    }
    // Truncated: fails the quick test.
    fs::write(&path, &original[..original.len() - 1]).unwrap();
    assert_eq!(snap.find_valid(10).unwrap().len(), 1);
}

#[test]
fn no_valid_snapshot_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let snap = FileSnap::new(dir.path());
    let mut sink = SnapshotCollector::new();
    assert!(snap.load(&mut sink).unwrap().is_none());
    snap.write(Zxid(5), &mut sample(5)).unwrap();
    let path = dir.path().join("snapshot.5");
    let mut bytes = fs::read(&path).unwrap();
    bytes[40] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let err = snap.load(&mut sink).unwrap_err();
    assert!(
        matches!(err, Error::NoValidSnapshot { tried: 1, .. }),
        "{err}"
    );
    assert_eq!(sink.snapshot, Snapshot::default());
}

#[test]
fn an_orphan_node_makes_the_snapshot_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let snap = FileSnap::new(dir.path());
    let mut bad = sample(5);
    bad.nodes.push(node("/missing/child", None, -1, 5));
    snap.write(Zxid(5), &mut bad).unwrap();
    let err = load(&dir.path().join("snapshot.5")).unwrap_err();
    assert!(
        err.to_string().contains("unable to find parent /missing"),
        "{err}"
    );
}

/// Many nodes under `/big`: more than the parser hands over in one batch.
fn big(zxid: i64, nodes: usize) -> Snapshot {
    let mut snapshot = sample(zxid);
    snapshot.nodes.push(node("/big", None, -1, 1));
    for i in 0..nodes {
        let path = format!("/big/n{i:06}");
        snapshot
            .nodes
            .push(node(&path, Some(path.as_bytes()), 1, 2));
    }
    snapshot
}

#[test]
fn a_snapshot_of_many_batches_reads_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let snap = FileSnap::new(dir.path());
    let mut written = big(9, 20_000);
    snap.write(Zxid(9), &mut written).unwrap();
    assert_eq!(load(&dir.path().join("snapshot.9")).unwrap(), written);
}

#[test]
fn an_orphan_among_many_nodes_is_reported_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let snap = FileSnap::new(dir.path());
    let mut bad = big(9, 40_000);
    // Early in the file, so the parser is batches ahead when the orphan is refused.
    bad.nodes.insert(1000, node("/missing/child", None, -1, 5));
    snap.write(Zxid(9), &mut bad).unwrap();
    let path = dir.path().join("snapshot.9");
    let err = load(&path).unwrap_err();
    let Error::Rejected { offset, reason, .. } = &err else {
        panic!("expected a rejection, got {err}");
    };
    assert!(reason.contains("unable to find parent /missing"), "{err}");
    // Just past the orphan: header, sessions, ACL map and under 1000 nodes of at most 120 bytes.
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(
        *offset > 1000 && *offset < 130_000,
        "offset {offset} of {len}"
    );
}

#[test]
fn compressed_snapshots_are_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let snap = FileSnap::new(dir.path());
    snap.write(Zxid(5), &mut sample(5)).unwrap();
    fs::write(dir.path().join("snapshot.9.gz"), [0x1f, 0x8b, 0, 0]).unwrap();
    let err = snap.load(&mut SnapshotCollector::new()).unwrap_err();
    assert!(matches!(err, Error::CompressedSnapshot { .. }), "{err}");
}

#[test]
fn background_snapshots_run_one_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let snap = FileSnap::new(dir.path());
    let thread = SnapshotThread::new();

    /// A source that waits for the test before producing its nodes.
    struct Gated(Snapshot, std::sync::mpsc::Receiver<()>);
    impl SnapshotSource for Gated {
        fn sessions(&mut self) -> Vec<(SessionId, i32)> {
            self.1.recv().unwrap();
            self.0.sessions()
        }
        fn acls(&mut self) -> Vec<(i64, Vec<Acl>)> {
            self.0.acls()
        }
        fn nodes(&mut self, visit: &mut dyn FnMut(NodeRef<'_>) -> Result<()>) -> Result<()> {
            self.0.nodes(visit)
        }
        fn digest(&mut self) -> Option<ZxidDigest> {
            self.0.digest()
        }
    }
    let (go, gate) = std::sync::mpsc::channel();
    let job = thread
        .try_start(&snap, Zxid(9), move || Gated(sample(9), gate))
        .unwrap();
    assert!(thread.is_busy());
    assert!(thread.try_start(&snap, Zxid(10), || sample(10)).is_none());
    go.send(()).unwrap();
    assert_eq!(job.join().unwrap().nodes, 7);
    assert!(!thread.is_busy());
    let job = thread.try_start(&snap, Zxid(10), || sample(10)).unwrap();
    job.join().unwrap();
    assert_eq!(load(&dir.path().join("snapshot.a")).unwrap(), sample(10));
}

#[test]
fn the_learner_stream_is_the_file_body_then_the_signature() {
    let dir = tempfile::tempdir().unwrap();
    let snap = FileSnap::new(dir.path());
    let mut source = sample(9);
    snap.write(Zxid(9), &mut source).unwrap();
    let file = fs::read(snap.path_for(Zxid(9))).unwrap();

    let mut stream = Vec::new();
    let nodes = write_learner_snapshot(&mut source, &mut stream).unwrap();
    assert_eq!(nodes, source.nodes.len() as u64);
    // The file is header (16 bytes), the same records, then its seal and digest section.
    let body = &stream[..stream.len() - 14];
    assert_eq!(&file[16..16 + body.len()], body);
    assert_eq!(&stream[stream.len() - 14..], b"\0\0\0\x0aBenWasHere");

    // Read back from a stream that carries the next packet after the signature, in small reads
    // and with part of it already buffered by the caller.
    let mut wire = stream.clone();
    wire.extend_from_slice(b"next packet");
    let (head, rest) = wire.split_at(5);
    let mut collector = SnapshotCollector::new();
    let (summary, leftover) =
        read_learner_snapshot(head, std::io::Cursor::new(rest), &mut collector).unwrap();
    assert_eq!(summary.nodes, nodes);
    assert_eq!(leftover, b"next packet");
    let got = collector.into_snapshot();
    assert_eq!(got.sessions, source.sessions);
    assert_eq!(got.acls, source.acls);
    assert_eq!(got.nodes, source.nodes);
    assert_eq!(got.digest, None);

    // A link that closes inside the snapshot, or a stream without the signature, is an error.
    for cut in [0, 10, stream.len() - 1] {
        let err = read_learner_snapshot(&[], &stream[..cut], &mut SnapshotCollector::new());
        assert!(err.is_err(), "cut at {cut}");
    }
    let mut unsigned = stream[..stream.len() - 14].to_vec();
    unsigned.extend_from_slice(b"\0\0\0\x02hi");
    let err = read_learner_snapshot(&[], &unsigned[..], &mut SnapshotCollector::new()).unwrap_err();
    assert!(err.to_string().contains("BenWasHere"), "{err}");
}

#[test]
fn a_streamed_backup_is_the_snapshot_file_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let snap = FileSnap::new(dir.path());
    let mut source = sample(12);
    snap.write(Zxid(12), &mut source).unwrap();
    let mut streamed = Vec::new();
    let (nodes, digest) = write_snapshot_to(&mut source, &mut streamed).unwrap();
    assert_eq!(nodes, source.nodes.len() as u64);
    assert_eq!(digest, source.digest);
    assert_eq!(streamed, fs::read(snap.path_for(Zxid(12))).unwrap());
}
