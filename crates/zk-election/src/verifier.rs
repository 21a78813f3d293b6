//! Quorum verifiers: which sets of servers form a quorum (`QuorumMaj`, `QuorumHierarchical`), and
//! the config text ZooKeeper sends in notifications, NEWLEADER and `/zookeeper/config`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use zk_jute::ServerId;

use crate::config::{ConfigError, LearnerType, QuorumServer};

/// Decides quorums over the voting members of one configuration.
pub trait QuorumVerifier: fmt::Debug + Send + Sync {
    /// Every member, voters and observers, by id.
    fn members(&self) -> &BTreeMap<ServerId, QuorumServer>;

    /// The config version (the zxid of the reconfig that made it; 0 for a static config).
    fn version(&self) -> i64;

    /// A server's weight in votes; 0 means its vote never wins an election.
    fn weight(&self, id: ServerId) -> u64;

    /// Whether `acks` (voters only) form a quorum.
    fn contains_quorum(&self, acks: &BTreeSet<ServerId>) -> bool;

    /// The config text (`QuorumVerifier.toString`), `version=<hex>` last with no newline.
    fn config_text(&self) -> String;

    fn is_voter(&self, id: ServerId) -> bool {
        self.members()
            .get(&id)
            .is_some_and(|m| m.learner_type == LearnerType::Participant)
    }

    fn voters(&self) -> Vec<ServerId> {
        self.members()
            .values()
            .filter(|m| m.learner_type == LearnerType::Participant)
            .map(|m| m.id)
            .collect()
    }
}

fn member_lines(members: &BTreeMap<ServerId, QuorumServer>) -> String {
    members
        .values()
        .map(|m| format!("server.{}={}\n", m.id.0, m))
        .collect()
}

/// Strict majority of the voting members (`QuorumMaj`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Majority {
    members: BTreeMap<ServerId, QuorumServer>,
    version: i64,
}

impl Majority {
    pub fn new(members: impl IntoIterator<Item = QuorumServer>, version: i64) -> Self {
        Majority {
            members: members.into_iter().map(|m| (m.id, m)).collect(),
            version,
        }
    }
}

impl QuorumVerifier for Majority {
    fn members(&self) -> &BTreeMap<ServerId, QuorumServer> {
        &self.members
    }

    fn version(&self) -> i64 {
        self.version
    }

    fn weight(&self, _id: ServerId) -> u64 {
        1
    }

    fn contains_quorum(&self, acks: &BTreeSet<ServerId>) -> bool {
        let voters = self.voters().len();
        acks.iter().filter(|id| self.is_voter(**id)).count() > voters / 2
    }

    fn config_text(&self) -> String {
        format!("{}version={:x}", member_lines(&self.members), self.version)
    }
}

/// Groups of weighted servers: a quorum is a majority of groups, each by a majority of its weight
/// (`QuorumHierarchical`, zoo.cfg `group.N` and `weight.N`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchical {
    members: BTreeMap<ServerId, QuorumServer>,
    version: i64,
    group_of: BTreeMap<ServerId, i64>,
    weights: BTreeMap<ServerId, u64>,
    group_weights: BTreeMap<i64, u64>,
    /// Groups with a weight above zero.
    groups: usize,
}

impl Hierarchical {
    /// `groups` maps group id to its member ids; servers without a weight weigh 1.
    pub fn new(
        members: impl IntoIterator<Item = QuorumServer>,
        groups: &BTreeMap<i64, Vec<ServerId>>,
        weights: &BTreeMap<ServerId, u64>,
        version: i64,
    ) -> Result<Self, ConfigError> {
        let members: BTreeMap<ServerId, QuorumServer> =
            members.into_iter().map(|m| (m.id, m)).collect();
        let mut group_of = BTreeMap::new();
        for (gid, ids) in groups {
            for id in ids {
                if group_of.insert(*id, *gid).is_some() {
                    return Err(ConfigError::new(
                        format!("group.{gid}"),
                        format!("server {} is in more than one group; keep it in one", id.0),
                    ));
                }
            }
        }
        let mut weights = weights.clone();
        for member in members
            .values()
            .filter(|m| m.learner_type == LearnerType::Participant)
        {
            if !group_of.contains_key(&member.id) {
                return Err(ConfigError::new(
                    format!("server.{}", member.id.0),
                    "the server is in no group; add it to a group.N line",
                ));
            }
            weights.entry(member.id).or_insert(1);
        }
        let mut group_weights = BTreeMap::new();
        for (id, gid) in &group_of {
            *group_weights.entry(*gid).or_insert(0) += weights.get(id).copied().unwrap_or(0);
        }
        let groups = groups.len() - group_weights.values().filter(|w| **w == 0).count();
        Ok(Hierarchical {
            members,
            version,
            group_of,
            weights,
            group_weights,
            groups,
        })
    }
}

impl QuorumVerifier for Hierarchical {
    fn members(&self) -> &BTreeMap<ServerId, QuorumServer> {
        &self.members
    }

    fn version(&self) -> i64 {
        self.version
    }

    fn weight(&self, id: ServerId) -> u64 {
        self.weights.get(&id).copied().unwrap_or(0)
    }

