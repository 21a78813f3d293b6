//! `cargo xtask bench compare`: our server against Apache ZooKeeper 3.8 on the same machine.
//!
//! Builds `zk-server` and `zk-loadgen` (release), starts both servers with the same `zoo.cfg`
//! (fsync on, tickTime 2000, 4lw on, AdminServer off, defaults otherwise), drives them with
//! `zk-loadgen` (the third-party `zookeeper-client` crate) in alternating rounds (A B, then B A,
//! ...), and writes `target/bench-report/<standalone|ensemble>/`: `report.md` (medians of the
//! rounds and the ratios ours/Apache), `results.jsonl` (every run), and SVG charts. Server CPU time
//! and RSS come from `/proc/<pid>` of the server processes. xtask links no product crate: it
//! spawns the binaries and reads their JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::cluster::{four_letter, parse_srvr};

pub(crate) const USAGE: &str =
    "usage: cargo xtask bench compare [--servers 1|3] [--quick] [--workloads a,b,...] [--rounds N]

Builds zk-server and zk-loadgen (release), runs Apache ZooKeeper 3.8 (Debian's package, needs
java) and our server with the same zoo.cfg, drives both with zk-loadgen in alternating rounds and
writes a report (Markdown table of ratios ours/Apache, SVG charts, every run as JSON) to
target/bench-report/standalone/ (--servers 1, the default) or target/bench-report/ensemble/
(--servers 3: three processes per side on loopback).

  --quick          a few workloads, short runs (a few minutes in all)
  --workloads L    only these workloads (comma-separated names, below)
  --rounds N       rounds per workload (default 3, --quick 2); the report shows the median

ZK_BENCH_SERVER=/path/to/zk-server uses that server binary instead of building the workspace's.

workloads with --servers 1 (* = in --quick):
  read-1 read-8* read-64* read-256       getData closed loop at N clients
  write-1 write-8* write-64* write-256   setData closed loop at N clients
  pipe-read* pipe-write                  8 sessions, 32 requests in flight each
  mixed                                  32 clients, 90% getData / 10% setData
  create-delete                          8 clients, create sequential + delete
  multi                                  8 clients, multi of 10 setData
  watch-100 watch-1000                   fan-out of one setData to N watching sessions
  populate-1m* populate-10m              N znodes of 100 bytes: creates/s, RSS, snapshot size,
                                         cold start (restart until the last znode is readable)
workloads with --servers 3:
  ens-write-8 ens-write-64* ens-read-64  clients spread over the members
  failover*                              kill -9 the leader under load: time until the first
                                         write issued after the kill succeeds";

const APACHE_CLASSPATH: &str = "/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:/usr/share/java/slf4j-simple.jar";
const APACHE_MAIN: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";
const POPULATE_SIZE: usize = 100;

pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("compare") => {
            let options = parse_compare(&args[1..])?;
            compare(root, &options)
        }
        Some("-h" | "--help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown bench command '{other}'\n\n{USAGE}"),
    }
}

// ------------------------------------------------------------------------------------ options

/// The options of `bench compare`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompareOptions {
    pub(crate) servers: u32,
    pub(crate) quick: bool,
    pub(crate) workloads: Option<Vec<String>>,
    pub(crate) rounds: Option<usize>,
}

pub(crate) fn parse_compare(args: &[String]) -> Result<CompareOptions> {
    let mut options = CompareOptions {
        servers: 1,
        quick: false,
        workloads: None,
        rounds: None,
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        let mut value = || -> Result<String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => rest
                    .next()
                    .cloned()
                    .with_context(|| format!("{name} needs a value")),
            }
        };
        match name {
            "--quick" if inline.is_none() => options.quick = true,
            "--servers" => {
                options.servers = match value()?.as_str() {
                    "1" => 1,
                    "3" => 3,
                    other => bail!("--servers {other}: expected 1 or 3"),
                }
            }
            "--workloads" => {
                let list: Vec<String> = value()?
                    .split(',')
                    .map(str::trim)
                    .filter(|w| !w.is_empty())
                    .map(str::to_owned)
                    .collect();
                if list.is_empty() {
                    bail!("--workloads needs at least one name");
                }
                options.workloads = Some(list);
            }
            "--rounds" => {
                let v = value()?;
                let n: usize = v.parse().with_context(|| format!("--rounds {v}"))?;
                if n == 0 {
                    bail!("--rounds must be at least 1");
                }
                options.rounds = Some(n);
            }
            "-h" | "--help" => bail!("{USAGE}"),
            _ => bail!("unknown option '{arg}'\n\n{USAGE}"),
        }
    }
    Ok(options)
}

/// What a workload does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Task {
    /// A `zk-loadgen` load run with these arguments (servers, pids and durations are added).
    Load(&'static str),
    /// Populate this many znodes of 100 bytes, then RSS, snapshot size and cold start.
    Populate(u64),
    /// kill -9 the leader under load.
    Failover,
}

/// One workload of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spec {
    pub(crate) name: &'static str,
    pub(crate) ensemble: bool,
    pub(crate) quick: bool,
    pub(crate) task: Task,
    /// The line and client count of the throughput-vs-clients chart.
    pub(crate) series: Option<(&'static str, u32)>,
}

#[rustfmt::skip]
pub(crate) fn catalog() -> Vec<Spec> {
    use Task::{Failover, Load, Populate};
    let spec = |name, ensemble, quick, task, series| Spec { name, ensemble, quick, task, series };
    vec![
        spec("read-1", false, false, Load("read --clients 1"), Some(("getData", 1))),
        spec("read-8", false, true, Load("read --clients 8"), Some(("getData", 8))),
        spec("read-64", false, true, Load("read --clients 64"), Some(("getData", 64))),
        spec("read-256", false, false, Load("read --clients 256"), Some(("getData", 256))),
        spec("write-1", false, false, Load("write --clients 1"), Some(("setData", 1))),
        spec("write-8", false, true, Load("write --clients 8"), Some(("setData", 8))),
        spec("write-64", false, true, Load("write --clients 64"), Some(("setData", 64))),
        spec("write-256", false, false, Load("write --clients 256"), Some(("setData", 256))),
        spec("pipe-read", false, true, Load("pipeline --clients 8 --depth 32 --op read"), None),
        spec("pipe-write", false, false, Load("pipeline --clients 8 --depth 32 --op write"), None),
        spec("mixed", false, false, Load("mixed --clients 32 --read-ratio 0.9"), None),
        spec("create-delete", false, false, Load("write --mode create-delete --clients 8"), None),
        spec("multi", false, false, Load("multi --clients 8 --ops 10"), None),
        spec("watch-100", false, false, Load("watch --watchers 100"), None),
        spec("watch-1000", false, false, Load("watch --watchers 1000"), None),
        spec("populate-1m", false, true, Populate(1_000_000), None),
        spec("populate-10m", false, false, Populate(10_000_000), None),
        spec("ens-write-8", true, false, Load("write --clients 8 --spread"), Some(("ensemble setData", 8))),
        spec("ens-write-64", true, true, Load("write --clients 64 --spread"), Some(("ensemble setData", 64))),
        spec("ens-read-64", true, false, Load("read --clients 64 --spread"), Some(("ensemble getData", 64))),
        spec("failover", true, true, Failover, None),
    ]
}

/// The workloads a run does, in catalog order.
pub(crate) fn select(options: &CompareOptions) -> Result<Vec<Spec>> {
    let ensemble = options.servers == 3;
    let all: Vec<Spec> = catalog()
        .into_iter()
        .filter(|s| s.ensemble == ensemble)
        .collect();
    let Some(names) = &options.workloads else {
        return Ok(all
            .into_iter()
            .filter(|s| !options.quick || s.quick)
            .collect());
    };
    for name in names {
        if !all.iter().any(|s| s.name == name) {
            let known: Vec<&str> = all.iter().map(|s| s.name).collect();
            bail!(
                "unknown workload '{name}' for --servers {}: one of {}",
                options.servers,
                known.join(", ")
            );
        }
    }
    Ok(all
        .into_iter()
        .filter(|s| names.iter().any(|n| n == s.name))
        .collect())
}

/// Durations and repetitions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Plan {
    pub(crate) rounds: usize,
    pub(crate) warmup_s: f64,
    pub(crate) duration_s: f64,
    /// Unrecorded load on a freshly started server (JIT, page cache) before the first run.
    pub(crate) server_warmup_s: f64,
    pub(crate) failover_duration_s: f64,
    pub(crate) kill_after_s: f64,
}

pub(crate) fn plan(options: &CompareOptions) -> Plan {
    let mut plan = if options.quick {
        Plan {
            rounds: 2,
            warmup_s: 1.0,
            duration_s: 3.0,
            server_warmup_s: 4.0,
            failover_duration_s: 15.0,
            kill_after_s: 3.0,
        }
    } else {
        Plan {
            rounds: 3,
            warmup_s: 2.0,
            duration_s: 8.0,
            server_warmup_s: 10.0,
            failover_duration_s: 25.0,
            kill_after_s: 5.0,
        }
    };
    if let Some(r) = options.rounds {
        plan.rounds = r;
    }
    plan
}

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Side {
    Apache,
    Ours,
}

impl Side {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Side::Apache => "apache",
            Side::Ours => "ours",
        }
    }
}

/// Round 0 runs Apache first, round 1 ours first, and so on, so that drift of the machine over a
/// round weighs on both sides alike.
pub(crate) fn order(round: usize) -> [Side; 2] {
    if round % 2 == 0 {
        [Side::Apache, Side::Ours]
    } else {
        [Side::Ours, Side::Apache]
    }
}

// ------------------------------------------------------------------------------------ configs

/// Ports of one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Member {
    /// 0 standalone, 1.. in an ensemble.
    pub(crate) id: u32,
    pub(crate) client_port: u16,
    pub(crate) quorum_port: u16,
    pub(crate) election_port: u16,
}

