//! Status codes, the thread-local last error, the panic boundary and pointer checks.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::client::ClientError;
use crate::peer::SendError;

/// What every dashnet function returns. `DASHNET_STATUS_OK` is 0; on anything else,
/// `dashnet_last_error()` on the same thread says more.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DashnetStatus {
    /// Success.
    Ok = 0,
    /// A NULL pointer, a bad length, invalid UTF-8, an unknown network, a bad address.
    InvalidArgument = 1,
    /// No peer has that id (ids are never reused, so a stale id is always this).
    NotFound = 2,
    /// The peer's outbound queue is full; nothing was queued.
    QueueFull = 3,
    /// The peer is disconnecting or gone.
    Disconnected = 4,
    /// The payload is larger than the protocol allows (3 MiB).
    TooLarge = 5,
    /// No connected peer to send to.
    NoPeer = 6,
    /// Nothing arrived before the timeout (poll).
    Timeout = 7,
    /// Not allowed from inside a callback (freeing the client).
    InCallback = 8,
    /// The client is shutting down.
    ShuttingDown = 9,
    /// A bug inside dashnet (a caught panic); the message is in `dashnet_last_error`.
    Internal = 10,
    /// The call is not available in this mode (poll with callbacks installed).
    WrongMode = 11,
    /// The data does not match what the app holds (a compact-filter check failed).
    Mismatch = 12,
    /// Something already running prevents it (a header sync).
    Busy = 13,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `text` as this thread's last error and returns `status`.
pub(crate) fn fail(status: DashnetStatus, text: impl Into<String>) -> DashnetStatus {
    let text = text.into().replace('\0', " ");
    LAST_ERROR.with(|e| *e.borrow_mut() = CString::new(text).unwrap_or_default());
    status
}

/// The message of the most recent failure on the calling thread ("" if none yet).
///
/// The string belongs to dashnet and stays valid until the next dashnet call on the
/// same thread. Do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn dashnet_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// A short constant name for a status code, for example `"queue full"`; any value
/// that is not a status (a newer library's, or garbage) gets `"unknown status"`.
/// Static: do not free. The status is taken as an integer, so any value is safe.
#[unsafe(no_mangle)]
pub extern "C" fn dashnet_status_name(status: u32) -> *const c_char {
    let s: &'static CStr = match status {
        0 => c"ok",
        1 => c"invalid argument",
        2 => c"not found",
        3 => c"queue full",
        4 => c"disconnected",
        5 => c"too large",
        6 => c"no peer",
        7 => c"timeout",
        8 => c"not allowed in a callback",
        9 => c"shutting down",
        10 => c"internal error",
        11 => c"wrong mode",
        12 => c"mismatch",
        13 => c"busy",
        _ => c"unknown status",
    };
    s.as_ptr()
}

/// The size of a field, for [`field_ends`].
pub(crate) fn field_size<T, F>(_: fn(&T) -> &F) -> usize {
    std::mem::size_of::<F>()
}

/// Where each named field of a `#[repr(C)]` struct ends: the `struct_size` values a
/// caller built against an older, shorter version of it may pass.
macro_rules! field_ends {
    ($t:ty; $($f:ident),+ $(,)?) => {
        [$(std::mem::offset_of!($t, $f) + $crate::ffi::status::field_size(|s: &$t| &s.$f)),+]
    };
}
pub(crate) use field_ends;

/// Checks a caller's `struct_size` for a versioned struct: it must end on a field
/// boundary (`ends`, or the whole struct with its padding) and cover at least `min`
/// bytes. A size past ours (built against a newer dashnet) is refused too: we cannot
/// honour fields we do not know.
pub(crate) fn check_struct_size(
    size: usize,
    ends: &[usize],
    full: usize,
    min: usize,
    what: &str,
) -> Result<usize, DashnetStatus> {
    if size >= min && (size == full || ends.contains(&size)) {
        return Ok(size);
    }
    Err(fail(
        DashnetStatus::InvalidArgument,
        if size > full {
            format!("{what} struct_size {size} is from a newer dashnet than this one ({full})")
        } else {
            format!(
                "{what} struct_size {size} is not the size of any version of {what} (use sizeof)"
            )
        },
    ))
}

/// Copies the first `n` bytes of `value` to `out` (a caller's struct of an older or the
/// same version, `n` already checked to be one of its field boundaries).
///
/// # Safety
/// `out` points to at least `n` writable bytes, and `n <= size_of::<T>()`.
pub(crate) unsafe fn write_prefix<T>(out: *mut T, value: &T, n: usize) {
    debug_assert!(n <= std::mem::size_of::<T>());
    // SAFETY: `value` has size_of::<T>() >= n readable bytes; the caller promises `n`
    // writable bytes at `out`; the two cannot overlap (one is our own local).
    unsafe { std::ptr::copy_nonoverlapping((value as *const T).cast::<u8>(), out.cast::<u8>(), n) };
}