    fn contains_quorum(&self, acks: &BTreeSet<ServerId>) -> bool {
        let mut acked: BTreeMap<i64, u64> = BTreeMap::new();
        for id in acks {
            if let Some(gid) = self.group_of.get(id) {
                *acked.entry(*gid).or_insert(0) += self.weight(*id);
            }
        }
        let majority_groups = acked
            .iter()
            .filter(|(gid, weight)| **weight > self.group_weights[gid] / 2)
            .count();
        !acks.is_empty() && majority_groups > self.groups / 2
    }

    fn config_text(&self) -> String {
        let mut text = member_lines(&self.members);
        let mut by_group: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for (id, gid) in &self.group_of {
            by_group.entry(*gid).or_default().push(id.0.to_string());
        }
        for (gid, ids) in by_group {
            text.push_str(&format!("group.{gid}={}\n", ids.join(":")));
        }
        for (id, weight) in &self.weights {
            text.push_str(&format!("weight.{}={weight}\n", id.0));
        }
        text.push_str(&format!("version={:x}", self.version));
        text
    }
}

/// Parses config text or the quorum lines of zoo.cfg (`server.N`, `group.N`, `weight.N`,
/// `version`); other keys are ignored. With any `group.` line the verifier is hierarchical.
pub fn parse_config_text(
    text: &str,
    multi_address: bool,
) -> Result<Box<dyn QuorumVerifier>, ConfigError> {
    let mut members = Vec::new();
    let mut groups: BTreeMap<i64, Vec<ServerId>> = BTreeMap::new();
    let mut weights = BTreeMap::new();
    let mut version = 0;
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        let id_of = |prefix: &str| -> Result<i64, ConfigError> {
            key[prefix.len()..]
                .parse::<i64>()
                .map_err(|_| ConfigError::new(key, "the suffix after the dot must be a number"))
        };
        if key.starts_with("server.") {
            members.push(QuorumServer::parse(
                ServerId(id_of("server.")?),
                value,
                multi_address,
            )?);
        } else if key.starts_with("group.") {
            let ids = value
                .split(':')
                .map(|s| s.trim().parse::<i64>().map(ServerId))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    ConfigError::new(
                        key,
                        format!("'{value}' is not a list of server ids like 1:2:3"),
                    )
                })?;
            groups.insert(id_of("group.")?, ids);
        } else if key.starts_with("weight.") {
            let weight = value.parse::<u64>().map_err(|_| {
                ConfigError::new(key, format!("'{value}' is not a weight (a whole number)"))
            })?;
            weights.insert(ServerId(id_of("weight.")?), weight);
        } else if key == "version" {
            version = i64::from_str_radix(value, 16).map_err(|_| {
                ConfigError::new(key, format!("'{value}' is not a hexadecimal version"))
            })?;
        }
    }
    if groups.is_empty() {
        Ok(Box::new(Majority::new(members, version)))
    } else {
        Ok(Box::new(Hierarchical::new(
            members, &groups, &weights, version,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[i64]) -> BTreeSet<ServerId> {
        list.iter().map(|i| ServerId(*i)).collect()
    }

    #[test]
    fn majority_counts_voters_only() {
        let qv = parse_config_text(
            "server.1=h:1:2\nserver.2=h:3:4\nserver.3=h:5:6\nserver.4=h:7:8:observer\n",
            false,
        )
        .unwrap();
        assert_eq!(qv.voters(), vec![ServerId(1), ServerId(2), ServerId(3)]);
        assert!(!qv.contains_quorum(&ids(&[1, 4])));
        assert!(qv.contains_quorum(&ids(&[1, 2])));
        assert_eq!(
            qv.config_text(),
            "server.1=h:1:2:participant\nserver.2=h:3:4:participant\n\
             server.3=h:5:6:participant\nserver.4=h:7:8:observer\nversion=0"
        );
    }

    #[test]
    fn config_text_round_trips_with_its_version() {
        let text = "server.1=127.0.0.1:32811:33811:participant\nversion=100000000";
        let qv = parse_config_text(text, false).unwrap();
        assert_eq!(qv.version(), 0x1_0000_0000);
        assert_eq!(qv.config_text(), text);
    }

    #[test]
    fn hierarchical_needs_a_majority_of_groups_each_by_weight() {
        let qv = parse_config_text(
            "server.1=h:1:2\nserver.2=h:3:4\nserver.3=h:5:6\nserver.4=h:7:8\nserver.5=h:9:10\n\
             server.6=h:11:12\ngroup.1=1:2:3\ngroup.2=4:5:6\ngroup.3=7\nweight.1=1\nweight.2=1\n\
             weight.3=1\nweight.4=1\nweight.5=1\nweight.6=0\nweight.7=1\n",
            false,
        )
        .unwrap();
        // Groups 1 and 2 by a majority of their weight: 2 of 3 groups.
        assert!(qv.contains_quorum(&ids(&[1, 2, 4, 5])));
        // Group 1 only.
        assert!(!qv.contains_quorum(&ids(&[1, 2, 3])));
        // Group 2 weighs 2 (server 6 weighs 0): server 4 alone is not more than half.
        assert!(!qv.contains_quorum(&ids(&[1, 2, 4, 6])));
        assert_eq!(qv.weight(ServerId(6)), 0);
    }

    #[test]
    fn a_server_in_two_groups_is_rejected() {
        let err = parse_config_text("server.1=h:1:2\ngroup.1=1\ngroup.2=1\n", false).unwrap_err();
        assert!(err.to_string().contains("more than one group"), "{err}");
    }
}
