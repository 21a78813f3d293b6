//! `org.apache.zookeeper.server.persistence`: the header of txn log and snapshot files.

use crate::record;

record! {
    /// The first 16 bytes of a txn log or snapshot file.
    pub struct FileHeader {
        pub magic: i32,
        pub version: i32,
        pub dbid: i64,
    }
}

impl FileHeader {
    /// `"ZKLG"`, the magic of txn log files.
    pub const TXN_LOG_MAGIC: i32 = 0x5A4B_4C47;
    /// `"ZKSN"`, the magic of snapshot files.
    pub const SNAPSHOT_MAGIC: i32 = 0x5A4B_534E;
    pub const VERSION: i32 = 2;

    /// The header Apache ZooKeeper 3.8 writes at the start of a txn log.
    pub const fn txn_log() -> Self {
        FileHeader {
            magic: Self::TXN_LOG_MAGIC,
            version: Self::VERSION,
            dbid: 0,
        }
    }

    /// The header Apache ZooKeeper 3.8 writes at the start of a snapshot.
    pub const fn snapshot() -> Self {
        FileHeader {
            magic: Self::SNAPSHOT_MAGIC,
            version: Self::VERSION,
            dbid: -1,
        }
    }
}
