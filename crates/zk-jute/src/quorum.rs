//! `org.apache.zookeeper.server.quorum` records, and the two election layouts that are not jute:
//! the connection handshake and the FastLeaderElection notification.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::archive::need;
use crate::{DecodeError, Id, Record, ServerId, Zxid, record};

record! {
    /// Everything on the leader <-> learner link (no length prefix between packets).
    pub struct QuorumPacket {
        pub r#type: i32,
        pub zxid: Zxid,
        pub data: Option<Bytes>,
        /// Only REQUEST packets carry the client's auth ids; others send null.
        pub authinfo: Option<Vec<Id>>,
    }

    pub struct QuorumAuthPacket {
        pub magic: i64,
        pub status: i32,
        pub token: Option<Bytes>,
    }
}

wire_enum! {
    /// The `type` of a [`QuorumPacket`] (`Leader.java` constants).
    pub enum PacketType {
        Request = 1,
        Proposal = 2,
        Ack = 3,
        Commit = 4,
        Ping = 5,
        Revalidate = 6,
        Sync = 7,
        Inform = 8,
        CommitAndActivate = 9,
        NewLeader = 10,
        FollowerInfo = 11,
        UpToDate = 12,
        Diff = 13,
        Trunc = 14,
        Snap = 15,
        ObserverInfo = 16,
        LeaderInfo = 17,
        AckEpoch = 18,
        InformAndActivate = 19,
    }
}

wire_enum! {
    /// `QuorumPeer.ServerState`, as election notifications carry it.
    pub enum ServerState {
        Looking = 0,
        Following = 1,
        Leading = 2,
        Observing = 3,
    }
}

/// The protocol version a 3.8 learner and leader announce (`0x10000`).
pub const LEARNER_PROTOCOL_VERSION: i32 = 0x10000;

/// The data of FOLLOWERINFO / OBSERVERINFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LearnerInfo {
    pub server_id: ServerId,
    pub protocol_version: i32,
    pub config_version: i64,
}

impl Record for LearnerInfo {
    fn write<B: BufMut>(&self, out: &mut B) {
        self.server_id.write(out);
        self.protocol_version.write(out);
        self.config_version.write(out);
    }

    /// Also reads the legacy forms: 8 bytes (server id only) and 12 bytes (no config version).
    fn read<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        let server_id = ServerId::read(input)?;
        let protocol_version = if input.remaining() >= 4 {
            i32::read(input)?
        } else {
            0
        };
        let config_version = if input.remaining() >= 8 {
            i64::read(input)?
        } else {
            0
        };
        Ok(LearnerInfo {
            server_id,
            protocol_version,
            config_version,
        })
    }

    fn encoded_len(&self) -> usize {
        20
    }
}

/// The handshake the connecting side of an election connection sends first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InitialMessage {
    /// [`InitialMessage::PROTOCOL_V1`], [`InitialMessage::PROTOCOL_V2`], or `None` for a pre-3.5
    /// peer that sends only its id.
    pub protocol_version: Option<i64>,
    pub server_id: ServerId,
    /// The sender's election addresses, `host:port` each.
    pub addresses: Vec<String>,
}

impl InitialMessage {
    pub const PROTOCOL_V1: i64 = -65536;
    /// Sent only with `multiAddress.enabled=true`: several addresses joined by `|`.
    pub const PROTOCOL_V2: i64 = -65535;
    /// The longest address text a 3.8 peer accepts.
    pub const MAX_ADDRESS_LEN: usize = 2048;

