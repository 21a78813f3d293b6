//! Snapshots (`FileSnap`): `snapshot.<hex zxid>` files in the snap directory, written from a
//! [`SnapshotSource`], read into a [`SnapshotSink`], the newest valid one found for recovery.

mod background;
mod body;
mod read;
mod write;

use std::path::{Path, PathBuf};
use std::time::Instant;

use tracing::{info, warn};
use zk_jute::Zxid;

use crate::error::{Error, Result};
use crate::names::{self, SNAPSHOT_PREFIX};

pub use background::{SnapshotJob, SnapshotThread};
pub use body::{
    NodeRef, OPEN_ACL_INDEX, Snapshot, SnapshotCollector, SnapshotNode, SnapshotSink,
    SnapshotSource, ZxidDigest,
};
pub use read::{LEARNER_SNAPSHOT_SIGNATURE, SnapshotSummary, read_learner_snapshot};
pub use write::{WrittenSnapshot, write_learner_snapshot, write_snapshot_to};

/// How many snapshots recovery tries, newest first, before giving up (as 3.8).
pub const MAX_SNAPSHOTS_TRIED: usize = 100;

/// A snapshot that was loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedSnapshot {
    /// The zxid of its name: the last txn applied when writing started (the snapshot is fuzzy).
    pub zxid: Zxid,
    pub path: PathBuf,
    pub summary: SnapshotSummary,
}

/// The snapshots of one directory (`<dataDir>/version-2`).
#[derive(Debug, Clone)]
pub struct FileSnap {
    dir: PathBuf,
}

fn is_compressed(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase());
    name.is_some_and(|n| n.ends_with(".gz") || n.ends_with(".snappy"))
}

impl FileSnap {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FileSnap { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of the snapshot for `zxid`.
    pub fn path_for(&self, zxid: Zxid) -> PathBuf {
        self.dir.join(names::snapshot_name(zxid))
    }

    /// Writes `snapshot.<zxid>` from `source` and fsyncs it. A failed write that left an empty
    /// file removes it, as 3.8 does.
    pub fn write(&self, zxid: Zxid, source: &mut dyn SnapshotSource) -> Result<WrittenSnapshot> {
        let path = self.path_for(zxid);
        info!(zxid = %zxid, file = %path.display(), "snapshotting");
        let started = Instant::now();
        match write::write_snapshot(&path, source) {
            Ok(written) => {
                names::sync_dir(&self.dir)?;
                info!(
                    file = %path.display(),
                    nodes = written.nodes,
                    bytes = written.bytes,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "snapshot written"
                );
                Ok(written)
            }
            Err(e) => {
                if std::fs::metadata(&path).is_ok_and(|m| m.len() == 0) {
                    let _ = std::fs::remove_file(&path);
                }
                Err(e)
            }
        }
    }

    /// Every `snapshot.*` file, newest first (`findNRecentSnapshots` without a limit).
    pub fn all(&self) -> Result<Vec<(Zxid, PathBuf)>> {
        let mut files = names::list(&self.dir, SNAPSHOT_PREFIX)?;
        files.reverse();
        Ok(files.into_iter().map(|f| (f.zxid, f.path)).collect())
    }

    /// Up to `n` snapshots that pass 3.8's quick validity test, newest first
    /// (`findNValidSnapshots`). Compressed snapshots are listed when their name parses.
    pub fn find_valid(&self, n: usize) -> Result<Vec<(Zxid, PathBuf)>> {
        let mut valid = Vec::new();
        for (zxid, path) in self.all()? {
            if valid.len() == n {
                break;
            }
            let ok = if is_compressed(&path) {
                true
            } else {
                match read::looks_complete(&path) {
                    Ok(ok) => ok,
                    Err(e) => {
                        warn!(error = %e, "invalid snapshot");
                        false
                    }
                }
            };
            if ok {
                valid.push((zxid, path));
            } else {
                tracing::info!(file = %path.display(), "skipping snapshot that does not end with its seal");
            }
        }
        Ok(valid)
    }

    /// Reads one snapshot file into `sink`.
    pub fn read_file(path: &Path, sink: &mut dyn SnapshotSink) -> Result<SnapshotSummary> {
        if is_compressed(path) {
            return Err(Error::CompressedSnapshot {
                path: path.to_path_buf(),
            });
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let zxid = name
            .and_then(|n| names::zxid_from_name(&n, SNAPSHOT_PREFIX))
            .unwrap_or(Zxid(-1));
        read::read_snapshot(path, zxid, sink)
    }

    /// Loads the newest valid snapshot (of at most 100 candidates) into `sink`, resetting it after
    /// each invalid one. `Ok(None)` when there is no snapshot at all.
    pub fn load(&self, sink: &mut dyn SnapshotSink) -> Result<Option<LoadedSnapshot>> {
        let candidates = self.find_valid(MAX_SNAPSHOTS_TRIED)?;
        if candidates.is_empty() {
            return Ok(None);
        }
        let tried = candidates.len();
        for (i, (zxid, path)) in candidates.into_iter().enumerate() {
            info!(file = %path.display(), "reading snapshot");
            let started = Instant::now();
            if i > 0 {
                sink.reset();
            }
            match Self::read_file(&path, sink) {
                Ok(summary) => {
                    info!(
                        file = %path.display(),
                        nodes = summary.nodes,
                        sessions = summary.sessions,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "snapshot loaded"
                    );
                    return Ok(Some(LoadedSnapshot {
                        zxid,
                        path,
                        summary,
                    }));
                }
                Err(e @ Error::CompressedSnapshot { .. }) => return Err(e),
                Err(e) => warn!(error = %e, "problem reading snapshot, trying an older one"),
            }
        }
        sink.reset();
        Err(Error::NoValidSnapshot {
            dir: self.dir.clone(),
            tried,
        })
    }
}

#[cfg(test)]
mod tests;
