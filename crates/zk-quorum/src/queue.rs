//! A bounded queue that makes room by dropping its oldest element, as QuorumCnxManager's
//! `CircularBlockingQueue` does: a slow peer never blocks the sender, and only the newest
//! messages (the only ones that matter to an election) survive.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;

#[derive(Debug)]
pub(crate) struct DropOldestQueue<T> {
    items: Mutex<VecDeque<T>>,
    capacity: usize,
    ready: Notify,
}

impl<T> DropOldestQueue<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "a queue needs room for one element");
        DropOldestQueue {
            items: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
            ready: Notify::new(),
        }
    }

    /// Adds `item`, dropping the oldest element when full; returns whether one was dropped.
    pub(crate) fn push(&self, item: T) -> bool {
        let dropped = {
            let mut items = self.items.lock().expect("queue lock");
            let dropped = items.len() == self.capacity && items.pop_front().is_some();
            items.push_back(item);
            dropped
        };
        self.ready.notify_one();
        dropped
    }

    pub(crate) fn try_pop(&self) -> Option<T> {
        self.items.lock().expect("queue lock").pop_front()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.lock().expect("queue lock").is_empty()
    }

    /// Waits for the next element.
    pub(crate) async fn pop(&self) -> T {
        loop {
            if let Some(item) = self.try_pop() {
                return item;
            }
            self.ready.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_its_oldest_element() {
        let q = DropOldestQueue::new(2);
        assert!(!q.push(1));
        assert!(!q.push(2));
        assert!(q.push(3));
        assert_eq!(q.try_pop(), Some(2));
        assert_eq!(q.try_pop(), Some(3));
        assert_eq!(q.try_pop(), None);
    }

    #[tokio::test]
    async fn pop_waits_for_a_push() {
        let q = std::sync::Arc::new(DropOldestQueue::new(1));
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { q.pop().await }
        });
        tokio::task::yield_now().await;
        q.push("hello");
        assert_eq!(waiter.await.unwrap(), "hello");
    }
}
