//! The nemesis: a seeded [`Schedule`] of faults over abstract member ids, and [`run`], which applies
//! each fault to a [`Target`] for a while, heals it, waits, and goes on to the next until the time
//! is up, leaving everything healed.
//!
//! The test's ensemble fixture implements [`Target`]: it knows how to kill -9 and restart a member
//! ([`signal`] sends the signals), pause and resume it, partition members (a [`crate::proxy::Mesh`]
//! does it for loopback ports), fill a member's disk and tear the tail of its txn log (with
//! [`crate::disk`]), and which member leads. The nemesis knows none of that, so the same schedule
//! drives our servers and Apache's.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::time::Instant;
use tracing::info;

/// A member of the ensemble as the nemesis sees it: the `myid` of a server.
pub type MemberId = u32;

/// The kinds of fault a schedule cycles through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// kill -9 a random member, restart it on heal.
    Kill,
    /// kill -9 the leader (a random member when none is known).
    KillLeader,
    /// SIGSTOP a random member, SIGCONT on heal (a pause longer than the session and sync
    /// timeouts when the hold is long enough).
    Pause,
    /// SIGSTOP the leader.
    PauseLeader,
    /// Split the members into a random minority and the majority.
    Partition,
    /// Isolate the leader from all others.
    PartitionLeader,
    /// Delay every link.
    Delay,
    /// Fill the disk of a random member's txn log; free it on heal.
    DiskFull,
    /// kill -9 a random member and tear the tail of its newest txn log (as a crash in the middle
    /// of a write leaves it); restart it on heal.
    TornWrite,
}

impl FaultKind {
    /// Every kind, in the order [`ScheduleConfig::all`] cycles them.
    pub const ALL: [FaultKind; 9] = [
        FaultKind::KillLeader,
        FaultKind::Partition,
        FaultKind::TornWrite,
        FaultKind::Pause,
        FaultKind::Delay,
        FaultKind::DiskFull,
        FaultKind::Kill,
        FaultKind::PartitionLeader,
        FaultKind::PauseLeader,
    ];
}

/// Whom a planned fault hits; the leader is resolved when the fault is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Victim {
    Member(MemberId),
    /// The leader at that time, or `fallback` when none is known.
    Leader {
        fallback: MemberId,
    },
}

/// A fault as planned by the schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Kill(Victim),
    Pause(Victim),
    /// Members in different groups cannot talk.
    Partition(Vec<Vec<MemberId>>),
    /// Isolate the victim from everyone else.
    Isolate(Victim),
    Delay(Duration),
    DiskFull(Victim),
    TornWrite(Victim),
}

/// A fault as applied, with its victims resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    Kill(MemberId),
    Pause(MemberId),
    Partition(Vec<Vec<MemberId>>),
    Delay(Duration),
    DiskFull(MemberId),
    TornWrite(MemberId),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Kill(m) => write!(f, "kill -9 member {m}"),
            Fault::Pause(m) => write!(f, "SIGSTOP member {m}"),
            Fault::Partition(groups) => write!(f, "partition {groups:?}"),
            Fault::Delay(d) => write!(f, "delay links by {d:?}"),
            Fault::DiskFull(m) => write!(f, "fill the txn log disk of member {m}"),
            Fault::TornWrite(m) => write!(f, "kill -9 member {m} and tear its txn log's tail"),
        }
    }
}

impl Fault {
    pub fn kind_name(&self) -> &'static str {
        match self {
            Fault::Kill(_) => "kill",
            Fault::Pause(_) => "pause",
            Fault::Partition(_) => "partition",
            Fault::Delay(_) => "delay",
            Fault::DiskFull(_) => "disk-full",
            Fault::TornWrite(_) => "torn-write",
        }
    }
}

/// One step of a schedule: inject, hold, heal, stay quiet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub plan: Plan,
    /// How long the fault lasts.
    pub hold: Duration,
    /// How long everything stays healed afterwards.
    pub quiet: Duration,
}

/// What a schedule draws from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleConfig {
    pub members: Vec<MemberId>,
    /// Cycled in this order.
    pub kinds: Vec<FaultKind>,
    /// A fault lasts between these (inclusive).
    pub hold: (Duration, Duration),
    /// The healed interval between faults lasts between these.
    pub quiet: (Duration, Duration),
    /// The latency of a [`FaultKind::Delay`].
    pub delay: Duration,
    pub seed: u64,
}

