//! `DashnetEvent` and its views, the callbacks, and the delivery thread.
//!
//! Every event is delivered either to a callback, on the client's one delivery thread,
//! or through `dashnet_client_poll` when no callback is installed. Data handed to a
//! callback is borrowed for the duration of the call; an event from poll is owned by the
//! caller until `dashnet_event_free`.

use std::ffi::{CString, c_char, c_void};

use super::client::tri;
use super::status::{DashnetStatus, check_struct_size, fail, field_ends, guard, write_prefix};
use crate::client::{ClientEvent, LogLevel, SyncStatus, Taken};
use crate::peer::{DisconnectReason, PeerInfo};
use crate::wire::Message;

/// What kind of event a `DashnetEvent` is.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DashnetEventKind {
    /// A peer finished its handshake: see `peer_event`.
    PeerConnected = 1,
    /// A peer's connection ended (its last event): see `peer_event`.
    PeerDisconnected = 2,
    /// An inbound message: see `message`.
    Message = 3,
    /// Inbound headers (from headers or headers2): see `headers`.
    Headers = 4,
    /// The address book changed: see `address_book_size`.
    AddressBookChanged = 5,
    /// A dial or handshake failed (no peer id was given out): see `peer_failed`.
    PeerFailed = 6,
    /// A peer whose send got QUEUE_FULL has drained to half its queue bounds: sends fit
    /// again. See `queue_ready_peer`.
    QueueReady = 7,
    /// The best peer stalled a header request and was replaced: see `best_peer_changed`.
    BestPeerChanged = 8,
    /// Headers from the sync service, in chain order: see `sync`.
    SyncHeaders = 9,
    /// How the sync is going: see `sync`.
    SyncProgress = 10,
    /// The sync ended (its last event): see `sync`.
    SyncDone = 11,
}

/// How a sync stands (`DashnetSyncEvent.status`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DashnetSyncStatus {
    /// Still running (SYNC_HEADERS and SYNC_PROGRESS).
    Running = 0,
    /// Every header up to the peers' tip was delivered.
    Complete = 1,
    /// The peers' chain leaves the app's below its tip, after `fork_after` (an entry of
    /// the locator given): nothing was delivered; rewind to it and sync again.
    Fork = 2,
    /// `dashnet_sync_cancel` ended it.
    Cancelled = 3,
    /// The client shut down.
    ShuttingDown = 4,
    /// Two peers in turn sent a chain whose block at `mismatch_height` is not the
    /// checkpoint there (the first was disconnected): the checkpoint, or the tip height
    /// given, is more likely wrong than both peers.
    CheckpointMismatch = 5,
}

/// A header sync event (`dashnet_sync_headers`). Pointers are borrowed (see the callback).
#[repr(C)]
#[derive(Debug)]
pub struct DashnetSyncEvent {
    /// SYNC_HEADERS, SYNC_PROGRESS or SYNC_DONE.
    pub kind: DashnetEventKind,
    /// RUNNING, or (SYNC_DONE) how it ended.
    pub status: DashnetSyncStatus,
    /// SYNC_HEADERS: the headers, in chain order (else NULL).
    pub headers: *const DashnetHeader,
    /// Their number.
    pub count: usize,
    /// SYNC_HEADERS: the height of `headers[0]`. Normally one above the last header
    /// delivered; if lower, a segment failed its checkpoint after part of it was
    /// delivered: drop what you have from this height up (these replace it).
    pub first_height: u32,
    /// The height of the last header delivered (for SYNC_DONE with none delivered: the
    /// tip height given).
    pub height: u32,
    /// SYNC_PROGRESS: the best height the peers claim (at least `height`); otherwise
    /// `height`.
    pub target_height: u32,
    /// Peers serving the sync.
    pub peers: u32,
    /// Headers delivered per second since the sync started.
    pub headers_per_sec: f64,
    /// Requests in flight (SYNC_DONE: the most there were at once).
    pub in_flight: u32,
    /// SYNC_DONE: segments thrown away because they did not link at their checkpoint.
    pub segments_failed: u32,
    /// The hash of the header at `height` (wire byte order).
    pub tip_hash: [u8; 32],
    /// SYNC_DONE with FORK: the locator entry the peers' chain continues from.
    pub fork_after: [u8; 32],
    /// SYNC_DONE: headers delivered in all.
    pub total_headers: u64,
    /// SYNC_DONE: how long the sync ran, in milliseconds.
    pub elapsed_ms: u64,
    /// SYNC_DONE: peers that stalled or answered short and lost their segments.
    pub peers_stalled: u32,
    /// SYNC_DONE with CHECKPOINT_MISMATCH: the checkpoint's height (else 0).
    pub mismatch_height: u32,
}

