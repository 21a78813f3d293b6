//! `ServerMetrics` under 3.8's names: counters and summaries recorded where the work happens (the
//! core task, the sync thread, the connection tasks) through one shared [`Metrics`], and the
//! gauges the core samples when asked (`Core::gauges`).
//!
//! Two readers, as in 3.8. `mntr` and the `monitor` command dump them as DefaultMetricsProvider
//! does: a counter's value, a summary's `avg_`/`min_`/`max_`/`cnt_`/`sum_` (and `p50_`, `p95_`,
//! `p99_`, `p999_` for the advanced ones), all reset by `srst`. The Prometheus endpoint renders
//! them as PrometheusMetricsProvider (simpleclient 0.9) does: `# HELP`/`# TYPE` lines, counters
//! and gauges as doubles, summaries with `quantile="0.5"` (basic) or 0.5, 0.9 and 0.99 (advanced)
//! over a 10-minute window of 5 age buckets, then `_count` and `_sum`; never reset.
//!
//! Only what this server measures is here; a metric of 3.8 for machinery we do not have (response
//! caches, commit processor queues, throttling) is left out rather than exported as a constant.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A monotonically increasing count. `srst` moves the baseline `mntr` counts from; Prometheus
/// sees the total.
#[derive(Debug, Default)]
pub(crate) struct Counter {
    total: AtomicU64,
    baseline: AtomicU64,
}

impl Counter {
    pub(crate) fn add(&self, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn inc(&self) {
        self.add(1);
    }

    pub(crate) fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    fn since_reset(&self) -> u64 {
        self.total()
            .saturating_sub(self.baseline.load(Ordering::Relaxed))
    }

    fn reset(&self) {
        self.baseline.store(self.total(), Ordering::Relaxed);
    }
}

/// `MetricsContext.DetailLevel`: which quantiles a summary exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detail {
    Basic,
    Advanced,
}

/// Counts of values, each kept to 8 significant bits (below 256 exactly; above, within 1/128).
#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: BTreeMap<u64, u64>,
    count: u64,
}

impl Histogram {
    fn bucket(v: u64) -> u64 {
        if v < 256 {
            v
        } else {
            let shift = 64 - v.leading_zeros() - 8;
            (v >> shift) << shift
        }
    }

    fn insert(&mut self, v: u64) {
        *self.buckets.entry(Self::bucket(v)).or_insert(0) += 1;
        self.count += 1;
    }

    fn merge(&mut self, other: &Histogram) {
        for (bucket, n) in &other.buckets {
            *self.buckets.entry(*bucket).or_insert(0) += n;
        }
        self.count += other.count;
    }

    /// The smallest value with at least `q` of the values at or below it; `None` when empty.
    fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (value, n) in &self.buckets {
            seen += n;
            if seen >= rank {
                return Some(*value);
            }
        }
        self.buckets.keys().next_back().copied()
    }
}

/// simpleclient's defaults: quantiles over the last 10 minutes, in 5 rotating age buckets.
const MAX_AGE: Duration = Duration::from_secs(600);
const AGE_BUCKETS: usize = 5;

#[derive(Debug)]
struct SummaryState {
    /// Since start (Prometheus' `_count` and `_sum`).
    count: u64,
    sum: u64,
    /// A value goes into the current bucket only; the oldest is cleared when the next age
    /// starts, and a quantile merges them all: between 8 and 10 minutes of values, as
    /// simpleclient's copies in every bucket give, for one insert instead of five.
    window: [Histogram; AGE_BUCKETS],
    current: usize,
    rotated_at: Instant,
    /// Since start or the last `srst` (`mntr`).
    recent: Histogram,
    recent_sum: u64,
    min: u64,
    max: u64,
}

