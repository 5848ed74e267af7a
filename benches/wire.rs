//! Codec benchmarks, each beside its limit measured in the same run:
//! - frame decode + checksum of a 1 MiB payload against bare SHA256d of the same bytes;
//! - headers2 decode of Dash Core's 2000-header vector against 2000 bare X11 hashes;
//! - X11 of one header (run the script twice, portable and accelerated, to compare);
//! - a cfheaders reply of 2000 filter hashes decoded and its filter-header chain checked
//!   against the header it must end at, against 2000 bare SHA256d of 64 bytes (the same
//!   hashing, nothing else).
//!
//! - ChaCha20-Poly1305 sealing of 1 MiB and of 32 bytes, rust-bitcoin's (what the bip324
//!   crate and so our v2 transport use) and RustCrypto's (AVX2 where the CPU has it),
//!   against SHA256d of the same bytes (v1's checksum): the per-byte cost of each
//!   transport's integrity check.
//!
//! `scripts/bench-wire` runs this under both X11 builds and prints medians and ratios.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dashnet::wire::{
    Command, FrameDecoder, Message, Network, decode_frame, encode_frame, frame::MAX_PAYLOAD_LEN,
    sha256d, x11,
};

fn vector(rel: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/vectors")
        .join(rel);
    hex::decode(std::fs::read_to_string(path).unwrap().trim()).unwrap()
}

fn frame_1mib(c: &mut Criterion) {
    let magic = Network::Mainnet.magic();
    let payload: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut frame = Vec::new();
    encode_frame(magic, &Command::new("block").unwrap(), &payload, &mut frame);
    let mut g = c.benchmark_group("frame_1MiB");
    g.throughput(Throughput::Bytes(payload.len() as u64));
    g.bench_function("sha256d_bare", |b| b.iter(|| sha256d(black_box(&payload))));
    g.bench_function("frame_decode_streaming_64KiB_reads", |b| {
        b.iter(|| {
            let mut d = FrameDecoder::new(magic, MAX_PAYLOAD_LEN);
            let mut got = None;
            for chunk in black_box(&frame).chunks(64 * 1024) {
                let mut input = chunk;
                while !input.is_empty() {
                    if let Some(f) = d.decode(&mut input).unwrap() {
                        got = Some(f);
                    }
                }
            }
            got.unwrap()
        })
    });
    g.finish();
}

fn headers2_2000(c: &mut Criterion) {
    let bytes = vector("dashcore-test-framework/regtest-headers2-1-2000-const.hex");
    let raw = decode_frame(&bytes, Network::Regtest.magic(), MAX_PAYLOAD_LEN).unwrap();
    let Message::Headers2(headers) = Message::from_raw(&raw).unwrap() else {
        panic!("not headers2")
    };
    let plain: Vec<[u8; 80]> = headers.iter().map(|h| h.header().to_bytes()).collect();
    let mut g = c.benchmark_group("headers2_2000");
    g.throughput(Throughput::Elements(2000));
    g.sample_size(20);
    g.bench_function("x11_bare_2000", |b| {
        b.iter(|| {
            for h in black_box(&plain) {
                black_box(x11(h));
            }
        })
    });
    g.bench_function("decode_headers2_2000", |b| {
        b.iter(|| Message::decode(&raw.command, black_box(&raw.payload)).unwrap())
    });
    g.finish();
}

fn x11_one(c: &mut Criterion) {
    let header = vector("dashcore-test-framework/regtest-headers-1-10-const.hex")[25..105].to_vec();
    let mut g = c.benchmark_group("x11");
    g.bench_function(
        if dashnet::wire::hash::X11_ACCELERATED {
            "x11_one_header_accelerated"
        } else {
            "x11_one_header_portable"
        },
        |b| b.iter(|| x11(black_box(&header))),
    );
    g.finish();
}

fn cfheaders_2000(c: &mut Criterion) {
    use dashnet::wire::payloads::{CFHeaders, filter_hash};
    let hashes: Vec<dashnet::wire::Hash256> = (0..2000u32)
        .map(|i| filter_hash(&i.to_le_bytes()))
        .collect();
    let reply = CFHeaders {
        filter_type: 0,
        stop_hash: sha256d(b"stop"),
        previous_filter_header: sha256d(b"previous"),
        filter_hashes: hashes,
    };
    let expected = *reply.filter_headers().last().unwrap();
    let msg = Message::CFHeaders(reply.clone());
    let payload = msg.payload();
    let command = msg.command();
    // The same 2000 inputs of 64 bytes (hash || previous), hashed bare.
    let chain = reply.filter_headers();
    let inputs: Vec<[u8; 64]> = (0..2000)
        .map(|i| {
            let mut b = [0u8; 64];
            b[..32].copy_from_slice(&reply.filter_hashes[i].0);
            let prev = if i == 0 {
                reply.previous_filter_header
            } else {
                chain[i - 1]
            };
            b[32..].copy_from_slice(&prev.0);
            b
        })
        .collect();
    let mut g = c.benchmark_group("cfheaders_2000");
    g.throughput(Throughput::Elements(2000));
    g.bench_function("sha256d_bare_2000x64", |b| {
        b.iter(|| {
            for x in black_box(&inputs) {
                black_box(sha256d(x));
            }
        })
    });
    g.bench_function("decode_and_check_2000", |b| {
        b.iter(|| {
            let Message::CFHeaders(h) = Message::decode(&command, black_box(&payload)).unwrap()
            else {
                unreachable!()
            };
            h.check(Some(&expected)).unwrap()
        })
    });
    g.finish();
}

fn aead(c: &mut Criterion) {
    use chacha20poly1305::aead::{AeadInPlace, KeyInit};
    for (name, size) in [("aead_1MiB", 1usize << 20), ("aead_32B", 32)] {
        let mut buf = vec![0x5au8; size];
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function("sha256d_bare", |b| b.iter(|| sha256d(black_box(&buf))));
        g.bench_function("seal_rust_bitcoin", |b| {
            b.iter(|| {
                let key = chacha20_poly1305::Key::new([7; 32]);
                let cipher = chacha20_poly1305::ChaCha20Poly1305::new(
                    key,
                    chacha20_poly1305::Nonce::new([1; 12]),
                );
                cipher.encrypt(black_box(&mut buf), None)
            })
        });
        let rc = chacha20poly1305::ChaCha20Poly1305::new(&[7u8; 32].into());
        g.bench_function("seal_rustcrypto", |b| {
            b.iter(|| {
                rc.encrypt_in_place_detached(&[1u8; 12].into(), b"", black_box(&mut buf))
                    .expect("seals")
            })
        });
        g.finish();
    }
}

criterion_group!(
    benches,
    frame_1mib,
    headers2_2000,
    x11_one,
    cfheaders_2000,
    aead
);
criterion_main!(benches);
