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
use std::io::Write;
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

/// A chain from genesis (height 0) to its tip, with a hash-to-height index.
#[derive(Debug)]
pub struct Chain {
    headers: Vec<HashedHeader>,
    index: HashMap<Hash256, u32>,
}

impl Chain {
    /// Headers 0..=tip.
    pub fn headers(&self) -> &[HashedHeader] {
        &self.headers
    }

    /// The tip height.
    pub fn tip_height(&self) -> u32 {
        (self.headers.len() - 1) as u32
    }

    /// The height of `hash`, if it is in this chain.
    pub fn height_of(&self, hash: &Hash256) -> Option<u32> {
        self.index.get(hash).copied()
    }

    fn from_headers(headers: Vec<HashedHeader>) -> Chain {
        let index = headers
            .iter()
            .enumerate()
            .map(|(h, hh)| (hh.hash(), h as u32))
            .collect();
        Chain { headers, index }
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

/// Reads the disk cache: (nonce, hash) per height from 1. Spot-checks hashes.
fn load_cache() -> Vec<HashedHeader> {
    let mut out = vec![HashedHeader::new(regtest_genesis())];
    let Ok(bytes) = std::fs::read(cache_path()) else {
        return out;
    };
    for (i, rec) in bytes.chunks_exact(36).enumerate() {
        let height = i as u32 + 1;
        let prev = out[i].hash();
        let mut h = header_at(height, prev);
        h.nonce = u32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]);
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&rec[4..]);
        let hash = Hash256(hash);
        // Check every 997th header fully; a bad cache is thrown away.
        if height % 997 == 1 && h.block_hash() != hash {
            return vec![HashedHeader::new(regtest_genesis())];
        }
        out.push(HashedHeader::from_trusted_parts(h, hash));
    }
    out
}

fn save_cache(headers: &[HashedHeader]) {
    let mut bytes = Vec::with_capacity(headers.len() * 36);
    for h in &headers[1..] {
        bytes.extend_from_slice(&h.header().nonce.to_le_bytes());
        bytes.extend_from_slice(&h.hash().0);
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

/// The chain up to `tip` (at least), shared by every sim in this process.
pub fn regtest_chain(tip: u32) -> Arc<Chain> {
    static CACHE: OnceLock<Mutex<Option<Arc<Chain>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(None));
    let mut guard = cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = guard.as_ref()
        && c.tip_height() >= tip
    {
        return c.clone();
    }
    let mut headers = match guard.take() {
        Some(c) => Arc::try_unwrap(c)
            .map(|c| c.headers)
            .unwrap_or_else(|c| c.headers.clone()),
        None => load_cache(),
    };
    let had = headers.len();
    while headers.len() <= tip as usize {
        let prev = headers[headers.len() - 1].hash();
        headers.push(mine(headers.len() as u32, prev));
    }
    if headers.len() > had {
        save_cache(&headers);
    }
    let chain = Arc::new(Chain::from_headers(headers));
    *guard = Some(chain.clone());
    chain
}
