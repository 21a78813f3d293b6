//! zk-snapshot-formatter and zk-txnlog-toolkit against Apache ZooKeeper 3.8's own
//! SnapshotFormatter and TxnLogToolkit (Debian's package), on the same files: data directories a
//! real Apache server wrote (the committed one and one written during the test), a snapshot built
//! to stress the print order, a log holding every kind of txn, and damaged copies. Both run with
//! TZ=UTC; only the JSON export's timestamp (the time of the run) is normalised.

mod tools_support;

use std::path::Path;

use zk_jute::txn::{
    CheckVersionTxn, CloseSessionTxn, CreateContainerTxn, CreateSessionTxn, CreateTtlTxn,
    CreateTxn, DeleteTxn, ErrorTxn, MultiTxn, SetAclTxn, SetDataTxn, Txn, TxnBody, TxnDigest,
    TxnEntry, TxnHeader,
};
use zk_jute::{Record, SessionId, Zxid};
use zk_persistence::{FileSnap, FileTxnLog, LogOptions, VERSION_DIR};
use zk_testkit::assert_same_text;

use tools_support::*;

/// Both formatters on `snapshot`, in each mode, print the same.
fn assert_formatters_agree(snapshot: &Path) {
    let path = s(snapshot);
    for mode in [&[][..], &["-d"][..]] {
        let args: Vec<&str> = mode.iter().copied().chain([path]).collect();
        let theirs = apache(SNAPSHOT_FORMATTER, &args, b"");
        let mine = ours("zk-snapshot-formatter", &args, b"");
        assert!(theirs.status.success(), "{}", stderr(&theirs));
        assert!(mine.status.success(), "{}", stderr(&mine));
        assert_same_text(
            &format!("SnapshotFormatter {args:?}"),
            ("Apache", &stdout(&theirs)),
            ("ours", &stdout(&mine)),
        );
    }
    // -json: the same JSON values (Debian's build escapes with Jackson, 3.8.0 upstream with
    // json-simple, which also escapes '/'), but for the timestamp of the run.
    let json = |o: &std::process::Output| -> serde_json::Value {
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)));
        v[2]["timestamp"] = 0.into();
        v
    };
    let theirs = apache(SNAPSHOT_FORMATTER, &["-json", path], b"");
    let mine = ours("zk-snapshot-formatter", &["-json", path], b"");
    assert!(mine.status.success(), "{}", stderr(&mine));
    assert_eq!(json(&mine), json(&theirs), "SnapshotFormatter -json {path}");
}

/// Both toolkits with `args` (the file last) and `stdin` print the same on stdout.
fn assert_toolkits_agree(
    args: &[&str],
    stdin: &[u8],
) -> (std::process::Output, std::process::Output) {
    let theirs = apache(TXN_LOG_TOOLKIT, args, stdin);
    let mine = ours("zk-txnlog-toolkit", args, stdin);
    assert_same_text(
        &format!("TxnLogToolkit {args:?}"),
        ("Apache", &stdout(&theirs)),
        ("ours", &stdout(&mine)),
    );
    (theirs, mine)
}

#[test]
fn the_committed_apache_datadir_prints_as_apache_prints_it() {
    let dir = apache_datadir();
    for snapshot in files(&dir.join("data").join(VERSION_DIR), "snapshot") {
        assert_formatters_agree(&snapshot);
    }
    for log in files(&dir.join("datalog").join(VERSION_DIR), "log") {
        for mode in [&[][..], &["-d"][..]] {
            let args: Vec<&str> = mode.iter().copied().chain([s(&log)]).collect();
            let (_, mine) = assert_toolkits_agree(&args, b"");
            assert!(mine.status.success(), "{}", stderr(&mine));
        }
    }
}

#[test]
fn a_datadir_apache_writes_now_prints_as_apache_prints_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    apache_writes_datadir(&data);
    let v2 = data.join(VERSION_DIR);
    let snapshots = files(&v2, "snapshot");
    let logs = files(&v2, "log");
    assert!(
        snapshots.len() >= 3 && logs.len() >= 3,
        "{snapshots:?} {logs:?}"
    );
    for snapshot in &snapshots {
        if sealed(snapshot) {
            assert_formatters_agree(snapshot);
        } else {
            // Cut short by the crash: both tools refuse it.
            let theirs = apache(SNAPSHOT_FORMATTER, &[s(snapshot)], b"");
            let mine = ours("zk-snapshot-formatter", &[s(snapshot)], b"");
            assert!(!theirs.status.success() && !mine.status.success());
        }
    }
    for log in &logs {
        // Preallocated (64 KiB of zeros after the last record) as Apache left them.
        let (_, mine) = assert_toolkits_agree(&[s(log)], b"");
        assert!(mine.status.success(), "{}", stderr(&mine));
        assert!(stderr(&mine).is_empty(), "{}", stderr(&mine));
    }
}

