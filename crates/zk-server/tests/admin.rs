//! The AdminServer and the Prometheus endpoint against Apache ZooKeeper 3.8.
//!
//! `data/admin/` holds what Apache's AdminServer answered, command by command, for a small known
//! state (two sessions, an ephemeral, three watches, 130 setData so one digest is logged). The
//! reference is regenerated with `cargo test -p zk-server --test admin -- --ignored capture`.
//! The tests give our server the same state and check that every command answers with the same
//! field names, recursively, and the same JSON types, and with the same values where both servers
//! must agree. The commands whose answer depends on the ensemble role are compared live: an Apache
//! ensemble and one of ours (three voters, an observer) answer from each role. The Prometheus reference is the list of metric names and types of 3.8's source
//! (`ServerMetrics`, the gauges of `ZooKeeperServer` and `LeaderZooKeeperServer`), as Debian ships
//! no Prometheus provider; `/metrics` is read with `prometheus-parse`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use zk_client::{Acl, Client, CreateMode};
use zk_server::{Server, ServerConfig};
use zk_testkit::{ApacheOptions, ApacheServer, EnsembleBuilder, Kind, free_port};

/// Every primary command name of 3.8's `Commands`, and its aliases.
const COMMANDS: &[(&str, &[&str])] = &[
    ("configuration", &["conf", "config"]),
    ("connection_stat_reset", &["crst"]),
    ("connections", &["cons"]),
    ("dirs", &[]),
    ("dump", &[]),
    ("environment", &["env", "envi"]),
    ("get_trace_mask", &["gtmk"]),
    ("hash", &[]),
    ("initial_configuration", &["icfg"]),
    ("is_read_only", &["isro"]),
    ("last_snapshot", &["lsnp"]),
    ("leader", &["lead"]),
    ("monitor", &["mntr"]),
    ("observer_connection_stat_reset", &["orst"]),
    ("observers", &["obsr"]),
    ("ruok", &[]),
    ("server_stats", &["srvr"]),
    ("set_trace_mask", &["stmk"]),
    ("stat_reset", &["srst"]),
    ("stats", &["stat"]),
    ("system_properties", &["sysp"]),
    ("voting_view", &[]),
    ("watch_summary", &["wchs"]),
    ("watches", &["wchc"]),
    ("watches_by_path", &["wchp"]),
    ("zabstate", &[]),
];

/// Commands that change counters: asked last, in this order.
const RESETS: &[&str] = &[
    "connection_stat_reset",
    "observer_connection_stat_reset",
    "stat_reset",
];

/// What is fetched, in order, and the file each answer is kept in.
fn requests() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = COMMANDS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !RESETS.contains(name))
        .map(|name| (format!("/commands/{name}"), format!("{name}.json")))
        .collect();
    out.push((
        "/commands/set_trace_mask?traceMask=306".into(),
        "set_trace_mask_306.json".into(),
    ));
    out.push(("/commands/nosuch".into(), "nosuch.json".into()));
    for name in RESETS {
        out.push((format!("/commands/{name}"), format!("{name}.json")));
    }
    out
}

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/admin")
}

/// One HTTP/1.1 GET: status, content type, body as text.
async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let (status, headers, body) = common::http::get(addr, path).await;
    (
        status,
        common::http::header(&headers, "content-type"),
        String::from_utf8(body.to_vec()).expect("UTF-8 body"),
    )
}

async fn get_json(addr: SocketAddr, path: &str) -> Value {
    let (status, content_type, body) = get(addr, path).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    assert!(
        content_type.starts_with("application/json"),
        "GET {path}: content type {content_type}"
    );
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
}

