//! Watch registries (`WatchManager` with its `WatcherModeManager`): one for data and exists
//! watches, one for child watches. Each path has one entry holding its watchers and their modes,
//! stored inline when a single watcher watches the path, which is the common case; the reverse
//! index from watcher to paths shares the path strings with the forward one.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use zk_jute::{EventType, KeeperState, Zxid, proto::WatcherEvent};

use crate::node::SeededHasher;

/// The opaque id of whoever receives events (the server uses one per connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WatcherId(pub u64);

/// How a watch behaves when it fires (`WatcherMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchMode {
    /// One-shot: removed when it fires; only events of the node itself.
    Standard,
    /// Stays; events of the node itself.
    Persistent,
    /// Stays; events of the node and its descendants, except NodeChildrenChanged.
    PersistentRecursive,
}

impl WatchMode {
    fn is_persistent(self) -> bool {
        !matches!(self, WatchMode::Standard)
    }
    fn is_recursive(self) -> bool {
        matches!(self, WatchMode::PersistentRecursive)
    }
}

/// A watch event fired by a txn or by setWatches, for the server to route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchNotification {
    pub watcher: WatcherId,
    /// Type, state (always SyncConnected) and server path of the event.
    pub event: WatcherEvent,
    /// The zxid of the txn that fired it (the last processed zxid for setWatches).
    pub zxid: Zxid,
}

impl WatchNotification {
    pub(crate) fn new(watcher: WatcherId, kind: EventType, path: &str, zxid: Zxid) -> Self {
        WatchNotification {
            watcher,
            event: WatcherEvent {
                r#type: kind.code(),
                state: KeeperState::SyncConnected.code(),
                path: path.to_owned(),
            },
            zxid,
        }
    }

    /// The event type, when it is one this protocol version knows.
    pub fn event_type(&self) -> Option<EventType> {
        EventType::try_from(self.event.r#type).ok()
    }
}

type Entry = (WatcherId, WatchMode);

/// The watchers of one path.
#[derive(Debug, Clone)]
enum Watchers {
    One(Entry),
    Many(Vec<Entry>),
}

impl Watchers {
    fn as_slice(&self) -> &[Entry] {
        match self {
            Watchers::One(entry) => std::slice::from_ref(entry),
            Watchers::Many(v) => v,
        }
    }

    /// Adds or re-modes `watcher`; the last registration's mode wins, as in 3.8.
    fn set(&mut self, watcher: WatcherId, mode: WatchMode) {
        match self {
            Watchers::One(entry) if entry.0 == watcher => entry.1 = mode,
            Watchers::One(entry) => *self = Watchers::Many(vec![*entry, (watcher, mode)]),
            Watchers::Many(v) => match v.iter_mut().find(|e| e.0 == watcher) {
                Some(e) => e.1 = mode,
                None => v.push((watcher, mode)),
            },
        }
    }

    /// Removes `watcher`; returns its mode if it was there.
    fn remove(&mut self, watcher: WatcherId) -> Option<WatchMode> {
        match self {
            Watchers::One(entry) if entry.0 == watcher => {
                let mode = entry.1;
                *self = Watchers::Many(Vec::new());
                Some(mode)
            }
            Watchers::One(_) => None,
            Watchers::Many(v) => {
                let i = v.iter().position(|e| e.0 == watcher)?;
                let (_, mode) = v.remove(i);
                if v.len() == 1 {
                    *self = Watchers::One(v[0]);
                }
                Some(mode)
            }
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Watchers::Many(v) if v.is_empty())
    }
}

/// One `WatchManager`.
#[derive(Debug, Clone)]
pub(crate) struct WatchTable {
    by_path: HashMap<Arc<str>, Watchers, SeededHasher>,
    by_watcher: HashMap<WatcherId, HashSet<Arc<str>, SeededHasher>, SeededHasher>,
    hasher: SeededHasher,
    recursive: usize,
}

impl WatchTable {
    pub(crate) fn new(hasher: SeededHasher) -> Self {
        WatchTable {
            by_path: HashMap::with_hasher(hasher),
            by_watcher: HashMap::with_hasher(hasher),
            hasher,
            recursive: 0,
        }
    }

