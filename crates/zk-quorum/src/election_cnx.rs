//! The election transport (QuorumCnxManager): one TCP connection per pair of servers, kept by the
//! side with the higher id; a send worker and a receive worker per connection; length-prefixed
//! frames of at most 512 KiB; bounded queues that drop their oldest message.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use zk_jute::ServerId;
use zk_jute::quorum::InitialMessage;

use crate::queue::DropOldestQueue;

/// The largest election message a peer may send (`PACKETMAXSIZE`).
pub const MAX_MESSAGE_LEN: usize = 512 * 1024;
/// Messages waiting for one peer (`SEND_CAPACITY`).
const SEND_CAPACITY: usize = 1;
/// Messages received and not yet taken (`RECV_CAPACITY`).
const RECV_CAPACITY: usize = 100;
/// A connection that breaks after being up this long is reconnected at once.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// How to reach the other servers and how to present this one.
#[derive(Debug, Clone)]
pub struct CnxConfig {
    pub my_id: ServerId,
    /// Where to listen for election connections (the election port; `0.0.0.0` with
    /// quorumListenOnAllIPs).
    pub listen: SocketAddr,
    /// This server's election address(es) as sent in the handshake, `host:port`.
    pub advertised: Vec<String>,
    /// Every other server's election addresses, `host:port`.
    pub peers: BTreeMap<ServerId, Vec<String>>,
    /// `cnxTimeout`: how long a connect may take.
    pub connect_timeout: Duration,
    /// How long the handshake of an accepted connection may take.
    pub handshake_timeout: Duration,
    /// `electionPortBindRetry`: bind attempts before giving up (0 = forever).
    pub bind_retries: u32,
}

/// A message from a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub from: ServerId,
    pub payload: Bytes,
}

#[derive(Debug)]
struct Peer {
    queue: Arc<DropOldestQueue<Bytes>>,
    last_sent: Arc<Mutex<Option<Bytes>>>,
    /// The live connection's workers; cancelling it ends both.
    workers: Option<(u64, CancellationToken)>,
    connecting: bool,
    /// The last attempt to connect failed and nothing has connected since (never set while
    /// `workers` runs: starting them clears it).
    unreachable: bool,
}

#[derive(Debug)]
struct Inner {
    config: CnxConfig,
    local_addr: SocketAddr,
    peers: Mutex<BTreeMap<ServerId, Peer>>,
    received: DropOldestQueue<Message>,
    shutdown: CancellationToken,
    next_generation: Mutex<u64>,
    /// Signalled when a peer becomes reachable or unreachable.
    reachability: Notify,
}

/// A handle on the election transport; clones share it.
#[derive(Debug, Clone)]
pub struct QuorumCnxManager {
    inner: Arc<Inner>,
}

async fn bind(config: &CnxConfig) -> io::Result<TcpListener> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match TcpListener::bind(config.listen).await {
            Ok(listener) => return Ok(listener),
            Err(err) if config.bind_retries == 0 || attempt < config.bind_retries => {
                warn!(addr = %config.listen, attempt, %err, "cannot bind the election port yet; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(err) => {
                return Err(io::Error::new(
                    err.kind(),
                    format!(
                        "cannot bind the election port {} after {attempt} attempts: {err}; free the port or change server.{} in zoo.cfg",
                        config.listen, config.my_id
                    ),
                ));
            }
        }
    }
}

impl QuorumCnxManager {
    /// Binds the election port and starts accepting peers.
    pub async fn start(config: CnxConfig) -> io::Result<Self> {
        let listener = bind(&config).await?;
        Self::start_on(config, listener)
    }

    /// Starts on a listener bound by the caller (`config.listen` is then only informative).
    pub fn start_on(config: CnxConfig, listener: TcpListener) -> io::Result<Self> {
        let local_addr = listener.local_addr()?;
        info!(my_id = %config.my_id, %local_addr, "election port listening");
        let inner = Arc::new(Inner {
            config,
            local_addr,
            peers: Mutex::new(BTreeMap::new()),
            received: DropOldestQueue::new(RECV_CAPACITY),
            shutdown: CancellationToken::new(),
            next_generation: Mutex::new(0),
            reachability: Notify::new(),
        });
        let manager = QuorumCnxManager { inner };
        tokio::spawn(manager.clone().accept_loop(listener));
        Ok(manager)
    }

    pub fn my_id(&self) -> ServerId {
        self.inner.config.my_id
    }

    /// The bound election address (useful when the configured port was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Queues `payload` for `to` (dropping an older queued message) and connects if needed. A
    /// message to this server itself is delivered locally.
    pub fn send(&self, to: ServerId, payload: Bytes) {
        if to == self.my_id() {
            self.inner.received.push(Message { from: to, payload });
            return;
        }
        let queue = self.with_peer(to, |peer| peer.queue.clone());
        queue.push(payload);
        self.connect_one(to);
    }

    /// The next received message.
    pub async fn recv(&self) -> Message {
        self.inner.received.pop().await
    }

