//! `cargo xtask cluster`: a local ensemble of real server processes for everyday use.
//!
//! `up` builds `zk-server` (release), writes one folder per server under the cluster directory
//! (`server-N/zoo.cfg`, `server-N/data/myid`, `server-N/server.log`, `server-N/server.pid`, and
//! `cluster.json` describing the layout), starts every server in its own process group, waits until
//! one leads and all answer, and prints the connect string and the roles. `status`, `logs`, `kill`,
//! `restart` and `down` act on that directory. Servers are asked with four-letter words over a plain
//! socket: xtask links no product crate.
//!
//! `failover` measures the time from a leader's kill -9 to the first acknowledged write of the next
//! epoch, over many kills, on a cluster of its own (ours, or Apache's with `--apache`, the same
//! tool for both). Its writers speak the client protocol themselves ([`wire`]: connect, setData,
//! create), for the same reason.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

pub(crate) const USAGE: &str = "usage: cargo xtask cluster <command> [--dir D]

commands:
  up -n N [--observers K] [--base-port P] [--apache]
                build zk-server (release), write the configuration of N voting servers and K
                observers, start them in the background, wait (60 s at most) until one leads and
                all answer, print the connect string and each server's role; --apache runs Apache
                ZooKeeper 3.8 (Debian's package, needs java) instead of ours, for comparisons
  status        per server: id, pid and whether it runs, mode, zxid, connections, sessions
  logs N [--lines L]
                the last L (default 100) lines of server N's log (stdout and stderr)
  kill N        kill -9 server N
  restart N     stop server N (SIGTERM, then SIGKILL after 10 s), start the binary of 'up' again
                (no rebuild), wait until it answers
  down [--wipe] stop every server; --wipe also deletes the cluster directory (data included)
  failover [--kills K] [-n N] [--apache]
                measure failover on a cluster of its own (default directory
                <workspace>/target/cluster-failover, wiped first and at the end; default 20 kills
                of 3 servers): K times, kill -9 the leader while a writer per other server sets a
                node in a loop, and time the first write acknowledged in the next epoch; restart
                the old leader and wait until all serve before the next kill. Prints each kill,
                the median and the max

'up' keeps the data an earlier cluster with the same servers left in D ('down --wipe' to start
empty).

The cluster directory D defaults to <workspace>/target/cluster. Server i (1-based; observers come
after the voters) listens for clients on P+i-1, for quorum traffic on P+100+i-1 and for election on
P+200+i-1, all on 127.0.0.1; P defaults to 2181 (clients 2181.., quorum 2281.., election 2381..).
Every zoo.cfg has tickTime=2000, initLimit=10, syncLimit=5 and 4lw.commands.whitelist=*.";

const MANIFEST: &str = "cluster.json";
const WAIT: Duration = Duration::from_secs(60);
const APACHE_CLASSPATH: &str = "/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:/usr/share/java/slf4j-simple.jar";
const APACHE_MAIN: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

/// One server of the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) id: u32,
    pub(crate) observer: bool,
    pub(crate) client_port: u16,
    pub(crate) quorum_port: u16,
    pub(crate) election_port: u16,
}

/// Which server binary runs the members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Ours,
    Apache,
}

/// The servers of a cluster and their ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) base_port: u16,
    pub(crate) kind: Kind,
    pub(crate) members: Vec<Member>,
    /// Our server binary as built by `up`, which `restart` starts again (no rebuild, so every
    /// member runs the same build).
    pub(crate) binary: Option<PathBuf>,
}

