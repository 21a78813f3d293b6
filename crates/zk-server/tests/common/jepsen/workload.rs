//! The Jepsen workload over our async client: several clients, each with one operation at a time,
//! on connect strings listing every member, recording every operation into a [`Recorder`] with its
//! invoke and complete times:
//!
//! - **registers** `/jepsen/r/reg-G-I`: a read (`sync`, then `getData`), then a compare-and-set on
//!   the version read (`setData` with that version), or a create when there is no node; now and
//!   then a blind `setData`;
//! - **counters** `/jepsen/r/ctr-G-I`: a read, then a multi of `check(version)` and
//!   `setData(value + delta)`;
//! - **sequential creates** under `/jepsen/s/G`: the sequence number of each created node;
//! - **a queue** `/jepsen/q`: puts are sequential children holding a value; a take lists the
//!   children, reads the oldest and deletes it (the next one when another client was faster).
//!
//! Keys rotate (`G` grows) after a fixed number of operations, so no key's history grows past
//! what the linearizability search handles quickly. Each client session also owns an ephemeral
//! node under `/jepsen/e`, for the check that ephemerals of expired sessions are gone; and one
//! more client makes sessions expire on purpose: it connects through a fault proxy of its own to
//! one member, creates its ephemeral, and is cut off by a black hole for longer than its session
//! timeout, until the server tells it that its session expired.
//!
//! Outcomes: a reply is `ok`; NONODE, NODEEXISTS and BADVERSION (and errors raised before anything
//! was sent) are `fail`, definitely not applied; anything else (connection loss, timeouts, an
//! expired session) is `info`, unknown, and the client goes on under a new process id.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zk_client::{Acl, Client, CreateMode, Error, OpResult, SessionState};
use zk_jepsen::{
    Ephemeral, FailReason, FinalState, History, OpKind, Outcome, Pending, ProcessId, Recorder,
    Reply, Versioned,
};
use zk_testkit::Ensemble;

pub(crate) const ROOT: &str = "/jepsen";
const REGISTERS: &str = "/jepsen/r";
const SEQUENTIAL: &str = "/jepsen/s";
pub(crate) const QUEUE: &str = "/jepsen/q";
const EPHEMERALS: &str = "/jepsen/e";

/// A value that is no number: a read of it cannot be explained by any write, so the checker
/// reports it.
const GARBAGE: i64 = i64::MIN;

/// How the workload runs.
#[derive(Debug, Clone)]
pub(crate) struct WorkloadConfig {
    pub(crate) clients: usize,
    pub(crate) session_timeout: Duration,
    /// Registers and counters in use at a time, each.
    pub(crate) keys_at_a_time: u64,
    /// Operations on a register or counter key before the keys rotate.
    pub(crate) ops_per_key: u64,
    /// Sequential creates under one parent before the next parent.
    pub(crate) creates_per_parent: u64,
    /// The most a client waits between two operations (uniformly drawn).
    pub(crate) think: Duration,
    pub(crate) seed: u64,
}

impl WorkloadConfig {
    pub(crate) fn new(clients: usize, seed: u64) -> Self {
        WorkloadConfig {
            clients,
            session_timeout: Duration::from_secs(6),
            keys_at_a_time: 3,
            ops_per_key: 150,
            creates_per_parent: 500,
            think: Duration::from_millis(10),
            seed,
        }
    }
}

#[derive(Debug, Default)]
struct Keys {
    registers: BTreeSet<String>,
    sequential_parents: BTreeSet<String>,
}

#[derive(Debug)]
struct Shared {
    config: WorkloadConfig,
    connect: String,
    recorder: Recorder,
    stop: AtomicBool,
    next_value: AtomicI64,
    next_process: AtomicU32,
    register_ops: AtomicU64,
    counter_ops: AtomicU64,
    sequential_ops: AtomicU64,
    keys: Mutex<Keys>,
    /// Sessions the servers said expired.
    expired: Mutex<BTreeSet<i64>>,
    sessions: AtomicU64,
    /// Per client, the operations acknowledged so far.
    acked: Vec<AtomicU64>,
    /// Client ports of the members, for the expiring client.
    members: Vec<std::net::SocketAddr>,
}