/// Where a dial failed (`DashnetPeerFailed.stage`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DashnetFailStage {
    /// The TCP connect (refused, unreachable, timed out).
    Connect = 1,
    /// The version/verack handshake (timed out, refused, too old a version).
    Handshake = 2,
    /// The SOCKS5 proxy itself (unreachable, refused us, broke its protocol, timed out).
    /// A target the proxy could not reach is CONNECT, with the SOCKS5 reason in the text.
    Proxy = 3,
}

/// A dial or handshake that failed. Strings are borrowed (see the callback).
#[repr(C)]
#[derive(Debug)]
pub struct DashnetPeerFailed {
    /// The address dialed, "ip:port".
    pub address: *const c_char,
    /// A `DashnetFailStage` value.
    pub stage: u32,
    /// Why, as text.
    pub reason_text: *const c_char,
}

/// Why a connection ended.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DashnetDisconnectReason {
    /// Not a disconnect (a connected event).
    None = 0,
    /// The app asked (graceful).
    Requested = 1,
    /// The remote closed the connection.
    RemoteClosed = 2,
    /// A socket error (`reason_text` names it).
    Io = 3,
    /// The peer broke the protocol (`reason_text` says how).
    Protocol = 4,
    /// The peer sent invalid headers (bad proof of work, broken linkage, too many).
    InvalidHeaders = 5,
    /// The handshake did not finish in time.
    HandshakeTimeout = 6,
    /// Our ping went unanswered.
    PingTimeout = 7,
    /// Writes made no progress for the write-stall timeout.
    WriteStalled = 8,
    /// The peer sent nothing for the inactivity timeout.
    Inactive = 9,
    /// The peer's protocol version is too old.
    VersionTooOld = 10,
    /// The client shut down (graceful).
    Shutdown = 11,
    /// The peer does not advertise a service the config requires (`required_services`);
    /// only in PEER_FAILED's text, since such a peer never gets an id.
    MissingServices = 12,
    /// The v2 (BIP324) transport failed: a packet failed authentication, no garbage
    /// terminator came, or a v2-only dial met a v1 peer.
    Transport = 13,
}

/// Log levels for the `on_log` callback.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DashnetLogLevel {
    /// Nothing.
    Off = 0,
    /// Errors.
    Error = 1,
    /// Warnings: misbehaving peers.
    Warn = 2,
    /// Connections made and lost.
    Info = 3,
    /// Every event.
    Debug = 4,
}

/// A peer connected or disconnected. Strings and arrays are borrowed (see the callback).
#[repr(C)]
#[derive(Debug)]
pub struct DashnetPeerEvent {
    /// The peer's id (never reused within a client).
    pub peer: u64,
    /// Its address, "ip:port".
    pub address: *const c_char,
    /// Its user agent ("" on disconnect).
    pub user_agent: *const c_char,
    /// Its protocol version (0 on disconnect).
    pub version: u32,
    /// Its best height when it connected.
    pub start_height: i32,
    /// Its services.
    pub services: u64,
    /// Headers come from it as headers2.
    pub headers2: bool,
    /// Why it disconnected (`DASHNET_DISCONNECT_REASON_NONE` on connect).
    pub reason: DashnetDisconnectReason,
    /// The reason as text ("" on connect).
    pub reason_text: *const c_char,
    /// Messages the app queued that were never written (on disconnect).
    pub undelivered_count: usize,
    /// The tags given to `dashnet_send` for those messages, in queue order.
    pub undelivered_tags: *const u64,
    /// Final statistics (on disconnect): bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Messages received.
    pub messages_in: u64,
    /// Messages sent.
    pub messages_out: u64,
}

