//! `DashnetConfig`: the client's settings, versioned by `struct_size`.

use std::ffi::c_char;
use std::net::SocketAddr;
use std::time::Duration;

use super::client::tri;
use super::status::{
    DashnetStatus, check_struct_size, fail, field_ends, guard, str_arg, write_prefix,
};
use crate::client::ClientConfig;
use crate::peer::TransportMode;
use crate::wire::Network;

/// A Dash network.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DashnetNetwork {
    /// The main network.
    Mainnet = 0,
    /// The public test network.
    Testnet = 1,
    /// A local regression-test network (dashnet-sim serves one).
    Regtest = 2,
    /// A named developer network (see `devnet_name`).
    Devnet = 3,
}

/// Client settings. Fill it with `dashnet_config_init(&cfg, sizeof cfg, network)` (which
/// sets `struct_size` and every default), then change what you need. Fields added in
/// later versions go at the end; a library reading an older, shorter struct uses
/// defaults for the rest, and `struct_size` must end on a field of some version (any
/// other value, or one from a newer dashnet, is INVALID_ARGUMENT). Flags are `uint8_t`:
/// 0 is false, anything else true.
///
/// Strings are borrowed only during `dashnet_client_new`. Times are milliseconds.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DashnetConfig {
    /// `sizeof(DashnetConfig)` as the caller compiled it (set by `dashnet_config_init`).
    pub struct_size: usize,
    /// The network: a `DashnetNetwork` value (an unknown value is refused by
    /// `dashnet_client_new`).
    pub network: u32,
    /// For `DASHNET_NETWORK_DEVNET`: its name (NULL: "devnet").
    pub devnet_name: *const c_char,
    /// User agent (NULL: `/dashnet:<version>/`).
    pub user_agent: *const c_char,
    /// Services we advertise (default: HEADERS_COMPRESSED, 1 << 11).
    pub services: u64,
    /// Relay transactions before a bloom filter is loaded (default 0: no).
    pub relay: u8,
    /// Protocol version we speak (default 70240).
    pub protocol_version: u32,
    /// Peers below this version are refused (default 70221).
    pub min_protocol_version: u32,
    /// Our best height, sent in `version`.
    pub start_height: i32,
    /// Worker threads of the client's runtime (default 1).
    pub worker_threads: u32,
    /// Outbound connections to keep (default 8).
    pub target_outbound: u32,
    /// Most outbound connections (default 16).
    pub max_outbound: u32,
    /// Dial only the peers given with `dashnet_client_connect` (no DNS, no learned addresses).
    pub exclusive: u8,
    /// Resolve the network's DNS seeds at start (default 1; mainnet and testnet only).
    pub dns_seeds: u8,
    /// TCP connect timeout (default 15000).
    pub connect_timeout_ms: u32,
    /// version/verack timeout (default 10000).
    pub handshake_timeout_ms: u32,
    /// Keepalive ping interval (default 120000).
    pub ping_interval_ms: u32,
    /// A ping unanswered this long ends the connection (default 60000).
    pub pong_timeout_ms: u32,
    /// Writes making no progress this long end the connection (default 30000).
    pub write_stall_timeout_ms: u32,
    /// A peer silent this long is disconnected (default 600000).
    pub inactivity_timeout_ms: u32,
    /// How long a graceful close (and freeing the client) flushes queues (default 2000).
    pub flush_deadline_ms: u32,
    /// Most messages in a peer's outbound queue (default 4096).
    pub queue_max_messages: u32,
    /// Most bytes in a peer's outbound queue (default 8 MiB).
    pub queue_max_bytes: u64,
    /// How long a misbehaving address stays banned, seconds (default 86400).
    pub ban_duration_s: u32,
    /// Events waiting for the app before readers stop reading (default 1024).
    pub event_queue: u32,
    /// Inbound bytes of one peer that may wait between its socket and the app before its
    /// reader stops reading (default 4 MiB; one larger message still goes through alone).
    pub inbound_peer_bytes: u64,
    /// Inbound bytes of all peers together (default 16 MiB; same rule).
    pub inbound_client_bytes: u64,
    /// Seed nodes dialed when the address book is empty, DNS is off or finds nothing:
    /// "IP:PORT" entries separated by commas or spaces ("[v6]:port" for IPv6). NULL (the
    /// default): Dash Core's built-in list for the network; "": none.
    pub fixed_seeds: *const c_char,
    /// When nothing is connected and nothing is left to dial, seeds are looked up again,
    /// at most this often (default 60000).
    pub reseed_interval_ms: u32,
    /// Reserved, set to 0: it fills the tail padding of the previous version (whose
    /// `sizeof` ended here), so no new field is read from a caller's padding bytes.
    /// (Fields appended later must likewise never end inside an older version's padding.)
    pub reserved0: u32,
    /// A header request (`dashnet_request_headers`) the best peer leaves unanswered this
    /// long makes it stall: it is replaced (BEST_PEER_CHANGED) and the request re-sent to
    /// the new best peer (default 20000).
    pub header_stall_timeout_ms: u32,
    /// Service bits every peer must advertise (for example `DASHNET_SERVICE_COMPACT_FILTERS`,
    /// 64): a peer without them is replaced after its version (PEER_FAILED, stage
    /// HANDSHAKE), never banned. 0 (the default): none.
    pub required_services: u64,
    /// A SOCKS5 proxy for every connection, "IP:PORT" (for example Tor's "127.0.0.1:9050"),
    /// or NULL (the default) for none. With a proxy, DNS seeds are never looked up (the
    /// system resolver would leak them): the built-in seed nodes are used instead.
    pub proxy: *const c_char,
    /// A SOCKS5 proxy for onion peers only, "IP:PORT"; NULL (the default): `proxy`.
    /// Without either, onion peers are kept in the book but never dialed.
    pub proxy_onion: *const c_char,
    /// A fresh random username and password per connection (default 1), so Tor puts each
    /// peer on its own circuit.
    pub proxy_randomize_credentials: u8,
    /// Dial nothing but onion peers (default 0; needs a proxy).
    pub onion_only: u8,
    /// Reserved, set to 0 (with `reserved2`, the previous version's tail padding).
    pub reserved1: u16,
    /// Reserved, set to 0.
    pub reserved2: u32,
    /// Which transports to dial with: a `DashnetTransport` value (default
    /// `DASHNET_TRANSPORT_V2_PREFERRED`; an unknown value is refused by name).
    pub transport: u32,
    /// Reserved, set to 0 (the previous version's tail padding).
    pub reserved3: u32,
    /// Header messages decoded at once, on that many threads shared by all peers; each
    /// peer's events still come in wire order (default: cores - 1, at most 4, at least 1;
    /// 0 means the default; at most 64).
    pub decode_threads: u32,
    /// Reserved, set to 0 (this version's tail padding).
    pub reserved4: u32,
}

