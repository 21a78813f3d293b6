//! Fuzzy snapshots on a background thread while the tree keeps serving, at most one at a time
//! (`SyncRequestProcessor`'s snapshot thread and its mutex: "Too busy to snap, skipping").

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use tracing::warn;
use zk_jute::Zxid;

use crate::error::{Error, Result};
use crate::snapshot::{FileSnap, SnapshotSource, WrittenSnapshot};

/// Starts snapshot threads, never two at once.
#[derive(Debug, Clone, Default)]
pub struct SnapshotThread {
    busy: Arc<AtomicBool>,
}

/// A running snapshot.
#[derive(Debug)]
pub struct SnapshotJob {
    zxid: Zxid,
    handle: JoinHandle<Result<WrittenSnapshot>>,
}

impl SnapshotJob {
    pub fn zxid(&self) -> Zxid {
        self.zxid
    }

    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// Waits for the snapshot to be written and synced.
    pub fn join(self) -> Result<WrittenSnapshot> {
        self.handle.join().unwrap_or_else(|panic| {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "the snapshot thread panicked".into());
            Err(Error::Io {
                action: "write snapshot",
                path: std::path::PathBuf::new(),
                source: std::io::Error::other(reason),
            })
        })
    }
}

/// Clears the busy flag when the thread ends, even by panic.
struct Release(Arc<AtomicBool>);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl SnapshotThread {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a snapshot is being written.
    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }

    /// Starts writing `snapshot.<zxid>` from the source `make` returns on a new thread, or
    /// returns `None` (with a warning) if the previous snapshot is still being written; `make`
    /// runs here, and only when a snapshot starts, since the source is often a copy of the whole
    /// tree. The source is read on the new thread: it must be a consistent-enough view of the
    /// tree (3.8's snapshots are fuzzy, the log replay from `zxid + 1` fixes them up).
    pub fn try_start<S>(
        &self,
        snap: &FileSnap,
        zxid: Zxid,
        make: impl FnOnce() -> S,
    ) -> Option<SnapshotJob>
    where
        S: SnapshotSource + Send + 'static,
    {
        if self
            .busy
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            warn!("too busy to snap, skipping");
            return None;
        }
        let release = Release(self.busy.clone());
        let mut source = make();
        let snap = snap.clone();
        let spawned = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || {
                let _release = release;
                let written = snap.write(zxid, &mut source);
                if let Err(e) = &written {
                    warn!(error = %e, "snapshot failed");
                }
                written
            });
        match spawned {
            Ok(handle) => Some(SnapshotJob { zxid, handle }),
            Err(e) => {
                // The closure, and with it the busy flag's guard, was dropped.
                warn!(error = %e, "cannot start the snapshot thread");
                None
            }
        }
    }
}