impl ScheduleConfig {
    /// Every kind of fault over `members`, 5–15 s each with 5–10 s of quiet, 200 ms delays.
    pub fn mixed(members: Vec<MemberId>, seed: u64) -> Self {
        ScheduleConfig {
            members,
            kinds: vec![
                FaultKind::KillLeader,
                FaultKind::Partition,
                FaultKind::Pause,
                FaultKind::Delay,
                FaultKind::Kill,
                FaultKind::PartitionLeader,
                FaultKind::PauseLeader,
            ],
            hold: (Duration::from_secs(5), Duration::from_secs(15)),
            quiet: (Duration::from_secs(5), Duration::from_secs(10)),
            delay: Duration::from_millis(200),
            seed,
        }
    }

    /// [`Self::mixed`] with the disk faults too: every kind of [`FaultKind::ALL`].
    pub fn all(members: Vec<MemberId>, seed: u64) -> Self {
        ScheduleConfig {
            kinds: FaultKind::ALL.to_vec(),
            ..ScheduleConfig::mixed(members, seed)
        }
    }
}

/// An endless, seeded sequence of [`Step`]s: one seed, one schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    config: ScheduleConfig,
    rng: fastrand::Rng,
    next_kind: usize,
}

impl Schedule {
    /// # Panics
    /// When there are no members or no kinds, or a range is reversed.
    pub fn new(config: ScheduleConfig) -> Self {
        assert!(!config.members.is_empty(), "a schedule needs members");
        assert!(!config.kinds.is_empty(), "a schedule needs fault kinds");
        assert!(config.hold.0 <= config.hold.1 && config.quiet.0 <= config.quiet.1);
        Schedule {
            rng: fastrand::Rng::with_seed(config.seed),
            config,
            next_kind: 0,
        }
    }

    pub fn config(&self) -> &ScheduleConfig {
        &self.config
    }

    fn between(&mut self, (lo, hi): (Duration, Duration)) -> Duration {
        let span = u64::try_from((hi - lo).as_millis()).unwrap_or(u64::MAX);
        lo + Duration::from_millis(self.rng.u64(0..=span))
    }

    fn member(&mut self) -> MemberId {
        let members = &self.config.members;
        members[self.rng.usize(0..members.len())]
    }

    /// A random minority (at least one member) and the rest.
    fn split(&mut self) -> Vec<Vec<MemberId>> {
        let mut members = self.config.members.clone();
        self.rng.shuffle(&mut members);
        let minority = self
            .rng
            .usize(1..=members.len().saturating_sub(1).div_ceil(2).max(1));
        let rest = members.split_off(minority.min(members.len()));
        let mut groups = vec![members, rest];
        groups.retain(|g| !g.is_empty());
        for g in &mut groups {
            g.sort_unstable();
        }
        groups
    }
}

impl Iterator for Schedule {
    type Item = Step;

    fn next(&mut self) -> Option<Step> {
        let kind = self.config.kinds[self.next_kind % self.config.kinds.len()];
        self.next_kind += 1;
        let fallback = self.member();
        let plan = match kind {
            FaultKind::Kill => Plan::Kill(Victim::Member(fallback)),
            FaultKind::KillLeader => Plan::Kill(Victim::Leader { fallback }),
            FaultKind::Pause => Plan::Pause(Victim::Member(fallback)),
            FaultKind::PauseLeader => Plan::Pause(Victim::Leader { fallback }),
            FaultKind::Partition => Plan::Partition(self.split()),
            FaultKind::PartitionLeader => Plan::Isolate(Victim::Leader { fallback }),
            FaultKind::Delay => Plan::Delay(self.config.delay),
            FaultKind::DiskFull => Plan::DiskFull(Victim::Member(fallback)),
            FaultKind::TornWrite => Plan::TornWrite(Victim::Member(fallback)),
        };
        let hold = self.between(self.config.hold);
        let quiet = self.between(self.config.quiet);
        Some(Step { plan, hold, quiet })
    }
}

