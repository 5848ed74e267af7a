//! Every message an SPV wallet uses, as a typed value, plus an `Unknown` passthrough.

use super::address::{
    AddrV2Entry, TimedAddr, read_addr_list, read_addrv2_list, write_addr_list, write_addrv2_list,
};
use super::codec::{Reader, put_compact_size, put_var_bytes};
use super::error::{DecodeError, DecodeErrorKind};
use super::frame::{Command, MAX_PAYLOAD_LEN, RawMessage, encode_frame};
use super::header::{BlockHeader, HashedHeader};
use super::headers2;
use super::payloads::*;

/// Most headers in one `headers` message.
pub const MAX_HEADERS: usize = 2000;

/// A decoded P2P message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // each variant is named after its command
pub enum Message {
    Version(Version),
    Verack,
    Ping(u64),
    Pong(u64),
    GetAddr,
    Addr(Vec<TimedAddr>),
    AddrV2(Vec<AddrV2Entry>),
    SendAddrV2,
    Inv(Vec<Inventory>),
    GetData(Vec<Inventory>),
    NotFound(Vec<Inventory>),
    GetHeaders(Locator),
    GetHeaders2(Locator),
    GetBlocks(Locator),
    /// Headers, each followed on the wire by a transaction count of 0.
    Headers(Vec<BlockHeader>),
    /// DIP-0025 compressed headers, decompressed, with their X11 hashes.
    Headers2(Vec<HashedHeader>),
    SendHeaders,
    SendHeaders2,
    Block(RawBlock),
    MerkleBlock(RawBlock),
    /// A serialized transaction.
    Tx(Vec<u8>),
    Mempool,
    FilterLoad(FilterLoad),
    FilterAdd(Vec<u8>),
    FilterClear,
    /// Minimum fee rate, duffs per kB.
    FeeFilter(i64),
    Reject(Reject),
    SendCmpct(SendCmpct),
    SendDsq(bool),
    GetCFilters(FilterRange),
    CFilter(CFilter),
    GetCFHeaders(FilterRange),
    CFHeaders(CFHeaders),
    GetCFCheckpt(GetCFCheckpt),
    CFCheckpt(CFCheckpt),
    GetMnListDiff(GetMnListDiff),
    /// The raw mnlistdiff payload.
    MnListDiff(Vec<u8>),
    GetQrInfo(GetQrInfo),
    /// The raw qrinfo payload.
    QrInfo(Vec<u8>),
    ClSig(ClSig),
    IsDLock(IsDLock),
    /// Any other command, kept as it came.
    Unknown {
        command: Command,
        payload: Vec<u8>,
    },
}

/// Command names, as constants.
pub mod commands {
    use super::Command;

    macro_rules! commands {
        ($($name:ident = $text:literal),* $(,)?) => {
            $(
                #[doc = concat!("`", $text, "`")]
                pub const $name: Command = Command::from_static($text);
            )*
            /// Every command with a typed decoder, in this order.
            pub const ALL: &[Command] = &[$($name),*];
        };
    }

    commands! {
        VERSION = "version", VERACK = "verack", PING = "ping", PONG = "pong",
        GETADDR = "getaddr", ADDR = "addr", ADDRV2 = "addrv2", SENDADDRV2 = "sendaddrv2",
        INV = "inv", GETDATA = "getdata", NOTFOUND = "notfound",
        GETHEADERS = "getheaders", GETHEADERS2 = "getheaders2", GETBLOCKS = "getblocks",
        HEADERS = "headers", HEADERS2 = "headers2",
        SENDHEADERS = "sendheaders", SENDHEADERS2 = "sendheaders2",
        BLOCK = "block", MERKLEBLOCK = "merkleblock", TX = "tx", MEMPOOL = "mempool",
        FILTERLOAD = "filterload", FILTERADD = "filteradd", FILTERCLEAR = "filterclear",
        FEEFILTER = "feefilter", REJECT = "reject", SENDCMPCT = "sendcmpct", SENDDSQ = "senddsq",
        GETCFILTERS = "getcfilters", CFILTER = "cfilter",
        GETCFHEADERS = "getcfheaders", CFHEADERS = "cfheaders",
        GETCFCHECKPT = "getcfcheckpt", CFCHECKPT = "cfcheckpt",
        GETMNLISTD = "getmnlistd", MNLISTDIFF = "mnlistdiff",
        GETQRINFO = "getqrinfo", QRINFO = "qrinfo", CLSIG = "clsig", ISDLOCK = "isdlock",
    }
}

