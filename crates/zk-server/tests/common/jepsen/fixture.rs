//! The ensemble fixture as the nemesis's [`Target`]: our servers as real processes on loopback,
//! every link between two members through a fault proxy of a [`Mesh`] (each member's zoo.cfg names
//! the proxies for the others), and each member's txn log on a small tmpfs of its own, which a
//! full-disk fault fills. Mounting needs root, as CI has; `JEPSEN_DISK_FAULTS=off` leaves the
//! mounts and the full-disk fault out (the report says so) for a run without it.
//!
//! kill -9 and restart, SIGSTOP/SIGCONT and the leader come from zk-testkit's [`Ensemble`];
//! partitions alternate between cut links (connects refused) and black holes (links open, nothing
//! delivered); torn writes damage the newest txn log of a killed member with
//! [`zk_jepsen::tear_log_tail`]. Every fault the target applies is written down for the report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use zk_jepsen::proxy::PartitionStyle;
use zk_jepsen::{MemberId, Mesh, SmallDisk, Target, Tear};
use zk_testkit::ensemble::PeerAddrs;
use zk_testkit::{Ensemble, EnsembleBuilder, Mode};

use crate::common::ensemble::{WAIT, blocking, ours};

/// The size of each member's txn log filesystem.
const LOG_DISK_BYTES: u64 = 512 << 20;
/// What the server logs when recovery cuts a torn log tail.
pub(crate) const TORN_TAIL_REPAIRED: &str = "txn log ends with a torn write";
/// What the server logs when a txn log write fails.
pub(crate) const LOG_FAILED: &str = "the txn log failed";

/// One full-disk fault, as it went.
#[derive(Debug, Clone)]
pub(crate) struct DiskFill {
    pub(crate) member: u64,
    pub(crate) bytes: u64,
    /// The member's process exited while its disk was full (and was started again on heal).
    pub(crate) exited: bool,
}

/// Our servers under the nemesis.
#[derive(Debug)]
pub(crate) struct Fixture {
    /// Unmounted before the ensemble's directory goes (see `Drop`).
    disks: BTreeMap<u64, SmallDisk>,
    pub(crate) ensemble: Arc<Ensemble>,
    mesh: Mesh,
    rng: fastrand::Rng,
    /// Every torn write: the member and what was torn (`None`: it had no log yet).
    pub(crate) tears: Vec<(u64, Option<Tear>)>,
    pub(crate) fills: Vec<DiskFill>,
    /// Partitions applied, per style.
    pub(crate) partitions: BTreeMap<&'static str, usize>,
}

impl Fixture {
    /// Lays out `voters` members of ours with a proxy on every link between two of them and the
    /// txn logs on small filesystems, starts them, and waits for a leader with every member
    /// serving.
    pub(crate) async fn start(voters: usize, seed: u64) -> Fixture {
        let ensemble = EnsembleBuilder::new()
            .voters(voters, ours())
            .separate_data_log_dirs()
            // Sessions of up to 20 s (tickTime 200 ms allows only 4 s by default); log rolls
            // and snapshots every 10000 txns or so, so that restarts replay a snapshot and a few
            // logs (`purge_old_files` keeps the disk from filling up over a long run).
            .config("maxSessionTimeout=20000")
            .config("snapCount=10000")
            .build();
        let mut disks = BTreeMap::new();
        if disk_faults() {
            for id in ensemble.ids() {
                let disk = SmallDisk::mount(ensemble.data_log_dir(id), LOG_DISK_BYTES)
                    .unwrap_or_else(|e| {
                        panic!(
                            "member {id}'s txn log disk: {e}; JEPSEN_DISK_FAULTS=off runs \
                             without the full-disk fault"
                        )
                    });
                disks.insert(id, disk);
            }
        }
        let targets: BTreeMap<MemberId, Vec<std::net::SocketAddr>> = ensemble
            .ids()
            .map(|id| {
                let PeerAddrs { quorum, election } = ensemble.peer_addrs(id);
                (member(id), vec![quorum, election])
            })
            .collect();
        let mesh = Mesh::start(&targets).await.expect("start the proxies");
        ensemble.route_peer_traffic(|from, to| {
            let addr = |port| {
                mesh.addr(member(from), member(to), port)
                    .expect("a proxy per link")
            };
            PeerAddrs {
                quorum: addr(0),
                election: addr(1),
            }
        });
        // Made before anything runs, so that a failure from here on is cleaned up by its drop
        // (processes killed, then the disks unmounted, then the directory removed).
        let fixture = Fixture {
            disks,
            ensemble: Arc::new(ensemble),
            mesh,
            rng: fastrand::Rng::with_seed(seed),
            tears: Vec::new(),
            fills: Vec::new(),
            partitions: BTreeMap::new(),
        };
        blocking({
            let e = fixture.ensemble.clone();
            move || e.start_all()
        })
        .await;
        fixture.wait_healthy().await;
        fixture
    }