impl SummaryState {
    fn new(now: Instant) -> Self {
        SummaryState {
            count: 0,
            sum: 0,
            window: Default::default(),
            current: 0,
            rotated_at: now,
            recent: Histogram::default(),
            recent_sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    fn rotate(&mut self, now: Instant) {
        let step = MAX_AGE / AGE_BUCKETS as u32;
        if now.saturating_duration_since(self.rotated_at) >= MAX_AGE {
            self.window = Default::default();
            self.rotated_at = now;
            return;
        }
        while now.saturating_duration_since(self.rotated_at) >= step {
            self.current = (self.current + 1) % AGE_BUCKETS;
            self.window[self.current] = Histogram::default();
            self.rotated_at += step;
        }
    }
}

/// A distribution of observed values (milliseconds, bytes or counts).
#[derive(Debug)]
pub(crate) struct Summary {
    detail: Detail,
    state: Mutex<SummaryState>,
}

impl Summary {
    fn new(detail: Detail) -> Self {
        Summary {
            detail,
            state: Mutex::new(SummaryState::new(Instant::now())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SummaryState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn add(&self, value: u64) {
        self.add_at(value, Instant::now());
    }

    /// Records a duration in milliseconds.
    pub(crate) fn add_duration(&self, d: Duration) {
        self.add(d.as_millis() as u64);
    }

    fn add_at(&self, value: u64, now: Instant) {
        let mut s = self.lock();
        s.rotate(now);
        s.count += 1;
        s.sum = s.sum.saturating_add(value);
        let current = s.current;
        s.window[current].insert(value);
        s.recent.insert(value);
        s.recent_sum = s.recent_sum.saturating_add(value);
        s.min = s.min.min(value);
        s.max = s.max.max(value);
    }

    fn reset(&self) {
        let mut s = self.lock();
        s.recent = Histogram::default();
        s.recent_sum = 0;
        s.min = u64::MAX;
        s.max = 0;
    }

    /// The Prometheus quantiles of this detail level over the window (`None` when it is empty).
    fn quantiles_at(&self, now: Instant) -> Vec<(f64, Option<u64>)> {
        let mut s = self.lock();
        s.rotate(now);
        let mut current = Histogram::default();
        for h in &s.window {
            current.merge(h);
        }
        let qs: &[f64] = match self.detail {
            Detail::Basic => &[0.5],
            Detail::Advanced => &[0.5, 0.9, 0.99],
        };
        qs.iter().map(|q| (*q, current.quantile(*q))).collect()
    }

    /// `AvgMinMaxCounter.values()` (and the percentiles of `AvgMinMaxPercentileCounter`).
    fn dump(&self, name: &str, out: &mut Vec<(String, Value)>) {
        let s = self.lock();
        let count = s.recent.count;
        let avg = if count == 0 {
            0.0
        } else {
            (s.recent_sum as f64 / count as f64 * 10_000.0).round() / 10_000.0
        };
        let min = if count == 0 { 0 } else { s.min };
        out.push((format!("avg_{name}"), Value::from(avg)));
        out.push((format!("min_{name}"), Value::from(min)));
        out.push((format!("max_{name}"), Value::from(s.max)));
        out.push((format!("cnt_{name}"), Value::from(count)));
        out.push((format!("sum_{name}"), Value::from(s.recent_sum)));
        if self.detail == Detail::Advanced {
            for (label, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999)] {
                let v = s.recent.quantile(q).unwrap_or(0);
                out.push((format!("{label}_{name}"), Value::from(v)));
            }
        }
    }
}

/// `BufferStats`: the last, smallest and largest size seen, -1 before the first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BufferStats {
    pub(crate) last: i64,
    pub(crate) min: i64,
    pub(crate) max: i64,
}

impl Default for BufferStats {
    fn default() -> Self {
        BufferStats {
            last: -1,
            min: -1,
            max: -1,
        }
    }
}

impl BufferStats {
    pub(crate) fn record(&mut self, size: usize) {
        let size = size as i64;
        self.last = size;
        self.min = if self.min < 0 {
            size
        } else {
            self.min.min(size)
        };
        self.max = self.max.max(size);
    }
}

/// Declares the metrics: one field each, and the (3.8 name, field) lists the readers walk.
macro_rules! metrics {
    (
        counters { $($counter:ident = $cname:literal,)* }
        summaries { $($summary:ident = $sname:literal $detail:ident,)* }
    ) => {
        /// Every counter and summary this server records, under 3.8's names.
        #[derive(Debug)]
        pub(crate) struct Metrics {
            $(pub(crate) $counter: Counter,)*
            $(pub(crate) $summary: Summary,)*
            /// `ServerStats.fsyncThresholdExceedCount` (`server_stats`; not a ServerMetrics name).
            pub(crate) fsync_threshold_exceeded: Counter,
            /// `ServerStats.authFailedCount` (the `auth_failed_count` gauge).
            pub(crate) auth_failed: Counter,
            /// `ServerStats.clientResponseStats`: sizes of the frames sent to clients.
            client_responses: Mutex<BufferStats>,
        }

        impl Default for Metrics {
            fn default() -> Self {
                Metrics {
                    $($counter: Counter::default(),)*
                    $($summary: Summary::new(Detail::$detail),)*
                    fsync_threshold_exceeded: Counter::default(),
                    auth_failed: Counter::default(),
                    client_responses: Mutex::new(BufferStats::default()),
                }
            }
        }

        impl Metrics {
            fn counters(&self) -> Vec<(&'static str, &Counter)> {
                vec![$(($cname, &self.$counter),)*]
            }

            fn summaries(&self) -> Vec<(&'static str, &Summary)> {
                vec![$(($sname, &self.$summary),)*]
            }
        }
    };
}

metrics! {
    counters {
        looking_count = "looking_count",
        diff_count = "diff_count",
        snap_count = "snap_count",
        commit_count = "commit_count",
        proposal_count = "proposal_count",
        connection_request_count = "connection_request_count",
        connection_rejected = "connection_rejected",
        bytes_received_count = "bytes_received_count",
        revalidate_count = "revalidate_count",
        sessionless_connections_expired = "sessionless_connections_expired",
        learner_proposal_received_count = "learner_proposal_received_count",
        learner_commit_received_count = "learner_commit_received_count",
        prep_processor_request_queued = "prep_processor_request_queued",
        sync_processor_request_queued = "sync_processor_request_queued",
        response_bytes = "response_bytes",
        watch_bytes = "watch_bytes",
    }
    summaries {
        fsync_time = "fsynctime" Basic,
        snapshot_time = "snapshottime" Basic,
        db_init_time = "dbinittime" Basic,
        read_latency = "readlatency" Advanced,
        update_latency = "updatelatency" Advanced,
        election_time = "election_time" Basic,
        follower_sync_time = "follower_sync_time" Basic,
        observer_sync_time = "observer_sync_time" Basic,
        startup_txns_loaded = "startup_txns_loaded" Basic,
        sync_processor_batch_size = "sync_processor_batch_size" Basic,
        prep_process_time = "prep_process_time" Basic,
        node_created_watch_count = "node_created_watch_count" Basic,
        node_deleted_watch_count = "node_deleted_watch_count" Basic,
        node_changed_watch_count = "node_changed_watch_count" Basic,
        node_children_watch_count = "node_children_watch_count" Basic,
    }
}

impl Metrics {
    /// `srst`: what `mntr` shows starts again from zero (Prometheus' totals do not).
    pub(crate) fn reset(&self) {
        for (_, c) in self.counters() {
            c.reset();
        }
        for (_, s) in self.summaries() {
            s.reset();
        }
        self.fsync_threshold_exceeded.reset();
        self.auth_failed.reset();
        *self.responses() = BufferStats::default();
    }

    fn responses(&self) -> std::sync::MutexGuard<'_, BufferStats> {
        self.client_responses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// A frame sent to a client: `response_bytes` and the client response sizes.
    pub(crate) fn record_response(&self, size: usize) {
        self.response_bytes.add(size as u64);
        self.responses().record(size);
    }

    /// `ServerStats.getClientResponseStats()`.
    pub(crate) fn client_response_stats(&self) -> BufferStats {
        *self.responses()
    }

    pub(crate) fn fsync_threshold_exceed_count(&self) -> u64 {
        self.fsync_threshold_exceeded.since_reset()
    }

    pub(crate) fn auth_failed_count(&self) -> u64 {
        self.auth_failed.since_reset()
    }

    /// DefaultMetricsProvider's dump: counters, then each summary's statistics.
    pub(crate) fn dump(&self, out: &mut Vec<(String, Value)>) {
        for (name, c) in self.counters() {
            out.push((name.to_owned(), Value::from(c.since_reset())));
        }
        for (name, s) in self.summaries() {
            s.dump(name, out);
        }
    }

    /// The Prometheus text exposition (version 0.0.4) of the gauges the core sampled, the core's
    /// own counters, and every counter and summary here.
    pub(crate) fn render_prometheus(
        &self,
        gauges: &[(String, f64)],
        counters: &[(&str, u64)],
    ) -> String {
        self.render_prometheus_at(gauges, counters, Instant::now())
    }

    fn render_prometheus_at(
        &self,
        gauges: &[(String, f64)],
        core_counters: &[(&str, u64)],
        now: Instant,
    ) -> String {
        let mut o = String::new();
        let family = |o: &mut String, name: &str, kind: &str| {
            let _ = writeln!(o, "# HELP {name} {name}");
            let _ = writeln!(o, "# TYPE {name} {kind}");
        };
        for (name, value) in gauges {
            family(&mut o, name, "gauge");
            let _ = writeln!(o, "{name} {}", java_double(*value));
        }
        let counters = self
            .counters()
            .into_iter()
            .map(|(name, c)| (name, c.total()))
            .chain(core_counters.iter().copied());
        for (name, total) in counters {
            family(&mut o, name, "counter");
            let _ = writeln!(o, "{name} {}", java_double(total as f64));
        }
        for (name, s) in self.summaries() {
            family(&mut o, name, "summary");
            for (q, v) in s.quantiles_at(now) {
                let v = v.map_or(f64::NAN, |v| v as f64);
                let _ = writeln!(o, "{name}{{quantile=\"{q}\"}} {}", java_double(v));
            }
            let (count, sum) = {
                let st = s.lock();
                (st.count, st.sum)
            };
            let _ = writeln!(o, "{name}_count {}", java_double(count as f64));
            let _ = writeln!(o, "{name}_sum {}", java_double(sum as f64));
        }
        o
    }
}

/// A snapshot source that records in `snapshottime` how long a snapshot took: from the first
/// record read until the snapshot thread is done with it (written and synced, or failed). One
/// dropped unread (the thread was busy) records nothing. Once the copy it holds is dropped, the
/// memory it freed goes back to the system (see [`crate::memory`]).
pub(crate) struct Timed<S> {
    inner: Option<S>,
    started: Option<Instant>,
    metrics: std::sync::Arc<Metrics>,
}

impl<S> Timed<S> {
    pub(crate) fn new(inner: S, metrics: &std::sync::Arc<Metrics>) -> Self {
        Timed {
            inner: Some(inner),
            started: None,
            metrics: metrics.clone(),
        }
    }

    fn source(&mut self) -> &mut S {
        self.started.get_or_insert_with(Instant::now);
        self.inner.as_mut().expect("held until dropped")
    }
}

impl<S> std::fmt::Debug for Timed<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timed").finish_non_exhaustive()
    }
}

impl<S> Drop for Timed<S> {
    fn drop(&mut self) {
        if let Some(started) = self.started {
            self.metrics.snapshot_time.add_duration(started.elapsed());
        }
        if self.inner.take().is_some() {
            crate::memory::release_free_memory();
        }
    }
}

impl<S: zk_persistence::SnapshotSource> zk_persistence::SnapshotSource for Timed<S> {
    fn sessions(&mut self) -> Vec<(zk_jute::SessionId, i32)> {
        self.source().sessions()
    }

