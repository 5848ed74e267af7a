//! Hash helpers for C: X11 (block hashes), SHA256d (txids, BIP157 filter hashes) and the
//! BIP157 filter header, so an app can check what it stores without a second hashing
//! library.

use super::status::{DashnetStatus, bytes_arg, fail, guard};

/// Hashes `len` bytes at `data` with `f` into 32 bytes at `out`.
///
/// # Safety
/// `data` has `len` readable bytes (or len is 0); `out` is NULL or has 32 writable bytes.
unsafe fn hash_into(
    data: *const u8,
    len: usize,
    out: *mut u8,
    f: fn(&[u8]) -> crate::wire::Hash256,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promise above.
        let bytes = match unsafe { bytes_arg(data, len, "data") } {
            Ok(b) => b,
            Err(s) => return s,
        };
        if out.is_null() {
            return fail(DashnetStatus::InvalidArgument, "out is NULL");
        }
        let h = f(bytes);
        // SAFETY: non-NULL, and the caller promises 32 writable bytes.
        unsafe { std::ptr::copy_nonoverlapping(h.0.as_ptr(), out, 32) };
        DashnetStatus::Ok
    })
}

/// X11 of `len` bytes at `data` (a block header is 80 bytes) into `out` (32 bytes, wire
/// order; it displays byte-reversed).
///
/// # Safety
/// `data` has `len` readable bytes (or len is 0); `out` has 32 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_x11(data: *const u8, len: usize, out: *mut u8) -> DashnetStatus {
    // SAFETY: the same promises, passed on.
    unsafe { hash_into(data, len, out, crate::wire::x11) }
}

/// SHA256(SHA256(data)) into `out` (32 bytes, wire order).
///
/// # Safety
/// `data` has `len` readable bytes (or len is 0); `out` has 32 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_sha256d(
    data: *const u8,
    len: usize,
    out: *mut u8,
) -> DashnetStatus {
    // SAFETY: the same promises, passed on.
    unsafe { hash_into(data, len, out, crate::wire::sha256d) }
}

/// The BIP157 filter header that follows `previous` (32 bytes; all zeros before the
/// genesis block's filter) for a filter whose hash is `filter_hash` (32 bytes: the
/// SHA256d of the filter bytes, `dashnet_sha256d`): SHA256d(filter_hash || previous),
/// into `out` (32 bytes, wire order). Chaining it over a cfheaders reply's hashes from its
/// previous header gives the header of its stop block, to compare with a checkpoint; for
/// a cfilter, compare it with the header cfheaders gave for that block.
///
/// # Safety
/// `filter_hash` and `previous` have 32 readable bytes; `out` has 32 writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_filter_header(
    filter_hash: *const u8,
    previous: *const u8,
    out: *mut u8,
) -> DashnetStatus {
    guard(|| {
        if filter_hash.is_null() || previous.is_null() || out.is_null() {
            return fail(
                DashnetStatus::InvalidArgument,
                "filter_hash, previous and out must not be NULL",
            );
        }
        let read = |p: *const u8| {
            let mut h = [0u8; 32];
            // SAFETY: non-NULL, and the caller promises 32 readable bytes.
            unsafe { std::ptr::copy_nonoverlapping(p, h.as_mut_ptr(), 32) };
            crate::wire::Hash256(h)
        };
        let header = crate::wire::payloads::filter_header(&read(filter_hash), &read(previous));
        // SAFETY: non-NULL, and the caller promises 32 writable bytes.
        unsafe { std::ptr::copy_nonoverlapping(header.0.as_ptr(), out, 32) };
        DashnetStatus::Ok
    })
}
