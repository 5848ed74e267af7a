//! The version/verack exchange, in the order Dash Core expects when we dial.
//!
//! 1. We send `version` (Dash Core waits for ours).
//! 2. It answers `version`, `sendaddrv2` (common version >= 70223), `verack`.
//! 3. On its version we send `sendaddrv2` (when the common version >= 70223) and then
//!    `verack`; `sendaddrv2` after `verack` makes Dash Core disconnect.
//! 4. After both veracks we send `sendheaders2` if it has HEADERS_COMPRESSED, else
//!    `sendheaders`.
//!
//! This runs on the whole stream before it is split, over either transport (after the
//! v2 key exchange when v2 is used); bytes read past the peer's verack stay in the
//! returned decoder state for the reader.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngCore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::config::PeerConfig;
use super::event::DisconnectReason;
use super::transport::{Decoder, Encoder, Step, Transport, TransportMode};
use crate::wire::network::{
    ADDRV2_VERSION,
    services::{HEADERS_COMPRESSED, P2P_V2},
};
use crate::wire::{Message, NetAddr, PeerAddr, Version};

/// What the handshake learned about the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's address (what was dialed: through a proxy, the target, not the proxy).
    pub addr: PeerAddr,
    /// The peer's protocol version.
    pub version: u32,
    /// The version both sides speak (the lower of the two).
    pub negotiated_version: u32,
    /// The peer's services.
    pub services: u64,
    /// The peer's user agent.
    pub user_agent: String,
    /// The peer's best height when it connected.
    pub start_height: i32,
    /// The peer's relay flag.
    pub relay: bool,
    /// The peer asked for addrv2.
    pub wants_addrv2: bool,
    /// We asked the peer for headers2 (it has HEADERS_COMPRESSED).
    pub headers2: bool,
    /// The transport in use.
    pub transport: Transport,
    /// The v2 session id (both sides compute the same 32 bytes: apps may show it for an
    /// out-of-band comparison); `None` over v1.
    pub session_id: Option<[u8; 32]>,
}

