//! Builders for the requests a wallet sends most. Each queues one message to `peer`
//! (`DASHNET_PEER_BEST`, 0, for the best peer) and returns at once, like `dashnet_send`.
//! Hashes are 32 bytes in wire byte order (a hash displays byte-reversed).
//!
//! Functions: `dashnet_send_getheaders`, `dashnet_send_getdata`, `dashnet_send_filterload`,
//! `dashnet_send_filteradd`, `dashnet_send_filterclear`, `dashnet_send_tx`,
//! `dashnet_send_mempool`, `dashnet_send_getmnlistd`, `dashnet_send_getqrinfo`,
//! `dashnet_send_getcfilters`, `dashnet_send_getcfheaders`, `dashnet_send_getcfcheckpt`.
//! A request that needs a service (BIP37 filters: BLOOM; compact filters:
//! COMPACT_FILTERS; getheaders2: HEADERS_COMPRESSED) goes only to a peer advertising it;
//! otherwise NO_PEER, with the service named in `dashnet_last_error`.

use super::client::{DashnetClient, handle, hash_list, hashes_arg, one_hash, tri};
use super::event::DashnetInventory;
use super::status::{DashnetStatus, bytes_arg, fail, from_client_error, guard};
use crate::wire::payloads::{
    BASIC_FILTER, FilterLoad, FilterRange, GetCFCheckpt, GetMnListDiff, GetQrInfo, InvType,
    Inventory, Locator, MAX_BLOOM_FILTER_LEN, MAX_FILTERADD_LEN, MAX_INV, MAX_LOCATOR_HASHES,
};
use crate::wire::{Hash256, MAX_PAYLOAD_LEN, Message};

/// Most base hashes in one getqrinfo: what fits in a 3 MiB payload with the rest of it.
pub const MAX_QRINFO_BASES: usize = (MAX_PAYLOAD_LEN - 64) / 32;

fn queue(c: &DashnetClient, peer: u64, message: Message, tag: u64) -> DashnetStatus {
    let payload = message.payload();
    if payload.len() > MAX_PAYLOAD_LEN {
        return fail(
            DashnetStatus::TooLarge,
            "message is over the 3 MiB protocol limit",
        );
    }
    let result = if peer == super::client::DASHNET_PEER_BEST {
        c.client
            .send_best(message.command(), payload, tag)
            .map(|_| ())
    } else {
        c.client.send(peer, message.command(), payload, tag)
    };
    result.map_or_else(from_client_error, |_| DashnetStatus::Ok)
}

/// getheaders (`headers2` 0) or getheaders2 (any other value) from `locator` (`count` hashes,
/// 1 to 101) to `stop` (32 bytes, or NULL for none).
///
/// # Safety
/// `client` is a live handle; `locator` has `count * 32` readable bytes; `stop` is NULL
/// or has 32.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_send_getheaders(
    client: *const DashnetClient,
    peer: u64,
    locator: *const u8,
    count: usize,
    stop: *const u8,
    headers2: u8,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promises above.
        let c = tri!(unsafe { handle(client) });
        if count == 0 || count > MAX_LOCATOR_HASHES {
            return fail(
                DashnetStatus::InvalidArgument,
                "a locator has 1 to 101 hashes",
            );
        }
        // SAFETY: as above (the count is checked first).
        let hashes = tri!(unsafe { hash_list(locator, count, "locator") });
        let stop = if stop.is_null() {
            Hash256::ZERO
        } else {
            // SAFETY: as above.
            tri!(unsafe { one_hash(stop, "stop") })
        };
        let l = Locator {
            version: crate::wire::network::PROTOCOL_VERSION,
            hashes,
            stop,
        };
        let m = if headers2 != 0 {
            Message::GetHeaders2(l)
        } else {
            Message::GetHeaders(l)
        };
        queue(c, peer, m, 0)
    })
}

/// getdata for `count` inventory entries (at most 50,000).
///
/// # Safety
/// `client` is a live handle; `items` points to `count` entries.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_send_getdata(
    client: *const DashnetClient,
    peer: u64,
    items: *const DashnetInventory,
    count: usize,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promises above.
        let c = tri!(unsafe { handle(client) });
        if count == 0 || count > MAX_INV {
            return fail(
                DashnetStatus::InvalidArgument,
                "getdata takes 1 to 50,000 entries",
            );
        }
        if items.is_null() {
            return fail(DashnetStatus::InvalidArgument, "items is NULL");
        }
        // SAFETY: non-NULL, count bounded, and the caller promises `count` entries.
        let items = unsafe { std::slice::from_raw_parts(items, count) };
        let list = items
            .iter()
            .map(|i| Inventory {
                kind: InvType(i.kind),
                hash: Hash256(i.hash),
            })
            .collect();
        queue(c, peer, Message::GetData(list), 0)
    })
}