impl Layout {
    pub(crate) fn new(voters: u32, observers: u32, base_port: u16, kind: Kind) -> Result<Layout> {
        if voters == 0 {
            bail!("a cluster needs at least one voting server (-n)");
        }
        let total = voters + observers;
        if total > 100 {
            bail!("at most 100 servers: the port layout leaves 100 ports per kind");
        }
        let port = |offset: u32| -> Result<u16> {
            u16::try_from(u32::from(base_port) + offset).with_context(|| {
                format!("--base-port {base_port} leaves no room for {total} servers below 65536")
            })
        };
        let members = (1..=total)
            .map(|id| {
                Ok(Member {
                    id,
                    observer: id > voters,
                    client_port: port(id - 1)?,
                    quorum_port: port(100 + id - 1)?,
                    election_port: port(200 + id - 1)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Layout {
            base_port,
            kind,
            members,
            binary: None,
        })
    }

    /// A single voter without observers runs standalone: no server lines.
    fn is_ensemble(&self) -> bool {
        self.members.len() > 1
    }

    pub(crate) fn member(&self, id: u32) -> Result<&Member> {
        self.members.iter().find(|m| m.id == id).with_context(|| {
            format!(
                "no server {id}: the cluster has servers 1..={}",
                self.members.len()
            )
        })
    }

    pub(crate) fn server_lines(&self) -> String {
        if !self.is_ensemble() {
            return String::new();
        }
        self.members
            .iter()
            .map(|m| {
                format!(
                    "server.{}=127.0.0.1:{}:{}{}\n",
                    m.id,
                    m.quorum_port,
                    m.election_port,
                    if m.observer { ":observer" } else { "" }
                )
            })
            .collect()
    }

    /// The zoo.cfg of `member`, whose data lives in `data_dir`.
    pub(crate) fn zoo_cfg(&self, member: &Member, data_dir: &Path) -> String {
        let mut cfg = format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={}\n\
             clientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nadmin.enableServer=false\n",
            data_dir.display(),
            member.client_port
        );
        if member.observer {
            cfg.push_str("peerType=observer\n");
        }
        cfg.push_str(&self.server_lines());
        cfg
    }

    pub(crate) fn connect_string(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.client_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn to_json(&self) -> Value {
        json!({
            "base_port": self.base_port,
            "kind": match self.kind { Kind::Ours => "ours", Kind::Apache => "apache" },
            "binary": self.binary.as_ref().map(|b| b.display().to_string()),
            "members": self.members.iter().map(|m| json!({
                "id": m.id,
                "observer": m.observer,
                "client_port": m.client_port,
                "quorum_port": m.quorum_port,
                "election_port": m.election_port,
            })).collect::<Vec<_>>(),
        })
    }

    fn from_json(v: &Value) -> Result<Layout> {
        let num = |v: &Value, key: &str| -> Result<u64> {
            v[key]
                .as_u64()
                .with_context(|| format!("{MANIFEST}: '{key}' is missing or not a number"))
        };
        let port = |v: &Value, key: &str| -> Result<u16> {
            u16::try_from(num(v, key)?).with_context(|| format!("{MANIFEST}: bad port '{key}'"))
        };
        let kind = match v["kind"].as_str() {
            Some("apache") => Kind::Apache,
            _ => Kind::Ours,
        };
        let members = v["members"]
            .as_array()
            .with_context(|| format!("{MANIFEST}: no members"))?
            .iter()
            .map(|m| {
                Ok(Member {
                    id: u32::try_from(num(m, "id")?)?,
                    observer: m["observer"].as_bool().unwrap_or(false),
                    client_port: port(m, "client_port")?,
                    quorum_port: port(m, "quorum_port")?,
                    election_port: port(m, "election_port")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Layout {
            base_port: port(v, "base_port")?,
            kind,
            members,
            binary: v["binary"].as_str().map(PathBuf::from),
        })
    }
}

/// What `srvr` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Srvr {
    /// `leader`, `follower`, `observer`, `standalone`; `None` when not serving.
    pub(crate) mode: Option<String>,
    pub(crate) zxid: Option<u64>,
    /// Connections, the asking one included (as the server counts them).
    pub(crate) connections: Option<u64>,
    pub(crate) node_count: Option<u64>,
}

pub(crate) fn parse_srvr(text: &str) -> Srvr {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    Srvr {
        mode: field("Mode:").map(str::to_owned),
        zxid: field("Zxid:").and_then(|z| {
            u64::from_str_radix(z.trim_start_matches("0x"), 16)
                .ok()
                .or_else(|| z.parse::<i64>().ok().map(|z| z as u64))
        }),
        connections: field("Connections:").and_then(|c| c.parse().ok()),
        node_count: field("Node count:").and_then(|c| c.parse().ok()),
    }
}

/// What `cons` says: client connections (the asking one left out) and those with a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Cons {
    pub(crate) connections: usize,
    pub(crate) sessions: usize,
}

pub(crate) fn parse_cons(text: &str) -> Cons {
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(" /")).collect();
    // The asking connection: not reading ([0]), its word received, nothing sent yet.
    let asker = lines
        .iter()
        .filter(|l| l.ends_with("[0](queued=0,recved=1,sent=0)"))
        .count()
        .min(1);
    Cons {
        connections: lines.len() - asker,
        sessions: lines.iter().filter(|l| l.contains(",sid=0x")).count(),
    }
}

/// Sends a four-letter word to 127.0.0.1:`port` and returns the answer.
pub(crate) fn four_letter(port: u16, word: &str) -> std::io::Result<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(word.as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// The command-line options of a cluster command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    pub(crate) dir: PathBuf,
    pub(crate) voters: Option<u32>,
    pub(crate) observers: u32,
    pub(crate) base_port: u16,
    pub(crate) apache: bool,
    pub(crate) wipe: bool,
    pub(crate) lines: usize,
    /// The server number of logs/kill/restart.
    pub(crate) server: Option<u32>,
    /// How many leaders `failover` kills.
    pub(crate) kills: u32,
    /// Whether `--dir` was given (`failover` has a directory of its own otherwise).
    pub(crate) dir_given: bool,
}

pub(crate) fn parse_options(root: &Path, args: &[String]) -> Result<Options> {
    let mut opts = Options {
        dir: root.join("target").join("cluster"),
        voters: None,
        observers: 0,
        base_port: 2181,
        apache: false,
        wipe: false,
        lines: 100,
        server: None,
        kills: 20,
        dir_given: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .cloned()
                .with_context(|| format!("{flag} takes a value"))
        };
        match arg.as_str() {
            "-n" => {
                let v = value("-n")?;
                opts.voters = Some(
                    v.parse()
                        .with_context(|| format!("-n takes a number: {v}"))?,
                );
            }
            "--observers" => {
                let v = value("--observers")?;
                opts.observers = v
                    .parse()
                    .with_context(|| format!("--observers takes a number: {v}"))?;
            }
            "--base-port" => {
                let v = value("--base-port")?;
                opts.base_port = v
                    .parse()
                    .with_context(|| format!("--base-port takes a port: {v}"))?;
            }
            "--dir" => {
                opts.dir = PathBuf::from(value("--dir")?);
                opts.dir_given = true;
            }
            "--kills" => {
                let v = value("--kills")?;
                opts.kills = v
                    .parse()
                    .ok()
                    .filter(|k| *k > 0)
                    .with_context(|| format!("--kills takes a positive number: {v}"))?;
            }
            "--lines" => {
                let v = value("--lines")?;
                opts.lines = v
                    .parse()
                    .with_context(|| format!("--lines takes a number: {v}"))?;
            }
            "--apache" => opts.apache = true,
            "--wipe" => opts.wipe = true,
            other if opts.server.is_none() && other.parse::<u32>().is_ok() => {
                opts.server = other.parse().ok();
            }
            other => bail!("unexpected argument '{other}'\n\n{USAGE}"),
        }
    }
    if opts.dir.is_relative() {
        opts.dir = std::env::current_dir()?.join(&opts.dir);
    }
    Ok(opts)
}

pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let Some(command) = args.first() else {
        println!("{USAGE}");
        return Ok(());
    };
    if matches!(command.as_str(), "-h" | "--help" | "help") {
        println!("{USAGE}");
        return Ok(());
    }
    let opts = parse_options(root, &args[1..])?;
    let server = || {
        opts.server
            .with_context(|| format!("cluster {command} takes a server number"))
    };
    match command.as_str() {
        "up" => up(root, &opts),
        "status" => status(&opts),
        "logs" => logs(&opts, server()?),
        "kill" => kill(&opts, server()?),
        "restart" => restart(&opts, server()?),
        "down" => down(&opts),
        "failover" => failover(root, &opts),
        other => bail!("unknown cluster command '{other}'\n\n{USAGE}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Files and processes.

fn member_dir(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("server-{id}"))
}

fn load_layout(dir: &Path) -> Result<Layout> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no cluster in {} (no {MANIFEST}): run 'cargo xtask cluster up -n 3' first",
            dir.display()
        )
    })?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Layout::from_json(&value)
}

