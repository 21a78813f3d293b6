//! Compact node storage: a slab of nodes addressed by `NodeId`, an index from path to id that
//! stores only the id (the path lives once, in the node), and children as an intrusive doubly
//! linked list so adding and removing a child is O(1) at 16 bytes per node.

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;
use zk_jute::StatPersisted;

pub(crate) type NodeId = u32;
pub(crate) const NONE: NodeId = u32::MAX;

/// A node's data. An `Arc<[u8]>` rather than a `Bytes`: half the size in the node, and a clone
/// (for a read, a snapshot copy) never allocates, where the first clone of a `Bytes` made from a
/// `Vec` adds a shared header to every node (32 MB at a million nodes).
pub type NodeData = Arc<[u8]>;

/// One znode.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// The full path; the root is `""`.
    pub(crate) path: Box<str>,
    /// `None` is a null buffer, kept apart from an empty one as ZooKeeper does.
    pub(crate) data: Option<NodeData>,
    pub(crate) acl: i64,
    pub(crate) stat: StatPersisted,
    /// The node this one is linked under; `NONE` for the root and for orphans.
    pub(crate) parent: NodeId,
    pub(crate) first_child: NodeId,
    pub(crate) last_child: NodeId,
    pub(crate) prev_sibling: NodeId,
    pub(crate) next_sibling: NodeId,
    pub(crate) num_children: u32,
}

impl Node {
    pub(crate) fn new(
        path: Box<str>,
        data: Option<NodeData>,
        acl: i64,
        stat: StatPersisted,
    ) -> Self {
        Node {
            path,
            data,
            acl,
            stat,
            parent: NONE,
            first_child: NONE,
            last_child: NONE,
            prev_sibling: NONE,
            next_sibling: NONE,
            num_children: 0,
        }
    }

    /// The last component of the path.
    pub(crate) fn name(&self) -> &str {
        match self.path.rfind('/') {
            Some(i) => &self.path[i + 1..],
            None => "",
        }
    }

    pub(crate) fn data_len(&self) -> usize {
        self.data.as_ref().map_or(0, |d| d.len())
    }
}

/// foldhash keyed by a seed the owner chooses, so the crate draws no randomness itself. Paths
/// are hashed on every lookup and again whenever the index grows; SipHash made up a third of
/// loading a million-node snapshot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeededHasher {
    seed: u64,
}

impl BuildHasher for SeededHasher {
    type Hasher = foldhash::fast::FoldHasher<'static>;
    fn build_hasher(&self) -> Self::Hasher {
        foldhash::fast::FixedState::with_seed(self.seed).build_hasher()
    }
}

impl SeededHasher {
    pub(crate) fn new(seed: u64) -> Self {
        SeededHasher { seed }
    }
}

/// A slot for `node`, reusing a freed one first; the caller indexes it.
fn allocate(slots: &mut Vec<Option<Node>>, free: &mut Vec<NodeId>, node: Node) -> NodeId {
    match free.pop() {
        Some(id) => {
            slots[id as usize] = Some(node);
            id
        }
        None => {
            let id = NodeId::try_from(slots.len()).expect("fewer than 2^32 nodes");
            assert!(id != NONE, "fewer than 2^32 - 1 nodes");
            slots.push(Some(node));
            id
        }
    }
}

/// Hashes an indexed id by its node's path, for the index to grow by.
fn path_hasher(slots: &[Option<Node>], hasher: SeededHasher) -> impl Fn(&NodeId) -> u64 + '_ {
    move |&id| hasher.hash_one(&*slots[id as usize].as_ref().expect("indexed node").path)
}

/// All nodes, by id and by path.
#[derive(Debug, Clone)]
pub(crate) struct NodeStore {
    slots: Vec<Option<Node>>,
    free: Vec<NodeId>,
    index: HashTable<NodeId>,
    hasher: SeededHasher,
    len: usize,
}

impl NodeStore {
    pub(crate) fn new(seed: u64) -> Self {
        NodeStore {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            hasher: SeededHasher::new(seed),
            len: 0,
        }
    }

