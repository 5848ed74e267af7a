//! The client: a set of peers and the policy over them.
//!
//! A client owns its tokio runtime (few worker threads: it runs on phones). Inside it:
//! - the **manager** task dials to keep the target count (fixed peers first, then the
//!   address book), with exponential backoff and jitter per address, scores
//!   misbehaviour and bans, resolves DNS seeds, and runs the mobile lifecycle;
//! - the **router** task takes every peer's events in order, feeds the address book
//!   from addr / addrv2, and hands events to the app through one bounded queue (when
//!   it is full, the router waits, and so do the peers' readers: backpressure).
//!
//! Every public method returns at once; sends only queue (see [`crate::peer::Peer::send`]).
//! Nothing polls: the manager sleeps until the next dial is due or something happens.

mod book;
mod config;
mod delivery;
mod events;
mod manager;
mod router;
mod sync;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

pub use book::{
    AddressBook, BookEntry, MonoSecs, NetGroup, Now, Policy, UnixSecs, backoff, dialable, netgroup,
    routable,
};
pub use config::ClientConfig;
pub use delivery::DeliveryThread;
pub use events::{LogLevel, Taken};
pub use sync::{STALL_POINTS, SyncProgress, SyncStatus, SyncSummary};

use crate::peer::{
    DisconnectReason, InboundBudget, OutboundMessage, Peer, PeerConfig, PeerId, PeerInfo,
    PeerStats, SendError,
};
use crate::wire::network::{service_for, service_names};
use crate::wire::{Command, Hash256, HashedHeader, Locator, Message, PeerAddr};

/// What the client reports, in one stream. Events of one peer arrive in the order they
/// happened: `PeerConnected` first, `PeerDisconnected` last.
#[derive(Debug)]
pub enum ClientEvent {
    /// A connection finished its handshake.
    PeerConnected {
        /// The new peer's id.
        peer: PeerId,
        /// What the handshake learned.
        info: Box<PeerInfo>,
    },
    /// A connection ended.
    PeerDisconnected {
        /// The peer.
        peer: PeerId,
        /// Its address.
        addr: PeerAddr,
        /// Why.
        reason: DisconnectReason,
        /// Every message the app queued that was not written, in order.
        undelivered: Vec<OutboundMessage>,
        /// The connection's final statistics.
        stats: PeerStats,
    },
    /// An inbound message (headers and headers2 come as `Headers`).
    Message {
        /// From this peer.
        peer: PeerId,
        /// The message.
        message: Message,
    },
    /// Headers from headers or headers2, hashed, proof-of-work checked (against each
    /// header's own `bits`; difficulty retargeting is the app's check) and linked.
    Headers {
        /// From this peer.
        peer: PeerId,
        /// The headers with their X11 hashes.
        headers: Vec<HashedHeader>,
        /// True when they came as headers2.
        compressed: bool,
    },
    /// The address book gained or refreshed entries.
    AddressBookChanged {
        /// Its size now.
        size: usize,
    },
    /// A dial or handshake failed (no peer id was given out for it).
    PeerFailed {
        /// The address dialed.
        addr: PeerAddr,
        /// Where it failed.
        stage: FailStage,
        /// Why, as text.
        reason: String,
    },
    /// A peer whose send was refused with QueueFull has drained to half its queue bounds.
    QueueReady {
        /// The peer.
        peer: PeerId,
    },
    /// Headers from the sync service ([`Client::sync_headers`]), in chain order: the
    /// first is at `first_height`. Normally `first_height` is one above the last header
    /// delivered; if it is lower, a segment failed its checkpoint after part of it was
    /// delivered: drop the headers from `first_height` up, these replace them.
    SyncHeaders {
        /// The height of `headers[0]`.
        first_height: u32,
        /// Hashed, proof-of-work checked, linked to each other and to what came before.
        headers: Vec<HashedHeader>,
    },
    /// How a sync is going (at most four a second, and once at the end).
    SyncProgress(SyncProgress),
    /// A sync ended (its last event).
    SyncDone(SyncSummary),
    /// The best peer did not answer a header request in time (`header_stall_timeout`):
    /// `new` replaces it (the request was re-sent there), or nobody can (`None`).
    BestPeerChanged {
        /// The peer that stalled.
        old: PeerId,
        /// Its replacement, if any.
        new: Option<PeerId>,
        /// Why, as text.
        reason: String,
    },
}

/// Where a dial failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailStage {
    /// The TCP connect (refused, unreachable, timed out).
    Connect = 1,
    /// The version/verack handshake.
    Handshake = 2,
    /// The proxy itself (unreachable, refused our credentials, broke its protocol, timed
    /// out). A target the proxy could not reach is `Connect`, with the SOCKS5 reason.
    Proxy = 3,
}

