//! The checker catches planted anomalies and accepts what a correct ZooKeeper may produce,
//! including random histories replayed from real sequential executions with random overlaps.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use zk_jepsen::{
    AnomalyKind, Ephemeral, FailReason, FinalState, History, OpKind, Outcome, Reply, Value,
    Version, Versioned, check,
};

fn ok(reply: Reply) -> Outcome {
    Outcome::Ok(reply)
}

fn written(version: Version) -> Outcome {
    ok(Reply::Written { version })
}

fn read(value: Value, version: Version) -> Outcome {
    ok(Reply::Read(Some(Versioned::new(value, version))))
}

fn info() -> Outcome {
    Outcome::Info("timeout".into())
}

fn final_registers(entries: &[(&str, Option<Versioned>)]) -> FinalState {
    FinalState {
        registers: entries.iter().map(|(k, s)| (k.to_string(), *s)).collect(),
        ..FinalState::default()
    }
}

/// create(0) by client 1 in [0, 10].
fn created() -> History {
    let mut h = History::new();
    h.push(
        1,
        "r",
        OpKind::Create { value: 0 },
        0,
        10,
        ok(Reply::Created),
    );
    h
}

// ---------------------------------------------------------------------------------------------
// Planted anomalies.

#[test]
fn a_lost_write_is_caught() {
    let mut h = created();
    let w = h.push(1, "r", OpKind::Write { value: 1 }, 20, 30, written(1));
    // Both reads begin after the write completed and see the state before it.
    let r = h.push(2, "r", OpKind::Read, 40, 50, read(0, 0));
    h.push(3, "r", OpKind::Read, 60, 70, read(0, 0));
    let report = check(&h, None);
    assert!(!report.is_valid(), "{report}");
    let first = report.first_anomaly().unwrap();
    assert_eq!(first.kind, AnomalyKind::LostWrite, "{report}");
    assert_eq!(first.ops, [w, r]);
    assert!(first.explanation.contains("lost write"), "{first}");
    assert!(report.to_string().contains("INVALID"), "{report}");

    // With the final state too, it is also missing at the end.
    let fin = final_registers(&[("r", Some(Versioned::new(0, 0)))]);
    let report = check(&h, Some(&fin));
    assert!(report.has(AnomalyKind::MissingAtEnd), "{report}");
    assert!(report.has(AnomalyKind::LostWrite), "{report}");
}

#[test]
fn a_write_missing_only_from_the_final_state_is_caught() {
    let mut h = created();
    h.push(1, "r", OpKind::Write { value: 1 }, 20, 30, written(1));
    assert!(check(&h, None).is_valid());
    let fin = final_registers(&[("r", Some(Versioned::new(0, 0)))]);
    let report = check(&h, Some(&fin));
    assert_eq!(
        report.first_anomaly().unwrap().kind,
        AnomalyKind::MissingAtEnd,
        "{report}"
    );
    // The same version with another value is a lost write as well.
    let fin = final_registers(&[("r", Some(Versioned::new(7, 1)))]);
    assert!(check(&h, Some(&fin)).has(AnomalyKind::MissingAtEnd));
    // A node that is gone.
    let fin = final_registers(&[("r", None)]);
    assert!(check(&h, Some(&fin)).has(AnomalyKind::MissingAtEnd));
}

#[test]
fn a_stale_read_is_caught() {
    let mut h = created();
    let w = h.push(1, "r", OpKind::Write { value: 1 }, 20, 30, written(1));
    let stale = h.push(2, "r", OpKind::Read, 40, 50, read(0, 0));
    let later = h.push(3, "r", OpKind::Read, 60, 70, read(1, 1));
    let report = check(&h, None);
    let first = report.first_anomaly().expect("rejected");
    assert_eq!(first.kind, AnomalyKind::StaleRead, "{report}");
    assert_eq!(first.ops, [w, stale, later]);
}

#[test]
fn a_cas_that_succeeded_twice_at_one_version_is_caught() {
    let mut h = created();
    let a = h.push(
        1,
        "r",
        OpKind::Cas {
            expected_version: 0,
            value: 1,
        },
        20,
        40,
        written(1),
    );
    let b = h.push(
        2,
        "r",
        OpKind::Cas {
            expected_version: 0,
            value: 2,
        },
        25,
        45,
        written(1),
    );
    let report = check(&h, None);
    let first = report.first_anomaly().expect("rejected");
    assert_eq!(first.kind, AnomalyKind::DuplicateVersion, "{report}");
    assert_eq!(first.ops, [a, b]);
    assert!(
        first
            .explanation
            .contains("compare-and-set at version 0 succeeded twice"),
        "{first}"
    );
}

