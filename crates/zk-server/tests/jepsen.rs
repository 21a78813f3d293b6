//! Jepsen-style tests of our servers as real processes: clients of our async client run a
//! workload of compare-and-set registers, counters in multis, sequential creates and a queue
//! (`common/jepsen/workload.rs`), recording every operation with its invoke and complete times,
//! while zk-jepsen's nemesis cycles faults over the ensemble (`common/jepsen/fixture.rs`: kill -9
//! and restart, SIGSTOP/SIGCONT, partitions and delays through a fault proxy on every link between
//! members, a full txn log disk, a torn write at the tail of a txn log). Once the faults are healed
//! and every client made progress again, the final state is read through every member after a
//! `sync` and zk-jepsen's checker decides: linearizable registers and counters, no acknowledged
//! write missing, unique sequence numbers, a queue that loses and duplicates nothing, and no
//! ephemeral of an expired session. Each run prints its report: operations by kind and outcome,
//! the faults injected, the anomalies.
//!
//! - `jepsen_short_form_three_servers_two_minutes_every_fault`: the CI form.
//! - `jepsen_long_form`: run by hand, parameterised by the environment:
//!   `JEPSEN_SERVERS=5 JEPSEN_SECONDS=1800 cargo test -p zk-server --test jepsen -- --ignored
//!   --nocapture`.
//! - `the_checker_rejects_anomalies_planted_in_a_real_history`: lost writes, stale reads, double
//!   CAS, duplicate or missing sequence numbers, queue anomalies and a surviving ephemeral planted
//!   into a real history and final state are each rejected.
//!
//! `JEPSEN_SEED=n` replays a run's fault schedule (the seed is printed). The txn logs live on
//! small tmpfs mounts, so these tests need root (CAP_SYS_ADMIN), as CI has;
//! `JEPSEN_DISK_FAULTS=off` runs them without the full-disk fault.

mod common;
#[path = "common/jepsen/fixture.rs"]
mod fixture;
#[path = "common/jepsen/workload.rs"]
mod workload;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::ensemble::ONE_AT_A_TIME;
use fixture::Fixture;
use workload::{QUEUE, Workload, WorkloadConfig, ops_table};
use zk_jepsen::{
    AnomalyKind, Checker, Ephemeral, FaultKind, FinalState, History, NemesisLog, OpKind, Outcome,
    Reply, Report, Schedule, ScheduleConfig, Versioned, nemesis,
};

/// What a run produced.
struct Run {
    history: History,
    final_state: FinalState,
    report: Report,
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {value:?}")),
    )
}

fn seed() -> u64 {
    env_u64("JEPSEN_SEED").unwrap_or_else(|| fastrand::u64(..))
}

/// Starts `servers` of ours, runs the workload with the nemesis of `schedule` (drawn from
/// `seed`) for `duration`, heals, waits until every client made progress again, reads the final
/// state and checks it.
async fn run(
    name: &str,
    servers: usize,
    duration: Duration,
    seed: u64,
    schedule: impl FnOnce(Vec<u32>) -> ScheduleConfig,
) -> Run {
    println!("{name}: {servers} servers, {duration:?} of faults, JEPSEN_SEED={seed}");
    let started = Instant::now();
    let mut fixture = Fixture::start(servers, seed).await;
    let mut workload = Workload::start(
        fixture.ensemble.connect_string(),
        WorkloadConfig::new(2 * servers, seed),
    )
    .await;
    let mut config = ScheduleConfig {
        seed,
        ..schedule(fixture.members())
    };
    if !fixture::disk_faults() {
        config.kinds.retain(|k| *k != FaultKind::DiskFull);
    }
    let mut schedule = Schedule::new(config);
    // zkCleanup.sh from cron, every 20 s, while the faults go on.
    let purging = tokio::spawn({
        let e = fixture.ensemble.clone();
        async move {
            let mut every = tokio::time::interval(Duration::from_secs(20));
            loop {
                every.tick().await;
                let e = e.clone();
                let _ = tokio::task::spawn_blocking(move || Fixture::purge_old_files(&e)).await;
            }
        }
    });
    let log = nemesis::run(&mut fixture, &mut schedule, duration).await;
    purging.abort();
    let log = match log {
        Ok(log) => log,
        Err(e) => panic!("{name} (JEPSEN_SEED={seed}): the nemesis failed: {e}"),
    };
    // Healed: the ensemble must serve every client again.
    fixture.wait_healthy().await;
    let before = workload.acked();
    workload
        .wait_progress(&before, Duration::from_secs(60))
        .await;
    let (history, expired) = workload.stop().await;
    let final_state = workload.final_state(&fixture.ensemble, &expired).await;
    let checking = Instant::now();
    let report = Checker::new().check(&history, Some(&final_state));
    println!(
        "{}",
        describe(
            name,
            seed,
            &history,
            &final_state,
            &report,
            &log,
            &fixture,
            workload.sessions(),
            started.elapsed(),
            checking.elapsed()
        )
    );
    Run {
        history,
        final_state,
        report,
    }
}

