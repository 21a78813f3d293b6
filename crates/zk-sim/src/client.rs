//! The client workload and its history: a few clients, each with one outstanding request at a
//! time against a random server, on a handful of registers (create, setData with or without an
//! expected version, delete). Every call, response and timeout is recorded; a write that timed out
//! is "unknown" (it may or may not have happened), never "absent".

use zk_jute::{SessionId, Zxid};

use crate::rng::Rng;

/// The registers the workload writes.
pub const KEYS: usize = 3;

pub fn key_path(key: usize) -> String {
    format!("/k{key}")
}

/// A request as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp {
    CreateSession {
        session: SessionId,
        timeout_ms: i32,
    },
    Create {
        session: SessionId,
        cxid: i32,
        key: usize,
        value: u64,
    },
    Set {
        session: SessionId,
        cxid: i32,
        key: usize,
        value: u64,
        version: i32,
    },
    Delete {
        session: SessionId,
        cxid: i32,
        key: usize,
        version: i32,
    },
    /// An ephemeral node of the session (not part of the register history).
    Ephemeral {
        session: SessionId,
        cxid: i32,
    },
}

impl ClientOp {
    pub fn session(&self) -> SessionId {
        match self {
            ClientOp::CreateSession { session, .. }
            | ClientOp::Create { session, .. }
            | ClientOp::Set { session, .. }
            | ClientOp::Delete { session, .. }
            | ClientOp::Ephemeral { session, .. } => *session,
        }
    }

    pub fn cxid(&self) -> i32 {
        match self {
            ClientOp::CreateSession { .. } => 0,
            ClientOp::Create { cxid, .. }
            | ClientOp::Set { cxid, .. }
            | ClientOp::Delete { cxid, .. }
            | ClientOp::Ephemeral { cxid, .. } => *cxid,
        }
    }

    pub fn key(&self) -> Option<usize> {
        match self {
            ClientOp::Create { key, .. }
            | ClientOp::Set { key, .. }
            | ClientOp::Delete { key, .. } => Some(*key),
            _ => None,
        }
    }
}

/// A server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The server is not serving; the request was never submitted (no effect).
    NotReady,
    /// The txn was applied: error code (0 = ok), the node version after a setData, its zxid.
    Done {
        err: i32,
        version: Option<i32>,
        zxid: Zxid,
    },
}

/// What the history says about one operation's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pending,
    /// Timed out or answered too late: it may or may not have taken effect.
    Unknown,
    /// Certainly had no effect.
    Rejected,
    Done {
        err: i32,
        version: Option<i32>,
        zxid: Zxid,
    },
}

/// One recorded operation; times are global history sequence numbers.
#[derive(Debug, Clone)]
pub struct OpRecord {
    pub id: u64,
    pub client: usize,
    pub server: usize,
    pub op: ClientOp,
    pub call: u64,
    pub ret: Option<u64>,
    pub outcome: Outcome,
}

#[derive(Debug, Clone)]
struct Outstanding {
    op_id: u64,
    deadline: u64,
}

/// One client: a session, at most one outstanding request, a pause (session expiry fault).
#[derive(Debug, Clone)]
pub struct Client {
    pub index: usize,
    pub session: Option<SessionId>,
    generation: u32,
    next_cxid: i32,
    outstanding: Option<Outstanding>,
    next_op_at: u64,
    pub paused_until: u64,
    /// The last version this client saw per key (for compare-and-set).
    known_version: [i32; KEYS],
}

/// All clients and the history of their operations.
#[derive(Debug, Clone)]
pub struct Workload {
    pub clients: Vec<Client>,
    pub history: Vec<OpRecord>,
    clock: u64,
    pub timeout_ms: u64,
    pub session_timeout_ms: i32,
    pub max_ops: usize,
    next_value: u64,
}