/// The zoo.cfg both servers get: ZooKeeper's defaults (fsync on, preAllocSize, snapCount)
/// except the usual tick and limits, loopback, no connection limit, every 4lw, no AdminServer;
/// the `server.N` lines of `ensemble` when it is not empty.
pub(crate) fn zoo_cfg(data_dir: &Path, me: &Member, ensemble: &[Member]) -> String {
    let mut cfg = format!(
        "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={}\n\
         clientPortAddress=127.0.0.1\nmaxClientCnxns=0\n4lw.commands.whitelist=*\n\
         admin.enableServer=false\n",
        data_dir.display(),
        me.client_port
    );
    for m in ensemble {
        let _ = writeln!(
            cfg,
            "server.{}=127.0.0.1:{}:{}",
            m.id, m.quorum_port, m.election_port
        );
    }
    cfg
}

/// `n` loopback ports that are free now, below the ephemeral range (from 20000 up), so that no
/// outgoing connection takes the port of a server that restarts.
fn free_ports(n: usize) -> Result<Vec<u16>> {
    let start = 20_000 + (std::process::id() % 400) as u16 * 25;
    let mut ports = Vec::new();
    for p in (start..32_000).chain(20_000..start) {
        if TcpListener::bind(("127.0.0.1", p)).is_ok() {
            ports.push(p);
            if ports.len() == n {
                return Ok(ports);
            }
        }
    }
    bail!("no {n} free ports between 20000 and 32000")
}

fn members(n: u32) -> Result<Vec<Member>> {
    let ports = free_ports(3 * n as usize)?;
    Ok((0..n as usize)
        .map(|i| Member {
            id: if n == 1 { 0 } else { i as u32 + 1 },
            client_port: ports[3 * i],
            quorum_port: ports[3 * i + 1],
            election_port: ports[3 * i + 2],
        })
        .collect())
}

// ------------------------------------------------------------------------------------ processes

/// The built binaries.
#[derive(Debug, Clone)]
struct Bins {
    server: PathBuf,
    loadgen: PathBuf,
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Builds zk-server and zk-loadgen in release and returns where cargo put them; with
/// `ZK_BENCH_SERVER=/path/to/zk-server`, only zk-loadgen and that server binary is used.
fn build(root: &Path) -> Result<Bins> {
    let given = std::env::var_os("ZK_BENCH_SERVER").map(PathBuf::from);
    // `--bin` selects across every `-p`, so the load generator is named as well.
    let mut args = vec![
        "build",
        "--release",
        "-p",
        "zk-loadgen",
        "--bin",
        "zk-loadgen",
    ];
    match &given {
        Some(path) => {
            if !path.is_file() {
                bail!("ZK_BENCH_SERVER={} is not a file", path.display());
            }
            println!(
                "building zk-loadgen (release); our server: {}",
                path.display()
            );
        }
        None => {
            println!("building zk-server and zk-loadgen (release)...");
            args.extend(["-p", "zk-server", "--bin", "zk-server"]);
        }
    }
    let output = cargo()
        .current_dir(root)
        .args(&args)
        .arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo build")?;
    if !output.status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    let mut found = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if let (Some(name), Some(exe)) = (
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
        ) {
            found.insert(name.to_owned(), PathBuf::from(exe));
        }
    }
    let get = |name: &str| {
        found
            .get(name)
            .cloned()
            .with_context(|| format!("cargo built no {name} executable"))
    };
    Ok(Bins {
        server: match given {
            Some(path) => path,
            None => get("zk-server")?,
        },
        loadgen: get("zk-loadgen")?,
    })
}

fn check_java() -> Result<()> {
    let java = Command::new("java").arg("-version").output();
    if !java.is_ok_and(|o| o.status.success()) {
        bail!(
            "java is not installed: run `cargo xtask test` once (or `apt-get install -y zookeeper`)"
        );
    }
    for jar in APACHE_CLASSPATH.split(':') {
        if !Path::new(jar).exists() {
            bail!(
                "{jar} is missing: run `cargo xtask test` once (or `apt-get install -y zookeeper`)"
            );
        }
    }
    Ok(())
}

/// One server process of one side, with its directory.
struct Server {
    side: Side,
    member: Member,
    dir: PathBuf,
    child: Option<Child>,
}

impl Server {
    /// Writes the configuration (and myid) into a fresh `dir`, then starts the server.
    fn create(
        bins: &Bins,
        side: Side,
        dir: &Path,
        me: Member,
        ensemble: &[Member],
    ) -> Result<Server> {
        if dir.exists() {
            fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        let data = dir.join("data");
        fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
        fs::write(dir.join("zoo.cfg"), zoo_cfg(&data, &me, ensemble))?;
        if me.id > 0 {
            fs::write(data.join("myid"), format!("{}\n", me.id))?;
        }
        let mut server = Server {
            side,
            member: me,
            dir: dir.to_path_buf(),
            child: None,
        };
        server.launch(bins)?;
        Ok(server)
    }

    fn launch(&mut self, bins: &Bins) -> Result<()> {
        let cfg = self.dir.join("zoo.cfg");
        let log_path = self.dir.join("server.log");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let mut cmd = match self.side {
            Side::Ours => {
                let mut cmd = Command::new(&bins.server);
                cmd.arg("start-foreground");
                cmd
            }
            Side::Apache => {
                let mut cmd = Command::new("java");
                cmd.args(["-cp", APACHE_CLASSPATH, APACHE_MAIN]);
                cmd
            }
        };
        let child = cmd
            .arg(&cfg)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting the {} server", self.side.label()))?;
        self.child = Some(child);
        Ok(())
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.member.client_port)
    }