#[test]
fn a_cas_reporting_a_version_it_could_not_make_is_caught() {
    let mut h = created();
    h.push(
        1,
        "r",
        OpKind::Cas {
            expected_version: 0,
            value: 1,
        },
        20,
        40,
        written(2),
    );
    let report = check(&h, None);
    assert_eq!(
        report.first_anomaly().unwrap().kind,
        AnomalyKind::NotLinearizable
    );
    assert!(
        report
            .first_anomaly()
            .unwrap()
            .explanation
            .contains("made version 1"),
        "{report}"
    );
}

#[test]
fn a_read_of_a_value_never_written_is_caught() {
    let mut h = created();
    h.push(2, "r", OpKind::Read, 20, 30, read(42, 0));
    let report = check(&h, None);
    let first = report.first_anomaly().expect("rejected");
    assert_eq!(first.kind, AnomalyKind::NotLinearizable);
    assert!(
        first
            .explanation
            .contains("op 1 read value 42 at version 0"),
        "{first}"
    );
}

#[test]
fn a_read_that_travels_back_in_time_is_caught() {
    // Two concurrent writes, but two sequential reads see them in both orders.
    let mut h = created();
    h.push(1, "r", OpKind::Write { value: 1 }, 20, 100, written(1));
    h.push(2, "r", OpKind::Write { value: 2 }, 20, 100, written(2));
    h.push(3, "r", OpKind::Read, 30, 40, read(2, 2));
    h.push(3, "r", OpKind::Read, 50, 60, read(1, 1));
    assert!(!check(&h, None).is_valid());
}

#[test]
fn duplicate_sequence_numbers_are_caught() {
    let mut h = History::new();
    let a = h.push(
        1,
        "/seq",
        OpKind::CreateSequential { value: 1 },
        0,
        10,
        ok(Reply::Sequential { seq: 7 }),
    );
    h.push(
        2,
        "/seq",
        OpKind::CreateSequential { value: 2 },
        0,
        10,
        ok(Reply::Sequential { seq: 8 }),
    );
    let c = h.push(
        3,
        "/seq",
        OpKind::CreateSequential { value: 3 },
        20,
        30,
        ok(Reply::Sequential { seq: 7 }),
    );
    let report = check(&h, None);
    let first = report.first_anomaly().expect("rejected");
    assert_eq!(first.kind, AnomalyKind::DuplicateSequence);
    assert_eq!(first.ops, [a, c]);
    assert!(first.explanation.contains("sequence number 7"), "{first}");
}

#[test]
fn an_acknowledged_sequential_node_missing_at_the_end_is_caught() {
    let mut h = History::new();
    h.push(
        1,
        "/seq",
        OpKind::CreateSequential { value: 1 },
        0,
        10,
        ok(Reply::Sequential { seq: 0 }),
    );
    h.push(
        1,
        "/seq",
        OpKind::CreateSequential { value: 2 },
        20,
        30,
        ok(Reply::Sequential { seq: 1 }),
    );
    // Unknown: may or may not exist at the end.
    h.push(
        2,
        "/seq",
        OpKind::CreateSequential { value: 3 },
        20,
        30,
        info(),
    );
    let mut fin = FinalState::default();
    fin.sequential
        .insert("/seq".into(), BTreeSet::from([0, 1, 2]));
    assert!(check(&h, Some(&fin)).is_valid());
    fin.sequential.insert("/seq".into(), BTreeSet::from([1]));
    let report = check(&h, Some(&fin));
    assert_eq!(
        report.first_anomaly().unwrap().kind,
        AnomalyKind::MissingAtEnd
    );
}

#[test]
fn ephemerals_of_expired_sessions_are_caught() {
    let fin = FinalState {
        ephemerals: vec![
            Ephemeral {
                path: "/e/live".into(),
                owner: 0x100,
            },
            Ephemeral {
                path: "/e/dead".into(),
                owner: 0x200,
            },
        ],
        expired_sessions: BTreeSet::from([0x200, 0x300]),
        ..FinalState::default()
    };
    let report = check(&History::new(), Some(&fin));
    assert_eq!(report.anomalies.len(), 1, "{report}");
    let first = report.first_anomaly().unwrap();
    assert_eq!(first.kind, AnomalyKind::EphemeralOfExpiredSession);
    assert_eq!(first.key, "/e/dead");
    assert!(first.explanation.contains("0x200"), "{first}");
}

