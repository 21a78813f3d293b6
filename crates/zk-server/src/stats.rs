//! Counters that the core and the connection tasks update side by side: connection tasks answer
//! plain reads themselves, so the traffic and latency figures of `srvr`, `cons` and `mntr` are
//! atomics rather than fields of the core.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use zk_jute::Id;

/// Latency and traffic counters (`ServerStats`), for the server and for each connection.
#[derive(Debug)]
pub(crate) struct Stats {
    received: AtomicU64,
    sent: AtomicU64,
    /// `u64::MAX` until a request was timed.
    min_latency: AtomicU64,
    max_latency: AtomicU64,
    total_latency: AtomicU64,
    count: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            min_latency: AtomicU64::new(u64::MAX),
            max_latency: AtomicU64::new(0),
            total_latency: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }
}

impl Stats {
    pub(crate) fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    pub(crate) fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub(crate) fn count_received(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record(&self, ms: u64) {
        self.min_latency.fetch_min(ms, Ordering::Relaxed);
        self.max_latency.fetch_max(ms, Ordering::Relaxed);
        self.total_latency.fetch_add(ms, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The smallest latency, 0 before any.
    pub(crate) fn min(&self) -> u64 {
        match self.min_latency.load(Ordering::Relaxed) {
            u64::MAX => 0,
            m => m,
        }
    }

    pub(crate) fn max(&self) -> u64 {
        self.max_latency.load(Ordering::Relaxed)
    }

    pub(crate) fn avg(&self) -> f64 {
        let count = self.count.load(Ordering::Relaxed);
        if count == 0 {
            0.0
        } else {
            self.total_latency.load(Ordering::Relaxed) as f64 / count as f64
        }
    }

    /// `srst`, `crst`.
    pub(crate) fn reset(&self) {
        self.received.store(0, Ordering::Relaxed);
        self.sent.store(0, Ordering::Relaxed);
        self.min_latency.store(u64::MAX, Ordering::Relaxed);
        self.max_latency.store(0, Ordering::Relaxed);
        self.total_latency.store(0, Ordering::Relaxed);
        self.count.store(0, Ordering::Relaxed);
    }
}

/// The last answered request of a connection, as `cons` reports it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LastOp {
    pub(crate) op: &'static str,
    pub(crate) cxid: i64,
    pub(crate) zxid: i64,
    pub(crate) response_ms: i64,
    pub(crate) latency: u64,
}

impl Default for LastOp {
    fn default() -> Self {
        LastOp {
            op: "NA",
            cxid: -1,
            zxid: -1,
            response_ms: 0,
            latency: 0,
        }
    }
}

/// What a connection task and the core both know of one connection.
#[derive(Debug, Default)]
pub(crate) struct ConnShared {
    pub(crate) stats: Stats,
    pub(crate) last: Mutex<LastOp>,
    /// The session once established, 0 before and after.
    pub(crate) session: AtomicI64,
    /// The auth ids (the ip id, then addauth and SASL ones), for ACL checks on both sides;
    /// shared, as every write hands them to request prep.
    pub(crate) auth: RwLock<Arc<[Id]>>,
}

impl ConnShared {
    pub(crate) fn session(&self) -> Option<i64> {
        match self.session.load(Ordering::Acquire) {
            0 => None,
            s => Some(s),
        }
    }

    pub(crate) fn auth(&self) -> Arc<[Id]> {
        self.auth.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn add_auth(&self, id: Id) {
        let mut auth = self.auth.write().unwrap_or_else(|p| p.into_inner());
        if !auth.contains(&id) {
            *auth = auth.iter().cloned().chain([id]).collect();
        }
    }

    pub(crate) fn last(&self) -> LastOp {
        *self.last.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_last(&self, last: LastOp) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = last;
    }

    pub(crate) fn set_cxid(&self, cxid: i64) {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).cxid = cxid;
    }
}
