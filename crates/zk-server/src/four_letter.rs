//! Four-letter words on the client port (`FourLetterCommands`), with 3.8's whitelist rule and
//! output formats.

use std::fmt::Write;

use crate::pipeline::Core;

/// Every word 3.8 recognises as the first four bytes of a connection.
pub(crate) const FOUR_LETTER_WORDS: &[&str] = &[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr", "stat",
    "wchc", "wchp", "wchs", "mntr", "isro", "hash",
];

pub(crate) const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests\n";

/// The version line's text (the part tools parse is before the first `-`).
pub(crate) const VERSION: &str = "3.8.0-zookeeper-rs, built on 2026-01-01 00:00 UTC";

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn java_date(ms: i64) -> String {
    // Java's Date.toString() in UTC: "EEE MMM dd HH:mm:ss zzz yyyy".
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    // Civil from days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!("{weekday} {mon} {d:02} {h:02}:{m:02}:{s:02} UTC {year}")
}

impl Core {
    /// The text a four-letter word answers with.
    pub(crate) fn four_letter(&mut self, word: &str) -> String {
        if !self
            .config
            .four_letter_whitelist
            .allows(word, self.config.read_only_mode_enabled)
        {
            return format!("{word} is not executed because it is not in the whitelist.\n");
        }
        let mut o = String::new();
        match word {
            "ruok" => o.push_str("imok"),
            "srvr" | "stat" => {
                let _ = writeln!(o, "Zookeeper version: {VERSION}");
                if word == "stat" {
                    o.push_str("Clients:\n");
                    let mut ids: Vec<_> = self.conns.keys().copied().collect();
                    ids.sort();
                    for id in ids {
                        let c = &self.conns[&id];
                        let _ = writeln!(
                            o,
                            " /{}:{}[1](queued={},recved={},sent={})",
                            c.addr.ip(),
                            c.addr.port(),
                            c.outstanding,
                            c.stats.packets_received,
                            c.stats.packets_sent
                        );
                    }
                    o.push('\n');
                }
                let s = &self.stats;
                let _ = writeln!(
                    o,
                    "Latency min/avg/max: {}/{}/{}",
                    s.min_latency.unwrap_or(0),
                    java_double(s.avg()),
                    s.max_latency
                );
                let _ = writeln!(o, "Received: {}", s.packets_received);
                let _ = writeln!(o, "Sent: {}", s.packets_sent);
                let _ = writeln!(o, "Connections: {}", self.conns.len());
                let _ = writeln!(o, "Outstanding: {}", self.outstanding());
                let _ = writeln!(o, "Zxid: 0x{:x}", self.last_zxid());
                o.push_str("Mode: standalone\n");
                let _ = writeln!(o, "Node count: {}", self.tree.node_count() + 1);
            }
            "conf" => {
                let c = &self.config;
                let _ = writeln!(o, "clientPort={}", c.client_port.map_or(-1, i32::from));
                let _ = writeln!(
                    o,
                    "secureClientPort={}",
                    c.secure_client_port.map_or(-1, i32::from)
                );
                let _ = writeln!(o, "dataDir={}", abs(&self.snap_dir));
                let _ = writeln!(o, "dataDirSize={}", dir_size(&self.snap_dir));
                let _ = writeln!(o, "dataLogDir={}", abs(&self.log_dir));
                let _ = writeln!(o, "dataLogSize={}", dir_size(&self.log_dir));
                let _ = writeln!(o, "tickTime={}", c.tick_ms);
                let _ = writeln!(o, "maxClientCnxns={}", c.max_client_cnxns);
                let _ = writeln!(o, "minSessionTimeout={}", c.min_session_timeout_ms);
                let _ = writeln!(o, "maxSessionTimeout={}", c.max_session_timeout_ms);
                let _ = writeln!(
                    o,
                    "clientPortListenBacklog={}",
                    c.client_port_listen_backlog
                );
                let _ = writeln!(o, "serverId={}", c.server_id);
            }
            "cons" => {
                let mut ids: Vec<_> = self.conns.keys().copied().collect();
                ids.sort();
                for id in ids {
                    let c = &self.conns[&id];
                    let _ = write!(
                        o,
                        " /{}:{}[1](queued={},recved={},sent={}",
                        c.addr.ip(),
                        c.addr.port(),
                        c.outstanding,
                        c.stats.packets_received,
                        c.stats.packets_sent
                    );
                    if let Some(sid) = c.session {
                        let _ = write!(
                            o,
                            ",sid=0x{sid:x},lop={},est={},to={}",
                            c.last_op, c.established_ms, c.timeout_ms
                        );
                        if c.last_cxid >= 0 {
                            let _ = write!(o, ",lcxid=0x{:x}", c.last_cxid);
                        }
                        let _ = write!(
                            o,
                            ",lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
                            c.last_zxid,
                            c.last_response_ms,
                            c.last_latency,
                            c.stats.min_latency.unwrap_or(0),
                            c.stats.avg() as u64,
                            c.stats.max_latency
                        );
                    }
                    o.push_str(")\n");
                }
                o.push('\n');
            }
            "crst" => {
                for c in self.conns.values_mut() {
                    c.stats = Default::default();
                }
                o.push_str("Connection stats reset.\n");
            }
            "srst" => {
                self.stats = Default::default();
                o.push_str("Server stats reset.\n");
            }
            "dump" => {
                let buckets: Vec<(i64, Vec<i64>)> = self
                    .sessions
                    .buckets()
                    .map(|(t, s)| (t, s.iter().copied().collect()))
                    .collect();
                o.push_str("SessionTracker dump:\n");
                let _ = writeln!(
                    o,
                    "Session Sets ({})/({}):",
                    buckets.len(),
                    self.sessions.len()
                );
                let offset = crate::pipeline::wall_ms() - self.now();
                for (t, ids) in &buckets {
                    let _ = writeln!(o, "{} expire at {}:", ids.len(), java_date(t + offset));
                    for id in ids {
                        let _ = writeln!(o, "\t0x{id:x}");
                    }
                }
                o.push_str("ephemeral nodes dump:\n");
                let owners = self.tree.ephemeral_sessions();
                let _ = writeln!(o, "Sessions with Ephemerals ({}):", owners.len());
                for s in owners {
                    let _ = writeln!(o, "0x{:x}:", s.0);
                    for p in self.tree.ephemerals(s) {
                        let _ = writeln!(o, "\t{p}");
                    }
                }
                o.push_str("Connections dump:\n");
                let _ = writeln!(o, "Connections Sets (0)/({}):", self.conns.len());
            }
            "envi" => {
                o.push_str("Environment:\n");
                let host = std::fs::read_to_string("/etc/hostname")
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_else(|_| "localhost".into());
                let cwd = std::env::current_dir()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                let user = std::env::var("USER").unwrap_or_default();
                let home = std::env::var("HOME").unwrap_or_default();
                let lines = [
                    ("zookeeper.version", VERSION.to_owned()),
                    ("host.name", host),
                    ("java.version", "17".to_owned()),
                    ("java.vendor", "zookeeper-rs".to_owned()),
                    ("java.home", String::new()),
                    ("java.class.path", String::new()),
                    ("java.library.path", String::new()),
                    ("java.io.tmpdir", std::env::temp_dir().display().to_string()),
                    ("java.compiler", "<NA>".to_owned()),
                    ("os.name", std::env::consts::OS.to_owned()),
                    ("os.arch", std::env::consts::ARCH.to_owned()),
                    ("os.version", String::new()),
                    ("user.name", user),
                    ("user.home", home),
                    ("user.dir", cwd),
                    ("os.memory.free", "0MB".to_owned()),
                    ("os.memory.max", "0MB".to_owned()),
                    ("os.memory.total", "0MB".to_owned()),
                ];
                for (k, v) in lines {
                    let _ = writeln!(o, "{k}={v}");
                }
            }
            "wchs" => {
                let (data, _) = self.tree.watch_summary();
                let _ = writeln!(
                    o,
                    "{} connections watching {} paths\nTotal watches:{}",
                    data.watchers, data.paths, data.watches
                );
            }
            "wchc" | "wchp" => {
                let mut by_session: Vec<(i64, Vec<String>)> = Vec::new();
                let mut ids: Vec<_> = self.conns.keys().copied().collect();
                ids.sort();
                for id in ids {
                    let sid = self.conns[&id].session.unwrap_or(0);
                    let (paths, _) = self.tree.watched_paths(zk_datatree::WatcherId(id));
                    if !paths.is_empty() {
                        by_session.push((sid, paths));
                    }
                }
                if word == "wchc" {
                    for (sid, paths) in by_session {
                        let _ = writeln!(o, "0x{sid:x}");
                        for p in paths {
                            let _ = writeln!(o, "\t{p}");
                        }
                    }
                } else {
                    let mut by_path: std::collections::BTreeMap<String, Vec<i64>> =
                        Default::default();
                    for (sid, paths) in by_session {
                        for p in paths {
                            by_path.entry(p).or_default().push(sid);
                        }
                    }
                    for (p, sids) in by_path {
                        let _ = writeln!(o, "{p}");
                        for s in sids {
                            let _ = writeln!(o, "\t0x{s:x}");
                        }
                    }
                }
                o.push('\n');
            }
            "dirs" => {
                let _ = writeln!(o, "datadir_size: {}", dir_size(&self.snap_dir));
                let _ = writeln!(o, "logdir_size: {}", dir_size(&self.log_dir));
            }
            "isro" => o.push_str("rw"),
            "gtmk" => o.push_str("306"),
            "stmk" => o.push_str("306"),
            "hash" => {
                for (zxid, digest) in &self.digests {
                    let _ = writeln!(o, "{:x}: {digest}", zxid.0);
                }
            }
            "mntr" => {
                let s = self.stats.clone();
                let (data, child) = self.tree.watch_summary();
                let ephemerals: usize = self
                    .tree
                    .ephemeral_sessions()
                    .into_iter()
                    .map(|sid| self.tree.ephemerals(sid).len())
                    .sum();
                let lines: Vec<(&str, String)> = vec![
                    ("version", VERSION.to_owned()),
                    ("server_state", "standalone".to_owned()),
                    ("avg_latency", java_double(s.avg())),
                    ("max_latency", s.max_latency.to_string()),
                    ("min_latency", s.min_latency.unwrap_or(0).to_string()),
                    ("packets_received", s.packets_received.to_string()),
                    ("packets_sent", s.packets_sent.to_string()),
                    ("num_alive_connections", self.conns.len().to_string()),
                    ("outstanding_requests", self.outstanding().to_string()),
                    ("uptime", self.started.elapsed().as_millis().to_string()),
                    ("znode_count", (self.tree.node_count() + 1).to_string()),
                    ("watch_count", (data.watches + child.watches).to_string()),
                    ("ephemerals_count", ephemerals.to_string()),
                    ("approximate_data_size", "0".to_owned()),
                    ("open_file_descriptor_count", open_fds().to_string()),
                    ("max_file_descriptor_count", "1048576".to_owned()),
                    ("global_sessions", self.sessions.len().to_string()),
                    ("local_sessions", "0".to_owned()),
                    ("auth_failed_count", "0".to_owned()),
                    ("digest_mismatches_count", "0".to_owned()),
                ];
                for (k, v) in lines {
                    let _ = writeln!(o, "zk_{k}\t{v}");
                }
                for (k, v) in UNTRACKED_MNTR {
                    let _ = writeln!(o, "zk_{k}\t{v}");
                }
            }
            _ => {}
        }
        o
    }
}

