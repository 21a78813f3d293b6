//! The request pipeline of a standalone server (PrepRequestProcessor, SyncRequestProcessor,
//! FinalRequestProcessor). One task, the core, owns the DataTree, the pending changes and the
//! sessions: it preps each write into a txn, hands the txn to the persistence thread, which
//! appends many and fsyncs once (group commit) and reports "durable up to zxid"; then the core
//! finalizes, in arrival order, every request up to that zxid: it applies the txn, answers and
//! routes the watch events the txn fired. Reads wait behind earlier writes, so every client sees
//! its replies and events in the order ZooKeeper guarantees.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tracing::{debug, error, info, warn};
use zk_datatree::{
    DataTree, NodeKind, PendingChanges, PrepConfig, RequestContext, SessionCheck, TreeConfig,
    WatchNotification, WatcherId, WriteRequest, digest_auth_ids, prep,
};
use zk_jute::multi::{MultiRequest, MultiResponse};
use zk_jute::proto::*;
use zk_jute::txn::{ErrorTxn, TxnBody, TxnEntry, TxnHeader};
use zk_jute::{
    AddWatchMode, ClientInfo, ErrorCode, Id, OpCode, Record, SessionId, WatcherType, Zxid,
    encode_frame,
};
use zk_persistence::{FileSnap, FileTxnSnapLog, SnapshotThread};

use crate::IdMap;
use crate::config::ServerConfig;
use crate::connection::{ConnId, Connect, Outbox, ToCore};
use crate::sasl::SaslServer;
use crate::session::{SessionTracker, session_password};
use crate::stats::{ConnShared, LastOp, Stats};

/// Frames queued for one client beyond which its connection is dropped.
fn hard_cap(max_frame: usize) -> usize {
    (64usize << 20).max(max_frame * 4)
}

pub(crate) fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Builds one reply frame.
pub(crate) fn reply<R: Record>(xid: i32, zxid: i64, err: i32, body: Option<&R>) -> Bytes {
    // Sized exactly: no regrowth, and a buffer that is exactly full becomes a `Bytes` without the
    // shared header a partly used one needs.
    const FRAME_AND_HEADER: usize = 4 + 16;
    let mut out = BytesMut::with_capacity(FRAME_AND_HEADER + body.map_or(0, R::encoded_len));
    reply_into(&mut out, xid, zxid, err, body);
    debug_assert_eq!(out.len(), out.capacity(), "reply sized exactly");
    out.freeze()
}

/// Appends one reply frame to `out`.
pub(crate) fn reply_into<R: Record>(
    out: &mut BytesMut,
    xid: i32,
    zxid: i64,
    err: i32,
    body: Option<&R>,
) {
    encode_frame(out, |b| {
        ReplyHeader {
            xid: zk_jute::Xid(xid),
            zxid: Zxid(zxid),
            err,
        }
        .write(b);
        if let Some(r) = body {
            r.write(b);
        }
    });
}

pub(crate) fn reply_empty(xid: i32, zxid: i64, err: i32) -> Bytes {
    reply::<ErrorResponse>(xid, zxid, err, None)
}

/// A connection as the core sees it.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) out: Outbox,
    pub(crate) addr: SocketAddr,
    /// Session, auth ids, counters: shared with the connection's task.
    pub(crate) shared: Arc<ConnShared>,
    pub(crate) timeout_ms: i32,
    pub(crate) read_only_flag: Option<bool>,
    pub(crate) established_ms: i64,
    pub(crate) outstanding: u64,
    sasl: Option<SaslServer>,
}

/// A client connection that arrived while this ensemble member had no leader: it waits for one
/// (until `until`, core ms) instead of being closed at once.
#[derive(Debug)]
pub(crate) struct HeldConnect {
    connect: Connect,
    until: i64,
}

impl Conn {
    pub(crate) fn session(&self) -> Option<i64> {
        self.shared.session()
    }

    pub(crate) fn set_session(&self, session: Option<i64>) {
        self.shared
            .session
            .store(session.unwrap_or(0), std::sync::atomic::Ordering::Release);
    }
}

/// The tree, written by the core only and read by connection tasks answering plain reads.
#[derive(Debug)]
pub(crate) struct SharedTree(RwLock<DataTree>);

