//! A shared counter with Curator `DistributedAtomicLong`'s encoding: the node holds the value as
//! 8 bytes big-endian (a missing node is 0); updates are optimistic setData with the version.

use super::ensure_path;
use crate::{Acl, Client, CreateMode, Error, Result};

#[derive(Debug, Clone)]
pub struct DistributedCounter {
    client: Client,
    path: String,
}

fn decode(data: &[u8]) -> i64 {
    <[u8; 8]>::try_from(data).map_or(0, i64::from_be_bytes)
}

impl DistributedCounter {
    pub fn new(client: &Client, path: &str) -> DistributedCounter {
        DistributedCounter {
            client: client.clone(),
            path: path.to_owned(),
        }
    }

    /// The current value.
    pub async fn get(&self) -> Result<i64> {
        match self.client.get_data(&self.path).await {
            Ok((data, _)) => Ok(decode(&data)),
            Err(Error::NoNode) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Adds `delta` atomically and returns the new value.
    pub async fn add(&self, delta: i64) -> Result<i64> {
        loop {
            match self.client.get_data(&self.path).await {
                Ok((data, stat)) => {
                    let value = decode(&data).wrapping_add(delta);
                    match self
                        .client
                        .set_data(&self.path, &value.to_be_bytes(), Some(stat.version))
                        .await
                    {
                        Ok(_) => return Ok(value),
                        Err(Error::BadVersion) => continue,
                        Err(e) => return Err(e),
                    }
                }
                Err(Error::NoNode) => {
                    if let Some(parent) = crate::path::parent(&self.path) {
                        ensure_path(&self.client, parent).await?;
                    }
                    match self
                        .client
                        .create(
                            &self.path,
                            &delta.to_be_bytes(),
                            &Acl::open_unsafe(),
                            CreateMode::Persistent,
                        )
                        .await
                    {
                        Ok(_) => return Ok(delta),
                        Err(Error::NodeExists) => continue,
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub async fn increment(&self) -> Result<i64> {
        self.add(1).await
    }
}
