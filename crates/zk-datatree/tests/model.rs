//! Model-based test: random sequences of writes, reads and watch registrations go to the real
//! tree (through prep + apply) and to a plain map model written from ZooKeeper's rules; every
//! result, stat, data, children list and fired event must agree, and the incrementally kept
//! digest must equal one recomputed from the model.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use common::Harness;
use proptest::prelude::*;
use zk_datatree::{WatcherId, WriteRequest, node_digest};
use zk_jute::multi::{MultiOp, MultiRequest};
use zk_jute::proto::{CreateRequest, DeleteRequest, SetDataRequest};
use zk_jute::{Acl, AddWatchMode, ErrorCode, EventType, OpCode, Stat, StatPersisted, Zxid};

/// Watcher 1 only sets one-shot watches, watcher 2 only persistent ones (mixing both kinds on
/// one path is the 3.8 mode-override quirk, covered by unit tests).
const ONE_SHOT: u64 = 1;
const PERSISTENT: u64 = 2;

#[derive(Debug, Clone)]
enum Op {
    Create {
        session: i64,
        path: String,
        flags: i32,
        data: Option<Vec<u8>>,
    },
    Delete {
        path: String,
        version: i32,
    },
    SetData {
        path: String,
        data: Vec<u8>,
        version: i32,
    },
    Multi(Vec<Op>),
    CloseSession(i64),
    GetData(String),
    Exists(String),
    GetChildren(String),
    AddWatch {
        path: String,
        recursive: bool,
    },
}

fn path_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 1..=3)
        .prop_map(|parts| format!("/{}", parts.join("/")))
}

fn write_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1i64..=2, path_strategy(), prop::sample::select(vec![0, 1, 2, 3, 4]),
              prop::option::of(prop::collection::vec(any::<u8>(), 0..4)))
            .prop_map(|(session, path, flags, data)| Op::Create { session, path, flags, data }),
        2 => (prop_oneof![path_strategy(), Just("/zookeeper".to_owned())], -1i32..2)
            .prop_map(|(path, version)| Op::Delete { path, version }),
        2 => (path_strategy(), prop::collection::vec(any::<u8>(), 0..4), -1i32..2)
            .prop_map(|(path, data, version)| Op::SetData { path, data, version }),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => write_strategy(),
        // A multi runs in one session: every create in it belongs to the first create's session.
        1 => prop::collection::vec(write_strategy(), 1..4).prop_map(|ops| {
            let session = session_of(&Op::Multi(ops.clone()));
            Op::Multi(
                ops.into_iter()
                    .map(|op| match op {
                        Op::Create { path, flags, data, .. } => Op::Create { session, path, flags, data },
                        other => other,
                    })
                    .collect(),
            )
        }),
        1 => (1i64..=2).prop_map(Op::CloseSession),
        2 => path_strategy().prop_map(Op::GetData),
        2 => prop_oneof![path_strategy(), Just("/".to_owned())].prop_map(Op::Exists),
        2 => prop_oneof![path_strategy(), Just("/".to_owned())].prop_map(Op::GetChildren),
        1 => (prop_oneof![path_strategy(), Just("/".to_owned())], any::<bool>())
            .prop_map(|(path, recursive)| Op::AddWatch { path, recursive }),
    ]
}

#[derive(Debug, Clone)]
struct MNode {
    data: Option<Vec<u8>>,
    stat: StatPersisted,
}

#[derive(Debug, Clone, Default)]
struct Model {
    nodes: BTreeMap<String, MNode>,
    data_watches: BTreeSet<(u64, String)>,
    child_watches: BTreeSet<(u64, String)>,
    persistent: BTreeSet<String>,
    recursive: BTreeSet<String>,
}

fn parent_of(path: &str) -> String {
    match path.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => path[..i].into(),
        None => "/".into(),
    }
}

impl Model {
    fn new(tree: &zk_datatree::DataTree) -> Self {
        let mut m = Model::default();
        for n in tree.walk() {
            let path = if n.path.is_empty() { "/" } else { n.path };
            m.nodes.insert(
                path.to_owned(),
                MNode {
                    data: n.data.map(|d| d.to_vec()),
                    stat: n.stat.clone(),
                },
            );
        }
        m
    }

