//! Watch events, the watcher handles callers hold, and the registry of watches a session has set
//! (the Java client's `ZKWatchManager`).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::{mpsc, oneshot};
use zk_jute::{AddWatchMode, EventType, KeeperState, WatcherType};

use crate::path::parent;

/// A watch or session event, as the Java client's `WatchedEvent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedEvent {
    pub event_type: EventType,
    pub state: KeeperState,
    /// The client path (chroot removed) for node events; `None` for session state events.
    pub path: Option<String>,
}

impl WatchedEvent {
    pub(crate) fn state(state: KeeperState) -> WatchedEvent {
        WatchedEvent {
            event_type: EventType::None,
            state,
            path: None,
        }
    }

    pub(crate) fn node(event_type: EventType, path: &str) -> WatchedEvent {
        WatchedEvent {
            event_type,
            state: KeeperState::SyncConnected,
            path: Some(path.to_owned()),
        }
    }
}

/// A one-shot watch (set by `exists_watch`, `get_data_watch`, `get_children_watch`): a future that
/// resolves with the first event on its node.
///
/// The watch survives disconnections (it is set again on reconnect). If the session ends first it
/// resolves with a `None` event whose state is Expired, AuthFailed or Closed; a removed watch
/// resolves with DataWatchRemoved or ChildWatchRemoved.
#[derive(Debug)]
#[must_use = "a watcher does nothing unless awaited"]
pub struct OneshotWatcher {
    rx: oneshot::Receiver<WatchedEvent>,
}

impl OneshotWatcher {
    pub(crate) fn new() -> (oneshot::Sender<WatchedEvent>, OneshotWatcher) {
        let (tx, rx) = oneshot::channel();
        (tx, OneshotWatcher { rx })
    }

    /// The event if it has already fired, without waiting.
    pub fn try_event(&mut self) -> Option<WatchedEvent> {
        match self.rx.try_recv() {
            Ok(e) => Some(e),
            Err(oneshot::error::TryRecvError::Empty) => None,
            Err(oneshot::error::TryRecvError::Closed) => {
                Some(WatchedEvent::state(KeeperState::Closed))
            }
        }
    }
}

impl Future for OneshotWatcher {
    type Output = WatchedEvent;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WatchedEvent> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or_else(|_| WatchedEvent::state(KeeperState::Closed)))
    }
}

/// A stream of events: a persistent or persistent-recursive watch (`add_watch`), or the session's
/// state events (`Client::session_events`).
///
/// Persistent watch streams also carry the session state events (Disconnected, SyncConnected,
/// Expired, Closed) in order with the node events, as the Java client delivers them to every
/// watcher. The stream ends after Expired, AuthFailed, Closed or PersistentWatchRemoved.
#[derive(Debug)]
pub struct EventStream {
    rx: mpsc::UnboundedReceiver<WatchedEvent>,
}

impl EventStream {
    pub(crate) fn new() -> (mpsc::UnboundedSender<WatchedEvent>, EventStream) {
        let (tx, rx) = mpsc::unbounded_channel();
        (tx, EventStream { rx })
    }

    /// The next event, or `None` when the stream has ended.
    pub async fn next(&mut self) -> Option<WatchedEvent> {
        self.rx.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_next(&mut self) -> Option<WatchedEvent> {
        self.rx.try_recv().ok()
    }
}

impl futures_core::Stream for EventStream {
    type Item = WatchedEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WatchedEvent>> {
        self.rx.poll_recv(cx)
    }
}

/// Which registration a reply completes.
#[derive(Debug)]
pub(crate) enum WatchAction {
    None,
    /// getData: a data watch when the node exists.
    Data(String, oneshot::Sender<WatchedEvent>),
    /// exists: a data watch when the node exists, an exist watch when it does not.
    Exists(String, oneshot::Sender<WatchedEvent>),
    /// getChildren: a child watch when the node exists.
    Child(String, oneshot::Sender<WatchedEvent>),
    /// addWatch.
    Add(String, AddWatchMode, mpsc::UnboundedSender<WatchedEvent>),
    /// removeWatches: drop the local watches too once the server agreed.
    Remove(String, WatcherType),
}

type Oneshots = BTreeMap<String, Vec<oneshot::Sender<WatchedEvent>>>;
type Streams = BTreeMap<String, Vec<mpsc::UnboundedSender<WatchedEvent>>>;

/// The watches a session has set, keyed by client path.
#[derive(Debug, Default)]
pub(crate) struct WatchRegistry {
    data: Oneshots,
    exist: Oneshots,
    child: Oneshots,
    persistent: Streams,
    recursive: Streams,
}

/// The paths to set again after a reconnect (client paths).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct WatchPaths {
    pub(crate) data: Vec<String>,
    pub(crate) exist: Vec<String>,
    pub(crate) child: Vec<String>,
    pub(crate) persistent: Vec<String>,
    pub(crate) recursive: Vec<String>,
}

