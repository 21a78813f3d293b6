//! The client handle: every operation of ZooKeeper 3.8, over the connection task.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use zk_jute::multi::{MultiOp, MultiRequest, MultiResponse, MultiResult};
use zk_jute::proto::{
    AddWatchRequest, CheckVersionRequest, Create2Response, CreateRequest, CreateResponse,
    CreateTtlRequest, DeleteRequest, ExistsRequest, ExistsResponse, GetAclRequest, GetAclResponse,
    GetAllChildrenNumberRequest, GetAllChildrenNumberResponse, GetChildren2Request,
    GetChildren2Response, GetChildrenRequest, GetChildrenResponse, GetDataRequest, GetDataResponse,
    GetEphemeralsRequest, GetEphemeralsResponse, ReconfigRequest, RemoveWatchesRequest,
    SetAclRequest, SetAclResponse, SetDataRequest, SetDataResponse, SyncRequest, WhoAmIResponse,
};
use zk_jute::{
    Acl, AddWatchMode, ClientInfo, CreateMode, OpCode, Record, SessionId, Stat, WatcherType,
};

use crate::conn::{self, Command, Config, SessionState, Shared};
use crate::core::{Reply, Request, skip_error_response};
use crate::error::{Error, Result};
use crate::hosts::ConnectString;
use crate::path::{Chroot, validate_path};
use crate::watch::{EventStream, OneshotWatcher, WatchAction};

/// Settings for a new client; `Client::builder(connect_string)` makes one.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    connect_string: String,
    session_timeout: Duration,
    connect_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    can_be_read_only: bool,
    max_outstanding: usize,
    reconnect_delay_max: Duration,
    spin_delay: Duration,
    max_frame_len: usize,
    auth: Vec<(String, Vec<u8>)>,
}

impl ClientBuilder {
    /// The session timeout to ask for (the server clamps it to its min/max). Default 30 s.
    pub fn session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = timeout;
        self
    }

    /// How long [`ClientBuilder::connect`] waits for the first session. Default: the session
    /// timeout, at least 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Fail an operation with [`Error::OperationTimeout`] when no reply came within this time.
    /// Default: no limit (as the Java client's `zookeeper.request.timeout=0`); a broken
    /// connection still fails it with ConnectionLoss after the read timeout.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// Accept read-only servers (a server cut off from its quorum); the state is then
    /// [`SessionState::ConnectedReadOnly`] and writes fail with NotReadOnly.
    pub fn can_be_read_only(mut self, yes: bool) -> Self {
        self.can_be_read_only = yes;
        self
    }

    /// The most requests awaiting replies at once; further calls wait for a slot. Default 4096.
    pub fn max_outstanding(mut self, n: usize) -> Self {
        self.max_outstanding = n.max(1);
        self
    }

    /// The upper bound of the random wait before a reconnect (the Java client's 1 s, the default),
    /// and the wait after each full turn over the hosts.
    pub fn reconnect_delay(mut self, max: Duration) -> Self {
        self.reconnect_delay_max = max;
        self.spin_delay = max;
        self
    }

    /// The largest frame accepted from the server (`jute.maxbuffer`, default 0xfffff).
    pub fn max_frame_len(mut self, len: usize) -> Self {
        self.max_frame_len = len;
        self
    }

    /// Credentials sent before any request and again on every reconnect (`addAuthInfo`).
    pub fn auth(mut self, scheme: impl Into<String>, auth: impl Into<Vec<u8>>) -> Self {
        self.auth.push((scheme.into(), auth.into()));
        self
    }

    /// Starts the session and waits until it is established.
    pub async fn connect(self) -> Result<Client> {
        let client = self.start()?;
        let limit = self
            .connect_timeout
            .unwrap_or(self.session_timeout.max(Duration::from_secs(10)));
        let mut state = client.inner.shared.state.subscribe();
        let waited =
            tokio::time::timeout(limit, state.wait_for(|s| *s != SessionState::Connecting)).await;
        match waited {
            Ok(Ok(s)) if s.is_connected() => Ok(client),
            Ok(Ok(s)) => Err(s.terminal_error()),
            Ok(Err(_)) => Err(Error::Closed),
            Err(_) => {
                client.inner.cancel.cancel();
                Err(Error::OperationTimeout)
            }
        }
    }

    /// Starts the session in the background and returns at once (like the Java constructor);
    /// operations wait for the connection.
    pub fn start(&self) -> Result<Client> {
        let cs = ConnectString::parse(&self.connect_string)?;
        let timeout_ms = i32::try_from(self.session_timeout.as_millis()).unwrap_or(i32::MAX);
        let cfg = Config {
            hosts: cs.hosts,
            chroot: cs.chroot.clone(),
            session_timeout_ms: timeout_ms,
            can_be_read_only: self.can_be_read_only,
            reconnect_delay_max: self.reconnect_delay_max,
            spin_delay: self.spin_delay,
            max_frame_len: self.max_frame_len,
            seed: fastrand::u64(..),
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::new());
        let cancel = CancellationToken::new();
        for (scheme, auth) in &self.auth {
            let (reply, _) = oneshot::channel();
            let _ = tx.send(Command::Auth {
                scheme: scheme.clone(),
                auth: Bytes::from(auth.clone()),
                reply,
            });
        }
        tokio::spawn(conn::run(cfg, shared.clone(), rx, cancel.clone()));
        Ok(Client {
            inner: Arc::new(Inner {
                tx,
                shared,
                cancel,
                permits: Arc::new(Semaphore::new(self.max_outstanding)),
                chroot: cs.chroot,
                request_timeout: self.request_timeout,
            }),
        })
    }
}

