//! Latency histograms, error counts and CPU/RSS samples of processes from /proc.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// What one task measured; tasks merge theirs at the end.
#[derive(Debug)]
pub(crate) struct Tally {
    /// Latencies in µs, 3 significant digits.
    pub(crate) latency: Histogram<u64>,
    pub(crate) errors: BTreeMap<String, u64>,
}

impl Tally {
    pub(crate) fn new() -> Tally {
        Tally {
            latency: Histogram::new(3).expect("3 significant digits is valid"),
            errors: BTreeMap::new(),
        }
    }

    pub(crate) fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        // `record` grows the auto-resizing histogram (`saturating_record` would clamp instead).
        if self.latency.record(us).is_err() {
            self.latency.saturating_record(us);
        }
    }

    pub(crate) fn error(&mut self, kind: impl std::fmt::Debug) {
        self.error_named(&format!("{kind:?}"));
    }

    /// Counts an error by name; `Custom(..)`, `UnexpectedErrorCode(-7)`: by variant.
    pub(crate) fn error_named(&mut self, name: &str) {
        let name = name.trim_matches('"');
        let end = name.find(['(', ' ', '{']).unwrap_or(name.len());
        *self.errors.entry(name[..end].to_owned()).or_default() += 1;
    }

    pub(crate) fn merge(&mut self, other: &Tally) {
        self.latency
            .add(&other.latency)
            .expect("histograms of the same shape");
        for (kind, n) in &other.errors {
            *self.errors.entry(kind.clone()).or_default() += n;
        }
    }

    pub(crate) fn ops(&self) -> u64 {
        self.latency.len()
    }

    pub(crate) fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// `{count, mean, min, p50, p90, p99, p999, max}` in µs.
pub(crate) fn latency_json(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return json!({"count": 0});
    }
    json!({
        "count": h.len(),
        "mean": (h.mean() * 10.0).round() / 10.0,
        "min": h.min(),
        "p50": h.value_at_quantile(0.50),
        "p90": h.value_at_quantile(0.90),
        "p99": h.value_at_quantile(0.99),
        "p999": h.value_at_quantile(0.999),
        "max": h.max(),
    })
}

/// The kernel reports process times in USER_HZ, which is 100 on every Linux ABI.
const USER_HZ: f64 = 100.0;

/// utime + stime of a process in seconds, from `/proc/<pid>/stat` (all its threads).
pub(crate) fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_cpu(&stat)
}

pub(crate) fn parse_stat_cpu(stat: &str) -> Option<f64> {
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 3 (state) is fields[0]; utime is field 14, stime field 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// Resident set size in KiB, from `/proc/<pid>/status`.
pub(crate) fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_kb(&status, "VmRSS:")
}

pub(crate) fn parse_status_kb(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Machine-wide (busy, steal) CPU seconds from the first line of `/proc/stat`.
fn machine_cpu() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    parse_machine_cpu(stat.lines().next()?)
}

pub(crate) fn parse_machine_cpu(line: &str) -> Option<(f64, f64)> {
    let v: Vec<f64> = line
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal ...
    let busy = v.first()? + v.get(1)? + v.get(2)? + v.get(5)? + v.get(6)?;
    let steal = v.get(7).copied().unwrap_or(0.0);
    Some((busy / USER_HZ, steal / USER_HZ))
}

/// CPU counters at one instant.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    servers: Vec<Option<f64>>,
    client: Option<f64>,
    machine: Option<(f64, f64)>,
}

impl Sample {
    pub(crate) fn take(pids: &[u32]) -> Sample {
        Sample {
            servers: pids.iter().map(|p| cpu_seconds(&p.to_string())).collect(),
            client: cpu_seconds("self"),
            machine: machine_cpu(),
        }
    }
}

