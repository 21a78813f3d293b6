//! Progress lines on stderr for long runs over large files, at most one per second.

use std::time::{Duration, Instant};

/// Files at least this large report progress (`ZK_PROGRESS_MIN_BYTES` overrides it).
const DEFAULT_MIN_BYTES: u64 = 64 << 20;

#[derive(Debug)]
pub(crate) struct Progress {
    tool: &'static str,
    min: u64,
    enabled: bool,
    started: Instant,
    last: Option<Instant>,
}

impl Progress {
    /// Progress for a file of `len` bytes: on when it is large enough.
    pub(crate) fn for_file(tool: &'static str, len: u64) -> Progress {
        let min = std::env::var("ZK_PROGRESS_MIN_BYTES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_MIN_BYTES);
        Progress {
            tool,
            min,
            enabled: len >= min,
            started: Instant::now(),
            last: None,
        }
    }

    /// Turns progress on once `n` bytes (of a stream of unknown length) reach the threshold.
    #[allow(dead_code)]
    pub(crate) fn seen(&mut self, n: u64) {
        self.enabled |= n >= self.min;
    }

    /// Prints `what()` if progress is on and the last line is a second old.
    pub(crate) fn tick(&mut self, what: impl FnOnce() -> String) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        self.last = Some(now);
        eprintln!("{}: {}", self.tool, what());
    }

    /// Prints `what` now if progress is on, with the time since the start.
    pub(crate) fn done(&mut self, what: &str) {
        if self.enabled {
            eprintln!(
                "{}: {what} in {:.1} s",
                self.tool,
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}

/// `n` bytes as MiB with one decimal.
pub(crate) fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / f64::from(1 << 20))
}
