//! Client configuration.

use std::net::SocketAddr;
use std::time::Duration;

use super::book::Policy;
use crate::peer::{PeerConfig, Route};
use crate::wire::{Network, PeerAddr};

/// Everything a client can be tuned by. [`ClientConfig::new`] gives defaults for a network.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Per-connection settings: network, user agent, services, relay, protocol versions,
    /// every timeout and queue bound.
    pub peer: PeerConfig,
    /// Worker threads of the client's runtime (few: it runs on phones).
    pub worker_threads: usize,
    /// How many outbound connections to keep.
    pub target_outbound: usize,
    /// Most outbound connections, counting ones the app asked for.
    pub max_outbound: usize,
    /// Peers to always keep connected.
    pub fixed_peers: Vec<SocketAddr>,
    /// Dial only `fixed_peers` (no DNS, no learned addresses).
    pub exclusive: bool,
    /// Resolve DNS seeds (at start, on network changes, when the book runs dry). Never
    /// with a proxy or `onion_only`: the built-in seed nodes are used instead.
    pub dns_seeds: bool,
    /// The seeds (`host` or `host:port`); the network's own by default.
    pub seed_hosts: Vec<String>,
    /// How long a DNS lookup may take.
    pub dns_timeout: Duration,
    /// Seed nodes dialed when the address book is empty, DNS finds nothing, or DNS is off:
    /// the network's built-in list by default ([`Network::fixed_seeds`]).
    pub fixed_seeds: Vec<SocketAddr>,
    /// When the book runs dry (nothing connected, nothing to dial), seeds are looked up
    /// again, at most this often.
    pub reseed_interval: Duration,
    /// Address book size, per-source limit, backoff, ban threshold and duration.
    pub book: Policy,
    /// Events waiting for the app before readers stop reading.
    pub event_queue: usize,
    /// Inbound bytes of all peers that may wait between the sockets and the app before
    /// readers stop reading (the per-peer bound is `peer.inbound_peer_bytes`). One
    /// message larger than this still goes through, alone.
    pub inbound_client_bytes: usize,
    /// How long a connection check after `network_changed` may wait for its pong.
    pub probe_timeout: Duration,
    /// A wall-clock jump this much larger than the monotonic clock's counts as a network change.
    pub suspend_threshold: Duration,
    /// A header request (`request_headers`) the best peer has not answered within this is
    /// stalled: the best peer is replaced (`BestPeerChanged`) and the request re-sent to
    /// the new one.
    pub header_stall_timeout: Duration,
    /// A SOCKS5 proxy (for example Tor's, 127.0.0.1:9050) for every connection. With a
    /// proxy set, DNS seeds are never looked up (the system resolver would leak them):
    /// the built-in seed nodes are used instead.
    pub proxy: Option<SocketAddr>,
    /// A SOCKS5 proxy for onion peers only (default: `proxy`). Onion peers are kept in
    /// the book but never dialed when neither is set.
    pub proxy_onion: Option<SocketAddr>,
    /// A fresh random username and password per connection (default on), so Tor puts each
    /// peer on its own circuit.
    pub proxy_randomize_credentials: bool,
    /// Dial nothing but onion peers (needs a proxy for them).
    pub onion_only: bool,
}

impl ClientConfig {
    /// True when this config can reach `addr` (see [`ClientConfig::route_for`]), without
    /// making the credentials a route carries.
    pub fn reachable(&self, addr: &PeerAddr) -> bool {
        match addr {
            PeerAddr::Ip(_) => !self.onion_only,
            PeerAddr::Onion { .. } => self.proxy_onion.or(self.proxy).is_some(),
            PeerAddr::I2p { .. } | PeerAddr::Cjdns { .. } => false,
        }
    }

    /// How to reach `addr` under this config, or None when nothing can (an onion peer
    /// without a proxy for onions; I2P and CJDNS, for which no proxy is configured; an IP
    /// peer with `onion_only`).
    pub fn route_for(&self, addr: &PeerAddr) -> Option<Route> {
        if !self.reachable(addr) {
            return None;
        }
        let proxy = match addr {
            PeerAddr::Ip(_) if self.onion_only => return None,
            PeerAddr::Ip(_) => match self.proxy {
                None => return Some(Route::Direct),
                Some(p) => p,
            },
            PeerAddr::Onion { .. } => self.proxy_onion.or(self.proxy)?,
            PeerAddr::I2p { .. } | PeerAddr::Cjdns { .. } => return None,
        };
        let credentials = self.proxy_randomize_credentials.then(|| {
            let mut r = rand::rng();
            let word =
                |r: &mut rand::rngs::ThreadRng| format!("{:016x}", rand::Rng::random::<u64>(r));
            (word(&mut r), word(&mut r))
        });
        Some(Route::Socks5 { proxy, credentials })
    }

    /// Defaults for `network`.
    pub fn new(network: Network) -> Self {
        let seed_hosts = network.dns_seeds().iter().map(|s| s.to_string()).collect();
        let fixed_seeds = network.fixed_seeds();
        ClientConfig {
            peer: PeerConfig::new(network),
            worker_threads: 1,
            target_outbound: 8,
            max_outbound: 16,
            fixed_peers: Vec::new(),
            exclusive: false,
            dns_seeds: true,
            seed_hosts,
            dns_timeout: Duration::from_secs(10),
            fixed_seeds,
            reseed_interval: Duration::from_secs(60),
            book: Policy::default(),
            event_queue: 1024,
            inbound_client_bytes: 16 * 1024 * 1024,
            probe_timeout: Duration::from_secs(5),
            suspend_threshold: Duration::from_secs(30),
            header_stall_timeout: Duration::from_secs(20),
            proxy: None,
            proxy_onion: None,
            proxy_randomize_credentials: true,
            onion_only: false,
        }
    }
}