#[derive(Debug)]
struct Inner {
    tx: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    permits: Arc<Semaphore>,
    chroot: Chroot,
    request_timeout: Option<Duration>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone: the task closes the session.
        self.cancel.cancel();
    }
}

/// A ZooKeeper client: one session, shared by all clones of the handle.
///
/// Replies come back in the order requests were made (a single connection serves them in order),
/// and a watch event always arrives before the reply of any later request that could observe the
/// change that fired it. Dropping the last clone closes the session.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl Client {
    /// Settings for a client of `connect_string`: `host:port,host:port[/chroot]`.
    pub fn builder(connect_string: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            connect_string: connect_string.into(),
            session_timeout: Duration::from_secs(30),
            connect_timeout: None,
            request_timeout: None,
            can_be_read_only: false,
            max_outstanding: 4096,
            reconnect_delay_max: Duration::from_secs(1),
            spin_delay: Duration::from_secs(1),
            max_frame_len: zk_jute::FrameDecoder::DEFAULT_MAX_LEN,
            auth: Vec::new(),
        }
    }

    /// Connects with default settings and the given session timeout.
    pub async fn connect(connect_string: &str, session_timeout: Duration) -> Result<Client> {
        Client::builder(connect_string)
            .session_timeout(session_timeout)
            .connect()
            .await
    }

    /// The current state of the session.
    pub fn state(&self) -> SessionState {
        *self.inner.shared.state.borrow()
    }

    /// Waits until the state satisfies `f` (returns the state), or the client is gone.
    pub async fn wait_for_state(&self, f: impl FnMut(&SessionState) -> bool) -> SessionState {
        let mut rx = self.inner.shared.state.subscribe();
        rx.wait_for(f).await.map_or(SessionState::Closed, |s| *s)
    }

    /// The session id (0 until the first connection).
    pub fn session_id(&self) -> SessionId {
        self.inner.shared.identity.lock().expect("identity lock").id
    }

    /// The session password, for resuming the session elsewhere.
    pub fn session_password(&self) -> Bytes {
        self.inner
            .shared
            .identity
            .lock()
            .expect("identity lock")
            .passwd
            .clone()
    }

    /// The session timeout the server granted, in milliseconds.
    pub fn session_timeout_ms(&self) -> i32 {
        self.inner
            .shared
            .identity
            .lock()
            .expect("identity lock")
            .timeout_ms
    }

    /// The server the client is connected to now.
    pub fn server(&self) -> Option<std::net::SocketAddr> {
        *self.inner.shared.server.lock().expect("server lock")
    }

    /// The chroot of the connect string, if any.
    pub fn chroot(&self) -> Option<&str> {
        self.inner.chroot.as_str()
    }

    /// A stream of the session's state events from now on (SyncConnected, Disconnected,
    /// ConnectedReadOnly, Expired, AuthFailed, Closed), as the Java default watcher sees them.
    pub fn session_events(&self) -> EventStream {
        let (tx, stream) = EventStream::new();
        if self.state().is_alive() {
            self.inner
                .shared
                .listeners
                .lock()
                .expect("listener lock")
                .push(tx);
        }
        stream
    }

    /// Closes the session (the server deletes its ephemeral nodes) and waits until it is closed.
    /// Requests made before still get their replies.
    pub async fn close(&self) {
        self.inner.cancel.cancel();
        self.wait_for_state(|s| !s.is_alive()).await;
    }

    /// The error for an operation that cannot proceed in the current state.
    pub(crate) fn state_error(&self) -> Error {
        self.state().terminal_error()
    }

    fn server_path(&self, path: &str, sequential: bool) -> Result<String> {
        validate_path(path, sequential)?;
        Ok(self.inner.chroot.to_server(path))
    }

    fn client_path(&self, server_path: &str) -> String {
        self.inner.chroot.to_client(server_path)
    }

    async fn call(&self, op: OpCode, body: Bytes, watch: WatchAction) -> Result<Reply> {
        let permit = self
            .inner
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Closed)?;
        let (tx, rx) = oneshot::channel();
        let request = Request {
            op,
            body,
            watch,
            reply: Some(tx),
            permit: Some(permit),
        };
        if self.inner.tx.send(Command::Request(request)).is_err() {
            return Err(self.state().terminal_error());
        }
        let reply = match self.inner.request_timeout {
            Some(t) => tokio::time::timeout(t, rx)
                .await
                .map_err(|_| Error::OperationTimeout)?,
            None => rx.await,
        };
        match reply {
            Ok(r) => r,
            Err(_) => Err(self.state().terminal_error()),
        }
    }

    async fn call_ok(&self, op: OpCode, body: Bytes) -> Result<Bytes> {
        self.call(op, body, WatchAction::None).await?.ok()
    }

    /// Creates a node and returns its path (with the sequence suffix for sequential modes).
    /// TTL modes need [`Client::create_ttl`].
    pub async fn create(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
    ) -> Result<String> {
        if mode.is_ttl() {
            return Err(Error::InvalidArgument("a TTL mode needs create_ttl".into()));
        }
        let request = create_request(
            self.server_path(path, mode.is_sequential())?,
            data,
            acl,
            mode,
        );
        let op = if mode.is_container() {
            OpCode::CreateContainer
        } else {
            OpCode::Create
        };
        let body = self.call_ok(op, request.to_bytes()).await?;
        let response = CreateResponse::from_bytes(&body)?;
        Ok(self.client_path(&response.path))
    }

    /// Creates a node and returns its path and stat (`create2`).
    pub async fn create2(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
    ) -> Result<(String, Stat)> {
        if mode.is_ttl() {
            return Err(Error::InvalidArgument("a TTL mode needs create_ttl".into()));
        }
        let request = create_request(
            self.server_path(path, mode.is_sequential())?,
            data,
            acl,
            mode,
        );
        let op = if mode.is_container() {
            OpCode::CreateContainer
        } else {
            OpCode::Create2
        };
        let body = self.call_ok(op, request.to_bytes()).await?;
        let response = Create2Response::from_bytes(&body)?;
        Ok((self.client_path(&response.path), response.stat))
    }

    /// Creates a node with a time to live (PersistentWithTtl or PersistentSequentialWithTtl; the
    /// server must run with `zookeeper.extendedTypesEnabled=true`).
    pub async fn create_ttl(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
        ttl: Duration,
    ) -> Result<(String, Stat)> {
        if !mode.is_ttl() {
            return Err(Error::InvalidArgument(format!(
                "{mode:?} is not a TTL mode"
            )));
        }
        let request = CreateTtlRequest {
            path: self.server_path(path, mode.is_sequential())?,
            data: Some(Bytes::copy_from_slice(data)),
            acl: acl.to_vec(),
            flags: mode.code(),
            ttl: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
        };
        let body = self.call_ok(OpCode::CreateTtl, request.to_bytes()).await?;
        let response = Create2Response::from_bytes(&body)?;
        Ok((self.client_path(&response.path), response.stat))
    }

    /// Creates a node in any mode with data that may be null (`None`, as Java's `create` with a
    /// null array; `get` then reads null), and returns its path. `ttl` is needed by the TTL modes
    /// and ignored by the others. Opcode create, createContainer or createTTL by the mode.
    pub async fn create_nullable(
        &self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        mode: CreateMode,
        ttl: Option<Duration>,
    ) -> Result<String> {
        let path = self.server_path(path, mode.is_sequential())?;
        let data = data.map(Bytes::copy_from_slice);
        let (op, body) = if mode.is_ttl() {
            let ttl = ttl.ok_or_else(|| Error::InvalidArgument("a TTL mode needs a ttl".into()))?;
            let request = CreateTtlRequest {
                path,
                data,
                acl: acl.to_vec(),
                flags: mode.code(),
                ttl: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
            };
            (OpCode::CreateTtl, request.to_bytes())
        } else {
            let op = if mode.is_container() {
                OpCode::CreateContainer
            } else {
                OpCode::Create
            };
            let request = CreateRequest {
                path,
                data,
                acl: acl.to_vec(),
                flags: mode.code(),
            };
            (op, request.to_bytes())
        };
        let body = self.call_ok(op, body).await?;
        // Create and Create2 responses both start with the path.
        let response = CreateResponse::read(&mut body.clone())?;
        Ok(self.client_path(&response.path))
    }

    /// Deletes a node; `version` `None` matches any version.
    pub async fn delete(&self, path: &str, version: Option<i32>) -> Result<()> {
        let request = DeleteRequest {
            path: self.server_path(path, false)?,
            version: version.unwrap_or(-1),
        };
        self.call_ok(OpCode::Delete, request.to_bytes()).await?;
        Ok(())
    }

    async fn exists_inner(&self, path: &str, watch: WatchAction, w: bool) -> Result<Option<Stat>> {
        let request = ExistsRequest {
            path: self.server_path(path, false)?,
            watch: w,
        };
        match self
            .call(OpCode::Exists, request.to_bytes(), watch)
            .await?
            .ok()
        {
            Ok(body) => Ok(Some(ExistsResponse::from_bytes(&body)?.stat)),
            Err(Error::NoNode) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The stat of a node, `None` if it does not exist.
    pub async fn exists(&self, path: &str) -> Result<Option<Stat>> {
        self.exists_inner(path, WatchAction::None, false).await
    }

    /// `exists` and a one-shot watch: NodeCreated if the node is missing, NodeDataChanged or
    /// NodeDeleted if it exists.
    pub async fn exists_watch(&self, path: &str) -> Result<(Option<Stat>, OneshotWatcher)> {
        let (tx, watcher) = OneshotWatcher::new();
        let stat = self
            .exists_inner(path, WatchAction::Exists(path.to_owned(), tx), true)
            .await?;
        Ok((stat, watcher))
    }

    async fn get_data_inner(
        &self,
        path: &str,
        watch: WatchAction,
        w: bool,
    ) -> Result<(Bytes, Stat)> {
        let request = GetDataRequest {
            path: self.server_path(path, false)?,
            watch: w,
        };
        let body = self
            .call(OpCode::GetData, request.to_bytes(), watch)
            .await?
            .ok()?;
        let response = GetDataResponse::read(&mut body.clone())?;
        Ok((response.data.unwrap_or_default(), response.stat))
    }

    /// The data and stat of a node (null data reads as empty).
    pub async fn get_data(&self, path: &str) -> Result<(Bytes, Stat)> {
        self.get_data_inner(path, WatchAction::None, false).await
    }

    /// `get_data` and a one-shot watch for NodeDataChanged or NodeDeleted.
    pub async fn get_data_watch(&self, path: &str) -> Result<(Bytes, Stat, OneshotWatcher)> {
        let (tx, watcher) = OneshotWatcher::new();
        let (data, stat) = self
            .get_data_inner(path, WatchAction::Data(path.to_owned(), tx), true)
            .await?;
        Ok((data, stat, watcher))
    }

    /// The data of a node, `None` when it is null (Java's `getData` returning null), and its
    /// stat; with `watch`, also a one-shot watch for NodeDataChanged or NodeDeleted.
    pub async fn get_data_nullable(
        &self,
        path: &str,
        watch: bool,
    ) -> Result<(Option<Bytes>, Stat, Option<OneshotWatcher>)> {
        let (action, watcher) = if watch {
            let (tx, watcher) = OneshotWatcher::new();
            (WatchAction::Data(path.to_owned(), tx), Some(watcher))
        } else {
            (WatchAction::None, None)
        };
        let request = GetDataRequest {
            path: self.server_path(path, false)?,
            watch,
        };
        let body = self
            .call(OpCode::GetData, request.to_bytes(), action)
            .await?
            .ok()?;
        let response = GetDataResponse::read(&mut body.clone())?;
        Ok((response.data, response.stat, watcher))
    }

    /// Sets a node's data; `version` `None` matches any version.
    pub async fn set_data(&self, path: &str, data: &[u8], version: Option<i32>) -> Result<Stat> {
        let request = SetDataRequest {
            path: self.server_path(path, false)?,
            data: Some(Bytes::copy_from_slice(data)),
            version: version.unwrap_or(-1),
        };
        let body = self.call_ok(OpCode::SetData, request.to_bytes()).await?;
        Ok(SetDataResponse::from_bytes(&body)?.stat)
    }

    /// The ACL and stat of a node.
    pub async fn get_acl(&self, path: &str) -> Result<(Vec<Acl>, Stat)> {
        let request = GetAclRequest {
            path: self.server_path(path, false)?,
        };
        let body = self.call_ok(OpCode::GetAcl, request.to_bytes()).await?;
        let r = GetAclResponse::from_bytes(&body)?;
        Ok((r.acl, r.stat))
    }

    /// Sets a node's ACL; `version` (the aversion) `None` matches any.
    pub async fn set_acl(&self, path: &str, acl: &[Acl], version: Option<i32>) -> Result<Stat> {
        let request = SetAclRequest {
            path: self.server_path(path, false)?,
            acl: acl.to_vec(),
            version: version.unwrap_or(-1),
        };
        let body = self.call_ok(OpCode::SetAcl, request.to_bytes()).await?;
        Ok(SetAclResponse::from_bytes(&body)?.stat)
    }

    async fn children_inner(&self, path: &str, watch: WatchAction, w: bool) -> Result<Vec<String>> {
        let request = GetChildrenRequest {
            path: self.server_path(path, false)?,
            watch: w,
        };
        let body = self
            .call(OpCode::GetChildren, request.to_bytes(), watch)
            .await?
            .ok()?;
        Ok(GetChildrenResponse::from_bytes(&body)?.children)
    }

    /// The names of a node's children (unordered, as the server keeps them).
    pub async fn get_children(&self, path: &str) -> Result<Vec<String>> {
        self.children_inner(path, WatchAction::None, false).await
    }

    /// `get_children` and a one-shot watch for NodeChildrenChanged or NodeDeleted.
    pub async fn get_children_watch(&self, path: &str) -> Result<(Vec<String>, OneshotWatcher)> {
        let (tx, watcher) = OneshotWatcher::new();
        let children = self
            .children_inner(path, WatchAction::Child(path.to_owned(), tx), true)
            .await?;
        Ok((children, watcher))
    }

    async fn children2_inner(
        &self,
        path: &str,
        watch: WatchAction,
        w: bool,
    ) -> Result<(Vec<String>, Stat)> {
        let request = GetChildren2Request {
            path: self.server_path(path, false)?,
            watch: w,
        };
        let body = self
            .call(OpCode::GetChildren2, request.to_bytes(), watch)
            .await?
            .ok()?;
        let r = GetChildren2Response::from_bytes(&body)?;
        Ok((r.children, r.stat))
    }

    /// The children and the node's stat (`getChildren2`).
    pub async fn get_children2(&self, path: &str) -> Result<(Vec<String>, Stat)> {
        self.children2_inner(path, WatchAction::None, false).await
    }

    /// `get_children2` and a one-shot child watch.
    pub async fn get_children2_watch(
        &self,
        path: &str,
    ) -> Result<(Vec<String>, Stat, OneshotWatcher)> {
        let (tx, watcher) = OneshotWatcher::new();
        let (children, stat) = self
            .children2_inner(path, WatchAction::Child(path.to_owned(), tx), true)
            .await?;
        Ok((children, stat, watcher))
    }

    /// The number of all descendants of a node (not counting itself).
    pub async fn get_all_children_number(&self, path: &str) -> Result<i32> {
        let request = GetAllChildrenNumberRequest {
            path: self.server_path(path, false)?,
        };
        let body = self
            .call_ok(OpCode::GetAllChildrenNumber, request.to_bytes())
            .await?;
        Ok(GetAllChildrenNumberResponse::from_bytes(&body)?.total_number)
    }

    /// This session's ephemeral nodes whose path starts with `prefix` (`/` for all).
    pub async fn get_ephemerals(&self, prefix: &str) -> Result<Vec<String>> {
        let prefix = if prefix.is_empty() || prefix == "/" {
            self.inner.chroot.to_server("/")
        } else {
            // A plain string prefix: validate it as a path only when it is a whole path.
            if !prefix.starts_with('/') {
                return Err(Error::InvalidArgument(format!("bad prefix {prefix:?}")));
            }
            self.inner.chroot.to_server(prefix)
        };
        let request = GetEphemeralsRequest {
            prefix_path: prefix,
        };
        let body = self
            .call_ok(OpCode::GetEphemerals, request.to_bytes())
            .await?;
        Ok(GetEphemeralsResponse::from_bytes(&body)?
            .ephemerals
            .iter()
            .map(|p| self.client_path(p))
            .collect())
    }

    /// Waits until the connected server has caught up with the leader (as of this call).
    pub async fn sync(&self, path: &str) -> Result<()> {
        let request = SyncRequest {
            path: self.server_path(path, false)?,
        };
        self.call_ok(OpCode::Sync, request.to_bytes()).await?;
        Ok(())
    }

    /// Fails with BadVersion unless the node's version is `version` (a multi of one check, since
    /// a bare check is not served correctly by ZooKeeper 3.8).
    pub async fn check(&self, path: &str, version: i32) -> Result<()> {
        self.multi().check(path, version).commit().await.map(drop)
    }

    /// A transaction: every op applies, or none does.
    pub fn multi(&self) -> Multi<'_> {
        Multi {
            client: self,
            ops: Vec::new(),
            error: None,
        }
    }

    /// Several reads in one round trip; each op succeeds or fails on its own.
    pub fn multi_read(&self) -> MultiRead<'_> {
        MultiRead {
            client: self,
            ops: Vec::new(),
            error: None,
        }
    }

    /// Sets a persistent (node) or persistent-recursive (node and subtree) watch and returns its
    /// stream of events. The watch stays until removed or the session ends.
    pub async fn add_watch(&self, path: &str, mode: AddWatchMode) -> Result<EventStream> {
        let request = AddWatchRequest {
            path: self.server_path(path, false)?,
            mode: mode.code(),
        };
        let (tx, stream) = EventStream::new();
        let body = self
            .call(
                OpCode::AddWatch,
                request.to_bytes(),
                WatchAction::Add(path.to_owned(), mode, tx),
            )
            .await?
            .ok()?;
        skip_error_response(body);
        Ok(stream)
    }

    /// Removes this session's watches of a type on a node, on the server and here; each removed
    /// watcher gets DataWatchRemoved, ChildWatchRemoved or PersistentWatchRemoved. NoWatcher if
    /// none was set.
    pub async fn remove_watches(&self, path: &str, watcher_type: WatcherType) -> Result<()> {
        let request = RemoveWatchesRequest {
            path: self.server_path(path, false)?,
            r#type: watcher_type.code(),
        };
        self.call(
            OpCode::RemoveWatches,
            request.to_bytes(),
            WatchAction::Remove(path.to_owned(), watcher_type),
        )
        .await?
        .ok()?;
        Ok(())
    }

    /// Adds credentials to the connection (and to every later one), e.g. `digest`,
    /// `b"user:password"`. A failure (AuthFailed) ends the session.
    pub async fn add_auth(&self, scheme: &str, auth: &[u8]) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Auth {
            scheme: scheme.to_owned(),
            auth: Bytes::copy_from_slice(auth),
            reply,
        };
        if self.inner.tx.send(cmd).is_err() {
            return Err(self.state().terminal_error());
        }
        match rx.await {
            Ok(r) => r,
            Err(_) => Err(self.state().terminal_error()),
        }
    }

    /// The identities the server associates with this connection.
    pub async fn who_am_i(&self) -> Result<Vec<ClientInfo>> {
        let body = self.call_ok(OpCode::WhoAmI, Bytes::new()).await?;
        Ok(WhoAmIResponse::from_bytes(&body)?.client_info)
    }

    /// Changes the ensemble membership (incremental with `joining`/`leaving`, or a whole new
    /// member list), if the config version is `from_config` (-1: any). Returns the new config
    /// text and the stat of `/zookeeper/config`.
    pub async fn reconfig(
        &self,
        joining: Option<&str>,
        leaving: Option<&str>,
        new_members: Option<&str>,
        from_config: i64,
    ) -> Result<(Bytes, Stat)> {
        let request = ReconfigRequest {
            joining_servers: joining.map(str::to_owned),
            leaving_servers: leaving.map(str::to_owned),
            new_members: new_members.map(str::to_owned),
            cur_config_id: from_config,
        };
        let body = self.call_ok(OpCode::Reconfig, request.to_bytes()).await?;
        let r = GetDataResponse::from_bytes(&body)?;
        Ok((r.data.unwrap_or_default(), r.stat))
    }

    async fn multi_call(&self, op: OpCode, ops: Vec<MultiOp>) -> Result<MultiResponse> {
        let body = self.call_ok(op, MultiRequest { ops }.to_bytes()).await?;
        Ok(MultiResponse::from_bytes(&body)?)
    }

    fn op_result(&self, r: MultiResult) -> OpResult {
        match r {
            MultiResult::Create(c) => OpResult::Create {
                path: self.client_path(&c.path),
                stat: None,
            },
            MultiResult::Create2(c) => OpResult::Create {
                path: self.client_path(&c.path),
                stat: Some(c.stat),
            },
            MultiResult::Delete => OpResult::Delete,
            MultiResult::SetData(s) => OpResult::SetData { stat: s.stat },
            MultiResult::Check => OpResult::Check,
            MultiResult::GetChildren(c) => OpResult::GetChildren {
                children: c.children,
            },
            MultiResult::GetData(d) => OpResult::GetData {
                data: d.data.unwrap_or_default(),
                stat: d.stat,
            },
            MultiResult::Error(code) => OpResult::Error(Error::from_code(code)),
        }
    }
}