impl SharedTree {
    pub(crate) fn new(tree: DataTree) -> Self {
        SharedTree(RwLock::new(tree))
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, DataTree> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, DataTree> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Who is waiting for a txn.
#[derive(Debug)]
pub(crate) enum Origin {
    Client {
        conn: ConnId,
        xid: i32,
        op: OpCode,
        permit: Option<OwnedSemaphorePermit>,
        arrived: Instant,
    },
    NewSession {
        conn: ConnId,
        timeout_ms: i32,
        permit: Option<OwnedSemaphorePermit>,
    },
    /// Session expiry, container reaping.
    Internal,
}

#[derive(Debug)]
pub(crate) enum Queued {
    /// A txn prepared here (standalone or leader), ready once `ready_zxid` reaches it.
    Write {
        entry: TxnEntry,
        error: Option<ErrorCode>,
        origin: Origin,
    },
    /// A learner's request forwarded to the leader, ready once its txn (matched by session and
    /// cxid) was committed and applied here.
    Forwarded {
        session: i64,
        cxid: i32,
        origin: Origin,
        done: Option<zk_datatree::TxnResult>,
    },
    /// A learner's `sync`, ready once the leader's SYNC for it came back.
    Sync {
        conn: ConnId,
        header: RequestHeader,
        body: Bytes,
        permit: Option<OwnedSemaphorePermit>,
        arrived: Instant,
        done: bool,
    },
    Read {
        conn: ConnId,
        header: RequestHeader,
        body: Bytes,
        permit: Option<OwnedSemaphorePermit>,
        arrived: Instant,
    },
}

impl Origin {
    pub(crate) fn conn(&self) -> Option<ConnId> {
        match self {
            Origin::Client { conn, .. } | Origin::NewSession { conn, .. } => Some(*conn),
            Origin::Internal => None,
        }
    }
}

/// Commands for the persistence thread, done in order.
pub(crate) enum Persist {
    /// A serialized txn (TxnHeader, body, digest): this server's own, or the leader's (PROPOSAL,
    /// INFORM, sync).
    Payload(Zxid, Bytes),
    /// Everything appended so far is durable: answer.
    Flush(std::sync::mpsc::Sender<()>),
    /// TRUNC: cut the log after the zxid (dropping snapshots past it), then reload the database
    /// when a tree config is given.
    Truncate {
        zxid: Zxid,
        reload: Option<TreeConfig>,
        reply: std::sync::mpsc::Sender<Result<Option<zk_persistence::RestoredTree>, String>>,
    },
}

/// Reports of the persistence thread.
#[derive(Debug)]
pub(crate) enum Durable {
    UpTo { zxid: Zxid, snapshot_due: bool },
    Failed(String),
}

/// The state the core owns.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) tree: Arc<SharedTree>,
    pub(crate) pending: PendingChanges,
    prep_config: PrepConfig,
    pub(crate) next_zxid: i64,
    pub(crate) sessions: SessionTracker,
    pub(crate) session_conn: IdMap<i64, ConnId>,
    pub(crate) conns: IdMap<ConnId, Conn>,
    /// Connections waiting for this member to serve (ensemble only).
    held: Vec<HeldConnect>,
    pub(crate) queue: VecDeque<Queued>,
    /// Writes prepared here are finalized up to this zxid: durable (standalone) or committed.
    pub(crate) ready_zxid: i64,
    pub(crate) persist: Option<std::sync::mpsc::Sender<Persist>>,
    pub(crate) snap: FileSnap,
    pub(crate) tree_config: TreeConfig,
    /// The ensemble role and its links; `None` for a standalone server.
    pub(crate) peer: Option<crate::quorum::Peer>,
    /// Set when the data directory cannot be written: the server stops.
    pub(crate) fatal: Option<String>,
    snapshotter: SnapshotThread,
    pub(crate) stats: Arc<Stats>,
    /// Whether connection tasks may answer plain reads (an ensemble member only while serving).
    pub(crate) serving: Arc<std::sync::atomic::AtomicBool>,
    pub(crate) started: Instant,
    pub(crate) snap_dir: PathBuf,
    pub(crate) log_dir: PathBuf,
    pub(crate) digests: VecDeque<(Zxid, i64)>,
    /// Txns whose recorded digest differed from the tree's once applied (at load and live),
    /// as `DataTree.compareDigest` counts them for `zk_digest_mismatches_count`.
    pub(crate) digest_mismatches: u64,
    pub(crate) sasl_users: HashMap<String, String>,
    hard_cap: usize,
    /// The counters and summaries of `mntr` and `/metrics`, shared with the sync thread and the
    /// connection tasks.
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
    /// `ZooTrace`'s text trace mask (`gtmk`, `stmk`, the trace-mask admin commands).
    pub(crate) trace_mask: i64,
    /// The client port bound (`clientPort=0` picks one).
    pub(crate) bound_client_port: Option<u16>,
    /// Ensemble timings: when the election began (`election_time`), when this server began to
    /// lead (`leader_uptime`), when it connected to its leader (`follower_sync_time`).
    pub(crate) looking_since: Option<Instant>,
    pub(crate) leading_since: Option<Instant>,
    pub(crate) syncing_since: Option<Instant>,
    /// `Leader.proposalStats`: sizes of the txns proposed.
    pub(crate) proposal_sizes: crate::metrics::BufferStats,
}

/// What `Core::open` builds: the core, the persistence thread's handle and its reports.
pub(crate) struct Opened {
    pub(crate) core: Core,
    pub(crate) durable: mpsc::UnboundedReceiver<Durable>,
    pub(crate) persist_thread: std::thread::JoinHandle<()>,
    /// The start-up snapshot being written in the background, if one was needed.
    pub(crate) startup_snapshot: Option<zk_persistence::SnapshotJob>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Persist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Persist")
    }
}

fn persistence_thread(
    mut store: FileTxnSnapLog,
    rx: std::sync::mpsc::Receiver<Persist>,
    tx: mpsc::UnboundedSender<Durable>,
    metrics: Arc<crate::metrics::Metrics>,
    fsync_warning: Duration,
) {
    // The write and fsync of one group commit (`fsynctime`; above fsync.warningthresholdms it
    // counts in `fsync_threshold_exceed_count`).
    let commit = |store: &mut FileTxnSnapLog| {
        let started = Instant::now();
        let done = store.commit();
        let took = started.elapsed();
        metrics.fsync_time.add_duration(took);
        if took > fsync_warning {
            metrics.fsync_threshold_exceeded.inc();
        }
        done
    };
    let fail = |e: zk_persistence::Error| {
        let _ = tx.send(Durable::Failed(e.to_string()));
    };
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        let mut last = None;
        let mut snapshot_due = false;
        let mut count = 0;
        // Group commit: append what is queued (up to 1000 txns), fsync once, report.
        while let Some(command) = next.take() {
            let appended = match command {
                Persist::Payload(zxid, payload) => {
                    store.append_payload(zxid, &payload).map(|r| (zxid, r))
                }
                Persist::Flush(reply) => {
                    if let Err(e) = commit(&mut store) {
                        return fail(e);
                    }
                    let _ = reply.send(());
                    continue;
                }
                Persist::Truncate {
                    zxid,
                    reload,
                    reply,
                } => {
                    let _ = reply.send(truncate(&mut store, zxid, reload));
                    continue;
                }
            };
            match appended {
                Ok((zxid, rolled)) => {
                    snapshot_due |= rolled;
                    last = Some(zxid);
                }
                Err(e) => return fail(e),
            }
            count += 1;
            metrics.sync_processor_request_queued.inc();
            if count < 1000 {
                next = rx.try_recv().ok();
            }
        }
        if count > 0 {
            metrics.sync_processor_batch_size.add(count);
        }
        if let Err(e) = commit(&mut store) {
            return fail(e);
        }
        if let Some(zxid) = last
            && tx.send(Durable::UpTo { zxid, snapshot_due }).is_err()
        {
            return;
        }
    }
    let _ = store.commit();
}

/// TRUNC on a learner: the log loses every txn after `zxid`. Snapshots past it go too (3.8 would
/// load such a snapshot and keep txns the leader dropped), then the database is reloaded.
fn truncate(
    store: &mut FileTxnSnapLog,
    zxid: Zxid,
    reload: Option<TreeConfig>,
) -> Result<Option<zk_persistence::RestoredTree>, String> {
    store.commit().map_err(|e| e.to_string())?;
    if store.last_logged_zxid().map_err(|e| e.to_string())? > Some(zxid) {
        store.truncate_log(zxid).map_err(|e| e.to_string())?;
    }
    for (at, path) in store.snapshots().all().map_err(|e| e.to_string())? {
        if at > zxid {
            warn!(path = %path.display(), "removing a snapshot past the truncation point");
            std::fs::remove_file(&path).map_err(|e| e.to_string())?;
        }
    }
    match reload {
        None => Ok(None),
        Some(config) => zk_persistence::restore_tree(store, config)
            .map(Some)
            .map_err(|e| e.to_string()),
    }
}

fn load_sasl_users(path: &std::path::Path) -> HashMap<String, String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        warn!(path = %path.display(), "cannot read the SASL users file");
        return HashMap::new();
    };
    crate::config::parse_properties(&text).into_iter().collect()
}

