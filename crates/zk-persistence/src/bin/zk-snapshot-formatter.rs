//! `zk-snapshot-formatter [-d|-json] snapshot_file`: prints a snapshot as Apache ZooKeeper's
//! `org.apache.zookeeper.server.SnapshotFormatter` (zkSnapShotToolkit.sh) does, text for text.

#[path = "shared/java.rs"]
#[allow(dead_code)]
mod java;
#[path = "shared/progress.rs"]
mod progress;

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use zk_jute::{Acl, SessionId, StatPersisted};
use zk_persistence::{Error, FileSnap, SnapshotNode, SnapshotSink, ZxidDigest};

use java::{JavaHashOrder, Zone};
use progress::{Progress, mib};

const TOOL: &str = "zk-snapshot-formatter";

const HELP: &str = "\
Usage: zk-snapshot-formatter [-d|-json] snapshot_file
       -d dump the data for each znode
       -json dump znode info in json format

Prints a snapshot file (version-2/snapshot.<zxid>) as Apache ZooKeeper 3.8's SnapshotFormatter
(zkSnapShotToolkit.sh) does: every znode with its stat (and with -d its data in base64), in the
order Java's HashSet yields the children, the sessions with their ephemeral counts, and the last
zxid; or with -json the ncdu export of the tree. Times print in UTC, or in the fixed offset of TZ
(such as TZ=EST5).

Unlike Apache's tool it verifies the snapshot's checksums: the dump is printed, then a bad
checksum is reported on stderr and the exit status is 1. Files over 64 MiB report progress on
stderr (ZK_PROGRESS_MIN_BYTES sets the threshold). Compressed snapshots (.gz, .snappy) are not
read.

Exit status: 0 printed, 1 the snapshot is unreadable or damaged, 2 bad invocation.";

fn usage() -> ExitCode {
    eprintln!("USAGE: SnapshotFormatter [-d|-json] snapshot_file");
    eprintln!("       -d dump the data for each znode");
    eprintln!("       -json dump znode info in json format");
    eprintln!("run zk-snapshot-formatter --help for details");
    ExitCode::from(2)
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("{TOOL}: {message}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{HELP}");
        return ExitCode::SUCCESS;
    }
    // SnapshotFormatter.main: flags, then exactly one file name.
    let (mut dump_data, mut dump_json) = (false, false);
    let mut file = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-d" => dump_data = true,
            "-json" => dump_json = true,
            other => {
                file = Some(other.to_owned());
                i += 1;
                break;
            }
        }
        i += 1;
    }
    let Some(file) = file.filter(|_| i == args.len()) else {
        return usage();
    };
    let path = std::path::absolute(&file).unwrap_or_else(|_| PathBuf::from(&file));
    match std::fs::metadata(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            eprintln!(
                "{TOOL}: file {} does not exist; pass the path of a snapshot.<zxid> file",
                path.display()
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!(
                "{TOOL}: cannot read {}: {e}; check its permissions",
                path.display()
            );
            return ExitCode::from(2);
        }
        Ok(m) if m.is_dir() => {
            eprintln!(
                "{TOOL}: {} is a directory; pass one of the snapshot.<zxid> files in its version-2 directory",
                path.display()
            );
            return ExitCode::from(2);
        }
        Ok(_) => {}
    }
    if dump_data && dump_json {
        eprintln!(
            "{TOOL}: cannot specify both data dump (-d) and json mode (-json) in the same call; pick one"
        );
        return ExitCode::from(2);
    }
    run(&path, dump_data, dump_json)
}

/// How much of a node's data is kept: its bytes with -d, else only its length.
#[derive(Debug, Clone)]
enum Data {
    Null,
    Len(usize),
    Bytes(Arc<[u8]>),
}

impl Data {
    fn len(&self) -> usize {
        match self {
            Data::Null => 0,
            Data::Len(n) => *n,
            Data::Bytes(b) => b.len(),
        }
    }
}

