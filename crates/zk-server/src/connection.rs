//! One task per client connection, owning its socket: the first four bytes are either a
//! four-letter word or the length of a ConnectRequest; after the handshake it splits frames
//! (at most `jute.maxbuffer` long) into requests for the pipeline and writes the frames the
//! pipeline queues for it, in order. A connection stops reading while much of its output is
//! unwritten, so a client that does not read cannot make the server buffer without bound.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tracing::{debug, info, warn};
use zk_jute::proto::{
    ConnectRequest, ExistsResponse, GetChildren2Response, GetChildrenResponse, GetDataReply,
    RequestHeader,
};
use zk_jute::{FrameDecoder, OpCode, Record};

use crate::four_letter::{self, FOUR_LETTER_WORDS};
use crate::pipeline::{SharedTree, reply_into, wall_ms};
use crate::stats::{ConnShared, LastOp, Stats};

pub(crate) type ConnId = u64;

/// Stop reading requests while this much output is queued for the client.
const HIGH_WATER_BYTES: usize = 4 << 20;

/// What the pipeline hands a connection.
#[derive(Debug)]
pub(crate) enum Out {
    Frame(Bytes),
    /// Close once everything before has been written.
    Close,
}

/// The pipeline's handle on a connection's output.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    tx: mpsc::UnboundedSender<Out>,
    queued: Arc<AtomicUsize>,
    abort: Arc<Notify>,
}

impl Outbox {
    /// Queues a frame; false when the connection is gone or too far behind (then it is aborted).
    pub(crate) fn send(&self, frame: Bytes, hard_cap: usize) -> bool {
        let len = frame.len();
        let queued = self.queued.fetch_add(len, Ordering::AcqRel) + len;
        if queued > hard_cap {
            warn!(
                queued,
                "closing a connection whose client does not read its responses"
            );
            self.abort.notify_one();
            return false;
        }
        self.tx.send(Out::Frame(frame)).is_ok()
    }

    pub(crate) fn close(&self) {
        let _ = self.tx.send(Out::Close);
    }

    pub(crate) fn abort(&self) {
        self.abort.notify_one();
    }
}

/// A connection's handshake, for the core to answer.
#[derive(Debug)]
pub(crate) struct Connect {
    pub(crate) conn: ConnId,
    pub(crate) addr: SocketAddr,
    pub(crate) request: ConnectRequest,
    pub(crate) read_only_flag: Option<bool>,
    pub(crate) out: Outbox,
    pub(crate) shared: Arc<ConnShared>,
}

/// Messages from connections to the pipeline.
#[derive(Debug)]
pub(crate) enum ToCore {
    Connect(Connect),
    /// The AdminServer's `snapshot` command: a copy of the tree and its zxid (none while the
    /// server does not serve).
    Backup {
        reply: oneshot::Sender<Option<(zk_jute::Zxid, Box<zk_datatree::DataTree>)>>,
    },
    /// A connection answered reads itself: its session is alive.
    Touch {
        conn: ConnId,
    },
    Request {
        conn: ConnId,
        header: RequestHeader,
        body: Bytes,
        /// Held until the request is answered (globalOutstandingLimit).
        permit: Option<OwnedSemaphorePermit>,
    },
    Closed {
        conn: ConnId,
    },
    FourLetter {
        word: String,
        /// The asking connection's peer: 3.8 lists it among the connections it reports.
        addr: SocketAddr,
        reply: oneshot::Sender<String>,
    },
    /// An AdminServer command; the answer is the JSON object 3.8 answers with.
    Admin {
        command: crate::admin::AdminCommand,
        reply: oneshot::Sender<serde_json::Value>,
    },
    /// A Prometheus scrape: the text exposition of every metric.
    Metrics {
        reply: oneshot::Sender<String>,
    },
}

/// Settings every connection shares.
#[derive(Debug, Clone)]
pub(crate) struct ConnSettings {
    pub(crate) max_frame: usize,
    pub(crate) sessionless_timeout: Duration,
    pub(crate) outstanding: Arc<Semaphore>,
    pub(crate) reads: ReadPath,
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
}