    pub(crate) fn add(&mut self, path: &str, watcher: WatcherId, mode: WatchMode) {
        let key: Arc<str> = match self.by_path.get_key_value(path) {
            Some((k, _)) => k.clone(),
            None => Arc::from(path),
        };
        let old = match self.by_path.get_mut(path) {
            Some(watchers) => {
                let old = watchers
                    .as_slice()
                    .iter()
                    .find(|e| e.0 == watcher)
                    .map(|e| e.1);
                watchers.set(watcher, mode);
                old
            }
            None => {
                self.by_path
                    .insert(key.clone(), Watchers::One((watcher, mode)));
                None
            }
        };
        self.adjust_recursive(old, Some(mode));
        let hasher = self.hasher;
        self.by_watcher
            .entry(watcher)
            .or_insert_with(|| HashSet::with_hasher(hasher))
            .insert(key);
    }

    fn adjust_recursive(&mut self, old: Option<WatchMode>, new: Option<WatchMode>) {
        let was = old.is_some_and(WatchMode::is_recursive);
        let is = new.is_some_and(WatchMode::is_recursive);
        match (was, is) {
            (false, true) => self.recursive += 1,
            (true, false) => self.recursive -= 1,
            _ => {}
        }
    }

    /// Fires `kind` for `path`: watchers on the path itself, and recursive watchers on it or any
    /// ancestor (never for NodeChildrenChanged). One-shot watches are removed whether or not they
    /// are in `suppress`; returns every watcher that matched, in id order.
    pub(crate) fn trigger(
        &mut self,
        path: &str,
        kind: EventType,
        zxid: Zxid,
        suppress: &[WatcherId],
        out: &mut Vec<WatchNotification>,
    ) -> Vec<WatcherId> {
        let mut matched: Vec<WatcherId> = Vec::new();
        let mut current = Some(path);
        let mut at_parent = false;
        while let Some(local) = current {
            if local.is_empty() {
                break;
            }
            let mut removed_one_shot: Vec<WatcherId> = Vec::new();
            if let Some(watchers) = self.by_path.get_mut(local) {
                for &(watcher, mode) in watchers.as_slice() {
                    if mode.is_recursive() {
                        if kind != EventType::NodeChildrenChanged {
                            matched.push(watcher);
                        }
                    } else if !at_parent {
                        matched.push(watcher);
                        if !mode.is_persistent() {
                            removed_one_shot.push(watcher);
                        }
                    }
                }
                for watcher in &removed_one_shot {
                    watchers.remove(*watcher);
                }
                let now_empty = watchers.is_empty();
                for watcher in removed_one_shot {
                    if let Some(paths) = self.by_watcher.get_mut(&watcher) {
                        paths.remove(local);
                        if paths.is_empty() {
                            self.by_watcher.remove(&watcher);
                        }
                    }
                }
                if now_empty {
                    self.by_path.remove(local);
                }
            }
            if self.recursive == 0 {
                break;
            }
            at_parent = true;
            current = if local == "/" {
                None
            } else {
                match local.rfind('/') {
                    Some(0) => Some("/"),
                    Some(i) => Some(&local[..i]),
                    None => None,
                }
            };
        }
        matched.sort_unstable();
        matched.dedup();
        for &watcher in &matched {
            if !suppress.contains(&watcher) {
                out.push(WatchNotification::new(watcher, kind, path, zxid));
            }
        }
        matched
    }

    /// `WatchManager.containsWatcher` as 3.8 has it: true when *any* watcher watches `path`
    /// itself (the check does not look at which one), or when `watcher` watches it recursively.
    pub(crate) fn contains(&self, path: &str, watcher: WatcherId) -> bool {
        match self.by_path.get(path) {
            Some(_) => true,
            None => self
                .mode_of(path, watcher)
                .is_some_and(WatchMode::is_recursive),
        }
    }

    pub(crate) fn mode_of(&self, path: &str, watcher: WatcherId) -> Option<WatchMode> {
        self.by_path
            .get(path)?
            .as_slice()
            .iter()
            .find(|e| e.0 == watcher)
            .map(|e| e.1)
    }

    /// Removes `watcher`'s watch on `path`; false when it had none.
    pub(crate) fn remove(&mut self, path: &str, watcher: WatcherId) -> bool {
        let Some(paths) = self.by_watcher.get_mut(&watcher) else {
            return false;
        };
        if !paths.remove(path) {
            return false;
        }
        if paths.is_empty() {
            self.by_watcher.remove(&watcher);
        }
        let Some(watchers) = self.by_path.get_mut(path) else {
            return false;
        };
        let Some(mode) = watchers.remove(watcher) else {
            return false;
        };
        if watchers.is_empty() {
            self.by_path.remove(path);
        }
        self.adjust_recursive(Some(mode), None);
        true
    }

