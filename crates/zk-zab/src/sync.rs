//! The leader's sync decision (`LearnerHandler.syncFollower` and `queueCommittedProposals` of
//! ZooKeeper 3.8) as a pure function: which of DIFF, TRUNC or SNAP a learner gets, and the
//! PROPOSAL/COMMIT packets that follow the DIFF or TRUNC.

use zk_jute::Zxid;
use zk_jute::quorum::{PacketType, QuorumPacket};

use crate::types::{Proposal, SyncMode};
use crate::wire::{op_packet, proposal_packet};

/// What the decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct SyncInput<'a> {
    /// The learner's last logged zxid (from its ACKEPOCH).
    pub peer_last_zxid: Zxid,
    /// The leader database's lastProcessedZxid.
    pub last_processed: Zxid,
    /// The in-memory committed log, ascending (the last `commitLogCount` committed proposals).
    pub committed_log: &'a [Proposal],
    pub txn_log_sync: bool,
    pub force_snap: bool,
}

/// The result: a plan, or a request for the on-disk log first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncStep {
    Decided(SyncPlan),
    /// The learner is older than the in-memory window: read the on-disk txn log from this zxid
    /// and call [`decide_sync`] again with it.
    NeedTxnLog {
        from: Zxid,
    },
}

/// A decided sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPlan {
    pub mode: SyncMode,
    /// For DIFF and TRUNC: the op packet then PROPOSAL/COMMIT pairs. Empty for SNAP (the caller
    /// sends SNAP with `last_processed` and the snapshot stream).
    pub packets: Vec<QuorumPacket>,
    /// The zxid the learner will be at once these packets are applied; live forwarding starts
    /// after it (`startForwarding(handler, currentZxid)`).
    pub current_zxid: Zxid,
    /// Whether the on-disk txn log was used (the "DIFF from the on-disk log" case).
    pub from_txn_log: bool,
}

struct Queue {
    need_op: bool,
    packets: Vec<QuorumPacket>,
    mode: SyncMode,
}

impl Queue {
    fn op(&mut self, ty: PacketType, zxid: Zxid) {
        self.mode = if ty == PacketType::Trunc {
            SyncMode::Trunc
        } else {
            SyncMode::Diff
        };
        self.packets.push(op_packet(ty, zxid));
        self.need_op = false;
    }

    /// `queueCommittedProposals`: returns the last queued zxid.
    fn committed_proposals<'a>(
        &mut self,
        itr: impl Iterator<Item = &'a Proposal>,
        peer_last_zxid: Zxid,
        max_zxid: Option<Zxid>,
        last_committed_zxid: Zxid,
    ) -> Zxid {
        let is_peer_new_epoch_zxid = peer_last_zxid.counter() == 0;
        let mut queued_zxid = peer_last_zxid;
        let mut prev_proposal_zxid = Zxid(-1);
        for p in itr {
            let packet_zxid = p.zxid;
            if max_zxid.is_some_and(|max| packet_zxid > max) {
                break;
            }
            if packet_zxid < peer_last_zxid {
                prev_proposal_zxid = packet_zxid;
                continue;
            }
            if self.need_op {
                if packet_zxid == peer_last_zxid {
                    self.op(PacketType::Diff, last_committed_zxid);
                    continue;
                }
                if is_peer_new_epoch_zxid {
                    self.op(PacketType::Diff, last_committed_zxid);
                } else if packet_zxid > peer_last_zxid {
                    if packet_zxid.epoch() != peer_last_zxid.epoch() {
                        // A TRUNC cannot cross an epoch boundary: give up (snapshot).
                        return queued_zxid;
                    }
                    self.op(PacketType::Trunc, prev_proposal_zxid);
                }
            }
            if packet_zxid <= queued_zxid {
                continue;
            }
            self.packets.push(proposal_packet(p));
            self.packets
                .push(op_packet(PacketType::Commit, packet_zxid));
            queued_zxid = packet_zxid;
        }
        if self.need_op && is_peer_new_epoch_zxid {
            self.op(PacketType::Diff, last_committed_zxid);
        }
        queued_zxid
    }
}