/// Why a client call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// No peer has that id (never existed, or gone: ids are never reused).
    NotFound,
    /// No connected peer to send to.
    NoPeer,
    /// The peer refused the message.
    Send(SendError),
    /// The client is shutting down.
    ShuttingDown,
    /// Something already running prevents it (the text says what).
    Busy(String),
    /// Bad input (the text says what).
    Invalid(String),
    /// The request needs services that this peer (`Some`) or every connected peer
    /// (`None`) does not advertise.
    NoService {
        /// The peer asked for, if one was.
        peer: Option<PeerId>,
        /// The service bits the request needs.
        services: u64,
    },
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::NotFound => write!(f, "no such peer"),
            ClientError::NoPeer => write!(f, "no connected peer"),
            ClientError::Send(e) => write!(f, "{e}"),
            ClientError::ShuttingDown => write!(f, "client is shutting down"),
            ClientError::Invalid(t) => write!(f, "invalid argument: {t}"),
            ClientError::Busy(t) => write!(f, "busy: {t}"),
            ClientError::NoService {
                peer: Some(p),
                services,
            } => write!(
                f,
                "peer {p} does not advertise {}",
                service_names(*services)
            ),
            ClientError::NoService {
                peer: None,
                services,
            } => write!(
                f,
                "no connected peer advertises {}",
                service_names(*services)
            ),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<SendError> for ClientError {
    fn from(e: SendError) -> Self {
        ClientError::Send(e)
    }
}

/// Client-wide statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Connected peers.
    pub peers: u64,
    /// Dials in progress.
    pub dialing: u64,
    /// Address book entries.
    pub address_book: u64,
    /// Bans in force.
    pub banned: u64,
    /// Dials made since the client started.
    pub dials: u64,
    /// DNS seed lookups started (at start, on `network_changed`, on `resume`, and when
    /// the address book runs dry).
    pub seed_lookups: u64,
    /// Bytes received by connected peers.
    pub bytes_in: u64,
    /// Bytes sent by connected peers.
    pub bytes_out: u64,
    /// Messages received by connected peers.
    pub messages_in: u64,
    /// Messages sent by connected peers.
    pub messages_out: u64,
    /// Inbound bytes waiting between the sockets and the app (the client budget in use).
    pub inbound_bytes: u64,
    /// The client's inbound byte budget.
    pub inbound_budget: u64,
    /// Events waiting for the app.
    pub events_queued: u64,
    /// Inbound data events discarded at the shutdown deadline, and their bytes.
    pub events_discarded: u64,
    /// Bytes of those events.
    pub bytes_discarded: u64,
}

/// What shutting down left behind. The undelivered messages also reached the app, in
/// each peer's `PeerDisconnected`.
#[derive(Debug, Default)]
pub struct ShutdownReport {
    /// For each peer that had messages the app queued and that were not written.
    pub undelivered: Vec<(PeerId, Vec<OutboundMessage>)>,
    /// Peers closed by the shutdown.
    pub peers_closed: usize,
    /// Inbound data events discarded at the shutdown deadline (the app had not taken them).
    pub events_discarded: u64,
    /// Their bytes.
    pub bytes_discarded: u64,
    /// Tasks still alive on the runtime when it was stopped (0 unless something leaked).
    pub tasks_left: usize,
    /// How long the shutdown took.
    pub elapsed: Duration,
}

pub(crate) struct PeerSlot {
    pub peer: Peer,
    pub addr: PeerAddr,
    /// Best height known: the start height, raised by headers it sends.
    pub height: AtomicI64,
    /// The work this peer has shown: headers it delivered, checked and linked.
    pub work: Mutex<VerifiedWork>,
    /// It let a header request stall: chosen as best only when nobody else is left.
    pub stalled: AtomicBool,
    /// The locator hashes of the last header requests made of it (bounded): a batch whose
    /// first header follows one of them answers us.
    pub asked: Mutex<std::collections::VecDeque<Hash256>>,
}

/// Most locator hashes remembered per peer (a few requests' worth).
const ASKED_MAX: usize = 4 * crate::wire::MAX_LOCATOR_HASHES;

impl PeerSlot {
    /// Remembers the locator of a header request made of this peer.
    pub(crate) fn asked_for(&self, locator: &[Hash256]) {
        let mut asked = self.asked.lock();
        asked.extend(locator.iter().copied());
        while asked.len() > ASKED_MAX {
            asked.pop_front();
        }
    }
}

impl PeerSlot {
    pub(crate) fn new(peer: Peer, addr: PeerAddr) -> PeerSlot {
        PeerSlot {
            height: AtomicI64::new(i64::from(peer.info().start_height)),
            addr,
            peer,
            work: Mutex::new(VerifiedWork::default()),
            stalled: AtomicBool::new(false),
            asked: Mutex::new(std::collections::VecDeque::new()),
        }
    }
}

/// Proof of work a peer actually delivered, as opposed to the height its `version`
/// claims: the summed work of a run of headers it sent, each batch checked (proof of
/// work, linkage). A batch that answers one of our requests starts a run (or, linked to
/// the run's last header, extends it); a batch that extends the run counts even unasked
/// (a new block announced); any other batch counts for nothing. So replaying headers, or
/// pushing a chain nobody asked for, never adds up.
#[derive(Debug, Default, Clone, Copy)]
pub struct VerifiedWork {
    /// The last header of the run.
    pub tip: Option<Hash256>,
    /// Summed work (expected hashes) of the run.
    pub work: f64,
    /// Headers in the run.
    pub headers: u64,
}

impl VerifiedWork {
    /// Adds a checked batch; `solicited` when it answers one of our requests.
    pub fn add(&mut self, headers: &[HashedHeader], solicited: bool) {
        let (Some(first), Some(last)) = (headers.first(), headers.last()) else {
            return;
        };
        let batch: f64 = headers.iter().map(|h| header_work(h.header().bits)).sum();
        if self.tip.is_some_and(|t| t == first.header().prev_blockhash) {
            self.work += batch;
            self.headers += headers.len() as u64;
        } else if solicited {
            self.work = batch;
            self.headers = headers.len() as u64;
        } else {
            return;
        }
        self.tip = Some(last.hash());
    }
}

