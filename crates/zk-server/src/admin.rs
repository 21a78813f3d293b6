//! The AdminServer (3.8's `JettyAdminServer` and `Commands`) and the Prometheus `/metrics`
//! endpoint, over HTTP/1.1 with hyper.
//!
//! `GET <admin.commandURL>` lists the commands as links; `GET <admin.commandURL>/<name or alias>`
//! answers 200 with the command's JSON object, which always has `command` (the primary name) and
//! `error` (null or a message): an unknown name, or a command that needs a serving server while
//! this one is not, answers with the error only. The query string carries arguments
//! (`set_trace_mask?traceMask=306`). The 4lw whitelist does not apply, as in 3.8.
//!
//! The answers are computed by the core task that owns the server state, as four-letter words are
//! (`ToCore::Admin`, then `Core::admin` below builds the JSON from the same views of the state as
//! the four-letter words). The JSON is printed the way Jackson's default pretty printer prints
//! it, so tools that scrape the text keep working.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use crate::connection::ToCore;

/// Every response body: a buffer, or the stream of a backup.
type Body = BoxBody<Bytes, Infallible>;

/// One command asked over HTTP: its name as given (primary or alias) and the query arguments.
#[derive(Debug, Clone)]
pub(crate) struct AdminCommand {
    pub(crate) name: String,
    pub(crate) args: BTreeMap<String, String>,
}

/// 3.8's commands: primary name, aliases, and whether it needs a serving server.
pub(crate) const COMMANDS: &[(&str, &[&str], bool)] = &[
    ("configuration", &["conf", "config"], true),
    ("connection_stat_reset", &["crst"], true),
    ("connections", &["cons"], true),
    ("dirs", &[], true),
    ("dump", &[], true),
    ("environment", &["env", "envi"], false),
    ("get_trace_mask", &["gtmk"], false),
    ("hash", &[], true),
    ("initial_configuration", &["icfg"], true),
    ("is_read_only", &["isro"], true),
    ("last_snapshot", &["lsnp"], true),
    ("leader", &["lead"], true),
    ("monitor", &["mntr"], false),
    ("observer_connection_stat_reset", &["orst"], true),
    ("observers", &["obsr"], true),
    ("ruok", &[], true),
    ("server_stats", &["srvr"], true),
    ("set_trace_mask", &["stmk"], false),
    ("stat_reset", &["srst"], true),
    ("stats", &["stat"], true),
    ("system_properties", &["sysp"], false),
    ("voting_view", &[], true),
    ("watch_summary", &["wchs"], true),
    ("watches", &["wchc"], true),
    ("watches_by_path", &["wchp"], true),
    ("zabstate", &[], false),
];

/// The primary name of a command and whether it needs a serving server.
pub(crate) fn lookup(name: &str) -> Option<(&'static str, bool)> {
    COMMANDS
        .iter()
        .find(|(primary, aliases, _)| *primary == name || aliases.contains(&name))
        .map(|(primary, _, required)| (*primary, *required))
}

/// `CommandResponse.toMap()` of an error: the name as asked and the message.
pub(crate) fn error_response(command: &str, error: &str) -> Value {
    serde_json::json!({ "command": command, "error": error })
}

/// What the HTTP servers share: where commands go, and the settings.
#[derive(Debug, Clone)]
struct Endpoint {
    core: mpsc::Sender<ToCore>,
    command_url: Arc<str>,
    idle: Duration,
    backups: Option<Arc<Backups>>,
}

/// 3.9's `snapshot` command (`admin.snapshot.enabled`): at most one backup per interval.
#[derive(Debug)]
pub(crate) struct Backups {
    interval: Duration,
    last: std::sync::Mutex<Option<Instant>>,
}

impl Backups {
    pub(crate) fn new(interval: Duration) -> Self {
        Backups {
            interval,
            last: std::sync::Mutex::new(None),
        }
    }

    /// Whether a backup may start now (and, if so, the interval restarts).
    fn take_turn(&self) -> Result<(), Duration> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(at) = *last {
            let since = at.elapsed();
            if since < self.interval {
                return Err(self.interval - since);
            }
        }
        *last = Some(Instant::now());
        Ok(())
    }
}

