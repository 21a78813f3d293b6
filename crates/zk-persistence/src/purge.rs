//! Removing old snapshots and logs: `PurgeTxnLog.purge` (keep the N newest valid snapshots and the
//! logs needed to replay from the oldest of them) and the autopurge timer of
//! `DatadirCleanupManager`.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::{error, info, warn};

use crate::error::{Error, Result};
use crate::names::{self, LOG_PREFIX, SNAPSHOT_PREFIX, VERSION_DIR};
use crate::snapshot::FileSnap;

/// The fewest snapshots a purge keeps (`autopurge.snapRetainCount` and `-n` are raised or refused
/// below it).
pub const MIN_SNAP_RETAIN_COUNT: usize = 3;

/// Keeps the `retain` newest valid snapshots of `<snap_dir>/version-2` and deletes every snapshot
/// and log older than the oldest kept, except the newest log that starts at or before it (it may
/// hold txns after it). Takes the configured dataLogDir and dataDir. Returns the removed files.
pub fn purge(data_log_dir: &Path, snap_dir: &Path, retain: usize) -> Result<Vec<PathBuf>> {
    if retain < MIN_SNAP_RETAIN_COUNT {
        return Err(Error::RetainCount(retain));
    }
    let log_dir = data_log_dir.join(VERSION_DIR);
    let snap_dir = snap_dir.join(VERSION_DIR);
    let kept = FileSnap::new(&snap_dir).find_valid(retain)?;
    let Some((least, _)) = kept.last() else {
        return Ok(Vec::new());
    };
    let least = *least;
    let logs = names::list(&log_dir, LOG_PREFIX)?;
    // `FileTxnLog.getLogFiles(least)`: the newest log starting at or before `least` and all later.
    let first_needed = logs
        .iter()
        .filter(|f| f.zxid <= least)
        .map(|f| f.zxid.0)
        .max()
        .unwrap_or(0);
    let mut doomed: Vec<PathBuf> = logs
        .into_iter()
        .filter(|f| f.zxid.0 < first_needed && f.zxid < least)
        .map(|f| f.path)
        .collect();
    doomed.extend(
        names::list(&snap_dir, SNAPSHOT_PREFIX)?
            .into_iter()
            .filter(|f| f.zxid < least)
            .map(|f| f.path),
    );
    let mut removed = Vec::new();
    for path in doomed {
        info!(file = %path.display(), "removing file");
        match std::fs::remove_file(&path) {
            Ok(()) => removed.push(path),
            Err(e) => warn!(file = %path.display(), error = %e, "failed to remove"),
        }
    }
    Ok(removed)
}

/// The autopurge task (`DatadirCleanupManager`): purges at start and then every interval, on its
/// own thread, until shut down.
#[derive(Debug)]
pub struct DatadirCleanup {
    stop: mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
    runs: Arc<(Mutex<u64>, Condvar)>,
}

impl DatadirCleanup {
    /// Starts the task, or returns `None` when `purge_interval_hours` is 0 or less (autopurge off,
    /// the default). `snap_retain_count` below 3 is raised to 3.
    pub fn start(
        snap_dir: &Path,
        data_log_dir: &Path,
        snap_retain_count: usize,
        purge_interval_hours: i64,
    ) -> Option<Self> {
        let retain = if snap_retain_count < MIN_SNAP_RETAIN_COUNT {
            warn!(
                snap_retain_count,
                "autopurge.snapRetainCount is below the minimum, using {MIN_SNAP_RETAIN_COUNT}"
            );
            MIN_SNAP_RETAIN_COUNT
        } else {
            snap_retain_count
        };
        info!(retain, purge_interval_hours, "autopurge settings");
        if purge_interval_hours <= 0 {
            info!("purge task is not scheduled");
            return None;
        }
        let interval = Duration::from_secs(purge_interval_hours as u64 * 3600);
        let (stop, stopped) = mpsc::channel::<()>();
        let runs = Arc::new((Mutex::new(0u64), Condvar::new()));
        let (snap_dir, log_dir, counter) = (
            snap_dir.to_path_buf(),
            data_log_dir.to_path_buf(),
            runs.clone(),
        );
        let thread = std::thread::Builder::new()
            .name("purge task".into())
            .spawn(move || {
                loop {
                    info!("purge task started");
                    if let Err(e) = purge(&log_dir, &snap_dir, retain) {
                        error!(error = %e, "error occurred while purging");
                    }
                    info!("purge task completed");
                    let (count, changed) = &*counter;
                    *count.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                    changed.notify_all();
                    match stopped.recv_timeout(interval) {
                        Err(RecvTimeoutError::Timeout) => continue,
                        _ => break,
                    }
                }
            })
            .map_err(|e| error!(error = %e, "cannot start the purge task"))
            .ok()?;
        Some(DatadirCleanup {
            stop,
            thread: Some(thread),
            runs,
        })
    }

