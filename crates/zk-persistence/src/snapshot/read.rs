//! Reading a snapshot file into a [`SnapshotSink`], streaming, with both checksums verified as
//! 3.8's `FileSnap.deserialize` and `SnapStream.checkSealIntegrity` do.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use zk_jute::persistence::FileHeader;
use zk_jute::{Acl, Id, Record, SessionId, StatPersisted, Zxid};

use crate::adler32::Adler32;
use crate::error::{Error, Result};
use crate::snapshot::body::{SnapshotNode, SnapshotSink, ZxidDigest};

/// The quick test 3.8 uses to pick candidates (`isValidCheckedStream`): at least 10 bytes, ending
/// with the string `"/"`.
pub(crate) fn looks_complete(path: &Path) -> Result<bool> {
    let file = File::open(path).map_err(Error::io("open snapshot", path))?;
    let len = file
        .metadata()
        .map_err(Error::io("stat snapshot", path))?
        .len();
    if len < 10 {
        return Ok(false);
    }
    let mut tail = [0u8; 5];
    file.read_exact_at(&mut tail, len - 5)
        .map_err(Error::io("read snapshot", path))?;
    Ok(tail == [0, 0, 0, 1, b'/'])
}

/// What reading a snapshot found besides the records given to the sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotSummary {
    pub sessions: u64,
    pub acls: u64,
    pub nodes: u64,
    /// The digest section as stored (`None` if the file has none).
    pub digest: Option<ZxidDigest>,
}

enum Fault {
    Eof,
    Invalid(String),
    Io(io::Error),
}

impl From<io::Error> for Fault {
    fn from(e: io::Error) -> Self {
        Fault::Io(e)
    }
}

type Step<T> = std::result::Result<T, Fault>;

