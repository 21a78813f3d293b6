//! The data layouts of the small QuorumPackets (spec §5.3) and constructors for every packet the
//! cores send. Layouts are plain big-endian fields, not jute records with length prefixes.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use zk_jute::quorum::{LEARNER_PROTOCOL_VERSION, LearnerInfo, PacketType, QuorumPacket};
use zk_jute::{DecodeError, Id, Record, SessionId, Zxid};

use crate::error::{ZabError, malformed};
use crate::types::Proposal;

/// A QuorumPacket with no data and no auth info.
pub fn op_packet(ty: PacketType, zxid: Zxid) -> QuorumPacket {
    QuorumPacket {
        r#type: ty.code(),
        zxid,
        data: None,
        authinfo: None,
    }
}

pub(crate) fn data_packet(ty: PacketType, zxid: Zxid, data: Bytes) -> QuorumPacket {
    QuorumPacket {
        r#type: ty.code(),
        zxid,
        data: Some(data),
        authinfo: None,
    }
}

pub(crate) fn proposal_packet(p: &Proposal) -> QuorumPacket {
    data_packet(PacketType::Proposal, p.zxid, p.data.clone())
}

pub(crate) fn inform_packet(p: &Proposal) -> QuorumPacket {
    data_packet(PacketType::Inform, p.zxid, p.data.clone())
}

fn data_of<'a>(packet: &'a QuorumPacket, name: &'static str) -> Result<&'a [u8], ZabError> {
    packet.data.as_deref().ok_or(ZabError::Malformed {
        packet: name,
        source: DecodeError::UnexpectedEnd {
            needed: 1,
            remaining: 0,
        },
    })
}

/// A client request a learner forwards to the leader (REQUEST): `long sessionId, int cxid,
/// int type` then the original request body; authinfo carries the client's auth ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedRequest {
    pub session_id: SessionId,
    pub cxid: i32,
    /// The request's opcode (`OpCode::code()`); `sync` (9) completes with a SYNC packet.
    pub op: i32,
    pub body: Bytes,
    pub authinfo: Option<Vec<Id>>,
}

impl ForwardedRequest {
    pub fn to_packet(&self) -> QuorumPacket {
        let mut data = BytesMut::with_capacity(16 + self.body.len());
        data.put_i64(self.session_id.0);
        data.put_i32(self.cxid);
        data.put_i32(self.op);
        data.extend_from_slice(&self.body);
        QuorumPacket {
            r#type: PacketType::Request.code(),
            zxid: Zxid(-1),
            data: Some(data.freeze()),
            authinfo: self.authinfo.clone(),
        }
    }

    pub fn from_packet(packet: &QuorumPacket) -> Result<Self, ZabError> {
        let data = packet.data.clone().unwrap_or_default();
        let mut buf = data.clone();
        let head = (|| -> Result<_, DecodeError> {
            Ok((
                i64::read(&mut buf)?,
                i32::read(&mut buf)?,
                i32::read(&mut buf)?,
            ))
        })()
        .map_err(malformed("REQUEST"))?;
        Ok(ForwardedRequest {
            session_id: SessionId(head.0),
            cxid: head.1,
            op: head.2,
            body: data.slice(16..),
            authinfo: packet.authinfo.clone(),
        })
    }
}

/// The session touches a learner reports in its PING reply: repeated `long sessionId, int timeout`.
pub fn encode_touches(touches: &[(SessionId, i32)]) -> Bytes {
    let mut out = BytesMut::with_capacity(touches.len() * 12);
    for (session, timeout) in touches {
        out.put_i64(session.0);
        out.put_i32(*timeout);
    }
    out.freeze()
}

/// Reads PING touches; null data is no touches. Trailing bytes that are not a whole pair are an
/// error (Java's `DataInputStream` would throw EOF on them).
pub fn decode_touches(data: Option<&[u8]>) -> Result<Vec<(SessionId, i32)>, ZabError> {
    let mut buf = data.unwrap_or_default();
    let mut touches = Vec::with_capacity(buf.len() / 12);
    while buf.has_remaining() {
        let session = i64::read(&mut buf).map_err(malformed("PING"))?;
        let timeout = i32::read(&mut buf).map_err(malformed("PING"))?;
        touches.push((SessionId(session), timeout));
    }
    Ok(touches)
}

/// REVALIDATE from a learner: `long sessionId, int timeout`.
pub fn revalidate_request(session: SessionId, timeout_ms: i32) -> QuorumPacket {
    let mut data = BytesMut::with_capacity(12);
    data.put_i64(session.0);
    data.put_i32(timeout_ms);
    data_packet(PacketType::Revalidate, Zxid(-1), data.freeze())
}

