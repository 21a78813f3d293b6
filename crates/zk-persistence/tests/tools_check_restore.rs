//! zk-datadir-check on clean and damaged data directories, and zk-restore from backup snapshots:
//! restored directories load to the tree the backup holds (its digest is the one the server had
//! at the backup zxid), in our recovery and in a real Apache ZooKeeper 3.8.

mod tools_support;

use std::path::{Path, PathBuf};

use zk_datatree::TreeConfig;
use zk_jute::Zxid;
use zk_persistence::{
    FileSnap, FileTxnSnapLog, StoreOptions, VERSION_DIR, read_dir, read_epoch, restore_tree,
};

use tools_support::*;

fn check(args: &[&str]) -> (i32, String) {
    let out = ours("zk-datadir-check", args, b"");
    assert!(
        stderr(&out).is_empty(),
        "zk-datadir-check wrote to stderr: {}",
        stderr(&out)
    );
    (out.status.code().unwrap(), stdout(&out))
}

/// A copy of the committed Apache data directory: (root, data, datalog).
fn apache_copy() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&apache_datadir(), dir.path());
    let data = dir.path().join("data");
    let logs = dir.path().join("datalog");
    (dir, data, logs)
}

fn problems(report: &str, level: &str) -> Vec<String> {
    report
        .lines()
        .filter(|l| l.starts_with(&format!("{level}: ")))
        .map(str::to_owned)
        .collect()
}

#[test]
fn clean_data_directories_pass() {
    let (_dir, data, logs) = apache_copy();
    let (code, report) = check(&[s(&data), s(&logs)]);
    assert_eq!(code, 0, "{report}");
    assert!(report.contains("no errors"), "{report}");
    assert!(
        report.contains("every txn digest matches the tree"),
        "{report}"
    );
    // Apache's fuzzy snapshot.1f is the one warning: its digest section is older than its tree.
    let warnings = problems(&report, "warning");
    assert_eq!(warnings.len(), 1, "{report}");
    assert!(warnings[0].contains("snapshot.1f"), "{report}");

    // One Apache writes now (killed at the end, its logs preallocated), through zoo.cfg.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    apache_writes_datadir(&data);
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(&cfg, format!("tickTime=2000\ndataDir={}\n", data.display())).unwrap();
    let (code, report) = check(&["-c", s(&cfg)]);
    assert_eq!(code, 0, "{report}");
    assert!(problems(&report, "error").is_empty(), "{report}");

    // And one written here.
    let dir = tempfile::tempdir().unwrap();
    let mut store = FileTxnSnapLog::open(dir.path(), dir.path(), StoreOptions::default()).unwrap();
    let restored = restore_tree(&mut store, TreeConfig::default()).unwrap();
    store.save(Zxid(0), &mut &restored.tree).unwrap();
    let (code, report) = check(&[s(dir.path())]);
    assert_eq!(code, 0, "{report}");
    assert!(report.contains("no problems found"), "{report}");
}

#[test]
fn a_flipped_byte_in_a_snapshot_is_an_error_naming_file_and_offset() {
    let (_dir, data, logs) = apache_copy();
    let snapshot = data.join(VERSION_DIR).join("snapshot.d5");
    let mut bytes = std::fs::read(&snapshot).unwrap();
    let at = bytes
        .windows(14)
        .position(|w| w == b"application v2")
        .unwrap();
    bytes[at + 3] ^= 0x04;
    std::fs::write(&snapshot, &bytes).unwrap();
    let (code, report) = check(&[s(&data), s(&logs)]);
    assert_eq!(code, 1, "{report}");
    let errors = problems(&report, "error");
    assert_eq!(errors.len(), 1, "{report}");
    assert!(
        errors[0].contains("snapshot.d5 at offset") && errors[0].contains("checksum mismatch"),
        "{report}"
    );
    // The server would fall back to snapshot.b7 and the logs: the replay says so.
    assert!(
        report.contains("snapshot.b7 and the 30 txns after it lead to zxid 0xd5"),
        "{report}"
    );
    // A damaged path breaks the tree instead: the offset is the node's.
    let mut bytes = std::fs::read(&snapshot).unwrap();
    let at = bytes.windows(5).position(|w| w == b"/bulk").unwrap();
    bytes[at + 2] ^= 0x04;
    std::fs::write(&snapshot, &bytes).unwrap();
    let (code, report) = check(&[s(&data), s(&logs)]);
    assert_eq!(code, 1, "{report}");
    assert!(
        problems(&report, "error")
            .iter()
            .any(|e| e.contains("snapshot.d5 at offset") && e.contains("unable to find parent")),
        "{report}"
    );
}