#[derive(Debug)]
struct Node {
    /// The last path component (the whole path for a root-like path without a slash).
    name: Box<str>,
    stat: StatPersisted,
    data: Data,
    /// The children in the order they were added, each once (`DataNode.addChild`), as the index
    /// of the node first added under that name.
    children: Vec<u32>,
}

/// The DataTree SnapshotFormatter deserializes: nodes by path (the map Java keeps), children in
/// insertion order, sessions in file order.
#[derive(Debug)]
struct Tree {
    nodes: Vec<Node>,
    by_path: HashMap<Box<str>, u32>,
    root: Option<u32>,
    sessions: Vec<(i64, i32)>,
    keep_data: bool,
    /// Bytes of the file the records read so far take (for progress).
    consumed: u64,
    /// The offset just past the last node, where the closing "/" starts.
    nodes_end: u64,
    progress: Progress,
    file_len: u64,
}

impl SnapshotSink for Tree {
    fn session(&mut self, id: SessionId, timeout_ms: i32) {
        self.sessions.push((id.0, timeout_ms));
        self.consumed += 12;
        self.nodes_end = self.consumed + 4;
    }

    fn acl(&mut self, _index: i64, acls: Vec<Acl>) {
        self.consumed += 12
            + acls
                .iter()
                .map(|a| 12 + a.id.scheme.len() as u64 + a.id.id.len() as u64)
                .sum::<u64>();
        self.nodes_end = self.consumed;
    }

    fn node(&mut self, node: SnapshotNode) -> Result<(), String> {
        self.consumed += 4
            + node.path.len() as u64
            + 4
            + node.data.as_ref().map_or(0, |d| d.len() as u64)
            + 8
            + 60;
        self.nodes_end = self.consumed;
        let (consumed, len) = (self.consumed, self.file_len);
        self.progress.tick(|| {
            format!(
                "read {} of {} ({}%)",
                mib(consumed),
                mib(len),
                consumed * 100 / len.max(1)
            )
        });
        let data = match node.data {
            None => Data::Null,
            Some(d) if self.keep_data => Data::Bytes(d),
            Some(d) => Data::Len(d.len()),
        };
        let index = self.nodes.len() as u32;
        let path: Box<str> = node.path.into();
        // DataTree.deserialize: a path without a slash is the root; any other needs its parent.
        let name: Box<str> = match path.rfind('/') {
            None => {
                self.root = Some(index);
                path.clone()
            }
            Some(slash) => {
                let parent_path = &path[..slash];
                let Some(&parent) = self.by_path.get(parent_path) else {
                    return Err(format!(
                        "invalid datatree: unable to find parent {parent_path} of path {path}"
                    ));
                };
                let name: Box<str> = path[slash + 1..].into();
                let siblings = &self.nodes[parent as usize].children;
                let present = siblings
                    .iter()
                    .any(|&c| *self.nodes[c as usize].name == *name);
                if !present {
                    self.nodes[parent as usize].children.push(index);
                }
                name
            }
        };
        self.nodes.push(Node {
            name,
            stat: node.stat,
            data,
            children: Vec::new(),
        });
        self.by_path.insert(path, index);
        Ok(())
    }

    fn digest(&mut self, _digest: ZxidDigest) {}

    fn reset(&mut self) {}
}

impl Tree {
    /// The node a path names now (the last one read under that path, as Java's map keeps).
    fn get(&self, path: &str) -> Option<u32> {
        if path == "/" {
            return self.root;
        }
        self.by_path.get(path).copied()
    }

    /// The children names of `index` in `HashSet<String>(8)` iteration order.
    fn children(&self, index: u32) -> Vec<&str> {
        let node = &self.nodes[index as usize];
        let mut set = JavaHashOrder::with_capacity(8);
        for &c in &node.children {
            set.insert(&*self.nodes[c as usize].name);
        }
        set.order()
    }