    fn children(&self, path: &str) -> Vec<String> {
        self.nodes
            .keys()
            .filter(|k| k.as_str() != "/" && parent_of(k) == path)
            .map(|k| k.rsplit('/').next().unwrap().to_owned())
            .collect()
    }

    fn stat(&self, path: &str) -> Stat {
        let n = &self.nodes[path];
        let children = self.children(path).len() as i32;
        let s = &n.stat;
        Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion * 2 - children,
            aversion: s.aversion,
            ephemeral_owner: if s.ephemeral_owner == i64::MIN {
                0
            } else {
                s.ephemeral_owner
            },
            data_length: n.data.as_ref().map_or(0, Vec::len) as i32,
            num_children: children,
            pzxid: s.pzxid,
        }
    }

    fn digest(&self) -> i64 {
        self.nodes.iter().fold(0i64, |acc, (p, n)| {
            let p = if p == "/" { "" } else { p.as_str() };
            acc.wrapping_add(node_digest(p, n.data.as_deref(), &n.stat))
        })
    }

    /// The events of one trigger on the data registry (`data`) or the child registry.
    fn trigger(
        &mut self,
        data: bool,
        path: &str,
        kind: EventType,
        suppress: &[u64],
        out: &mut Vec<(u64, EventType, String)>,
    ) -> Vec<u64> {
        let mut matched = BTreeSet::new();
        let one_shot = if data {
            &mut self.data_watches
        } else {
            &mut self.child_watches
        };
        if one_shot.remove(&(ONE_SHOT, path.to_owned())) {
            matched.insert(ONE_SHOT);
        }
        if self.persistent.contains(path) {
            matched.insert(PERSISTENT);
        }
        if kind != EventType::NodeChildrenChanged {
            let mut p = path.to_owned();
            loop {
                if self.recursive.contains(&p) {
                    matched.insert(PERSISTENT);
                }
                if p == "/" {
                    break;
                }
                p = parent_of(&p);
            }
        }
        for w in &matched {
            if !suppress.contains(w) {
                out.push((*w, kind, path.to_owned()));
            }
        }
        matched.into_iter().collect()
    }

    /// Checks and applies one write at `zxid`; `Err` leaves the model as it was.
    fn write(
        &mut self,
        op: &Op,
        zxid: i64,
        time: i64,
        out: &mut Vec<(u64, EventType, String)>,
    ) -> Result<Option<String>, ErrorCode> {
        let z = Zxid(zxid);
        match op {
            Op::Create {
                session,
                path,
                flags,
                data,
            } => {
                let parent = parent_of(path);
                let pstat = self
                    .nodes
                    .get(&parent)
                    .ok_or(ErrorCode::NoNode)?
                    .stat
                    .clone();
                let path = if flags & 2 != 0 {
                    format!("{path}{:010}", pstat.cversion)
                } else {
                    path.clone()
                };
                if self.nodes.contains_key(&path) {
                    return Err(ErrorCode::NodeExists);
                }
                if pstat.ephemeral_owner != 0 && pstat.ephemeral_owner != i64::MIN {
                    return Err(ErrorCode::NoChildrenForEphemerals);
                }
                let owner = match flags {
                    1 | 3 => *session,
                    4 => i64::MIN,
                    _ => 0,
                };
                let p = self.nodes.get_mut(&parent).unwrap();
                p.stat.cversion += 1;
                p.stat.pzxid = z;
                self.nodes.insert(
                    path.clone(),
                    MNode {
                        data: data.clone(),
                        stat: StatPersisted {
                            czxid: z,
                            mzxid: z,
                            ctime: time,
                            mtime: time,
                            version: 0,
                            cversion: 0,
                            aversion: 0,
                            ephemeral_owner: owner,
                            pzxid: z,
                        },
                    },
                );
                self.trigger(true, &path, EventType::NodeCreated, &[], out);
                self.trigger(false, &parent, EventType::NodeChildrenChanged, &[], out);
                Ok(Some(path))
            }
            Op::Delete { path, version } => {
                if matches!(
                    path.as_str(),
                    "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
                ) {
                    return Err(ErrorCode::BadArguments);
                }
                let parent = parent_of(path);
                if !self.nodes.contains_key(&parent) {
                    return Err(ErrorCode::NoNode);
                }
                let n = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
                if *version != -1 && *version != n.stat.version {
                    return Err(ErrorCode::BadVersion);
                }
                if !self.children(path).is_empty() {
                    return Err(ErrorCode::NotEmpty);
                }
                self.remove(path, z, out);
                Ok(Some(path.clone()))
            }
            Op::SetData {
                path,
                data,
                version,
            } => {
                let n = self.nodes.get_mut(path).ok_or(ErrorCode::NoNode)?;
                if *version != -1 && *version != n.stat.version {
                    return Err(ErrorCode::BadVersion);
                }
                n.stat.version += 1;
                n.stat.mzxid = z;
                n.stat.mtime = time;
                n.data = Some(data.clone());
                self.trigger(true, path, EventType::NodeDataChanged, &[], out);
                Ok(Some(path.clone()))
            }
            Op::Multi(ops) => {
                let mut trial = self.clone();
                let mut events = Vec::new();
                for op in ops {
                    trial.write(op, zxid, time, &mut events)?;
                }
                *self = trial;
                out.extend(events);
                Ok(None)
            }
            Op::CloseSession(session) => {
                let mine: Vec<String> = self
                    .nodes
                    .iter()
                    .filter(|(_, n)| n.stat.ephemeral_owner == *session)
                    .map(|(p, _)| p.clone())
                    .collect();
                for p in mine {
                    self.remove(&p, z, out);
                }
                Ok(None)
            }
            _ => unreachable!("not a write"),
        }
    }

    fn remove(&mut self, path: &str, z: Zxid, out: &mut Vec<(u64, EventType, String)>) {
        let parent = parent_of(path);
        let p = self.nodes.get_mut(&parent).unwrap();
        if z > p.stat.pzxid {
            p.stat.pzxid = z;
        }
        self.nodes.remove(path);
        let matched = self.trigger(true, path, EventType::NodeDeleted, &[], out);
        self.trigger(false, path, EventType::NodeDeleted, &matched, out);
        self.trigger(false, &parent, EventType::NodeChildrenChanged, &[], out);
    }
}

