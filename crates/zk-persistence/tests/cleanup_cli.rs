//! The `zk-cleanup` binary: PurgeTxnLog's command line.

use std::path::Path;
use std::process::Command;

use zk_jute::Zxid;
use zk_persistence::{FileSnap, Snapshot, VERSION_DIR};

fn cleanup(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_zk-cleanup"))
        .args(args)
        .output()
        .unwrap()
}

fn snapshots(dir: &Path) -> usize {
    std::fs::read_dir(dir.join(VERSION_DIR)).unwrap().count()
}

#[test]
fn cleanup_keeps_count_snapshots() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(logs.path().join(VERSION_DIR)).unwrap();
    let snap = FileSnap::new(data.path().join(VERSION_DIR));
    std::fs::create_dir_all(snap.dir()).unwrap();
    for z in 0..6 {
        snap.write(Zxid(z), &mut Snapshot::default()).unwrap();
    }
    let (l, d) = (logs.path().to_str().unwrap(), data.path().to_str().unwrap());
    let out = cleanup(&[l, d, "-n", "4"]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("Removing file: "))
            .count(),
        2,
        "{stdout}"
    );
    assert!(
        stdout.contains("snapshot.0") && stdout.contains("snapshot.1"),
        "{stdout}"
    );
    assert_eq!(snapshots(data.path()), 4);
}

#[test]
fn cleanup_rejects_bad_arguments_with_usage() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for args in [
        vec![d, "-n", "2"],
        vec![d, "-x", "3"],
        vec![d, "-n", "three"],
        vec!["/does/not/exist", "-n", "3"],
        vec![d],
    ] {
        let out = cleanup(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
    let out = cleanup(&[d, "-n", "2"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("greater than or equal to 3"));
}
