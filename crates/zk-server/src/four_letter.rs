//! Four-letter words on the client port (`FourLetterCommands`), with 3.8's whitelist rule and
//! output formats.

use std::fmt::Write;
use std::net::SocketAddr;

use crate::pipeline::Core;

/// Every word 3.8 recognises as the first four bytes of a connection.
pub(crate) const FOUR_LETTER_WORDS: &[&str] = &[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr", "stat",
    "wchc", "wchp", "wchs", "mntr", "isro", "hash",
];

pub(crate) const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests\n";

/// The version line's text (the part tools parse is before the first `-`).
pub(crate) const VERSION: &str = "3.8.0-zookeeper-rs, built on 2026-01-01 00:00 UTC";

/// `ZooKeeperServer.getDirSize`: the lengths of every file below `dir`.
pub(crate) fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// The line `stat` and `cons` print for the connection asking: 3.8 lists it too, not
/// interested in reading (`[0]`), its word received and its answer not yet sent.
fn asker_line(o: &mut String, asker: SocketAddr) {
    let _ = writeln!(
        o,
        " /{}:{}[0](queued=0,recved=1,sent=0)",
        asker.ip(),
        asker.port()
    );
}

/// A file under /proc, trimmed; `<NA>` (what Java prints for a missing property) when absent.
fn proc_value(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "<NA>".to_owned())
}

/// `InetAddress.getLocalHost().getCanonicalHostName()` as the hosts file answers it: the
/// address the host name maps to, then the first name of that address's first line.
fn canonical_host_name(host: &str) -> String {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let lines: Vec<Vec<&str>> = hosts
        .lines()
        .map(|l| {
            l.split('#')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect()
        })
        .filter(|f: &Vec<&str>| f.len() >= 2)
        .collect();
    let Some(ip) = lines.iter().find(|f| f[1..].contains(&host)).map(|f| f[0]) else {
        return host.to_owned();
    };
    lines
        .iter()
        .find(|f| f[0] == ip)
        .map_or_else(|| host.to_owned(), |f| f[1].to_owned())
}

/// Java's `user.name`: the passwd entry of our uid.
fn user_name() -> String {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next().map(str::to_owned))
        });
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    uid.and_then(|uid| {
        passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid).then(|| f[0].to_owned())
        })
    })
    .or_else(|| std::env::var("USER").ok())
    .unwrap_or_else(|| "<NA>".to_owned())
}

/// Java's `os.arch` for Rust's architecture name.
fn java_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        "aarch64" => "aarch64",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        other => other,
    }
}

fn java_date(ms: i64) -> String {
    // Java's Date.toString() in UTC: "EEE MMM dd HH:mm:ss zzz yyyy".
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    // Civil from days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!("{weekday} {mon} {d:02} {h:02}:{m:02}:{s:02} UTC {year}")
}

