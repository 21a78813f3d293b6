//! Encoding and decoding of the two records on the hottest client paths.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use zk_jute::proto::{CreateRequest, GetDataResponse};
use zk_jute::{Acl, Record, Stat, Zxid};

fn get_data_response() -> GetDataResponse {
    GetDataResponse {
        data: Some(Bytes::from(vec![b'x'; 100])),
        stat: Stat {
            czxid: Zxid(0x1_0000_0010),
            mzxid: Zxid(0x1_0000_0020),
            ctime: 1_700_000_000_000,
            mtime: 1_700_000_000_123,
            version: 3,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: 0,
            data_length: 100,
            num_children: 0,
            pzxid: Zxid(0x1_0000_0010),
        },
    }
}

fn create_request() -> CreateRequest {
    CreateRequest {
        path: "/app/locks/lock-0000000042".into(),
        data: Some(Bytes::from_static(b"host-17:2181")),
        acl: Acl::open_unsafe(),
        flags: 3,
    }
}

fn bench_record<R: Record>(c: &mut Criterion, name: &str, record: R) {
    let encoded = record.to_bytes();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(encoded.len() as u64));
    let mut out = BytesMut::with_capacity(4096);
    group.bench_function("encode", |b| {
        b.iter(|| {
            out.clear();
            black_box(&record).write(&mut out);
            black_box(out.len())
        })
    });
    group.bench_function("decode", |b| {
        b.iter(|| R::read(&mut black_box(encoded.clone())).expect("valid record"))
    });
    group.finish();
}

fn jute(c: &mut Criterion) {
    bench_record(c, "GetDataResponse", get_data_response());
    bench_record(c, "CreateRequest", create_request());
}

criterion_group!(benches, jute);
criterion_main!(benches);