/// Runs `body` behind the panic boundary: a panic becomes `Internal`, never an unwind into C.
pub(crate) fn guard(body: impl FnOnce() -> DashnetStatus) -> DashnetStatus {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(s) => s,
        Err(p) => fail(DashnetStatus::Internal, panic_text(&p)),
    }
}

/// Like [`guard`] for functions that return a pointer (NULL on failure or panic).
pub(crate) fn guard_ptr<T>(body: impl FnOnce() -> *mut T) -> *mut T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(p) => p,
        Err(p) => {
            fail(DashnetStatus::Internal, panic_text(&p));
            std::ptr::null_mut()
        }
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    let what = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("internal error (panic): {what}")
}

/// The status code for a client error: the one table the C ABI, the JNI binding and (by a
/// test) the Java constants share.
pub(crate) fn status_of(e: &ClientError) -> DashnetStatus {
    match e {
        ClientError::NotFound => DashnetStatus::NotFound,
        ClientError::NoPeer => DashnetStatus::NoPeer,
        ClientError::Send(SendError::QueueFull) => DashnetStatus::QueueFull,
        ClientError::Send(SendError::Disconnected) => DashnetStatus::Disconnected,
        ClientError::Send(SendError::TooLarge) => DashnetStatus::TooLarge,
        ClientError::ShuttingDown => DashnetStatus::ShuttingDown,
        ClientError::Invalid(_) => DashnetStatus::InvalidArgument,
        ClientError::Busy(_) => DashnetStatus::Busy,
        ClientError::NoService { .. } => DashnetStatus::NoPeer,
    }
}

/// This thread's last error message (for the JNI binding's exceptions).
#[cfg(feature = "jni")]
pub(crate) fn last_error_text() -> String {
    LAST_ERROR.with(|e| e.borrow().to_string_lossy().into_owned())
}

pub(crate) fn from_client_error(e: ClientError) -> DashnetStatus {
    let status = status_of(&e);
    fail(status, e.to_string())
}

/// Reads a NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid during the call.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str, DashnetStatus> {
    if p.is_null() {
        return Err(fail(
            DashnetStatus::InvalidArgument,
            format!("{what} is NULL"),
        ));
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string valid for the call.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str().map_err(|_| {
        fail(
            DashnetStatus::InvalidArgument,
            format!("{what} is not valid UTF-8"),
        )
    })
}

/// Reads a (pointer, length) byte argument; NULL is allowed only with length 0.
///
/// # Safety
/// When `len > 0`, `p` points to `len` readable bytes that stay valid during the call.
pub(crate) unsafe fn bytes_arg<'a>(
    p: *const u8,
    len: usize,
    what: &str,
) -> Result<&'a [u8], DashnetStatus> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(fail(
            DashnetStatus::InvalidArgument,
            format!("{what} is NULL with length {len}"),
        ));
    }
    if len > isize::MAX as usize {
        return Err(fail(
            DashnetStatus::InvalidArgument,
            format!("{what} length is impossible"),
        ));
    }
    // SAFETY: non-NULL, length checked, and the caller promises `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Writes `value` through an out-pointer if it is not NULL.
///
/// # Safety
/// `out` is NULL or points to writable memory for a `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: non-NULL, and the caller promises it is writable for a T.
        unsafe { out.write(value) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Java constants are the same numbers as `DashnetStatus` (one table, checked).
    #[test]
    fn java_status_constants_match_the_c_abi() {
        let java = include_str!("../../java/org/dashnet/DashnetClient.java");
        let all = [
            ("OK", DashnetStatus::Ok),
            ("INVALID_ARGUMENT", DashnetStatus::InvalidArgument),
            ("NOT_FOUND", DashnetStatus::NotFound),
            ("QUEUE_FULL", DashnetStatus::QueueFull),
            ("DISCONNECTED", DashnetStatus::Disconnected),
            ("TOO_LARGE", DashnetStatus::TooLarge),
            ("NO_PEER", DashnetStatus::NoPeer),
            ("TIMEOUT", DashnetStatus::Timeout),
            ("IN_CALLBACK", DashnetStatus::InCallback),
            ("SHUTTING_DOWN", DashnetStatus::ShuttingDown),
            ("INTERNAL", DashnetStatus::Internal),
            ("WRONG_MODE", DashnetStatus::WrongMode),
            ("MISMATCH", DashnetStatus::Mismatch),
        ];
        for (name, status) in all {
            let want = format!("{name} = {}", status as u32);
            assert!(java.contains(&want), "DashnetClient.java lacks `{want}`");
        }
        use super::super::event::DashnetFailStage as S;
        for (name, stage) in [
            ("STAGE_CONNECT", S::Connect),
            ("STAGE_HANDSHAKE", S::Handshake),
            ("STAGE_PROXY", S::Proxy),
        ] {
            let want = format!("{name} = {}", stage as u32);
            assert!(java.contains(&want), "DashnetClient.java lacks `{want}`");
        }
    }
}
