//! Message decoding: the input is a command name, a NUL byte, then the payload. A payload
//! that decodes re-encodes to bytes that decode to the same message (decode, encode,
//! decode); nothing panics. (Seeds: scripts/fuzz-seed.py, from the vectors.)
#![no_main]

use dashnet::wire::{Command, Message, RawMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(nul) = data.iter().position(|b| *b == 0) else {
        return;
    };
    let Some(command) = std::str::from_utf8(&data[..nul])
        .ok()
        .and_then(Command::new)
    else {
        return;
    };
    let raw = RawMessage {
        command,
        payload: data[nul + 1..].to_vec(),
    };
    let Ok(first) = Message::from_raw(&raw) else {
        return;
    };
    let again = RawMessage {
        command: first.command(),
        payload: first.payload(),
    };
    let second = Message::from_raw(&again).expect("our own encoding decodes");
    assert_eq!(first, second, "decode, encode, decode changed the message");
});
