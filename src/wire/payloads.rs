//! The typed payloads that are more than a single field.

use super::address::NetAddr;
use super::codec::{Reader, put_compact_size, put_var_bytes};
use super::error::DecodeError;
use super::frame::MAX_PAYLOAD_LEN;
use super::hash::{Hash256, sha256d};
use super::header::BlockHeader;

/// Longest user agent Dash Core accepts.
pub const MAX_USER_AGENT_LEN: usize = 256;
/// Most locator hashes in getheaders / getheaders2 / getblocks.
pub const MAX_LOCATOR_HASHES: usize = 101;
/// Most entries in inv / getdata / notfound.
pub const MAX_INV: usize = 50_000;
/// Largest bloom filter (BIP37).
pub const MAX_BLOOM_FILTER_LEN: usize = 36_000;
/// Largest filteradd element (BIP37).
pub const MAX_FILTERADD_LEN: usize = 520;
/// Most filter hashes in a cfheaders message (BIP157).
pub const MAX_CFHEADERS: usize = 2000;
/// Length of a BLS signature.
pub const BLS_SIG_LEN: usize = 96;

/// The `version` message.
///
/// `relay`, `mn_auth_challenge` and `masternode_connection` are read only when bytes
/// remain, as Dash Core does; `extra` keeps any bytes after them so the message
/// re-encodes exactly. When encoding, a later field forces the earlier optional ones
/// to be written (`relay` as true, the challenge as zeros).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Protocol version.
    pub version: u32,
    /// Services of the sender.
    pub services: u64,
    /// Sender's clock, seconds since the epoch.
    pub timestamp: i64,
    /// The address of the receiver, as the sender sees it.
    pub receiver: NetAddr,
    /// The sender's own address.
    pub sender: NetAddr,
    /// Random nonce, to detect connections to self.
    pub nonce: u64,
    /// User agent bytes (usually ASCII, not guaranteed).
    pub user_agent: Vec<u8>,
    /// Best height of the sender.
    pub start_height: i32,
    /// Whether the sender wants transactions relayed before a filter is set.
    pub relay: Option<bool>,
    /// Masternode authentication challenge.
    pub mn_auth_challenge: Option<[u8; 32]>,
    /// 1 when a masternode opens this as a masternode connection; clients send 0.
    pub masternode_connection: Option<bool>,
    /// Bytes after the last known field.
    pub extra: Vec<u8>,
}