    /// `name + (name.equals("/") ? "" : "/") + child`.
    fn child_path(parent: &str, child: &str) -> String {
        if parent == "/" {
            format!("/{child}")
        } else {
            format!("{parent}/{child}")
        }
    }

    /// `DataTree.setupQuota`: the stat node of every quota gets the count and bytes of its
    /// subtree, as 3.8 computes them when it loads a snapshot.
    fn setup_quota(&mut self) {
        const QUOTA_ROOT: &str = "/zookeeper/quota";
        const LIMITS: &str = "/zookeeper_limits";
        if self.get(QUOTA_ROOT).is_none() {
            return;
        }
        let mut stack = vec![QUOTA_ROOT.to_owned()];
        while let Some(path) = stack.pop() {
            let Some(index) = self.get(&path) else {
                continue;
            };
            let children: Vec<String> = self
                .children(index)
                .into_iter()
                .map(str::to_owned)
                .collect();
            if children.is_empty() {
                if path.ends_with(LIMITS) {
                    let end = path.find(LIMITS).unwrap_or(path.len());
                    let real = path[QUOTA_ROOT.len()..end].to_owned();
                    self.update_quota(&real);
                }
                continue;
            }
            for child in children.iter().rev() {
                stack.push(format!("{path}/{child}"));
            }
        }
    }

    fn update_quota(&mut self, real: &str) {
        let (mut count, mut bytes) = (0i64, 0i64);
        let mut stack = vec![real.to_owned()];
        while let Some(path) = stack.pop() {
            let Some(index) = self.by_path.get(path.as_str()).copied() else {
                continue;
            };
            count += 1;
            bytes += self.nodes[index as usize].data.len() as i64;
            for child in self.children(index) {
                stack.push(format!("{path}/{child}"));
            }
        }
        let stat_path = format!("/zookeeper/quota{real}/zookeeper_stats");
        if let Some(index) = self.by_path.get(stat_path.as_str()).copied() {
            self.nodes[index as usize].data = Data::Bytes(Arc::from(
                format!("count={count},bytes={bytes}").into_bytes(),
            ));
        }
    }

    /// Ephemerals of `session` as `DataTree.getEphemerals(sid).size()` counts them.
    fn ephemeral_counts(&self) -> HashMap<i64, usize> {
        let mut counts = HashMap::new();
        for (path, &index) in &self.by_path {
            if path.contains('/') {
                let owner = self.nodes[index as usize].stat.ephemeral_owner;
                // EphemeralType.get without extended types: 0 is no owner, the container marker
                // is a container; anything else is a session.
                if owner != 0 && owner != i64::MIN {
                    *counts.entry(owner).or_default() += 1;
                }
            }
        }
        counts
    }
}

fn run(path: &Path, dump_data: bool, dump_json: bool) -> ExitCode {
    let file_len = std::fs::metadata(path).map_or(0, |m| m.len());
    let mut tree = Tree {
        nodes: Vec::new(),
        by_path: HashMap::new(),
        root: None,
        sessions: Vec::new(),
        keep_data: dump_data,
        consumed: 24,
        nodes_end: 24,
        progress: Progress::for_file(TOOL, file_len),
        file_len,
    };
    let read = FileSnap::read_file(path, &mut tree);
    // The Java tool reads only up to the closing "/" and checks no checksum: print whenever every
    // node was read, and report damage after the checksums afterwards.
    let damage = match read {
        Ok(_) => None,
        Err(e @ Error::Rejected { .. }) => return fail(e),
        Err(e) if nodes_complete(&e, path, tree.nodes_end) => Some(e),
        Err(e) => {
            return fail(format!(
                "{e}; the file is not a complete snapshot: check the path, or run zk-datadir-check on its data directory"
            ));
        }
    };
    let Some(_) = tree.root else {
        return fail(format!(
            "snapshot {} has no root node; it is damaged, use an older snapshot",
            path.display()
        ));
    };
    tree.progress.done(&format!(
        "read {} nodes and {} sessions",
        tree.nodes.len(),
        tree.sessions.len()
    ));
    tree.setup_quota();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file_zxid = zxid_from_name(&name);
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let printed = if dump_json {
        print_json(&mut tree, &mut out)
    } else {
        print_details(&mut tree, &mut out, dump_data, file_zxid)
    };
    if let Err(e) = printed.and_then(|()| out.flush()) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            return ExitCode::FAILURE;
        }
        return fail(format!("cannot write the output: {e}"));
    }
    match damage {
        None => ExitCode::SUCCESS,
        Some(e) => fail(format!(
            "{e}; the dump above may hold damaged data: servers skip this snapshot and load an older one, run zk-datadir-check on the data directory"
        )),
    }
}

