//! Everything a connection can be tuned by.

use std::time::Duration;

use crate::wire::network::{
    MIN_PEER_PROTO_VERSION, PROTOCOL_VERSION, services::HEADERS_COMPRESSED,
};
use crate::wire::{MAX_PAYLOAD_LEN, Network};

/// Settings for one connection. The defaults follow Dash Core's and typical clients' values.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// The network spoken.
    pub network: Network,
    /// Our user agent, for example `/dashnet:0.1.0/`.
    pub user_agent: String,
    /// Services we advertise (default: HEADERS_COMPRESSED, so peers offer headers2).
    pub services: u64,
    /// Whether we want transactions relayed before a filter is loaded.
    pub relay: bool,
    /// The protocol version we speak.
    pub protocol_version: u32,
    /// Peers below this version are disconnected with `VersionTooOld`.
    pub min_protocol_version: u32,
    /// Service bits a peer must advertise (for example COMPACT_FILTERS); a peer without
    /// them ends its handshake with `MissingServices` (never a ban). 0: none required.
    pub required_services: u64,
    /// Our best height, sent in `version`.
    pub start_height: i32,
    /// How long a TCP connect may take.
    pub connect_timeout: Duration,
    /// How long the version/verack exchange may take.
    pub handshake_timeout: Duration,
    /// How often we ping.
    pub ping_interval: Duration,
    /// How long a ping may go unanswered.
    pub pong_timeout: Duration,
    /// How long a write may make no progress before the connection is dropped.
    pub write_stall_timeout: Duration,
    /// How long the peer may send nothing at all.
    pub inactivity_timeout: Duration,
    /// Most messages waiting in the outbound data lane.
    pub queue_max_messages: usize,
    /// Most bytes (frames included) waiting in the outbound data lane.
    pub queue_max_bytes: usize,
    /// Largest inbound or outbound payload.
    pub max_payload: usize,
    /// How long a graceful close may spend flushing the queue.
    pub flush_deadline: Duration,
    /// Inbound bytes of this peer that may wait between its socket and the owner before
    /// its reader stops reading (one message larger than this still goes through alone).
    pub inbound_peer_bytes: usize,
    /// A budget shared with other peers (a client's), charged as well, if any.
    pub client_budget: Option<super::InboundBudget>,
    /// Which transports we dial with (default: v2 preferred, falling back to v1).
    pub transport: super::TransportMode,
    /// This peer's header messages decoded at once (on the blocking pool), their events
    /// released in wire order (default: cores - 1, at most 4, at least 1).
    pub decode_threads: usize,
    /// A pool shared with other peers (a client's) bounding decodes running at once
    /// across them, if any.
    pub decode_pool: Option<DecodePool>,
}

/// Bounds how many header decodes run at once across the peers that share it.
#[derive(Debug, Clone)]
pub struct DecodePool {
    slots: std::sync::Arc<tokio::sync::Semaphore>,
    size: usize,
}

impl DecodePool {
    /// A pool of `threads` (at least 1).
    pub fn new(threads: usize) -> DecodePool {
        let size = threads.max(1);
        DecodePool {
            slots: std::sync::Arc::new(tokio::sync::Semaphore::new(size)),
            size,
        }
    }

    /// Its size.
    pub fn size(&self) -> usize {
        self.size
    }

    /// A slot, held while a decode runs; `None` once the pool is closed.
    pub(crate) async fn acquire(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.slots.clone().acquire_owned().await.ok()
    }
}

/// The default number of decode threads: cores - 1, at most 4, at least 1.
pub fn default_decode_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(1)
        .clamp(1, 4)
}

impl PeerConfig {
    /// Defaults for `network`.
    pub fn new(network: Network) -> Self {
        PeerConfig {
            user_agent: default_user_agent(&network),
            network,
            services: HEADERS_COMPRESSED,
            relay: false,
            protocol_version: PROTOCOL_VERSION,
            min_protocol_version: MIN_PEER_PROTO_VERSION,
            required_services: 0,
            start_height: 0,
            connect_timeout: Duration::from_secs(15),
            handshake_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(120),
            pong_timeout: Duration::from_secs(60),
            write_stall_timeout: Duration::from_secs(30),
            inactivity_timeout: Duration::from_secs(600),
            queue_max_messages: 4096,
            queue_max_bytes: 8 * 1024 * 1024,
            max_payload: MAX_PAYLOAD_LEN,
            flush_deadline: Duration::from_secs(2),
            inbound_peer_bytes: 4 * 1024 * 1024,
            client_budget: None,
            transport: super::TransportMode::V2Preferred,
            decode_threads: default_decode_threads(),
            decode_pool: None,
        }
    }
}

/// `/dashnet:<version>/`, with `(devnet.<name>)` on a devnet as Dash Core expects.
pub fn default_user_agent(network: &Network) -> String {
    match network {
        Network::Devnet { .. } => format!(
            "/dashnet:{}({})/",
            env!("CARGO_PKG_VERSION"),
            network.name()
        ),
        _ => format!("/dashnet:{}/", env!("CARGO_PKG_VERSION")),
    }
}
