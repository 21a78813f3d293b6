//! Reading txns from a zxid on, across log files, with the end-of-log rules of 3.8 and the torn-tail
//! detection recovery needs.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use tracing::{debug, warn};
use zk_jute::Zxid;
use zk_jute::txn::TxnEntry;

use crate::error::{Error, Result};
use crate::names::NamedFile;
use crate::txnlog::file::{self, LogFile, Opened, Step, StopReason, Tail};

/// One txn read from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedTxn {
    pub entry: TxnEntry,
    /// The record payload as stored (TxnHeader, body, digest): what a leader sends in a PROPOSAL.
    pub payload: Bytes,
    /// Offset of the record in its file.
    pub offset: u64,
}

impl LoggedTxn {
    pub fn zxid(&self) -> Zxid {
        self.entry.header.zxid
    }
}

/// Bytes at the end of the log that do not form a complete record: what a crash in the middle of
/// a write leaves behind. Nothing in it was ever acknowledged, since `commit` had not returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The log file whose end is torn.
    pub path: PathBuf,
    /// Where its last complete record ends.
    pub offset: u64,
    /// Non-zero bytes after `offset` (preallocated zeros are not counted).
    pub discarded_bytes: u64,
    /// The zxid of the last complete record read before the tear, if any was read.
    pub last_good_zxid: Option<Zxid>,
    /// Newer log files with no complete record (created just before the crash).
    pub empty_newer_files: Vec<PathBuf>,
}

/// Iterates the txns with zxid >= a start zxid over every log file that may hold them, in zxid
/// order, as `FileTxnLog.FileTxnIterator` does. Items are errors for corruption; after an error the
/// iterator ends.
#[derive(Debug)]
pub struct TxnIterator {
    files: Vec<NamedFile>,
    next_file: usize,
    current: Option<LogFile>,
    start: Zxid,
    last_zxid: Option<Zxid>,
    torn: Option<TornTail>,
    done: bool,
    /// Stop quietly at the end instead of classifying what follows it.
    live: bool,
}

impl TxnIterator {
    /// `all_files` in ascending zxid order; keeps those that may hold zxids >= `start`.
    pub(crate) fn new(all_files: Vec<NamedFile>, start: Zxid) -> Self {
        let first = all_files.iter().rposition(|f| f.zxid < start).unwrap_or(0);
        TxnIterator {
            files: all_files.into_iter().skip(first).collect(),
            next_file: 0,
            current: None,
            start,
            last_zxid: None,
            torn: None,
            done: false,
            live: false,
        }
    }

    /// For a log that this process is appending to: the iterator ends at the first record that
    /// does not read (preallocated zeros, or an append in progress) without scanning the rest of
    /// the file for a torn tail, which recovery needs and a live reader does not.
    pub fn live(mut self) -> Self {
        self.live = true;
        self
    }

    /// The file the last txn came from.
    pub fn current_file(&self) -> Option<&Path> {
        self.current.as_ref().map(LogFile::path).or_else(|| {
            self.next_file
                .checked_sub(1)
                .and_then(|i| self.files.get(i))
                .map(|f| f.path.as_path())
        })
    }

    /// The torn tail found at the end of the log, once the iterator has reached it.
    pub fn torn_tail(&self) -> Option<&TornTail> {
        self.torn.as_ref()
    }

    /// The zxid of the last complete record read, including those skipped for being below start.
    pub fn last_read_zxid(&self) -> Option<Zxid> {
        self.last_zxid
    }