impl WatchPaths {
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
            && self.exist.is_empty()
            && self.child.is_empty()
            && self.persistent.is_empty()
            && self.recursive.is_empty()
    }
}

fn fire(map: &mut Oneshots, path: &str, event: &WatchedEvent) {
    if let Some(list) = map.remove(path) {
        for tx in list {
            let _ = tx.send(event.clone());
        }
    }
}

fn send_all(map: &mut Streams, path: &str, event: &WatchedEvent) {
    if let Some(list) = map.get_mut(path) {
        list.retain(|tx| tx.send(event.clone()).is_ok());
        if list.is_empty() {
            map.remove(path);
        }
    }
}

impl WatchRegistry {
    /// Records the watch a successful (or, for exists, NoNode) reply sets.
    pub(crate) fn register(&mut self, action: WatchAction, err: i32) {
        const NO_NODE: i32 = zk_jute::ErrorCode::NoNode.code();
        match action {
            WatchAction::Data(p, tx) if err == 0 => self.data.entry(p).or_default().push(tx),
            WatchAction::Exists(p, tx) if err == 0 => self.data.entry(p).or_default().push(tx),
            WatchAction::Exists(p, tx) if err == NO_NODE => {
                self.exist.entry(p).or_default().push(tx)
            }
            WatchAction::Child(p, tx) if err == 0 => self.child.entry(p).or_default().push(tx),
            WatchAction::Add(p, AddWatchMode::Persistent, tx) if err == 0 => {
                self.persistent.entry(p).or_default().push(tx)
            }
            WatchAction::Add(p, AddWatchMode::PersistentRecursive, tx) if err == 0 => {
                self.recursive.entry(p).or_default().push(tx)
            }
            WatchAction::Remove(p, ty) if err == 0 => self.remove(&p, ty),
            _ => {}
        }
    }

