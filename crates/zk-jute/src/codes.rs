//! The numbered enums of the protocol, with their wire values.

use std::fmt;

/// Declares a fieldless enum with explicit wire numbers, `code()` and `TryFrom<i32>`.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $value:expr ),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(i32)]
        pub enum $name { $( $(#[$vmeta])* $variant = $value ),* }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The number on the wire.
            pub const fn code(self) -> i32 {
                self as i32
            }
        }

        impl TryFrom<i32> for $name {
            type Error = i32;
            /// Fails with the number itself when it names no value.
            fn try_from(code: i32) -> Result<Self, i32> {
                match code {
                    $( $value => Ok($name::$variant), )*
                    other => Err(other),
                }
            }
        }

        impl From<$name> for i32 {
            fn from(v: $name) -> i32 {
                v as i32
            }
        }
    };
}

wire_enum! {
    /// `ZooDefs.OpCode`: the `type` of a RequestHeader and of a TxnHeader.
    pub enum OpCode {
        Notification = 0,
        Create = 1,
        Delete = 2,
        Exists = 3,
        GetData = 4,
        SetData = 5,
        GetAcl = 6,
        SetAcl = 7,
        GetChildren = 8,
        Sync = 9,
        Ping = 11,
        GetChildren2 = 12,
        Check = 13,
        Multi = 14,
        Create2 = 15,
        Reconfig = 16,
        CheckWatches = 17,
        RemoveWatches = 18,
        CreateContainer = 19,
        DeleteContainer = 20,
        CreateTtl = 21,
        MultiRead = 22,
        Auth = 100,
        SetWatches = 101,
        Sasl = 102,
        GetEphemerals = 103,
        GetAllChildrenNumber = 104,
        SetWatches2 = 105,
        AddWatch = 106,
        WhoAmI = 107,
        CreateSession = -10,
        CloseSession = -11,
        Error = -1,
    }
}

impl OpCode {
    /// Whether this operation changes the tree (and so becomes a txn).
    pub const fn is_write(self) -> bool {
        matches!(
            self,
            OpCode::Create
                | OpCode::Create2
                | OpCode::CreateContainer
                | OpCode::CreateTtl
                | OpCode::Delete
                | OpCode::DeleteContainer
                | OpCode::SetData
                | OpCode::SetAcl
                | OpCode::Check
                | OpCode::Multi
                | OpCode::Reconfig
                | OpCode::CreateSession
                | OpCode::CloseSession
        )
    }
}

wire_enum! {
    /// `KeeperException.Code`: the `err` of a ReplyHeader. Never send a value outside this list: the
    /// Java client throws on codes it does not know.
    pub enum ErrorCode {
        Ok = 0,
        SystemError = -1,
        RuntimeInconsistency = -2,
        DataInconsistency = -3,
        ConnectionLoss = -4,
        MarshallingError = -5,
        Unimplemented = -6,
        OperationTimeout = -7,
        BadArguments = -8,
        UnknownSession = -12,
        NewConfigNoQuorum = -13,
        ReconfigInProgress = -14,
        ApiError = -100,
        NoNode = -101,
        NoAuth = -102,
        BadVersion = -103,
        NoChildrenForEphemerals = -108,
        NodeExists = -110,
        NotEmpty = -111,
        SessionExpired = -112,
        InvalidCallback = -113,
        InvalidAcl = -114,
        AuthFailed = -115,
        SessionMoved = -118,
        NotReadOnly = -119,
        EphemeralOnLocalSession = -120,
        NoWatcher = -121,
        RequestTimeout = -122,
        ReconfigDisabled = -123,
        SessionClosedRequireSaslAuth = -124,
        QuotaExceeded = -125,
        ThrottledOp = -127,
    }
}