    /// The log files this iterator reads, in order.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|f| f.path.as_path())
    }

    fn step(&mut self) -> Result<Option<LoggedTxn>> {
        loop {
            if self.done {
                return Ok(None);
            }
            let Some(current) = self.current.as_mut() else {
                let Some(next) = self.files.get(self.next_file) else {
                    self.done = true;
                    return Ok(None);
                };
                let index = self.next_file;
                self.next_file += 1;
                debug!(file = %next.path.display(), "reading txn log");
                match LogFile::open(&next.path)? {
                    Opened::Ok(file) => self.current = Some(file),
                    Opened::Empty { len } => self.empty_file(index, len)?,
                }
                continue;
            };
            match current.next_step()? {
                Step::Record { offset, payload } => {
                    let entry = file::decode(current.path(), offset, &payload)?;
                    let zxid = entry.header.zxid;
                    self.last_zxid = Some(zxid);
                    if zxid < self.start {
                        continue;
                    }
                    return Ok(Some(LoggedTxn {
                        entry,
                        payload,
                        offset,
                    }));
                }
                Step::Stop { offset, reason } => {
                    let path = current.path().to_path_buf();
                    let len = current.len();
                    self.current = None;
                    self.stopped(&path, len, offset, reason)?;
                }
            }
        }
    }

    /// A file shorter than its header or with a zero header.
    fn empty_file(&mut self, index: usize, len: u64) -> Result<()> {
        let path = self.files[index].path.clone();
        if self.later_files_empty(index + 1)? {
            self.set_torn(&path, 0, len, index);
            return Ok(());
        }
        Err(Error::CorruptLog {
            path,
            offset: 0,
            reason: "the file has no header but newer log files hold txns".into(),
        })
    }

    fn stopped(&mut self, path: &Path, len: u64, offset: u64, reason: StopReason) -> Result<()> {
        let index = self.next_file - 1;
        if self.live {
            return Ok(());
        }
        match file::classify(path, offset, len)? {
            Tail::Clean => Ok(()),
            Tail::Corrupt { next_record } => Err(Error::CorruptLog {
                path: path.to_path_buf(),
                offset,
                reason: format!(
                    "{}, and a valid record follows at offset {next_record}",
                    reason.describe()
                ),
            }),
            Tail::Hole {
                next_record,
                nonzero_end,
            } => {
                if self.later_files_empty(index + 1)? {
                    warn!(
                        file = %path.display(),
                        offset,
                        next_record,
                        "the newest txn log has a zeroed sector before its last records: writes lost in a crash; the records after it were never acknowledged"
                    );
                    self.set_torn(path, offset, nonzero_end - offset, index);
                    Ok(())
                } else {
                    Err(Error::CorruptLog {
                        path: path.to_path_buf(),
                        offset,
                        reason: format!(
                            "{}, a zeroed sector follows, and a valid record follows at offset {next_record} in a log file that is not the newest",
                            reason.describe()
                        ),
                    })
                }
            }
            Tail::Torn { nonzero_end } => {
                if self.later_files_empty(index + 1)? {
                    self.set_torn(path, offset, nonzero_end - offset, index);
                    Ok(())
                } else if reason == StopReason::ChecksumMismatch {
                    Err(Error::CorruptLog {
                        path: path.to_path_buf(),
                        offset,
                        reason: format!(
                            "{} in a log file that is not the newest",
                            reason.describe()
                        ),
                    })
                } else if let Some(gap) = self.gap_after(index) {
                    Err(Error::CorruptLog {
                        path: path.to_path_buf(),
                        offset,
                        reason: format!(
                            "{} in a log file that is not the newest, and the next file starts at {gap}, so txns are missing",
                            reason.describe()
                        ),
                    })
                } else {
                    // 3.8 leaves a partial record at the end of a log when it crashes, and starts
                    // a new file on restart; it reads past it, and so do we.
                    warn!(
                        file = %path.display(),
                        offset,
                        "txn log ends with a partial record ({}); continuing with the next log file",
                        reason.describe()
                    );
                    Ok(())
                }
            }
        }
    }

    /// After a partial record ends file `index`, the next file's start zxid if it skips txns:
    /// a restart after a crash starts the next file at the zxid that was being written (or in a
    /// new epoch), while a record damaged later leaves a gap in the same epoch.
    fn gap_after(&self, index: usize) -> Option<Zxid> {
        let last = self.last_zxid?;
        let next = self.files.get(index + 1)?.zxid;
        (next.epoch() == last.epoch() && next.0 > last.0 + 1).then_some(next)
    }

    fn set_torn(&mut self, path: &Path, offset: u64, discarded_bytes: u64, index: usize) {
        self.torn = Some(TornTail {
            path: path.to_path_buf(),
            offset,
            discarded_bytes,
            last_good_zxid: self.last_zxid,
            empty_newer_files: self.files[index + 1..]
                .iter()
                .map(|f| f.path.clone())
                .collect(),
        });
        self.done = true;
    }

    /// Whether none of the files from `index` on holds a complete record.
    fn later_files_empty(&self, index: usize) -> Result<bool> {
        for f in &self.files[index.min(self.files.len())..] {
            if let Opened::Ok(mut file) = LogFile::open(&f.path)? {
                if let Step::Record { .. } = file.next_step()? {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

impl Iterator for TxnIterator {
    type Item = Result<LoggedTxn>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(Some(txn)) => Some(Ok(txn)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                self.current = None;
                Some(Err(e))
            }
        }
    }
}
