//! `zoo.cfg` as ZooKeeper 3.8 reads it (`QuorumPeerConfig.parseProperties`): Java properties
//! syntax, the keys of the server plus the ones 3.8 turns into `zookeeper.*` system properties,
//! defaults and validity checks. Unknown keys are warned about by name; a bad value is an error
//! that names the key and the value.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}; pass the path of a readable zoo.cfg")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid value '{value}' for {key}: {expected}")]
    BadValue {
        key: String,
        value: String,
        expected: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Which four-letter words may run (`4lw.commands.whitelist`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whitelist {
    All,
    Only(Vec<String>),
}

impl Whitelist {
    pub fn allows(&self, word: &str, read_only_enabled: bool) -> bool {
        if word == "srvr" || (word == "isro" && read_only_enabled) {
            return true;
        }
        match self {
            Whitelist::All => true,
            Whitelist::Only(words) => words.iter().any(|w| w == word),
        }
    }
}

/// The settings of a standalone server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The file read, if any.
    pub config_path: Option<PathBuf>,
    pub tick_ms: u32,
    pub data_dir: PathBuf,
    pub data_log_dir: PathBuf,
    pub client_port: Option<u16>,
    pub client_port_address: Option<IpAddr>,
    pub secure_client_port: Option<u16>,
    pub secure_client_port_address: Option<IpAddr>,
    pub client_port_listen_backlog: i32,
    /// Per client IP; 0 = unlimited.
    pub max_client_cnxns: u32,
    /// Total; 0 = unlimited.
    pub max_cnxns: u32,
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    pub snap_retain_count: usize,
    pub purge_interval_hours: i64,
    pub snap_count: i32,
    pub snap_size_limit_kb: i64,
    pub txn_log_size_limit_kb: i64,
    pub pre_alloc_size_kb: u64,
    pub global_outstanding_limit: u32,
    pub force_sync: bool,
    pub fsync_warning_threshold_ms: u64,
    pub four_letter_whitelist: Whitelist,
    pub digest_enabled: bool,
    pub extended_types_enabled: bool,
    pub close_session_txn_enabled: bool,
    pub skip_acl: bool,
    pub enforce_quota: bool,
    pub reconfig_enabled: bool,
    pub standalone_enabled: bool,
    pub snapshot_trust_empty: bool,
    pub db_autocreate: bool,
    /// `zookeeper.DigestAuthenticationProvider.superDigest`: `super:<base64 sha1>`.
    pub super_digest: Option<String>,
    /// `jute.maxbuffer` (a system property in 3.8; settable from zoo.cfg here).
    pub jute_max_buffer: usize,
    pub read_only_mode_enabled: bool,
    /// `znode.container.checkIntervalMs`.
    pub container_check_interval_ms: u64,
    /// `znode.container.maxPerMinute`.
    pub container_max_per_minute: u32,
    /// `nio.sessionlessCnxnTimeout`.
    pub sessionless_cnxn_timeout_ms: u64,
    /// Our server id (`dataDir/myid`); 0 when absent.
    pub server_id: i64,
    /// `server.N` lines: quorum mode, which this binary does not run yet.
    pub servers: BTreeMap<i64, String>,
    /// `authProvider.N` class names.
    pub auth_providers: Vec<String>,
    /// DIGEST-MD5 users for SASL (`user=password` lines), from `sasl.usersFile`.
    pub sasl_users_file: Option<PathBuf>,
    /// The JAAS file (`-Djava.security.auth.login.config`); its `Server` section's
    /// DigestLoginModule `user_<name>="<password>"` options are DIGEST-MD5 users too.
    pub jaas_config: Option<PathBuf>,
    /// TLS material in PEM for the secure client port.
    pub ssl_key_pem: Option<PathBuf>,
    pub ssl_cert_pem: Option<PathBuf>,
    pub ssl_ca_pem: Option<PathBuf>,
    /// `ssl.keyStore.location` and `ssl.keyStore.type`: used when PEM.
    pub ssl_key_store: Option<PathBuf>,
    pub ssl_key_store_type: Option<String>,
    /// `admin.enableServer`: serve the AdminServer's HTTP commands (3.8's default: true).
    pub admin_enable_server: bool,
    /// `admin.serverAddress`: the host or address the AdminServer binds (0.0.0.0).
    pub admin_server_address: String,
    /// `admin.serverPort` (8080; 0 picks a free port).
    pub admin_server_port: u16,
    /// `admin.commandURL`: where the commands live (`/commands`).
    pub admin_command_url: String,
    /// `admin.idleTimeout`: an HTTP connection without traffic for this long is closed.
    pub admin_idle_timeout_ms: u64,
    /// `admin.snapshot.enabled` (3.9's backup command `snapshot`; off by default, as in 3.9).
    pub admin_snapshot_enabled: bool,
    /// `admin.snapshot.intervalInMS`: the least time between two backups (3.9: 5 minutes).
    pub admin_snapshot_interval_ms: u64,
    /// `metricsProvider.className`; the Prometheus provider serves `/metrics`.
    pub metrics_provider_class: String,
    /// `metricsProvider.httpHost` of the Prometheus provider (0.0.0.0).
    pub metrics_http_host: String,
    /// `metricsProvider.httpPort` of the Prometheus provider (7000; 0 picks a free port).
    pub metrics_http_port: u16,
    /// The zoo.cfg text as read at start-up (the `initial_configuration` admin command).
    pub initial_config: String,
    /// Keys the server did not recognise, in file order.
    pub unknown_keys: Vec<String>,
    /// The raw text, for `conf`-like commands.
    pub raw: Vec<(String, String)>,
}

const DEFAULT_TICK_MS: u32 = 3000;

/// 3.8's default `metricsProvider.className`: counters for `mntr` only, no HTTP endpoint.
pub const DEFAULT_METRICS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider";
/// The `metricsProvider.className` that turns on the Prometheus `/metrics` endpoint.
pub const PROMETHEUS_METRICS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            config_path: None,
            tick_ms: DEFAULT_TICK_MS,
            data_dir: PathBuf::new(),
            data_log_dir: PathBuf::new(),
            client_port: None,
            client_port_address: None,
            secure_client_port: None,
            secure_client_port_address: None,
            client_port_listen_backlog: -1,
            max_client_cnxns: 60,
            max_cnxns: 0,
            min_session_timeout_ms: -1,
            max_session_timeout_ms: -1,
            snap_retain_count: 3,
            purge_interval_hours: 0,
            snap_count: 100_000,
            snap_size_limit_kb: 4_194_304,
            txn_log_size_limit_kb: -1,
            pre_alloc_size_kb: 65_536,
            global_outstanding_limit: 1000,
            force_sync: true,
            fsync_warning_threshold_ms: 1000,
            four_letter_whitelist: Whitelist::Only(vec!["srvr".into()]),
            digest_enabled: true,
            extended_types_enabled: false,
            close_session_txn_enabled: true,
            skip_acl: false,
            enforce_quota: false,
            reconfig_enabled: false,
            standalone_enabled: true,
            snapshot_trust_empty: false,
            db_autocreate: true,
            super_digest: None,
            jute_max_buffer: 0xfffff,
            read_only_mode_enabled: false,
            container_check_interval_ms: 60_000,
            container_max_per_minute: 10_000,
            sessionless_cnxn_timeout_ms: 10_000,
            server_id: 0,
            servers: BTreeMap::new(),
            auth_providers: Vec::new(),
            sasl_users_file: None,
            jaas_config: None,
            ssl_key_pem: None,
            ssl_cert_pem: None,
            ssl_ca_pem: None,
            ssl_key_store: None,
            ssl_key_store_type: None,
            admin_enable_server: true,
            admin_server_address: "0.0.0.0".into(),
            admin_server_port: 8080,
            admin_command_url: "/commands".into(),
            admin_idle_timeout_ms: 30_000,
            admin_snapshot_enabled: false,
            admin_snapshot_interval_ms: 300_000,
            metrics_provider_class: DEFAULT_METRICS_PROVIDER.into(),
            metrics_http_host: "0.0.0.0".into(),
            metrics_http_port: 7000,
            initial_config: String::new(),
            unknown_keys: Vec::new(),
            raw: Vec::new(),
        }
    }
}

