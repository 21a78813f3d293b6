//! Looking at txn log bytes directly, to explain where reading stopped: is there a complete
//! record with a bad checksum, does a valid record follow further on.

use zk_jute::txn::TxnEntry;
use zk_persistence::adler32;

/// What the bytes at a record offset hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A complete, checksummed record.
    Record,
    /// A complete record (length, payload, end-of-record byte) whose checksum does not match.
    ChecksumMismatch,
    /// Anything else: a partial record, zeros, garbage.
    Other,
}

/// The shape of the record at `offset` of `data`.
pub(crate) fn shape_at(data: &[u8], offset: usize) -> Shape {
    let Some(r) = data.get(offset..) else {
        return Shape::Other;
    };
    if r.len() < 13 {
        return Shape::Other;
    }
    let len = i32::from_be_bytes(r[8..12].try_into().expect("4 bytes"));
    if len <= 0 || 12 + len as usize >= r.len() || r[12 + len as usize] != b'B' {
        return Shape::Other;
    }
    let crc = i64::from_be_bytes(r[..8].try_into().expect("8 bytes"));
    if crc == i64::from(adler32(&r[12..12 + len as usize])) {
        Shape::Record
    } else {
        Shape::ChecksumMismatch
    }
}

/// The first offset after `from` where a complete record with a good checksum and a decodable txn
/// starts.
pub(crate) fn next_valid_record(data: &[u8], from: usize) -> Option<usize> {
    const MIN: usize = 13 + 32;
    if data.len() < MIN {
        return None;
    }
    (from + 1..=data.len() - MIN).find(|&p| {
        let r = &data[p..];
        if r[..4] != [0, 0, 0, 0] {
            return false;
        }
        let len = i32::from_be_bytes(r[8..12].try_into().expect("4 bytes"));
        if len < 32 || 12 + len as usize >= r.len() {
            return false;
        }
        let payload = &r[12..12 + len as usize];
        let crc = u32::from_be_bytes(r[4..8].try_into().expect("4 bytes"));
        r[12 + len as usize] == b'B'
            && crc == adler32(payload)
            && TxnEntry::read(&mut &payload[..]).is_ok()
    })
}