/// The handshake's result: the peer, and the decoder with any bytes read past its verack.
pub(crate) struct Handshaken {
    pub info: PeerInfo,
    pub encoder: Encoder,
    pub decoder: Decoder,
    pub leftover: Vec<u8>,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Our `version` message.
pub fn our_version(config: &PeerConfig, remote: SocketAddr, nonce: u64) -> Version {
    let mut challenge = [0u8; 32];
    rand::rng().fill_bytes(&mut challenge);
    // NODE_P2P_V2 is advertised whenever we speak v2.
    let services = match config.transport {
        TransportMode::V1Only => config.services,
        _ => config.services | P2P_V2,
    };
    Version {
        version: config.protocol_version,
        services,
        timestamp: unix_now(),
        receiver: NetAddr::from_socket_addr(remote, 0),
        sender: NetAddr {
            services,
            ..NetAddr::default()
        },
        nonce,
        user_agent: config.user_agent.clone().into_bytes(),
        start_height: config.start_height,
        relay: Some(config.relay),
        mn_auth_challenge: Some(challenge),
        masternode_connection: Some(false),
        extra: Vec::new(),
    }
}

fn protocol(text: impl Into<String>) -> DisconnectReason {
    DisconnectReason::Protocol(text.into())
}

/// The transport state the version exchange starts from.
pub(crate) struct Start {
    pub encoder: Encoder,
    pub decoder: Decoder,
    /// Bytes already read past the transport's own handshake.
    pub leftover: Vec<u8>,
    pub session_id: Option<[u8; 32]>,
}

/// Runs the handshake on `stream` (the caller bounds it with the handshake timeout).
pub(crate) async fn handshake(
    stream: &mut TcpStream,
    remote: PeerAddr,
    config: &PeerConfig,
    start: Start,
) -> Result<Handshaken, DisconnectReason> {
    let Start {
        mut encoder,
        mut decoder,
        leftover,
        session_id,
    } = start;
    let nonce = rand::rng().next_u64();
    let mut bytes_out = 0u64;
    let mut bytes_in = 0u64;
    let mut frame = Vec::new();
    let mut write = async |stream: &mut TcpStream, encoder: &mut Encoder, msg: Message| {
        frame.clear();
        encoder.encode(&msg.command(), &msg.payload(), &mut frame);
        bytes_out += frame.len() as u64;
        stream
            .write_all(&frame)
            .await
            .map_err(|e| DisconnectReason::Io(e.kind()))
    };
    // An overlay peer has no IP to name: the receiver field is left unspecified.
    let receiver = remote
        .ip()
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    write(
        stream,
        &mut encoder,
        Message::Version(our_version(config, receiver, nonce)),
    )
    .await?;

    let mut buf = vec![0u8; 4096];
    let mut pending = leftover;
    let mut theirs: Option<Version> = None;
    let mut wants_addrv2 = false;
    let mut negotiated = 0;
    loop {
        if pending.is_empty() {
            let n = stream
                .read(&mut buf)
                .await
                .map_err(|e| DisconnectReason::Io(e.kind()))?;
            if n == 0 {
                return Err(DisconnectReason::RemoteClosed);
            }
            bytes_in += n as u64;
            pending.extend_from_slice(&buf[..n]);
        }
        let chunk = std::mem::take(&mut pending);
        let mut input = &chunk[..];
        while !input.is_empty() {
            let raw = match decoder.decode(&mut input)? {
                Step::Message(raw) => raw,
                Step::Need | Step::Skipped => continue,
            };
            match (raw.command.as_str(), &theirs) {
                ("version", None) => {
                    let Message::Version(v) =
                        Message::from_raw(&raw).map_err(|e| protocol(e.to_string()))?
                    else {
                        return Err(protocol("version did not decode as version"));
                    };
                    if v.version < config.min_protocol_version {
                        return Err(DisconnectReason::VersionTooOld(v.version));
                    }
                    if v.services & config.required_services != config.required_services {
                        return Err(DisconnectReason::MissingServices {
                            have: v.services,
                            need: config.required_services,
                        });
                    }
                    if v.nonce == nonce {
                        return Err(protocol("connected to ourselves"));
                    }
                    negotiated = v.version.min(config.protocol_version);
                    encoder.set_negotiated(negotiated);
                    decoder.set_negotiated(negotiated);
                    if negotiated >= ADDRV2_VERSION {
                        write(stream, &mut encoder, Message::SendAddrV2).await?;
                    }
                    write(stream, &mut encoder, Message::Verack).await?;
                    theirs = Some(v);
                }
                ("version", Some(_)) => return Err(protocol("duplicate version")),
                ("sendaddrv2", Some(_)) => wants_addrv2 = true,
                ("verack", Some(v)) => {
                    let headers2 = v.services & HEADERS_COMPRESSED != 0;
                    let follow = if headers2 {
                        Message::SendHeaders2
                    } else {
                        Message::SendHeaders
                    };
                    write(stream, &mut encoder, follow).await?;
                    let info = PeerInfo {
                        addr: remote,
                        version: v.version,
                        negotiated_version: negotiated,
                        services: v.services,
                        user_agent: v.user_agent_lossy(),
                        start_height: v.start_height,
                        relay: v.relay.unwrap_or(true),
                        wants_addrv2,
                        headers2,
                        transport: encoder.transport(),
                        session_id,
                    };
                    return Ok(Handshaken {
                        info,
                        encoder,
                        decoder,
                        leftover: input.to_vec(),
                        bytes_in,
                        bytes_out,
                    });
                }
                (other, None) => {
                    return Err(protocol(format!("{other} before version")));
                }
                // Anything else before the peer's verack is ignored, as Dash Core does.
                _ => {}
            }
        }
    }
}
