//! The checker: is a [`History`] something ZooKeeper may legally have produced?
//!
//! - **Registers** (read, write, CAS, create, increment on one key): linearizable, decided per key
//!   (keys are independent, so a history is linearizable iff each key's sub-history is) with the
//!   Wing–Gong search in Lowe's just-in-time form: walk the call/return events in time order, try to
//!   take effect any operation whose call precedes the first pending return, backtrack at a return
//!   whose operation has not taken effect, and remember each (set of operations taken effect,
//!   register state) already explored. A register is a znode: absent, or (value, version); a write
//!   bumps the version, a CAS or increment applies only at its expected version, and
//!   NONODE/NODEEXISTS/BADVERSION failures must be explained by the state too. An operation with an
//!   unknown outcome may take effect anywhere after its call, or never (it never returns).
//! - **At the end** ([`FinalState`]): every acknowledged create/set is still visible (the final
//!   version is not older, and the value at the same version is the acknowledged one), every
//!   acknowledged sequential node is listed, sequence numbers are unique, a queue neither loses,
//!   duplicates nor invents elements, and no ephemeral of an expired session survives.
//!
//! The verdict is a [`Report`]: counts, and the anomalies found, each explained in words.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use crate::history::{
    FINAL_READER, FailReason, History, Op, OpId, OpKind, Outcome, Reply, Time, Value, Version,
    Versioned,
};

/// What the test read once the faults healed and every client stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FinalState {
    /// The final read of register keys (`None`: no node). Keys left out are not checked.
    pub registers: BTreeMap<String, Option<Versioned>>,
    /// The sequence numbers of the children under each key of sequential creates.
    pub sequential: BTreeMap<String, BTreeSet<u64>>,
    /// The values still in each queue.
    pub queues: BTreeMap<String, Vec<Value>>,
    /// Every ephemeral node found, with its owner session.
    pub ephemerals: Vec<Ephemeral>,
    /// Sessions known to have expired (or been closed).
    pub expired_sessions: BTreeSet<i64>,
}

/// An ephemeral node found at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ephemeral {
    pub path: String,
    /// `Stat.ephemeralOwner`.
    pub owner: i64,
}

/// The kinds of anomaly the checker names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnomalyKind {
    /// A record that cannot be checked (a reply that does not fit its operation, a completion
    /// before the invocation).
    Malformed,
    /// Two acknowledged operations produced the same version of a register (e.g. a CAS that
    /// succeeded twice at one version).
    DuplicateVersion,
    /// An acknowledged write that a read which began after it completed did not see, and no later
    /// read saw either.
    LostWrite,
    /// A read that missed a write completed before the read began, although later reads saw it.
    StaleRead,
    /// Not linearizable, in a way the named kinds above do not describe.
    NotLinearizable,
    /// An acknowledged create/set (or sequential node) absent from the final state.
    MissingAtEnd,
    /// One sequence number returned by two sequential creates.
    DuplicateSequence,
    /// A queue element taken twice.
    QueueDuplicate,
    /// A queue element taken that was never offered (or offered only after the take returned).
    QueueUnexpected,
    /// Acknowledged queue elements neither taken nor left in the queue.
    QueueLost,
    /// An ephemeral node whose owner session expired.
    EphemeralOfExpiredSession,
}

/// One anomaly, with the operations involved and an explanation in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub key: String,
    pub ops: Vec<OpId>,
    pub explanation: String,
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} on {}: {}", self.kind, self.key, self.explanation)
    }
}

/// The verdict on a history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub ops: usize,
    pub ok: usize,
    pub failed: usize,
    /// Operations with an unknown outcome.
    pub unknown: usize,
    /// Register keys searched for a linearization.
    pub registers_checked: usize,
    /// Search states explored over all keys.
    pub states_explored: u64,
    /// Keys whose search exceeded the state budget: neither valid nor invalid.
    pub undecided: Vec<String>,
    pub anomalies: Vec<Anomaly>,
}

impl Report {
    /// No anomaly and every key decided.
    pub fn is_valid(&self) -> bool {
        self.anomalies.is_empty() && self.undecided.is_empty()
    }

    pub fn first_anomaly(&self) -> Option<&Anomaly> {
        self.anomalies.first()
    }

    /// Whether some anomaly of `kind` was found.
    pub fn has(&self, kind: AnomalyKind) -> bool {
        self.anomalies.iter().any(|a| a.kind == kind)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} operations ({} ok, {} failed, {} unknown), {} registers searched ({} states)",
            self.ops,
            self.ok,
            self.failed,
            self.unknown,
            self.registers_checked,
            self.states_explored
        )?;
        if !self.undecided.is_empty() {
            write!(
                f,
                "; undecided (search budget exceeded): {}",
                self.undecided.join(", ")
            )?;
        }
        match self.anomalies.first() {
            None if self.undecided.is_empty() => write!(f, "; valid, anomalies: 0"),
            None => write!(f, "; anomalies: 0 so far"),
            Some(first) => write!(
                f,
                "; INVALID, anomalies: {}; first: {first}",
                self.anomalies.len()
            ),
        }
    }
}