    fn log_tail(&self) -> String {
        let text = fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Fails with the end of the log when the process has exited.
    fn check_alive(&mut self) -> Result<()> {
        if let Some(child) = &mut self.child {
            if let Some(status) = child.try_wait()? {
                self.child = None;
                bail!(
                    "the {} server {} exited ({status}); the end of {}:\n{}",
                    self.side.label(),
                    self.member.id,
                    self.dir.join("server.log").display(),
                    self.log_tail()
                );
            }
        }
        Ok(())
    }

    /// Waits until the process is gone (after a kill by someone else).
    fn reap(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }

    /// SIGTERM, then SIGKILL after 30 s; returns how long the server took to exit.
    fn stop(&mut self) -> Result<Duration> {
        let Some(mut child) = self.child.take() else {
            return Ok(Duration::ZERO);
        };
        let started = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        while started.elapsed() < Duration::from_secs(30) {
            if child.try_wait()?.is_some() {
                return Ok(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "the {} server ignored SIGTERM for 30 s: SIGKILL",
            self.side.label()
        );
        child.kill()?;
        child.wait()?;
        Ok(started.elapsed())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs zk-loadgen and returns its JSON line; its summary line goes to the terminal.
fn loadgen(bins: &Bins, args: &[String], tag: &str) -> Result<Value> {
    let output = Command::new(&bins.loadgen)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running zk-loadgen")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("zk-loadgen {} failed: {}", args.join(" "), stderr.trim());
    }
    if !tag.is_empty() {
        for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
            println!("  {tag} {line}");
        }
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .context("zk-loadgen printed nothing")?;
    serde_json::from_str(line).with_context(|| format!("zk-loadgen printed '{line}'"))
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Waits until `server` answers getData of `path` in a new session; fails early when it exits.
fn wait_ready(bins: &Bins, server: &mut Server, timeout_s: u32) -> Result<()> {
    server.check_alive()?;
    let result = loadgen(
        bins,
        &strings(&[
            "probe",
            "--servers",
            &server.address(),
            "--path",
            "/",
            "--timeout",
            &timeout_s.to_string(),
        ]),
        "",
    );
    server.check_alive()?;
    result.map(drop)
}

fn rss_kb(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Apparent size of the files under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// The snapshots of a data directory: (zxid, path, size), oldest first.
fn snapshots(data_dir: &Path) -> Vec<(u64, PathBuf, u64)> {
    let mut out: Vec<_> = fs::read_dir(data_dir.join("version-2"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let zxid = u64::from_str_radix(name.strip_prefix("snapshot.")?, 16).ok()?;
            Some((zxid, e.path(), e.metadata().ok()?.len()))
        })
        .collect();
    out.sort();
    out
}

/// While populating 10 million znodes both servers write a snapshot every ~100,000 txns
/// (snapCount), tens of gigabytes in all; as autopurge would, keep only the newest two (the
/// others are complete and no longer needed by either server).
fn spawn_snapshot_purger(data_dir: PathBuf) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let handle = std::thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            let snaps = snapshots(&data_dir);
            for (_, path, _) in snaps.iter().take(snaps.len().saturating_sub(2)) {
                let _ = fs::remove_file(path);
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    });
    (stop, handle)
}

/// The size of `snapshot.<zxid>` once it stopped growing for 2 s (120 s at most); the newest
/// snapshot's size, marked inexact, when that file never appears.
fn settled_snapshot(data_dir: &Path, zxid: Option<u64>) -> (Option<u64>, bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = None;
    let mut stable = 0;
    while Instant::now() < deadline {
        let snaps = snapshots(data_dir);
        let exact = zxid.and_then(|z| snaps.iter().find(|s| s.0 == z));
        if let Some((_, _, size)) = exact {
            if last == Some(*size) {
                stable += 1;
                if stable >= 4 {
                    return (Some(*size), true);
                }
            } else {
                stable = 0;
                last = Some(*size);
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    (snapshots(data_dir).last().map(|s| s.2), false)
}

// ------------------------------------------------------------------------------------ results

/// One measured run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Run {
    pub(crate) workload: String,
    pub(crate) side: Side,
    pub(crate) round: usize,
    pub(crate) json: Value,
}

/// Every run, also appended to results.jsonl as it completes.
struct Recorder {
    runs: Vec<Run>,
    file: File,
}

impl Recorder {
    fn add(&mut self, workload: &str, side: Side, round: usize, json: Value) -> Result<()> {
        let mut line = json.clone();
        if let Value::Object(map) = &mut line {
            map.insert("bench_workload".into(), json!(workload));
            map.insert("server".into(), json!(side.label()));
            map.insert("round".into(), json!(round));
        }
        writeln!(self.file, "{line}")?;
        self.runs.push(Run {
            workload: workload.to_owned(),
            side,
            round,
            json,
        });
        Ok(())
    }
}

/// Everything a compare run shares.
struct Ctx<'a> {
    bins: Bins,
    plan: Plan,
    run_dir: PathBuf,
    recorder: &'a mut Recorder,
}

// ------------------------------------------------------------------------------------ compare

fn compare(root: &Path, options: &CompareOptions) -> Result<()> {
    let specs = select(options)?;
    let plan = plan(options);
    check_java()?;
    let bins = build(root)?;
    let mode = if options.servers == 3 {
        "ensemble"
    } else {
        "standalone"
    };
    let report_dir = root.join("target").join("bench-report").join(mode);
    let run_dir = report_dir.join("run");
    if run_dir.exists() {
        fs::remove_dir_all(&run_dir)?;
    }
    fs::create_dir_all(&run_dir)?;
    let started = Instant::now();
    let load_before = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut recorder = Recorder {
        runs: Vec::new(),
        file: File::create(report_dir.join("results.jsonl"))?,
    };
    let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
    println!(
        "bench compare ({mode}): {} in {} rounds; report in {}",
        names.join(", "),
        plan.rounds,
        report_dir.display()
    );
    let ctx_server = bins.server.display().to_string();
    let mut ctx = Ctx {
        bins,
        plan,
        run_dir: run_dir.clone(),
        recorder: &mut recorder,
    };
    if options.servers == 3 {
        ensemble_phase(&mut ctx, &specs)?;
    } else {
        standalone_loads(&mut ctx, &specs)?;
        for spec in &specs {
            if let Task::Populate(count) = spec.task {
                populate_phase(&mut ctx, spec, count, options.quick)?;
            }
        }
    }
    let meta = Meta {
        mode: mode.to_owned(),
        rounds: plan.rounds,
        plan,
        quick: options.quick,
        commit: git_describe(root),
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_before: load_before
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        load_after: fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        minutes: started.elapsed().as_secs_f64() / 60.0,
        server: ctx_server,
    };
    let markdown = render_markdown(&specs, &recorder.runs, &meta);
    fs::write(report_dir.join("report.md"), &markdown)?;
    for (name, chart) in charts(&specs, &recorder.runs, plan.rounds) {
        fs::write(report_dir.join(name), svg(&chart))?;
    }
    // The data directories can be large; the logs stay.
    remove_data_dirs(&run_dir);
    println!("\n{markdown}");
    println!("report: {}", report_dir.join("report.md").display());
    Ok(())
}

fn git_describe(root: &Path) -> String {
    let out = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let head = out(&["rev-parse", "--short", "HEAD"]);
    let dirty = !out(&["status", "--porcelain", "--untracked-files=no"]).is_empty();
    if dirty {
        format!("{head} (with uncommitted changes)")
    } else {
        head
    }
}

fn remove_data_dirs(dir: &Path) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "data") {
                let _ = fs::remove_dir_all(&path);
            } else {
                remove_data_dirs(&path);
            }
        }
    }
}

/// The common zk-loadgen arguments of a measured load run.
fn load_args(spec_args: &str, root: &str, servers: &str, pids: &str, plan: &Plan) -> Vec<String> {
    let mut args: Vec<String> = spec_args.split_whitespace().map(str::to_owned).collect();
    args.extend(strings(&[
        "--servers",
        servers,
        "--server-pid",
        pids,
        "--root",
        root,
        "--duration",
        &plan.duration_s.to_string(),
        "--warmup",
        &plan.warmup_s.to_string(),
    ]));
    args
}

fn warm_up(ctx: &Ctx<'_>, servers: &str, spread: bool) -> Result<()> {
    let mut args = strings(&[
        "mixed",
        "--clients",
        "16",
        "--servers",
        servers,
        "--root",
        "/zk-bench-warmup",
        "--warmup",
        "0",
        "--duration",
        &ctx.plan.server_warmup_s.to_string(),
    ]);
    if spread {
        args.push("--spread".into());
    }
    loadgen(&ctx.bins, &args, "").map(drop)
}

/// Both standalone servers run side by side (the idle one costs nothing); each workload runs
/// round after round, the order of the sides alternating.
fn standalone_loads(ctx: &mut Ctx<'_>, specs: &[Spec]) -> Result<()> {
    let loads: Vec<(&Spec, &str)> = specs
        .iter()
        .filter_map(|s| match s.task {
            Task::Load(args) => Some((s, args)),
            _ => None,
        })
        .collect();
    if loads.is_empty() {
        return Ok(());
    }
    let mut servers = BTreeMap::new();
    for side in [Side::Apache, Side::Ours] {
        let me = members(1)?[0];
        let dir = ctx.run_dir.join(format!("load-{}", side.label()));
        let mut server = Server::create(&ctx.bins, side, &dir, me, &[])?;
        wait_ready(&ctx.bins, &mut server, 120)?;
        println!(
            "{} server up on {} (pid {})",
            side.label(),
            server.address(),
            server.pid()
        );
        servers.insert(side, server);
    }
    for server in servers.values() {
        warm_up(ctx, &server.address(), false)?;
    }
    for (spec, args) in loads {
        println!("== {}", spec.name);
        for round in 0..ctx.plan.rounds {
            for side in order(round) {
                let server = servers.get_mut(&side).expect("both sides run");
                server.check_alive()?;
                let args = load_args(
                    args,
                    &format!("/zk-bench-{}", spec.name),
                    &server.address(),
                    &server.pid().to_string(),
                    &ctx.plan,
                );
                let tag = format!("[{} r{}]", side.label(), round + 1);
                let json = loadgen(&ctx.bins, &args, &tag)?;
                ctx.recorder.add(spec.name, side, round, json)?;
            }
        }
    }
    for server in servers.values_mut() {
        server.stop()?;
    }
    Ok(())
}

/// Fresh server, populate, RSS, graceful stop, cold start until the last znode is readable,
/// snapshot size; one server at a time.
fn populate_phase(ctx: &mut Ctx<'_>, spec: &Spec, count: u64, quick: bool) -> Result<()> {
    let rounds = if quick || count >= 10_000_000 {
        1
    } else {
        ctx.plan.rounds
    };
    println!("== {} ({count} znodes of {POPULATE_SIZE} bytes)", spec.name);
    for round in 0..rounds {
        for side in order(round) {
            let json = populate_once(ctx, side, count, round)?;
            ctx.recorder.add(spec.name, side, round, json)?;
        }
    }
    Ok(())
}

fn populate_once(ctx: &mut Ctx<'_>, side: Side, count: u64, round: usize) -> Result<Value> {
    let tag = format!("[{} r{}]", side.label(), round + 1);
    let me = members(1)?[0];
    let dir = ctx
        .run_dir
        .join(format!("populate-{}-{count}", side.label()));
    let data_dir = dir.join("data");
    let mut server = Server::create(&ctx.bins, side, &dir, me, &[])?;
    wait_ready(&ctx.bins, &mut server, 120)?;
    let pid = server.pid();
    let rss_idle = rss_kb(pid);
    let (purge_stop, purger) = spawn_snapshot_purger(data_dir.clone());
    let populated = loadgen(
        &ctx.bins,
        &strings(&[
            "populate",
            "--count",
            &count.to_string(),
            "--size",
            &POPULATE_SIZE.to_string(),
            "--servers",
            &server.address(),
            "--server-pid",
            &pid.to_string(),
        ]),
        &tag,
    );
    purge_stop.store(true, Ordering::Relaxed);
    let _ = purger.join();
    let mut json = populated?;
    server.check_alive()?;
    std::thread::sleep(Duration::from_secs(2));
    let rss_loaded = rss_kb(pid);
    let zxid = four_letter(me.client_port, "srvr")
        .ok()
        .and_then(|t| parse_srvr(&t).zxid);
    let stop = server.stop()?;
    let last_path = json["last_path"]
        .as_str()
        .context("populate names no last path")?
        .to_owned();
    let launched = epoch_ms();
    server.launch(&ctx.bins)?;
    let probe = loadgen(
        &ctx.bins,
        &strings(&[
            "probe",
            "--servers",
            &server.address(),
            "--path",
            &last_path,
            "--expect-size",
            &POPULATE_SIZE.to_string(),
            "--timeout",
            "900",
        ]),
        "",
    );
    server.check_alive()?;
    let probe = probe?;
    let cold_start_ms = probe["ok_epoch_ms"]
        .as_u64()
        .map(|ok| ok.saturating_sub(launched));
    let (snapshot_bytes, snapshot_exact) = settled_snapshot(&data_dir, zxid);
    std::thread::sleep(Duration::from_secs(1));
    let rss_recovered = rss_kb(server.pid());
    let datadir_bytes = dir_bytes(&data_dir);
    server.stop()?;
    let _ = fs::remove_dir_all(&data_dir);
    let extra = json!({
        "rss_idle_kb": rss_idle,
        "rss_loaded_kb": rss_loaded,
        "stop_ms": stop.as_millis() as u64,
        "cold_start_ms": cold_start_ms,
        "rss_recovered_kb": rss_recovered,
        "snapshot_bytes": snapshot_bytes,
        "snapshot_exact": snapshot_exact,
        "datadir_bytes": datadir_bytes,
    });
    println!("  {tag} {extra}");
    if let (Value::Object(map), Value::Object(more)) = (&mut json, extra) {
        map.extend(more);
    }
    Ok(json)
}

/// A fresh ensemble of three per side and round: warm-up, the load workloads, then the leader
/// kill.
fn ensemble_phase(ctx: &mut Ctx<'_>, specs: &[Spec]) -> Result<()> {
    for round in 0..ctx.plan.rounds {
        for side in order(round) {
            let tag = format!("[{} r{}]", side.label(), round + 1);
            let ms = members(3)?;
            let mut servers = Vec::new();
            for m in &ms {
                let dir = ctx
                    .run_dir
                    .join(format!("ensemble-{}-{}", side.label(), m.id));
                servers.push(Server::create(&ctx.bins, side, &dir, *m, &ms)?);
            }
            for server in &mut servers {
                wait_ready(&ctx.bins, server, 120)?;
            }
            let leader = wait_leader(&mut servers)?;
            let connect: Vec<String> = servers.iter().map(Server::address).collect();
            let connect = connect.join(",");
            let pids: Vec<String> = servers.iter().map(|s| s.pid().to_string()).collect();
            let pids = pids.join(",");
            println!("{tag} ensemble up on {connect}, leader server.{leader}");
            warm_up(ctx, &connect, true)?;
            for spec in specs {
                match spec.task {
                    Task::Load(args) => {
                        let args = load_args(
                            args,
                            &format!("/zk-bench-{}", spec.name),
                            &connect,
                            &pids,
                            &ctx.plan,
                        );
                        let json = loadgen(&ctx.bins, &args, &format!("{tag} {}", spec.name))?;
                        ctx.recorder.add(spec.name, side, round, json)?;
                    }
                    Task::Failover => {
                        let leader = wait_leader(&mut servers)?;
                        let victim = &servers[leader as usize - 1];
                        let args = strings(&[
                            "failover",
                            "--servers",
                            &connect,
                            "--clients",
                            "16",
                            "--kill-pid",
                            &victim.pid().to_string(),
                            "--kill-after",
                            &ctx.plan.kill_after_s.to_string(),
                            "--warmup",
                            "2",
                            "--duration",
                            &ctx.plan.failover_duration_s.to_string(),
                            "--read-ratio",
                            "0.5",
                            "--root",
                            "/zk-bench-failover",
                        ]);
                        let result = loadgen(&ctx.bins, &args, &format!("{tag} failover"));
                        servers[leader as usize - 1].reap();
                        let mut json = result?;
                        json["killed_server"] = json!(leader);
                        ctx.recorder.add(spec.name, side, round, json)?;
                    }
                    Task::Populate(_) => {}
                }
            }
            for server in &mut servers {
                server.stop()?;
            }
        }
    }
    Ok(())
}

/// The id of the member that says `Mode: leader` (60 s at most).
fn wait_leader(servers: &mut [Server]) -> Result<u32> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        for server in servers.iter_mut() {
            server.check_alive()?;
            let mode = four_letter(server.member.client_port, "srvr")
                .ok()
                .and_then(|t| parse_srvr(&t).mode);
            if mode.as_deref() == Some("leader") {
                return Ok(server.member.id);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("no member of the ensemble leads after 60 s")
}

// ------------------------------------------------------------------------------------ report

/// Median; the mean of the middle two for an even count.
pub(crate) fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// The median over the rounds of one number (a JSON pointer) of one workload and side.
pub(crate) fn metric(runs: &[Run], workload: &str, side: Side, pointer: &str) -> Option<f64> {
    median(
        runs.iter()
            .filter(|r| r.workload == workload && r.side == side)
            .filter_map(|r| r.json.pointer(pointer).and_then(Value::as_f64))
            .collect(),
    )
}

/// ours / Apache, when both are known and Apache's is not zero.
pub(crate) fn ratio(ours: Option<f64>, apache: Option<f64>) -> Option<f64> {
    match (ours, apache) {
        (Some(o), Some(a)) if a != 0.0 => Some(o / a),
        _ => None,
    }
}

fn ratio_of(runs: &[Run], workload: &str, pointer: &str) -> Option<f64> {
    ratio(
        metric(runs, workload, Side::Ours, pointer),
        metric(runs, workload, Side::Apache, pointer),
    )
}

pub(crate) fn fmt_ratio(r: Option<f64>) -> String {
    match r {
        Some(r) if r >= 10.0 => format!("{r:.1}×"),
        Some(r) => format!("{r:.2}×"),
        None => "–".into(),
    }
}

/// Compact numbers: 1234567 -> 1.23M, 45678 -> 45.7k, 12.345 -> 12.3.
pub(crate) fn fmt_num(v: Option<f64>) -> String {
    let Some(v) = v else {
        return "–".into();
    };
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        }
    };
    let a = v.abs();
    if a >= 1e9 {
        trim(format!("{:.2}", v / 1e9)) + "G"
    } else if a >= 1e6 {
        trim(format!("{:.2}", v / 1e6)) + "M"
    } else if a >= 1e4 {
        trim(format!("{:.1}", v / 1e3)) + "k"
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        trim(format!("{v:.1}"))
    }
}