#[test]
fn a_snapshot_stressing_the_print_order_prints_as_apache_prints_it() {
    let dir = tempfile::tempdir().unwrap();
    let snap = FileSnap::new(dir.path());
    snap.write(Zxid(0x1_0000_01ff), &mut stress_snapshot())
        .unwrap();
    assert_formatters_agree(&snap.path_for(Zxid(0x1_0000_01ff)));
    // A file name without a zxid: "Last zxid" comes from the nodes alone.
    let renamed = dir.path().join("backup.bin");
    std::fs::copy(snap.path_for(Zxid(0x1_0000_01ff)), &renamed).unwrap();
    assert_formatters_agree(&renamed);
}

fn entry(zxid: i64, cxid: i32, ty: i32, body: TxnBody, digest: bool) -> TxnEntry {
    TxnEntry {
        header: TxnHeader {
            client_id: SessionId(0x1000_0a5c_0de0_0001),
            cxid,
            zxid: Zxid(zxid),
            time: 1_795_700_882_000 + zxid * 3_600_017,
            r#type: ty,
        },
        body,
        digest: digest.then_some(TxnDigest {
            version: 2,
            tree_digest: zxid * 7919,
        }),
    }
}

/// A log with every kind of txn 3.8 logs, and texts that need escaping.
fn write_every_kind(dir: &Path) -> std::path::PathBuf {
    let open = acl(OPEN);
    let two = acl(&[(1, "world", "anyone"), (31, "digest", "u:p,w}%=")]);
    let data = |d: &[u8]| Some(bytes::Bytes::copy_from_slice(d));
    let create = |path: &str, d: Option<bytes::Bytes>, acl: Vec<zk_jute::Acl>, eph: bool| {
        TxnBody::Create(CreateTxn {
            path: path.into(),
            data: d,
            acl,
            ephemeral: eph,
            parent_c_version: 3,
        })
    };
    let set_data = |path: &str, d: Option<bytes::Bytes>| {
        TxnBody::SetData(SetDataTxn {
            path: path.into(),
            data: d,
            version: 2,
        })
    };
    let bodies: Vec<(i32, TxnBody, bool)> = vec![
        (
            -10,
            TxnBody::CreateSession(CreateSessionTxn { time_out: 30_000 }),
            true,
        ),
        (1, create("/a", data(b"plain"), open.clone(), false), true),
        (
            15,
            create("/a,b}c%d", data(b"line\nbreak"), two.clone(), true),
            true,
        ),
        (1, create("/null", None, vec![], false), true),
        (
            1,
            create(
                "/bin",
                data(&[0, 0xff, 0xc3, 0x28, 0xe2, 0x82]),
                open.clone(),
                false,
            ),
            true,
        ),
        (5, set_data("/a", data("caf\u{e9}".as_bytes())), true),
        (5, set_data("/a", None), true),
        (
            16,
            set_data("/zookeeper/config", data(b"server.1=x:1:2\n")),
            true,
        ),
        (
            7,
            TxnBody::SetAcl(SetAclTxn {
                path: "/a,b}c%d".into(),
                acl: two.clone(),
                version: 4,
            }),
            true,
        ),
        (
            7,
            TxnBody::SetAcl(SetAclTxn {
                path: "/a".into(),
                acl: vec![],
                version: 5,
            }),
            true,
        ),
        (
            19,
            TxnBody::CreateContainer(CreateContainerTxn {
                path: "/c".into(),
                data: None,
                acl: open.clone(),
                parent_c_version: 9,
            }),
            true,
        ),
        (
            21,
            TxnBody::CreateTtl(CreateTtlTxn {
                path: "/t".into(),
                data: data(b"ttl"),
                acl: open.clone(),
                parent_c_version: 10,
                ttl: 3_600_000,
            }),
            true,
        ),
        (
            2,
            TxnBody::Delete(DeleteTxn {
                path: "/a,b}c%d\n".into(),
            }),
            true,
        ),
        (20, TxnBody::Delete(DeleteTxn { path: "/c".into() }), true),
        (-1, TxnBody::Error(ErrorTxn { err: -110 }), false),
        (
            14,
            TxnBody::Multi(MultiTxn {
                txns: vec![
                    Txn::new(1, &create("/m", data(b"m"), open.clone(), false)),
                    Txn::new(
                        13,
                        &TxnBody::Check(CheckVersionTxn {
                            path: "/m".into(),
                            version: 0,
                        }),
                    ),
                    Txn::new(5, &set_data("/m", data(b"m2\n"))),
                    Txn::new(2, &TxnBody::Delete(DeleteTxn { path: "/m".into() })),
                ],
            }),
            true,
        ),
        (
            14,
            TxnBody::Multi(MultiTxn {
                txns: vec![
                    Txn::new(-1, &TxnBody::Error(ErrorTxn { err: 0 })),
                    Txn::new(-1, &TxnBody::Error(ErrorTxn { err: -101 })),
                ],
            }),
            true,
        ),
        (
            -11,
            TxnBody::CloseSession(Some(CloseSessionTxn {
                paths2_delete: vec!["/e1".into(), "/e,2".into()],
            })),
            true,
        ),
        (
            -11,
            TxnBody::CloseSession(Some(CloseSessionTxn {
                paths2_delete: vec![],
            })),
            true,
        ),
    ];
    let mut log = FileTxnLog::new(
        dir,
        LogOptions {
            prealloc_bytes: 4096,
            ..LogOptions::default()
        },
    );
    let mut zxid = 0x2_0000_0000i64;
    for (i, (ty, body, digest)) in bodies.into_iter().enumerate() {
        zxid += 1;
        log.append(&entry(zxid, i as i32 - 3, ty, body, digest))
            .unwrap();
    }
    // Txns older servers wrote: a create without parentCVersion (before 3.3) and a closeSession
    // without body (before 3.6).
    let mut v0 = Vec::new();
    zxid += 1;
    entry(zxid, 77, 1, TxnBody::Error(ErrorTxn { err: 0 }), false)
        .header
        .write(&mut v0);
    "/v0".to_string().write(&mut v0);
    Some(bytes::Bytes::from_static(b"old")).write(&mut v0);
    acl(OPEN).write(&mut v0);
    false.write(&mut v0);
    log.append_payload(Zxid(zxid), &v0).unwrap();
    let mut close = Vec::new();
    zxid += 1;
    entry(zxid, 78, -11, TxnBody::Error(ErrorTxn { err: 0 }), false)
        .header
        .write(&mut close);
    log.append_payload(Zxid(zxid), &close).unwrap();
    log.commit().unwrap();
    log.files().unwrap().remove(0)
}