impl Core {
    /// Recovers the tree from the data directories, takes the start-up snapshot and starts the
    /// persistence thread (blocking: call before serving).
    pub(crate) fn open(config: Arc<ServerConfig>) -> anyhow_free::Result<Opened> {
        let options = zk_persistence::StoreOptions {
            log: zk_persistence::LogOptions {
                prealloc_bytes: config.pre_alloc_size_kb * 1024,
                force_sync: config.force_sync,
                size_limit_bytes: (config.txn_log_size_limit_kb > 0)
                    .then(|| config.txn_log_size_limit_kb as u64 * 1024),
                fsync_warning_threshold: Duration::from_millis(config.fsync_warning_threshold_ms),
                ..Default::default()
            },
            autocreate_db: config.db_autocreate,
            trust_empty_snapshot: config.snapshot_trust_empty,
            snap_count: config.snap_count,
            snap_size_limit_kb: config.snap_size_limit_kb,
            ..Default::default()
        };
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let init_started = Instant::now();
        let mut store = FileTxnSnapLog::open(&config.data_dir, &config.data_log_dir, options)?;
        let tree_config = TreeConfig {
            extended_types_enabled: config.extended_types_enabled,
            hash_seed: wall_ms() as u64 ^ 0x9e37_79b9_7f4a_7c15,
        };
        let restored = zk_persistence::restore_tree(&mut store, tree_config)?;
        metrics.db_init_time.add_duration(init_started.elapsed());
        metrics
            .startup_txns_loaded
            .add(restored.restored.txns_replayed);
        let digest_mismatches = restored.digest_mismatches;
        let mut tree = restored.tree;
        let zxid = tree.last_processed_zxid();
        let now = 0i64;
        // Standalone servers create sessions as server 1, as 3.8 does; members as their myid.
        let tracker_id = if config.is_standalone() {
            1
        } else {
            config.server_id as u8
        };
        let mut sessions = SessionTracker::new(config.tick_ms, tracker_id, wall_ms());
        let known: Vec<(SessionId, i32)> = tree.sessions().collect();
        for (id, timeout) in &known {
            sessions.add(id.0, *timeout, now);
        }
        // Ephemerals of sessions that are gone (ZooKeeperServer.killSession at load). In an
        // ensemble the leader expires them through the log, so every tree stays the same.
        for owner in tree.ephemeral_sessions() {
            if config.is_standalone() && !sessions.contains(owner.0) {
                let header = TxnHeader {
                    client_id: owner,
                    cxid: 0,
                    zxid,
                    time: wall_ms(),
                    r#type: OpCode::CloseSession.code(),
                };
                tree.apply(&header, &TxnBody::CloseSession(None));
            }
        }
        let snap_dir = store.snap_dir().to_path_buf();
        let snap = FileSnap::new(&snap_dir);
        // The start-up snapshot (loadData's takeSnapshot) is written in the background from a
        // copy, so a large database serves at once; until it is complete the older snapshot and
        // the log recover the same state.
        let snapshotter = SnapshotThread::new();
        let mut startup_snapshot = None;
        if zxid.0 >= 0 && !snap.path_for(zxid).exists() {
            startup_snapshot = snapshotter.try_start(&snap, zxid, || {
                crate::metrics::Timed::new(tree.clone(), &metrics)
            });
        }
        let log_dir = store.log_dir().to_path_buf();
        let (ptx, prx) = std::sync::mpsc::channel();
        let (dtx, drx) = mpsc::unbounded_channel();
        let persist_thread = std::thread::Builder::new().name("sync".into()).spawn({
            let metrics = metrics.clone();
            let fsync_warning = Duration::from_millis(config.fsync_warning_threshold_ms);
            move || persistence_thread(store, prx, dtx, metrics, fsync_warning)
        })?;
        let mut sasl_users = config
            .sasl_users_file
            .as_deref()
            .map(load_sasl_users)
            .unwrap_or_default();
        if let Some(jaas) = config.jaas_config.as_deref() {
            match std::fs::read_to_string(jaas) {
                Ok(text) => sasl_users.extend(crate::sasl::jaas_digest_users(&text)),
                Err(e) => warn!(path = %jaas.display(), error = %e, "cannot read the JAAS file"),
            }
        }
        let core = Core {
            prep_config: PrepConfig {
                extended_types_enabled: config.extended_types_enabled,
                enforce_quota: config.enforce_quota,
                skip_acl: config.skip_acl,
                digest_enabled: config.digest_enabled,
                close_session_txn_enabled: config.close_session_txn_enabled,
                sasl_enabled: config
                    .auth_providers
                    .iter()
                    .any(|p| p.ends_with("SASLAuthenticationProvider")),
            },
            hard_cap: hard_cap(config.jute_max_buffer),
            next_zxid: zxid.0.max(0) + 1,
            ready_zxid: zxid.0,
            tree_config,
            peer: None,
            fatal: None,
            tree: Arc::new(SharedTree::new(tree)),
            pending: PendingChanges::new(),
            sessions,
            session_conn: IdMap::default(),
            conns: IdMap::default(),
            held: Vec::new(),
            queue: VecDeque::new(),
            persist: Some(ptx),
            snap,
            snapshotter,
            stats: Arc::new(Stats::default()),
            serving: Arc::new(std::sync::atomic::AtomicBool::new(config.is_standalone())),
            started: Instant::now(),
            snap_dir,
            log_dir,
            digests: VecDeque::new(),
            digest_mismatches,
            sasl_users,
            metrics,
            trace_mask: 306,
            bound_client_port: None,
            looking_since: None,
            leading_since: None,
            syncing_since: None,
            proposal_sizes: crate::metrics::BufferStats::default(),
            config,
        };
        Ok(Opened {
            core,
            durable: drx,
            persist_thread,
            startup_snapshot,
        })
    }

    /// Milliseconds on the core's monotonic clock (session expiry).
    pub(crate) fn now(&self) -> i64 {
        self.started.elapsed().as_millis() as i64
    }

    pub(crate) fn last_zxid(&self) -> i64 {
        self.tree.read().last_processed_zxid().0
    }

