//! dashnet: the Dash peer-to-peer network layer for mobile wallets.
//!
//! Layers, each using only those above it:
//! 1. [`wire`]: the codec, pure functions over bytes.
//! 2. `ffi`: the C ABI (the only place with `unsafe`).
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod ffi;
pub mod wire;
