//! The connection task (the Java client's SendThread): picks hosts, connects, establishes or
//! resumes the session, writes requests, reads replies and notifications, pings, and reconnects.
//! All protocol state lives in [`SessionCore`]; this file only moves bytes and keeps time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use zk_jute::proto::{AuthPacket, ConnectRequest, ConnectResponse};
use zk_jute::{FrameDecoder, KeeperState, OpCode, Record, encode_frame};

use crate::core::{Incoming, Request, SessionCore, SessionIdentity, Timeouts, connect_timeout};
use crate::error::{Error, Result};
use crate::hosts::HostProvider;
use crate::path::Chroot;
use crate::watch::{WatchAction, WatchedEvent};

/// The state of a client's session, as the Java client's `ZooKeeper.States`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// Looking for a server (at start and after a disconnection).
    Connecting,
    /// Connected to a read-write server.
    Connected,
    /// Connected to a read-only server (only with `can_be_read_only`).
    ConnectedReadOnly,
    /// The server said the session expired. Terminal.
    Expired,
    /// Authentication failed. Terminal.
    AuthFailed,
    /// Closed by the client. Terminal.
    Closed,
}

impl SessionState {
    /// Whether the client can still do anything.
    pub fn is_alive(self) -> bool {
        matches!(
            self,
            SessionState::Connecting | SessionState::Connected | SessionState::ConnectedReadOnly
        )
    }

    pub fn is_connected(self) -> bool {
        matches!(
            self,
            SessionState::Connected | SessionState::ConnectedReadOnly
        )
    }

    /// The error an operation gets once the client is in this state for good.
    pub(crate) fn terminal_error(self) -> Error {
        match self {
            SessionState::Expired => Error::SessionExpired,
            SessionState::AuthFailed => Error::AuthFailed,
            SessionState::Closed => Error::Closed,
            _ => Error::ConnectionLoss,
        }
    }
}

/// What the client and the task share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: watch::Sender<SessionState>,
    pub(crate) listeners: Mutex<Vec<mpsc::UnboundedSender<WatchedEvent>>>,
    pub(crate) identity: Mutex<SessionIdentity>,
    pub(crate) server: Mutex<Option<std::net::SocketAddr>>,
}

impl Shared {
    pub(crate) fn new() -> Shared {
        Shared {
            state: watch::Sender::new(SessionState::Connecting),
            listeners: Mutex::new(Vec::new()),
            identity: Mutex::new(SessionIdentity::default()),
            server: Mutex::new(None),
        }
    }
}

/// A message from a client handle to the task.
#[derive(Debug)]
pub(crate) enum Command {
    Request(Request),
    Auth {
        scheme: String,
        auth: Bytes,
        reply: oneshot::Sender<Result<()>>,
    },
}

/// Settings of the task.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) hosts: Vec<(String, u16)>,
    pub(crate) chroot: Chroot,
    pub(crate) session_timeout_ms: i32,
    pub(crate) can_be_read_only: bool,
    /// The upper bound of the random wait before each reconnect (the Java client: 1 s).
    pub(crate) reconnect_delay_max: Duration,
    /// The wait after a full turn over the hosts (the Java client: 1 s).
    pub(crate) spin_delay: Duration,
    pub(crate) max_frame_len: usize,
    pub(crate) seed: u64,
}

/// Why a connection ended.
enum Ended {
    Lost(String),
    Terminal(SessionState),
}

struct Task {
    cfg: Config,
    core: SessionCore,
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Command>,
    cancel: CancellationToken,
    hosts: HostProvider,
    rng: fastrand::Rng,
    /// Auth packets to send on every connection; the waiter is answered by the first reply.
    auths: Vec<(Bytes, Option<oneshot::Sender<Result<()>>>)>,
    seen_rw_server: bool,
    ever_connected: bool,
}

/// Runs a session until it expires, fails authentication or is closed.
pub(crate) async fn run(
    cfg: Config,
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Command>,
    cancel: CancellationToken,
) {
    let mut rng = fastrand::Rng::with_seed(cfg.seed);
    let hosts = HostProvider::new(cfg.hosts.clone(), &mut rng);
    let mut task = Task {
        core: SessionCore::new(cfg.chroot.clone()),
        cfg,
        shared,
        rx,
        cancel,
        hosts,
        rng,
        auths: Vec::new(),
        seen_rw_server: false,
        ever_connected: false,
    };
    let end = task.run().await;
    task.finish(end).await;
}

