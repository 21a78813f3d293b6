//! Writing a snapshot file: header, sessions, ACL map, nodes, `"/"`, checksum and seal, then the
//! digest section with its own checksum and seal, exactly as 3.8's `FileSnap.serialize`.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

use bytes::BufMut;
use zk_jute::Record;
use zk_jute::persistence::FileHeader;

use crate::adler32::Adler32;
use crate::error::{Error, Result};
use crate::snapshot::body::{NodeRef, SnapshotSource, ZxidDigest};

/// A writer that keeps the Adler-32 of everything written through it (`CheckedOutputStream`).
struct Checked<W> {
    inner: W,
    sum: Adler32,
}

impl<W: Write> Write for Checked<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sum.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Encodes records into a scratch buffer and writes it out in one call per record.
struct Out<'a, W = BufWriter<File>> {
    w: Checked<W>,
    scratch: Vec<u8>,
    path: &'a Path,
}

impl<W: Write> Out<'_, W> {
    fn emit(&mut self) -> Result<()> {
        self.w
            .write_all(&self.scratch)
            .map_err(Error::io("write snapshot", self.path))?;
        self.scratch.clear();
        Ok(())
    }

    fn node(&mut self, node: NodeRef<'_>) -> Result<()> {
        let s = &mut self.scratch;
        put_str(s, node.path);
        match node.data {
            Some(data) => {
                s.put_i32(i32::try_from(data.len()).expect("node data fits a jute buffer"));
                s.put_slice(data);
            }
            None => s.put_i32(-1),
        }
        s.put_i64(node.acl);
        node.stat.write(s);
        self.emit()
    }

    /// `SnapStream.sealStream`: the checksum so far, then the string "/".
    fn seal(&mut self) -> Result<()> {
        let sum = i64::from(self.w.sum.value());
        self.scratch.put_i64(sum);
        put_str(&mut self.scratch, "/");
        self.emit()
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.put_i32(i32::try_from(s.len()).expect("path fits a jute string"));
    out.put_slice(s.as_bytes());
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrittenSnapshot {
    pub nodes: u64,
    pub bytes: u64,
    pub digest: Option<ZxidDigest>,
}

/// Writes `source` to `path` (created or truncated), then fsyncs the file.
pub(crate) fn write_snapshot(
    path: &Path,
    source: &mut dyn SnapshotSource,
) -> Result<WrittenSnapshot> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(Error::io("create snapshot", path))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let (nodes, digest) = write_file_body(source, &mut w, path)?;
    let file = w
        .into_inner()
        .map_err(|e| Error::io("write snapshot", path)(e.into_error()))?;
    file.sync_all().map_err(Error::io("fsync snapshot", path))?;
    let bytes = file
        .metadata()
        .map_err(Error::io("stat snapshot", path))?
        .len();
    Ok(WrittenSnapshot {
        nodes,
        bytes,
        digest,
    })
}

/// Writes a whole snapshot file's bytes (header, records, checksum, digest section) to `out`,
/// for a backup streamed elsewhere (the AdminServer's `snapshot` command). Returns the node
/// count and the digest section written.
pub fn write_snapshot_to<W: Write>(
    source: &mut dyn SnapshotSource,
    out: W,
) -> Result<(u64, Option<ZxidDigest>)> {
    write_file_body(source, out, Path::new("<backup stream>"))
}

fn write_file_body<W: Write>(
    source: &mut dyn SnapshotSource,
    inner: W,
    path: &Path,
) -> Result<(u64, Option<ZxidDigest>)> {
    let mut out = Out {
        w: Checked {
            inner,
            sum: Adler32::new(),
        },
        scratch: Vec::with_capacity(4096),
        path,
    };
    FileHeader::snapshot().write(&mut out.scratch);
    let nodes = write_records(&mut out, source)?;
    out.seal()?;

    let digest = source.digest();
    if let Some(d) = digest {
        out.scratch.put_i64(d.zxid.0);
        out.scratch.put_i32(d.version);
        if d.version < 2 {
            put_str(&mut out.scratch, &format!("{:x}", d.digest));
        } else {
            out.scratch.put_i64(d.digest);
        }
        out.emit()?;
        out.seal()?;
    }
    out.w
        .inner
        .flush()
        .map_err(Error::io("write snapshot", path))?;
    Ok((nodes, digest))
}

/// Sessions, the ACL map, the nodes and the closing `"/"` (`SerializeUtils.serializeSnapshot`).
fn write_records<W: Write>(out: &mut Out<'_, W>, source: &mut dyn SnapshotSource) -> Result<u64> {
    let sessions = source.sessions();
    out.scratch.put_i32(sessions.len() as i32);
    for (id, timeout) in sessions {
        out.scratch.put_i64(id.0);
        out.scratch.put_i32(timeout);
    }
    let acls = source.acls();
    out.scratch.put_i32(acls.len() as i32);
    for (index, list) in &acls {
        out.scratch.put_i64(*index);
        list.write(&mut out.scratch);
    }
    out.emit()?;
    let mut nodes = 0u64;
    source.nodes(&mut |node| {
        nodes += 1;
        out.node(node)
    })?;
    put_str(&mut out.scratch, "/");
    out.emit()?;
    Ok(nodes)
}

/// Streams `source` to a learner after a SNAP packet, as `LearnerHandler` does: the snapshot
/// records without header, checksum or digest, then the signature `"BenWasHere"`. Returns the
/// number of nodes written; the caller flushes `out`.
pub fn write_learner_snapshot<W: Write>(source: &mut dyn SnapshotSource, out: W) -> Result<u64> {
    let path = Path::new("<learner link>");
    let mut out = Out {
        w: Checked {
            inner: out,
            sum: Adler32::new(),
        },
        scratch: Vec::with_capacity(4096),
        path,
    };
    let nodes = write_records(&mut out, source)?;
    put_str(
        &mut out.scratch,
        crate::snapshot::read::LEARNER_SNAPSHOT_SIGNATURE,
    );
    out.emit()?;
    Ok(nodes)
}
