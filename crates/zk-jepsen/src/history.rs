//! Operation records: who did what to which key, when it was invoked and completed, and what came
//! back. A [`Recorder`] stamps times from one monotonic origin and is shared by all clients of a
//! test; a [`History`] can also be written out by hand, as the checker's tests do.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The client (process, in Jepsen's words) that ran an operation. One client runs one operation at a
/// time; a client whose operation ended in [`Outcome::Info`] should continue under a new id, as its
/// unknown operation may still take effect at any later time.
pub type ProcessId = u32;
/// The process of the synthetic reads the checker adds for a [`crate::FinalState`]'s registers.
pub const FINAL_READER: ProcessId = ProcessId::MAX;
/// The index of an operation in its [`History`].
pub type OpId = usize;
/// Register and queue values. Workloads write values unique per key, so that a read names the write
/// it saw.
pub type Value = i64;
/// A znode's data version (`Stat.version`): 0 after create, one more after every setData.
pub type Version = i32;
/// Nanoseconds since the recorder's origin.
pub type Time = u64;

/// A register's content as a read returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Versioned {
    pub value: Value,
    pub version: Version,
}

impl Versioned {
    pub fn new(value: Value, version: Version) -> Self {
        Versioned { value, version }
    }
}

impl fmt::Display for Versioned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@v{}", self.value, self.version)
    }
}

/// What an operation asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// getData: the value and version, or no node.
    Read,
    /// setData with version -1.
    Write { value: Value },
    /// setData with an expected version: compare-and-set.
    Cas {
        expected_version: Version,
        value: Value,
    },
    /// create of the key itself (persistent).
    Create { value: Value },
    /// create of `key/n-` with the sequential flag, which returns the sequence number.
    CreateSequential { value: Value },
    /// A counter increment as a multi of check(expected_version) and setData(value + delta): applied
    /// only at the expected version, where it adds `delta` to the value.
    Increment {
        expected_version: Version,
        delta: Value,
    },
    /// Queue offer: a sequential child holding `value` (values unique per queue).
    QueuePut { value: Value },
    /// Queue take: remove and return the head, or nothing when empty.
    QueueTake,
}

impl OpKind {
    /// Operations on the versioned register of their key (checked for linearizability).
    pub fn is_register_op(&self) -> bool {
        matches!(
            self,
            OpKind::Read
                | OpKind::Write { .. }
                | OpKind::Cas { .. }
                | OpKind::Create { .. }
                | OpKind::Increment { .. }
        )
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpKind::Read => write!(f, "read"),
            OpKind::Write { value } => write!(f, "write {value}"),
            OpKind::Cas {
                expected_version,
                value,
            } => write!(f, "cas v{expected_version}->{value}"),
            OpKind::Create { value } => write!(f, "create {value}"),
            OpKind::CreateSequential { value } => write!(f, "create-sequential {value}"),
            OpKind::Increment {
                expected_version,
                delta,
            } => write!(f, "increment v{expected_version} by {delta}"),
            OpKind::QueuePut { value } => write!(f, "put {value}"),
            OpKind::QueueTake => write!(f, "take"),
        }
    }
}

/// What a successful operation returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reply {
    /// A read: `None` when the node did not exist.
    Read(Option<Versioned>),
    /// A write, CAS or increment: the node's new version (from the returned Stat).
    Written { version: Version },
    /// A create of the key itself.
    Created,
    /// A sequential create: the sequence number of the node's name.
    Sequential { seq: u64 },
    /// A queue put.
    Put,
    /// A queue take: the value taken, `None` when the queue was empty.
    Taken(Option<Value>),
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Read(Some(v)) => write!(f, "{v}"),
            Reply::Read(None) => write!(f, "no node"),
            Reply::Written { version } => write!(f, "now v{version}"),
            Reply::Created => write!(f, "created"),
            Reply::Sequential { seq } => write!(f, "seq {seq}"),
            Reply::Put => write!(f, "put"),
            Reply::Taken(Some(v)) => write!(f, "took {v}"),
            Reply::Taken(None) => write!(f, "empty"),
        }
    }
}

/// Why an operation definitely did not take effect.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// NONODE: the register did not exist at the operation's point.
    NoNode,
    /// NODEEXISTS: the register existed at the operation's point.
    NodeExists,
    /// BADVERSION: the register's version was not the expected one at the operation's point.
    BadVersion,
    /// Any other definite failure (rejected before reaching the ensemble, session expired before
    /// sending, ...): it says nothing about the state.
    Other(String),
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailReason::NoNode => write!(f, "NONODE"),
            FailReason::NodeExists => write!(f, "NODEEXISTS"),
            FailReason::BadVersion => write!(f, "BADVERSION"),
            FailReason::Other(why) => write!(f, "{why}"),
        }
    }
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Acknowledged, with its reply.
    Ok(Reply),
    /// Definitely not applied.
    Fail(FailReason),
    /// Unknown (timeout, connection loss): it may take effect at any time after its invocation, or
    /// never.
    Info(String),
}

/// One operation of a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub id: OpId,
    pub process: ProcessId,
    pub key: String,
    pub kind: OpKind,
    pub invoke: Time,
    /// When the client learned the outcome; for [`Outcome::Info`] the checker treats it as never.
    pub complete: Time,
    pub outcome: Outcome,
}

impl Op {
    pub fn is_ok(&self) -> bool {
        matches!(self.outcome, Outcome::Ok(_))
    }

