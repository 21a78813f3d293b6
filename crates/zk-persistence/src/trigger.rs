//! When to roll the log and take a snapshot (`SyncRequestProcessor.shouldSnapshot`): after more
//! than `snapCount/2 + randRoll` txns or `snapSizeLimit/2 + randSize` logged bytes since the last
//! roll, with the jitter drawn afresh at start and after each trigger so that the servers of an
//! ensemble do not all snapshot at once.

use tracing::{info, warn};

/// `zookeeper.snapCount`'s default.
pub const DEFAULT_SNAP_COUNT: i32 = 100_000;
/// `zookeeper.snapSizeLimitInKb`'s default (4 GiB).
pub const DEFAULT_SNAP_SIZE_LIMIT_KB: i64 = 4_194_304;

/// The snapshot trigger with its random jitter.
#[derive(Debug, Clone)]
pub struct SnapshotPolicy {
    snap_count: i32,
    snap_size_bytes: i64,
    rand_roll: i32,
    rand_size: i64,
    txns: i64,
    rng: u64,
}

impl SnapshotPolicy {
    /// `snap_count` below 2 is raised to 2 as 3.8 does; `snap_size_limit_kb <= 0` disables the size
    /// trigger. `seed` drives the jitter (pass a random one in production).
    pub fn new(snap_count: i32, snap_size_limit_kb: i64, seed: u64) -> Self {
        let snap_count = if snap_count < 2 {
            warn!(snap_count, "snapCount should be 2 or more, reset to 2");
            2
        } else {
            snap_count
        };
        if snap_size_limit_kb <= 0 {
            info!(
                snap_size_limit_kb,
                "snapSizeLimitInKb is not positive: size trigger disabled"
            );
        }
        let mut policy = SnapshotPolicy {
            snap_count,
            snap_size_bytes: snap_size_limit_kb.saturating_mul(1024),
            rand_roll: 0,
            rand_size: 0,
            txns: 0,
            rng: seed,
        };
        policy.reset();
        policy
    }

    /// A policy seeded from the process's random hash keys.
    pub fn with_random_seed(snap_count: i32, snap_size_limit_kb: i64) -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(0x5eed);
        Self::new(snap_count, snap_size_limit_kb, hasher.finish())
    }

    fn next_u64(&mut self) -> u64 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Draws new jitter and restarts the txn count (`resetSnapshotStats` plus the count reset of
    /// `ZKDatabase.rollLog`).
    fn reset(&mut self) {
        let half = (self.snap_count / 2) as u64;
        self.rand_roll = (self.next_u64() % half.max(1)) as i32;
        let half_size = self.snap_size_bytes / 2;
        self.rand_size = if half_size > 0 {
            ((self.next_u64() as i64) % half_size).abs()
        } else {
            0
        };
        self.txns = 0;
    }

    /// Counts one logged txn; `logged_bytes` is what the log wrote since its last reset. True means
    /// "roll the log and snapshot now"; the jitter and the txn count restart (reset the log's byte
    /// count too, with [`crate::FileTxnLog::reset_size`]).
    pub fn txn_logged(&mut self, logged_bytes: u64) -> bool {
        self.txns += 1;
        let by_count = self.txns > i64::from(self.snap_count / 2 + self.rand_roll);
        let by_size = self.snap_size_bytes > 0
            && logged_bytes as i64 > self.snap_size_bytes / 2 + self.rand_size;
        if by_count || by_size {
            self.reset();
            return true;
        }
        false
    }

    /// The jitter currently drawn: (txns, bytes).
    pub fn jitter(&self) -> (i32, i64) {
        (self.rand_roll, self.rand_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_come_between_half_and_all_of_snap_count() {
        let mut policy = SnapshotPolicy::new(100, -1, 42);
        let mut gaps = Vec::new();
        let mut since = 0;
        for _ in 0..10_000 {
            since += 1;
            if policy.txn_logged(0) {
                gaps.push(since);
                since = 0;
            }
        }
        assert!(gaps.iter().all(|&g| (51..=100).contains(&g)), "{gaps:?}");
        let distinct: std::collections::BTreeSet<_> = gaps.iter().collect();
        assert!(distinct.len() > 5, "the jitter varies: {gaps:?}");
    }

    #[test]
    fn the_size_limit_triggers_too() {
        let mut policy = SnapshotPolicy::new(1_000_000, 1, 7);
        let (_, rand_size) = policy.jitter();
        assert!((0..512).contains(&rand_size));
        assert!(!policy.txn_logged(512 + rand_size as u64));
        assert!(policy.txn_logged(513 + rand_size as u64));
    }

    #[test]
    fn snap_count_is_at_least_two() {
        let mut policy = SnapshotPolicy::new(0, 0, 1);
        assert!(!policy.txn_logged(0));
        assert!(policy.txn_logged(0));
    }
}