    pub(crate) fn outstanding(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn send(&mut self, conn: ConnId, frame: Bytes) {
        let cap = self.hard_cap;
        if let Some(c) = self.conns.get_mut(&conn) {
            c.shared.stats.count_sent();
            self.stats.count_sent();
            self.metrics.record_response(frame.len());
            if !c.out.send(frame, cap) {
                c.out.abort();
            }
        }
    }

    pub(crate) fn close_conn(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get(&conn) {
            c.out.close();
        }
    }

    /// Handles one message from a connection.
    pub(crate) fn handle(&mut self, msg: ToCore) {
        match msg {
            ToCore::Connect(connect) => self.connect(connect),
            ToCore::Touch { conn } => self.touch(conn),
            ToCore::Backup { reply } => {
                let copy = self.is_serving().then(|| {
                    let tree = self.tree.read();
                    (tree.last_processed_zxid(), Box::new(tree.clone()))
                });
                let _ = reply.send(copy);
            }
            ToCore::Request {
                conn,
                header,
                body,
                permit,
            } => self.request(conn, header, body, permit),
            ToCore::Closed { conn } => self.closed(conn),
            ToCore::FourLetter { word, addr, reply } => {
                // Like NIOServerCnxn: the word is a received packet, its answer a sent one.
                self.stats.count_received();
                let text = self.four_letter(&word, addr);
                self.stats.count_sent();
                let _ = reply.send(text);
            }
            ToCore::Admin { command, reply } => {
                let _ = reply.send(self.admin(&command));
            }
            ToCore::Metrics { reply } => {
                let _ = reply.send(self.prometheus_text());
            }
        }
    }

    fn connect(&mut self, connect: Connect) {
        if !self.is_serving() {
            // 3.8 closes it at once ("ZooKeeperServer not running"), and a client that finds
            // every member electing backs off for hundreds of milliseconds, much longer than an
            // election after a leader's crash takes. Held for up to a tick (a third of the
            // session timeout at most, so a client still has time to try another member), it is
            // answered as soon as this member serves.
            let requested = i64::from(connect.request.time_out.max(0));
            let hold = i64::from(self.config.tick_ms).min(requested / 3);
            debug!(addr = %connect.addr, hold_ms = hold, "holding a client connection until this member has a leader");
            self.held.push(HeldConnect {
                connect,
                until: self.now() + hold,
            });
            return;
        }
        let Connect {
            conn,
            addr,
            request,
            read_only_flag,
            out,
            shared,
        } = connect;
        let last = self.last_zxid();
        if request.last_zxid_seen.0 > last {
            info!(
                %addr,
                client_zxid = %request.last_zxid_seen,
                server_zxid = last,
                "refusing session request: the client has seen a newer zxid; it must try another server"
            );
            out.close();
            return;
        }
        let timeout = request.time_out.clamp(
            self.config.min_session_timeout_ms,
            self.config.max_session_timeout_ms,
        );
        shared.add_auth(Id::new("ip", addr.ip().to_string()));
        let c = Conn {
            out,
            addr,
            shared,
            timeout_ms: timeout,
            read_only_flag,
            established_ms: wall_ms(),
            outstanding: 0,
            sasl: None,
        };
        c.shared.stats.count_received();
        self.stats.count_received();
        self.metrics.connection_request_count.inc();
        let sid = request.session_id.0;
        if sid == 0 {
            let id = self.sessions.next_session_id();
            self.conns.insert(conn, c);
            if self.is_learner() {
                self.forward_create_session(conn, id, timeout);
                return;
            }
            self.sessions.add(id, timeout, self.now());
            let prepared = self.prep_write(
                id,
                0,
                Ok(()),
                &WriteRequest::CreateSession {
                    timeout_ms: timeout,
                },
                &[],
            );
            self.enqueue_write(
                prepared.0,
                prepared.1,
                Origin::NewSession {
                    conn,
                    timeout_ms: timeout,
                    permit: None,
                },
            );
            return;
        }
        // Reconnect: the session's other connection goes first, then the password check.
        if let Some(old) = self.session_conn.remove(&sid)
            && old != conn
        {
            info!(
                session = format!("0x{sid:x}"),
                "closing the previous connection of a session that reconnected"
            );
            self.close_conn(old);
            if let Some(o) = self.conns.get_mut(&old) {
                o.set_session(None);
            }
        }
        let password_ok = request.passwd.as_ref() == session_password(sid).as_slice();
        if password_ok && self.is_learner() {
            // The leader owns the sessions: ask it (REVALIDATE), answer when it replies.
            self.conns.insert(conn, c);
            self.revalidate(conn, sid, timeout);
            return;
        }
        let valid = self.sessions.is_live(sid) && password_ok;
        self.conns.insert(conn, c);
        self.reconnected(conn, sid, valid);
    }

    /// Answers a reconnect once the session is known to be valid or not.
    pub(crate) fn reconnected(&mut self, conn: ConnId, sid: i64, valid: bool) {
        let now = self.now();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !valid {
            info!(
                session = format!("0x{sid:x}"),
                "invalid session or password: telling the client its session expired"
            );
            let frame = connect_response(0, 0, [0u8; 16], c.read_only_flag);
            let _ = c.out.send(frame, usize::MAX);
            c.out.close();
            return;
        }
        let timeout = c.timeout_ms;
        c.set_session(Some(sid));
        let frame = connect_response(timeout, sid, session_password(sid), c.read_only_flag);
        let _ = c.out.send(frame, usize::MAX);
        c.shared.stats.count_sent();
        if !self.sessions.touch(sid, timeout, now) {
            self.sessions.add(sid, timeout, now);
        }
        self.session_conn.insert(sid, conn);
    }

    /// A connection answered reads itself (`ToCore::Touch`): its session is active.
    fn touch(&mut self, conn: ConnId) {
        let now = self.now();
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let (sid, timeout) = (c.session(), c.timeout_ms);
        if let Some(sid) = sid {
            self.sessions.touch(sid, timeout, now);
            self.learner_touch(sid, timeout);
        }
    }

    /// Answers the connections held while there was no leader (call once serving), and closes
    /// those held past their time, as 3.8 closes them when it does not serve.
    pub(crate) fn release_held(&mut self) {
        if self.is_serving() {
            for h in std::mem::take(&mut self.held) {
                self.connect(h.connect);
            }
            return;
        }
        let now = self.now();
        self.held.retain(|h| {
            let keep = now < h.until;
            if !keep {
                debug!(addr = %h.connect.addr, "closing a client connection: this server is not serving (no leader)");
                h.connect.out.close();
            }
            keep
        });
    }

    fn closed(&mut self, conn: ConnId) {
        self.held.retain(|h| h.connect.conn != conn);
        if let Some(c) = self.conns.remove(&conn) {
            self.tree.write().remove_watcher(WatcherId(conn));
            if let Some(sid) = c.session()
                && self.session_conn.get(&sid) == Some(&conn)
            {
                self.session_conn.remove(&sid);
            }
        }
    }

    fn session_check(&self, conn: ConnId) -> (i64, Result<(), ErrorCode>) {
        match self.conns.get(&conn).and_then(|c| c.session()) {
            Some(sid) if self.sessions.is_live(sid) => (sid, Ok(())),
            Some(sid) => (sid, Err(ErrorCode::SessionExpired)),
            None => (0, Err(ErrorCode::SessionExpired)),
        }
    }

    pub(crate) fn prep_write(
        &mut self,
        session: i64,
        cxid: i32,
        check: Result<(), ErrorCode>,
        request: &WriteRequest,
        auth: &[Id],
    ) -> (TxnEntry, Option<ErrorCode>) {
        let zxid = Zxid(self.next_zxid);
        self.next_zxid += 1;
        let ctx = RequestContext {
            session_id: SessionId(session),
            cxid,
            zxid,
            time_ms: wall_ms(),
            auth,
            session: SessionCheck {
                session: check,
                global: check,
            },
        };
        let started = Instant::now();
        let prepared = prep(
            &self.tree.read(),
            &mut self.pending,
            &self.prep_config,
            &ctx,
            request,
        );
        self.metrics
            .prep_process_time
            .add_duration(started.elapsed());
        self.metrics.prep_processor_request_queued.inc();
        for w in &prepared.quota_warnings {
            warn!("quota exceeded: {w:?}");
        }
        (prepared.entry, prepared.error)
    }

    /// An ErrorTxn that consumes a zxid (a write whose body does not parse, reconfig).
    fn error_write(
        &mut self,
        session: i64,
        cxid: i32,
        code: ErrorCode,
    ) -> (TxnEntry, Option<ErrorCode>) {
        let zxid = Zxid(self.next_zxid);
        self.next_zxid += 1;
        let entry = TxnEntry {
            header: TxnHeader {
                client_id: SessionId(session),
                cxid,
                zxid,
                time: wall_ms(),
                r#type: OpCode::Error.code(),
            },
            body: TxnBody::Error(ErrorTxn { err: code.code() }),
            digest: None,
        };
        (entry, Some(code))
    }

    pub(crate) fn enqueue_write(
        &mut self,
        entry: TxnEntry,
        error: Option<ErrorCode>,
        origin: Origin,
    ) {
        if self.peer.is_some() {
            if !self.propose(&entry) {
                // No established leadership to propose in: the client learns by reconnecting.
                if let Some(conn) = origin.conn() {
                    self.close_conn(conn);
                }
                return;
            }
        } else if let Some(p) = &self.persist {
            // Serialized here rather than cloned: the log wants bytes, the queue the entry.
            let _ = p.send(Persist::Payload(entry.header.zxid, entry.to_bytes()));
        }
        self.queue.push_back(Queued::Write {
            entry,
            error,
            origin,
        });
    }

    fn request(
        &mut self,
        conn: ConnId,
        header: RequestHeader,
        body: Bytes,
        permit: Option<OwnedSemaphorePermit>,
    ) {
        let now = self.now();
        let Some(c) = self.conns.get_mut(&conn) else {
            if let Some(i) = self.held.iter().position(|h| h.connect.conn == conn) {
                warn!(conn, "request before the session is established; closing");
                self.held.swap_remove(i).connect.out.close();
            }
            return;
        };
        c.shared.stats.count_received();
        self.stats.count_received();
        let Some(sid) = c.session() else {
            // Still waiting for its session to be created: 3.8 would not read yet.
            warn!(conn, "request before the session is established; closing");
            c.out.close();
            return;
        };
        let timeout = c.timeout_ms;
        self.sessions.touch(sid, timeout, now);
        self.learner_touch(sid, timeout);
        let xid = header.xid.0;
        let op = OpCode::try_from(header.r#type).ok();
        match op {
            Some(OpCode::Auth) => return self.auth(conn, body),
            Some(OpCode::Sasl) => return self.sasl(conn, xid, body),
            _ => {}
        }
        let Some(op) = op.filter(|op| !matches!(op, OpCode::Notification | OpCode::Error)) else {
            info!(
                conn,
                op = header.r#type,
                "unknown opcode: answering Unimplemented and closing"
            );
            let frame = reply_empty(xid, -1, ErrorCode::Unimplemented.code());
            self.send(conn, frame);
            self.close_conn(conn);
            return;
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            if xid >= 0 {
                c.shared.set_cxid(i64::from(xid));
            }
            c.outstanding += 1;
        }
        let arrived = Instant::now();
        if !op.is_write() || op == OpCode::CreateSession {
            if op == OpCode::CreateSession {
                let frame = reply_empty(xid, -1, ErrorCode::Unimplemented.code());
                self.send(conn, frame);
                self.close_conn(conn);
                return;
            }
            if op == OpCode::Sync && self.is_learner() {
                return self.forward_sync(conn, header, body, permit, arrived);
            }
            let read = Queued::Read {
                conn,
                header,
                body,
                permit,
                arrived,
            };
            if self.queue.is_empty() {
                self.finalize(read);
            } else {
                self.queue.push_back(read);
            }
            return;
        }
        let (_, check) = self.session_check(conn);
        let auth = self
            .conns
            .get(&conn)
            .map(|c| c.shared.auth())
            .unwrap_or_default();
        let origin = Origin::Client {
            conn,
            xid,
            op,
            permit,
            arrived,
        };
        if self.is_learner() {
            return self.forward_write(sid, xid, op, body, &auth, origin);
        }
        let (entry, error) = self.prep_client_write(sid, xid, op, &body, check, &auth);
        self.enqueue_write(entry, error, origin);
    }

    /// PrepRequestProcessor for a client write, here or forwarded by a learner.
    pub(crate) fn prep_client_write(
        &mut self,
        sid: i64,
        cxid: i32,
        op: OpCode,
        body: &Bytes,
        check: Result<(), ErrorCode>,
        auth: &[Id],
    ) -> (TxnEntry, Option<ErrorCode>) {
        match decode_write(op, body) {
            Ok(WriteKind::Request(request)) => {
                if matches!(request, WriteRequest::CloseSession) {
                    self.sessions.set_closing(sid);
                }
                self.prep_write(sid, cxid, check, &request, auth)
            }
            Ok(WriteKind::Reconfig) => {
                let code = if !self.config.reconfig_enabled {
                    ErrorCode::ReconfigDisabled
                } else {
                    ErrorCode::Unimplemented
                };
                self.error_write(sid, cxid, code)
            }
            Err(()) => self.error_write(sid, cxid, ErrorCode::MarshallingError),
        }
    }

    fn auth(&mut self, conn: ConnId, body: Bytes) {
        let Ok(packet) = AuthPacket::from_bytes(&body) else {
            self.send(conn, reply_empty(-4, 0, ErrorCode::AuthFailed.code()));
            self.close_conn(conn);
            return;
        };
        let super_digest = self.config.super_digest.clone();
        let ids = match packet.scheme.as_str() {
            "digest" => Some(digest_auth_ids(&packet.auth, super_digest.as_deref())),
            "ip" => self
                .conns
                .get(&conn)
                .map(|c| vec![Id::new("ip", c.addr.ip().to_string())]),
            _ => None,
        };
        match ids {
            Some(ids) => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    for id in ids {
                        c.shared.add_auth(id);
                    }
                }
                self.send(conn, reply_empty(-4, 0, 0));
            }
            None => {
                self.metrics.auth_failed.inc();
                warn!(
                    scheme = packet.scheme,
                    "authentication failed: no provider for this scheme"
                );
                self.send(conn, reply_empty(-4, 0, ErrorCode::AuthFailed.code()));
                self.close_conn(conn);
            }
        }
    }

