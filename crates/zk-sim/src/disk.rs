//! One server's disk: both epoch files and a txn log with an explicit durable prefix. An fsync
//! takes (simulated) time, so a crash loses the suffix written but not yet synced. Snapshots are
//! modelled as a rewrite of the log to the database's txns (durable at once).

use zk_jute::Zxid;
use zk_zab::Proposal;

#[derive(Debug, Clone, Default)]
pub struct Disk {
    pub accepted_epoch: u32,
    pub current_epoch: u32,
    pub log: Vec<Proposal>,
    /// `log[..durable]` survives a crash.
    pub durable: usize,
    /// The fsync in progress: when it completes and how much of the log it covers.
    pub fsync: Option<(u64, usize)>,
}

impl Disk {
    pub fn last_logged(&self) -> Zxid {
        self.log.last().map_or(Zxid(0), |p| p.zxid)
    }

    /// Appends a txn; returns whether an fsync must be scheduled.
    pub fn append(&mut self, p: Proposal) -> bool {
        self.log.push(p);
        self.fsync.is_none()
    }

    /// Completes the fsync due by `now`; returns the newly durable last zxid.
    pub fn complete_fsync(&mut self, now: u64) -> Option<Zxid> {
        let (at, upto) = self.fsync?;
        if now < at {
            return None;
        }
        self.fsync = None;
        let upto = upto.min(self.log.len());
        if upto > self.durable {
            self.durable = upto;
            return Some(self.log[upto - 1].zxid);
        }
        None
    }

    /// `Truncate(zxid)`: drops txns after `zxid`.
    pub fn truncate_after(&mut self, zxid: Zxid) {
        self.log.retain(|p| p.zxid <= zxid);
        self.durable = self.durable.min(self.log.len());
        if let Some((_, upto)) = self.fsync.as_mut() {
            *upto = (*upto).min(self.log.len());
        }
    }

    /// A snapshot of `db` replaces the log (synchronously durable).
    pub fn snapshot(&mut self, db: &[Proposal]) {
        self.log = db.to_vec();
        self.durable = self.log.len();
        self.fsync = None;
    }

    /// A crash: the unsynced suffix is gone.
    pub fn crash(&mut self) -> usize {
        let lost = self.log.len() - self.durable;
        self.log.truncate(self.durable);
        self.fsync = None;
        lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn p(c: u32) -> Proposal {
        Proposal {
            zxid: Zxid::new(1, c),
            data: Bytes::new(),
        }
    }

    #[test]
    fn crash_loses_only_the_unsynced_suffix() {
        let mut d = Disk::default();
        assert!(d.append(p(1)));
        d.fsync = Some((10, 1));
        assert!(!d.append(p(2)));
        assert_eq!(d.complete_fsync(9), None);
        assert_eq!(d.complete_fsync(10), Some(Zxid::new(1, 1)));
        assert_eq!(d.crash(), 1);
        assert_eq!(d.log.len(), 1);
    }
}
