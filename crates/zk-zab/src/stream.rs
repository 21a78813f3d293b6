//! Splitting the leader <-> learner byte stream into QuorumPackets. The link has no length prefix:
//! jute records follow each other, so the decoder walks the layout (`int type, long zxid,
//! buffer data, vector<Id> authinfo`) and checks every declared length against a maximum before it
//! waits for (or allocates) the bytes.
//!
//! After a SNAP packet the stream carries the snapshot body and the "BenWasHere" signature, which
//! are not QuorumPackets: the driver reads those itself before it calls [`PacketDecoder::decode`]
//! again.

use bytes::{Buf, BytesMut};
use zk_jute::quorum::QuorumPacket;
use zk_jute::{DecodeError, Record};

/// Incremental decoder for a stream of QuorumPackets, bounded by a maximum packet size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketDecoder {
    max_len: usize,
}

impl Default for PacketDecoder {
    fn default() -> Self {
        // jute.maxbuffer's default plus room for the fixed fields.
        PacketDecoder::new(0xFFFFF + 1024)
    }
}

enum Scan {
    Incomplete,
    Complete(usize),
}

impl PacketDecoder {
    pub const fn new(max_len: usize) -> Self {
        PacketDecoder { max_len }
    }

    /// Takes the next whole packet off the front of `src`, `Ok(None)` until it has arrived. An
    /// error (a negative length, or a packet larger than the maximum) means the link is broken.
    pub fn decode(&self, src: &mut BytesMut) -> Result<Option<QuorumPacket>, DecodeError> {
        match self.scan(src)? {
            Scan::Incomplete => Ok(None),
            Scan::Complete(len) => {
                let frame = src.split_to(len).freeze();
                let mut buf = frame.clone();
                let packet = QuorumPacket::read(&mut buf)?;
                debug_assert!(!buf.has_remaining());
                Ok(Some(packet))
            }
        }
    }

    fn scan(&self, src: &[u8]) -> Result<Scan, DecodeError> {
        let mut pos = 12usize; // type + zxid
        let read_i32 = |pos: usize| -> Option<i32> {
            src.get(pos..pos + 4)
                .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        let check = |pos: usize| -> Result<(), DecodeError> {
            if pos > self.max_len {
                return Err(DecodeError::LengthTooLarge {
                    len: pos as i64,
                    max: self.max_len,
                });
            }
            Ok(())
        };
        // data: buffer
        let Some(len) = read_i32(pos) else {
            return Ok(Scan::Incomplete);
        };
        pos += 4;
        if len < -1 {
            return Err(DecodeError::NegativeLength(len));
        }
        if len > 0 {
            pos += len as usize;
        }
        check(pos)?;
        // authinfo: vector<Id{ustring scheme, ustring id}>
        let Some(count) = read_i32(pos) else {
            return Ok(Scan::Incomplete);
        };
        pos += 4;
        if count < -1 {
            return Err(DecodeError::NegativeLength(count));
        }
        for _ in 0..count.max(0) {
            for _ in 0..2 {
                check(pos + 4)?;
                let Some(len) = read_i32(pos) else {
                    return Ok(Scan::Incomplete);
                };
                pos += 4;
                if len < -1 {
                    return Err(DecodeError::NegativeLength(len));
                }
                if len > 0 {
                    pos += len as usize;
                }
                check(pos)?;
            }
        }
        if src.len() < pos {
            return Ok(Scan::Incomplete);
        }
        Ok(Scan::Complete(pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, Bytes};
    use zk_jute::{Id, Zxid};

    fn packets() -> Vec<QuorumPacket> {
        vec![
            QuorumPacket {
                r#type: 5,
                zxid: Zxid(0x1_0000_0003),
                data: None,
                authinfo: None,
            },
            QuorumPacket {
                r#type: 1,
                zxid: Zxid(-1),
                data: Some(Bytes::from_static(b"0123456789abcdef-body")),
                authinfo: Some(vec![
                    Id {
                        scheme: "digest".into(),
                        id: "bob:x".into(),
                    },
                    Id {
                        scheme: "ip".into(),
                        id: "".into(),
                    },
                ]),
            },
            QuorumPacket {
                r#type: 3,
                zxid: Zxid(7),
                data: Some(Bytes::new()),
                authinfo: Some(vec![]),
            },
        ]
    }

    #[test]
    fn packets_fed_one_byte_at_a_time() {
        let mut stream = BytesMut::new();
        for p in packets() {
            p.write(&mut stream);
        }
        let decoder = PacketDecoder::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for byte in stream.iter() {
            buf.put_u8(*byte);
            while let Some(p) = decoder.decode(&mut buf).unwrap() {
                out.push(p);
            }
        }
        assert_eq!(out, packets());
        assert!(buf.is_empty());
    }

    #[test]
    fn packets_back_to_back_in_one_read() {
        let mut buf = BytesMut::new();
        for p in packets() {
            p.write(&mut buf);
        }
        let decoder = PacketDecoder::default();
        for expected in packets() {
            assert_eq!(decoder.decode(&mut buf).unwrap(), Some(expected));
        }
        assert_eq!(decoder.decode(&mut buf).unwrap(), None);
    }

    #[test]
    fn oversized_and_negative_lengths_fail_before_the_bytes_arrive() {
        let decoder = PacketDecoder::new(100);
        let mut buf = BytesMut::new();
        buf.put_i32(2);
        buf.put_i64(1);
        buf.put_i32(1_000_000);
        assert!(matches!(
            decoder.decode(&mut buf),
            Err(DecodeError::LengthTooLarge { .. })
        ));

        let mut buf = BytesMut::new();
        buf.put_i32(2);
        buf.put_i64(1);
        buf.put_i32(-7);
        assert_eq!(
            decoder.decode(&mut buf),
            Err(DecodeError::NegativeLength(-7))
        );

        // A huge auth vector count is bounded by the per-entry check.
        let mut buf = BytesMut::new();
        buf.put_i32(1);
        buf.put_i64(-1);
        buf.put_i32(-1);
        buf.put_i32(i32::MAX);
        for _ in 0..40 {
            buf.put_i32(0);
        }
        assert!(decoder.decode(&mut buf).is_err());
    }
}