/// The running workload.
#[derive(Debug)]
pub(crate) struct Workload {
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Outcome classes of client errors.
fn outcome_of(e: &Error) -> Outcome {
    match e {
        Error::NoNode => Outcome::Fail(FailReason::NoNode),
        Error::NodeExists => Outcome::Fail(FailReason::NodeExists),
        Error::BadVersion => Outcome::Fail(FailReason::BadVersion),
        Error::Multi { source, .. } => outcome_of(source),
        // Refused by the client before sending.
        Error::InvalidArgument(_) => Outcome::Fail(FailReason::Other(e.to_string())),
        _ => Outcome::Info(e.to_string()),
    }
}

fn parse_value(data: &[u8]) -> i64 {
    std::str::from_utf8(data)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(GARBAGE)
}

/// The sequence number at the end of a sequential node's path.
fn sequence_of(path: &str) -> Option<u64> {
    let digits = path.get(path.len().checked_sub(10)?..)?;
    digits.parse().ok()
}

impl Workload {
    /// Creates the parent nodes and starts the clients.
    pub(crate) async fn start(connect: String, config: WorkloadConfig) -> Workload {
        let members = connect
            .split(',')
            .map(|a| a.parse().expect("a member's client address"))
            .collect();
        let setup = Client::builder(connect.as_str())
            .session_timeout(config.session_timeout)
            .connect_timeout(Duration::from_secs(30))
            .connect()
            .await
            .expect("connect for the setup");
        for path in [ROOT, REGISTERS, SEQUENTIAL, QUEUE, EPHEMERALS] {
            setup
                .create(path, b"", &Acl::open_unsafe(), CreateMode::Persistent)
                .await
                .unwrap_or_else(|e| panic!("create {path}: {e}"));
        }
        setup.close().await;
        let shared = Arc::new(Shared {
            acked: (0..config.clients).map(|_| AtomicU64::new(0)).collect(),
            config,
            connect,
            recorder: Recorder::new(),
            stop: AtomicBool::new(false),
            next_value: AtomicI64::new(1),
            next_process: AtomicU32::new(0),
            register_ops: AtomicU64::new(0),
            counter_ops: AtomicU64::new(0),
            sequential_ops: AtomicU64::new(0),
            keys: Mutex::new(Keys::default()),
            expired: Mutex::new(BTreeSet::new()),
            sessions: AtomicU64::new(0),
            members,
        });
        let mut tasks: Vec<_> = (0..shared.config.clients)
            .map(|i| tokio::spawn(run_client(shared.clone(), i)))
            .collect();
        tasks.push(tokio::spawn(expire_sessions(shared.clone())));
        Workload { shared, tasks }
    }

    /// Acknowledged operations per client so far.
    pub(crate) fn acked(&self) -> Vec<u64> {
        self.shared
            .acked
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .collect()
    }

    /// Waits until every client had one more operation acknowledged than in `before`: the
    /// ensemble serves every client again. Panics after `within`.
    pub(crate) async fn wait_progress(&self, before: &[u64], within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let now = self.acked();
            if now.iter().zip(before).all(|(n, b)| n > b) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "clients made no progress within {within:?} after the faults healed: acked \
                 {before:?} then {now:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the clients (an operation under way finishes or times out) and closes their
    /// sessions; returns the history.
    pub(crate) async fn stop(&mut self) -> (History, BTreeSet<i64>) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for task in std::mem::take(&mut self.tasks) {
            task.await.expect("client task");
        }
        let expired = self.shared.expired.lock().unwrap().clone();
        (self.shared.recorder.history(), expired)
    }

    /// Sessions created, in all.
    pub(crate) fn sessions(&self) -> u64 {
        self.shared.sessions.load(Ordering::Relaxed)
    }

    /// The register and counter keys and the sequential parents used so far.
    fn keys(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let keys = self.shared.keys.lock().unwrap();
        (keys.registers.clone(), keys.sequential_parents.clone())
    }