    pub fn write<B: BufMut>(&self, out: &mut B) {
        match self.protocol_version {
            None => self.server_id.write(out),
            Some(version) => {
                version.write(out);
                self.server_id.write(out);
                let addresses = self.addresses.join("|");
                (addresses.len() as i32).write(out);
                out.put_slice(addresses.as_bytes());
            }
        }
    }

    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.write(&mut out);
        out.freeze()
    }

    /// Reads a handshake; `input` must hold all of it. The address length must be 1..=2048.
    pub fn read<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        let first = i64::read(input)?;
        if first >= 0 {
            return Ok(InitialMessage {
                protocol_version: None,
                server_id: ServerId(first),
                addresses: Vec::new(),
            });
        }
        if first != Self::PROTOCOL_V1 && first != Self::PROTOCOL_V2 {
            return Err(DecodeError::invalid(format!(
                "unknown election protocol version {first}"
            )));
        }
        let server_id = ServerId::read(input)?;
        let len = i32::read(input)?;
        if len <= 0 {
            return Err(DecodeError::NegativeLength(len));
        }
        let len = len as usize;
        if len > Self::MAX_ADDRESS_LEN {
            return Err(DecodeError::LengthTooLarge {
                len: len as i64,
                max: Self::MAX_ADDRESS_LEN,
            });
        }
        need(input, len)?;
        let text = String::from_utf8_lossy(&input.copy_to_bytes(len)).into_owned();
        Ok(InitialMessage {
            protocol_version: Some(first),
            server_id,
            addresses: text.split('|').map(str::to_owned).collect(),
        })
    }
}

/// A FastLeaderElection notification: the sender's state and the vote it proposes. The sender's id
/// comes from the connection, not from the message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Notification {
    /// A [`ServerState`] value.
    pub state: i32,
    pub leader: ServerId,
    pub zxid: Zxid,
    /// The sender's logical clock (election round).
    pub election_epoch: i64,
    /// The proposed leader's epoch.
    pub peer_epoch: i64,
    /// 2 in 3.5+; 0 for the 28- and 40-byte forms of older releases. A version of 1 or less
    /// carries no config and encodes to the 40-byte form.
    pub version: i32,
    /// The sender's quorum configuration text; present when `version > 1`.
    pub config: Option<Bytes>,
}

impl Notification {
    /// The format version 3.8 sends.
    pub const CURRENT_VERSION: i32 = 2;
    const MIN_LEN: usize = 28;
    const LEGACY_LEN: usize = 40;
    const LEGACY_TRAILER: i32 = 1;

    pub fn write<B: BufMut>(&self, out: &mut B) {
        self.state.write(out);
        self.leader.write(out);
        self.zxid.write(out);
        self.election_epoch.write(out);
        self.peer_epoch.write(out);
        if self.version > 1 {
            self.version.write(out);
            let config = self.config.clone().unwrap_or_default();
            config.write(out);
        } else {
            // The 40-byte form ends with an int that readers ignore (they take the version to be
            // 0) and that Java's `FastLeaderElection.buildMsg` without config sets to 1.
            Self::LEGACY_TRAILER.write(out);
        }
    }

    pub fn encoded_len(&self) -> usize {
        let config = if self.version > 1 {
            4 + self.config.as_ref().map_or(0, Bytes::len)
        } else {
            0
        };
        40 + config
    }

    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.write(&mut out);
        out.freeze()
    }

    /// Decodes one whole message (a frame's payload), accepting every format generation as
    /// `FastLeaderElection.WorkerReceiver` does.
    pub fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        let capacity = payload.len();
        if capacity < Self::MIN_LEN {
            return Err(DecodeError::UnexpectedEnd {
                needed: Self::MIN_LEN,
                remaining: capacity,
            });
        }
        let mut input = payload;
        let state = i32::read(&mut input)?;
        let leader = ServerId::read(&mut input)?;
        let zxid = Zxid::read(&mut input)?;
        let election_epoch = i64::read(&mut input)?;
        let mut notification = Notification {
            state,
            leader,
            zxid,
            election_epoch,
            peer_epoch: i64::from(zxid.epoch()),
            version: 0,
            config: None,
        };
        if capacity == Self::MIN_LEN {
            return Ok(notification);
        }
        notification.peer_epoch = i64::read(&mut input)?;
        if capacity == Self::LEGACY_LEN {
            return Ok(notification);
        }
        notification.version = i32::read(&mut input)?;
        if notification.version > 1 {
            let len = i32::read(&mut input)?;
            if len < 0 || len as usize > capacity {
                return Err(DecodeError::invalid(format!(
                    "invalid configLength {len} in a notification of {capacity} bytes"
                )));
            }
            need(&input, len as usize)?;
            notification.config = Some(Bytes::copy_from_slice(&input[..len as usize]));
        }
        Ok(notification)
    }
}
