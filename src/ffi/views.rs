//! Typed, zero-copy views of the messages a wallet acts on: compact filters (cfilter,
//! cfheaders, cfcheckpt, BIP157) and finality (clsig, isdlock). A view decodes a message
//! payload (from `DashnetMessage.payload`) and points into it: the pointers are valid for
//! as long as the payload is (during the callback, or until `dashnet_event_free`). Every
//! view struct starts with `struct_size` (set it to `sizeof` before the call), so later
//! versions can add fields at the end. A payload that does not decode gives
//! `DASHNET_STATUS_INVALID_ARGUMENT` with the field and byte offset in
//! `dashnet_last_error`.
//!
//! The checks the network layer can make without the chain are here too:
//! `dashnet_cfheaders_check` (a cfheaders reply chains from its previous header through
//! its hashes to the header the app holds) and `dashnet_cfilter_check` (a filter hashes to
//! the header the app holds); both say `DASHNET_STATUS_MISMATCH` when it does not.
//!
//! Hashes are 32 bytes in wire order (a hash displays byte-reversed).

use super::client::{out_struct_size, tri};
use super::status::{DashnetStatus, bytes_arg, fail, field_ends, guard, write_prefix};
use crate::wire::message::commands;
use crate::wire::payloads::{BLS_SIG_LEN, FilterCheckError};
use crate::wire::{Command, Hash256, Message};

/// A cfilter: one block's filter.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DashnetCFilterView {
    /// `sizeof(DashnetCFilterView)` as the caller compiled it.
    pub struct_size: usize,
    /// The filter type (0: basic).
    pub filter_type: u8,
    /// The block the filter is for.
    pub block_hash: [u8; 32],
    /// The filter bytes (inside the payload).
    pub filter: *const u8,
    /// Their number.
    pub filter_len: usize,
}

/// A cfheaders reply: filter hashes for a run of blocks ending at `stop_hash`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DashnetCFHeadersView {
    /// `sizeof(DashnetCFHeadersView)` as the caller compiled it.
    pub struct_size: usize,
    /// The filter type (0: basic).
    pub filter_type: u8,
    /// The last block of the run.
    pub stop_hash: [u8; 32],
    /// The filter header of the block before the run.
    pub previous_filter_header: [u8; 32],
    /// `count` filter hashes of 32 bytes each, in block order (inside the payload).
    pub filter_hashes: *const u8,
    /// Their number (at most 2000).
    pub count: usize,
}

/// A cfcheckpt reply: the filter header of every 1000th block up to `stop_hash`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DashnetCFCheckptView {
    /// `sizeof(DashnetCFCheckptView)` as the caller compiled it.
    pub struct_size: usize,
    /// The filter type (0: basic).
    pub filter_type: u8,
    /// The last block.
    pub stop_hash: [u8; 32],
    /// `count` filter headers of 32 bytes each (heights 1000, 2000, ...; inside the payload).
    pub filter_headers: *const u8,
    /// Their number.
    pub count: usize,
}

/// A clsig: a ChainLock on a block.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DashnetClSigView {
    /// `sizeof(DashnetClSigView)` as the caller compiled it.
    pub struct_size: usize,
    /// The locked block's height.
    pub height: i32,
    /// The locked block's hash.
    pub block_hash: [u8; 32],
    /// The quorum's BLS signature.
    pub signature: [u8; 96],
}

/// An isdlock: an InstantSend lock on a transaction's inputs.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DashnetIsDLockView {
    /// `sizeof(DashnetIsDLockView)` as the caller compiled it.
    pub struct_size: usize,
    /// The lock's version.
    pub version: u8,
    /// `input_count` outpoints of 36 bytes each: txid (32) then output index (u32
    /// little-endian) (inside the payload).
    pub inputs: *const u8,
    /// Their number.
    pub input_count: usize,
    /// The locked transaction.
    pub txid: [u8; 32],
    /// The quorum cycle's block hash.
    pub cycle_hash: [u8; 32],
    /// The quorum's BLS signature.
    pub signature: [u8; 96],
}

