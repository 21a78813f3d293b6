//! The jute binary archive: how primitives, strings, buffers, vectors and records are laid out.
//!
//! Everything is big-endian. Strings and buffers are an `i32` length and the bytes, vectors an `i32`
//! count and the elements; a length of -1 means null. Records are their fields back to back with no
//! header. A null can only be told apart from an empty value where the field is declared nullable
//! (`Option<...>`); elsewhere a null decodes as the empty value.

use std::sync::Arc;

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
    let decode = |raw: &[u8]| match std::str::from_utf8(raw) {
        Ok(s) => s.to_owned(),
        Err(_) => java_utf8_lossy(raw),
    };
    // Straight from the input when the string is in one piece, as it is in a frame.
    if let Some(raw) = input.chunk().get(..len) {
        let s = decode(raw);
        input.advance(len);
        return s;
    }
    decode(&input.copy_to_bytes(len))
}

/// Decodes bytes as Java's `new String(bytes, UTF_8)` (what `BinaryInputArchive.readString` uses)
/// does on JDK 17: every malformed sequence becomes one U+FFFD, with Java's idea of how long the
/// sequence is. This differs from [`String::from_utf8_lossy`] where it matters most: a surrogate
/// encoded in three bytes, which is how Java's writer encodes characters outside the BMP, is one
/// U+FFFD for Java and three for the standard lossy decoding. Checked against the JDK by the
/// golden vectors `data_strings_malformed*`.
pub(crate) fn java_utf8_lossy(src: &[u8]) -> String {
    const REPL: char = '\u{FFFD}';
    let cont = |b: u8| b & 0xc0 == 0x80;
    // A 3-byte lead and its second byte that cannot start a valid sequence (overlong E0 or a
    // non-continuation byte).
    let malformed3_2 = |b1: u8, b2: u8| (b1 == 0xe0 && b2 & 0xe0 == 0x80) || !cont(b2);
    let malformed4_2 = |b1: u8, b2: u8| {
        (b1 == 0xf0 && !(0x90..=0xbf).contains(&b2))
            || (b1 == 0xf4 && b2 & 0xf0 != 0x80)
            || !cont(b2)
    };
    let push = |out: &mut String, c: u32| out.push(char::from_u32(c).unwrap_or(REPL));

    let mut out = String::with_capacity(src.len());
    let end = src.len();
    let mut sp = 0;
    while sp < end {
        let b1 = src[sp];
        sp += 1;
        if b1 < 0x80 {
            out.push(char::from(b1));
        } else if b1 >> 5 == 0b110 && b1 & 0x1e != 0 {
            if sp < end {
                let b2 = src[sp];
                if cont(b2) {
                    sp += 1;
                    push(&mut out, (u32::from(b1 & 0x1f) << 6) | u32::from(b2 & 0x3f));
                } else {
                    out.push(REPL);
                }
                continue;
            }
            out.push(REPL);
            break;
        } else if b1 >> 4 == 0b1110 {
            if sp + 1 < end {
                let (b2, b3) = (src[sp], src[sp + 1]);
                if malformed3_2(b1, b2) {
                    out.push(REPL);
                } else if !cont(b3) {
                    out.push(REPL);
                    sp += 1;
                } else {
                    sp += 2;
                    // Surrogates are not chars: push() turns them into U+FFFD, as Java does.
                    let c = (u32::from(b1 & 0x0f) << 12)
                        | (u32::from(b2 & 0x3f) << 6)
                        | u32::from(b3 & 0x3f);
                    push(&mut out, c);
                }
                continue;
            }
            out.push(REPL);
            if sp < end && malformed3_2(b1, src[sp]) {
                continue;
            }
            break;
        } else if b1 >> 3 == 0b11110 {
            if sp + 2 < end {
                let (b2, b3, b4) = (src[sp], src[sp + 1], src[sp + 2]);
                let c = (u32::from(b1 & 0x07) << 18)
                    | (u32::from(b2 & 0x3f) << 12)
                    | (u32::from(b3 & 0x3f) << 6)
                    | u32::from(b4 & 0x3f);
                if cont(b2) && cont(b3) && cont(b4) && (0x1_0000..=0x10_ffff).contains(&c) {
                    sp += 3;
                    push(&mut out, c);
                } else {
                    out.push(REPL);
                    // Skip what Java counts as the malformed sequence: the lead alone, or the
                    // lead and the continuation bytes that could still belong to it.
                    if !(b1 > 0xf4 || malformed4_2(b1, b2)) {
                        sp += if cont(b3) { 2 } else { 1 };
                    }
                }
                continue;
            }
            out.push(REPL);
            if b1 > 0xf4 || (sp < end && malformed4_2(b1, src[sp])) {
                continue;
            }
            sp += 1;
            if sp < end && !cont(src[sp]) {
                continue;
            }
            break;
        } else {
            out.push(REPL);
        }
    }
    out
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
        write_nullable_buffer(out, Some(self));
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
        write_nullable_buffer(out, self.as_deref());
    }
    fn read<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        Ok(read_byte_len(input)?.map(|len| input.copy_to_bytes(len)))
    }
    fn encoded_len(&self) -> usize {
        4 + self.as_ref().map_or(0, Bytes::len)
    }
}

/// Nullable `buffer` held as a server stores node data: shared without a `Bytes` header.
impl Record for Option<Arc<[u8]>> {
    fn write<B: BufMut>(&self, out: &mut B) {
        write_nullable_buffer(out, self.as_deref());
    }
    fn read<B: Buf>(input: &mut B) -> Result<Self, DecodeError> {
        Ok(read_byte_len(input)?.map(|len| {
            let mut data = vec![0; len];
            input.copy_to_slice(&mut data);
            Arc::from(data)
        }))
    }
    fn encoded_len(&self) -> usize {
        4 + self.as_ref().map_or(0, |b| b.len())
    }
}

/// A `buffer`: -1 for null, else the length and the bytes.
fn write_nullable_buffer<B: BufMut>(out: &mut B, data: Option<&[u8]>) {
    match data {
        Some(b) => {
            out.put_i32(len_prefix(b.len()));
            out.put_slice(b);
        }
        None => out.put_i32(-1),
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
