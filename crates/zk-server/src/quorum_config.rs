//! The ensemble half of `zoo.cfg` (`QuorumPeerConfig`): the `server.N`, `group.N` and `weight.N`
//! lines, `myid`, the learner limits, and the election transport settings (`cnxTimeout`,
//! `electionPortBindRetry`, `quorumListenOnAllIPs`, `quorumCnxnTimeoutMs`, `multiAddress.enabled`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use zk_election::{LearnerType, QuorumVerifier, parse_config_text};
use zk_jute::ServerId;
use zk_quorum::CnxConfig;

use crate::config::{ConfigError, ServerConfig};

/// How this server takes part in an ensemble.
#[derive(Debug, Clone)]
pub struct QuorumPeerConfig {
    pub my_id: ServerId,
    pub learner_type: LearnerType,
    pub verifier: Arc<dyn QuorumVerifier>,
    pub tick_ms: u32,
    pub init_limit_ticks: u32,
    pub sync_limit_ticks: u32,
    /// The election transport, ready to start.
    pub election: CnxConfig,
    /// Where learners connect when this server leads (the quorum port).
    pub quorum_listen: SocketAddr,
}

fn raw<'a>(config: &'a ServerConfig, key: &str) -> Option<&'a str> {
    config
        .raw
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim())
}

fn number<T: std::str::FromStr>(
    config: &ServerConfig,
    key: &str,
    default: T,
    expected: &str,
) -> Result<T, ConfigError> {
    match raw(config, key) {
        None => Ok(default),
        Some(value) => value.parse().map_err(|_| ConfigError::BadValue {
            key: key.to_owned(),
            value: value.to_owned(),
            expected: expected.to_owned(),
        }),
    }
}

fn flag(config: &ServerConfig, key: &str) -> Result<bool, ConfigError> {
    match raw(config, key).map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ConfigError::BadValue {
            key: key.to_owned(),
            value: other.to_owned(),
            expected: "expected true or false".to_owned(),
        }),
    }
}

fn resolve(key: &str, host: &str, port: u16) -> Result<SocketAddr, ConfigError> {
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| ConfigError::BadValue {
            key: key.to_owned(),
            value: format!("{host}:{port}"),
            expected: "the host does not resolve; use an address or a resolvable name".to_owned(),
        })
}

