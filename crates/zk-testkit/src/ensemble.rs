//! An ensemble of real server processes on loopback: N voters and K observers, each member our
//! `zk-server` binary or Apache ZooKeeper 3.8's `QuorumPeerMain`, all under one temporary directory
//! (`member-<id>/` with `zoo.cfg`, `data/myid` and `server.log`, which collects stdout and stderr
//! of every run of that member).
//!
//! Members are numbered 1, 2, ... in the order the builder was given them. Processes are started,
//! killed (SIGKILL), stopped (SIGTERM), paused (SIGSTOP) and resumed (SIGCONT) on demand; a member's
//! status comes from its `srvr` four-letter word. Dropping the ensemble kills every process.
//!
//! For fault injection between members, [`Ensemble::route_peer_traffic`] points each member's
//! `server.N` lines for the other members at given addresses (fault proxies), and
//! [`EnsembleBuilder::separate_data_log_dirs`] puts each member's txn log in a directory of its own
//! (`member-<id>/datalog`), where a test can mount a small filesystem.
//!
//! ```no_run
//! use std::time::Duration;
//! use zk_testkit::{EnsembleBuilder, Kind, Mode};
//!
//! let ensemble = EnsembleBuilder::new().voters(3, Kind::Apache).build();
//! ensemble.start_all();
//! let leader = ensemble.wait_for_leader(Duration::from_secs(60));
//! ensemble.kill(leader);
//! let next = ensemble.wait_for_leader(Duration::from_secs(60));
//! assert_ne!(next, leader);
//! ensemble.start(leader);
//! assert_eq!(ensemble.wait_serving(leader, Duration::from_secs(60)), Mode::Follower);
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::{
    QUORUM_PEER_MAIN, apache_command, four_letter_word, spawn_logged, tail, write_myid, zoo_cfg,
};

/// How long `stop` waits after SIGTERM before it sends SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// The pause between two polls of a condition.
const POLL: Duration = Duration::from_millis(50);
/// Lines of each log shown when a wait fails.
const LOG_TAIL_LINES: usize = 40;
/// The JVM options of an Apache member beyond ApacheServer's: a small heap so five JVMs fit.
const APACHE_JVM_ARGS: &[&str] = &["-Xmx256m"];

/// Which server a member runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Our `zk-server` binary at this path, run as `<bin> start-foreground <zoo.cfg>`. An
    /// integration test of zk-server passes `env!("CARGO_BIN_EXE_zk-server")`.
    Ours(PathBuf),
    /// Apache ZooKeeper 3.8 from Debian's jars: `java -cp <jars>
    /// org.apache.zookeeper.server.quorum.QuorumPeerMain <zoo.cfg>`.
    Apache,
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::Ours(_) => "ours",
            Kind::Apache => "Apache",
        }
    }
}

/// A member's role, from the `Mode:` line of `srvr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Leader,
    Follower,
    Observer,
    Standalone,
}

impl Mode {
    /// The mode in a `srvr` answer; `None` when the server does not serve (no `Mode:` line).
    pub fn from_srvr(srvr: &str) -> Option<Mode> {
        match srvr_field(srvr, "Mode")? {
            "leader" => Some(Mode::Leader),
            "follower" => Some(Mode::Follower),
            "observer" => Some(Mode::Observer),
            "standalone" => Some(Mode::Standalone),
            _ => None,
        }
    }
}

/// The value of the `<name>: <value>` line of a four-letter word's answer.
fn srvr_field<'a>(srvr: &'a str, name: &str) -> Option<&'a str> {
    srvr.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
        .map(str::trim)
}

/// Lays out an [`Ensemble`]. Members get ids 1, 2, ... in the order they are added.
#[derive(Debug, Clone)]
pub struct EnsembleBuilder {
    /// Per member, in id order: its kind and whether it observes.
    members: Vec<(Kind, bool)>,
    settings: Settings,
}