/// Accepts AdminServer connections until the task is aborted (which ends their tasks too).
pub(crate) async fn serve_admin(
    listener: TcpListener,
    core: mpsc::Sender<ToCore>,
    command_url: String,
    idle: Duration,
    backups: Option<Backups>,
) {
    let endpoint = Endpoint {
        core,
        command_url: command_url.into(),
        idle,
        backups: backups.map(Arc::new),
    };
    accept(listener, endpoint, Kind::Admin).await;
}

/// Accepts Prometheus scrapes (`GET /metrics`) until the task is aborted.
pub(crate) async fn serve_metrics(
    listener: TcpListener,
    core: mpsc::Sender<ToCore>,
    idle: Duration,
) {
    let endpoint = Endpoint {
        core,
        command_url: "".into(),
        idle,
        backups: None,
    };
    accept(listener, endpoint, Kind::Metrics).await;
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Admin,
    Metrics,
}

async fn accept(listener: TcpListener, endpoint: Endpoint, kind: Kind) {
    // Dropping the set (when this task is aborted) aborts every connection's task.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                Err(e) => {
                    warn!(error = %e, "accepting an HTTP connection failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let endpoint = endpoint.clone();
        connections.spawn(serve_connection(stream, peer, endpoint, kind));
    }
}

/// Serves one HTTP connection; closes it after `admin.idleTimeout` without traffic (Jetty's
/// connector idle timeout).
async fn serve_connection(stream: TcpStream, peer: SocketAddr, endpoint: Endpoint, kind: Kind) {
    let activity = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
        started,
    });
    let idle = endpoint.idle;
    let service = hyper::service::service_fn(move |request| {
        let endpoint = endpoint.clone();
        async move { Ok::<_, Infallible>(respond(request, &endpoint, kind).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    tokio::pin!(conn);
    loop {
        let last = Duration::from_millis(activity.load(Ordering::Relaxed));
        let deadline = started + last + idle;
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    debug!(%peer, error = %e, "HTTP connection ended");
                }
                return;
            }
            () = tokio::time::sleep_until(deadline.into()) => {
                let last = Duration::from_millis(activity.load(Ordering::Relaxed));
                if started + last + idle <= Instant::now() {
                    debug!(%peer, "closing an idle HTTP connection");
                    return;
                }
            }
        }
    }
}

async fn respond(request: Request<Incoming>, endpoint: &Endpoint, kind: Kind) -> Response<Body> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET is served here\n".into(),
        );
    }
    let path = percent_decode(request.uri().path());
    match kind {
        Kind::Metrics => {
            if path != "/metrics" {
                return plain(StatusCode::NOT_FOUND, "no such page: try /metrics\n".into());
            }
            let (reply, answer) = oneshot::channel();
            let text = match endpoint.core.send(ToCore::Metrics { reply }).await {
                Ok(()) => answer.await.ok(),
                Err(_) => None,
            };
            match text {
                Some(text) => with_type(
                    StatusCode::OK,
                    text,
                    "text/plain; version=0.0.4; charset=utf-8",
                ),
                None => plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the server is shutting down\n".into(),
                ),
            }
        }
        Kind::Admin => {
            let base = &*endpoint.command_url;
            let Some(rest) = path.strip_prefix(base) else {
                return plain(
                    StatusCode::NOT_FOUND,
                    format!("no such page: the commands are listed at {base}\n"),
                );
            };
            let name = match rest.strip_prefix('/') {
                None if rest.is_empty() => "",
                Some(name) => name,
                None => {
                    return plain(
                        StatusCode::NOT_FOUND,
                        format!("no such page: the commands are listed at {base}\n"),
                    );
                }
            };
            if name.is_empty() {
                return with_type(StatusCode::OK, listing(base), "text/html;charset=utf-8");
            }
            if name == "snapshot" || name == "snap" {
                return backup(endpoint).await;
            }
            let args = request.uri().query().map(parse_query).unwrap_or_default();
            let command = AdminCommand {
                name: name.to_owned(),
                args,
            };
            let (reply, answer) = oneshot::channel();
            let value = match endpoint.core.send(ToCore::Admin { command, reply }).await {
                Ok(()) => answer.await.ok(),
                Err(_) => None,
            }
            .unwrap_or_else(|| {
                error_response(
                    name,
                    "This ZooKeeper instance is not currently serving requests",
                )
            });
            with_type(StatusCode::OK, to_jackson_json(&value), "application/json")
        }
    }
}

