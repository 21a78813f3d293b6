//! `FileTxnSnapLog`: the snapshot directory and the txn log directory together, start-up recovery
//! (newest valid snapshot, then log replay, torn tail cut), and the append path with the snapshot
//! trigger.

use std::path::{Path, PathBuf};
use std::time::Instant;

use tracing::{error, info, warn};
use zk_jute::Zxid;
use zk_jute::txn::TxnEntry;

use crate::error::{Error, Result};
use crate::names::{self, LOG_PREFIX, SNAPSHOT_PREFIX, VERSION_DIR};
use crate::snapshot::{FileSnap, LoadedSnapshot, SnapshotSink, SnapshotSource, WrittenSnapshot};
use crate::trigger::{DEFAULT_SNAP_COUNT, DEFAULT_SNAP_SIZE_LIMIT_KB, SnapshotPolicy};
use crate::txnlog::{self, FileTxnLog, LogOptions, LoggedTxn, TornTail, TxnIterator};

/// Settings of a data directory pair; the defaults are 3.8's.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub log: LogOptions,
    /// Create missing directories (`zookeeper.datadir.autocreate`, default true).
    pub autocreate_dirs: bool,
    /// Start an empty database when there is nothing at all (`zookeeper.db.autocreate`, default
    /// true); otherwise start at zxid -1 unless the `initialize` file exists.
    pub autocreate_db: bool,
    /// Replay txn logs found without any snapshot (`zookeeper.snapshot.trust.empty`, default false).
    pub trust_empty_snapshot: bool,
    /// `zookeeper.snapCount` (default 100000, at least 2).
    pub snap_count: i32,
    /// `zookeeper.snapSizeLimitInKb` (default 4 GiB; <= 0 disables).
    pub snap_size_limit_kb: i64,
    /// Seed of the snapshot jitter; `None` draws a random one.
    pub jitter_seed: Option<u64>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            log: LogOptions::default(),
            autocreate_dirs: true,
            autocreate_db: true,
            trust_empty_snapshot: false,
            snap_count: DEFAULT_SNAP_COUNT,
            snap_size_limit_kb: DEFAULT_SNAP_SIZE_LIMIT_KB,
            jitter_seed: None,
        }
    }
}

/// The outcome of [`FileTxnSnapLog::restore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The last zxid of the database: the snapshot's plus the replayed txns; `Zxid(0)` for a new
    /// empty database (take `snapshot.0` now, as 3.8 does); `Zxid(-1)` when the database is empty
    /// but not trusted to be (it may be missing data).
    pub zxid: Zxid,
    /// The snapshot loaded, if any.
    pub snapshot: Option<LoadedSnapshot>,
    /// Txns handed to the replay callback.
    pub txns_replayed: u64,
    /// The torn end of the log that was cut, if any.
    pub torn_tail: Option<TornTail>,
}

/// The state between [`FileTxnSnapLog::load_snapshot`] and [`FileTxnSnapLog::replay_log`].
#[derive(Debug)]
pub struct SnapshotLoad {
    /// The snapshot loaded, if any.
    pub snapshot: Option<LoadedSnapshot>,
    /// Replay txns after this zxid; `None` when there is nothing to replay.
    replay_after: Option<Zxid>,
    zxid: Zxid,
    started: Instant,
}

/// A dataDir (snapshots, epoch files) and a dataLogDir (txn logs), which may be the same.
#[derive(Debug)]
pub struct FileTxnSnapLog {
    snap_dir: PathBuf,
    log_dir: PathBuf,
    log: FileTxnLog,
    snap: FileSnap,
    policy: SnapshotPolicy,
    options: StoreOptions,
}

fn prepare_dir(dir: &Path, autocreate: bool) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if !autocreate {
        return Err(Error::MissingDirectory {
            dir: dir.to_path_buf(),
        });
    }
    std::fs::create_dir_all(dir).map_err(Error::io("create directory", dir))
}

