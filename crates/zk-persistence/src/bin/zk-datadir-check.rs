//! `zk-datadir-check [-c zoo.cfg | dataDir [dataLogDir]]`: checks that a ZooKeeper data directory
//! is whole: every snapshot's checksums and tree, every txn log record's checksum, zxid order and
//! end, the txns a server replays after its snapshot (digests included), gaps between snapshots
//! and logs, and the epoch files. Read-only: it never changes a file.

#[path = "shared/progress.rs"]
mod progress;
#[path = "shared/rawlog.rs"]
mod rawlog;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use zk_datatree::{DataTree, TreeConfig};
use zk_jute::{Acl, SessionId, Zxid};
use zk_persistence::{
    ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE, Error, FileSnap, FileTxnLog, LogOptions, SnapshotNode,
    SnapshotSink, TreeLoader, VERSION_DIR, ZxidDigest, read_epoch, read_log_file,
};

use progress::{Progress, mib};

const TOOL: &str = "zk-datadir-check";

const HELP: &str = "\
Usage: zk-datadir-check dataDir [dataLogDir]
       zk-datadir-check -c zoo.cfg

Checks the integrity of a ZooKeeper 3.8 data directory (the dataDir and dataLogDir of zoo.cfg,
each holding version-2) without changing anything:
  - every snapshot: both checksums, a tree whose every node has its parent, and the digest section
  - every txn log: the header, every record's checksum, zxids in increasing order, and how each
    file ends (a torn tail after a crash is normal in the newest file, damage is not)
  - the snapshot a server would load and the txns it would replay after it, with every txn's
    digest compared to the tree's
  - gaps: txns missing between a snapshot and the logs, or between log files
  - acceptedEpoch and currentEpoch against each other and against the last zxid

Prints what it found, then each problem with its file, offset and what to do. Run it while no
server writes to the directory (or expect a torn tail in the newest log).

Exit status: 0 no errors (warnings may be printed), 1 errors found, 2 bad invocation or unreadable
directory.";

fn usage(problem: &str) -> ExitCode {
    eprintln!("{TOOL}: {problem}");
    eprintln!("usage: zk-datadir-check dataDir [dataLogDir] | -c zoo.cfg (see --help)");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{HELP}");
        return ExitCode::SUCCESS;
    }
    let (data_dir, log_dir) = match args.as_slice() {
        [flag, cfg] if flag == "-c" || flag == "--config" => match dirs_from_config(Path::new(cfg))
        {
            Ok(dirs) => dirs,
            Err(e) => return usage(&e),
        },
        [data] => (PathBuf::from(data), PathBuf::from(data)),
        [data, log] => (PathBuf::from(data), PathBuf::from(log)),
        _ => return usage("give a data directory (and a txn log directory if it differs)"),
    };
    let snap_dir = version_dir(&data_dir);
    let log_dir = version_dir(&log_dir);
    for dir in [&snap_dir, &log_dir] {
        if !dir.is_dir() {
            return usage(&format!(
                "{} is not a directory; pass the dataDir (or dataLogDir) of zoo.cfg, which holds {VERSION_DIR}",
                dir.display()
            ));
        }
    }
    let mut check = Check::default();
    check.run(&snap_dir, &log_dir);
    print!("{}", check.render(&snap_dir, &log_dir));
    if check.errors() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `dir/version-2`, or `dir` itself when it is a version-2 directory.
fn version_dir(dir: &Path) -> PathBuf {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    if dir.file_name().is_some_and(|n| n == VERSION_DIR) {
        dir
    } else {
        dir.join(VERSION_DIR)
    }
}

/// dataDir and dataLogDir (which defaults to dataDir) of a zoo.cfg.
fn dirs_from_config(cfg: &Path) -> Result<(PathBuf, PathBuf), String> {
    let text = std::fs::read_to_string(cfg).map_err(|e| {
        format!(
            "cannot read {}: {e}; pass the path of zoo.cfg",
            cfg.display()
        )
    })?;
    let mut data = None;
    let mut log = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            match key.trim() {
                "dataDir" => data = Some(PathBuf::from(value.trim())),
                "dataLogDir" => log = Some(PathBuf::from(value.trim())),
                _ => {}
            }
        }
    }
    let data =
        data.ok_or_else(|| format!("{} sets no dataDir; add dataDir=<path>", cfg.display()))?;
    let log = log.unwrap_or_else(|| data.clone());
    Ok((data, log))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Error,
    Warning,
}