    fn sasl(&mut self, conn: ConnId, xid: i32, body: Bytes) {
        let Ok(request) = GetSaslRequest::from_bytes(&body) else {
            self.close_conn(conn);
            return;
        };
        let users = self.sasl_users.clone();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let server = c.sasl.get_or_insert_with(|| SaslServer::new(users));
        let token = request.token.unwrap_or_default();
        match server.step(&token) {
            Ok((response, done)) => {
                if let Some(user) = done {
                    let id = Id::new("sasl", user);
                    c.shared.add_auth(id);
                }
                let last = self.last_zxid();
                let frame = reply(
                    xid,
                    last,
                    0,
                    Some(&SetSaslResponse {
                        token: Some(response),
                    }),
                );
                self.send(conn, frame);
            }
            Err(why) => {
                self.metrics.auth_failed.inc();
                warn!(conn, "SASL authentication failed: {why}");
                self.send(conn, reply_empty(xid, 0, ErrorCode::AuthFailed.code()));
                self.close_conn(conn);
            }
        }
    }

    /// The persistence thread made txns durable up to `zxid`: finalize what waits for them
    /// (standalone), or tell ZAB, which commits once a quorum has them (ensemble).
    pub(crate) fn durable(&mut self, zxid: Zxid, snapshot_due: bool) {
        if self.peer.is_some() {
            self.logged(zxid);
        } else {
            self.ready_zxid = zxid.0;
            self.drain_ready();
        }
        if snapshot_due {
            let at = self.tree.read().last_processed_zxid();
            info!(zxid = %at, "creating a new snapshot in the background");
            let _ = self.snapshotter.try_start(&self.snap, at, || {
                crate::metrics::Timed::new(self.tree.read().clone(), &self.metrics)
            });
        }
    }

