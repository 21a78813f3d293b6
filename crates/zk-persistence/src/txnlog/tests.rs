use std::fs;

use super::*;
use crate::testutil::txn;

fn small() -> LogOptions {
    LogOptions {
        prealloc_bytes: 64 * 1024,
        ..LogOptions::default()
    }
}

fn zxids(iter: TxnIterator) -> Vec<i64> {
    iter.map(|t| t.unwrap().zxid().0).collect()
}

#[test]
fn padding_follows_file_padding() {
    // FilePaddingTest of 3.8.
    assert_eq!(padded_size(0, 0, 64 * 1024), 64 * 1024);
    assert_eq!(padded_size(16, 16, 67_108_864), 67_108_880);
    assert_eq!(padded_size(1000, 64 * 1024, 64 * 1024), 64 * 1024);
    assert_eq!(padded_size(62 * 1024, 64 * 1024, 64 * 1024), 128 * 1024);
    assert_eq!(padded_size(200 * 1024, 64 * 1024, 64 * 1024), 256 * 1024);
    assert_eq!(padded_size(200 * 1024, 64 * 1024, 0), 64 * 1024);
}

#[test]
fn a_log_reads_back_and_is_preallocated() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileTxnLog::new(dir.path(), small());
    for z in 1..=100 {
        log.append(&txn(z)).unwrap();
    }
    log.commit().unwrap();
    let path = dir.path().join("log.1");
    let bytes = fs::read(&path).unwrap();
    assert_eq!(bytes.len() as u64, 16 + 64 * 1024, "one preallocation unit");
    assert_eq!(&bytes[..16], b"ZKLG\0\0\0\x02\0\0\0\0\0\0\0\0");
    assert_eq!(
        zxids(log.read(Zxid(1)).unwrap()),
        (1..=100).collect::<Vec<_>>()
    );
    assert_eq!(
        zxids(log.read(Zxid(42)).unwrap()),
        (42..=100).collect::<Vec<_>>()
    );
    let read: Vec<_> = log.read(Zxid(5)).unwrap().map(Result::unwrap).collect();
    assert_eq!(read[0].entry, txn(5));
    assert_eq!(log.last_logged_zxid().unwrap(), Some(Zxid(100)));
}

#[test]
fn records_are_framed_as_3_8_writes_them() {
    // The first record of a fresh 3.8.0 server, from wire-and-disk.md §4.3.
    let expected = "00000000d89e0ad4 00000030 01000004dcfd0000 00000000 0000000000000001 \
                    000001a219b62279 fffffff6 00007530 00000002 0000000051c6d660 42"
        .replace(' ', "");
    let expected: Vec<u8> = (0..expected.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&expected[i..i + 2], 16).unwrap())
        .collect();
    let entry = TxnEntry::read(&mut &expected[12..expected.len() - 1]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileTxnLog::new(dir.path(), small());
    log.append(&entry).unwrap();
    log.commit().unwrap();
    let bytes = fs::read(dir.path().join("log.1")).unwrap();
    assert_eq!(&bytes[16..16 + expected.len()], &expected[..]);
    assert!(bytes[16 + expected.len()..].iter().all(|&b| b == 0));
}

#[test]
fn rolled_logs_are_read_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileTxnLog::new(dir.path(), small());
    for z in 1..=30 {
        log.append(&txn(z)).unwrap();
        if z % 10 == 0 {
            log.roll().unwrap();
        }
    }
    log.commit().unwrap();
    let names: Vec<_> = log
        .files()
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["log.1", "log.b", "log.15"]);
    assert_eq!(
        zxids(log.read(Zxid(0)).unwrap()),
        (1..=30).collect::<Vec<_>>()
    );
    assert_eq!(
        zxids(log.read(Zxid(15)).unwrap()),
        (15..=30).collect::<Vec<_>>()
    );
    let iter = log.read(Zxid(15)).unwrap();
    assert_eq!(
        iter.files().count(),
        2,
        "log.b may hold zxid 15, log.1 cannot"
    );
    assert_eq!(log.last_logged_zxid().unwrap(), Some(Zxid(30)));
    // Appends after a restart start a new file.
    let mut log = FileTxnLog::new(dir.path(), small());
    log.append(&txn(31)).unwrap();
    log.commit().unwrap();
    assert!(dir.path().join("log.1f").exists());
    assert_eq!(zxids(log.read(Zxid(29)).unwrap()), [29, 30, 31]);
}