/// One inventory entry (inv, getdata, notfound). `hash` is in wire byte order.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DashnetInventory {
    /// 1 tx, 2 block, 3 filtered block, 16 dstx, 20 compact block, 29 clsig, 31 isdlock, 32 dsq.
    pub kind: u32,
    /// The hash.
    pub hash: [u8; 32],
}

/// An inbound message: the raw command and payload, plus a decoded list for
/// inv / getdata / notfound.
#[repr(C)]
#[derive(Debug)]
pub struct DashnetMessage {
    /// From this peer.
    pub peer: u64,
    /// The command, for example "inv".
    pub command: *const c_char,
    /// The payload bytes.
    pub payload: *const u8,
    /// Its length.
    pub payload_len: usize,
    /// For inv, getdata and notfound: the entries (else NULL).
    pub inventory: *const DashnetInventory,
    /// Their number.
    pub inventory_count: usize,
}

/// The best peer stalled a header request (`header_stall_timeout_ms`): `new_peer`
/// replaces it (the request was re-sent there), or 0 when no other peer could.
#[repr(C)]
#[derive(Debug)]
pub struct DashnetBestPeerChanged {
    /// The peer that stalled.
    pub old_peer: u64,
    /// Its replacement, or 0 for none.
    pub new_peer: u64,
    /// Why, as text.
    pub reason_text: *const c_char,
}

/// One block header and its X11 hash (both in wire byte order; a hash displays reversed).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DashnetHeader {
    /// The 80 serialized bytes.
    pub header: [u8; 80],
    /// X11 of those bytes.
    pub hash: [u8; 32],
}

/// Headers from a peer, already hashed, proof-of-work checked and linked to each other.
/// Proof of work: each hash meets the target in the header's own `bits`, within the
/// network's limit. Whether `bits` is the right difficulty (Dark Gravity Wave
/// retargeting) is NOT checked: that needs the chain, which the app holds.
#[repr(C)]
#[derive(Debug)]
pub struct DashnetHeaders {
    /// From this peer.
    pub peer: u64,
    /// The headers, in chain order.
    pub headers: *const DashnetHeader,
    /// Their number.
    pub count: usize,
    /// They came as headers2.
    pub compressed: bool,
}

/// Any event. Only the member named by `kind` is meaningful. Events from
/// `dashnet_client_poll` are owned by the caller: free them with `dashnet_event_free`.
#[repr(C)]
#[derive(Debug)]
pub struct DashnetEvent {
    /// Which member to read.
    pub kind: DashnetEventKind,
    /// For PEER_CONNECTED and PEER_DISCONNECTED.
    pub peer_event: DashnetPeerEvent,
    /// For MESSAGE.
    pub message: DashnetMessage,
    /// For HEADERS.
    pub headers: DashnetHeaders,
    /// For ADDRESS_BOOK_CHANGED: entries in the book.
    pub address_book_size: usize,
    /// For PEER_FAILED.
    pub peer_failed: DashnetPeerFailed,
    /// For QUEUE_READY: the peer whose queue has room again.
    pub queue_ready_peer: u64,
    /// For BEST_PEER_CHANGED.
    pub best_peer_changed: DashnetBestPeerChanged,
    /// For SYNC_HEADERS, SYNC_PROGRESS and SYNC_DONE.
    pub sync: DashnetSyncEvent,
}

/// An event and the storage its pointers point into. `ev` is first, so a pointer to the
/// box is a pointer to the event.
#[repr(C)]
pub(crate) struct EventBox {
    pub ev: DashnetEvent,
    strings: Vec<CString>,
    payload: Vec<u8>,
    inventory: Vec<DashnetInventory>,
    headers: Vec<DashnetHeader>,
    tags: Vec<u64>,
}

