//! `org.apache.zookeeper.data`: ids, ACLs and stats.

use crate::{Perms, Zxid, record};

record! {
    /// An identity: `scheme` (world, auth, digest, ip, super, sasl...) and the id in that scheme.
    pub struct Id {
        pub scheme: String,
        pub id: String,
    }

    /// One ACL entry: permission bits (see [`Perms`]) granted to an [`Id`].
    pub struct Acl {
        pub perms: i32,
        pub id: Id,
    }

    /// The stat of a znode as clients see it (68 bytes).
    pub struct Stat {
        pub czxid: Zxid,
        pub mzxid: Zxid,
        pub ctime: i64,
        pub mtime: i64,
        pub version: i32,
        pub cversion: i32,
        pub aversion: i32,
        pub ephemeral_owner: i64,
        pub data_length: i32,
        pub num_children: i32,
        pub pzxid: Zxid,
    }

    /// The stat of a znode as servers store it in snapshots (60 bytes): no dataLength or
    /// numChildren, and the stored cversion.
    pub struct StatPersisted {
        pub czxid: Zxid,
        pub mzxid: Zxid,
        pub ctime: i64,
        pub mtime: i64,
        pub version: i32,
        pub cversion: i32,
        pub aversion: i32,
        pub ephemeral_owner: i64,
        pub pzxid: Zxid,
    }

    /// One auth identity of a connection, as whoAmI reports it.
    pub struct ClientInfo {
        pub auth_scheme: String,
        pub user: String,
    }
}

impl Id {
    pub fn new(scheme: impl Into<String>, id: impl Into<String>) -> Self {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }

    /// `world:anyone`.
    pub fn anyone() -> Self {
        Id::new("world", "anyone")
    }
}

impl Acl {
    pub fn new(perms: Perms, id: Id) -> Self {
        Acl { perms: perms.0, id }
    }

    /// `ZooDefs.Ids.OPEN_ACL_UNSAFE`: all permissions for world:anyone.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl::new(Perms::ALL, Id::anyone())]
    }

    /// `ZooDefs.Ids.READ_ACL_UNSAFE`: read for world:anyone.
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl::new(Perms::READ, Id::anyone())]
    }

    /// `ZooDefs.Ids.CREATOR_ALL_ACL`: all permissions for the creator's authenticated ids.
    pub fn creator_all() -> Vec<Acl> {
        vec![Acl::new(Perms::ALL, Id::new("auth", ""))]
    }

    pub fn perms(&self) -> Perms {
        Perms(self.perms)
    }
}