#[test]
fn queue_anomalies_are_caught_and_unknown_takes_excuse_a_loss() {
    let put = |h: &mut History, p, v, outcome| {
        h.push(p, "/q", OpKind::QueuePut { value: v }, 0, 10, outcome)
    };
    let take =
        |h: &mut History, p, t, outcome| h.push(p, "/q", OpKind::QueueTake, t, t + 10, outcome);
    let mut h = History::new();
    put(&mut h, 1, 1, ok(Reply::Put));
    put(&mut h, 1, 2, ok(Reply::Put));
    put(&mut h, 1, 3, ok(Reply::Put));
    take(&mut h, 2, 20, ok(Reply::Taken(Some(1))));
    take(&mut h, 3, 20, info());
    let queue = |left: Vec<Value>| {
        let mut fin = FinalState::default();
        fin.queues.insert("/q".into(), left);
        fin
    };
    // 3 is still queued, 2 may have been taken by the unknown take.
    assert!(check(&h, Some(&queue(vec![3]))).is_valid());
    // Two values gone, but only one unknown take.
    let report = check(&h, Some(&queue(vec![])));
    assert_eq!(report.first_anomaly().unwrap().kind, AnomalyKind::QueueLost);

    let mut dup = h.clone();
    take(&mut dup, 4, 40, ok(Reply::Taken(Some(1))));
    assert!(check(&dup, Some(&queue(vec![2, 3]))).has(AnomalyKind::QueueDuplicate));

    let mut invented = h.clone();
    take(&mut invented, 4, 40, ok(Reply::Taken(Some(99))));
    assert!(check(&invented, Some(&queue(vec![2, 3]))).has(AnomalyKind::QueueUnexpected));
}

// ---------------------------------------------------------------------------------------------
// Valid histories.

#[test]
fn overlapping_operations_are_linearizable_in_some_order() {
    let mut h = created();
    // Two overlapping writes take effect in the order opposite to their invocations.
    h.push(1, "r", OpKind::Write { value: 1 }, 20, 60, written(2));
    h.push(2, "r", OpKind::Write { value: 2 }, 25, 55, written(1));
    // A read overlapping both sees the first to take effect, one after both sees the last.
    h.push(3, "r", OpKind::Read, 30, 70, read(2, 1));
    h.push(3, "r", OpKind::Read, 80, 90, read(1, 2));
    // A CAS that lost the race failed, a CAS at the right version succeeded.
    h.push(
        4,
        "r",
        OpKind::Cas {
            expected_version: 1,
            value: 3,
        },
        85,
        95,
        Outcome::Fail(FailReason::BadVersion),
    );
    h.push(
        4,
        "r",
        OpKind::Increment {
            expected_version: 2,
            delta: 10,
        },
        100,
        110,
        written(3),
    );
    h.push(5, "r", OpKind::Read, 105, 120, read(11, 3));
    // A read concurrent with the create may see no node; a create after it fails.
    h.push(6, "r", OpKind::Read, 0, 5, ok(Reply::Read(None)));
    h.push(
        6,
        "r",
        OpKind::Create { value: 5 },
        12,
        15,
        Outcome::Fail(FailReason::NodeExists),
    );
    let fin = final_registers(&[("r", Some(Versioned::new(11, 3)))]);
    let report = check(&h, Some(&fin));
    assert!(report.is_valid(), "{report}");
    assert_eq!(report.registers_checked, 1);
    assert!(report.to_string().contains("anomalies: 0"), "{report}");
}

