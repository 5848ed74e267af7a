//! The simulated node's chain: a deterministic regtest chain whose headers satisfy
//! regtest proof of work.
//!
//! It is built by the same rule as the chain in Dash Core's test-framework vectors
//! (`regtest-chain-const.tsv`): for height h >= 1, version 0x20000000, prev = X11 of
//! header h-1, merkle = SHA256d("dash-oracle-merkle" || u32le h), time = genesis time
//! plus 150 h, the genesis bits, and the first nonce from 0 up that meets the target.
//!
//! Mining costs about two X11 per header, so chains are cached: in memory for the
//! process, and on disk in the temp folder (checked on load).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use crate::wire::header::check_pow_of;
use crate::wire::{BlockHeader, Hash256, HashedHeader, Network, sha256d};

/// The regtest genesis header.
pub fn regtest_genesis() -> BlockHeader {
    BlockHeader {
        version: 1,
        prev_blockhash: Hash256::ZERO,
        merkle_root: Hash256::from_display_hex(
            "e0028eb9648db56b1ac77cf090b99048a8007e2bb64b68f092c03c7f56a662c7",
        )
        .unwrap_or_default(),
        time: 1_417_713_337,
        bits: 0x207f_ffff,
        nonce: 1_096_447,
    }
}

/// A chain from genesis (height 0) to its tip, kept compact: per height only its nonce and
/// hash (36 bytes; the rest of a header follows from its height and the previous hash),
/// and a hash-to-height index keyed by the hash's first 8 bytes. 2,400,000 headers (mainnet
/// scale) take about 130 MB this way, against about 380 MB as `HashedHeader`s with a full
/// index.
#[derive(Debug)]
pub struct Chain {
    nonces: Vec<u32>,
    hashes: Vec<Hash256>,
    index: HashMap<u64, u32>,
}

fn key(hash: &Hash256) -> u64 {
    u64::from_le_bytes(hash.0[..8].try_into().expect("8 bytes"))
}

impl Chain {
    /// The tip height.
    pub fn tip_height(&self) -> u32 {
        (self.hashes.len() - 1) as u32
    }

    /// The hash of block `height` (panics above the tip).
    pub fn hash(&self, height: u32) -> Hash256 {
        self.hashes[height as usize]
    }

    /// Block `height`'s header and hash (panics above the tip).
    pub fn header(&self, height: u32) -> HashedHeader {
        if height == 0 {
            return HashedHeader::from_trusted_parts(regtest_genesis(), self.hashes[0]);
        }
        let mut h = header_at(height, self.hashes[height as usize - 1]);
        h.nonce = self.nonces[height as usize];
        HashedHeader::from_trusted_parts(h, self.hashes[height as usize])
    }

    /// Headers `first..=last` (panics above the tip; empty when `first > last`).
    pub fn headers(&self, first: u32, last: u32) -> Vec<HashedHeader> {
        (first..=last).map(|h| self.header(h)).collect()
    }

    /// The height of `hash`, if it is in this chain.
    pub fn height_of(&self, hash: &Hash256) -> Option<u32> {
        self.index
            .get(&key(hash))
            .copied()
            .filter(|h| self.hashes[*h as usize] == *hash)
    }

    fn from_parts(nonces: Vec<u32>, hashes: Vec<Hash256>) -> Chain {
        let mut index = HashMap::with_capacity(hashes.len());
        for (h, hash) in hashes.iter().enumerate() {
            // Deterministic chain: a clash of 64-bit prefixes would show on every run.
            let clash = index.insert(key(hash), h as u32);
            assert!(
                clash.is_none(),
                "two block hashes share their first 8 bytes"
            );
        }
        Chain {
            nonces,
            hashes,
            index,
        }
    }

    fn push(&mut self, header: &HashedHeader) {
        let h = self.hashes.len() as u32;
        self.nonces.push(header.header().nonce);
        self.hashes.push(header.hash());
        let clash = self.index.insert(key(&header.hash()), h);
        assert!(
            clash.is_none(),
            "two block hashes share their first 8 bytes"
        );
    }
}

fn header_at(height: u32, prev: Hash256) -> BlockHeader {
    let genesis = regtest_genesis();
    let mut seed = b"dash-oracle-merkle".to_vec();
    seed.extend_from_slice(&height.to_le_bytes());
    BlockHeader {
        version: 0x2000_0000,
        prev_blockhash: prev,
        merkle_root: sha256d(&seed),
        time: genesis.time + 150 * height,
        bits: genesis.bits,
        nonce: 0,
    }
}

fn mine(height: u32, prev: Hash256) -> HashedHeader {
    let limit = Network::Regtest.pow_limit_bits();
    let mut h = header_at(height, prev);
    loop {
        let hash = h.block_hash();
        if check_pow_of(&h, &hash, limit).is_ok() {
            return HashedHeader::from_trusted_parts(h, hash);
        }
        h.nonce += 1;
    }
}

