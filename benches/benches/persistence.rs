//! zk-persistence: txn log append + fdatasync with group commit (1, 8 and 64 txns per commit)
//! next to the raw fdatasync rate of the same disk writing the same bytes, and snapshot write and
//! load of 1,000,000 nodes.
//!
//! Targets (issue): group commit at 64 per batch within 80% of raw fdatasync, and a 1,000,000-node
//! snapshot loaded in under 2 s. Benchmarks only: nothing here asserts timings.

use std::fs::OpenOptions;
use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use zk_jute::txn::{SetDataTxn, TxnBody, TxnDigest, TxnEntry, TxnHeader};
use zk_jute::{Acl, OpCode, SessionId, StatPersisted, Zxid};
use zk_persistence::{
    FileSnap, FileTxnLog, LogOptions, NodeRef, SnapshotNode, SnapshotSink, SnapshotSource,
    ZxidDigest,
};

fn entry(zxid: i64) -> TxnEntry {
    TxnEntry {
        header: TxnHeader {
            client_id: SessionId(0x0100_0000_0000_0001),
            cxid: zxid as i32,
            zxid: Zxid(zxid),
            time: 1_700_000_000_000,
            r#type: OpCode::SetData.code(),
        },
        body: TxnBody::SetData(SetDataTxn {
            path: "/app/config/node-0001".into(),
            data: Some(Bytes::from_static(&[b'x'; 64])),
            version: 7,
        }),
        digest: Some(TxnDigest {
            version: 2,
            tree_digest: zxid,
        }),
    }
}

fn log_bench(c: &mut Criterion) {
    // Bytes one record takes in the log: checksum, length, payload, end-of-record.
    let record_len = 13 + entry(1).encoded_len();
    let mut group = c.benchmark_group("txn_log");
    group.sample_size(20);
    for batch in [1usize, 8, 64] {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("raw_fdatasync/{batch}"), |b| {
            let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
            let file = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(dir.path().join("raw"))
                .unwrap();
            let chunk = vec![0x42u8; record_len * batch];
            let mut at = 16u64;
            let mut size = 0u64;
            b.iter(|| {
                // The same preallocation as the log, so both pay the same metadata costs.
                if at + 4096 >= size {
                    size += 64 * 1024 * 1024;
                    file.write_all_at(&[0], size - 1).unwrap();
                }
                file.write_all_at(&chunk, at).unwrap();
                file.sync_data().unwrap();
                at += chunk.len() as u64;
            });
        });
        group.bench_function(format!("group_commit/{batch}"), |b| {
            let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
            let mut log = FileTxnLog::new(dir.path(), LogOptions::default());
            let entries: Vec<_> = (1..=batch as i64).map(entry).collect();
            let mut zxid = 0i64;
            b.iter(|| {
                for e in &entries {
                    zxid += 1;
                    let mut e = e.clone();
                    e.header.zxid = Zxid(zxid);
                    log.append(&e).unwrap();
                }
                log.commit().unwrap();
            });
        });
    }
    group.finish();
}

const NODES: usize = 1_000_000;

/// A 1,000,000-node tree: /app/gNNN/nMMMM with 32 bytes of data each.
struct Tree {
    nodes: Vec<SnapshotNode>,
}

impl Tree {
    fn new() -> Self {
        let stat = |z: i64| StatPersisted {
            czxid: Zxid(z),
            mzxid: Zxid(z),
            ctime: 1_700_000_000_000 + z,
            mtime: 1_700_000_000_000 + z,
            version: 1,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: 0,
            pzxid: Zxid(z),
        };
        let mut nodes = Vec::with_capacity(NODES);
        nodes.push(SnapshotNode {
            path: String::new(),
            data: Some(Arc::new([])),
            acl: -1,
            stat: stat(0),
        });
        nodes.push(SnapshotNode {
            path: "/app".into(),
            data: None,
            acl: 1,
            stat: stat(1),
        });
        let mut z = 2;
        'outer: for g in 0.. {
            nodes.push(SnapshotNode {
                path: format!("/app/g{g:03}"),
                data: None,
                acl: 1,
                stat: stat(z),
            });
            z += 1;
            for n in 0..1000 {
                if nodes.len() == NODES {
                    break 'outer;
                }
                nodes.push(SnapshotNode {
                    path: format!("/app/g{g:03}/n{n:04}"),
                    data: Some(Arc::from(vec![b'd'; 32])),
                    acl: 1,
                    stat: stat(z),
                });
                z += 1;
            }
        }
        Tree { nodes }
    }
}

impl SnapshotSource for &Tree {
    fn sessions(&mut self) -> Vec<(SessionId, i32)> {
        (0..1000)
            .map(|i| (SessionId(0x0100_0000_0000_0000 + i), 30_000))
            .collect()
    }
    fn acls(&mut self) -> Vec<(i64, Vec<Acl>)> {
        vec![(1, Acl::open_unsafe())]
    }
    fn nodes(
        &mut self,
        visit: &mut dyn FnMut(NodeRef<'_>) -> zk_persistence::Result<()>,
    ) -> zk_persistence::Result<()> {
        self.nodes.iter().try_for_each(|n| visit(n.as_ref()))
    }
    fn digest(&mut self) -> Option<ZxidDigest> {
        Some(ZxidDigest {
            zxid: Zxid(NODES as i64),
            version: 2,
            digest: 42,
        })
    }
}

/// Keeps every node, as building a tree would (the allocation of paths and data included).
#[derive(Default)]
struct Keep(Vec<SnapshotNode>);

impl SnapshotSink for Keep {
    fn session(&mut self, _: SessionId, _: i32) {}
    fn acl(&mut self, _: i64, _: Vec<Acl>) {}
    fn node(&mut self, node: SnapshotNode) -> Result<(), String> {
        self.0.push(node);
        Ok(())
    }
    fn digest(&mut self, _: ZxidDigest) {}
    fn reset(&mut self) {
        self.0.clear();
    }
}

fn snapshot_bench(c: &mut Criterion) {
    let tree = Tree::new();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let snap = FileSnap::new(dir.path());
    let mut group = c.benchmark_group("snapshot_1m_nodes");
    group.sample_size(10);
    group.throughput(Throughput::Elements(NODES as u64));
    group.bench_function("write", |b| {
        b.iter(|| black_box(snap.write(Zxid(1), &mut &tree).unwrap()));
    });
    let path = snap.path_for(Zxid(1));
    group.bench_function("load", |b| {
        b.iter_batched(
            || Keep(Vec::with_capacity(NODES)),
            |mut sink| {
                FileSnap::read_file(&path, &mut sink).unwrap();
                black_box(sink.0.len())
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, log_bench, snapshot_bench);
criterion_main!(benches);
