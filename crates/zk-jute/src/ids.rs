//! Newtypes for the ids ZooKeeper passes around as bare longs and ints, signed as on the wire.

use std::fmt;

use bytes::{Buf, BufMut};

use crate::{DecodeError, Record};

macro_rules! id {
    ($(#[$meta:meta])* $name:ident($inner:ty)) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub $inner);

        impl Record for $name {
            #[inline]
            fn write<B: BufMut>(&self, out: &mut B) {
                self.0.write(out);
            }
            #[inline]
            fn read<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
                <$inner>::read(input).map($name)
            }
            #[inline]
            fn encoded_len(&self) -> usize {
                std::mem::size_of::<$inner>()
            }
        }

        impl From<$inner> for $name {
            fn from(v: $inner) -> Self {
                $name(v)
            }
        }
    };
}

id!(
    /// A ZooKeeper transaction id: the leader epoch in the high 32 bits, a counter in the low 32.
    Zxid(i64)
);
id!(
    /// A client session id; the top byte is the id of the server that created it.
    SessionId(i64)
);
id!(
    /// A server's id in the ensemble (`myid`).
    ServerId(i64)
);
id!(
    /// A client request id, echoed in the reply. Negative values are reserved (see [`Xid`] consts).
    Xid(i32)
);

impl Zxid {
    /// The zxid of the first txn of an epoch's counter, `epoch << 32 | counter`.
    pub const fn new(epoch: u32, counter: u32) -> Self {
        Zxid(((epoch as i64) << 32) | counter as i64)
    }

    /// The leader epoch that issued this zxid (`zxid >>> 32`).
    pub const fn epoch(self) -> u32 {
        ((self.0 as u64) >> 32) as u32
    }

    /// The position within the epoch (`zxid & 0xffffffff`).
    pub const fn counter(self) -> u32 {
        self.0 as u32
    }
}

impl fmt::Display for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

impl SessionId {
    /// The id of the server that minted this session (the top byte).
    pub const fn server_id(self) -> u8 {
        ((self.0 as u64) >> 56) as u8
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Xid {
    /// A watch notification (server to client).
    pub const NOTIFICATION: Xid = Xid(-1);
    /// A ping and its reply.
    pub const PING: Xid = Xid(-2);
    /// An auth packet and its reply.
    pub const AUTH: Xid = Xid(-4);
    /// setWatches / setWatches2 sent on reconnect.
    pub const SET_WATCHES: Xid = Xid(-8);
}

impl fmt::Display for Xid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