#[test]
fn a_log_with_every_kind_of_txn_prints_as_apache_prints_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = write_every_kind(dir.path());
    for mode in [&[][..], &["-d"][..], &["-v"][..]] {
        let args: Vec<&str> = mode.iter().copied().chain([s(&log)]).collect();
        let (_, mine) = assert_toolkits_agree(&args, b"");
        assert!(mine.status.success(), "{}", stderr(&mine));
    }
    // chop at a zxid in the middle: the same output and the same chopped file.
    let middle = format!("{:#x}", 0x2_0000_0007i64);
    let chopped = log.with_file_name(format!("log.200000001.chopped{}", 0x2_0000_0007i64));
    let theirs = apache(TXN_LOG_TOOLKIT, &["-c", "-z", &middle, s(&log)], b"");
    let apache_chopped = std::fs::read(&chopped).unwrap();
    std::fs::remove_file(&chopped).unwrap();
    let mine = ours("zk-txnlog-toolkit", &["-c", "-z", &middle, s(&log)], b"");
    assert!(mine.status.success(), "{}", stderr(&mine));
    assert_same_text(
        "chop",
        ("Apache", &stdout(&theirs)),
        ("ours", &stdout(&mine)),
    );
    assert_eq!(std::fs::read(&chopped).unwrap(), apache_chopped);
    // At a zxid the log does not hold, and at its last one (nothing to chop off).
    for zxid in ["0x3", "0x200000017"] {
        let (_, mine) = assert_toolkits_agree(&["--chop", "--zxid", zxid, s(&log)], b"");
        assert!(!mine.status.success());
        assert!(
            stderr(&mine).contains("failed to chop"),
            "{}",
            stderr(&mine)
        );
    }
}

/// A copy of a log file with one payload byte changed (in the data of a txn, so it still decodes).
fn flip_payload_byte(log: &Path, to: &Path, data: &[u8]) -> u64 {
    let mut bytes = std::fs::read(log).unwrap();
    let at = bytes
        .windows(data.len())
        .position(|w| w == data)
        .expect("data in the log");
    bytes[at] ^= 0x20;
    std::fs::write(to, &bytes).unwrap();
    at as u64
}

