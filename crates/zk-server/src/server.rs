//! Runs a standalone server: recovery, the client listener with its per-IP limit, the core task
//! of the pipeline with its session and container timers, and a clean shutdown that finishes the
//! in-flight fsyncs and closes the port at once.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::config::ServerConfig;
use crate::connection::{self, ConnSettings, ToCore};
use crate::pipeline::{Core, Durable};

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the data directory: {0}")]
    Open(String),
    #[error("cannot listen on {addr}: {source}; free the port or set clientPort to another one")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("bad ensemble configuration: {0}")]
    Quorum(String),
    #[error("cannot start leader election: {0}")]
    Election(std::io::Error),
    #[error("no clientPort is configured: add clientPort=2181 to zoo.cfg")]
    NoClientPort,
    #[error("cannot serve TLS on secureClientPort: {0}")]
    Tls(String),
    #[error(
        "cannot start the AdminServer on {addr}: {why}; free the port, set admin.serverPort to another one or admin.enableServer=false"
    )]
    Admin { addr: String, why: String },
    #[error(
        "cannot start the Prometheus metrics endpoint on {addr}: {why}; free the port or set metricsProvider.httpPort to another one"
    )]
    Metrics { addr: String, why: String },
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    client_addr: SocketAddr,
    secure_addr: Option<SocketAddr>,
    admin_addr: Option<SocketAddr>,
    metrics_addr: Option<SocketAddr>,
    /// autopurge (`autopurge.purgeInterval` hours > 0): keeps `autopurge.snapRetainCount`
    /// snapshots and the logs they need; stopped when the server is dropped.
    purge: Option<zk_persistence::DatadirCleanup>,
    shutdown: Option<oneshot::Sender<()>>,
    done: JoinHandle<()>,
}