    /// Finalizes the requests at the head of the queue that are ready, in arrival order.
    pub(crate) fn drain_ready(&mut self) {
        while let Some(front) = self.queue.front() {
            let ready = match front {
                Queued::Write { entry, .. } => entry.header.zxid.0 <= self.ready_zxid,
                Queued::Read { .. } => true,
                Queued::Forwarded { done, .. } => done.is_some(),
                Queued::Sync { done, .. } => *done,
            };
            if !ready {
                break;
            }
            let item = self.queue.pop_front().expect("front exists");
            self.finalize(item);
        }
    }

    fn route_events(&mut self, events: Vec<WatchNotification>) {
        // WatchManager.triggerWatch: how many watchers each (path, event type) woke.
        let mut fired: HashMap<(&str, i32), u64> = HashMap::new();
        for ev in &events {
            *fired.entry((&ev.event.path, ev.event.r#type)).or_insert(0) += 1;
        }
        for ((_, kind), n) in fired {
            let summary = match zk_jute::EventType::try_from(kind) {
                Ok(zk_jute::EventType::NodeCreated) => &self.metrics.node_created_watch_count,
                Ok(zk_jute::EventType::NodeDeleted) => &self.metrics.node_deleted_watch_count,
                Ok(zk_jute::EventType::NodeDataChanged) => &self.metrics.node_changed_watch_count,
                Ok(zk_jute::EventType::NodeChildrenChanged) => {
                    &self.metrics.node_children_watch_count
                }
                _ => continue,
            };
            summary.add(n);
        }
        for ev in events {
            let frame = reply(-1, ev.zxid.0, 0, Some(&ev.event));
            self.metrics.watch_bytes.add(frame.len() as u64);
            self.send(ev.watcher.0, frame);
        }
    }

    fn finalize(&mut self, item: Queued) {
        match item {
            Queued::Read {
                conn,
                header,
                body,
                permit,
                arrived,
            }
            | Queued::Sync {
                conn,
                header,
                body,
                permit,
                arrived,
                ..
            } => {
                self.read(conn, header, body, arrived);
                drop(permit);
            }
            Queued::Write {
                entry,
                error,
                origin,
            } => {
                let result = self.apply_entry(&entry, origin.conn());
                self.respond(origin, &result, error);
            }
            Queued::Forwarded { origin, done, .. } => {
                if let Some(result) = done {
                    self.respond(origin, &result, None);
                }
            }
        }
    }

    /// Applies a txn to the tree: checks its digest, routes the watch events it fired and ends
    /// a closed session's connection (unless `origin` is that connection, which gets its reply
    /// first).
    pub(crate) fn apply_entry(
        &mut self,
        entry: &TxnEntry,
        origin: Option<ConnId>,
    ) -> zk_datatree::TxnResult {
        // The events are queued before the lock is released: a connection that answers a read
        // of the new state itself then has the event ahead of that reply, as ZooKeeper promises.
        let shared = self.tree.clone();
        let mut tree = shared.write();
        let applied = tree.apply(&entry.header, &entry.body);
        let digest = tree.digest();
        self.route_events(applied.events);
        drop(tree);
        self.pending.applied(entry.header.zxid);
        let zxid = entry.header.zxid.0;
        if entry
            .digest
            .as_ref()
            .is_some_and(|d| d.tree_digest != digest)
        {
            self.digest_mismatches += 1;
        }
        // DataTree.logZxidDigest: every 128th zxid, the last 1024 of them.
        if entry.digest.is_some() && zxid % 128 == 0 {
            self.digests.push_back((entry.header.zxid, digest));
            if self.digests.len() > 1024 {
                self.digests.pop_front();
            }
        }
        if entry.header.r#type == OpCode::CloseSession.code() {
            let sid = entry.header.client_id.0;
            self.sessions.remove(sid);
            if let Some(conn) = self.session_conn.remove(&sid) {
                if origin != Some(conn) {
                    self.close_conn(conn);
                }
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.set_session(None);
                }
            }
        }
        applied.result
    }

    /// Answers whoever waited for a txn. `error` is the prep error of a txn prepared here; a
    /// learner takes the error from the committed txn.
    fn respond(
        &mut self,
        origin: Origin,
        result: &zk_datatree::TxnResult,
        error: Option<ErrorCode>,
    ) {
        let zxid = result.zxid.0;
        match origin {
            Origin::Internal => {}
            Origin::NewSession {
                conn,
                timeout_ms,
                permit,
            } => {
                drop(permit);
                let sid = result.client_id.0;
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                c.set_session(Some(sid));
                let flag = c.read_only_flag;
                self.session_conn.insert(sid, conn);
                let frame = connect_response(timeout_ms, sid, session_password(sid), flag);
                self.send(conn, frame);
                info!(
                    session = format!("0x{sid:x}"),
                    timeout_ms, "established a new session"
                );
            }
            Origin::Client {
                conn,
                xid,
                op,
                permit,
                arrived,
            } => {
                drop(permit);
                let err = match op {
                    OpCode::Multi => 0,
                    _ => error.map_or(result.err, |code| code.code()),
                };
                let frame = if err != 0 {
                    reply_empty(xid, zxid, err)
                } else {
                    match op {
                        OpCode::Create => reply(
                            xid,
                            zxid,
                            0,
                            Some(&CreateResponse {
                                path: result.path.clone().unwrap_or_default(),
                            }),
                        ),
                        OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => reply(
                            xid,
                            zxid,
                            0,
                            Some(&Create2Response {
                                path: result.path.clone().unwrap_or_default(),
                                stat: result.stat.clone().unwrap_or_default(),
                            }),
                        ),
                        OpCode::SetData => reply(
                            xid,
                            zxid,
                            0,
                            Some(&SetDataResponse {
                                stat: result.stat.clone().unwrap_or_default(),
                            }),
                        ),
                        OpCode::SetAcl => reply(
                            xid,
                            zxid,
                            0,
                            Some(&SetAclResponse {
                                stat: result.stat.clone().unwrap_or_default(),
                            }),
                        ),
                        OpCode::Multi => {
                            let results = result.multi_results();
                            reply(xid, zxid, 0, Some(&MultiResponse { results }))
                        }
                        _ => reply_empty(xid, zxid, 0),
                    }
                };
                self.answered(conn, op, xid, zxid, arrived);
                self.send(conn, frame);
                if op == OpCode::CloseSession {
                    self.close_conn(conn);
                }
            }
        }
    }