/// Checks histories; [`check`] uses the defaults.
#[derive(Debug, Clone)]
pub struct Checker {
    initial: BTreeMap<String, Option<Versioned>>,
    max_states: u64,
}

impl Default for Checker {
    fn default() -> Self {
        Checker {
            initial: BTreeMap::new(),
            max_states: 10_000_000,
        }
    }
}

/// Checks `history` (and `final_state` when given) with the default [`Checker`].
pub fn check(history: &History, final_state: Option<&FinalState>) -> Report {
    Checker::new().check(history, final_state)
}

impl Checker {
    pub fn new() -> Self {
        Checker::default()
    }

    /// The register state of `key` before the history (default: no node).
    pub fn initial(mut self, key: impl Into<String>, state: Option<Versioned>) -> Self {
        self.initial.insert(key.into(), state);
        self
    }

    /// The search budget per key; a key needing more is reported undecided.
    pub fn max_states(mut self, states: u64) -> Self {
        self.max_states = states;
        self
    }

    pub fn check(&self, history: &History, final_state: Option<&FinalState>) -> Report {
        let mut report = Report {
            ops: history.len(),
            ..Report::default()
        };
        for op in history.ops() {
            match op.outcome {
                Outcome::Ok(_) => report.ok += 1,
                Outcome::Fail(_) => report.failed += 1,
                Outcome::Info(_) => report.unknown += 1,
            }
        }
        let mut well_formed: Vec<&Op> = Vec::new();
        for op in history.ops() {
            match malformed(op) {
                Some(why) => report.anomalies.push(Anomaly {
                    kind: AnomalyKind::Malformed,
                    key: op.key.clone(),
                    ops: vec![op.id],
                    explanation: format!("{op}: {why}"),
                }),
                None => well_formed.push(op),
            }
        }
        // The final reads take part in the search too, as reads that begin after everything
        // known ended (operations with an unknown outcome may still take effect before them).
        let end = history
            .ops()
            .iter()
            .map(|o| if o.is_info() { o.invoke } else { o.complete })
            .max()
            .map_or(0, |t| t.saturating_add(1));
        let final_reads: Vec<Op> = final_state
            .map(|f| {
                f.registers
                    .iter()
                    .enumerate()
                    .map(|(i, (key, state))| Op {
                        id: history.len() + i,
                        process: FINAL_READER,
                        key: key.clone(),
                        kind: OpKind::Read,
                        invoke: end,
                        complete: end,
                        outcome: Outcome::Ok(Reply::Read(*state)),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
        for op in &well_formed {
            by_key.entry(op.key.as_str()).or_default().push(op);
        }
        let mut with_final = by_key.clone();
        for op in &final_reads {
            with_final.entry(op.key.as_str()).or_default().push(op);
        }
        if let Some(fin) = final_state {
            for (key, state) in &fin.registers {
                let ops = by_key.get(key.as_str()).map_or(&[][..], Vec::as_slice);
                report
                    .anomalies
                    .extend(check_final_register(key, ops, *state));
            }
        }
        for (key, ops) in &with_final {
            let registers: Vec<&Op> = ops
                .iter()
                .copied()
                .filter(|o| o.kind.is_register_op())
                .collect();
            if !registers.is_empty() {
                report.registers_checked += 1;
                let initial = self.initial.get(*key).copied().flatten();
                let (verdict, states) = linearizable(&registers, initial, self.max_states);
                report.states_explored += states;
                match verdict {
                    Verdict::Linearizable => {}
                    Verdict::Undecided => report.undecided.push((*key).to_owned()),
                    Verdict::Not(stuck) => report
                        .anomalies
                        .push(explain(key, &registers, initial, &stuck)),
                }
            }
            report.anomalies.extend(check_sequential(
                key,
                ops,
                final_state.and_then(|f| f.sequential.get(*key)),
            ));
            report.anomalies.extend(check_queue(
                key,
                ops,
                final_state.and_then(|f| f.queues.get(*key)),
            ));
        }
        if let Some(fin) = final_state {
            for eph in &fin.ephemerals {
                if fin.expired_sessions.contains(&eph.owner) {
                    report.anomalies.push(Anomaly {
                        kind: AnomalyKind::EphemeralOfExpiredSession,
                        key: eph.path.clone(),
                        ops: Vec::new(),
                        explanation: format!(
                            "ephemeral node {} is still there at the end, but its owner session \
                             0x{:x} expired",
                            eph.path, eph.owner
                        ),
                    });
                }
            }
        }
        report
    }
}

/// Why a record cannot be checked, if it cannot.
fn malformed(op: &Op) -> Option<String> {
    if !op.is_info() && op.complete < op.invoke {
        return Some("completed before it was invoked".into());
    }
    let Outcome::Ok(reply) = &op.outcome else {
        return None;
    };
    let fits = matches!(
        (op.kind, reply),
        (OpKind::Read, Reply::Read(_))
            | (
                OpKind::Write { .. } | OpKind::Cas { .. } | OpKind::Increment { .. },
                Reply::Written { .. }
            )
            | (OpKind::Create { .. }, Reply::Created)
            | (OpKind::CreateSequential { .. }, Reply::Sequential { .. })
            | (OpKind::QueuePut { .. }, Reply::Put)
            | (OpKind::QueueTake, Reply::Taken(_))
    );
    if !fits {
        return Some(format!("the reply '{reply}' does not fit the operation"));
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Registers: the model and the search.

type State = Option<Versioned>;

/// What an operation returns when it takes effect on a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Res {
    Read(State),
    Written(Version),
    Created,
    NoNode,
    NodeExists,
    BadVersion,
}

impl fmt::Display for Res {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Res::Read(s) => write!(f, "returned {}", Reply::Read(*s)),
            Res::Written(v) => write!(f, "made version {v}"),
            Res::Created => write!(f, "created it"),
            Res::NoNode => write!(f, "failed with NONODE"),
            Res::NodeExists => write!(f, "failed with NODEEXISTS"),
            Res::BadVersion => write!(f, "failed with BADVERSION"),
        }
    }
}

fn show(state: State) -> String {
    match state {
        Some(v) => format!("value {} at version {}", v.value, v.version),
        None => "no node".into(),
    }
}

/// The register's sequential specification: ZooKeeper's getData/setData/create/multi on one znode
/// that is never deleted.
fn step(state: State, kind: OpKind) -> (State, Res) {
    let set = |expected: Option<Version>, value: &dyn Fn(Value) -> Value| match state {
        None => (state, Res::NoNode),
        Some(cur) if expected.is_some_and(|e| e != cur.version) => (state, Res::BadVersion),
        Some(cur) => {
            let next = Versioned::new(value(cur.value), cur.version.wrapping_add(1));
            (Some(next), Res::Written(next.version))
        }
    };
    match kind {
        OpKind::Read => (state, Res::Read(state)),
        OpKind::Write { value } => set(None, &|_| value),
        OpKind::Cas {
            expected_version,
            value,
        } => set(Some(expected_version), &|_| value),
        OpKind::Increment {
            expected_version,
            delta,
        } => set(Some(expected_version), &|v| v.wrapping_add(delta)),
        OpKind::Create { value } => match state {
            None => (Some(Versioned::new(value, 0)), Res::Created),
            Some(_) => (state, Res::NodeExists),
        },
        OpKind::CreateSequential { .. } | OpKind::QueuePut { .. } | OpKind::QueueTake => {
            unreachable!("not a register operation")
        }
    }
}

/// One register operation as the search sees it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    op: OpId,
    kind: OpKind,
    /// What it must return where it takes effect; `None` when unknown (it may also never take
    /// effect).
    expect: Option<Res>,
}

/// Turns records into search entries; operations that constrain nothing are left out (reads with an
/// unknown outcome, failures that say nothing about the state).
fn entry(op: &Op) -> Option<(Entry, Time, Option<Time>)> {
    let expect = match &op.outcome {
        Outcome::Info(_) if op.kind == OpKind::Read => return None,
        Outcome::Info(_) => None,
        Outcome::Fail(FailReason::Other(_)) => return None,
        Outcome::Fail(FailReason::NoNode) => Some(Res::NoNode),
        Outcome::Fail(FailReason::NodeExists) => Some(Res::NodeExists),
        Outcome::Fail(FailReason::BadVersion) => Some(Res::BadVersion),
        Outcome::Ok(Reply::Read(s)) => Some(Res::Read(*s)),
        Outcome::Ok(Reply::Written { version }) => Some(Res::Written(*version)),
        Outcome::Ok(Reply::Created) => Some(Res::Created),
        Outcome::Ok(_) => return None,
    };
    let complete = expect.map(|_| op.complete);
    Some((
        Entry {
            op: op.id,
            kind: op.kind,
            expect,
        },
        op.invoke,
        complete,
    ))
}

/// Where the search got stuck deepest, for the explanation.
#[derive(Debug, Clone)]
struct Stuck {
    /// How many operations took effect in the deepest consistent prefix.
    depth: usize,
    /// Its last few operations, oldest first.
    tail: Vec<OpId>,
    state: State,
    /// The operation that had to take effect next (its return came) but could not.
    blocked: OpId,
    /// Why it could not, in words.
    why: String,
}

#[derive(Debug)]
enum Verdict {
    Linearizable,
    Undecided,
    Not(Stuck),
}

const NIL: usize = usize::MAX;

/// The event list of the search: call and return events in time order, doubly linked so that
/// taking an operation out and putting it back are O(1).
struct Events {
    next: Vec<usize>,
    prev: Vec<usize>,
    /// The entry of each event.
    entry: Vec<usize>,
    /// For a call event, its return event; `NIL` for return events.
    ret: Vec<usize>,
}

const HEAD: usize = 0;

impl Events {
    fn is_call(&self, node: usize) -> bool {
        self.ret[node] != NIL
    }

    fn unlink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = n;
        if n != NIL {
            self.prev[n] = p;
        }
    }

    fn relink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = node;
        if n != NIL {
            self.prev[n] = node;
        }
    }