impl Message {
    /// The command this message is sent under.
    pub fn command(&self) -> Command {
        use commands::*;
        match self {
            Message::Version(_) => VERSION,
            Message::Verack => VERACK,
            Message::Ping(_) => PING,
            Message::Pong(_) => PONG,
            Message::GetAddr => GETADDR,
            Message::Addr(_) => ADDR,
            Message::AddrV2(_) => ADDRV2,
            Message::SendAddrV2 => SENDADDRV2,
            Message::Inv(_) => INV,
            Message::GetData(_) => GETDATA,
            Message::NotFound(_) => NOTFOUND,
            Message::GetHeaders(_) => GETHEADERS,
            Message::GetHeaders2(_) => GETHEADERS2,
            Message::GetBlocks(_) => GETBLOCKS,
            Message::Headers(_) => HEADERS,
            Message::Headers2(_) => HEADERS2,
            Message::SendHeaders => SENDHEADERS,
            Message::SendHeaders2 => SENDHEADERS2,
            Message::Block(_) => BLOCK,
            Message::MerkleBlock(_) => MERKLEBLOCK,
            Message::Tx(_) => TX,
            Message::Mempool => MEMPOOL,
            Message::FilterLoad(_) => FILTERLOAD,
            Message::FilterAdd(_) => FILTERADD,
            Message::FilterClear => FILTERCLEAR,
            Message::FeeFilter(_) => FEEFILTER,
            Message::Reject(_) => REJECT,
            Message::SendCmpct(_) => SENDCMPCT,
            Message::SendDsq(_) => SENDDSQ,
            Message::GetCFilters(_) => GETCFILTERS,
            Message::CFilter(_) => CFILTER,
            Message::GetCFHeaders(_) => GETCFHEADERS,
            Message::CFHeaders(_) => CFHEADERS,
            Message::GetCFCheckpt(_) => GETCFCHECKPT,
            Message::CFCheckpt(_) => CFCHECKPT,
            Message::GetMnListDiff(_) => GETMNLISTD,
            Message::MnListDiff(_) => MNLISTDIFF,
            Message::GetQrInfo(_) => GETQRINFO,
            Message::QrInfo(_) => QRINFO,
            Message::ClSig(_) => CLSIG,
            Message::IsDLock(_) => ISDLOCK,
            Message::Unknown { command, .. } => *command,
        }
    }

    /// Appends the payload bytes.
    pub fn encode_payload(&self, out: &mut Vec<u8>) {
        match self {
            Message::Version(v) => v.write(out),
            Message::Verack
            | Message::GetAddr
            | Message::SendAddrV2
            | Message::SendHeaders
            | Message::SendHeaders2
            | Message::Mempool
            | Message::FilterClear => {}
            Message::Ping(n) | Message::Pong(n) => out.extend_from_slice(&n.to_le_bytes()),
            Message::Addr(list) => write_addr_list(list, out),
            Message::AddrV2(list) => write_addrv2_list(list, out),
            Message::Inv(list) | Message::GetData(list) | Message::NotFound(list) => {
                write_inventory(list, out)
            }
            Message::GetHeaders(l) | Message::GetHeaders2(l) | Message::GetBlocks(l) => {
                l.write(out)
            }
            Message::Headers(list) => {
                put_compact_size(out, list.len() as u64);
                for h in list {
                    out.extend_from_slice(&h.to_bytes());
                    out.push(0);
                }
            }
            Message::Headers2(list) => headers2::encode(list, out),
            Message::Block(b) | Message::MerkleBlock(b) => out.extend_from_slice(&b.bytes),
            Message::Tx(bytes) | Message::MnListDiff(bytes) | Message::QrInfo(bytes) => {
                out.extend_from_slice(bytes)
            }
            Message::FilterLoad(f) => {
                put_var_bytes(out, &f.filter);
                out.extend_from_slice(&f.hash_funcs.to_le_bytes());
                out.extend_from_slice(&f.tweak.to_le_bytes());
                out.push(f.flags);
            }
            Message::FilterAdd(data) => put_var_bytes(out, data),
            Message::FeeFilter(rate) => out.extend_from_slice(&rate.to_le_bytes()),
            Message::Reject(r) => {
                put_var_bytes(out, &r.message);
                out.push(r.code);
                put_var_bytes(out, &r.reason);
                out.extend_from_slice(&r.data);
            }
            Message::SendCmpct(s) => {
                out.push(u8::from(s.announce));
                out.extend_from_slice(&s.version.to_le_bytes());
            }
            Message::SendDsq(b) => out.push(u8::from(*b)),
            Message::GetCFilters(r) | Message::GetCFHeaders(r) => {
                out.push(r.filter_type);
                out.extend_from_slice(&r.start_height.to_le_bytes());
                out.extend_from_slice(&r.stop_hash.0);
            }
            Message::CFilter(c) => {
                out.push(c.filter_type);
                out.extend_from_slice(&c.block_hash.0);
                put_var_bytes(out, &c.filter);
            }
            Message::CFHeaders(c) => {
                out.push(c.filter_type);
                out.extend_from_slice(&c.stop_hash.0);
                out.extend_from_slice(&c.previous_filter_header.0);
                write_hashes(&c.filter_hashes, out);
            }
            Message::GetCFCheckpt(c) => {
                out.push(c.filter_type);
                out.extend_from_slice(&c.stop_hash.0);
            }
            Message::CFCheckpt(c) => {
                out.push(c.filter_type);
                out.extend_from_slice(&c.stop_hash.0);
                write_hashes(&c.filter_headers, out);
            }
            Message::GetMnListDiff(g) => {
                out.extend_from_slice(&g.base_block_hash.0);
                out.extend_from_slice(&g.block_hash.0);
            }
            Message::GetQrInfo(g) => {
                write_hashes(&g.base_block_hashes, out);
                out.extend_from_slice(&g.block_request_hash.0);
                out.push(u8::from(g.extra_share));
            }
            Message::ClSig(c) => {
                out.extend_from_slice(&c.height.to_le_bytes());
                out.extend_from_slice(&c.block_hash.0);
                out.extend_from_slice(&c.sig);
            }
            Message::IsDLock(l) => l.write(out),
            Message::Unknown { payload, .. } => out.extend_from_slice(payload),
        }
    }