impl Core {
    /// The text a four-letter word answers with.
    pub(crate) fn four_letter(&mut self, word: &str, asker: SocketAddr) -> String {
        if !self
            .config
            .four_letter_whitelist
            .allows(word, self.config.read_only_mode_enabled)
        {
            return format!("{word} is not executed because it is not in the whitelist.\n");
        }
        let mut o = String::new();
        if !self.is_serving() && !matches!(word, "ruok" | "envi") {
            // An ensemble member without a leader (3.8's ZK_NOT_SERVING).
            return if word == "isro" {
                "null".to_owned()
            } else {
                "This ZooKeeper instance is not currently serving requests\n".to_owned()
            };
        }
        match word {
            "ruok" => o.push_str("imok"),
            "srvr" | "stat" => {
                let _ = writeln!(o, "Zookeeper version: {VERSION}");
                if word == "stat" {
                    o.push_str("Clients:\n");
                    let mut ids: Vec<_> = self.conns.keys().copied().collect();
                    ids.sort();
                    for id in ids {
                        let c = &self.conns[&id];
                        let _ = writeln!(
                            o,
                            " /{}:{}[1](queued={},recved={},sent={})",
                            c.addr.ip(),
                            c.addr.port(),
                            c.outstanding,
                            c.shared.stats.received(),
                            c.shared.stats.sent()
                        );
                    }
                    asker_line(&mut o, asker);
                    o.push('\n');
                }
                let s = &self.stats;
                let _ = writeln!(
                    o,
                    "Latency min/avg/max: {}/{}/{}",
                    s.min(),
                    java_double(s.avg()),
                    s.max()
                );
                let _ = writeln!(o, "Received: {}", s.received());
                let _ = writeln!(o, "Sent: {}", s.sent());
                let _ = writeln!(o, "Connections: {}", self.conns.len() + 1);
                let _ = writeln!(o, "Outstanding: {}", self.outstanding());
                let _ = writeln!(o, "Zxid: 0x{:x}", self.last_zxid());
                let _ = writeln!(o, "Mode: {}", self.mode_name());
                let _ = writeln!(o, "Node count: {}", self.tree.read().node_count() + 1);
            }
            "conf" => {
                let c = &self.config;
                let _ = writeln!(o, "clientPort={}", c.client_port.map_or(-1, i32::from));
                let _ = writeln!(
                    o,
                    "secureClientPort={}",
                    c.secure_client_port.map_or(-1, i32::from)
                );
                let _ = writeln!(o, "dataDir={}", abs(&self.snap_dir));
                let _ = writeln!(o, "dataDirSize={}", dir_size(&self.snap_dir));
                let _ = writeln!(o, "dataLogDir={}", abs(&self.log_dir));
                let _ = writeln!(o, "dataLogSize={}", dir_size(&self.log_dir));
                let _ = writeln!(o, "tickTime={}", c.tick_ms);
                let _ = writeln!(o, "maxClientCnxns={}", c.max_client_cnxns);
                let _ = writeln!(o, "minSessionTimeout={}", c.min_session_timeout_ms);
                let _ = writeln!(o, "maxSessionTimeout={}", c.max_session_timeout_ms);
                let _ = writeln!(
                    o,
                    "clientPortListenBacklog={}",
                    c.client_port_listen_backlog
                );
                let _ = writeln!(o, "serverId={}", c.server_id);
            }
            "cons" => {
                let mut ids: Vec<_> = self.conns.keys().copied().collect();
                ids.sort();
                for id in ids {
                    let c = &self.conns[&id];
                    let _ = write!(
                        o,
                        " /{}:{}[1](queued={},recved={},sent={}",
                        c.addr.ip(),
                        c.addr.port(),
                        c.outstanding,
                        c.shared.stats.received(),
                        c.shared.stats.sent()
                    );
                    if let Some(sid) = c.session() {
                        let last = c.shared.last();
                        let _ = write!(
                            o,
                            ",sid=0x{sid:x},lop={},est={},to={}",
                            last.op, c.established_ms, c.timeout_ms
                        );
                        if last.cxid >= 0 {
                            let _ = write!(o, ",lcxid=0x{:x}", last.cxid);
                        }
                        let _ = write!(
                            o,
                            ",lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
                            last.zxid,
                            last.response_ms,
                            last.latency,
                            c.shared.stats.min(),
                            c.shared.stats.avg() as u64,
                            c.shared.stats.max()
                        );
                    }
                    o.push_str(")\n");
                }
                asker_line(&mut o, asker);
                o.push('\n');
            }
            "crst" => {
                for c in self.conns.values_mut() {
                    c.shared.stats.reset();
                }
                o.push_str("Connection stats reset.\n");
            }
            "srst" => {
                // ServerStats.reset: latencies, packet counts, response sizes and the metrics.
                self.stats.reset();
                self.metrics.reset();
                o.push_str("Server stats reset.\n");
            }
            "dump" => {
                let buckets = self.session_buckets();
                o.push_str("SessionTracker dump:\n");
                let _ = writeln!(
                    o,
                    "Session Sets ({})/({}):",
                    buckets.len(),
                    self.sessions.len()
                );
                let offset = crate::pipeline::wall_ms() - self.now();
                for (t, ids) in &buckets {
                    let _ = writeln!(o, "{} expire at {}:", ids.len(), java_date(t + offset));
                    for id in ids {
                        let _ = writeln!(o, "\t0x{id:x}");
                    }
                }
                o.push_str("ephemeral nodes dump:\n");
                let owners = self.tree.read().ephemeral_sessions();
                let _ = writeln!(o, "Sessions with Ephemerals ({}):", owners.len());
                for s in owners {
                    let _ = writeln!(o, "0x{:x}:", s.0);
                    for p in self.tree.read().ephemerals(s) {
                        let _ = writeln!(o, "\t{p}");
                    }
                }
                o.push_str("Connections dump:\n");
                self.dump_connections(&mut o, asker, offset);
            }
            "envi" => {
                o.push_str("Environment:\n");
                for (k, v) in environment() {
                    let _ = writeln!(o, "{k}={v}");
                }
            }
            "wchs" => {
                let (data, _) = self.tree.read().watch_summary();
                let _ = writeln!(
                    o,
                    "{} connections watching {} paths\nTotal watches:{}",
                    data.watchers, data.paths, data.watches
                );
            }
            "wchc" => {
                for (sid, paths) in self.watches_by_session() {
                    let _ = writeln!(o, "0x{sid:x}");
                    for p in paths {
                        let _ = writeln!(o, "\t{p}");
                    }
                }
                o.push('\n');
            }
            "wchp" => {
                for (p, sids) in self.watches_by_path() {
                    let _ = writeln!(o, "{p}");
                    for s in sids {
                        let _ = writeln!(o, "\t0x{s:x}");
                    }
                }
                o.push('\n');
            }
            "dirs" => {
                let _ = writeln!(o, "datadir_size: {}", dir_size(&self.snap_dir));
                let _ = writeln!(o, "logdir_size: {}", dir_size(&self.log_dir));
            }
            "isro" => o.push_str("rw"),
            "gtmk" | "stmk" => {
                let _ = write!(o, "{}", self.trace_mask);
            }
            "hash" => {
                for (zxid, digest) in &self.digests {
                    let _ = writeln!(o, "{:x}: {digest}", zxid.0);
                }
            }
            "mntr" => {
                // The asking connection counts as alive, as in 3.8.
                for (k, v) in self.monitor_values(true) {
                    let text = match &v {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Number(n) if n.is_f64() => {
                            java_double(n.as_f64().unwrap_or(0.0))
                        }
                        other => other.to_string(),
                    };
                    let _ = writeln!(o, "zk_{k}\t{text}");
                }
            }
            _ => {}
        }
        o
    }
}