impl FileTxnSnapLog {
    /// Opens `<data_log_dir>/version-2` for logs and `<data_dir>/version-2` for snapshots,
    /// creating them if allowed. When they differ, the log directory must hold no snapshot and the
    /// snapshot directory no log (ZOOKEEPER-2967).
    pub fn open(data_dir: &Path, data_log_dir: &Path, options: StoreOptions) -> Result<Self> {
        let snap_dir = data_dir.join(VERSION_DIR);
        let log_dir = data_log_dir.join(VERSION_DIR);
        prepare_dir(&log_dir, options.autocreate_dirs)?;
        prepare_dir(&snap_dir, options.autocreate_dirs)?;
        if snap_dir != log_dir {
            if names::any_with_prefix(&log_dir, SNAPSHOT_PREFIX)? {
                return Err(Error::MixedDirectory {
                    dir: log_dir,
                    found: "snapshot",
                });
            }
            if names::any_with_prefix(&snap_dir, LOG_PREFIX)? {
                return Err(Error::MixedDirectory {
                    dir: snap_dir,
                    found: "txn log",
                });
            }
        }
        let policy = match options.jitter_seed {
            Some(seed) => SnapshotPolicy::new(options.snap_count, options.snap_size_limit_kb, seed),
            None => {
                SnapshotPolicy::with_random_seed(options.snap_count, options.snap_size_limit_kb)
            }
        };
        Ok(FileTxnSnapLog {
            log: FileTxnLog::new(&log_dir, options.log.clone()),
            snap: FileSnap::new(&snap_dir),
            snap_dir,
            log_dir,
            policy,
            options,
        })
    }

    /// `<dataDir>/version-2`, where snapshots and epoch files live.
    pub fn snap_dir(&self) -> &Path {
        &self.snap_dir
    }

    /// `<dataLogDir>/version-2`, where txn logs live.
    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    pub fn snapshots(&self) -> &FileSnap {
        &self.snap
    }

    pub fn log(&mut self) -> &mut FileTxnLog {
        &mut self.log
    }

    /// Loads the newest valid snapshot into `sink`, then hands every logged txn after it to
    /// `replay` in zxid order (the callback applies it to the tree and the session table; an `Err`
    /// stops recovery). A torn log tail is cut with a warning. 3.8's rules for a log without a
    /// snapshot, and for nothing at all, apply (see [`Restored::zxid`]).
    pub fn restore(
        &mut self,
        sink: &mut dyn SnapshotSink,
        replay: impl FnMut(&LoggedTxn) -> std::result::Result<(), String>,
    ) -> Result<Restored> {
        let loaded = self.load_snapshot(sink)?;
        self.replay_log(loaded, replay)
    }

    /// The first half of [`restore`](Self::restore): loads the snapshot into `sink` and decides
    /// where replay starts, so the caller can build its tree before replaying into it.
    pub fn load_snapshot(&mut self, sink: &mut dyn SnapshotSink) -> Result<SnapshotLoad> {
        let started = Instant::now();
        let snapshot = self.snap.load(sink)?;
        let initialize = self
            .log_dir
            .parent()
            .map(|p| p.join("initialize"))
            .filter(|p| p.exists());
        let trust_empty_db = match initialize {
            Some(path) => {
                std::fs::remove_file(&path).map_err(Error::io("remove", &path))?;
                info!(
                    "initialize file found, an empty database will not block voting participation"
                );
                true
            }
            None => self.options.autocreate_db,
        };
        let start_zxid = match &snapshot {
            Some(s) => s.zxid,
            None => {
                if txnlog::last_logged_zxid(&self.log_dir)?.is_some() {
                    if !self.options.trust_empty_snapshot {
                        return Err(Error::LogsWithoutSnapshot {
                            snap_dir: self.snap_dir.clone(),
                            log_dir: self.log_dir.clone(),
                        });
                    }
                    warn!(
                        "no snapshot found, but there are log entries; this should only be allowed during upgrading"
                    );
                    Zxid(0)
                } else if trust_empty_db {
                    return Ok(SnapshotLoad {
                        snapshot: None,
                        replay_after: None,
                        zxid: Zxid(0),
                        started,
                    });
                } else {
                    warn!("unexpected empty data tree, setting zxid to -1");
                    return Ok(SnapshotLoad {
                        snapshot: None,
                        replay_after: None,
                        zxid: Zxid(-1),
                        started,
                    });
                }
            }
        };
        Ok(SnapshotLoad {
            snapshot,
            replay_after: Some(start_zxid),
            zxid: start_zxid,
            started,
        })
    }