impl Server {
    /// Recovers the data directory and starts serving (`clientPort=0` picks a free port).
    pub async fn start(config: ServerConfig) -> Result<Server, StartError> {
        let quorum = if config.is_standalone() {
            None
        } else {
            crate::quorum_config::QuorumPeerConfig::from_server_config(&config)
                .map_err(|e| StartError::Quorum(e.to_string()))?
        };
        let port = config.client_port.ok_or(StartError::NoClientPort)?;
        let ip = config
            .client_port_address
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let addr = SocketAddr::new(ip, port);
        let listener = bind(addr, config.client_port_listen_backlog)
            .map_err(|source| StartError::Bind { addr, source })?;
        let client_addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        let secure = match config.secure_client_port {
            None => None,
            Some(port) => {
                let acceptor = crate::tls::acceptor(&config).map_err(StartError::Tls)?;
                let ip = config
                    .secure_client_port_address
                    .or(config.client_port_address)
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                let addr = SocketAddr::new(ip, port);
                let l = bind(addr, config.client_port_listen_backlog)
                    .map_err(|source| StartError::Bind { addr, source })?;
                let bound = l
                    .local_addr()
                    .map_err(|source| StartError::Bind { addr, source })?;
                Some((l, acceptor, bound))
            }
        };
        let secure_addr = secure.as_ref().map(|s| s.2);
        // 3.8 starts the metrics provider before loading the database; a provider that cannot
        // start stops the server.
        let metrics_listener = if config.prometheus_enabled() {
            let (l, bound) = bind_http(&config.metrics_http_host, config.metrics_http_port)
                .map_err(|(addr, why)| StartError::Metrics { addr, why })?;
            info!(%bound, "serving Prometheus metrics at /metrics");
            Some((l, bound))
        } else {
            None
        };
        // A standalone server that cannot start its AdminServer exits (ZooKeeperServerMain);
        // an ensemble member logs it and goes on (QuorumPeer).
        let admin_listener = if config.admin_enable_server {
            match bind_http(&config.admin_server_address, config.admin_server_port) {
                Ok((l, bound)) => {
                    info!(
                        %bound,
                        command_url = config.admin_command_url,
                        "started the AdminServer"
                    );
                    Some((l, bound))
                }
                Err((addr, why)) if quorum.is_none() => {
                    return Err(StartError::Admin { addr, why });
                }
                Err((addr, why)) => {
                    warn!(
                        addr,
                        why, "problem starting the AdminServer; going on without it"
                    );
                    None
                }
            }
        } else {
            None
        };
        let admin_addr = admin_listener.as_ref().map(|l| l.1);
        let metrics_addr = metrics_listener.as_ref().map(|l| l.1);
        let config = Arc::new(config);
        let cfg = config.clone();
        let mut opened = tokio::task::spawn_blocking(move || Core::open(cfg))
            .await
            .expect("open task panicked")
            .map_err(|e| StartError::Open(e.to_string()))?;
        opened.core.bound_client_port = Some(client_addr.port());
        let metrics = opened.core.metrics.clone();
        let peer_events = match quorum {
            None => None,
            Some(q) => {
                let cnx = zk_quorum::QuorumCnxManager::start(q.election.clone())
                    .await
                    .map_err(StartError::Election)?;
                let election = zk_election::Election::new(
                    q.my_id,
                    q.learner_type,
                    q.verifier.clone(),
                    zk_election::Timing::default(),
                );
                let service = crate::election::ElectionService::spawn(cnx, election);
                let (tx, rx) = mpsc::unbounded_channel();
                opened
                    .core
                    .start_peer(q, service, tx)
                    .map_err(|e| StartError::Open(e.to_string()))?;
                Some(rx)
            }
        };
        // As DatadirCleanupManager: the first purge runs at start, then every purgeInterval hours.
        // It counts the start-up snapshot among those it keeps, so that one must be complete.
        if config.purge_interval_hours > 0
            && let Some(job) = opened.startup_snapshot.take()
        {
            let _ = tokio::task::spawn_blocking(move || job.join()).await;
        }
        let purge = zk_persistence::DatadirCleanup::start(
            &config.data_dir,
            &config.data_log_dir,
            config.snap_retain_count,
            config.purge_interval_hours,
        );
        info!(%client_addr, "binding to port");
        let (core_tx, core_rx) = mpsc::channel::<ToCore>(4096);
        let settings = ConnSettings {
            max_frame: config.jute_max_buffer,
            sessionless_timeout: Duration::from_millis(config.sessionless_cnxn_timeout_ms),
            outstanding: Arc::new(Semaphore::new(config.global_outstanding_limit as usize)),
            reads: crate::connection::ReadPath {
                tree: opened.core.tree.clone(),
                serving: opened.core.serving.clone(),
                stats: opened.core.stats.clone(),
                // Sessions expire in tick buckets; a touch every half tick keeps a reader's alive.
                touch_every: Duration::from_millis(u64::from(config.tick_ms / 2).max(1)),
            },
            metrics,
        };
        let shared = Shared::default();
        let mut accept = vec![tokio::spawn(accept_loop(
            listener,
            None,
            core_tx.clone(),
            settings.clone(),
            config.clone(),
            shared.clone(),
        ))];
        let idle = Duration::from_millis(config.admin_idle_timeout_ms);
        if let Some((l, _)) = admin_listener {
            let backups = config.admin_snapshot_enabled.then(|| {
                crate::admin::Backups::new(Duration::from_millis(config.admin_snapshot_interval_ms))
            });
            accept.push(tokio::spawn(crate::admin::serve_admin(
                l,
                core_tx.clone(),
                config.admin_command_url.clone(),
                idle,
                backups,
            )));
        }
        if let Some((l, _)) = metrics_listener {
            accept.push(tokio::spawn(crate::admin::serve_metrics(
                l,
                core_tx.clone(),
                idle,
            )));
        }
        if let Some((l, acceptor, bound)) = secure {
            info!(secure_addr = %bound, "binding to the secure port (TLS)");
            accept.push(tokio::spawn(accept_loop(
                l,
                Some(acceptor),
                core_tx,
                settings,
                config.clone(),
                shared,
            )));
        }
        let (stop_tx, stop_rx) = oneshot::channel();
        let done = tokio::spawn(run_core(opened, core_rx, peer_events, stop_rx, accept));
        Ok(Server {
            client_addr,
            secure_addr,
            admin_addr,
            metrics_addr,
            purge,
            shutdown: Some(stop_tx),
            done,
        })
    }

    /// Where clients connect.
    pub fn client_addr(&self) -> SocketAddr {
        self.client_addr
    }

    /// Where TLS clients connect (`secureClientPort`), when configured.
    pub fn secure_addr(&self) -> Option<SocketAddr> {
        self.secure_addr
    }

    /// Where the AdminServer listens (`admin.enableServer`, the default).
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// Where Prometheus scrapes `/metrics` (`metricsProvider.className` is the Prometheus one).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Blocks until autopurge has run `n` times; false when autopurge is off.
    pub fn wait_for_purges(&self, n: u64) -> bool {
        match &self.purge {
            Some(p) => {
                p.wait_for_runs(n);
                true
            }
            None => false,
        }
    }

    /// Stops accepting at once, finishes the fsyncs in flight, answers what they cover and
    /// closes every connection.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.done).await;
    }

    /// Waits until the server stops by itself (a failed txn log).
    pub async fn wait(&mut self) {
        let _ = (&mut self.done).await;
    }
}