    fn hash(&self, path: &str) -> u64 {
        self.hasher.hash_one(path)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn lookup(&self, key: &str) -> Option<NodeId> {
        self.lookup_hashed(key, self.hash(key))
    }

    pub(crate) fn get(&self, id: NodeId) -> &Node {
        self.slots[id as usize].as_ref().expect("live node id")
    }

    pub(crate) fn get_mut(&mut self, id: NodeId) -> &mut Node {
        self.slots[id as usize].as_mut().expect("live node id")
    }

    /// Adds a node that is not in the store yet; the caller links it under its parent.
    pub(crate) fn insert(&mut self, node: Node) -> NodeId {
        let hash = self.hash(&node.path);
        self.insert_hashed(node, hash)
    }

    /// The hash of a path, for a lookup and an insert of the same path with one hashing.
    pub(crate) fn hash_path(&self, path: &str) -> u64 {
        self.hash(path)
    }

    /// `lookup` with the path's hash already computed.
    pub(crate) fn lookup_hashed(&self, key: &str, hash: u64) -> Option<NodeId> {
        let slots = &self.slots;
        self.index
            .find(hash, |&id| {
                slots[id as usize].as_ref().is_some_and(|n| &*n.path == key)
            })
            .copied()
    }

    /// `insert` with the path's hash already computed.
    pub(crate) fn insert_hashed(&mut self, node: Node, hash: u64) -> NodeId {
        let id = allocate(&mut self.slots, &mut self.free, node);
        self.index
            .insert_unique(hash, id, path_hasher(&self.slots, self.hasher));
        self.len += 1;
        id
    }

    /// Adds `node` unless a node has its path already: then `Err` gives `node` back with the id
    /// of the one present. One probe of the index for both the check and the insert.
    #[allow(clippy::result_large_err)] // the node comes back by value, as from a failed map insert
    pub(crate) fn try_insert_hashed(
        &mut self,
        node: Node,
        hash: u64,
    ) -> Result<NodeId, (NodeId, Node)> {
        let slots = &self.slots;
        let entry = self.index.entry(
            hash,
            |&id| {
                slots[id as usize]
                    .as_ref()
                    .is_some_and(|n| n.path == node.path)
            },
            path_hasher(slots, self.hasher),
        );
        let vacant = match entry {
            hashbrown::hash_table::Entry::Occupied(present) => return Err((*present.get(), node)),
            hashbrown::hash_table::Entry::Vacant(vacant) => vacant,
        };
        let id = allocate(&mut self.slots, &mut self.free, node);
        vacant.insert(id);
        self.len += 1;
        Ok(id)
    }

    /// Room for `additional` more nodes without growing the index (each growth hashes every
    /// path again).
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.index
            .reserve(additional, path_hasher(&self.slots, self.hasher));
        self.slots.reserve(additional);
    }

    /// Removes an unlinked node and returns it.
    pub(crate) fn remove(&mut self, id: NodeId) -> Node {
        let hash = self.hash(&self.get(id).path);
        if let Ok(entry) = self.index.find_entry(hash, |&other| other == id) {
            entry.remove();
        }
        let node = self.slots[id as usize].take().expect("live node id");
        self.free.push(id);
        self.len -= 1;
        node
    }

    pub(crate) fn link_child(&mut self, parent: NodeId, child: NodeId) {
        let last = self.get(parent).last_child;
        {
            let c = self.get_mut(child);
            c.parent = parent;
            c.prev_sibling = last;
            c.next_sibling = NONE;
        }
        if last == NONE {
            self.get_mut(parent).first_child = child;
        } else {
            self.get_mut(last).next_sibling = child;
        }
        let p = self.get_mut(parent);
        p.last_child = child;
        p.num_children += 1;
    }

    pub(crate) fn unlink_child(&mut self, parent: NodeId, child: NodeId) {
        let (prev, next) = {
            let c = self.get(child);
            (c.prev_sibling, c.next_sibling)
        };
        if prev == NONE {
            self.get_mut(parent).first_child = next;
        } else {
            self.get_mut(prev).next_sibling = next;
        }
        if next == NONE {
            self.get_mut(parent).last_child = prev;
        } else {
            self.get_mut(next).prev_sibling = prev;
        }
        let c = self.get_mut(child);
        c.parent = NONE;
        c.prev_sibling = NONE;
        c.next_sibling = NONE;
        let p = self.get_mut(parent);
        p.num_children -= 1;
    }

    /// The children of `id`, oldest first.
    pub(crate) fn children(&self, id: NodeId) -> Children<'_> {
        Children {
            store: self,
            next: self.get(id).first_child,
        }
    }

    /// Approximate heap bytes of the store's own tables (not of paths and data).
    pub(crate) fn table_capacity_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Option<Node>>()
            + self.free.capacity() * std::mem::size_of::<NodeId>()
            + self.index.capacity() * (std::mem::size_of::<NodeId>() + 1)
    }
}

pub(crate) struct Children<'a> {
    store: &'a NodeStore,
    next: NodeId,
}

impl Iterator for Children<'_> {
    type Item = NodeId;
    fn next(&mut self) -> Option<NodeId> {
        if self.next == NONE {
            return None;
        }
        let id = self.next;
        self.next = self.store.get(id).next_sibling;
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(path: &str) -> Node {
        Node::new(path.into(), None, -1, StatPersisted::default())
    }

    #[test]
    fn insert_link_unlink_remove() {
        let mut s = NodeStore::new(7);
        let root = s.insert(node(""));
        let a = s.insert(node("/a"));
        let b = s.insert(node("/b"));
        let c = s.insert(node("/c"));
        for id in [a, b, c] {
            s.link_child(root, id);
        }
        assert_eq!(s.children(root).collect::<Vec<_>>(), vec![a, b, c]);
        s.unlink_child(root, b);
        assert_eq!(s.children(root).collect::<Vec<_>>(), vec![a, c]);
        s.unlink_child(root, a);
        s.unlink_child(root, c);
        assert_eq!(s.children(root).count(), 0);
        assert_eq!(s.get(root).num_children, 0);
        let removed = s.remove(b);
        assert_eq!(&*removed.path, "/b");
        assert_eq!(s.lookup("/b"), None);
        assert_eq!(s.lookup("/a"), Some(a));
        let d = s.insert(node("/d"));
        assert_eq!(d, b, "slots are reused");
        assert_eq!(s.lookup("/d"), Some(d));
        assert_eq!(s.get(a).name(), "a");
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn node_is_compact() {
        assert!(
            std::mem::size_of::<Option<Node>>() <= 128,
            "{}",
            std::mem::size_of::<Node>()
        );
    }
}