/// Keys 3.8 reads or maps to system properties that this server accepts without acting on them
/// (quorum, admin server, metrics, netty, ...).
const ACCEPTED_KEYS: &[&str] = &[
    "initLimit",
    "syncLimit",
    "connectToLearnerMasterLimit",
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "observerMasterPort",
    "sslQuorum",
    "portUnification",
    "sslQuorumReloadCertFiles",
    "quorumListenOnAllIPs",
    "electionAlg",
    "peerType",
    "syncEnabled",
    "dynamicConfigFile",
    "cnxTimeout",
    "quorumCnxnTimeoutMs",
    "tcpKeepAlive",
    "clientTcpKeepAlive",
    "leaderServes",
    "commitLogCount",
    "snapshotSizeFactor",
    "electionPortBindRetry",
    "maxResponseCacheSize",
    "maxGetChildrenResponseCacheSize",
    "snapshot.compression.method",
    "serverCnxnFactory",
    "multiAddress.enabled",
    "multiAddress.reachabilityCheckEnabled",
    "multiAddress.reachabilityCheckTimeoutMs",
    "quorum.auth.enableSasl",
    "quorum.auth.learnerRequireSasl",
    "quorum.auth.serverRequireSasl",
    "quorum.cnxn.threads.size",
    "secureClientPortAddress",
    "version",
    "audit.enable",
    "requestThrottleLimit",
    "requestThrottleStallTime",
    "requestThrottleDropStale",
    "fips-mode",
];

