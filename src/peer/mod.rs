//! One connection to a Dash node, split in two.
//!
//! After the handshake the socket is split into owned halves:
//! - the **reader** task owns the read half (no lock), feeds the streaming frame
//!   decoder, answers pings through the priority lane, measures pong round trips, and
//!   hands every other message to the dispatcher;
//! - the **dispatcher** task decodes messages in arrival order (headers and headers2 on
//!   the blocking pool, so a long decompression never holds up the reader or the
//!   writer), checks proof of work and linkage, and emits events to the owner;
//! - the **writer** task owns the write half, drains the outbound queue priority lane
//!   first, coalesces frames into few writes, and runs the keepalive timer.
//!
//! [`Peer::send`] only queues: it never awaits and never blocks. Nothing accepted is
//! lost silently: what was not written comes back in the `Disconnected` event.
//! Nothing polls: a quiet peer wakes only for its own ping timer.

mod budget;
mod config;
mod dispatch;
mod event;
mod handshake;
mod queue;
mod reader;
mod stats;
pub(crate) mod transport;
mod writer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::timeout;

pub use budget::{Charge, InboundBudget};
pub use config::{DecodePool, PeerConfig, default_decode_threads, default_user_agent};

/// The largest single charge a message can take from the inbound budgets (before the
/// budget's own cap): a maximum-size v2 packet, charged at the most any command of that
/// length decodes to.
pub(crate) fn largest_charge() -> usize {
    reader::max_decoded_cost(crate::wire::MAX_PAYLOAD_LEN + 16)
}
pub use event::{DisconnectReason, OutboundMessage, PeerEvent, PeerId, SendError};
pub use handshake::{PeerInfo, our_version};
pub use queue::{Lane, PRIORITY_LANE_MAX, PRIORITY_LANE_MAX_BYTES, lane_for};
pub use stats::PeerStats;
#[doc(hidden)]
pub use transport::CodecPair;
pub use transport::{Transport, TransportMode};

use crate::wire::{Command, Message, PeerAddr};

/// Why a connection could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// The TCP connect did not finish within the connect timeout.
    Timeout,
    /// The TCP connect failed.
    Io(std::io::ErrorKind),
    /// The handshake failed.
    Handshake(DisconnectReason),
    /// The proxy itself failed: unreachable, refused our credentials, broke its protocol
    /// or did not finish its part within the connect timeout.
    Proxy(String),
    /// The proxy worked but could not reach the target: its SOCKS5 reply code (1-8) and
    /// what the code means.
    ProxyReply(u8, String),
    /// No route reaches this address (an overlay address without a proxy for it).
    Unreachable(String),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Timeout => write!(f, "connect timed out"),
            ConnectError::Io(kind) => write!(f, "connect failed: {kind}"),
            ConnectError::Handshake(reason) => write!(f, "handshake failed: {reason}"),
            ConnectError::Proxy(text) => write!(f, "proxy failed: {text}"),
            ConnectError::ProxyReply(code, text) => {
                write!(
                    f,
                    "the proxy could not connect: {text} (SOCKS5 reply {code})"
                )
            }
            ConnectError::Unreachable(text) => write!(f, "unreachable: {text}"),
        }
    }
}

/// How a connection reaches its peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A direct TCP connection (IP peers only).
    Direct,
    /// Through a SOCKS5 proxy (RFC 1928). Onion and I2P names go to it as domain names,
    /// never resolved here; IPs as IPs.
    Socks5 {
        /// The proxy.
        proxy: SocketAddr,
        /// Username and password (RFC 1929): distinct ones per connection make Tor put
        /// each peer on its own circuit.
        credentials: Option<(String, String)>,
    },
}

/// The SOCKS5 reply codes (RFC 1928 section 6) a proxy sends when it cannot connect.
fn socks_reply(e: &tokio_socks::Error) -> Option<u8> {
    use tokio_socks::Error as E;
    Some(match e {
        E::GeneralSocksServerFailure => 1,
        E::ConnectionNotAllowedByRuleset => 2,
        E::NetworkUnreachable => 3,
        E::HostUnreachable => 4,
        E::ConnectionRefused => 5,
        E::TtlExpired => 6,
        E::CommandNotSupported => 7,
        E::AddressTypeNotSupported => 8,
        _ => return None,
    })
}

