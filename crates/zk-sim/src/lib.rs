//! Deterministic simulation of an ensemble: a seeded, single-threaded cluster of the same pure cores
//! the server runs, a simulated network and clock with fault injection, and invariant checkers.
//!
//! No real time, no threads, no sockets: one seed replays a run exactly. Each server is
//! `zk-election` + `zk-zab` + `zk-datatree` over an in-memory txn log with an explicit durable
//! prefix ([`disk`]); the [`net`] loses, duplicates, delays and partitions; [`run`] draws the
//! faults of a chaos phase from the seed, heals, and requires convergence within a bound; the
//! [`checkers`] and the [`linearizability`] checker decide whether the run is correct. Invariant:
//! `run(SimConfig::new(seed))` is a pure function of the seed; every failure names its seed.

pub mod checkers;
pub mod client;
pub mod disk;
pub mod linearizability;
pub mod net;
pub mod node;
pub mod rng;
pub mod run;

pub use run::{FaultStats, RunReport, SimConfig, Variant, run};