fn request(op: &Op) -> WriteRequest {
    match op {
        Op::Create {
            path, flags, data, ..
        } => WriteRequest::Create {
            op: if *flags == 4 {
                OpCode::CreateContainer
            } else {
                OpCode::Create2
            },
            request: CreateRequest {
                path: path.clone(),
                data: data.clone().map(Bytes::from),
                acl: Acl::open_unsafe(),
                flags: *flags,
            },
        },
        Op::Delete { path, version } => WriteRequest::Delete(DeleteRequest {
            path: path.clone(),
            version: *version,
        }),
        Op::SetData {
            path,
            data,
            version,
        } => WriteRequest::SetData(SetDataRequest {
            path: path.clone(),
            data: Some(Bytes::from(data.clone())),
            version: *version,
        }),
        Op::Multi(ops) => WriteRequest::Multi(MultiRequest {
            ops: ops
                .iter()
                .map(|op| match request(op) {
                    WriteRequest::Create { op, request } => MultiOp::Create { op, request },
                    WriteRequest::Delete(r) => MultiOp::Delete(r),
                    WriteRequest::SetData(r) => MultiOp::SetData(r),
                    other => unreachable!("{other:?}"),
                })
                .collect(),
        }),
        Op::CloseSession(_) => WriteRequest::CloseSession,
        _ => unreachable!("not a write"),
    }
}

