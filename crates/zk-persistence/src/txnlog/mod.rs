//! The txn log (`FileTxnLog`): appending with preallocation and group commit, reading from a zxid,
//! truncation for TRUNC, and the last logged zxid.

mod file;
mod iter;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tracing::{info, warn};
use zk_jute::persistence::FileHeader;
use zk_jute::txn::TxnEntry;
use zk_jute::{Record, Zxid};

use crate::error::{Error, Result};
use crate::names::{self, LOG_PREFIX, NamedFile};

use file::{LogFile, Opened, Step};
pub use iter::{LoggedTxn, TornTail, TxnIterator};

/// Settings of the txn log writer.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// The preallocation unit in bytes (`zookeeper.preAllocSize`, given in KiB; default 64 MiB).
    /// Zero turns preallocation off.
    pub prealloc_bytes: u64,
    /// fdatasync on commit (`zookeeper.forceSync`, default yes).
    pub force_sync: bool,
    /// Roll the log on commit once the current file is larger (`zookeeper.txnLogSizeLimitInKb`).
    pub size_limit_bytes: Option<u64>,
    /// Warn when one fdatasync takes longer (`zookeeper.fsync.warningthresholdms`, default 1 s).
    pub fsync_warning_threshold: Duration,
    /// The dbid written in new log headers (0 in 3.8).
    pub db_id: i64,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            prealloc_bytes: 64 * 1024 * 1024,
            force_sync: true,
            size_limit_bytes: None,
            fsync_warning_threshold: Duration::from_secs(1),
            db_id: 0,
        }
    }
}

/// The file size after preallocation for a write at `position` (`FilePadding`): when within 4 KiB
/// of the end, grow by one unit, or to the next unit boundary past `position` if it overran.
pub(crate) fn padded_size(position: u64, file_size: u64, prealloc: u64) -> u64 {
    if prealloc > 0 && position + 4096 >= file_size {
        if position > file_size {
            let size = position + prealloc;
            size - size % prealloc
        } else {
            file_size + prealloc
        }
    } else {
        file_size
    }
}

/// The log file being appended to.
#[derive(Debug)]
struct Active {
    file: File,
    path: PathBuf,
    /// Bytes written to the file (header and records), not counting preallocated zeros.
    written: u64,
    /// The file size including preallocation.
    size: u64,
}

/// The txn log in one directory (`<dataLogDir>/version-2`).
///
/// `append` buffers; `commit` writes what is buffered and fdatasyncs every file written since the
/// last commit, and returns only when all of it is durable: call it once per batch (group commit).
#[derive(Debug)]
pub struct FileTxnLog {
    dir: PathBuf,
    options: LogOptions,
    active: Option<Active>,
    /// Rolled files not yet synced.
    to_sync: Vec<Active>,
    /// A log file was created since the last commit: the directory must be synced.
    dir_dirty: bool,
    pending: Vec<u8>,
    last_zxid_seen: Zxid,
    /// Bytes logged since `reset_size`, for the snapshot trigger.
    logged_bytes: u64,
}