/// `syncFollower`. `txn_log` is `None` until the on-disk log was read; then the committed
/// proposals from `peer_last_zxid` on (an empty slice when the log cannot serve it).
pub fn decide_sync(input: &SyncInput<'_>, txn_log: Option<&[Proposal]>) -> SyncStep {
    let peer = input.peer_last_zxid;
    let last_processed = input.last_processed;
    let (min_committed, max_committed) =
        match (input.committed_log.first(), input.committed_log.last()) {
            (Some(first), Some(last)) => (first.zxid, last.zxid),
            _ => (last_processed, last_processed),
        };
    let is_peer_new_epoch_zxid = peer.counter() == 0;
    let mut q = Queue {
        need_op: true,
        packets: Vec::new(),
        mode: SyncMode::Snap,
    };
    let mut current_zxid = peer;
    let mut need_snap = true;
    let mut from_txn_log = false;

    if input.force_snap {
        // needSnap stays true.
    } else if last_processed == peer {
        q.op(PacketType::Diff, peer);
        need_snap = false;
    } else if peer > max_committed && !is_peer_new_epoch_zxid {
        q.op(PacketType::Trunc, max_committed);
        current_zxid = max_committed;
        need_snap = false;
    } else if min_committed <= peer && peer <= max_committed {
        current_zxid = q.committed_proposals(input.committed_log.iter(), peer, None, max_committed);
        need_snap = false;
    } else if peer < min_committed && input.txn_log_sync {
        let Some(disk) = txn_log else {
            return SyncStep::NeedTxnLog { from: peer };
        };
        if !disk.is_empty() {
            from_txn_log = true;
            current_zxid =
                q.committed_proposals(disk.iter(), peer, Some(min_committed), max_committed);
            if current_zxid < min_committed {
                // A gap between the end of the disk log and the committed log.
                current_zxid = peer;
                q.packets.clear();
                q.need_op = true;
            } else {
                current_zxid = q.committed_proposals(
                    input.committed_log.iter(),
                    current_zxid,
                    None,
                    max_committed,
                );
                need_snap = false;
            }
        }
    }
    if q.need_op && !need_snap {
        // "Unhandled scenario ... fall back to use snapshot".
        need_snap = true;
    }
    if need_snap {
        return SyncStep::Decided(SyncPlan {
            mode: SyncMode::Snap,
            packets: Vec::new(),
            current_zxid: last_processed,
            from_txn_log: false,
        });
    }
    SyncStep::Decided(SyncPlan {
        mode: q.mode,
        packets: q.packets,
        current_zxid,
        from_txn_log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn z(epoch: u32, counter: u32) -> Zxid {
        Zxid::new(epoch, counter)
    }

    fn log(zxids: &[Zxid]) -> Vec<Proposal> {
        zxids
            .iter()
            .map(|&zxid| Proposal {
                zxid,
                data: Bytes::from(zxid.0.to_be_bytes().to_vec()),
            })
            .collect()
    }

    /// The packets as (type, zxid) pairs.
    fn shape(plan: &SyncPlan) -> Vec<(i32, i64)> {
        plan.packets.iter().map(|p| (p.r#type, p.zxid.0)).collect()
    }

    fn decide(peer: Zxid, last: Zxid, committed: &[Proposal]) -> SyncStep {
        decide_sync(
            &SyncInput {
                peer_last_zxid: peer,
                last_processed: last,
                committed_log: committed,
                txn_log_sync: true,
                force_snap: false,
            },
            None,
        )
    }

    fn plan(step: SyncStep) -> SyncPlan {
        match step {
            SyncStep::Decided(plan) => plan,
            other => panic!("expected a decision, got {other:?}"),
        }
    }

    const DIFF: i32 = 13;
    const TRUNC: i32 = 14;
    const PROPOSAL: i32 = 2;
    const COMMIT: i32 = 4;

    #[test]
    fn equal_zxids_get_an_empty_diff() {
        let committed = log(&[z(1, 1), z(1, 2)]);
        let p = plan(decide(z(1, 2), z(1, 2), &committed));
        assert_eq!(p.mode, SyncMode::Diff);
        assert_eq!(shape(&p), [(DIFF, z(1, 2).0)]);
        assert_eq!(p.current_zxid, z(1, 2));
        // Also with an empty committed log, and for a fresh ensemble at zxid 0.
        let p = plan(decide(Zxid(0), Zxid(0), &[]));
        assert_eq!(shape(&p), [(DIFF, 0)]);
    }

    #[test]
    fn force_snap_wins_over_everything() {
        let committed = log(&[z(1, 1)]);
        let step = decide_sync(
            &SyncInput {
                peer_last_zxid: z(1, 1),
                last_processed: z(1, 1),
                committed_log: &committed,
                txn_log_sync: true,
                force_snap: true,
            },
            None,
        );
        let p = plan(step);
        assert_eq!(p.mode, SyncMode::Snap);
        assert_eq!(p.current_zxid, z(1, 1));
        assert!(p.packets.is_empty());
    }

    #[test]
    fn peer_ahead_of_the_window_is_truncated_to_its_end() {
        let committed = log(&[z(1, 1), z(1, 2)]);
        let p = plan(decide(z(1, 4), z(1, 2), &committed));
        assert_eq!(p.mode, SyncMode::Trunc);
        assert_eq!(shape(&p), [(TRUNC, z(1, 2).0)]);
        assert_eq!(p.current_zxid, z(1, 2));
        // With an empty committed log the window is [lastProcessed, lastProcessed].
        let p = plan(decide(z(1, 4), z(1, 2), &[]));
        assert_eq!(shape(&p), [(TRUNC, z(1, 2).0)]);
    }

    #[test]
    fn peer_ahead_with_a_new_epoch_zxid_is_not_truncated() {
        // Leader established epoch 2 (lastProcessed 2<<32, no txns since); the peer synced to
        // 3<<32 in a failed epoch. It is ahead, but a new-epoch zxid never gets TRUNC; it is
        // neither inside nor below the window: "Unhandled scenario", a snapshot.
        let committed = log(&[z(1, 1), z(1, 2)]);
        let p = plan(decide(z(3, 0), z(2, 0), &committed));
        assert_eq!(p.mode, SyncMode::Snap);
        assert_eq!(p.current_zxid, z(2, 0));
    }

    #[test]
    fn peer_inside_the_window_gets_diff_and_the_later_proposals() {
        let committed = log(&[z(1, 1), z(1, 2), z(1, 3), z(2, 1)]);
        let p = plan(decide(z(1, 2), z(2, 1), &committed));
        assert_eq!(p.mode, SyncMode::Diff);
        assert_eq!(
            shape(&p),
            [
                (DIFF, z(2, 1).0),
                (PROPOSAL, z(1, 3).0),
                (COMMIT, z(1, 3).0),
                (PROPOSAL, z(2, 1).0),
                (COMMIT, z(2, 1).0),
            ]
        );
        assert_eq!(p.current_zxid, z(2, 1));
        // PROPOSAL data is the logged payload.
        assert_eq!(p.packets[1].data, Some(committed[2].data.clone()));
    }

    #[test]
    fn peer_at_the_window_start_gets_everything_after_it() {
        let committed = log(&[z(1, 1), z(1, 2)]);
        let p = plan(decide(z(1, 1), z(1, 2), &committed));
        assert_eq!(
            shape(&p),
            [
                (DIFF, z(1, 2).0),
                (PROPOSAL, z(1, 2).0),
                (COMMIT, z(1, 2).0)
            ]
        );
    }

    #[test]
    fn peer_with_uncommitted_txns_in_the_same_epoch_is_truncated_to_the_previous_proposal() {
        // The peer logged (1,3) which never committed; the leader's history has (1,2) then (1,4).
        let committed = log(&[z(1, 1), z(1, 2), z(1, 4), z(1, 5)]);
        let p = plan(decide(z(1, 3), z(1, 5), &committed));
        assert_eq!(p.mode, SyncMode::Trunc);
        assert_eq!(
            shape(&p),
            [
                (TRUNC, z(1, 2).0),
                (PROPOSAL, z(1, 4).0),
                (COMMIT, z(1, 4).0),
                (PROPOSAL, z(1, 5).0),
                (COMMIT, z(1, 5).0),
            ]
        );
        assert_eq!(p.current_zxid, z(1, 5));
    }

    #[test]
    fn uncommitted_txns_across_an_epoch_boundary_fall_back_to_snap() {
        // The old leader logged (1,3) alone; the new leader's history goes (1,2) -> (2,1).
        let committed = log(&[z(1, 1), z(1, 2), z(2, 1), z(2, 2)]);
        let p = plan(decide(z(1, 3), z(2, 2), &committed));
        assert_eq!(p.mode, SyncMode::Snap);
        assert!(p.packets.is_empty());
        assert_eq!(p.current_zxid, z(2, 2));
    }

    #[test]
    fn new_epoch_zxid_inside_the_window_gets_diff() {
        // The peer synced to 2<<32 (no txn behind it); the leader went on in epoch 2.
        let committed = log(&[z(1, 5), z(2, 1), z(2, 2)]);
        let p = plan(decide(z(2, 0), z(2, 2), &committed));
        assert_eq!(p.mode, SyncMode::Diff);
        assert_eq!(
            shape(&p),
            [
                (DIFF, z(2, 2).0),
                (PROPOSAL, z(2, 1).0),
                (COMMIT, z(2, 1).0),
                (PROPOSAL, z(2, 2).0),
                (COMMIT, z(2, 2).0),
            ]
        );
    }

    #[test]
    fn new_epoch_zxid_missing_from_history_gets_diff_not_trunc() {
        // Leader lastProcessed = 3<<32 (just established), window ends at (2,7); the peer at 2<<32
        // is in the window but not in the history: DIFF (never TRUNC) and the proposals after it.
        let committed = log(&[z(1, 9), z(2, 7)]);
        let p = plan(decide(z(2, 0), z(3, 0), &committed));
        assert_eq!(p.mode, SyncMode::Diff);
        assert_eq!(
            shape(&p),
            [
                (DIFF, z(2, 7).0),
                (PROPOSAL, z(2, 7).0),
                (COMMIT, z(2, 7).0)
            ]
        );
    }

    #[test]
    fn peer_below_the_window_asks_for_the_txn_log_then_diffs_from_it() {
        let committed = log(&[z(1, 4), z(1, 5)]);
        let step = decide(z(1, 1), z(1, 5), &committed);
        assert_eq!(step, SyncStep::NeedTxnLog { from: z(1, 1) });
        // The disk log from the peer's zxid overlaps the window start.
        let disk = log(&[z(1, 1), z(1, 2), z(1, 3), z(1, 4), z(1, 5)]);
        let input = SyncInput {
            peer_last_zxid: z(1, 1),
            last_processed: z(1, 5),
            committed_log: &committed,
            txn_log_sync: true,
            force_snap: false,
        };
        let p = plan(decide_sync(&input, Some(&disk)));
        assert!(p.from_txn_log);
        assert_eq!(p.mode, SyncMode::Diff);
        assert_eq!(
            shape(&p),
            [
                (DIFF, z(1, 5).0),
                (PROPOSAL, z(1, 2).0),
                (COMMIT, z(1, 2).0),
                (PROPOSAL, z(1, 3).0),
                (COMMIT, z(1, 3).0),
                (PROPOSAL, z(1, 4).0),
                (COMMIT, z(1, 4).0),
                (PROPOSAL, z(1, 5).0),
                (COMMIT, z(1, 5).0),
            ]
        );
        assert_eq!(p.current_zxid, z(1, 5));
    }

    #[test]
    fn txn_log_gaps_empty_reads_and_disabled_sync_fall_back_to_snap() {
        let committed = log(&[z(1, 6), z(1, 7)]);
        let mut input = SyncInput {
            peer_last_zxid: z(1, 1),
            last_processed: z(1, 7),
            committed_log: &committed,
            txn_log_sync: true,
            force_snap: false,
        };
        // The disk log ends at (1,3), before the window starts at (1,6): a gap.
        let disk = log(&[z(1, 1), z(1, 2), z(1, 3)]);
        assert_eq!(plan(decide_sync(&input, Some(&disk))).mode, SyncMode::Snap);
        // The driver could not serve the read (too old, or over the size limit).
        assert_eq!(plan(decide_sync(&input, Some(&[]))).mode, SyncMode::Snap);
        // txn-log sync disabled (snapshotSizeFactor < 0): no read is asked for.
        input.txn_log_sync = false;
        let p = plan(decide_sync(&input, None));
        assert_eq!(p.mode, SyncMode::Snap);
        assert_eq!(p.current_zxid, z(1, 7));
    }

    #[test]
    fn txn_log_that_truncates_the_peer_within_an_epoch() {
        // The peer has (1,3) that the leader never committed; the disk log has (1,2), (1,4).
        let committed = log(&[z(1, 5), z(1, 6)]);
        let disk = log(&[z(1, 1), z(1, 2), z(1, 4), z(1, 5), z(1, 6)]);
        let input = SyncInput {
            peer_last_zxid: z(1, 3),
            last_processed: z(1, 6),
            committed_log: &committed,
            txn_log_sync: true,
            force_snap: false,
        };
        let p = plan(decide_sync(&input, Some(&disk)));
        assert_eq!(p.mode, SyncMode::Trunc);
        assert_eq!(
            shape(&p),
            [
                (TRUNC, z(1, 2).0),
                (PROPOSAL, z(1, 4).0),
                (COMMIT, z(1, 4).0),
                (PROPOSAL, z(1, 5).0),
                (COMMIT, z(1, 5).0),
                (PROPOSAL, z(1, 6).0),
                (COMMIT, z(1, 6).0),
            ]
        );
    }

    #[test]
    fn empty_learner_of_a_fresh_ensemble_with_history_gets_everything_or_snap() {
        // Peer at zxid 0 (new epoch zxid of epoch 0). Window [ (1,1) .. (1,2) ]: peer below min,
        // txn log from 0 contains everything.
        let committed = log(&[z(1, 1), z(1, 2)]);
        let disk = log(&[z(1, 1), z(1, 2)]);
        let input = SyncInput {
            peer_last_zxid: Zxid(0),
            last_processed: z(1, 2),
            committed_log: &committed,
            txn_log_sync: true,
            force_snap: false,
        };
        let p = plan(decide_sync(&input, Some(&disk)));
        assert_eq!(p.mode, SyncMode::Diff);
        assert_eq!(
            shape(&p),
            [
                (DIFF, z(1, 2).0),
                (PROPOSAL, z(1, 1).0),
                (COMMIT, z(1, 1).0),
                (PROPOSAL, z(1, 2).0),
                (COMMIT, z(1, 2).0),
            ]
        );
    }
}