/// filterload (BIP37): `filter` of at most 36,000 bytes.
///
/// # Safety
/// `client` is a live handle; `filter` has `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_send_filterload(
    client: *const DashnetClient,
    peer: u64,
    filter: *const u8,
    len: usize,
    hash_funcs: u32,
    tweak: u32,
    flags: u8,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promises above.
        let c = tri!(unsafe { handle(client) });
        if len > MAX_BLOOM_FILTER_LEN {
            return fail(
                DashnetStatus::TooLarge,
                "a bloom filter is at most 36,000 bytes",
            );
        }
        // SAFETY: as above.
        let filter = tri!(unsafe { bytes_arg(filter, len, "filter") }).to_vec();
        let m = Message::FilterLoad(FilterLoad {
            filter,
            hash_funcs,
            tweak,
            flags,
        });
        queue(c, peer, m, 0)
    })
}

/// filteradd (BIP37): an element of at most 520 bytes.
///
/// # Safety
/// `client` is a live handle; `data` has `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_send_filteradd(
    client: *const DashnetClient,
    peer: u64,
    data: *const u8,
    len: usize,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promises above.
        let c = tri!(unsafe { handle(client) });
        if len > MAX_FILTERADD_LEN {
            return fail(
                DashnetStatus::TooLarge,
                "a filteradd element is at most 520 bytes",
            );
        }
        // SAFETY: as above.
        let data = tri!(unsafe { bytes_arg(data, len, "data") }).to_vec();
        queue(c, peer, Message::FilterAdd(data), 0)
    })
}

/// filterclear.
///
/// # Safety
/// `client` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_send_filterclear(
    client: *const DashnetClient,
    peer: u64,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promise above.
        let c = tri!(unsafe { handle(client) });
        queue(c, peer, Message::FilterClear, 0)
    })
}

/// tx: a serialized transaction, with the app's `tag`.
///
/// # Safety
/// `client` is a live handle; `tx` has `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_send_tx(
    client: *const DashnetClient,
    peer: u64,
    tx: *const u8,
    len: usize,
    tag: u64,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promises above.
        let c = tri!(unsafe { handle(client) });
        if len > MAX_PAYLOAD_LEN {
            return fail(
                DashnetStatus::TooLarge,
                format!("a transaction of {len} bytes is over the 3 MiB protocol limit"),
            );
        }
        if len == 0 {
            return fail(
                DashnetStatus::InvalidArgument,
                "a transaction has at least 1 byte",
            );
        }
        // SAFETY: as above.
        let tx = tri!(unsafe { bytes_arg(tx, len, "tx") }).to_vec();
        queue(c, peer, Message::Tx(tx), tag)
    })
}

/// mempool.
///
/// # Safety
/// `client` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_send_mempool(
    client: *const DashnetClient,
    peer: u64,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promise above.
        let c = tri!(unsafe { handle(client) });
        queue(c, peer, Message::Mempool, 0)
    })
}

/// getmnlistd: the masternode list difference from `base_block_hash` (32 bytes; zeros
/// for none) to `block_hash` (32 bytes).
///
/// # Safety
/// `client` is a live handle; both hashes have 32 readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_send_getmnlistd(
    client: *const DashnetClient,
    peer: u64,
    base_block_hash: *const u8,
    block_hash: *const u8,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promises above.
        let c = tri!(unsafe { handle(client) });
        // SAFETY: as above.
        let base = tri!(unsafe { one_hash(base_block_hash, "base_block_hash") });
        // SAFETY: as above.
        let block = tri!(unsafe { one_hash(block_hash, "block_hash") });
        queue(
            c,
            peer,
            Message::GetMnListDiff(GetMnListDiff {
                base_block_hash: base,
                block_hash: block,
            }),
            0,
        )
    })
}

