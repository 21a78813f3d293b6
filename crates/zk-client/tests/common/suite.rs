//! The suite every server must pass, generic over the launcher.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use zk_client::{
    Acl, AddWatchMode, Client, CreateMode, Error, EventType, Id, KeeperState, OpResult, Perms,
    SessionState, WatcherType,
};

use super::proxy::Proxy;
use super::{Launcher, ServerOptions, eventually, within};

const LONG: Duration = Duration::from_secs(30);

fn open() -> Vec<Acl> {
    Acl::open_unsafe()
}

/// Polls the futures in order (so their requests are sent in order) until all are done.
pub async fn join_in_order<T>(futs: Vec<Pin<Box<dyn Future<Output = T> + Send + '_>>>) -> Vec<T> {
    let mut futs: Vec<_> = futs.into_iter().map(Some).collect();
    let mut out: Vec<Option<T>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, f) in futs.iter_mut().enumerate() {
            if let Some(fut) = f {
                match fut.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        out[i] = Some(v);
                        *f = None;
                    }
                    Poll::Pending => done = false,
                }
            }
        }
        if done { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

async fn connect(address: &str) -> Client {
    within(
        LONG,
        "connect",
        Client::builder(address)
            .session_timeout(Duration::from_secs(10))
            .reconnect_delay(Duration::from_millis(50))
            .connect(),
    )
    .await
    .expect("connect")
}

/// Every operation, with and without a chroot.
pub async fn operations<L: Launcher>() {
    let server = L::start(ServerOptions::default());
    let root = connect(&server.address()).await;
    root.create("/chroot", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    for chroot in ["", "/chroot"] {
        let client = connect(&format!("{}{chroot}", server.address())).await;
        operations_on(&client, &root, chroot).await;
        client.close().await;
    }
}

async fn operations_on(c: &Client, root: &Client, chroot: &str) {
    assert_eq!(c.state(), SessionState::Connected);
    assert_ne!(c.session_id().0, 0);
    assert!(c.session_timeout_ms() > 0);
    // create in every mode, and create2.
    assert_eq!(
        c.create("/a", b"data", &open(), CreateMode::Persistent)
            .await
            .unwrap(),
        "/a"
    );
    assert_eq!(
        root.get_data(&format!("{chroot}/a")).await.unwrap().0,
        &b"data"[..],
        "the chroot is applied"
    );
    let (path, stat) = c
        .create2("/a/b", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(path, "/a/b");
    assert_eq!(stat.version, 0);
    let e = c
        .create("/a/e", b"", &open(), CreateMode::Ephemeral)
        .await
        .unwrap();
    let s1 = c
        .create("/a/s-", b"", &open(), CreateMode::PersistentSequential)
        .await
        .unwrap();
    assert_eq!(s1, "/a/s-0000000002");
    let es = c
        .create("/a/es-", b"", &open(), CreateMode::EphemeralSequential)
        .await
        .unwrap();
    assert!(es.starts_with("/a/es-"), "{es}");
    let (cont, _) = c
        .create2("/cont", b"", &open(), CreateMode::Container)
        .await
        .unwrap();
    assert_eq!(cont, "/cont");
    assert_eq!(
        c.create("/cont2", b"", &open(), CreateMode::Container)
            .await
            .unwrap(),
        "/cont2"
    );
    let (ttl, _) = c
        .create_ttl(
            "/ttl",
            b"",
            &open(),
            CreateMode::PersistentWithTtl,
            Duration::from_secs(3600),
        )
        .await
        .unwrap();
    assert_eq!(ttl, "/ttl");
    let (ttl_seq, _) = c
        .create_ttl(
            "/ttls-",
            b"",
            &open(),
            CreateMode::PersistentSequentialWithTtl,
            Duration::from_secs(3600),
        )
        .await
        .unwrap();
    assert!(ttl_seq.starts_with("/ttls-"));
    // Errors from the server.
    assert_eq!(
        c.create("/a", b"", &open(), CreateMode::Persistent).await,
        Err(Error::NodeExists)
    );
    assert_eq!(
        c.create("/none/x", b"", &open(), CreateMode::Persistent)
            .await,
        Err(Error::NoNode)
    );
    assert_eq!(
        c.create("/a/e/x", b"", &open(), CreateMode::Persistent)
            .await,
        Err(Error::NoChildrenForEphemerals)
    );
    assert_eq!(
        c.create("/x", b"", &[], CreateMode::Persistent).await,
        Err(Error::InvalidAcl)
    );
    // Errors found before sending.
    assert!(matches!(
        c.create("/a/", b"", &open(), CreateMode::Persistent).await,
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        c.get_data("no-slash").await,
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        c.create("/t", b"", &open(), CreateMode::PersistentWithTtl)
            .await,
        Err(Error::InvalidArgument(_))
    ));
    // exists, getData, setData.
    assert!(c.exists("/a").await.unwrap().is_some());
    assert_eq!(c.exists("/missing").await.unwrap(), None);
    let (data, stat) = c.get_data("/a").await.unwrap();
    assert_eq!(&data[..], b"data");
    assert_eq!(stat.data_length, 4);
    assert_eq!(c.get_data("/missing").await, Err(Error::NoNode));
    let stat = c.set_data("/a", b"v2", Some(stat.version)).await.unwrap();
    assert_eq!(stat.version, 1);
    assert_eq!(
        c.set_data("/a", b"v3", Some(0)).await,
        Err(Error::BadVersion)
    );
    c.set_data("/a", b"v3", None).await.unwrap();
    // ACLs.
    let (acl, _) = c.get_acl("/a").await.unwrap();
    assert_eq!(acl, open());
    let stat = c
        .set_acl("/a/b", &Acl::read_unsafe(), Some(0))
        .await
        .unwrap();
    assert_eq!(stat.aversion, 1);
    assert_eq!(c.get_acl("/a/b").await.unwrap().0, Acl::read_unsafe());
    assert_eq!(c.set_data("/a/b", b"x", None).await, Err(Error::NoAuth));
    // Children.
    let mut children = c.get_children("/a").await.unwrap();
    children.sort();
    assert_eq!(children.len(), 4);
    assert_eq!(children[0], "b");
    let (children2, stat) = c.get_children2("/a").await.unwrap();
    assert_eq!(children2.len(), 4);
    assert_eq!(stat.num_children, 4);
    assert_eq!(c.get_all_children_number("/a").await.unwrap(), 4);
    assert_eq!(c.get_children("/missing").await, Err(Error::NoNode));
    // Ephemerals of this session, chroot removed.
    let mut eph = c.get_ephemerals("/").await.unwrap();
    eph.sort();
    let mut expected = vec![e.clone(), es.clone()];
    expected.sort();
    assert_eq!(eph, expected);
    assert_eq!(c.get_ephemerals("/a/es").await.unwrap(), vec![es.clone()]);
    // sync and check.
    c.sync("/a").await.unwrap();
    let version = c.exists("/a").await.unwrap().unwrap().version;
    c.check("/a", version).await.unwrap();
    assert!(matches!(
        c.check("/a", version + 5).await,
        Err(Error::Multi { index: 0, ref source }) if **source == Error::BadVersion
    ));
    // multi: all or nothing.
    let results = c
        .multi()
        .create("/m", b"1", &open(), CreateMode::Persistent)
        .create("/m/s-", b"", &open(), CreateMode::PersistentSequential)
        .set_data("/m", b"2", Some(0))
        .check("/m", 1)
        .delete("/m/s-0000000000", None)
        .commit()
        .await
        .unwrap();
    assert_eq!(results.len(), 5);
    assert!(matches!(&results[0], OpResult::Create { path, .. } if path == "/m"));
    assert!(matches!(&results[1], OpResult::Create { path, .. } if path == "/m/s-0000000000"));
    assert!(matches!(&results[2], OpResult::SetData { stat } if stat.version == 1));
    assert_eq!(results[3], OpResult::Check);
    assert_eq!(results[4], OpResult::Delete);
    let failed = c
        .multi()
        .create("/m2", b"", &open(), CreateMode::Persistent)
        .delete("/nope", None)
        .set_data("/m", b"3", None)
        .commit()
        .await;
    assert!(
        matches!(&failed, Err(Error::Multi { index: 1, source }) if **source == Error::NoNode),
        "{failed:?}"
    );
    assert_eq!(c.exists("/m2").await.unwrap(), None, "nothing applied");
    // multiRead: each op on its own.
    let reads = c
        .multi_read()
        .get_data("/m")
        .get_children("/a")
        .get_data("/nope")
        .commit()
        .await
        .unwrap();
    assert!(matches!(&reads[0], OpResult::GetData { data, .. } if &data[..] == b"2"));
    assert!(matches!(&reads[1], OpResult::GetChildren { children } if children.len() == 4));
    assert_eq!(reads[2], OpResult::Error(Error::NoNode));
    // delete.
    assert_eq!(c.delete("/a", None).await, Err(Error::NotEmpty));
    assert_eq!(c.delete("/m", Some(7)).await, Err(Error::BadVersion));
    c.delete("/m", None).await.unwrap();
    assert_eq!(c.delete("/m", None).await, Err(Error::NoNode));
    // whoAmI and reconfig (a standalone server refuses it).
    let who = c.who_am_i().await.unwrap();
    assert!(who.iter().any(|i| i.auth_scheme == "ip"), "{who:?}");
    let reconfig = c
        .reconfig(None, None, Some("server.1=127.0.0.1:1:2"), -1)
        .await;
    assert!(
        matches!(
            reconfig,
            Err(Error::Unimplemented | Error::ReconfigDisabled)
        ),
        "{reconfig:?}"
    );
    // Results come back in request order: pipelined sequential creates get increasing numbers.
    let futs: Vec<Pin<Box<dyn Future<Output = _> + Send>>> = (0..200)
        .map(|i| {
            Box::pin(async move {
                let p = c
                    .create(
                        "/a/order-",
                        format!("{i}").as_bytes(),
                        &open(),
                        CreateMode::PersistentSequential,
                    )
                    .await
                    .unwrap();
                (i, p)
            }) as Pin<Box<dyn Future<Output = _> + Send>>
        })
        .collect();
    let created: Vec<(i32, String)> = join_in_order(futs).await;
    for w in created.windows(2) {
        assert!(w[0].1 < w[1].1, "{:?} then {:?}", w[0], w[1]);
    }
    // Clean up the tree for the next round.
    for child in c.get_children("/a").await.unwrap() {
        let _ = c.delete(&format!("/a/{child}"), None).await;
    }
    c.delete("/a", None).await.unwrap();
    for p in ["/cont", "/cont2", "/ttl", ttl_seq.as_str()] {
        let _ = c.delete(p, None).await;
    }
}

/// One-shot, persistent and recursive watches, removal, ordering, and state events.
pub async fn watches<L: Launcher>() {
    let server = L::start(ServerOptions::default());
    let other = connect(&server.address()).await;
    other
        .create("/w", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let c = connect(&format!("{}/w", server.address())).await;
    let mut session = c.session_events();

    // Data watch: NodeDataChanged, chroot removed from the path.
    c.create("/d", b"0", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let (_, _, w) = c.get_data_watch("/d").await.unwrap();
    other.set_data("/w/d", b"1", None).await.unwrap();
    let e = within(LONG, "data watch", w).await;
    assert_eq!(e.event_type, EventType::NodeDataChanged);
    assert_eq!(e.path.as_deref(), Some("/d"));
    assert_eq!(e.state, KeeperState::SyncConnected);

    // Exists watch on a missing node: NodeCreated.
    let (stat, w) = c.exists_watch("/n").await.unwrap();
    assert!(stat.is_none());
    other
        .create("/w/n", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(
        within(LONG, "exists watch", w).await.event_type,
        EventType::NodeCreated
    );

    // Child watch, then a delete fires data and child watches.
    let (_, cw) = c.get_children_watch("/d").await.unwrap();
    other
        .create("/w/d/k", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(
        within(LONG, "child watch", cw).await.event_type,
        EventType::NodeChildrenChanged
    );
    let (_, _, cw2) = c.get_children2_watch("/d/k").await.unwrap();
    let (_, _, dw) = c.get_data_watch("/d/k").await.unwrap();
    other.delete("/w/d/k", None).await.unwrap();
    assert_eq!(
        within(LONG, "delete", cw2).await.event_type,
        EventType::NodeDeleted
    );
    assert_eq!(
        within(LONG, "delete", dw).await.event_type,
        EventType::NodeDeleted
    );

    // A watch event comes before the reply of the write that fired it.
    let (_, _, mut w) = c.get_data_watch("/d").await.unwrap();
    c.set_data("/d", b"self", None).await.unwrap();
    assert_eq!(
        w.try_event().map(|e| e.event_type),
        Some(EventType::NodeDataChanged),
        "the event precedes the reply"
    );

    // Persistent watch: every data and child event of the node, and it stays.
    let mut p = c.add_watch("/d", AddWatchMode::Persistent).await.unwrap();
    other.set_data("/w/d", b"2", None).await.unwrap();
    other.set_data("/w/d", b"3", None).await.unwrap();
    other
        .create("/w/d/c", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    for expected in [
        EventType::NodeDataChanged,
        EventType::NodeDataChanged,
        EventType::NodeChildrenChanged,
    ] {
        let e = within(LONG, "persistent event", p.next()).await.unwrap();
        assert_eq!(e.event_type, expected);
        assert_eq!(e.path.as_deref(), Some("/d"));
    }

    // Recursive watch: the subtree, without NodeChildrenChanged.
    let mut r = c
        .add_watch("/", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    other
        .create("/w/d/c/deep", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    other.set_data("/w/d/c/deep", b"x", None).await.unwrap();
    other.delete("/w/d/c/deep", None).await.unwrap();
    for expected in [
        EventType::NodeCreated,
        EventType::NodeDataChanged,
        EventType::NodeDeleted,
    ] {
        let e = within(LONG, "recursive event", r.next()).await.unwrap();
        assert_eq!(
            (e.event_type, e.path.as_deref()),
            (expected, Some("/d/c/deep"))
        );
    }
    // The persistent watch on /d saw the child events of /d/c only as NodeChildrenChanged of /d?
    // No: /d/c/deep is a grandchild, so /d's persistent watch saw nothing more.
    assert_eq!(p.try_next(), None);

    // removeWatches: the removed watcher is told; a second removal finds nothing.
    let (_, _, w) = c.get_data_watch("/n").await.unwrap();
    c.remove_watches("/n", WatcherType::Data).await.unwrap();
    assert_eq!(
        within(LONG, "removed", w).await.event_type,
        EventType::DataWatchRemoved
    );
    assert_eq!(
        c.remove_watches("/n", WatcherType::Data).await,
        Err(Error::NoWatcher)
    );
    c.remove_watches("/d", WatcherType::Any).await.unwrap();
    let e = within(LONG, "persistent removed", p.next()).await.unwrap();
    assert_eq!(e.event_type, EventType::PersistentWatchRemoved);
    assert_eq!(within(LONG, "stream end", p.next()).await, None);

    // Close: watchers and the session stream see Closed; later calls fail.
    let (_, w) = c.exists_watch("/never").await.unwrap();
    c.close().await;
    assert_eq!(within(LONG, "closed", w).await.state, KeeperState::Closed);
    let states: Vec<_> = std::iter::from_fn(|| session.try_next())
        .map(|e| e.state)
        .collect();
    assert_eq!(states, [KeeperState::Closed]);
    assert_eq!(c.get_data("/d").await, Err(Error::Closed));
    assert_eq!(r.next().await.map(|e| e.state), Some(KeeperState::Closed));
}

/// Digest auth, ACL denial, whoAmI, and an auth failure ending the session.
pub async fn auth_and_acl<L: Launcher>() {
    let server = L::start(ServerOptions::default());
    let owner = Client::builder(server.address())
        .auth("digest", b"alice:secret".to_vec())
        .connect()
        .await
        .unwrap();
    owner
        .create(
            "/private",
            b"s",
            &Acl::creator_all(),
            CreateMode::Persistent,
        )
        .await
        .unwrap();
    let (acl, _) = owner.get_acl("/private").await.unwrap();
    assert_eq!(acl[0].id.scheme, "digest");
    assert!(acl[0].id.id.starts_with("alice:"));
    let who = owner.who_am_i().await.unwrap();
    assert!(
        who.iter()
            .any(|i| i.auth_scheme == "digest" && i.user == "alice"),
        "{who:?}"
    );
    assert_eq!(&owner.get_data("/private").await.unwrap().0[..], b"s");

    let stranger = connect(&server.address()).await;
    assert_eq!(stranger.get_data("/private").await, Err(Error::NoAuth));
    assert_eq!(
        stranger.set_data("/private", b"x", None).await,
        Err(Error::NoAuth)
    );
    stranger.add_auth("digest", b"alice:wrong").await.unwrap();
    assert_eq!(stranger.get_data("/private").await, Err(Error::NoAuth));
    stranger.add_auth("digest", b"alice:secret").await.unwrap();
    assert_eq!(&stranger.get_data("/private").await.unwrap().0[..], b"s");
    // An ACL for an explicit id.
    owner
        .create(
            "/bob-only",
            b"",
            &[Acl::new(Perms::READ, Id::new("digest", "bob:x"))],
            CreateMode::Persistent,
        )
        .await
        .unwrap();
    assert_eq!(owner.get_data("/bob-only").await, Err(Error::NoAuth));

    // An unknown scheme fails authentication and ends the session.
    let doomed = connect(&server.address()).await;
    let mut events = doomed.session_events();
    assert_eq!(
        doomed.add_auth("nosuchscheme", b"x").await,
        Err(Error::AuthFailed)
    );
    let s = doomed.wait_for_state(|s| !s.is_alive()).await;
    assert_eq!(s, SessionState::AuthFailed);
    assert_eq!(doomed.exists("/").await, Err(Error::AuthFailed));
    let e = within(LONG, "auth failed event", events.next())
        .await
        .unwrap();
    assert_eq!(e.state, KeeperState::AuthFailed);
    let e = within(LONG, "closed event", events.next()).await.unwrap();
    assert_eq!(e.state, KeeperState::Closed);
}

/// The server expires a session it has not heard from; the client learns it on reconnect.
pub async fn session_expiry<L: Launcher>() {
    let server = L::start(ServerOptions { tick_ms: Some(100) });
    let proxy = Proxy::start(server.address()).await;
    let observer = connect(&server.address()).await;
    let c = Client::builder(proxy.address())
        .session_timeout(Duration::from_millis(1000))
        .reconnect_delay(Duration::from_millis(50))
        .connect()
        .await
        .unwrap();
    assert!(c.session_timeout_ms() <= 2000);
    let mut events = c.session_events();
    c.create("/eph", b"", &open(), CreateMode::Ephemeral)
        .await
        .unwrap();
    let (_, w) = c.exists_watch("/other").await.unwrap();
    let mut persistent = c
        .add_watch("/", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();

    proxy.set_blocked(true);
    proxy.cut();
    eventually(LONG, "the server to expire the session", || async {
        (observer.exists("/eph").await.unwrap().is_none()).then_some(())
    })
    .await;
    proxy.set_blocked(false);
    let state = within(LONG, "expiry", c.wait_for_state(|s| !s.is_alive())).await;
    assert_eq!(state, SessionState::Expired);
    assert_eq!(c.exists("/").await, Err(Error::SessionExpired));
    assert_eq!(within(LONG, "watch", w).await.state, KeeperState::Expired);
    let states: Vec<_> = std::iter::from_fn(|| events.try_next())
        .map(|e| e.state)
        .collect();
    assert_eq!(
        states,
        [
            KeeperState::Disconnected,
            KeeperState::Expired,
            KeeperState::Closed
        ]
    );
    let mut seen = Vec::new();
    while let Some(e) = persistent.next().await {
        seen.push(e.state);
    }
    assert_eq!(seen, [KeeperState::Disconnected, KeeperState::Expired]);
}

/// A connection to one address of the connect string breaks; the client moves to another with the
/// same session, sets its watches again, and a watch set before fires exactly once.
pub async fn reconnect_keeps_session_and_watches<L: Launcher>() {
    let server = L::start(ServerOptions::default());
    let a = Proxy::start(server.address()).await;
    let b = Proxy::start(server.address()).await;
    let other = connect(&server.address()).await;
    let c = Client::builder(format!("{},{}/", a.address(), b.address()))
        .session_timeout(Duration::from_secs(10))
        .reconnect_delay(Duration::from_millis(50))
        .connect()
        .await
        .unwrap();
    let session = c.session_id();
    c.create("/r", b"0", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    c.create("/r-eph", b"", &open(), CreateMode::Ephemeral)
        .await
        .unwrap();
    let (_, _, changed_while_away) = c.get_data_watch("/r").await.unwrap();
    let (_, later) = c.exists_watch("/r-later").await.unwrap();
    // On another node: the one-shot watch of /r would also hand its replayed event to a
    // persistent watch of /r, as in the Java client.
    c.create("/rp", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let mut persistent = c.add_watch("/rp", AddWatchMode::Persistent).await.unwrap();
    let mut events = c.session_events();

    let first_port = c.server().unwrap().port();
    let (used, spare) = if first_port == a.port() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    used.set_blocked(true);
    used.cut();
    within(LONG, "disconnect", async {
        assert_eq!(
            events.next().await.unwrap().state,
            KeeperState::Disconnected
        );
    })
    .await;
    // Changed while the client is away: the watch fires once it is set again.
    other.set_data("/r", b"1", None).await.unwrap();
    within(LONG, "reconnect", async {
        assert_eq!(
            events.next().await.unwrap().state,
            KeeperState::SyncConnected
        );
    })
    .await;
    assert_eq!(c.server().unwrap().port(), spare.port());
    assert_eq!(c.session_id(), session, "same session");
    assert!(
        other.exists("/r-eph").await.unwrap().is_some(),
        "ephemeral kept"
    );
    let e = within(LONG, "watch after reconnect", changed_while_away).await;
    assert_eq!(e.event_type, EventType::NodeDataChanged);
    // Watches set before still work, once each.
    other
        .create("/r-later", b"", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(
        within(LONG, "exists watch", later).await.event_type,
        EventType::NodeCreated
    );
    // The persistent stream saw the disconnect and reconnect; it does not replay what changed
    // while away, and after re-registration a change arrives exactly once.
    for expected in [KeeperState::Disconnected, KeeperState::SyncConnected] {
        let e = within(LONG, "persistent", persistent.next()).await.unwrap();
        assert_eq!((e.event_type, e.state), (EventType::None, expected));
    }
    other.set_data("/rp", b"2", None).await.unwrap();
    let e = within(LONG, "persistent", persistent.next()).await.unwrap();
    assert_eq!(e.event_type, EventType::NodeDataChanged);
    c.sync("/").await.unwrap();
    assert_eq!(
        persistent.try_next(),
        None,
        "no duplicate after re-registration"
    );
    // Requests go on in the same session.
    assert_eq!(&c.get_data("/r").await.unwrap().0[..], b"1");
}

/// A cap on outstanding requests makes callers wait rather than queue without bound.
pub async fn back_pressure<L: Launcher>() {
    let server = L::start(ServerOptions::default());
    let c = Client::builder(server.address())
        .max_outstanding(4)
        .connect()
        .await
        .unwrap();
    c.create("/bp", b"x", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    type Read = zk_client::Result<(zk_client::Bytes, zk_client::Stat)>;
    let futs: Vec<Pin<Box<dyn Future<Output = Read> + Send>>> = (0..500)
        .map(|_| Box::pin(c.get_data("/bp")) as Pin<Box<dyn Future<Output = Read> + Send>>)
        .collect();
    let results = within(LONG, "pipelined reads", join_in_order(futs)).await;
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_ok_and(|(d, _)| &d[..] == b"x"))
    );
}

/// Each recipe with several concurrent clients.
pub async fn recipes<L: Launcher>() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use zk_client::recipes::{
        DistributedCounter, DoubleBarrier, LeaderLatch, Mutex, NodeCache, Queue, TreeCache,
    };

    let server = L::start(ServerOptions::default());
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(connect(&server.address()).await);
    }

    // Mutex: mutual exclusion, reentrancy, Curator's node names.
    let inside = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for c in clients.clone() {
        let inside = inside.clone();
        tasks.push(tokio::spawn(async move {
            let mut lock = Mutex::new(&c, "/locks/m");
            for _ in 0..5 {
                lock.acquire().await.unwrap();
                lock.acquire().await.unwrap();
                assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                let parts = lock.participants().await.unwrap();
                assert!(
                    parts[0].starts_with("_c_") && parts[0].contains("-lock-"),
                    "{parts:?}"
                );
                let v = match c.get_data("/locks/value").await {
                    Ok((d, _)) => String::from_utf8_lossy(&d).parse::<u32>().unwrap(),
                    Err(Error::NoNode) => 0,
                    Err(e) => panic!("{e}"),
                };
                let next = (v + 1).to_string();
                if v == 0 {
                    c.create(
                        "/locks/value",
                        next.as_bytes(),
                        &open(),
                        CreateMode::Persistent,
                    )
                    .await
                    .unwrap();
                } else {
                    c.set_data("/locks/value", next.as_bytes(), None)
                        .await
                        .unwrap();
                }
                inside.fetch_sub(1, Ordering::SeqCst);
                lock.release().await.unwrap();
                assert!(lock.is_held(), "reentrant: still held once");
                lock.release().await.unwrap();
                assert!(!lock.is_held());
            }
        }));
    }
    for t in tasks {
        within(LONG, "lock users", t).await.unwrap();
    }
    assert_eq!(
        &clients[0].get_data("/locks/value").await.unwrap().0[..],
        b"20"
    );
    let mut held = Mutex::new(&clients[0], "/locks/m");
    held.acquire().await.unwrap();
    let mut other = Mutex::new(&clients[1], "/locks/m");
    assert!(!other.try_acquire(Duration::from_millis(200)).await.unwrap());
    assert_eq!(
        other.participants().await.unwrap().len(),
        1,
        "a timed-out waiter leaves no node"
    );
    held.release().await.unwrap();
    assert!(other.try_acquire(LONG).await.unwrap());
    other.release().await.unwrap();

    // Leader latch: exactly one leader; when it leaves another takes over.
    let mut latches = Vec::new();
    for (i, c) in clients.iter().enumerate().take(3) {
        latches.push(
            LeaderLatch::start(c, "/election", &format!("p{i}"))
                .await
                .unwrap(),
        );
    }
    within(LONG, "a leader", latches[0].await_leadership())
        .await
        .unwrap();
    assert_eq!(latches.iter().filter(|l| l.has_leadership()).count(), 1);
    assert_eq!(latches[1].participants().await.unwrap(), ["p0", "p1", "p2"]);
    let first = latches.remove(0);
    first.close().await.unwrap();
    within(LONG, "next leader", latches[0].await_leadership())
        .await
        .unwrap();
    assert!(!latches[1].has_leadership());
    for l in latches {
        l.close().await.unwrap();
    }

    // Double barrier: nobody passes enter until all three are in; leave waits for all.
    let entered = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for c in &clients[..3] {
        let c = c.clone();
        let entered = entered.clone();
        tasks.push(tokio::spawn(async move {
            let b = DoubleBarrier::new(&c, "/barrier", 3);
            entered.fetch_add(1, Ordering::SeqCst);
            b.enter().await.unwrap();
            assert_eq!(
                entered.load(Ordering::SeqCst),
                3,
                "entered before all arrived"
            );
            b.leave().await.unwrap();
        }));
    }
    for t in tasks {
        within(LONG, "barrier members", t).await.unwrap();
    }
    assert!(
        clients[0]
            .get_children("/barrier")
            .await
            .map_or(true, |c| c.is_empty()),
        "everyone left"
    );

    // Counter: concurrent increments add up; the value is 8 bytes big-endian.
    let mut tasks = Vec::new();
    for c in clients.clone() {
        tasks.push(tokio::spawn(async move {
            let counter = DistributedCounter::new(&c, "/counters/n");
            for _ in 0..25 {
                counter.increment().await.unwrap();
            }
        }));
    }
    for t in tasks {
        within(LONG, "counters", t).await.unwrap();
    }
    let counter = DistributedCounter::new(&clients[0], "/counters/n");
    assert_eq!(counter.get().await.unwrap(), 100);
    assert_eq!(
        &clients[0].get_data("/counters/n").await.unwrap().0[..],
        &100i64.to_be_bytes()
    );

    // Queue: FIFO, and every item taken exactly once by concurrent consumers.
    let q = Queue::new(&clients[0], "/queue");
    for i in 0..30 {
        q.put(format!("item-{i:02}").as_bytes()).await.unwrap();
    }
    assert_eq!(&q.take().await.unwrap()[..], b"item-00");
    let mut tasks = Vec::new();
    for c in &clients[1..] {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let q = Queue::new(&c, "/queue");
            let mut got = Vec::new();
            while let Some(item) = q.try_take().await.unwrap() {
                got.push(String::from_utf8(item.to_vec()).unwrap());
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let got = within(LONG, "consumers", t).await.unwrap();
        let mut sorted = got.clone();
        sorted.sort();
        assert_eq!(got, sorted, "each consumer sees FIFO order");
        all.extend(got);
    }
    all.sort();
    assert_eq!(
        all,
        (1..30).map(|i| format!("item-{i:02}")).collect::<Vec<_>>()
    );
    let waiting = {
        let c = clients[1].clone();
        tokio::spawn(async move { Queue::new(&c, "/queue").take().await.unwrap() })
    };
    q.put(b"late").await.unwrap();
    assert_eq!(
        &within(LONG, "blocking take", waiting).await.unwrap()[..],
        b"late"
    );
    assert_eq!(q.len().await.unwrap(), 0);

    // Caches follow another client's changes.
    let writer = &clients[3];
    writer
        .create("/cache", b"root", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    let mut node = NodeCache::start(&clients[0], "/cache/n").await.unwrap();
    let mut tree = TreeCache::start(&clients[1], "/cache").await.unwrap();
    assert!(node.current().is_none());
    writer
        .create("/cache/n", b"1", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    writer
        .create("/cache/n/deep", b"d", &open(), CreateMode::Persistent)
        .await
        .unwrap();
    writer.set_data("/cache/n", b"2", None).await.unwrap();
    within(
        LONG,
        "node cache",
        node.wait_until(|v| v.is_some_and(|(d, _)| &d[..] == b"2")),
    )
    .await;
    within(
        LONG,
        "tree cache",
        tree.wait_until(|t| t.get("/cache/n/deep").is_some_and(|(d, _)| &d[..] == b"d")),
    )
    .await;
    assert_eq!(tree.snapshot().len(), 3);
    writer.delete("/cache/n/deep", None).await.unwrap();
    writer.delete("/cache/n", None).await.unwrap();
    within(LONG, "tree cache delete", tree.wait_until(|t| t.len() == 1)).await;
    within(LONG, "node cache delete", node.wait_until(|v| v.is_none())).await;
    assert_eq!(&tree.get("/cache").unwrap().0[..], b"root");
}