/// 3.9's `snapshot` command: a consistent copy of the tree, taken by the core at one zxid,
/// streamed as a complete snapshot file (what `zk-restore` installs), with the zxid in the
/// `last_zxid` header; written on a blocking thread, so the server goes on serving meanwhile.
async fn backup(endpoint: &Endpoint) -> Response<Body> {
    let Some(backups) = &endpoint.backups else {
        let error = error_response(
            "snapshot",
            "the snapshot command is disabled: set admin.snapshot.enabled=true in zoo.cfg",
        );
        return with_type(StatusCode::OK, to_jackson_json(&error), "application/json");
    };
    if let Err(wait) = backups.take_turn() {
        return plain(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many snapshot requests: try again in {} s (admin.snapshot.intervalInMS)\n",
                wait.as_secs() + 1
            ),
        );
    }
    let (reply, answer) = oneshot::channel();
    let copy = match endpoint.core.send(ToCore::Backup { reply }).await {
        Ok(()) => answer.await.ok().flatten(),
        Err(_) => None,
    };
    let Some((zxid, mut tree)) = copy else {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "This ZooKeeper instance is not currently serving requests\n".into(),
        );
    };
    let (chunks, stream) = mpsc::channel::<Bytes>(16);
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter {
            chunks,
            buf: BytesMut::with_capacity(CHUNK),
        };
        let written = zk_persistence::write_snapshot_to(&mut *tree, &mut out)
            .map_err(|e| e.to_string())
            .and_then(|(nodes, _)| out.flush_chunk().map(|()| nodes).map_err(|e| e.to_string()));
        match written {
            Ok(nodes) => tracing::info!(zxid = %zxid, nodes, "backup snapshot streamed"),
            Err(e) => warn!(error = %e, "backup snapshot stopped part way"),
        }
    });
    let mut response = Response::new(StreamBody::new(Chunks(stream)).boxed());
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("0x{:x}", zxid.0)) {
        headers.insert("last_zxid", value);
    }
    response
}

const CHUNK: usize = 64 * 1024;

/// A `Write` that hands the HTTP body 64 KiB chunks; a client that hung up ends the writing.
struct ChunkWriter {
    chunks: mpsc::Sender<Bytes>,
    buf: BytesMut,
}

impl ChunkWriter {
    fn flush_chunk(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = self.buf.split().freeze();
        self.chunks
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client gone"))
    }
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush_chunk()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The chunks as an HTTP body stream.
struct Chunks(mpsc::Receiver<Bytes>);

impl futures_core::Stream for Chunks {
    type Item = Result<Frame<Bytes>, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}

fn plain(status: StatusCode, text: String) -> Response<Body> {
    with_type(status, text, "text/plain;charset=utf-8")
}

fn with_type(status: StatusCode, body: String, content_type: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)).boxed());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// `JettyAdminServer.commandLinks`: a link per primary name, sorted, each followed by `<br/>`.
fn listing(base: &str) -> String {
    let mut names: Vec<&str> = COMMANDS.iter().map(|(name, _, _)| *name).collect();
    names.sort_unstable();
    names
        .iter()
        .map(|name| format!("<a href=\"{base}/{name}\">{name}</a>\n<br/>\n"))
        .collect()
}

/// `application/x-www-form-urlencoded` pairs; the first value of a repeated key wins, as
/// `CommandServlet` takes `getParameterMap()`'s first.
fn parse_query(query: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(&k.replace('+', " "));
        let v = percent_decode(&v.replace('+', " "));
        out.entry(k).or_insert(v);
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Jackson's `DefaultPrettyPrinter` layout: `"key" : value`, objects indented two spaces per
/// level, arrays on one line (`[ 1, 2 ]`, `[ ]`), `{ }` when empty. The top level lists the
/// command's fields first and `command` and `error` last, as `CommandResponse.toMap()` does.
pub(crate) fn to_jackson_json(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map
                .keys()
                .filter(|k| *k != "command" && *k != "error")
                .collect();
            keys.extend(map.keys().filter(|k| *k == "command"));
            keys.extend(map.keys().filter(|k| *k == "error"));
            write_object(&mut out, keys.into_iter().map(|k| (k, &map[k])), 0);
        }
        other => write_value(&mut out, other, 0),
    }
    out
}