/// Decodes `payload` as `command`.
///
/// # Safety
/// `payload` is NULL with `len` 0, or has `len` readable bytes.
unsafe fn decode<'a>(
    payload: *const u8,
    len: usize,
    command: Command,
) -> Result<(&'a [u8], Message), DashnetStatus> {
    // SAFETY: the caller's promise, passed on.
    let bytes = unsafe { bytes_arg(payload, len, "payload") }?;
    let m = Message::decode(&command, bytes).map_err(|e| {
        fail(
            DashnetStatus::InvalidArgument,
            format!("not a valid {command}: {e}"),
        )
    })?;
    Ok((bytes, m))
}

/// A pointer to the last `n` bytes of `bytes` (where a message's trailing list lives).
fn tail(bytes: &[u8], n: usize) -> *const u8 {
    bytes[bytes.len() - n..].as_ptr()
}

/// Fills `*out` with a view of a cfilter payload. Set `out->struct_size` first.
///
/// # Safety
/// `payload` has `len` readable bytes (NULL with 0 is refused as not a cfilter) and stays
/// valid while the view is used; `out` is writable for its `struct_size`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_view_cfilter(
    payload: *const u8,
    len: usize,
    out: *mut DashnetCFilterView,
) -> DashnetStatus {
    guard(|| {
        let ends = field_ends!(DashnetCFilterView; struct_size, filter_type, block_hash, filter,
            filter_len);
        // SAFETY: the caller's promise above.
        let n = tri!(unsafe { out_struct_size(out, &ends, "DashnetCFilterView") });
        // SAFETY: the caller's promise above.
        let (bytes, m) = tri!(unsafe { decode(payload, len, commands::CFILTER) });
        let Message::CFilter(c) = m else {
            return fail(
                DashnetStatus::Internal,
                "cfilter decoded as another message",
            );
        };
        let v = DashnetCFilterView {
            struct_size: n,
            filter_type: c.filter_type,
            block_hash: c.block_hash.0,
            filter: tail(bytes, c.filter.len()),
            filter_len: c.filter.len(),
        };
        // SAFETY: `out` has `n` writable bytes (the caller's promise), a field end of ours.
        unsafe { write_prefix(out, &v, n) };
        DashnetStatus::Ok
    })
}

/// Fills `*out` with a view of a cfheaders payload. Set `out->struct_size` first.
///
/// # Safety
/// As `dashnet_view_cfilter`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_view_cfheaders(
    payload: *const u8,
    len: usize,
    out: *mut DashnetCFHeadersView,
) -> DashnetStatus {
    guard(|| {
        let ends = field_ends!(DashnetCFHeadersView; struct_size, filter_type, stop_hash,
            previous_filter_header, filter_hashes, count);
        // SAFETY: the caller's promise above.
        let n = tri!(unsafe { out_struct_size(out, &ends, "DashnetCFHeadersView") });
        // SAFETY: the caller's promise above.
        let (bytes, m) = tri!(unsafe { decode(payload, len, commands::CFHEADERS) });
        let Message::CFHeaders(c) = m else {
            return fail(
                DashnetStatus::Internal,
                "cfheaders decoded as another message",
            );
        };
        let count = c.filter_hashes.len();
        let v = DashnetCFHeadersView {
            struct_size: n,
            filter_type: c.filter_type,
            stop_hash: c.stop_hash.0,
            previous_filter_header: c.previous_filter_header.0,
            filter_hashes: tail(bytes, count * 32),
            count,
        };
        // SAFETY: `out` has `n` writable bytes (the caller's promise), a field end of ours.
        unsafe { write_prefix(out, &v, n) };
        DashnetStatus::Ok
    })
}