    pub(crate) fn members(&self) -> Vec<MemberId> {
        self.ensemble.ids().map(member).collect()
    }

    /// Waits until the ensemble has a leader and every member serves; panics with every member's
    /// status and log tail when it does not within a minute.
    pub(crate) async fn wait_healthy(&self) {
        blocking({
            let e = self.ensemble.clone();
            move || {
                e.wait_for_leader(WAIT);
                for id in e.ids().collect::<Vec<_>>() {
                    e.wait_serving(id, WAIT);
                }
            }
        })
        .await;
    }

    /// What an operator's `zkCleanup.sh -n 3` run from cron does: on every member, deletes the
    /// snapshots but the 3 newest valid ones and the txn logs only they need
    /// (`zk_persistence::purge`, PurgeTxnLog's rules; safe while the servers run).
    pub(crate) fn purge_old_files(ensemble: &Ensemble) {
        for id in ensemble.ids() {
            // A member killed in the middle of a snapshot leaves a partial one, which the purge
            // skips over; a failure here is not the servers' and is retried next time.
            let _ = zk_persistence::purge(ensemble.data_log_dir(id), ensemble.data_dir(id), 3);
        }
    }

    /// How often each member's log says recovery cut a torn tail.
    pub(crate) fn torn_tails_repaired(&self) -> usize {
        self.ensemble
            .ids()
            .map(|id| self.ensemble.log(id).matches(TORN_TAIL_REPAIRED).count())
            .sum()
    }

    /// The disk faults, in words, for the report.
    pub(crate) fn describe_disk_faults(&self) -> String {
        let mut out = String::new();
        let repaired = self.torn_tails_repaired();
        let _ = writeln!(
            out,
            "torn writes: {} ({} torn tails cut by recovery, as the servers logged)",
            self.tears.len(),
            repaired
        );
        for (m, tear) in &self.tears {
            match tear {
                Some(t) => {
                    let _ = writeln!(out, "  member {m}: {t}");
                }
                None => {
                    let _ = writeln!(out, "  member {m}: no txn log yet, nothing torn");
                }
            }
        }
        if self.disks.is_empty() {
            let _ = writeln!(out, "full disks: none: JEPSEN_DISK_FAULTS=off");
            return out;
        }
        let _ = writeln!(out, "full disks: {}", self.fills.len());
        for f in &self.fills {
            let _ = writeln!(
                out,
                "  member {}: {} MiB filled; {}",
                f.member,
                f.bytes >> 20,
                if f.exited {
                    "its server stopped on the failed write and was started again"
                } else {
                    "its server stayed up"
                }
            );
        }
        let failed: usize = self
            .ensemble
            .ids()
            .map(|id| self.ensemble.log(id).matches(LOG_FAILED).count())
            .sum();
        let _ = writeln!(out, "  ('{LOG_FAILED}' logged {failed} times)");
        out
    }

