//! Jepsen-style testing of real ZooKeeper processes (dev only): clients record every operation with
//! its invoke and complete times ([`history`]), a nemesis cycles faults over the members of an
//! ensemble ([`nemesis`]) through loopback fault proxies ([`proxy`]), process signals and disk
//! faults ([`disk`]: a full filesystem, a torn txn log tail), and the [`checker`] decides whether what the clients saw is linearizable per key and whether every
//! acknowledged write survived.
//!
//! The checker is the part that must not lie: its tests plant lost writes, stale reads, double CAS
//! and duplicate sequence numbers and see them rejected, and replay random sequential executions
//! with random overlaps and see them accepted. Invariant: an anomaly is reported only with the
//! operations that show it, explained in words.

pub mod checker;
pub mod disk;
pub mod history;
pub mod nemesis;
pub mod proxy;

pub use checker::{Anomaly, AnomalyKind, Checker, Ephemeral, FinalState, Report, check};
pub use disk::{SmallDisk, Tear, TearKind, tear_log_tail};
pub use history::{
    FINAL_READER, FailReason, History, Op, OpId, OpKind, Outcome, Pending, ProcessId, Recorder,
    Reply, Time, Value, Version, Versioned,
};
pub use nemesis::{
    Fault, FaultKind, MemberId, NemesisLog, Schedule, ScheduleConfig, Signal, Target, signal,
};
pub use proxy::{Direction, Mesh, PartitionStyle, Proxy, ProxyHandle};
