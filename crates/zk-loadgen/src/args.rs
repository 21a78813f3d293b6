//! Command line: `zk-loadgen <workload> [--option value | --flag]...`.

use std::time::Duration;

use anyhow::{Context, Result, bail};

pub(crate) const USAGE: &str = "usage: zk-loadgen <workload> [options]

Drives a ZooKeeper-protocol server with the third-party zookeeper-client crate and prints one JSON
line on stdout (a one-line summary on stderr).

workloads:
  read                  closed loop of getData, one request in flight per session
  write [--mode set|create-delete]
                        closed loop of setData, or create PERSISTENT_SEQUENTIAL + delete it
  mixed [--read-ratio R]
                        closed loop, getData with probability R (0.9), else setData
  pipeline [--depth D] [--op read|write|mixed]
                        each session keeps D (32) requests in flight
  multi [--ops K]       closed loop of multi requests of K (10) setData each
  watch [--watchers N]  N sessions watch one znode, a writer setData's it; latency is the time
                        until the last watcher has its event (watchers re-arm every round)
  populate --count N [--parents P] [--depth D]
                        create /zk-loadgen-pop/p{i%P}/n{i:010} (--size bytes each) from --clients
                        sessions with D requests in flight each; server RSS sampled along the way
  probe --path P [--expect-size B] [--timeout S]
                        new sessions until getData(P) succeeds; prints ok_epoch_ms (cold start)
  failover --kill-pid PID --kill-after S [--read-ratio R]
                        closed loop (R = 0.5) on an ensemble, kill -9 PID S seconds into the
                        measured window; time until the first write issued after the kill succeeds

options (defaults in brackets):
  --servers H:P[,H:P]   connect string [127.0.0.1:2181]
  --clients N           sessions, one connection each [8; populate 4]
  --duration S          measured seconds [10]
  --warmup S            unrecorded seconds before the measured window [2]
  --size B              payload bytes [100]
  --spread              session i connects only to server i % n of --servers
  --server-pid P[,P]    sample these processes' CPU time and RSS from /proc over the window
  --root PATH           parent znode of the load [/zk-loadgen]
  --threads N           tokio worker threads of the client [2]
  --session-timeout S   requested session timeout [20]";

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Workload {
    Read,
    Write {
        create_delete: bool,
    },
    Mixed {
        read_ratio: f64,
    },
    Pipeline {
        depth: usize,
        op: Op,
    },
    Multi {
        ops: usize,
    },
    Watch {
        watchers: usize,
    },
    Populate {
        count: u64,
        parents: u64,
        depth: usize,
    },
    Probe {
        path: String,
        expect_size: Option<usize>,
        timeout: Duration,
    },
    Failover {
        kill_pid: u32,
        kill_after: Duration,
        read_ratio: f64,
    },
}

impl Workload {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Workload::Read => "read",
            Workload::Write { .. } => "write",
            Workload::Mixed { .. } => "mixed",
            Workload::Pipeline { .. } => "pipeline",
            Workload::Multi { .. } => "multi",
            Workload::Watch { .. } => "watch",
            Workload::Populate { .. } => "populate",
            Workload::Probe { .. } => "probe",
            Workload::Failover { .. } => "failover",
        }
    }
}

/// The operations of a pipelined run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    Read,
    Write,
    Mixed(f64),
}

/// Everything the command line says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Options {
    pub(crate) workload: Workload,
    pub(crate) servers: Vec<String>,
    pub(crate) clients: usize,
    pub(crate) duration: Duration,
    pub(crate) warmup: Duration,
    pub(crate) size: usize,
    pub(crate) spread: bool,
    pub(crate) server_pids: Vec<u32>,
    pub(crate) root: String,
    pub(crate) threads: usize,
    pub(crate) session_timeout: Duration,
}

impl Options {
    /// The connect string of session `index`: the whole list, or one server with `--spread`.
    pub(crate) fn connect_string(&self, index: usize) -> String {
        if self.spread {
            self.servers[index % self.servers.len()].clone()
        } else {
            self.servers.join(",")
        }
    }
}

/// Options that take no value.
const FLAGS: &[&str] = &["spread"];
/// Options that take a value, per workload (common ones for every workload).
const COMMON: &[&str] = &[
    "servers",
    "clients",
    "duration",
    "warmup",
    "size",
    "server-pid",
    "root",
    "threads",
    "session-timeout",
];