/// The report of a run.
#[allow(clippy::too_many_arguments)]
fn describe(
    name: &str,
    seed: u64,
    history: &History,
    final_state: &FinalState,
    report: &Report,
    log: &NemesisLog,
    fixture: &Fixture,
    sessions: u64,
    took: Duration,
    checking: Duration,
) -> String {
    let mut out = format!(
        "===== {name} (JEPSEN_SEED={seed}), {:.0} s in all, checked in {:.1} s =====\n",
        took.as_secs_f64(),
        checking.as_secs_f64()
    );
    out.push_str(&ops_table(history));
    out.push_str(&format!(
        "sessions: {sessions} ({} expired); final state: {} registers and counters, {} sequential \
         nodes, {} queued, {} ephemerals\n",
        final_state.expired_sessions.len(),
        final_state.registers.len(),
        final_state
            .sequential
            .values()
            .map(|s| s.len())
            .sum::<usize>(),
        final_state.queues.values().map(|q| q.len()).sum::<usize>(),
        final_state.ephemerals.len(),
    ));
    out.push_str(&format!("faults: {log}\n"));
    for e in &log.events {
        out.push_str(&format!(
            "  {:>7.1} s  {} {}\n",
            e.at.as_secs_f64(),
            if e.injected { "inject" } else { "heal  " },
            e.fault
        ));
    }
    out.push_str(&format!("partitions by style: {:?}\n", fixture.partitions));
    out.push_str(&fixture.describe_disk_faults());
    out.push_str(&format!("checker: {report}\n"));
    for a in report.anomalies.iter().take(20) {
        out.push_str(&format!("  {a}\n"));
    }
    out
}

fn assert_valid(name: &str, run: &Run) {
    assert!(
        run.report.is_valid(),
        "{name}: the checker found anomalies (see the report above): {}",
        run.report
    );
}

/// The CI form: 3 servers, 2 minutes of every fault kind in turn, 3–8 s each with 3–6 s of quiet
/// in between (so every kind comes up at least once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jepsen_short_form_three_servers_two_minutes_every_fault() {
    let _one = ONE_AT_A_TIME.lock().await;
    let name = "jepsen short form";
    let run = run(name, 3, Duration::from_secs(120), seed(), |members| {
        ScheduleConfig {
            hold: (Duration::from_secs(3), Duration::from_secs(8)),
            quiet: (Duration::from_secs(3), Duration::from_secs(6)),
            ..ScheduleConfig::all(members, 0)
        }
    })
    .await;
    assert_valid(name, &run);
    assert!(run.report.ok > 0, "nothing was acknowledged");
}

