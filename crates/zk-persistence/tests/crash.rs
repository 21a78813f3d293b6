//! Crash tests: write and commit, then damage the log as a crash (or a bad disk) would, recover,
//! and compare with what was acknowledged. Nothing committed may be lost to a crash, and nothing
//! corrupt may ever be loaded. Seeded: a failure prints the seed that replays it.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use zk_jute::txn::{CreateTxn, DeleteTxn, SetDataTxn, TxnBody, TxnDigest, TxnEntry, TxnHeader};
use zk_jute::{Acl, OpCode, SessionId, Zxid};
use zk_persistence::{
    Error, FileTxnSnapLog, LogOptions, Snapshot, SnapshotCollector, StoreOptions,
};

/// xorshift64*: small, seeded, good enough to pick offsets.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

fn txn(rng: &mut Rng, zxid: i64) -> TxnEntry {
    let path = format!("/n{}", rng.below(50));
    let (ty, body) = match rng.below(3) {
        0 => (
            OpCode::Create,
            TxnBody::Create(CreateTxn {
                path,
                data: Some(Bytes::from(vec![b'x'; rng.below(300) as usize])),
                acl: Acl::open_unsafe(),
                ephemeral: false,
                parent_c_version: zxid as i32,
            }),
        ),
        1 => (
            OpCode::SetData,
            TxnBody::SetData(SetDataTxn {
                path,
                data: Some(Bytes::from(zxid.to_string())),
                version: 3,
            }),
        ),
        _ => (OpCode::Delete, TxnBody::Delete(DeleteTxn { path })),
    };
    TxnEntry {
        header: TxnHeader {
            client_id: SessionId(0x0100_0000_0000_0001),
            cxid: zxid as i32,
            zxid: Zxid(zxid),
            time: 1_700_000_000_000 + zxid,
            r#type: ty.code(),
        },
        body,
        digest: Some(TxnDigest {
            version: 2,
            tree_digest: zxid.wrapping_mul(0x9e37_79b9),
        }),
    }
}

fn options(rng: &mut Rng) -> StoreOptions {
    StoreOptions {
        log: LogOptions {
            prealloc_bytes: 4096 * (1 + rng.below(4)),
            ..LogOptions::default()
        },
        snap_count: 10 + rng.below(40) as i32,
        jitter_seed: Some(rng.next()),
        ..StoreOptions::default()
    }
}

/// Every txn recovery hands over, in order.
fn recover(dir: &Path, options: &StoreOptions) -> Result<Vec<TxnEntry>, Error> {
    let mut store = FileTxnSnapLog::open(dir, dir, options.clone())?;
    let mut seen = Vec::new();
    store.restore(&mut SnapshotCollector::new(), |t| {
        seen.push(t.entry.clone());
        Ok(())
    })?;
    Ok(seen)
}

fn newest_log(dir: &Path) -> PathBuf {
    let mut logs: Vec<_> = fs::read_dir(dir.join("version-2"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("log."))
        .collect();
    logs.sort_by_key(|p| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        i64::from_str_radix(&name[4..], 16).unwrap()
    });
    logs.pop().unwrap()
}

/// The end of the records of a log file (its data, without preallocated zeros).
fn data_end(path: &Path) -> u64 {
    let bytes = fs::read(path).unwrap();
    bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i as u64 + 1)
}

/// Writes committed batches, then one more batch whose commit "crashes": its bytes reach the disk
/// only in part. Returns (all txns written, how many were acknowledged, the file and byte range
/// that was not yet durable).
fn write_then_crash(
    dir: &Path,
    options: &StoreOptions,
    rng: &mut Rng,
) -> (Vec<TxnEntry>, usize, PathBuf, u64, u64) {
    let mut store = FileTxnSnapLog::open(dir, dir, options.clone()).unwrap();
    store.save(Zxid(0), &mut Snapshot::default()).unwrap();
    let mut written = Vec::new();
    let batches = 1 + rng.below(12);
    for _ in 0..batches {
        for _ in 0..1 + rng.below(20) {
            let entry = txn(rng, written.len() as i64 + 1);
            store.append(&entry).unwrap();
            written.push(entry);
        }
        store.commit().unwrap();
    }
    let acked = written.len();
    let before = newest_log(dir);
    let acked_end = data_end(&before);
    for _ in 0..1 + rng.below(20) {
        let entry = txn(rng, written.len() as i64 + 1);
        store.append(&entry).unwrap();
        written.push(entry);
    }
    store.commit().unwrap();
    drop(store);
    let after = newest_log(dir);
    let start = if after == before { acked_end } else { 0 };
    let end = data_end(&after);
    (written, acked, after, start, end)
}