#[test]
fn size_limit_rolls_on_commit() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileTxnLog::new(
        dir.path(),
        LogOptions {
            size_limit_bytes: Some(1000),
            ..small()
        },
    );
    for z in 1..=40 {
        log.append(&txn(z)).unwrap();
        log.commit().unwrap();
    }
    assert!(log.files().unwrap().len() > 3);
    assert_eq!(
        zxids(log.read(Zxid(1)).unwrap()),
        (1..=40).collect::<Vec<_>>()
    );
}

#[test]
fn truncate_cuts_after_the_zxid_and_removes_later_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileTxnLog::new(dir.path(), small());
    for z in 1..=30 {
        log.append(&txn(z)).unwrap();
        if z % 10 == 0 {
            log.roll().unwrap();
        }
    }
    log.commit().unwrap();
    log.truncate(Zxid(14)).unwrap();
    assert_eq!(
        zxids(log.read(Zxid(1)).unwrap()),
        (1..=14).collect::<Vec<_>>()
    );
    assert!(!dir.path().join("log.15").exists());
    assert_eq!(log.last_logged_zxid().unwrap(), Some(Zxid(14)));
    // Appending continues in a new file.
    log.append(&txn(15)).unwrap();
    log.commit().unwrap();
    assert_eq!(zxids(log.read(Zxid(13)).unwrap()), [13, 14, 15]);
    // A zxid before every file removes them all.
    log.truncate(Zxid(0)).unwrap();
    assert!(log.files().unwrap().is_empty());
    assert!(matches!(
        log.truncate(Zxid(3)),
        Err(Error::NothingToTruncate { .. })
    ));
}

/// Offsets where each record of a committed log starts, and the end of the last.
fn record_bounds(path: &Path) -> Vec<u64> {
    let bytes = fs::read(path).unwrap();
    let mut bounds = vec![16u64];
    let mut at = 16usize;
    loop {
        let len = i32::from_be_bytes(bytes[at + 8..at + 12].try_into().unwrap());
        if len == 0 {
            return bounds;
        }
        at += 13 + len as usize;
        bounds.push(at as u64);
    }
}

#[test]
fn a_torn_tail_is_reported_with_the_last_good_zxid() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileTxnLog::new(dir.path(), small());
    for z in 1..=20 {
        log.append(&txn(z)).unwrap();
    }
    log.commit().unwrap();
    let path = dir.path().join("log.1");
    let bounds = record_bounds(&path);
    let original = fs::read(&path).unwrap();
    for cut in bounds[10] + 1..bounds[11] {
        // A partial 11th record, then zeros (the preallocated space).
        let mut torn = original.clone();
        torn[cut as usize..bounds[20] as usize].fill(0);
        fs::write(&path, &torn).unwrap();
        let mut iter = log.read(Zxid(1)).unwrap();
        let read: Vec<_> = iter.by_ref().map(|t| t.unwrap().zxid().0).collect();
        assert_eq!(read, (1..=10).collect::<Vec<_>>(), "cut at {cut}");
        if torn[bounds[10] as usize..cut as usize]
            .iter()
            .all(|&b| b == 0)
        {
            // Only the zero high half of the checksum made it: indistinguishable from the end.
            assert!(iter.torn_tail().is_none());
            continue;
        }
        let tail = iter.torn_tail().expect("a torn tail");
        assert_eq!(tail.offset, bounds[10]);
        assert_eq!(tail.last_good_zxid, Some(Zxid(10)));
        assert!(tail.discarded_bytes >= 1 && tail.discarded_bytes <= cut - bounds[10]);
    }
    // Zeros exactly at a record boundary are the clean end of the log.
    let mut clean = original.clone();
    clean[bounds[15] as usize..].fill(0);
    fs::write(&path, &clean).unwrap();
    let mut iter = log.read(Zxid(1)).unwrap();
    assert_eq!(iter.by_ref().count(), 15);
    assert!(iter.torn_tail().is_none());
    // A file cut short (no preallocated space).
    fs::write(&path, &original[..bounds[7] as usize + 5]).unwrap();
    let mut iter = log.read(Zxid(1)).unwrap();
    assert_eq!(iter.by_ref().count(), 7);
    assert_eq!(iter.torn_tail().unwrap().discarded_bytes, 5);
}