pub fn decode_revalidate_request(packet: &QuorumPacket) -> Result<(SessionId, i32), ZabError> {
    let mut buf = data_of(packet, "REVALIDATE")?;
    let session = i64::read(&mut buf).map_err(malformed("REVALIDATE"))?;
    let timeout = i32::read(&mut buf).map_err(malformed("REVALIDATE"))?;
    Ok((SessionId(session), timeout))
}

/// REVALIDATE reply from the leader: `long sessionId, boolean valid`, zxid echoed.
pub fn revalidate_reply(zxid: Zxid, session: SessionId, valid: bool) -> QuorumPacket {
    let mut data = BytesMut::with_capacity(9);
    data.put_i64(session.0);
    data.put_u8(u8::from(valid));
    data_packet(PacketType::Revalidate, zxid, data.freeze())
}

pub fn decode_revalidate_reply(packet: &QuorumPacket) -> Result<(SessionId, bool), ZabError> {
    let mut buf = data_of(packet, "REVALIDATE")?;
    let session = i64::read(&mut buf).map_err(malformed("REVALIDATE"))?;
    let valid = bool::read(&mut buf).map_err(malformed("REVALIDATE"))?;
    Ok((SessionId(session), valid))
}

/// FOLLOWERINFO / OBSERVERINFO: `zxid = acceptedEpoch << 32`, data = LearnerInfo.
pub fn learner_info(observer: bool, accepted_epoch: u32, info: &LearnerInfo) -> QuorumPacket {
    let ty = if observer {
        PacketType::ObserverInfo
    } else {
        PacketType::FollowerInfo
    };
    data_packet(ty, Zxid::new(accepted_epoch, 0), info.to_bytes())
}

/// LEADERINFO: `zxid = newEpoch << 32`, data = `int 0x10000`.
pub fn leader_info(new_epoch: u32) -> QuorumPacket {
    data_packet(
        PacketType::LeaderInfo,
        Zxid::new(new_epoch, 0),
        Bytes::copy_from_slice(&LEARNER_PROTOCOL_VERSION.to_be_bytes()),
    )
}

pub fn decode_leader_info(packet: &QuorumPacket) -> Result<i32, ZabError> {
    i32::read(&mut data_of(packet, "LEADERINFO")?).map_err(malformed("LEADERINFO"))
}

/// ACKEPOCH: `zxid = lastLoggedZxid`, data = `int currentEpoch`, or `-1` when the learner had
/// already accepted this epoch (then it does not count as an ack).
pub fn ack_epoch(last_zxid: Zxid, current_epoch: Option<u32>) -> QuorumPacket {
    let value = current_epoch.map_or(-1, |e| e as i32);
    data_packet(
        PacketType::AckEpoch,
        last_zxid,
        Bytes::copy_from_slice(&value.to_be_bytes()),
    )
}

/// The `int` of an ACKEPOCH: a current epoch, or -1.
pub fn decode_ack_epoch(packet: &QuorumPacket) -> Result<i32, ZabError> {
    i32::read(&mut data_of(packet, "ACKEPOCH")?).map_err(malformed("ACKEPOCH"))
}

/// NEWLEADER: `zxid = newEpoch << 32`, data = the config text.
pub fn new_leader(new_epoch: u32, config_text: &str) -> QuorumPacket {
    data_packet(
        PacketType::NewLeader,
        Zxid::new(new_epoch, 0),
        Bytes::copy_from_slice(config_text.as_bytes()),
    )
}

/// The data of FOLLOWERINFO/OBSERVERINFO; null data is allowed by 3.8 (the leader then invents a
/// negative server id), which this core refuses.
pub fn decode_learner_info(packet: &QuorumPacket) -> Result<LearnerInfo, ZabError> {
    let data = data_of(packet, "LEARNERINFO")?;
    LearnerInfo::from_bytes(data).map_err(malformed("LEARNERINFO"))
}

