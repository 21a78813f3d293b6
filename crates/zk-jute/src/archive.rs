//! The jute binary archive: how primitives, strings, buffers, vectors and records are laid out.
//!
//! Everything is big-endian. Strings and buffers are an `i32` length and the bytes, vectors an `i32`
//! count and the elements; a length of -1 means null. Records are their fields back to back with no
//! header. A null can only be told apart from an empty value where the field is declared nullable
//! (`Option<...>`); elsewhere a null decodes as the empty value.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::DecodeError;

/// A value with a jute binary encoding.
pub trait Record: Sized {
    /// Appends the encoding of `self` to `out`.
    fn write<B: BufMut>(&self, out: &mut B);

    /// Reads one value from the front of `input`, consuming exactly its bytes.
    fn read<B: Buf>(input: &mut B) -> Result<Self, DecodeError>;

    /// The number of bytes `write` appends.
    fn encoded_len(&self) -> usize;

    /// The encoding of `self` in a buffer of its own.
    fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.write(&mut out);
        out.freeze()
    }

    /// Decodes one value from the start of `bytes`; trailing bytes are ignored as jute readers do.
    fn from_bytes(mut bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::read(&mut bytes)
    }
}

#[inline]
pub(crate) fn need<B: Buf>(input: &B, needed: usize) -> Result<(), DecodeError> {
    let remaining = input.remaining();
    if remaining < needed {
        return Err(DecodeError::UnexpectedEnd { needed, remaining });
    }
    Ok(())
}

macro_rules! primitive {
    ($ty:ty, $get:ident, $put:ident, $len:expr) => {
        impl Record for $ty {
            #[inline]
            fn write<B: BufMut>(&self, out: &mut B) {
                out.$put(*self);
            }
            #[inline]
            fn read<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
                need(input, $len)?;
                Ok(input.$get())
            }
            #[inline]
            fn encoded_len(&self) -> usize {
                $len
            }
        }
    };
}

primitive!(i8, get_i8, put_i8, 1);
primitive!(i32, get_i32, put_i32, 4);
primitive!(i64, get_i64, put_i64, 8);
primitive!(f32, get_f32, put_f32, 4);
primitive!(f64, get_f64, put_f64, 8);

impl Record for bool {
    #[inline]
    fn write<B: BufMut>(&self, out: &mut B) {
        out.put_u8(u8::from(*self));
    }
    /// Any non-zero byte is true, as Java's `DataInput.readBoolean`.
    #[inline]
    fn read<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        need(input, 1)?;
        Ok(input.get_u8() != 0)
    }
    #[inline]
    fn encoded_len(&self) -> usize {
        1
    }
}

/// Reads a length or count prefix: `None` for -1 (null), an error below -1.
#[inline]
pub(crate) fn read_len<B: Buf>(input: &mut B) -> Result<Option<usize>, DecodeError> {
    let len = i32::read(input)?;
    match len {
        -1 => Ok(None),
        n if n < 0 => Err(DecodeError::NegativeLength(n)),
        // i32 >= 0 always fits usize on the targets we build for.
        n => Ok(Some(n as usize)),
    }
}

/// Reads a byte-length prefix and checks the bytes are there before anything is allocated.
#[inline]
fn read_byte_len<B: Buf>(input: &mut B) -> Result<Option<usize>, DecodeError> {
    let Some(len) = read_len(input)? else {
        return Ok(None);
    };
    if len > input.remaining() {
        return Err(DecodeError::UnexpectedEnd {
            needed: len,
            remaining: input.remaining(),
        });
    }
    Ok(Some(len))
}

fn read_string_bytes<B: Buf>(input: &mut B, len: usize) -> String {
    let raw = input.copy_to_bytes(len);
    // Java encodes supplementary characters as two 3-byte surrogates and decodes malformed input
    // to U+FFFD; decoding lossily keeps the same "never fail on text" behaviour.
    match std::str::from_utf8(&raw) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(&raw).into_owned(),
    }
}

fn len_prefix(len: usize) -> i32 {
    i32::try_from(len).expect("jute value longer than i32::MAX bytes")
}

/// `ustring`; a null decodes as the empty string.
impl Record for String {
    fn write<B: BufMut>(&self, out: &mut B) {
        out.put_i32(len_prefix(self.len()));
        out.put_slice(self.as_bytes());
    }
    fn read<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        Ok(match read_byte_len(input)? {
            Some(len) => read_string_bytes(input, len),
            None => String::new(),
        })
    }
    fn encoded_len(&self) -> usize {
        4 + self.len()
    }
}