#[test]
fn crc_errors_print_and_repair_as_apache_does() {
    let dir = tempfile::tempdir().unwrap();
    let log = write_every_kind(dir.path());
    let damaged = dir.path().join("log.damaged");
    flip_payload_byte(&log, &damaged, b"plain");
    // Dump mode shows the damaged txn twice, once behind "CRC ERROR - ".
    let (_, mine) = assert_toolkits_agree(&[s(&damaged)], b"");
    assert!(stdout(&mine).contains("CRC ERROR - "), "{}", stdout(&mine));
    // Recovery, asking: no, then yes, each writing its .fixed file.
    let fixed = dir.path().join("log.damaged.fixed");
    for answer in [&b"no\n"[..], b"Yes\n"] {
        let theirs = apache(TXN_LOG_TOOLKIT, &["-r", s(&damaged)], answer);
        let apache_fixed = std::fs::read(&fixed).unwrap();
        std::fs::remove_file(&fixed).unwrap();
        let mine = ours("zk-txnlog-toolkit", &["-r", s(&damaged)], answer);
        assert!(mine.status.success(), "{}", stderr(&mine));
        assert_same_text(
            "TxnLogToolkit -r",
            ("Apache", &stdout(&theirs)),
            ("ours", &stdout(&mine)),
        );
        // Apache preallocates the .fixed file with zeros; the records are the same.
        let our_fixed = std::fs::read(&fixed).unwrap();
        assert_eq!(
            apache_fixed[..our_fixed.len()],
            our_fixed[..],
            "the .fixed files differ"
        );
        assert!(apache_fixed[our_fixed.len()..].iter().all(|&b| b == 0));
        std::fs::remove_file(&fixed).unwrap();
    }
    // -y fixes without asking, -v prints every txn too.
    for args in [&["-r", "-y"][..], &["-ryv"][..]] {
        let all: Vec<&str> = args.iter().copied().chain([s(&damaged)]).collect();
        let theirs = apache(TXN_LOG_TOOLKIT, &all, b"");
        std::fs::remove_file(&fixed).unwrap();
        let mine = ours("zk-txnlog-toolkit", &all, b"");
        assert_same_text(
            &format!("TxnLogToolkit {args:?}"),
            ("Apache", &stdout(&theirs)),
            ("ours", &stdout(&mine)),
        );
        assert!(stdout(&theirs).contains("CRC FIXED - "));
        assert!(mine.status.success(), "{}", stderr(&mine));
        let fixed_log = std::fs::read(&fixed).unwrap();
        std::fs::remove_file(&fixed).unwrap();
        // The repaired copy reads cleanly.
        std::fs::write(dir.path().join("log.repaired"), &fixed_log).unwrap();
        let check = ours(
            "zk-txnlog-toolkit",
            &[s(&dir.path().join("log.repaired"))],
            b"",
        );
        assert!(!stdout(&check).contains("CRC ERROR"), "{}", stdout(&check));
    }
    // Abort leaves nothing behind here (Apache leaves a partial .fixed file).
    let mine = ours("zk-txnlog-toolkit", &["-r", s(&damaged)], b"abort\n");
    assert!(!mine.status.success());
    assert!(
        stderr(&mine).contains("recovery aborted"),
        "{}",
        stderr(&mine)
    );
    assert!(!fixed.exists());
    // An existing .fixed file is not overwritten.
    std::fs::write(&fixed, b"keep").unwrap();
    let mine = ours("zk-txnlog-toolkit", &["-r", "-y", s(&damaged)], b"");
    assert!(!mine.status.success());
    assert!(
        stderr(&mine).contains("already exists"),
        "{}",
        stderr(&mine)
    );
    assert_eq!(std::fs::read(&fixed).unwrap(), b"keep");
}