impl FileTxnLog {
    /// The log in `dir` (the `version-2` directory itself). Nothing is opened until the first
    /// append, which always starts a new file, as 3.8 does after every start.
    pub fn new(dir: impl Into<PathBuf>, options: LogOptions) -> Self {
        FileTxnLog {
            dir: dir.into(),
            options,
            active: None,
            to_sync: Vec::new(),
            dir_dirty: false,
            pending: Vec::new(),
            last_zxid_seen: Zxid(0),
            logged_bytes: 0,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends a txn (buffered until `commit`).
    pub fn append(&mut self, entry: &TxnEntry) -> Result<()> {
        let mut payload = Vec::with_capacity(entry.encoded_len());
        entry.write(&mut payload);
        self.append_payload(entry.header.zxid, &payload)
    }

    /// Appends an already serialized txn (TxnHeader, body, optional TxnDigest) whose header carries
    /// `zxid`, such as the data of a PROPOSAL.
    pub fn append_payload(&mut self, zxid: Zxid, payload: &[u8]) -> Result<()> {
        if payload.len() > i32::MAX as usize - 16 {
            return Err(Error::TxnTooLarge {
                zxid,
                len: payload.len(),
            });
        }
        if zxid <= self.last_zxid_seen {
            warn!(%zxid, last = %self.last_zxid_seen, "current zxid is <= the last zxid logged");
        } else {
            self.last_zxid_seen = zxid;
        }
        if self.active.is_none() {
            self.start_file(zxid)?;
        }
        let position = self.position();
        let active = self.active.as_mut().expect("a file was just started");
        let new_size = padded_size(position, active.size, self.options.prealloc_bytes);
        if new_size != active.size {
            active
                .file
                .write_all_at(&[0], new_size - 1)
                .map_err(Error::io("preallocate txn log", &active.path))?;
            active.size = new_size;
        }
        file::frame(payload, &mut self.pending);
        self.logged_bytes += file::FRAMING_LEN + payload.len() as u64;
        if self.pending.len() >= 1 << 20 {
            self.flush()?;
        }
        Ok(())
    }

    fn start_file(&mut self, zxid: Zxid) -> Result<()> {
        let path = self.dir.join(names::log_name(zxid));
        info!(file = %path.display(), "creating new txn log file");
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(Error::io("create txn log", &path))?;
        let header = FileHeader {
            dbid: self.options.db_id,
            ..FileHeader::txn_log()
        };
        file.write_all_at(&header.to_bytes(), 0)
            .map_err(Error::io("write txn log", &path))?;
        self.active = Some(Active {
            file,
            path,
            written: file::HEADER_LEN,
            size: file::HEADER_LEN,
        });
        self.dir_dirty = true;
        Ok(())
    }

    /// The logical end of the current file: written plus buffered bytes.
    fn position(&self) -> u64 {
        self.active
            .as_ref()
            .map_or(0, |a| a.written + self.pending.len() as u64)
    }

    /// Writes the buffered records to the current file (no sync).
    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let active = self
            .active
            .as_mut()
            .expect("pending bytes belong to a file");
        active
            .file
            .write_all_at(&self.pending, active.written)
            .map_err(Error::io("write txn log", &active.path))?;
        active.written += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Makes every appended txn durable: writes the buffer and fdatasyncs each file written since
    /// the last commit (and the directory when a file was created). Returns only after that.
    pub fn commit(&mut self) -> Result<()> {
        self.flush()?;
        if self.options.force_sync {
            for active in self.to_sync.iter().chain(self.active.as_ref()) {
                let started = Instant::now();
                active
                    .file
                    .sync_data()
                    .map_err(Error::io("fsync txn log", &active.path))?;
                let elapsed = started.elapsed();
                if elapsed > self.options.fsync_warning_threshold {
                    warn!(
                        file = %active.path.display(),
                        elapsed_ms = elapsed.as_millis() as u64,
                        size = active.size,
                        "fsync-ing the write ahead log took longer than the warning threshold, which adversely affects operation latency; see the ZooKeeper troubleshooting guide"
                    );
                }
            }
            if self.dir_dirty {
                names::sync_dir(&self.dir)?;
            }
        }
        self.dir_dirty = false;
        self.to_sync.clear();
        if let (Some(limit), Some(active)) = (self.options.size_limit_bytes, &self.active) {
            if active.written > limit {
                tracing::debug!(size = active.written, "txn log size limit reached");
                self.roll()?;
            }
        }
        Ok(())
    }

    /// Ends the current file: the next append starts `log.<its zxid>`. The ended file is written
    /// and synced now, so a crash can tear only the newest file.
    pub fn roll(&mut self) -> Result<()> {
        self.flush()?;
        if let Some(active) = self.active.take() {
            if self.options.force_sync {
                active
                    .file
                    .sync_data()
                    .map_err(Error::io("fsync txn log", &active.path))?;
            }
            self.to_sync.push(active);
        }
        Ok(())
    }

    /// Bytes logged since the last `reset_size` (`getTotalLogSize`), counting written records, not
    /// preallocated space.
    pub fn logged_bytes(&self) -> u64 {
        self.logged_bytes
    }

    /// Restarts the count of `logged_bytes` (after a snapshot was triggered).
    pub fn reset_size(&mut self) {
        self.logged_bytes = 0;
    }

    /// Commits and closes the files.
    pub fn close(mut self) -> Result<()> {
        self.commit()
    }

    /// The log files of the directory, ascending by start zxid.
    pub fn files(&self) -> Result<Vec<PathBuf>> {
        Ok(names::list(&self.dir, LOG_PREFIX)?
            .into_iter()
            .map(|f| f.path)
            .collect())
    }

    /// Reads the txns with zxid >= `start` (files written and synced so far; call `commit` first to
    /// see this writer's own appends).
    pub fn read(&self, start: Zxid) -> Result<TxnIterator> {
        read_dir(&self.dir, start)
    }

    /// The zxid of the last complete txn in the log, or `None` if there is none (Java: -1).
    pub fn last_logged_zxid(&self) -> Result<Option<Zxid>> {
        last_logged_zxid(&self.dir)
    }

    /// Cuts the log right after the txn `zxid` (the follower side of TRUNC): the file holding it is
    /// truncated after that record, later files are deleted. Buffered appends are written first.
    pub fn truncate(&mut self, zxid: Zxid) -> Result<()> {
        self.flush()?;
        self.active = None;
        self.to_sync.clear();
        truncate_dir(&self.dir, zxid)?;
        if self.last_zxid_seen > zxid {
            self.last_zxid_seen = zxid;
        }
        Ok(())
    }
}

/// Reads the txns of the log directory `dir` with zxid >= `start`.
pub fn read_dir(dir: &Path, start: Zxid) -> Result<TxnIterator> {
    Ok(TxnIterator::new(names::list(dir, LOG_PREFIX)?, start))
}

/// Reads every txn of the single log file `path`, judging its end as if it were the newest file
/// of its directory: a torn tail ends the iteration and shows in
/// [`TxnIterator::torn_tail`], damage followed by valid records is an error. For tools that
/// check log files one by one; a server reads a directory with [`read_dir`].
pub fn read_log_file(path: &Path) -> Result<TxnIterator> {
    let zxid = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| names::zxid_from_name(n, LOG_PREFIX))
        .unwrap_or(Zxid(i64::MIN));
    let file = NamedFile {
        zxid,
        path: path.to_path_buf(),
    };
    Ok(TxnIterator::new(vec![file], Zxid(i64::MIN)))
}

/// The last complete txn of the log in `dir`, reading the newest file (`getLastLoggedZxid`).
pub(crate) fn last_logged_zxid(dir: &Path) -> Result<Option<Zxid>> {
    let files = names::list(dir, LOG_PREFIX)?;
    let Some(newest) = files.last() else {
        return Ok(None);
    };
    let start = newest.zxid;
    let mut last = None;
    for txn in TxnIterator::new(files, start) {
        last = Some(txn?.zxid());
    }
    Ok(last)
}

fn truncate_dir(dir: &Path, zxid: Zxid) -> Result<()> {
    let files = names::list(dir, LOG_PREFIX)?;
    if files.is_empty() {
        return Err(Error::NothingToTruncate {
            dir: dir.to_path_buf(),
        });
    }
    let keep = files.iter().rposition(|f| f.zxid <= zxid);
    let doomed: &[NamedFile] = match keep {
        Some(i) => {
            let target = &files[i];
            let cut = end_of(target, zxid)?;
            if cut <= file::HEADER_LEN {
                // Nothing of this file survives: remove it rather than leave a file Java cannot
                // read.
                return remove_all(dir, &files[i..]);
            }
            let f = OpenOptions::new()
                .write(true)
                .open(&target.path)
                .map_err(Error::io("open txn log", &target.path))?;
            f.set_len(cut)
                .and_then(|()| f.sync_all())
                .map_err(Error::io("truncate txn log", &target.path))?;
            info!(file = %target.path.display(), offset = cut, %zxid, "truncated txn log");
            &files[i + 1..]
        }
        None => &files[..],
    };
    remove_all(dir, doomed)
}

fn remove_all(dir: &Path, files: &[NamedFile]) -> Result<()> {
    for f in files {
        info!(file = %f.path.display(), "removing txn log after truncation");
        std::fs::remove_file(&f.path).map_err(Error::io("remove txn log", &f.path))?;
    }
    names::sync_dir(dir)
}

/// The offset just past the last record with zxid <= `zxid` in `file` (the header's end if none).
fn end_of(file: &NamedFile, zxid: Zxid) -> Result<u64> {
    let mut log = match LogFile::open(&file.path)? {
        Opened::Ok(log) => log,
        Opened::Empty { .. } => return Ok(0),
    };
    let mut end = file::HEADER_LEN;
    while let Step::Record { offset, payload } = log.next_step()? {
        let entry = file::decode(&file.path, offset, &payload)?;
        if entry.header.zxid > zxid {
            break;
        }
        end = offset + file::FRAMING_LEN + payload.len() as u64;
    }
    Ok(end)
}

/// Cuts a torn tail found by recovery: the file is truncated to its last complete record (or
/// removed if it has none), newer empty files are removed, and the change is synced.
pub(crate) fn cut_torn_tail(tail: &TornTail) -> Result<()> {
    if tail.offset <= file::HEADER_LEN {
        std::fs::remove_file(&tail.path).map_err(Error::io("remove txn log", &tail.path))?;
    } else {
        let f = OpenOptions::new()
            .write(true)
            .open(&tail.path)
            .map_err(Error::io("open txn log", &tail.path))?;
        f.set_len(tail.offset)
            .and_then(|()| f.sync_all())
            .map_err(Error::io("truncate txn log", &tail.path))?;
    }
    for path in &tail.empty_newer_files {
        std::fs::remove_file(path).map_err(Error::io("remove txn log", path))?;
    }
    if let Some(dir) = tail.path.parent() {
        names::sync_dir(dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