/// The expected number of hashes behind one header with compact target `bits`
/// (2^256 / target), as a float: enough to rank peers.
pub fn header_work(bits: u32) -> f64 {
    let exponent = (bits >> 24) as i32;
    let mantissa = f64::from(bits & 0x007f_ffff);
    if mantissa == 0.0 {
        return 0.0;
    }
    2f64.powi(256 - 8 * (exponent - 3)) / mantissa
}

pub(crate) struct PendingHeaders {
    pub seq: u64,
    pub peer: PeerId,
    /// Peers this request already stalled on: never asked again.
    pub tried: Vec<PeerId>,
    pub locator: Vec<Hash256>,
    pub stop: Hash256,
}

pub(crate) enum Control {
    Dialed {
        addr: PeerAddr,
        id: PeerId,
        result: Result<(), crate::peer::ConnectError>,
    },
    Gone {
        peer: PeerId,
        addr: PeerAddr,
        reason: DisconnectReason,
    },
    AddFixed(PeerAddr),
    Forget(PeerAddr),
    /// The address book changed: there may be someone new to dial.
    Wake,
    Seeds(Vec<SocketAddr>),
    NetworkChanged,
    Pause,
    Resume,
    Shutdown,
}

pub(crate) struct Shared {
    pub config: ClientConfig,
    pub peer_config: Arc<PeerConfig>,
    pub peers: RwLock<HashMap<PeerId, Arc<PeerSlot>>>,
    pub book: Mutex<AddressBook>,
    pub next_id: AtomicU64,
    pub best: Mutex<Option<PeerId>>,
    pub paused: AtomicBool,
    pub shutting_down: AtomicBool,
    pub dialing: AtomicUsize,
    pub dials: AtomicU64,
    pub seed_lookups: AtomicU64,
    /// Milliseconds added to the wall clock the client reads (`simulate_suspend`,
    /// `simulate_wall_clock_jump`).
    pub wall_skew_ms: AtomicI64,
    /// The start of the client's monotonic clock (schedules in the book).
    pub epoch: Instant,
    pub control: mpsc::UnboundedSender<Control>,
    pub report: Mutex<Vec<(PeerId, Vec<OutboundMessage>)>>,
    pub peers_closed: AtomicUsize,
    /// The app's queue of events and log lines.
    pub events: events::EventQueue,
    /// Inbound bytes of every peer, waiting between the sockets and the app.
    pub budget: InboundBudget,
    /// The header request waiting for the best peer's answer.
    pub pending_headers: Mutex<Option<PendingHeaders>>,
    pub pending_seq: AtomicU64,
    /// The header sync service.
    pub sync: sync::SyncShared,
}

/// Orders floats (work is never NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
struct OrdF64(f64);

impl Eq for OrdF64 {}

impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrdF64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Waits for the answer to header request `seq`; when it does not come in time, replaces
/// the best peer, tells the app, and re-sends the request to the new best peer.
async fn watch_headers_request(shared: Arc<Shared>, seq: u64) {
    let timeout = shared.config.header_stall_timeout;
    loop {
        tokio::time::sleep(timeout).await;
        let (peer, locator, stop, mut tried) = match &*shared.pending_headers.lock() {
            Some(p) if p.seq == seq => (p.peer, p.locator.clone(), p.stop, p.tried.clone()),
            _ => return, // answered, or superseded by a newer request
        };
        tried.push(peer);
        if shared.shutting_down.load(Ordering::Acquire) {
            return;
        }
        {
            // Still unanswered (checked again under the lock: the reply may have come
            // in between), so the peer stalled.
            let pending = shared.pending_headers.lock();
            if !pending
                .as_ref()
                .is_some_and(|p| p.seq == seq && p.peer == peer)
            {
                return;
            }
            if let Some(slot) = shared.peers.read().get(&peer) {
                slot.stalled.store(true, Ordering::Relaxed);
            }
        }
        let new = shared.best_peer_except(0, &tried);
        let sent = new.filter(|n| {
            shared
                .send_headers_request(*n, locator.clone(), stop)
                .is_ok()
        });
        {
            let mut pending = shared.pending_headers.lock();
            match (&mut *pending, sent) {
                (Some(p), Some(n)) if p.seq == seq => {
                    p.peer = n;
                    p.tried = tried;
                }
                (Some(p), None) if p.seq == seq => *pending = None,
                _ => return,
            }
        }
        let reason = format!("no headers within {} ms", timeout.as_millis());
        shared.events.log(LogLevel::Warn, || {
            format!("best peer {peer} stalled ({reason}); now {sent:?}")
        });
        let ev = ClientEvent::BestPeerChanged {
            old: peer,
            new: sent,
            reason,
        };
        shared.events.push(ev, None).await;
        if sent.is_none() {
            return;
        }
    }
}

impl Shared {
    /// The best peer among those with `services`: most verified work first, then the
    /// lowest ping, then the oldest id; a peer that stalled only when nobody else is left.
    /// For header requests (`services` 0) the choice is sticky until the peer goes,
    /// stalls, or another shows more work.
    pub(crate) fn best_peer(&self, services: u64) -> Option<PeerId> {
        self.best_peer_except(services, &[])
    }

