//! Jepsen-style testing of real ZooKeeper processes (dev only): clients record every operation with
//! its invoke and complete times ([`history`]), and the [`checker`] decides whether what they saw
//! is linearizable per key and whether every acknowledged write survived.
//!
//! The checker is the part that must not lie: its tests plant lost writes, stale reads, double CAS
//! and duplicate sequence numbers and see them rejected, and replay random sequential executions
//! with random overlaps and see them accepted. Invariant: an anomaly is reported only with the
//! operations that show it, explained in words.

pub mod checker;
pub mod history;

pub use checker::{Anomaly, AnomalyKind, Checker, Ephemeral, FinalState, Report, check};
pub use history::{
    FINAL_READER, FailReason, History, Op, OpId, OpKind, Outcome, Pending, ProcessId, Recorder,
    Reply, Time, Value, Version, Versioned,
};