/// Which transports to dial with (`DashnetConfig::transport`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DashnetTransport {
    /// BIP324 v2 with peers that advertise it or whose services are unknown, v1 with the
    /// others, and at once on the same address when a v2 attempt meets a v1 peer.
    V2Preferred = 0,
    /// v2 only: a v1 peer fails its handshake (PEER_FAILED, reason TRANSPORT).
    V2Only = 1,
    /// v1 only (NODE_P2P_V2 is not advertised).
    V1Only = 2,
}

impl DashnetNetwork {
    pub(crate) fn from_raw(n: u32) -> Result<DashnetNetwork, DashnetStatus> {
        Ok(match n {
            0 => DashnetNetwork::Mainnet,
            1 => DashnetNetwork::Testnet,
            2 => DashnetNetwork::Regtest,
            3 => DashnetNetwork::Devnet,
            n => {
                return Err(fail(
                    DashnetStatus::InvalidArgument,
                    format!("unknown network {n}"),
                ));
            }
        })
    }
}

impl DashnetConfig {
    pub(crate) fn defaults(network: DashnetNetwork) -> DashnetConfig {
        let c = ClientConfig::new(to_network(network, None));
        let ms = |d: Duration| d.as_millis().min(u128::from(u32::MAX)) as u32;
        DashnetConfig {
            struct_size: std::mem::size_of::<DashnetConfig>(),
            network: network as u32,
            devnet_name: std::ptr::null(),
            user_agent: std::ptr::null(),
            services: c.peer.services,
            relay: u8::from(c.peer.relay),
            protocol_version: c.peer.protocol_version,
            min_protocol_version: c.peer.min_protocol_version,
            start_height: c.peer.start_height,
            worker_threads: c.worker_threads as u32,
            target_outbound: c.target_outbound as u32,
            max_outbound: c.max_outbound as u32,
            exclusive: u8::from(c.exclusive),
            dns_seeds: u8::from(c.dns_seeds),
            connect_timeout_ms: ms(c.peer.connect_timeout),
            handshake_timeout_ms: ms(c.peer.handshake_timeout),
            ping_interval_ms: ms(c.peer.ping_interval),
            pong_timeout_ms: ms(c.peer.pong_timeout),
            write_stall_timeout_ms: ms(c.peer.write_stall_timeout),
            inactivity_timeout_ms: ms(c.peer.inactivity_timeout),
            flush_deadline_ms: ms(c.peer.flush_deadline),
            queue_max_messages: c.peer.queue_max_messages as u32,
            queue_max_bytes: c.peer.queue_max_bytes as u64,
            ban_duration_s: c.book.ban_duration.as_secs() as u32,
            event_queue: c.event_queue as u32,
            inbound_peer_bytes: c.peer.inbound_peer_bytes as u64,
            inbound_client_bytes: c.inbound_client_bytes as u64,
            fixed_seeds: std::ptr::null(),
            reseed_interval_ms: ms(c.reseed_interval),
            reserved0: 0,
            header_stall_timeout_ms: ms(c.header_stall_timeout),
            required_services: c.peer.required_services,
            proxy: std::ptr::null(),
            proxy_onion: std::ptr::null(),
            proxy_randomize_credentials: u8::from(c.proxy_randomize_credentials),
            onion_only: u8::from(c.onion_only),
            reserved1: 0,
            reserved2: 0,
            transport: match c.peer.transport {
                TransportMode::V2Preferred => DashnetTransport::V2Preferred,
                TransportMode::V2Only => DashnetTransport::V2Only,
                TransportMode::V1Only => DashnetTransport::V1Only,
            } as u32,
            reserved3: 0,
            decode_threads: c.peer.decode_threads as u32,
            reserved4: 0,
        }
    }