/// The known state: two sessions, /p with an ephemeral child, 130 setData (zxid 128 logs a
/// digest), a data watch, a child watch and an exists watch.
async fn known_state(address: &str) -> Vec<Client> {
    let a = Client::connect(address, Duration::from_secs(10))
        .await
        .expect("connect a");
    let b = Client::connect(address, Duration::from_secs(10))
        .await
        .expect("connect b");
    let open = Acl::open_unsafe();
    a.create("/p", b"x", &open, CreateMode::Persistent)
        .await
        .expect("create /p");
    a.create("/p/e", b"", &open, CreateMode::Ephemeral)
        .await
        .expect("create /p/e");
    for i in 0..130 {
        a.set_data("/p", format!("v{i}").as_bytes(), None)
            .await
            .expect("set /p");
    }
    a.set_data("/p", b"x", None).await.expect("set /p");
    let _ = a.get_data_watch("/p").await.expect("watch /p");
    let _ = b.get_children_watch("/p").await.expect("child watch /p");
    let _ = b.exists_watch("/p/e").await.expect("exists watch /p/e");
    vec![a, b]
}

/// Regenerates `data/admin/` from Apache ZooKeeper 3.8.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "regenerates the committed reference from Apache; run with --ignored capture"]
async fn capture() {
    let admin_port = free_port();
    let apache = ApacheServer::start_with(ApacheOptions {
        config: vec![
            "admin.enableServer=true".into(),
            "admin.serverAddress=127.0.0.1".into(),
            format!("admin.serverPort={admin_port}"),
        ],
        ..Default::default()
    });
    let admin: SocketAddr = ([127, 0, 0, 1], admin_port).into();
    let _clients = known_state(&apache.address()).await;
    let dir = reference_dir();
    std::fs::create_dir_all(&dir).expect("reference dir");
    let (status, _, listing) = get(admin, "/commands").await;
    assert_eq!(status, 200, "{listing}\n{}", apache.log());
    std::fs::write(dir.join("commands.html"), listing).expect("write listing");
    for (path, file) in requests() {
        let (status, _, body) = get(admin, &path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        std::fs::write(dir.join(file), body).expect("write reference");
    }
    let mut aliases = BTreeMap::new();
    for (_, names) in COMMANDS {
        for alias in *names {
            let answer = get_json(admin, &format!("/commands/{alias}")).await;
            aliases.insert(alias.to_string(), answer["command"].clone());
        }
    }
    std::fs::write(
        dir.join("aliases.json"),
        serde_json::to_string_pretty(&aliases).expect("JSON") + "\n",
    )
    .expect("write aliases");
}

/// Our server in this process on loopback ports picked by the system, with `extra` zoo.cfg lines.
async fn our_server(dir: &Path, extra: &str) -> Server {
    let text = format!(
        "tickTime=2000\ndataDir={}\nclientPort=0\nclientPortAddress=127.0.0.1\n\
         4lw.commands.whitelist=*\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=0\n{extra}",
        dir.display()
    );
    Server::start(ServerConfig::parse(&text).expect("zoo.cfg"))
        .await
        .expect("start our server")
}

fn reference(file: &str) -> String {
    let path = reference_dir().join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// How one command's answer is compared with Apache's.
#[derive(Default)]
struct Rules {
    /// Objects (JSON pointers) where ours may leave out keys Apache has: Apache's monitor dumps
    /// metrics of machinery we do not have, and its system properties are a JVM's.
    subset: &'static [&'static str],
    /// Objects keyed by session ids or times: keys compared by count only (`Some(false)`: not
    /// even that), values by shape.
    id_keyed: &'static [(&'static str, bool)],
    /// Values both servers must agree on: they follow from the state, never from timing.
    equal: &'static [&'static str],
    /// Keys ours must have even where `subset` lets it leave keys out.
    required: &'static [&'static str],
    /// Values (JSON pointers, `*` for any array index) whose inside is not compared.
    opaque: &'static [&'static str],
}