/// Writes the layout, every zoo.cfg and myid; keeps existing data.
pub(crate) fn write_cluster(dir: &Path, layout: &Layout) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for m in &layout.members {
        let mdir = member_dir(dir, m.id);
        let data = mdir.join("data");
        std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
        std::fs::write(mdir.join("zoo.cfg"), layout.zoo_cfg(m, &data))?;
        std::fs::write(data.join("myid"), format!("{}\n", m.id))?;
    }
    std::fs::write(
        dir.join(MANIFEST),
        serde_json::to_string_pretty(&layout.to_json())? + "\n",
    )?;
    Ok(())
}

fn read_pid(dir: &Path, id: u32) -> Option<u32> {
    std::fs::read_to_string(member_dir(dir, id).join("server.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether `pid` is a live process started for `cfg` (a reused pid is not ours).
fn alive(pid: u32, cfg: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    // An empty command line: the process is between two execs (java's launcher re-executes
    // itself), not someone else's.
    let ours =
        cmdline.is_empty() || String::from_utf8_lossy(&cmdline).contains(&*cfg.to_string_lossy());
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = stat
        .rsplit_once(") ")
        .is_some_and(|(_, rest)| rest.starts_with('Z'));
    ours && !zombie
}

fn running_pid(dir: &Path, id: u32) -> Option<u32> {
    let cfg = member_dir(dir, id).join("zoo.cfg");
    read_pid(dir, id).filter(|pid| alive(*pid, &cfg))
}

fn send_signal(pid: u32, signal: &str) -> Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .context("running kill")?;
    if !status.success() {
        bail!("kill -{signal} {pid} failed");
    }
    Ok(())
}

/// SIGTERM, then SIGKILL if it is still there after 10 s.
fn stop_process(pid: u32, cfg: &Path) -> Result<()> {
    send_signal(pid, "TERM")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid, cfg) {
        if Instant::now() > deadline {
            send_signal(pid, "KILL")?;
            return wait_gone(pid, cfg);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn wait_gone(pid: u32, cfg: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid, cfg) {
        if Instant::now() > deadline {
            bail!("process {pid} is still there 10 s after SIGKILL");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Builds the release server and returns its path.
fn build_server(root: &Path) -> Result<PathBuf> {
    println!("building zk-server (release)...");
    let status = cargo()
        .current_dir(root)
        .args([
            "build",
            "--release",
            "-p",
            "zk-server",
            "--bin",
            "zk-server",
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building zk-server failed");
    }
    let metadata = cargo()
        .current_dir(root)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .output()
        .context("running cargo metadata")?;
    let metadata: Value =
        serde_json::from_slice(&metadata.stdout).context("parsing cargo metadata")?;
    let target = metadata["target_directory"]
        .as_str()
        .context("cargo metadata names no target directory")?;
    let bin = Path::new(target).join("release").join("zk-server");
    if !bin.exists() {
        bail!("{} is missing after the build", bin.display());
    }
    Ok(bin)
}

fn server_binary(root: &Path, kind: Kind) -> Result<Option<PathBuf>> {
    match kind {
        Kind::Ours => build_server(root).map(Some),
        Kind::Apache => {
            let java = Command::new("java").arg("-version").output();
            if !java.is_ok_and(|o| o.status.success()) {
                bail!(
                    "--apache needs java and Debian's zookeeper package: run 'cargo xtask test' \
                     once, or apt-get install -y zookeeper"
                );
            }
            for jar in APACHE_CLASSPATH.split(':') {
                if !Path::new(jar).exists() {
                    bail!("{jar} is missing: apt-get install -y zookeeper");
                }
            }
            Ok(None)
        }
    }
}

/// Starts server `id` in its own process group, output appended to server.log, pid to
/// server.pid.
fn start_member(dir: &Path, id: u32, binary: Option<&Path>) -> Result<u32> {
    let mdir = member_dir(dir, id);
    let cfg = mdir.join("zoo.cfg");
    let log_path = mdir.join("server.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let mut cmd = match binary {
        Some(bin) => {
            let mut cmd = Command::new(bin);
            cmd.arg("start-foreground").arg(&cfg);
            cmd
        }
        None => {
            let mut cmd = Command::new("java");
            cmd.args([
                "-cp",
                APACHE_CLASSPATH,
                "-Dzookeeper.preAllocSize=64",
                APACHE_MAIN,
            ])
            .arg(&cfg);
            cmd
        }
    };
    let child = cmd
        .current_dir(&mdir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: Ctrl-C in this terminal does not reach it.
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting server {id}"))?;
    let pid = child.id();
    std::fs::write(mdir.join("server.pid"), format!("{pid}\n"))?;
    Ok(pid)
}

fn log_tail(dir: &Path, id: u32, lines: usize) -> String {
    let text = std::fs::read_to_string(member_dir(dir, id).join("server.log")).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn is_serving_mode(mode: &str) -> bool {
    matches!(mode, "leader" | "follower" | "observer" | "standalone")
}

/// Polls until every member in `ids` serves; when they are all the members of an ensemble, until
/// one of them leads.
fn wait_serving(dir: &Path, layout: &Layout, ids: &[u32]) -> Result<BTreeMap<u32, String>> {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut modes = BTreeMap::new();
        for &id in ids {
            let m = layout.member(id)?;
            if running_pid(dir, id).is_none() {
                bail!(
                    "server {id} exited; the end of {}:\n{}",
                    member_dir(dir, id).join("server.log").display(),
                    log_tail(dir, id, 30)
                );
            }
            if let Some(mode) = four_letter(m.client_port, "srvr")
                .ok()
                .and_then(|t| parse_srvr(&t).mode)
                .filter(|mode| is_serving_mode(mode))
            {
                modes.insert(id, mode);
            }
        }
        // Bringing up the whole cluster: one of them must lead. A single member serves only
        // once it follows a leader (or leads) anyway.
        let leaders = modes.values().filter(|m| *m == "leader").count();
        let led = !layout.is_ensemble() || ids.len() < layout.members.len() || leaders == 1;
        if modes.len() == ids.len() && led {
            return Ok(modes);
        }
        if Instant::now() > deadline {
            let mut report = String::new();
            for &id in ids {
                let m = layout.member(id)?;
                let said = match four_letter(m.client_port, "srvr") {
                    Ok(t) => parse_srvr(&t)
                        .mode
                        .unwrap_or_else(|| t.lines().next().unwrap_or("").to_owned()),
                    Err(e) => format!("not answering on port {}: {e}", m.client_port),
                };
                report.push_str(&format!("\n  server {id}: {said}"));
            }
            bail!(
                "no ensemble with a leader within {} s:{report}\nsee the logs with \
                 'cargo xtask cluster logs N' (in {})",
                WAIT.as_secs(),
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn check_ports_free(layout: &Layout) -> Result<()> {
    for m in &layout.members {
        for port in [m.client_port, m.quorum_port, m.election_port] {
            if TcpListener::bind(("127.0.0.1", port)).is_err() {
                bail!(
                    "port {port} (server {}) is in use: is a cluster already up? Stop it with \
                     'cargo xtask cluster down', or choose other ports with --base-port",
                    m.id
                );
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Commands.

fn up(root: &Path, opts: &Options) -> Result<()> {
    let voters = opts
        .voters
        .context("cluster up needs the number of voting servers: -n 3 (or 5)")?;
    let kind = if opts.apache {
        Kind::Apache
    } else {
        Kind::Ours
    };
    let mut layout = Layout::new(voters, opts.observers, opts.base_port, kind)?;
    let dir = &opts.dir;
    if let Ok(old) = load_layout(dir) {
        if let Some(m) = old
            .members
            .iter()
            .find(|m| running_pid(dir, m.id).is_some())
        {
            bail!(
                "server {} of the cluster in {} is running: 'cargo xtask cluster down' first",
                m.id,
                dir.display()
            );
        }
        let same_servers = old
            .members
            .iter()
            .map(|m| (m.id, m.observer))
            .eq(layout.members.iter().map(|m| (m.id, m.observer)));
        if !same_servers {
            bail!(
                "{} holds the data of a cluster with other servers: 'cargo xtask cluster down \
                 --wipe' first, or choose another --dir",
                dir.display()
            );
        }
    }
    check_ports_free(&layout)?;
    layout.binary = server_binary(root, kind)?;
    write_cluster(dir, &layout)?;
    for m in &layout.members {
        let pid = start_member(dir, m.id, layout.binary.as_deref())?;
        println!("started server {} (pid {pid})", m.id);
    }
    let ids: Vec<u32> = layout.members.iter().map(|m| m.id).collect();
    let modes = match wait_serving(dir, &layout, &ids) {
        Ok(modes) => modes,
        Err(e) => {
            return Err(e.context(format!(
                "the servers are left running for inspection: 'cargo xtask cluster status', \
                 then 'cargo xtask cluster down' (directory {})",
                dir.display()
            )));
        }
    };
    println!();
    for m in &layout.members {
        println!(
            "server {}: {:<10} client 127.0.0.1:{}  quorum {}  election {}",
            m.id, modes[&m.id], m.client_port, m.quorum_port, m.election_port
        );
    }
    println!("\nconnect string: {}", layout.connect_string());
    println!("cluster directory: {}", dir.display());
    Ok(())
}

fn status(opts: &Options) -> Result<()> {
    let dir = &opts.dir;
    let layout = load_layout(dir)?;
    println!(
        "{:<4} {:<8} {:<8} {:<6} {:<12} {:<14} {:>6} {:>9}  client",
        "id", "type", "pid", "alive", "mode", "zxid", "conns", "sessions"
    );
    for m in &layout.members {
        let pid = read_pid(dir, m.id);
        let running = running_pid(dir, m.id).is_some();
        let srvr = four_letter(m.client_port, "srvr").ok();
        let parsed = srvr.as_deref().map(parse_srvr).unwrap_or_default();
        let mode = match (&parsed.mode, &srvr) {
            (Some(mode), _) => mode.clone(),
            (None, Some(_)) => "not serving".into(),
            (None, None) => "-".into(),
        };
        let cons = four_letter(m.client_port, "cons")
            .ok()
            .filter(|_| parsed.mode.is_some())
            .map(|t| parse_cons(&t));
        println!(
            "{:<4} {:<8} {:<8} {:<6} {:<12} {:<14} {:>6} {:>9}  127.0.0.1:{}",
            m.id,
            if m.observer { "observer" } else { "voter" },
            pid.map_or("-".into(), |p| p.to_string()),
            if running { "yes" } else { "no" },
            mode,
            parsed.zxid.map_or("-".into(), |z| format!("0x{z:x}")),
            cons.map_or("-".into(), |c| c.connections.to_string()),
            cons.map_or("-".into(), |c| c.sessions.to_string()),
            m.client_port
        );
    }
    println!("\nconnect string: {}", layout.connect_string());
    Ok(())
}

fn logs(opts: &Options, id: u32) -> Result<()> {
    let layout = load_layout(&opts.dir)?;
    layout.member(id)?;
    let path = member_dir(&opts.dir, id).join("server.log");
    if !path.exists() {
        bail!("{} does not exist yet", path.display());
    }
    println!("==> {} <==", path.display());
    println!("{}", log_tail(&opts.dir, id, opts.lines));
    Ok(())
}

fn kill(opts: &Options, id: u32) -> Result<()> {
    let dir = &opts.dir;
    let layout = load_layout(dir)?;
    layout.member(id)?;
    let Some(pid) = running_pid(dir, id) else {
        bail!("server {id} is not running");
    };
    send_signal(pid, "KILL")?;
    wait_gone(pid, &member_dir(dir, id).join("zoo.cfg"))?;
    println!("killed server {id} (pid {pid}) with SIGKILL");
    Ok(())
}

fn restart(opts: &Options, id: u32) -> Result<()> {
    let dir = &opts.dir;
    let layout = load_layout(dir)?;
    layout.member(id)?;
    if let Some(pid) = running_pid(dir, id) {
        stop_process(pid, &member_dir(dir, id).join("zoo.cfg"))?;
        println!("stopped server {id} (pid {pid})");
    }
    if let Some(bin) = &layout.binary {
        if !bin.exists() {
            bail!(
                "{} is gone: bring the cluster up again ('cargo xtask cluster down', then up)",
                bin.display()
            );
        }
    }
    let pid = start_member(dir, id, layout.binary.as_deref())?;
    println!("started server {id} (pid {pid})");
    let modes = wait_serving(dir, &layout, &[id])?;
    println!("server {id}: {}", modes[&id]);
    Ok(())
}

fn down(opts: &Options) -> Result<()> {
    let dir = &opts.dir;
    match load_layout(dir) {
        Ok(layout) => {
            for m in &layout.members {
                if let Some(pid) = running_pid(dir, m.id) {
                    stop_process(pid, &member_dir(dir, m.id).join("zoo.cfg"))?;
                    println!("stopped server {} (pid {pid})", m.id);
                }
                let _ = std::fs::remove_file(member_dir(dir, m.id).join("server.pid"));
            }
        }
        Err(e) if !opts.wipe => return Err(e),
        Err(_) => {}
    }
    if opts.wipe && dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("deleting {}", dir.display()))?;
        println!("deleted {}", dir.display());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Failover measurement.

/// The node the failover writers set.
const FAILOVER_NODE: &str = "/failover";
/// How long a writer waits between two attempts when the server refuses or fails it.
const RETRY_PAUSE: Duration = Duration::from_millis(5);

/// The leader among `ids` (by `srvr`), if exactly one says it leads.
fn find_leader(layout: &Layout, ids: &[u32]) -> Result<Option<u32>> {
    let mut leaders = Vec::new();
    for &id in ids {
        let port = layout.member(id)?.client_port;
        if four_letter(port, "srvr")
            .ok()
            .and_then(|t| parse_srvr(&t).mode)
            .is_some_and(|m| m == "leader")
        {
            leaders.push(id);
        }
    }
    Ok((leaders.len() == 1).then(|| leaders[0]))
}

/// What a writer reports: the first write of a newer epoch than the one before the kill.
#[derive(Debug)]
struct FirstWrite {
    at: Instant,
    server: u32,
    epoch: u32,
}

/// Sets the failover node through server `id` (at `port`) in a loop until `stop`: reconnects
/// (with its session) whenever a write fails, and reports every acknowledged write's epoch.
fn writer(
    id: u32,
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    acked: std::sync::mpsc::Sender<(u32, u32, Instant)>,
) {
    use std::sync::atomic::Ordering;
    let mut session: Option<wire::Session> = None;
    let mut resume: Option<(i64, Vec<u8>)> = None;
    while !stop.load(Ordering::Relaxed) {
        let s = match session.as_mut() {
            Some(s) => s,
            None => match wire::Session::connect(port, resume.clone(), 30_000) {
                Ok(s) => {
                    resume = Some((s.id, s.passwd.clone()));
                    session.insert(s)
                }
                Err(e) => {
                    if e.kind() == std::io::ErrorKind::PermissionDenied {
                        // The session expired: start a new one.
                        resume = None;
                    }
                    std::thread::sleep(RETRY_PAUSE);
                    continue;
                }
            },
        };
        match s.set_data(FAILOVER_NODE, format!("from {id}").as_bytes()) {
            Ok(Ok(mzxid)) => {
                let epoch = (mzxid >> 32) as u32;
                if acked.send((id, epoch, Instant::now())).is_err() {
                    return;
                }
            }
            Ok(Err(_)) | Err(_) => {
                session = None;
                std::thread::sleep(RETRY_PAUSE);
            }
        }
    }
}

/// One kill: writers on every server but the leader, the leader killed once all of them wrote,
/// the first write of a newer epoch awaited. Returns the time it took and what was written.
fn failover_once(dir: &Path, layout: &Layout, leader: u32) -> Result<(Duration, FirstWrite)> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let mut threads = Vec::new();
    let others: Vec<&Member> = layout
        .members
        .iter()
        .filter(|m| m.id != leader && !m.observer)
        .collect();
    for m in &others {
        let (id, port, stop, tx) = (m.id, m.client_port, stop.clone(), tx.clone());
        threads.push(std::thread::spawn(move || writer(id, port, stop, tx)));
    }
    drop(tx);
    let finish = |threads: Vec<std::thread::JoinHandle<()>>| {
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            let _ = t.join();
        }
    };
    // Every writer's write acknowledged in the current epoch first.
    let mut wrote = BTreeMap::new();
    let deadline = Instant::now() + WAIT;
    while wrote.len() < others.len() {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((id, epoch, _)) => {
                wrote.insert(id, epoch);
            }
            Err(_) => {
                finish(threads);
                bail!("the writers did not all get a write through within {WAIT:?}: {wrote:?}");
            }
        }
    }
    let old_epoch = wrote.values().copied().max().unwrap_or(0);
    let pid = running_pid(dir, leader).context("the leader is not running")?;
    let killed = Instant::now();
    send_signal(pid, "KILL")?;
    let first = loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now()) + WAIT) {
            Ok((server, epoch, at)) if epoch > old_epoch => break FirstWrite { at, server, epoch },
            Ok(_) => {}
            Err(_) => {
                finish(threads);
                bail!("no write was acknowledged in a new epoch within {WAIT:?} of the kill");
            }
        }
    };
    finish(threads);
    wait_gone(pid, &member_dir(dir, leader).join("zoo.cfg"))?;
    Ok((first.at.saturating_duration_since(killed), first))
}

fn failover(root: &Path, opts: &Options) -> Result<()> {
    let voters = opts.voters.unwrap_or(3);
    if voters < 3 {
        bail!("failover needs at least 3 voting servers (-n 3)");
    }
    let kind = if opts.apache {
        Kind::Apache
    } else {
        Kind::Ours
    };
    let name = if opts.apache { "Apache 3.8" } else { "ours" };
    let mut opts = opts.clone();
    if !opts.dir_given {
        opts.dir = root.join("target").join("cluster-failover");
    }
    let dir = opts.dir.clone();
    if dir.exists() {
        down(&Options {
            wipe: true,
            ..opts.clone()
        })?;
    }
    let mut layout = Layout::new(voters, 0, opts.base_port, kind)?;
    check_ports_free(&layout)?;
    layout.binary = server_binary(root, kind)?;
    write_cluster(&dir, &layout)?;
    let ids: Vec<u32> = layout.members.iter().map(|m| m.id).collect();
    let result = (|| -> Result<Vec<Duration>> {
        for id in &ids {
            start_member(&dir, *id, layout.binary.as_deref())?;
        }
        wait_serving(&dir, &layout, &ids)?;
        let leader = find_leader(&layout, &ids)?.context("no leader")?;
        let mut setup = wire::Session::connect(layout.member(leader)?.client_port, None, 30_000)
            .context("connecting to create the failover node")?;
        match setup.create(FAILOVER_NODE, b"")? {
            Ok(()) | Err(wire::NODE_EXISTS) => {}
            Err(code) => bail!("creating {FAILOVER_NODE} failed with error code {code}"),
        }
        drop(setup);
        println!(
            "failover of {name}: {} kills of the leader of {voters} servers (tickTime 2000, \
             initLimit 10, syncLimit 5)",
            opts.kills
        );
        let mut times = Vec::new();
        for kill in 1..=opts.kills {
            wait_serving(&dir, &layout, &ids)?;
            let leader = find_leader(&layout, &ids)?.context("no leader")?;
            let (took, first) = failover_once(&dir, &layout, leader)?;
            println!(
                "  kill {kill:>2}: leader {leader} killed; first write of epoch {} acknowledged \
                 after {:>7.1} ms (through server {})",
                first.epoch,
                took.as_secs_f64() * 1000.0,
                first.server
            );
            times.push(took);
            start_member(&dir, leader, layout.binary.as_deref())?;
        }
        wait_serving(&dir, &layout, &ids)?;
        Ok(times)
    })();
    let stopped = down(&Options {
        wipe: true,
        ..opts.clone()
    });
    let times = result?;
    stopped?;
    let stats = FailoverStats::of(&times);
    println!(
        "{name}: {} kills: median {:.1} ms, max {:.1} ms (min {:.1} ms, mean {:.1} ms)",
        times.len(),
        stats.median.as_secs_f64() * 1000.0,
        stats.max.as_secs_f64() * 1000.0,
        stats.min.as_secs_f64() * 1000.0,
        stats.mean.as_secs_f64() * 1000.0
    );
    Ok(())
}

/// Summary of failover times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FailoverStats {
    median: Duration,
    max: Duration,
    min: Duration,
    mean: Duration,
}

impl FailoverStats {
    /// # Panics
    /// On no times.
    fn of(times: &[Duration]) -> FailoverStats {
        let mut sorted = times.to_vec();
        sorted.sort();
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2
        };
        FailoverStats {
            median,
            max: sorted[n - 1],
            min: sorted[0],
            mean: sorted.iter().sum::<Duration>() / n as u32,
        }
    }
}

/// Just enough of the client protocol for the failover writers: a session (new or resumed),
/// setData and create, framed and encoded as jute does.
mod wire {
    use std::io::{self, Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::Duration;

    /// The error code of NODEEXISTS.
    pub(crate) const NODE_EXISTS: i32 = -110;
    const OP_CREATE: i32 = 1;
    const OP_SET_DATA: i32 = 5;
    /// How long a request may wait for its reply before the session is given up.
    const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

    fn put_buffer(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        out.extend_from_slice(bytes);
    }

    fn get<const N: usize>(input: &mut &[u8]) -> io::Result<[u8; N]> {
        if input.len() < N {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "short reply"));
        }
        let (head, rest) = input.split_at(N);
        *input = rest;
        Ok(head.try_into().expect("N bytes"))
    }

    fn get_i32(input: &mut &[u8]) -> io::Result<i32> {
        get::<4>(input).map(i32::from_be_bytes)
    }

    fn get_i64(input: &mut &[u8]) -> io::Result<i64> {
        get::<8>(input).map(i64::from_be_bytes)
    }

    fn get_buffer(input: &mut &[u8]) -> io::Result<Vec<u8>> {
        let len = get_i32(input)?;
        let len = usize::try_from(len).unwrap_or(0);
        if input.len() < len {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "short buffer"));
        }
        let (head, rest) = input.split_at(len);
        *input = rest;
        Ok(head.to_vec())
    }

    /// A client session over one connection.
    #[derive(Debug)]
    pub(crate) struct Session {
        stream: TcpStream,
        pub(crate) id: i64,
        pub(crate) passwd: Vec<u8>,
        xid: i32,
    }

    impl Session {
        /// Connects to 127.0.0.1:`port` and starts a session, or resumes `(id, password)`. A
        /// resumed session that expired is `PermissionDenied`.
        pub(crate) fn connect(
            port: u16,
            resume: Option<(i64, Vec<u8>)>,
            timeout_ms: i32,
        ) -> io::Result<Session> {
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
            stream.set_write_timeout(Some(REPLY_TIMEOUT))?;
            let (id, passwd) = resume.unwrap_or((0, vec![0; 16]));
            let mut s = Session {
                stream,
                id,
                passwd,
                xid: 0,
            };
            let mut body = Vec::new();
            body.extend_from_slice(&0i32.to_be_bytes()); // protocolVersion
            body.extend_from_slice(&0i64.to_be_bytes()); // lastZxidSeen
            body.extend_from_slice(&timeout_ms.to_be_bytes());
            body.extend_from_slice(&s.id.to_be_bytes());
            put_buffer(&mut body, &s.passwd);
            body.push(0); // readOnly
            s.send(&body)?;
            let reply = s.receive()?;
            let mut r = reply.as_slice();
            let _protocol = get_i32(&mut r)?;
            let timeout = get_i32(&mut r)?;
            let id = get_i64(&mut r)?;
            let passwd = get_buffer(&mut r)?;
            if timeout <= 0 {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "session expired",
                ));
            }
            s.id = id;
            s.passwd = passwd;
            Ok(s)
        }

        fn send(&mut self, body: &[u8]) -> io::Result<()> {
            let mut frame = (body.len() as i32).to_be_bytes().to_vec();
            frame.extend_from_slice(body);
            self.stream.write_all(&frame)
        }

        fn receive(&mut self) -> io::Result<Vec<u8>> {
            let mut len = [0u8; 4];
            self.stream.read_exact(&mut len)?;
            let len = i32::from_be_bytes(len);
            if !(0..=1 << 20).contains(&len) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "bad frame length",
                ));
            }
            let mut body = vec![0u8; len as usize];
            self.stream.read_exact(&mut body)?;
            Ok(body)
        }

        /// Sends a request and returns (error code, the reply body after the header).
        fn call(&mut self, op: i32, request: &[u8]) -> io::Result<(i32, Vec<u8>)> {
            self.xid += 1;
            let mut body = Vec::new();
            body.extend_from_slice(&self.xid.to_be_bytes());
            body.extend_from_slice(&op.to_be_bytes());
            body.extend_from_slice(request);
            self.send(&body)?;
            loop {
                let reply = self.receive()?;
                let mut r = reply.as_slice();
                let xid = get_i32(&mut r)?;
                let _zxid = get_i64(&mut r)?;
                let err = get_i32(&mut r)?;
                // Notifications (-1) and pings (-2) are not ours.
                if xid == self.xid {
                    return Ok((err, r.to_vec()));
                }
            }
        }

        /// setData(path, data, -1): the node's mzxid, or the error code.
        pub(crate) fn set_data(&mut self, path: &str, data: &[u8]) -> io::Result<Result<i64, i32>> {
            let mut request = Vec::new();
            put_buffer(&mut request, path.as_bytes());
            put_buffer(&mut request, data);
            request.extend_from_slice(&(-1i32).to_be_bytes());
            let (err, body) = self.call(OP_SET_DATA, &request)?;
            if err != 0 {
                return Ok(Err(err));
            }
            // Stat: czxid, then mzxid.
            let mut r = body.as_slice();
            let _czxid = get_i64(&mut r)?;
            Ok(Ok(get_i64(&mut r)?))
        }

        /// create(path, data), persistent, open ACL: `Ok(())` or the error code.
        pub(crate) fn create(&mut self, path: &str, data: &[u8]) -> io::Result<Result<(), i32>> {
            let mut request = Vec::new();
            put_buffer(&mut request, path.as_bytes());
            put_buffer(&mut request, data);
            request.extend_from_slice(&1i32.to_be_bytes()); // one ACL
            request.extend_from_slice(&31i32.to_be_bytes()); // ALL
            put_buffer(&mut request, b"world");
            put_buffer(&mut request, b"anyone");
            request.extend_from_slice(&0i32.to_be_bytes()); // persistent
            let (err, _) = self.call(OP_CREATE, &request)?;
            Ok(if err == 0 { Ok(()) } else { Err(err) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEADER_SRVR: &str = "Zookeeper version: 3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on 2024-02-12 22:16 UTC
Latency min/avg/max: 0/0.4167/3
Received: 15
Sent: 14
Connections: 2
Outstanding: 0
Zxid: 0x100000004
Mode: leader
Node count: 6
Proposal sizes last/min/max: 48/48/92
";

    #[test]
    fn the_layout_separates_client_quorum_and_election_ports() {
        let layout = Layout::new(3, 1, 2181, Kind::Ours).unwrap();
        let ports: Vec<(u32, bool, u16, u16, u16)> = layout
            .members
            .iter()
            .map(|m| {
                (
                    m.id,
                    m.observer,
                    m.client_port,
                    m.quorum_port,
                    m.election_port,
                )
            })
            .collect();
        assert_eq!(
            ports,
            [
                (1, false, 2181, 2281, 2381),
                (2, false, 2182, 2282, 2382),
                (3, false, 2183, 2283, 2383),
                (4, true, 2184, 2284, 2384),
            ]
        );
        assert_eq!(
            layout.connect_string(),
            "127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183,127.0.0.1:2184"
        );
        assert!(Layout::new(0, 0, 2181, Kind::Ours).is_err());
        assert!(Layout::new(5, 0, 65400, Kind::Ours).is_err());
        assert!(Layout::new(99, 2, 2181, Kind::Ours).is_err());
    }

    #[test]
    fn zoo_cfg_lists_every_server_and_marks_observers() {
        let layout = Layout::new(3, 1, 3000, Kind::Ours).unwrap();
        let data = Path::new("/c/server-4/data");
        assert_eq!(
            layout.zoo_cfg(&layout.members[3], data),
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/c/server-4/data\n\
             clientPort=3003\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n\
             admin.enableServer=false\npeerType=observer\n\
             server.1=127.0.0.1:3100:3200\nserver.2=127.0.0.1:3101:3201\n\
             server.3=127.0.0.1:3102:3202\nserver.4=127.0.0.1:3103:3203:observer\n"
        );
        let voter = layout.zoo_cfg(&layout.members[0], Path::new("/d"));
        assert!(!voter.contains("peerType"));
        assert!(voter.contains("clientPort=3000\n"));
        // One server alone runs standalone.
        let single = Layout::new(1, 0, 2181, Kind::Ours).unwrap();
        assert!(
            !single
                .zoo_cfg(&single.members[0], Path::new("/d"))
                .contains("server.")
        );
    }

    #[test]
    fn the_cluster_directory_holds_configs_myids_and_the_layout() {
        let dir = tempfile::tempdir().unwrap();
        let mut layout = Layout::new(3, 2, 4000, Kind::Ours).unwrap();
        layout.binary = Some(PathBuf::from("/ws/target/release/zk-server"));
        write_cluster(dir.path(), &layout).unwrap();
        for m in &layout.members {
            let mdir = dir.path().join(format!("server-{}", m.id));
            assert_eq!(
                std::fs::read_to_string(mdir.join("data/myid")).unwrap(),
                format!("{}\n", m.id)
            );
            let cfg = std::fs::read_to_string(mdir.join("zoo.cfg")).unwrap();
            assert!(cfg.contains(&format!("dataDir={}\n", mdir.join("data").display())));
        }
        assert_eq!(load_layout(dir.path()).unwrap(), layout);
        assert!(
            load_layout(&dir.path().join("nothing"))
                .unwrap_err()
                .to_string()
                .contains("cluster up")
        );
    }

    #[test]
    fn srvr_answers_are_parsed() {
        assert_eq!(
            parse_srvr(LEADER_SRVR),
            Srvr {
                mode: Some("leader".into()),
                zxid: Some(0x1_0000_0004),
                connections: Some(2),
                node_count: Some(6),
            }
        );
        let follower = LEADER_SRVR
            .replace("Mode: leader", "Mode: follower")
            .replace("Zxid: 0x100000004", "Zxid: 0x0");
        assert_eq!(parse_srvr(&follower).mode.as_deref(), Some("follower"));
        assert_eq!(parse_srvr(&follower).zxid, Some(0));
        let not_serving = parse_srvr("This ZooKeeper instance is not currently serving requests\n");
        assert_eq!(not_serving, Srvr::default());
    }

    #[test]
    fn cons_answers_count_connections_and_sessions_without_the_asker() {
        let cons = " /127.0.0.1:40112[1](queued=0,recved=5,sent=5,sid=0x100000a2b3c0000,lop=PING,est=1700000000000,to=30000,lcxid=0x3,lzxid=0x100000004,lresp=1700000001000,llat=0,minlat=0,avglat=0,maxlat=1)
 /127.0.0.1:40114[1](queued=0,recved=1,sent=0)
 /127.0.0.1:40120[0](queued=0,recved=1,sent=0)

";
        assert_eq!(
            parse_cons(cons),
            Cons {
                connections: 2,
                sessions: 1
            }
        );
        assert_eq!(parse_cons(""), Cons::default());
    }

    #[test]
    fn four_letter_words_travel_over_a_plain_socket() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut word = [0u8; 4];
            s.read_exact(&mut word).unwrap();
            assert_eq!(&word, b"srvr");
            s.write_all(LEADER_SRVR.as_bytes()).unwrap();
        });
        let answer = four_letter(port, "srvr").unwrap();
        server.join().unwrap();
        assert_eq!(parse_srvr(&answer).mode.as_deref(), Some("leader"));
    }

    #[test]
    fn options_parse_with_defaults() {
        let root = Path::new("/ws");
        let args = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let o = parse_options(
            root,
            &args("-n 5 --observers 2 --base-port 3000 --dir /tmp/c"),
        )
        .unwrap();
        assert_eq!(o.voters, Some(5));
        assert_eq!(o.observers, 2);
        assert_eq!(o.base_port, 3000);
        assert_eq!(o.dir, PathBuf::from("/tmp/c"));
        let o = parse_options(root, &args("3 --lines 20")).unwrap();
        assert_eq!(o.server, Some(3));
        assert_eq!(o.lines, 20);
        assert_eq!(o.dir, PathBuf::from("/ws/target/cluster"));
        assert_eq!(o.base_port, 2181);
        let o = parse_options(root, &args("--wipe")).unwrap();
        assert!(o.wipe);
        assert!(parse_options(root, &args("--bogus")).is_err());
        assert!(parse_options(root, &args("-n")).is_err());
        assert!(parse_options(root, &args("-n x")).is_err());
    }

    #[test]
    fn failover_stats_take_the_median_and_the_max() {
        let ms = Duration::from_millis;
        let odd = FailoverStats::of(&[ms(30), ms(10), ms(20)]);
        assert_eq!(
            (odd.median, odd.max, odd.min, odd.mean),
            (ms(20), ms(30), ms(10), ms(20))
        );
        let even = FailoverStats::of(&[ms(40), ms(10), ms(20), ms(30)]);
        assert_eq!(even.median, ms(25));
        let root = Path::new("/ws");
        let args = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let o = parse_options(root, &args("--kills 5 --apache")).unwrap();
        assert_eq!((o.kills, o.apache, o.dir_given), (5, true, false));
        assert_eq!(parse_options(root, &args("")).unwrap().kills, 20);
        assert!(parse_options(root, &args("--kills 0")).is_err());
        assert!(parse_options(root, &args("--dir /x")).unwrap().dir_given);
    }

    /// The wire encoding against a fake server: a session is granted, setData answers a Stat,
    /// a resumed session that expired is refused.
    #[test]
    fn the_failover_writer_speaks_the_client_protocol() {
        fn read_frame(s: &mut TcpStream) -> Vec<u8> {
            let mut len = [0u8; 4];
            s.read_exact(&mut len).unwrap();
            let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
            s.read_exact(&mut body).unwrap();
            body
        }
        fn write_frame(s: &mut TcpStream, body: &[u8]) {
            s.write_all(&(body.len() as i32).to_be_bytes()).unwrap();
            s.write_all(body).unwrap();
        }
        fn connect_response(timeout: i32, id: i64) -> Vec<u8> {
            let mut r = 0i32.to_be_bytes().to_vec();
            r.extend_from_slice(&timeout.to_be_bytes());
            r.extend_from_slice(&id.to_be_bytes());
            r.extend_from_slice(&16i32.to_be_bytes());
            r.extend_from_slice(&[7u8; 16]);
            r.push(0);
            r
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let connect = read_frame(&mut s);
            // protocolVersion, lastZxidSeen, timeOut 30000, sessionId 0, 16-byte password, readOnly
            assert_eq!(connect.len(), 4 + 8 + 4 + 8 + 4 + 16 + 1);
            assert_eq!(&connect[12..16], &30000i32.to_be_bytes());
            write_frame(&mut s, &connect_response(30000, 0x42));
            let request = read_frame(&mut s);
            assert_eq!(&request[..8], &[0, 0, 0, 1, 0, 0, 0, 5]); // xid 1, setData
            // A ping reply first (xid -2), then the answer: header and Stat (czxid, mzxid, ...).
            let mut ping = (-2i32).to_be_bytes().to_vec();
            ping.extend_from_slice(&[0u8; 12]);
            write_frame(&mut s, &ping);
            let mut reply = 1i32.to_be_bytes().to_vec();
            reply.extend_from_slice(&0x5_0000_0007i64.to_be_bytes());
            reply.extend_from_slice(&0i32.to_be_bytes());
            reply.extend_from_slice(&0x1_0000_0001i64.to_be_bytes());
            reply.extend_from_slice(&0x5_0000_0007i64.to_be_bytes());
            reply.extend_from_slice(&[0u8; 8 + 8 + 4 + 4 + 4 + 8 + 4 + 4 + 8]);
            write_frame(&mut s, &reply);
            // A resume of an expired session.
            let (mut s, _) = listener.accept().unwrap();
            let connect = read_frame(&mut s);
            assert_eq!(&connect[16..24], &0x42i64.to_be_bytes());
            write_frame(&mut s, &connect_response(0, 0));
        });
        let mut session = wire::Session::connect(port, None, 30000).unwrap();
        assert_eq!(session.id, 0x42);
        assert_eq!(
            session.set_data("/failover", b"x").unwrap(),
            Ok(0x5_0000_0007)
        );
        let resumed = wire::Session::connect(port, Some((0x42, vec![7; 16])), 30000);
        assert_eq!(
            resumed.unwrap_err().kind(),
            std::io::ErrorKind::PermissionDenied
        );
        server.join().unwrap();
    }

    #[test]
    fn a_reused_pid_is_not_taken_for_a_server() {
        // This test process is alive, but not started for that zoo.cfg.
        assert!(!alive(std::process::id(), Path::new("/nowhere/zoo.cfg")));
        assert!(!alive(u32::MAX, Path::new("/nowhere/zoo.cfg")));
    }
}
