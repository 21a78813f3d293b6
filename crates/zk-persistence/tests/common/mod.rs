//! Helpers shared by the integration tests: the Apache-written test data, Apache's tools, the tree
//! digest of 3.8, and parsers for what SnapshotFormatter, TxnLogToolkit and MakeData.java print.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use zk_persistence::SnapshotNode;

pub const APACHE_JAR: &str = "/usr/share/java/zookeeper.jar";
pub const SLF4J_SIMPLE: &str = "/usr/share/java/slf4j-simple.jar";

/// `tests/apache/datadir`, written by Apache ZooKeeper 3.8 (see make-datadir.sh).
pub fn apache_datadir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apache/datadir")
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The classpath to run Apache ZooKeeper 3.8's classes; panics, saying what to install, when Java
/// or the jars are missing (these tests must not pass silently without them).
pub fn java_classpath() -> String {
    let java = Command::new("java").arg("-version").output();
    assert!(
        java.is_ok_and(|o| o.status.success()),
        "java is not installed: the Apache interop tests need it; run `apt-get install -y zookeeper` (or `cargo xtask test`, which installs it)"
    );
    for jar in [APACHE_JAR, SLF4J_SIMPLE] {
        assert!(
            Path::new(jar).exists(),
            "{jar} is missing: the Apache interop tests need Debian's zookeeper package; run `apt-get install -y zookeeper` (or `cargo xtask test`)"
        );
    }
    format!("{APACHE_JAR}:{SLF4J_SIMPLE}")
}