impl ErrorCode {
    /// The text Java's `KeeperException` puts after `KeeperErrorCode = `.
    pub const fn message(self) -> &'static str {
        match self {
            ErrorCode::Ok => "ok",
            ErrorCode::SystemError => "SystemError",
            ErrorCode::RuntimeInconsistency => "RuntimeInconsistency",
            ErrorCode::DataInconsistency => "DataInconsistency",
            ErrorCode::ConnectionLoss => "ConnectionLoss",
            ErrorCode::MarshallingError => "MarshallingError",
            ErrorCode::Unimplemented => "Unimplemented",
            ErrorCode::OperationTimeout => "OperationTimeout",
            ErrorCode::BadArguments => "BadArguments",
            ErrorCode::UnknownSession => "Unknown error UNKNOWNSESSION",
            ErrorCode::NewConfigNoQuorum => "NewConfigNoQuorum",
            ErrorCode::ReconfigInProgress => "ReconfigInProgress",
            ErrorCode::ApiError => "APIError",
            ErrorCode::NoNode => "NoNode",
            ErrorCode::NoAuth => "NoAuth",
            ErrorCode::BadVersion => "BadVersion",
            ErrorCode::NoChildrenForEphemerals => "NoChildrenForEphemerals",
            ErrorCode::NodeExists => "NodeExists",
            ErrorCode::NotEmpty => "Directory not empty",
            ErrorCode::SessionExpired => "Session expired",
            ErrorCode::InvalidCallback => "Invalid callback",
            ErrorCode::InvalidAcl => "InvalidACL",
            ErrorCode::AuthFailed => "AuthFailed",
            ErrorCode::SessionMoved => "Session moved",
            ErrorCode::NotReadOnly => "Not a read-only call",
            ErrorCode::EphemeralOnLocalSession => "Ephemeral node on local session",
            ErrorCode::NoWatcher => "No such watcher",
            ErrorCode::RequestTimeout => "Unknown error REQUESTTIMEOUT",
            ErrorCode::ReconfigDisabled => "Reconfig is disabled",
            ErrorCode::SessionClosedRequireSaslAuth => {
                "Session closed because client failed to authenticate"
            }
            ErrorCode::QuotaExceeded => "Quota has exceeded",
            ErrorCode::ThrottledOp => "Op throttled due to high load",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeeperErrorCode = {}", self.message())
    }
}

wire_enum! {
    /// `CreateMode`: the `flags` of a CreateRequest.
    pub enum CreateMode {
        Persistent = 0,
        Ephemeral = 1,
        PersistentSequential = 2,
        EphemeralSequential = 3,
        Container = 4,
        PersistentWithTtl = 5,
        PersistentSequentialWithTtl = 6,
    }
}

impl CreateMode {
    pub const fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    pub const fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    pub const fn is_container(self) -> bool {
        matches!(self, CreateMode::Container)
    }

    pub const fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }
}

wire_enum! {
    /// `Watcher.Event.EventType`: the `type` of a WatcherEvent.
    pub enum EventType {
        None = -1,
        NodeCreated = 1,
        NodeDeleted = 2,
        NodeDataChanged = 3,
        NodeChildrenChanged = 4,
        DataWatchRemoved = 5,
        ChildWatchRemoved = 6,
        PersistentWatchRemoved = 7,
    }
}

wire_enum! {
    /// `Watcher.Event.KeeperState`: the `state` of a WatcherEvent. Servers only send SyncConnected;
    /// clients generate the rest.
    pub enum KeeperState {
        Unknown = -1,
        Disconnected = 0,
        NoSyncConnected = 1,
        SyncConnected = 3,
        AuthFailed = 4,
        ConnectedReadOnly = 5,
        SaslAuthenticated = 6,
        Closed = 7,
        Expired = -112,
    }
}

wire_enum! {
    /// `Watcher.WatcherType`: the `type` of checkWatches / removeWatches.
    pub enum WatcherType {
        Children = 1,
        Data = 2,
        Any = 3,
    }
}

wire_enum! {
    /// `AddWatchMode`: the `mode` of addWatch.
    pub enum AddWatchMode {
        Persistent = 0,
        PersistentRecursive = 1,
    }
}

/// `ZooDefs.Perms`: ACL permission bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Perms(pub i32);

impl Perms {
    pub const READ: Perms = Perms(1);
    pub const WRITE: Perms = Perms(2);
    pub const CREATE: Perms = Perms(4);
    pub const DELETE: Perms = Perms(8);
    pub const ADMIN: Perms = Perms(16);
    pub const ALL: Perms = Perms(31);

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: Perms) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Perms {
    type Output = Perms;
    fn bitor(self, rhs: Perms) -> Perms {
        Perms(self.0 | rhs.0)
    }
}