/// What every member's zoo.cfg is made of, besides the ports.
#[derive(Debug, Clone)]
struct Settings {
    tick_time_ms: u64,
    config: Vec<String>,
    member_config: BTreeMap<u64, Vec<String>>,
    separate_data_log_dirs: bool,
}

/// The addresses a member's `server.N` line names: its quorum (leader-learner) and election ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddrs {
    pub quorum: SocketAddr,
    pub election: SocketAddr,
}

impl Default for EnsembleBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl EnsembleBuilder {
    /// No members yet; tickTime 200 ms.
    pub fn new() -> Self {
        EnsembleBuilder {
            members: Vec::new(),
            settings: Settings {
                tick_time_ms: 200,
                config: Vec::new(),
                member_config: BTreeMap::new(),
                separate_data_log_dirs: false,
            },
        }
    }

    /// Adds one voting member.
    pub fn voter(mut self, kind: Kind) -> Self {
        self.members.push((kind, false));
        self
    }

    /// Adds `n` voting members of the same kind.
    pub fn voters(self, n: usize, kind: Kind) -> Self {
        (0..n).fold(self, |b, _| b.voter(kind.clone()))
    }

    /// Adds one observer (`server.N=...:observer`, and `peerType=observer` in its own zoo.cfg).
    pub fn observer(mut self, kind: Kind) -> Self {
        self.members.push((kind, true));
        self
    }

    /// Adds `n` observers of the same kind.
    pub fn observers(self, n: usize, kind: Kind) -> Self {
        (0..n).fold(self, |b, _| b.observer(kind.clone()))
    }

    /// `tickTime` in milliseconds (default 200).
    pub fn tick_time(mut self, ms: u64) -> Self {
        self.settings.tick_time_ms = ms;
        self
    }

    /// An extra `key=value` line for every member's zoo.cfg.
    pub fn config(mut self, line: impl Into<String>) -> Self {
        self.settings.config.push(line.into());
        self
    }

    /// An extra `key=value` line for member `id`'s zoo.cfg only (after the global ones).
    pub fn member_config(mut self, id: u64, line: impl Into<String>) -> Self {
        self.settings
            .member_config
            .entry(id)
            .or_default()
            .push(line.into());
        self
    }

    /// Gives every member a `dataLogDir` of its own, `member-<id>/datalog` (created empty), apart
    /// from its dataDir: the txn log can then live on a filesystem of its own. See
    /// [`Ensemble::data_log_dir`].
    pub fn separate_data_log_dirs(mut self) -> Self {
        self.settings.separate_data_log_dirs = true;
        self
    }

    /// Allocates the ports and writes every member's directory and zoo.cfg; starts nothing.
    pub fn build(self) -> Ensemble {
        assert!(!self.members.is_empty(), "an ensemble needs members");
        let count = self.members.len() as u64;
        if let Some(id) = self
            .settings
            .member_config
            .keys()
            .find(|id| !(1..=count).contains(*id))
        {
            panic!("member_config for member {id}, but the members are 1..={count}");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let members = self
            .members
            .into_iter()
            .enumerate()
            .map(|(i, (kind, observer))| {
                let id = i as u64 + 1;
                let member_dir = dir.path().join(format!("member-{id}"));
                let data_dir = member_dir.join("data");
                write_myid(&data_dir, id);
                let data_log_dir = if self.settings.separate_data_log_dirs {
                    let d = member_dir.join("datalog");
                    std::fs::create_dir_all(&d).expect("data log dir");
                    Some(d)
                } else {
                    None
                };
                Member {
                    id,
                    observer,
                    dir: member_dir,
                    data_dir,
                    data_log_dir,
                    quorum_port: crate::free_port(),
                    election_port: crate::free_port(),
                    client_port: crate::free_port(),
                    state: Mutex::new(State {
                        kind,
                        child: None,
                        paused: false,
                    }),
                }
            })
            .collect();
        let ensemble = Ensemble {
            members,
            settings: self.settings,
            _dir: dir,
        };
        ensemble.write_configs(&|_, to| ensemble.peer_addrs(to));
        ensemble
    }
}

/// Real server processes on loopback; see the module documentation. Every method takes `&self`,
/// so threads may share an ensemble (e.g. one kills members while others run clients).
#[derive(Debug)]
pub struct Ensemble {
    members: Vec<Member>,
    settings: Settings,
    _dir: tempfile::TempDir,
}

#[derive(Debug)]
struct Member {
    id: u64,
    observer: bool,
    dir: PathBuf,
    data_dir: PathBuf,
    /// `Some` with [`EnsembleBuilder::separate_data_log_dirs`].
    data_log_dir: Option<PathBuf>,
    quorum_port: u16,
    election_port: u16,
    client_port: u16,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    kind: Kind,
    /// The process of the last start, until `kill` or `stop` reaps it (an exited process that
    /// nobody reaped stays here so waits can report it).
    child: Option<Child>,
    paused: bool,
}

impl State {
    fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    fn pid(&self, id: u64) -> u32 {
        self.child
            .as_ref()
            .unwrap_or_else(|| panic!("member {id} is not running"))
            .id()
    }

