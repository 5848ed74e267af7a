//! The 80-byte block header, its X11 hash, compact targets, proof of work and linkage.

use std::fmt;

use super::codec::Reader;
use super::error::DecodeError;
use super::hash::{Hash256, x11};

/// Size of a serialized block header.
pub const HEADER_LEN: usize = 80;

/// A Dash block header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BlockHeader {
    /// Block version (BIP9 bits).
    pub version: i32,
    /// Hash of the previous block.
    pub prev_blockhash: Hash256,
    /// Merkle root of the block's transactions.
    pub merkle_root: Hash256,
    /// Block time, seconds since the epoch.
    pub time: u32,
    /// Target in compact form.
    pub bits: u32,
    /// Nonce.
    pub nonce: u32,
}

impl BlockHeader {
    /// The 80 bytes that are hashed.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&self.version.to_le_bytes());
        out[4..36].copy_from_slice(&self.prev_blockhash.0);
        out[36..68].copy_from_slice(&self.merkle_root.0);
        out[68..72].copy_from_slice(&self.time.to_le_bytes());
        out[72..76].copy_from_slice(&self.bits.to_le_bytes());
        out[76..80].copy_from_slice(&self.nonce.to_le_bytes());
        out
    }

    /// Parses exactly 80 bytes.
    pub fn from_bytes(bytes: &[u8; HEADER_LEN]) -> BlockHeader {
        let u32_at =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let mut prev = [0u8; 32];
        prev.copy_from_slice(&bytes[4..36]);
        let mut merkle = [0u8; 32];
        merkle.copy_from_slice(&bytes[36..68]);
        BlockHeader {
            version: u32_at(0) as i32,
            prev_blockhash: Hash256(prev),
            merkle_root: Hash256(merkle),
            time: u32_at(68),
            bits: u32_at(72),
            nonce: u32_at(76),
        }
    }

    pub(crate) fn read(
        r: &mut Reader<'_>,
        field: &'static str,
    ) -> Result<BlockHeader, DecodeError> {
        Ok(BlockHeader::from_bytes(&r.array(field)?))
    }

    /// The block hash: X11 of the 80 bytes.
    pub fn block_hash(&self) -> Hash256 {
        x11(&self.to_bytes())
    }

    /// Checks that the hash meets the target in `bits` and that the target is no easier than
    /// `pow_limit_bits`. Computes the hash and returns it. It cannot tell whether `bits` is
    /// the difficulty the chain requires at this height (Dark Gravity Wave v3 over the last
    /// 24 blocks): that needs the headers before it, and is left to the app.
    pub fn check_pow(&self, pow_limit_bits: u32) -> Result<Hash256, HeaderError> {
        let hash = self.block_hash();
        check_pow_of(self, &hash, pow_limit_bits)?;
        Ok(hash)
    }
}

/// A header together with its X11 hash.
///
/// The hash is computed when the value is built, so it always belongs to the header
/// (except through [`HashedHeader::from_trusted_parts`], for caches that already hold it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashedHeader {
    header: BlockHeader,
    hash: Hash256,
}

impl HashedHeader {
    /// Hashes `header`.
    pub fn new(header: BlockHeader) -> Self {
        HashedHeader {
            hash: header.block_hash(),
            header,
        }
    }

    /// Pairs a header with a hash the caller already computed from it.
    pub fn from_trusted_parts(header: BlockHeader, hash: Hash256) -> Self {
        HashedHeader { header, hash }
    }

    /// The header.
    pub fn header(&self) -> &BlockHeader {
        &self.header
    }

    /// Its X11 hash.
    pub fn hash(&self) -> Hash256 {
        self.hash
    }
}

/// Why a header or a list of headers is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// `bits` is negative, zero or overflows 256 bits.
    BadTarget {
        /// The compact target.
        bits: u32,
    },
    /// The target is easier than the network allows.
    TargetAboveLimit {
        /// The compact target.
        bits: u32,
    },
    /// The hash is above the target.
    HashAboveTarget {
        /// The header's hash.
        hash: Hash256,
    },
    /// A header's prev_blockhash is not the hash of the header before it.
    BrokenLink {
        /// Index of the header in the list.
        index: usize,
    },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::BadTarget { bits } => write!(f, "invalid compact target {bits:#010x}"),
            HeaderError::TargetAboveLimit { bits } => {
                write!(f, "target {bits:#010x} is easier than the network's limit")
            }
            HeaderError::HashAboveTarget { hash } => {
                write!(f, "hash {hash} does not meet its target")
            }
            HeaderError::BrokenLink { index } => {
                write!(f, "header {index} does not link to the header before it")
            }
        }
    }
}