impl Version {
    /// The user agent as text (invalid UTF-8 replaced).
    pub fn user_agent_lossy(&self) -> String {
        String::from_utf8_lossy(&self.user_agent).into_owned()
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Version, DecodeError> {
        let version = r.u32_le("version.version")?;
        let services = r.u64_le("version.services")?;
        let timestamp = r.i64_le("version.timestamp")?;
        let receiver = NetAddr::read(r, "version.addr_recv")?;
        let sender = NetAddr::read(r, "version.addr_from")?;
        let nonce = r.u64_le("version.nonce")?;
        let user_agent = r
            .var_bytes("version.user_agent", MAX_USER_AGENT_LEN)?
            .to_vec();
        let start_height = r.i32_le("version.start_height")?;
        let relay = if r.is_empty() {
            None
        } else {
            Some(r.bool("version.relay")?)
        };
        let mn_auth_challenge = if r.is_empty() {
            None
        } else {
            Some(r.array("version.mn_auth_challenge")?)
        };
        let masternode_connection = if r.is_empty() {
            None
        } else {
            Some(r.bool("version.masternode_connection")?)
        };
        let extra = r.rest().to_vec();
        Ok(Version {
            version,
            services,
            timestamp,
            receiver,
            sender,
            nonce,
            user_agent,
            start_height,
            relay,
            mn_auth_challenge,
            masternode_connection,
            extra,
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.services.to_le_bytes());
        out.extend_from_slice(&self.timestamp.to_le_bytes());
        self.receiver.write(out);
        self.sender.write(out);
        out.extend_from_slice(&self.nonce.to_le_bytes());
        put_var_bytes(out, &self.user_agent);
        out.extend_from_slice(&self.start_height.to_le_bytes());
        let has_extra = !self.extra.is_empty();
        let has_mn = self.masternode_connection.is_some() || has_extra;
        let has_challenge = self.mn_auth_challenge.is_some() || has_mn;
        if self.relay.is_some() || has_challenge {
            out.push(u8::from(self.relay.unwrap_or(true)));
        }
        if has_challenge {
            out.extend_from_slice(&self.mn_auth_challenge.unwrap_or([0; 32]));
        }
        if has_mn {
            out.push(u8::from(self.masternode_connection.unwrap_or(false)));
        }
        out.extend_from_slice(&self.extra);
    }
}

/// getheaders / getheaders2 / getblocks: a block locator and a stop hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locator {
    /// The sender's protocol version.
    pub version: u32,
    /// Hashes from the tip backwards (at most 101).
    pub hashes: Vec<Hash256>,
    /// Stop at this hash (zero: send as many as allowed).
    pub stop: Hash256,
}

impl Locator {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Locator, DecodeError> {
        let version = r.u32_le("locator.version")?;
        let n = r.count("locator.count", MAX_LOCATOR_HASHES, 32)?;
        let mut hashes = Vec::with_capacity(n);
        for _ in 0..n {
            hashes.push(Hash256(r.array("locator.hash")?));
        }
        let stop = Hash256(r.array("locator.stop_hash")?);
        Ok(Locator {
            version,
            hashes,
            stop,
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.version.to_le_bytes());
        write_hashes(&self.hashes, out);
        out.extend_from_slice(&self.stop.0);
    }
}

/// An inventory type. Dash's values differ from Bitcoin's (20 is a compact block, not 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InvType(pub u32);

impl InvType {
    /// A transaction.
    pub const TX: InvType = InvType(1);
    /// A block.
    pub const BLOCK: InvType = InvType(2);
    /// A merkleblock (filtered block).
    pub const FILTERED_BLOCK: InvType = InvType(3);
    /// A PrivateSend (CoinJoin) broadcast transaction.
    pub const DSTX: InvType = InvType(16);
    /// A compact block.
    pub const COMPACT_BLOCK: InvType = InvType(20);
    /// A ChainLock signature.
    pub const CLSIG: InvType = InvType(29);
    /// An InstantSend deterministic lock.
    pub const ISDLOCK: InvType = InvType(31);
    /// A CoinJoin queue entry.
    pub const DSQ: InvType = InvType(32);
}

/// One inventory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Inventory {
    /// What it is.
    pub kind: InvType,
    /// Its hash.
    pub hash: Hash256,
}

pub(crate) fn read_inventory(r: &mut Reader<'_>) -> Result<Vec<Inventory>, DecodeError> {
    let n = r.count("inv.count", MAX_INV, 36)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let kind = InvType(r.u32_le("inv.type")?);
        let hash = Hash256(r.array("inv.hash")?);
        out.push(Inventory { kind, hash });
    }
    Ok(out)
}

pub(crate) fn write_inventory(list: &[Inventory], out: &mut Vec<u8>) {
    put_compact_size(out, list.len() as u64);
    for i in list {
        out.extend_from_slice(&i.kind.0.to_le_bytes());
        out.extend_from_slice(&i.hash.0);
    }
}

pub(crate) fn read_hashes(
    r: &mut Reader<'_>,
    field: &'static str,
    max: usize,
) -> Result<Vec<Hash256>, DecodeError> {
    let n = r.count(field, max, 32)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(Hash256(r.array(field)?));
    }
    Ok(out)
}

pub(crate) fn write_hashes(hashes: &[Hash256], out: &mut Vec<u8>) {
    put_compact_size(out, hashes.len() as u64);
    for h in hashes {
        out.extend_from_slice(&h.0);
    }
}

/// A block or merkleblock: the raw payload, with its header parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBlock {
    /// The header (the first 80 bytes of `bytes`).
    pub header: BlockHeader,
    /// The whole payload, header included.
    pub bytes: Vec<u8>,
}

impl RawBlock {
    pub(crate) fn read(r: &mut Reader<'_>, field: &'static str) -> Result<RawBlock, DecodeError> {
        let mut peek = r.clone();
        let header = BlockHeader::read(&mut peek, field)?;
        Ok(RawBlock {
            header,
            bytes: r.rest().to_vec(),
        })
    }
}