    fn acls(&mut self) -> Vec<(i64, Vec<zk_jute::Acl>)> {
        self.source().acls()
    }

    fn nodes(
        &mut self,
        visit: &mut dyn FnMut(zk_persistence::NodeRef<'_>) -> Result<(), zk_persistence::Error>,
    ) -> Result<(), zk_persistence::Error> {
        self.source().nodes(visit)
    }

    fn digest(&mut self) -> Option<zk_persistence::ZxidDigest> {
        self.source().digest()
    }
}

/// `Double.toString` as simpleclient writes sample values: `5.0`, `0.25`, `1.0E7`, `NaN`.
pub(crate) fn java_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let magnitude = v.abs();
    if v == 0.0 || (1e-3..1e7).contains(&magnitude) {
        let s = format!("{v}");
        return if s.contains('.') { s } else { s + ".0" };
    }
    let s = format!("{v:E}");
    match s.split_once('E') {
        Some((mantissa, exp)) if !mantissa.contains('.') => format!("{mantissa}.0E{exp}"),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_as_java_does() {
        assert_eq!(java_double(5.0), "5.0");
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(0.25), "0.25");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(12_345_678.0), "1.2345678E7");
        assert_eq!(java_double(1e-4), "1.0E-4");
        assert_eq!(java_double(f64::NAN), "NaN");
    }