/// `Environment.list()`: what `envi` and the `environment` command print.
pub(crate) fn environment() -> Vec<(&'static str, String)> {
    let host = proc_value("/proc/sys/kernel/hostname");
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "<NA>".into());
    let home = std::env::var("HOME").unwrap_or_else(|_| "<NA>".into());
    // The java.* properties and the JVM heap figures (os.memory.*) describe a JVM this server
    // does not run on: they print `<NA>`, what Java itself prints for a property it does not
    // have, rather than a made-up value. java.io.tmpdir is the temp dir we would use; the os.*
    // and user.* values are the real ones.
    let na = || "<NA>".to_owned();
    vec![
        ("zookeeper.version", VERSION.to_owned()),
        ("host.name", canonical_host_name(&host)),
        ("java.version", na()),
        ("java.vendor", na()),
        ("java.home", na()),
        ("java.class.path", na()),
        ("java.library.path", na()),
        ("java.io.tmpdir", std::env::temp_dir().display().to_string()),
        ("java.compiler", na()),
        ("os.name", proc_value("/proc/sys/kernel/ostype")),
        ("os.arch", java_arch().to_owned()),
        ("os.version", proc_value("/proc/sys/kernel/osrelease")),
        ("user.name", user_name()),
        ("user.home", home),
        ("user.dir", cwd),
        ("os.memory.free", na()),
        ("os.memory.max", na()),
        ("os.memory.total", na()),
    ]
}

/// Java system properties that describe this process rather than a JVM (`system_properties`).
pub(crate) fn process_properties() -> Vec<(&'static str, String)> {
    let env: std::collections::HashMap<&str, String> = environment().into_iter().collect();
    let mut out: Vec<(&'static str, String)> = [
        "java.io.tmpdir",
        "os.arch",
        "os.name",
        "os.version",
        "user.dir",
        "user.home",
        "user.name",
    ]
    .into_iter()
    .filter_map(|k| env.get(k).map(|v| (k, v.clone())))
    .collect();
    out.extend([
        ("file.separator", "/".to_owned()),
        ("line.separator", "\n".to_owned()),
        ("path.separator", ":".to_owned()),
    ]);
    out
}