    /// As `best_peer`, never one of `exclude` (the peers a request already stalled on).
    pub(crate) fn best_peer_except(&self, services: u64, exclude: &[PeerId]) -> Option<PeerId> {
        let peers = self.peers.read();
        let rank = |id: &PeerId, s: &PeerSlot| {
            let st = s.peer.stats();
            let rtt = if st.pings_answered == 0 {
                u64::MAX
            } else {
                st.ping_avg_us
            };
            let work = s.work.lock().work;
            (
                s.stalled.load(Ordering::Relaxed),
                std::cmp::Reverse(OrdF64(work)),
                rtt,
                *id,
            )
        };
        let ok =
            |s: &PeerSlot| s.peer.is_connected() && s.peer.info().services & services == services;
        let pick = peers
            .iter()
            .filter(|(id, s)| ok(s) && !exclude.contains(id))
            .min_by_key(|(id, s)| rank(id, s))
            .map(|(id, _)| *id);
        if services != 0 {
            return pick;
        }
        let mut best = self.best.lock();
        if let Some(id) = *best
            && !exclude.contains(&id)
            && let Some(s) = peers.get(&id)
            && ok(s)
            && !s.stalled.load(Ordering::Relaxed)
        {
            let mine = s.work.lock().work;
            let more = pick
                .and_then(|p| peers.get(&p))
                .is_some_and(|p| p.work.lock().work > mine);
            if !more {
                return Some(id);
            }
        }
        *best = pick;
        pick
    }

    /// Sends a header request to `id`: getheaders2 when it does headers2, else getheaders.
    pub(crate) fn send_headers_request(
        &self,
        id: PeerId,
        locator: Vec<Hash256>,
        stop: Hash256,
    ) -> Result<(), ClientError> {
        let slot = self
            .peers
            .read()
            .get(&id)
            .cloned()
            .ok_or(ClientError::NotFound)?;
        let l = Locator {
            version: self.peer_config.protocol_version,
            hashes: locator,
            stop,
        };
        slot.asked_for(&l.hashes);
        let msg = if slot.peer.info().headers2 {
            Message::GetHeaders2(l)
        } else {
            Message::GetHeaders(l)
        };
        slot.peer.send(&msg)?;
        Ok(())
    }

    /// The wall clock, as the client sees it (tests may move it).
    pub(crate) fn wall_time(&self) -> SystemTime {
        let skew = self.wall_skew_ms.load(Ordering::Relaxed);
        let d = Duration::from_millis(skew.unsigned_abs());
        let now = SystemTime::now();
        if skew >= 0 {
            now + d
        } else {
            now.checked_sub(d).unwrap_or(UNIX_EPOCH)
        }
    }

    /// Both clocks, for the address book.
    pub(crate) fn now(&self) -> Now {
        Now {
            mono: self.epoch.elapsed().as_secs_f64(),
            wall: self
                .wall_time()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }
}

/// A client. All methods return at once, from any thread.
pub struct Client {
    shared: Arc<Shared>,
    runtime: Mutex<Option<Runtime>>,
    router: Mutex<Option<tokio::task::JoinHandle<()>>>,
    manager: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// When shutdown began.
    shutdown_at: Mutex<Option<std::time::Instant>>,
    /// Wakes the router at the shutdown deadline if it waits for room.
    deadline_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("network", &self.shared.config.peer.network)
            .finish()
    }
}