    /// Reads the final state through member `id` alone, after a `sync`.
    async fn read_final_state(&self, addr: &str, expired: &BTreeSet<i64>) -> FinalState {
        let c = Client::builder(addr)
            .session_timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(30))
            .request_timeout(Duration::from_secs(30))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connect to {addr} for the final read: {e}"));
        c.sync("/").await.expect("sync before the final read");
        let (registers, parents) = self.keys();
        let mut state = FinalState {
            expired_sessions: expired.clone(),
            ..FinalState::default()
        };
        for key in registers {
            let value = match c.get_data(&key).await {
                Ok((data, stat)) => Some(Versioned::new(parse_value(&data), stat.version)),
                Err(Error::NoNode) => None,
                Err(e) => panic!("final read of {key} on {addr}: {e}"),
            };
            state.registers.insert(key, value);
        }
        for parent in parents {
            let children = match c.get_children(&parent).await {
                Ok(children) => children,
                Err(Error::NoNode) => Vec::new(),
                Err(e) => panic!("final list of {parent} on {addr}: {e}"),
            };
            let seqs = children.iter().filter_map(|c| sequence_of(c)).collect();
            state.sequential.insert(parent, seqs);
        }
        let mut items = c
            .get_children(QUEUE)
            .await
            .expect("final list of the queue");
        items.sort();
        let mut values = Vec::new();
        for item in items {
            let (data, _) = c
                .get_data(&format!("{QUEUE}/{item}"))
                .await
                .unwrap_or_else(|e| panic!("final read of queue item {item}: {e}"));
            values.push(parse_value(&data));
        }
        state.queues.insert(QUEUE.to_owned(), values);
        for name in c.get_children(EPHEMERALS).await.expect("list ephemerals") {
            let path = format!("{EPHEMERALS}/{name}");
            if let Some(stat) = c.exists(&path).await.expect("stat an ephemeral") {
                state.ephemerals.push(Ephemeral {
                    path,
                    owner: stat.ephemeral_owner,
                });
            }
        }
        c.close().await;
        state
    }

