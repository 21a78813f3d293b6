//! The invariants checked while a run goes (each at the event that could break it) and at its
//! end. The first violation ends the run; its text names the servers and zxids involved.

use std::collections::BTreeMap;

use zk_jute::Zxid;
use zk_zab::Proposal;

/// FNV-1a of a txn's bytes: committed txns are compared by this.
pub fn txn_hash(p: &Proposal) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in p.data.iter() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// What every server must agree on, learned from all of them.
#[derive(Debug, Default)]
pub struct Checker {
    /// Epoch -> the server that established it as leader.
    leaders: BTreeMap<u32, usize>,
    /// Every txn any server applied (applied = committed), by zxid.
    pub committed: BTreeMap<Zxid, u64>,
    /// The tree digest after applying each zxid, from the first server that did.
    digests: BTreeMap<Zxid, i64>,
    /// Writes acknowledged to clients: zxid -> op id.
    pub acked: BTreeMap<Zxid, u64>,
    pub violation: Option<String>,
}

impl Checker {
    pub fn fail(&mut self, text: String) {
        if self.violation.is_none() {
            self.violation = Some(text);
        }
    }

    /// At most one established leader per epoch.
    pub fn leader_established(&mut self, epoch: u32, server: usize) {
        match self.leaders.get(&epoch) {
            Some(&other) if other != server => self.fail(format!(
                "two leaders established epoch {epoch}: servers {} and {}",
                other + 1,
                server + 1
            )),
            _ => {
                self.leaders.insert(epoch, server);
            }
        }
    }

    pub fn leaders(&self) -> usize {
        self.leaders.len()
    }

    /// Zxids strictly increase in every server's log.
    pub fn logged(&mut self, server: usize, last: Option<Zxid>, zxid: Zxid) {
        if last.is_some_and(|l| zxid <= l) {
            self.fail(format!(
                "server {} logged {zxid} after {}",
                server + 1,
                last.expect("some")
            ));
        }
    }

    /// Server `server` applied `p` after `prev`, leaving `digest`. Returns whether the zxid is
    /// newly committed (the caller then checks the other servers do not skip it).
    pub fn applied(
        &mut self,
        server: usize,
        prev: Option<Zxid>,
        p: &Proposal,
        digest: i64,
    ) -> bool {
        let s = server + 1;
        if prev.is_some_and(|z| p.zxid <= z) {
            self.fail(format!(
                "server {s} applied {} after {}",
                p.zxid,
                prev.expect("some")
            ));
            return false;
        }
        let lo = prev.unwrap_or(Zxid(i64::MIN));
        if let Some((skipped, _)) = self
            .committed
            .range(lo..p.zxid)
            .find(|(z, _)| Some(**z) != prev)
        {
            self.fail(format!(
                "server {s} applied {} after {lo} but skipped committed {skipped}",
                p.zxid
            ));
            return false;
        }
        let hash = txn_hash(p);
        let new = match self.committed.get(&p.zxid) {
            Some(&h) if h != hash => {
                self.fail(format!(
                    "server {s} applied a different txn as {} than another server",
                    p.zxid
                ));
                return false;
            }
            Some(_) => false,
            None => {
                self.committed.insert(p.zxid, hash);
                true
            }
        };
        match self.digests.get(&p.zxid) {
            Some(&d) if d != digest => self.fail(format!(
                "server {s} has digest {d:#x} at {} where another server had {digest:#x}",
                p.zxid
            )),
            Some(_) => {}
            None => {
                self.digests.insert(p.zxid, digest);
            }
        }
        new
    }

    /// A whole applied history (after a load): every txn must be the committed one, none skipped.
    pub fn loaded(&mut self, server: usize, applied: &[Proposal], digest: i64) {
        // Only txns known as committed can be compared; the tail may be uncommitted (the log is
        // replayed whole on load) and is checked as it gets committed or truncated.
        let mut prev: Option<Zxid> = None;
        for p in applied {
            if let Some(&h) = self.committed.get(&p.zxid) {
                if h != txn_hash(p) {
                    self.fail(format!(
                        "server {} loaded a different txn as {} than was committed",
                        server + 1,
                        p.zxid
                    ));
                    return;
                }
            }
            prev = Some(p.zxid);
        }
        if let Some(last) = prev {
            if self.committed.contains_key(&last) {
                if let Some(&d) = self.digests.get(&last) {
                    if d != digest {
                        self.fail(format!(
                            "server {} loaded digest {digest:#x} at {last}, others had {d:#x}",
                            server + 1
                        ));
                    }
                }
            }
        }
    }

    /// A newly committed `zxid`: a server that applied past it must have it.
    pub fn not_skipped(&mut self, server: usize, applied: &[Proposal], zxid: Zxid) {
        let Some(last) = applied.last() else { return };
        if last.zxid > zxid && applied.binary_search_by_key(&zxid, |p| p.zxid).is_err() {
            self.fail(format!(
                "committed {zxid} is missing on server {} which applied up to {}",
                server + 1,
                last.zxid
            ));
        }
    }

    /// A client was told its write succeeded at `zxid`.
    pub fn acknowledged(&mut self, zxid: Zxid, op_id: u64) {
        self.acked.insert(zxid, op_id);
    }

    /// At the end: every acknowledged write is on every server.
    pub fn no_acked_write_lost(&mut self, server: usize, applied: &[Proposal]) {
        for (&zxid, &op) in &self.acked {
            let ok = applied
                .binary_search_by_key(&zxid, |p| p.zxid)
                .is_ok_and(|i| self.committed.get(&zxid) == Some(&txn_hash(&applied[i])));
            if !ok {
                let text = format!(
                    "acknowledged write {zxid} (op {op}) is missing on server {} after healing",
                    server + 1
                );
                self.fail(text);
                return;
            }
        }
    }
}