    /// Whether some peer has an empty send queue, i.e. messages are getting through
    /// (`haveDelivered`).
    pub fn have_delivered(&self) -> bool {
        let peers = self.inner.peers.lock().expect("peers lock");
        peers.is_empty() || peers.values().any(|p| p.queue.is_empty())
    }

    /// Connects to every configured peer that has no connection.
    pub fn connect_all(&self) {
        let ids: Vec<ServerId> = self.inner.config.peers.keys().copied().collect();
        for id in ids {
            self.connect_one(id);
        }
    }

    /// Whether a connection to `id` is up.
    pub fn is_connected(&self, id: ServerId) -> bool {
        self.inner
            .peers
            .lock()
            .expect("peers lock")
            .get(&id)
            .is_some_and(|p| p.workers.is_some())
    }

    /// Peers whose last connection attempt failed, with no connection since and none being
    /// attempted: a vote from them cannot arrive now.
    pub fn unreachable(&self) -> BTreeSet<ServerId> {
        let peers = self.inner.peers.lock().expect("peers lock");
        peers
            .iter()
            .filter(|(_, p)| p.unreachable && !p.connecting)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Waits until some peer becomes reachable or unreachable (then read [`Self::unreachable`]).
    pub async fn reachability_changed(&self) {
        self.inner.reachability.notified().await
    }

    /// Closes every connection and stops listening.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    fn with_peer<R>(&self, id: ServerId, f: impl FnOnce(&mut Peer) -> R) -> R {
        let mut peers = self.inner.peers.lock().expect("peers lock");
        let peer = peers.entry(id).or_insert_with(|| Peer {
            queue: Arc::new(DropOldestQueue::new(SEND_CAPACITY)),
            last_sent: Arc::new(Mutex::new(None)),
            workers: None,
            connecting: false,
            unreachable: false,
        });
        f(peer)
    }

    fn connect_one(&self, id: ServerId) {
        let addresses = self
            .inner
            .config
            .peers
            .get(&id)
            .cloned()
            .unwrap_or_default();
        self.connect_to(id, addresses);
    }

    fn connect_to(&self, id: ServerId, addresses: Vec<String>) {
        if addresses.is_empty() {
            warn!(sid = %id, "invalid server id: no election address known");
            return;
        }
        let start = self.with_peer(id, |peer| {
            if peer.workers.is_some() || peer.connecting {
                false
            } else {
                peer.connecting = true;
                true
            }
        });
        if !start {
            return;
        }
        let manager = self.clone();
        tokio::spawn(async move {
            let reached = manager.initiate(id, &addresses).await;
            let changed = manager.with_peer(id, |peer| {
                peer.connecting = false;
                let unreachable = !reached && peer.workers.is_none();
                std::mem::replace(&mut peer.unreachable, unreachable) != unreachable
            });
            if changed {
                manager.inner.reachability.notify_one();
            }
        });
    }

    fn handshake_bytes(&self) -> Bytes {
        InitialMessage {
            protocol_version: Some(InitialMessage::PROTOCOL_V1),
            server_id: self.my_id(),
            addresses: self.inner.config.advertised.clone(),
        }
        .to_bytes()
    }