fn rules(file: &str) -> Rules {
    match file {
        "monitor.json" => Rules {
            subset: &[""],
            equal: &[
                "/server_state",
                "/znode_count",
                "/watch_count",
                "/ephemerals_count",
                "/global_sessions",
                "/local_sessions",
                "/num_alive_connections",
                "/approximate_data_size",
                "/digest_mismatches_count",
                "/command",
                "/error",
            ],
            required: &[
                "version",
                "server_state",
                "avg_latency",
                "max_latency",
                "min_latency",
                "packets_received",
                "packets_sent",
                "num_alive_connections",
                "outstanding_requests",
                "uptime",
                "znode_count",
                "watch_count",
                "ephemerals_count",
                "approximate_data_size",
                "open_file_descriptor_count",
                "max_file_descriptor_count",
                "global_sessions",
                "local_sessions",
                "auth_failed_count",
                "last_client_response_size",
                "max_client_response_size",
                "min_client_response_size",
                "digest_mismatches_count",
                "avg_fsynctime",
                "p99_readlatency",
                "cnt_updatelatency",
                "sum_snapshottime",
                "cnt_election_time",
            ],
            ..Rules::default()
        },
        "system_properties.json" => Rules {
            subset: &[""],
            equal: &[
                "/zookeeper.4lw.commands.whitelist",
                "/zookeeper.admin.serverAddress",
                "/file.separator",
                "/path.separator",
                "/line.separator",
            ],
            required: &[
                "zookeeper.4lw.commands.whitelist",
                "zookeeper.admin.serverAddress",
                "os.name",
                "user.dir",
            ],
            ..Rules::default()
        },
        "configuration.json" => Rules {
            equal: &[
                "/tick_time",
                "/max_client_cnxns",
                "/min_session_timeout",
                "/max_session_timeout",
                "/server_id",
                "/client_port_listen_backlog",
            ],
            ..Rules::default()
        },
        "server_stats.json" | "stats.json" => Rules {
            equal: &[
                "/read_only",
                "/node_count",
                "/server_stats/server_state",
                "/server_stats/last_processed_zxid",
                "/server_stats/num_alive_client_connections",
                "/server_stats/provider_null",
                "/server_stats/auth_failed_count",
            ],
            ..Rules::default()
        },
        "dump.json" => Rules {
            id_keyed: &[
                ("/expiry_time_to_session_ids", false),
                ("/session_id_to_ephemeral_paths", true),
            ],
            ..Rules::default()
        },
        "watches.json" => Rules {
            id_keyed: &[("/session_id_to_watched_paths", true)],
            ..Rules::default()
        },
        "watches_by_path.json" => Rules {
            equal: &[],
            ..Rules::default()
        },
        "hash.json" => Rules {
            equal: &["/digests/0/zxid", "/digests/0/digest_version"],
            ..Rules::default()
        },
        "last_snapshot.json" => Rules {
            equal: &["/zxid"],
            ..Rules::default()
        },
        _ => Rules::default(),
    }
}

/// Answers that must be the same as Apache's, value for value.
const SAME_VALUES: &[&str] = &[
    "ruok.json",
    "is_read_only.json",
    "get_trace_mask.json",
    "set_trace_mask.json",
    "set_trace_mask_306.json",
    "nosuch.json",
    "leader.json",
    "observers.json",
    "voting_view.json",
    "zabstate.json",
    "watch_summary.json",
    "connection_stat_reset.json",
    "observer_connection_stat_reset.json",
    "stat_reset.json",
];

