//! Byte-level reading and writing: little-endian integers, CompactSize, length-checked counts.
//!
//! Every read is bounds-checked against the bytes present, and every count read
//! from the wire is checked against both a protocol limit and the bytes that
//! remain before anything is allocated from it.

use super::error::{DecodeError, DecodeErrorKind};

/// A cursor over an untrusted payload.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Current offset from the start of the payload.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// An error about `field` at the current position.
    pub fn error(&self, kind: DecodeErrorKind, field: &'static str) -> DecodeError {
        DecodeError::new(kind, field, self.pos)
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(self.error(
                DecodeErrorKind::Truncated {
                    needed: n,
                    available: self.remaining(),
                },
                field,
            ));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Everything that remains.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    /// A byte that must be 0 or 1.
    pub fn bool(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        match self.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => {
                self.pos -= 1;
                Err(self.error(
                    DecodeErrorKind::Invalid("boolean byte is not 0 or 1"),
                    field,
                ))
            }
        }
    }

    /// u16, big-endian (ports).
    pub fn u16_be(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    /// i16, little-endian.
    pub fn i16_le(&mut self, field: &'static str) -> Result<i16, DecodeError> {
        Ok(i16::from_le_bytes(self.array(field)?))
    }

    /// u32, little-endian.
    pub fn u32_le(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    /// i32, little-endian.
    pub fn i32_le(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_le_bytes(self.array(field)?))
    }

    /// u64, little-endian.
    pub fn u64_le(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// i64, little-endian.
    pub fn i64_le(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array(field)?))
    }

    /// A CompactSize, rejecting non-minimal encodings as Dash Core does.
    pub fn compact_size(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let start = self.pos;
        let first = self.u8(field)?;
        let (value, min) = match first {
            0..=0xfc => return Ok(u64::from(first)),
            0xfd => (u64::from(u16::from_le_bytes(self.array(field)?)), 0xfd),
            0xfe => (u64::from(u32::from_le_bytes(self.array(field)?)), 0x1_0000),
            0xff => (u64::from_le_bytes(self.array(field)?), 0x1_0000_0000),
        };
        if value < min {
            return Err(DecodeError::new(
                DecodeErrorKind::NonCanonicalCompactSize,
                field,
                start,
            ));
        }
        Ok(value)
    }

    /// A CompactSize count of items, each at least `min_item_len` bytes long.
    ///
    /// Fails when the count exceeds `max` or when the remaining bytes could not
    /// hold that many items, so the caller may allocate `count` items safely.
    pub fn count(
        &mut self,
        field: &'static str,
        max: usize,
        min_item_len: usize,
    ) -> Result<usize, DecodeError> {
        let start = self.pos;
        let count = self.compact_size(field)?;
        if count > max as u64 {
            return Err(DecodeError::new(
                DecodeErrorKind::TooMany {
                    count,
                    max: max as u64,
                },
                field,
                start,
            ));
        }
        let count = count as usize;
        let possible = self.remaining() / min_item_len.max(1);
        if count > possible {
            return Err(DecodeError::new(
                DecodeErrorKind::TooMany {
                    count: count as u64,
                    max: possible as u64,
                },
                field,
                start,
            ));
        }
        Ok(count)
    }

    /// CompactSize-prefixed bytes of at most `max` bytes.
    pub fn var_bytes(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        let len = self.compact_size(field)?;
        if len > max as u64 {
            return Err(DecodeError::new(
                DecodeErrorKind::TooLong {
                    len,
                    max: max as u64,
                },
                field,
                start,
            ));
        }
        self.take(len as usize, field)
    }

    /// Fails if any bytes remain.
    pub fn finish(&self, field: &'static str) -> Result<(), DecodeError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.error(
                DecodeErrorKind::TrailingBytes {
                    count: self.remaining(),
                },
                field,
            ))
        }
    }
}

/// Appends `n` as a minimal CompactSize.
pub fn put_compact_size(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xfc => out.push(n as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

/// Appends CompactSize-prefixed bytes.
pub fn put_var_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_compact_size(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// The encoded length of a CompactSize.
pub fn compact_size_len(n: u64) -> usize {
    match n {
        0..=0xfc => 1,
        0xfd..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_size_boundaries_round_trip() {
        for n in [
            0u64,
            0xfc,
            0xfd,
            0xffff,
            0x1_0000,
            0xffff_ffff,
            0x1_0000_0000,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_compact_size(&mut out, n);
            assert_eq!(out.len(), compact_size_len(n));
            let mut r = Reader::new(&out);
            assert_eq!(r.compact_size("n").unwrap(), n);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn non_canonical_compact_size_is_rejected() {
        for bytes in [
            &[0xfd, 0xfc, 0x00][..],
            &[0xfe, 0xff, 0xff, 0x00, 0x00],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0],
        ] {
            let err = Reader::new(bytes).compact_size("n").unwrap_err();
            assert_eq!(err.kind, DecodeErrorKind::NonCanonicalCompactSize);
            assert_eq!(err.offset, 0);
        }
    }

    #[test]
    fn huge_count_in_small_payload_fails_before_allocation() {
        // 4 billion items claimed, 10 bytes present.
        let bytes = [0xfe, 0x00, 0x28, 0x6b, 0xee, 1, 2, 3, 4, 5];
        let err = Reader::new(&bytes)
            .count("items", usize::MAX, 1)
            .unwrap_err();
        assert!(matches!(err.kind, DecodeErrorKind::TooMany { max: 5, .. }));
        let err = Reader::new(&bytes).count("items", 1000, 1).unwrap_err();
        assert!(matches!(
            err.kind,
            DecodeErrorKind::TooMany { max: 1000, .. }
        ));
    }
}
