//! One task per client connection, owning its socket: the first four bytes are either a
//! four-letter word or the length of a ConnectRequest; after the handshake it splits frames
//! (at most `jute.maxbuffer` long) into requests for the pipeline and writes the frames the
//! pipeline queues for it, in order. A connection stops reading while much of its output is
//! unwritten, so a client that does not read cannot make the server buffer without bound.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tracing::{debug, info, warn};
use zk_jute::proto::{ConnectRequest, RequestHeader};
use zk_jute::{FrameDecoder, Record};

use crate::four_letter::{self, FOUR_LETTER_WORDS};

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

/// Messages from connections to the pipeline.
#[derive(Debug)]
pub(crate) enum ToCore {
    Connect {
        conn: ConnId,
        addr: SocketAddr,
        request: ConnectRequest,
        read_only_flag: Option<bool>,
        out: Outbox,
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
}

/// Settings every connection shares.
#[derive(Debug, Clone)]
pub(crate) struct ConnSettings {
    pub(crate) max_frame: usize,
    pub(crate) sessionless_timeout: Duration,
    pub(crate) outstanding: Arc<Semaphore>,
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
    if core
        .send(ToCore::Connect {
            conn,
            addr,
            request,
            read_only_flag,
            out,
        })
        .await
        .is_err()
    {
        return;
    }
    let mut wbuf = BytesMut::new();
    let reason = loop {
        let reading = queued.load(Ordering::Acquire) < HIGH_WATER_BYTES;
        tokio::select! {
            biased;
            _ = abort.notified() => break "aborted",
            msg = rx.recv() => {
                let mut close = false;
                match msg {
                    Some(Out::Frame(f)) => wbuf.extend_from_slice(&f),
                    Some(Out::Close) | None => close = true,
                }
                while !close && wbuf.len() < (1 << 20) {
                    match rx.try_recv() {
                        Ok(Out::Frame(f)) => wbuf.extend_from_slice(&f),
                        Ok(Out::Close) => close = true,
                        Err(_) => break,
                    }
                }
                let n = wbuf.len();
                if n > 0 {
                    if stream.write_all(&wbuf).await.is_err() {
                        break "write failed";
                    }
                    wbuf.clear();
                    queued.fetch_sub(n, Ordering::AcqRel);
                }
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
                loop {
                    match decoder.decode(&mut buf) {
                        Ok(Some(mut frame)) => {
                            let header = match RequestHeader::read(&mut frame) {
                                Ok(h) => h,
                                Err(e) => {
                                    failed = Some(format!("malformed request header: {e}"));
                                    break;
                                }
                            };
                            let permit = settings.outstanding.clone().acquire_owned().await.ok();
                            let body = frame.copy_to_bytes(frame.remaining());
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