/// Fills `*out` with a view of a cfcheckpt payload. Set `out->struct_size` first.
///
/// # Safety
/// As `dashnet_view_cfilter`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_view_cfcheckpt(
    payload: *const u8,
    len: usize,
    out: *mut DashnetCFCheckptView,
) -> DashnetStatus {
    guard(|| {
        let ends = field_ends!(DashnetCFCheckptView; struct_size, filter_type, stop_hash,
            filter_headers, count);
        // SAFETY: the caller's promise above.
        let n = tri!(unsafe { out_struct_size(out, &ends, "DashnetCFCheckptView") });
        // SAFETY: the caller's promise above.
        let (bytes, m) = tri!(unsafe { decode(payload, len, commands::CFCHECKPT) });
        let Message::CFCheckpt(c) = m else {
            return fail(
                DashnetStatus::Internal,
                "cfcheckpt decoded as another message",
            );
        };
        let count = c.filter_headers.len();
        let v = DashnetCFCheckptView {
            struct_size: n,
            filter_type: c.filter_type,
            stop_hash: c.stop_hash.0,
            filter_headers: tail(bytes, count * 32),
            count,
        };
        // SAFETY: `out` has `n` writable bytes (the caller's promise), a field end of ours.
        unsafe { write_prefix(out, &v, n) };
        DashnetStatus::Ok
    })
}

/// Fills `*out` with a view of a clsig payload. Set `out->struct_size` first.
///
/// # Safety
/// As `dashnet_view_cfilter`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_view_clsig(
    payload: *const u8,
    len: usize,
    out: *mut DashnetClSigView,
) -> DashnetStatus {
    guard(|| {
        let ends = field_ends!(DashnetClSigView; struct_size, height, block_hash, signature);
        // SAFETY: the caller's promise above.
        let n = tri!(unsafe { out_struct_size(out, &ends, "DashnetClSigView") });
        // SAFETY: the caller's promise above.
        let (_, m) = tri!(unsafe { decode(payload, len, commands::CLSIG) });
        let Message::ClSig(c) = m else {
            return fail(DashnetStatus::Internal, "clsig decoded as another message");
        };
        let v = DashnetClSigView {
            struct_size: n,
            height: c.height,
            block_hash: c.block_hash.0,
            signature: c.sig,
        };
        // SAFETY: `out` has `n` writable bytes (the caller's promise), a field end of ours.
        unsafe { write_prefix(out, &v, n) };
        DashnetStatus::Ok
    })
}

/// Fills `*out` with a view of an isdlock payload. Set `out->struct_size` first.
///
/// # Safety
/// As `dashnet_view_cfilter`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_view_isdlock(
    payload: *const u8,
    len: usize,
    out: *mut DashnetIsDLockView,
) -> DashnetStatus {
    guard(|| {
        let ends = field_ends!(DashnetIsDLockView; struct_size, version, inputs, input_count,
            txid, cycle_hash, signature);
        // SAFETY: the caller's promise above.
        let n = tri!(unsafe { out_struct_size(out, &ends, "DashnetIsDLockView") });
        // SAFETY: the caller's promise above.
        let (bytes, m) = tri!(unsafe { decode(payload, len, commands::ISDLOCK) });
        let Message::IsDLock(l) = m else {
            return fail(
                DashnetStatus::Internal,
                "isdlock decoded as another message",
            );
        };
        // version (1 byte), then the input count as a CompactSize: its first byte says
        // how long it is. The inputs follow it.
        let size_len = match bytes[1] {
            0xfd => 3,
            0xfe => 5,
            0xff => 9,
            _ => 1,
        };
        let v = DashnetIsDLockView {
            struct_size: n,
            version: l.version,
            inputs: bytes[1 + size_len..].as_ptr(),
            input_count: l.inputs.len(),
            txid: l.txid.0,
            cycle_hash: l.cycle_hash.0,
            signature: l.sig,
        };
        debug_assert_eq!(
            bytes.len(),
            1 + size_len + 36 * l.inputs.len() + 64 + BLS_SIG_LEN
        );
        // SAFETY: `out` has `n` writable bytes (the caller's promise), a field end of ours.
        unsafe { write_prefix(out, &v, n) };
        DashnetStatus::Ok
    })
}

