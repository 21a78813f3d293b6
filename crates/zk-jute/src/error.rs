use thiserror::Error;

/// Why bytes could not be decoded into a record or a frame.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended before the record did.
    #[error("unexpected end of input: needed {needed} more bytes, {remaining} left")]
    UnexpectedEnd { needed: usize, remaining: usize },
    /// A declared length exceeds what may be read (the frame maximum or the bytes left).
    #[error("length {len} is larger than the maximum of {max}")]
    LengthTooLarge { len: i64, max: usize },
    /// A length or count below -1 (or below 0 where null is not allowed).
    #[error("negative length {0}")]
    NegativeLength(i32),
    /// Bytes that cannot mean anything for the record being read.
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// An operation code this version of the protocol does not know.
    #[error("unknown opcode {0}")]
    UnknownOpCode(i32),
}

impl DecodeError {
    pub(crate) fn invalid(what: impl Into<String>) -> Self {
        DecodeError::InvalidData(what.into())
    }
}