    /// Takes a call and its return out of the list.
    fn lift(&mut self, call: usize) {
        self.unlink(call);
        self.unlink(self.ret[call]);
    }

    /// Puts them back, in the reverse order.
    fn unlift(&mut self, call: usize) {
        self.relink(self.ret[call]);
        self.relink(call);
    }
}

/// Where the search stands at one node: scanning the event list for a call to take effect, or,
/// once it reached the first pending return, the operations with unknown outcome.
#[derive(Debug, Clone, Copy)]
enum Cursor {
    Event(usize),
    Unknown(usize),
}

/// A decision of the search, undone on backtracking.
#[derive(Debug, Clone, Copy)]
struct Frame {
    at: Cursor,
    before: State,
    /// For `Cursor::Unknown`, the first pending return's (time, class) when it was taken.
    limit: (Time, u8),
}

fn linearizable(ops: &[&Op], initial: State, max_states: u64) -> (Verdict, u64) {
    let mut entries = Vec::new();
    // (time, class, entry): calls before returns at equal times (the more permissive reading of
    // simultaneous events).
    let mut events: Vec<(Time, u8, usize)> = Vec::new();
    // Operations with an unknown outcome never return: they stay candidates from their call on. They
    // are kept out of the event list and tried only after the operations with a known result, which
    // finds a linearization of a valid history without wandering through their combinations.
    let mut unknown: Vec<(Time, usize)> = Vec::new();
    for op in ops {
        if let Some((e, invoke, complete)) = entry(op) {
            let i = entries.len();
            entries.push(e);
            match complete {
                Some(t) => {
                    events.push((invoke, 0, i));
                    events.push((t, 1, i));
                }
                None => unknown.push((invoke, i)),
            }
        }
    }
    events.sort_unstable();
    unknown.sort_unstable();
    let n = events.len() + 1;
    let mut list = Events {
        next: (1..=n).map(|i| if i == n { NIL } else { i }).collect(),
        prev: (0..n).map(|i| i.wrapping_sub(1)).collect(),
        entry: vec![NIL; n],
        ret: vec![NIL; n],
    };
    let mut key_of = vec![(Time::MAX, 2u8); n];
    let mut call_of = vec![NIL; entries.len()];
    for (pos, &(time, class, e)) in events.iter().enumerate() {
        let node = pos + 1;
        list.entry[node] = e;
        key_of[node] = (time, class);
        if class == 0 {
            call_of[e] = node;
        } else {
            list.ret[call_of[e]] = node;
        }
    }

    // A znode's versions only grow, so each version is made by exactly one operation and holds
    // one value. An acknowledged write names the version it made, and a read the value a version
    // holds: an operation that would make a version claimed by another, or give a version a value
    // a read contradicts, cannot be the next to take effect. This prunes the search, mostly the
    // choice among unknown operations, without changing its answer.
    let mut makers: HashMap<Version, Vec<usize>> = HashMap::new();
    let mut holds: HashMap<Version, Vec<(Value, usize)>> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        match e.expect {
            Some(Res::Written(v)) => makers.entry(v).or_default().push(i),
            Some(Res::Created) => makers.entry(0).or_default().push(i),
            Some(Res::Read(Some(seen))) => {
                holds.entry(seen.version).or_default().push((seen.value, i))
            }
            _ => {}
        }
    }
    let possible = |e: usize, next: State| match next {
        Some(made) => {
            makers.get(&made.version).is_none_or(|m| m.contains(&e))
                && holds
                    .get(&made.version)
                    .is_none_or(|h| h.iter().any(|(v, _)| *v == made.value))
        }
        None => true,
    };

    let words = entries.len().div_ceil(64).max(1);
    let mut taken = vec![0u64; words];
    let is_taken = |taken: &[u64], e: usize| taken[e / 64] & (1 << (e % 64)) != 0;
    let mut seen: HashSet<(Vec<u64>, State)> = HashSet::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut state = initial;
    let mut remaining = events.len() / 2;
    let mut explored = 0u64;
    let mut stuck: Option<Stuck> = None;
    let mut limit = (Time::MAX, 2u8);
    let mut cur = Cursor::Event(list.next[HEAD]);
    loop {
        if remaining == 0 {
            // Only unknown operations are left: they take effect after everything, or never.
            return (Verdict::Linearizable, explored);
        }
        // The next candidate at this node: its entry, or the end of the candidates.
        let candidate = match cur {
            Cursor::Event(node) if node != NIL && list.is_call(node) => Some(list.entry[node]),
            Cursor::Event(node) => {
                // The first pending return: its operation must take effect before it, so only
                // the unknown operations called before it remain candidates.
                limit = if node == NIL {
                    (Time::MAX, 2)
                } else {
                    key_of[node]
                };
                if node != NIL && stuck.as_ref().is_none_or(|s| stack.len() > s.depth) {
                    stuck = Some(Stuck {
                        depth: stack.len(),
                        tail: stack
                            .iter()
                            .rev()
                            .take(4)
                            .rev()
                            .map(|f| entries[frame_entry(&list, &unknown, f.at)].op)
                            .collect(),
                        state,
                        blocked: entries[list.entry[node]].op,
                        why: {
                            let entry = entries[list.entry[node]];
                            let (next, res) = step(state, entry.kind);
                            match (entry.expect, next) {
                                (Some(expect), _) if expect != res => format!("there it {res}"),
                                (_, Some(made)) if next != state => {
                                    let maker = makers
                                        .get(&made.version)
                                        .and_then(|m| m.iter().find(|&&m| m != list.entry[node]));
                                    let reader = holds
                                        .get(&made.version)
                                        .and_then(|h| h.iter().find(|(v, _)| *v != made.value));
                                    match (maker, reader) {
                                        (Some(&m), _) => format!(
                                            "there it would make version {}, which op {} made",
                                            made.version, entries[m].op
                                        ),
                                        (None, Some(&(v, r))) => format!(
                                            "there it would make version {} hold value {} \
                                             while op {} read value {v} at version {}",
                                            made.version, made.value, entries[r].op, made.version
                                        ),
                                        (None, None) => {
                                            "every order that continues from there fails later"
                                                .into()
                                        }
                                    }
                                }
                                _ => "every order that continues from there fails later".into(),
                            }
                        },
                    });
                }
                cur = Cursor::Unknown(0);
                continue;
            }
            Cursor::Unknown(i) => unknown
                .get(i)
                .filter(|&&(invoke, _)| (invoke, 0) <= limit)
                .map(|&(_, e)| e),
        };
        let Some(e) = candidate else {
            // No candidate left: undo the last decision and try the one after it.
            let Some(frame) = stack.pop() else {
                break;
            };
            state = frame.before;
            match frame.at {
                Cursor::Event(call) => {
                    let undone = list.entry[call];
                    taken[undone / 64] &= !(1 << (undone % 64));
                    list.unlift(call);
                    remaining += 1;
                    cur = Cursor::Event(list.next[call]);
                }
                Cursor::Unknown(i) => {
                    let undone = unknown[i].1;
                    taken[undone / 64] &= !(1 << (undone % 64));
                    limit = frame.limit;
                    cur = Cursor::Unknown(i + 1);
                }
            }
            continue;
        };
        let entry = entries[e];
        let (next_state, res) = step(state, entry.kind);
        // An unknown operation that changes nothing here may as well take effect at the end.
        let fits = !is_taken(&taken, e)
            && match entry.expect {
                Some(expect) => expect == res,
                None => next_state != state,
            }
            && (next_state == state || possible(e, next_state));
        if fits {
            explored += 1;
            if explored > max_states {
                return (Verdict::Undecided, explored);
            }
            taken[e / 64] |= 1 << (e % 64);
            if seen.insert((taken.clone(), next_state)) {
                stack.push(Frame {
                    at: cur,
                    before: state,
                    limit,
                });
                state = next_state;
                if let Cursor::Event(call) = cur {
                    list.lift(call);
                    remaining -= 1;
                }
                cur = Cursor::Event(list.next[HEAD]);
                continue;
            }
            taken[e / 64] &= !(1 << (e % 64));
        }
        cur = match cur {
            Cursor::Event(node) => Cursor::Event(list.next[node]),
            Cursor::Unknown(i) => Cursor::Unknown(i + 1),
        };
    }
    let stuck = stuck.unwrap_or(Stuck {
        depth: 0,
        tail: Vec::new(),
        state: initial,
        blocked: entries.first().map_or(0, |e| e.op),
        why: "nothing can take effect first".into(),
    });
    (Verdict::Not(stuck), explored)
}

