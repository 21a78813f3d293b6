//! Differential test against the real Apache ZooKeeper 3.8.0.
//!
//! `differential/apache-3.8.0.jsonl` was recorded by `differential/record.sh`: a standalone 3.8.0
//! server, three Java clients running `Record.java`'s script (every node kind, multi success and
//! failure, ACL denials, watches of every kind, session close), each request with its result and
//! the events each client received, then the txn log the server wrote. This test replays the same
//! requests through `prep` and `apply`, taking zxid, time, session and cxid from that log, and
//! requires byte-identical txns, equal txn digests, equal results and stats, and equal events.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use serde_json::Value;
use zk_datatree::{
    DataTree, PendingChanges, PrepConfig, RequestContext, SessionCheck, TreeConfig, WatcherId,
    WriteRequest, digest_auth_ids, prep,
};
use zk_jute::multi::{MultiOp, MultiRequest, MultiResult};
use zk_jute::proto::{
    CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, SetAclRequest,
    SetDataRequest,
};
use zk_jute::txn::{CloseSessionTxn, TxnBody};
use zk_jute::{
    Acl, AddWatchMode, ErrorCode, Id, OpCode, Record, SessionId, Stat, WatcherType, Zxid,
};

const RECORDING: &str = include_str!("differential/apache-3.8.0.jsonl");

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn data(v: &Value) -> Option<Bytes> {
    v.as_str().map(|s| Bytes::from(unhex(s)))
}

fn str_of(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap().to_owned()
}

fn int(v: &Value, key: &str) -> i64 {
    v[key].as_i64().unwrap_or_else(|| panic!("{key} in {v}"))
}

fn acls(v: &Value) -> Vec<Acl> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| Acl {
            perms: a[0].as_i64().unwrap() as i32,
            id: Id::new(a[1].as_str().unwrap(), a[2].as_str().unwrap()),
        })
        .collect()
}

fn acl_json(acl: &[Acl]) -> Value {
    Value::Array(
        acl.iter()
            .map(|a| serde_json::json!([a.perms, a.id.scheme, a.id.id]))
            .collect(),
    )
}

fn stat_json(s: &Stat) -> Value {
    serde_json::json!([
        s.czxid.0,
        s.mzxid.0,
        s.ctime,
        s.mtime,
        s.version,
        s.cversion,
        s.aversion,
        s.ephemeral_owner,
        s.data_length,
        s.num_children,
        s.pzxid.0
    ])
}

fn data_json(d: Option<&[u8]>) -> Value {
    d.map_or(Value::Null, |d| Value::String(hex(d)))
}

struct Client {
    session: i64,
    auth: Vec<Id>,
}

struct Replay {
    tree: DataTree,
    pending: PendingChanges,
    config: PrepConfig,
    txns: VecDeque<Value>,
    clients: Vec<Client>,
}

impl Replay {
    fn new(txns: VecDeque<Value>) -> Self {
        Replay {
            tree: DataTree::new(TreeConfig {
                extended_types_enabled: true,
                ..TreeConfig::default()
            }),
            pending: PendingChanges::new(),
            config: PrepConfig {
                extended_types_enabled: true,
                ..PrepConfig::default()
            },
            txns,
            clients: Vec::new(),
        }
    }