    /// The second half of [`restore`](Self::restore): replays the log after the snapshot and cuts
    /// a torn tail.
    pub fn replay_log(
        &mut self,
        loaded: SnapshotLoad,
        mut replay: impl FnMut(&LoggedTxn) -> std::result::Result<(), String>,
    ) -> Result<Restored> {
        let SnapshotLoad {
            snapshot,
            replay_after,
            zxid,
            started,
        } = loaded;
        let Some(start_zxid) = replay_after else {
            return Ok(Restored {
                zxid,
                snapshot,
                txns_replayed: 0,
                torn_tail: None,
            });
        };
        let mut iter = txnlog::read_dir(&self.log_dir, Zxid(start_zxid.0 + 1))?;
        let (highest, replayed) = replay_all(&mut iter, start_zxid, &mut replay)?;
        let torn_tail = iter.torn_tail().cloned();
        if let Some(tail) = &torn_tail {
            warn!(
                file = %tail.path.display(),
                offset = tail.offset,
                discarded_bytes = tail.discarded_bytes,
                last_good_zxid = %tail.last_good_zxid.map_or_else(|| "none".to_owned(), |z| z.to_string()),
                "txn log ends with a torn write: truncating {} bytes after the last complete record",
                tail.discarded_bytes
            );
            txnlog::cut_torn_tail(tail)?;
        }
        if let Some(digest) = snapshot.as_ref().and_then(|s| s.summary.digest) {
            if digest.zxid > highest && digest.zxid >= snapshot.as_ref().map_or(Zxid(0), |s| s.zxid)
            {
                warn!(
                    highest = %highest,
                    digest_zxid = %digest.zxid,
                    "highest txn zxid is not covering the snapshot digest zxid, which might lead to inconsistent state"
                );
            }
        }
        info!(
            zxid = %highest,
            txns = replayed,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "database restored"
        );
        Ok(Restored {
            zxid: highest,
            snapshot,
            txns_replayed: replayed,
            torn_tail,
        })
    }

    /// Appends a txn to the log (buffered until [`commit`](Self::commit)). Returns true when a
    /// snapshot is due: the log has been rolled and the caller should start one
    /// ([`crate::SnapshotThread::try_start`]) from the tree as of its last applied zxid.
    pub fn append(&mut self, entry: &TxnEntry) -> Result<bool> {
        self.log.append(entry)?;
        self.after_append()
    }

    /// [`append`](Self::append) for an already serialized txn.
    pub fn append_payload(&mut self, zxid: Zxid, payload: &[u8]) -> Result<bool> {
        self.log.append_payload(zxid, payload)?;
        self.after_append()
    }

    fn after_append(&mut self) -> Result<bool> {
        if self.policy.txn_logged(self.log.logged_bytes()) {
            self.log.roll()?;
            self.log.reset_size();
            return Ok(true);
        }
        Ok(false)
    }

    /// Makes every appended txn durable; returns only after the fdatasync.
    pub fn commit(&mut self) -> Result<()> {
        self.log.commit()
    }

    /// Writes `snapshot.<zxid>` synchronously (and fsynced).
    pub fn save(&self, zxid: Zxid, source: &mut dyn SnapshotSource) -> Result<WrittenSnapshot> {
        self.snap.write(zxid, source)
    }

    /// Cuts the log after `zxid` (TRUNC).
    pub fn truncate_log(&mut self, zxid: Zxid) -> Result<()> {
        self.log.truncate(zxid)
    }

    /// Reads the logged txns with zxid >= `start`.
    pub fn read_log(&self, start: Zxid) -> Result<TxnIterator> {
        txnlog::read_dir(&self.log_dir, start)
    }

    /// The zxid of the last complete txn in the log.
    pub fn last_logged_zxid(&self) -> Result<Option<Zxid>> {
        txnlog::last_logged_zxid(&self.log_dir)
    }
}

fn replay_all(
    iter: &mut TxnIterator,
    snapshot_zxid: Zxid,
    replay: &mut impl FnMut(&LoggedTxn) -> std::result::Result<(), String>,
) -> Result<(Zxid, u64)> {
    let mut highest = snapshot_zxid;
    let mut replayed = 0u64;
    let mut file: Option<PathBuf> = None;
    while let Some(txn) = iter.next() {
        let txn = txn?;
        let current = iter.current_file().map(Path::to_path_buf);
        if current != file {
            if let Some(path) = &current {
                info!(file = %path.display(), from = %txn.zxid(), "replaying txn log");
            }
            file = current;
        }
        let zxid = txn.zxid();
        if zxid < highest && highest.0 != 0 {
            error!(highest = %highest, next = %zxid, r#type = txn.entry.header.r#type, "txn zxid goes backwards in the log");
        } else {
            highest = zxid;
        }
        replay(&txn).map_err(|reason| Error::Replay {
            path: file.clone().unwrap_or_default(),
            zxid,
            reason,
        })?;
        replayed += 1;
        if replayed % 100_000 == 0 {
            info!(txns = replayed, zxid = %zxid, "replaying txn log");
        }
    }
    Ok((highest, replayed))
}

#[cfg(test)]
#[path = "restore_tests.rs"]
mod tests;
