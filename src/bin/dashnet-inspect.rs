//! dashnet-inspect: prints captured Dash P2P messages as JSON, one line per frame.
//!
//! Reads a capture (a file, or standard input with `-` or no argument), in hex (any
//! whitespace allowed) or binary (detected, or forced with `--hex` / `--bin`): one frame
//! or a stream of frames back to back. For each frame it prints the offset, network (by
//! magic), command, length, whether the checksum holds, and the typed decode, or the
//! decode error with the field and byte offset where it failed. A trailing partial frame
//! is reported as such. Exit status: 0 when every frame is well-formed, 1 when any is not,
//! 2 for bad usage or unreadable input.
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::io::{Read, Write};

use dashnet::wire::{
    AddrV2Address, Command, Hash256, Message, Network, decode_frame, frame::MAX_PAYLOAD_LEN,
};

const USAGE: &str = "usage: dashnet-inspect [--hex | --bin] [FILE | -]
  Prints each frame of a captured message or stream as one JSON line.";

/// A tiny JSON object writer (no dependency needed for flat output).
struct Obj(String);

impl Obj {
    fn new() -> Obj {
        Obj(String::from("{"))
    }
    fn key(&mut self, k: &str) -> &mut String {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        let _ = write!(self.0, "{}:", quote(k));
        &mut self.0
    }
    fn str(mut self, k: &str, v: &str) -> Obj {
        let q = quote(v);
        self.key(k).push_str(&q);
        self
    }
    fn num(mut self, k: &str, v: impl std::fmt::Display) -> Obj {
        let _ = write!(self.key(k), "{v}");
        self
    }
    fn bool(self, k: &str, v: bool) -> Obj {
        self.num(k, v)
    }
    fn raw(mut self, k: &str, json: &str) -> Obj {
        self.key(k).push_str(json);
        self
    }
    fn hash(self, k: &str, h: &Hash256) -> Obj {
        self.str(k, &h.to_display_hex())
    }
    fn hex(self, k: &str, b: &[u8]) -> Obj {
        self.str(k, &hex::encode(b))
    }
    fn done(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    let v: Vec<String> = items.into_iter().collect();
    format!("[{}]", v.join(","))
}

fn hashes(h: &[Hash256]) -> String {
    list(h.iter().map(|h| quote(&h.to_display_hex())))
}

fn addrv2(a: &AddrV2Address) -> String {
    match a {
        AddrV2Address::Ipv4(b) => std::net::Ipv4Addr::from(*b).to_string(),
        AddrV2Address::Ipv6(b) => std::net::Ipv6Addr::from(*b).to_string(),
        AddrV2Address::TorV2(b) => format!("torv2:{}", hex::encode(b)),
        AddrV2Address::TorV3(b) => format!("torv3:{}", hex::encode(b)),
        AddrV2Address::I2p(b) => format!("i2p:{}", hex::encode(b)),
        AddrV2Address::Cjdns(b) => format!("cjdns:{}", hex::encode(b)),
        AddrV2Address::Unknown { network_id, bytes } => {
            format!("net{network_id}:{}", hex::encode(bytes))
        }
    }
}

/// The typed decode of a message, as a JSON object.
fn typed(m: &Message) -> String {
    let o = Obj::new();
    match m {
        Message::Version(v) => o
            .num("version", v.version)
            .num("services", v.services)
            .num("timestamp", v.timestamp)
            .str("receiver", &v.receiver.socket_addr().to_string())
            .str("sender", &v.sender.socket_addr().to_string())
            .num("nonce", v.nonce)
            .str("user_agent", &v.user_agent_lossy())
            .num("start_height", v.start_height)
            .raw("relay", &v.relay.map_or("null".into(), |b| b.to_string()))
            .raw(
                "mn_auth_challenge",
                &v.mn_auth_challenge
                    .map_or("null".into(), |c| quote(&hex::encode(c))),
            )
            .raw(
                "masternode_connection",
                &v.masternode_connection
                    .map_or("null".into(), |b| b.to_string()),
            ),
        Message::Ping(n) | Message::Pong(n) => o.num("nonce", n),
        Message::Addr(l) => o.num("count", l.len()).raw(
            "addresses",
            &list(l.iter().map(|a| {
                Obj::new()
                    .num("time", a.time)
                    .num("services", a.addr.services)
                    .str("address", &a.addr.socket_addr().to_string())
                    .done()
            })),
        ),
        Message::AddrV2(l) => o.num("count", l.len()).raw(
            "addresses",
            &list(l.iter().map(|a| {
                Obj::new()
                    .num("time", a.time)
                    .num("services", a.services)
                    .str("address", &addrv2(&a.addr))
                    .num("port", a.port)
                    .done()
            })),
        ),
        Message::Inv(l) | Message::GetData(l) | Message::NotFound(l) => {
            o.num("count", l.len()).raw(
                "items",
                &list(l.iter().map(|i| {
                    Obj::new()
                        .num("type", i.kind.0)
                        .hash("hash", &i.hash)
                        .done()
                })),
            )
        }
        Message::GetHeaders(l) | Message::GetHeaders2(l) | Message::GetBlocks(l) => o
            .num("version", l.version)
            .raw("locator", &hashes(&l.hashes))
            .hash("stop", &l.stop),
        Message::Headers(h) => {
            let hs: Vec<Hash256> = h.iter().map(|h| h.block_hash()).collect();
            o.num("count", h.len()).raw("hashes", &hashes(&hs))
        }
        Message::Headers2(h) => {
            let hs: Vec<Hash256> = h.iter().map(|h| h.hash()).collect();
            o.num("count", h.len()).raw("hashes", &hashes(&hs))
        }
        Message::Block(b) | Message::MerkleBlock(b) => o
            .hash("hash", &b.header.block_hash())
            .hash("prev", &b.header.prev_blockhash)
            .num("bytes", b.bytes.len()),
        Message::Tx(t) | Message::MnListDiff(t) | Message::QrInfo(t) => o.num("bytes", t.len()),
        Message::FilterLoad(f) => o
            .num("filter_bytes", f.filter.len())
            .num("hash_funcs", f.hash_funcs)
            .num("tweak", f.tweak)
            .num("flags", f.flags),
        Message::FilterAdd(d) => o.hex("data", d),
        Message::FeeFilter(f) => o.num("duffs_per_kb", f),
        Message::Reject(r) => o
            .str("message", &String::from_utf8_lossy(&r.message))
            .num("code", r.code)
            .str("reason", &String::from_utf8_lossy(&r.reason))
            .hex("data", &r.data),
        Message::SendCmpct(s) => o.bool("announce", s.announce).num("version", s.version),
        Message::SendDsq(b) => o.bool("wants_dsq", *b),
        Message::GetCFilters(r) | Message::GetCFHeaders(r) => o
            .num("filter_type", r.filter_type)
            .num("start_height", r.start_height)
            .hash("stop_hash", &r.stop_hash),
        Message::CFilter(c) => o
            .num("filter_type", c.filter_type)
            .hash("block_hash", &c.block_hash)
            .hex("filter", &c.filter),
        Message::CFHeaders(c) => o
            .num("filter_type", c.filter_type)
            .hash("stop_hash", &c.stop_hash)
            .hash("previous_filter_header", &c.previous_filter_header)
            .raw("filter_hashes", &hashes(&c.filter_hashes))
            .raw("filter_headers", &hashes(&c.filter_headers())),
        Message::GetCFCheckpt(c) => o
            .num("filter_type", c.filter_type)
            .hash("stop_hash", &c.stop_hash),
        Message::CFCheckpt(c) => o
            .num("filter_type", c.filter_type)
            .hash("stop_hash", &c.stop_hash)
            .raw("filter_headers", &hashes(&c.filter_headers)),
        Message::GetMnListDiff(g) => o
            .hash("base_block_hash", &g.base_block_hash)
            .hash("block_hash", &g.block_hash),
        Message::GetQrInfo(g) => o
            .raw("base_block_hashes", &hashes(&g.base_block_hashes))
            .hash("block_request_hash", &g.block_request_hash)
            .bool("extra_share", g.extra_share),
        Message::ClSig(c) => o
            .num("height", c.height)
            .hash("block_hash", &c.block_hash)
            .hex("signature", &c.sig),
        Message::IsDLock(l) => o
            .num("version", l.version)
            .raw(
                "inputs",
                &list(l.inputs.iter().map(|i| {
                    Obj::new()
                        .hash("txid", &i.txid)
                        .num("index", i.index)
                        .done()
                })),
            )
            .hash("txid", &l.txid)
            .hash("cycle_hash", &l.cycle_hash)
            .hex("signature", &l.sig),
        Message::Unknown { payload, .. } => o.bool("unknown", true).hex("payload", payload),
        // Messages without fields.
        _ => o,
    }
    .done()
}

fn network_name(magic: [u8; 4]) -> &'static str {
    [
        (Network::Mainnet, "mainnet"),
        (Network::Testnet, "testnet"),
        (Network::Regtest, "regtest"),
        (
            Network::Devnet {
                name: String::new(),
                genesis: None,
            },
            "devnet",
        ),
    ]
    .into_iter()
    .find(|(n, _)| n.magic() == magic)
    .map_or("unknown", |(_, name)| name)
}

