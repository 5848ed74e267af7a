//! The C ABI over [`crate::client`]. The only module (with `jni`) that has `extern "C"`
//! and raw pointers.
//!
//! One file per C type: [`status`] (status codes and the thread-local last error),
//! [`config`] (`DashnetConfig`), [`client`] (`DashnetClient`: create, free, connect,
//! send, stats, lifecycle), [`event`] (`DashnetEvent` and its views, callbacks and
//! poll), [`builders`] (requests a wallet sends most), [`hash`] (X11 and SHA256d). `include/dashnet.h` is generated
//! from these files by cbindgen in `build.rs`.
//!
//! Every exported function catches panics (nothing unwinds into C), checks every
//! pointer and length, never blocks on the network, and returns a status code (or a
//! handle, NULL on failure, with the reason in `dashnet_last_error`).

pub mod builders;
pub mod client;
pub mod config;
pub mod event;
pub mod hash;
pub mod status;
pub mod views;

use std::ffi::c_char;

static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library version as a NUL-terminated string, for example `"0.1.0"`.
///
/// The string is static: do not free it. Safe to call from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn dashnet_version() -> *const c_char {
    VERSION.as_ptr().cast()
}