/// Opens the TCP stream to `target` over `route` (bounded by `limit` as a whole).
async fn open(
    target: &PeerAddr,
    route: &Route,
    limit: std::time::Duration,
) -> Result<TcpStream, ConnectError> {
    match route {
        Route::Direct => {
            let Some(addr) = target.ip() else {
                return Err(ConnectError::Unreachable(format!(
                    "{target} is reachable only through a proxy"
                )));
            };
            match timeout(limit, TcpStream::connect(addr)).await {
                Err(_) => Err(ConnectError::Timeout),
                Ok(Err(e)) => Err(ConnectError::Io(e.kind())),
                Ok(Ok(s)) => Ok(s),
            }
        }
        Route::Socks5 { proxy, credentials } => {
            let work = async {
                let tcp = TcpStream::connect(proxy).await.map_err(|e| {
                    ConnectError::Proxy(format!("cannot reach the proxy {proxy}: {}", e.kind()))
                })?;
                let host = target.host();
                let result = match (target.ip(), credentials) {
                    (Some(ip), Some((u, p))) => {
                        tokio_socks::tcp::Socks5Stream::connect_with_password_and_socket(
                            tcp, ip, u, p,
                        )
                        .await
                    }
                    (Some(ip), None) => {
                        tokio_socks::tcp::Socks5Stream::connect_with_socket(tcp, ip).await
                    }
                    (None, Some((u, p))) => {
                        tokio_socks::tcp::Socks5Stream::connect_with_password_and_socket(
                            tcp,
                            (host.as_str(), target.port()),
                            u,
                            p,
                        )
                        .await
                    }
                    (None, None) => {
                        tokio_socks::tcp::Socks5Stream::connect_with_socket(
                            tcp,
                            (host.as_str(), target.port()),
                        )
                        .await
                    }
                };
                result
                    .map(|s| s.into_inner())
                    .map_err(|e| match socks_reply(&e) {
                        Some(code) => ConnectError::ProxyReply(code, e.to_string()),
                        None => ConnectError::Proxy(format!("{proxy}: {e}")),
                    })
            };
            match timeout(limit, work).await {
                Err(_) => Err(ConnectError::Proxy(format!(
                    "{proxy} did not connect us within {} ms",
                    limit.as_millis()
                ))),
                Ok(r) => r,
            }
        }
    }
}

impl std::error::Error for ConnectError {}

/// State shared by the handle and the three tasks.
pub(crate) struct Shared {
    pub id: PeerId,
    pub info: PeerInfo,
    pub config: Arc<PeerConfig>,
    pub counters: stats::Counters,
    pub queue: queue::QueueSender,
    /// Inbound bytes of this peer waiting anywhere between its socket and the app.
    pub budget: InboundBudget,
    reason: Mutex<Option<DisconnectReason>>,
    closing: watch::Sender<bool>,
    finished: watch::Sender<bool>,
    pub epoch: Instant,
    pub connected_unix_us: u64,
    /// A ping of ours is out: its nonce and when it was written (us since `epoch`).
    pub ping_pending: AtomicBool,
    pub ping_nonce: AtomicU64,
    pub ping_sent_us: AtomicU64,
    /// The reader is waiting for the owner to take events (inbound backpressure).
    pub reader_parked: AtomicBool,
    /// When the reader last stopped waiting for the owner (us since `epoch`): the pong
    /// clock only runs while the reader reads.
    pub reader_resumed_us: AtomicU64,
    /// The reader tells the writer that our ping was answered, so the writer re-arms
    /// its keepalive timer for the next ping instead of sleeping to the pong deadline.
    pub pong_received: Notify,
    /// Asks the writer for a liveness check: a ping now, answered within
    /// `probe_timeout_us` (network changed).
    pub probe: Notify,
    pub probe_timeout_us: AtomicU64,
}

