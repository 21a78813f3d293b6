//! Four-letter words on the client port (`FourLetterCommands`), with 3.8's whitelist rule and
//! output formats.

use std::fmt::Write;

use crate::pipeline::Core;

/// Every word 3.8 recognises as the first four bytes of a connection.
pub(crate) const FOUR_LETTER_WORDS: &[&str] = &[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr", "stat",
    "wchc", "wchp", "wchs", "mntr", "isro", "hash",
];

pub(crate) const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests\n";

/// The version line's text (the part tools parse is before the first `-`).
pub(crate) const VERSION: &str = "3.8.0-zookeeper-rs, built on 2026-01-01 00:00 UTC";

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
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
    pub(crate) fn four_letter(&mut self, word: &str) -> String {
        if !self
            .config
            .four_letter_whitelist
            .allows(word, self.config.read_only_mode_enabled)
        {
            return format!("{word} is not executed because it is not in the whitelist.\n");
        }
        let mut o = String::new();
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
                            c.stats.packets_received,
                            c.stats.packets_sent
                        );
                    }
                    o.push('\n');
                }
                let s = &self.stats;
                let _ = writeln!(
                    o,
                    "Latency min/avg/max: {}/{}/{}",
                    s.min_latency.unwrap_or(0),
                    java_double(s.avg()),
                    s.max_latency
                );
                let _ = writeln!(o, "Received: {}", s.packets_received);
                let _ = writeln!(o, "Sent: {}", s.packets_sent);
                let _ = writeln!(o, "Connections: {}", self.conns.len());
                let _ = writeln!(o, "Outstanding: {}", self.outstanding());
                let _ = writeln!(o, "Zxid: 0x{:x}", self.last_zxid());
                o.push_str("Mode: standalone\n");
                let _ = writeln!(o, "Node count: {}", self.tree.node_count() + 1);
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
                        c.stats.packets_received,
                        c.stats.packets_sent
                    );
                    if let Some(sid) = c.session {
                        let _ = write!(
                            o,
                            ",sid=0x{sid:x},lop={},est={},to={}",
                            c.last_op, c.established_ms, c.timeout_ms
                        );
                        if c.last_cxid >= 0 {
                            let _ = write!(o, ",lcxid=0x{:x}", c.last_cxid);
                        }
                        let _ = write!(
                            o,
                            ",lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
                            c.last_zxid,
                            c.last_response_ms,
                            c.last_latency,
                            c.stats.min_latency.unwrap_or(0),
                            c.stats.avg() as u64,
                            c.stats.max_latency
                        );
                    }
                    o.push_str(")\n");
                }
                o.push('\n');
            }
            "crst" => {
                for c in self.conns.values_mut() {
                    c.stats = Default::default();
                }
                o.push_str("Connection stats reset.\n");
            }
            "srst" => {
                self.stats = Default::default();
                o.push_str("Server stats reset.\n");
            }
            "dump" => {
                let buckets: Vec<(i64, Vec<i64>)> = self
                    .sessions
                    .buckets()
                    .map(|(t, s)| (t, s.iter().copied().collect()))
                    .collect();
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
                let owners = self.tree.ephemeral_sessions();
                let _ = writeln!(o, "Sessions with Ephemerals ({}):", owners.len());
                for s in owners {
                    let _ = writeln!(o, "0x{:x}:", s.0);
                    for p in self.tree.ephemerals(s) {
                        let _ = writeln!(o, "\t{p}");
                    }
                }
                o.push_str("Connections dump:\n");
                let _ = writeln!(o, "Connections Sets (0)/({}):", self.conns.len());
            }
            "envi" => {
                o.push_str("Environment:\n");
                let host = std::fs::read_to_string("/etc/hostname")
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_else(|_| "localhost".into());
                let cwd = std::env::current_dir()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                let user = std::env::var("USER").unwrap_or_default();
                let home = std::env::var("HOME").unwrap_or_default();
                let lines = [
                    ("zookeeper.version", VERSION.to_owned()),
                    ("host.name", host),
                    ("java.version", "17".to_owned()),
                    ("java.vendor", "zookeeper-rs".to_owned()),
                    ("java.home", String::new()),
                    ("java.class.path", String::new()),
                    ("java.library.path", String::new()),
                    ("java.io.tmpdir", std::env::temp_dir().display().to_string()),
                    ("java.compiler", "<NA>".to_owned()),
                    ("os.name", std::env::consts::OS.to_owned()),
                    ("os.arch", std::env::consts::ARCH.to_owned()),
                    ("os.version", String::new()),
                    ("user.name", user),
                    ("user.home", home),
                    ("user.dir", cwd),
                    ("os.memory.free", "0MB".to_owned()),
                    ("os.memory.max", "0MB".to_owned()),
                    ("os.memory.total", "0MB".to_owned()),
                ];
                for (k, v) in lines {
                    let _ = writeln!(o, "{k}={v}");
                }
            }
            "wchs" => {
                let (data, _) = self.tree.watch_summary();
                let _ = writeln!(
                    o,
                    "{} connections watching {} paths\nTotal watches:{}",
                    data.watchers, data.paths, data.watches
                );
            }
            "wchc" | "wchp" => {
                let mut by_session: Vec<(i64, Vec<String>)> = Vec::new();
                let mut ids: Vec<_> = self.conns.keys().copied().collect();
                ids.sort();
                for id in ids {
                    let sid = self.conns[&id].session.unwrap_or(0);
                    let (paths, _) = self.tree.watched_paths(zk_datatree::WatcherId(id));
                    if !paths.is_empty() {
                        by_session.push((sid, paths));
                    }
                }
                if word == "wchc" {
                    for (sid, paths) in by_session {
                        let _ = writeln!(o, "0x{sid:x}");
                        for p in paths {
                            let _ = writeln!(o, "\t{p}");
                        }
                    }
                } else {
                    let mut by_path: std::collections::BTreeMap<String, Vec<i64>> =
                        Default::default();
                    for (sid, paths) in by_session {
                        for p in paths {
                            by_path.entry(p).or_default().push(sid);
                        }
                    }
                    for (p, sids) in by_path {
                        let _ = writeln!(o, "{p}");
                        for s in sids {
                            let _ = writeln!(o, "\t0x{s:x}");
                        }
                    }
                }
                o.push('\n');
            }
            "dirs" => {
                let _ = writeln!(o, "datadir_size: {}", dir_size(&self.snap_dir));
                let _ = writeln!(o, "logdir_size: {}", dir_size(&self.log_dir));
            }
            "isro" => o.push_str("rw"),
            "gtmk" => o.push_str("306"),
            "stmk" => o.push_str("306"),
            "hash" => {
                for (zxid, digest) in &self.digests {
                    let _ = writeln!(o, "{:x}: {digest}", zxid.0);
                }
            }
            "mntr" => {
                let s = self.stats.clone();
                let (data, child) = self.tree.watch_summary();
                let ephemerals: usize = self
                    .tree
                    .ephemeral_sessions()
                    .into_iter()
                    .map(|sid| self.tree.ephemerals(sid).len())
                    .sum();
                let lines: Vec<(&str, String)> = vec![
                    ("version", VERSION.to_owned()),
                    ("server_state", "standalone".to_owned()),
                    ("avg_latency", java_double(s.avg())),
                    ("max_latency", s.max_latency.to_string()),
                    ("min_latency", s.min_latency.unwrap_or(0).to_string()),
                    ("packets_received", s.packets_received.to_string()),
                    ("packets_sent", s.packets_sent.to_string()),
                    ("num_alive_connections", self.conns.len().to_string()),
                    ("outstanding_requests", self.outstanding().to_string()),
                    ("uptime", self.started.elapsed().as_millis().to_string()),
                    ("znode_count", (self.tree.node_count() + 1).to_string()),
                    ("watch_count", (data.watches + child.watches).to_string()),
                    ("ephemerals_count", ephemerals.to_string()),
                    ("approximate_data_size", "0".to_owned()),
                    ("open_file_descriptor_count", open_fds().to_string()),
                    ("max_file_descriptor_count", "1048576".to_owned()),
                    ("global_sessions", self.sessions.len().to_string()),
                    ("local_sessions", "0".to_owned()),
                    ("auth_failed_count", "0".to_owned()),
                    ("digest_mismatches_count", "0".to_owned()),
                ];
                for (k, v) in lines {
                    let _ = writeln!(o, "zk_{k}\t{v}");
                }
            }
            _ => {}
        }
        o
    }
}

fn abs(p: &std::path::Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
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
