//! 256-bit hashes: SHA256d (checksums, txids) and X11 (block hashes).

use std::fmt;

use dash_pow::X11;
use sha2::{Digest, Sha256};

/// A 256-bit hash in internal (wire) byte order. It displays byte-reversed, as Dash Core shows it.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash256(pub [u8; 32]);

impl Hash256 {
    /// All zero bytes (the "no stop hash" / genesis-prev value).
    pub const ZERO: Hash256 = Hash256([0; 32]);

    /// Concatenated 32-byte hashes (wire order); None unless the length is a multiple of 32.
    pub fn list_from_bytes(bytes: &[u8]) -> Option<Vec<Hash256>> {
        if !bytes.len().is_multiple_of(32) {
            return None;
        }
        Some(
            bytes
                .chunks_exact(32)
                .map(|c| {
                    let mut h = [0u8; 32];
                    h.copy_from_slice(c);
                    Hash256(h)
                })
                .collect(),
        )
    }

    /// Parses the byte-reversed hex that Dash Core displays.
    pub fn from_display_hex(s: &str) -> Option<Hash256> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).ok()?;
        bytes.reverse();
        Some(Hash256(bytes))
    }

    /// The byte-reversed hex that Dash Core displays.
    pub fn to_display_hex(&self) -> String {
        let mut bytes = self.0;
        bytes.reverse();
        hex::encode(bytes)
    }
}

impl fmt::Display for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_display_hex())
    }
}

impl fmt::Debug for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash256({})", self.to_display_hex())
    }
}

/// SHA256(SHA256(data)).
pub fn sha256d(data: &[u8]) -> Hash256 {
    let first = Sha256::digest(data);
    Hash256(Sha256::digest(first).into())
}

/// The first four bytes of SHA256d: the frame checksum.
pub fn checksum(data: &[u8]) -> [u8; 4] {
    let h = sha256d(data);
    [h.0[0], h.0[1], h.0[2], h.0[3]]
}

/// X11 of `data` (Dash's block hash), via the `dash-pow` crate.
pub fn x11(data: &[u8]) -> Hash256 {
    Hash256(X11::digest(data).into())
}

/// True when this build uses dash-pow's hardware-accelerated X11 (see `.cargo/config.toml`).
pub const X11_ACCELERATED: bool = cfg!(any(
    all(
        target_arch = "x86_64",
        target_feature = "aes",
        target_feature = "avx",
        target_feature = "avx2",
        target_feature = "bmi1",
        target_feature = "bmi2",
        target_feature = "f16c",
        target_feature = "fma",
        target_feature = "lzcnt",
        target_feature = "movbe",
        target_feature = "xsave"
    ),
    all(
        target_arch = "aarch64",
        target_endian = "little",
        target_feature = "neon",
        target_feature = "aes"
    )
));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_payload_checksum_matches_protocol() {
        assert_eq!(checksum(&[]), [0x5d, 0xf6, 0xe0, 0xe2]);
    }

    #[test]
    fn display_hex_round_trips() {
        let s = "00000ffd590b1485b3caadc19b22e6379c733355108f107a430458cdf3407ab6";
        let h = Hash256::from_display_hex(s).unwrap();
        assert_eq!(h.0[31], 0x00);
        assert_eq!(h.0[0], 0xb6);
        assert_eq!(h.to_string(), s);
        assert!(Hash256::from_display_hex("zz").is_none());
    }
}
