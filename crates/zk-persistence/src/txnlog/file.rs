//! One txn log file on the read side: its header, its records one by one, and the forensics used
//! when reading stops early (is the rest zeros, is there a valid record further on).
//!
//! A record is `long checksum` (Adler-32 of the payload in the low 32 bits), `int length`, the
//! payload (TxnHeader, body, optional TxnDigest) and the end-of-record byte `'B'`.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use zk_jute::Record;
use zk_jute::persistence::FileHeader;
use zk_jute::txn::TxnEntry;

use crate::adler32::adler32;
use crate::error::{Error, Result};

/// Bytes of the file header.
pub(crate) const HEADER_LEN: u64 = 16;
/// Bytes of a record around its payload: checksum, length, end-of-record byte.
pub(crate) const FRAMING_LEN: u64 = 13;
/// The end-of-record marker.
pub(crate) const EOR: u8 = b'B';
/// The smallest payload a record can have: a TxnHeader.
const MIN_PAYLOAD: usize = 32;

/// What reading the next record found.
#[derive(Debug)]
pub(crate) enum Step {
    /// A record whose checksum matched.
    Record { offset: u64, payload: Bytes },
    /// Reading stopped at `offset`: end of file, a zero length (preallocated space), a partial
    /// record, a missing end-of-record byte or a checksum mismatch. Whether that is the clean end,
    /// a torn tail or corruption is decided by looking at what follows (see [`classify`]).
    Stop { offset: u64, reason: StopReason },
}

/// Why reading stopped before a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// The file ends at or inside the record.
    ShortRead,
    /// A zero (or -1) length: preallocated space, Java's end of log.
    ZeroLength,
    /// A length below -1.
    NegativeLength,
    /// The byte after the payload is not `'B'` (Java: "Last transaction was partial").
    MissingEndOfRecord,
    /// The checksum does not match the payload (Java: "CRC check failed").
    ChecksumMismatch,
}

impl StopReason {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            StopReason::ShortRead => "the file ends inside a record",
            StopReason::ZeroLength => "a zero-length record is followed by non-zero bytes",
            StopReason::NegativeLength => "a record has a negative length",
            StopReason::MissingEndOfRecord => "a record is not followed by its end-of-record byte",
            StopReason::ChecksumMismatch => "a record fails its checksum",
        }
    }
}

/// Sequential reader of one log file.
#[derive(Debug)]
pub(crate) struct LogFile {
    path: PathBuf,
    reader: BufReader<File>,
    /// Offset of the next unread byte.
    pos: u64,
    len: u64,
}

/// How the header of a log file looks.
#[derive(Debug)]
pub(crate) enum Opened {
    Ok(LogFile),
    /// Shorter than a header, or a header of zeros: a file created just before a crash.
    Empty {
        len: u64,
    },
}