/// One problem: where it is, what it is, what to do about it.
#[derive(Debug)]
struct Finding {
    level: Level,
    file: Option<PathBuf>,
    offset: Option<u64>,
    what: String,
    todo: String,
}

/// A snapshot and what reading it found.
#[derive(Debug)]
struct SnapInfo {
    zxid: Zxid,
    path: PathBuf,
    valid: bool,
    line: String,
    digest: Option<ZxidDigest>,
    /// The first logged txn after it, once the logs are read.
    first_after: Option<Zxid>,
}

/// A place where logged zxids do not follow each other.
#[derive(Debug, Clone)]
struct Gap {
    prev: Zxid,
    next: Zxid,
    file: PathBuf,
    offset: u64,
}

/// A log file and what reading it found.
#[derive(Debug)]
struct LogInfo {
    path: PathBuf,
    name_zxid: Zxid,
    txns: u64,
    first: Option<Zxid>,
    last: Option<Zxid>,
    torn: Option<(u64, u64)>,
    failed: bool,
}

/// The tree of the snapshot a server would load, replayed along the log.
#[derive(Debug)]
struct Replay {
    tree: DataTree,
    snapshot: Zxid,
    path: PathBuf,
    /// The digest section, when 3.8 would check it (its zxid at or after the snapshot's).
    pending: Option<ZxidDigest>,
    txns: u64,
    last: Zxid,
    mismatches: u64,
    /// Replay stops where a server's would: at the first broken record.
    stopped: bool,
    /// Replay stopped comparing at missing txns (every later digest would differ): the zxid after
    /// the gap.
    gap: Option<Zxid>,
}

#[derive(Debug, Default)]
struct Check {
    findings: Vec<Finding>,
    snapshots: Vec<SnapInfo>,
    logs: Vec<LogInfo>,
    gaps: Vec<Gap>,
    backwards: u64,
    replay: Option<Replay>,
    last_zxid: Option<Zxid>,
    epochs: String,
}

fn tree_config() -> TreeConfig {
    TreeConfig {
        extended_types_enabled: true,
        ..TreeConfig::default()
    }
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Whether two zxids follow each other in a log: the next counter of the same epoch, or the first
/// txn of a later epoch.
fn follows(prev: Zxid, next: Zxid) -> bool {
    if next.epoch() == prev.epoch() {
        next.0 == prev.0 + 1
    } else {
        next.epoch() > prev.epoch() && next.counter() == 1
    }
}

/// Forwards to a [`TreeLoader`] and reports progress on large snapshots.
struct Loading<'a> {
    loader: TreeLoader,
    progress: Progress,
    name: &'a str,
    nodes: u64,
}

impl SnapshotSink for Loading<'_> {
    fn session(&mut self, id: SessionId, timeout_ms: i32) {
        self.loader.session(id, timeout_ms);
    }
    fn acl(&mut self, index: i64, acls: Vec<Acl>) {
        self.loader.acl(index, acls);
    }
    fn node(&mut self, node: SnapshotNode) -> Result<(), String> {
        self.nodes += 1;
        let (name, nodes) = (self.name, self.nodes);
        self.progress.tick(|| format!("{name}: read {nodes} nodes"));
        self.loader.node(node)
    }
    fn digest(&mut self, digest: ZxidDigest) {
        self.loader.digest(digest);
    }
    fn reset(&mut self) {
        self.loader.reset();
    }
}

impl Check {
    fn error(&mut self, file: Option<&Path>, offset: Option<u64>, what: String, todo: String) {
        self.push(Level::Error, file, offset, what, todo);
    }

    fn warn(&mut self, file: Option<&Path>, offset: Option<u64>, what: String, todo: String) {
        self.push(Level::Warning, file, offset, what, todo);
    }

    fn push(
        &mut self,
        level: Level,
        file: Option<&Path>,
        offset: Option<u64>,
        what: String,
        todo: String,
    ) {
        self.findings.push(Finding {
            level,
            file: file.map(Path::to_path_buf),
            offset,
            what,
            todo,
        });
    }

    fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.level == Level::Error)
            .count()
    }

    fn run(&mut self, snap_dir: &Path, log_dir: &Path) {
        if snap_dir != log_dir {
            self.check_mixed(snap_dir, log_dir);
        }
        self.check_snapshots(snap_dir);
        self.check_logs(log_dir);
        self.check_coverage();
        self.check_epochs(snap_dir);
    }

    /// ZOOKEEPER-2967: with separate directories, neither may hold the other's files.
    fn check_mixed(&mut self, snap_dir: &Path, log_dir: &Path) {
        for (dir, prefix, kind) in [
            (log_dir, "snapshot.", "snapshot"),
            (snap_dir, "log.", "txn log"),
        ] {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let strays: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| name_of(p).starts_with(prefix))
                .collect();
            if let Some(first) = strays.first() {
                self.error(
                    Some(first),
                    None,
                    format!(
                        "{} holds {} {kind} file(s), and a server refuses to start when dataDir and dataLogDir mix their files",
                        dir.display(),
                        strays.len()
                    ),
                    "check dataDir and dataLogDir in zoo.cfg, then move the files to the directory they belong in".into(),
                );
            }
        }
    }

    fn check_snapshots(&mut self, dir: &Path) {
        let all = match FileSnap::new(dir).all() {
            Ok(all) => all,
            Err(e) => {
                self.error(
                    Some(dir),
                    None,
                    format!("cannot list the snapshots: {e}"),
                    "check the directory's permissions".into(),
                );
                return;
            }
        };
        // Newest first, as a server tries them; the newest valid one is kept for the replay.
        for (zxid, path) in all {
            let info = self.check_snapshot(zxid, &path);
            self.snapshots.push(info);
        }
        self.snapshots.reverse();
    }

    fn check_snapshot(&mut self, zxid: Zxid, path: &Path) -> SnapInfo {
        let name = name_of(path);
        let mut info = SnapInfo {
            zxid,
            path: path.to_path_buf(),
            valid: false,
            line: String::new(),
            digest: None,
            first_after: None,
        };
        let lower = name.to_lowercase();
        if lower.ends_with(".gz") || lower.ends_with(".snappy") {
            info.line = "not checked: compressed".into();
            self.error(
                Some(path),
                None,
                "compressed snapshot, which this implementation cannot load (a server here stops at it)".into(),
                "restart Apache ZooKeeper once with zookeeper.snapshot.compression.method unset so it writes a plain snapshot, then remove the compressed ones".into(),
            );
            return info;
        }
        let len = std::fs::metadata(path).map_or(0, |m| m.len());
        if !sealed(path, len) {
            info.line = format!("incomplete ({len} bytes, no end seal)");
            self.warn(
                Some(path),
                Some(len),
                "the snapshot does not end with its seal: a crash while it was written; servers skip it and load an older one".into(),
                "delete it".into(),
            );
            return info;
        }
        let mut loading = Loading {
            loader: TreeLoader::new(tree_config()),
            progress: Progress::for_file(TOOL, len),
            name: &name,
            nodes: 0,
        };
        let read = FileSnap::read_file(path, &mut loading);
        loading
            .progress
            .done(&format!("{name}: {} nodes read", loading.nodes));
        let summary = match read {
            Ok(summary) => summary,
            Err(e) => {
                let (offset, reason) = match &e {
                    Error::CorruptSnapshot { offset, reason, .. }
                    | Error::Rejected { offset, reason, .. } => (Some(*offset), reason.clone()),
                    other => (None, other.to_string()),
                };
                info.line = format!("damaged: {reason}");
                self.error(
                    Some(path),
                    offset,
                    format!("the snapshot is damaged: {reason}; servers skip it and load an older snapshot"),
                    "move it out of the data directory (keep a copy for analysis); see below whether an older snapshot and the logs can replace it".into(),
                );
                return info;
            }
        };
        let tree = match loading.loader.finish() {
            Ok(tree) => tree,
            Err(e) => {
                info.line = format!("damaged: {e}");
                self.error(
                    Some(path),
                    None,
                    format!("the snapshot's tree is unusable: {e}"),
                    "move it out of the data directory; see below whether an older snapshot and the logs can replace it".into(),
                );
                return info;
            }
        };
        info.valid = true;
        info.digest = summary.digest;
        let mut line = format!(
            "ok: {} nodes, {} sessions, {}",
            summary.nodes,
            summary.sessions,
            size(len)
        );
        let usable_digest = summary.digest.filter(|d| d.zxid.0 > 0 && d.zxid >= zxid);
        match usable_digest {
            Some(d) if d.zxid == zxid => {
                if tree.digest() == d.digest {
                    let _ = write!(line, ", digest matches the tree");
                } else {
                    let _ = write!(line, ", digest differs from the tree");
                    self.warn(
                        Some(path),
                        None,
                        format!(
                            "the digest section (zxid {}) does not match the tree it holds: a fuzzy snapshot that took in txns after its zxid; 3.8 logs the same mismatch when it loads it",
                            d.zxid
                        ),
                        "nothing if the replay's txn digests match; if it recurs on new snapshots, wipe this server's data directory so it syncs from the leader".into(),
                    );
                }
            }
            Some(d) => {
                let _ = write!(line, ", fuzzy: digest at {}", d.zxid);
            }
            None => {}
        }
        info.line = line;
        if self.replay.is_none() {
            self.replay = Some(Replay {
                tree,
                snapshot: zxid,
                path: path.to_path_buf(),
                pending: usable_digest.filter(|d| d.zxid > zxid),
                txns: 0,
                last: zxid,
                mismatches: 0,
                stopped: false,
                gap: None,
            });
        }
        info
    }

    fn check_logs(&mut self, dir: &Path) {
        let files = match FileTxnLog::new(dir, LogOptions::default()).files() {
            Ok(files) => files,
            Err(e) => {
                self.error(
                    Some(dir),
                    None,
                    format!("cannot list the txn logs: {e}"),
                    "check the directory's permissions".into(),
                );
                return;
            }
        };
        let mut prev: Option<Zxid> = None;
        // Snapshots in ascending order; `next_snap` is the first without its first_after yet.
        let mut next_snap = 0;
        for path in files {
            let name = name_of(&path);
            let name_zxid = name
                .strip_prefix("log.")
                .and_then(|h| i64::from_str_radix(h, 16).ok())
                .map_or(Zxid(-1), Zxid);
            let len = std::fs::metadata(&path).map_or(0, |m| m.len());
            let mut progress = Progress::for_file(TOOL, len);
            let mut info = LogInfo {
                path: path.clone(),
                name_zxid,
                txns: 0,
                first: None,
                last: None,
                torn: None,
                failed: false,
            };
            let mut iter = match read_log_file(&path) {
                Ok(iter) => iter,
                Err(e) => {
                    self.log_error(&path, &e);
                    info.failed = true;
                    self.logs.push(info);
                    continue;
                }
            };
            for item in iter.by_ref() {
                let txn = match item {
                    Ok(txn) => txn,
                    Err(e) => {
                        self.log_error(&path, &e);
                        info.failed = true;
                        if let Some(r) = self.replay.as_mut() {
                            r.stopped |= r.txns > 0 || prev.is_some_and(|p| p >= r.snapshot);
                        }
                        break;
                    }
                };
                let zxid = txn.zxid();
                info.txns += 1;
                info.first.get_or_insert(zxid);
                info.last = Some(zxid);
                let (n, name) = (info.txns, &name);
                progress.tick(|| format!("{name}: read {n} txns"));
                if let Some(p) = prev {
                    if zxid <= p {
                        self.backwards += 1;
                        if self.backwards <= 3 {
                            self.error(
                                Some(&path),
                                Some(txn.offset),
                                format!("txn {zxid} comes after txn {p}: zxids go backwards in the log"),
                                "the log was assembled from different servers or histories; restore this server's data directory from another server or a backup".into(),
                            );
                        }
                        continue;
                    }
                    if !follows(p, zxid) {
                        self.gaps.push(Gap {
                            prev: p,
                            next: zxid,
                            file: path.clone(),
                            offset: txn.offset,
                        });
                    }
                }
                prev = Some(zxid);
                while next_snap < self.snapshots.len() && self.snapshots[next_snap].zxid < zxid {
                    self.snapshots[next_snap].first_after = Some(zxid);
                    next_snap += 1;
                }
                self.replay_txn(&txn, &path);
            }
            progress.done(&format!("{name}: {} txns read", info.txns));
            if let Some(t) = iter.torn_tail() {
                info.torn = Some((t.offset, t.discarded_bytes));
            }
            if info.first.is_some_and(|f| f != name_zxid) {
                self.warn(
                    Some(&path),
                    None,
                    format!(
                        "the file is named for zxid 0x{:x} but its first txn is {}: servers pick log files by name, so they may skip or misplace txns",
                        name_zxid.0,
                        info.first.unwrap_or_default()
                    ),
                    "rename the file after its first txn (log.<hex zxid>) or restore it from a backup".into(),
                );
            }
            self.logs.push(info);
        }
        self.last_zxid = prev;
        self.judge_log_ends();
    }

    fn log_error(&mut self, path: &Path, e: &Error) {
        let (offset, what) = match e {
            Error::CorruptLog { offset, reason, .. } => (Some(*offset), reason.clone()),
            Error::BadTxn { offset, source, .. } => (
                Some(*offset),
                format!(
                    "a record with a good checksum holds no txn a 3.8 reader decodes: {source}"
                ),
            ),
            Error::BadMagic { .. } => (Some(0), e.to_string()),
            other => (None, other.to_string()),
        };
        self.error(
            Some(path),
            offset,
            what,
            "servers cannot read the log past this point: restore this server's data directory from another server or a backup; if only a checksum is wrong and the txn looks right, zk-txnlog-toolkit -r writes a repaired copy".into(),
        );
    }

    /// A torn tail is normal at the end of the newest log; in an older one it is what 3.8 leaves
    /// after a crash unless a complete record fails its checksum, valid records follow, or txns
    /// are missing before the next file.
    fn judge_log_ends(&mut self) {
        let newest_with_txns = self.logs.iter().rposition(|l| l.txns > 0);
        for i in 0..self.logs.len() {
            let Some((offset, bytes)) = self.logs[i].torn else {
                continue;
            };
            let path = self.logs[i].path.clone();
            if newest_with_txns.is_none_or(|n| i >= n) {
                let what = if offset == 0 {
                    "the newest log file has no header: it was created just before a crash"
                        .to_owned()
                } else {
                    format!(
                        "the newest log ends with a torn write: {bytes} bytes that are not a complete record (a write cut short by a crash, never acknowledged)"
                    )
                };
                self.warn(
                    Some(&path),
                    Some(offset),
                    what,
                    "nothing: a server cuts it off when it starts".into(),
                );
                continue;
            }
            let data = std::fs::read(&path).unwrap_or_default();
            let next_name = self.logs[i + 1].name_zxid;
            let last = self.logs[i].last;
            let problem = if offset == 0 {
                Some("the file has no header but newer log files hold txns".to_owned())
            } else if rawlog::shape_at(&data, offset as usize) == rawlog::Shape::ChecksumMismatch {
                Some("a record fails its checksum in a log file that is not the newest".to_owned())
            } else if let Some(next) = rawlog::next_valid_record(&data, offset as usize) {
                Some(format!(
                    "the records stop, yet a valid record follows at offset {next}, in a log file that is not the newest"
                ))
            } else if last.is_some_and(|l| next_name.epoch() == l.epoch() && next_name.0 > l.0 + 1)
            {
                Some(format!(
                    "the file ends with a partial record and the next file starts at 0x{:x}, so txns are missing",
                    next_name.0
                ))
            } else {
                None
            };
            match problem {
                Some(what) => self.error(
                    Some(&path),
                    Some(offset),
                    what,
                    "servers cannot read the log past this point: restore this server's data directory from another server or a backup".into(),
                ),
                None => self.warn(
                    Some(&path),
                    Some(offset),
                    format!(
                        "the file ends with {bytes} bytes of a partial record: 3.8 leaves these after a crash, starts a new file, and readers go on with it"
                    ),
                    "nothing".into(),
                ),
            }
        }
    }

    fn replay_txn(&mut self, txn: &zk_persistence::LoggedTxn, path: &Path) {
        let Some(r) = self.replay.as_mut() else {
            return;
        };
        let zxid = txn.zxid();
        if r.stopped || zxid <= r.snapshot {
            return;
        }
        if !follows(r.last, zxid) {
            // Reported as a gap; the digests after it say nothing more.
            r.gap = Some(zxid);
            r.stopped = true;
            return;
        }
        r.tree.apply(&txn.entry.header, &txn.entry.body);
        r.txns += 1;
        r.last = zxid;
        let mut mismatch = None;
        if let Some(d) = &txn.entry.digest {
            if r.tree.digest() != d.tree_digest {
                mismatch = Some(format!(
                    "after replaying txn {zxid} on {} the tree's digest is {:#x}, the leader's was {:#x}",
                    name_of(&r.path),
                    r.tree.digest(),
                    d.tree_digest
                ));
            }
        }
        if let Some(d) = r.pending.filter(|d| d.zxid == zxid) {
            r.pending = None;
            if r.tree.digest() != d.digest && mismatch.is_none() {
                mismatch = Some(format!(
                    "after replaying up to {zxid}, the zxid of the digest section of {}, the tree's digest is {:#x}, the snapshot recorded {:#x}",
                    name_of(&r.path),
                    r.tree.digest(),
                    d.digest
                ));
            }
        }
        if let Some(what) = mismatch {
            r.mismatches += 1;
            if r.mismatches <= 3 {
                self.error(
                    Some(path),
                    Some(txn.offset),
                    what,
                    "this server's data differs from what the ensemble committed: wipe its data directory so it syncs a snapshot from the leader, or restore it from a backup".into(),
                );
            }
        }
    }

    /// The first txns missing when replaying from snapshot `i`: `(after, next)`.
    fn replay_gap(&self, i: usize) -> Option<(Zxid, Zxid)> {
        let s = &self.snapshots[i];
        let first = s.first_after?;
        if !follows(s.zxid, first) {
            return Some((s.zxid, first));
        }
        self.gaps
            .iter()
            .find(|g| g.prev >= first)
            .map(|g| (g.prev, g.next))
    }

    fn check_coverage(&mut self) {
        let any_txn = self.last_zxid.is_some();
        let Some(newest) = self.snapshots.iter().rposition(|s| s.valid) else {
            if !self.snapshots.is_empty() {
                self.error(
                    None,
                    None,
                    "no snapshot is valid, so no server can start from this directory".into(),
                    "restore the data directory from another server or a backup".into(),
                );
            } else if any_txn {
                self.error(
                    None,
                    None,
                    "there are txn logs but no snapshot: a 3.8 server refuses to start".into(),
                    "restore the snapshots from a backup, or start once with zookeeper.snapshot.trust.empty=true only when upgrading from 3.4".into(),
                );
            }
            return;
        };
        let s = &self.snapshots[newest];
        let (zxid, path) = (s.zxid, s.path.clone());
        if let Some((after, next)) = self.replay_gap(newest) {
            let gap = self
                .gaps
                .iter()
                .find(|g| g.prev == after && g.next == next)
                .cloned();
            self.error(
                gap.as_ref().map(|g| g.file.as_path()).or(Some(&path)),
                gap.as_ref().map(|g| g.offset),
                format!(
                    "txns after {after} up to {next} are missing from the logs, yet a server starting from {} replays across them",
                    name_of(&path)
                ),
                "restore the missing log files from a backup, or wipe this server's data directory so it syncs from the leader".into(),
            );
        }
        // Gaps before the newest snapshot only make older snapshots useless as fallbacks.
        let stale: Vec<String> = (0..newest)
            .filter(|&i| self.snapshots[i].valid && self.replay_gap(i).is_some())
            .map(|i| name_of(&self.snapshots[i].path))
            .collect();
        if !stale.is_empty() {
            self.warn(
                None,
                None,
                format!(
                    "txns are missing from the logs after the older snapshot(s) {}, so a server could not fall back to them if {} were lost",
                    stale.join(", "),
                    name_of(&path)
                ),
                "nothing for now; purge them (zk-cleanup) or keep the logs they need".into(),
            );
        }
        if let Some(d) = self.snapshots[newest]
            .digest
            .filter(|d| d.zxid > zxid && self.last_zxid.is_none_or(|l| l < d.zxid))
        {
            self.warn(
                Some(&path),
                None,
                format!(
                    "the snapshot is fuzzy up to {} but the logs end at {}: txns that went into it are missing from the log, so the tree may mix states",
                    d.zxid,
                    self.last_zxid.map_or("no txn".into(), |z| z.to_string())
                ),
                "restore the newest log file from a backup, or wipe this server's data directory so it syncs from the leader".into(),
            );
        }
    }

    fn check_epochs(&mut self, snap_dir: &Path) {
        let read = |name: &str| -> Result<Option<i64>, String> {
            read_epoch(snap_dir, name).map_err(|e| e.to_string())
        };
        let mut values = Vec::new();
        for name in [ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE] {
            match read(name) {
                Ok(v) => values.push(v),
                Err(e) => {
                    self.error(
                        Some(&snap_dir.join(name)),
                        None,
                        e,
                        "restore the file from a backup, or delete it so a server recreates it from the last zxid".into(),
                    );
                    values.push(None);
                }
            }
        }
        let (accepted, current) = (values[0], values[1]);
        let last = match (&self.replay, self.last_zxid) {
            (Some(r), _) => r.last,
            (None, Some(z)) => z,
            (None, None) => Zxid(0),
        };
        let last_epoch = i64::from(last.epoch());
        let show = |v: Option<i64>| v.map_or_else(|| "missing".to_owned(), |v| v.to_string());
        self.epochs = format!(
            "acceptedEpoch {}, currentEpoch {}, last zxid {last} (epoch {last_epoch})",
            show(accepted),
            show(current)
        );
        if accepted.is_none() && current.is_none() {
            let _ = write!(
                self.epochs,
                ": no epoch files (a standalone server never writes them; a quorum member creates them)"
            );
            return;
        }
        let current_path = snap_dir.join(CURRENT_EPOCH_FILE);
        if let Some(c) = current {
            if c < last_epoch {
                match read("currentEpoch.tmp") {
                    Ok(Some(t)) if t >= last_epoch => self.warn(
                        Some(&current_path),
                        None,
                        format!(
                            "currentEpoch {c} is older than the last zxid {last}, but currentEpoch.tmp holds {t}: a crash while the epoch was updated"
                        ),
                        "nothing: a quorum member takes the epoch from currentEpoch.tmp when it starts".into(),
                    ),
                    _ => self.error(
                        Some(&current_path),
                        None,
                        format!(
                            "currentEpoch {c} is older than the epoch {last_epoch} of the last zxid {last}: a quorum member refuses to start (a standalone server ignores the epoch files)"
                        ),
                        "restore the data directory from another server or a backup".into(),
                    ),
                }
            }
        }
        if let (Some(a), Some(c)) = (accepted, current) {
            if a < c {
                self.error(
                    Some(&snap_dir.join(ACCEPTED_EPOCH_FILE)),
                    None,
                    format!(
                        "acceptedEpoch {a} is less than currentEpoch {c}: a quorum member refuses to start"
                    ),
                    "restore the data directory from another server or a backup".into(),
                );
            }
        }
        for (name, value) in [
            (ACCEPTED_EPOCH_FILE, accepted),
            (CURRENT_EPOCH_FILE, current),
        ] {
            if value.is_none() {
                self.warn(
                    Some(&snap_dir.join(name)),
                    None,
                    format!("{name} is missing while the other epoch file exists"),
                    format!(
                        "nothing if this server was upgraded; a quorum member recreates it as {last_epoch}, the epoch of the last zxid"
                    ),
                );
            }
        }
    }

    fn render(&self, snap_dir: &Path, log_dir: &Path) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "data directory:    {}", snap_dir.display());
        let _ = writeln!(out, "txn log directory: {}", log_dir.display());
        if self.snapshots.is_empty() {
            let _ = writeln!(out, "snapshots: none");
        }
        for s in &self.snapshots {
            let _ = writeln!(out, "{:<24} {}", name_of(&s.path), s.line);
        }
        if self.logs.is_empty() {
            let _ = writeln!(out, "txn logs: none");
        }
        for l in &self.logs {
            let mut line = match (l.first, l.last) {
                (Some(f), Some(t)) => format!("{} txns, {f} to {t}", l.txns),
                _ => "no txns".to_owned(),
            };
            if !l.failed {
                line.insert_str(0, "ok: ");
            }
            if l.failed {
                line.push_str(", then unreadable");
            } else if let Some((offset, _)) = l.torn {
                let _ = write!(line, ", then a partial record at offset {offset}");
            }
            let _ = writeln!(out, "{:<24} {line}", name_of(&l.path));
        }
        if let Some(r) = &self.replay {
            let outcome = match (r.gap, r.mismatches) {
                (Some(next), _) => format!(", then txns are missing before {next}"),
                (None, 0) => ", every txn digest matches the tree".to_owned(),
                (None, n) => format!(", {n} digest mismatches"),
            };
            let _ = writeln!(
                out,
                "{:<24} {} and the {} txns after it lead to zxid {}{outcome}",
                "replay",
                name_of(&r.path),
                r.txns,
                r.last,
            );
        }
        let _ = writeln!(out, "{:<24} {}", "epochs", self.epochs);
        if self.backwards > 3 {
            let _ = writeln!(
                out,
                "({} more txns with backward zxids are not listed)",
                self.backwards - 3
            );
        }
        if let Some(r) = &self.replay {
            if r.mismatches > 3 {
                let _ = writeln!(
                    out,
                    "({} more digest mismatches are not listed)",
                    r.mismatches - 3
                );
            }
        }
        if !self.findings.is_empty() {
            out.push('\n');
        }
        for f in &self.findings {
            let level = match f.level {
                Level::Error => "error",
                Level::Warning => "warning",
            };
            let place = match (&f.file, f.offset) {
                (Some(file), Some(offset)) => format!("{} at offset {offset}: ", file.display()),
                (Some(file), None) => format!("{}: ", file.display()),
                (None, _) => String::new(),
            };
            let _ = writeln!(out, "{level}: {place}{}; {}", f.what, f.todo);
        }
        let errors = self.errors();
        let warnings = self.findings.len() - errors;
        let _ = writeln!(
            out,
            "\n{}",
            match (errors, warnings) {
                (0, 0) => "no problems found".to_owned(),
                (0, w) => format!("no errors, {w} warning(s)"),
                (e, w) => format!("{e} error(s), {w} warning(s)"),
            }
        );
        out
    }
}

