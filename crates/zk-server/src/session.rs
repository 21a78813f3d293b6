//! Sessions as `SessionTrackerImpl` keeps them: ids with the creating server's id in the top
//! byte, passwords from `java.util.Random(sessionId ^ 0xB3415C00)`, and expiry in buckets of one
//! tick (`ExpiryQueue`): a session expires at the tick boundary after `now + timeout`.

use std::collections::{BTreeMap, BTreeSet};

/// The password of a session, identical to 3.8's on every server (`ZooKeeperServer.generatePasswd`).
pub fn session_password(session_id: i64) -> [u8; 16] {
    const MULT: i64 = 0x5DEECE66D;
    const MASK: i64 = (1 << 48) - 1;
    let mut seed = (session_id ^ 0xB341_5C00_i64 ^ MULT) & MASK;
    let mut out = [0u8; 16];
    for chunk in out.chunks_mut(4) {
        seed = (seed.wrapping_mul(MULT).wrapping_add(0xB)) & MASK;
        let mut rnd = (seed >> 16) as i32;
        for b in chunk {
            *b = rnd as u8;
            rnd >>= 8;
        }
    }
    out
}

/// The first session id of a server (`SessionTrackerImpl.initializeNextSessionId`).
pub fn initial_session_id(server_id: u8, now_ms: i64) -> i64 {
    let mut id = (((now_ms << 24) as u64) >> 8) as i64;
    id |= i64::from(server_id) << 56;
    if id == i64::MIN {
        id += 1;
    }
    id
}

#[derive(Debug, Clone)]
struct Session {
    timeout_ms: i32,
    expires_at: i64,
    closing: bool,
}

/// Live sessions and their expiry buckets. Time is a monotonic millisecond count.
#[derive(Debug)]
pub struct SessionTracker {
    tick_ms: i64,
    next_id: i64,
    sessions: crate::IdMap<i64, Session>,
    buckets: BTreeMap<i64, BTreeSet<i64>>,
}

impl SessionTracker {
    pub fn new(tick_ms: u32, server_id: u8, wall_ms: i64) -> Self {
        SessionTracker {
            tick_ms: i64::from(tick_ms.max(1)),
            next_id: initial_session_id(server_id, wall_ms),
            sessions: crate::IdMap::default(),
            buckets: BTreeMap::new(),
        }
    }

    fn round_up(&self, t: i64) -> i64 {
        (t / self.tick_ms + 1) * self.tick_ms
    }

    /// A new session id.
    pub fn next_session_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        if self.next_id == i64::MIN {
            self.next_id += 1;
        }
        id
    }

    /// Starts tracking a session (new, or loaded from disk).
    pub fn add(&mut self, id: i64, timeout_ms: i32, now: i64) {
        self.sessions.insert(
            id,
            Session {
                timeout_ms,
                expires_at: 0,
                closing: false,
            },
        );
        self.touch(id, timeout_ms, now);
    }

    /// Pushes the expiry of a live session out to `now + timeout`; false when the session is
    /// unknown or closing.
    pub fn touch(&mut self, id: i64, timeout_ms: i32, now: i64) -> bool {
        let expires = self.round_up(now + i64::from(timeout_ms));
        let Some(s) = self.sessions.get_mut(&id) else {
            return false;
        };
        if s.closing {
            return false;
        }
        if s.expires_at != expires {
            let old = s.expires_at;
            s.expires_at = expires;
            if let Some(b) = self.buckets.get_mut(&old) {
                b.remove(&id);
                if b.is_empty() {
                    self.buckets.remove(&old);
                }
            }
            self.buckets.entry(expires).or_default().insert(id);
        }
        true
    }

    /// Touches with the session's own timeout.
    pub fn touch_default(&mut self, id: i64, now: i64) -> bool {
        match self.sessions.get(&id) {
            Some(s) => {
                let t = s.timeout_ms;
                self.touch(id, t, now)
            }
            None => false,
        }
    }

    pub fn timeout_of(&self, id: i64) -> Option<i32> {
        self.sessions.get(&id).map(|s| s.timeout_ms)
    }

    pub fn is_live(&self, id: i64) -> bool {
        self.sessions.get(&id).is_some_and(|s| !s.closing)
    }

    pub fn contains(&self, id: i64) -> bool {
        self.sessions.contains_key(&id)
    }

    /// Marks a session as closing (a closeSession is on its way): no more touches.
    pub fn set_closing(&mut self, id: i64) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.closing = true;
        }
    }

    pub fn remove(&mut self, id: i64) {
        if let Some(s) = self.sessions.remove(&id)
            && let Some(b) = self.buckets.get_mut(&s.expires_at)
        {
            b.remove(&id);
            if b.is_empty() {
                self.buckets.remove(&s.expires_at);
            }
        }
    }

    /// Sessions whose bucket time has come, marked closing.
    pub fn expire(&mut self, now: i64) -> Vec<i64> {
        let mut out = Vec::new();
        while let Some((&t, _)) = self.buckets.first_key_value() {
            if t > now {
                break;
            }
            let ids = self.buckets.remove(&t).unwrap_or_default();
            for id in ids {
                if let Some(s) = self.sessions.get_mut(&id) {
                    s.closing = true;
                    out.push(id);
                }
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Buckets and their sessions, by expiry time (for `dump`).
    pub fn buckets(&self) -> impl Iterator<Item = (i64, &BTreeSet<i64>)> {
        self.buckets.iter().map(|(t, s)| (*t, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_matches_java() {
        // Observed from Apache ZooKeeper 3.8 (spec §2.2).
        let p = session_password(0x0100_0004_dcfd_0003);
        let hex: String = p.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "464844a2d2b6fafa6affb6a7385ca56d");
    }

    #[test]
    fn id_layout() {
        let id = initial_session_id(1, 0x04dc_fd00_0000 >> 16);
        assert_eq!(id >> 56, 1);
    }

    #[test]
    fn expiry_in_tick_buckets() {
        let mut t = SessionTracker::new(2000, 1, 1_000_000);
        let a = t.next_session_id();
        t.add(a, 4000, 100);
        // Expires at the tick boundary after 4100: 6000.
        assert!(t.expire(5999).is_empty());
        assert_eq!(t.expire(6000), vec![a]);
        assert!(!t.touch_default(a, 6000));
        let b = t.next_session_id();
        t.add(b, 4000, 0);
        assert!(t.touch_default(b, 3000));
        assert!(t.expire(6000).is_empty());
        assert_eq!(t.expire(8000), vec![b]);
    }
}