pub(crate) fn reason_code(r: &DisconnectReason) -> DashnetDisconnectReason {
    match r {
        DisconnectReason::Requested => DashnetDisconnectReason::Requested,
        DisconnectReason::RemoteClosed => DashnetDisconnectReason::RemoteClosed,
        DisconnectReason::Io(_) => DashnetDisconnectReason::Io,
        DisconnectReason::Protocol(_) => DashnetDisconnectReason::Protocol,
        DisconnectReason::InvalidHeaders(_) => DashnetDisconnectReason::InvalidHeaders,
        DisconnectReason::HandshakeTimeout => DashnetDisconnectReason::HandshakeTimeout,
        DisconnectReason::PingTimeout => DashnetDisconnectReason::PingTimeout,
        DisconnectReason::WriteStalled => DashnetDisconnectReason::WriteStalled,
        DisconnectReason::Inactive => DashnetDisconnectReason::Inactive,
        DisconnectReason::VersionTooOld(_) => DashnetDisconnectReason::VersionTooOld,
        DisconnectReason::MissingServices { .. } => DashnetDisconnectReason::MissingServices,
        DisconnectReason::Shutdown => DashnetDisconnectReason::Shutdown,
        DisconnectReason::Transport(_) => DashnetDisconnectReason::Transport,
    }
}

fn cstring(s: impl Into<Vec<u8>>) -> CString {
    let mut v: Vec<u8> = s.into();
    v.retain(|b| *b != 0);
    CString::new(v).unwrap_or_default()
}

const EMPTY: &std::ffi::CStr = c"";

fn empty_peer_event() -> DashnetPeerEvent {
    DashnetPeerEvent {
        peer: 0,
        address: EMPTY.as_ptr(),
        user_agent: EMPTY.as_ptr(),
        version: 0,
        start_height: 0,
        services: 0,
        headers2: false,
        reason: DashnetDisconnectReason::None,
        reason_text: EMPTY.as_ptr(),
        undelivered_count: 0,
        undelivered_tags: std::ptr::null(),
        bytes_in: 0,
        bytes_out: 0,
        messages_in: 0,
        messages_out: 0,
    }
}