    /// Opens a connection to `id`, announces this server, and keeps it only if our id is higher.
    /// Returns whether the peer was reached.
    async fn initiate(&self, id: ServerId, addresses: &[String]) -> bool {
        let timeout = self.inner.config.connect_timeout;
        for address in addresses {
            let stream =
                match tokio::time::timeout(timeout, TcpStream::connect(address.as_str())).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(err)) => {
                        debug!(sid = %id, %address, %err, "cannot open an election connection");
                        continue;
                    }
                    Err(_) => {
                        debug!(sid = %id, %address, "election connect timed out");
                        continue;
                    }
                };
            let _ = stream.set_nodelay(true);
            let (read, mut write) = stream.into_split();
            if let Err(err) = write.write_all(&self.handshake_bytes()).await {
                warn!(sid = %id, %err, "ignoring an error writing the election handshake");
                return false;
            }
            if id > self.my_id() {
                debug!(sid = %id, my_id = %self.my_id(), "have smaller server identifier, so dropping the connection");
                return true;
            }
            self.start_workers(id, read, write);
            return true;
        }
        false
    }

    async fn accept_loop(self, listener: TcpListener) {
        loop {
            let accepted = tokio::select! {
                _ = self.inner.shutdown.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, remote)) => {
                    debug!(%remote, "received election connection request");
                    let manager = self.clone();
                    tokio::spawn(async move { manager.receive_connection(stream).await });
                }
                Err(err) => warn!(%err, "election accept failed"),
            }
        }
    }

    async fn read_handshake(read: &mut OwnedReadHalf) -> io::Result<InitialMessage> {
        let mut head = [0u8; 8];
        read.read_exact(&mut head).await?;
        let first = i64::from_be_bytes(head);
        if first >= 0 {
            return Ok(InitialMessage {
                protocol_version: None,
                server_id: ServerId(first),
                addresses: Vec::new(),
            });
        }
        let mut rest = [0u8; 12];
        read.read_exact(&mut rest).await?;
        let len = (&rest[8..]).get_i32();
        if len <= 0 || len as usize > InitialMessage::MAX_ADDRESS_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("election handshake with an address length of {len}"),
            ));
        }
        let mut whole = BytesMut::with_capacity(20 + len as usize);
        whole.put_slice(&head);
        whole.put_slice(&rest);
        whole.resize(20 + len as usize, 0);
        read.read_exact(&mut whole[20..]).await?;
        InitialMessage::read(&mut whole.freeze())
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err.to_string()))
    }

    async fn receive_connection(&self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let (mut read, write) = stream.into_split();
        let timeout = self.inner.config.handshake_timeout;
        let handshake = match tokio::time::timeout(timeout, Self::read_handshake(&mut read)).await {
            Ok(Ok(handshake)) => handshake,
            Ok(Err(err)) => {
                warn!(%err, "closing an election connection with a bad handshake");
                return;
            }
            Err(_) => {
                warn!("closing an election connection whose handshake did not arrive in time");
                return;
            }
        };
        let sid = handshake.server_id;
        if sid < self.my_id() {
            // We win the challenge: drop this connection and connect back ourselves.
            self.finish_workers(sid);
            drop((read, write));
            let addresses = if handshake.addresses.is_empty() {
                self.inner
                    .config
                    .peers
                    .get(&sid)
                    .cloned()
                    .unwrap_or_default()
            } else {
                handshake.addresses
            };
            self.connect_to(sid, addresses);
        } else if sid == self.my_id() {
            warn!("an election connection claims our own id; check myid and the server.N lines");
        } else {
            self.start_workers(sid, read, write);
        }
    }

    fn finish_workers(&self, id: ServerId) {
        self.with_peer(id, |peer| {
            if let Some((_, cancel)) = peer.workers.take() {
                cancel.cancel();
            }
        });
    }

    fn start_workers(&self, id: ServerId, read: OwnedReadHalf, write: OwnedWriteHalf) {
        let generation = {
            let mut next = self.inner.next_generation.lock().expect("generation lock");
            *next += 1;
            *next
        };
        let cancel = self.inner.shutdown.child_token();
        let (queue, last_sent, was_unreachable) = self.with_peer(id, |peer| {
            if let Some((_, old)) = peer.workers.replace((generation, cancel.clone())) {
                old.cancel();
            }
            let was_unreachable = std::mem::take(&mut peer.unreachable);
            (peer.queue.clone(), peer.last_sent.clone(), was_unreachable)
        });
        if was_unreachable {
            self.inner.reachability.notify_one();
        }
        info!(sid = %id, "election connection established");
        let established = Instant::now();
        let manager = self.clone();
        tokio::spawn(async move {
            let result = tokio::select! {
                _ = cancel.cancelled() => Ok(()),
                r = send_worker(write, &queue, &last_sent) => r,
                r = manager.receive_worker(id, read) => r,
            };
            let broken = result.is_err();
            if let Err(err) = result {
                warn!(sid = %id, %err, "election connection broken");
            }
            let current = manager.with_peer(id, |peer| {
                let current = peer.workers.as_ref().is_some_and(|(g, _)| *g == generation);
                if current {
                    peer.workers = None;
                }
                current
            });
            // A peer that dies closes its connections: reconnect now, so its death is known
            // (the attempt fails) before an election has to wait for its vote. A link that keeps
            // breaking at once waits for the next message instead of looping.
            if broken && current && established.elapsed() >= RECONNECT_AFTER {
                manager.connect_one(id);
            }
        });
    }

    async fn receive_worker(&self, from: ServerId, mut read: OwnedReadHalf) -> io::Result<()> {
        loop {
            let len = read.read_i32().await?;
            if len <= 0 || len as usize > MAX_MESSAGE_LEN {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("received packet with invalid packet length {len}"),
                ));
            }
            let mut payload = vec![0u8; len as usize];
            read.read_exact(&mut payload).await?;
            if self.inner.received.push(Message {
                from,
                payload: Bytes::from(payload),
            }) {
                debug!("election receive queue full; dropped the oldest message");
            }
        }
    }
}

/// Writes queued messages; on a fresh connection with nothing queued, repeats the last message so
/// a peer that missed it gets it (peers tolerate duplicates).
async fn send_worker(
    mut write: OwnedWriteHalf,
    queue: &DropOldestQueue<Bytes>,
    last_sent: &Mutex<Option<Bytes>>,
) -> io::Result<()> {
    if queue.is_empty() {
        let last = last_sent.lock().expect("last sent lock").clone();
        if let Some(last) = last {
            write_frame(&mut write, &last).await?;
        }
    }
    loop {
        let payload = queue.pop().await;
        *last_sent.lock().expect("last sent lock") = Some(payload.clone());
        write_frame(&mut write, &payload).await?;
    }
}

async fn write_frame(write: &mut OwnedWriteHalf, payload: &[u8]) -> io::Result<()> {
    let mut frame = BytesMut::with_capacity(4 + payload.len());
    frame.put_i32(payload.len() as i32);
    frame.put_slice(payload);
    write.write_all(&frame).await
}
