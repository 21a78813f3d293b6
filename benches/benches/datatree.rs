//! The DataTree at 1,000,000 nodes: applying creates and setData, answering getData, and the heap
//! the tree spends per node beyond its paths and data, measured with a counting allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use zk_datatree::{DataTree, TreeConfig};
use zk_jute::txn::{CreateTxn, SetDataTxn, TxnBody, TxnHeader};
use zk_jute::{Acl, OpCode, SessionId, Zxid};

/// Counts the bytes currently allocated (requested sizes, not the allocator's rounding).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

#[allow(unsafe_code)]
// SAFETY: forwards every call to the system allocator unchanged and only keeps a counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const NODES: usize = 1_000_000;
const FANOUT: usize = 1_000;
const DATA: &[u8] = b"0123456789abcdef";

struct Fixture {
    tree: DataTree,
    paths: Vec<String>,
    zxid: i64,
}

impl Fixture {
    fn header(&mut self, ty: OpCode) -> TxnHeader {
        self.zxid += 1;
        TxnHeader {
            client_id: SessionId(1),
            cxid: 0,
            zxid: Zxid(self.zxid),
            time: 1_700_000_000_000 + self.zxid,
            r#type: ty.code(),
        }
    }

    fn create(&mut self, path: String, data: &[u8]) {
        let header = self.header(OpCode::Create);
        let body = TxnBody::Create(CreateTxn {
            path,
            data: Some(Bytes::copy_from_slice(data)),
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_c_version: -1,
        });
        let applied = self.tree.apply(&header, &body);
        assert_eq!(applied.result.err, 0);
    }
}

/// A tree of `NODES` nodes: `FANOUT` parents of `FANOUT - 1` children each, 16 bytes of data.
/// Prints the heap the tree holds per node beyond the bytes of its paths and data.
fn build() -> Fixture {
    let before = LIVE.load(Ordering::Relaxed);
    let mut f = Fixture {
        tree: DataTree::new(TreeConfig::default()),
        paths: Vec::new(),
        zxid: 0,
    };
    let mut path_and_data = 0usize;
    let mut leaf_paths = Vec::with_capacity(NODES);
    for p in 0..FANOUT {
        let parent = format!("/p{p:04}");
        path_and_data += parent.len() + DATA.len();
        f.create(parent.clone(), DATA);
        for c in 0..FANOUT - 1 {
            let path = format!("{parent}/n{c:06}");
            path_and_data += path.len() + DATA.len();
            f.create(path.clone(), DATA);
            leaf_paths.push(path);
        }
    }
    let held = LIVE.load(Ordering::Relaxed)
        - before
        - leaf_paths.capacity() * size_of::<String>()
        - leaf_paths.iter().map(String::capacity).sum::<usize>();
    let nodes = f.tree.node_count();
    println!(
        "datatree: {nodes} nodes hold {held} heap bytes, {path_and_data} of them paths and data: \
         {:.1} bytes of overhead per node",
        (held - path_and_data) as f64 / nodes as f64
    );
    f.paths = leaf_paths;
    f
}

fn bench(c: &mut Criterion) {
    let mut f = build();
    let mut group = c.benchmark_group("datatree_1m");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    let mut i = 0usize;
    group.bench_function("create", |b| {
        b.iter(|| {
            i += 1;
            let path = format!("/p{:04}/new{i:09}", i % FANOUT);
            f.create(path, DATA);
        })
    });
    // A fixed pseudo-random walk over existing nodes.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |len: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % len as u64) as usize
    };
    group.bench_function("get_data", |b| {
        b.iter(|| {
            let path = &f.paths[next(f.paths.len())];
            black_box(f.tree.get_data(path, &[], None).unwrap());
        })
    });
    group.bench_function("set_data", |b| {
        b.iter(|| {
            let path = f.paths[next(f.paths.len())].clone();
            let header = f.header(OpCode::SetData);
            let body = TxnBody::SetData(SetDataTxn {
                path,
                data: Some(Bytes::from_static(b"fedcba9876543210")),
                version: 1,
            });
            black_box(f.tree.apply(&header, &body));
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