/// The long form, by hand: `JEPSEN_SERVERS` (default 5) servers for `JEPSEN_SECONDS` (default
/// 1800) of every fault kind in turn, 5–15 s each with 5–10 s of quiet.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "long form, run by hand: JEPSEN_SERVERS=5 JEPSEN_SECONDS=1800 cargo test -p zk-server --test jepsen -- --ignored --nocapture"]
async fn jepsen_long_form() {
    let _one = ONE_AT_A_TIME.lock().await;
    let servers = env_u64("JEPSEN_SERVERS").unwrap_or(5) as usize;
    let seconds = env_u64("JEPSEN_SECONDS").unwrap_or(1800);
    let name = "jepsen long form";
    let run = run(
        name,
        servers,
        Duration::from_secs(seconds),
        seed(),
        |members| ScheduleConfig::all(members, 0),
    )
    .await;
    assert_valid(name, &run);
}

/// A history with `planted` appended (its id is the history's length).
fn with_op(history: &History, planted: zk_jepsen::Op) -> History {
    let mut h = History::new();
    for op in history.ops().iter().chain(std::iter::once(&planted)) {
        h.push(
            op.process,
            op.key.clone(),
            op.kind,
            op.invoke,
            op.complete,
            op.outcome.clone(),
        );
    }
    h
}

/// A client id no real client had.
const PLANTER: u32 = 1_000_000;