/// Whether reading failed only after the closing "/" of the nodes (at `nodes_end`): in a checksum,
/// the digest section or a seal, which SnapshotFormatter never reads.
fn nodes_complete(e: &Error, path: &Path, nodes_end: u64) -> bool {
    use std::os::unix::fs::FileExt;
    let Error::CorruptSnapshot { reason, .. } = e else {
        return false;
    };
    if reason.starts_with("checksum mismatch") {
        return true;
    }
    let mut closing = [0u8; 5];
    std::fs::File::open(path)
        .and_then(|f| f.read_exact_at(&mut closing, nodes_end))
        .is_ok_and(|()| closing == [0, 0, 0, 1, b'/'])
}

/// `Util.getZxidFromName(name, "snapshot")`: -1 when the name carries no zxid.
fn zxid_from_name(name: &str) -> i64 {
    let mut parts = name.split('.');
    if parts.next() != Some("snapshot") {
        return -1;
    }
    parts
        .next()
        .and_then(|hex| i64::from_str_radix(hex, 16).ok())
        .unwrap_or(-1)
}

fn print_details(
    tree: &mut Tree,
    out: &mut impl Write,
    dump_data: bool,
    file_zxid: i64,
) -> io::Result<()> {
    let zone = Zone::from_env();
    writeln!(out, "ZNode Details (count={}):", tree.by_path.len() + 1)?;
    let total = tree.nodes.len();
    let mut printed = 0usize;
    let mut max_zxid = i64::MIN;
    let mut stack = vec!["/".to_owned()];
    while let Some(path) = stack.pop() {
        let Some(index) = tree.get(&path) else {
            continue;
        };
        let node = &tree.nodes[index as usize];
        let s = &node.stat;
        writeln!(out, "----")?;
        writeln!(out, "{path}")?;
        writeln!(out, "  cZxid = {:#016x}", s.czxid.0)?;
        writeln!(out, "  ctime = {}", java::date_to_string(s.ctime, &zone))?;
        writeln!(out, "  mZxid = {:#016x}", s.mzxid.0)?;
        writeln!(out, "  mtime = {}", java::date_to_string(s.mtime, &zone))?;
        writeln!(out, "  pZxid = {:#016x}", s.pzxid.0)?;
        writeln!(out, "  cversion = {}", s.cversion)?;
        writeln!(out, "  dataVersion = {}", s.version)?;
        writeln!(out, "  aclVersion = {}", s.aversion)?;
        writeln!(out, "  ephemeralOwner = {:#016x}", s.ephemeral_owner)?;
        max_zxid = max_zxid.max(s.mzxid.0).max(s.pzxid.0);
        if dump_data {
            match &node.data {
                Data::Bytes(b) => writeln!(out, "  data = {}", base64(b))?,
                _ => writeln!(out, "  data = ")?,
            }
        } else {
            writeln!(out, "  dataLength = {}", node.data.len())?;
        }
        let children = tree.children(index);
        for child in children.iter().rev() {
            stack.push(Tree::child_path(&path, child));
        }
        printed += 1;
        tree.progress
            .tick(|| format!("printed {printed} of {total} nodes"));
    }
    writeln!(out, "----")?;
    writeln!(out, "Session Details (sid, timeout, ephemeralCount):")?;
    let ephemerals = tree.ephemeral_counts();
    let mut sessions = JavaHashOrder::new();
    let mut timeouts = HashMap::new();
    for (id, timeout) in &tree.sessions {
        sessions.insert(id);
        timeouts.insert(*id, *timeout);
    }
    for id in sessions.order() {
        writeln!(
            out,
            "{:#016x}, {}, {}",
            id,
            timeouts[id],
            ephemerals.get(id).copied().unwrap_or(0)
        )?;
    }
    writeln!(out, "----")?;
    writeln!(out, "Last zxid: 0x{:x}", file_zxid.max(max_zxid))?;
    tree.progress.done(&format!("printed {printed} nodes"));
    Ok(())
}