    /// Reads a caller's config of any version: the first `struct_size` bytes are theirs,
    /// the rest keep this version's defaults.
    ///
    /// # Safety
    /// `p` points to at least `struct_size` readable bytes (its first field).
    pub(crate) unsafe fn read(p: *const DashnetConfig) -> Result<DashnetConfig, DashnetStatus> {
        if p.is_null() {
            return Err(fail(DashnetStatus::InvalidArgument, "config is NULL"));
        }
        // SAFETY: non-NULL; struct_size is the first field, which every version has.
        let size = unsafe { p.cast::<usize>().read_unaligned() };
        let min = std::mem::offset_of!(DashnetConfig, network) + std::mem::size_of::<u32>();
        let size = check_struct_size(
            size,
            &config_field_ends(),
            std::mem::size_of::<DashnetConfig>(),
            min,
            "DashnetConfig",
        )?;
        // SAFETY: as above, the network field exists in every accepted size.
        let raw_network = unsafe {
            p.cast::<u8>()
                .add(std::mem::offset_of!(DashnetConfig, network))
                .cast::<u32>()
                .read_unaligned()
        };
        let network = DashnetNetwork::from_raw(raw_network)?;
        let mut out = DashnetConfig::defaults(network);
        // SAFETY: the caller's struct has `size` readable bytes, and `size` ends on one of
        // our fields, so we copy whole fields into our own value of the same layout. Every
        // field is an integer or a raw pointer, valid for any bits the caller stored.
        unsafe {
            std::ptr::copy_nonoverlapping(p.cast::<u8>(), (&raw mut out).cast::<u8>(), size);
        }
        out.struct_size = std::mem::size_of::<DashnetConfig>();
        Ok(out)
    }