    /// Fails when member `m`'s process exited without the nemesis killing it.
    fn check_running(&self, m: u64, doing: &str) -> io::Result<()> {
        if self.ensemble.is_running(m) {
            return Ok(());
        }
        let log = self.ensemble.log(m);
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        Err(io::Error::other(format!(
            "member {m} exited on its own (found {doing}); its log ends:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for id in self.ensemble.ids().collect::<Vec<_>>() {
            self.ensemble.kill(id);
        }
        if std::thread::panicking() {
            // The ensemble's directory goes with it: keep the logs of a failed run.
            let keep = std::env::temp_dir().join(format!("zk-jepsen-logs-{}", std::process::id()));
            if std::fs::create_dir_all(&keep).is_ok() {
                for id in self.ensemble.ids() {
                    let _ = std::fs::write(
                        keep.join(format!("member-{id}.log")),
                        self.ensemble.log(id),
                    );
                }
                eprintln!("the members' logs are kept in {}", keep.display());
            }
        }
        // Unmounted now, so the ensemble's directory can be removed when it goes.
        self.disks.clear();
    }
}

/// Whether the full-disk fault is on (`JEPSEN_DISK_FAULTS=off` turns it off).
pub(crate) fn disk_faults() -> bool {
    std::env::var("JEPSEN_DISK_FAULTS").map_or(true, |v| v != "off")
}

fn member(id: u64) -> MemberId {
    MemberId::try_from(id).expect("a small member id")
}

fn id(m: MemberId) -> u64 {
    u64::from(m)
}

impl Target for Fixture {
    async fn kill(&mut self, m: MemberId) -> io::Result<()> {
        self.check_running(id(m), "killing it")?;
        let e = self.ensemble.clone();
        blocking(move || e.kill(id(m))).await;
        Ok(())
    }

    async fn restart(&mut self, m: MemberId) -> io::Result<()> {
        let e = self.ensemble.clone();
        blocking(move || e.start(id(m))).await;
        Ok(())
    }

    async fn pause(&mut self, m: MemberId) -> io::Result<()> {
        self.check_running(id(m), "pausing it")?;
        let e = self.ensemble.clone();
        blocking(move || e.pause(id(m))).await;
        Ok(())
    }

    async fn resume(&mut self, m: MemberId) -> io::Result<()> {
        self.check_running(id(m), "resuming it")?;
        let e = self.ensemble.clone();
        blocking(move || e.resume(id(m))).await;
        Ok(())
    }

    async fn partition(&mut self, groups: &[Vec<MemberId>]) -> io::Result<()> {
        let (style, name) = if self.rng.bool() {
            (PartitionStyle::Cut, "cut")
        } else {
            (PartitionStyle::Blackhole, "black hole")
        };
        *self.partitions.entry(name).or_default() += 1;
        self.mesh.partition(groups, style).await;
        Ok(())
    }

    async fn set_delay(&mut self, delay: Duration) -> io::Result<()> {
        self.mesh.set_delay(delay);
        Ok(())
    }

    async fn heal_network(&mut self) -> io::Result<()> {
        self.mesh.heal().await
    }

    async fn leader(&mut self) -> Option<MemberId> {
        let e = self.ensemble.clone();
        blocking(move || {
            let ids: Vec<u64> = e.ids().collect();
            ids.into_iter().find(|&id| {
                e.is_running(id) && !e.is_paused(id) && e.mode(id) == Some(Mode::Leader)
            })
        })
        .await
        .map(member)
    }

    async fn fill_disk(&mut self, m: MemberId) -> io::Result<()> {
        self.check_running(id(m), "filling its disk")?;
        let disk = self.disks.get_mut(&id(m)).expect("a disk per member");
        let bytes = tokio::task::block_in_place(|| disk.fill())?;
        self.fills.push(DiskFill {
            member: id(m),
            bytes,
            exited: false,
        });
        Ok(())
    }

    async fn free_disk(&mut self, m: MemberId) -> io::Result<()> {
        let disk = self.disks.get_mut(&id(m)).expect("a disk per member");
        tokio::task::block_in_place(|| disk.free())?;
        if !self.ensemble.is_running(id(m)) {
            // 3.8 stops too when a txn log write fails; an operator frees space and restarts.
            if let Some(fill) = self.fills.last_mut() {
                fill.exited = true;
            }
            let e = self.ensemble.clone();
            blocking(move || e.start(id(m))).await;
        }
        Ok(())
    }

    async fn tear_log_tail(&mut self, m: MemberId) -> io::Result<()> {
        let dir = self.ensemble.data_log_dir(id(m)).join("version-2");
        let rng = &mut self.rng;
        let tear = tokio::task::block_in_place(|| match zk_jepsen::tear_log_tail(&dir, rng) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            other => other,
        })?;
        self.tears.push((id(m), tear));
        Ok(())
    }
}
