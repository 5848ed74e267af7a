//! Helpers shared by the integration tests: loading the wire vectors.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use dashnet::wire::{BlockHeader, Hash256};

/// The vectors copied from ../shared/vectors (see tests/data/vectors/README.md).
pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vectors")
}

/// Every `.hex` vector: (path relative to the vectors folder, bytes).
pub fn all_hex_vectors() -> Vec<(String, Vec<u8>)> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, base, out);
            } else if p.extension().is_some_and(|e| e == "hex") {
                let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
                out.push((rel, read_hex(&p)));
            }
        }
    }
    let base = vectors_dir();
    let mut out = Vec::new();
    walk(&base, &base, &mut out);
    assert!(
        out.len() >= 60,
        "expected the full vector set, found {}",
        out.len()
    );
    out
}

/// The bytes of one hex vector.
pub fn read_hex(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap();
    hex::decode(text.trim()).unwrap()
}

/// A vector by its path relative to the vectors folder.
pub fn vector(rel: &str) -> Vec<u8> {
    read_hex(&vectors_dir().join(rel))
}

/// The regtest chain from Dash Core's test framework: (height, hash, header).
pub fn regtest_chain() -> Vec<(u32, Hash256, BlockHeader)> {
    let text = std::fs::read_to_string(
        vectors_dir().join("dashcore-test-framework/regtest-chain-const.tsv"),
    )
    .unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let mut cols = line.split('\t');
            let height = cols.next().unwrap().parse().unwrap();
            let hash = Hash256::from_display_hex(cols.next().unwrap()).unwrap();
            let bytes: [u8; 80] = hex::decode(cols.next().unwrap())
                .unwrap()
                .try_into()
                .unwrap();
            (height, hash, BlockHeader::from_bytes(&bytes))
        })
        .collect()
}