/// A short real run (3 servers, a leader killed now and then), valid; then each anomaly planted in
/// its history or final state alone must be rejected, with the kind the checker names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checker_rejects_anomalies_planted_in_a_real_history() {
    let _one = ONE_AT_A_TIME.lock().await;
    let name = "planted anomalies";
    let real = run(name, 3, Duration::from_secs(20), seed(), |members| {
        ScheduleConfig {
            kinds: vec![FaultKind::KillLeader],
            hold: (Duration::from_secs(2), Duration::from_secs(3)),
            quiet: (Duration::from_secs(3), Duration::from_secs(5)),
            ..ScheduleConfig::all(members, 0)
        }
    })
    .await;
    assert_valid(name, &real);
    let (h, fin) = (&real.history, &real.final_state);
    let rejects = |what: &str, h: &History, fin: &FinalState, kind: AnomalyKind| {
        let report = Checker::new().check(h, Some(fin));
        println!("planted {what}: {report}");
        assert!(
            report.has(kind),
            "planted {what}: expected {kind:?}, the checker said: {report}"
        );
    };
    let end = h.ops().iter().map(|o| o.complete).max().unwrap_or(0);

    // The newest acknowledged write of a register, and what it replaced.
    let acked = h
        .ops()
        .iter()
        .filter(|o| matches!(o.kind, OpKind::Cas { .. } | OpKind::Write { .. }))
        .filter_map(|o| match o.outcome {
            Outcome::Ok(Reply::Written { version }) => Some((o, version)),
            _ => None,
        })
        .filter(|(o, v)| fin.registers.get(&o.key) == Some(&Some(Versioned::new(value_of(o), *v))))
        .max_by_key(|(o, _)| o.complete)
        .expect("an acknowledged write that the final state shows");
    let (write, version) = acked;
    let older = Versioned::new(-7, version - 1);

    // A lost write: the final state rolled back to the version before it.
    let mut lost = fin.clone();
    lost.registers.insert(write.key.clone(), Some(older));
    rejects("lost write", h, &lost, AnomalyKind::MissingAtEnd);

    // A stale read: after the write completed, a read saw the version before it.
    let read_before = h.ops().iter().find_map(|o| match (&o.kind, &o.outcome) {
        (OpKind::Read, Outcome::Ok(Reply::Read(Some(v))))
            if o.key == write.key && v.version == version - 1 =>
        {
            Some(*v)
        }
        _ => None,
    });
    let stale = with_op(
        h,
        zk_jepsen::Op {
            id: 0,
            process: PLANTER,
            key: write.key.clone(),
            kind: OpKind::Read,
            invoke: write.complete + 1,
            complete: write.complete + 2,
            outcome: Outcome::Ok(Reply::Read(Some(read_before.unwrap_or(older)))),
        },
    );
    let report = Checker::new().check(&stale, Some(fin));
    println!("planted stale read: {report}");
    assert!(
        report.has(AnomalyKind::StaleRead) || report.has(AnomalyKind::NotLinearizable),
        "planted stale read: {report}"
    );

    // A compare-and-set that succeeded twice at one version.
    let (expected_version, value) = match write.kind {
        OpKind::Cas {
            expected_version,
            value,
        } => (expected_version, value),
        _ => (version - 1, value_of(write)),
    };
    let double = with_op(
        h,
        zk_jepsen::Op {
            id: 0,
            process: PLANTER,
            key: write.key.clone(),
            kind: OpKind::Cas {
                expected_version,
                value: value + 1_000_000_000,
            },
            invoke: write.invoke,
            complete: write.complete,
            outcome: Outcome::Ok(Reply::Written { version }),
        },
    );
    rejects("double CAS", &double, fin, AnomalyKind::DuplicateVersion);

    // Sequence numbers: one returned twice, one missing at the end.
    let seq_op = h
        .ops()
        .iter()
        .find_map(|o| match o.outcome {
            Outcome::Ok(Reply::Sequential { seq }) => Some((o, seq)),
            _ => None,
        })
        .expect("an acknowledged sequential create");
    let (create, seq) = seq_op;
    let duplicate = with_op(
        h,
        zk_jepsen::Op {
            id: 0,
            process: PLANTER,
            key: create.key.clone(),
            kind: OpKind::CreateSequential { value: -1 },
            invoke: end + 10,
            complete: end + 20,
            outcome: Outcome::Ok(Reply::Sequential { seq }),
        },
    );
    rejects(
        "duplicate sequence number",
        &duplicate,
        fin,
        AnomalyKind::DuplicateSequence,
    );
    let mut missing = fin.clone();
    missing
        .sequential
        .get_mut(&create.key)
        .expect("the parent was listed")
        .remove(&seq);
    rejects(
        "missing sequential node",
        h,
        &missing,
        AnomalyKind::MissingAtEnd,
    );

    // The queue: a value taken twice, a value nobody offered.
    let taken = h.ops().iter().find_map(|o| match o.outcome {
        Outcome::Ok(Reply::Taken(Some(v))) => Some(v),
        _ => None,
    });
    let offered = h.ops().iter().find_map(|o| match (o.kind, &o.outcome) {
        (OpKind::QueuePut { value }, Outcome::Ok(_)) => Some(value),
        _ => None,
    });
    let twice = taken.or(offered).expect("a queue put");
    let take = |value| zk_jepsen::Op {
        id: 0,
        process: PLANTER,
        key: QUEUE.to_owned(),
        kind: OpKind::QueueTake,
        invoke: end + 10,
        complete: end + 20,
        outcome: Outcome::Ok(Reply::Taken(Some(value))),
    };
    let taken_twice = with_op(&with_op(h, take(twice)), take(twice));
    rejects(
        "queue element taken twice",
        &taken_twice,
        fin,
        AnomalyKind::QueueDuplicate,
    );
    rejects(
        "queue element never offered",
        &with_op(h, take(-42)),
        fin,
        AnomalyKind::QueueUnexpected,
    );

    // An ephemeral whose session expired.
    let mut ghost = fin.clone();
    ghost.expired_sessions.insert(0x5eed);
    ghost.ephemerals.push(Ephemeral {
        path: "/jepsen/e/ghost".into(),
        owner: 0x5eed,
    });
    rejects(
        "ephemeral of an expired session",
        h,
        &ghost,
        AnomalyKind::EphemeralOfExpiredSession,
    );

    // And the real history is still accepted after all that.
    let again = Checker::new().check(h, Some(fin));
    assert!(again.is_valid(), "{again}");
    let sessions: BTreeSet<i64> = fin.expired_sessions.clone();
    assert!(
        fin.ephemerals.iter().all(|e| !sessions.contains(&e.owner)),
        "{fin:?}"
    );
}

/// The value a write or CAS wrote.
fn value_of(op: &zk_jepsen::Op) -> i64 {
    match op.kind {
        OpKind::Write { value } | OpKind::Cas { value, .. } | OpKind::Create { value } => value,
        _ => panic!("not a write: {op}"),
    }
}
