//! The C ABI over the library. The only module with `extern "C"` (with `jni`).
//!
//! Functions are named `dashnet_<type>_<verb>`; `include/dashnet.h` is generated
//! from this module by cbindgen in `build.rs`.

use std::ffi::c_char;

static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library version as a NUL-terminated string, for example `"0.1.0"`.
///
/// The string is static: do not free it. Safe to call from any thread.
#[unsafe(no_mangle)]
pub extern "C" fn dashnet_version() -> *const c_char {
    VERSION.as_ptr().cast()
}