/// filterload (BIP37).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterLoad {
    /// The bloom filter bits (at most 36,000 bytes).
    pub filter: Vec<u8>,
    /// Number of hash functions.
    pub hash_funcs: u32,
    /// Random tweak.
    pub tweak: u32,
    /// BLOOM_UPDATE_* flags.
    pub flags: u8,
}

/// reject: a (deprecated) rejection notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The command rejected.
    pub message: Vec<u8>,
    /// The reject code.
    pub code: u8,
    /// Human-readable reason.
    pub reason: Vec<u8>,
    /// Extra data (usually the rejected tx or block hash).
    pub data: Vec<u8>,
}

/// sendcmpct (BIP152).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendCmpct {
    /// Announce new blocks with cmpctblock.
    pub announce: bool,
    /// Compact block version.
    pub version: u64,
}

/// getcfilters / getcfheaders (BIP157).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterRange {
    /// Filter type (0 = basic).
    pub filter_type: u8,
    /// First height.
    pub start_height: u32,
    /// Last block.
    pub stop_hash: Hash256,
}

/// cfilter (BIP157).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CFilter {
    /// Filter type.
    pub filter_type: u8,
    /// Block the filter is for.
    pub block_hash: Hash256,
    /// The filter bytes.
    pub filter: Vec<u8>,
}

/// cfheaders (BIP157).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CFHeaders {
    /// Filter type.
    pub filter_type: u8,
    /// Last block.
    pub stop_hash: Hash256,
    /// Filter header before the first one.
    pub previous_filter_header: Hash256,
    /// Filter hashes (at most 2000).
    pub filter_hashes: Vec<Hash256>,
}

/// BIP157: the hash of a filter is SHA256d of its serialized bytes.
pub fn filter_hash(filter: &[u8]) -> Hash256 {
    sha256d(filter)
}

/// BIP157: a filter's header is SHA256d(filter hash || previous filter header); the
/// previous header of the genesis block's filter is all zeros.
pub fn filter_header(filter_hash: &Hash256, previous: &Hash256) -> Hash256 {
    let mut both = [0u8; 64];
    both[..32].copy_from_slice(&filter_hash.0);
    both[32..].copy_from_slice(&previous.0);
    sha256d(&both)
}

impl CFHeaders {
    /// The filter headers this reply stands for, computed from its previous filter header
    /// and its filter hashes, in order: the last is the header of `stop_hash`'s filter. An
    /// app that holds a checkpoint compares the last with it.
    pub fn filter_headers(&self) -> Vec<Hash256> {
        let mut previous = self.previous_filter_header;
        self.filter_hashes
            .iter()
            .map(|h| {
                previous = filter_header(h, &previous);
                previous
            })
            .collect()
    }
}

impl CFHeaders {
    /// Checks the reply: basic filters (type 0, the only type Dash serves), at least one
    /// hash, and, when the app holds the filter header of `stop_hash` (from a cfcheckpt
    /// or an earlier reply), that the chain computed from the previous header through
    /// every hash ends there: one wrong hash anywhere changes the end. Returns the
    /// computed headers.
    pub fn check(&self, expected_last: Option<&Hash256>) -> Result<Vec<Hash256>, FilterCheckError> {
        if self.filter_type != BASIC_FILTER {
            return Err(FilterCheckError::UnknownType(self.filter_type));
        }
        let headers = self.filter_headers();
        let Some(last) = headers.last() else {
            return Err(FilterCheckError::Empty);
        };
        match expected_last {
            Some(want) if want != last => Err(FilterCheckError::Mismatch {
                computed: *last,
                expected: *want,
            }),
            _ => Ok(headers),
        }
    }
}

impl CFilter {
    /// This filter's header, given the previous block's filter header: what the app
    /// compares with the header it got from cfheaders.
    pub fn header(&self, previous: &Hash256) -> Hash256 {
        filter_header(&filter_hash(&self.filter), previous)
    }