impl EventBox {
    pub fn new(event: ClientEvent) -> Box<EventBox> {
        let mut b = Box::new(EventBox {
            ev: DashnetEvent {
                kind: DashnetEventKind::AddressBookChanged,
                peer_event: empty_peer_event(),
                message: DashnetMessage {
                    peer: 0,
                    command: EMPTY.as_ptr(),
                    payload: std::ptr::null(),
                    payload_len: 0,
                    inventory: std::ptr::null(),
                    inventory_count: 0,
                },
                headers: DashnetHeaders {
                    peer: 0,
                    headers: std::ptr::null(),
                    count: 0,
                    compressed: false,
                },
                address_book_size: 0,
                peer_failed: DashnetPeerFailed {
                    address: EMPTY.as_ptr(),
                    stage: 0,
                    reason_text: EMPTY.as_ptr(),
                },
                queue_ready_peer: 0,
                best_peer_changed: DashnetBestPeerChanged {
                    old_peer: 0,
                    new_peer: 0,
                    reason_text: EMPTY.as_ptr(),
                },
                sync: DashnetSyncEvent {
                    kind: DashnetEventKind::SyncProgress,
                    status: DashnetSyncStatus::Running,
                    headers: std::ptr::null(),
                    count: 0,
                    first_height: 0,
                    height: 0,
                    target_height: 0,
                    peers: 0,
                    headers_per_sec: 0.0,
                    in_flight: 0,
                    segments_failed: 0,
                    tip_hash: [0; 32],
                    fork_after: [0; 32],
                    total_headers: 0,
                    elapsed_ms: 0,
                    peers_stalled: 0,
                    mismatch_height: 0,
                },
            },
            strings: Vec::new(),
            payload: Vec::new(),
            inventory: Vec::new(),
            headers: Vec::new(),
            tags: Vec::new(),
        });
        match event {
            ClientEvent::PeerConnected { peer, info } => b.connected(peer, &info),
            ClientEvent::PeerDisconnected {
                peer,
                addr,
                reason,
                undelivered,
                stats,
            } => {
                b.ev.kind = DashnetEventKind::PeerDisconnected;
                b.tags = undelivered.iter().map(|m| m.tag).collect();
                let address = b.keep(addr.to_string());
                let text = b.keep(reason.to_string());
                let pe = &mut b.ev.peer_event;
                pe.peer = peer;
                pe.address = address;
                pe.reason = reason_code(&reason);
                pe.reason_text = text;
                pe.bytes_in = stats.bytes_in;
                pe.bytes_out = stats.bytes_out;
                pe.messages_in = stats.messages_in;
                pe.messages_out = stats.messages_out;
                pe.undelivered_count = b.tags.len();
                pe.undelivered_tags = b.tags.as_ptr();
            }
            ClientEvent::Message { peer, message } => {
                b.ev.kind = DashnetEventKind::Message;
                b.payload = message.payload();
                let command = b.keep(message.command().as_str());
                if let Message::Inv(list) | Message::GetData(list) | Message::NotFound(list) =
                    &message
                {
                    b.inventory = list
                        .iter()
                        .map(|i| DashnetInventory {
                            kind: i.kind.0,
                            hash: i.hash.0,
                        })
                        .collect();
                    b.ev.message.inventory = b.inventory.as_ptr();
                    b.ev.message.inventory_count = b.inventory.len();
                }
                b.ev.message.peer = peer;
                b.ev.message.command = command;
                b.ev.message.payload = b.payload.as_ptr();
                b.ev.message.payload_len = b.payload.len();
            }
            ClientEvent::Headers {
                peer,
                headers,
                compressed,
            } => {
                b.ev.kind = DashnetEventKind::Headers;
                b.headers = c_headers(&headers);
                b.ev.headers = DashnetHeaders {
                    peer,
                    headers: b.headers.as_ptr(),
                    count: b.headers.len(),
                    compressed,
                };
            }
            ClientEvent::AddressBookChanged { size } => {
                b.ev.kind = DashnetEventKind::AddressBookChanged;
                b.ev.address_book_size = size;
            }
            ClientEvent::PeerFailed {
                addr,
                stage,
                reason,
            } => {
                b.ev.kind = DashnetEventKind::PeerFailed;
                let address = b.keep(addr.to_string());
                let text = b.keep(reason);
                b.ev.peer_failed = DashnetPeerFailed {
                    address,
                    stage: stage as u32,
                    reason_text: text,
                };
            }
            ClientEvent::QueueReady { peer } => {
                b.ev.kind = DashnetEventKind::QueueReady;
                b.ev.queue_ready_peer = peer;
            }
            ClientEvent::SyncHeaders {
                first_height,
                headers,
            } => {
                b.ev.kind = DashnetEventKind::SyncHeaders;
                b.headers = c_headers(&headers);
                let y = &mut b.ev.sync;
                y.kind = DashnetEventKind::SyncHeaders;
                y.headers = b.headers.as_ptr();
                y.count = b.headers.len();
                y.first_height = first_height;
                if let Some(last) = headers.last() {
                    y.height = first_height.saturating_add(headers.len() as u32 - 1);
                    y.target_height = y.height;
                    y.tip_hash = last.hash().0;
                }
            }
            ClientEvent::SyncProgress(p) => {
                b.ev.kind = DashnetEventKind::SyncProgress;
                let y = &mut b.ev.sync;
                y.kind = DashnetEventKind::SyncProgress;
                y.height = p.height;
                y.target_height = p.target;
                y.headers_per_sec = p.headers_per_sec;
                y.peers = p.peers;
                y.in_flight = p.in_flight;
            }
            ClientEvent::SyncDone(d) => {
                b.ev.kind = DashnetEventKind::SyncDone;
                let y = &mut b.ev.sync;
                y.kind = DashnetEventKind::SyncDone;
                y.status = match d.status {
                    SyncStatus::Complete => DashnetSyncStatus::Complete,
                    SyncStatus::Fork { after } => {
                        y.fork_after = after.0;
                        DashnetSyncStatus::Fork
                    }
                    SyncStatus::Cancelled => DashnetSyncStatus::Cancelled,
                    SyncStatus::ShuttingDown => DashnetSyncStatus::ShuttingDown,
                    SyncStatus::CheckpointMismatch { height } => {
                        y.mismatch_height = height;
                        DashnetSyncStatus::CheckpointMismatch
                    }
                };
                y.height = d.height;
                y.target_height = d.height;
                y.tip_hash = d.tip.0;
                y.total_headers = d.headers;
                y.elapsed_ms = d.elapsed.as_millis() as u64;
                let secs = d.elapsed.as_secs_f64();
                y.headers_per_sec = if secs > 0.0 {
                    d.headers as f64 / secs
                } else {
                    0.0
                };
                y.segments_failed = d.segments_failed;
                y.in_flight = d.max_in_flight;
                y.peers_stalled = d.peers_stalled;
            }
            ClientEvent::BestPeerChanged { old, new, reason } => {
                b.ev.kind = DashnetEventKind::BestPeerChanged;
                let text = b.keep(reason);
                b.ev.best_peer_changed = DashnetBestPeerChanged {
                    old_peer: old,
                    new_peer: new.unwrap_or(0),
                    reason_text: text,
                };
            }
        }
        b
    }

