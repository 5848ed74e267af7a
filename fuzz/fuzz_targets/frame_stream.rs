//! The streaming frame decoder: whatever the bytes and however they are split into
//! reads, it yields the same frames (or the same error) as decoding them in one piece,
//! and never panics or buffers past the payload limit.
#![no_main]

use dashnet::wire::{FrameDecoder, Network, RawMessage};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 64 * 1024;

fn run(data: &[u8], chunk: usize) -> (Vec<RawMessage>, Option<String>) {
    let mut d = FrameDecoder::new(Network::Regtest.magic(), LIMIT);
    let mut frames = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        let mut input = piece;
        while !input.is_empty() {
            match d.decode(&mut input) {
                Ok(Some(raw)) => frames.push(raw),
                Ok(None) => {}
                Err(e) => return (frames, Some(e.to_string())),
            }
            assert!(d.buffered() <= 24 + LIMIT, "buffered past the limit");
        }
    }
    (frames, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let whole = run(rest, rest.len());
    let pieces = run(rest, split as usize % 61 + 1);
    assert_eq!(whole, pieces, "the split into reads changed the result");
});
