//! dashnet: the Dash peer-to-peer network layer for mobile wallets.
//!
//! Layers, each using only those above it:
//! 1. [`wire`]: the codec, pure functions over bytes.
//! 2. [`peer`]: one split-socket connection.
//! 3. [`client`]: the set of peers and the policy over them.
//! 4. `ffi`: the C ABI (the only place with `unsafe`, with `jni`).
//! 5. `jni`: the Android binding (cargo feature `jni`).
//!
//! `sim` is dashnet-sim, a simulated Dash node on loopback for tests and demos, behind
//! the cargo feature `sim` (on by default, for tests, benches, the demo and the
//! `dashnet-sim` binary; the phone builds, `scripts/build-android` and
//! `scripts/build-xcframework`, leave it out with `--no-default-features`).
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod client;
pub mod ffi;
#[cfg(feature = "jni")]
pub mod jni;
pub mod peer;
#[cfg(feature = "sim")]
pub mod sim;
pub mod wire;