#[test]
fn unknown_operations_may_or_may_not_take_effect() {
    // Took effect, seen by a later read.
    let mut h = created();
    h.push(1, "r", OpKind::Write { value: 1 }, 20, 30, info());
    h.push(2, "r", OpKind::Read, 40, 50, read(1, 1));
    assert!(check(&h, None).is_valid());

    // Never took effect.
    let mut h = created();
    h.push(1, "r", OpKind::Write { value: 1 }, 20, 30, info());
    h.push(2, "r", OpKind::Read, 40, 50, read(0, 0));
    let fin = final_registers(&[("r", Some(Versioned::new(0, 0)))]);
    assert!(check(&h, Some(&fin)).is_valid());

    // Took effect long after its client gave up, between two reads.
    let mut h = created();
    h.push(
        1,
        "r",
        OpKind::Cas {
            expected_version: 0,
            value: 1,
        },
        20,
        30,
        info(),
    );
    h.push(2, "r", OpKind::Read, 40, 50, read(0, 0));
    h.push(2, "r", OpKind::Read, 60, 70, read(1, 1));
    h.push(
        3,
        "r",
        OpKind::Cas {
            expected_version: 1,
            value: 2,
        },
        80,
        90,
        written(2),
    );
    let fin = final_registers(&[("r", Some(Versioned::new(2, 2)))]);
    assert!(check(&h, Some(&fin)).is_valid());

    // But an unknown operation cannot take effect before it was invoked.
    let mut h = created();
    h.push(2, "r", OpKind::Read, 40, 50, read(1, 1));
    h.push(1, "r", OpKind::Write { value: 1 }, 60, 70, info());
    assert!(!check(&h, None).is_valid());
}

#[test]
fn keys_are_independent() {
    let mut h = History::new();
    h.push(
        1,
        "a",
        OpKind::Create { value: 1 },
        0,
        10,
        ok(Reply::Created),
    );
    h.push(
        2,
        "b",
        OpKind::Create { value: 2 },
        0,
        10,
        ok(Reply::Created),
    );
    h.push(1, "a", OpKind::Read, 20, 30, read(1, 0));
    h.push(2, "b", OpKind::Read, 20, 30, read(2, 0));
    let report = check(&h, None);
    assert!(report.is_valid(), "{report}");
    assert_eq!(report.registers_checked, 2);
}

// ---------------------------------------------------------------------------------------------
// Random histories from real sequential executions.

/// One generated operation: kind, key, how long before and after its point of effect it was
/// invoked and completed, its fate, and whether a CAS/increment uses a stale version.
type Spec = (u8, u8, u16, u16, u8, bool);

/// An independent model of a znode register (not the checker's).
fn apply(state: Option<Versioned>, kind: OpKind) -> (Option<Versioned>, Outcome) {
    let bump = |expected: Option<Version>, f: &dyn Fn(Value) -> Value| match state {
        None => (None, Outcome::Fail(FailReason::NoNode)),
        Some(s) if expected.is_some_and(|e| e != s.version) => {
            (state, Outcome::Fail(FailReason::BadVersion))
        }
        Some(s) => {
            let next = Versioned::new(f(s.value), s.version + 1);
            (Some(next), written(next.version))
        }
    };
    match kind {
        OpKind::Read => (state, ok(Reply::Read(state))),
        OpKind::Write { value } => bump(None, &|_| value),
        OpKind::Cas {
            expected_version,
            value,
        } => bump(Some(expected_version), &|_| value),
        OpKind::Increment {
            expected_version,
            delta,
        } => bump(Some(expected_version), &|v| v + delta),
        OpKind::Create { value } if state.is_none() => {
            (Some(Versioned::new(value, 0)), ok(Reply::Created))
        }
        OpKind::Create { .. } => (state, Outcome::Fail(FailReason::NodeExists)),
        _ => unreachable!(),
    }
}

/// Runs the specs one after the other, operation i taking effect at time 60_000 + 10_000 * (i + 1), and
/// records each as invoked up to 6 operations earlier and completed up to 6 later. `lose` names an
/// acknowledged write to record but not apply. Returns the history, the final state, and the ids
/// of the acknowledged writes.
fn execute(
    specs: &[Spec],
    allow_unknown: bool,
    lose: Option<usize>,
) -> (History, FinalState, Vec<usize>) {
    let keys = ["k0", "k1", "k2"];
    let mut state: BTreeMap<&str, Option<Versioned>> = keys.iter().map(|k| (*k, None)).collect();
    let mut history = History::new();
    let mut acked_writes = Vec::new();
    for (i, &(kind, key, before, after, fate, stale)) in specs.iter().enumerate() {
        let key = keys[usize::from(key) % keys.len()];
        let at = 60_000 + 10_000 * (i as u64 + 1);
        let cur = state[key];
        let current = cur.map_or(0, |s| s.version);
        let version = match (stale, current) {
            (false, v) => v,
            (true, 0) => 1,
            (true, v) => v - 1,
        };
        let value = (i as i64 + 1) * 1_000_000;
        let kind = match kind % 5 {
            0 => OpKind::Read,
            1 => OpKind::Write { value },
            2 => OpKind::Cas {
                expected_version: version,
                value,
            },
            3 => OpKind::Create { value },
            _ => OpKind::Increment {
                expected_version: version,
                delta: 1,
            },
        };
        let (next, outcome) = apply(cur, kind);
        let fate = if allow_unknown { fate % 10 } else { 9 };
        let outcome = match fate {
            // Unknown, and it did take effect.
            0 => {
                state.insert(key, next);
                info()
            }
            // Unknown, and it never took effect.
            1 => info(),
            // Failed before reaching the ensemble.
            2 => Outcome::Fail(FailReason::Other("not connected".into())),
            _ => {
                let id = history.len();
                let is_write =
                    matches!(outcome, Outcome::Ok(Reply::Written { .. } | Reply::Created));
                if is_write {
                    acked_writes.push(id);
                }
                if !(is_write && lose == Some(acked_writes.len() - 1)) {
                    state.insert(key, next);
                }
                outcome
            }
        };
        history.push(
            i as u32,
            key,
            kind,
            at - u64::from(before) * 10,
            at + u64::from(after) * 10,
            outcome,
        );
    }
    let fin = FinalState {
        registers: state.iter().map(|(k, s)| (k.to_string(), *s)).collect(),
        ..FinalState::default()
    };
    (history, fin, acked_writes)
}