    /// SIGKILL and reap (also works on a stopped process).
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.paused = false;
    }
}

/// Sends `signal` (`STOP`, `CONT`, `TERM`) with the `kill` command.
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed: {status}");
}

impl Ensemble {
    /// The member ids, 1..=N+K.
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.members.iter().map(|m| m.id)
    }

    /// Whether member `id` is an observer.
    pub fn is_observer(&self, id: u64) -> bool {
        self.member(id).observer
    }

    fn member(&self, id: u64) -> &Member {
        usize::try_from(id)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| self.members.get(i))
            .unwrap_or_else(|| panic!("no member {id}: the members are 1..={}", self.members.len()))
    }

    fn state(&self, id: u64) -> MutexGuard<'_, State> {
        self.member(id)
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Writes every member's zoo.cfg, where member `from` reaches member `to` at `route(from, to)`
    /// (a member's own line always names its own ports, which it binds).
    fn write_configs(&self, route: &dyn Fn(u64, u64) -> PeerAddrs) {
        for member in &self.members {
            let mut extra = vec!["initLimit=10".to_string(), "syncLimit=5".to_string()];
            for other in &self.members {
                let addrs = if other.id == member.id {
                    self.peer_addrs(other.id)
                } else {
                    route(member.id, other.id)
                };
                let role = if other.observer { ":observer" } else { "" };
                extra.push(format!(
                    "server.{}={}:{}:{}{role}",
                    other.id,
                    addrs.quorum.ip(),
                    addrs.quorum.port(),
                    addrs.election.port()
                ));
                assert_eq!(
                    addrs.quorum.ip(),
                    addrs.election.ip(),
                    "a server line has one host for both ports"
                );
            }
            if member.observer {
                extra.push("peerType=observer".to_string());
            }
            if let Some(d) = &member.data_log_dir {
                extra.push(format!("dataLogDir={}", d.display()));
            }
            extra.extend(self.settings.config.iter().cloned());
            extra.extend(
                self.settings
                    .member_config
                    .get(&member.id)
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
            let cfg = zoo_cfg(
                self.settings.tick_time_ms,
                &member.data_dir,
                member.client_port,
                &extra,
            );
            std::fs::write(member.dir.join("zoo.cfg"), cfg).expect("write zoo.cfg");
        }
    }

    /// Member `id`'s own quorum and election addresses (the ports it listens on).
    pub fn peer_addrs(&self, id: u64) -> PeerAddrs {
        let m = self.member(id);
        PeerAddrs {
            quorum: SocketAddr::from(([127, 0, 0, 1], m.quorum_port)),
            election: SocketAddr::from(([127, 0, 0, 1], m.election_port)),
        }
    }

    /// Sends the traffic between members through other addresses, typically fault proxies: every
    /// member's zoo.cfg is rewritten so that member `from` connects to member `to` at
    /// `route(from, to)` (the proxy then forwards to [`Self::peer_addrs`]`(to)`), while its own
    /// `server.N` line keeps its own ports. Takes effect at each member's next start; panics if
    /// one is running.
    pub fn route_peer_traffic(&self, route: impl Fn(u64, u64) -> PeerAddrs) {
        for id in self.ids() {
            assert!(
                !self.is_running(id),
                "member {id} is running: route peer traffic before starting"
            );
        }
        self.write_configs(&route);
    }

    /// Starts every member that is not running. Waits for nothing: see [`Self::wait_for_leader`].
    pub fn start_all(&self) {
        for id in self.ids() {
            if !self.is_running(id) {
                self.start(id);
            }
        }
    }

    /// Starts member `id` as its current kind; panics if it is running.
    pub fn start(&self, id: u64) {
        let member = self.member(id);
        let mut state = self.state(id);
        assert!(!state.running(), "member {id} is already running");
        state.kill(); // reaps a process that exited on its own
        let cfg = member.dir.join("zoo.cfg");
        let log = member.dir.join("server.log");
        let banner = format!(
            "===== zk-testkit: member {id} starts as {} =====\n",
            state.kind.name()
        );
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(banner.as_bytes()))
            .expect("write log banner");
        let command = match &state.kind {
            Kind::Ours(bin) => {
                let mut command = Command::new(bin);
                command.arg("start-foreground").arg(&cfg);
                command
            }
            Kind::Apache => {
                let jvm_args: Vec<String> = APACHE_JVM_ARGS.iter().map(|a| a.to_string()).collect();
                apache_command(QUORUM_PEER_MAIN, &jvm_args, &cfg)
            }
        };
        state.child = Some(spawn_logged(command, &log));
    }

    /// SIGKILL, then waits for the exit. Does nothing if member `id` is not running.
    pub fn kill(&self, id: u64) {
        self.state(id).kill();
    }

    /// SIGTERM (and SIGCONT, should it be paused), then waits for the exit; SIGKILL after 10 s.
    /// Does nothing if member `id` is not running.
    pub fn stop(&self, id: u64) {
        let mut state = self.state(id);
        if !state.running() {
            state.kill();
            return;
        }
        let pid = state.pid(id);
        signal(pid, "TERM");
        if state.paused {
            signal(pid, "CONT");
        }
        let deadline = Instant::now() + STOP_GRACE;
        let child = state.child.as_mut().expect("running");
        while Instant::now() < deadline {
            if !matches!(child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(POLL);
        }
        state.kill();
    }

    /// [`Self::stop`], then [`Self::start`].
    pub fn restart(&self, id: u64) {
        self.stop(id);
        self.start(id);
    }

    /// SIGSTOP: the process stays alive but answers nothing (its sockets stay open).
    pub fn pause(&self, id: u64) {
        let mut state = self.state(id);
        assert!(state.running(), "member {id} is not running");
        signal(state.pid(id), "STOP");
        state.paused = true;
    }

    /// SIGCONT after [`Self::pause`].
    pub fn resume(&self, id: u64) {
        let mut state = self.state(id);
        assert!(state.running(), "member {id} is not running");
        signal(state.pid(id), "CONT");
        state.paused = false;
    }

    /// Whether member `id`'s process is alive (paused counts as alive).
    pub fn is_running(&self, id: u64) -> bool {
        self.state(id).running()
    }

    /// Whether member `id` is paused.
    pub fn is_paused(&self, id: u64) -> bool {
        self.state(id).paused
    }

    /// The kind member `id` runs (or will run on its next start).
    pub fn kind(&self, id: u64) -> Kind {
        self.state(id).kind.clone()
    }

    /// Makes member `id` run as `kind` from its next start, on the same data directory and
    /// zoo.cfg. Panics if it is running.
    pub fn set_kind(&self, id: u64, kind: Kind) {
        let mut state = self.state(id);
        assert!(
            !state.running(),
            "member {id} is running: stop it before changing its kind"
        );
        state.kind = kind;
    }

    /// `127.0.0.1:<client port>` of member `id`.
    pub fn client_addr(&self, id: u64) -> String {
        format!("127.0.0.1:{}", self.member(id).client_port)
    }

    /// Every member's client address, comma-separated, in id order.
    pub fn connect_string(&self) -> String {
        self.ids()
            .map(|id| self.client_addr(id))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Member `id`'s dataDir (holding `myid` and `version-2/`).
    pub fn data_dir(&self, id: u64) -> &Path {
        &self.member(id).data_dir
    }

    /// Member `id`'s dataLogDir, whose `version-2/` holds the txn logs: its own directory with
    /// [`EnsembleBuilder::separate_data_log_dirs`], else the dataDir.
    pub fn data_log_dir(&self, id: u64) -> &Path {
        let m = self.member(id);
        m.data_log_dir.as_deref().unwrap_or(&m.data_dir)
    }

    /// Member `id`'s zoo.cfg.
    pub fn config_path(&self, id: u64) -> PathBuf {
        self.member(id).dir.join("zoo.cfg")
    }

    /// Everything member `id` wrote to stdout and stderr, over all its runs (each begins with a
    /// `===== zk-testkit: member N starts as ... =====` line).
    pub fn log(&self, id: u64) -> String {
        std::fs::read_to_string(self.member(id).dir.join("server.log")).unwrap_or_default()
    }

    /// Sends a four-letter word to member `id` (empty answer if it does not answer). A paused
    /// member makes this block until the read times out.
    pub fn four_letter_word(&self, id: u64, word: &str) -> String {
        four_letter_word(&self.client_addr(id), word)
    }

    /// Member `id`'s mode from `srvr`; `None` when it does not serve (or is paused, or down).
    pub fn mode(&self, id: u64) -> Option<Mode> {
        if self.is_paused(id) {
            return None;
        }
        Mode::from_srvr(&self.four_letter_word(id, "srvr"))
    }

    /// Member `id`'s last zxid from `srvr`; `None` when it does not serve (or is paused, or down).
    pub fn zxid(&self, id: u64) -> Option<u64> {
        if self.is_paused(id) {
            return None;
        }
        let srvr = self.four_letter_word(id, "srvr");
        let hex = srvr_field(&srvr, "Zxid")?.strip_prefix("0x")?;
        u64::from_str_radix(hex, 16).ok()
    }

    /// Waits until the ensemble serves: one member is leader and every running, unpaused voter
    /// is leader or follower. Returns the leader's id. Panics with every member's status and log
    /// tail on timeout, or at once when a voter's process exits without `kill` or `stop`.
    pub fn wait_for_leader(&self, timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        loop {
            let voters: Vec<u64> = self.ids().filter(|id| !self.is_observer(*id)).collect();
            for &id in &voters {
                self.fail_if_exited(id, "waiting for a leader");
            }
            let live: Vec<u64> = voters
                .into_iter()
                .filter(|id| self.is_running(*id) && !self.is_paused(*id))
                .collect();
            let modes: Vec<(u64, Option<Mode>)> =
                live.iter().map(|id| (*id, self.mode(*id))).collect();
            let leaders: Vec<u64> = modes
                .iter()
                .filter(|(_, m)| *m == Some(Mode::Leader))
                .map(|(id, _)| *id)
                .collect();
            let all_in = modes
                .iter()
                .all(|(_, m)| matches!(m, Some(Mode::Leader | Mode::Follower)));
            if let ([leader], true) = (leaders.as_slice(), all_in) {
                return *leader;
            }
            if Instant::now() >= deadline {
                let ids: Vec<u64> = self.ids().collect();
                panic!(
                    "no leader with every running voter following within {timeout:?}\n{}",
                    self.report(&ids)
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits until member `id` serves (`srvr` shows a mode) and returns its mode. Panics with
    /// the members' status and `id`'s log tail on timeout, or at once when its process exits
    /// without `kill` or `stop`, or is not running.
    pub fn wait_serving(&self, id: u64, timeout: Duration) -> Mode {
        let deadline = Instant::now() + timeout;
        loop {
            self.fail_if_exited(id, "waiting for it to serve");
            assert!(
                self.is_running(id),
                "member {id} is not running: start it before waiting for it to serve"
            );
            if let Some(mode) = self.mode(id) {
                return mode;
            }
            if Instant::now() >= deadline {
                panic!(
                    "member {id} did not serve within {timeout:?}\n{}",
                    self.report(&[id])
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Panics, with its log, when member `id`'s process exited without `kill` or `stop`.
    fn fail_if_exited(&self, id: u64, while_doing: &str) {
        let status = self
            .state(id)
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten());
        if let Some(status) = status {
            panic!(
                "member {id} exited with {status} while {while_doing}\n{}",
                self.report(&[id])
            );
        }
    }

    /// One status line per member, then the log tails of `logs`.
    fn report(&self, logs: &[u64]) -> String {
        let mut out = String::from("members:\n");
        for id in self.ids() {
            let status = {
                let mut state = self.state(id);
                let exited = state
                    .child
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten());
                match (&state.child, exited, state.paused) {
                    (None, _, _) => "not running".to_string(),
                    (Some(_), Some(status), _) => format!("exited with {status}"),
                    (Some(_), None, true) => "paused".to_string(),
                    (Some(_), None, false) => String::new(),
                }
            };
            let status = if status.is_empty() {
                self.mode(id)
                    .map_or("running, not serving".to_string(), |m| format!("{m:?}"))
            } else {
                status
            };
            let role = if self.is_observer(id) {
                "observer"
            } else {
                "voter"
            };
            let _ = writeln!(
                out,
                "  {id} ({}, {role}, {}): {status}",
                self.kind(id).name(),
                self.client_addr(id)
            );
        }
        for &id in logs {
            // Without the lines our own polling caused.
            let log: String = self
                .log(id)
                .lines()
                .filter(|line| !line.contains("Processing srvr command"))
                .map(|line| format!("{line}\n"))
                .collect();
            let _ = write!(
                out,
                "--- member {id}: last {LOG_TAIL_LINES} lines of {} (srvr polling left out) ---\n{}",
                self.member(id).dir.join("server.log").display(),
                tail(&log, LOG_TAIL_LINES)
            );
        }
        out
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        for member in &self.members {
            member
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srvr_fields_parse() {
        let srvr = "Zookeeper version: 3.8.0-debian, built on 2022-01-01\nLatency min/avg/max: 0/0.0/0\n\
                    Received: 3\nSent: 2\nConnections: 1\nOutstanding: 0\nZxid: 0x100000002\n\
                    Mode: follower\nNode count: 5\n";
        assert_eq!(Mode::from_srvr(srvr), Some(Mode::Follower));
        assert_eq!(srvr_field(srvr, "Zxid"), Some("0x100000002"));
        assert_eq!(
            Mode::from_srvr("This ZooKeeper instance is not currently serving requests\n"),
            None
        );
        assert_eq!(Mode::from_srvr(""), None);
    }

    #[test]
    #[should_panic(expected = "member 2 exited with exit status: 1 while waiting for a leader")]
    fn a_member_that_exits_fails_the_wait_at_once() {
        let ensemble = EnsembleBuilder::new()
            .voter(Kind::Apache)
            .voter(Kind::Ours(PathBuf::from("false")))
            .build();
        ensemble.start(2);
        while ensemble.is_running(2) {
            std::thread::sleep(POLL);
        }
        ensemble.wait_for_leader(Duration::from_secs(600));
    }

    #[test]
    fn the_layout_has_every_member_in_every_config() {
        let ensemble = EnsembleBuilder::new()
            .voters(2, Kind::Apache)
            .observer(Kind::Ours(PathBuf::from("/nonexistent/zk-server")))
            .tick_time(100)
            .config("globalOutstandingLimit=10")
            .member_config(3, "syncEnabled=false")
            .build();
        assert_eq!(ensemble.ids().collect::<Vec<_>>(), [1, 2, 3]);
        assert!(ensemble.is_observer(3) && !ensemble.is_observer(1));
        assert_eq!(ensemble.connect_string().split(',').count(), 3);
        for id in ensemble.ids() {
            let cfg = std::fs::read_to_string(ensemble.config_path(id)).unwrap();
            assert!(cfg.contains("tickTime=100\n"), "{cfg}");
            assert!(cfg.contains("initLimit=10\nsyncLimit=5\n"), "{cfg}");
            assert!(cfg.contains("server.1=127.0.0.1:"), "{cfg}");
            assert!(cfg.contains(":observer\n"), "{cfg}");
            assert!(cfg.contains("globalOutstandingLimit=10\n"), "{cfg}");
            assert_eq!(cfg.contains("peerType=observer"), id == 3, "{cfg}");
            assert_eq!(cfg.contains("syncEnabled=false"), id == 3, "{cfg}");
            let myid = std::fs::read_to_string(ensemble.data_dir(id).join("myid")).unwrap();
            assert_eq!(myid.trim(), id.to_string());
            assert!(!ensemble.is_running(id));
        }
        assert_eq!(
            ensemble.client_addr(1),
            format!("127.0.0.1:{}", ensemble.member(1).client_port)
        );
    }

    #[test]
    fn routed_peer_traffic_and_separate_data_log_dirs_show_in_the_configs() {
        let ensemble = EnsembleBuilder::new()
            .voters(3, Kind::Apache)
            .separate_data_log_dirs()
            .build();
        let own: Vec<PeerAddrs> = ensemble.ids().map(|id| ensemble.peer_addrs(id)).collect();
        // Member `from` reaches member `to` at port 40000 + 10 * from + to (+ 100 for election).
        let routed = |from: u64, to: u64| PeerAddrs {
            quorum: SocketAddr::from(([127, 0, 0, 1], 40000 + 10 * from as u16 + to as u16)),
            election: SocketAddr::from(([127, 0, 0, 1], 40100 + 10 * from as u16 + to as u16)),
        };
        ensemble.route_peer_traffic(routed);
        for from in ensemble.ids() {
            let cfg = std::fs::read_to_string(ensemble.config_path(from)).unwrap();
            for to in ensemble.ids() {
                let addrs = if from == to {
                    own[to as usize - 1]
                } else {
                    routed(from, to)
                };
                let line = format!(
                    "server.{to}=127.0.0.1:{}:{}\n",
                    addrs.quorum.port(),
                    addrs.election.port()
                );
                assert!(cfg.contains(&line), "member {from} lacks {line}: {cfg}");
            }
            let log_dir = ensemble.data_log_dir(from);
            assert!(log_dir.is_dir() && log_dir != ensemble.data_dir(from));
            assert!(
                cfg.contains(&format!("dataLogDir={}\n", log_dir.display())),
                "{cfg}"
            );
        }
        // Member ports lie below the ephemeral range, which port 0 and outgoing connections use.
        let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        for addrs in &own {
            assert!(addrs.quorum.port() < low && addrs.election.port() < low);
        }
        // Without the option the txn log lives in the dataDir.
        let plain = EnsembleBuilder::new().voter(Kind::Apache).build();
        assert_eq!(plain.data_log_dir(1), plain.data_dir(1));
        let cfg = std::fs::read_to_string(plain.config_path(1)).unwrap();
        assert!(!cfg.contains("dataLogDir"), "{cfg}");
    }
}