/// A file size for people.
fn size(len: u64) -> String {
    if len < 1 << 20 {
        format!("{len} bytes")
    } else {
        mib(len)
    }
}

/// 3.8's quick test of a snapshot: at least 10 bytes, ending with the string "/".
fn sealed(path: &Path, len: u64) -> bool {
    use std::os::unix::fs::FileExt;
    if len < 10 {
        return false;
    }
    let mut tail = [0u8; 5];
    std::fs::File::open(path)
        .and_then(|f| f.read_exact_at(&mut tail, len - 5))
        .is_ok_and(|()| tail == [0, 0, 0, 1, b'/'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxids_follow_within_an_epoch_or_into_a_new_one() {
        assert!(follows(Zxid(5), Zxid(6)));
        assert!(!follows(Zxid(5), Zxid(7)));
        assert!(!follows(Zxid(5), Zxid(5)));
        assert!(follows(Zxid::new(1, 40), Zxid::new(2, 1)));
        assert!(!follows(Zxid::new(1, 40), Zxid::new(2, 5)));
        assert!(!follows(Zxid::new(2, 1), Zxid::new(1, 2)));
    }

    #[test]
    fn directories_come_from_arguments_or_zoo_cfg() {
        assert!(version_dir(Path::new("/data")).ends_with("data/version-2"));
        assert!(version_dir(Path::new("/data/version-2")).ends_with("data/version-2"));
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("zoo.cfg");
        std::fs::write(&cfg, "# x\ndataDir = /d\ntickTime=2000\n").unwrap();
        assert_eq!(
            dirs_from_config(&cfg).unwrap(),
            (PathBuf::from("/d"), PathBuf::from("/d"))
        );
        std::fs::write(&cfg, "dataDir=/d\ndataLogDir=/l\n").unwrap();
        assert_eq!(
            dirs_from_config(&cfg).unwrap(),
            (PathBuf::from("/d"), PathBuf::from("/l"))
        );
        std::fs::write(&cfg, "tickTime=2000\n").unwrap();
        assert!(dirs_from_config(&cfg).unwrap_err().contains("add dataDir"));
    }
}