impl Task {
    async fn run(&mut self) -> SessionState {
        loop {
            if self.cancel.is_cancelled() {
                return SessionState::Closed;
            }
            let ((host, port), spin) = self.hosts.next();
            let mut wait = Duration::ZERO;
            if spin {
                wait += self.cfg.spin_delay;
            }
            if self.ever_connected && !self.cfg.reconnect_delay_max.is_zero() {
                let max = self.cfg.reconnect_delay_max.as_millis() as u64;
                wait += Duration::from_millis(self.rng.u64(0..max));
            }
            if !wait.is_zero() {
                tokio::select! {
                    _ = sleep(wait) => {}
                    _ = self.cancel.cancelled() => return SessionState::Closed,
                }
            }
            let limit = connect_timeout(
                if self.core.identity.timeout_ms > 0 {
                    self.core.identity.timeout_ms
                } else {
                    self.cfg.session_timeout_ms
                },
                self.hosts.len(),
            );
            let cancel = self.cancel.clone();
            let attempt = tokio::select! {
                r = timeout(limit, self.connect(&host, port)) => r,
                _ = cancel.cancelled() => return SessionState::Closed,
            };
            let (reader, writer, read_only) = match attempt {
                Err(_) => {
                    tracing::debug!(%host, port, "connect timed out");
                    continue;
                }
                Ok(Err(HandshakeError::Io(e))) => {
                    tracing::debug!(%host, port, error = %e, "connect failed");
                    continue;
                }
                Ok(Err(HandshakeError::Expired)) => return SessionState::Expired,
                Ok(Ok(c)) => c,
            };
            self.hosts.on_connected();
            self.ever_connected = true;
            if !read_only {
                self.seen_rw_server = true;
            }
            let (state, event) = if read_only {
                (
                    SessionState::ConnectedReadOnly,
                    KeeperState::ConnectedReadOnly,
                )
            } else {
                (SessionState::Connected, KeeperState::SyncConnected)
            };
            self.set_state(state, event);
            match self.connected(reader, writer).await {
                Ended::Terminal(s) => return s,
                // Closing, the server may drop the connection before its reply: that is the end.
                Ended::Lost(_) if self.cancel.is_cancelled() => return SessionState::Closed,
                Ended::Lost(why) => {
                    tracing::info!(session = %self.core.identity.id, why, "disconnected");
                    *self.shared.server.lock().expect("server lock") = None;
                    self.core.fail_pending(&Error::ConnectionLoss);
                    // Requests already queued fail too, as the Java client's outgoing queue does.
                    while let Ok(cmd) = self.rx.try_recv() {
                        self.defer_or_fail(cmd, &Error::ConnectionLoss);
                    }
                    self.set_state(SessionState::Connecting, KeeperState::Disconnected);
                }
            }
        }
    }

    fn defer_or_fail(&mut self, cmd: Command, err: &Error) {
        match cmd {
            Command::Request(r) => {
                if let Some(reply) = r.reply {
                    let _ = reply.send(Err(err.clone()));
                }
            }
            Command::Auth {
                scheme,
                auth,
                reply,
            } => {
                self.auths.push((auth_body(&scheme, &auth), Some(reply)));
            }
        }
    }

    /// Delivers a state event, then publishes the state: whoever sees the new state can find the
    /// event already in its streams.
    fn set_state(&mut self, state: SessionState, event: KeeperState) {
        let e = WatchedEvent::state(event);
        self.shared
            .listeners
            .lock()
            .expect("listener lock")
            .retain(|l| l.send(e.clone()).is_ok());
        self.core.watches.state_event(event);
        self.shared.state.send_replace(state);
    }