/// A buffered reader that tracks the offset and the Adler-32 of the bytes consumed.
struct Input<R = File> {
    file: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[0]`.
    base: u64,
    len: u64,
    sum: Adler32,
    /// `buf[..summed]` is included in `sum`.
    summed: usize,
}

impl<R: Read> Input<R> {
    fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Makes `n` bytes available at `buf[start..]`.
    fn fill(&mut self, n: usize) -> Step<()> {
        if self.end - self.start >= n {
            return Ok(());
        }
        if self.offset() + n as u64 > self.len {
            return Err(Fault::Eof);
        }
        self.sum.update(&self.buf[self.summed..self.start]);
        self.buf.copy_within(self.start..self.end, 0);
        self.base += self.start as u64;
        self.end -= self.start;
        self.start = 0;
        self.summed = 0;
        if self.buf.len() < n {
            self.buf.resize(n.next_power_of_two(), 0);
        }
        while self.end < n {
            let read = self.file.read(&mut self.buf[self.end..])?;
            if read == 0 {
                return Err(Fault::Eof);
            }
            self.end += read;
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Step<&[u8]> {
        self.fill(n)?;
        let s = &self.buf[self.start..self.start + n];
        self.start += n;
        Ok(s)
    }

    fn i32(&mut self) -> Step<i32> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn i64(&mut self) -> Step<i64> {
        Ok(i64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// A length prefix: `None` for -1 (null), an error below that.
    fn len(&mut self) -> Step<Option<usize>> {
        match self.i32()? {
            -1 => Ok(None),
            n if n < 0 => Err(Fault::Invalid(format!("negative length {n}"))),
            n => Ok(Some(n as usize)),
        }
    }

    fn string(&mut self) -> Step<String> {
        let Some(n) = self.len()? else {
            return Ok(String::new());
        };
        let raw = self.take(n)?;
        Ok(match std::str::from_utf8(raw) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(raw).into_owned(),
        })
    }

    fn buffer(&mut self) -> Step<Option<Arc<[u8]>>> {
        let Some(n) = self.len()? else {
            return Ok(None);
        };
        Ok(Some(Arc::from(self.take(n)?)))
    }

    fn stat(&mut self) -> Step<StatPersisted> {
        let raw = self.take(60)?;
        Ok(StatPersisted::from_bytes(raw).expect("60 bytes hold a StatPersisted"))
    }

    fn acl_list(&mut self) -> Step<Vec<Acl>> {
        let Some(count) = self.len()? else {
            return Err(Fault::Invalid("missing acls".into()));
        };
        let mut list = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            let perms = self.i32()?;
            let scheme = self.string()?;
            let id = self.string()?;
            list.push(Acl {
                perms,
                id: Id { scheme, id },
            });
        }
        Ok(list)
    }

    /// The checksum of every byte consumed so far.
    fn checksum(&mut self) -> u32 {
        self.sum.update(&self.buf[self.summed..self.start]);
        self.summed = self.start;
        self.sum.value()
    }

    /// `checkSealIntegrity`: a long equal to the checksum so far, then a string.
    fn check_seal(&mut self) -> Step<()> {
        let expected = i64::from(self.checksum());
        let stored = self.i64()?;
        self.string()?;
        if stored != expected {
            return Err(Fault::Invalid(format!(
                "checksum mismatch: stored {stored:#x}, computed {expected:#x}"
            )));
        }
        Ok(())
    }
}

/// One record of a snapshot body, as the parser hands it to whoever builds from it.
enum Item {
    Session(SessionId, i32),
    Acl(i64, Vec<Acl>),
    /// A node and the file offset just past it (where a rejection is reported).
    Node(SnapshotNode, u64),
    Digest(ZxidDigest),
}

/// Gives `item` to `sink`; `Err` is the sink's reason for rejecting a node, with its offset.
fn deliver(sink: &mut dyn SnapshotSink, item: Item) -> std::result::Result<(), (String, u64)> {
    match item {
        Item::Session(id, timeout) => sink.session(id, timeout),
        Item::Acl(index, list) => sink.acl(index, list),
        Item::Node(node, end) => return sink.node(node).map_err(|reason| (reason, end)),
        Item::Digest(digest) => sink.digest(digest),
    }
    Ok(())
}

/// Nodes per batch handed from the parsing thread to the building one: large enough that the
/// channel costs nothing per node, small enough that both threads stay busy.
const BATCH: usize = 2048;

/// Reads the snapshot `path` named for `snap_zxid` into `sink`. Parsing (reading, the checksum,
/// decoding) runs on a thread of its own while the caller's thread feeds `sink`, so loading a
/// large snapshot takes the longer of the two rather than their sum.
pub(crate) fn read_snapshot(
    path: &Path,
    snap_zxid: Zxid,
    sink: &mut dyn SnapshotSink,
) -> Result<SnapshotSummary> {
    let file = File::open(path).map_err(Error::io("open snapshot", path))?;
    let len = file
        .metadata()
        .map_err(Error::io("stat snapshot", path))?
        .len();
    let mut input = Input {
        file,
        buf: vec![0; 1 << 20],
        start: 0,
        end: 0,
        base: 0,
        len,
        sum: Adler32::new(),
        summed: 0,
    };
    sink.size_hint(len);
    let mut rejected = None;
    let (result, offset) = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Item>>(8);
        let parser = std::thread::Builder::new()
            .name("snapshot-parse".into())
            .spawn_scoped(scope, move || {
                let mut batch = Vec::with_capacity(BATCH);
                let mut emit = |item: Item| {
                    batch.push(item);
                    if batch.len() < BATCH {
                        return true;
                    }
                    tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                        .is_ok()
                };
                let result = read_body(&mut input, snap_zxid, &mut emit);
                if !batch.is_empty() {
                    let _ = tx.send(batch);
                }
                (result, input.offset())
            })
            .expect("spawn the snapshot parser");
        'feed: for batch in rx {
            for item in batch {
                if let Err(why) = deliver(sink, item) {
                    rejected = Some(why);
                    // Dropping the receiver stops the parser at its next batch.
                    break 'feed;
                }
            }
        }
        parser.join().expect("snapshot parser panicked")
    });
    if let Some((reason, offset)) = rejected {
        return Err(Error::Rejected {
            path: path.to_path_buf(),
            offset,
            reason,
        });
    }
    result.map_err(|fault| match fault {
        Fault::Io(e) => Error::io("read snapshot", path)(e),
        Fault::Eof => Error::CorruptSnapshot {
            path: path.to_path_buf(),
            offset,
            reason: "unexpected end of file".into(),
        },
        Fault::Invalid(reason) => Error::CorruptSnapshot {
            path: path.to_path_buf(),
            offset,
            reason,
        },
    })
}

/// `emit` returns false when nobody takes records any more (the consumer stopped).
type Emit<'a> = dyn FnMut(Item) -> bool + 'a;

fn read_body(
    input: &mut Input<File>,
    snap_zxid: Zxid,
    emit: &mut Emit<'_>,
) -> Step<SnapshotSummary> {
    let header = FileHeader::from_bytes(input.take(16)?).expect("16 bytes hold a file header");
    if header.magic != FileHeader::SNAPSHOT_MAGIC {
        return Err(Fault::Invalid(format!(
            "mismatching magic header {:#x}, expected {:#x}",
            header.magic,
            FileHeader::SNAPSHOT_MAGIC
        )));
    }
    let mut summary = read_records(input, emit)?;
    input.check_seal()?;
    // The digest section is optional: a file that ends (even part way) inside it has none, as
    // `DataTree.deserializeZxidDigest` treats EOF.
    let digest = match read_digest(input) {
        Ok(d) => d,
        Err(Fault::Eof) => return Ok(summary),
        Err(other) => return Err(other),
    };
    input.check_seal()?;
    summary.digest = Some(digest);
    if digest.zxid.0 > 0 && digest.zxid >= snap_zxid {
        emit(Item::Digest(digest));
    }
    Ok(summary)
}

/// Sessions, the ACL map and the nodes up to the closing `"/"`: what `SerializeUtils`
/// writes both to a snapshot file (after its header) and to a learner after SNAP.
fn read_records<R: Read>(input: &mut Input<R>, emit: &mut Emit<'_>) -> Step<SnapshotSummary> {
    let stopped = || Fault::Invalid("the snapshot's reader stopped".into());
    let mut summary = SnapshotSummary {
        sessions: 0,
        acls: 0,
        nodes: 0,
        digest: None,
    };
    let sessions = input.i32()?;
    for _ in 0..sessions.max(0) {
        let id = input.i64()?;
        let timeout = input.i32()?;
        if !emit(Item::Session(SessionId(id), timeout)) {
            return Err(stopped());
        }
        summary.sessions += 1;
    }
    let acls = input.i32()?;
    for _ in 0..acls.max(0) {
        let index = input.i64()?;
        let list = input.acl_list()?;
        if !emit(Item::Acl(index, list)) {
            return Err(stopped());
        }
        summary.acls += 1;
    }
    loop {
        let path = input.string()?;
        if path == "/" {
            break;
        }
        let data = input.buffer()?;
        let acl = input.i64()?;
        let stat = input.stat()?;
        let node = SnapshotNode {
            path,
            data,
            acl,
            stat,
        };
        if !emit(Item::Node(node, input.offset())) {
            return Err(stopped());
        }
        summary.nodes += 1;
        if summary.nodes % 1_000_000 == 0 {
            tracing::info!(nodes = summary.nodes, "loading snapshot");
        }
    }
    Ok(summary)
}

/// The signature a leader writes after the snapshot it streams to a learner.
pub const LEARNER_SNAPSHOT_SIGNATURE: &str = "BenWasHere";

/// Reads the snapshot a leader streams after a SNAP packet (sessions, ACL map, nodes, `"/"`,
/// then the signature `"BenWasHere"`, with no header, checksum or digest) from `reader`, whose
/// first bytes are `buffered`. Returns what it read and the bytes it took off `reader` past the
/// signature (the packets that follow).
pub fn read_learner_snapshot<R: Read>(
    buffered: &[u8],
    reader: R,
    sink: &mut dyn SnapshotSink,
) -> Result<(SnapshotSummary, Vec<u8>)> {
    let mut buf = vec![0; (1 << 20).max(buffered.len().next_power_of_two())];
    buf[..buffered.len()].copy_from_slice(buffered);
    let mut input = Input {
        file: reader,
        buf,
        start: 0,
        end: buffered.len(),
        base: 0,
        len: u64::MAX,
        sum: Adler32::new(),
        summed: 0,
    };
    let mut rejected = None;
    let stream = std::path::Path::new("<leader link>");
    let mut emit = |item: Item| match deliver(sink, item) {
        Ok(()) => true,
        Err((reason, _)) => {
            rejected = Some(reason);
            false
        }
    };
    let step = read_records(&mut input, &mut emit).and_then(|summary| {
        let signature = input.string()?;
        if signature != LEARNER_SNAPSHOT_SIGNATURE {
            return Err(Fault::Invalid(format!(
                "missing signature: expected {LEARNER_SNAPSHOT_SIGNATURE:?}, got {signature:?}"
            )));
        }
        Ok(summary)
    });
    let offset = input.offset();
    match step {
        Ok(summary) => Ok((summary, input.buf[input.start..input.end].to_vec())),
        Err(Fault::Io(e)) => Err(Error::io("read the leader's snapshot", stream)(e)),
        Err(Fault::Eof) => Err(Error::CorruptSnapshot {
            path: stream.to_path_buf(),
            offset,
            reason: "the leader closed the link inside the snapshot".into(),
        }),
        Err(Fault::Invalid(reason)) => Err(Error::CorruptSnapshot {
            path: stream.to_path_buf(),
            offset,
            reason: rejected.unwrap_or(reason),
        }),
    }
}

fn read_digest(input: &mut Input<File>) -> Step<ZxidDigest> {
    let zxid = Zxid(input.i64()?);
    let version = input.i32()?;
    let digest = if version < 2 {
        let hex = input.string()?;
        u64::from_str_radix(&hex, 16)
            .map(|v| v as i64)
            .map_err(|_| Fault::Invalid(format!("digest {hex:?} is not hexadecimal")))?
    } else {
        input.i64()?
    };
    Ok(ZxidDigest {
        zxid,
        version,
        digest,
    })
}