impl Shared {
    /// The state of a new connection, and its queue's receiving side (for the writer).
    pub(crate) fn new(
        id: PeerId,
        info: PeerInfo,
        config: Arc<PeerConfig>,
    ) -> (Arc<Shared>, queue::QueueReceiver) {
        let (queue_tx, queue_rx) = queue::queue(config.queue_max_messages, config.queue_max_bytes);
        let budget = InboundBudget::new(config.inbound_peer_bytes);
        let connected_unix_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        let shared = Arc::new(Shared {
            id,
            info,
            config,
            counters: stats::Counters::default(),
            queue: queue_tx,
            budget,
            reason: Mutex::new(None),
            closing: watch::channel(false).0,
            finished: watch::channel(false).0,
            epoch: Instant::now(),
            connected_unix_us,
            ping_pending: AtomicBool::new(false),
            ping_nonce: AtomicU64::new(0),
            ping_sent_us: AtomicU64::new(0),
            reader_parked: AtomicBool::new(false),
            reader_resumed_us: AtomicU64::new(0),
            pong_received: Notify::new(),
            probe: Notify::new(),
            probe_timeout_us: AtomicU64::new(0),
        });
        (shared, queue_rx)
    }

    /// Starts closing for `reason`; the first reason given wins.
    pub fn close(&self, reason: DisconnectReason) {
        let mut r = self.reason.lock();
        if r.is_none() {
            *r = Some(reason);
        }
        drop(r);
        self.closing.send_replace(true);
    }

    pub fn reason(&self) -> Option<DisconnectReason> {
        self.reason.lock().clone()
    }

    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    pub fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }

    pub fn micros(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    pub fn stats(&self) -> PeerStats {
        let mut s = self
            .counters
            .snapshot(self.queue.counts.depth(), self.connected_unix_us);
        s.inbound_bytes = self.budget.in_use() as u64;
        s.transport = self.info.transport;
        s.session_id = self.info.session_id;
        s
    }
}

/// A connection whose handshake is done but whose tasks have not started: its
/// [`Peer`] handle already accepts sends (they are written once it starts), and nothing
/// is read from it, so an owner can publish the handle before the first event.
pub struct PendingPeer {
    shared: Arc<Shared>,
    queue_rx: queue::QueueReceiver,
    stream: TcpStream,
    encoder: transport::Encoder,
    decoder: transport::Decoder,
    leftover: Vec<u8>,
}

impl std::fmt::Debug for PendingPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingPeer")
            .field("id", &self.shared.id)
            .field("addr", &self.shared.info.addr)
            .finish()
    }
}

impl PendingPeer {
    /// Connects to `addr` directly; see [`PendingPeer::connect_to`].
    pub async fn connect(
        id: PeerId,
        addr: SocketAddr,
        config: Arc<PeerConfig>,
    ) -> Result<PendingPeer, ConnectError> {
        Self::connect_to(id, addr.into(), &Route::Direct, config).await
    }

    /// Connects to `target` over `route` (bounded by the connect timeout, the proxy's part
    /// included), sets TCP_NODELAY and runs the handshake (bounded by the handshake
    /// timeout), over the transport `config.transport` picks. After a proxy's CONNECT
    /// the stream is a plain TCP stream: it is split into reader and writer like any
    /// other. Dropping the result closes it.
    pub async fn connect_to(
        id: PeerId,
        target: PeerAddr,
        route: &Route,
        config: Arc<PeerConfig>,
    ) -> Result<PendingPeer, ConnectError> {
        Self::connect_with(id, target, route, config, None).await
    }