/// What the nemesis acts on; the ensemble fixture implements it.
pub trait Target {
    /// kill -9 the member's process.
    fn kill(&mut self, member: MemberId) -> impl Future<Output = io::Result<()>>;
    /// Start a killed member again on its data.
    fn restart(&mut self, member: MemberId) -> impl Future<Output = io::Result<()>>;
    /// SIGSTOP.
    fn pause(&mut self, member: MemberId) -> impl Future<Output = io::Result<()>>;
    /// SIGCONT.
    fn resume(&mut self, member: MemberId) -> impl Future<Output = io::Result<()>>;
    /// Members in different groups stop reaching each other.
    fn partition(&mut self, groups: &[Vec<MemberId>]) -> impl Future<Output = io::Result<()>>;
    /// Every link between members gets this latency (zero: none).
    fn set_delay(&mut self, delay: Duration) -> impl Future<Output = io::Result<()>>;
    /// Every link carries traffic again (partitions and delays undone).
    fn heal_network(&mut self) -> impl Future<Output = io::Result<()>>;
    /// The member that leads now, if known (e.g. from `srvr`).
    fn leader(&mut self) -> impl Future<Output = Option<MemberId>>;
    /// Fills the filesystem of the member's txn log, so its writes fail with ENOSPC. Targets
    /// without disk faults keep the default, which refuses.
    fn fill_disk(&mut self, member: MemberId) -> impl Future<Output = io::Result<()>> {
        let _ = member;
        async { Err(unsupported("filling a disk")) }
    }
    /// Frees what [`Self::fill_disk`] took; a member that exited meanwhile is started again.
    fn free_disk(&mut self, member: MemberId) -> impl Future<Output = io::Result<()>> {
        let _ = member;
        async { Err(unsupported("freeing a disk")) }
    }
    /// Tears the tail of the newest txn log of a member that is down (killed just before).
    fn tear_log_tail(&mut self, member: MemberId) -> impl Future<Output = io::Result<()>> {
        let _ = member;
        async { Err(unsupported("tearing a txn log")) }
    }
}

fn unsupported(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("this target does not support {what}"),
    )
}

/// One entry of the nemesis log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Since the run started.
    pub at: Duration,
    pub fault: Fault,
    /// Injected (`true`) or healed.
    pub injected: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NemesisLog {
    pub events: Vec<Event>,
}

impl NemesisLog {
    /// How many faults of each kind were injected.
    pub fn injected(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for e in self.events.iter().filter(|e| e.injected) {
            *counts.entry(e.fault.kind_name()).or_default() += 1;
        }
        counts
    }

    pub fn total_injected(&self) -> usize {
        self.events.iter().filter(|e| e.injected).count()
    }
}

impl fmt::Display for NemesisLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} faults injected", self.total_injected())?;
        for (kind, n) in self.injected() {
            write!(f, ", {kind}: {n}")?;
        }
        Ok(())
    }
}

async fn resolve<T: Target>(target: &mut T, victim: Victim) -> MemberId {
    match victim {
        Victim::Member(m) => m,
        Victim::Leader { fallback } => target.leader().await.unwrap_or(fallback),
    }
}

async fn inject<T: Target>(target: &mut T, plan: &Plan, members: &[MemberId]) -> io::Result<Fault> {
    let fault = match plan {
        Plan::Kill(v) => Fault::Kill(resolve(target, *v).await),
        Plan::Pause(v) => Fault::Pause(resolve(target, *v).await),
        Plan::Partition(groups) => Fault::Partition(groups.clone()),
        Plan::Isolate(v) => {
            let alone = resolve(target, *v).await;
            let rest: Vec<MemberId> = members.iter().copied().filter(|m| *m != alone).collect();
            Fault::Partition(vec![vec![alone], rest])
        }
        Plan::Delay(d) => Fault::Delay(*d),
        Plan::DiskFull(v) => Fault::DiskFull(resolve(target, *v).await),
        Plan::TornWrite(v) => Fault::TornWrite(resolve(target, *v).await),
    };
    match &fault {
        Fault::Kill(m) => target.kill(*m).await?,
        Fault::Pause(m) => target.pause(*m).await?,
        Fault::Partition(groups) => target.partition(groups).await?,
        Fault::Delay(d) => target.set_delay(*d).await?,
        Fault::DiskFull(m) => target.fill_disk(*m).await?,
        Fault::TornWrite(m) => {
            target.kill(*m).await?;
            if let Err(e) = target.tear_log_tail(*m).await {
                // Leave the member running, as a failed injection should.
                let _ = target.restart(*m).await;
                return Err(e);
            }
        }
    }
    Ok(fault)
}