    fn keep(&mut self, s: impl Into<Vec<u8>>) -> *const c_char {
        let c = cstring(s);
        let p = c.as_ptr();
        self.strings.push(c);
        p
    }

    fn connected(&mut self, peer: u64, info: &PeerInfo) {
        self.ev.kind = DashnetEventKind::PeerConnected;
        let address = self.keep(info.addr.to_string());
        let ua = self.keep(info.user_agent.as_str());
        let pe = &mut self.ev.peer_event;
        pe.peer = peer;
        pe.address = address;
        pe.user_agent = ua;
        pe.version = info.version;
        pe.start_height = info.start_height;
        pe.services = info.services;
        pe.headers2 = info.headers2;
    }
}

fn c_headers(headers: &[crate::wire::HashedHeader]) -> Vec<DashnetHeader> {
    headers
        .iter()
        .map(|h| DashnetHeader {
            header: h.header().to_bytes(),
            hash: h.hash().0,
        })
        .collect()
}

/// `user_data` and the callbacks. Each callback runs on the client's delivery thread
/// only, never two at a time, with no dashnet lock held: it may call any dashnet
/// function except `dashnet_client_free` (which returns `DASHNET_STATUS_IN_CALLBACK`
/// there). Pointers passed to a callback are valid only until it returns.
///
/// Fill it with `dashnet_callbacks_init`, then set what you need. With no event callback
/// set (`on_peer`, `on_message`, `on_headers`, `on_address_book`, `on_peer_failed`,
/// `on_queue_ready`, `on_best_peer_changed` and `on_sync` all NULL) the client is in poll mode: events wait for
/// `dashnet_client_poll`. Otherwise an event whose callback is NULL is dropped. `on_log`
/// works in either mode. Callbacks must return normally: no `longjmp`, no C++ exception
/// out of them.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DashnetCallbacks {
    /// `sizeof(DashnetCallbacks)` as the caller compiled it.
    pub struct_size: usize,
    /// Passed first to every callback; dashnet never reads it, and never touches it again
    /// once `dashnet_client_free` has returned.
    pub user_data: *mut c_void,
    /// A peer connected or disconnected.
    pub on_peer:
        Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const DashnetPeerEvent)>,
    /// An inbound message (other than headers).
    pub on_message:
        Option<unsafe extern "C" fn(user_data: *mut c_void, message: *const DashnetMessage)>,
    /// Inbound headers.
    pub on_headers:
        Option<unsafe extern "C" fn(user_data: *mut c_void, headers: *const DashnetHeaders)>,
    /// The address book changed; its size now.
    pub on_address_book: Option<unsafe extern "C" fn(user_data: *mut c_void, size: usize)>,
    /// A log line at `level` (see `dashnet_client_set_log_level`). Works in both modes:
    /// in poll mode a small thread of the client's calls it (and only it).
    pub on_log:
        Option<unsafe extern "C" fn(user_data: *mut c_void, level: u32, text: *const c_char)>,
    /// A dial or handshake failed.
    pub on_peer_failed:
        Option<unsafe extern "C" fn(user_data: *mut c_void, failed: *const DashnetPeerFailed)>,
    /// A peer whose send got QUEUE_FULL has room again (drained to half its bounds).
    pub on_queue_ready: Option<unsafe extern "C" fn(user_data: *mut c_void, peer: u64)>,
    /// The best peer stalled a header request and was replaced.
    pub on_best_peer_changed: Option<
        unsafe extern "C" fn(user_data: *mut c_void, changed: *const DashnetBestPeerChanged),
    >,
    /// A header sync event (`dashnet_sync_headers`): headers, progress, done.
    pub on_sync:
        Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const DashnetSyncEvent)>,
}