/// Nullable `ustring`: `None` is written as length -1.
impl Record for Option<String> {
    fn write<B: BufMut>(&self, out: &mut B) {
        match self {
            Some(s) => s.write(out),
            None => out.put_i32(-1),
        }
    }
    fn read<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        Ok(read_byte_len(input)?.map(|len| read_string_bytes(input, len)))
    }
    fn encoded_len(&self) -> usize {
        4 + self.as_ref().map_or(0, String::len)
    }
}

/// `buffer`; a null decodes as empty. Reading from a `Bytes` input shares its memory (no copy).
impl Record for Bytes {
    fn write<B: BufMut>(&self, out: &mut B) {
        out.put_i32(len_prefix(self.len()));
        out.put_slice(self);
    }
    fn read<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        Ok(match read_byte_len(input)? {
            Some(len) => input.copy_to_bytes(len),
            None => Bytes::new(),
        })
    }
    fn encoded_len(&self) -> usize {
        4 + self.len()
    }
}

/// Nullable `buffer`: ZooKeeper keeps null and empty node data apart end to end.
impl Record for Option<Bytes> {
    fn write<B: BufMut>(&self, out: &mut B) {
        match self {
            Some(b) => b.write(out),
            None => out.put_i32(-1),
        }
    }
    fn read<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        Ok(read_byte_len(input)?.map(|len| input.copy_to_bytes(len)))
    }
    fn encoded_len(&self) -> usize {
        4 + self.as_ref().map_or(0, Bytes::len)
    }
}

fn read_elements<T: Record, B: Buf>(input: &mut B, count: usize) -> Result<Vec<T>, DecodeError> {
    // Every element takes at least one byte, so the bytes left bound the allocation whatever
    // count a peer declares.
    let mut items = Vec::with_capacity(count.min(input.remaining()));
    for _ in 0..count {
        items.push(T::read(input)?);
    }
    Ok(items)
}

/// `vector<T>`; a null decodes as an empty vector.
impl<T: Record> Record for Vec<T> {
    fn write<B: BufMut>(&self, out: &mut B) {
        out.put_i32(len_prefix(self.len()));
        for item in self {
            item.write(out);
        }
    }
    fn read<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        match read_len(input)? {
            Some(count) => read_elements(input, count),
            None => Ok(Vec::new()),
        }
    }
    fn encoded_len(&self) -> usize {
        4 + self.iter().map(Record::encoded_len).sum::<usize>()
    }
}

/// Nullable `vector<T>`: `None` is written as count -1.
impl<T: Record> Record for Option<Vec<T>> {
    fn write<B: BufMut>(&self, out: &mut B) {
        match self {
            Some(items) => items.write(out),
            None => out.put_i32(-1),
        }
    }
    fn read<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        match read_len(input)? {
            Some(count) => read_elements(input, count).map(Some),
            None => Ok(None),
        }
    }
    fn encoded_len(&self) -> usize {
        self.as_ref().map_or(4, Record::encoded_len)
    }
}

/// Declares jute records: plain structs whose encoding is their fields in declaration order.
#[macro_export]
#[doc(hidden)]
macro_rules! record {
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    )*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $crate::Record for $name {
            #[inline]
            fn write<B: ::bytes::BufMut>(&self, _out: &mut B) {
                $( $crate::Record::write(&self.$field, _out); )*
            }
            #[inline]
            fn read<B: ::bytes::Buf>(_input: &mut B) -> Result<Self, $crate::DecodeError> {
                Ok(Self { $( $field: <$ty as $crate::Record>::read(_input)?, )* })
            }
            #[inline]
            fn encoded_len(&self) -> usize {
                0 $( + $crate::Record::encoded_len(&self.$field) )*
            }
        }

        #[cfg(test)]
        impl $crate::testgen::Generate for $name {
            fn strategy() -> ::proptest::strategy::BoxedStrategy<Self> {
                use ::proptest::strategy::Strategy;
                ( $( <$ty as $crate::testgen::Generate>::strategy(), )* )
                    .prop_map(|( $($field,)* )| Self { $($field),* })
                    .boxed()
            }
        }
    )*};
}