    /// Removes every watch of `watcher` (its connection closed).
    pub(crate) fn remove_watcher(&mut self, watcher: WatcherId) {
        let Some(paths) = self.by_watcher.remove(&watcher) else {
            return;
        };
        for path in paths {
            if let Some(watchers) = self.by_path.get_mut(&*path) {
                let mode = watchers.remove(watcher);
                if watchers.is_empty() {
                    self.by_path.remove(&*path);
                }
                self.adjust_recursive(mode, None);
            }
        }
    }

    /// (paths watched, total watches, watchers).
    pub(crate) fn summary(&self) -> WatchSummary {
        WatchSummary {
            paths: self.by_path.len(),
            watches: self.by_watcher.values().map(HashSet::len).sum(),
            watchers: self.by_watcher.len(),
        }
    }

    /// The paths `watcher` watches here, sorted.
    pub(crate) fn paths_of(&self, watcher: WatcherId) -> Vec<String> {
        let mut paths: Vec<String> = self
            .by_watcher
            .get(&watcher)
            .map(|p| p.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default();
        paths.sort();
        paths
    }
}

/// Counts of one watch registry, as the `wchs` four-letter word reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WatchSummary {
    pub paths: usize,
    pub watches: usize,
    pub watchers: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    const W1: WatcherId = WatcherId(1);
    const W2: WatcherId = WatcherId(2);

    fn table() -> WatchTable {
        WatchTable::new(SeededHasher::new(0))
    }

    fn fire(t: &mut WatchTable, path: &str, kind: EventType) -> Vec<WatcherId> {
        let mut out = Vec::new();
        t.trigger(path, kind, Zxid(1), &[], &mut out);
        out.iter().map(|n| n.watcher).collect()
    }

    #[test]
    fn standard_is_one_shot() {
        let mut t = table();
        t.add("/a", W1, WatchMode::Standard);
        t.add("/a", W2, WatchMode::Standard);
        assert_eq!(fire(&mut t, "/a", EventType::NodeDataChanged), vec![W1, W2]);
        assert!(fire(&mut t, "/a", EventType::NodeDataChanged).is_empty());
        assert_eq!(t.summary(), WatchSummary::default());
    }

    #[test]
    fn persistent_stays_and_recursive_covers_descendants() {
        let mut t = table();
        t.add("/a", W1, WatchMode::Persistent);
        t.add("/", W2, WatchMode::PersistentRecursive);
        assert_eq!(fire(&mut t, "/a", EventType::NodeDataChanged), vec![W1, W2]);
        assert_eq!(fire(&mut t, "/a/b", EventType::NodeCreated), vec![W2]);
        assert_eq!(fire(&mut t, "/a", EventType::NodeChildrenChanged), vec![W1]);
        assert_eq!(fire(&mut t, "/a", EventType::NodeDataChanged), vec![W1, W2]);
    }

    #[test]
    fn standard_watch_replaces_persistent_mode() {
        let mut t = table();
        t.add("/a", W1, WatchMode::Persistent);
        t.add("/a", W1, WatchMode::Standard);
        assert_eq!(fire(&mut t, "/a", EventType::NodeDataChanged), vec![W1]);
        assert!(fire(&mut t, "/a", EventType::NodeDataChanged).is_empty());
    }

    #[test]
    fn remove_and_contains() {
        let mut t = table();
        t.add("/a", W1, WatchMode::Standard);
        assert!(t.contains("/a", W1));
        assert!(t.contains("/a", W2), "3.8 checks the path only");
        assert!(!t.remove("/a", W2));
        assert!(t.remove("/a", W1));
        assert!(!t.contains("/a", W1));
        t.add("/x", W1, WatchMode::PersistentRecursive);
        t.add("/y", W1, WatchMode::Standard);
        t.remove_watcher(W1);
        assert_eq!(t.summary(), WatchSummary::default());
        assert_eq!(t.recursive, 0);
    }

    #[test]
    fn suppressed_watchers_are_consumed_without_event() {
        let mut t = table();
        t.add("/a", W1, WatchMode::Standard);
        let mut out = Vec::new();
        let matched = t.trigger("/a", EventType::NodeDeleted, Zxid(1), &[W1], &mut out);
        assert_eq!(matched, vec![W1]);
        assert!(out.is_empty());
        assert_eq!(t.summary().watches, 0);
    }
}