/// Inspects one frame at `offset` of `bytes`; returns its JSON line, whether it is
/// well-formed, and how many bytes it took (None: the rest is a partial frame).
fn frame(bytes: &[u8], offset: usize) -> (String, bool, Option<usize>) {
    let rest = &bytes[offset..];
    let o = Obj::new().num("offset", offset);
    if rest.len() < 24 {
        let line = o
            .str("error", "truncated header")
            .num("bytes", rest.len())
            .done();
        return (line, false, None);
    }
    let magic: [u8; 4] = rest[..4].try_into().unwrap_or_default();
    let cmd_raw: [u8; 12] = rest[4..16].try_into().unwrap_or_default();
    let len = u32::from_le_bytes(rest[16..20].try_into().unwrap_or_default()) as usize;
    let sum: [u8; 4] = rest[20..24].try_into().unwrap_or_default();
    let command = Command::from_wire(&cmd_raw);
    let name = command.map_or_else(
        || format!("<invalid {}>", hex::encode(cmd_raw)),
        |c| c.as_str().to_string(),
    );
    let o = o
        .str("network", network_name(magic))
        .hex("magic", &magic)
        .str("command", &name)
        .num("length", len);
    if len > MAX_PAYLOAD_LEN {
        let line = o
            .str("error", "length over the 3 MiB protocol limit")
            .done();
        return (line, false, None);
    }
    if rest.len() < 24 + len {
        let line = o
            .str("error", "truncated payload")
            .num("bytes", rest.len() - 24)
            .done();
        return (line, false, None);
    }
    let payload = &rest[24..24 + len];
    let checksum_ok = dashnet::wire::sha256d(payload).0[..4] == sum;
    let mut o = o.bool("checksum_ok", checksum_ok);
    let mut ok = checksum_ok;
    match command {
        None => {
            o = o.str("error", "command is not NUL-padded ASCII");
            ok = false;
        }
        Some(c) => match Message::decode(&c, payload) {
            Ok(m) => o = o.raw("decoded", &typed(&m)),
            Err(e) => {
                o = o.raw(
                    "decode_error",
                    &Obj::new()
                        .str("field", e.field)
                        .num("offset", e.offset)
                        .str("text", &e.to_string())
                        .done(),
                );
                ok = false;
            }
        },
    }
    // The library's own framing agrees (its decoder rejects what we flag).
    debug_assert!(!ok || decode_frame(&rest[..24 + len], magic, MAX_PAYLOAD_LEN).is_ok());
    (o.done(), ok, Some(24 + len))
}

