//! Free loopback ports for test servers, drawn from one pool per process.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};

/// A free TCP port on 127.0.0.1 that no earlier call in this process returned. It lies below the
/// kernel's ephemeral range, so a port the OS hands out for port 0 or as the source of an
/// outgoing connection is never one of them, and a server restarted later binds it again.
/// (Bind-to-0-and-release can return the same port twice in a row, which gave two of one
/// server's ports the same number.) Concurrent test processes draw at random.
pub fn free_port() -> u16 {
    static POOL: OnceLock<Mutex<PortPool>> = OnceLock::new();
    POOL.get_or_init(|| Mutex::new(PortPool::new()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .next()
}

struct PortPool {
    range: std::ops::Range<u16>,
    state: u64,
    taken: BTreeSet<u16>,
}

impl PortPool {
    fn new() -> PortPool {
        let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
            .unwrap_or(32768);
        let low = ephemeral_low.saturating_sub(20_000).max(1024);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ (u64::from(std::process::id()) << 32);
        PortPool {
            range: low..ephemeral_low.max(low + 1),
            state: seed | 1,
            taken: BTreeSet::new(),
        }
    }

    fn next(&mut self) -> u16 {
        let span = u64::from(self.range.end - self.range.start);
        for _ in 0..100_000 {
            // xorshift64
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            let p = self.range.start + (self.state % span) as u16;
            if !self.taken.contains(&p) && TcpListener::bind(("127.0.0.1", p)).is_ok() {
                self.taken.insert(p);
                return p;
            }
        }
        panic!("no free loopback port in {:?}", self.range);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_bindable_and_below_the_ephemeral_range() {
        let ports: Vec<u16> = (0..200).map(|_| free_port()).collect();
        let distinct: BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len(), "a port was handed out twice");
        let pool = PortPool::new();
        for p in &ports {
            assert!(pool.range.contains(p), "{p} is outside {:?}", pool.range);
        }
        assert!(TcpListener::bind(("127.0.0.1", ports[0])).is_ok());
    }
}