impl LogFile {
    pub(crate) fn open(path: &Path) -> Result<Opened> {
        let file = File::open(path).map_err(Error::io("open txn log", path))?;
        let len = file
            .metadata()
            .map_err(Error::io("stat txn log", path))?
            .len();
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        let mut header = [0u8; HEADER_LEN as usize];
        if len < HEADER_LEN {
            return Ok(Opened::Empty { len });
        }
        reader
            .read_exact(&mut header)
            .map_err(Error::io("read txn log", path))?;
        if header.iter().all(|&b| b == 0) {
            return Ok(Opened::Empty { len });
        }
        let header = FileHeader::from_bytes(&header).expect("16 bytes hold a file header");
        if header.magic != FileHeader::TXN_LOG_MAGIC {
            return Err(Error::BadMagic {
                path: path.to_path_buf(),
                kind: "txn log",
                found: header.magic,
                expected: FileHeader::TXN_LOG_MAGIC,
            });
        }
        Ok(Opened::Ok(LogFile {
            path: path.to_path_buf(),
            reader,
            pos: HEADER_LEN,
            len,
        }))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Reads the next record.
    pub(crate) fn next_step(&mut self) -> Result<Step> {
        let offset = self.pos;
        let stop = |reason| Ok(Step::Stop { offset, reason });
        let mut head = [0u8; 12];
        if !self.read_full(&mut head)? {
            return stop(StopReason::ShortRead);
        }
        let checksum = i64::from_be_bytes(head[..8].try_into().expect("8 bytes"));
        let len = i32::from_be_bytes(head[8..].try_into().expect("4 bytes"));
        if len == 0 || len == -1 {
            return stop(StopReason::ZeroLength);
        }
        if len < 0 {
            return stop(StopReason::NegativeLength);
        }
        let len = len as u64;
        if offset + 12 + len + 1 > self.len {
            return stop(StopReason::ShortRead);
        }
        let mut payload = vec![0u8; len as usize];
        if !self.read_full(&mut payload)? {
            return stop(StopReason::ShortRead);
        }
        let mut eor = [0u8; 1];
        if !self.read_full(&mut eor)? {
            return stop(StopReason::ShortRead);
        }
        if eor[0] != EOR {
            return stop(StopReason::MissingEndOfRecord);
        }
        if checksum != i64::from(adler32(&payload)) {
            return stop(StopReason::ChecksumMismatch);
        }
        Ok(Step::Record {
            offset,
            payload: Bytes::from(payload),
        })
    }

    /// Fills `buf`; false on end of file.
    fn read_full(&mut self, buf: &mut [u8]) -> Result<bool> {
        match self.reader.read_exact(buf) {
            Ok(()) => {
                self.pos += buf.len() as u64;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(Error::io("read txn log", &self.path)(e)),
        }
    }
}

/// Decodes a record payload, naming the file and offset on failure.
pub(crate) fn decode(path: &Path, offset: u64, payload: &Bytes) -> Result<TxnEntry> {
    TxnEntry::read(&mut payload.clone()).map_err(|source| Error::BadTxn {
        path: path.to_path_buf(),
        offset,
        source,
    })
}

/// What the bytes from a stop offset to the end of the file are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    /// Only zeros (or nothing): the clean end of the log.
    Clean,
    /// Non-zero bytes up to `nonzero_end` but no valid record: a torn write.
    Torn { nonzero_end: u64 },
    /// A valid record starts at `next_record` after the stop, and between them lies a whole
    /// zeroed 512-byte sector: what writes that never reached the disk look like when the kernel
    /// wrote later pages first. A torn write if nothing after it was ever synced.
    Hole { next_record: u64, nonzero_end: u64 },
    /// A valid record starts at `next_record` after the stop and no lost write explains the
    /// damage (a bit flip, garbage): the stop is corruption.
    Corrupt { next_record: u64 },
}

/// Sector size for telling lost writes (whole zeroed sectors) from damage.
const SECTOR: u64 = 512;

/// Classifies what follows a stop at `offset` in the log file `path` of length `len`.
pub(crate) fn classify(path: &Path, offset: u64, len: u64) -> Result<Tail> {
    let file = File::open(path).map_err(Error::io("open txn log", path))?;
    let nonzero_end = nonzero_end(&file, path, offset, len)?;
    if nonzero_end <= offset {
        return Ok(Tail::Clean);
    }
    let mut region = vec![0u8; (nonzero_end - offset) as usize];
    file.read_exact_at(&mut region, offset)
        .map_err(Error::io("read txn log", path))?;
    Ok(match find_record(&region, 1) {
        Some(at) => {
            let next_record = offset + at as u64;
            let first_sector = offset.div_ceil(SECTOR) * SECTOR;
            let zeroed_sector = (first_sector..next_record)
                .step_by(SECTOR as usize)
                .take_while(|s| s + SECTOR <= next_record)
                .any(|s| {
                    let from = (s - offset) as usize;
                    region[from..from + SECTOR as usize].iter().all(|&b| b == 0)
                });
            if zeroed_sector {
                Tail::Hole {
                    next_record,
                    nonzero_end,
                }
            } else {
                Tail::Corrupt { next_record }
            }
        }
        None => Tail::Torn { nonzero_end },
    })
}

/// The offset just past the last non-zero byte in `[from, len)`, or `from` if all are zero.
fn nonzero_end(file: &File, path: &Path, from: u64, len: u64) -> Result<u64> {
    const CHUNK: u64 = 1 << 20;
    let mut buf = vec![0u8; CHUNK as usize];
    let mut end = len;
    while end > from {
        let start = end.saturating_sub(CHUNK).max(from);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)
            .map_err(Error::io("read txn log", path))?;
        if let Some(i) = last_nonzero(chunk) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(from)
}

/// The index of the last non-zero byte. The tail of a preallocated log is megabytes of zeros,
/// so whole 64-byte blocks are tested first (an OR over a block vectorizes).
fn last_nonzero(chunk: &[u8]) -> Option<usize> {
    let mut end = chunk.len();
    while end >= 64 && chunk[end - 64..end].iter().fold(0u8, |a, &b| a | b) == 0 {
        end -= 64;
    }
    chunk[..end].iter().rposition(|&b| b != 0)
}

/// The first offset at or after `from` in `region` where a complete, checksummed, decodable record
/// starts.
fn find_record(region: &[u8], from: usize) -> Option<usize> {
    let min_len = FRAMING_LEN as usize + MIN_PAYLOAD;
    if region.len() < min_len {
        return None;
    }
    (from..=region.len() - min_len).find(|&p| {
        let r = &region[p..];
        if r[..4] != [0, 0, 0, 0] {
            return false;
        }
        let len = i32::from_be_bytes(r[8..12].try_into().expect("4 bytes"));
        if len < MIN_PAYLOAD as i32 {
            return false;
        }
        let len = len as usize;
        let Some(&eor) = r.get(12 + len) else {
            return false;
        };
        let checksum = u32::from_be_bytes(r[4..8].try_into().expect("4 bytes"));
        let payload = &r[12..12 + len];
        eor == EOR && checksum == adler32(payload) && TxnEntry::read(&mut &payload[..]).is_ok()
    })
}

/// Appends the framed record of `payload` to `out`.
pub(crate) fn frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&i64::from(adler32(payload)).to_be_bytes());
    out.extend_from_slice(&(payload.len() as i32).to_be_bytes());
    out.extend_from_slice(payload);
    out.push(EOR);
}
