//! The members of an ensemble as `zoo.cfg` and the dynamic config name them:
//! `server.N=host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]`.

use std::fmt;

use thiserror::Error;
use zk_jute::ServerId;

/// A server's role in the quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LearnerType {
    /// Votes in elections and acks proposals.
    #[default]
    Participant,
    /// Follows the leader without voting.
    Observer,
}

/// A `host:port` pair as written in the configuration (hosts are not resolved here).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// One `server.N` line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QuorumServer {
    pub id: ServerId,
    /// Quorum (leader <-> learner) address and election address, one pair per network; several
    /// only with `multiAddress.enabled`.
    pub addresses: Vec<(HostPort, u16)>,
    pub learner_type: LearnerType,
    pub client_address: Option<HostPort>,
    /// The client address came from the static `clientPort` rather than this line; such an
    /// address is left out of the config text, as ZooKeeper does.
    pub client_address_from_static: bool,
}

/// A malformed configuration value; the message names the key and says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{key}: {problem}")]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

const WRONG_FORMAT: &str = "does not have the form host:port:port[:participant|:observer][;[host:]port]; \
     fix the line in zoo.cfg";

/// Splits `host:port...` where the host may be a bracketed IPv6 literal.
fn split_host_and_ports(text: &str) -> Vec<String> {
    if let Some((host, tail)) = text.strip_prefix('[').and_then(|rest| rest.split_once(']')) {
        let mut parts = vec![host.to_owned()];
        if let Some(ports) = tail.strip_prefix(':') {
            parts.extend(ports.split(':').map(str::to_owned));
        }
        return parts;
    }
    text.split(':').map(str::to_owned).collect()
}

fn parse_port(key: &str, text: &str) -> Result<u16, ConfigError> {
    text.trim()
        .parse::<u16>()
        .map_err(|_| ConfigError::new(key, format!("'{text}' is not a port number (0-65535)")))
}

impl QuorumServer {
    /// Parses the value of `server.<id>`; `multi_address` allows several `|`-separated addresses.
    pub fn parse(id: ServerId, value: &str, multi_address: bool) -> Result<Self, ConfigError> {
        let key = format!("server.{}", id.0);
        let value = value.trim();
        let server_client: Vec<&str> = value.split(';').collect();
        if server_client.len() > 2 {
            return Err(ConfigError::new(&key, format!("'{value}' {WRONG_FORMAT}")));
        }
        let client_address = match server_client.get(1) {
            None => None,
            Some(client) => {
                let parts = split_host_and_ports(client.trim());
                match parts.as_slice() {
                    [port] => Some(HostPort {
                        host: "0.0.0.0".into(),
                        port: parse_port(&key, port)?,
                    }),
                    [host, port] => Some(HostPort {
                        host: host.clone(),
                        port: parse_port(&key, port)?,
                    }),
                    _ => return Err(ConfigError::new(&key, format!("'{value}' {WRONG_FORMAT}"))),
                }
            }
        };
        let server_parts: Vec<&str> = server_client[0].split('|').collect();
        if server_parts.len() > 1 && !multi_address {
            return Err(ConfigError::new(
                &key,
                "several addresses given but multiAddress.enabled is false; set it or keep one address",
            ));
        }
        let mut addresses = Vec::new();
        let mut learner_type = None;
        for part in server_parts {
            let fields = split_host_and_ports(part.trim());
            if !(3..=4).contains(&fields.len()) {
                return Err(ConfigError::new(&key, format!("'{value}' {WRONG_FORMAT}")));
            }
            let quorum_port = parse_port(&key, &fields[1])?;
            let election_port = parse_port(&key, &fields[2])?;
            if quorum_port == election_port {
                return Err(ConfigError::new(
                    &key,
                    "quorum and election port must be different; change one of them",
                ));
            }
            if let Some(kind) = fields.get(3) {
                let kind = match kind.trim().to_ascii_lowercase().as_str() {
                    "participant" => LearnerType::Participant,
                    "observer" => LearnerType::Observer,
                    other => {
                        return Err(ConfigError::new(
                            &key,
                            format!(
                                "unrecognised peer type '{other}'; use participant or observer"
                            ),
                        ));
                    }
                };
                if learner_type.is_some_and(|t| t != kind) {
                    return Err(ConfigError::new(
                        &key,
                        "all addresses of a server must have the same role",
                    ));
                }
                learner_type = Some(kind);
            }
            addresses.push((
                HostPort {
                    host: fields[0].clone(),
                    port: quorum_port,
                },
                election_port,
            ));
        }
        Ok(QuorumServer {
            id,
            addresses,
            learner_type: learner_type.unwrap_or_default(),
            client_address,
            client_address_from_static: false,
        })
    }