fn cache_path() -> PathBuf {
    std::env::temp_dir().join("dashnet-sim-regtest-chain-v1.bin")
}

/// Reads the disk cache, (nonce, hash) per height from 1: (nonces, hashes) from genesis.
/// Every 997th header is rebuilt and hashed; a bad cache is thrown away.
fn load_cache() -> (Vec<u32>, Vec<Hash256>) {
    let genesis = regtest_genesis();
    let fresh = || (vec![genesis.nonce], vec![genesis.block_hash()]);
    let Ok(file) = std::fs::File::open(cache_path()) else {
        return fresh();
    };
    let n = file.metadata().map_or(0, |m| m.len() / 36) as usize;
    let (mut nonces, mut hashes) = fresh();
    nonces.reserve(n);
    hashes.reserve(n);
    // Streamed: the file is never held whole beside the chain.
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut rec = [0u8; 36];
    for i in 0..n {
        if reader.read_exact(&mut rec).is_err() {
            return fresh();
        }
        let height = i as u32 + 1;
        let nonce = u32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]);
        let hash = Hash256(rec[4..].try_into().expect("32 bytes"));
        if height % 997 == 1 {
            let mut h = header_at(height, hashes[i]);
            h.nonce = nonce;
            if h.block_hash() != hash {
                return fresh();
            }
        }
        nonces.push(nonce);
        hashes.push(hash);
    }
    (nonces, hashes)
}

fn save_cache(chain: &Chain) {
    let mut bytes = Vec::with_capacity(chain.hashes.len() * 36);
    for (nonce, hash) in chain.nonces.iter().zip(&chain.hashes).skip(1) {
        bytes.extend_from_slice(&nonce.to_le_bytes());
        bytes.extend_from_slice(&hash.0);
    }
    // Write to a unique temp name and rename, so concurrent processes never see half a file.
    let tmp = cache_path().with_extension(format!("tmp{}", std::process::id()));
    let ok = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(&bytes))
        .is_ok();
    if ok {
        let _ = std::fs::rename(&tmp, cache_path());
    } else {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// The chain up to `tip` (at least), shared by every sim in this process and, through the
/// disk cache in the temp folder, by every process: mined once (about 2 X11 per header),
/// then loaded (a 2,400,000-header chain in about a second).
pub fn regtest_chain(tip: u32) -> Arc<Chain> {
    static CACHE: OnceLock<Mutex<Option<Arc<Chain>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(None));
    let mut guard = cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = guard.as_ref()
        && c.tip_height() >= tip
    {
        return c.clone();
    }
    let mut chain = match guard.take() {
        Some(c) => Arc::try_unwrap(c).unwrap_or_else(|c| Chain {
            nonces: c.nonces.clone(),
            hashes: c.hashes.clone(),
            index: c.index.clone(),
        }),
        None => {
            let (nonces, hashes) = load_cache();
            Chain::from_parts(nonces, hashes)
        }
    };
    let had = chain.hashes.len();
    while chain.hashes.len() <= tip as usize {
        let height = chain.hashes.len() as u32;
        let prev = chain.hashes[height as usize - 1];
        let header = mine(height, prev);
        chain.push(&header);
    }
    if chain.hashes.len() > had {
        save_cache(&chain);
    }
    let chain = Arc::new(chain);
    *guard = Some(chain.clone());
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compact_chain_rebuilds_every_header_and_finds_every_hash() {
        let chain = regtest_chain(3000);
        assert!(chain.tip_height() >= 3000);
        let limit = Network::Regtest.pow_limit_bits();
        for h in 0..=3000u32 {
            let hh = chain.header(h);
            assert_eq!(hh.hash(), chain.hash(h), "height {h}");
            if h > 0 {
                assert_eq!(hh.header().prev_blockhash, chain.hash(h - 1), "height {h}");
            }
            if h % 97 == 0 {
                // Rebuilt bytes hash to the stored hash, which meets regtest's target.
                assert_eq!(hh.header().block_hash(), hh.hash(), "height {h}");
                assert!(check_pow_of(hh.header(), &hh.hash(), limit).is_ok());
            }
            assert_eq!(chain.height_of(&chain.hash(h)), Some(h));
        }
        assert_eq!(chain.header(0).header(), &regtest_genesis());
        // Same first 8 bytes, another hash: not in the chain.
        let mut other = chain.hash(1234);
        other.0[31] ^= 1;
        assert_eq!(chain.height_of(&other), None);
        assert_eq!(
            chain
                .headers(10, 12)
                .iter()
                .map(|h| h.hash())
                .collect::<Vec<_>>(),
            vec![chain.hash(10), chain.hash(11), chain.hash(12)]
        );
    }
}
