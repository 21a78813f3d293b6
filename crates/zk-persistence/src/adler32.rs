//! Adler-32 (RFC 1950), the checksum of txn log records and snapshots (`java.util.zip.Adler32`).

const MOD: u32 = 65_521;
/// The most bytes that can be summed before `b` may overflow a u32 (zlib's NMAX).
const NMAX: usize = 5_552;

/// A running Adler-32.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Adler32 {
    a: u32,
    b: u32,
}

impl Default for Adler32 {
    fn default() -> Self {
        Adler32 { a: 1, b: 0 }
    }
}

impl Adler32 {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        let (mut a, mut b) = (self.a, self.b);
        for chunk in data.chunks(NMAX) {
            let mut quads = chunk.chunks_exact(4);
            for q in &mut quads {
                a += u32::from(q[0]);
                b += a;
                a += u32::from(q[1]);
                b += a;
                a += u32::from(q[2]);
                b += a;
                a += u32::from(q[3]);
                b += a;
            }
            for &byte in quads.remainder() {
                a += u32::from(byte);
                b += a;
            }
            a %= MOD;
            b %= MOD;
        }
        self.a = a;
        self.b = b;
    }

    pub(crate) fn value(&self) -> u32 {
        (self.b << 16) | self.a
    }
}

/// The Adler-32 of `data`.
pub fn adler32(data: &[u8]) -> u32 {
    let mut sum = Adler32::new();
    sum.update(data);
    sum.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        // The first txn of a fresh 3.8.0 server (wire-and-disk.md §4.3).
        let payload = [
            0x01, 0x00, 0x00, 0x04, 0xdc, 0xfd, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
            0x00, 0x00, 0x01, 0xa2, 0x19, 0xb6, 0x22, 0x79, 0xff, 0xff, 0xff, 0xf6, 0, 0, 0x75,
            0x30, 0, 0, 0, 2, 0, 0, 0, 0, 0x51, 0xc6, 0xd6, 0x60,
        ];
        assert_eq!(adler32(&payload), 0xd89e_0ad4);
    }

    #[test]
    fn chunked_updates_match_one_shot() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let mut sum = Adler32::new();
        for piece in data.chunks(777) {
            sum.update(piece);
        }
        assert_eq!(sum.value(), adler32(&data));
        // 0xff everywhere is the worst case for overflow.
        let ones = vec![0xffu8; 3 * NMAX + 11];
        let mut slow = (1u64, 0u64);
        for &byte in &ones {
            slow.0 = (slow.0 + u64::from(byte)) % 65_521;
            slow.1 = (slow.1 + slow.0) % 65_521;
        }
        assert_eq!(adler32(&ones), ((slow.1 << 16) | slow.0) as u32);
    }
}
