//! Message decoding: the first byte picks a command, the rest is the payload. A payload
//! that decodes re-encodes to bytes that decode to the same message (decode, encode,
//! decode); nothing panics.
#![no_main]

use dashnet::wire::{Command, Message, RawMessage};
use libfuzzer_sys::fuzz_target;

const COMMANDS: &[&str] = &[
    "version",
    "verack",
    "ping",
    "pong",
    "getaddr",
    "addr",
    "addrv2",
    "sendaddrv2",
    "inv",
    "getdata",
    "notfound",
    "getheaders",
    "getheaders2",
    "getblocks",
    "headers",
    "headers2",
    "sendheaders",
    "sendheaders2",
    "block",
    "merkleblock",
    "tx",
    "mempool",
    "filterload",
    "filteradd",
    "filterclear",
    "feefilter",
    "reject",
    "sendcmpct",
    "senddsq",
    "getcfilters",
    "cfilter",
    "getcfheaders",
    "cfheaders",
    "getcfcheckpt",
    "cfcheckpt",
    "getmnlistd",
    "mnlistdiff",
    "getqrinfo",
    "qrinfo",
    "clsig",
    "isdlock",
    "platformban",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, payload)) = data.split_first() else {
        return;
    };
    let command = Command::new(COMMANDS[pick as usize % COMMANDS.len()]).unwrap();
    let raw = RawMessage {
        command,
        payload: payload.to_vec(),
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