fn write_object<'a>(
    out: &mut String,
    entries: impl Iterator<Item = (&'a String, &'a Value)>,
    depth: usize,
) {
    out.push('{');
    let mut any = false;
    for (key, value) in entries {
        out.push_str(if any { ",\n" } else { "\n" });
        any = true;
        out.push_str(&"  ".repeat(depth + 1));
        out.push_str(&Value::String(key.clone()).to_string());
        out.push_str(" : ");
        write_value(out, value, depth + 1);
    }
    if any {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
        out.push('}');
    } else {
        out.push_str(" }");
    }
}

fn write_value(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Object(map) => write_object(out, map.iter(), depth),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i == 0 { " " } else { ", " });
                write_value(out, item, depth);
            }
            out.push_str(" ]");
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A socket that notes when it last moved bytes (milliseconds after `started`).
struct Tracked {
    inner: TcpStream,
    activity: Arc<AtomicU64>,
    started: Instant,
}

impl Tracked {
    fn touch(&self) {
        self.activity
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// `ZxidDigest`'s version (`DigestCalculator.DIGEST_VERSION`).
const DIGEST_VERSION: i64 = 2;

impl crate::pipeline::Core {
    /// Runs an admin command (`Commands.runCommand`) on the server state.
    pub(crate) fn admin(&mut self, command: &AdminCommand) -> Value {
        let Some((name, server_required)) = lookup(&command.name) else {
            return error_response(&command.name, &format!("Unknown command: {}", command.name));
        };
        if server_required && !self.is_serving() {
            return error_response(name, NOT_SERVING);
        }
        let mut out = serde_json::Map::new();
        let mut error = Value::Null;
        match name {
            "configuration" => {
                let c = &self.config;
                let port = self
                    .bound_client_port
                    .or(c.client_port)
                    .map_or(-1, i32::from);
                out.insert("client_port".into(), port.into());
                out.insert(
                    "data_dir".into(),
                    crate::four_letter::abs(&self.snap_dir).into(),
                );
                out.insert(
                    "data_log_dir".into(),
                    crate::four_letter::abs(&self.log_dir).into(),
                );
                out.insert("tick_time".into(), c.tick_ms.into());
                out.insert("max_client_cnxns".into(), c.max_client_cnxns.into());
                out.insert(
                    "min_session_timeout".into(),
                    c.min_session_timeout_ms.into(),
                );
                out.insert(
                    "max_session_timeout".into(),
                    c.max_session_timeout_ms.into(),
                );
                out.insert("server_id".into(), c.server_id.into());
                out.insert(
                    "client_port_listen_backlog".into(),
                    c.client_port_listen_backlog.into(),
                );
            }
            "connection_stat_reset" => {
                for c in self.conns.values_mut() {
                    c.shared.stats.reset();
                }
            }
            "connections" => {
                out.insert(
                    "connections".into(),
                    Value::Array(self.connection_infos(false)),
                );
                out.insert("secure_connections".into(), Value::Array(Vec::new()));
            }
            "dirs" => {
                out.insert(
                    "datadir_size".into(),
                    crate::four_letter::dir_size(&self.snap_dir).into(),
                );
                out.insert(
                    "logdir_size".into(),
                    crate::four_letter::dir_size(&self.log_dir).into(),
                );
            }
            "dump" => {
                let expiry: serde_json::Map<String, Value> = self
                    .session_buckets()
                    .into_iter()
                    .map(|(t, ids)| (t.to_string(), Value::from(ids)))
                    .collect();
                let tree = self.tree.read();
                let ephemerals: serde_json::Map<String, Value> = tree
                    .ephemeral_sessions()
                    .into_iter()
                    .map(|s| (s.0.to_string(), Value::from(tree.ephemerals(s))))
                    .collect();
                drop(tree);
                out.insert("expiry_time_to_session_ids".into(), expiry.into());
                out.insert("session_id_to_ephemeral_paths".into(), ephemerals.into());
            }
            "environment" => {
                for (k, v) in crate::four_letter::environment() {
                    out.insert(k.into(), v.into());
                }
            }
            "get_trace_mask" => {
                out.insert("tracemask".into(), self.trace_mask.into());
            }
            "set_trace_mask" => match command.args.get("traceMask") {
                None => error = "setTraceMask requires long traceMask argument".into(),
                Some(text) => match text.parse::<i64>() {
                    Ok(mask) => {
                        self.trace_mask = mask;
                        out.insert("tracemask".into(), mask.into());
                    }
                    Err(_) => {
                        error = format!("setTraceMask requires long traceMask argument, got {text}")
                            .into()
                    }
                },
            },
            "hash" => {
                let digests: Vec<Value> = self
                    .digests
                    .iter()
                    .map(|(zxid, digest)| {
                        serde_json::json!({
                            "zxid": zxid.0,
                            "digest": digest,
                            "digest_version": DIGEST_VERSION,
                        })
                    })
                    .collect();
                out.insert("digests".into(), digests.into());
            }
            "initial_configuration" => {
                out.insert(
                    "initial_configuration".into(),
                    self.config.initial_config.clone().into(),
                );
            }
            "is_read_only" => {
                // Read-only mode (a partitioned member serving reads) is not implemented.
                out.insert("read_only".into(), false.into());
            }
            "last_snapshot" => {
                let (zxid, timestamp) = self.last_snapshot();
                out.insert("zxid".into(), format!("{zxid:x}").into());
                out.insert("timestamp".into(), timestamp.into());
            }
            "leader" => match self.leader_info() {
                None => error = "server is not initialized".into(),
                Some((is_leader, id, ip)) => {
                    out.insert("is_leader".into(), is_leader.into());
                    out.insert("leader_id".into(), id.into());
                    out.insert("leader_ip".into(), ip.into());
                }
            },
            "monitor" => {
                out.extend(self.monitor_values(false));
            }
            "observer_connection_stat_reset" => {
                // Learner links keep no packet statistics here: nothing to reset.
            }
            "observers" => {
                let observers = self.synced_observers();
                out.insert("synced_observers".into(), observers.len().into());
                let infos: Vec<Value> = observers
                    .into_iter()
                    .map(|sid| serde_json::json!({ "sid": sid }))
                    .collect();
                out.insert("observers".into(), infos.into());
            }
            "ruok" => {}
            "server_stats" | "stats" => {
                out.extend(self.server_stats_response());
                if name == "stats" {
                    out.insert(
                        "connections".into(),
                        Value::Array(self.connection_infos(true)),
                    );
                    out.insert("secure_connections".into(), Value::Array(Vec::new()));
                }
            }
            "stat_reset" => {
                self.stats.reset();
                self.metrics.reset();
            }
            "system_properties" => {
                for (k, v) in crate::four_letter::process_properties() {
                    out.insert(k.into(), v.into());
                }
                // QuorumPeerConfig turns the zoo.cfg keys it does not know itself into
                // `zookeeper.<key>` system properties.
                for (k, v) in &self.config.raw {
                    if !is_quorum_peer_config_key(k) {
                        out.insert(format!("zookeeper.{k}"), v.clone().into());
                    }
                }
            }
            "voting_view" => {
                out.insert("current_config".into(), self.voting_view());
            }
            "watch_summary" => {
                let (data, _) = self.tree.read().watch_summary();
                out.insert("num_connections".into(), data.watchers.into());
                out.insert("num_paths".into(), data.paths.into());
                out.insert("num_total_watches".into(), data.watches.into());
            }
            "watches" => {
                let by_session: serde_json::Map<String, Value> = self
                    .watches_by_session()
                    .into_iter()
                    .map(|(sid, paths)| (sid.to_string(), Value::from(paths)))
                    .collect();
                out.insert("session_id_to_watched_paths".into(), by_session.into());
            }
            "watches_by_path" => {
                let by_path: serde_json::Map<String, Value> = self
                    .watches_by_path()
                    .into_iter()
                    .map(|(path, sids)| (path, Value::from(sids)))
                    .collect();
                out.insert("path_to_session_ids".into(), by_path.into());
            }
            "zabstate" => out.extend(self.zab_state()),
            _ => unreachable!("every command of COMMANDS is handled"),
        }
        out.insert("command".into(), name.into());
        out.insert("error".into(), error);
        if out["error"].is_string() && matches!(name, "leader" | "set_trace_mask") {
            // 3.8 answers these errors with the name and the message only.
            out.retain(|k, _| k == "command" || k == "error");
        }
        Value::Object(out)
    }

    /// `ServerCnxn.getConnectionInfo(brief)` of each client connection.
    fn connection_infos(&self, brief: bool) -> Vec<Value> {
        let mut ids: Vec<_> = self.conns.keys().copied().collect();
        ids.sort();
        ids.into_iter()
            .map(|id| {
                let c = &self.conns[&id];
                let mut info = serde_json::Map::new();
                info.insert(
                    "remote_socket_address".into(),
                    format!("{}:{}", c.addr.ip(), c.addr.port()).into(),
                );
                // The connection task reads whenever its output is not backed up: OP_READ.
                info.insert("interest_ops".into(), 1.into());
                info.insert("outstanding_requests".into(), c.outstanding.into());
                let stats = &c.shared.stats;
                info.insert("packets_received".into(), stats.received().into());
                info.insert("packets_sent".into(), stats.sent().into());
                if !brief {
                    let last = c.shared.last();
                    info.insert("session_id".into(), c.session().unwrap_or(0).into());
                    info.insert("last_operation".into(), last.op.into());
                    info.insert("established".into(), c.established_ms.into());
                    info.insert("session_timeout".into(), c.timeout_ms.into());
                    info.insert("last_cxid".into(), last.cxid.into());
                    info.insert("last_zxid".into(), last.zxid.into());
                    info.insert("last_response_time".into(), last.response_ms.into());
                    info.insert("last_latency".into(), last.latency.into());
                    info.insert("min_latency".into(), stats.min().into());
                    info.insert("avg_latency".into(), (stats.avg() as u64).into());
                    info.insert("max_latency".into(), stats.max().into());
                }
                Value::Object(info)
            })
            .collect()
    }

    /// `srvr`'s object: version, read-only flag, `ServerStats`, the client response sizes, the
    /// leader's proposal sizes, the node count.
    fn server_stats_response(&self) -> serde_json::Map<String, Value> {
        let s = &self.stats;
        let buffer = |b: &crate::metrics::BufferStats| {
            serde_json::json!({
                "last_buffer_size": b.last,
                "min_buffer_size": b.min,
                "max_buffer_size": b.max,
            })
        };
        let avg = (s.avg() * 10_000.0).round() / 10_000.0;
        let responses = self.metrics.client_response_stats();
        let stats = serde_json::json!({
            "packets_sent": s.sent(),
            "packets_received": s.received(),
            "fsync_threshold_exceed_count": self.metrics.fsync_threshold_exceed_count(),
            "client_response_stats": buffer(&responses),
            "data_dir_size": crate::four_letter::dir_size(&self.snap_dir),
            "log_dir_size": crate::four_letter::dir_size(&self.log_dir),
            "provider_null": false,
            "server_state": self.mode_name(),
            "last_processed_zxid": self.last_zxid(),
            "outstanding_requests": self.outstanding(),
            "avg_latency": avg,
            "max_latency": s.max(),
            "min_latency": s.min(),
            "num_alive_client_connections": self.conns.len(),
            "uptime": self.started.elapsed().as_millis() as u64,
            "auth_failed_count": self.metrics.auth_failed_count(),
            // Counted by 3.8's X.509 provider for clients without a certificate; this server
            // has no X.509 client authentication, so no connection is ever counted.
            "non_mtlsremote_conn_count": 0,
            "non_mtlslocal_conn_count": 0,
        });
        let mut out = serde_json::Map::new();
        out.insert("version".into(), crate::four_letter::VERSION.into());
        out.insert("read_only".into(), false.into());
        out.insert("server_stats".into(), stats);
        out.insert("client_response".into(), buffer(&responses));
        if self.leads() && self.peer.is_some() {
            out.insert("proposal_stats".into(), buffer(&self.proposal_sizes));
        }
        out.insert(
            "node_count".into(),
            (self.tree.read().node_count() + 1).into(),
        );
        out
    }

    /// The newest snapshot on disk: its zxid and its modification time in seconds; -1 and -1
    /// when there is none.
    fn last_snapshot(&self) -> (i64, i64) {
        let newest = self.snap.all().ok().and_then(|all| all.last().cloned());
        match newest {
            None => (-1, -1),
            Some((zxid, path)) => {
                let secs = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(-1, |d| d.as_secs() as i64);
                (zxid.0, secs)
            }
        }
    }
}

/// The zoo.cfg keys `QuorumPeerConfig.parseProperties` reads itself; every other key becomes the
/// system property `zookeeper.<key>`.
fn is_quorum_peer_config_key(key: &str) -> bool {
    const KEYS: &[&str] = &[
        "dataDir",
        "dataLogDir",
        "clientPort",
        "localSessionsEnabled",
        "localSessionsUpgradingEnabled",
        "clientPortAddress",
        "secureClientPort",
        "secureClientPortAddress",
        "observerMasterPort",
        "clientPortListenBacklog",
        "tickTime",
        "maxClientCnxns",
        "minSessionTimeout",
        "maxSessionTimeout",
        "initLimit",
        "syncLimit",
        "connectToLearnerMasterLimit",
        "electionAlg",
        "quorumListenOnAllIPs",
        "peerType",
        "syncEnabled",
        "dynamicConfigFile",
        "autopurge.snapRetainCount",
        "autopurge.purgeInterval",
        "standaloneEnabled",
        "reconfigEnabled",
        "sslQuorum",
        "portUnification",
        "sslQuorumReloadCertFiles",
        "quorum.auth.enableSasl",
        "quorum.auth.serverRequireSasl",
        "quorum.auth.learnerRequireSasl",
        "quorum.auth.learner.saslLoginContext",
        "quorum.auth.server.saslLoginContext",
        "quorum.auth.kerberos.servicePrincipal",
        "quorum.cnxn.threads.size",
        "jvm.pause.info-threshold.ms",
        "jvm.pause.warn-threshold.ms",
        "jvm.pause.sleep.time.ms",
        "jvm.pause.monitor",
        "metricsProvider.className",
        "multiAddress.enabled",
        "multiAddress.reachabilityCheckTimeoutMs",
        "multiAddress.reachabilityCheckEnabled",
        "oraclePath",
    ];
    KEYS.contains(&key)
        || ["server.", "group", "weight", "metricsProvider."]
            .iter()
            .any(|p| key.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_laid_out_as_jackson_does() {
        let v = serde_json::json!({
            "error": null,
            "command": "stats",
            "a": [],
            "b": {},
            "c": [ { "x": 1 }, { "y": 2.5 } ],
            "d": [1, 2],
        });
        assert_eq!(
            to_jackson_json(&v),
            "{\n  \"a\" : [ ],\n  \"b\" : { },\n  \"c\" : [ {\n    \"x\" : 1\n  }, {\n    \"y\" : 2.5\n  } ],\n  \"d\" : [ 1, 2 ],\n  \"command\" : \"stats\",\n  \"error\" : null\n}"
        );
    }

    #[test]
    fn queries_and_names() {
        let q = parse_query("traceMask=306&x=a%20b&traceMask=1&y");
        assert_eq!(q["traceMask"], "306");
        assert_eq!(q["x"], "a b");
        assert_eq!(q["y"], "");
        assert_eq!(lookup("mntr"), Some(("monitor", false)));
        assert_eq!(lookup("stat"), Some(("stats", true)));
        assert_eq!(lookup("nosuch"), None);
        assert!(
            listing("/commands")
                .starts_with("<a href=\"/commands/configuration\">configuration</a>\n<br/>\n")
        );
    }
}