impl DashnetCallbacks {
    pub(crate) fn none() -> DashnetCallbacks {
        DashnetCallbacks {
            struct_size: std::mem::size_of::<DashnetCallbacks>(),
            user_data: std::ptr::null_mut(),
            on_peer: None,
            on_message: None,
            on_headers: None,
            on_address_book: None,
            on_log: None,
            on_peer_failed: None,
            on_queue_ready: None,
            on_best_peer_changed: None,
            on_sync: None,
        }
    }

    pub(crate) fn has_event_callback(&self) -> bool {
        self.on_peer.is_some()
            || self.on_message.is_some()
            || self.on_headers.is_some()
            || self.on_address_book.is_some()
            || self.on_peer_failed.is_some()
            || self.on_queue_ready.is_some()
            || self.on_best_peer_changed.is_some()
            || self.on_sync.is_some()
    }

    /// Reads a caller's callbacks of any version (the fields past its `struct_size` are NULL).
    ///
    /// # Safety
    /// `p` is NULL or points to at least `struct_size` readable bytes.
    pub(crate) unsafe fn read(
        p: *const DashnetCallbacks,
    ) -> Result<DashnetCallbacks, DashnetStatus> {
        let mut out = DashnetCallbacks::none();
        if p.is_null() {
            return Ok(out);
        }
        // SAFETY: non-NULL; struct_size is the first field of every version.
        let size = unsafe { p.cast::<usize>().read_unaligned() };
        let size = check_struct_size(
            size,
            &callbacks_field_ends(),
            std::mem::size_of::<DashnetCallbacks>(),
            std::mem::size_of::<usize>() * 2,
            "DashnetCallbacks",
        )?;
        // SAFETY: the caller's struct has `size` readable bytes, and `size` ends on one of
        // our fields, so we copy whole fields into our own value of the same layout. Every
        // field is a raw pointer or an Option of a function pointer, for which any bits the
        // C side can store (NULL or an address) are valid.
        unsafe {
            std::ptr::copy_nonoverlapping(p.cast::<u8>(), (&raw mut out).cast::<u8>(), size);
        }
        out.struct_size = std::mem::size_of::<DashnetCallbacks>();
        Ok(out)
    }
}

/// Where each field of `DashnetCallbacks` ends: the sizes older versions may have.
fn callbacks_field_ends() -> [usize; 11] {
    field_ends!(DashnetCallbacks; struct_size, user_data, on_peer, on_message, on_headers,
        on_address_book, on_log, on_peer_failed, on_queue_ready, on_best_peer_changed, on_sync)
}

/// Fills the first `struct_size` bytes of `callbacks` (pass `sizeof *callbacks`) with
/// NULLs, `struct_size` included. INVALID_ARGUMENT for NULL or a size that is not one of
/// a version of `DashnetCallbacks`.
///
/// # Safety
/// `callbacks` is NULL or points to `struct_size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_callbacks_init(
    callbacks: *mut DashnetCallbacks,
    struct_size: usize,
) -> DashnetStatus {
    guard(|| {
        if callbacks.is_null() {
            return fail(DashnetStatus::InvalidArgument, "callbacks is NULL");
        }
        let n = tri!(check_struct_size(
            struct_size,
            &callbacks_field_ends(),
            std::mem::size_of::<DashnetCallbacks>(),
            std::mem::size_of::<usize>() * 2,
            "DashnetCallbacks",
        ));
        let mut value = DashnetCallbacks::none();
        value.struct_size = n;
        // SAFETY: non-NULL; the caller promises `struct_size` (= n) writable bytes, and n
        // is a field boundary of our layout.
        unsafe { write_prefix(callbacks, &value, n) };
        DashnetStatus::Ok
    })
}

