//! headers2: DIP-0025 compressed headers, both ways.
//!
//! Each header starts with a flags byte:
//! - bits 0-2: 0 = a full version follows (and is pushed to the front of a
//!   most-recently-used list of 7 versions); 1..=7 = the version is entry n-1 of
//!   that list, which moves to the front;
//! - 0x08: prev_block present (else it is the X11 of the previous header);
//! - 0x10: time is a full u32 (else an i16 delta from the previous header's time);
//! - 0x20: bits present (else the previous header's bits);
//! - bits 6-7 must be zero.
//!
//! All state starts fresh with every message, and the first header is always sent
//! whole. The decoder records the first header's version in its list; Dash Core's
//! encoder does not, so its second header carries a full version. Our encoder does
//! the same, so its output is byte-identical to Dash Core's. The two lists stay
//! compatible: the decoder's list is always the encoder's list plus older entries
//! at the back, so every index the encoder uses means the same version to both.

use super::codec::{Reader, compact_size_len, put_compact_size};
use super::error::{DecodeError, DecodeErrorKind};
use super::hash::Hash256;
use super::header::{BlockHeader, HashedHeader};

const VERSION_MASK: u8 = 0b0000_0111;
const PREV_PRESENT: u8 = 0x08;
const TIME_FULL: u8 = 0x10;
const BITS_PRESENT: u8 = 0x20;
const RESERVED: u8 = 0xc0;
/// The flags of a header sent whole.
pub const UNCOMPRESSED: u8 = PREV_PRESENT | TIME_FULL | BITS_PRESENT;
/// The smallest compressed header: flags, merkle root, time delta, nonce.
pub const MIN_COMPRESSED_LEN: usize = 1 + 32 + 2 + 4;
/// The most headers one headers2 message may carry (from protocol 70235; 2000 before).
pub const MAX_HEADERS2: usize = 8000;

/// The last seven distinct versions, most recent first.
#[derive(Default)]
struct RecentVersions {
    items: [i32; 7],
    len: usize,
}

impl RecentVersions {
    fn push_front(&mut self, version: i32) {
        self.items.copy_within(0..6, 1);
        self.items[0] = version;
        self.len = (self.len + 1).min(7);
    }

    fn move_to_front(&mut self, index: usize) -> i32 {
        let v = self.items[index];
        self.items.copy_within(0..index, 1);
        self.items[0] = v;
        v
    }

    fn position(&self, version: i32) -> Option<usize> {
        self.items[..self.len].iter().position(|v| *v == version)
    }
}

/// Decodes a headers2 payload (count first) into headers with their X11 hashes.
/// More than `max` headers is an error.
pub fn decode(r: &mut Reader<'_>, max: usize) -> Result<Vec<HashedHeader>, DecodeError> {
    let count = r.count("headers2.count", max, MIN_COMPRESSED_LEN)?;
    let mut out: Vec<HashedHeader> = Vec::with_capacity(count);
    let mut versions = RecentVersions::default();
    for _ in 0..count {
        let start = r.position();
        let flags = r.u8("headers2.flags")?;
        if flags & RESERVED != 0 {
            return Err(DecodeError::new(
                DecodeErrorKind::Invalid("reserved flag bits 6-7 are set"),
                "headers2.flags",
                start,
            ));
        }
        let prev = out.last();
        let Some(prev) = prev else {
            if flags != UNCOMPRESSED {
                return Err(DecodeError::new(
                    DecodeErrorKind::Invalid(
                        "the first header of a headers2 message must be uncompressed",
                    ),
                    "headers2.flags",
                    start,
                ));
            }
            let header = BlockHeader::read(r, "headers2.header")?;
            versions.push_front(header.version);
            out.push(HashedHeader::new(header));
            continue;
        };
        let version = match (flags & VERSION_MASK) as usize {
            0 => {
                let v = r.i32_le("headers2.version")?;
                versions.push_front(v);
                v
            }
            n if n <= versions.len => versions.move_to_front(n - 1),
            _ => {
                return Err(DecodeError::new(
                    DecodeErrorKind::Invalid("version index beyond the recent-versions list"),
                    "headers2.flags",
                    start,
                ));
            }
        };
        let prev_blockhash = if flags & PREV_PRESENT != 0 {
            Hash256(r.array("headers2.prev_block")?)
        } else {
            prev.hash()
        };
        let merkle_root = Hash256(r.array("headers2.merkle_root")?);
        let time = if flags & TIME_FULL != 0 {
            r.u32_le("headers2.time")?
        } else {
            prev.header()
                .time
                .wrapping_add_signed(i32::from(r.i16_le("headers2.time_delta")?))
        };
        let bits = if flags & BITS_PRESENT != 0 {
            r.u32_le("headers2.bits")?
        } else {
            prev.header().bits
        };
        let nonce = r.u32_le("headers2.nonce")?;
        out.push(HashedHeader::new(BlockHeader {
            version,
            prev_blockhash,
            merkle_root,
            time,
            bits,
            nonce,
        }));
    }
    Ok(out)
}