impl Client {
    /// Starts a client: its runtime, its manager (which starts dialing at once) and router.
    pub fn new(mut config: ClientConfig) -> std::io::Result<Client> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads.max(1))
            .thread_name("dashnet-rt")
            .enable_all()
            .build()?;
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        // Few events wait here: everything inbound is charged to the budgets anyway.
        let (peer_tx, peer_rx) = mpsc::channel(64);
        let budget = InboundBudget::new(config.inbound_client_bytes);
        config.peer.client_budget = Some(budget.clone());
        // Header decodes across all peers share `decode_threads` slots.
        config.peer.decode_pool = Some(crate::peer::DecodePool::new(config.peer.decode_threads));
        let events = events::EventQueue::new(config.event_queue);
        let mut book = AddressBook::new(config.book);
        book.set_local_ok(config.peer.network.is_local());
        let now = UNIX_EPOCH.elapsed().map_or(0, |d| d.as_secs());
        for addr in &config.fixed_peers {
            book.add(*addr, 0, now, None, now);
        }
        let checkpoints = config.peer.network.checkpoints();
        let shared = Arc::new(Shared {
            peer_config: Arc::new(config.peer.clone()),
            config,
            peers: RwLock::new(HashMap::new()),
            book: Mutex::new(book),
            next_id: AtomicU64::new(1),
            best: Mutex::new(None),
            paused: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
            dialing: AtomicUsize::new(0),
            dials: AtomicU64::new(0),
            seed_lookups: AtomicU64::new(0),
            wall_skew_ms: AtomicI64::new(0),
            epoch: Instant::now(),
            control: control_tx,
            report: Mutex::new(Vec::new()),
            peers_closed: AtomicUsize::new(0),
            events,
            budget,
            pending_headers: Mutex::new(None),
            pending_seq: AtomicU64::new(0),
            sync: sync::SyncShared::new(checkpoints),
        });
        let router = runtime.spawn(router::run(shared.clone(), peer_rx));
        let manager = runtime.spawn(manager::run(shared.clone(), control_rx, peer_tx));
        Ok(Client {
            shared,
            runtime: Mutex::new(Some(runtime)),
            router: Mutex::new(Some(router)),
            manager: Mutex::new(Some(manager)),
            shutdown_at: Mutex::new(None),
            deadline_task: Mutex::new(None),
        })
    }

    fn slot(&self, peer: PeerId) -> Result<Arc<PeerSlot>, ClientError> {
        self.shared
            .peers
            .read()
            .get(&peer)
            .cloned()
            .ok_or(ClientError::NotFound)
    }

    fn check_running(&self) -> Result<(), ClientError> {
        if self.shared.shutting_down.load(Ordering::Acquire) {
            Err(ClientError::ShuttingDown)
        } else {
            Ok(())
        }
    }

    /// Queues a raw message to one peer (control commands take its priority lane). A
    /// request that needs a service the peer does not advertise (compact filters, BIP37
    /// filters, headers2: see [`crate::wire::network::service_for`]) is refused with
    /// `NoService`, since the peer would drop or ignore it.
    pub fn send(
        &self,
        peer: PeerId,
        command: Command,
        payload: Vec<u8>,
        tag: u64,
    ) -> Result<(), ClientError> {
        self.check_running()?;
        let slot = self.slot(peer)?;
        if let Some(need) = service_for(command.as_str())
            && slot.peer.info().services & need != need
        {
            return Err(ClientError::NoService {
                peer: Some(peer),
                services: need,
            });
        }
        if matches!(command.as_str(), "getheaders" | "getheaders2")
            && let Ok(Message::GetHeaders(l) | Message::GetHeaders2(l)) =
                Message::decode(&command, &payload)
        {
            slot.asked_for(&l.hashes);
        }
        Ok(slot.peer.send_raw(command, payload, tag)?)
    }

    /// Queues a typed message to one peer.
    pub fn send_message(&self, peer: PeerId, message: &Message) -> Result<(), ClientError> {
        self.send(peer, message.command(), message.payload(), 0)
    }

    /// Queues a message to every connected peer that can take it (a request that needs a
    /// service goes only to peers advertising it); returns how many accepted it.
    pub fn broadcast(
        &self,
        command: Command,
        payload: Vec<u8>,
        tag: u64,
    ) -> Result<usize, ClientError> {
        self.check_running()?;
        if payload.len() > self.shared.peer_config.max_payload {
            return Err(ClientError::Send(SendError::TooLarge));
        }
        let need = service_for(command.as_str()).unwrap_or(0);
        let peers: Vec<Arc<PeerSlot>> = self.shared.peers.read().values().cloned().collect();
        Ok(peers
            .iter()
            .filter(|s| s.peer.info().services & need == need)
            .filter(|s| s.peer.send_raw(command, payload.clone(), tag).is_ok())
            .count())
    }

    /// The best peer: the one that has shown the most work (headers it delivered in
    /// answer to our requests, checked and linked; never the height it claims), then the
    /// lowest ping. Sticky
    /// once chosen until it disconnects, stalls a header request, or another peer shows
    /// more work.
    pub fn best_peer(&self) -> Option<PeerId> {
        self.shared.best_peer(0)
    }

    /// The work `peer` has shown (see [`VerifiedWork`]).
    pub fn verified_work(&self, peer: PeerId) -> Result<VerifiedWork, ClientError> {
        Ok(*self.slot(peer)?.work.lock())
    }

    /// Queues a message to the best peer that can take it (for a request that needs a
    /// service, the best among the peers advertising it); returns its id. `NoPeer` when
    /// no peer is connected, `NoService` when none advertises the service.
    pub fn send_best(
        &self,
        command: Command,
        payload: Vec<u8>,
        tag: u64,
    ) -> Result<PeerId, ClientError> {
        self.check_running()?;
        let need = service_for(command.as_str()).unwrap_or(0);
        let id = match self.shared.best_peer(need) {
            Some(id) => id,
            None if need != 0 && !self.shared.peers.read().is_empty() => {
                return Err(ClientError::NoService {
                    peer: None,
                    services: need,
                });
            }
            None => return Err(ClientError::NoPeer),
        };
        self.send(id, command, payload, tag)?;
        Ok(id)
    }

    /// Asks the best peer for headers after `locator` (up to `stop`, zero for as many as
    /// it sends): getheaders2 when it does headers2, else getheaders. Returns its id. If
    /// no headers come back within `header_stall_timeout`, the best peer is replaced
    /// (`BestPeerChanged`) and the request re-sent to the new one. `Busy` while a header
    /// sync ([`Client::sync_headers`]) runs.
    pub fn request_headers(
        &self,
        locator: Vec<Hash256>,
        stop: Hash256,
    ) -> Result<PeerId, ClientError> {
        self.check_running()?;
        if locator.is_empty() || locator.len() > crate::wire::MAX_LOCATOR_HASHES {
            return Err(ClientError::Invalid(format!(
                "a locator has 1 to {} hashes",
                crate::wire::MAX_LOCATOR_HASHES
            )));
        }
        if self.shared.sync.active() {
            // Its replies could not be told from the sync's.
            return Err(ClientError::Busy("a header sync is running".into()));
        }
        let id = self.shared.best_peer(0).ok_or(ClientError::NoPeer)?;
        // Recorded before the request goes out: a reply that comes back at once must find
        // it (else an answered request would later look stalled).
        let seq = self.shared.pending_seq.fetch_add(1, Ordering::Relaxed) + 1;
        *self.shared.pending_headers.lock() = Some(PendingHeaders {
            seq,
            peer: id,
            tried: Vec::new(),
            locator: locator.clone(),
            stop,
        });
        if let Err(e) = self.shared.send_headers_request(id, locator, stop) {
            let mut pending = self.shared.pending_headers.lock();
            if pending.as_ref().is_some_and(|p| p.seq == seq) {
                *pending = None;
            }
            return Err(e);
        }
        if let Some(rt) = self.runtime.lock().as_ref() {
            rt.spawn(watch_headers_request(self.shared.clone(), seq));
        }
        Ok(id)
    }

    /// Starts the header sync service: from the app's tip (`locator[0]`, at `tip_height`;
    /// the rest of the locator as for getheaders, newest first) up to the peers' tip.
    /// Returns at once; the headers come as [`ClientEvent::SyncHeaders`] in chain order,
    /// with [`ClientEvent::SyncProgress`] along the way and one [`ClientEvent::SyncDone`]
    /// at the end. The chain above the tip is cut at the checkpoints (built in and added,
    /// see [`Client::add_checkpoint`]) into segments asked for at once of several peers
    /// (or pipelined on one) and checked at each checkpoint; a sync waits for peers when
    /// none is connected. `Busy` while a sync runs.
    pub fn sync_headers(&self, locator: Vec<Hash256>, tip_height: u32) -> Result<(), ClientError> {
        self.check_running()?;
        if locator.is_empty() || locator.len() > crate::wire::MAX_LOCATOR_HASHES {
            return Err(ClientError::Invalid(format!(
                "a locator has 1 to {} hashes",
                crate::wire::MAX_LOCATOR_HASHES
            )));
        }
        if tip_height > i32::MAX as u32 {
            return Err(ClientError::Invalid(format!(
                "a tip height is at most {} (block heights are int32 on the wire)",
                i32::MAX
            )));
        }
        let checkpoints = self.shared.sync.checkpoints.lock().clone();
        if let Some((h, hash)) = checkpoints.iter().find(|(h, _)| *h == tip_height)
            && *hash != locator[0]
        {
            return Err(ClientError::Invalid(format!(
                "the tip at height {h} is not the checkpoint there ({})",
                hash.to_display_hex()
            )));
        }
        let ends = sync::plan((tip_height, locator[0]), &checkpoints);
        let rx = self
            .shared
            .sync
            .start()
            .map_err(|()| ClientError::Busy("a header sync is running".into()))?;
        let task = sync::SyncTask::new(self.shared.clone(), rx, locator, tip_height, ends);
        let rt = self.runtime.lock();
        let Some(rt) = rt.as_ref() else {
            self.shared.sync.stop();
            return Err(ClientError::ShuttingDown);
        };
        let handle = rt.spawn(task.run());
        // A previous sync's task has queued its SyncDone (its registration ended only
        // then) and is ending: its handle is not needed.
        drop(self.shared.sync.task.lock().replace(handle));
        if self.shared.shutting_down.load(Ordering::Acquire) {
            let _ = self.shared.sync.forward(sync::Input::Shutdown);
        }
        Ok(())
    }

    /// Cancels the running sync: it ends with `SyncDone` (status `Cancelled`). `NotFound`
    /// when no sync runs.
    pub fn cancel_sync(&self) -> Result<(), ClientError> {
        self.check_running()?;
        self.shared
            .sync
            .forward(sync::Input::Cancel)
            .map_err(|_| ClientError::NotFound)
    }

    /// True while a header sync runs.
    pub fn is_syncing(&self) -> bool {
        self.shared.sync.active()
    }

    /// Adds a checkpoint (a block hash the chain must have at `height`) for the next
    /// sync. `Invalid` if another hash is already the checkpoint at that height (the
    /// network's built-in ones included).
    pub fn add_checkpoint(&self, height: u32, hash: Hash256) -> Result<(), ClientError> {
        self.check_running()?;
        let mut cps = self.shared.sync.checkpoints.lock();
        match cps.binary_search_by_key(&height, |(h, _)| *h) {
            Ok(i) if cps[i].1 == hash => Ok(()),
            Ok(i) => Err(ClientError::Invalid(format!(
                "height {height} already has checkpoint {}",
                cps[i].1.to_display_hex()
            ))),
            Err(i) => {
                cps.insert(i, (height, hash));
                Ok(())
            }
        }
    }

    /// The checkpoints the next sync uses (the network's and the app's), by height.
    pub fn checkpoints(&self) -> Vec<(u32, Hash256)> {
        self.shared.sync.checkpoints.lock().clone()
    }

    /// Keeps `addr` connected (like a fixed peer); dials it now. An onion address
    /// ("NAME.onion:PORT") is dialed through the proxy for onions.
    pub fn connect(&self, addr: impl Into<PeerAddr>) -> Result<(), ClientError> {
        let addr = addr.into();
        self.check_running()?;
        if !book::dialable_peer(&addr) {
            return Err(ClientError::Invalid(format!("{addr} cannot be dialed")));
        }
        if !self.shared.config.reachable(&addr) {
            return Err(ClientError::Invalid(format!(
                "{addr} is unreachable with this config (onion peers need a proxy; \
                 onion_only allows nothing else; I2P and CJDNS have no proxy setting)"
            )));
        }
        {
            // In the book at once (so an export right after includes it); due now.
            let now = self.shared.now();
            let mut book = self.shared.book.lock();
            book.add(addr, 0, now.wall, None, now.wall);
            book.dial_succeeded(addr, now);
        }
        let _ = self.shared.control.send(Control::AddFixed(addr));
        Ok(())
    }

    /// Disconnects a peer gracefully (its queue is flushed up to the flush deadline) and
    /// stops keeping its address connected.
    pub fn disconnect(&self, peer: PeerId) -> Result<(), ClientError> {
        self.check_running()?;
        let slot = self.slot(peer)?;
        let _ = self.shared.control.send(Control::Forget(slot.addr));
        slot.peer.disconnect();
        Ok(())
    }

    /// Connected peers and what their handshakes learned.
    pub fn peers(&self) -> Vec<(PeerId, PeerInfo)> {
        let mut v: Vec<_> = self
            .shared
            .peers
            .read()
            .iter()
            .map(|(id, s)| (*id, s.peer.info().clone()))
            .collect();
        v.sort_by_key(|(id, _)| *id);
        v
    }

    /// One peer's statistics (`NotFound` once its `PeerDisconnected` is out: the final
    /// statistics are in that event).
    pub fn peer_stats(&self, peer: PeerId) -> Result<PeerStats, ClientError> {
        Ok(self.slot(peer)?.peer.stats())
    }

    /// Client-wide statistics.
    pub fn stats(&self) -> ClientStats {
        let now = self.shared.now();
        let (queued, discarded, discarded_bytes) = self.shared.events.counts();
        let mut s = ClientStats {
            dialing: self.shared.dialing.load(Ordering::Relaxed) as u64,
            dials: self.shared.dials.load(Ordering::Relaxed),
            seed_lookups: self.shared.seed_lookups.load(Ordering::Relaxed),
            inbound_bytes: self.shared.budget.in_use() as u64,
            inbound_budget: self.shared.budget.size() as u64,
            events_queued: queued as u64,
            events_discarded: discarded,
            bytes_discarded: discarded_bytes,
            ..ClientStats::default()
        };
        {
            let book = self.shared.book.lock();
            s.address_book = book.len() as u64;
            s.banned = book.bans_in_force(now.mono) as u64;
        }
        for slot in self.shared.peers.read().values() {
            let p = slot.peer.stats();
            s.peers += 1;
            s.bytes_in += p.bytes_in;
            s.bytes_out += p.bytes_out;
            s.messages_in += p.messages_in;
            s.messages_out += p.messages_out;
        }
        s
    }

    /// The address book as bytes, to keep between launches.
    pub fn export_addresses(&self) -> Vec<u8> {
        self.shared.book.lock().export(self.shared.now())
    }

    /// Adds addresses from [`Client::export_addresses`] bytes; returns how many were new.
    pub fn import_addresses(&self, bytes: &[u8]) -> Result<usize, ClientError> {
        self.check_running()?;
        let n = self
            .shared
            .book
            .lock()
            .import(bytes, self.shared.now())
            .map_err(|e| ClientError::Invalid(e.to_string()))?;
        // New entries may be due: wake the dialer. (Not Resume: an import is no reason to
        // reset every address's backoff or look up seeds; review C25.)
        let _ = self.shared.control.send(Control::Wake);
        Ok(n)
    }

    /// The network changed (Wi-Fi to cellular, back online): every connection is checked
    /// at once with a short ping, dead ones are replaced, and backoff starts over.
    pub fn network_changed(&self) -> Result<(), ClientError> {
        self.check_running()?;
        let _ = self.shared.control.send(Control::NetworkChanged);
        Ok(())
    }

    /// The app goes to the background: stop dialing and close connections gracefully.
    pub fn pause(&self) -> Result<(), ClientError> {
        self.check_running()?;
        self.shared.paused.store(true, Ordering::Release);
        let _ = self.shared.control.send(Control::Pause);
        Ok(())
    }

    /// For tests: moves the wall clock the client sees forward by `by`, as an OS suspend
    /// of that length would (the monotonic clock does not move), and wakes the manager. A
    /// jump beyond `suspend_threshold` is handled as a network change.
    #[doc(hidden)]
    pub fn simulate_suspend(&self, by: Duration) {
        self.simulate_wall_clock_jump(by.as_millis() as i64);
    }

    /// For tests: moves the wall clock the client sees by `ms` milliseconds (negative:
    /// backwards, as a user or NTP setting the clock back would), and wakes the manager.
    #[doc(hidden)]
    pub fn simulate_wall_clock_jump(&self, ms: i64) {
        self.shared.wall_skew_ms.fetch_add(ms, Ordering::Relaxed);
        let _ = self.shared.control.send(Control::Wake);
    }

    /// The app is back: dial again at once.
    pub fn resume(&self) -> Result<(), ClientError> {
        self.check_running()?;
        self.shared.paused.store(false, Ordering::Release);
        let _ = self.shared.control.send(Control::Resume);
        Ok(())
    }

    /// Waits up to `timeout` for the next event. It blocks only the calling thread (on a
    /// condition variable, never on the runtime), so several threads may wait at once,
    /// each for its own timeout. `None`: nothing came in time, or the client has shut down
    /// and every event has been taken (see [`Client::take`] to tell the two apart).
    pub fn next_event(&self, timeout: Duration) -> Option<ClientEvent> {
        match self.take(true, false, Some(timeout)) {
            Taken::Event(ev) => Some(ev),
            _ => None,
        }
    }

    /// Waits for the next event with no timeout: for a thread whose only job is to take
    /// events. `None` once the client has shut down and every event has been taken.
    pub fn wait_event(&self) -> Option<ClientEvent> {
        match self.take(true, false, None) {
            Taken::Event(ev) => Some(ev),
            _ => None,
        }
    }

    /// Takes the next event (`events`), log line (`logs`), or either, waiting up to
    /// `timeout` (`None`: no limit). `Taken::Closed` once the client has shut down and
    /// everything asked for has been taken.
    pub fn take(&self, events: bool, logs: bool, timeout: Option<Duration>) -> Taken {
        self.shared.events.take(events, logs, timeout)
    }

    /// The most verbose [`LogLevel`] queued for [`Client::take`] (0: none; default Info).
    pub fn set_log_level(&self, level: u32) {
        self.shared.events.set_log_level(level);
    }

    /// When shutdown began, if it has.
    pub fn shutdown_started(&self) -> Option<std::time::Instant> {
        *self.shutdown_at.lock()
    }

    /// True once `shutdown` has begun.
    pub fn is_shut_down(&self) -> bool {
        self.shared.shutting_down.load(Ordering::Acquire)
    }

    /// Starts shutting down and returns at once. From then on calls that would change
    /// anything return `ShuttingDown`; dials and handshakes in flight are abandoned;
    /// every connection flushes its queue up to the flush deadline and closes; events keep
    /// coming to the takers until the last peer's `PeerDisconnected`, and then takers get
    /// `Taken::Closed`. Inbound data events the app has not taken by the flush deadline
    /// are discarded and counted. Safe from any thread, a runtime, or an event handler.
    pub fn begin_shutdown(&self) {
        if self.shared.shutting_down.swap(true, Ordering::AcqRel) {
            return;
        }
        let now = std::time::Instant::now();
        *self.shutdown_at.lock() = Some(now);
        let deadline = now + self.shared.peer_config.flush_deadline;
        self.shared.events.set_deadline(deadline);
        let _ = self.shared.control.send(Control::Shutdown);
        let _ = self.shared.sync.forward(sync::Input::Shutdown);
        if let Some(rt) = self.runtime.lock().as_ref() {
            let shared = self.shared.clone();
            *self.deadline_task.lock() = Some(rt.spawn(async move {
                tokio::time::sleep_until(deadline.into()).await;
                shared.events.discard_data();
            }));
        }
    }

    /// Shuts down ([`Client::begin_shutdown`]) and waits until every task has ended:
    /// within about the flush deadline, whatever is in flight and whether or not anyone
    /// takes events. The events still queued stay for the takers. Call it from the app's
    /// own thread. A second call returns an empty report.
    pub fn shutdown(&self) -> ShutdownReport {
        self.begin_shutdown();
        if tokio::runtime::Handle::try_current().is_ok() {
            // Called (or dropped) from inside some tokio runtime, where blocking on ours
            // would panic: do the blocking part on a plain thread.
            return std::thread::scope(|s| {
                s.spawn(|| self.shutdown_blocking())
                    .join()
                    .unwrap_or_default()
            });
        }
        self.shutdown_blocking()
    }

    fn shutdown_blocking(&self) -> ShutdownReport {
        let Some(runtime) = self.runtime.lock().take() else {
            return ShutdownReport::default();
        };
        let manager = self.manager.lock().take();
        let router = self.router.lock().take();
        let sync = self.shared.sync.task.lock().take();
        runtime.block_on(async move {
            // The sync ends first (it was told to stop): its last events precede the
            // router's close of the queue.
            if let Some(s) = sync {
                let _ = s.await;
            }
            if let Some(m) = manager {
                let _ = m.await;
            }
            if let Some(r) = router {
                let _ = r.await;
            }
        });
        // No producer is left to wake; takers check the deadline themselves.
        if let Some(t) = self.deadline_task.lock().take() {
            t.abort();
        }
        // Every task has been awaited or has dropped its last channel by now; give the
        // workers a moment to retire the ones that are just finishing.
        let metrics = runtime.metrics();
        let end = std::time::Instant::now() + Duration::from_millis(100);
        while metrics.num_alive_tasks() > 0 && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(1));
        }
        let tasks_left = metrics.num_alive_tasks();
        // Blocking-pool work (a DNS lookup in getaddrinfo) is not waited for.
        runtime.shutdown_timeout(Duration::from_millis(100));
        self.shared.events.close();
        let (_, events_discarded, bytes_discarded) = self.shared.events.counts();
        let started = self
            .shutdown_at
            .lock()
            .unwrap_or_else(std::time::Instant::now);
        ShutdownReport {
            undelivered: std::mem::take(&mut *self.shared.report.lock()),
            peers_closed: self.shared.peers_closed.load(Ordering::Relaxed),
            events_discarded,
            bytes_discarded,
            tasks_left,
            elapsed: started.elapsed(),
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