#[test]
fn a_crash_never_loses_a_committed_txn() {
    for seed in 1..=150u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let dir = tempfile::tempdir().unwrap();
        let options = options(&mut rng);
        let (written, acked, file, start, end) = write_then_crash(dir.path(), &options, &mut rng);
        // Damage only what was not durable yet.
        let cut = start + rng.below(end - start + 1);
        let f = OpenOptions::new().write(true).open(&file).unwrap();
        let how = rng.below(4);
        match how {
            0 => f.set_len(cut).unwrap(),
            1 => f.write_all_at(&vec![0; (end - cut) as usize], cut).unwrap(),
            2 => {
                // Random garbage where the unsynced bytes were.
                let junk: Vec<u8> = (cut..end).map(|_| rng.next() as u8).collect();
                f.write_all_at(&junk, cut).unwrap();
            }
            _ => {
                // Sectors written out of order: whole zeroed sectors in the middle of the
                // unsynced bytes, later ones on disk.
                let hole_start = cut.div_ceil(512) * 512;
                let sectors = 1 + rng.below(3);
                let hole_end = (hole_start + 512 * sectors).min(end);
                if hole_end > hole_start {
                    f.write_all_at(&vec![0; (hole_end - hole_start) as usize], hole_start)
                        .unwrap();
                }
            }
        }
        drop(f);
        let context = format!(
            "seed {seed}: damage {how} at {cut} in {} (unsynced {start}..{end})",
            file.display()
        );
        let recovered = recover(dir.path(), &options).unwrap_or_else(|e| panic!("{context}: {e}"));
        assert!(recovered.len() >= acked, "{context}: lost committed txns");
        assert_eq!(
            recovered[..],
            written[..recovered.len()],
            "{context}: not a prefix"
        );

        // The repaired log takes new appends and recovers them too.
        let mut store = FileTxnSnapLog::open(dir.path(), dir.path(), options.clone()).unwrap();
        let next = recovered.len() as i64 + 1;
        let more: Vec<_> = (next..next + 5).map(|z| txn(&mut rng, z)).collect();
        for entry in &more {
            store.append(entry).unwrap();
        }
        store.commit().unwrap();
        drop(store);
        let again =
            recover(dir.path(), &options).unwrap_or_else(|e| panic!("{context}, again: {e}"));
        assert_eq!(again.len(), recovered.len() + 5, "{context}, again");
        assert_eq!(again[recovered.len()..], more[..], "{context}, again");
    }
}

/// Offsets of every record in a log file: (start, end).
fn records(path: &Path) -> Vec<(u64, u64)> {
    let bytes = fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut at = 16usize;
    while at + 12 <= bytes.len() {
        let len = i32::from_be_bytes(bytes[at + 8..at + 12].try_into().unwrap());
        if len <= 0 {
            break;
        }
        let end = at + 13 + len as usize;
        out.push((at as u64, end as u64));
        at = end;
    }
    out
}

#[test]
fn a_flipped_byte_is_never_loaded() {
    for seed in 1..=200u64 {
        let mut rng = Rng(seed.wrapping_mul(0xd134_2543_de82_ef95) | 1);
        let dir = tempfile::tempdir().unwrap();
        let options = options(&mut rng);
        let (written, _, _, _, _) = write_then_crash(dir.path(), &options, &mut rng);
        // Everything is committed now; pick any log file and any byte of its data.
        let logs: Vec<_> = fs::read_dir(dir.path().join("version-2"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("log."))
            .collect();
        let file = &logs[rng.below(logs.len() as u64) as usize];
        let end = data_end(file);
        let at = rng.below(end);
        let bit = 1u8 << rng.below(8);
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(file)
            .unwrap();
        let mut byte = [0u8];
        f.read_exact_at(&mut byte, at).unwrap();
        f.write_all_at(&[byte[0] ^ bit], at).unwrap();
        drop(f);
        let context = format!(
            "seed {seed}: flipped bit {bit:#x} at {at} of {}",
            file.display()
        );
        let newest = newest_log(dir.path());
        let last_record = records(&newest).last().copied();
        match recover(dir.path(), &options) {
            Err(e) => {
                // Detected: the error names the file.
                let message = e.to_string();
                assert!(message.contains("log."), "{context}: {message}");
            }
            Ok(recovered) => {
                assert_eq!(
                    recovered[..],
                    written[..recovered.len()],
                    "{context}: corrupt txn loaded"
                );
                if recovered.len() < written.len() {
                    // Only the last record of the newest file is indistinguishable from a torn
                    // write, and only it may go.
                    assert_eq!(file, &newest, "{context}: txns lost from an older file");
                    let last = last_record.expect("the newest file has records");
                    assert!(
                        at >= last.0,
                        "{context}: lost {} txns",
                        written.len() - recovered.len()
                    );
                    assert_eq!(recovered.len(), written.len() - 1, "{context}");
                }
            }
        }
    }
}