/// A PROPOSAL or INFORM's data must start with a TxnHeader whose zxid is the packet's.
pub(crate) fn check_txn(packet: &QuorumPacket, name: &'static str) -> Result<Proposal, ZabError> {
    let data = packet.data.clone().unwrap_or_default();
    let header = zk_jute::txn::TxnHeader::from_bytes(&data).map_err(malformed(name))?;
    if header.zxid != packet.zxid {
        return Err(ZabError::Malformed {
            packet: name,
            source: DecodeError::InvalidData(format!(
                "txn zxid {} differs from packet zxid {}",
                header.zxid, packet.zxid
            )),
        });
    }
    Ok(Proposal {
        zxid: packet.zxid,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_jute::ServerId;

    #[test]
    fn request_layout_round_trips() {
        let req = ForwardedRequest {
            session_id: SessionId(0x0100_0000_0000_0001),
            cxid: 7,
            op: 1,
            body: Bytes::from_static(b"body"),
            authinfo: Some(vec![Id {
                scheme: "digest".into(),
                id: "u:p".into(),
            }]),
        };
        let packet = req.to_packet();
        assert_eq!(packet.r#type, 1);
        assert_eq!(packet.zxid, Zxid(-1));
        assert_eq!(
            &packet.data.as_ref().unwrap()[..16],
            &[1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 1]
        );
        assert_eq!(ForwardedRequest::from_packet(&packet).unwrap(), req);
        let short = data_packet(PacketType::Request, Zxid(-1), Bytes::from_static(&[0; 15]));
        assert!(ForwardedRequest::from_packet(&short).is_err());
    }

    #[test]
    fn touches_round_trip_and_reject_partial_pairs() {
        let touches = vec![(SessionId(1), 30000), (SessionId(-5), 4000)];
        let bytes = encode_touches(&touches);
        assert_eq!(bytes.len(), 24);
        assert_eq!(&bytes[..12], &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x75, 0x30]);
        assert_eq!(decode_touches(Some(&bytes)).unwrap(), touches);
        assert_eq!(decode_touches(None).unwrap(), vec![]);
        assert!(decode_touches(Some(&bytes[..13])).is_err());
    }

    #[test]
    fn revalidate_layouts() {
        let req = revalidate_request(SessionId(9), 5000);
        assert_eq!(req.data.as_ref().unwrap().len(), 12);
        assert_eq!(
            decode_revalidate_request(&req).unwrap(),
            (SessionId(9), 5000)
        );
        let reply = revalidate_reply(Zxid(-1), SessionId(9), true);
        assert_eq!(
            &reply.data.as_ref().unwrap()[..],
            &[0, 0, 0, 0, 0, 0, 0, 9, 1]
        );
        assert_eq!(
            decode_revalidate_reply(&reply).unwrap(),
            (SessionId(9), true)
        );
        assert!(decode_revalidate_reply(&op_packet(PacketType::Revalidate, Zxid(0))).is_err());
    }

    #[test]
    fn handshake_layouts() {
        let li = leader_info(3);
        assert_eq!(li.r#type, 17);
        assert_eq!(li.zxid, Zxid(3 << 32));
        assert_eq!(&li.data.as_ref().unwrap()[..], &[0, 1, 0, 0]);
        assert_eq!(decode_leader_info(&li).unwrap(), 0x10000);

        let ack = ack_epoch(Zxid(0x2_0000_0005), Some(2));
        assert_eq!(&ack.data.as_ref().unwrap()[..], &[0, 0, 0, 2]);
        let again = ack_epoch(Zxid(5), None);
        assert_eq!(&again.data.as_ref().unwrap()[..], &[0xff; 4]);
        assert_eq!(decode_ack_epoch(&again).unwrap(), -1);

        let info = LearnerInfo {
            server_id: ServerId(2),
            protocol_version: LEARNER_PROTOCOL_VERSION,
            config_version: 0,
        };
        let fi = learner_info(false, 1, &info);
        assert_eq!((fi.r#type, fi.zxid), (11, Zxid(1 << 32)));
        assert_eq!(fi.data.as_ref().unwrap().len(), 20);
        assert_eq!(decode_learner_info(&fi).unwrap(), info);
        assert_eq!(learner_info(true, 1, &info).r#type, 16);

        let nl = new_leader(4, "version=0");
        assert_eq!((nl.r#type, nl.zxid), (10, Zxid(4 << 32)));
        assert_eq!(&nl.data.as_ref().unwrap()[..], b"version=0");
    }

    #[test]
    fn proposal_data_must_carry_its_own_zxid() {
        let header = zk_jute::txn::TxnHeader {
            client_id: SessionId(1),
            cxid: 1,
            zxid: Zxid(0x1_0000_0001),
            time: 0,
            r#type: 2,
        };
        let ok = data_packet(PacketType::Proposal, Zxid(0x1_0000_0001), header.to_bytes());
        assert_eq!(
            check_txn(&ok, "PROPOSAL").unwrap().zxid,
            Zxid(0x1_0000_0001)
        );
        let lying = data_packet(PacketType::Proposal, Zxid(0x1_0000_0002), header.to_bytes());
        assert!(check_txn(&lying, "PROPOSAL").is_err());
        assert!(check_txn(&op_packet(PacketType::Proposal, Zxid(1)), "PROPOSAL").is_err());
    }
}