    /// As [`PendingPeer::connect_to`], with the services the peer is known to advertise
    /// (from the address book), if any: with `TransportMode::V2Preferred` a peer known to
    /// lack NODE_P2P_V2 is dialed with v1 straight away. A v2 attempt that meets a v1
    /// peer (it closes on our key without a byte) dials again at once with v1.
    pub async fn connect_with(
        id: PeerId,
        target: PeerAddr,
        route: &Route,
        config: Arc<PeerConfig>,
        known_services: Option<u64>,
    ) -> Result<PendingPeer, ConnectError> {
        use crate::wire::network::services::P2P_V2;
        let try_v2 = match config.transport {
            TransportMode::V1Only => false,
            TransportMode::V2Only => true,
            TransportMode::V2Preferred => known_services.is_none_or(|s| s & P2P_V2 != 0),
        };
        if try_v2 {
            let mut stream = Self::open_stream(&target, route, &config).await?;
            let magic = config.network.magic();
            // One handshake timeout covers the key exchange and the version exchange.
            let deadline = tokio::time::Instant::now() + config.handshake_timeout;
            let attempt = tokio::time::timeout_at(
                deadline,
                transport::initiate(
                    &mut stream,
                    magic,
                    config.max_payload,
                    transport::MAX_GARBAGE,
                ),
            )
            .await;
            match attempt {
                Err(_) => return Err(ConnectError::Handshake(DisconnectReason::HandshakeTimeout)),
                Ok(Ok(session)) => {
                    let start = handshake::Start {
                        encoder: session.encoder,
                        decoder: session.decoder,
                        leftover: session.leftover,
                        session_id: Some(session.session_id),
                    };
                    return Self::finish(
                        id,
                        target,
                        stream,
                        start,
                        config,
                        deadline,
                        (session.bytes_in, session.bytes_out),
                    )
                    .await;
                }
                Ok(Err(transport::V2Failure::Failed(reason))) => {
                    return Err(ConnectError::Handshake(reason));
                }
                Ok(Err(transport::V2Failure::LooksV1(text))) => {
                    if config.transport == TransportMode::V2Only {
                        return Err(ConnectError::Handshake(DisconnectReason::Transport(
                            format!("not a v2 peer (it {text}) and v1 is off"),
                        )));
                    }
                    // Dial again with v1, at once, as Dash Core does.
                }
            }
        }
        let stream = Self::open_stream(&target, route, &config).await?;
        let start = handshake::Start {
            encoder: transport::Encoder::V1 {
                magic: config.network.magic(),
            },
            decoder: transport::Decoder::V1(crate::wire::FrameDecoder::new(
                config.network.magic(),
                config.max_payload,
            )),
            leftover: Vec::new(),
            session_id: None,
        };
        let deadline = tokio::time::Instant::now() + config.handshake_timeout;
        Self::finish(id, target, stream, start, config, deadline, (0, 0)).await
    }

    async fn open_stream(
        target: &PeerAddr,
        route: &Route,
        config: &PeerConfig,
    ) -> Result<TcpStream, ConnectError> {
        let stream = open(target, route, config.connect_timeout).await?;
        stream
            .set_nodelay(true)
            .map_err(|e| ConnectError::Io(e.kind()))?;
        Ok(stream)
    }

    /// The version/verack exchange over the transport `start` holds.
    async fn finish(
        id: PeerId,
        target: PeerAddr,
        mut stream: TcpStream,
        start: handshake::Start,
        config: Arc<PeerConfig>,
        deadline: tokio::time::Instant,
        (bytes_in, bytes_out): (u64, u64),
    ) -> Result<PendingPeer, ConnectError> {
        let hs = match tokio::time::timeout_at(
            deadline,
            handshake::handshake(&mut stream, target, &config, start),
        )
        .await
        {
            Err(_) => return Err(ConnectError::Handshake(DisconnectReason::HandshakeTimeout)),
            Ok(Err(reason)) => return Err(ConnectError::Handshake(reason)),
            Ok(Ok(hs)) => hs,
        };
        let (shared, queue_rx) = Shared::new(id, hs.info, config);
        shared
            .counters
            .bytes_in
            .fetch_add(bytes_in + hs.bytes_in, Ordering::Relaxed);
        shared
            .counters
            .bytes_out
            .fetch_add(bytes_out + hs.bytes_out, Ordering::Relaxed);
        Ok(PendingPeer {
            shared,
            queue_rx,
            stream,
            encoder: hs.encoder,
            decoder: hs.decoder,
            leftover: hs.leftover,
        })
    }

    /// The handle (sends queue now, and are written once started).
    pub fn peer(&self) -> Peer {
        Peer {
            shared: self.shared.clone(),
        }
    }

