//! Behaviour of prep + apply that ZooKeeper clients can observe: stats, error codes in check
//! order, sequential names, multi, sessions, ACLs, watches, quotas, digest and snapshots.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::Harness;
use zk_datatree::{
    DataTree, TreeBuilder, TreeConfig, TreeError, WatchMode, WatcherId, WriteRequest,
    generate_digest,
};
use zk_jute::multi::{MultiOp, MultiRequest, MultiResult};
use zk_jute::proto::{
    CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, SetAclRequest,
    SetDataRequest,
};
use zk_jute::txn::TxnBody;
use zk_jute::{
    Acl, AddWatchMode, ErrorCode, EventType, Id, OpCode, Perms, SessionId, WatcherType, Zxid,
};

const S1: i64 = 0x0100_0000_0000_0001;
const S2: i64 = 0x0100_0000_0000_0002;

fn events(out: &common::Outcome) -> Vec<(u64, EventType, String)> {
    out.applied
        .events
        .iter()
        .map(|n| (n.watcher.0, n.event_type().unwrap(), n.event.path.clone()))
        .collect()
}

#[test]
fn fresh_tree_matches_zookeeper() {
    let tree = DataTree::default();
    assert_eq!(tree.digest(), 1_371_985_504);
    assert_eq!(tree.node_count(), 4);
    let mut children = tree.children("/zookeeper").unwrap();
    children.sort();
    assert_eq!(children, vec!["config", "quota"]);
    assert_eq!(tree.acl_index("/zookeeper/config"), Some(1));
    assert_eq!(tree.acl("/zookeeper/config").unwrap(), Acl::read_unsafe());
    assert_eq!(tree.stat("/zookeeper/config").unwrap().aversion, -1);
    assert_eq!(tree.acl_index("/"), Some(-1));
    assert_eq!(tree.stat("/").unwrap().num_children, 1);
    // Root was linked without a create: stored cversion 0, so the client sees -1.
    assert_eq!(tree.stat("/").unwrap().cversion, -1);
    let walk: Vec<&str> = tree.walk().map(|n| n.path).collect();
    assert_eq!(walk[0], "");
    assert_eq!(walk[1], "/zookeeper");
}

#[test]
fn create_stat_and_cversion_quirk() {
    let mut h = Harness::new();
    let out = h.create(S1, "/a", Some(b"x"), 0);
    assert_eq!(out.applied.result.err, 0);
    let stat = out.applied.result.stat.clone().unwrap();
    assert_eq!(
        (stat.czxid, stat.mzxid, stat.pzxid),
        (Zxid(1), Zxid(1), Zxid(1))
    );
    assert_eq!((stat.ctime, stat.mtime), (1001, 1001));
    assert_eq!((stat.version, stat.cversion, stat.aversion), (0, 0, 0));
    assert_eq!(
        (stat.data_length, stat.num_children, stat.ephemeral_owner),
        (1, 0, 0)
    );
    h.create(S1, "/a/b", None, 0);
    h.create(S1, "/a/c", None, 0);
    h.delete(S1, "/a/b", -1);
    let a = h.tree.stat("/a").unwrap();
    // Stored cversion 2 (two creates), one child left: 2*2-1.
    assert_eq!(a.cversion, 3);
    assert_eq!(a.pzxid, Zxid(4));
    assert_eq!(a.num_children, 1);
    let root = h.tree.stat("/").unwrap();
    assert_eq!(root.cversion, 2 - 2);
    assert_eq!(h.tree.data("/a/c").unwrap(), None, "null data stays null");
}

#[test]
fn sequential_names_follow_parent_cversion() {
    let mut h = Harness::new();
    h.create(S1, "/q", None, 0);
    let first = h.create(S1, "/q/n-", None, 2).applied.result.path.unwrap();
    assert_eq!(first, "/q/n-0000000000");
    h.create(S1, "/q/x", None, 0);
    h.delete(S1, "/q/x", -1);
    let next = h.create(S1, "/q/n-", None, 3).applied.result.path.unwrap();
    assert_eq!(next, "/q/n-0000000002");
    assert_eq!(h.tree.ephemerals(SessionId(S1)), vec!["/q/n-0000000002"]);
}