const ACCEPTED_PREFIXES: &[&str] = &[
    "admin.",
    "metricsProvider.",
    "ssl.",
    "group.",
    "weight.",
    "kerberos.",
    "jaasLoginRenew",
];

fn bad(key: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError::BadValue {
        key: key.to_owned(),
        value: value.to_owned(),
        expected: expected.to_owned(),
    }
}

fn parse_num<T: std::str::FromStr>(
    key: &str,
    value: &str,
    expected: &str,
) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| bad(key, value, expected))
}

/// Java's `Boolean.parseBoolean` accepts anything (non-"true" is false); 3.8 uses it for most
/// flags, and "yes"/"no" for forceSync and skipACL. We reject what is neither, naming the key.
fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" => Ok(true),
        "false" | "no" => Ok(false),
        _ => Err(bad(key, value, "expected true or false (yes or no)")),
    }
}

/// Splits Java properties text into key/value pairs (`key=value`, `key value`, `key:value`,
/// `#`/`!` comments, `\` continuations), in file order.
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut logical = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if logical.is_empty() && (trimmed.is_empty() || trimmed.starts_with(['#', '!'])) {
            continue;
        }
        let continued = {
            let backslashes = trimmed.chars().rev().take_while(|&c| c == '\\').count();
            backslashes % 2 == 1
        };
        if continued {
            logical.push_str(&trimmed[..trimmed.len() - 1]);
            continue;
        }
        logical.push_str(trimmed);
        let entry = std::mem::take(&mut logical);
        let entry = entry.trim();
        let split = entry.find(['=', ':', ' ', '\t']);
        let (key, value) = match split {
            Some(i) => {
                let key = &entry[..i];
                let mut rest = entry[i..].trim_start_matches([' ', '\t']);
                if let Some(r) = rest.strip_prefix(['=', ':']) {
                    rest = r;
                }
                (key, rest.trim())
            }
            None => (entry, ""),
        };
        out.push((key.trim().to_owned(), value.to_owned()));
    }
    out
}