    /// Splits the socket and starts the reader, dispatcher and writer tasks on the
    /// current runtime. Events go to `events` (bounded: when it is full the reader stops
    /// reading). The first event is `Connected`.
    pub fn start(self, events: mpsc::Sender<PeerEvent>) -> Peer {
        let PendingPeer {
            shared,
            queue_rx,
            stream,
            encoder,
            decoder,
            leftover,
        } = self;
        let (read_half, write_half) = stream.into_split();
        let (to_dispatch, from_reader) = mpsc::unbounded_channel();
        let reader = tokio::spawn(reader::run(
            shared.clone(),
            read_half,
            decoder,
            leftover,
            to_dispatch,
            shared.budget.clone(),
        ));
        let writer = tokio::spawn(writer::run(shared.clone(), write_half, encoder, queue_rx));
        // The dispatcher outlives the other two: it awaits both before its last event.
        tokio::spawn(dispatch::run(
            shared.clone(),
            from_reader,
            shared.budget.clone(),
            events,
            reader,
            writer,
        ));
        Peer { shared }
    }
}

/// A handle to one connection. Cheap to clone; every method returns at once.
#[derive(Clone)]
pub struct Peer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("id", &self.shared.id)
            .field("addr", &self.shared.info.addr)
            .finish()
    }
}

impl Peer {
    /// Connects to `addr` (bounded by the connect timeout), sets TCP_NODELAY, runs the
    /// handshake (bounded by the handshake timeout), splits the socket and starts the
    /// reader, dispatcher and writer tasks on the current runtime. Events go to `events`
    /// (bounded: when it is full the reader stops reading).
    pub async fn connect(
        id: PeerId,
        addr: SocketAddr,
        config: Arc<PeerConfig>,
        events: mpsc::Sender<PeerEvent>,
    ) -> Result<Peer, ConnectError> {
        Ok(PendingPeer::connect(id, addr, config).await?.start(events))
    }

    /// This peer's id.
    pub fn id(&self) -> PeerId {
        self.shared.id
    }

    /// True while its reader waits for room in the inbound budgets (what it would read
    /// next waits on the app, not on the peer).
    pub(crate) fn reader_parked(&self) -> bool {
        self.shared
            .reader_parked
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// What the handshake learned.
    pub fn info(&self) -> &PeerInfo {
        &self.shared.info
    }

    /// Queues `message`. Returns at once: never awaits, never blocks.
    pub fn send(&self, message: &Message) -> Result<(), SendError> {
        self.send_raw(message.command(), message.payload(), 0)
    }

    /// Queues a raw message with the caller's `tag` (reported back if it is not sent).
    /// Control commands go in the priority lane. Returns at once.
    pub fn send_raw(&self, command: Command, payload: Vec<u8>, tag: u64) -> Result<(), SendError> {
        if payload.len() > self.shared.config.max_payload {
            return Err(SendError::TooLarge);
        }
        if self.shared.is_closing() {
            return Err(SendError::Disconnected);
        }
        let lane = lane_for(command.as_str());
        self.shared
            .queue
            .push(OutboundMessage::new(command, payload, tag), lane)
    }

    /// A statistics snapshot (lock-free).
    pub fn stats(&self) -> PeerStats {
        self.shared.stats()
    }

    /// Closes gracefully: the queue is flushed up to the flush deadline, then the socket
    /// closes; what was not written comes back in the `Disconnected` event.
    pub fn disconnect(&self) {
        self.shared.close(DisconnectReason::Requested);
    }

    /// Closes for `reason` (graceful only for `Requested` and `Shutdown`).
    pub fn close(&self, reason: DisconnectReason) {
        self.shared.close(reason);
    }

    /// Checks the connection now: a ping that must be answered within `within`, or the
    /// connection ends with `PingTimeout` (for a network change). Returns at once.
    pub fn check_alive(&self, within: std::time::Duration) {
        self.shared
            .probe_timeout_us
            .store(within.as_micros().max(1) as u64, Ordering::Relaxed);
        self.shared.probe.notify_one();
    }

    /// True until the connection starts closing.
    pub fn is_connected(&self) -> bool {
        !self.shared.is_closing()
    }

    /// Why it closed, once it has started closing.
    pub fn disconnect_reason(&self) -> Option<DisconnectReason> {
        self.shared.reason()
    }

    /// Waits until every task of this peer has ended and its `Disconnected` event is out.
    pub async fn closed(&self) {
        let mut rx = self.shared.finished.subscribe();
        let _ = rx.wait_for(|done| *done).await;
    }
}

impl Shared {
    pub(crate) fn mark_finished(&self) {
        self.finished.send_replace(true);
    }
}