#[test]
fn a_torn_log_tail_is_reported_with_its_offset() {
    let (_dir, data, logs) = apache_copy();
    let newest = logs.join(VERSION_DIR).join("log.b9");
    let bytes = std::fs::read(&newest).unwrap();
    let last_record = bytes.len() as u64 - 40;
    std::fs::write(&newest, &bytes[..bytes.len() - 5]).unwrap();
    let (code, report) = check(&[s(&data), s(&logs)]);
    // Normal after a crash: a warning, and nothing for the operator to do.
    assert_eq!(code, 0, "{report}");
    let torn: Vec<String> = problems(&report, "warning")
        .into_iter()
        .filter(|w| w.contains("log.b9"))
        .collect();
    assert_eq!(torn.len(), 1, "{report}");
    assert!(torn[0].contains("torn write"), "{report}");
    let offset: u64 = torn[0]
        .split("at offset ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(
        offset > last_record - 100 && offset < bytes.len() as u64,
        "{report}"
    );

    // A torn record in an older log, with txns missing before the next file: an error.
    let (_dir, data, logs) = apache_copy();
    let older = logs.join(VERSION_DIR).join("log.57");
    let bytes = std::fs::read(&older).unwrap();
    std::fs::write(&older, &bytes[..bytes.len() - 5]).unwrap();
    let (code, report) = check(&[s(&data), s(&logs)]);
    assert_eq!(code, 1, "{report}");
    let errors = problems(&report, "error");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("log.57 at offset") && e.contains("txns are missing")),
        "{report}"
    );
}

#[test]
fn a_damaged_log_record_is_an_error_naming_file_and_offset() {
    let (_dir, data, logs) = apache_copy();
    let log = logs.join(VERSION_DIR).join("log.76");
    let mut bytes = std::fs::read(&log).unwrap();
    let at = bytes.windows(4).position(|w| w == b"bulk").unwrap();
    bytes[at] ^= 0x01;
    std::fs::write(&log, &bytes).unwrap();
    let (code, report) = check(&[s(&data), s(&logs)]);
    assert_eq!(code, 1, "{report}");
    let errors = problems(&report, "error");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("log.76 at offset") && e.contains("checksum")),
        "{report}"
    );
    assert!(
        errors.iter().all(|e| e.contains("; ")),
        "every problem says what to do: {report}"
    );
}

#[test]
fn gaps_between_snapshots_and_logs_are_reported() {
    // A log file missing before the newest snapshot: only older snapshots are affected.
    let (_dir, data, logs) = apache_copy();
    std::fs::remove_file(logs.join(VERSION_DIR).join("log.76")).unwrap();
    let (code, report) = check(&[s(&data), s(&logs)]);
    assert_eq!(code, 0, "{report}");
    assert!(
        problems(&report, "warning")
            .iter()
            .any(|w| w.contains("snapshot.74") && w.contains("could not fall back")),
        "{report}"
    );
    // The same gap after the snapshot a server would start from: an error.
    for newer in ["snapshot.b7", "snapshot.d5"] {
        std::fs::remove_file(data.join(VERSION_DIR).join(newer)).unwrap();
    }
    let (code, report) = check(&[s(&data), s(&logs)]);
    assert_eq!(code, 1, "{report}");
    let errors = problems(&report, "error");
    assert_eq!(errors.len(), 1, "{report}");
    assert!(
        errors[0].contains("txns after 0x98 up to 0x9a are missing")
            && errors[0].contains("snapshot.98"),
        "{report}"
    );
    // Logs without any snapshot.
    for snapshot in files(&data.join(VERSION_DIR), "snapshot") {
        std::fs::remove_file(snapshot).unwrap();
    }
    let (code, report) = check(&[s(&data), s(&logs)]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("txn logs but no snapshot"), "{report}");
}