impl Workload {
    pub fn new(clients: usize, max_ops: usize) -> Self {
        Workload {
            clients: (0..clients)
                .map(|index| Client {
                    index,
                    session: None,
                    generation: 0,
                    next_cxid: 1,
                    outstanding: None,
                    next_op_at: 0,
                    paused_until: 0,
                    known_version: [-1; KEYS],
                })
                .collect(),
            history: Vec::new(),
            clock: 0,
            timeout_ms: 2_500,
            session_timeout_ms: 4_000,
            max_ops,
            next_value: 1,
        }
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    pub fn idle(&self) -> bool {
        self.clients.iter().all(|c| c.outstanding.is_none())
    }

    /// Requests due now: (client, server, op id, op).
    pub fn next_requests(
        &mut self,
        now: u64,
        servers: usize,
        rng: &mut Rng,
        register_ops: bool,
    ) -> Vec<(usize, usize, u64, ClientOp)> {
        let mut out = Vec::new();
        for i in 0..self.clients.len() {
            // Timeouts first.
            if let Some(o) = &self.clients[i].outstanding {
                if now >= o.deadline {
                    let id = o.op_id;
                    self.clients[i].outstanding = None;
                    let t = self.tick();
                    let rec = &mut self.history[id as usize];
                    rec.ret = Some(t);
                    rec.outcome = Outcome::Unknown;
                    if matches!(rec.op, ClientOp::CreateSession { .. }) {
                        self.clients[i].session = None;
                    }
                }
            }
            let c = &self.clients[i];
            if c.outstanding.is_some() || now < c.next_op_at || now < c.paused_until {
                continue;
            }
            if self.history.len() >= self.max_ops && c.session.is_some() {
                continue;
            }
            let op = match c.session {
                None => {
                    let c = &mut self.clients[i];
                    c.generation += 1;
                    let session = SessionId(((i as i64 + 1) << 32) | i64::from(c.generation));
                    c.session = Some(session);
                    c.next_cxid = 1;
                    ClientOp::CreateSession {
                        session,
                        timeout_ms: self.session_timeout_ms,
                    }
                }
                Some(session) => {
                    if !register_ops {
                        continue;
                    }
                    let key = rng.below(KEYS as u64) as usize;
                    let value = self.next_value;
                    self.next_value += 1;
                    let c = &mut self.clients[i];
                    let cxid = c.next_cxid;
                    c.next_cxid += 1;
                    match rng.below(10) {
                        0..=1 => ClientOp::Create {
                            session,
                            cxid,
                            key,
                            value,
                        },
                        2..=4 => ClientOp::Set {
                            session,
                            cxid,
                            key,
                            value,
                            version: -1,
                        },
                        5..=7 => ClientOp::Set {
                            session,
                            cxid,
                            key,
                            value,
                            version: c.known_version[key].max(0),
                        },
                        8 => ClientOp::Delete {
                            session,
                            cxid,
                            key,
                            version: -1,
                        },
                        _ => ClientOp::Ephemeral { session, cxid },
                    }
                }
            };
            let server = rng.below(servers as u64) as usize;
            let id = self.history.len() as u64;
            let call = self.tick();
            self.history.push(OpRecord {
                id,
                client: i,
                server,
                op: op.clone(),
                call,
                ret: None,
                outcome: Outcome::Pending,
            });
            self.clients[i].outstanding = Some(Outstanding {
                op_id: id,
                deadline: now + self.timeout_ms,
            });
            self.clients[i].next_op_at = now + rng.range(5, 300);
            out.push((i, server, id, op));
        }
        out
    }

    /// A reply reached client `client`.
    pub fn reply(&mut self, client: usize, op_id: u64, reply: Reply) {
        let c = &self.clients[client];
        if c.outstanding.as_ref().is_none_or(|o| o.op_id != op_id) {
            return; // Too late: the op stays unknown.
        }
        self.clients[client].outstanding = None;
        let t = self.tick();
        let rec = &mut self.history[op_id as usize];
        rec.ret = Some(t);
        match reply {
            Reply::NotReady => {
                rec.outcome = Outcome::Rejected;
                if matches!(rec.op, ClientOp::CreateSession { .. }) {
                    self.clients[client].session = None;
                }
            }
            Reply::Done { err, version, zxid } => {
                rec.outcome = Outcome::Done { err, version, zxid };
                if err == zk_jute::ErrorCode::SessionExpired.code() {
                    self.clients[client].session = None;
                }
                if let (Some(key), Some(v)) = (rec.op.key(), version) {
                    self.clients[client].known_version[key] = v;
                }
            }
        }
    }
}