    /// The election addresses, `host:port` each, as the election handshake announces them.
    pub fn election_addresses(&self) -> Vec<HostPort> {
        self.addresses
            .iter()
            .map(|(quorum, election_port)| HostPort {
                host: quorum.host.clone(),
                port: *election_port,
            })
            .collect()
    }
}

impl fmt::Display for QuorumServer {
    /// The value of the `server.N` line in ZooKeeper's config text (`QuorumServer.toString`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut addresses: Vec<&(HostPort, u16)> = self.addresses.iter().collect();
        addresses.sort_by(|a, b| a.0.host.cmp(&b.0.host));
        for (i, (quorum, election_port)) in addresses.iter().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            write!(f, "{quorum}:{election_port}")?;
        }
        match self.learner_type {
            LearnerType::Participant => f.write_str(":participant")?,
            LearnerType::Observer => f.write_str(":observer")?,
        }
        if let Some(client) = self
            .client_address
            .as_ref()
            .filter(|_| !self.client_address_from_static)
        {
            write!(f, ";{client}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_of_a_server_line() {
        let s = QuorumServer::parse(ServerId(1), "10.0.0.1:2888:3888", false).unwrap();
        assert_eq!(s.learner_type, LearnerType::Participant);
        assert_eq!(s.to_string(), "10.0.0.1:2888:3888:participant");
        let o = QuorumServer::parse(ServerId(4), "zk4:2888:3888:observer;2181", false).unwrap();
        assert_eq!(o.learner_type, LearnerType::Observer);
        assert_eq!(o.to_string(), "zk4:2888:3888:observer;0.0.0.0:2181");
        let v6 = QuorumServer::parse(ServerId(2), "[::1]:2888:3888:participant;[::1]:2181", false)
            .unwrap();
        assert_eq!(v6.to_string(), "[::1]:2888:3888:participant;[::1]:2181");
        let multi = QuorumServer::parse(ServerId(3), "b:1:2|a:3:4", true).unwrap();
        assert_eq!(multi.to_string(), "a:3:4|b:1:2:participant");
        assert_eq!(multi.election_addresses()[0].to_string(), "b:2");
    }

    #[test]
    fn bad_lines_name_the_key_and_the_problem() {
        let err = QuorumServer::parse(ServerId(7), "host:2888", false).unwrap_err();
        assert_eq!(err.key, "server.7");
        assert!(
            err.to_string()
                .starts_with("server.7: 'host:2888' does not have the form")
        );
        let err = QuorumServer::parse(ServerId(1), "h:2888:2888", false).unwrap_err();
        assert!(err.problem.contains("must be different"));
        let err = QuorumServer::parse(ServerId(1), "h:1:2:leader", false).unwrap_err();
        assert!(err.problem.contains("unrecognised peer type 'leader'"));
        let err = QuorumServer::parse(ServerId(1), "h:x:2", false).unwrap_err();
        assert!(err.problem.contains("'x' is not a port number"));
        assert!(QuorumServer::parse(ServerId(1), "a:1:2|b:3:4", false).is_err());
    }
}