/// Encodes `headers` as a headers2 payload, compressed exactly as Dash Core does.
pub fn encode(headers: &[HashedHeader], out: &mut Vec<u8>) {
    out.reserve(compact_size_len(headers.len() as u64) + headers.len() * 48);
    put_compact_size(out, headers.len() as u64);
    let mut versions = RecentVersions::default();
    let mut prev: Option<&HashedHeader> = None;
    for hh in headers {
        let h = hh.header();
        let Some(p) = prev else {
            // Sent whole; like Dash Core's sender, not recorded in the version list.
            out.push(UNCOMPRESSED);
            out.extend_from_slice(&h.to_bytes());
            prev = Some(hh);
            continue;
        };
        let flags_at = out.len();
        let mut flags = 0u8;
        out.push(0);
        match versions.position(h.version) {
            Some(i) => {
                versions.move_to_front(i);
                flags |= (i + 1) as u8;
            }
            None => {
                versions.push_front(h.version);
                out.extend_from_slice(&h.version.to_le_bytes());
            }
        }
        if h.prev_blockhash != p.hash() {
            flags |= PREV_PRESENT;
            out.extend_from_slice(&h.prev_blockhash.0);
        }
        out.extend_from_slice(&h.merkle_root.0);
        match i16::try_from(i64::from(h.time) - i64::from(p.header().time)) {
            Ok(delta) => out.extend_from_slice(&delta.to_le_bytes()),
            Err(_) => {
                flags |= TIME_FULL;
                out.extend_from_slice(&h.time.to_le_bytes());
            }
        }
        if h.bits != p.header().bits {
            flags |= BITS_PRESENT;
            out.extend_from_slice(&h.bits.to_le_bytes());
        }
        out.extend_from_slice(&h.nonce.to_le_bytes());
        out[flags_at] = flags;
        prev = Some(hh);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(versions: &[i32]) -> Vec<HashedHeader> {
        let mut out: Vec<HashedHeader> = Vec::new();
        for (i, v) in versions.iter().enumerate() {
            let prev = out.last().map(|h| h.hash()).unwrap_or_default();
            out.push(HashedHeader::new(BlockHeader {
                version: *v,
                prev_blockhash: prev,
                merkle_root: Hash256([i as u8; 32]),
                time: 1_000_000 + 150 * i as u32,
                bits: 0x207f_ffff,
                nonce: i as u32,
            }));
        }
        out
    }

    fn round_trip(headers: &[HashedHeader]) -> Vec<HashedHeader> {
        let mut bytes = Vec::new();
        encode(headers, &mut bytes);
        let mut r = Reader::new(&bytes);
        let back = decode(&mut r, MAX_HEADERS2).unwrap();
        assert!(r.is_empty());
        back
    }

    #[test]
    fn version_list_keeps_seven_and_indexes_agree() {
        let versions = [1, 2, 3, 4, 5, 6, 7, 8, 9, 3, 9, 1, 2, 1, 10, 4, 4, 4];
        let c = chain(&versions);
        assert_eq!(round_trip(&c), c);
    }

    #[test]
    fn out_of_range_version_index_is_an_error() {
        let c = chain(&[5, 5]);
        let mut bytes = Vec::new();
        encode(&c, &mut bytes);
        // Second header: full version (flags 0). Make it claim index 2 of a 1-entry list.
        let second = 1 + 81;
        assert_eq!(bytes[second], 0);
        bytes[second] = 2;
        bytes.drain(second + 1..second + 5);
        let err = decode(&mut Reader::new(&bytes), MAX_HEADERS2).unwrap_err();
        assert_eq!(err.field, "headers2.flags");
        assert_eq!(err.offset, second);
    }

    #[test]
    fn compressed_first_header_is_an_error() {
        let c = chain(&[5]);
        let mut bytes = Vec::new();
        encode(&c, &mut bytes);
        bytes[1] = 0x30;
        let err = decode(&mut Reader::new(&bytes), MAX_HEADERS2).unwrap_err();
        assert!(matches!(err.kind, DecodeErrorKind::Invalid(_)));
    }
}
