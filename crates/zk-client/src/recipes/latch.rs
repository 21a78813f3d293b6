//! Leader latch / election with Curator `LeaderLatch`'s layout: ephemeral sequential nodes
//! `<dir>/_c_<uuid>-latch-<seq>` holding the participant id; the lowest sequence leads, each other
//! participant watches the node just before its own.

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{create_protected, sorted_children, wait_deleted};
use crate::path::join;
use crate::{Client, CreateMode, Error, Result};

const LATCH_NAME: &str = "latch-";

/// A participant in a leader election.
#[derive(Debug)]
pub struct LeaderLatch {
    client: Client,
    path: String,
    leader: watch::Receiver<bool>,
    task: JoinHandle<()>,
}

impl LeaderLatch {
    /// Joins the election under `dir` with `id` as the node's data.
    pub async fn start(client: &Client, dir: &str, id: &str) -> Result<LeaderLatch> {
        let path = create_protected(
            client,
            dir,
            LATCH_NAME,
            id.as_bytes(),
            CreateMode::EphemeralSequential,
        )
        .await?;
        let (tx, leader) = watch::channel(false);
        let task = tokio::spawn(run(client.clone(), dir.to_owned(), path.clone(), tx));
        Ok(LeaderLatch {
            client: client.clone(),
            path,
            leader,
            task,
        })
    }

    /// Whether this participant leads now.
    pub fn has_leadership(&self) -> bool {
        *self.leader.borrow()
    }

    /// Waits until this participant leads; fails if the session ends first.
    pub async fn await_leadership(&mut self) -> Result<()> {
        match self.leader.wait_for(|l| *l).await {
            Ok(_) => Ok(()),
            Err(_) => Err(self.client.state_error()),
        }
    }

    /// The participant ids in order, the leader first.
    pub async fn participants(&self) -> Result<Vec<String>> {
        let dir = crate::path::parent(&self.path).unwrap_or("/").to_owned();
        let mut ids = Vec::new();
        for c in sorted_children(&self.client, &dir, LATCH_NAME).await? {
            match self.client.get_data(&join(&dir, &c)).await {
                Ok((data, _)) => ids.push(String::from_utf8_lossy(&data).into_owned()),
                Err(Error::NoNode) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(ids)
    }

    /// Leaves the election (giving up leadership).
    pub async fn close(self) -> Result<()> {
        self.task.abort();
        match self.client.delete(&self.path, None).await {
            Ok(()) | Err(Error::NoNode) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

async fn run(client: Client, dir: String, ours: String, leader: watch::Sender<bool>) {
    let name = ours.rsplit('/').next().unwrap_or_default().to_owned();
    loop {
        let Ok(children) = sorted_children(&client, &dir, LATCH_NAME).await else {
            if !client.state().is_alive() {
                return;
            }
            client
                .wait_for_state(|s| s.is_connected() || !s.is_alive())
                .await;
            continue;
        };
        let Some(pos) = children.iter().position(|c| *c == name) else {
            // Our node is gone (session expired): no leadership.
            leader.send_replace(false);
            return;
        };
        if pos == 0 {
            leader.send_replace(true);
            // Lead until the node or the session goes.
            let _ = wait_deleted(&client, &ours).await;
            leader.send_replace(false);
            return;
        }
        if wait_deleted(&client, &join(&dir, &children[pos - 1]))
            .await
            .is_err()
            && !client.state().is_alive()
        {
            return;
        }
    }
}