    async fn connect(
        &mut self,
        host: &str,
        port: u16,
    ) -> Result<
        (
            FramedRead<OwnedReadHalf, FrameDecoder>,
            OwnedWriteHalf,
            bool,
        ),
        HandshakeError,
    > {
        // Names are resolved at each attempt; one of the addresses is picked at random.
        let addrs: Vec<_> = tokio::net::lookup_host((host, port)).await?.collect();
        if addrs.is_empty() {
            return Err(HandshakeError::Io(std::io::Error::other("no address")));
        }
        let addr = addrs[self.rng.usize(0..addrs.len())];
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (r, mut w) = stream.into_split();
        let mut reader = FramedRead::new(r, FrameDecoder::new(self.cfg.max_frame_len));
        let id = &self.core.identity;
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: self.core.last_zxid,
            time_out: self.cfg.session_timeout_ms,
            session_id: if self.seen_rw_server {
                id.id
            } else {
                zk_jute::SessionId(0)
            },
            passwd: id.passwd.clone(),
        };
        let mut out = BytesMut::new();
        encode_frame(&mut out, |b| {
            request.write_with_flag(self.cfg.can_be_read_only, b)
        });
        w.write_all(&out).await?;
        let frame = match tokio_stream_next(&mut reader).await {
            Some(Ok(f)) => f,
            Some(Err(e)) => return Err(HandshakeError::Io(std::io::Error::other(e.to_string()))),
            None => {
                return Err(HandshakeError::Io(std::io::Error::other(
                    "server closed the connection during the handshake",
                )));
            }
        };
        let (response, read_only) = ConnectResponse::read_with_flag(&mut &frame[..])
            .map_err(|e| HandshakeError::Io(std::io::Error::other(e.to_string())))?;
        if response.time_out <= 0 {
            return Err(HandshakeError::Expired);
        }
        let identity = SessionIdentity {
            id: response.session_id,
            passwd: response.passwd,
            timeout_ms: response.time_out,
        };
        tracing::info!(%addr, session = %identity.id, timeout_ms = identity.timeout_ms, "session established");
        self.core.identity = identity.clone();
        *self.shared.identity.lock().expect("identity lock") = identity;
        *self.shared.server.lock().expect("server lock") = Some(addr);
        Ok((reader, w, read_only.unwrap_or(false)))
    }

    /// Serves one established connection until it breaks or the session ends.
    async fn connected(
        &mut self,
        mut reader: FramedRead<OwnedReadHalf, FrameDecoder>,
        mut writer: OwnedWriteHalf,
    ) -> Ended {
        let timeouts = Timeouts::for_session(self.core.identity.timeout_ms);
        let mut out = BytesMut::with_capacity(64 * 1024);
        // Prime: auths first, then the watches to set again, before any new request.
        for (body, waiter) in &mut self.auths {
            self.core.send_auth(body, waiter.take(), &mut out);
        }
        for request in self.core.set_watches_requests() {
            self.core.send(request, &mut out);
        }
        let mut last_heard = Instant::now();
        let mut last_send = Instant::now();
        let mut closing: Option<oneshot::Receiver<Result<crate::core::Reply>>> = None;
        let mut close_deadline = None;
        let cancel = self.cancel.clone();
        loop {
            let read_deadline = last_heard + timeouts.read;
            let ping_deadline = last_send + timeouts.ping_after();
            let deadline = close_deadline.map_or(read_deadline.min(ping_deadline), |d: Instant| {
                d.min(read_deadline)
            });
            tokio::select! {
                biased;
                frame = tokio_stream_next(&mut reader) => {
                    last_heard = Instant::now();
                    let frame = match frame {
                        Some(Ok(f)) => f,
                        Some(Err(e)) => return Ended::Lost(format!("bad frame: {e}")),
                        None => return Ended::Lost("the server closed the connection".into()),
                    };
                    match self.core.handle_frame(frame) {
                        Ok(Incoming::Auth(err)) if err != 0 => {
                            return Ended::Terminal(SessionState::AuthFailed);
                        }
                        Ok(_) => {}
                        Err(e) => return Ended::Lost(e.to_string()),
                    }
                }
                written = writer.write_buf(&mut out), if !out.is_empty() => {
                    match written {
                        Ok(0) | Err(_) => return Ended::Lost("write failed".into()),
                        Ok(_) => last_send = Instant::now(),
                    }
                }
                r = async { closing.as_mut().expect("closing").await }, if closing.is_some() => {
                    let _ = r;
                    return Ended::Terminal(SessionState::Closed);
                }
                cmd = self.rx.recv(), if closing.is_none() => {
                    let Some(cmd) = cmd else {
                        // Every handle is gone: close the session.
                        closing = Some(self.send_close(&mut out));
                        close_deadline = Some(Instant::now() + timeouts.read);
                        continue;
                    };
                    self.handle_command(cmd, &mut out);
                    // Batch what else is queued into the same write.
                    for _ in 0..256 {
                        match self.rx.try_recv() {
                            Ok(cmd) => self.handle_command(cmd, &mut out),
                            Err(_) => break,
                        }
                    }
                }
                _ = cancel.cancelled(), if closing.is_none() => {
                    // Requests queued before close() still go out, in order, then closeSession.
                    while let Ok(cmd) = self.rx.try_recv() {
                        self.handle_command(cmd, &mut out);
                    }
                    closing = Some(self.send_close(&mut out));
                    close_deadline = Some(Instant::now() + timeouts.read);
                }
                _ = sleep_until(deadline) => {
                    let now = Instant::now();
                    if close_deadline.is_some_and(|d| now >= d) {
                        return Ended::Terminal(SessionState::Closed);
                    }
                    if now >= read_deadline {
                        return Ended::Lost(format!(
                            "client session timed out, have not heard from server in {}ms",
                            (now - last_heard).as_millis()
                        ));
                    }
                    if now >= ping_deadline && out.is_empty() {
                        SessionCore::send_ping(&mut out);
                    }
                    if now >= ping_deadline {
                        // Whether or not a ping was queued, wait a full interval for the next.
                        last_send = now;
                    }
                }
            }
        }
    }

    fn send_close(&mut self, out: &mut BytesMut) -> oneshot::Receiver<Result<crate::core::Reply>> {
        let (tx, rx) = oneshot::channel();
        self.core.send(
            Request {
                op: OpCode::CloseSession,
                body: Bytes::new(),
                watch: WatchAction::None,
                reply: Some(tx),
                permit: None,
            },
            out,
        );
        rx
    }

    fn handle_command(&mut self, cmd: Command, out: &mut BytesMut) {
        match cmd {
            Command::Request(r) => self.core.send(r, out),
            Command::Auth {
                scheme,
                auth,
                reply,
            } => {
                let body = auth_body(&scheme, &auth);
                self.core.send_auth(&body, Some(reply), out);
                self.auths.push((body, None));
            }
        }
    }

    /// Ends the session for good: fails everything still waiting and tells every watcher.
    async fn finish(&mut self, end: SessionState) {
        let err = end.terminal_error();
        tracing::info!(session = %self.core.identity.id, state = ?end, "session ended");
        self.core.fail_pending(&err);
        self.rx.close();
        while let Some(cmd) = self.rx.recv().await {
            match cmd {
                Command::Request(r) => {
                    if let Some(reply) = r.reply {
                        let _ = reply.send(Err(err.clone()));
                    }
                }
                Command::Auth { reply, .. } => {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
        for (_, waiter) in self.auths.drain(..) {
            if let Some(w) = waiter {
                let _ = w.send(Err(err.clone()));
            }
        }
        let event = match end {
            SessionState::Expired => KeeperState::Expired,
            SessionState::AuthFailed => KeeperState::AuthFailed,
            _ => KeeperState::Closed,
        };
        if end != SessionState::Closed {
            let current = *self.shared.state.borrow();
            self.set_state(current, event);
        }
        // As the Java client's event thread, a Closed event always comes last.
        self.set_state(end, KeeperState::Closed);
        self.shared.listeners.lock().expect("listener lock").clear();
    }
}

fn auth_body(scheme: &str, auth: &Bytes) -> Bytes {
    AuthPacket {
        r#type: 0,
        scheme: scheme.to_owned(),
        auth: auth.clone(),
    }
    .to_bytes()
}

enum HandshakeError {
    Io(std::io::Error),
    Expired,
}

impl From<std::io::Error> for HandshakeError {
    fn from(e: std::io::Error) -> Self {
        HandshakeError::Io(e)
    }
}

/// `StreamExt::next` without pulling in the futures crate.
async fn tokio_stream_next<S: futures_core::Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *s).poll_next(cx)).await
}
