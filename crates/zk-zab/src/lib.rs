//! The ZAB protocol core: discovery (epochs), synchronisation (DIFF, TRUNC, SNAP) and broadcast
//! (proposal, ack, commit) for leader, follower and observer roles.
//!
//! Pure: it reads no clock and does no I/O. The server drives it with packets and ticks and carries
//! out the commands it emits (send, persist, fsync, commit), so the protocol is testable in the
//! simulator exactly as it runs in production.