/// A value of `mntr`/`monitor`, rounded as `ServerStats.getAvgLatency` rounds (4 decimals).
fn avg(v: f64) -> serde_json::Value {
    serde_json::Value::from((v * 10_000.0).round() / 10_000.0)
}

impl Core {
    /// The session expiry buckets (`SessionTracker` dump): expiry time on the core's clock and
    /// the sessions that expire then.
    pub(crate) fn session_buckets(&self) -> Vec<(i64, Vec<i64>)> {
        self.sessions
            .buckets()
            .map(|(t, s)| (t, s.iter().copied().collect()))
            .collect()
    }

    /// Data watches (`getData`/`exists`) by the session of the connection that set them, in
    /// connection order (`wchc`, `watches`).
    pub(crate) fn watches_by_session(&self) -> Vec<(i64, Vec<String>)> {
        let mut ids: Vec<_> = self.conns.keys().copied().collect();
        ids.sort();
        ids.into_iter()
            .filter_map(|id| {
                let sid = self.conns[&id].session().unwrap_or(0);
                let (paths, _) = self.tree.read().watched_paths(zk_datatree::WatcherId(id));
                (!paths.is_empty()).then_some((sid, paths))
            })
            .collect()
    }

    /// The same watches by path (`wchp`, `watches_by_path`).
    pub(crate) fn watches_by_path(&self) -> std::collections::BTreeMap<String, Vec<i64>> {
        let mut by_path: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
        for (sid, paths) in self.watches_by_session() {
            for p in paths {
                by_path.entry(p).or_default().push(sid);
            }
        }
        by_path
    }

    pub(crate) fn ephemerals_count(&self) -> usize {
        let tree = self.tree.read();
        tree.ephemeral_sessions()
            .into_iter()
            .map(|sid| tree.ephemerals(sid).len())
            .sum()
    }

    /// DataTree.approximateDataSize: path and data lengths of every entry of its node map, where
    /// the root is there twice, as "" and as "/".
    pub(crate) fn approximate_data_size(&self) -> usize {
        self.tree
            .read()
            .walk()
            .map(|n| {
                let data = n.data.map_or(0, |d| d.len());
                let entries = if n.path.is_empty() { 2 } else { 1 };
                (n.path.len() + data) * entries + usize::from(n.path.is_empty())
            })
            .sum()
    }

    /// The gauges 3.8 registers (`ZooKeeperServer.registerMetrics`, and the leader's), as this
    /// server measures them. `asker` counts the asking 4lw connection among the alive ones.
    pub(crate) fn gauges(&self, asker: bool) -> Vec<(&'static str, serde_json::Value)> {
        use serde_json::Value;
        let s = &self.stats;
        let (data, child) = self.tree.read().watch_summary();
        let responses = self.metrics.client_response_stats();
        let mut out: Vec<(&'static str, Value)> = vec![
            ("avg_latency", avg(s.avg())),
            ("max_latency", Value::from(s.max())),
            ("min_latency", Value::from(s.min())),
            ("packets_received", Value::from(s.received())),
            ("packets_sent", Value::from(s.sent())),
            (
                "num_alive_connections",
                Value::from(self.conns.len() + usize::from(asker)),
            ),
            ("outstanding_requests", Value::from(self.outstanding())),
            (
                "uptime",
                Value::from(self.started.elapsed().as_millis() as u64),
            ),
            (
                "znode_count",
                Value::from(self.tree.read().node_count() + 1),
            ),
            ("watch_count", Value::from(data.watches + child.watches)),
            ("ephemerals_count", Value::from(self.ephemerals_count())),
            (
                "approximate_data_size",
                Value::from(self.approximate_data_size()),
            ),
            ("open_file_descriptor_count", Value::from(open_fds())),
        ];
        // Left out, not guessed, when /proc does not say.
        if let Some(max) = max_fds() {
            out.push(("max_file_descriptor_count", Value::from(max)));
        }
        out.extend([
            ("global_sessions", Value::from(self.sessions.len())),
            // Local sessions (localSessionsEnabled) are not implemented: none ever exist.
            ("local_sessions", Value::from(0)),
            (
                "auth_failed_count",
                Value::from(self.metrics.auth_failed_count()),
            ),
            ("last_client_response_size", Value::from(responses.last)),
            ("max_client_response_size", Value::from(responses.max)),
            ("min_client_response_size", Value::from(responses.min)),
        ]);
        out.extend(
            self.leader_gauges()
                .into_iter()
                .map(|(k, v)| (k, Value::from(v))),
        );
        out
    }