fn create_request(path: String, data: &[u8], acl: &[Acl], mode: CreateMode) -> CreateRequest {
    CreateRequest {
        path,
        data: Some(Bytes::copy_from_slice(data)),
        acl: acl.to_vec(),
        flags: mode.code(),
    }
}

/// The result of one op of a multi or multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// The created path (chroot removed); the stat when the server sent it (create2-style ops).
    Create {
        path: String,
        stat: Option<Stat>,
    },
    Delete,
    SetData {
        stat: Stat,
    },
    Check,
    GetData {
        data: Bytes,
        stat: Stat,
    },
    GetChildren {
        children: Vec<String>,
    },
    /// A multiRead op that failed on its own.
    Error(Error),
}

/// A multi (transaction) under construction; `commit` sends it.
#[derive(Debug)]
#[must_use = "a multi does nothing until committed"]
pub struct Multi<'a> {
    client: &'a Client,
    ops: Vec<MultiOp>,
    error: Option<Error>,
}

impl Multi<'_> {
    fn path(&mut self, path: &str, sequential: bool) -> String {
        match self.client.server_path(path, sequential) {
            Ok(p) => p,
            Err(e) => {
                self.error.get_or_insert(e);
                String::new()
            }
        }
    }

    /// Adds a create (any mode but the TTL ones, see [`Multi::create_ttl`]).
    pub fn create(mut self, path: &str, data: &[u8], acl: &[Acl], mode: CreateMode) -> Self {
        if mode.is_ttl() {
            self.error
                .get_or_insert(Error::InvalidArgument("a TTL mode needs create_ttl".into()));
        }
        let path = self.path(path, mode.is_sequential());
        let op = if mode.is_container() {
            OpCode::CreateContainer
        } else {
            OpCode::Create
        };
        self.ops.push(MultiOp::Create {
            op,
            request: create_request(path, data, acl, mode),
        });
        self
    }

    /// Adds a create with a time to live.
    pub fn create_ttl(
        mut self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
        ttl: Duration,
    ) -> Self {
        let path = self.path(path, mode.is_sequential());
        self.ops.push(MultiOp::CreateTtl(CreateTtlRequest {
            path,
            data: Some(Bytes::copy_from_slice(data)),
            acl: acl.to_vec(),
            flags: mode.code(),
            ttl: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
        }));
        self
    }

    pub fn delete(mut self, path: &str, version: Option<i32>) -> Self {
        let path = self.path(path, false);
        self.ops.push(MultiOp::Delete(DeleteRequest {
            path,
            version: version.unwrap_or(-1),
        }));
        self
    }

    pub fn set_data(mut self, path: &str, data: &[u8], version: Option<i32>) -> Self {
        let path = self.path(path, false);
        self.ops.push(MultiOp::SetData(SetDataRequest {
            path,
            data: Some(Bytes::copy_from_slice(data)),
            version: version.unwrap_or(-1),
        }));
        self
    }

    /// Fails the multi unless the node's version is `version`.
    pub fn check(mut self, path: &str, version: i32) -> Self {
        let path = self.path(path, false);
        self.ops
            .push(MultiOp::Check(CheckVersionRequest { path, version }));
        self
    }

    /// Sends the multi. On failure nothing was applied and the error names the first failing op.
    pub async fn commit(self) -> Result<Vec<OpResult>> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let response = self.client.multi_call(OpCode::Multi, self.ops).await?;
        let results: Vec<OpResult> = response
            .results
            .into_iter()
            .map(|r| self.client.op_result(r))
            .collect();
        // A failed multi answers every op with an error entry; the first non-zero one failed.
        if results.iter().any(|r| matches!(r, OpResult::Error(_))) {
            for (index, r) in results.iter().enumerate() {
                match r {
                    OpResult::Error(Error::Protocol(_)) => {}
                    OpResult::Error(e) => {
                        return Err(Error::Multi {
                            index,
                            source: Box::new(e.clone()),
                        });
                    }
                    _ => {}
                }
            }
        }
        Ok(results)
    }
}

/// A multiRead under construction.
#[derive(Debug)]
#[must_use = "a multiRead does nothing until committed"]
pub struct MultiRead<'a> {
    client: &'a Client,
    ops: Vec<MultiOp>,
    error: Option<Error>,
}

impl MultiRead<'_> {
    pub fn get_data(mut self, path: &str) -> Self {
        match self.client.server_path(path, false) {
            Ok(path) => self
                .ops
                .push(MultiOp::GetData(GetDataRequest { path, watch: false })),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        self
    }

    pub fn get_children(mut self, path: &str) -> Self {
        match self.client.server_path(path, false) {
            Ok(path) => self.ops.push(MultiOp::GetChildren(GetChildrenRequest {
                path,
                watch: false,
            })),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        self
    }

    /// Sends the reads; each result is the op's value or its own error.
    pub async fn commit(self) -> Result<Vec<OpResult>> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let response = self.client.multi_call(OpCode::MultiRead, self.ops).await?;
        Ok(response
            .results
            .into_iter()
            .map(|r| self.client.op_result(r))
            .collect())
    }
}