    /// Checks the filter against the header the app already holds for its block
    /// (`expected`, from cfheaders), given the previous block's filter header.
    pub fn check(&self, previous: &Hash256, expected: &Hash256) -> Result<(), FilterCheckError> {
        if self.filter_type != BASIC_FILTER {
            return Err(FilterCheckError::UnknownType(self.filter_type));
        }
        let computed = self.header(previous);
        if computed != *expected {
            return Err(FilterCheckError::Mismatch {
                computed,
                expected: *expected,
            });
        }
        Ok(())
    }
}

/// The basic filter type (BIP158), the only one Dash Core serves.
pub const BASIC_FILTER: u8 = 0;

/// Why a compact-filter reply does not check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterCheckError {
    /// A filter type other than basic.
    UnknownType(u8),
    /// A cfheaders reply with no hashes.
    Empty,
    /// The computed filter header is not the one the app holds.
    Mismatch {
        /// What the reply hashes to.
        computed: Hash256,
        /// What the app holds.
        expected: Hash256,
    },
}

impl std::fmt::Display for FilterCheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FilterCheckError::UnknownType(t) => write!(f, "filter type {t} is not basic (0)"),
            FilterCheckError::Empty => write!(f, "no filter hashes"),
            FilterCheckError::Mismatch { computed, expected } => write!(
                f,
                "filter header {computed} does not match the expected {expected}"
            ),
        }
    }
}

impl std::error::Error for FilterCheckError {}

/// getcfcheckpt (BIP157).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetCFCheckpt {
    /// Filter type.
    pub filter_type: u8,
    /// Last block.
    pub stop_hash: Hash256,
}

/// cfcheckpt (BIP157).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CFCheckpt {
    /// Filter type.
    pub filter_type: u8,
    /// Last block.
    pub stop_hash: Hash256,
    /// A filter header every 1000 blocks.
    pub filter_headers: Vec<Hash256>,
}

/// getmnlistd: ask for the masternode list difference between two blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetMnListDiff {
    /// The block the app has the list for (zero for none).
    pub base_block_hash: Hash256,
    /// The block it wants the list for.
    pub block_hash: Hash256,
}

/// getqrinfo: ask for quorum rotation information.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetQrInfo {
    /// Blocks the app already has lists for.
    pub base_block_hashes: Vec<Hash256>,
    /// The block it wants information for.
    pub block_request_hash: Hash256,
    /// Ask for the extra share.
    pub extra_share: bool,
}

/// clsig: a ChainLock signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClSig {
    /// Height of the locked block.
    pub height: i32,
    /// Hash of the locked block.
    pub block_hash: Hash256,
    /// BLS signature.
    pub sig: [u8; BLS_SIG_LEN],
}

/// A transaction output reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutPoint {
    /// Transaction id.
    pub txid: Hash256,
    /// Output index.
    pub index: u32,
}

/// isdlock: an InstantSend deterministic lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsDLock {
    /// Lock version.
    pub version: u8,
    /// The inputs locked.
    pub inputs: Vec<OutPoint>,
    /// The locked transaction.
    pub txid: Hash256,
    /// Quorum cycle block hash.
    pub cycle_hash: Hash256,
    /// BLS signature.
    pub sig: [u8; BLS_SIG_LEN],
}

impl IsDLock {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<IsDLock, DecodeError> {
        let version = r.u8("isdlock.version")?;
        let n = r.count("isdlock.inputs", MAX_PAYLOAD_LEN / 36, 36)?;
        let mut inputs = Vec::with_capacity(n);
        for _ in 0..n {
            let txid = Hash256(r.array("isdlock.input.txid")?);
            let index = r.u32_le("isdlock.input.index")?;
            inputs.push(OutPoint { txid, index });
        }
        Ok(IsDLock {
            version,
            inputs,
            txid: Hash256(r.array("isdlock.txid")?),
            cycle_hash: Hash256(r.array("isdlock.cycle_hash")?),
            sig: r.array("isdlock.sig")?,
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.push(self.version);
        put_compact_size(out, self.inputs.len() as u64);
        for i in &self.inputs {
            out.extend_from_slice(&i.txid.0);
            out.extend_from_slice(&i.index.to_le_bytes());
        }
        out.extend_from_slice(&self.txid.0);
        out.extend_from_slice(&self.cycle_hash.0);
        out.extend_from_slice(&self.sig);
    }
}