fn check_result(r: Result<(), FilterCheckError>) -> DashnetStatus {
    match r {
        Ok(()) => DashnetStatus::Ok,
        Err(e @ FilterCheckError::Mismatch { .. }) => fail(DashnetStatus::Mismatch, e.to_string()),
        Err(e) => fail(DashnetStatus::InvalidArgument, e.to_string()),
    }
}

/// Reads 32 bytes.
///
/// # Safety
/// `p` is NULL or has 32 readable bytes.
unsafe fn hash_at(p: *const u8, what: &str) -> Result<Option<Hash256>, DashnetStatus> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's promise, passed on.
    let b = unsafe { bytes_arg(p, 32, what) }?;
    let mut h = [0u8; 32];
    h.copy_from_slice(b);
    Ok(Some(Hash256(h)))
}

/// Checks a cfheaders payload: basic filters, at least one hash, and, if `expected` is
/// not NULL (the filter header of its stop block that the app holds, from a cfcheckpt or
/// an earlier reply), that the chain from the previous header through every hash ends
/// there (`DASHNET_STATUS_MISMATCH` if not: one wrong hash anywhere changes the end). If
/// `out_last` is not NULL it gets the computed header of the stop block.
///
/// # Safety
/// `payload` has `len` readable bytes; `expected` is NULL or has 32 readable bytes;
/// `out_last` is NULL or has 32 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_cfheaders_check(
    payload: *const u8,
    len: usize,
    expected: *const u8,
    out_last: *mut u8,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promise above.
        let (_, m) = tri!(unsafe { decode(payload, len, commands::CFHEADERS) });
        let Message::CFHeaders(c) = m else {
            return fail(
                DashnetStatus::Internal,
                "cfheaders decoded as another message",
            );
        };
        // SAFETY: the caller's promise above.
        let expected = tri!(unsafe { hash_at(expected, "expected") });
        let result = c.check(expected.as_ref());
        let last = match &result {
            Ok(headers) => headers[headers.len() - 1],
            Err(FilterCheckError::Mismatch { computed, .. }) => *computed,
            Err(_) => return check_result(result.map(|_| ())),
        };
        if !out_last.is_null() {
            // SAFETY: non-NULL, and the caller promises 32 writable bytes.
            unsafe { std::ptr::copy_nonoverlapping(last.0.as_ptr(), out_last, 32) };
        }
        check_result(result.map(|_| ()))
    })
}

/// Checks a cfilter payload against the filter header the app holds for its block
/// (`expected`, 32 bytes, from cfheaders), given the previous block's filter header
/// (`previous`, 32 bytes): `DASHNET_STATUS_MISMATCH` if the filter does not hash to it.
///
/// # Safety
/// `payload` has `len` readable bytes; `previous` and `expected` have 32 readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_cfilter_check(
    payload: *const u8,
    len: usize,
    previous: *const u8,
    expected: *const u8,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promise above.
        let (_, m) = tri!(unsafe { decode(payload, len, commands::CFILTER) });
        let Message::CFilter(c) = m else {
            return fail(
                DashnetStatus::Internal,
                "cfilter decoded as another message",
            );
        };
        // SAFETY: the caller's promise above.
        let previous = tri!(unsafe { hash_at(previous, "previous") });
        // SAFETY: the caller's promise above.
        let expected = tri!(unsafe { hash_at(expected, "expected") });
        let (Some(previous), Some(expected)) = (previous, expected) else {
            return fail(
                DashnetStatus::InvalidArgument,
                "previous and expected must not be NULL",
            );
        };
        check_result(c.check(&previous, &expected))
    })
}