/// Frees an event returned by `dashnet_client_poll`. NULL is ignored.
///
/// # Safety
/// `event` is NULL or came from `dashnet_client_poll` and was not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_event_free(event: *mut DashnetEvent) {
    let _ = guard(|| {
        if !event.is_null() {
            // SAFETY: the pointer came from Box::into_raw of an EventBox (whose first
            // field is the event) in dashnet_client_poll, and is freed only once.
            drop(unsafe { Box::from_raw(event.cast::<EventBox>()) });
        }
        DashnetStatus::Ok
    });
}

/// The callbacks, made sendable to the delivery thread.
pub(crate) struct Delivery {
    pub callbacks: DashnetCallbacks,
}

// SAFETY: the callbacks and user_data are only ever used on the delivery thread; the
// C ABI contract makes the app responsible for user_data being usable there.
unsafe impl Send for Delivery {}

impl Delivery {
    fn log(&self, level: LogLevel, text: &str) {
        if let Some(f) = self.callbacks.on_log {
            let c = cstring(text);
            // SAFETY: a callback the app installed, called on the delivery thread with
            // its user_data and a string valid for the call.
            unsafe { f(self.callbacks.user_data, level as u32, c.as_ptr()) };
        }
    }

    fn deliver(&self, event: ClientEvent) {
        let b = EventBox::new(event);
        let cb = &self.callbacks;
        let ud = cb.user_data;
        // SAFETY (every call below): a callback the app installed, called on the delivery
        // thread with its user_data; the data it points to lives in `b` until after the
        // call returns.
        match b.ev.kind {
            DashnetEventKind::PeerConnected | DashnetEventKind::PeerDisconnected => {
                if let Some(f) = cb.on_peer {
                    // SAFETY: see above.
                    unsafe { f(ud, &b.ev.peer_event) };
                }
            }
            DashnetEventKind::Message => {
                if let Some(f) = cb.on_message {
                    // SAFETY: see above.
                    unsafe { f(ud, &b.ev.message) };
                }
            }
            DashnetEventKind::Headers => {
                if let Some(f) = cb.on_headers {
                    // SAFETY: see above.
                    unsafe { f(ud, &b.ev.headers) };
                }
            }
            DashnetEventKind::AddressBookChanged => {
                if let Some(f) = cb.on_address_book {
                    // SAFETY: see above.
                    unsafe { f(ud, b.ev.address_book_size) };
                }
            }
            DashnetEventKind::PeerFailed => {
                if let Some(f) = cb.on_peer_failed {
                    // SAFETY: see above.
                    unsafe { f(ud, &b.ev.peer_failed) };
                }
            }
            DashnetEventKind::QueueReady => {
                if let Some(f) = cb.on_queue_ready {
                    // SAFETY: see above.
                    unsafe { f(ud, b.ev.queue_ready_peer) };
                }
            }
            DashnetEventKind::BestPeerChanged => {
                if let Some(f) = cb.on_best_peer_changed {
                    // SAFETY: see above.
                    unsafe { f(ud, &b.ev.best_peer_changed) };
                }
            }
            DashnetEventKind::SyncHeaders
            | DashnetEventKind::SyncProgress
            | DashnetEventKind::SyncDone => {
                if let Some(f) = cb.on_sync {
                    // SAFETY: see above.
                    unsafe { f(ud, &b.ev.sync) };
                }
            }
        }
    }

    /// Hands one event or log line to the app (on the delivery thread).
    pub fn handle(&self, item: Taken) {
        match item {
            Taken::Event(ev) => self.deliver(ev),
            Taken::Log(level, text) => self.log(level, &text),
            Taken::Timeout | Taken::Closed => {}
        }
    }
}
