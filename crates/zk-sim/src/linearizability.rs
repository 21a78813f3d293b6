//! A Wing-Gong style linearizability checker (with the memoisation of Lowe's variant) for the
//! register history of the workload: each key is an independent register (compositionality), with
//! create, setData with or without an expected version, and delete. An operation whose outcome is
//! unknown may take effect at any point after its call, or never.

use std::collections::BTreeSet;

use zk_jute::ErrorCode;

use crate::client::{ClientOp, OpRecord, Outcome};

/// A register: absent, or (value, version).
type State = Option<(u64, i32)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Create(u64),
    Set(u64, i32),
    Delete(i32),
}

/// What the history says came back: `None` for unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    err: i32,
    version: Option<i32>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    id: u64,
    kind: Kind,
    call: u64,
    ret: u64,
    seen: Option<Seen>,
}

fn step(state: State, kind: Kind) -> (State, Seen) {
    let ok = |version| Seen { err: 0, version };
    let err = |e: ErrorCode| Seen {
        err: e.code(),
        version: None,
    };
    match (kind, state) {
        (Kind::Create(v), None) => (Some((v, 0)), ok(None)),
        (Kind::Create(_), Some(_)) => (state, err(ErrorCode::NodeExists)),
        (Kind::Set(..) | Kind::Delete(_), None) => (state, err(ErrorCode::NoNode)),
        (Kind::Set(v, expected), Some((_, cur))) => {
            if expected != -1 && expected != cur {
                (state, err(ErrorCode::BadVersion))
            } else {
                (Some((v, cur + 1)), ok(Some(cur + 1)))
            }
        }
        (Kind::Delete(expected), Some((_, cur))) => {
            if expected != -1 && expected != cur {
                (state, err(ErrorCode::BadVersion))
            } else {
                (None, ok(None))
            }
        }
    }
}

/// A history that admits no linearization, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotLinearizable {
    pub key: usize,
    pub op_ids: Vec<u64>,
}

/// Checks the register history per key.
pub fn check(history: &[OpRecord]) -> Result<(), NotLinearizable> {
    for key in 0..crate::client::KEYS {
        let mut entries: Vec<Entry> = history
            .iter()
            .filter(|r| r.op.key() == Some(key))
            .filter_map(entry)
            .collect();
        entries.sort_by_key(|e| e.call);
        if !linearizable(&entries) {
            return Err(NotLinearizable {
                key,
                op_ids: entries.iter().map(|e| e.id).collect(),
            });
        }
    }
    Ok(())
}

fn entry(r: &OpRecord) -> Option<Entry> {
    let kind = match r.op {
        ClientOp::Create { value, .. } => Kind::Create(value),
        ClientOp::Set { value, version, .. } => Kind::Set(value, version),
        ClientOp::Delete { version, .. } => Kind::Delete(version),
        _ => return None,
    };
    let relevant = [
        0,
        ErrorCode::NodeExists.code(),
        ErrorCode::NoNode.code(),
        ErrorCode::BadVersion.code(),
    ];
    let seen = match &r.outcome {
        Outcome::Pending | Outcome::Unknown => None,
        Outcome::Rejected => return None,
        // Other errors (an expired session) are decided before the op touches the register.
        Outcome::Done { err, .. } if !relevant.contains(err) => return None,
        Outcome::Done { err, version, .. } => Some(Seen {
            err: *err,
            version: if matches!(kind, Kind::Set(..)) {
                *version
            } else {
                None
            },
        }),
    };
    Some(Entry {
        id: r.id,
        kind,
        call: r.call,
        ret: if seen.is_some() {
            r.ret.unwrap_or(u64::MAX)
        } else {
            u64::MAX
        },
        seen,
    })
}

fn linearizable(entries: &[Entry]) -> bool {
    let words = entries.len().div_ceil(64).max(1);
    let mut done = vec![0u64; words];
    let mut cache: BTreeSet<(Vec<u64>, State)> = BTreeSet::new();
    let known = entries.iter().filter(|e| e.seen.is_some()).count();
    search(entries, None, &mut done, known, &mut cache)
}

fn is_set(bits: &[u64], i: usize) -> bool {
    bits[i / 64] & (1 << (i % 64)) != 0
}

fn search(
    entries: &[Entry],
    state: State,
    done: &mut Vec<u64>,
    known_left: usize,
    cache: &mut BTreeSet<(Vec<u64>, State)>,
) -> bool {
    if known_left == 0 {
        return true;
    }
    let min_ret = entries
        .iter()
        .enumerate()
        .filter(|(i, _)| !is_set(done, *i))
        .map(|(_, e)| e.ret)
        .min()
        .unwrap_or(u64::MAX);
    for (i, e) in entries.iter().enumerate() {
        if is_set(done, i) {
            continue;
        }
        if e.call > min_ret {
            break;
        }
        let (next, seen) = step(state, e.kind);
        if e.seen.is_some_and(|s| s != seen) {
            continue;
        }
        done[i / 64] |= 1 << (i % 64);
        if cache.insert((done.clone(), next)) {
            let left = known_left - usize::from(e.seen.is_some());
            if search(entries, next, done, left, cache) {
                return true;
            }
        }
        done[i / 64] &= !(1 << (i % 64));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_jute::{SessionId, Zxid};

    fn rec(id: u64, op: ClientOp, call: u64, ret: u64, outcome: Outcome) -> OpRecord {
        OpRecord {
            id,
            client: 0,
            server: 0,
            op,
            call,
            ret: Some(ret),
            outcome,
        }
    }

    fn set(value: u64, version: i32) -> ClientOp {
        ClientOp::Set {
            session: SessionId(1),
            cxid: 1,
            key: 0,
            value,
            version,
        }
    }

    fn create(value: u64) -> ClientOp {
        ClientOp::Create {
            session: SessionId(1),
            cxid: 1,
            key: 0,
            value,
        }
    }

    fn ok(version: Option<i32>) -> Outcome {
        Outcome::Done {
            err: 0,
            version,
            zxid: Zxid(1),
        }
    }

    #[test]
    fn sequential_history_passes_and_lost_write_fails() {
        let good = vec![
            rec(0, create(1), 1, 2, ok(None)),
            rec(1, set(2, -1), 3, 4, ok(Some(1))),
            rec(2, set(3, 1), 5, 6, ok(Some(2))),
        ];
        assert_eq!(check(&good), Ok(()));
        // The second set claims version 1 again: the first set was lost.
        let bad = vec![
            rec(0, create(1), 1, 2, ok(None)),
            rec(1, set(2, -1), 3, 4, ok(Some(1))),
            rec(2, set(3, -1), 5, 6, ok(Some(1))),
        ];
        assert!(check(&bad).is_err());
    }

    #[test]
    fn concurrent_and_unknown_ops_may_take_effect_or_not() {
        let h = vec![
            rec(0, create(1), 1, 2, ok(None)),
            // Unknown: may have happened (it explains version 2 below).
            rec(1, set(2, -1), 3, 4, Outcome::Unknown),
            rec(2, set(3, -1), 5, 8, ok(Some(2))),
            // Unknown and never needed.
            rec(3, set(4, 0), 6, 7, Outcome::Unknown),
        ];
        assert_eq!(check(&h), Ok(()));
        let h = vec![
            rec(0, create(1), 1, 2, ok(None)),
            rec(1, set(3, -1), 5, 8, ok(Some(2))),
        ];
        assert!(check(&h).is_err());
    }
}
