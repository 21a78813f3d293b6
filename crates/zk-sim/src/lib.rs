//! Deterministic simulation of an ensemble: a seeded, single-threaded cluster of the same pure cores
//! the server runs, a simulated network and clock with fault injection, and invariant checkers.
//!
//! No real time, no threads, no sockets: one seed replays a run exactly.