    /// Blocks until the task has completed `n` purges.
    pub fn wait_for_runs(&self, n: u64) {
        let (count, changed) = &*self.runs;
        let mut done = count.lock().unwrap_or_else(|p| p.into_inner());
        while *done < n {
            done = changed.wait(done).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Stops the task and waits for its thread.
    pub fn shutdown(mut self) {
        self.stop_thread();
    }

    fn stop_thread(&mut self) {
        let _ = self.stop.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for DatadirCleanup {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use zk_jute::Zxid;

    use super::*;
    use crate::snapshot::Snapshot;
    use crate::testutil::txn;
    use crate::txnlog::{FileTxnLog, LogOptions};

    /// Snapshots at 0, 10, 20, ..., 60 and logs starting at 1, 15, 25, 45.
    fn populate(data: &Path, logs: &Path) {
        let snap = FileSnap::new(data.join(VERSION_DIR));
        fs::create_dir_all(snap.dir()).unwrap();
        for z in (0..=60).step_by(10) {
            snap.write(Zxid(z), &mut Snapshot::default()).unwrap();
        }
        let log_dir = logs.join(VERSION_DIR);
        fs::create_dir_all(&log_dir).unwrap();
        let mut log = FileTxnLog::new(&log_dir, LogOptions::default());
        for z in 1..=70 {
            if [15, 25, 45].contains(&z) {
                log.roll().unwrap();
            }
            log.append(&txn(z)).unwrap();
        }
        log.commit().unwrap();
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn purge_keeps_the_newest_snapshots_and_the_logs_to_replay_them() {
        let data = tempfile::tempdir().unwrap();
        let logs = tempfile::tempdir().unwrap();
        populate(data.path(), logs.path());
        let removed = purge(logs.path(), data.path(), 3).unwrap();
        assert_eq!(removed.len(), 4 + 2);
        // Oldest kept snapshot: 40 (0x28). log.19 (25) may hold txns after it; log.f (15) cannot.
        assert_eq!(
            names(&data.path().join(VERSION_DIR)),
            ["snapshot.28", "snapshot.32", "snapshot.3c"]
        );
        assert_eq!(names(&logs.path().join(VERSION_DIR)), ["log.19", "log.2d"]);
        // Idempotent.
        assert!(purge(logs.path(), data.path(), 3).unwrap().is_empty());
    }

    #[test]
    fn purge_refuses_to_keep_fewer_than_three() {
        let data = tempfile::tempdir().unwrap();
        let err = purge(data.path(), data.path(), 2).unwrap_err();
        assert!(err.to_string().contains("at least 3"), "{err}");
    }

    #[test]
    fn autopurge_runs_at_start_and_is_off_with_interval_zero() {
        let data = tempfile::tempdir().unwrap();
        populate(data.path(), data.path());
        assert!(DatadirCleanup::start(data.path(), data.path(), 3, 0).is_none());
        assert_eq!(names(&data.path().join(VERSION_DIR)).len(), 7 + 4);
        let task = DatadirCleanup::start(data.path(), data.path(), 1, 24).unwrap();
        task.wait_for_runs(1);
        task.shutdown();
        let left = names(&data.path().join(VERSION_DIR));
        assert_eq!(
            left,
            [
                "log.19",
                "log.2d",
                "snapshot.28",
                "snapshot.32",
                "snapshot.3c"
            ],
            "a retain count of 1 is raised to 3"
        );
    }
}