    fn answered(&mut self, conn: ConnId, op: OpCode, _xid: i32, zxid: i64, arrived: Instant) {
        let ms = arrived.elapsed().as_millis() as u64;
        self.stats.record(ms);
        // ServerStats.updateLatency: requests with a txn are updates, the others reads.
        if op.is_write() {
            self.metrics.update_latency.add(ms);
        } else {
            self.metrics.read_latency.add(ms);
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.shared.stats.record(ms);
            let cxid = c.shared.last().cxid;
            c.shared.set_last(LastOp {
                op: op_name(op),
                cxid,
                zxid,
                response_ms: wall_ms(),
                latency: ms,
            });
            c.outstanding = c.outstanding.saturating_sub(1);
        }
    }

    fn read(&mut self, conn: ConnId, header: RequestHeader, body: Bytes, arrived: Instant) {
        let xid = header.xid.0;
        let Ok(op) = OpCode::try_from(header.r#type) else {
            return;
        };
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let auth = c.shared.auth();
        let sid = c.session().unwrap_or(0);
        let watcher = WatcherId(conn);
        let frame = match self.read_reply(op, xid, &body, &auth, sid, watcher) {
            Ok(f) => f,
            Err(code) => reply_empty(xid, self.last_zxid(), code.code()),
        };
        self.answered(conn, op, xid, self.last_zxid(), arrived);
        self.send(conn, frame);
    }