impl std::error::Error for HeaderError {}

/// A 256-bit target as a little-endian byte array (the same order as a hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target(pub [u8; 32]);

impl Target {
    /// Decodes compact `bits` as Bitcoin and Dash do. `None` for a negative, zero or
    /// overflowing target.
    pub fn from_compact(bits: u32) -> Option<Target> {
        let exponent = (bits >> 24) as usize;
        let mantissa = bits & 0x007f_ffff;
        if bits & 0x0080_0000 != 0 && mantissa != 0 {
            return None; // negative
        }
        let mut out = [0u8; 32];
        if exponent <= 3 {
            let m = mantissa >> (8 * (3 - exponent));
            out[..4].copy_from_slice(&m.to_le_bytes());
        } else {
            let m = mantissa.to_le_bytes();
            for (i, byte) in m.iter().take(3).enumerate() {
                let pos = exponent - 3 + i;
                if *byte != 0 {
                    if pos >= 32 {
                        return None; // overflow
                    }
                    out[pos] = *byte;
                }
            }
        }
        if out == [0u8; 32] {
            return None;
        }
        Some(Target(out))
    }

    /// True when `hash`, read as a little-endian number, is at most this target.
    pub fn is_met_by(&self, hash: &Hash256) -> bool {
        le_cmp(&hash.0, &self.0) != std::cmp::Ordering::Greater
    }
}

fn le_cmp(a: &[u8; 32], b: &[u8; 32]) -> std::cmp::Ordering {
    a.iter().rev().cmp(b.iter().rev())
}

/// Proof-of-work check for a header whose hash is already known.
pub fn check_pow_of(
    header: &BlockHeader,
    hash: &Hash256,
    pow_limit_bits: u32,
) -> Result<(), HeaderError> {
    let bits = header.bits;
    let target = Target::from_compact(bits).ok_or(HeaderError::BadTarget { bits })?;
    let limit = Target::from_compact(pow_limit_bits).ok_or(HeaderError::BadTarget {
        bits: pow_limit_bits,
    })?;
    if le_cmp(&target.0, &limit.0) == std::cmp::Ordering::Greater {
        return Err(HeaderError::TargetAboveLimit { bits });
    }
    if !target.is_met_by(hash) {
        return Err(HeaderError::HashAboveTarget { hash: *hash });
    }
    Ok(())
}

/// Checks that each header links to the one before it; the first must link to `prev`
/// when it is given.
pub fn check_linkage(headers: &[HashedHeader], prev: Option<Hash256>) -> Result<(), HeaderError> {
    let mut expected = prev;
    for (index, h) in headers.iter().enumerate() {
        if let Some(e) = expected
            && h.header.prev_blockhash != e
        {
            return Err(HeaderError::BrokenLink { index });
        }
        expected = Some(h.hash);
    }
    Ok(())
}

/// Proof of work of every header, then linkage (the first to `prev` when given).
pub fn validate_headers(
    headers: &[HashedHeader],
    prev: Option<Hash256>,
    pow_limit_bits: u32,
) -> Result<(), HeaderError> {
    for h in headers {
        check_pow_of(&h.header, &h.hash, pow_limit_bits)?;
    }
    check_linkage(headers, prev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_targets_decode() {
        let t = Target::from_compact(0x207f_ffff).unwrap();
        assert_eq!(&t.0[29..], &[0xff, 0xff, 0x7f]);
        assert!(t.0[..29].iter().all(|b| *b == 0));
        let t = Target::from_compact(0x1e0f_ffff).unwrap();
        assert_eq!(&t.0[27..], &[0xff, 0xff, 0x0f, 0, 0]);
        let t = Target::from_compact(0x0200_8000).unwrap(); // 0x80 after shifting
        assert_eq!(t.0[0], 0x80);
        assert_eq!(Target::from_compact(0x0480_0001), None); // negative
        assert_eq!(Target::from_compact(0x2301_0000), None); // overflow
        assert_eq!(Target::from_compact(0), None); // zero
    }

    #[test]
    fn header_bytes_round_trip() {
        let h = BlockHeader {
            version: -2,
            prev_blockhash: Hash256([1; 32]),
            merkle_root: Hash256([2; 32]),
            time: 3,
            bits: 4,
            nonce: 5,
        };
        assert_eq!(BlockHeader::from_bytes(&h.to_bytes()), h);
    }
}