impl ServerConfig {
    /// The configuration used when no zoo.cfg is given: data in `./zk-data`, client port 2181,
    /// the sample config's tickTime of 2000 ms.
    pub fn default_standalone() -> Self {
        let mut cfg = ServerConfig {
            tick_ms: 2000,
            data_dir: PathBuf::from("zk-data"),
            data_log_dir: PathBuf::from("zk-data"),
            client_port: Some(2181),
            ..ServerConfig::default()
        };
        cfg.finish_defaults();
        cfg
    }

    /// Reads and parses a zoo.cfg file; relative paths in it are taken as they are (as Java does:
    /// relative to the working directory).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg = Self::parse(&text)?;
        cfg.config_path = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// Parses zoo.cfg text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let pairs = parse_properties(text);
        let mut cfg = ServerConfig::default();
        let mut data_log_dir = None;
        // Duplicate keys: the last one wins, as java.util.Properties.
        let mut last: BTreeMap<&str, &str> = BTreeMap::new();
        for (k, v) in &pairs {
            last.insert(k, v);
        }
        for (key, value) in &pairs {
            if last.get(key.as_str()) != Some(&value.as_str()) {
                continue;
            }
            cfg.set(key, value, &mut data_log_dir)?;
        }
        cfg.raw = pairs;
        cfg.initial_config = text.to_owned();
        if cfg.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::Invalid(
                "dataDir is not set: add a line dataDir=<directory> to zoo.cfg".into(),
            ));
        }
        cfg.data_log_dir = data_log_dir.unwrap_or_else(|| cfg.data_dir.clone());
        cfg.finish_defaults();
        cfg.validate()?;
        Ok(cfg)
    }

    /// Applies `-D` style system properties (`zookeeper.<key>`, `jute.maxbuffer`,
    /// `readonlymode.enabled`, ...), as the JVM flags of zkServer.sh would.
    pub fn apply_system_property(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let key = match name {
            "java.security.auth.login.config" => {
                self.jaas_config = Some(PathBuf::from(value));
                return Ok(());
            }
            "jute.maxbuffer" | "readonlymode.enabled" => name,
            n if n.starts_with("znode.container.") => n,
            n => match n.strip_prefix("zookeeper.") {
                Some(k) => k,
                None => return Ok(()),
            },
        };
        let mut unused = None;
        // Unknown system properties are the JVM's business, not a misspelt zoo.cfg key.
        let known = self.unknown_keys.len();
        self.set(key, value, &mut unused)?;
        self.unknown_keys.truncate(known);
        if let Some(dir) = unused {
            self.data_log_dir = dir;
        }
        self.validate()
    }

    fn finish_defaults(&mut self) {
        let tick = self.tick_ms as i32;
        if self.min_session_timeout_ms < 0 {
            self.min_session_timeout_ms = tick.saturating_mul(2);
        }
        if self.max_session_timeout_ms < 0 {
            self.max_session_timeout_ms = tick.saturating_mul(20);
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.min_session_timeout_ms > self.max_session_timeout_ms {
            return Err(ConfigError::Invalid(format!(
                "minSessionTimeout ({}) is larger than maxSessionTimeout ({}): lower minSessionTimeout or raise maxSessionTimeout",
                self.min_session_timeout_ms, self.max_session_timeout_ms
            )));
        }
        if self.client_port_address.is_some() && self.client_port.is_none() {
            return Err(ConfigError::Invalid(
                "clientPortAddress is set but clientPort is not: add clientPort=<port>".into(),
            ));
        }
        Ok(())
    }

    /// The quorum mode test of QuorumPeerMain: standalone when there is no server line, or one
    /// and standaloneEnabled.
    /// Whether `/metrics` is served (`metricsProvider.className` is the Prometheus provider).
    pub fn prometheus_enabled(&self) -> bool {
        self.metrics_provider_class == PROMETHEUS_METRICS_PROVIDER
    }

    pub fn is_standalone(&self) -> bool {
        self.servers.is_empty() || (self.servers.len() == 1 && self.standalone_enabled)
    }

    fn set(
        &mut self,
        key: &str,
        value: &str,
        data_log_dir: &mut Option<PathBuf>,
    ) -> Result<(), ConfigError> {
        let v = value.trim();
        match key {
            "tickTime" => {
                let t: u32 = parse_num(key, v, "expected a positive number of milliseconds")?;
                if t == 0 {
                    return Err(bad(key, v, "tickTime must be positive: use e.g. 2000"));
                }
                self.tick_ms = t;
            }
            "dataDir" => self.data_dir = PathBuf::from(v),
            "dataLogDir" => *data_log_dir = Some(PathBuf::from(v)),
            "clientPort" => {
                self.client_port = Some(parse_num(key, v, "expected a port number (0-65535)")?)
            }
            "clientPortAddress" => {
                self.client_port_address =
                    Some(parse_num(key, v, "expected an IP address such as 0.0.0.0")?)
            }
            "secureClientPort" => {
                self.secure_client_port =
                    Some(parse_num(key, v, "expected a port number (0-65535)")?)
            }
            "secureClientPortAddress" => {
                self.secure_client_port_address =
                    Some(parse_num(key, v, "expected an IP address such as 0.0.0.0")?)
            }
            "clientPortListenBacklog" => {
                self.client_port_listen_backlog = parse_num(key, v, "expected an integer")?
            }
            "maxClientCnxns" => {
                self.max_client_cnxns = parse_num(
                    key,
                    v,
                    "expected a count of connections per IP, 0 for no limit",
                )?
            }
            "maxCnxns" => {
                self.max_cnxns =
                    parse_num(key, v, "expected a count of connections, 0 for no limit")?
            }
            "minSessionTimeout" => {
                self.min_session_timeout_ms = parse_num(key, v, "expected milliseconds")?
            }
            "maxSessionTimeout" => {
                self.max_session_timeout_ms = parse_num(key, v, "expected milliseconds")?
            }
            "autopurge.snapRetainCount" => {
                self.snap_retain_count = parse_num(key, v, "expected a count of snapshots")?
            }
            "autopurge.purgeInterval" => {
                self.purge_interval_hours = parse_num(key, v, "expected hours, 0 to disable")?
            }
            "snapCount" => {
                let n: i32 = parse_num(key, v, "expected a count of txns (at least 2)")?;
                self.snap_count = n.max(2);
            }
            "snapSizeLimitInKb" => {
                self.snap_size_limit_kb = parse_num(key, v, "expected KiB, <= 0 to disable")?
            }
            "txnLogSizeLimitInKb" => {
                self.txn_log_size_limit_kb = parse_num(key, v, "expected KiB, -1 to disable")?
            }
            "preAllocSize" => {
                self.pre_alloc_size_kb = parse_num(key, v, "expected KiB")?;
            }
            "globalOutstandingLimit" => {
                let n: i64 = parse_num(key, v, "expected a count of requests")?;
                self.global_outstanding_limit = n.clamp(1, i64::from(u32::MAX)) as u32;
            }
            "forceSync" => self.force_sync = parse_bool(key, v)?,
            "fsync.warningthresholdms" => {
                self.fsync_warning_threshold_ms = parse_num(key, v, "expected milliseconds")?
            }
            "4lw.commands.whitelist" => {
                let words: Vec<String> = v
                    .split(',')
                    .map(|w| w.trim().to_owned())
                    .filter(|w| !w.is_empty())
                    .collect();
                self.four_letter_whitelist = if words.iter().any(|w| w == "*") {
                    Whitelist::All
                } else {
                    Whitelist::Only(words)
                };
            }
            "digest.enabled" => self.digest_enabled = parse_bool(key, v)?,
            "extendedTypesEnabled" => self.extended_types_enabled = parse_bool(key, v)?,
            "closeSessionTxn.enabled" => self.close_session_txn_enabled = parse_bool(key, v)?,
            "skipACL" => self.skip_acl = parse_bool(key, v)?,
            "enforceQuota" => self.enforce_quota = parse_bool(key, v)?,
            "reconfigEnabled" => self.reconfig_enabled = parse_bool(key, v)?,
            "standaloneEnabled" => self.standalone_enabled = parse_bool(key, v)?,
            "snapshot.trust.empty" => self.snapshot_trust_empty = parse_bool(key, v)?,
            "db.autocreate" => self.db_autocreate = parse_bool(key, v)?,
            "DigestAuthenticationProvider.superDigest" => {
                if !v.contains(':') {
                    return Err(bad(
                        key,
                        v,
                        "expected super:<base64 sha1 digest>, as printed by DigestAuthenticationProvider",
                    ));
                }
                self.super_digest = Some(v.to_owned());
            }
            "jute.maxbuffer" => {
                let n: i64 = parse_num(key, v, "expected a size in bytes")?;
                if n <= 0 {
                    return Err(bad(key, v, "expected a positive size in bytes"));
                }
                self.jute_max_buffer = n as usize;
            }
            "readonlymode.enabled" => self.read_only_mode_enabled = parse_bool(key, v)?,
            "znode.container.checkIntervalMs" => {
                let n: u64 = parse_num(key, v, "expected milliseconds")?;
                self.container_check_interval_ms = n.max(1);
            }
            "znode.container.maxPerMinute" => {
                self.container_max_per_minute = parse_num(key, v, "expected a count")?
            }
            "nio.sessionlessCnxnTimeout" => {
                self.sessionless_cnxn_timeout_ms = parse_num(key, v, "expected milliseconds")?
            }
            "admin.enableServer" => self.admin_enable_server = parse_bool(key, v)?,
            "admin.serverAddress" => {
                if v.is_empty() {
                    return Err(bad(
                        key,
                        v,
                        "expected a host or an IP address such as 0.0.0.0",
                    ));
                }
                self.admin_server_address = v.to_owned();
            }
            "admin.serverPort" => {
                self.admin_server_port = parse_num(key, v, "expected a port number (0-65535)")?
            }
            "admin.commandURL" => {
                if !v.starts_with('/') {
                    return Err(bad(
                        key,
                        v,
                        "expected a URL path starting with /, e.g. /commands",
                    ));
                }
                self.admin_command_url = v.trim_end_matches('/').to_owned();
            }
            "admin.idleTimeout" => {
                self.admin_idle_timeout_ms = parse_num(key, v, "expected milliseconds")?
            }
            "admin.snapshot.enabled" => self.admin_snapshot_enabled = parse_bool(key, v)?,
            "admin.snapshot.intervalInMS" => {
                self.admin_snapshot_interval_ms = parse_num(key, v, "expected milliseconds")?
            }
            "metricsProvider.className" => {
                if v != DEFAULT_METRICS_PROVIDER && v != PROMETHEUS_METRICS_PROVIDER {
                    return Err(bad(
                        key,
                        v,
                        &format!(
                            "this server has two metrics providers: use {PROMETHEUS_METRICS_PROVIDER} or {DEFAULT_METRICS_PROVIDER}"
                        ),
                    ));
                }
                self.metrics_provider_class = v.to_owned();
            }
            "metricsProvider.httpHost" => {
                if v.is_empty() {
                    return Err(bad(
                        key,
                        v,
                        "expected a host or an IP address such as 0.0.0.0",
                    ));
                }
                self.metrics_http_host = v.to_owned();
            }
            "metricsProvider.httpPort" => {
                self.metrics_http_port = parse_num(key, v, "expected a port number (0-65535)")?
            }
            "sasl.usersFile" => self.sasl_users_file = Some(PathBuf::from(v)),
            "ssl.keyStore.location" => self.ssl_key_store = Some(PathBuf::from(v)),
            "ssl.keyStore.type" => self.ssl_key_store_type = Some(v.to_owned()),
            "ssl.keyPem" => self.ssl_key_pem = Some(PathBuf::from(v)),
            "ssl.certPem" => self.ssl_cert_pem = Some(PathBuf::from(v)),
            "ssl.caPem" => self.ssl_ca_pem = Some(PathBuf::from(v)),
            k if k.starts_with("server.") => {
                let id: i64 = parse_num(
                    key,
                    &k["server.".len()..],
                    "expected server.<id> with a numeric id",
                )
                .map_err(|_| {
                    bad(
                        key,
                        v,
                        "server lines are server.<numeric id>=host:quorumPort:electionPort",
                    )
                })?;
                self.servers.insert(id, v.to_owned());
            }
            k if k.starts_with("authProvider.") => self.auth_providers.push(v.to_owned()),
            k if ACCEPTED_KEYS.contains(&k)
                || ACCEPTED_PREFIXES.iter().any(|p| k.starts_with(p)) => {}
            k => self.unknown_keys.push(k.to_owned()),
        }
        Ok(())
    }

    /// Reads `dataDir/myid` when it exists (standalone servers do not need one).
    pub fn read_myid(&mut self) -> Result<(), ConfigError> {
        let path = self.data_dir.join("myid");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(());
        };
        let t = text.trim();
        self.server_id = t.parse().map_err(|_| {
            ConfigError::Invalid(format!(
                "invalid server id '{t}' in {}: write the numeric id of this server into it",
                path.display()
            ))
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_syntax() {
        let p = parse_properties("# c\n! c\na=1\nb 2\nc:3\n  d = 4 \ne=x\\\n  y\n\nf\n");
        let want: Vec<(String, String)> = [
            ("a", "1"),
            ("b", "2"),
            ("c", "3"),
            ("d", "4"),
            ("e", "xy"),
            ("f", ""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(p, want);
    }

    #[test]
    fn defaults_and_keys() {
        let cfg = ServerConfig::parse("tickTime=2000\ndataDir=/tmp/x\nclientPort=2181\nfoo=bar\n")
            .unwrap();
        assert_eq!(cfg.tick_ms, 2000);
        assert_eq!(cfg.min_session_timeout_ms, 4000);
        assert_eq!(cfg.max_session_timeout_ms, 40000);
        assert_eq!(cfg.data_log_dir, PathBuf::from("/tmp/x"));
        assert_eq!(cfg.unknown_keys, vec!["foo".to_string()]);
        assert!(cfg.is_standalone());
        assert!(cfg.four_letter_whitelist.allows("srvr", false));
        assert!(!cfg.four_letter_whitelist.allows("stat", false));
    }

    #[test]
    fn errors_name_key_and_value() {
        let err = ServerConfig::parse("dataDir=/x\ntickTime=abc\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("tickTime") && text.contains("abc"), "{text}");
        assert!(!text.ends_with('.'));
        let err = ServerConfig::parse("clientPort=1\n").unwrap_err();
        assert!(err.to_string().contains("dataDir"));
        let err = ServerConfig::parse("dataDir=/x\nminSessionTimeout=5000\nmaxSessionTimeout=10\n")
            .unwrap_err();
        assert!(err.to_string().contains("minSessionTimeout"));
    }

    #[test]
    fn whitelist_star() {
        let cfg = ServerConfig::parse("dataDir=/x\n4lw.commands.whitelist=stat, ruok\n").unwrap();
        assert!(cfg.four_letter_whitelist.allows("ruok", false));
        assert!(!cfg.four_letter_whitelist.allows("conf", false));
        let cfg = ServerConfig::parse("dataDir=/x\n4lw.commands.whitelist=*\n").unwrap();
        assert!(cfg.four_letter_whitelist.allows("conf", false));
    }
}
