//! The error type of the crate: every variant names the file (and the offset where one applies).

use std::io;
use std::path::{Path, PathBuf};

use zk_jute::{DecodeError, Zxid};

/// Why a persistence operation failed. Messages say what broke, where, and what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system error on a file or directory.
    #[error(
        "cannot {action} {path}: {source}; check that the path exists, is writable and the disk is not full"
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A txn log record that fails its checksum (or is otherwise broken) with valid records after
    /// it, or broken where a torn tail cannot be: the log cannot be trusted past `offset`.
    #[error(
        "txn log {path} is corrupt at offset {offset}: {reason}; restore this server's data directory from another server or a backup (Apache's TxnLogToolkit can inspect or chop the file)"
    )]
    CorruptLog {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// A checksummed txn log record that does not decode as a txn.
    #[error(
        "txn log {path} holds an undecodable txn at offset {offset}: {source}; the file was written by an incompatible server or is damaged, restore it from another server or a backup"
    )]
    BadTxn {
        path: PathBuf,
        offset: u64,
        #[source]
        source: DecodeError,
    },
    /// A file whose header does not carry the expected magic number.
    #[error(
        "{path} is not a {kind}: magic number {found:#010x} instead of {expected:#010x}; remove the file from the data directory"
    )]
    BadMagic {
        path: PathBuf,
        kind: &'static str,
        found: i32,
        expected: i32,
    },
    /// A snapshot that cannot be read (used for the reason a candidate was skipped).
    #[error("snapshot {path} is invalid at offset {offset}: {reason}")]
    CorruptSnapshot {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// Snapshots exist but none of the newest (up to 100) could be read.
    #[error(
        "not able to find a valid snapshot in {dir} ({tried} tried, see the warnings above); restore the data directory from another server or a backup"
    )]
    NoValidSnapshot { dir: PathBuf, tried: usize },
    /// A compressed snapshot (`.gz` or `.snappy`), which this implementation does not read.
    #[error(
        "snapshot {path} is compressed, which is not supported; restart Apache ZooKeeper once with zookeeper.snapshot.compression.method unset so it writes a plain snapshot"
    )]
    CompressedSnapshot { path: PathBuf },
    /// Txn logs but no snapshot, without the trust option (ZOOKEEPER-3056).
    #[error(
        "no snapshot found in {snap_dir}, but there are txn logs in {log_dir}; something is broken: restore the snapshots, or set zookeeper.snapshot.trust.empty=true only when upgrading from 3.4"
    )]
    LogsWithoutSnapshot { snap_dir: PathBuf, log_dir: PathBuf },
    /// dataLogDir and dataDir differ and one holds the other's files (ZOOKEEPER-2967).
    #[error(
        "{dir} holds {found} files; check that dataDir and dataLogDir are configured correctly"
    )]
    MixedDirectory { dir: PathBuf, found: &'static str },
    /// A directory is missing and automatic creation is off.
    #[error(
        "missing directory {dir} and automatic creation is disabled (zookeeper.datadir.autocreate is false); create it manually"
    )]
    MissingDirectory { dir: PathBuf },
    /// An epoch file that does not hold a decimal number.
    #[error(
        "epoch file {path} holds {content:?}, not a number; restore it from a backup or delete it to recreate it from the last zxid"
    )]
    BadEpoch { path: PathBuf, content: String },
    /// The epoch of the last zxid is ahead of `currentEpoch` and no `currentEpoch.tmp` explains it.
    #[error(
        "the current epoch {current_epoch} in {path} is older than the last zxid {last_zxid}; restore the data directory from another server"
    )]
    EpochBehindZxid {
        path: PathBuf,
        current_epoch: u64,
        last_zxid: Zxid,
    },
    /// `acceptedEpoch` is lower than `currentEpoch`.
    #[error(
        "the accepted epoch {accepted_epoch} is less than the current epoch {current_epoch} in {dir}; restore the data directory from another server"
    )]
    AcceptedBelowCurrent {
        dir: PathBuf,
        accepted_epoch: u64,
        current_epoch: u64,
    },
    /// A TRUNC with no txn log to cut.
    #[error(
        "no txn log files found to truncate in {dir}; the snapshots may be from an old setup, logs were deleted, or dataLogDir changed in zoo.cfg"
    )]
    NothingToTruncate { dir: PathBuf },
    /// The snapshot sink refused a record (for example a node whose parent is missing).
    #[error("snapshot {path} is invalid at offset {offset}: {reason}")]
    Rejected {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// The replay callback failed on a txn.
    #[error(
        "replaying txn {zxid} from {path} failed: {reason}; the data directory is inconsistent, restore it from another server"
    )]
    Replay {
        path: PathBuf,
        zxid: Zxid,
        reason: String,
    },
    /// A purge asked to keep fewer than 3 snapshots.
    #[error("snapshot retain count {0} is too small: keep at least 3 snapshots")]
    RetainCount(usize),
    /// A log append with a txn too large for a jute buffer.
    #[error(
        "txn {zxid} is {len} bytes, more than a txn log record can hold; reject such requests before logging them"
    )]
    TxnTooLarge { zxid: Zxid, len: usize },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io<'a>(
        action: &'static str,
        path: &'a Path,
    ) -> impl FnOnce(io::Error) -> Error + 'a {
        // The path is copied only on failure: this wraps every write and fsync of the log.
        move |source| Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}