fn read_input(path: Option<&str>) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    match path {
        None | Some("-") => {
            std::io::stdin().read_to_end(&mut buf)?;
        }
        Some(p) => buf = std::fs::read(p)?,
    }
    Ok(buf)
}

fn looks_hex(b: &[u8]) -> bool {
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_hexdigit() || c.is_ascii_whitespace())
}

fn main() {
    let mut mode = None;
    let mut path = None;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--hex" => mode = Some(true),
            "--bin" => mode = Some(false),
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            p if path.is_none() => path = Some(p.to_string()),
            _ => {
                eprintln!("{USAGE}");
                std::process::exit(2);
            }
        }
    }
    let input = match read_input(path.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("dashnet-inspect: {e}");
            std::process::exit(2);
        }
    };
    let bytes = if mode.unwrap_or_else(|| looks_hex(&input)) {
        let text: String = input
            .iter()
            .filter(|c| !c.is_ascii_whitespace())
            .map(|c| *c as char)
            .collect();
        match hex::decode(&text) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("dashnet-inspect: not hex: {e}");
                std::process::exit(2);
            }
        }
    } else {
        input
    };
    let mut offset = 0;
    let mut all_ok = true;
    let mut out = std::io::stdout().lock();
    while offset < bytes.len() {
        let (line, ok, used) = frame(&bytes, offset);
        // A reader that went away (`| head`) ends the run quietly, not with a panic.
        if writeln!(out, "{line}").is_err() {
            std::process::exit(if all_ok && ok { 0 } else { 1 });
        }
        all_ok &= ok;
        match used {
            Some(n) => offset += n,
            None => break,
        }
    }
    if bytes.is_empty() {
        eprintln!("dashnet-inspect: empty input");
        std::process::exit(2);
    }
    std::process::exit(if all_ok { 0 } else { 1 });
}