    /// Delivers a node event to the watches it triggers (`ZKWatchManager.materialize`).
    pub(crate) fn trigger(&mut self, event: &WatchedEvent) {
        let Some(path) = event.path.as_deref() else {
            return;
        };
        match event.event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                fire(&mut self.data, path, event);
                fire(&mut self.exist, path, event);
            }
            EventType::NodeChildrenChanged => fire(&mut self.child, path, event),
            EventType::NodeDeleted => {
                fire(&mut self.data, path, event);
                fire(&mut self.exist, path, event);
                fire(&mut self.child, path, event);
            }
            _ => return,
        }
        send_all(&mut self.persistent, path, event);
        // Recursive watches never see NodeChildrenChanged (the server does not send it to them, but
        // a persistent watch on the same node would make it arrive).
        if event.event_type != EventType::NodeChildrenChanged {
            let mut at = Some(path);
            while let Some(p) = at {
                send_all(&mut self.recursive, p, event);
                at = parent(p);
            }
        }
    }

    /// Delivers a session state event. Streams see every state; one-shot watches only a terminal one
    /// (Expired, AuthFailed, Closed), after which everything is dropped.
    pub(crate) fn state_event(&mut self, state: KeeperState) {
        let event = WatchedEvent::state(state);
        for map in [&mut self.persistent, &mut self.recursive] {
            for list in map.values_mut() {
                list.retain(|tx| tx.send(event.clone()).is_ok());
            }
            map.retain(|_, l| !l.is_empty());
        }
        if matches!(
            state,
            KeeperState::Expired | KeeperState::AuthFailed | KeeperState::Closed
        ) {
            for map in [&mut self.data, &mut self.exist, &mut self.child] {
                for (_, list) in std::mem::take(map) {
                    for tx in list {
                        let _ = tx.send(event.clone());
                    }
                }
            }
            self.persistent.clear();
            self.recursive.clear();
        }
    }

    /// Drops the local watches that removeWatches removed on the server, telling each watcher.
    fn remove(&mut self, path: &str, ty: WatcherType) {
        let data_removed = WatchedEvent::node(EventType::DataWatchRemoved, path);
        let child_removed = WatchedEvent::node(EventType::ChildWatchRemoved, path);
        if matches!(ty, WatcherType::Data | WatcherType::Any) {
            fire(&mut self.data, path, &data_removed);
            fire(&mut self.exist, path, &data_removed);
        }
        if matches!(ty, WatcherType::Children | WatcherType::Any) {
            fire(&mut self.child, path, &child_removed);
        }
        if ty == WatcherType::Any {
            let removed = WatchedEvent::node(EventType::PersistentWatchRemoved, path);
            for map in [&mut self.persistent, &mut self.recursive] {
                if let Some(list) = map.remove(path) {
                    for tx in list {
                        let _ = tx.send(removed.clone());
                    }
                }
            }
        }
    }

    /// Whether any local watch of this type is set on the path.
    #[cfg(test)]
    pub(crate) fn has(&self, path: &str, ty: WatcherType) -> bool {
        let data = self.data.contains_key(path) || self.exist.contains_key(path);
        let child = self.child.contains_key(path);
        let persistent = self.persistent.contains_key(path) || self.recursive.contains_key(path);
        match ty {
            WatcherType::Data => data,
            WatcherType::Children => child,
            WatcherType::Any => data || child || persistent,
        }
    }

    /// The paths to set again on a new connection, forgetting watchers nobody listens to.
    pub(crate) fn paths(&mut self) -> WatchPaths {
        fn live_oneshots(map: &mut Oneshots) -> Vec<String> {
            map.retain(|_, l| {
                l.retain(|tx| !tx.is_closed());
                !l.is_empty()
            });
            map.keys().cloned().collect()
        }
        fn live_streams(map: &mut Streams) -> Vec<String> {
            map.retain(|_, l| {
                l.retain(|tx| !tx.is_closed());
                !l.is_empty()
            });
            map.keys().cloned().collect()
        }
        WatchPaths {
            data: live_oneshots(&mut self.data),
            exist: live_oneshots(&mut self.exist),
            child: live_oneshots(&mut self.child),
            persistent: live_streams(&mut self.persistent),
            recursive: live_streams(&mut self.recursive),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_watches_fire_once_and_by_kind() {
        let mut reg = WatchRegistry::default();
        let (d, mut dw) = OneshotWatcher::new();
        let (e, mut ew) = OneshotWatcher::new();
        let (c, mut cw) = OneshotWatcher::new();
        reg.register(WatchAction::Data("/a".into(), d), 0);
        reg.register(WatchAction::Exists("/b".into(), e), -101);
        reg.register(WatchAction::Child("/a".into(), c), 0);
        // A failed getData sets nothing.
        let (f, mut fw) = OneshotWatcher::new();
        reg.register(WatchAction::Data("/c".into(), f), -101);
        assert_eq!(
            fw.try_event(),
            Some(WatchedEvent::state(KeeperState::Closed))
        );

        reg.trigger(&WatchedEvent::node(EventType::NodeChildrenChanged, "/a"));
        assert_eq!(dw.try_event(), None);
        assert_eq!(
            cw.try_event().unwrap().event_type,
            EventType::NodeChildrenChanged
        );
        reg.trigger(&WatchedEvent::node(EventType::NodeCreated, "/b"));
        assert_eq!(ew.try_event().unwrap().event_type, EventType::NodeCreated);
        reg.trigger(&WatchedEvent::node(EventType::NodeDeleted, "/a"));
        assert_eq!(dw.try_event().unwrap().event_type, EventType::NodeDeleted);
        assert!(reg.paths().is_empty());
    }

    #[test]
    fn persistent_and_recursive_watches_stay_and_skip_children_events() {
        let mut reg = WatchRegistry::default();
        let (p, mut pw) = EventStream::new();
        let (r, mut rw) = EventStream::new();
        reg.register(
            WatchAction::Add("/a".into(), AddWatchMode::Persistent, p),
            0,
        );
        reg.register(
            WatchAction::Add("/".into(), AddWatchMode::PersistentRecursive, r),
            0,
        );
        for _ in 0..2 {
            reg.trigger(&WatchedEvent::node(EventType::NodeDataChanged, "/a"));
        }
        reg.trigger(&WatchedEvent::node(EventType::NodeChildrenChanged, "/a"));
        reg.trigger(&WatchedEvent::node(EventType::NodeCreated, "/a/b/c"));
        let types = |s: &mut EventStream| {
            std::iter::from_fn(|| s.try_next())
                .map(|e| e.event_type)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            types(&mut pw),
            [
                EventType::NodeDataChanged,
                EventType::NodeDataChanged,
                EventType::NodeChildrenChanged
            ]
        );
        assert_eq!(
            types(&mut rw),
            [
                EventType::NodeDataChanged,
                EventType::NodeDataChanged,
                EventType::NodeCreated
            ]
        );
        let paths = reg.paths();
        assert_eq!(paths.persistent, ["/a"]);
        assert_eq!(paths.recursive, ["/"]);
        reg.state_event(KeeperState::Disconnected);
        assert_eq!(pw.try_next().unwrap().state, KeeperState::Disconnected);
        reg.state_event(KeeperState::Expired);
        assert_eq!(pw.try_next().unwrap().state, KeeperState::Expired);
        assert!(reg.paths().is_empty());
    }

    #[test]
    fn removal_tells_the_watchers() {
        let mut reg = WatchRegistry::default();
        let (d, mut dw) = OneshotWatcher::new();
        let (c, mut cw) = OneshotWatcher::new();
        reg.register(WatchAction::Data("/a".into(), d), 0);
        reg.register(WatchAction::Child("/a".into(), c), 0);
        assert!(reg.has("/a", WatcherType::Children));
        reg.register(WatchAction::Remove("/a".into(), WatcherType::Data), 0);
        assert_eq!(
            dw.try_event().unwrap().event_type,
            EventType::DataWatchRemoved
        );
        assert_eq!(cw.try_event(), None);
        assert!(!reg.has("/a", WatcherType::Data));
    }
}
