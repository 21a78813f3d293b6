//! A loopback TCP fault proxy: put one in front of a port, point the peer at the proxy, and turn
//! faults on and off from the test through a [`ProxyHandle`].
//!
//! | control | effect |
//! |---|---|
//! | [`set_delay`](ProxyHandle::set_delay) | every chunk read is written on after the delay (latency, order kept) |
//! | [`blackhole`](ProxyHandle::blackhole) | the chosen direction is read and discarded; connections stay open |
//! | [`drop_all`](ProxyHandle::drop_all) | current connections are closed; new ones are accepted and closed at once |
//! | [`cut`](ProxyHandle::cut) | current connections are closed and the port refuses new ones |
//! | [`heal`](ProxyHandle::heal) | back to forwarding without delay; the port listens again |
//!
//! The async controls return once they are in effect: after `cut().await` a connect is refused and
//! every connection that was open has been closed. [`Mesh`] puts a proxy on every directed link
//! between ensemble members and turns partitions of member ids into cuts or black holes.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::nemesis::MemberId;

/// A direction of the traffic through a proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the connecting side to the target.
    Upstream,
    /// From the target back to the connecting side.
    Downstream,
    Both,
}

/// What the listening side of a proxy does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Forward,
    /// Accept and close at once.
    DropAll,
    /// Not listening: connects are refused.
    Cut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Settings {
    mode: Mode,
    delay: Duration,
    blackhole_up: bool,
    blackhole_down: bool,
}

impl Settings {
    const HEALED: Settings = Settings {
        mode: Mode::Forward,
        delay: Duration::ZERO,
        blackhole_up: false,
        blackhole_down: false,
    };
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Listening {
    Open,
    Closed,
    Failed(String),
}

/// Counters of a proxy since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted and relayed.
    pub relayed: u64,
    /// Connections accepted and closed at once (drop-all).
    pub dropped: u64,
    pub forwarded_upstream: u64,
    pub forwarded_downstream: u64,
    /// Bytes read and discarded by a black hole.
    pub discarded_upstream: u64,
    pub discarded_downstream: u64,
}

#[derive(Debug, Default)]
struct Counters {
    relayed: AtomicU64,
    dropped: AtomicU64,
    forwarded: [AtomicU64; 2],
    discarded: [AtomicU64; 2],
}

#[derive(Debug)]
struct Shared {
    target: SocketAddr,
    listen: SocketAddr,
    settings: watch::Sender<Settings>,
    listening: watch::Sender<Listening>,
    /// Relay tasks; a task is added under this lock after the mode was checked under it, so a
    /// control that changes the mode and then drains the list misses no connection.
    conns: Mutex<Vec<JoinHandle<()>>>,
    counters: Counters,
}

impl Shared {
    fn lock_conns(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running proxy. Dropping it stops listening and closes every connection.
#[derive(Debug)]
pub struct Proxy {
    handle: ProxyHandle,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and relays every connection to `target`.
    pub async fn start(target: SocketAddr) -> io::Result<Proxy> {
        Proxy::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), target).await
    }

    /// Listens on `listen` (port 0 for a free one) and relays to `target`.
    pub async fn start_on(listen: SocketAddr, target: SocketAddr) -> io::Result<Proxy> {
        let listener = bind(listen)?;
        let listen = listener.local_addr()?;
        let shared = Arc::new(Shared {
            target,
            listen,
            settings: watch::Sender::new(Settings::HEALED),
            listening: watch::Sender::new(Listening::Open),
            conns: Mutex::new(Vec::new()),
            counters: Counters::default(),
        });
        let accept = tokio::spawn(accept_loop(shared.clone(), listener));
        Ok(Proxy {
            handle: ProxyHandle { shared },
            accept,
        })
    }

    /// Where peers should connect.
    pub fn listen_addr(&self) -> SocketAddr {
        self.handle.shared.listen
    }

    pub fn target(&self) -> SocketAddr {
        self.handle.shared.target
    }

    /// The controls, to share with the nemesis.
    pub fn handle(&self) -> ProxyHandle {
        self.handle.clone()
    }
}

impl std::ops::Deref for Proxy {
    type Target = ProxyHandle;

    fn deref(&self) -> &ProxyHandle {
        &self.handle
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for conn in self.handle.shared.lock_conns().drain(..) {
            conn.abort();
        }
    }
}

/// The controls of a [`Proxy`]; cheap to clone.
#[derive(Debug, Clone)]
pub struct ProxyHandle {
    shared: Arc<Shared>,
}

impl ProxyHandle {
    /// Delays every chunk read from now on by `delay`, in both directions (zero: none).
    pub fn set_delay(&self, delay: Duration) {
        self.shared.settings.send_modify(|s| s.delay = delay);
    }

