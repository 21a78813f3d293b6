//! Length-prefixed framing: every client message, and every election message, is a big-endian
//! `i32` length followed by that many bytes.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::DecodeError;

/// Splits a byte stream into frames no longer than a maximum.
///
/// A declared length is checked before any buffer grows for it: a negative length or one above the
/// maximum is an error (the caller closes the connection), never an allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameDecoder {
    max_len: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(FrameDecoder::DEFAULT_MAX_LEN)
    }
}

impl FrameDecoder {
    /// `jute.maxbuffer`'s default, 0xfffff bytes.
    pub const DEFAULT_MAX_LEN: usize = 0xFFFFF;

    pub const fn new(max_len: usize) -> Self {
        FrameDecoder { max_len }
    }

    pub const fn max_len(&self) -> usize {
        self.max_len
    }

    /// Checks a declared frame length against the bounds.
    pub fn check_len(&self, len: i32) -> Result<usize, DecodeError> {
        if len < 0 {
            return Err(DecodeError::NegativeLength(len));
        }
        let len = len as usize;
        if len > self.max_len {
            return Err(DecodeError::LengthTooLarge {
                len: len as i64,
                max: self.max_len,
            });
        }
        Ok(len)
    }

    /// Takes the next whole frame's payload off the front of `src`, or `None` until it has arrived.
    pub fn decode(&self, src: &mut BytesMut) -> Result<Option<Bytes>, DecodeError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let declared = i32::from_be_bytes([src[0], src[1], src[2], src[3]]);
        let len = self.check_len(declared)?;
        if src.len() < 4 + len {
            src.reserve(4 + len - src.len());
            return Ok(None);
        }
        src.advance(4);
        Ok(Some(src.split_to(len).freeze()))
    }
}

/// Appends one frame to `dst`: a length prefix, then whatever `body` writes.
pub fn encode_frame(dst: &mut BytesMut, body: impl FnOnce(&mut BytesMut)) {
    let start = dst.len();
    dst.put_i32(0);
    body(dst);
    let len = dst.len() - start - 4;
    let len = i32::try_from(len).expect("frame longer than i32::MAX bytes");
    dst[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

#[cfg(feature = "codec")]
mod codec {
    use bytes::{Bytes, BytesMut};
    use tokio_util::codec::{Decoder, Encoder};

    use super::{FrameDecoder, encode_frame};
    use crate::DecodeError;

    /// Why a framed stream stopped.
    #[derive(Debug, thiserror::Error)]
    pub enum FrameError {
        #[error(transparent)]
        Io(#[from] std::io::Error),
        #[error("bad frame: {0}")]
        Frame(#[from] DecodeError),
    }

    impl Decoder for FrameDecoder {
        type Item = Bytes;
        type Error = FrameError;

        fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
            Ok(FrameDecoder::decode(self, src)?)
        }
    }

    impl Encoder<Bytes> for FrameDecoder {
        type Error = FrameError;

        fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
            encode_frame(dst, |out| out.extend_from_slice(&payload));
            Ok(())
        }
    }
}

#[cfg(feature = "codec")]
pub use codec::FrameError;
