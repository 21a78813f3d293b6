//! Quotas: the `StatsTrack` text kept in `/zookeeper/quota/<path>/zookeeper_limits` and
//! `zookeeper_stats`, and the set of paths that have a quota.

use std::collections::BTreeMap;

/// `/zookeeper/quota`.
pub const QUOTA_ROOT: &str = "/zookeeper/quota";
/// The node holding the limits of a quota.
pub const LIMIT_NODE: &str = "zookeeper_limits";
/// The node holding the current usage of a quota.
pub const STAT_NODE: &str = "zookeeper_stats";

/// `Quotas.limitPath`.
pub fn limit_path(path: &str) -> String {
    format!("{QUOTA_ROOT}{path}/{LIMIT_NODE}")
}

/// `Quotas.statPath`.
pub fn stat_path(path: &str) -> String {
    format!("{QUOTA_ROOT}{path}/{STAT_NODE}")
}

/// `StatsTrack`: `count=N,bytes=N` plus, from 3.7, `;countHardLimit=N;byteHardLimit=N`. A value
/// of -1 (or a missing key) means "not set".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatsTrack {
    stats: BTreeMap<String, i64>,
}

impl StatsTrack {
    /// Parses the node text as Java does; entries that do not parse are skipped instead of
    /// throwing, since a bad quota node must not stop the tree.
    pub fn parse(text: &[u8]) -> Self {
        let text = String::from_utf8_lossy(text);
        let mut stats = BTreeMap::new();
        for pair in text.split([',', ';']).filter(|p| !p.is_empty()) {
            let mut kv = pair.split('=');
            let key = kv.next().unwrap_or_default();
            let value = kv.next().unwrap_or_default();
            let value = if value.is_empty() {
                Some(-1)
            } else {
                value.parse::<i64>().ok()
            };
            if let Some(value) = value {
                stats.insert(key.to_owned(), value);
            }
        }
        StatsTrack { stats }
    }

    fn get(&self, key: &str) -> i64 {
        self.stats.get(key).copied().unwrap_or(-1)
    }

    pub fn count(&self) -> i64 {
        self.get("count")
    }
    pub fn bytes(&self) -> i64 {
        self.get("bytes")
    }
    pub fn count_hard_limit(&self) -> i64 {
        self.get("countHardLimit")
    }
    pub fn byte_hard_limit(&self) -> i64 {
        self.get("byteHardLimit")
    }
    pub fn set_count(&mut self, v: i64) {
        self.stats.insert("count".into(), v);
    }
    pub fn set_bytes(&mut self, v: i64) {
        self.stats.insert("bytes".into(), v);
    }

    /// The text Java's `toString` writes: count and bytes first, then the other keys sorted.
    pub fn to_text(&self) -> String {
        let mut out = format!("count={},bytes={}", self.count(), self.bytes());
        let rest: Vec<(&String, &i64)> = self
            .stats
            .iter()
            .filter(|(k, _)| k.as_str() != "count" && k.as_str() != "bytes")
            .collect();
        if !rest.is_empty() {
            out.push('=');
            for (k, v) in rest {
                out.push_str(&format!(";{k}={v}"));
            }
        }
        out
    }
}

/// Which limit a change would pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaExceeded {
    /// The path with the quota.
    pub quota_path: String,
    /// `count` or `bytes`.
    pub what: &'static str,
    pub new_value: i64,
    pub limit: i64,
    pub hard: bool,
}

/// `ZooKeeperServer.checkQuota` for one quota: the soft or hard limit the change would pass.
pub(crate) fn check(
    quota_path: &str,
    limits: &StatsTrack,
    current: &StatsTrack,
    bytes_diff: i64,
    count_diff: i64,
) -> Vec<QuotaExceeded> {
    let mut out = Vec::new();
    let check_count = count_diff != 0 && (limits.count() > -1 || limits.count_hard_limit() > -1);
    let check_bytes = bytes_diff != 0 && (limits.bytes() > -1 || limits.byte_hard_limit() > -1);
    if check_count {
        let new_value = current.count() + count_diff;
        let hard = limits.count_hard_limit() > -1;
        let limit = if hard {
            limits.count_hard_limit()
        } else {
            limits.count()
        };
        if new_value > limit {
            out.push(QuotaExceeded {
                quota_path: quota_path.to_owned(),
                what: "count",
                new_value,
                limit,
                hard,
            });
            if hard {
                return out;
            }
        }
    }
    if check_bytes {
        let new_value = current.bytes() + bytes_diff;
        let hard = limits.byte_hard_limit() > -1;
        let limit = if hard {
            limits.byte_hard_limit()
        } else {
            limits.bytes()
        };
        if new_value > limit {
            out.push(QuotaExceeded {
                quota_path: quota_path.to_owned(),
                what: "bytes",
                new_value,
                limit,
                hard,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format_like_java() {
        let s = StatsTrack::parse(b"count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=10");
        assert_eq!(s.count(), 5);
        assert_eq!(s.bytes(), -1);
        assert_eq!(s.count_hard_limit(), 10);
        assert_eq!(
            s.to_text(),
            "count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=10"
        );
        let mut t = StatsTrack::default();
        t.set_count(2);
        t.set_bytes(7);
        assert_eq!(t.to_text(), "count=2,bytes=7");
        assert_eq!(StatsTrack::parse(b"").count(), -1);
    }

    #[test]
    fn soft_and_hard_limits() {
        let limits = StatsTrack::parse(b"count=2,bytes=-1");
        let current = StatsTrack::parse(b"count=2,bytes=10");
        let soft = check("/q", &limits, &current, 0, 1);
        assert_eq!(soft.len(), 1);
        assert!(!soft[0].hard);
        let limits = StatsTrack::parse(b"count=-1,bytes=-1=;byteHardLimit=12;countHardLimit=-1");
        let hard = check("/q", &limits, &current, 3, 0);
        assert!(hard[0].hard);
        assert_eq!(hard[0].new_value, 13);
        assert!(check("/q", &limits, &current, 2, 1).is_empty());
    }

    #[test]
    fn paths() {
        assert_eq!(limit_path("/a"), "/zookeeper/quota/a/zookeeper_limits");
        assert_eq!(stat_path("/a"), "/zookeeper/quota/a/zookeeper_stats");
    }
}