    #[test]
    fn quantiles_are_within_a_bucket() {
        let mut h = Histogram::default();
        for v in 1..=100 {
            h.insert(v);
        }
        assert_eq!(h.quantile(0.5), Some(50));
        assert_eq!(h.quantile(0.99), Some(99));
        assert_eq!(h.quantile(1.0), Some(100));
        h.insert(1_000_000);
        let top = h.quantile(1.0).unwrap();
        assert!(
            (1_000_000 - 1_000_000 / 128..=1_000_000).contains(&top),
            "{top}"
        );
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn the_window_forgets_old_values_but_count_and_sum_do_not() {
        let s = Summary::new(Detail::Basic);
        let t0 = Instant::now();
        s.add_at(1000, t0);
        assert_eq!(s.quantiles_at(t0), vec![(0.5, Some(1000))]);
        // Five minutes on (past two rotations) the first value still counts.
        s.add_at(1000, t0);
        let mid = t0 + Duration::from_secs(300);
        s.add_at(10, mid);
        assert_eq!(s.quantiles_at(mid), vec![(0.5, Some(1000))]);
        // After the window has passed, an old value no longer answers a quantile.
        let later = mid + MAX_AGE + Duration::from_secs(1);
        s.add_at(10, later);
        assert_eq!(s.quantiles_at(later), vec![(0.5, Some(10))]);
        let text = {
            let m = Metrics::default();
            m.fsync_time.add_at(3, t0);
            m.render_prometheus_at(&[], &[], t0)
        };
        assert!(text.contains("# TYPE fsynctime summary\n"), "{text}");
        assert!(text.contains("fsynctime{quantile=\"0.5\"} 3.0\n"), "{text}");
        assert!(
            text.contains("fsynctime_count 1.0\nfsynctime_sum 3.0\n"),
            "{text}"
        );
        assert!(
            text.contains("readlatency{quantile=\"0.99\"} NaN\n"),
            "{text}"
        );
    }

    #[test]
    fn srst_resets_what_mntr_shows_only() {
        let m = Metrics::default();
        m.commit_count.add(3);
        m.read_latency.add(4);
        m.reset();
        m.commit_count.inc();
        let mut dump = Vec::new();
        m.dump(&mut dump);
        let get = |k: &str| dump.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("commit_count"), Some(Value::from(1)));
        assert_eq!(get("cnt_readlatency"), Some(Value::from(0)));
        assert_eq!(get("avg_readlatency"), Some(Value::from(0.0)));
        assert_eq!(get("p99_readlatency"), Some(Value::from(0)));
        let text = m.render_prometheus(&[], &[]);
        assert!(text.contains("\ncommit_count 4.0\n"), "{text}");
        assert!(text.contains("readlatency_count 1.0\n"), "{text}");
    }
}