async fn heal<T: Target>(target: &mut T, fault: &Fault) -> io::Result<()> {
    match fault {
        Fault::Kill(m) | Fault::TornWrite(m) => target.restart(*m).await,
        Fault::Pause(m) => target.resume(*m).await,
        Fault::Partition(_) | Fault::Delay(_) => target.heal_network().await,
        Fault::DiskFull(m) => target.free_disk(*m).await,
    }
}

/// Runs `schedule` against `target` for `duration` (a step under way is finished, so the run may
/// last up to one hold longer), then leaves everything healed. On an error the fault under way is
/// healed (best effort) and the error returned.
pub async fn run<T: Target>(
    target: &mut T,
    schedule: &mut Schedule,
    duration: Duration,
) -> io::Result<NemesisLog> {
    let start = Instant::now();
    let deadline = start + duration;
    let members = schedule.config().members.clone();
    let mut log = NemesisLog::default();
    while Instant::now() < deadline {
        let Some(step) = schedule.next() else {
            break;
        };
        let fault = inject(target, &step.plan, &members).await?;
        info!("nemesis: {fault} for {:?}", step.hold);
        log.events.push(Event {
            at: start.elapsed(),
            fault: fault.clone(),
            injected: true,
        });
        tokio::time::sleep(step.hold).await;
        heal(target, &fault).await?;
        info!("nemesis: healed {fault}");
        log.events.push(Event {
            at: start.elapsed(),
            fault,
            injected: false,
        });
        tokio::time::sleep_until(deadline.min(Instant::now() + step.quiet)).await;
    }
    Ok(log)
}

/// A POSIX signal for [`signal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    Kill,
    Stop,
    Cont,
    Term,
}