impl QuorumPeerConfig {
    /// The ensemble settings of `config`, or `None` for a standalone configuration (no `server.N`
    /// lines).
    pub fn from_server_config(config: &ServerConfig) -> Result<Option<Self>, ConfigError> {
        if config.servers.is_empty() {
            return Ok(None);
        }
        let multi_address = flag(config, "multiAddress.enabled")?;
        let quorum_text: String = config
            .raw
            .iter()
            .filter(|(k, _)| {
                k.starts_with("server.") || k.starts_with("group.") || k.starts_with("weight.")
            })
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        let verifier: Arc<dyn QuorumVerifier> =
            Arc::from(parse_config_text(&quorum_text, multi_address).map_err(|e| {
                ConfigError::BadValue {
                    key: e.key.clone(),
                    value: raw(config, &e.key).unwrap_or_default().to_owned(),
                    expected: e.problem.clone(),
                }
            })?);
        let my_id = ServerId(config.server_id);
        let Some(me) = verifier.members().get(&my_id) else {
            return Err(ConfigError::Invalid(format!(
                "myid {} is not among the server.N lines of the configuration; fix {} or dataDir/myid",
                my_id,
                config
                    .config_path
                    .as_ref()
                    .map_or("zoo.cfg".to_owned(), |p| p.display().to_string())
            )));
        };
        let init_limit_ticks = number(config, "initLimit", 10, "expected a number of ticks")?;
        let sync_limit_ticks = number(config, "syncLimit", 5, "expected a number of ticks")?;
        let cnx_timeout_ms: u64 = number(config, "cnxTimeout", 5000, "expected milliseconds")?;
        let handshake_ms: i64 = number(config, "quorumCnxnTimeoutMs", -1, "expected milliseconds")?;
        let handshake_ms = if handshake_ms > 0 {
            handshake_ms as u64
        } else {
            u64::from(config.tick_ms) * u64::from(sync_limit_ticks)
        };
        let bind_retries = number(
            config,
            "electionPortBindRetry",
            3,
            "expected a count (0 = forever)",
        )?;
        let all_ips = flag(config, "quorumListenOnAllIPs")?;
        let key = format!("server.{}", my_id.0);
        let (quorum_address, election_port) = me.addresses[0].clone();
        let listen_on = |port: u16| -> Result<SocketAddr, ConfigError> {
            if all_ips {
                Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port))
            } else {
                resolve(&key, &quorum_address.host, port)
            }
        };
        let election = CnxConfig {
            my_id,
            listen: listen_on(election_port)?,
            advertised: me
                .election_addresses()
                .iter()
                .map(ToString::to_string)
                .collect(),
            peers: verifier
                .members()
                .values()
                .filter(|m| m.id != my_id)
                .map(|m| {
                    (
                        m.id,
                        m.election_addresses()
                            .iter()
                            .map(ToString::to_string)
                            .collect(),
                    )
                })
                .collect(),
            connect_timeout: Duration::from_millis(cnx_timeout_ms),
            handshake_timeout: Duration::from_millis(handshake_ms),
            bind_retries,
        };
        Ok(Some(QuorumPeerConfig {
            my_id,
            learner_type: me.learner_type,
            verifier: verifier.clone(),
            tick_ms: config.tick_ms,
            init_limit_ticks,
            sync_limit_ticks,
            election,
            quorum_listen: listen_on(quorum_address.port)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str, myid: i64) -> ServerConfig {
        let mut config = ServerConfig::parse(text).expect("valid zoo.cfg");
        config.server_id = myid;
        config
    }

    const ENSEMBLE: &str = "tickTime=2000\ndataDir=/tmp/zk\nclientPort=2181\ninitLimit=10\nsyncLimit=5\n\
        server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890:observer\n";

    #[test]
    fn standalone_has_no_quorum_config() {
        let c = config("dataDir=/tmp/zk\nclientPort=2181\n", 0);
        assert!(QuorumPeerConfig::from_server_config(&c).unwrap().is_none());
    }

    #[test]
    fn server_lines_become_the_verifier_and_the_election_transport() {
        let q = QuorumPeerConfig::from_server_config(&config(ENSEMBLE, 2))
            .unwrap()
            .unwrap();
        assert_eq!(q.my_id, ServerId(2));
        assert_eq!(q.learner_type, LearnerType::Participant);
        assert_eq!(q.verifier.voters(), vec![ServerId(1), ServerId(2)]);
        assert_eq!(q.election.listen, "127.0.0.1:3889".parse().unwrap());
        assert_eq!(q.quorum_listen, "127.0.0.1:2889".parse().unwrap());
        assert_eq!(q.election.advertised, vec!["127.0.0.1:3889".to_owned()]);
        assert_eq!(
            q.election.peers[&ServerId(3)],
            vec!["127.0.0.1:3890".to_owned()]
        );
        assert_eq!(q.election.connect_timeout, Duration::from_millis(5000));
        assert_eq!(
            q.election.handshake_timeout,
            Duration::from_millis(10_000),
            "tickTime x syncLimit"
        );
        assert_eq!(q.election.bind_retries, 3);
        assert!(
            q.verifier
                .config_text()
                .ends_with("server.3=127.0.0.1:2890:3890:observer\nversion=0")
        );
    }

    #[test]
    fn transport_keys_are_honoured() {
        let text = format!(
            "{ENSEMBLE}cnxTimeout=700\nelectionPortBindRetry=9\nquorumListenOnAllIPs=true\nquorumCnxnTimeoutMs=1234\n"
        );
        let q = QuorumPeerConfig::from_server_config(&config(&text, 3))
            .unwrap()
            .unwrap();
        assert_eq!(q.learner_type, LearnerType::Observer);
        assert_eq!(q.election.listen, "0.0.0.0:3890".parse().unwrap());
        assert_eq!(q.election.connect_timeout, Duration::from_millis(700));
        assert_eq!(q.election.handshake_timeout, Duration::from_millis(1234));
        assert_eq!(q.election.bind_retries, 9);
    }

    #[test]
    fn groups_and_weights_make_a_hierarchical_verifier() {
        let text = format!("{ENSEMBLE}group.1=1:2\ngroup.2=3\nweight.1=2\n");
        let q = QuorumPeerConfig::from_server_config(&config(&text, 1))
            .unwrap()
            .unwrap();
        assert_eq!(q.verifier.weight(ServerId(1)), 2);
        assert!(q.verifier.config_text().contains("group.1=1:2\n"));
    }

    #[test]
    fn errors_name_the_key_and_what_to_do() {
        let err = QuorumPeerConfig::from_server_config(&config(ENSEMBLE, 7)).unwrap_err();
        assert!(
            err.to_string()
                .contains("myid 7 is not among the server.N lines"),
            "{err}"
        );
        let bad = config("dataDir=/tmp/zk\nserver.1=127.0.0.1:2888\n", 1);
        let err = QuorumPeerConfig::from_server_config(&bad).unwrap_err();
        assert!(err.to_string().contains("server.1"), "{err}");
        let bad = config(&format!("{ENSEMBLE}cnxTimeout=soon\n"), 1);
        let err = QuorumPeerConfig::from_server_config(&bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value 'soon' for cnxTimeout: expected milliseconds"
        );
    }
}
