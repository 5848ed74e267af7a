//! The Dash wire codec: pure functions over bytes.
//!
//! No I/O, no tokio, no global state. Decoding never panics, and never allocates from
//! an untrusted count or length before checking it against the bytes present and the
//! protocol's limits.
#![forbid(unsafe_code)]

pub mod address;
pub mod codec;
pub mod error;
pub mod frame;
pub mod hash;
pub mod header;
pub mod headers2;
pub mod message;
pub mod network;
pub mod payloads;
pub mod peer_addr;
pub mod short_id;

pub use address::{AddrV2Address, AddrV2Entry, NetAddr, TimedAddr};
pub use error::{DecodeError, DecodeErrorKind};
pub use frame::{
    Command, FrameDecoder, FrameError, MAX_PAYLOAD_LEN, RawMessage, decode_frame, encode_frame,
};
pub use hash::{Hash256, sha256d, x11};
pub use header::{BlockHeader, HashedHeader, HeaderError, Target};
pub use message::Message;
pub use network::Network;
pub use payloads::*;
pub use peer_addr::{PeerAddr, PeerAddrError};