    /// The payload as a new vector.
    pub fn payload(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_payload(&mut out);
        out
    }

    /// The whole frame for network `magic`.
    pub fn to_frame(&self, magic: [u8; 4]) -> Vec<u8> {
        let payload = self.payload();
        let mut out = Vec::with_capacity(24 + payload.len());
        encode_frame(magic, &self.command(), &payload, &mut out);
        out
    }

    /// Decodes a framed message's payload.
    pub fn from_raw(raw: &RawMessage) -> Result<Message, DecodeError> {
        Message::decode(&raw.command, &raw.payload)
    }

    /// Decodes `payload` as the message `command` names. Unknown commands become
    /// [`Message::Unknown`]; a known command whose payload does not parse is an error.
    pub fn decode(command: &Command, payload: &[u8]) -> Result<Message, DecodeError> {
        let mut r = Reader::new(payload);
        let r = &mut r;
        let msg = match command.as_str() {
            "version" => Message::Version(Version::read(r)?),
            "verack" => Message::Verack,
            "ping" => Message::Ping(r.u64_le("ping.nonce")?),
            "pong" => Message::Pong(r.u64_le("pong.nonce")?),
            "getaddr" => Message::GetAddr,
            "addr" => Message::Addr(read_addr_list(r)?),
            "addrv2" => Message::AddrV2(read_addrv2_list(r)?),
            "sendaddrv2" => Message::SendAddrV2,
            "inv" => Message::Inv(read_inventory(r)?),
            "getdata" => Message::GetData(read_inventory(r)?),
            "notfound" => Message::NotFound(read_inventory(r)?),
            "getheaders" => Message::GetHeaders(Locator::read(r)?),
            "getheaders2" => Message::GetHeaders2(Locator::read(r)?),
            "getblocks" => Message::GetBlocks(Locator::read(r)?),
            "headers" => Message::Headers(read_headers(r)?),
            "headers2" => Message::Headers2(headers2::decode(r, headers2::MAX_HEADERS2)?),
            "sendheaders" => Message::SendHeaders,
            "sendheaders2" => Message::SendHeaders2,
            "block" => Message::Block(RawBlock::read(r, "block.header")?),
            "merkleblock" => Message::MerkleBlock(RawBlock::read(r, "merkleblock.header")?),
            "tx" => Message::Tx(r.rest().to_vec()),
            "mempool" => Message::Mempool,
            "filterload" => Message::FilterLoad(FilterLoad {
                filter: r
                    .var_bytes("filterload.filter", MAX_BLOOM_FILTER_LEN)?
                    .to_vec(),
                hash_funcs: r.u32_le("filterload.hash_funcs")?,
                tweak: r.u32_le("filterload.tweak")?,
                flags: r.u8("filterload.flags")?,
            }),
            "filteradd" => {
                Message::FilterAdd(r.var_bytes("filteradd.data", MAX_FILTERADD_LEN)?.to_vec())
            }
            "filterclear" => Message::FilterClear,
            "feefilter" => Message::FeeFilter(r.i64_le("feefilter.rate")?),
            "reject" => Message::Reject(Reject {
                message: r.var_bytes("reject.message", 12)?.to_vec(),
                code: r.u8("reject.code")?,
                reason: r.var_bytes("reject.reason", 111)?.to_vec(),
                data: r.rest().to_vec(),
            }),
            "sendcmpct" => Message::SendCmpct(SendCmpct {
                announce: r.bool("sendcmpct.announce")?,
                version: r.u64_le("sendcmpct.version")?,
            }),
            "senddsq" => Message::SendDsq(r.bool("senddsq.send")?),
            "getcfilters" => Message::GetCFilters(read_filter_range(r)?),
            "getcfheaders" => Message::GetCFHeaders(read_filter_range(r)?),
            "cfilter" => Message::CFilter(CFilter {
                filter_type: r.u8("cfilter.filter_type")?,
                block_hash: hash(r, "cfilter.block_hash")?,
                filter: r.var_bytes("cfilter.filter", MAX_PAYLOAD_LEN)?.to_vec(),
            }),
            "cfheaders" => Message::CFHeaders(CFHeaders {
                filter_type: r.u8("cfheaders.filter_type")?,
                stop_hash: hash(r, "cfheaders.stop_hash")?,
                previous_filter_header: hash(r, "cfheaders.previous_filter_header")?,
                filter_hashes: read_hashes(r, "cfheaders.filter_hashes", MAX_CFHEADERS)?,
            }),
            "getcfcheckpt" => Message::GetCFCheckpt(GetCFCheckpt {
                filter_type: r.u8("getcfcheckpt.filter_type")?,
                stop_hash: hash(r, "getcfcheckpt.stop_hash")?,
            }),
            "cfcheckpt" => Message::CFCheckpt(CFCheckpt {
                filter_type: r.u8("cfcheckpt.filter_type")?,
                stop_hash: hash(r, "cfcheckpt.stop_hash")?,
                filter_headers: read_hashes(r, "cfcheckpt.filter_headers", MAX_PAYLOAD_LEN / 32)?,
            }),
            "getmnlistd" => Message::GetMnListDiff(GetMnListDiff {
                base_block_hash: hash(r, "getmnlistd.base_block_hash")?,
                block_hash: hash(r, "getmnlistd.block_hash")?,
            }),
            "mnlistdiff" => Message::MnListDiff(r.rest().to_vec()),
            "getqrinfo" => Message::GetQrInfo(GetQrInfo {
                base_block_hashes: read_hashes(
                    r,
                    "getqrinfo.base_block_hashes",
                    MAX_PAYLOAD_LEN / 32,
                )?,
                block_request_hash: hash(r, "getqrinfo.block_request_hash")?,
                extra_share: r.bool("getqrinfo.extra_share")?,
            }),
            "qrinfo" => Message::QrInfo(r.rest().to_vec()),
            "clsig" => Message::ClSig(ClSig {
                height: r.i32_le("clsig.height")?,
                block_hash: hash(r, "clsig.block_hash")?,
                sig: r.array("clsig.sig")?,
            }),
            "isdlock" => Message::IsDLock(IsDLock::read(r)?),
            _ => Message::Unknown {
                command: *command,
                payload: r.rest().to_vec(),
            },
        };
        r.finish(command_field(command))?;
        Ok(msg)
    }
}

fn hash(r: &mut Reader<'_>, field: &'static str) -> Result<super::hash::Hash256, DecodeError> {
    Ok(super::hash::Hash256(r.array(field)?))
}

fn read_filter_range(r: &mut Reader<'_>) -> Result<FilterRange, DecodeError> {
    Ok(FilterRange {
        filter_type: r.u8("filter_range.filter_type")?,
        start_height: r.u32_le("filter_range.start_height")?,
        stop_hash: hash(r, "filter_range.stop_hash")?,
    })
}

fn read_headers(r: &mut Reader<'_>) -> Result<Vec<BlockHeader>, DecodeError> {
    let n = r.count("headers.count", MAX_HEADERS, 81)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(BlockHeader::read(r, "headers.header")?);
        let at = r.position();
        if r.compact_size("headers.tx_count")? != 0 {
            return Err(DecodeError::new(
                DecodeErrorKind::Invalid("a headers entry must have a transaction count of 0"),
                "headers.tx_count",
                at,
            ));
        }
    }
    Ok(out)
}

/// A static field name for trailing-byte errors.
fn command_field(command: &Command) -> &'static str {
    match command.as_str() {
        "version" => "version",
        "ping" | "pong" => "ping",
        _ => "payload",
    }
}