/// What a connection needs to answer plain reads itself: the shared tree, whether the server
/// serves, the server's counters, and how often to tell the core its session is active.
#[derive(Debug, Clone)]
pub(crate) struct ReadPath {
    pub(crate) tree: Arc<SharedTree>,
    pub(crate) serving: Arc<AtomicBool>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) touch_every: Duration,
}

/// getData, exists and getChildren(2) without a watch, answered from the shared tree without a
/// trip through the core, the reply appended to `out`. False when the request must go to the
/// core (another op, a watch, a server that does not serve, a connection without a session).
fn fast_read(
    reads: &ReadPath,
    conn: &ConnShared,
    header: &RequestHeader,
    body: &[u8],
    out: &mut BytesMut,
) -> bool {
    if !reads.serving.load(Ordering::Acquire) || conn.session().is_none() {
        return false;
    }
    let Ok(op) = OpCode::try_from(header.r#type) else {
        return false;
    };
    if !matches!(
        op,
        OpCode::GetData | OpCode::Exists | OpCode::GetChildren | OpCode::GetChildren2
    ) {
        return false;
    }
    // All four requests are (ustring path, bool watch).
    let Some((path, false)) = path_and_watch(body) else {
        return false;
    };
    let xid = header.xid.0;
    let auth = conn.auth.read().unwrap_or_else(|p| p.into_inner());
    let tree = reads.tree.read();
    let z = tree.last_processed_zxid().0;
    let failed = match op {
        OpCode::GetData => match tree.read_data(path, &auth) {
            Ok((data, stat)) => {
                reply_into(out, xid, z, 0, Some(&GetDataReply { data, stat }));
                None
            }
            Err(code) => Some(code),
        },
        OpCode::Exists => match tree.read_exists(path) {
            Ok(stat) => {
                reply_into(out, xid, z, 0, Some(&ExistsResponse { stat }));
                None
            }
            Err(code) => Some(code),
        },
        OpCode::GetChildren => match tree.read_children(path, &auth) {
            Ok((children, _)) => {
                reply_into(out, xid, z, 0, Some(&GetChildrenResponse { children }));
                None
            }
            Err(code) => Some(code),
        },
        _ => match tree.read_children(path, &auth) {
            Ok((children, stat)) => {
                reply_into(
                    out,
                    xid,
                    z,
                    0,
                    Some(&GetChildren2Response { children, stat }),
                );
                None
            }
            Err(code) => Some(code),
        },
    };
    if let Some(code) = failed {
        reply_into::<GetDataReply>(out, xid, z, code.code(), None);
    }
    true
}

/// The path and watch flag of a read request, without copying the path; `None` for anything
/// malformed or not UTF-8 (the core then answers it as 3.8 would).
fn path_and_watch(body: &[u8]) -> Option<(&str, bool)> {
    let len = usize::try_from(i32::from_be_bytes(body.get(..4)?.try_into().ok()?)).ok()?;
    let path = std::str::from_utf8(body.get(4..4 + len)?).ok()?;
    match body.get(4 + len..)? {
        [0] => Some((path, false)),
        [_] => Some((path, true)),
        _ => None,
    }
}