fn mib(kb: Option<f64>) -> Option<f64> {
    kb.map(|k| k / 1024.0)
}

/// What the report says about the run itself.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Meta {
    pub(crate) mode: String,
    pub(crate) rounds: usize,
    pub(crate) plan: Plan,
    pub(crate) quick: bool,
    pub(crate) commit: String,
    pub(crate) cpus: usize,
    pub(crate) load_before: String,
    pub(crate) load_after: String,
    pub(crate) minutes: f64,
    /// Our server binary.
    pub(crate) server: String,
}

/// One line of the targets of issue 13.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Target {
    pub(crate) what: String,
    pub(crate) value: Option<f64>,
    /// `>= x` or `<= x`.
    pub(crate) at_least: bool,
    pub(crate) bound: f64,
}

impl Target {
    pub(crate) fn met(&self) -> Option<bool> {
        self.value.map(|v| {
            if self.at_least {
                v >= self.bound
            } else {
                v <= self.bound
            }
        })
    }
}

/// The targets of issue 13 that this run measured.
pub(crate) fn targets(specs: &[Spec], runs: &[Run]) -> Vec<Target> {
    let mut out = Vec::new();
    let mut add = |what: String, value: Option<f64>, at_least: bool, bound: f64| {
        if value.is_some() {
            out.push(Target {
                what,
                value,
                at_least,
                bound,
            });
        }
    };
    let tput = "/ops_per_sec";
    add(
        "read throughput, 64 clients".into(),
        ratio_of(runs, "read-64", tput),
        true,
        3.0,
    );
    add(
        "pipelined reads".into(),
        ratio_of(runs, "pipe-read", tput),
        true,
        3.0,
    );
    add(
        "write throughput, 64 clients".into(),
        ratio_of(runs, "write-64", tput),
        true,
        2.0,
    );
    add(
        "ensemble write throughput, 64 clients".into(),
        ratio_of(runs, "ens-write-64", tput),
        true,
        2.0,
    );
    add(
        "p99 latency, reads at 64 clients".into(),
        ratio_of(runs, "read-64", "/lat_us/p99"),
        false,
        0.5,
    );
    add(
        "p99 latency, writes at 64 clients".into(),
        ratio_of(runs, "write-64", "/lat_us/p99"),
        false,
        0.5,
    );
    let worst_cpu = specs
        .iter()
        .filter(|s| matches!(s.task, Task::Load(_)))
        .filter_map(|s| ratio_of(runs, s.name, "/server_cpu_us_per_op").map(|r| (r, s.name)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((r, name)) = worst_cpu {
        add(
            format!("server CPU per request, worst workload ({name})"),
            Some(r),
            false,
            0.25,
        );
    }
    add(
        "RSS at 1,000,000 znodes".into(),
        ratio_of(runs, "populate-1m", "/rss_loaded_kb"),
        false,
        0.2,
    );
    add(
        "cold start with 1,000,000 znodes".into(),
        ratio_of(runs, "populate-1m", "/cold_start_ms"),
        false,
        0.2,
    );
    add(
        "leader failover to first write".into(),
        ratio_of(runs, "failover", "/failover_ms"),
        false,
        0.5,
    );
    out
}

pub(crate) fn render_markdown(specs: &[Spec], runs: &[Run], meta: &Meta) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# zk-server vs Apache ZooKeeper 3.8 ({})\n", meta.mode);
    let _ = writeln!(
        md,
        "`cargo xtask bench compare{}{}`, commit {}, our server `{}`, {} CPUs, load average {} \
         before and {} after, {:.1} minutes. Medians of {} alternating rounds (Apache first in odd rounds, ours \
         first in even ones), {} s measured after {} s of warm-up per run; ratios are ours/Apache \
         (throughput: higher is better; latency, CPU, memory, time: lower is better). Server \
         CPU time and RSS from /proc of the server processes (summed over the members of an \
         ensemble). The load generator shares the machine with the server.\n",
        if meta.mode == "ensemble" {
            " --servers 3"
        } else {
            ""
        },
        if meta.quick { " --quick" } else { "" },
        if meta.commit.is_empty() {
            "?"
        } else {
            &meta.commit
        },
        meta.server,
        meta.cpus,
        meta.load_before,
        meta.load_after,
        meta.minutes,
        meta.rounds,
        meta.plan.duration_s,
        meta.plan.warmup_s,
    );
    let noise = median(
        runs.iter()
            .filter_map(|r| r.json["other_cpu_pct"].as_f64())
            .collect(),
    );
    if let Some(noise) = noise {
        let _ = writeln!(
            md,
            "Other processes used a median {noise:.0}% of one core during the runs (noise).\n"
        );
    }
    // On a virtual machine the host may take CPU time away (steal); runs with much of it are
    // slower for reasons neither server controls and are best repeated.
    let steal: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.json["steal_pct"].as_f64())
        .collect();
    let max_steal = steal.iter().copied().reduce(f64::max);
    if let (Some(median_steal), Some(max_steal)) = (median(steal), max_steal) {
        let _ = writeln!(
            md,
            "The host took a median {median_steal:.1}% of the CPU time (steal), {max_steal:.1}% at most in one run{}.\n",
            if median_steal >= 5.0 {
                ": the figures are unreliable, repeat on a quieter host"
            } else {
                ""
            }
        );
    }
    let loads: Vec<&Spec> = specs
        .iter()
        .filter(|s| matches!(s.task, Task::Load(_)) && runs.iter().any(|r| r.workload == s.name))
        .collect();
    if !loads.is_empty() {
        md.push_str(
            "| workload | ops/s ours | ops/s Apache | throughput | p50 | p99 | CPU µs/op ours | CPU µs/op Apache | CPU/op | RSS | errors ours/Apache |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for s in loads {
            let m = |side, p| metric(runs, s.name, side, p);
            let errors = |side| {
                runs.iter()
                    .filter(|r| r.workload == s.name && r.side == side)
                    .filter_map(|r| r.json["errors"].as_u64())
                    .sum::<u64>()
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} |",
                s.name,
                fmt_num(m(Side::Ours, "/ops_per_sec")),
                fmt_num(m(Side::Apache, "/ops_per_sec")),
                fmt_ratio(ratio_of(runs, s.name, "/ops_per_sec")),
                fmt_ratio(ratio_of(runs, s.name, "/lat_us/p50")),
                fmt_ratio(ratio_of(runs, s.name, "/lat_us/p99")),
                fmt_num(m(Side::Ours, "/server_cpu_us_per_op")),
                fmt_num(m(Side::Apache, "/server_cpu_us_per_op")),
                fmt_ratio(ratio_of(runs, s.name, "/server_cpu_us_per_op")),
                fmt_ratio(ratio_of(runs, s.name, "/server_rss_kb")),
                errors(Side::Ours),
                errors(Side::Apache),
            );
        }
        md.push('\n');
    }
    if runs.iter().any(|r| r.workload.starts_with("watch-")) {
        md.push_str(
            "Watch workloads count one operation per event delivered; their latency is the time \
             from the setData until the last watcher has its event.\n\n",
        );
    }
    let pops: Vec<(&Spec, u64)> = specs
        .iter()
        .filter_map(|s| match s.task {
            Task::Populate(n) if runs.iter().any(|r| r.workload == s.name) => Some((s, n)),
            _ => None,
        })
        .collect();
    if !pops.is_empty() {
        md.push_str(
            "| znodes | creates/s ours | creates/s Apache | ratio | RSS MiB ours | RSS MiB Apache | RSS | snapshot MiB ours | snapshot MiB Apache | snapshot | cold start ms ours | cold start ms Apache | cold start |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for (s, n) in pops {
            let m = |side, p| metric(runs, s.name, side, p);
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                fmt_num(Some(n as f64)),
                fmt_num(m(Side::Ours, "/ops_per_sec")),
                fmt_num(m(Side::Apache, "/ops_per_sec")),
                fmt_ratio(ratio_of(runs, s.name, "/ops_per_sec")),
                fmt_num(mib(m(Side::Ours, "/rss_loaded_kb"))),
                fmt_num(mib(m(Side::Apache, "/rss_loaded_kb"))),
                fmt_ratio(ratio_of(runs, s.name, "/rss_loaded_kb")),
                fmt_num(m(Side::Ours, "/snapshot_bytes").map(|b| b / 1048576.0)),
                fmt_num(m(Side::Apache, "/snapshot_bytes").map(|b| b / 1048576.0)),
                fmt_ratio(ratio_of(runs, s.name, "/snapshot_bytes")),
                fmt_num(m(Side::Ours, "/cold_start_ms")),
                fmt_num(m(Side::Apache, "/cold_start_ms")),
                fmt_ratio(ratio_of(runs, s.name, "/cold_start_ms")),
            );
        }
        md.push_str(
            "\nRSS after the populate (server idle 2 s later); snapshot: the one written at start-up \
             after the restart; cold start: from launching the process until a new session reads \
             the last znode created.\n\n",
        );
    }
    if runs.iter().any(|r| r.workload == "failover") {
        let recovered = |side| {
            let all: Vec<&Run> = runs
                .iter()
                .filter(|r| r.workload == "failover" && r.side == side)
                .collect();
            let ok = all.iter().filter(|r| r.json["recovered"] == true).count();
            format!("{ok}/{}", all.len())
        };
        let m = |side| metric(runs, "failover", side, "/failover_ms");
        // Median of the recovered runs; with none, the time watched after the kill as a bound.
        let shown = |side| match m(side) {
            Some(v) => fmt_num(Some(v)),
            None => {
                let watched = runs
                    .iter()
                    .filter(|r| r.workload == "failover" && r.side == side)
                    .filter_map(|r| r.json["observed_after_kill_ms"].as_f64())
                    .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))));
                match watched {
                    Some(w) => format!("> {} (none recovered)", fmt_num(Some(w))),
                    None => "–".into(),
                }
            }
        };
        md.push_str(
            "| leader kill -9 under load | ms ours | ms Apache | ratio | recovered ours | recovered Apache |\n\
             |---|---:|---:|---:|---:|---:|\n",
        );
        let _ = writeln!(
            md,
            "| first write issued after the kill | {} | {} | {} | {} | {} |\n",
            shown(Side::Ours),
            shown(Side::Apache),
            fmt_ratio(ratio(m(Side::Ours), m(Side::Apache))),
            recovered(Side::Ours),
            recovered(Side::Apache),
        );
        md.push_str(
            "Failover ms: median over the recovered runs of the time from the kill until the first \
             write issued after it succeeded; a run that did not recover within the window is \
             counted in the recovered column only.\n\n",
        );
    }
    let targets = targets(specs, runs);
    if !targets.is_empty() {
        md.push_str("Targets of issue 13 measured here:\n\n| target | ours/Apache | goal | met |\n|---|---:|---:|---|\n");
        for t in &targets {
            let _ = writeln!(
                md,
                "| {} | {} | {} {} | {} |",
                t.what,
                fmt_ratio(t.value),
                if t.at_least { "≥" } else { "≤" },
                t.bound,
                match t.met() {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "–",
                }
            );
        }
        md.push('\n');
    }
    md.push_str(
        "Charts: `throughput.svg` (throughput vs clients), `latency.svg` (latency percentiles), \
         `rss.svg` (server RSS vs znode count while populating); every run in `results.jsonl`.\n",
    );
    md
}