/// The JSON fields of the resources used between two samples `wall` apart while `ops`
/// operations completed: server CPU (total, per op, % of one core), server RSS now,
/// the load generator's CPU, and the rest of the machine (a noise indicator).
pub(crate) fn resources_json(
    pids: &[u32],
    start: &Sample,
    end: &Sample,
    wall: Duration,
    ops: u64,
) -> Value {
    let wall = wall.as_secs_f64().max(1e-9);
    let pct = |s: f64| (s / wall * 1000.0).round() / 10.0;
    let mut out = serde_json::Map::new();
    let client = match (start.client, end.client) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    if let Some(c) = client {
        out.insert("client_cpu_pct".into(), json!(pct(c)));
    }
    let mut server = None;
    if !pids.is_empty() {
        let used: Option<f64> = start
            .servers
            .iter()
            .zip(&end.servers)
            .map(|(a, b)| match (a, b) {
                (Some(a), Some(b)) => Some(b - a),
                // A process killed during the window (failover): count what it used until then
                // as unknown rather than zero.
                _ => None,
            })
            .sum();
        if let Some(used) = used {
            server = Some(used);
            out.insert("server_cpu_s".into(), json!((used * 100.0).round() / 100.0));
            out.insert("server_cpu_pct".into(), json!(pct(used)));
            if ops > 0 {
                out.insert(
                    "server_cpu_us_per_op".into(),
                    json!((used * 1e6 / ops as f64 * 100.0).round() / 100.0),
                );
            }
        }
        let rss: Vec<Option<u64>> = pids.iter().map(|&p| rss_kb(p)).collect();
        if rss.iter().all(Option::is_some) {
            out.insert(
                "server_rss_kb".into(),
                json!(rss.iter().flatten().sum::<u64>()),
            );
        }
        out.insert("server_rss_kb_each".into(), json!(rss));
    }
    if let (Some((b0, s0)), Some((b1, s1))) = (start.machine, end.machine) {
        out.insert("system_cpu_pct".into(), json!(pct(b1 - b0)));
        out.insert("steal_pct".into(), json!(pct(s1 - s0)));
        let other = (b1 - b0) - client.unwrap_or(0.0) - server.unwrap_or(0.0);
        out.insert("other_cpu_pct".into(), json!(pct(other.max(0.0))));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_the_command_name() {
        let stat = "1234 (java (main) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 30 0";
        assert_eq!(parse_stat_cpu(stat), Some(3.25));
        assert_eq!(parse_stat_cpu("garbage"), None);
    }

    #[test]
    fn status_and_machine_lines() {
        let status = "Name:\tjava\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(parse_status_kb(status, "VmRSS:"), Some(1024));
        assert_eq!(parse_status_kb(status, "VmSwap:"), None);
        let (busy, steal) = parse_machine_cpu("cpu  100 5 50 1000 7 3 2 4 0 0").unwrap();
        assert!((busy - 1.6).abs() < 1e-9);
        assert!((steal - 0.04).abs() < 1e-9);
    }

    #[test]
    fn tallies_merge_and_errors_count_by_variant() {
        let mut a = Tally::new();
        a.record(Duration::from_micros(100));
        a.error(zookeeper_client::Error::ConnectionLoss);
        let mut b = Tally::new();
        b.record(Duration::from_micros(300));
        b.error(zookeeper_client::Error::UnexpectedErrorCode(-7));
        b.error(zookeeper_client::Error::ConnectionLoss);
        b.error_named("Timeout");
        b.error("ArmFailed");
        a.merge(&b);
        assert_eq!(a.ops(), 2);
        assert_eq!(a.error_count(), 5);
        assert_eq!(a.errors["Timeout"], 1);
        assert_eq!(a.errors["ArmFailed"], 1);
        assert_eq!(a.errors["ConnectionLoss"], 2);
        assert_eq!(a.errors["UnexpectedErrorCode"], 1);
        let json = latency_json(&a.latency);
        assert_eq!(json["count"], 2);
        assert_eq!(json["p50"], 100);
        assert_eq!(json["max"], 300);
    }

    #[test]
    fn resources_of_this_process() {
        let me = std::process::id();
        let start = Sample::take(&[me]);
        let end = Sample::take(&[me]);
        let json = resources_json(&[me], &start, &end, Duration::from_secs(1), 10);
        assert!(json["server_rss_kb"].as_u64().unwrap() > 0);
        assert!(json["server_cpu_us_per_op"].is_number());
    }
}