    /// Preps `request` with the header of the next logged txn, checks the txn is the one Apache
    /// logged, applies it and returns the result and the events as JSON.
    fn write(&mut self, step: &Value, client: usize, request: WriteRequest) -> (Value, Value) {
        let logged = self.txns.pop_front().expect("a logged txn for every write");
        let session = self.clients[client].session;
        assert_eq!(int(&logged, "session"), session, "session of {step}");
        let ctx = RequestContext {
            session_id: SessionId(session),
            cxid: int(&logged, "cxid") as i32,
            zxid: Zxid(int(&logged, "zxid")),
            time_ms: int(&logged, "time"),
            auth: &self.clients[client].auth,
            session: SessionCheck::VALID,
        };
        let prepared = prep(&self.tree, &mut self.pending, &self.config, &ctx, &request);
        let entry = &prepared.entry;
        let header = &entry.header;
        assert_eq!(
            i64::from(header.r#type),
            int(&logged, "type"),
            "txn type of {step}"
        );
        let mut body = BytesMut::new();
        entry.body.write(&mut body);
        let logged_body = logged["body"].as_str().unwrap_or_default();
        if let TxnBody::CloseSession(Some(close)) = &entry.body {
            // Java lists the paths in hash-set order.
            let mut ours = close.paths2_delete.clone();
            let mut theirs = CloseSessionTxn::from_bytes(&unhex(logged_body))
                .unwrap()
                .paths2_delete;
            ours.sort();
            theirs.sort();
            assert_eq!(ours, theirs, "closeSession paths of {step}");
        } else {
            assert_eq!(hex(&body), logged_body, "txn body of {step}");
        }
        assert_eq!(
            entry.digest.as_ref().map(|d| d.tree_digest),
            logged["digest"].as_i64(),
            "txn digest of {step}"
        );
        let applied = self.tree.apply(header, &entry.body);
        self.pending.applied(header.zxid);
        assert_eq!(
            Some(self.tree.digest()),
            logged["digest"].as_i64().or(Some(self.tree.digest())),
            "tree digest after {step}"
        );
        let r = &applied.result;
        let mut result = serde_json::Map::new();
        result.insert("err".into(), r.err.into());
        if r.err == 0 {
            if let Some(path) = &r.path {
                result.insert("path".into(), path.clone().into());
            }
            if let Some(stat) = &r.stat {
                result.insert("stat".into(), stat_json(stat));
            }
        }
        if r.multi.is_some() {
            let multi: Vec<Value> = r
                .multi_results()
                .iter()
                .map(|m| match m {
                    MultiResult::Create(c) => {
                        serde_json::json!({"type": 1, "path": c.path, "stat": null})
                    }
                    MultiResult::Create2(c) => {
                        serde_json::json!({"type": 15, "path": c.path, "stat": stat_json(&c.stat)})
                    }
                    MultiResult::Delete => serde_json::json!({"type": 2}),
                    MultiResult::SetData(s) => {
                        serde_json::json!({"type": 5, "stat": stat_json(&s.stat)})
                    }
                    MultiResult::Check => serde_json::json!({"type": 13}),
                    MultiResult::Error(e) => serde_json::json!({"type": -1, "err": e}),
                    other => panic!("unexpected {other:?}"),
                })
                .collect();
            result.insert("multi".into(), multi.into());
        }
        (Value::Object(result), self.events_json(&applied.events))
    }

    fn events_json(&self, events: &[zk_datatree::WatchNotification]) -> Value {
        let mut out = Vec::new();
        for client in 0..self.clients.len() {
            for n in events.iter().filter(|n| n.watcher.0 == client as u64) {
                out.push(serde_json::json!([client, n.event.r#type, n.event.path]));
            }
        }
        Value::Array(out)
    }
}

fn create_request(step: &Value) -> WriteRequest {
    let op = OpCode::try_from(int(step, "opcode") as i32).unwrap();
    let path = str_of(step, "path");
    let data = data(&step["data"]);
    let acl = acls(&step["acl"]);
    let flags = int(step, "flags") as i32;
    if op == OpCode::CreateTtl {
        WriteRequest::CreateTtl(CreateTtlRequest {
            path,
            data,
            acl,
            flags,
            ttl: int(step, "ttl"),
        })
    } else {
        WriteRequest::Create {
            op,
            request: CreateRequest {
                path,
                data,
                acl,
                flags,
            },
        }
    }
}

fn multi_op(op: &Value) -> MultiOp {
    let path = str_of(op, "path");
    match OpCode::try_from(int(op, "type") as i32).unwrap() {
        code @ (OpCode::Create | OpCode::Create2 | OpCode::CreateContainer) => MultiOp::Create {
            op: code,
            request: CreateRequest {
                path,
                data: data(&op["data"]),
                acl: acls(&op["acl"]),
                flags: int(op, "flags") as i32,
            },
        },
        OpCode::Delete => MultiOp::Delete(DeleteRequest {
            path,
            version: int(op, "version") as i32,
        }),
        OpCode::SetData => MultiOp::SetData(SetDataRequest {
            path,
            data: data(&op["data"]),
            version: int(op, "version") as i32,
        }),
        OpCode::Check => MultiOp::Check(CheckVersionRequest {
            path,
            version: int(op, "version") as i32,
        }),
        other => panic!("unexpected multi op {other:?}"),
    }
}

fn read_result(r: Result<serde_json::Map<String, Value>, ErrorCode>) -> Value {
    match r {
        Ok(mut fields) => {
            fields.insert("err".into(), 0.into());
            Value::Object(fields)
        }
        Err(code) => serde_json::json!({"err": code.code()}),
    }
}

fn fields(pairs: Vec<(&str, Value)>) -> serde_json::Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[test]
fn replaying_apache_recording_gives_identical_txns_results_and_events() {
    let lines: Vec<Value> = RECORDING
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (txns, steps): (Vec<Value>, Vec<Value>) =
        lines.into_iter().partition(|v| v.get("txn").is_some());
    let mut replay = Replay::new(txns.into());
    let mut compared = 0;
    for step in &steps {
        let op = str_of(step, "op");
        let client = int(step, "client") as usize;
        let watcher = WatcherId(client as u64);
        let (result, events) = match op.as_str() {
            "connect" => {
                let logged = replay.txns.front().cloned().expect("createSession txn");
                assert_eq!(
                    int(&logged, "type"),
                    i64::from(OpCode::CreateSession.code())
                );
                assert_eq!(int(&logged, "session"), int(step, "session"));
                let body =
                    TxnBody::read(-10, &mut &unhex(logged["body"].as_str().unwrap())[..]).unwrap();
                let TxnBody::CreateSession(t) = body else {
                    panic!("{body:?}")
                };
                replay.clients.push(Client {
                    session: int(step, "session"),
                    auth: vec![Id::new("ip", "127.0.0.1")],
                });
                replay.write(
                    step,
                    client,
                    WriteRequest::CreateSession {
                        timeout_ms: t.time_out,
                    },
                );
                continue;
            }
            "auth" => {
                let ids = digest_auth_ids(str_of(step, "auth").as_bytes(), None);
                replay.clients[client].auth.extend(ids);
                continue;
            }
            "close" => {
                let (_, events) = replay.write(step, client, WriteRequest::CloseSession);
                replay.tree.remove_watcher(watcher);
                // Java deletes the ephemerals in hash-set order, prep in sorted order: the same
                // events, possibly in another order.
                let sorted = |v: Value| {
                    let mut items = v.as_array().unwrap().clone();
                    items.sort_by_key(|e| e.to_string());
                    items
                };
                assert_eq!(
                    sorted(events),
                    sorted(server_events(&step["events"])),
                    "events of {step}"
                );
                compared += 1;
                continue;
            }
            "create" => replay.write(step, client, create_request(step)),
            "delete" => replay.write(
                step,
                client,
                WriteRequest::Delete(DeleteRequest {
                    path: str_of(step, "path"),
                    version: int(step, "version") as i32,
                }),
            ),
            "setData" => replay.write(
                step,
                client,
                WriteRequest::SetData(SetDataRequest {
                    path: str_of(step, "path"),
                    data: data(&step["data"]),
                    version: int(step, "version") as i32,
                }),
            ),
            "setACL" => replay.write(
                step,
                client,
                WriteRequest::SetAcl(SetAclRequest {
                    path: str_of(step, "path"),
                    acl: acls(&step["acl"]),
                    version: int(step, "version") as i32,
                }),
            ),
            "multi" => replay.write(
                step,
                client,
                WriteRequest::Multi(MultiRequest {
                    ops: step["ops"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(multi_op)
                        .collect(),
                }),
            ),
            read => {
                let path = str_of(step, "path");
                let watch = step["watch"].as_bool().unwrap_or(false).then_some(watcher);
                let auth = replay.clients[client].auth.clone();
                let tree = &mut replay.tree;
                let result = match read {
                    "getData" => read_result(tree.get_data(&path, &auth, watch).map(|(d, s)| {
                        fields(vec![
                            ("data", data_json(d.as_deref())),
                            ("stat", stat_json(&s)),
                        ])
                    })),
                    "exists" => read_result(
                        tree.exists(&path, watch)
                            .map(|s| fields(vec![("stat", stat_json(&s))])),
                    ),
                    "getChildren" => {
                        read_result(tree.get_children(&path, &auth, watch).map(|(mut c, s)| {
                            c.sort();
                            fields(vec![("children", c.into()), ("stat", stat_json(&s))])
                        }))
                    }
                    "getACL" => read_result(tree.get_acl(&path, &auth).map(|(a, s)| {
                        fields(vec![("acl", acl_json(&a)), ("stat", stat_json(&s))])
                    })),
                    "getAllChildrenNumber" => read_result(
                        tree.get_all_children_number(&path, &auth)
                            .map(|n| fields(vec![("number", n.into())])),
                    ),
                    "getEphemerals" => {
                        let session = SessionId(replay.clients[client].session);
                        let e = tree.get_ephemerals(session, &path);
                        read_result(Ok(fields(vec![("children", e.into())])))
                    }
                    "addWatch" => {
                        let mode = match int(step, "mode") {
                            0 => AddWatchMode::Persistent,
                            _ => AddWatchMode::PersistentRecursive,
                        };
                        tree.add_watch(&path, mode, watcher);
                        read_result(Ok(fields(vec![("done", true.into())])))
                    }
                    "removeWatches" => {
                        let ty = WatcherType::try_from(int(step, "type") as i32).unwrap();
                        read_result(
                            tree.remove_watches(&path, ty, watcher)
                                .map(|()| fields(vec![("done", true.into())])),
                        )
                    }
                    other => panic!("unknown op {other}"),
                };
                (result, Value::Array(Vec::new()))
            }
        };
        let expected = step["result"].clone();
        let got = shape_like_java_client(&op, step, result);
        assert_eq!(got, expected, "result of {step}");
        assert_eq!(events, server_events(&step["events"]), "events of {step}");
        compared += 1;
    }
    assert!(replay.txns.is_empty(), "unreplayed txns: {:?}", replay.txns);
    assert!(compared > 100, "only {compared} steps compared");
}

/// The recorded events without the *WatchRemoved ones (5, 6, 7), which the Java client makes up
/// itself when removeWatches succeeds; servers never send them.
fn server_events(recorded: &Value) -> Value {
    Value::Array(
        recorded
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| !matches!(e[1].as_i64(), Some(5..=7)))
            .cloned()
            .collect(),
    )
}

/// Keeps the fields the Java client's API returns for `op`: a path for create (with the stat
/// only for the create variants that return one), nothing for delete, the stat for
/// setData/setACL, the results for multi.
fn shape_like_java_client(op: &str, step: &Value, result: Value) -> Value {
    let Value::Object(mut m) = result else {
        return result;
    };
    let err = m["err"].clone();
    if err != 0 && !m.contains_key("multi") {
        return serde_json::json!({ "err": err });
    }
    match op {
        "create" if err == 0 && step["result"].get("stat").is_none() => {
            m.remove("stat");
        }
        "delete" if err == 0 => {
            m.remove("path");
            m.insert("done".into(), true.into());
        }
        "setData" | "setACL" => {
            m.remove("path");
        }
        "multi" => {
            m.remove("path");
            m.remove("stat");
        }
        _ => {}
    }
    Value::Object(m)
}