fn print_json(tree: &mut Tree, out: &mut impl Write) -> io::Result<()> {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    write!(
        out,
        "[1,0,{{\"progname\":\"SnapshotFormatter.java\",\"progver\":\"0.01\",\"timestamp\":{millis}}}"
    )?;
    // Java recurses: "[" + node, children, "]" for a node with children. `None` closes one.
    let mut ino = 1000u64;
    let mut stack: Vec<Option<String>> = vec![Some("/".to_owned())];
    let mut printed = 0usize;
    let total = tree.nodes.len();
    while let Some(item) = stack.pop() {
        let Some(path) = item else {
            write!(out, "]")?;
            continue;
        };
        let Some(index) = tree.get(&path) else {
            eprintln!("DataTree Node for {path} doesn't exist");
            continue;
        };
        let name = if path == "/" {
            "/"
        } else {
            &path[path.rfind('/').map_or(0, |i| i + 1)..]
        };
        let len = tree.nodes[index as usize].data.len();
        ino += 1;
        let node = format!(
            "{{\"name\":\"{}\",\"asize\":{len},\"dsize\":{len},\"dev\":0,\"ino\":{ino}}}",
            json_escape(name)
        );
        write!(out, ",")?;
        let children = tree.children(index);
        if children.is_empty() {
            write!(out, "{node}")?;
        } else {
            write!(out, "[{node}")?;
            stack.push(None);
            for child in children.iter().rev() {
                stack.push(Some(Tree::child_path(&path, child)));
            }
        }
        printed += 1;
        tree.progress
            .tick(|| format!("printed {printed} of {total} nodes"));
    }
    write!(out, "]")?;
    tree.progress.done(&format!("printed {printed} nodes"));
    Ok(())
}

/// json-simple's `JSONValue.escape` (per UTF-16 unit; supplementary characters pass unchanged).
fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '/' => out.push_str("\\/"),
            '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{2000}'..='\u{20ff}' => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            _ => out.push(c),
        }
    }
    out
}

/// `java.util.Base64.getEncoder().encodeToString`.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_javas() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"application v2"), "YXBwbGljYXRpb24gdjI=");
    }

    #[test]
    fn json_escapes_as_json_simple() {
        assert_eq!(json_escape("/"), "\\/");
        assert_eq!(json_escape("a\"b\\c\td"), "a\\\"b\\\\c\\td");
        assert_eq!(
            json_escape("\u{1}\u{7f}\u{2028}é中"),
            "\\u0001\\u007F\\u2028é中"
        );
    }

    #[test]
    fn snapshot_names_carry_the_zxid() {
        assert_eq!(zxid_from_name("snapshot.1f"), 0x1f);
        assert_eq!(zxid_from_name("snapshot.1f.gz"), 0x1f);
        assert_eq!(zxid_from_name("backup.bin"), -1);
        assert_eq!(zxid_from_name("snapshot.zz"), -1);
    }
}