#[test]
fn create_check_order() {
    let mut h = Harness::new();
    h.create(S1, "/e", None, 1);
    let err = |h: &mut Harness, path: &str, flags: i32, acl: Vec<Acl>| {
        let out = h.write(
            S1,
            &[Id::new("ip", "127.0.0.1")],
            WriteRequest::Create {
                op: OpCode::Create,
                request: CreateRequest {
                    path: path.into(),
                    data: None,
                    acl,
                    flags,
                },
            },
        );
        out.prepared.error
    };
    let open = Acl::open_unsafe;
    assert_eq!(err(&mut h, "/x", 9, open()), Some(ErrorCode::BadArguments));
    assert_eq!(err(&mut h, "/x", 5, open()), Some(ErrorCode::Unimplemented));
    assert_eq!(err(&mut h, "x", 0, open()), Some(ErrorCode::BadArguments));
    assert_eq!(err(&mut h, "/x", 0, vec![]), Some(ErrorCode::InvalidAcl));
    assert_eq!(
        err(&mut h, "/x", 0, Acl::creator_all()),
        Some(ErrorCode::InvalidAcl)
    );
    assert_eq!(err(&mut h, "/missing/", 0, open()), Some(ErrorCode::NoNode));
    assert_eq!(err(&mut h, "/e/", 0, open()), Some(ErrorCode::BadArguments));
    assert_eq!(err(&mut h, "/e", 0, open()), Some(ErrorCode::NodeExists));
    assert_eq!(
        err(&mut h, "/e/c", 0, open()),
        Some(ErrorCode::NoChildrenForEphemerals)
    );
    assert_eq!(
        err(&mut h, "/zookeeper/config/x", 0, open()),
        Some(ErrorCode::NoAuth)
    );
    // Every failure still consumed a zxid and was logged as an ErrorTxn without digest.
    let out = h.create(S1, "/e", None, 0);
    assert_eq!(out.prepared.entry.header.r#type, -1);
    assert!(out.prepared.entry.digest.is_none());
    assert_eq!(out.applied.result.err, ErrorCode::NodeExists.code());
    assert_eq!(h.tree.last_processed_zxid(), Zxid(h.zxid));
}

#[test]
fn delete_and_set_data_errors() {
    let mut h = Harness::new();
    h.create(S1, "/a", Some(b"1"), 0);
    h.create(S1, "/a/b", None, 0);
    let code = |o: common::Outcome| o.prepared.error;
    assert_eq!(
        code(h.delete(S1, "/zookeeper", -1)),
        Some(ErrorCode::BadArguments)
    );
    assert_eq!(code(h.delete(S1, "/x/y", -1)), Some(ErrorCode::NoNode));
    assert_eq!(code(h.delete(S1, "/a", 3)), Some(ErrorCode::BadVersion));
    assert_eq!(code(h.delete(S1, "/a", -1)), Some(ErrorCode::NotEmpty));
    assert_eq!(
        code(h.set_data(S1, "/a/", b"", -1)),
        Some(ErrorCode::BadArguments)
    );
    assert_eq!(
        code(h.set_data(S1, "/nope", b"", -1)),
        Some(ErrorCode::NoNode)
    );
    assert_eq!(
        code(h.set_data(S1, "/a", b"", 5)),
        Some(ErrorCode::BadVersion)
    );
    let out = h.set_data(S1, "/a", b"22", 0);
    let stat = out.applied.result.stat.unwrap();
    assert_eq!(
        (stat.version, stat.data_length, stat.mzxid),
        (1, 2, Zxid(h.zxid))
    );
    assert_eq!(
        code(h.set_data(S1, "/zookeeper/config", b"", -1)),
        Some(ErrorCode::NoAuth)
    );
}

#[test]
fn acl_checks_and_get_acl_masking() {
    let mut h = Harness::new();
    let alice = [Id::new("digest", generate_digest("alice:pw"))];
    let out = h.write(
        S1,
        &alice,
        WriteRequest::Create {
            op: OpCode::Create,
            request: CreateRequest {
                path: "/secret".into(),
                data: Some(Bytes::from_static(b"s")),
                acl: vec![
                    Acl::new(Perms::ALL, Id::new("auth", "")),
                    Acl::new(Perms::READ, Id::anyone()),
                ],
                flags: 0,
            },
        },
    );
    assert_eq!(out.applied.result.err, 0);
    let stored = h.tree.acl("/secret").unwrap();
    assert_eq!(stored[0].id, alice[0]);
    // READ for anyone: data readable, ACL readable but masked.
    assert!(h.tree.get_data("/secret", &[], None).is_ok());
    let (acl, _) = h.tree.get_acl("/secret", &[]).unwrap();
    assert_eq!(acl[0].id.id, "alice:x");
    let (acl, _) = h.tree.get_acl("/secret", &alice).unwrap();
    assert_eq!(acl[0].id, alice[0]);
    assert_eq!(
        h.set_data(S2, "/secret", b"x", -1).prepared.error,
        Some(ErrorCode::NoAuth)
    );
    let set = h.write(
        S1,
        &alice,
        WriteRequest::SetData(SetDataRequest {
            path: "/secret".into(),
            data: None,
            version: -1,
        }),
    );
    assert_eq!(set.prepared.error, None);
    // setACL: aversion, then NOAUTH for others, BADVERSION for a stale aversion.
    let set_acl = |h: &mut Harness, auth: &[Id], version| {
        h.write(
            S1,
            auth,
            WriteRequest::SetAcl(SetAclRequest {
                path: "/secret".into(),
                acl: Acl::read_unsafe(),
                version,
            }),
        )
    };
    assert_eq!(
        set_acl(&mut h, &[], -1).prepared.error,
        Some(ErrorCode::NoAuth)
    );
    assert_eq!(
        set_acl(&mut h, &alice, 4).prepared.error,
        Some(ErrorCode::BadVersion)
    );
    let ok = set_acl(&mut h, &alice, 0);
    assert_eq!(ok.applied.result.stat.unwrap().aversion, 1);
    assert_eq!(h.tree.get_data("/secret", &[], None).map(|_| ()), Ok(()));
    assert_eq!(
        h.tree
            .get_children("/secret", &[Id::new("super", "")], None)
            .map(|_| ()),
        Ok(())
    );
    // The open ACL list and the READ list are shared entries of the table.
    assert_eq!(h.tree.acl_index("/secret"), Some(1));
}

#[test]
fn multi_success_and_failure_encoding() {
    let mut h = Harness::new();
    let create = |path: &str| MultiOp::Create {
        op: OpCode::Create,
        request: CreateRequest {
            path: path.into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 0,
        },
    };
    let ok = h.write(
        S1,
        &[],
        WriteRequest::Multi(MultiRequest {
            ops: vec![
                create("/m"),
                create("/m/a"),
                MultiOp::Check(CheckVersionRequest {
                    path: "/m".into(),
                    version: 0,
                }),
                MultiOp::SetData(SetDataRequest {
                    path: "/m/a".into(),
                    data: Some(Bytes::from_static(b"v")),
                    version: 0,
                }),
            ],
        }),
    );
    assert_eq!(ok.applied.result.err, 0);
    let results = ok.applied.result.multi_results();
    assert!(matches!(&results[0], MultiResult::Create(r) if r.path == "/m"));
    assert!(matches!(results[2], MultiResult::Check));
    assert!(matches!(&results[3], MultiResult::SetData(r) if r.stat.version == 1));
    let stat = h.tree.stat("/m/a").unwrap();
    assert_eq!((stat.czxid, stat.mzxid), (Zxid(1), Zxid(1)));

    let before = h.tree.digest();
    let failed = h.write(
        S1,
        &[],
        WriteRequest::Multi(MultiRequest {
            ops: vec![
                create("/m/b"),
                MultiOp::Delete(DeleteRequest {
                    path: "/nope".into(),
                    version: -1,
                }),
                create("/m/c"),
            ],
        }),
    );
    assert_eq!(failed.prepared.error, Some(ErrorCode::NoNode));
    let TxnBody::Multi(m) = &failed.prepared.entry.body else {
        panic!("a failed multi stays a multi");
    };
    assert_eq!(
        m.txns.iter().map(|t| t.r#type).collect::<Vec<_>>(),
        vec![1, -1, -1]
    );
    assert_eq!(failed.applied.result.err, ErrorCode::NoNode.code());
    assert_eq!(
        failed.applied.result.multi_results(),
        vec![
            MultiResult::Error(0),
            MultiResult::Error(-101),
            MultiResult::Error(-2)
        ]
    );
    assert!(h.tree.stat("/m/b").is_none());
    assert_eq!(h.tree.digest(), before);
    // The rollback left the pending view clean: the same create now works.
    assert_eq!(h.create(S1, "/m/b", None, 0).applied.result.err, 0);
}

#[test]
fn pipelined_prep_sees_pending_changes_and_rolls_back() {
    use zk_datatree::{PendingChanges, PrepConfig, RequestContext, SessionCheck, prep};
    let tree = DataTree::default();
    let mut pending = PendingChanges::new();
    let config = PrepConfig::default();
    let ctx = |zxid| RequestContext {
        session_id: SessionId(S1),
        cxid: 0,
        zxid: Zxid(zxid),
        time_ms: 5,
        auth: &[],
        session: SessionCheck::VALID,
    };
    let create = |path: &str, flags| WriteRequest::Create {
        op: OpCode::Create,
        request: CreateRequest {
            path: path.into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags,
        },
    };
    let p1 = prep(&tree, &mut pending, &config, &ctx(1), &create("/p", 0));
    let p2 = prep(&tree, &mut pending, &config, &ctx(2), &create("/p/s", 2));
    let p3 = prep(&tree, &mut pending, &config, &ctx(3), &create("/p/s", 2));
    let path = |p: &zk_datatree::Prepared| match &p.entry.body {
        TxnBody::Create(c) => c.path.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(path(&p2), "/p/s0000000000");
    assert_eq!(path(&p3), "/p/s0000000001");
    assert_eq!(p1.error, None);
    let dup = prep(&tree, &mut pending, &config, &ctx(4), &create("/p", 0));
    assert_eq!(dup.error, Some(ErrorCode::NodeExists));
    // Applying all of them in order gives the digests prep promised.
    let mut tree = tree;
    for p in [&p1, &p2, &p3] {
        tree.apply(&p.entry.header, &p.entry.body);
        assert_eq!(p.entry.digest.as_ref().unwrap().tree_digest, tree.digest());
        pending.applied(p.entry.header.zxid);
    }
    assert_eq!(pending.len(), 0);
}

#[test]
fn close_session_removes_ephemerals_and_fires() {
    let mut h = Harness::new();
    h.create(S1, "/app", None, 0);
    h.create(S1, "/app/lock-", None, 3);
    h.create(S1, "/app/e", None, 1);
    h.create(S2, "/app/other", None, 1);
    let w = WatcherId(7);
    h.tree.get_children("/app", &[], Some(w)).unwrap();
    h.tree.exists("/app/e", Some(w)).unwrap();
    assert_eq!(
        h.tree.get_ephemerals(SessionId(S1), "/app/l"),
        vec!["/app/lock-0000000000"]
    );
    assert_eq!(h.tree.get_ephemerals(SessionId(S1), " / ").len(), 2);
    let out = h.write(S1, &[], WriteRequest::CloseSession);
    let TxnBody::CloseSession(Some(list)) = &out.prepared.entry.body else {
        panic!("closeSession lists its ephemerals");
    };
    assert_eq!(list.paths2_delete, vec!["/app/e", "/app/lock-0000000000"]);
    assert!(h.tree.stat("/app/e").is_none());
    assert!(h.tree.stat("/app/other").is_some());
    assert_eq!(
        events(&out),
        vec![
            (7, EventType::NodeDeleted, "/app/e".into()),
            (7, EventType::NodeChildrenChanged, "/app".into())
        ]
    );
}

#[test]
fn watch_events_of_every_kind() {
    let mut h = Harness::new();
    let (w1, w2, w3) = (WatcherId(1), WatcherId(2), WatcherId(3));
    assert_eq!(h.tree.exists("/w", Some(w1)), Err(ErrorCode::NoNode));
    h.tree.get_children("/", &[], Some(w2)).unwrap();
    h.tree.add_watch("/", AddWatchMode::PersistentRecursive, w3);
    let out = h.create(S1, "/w", None, 0);
    assert_eq!(
        events(&out),
        vec![
            (1, EventType::NodeCreated, "/w".into()),
            (3, EventType::NodeCreated, "/w".into()),
            (2, EventType::NodeChildrenChanged, "/".into()),
        ]
    );
    h.tree.get_data("/w", &[], Some(w1)).unwrap();
    h.tree.get_children("/w", &[], Some(w2)).unwrap();
    h.tree
        .add_watch("/w", AddWatchMode::Persistent, WatcherId(4));
    let out = h.set_data(S1, "/w", b"d", -1);
    assert_eq!(
        events(&out),
        vec![
            (1, EventType::NodeDataChanged, "/w".into()),
            (3, EventType::NodeDataChanged, "/w".into()),
            (4, EventType::NodeDataChanged, "/w".into()),
        ]
    );
    h.tree.exists("/w", Some(w1)).unwrap();
    let out = h.delete(S1, "/w", -1);
    assert_eq!(
        events(&out),
        vec![
            (1, EventType::NodeDeleted, "/w".into()),
            (3, EventType::NodeDeleted, "/w".into()),
            (4, EventType::NodeDeleted, "/w".into()),
            (2, EventType::NodeDeleted, "/w".into()),
        ]
    );
    // Persistent watches stay; one-shot ones are gone.
    assert_eq!(
        h.tree.check_watches("/w", WatcherType::Data, WatcherId(4)),
        Ok(())
    );
    assert_eq!(
        h.tree.remove_watches("/w", WatcherType::Any, WatcherId(4)),
        Ok(())
    );
    assert_eq!(
        h.tree.remove_watches("/w", WatcherType::Any, WatcherId(4)),
        Err(ErrorCode::NoWatcher)
    );
    assert_eq!(
        h.tree.check_watches("/w", WatcherType::Children, w2),
        Err(ErrorCode::NoWatcher)
    );
    h.tree.remove_watcher(w3);
    assert!(events(&h.create(S1, "/z", None, 0)).is_empty());
}

#[test]
fn set_watches_fires_missed_events() {
    let mut h = Harness::new();
    h.create(S1, "/a", None, 0);
    h.create(S1, "/b", None, 0);
    h.set_data(S1, "/a", b"x", -1);
    let w = WatcherId(9);
    let fired = h.tree.set_watches(
        Zxid(2),
        &zk_jute::proto::SetWatches2 {
            relative_zxid: Zxid(2),
            data_watches: vec!["/a".into(), "/b".into(), "/gone".into()],
            exist_watches: vec!["/b".into(), "/c".into()],
            child_watches: vec!["/".into()],
            persistent_watches: vec![],
            persistent_recursive_watches: vec!["/r".into()],
        },
        w,
    );
    let kinds: Vec<(EventType, &str)> = fired
        .iter()
        .map(|n| (n.event_type().unwrap(), n.event.path.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (EventType::NodeDataChanged, "/a"),
            (EventType::NodeDeleted, "/gone"),
            (EventType::NodeCreated, "/b"),
        ]
    );
    let (data, child) = h.tree.watched_paths(w);
    assert_eq!(data, vec!["/b", "/c", "/r"]);
    assert_eq!(child, vec!["/", "/r"]);
    let _ = WatchMode::Standard;
}

#[test]
fn containers_and_ttl_nodes() {
    let mut h = Harness::new();
    let out = h.write(
        S1,
        &[],
        WriteRequest::Create {
            op: OpCode::CreateContainer,
            request: CreateRequest {
                path: "/c".into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 4,
            },
        },
    );
    assert_eq!(out.applied.result.stat.unwrap().ephemeral_owner, 0);
    assert_eq!(h.tree.containers(), vec!["/c"]);
    assert_eq!(
        h.tree.stat_persisted("/c").unwrap().ephemeral_owner,
        i64::MIN
    );
    let ttl = |h: &mut Harness, ttl| {
        h.write(
            S1,
            &[],
            WriteRequest::CreateTtl(CreateTtlRequest {
                path: "/t".into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 5,
                ttl,
            }),
        )
        .prepared
        .error
    };
    assert_eq!(ttl(&mut h, 100), Some(ErrorCode::Unimplemented));
    h.config.extended_types_enabled = true;
    assert_eq!(ttl(&mut h, 0), Some(ErrorCode::BadArguments));
    // The tree reads TTL owners only with extended types on.
    let mut h2 = Harness::new();
    h2.config.extended_types_enabled = true;
    h2.tree = DataTree::new(TreeConfig {
        extended_types_enabled: true,
        ..TreeConfig::default()
    });
    assert_eq!(ttl(&mut h2, 100), None);
    assert_eq!(h2.tree.ttl_nodes(), vec!["/t"]);
    assert_eq!(h2.tree.stat("/t").unwrap().ephemeral_owner, 0);
    // deleteContainer refuses an ephemeral (BADVERSION) and a non-empty node.
    h.create(S1, "/c/x", None, 0);
    let del = |h: &mut Harness, path: &str| {
        h.write(S1, &[], WriteRequest::DeleteContainer { path: path.into() })
            .prepared
            .error
    };
    assert_eq!(del(&mut h, "/c"), Some(ErrorCode::NotEmpty));
    h.create(S1, "/eph", None, 1);
    assert_eq!(del(&mut h, "/eph"), Some(ErrorCode::BadVersion));
    h.delete(S1, "/c/x", -1);
    assert_eq!(del(&mut h, "/c"), None);
    assert!(h.tree.containers().is_empty());
}

#[test]
fn quotas_track_count_and_bytes() {
    let mut h = Harness::new();
    h.create(S1, "/q", Some(b"abc"), 0);
    h.create(S1, "/q/x", Some(b"12"), 0);
    h.create(S1, "/zookeeper/quota/q", None, 0);
    h.create(
        S1,
        "/zookeeper/quota/q/zookeeper_limits",
        Some(b"count=3,bytes=-1=;countHardLimit=3"),
        0,
    );
    h.create(
        S1,
        "/zookeeper/quota/q/zookeeper_stats",
        Some(b"count=0,bytes=0"),
        0,
    );
    let stats = |h: &Harness| {
        String::from_utf8(
            h.tree
                .data("/zookeeper/quota/q/zookeeper_stats")
                .unwrap()
                .unwrap()
                .to_vec(),
        )
        .unwrap()
    };
    assert_eq!(stats(&h), "count=2,bytes=5");
    h.create(S1, "/q/y", Some(b"1"), 0);
    assert_eq!(stats(&h), "count=3,bytes=6");
    h.set_data(S1, "/q/y", b"1234", -1);
    assert_eq!(stats(&h), "count=3,bytes=9");
    // Hard count limit: a warning by default, QUOTAEXCEEDED when enforced.
    let soft = h.create(S1, "/q/z", None, 0);
    assert_eq!(soft.prepared.error, None);
    assert!(soft.prepared.quota_warnings[0].hard);
    h.config.enforce_quota = true;
    assert_eq!(
        h.create(S1, "/q/w", None, 0).prepared.error,
        Some(ErrorCode::QuotaExceeded)
    );
    h.delete(S1, "/q/z", -1);
    assert_eq!(stats(&h), "count=3,bytes=9");
    assert_eq!(h.tree.max_prefix_with_quota("/q/y/deep"), Some("/q".into()));
    h.delete(S1, "/zookeeper/quota/q/zookeeper_limits", -1);
    assert_eq!(h.tree.max_prefix_with_quota("/q/y"), None);
}

#[test]
fn snapshot_walk_and_rebuild() {
    let mut h = Harness::new();
    h.create(S1, "/a", Some(b"1"), 0);
    h.create(S1, "/a/b", None, 0);
    h.create(S2, "/a/e", Some(b""), 1);
    h.write(S1, &[], WriteRequest::CreateSession { timeout_ms: 30_000 });
    h.write(
        S1,
        &[],
        WriteRequest::SetAcl(SetAclRequest {
            path: "/a/b".into(),
            acl: Acl::read_unsafe(),
            version: -1,
        }),
    );
    let tree = &h.tree;
    let mut builder = TreeBuilder::new(TreeConfig::default());
    for (id, t) in tree.sessions() {
        builder.add_session(id, t);
    }
    for (index, acls) in tree.acl_cache().iter() {
        builder.add_acl(index, acls.to_vec());
    }
    builder.add_acl(99, vec![Acl::new(Perms::WRITE, Id::anyone())]);
    let mut seen = std::collections::HashSet::new();
    for node in tree.walk() {
        if let Some((parent, _)) = node.path.rsplit_once('/') {
            assert!(seen.contains(parent), "{} before its parent", node.path);
        }
        seen.insert(node.path.to_owned());
        builder
            .add_node(
                node.path,
                node.data.map(Arc::from),
                node.acl,
                node.stat.clone(),
            )
            .unwrap();
    }
    let rebuilt = builder.finish().unwrap();
    assert_eq!(rebuilt.digest(), tree.digest());
    assert_eq!(rebuilt.node_count(), tree.node_count());
    assert_eq!(rebuilt.ephemerals(SessionId(S2)), vec!["/a/e"]);
    assert_eq!(rebuilt.stat("/a").unwrap(), tree.stat("/a").unwrap());
    assert_eq!(
        rebuilt.sessions().collect::<Vec<_>>(),
        vec![(SessionId(S1), 30_000)]
    );
    assert!(
        rebuilt.acl_cache().acls(99).is_none(),
        "unused entries are purged"
    );

    let mut orphan = TreeBuilder::new(TreeConfig::default());
    orphan.add_node("", None, -1, Default::default()).unwrap();
    assert_eq!(
        orphan.add_node("/x/y", None, -1, Default::default()),
        Err(TreeError::MissingParent {
            parent: "/x".into(),
            path: "/x/y".into()
        })
    );
    assert_eq!(
        orphan
            .add_node("/x", None, 5, Default::default())
            .unwrap_err()
            .to_string(),
        "node /x refers to ACL index 5, which the ACL map does not have"
    );
}

#[test]
fn replayed_create_over_existing_node_moves_parent_cversion() {
    let mut h = Harness::new();
    h.create(S1, "/p", None, 0);
    let out = h.create(S1, "/p/c", None, 0);
    let mut header = out.prepared.entry.header.clone();
    header.zxid = Zxid(50);
    header.r#type = OpCode::Create.code();
    let TxnBody::Create(mut txn) = out.prepared.entry.body.clone() else {
        panic!()
    };
    txn.parent_c_version = 7;
    let replay = h.tree.apply(&header, &TxnBody::Create(txn));
    assert_eq!(replay.result.err, ErrorCode::NodeExists.code());
    let stat = h.tree.stat_persisted("/p").unwrap();
    assert_eq!((stat.cversion, stat.pzxid), (7, Zxid(50)));
}

#[test]
fn reads_check_existence_then_acl() {
    let mut h = Harness::new();
    h.write(
        S1,
        &[],
        WriteRequest::Create {
            op: OpCode::Create,
            request: CreateRequest {
                path: "/locked".into(),
                data: None,
                acl: vec![Acl::new(Perms::WRITE, Id::anyone())],
                flags: 0,
            },
        },
    );
    let w = WatcherId(1);
    assert_eq!(
        h.tree.get_data("/locked", &[], Some(w)).unwrap_err(),
        ErrorCode::NoAuth
    );
    assert_eq!(h.tree.watch_summary().0.watches, 0, "no watch after NOAUTH");
    assert_eq!(
        h.tree.get_data("/none", &[], None).unwrap_err(),
        ErrorCode::NoNode
    );
    assert_eq!(
        h.tree.get_acl("/locked", &[]).unwrap_err(),
        ErrorCode::NoAuth
    );
    assert!(h.tree.exists("/locked", None).is_ok());
    assert_eq!(h.tree.exists("/a\0", None), Err(ErrorCode::BadArguments));
    assert_eq!(h.tree.get_all_children_number("/", &[]), Ok(4));
    assert_eq!(h.tree.get_all_children_number("/zookeeper", &[]), Ok(2));
}

#[test]
fn a_copy_of_a_large_tree_is_the_same_tree() {
    let mut builder = TreeBuilder::new(TreeConfig::default());
    builder.add_node("", None, -1, Default::default()).unwrap();
    builder
        .add_node("/big", None, -1, Default::default())
        .unwrap();
    for i in 0..150_000 {
        let path = format!("/big/n{i:06}");
        let data = Arc::from(path.clone().into_bytes());
        builder
            .add_node(path, Some(data), -1, Default::default())
            .unwrap();
    }
    let tree = builder.finish().unwrap();
    let copy = tree.clone();
    assert_eq!(copy.node_count(), tree.node_count());
    assert_eq!(copy.digest(), tree.digest());
    let listing = |t: &DataTree| {
        t.walk()
            .map(|n| (n.path.to_owned(), n.data.map(<[u8]>::to_vec)))
            .collect::<Vec<_>>()
    };
    assert_eq!(listing(&copy), listing(&tree));
    let (data, _) = copy.read_data("/big/n149999", &[]).unwrap();
    assert_eq!(data.as_deref(), Some(&b"/big/n149999"[..]));
}
