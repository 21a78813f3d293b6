//! A reentrant mutex with Curator `InterProcessMutex`'s layout: ephemeral sequential nodes
//! `<dir>/_c_<uuid>-lock-<seq>`; the lowest sequence holds the lock and each waiter watches the
//! node just before its own (no herd effect).

use std::time::Duration;

use super::{create_protected, sorted_children, wait_deleted};
use crate::path::join;
use crate::{Client, CreateMode, Error, Result};

const LOCK_NAME: &str = "lock-";

/// A distributed reentrant mutex. Reentrancy is per `Mutex` value: acquiring again while held
/// only counts, and the node is deleted by the last release.
#[derive(Debug)]
pub struct Mutex {
    client: Client,
    dir: String,
    held: Option<String>,
    count: usize,
}

impl Mutex {
    pub fn new(client: &Client, dir: &str) -> Mutex {
        Mutex {
            client: client.clone(),
            dir: dir.to_owned(),
            held: None,
            count: 0,
        }
    }

    /// Waits until the lock is held.
    pub async fn acquire(&mut self) -> Result<()> {
        self.acquire_until(None).await.map(drop)
    }

    /// Like `acquire`, but gives up after `limit` (leaving no node behind); returns whether the
    /// lock is held.
    pub async fn try_acquire(&mut self, limit: Duration) -> Result<bool> {
        self.acquire_until(Some(tokio::time::Instant::now() + limit))
            .await
    }

    async fn acquire_until(&mut self, deadline: Option<tokio::time::Instant>) -> Result<bool> {
        if self.held.is_some() {
            self.count += 1;
            return Ok(true);
        }
        let ours = create_protected(
            &self.client,
            &self.dir,
            LOCK_NAME,
            b"",
            CreateMode::EphemeralSequential,
        )
        .await?;
        let result = self.wait_turn(&ours, deadline).await;
        match result {
            Ok(true) => {
                self.held = Some(ours);
                self.count = 1;
                Ok(true)
            }
            other => {
                let _ = self.client.delete(&ours, None).await;
                other
            }
        }
    }

    async fn wait_turn(&self, ours: &str, deadline: Option<tokio::time::Instant>) -> Result<bool> {
        let name = ours.rsplit('/').next().unwrap_or_default().to_owned();
        loop {
            let children = sorted_children(&self.client, &self.dir, LOCK_NAME).await?;
            let Some(pos) = children.iter().position(|c| *c == name) else {
                return Err(Error::NoNode);
            };
            if pos == 0 {
                return Ok(true);
            }
            let before = join(&self.dir, &children[pos - 1]);
            match deadline {
                None => wait_deleted(&self.client, &before).await?,
                Some(d) => {
                    match tokio::time::timeout_at(d, wait_deleted(&self.client, &before)).await {
                        Ok(r) => r?,
                        Err(_) => return Ok(false),
                    }
                }
            }
        }
    }

    /// Releases one hold; the last one deletes the node.
    pub async fn release(&mut self) -> Result<()> {
        match self.count {
            0 => Err(Error::InvalidArgument("the lock is not held".into())),
            1 => {
                let path = self.held.take().unwrap_or_default();
                self.count = 0;
                match self.client.delete(&path, None).await {
                    Ok(()) | Err(Error::NoNode) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            _ => {
                self.count -= 1;
                Ok(())
            }
        }
    }

    pub fn is_held(&self) -> bool {
        self.held.is_some()
    }

    /// The nodes of everyone holding or waiting, lowest first.
    pub async fn participants(&self) -> Result<Vec<String>> {
        sorted_children(&self.client, &self.dir, LOCK_NAME).await
    }
}
