//! A distributed FIFO queue with kazoo `Queue`'s layout: items are persistent sequential nodes
//! `<dir>/entry-<priority:03>-<seq>` holding the raw bytes; the lowest name is taken first (by
//! reading it and deleting it; only the consumer whose delete succeeds gets the item).

use super::ensure_path;
use crate::path::join;
use crate::{Acl, Bytes, Client, CreateMode, Error, EventType, Result};

const PREFIX: &str = "entry-";

#[derive(Debug, Clone)]
pub struct Queue {
    client: Client,
    dir: String,
}

impl Queue {
    pub fn new(client: &Client, dir: &str) -> Queue {
        Queue {
            client: client.clone(),
            dir: dir.to_owned(),
        }
    }

    /// Adds an item with kazoo's default priority (100).
    pub async fn put(&self, item: &[u8]) -> Result<String> {
        self.put_with_priority(item, 100).await
    }

    /// Adds an item; a lower priority (0-999) is taken sooner.
    pub async fn put_with_priority(&self, item: &[u8], priority: u16) -> Result<String> {
        let path = join(&self.dir, &format!("{PREFIX}{:03}-", priority.min(999)));
        loop {
            match self
                .client
                .create(
                    &path,
                    item,
                    &Acl::open_unsafe(),
                    CreateMode::PersistentSequential,
                )
                .await
            {
                Err(Error::NoNode) => ensure_path(&self.client, &self.dir).await?,
                other => return other,
            }
        }
    }

    /// Takes the first item, or `None` if the queue is empty.
    pub async fn try_take(&self) -> Result<Option<Bytes>> {
        let mut children = match self.client.get_children(&self.dir).await {
            Ok(c) => c,
            Err(Error::NoNode) => return Ok(None),
            Err(e) => return Err(e),
        };
        children.retain(|c| c.starts_with(PREFIX));
        children.sort();
        for child in children {
            let path = join(&self.dir, &child);
            let data = match self.client.get_data(&path).await {
                Ok((data, _)) => data,
                Err(Error::NoNode) => continue,
                Err(e) => return Err(e),
            };
            match self.client.delete(&path, None).await {
                Ok(()) => return Ok(Some(data)),
                Err(Error::NoNode) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Takes the first item, waiting for one if the queue is empty.
    pub async fn take(&self) -> Result<Bytes> {
        loop {
            ensure_path(&self.client, &self.dir).await?;
            let (_, watcher) = self.client.get_children_watch(&self.dir).await?;
            if let Some(item) = self.try_take().await? {
                return Ok(item);
            }
            if watcher.await.event_type == EventType::None {
                return Err(self.client.state_error());
            }
        }
    }

    /// The number of items.
    pub async fn len(&self) -> Result<usize> {
        match self.client.get_children(&self.dir).await {
            Ok(c) => Ok(c.iter().filter(|c| c.starts_with(PREFIX)).count()),
            Err(Error::NoNode) => Ok(0),
            Err(e) => Err(e),
        }
    }
}