    /// `mntr` and the `monitor` command: `dumpMonitorValues`, the gauges, then the metrics
    /// provider's dump.
    pub(crate) fn monitor_values(&self, asker: bool) -> Vec<(String, serde_json::Value)> {
        use serde_json::Value;
        let mut out: Vec<(String, Value)> = vec![
            ("version".into(), Value::from(VERSION)),
            ("server_state".into(), Value::from(self.mode_name())),
        ];
        out.extend(
            self.gauges(asker)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v)),
        );
        out.push((
            "digest_mismatches_count".into(),
            Value::from(self.digest_mismatches),
        ));
        self.metrics.dump(&mut out);
        out
    }

    /// The Prometheus exposition: the gauges sampled now, then the counters and summaries.
    pub(crate) fn prometheus_text(&self) -> String {
        let gauges: Vec<(String, f64)> = self
            .gauges(false)
            .into_iter()
            .filter_map(|(k, v)| v.as_f64().map(|f| (k.to_owned(), f)))
            .collect();
        let counters = [("digest_mismatches_count", self.digest_mismatches)];
        self.metrics.render_prometheus(&gauges, &counters)
    }

    /// `NIOServerCnxnFactory.dumpConnections`: the connection expiry queue, whose buckets are
    /// `nio.sessionlessCnxnTimeout` wide. A connection with a session expires with it; one
    /// without (the asker included) a sessionless timeout after it came.
    fn dump_connections(&self, o: &mut String, asker: SocketAddr, offset: i64) {
        let interval = (self.config.sessionless_cnxn_timeout_ms as i64).max(1);
        let sessionless = self.config.sessionless_cnxn_timeout_ms as i64;
        let mut session_expiry = std::collections::HashMap::new();
        for (t, ids) in self.sessions.buckets() {
            for id in ids {
                session_expiry.insert(*id, t);
            }
        }
        let mut buckets: std::collections::BTreeMap<i64, Vec<(SocketAddr, i64)>> =
            Default::default();
        let mut entries: Vec<(i64, SocketAddr, i64)> = self
            .conns
            .values()
            .map(|c| {
                let sid = c.session().unwrap_or(0);
                let t = session_expiry
                    .get(&sid)
                    .copied()
                    .unwrap_or(c.established_ms - offset + sessionless);
                (t, c.addr, sid)
            })
            .collect();
        entries.push((self.now() + sessionless, asker, 0));
        for (t, addr, sid) in entries {
            let bucket = (t / interval + 1) * interval;
            buckets.entry(bucket).or_default().push((addr, sid));
        }
        let total: usize = buckets.values().map(Vec::len).sum();
        let _ = writeln!(o, "Connections Sets ({})/({total}):", buckets.len());
        for (t, mut conns) in buckets {
            conns.sort();
            let _ = writeln!(o, "{} expire at {}:", conns.len(), java_date(t + offset));
            for (addr, sid) in conns {
                let _ = writeln!(
                    o,
                    "\tip: /{}:{} sessionId: 0x{sid:x}",
                    addr.ip(),
                    addr.port()
                );
            }
        }
    }
}

pub(crate) fn abs(p: &std::path::Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// The soft limit on open files (what `getMaxFileDescriptorCount` reports), from /proc.
fn max_fds() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// A double as Java prints it for these stats (at most 4 decimals, at least one).
pub(crate) fn java_double(v: f64) -> String {
    let rounded = (v * 10_000.0).round() / 10_000.0;
    let mut s = format!("{rounded}");
    if !s.contains('.') {
        s.push_str(".0");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_doubles() {
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(java_date(1_700_000_000_000), "Tue Nov 14 22:13:20 UTC 2023");
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(1.0 / 9.0 * 10.0), "1.1111");
    }
}