#[test]
fn a_checksum_failure_in_the_middle_names_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileTxnLog::new(dir.path(), small());
    for z in 1..=20 {
        log.append(&txn(z)).unwrap();
    }
    log.commit().unwrap();
    let path = dir.path().join("log.1");
    let bounds = record_bounds(&path);
    let mut bytes = fs::read(&path).unwrap();
    bytes[bounds[5] as usize + 20] ^= 0x10;
    fs::write(&path, &bytes).unwrap();
    let results: Vec<_> = log.read(Zxid(1)).unwrap().collect();
    assert_eq!(results.len(), 6);
    match results.last().unwrap() {
        Err(Error::CorruptLog {
            path: p, offset, ..
        }) => {
            assert_eq!(p, &path);
            assert_eq!(*offset, bounds[5]);
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    let message = results.last().unwrap().as_ref().unwrap_err().to_string();
    assert!(
        message.contains("log.1") && message.contains(&bounds[5].to_string()),
        "{message}"
    );
}

#[test]
fn a_zeroed_length_with_records_after_it_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileTxnLog::new(dir.path(), small());
    for z in 1..=20 {
        log.append(&txn(z)).unwrap();
    }
    log.commit().unwrap();
    let path = dir.path().join("log.1");
    let bounds = record_bounds(&path);
    let mut bytes = fs::read(&path).unwrap();
    bytes[bounds[3] as usize + 8..bounds[3] as usize + 12].fill(0);
    fs::write(&path, &bytes).unwrap();
    let last = log.read(Zxid(1)).unwrap().last().unwrap();
    assert!(matches!(last, Err(Error::CorruptLog { offset, .. }) if offset == bounds[3]));
}

#[test]
fn a_partial_record_in_an_older_file_is_skipped_as_3_8_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileTxnLog::new(dir.path(), small());
    for z in 1..=10 {
        log.append(&txn(z)).unwrap();
    }
    log.commit().unwrap();
    // 3.8 crashed after writing half of zxid 11 and restarted with log.b.
    let first = dir.path().join("log.1");
    let bounds = record_bounds(&first);
    let mut extra = FileTxnLog::new(dir.path().join("x"), small());
    fs::create_dir(dir.path().join("x")).unwrap();
    extra.append(&txn(11)).unwrap();
    extra.commit().unwrap();
    let record = fs::read(dir.path().join("x/log.b")).unwrap()[16..16 + 40].to_vec();
    let mut bytes = fs::read(&first).unwrap();
    bytes[bounds[10] as usize..bounds[10] as usize + 40].copy_from_slice(&record);
    fs::write(&first, &bytes).unwrap();
    let mut log = FileTxnLog::new(dir.path(), small());
    for z in 11..=12 {
        log.append(&txn(z)).unwrap();
    }
    log.commit().unwrap();
    let mut iter = log.read(Zxid(1)).unwrap();
    assert_eq!(
        iter.by_ref()
            .map(|t| t.unwrap().zxid().0)
            .collect::<Vec<_>>(),
        (1..=12).collect::<Vec<_>>()
    );
    assert!(iter.torn_tail().is_none());
}

#[test]
fn an_empty_newest_file_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileTxnLog::new(dir.path(), small());
    for z in 1..=5 {
        log.append(&txn(z)).unwrap();
    }
    log.commit().unwrap();
    fs::write(dir.path().join("log.6"), [0u8; 7]).unwrap();
    let mut iter = log.read(Zxid(1)).unwrap();
    assert_eq!(iter.by_ref().count(), 5);
    let tail = iter.torn_tail().unwrap().clone();
    assert_eq!(tail.path, dir.path().join("log.6"));
    cut_torn_tail(&tail).unwrap();
    assert!(!dir.path().join("log.6").exists());
}
