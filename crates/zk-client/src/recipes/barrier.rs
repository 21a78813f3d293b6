//! A double barrier with Curator `DistributedDoubleBarrier`'s layout: each member adds an
//! ephemeral `<dir>/<uuid>`; the member that completes the count creates `<dir>/ready`; leaving
//! waits until every member node is gone.

use super::{ensure_path, uuid};
use crate::path::join;
use crate::{Acl, Client, CreateMode, Error, EventType, Result};

const READY: &str = "ready";

/// A double barrier for `members` participants.
#[derive(Debug)]
pub struct DoubleBarrier {
    client: Client,
    dir: String,
    members: usize,
    name: String,
}

impl DoubleBarrier {
    pub fn new(client: &Client, dir: &str, members: usize) -> DoubleBarrier {
        DoubleBarrier {
            client: client.clone(),
            dir: dir.to_owned(),
            members,
            name: uuid(),
        }
    }

    fn ours(&self) -> String {
        join(&self.dir, &self.name)
    }

    /// Waits until `members` participants have entered.
    pub async fn enter(&self) -> Result<()> {
        let ready = join(&self.dir, READY);
        let (stat, mut watcher) = self.client.exists_watch(&ready).await?;
        ensure_path(&self.client, &self.dir).await?;
        self.client
            .create(
                &self.ours(),
                b"",
                &Acl::open_unsafe(),
                CreateMode::Ephemeral,
            )
            .await?;
        if stat.is_some() {
            return Ok(());
        }
        loop {
            let count = self.client.get_children(&self.dir).await?.len();
            if count >= self.members {
                match self
                    .client
                    .create(&ready, b"", &Acl::open_unsafe(), CreateMode::Persistent)
                    .await
                {
                    Ok(_) | Err(Error::NodeExists) => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
            let event = watcher.await;
            match event.event_type {
                EventType::NodeCreated => return Ok(()),
                EventType::None => return Err(self.client.state_error()),
                _ => {}
            }
            let (stat, w) = self.client.exists_watch(&ready).await?;
            if stat.is_some() {
                return Ok(());
            }
            watcher = w;
        }
    }

    /// Waits until every participant has left (Curator's algorithm: the lowest node waits for
    /// the highest, the others delete theirs and wait for the lowest).
    pub async fn leave(&self) -> Result<()> {
        let mut ours_should_exist = true;
        loop {
            let mut children: Vec<String> = match self.client.get_children(&self.dir).await {
                Ok(c) => c,
                Err(Error::NoNode) => Vec::new(),
                Err(e) => return Err(e),
            };
            children.retain(|c| c != READY);
            children.sort();
            if children.is_empty() {
                break;
            }
            let index = children.iter().position(|c| *c == self.name);
            if index.is_none() && ours_should_exist {
                return Err(Error::NoNode);
            }
            if children.len() == 1 {
                if ours_should_exist {
                    self.delete_ours().await?;
                }
                break;
            }
            let watched = if index == Some(0) {
                join(&self.dir, children.last().expect("non-empty"))
            } else {
                if ours_should_exist {
                    self.delete_ours().await?;
                    ours_should_exist = false;
                }
                join(&self.dir, &children[0])
            };
            let (stat, watcher) = self.client.exists_watch(&watched).await?;
            if stat.is_some() && watcher.await.event_type == EventType::None {
                return Err(self.client.state_error());
            }
        }
        match self.client.delete(&join(&self.dir, READY), None).await {
            Ok(()) | Err(Error::NoNode) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn delete_ours(&self) -> Result<()> {
        match self.client.delete(&self.ours(), None).await {
            Ok(()) | Err(Error::NoNode) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