#[test]
fn epoch_files_are_checked_against_each_other_and_the_log() {
    let (_dir, data, logs) = apache_copy();
    let v2 = data.join(VERSION_DIR);
    std::fs::write(v2.join("acceptedEpoch"), "0").unwrap();
    std::fs::write(v2.join("currentEpoch"), "0").unwrap();
    let (code, report) = check(&[s(&data), s(&logs)]);
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains("acceptedEpoch 0, currentEpoch 0"),
        "{report}"
    );
    std::fs::write(v2.join("currentEpoch"), "2").unwrap();
    let (code, report) = check(&[s(&data), s(&logs)]);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains("acceptedEpoch 0 is less than currentEpoch 2"),
        "{report}"
    );
    std::fs::write(v2.join("currentEpoch"), "two").unwrap();
    let (code, report) = check(&[s(&data), s(&logs)]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("currentEpoch holds \"two\""), "{report}");
}

#[test]
fn mixed_and_missing_directories_are_reported() {
    let (_dir, data, logs) = apache_copy();
    std::fs::copy(
        logs.join(VERSION_DIR).join("log.b9"),
        data.join(VERSION_DIR).join("log.b9"),
    )
    .unwrap();
    let (code, report) = check(&[s(&data), s(&logs)]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("mix their files"), "{report}");
    let out = ours("zk-datadir-check", &["/does/not/exist"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is not a directory"),
        "{}",
        stderr(&out)
    );
}

/// The digest the server logged with the txn `zxid`: the tree's digest right after it.
fn logged_digest(logs: &Path, zxid: Zxid) -> Option<i64> {
    read_dir(&logs.join(VERSION_DIR), zxid)
        .unwrap()
        .map(Result::unwrap)
        .find(|t| t.zxid() == zxid)
        .and_then(|t| t.entry.digest.map(|d| d.tree_digest))
}

fn restored_tree(data: &Path) -> zk_persistence::RestoredTree {
    let mut store = FileTxnSnapLog::open(data, data, StoreOptions::default()).unwrap();
    restore_tree(
        &mut store,
        TreeConfig {
            extended_types_enabled: true,
            ..TreeConfig::default()
        },
    )
    .unwrap()
}

#[test]
fn backups_restore_to_the_tree_the_server_had_at_their_zxid() {
    let (_dir, _data, logs) = apache_copy();
    let snapshots = files(&apache_datadir().join("data").join(VERSION_DIR), "snapshot");
    for snapshot in snapshots {
        let name = snapshot.file_name().unwrap().to_str().unwrap().to_owned();
        let zxid = Zxid(i64::from_str_radix(name.trim_start_matches("snapshot."), 16).unwrap());
        // As the snapshot command's body: a file with no zxid in its name.
        let work = tempfile::tempdir().unwrap();
        let backup = work.path().join("backup.bin");
        std::fs::copy(&snapshot, &backup).unwrap();
        let target = work.path().join("restored");
        let zxid_arg = format!("{:#x}", zxid.0);
        let out = ours(
            "zk-restore",
            &["--zxid", &zxid_arg, s(&backup), s(&target)],
            b"",
        );
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(stdout(&out).contains("verified"), "{}", stdout(&out));
        let v2 = target.join(VERSION_DIR);
        assert!(v2.join(&name).exists(), "{name}");
        assert_eq!(read_epoch(&v2, "acceptedEpoch").unwrap(), Some(0));
        assert_eq!(read_epoch(&v2, "currentEpoch").unwrap(), Some(0));
        let restored = restored_tree(&target);
        assert_eq!(restored.restored.zxid, zxid, "{name}");
        assert_eq!(restored.restored.txns_replayed, 0, "{name}");
        // The restored tree is the snapshot's tree: its digest is what the server logged after
        // the txn at the backup zxid (snapshot.1f is fuzzy: it already holds txn 0x20).
        if let Some(expected) = logged_digest(&logs, zxid) {
            if zxid == Zxid(0x1f) {
                assert_ne!(restored.tree.digest(), expected, "{name}");
                assert!(stderr(&out).contains("fuzzy"), "{}", stderr(&out));
            } else {
                assert_eq!(restored.tree.digest(), expected, "{name}");
            }
        }
        // The checker agrees.
        let (code, report) = check(&[s(&target)]);
        assert_eq!(code, 0, "{report}");
    }
}

#[test]
fn a_backup_without_zxid_takes_it_from_a_matching_digest_or_is_refused() {
    let work = tempfile::tempdir().unwrap();
    // snapshot.d5's digest section matches its tree: the zxid comes from it.
    let backup = work.path().join("backup.bin");
    std::fs::copy(apache_datadir().join("data/version-2/snapshot.d5"), &backup).unwrap();
    let target = work.path().join("a");
    let out = ours("zk-restore", &[s(&backup), s(&target)], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(target.join("version-2/snapshot.d5").exists());
    // From standard input too.
    let target = work.path().join("b");
    let out = ours(
        "zk-restore",
        &["-", s(&target)],
        &std::fs::read(&backup).unwrap(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(target.join("version-2/snapshot.d5").exists());
    // snapshot.1f is fuzzy: its digest section does not describe its tree.
    std::fs::copy(apache_datadir().join("data/version-2/snapshot.1f"), &backup).unwrap();
    let target = work.path().join("c");
    let out = ours("zk-restore", &[s(&backup), s(&target)], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("pass --zxid"), "{}", stderr(&out));
    assert!(!target.join("version-2/snapshot.1f").exists());
    assert_eq!(
        std::fs::read_dir(target.join("version-2")).unwrap().count(),
        0
    );
}

#[test]
fn restore_refuses_damage_and_existing_databases_unless_forced() {
    let work = tempfile::tempdir().unwrap();
    let backup = work.path().join("backup.bin");
    let mut bytes = std::fs::read(apache_datadir().join("data/version-2/snapshot.d5")).unwrap();
    let good = bytes.clone();
    let at = bytes.windows(4).position(|w| w == b"bulk").unwrap();
    bytes[at] ^= 1;
    std::fs::write(&backup, &bytes).unwrap();
    let target = work.path().join("data");
    let out = ours(
        "zk-restore",
        &["--zxid", "0xd5", s(&backup), s(&target)],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a valid snapshot"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_dir(target.join("version-2")).unwrap().count(),
        0
    );
    // A cut download.
    std::fs::write(&backup, &good[..good.len() / 2]).unwrap();
    let out = ours(
        "zk-restore",
        &["--zxid", "0xd5", s(&backup), s(&target)],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        std::fs::read_dir(target.join("version-2")).unwrap().count(),
        0
    );

    // An existing database stays unless --force, which moves it aside.
    let (_dir, data, _logs) = apache_copy();
    std::fs::write(&backup, &good).unwrap();
    let before: Vec<PathBuf> = files(&data.join(VERSION_DIR), "snapshot");
    let out = ours(
        "zk-restore",
        &["--zxid", "0x1000000d5", s(&backup), s(&data)],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(files(&data.join(VERSION_DIR), "snapshot"), before);
    let out = ours(
        "zk-restore",
        &["--zxid", "0x1000000d5", "--force", s(&backup), s(&data)],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v2 = data.join(VERSION_DIR);
    assert_eq!(files(&v2, "snapshot"), vec![v2.join("snapshot.1000000d5")]);
    // The epoch of the zxid, so a quorum member accepts the directory.
    assert_eq!(read_epoch(&v2, "acceptedEpoch").unwrap(), Some(1));
    assert_eq!(read_epoch(&v2, "currentEpoch").unwrap(), Some(1));
    let aside: Vec<PathBuf> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().contains("before-restore"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(files(&aside[0], "snapshot").len(), before.len());
    assert!(stdout(&out).contains("moved 8 files"), "{}", stdout(&out));
}

#[test]
fn apache_serves_a_restored_directory() {
    let work = tempfile::tempdir().unwrap();
    let backup = work.path().join("backup.bin");
    std::fs::copy(apache_datadir().join("data/version-2/snapshot.d5"), &backup).unwrap();
    let data = work.path().join("data");
    let out = ours("zk-restore", &["--zxid", "0xd5", s(&backup), s(&data)], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let count = {
        let formatter = ours(
            "zk-snapshot-formatter",
            &[s(&data.join("version-2/snapshot.d5"))],
            b"",
        );
        stdout(&formatter)
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("ZNode Details (count=")
            .trim_end_matches("):")
            .to_owned()
    };
    let server = zk_testkit::ApacheServer::start_with(zk_testkit::ApacheOptions {
        data_dir: Some(data.clone()),
        jvm_args: vec!["-Dzookeeper.extendedTypesEnabled=true".into()],
        ..Default::default()
    });
    let srvr = server.four_letter_word("srvr");
    assert!(srvr.contains("Zxid: 0xd5"), "{srvr}");
    assert!(srvr.contains(&format!("Node count: {count}")), "{srvr}");
    drop(server);
    let _ = FileSnap::new(data.join(VERSION_DIR)).all().unwrap();
}
