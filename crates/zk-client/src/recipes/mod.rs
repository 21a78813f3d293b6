//! Coordination recipes on top of [`crate::Client`], with the node layouts of Apache Curator
//! (lock, leader latch, double barrier, atomic counter) and kazoo (queue), so processes using those
//! libraries and this one can share the nodes. Parents are created as containers, so the server
//! removes them once empty.
//!
//! Every recipe retries ConnectionLoss where the operation is safe to repeat (a protected
//! sequential create finds its own node again by the `_c_<uuid>` prefix, as Curator does) and
//! gives up on SessionExpired, which the caller must handle by starting over with a new client.

mod barrier;
mod cache;
mod counter;
mod latch;
mod lock;
mod queue;

pub use barrier::DoubleBarrier;
pub use cache::{NodeCache, TreeCache};
pub use counter::DistributedCounter;
pub use latch::LeaderLatch;
pub use lock::Mutex;
pub use queue::Queue;

use crate::path::{join, parent};
use crate::{Acl, Client, CreateMode, Error, Result};

/// Creates `path` and its missing ancestors as containers (Curator's
/// `creatingParentContainersIfNeeded`). An existing node is fine.
pub async fn ensure_path(client: &Client, path: &str) -> Result<()> {
    if path == "/" || client.exists(path).await?.is_some() {
        return Ok(());
    }
    let mut missing = vec![path.to_owned()];
    let mut at = parent(path);
    while let Some(p) = at {
        if p == "/" || client.exists(p).await?.is_some() {
            break;
        }
        missing.push(p.to_owned());
        at = parent(p);
    }
    for p in missing.iter().rev() {
        match client
            .create(p, b"", &Acl::open_unsafe(), CreateMode::Container)
            .await
        {
            Ok(_) | Err(Error::NodeExists) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A random version-4 UUID in text form.
pub(crate) fn uuid() -> String {
    let mut b = [0u8; 16];
    for x in &mut b {
        *x = fastrand::u8(..);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The 10-digit sequence suffix of a sequential node name (sorts contenders of any library).
pub(crate) fn sequence(name: &str) -> &str {
    &name[name.len().saturating_sub(10)..]
}

/// Curator's protected ephemeral-sequential create: the name starts with `_c_<uuid>-`, so after a
/// ConnectionLoss the node, if it was created, is found again instead of being created twice.
pub(crate) async fn create_protected(
    client: &Client,
    dir: &str,
    suffix: &str,
    data: &[u8],
    mode: CreateMode,
) -> Result<String> {
    let id = uuid();
    let prefix = format!("_c_{id}-");
    let path = join(dir, &format!("{prefix}{suffix}"));
    loop {
        match client.create(&path, data, &Acl::open_unsafe(), mode).await {
            Ok(p) => return Ok(p),
            Err(Error::NoNode) => ensure_path(client, dir).await?,
            Err(Error::ConnectionLoss) => {
                client
                    .wait_for_state(|s| s.is_connected() || !s.is_alive())
                    .await;
                if let Ok(children) = client.get_children(dir).await {
                    if let Some(c) = children.iter().find(|c| c.starts_with(&prefix)) {
                        return Ok(join(dir, c));
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Children of `dir` whose names contain `marker`, sorted by their sequence suffix.
pub(crate) async fn sorted_children(
    client: &Client,
    dir: &str,
    marker: &str,
) -> Result<Vec<String>> {
    let mut children: Vec<String> = client
        .get_children(dir)
        .await?
        .into_iter()
        .filter(|c| c.contains(marker))
        .collect();
    children.sort_by(|a, b| sequence(a).cmp(sequence(b)));
    Ok(children)
}

/// Waits until `path` is gone (or the session ends).
pub(crate) async fn wait_deleted(client: &Client, path: &str) -> Result<()> {
    loop {
        let (stat, watcher) = client.exists_watch(path).await?;
        if stat.is_none() {
            return Ok(());
        }
        let event = watcher.await;
        if event.event_type == crate::EventType::NodeDeleted {
            return Ok(());
        }
        if event.event_type == crate::EventType::None {
            return Err(client.state_error());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_and_sequences() {
        let u = uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(u, uuid());
        assert_eq!(sequence("_c_x-lock-0000000042"), "0000000042");
        assert_eq!(sequence("short"), "short");
    }
}
