//! Jute, the binary serialization of Apache ZooKeeper, and every record of ZooKeeper 3.8: the client
//! protocol (`proto`), txns (`txn`), quorum packets and election messages (`quorum`), file headers
//! (`persistence`), plus multi requests/responses and the framing of a byte stream.
//!
//! Pure: encoding and decoding over `bytes::{Buf, BufMut}`, no I/O. Invariant: bytes produced by the
//! Java classes of ZooKeeper 3.8 decode to values that re-encode to the identical bytes, and no
//! input, however malformed, panics or allocates more than its own length.
//!
//! ```
//! use zk_jute::{Record, proto::GetDataRequest};
//!
//! let request = GetDataRequest { path: "/app/config".into(), watch: true };
//! let bytes = request.to_bytes();
//! assert_eq!(&bytes[..], b"\0\0\0\x0b/app/config\x01");
//! assert_eq!(GetDataRequest::from_bytes(&bytes).unwrap(), request);
//! ```

mod archive;
#[macro_use]
mod codes;
mod data;
mod error;
mod frame;
mod ids;
pub mod multi;
pub mod persistence;
pub mod proto;
pub mod quorum;
pub mod txn;

#[cfg(test)]
mod roundtrip_tests;
#[cfg(test)]
mod testgen;

pub use archive::Record;
pub use codes::{
    AddWatchMode, CreateMode, ErrorCode, EventType, KeeperState, OpCode, Perms, WatcherType,
};
pub use data::{Acl, ClientInfo, Id, Stat, StatPersisted};
pub use error::DecodeError;
#[cfg(feature = "codec")]
pub use frame::FrameError;
pub use frame::{FrameDecoder, encode_frame};
pub use ids::{ServerId, SessionId, Xid, Zxid};