#[test]
fn a_torn_tail_prints_as_apache_and_recovery_cuts_it_with_a_message() {
    // Apache's newest log of the committed directory: its last record ends with a digest, so a
    // tear through the digest leaves a txn that still decodes.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.b9");
    std::fs::copy(apache_datadir().join("datalog/version-2/log.b9"), &log).unwrap();
    let full = std::fs::read(&log).unwrap();
    let end = full.iter().rposition(|&b| b != 0).unwrap() + 1;
    let records = |path: &Path| -> u32 {
        let out = ours("zk-txnlog-toolkit", &[s(path)], b"");
        stdout(&out)
            .lines()
            .find_map(|l| l.strip_prefix("EOF reached after "))
            .and_then(|n| n.trim_end_matches(" txns.").parse().ok())
            .unwrap()
    };
    let total = records(&log);
    // The file ends inside the last record.
    let cut = dir.path().join("log.cut");
    std::fs::write(&cut, &full[..end - 7]).unwrap();
    let (_, mine) = assert_toolkits_agree(&[s(&cut)], b"");
    assert!(mine.status.success(), "{}", stderr(&mine));
    assert!(
        stderr(&mine).contains("torn write at offset"),
        "{}",
        stderr(&mine)
    );
    // The last record is partial and preallocated zeros follow, as a crash mid-write leaves a
    // log: both tools show its failing checksum and stop at the missing end-of-record byte.
    let torn = dir.path().join("log.torn");
    let mut bytes = full[..end - 7].to_vec();
    bytes.resize(bytes.len() + 4096, 0);
    std::fs::write(&torn, &bytes).unwrap();
    let (theirs, mine) = assert_toolkits_agree(&[s(&torn)], b"");
    assert!(!theirs.status.success() && !mine.status.success());
    assert!(stderr(&mine).contains("Last transaction was partial."));
    assert!(
        stderr(&mine).contains("torn write at offset"),
        "{}",
        stderr(&mine)
    );
    // Recovery writes the records before the tear and says what it left out (Apache's tool would
    // "fix" the partial record's checksum, then fail without a summary).
    for path in [&cut, &torn] {
        let mine = ours("zk-txnlog-toolkit", &["-r", "-y", s(path)], b"");
        let message = stderr(&mine);
        assert!(mine.status.success(), "{message}");
        assert!(
            stdout(&mine).contains("has been written with 0 fixed CRC error(s)"),
            "{}",
            stdout(&mine)
        );
        assert!(
            message.contains("torn write at offset")
                && message.contains("holds the records before it"),
            "{message}"
        );
        let fixed = path.with_file_name(format!(
            "{}.fixed",
            path.file_name().unwrap().to_str().unwrap()
        ));
        assert_eq!(records(&fixed), total - 1);
        assert!(
            ours("zk-txnlog-toolkit", &[s(&fixed)], b"")
                .stderr
                .is_empty()
        );
    }
}

#[test]
fn bad_invocations_fail_with_a_usage() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("snapshot.1");
    let out = ours("zk-snapshot-formatter", &[s(&missing)], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    let out = ours("zk-snapshot-formatter", &["-d", "-json", s(&missing)], b"");
    assert_eq!(out.status.code(), Some(2));
    let out = ours("zk-snapshot-formatter", &[], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("USAGE: SnapshotFormatter"));
    let out = ours("zk-txnlog-toolkit", &["-q", "x"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("Unrecognized option: -q"),
        "{}",
        stderr(&out)
    );
    let out = ours("zk-txnlog-toolkit", &["--help"], b"");
    assert!(out.status.success());
    assert!(stdout(&out).contains("-r,--recover"));
    // A snapshot whose checksum fails still prints, then the damage is reported.
    let snap = FileSnap::new(dir.path());
    snap.write(Zxid(5), &mut stress_snapshot()).unwrap();
    let path = snap.path_for(Zxid(5));
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(11).position(|w| w == b"application").unwrap();
    bytes[at] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let out = ours("zk-snapshot-formatter", &[s(&path)], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("Last zxid: 0x"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("checksum mismatch"),
        "{}",
        stderr(&out)
    );
    // A snapshot cut in the middle of its nodes does not print.
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let out = ours("zk-snapshot-formatter", &[s(&path)], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    assert!(
        stderr(&out).contains("unexpected end of file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn progress_goes_to_stderr_and_leaves_stdout_alone() {
    let dir = tempfile::tempdir().unwrap();
    let snap = FileSnap::new(dir.path());
    snap.write(Zxid(5), &mut stress_snapshot()).unwrap();
    let path = snap.path_for(Zxid(5));
    let quiet = ours("zk-snapshot-formatter", &["-d", s(&path)], b"");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_zk-snapshot-formatter"));
    let loud = command
        .args(["-d", s(&path)])
        .env("TZ", "UTC")
        .env("ZK_PROGRESS_MIN_BYTES", "0")
        .output()
        .unwrap();
    assert_eq!(quiet.stdout, loud.stdout);
    assert!(stderr(&quiet).is_empty());
    assert!(
        stderr(&loud).contains("zk-snapshot-formatter: read"),
        "{}",
        stderr(&loud)
    );
}