    /// The final state, read through every member after a `sync`: waits until all members
    /// agree (they may still apply the last txns), and until no ephemeral of an expired
    /// session is left (a session expired while the leader changed is expired again by the new
    /// leader after its timeout), up to a deadline; then returns what member 1 shows. Panics
    /// when the members still disagree at the deadline.
    pub(crate) async fn final_state(&self, e: &Ensemble, expired: &BTreeSet<i64>) -> FinalState {
        let deadline =
            Instant::now() + Duration::from_secs(60) + 3 * self.shared.config.session_timeout;
        loop {
            let mut states = Vec::new();
            for id in e.ids().collect::<Vec<_>>() {
                states.push((id, self.read_final_state(&e.client_addr(id), expired).await));
            }
            let agree = states.windows(2).all(|w| {
                let (a, b) = (&w[0].1, &w[1].1);
                a.registers == b.registers && a.sequential == b.sequential && a.queues == b.queues
            });
            let ephemerals_left = states
                .iter()
                .any(|(_, s)| s.ephemerals.iter().any(|eph| expired.contains(&eph.owner)));
            if (agree && !ephemerals_left) || Instant::now() > deadline {
                assert!(
                    agree,
                    "the members do not agree on the final state:\n{}",
                    states
                        .iter()
                        .map(|(id, s)| format!("member {id}: {s:?}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                return states.swap_remove(0).1;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// One client: connects (again after its session expired), runs operations until stopped.
async fn run_client(shared: Arc<Shared>, index: usize) {
    let mut rng =
        fastrand::Rng::with_seed(shared.config.seed ^ (index as u64).wrapping_mul(0x9e37_79b9));
    let mut client: Option<Client> = None;
    let mut process = shared.next_process.fetch_add(1, Ordering::Relaxed);
    while !shared.stop.load(Ordering::Relaxed) {
        let c = match &client {
            Some(c) if c.state().is_alive() => c.clone(),
            _ => {
                if let Some(old) = client.take() {
                    if old.state() == SessionState::Expired {
                        shared.expired.lock().unwrap().insert(old.session_id().0);
                    }
                }
                match connect(&shared, &shared.connect).await {
                    Some(c) => {
                        client = Some(c);
                        process = shared.next_process.fetch_add(1, Ordering::Relaxed);
                    }
                    None => tokio::time::sleep(Duration::from_millis(100)).await,
                }
                continue;
            }
        };
        let done = one_op(&shared, &c, process, &mut rng).await;
        if done.acked {
            shared.acked[index].fetch_add(1, Ordering::Relaxed);
        }
        if done.unknown {
            process = shared.next_process.fetch_add(1, Ordering::Relaxed);
        }
        let think = rng.u64(0..=u64::try_from(shared.config.think.as_micros()).unwrap_or(0));
        tokio::time::sleep(Duration::from_micros(think)).await;
    }
    if let Some(c) = client {
        if c.state() == SessionState::Expired {
            shared.expired.lock().unwrap().insert(c.session_id().0);
        }
        c.close().await;
    }
}

/// Makes sessions expire, one after the other: a session through a proxy of its own to a random
/// member, with its ephemeral; the proxy black-holes everything for twice the session timeout;
/// healed, the client learns from the server whether its session expired (a leader change in
/// between gives it a new lease, and it lives on: then it is closed and the next one tried).
async fn expire_sessions(shared: Arc<Shared>) {
    let mut rng = fastrand::Rng::with_seed(shared.config.seed ^ 0xe0e0);
    while !shared.stop.load(Ordering::Relaxed) {
        let target = shared.members[rng.usize(0..shared.members.len())];
        let proxy = zk_jepsen::Proxy::start(target)
            .await
            .expect("a proxy for the expiring client");
        let Some(c) = connect(&shared, &proxy.listen_addr().to_string()).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        proxy.blackhole(zk_jepsen::Direction::Both);
        let cut_off = Instant::now() + 2 * shared.config.session_timeout;
        while Instant::now() < cut_off && !shared.stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if proxy.heal().await.is_err() || shared.stop.load(Ordering::Relaxed) {
            c.close().await;
            continue;
        }
        // Told within a session timeout once it can reach the server again.
        let told = tokio::time::timeout(
            2 * shared.config.session_timeout,
            c.wait_for_state(|s| *s != SessionState::Connecting),
        )
        .await;
        if told.is_ok() && c.state() == SessionState::Expired {
            shared.expired.lock().unwrap().insert(c.session_id().0);
        }
        c.close().await;
    }
}

/// A new session with its ephemeral node; `None` when no member gives one now.
async fn connect(shared: &Shared, connect: &str) -> Option<Client> {
    let timeout = shared.config.session_timeout;
    let c = Client::builder(connect)
        .session_timeout(timeout)
        .connect_timeout(timeout)
        .request_timeout(2 * timeout)
        .reconnect_delay(Duration::from_millis(200))
        .connect()
        .await
        .ok()?;
    shared.sessions.fetch_add(1, Ordering::Relaxed);
    let path = format!("{EPHEMERALS}/{:016x}", c.session_id().0);
    // Its outcome does not matter: the check is that no ephemeral of an expired session is left.
    let _ = c
        .create(&path, b"", &Acl::open_unsafe(), CreateMode::Ephemeral)
        .await;
    Some(c)
}

/// What one step of a client did.
#[derive(Debug, Default)]
struct Done {
    acked: bool,
    /// Some operation's outcome is unknown: go on under a new process id.
    unknown: bool,
}

impl Done {
    fn of(outcome: &Outcome) -> Done {
        Done {
            acked: matches!(outcome, Outcome::Ok(_)),
            unknown: matches!(outcome, Outcome::Info(_)),
        }
    }
}

/// Completes `pending` with `outcome`, returning what it means for the client.
fn finish(pending: Pending, outcome: Outcome) -> Done {
    let done = Done::of(&outcome);
    pending.complete(outcome);
    done
}

impl Shared {
    fn value(&self) -> i64 {
        self.next_value.fetch_add(1, Ordering::Relaxed)
    }

    /// A key of a rotating family: `prefix-G-I`.
    fn rotating_key(&self, counter: &AtomicU64, prefix: &str, rng: &mut fastrand::Rng) -> String {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let width = self.config.keys_at_a_time;
        let generation = n / (width * self.config.ops_per_key);
        let key = format!("{REGISTERS}/{prefix}-{generation}-{}", rng.u64(0..width));
        self.keys.lock().unwrap().registers.insert(key.clone());
        key
    }
}

async fn one_op(shared: &Shared, c: &Client, process: ProcessId, rng: &mut fastrand::Rng) -> Done {
    match rng.u32(0..100) {
        0..30 => {
            let key = shared.rotating_key(&shared.register_ops, "reg", rng);
            cas(shared, c, process, &key).await
        }
        30..35 => {
            let key = shared.rotating_key(&shared.register_ops, "reg", rng);
            let value = shared.value();
            let pending = shared
                .recorder
                .invoke(process, &key, OpKind::Write { value });
            let outcome = match c.set_data(&key, value.to_string().as_bytes(), None).await {
                Ok(stat) => Outcome::Ok(Reply::Written {
                    version: stat.version,
                }),
                Err(e) => outcome_of(&e),
            };
            finish(pending, outcome)
        }
        35..55 => {
            let key = shared.rotating_key(&shared.counter_ops, "ctr", rng);
            increment(shared, c, process, &key, rng.i64(1..=5)).await
        }
        55..70 => sequential(shared, c, process).await,
        70..85 => {
            let value = shared.value();
            let pending = shared
                .recorder
                .invoke(process, QUEUE, OpKind::QueuePut { value });
            let created = c
                .create(
                    &format!("{QUEUE}/i-"),
                    value.to_string().as_bytes(),
                    &Acl::open_unsafe(),
                    CreateMode::PersistentSequential,
                )
                .await;
            let outcome = match created {
                Ok(_) => Outcome::Ok(Reply::Put),
                Err(e) => outcome_of(&e),
            };
            finish(pending, outcome)
        }
        _ => take(shared, c, process).await,
    }
}

/// `sync` then `getData`, recorded as one read.
async fn read(
    shared: &Shared,
    c: &Client,
    process: ProcessId,
    key: &str,
) -> (Done, Option<Option<Versioned>>) {
    let pending = shared.recorder.invoke(process, key, OpKind::Read);
    let read = match c.sync(key).await {
        Ok(()) => c.get_data(key).await,
        Err(e) => Err(e),
    };
    let (outcome, seen) = match read {
        Ok((data, stat)) => {
            let v = Some(Versioned::new(parse_value(&data), stat.version));
            (Outcome::Ok(Reply::Read(v)), Some(v))
        }
        Err(Error::NoNode) => (Outcome::Ok(Reply::Read(None)), Some(None)),
        // A read changes nothing: whatever went wrong, it is simply not a read.
        Err(e) => (outcome_of(&e), None),
    };
    (finish(pending, outcome), seen)
}

/// A create of `key` with `value`, recorded.
async fn create(shared: &Shared, c: &Client, process: ProcessId, key: &str, value: i64) -> Done {
    let pending = shared
        .recorder
        .invoke(process, key, OpKind::Create { value });
    let outcome = match c
        .create(
            key,
            value.to_string().as_bytes(),
            &Acl::open_unsafe(),
            CreateMode::Persistent,
        )
        .await
    {
        Ok(_) => Outcome::Ok(Reply::Created),
        Err(e) => outcome_of(&e),
    };
    finish(pending, outcome)
}

/// Read, then compare-and-set on the version read (or create).
async fn cas(shared: &Shared, c: &Client, process: ProcessId, key: &str) -> Done {
    let (done, seen) = read(shared, c, process, key).await;
    let value = shared.value();
    match seen {
        None => done,
        Some(None) => create(shared, c, process, key, value).await,
        Some(Some(current)) => {
            let pending = shared.recorder.invoke(
                process,
                key,
                OpKind::Cas {
                    expected_version: current.version,
                    value,
                },
            );
            let outcome = match c
                .set_data(key, value.to_string().as_bytes(), Some(current.version))
                .await
            {
                Ok(stat) => Outcome::Ok(Reply::Written {
                    version: stat.version,
                }),
                Err(e) => outcome_of(&e),
            };
            finish(pending, outcome)
        }
    }
}

/// Read, then add `delta` with a multi of check(version) and setData (or create at 0).
async fn increment(shared: &Shared, c: &Client, process: ProcessId, key: &str, delta: i64) -> Done {
    let (done, seen) = read(shared, c, process, key).await;
    match seen {
        None => done,
        Some(None) => create(shared, c, process, key, 0).await,
        Some(Some(current)) => {
            let pending = shared.recorder.invoke(
                process,
                key,
                OpKind::Increment {
                    expected_version: current.version,
                    delta,
                },
            );
            let next = (current.value + delta).to_string();
            let committed = c
                .multi()
                .check(key, current.version)
                .set_data(key, next.as_bytes(), None)
                .commit()
                .await;
            let outcome = match committed {
                Ok(results) => match results.get(1) {
                    Some(OpResult::SetData { stat }) => Outcome::Ok(Reply::Written {
                        version: stat.version,
                    }),
                    other => panic!("a multi of check and setData answered {other:?}"),
                },
                Err(e) => outcome_of(&e),
            };
            finish(pending, outcome)
        }
    }
}

/// A sequential create under the current parent (made first if need be, unrecorded).
async fn sequential(shared: &Shared, c: &Client, process: ProcessId) -> Done {
    let n = shared.sequential_ops.fetch_add(1, Ordering::Relaxed);
    let parent = format!("{SEQUENTIAL}/{}", n / shared.config.creates_per_parent);
    let known = shared
        .keys
        .lock()
        .unwrap()
        .sequential_parents
        .contains(&parent);
    if !known {
        match c
            .create(&parent, b"", &Acl::open_unsafe(), CreateMode::Persistent)
            .await
        {
            Ok(_) | Err(Error::NodeExists) => {
                shared
                    .keys
                    .lock()
                    .unwrap()
                    .sequential_parents
                    .insert(parent.clone());
            }
            Err(_) => return Done::default(),
        }
    }
    let value = shared.value();
    let pending = shared
        .recorder
        .invoke(process, &parent, OpKind::CreateSequential { value });
    let created = c
        .create(
            &format!("{parent}/n-"),
            value.to_string().as_bytes(),
            &Acl::open_unsafe(),
            CreateMode::PersistentSequential,
        )
        .await;
    let outcome = match created {
        Ok(path) => match sequence_of(&path) {
            Some(seq) => Outcome::Ok(Reply::Sequential { seq }),
            None => panic!("a sequential create returned {path}"),
        },
        Err(e) => outcome_of(&e),
    };
    finish(pending, outcome)
}

/// Takes the oldest queue element: list, read it, delete it; the next one when another client
/// deleted it first.
async fn take(shared: &Shared, c: &Client, process: ProcessId) -> Done {
    let pending = shared.recorder.invoke(process, QUEUE, OpKind::QueueTake);
    let mut items = match c.get_children(QUEUE).await {
        Ok(items) => items,
        // Nothing was deleted: definitely no effect.
        Err(e) => return finish(pending, Outcome::Fail(FailReason::Other(e.to_string()))),
    };
    items.sort();
    for item in items {
        let path = format!("{QUEUE}/{item}");
        let value = match c.get_data(&path).await {
            Ok((data, _)) => parse_value(&data),
            Err(Error::NoNode) => continue,
            Err(e) => return finish(pending, Outcome::Fail(FailReason::Other(e.to_string()))),
        };
        match c.delete(&path, None).await {
            Ok(()) => return finish(pending, Outcome::Ok(Reply::Taken(Some(value)))),
            Err(Error::NoNode) => continue,
            Err(e) => return finish(pending, outcome_of(&e)),
        }
    }
    finish(pending, Outcome::Ok(Reply::Taken(None)))
}

/// Operations by kind and outcome, as a table.
pub(crate) fn ops_table(history: &History) -> String {
    let mut counts: BTreeMap<&'static str, [usize; 3]> = BTreeMap::new();
    for op in history.ops() {
        let kind = match op.kind {
            OpKind::Read => "read",
            OpKind::Write { .. } => "write",
            OpKind::Cas { .. } => "cas",
            OpKind::Create { .. } => "create",
            OpKind::CreateSequential { .. } => "create-sequential",
            OpKind::Increment { .. } => "increment (multi)",
            OpKind::QueuePut { .. } => "queue put",
            OpKind::QueueTake => "queue take",
        };
        let slot = match op.outcome {
            Outcome::Ok(_) => 0,
            Outcome::Fail(_) => 1,
            Outcome::Info(_) => 2,
        };
        counts.entry(kind).or_default()[slot] += 1;
    }
    let mut out = format!(
        "{:<20} {:>8} {:>8} {:>8}\n",
        "operation", "ok", "fail", "unknown"
    );
    let mut total = [0usize; 3];
    for (kind, c) in &counts {
        let _ = writeln!(out, "{kind:<20} {:>8} {:>8} {:>8}", c[0], c[1], c[2]);
        for i in 0..3 {
            total[i] += c[i];
        }
    }
    let _ = writeln!(
        out,
        "{:<20} {:>8} {:>8} {:>8}",
        "all", total[0], total[1], total[2]
    );
    out
}