/// Checks that `ours` has `theirs`' field names, recursively, with the same JSON types.
fn same_shape(at: &str, ours: &Value, theirs: &Value, rules: &Rules, errors: &mut Vec<String>) {
    let generic: String = at
        .split('/')
        .map(|part| {
            if part.parse::<usize>().is_ok() {
                "*"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    if rules.opaque.contains(&generic.as_str()) {
        return;
    }
    if json_kind(ours) != json_kind(theirs) {
        errors.push(format!(
            "{at}: ours is {} ({ours}), Apache's {} ({theirs})",
            json_kind(ours),
            json_kind(theirs)
        ));
        return;
    }
    match (ours, theirs) {
        (Value::Object(o), Value::Object(t)) => {
            if let Some((_, counted)) = rules.id_keyed.iter().find(|(p, _)| *p == at) {
                if *counted && o.len() != t.len() {
                    errors.push(format!("{at}: {} entries, Apache {}", o.len(), t.len()));
                }
                for key in o.keys().chain(t.keys()) {
                    if key.parse::<i64>().is_err() {
                        errors.push(format!("{at}: key {key:?} is not a number"));
                    }
                }
                if let Some(sample) = t
                    .values()
                    .find(|v| v.as_array().is_none_or(|a| !a.is_empty()))
                {
                    for (key, value) in o {
                        if value.as_array().is_some_and(Vec::is_empty) {
                            continue;
                        }
                        same_shape(&format!("{at}/{key}"), value, sample, rules, errors);
                    }
                }
                return;
            }
            let ours_keys: BTreeSet<&String> = o.keys().collect();
            let their_keys: BTreeSet<&String> = t.keys().collect();
            let extra: Vec<_> = ours_keys.difference(&their_keys).collect();
            if !extra.is_empty() {
                errors.push(format!("{at}: keys 3.8 does not have: {extra:?}"));
            }
            if !rules.subset.contains(&at) {
                let missing: Vec<_> = their_keys.difference(&ours_keys).collect();
                if !missing.is_empty() {
                    errors.push(format!("{at}: keys missing: {missing:?}"));
                }
            }
            for (key, value) in o {
                if let Some(their) = t.get(key) {
                    same_shape(&format!("{at}/{key}"), value, their, rules, errors);
                }
            }
        }
        (Value::Array(o), Value::Array(t)) => {
            if let Some(sample) = t.first() {
                for (i, item) in o.iter().enumerate() {
                    same_shape(&format!("{at}/{i}"), item, sample, rules, errors);
                }
            }
        }
        _ => {}
    }
}

fn check_answer(file: &str, ours: &Value, theirs: &Value, errors: &mut Vec<String>) {
    let rules = rules(file);
    let mut found = Vec::new();
    same_shape("", ours, theirs, &rules, &mut found);
    for pointer in rules.equal {
        if ours.pointer(pointer) != theirs.pointer(pointer) {
            found.push(format!(
                "{pointer}: ours {:?}, Apache's {:?}",
                ours.pointer(pointer),
                theirs.pointer(pointer)
            ));
        }
    }
    for key in rules.required {
        if ours.get(key).is_none() {
            found.push(format!("/{key} is missing"));
        }
    }
    if SAME_VALUES.contains(&file) && ours != theirs {
        found.push(format!("ours {ours}, Apache's {theirs}"));
    }
    errors.extend(found.into_iter().map(|e| format!("{file} {e}")));
}

/// Every admin command of 3.8 answers with Apache's field names and types for the same state, and
/// with the same values where both servers must agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_answers_as_apache_does() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = our_server(dir.path(), "").await;
    let admin = server
        .admin_addr()
        .expect("the AdminServer is on by default");
    let clients = known_state(&server.client_addr().to_string()).await;
    let mut errors = Vec::new();

    let (status, content_type, listing) = get(admin, "/commands").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert_eq!(listing, reference("commands.html"), "the command list");

    for (path, file) in requests() {
        let theirs: Value = serde_json::from_str(&reference(&file)).expect("reference JSON");
        let ours = get_json(admin, &path).await;
        check_answer(&file, &ours, &theirs, &mut errors);
        match file.as_str() {
            "initial_configuration.json" => assert!(
                ours["initial_configuration"]
                    .as_str()
                    .is_some_and(|t| t.contains("admin.serverPort=0\n")),
                "the zoo.cfg text as given: {ours}"
            ),
            "dump.json" => {
                let ephemerals = &ours["session_id_to_ephemeral_paths"];
                let sid = clients[0].session_id().0.to_string();
                assert_eq!(ephemerals[&sid], serde_json::json!(["/p/e"]), "{ours}");
            }
            "watches_by_path.json" => {
                let a = clients[0].session_id().0;
                let b = clients[1].session_id().0;
                assert_eq!(
                    ours["path_to_session_ids"],
                    serde_json::json!({ "/p": [a], "/p/e": [b] }),
                    "{ours}"
                );
            }
            _ => {}
        }
    }

    let aliases: BTreeMap<String, Value> =
        serde_json::from_str(&reference("aliases.json")).expect("aliases JSON");
    for (alias, primary) in aliases {
        let ours = get_json(admin, &format!("/commands/{alias}")).await;
        if ours["command"] != primary {
            errors.push(format!(
                "{alias} answers as {}, Apache as {primary}",
                ours["command"]
            ));
        }
    }

    // Stat reset cleared what 3.8 clears.
    let stats = get_json(admin, "/commands/server_stats").await;
    assert_eq!(stats["server_stats"]["max_latency"], 0, "{stats}");
    let (status, _, _) = get(admin, "/nowhere").await;
    assert_eq!(status, 404);

    assert!(
        errors.is_empty(),
        "differences from Apache ZooKeeper 3.8:\n{}",
        errors.join("\n")
    );
    drop(clients);
    server.shutdown().await;
}

/// A Prometheus text-format parser reads `/metrics`; every family is one 3.8 exports, with its
/// type and quantile labels, and the numbers agree with `monitor` and with what was done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_endpoint_exports_38s_metrics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = our_server(
        dir.path(),
        "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
         metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=0\n",
    )
    .await;
    let metrics = server.metrics_addr().expect("/metrics is served");
    let admin = server.admin_addr().expect("the AdminServer is on");
    let clients = known_state(&server.client_addr().to_string()).await;
    // Fires the data watch on /p and the exists watch on /p/e.
    clients[1].set_data("/p", b"y", None).await.expect("set /p");
    clients[0].delete("/p/e", None).await.expect("delete /p/e");

    let (status, content_type, text) = get(metrics, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .expect("the Prometheus text format");

    let mut reference: BTreeMap<String, (String, String)> = BTreeMap::new();
    for line in reference_file_lines("prometheus_metrics.tsv") {
        let mut fields = line.split('\t');
        let name = fields.next().expect("name").to_owned();
        let kind = fields.next().expect("type").to_owned();
        let quantiles = fields.next().unwrap_or("").to_owned();
        reference.insert(name, (kind, quantiles));
    }

    let mut errors = Vec::new();
    // Every line is a HELP, a TYPE or a sample line the parser understood.
    let mut declared: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines() {
        match prometheus_parse::LineInfo::parse(line) {
            prometheus_parse::LineInfo::Ignored => errors.push(format!("unparsed line {line:?}")),
            prometheus_parse::LineInfo::Type {
                metric_name,
                sample_type,
                ..
            } => {
                let kind = format!("{sample_type:?}").to_lowercase();
                declared.insert(metric_name, kind);
            }
            _ => {}
        }
    }
    // Each family with the quantile labels its samples carry.
    let mut families: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut plain: BTreeMap<String, f64> = BTreeMap::new();
    for sample in &scrape.samples {
        match &sample.value {
            prometheus_parse::Value::Summary(quantiles) => {
                let entry = families.entry(sample.metric.clone()).or_default();
                entry.extend(quantiles.iter().map(|q| q.quantile.to_string()));
            }
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => {
                plain.insert(sample.metric.clone(), *v);
                let family = sample
                    .metric
                    .strip_suffix("_count")
                    .or_else(|| sample.metric.strip_suffix("_sum"))
                    .filter(|f| declared.get(*f).is_some_and(|k| k == "summary"))
                    .unwrap_or(&sample.metric);
                families.entry(family.to_owned()).or_default();
            }
            other => errors.push(format!("{}: unexpected {other:?}", sample.metric)),
        }
    }
    for (family, quantiles) in &families {
        let Some((kind, expected)) = reference.get(family) else {
            errors.push(format!("{family} is not a metric of 3.8"));
            continue;
        };
        if declared.get(family) != Some(kind) {
            errors.push(format!(
                "{family} is declared {:?}, in 3.8 a {kind}",
                declared.get(family)
            ));
        }
        let expected: BTreeSet<String> = expected
            .split(',')
            .filter(|q| !q.is_empty())
            .map(str::to_owned)
            .collect();
        if *quantiles != expected {
            errors.push(format!(
                "{family} has quantiles {quantiles:?}, 3.8 {expected:?}"
            ));
        }
    }
    for family in [
        "znode_count",
        "watch_count",
        "ephemerals_count",
        "approximate_data_size",
        "outstanding_requests",
        "num_alive_connections",
        "global_sessions",
        "fsynctime",
        "snapshottime",
        "readlatency",
        "updatelatency",
        "election_time",
        "sync_processor_batch_size",
        "node_changed_watch_count",
        "node_deleted_watch_count",
        "bytes_received_count",
        "connection_request_count",
    ] {
        if !families.contains_key(family) {
            errors.push(format!("{family} is not exported"));
        }
    }
    assert!(errors.is_empty(), "{}\n{text}", errors.join("\n"));

    let value = |name: &str| -> f64 {
        *plain
            .get(name)
            .unwrap_or_else(|| panic!("no sample {name} in\n{text}"))
    };
    let monitor = get_json(admin, "/commands/monitor").await;
    for gauge in [
        "znode_count",
        "watch_count",
        "ephemerals_count",
        "global_sessions",
    ] {
        assert_eq!(
            value(gauge),
            monitor[gauge].as_f64().expect("a number"),
            "{gauge}: /metrics and monitor disagree"
        );
    }
    assert_eq!(value("global_sessions"), 2.0);
    // 133 writes and 3 watch-setting reads were answered before the scrape.
    assert!(value("updatelatency_count") >= 134.0, "{text}");
    assert!(value("readlatency_count") >= 3.0, "{text}");
    assert!(value("fsynctime_count") >= 1.0, "{text}");
    assert!(value("node_changed_watch_count_count") >= 1.0, "{text}");
    assert!(value("node_deleted_watch_count_count") >= 1.0, "{text}");
    assert!(value("connection_request_count") >= 2.0, "{text}");
    assert!(value("bytes_received_count") > 0.0, "{text}");
    drop(clients);
    server.shutdown().await;
}

fn reference_file_lines(file: &str) -> Vec<String> {
    reference(file)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// `admin.commandURL` and a disabled AdminServer, and `stmk`-style arguments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_url_and_arguments() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = our_server(dir.path(), "admin.commandURL=/zk/cmds\n").await;
    let admin = server.admin_addr().expect("admin");
    let ruok = get_json(admin, "/zk/cmds/ruok").await;
    assert_eq!(
        ruok,
        serde_json::json!({ "command": "ruok", "error": null })
    );
    let (status, _, _) = get(admin, "/commands/ruok").await;
    assert_eq!(status, 404);
    let set = get_json(admin, "/zk/cmds/stmk?traceMask=7").await;
    assert_eq!(set["tracemask"], 7, "{set}");
    let got = get_json(admin, "/zk/cmds/gtmk").await;
    assert_eq!(got["tracemask"], 7, "{got}");
    assert_eq!(
        zk_testkit::four_letter_word(&server.client_addr().to_string(), "gtmk"),
        "7"
    );
    let bad = get_json(admin, "/zk/cmds/stmk?traceMask=x").await;
    assert_eq!(
        bad["error"], "setTraceMask requires long traceMask argument, got x",
        "{bad}"
    );
    server.shutdown().await;

    let dir = tempfile::tempdir().expect("temp dir");
    let server = our_server(dir.path(), "admin.enableServer=false\n").await;
    assert_eq!(server.admin_addr(), None);
    assert_eq!(server.metrics_addr(), None);
    server.shutdown().await;
}

/// The answers of the role-dependent commands from each role of a live ensemble of three voters
/// and an observer, each member with its AdminServer on its own port.
async fn ensemble_answers(kind: Kind) -> BTreeMap<String, Value> {
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let mut builder = EnsembleBuilder::new()
        .voters(3, kind.clone())
        .observer(kind)
        .config("admin.enableServer=true")
        .config("admin.serverAddress=127.0.0.1");
    for (i, port) in ports.iter().enumerate() {
        builder = builder.member_config(i as u64 + 1, format!("admin.serverPort={port}"));
    }
    let (ensemble, leader) = common::ensemble::start(builder).await;
    let follower = ensemble
        .ids()
        .find(|id| *id != leader && !ensemble.is_observer(*id))
        .expect("a follower");
    let observer = ensemble
        .ids()
        .find(|id| ensemble.is_observer(*id))
        .expect("an observer");
    let mut out = BTreeMap::new();
    for (role, id) in [
        ("leader", leader),
        ("follower", follower),
        ("observer", observer),
    ] {
        let admin: SocketAddr = ([127, 0, 0, 1], ports[id as usize - 1]).into();
        for command in [
            "leader",
            "voting_view",
            "zabstate",
            "observers",
            "server_stats",
            "monitor",
            "configuration",
        ] {
            let answer = get_json(admin, &format!("/commands/{command}")).await;
            out.insert(format!("{role} {command}"), answer);
        }
    }
    out.insert(
        "ids".into(),
        serde_json::json!([leader, follower, observer]),
    );
    out
}

/// In an ensemble, the commands whose answers depend on the role (leader, voting_view, zabstate,
/// observers, server_stats, monitor) answer with Apache 3.8's field names and types, live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensemble_commands_answer_as_apache_does() {
    let _one = common::ensemble::ONE_AT_A_TIME.lock().await;
    let apache = ensemble_answers(Kind::Apache).await;
    let ours = ensemble_answers(common::ensemble::ours()).await;
    let mut errors = Vec::new();
    for (key, theirs) in &apache {
        if key == "ids" {
            continue;
        }
        let our = &ours[key];
        let command = key.split(' ').nth(1).unwrap_or("");
        let rules = match command {
            "monitor" => Rules {
                subset: &[""],
                equal: &["/server_state", "/command", "/error"],
                required: if key.starts_with("leader") {
                    &[
                        "learners",
                        "synced_followers",
                        "synced_observers",
                        "leader_uptime",
                        "last_proposal_size",
                        "max_proposal_size",
                        "min_proposal_size",
                    ]
                } else {
                    &[]
                },
                ..Rules::default()
            },
            // Learner handlers keep packet statistics in 3.8; here an observer is its id only.
            "observers" => Rules {
                equal: &["/synced_observers"],
                opaque: &["/observers/*"],
                ..Rules::default()
            },
            "leader" => Rules {
                equal: &["/is_leader", "/leader_ip"],
                ..Rules::default()
            },
            "zabstate" => Rules {
                equal: &["/is_leader", "/voting", "/zabstate"],
                ..Rules::default()
            },
            "server_stats" => Rules {
                equal: &["/server_stats/server_state", "/read_only"],
                ..Rules::default()
            },
            "configuration" => Rules {
                equal: &["/tick_time", "/min_session_timeout", "/max_session_timeout"],
                ..Rules::default()
            },
            _ => Rules::default(),
        };
        let mut found = Vec::new();
        same_shape("", our, theirs, &rules, &mut found);
        for pointer in rules.equal {
            if our.pointer(pointer) != theirs.pointer(pointer) {
                found.push(format!(
                    "{pointer}: ours {:?}, Apache's {:?}",
                    our.pointer(pointer),
                    theirs.pointer(pointer)
                ));
            }
        }
        for required in rules.required {
            if our.get(required).is_none() {
                found.push(format!("/{required} is missing"));
            }
        }
        errors.extend(found.into_iter().map(|e| format!("{key}: {e}")));
    }
    // Each answers for its own ensemble: the leader's id, the voting members 1 to 3.
    for answers in [&apache, &ours] {
        let leader = answers["ids"][0].clone();
        assert_eq!(
            answers["follower leader"]["leader_id"], leader,
            "{answers:?}"
        );
        let view = answers["leader voting_view"]["current_config"]
            .as_object()
            .expect("current_config");
        assert_eq!(view.keys().collect::<Vec<_>>(), ["1", "2", "3"], "{view:?}");
    }
    assert!(
        errors.is_empty(),
        "differences from Apache ZooKeeper 3.8 in an ensemble:\n{}",
        errors.join("\n")
    );
}