    /// Discards what is read in `direction` from now on (chunks waiting out a delay included), and
    /// forwards the other direction; connections stay open and new ones are accepted.
    pub fn blackhole(&self, direction: Direction) {
        self.shared.settings.send_modify(|s| {
            s.blackhole_up = matches!(direction, Direction::Upstream | Direction::Both);
            s.blackhole_down = matches!(direction, Direction::Downstream | Direction::Both);
        });
    }

    /// Closes every current connection; new ones are accepted and closed at once.
    pub async fn drop_all(&self) -> io::Result<()> {
        self.shared.settings.send_modify(|s| s.mode = Mode::DropAll);
        self.close_connections().await;
        self.wait_listening().await
    }

    /// Closes every current connection and stops listening, so connects are refused.
    pub async fn cut(&self) {
        self.shared.settings.send_modify(|s| s.mode = Mode::Cut);
        let mut listening = self.shared.listening.subscribe();
        // The accept task owns the listener; it reports once it dropped it.
        let _ = listening.wait_for(|l| *l != Listening::Open).await;
        self.close_connections().await;
    }

    /// Forwards again without delay or black hole, listening on the same port. Fails when the port
    /// cannot be bound again (another process took it meanwhile).
    pub async fn heal(&self) -> io::Result<()> {
        // A failed rebind is retried: forget the failure before asking again.
        self.shared.listening.send_if_modified(|l| {
            let failed = matches!(l, Listening::Failed(_));
            if failed {
                *l = Listening::Closed;
            }
            failed
        });
        self.shared.settings.send_replace(Settings::HEALED);
        self.wait_listening().await
    }

    pub fn mode(&self) -> Mode {
        self.shared.settings.borrow().mode
    }

    pub fn listen_addr(&self) -> SocketAddr {
        self.shared.listen
    }

    /// Connections being relayed now.
    pub fn connections(&self) -> usize {
        self.shared
            .lock_conns()
            .iter()
            .filter(|c| !c.is_finished())
            .count()
    }

    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            relayed: get(&c.relayed),
            dropped: get(&c.dropped),
            forwarded_upstream: get(&c.forwarded[0]),
            forwarded_downstream: get(&c.forwarded[1]),
            discarded_upstream: get(&c.discarded[0]),
            discarded_downstream: get(&c.discarded[1]),
        }
    }

    async fn close_connections(&self) {
        let conns: Vec<JoinHandle<()>> = self.shared.lock_conns().drain(..).collect();
        for conn in &conns {
            conn.abort();
        }
        for conn in conns {
            // Resolves once the task is gone and its sockets are closed.
            let _ = conn.await;
        }
    }

    async fn wait_listening(&self) -> io::Result<()> {
        let mut listening = self.shared.listening.subscribe();
        let state = listening
            .wait_for(|l| *l != Listening::Closed)
            .await
            .map(|l| l.clone())
            .map_err(|_| io::Error::other("the proxy stopped"))?;
        match state {
            Listening::Failed(why) => Err(io::Error::other(format!(
                "cannot listen on {} again: {why}",
                self.shared.listen
            ))),
            _ => Ok(()),
        }
    }
}

fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut settings = shared.settings.subscribe();
    let mut listener = Some(listener);
    loop {
        let mode = settings.borrow_and_update().mode;
        match (mode, &listener) {
            (Mode::Cut, Some(_)) => {
                listener = None;
                shared.listening.send_replace(Listening::Closed);
                continue;
            }
            (Mode::Cut, None) => {}
            (_, None) => {
                match rebind(shared.listen).await {
                    Ok(l) => {
                        listener = Some(l);
                        shared.listening.send_replace(Listening::Open);
                    }
                    Err(e) => {
                        warn!(addr = %shared.listen, "proxy cannot listen again: {e}");
                        shared
                            .listening
                            .send_replace(Listening::Failed(e.to_string()));
                    }
                }
                if listener.is_some() {
                    continue;
                }
            }
            (_, Some(l)) => {
                tokio::select! {
                    accepted = l.accept() => match accepted {
                        Ok((stream, _)) => admit(&shared, stream),
                        Err(e) => {
                            // Out of descriptors and the like: let it pass.
                            warn!(addr = %shared.listen, "proxy accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    },
                    changed = settings.changed() => if changed.is_err() { return },
                }
                continue;
            }
        }
        if settings.changed().await.is_err() {
            return;
        }
    }
}

/// Binds the port again after a cut; the port may linger briefly.
async fn rebind(addr: SocketAddr) -> io::Result<TcpListener> {
    let mut last = None;
    for _ in 0..100 {
        match bind(addr) {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("cannot bind")))
}

fn admit(shared: &Arc<Shared>, stream: TcpStream) {
    let mut conns = shared.lock_conns();
    conns.retain(|c| !c.is_finished());
    if shared.settings.borrow().mode != Mode::Forward {
        shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
        drop(stream);
        return;
    }
    shared.counters.relayed.fetch_add(1, Ordering::Relaxed);
    conns.push(tokio::spawn(relay(shared.clone(), stream)));
}

async fn relay(shared: Arc<Shared>, client: TcpStream) {
    let upstream = match TcpStream::connect(shared.target).await {
        Ok(s) => s,
        Err(e) => {
            debug!(target = %shared.target, "proxy cannot reach its target: {e}");
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (client_r, client_w) = client.into_split();
    let (up_r, up_w) = upstream.into_split();
    let up = pump(shared.clone(), client_r, up_w, 0);
    let down = pump(shared, up_r, client_w, 1);
    tokio::pin!(up, down);
    // An error in one direction closes both; an orderly end waits for the other direction.
    tokio::select! {
        r = &mut up => if r.is_ok() { let _ = down.await; },
        r = &mut down => if r.is_ok() { let _ = up.await; },
    }
}

/// Relays one direction (0 upstream, 1 downstream) until end of stream, then shuts the write side.
async fn pump(
    shared: Arc<Shared>,
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    dir: usize,
) -> io::Result<()> {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(64);
    let settings = shared.settings.subscribe();
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = from.read(&mut buf).await?;
            if n == 0 {
                return Ok::<(), io::Error>(());
            }
            let due = Instant::now() + settings.borrow().delay;
            if tx.send((due, buf[..n].to_vec())).await.is_err() {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
        }
    };
    let writer = async {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            let discard = {
                let s = shared.settings.borrow();
                if dir == 0 {
                    s.blackhole_up
                } else {
                    s.blackhole_down
                }
            };
            let n = chunk.len() as u64;
            if discard {
                shared.counters.discarded[dir].fetch_add(n, Ordering::Relaxed);
                continue;
            }
            to.write_all(&chunk).await?;
            shared.counters.forwarded[dir].fetch_add(n, Ordering::Relaxed);
        }
        to.shutdown().await
    };
    tokio::pin!(reader, writer);
    tokio::select! {
        // The writer ends Ok only once the reader ended and everything was written: or on an
        // error, which closes the connection.
        written = &mut writer => written,
        read = &mut reader => match read {
            Ok(()) => writer.await,
            Err(e) => Err(e),
        },
    }
}

/// Which listening port of a member a link leads to (e.g. 0 for quorum, 1 for election).
pub type PortIndex = usize;

/// How a partition separates members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartitionStyle {
    /// Links are closed and connects refused.
    Cut,
    /// Links stay open but carry nothing either way, as when packets are dropped.
    Blackhole,
}

/// A proxy on every directed link between ensemble members: member `from` reaches port `i` of
/// member `to` at [`Mesh::addr`]`(from, to, i)`, so each member's configuration names, for every
/// other member, the proxies of its own links.
#[derive(Debug)]
pub struct Mesh {
    links: BTreeMap<(MemberId, MemberId, PortIndex), Proxy>,
}

impl Mesh {
    /// Starts the proxies, given each member's listening addresses.
    pub async fn start(targets: &BTreeMap<MemberId, Vec<SocketAddr>>) -> io::Result<Mesh> {
        let mut links = BTreeMap::new();
        for &from in targets.keys() {
            for (&to, ports) in targets {
                if from == to {
                    continue;
                }
                for (i, &target) in ports.iter().enumerate() {
                    links.insert((from, to, i), Proxy::start(target).await?);
                }
            }
        }
        Ok(Mesh { links })
    }

    /// Where `from` connects to reach port `index` of `to`.
    pub fn addr(&self, from: MemberId, to: MemberId, index: PortIndex) -> Option<SocketAddr> {
        self.links.get(&(from, to, index)).map(Proxy::listen_addr)
    }

    /// The proxies of the links between `a` and `b`, both ways.
    pub fn between(&self, a: MemberId, b: MemberId) -> impl Iterator<Item = &Proxy> {
        self.links
            .iter()
            .filter(move |((f, t, _), _)| (*f == a && *t == b) || (*f == b && *t == a))
            .map(|(_, p)| p)
    }

    /// Separates the groups: members in different groups cannot talk; members not listed are
    /// left alone. Links within a group are untouched.
    pub async fn partition(&self, groups: &[Vec<MemberId>], style: PartitionStyle) {
        let group_of = |m: MemberId| groups.iter().position(|g| g.contains(&m));
        for ((from, to, _), proxy) in &self.links {
            match (group_of(*from), group_of(*to)) {
                (Some(a), Some(b)) if a != b => match style {
                    PartitionStyle::Cut => proxy.cut().await,
                    PartitionStyle::Blackhole => proxy.blackhole(Direction::Both),
                },
                _ => {}
            }
        }
    }

    /// Delays every link.
    pub fn set_delay(&self, delay: Duration) {
        for proxy in self.links.values() {
            proxy.set_delay(delay);
        }
    }

    /// Heals every link.
    pub async fn heal(&self) -> io::Result<()> {
        for proxy in self.links.values() {
            proxy.heal().await?;
        }
        Ok(())
    }
}