/// getqrinfo: quorum rotation information for `block_request_hash`, given `count` base
/// block hashes the app already has.
///
/// # Safety
/// `client` is a live handle; `base_hashes` has `count * 32` readable bytes;
/// `block_request_hash` has 32.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_send_getqrinfo(
    client: *const DashnetClient,
    peer: u64,
    base_hashes: *const u8,
    count: usize,
    block_request_hash: *const u8,
    extra_share: u8,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promises above.
        let c = tri!(unsafe { handle(client) });
        // SAFETY: as above; the count is checked against what fits in one message
        // before any byte is read.
        let bases = tri!(unsafe {
            hashes_arg(
                base_hashes,
                count,
                MAX_QRINFO_BASES,
                DashnetStatus::TooLarge,
                "base_hashes",
            )
        });
        // SAFETY: as above.
        let request = tri!(unsafe { one_hash(block_request_hash, "block_request_hash") });
        queue(
            c,
            peer,
            Message::GetQrInfo(GetQrInfo {
                base_block_hashes: bases,
                block_request_hash: request,
                extra_share: extra_share != 0,
            }),
            0,
        )
    })
}

/// Checks a filter type: Dash Core serves basic filters (0) only.
fn basic(filter_type: u8) -> Result<(), DashnetStatus> {
    if filter_type == BASIC_FILTER {
        Ok(())
    } else {
        Err(fail(
            DashnetStatus::InvalidArgument,
            format!("filter type {filter_type}: only basic filters (0) exist"),
        ))
    }
}

/// Queues getcfilters or getcfheaders (`make` says which) for `start_height` to `stop_hash`.
///
/// # Safety
/// `client` is a live handle; `stop_hash` has 32 readable bytes.
unsafe fn filter_range_request(
    client: *const DashnetClient,
    peer: u64,
    filter_type: u8,
    start_height: u32,
    stop_hash: *const u8,
    make: fn(FilterRange) -> Message,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promises above.
        let c = tri!(unsafe { handle(client) });
        tri!(basic(filter_type));
        // SAFETY: as above.
        let stop_hash = tri!(unsafe { one_hash(stop_hash, "stop_hash") });
        let r = FilterRange {
            filter_type,
            start_height,
            stop_hash,
        };
        queue(c, peer, make(r), 0)
    })
}

/// getcfilters (BIP157): the filters of blocks `start_height` to `stop_hash` (32 bytes;
/// at most 1000 blocks). Goes only to a peer advertising COMPACT_FILTERS: to the best of
/// them with `DASHNET_PEER_BEST`; NO_PEER when the peer (or every peer) lacks it. The
/// replies come as one cfilter message each (`dashnet_view_cfilter`).
///
/// # Safety
/// `client` is a live handle; `stop_hash` has 32 readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_send_getcfilters(
    client: *const DashnetClient,
    peer: u64,
    filter_type: u8,
    start_height: u32,
    stop_hash: *const u8,
) -> DashnetStatus {
    // SAFETY: the caller's promises, passed on.
    unsafe {
        filter_range_request(
            client,
            peer,
            filter_type,
            start_height,
            stop_hash,
            Message::GetCFilters,
        )
    }
}

/// getcfheaders (BIP157): the filter hashes of blocks `start_height` to `stop_hash` (32
/// bytes; at most 2000 blocks), answered by one cfheaders (`dashnet_view_cfheaders`,
/// `dashnet_cfheaders_check`). Routed as `dashnet_send_getcfilters`.
///
/// # Safety
/// `client` is a live handle; `stop_hash` has 32 readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_send_getcfheaders(
    client: *const DashnetClient,
    peer: u64,
    filter_type: u8,
    start_height: u32,
    stop_hash: *const u8,
) -> DashnetStatus {
    // SAFETY: the caller's promises, passed on.
    unsafe {
        filter_range_request(
            client,
            peer,
            filter_type,
            start_height,
            stop_hash,
            Message::GetCFHeaders,
        )
    }
}

/// getcfcheckpt (BIP157): the filter header of every 1000th block up to `stop_hash` (32
/// bytes), answered by one cfcheckpt (`dashnet_view_cfcheckpt`). Routed as
/// `dashnet_send_getcfilters`.
///
/// # Safety
/// `client` is a live handle; `stop_hash` has 32 readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_send_getcfcheckpt(
    client: *const DashnetClient,
    peer: u64,
    filter_type: u8,
    stop_hash: *const u8,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promises above.
        let c = tri!(unsafe { handle(client) });
        tri!(basic(filter_type));
        // SAFETY: as above.
        let stop_hash = tri!(unsafe { one_hash(stop_hash, "stop_hash") });
        let g = GetCFCheckpt {
            filter_type,
            stop_hash,
        };
        queue(c, peer, Message::GetCFCheckpt(g), 0)
    })
}