// ------------------------------------------------------------------------------------ charts

const OURS_COLOR: &str = "#d1495b";
const APACHE_COLOR: &str = "#00798c";

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) color: &'static str,
    pub(crate) dashed: bool,
    pub(crate) points: Vec<(f64, f64)>,
}

/// A line chart.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chart {
    pub(crate) title: String,
    pub(crate) x_label: String,
    pub(crate) y_label: String,
    pub(crate) log_x: bool,
    pub(crate) log_y: bool,
    /// Tick positions and labels of the x axis; empty: chosen from the data.
    pub(crate) x_ticks: Vec<(f64, String)>,
    pub(crate) series: Vec<Series>,
}

fn side_color(side: Side) -> &'static str {
    match side {
        Side::Ours => OURS_COLOR,
        Side::Apache => APACHE_COLOR,
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Ours => "ours",
        Side::Apache => "Apache",
    }
}

/// The report's charts: (file name, chart).
pub(crate) fn charts(specs: &[Spec], runs: &[Run], rounds: usize) -> Vec<(&'static str, Chart)> {
    let mut out = Vec::new();
    // Throughput vs clients.
    let mut groups: Vec<&str> = Vec::new();
    for s in specs {
        if let Some((g, _)) = s.series {
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
    }
    let mut series = Vec::new();
    let mut ticks: Vec<u32> = Vec::new();
    for (gi, group) in groups.iter().enumerate() {
        for side in [Side::Ours, Side::Apache] {
            let points: Vec<(f64, f64)> = specs
                .iter()
                .filter_map(|s| match s.series {
                    Some((g, clients)) if g == *group => {
                        metric(runs, s.name, side, "/ops_per_sec").map(|v| (f64::from(clients), v))
                    }
                    _ => None,
                })
                .collect();
            for (x, _) in &points {
                if !ticks.contains(&(*x as u32)) {
                    ticks.push(*x as u32);
                }
            }
            if !points.is_empty() {
                series.push(Series {
                    name: format!("{} {group}", side_name(side)),
                    color: side_color(side),
                    dashed: gi % 2 == 1,
                    points,
                });
            }
        }
    }
    ticks.sort_unstable();
    out.push((
        "throughput.svg",
        Chart {
            title: format!("Throughput vs clients (median of {rounds} rounds)"),
            x_label: "clients (sessions, one request in flight each)".into(),
            y_label: "operations/s".into(),
            log_x: true,
            log_y: false,
            x_ticks: ticks
                .iter()
                .map(|&t| (f64::from(t), t.to_string()))
                .collect(),
            series,
        },
    ));
    // Latency percentiles of the 64-client workloads (or the first two measured).
    let measured: Vec<&Spec> = specs
        .iter()
        .filter(|s| matches!(s.task, Task::Load(_)) && runs.iter().any(|r| r.workload == s.name))
        .collect();
    let preferred: Vec<&Spec> = measured
        .iter()
        .copied()
        .filter(|s| s.name.ends_with("-64"))
        .collect();
    let chosen = if preferred.is_empty() {
        measured.into_iter().take(2).collect()
    } else {
        preferred
    };
    let percentiles = [
        ("p50", "/lat_us/p50"),
        ("p90", "/lat_us/p90"),
        ("p99", "/lat_us/p99"),
        ("p99.9", "/lat_us/p999"),
    ];
    let mut series = Vec::new();
    for (i, s) in chosen.iter().enumerate() {
        for side in [Side::Ours, Side::Apache] {
            let points: Vec<(f64, f64)> = percentiles
                .iter()
                .enumerate()
                .filter_map(|(k, (_, p))| metric(runs, s.name, side, p).map(|v| (k as f64, v)))
                .collect();
            if !points.is_empty() {
                series.push(Series {
                    name: format!("{} {}", side_name(side), s.name),
                    color: side_color(side),
                    dashed: i % 2 == 1,
                    points,
                });
            }
        }
    }
    out.push((
        "latency.svg",
        Chart {
            title: format!("Latency percentiles (median of {rounds} rounds)"),
            x_label: "percentile".into(),
            y_label: "latency µs (log)".into(),
            log_x: false,
            log_y: true,
            x_ticks: percentiles
                .iter()
                .enumerate()
                .map(|(k, (label, _))| (k as f64, (*label).to_owned()))
                .collect(),
            series,
        },
    ));
    // RSS vs znode count: the curve of the largest populate, first round.
    let mut series = Vec::new();
    for side in [Side::Ours, Side::Apache] {
        let best = runs
            .iter()
            .filter(|r| r.side == side && r.json["rss_curve"].is_array())
            .max_by_key(|r| {
                (
                    r.json["count"].as_u64().unwrap_or(0),
                    std::cmp::Reverse(r.round),
                )
            });
        if let Some(run) = best {
            let points: Vec<(f64, f64)> = run.json["rss_curve"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| Some((p[0].as_f64()?, p[1].as_f64()? / 1024.0)))
                .collect();
            if !points.is_empty() {
                series.push(Series {
                    name: side_name(side).to_owned(),
                    color: side_color(side),
                    dashed: false,
                    points,
                });
            }
        }
    }
    out.push((
        "rss.svg",
        Chart {
            title: "Server RSS vs znodes (100-byte znodes, while populating)".into(),
            x_label: "znodes".into(),
            y_label: "RSS MiB".into(),
            log_x: false,
            log_y: false,
            x_ticks: Vec::new(),
            series,
        },
    ));
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A 1-2-5 step for about five intervals over `span`.
fn nice_step(span: f64) -> f64 {
    let raw = (span / 5.0).max(f64::MIN_POSITIVE);
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    p * if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    }
}

/// One axis: the data range mapped onto pixels.
struct Axis {
    log: bool,
    lo: f64,
    hi: f64,
    from_px: f64,
    to_px: f64,
}

impl Axis {
    fn new(values: &[f64], log: bool, zero_based: bool, from_px: f64, to_px: f64) -> Axis {
        let t = |v: f64| if log { v.log10() } else { v };
        let mut lo = values.iter().copied().map(t).fold(f64::INFINITY, f64::min);
        let mut hi = values
            .iter()
            .copied()
            .map(t)
            .fold(f64::NEG_INFINITY, f64::max);
        if !lo.is_finite() || !hi.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        if log {
            lo = lo.floor();
            hi = hi.ceil();
        } else if zero_based {
            lo = lo.min(0.0);
            hi = (hi / nice_step(hi - lo)).ceil() * nice_step(hi - lo);
        }
        if hi <= lo {
            hi = lo + 1.0;
        }
        Axis {
            log,
            lo,
            hi,
            from_px,
            to_px,
        }
    }

    fn px(&self, v: f64) -> f64 {
        let t = if self.log { v.log10() } else { v };
        self.from_px + (t - self.lo) / (self.hi - self.lo) * (self.to_px - self.from_px)
    }

    fn ticks(&self) -> Vec<(f64, String)> {
        if self.log {
            (self.lo as i32..=self.hi as i32)
                .map(|e| {
                    let v = 10f64.powi(e);
                    (v, fmt_num(Some(v)))
                })
                .collect()
        } else {
            let step = nice_step(self.hi - self.lo);
            let mut v = (self.lo / step).ceil() * step;
            let mut out = Vec::new();
            while v <= self.hi + step * 1e-9 {
                out.push((v, fmt_num(Some(v))));
                v += step;
            }
            out
        }
    }
}

/// The chart as a standalone SVG document.
pub(crate) fn svg(chart: &Chart) -> String {
    let (w, h) = (820.0, 460.0);
    let (left, right, top, bottom) = (80.0, 620.0, 50.0, 390.0);
    let usable = |v: f64, log: bool| v.is_finite() && (!log || v > 0.0);
    let points: Vec<(f64, f64)> = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|&(x, y)| usable(x, chart.log_x) && usable(y, chart.log_y))
        .collect();
    let mut xs: Vec<f64> = points.iter().map(|p| p.0).collect();
    xs.extend(
        chart
            .x_ticks
            .iter()
            .map(|t| t.0)
            .filter(|&x| usable(x, chart.log_x)),
    );
    let ys: Vec<f64> = points.iter().map(|p| p.1).collect();
    let x_axis = Axis::new(&xs, chart.log_x, false, left, right);
    let y_axis = Axis::new(&ys, chart.log_y, true, bottom, top);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect x="0" y="0" width="{w}" height="{h}" fill="white"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="28" font-size="16" text-anchor="middle">{}</text>"#,
        (left + right) / 2.0,
        escape(&chart.title)
    );
    // Grid and ticks.
    for (v, label) in y_axis.ticks() {
        let y = y_axis.px(v);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="#e0e0e0"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            left - 6.0,
            y + 4.0,
            escape(&label)
        );
    }
    let x_ticks = if chart.x_ticks.is_empty() {
        x_axis.ticks()
    } else {
        chart.x_ticks.clone()
    };
    for (v, label) in x_ticks.iter().filter(|t| usable(t.0, chart.log_x)) {
        let x = x_axis.px(*v);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke="#f0f0f0"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            bottom + 18.0,
            escape(label)
        );
    }
    let _ = writeln!(
        s,
        r#"<rect x="{left}" y="{top}" width="{}" height="{}" fill="none" stroke="black"/>"#,
        right - left,
        bottom - top
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        (left + right) / 2.0,
        bottom + 42.0,
        escape(&chart.x_label)
    );
    let _ = writeln!(
        s,
        r#"<text x="20" y="{}" text-anchor="middle" transform="rotate(-90 20 {})">{}</text>"#,
        (top + bottom) / 2.0,
        (top + bottom) / 2.0,
        escape(&chart.y_label)
    );
    if points.is_empty() {
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#888">no data in this run</text>"##,
            (left + right) / 2.0,
            (top + bottom) / 2.0
        );
    }
    // Lines, markers, legend.
    for (i, series) in chart.series.iter().enumerate() {
        let pts: Vec<String> = series
            .points
            .iter()
            .filter(|&&(x, y)| usable(x, chart.log_x) && usable(y, chart.log_y))
            .map(|&(x, y)| format!("{:.1},{:.1}", x_axis.px(x), y_axis.px(y)))
            .collect();
        let dash = if series.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{dash}/>"#,
            pts.join(" "),
            series.color
        );
        for p in &pts {
            let (x, y) = p.split_once(',').expect("x,y");
            let _ = writeln!(
                s,
                r#"<circle cx="{x}" cy="{y}" r="3" fill="{}"/>"#,
                series.color
            );
        }
        let ly = top + 10.0 + 20.0 * i as f64;
        let _ = writeln!(
            s,
            r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{}" stroke-width="2"{dash}/><text x="{}" y="{}">{}</text>"#,
            right + 15.0,
            right + 45.0,
            series.color,
            right + 52.0,
            ly + 4.0,
            escape(&series.name)
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    fn run(workload: &str, side: Side, round: usize, json: Value) -> Run {
        Run {
            workload: workload.into(),
            side,
            round,
            json,
        }
    }

    #[test]
    fn compare_options() {
        let o = parse_compare(&[]).unwrap();
        assert_eq!(
            o,
            CompareOptions {
                servers: 1,
                quick: false,
                workloads: None,
                rounds: None
            }
        );
        let o = parse_compare(&args(
            "--servers 3 --quick --workloads=failover,ens-write-8 --rounds 5",
        ))
        .unwrap();
        assert_eq!(o.servers, 3);
        assert!(o.quick);
        assert_eq!(o.workloads.as_deref().unwrap(), ["failover", "ens-write-8"]);
        assert_eq!(o.rounds, Some(5));
        let err = |line: &str| parse_compare(&args(line)).unwrap_err().to_string();
        assert_eq!(err("--servers 2"), "--servers 2: expected 1 or 3");
        assert_eq!(err("--rounds 0"), "--rounds must be at least 1");
        assert_eq!(err("--rounds"), "--rounds needs a value");
        assert!(err("--fast").starts_with("unknown option '--fast'"));
    }

    #[test]
    fn workload_selection() {
        let quick = CompareOptions {
            servers: 1,
            quick: true,
            workloads: None,
            rounds: None,
        };
        let names: Vec<&str> = select(&quick).unwrap().iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "read-8",
                "read-64",
                "write-8",
                "write-64",
                "pipe-read",
                "populate-1m"
            ]
        );
        let full = CompareOptions {
            quick: false,
            ..quick.clone()
        };
        assert_eq!(select(&full).unwrap().len(), 17);
        let ensemble = CompareOptions {
            servers: 3,
            ..quick.clone()
        };
        let names: Vec<&str> = select(&ensemble).unwrap().iter().map(|s| s.name).collect();
        assert_eq!(names, ["ens-write-64", "failover"]);
        let chosen = CompareOptions {
            workloads: Some(vec!["watch-100".into(), "read-1".into()]),
            ..full.clone()
        };
        let names: Vec<&str> = select(&chosen).unwrap().iter().map(|s| s.name).collect();
        assert_eq!(names, ["read-1", "watch-100"], "catalog order");
        let wrong = CompareOptions {
            workloads: Some(vec!["failover".into()]),
            ..full
        };
        let err = select(&wrong).unwrap_err().to_string();
        assert!(
            err.starts_with("unknown workload 'failover' for --servers 1"),
            "{err}"
        );
        assert_eq!(plan(&quick).rounds, 2);
        assert_eq!(
            plan(&CompareOptions {
                rounds: Some(7),
                ..quick
            })
            .rounds,
            7
        );
    }

    #[test]
    fn every_load_spec_parses_as_loadgen_arguments() {
        for spec in catalog() {
            if let Task::Load(args) = spec.task {
                let workload = args.split_whitespace().next().unwrap();
                assert!(
                    ["read", "write", "mixed", "pipeline", "multi", "watch"].contains(&workload),
                    "{}",
                    spec.name
                );
            }
        }
    }

    #[test]
    fn rounds_alternate_the_first_side() {
        assert_eq!(order(0), [Side::Apache, Side::Ours]);
        assert_eq!(order(1), [Side::Ours, Side::Apache]);
        assert_eq!(order(2), order(0));
    }

    #[test]
    fn standalone_and_ensemble_configs() {
        let me = Member {
            id: 0,
            client_port: 2181,
            quorum_port: 2888,
            election_port: 3888,
        };
        let cfg = zoo_cfg(Path::new("/d/data"), &me, &[]);
        assert_eq!(
            cfg,
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/d/data\nclientPort=2181\n\
             clientPortAddress=127.0.0.1\nmaxClientCnxns=0\n4lw.commands.whitelist=*\n\
             admin.enableServer=false\n"
        );
        // fsync stays on and preallocation at its default: neither key is written.
        assert!(!cfg.contains("forceSync") && !cfg.contains("preAllocSize"));
        let ms: Vec<Member> = (1..=3)
            .map(|id| Member {
                id,
                client_port: 2180 + id as u16,
                quorum_port: 2880 + id as u16,
                election_port: 3880 + id as u16,
            })
            .collect();
        let cfg = zoo_cfg(Path::new("/e"), &ms[1], &ms);
        assert!(cfg.contains("clientPort=2182\n"));
        assert!(cfg.ends_with(
            "server.1=127.0.0.1:2881:3881\nserver.2=127.0.0.1:2882:3882\nserver.3=127.0.0.1:2883:3883\n"
        ));
    }

    #[test]
    fn free_ports_are_distinct_and_bindable() {
        let ports = free_ports(9).unwrap();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 9);
        assert!(ports.iter().all(|&p| (20_000..32_000).contains(&p)));
    }

    #[test]
    fn medians_of_alternating_rounds() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0]), Some(3.0));
        assert_eq!(median(vec![5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(vec![f64::NAN, 2.0]), Some(2.0));
        let runs = vec![
            run("read-64", Side::Apache, 0, json!({"ops_per_sec": 100.0})),
            run("read-64", Side::Ours, 0, json!({"ops_per_sec": 290.0})),
            run("read-64", Side::Ours, 1, json!({"ops_per_sec": 310.0})),
            run("read-64", Side::Apache, 1, json!({"ops_per_sec": 90.0})),
            run("read-64", Side::Apache, 2, json!({"ops_per_sec": 1000.0})),
            run("read-64", Side::Ours, 2, json!({"ops_per_sec": 300.0})),
            run("write-64", Side::Ours, 0, json!({"ops_per_sec": 1.0})),
        ];
        // A single outlying round does not move the median.
        assert_eq!(
            metric(&runs, "read-64", Side::Apache, "/ops_per_sec"),
            Some(100.0)
        );
        assert_eq!(
            metric(&runs, "read-64", Side::Ours, "/ops_per_sec"),
            Some(300.0)
        );
        assert_eq!(ratio_of(&runs, "read-64", "/ops_per_sec"), Some(3.0));
        assert_eq!(ratio_of(&runs, "write-64", "/ops_per_sec"), None);
        assert_eq!(ratio(Some(1.0), Some(0.0)), None);
    }

    #[test]
    fn number_formats() {
        assert_eq!(fmt_num(Some(1_234_567.0)), "1.23M");
        assert_eq!(fmt_num(Some(45_678.0)), "45.7k");
        assert_eq!(fmt_num(Some(2_000_000.0)), "2M");
        assert_eq!(fmt_num(Some(512.4)), "512");
        assert_eq!(fmt_num(Some(12.34)), "12.3");
        assert_eq!(fmt_num(Some(3.0)), "3");
        assert_eq!(fmt_num(None), "–");
        assert_eq!(fmt_ratio(Some(2.4567)), "2.46×");
        assert_eq!(fmt_ratio(Some(12.0)), "12.0×");
        assert_eq!(fmt_ratio(None), "–");
    }

    fn sample_runs() -> Vec<Run> {
        let load = |ops: f64, p50: u64, p99: u64, cpu: f64, rss: u64| {
            json!({"ops_per_sec": ops, "errors": 0, "other_cpu_pct": 10.0, "steal_pct": 0.5,
                   "lat_us": {"p50": p50, "p90": p50 * 2, "p99": p99, "p999": p99 * 2},
                   "server_cpu_us_per_op": cpu, "server_rss_kb": rss})
        };
        let mut runs = Vec::new();
        for round in 0..2 {
            runs.push(run(
                "read-8",
                Side::Apache,
                round,
                load(10_000.0, 500, 2_000, 80.0, 200_000),
            ));
            runs.push(run(
                "read-8",
                Side::Ours,
                round,
                load(40_000.0, 150, 600, 10.0, 8_000),
            ));
            runs.push(run(
                "read-64",
                Side::Apache,
                round,
                load(20_000.0, 3_000, 9_000, 60.0, 220_000),
            ));
            runs.push(run(
                "read-64",
                Side::Ours,
                round,
                load(50_000.0, 1_000, 4_000, 12.0, 9_000),
            ));
        }
        let pop = |ops: f64, rss: u64, cold: u64, snap: u64| {
            json!({"ops_per_sec": ops, "count": 1_000_000, "rss_loaded_kb": rss,
                   "cold_start_ms": cold, "snapshot_bytes": snap,
                   "rss_curve": [[0, rss / 10], [500_000, rss / 2], [1_000_000, rss]]})
        };
        runs.push(run(
            "populate-1m",
            Side::Apache,
            0,
            pop(20_000.0, 1_000_000, 8_000, 150_000_000),
        ));
        runs.push(run(
            "populate-1m",
            Side::Ours,
            0,
            pop(60_000.0, 150_000, 900, 120_000_000),
        ));
        runs
    }

    fn standalone_specs() -> Vec<Spec> {
        select(&CompareOptions {
            servers: 1,
            quick: true,
            workloads: None,
            rounds: None,
        })
        .unwrap()
    }

    fn meta() -> Meta {
        Meta {
            mode: "standalone".into(),
            rounds: 2,
            plan: plan(&CompareOptions {
                servers: 1,
                quick: true,
                workloads: None,
                rounds: None,
            }),
            quick: true,
            commit: "abc123".into(),
            cpus: 2,
            load_before: "1.0 1.0 1.0".into(),
            load_after: "2.0 2.0 2.0".into(),
            minutes: 3.5,
            server: "target/release/zk-server".into(),
        }
    }

    #[test]
    fn the_ratio_table() {
        let md = render_markdown(&standalone_specs(), &sample_runs(), &meta());
        assert!(
            md.contains("`cargo xtask bench compare --quick`, commit abc123, our server `target/release/zk-server`, 2 CPUs"),
            "{md}"
        );
        assert!(
            md.contains(
                "| read-8 | 40k | 10k | 4.00× | 0.30× | 0.30× | 10 | 80 | 0.12× | 0.04× | 0/0 |"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "| read-64 | 50k | 20k | 2.50× | 0.33× | 0.44× | 12 | 60 | 0.20× | 0.04× | 0/0 |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| 1M | 60k | 20k | 3.00× | 146 | 977 | 0.15× | 114 | 143 | 0.80× | 900 | 8000 | 0.11× |"),
            "{md}"
        );
        // Workloads that did not run have no row.
        assert!(!md.contains("| write-64 |"));
        assert!(md.contains("median 10% of one core"));
        assert!(
            md.contains(
                "The host took a median 0.5% of the CPU time (steal), 0.5% at most in one run.\n"
            ),
            "{md}"
        );
        assert!(
            md.contains("| read throughput, 64 clients | 2.50× | ≥ 3 | no |"),
            "{md}"
        );
        assert!(
            md.contains("| p99 latency, reads at 64 clients | 0.44× | ≤ 0.5 | yes |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| server CPU per request, worst workload (read-64) | 0.20× | ≤ 0.25 | yes |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| RSS at 1,000,000 znodes | 0.15× | ≤ 0.2 | yes |"),
            "{md}"
        );
        assert!(!md.contains("failover"));
    }

    #[test]
    fn failover_rows_count_recoveries() {
        let specs = select(&CompareOptions {
            servers: 3,
            quick: true,
            workloads: None,
            rounds: None,
        })
        .unwrap();
        let runs = vec![
            run(
                "failover",
                Side::Apache,
                0,
                json!({"failover_ms": 4000.0, "recovered": true}),
            ),
            run(
                "failover",
                Side::Apache,
                1,
                json!({"failover_ms": null, "recovered": false}),
            ),
            run(
                "failover",
                Side::Ours,
                0,
                json!({"failover_ms": 900.0, "recovered": true}),
            ),
            run(
                "failover",
                Side::Ours,
                1,
                json!({"failover_ms": 1100.0, "recovered": true}),
            ),
        ];
        let md = render_markdown(
            &specs,
            &runs,
            &Meta {
                mode: "ensemble".into(),
                ..meta()
            },
        );
        assert!(md.contains("--servers 3 --quick"));
        assert!(
            md.contains("| first write issued after the kill | 1000 | 4000 | 0.25× | 2/2 | 1/2 |"),
            "{md}"
        );
        assert!(md.contains("| leader failover to first write | 0.25× | ≤ 0.5 | yes |"));
        let stuck = vec![
            run(
                "failover",
                Side::Apache,
                0,
                json!({"failover_ms": null, "recovered": false, "observed_after_kill_ms": 12000}),
            ),
            run(
                "failover",
                Side::Ours,
                0,
                json!({"failover_ms": 900.0, "recovered": true}),
            ),
        ];
        let md = render_markdown(&specs, &stuck, &meta());
        assert!(
            md.contains("| first write issued after the kill | 900 | > 12k (none recovered) | – | 1/1 | 0/1 |"),
            "{md}"
        );
    }

    /// A small XML well-formedness check: balanced tags, quoted attributes, escaped text, one
    /// root element.
    fn well_formed(xml: &str) -> Result<(), String> {
        let mut stack: Vec<String> = Vec::new();
        let mut roots = 0;
        let mut rest = xml.trim();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('<') {
                let end = after.find('>').ok_or("unclosed tag")?;
                let tag = &after[..end];
                rest = &after[end + 1..];
                if let Some(name) = tag.strip_prefix('/') {
                    let open = stack.pop().ok_or(format!("stray </{name}>"))?;
                    if open != name.trim() {
                        return Err(format!("<{open}> closed by </{name}>"));
                    }
                    continue;
                }
                let self_closing = tag.ends_with('/');
                let body = tag.trim_end_matches('/');
                let name = body.split_whitespace().next().ok_or("empty tag")?;
                if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == ':') {
                    return Err(format!("bad tag name {name}"));
                }
                // Attributes: name="value" pairs with no '<' inside values.
                let mut attrs = body[name.len()..].trim();
                while !attrs.is_empty() {
                    let eq = attrs
                        .find("=\"")
                        .ok_or(format!("unquoted attribute in <{tag}>"))?;
                    let key = attrs[..eq].trim();
                    if key.is_empty() || key.contains(char::is_whitespace) {
                        return Err(format!("bad attribute in <{tag}>"));
                    }
                    let value_end = attrs[eq + 2..].find('"').ok_or("unterminated value")?;
                    let value = &attrs[eq + 2..eq + 2 + value_end];
                    if value.contains('<') {
                        return Err(format!("'<' in an attribute of <{tag}>"));
                    }
                    attrs = attrs[eq + 2 + value_end + 1..].trim_start();
                }
                if stack.is_empty() {
                    roots += 1;
                }
                if !self_closing {
                    stack.push(name.to_owned());
                }
            } else {
                let end = rest.find('<').unwrap_or(rest.len());
                let text = &rest[..end];
                if !stack.is_empty() || !text.trim().is_empty() {
                    if stack.is_empty() {
                        return Err("text outside the root".into());
                    }
                    let mut t = text;
                    while let Some(i) = t.find('&') {
                        let entity = &t[i..];
                        if !["&amp;", "&lt;", "&gt;", "&quot;"]
                            .iter()
                            .any(|e| entity.starts_with(e))
                        {
                            return Err(format!("unescaped & in {text:?}"));
                        }
                        t = &t[i + 1..];
                    }
                }
                rest = &rest[end..];
            }
        }
        if !stack.is_empty() {
            return Err(format!("unclosed <{}>", stack.join("> <")));
        }
        if roots != 1 {
            return Err(format!("{roots} root elements"));
        }
        Ok(())
    }

    #[test]
    fn the_well_formedness_check_catches_mistakes() {
        assert!(well_formed("<svg><g/><text x=\"1\">a &amp; b</text></svg>").is_ok());
        assert!(well_formed("<svg><text>a & b</text></svg>").is_err());
        assert!(well_formed("<svg><g></svg>").is_err());
        assert!(well_formed("<svg x=1></svg>").is_err());
        assert!(well_formed("<svg/><svg/>").is_err());
    }

    #[test]
    fn charts_are_well_formed_svg() {
        let charts = charts(&standalone_specs(), &sample_runs(), 2);
        let names: Vec<&str> = charts.iter().map(|c| c.0).collect();
        assert_eq!(names, ["throughput.svg", "latency.svg", "rss.svg"]);
        for (name, chart) in &charts {
            let doc = svg(chart);
            well_formed(&doc).unwrap_or_else(|e| panic!("{name}: {e}\n{doc}"));
            assert!(doc.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        }
        let throughput = &charts[0].1;
        assert_eq!(throughput.series.len(), 2, "getData ours and Apache");
        assert_eq!(
            throughput.series[0].points,
            [(8.0, 40_000.0), (64.0, 50_000.0)]
        );
        assert_eq!(throughput.x_ticks.len(), 2);
        let latency = &charts[1].1;
        assert_eq!(latency.series[0].name, "ours read-64");
        assert_eq!(latency.series[0].points[3], (3.0, 8_000.0));
        let rss = &charts[2].1;
        assert_eq!(
            rss.series[1].points.last(),
            Some(&(1_000_000.0, 1_000_000.0 / 1024.0))
        );
        let doc = svg(throughput);
        assert_eq!(doc.matches("<polyline").count(), 2);
        assert!(doc.contains("ours getData") && doc.contains("Apache getData"));
        // Escaping, and a chart without data.
        let empty = Chart {
            title: "a < b & c".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            log_x: true,
            log_y: true,
            x_ticks: Vec::new(),
            series: vec![Series {
                name: "\"odd\" <name>".into(),
                color: OURS_COLOR,
                dashed: true,
                points: vec![(0.0, -1.0)],
            }],
        };
        let doc = svg(&empty);
        well_formed(&doc).unwrap();
        assert!(doc.contains("a &lt; b &amp; c") && doc.contains("no data in this run"));
    }

    #[test]
    fn axes_map_and_tick() {
        let a = Axis::new(&[1.0, 256.0], true, false, 0.0, 100.0);
        assert_eq!((a.lo, a.hi), (0.0, 3.0));
        assert!((a.px(10.0) - 100.0 / 3.0).abs() < 1e-9);
        let ticks: Vec<String> = a.ticks().into_iter().map(|t| t.1).collect();
        assert_eq!(ticks, ["1", "10", "100", "1000"]);
        let b = Axis::new(&[3.0, 47.0], false, true, 100.0, 0.0);
        assert_eq!((b.lo, b.hi), (0.0, 50.0));
        assert_eq!(b.px(0.0), 100.0);
        assert_eq!(b.px(50.0), 0.0);
        let ticks: Vec<String> = b.ticks().into_iter().map(|t| t.1).collect();
        assert_eq!(ticks, ["0", "10", "20", "30", "40", "50"]);
    }

    #[test]
    fn snapshot_listing_and_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let v2 = dir.path().join("version-2");
        fs::create_dir_all(&v2).unwrap();
        fs::write(v2.join("snapshot.10"), [0u8; 10]).unwrap();
        fs::write(v2.join("snapshot.f"), [0u8; 5]).unwrap();
        fs::write(v2.join("log.1"), [0u8; 100]).unwrap();
        let snaps = snapshots(dir.path());
        assert_eq!(
            snaps.iter().map(|s| (s.0, s.2)).collect::<Vec<_>>(),
            [(15, 5), (16, 10)]
        );
        assert_eq!(dir_bytes(dir.path()), 115);
        assert_eq!(settled_snapshot(dir.path(), Some(16)), (Some(10), true));
    }

    /// By hand: `cargo test -p xtask -- --ignored loadgen_smoke` (builds zk-server and
    /// zk-loadgen in release, runs a short read and write load and a populate against our
    /// server, and checks the JSON).
    #[test]
    #[ignore = "builds release binaries and runs a server; run by hand"]
    fn loadgen_smoke_against_our_server() {
        let bins = build(&crate::workspace_root()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let me = members(1).unwrap()[0];
        let mut server = Server::create(&bins, Side::Ours, &dir.path().join("s"), me, &[]).unwrap();
        wait_ready(&bins, &mut server, 60).unwrap();
        let plan = Plan {
            rounds: 1,
            warmup_s: 0.2,
            duration_s: 1.0,
            server_warmup_s: 0.0,
            failover_duration_s: 0.0,
            kill_after_s: 0.0,
        };
        let pid = server.pid().to_string();
        for load in [
            "read --clients 4",
            "write --clients 4",
            "watch --watchers 10",
            "multi --clients 2",
        ] {
            let args = load_args(load, "/smoke", &server.address(), &pid, &plan);
            let json = loadgen(&bins, &args, "[smoke]").unwrap();
            assert!(json["ops_per_sec"].as_f64().unwrap() > 0.0, "{json}");
            assert_eq!(json["errors"], 0, "{json}");
            assert!(json["lat_us"]["p99"].as_u64().unwrap() > 0, "{json}");
            assert!(
                json["server_cpu_us_per_op"].as_f64().unwrap() > 0.0,
                "{json}"
            );
            assert!(json["server_rss_kb"].as_u64().unwrap() > 0, "{json}");
        }
        let json = loadgen(
            &bins,
            &strings(&[
                "populate",
                "--count",
                "2000",
                "--servers",
                &server.address(),
                "--server-pid",
                &pid,
            ]),
            "[smoke]",
        )
        .unwrap();
        assert_eq!(json["ops"], 2000, "{json}");
        assert_eq!(json["last_readable"], true, "{json}");
        server.stop().unwrap();
    }
}