/// Binds an HTTP listener on `host:port` (a name or an address); on failure, the address as
/// configured and why.
fn bind_http(host: &str, port: u16) -> Result<(TcpListener, SocketAddr), (String, String)> {
    use std::net::ToSocketAddrs;
    let shown = format!("{host}:{port}");
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| (shown.clone(), e.to_string()))?
        .next()
        .ok_or_else(|| (shown.clone(), "the host has no address".to_owned()))?;
    let listener = bind(addr, 50).map_err(|e| (shown.clone(), e.to_string()))?;
    let bound = listener
        .local_addr()
        .map_err(|e| (shown.clone(), e.to_string()))?;
    Ok((listener, bound))
}

pub(crate) fn bind(addr: SocketAddr, backlog: i32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(if backlog > 0 { backlog as u32 } else { 1024 })
}

struct IpSlot {
    counts: Arc<Mutex<HashMap<IpAddr, u32>>>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// What the plain and the TLS listener share: connection ids and the per-IP counts.
#[derive(Clone, Default)]
struct Shared {
    next_id: Arc<AtomicU64>,
    counts: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    core: mpsc::Sender<ToCore>,
    settings: ConnSettings,
    config: Arc<ServerConfig>,
    shared: Shared,
) {
    let Shared { next_id, counts } = shared;
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let ip = addr.ip();
        {
            let mut c = counts.lock().unwrap_or_else(|p| p.into_inner());
            let total: u32 = c.values().sum();
            let n = c.entry(ip).or_insert(0);
            if config.max_client_cnxns > 0 && *n >= config.max_client_cnxns {
                settings.metrics.connection_rejected.inc();
                warn!(
                    "Too many connections from /{ip} - max is {}",
                    config.max_client_cnxns
                );
                continue;
            }
            if config.max_cnxns > 0 && total >= config.max_cnxns {
                settings.metrics.connection_rejected.inc();
                warn!("too many connections, max is {}", config.max_cnxns);
                continue;
            }
            *n += 1;
        }
        let slot = IpSlot {
            counts: counts.clone(),
            ip,
        };
        let _ = stream.set_nodelay(true);
        let id = next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let core = core.clone();
        let settings = settings.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match tls {
                None => connection::serve(stream, id, addr, core, settings).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(settings.sessionless_timeout, acceptor.accept(stream))
                            .await;
                    match handshake {
                        Ok(Ok(s)) => connection::serve(s, id, addr, core, settings).await,
                        Ok(Err(e)) => warn!(%addr, error = %e, "TLS handshake failed"),
                        Err(_) => warn!(%addr, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

async fn run_core(
    opened: crate::pipeline::Opened,
    mut rx: mpsc::Receiver<ToCore>,
    mut peer_events: Option<mpsc::UnboundedReceiver<crate::quorum::PeerEvent>>,
    mut stop: oneshot::Receiver<()>,
    accept: Vec<JoinHandle<()>>,
) {
    let crate::pipeline::Opened {
        mut core,
        mut durable,
        persist_thread,
        ..
    } = opened;
    let tick = Duration::from_millis(u64::from(core.config.tick_ms.max(1)));
    let mut ticks = tokio::time::interval(tick.min(Duration::from_millis(500)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reaper = tokio::time::interval(Duration::from_millis(
        core.config.container_check_interval_ms,
    ));
    reaper.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    reaper.tick().await;
    let mut failed = false;
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            d = durable.recv() => match d {
                Some(Durable::UpTo { zxid, snapshot_due }) => core.durable(zxid, snapshot_due),
                Some(Durable::Failed(why)) => {
                    core.persistence_failed(&why);
                    failed = true;
                    break;
                }
                None => break,
            },
            msg = rx.recv() => match msg {
                Some(m) => core.handle(m),
                None => break,
            },
            Some(event) = recv_peer(&mut peer_events) => core.handle_peer(event),
            () = sleep_until(core.zab_deadline()) => core.zab_timeout(),
            _ = ticks.tick() => core.tick(),
            _ = reaper.tick() => core.reap_containers(),
        }
        if core.fatal.is_some() {
            failed = true;
            break;
        }
    }
    // Shutdown: close the port at once, let the sync thread commit what it has, answer it.
    for a in &accept {
        a.abort();
    }
    info!("shutting down");
    core.stop_persisting();
    if !failed {
        while let Some(d) = durable.recv().await {
            if let Durable::UpTo { zxid, snapshot_due } = d {
                core.durable(zxid, snapshot_due);
            }
        }
    }
    core.close_all();
    if tokio::task::spawn_blocking(move || persist_thread.join())
        .await
        .is_err()
    {
        error!("the sync thread panicked");
    }
}

async fn recv_peer(
    events: &mut Option<mpsc::UnboundedReceiver<crate::quorum::PeerEvent>>,
) -> Option<crate::quorum::PeerEvent> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
