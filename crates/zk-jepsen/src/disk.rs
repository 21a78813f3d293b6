//! Disk faults: a [`SmallDisk`] (a size-limited tmpfs mounted over a member's txn log directory)
//! that can be filled until writes fail with ENOSPC and freed again, and [`tear_log_tail`], which
//! damages the last record of a member's newest txn log as a crash in the middle of a write leaves
//! it.
//!
//! Mounting needs root (CAP_SYS_ADMIN), as CI has; [`SmallDisk::mount`] says so when it is
//! refused. The txn log format is read here from its specification (`FileTxnLog`: a 16-byte
//! header `ZKLG`, version 2, dbid; then records of an 8-byte Adler-32 checksum, a 4-byte length,
//! the txn and the end-of-record byte `B`; zeros after the last record), independently of the
//! server's own reader.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The name of the file that fills a [`SmallDisk`].
const FILLER: &str = ".disk-full-filler";

/// A tmpfs of a fixed size mounted at a directory (which keeps its files once unmounted: they
/// are hidden while mounted, so mount before anything is written there). Unmounted (lazily, so
/// a process still using it does not stop it) when dropped.
#[derive(Debug)]
pub struct SmallDisk {
    path: PathBuf,
    size: u64,
    full: bool,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` bytes at `path`, an existing directory.
    pub fn mount(path: &Path, size: u64) -> io::Result<SmallDisk> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size},mode=0777"))
            .arg("tmpfs")
            .arg(path)
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "mount -t tmpfs at {} failed ({}): {}; a full disk needs root (CAP_SYS_ADMIN) to \
                 mount a small filesystem, as CI runs",
                path.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(SmallDisk {
            path: path.to_path_buf(),
            size,
            full: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn is_full(&self) -> bool {
        self.full
    }

    /// Writes a filler file until the filesystem refuses (ENOSPC); returns the bytes it took.
    pub fn fill(&mut self) -> io::Result<u64> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path.join(FILLER))?;
        self.full = true;
        let mut filled = 0u64;
        // Big chunks first, then pages, so that not even a page is left.
        for chunk in [1 << 20, 4096, 1] {
            let buf = vec![0xa5u8; chunk];
            loop {
                match file.write(&buf) {
                    Ok(0) => break,
                    Ok(n) => filled += n as u64,
                    Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(filled)
    }

    /// Deletes the filler file.
    pub fn free(&mut self) -> io::Result<()> {
        match std::fs::remove_file(self.path.join(FILLER)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        self.full = false;
        Ok(())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = self.free();
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// The length of a txn log's file header.
const HEADER_LEN: u64 = 16;
/// "ZKLG".
const LOG_MAGIC: [u8; 4] = *b"ZKLG";
/// Checksum and length before each txn.
const RECORD_PREFIX: u64 = 12;
/// The end-of-record byte after each txn.
const EOR: u8 = b'B';

/// How [`tear_log_tail`] damaged a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TearKind {
    /// The file was cut inside its last record, to this length: the write stopped there.
    Cut { len: u64 },
    /// `bytes` bytes from offset `at` on were overwritten with garbage: sectors half written.
    Scribble { at: u64, bytes: u64 },
    /// The record was zeroed from offset `from` to its end: pages never written.
    Zero { from: u64 },
    /// The newest file held no record, and was cut inside its header, to this length.
    Header { len: u64 },
}

/// What [`tear_log_tail`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tear {
    pub file: PathBuf,
    /// Complete records in the file before the tear.
    pub records: u64,
    /// Where the last record starts, and its length with checksum, length and end byte.
    pub record_offset: u64,
    pub record_len: u64,
    pub kind: TearKind,
}

impl fmt::Display for Tear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.file.file_name().map_or_else(
            || self.file.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        match &self.kind {
            TearKind::Header { len } => write!(f, "{name}: no record; header cut to {len} bytes"),
            kind => {
                write!(
                    f,
                    "{name}: record {} of {} bytes at {}: ",
                    self.records, self.record_len, self.record_offset
                )?;
                match kind {
                    TearKind::Cut { len } => write!(f, "file cut to {len} bytes"),
                    TearKind::Scribble { at, bytes } => {
                        write!(f, "{bytes} bytes of garbage at {at}")
                    }
                    TearKind::Zero { from } => write!(f, "zeroed from {from}"),
                    TearKind::Header { .. } => unreachable!(),
                }
            }
        }
    }
}

/// The txn log files (`log.<hex zxid>`) in `dir`, oldest first.
fn log_files(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(hex) = name.to_str().and_then(|n| n.strip_prefix("log.")) else {
            continue;
        };
        if let Ok(zxid) = u64::from_str_radix(hex, 16) {
            files.push((zxid, entry.path()));
        }
    }
    files.sort();
    Ok(files)
}

/// The complete records of a log file: (offset, length including framing).
fn records(file: &File) -> io::Result<Vec<(u64, u64)>> {
    let len = file.metadata()?.len();
    let mut header = [0u8; HEADER_LEN as usize];
    if len < HEADER_LEN || file.read_exact_at(&mut header, 0).is_err() || header[..4] != LOG_MAGIC {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut offset = HEADER_LEN;
    let mut prefix = [0u8; RECORD_PREFIX as usize];
    while offset + RECORD_PREFIX < len {
        file.read_exact_at(&mut prefix, offset)?;
        let checksum = i64::from_be_bytes(prefix[..8].try_into().expect("8 bytes"));
        let txn_len = i32::from_be_bytes(prefix[8..].try_into().expect("4 bytes"));
        if txn_len <= 0 || (checksum == 0 && txn_len == 0) {
            break;
        }
        let total = RECORD_PREFIX + txn_len as u64 + 1;
        if offset + total > len {
            break;
        }
        let mut txn = vec![0u8; txn_len as usize + 1];
        file.read_exact_at(&mut txn, offset + RECORD_PREFIX)?;
        let eor = txn.pop();
        if eor != Some(EOR) || i64::from(adler32(&txn)) != checksum {
            break;
        }
        out.push((offset, total));
        offset += total;
    }
    Ok(out)
}

/// Adler-32 (RFC 1950), the checksum of each txn log record.
fn adler32(bytes: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// Tears the tail of the newest txn log in `dir` (a `version-2` directory) of a server that is
/// down: cuts, scribbles over or zeroes part of its last record, chosen with `rng`, or, when the
/// newest file holds no record, cuts its header. `None` when `dir` has no log file.
///
/// A server restarted on it must truncate the log to its last complete record and catch up from
/// the leader. Tearing an acknowledged record is safe only while the other members hold it (one
/// fault at a time): a real torn write loses only what was never synced.
pub fn tear_log_tail(dir: &Path, rng: &mut fastrand::Rng) -> io::Result<Option<Tear>> {
    let Some((_, path)) = log_files(dir)?.pop() else {
        return Ok(None);
    };
    let file = OpenOptions::new().read(true).write(true).open(&path)?;
    let records = records(&file)?;
    let Some(&(offset, total)) = records.last() else {
        let len = rng.u64(0..HEADER_LEN.min(file.metadata()?.len()).max(1));
        file.set_len(len)?;
        file.sync_all()?;
        return Ok(Some(Tear {
            file: path,
            records: 0,
            record_offset: 0,
            record_len: 0,
            kind: TearKind::Header { len },
        }));
    };
    let kind = match rng.u8(0..3) {
        0 => {
            // Keep at least the checksum's high half (zero for an Adler-32), so the cut is inside
            // the record's non-zero bytes.
            let len = offset + rng.u64(5..total);
            file.set_len(len)?;
            TearKind::Cut { len }
        }
        1 => {
            let at = offset + rng.u64(0..total);
            let bytes = rng.u64(1..=16).min(offset + total - at);
            let mut buf = vec![0u8; bytes as usize];
            file.read_exact_at(&mut buf, at)?;
            for b in &mut buf {
                // Never the same byte again: the record is certainly damaged.
                *b ^= rng.u8(1..=255);
            }
            file.write_all_at(&buf, at)?;
            TearKind::Scribble { at, bytes }
        }
        _ => {
            let from = offset + rng.u64(RECORD_PREFIX..total);
            file.write_all_at(&vec![0u8; (offset + total - from) as usize], from)?;
            TearKind::Zero { from }
        }
    };
    file.sync_all()?;
    Ok(Some(Tear {
        file: path,
        records: records.len() as u64,
        record_offset: offset,
        record_len: total,
        kind,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log file as FileTxnLog writes it: header, records, preallocated zeros.
    fn write_log(path: &Path, txns: &[&[u8]]) -> Vec<(u64, u64)> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&LOG_MAGIC);
        bytes.extend_from_slice(&2i32.to_be_bytes());
        bytes.extend_from_slice(&7i64.to_be_bytes());
        let mut bounds = Vec::new();
        for txn in txns {
            let start = bytes.len() as u64;
            bytes.extend_from_slice(&i64::from(adler32(txn)).to_be_bytes());
            bytes.extend_from_slice(&(txn.len() as i32).to_be_bytes());
            bytes.extend_from_slice(txn);
            bytes.push(EOR);
            bounds.push((start, bytes.len() as u64 - start));
        }
        bytes.resize(bytes.len() + 4096, 0);
        std::fs::write(path, bytes).unwrap();
        bounds
    }

    #[test]
    fn adler32_matches_known_values() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        assert_eq!(adler32(&[0xff; 100_000]), {
            // The same sums, without the deferred reduction.
            let (mut a, mut b) = (1u64, 0u64);
            for _ in 0..100_000 {
                a = (a + 0xff) % 65521;
                b = (b + a) % 65521;
            }
            ((b << 16) | a) as u32
        });
    }

    #[test]
    fn the_scan_finds_every_complete_record_and_stops_at_the_zeros() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.100000001");
        let bounds = write_log(&path, &[b"first txn", b"second", b"the third txn"]);
        assert_eq!(records(&File::open(&path).unwrap()).unwrap(), bounds);
        // Not a log: no records.
        std::fs::write(&path, b"not a log at all, just text").unwrap();
        assert!(records(&File::open(&path).unwrap()).unwrap().is_empty());
    }

    #[test]
    fn a_tear_damages_only_the_last_record_of_the_newest_file() {
        let dir = tempfile::tempdir().unwrap();
        let older = dir.path().join("log.100000001");
        let newest = dir.path().join("log.200000001");
        write_log(&older, &[b"old"]);
        let older_bytes = std::fs::read(&older).unwrap();
        let mut rng = fastrand::Rng::with_seed(3);
        let mut kinds = std::collections::HashSet::new();
        for _ in 0..60 {
            let bounds = write_log(&newest, &[b"one", b"two two", b"three three three"]);
            let before = std::fs::read(&newest).unwrap();
            let tear = tear_log_tail(dir.path(), &mut rng).unwrap().unwrap();
            assert_eq!(tear.file, newest);
            assert_eq!((tear.record_offset, tear.record_len), bounds[2]);
            assert_eq!(tear.records, 3);
            let after = std::fs::read(&newest).unwrap();
            let last = bounds[2].0 as usize;
            // Everything before the last record is intact, and it no longer is.
            assert_eq!(after[..last], before[..last], "{tear}");
            let left = records(&File::open(&newest).unwrap()).unwrap();
            assert_eq!(left, bounds[..2], "{tear}");
            kinds.insert(std::mem::discriminant(&tear.kind));
            assert_eq!(std::fs::read(&older).unwrap(), older_bytes);
        }
        assert_eq!(kinds.len(), 3, "cut, scribble and zero all happen");
        // A newest file with no record loses part of its header.
        write_log(&newest, &[]);
        let tear = tear_log_tail(dir.path(), &mut rng).unwrap().unwrap();
        assert!(matches!(tear.kind, TearKind::Header { len } if len < HEADER_LEN));
        assert!(std::fs::metadata(&newest).unwrap().len() < HEADER_LEN);
        // No log at all: nothing to tear.
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(tear_log_tail(empty.path(), &mut rng).unwrap(), None);
    }
}