fn specs() -> impl Strategy<Value = Vec<Spec>> {
    prop::collection::vec(
        (
            0u8..5,
            0u8..3,
            0u16..6000,
            0u16..6000,
            0u8..10,
            any::<bool>(),
        ),
        1..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn histories_of_real_sequential_executions_are_accepted(specs in specs()) {
        let (history, fin, _) = execute(&specs, true, None);
        let report = check(&history, Some(&fin));
        prop_assert!(report.is_valid(), "{report}\n{history:#?}");
    }

    #[test]
    fn an_acknowledged_write_that_did_not_happen_is_always_caught(
        specs in specs(),
        pick in any::<prop::sample::Index>(),
    ) {
        // Without unknown outcomes: one of those may otherwise stand in for the lost write.
        let (_, _, acked) = execute(&specs, false, None);
        if acked.is_empty() {
            return Ok(());
        }
        let lost = pick.index(acked.len());
        let (history, fin, _) = execute(&specs, false, Some(lost));
        let report = check(&history, Some(&fin));
        prop_assert!(!report.is_valid(), "accepted a lost write: {report}\n{history:#?}");
    }

    #[test]
    fn a_read_of_a_version_or_value_never_written_is_always_caught(
        specs in specs(),
        pick in any::<prop::sample::Index>(),
        bump_version in any::<bool>(),
    ) {
        let (history, fin, _) = execute(&specs, true, None);
        let reads: Vec<usize> = history
            .ops()
            .iter()
            .filter(|o| matches!(o.outcome, Outcome::Ok(Reply::Read(Some(_)))))
            .map(|o| o.id)
            .collect();
        if reads.is_empty() {
            return Ok(());
        }
        let victim = reads[pick.index(reads.len())];
        let mut mutated = History::new();
        for op in history.ops() {
            let mut outcome = op.outcome.clone();
            if op.id == victim {
                if let Outcome::Ok(Reply::Read(Some(v))) = outcome {
                    let v = if bump_version {
                        Versioned::new(v.value, v.version + 1000)
                    } else {
                        Versioned::new(-1, v.version)
                    };
                    outcome = ok(Reply::Read(Some(v)));
                }
            }
            mutated.push(op.process, op.key.clone(), op.kind, op.invoke, op.complete, outcome);
        }
        let report = check(&mutated, Some(&fin));
        prop_assert!(!report.is_valid(), "accepted an impossible read: {report}");
    }
}

#[test]
fn a_long_history_with_unknown_outcomes_stays_cheap_to_check() {
    let mut rng = fastrand::Rng::with_seed(11);
    let specs: Vec<Spec> = (0..3000)
        .map(|_| {
            (
                rng.u8(0..5),
                0,
                rng.u16(0..6000),
                rng.u16(0..6000),
                rng.u8(0..10),
                rng.bool(),
            )
        })
        .collect();
    let (history, fin, _) = execute(&specs, true, None);
    let report = check(&history, Some(&fin));
    assert!(report.is_valid(), "{report}");
    assert!(report.unknown > 300, "{report}");
    // Memoisation and the pruning of no-op unknown operations keep the search near linear.
    assert!(report.states_explored < 10 * 3000, "{report}");
}