    pub fn is_info(&self) -> bool {
        matches!(self.outcome, Outcome::Info(_))
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.process == FINAL_READER {
            if let Outcome::Ok(reply) = &self.outcome {
                return write!(
                    f,
                    "the final read of {} (at {}: {reply})",
                    self.key, self.invoke
                );
            }
        }
        write!(
            f,
            "op {} (client {}, {} {} at [{}..",
            self.id, self.process, self.kind, self.key, self.invoke
        )?;
        match &self.outcome {
            Outcome::Ok(reply) => write!(f, "{}] ok: {reply})", self.complete),
            Outcome::Fail(why) => write!(f, "{}] failed: {why})", self.complete),
            Outcome::Info(why) => write!(f, "?] unknown: {why})"),
        }
    }
}

/// The operations of a test, in invocation order as recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    ops: Vec<Op>,
}

impl History {
    pub fn new() -> Self {
        History::default()
    }

    /// Appends a completed operation; its id becomes its index.
    pub fn push(
        &mut self,
        process: ProcessId,
        key: impl Into<String>,
        kind: OpKind,
        invoke: Time,
        complete: Time,
        outcome: Outcome,
    ) -> OpId {
        let id = self.ops.len();
        self.ops.push(Op {
            id,
            process,
            key: key.into(),
            kind,
            invoke,
            complete,
            outcome,
        });
        id
    }

    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    pub fn get(&self, id: OpId) -> Option<&Op> {
        self.ops.get(id)
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

#[derive(Debug)]
struct RecorderInner {
    ops: Vec<Option<Op>>,
}

/// Records operations from many concurrent clients against one monotonic clock.
///
/// `invoke` stamps the invocation and returns a [`Pending`]; completing it stamps the completion.
/// A `Pending` dropped without an outcome (its task was cancelled) is recorded as
/// [`Outcome::Info`]: the request may have been sent.
#[derive(Debug, Clone)]
pub struct Recorder {
    origin: Instant,
    inner: Arc<Mutex<RecorderInner>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        Recorder {
            origin: Instant::now(),
            inner: Arc::new(Mutex::new(RecorderInner { ops: Vec::new() })),
        }
    }

    /// Nanoseconds since this recorder was made.
    pub fn now(&self) -> Time {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RecorderInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the invocation of `kind` on `key` by `process`, now.
    pub fn invoke(&self, process: ProcessId, key: impl Into<String>, kind: OpKind) -> Pending {
        let key = key.into();
        let mut inner = self.lock();
        let invoke = self.now();
        let id = inner.ops.len();
        inner.ops.push(Some(Op {
            id,
            process,
            key,
            kind,
            invoke,
            complete: invoke,
            outcome: Outcome::Info("pending".into()),
        }));
        Pending {
            recorder: self.clone(),
            id,
            done: false,
        }
    }

    fn finish(&self, id: OpId, outcome: Outcome) {
        let now = self.now();
        let mut inner = self.lock();
        if let Some(Some(op)) = inner.ops.get_mut(id) {
            op.complete = now;
            op.outcome = outcome;
        }
    }

    /// The history so far; operations still pending appear as [`Outcome::Info`].
    pub fn history(&self) -> History {
        let inner = self.lock();
        History {
            ops: inner.ops.iter().flatten().cloned().collect(),
        }
    }
}

/// An invoked operation awaiting its outcome.
#[derive(Debug)]
pub struct Pending {
    recorder: Recorder,
    id: OpId,
    done: bool,
}

impl Pending {
    pub fn id(&self) -> OpId {
        self.id
    }

    /// Records the outcome, stamped now.
    pub fn complete(mut self, outcome: Outcome) {
        self.done = true;
        self.recorder.finish(self.id, outcome);
    }

    pub fn ok(self, reply: Reply) {
        self.complete(Outcome::Ok(reply));
    }

    pub fn fail(self, why: FailReason) {
        self.complete(Outcome::Fail(why));
    }

    pub fn info(self, why: impl Into<String>) {
        self.complete(Outcome::Info(why.into()));
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.done {
            self.recorder
                .finish(self.id, Outcome::Info("abandoned before an outcome".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorder_stamps_in_order_and_abandoned_ops_are_unknown() {
        let rec = Recorder::new();
        let a = rec.invoke(1, "k", OpKind::Write { value: 5 });
        let b = rec.invoke(2, "k", OpKind::Read);
        a.ok(Reply::Written { version: 1 });
        drop(b);
        let c = rec.invoke(3, "k", OpKind::Read);
        let h = rec.history();
        assert_eq!(h.len(), 3);
        let ops = h.ops();
        assert_eq!(ops[0].outcome, Outcome::Ok(Reply::Written { version: 1 }));
        assert!(ops[0].invoke <= ops[1].invoke && ops[0].invoke <= ops[0].complete);
        assert!(matches!(&ops[1].outcome, Outcome::Info(w) if w.contains("abandoned")));
        assert!(matches!(&ops[2].outcome, Outcome::Info(w) if w == "pending"));
        c.fail(FailReason::Other("not connected".into()));
        assert_eq!(
            rec.history().ops()[2].outcome,
            Outcome::Fail(FailReason::Other("not connected".into()))
        );
    }

    #[test]
    fn ops_print_readably() {
        let mut h = History::new();
        h.push(
            3,
            "/r1",
            OpKind::Cas {
                expected_version: 2,
                value: 7,
            },
            10,
            20,
            Outcome::Ok(Reply::Written { version: 3 }),
        );
        assert_eq!(
            h.ops()[0].to_string(),
            "op 0 (client 3, cas v2->7 /r1 at [10..20] ok: now v3)"
        );
    }
}