/// Sends `sig` to process `pid` with kill(1).
pub fn signal(pid: u32, sig: Signal) -> io::Result<()> {
    let name = match sig {
        Signal::Kill => "-KILL",
        Signal::Stop => "-STOP",
        Signal::Cont => "-CONT",
        Signal::Term => "-TERM",
    };
    let status = std::process::Command::new("kill")
        .arg(name)
        .arg(pid.to_string())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "kill {name} {pid} failed: {status}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(kinds: Vec<FaultKind>) -> ScheduleConfig {
        ScheduleConfig {
            kinds,
            ..ScheduleConfig::mixed(vec![1, 2, 3, 4, 5], 7)
        }
    }

    #[test]
    fn a_schedule_is_a_function_of_its_seed_and_cycles_the_kinds() {
        let a: Vec<Step> = Schedule::new(ScheduleConfig::mixed(vec![1, 2, 3], 42))
            .take(20)
            .collect();
        let b: Vec<Step> = Schedule::new(ScheduleConfig::mixed(vec![1, 2, 3], 42))
            .take(20)
            .collect();
        let c: Vec<Step> = Schedule::new(ScheduleConfig::mixed(vec![1, 2, 3], 43))
            .take(20)
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let kinds: Vec<&str> = a
            .iter()
            .take(7)
            .map(|s| match s.plan {
                Plan::Kill(Victim::Leader { .. }) => "kill-leader",
                Plan::Kill(Victim::Member(_)) => "kill",
                Plan::Pause(Victim::Leader { .. }) => "pause-leader",
                Plan::Pause(Victim::Member(_)) => "pause",
                Plan::Partition(_) => "partition",
                Plan::Isolate(_) => "isolate-leader",
                Plan::Delay(_) => "delay",
                Plan::DiskFull(_) => "disk-full",
                Plan::TornWrite(_) => "torn-write",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "kill-leader",
                "partition",
                "pause",
                "delay",
                "kill",
                "isolate-leader",
                "pause-leader"
            ]
        );
        for step in &a {
            assert!((Duration::from_secs(5)..=Duration::from_secs(15)).contains(&step.hold));
            assert!((Duration::from_secs(5)..=Duration::from_secs(10)).contains(&step.quiet));
        }
    }

    #[test]
    fn partitions_split_the_members_into_a_minority_and_the_rest() {
        for seed in 0..200 {
            for n in 1..=7u32 {
                let members: Vec<MemberId> = (1..=n).collect();
                let mut schedule = Schedule::new(ScheduleConfig {
                    seed,
                    ..ScheduleConfig {
                        kinds: vec![FaultKind::Partition],
                        ..ScheduleConfig::mixed(members.clone(), 0)
                    }
                });
                let Some(Step {
                    plan: Plan::Partition(groups),
                    ..
                }) = schedule.next()
                else {
                    panic!("not a partition");
                };
                let mut all: Vec<MemberId> = groups.concat();
                all.sort_unstable();
                assert_eq!(all, members, "every member in exactly one group");
                assert!(groups.iter().all(|g| !g.is_empty()));
                if n > 1 {
                    assert_eq!(groups.len(), 2);
                    assert!(groups[0].len() * 2 <= n as usize, "{groups:?}");
                }
            }
        }
    }

    /// Records what the nemesis asked for and checks it makes sense.
    #[derive(Debug, Default)]
    struct Recording {
        leader: Option<MemberId>,
        calls: Vec<String>,
        down: Vec<MemberId>,
        paused: Vec<MemberId>,
        partitioned: bool,
        delayed: bool,
        fail_kill: bool,
        /// Supports the disk faults.
        disks: bool,
        full: Vec<MemberId>,
    }

    impl Target for Recording {
        async fn kill(&mut self, m: MemberId) -> io::Result<()> {
            if self.fail_kill {
                return Err(io::Error::other("no such process"));
            }
            assert!(!self.down.contains(&m));
            self.down.push(m);
            self.calls.push(format!("kill {m}"));
            Ok(())
        }
        async fn restart(&mut self, m: MemberId) -> io::Result<()> {
            assert!(self.down.contains(&m));
            self.down.retain(|d| *d != m);
            self.calls.push(format!("restart {m}"));
            Ok(())
        }
        async fn pause(&mut self, m: MemberId) -> io::Result<()> {
            self.paused.push(m);
            self.calls.push(format!("pause {m}"));
            Ok(())
        }
        async fn resume(&mut self, m: MemberId) -> io::Result<()> {
            assert!(self.paused.contains(&m));
            self.paused.retain(|d| *d != m);
            self.calls.push(format!("resume {m}"));
            Ok(())
        }
        async fn partition(&mut self, groups: &[Vec<MemberId>]) -> io::Result<()> {
            self.partitioned = true;
            self.calls.push(format!("partition {groups:?}"));
            Ok(())
        }
        async fn set_delay(&mut self, delay: Duration) -> io::Result<()> {
            self.delayed = !delay.is_zero();
            self.calls.push(format!("delay {delay:?}"));
            Ok(())
        }
        async fn heal_network(&mut self) -> io::Result<()> {
            self.partitioned = false;
            self.delayed = false;
            self.calls.push("heal".into());
            Ok(())
        }
        async fn leader(&mut self) -> Option<MemberId> {
            self.leader
        }
        async fn fill_disk(&mut self, m: MemberId) -> io::Result<()> {
            if !self.disks {
                return Err(unsupported("filling a disk"));
            }
            assert!(!self.full.contains(&m));
            self.full.push(m);
            self.calls.push(format!("fill {m}"));
            Ok(())
        }
        async fn free_disk(&mut self, m: MemberId) -> io::Result<()> {
            assert!(self.full.contains(&m));
            self.full.retain(|d| *d != m);
            self.calls.push(format!("free {m}"));
            Ok(())
        }
        async fn tear_log_tail(&mut self, m: MemberId) -> io::Result<()> {
            if !self.disks {
                return Err(unsupported("tearing a txn log"));
            }
            assert!(
                self.down.contains(&m),
                "a log is torn only while its member is down"
            );
            self.calls.push(format!("tear {m}"));
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn disk_faults_fill_then_free_and_tear_a_killed_members_log_before_its_restart() {
        let mut target = Recording {
            disks: true,
            ..Recording::default()
        };
        let mut schedule = Schedule::new(ScheduleConfig {
            kinds: vec![FaultKind::DiskFull, FaultKind::TornWrite],
            ..ScheduleConfig::all(vec![1, 2, 3], 5)
        });
        let log = run(&mut target, &mut schedule, Duration::from_secs(60))
            .await
            .unwrap();
        assert!(target.down.is_empty() && target.full.is_empty());
        let injected = log.injected();
        assert!(
            injected["disk-full"] >= 1 && injected["torn-write"] >= 1,
            "{log}"
        );
        for (i, call) in target.calls.iter().enumerate() {
            if let Some(m) = call.strip_prefix("tear ") {
                assert_eq!(target.calls[i - 1], format!("kill {m}"));
                assert_eq!(target.calls[i + 1], format!("restart {m}"));
            }
            if let Some(m) = call.strip_prefix("fill ") {
                assert_eq!(target.calls[i + 1], format!("free {m}"));
            }
        }
        // A target without disks refuses, the run fails, and the killed member is restarted.
        let mut target = Recording::default();
        let mut schedule = Schedule::new(ScheduleConfig {
            kinds: vec![FaultKind::TornWrite],
            ..ScheduleConfig::all(vec![1, 2, 3], 5)
        });
        let err = run(&mut target, &mut schedule, Duration::from_secs(60))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported);
        assert!(target.down.is_empty(), "{:?}", target.calls);
        assert_eq!(
            FaultKind::ALL.len(),
            ScheduleConfig::all(vec![1], 0).kinds.len()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_heals_every_fault_it_injects_and_ends_healed() {
        let mut target = Recording {
            leader: Some(3),
            ..Recording::default()
        };
        let mut schedule = Schedule::new(ScheduleConfig::mixed(vec![1, 2, 3, 4, 5], 9));
        let started = Instant::now();
        let log = run(&mut target, &mut schedule, Duration::from_secs(120))
            .await
            .unwrap();
        // Virtual time: the run lasts its duration, plus at most one hold.
        let took = started.elapsed();
        assert!(took >= Duration::from_secs(120) && took <= Duration::from_secs(135));
        assert!(target.down.is_empty() && target.paused.is_empty());
        assert!(!target.partitioned && !target.delayed);
        // Injected and healed alternate, the same fault each time.
        assert_eq!(log.events.len() % 2, 0);
        for pair in log.events.chunks(2) {
            assert!(pair[0].injected && !pair[1].injected);
            assert_eq!(pair[0].fault, pair[1].fault);
            assert!(pair[0].at < pair[1].at);
        }
        // 120 s of 10-25 s steps.
        assert!((5..=12).contains(&log.total_injected()), "{log}");
        // The leader was the victim of the leader faults.
        assert_eq!(log.events[0].fault, Fault::Kill(3));
        assert_eq!(target.calls[0], "kill 3");
        assert_eq!(target.calls[1], "restart 3");
        assert!(
            target
                .calls
                .iter()
                .any(|c| c == "partition [[3], [1, 2, 4, 5]]"),
            "{:?}",
            target.calls
        );
        assert!(log.to_string().contains("kill: "), "{log}");
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_known_leader_the_fallback_member_is_hit_and_errors_surface() {
        let mut target = Recording::default();
        let mut schedule = Schedule::new(config(vec![FaultKind::PauseLeader]));
        let log = run(&mut target, &mut schedule, Duration::from_secs(30))
            .await
            .unwrap();
        assert!(log.total_injected() >= 1);
        assert!(target.paused.is_empty());

        let mut target = Recording {
            fail_kill: true,
            ..Recording::default()
        };
        let mut schedule = Schedule::new(config(vec![FaultKind::Kill]));
        let err = run(&mut target, &mut schedule, Duration::from_secs(30))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no such process"));
    }

    #[test]
    fn signals_stop_continue_and_kill_a_process() {
        use std::os::unix::process::ExitStatusExt;
        use std::time::Instant;

        let state = |pid: u32| -> char {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // "pid (comm) S ...": the state follows the closing parenthesis.
            stat.rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next())
                .unwrap_or('?')
        };
        let wait_state = |pid: u32, want: &[char]| {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !want.contains(&state(pid)) {
                assert!(Instant::now() < deadline, "state stayed {}", state(pid));
                std::thread::yield_now();
            }
        };
        let mut child = std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .unwrap();
        let pid = child.id();
        wait_state(pid, &['S']);
        signal(pid, Signal::Stop).unwrap();
        wait_state(pid, &['T']);
        signal(pid, Signal::Cont).unwrap();
        wait_state(pid, &['S', 'R']);
        signal(pid, Signal::Kill).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(9));
    }
}