fn frame_entry(list: &Events, unknown: &[(Time, usize)], at: Cursor) -> usize {
    match at {
        Cursor::Event(node) => list.entry[node],
        Cursor::Unknown(i) => unknown[i].1,
    }
}

/// The version an acknowledged register operation produced, with its value when known.
fn produced(op: &Op) -> Option<(Version, Option<Value>)> {
    match (&op.outcome, op.kind) {
        (Outcome::Ok(Reply::Written { version }), OpKind::Write { value })
        | (Outcome::Ok(Reply::Written { version }), OpKind::Cas { value, .. }) => {
            Some((*version, Some(value)))
        }
        (Outcome::Ok(Reply::Written { version }), OpKind::Increment { .. }) => {
            Some((*version, None))
        }
        (Outcome::Ok(Reply::Created), OpKind::Create { value }) => Some((0, Some(value))),
        _ => None,
    }
}

fn read_version(op: &Op) -> Option<Version> {
    match &op.outcome {
        Outcome::Ok(Reply::Read(s)) => Some(s.map_or(-1, |v| v.version)),
        _ => None,
    }
}

/// Names and explains why a key's history is not linearizable: the simple shapes first, then what
/// the search found.
fn explain(key: &str, ops: &[&Op], initial: State, stuck: &Stuck) -> Anomaly {
    let anomaly = |kind, ops, explanation| Anomaly {
        kind,
        key: key.to_owned(),
        ops,
        explanation,
    };
    // Two acknowledged operations that produced one version.
    let mut by_version: BTreeMap<Version, Vec<&Op>> = BTreeMap::new();
    for op in ops {
        if let Some((version, _)) = produced(op) {
            by_version.entry(version).or_default().push(op);
        }
    }
    if let Some((version, dups)) = by_version.iter().find(|(_, o)| o.len() > 1) {
        let (a, b) = (dups[0], dups[1]);
        let what = match (a.kind, b.kind) {
            (
                OpKind::Cas {
                    expected_version: x,
                    ..
                },
                OpKind::Cas {
                    expected_version: y,
                    ..
                },
            ) if x == y => format!("a compare-and-set at version {x} succeeded twice"),
            (OpKind::Create { .. }, OpKind::Create { .. }) => "the node was created twice".into(),
            _ => format!("two acknowledged operations both made version {version}"),
        };
        return anomaly(
            AnomalyKind::DuplicateVersion,
            vec![a.id, b.id],
            format!("{what}: {a} and {b}; each version is made once"),
        );
    }
    // A read that began after an acknowledged write completed but saw an older version.
    let mut reads: Vec<&Op> = ops
        .iter()
        .copied()
        .filter(|o| read_version(o).is_some())
        .collect();
    reads.sort_by_key(|o| o.invoke);
    for read in &reads {
        let seen = read_version(read).unwrap_or(-1);
        let missed = ops
            .iter()
            .filter(|w| w.complete < read.invoke)
            .filter_map(|w| produced(w).map(|(v, _)| (v, w)))
            .filter(|(v, _)| *v > seen)
            .max_by_key(|(v, _)| *v);
        let Some((version, write)) = missed else {
            continue;
        };
        let later = reads
            .iter()
            .find(|r| r.invoke > read.complete && read_version(r).unwrap_or(-1) >= version);
        return match later {
            Some(later) => anomaly(
                AnomalyKind::StaleRead,
                vec![write.id, read.id, later.id],
                format!(
                    "stale read: {read} began after {write} had completed with version \
                     {version}, yet saw an older state; the later {later} does see it"
                ),
            ),
            None => anomaly(
                AnomalyKind::LostWrite,
                vec![write.id, read.id],
                format!(
                    "lost write: {write} was acknowledged with version {version}, but {read}, \
                     which began after it completed, saw an older state, and no later read \
                     saw version {version} or newer"
                ),
            ),
        };
    }
    let blocked = ops.iter().find(|o| o.id == stuck.blocked);
    let blocked_text = blocked.map_or_else(|| format!("op {}", stuck.blocked), |o| o.to_string());
    let prefix = if stuck.depth == 0 {
        format!("from the initial state ({})", show(initial))
    } else {
        format!(
            "at most {} of them can take effect in an order consistent with their results \
             (ending with ops {:?}), which leaves {}",
            stuck.depth,
            stuck.tail,
            show(stuck.state)
        )
    };
    anomaly(
        AnomalyKind::NotLinearizable,
        vec![stuck.blocked],
        format!(
            "no order of the {} operations on {key} agrees with their results and real-time \
             order: {prefix}; then {blocked_text} must take effect before it returned, but \
             {}, and no other operation that may come first helps",
            ops.len(),
            stuck.why
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// The end state and the other workloads.

fn check_final_register(key: &str, ops: &[&Op], state: Option<Versioned>) -> Vec<Anomaly> {
    let acked: Vec<(Version, Option<Value>, &Op)> = ops
        .iter()
        .filter_map(|o| produced(o).map(|(v, val)| (v, val, *o)))
        .collect();
    let Some(&(newest, _, newest_op)) = acked.iter().max_by_key(|(v, _, _)| *v) else {
        return Vec::new();
    };
    let missing = |op: &Op, why: String| Anomaly {
        kind: AnomalyKind::MissingAtEnd,
        key: key.to_owned(),
        ops: vec![op.id],
        explanation: why,
    };
    let Some(fin) = state else {
        return vec![missing(
            newest_op,
            format!("{newest_op} was acknowledged, but the final read finds no node {key}"),
        )];
    };
    if fin.version < newest {
        return vec![missing(
            newest_op,
            format!(
                "{newest_op} was acknowledged with version {newest}, but the final read shows \
                 version {} (value {})",
                fin.version, fin.value
            ),
        )];
    }
    acked
        .iter()
        .filter(|(v, val, _)| *v == fin.version && val.is_some_and(|x| x != fin.value))
        .map(|(v, _, op)| {
            missing(
                op,
                format!(
                    "{op} was acknowledged with version {v}, but the final read shows value {} \
                     at that version",
                    fin.value
                ),
            )
        })
        .collect()
}

fn check_sequential(key: &str, ops: &[&Op], listed: Option<&BTreeSet<u64>>) -> Vec<Anomaly> {
    let mut by_seq: BTreeMap<u64, Vec<&Op>> = BTreeMap::new();
    for op in ops {
        if let (OpKind::CreateSequential { .. }, Outcome::Ok(Reply::Sequential { seq })) =
            (op.kind, &op.outcome)
        {
            by_seq.entry(*seq).or_default().push(op);
        }
    }
    let mut anomalies = Vec::new();
    for (seq, creates) in &by_seq {
        if creates.len() > 1 {
            anomalies.push(Anomaly {
                kind: AnomalyKind::DuplicateSequence,
                key: key.to_owned(),
                ops: creates.iter().map(|o| o.id).collect(),
                explanation: format!(
                    "sequence number {seq} under {key} was returned to {} creates: {}",
                    creates.len(),
                    creates
                        .iter()
                        .map(|o| o.to_string())
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            });
        }
        if let Some(listed) = listed {
            if !listed.contains(seq) {
                anomalies.push(Anomaly {
                    kind: AnomalyKind::MissingAtEnd,
                    key: key.to_owned(),
                    ops: vec![creates[0].id],
                    explanation: format!(
                        "{} was acknowledged, but sequence number {seq} is not among the final \
                         children of {key}",
                        creates[0]
                    ),
                });
            }
        }
    }
    anomalies
}

/// A total queue: each offered value is taken at most once, only after it was offered, and every
/// acknowledged offer is taken or still queued, up to the takes whose outcome is unknown (each may
/// have removed one element).
fn check_queue(key: &str, ops: &[&Op], remaining: Option<&Vec<Value>>) -> Vec<Anomaly> {
    let mut puts: BTreeMap<Value, &Op> = BTreeMap::new();
    let mut acked: BTreeSet<Value> = BTreeSet::new();
    let mut takes: BTreeMap<Value, Vec<&Op>> = BTreeMap::new();
    let mut unknown_takes = 0;
    let mut any = false;
    for op in ops {
        match (op.kind, &op.outcome) {
            (OpKind::QueuePut { value }, outcome) => {
                any = true;
                if !matches!(outcome, Outcome::Fail(_)) {
                    puts.insert(value, op);
                }
                if matches!(outcome, Outcome::Ok(_)) {
                    acked.insert(value);
                }
            }
            (OpKind::QueueTake, Outcome::Ok(Reply::Taken(Some(value)))) => {
                any = true;
                takes.entry(*value).or_default().push(op);
            }
            (OpKind::QueueTake, Outcome::Info(_)) => {
                any = true;
                unknown_takes += 1;
            }
            _ => {}
        }
    }
    if !any {
        return Vec::new();
    }
    let anomaly = |kind, ops, explanation| Anomaly {
        kind,
        key: key.to_owned(),
        ops,
        explanation,
    };
    let mut anomalies = Vec::new();
    for (value, taken) in &takes {
        if taken.len() > 1 {
            anomalies.push(anomaly(
                AnomalyKind::QueueDuplicate,
                taken.iter().map(|o| o.id).collect(),
                format!(
                    "value {value} was taken {} times: {}",
                    taken.len(),
                    taken
                        .iter()
                        .map(|o| o.to_string())
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
            ));
        }
        let take = taken[0];
        match puts.get(value) {
            None => anomalies.push(anomaly(
                AnomalyKind::QueueUnexpected,
                vec![take.id],
                format!("{take} returned value {value}, which no put offered"),
            )),
            Some(put) if put.invoke > take.complete => anomalies.push(anomaly(
                AnomalyKind::QueueUnexpected,
                vec![put.id, take.id],
                format!("{take} returned value {value} before {put} offered it"),
            )),
            Some(_) => {}
        }
    }
    if let Some(remaining) = remaining {
        let remaining: BTreeSet<Value> = remaining.iter().copied().collect();
        let lost: Vec<Value> = acked
            .iter()
            .copied()
            .filter(|v| !takes.contains_key(v) && !remaining.contains(v))
            .collect();
        if lost.len() > unknown_takes {
            anomalies.push(anomaly(
                AnomalyKind::QueueLost,
                lost.iter().map(|v| puts[v].id).collect(),
                format!(
                    "{} acknowledged values were neither taken nor left in the queue ({:?}), \
                     more than the {unknown_takes} takes with an unknown outcome could explain",
                    lost.len(),
                    lost
                ),
            ));
        }
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(reply: Reply) -> Outcome {
        Outcome::Ok(reply)
    }

    fn read(value: Value, version: Version) -> Outcome {
        ok(Reply::Read(Some(Versioned::new(value, version))))
    }

    #[test]
    fn step_follows_zookeeper() {
        let s = Some(Versioned::new(1, 0));
        assert_eq!(step(None, OpKind::Write { value: 1 }), (None, Res::NoNode));
        assert_eq!(step(s, OpKind::Create { value: 2 }), (s, Res::NodeExists));
        assert_eq!(
            step(
                s,
                OpKind::Cas {
                    expected_version: 1,
                    value: 2
                }
            ),
            (s, Res::BadVersion)
        );
        assert_eq!(
            step(
                s,
                OpKind::Increment {
                    expected_version: 0,
                    delta: 5
                }
            ),
            (Some(Versioned::new(6, 1)), Res::Written(1))
        );
    }

    #[test]
    fn a_failure_must_be_explained_by_the_state() {
        // A CAS at the current version reported BADVERSION while nothing else ran.
        let mut h = History::new();
        h.push(
            1,
            "k",
            OpKind::Create { value: 1 },
            0,
            1,
            ok(Reply::Created),
        );
        h.push(
            1,
            "k",
            OpKind::Cas {
                expected_version: 0,
                value: 2,
            },
            2,
            3,
            Outcome::Fail(FailReason::BadVersion),
        );
        let report = check(&h, None);
        assert!(report.has(AnomalyKind::NotLinearizable), "{report}");
        // Other failures say nothing and are ignored.
        let mut h = History::new();
        h.push(
            1,
            "k",
            OpKind::Create { value: 1 },
            0,
            1,
            ok(Reply::Created),
        );
        h.push(
            1,
            "k",
            OpKind::Write { value: 2 },
            2,
            3,
            Outcome::Fail(FailReason::Other("connection loss before sending".into())),
        );
        h.push(2, "k", OpKind::Read, 4, 5, read(1, 0));
        assert!(check(&h, None).is_valid());
    }

    #[test]
    fn malformed_records_are_reported() {
        let mut h = History::new();
        h.push(1, "k", OpKind::Read, 0, 1, ok(Reply::Created));
        h.push(1, "k", OpKind::Read, 5, 4, ok(Reply::Read(None)));
        let report = check(&h, None);
        assert_eq!(report.anomalies.len(), 2);
        assert!(
            report
                .anomalies
                .iter()
                .all(|a| a.kind == AnomalyKind::Malformed)
        );
    }

    #[test]
    fn the_budget_makes_a_key_undecided_not_valid() {
        let mut h = History::new();
        h.push(
            1,
            "k",
            OpKind::Create { value: 1 },
            0,
            10,
            ok(Reply::Created),
        );
        h.push(2, "k", OpKind::Read, 0, 10, read(1, 0));
        let report = Checker::new().max_states(1).check(&h, None);
        assert_eq!(report.undecided, ["k"]);
        assert!(!report.is_valid());
    }
}