/// Runs an Apache tool class and returns its standard output.
pub fn run_java_tool(class: &str, args: &[&Path]) -> String {
    let output = Command::new("java")
        .arg("-cp")
        .arg(java_classpath())
        .arg(class)
        .args(args)
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .output()
        .expect("run java");
    assert!(
        output.status.success(),
        "{class} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The 3.8 tree digest (`DigestCalculator`, version 2) of a list of nodes.
pub fn tree_digest(nodes: &[SnapshotNode]) -> i64 {
    nodes
        .iter()
        .fold(0i64, |sum, n| sum.wrapping_add(node_digest(n)))
}

pub fn node_digest(n: &SnapshotNode) -> i64 {
    if n.path.starts_with("/zookeeper/") {
        return 0;
    }
    let s = &n.stat;
    let mut blob = Vec::with_capacity(60);
    for v in [s.czxid.0, s.mzxid.0, s.pzxid.0, s.ctime, s.mtime] {
        blob.extend_from_slice(&v.to_be_bytes());
    }
    for v in [s.version, s.cversion, s.aversion] {
        blob.extend_from_slice(&v.to_be_bytes());
    }
    blob.extend_from_slice(&s.ephemeral_owner.to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(n.path.as_bytes());
    if let Some(data) = &n.data {
        crc.update(data);
    }
    crc.update(&blob);
    i64::from(crc.finalize())
}

pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A node as SnapshotFormatter -d prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatterNode {
    pub czxid: i64,
    pub mzxid: i64,
    pub pzxid: i64,
    pub cversion: i32,
    pub version: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    /// Base64 of the data, empty for null and empty data alike.
    pub data: String,
}

/// What SnapshotFormatter -d prints: nodes by path ("/" for the root) and sessions
/// (id, timeout, ephemeral count).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FormatterDump {
    pub node_count: usize,
    pub nodes: BTreeMap<String, FormatterNode>,
    pub sessions: BTreeMap<i64, (i32, usize)>,
}

fn hex(s: &str) -> i64 {
    u64::from_str_radix(s.trim().trim_start_matches("0x"), 16).unwrap() as i64
}

pub fn parse_formatter(text: &str) -> FormatterDump {
    let mut dump = FormatterDump::default();
    let mut lines = text.lines().peekable();
    let first = lines.next().unwrap();
    dump.node_count = first
        .trim_start_matches("ZNode Details (count=")
        .trim_end_matches("):")
        .parse()
        .unwrap();
    let mut path: Option<String> = None;
    let mut node = FormatterNode {
        czxid: 0,
        mzxid: 0,
        pzxid: 0,
        cversion: 0,
        version: 0,
        aversion: 0,
        ephemeral_owner: 0,
        data: String::new(),
    };
    let mut in_sessions = false;
    for line in lines {
        if in_sessions {
            if line.starts_with("----") {
                break;
            }
            let parts: Vec<_> = line.split(", ").collect();
            dump.sessions.insert(
                hex(parts[0]),
                (parts[1].parse().unwrap(), parts[2].parse().unwrap()),
            );
            continue;
        }
        if line.starts_with("Session Details") {
            in_sessions = true;
            continue;
        }
        if line == "----" {
            continue;
        }
        if let Some(rest) = line.strip_prefix("  ") {
            let (key, value) = rest
                .split_once(" = ")
                .unwrap_or((rest.trim_end_matches(" ="), ""));
            match key {
                "cZxid" => node.czxid = hex(value),
                "mZxid" => node.mzxid = hex(value),
                "pZxid" => node.pzxid = hex(value),
                "cversion" => node.cversion = value.parse().unwrap(),
                "dataVersion" => node.version = value.parse().unwrap(),
                "aclVersion" => node.aversion = value.parse().unwrap(),
                "ephemeralOwner" => node.ephemeral_owner = hex(value),
                "data" => {
                    node.data = value.to_owned();
                    dump.nodes.insert(path.take().unwrap(), node.clone());
                }
                _ => {}
            }
        } else {
            path = Some(line.to_owned());
        }
    }
    dump
}

/// A node as MakeData.java's client dump prints it (tree.txt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientNode {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
    pub pzxid: i64,
    /// `null` or `x` followed by hex.
    pub data: String,
    /// `perms:scheme:id;` per entry.
    pub acl: String,
}

pub fn parse_tree(text: &str) -> BTreeMap<String, ClientNode> {
    text.lines()
        .map(|line| {
            let f: Vec<_> = line.split('\t').collect();
            let n = |i: usize| f[i].parse::<i64>().unwrap();
            (
                f[0].to_owned(),
                ClientNode {
                    czxid: n(1),
                    mzxid: n(2),
                    ctime: n(3),
                    mtime: n(4),
                    version: n(5) as i32,
                    cversion: n(6) as i32,
                    aversion: n(7) as i32,
                    ephemeral_owner: n(8),
                    data_length: n(9) as i32,
                    num_children: n(10) as i32,
                    pzxid: n(11),
                    data: f[12].to_owned(),
                    acl: f[13].to_owned(),
                },
            )
        })
        .collect()
}

/// `(session, cxid, zxid, type name)` of every txn TxnLogToolkit prints, and its closing count.
pub fn parse_toolkit(text: &str) -> (Vec<(i64, i64, i64, String)>, usize) {
    let mut txns = Vec::new();
    let mut count = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("EOF reached after ") {
            count = Some(rest.trim_end_matches(" txns.").parse().unwrap());
            continue;
        }
        let Some(at) = line.find(" session 0x") else {
            continue;
        };
        let words: Vec<_> = line[at..].split_whitespace().collect();
        // session 0x.. cxid 0x.. zxid 0x.. type ...
        txns.push((
            hex(words[1]),
            hex(words[3]),
            hex(words[5]),
            words[6].to_owned(),
        ));
    }
    (txns, count.expect("TxnLogToolkit prints a count"))
}

/// `Request.op2String` for the txn types found in logs.
pub fn op_name(ty: i32) -> &'static str {
    match ty {
        1 => "create",
        2 => "delete",
        5 => "setData",
        7 => "setACL",
        14 => "multi",
        15 => "create2",
        16 => "reconfig",
        19 => "createContainer",
        20 => "deleteContainer",
        21 => "createTtl",
        -1 => "error",
        -10 => "createSession",
        -11 => "closeSession",
        _ => "unknown",
    }
}