    fn read_reply(
        &mut self,
        op: OpCode,
        xid: i32,
        body: &[u8],
        auth: &[Id],
        sid: i64,
        watcher: WatcherId,
    ) -> Result<Bytes, ErrorCode> {
        let m = |_| ErrorCode::MarshallingError;
        let w = |watch: bool| watch.then_some(watcher);
        let z = self.last_zxid();
        Ok(match op {
            OpCode::Ping => reply_empty(xid, z, 0),
            OpCode::Exists => {
                let r = ExistsRequest::from_bytes(body).map_err(m)?;
                let stat = self.tree.write().exists(&r.path, w(r.watch))?;
                reply(xid, z, 0, Some(&ExistsResponse { stat }))
            }
            OpCode::GetData => {
                let r = GetDataRequest::from_bytes(body).map_err(m)?;
                let (data, stat) = self.tree.write().get_data(&r.path, auth, w(r.watch))?;
                reply(xid, z, 0, Some(&GetDataReply { data, stat }))
            }
            OpCode::GetAcl => {
                let r = GetAclRequest::from_bytes(body).map_err(m)?;
                let (acl, stat) = self.tree.read().get_acl(&r.path, auth)?;
                reply(xid, z, 0, Some(&GetAclResponse { acl, stat }))
            }
            OpCode::GetChildren => {
                let r = GetChildrenRequest::from_bytes(body).map_err(m)?;
                let (children, _) = self.tree.write().get_children(&r.path, auth, w(r.watch))?;
                reply(xid, z, 0, Some(&GetChildrenResponse { children }))
            }
            OpCode::GetChildren2 => {
                let r = GetChildren2Request::from_bytes(body).map_err(m)?;
                let (children, stat) = self.tree.write().get_children(&r.path, auth, w(r.watch))?;
                reply(xid, z, 0, Some(&GetChildren2Response { children, stat }))
            }
            OpCode::Sync => {
                let r = SyncRequest::from_bytes(body).map_err(m)?;
                reply(xid, z, 0, Some(&SyncResponse { path: r.path }))
            }
            OpCode::CheckWatches | OpCode::RemoveWatches => {
                let r = CheckWatchesRequest::from_bytes(body).map_err(m)?;
                let ty = WatcherType::try_from(r.r#type).map_err(|_| ErrorCode::BadArguments)?;
                if op == OpCode::CheckWatches {
                    self.tree.write().check_watches(&r.path, ty, watcher)?;
                } else {
                    self.tree.write().remove_watches(&r.path, ty, watcher)?;
                }
                reply_empty(xid, z, 0)
            }
            OpCode::MultiRead => {
                let r = MultiRequest::from_bytes(body).map_err(m)?;
                if r.ops.iter().any(|o| !o.is_read()) {
                    return Err(ErrorCode::MarshallingError);
                }
                let results = self.tree.write().multi_read(&r.ops, auth, watcher);
                reply(xid, z, 0, Some(&MultiResponse { results }))
            }
            OpCode::SetWatches | OpCode::SetWatches2 => {
                let r = if op == OpCode::SetWatches {
                    let s = SetWatches::from_bytes(body).map_err(m)?;
                    SetWatches2 {
                        relative_zxid: s.relative_zxid,
                        data_watches: s.data_watches,
                        exist_watches: s.exist_watches,
                        child_watches: s.child_watches,
                        persistent_watches: Vec::new(),
                        persistent_recursive_watches: Vec::new(),
                    }
                } else {
                    SetWatches2::from_bytes(body).map_err(m)?
                };
                let events = self.tree.write().set_watches(r.relative_zxid, &r, watcher);
                self.route_events(events);
                reply_empty(xid, z, 0)
            }
            OpCode::GetEphemerals => {
                let r = GetEphemeralsRequest::from_bytes(body).map_err(m)?;
                let ephemerals = self
                    .tree
                    .read()
                    .get_ephemerals(SessionId(sid), &r.prefix_path);
                reply(xid, z, 0, Some(&GetEphemeralsResponse { ephemerals }))
            }
            OpCode::GetAllChildrenNumber => {
                let r = GetAllChildrenNumberRequest::from_bytes(body).map_err(m)?;
                let total_number = self.tree.read().get_all_children_number(&r.path, auth)?;
                reply(
                    xid,
                    z,
                    0,
                    Some(&GetAllChildrenNumberResponse { total_number }),
                )
            }
            OpCode::AddWatch => {
                let r = AddWatchRequest::from_bytes(body).map_err(m)?;
                let mode = AddWatchMode::try_from(r.mode).map_err(|_| ErrorCode::BadArguments)?;
                self.tree.write().add_watch(&r.path, mode, watcher);
                reply(xid, z, 0, Some(&ErrorResponse { err: 0 }))
            }
            OpCode::WhoAmI => {
                let client_info = auth
                    .iter()
                    .map(|id| ClientInfo {
                        auth_scheme: id.scheme.clone(),
                        user: match id.scheme.as_str() {
                            "digest" => id.id.split(':').next().unwrap_or_default().to_owned(),
                            _ => id.id.clone(),
                        },
                    })
                    .collect();
                reply(xid, z, 0, Some(&WhoAmIResponse { client_info }))
            }
            _ => return Err(ErrorCode::Unimplemented),
        })
    }

    /// Expires sessions whose time has come (called every tick).
    pub(crate) fn tick(&mut self) {
        self.release_held();
        if !self.leads() {
            return;
        }
        let now = self.now();
        for sid in self.sessions.expire(now) {
            info!(
                session = format!("0x{sid:x}"),
                "expiring session, timeout exceeded"
            );
            let (entry, error) = self.prep_write(sid, 0, Ok(()), &WriteRequest::CloseSession, &[]);
            self.enqueue_write(entry, error, Origin::Internal);
        }
    }

    /// ContainerManager: deletes empty containers that once had children, and expired TTL nodes.
    pub(crate) fn reap_containers(&mut self) {
        if !self.leads() {
            return;
        }
        let now = wall_ms();
        let mut candidates = Vec::new();
        for path in self.tree.read().containers() {
            if let Some(stat) = self.tree.read().stat(&path)
                && stat.cversion > 0
                && stat.num_children == 0
            {
                candidates.push(path);
            }
        }
        for path in self.tree.read().ttl_nodes() {
            if let (Some(stat), Some(NodeKind::Ttl(ttl))) =
                (self.tree.read().stat(&path), self.tree.read().kind(&path))
                && stat.num_children == 0
                && now - stat.mtime > ttl
            {
                candidates.push(path);
            }
        }
        let limit = self.config.container_max_per_minute.max(1) as usize;
        for path in candidates.into_iter().take(limit) {
            debug!(path, "deleting container or expired TTL node");
            let (entry, error) =
                self.prep_write(0, 0, Ok(()), &WriteRequest::DeleteContainer { path }, &[]);
            self.enqueue_write(entry, error, Origin::Internal);
        }
    }

    /// Stops feeding the persistence thread; it commits what it has and ends.
    pub(crate) fn stop_persisting(&mut self) {
        self.persist = None;
    }

    /// Closes every connection (shutdown).
    pub(crate) fn close_all(&mut self) {
        for c in self.conns.values() {
            c.out.close();
        }
    }

    /// A failed fsync: nothing more can be acknowledged.
    pub(crate) fn persistence_failed(&mut self, why: &str) {
        error!("the txn log failed, stopping: {why}");
    }
}

/// Small error plumbing for `Core::open`.
pub(crate) mod anyhow_free {
    #[derive(Debug, thiserror::Error)]
    pub(crate) enum OpenError {
        #[error(transparent)]
        Store(#[from] zk_persistence::Error),
        #[error("cannot start the sync thread: {0}")]
        Thread(#[from] std::io::Error),
    }
    pub(crate) type Result<T> = std::result::Result<T, OpenError>;
}

fn connect_response(timeout: i32, sid: i64, passwd: [u8; 16], flag: Option<bool>) -> Bytes {
    let mut out = BytesMut::new();
    encode_frame(&mut out, |b| {
        ConnectResponse {
            protocol_version: 0,
            time_out: timeout,
            session_id: SessionId(sid),
            passwd: Bytes::copy_from_slice(&passwd),
        }
        .write_with_flag(flag, b);
    });
    let _ = out.remaining_mut();
    out.freeze()
}

enum WriteKind {
    Request(WriteRequest),
    Reconfig,
}

/// Decodes a write request from its frame; data shares the frame's memory (no copy).
fn decode_write(op: OpCode, body: &Bytes) -> Result<WriteKind, ()> {
    fn read<R: Record>(body: &Bytes) -> Result<R, ()> {
        R::read(&mut body.clone()).map_err(|_| ())
    }
    let r = match op {
        OpCode::Create | OpCode::Create2 | OpCode::CreateContainer => WriteRequest::Create {
            op,
            request: read::<CreateRequest>(body)?,
        },
        OpCode::CreateTtl => WriteRequest::CreateTtl(read::<CreateTtlRequest>(body)?),
        OpCode::Delete => WriteRequest::Delete(read::<DeleteRequest>(body)?),
        OpCode::DeleteContainer => WriteRequest::DeleteContainer {
            path: String::from_utf8(body.to_vec()).map_err(|_| ())?,
        },
        OpCode::SetData => WriteRequest::SetData(read::<SetDataRequest>(body)?),
        OpCode::SetAcl => WriteRequest::SetAcl(read::<SetAclRequest>(body)?),
        OpCode::Check => WriteRequest::Check(read::<CheckVersionRequest>(body)?),
        OpCode::Multi => {
            let m = read::<MultiRequest>(body)?;
            if m.ops.iter().any(|o| o.is_read()) {
                return Err(());
            }
            WriteRequest::Multi(m)
        }
        OpCode::CloseSession => WriteRequest::CloseSession,
        OpCode::Reconfig => return Ok(WriteKind::Reconfig),
        _ => return Err(()),
    };
    Ok(WriteKind::Request(r))
}

/// The `lop` abbreviations of `cons` (`Request.op2String`).
pub(crate) fn op_name(op: OpCode) -> &'static str {
    match op {
        OpCode::Create | OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => "CREA",
        OpCode::Delete | OpCode::DeleteContainer => "DELE",
        OpCode::SetData => "SETD",
        OpCode::SetAcl => "SETA",
        OpCode::GetData => "GETD",
        OpCode::GetAcl => "GETA",
        OpCode::GetChildren | OpCode::GetChildren2 => "GETC",
        OpCode::GetAllChildrenNumber => "GETACN",
        OpCode::GetEphemerals => "GETE",
        OpCode::Exists => "EXIS",
        OpCode::Sync => "SYNC",
        OpCode::Ping => "PING",
        OpCode::CreateSession => "SESS",
        OpCode::CloseSession => "CLOS",
        OpCode::Multi => "MULT",
        OpCode::MultiRead => "MLTR",
        OpCode::Check => "CHEC",
        OpCode::SetWatches => "SETW",
        OpCode::SetWatches2 => "STW2",
        OpCode::AddWatch => "ADDW",
        OpCode::CheckWatches => "CHKW",
        OpCode::RemoveWatches => "REMW",
        OpCode::Reconfig => "RECO",
        OpCode::WhoAmI => "HOMI",
        _ => "NA",
    }
}
