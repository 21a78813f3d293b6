//! The connect string (`host:port,host:port/chroot`) and the order hosts are tried in, as the Java
//! client's `ConnectStringParser` and `StaticHostProvider`.

use crate::error::{Error, Result};
use crate::path::Chroot;

/// ZooKeeper's client port when a host names none.
pub const DEFAULT_PORT: u16 = 2181;

/// A parsed connect string: unresolved hosts (names are resolved at each connect) and a chroot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnectString {
    pub(crate) hosts: Vec<(String, u16)>,
    pub(crate) chroot: Chroot,
}

impl ConnectString {
    pub(crate) fn parse(s: &str) -> Result<ConnectString> {
        let (host_part, chroot) = match s.find('/') {
            Some(i) => (&s[..i], Chroot::new(Some(&s[i..]))?),
            None => (s, Chroot::new(None)?),
        };
        let mut hosts = Vec::new();
        for host in host_part.split(',') {
            let host = host.trim();
            if host.is_empty() {
                continue;
            }
            // An IPv6 literal is written `[::1]:2181`.
            let (name, port) = if let Some(rest) = host.strip_prefix('[') {
                let end = rest.find(']').ok_or_else(|| {
                    Error::InvalidArgument(format!("unterminated IPv6 address in {host:?}"))
                })?;
                let port = match rest[end + 1..].strip_prefix(':') {
                    Some(p) if !p.is_empty() => parse_port(p, host)?,
                    _ => DEFAULT_PORT,
                };
                (rest[..end].to_owned(), port)
            } else {
                match host.rfind(':') {
                    Some(i) if i + 1 < host.len() => {
                        (host[..i].to_owned(), parse_port(&host[i + 1..], host)?)
                    }
                    Some(i) => (host[..i].to_owned(), DEFAULT_PORT),
                    None => (host.to_owned(), DEFAULT_PORT),
                }
            };
            hosts.push((name, port));
        }
        if hosts.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "connect string {s:?} names no host"
            )));
        }
        Ok(ConnectString { hosts, chroot })
    }
}

fn parse_port(p: &str, host: &str) -> Result<u16> {
    p.parse()
        .map_err(|_| Error::InvalidArgument(format!("bad port in {host:?}")))
}

/// Round robin over a shuffled host list; says when a full turn has come back to the host that
/// last worked (the caller then waits the spin delay), as `StaticHostProvider.next`.
#[derive(Debug, Clone)]
pub(crate) struct HostProvider {
    hosts: Vec<(String, u16)>,
    current: Option<usize>,
    last: Option<usize>,
}

impl HostProvider {
    pub(crate) fn new(mut hosts: Vec<(String, u16)>, rng: &mut fastrand::Rng) -> HostProvider {
        rng.shuffle(&mut hosts);
        HostProvider {
            hosts,
            current: None,
            last: None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.hosts.len()
    }

    /// The next host, and whether to wait the spin delay before trying it.
    pub(crate) fn next(&mut self) -> ((String, u16), bool) {
        let index = self.current.map_or(0, |c| (c + 1) % self.hosts.len());
        self.current = Some(index);
        let sleep = self.last == Some(index);
        if self.last.is_none() {
            // No waiting on the very first turn.
            self.last = Some(0);
        }
        (self.hosts[index].clone(), sleep)
    }

    /// The host last returned by `next` worked.
    pub(crate) fn on_connected(&mut self) {
        self.last = self.current;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_strings_parse_as_the_java_client() {
        let c = ConnectString::parse("a:1,b,c:/x/y").unwrap();
        assert_eq!(
            c.hosts,
            vec![
                ("a".into(), 1),
                ("b".into(), DEFAULT_PORT),
                ("c".into(), DEFAULT_PORT)
            ]
        );
        assert_eq!(c.chroot.as_str(), Some("/x/y"));
        let c = ConnectString::parse("127.0.0.1:2182/").unwrap();
        assert_eq!(c.chroot.as_str(), None);
        let c = ConnectString::parse("[::1]:2183,[fe80::1]").unwrap();
        assert_eq!(
            c.hosts,
            vec![("::1".into(), 2183), ("fe80::1".into(), DEFAULT_PORT)]
        );
        assert!(ConnectString::parse("").is_err());
        assert!(ConnectString::parse("/chroot").is_err());
        assert!(ConnectString::parse("a:b").is_err());
        assert!(ConnectString::parse("a:1/bad/").is_err());
    }

    #[test]
    fn hosts_are_tried_in_turn_and_a_full_turn_waits() {
        let hosts: Vec<(String, u16)> = (0..3).map(|i| (format!("h{i}"), 1)).collect();
        let mut p = HostProvider::new(hosts.clone(), &mut fastrand::Rng::with_seed(7));
        assert_eq!(p.len(), 3);
        let mut seen = Vec::new();
        for _ in 0..3 {
            let (h, sleep) = p.next();
            assert!(!sleep, "no wait on the first turn");
            seen.push(h);
        }
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(sorted, hosts, "every host once per turn");
        // Back to the first host of the turn: wait.
        let (h, sleep) = p.next();
        assert_eq!(h, seen[0]);
        assert!(sleep);
        // Connected to seen[0]; the next wait comes when the turn returns to it.
        p.on_connected();
        assert!(!p.next().1);
        assert!(!p.next().1);
        assert!(p.next().1);
    }
}
