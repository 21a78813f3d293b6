//! An async ZooKeeper client for tokio, modelled on the Java client's ClientCnxn: a connection task
//! (outgoing and pending queues, pings, reconnects) over a pure session core (xids, the queue of
//! requests awaiting replies, the watch registry, the chroot mapping), with watch and state events
//! delivered in order.
//!
//! Depends only on `zk-jute`, never on the server or the data tree, so downstream projects can use it
//! alone against any ZooKeeper 3.8 compatible server. Invariant: replies complete in request order,
//! and a watch event reaches its watcher before the reply of any later request.
//!
//! ```no_run
//! use std::time::Duration;
//! use zk_client::{Acl, Client, CreateMode, EventType};
//!
//! # async fn example() -> Result<(), zk_client::Error> {
//! let client = Client::connect("127.0.0.1:2181/app", Duration::from_secs(10)).await?;
//! client.create("/config", b"v1", &Acl::open_unsafe(), CreateMode::Persistent).await?;
//! let (data, stat, watcher) = client.get_data_watch("/config").await?;
//! assert_eq!(&data[..], b"v1");
//! client.set_data("/config", b"v2", Some(stat.version)).await?;
//! let event = watcher.await;
//! assert_eq!(event.event_type, EventType::NodeDataChanged);
//! let results = client
//!     .multi()
//!     .check("/config", stat.version + 1)
//!     .delete("/config", None)
//!     .commit()
//!     .await?;
//! assert_eq!(results.len(), 2);
//! client.close().await;
//! # Ok(())
//! # }
//! ```

mod client;
mod conn;
mod core;
mod error;
mod hosts;
pub mod path;
pub mod recipes;
mod watch;

pub use bytes::Bytes;
pub use client::{Client, ClientBuilder, Multi, MultiRead, OpResult};
pub use conn::SessionState;
pub use error::{Error, Result};
pub use hosts::DEFAULT_PORT;
pub use watch::{EventStream, OneshotWatcher, WatchedEvent};
pub use zk_jute::{
    Acl, AddWatchMode, ClientInfo, CreateMode, ErrorCode, EventType, Id, KeeperState, Perms,
    SessionId, Stat, WatcherType, Zxid,
};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