fn session_of(op: &Op) -> i64 {
    match op {
        Op::Create { session, .. } | Op::CloseSession(session) => *session,
        Op::Multi(ops) => ops
            .iter()
            .find_map(|o| match o {
                Op::Create { session, .. } => Some(*session),
                _ => None,
            })
            .unwrap_or(1),
        _ => 1,
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut h = Harness::new();
    let mut model = Model::new(&h.tree);
    for op in &ops {
        match op {
            Op::GetData(path) | Op::Exists(path) | Op::GetChildren(path) => {
                let w = Some(WatcherId(ONE_SHOT));
                let exists = model.nodes.contains_key(path);
                match op {
                    Op::GetData(_) => {
                        let got = h.tree.get_data(path, &[], w);
                        if exists {
                            model.data_watches.insert((ONE_SHOT, path.clone()));
                            let (data, stat) = got.unwrap();
                            prop_assert_eq!(
                                data.map(|d| d.to_vec()),
                                model.nodes[path].data.clone()
                            );
                            prop_assert_eq!(stat, model.stat(path));
                        } else {
                            prop_assert_eq!(got.unwrap_err(), ErrorCode::NoNode);
                        }
                    }
                    Op::Exists(_) => {
                        model.data_watches.insert((ONE_SHOT, path.clone()));
                        let got = h.tree.exists(path, w);
                        prop_assert_eq!(got.ok(), exists.then(|| model.stat(path)));
                    }
                    _ => {
                        let got = h.tree.get_children(path, &[], w);
                        if exists {
                            model.child_watches.insert((ONE_SHOT, path.clone()));
                            let (mut children, stat) = got.unwrap();
                            children.sort();
                            prop_assert_eq!(children, model.children(path));
                            prop_assert_eq!(stat, model.stat(path));
                        } else {
                            prop_assert_eq!(got.unwrap_err(), ErrorCode::NoNode);
                        }
                    }
                }
            }
            Op::AddWatch { path, recursive } => {
                if *recursive {
                    h.tree.add_watch(
                        path,
                        AddWatchMode::PersistentRecursive,
                        WatcherId(PERSISTENT),
                    );
                    model.recursive.insert(path.clone());
                    model.persistent.remove(path);
                } else {
                    h.tree
                        .add_watch(path, AddWatchMode::Persistent, WatcherId(PERSISTENT));
                    model.persistent.insert(path.clone());
                    model.recursive.remove(path);
                }
            }
            write => {
                let out = h.write(session_of(write), &[], request(write));
                let mut expected_events = Vec::new();
                let expected = model.write(write, h.zxid, h.time, &mut expected_events);
                let result = &out.applied.result;
                match (&expected, write) {
                    (Err(code), Op::Multi(_)) => {
                        prop_assert_eq!(result.err, code.code(), "multi {:?}", write);
                        prop_assert_eq!(out.prepared.error, Some(*code));
                    }
                    (Err(code), _) => {
                        prop_assert_eq!(out.prepared.error, Some(*code), "{:?}", write)
                    }
                    (Ok(path), _) => {
                        prop_assert_eq!(result.err, 0, "{:?}", write);
                        if let (Some(path), Op::Create { .. }) = (path, write) {
                            prop_assert_eq!(result.path.as_ref(), Some(path));
                            prop_assert_eq!(result.stat.clone(), Some(model.stat(path)));
                        }
                        if let (Some(path), Op::SetData { .. }) = (path, write) {
                            prop_assert_eq!(result.stat.clone(), Some(model.stat(path)));
                        }
                    }
                }
                let mut got_events: Vec<(u64, EventType, String)> = out
                    .applied
                    .events
                    .iter()
                    .map(|n| (n.watcher.0, n.event_type().unwrap(), n.event.path.clone()))
                    .collect();
                if matches!(write, Op::CloseSession(_)) {
                    // Deletions follow the txn's sorted list; compare as sets per close.
                    got_events.sort();
                    expected_events.sort();
                }
                prop_assert_eq!(got_events, expected_events, "events of {:?}", write);
            }
        }
        prop_assert_eq!(h.tree.digest(), model.digest());
        prop_assert_eq!(h.tree.node_count(), model.nodes.len());
    }
    for path in model.nodes.keys() {
        prop_assert_eq!(h.tree.stat(path), Some(model.stat(path)), "{}", path);
        let mut children = h.tree.children(path).unwrap();
        children.sort();
        prop_assert_eq!(children, model.children(path));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn tree_agrees_with_model(ops in prop::collection::vec(op_strategy(), 1..80)) {
        run(ops)?;
    }
}