/// Counts a read answered on the connection, as the core counts the ones it answers.
fn count_fast_read(
    reads: &ReadPath,
    conn: &ConnShared,
    header: &RequestHeader,
    answer: &[u8],
    arrived: Instant,
) {
    let ms = arrived.elapsed().as_millis() as u64;
    for stats in [&reads.stats, &conn.stats] {
        stats.count_received();
        stats.record(ms);
        stats.count_sent();
    }
    let op = OpCode::try_from(header.r#type).map_or("NA", crate::pipeline::op_name);
    conn.set_last(LastOp {
        op,
        cxid: i64::from(header.xid.0),
        zxid: answer_zxid(answer),
        response_ms: wall_ms(),
        latency: ms,
    });
}

/// The zxid in a reply frame's header.
fn answer_zxid(frame: &[u8]) -> i64 {
    frame
        .get(8..16)
        .map_or(-1, |z| i64::from_be_bytes(z.try_into().expect("8 bytes")))
}

/// Whether an output frame answers a request (a watch event has xid -1).
fn is_reply(frame: &[u8]) -> bool {
    frame.get(4..8) != Some(&(-1i32).to_be_bytes()[..])
}

/// Requests handed to the core whose replies have not come back through the outbox: while any
/// is out, reads go to the core too, behind them.
#[derive(Debug, Default)]
struct InCore {
    pending: usize,
    /// The ConnectResponse, which answers no request, has come.
    connected: bool,
}

/// Moves queued output (starting with `first`) into `wbuf`, up to 1 MiB, counting the replies
/// among it off `in_core`. Returns the bytes taken from the outbox and whether a close came.
fn drain_outbox(
    first: Option<Out>,
    rx: &mut mpsc::UnboundedReceiver<Out>,
    wbuf: &mut BytesMut,
    in_core: &mut InCore,
) -> (usize, bool) {
    let mut taken = 0;
    let mut next = first.or_else(|| rx.try_recv().ok());
    while let Some(out) = next {
        match out {
            Out::Frame(f) => {
                if !in_core.connected {
                    in_core.connected = true;
                } else if is_reply(&f) {
                    in_core.pending = in_core.pending.saturating_sub(1);
                }
                taken += f.len();
                wbuf.extend_from_slice(&f);
            }
            Out::Close => return (taken, true),
        }
        if wbuf.len() >= 1 << 20 {
            break;
        }
        next = rx.try_recv().ok();
    }
    (taken, false)
}

/// Serves one accepted socket until it closes.
pub(crate) async fn serve<S>(
    mut stream: S,
    conn: ConnId,
    addr: SocketAddr,
    core: mpsc::Sender<ToCore>,
    settings: ConnSettings,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut buf = BytesMut::with_capacity(4096);
    // Handshake: four-letter word or ConnectRequest, within the sessionless timeout.
    let first = tokio::time::timeout(settings.sessionless_timeout, async {
        while buf.len() < 4 {
            if stream.read_buf(&mut buf).await? == 0 {
                return Ok::<bool, std::io::Error>(false);
            }
        }
        Ok(true)
    })
    .await;
    match first {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) | Ok(Err(_)) => return,
        Err(_) => {
            settings.metrics.sessionless_connections_expired.inc();
            info!(%addr, "closing a connection that sent no request within the sessionless timeout");
            return;
        }
    }
    let word = String::from_utf8_lossy(&buf[..4]).into_owned();
    if FOUR_LETTER_WORDS.contains(&word.as_str()) {
        if word == "stmk" {
            while buf.len() < 12 {
                match stream.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        }
        let (reply, answer) = oneshot::channel();
        let text = if core
            .send(ToCore::FourLetter {
                word: word.clone(),
                addr,
                reply,
            })
            .await
            .is_ok()
        {
            answer.await.unwrap_or_default()
        } else {
            four_letter::NOT_SERVING.to_owned()
        };
        let _ = stream.write_all(text.as_bytes()).await;
        let _ = stream.shutdown().await;
        return;
    }
    let decoder = FrameDecoder::new(settings.max_frame);
    let connect = loop {
        match decoder.decode(&mut buf) {
            Ok(Some(frame)) => break frame,
            Ok(None) => match stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            Err(e) => {
                warn!(%addr, error = %e, "closing a connection: bad connect frame");
                return;
            }
        }
    };
    let (request, read_only_flag) = match ConnectRequest::read_with_flag(&mut connect.clone()) {
        Ok(r) => r,
        Err(e) => {
            warn!(%addr, error = %e, "closing a connection: malformed ConnectRequest");
            return;
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let abort = Arc::new(Notify::new());
    let out = Outbox {
        tx,
        queued: queued.clone(),
        abort: abort.clone(),
    };
    let shared = Arc::new(ConnShared::default());
    if core
        .send(ToCore::Connect(Connect {
            conn,
            addr,
            request,
            read_only_flag,
            out,
            shared: shared.clone(),
        }))
        .await
        .is_err()
    {
        return;
    }
    let mut wbuf = BytesMut::new();
    let reads = &settings.reads;
    let mut in_core = InCore::default();
    let mut answer = BytesMut::with_capacity(4096);
    let mut last_touch = Instant::now();
    let reason = loop {
        let reading = queued.load(Ordering::Acquire) < HIGH_WATER_BYTES;
        tokio::select! {
            biased;
            _ = abort.notified() => break "aborted",
            msg = rx.recv() => {
                let Some(first) = msg else { break "closed by server" };
                let (from_outbox, close) = drain_outbox(Some(first), &mut rx, &mut wbuf, &mut in_core);
                if !wbuf.is_empty() {
                    if stream.write_all(&wbuf).await.is_err() {
                        break "write failed";
                    }
                    wbuf.clear();
                }
                queued.fetch_sub(from_outbox, Ordering::AcqRel);
                if close {
                    let _ = stream.flush().await;
                    let _ = stream.shutdown().await;
                    break "closed by server";
                }
            }
            r = stream.read_buf(&mut buf), if reading => {
                match r {
                    Ok(0) => break "client closed",
                    Err(_) => break "read failed",
                    Ok(_) => {}
                }
                let mut failed = None;
                let mut from_outbox = 0;
                let mut close = false;
                loop {
                    match decoder.decode(&mut buf) {
                        Ok(Some(mut frame)) => {
                            let arrived = Instant::now();
                            // NIOServerCnxn counts each request with its length prefix.
                            settings.metrics.bytes_received_count.add(frame.len() as u64 + 4);
                            let header = match RequestHeader::read(&mut frame) {
                                Ok(h) => h,
                                Err(e) => {
                                    failed = Some(format!("malformed request header: {e}"));
                                    break;
                                }
                            };
                            if in_core.pending == 0 && !close
                                && fast_read(reads, &shared, &header, &frame, &mut answer)
                            {
                                // An event of a change the answer shows was queued before the
                                // tree was read: it goes out first, as ZooKeeper promises.
                                let (n, c) = drain_outbox(None, &mut rx, &mut wbuf, &mut in_core);
                                from_outbox += n;
                                close |= c;
                                wbuf.extend_from_slice(&answer);
                                count_fast_read(reads, &shared, &header, &answer, arrived);
                                settings
                                    .metrics
                                    .read_latency
                                    .add(arrived.elapsed().as_millis() as u64);
                                settings.metrics.record_response(answer.len());
                                answer.clear();
                                if last_touch.elapsed() >= reads.touch_every {
                                    last_touch = Instant::now();
                                    let _ = core.try_send(ToCore::Touch { conn });
                                }
                                continue;
                            }
                            let permit = settings.outstanding.clone().acquire_owned().await.ok();
                            let body = frame.copy_to_bytes(frame.remaining());
                            in_core.pending += 1;
                            last_touch = Instant::now();
                            if core.send(ToCore::Request { conn, header, body, permit }).await.is_err() {
                                failed = Some("server stopping".into());
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            failed = Some(format!("bad frame: {e}"));
                            break;
                        }
                    }
                }
                if !wbuf.is_empty() {
                    if stream.write_all(&wbuf).await.is_err() {
                        break "write failed";
                    }
                    wbuf.clear();
                }
                queued.fetch_sub(from_outbox, Ordering::AcqRel);
                if close {
                    let _ = stream.flush().await;
                    let _ = stream.shutdown().await;
                    break "closed by server";
                }
                if let Some(why) = failed {
                    warn!(%addr, conn, "closing connection: {why}");
                    break "bad input";
                }
            }
        }
    };
    debug!(%addr, conn, reason, "connection closed");
    let _ = core.send(ToCore::Closed { conn }).await;
}