/// The rest of the keys 3.8's standalone `mntr` prints (in its order), for metrics we do not track:
/// their idle values (`-1` for the response-size gauges, `0.0` for averages and ratios).
const UNTRACKED_MNTR: &[(&str, &str)] = &[
    ("non_mtls_remote_conn_count", "0"),
    ("last_client_response_size", "-1"),
    ("max_client_response_size", "-1"),
    ("connection_drop_probability", "0.0"),
    ("outstanding_tls_handshake", "0"),
    ("min_client_response_size", "-1"),
    ("non_mtls_local_conn_count", "0"),
    ("proposal_count", "0"),
    ("watch_bytes", "0"),
    ("outstanding_changes_removed", "0"),
    ("throttled_ops", "0"),
    ("stale_requests_dropped", "0"),
    ("large_requests_rejected", "0"),
    ("insecure_admin_count", "0"),
    ("connection_rejected", "0"),
    ("cnxn_closed_without_zk_server_running", "0"),
    ("sessionless_connections_expired", "0"),
    ("looking_count", "0"),
    ("dead_watchers_queued", "0"),
    ("stale_requests", "0"),
    ("connection_drop_count", "0"),
    ("learner_proposal_received_count", "0"),
    ("dead_watchers_cleared", "0"),
    ("response_packet_cache_hits", "0"),
    ("bytes_received_count", "0"),
    ("add_dead_watcher_stall_time", "0"),
    ("request_throttle_wait_count", "0"),
    ("requests_not_forwarded_to_commit_processor", "0"),
    ("response_packet_cache_misses", "0"),
    ("ensemble_auth_success", "0"),
    ("prep_processor_request_queued", "0"),
    ("learner_commit_received_count", "0"),
    ("stale_replies", "0"),
    ("connection_request_count", "0"),
    ("response_bytes", "0"),
    ("ensemble_auth_fail", "0"),
    ("diff_count", "0"),
    ("response_packet_get_children_cache_misses", "0"),
    ("connection_revalidate_count", "0"),
    ("quit_leading_due_to_disloyal_voter", "0"),
    ("snap_count", "0"),
    ("unrecoverable_error_count", "0"),
    ("unsuccessful_handshake", "0"),
    ("commit_count", "0"),
    ("stale_sessions_expired", "0"),
    ("response_packet_get_children_cache_hits", "0"),
    ("sync_processor_request_queued", "0"),
    ("outstanding_changes_queued", "0"),
    ("request_commit_queued", "0"),
    ("ensemble_auth_skip", "0"),
    ("skip_learner_request_to_next_processor_count", "0"),
    ("tls_handshake_exceeded", "0"),
    ("revalidate_count", "0"),
    ("avg_socket_closing_time", "0.0"),
    ("min_socket_closing_time", "0"),
    ("max_socket_closing_time", "0"),
    ("cnt_socket_closing_time", "0"),
    ("sum_socket_closing_time", "0"),
    ("avg_proposal_process_time", "0.0"),
    ("min_proposal_process_time", "0"),
    ("max_proposal_process_time", "0"),
    ("cnt_proposal_process_time", "0"),
    ("sum_proposal_process_time", "0"),
    ("avg_leader_unavailable_time", "0.0"),
    ("min_leader_unavailable_time", "0"),
    ("max_leader_unavailable_time", "0"),
    ("cnt_leader_unavailable_time", "0"),
    ("sum_leader_unavailable_time", "0"),
    ("avg_node_created_watch_count", "0.0"),
    ("min_node_created_watch_count", "0"),
    ("max_node_created_watch_count", "0"),
    ("cnt_node_created_watch_count", "0"),
    ("sum_node_created_watch_count", "0"),
    ("avg_session_queues_drained", "0.0"),
    ("min_session_queues_drained", "0"),
    ("max_session_queues_drained", "0"),
    ("cnt_session_queues_drained", "0"),
    ("sum_session_queues_drained", "0"),
    ("avg_write_commit_proc_req_queued", "0.0"),
    ("min_write_commit_proc_req_queued", "0"),
    ("max_write_commit_proc_req_queued", "0"),
    ("cnt_write_commit_proc_req_queued", "0"),
    ("sum_write_commit_proc_req_queued", "0"),
    ("avg_connection_token_deficit", "0.0"),
    ("min_connection_token_deficit", "0"),
    ("max_connection_token_deficit", "0"),
    ("cnt_connection_token_deficit", "0"),
    ("sum_connection_token_deficit", "0"),
    ("avg_read_commit_proc_req_queued", "0.0"),
    ("min_read_commit_proc_req_queued", "0"),
    ("max_read_commit_proc_req_queued", "0"),
    ("cnt_read_commit_proc_req_queued", "0"),
    ("sum_read_commit_proc_req_queued", "0"),
    ("avg_node_deleted_watch_count", "0.0"),
    ("min_node_deleted_watch_count", "0"),
    ("max_node_deleted_watch_count", "0"),
    ("cnt_node_deleted_watch_count", "0"),
    ("sum_node_deleted_watch_count", "0"),
    ("avg_startup_txns_load_time", "0.0"),
    ("min_startup_txns_load_time", "0"),
    ("max_startup_txns_load_time", "0"),
    ("cnt_startup_txns_load_time", "0"),
    ("sum_startup_txns_load_time", "0"),
    ("avg_sync_processor_queue_size", "0.0"),
    ("min_sync_processor_queue_size", "0"),
    ("max_sync_processor_queue_size", "0"),
    ("cnt_sync_processor_queue_size", "0"),
    ("sum_sync_processor_queue_size", "0"),
    ("avg_follower_sync_time", "0.0"),
    ("min_follower_sync_time", "0"),
    ("max_follower_sync_time", "0"),
    ("cnt_follower_sync_time", "0"),
    ("sum_follower_sync_time", "0"),
    ("avg_prep_processor_queue_size", "0.0"),
    ("min_prep_processor_queue_size", "0"),
    ("max_prep_processor_queue_size", "0"),
    ("cnt_prep_processor_queue_size", "0"),
    ("sum_prep_processor_queue_size", "0"),
    ("avg_fsynctime", "0.0"),
    ("min_fsynctime", "0"),
    ("max_fsynctime", "0"),
    ("cnt_fsynctime", "0"),
    ("sum_fsynctime", "0"),
    ("avg_inflight_snap_count", "0.0"),
    ("min_inflight_snap_count", "0"),
    ("max_inflight_snap_count", "0"),
    ("cnt_inflight_snap_count", "0"),
    ("sum_inflight_snap_count", "0"),
    ("avg_reads_issued_from_session_queue", "0.0"),
    ("min_reads_issued_from_session_queue", "0"),
    ("max_reads_issued_from_session_queue", "0"),
    ("cnt_reads_issued_from_session_queue", "0"),
    ("sum_reads_issued_from_session_queue", "0"),
    ("avg_learner_request_processor_queue_size", "0.0"),
    ("min_learner_request_processor_queue_size", "0"),
    ("max_learner_request_processor_queue_size", "0"),
    ("cnt_learner_request_processor_queue_size", "0"),
    ("sum_learner_request_processor_queue_size", "0"),
    ("avg_snapshottime", "0.0"),
    ("min_snapshottime", "0"),
    ("max_snapshottime", "0"),
    ("cnt_snapshottime", "0"),
    ("sum_snapshottime", "0"),
    ("avg_unavailable_time", "0.0"),
    ("min_unavailable_time", "0"),
    ("max_unavailable_time", "0"),
    ("cnt_unavailable_time", "0"),
    ("sum_unavailable_time", "0"),
    ("avg_startup_txns_loaded", "0.0"),
    ("min_startup_txns_loaded", "0"),
    ("max_startup_txns_loaded", "0"),
    ("cnt_startup_txns_loaded", "0"),
    ("sum_startup_txns_loaded", "0"),
    ("avg_reads_after_write_in_session_queue", "0.0"),
    ("min_reads_after_write_in_session_queue", "0"),
    ("max_reads_after_write_in_session_queue", "0"),
    ("cnt_reads_after_write_in_session_queue", "0"),
    ("sum_reads_after_write_in_session_queue", "0"),
    ("avg_requests_in_session_queue", "0.0"),
    ("min_requests_in_session_queue", "0"),
    ("max_requests_in_session_queue", "0"),
    ("cnt_requests_in_session_queue", "0"),
    ("sum_requests_in_session_queue", "0"),
    ("avg_write_commit_proc_issued", "0.0"),
    ("min_write_commit_proc_issued", "0"),
    ("max_write_commit_proc_issued", "0"),
    ("cnt_write_commit_proc_issued", "0"),
    ("sum_write_commit_proc_issued", "0"),
    ("avg_prep_process_time", "0.0"),
    ("min_prep_process_time", "0"),
    ("max_prep_process_time", "0"),
    ("cnt_prep_process_time", "0"),
    ("sum_prep_process_time", "0"),
    ("avg_pending_session_queue_size", "0.0"),
    ("min_pending_session_queue_size", "0"),
    ("max_pending_session_queue_size", "0"),
    ("cnt_pending_session_queue_size", "0"),
    ("sum_pending_session_queue_size", "0"),
    (
        "avg_time_waiting_empty_pool_in_commit_processor_read_ms",
        "0.0",
    ),
    (
        "min_time_waiting_empty_pool_in_commit_processor_read_ms",
        "0",
    ),
    (
        "max_time_waiting_empty_pool_in_commit_processor_read_ms",
        "0",
    ),
    (
        "cnt_time_waiting_empty_pool_in_commit_processor_read_ms",
        "0",
    ),
    (
        "sum_time_waiting_empty_pool_in_commit_processor_read_ms",
        "0",
    ),
    ("avg_commit_process_time", "0.0"),
    ("min_commit_process_time", "0"),
    ("max_commit_process_time", "0"),
    ("cnt_commit_process_time", "0"),
    ("sum_commit_process_time", "0"),
    ("avg_dbinittime", "0.0"),
    ("min_dbinittime", "0"),
    ("max_dbinittime", "0"),
    ("cnt_dbinittime", "0"),
    ("sum_dbinittime", "0"),
    ("avg_inflight_diff_count", "0.0"),
    ("min_inflight_diff_count", "0"),
    ("max_inflight_diff_count", "0"),
    ("cnt_inflight_diff_count", "0"),
    ("sum_inflight_diff_count", "0"),
    ("avg_netty_queued_buffer_capacity", "0.0"),
    ("min_netty_queued_buffer_capacity", "0"),
    ("max_netty_queued_buffer_capacity", "0"),
    ("cnt_netty_queued_buffer_capacity", "0"),
    ("sum_netty_queued_buffer_capacity", "0"),
    ("avg_election_time", "0.0"),
    ("min_election_time", "0"),
    ("max_election_time", "0"),
    ("cnt_election_time", "0"),
    ("sum_election_time", "0"),
    ("avg_commit_commit_proc_req_queued", "0.0"),
    ("min_commit_commit_proc_req_queued", "0"),
    ("max_commit_commit_proc_req_queued", "0"),
    ("cnt_commit_commit_proc_req_queued", "0"),
    ("sum_commit_commit_proc_req_queued", "0"),
    ("avg_sync_processor_batch_size", "0.0"),
    ("min_sync_processor_batch_size", "0"),
    ("max_sync_processor_batch_size", "0"),
    ("cnt_sync_processor_batch_size", "0"),
    ("sum_sync_processor_batch_size", "0"),
    ("avg_node_children_watch_count", "0.0"),
    ("min_node_children_watch_count", "0"),
    ("max_node_children_watch_count", "0"),
    ("cnt_node_children_watch_count", "0"),
    ("sum_node_children_watch_count", "0"),
    ("avg_write_batch_time_in_commit_processor", "0.0"),
    ("min_write_batch_time_in_commit_processor", "0"),
    ("max_write_batch_time_in_commit_processor", "0"),
    ("cnt_write_batch_time_in_commit_processor", "0"),
    ("sum_write_batch_time_in_commit_processor", "0"),
    ("avg_read_commit_proc_issued", "0.0"),
    ("min_read_commit_proc_issued", "0"),
    ("max_read_commit_proc_issued", "0"),
    ("cnt_read_commit_proc_issued", "0"),
    ("sum_read_commit_proc_issued", "0"),
    (
        "avg_concurrent_request_processing_in_commit_processor",
        "0.0",
    ),
    ("min_concurrent_request_processing_in_commit_processor", "0"),
    ("max_concurrent_request_processing_in_commit_processor", "0"),
    ("cnt_concurrent_request_processing_in_commit_processor", "0"),
    ("sum_concurrent_request_processing_in_commit_processor", "0"),
    ("avg_observer_sync_time", "0.0"),
    ("min_observer_sync_time", "0"),
    ("max_observer_sync_time", "0"),
    ("cnt_observer_sync_time", "0"),
    ("sum_observer_sync_time", "0"),
    ("avg_node_changed_watch_count", "0.0"),
    ("min_node_changed_watch_count", "0"),
    ("max_node_changed_watch_count", "0"),
    ("cnt_node_changed_watch_count", "0"),
    ("sum_node_changed_watch_count", "0"),
    ("avg_sync_process_time", "0.0"),
    ("min_sync_process_time", "0"),
    ("max_sync_process_time", "0"),
    ("cnt_sync_process_time", "0"),
    ("sum_sync_process_time", "0"),
    ("avg_startup_snap_load_time", "0.0"),
    ("min_startup_snap_load_time", "0"),
    ("max_startup_snap_load_time", "0"),
    ("cnt_startup_snap_load_time", "0"),
    ("sum_startup_snap_load_time", "0"),
    ("avg_prep_processor_queue_time_ms", "0.0"),
    ("min_prep_processor_queue_time_ms", "0"),
    ("max_prep_processor_queue_time_ms", "0"),
    ("cnt_prep_processor_queue_time_ms", "0"),
    ("sum_prep_processor_queue_time_ms", "0"),
    ("p50_prep_processor_queue_time_ms", "0"),
    ("p95_prep_processor_queue_time_ms", "0"),
    ("p99_prep_processor_queue_time_ms", "0"),
    ("p999_prep_processor_queue_time_ms", "0"),
    ("avg_jvm_pause_time_ms", "0.0"),
    ("min_jvm_pause_time_ms", "0"),
    ("max_jvm_pause_time_ms", "0"),
    ("cnt_jvm_pause_time_ms", "0"),
    ("sum_jvm_pause_time_ms", "0"),
    ("p50_jvm_pause_time_ms", "0"),
    ("p95_jvm_pause_time_ms", "0"),
    ("p99_jvm_pause_time_ms", "0"),
    ("p999_jvm_pause_time_ms", "0"),
    ("avg_close_session_prep_time", "0.0"),
    ("min_close_session_prep_time", "0"),
    ("max_close_session_prep_time", "0"),
    ("cnt_close_session_prep_time", "0"),
    ("sum_close_session_prep_time", "0"),
    ("p50_close_session_prep_time", "0"),
    ("p95_close_session_prep_time", "0"),
    ("p99_close_session_prep_time", "0"),
    ("p999_close_session_prep_time", "0"),
    ("avg_read_commitproc_time_ms", "0.0"),
    ("min_read_commitproc_time_ms", "0"),
    ("max_read_commitproc_time_ms", "0"),
    ("cnt_read_commitproc_time_ms", "0"),
    ("sum_read_commitproc_time_ms", "0"),
    ("p50_read_commitproc_time_ms", "0"),
    ("p95_read_commitproc_time_ms", "0"),
    ("p99_read_commitproc_time_ms", "0"),
    ("p999_read_commitproc_time_ms", "0"),
    ("avg_updatelatency", "0.0"),
    ("min_updatelatency", "0"),
    ("max_updatelatency", "0"),
    ("cnt_updatelatency", "0"),
    ("sum_updatelatency", "0"),
    ("p50_updatelatency", "0"),
    ("p95_updatelatency", "0"),
    ("p99_updatelatency", "0"),
    ("p999_updatelatency", "0"),
    ("avg_local_write_committed_time_ms", "0.0"),
    ("min_local_write_committed_time_ms", "0"),
    ("max_local_write_committed_time_ms", "0"),
    ("cnt_local_write_committed_time_ms", "0"),
    ("sum_local_write_committed_time_ms", "0"),
    ("p50_local_write_committed_time_ms", "0"),
    ("p95_local_write_committed_time_ms", "0"),
    ("p99_local_write_committed_time_ms", "0"),
    ("p999_local_write_committed_time_ms", "0"),
    ("avg_request_throttle_queue_time_ms", "0.0"),
    ("min_request_throttle_queue_time_ms", "0"),
    ("max_request_throttle_queue_time_ms", "0"),
    ("cnt_request_throttle_queue_time_ms", "0"),
    ("sum_request_throttle_queue_time_ms", "0"),
    ("p50_request_throttle_queue_time_ms", "0"),
    ("p95_request_throttle_queue_time_ms", "0"),
    ("p99_request_throttle_queue_time_ms", "0"),
    ("p999_request_throttle_queue_time_ms", "0"),
    ("avg_readlatency", "0.0"),
    ("min_readlatency", "0"),
    ("max_readlatency", "0"),
    ("cnt_readlatency", "0"),
    ("sum_readlatency", "0"),
    ("p50_readlatency", "0"),
    ("p95_readlatency", "0"),
    ("p99_readlatency", "0"),
    ("p999_readlatency", "0"),
    ("avg_quorum_ack_latency", "0.0"),
    ("min_quorum_ack_latency", "0"),
    ("max_quorum_ack_latency", "0"),
    ("cnt_quorum_ack_latency", "0"),
    ("sum_quorum_ack_latency", "0"),
    ("p50_quorum_ack_latency", "0"),
    ("p95_quorum_ack_latency", "0"),
    ("p99_quorum_ack_latency", "0"),
    ("p999_quorum_ack_latency", "0"),
    ("avg_om_commit_process_time_ms", "0.0"),
    ("min_om_commit_process_time_ms", "0"),
    ("max_om_commit_process_time_ms", "0"),
    ("cnt_om_commit_process_time_ms", "0"),
    ("sum_om_commit_process_time_ms", "0"),
    ("p50_om_commit_process_time_ms", "0"),
    ("p95_om_commit_process_time_ms", "0"),
    ("p99_om_commit_process_time_ms", "0"),
    ("p999_om_commit_process_time_ms", "0"),
    ("avg_read_final_proc_time_ms", "0.0"),
    ("min_read_final_proc_time_ms", "0"),
    ("max_read_final_proc_time_ms", "0"),
    ("cnt_read_final_proc_time_ms", "0"),
    ("sum_read_final_proc_time_ms", "0"),
    ("p50_read_final_proc_time_ms", "0"),
    ("p95_read_final_proc_time_ms", "0"),
    ("p99_read_final_proc_time_ms", "0"),
    ("p999_read_final_proc_time_ms", "0"),
    ("avg_commit_propagation_latency", "0.0"),
    ("min_commit_propagation_latency", "0"),
    ("max_commit_propagation_latency", "0"),
    ("cnt_commit_propagation_latency", "0"),
    ("sum_commit_propagation_latency", "0"),
    ("p50_commit_propagation_latency", "0"),
    ("p95_commit_propagation_latency", "0"),
    ("p99_commit_propagation_latency", "0"),
    ("p999_commit_propagation_latency", "0"),
    ("avg_dead_watchers_cleaner_latency", "0.0"),
    ("min_dead_watchers_cleaner_latency", "0"),
    ("max_dead_watchers_cleaner_latency", "0"),
    ("cnt_dead_watchers_cleaner_latency", "0"),
    ("sum_dead_watchers_cleaner_latency", "0"),
    ("p50_dead_watchers_cleaner_latency", "0"),
    ("p95_dead_watchers_cleaner_latency", "0"),
    ("p99_dead_watchers_cleaner_latency", "0"),
    ("p999_dead_watchers_cleaner_latency", "0"),
    ("avg_write_final_proc_time_ms", "0.0"),
    ("min_write_final_proc_time_ms", "0"),
    ("max_write_final_proc_time_ms", "0"),
    ("cnt_write_final_proc_time_ms", "0"),
    ("sum_write_final_proc_time_ms", "0"),
    ("p50_write_final_proc_time_ms", "0"),
    ("p95_write_final_proc_time_ms", "0"),
    ("p99_write_final_proc_time_ms", "0"),
    ("p999_write_final_proc_time_ms", "0"),
    ("avg_proposal_ack_creation_latency", "0.0"),
    ("min_proposal_ack_creation_latency", "0"),
    ("max_proposal_ack_creation_latency", "0"),
    ("cnt_proposal_ack_creation_latency", "0"),
    ("sum_proposal_ack_creation_latency", "0"),
    ("p50_proposal_ack_creation_latency", "0"),
    ("p95_proposal_ack_creation_latency", "0"),
    ("p99_proposal_ack_creation_latency", "0"),
    ("p999_proposal_ack_creation_latency", "0"),
    ("avg_proposal_latency", "0.0"),
    ("min_proposal_latency", "0"),
    ("max_proposal_latency", "0"),
    ("cnt_proposal_latency", "0"),
    ("sum_proposal_latency", "0"),
    ("p50_proposal_latency", "0"),
    ("p95_proposal_latency", "0"),
    ("p99_proposal_latency", "0"),
    ("p999_proposal_latency", "0"),
    ("avg_om_proposal_process_time_ms", "0.0"),
    ("min_om_proposal_process_time_ms", "0"),
    ("max_om_proposal_process_time_ms", "0"),
    ("cnt_om_proposal_process_time_ms", "0"),
    ("sum_om_proposal_process_time_ms", "0"),
    ("p50_om_proposal_process_time_ms", "0"),
    ("p95_om_proposal_process_time_ms", "0"),
    ("p99_om_proposal_process_time_ms", "0"),
    ("p999_om_proposal_process_time_ms", "0"),
    ("avg_sync_processor_queue_and_flush_time_ms", "0.0"),
    ("min_sync_processor_queue_and_flush_time_ms", "0"),
    ("max_sync_processor_queue_and_flush_time_ms", "0"),
    ("cnt_sync_processor_queue_and_flush_time_ms", "0"),
    ("sum_sync_processor_queue_and_flush_time_ms", "0"),
    ("p50_sync_processor_queue_and_flush_time_ms", "0"),
    ("p95_sync_processor_queue_and_flush_time_ms", "0"),
    ("p99_sync_processor_queue_and_flush_time_ms", "0"),
    ("p999_sync_processor_queue_and_flush_time_ms", "0"),
    ("avg_propagation_latency", "0.0"),
    ("min_propagation_latency", "0"),
    ("max_propagation_latency", "0"),
    ("cnt_propagation_latency", "0"),
    ("sum_propagation_latency", "0"),
    ("p50_propagation_latency", "0"),
    ("p95_propagation_latency", "0"),
    ("p99_propagation_latency", "0"),
    ("p999_propagation_latency", "0"),
    ("avg_server_write_committed_time_ms", "0.0"),
    ("min_server_write_committed_time_ms", "0"),
    ("max_server_write_committed_time_ms", "0"),
    ("cnt_server_write_committed_time_ms", "0"),
    ("sum_server_write_committed_time_ms", "0"),
    ("p50_server_write_committed_time_ms", "0"),
    ("p95_server_write_committed_time_ms", "0"),
    ("p99_server_write_committed_time_ms", "0"),
    ("p999_server_write_committed_time_ms", "0"),
    ("avg_sync_processor_queue_time_ms", "0.0"),
    ("min_sync_processor_queue_time_ms", "0"),
    ("max_sync_processor_queue_time_ms", "0"),
    ("cnt_sync_processor_queue_time_ms", "0"),
    ("sum_sync_processor_queue_time_ms", "0"),
    ("p50_sync_processor_queue_time_ms", "0"),
    ("p95_sync_processor_queue_time_ms", "0"),
    ("p99_sync_processor_queue_time_ms", "0"),
    ("p999_sync_processor_queue_time_ms", "0"),
    ("avg_sync_processor_queue_flush_time_ms", "0.0"),
    ("min_sync_processor_queue_flush_time_ms", "0"),
    ("max_sync_processor_queue_flush_time_ms", "0"),
    ("cnt_sync_processor_queue_flush_time_ms", "0"),
    ("sum_sync_processor_queue_flush_time_ms", "0"),
    ("p50_sync_processor_queue_flush_time_ms", "0"),
    ("p95_sync_processor_queue_flush_time_ms", "0"),
    ("p99_sync_processor_queue_flush_time_ms", "0"),
    ("p999_sync_processor_queue_flush_time_ms", "0"),
    ("avg_write_commitproc_time_ms", "0.0"),
    ("min_write_commitproc_time_ms", "0"),
    ("max_write_commitproc_time_ms", "0"),
    ("cnt_write_commitproc_time_ms", "0"),
    ("sum_write_commitproc_time_ms", "0"),
    ("p50_write_commitproc_time_ms", "0"),
    ("p95_write_commitproc_time_ms", "0"),
    ("p99_write_commitproc_time_ms", "0"),
    ("p999_write_commitproc_time_ms", "0"),
];

fn abs(p: &std::path::Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// A double as Java prints it for these stats (at most 4 decimals, at least one).
pub(crate) fn java_double(v: f64) -> String {
    let rounded = (v * 10_000.0).round() / 10_000.0;
    let mut s = format!("{rounded}");
    if !s.contains('.') {
        s.push_str(".0");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_doubles() {
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(java_date(1_700_000_000_000), "Tue Nov 14 22:13:20 UTC 2023");
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(1.0 / 9.0 * 10.0), "1.1111");
    }
}