fn allowed(workload: &str) -> Option<&'static [&'static str]> {
    Some(match workload {
        "read" => &[],
        "write" => &["mode"],
        "mixed" => &["read-ratio"],
        "pipeline" => &["depth", "op", "read-ratio"],
        "multi" => &["ops"],
        "watch" => &["watchers"],
        "populate" => &["count", "parents", "depth"],
        "probe" => &["path", "expect-size", "timeout"],
        "failover" => &["kill-pid", "kill-after", "read-ratio"],
        _ => return None,
    })
}

/// The option values given, in order, looked up by name.
struct Given(Vec<(String, Option<String>)>);

impl Given {
    fn value(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    fn flag(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    fn parse<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        match self.value(name) {
            None => Ok(default),
            Some(text) => text
                .parse()
                .map_err(|e| anyhow::anyhow!("--{name} {text}: {e}")),
        }
    }

    fn seconds(&self, name: &str, default: f64) -> Result<Duration> {
        let s: f64 = self.parse(name, default)?;
        if !(s.is_finite() && s >= 0.0) {
            bail!("--{name} must be a non-negative number of seconds");
        }
        Ok(Duration::from_secs_f64(s))
    }

    fn positive(&self, name: &str, default: usize) -> Result<usize> {
        let n: usize = self.parse(name, default)?;
        if n == 0 {
            bail!("--{name} must be at least 1");
        }
        Ok(n)
    }

    fn ratio(&self, name: &str, default: f64) -> Result<f64> {
        let r: f64 = self.parse(name, default)?;
        if !(0.0..=1.0).contains(&r) {
            bail!("--{name} must be between 0 and 1");
        }
        Ok(r)
    }

    fn required(&self, name: &str, workload: &str) -> Result<&str> {
        self.value(name)
            .with_context(|| format!("{workload} needs --{name}"))
    }
}

pub(crate) fn parse(args: &[String]) -> Result<Options> {
    let Some(workload) = args.first() else {
        bail!("no workload given\n\n{USAGE}");
    };
    let Some(specific) = allowed(workload) else {
        bail!("unknown workload '{workload}'\n\n{USAGE}");
    };
    let mut given = Vec::new();
    let mut rest = args[1..].iter();
    while let Some(arg) = rest.next() {
        let Some(name) = arg.strip_prefix("--") else {
            bail!("unexpected argument '{arg}'");
        };
        let (name, inline) = match name.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (name, None),
        };
        if FLAGS.contains(&name) {
            if inline.is_some() {
                bail!("--{name} takes no value");
            }
            given.push((name.to_owned(), None));
        } else if COMMON.contains(&name) || specific.contains(&name) {
            let value = match inline {
                Some(v) => v,
                None => rest
                    .next()
                    .with_context(|| format!("--{name} needs a value"))?
                    .clone(),
            };
            given.push((name.to_owned(), Some(value)));
        } else {
            bail!("unknown option --{name} for {workload}");
        }
    }
    let given = Given(given);
    let workload = match workload.as_str() {
        "read" => Workload::Read,
        "write" => Workload::Write {
            create_delete: match given.value("mode").unwrap_or("set") {
                "set" => false,
                "create-delete" => true,
                other => bail!("--mode {other}: expected set or create-delete"),
            },
        },
        "mixed" => Workload::Mixed {
            read_ratio: given.ratio("read-ratio", 0.9)?,
        },
        "pipeline" => Workload::Pipeline {
            depth: given.positive("depth", 32)?,
            op: match given.value("op").unwrap_or("read") {
                "read" => Op::Read,
                "write" => Op::Write,
                "mixed" => Op::Mixed(given.ratio("read-ratio", 0.9)?),
                other => bail!("--op {other}: expected read, write or mixed"),
            },
        },
        "multi" => Workload::Multi {
            ops: given.positive("ops", 10)?,
        },
        "watch" => Workload::Watch {
            watchers: given.positive("watchers", 100)?,
        },
        "populate" => Workload::Populate {
            count: given
                .required("count", "populate")?
                .parse()
                .context("--count")?,
            parents: given.positive("parents", 100)? as u64,
            depth: given.positive("depth", 64)?,
        },
        "probe" => Workload::Probe {
            path: given.required("path", "probe")?.to_owned(),
            expect_size: given
                .value("expect-size")
                .map(str::parse)
                .transpose()
                .context("--expect-size")?,
            timeout: given.seconds("timeout", 60.0)?,
        },
        "failover" => Workload::Failover {
            kill_pid: given
                .required("kill-pid", "failover")?
                .parse()
                .context("--kill-pid")?,
            kill_after: given.seconds("kill-after", 5.0)?,
            read_ratio: given.ratio("read-ratio", 0.5)?,
        },
        _ => unreachable!("checked by allowed()"),
    };
    let servers: Vec<String> = given
        .value("servers")
        .unwrap_or("127.0.0.1:2181")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if servers.is_empty() {
        bail!("--servers is empty");
    }
    let server_pids = match given.value("server-pid") {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|p| p.parse().with_context(|| format!("--server-pid {p}")))
            .collect::<Result<_>>()?,
    };
    let root = given.value("root").unwrap_or("/zk-loadgen").to_owned();
    if !root.starts_with('/') || root.len() < 2 || root.ends_with('/') {
        bail!("--root must be an absolute znode path other than /");
    }
    let default_clients = if matches!(workload, Workload::Populate { .. }) {
        4
    } else {
        8
    };
    Ok(Options {
        servers,
        clients: given.positive("clients", default_clients)?,
        duration: given.seconds("duration", 10.0)?,
        warmup: given.seconds("warmup", 2.0)?,
        size: given.parse("size", 100)?,
        spread: given.flag("spread"),
        server_pids,
        root,
        threads: given.positive("threads", 2)?,
        session_timeout: given.seconds("session-timeout", 20.0)?,
        workload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn defaults() {
        let o = parse(&args("read")).unwrap();
        assert_eq!(o.workload, Workload::Read);
        assert_eq!(o.servers, ["127.0.0.1:2181"]);
        assert_eq!(o.clients, 8);
        assert_eq!(o.duration, Duration::from_secs(10));
        assert_eq!(o.warmup, Duration::from_secs(2));
        assert_eq!(o.size, 100);
        assert!(!o.spread);
        assert!(o.server_pids.is_empty());
        assert_eq!(o.root, "/zk-loadgen");
    }

    #[test]
    fn options_and_workload_specifics() {
        let o = parse(&args(
            "pipeline --servers a:1,b:2 --clients 64 --depth=16 --op write --duration 0.5 \
             --spread --server-pid 10,11",
        ))
        .unwrap();
        assert_eq!(
            o.workload,
            Workload::Pipeline {
                depth: 16,
                op: Op::Write
            }
        );
        assert_eq!(o.servers, ["a:1", "b:2"]);
        assert_eq!(o.clients, 64);
        assert_eq!(o.duration, Duration::from_millis(500));
        assert_eq!(o.server_pids, [10, 11]);
        assert_eq!(o.connect_string(0), "a:1");
        assert_eq!(o.connect_string(3), "b:2");
        let o = parse(&args("write --mode create-delete")).unwrap();
        assert_eq!(
            o.workload,
            Workload::Write {
                create_delete: true
            }
        );
        assert_eq!(o.connect_string(5), "127.0.0.1:2181");
        let o = parse(&args("populate --count 1000")).unwrap();
        assert_eq!(
            o.workload,
            Workload::Populate {
                count: 1000,
                parents: 100,
                depth: 64
            }
        );
        assert_eq!(o.clients, 4);
        let o = parse(&args("failover --kill-pid 42 --kill-after 3")).unwrap();
        assert_eq!(
            o.workload,
            Workload::Failover {
                kill_pid: 42,
                kill_after: Duration::from_secs(3),
                read_ratio: 0.5
            }
        );
    }

    #[test]
    fn mistakes_are_explained() {
        let err = |line: &str| parse(&args(line)).unwrap_err().to_string();
        assert!(err("").starts_with("no workload"));
        assert!(err("fly").starts_with("unknown workload 'fly'"));
        assert_eq!(err("read --depth 3"), "unknown option --depth for read");
        assert_eq!(err("read --clients"), "--clients needs a value");
        assert_eq!(err("read --clients 0"), "--clients must be at least 1");
        assert_eq!(
            err("mixed --read-ratio 2"),
            "--read-ratio must be between 0 and 1"
        );
        assert_eq!(err("populate"), "populate needs --count");
        assert_eq!(err("read --spread=1"), "--spread takes no value");
        assert_eq!(
            err("read --root /a/"),
            "--root must be an absolute znode path other than /"
        );
        assert_eq!(err("read extra"), "unexpected argument 'extra'");
        assert!(err("write --mode bulk").contains("expected set or create-delete"));
    }
}