    /// The Rust client config it describes.
    ///
    /// # Safety
    /// `devnet_name`, `user_agent`, `fixed_seeds`, `proxy` and `proxy_onion` are NULL or valid NUL-terminated
    /// strings.
    pub(crate) unsafe fn client_config(&self) -> Result<ClientConfig, DashnetStatus> {
        let devnet = if self.devnet_name.is_null() {
            None
        } else {
            // SAFETY: the caller's promise above.
            Some(unsafe { str_arg(self.devnet_name, "devnet_name") }?.to_string())
        };
        let network = DashnetNetwork::from_raw(self.network)?;
        let mut c = ClientConfig::new(to_network(network, devnet));
        if !self.user_agent.is_null() {
            // SAFETY: the caller's promise above.
            let ua = unsafe { str_arg(self.user_agent, "user_agent") }?;
            if ua.len() > crate::wire::MAX_USER_AGENT_LEN {
                return Err(fail(
                    DashnetStatus::InvalidArgument,
                    "user_agent is longer than 256 bytes",
                ));
            }
            c.peer.user_agent = ua.to_string();
        }
        let ms = |v: u32| Duration::from_millis(u64::from(v.max(1)));
        c.peer.services = self.services;
        c.peer.relay = self.relay != 0;
        c.peer.protocol_version = self.protocol_version;
        c.peer.min_protocol_version = self.min_protocol_version;
        c.peer.start_height = self.start_height;
        c.worker_threads = self.worker_threads.clamp(1, 64) as usize;
        c.target_outbound = self.target_outbound as usize;
        c.max_outbound = self.max_outbound.max(self.target_outbound) as usize;
        c.exclusive = self.exclusive != 0;
        c.dns_seeds = self.dns_seeds != 0;
        c.peer.connect_timeout = ms(self.connect_timeout_ms);
        c.peer.handshake_timeout = ms(self.handshake_timeout_ms);
        c.peer.ping_interval = ms(self.ping_interval_ms);
        c.peer.pong_timeout = ms(self.pong_timeout_ms);
        c.peer.write_stall_timeout = ms(self.write_stall_timeout_ms);
        c.peer.inactivity_timeout = ms(self.inactivity_timeout_ms);
        c.peer.flush_deadline = Duration::from_millis(u64::from(self.flush_deadline_ms));
        c.peer.queue_max_messages = self.queue_max_messages.max(1) as usize;
        c.peer.queue_max_bytes = self.queue_max_bytes.max(1) as usize;
        c.book.ban_duration = Duration::from_secs(u64::from(self.ban_duration_s.max(1)));
        c.event_queue = self.event_queue.max(1) as usize;
        let clamp = |v: u64| v.clamp(1, u64::from(u32::MAX)) as usize;
        c.peer.inbound_peer_bytes = clamp(self.inbound_peer_bytes);
        c.inbound_client_bytes = clamp(self.inbound_client_bytes);
        if !self.fixed_seeds.is_null() {
            // SAFETY: the caller's promise above.
            let list = unsafe { str_arg(self.fixed_seeds, "fixed_seeds") }?;
            c.fixed_seeds = list
                .split(|ch: char| ch == ',' || ch.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse().map_err(|_| {
                        fail(
                            DashnetStatus::InvalidArgument,
                            format!("fixed_seeds: {s:?} is not IP:PORT"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        c.reseed_interval = ms(self.reseed_interval_ms);
        c.header_stall_timeout = ms(self.header_stall_timeout_ms);
        c.peer.required_services = self.required_services;
        let proxy_arg =
            |p: *const c_char, what: &str| -> Result<Option<SocketAddr>, DashnetStatus> {
                if p.is_null() {
                    return Ok(None);
                }
                // SAFETY: the caller's promise above (NULL or a NUL-terminated string).
                let text = unsafe { str_arg(p, what) }?;
                text.parse().map(Some).map_err(|_| {
                    fail(
                        DashnetStatus::InvalidArgument,
                        format!("{what}: {text:?} is not IP:PORT (resolve a host name first)"),
                    )
                })
            };
        c.proxy = proxy_arg(self.proxy, "proxy")?;
        c.proxy_onion = proxy_arg(self.proxy_onion, "proxy_onion")?;
        c.proxy_randomize_credentials = self.proxy_randomize_credentials != 0;
        c.onion_only = self.onion_only != 0;
        c.peer.transport = match self.transport {
            0 => TransportMode::V2Preferred,
            1 => TransportMode::V2Only,
            2 => TransportMode::V1Only,
            n => {
                return Err(fail(
                    DashnetStatus::InvalidArgument,
                    format!("transport: {n} is not a DashnetTransport (0, 1 or 2)"),
                ));
            }
        };
        if self.decode_threads > 64 {
            return Err(fail(
                DashnetStatus::InvalidArgument,
                format!("decode_threads: {} is more than 64", self.decode_threads),
            ));
        }
        if self.decode_threads > 0 {
            c.peer.decode_threads = self.decode_threads as usize;
        }
        if c.onion_only && c.proxy.is_none() && c.proxy_onion.is_none() {
            return Err(fail(
                DashnetStatus::InvalidArgument,
                "onion_only needs proxy or proxy_onion",
            ));
        }
        Ok(c)
    }
}

fn to_network(n: DashnetNetwork, devnet: Option<String>) -> Network {
    match n {
        DashnetNetwork::Mainnet => Network::Mainnet,
        DashnetNetwork::Testnet => Network::Testnet,
        DashnetNetwork::Regtest => Network::Regtest,
        DashnetNetwork::Devnet => Network::Devnet {
            name: devnet.unwrap_or_else(|| "devnet".into()),
            genesis: None,
        },
    }
}

/// Where each field of `DashnetConfig` ends: the sizes older versions may have.
fn config_field_ends() -> [usize; 42] {
    field_ends!(DashnetConfig; struct_size, network, devnet_name, user_agent, services,
        relay, protocol_version, min_protocol_version, start_height, worker_threads,
        target_outbound, max_outbound, exclusive, dns_seeds, connect_timeout_ms,
        handshake_timeout_ms, ping_interval_ms, pong_timeout_ms, write_stall_timeout_ms,
        inactivity_timeout_ms, flush_deadline_ms, queue_max_messages, queue_max_bytes,
        ban_duration_s, event_queue, inbound_peer_bytes, inbound_client_bytes, fixed_seeds,
        reseed_interval_ms, reserved0, header_stall_timeout_ms, required_services, proxy, proxy_onion,
        proxy_randomize_credentials, onion_only, reserved1, reserved2, transport, reserved3,
        decode_threads, reserved4)
}

/// Fills the first `struct_size` bytes of `config` (pass `sizeof *config`: the size your
/// program was built with) with the defaults for `network` (a `DashnetNetwork` value),
/// `struct_size` included. A program built against an older, shorter `DashnetConfig`
/// gets exactly its own fields written, never more.
///
/// Returns `DASHNET_STATUS_INVALID_ARGUMENT` if `config` is NULL, the network unknown,
/// or `struct_size` not the size of any version of `DashnetConfig`.
///
/// # Safety
/// `config` is NULL or points to `struct_size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_config_init(
    config: *mut DashnetConfig,
    struct_size: usize,
    network: u32,
) -> DashnetStatus {
    guard(|| {
        if config.is_null() {
            return fail(DashnetStatus::InvalidArgument, "config is NULL");
        }
        let min = std::mem::offset_of!(DashnetConfig, network) + std::mem::size_of::<u32>();
        let n = tri!(check_struct_size(
            struct_size,
            &config_field_ends(),
            std::mem::size_of::<DashnetConfig>(),
            min,
            "DashnetConfig",
        ));
        let network = tri!(DashnetNetwork::from_raw(network));
        let mut value = DashnetConfig::defaults(network);
        value.struct_size = n;
        // SAFETY: non-NULL; the caller promises `struct_size` (= n) writable bytes, and
        // n is a field boundary of our layout.
        unsafe { write_prefix(config, &value, n) };
        DashnetStatus::Ok
    })
}
