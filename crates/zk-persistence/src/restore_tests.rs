use std::fs;

use super::*;
use crate::snapshot::{Snapshot, SnapshotCollector};
use crate::testutil::txn;

fn options() -> StoreOptions {
    StoreOptions {
        log: LogOptions {
            prealloc_bytes: 64 * 1024,
            ..LogOptions::default()
        },
        jitter_seed: Some(1),
        ..StoreOptions::default()
    }
}

/// Restores and returns the replayed zxids.
fn restore(store: &mut FileTxnSnapLog) -> Result<(Restored, Vec<i64>)> {
    let mut replayed = Vec::new();
    let restored = store.restore(&mut SnapshotCollector::new(), |t| {
        replayed.push(t.zxid().0);
        Ok(())
    })?;
    Ok((restored, replayed))
}

fn write_log(store: &mut FileTxnSnapLog, zxids: std::ops::RangeInclusive<i64>) {
    for z in zxids {
        store.append(&txn(z)).unwrap();
    }
    store.commit().unwrap();
}

#[test]
fn restore_loads_the_snapshot_then_replays_after_it() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let mut store = FileTxnSnapLog::open(data.path(), logs.path(), options()).unwrap();
    write_log(&mut store, 1..=10);
    store.save(Zxid(10), &mut Snapshot::default()).unwrap();
    store.log().roll().unwrap();
    write_log(&mut store, 11..=30);
    assert!(data.path().join("version-2/snapshot.a").exists());
    assert!(logs.path().join("version-2/log.1").exists());
    let mut store = FileTxnSnapLog::open(data.path(), logs.path(), options()).unwrap();
    let (restored, replayed) = restore(&mut store).unwrap();
    assert_eq!(restored.zxid, Zxid(30));
    assert_eq!(restored.snapshot.unwrap().zxid, Zxid(10));
    assert_eq!(replayed, (11..=30).collect::<Vec<_>>());
    assert_eq!(restored.torn_tail, None);
}

#[test]
fn a_torn_tail_is_cut_and_later_appends_survive() {
    let data = tempfile::tempdir().unwrap();
    let mut store = FileTxnSnapLog::open(data.path(), data.path(), options()).unwrap();
    store.save(Zxid(0), &mut Snapshot::default()).unwrap();
    write_log(&mut store, 1..=20);
    let log = data.path().join("version-2/log.1");
    let mut bytes = fs::read(&log).unwrap();
    let end = bytes.iter().rposition(|&b| b != 0).unwrap() + 1;
    // The last record lost its second half.
    bytes[end - 20..end].fill(0);
    fs::write(&log, &bytes).unwrap();
    let mut store = FileTxnSnapLog::open(data.path(), data.path(), options()).unwrap();
    let (restored, replayed) = restore(&mut store).unwrap();
    assert_eq!(restored.zxid, Zxid(19));
    assert_eq!(replayed.len(), 19);
    let tail = restored.torn_tail.unwrap();
    assert_eq!(tail.last_good_zxid, Some(Zxid(19)));
    assert!(tail.discarded_bytes > 0);
    assert_eq!(fs::metadata(&log).unwrap().len(), tail.offset);
    write_log(&mut store, 20..=25);
    let mut store = FileTxnSnapLog::open(data.path(), data.path(), options()).unwrap();
    let (restored, replayed) = restore(&mut store).unwrap();
    assert_eq!(restored.zxid, Zxid(25));
    assert_eq!(replayed, (1..=25).collect::<Vec<_>>());
    assert_eq!(restored.torn_tail, None);
}

#[test]
fn logs_without_a_snapshot_need_the_trust_option() {
    let data = tempfile::tempdir().unwrap();
    let mut store = FileTxnSnapLog::open(data.path(), data.path(), options()).unwrap();
    write_log(&mut store, 1..=5);
    let err = restore(&mut store).unwrap_err();
    assert!(matches!(err, Error::LogsWithoutSnapshot { .. }), "{err}");
    assert!(err.to_string().contains("zookeeper.snapshot.trust.empty"));
    let trusting = StoreOptions {
        trust_empty_snapshot: true,
        ..options()
    };
    let mut store = FileTxnSnapLog::open(data.path(), data.path(), trusting).unwrap();
    let (restored, replayed) = restore(&mut store).unwrap();
    assert_eq!(restored.zxid, Zxid(5));
    assert_eq!(replayed, [1, 2, 3, 4, 5]);
}

#[test]
fn an_empty_directory_starts_at_zero_or_minus_one() {
    let data = tempfile::tempdir().unwrap();
    let mut store = FileTxnSnapLog::open(data.path(), data.path(), options()).unwrap();
    assert_eq!(restore(&mut store).unwrap().0.zxid, Zxid(0));
    let untrusted = StoreOptions {
        autocreate_db: false,
        ..options()
    };
    let mut store = FileTxnSnapLog::open(data.path(), data.path(), untrusted.clone()).unwrap();
    assert_eq!(restore(&mut store).unwrap().0.zxid, Zxid(-1));
    fs::write(data.path().join("initialize"), "").unwrap();
    let mut store = FileTxnSnapLog::open(data.path(), data.path(), untrusted).unwrap();
    assert_eq!(restore(&mut store).unwrap().0.zxid, Zxid(0));
    assert!(!data.path().join("initialize").exists());
}

#[test]
fn separate_directories_must_not_hold_each_others_files() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    FileTxnSnapLog::open(data.path(), logs.path(), options()).unwrap();
    fs::write(logs.path().join("version-2/snapshot.5"), "").unwrap();
    let err = FileTxnSnapLog::open(data.path(), logs.path(), options()).unwrap_err();
    assert!(matches!(err, Error::MixedDirectory { .. }), "{err}");
    let no_create = StoreOptions {
        autocreate_dirs: false,
        ..options()
    };
    let fresh = tempfile::tempdir().unwrap();
    let err = FileTxnSnapLog::open(fresh.path(), fresh.path(), no_create).unwrap_err();
    assert!(matches!(err, Error::MissingDirectory { .. }), "{err}");
}

#[test]
fn appends_report_when_a_snapshot_is_due_and_roll_the_log() {
    let data = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        snap_count: 10,
        ..options()
    };
    let mut store = FileTxnSnapLog::open(data.path(), data.path(), opts).unwrap();
    let mut due = Vec::new();
    for z in 1..=50 {
        if store.append(&txn(z)).unwrap() {
            due.push(z);
        }
    }
    store.commit().unwrap();
    assert!(due.len() >= 5 && due.len() <= 9, "{due:?}");
    assert_eq!(store.log().files().unwrap().len(), due.len() + 1);
    let all: Vec<_> = store
        .read_log(Zxid(1))
        .unwrap()
        .map(|t| t.unwrap().zxid().0)
        .collect();
    assert_eq!(all, (1..=50).collect::<Vec<_>>());
}

#[test]
fn a_replay_failure_names_the_txn() {
    let data = tempfile::tempdir().unwrap();
    let mut store = FileTxnSnapLog::open(data.path(), data.path(), options()).unwrap();
    store.save(Zxid(0), &mut Snapshot::default()).unwrap();
    write_log(&mut store, 1..=5);
    let err = store
        .restore(&mut SnapshotCollector::new(), |t| {
            if t.zxid() == Zxid(3) {
                Err("no node".into())
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert!(matches!(err, Error::Replay { zxid: Zxid(3), .. }), "{err}");
}
