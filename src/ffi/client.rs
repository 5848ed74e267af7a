//! `DashnetClient`: an opaque handle to a client, and everything done through it.
//!
//! Functions: `dashnet_client_new`, `dashnet_client_free`, `dashnet_client_connect`,
//! `dashnet_client_disconnect`, `dashnet_send`, `dashnet_broadcast`, `dashnet_send_best`,
//! `dashnet_request_headers`, `dashnet_peer_stats`, `dashnet_client_stats`,
//! `dashnet_address_book_export`, `dashnet_bytes_free`, `dashnet_address_book_import`,
//! `dashnet_network_changed`, `dashnet_pause`, `dashnet_resume`,
//! `dashnet_client_set_log_level`, `dashnet_client_poll`.

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use super::config::DashnetConfig;
use super::event::{DashnetCallbacks, DashnetEvent, Delivery, EventBox};
use super::status::{
    DashnetStatus, bytes_arg, check_struct_size, fail, field_ends, from_client_error, guard,
    guard_ptr, str_arg, write_out, write_prefix,
};
use crate::client::{Client, DeliveryThread, Taken};
use crate::peer::Transport;
use crate::wire::{Command, Hash256};

/// A client: its runtime, its peers, its delivery thread. Opaque; create it with
/// `dashnet_client_new`, free it with `dashnet_client_free`. Every function taking it is
/// safe to call from any thread, and from inside callbacks (except free).
///
/// Functions: `dashnet_client_new`, `dashnet_client_free`, `dashnet_client_connect`,
/// `dashnet_client_disconnect`, `dashnet_send`, `dashnet_broadcast`, `dashnet_send_best`,
/// `dashnet_request_headers`, the request builders (`dashnet_send_getheaders`,
/// `dashnet_send_getdata`, `dashnet_send_filterload`, `dashnet_send_filteradd`,
/// `dashnet_send_filterclear`, `dashnet_send_tx`, `dashnet_send_mempool`,
/// `dashnet_send_getmnlistd`, `dashnet_send_getqrinfo`), `dashnet_peer_stats`,
/// `dashnet_client_stats`, `dashnet_address_book_export`, `dashnet_address_book_import`,
/// `dashnet_network_changed`, `dashnet_pause`, `dashnet_resume`,
/// `dashnet_client_set_log_level`, `dashnet_client_poll`.
pub struct DashnetClient {
    pub(crate) client: Arc<Client>,
    delivery: Option<DeliveryThread>,
    poll_mode: bool,
    has_log: bool,
}

/// Peer id meaning "the best peer" in the request builders.
pub const DASHNET_PEER_BEST: u64 = 0;

/// Service bit: a full node serving blocks.
pub const DASHNET_SERVICE_NETWORK: u64 = 1;
/// Service bit: serves BIP37 bloom-filtered blocks (filterload, filteradd, filterclear).
pub const DASHNET_SERVICE_BLOOM: u64 = 1 << 2;
/// Service bit: serves BIP157/158 compact block filters (getcfilters, getcfheaders,
/// getcfcheckpt).
pub const DASHNET_SERVICE_COMPACT_FILTERS: u64 = 1 << 6;
/// Service bit: serves recent blocks only.
pub const DASHNET_SERVICE_NETWORK_LIMITED: u64 = 1 << 10;
/// Service bit: understands headers2 (DIP-0025).
pub const DASHNET_SERVICE_HEADERS_COMPRESSED: u64 = 1 << 11;
/// Service bit: speaks the BIP324 v2 transport.
pub const DASHNET_SERVICE_P2P_V2: u64 = 1 << 12;

/// Borrows the client behind a handle.
///
/// # Safety
/// `client` is NULL or a live handle from `dashnet_client_new`.
pub(crate) unsafe fn handle<'a>(
    client: *const DashnetClient,
) -> Result<&'a DashnetClient, DashnetStatus> {
    if client.is_null() {
        return Err(fail(DashnetStatus::InvalidArgument, "client is NULL"));
    }
    // SAFETY: non-NULL, and the caller promises a live handle (not yet freed).
    Ok(unsafe { &*client })
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(status) => return status,
        }
    };
}
pub(crate) use tri;

/// Creates a client and starts connecting.
///
/// `config` must come from `dashnet_config_init` (then edited). `callbacks` may be NULL
/// (poll mode). Returns NULL on failure (see `dashnet_last_error`).
///
/// # Safety
/// `config` points to a `DashnetConfig` (strings in it valid for the call); `callbacks`
/// is NULL or points to a `DashnetCallbacks`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_client_new(
    config: *const DashnetConfig,
    callbacks: *const DashnetCallbacks,
) -> *mut DashnetClient {
    guard_ptr(|| {
        // SAFETY: the caller's promises above.
        let cfg = match unsafe { DashnetConfig::read(config) }
            .and_then(|c| unsafe { c.client_config() })
        {
            Ok(c) => c,
            Err(_) => return std::ptr::null_mut(),
        };
        // SAFETY: the caller's promise above.
        let callbacks = match unsafe { DashnetCallbacks::read(callbacks) } {
            Ok(c) => c,
            Err(_) => return std::ptr::null_mut(),
        };
        let client = match Client::new(cfg) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                fail(
                    DashnetStatus::Internal,
                    format!("cannot start the runtime: {e}"),
                );
                return std::ptr::null_mut();
            }
        };
        let poll_mode = !callbacks.has_event_callback();
        let has_log = callbacks.on_log.is_some();
        // Log lines are queued only for an app that takes them.
        client.set_log_level(if has_log {
            super::event::DashnetLogLevel::Info as u32
        } else {
            0
        });
        // The delivery thread: every callback in callback mode; only on_log in poll mode.
        let delivery = if poll_mode && !has_log {
            None
        } else {
            let d = Delivery { callbacks };
            match DeliveryThread::start(client.clone(), !poll_mode, has_log, move || {
                Ok(move |item| d.handle(item))
            }) {
                Ok(t) => Some(t),
                Err(e) => {
                    client.shutdown();
                    fail(
                        DashnetStatus::Internal,
                        format!("cannot start the delivery thread: {e}"),
                    );
                    return std::ptr::null_mut();
                }
            }
        };
        Box::into_raw(Box::new(DashnetClient {
            client,
            delivery,
            poll_mode,
            has_log,
        }))
    })
}

/// Starts shutting the client down and returns at once (it never blocks). From then on
/// calls that would change anything return `DASHNET_STATUS_SHUTTING_DOWN` (stats and the
/// address-book export still work); dials and handshakes in flight are abandoned; every
/// connection flushes its queue up to `flush_deadline_ms` and closes; every peer's
/// PEER_DISCONNECTED (with the tags of its undelivered messages) is still delivered, to
/// the callbacks or to `dashnet_client_poll`, which returns SHUTTING_DOWN once everything
/// is out. Inbound data events the app has not taken by the flush deadline are discarded
/// and counted (`DashnetClientStats.events_discarded`).
///
/// This is how other threads are told to stop before `dashnet_client_free`: shut down,
/// let every thread that polls or sends return, then free. Safe from any thread and from
/// inside a callback. A second call does nothing (OK).
///
/// # Safety
/// `client` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_client_shutdown(client: *const DashnetClient) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promise above.
        let c = tri!(unsafe { handle(client) });
        c.client.begin_shutdown();
        DashnetStatus::Ok
    })
}

/// What shutting down left behind (`dashnet_client_free_with_report`). Set `struct_size`
/// to `sizeof` it before the call. The undelivered messages' tags reached the app in each
/// peer's PEER_DISCONNECTED; these are the totals.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct DashnetShutdownReport {
    /// `sizeof(DashnetShutdownReport)` as the caller compiled it: set it before the call.
    pub struct_size: usize,
    /// Peers the shutdown closed.
    pub peers_closed: u64,
    /// Messages the app queued that were never written (summed over those peers).
    pub undelivered_messages: u64,
    /// Inbound data events discarded at the flush deadline because the app had not taken
    /// them (PEER_* events are never discarded).
    pub events_discarded: u64,
    /// Their bytes.
    pub bytes_discarded: u64,
    /// Milliseconds from the start of the shutdown to the end of the free.
    pub elapsed_ms: u64,
    /// Runtime tasks still alive when it was stopped (0 unless something leaked).
    pub tasks_left: u64,
}

fn shutdown_report_field_ends() -> [usize; 7] {
    field_ends!(DashnetShutdownReport; struct_size, peers_closed, undelivered_messages,
        events_discarded, bytes_discarded, elapsed_ms, tasks_left)
}

/// Shuts the client down if that has not begun (`dashnet_client_shutdown`), waits for it
/// to finish, and frees it. It returns within about `flush_deadline_ms` + 0.5 s plus the
/// time your callbacks take for the final events (each PEER_DISCONNECTED), whatever is in
/// flight: pending dials and handshakes are abandoned, and inbound data the app has not
/// taken by the deadline is discarded. In callback mode every remaining PEER_* event is
/// delivered before it returns; in poll mode, events not yet polled are freed with the
/// client (poll until SHUTTING_DOWN first to see them). When it returns, no callback is
/// running and none will run again, and `user_data` is never touched again.
///
/// Like every C free, it must not race any other call on the same handle: tell other
/// threads to stop with `dashnet_client_shutdown`, let them return, then free. Do not
/// call it while holding a lock your callbacks take, and do not free two clients from
/// each other's callbacks.
///
/// NULL is ignored (returns OK). From inside a callback it returns
/// `DASHNET_STATUS_IN_CALLBACK` and frees nothing.
///
/// # Safety
/// `client` is NULL or a live handle that no other thread is using; after OK it is
/// freed and must not be used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_client_free(client: *mut DashnetClient) -> DashnetStatus {
    // SAFETY: the same promises, passed on; a NULL report is allowed.
    unsafe { dashnet_client_free_with_report(client, std::ptr::null_mut()) }
}

/// `dashnet_client_free`, and `*report` (if not NULL; set its `struct_size` first) gets
/// what the shutdown left behind. A bad `struct_size` is INVALID_ARGUMENT and frees
/// nothing.
///
/// # Safety
/// As `dashnet_client_free`; `report` is NULL or a `DashnetShutdownReport` with its
/// `struct_size` set and that many writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_client_free_with_report(
    client: *mut DashnetClient,
    report: *mut DashnetShutdownReport,
) -> DashnetStatus {
    guard(|| {
        let n = if report.is_null() {
            None
        } else {
            // SAFETY: the caller's promise above.
            Some(tri!(unsafe {
                out_struct_size(
                    report,
                    &shutdown_report_field_ends(),
                    "DashnetShutdownReport",
                )
            }))
        };
        if client.is_null() {
            return DashnetStatus::Ok;
        }
        // SAFETY: non-NULL and live, per the caller's promise.
        let c = unsafe { &*client };
        if c.delivery.as_ref().is_some_and(|d| d.is_current()) {
            return fail(
                DashnetStatus::InCallback,
                "dashnet_client_free cannot be called from inside a callback",
            );
        }
        let r = c.client.shutdown();
        if let Some(d) = &c.delivery {
            d.join();
        }
        if let Some(n) = n {
            // Read after the delivery thread has ended: it may have discarded data events
            // it found past the deadline.
            let stats = c.client.stats();
            let elapsed = c
                .client
                .shutdown_started()
                .map_or(r.elapsed, |t| t.elapsed());
            let v = DashnetShutdownReport {
                struct_size: n,
                peers_closed: r.peers_closed as u64,
                undelivered_messages: r.undelivered.iter().map(|(_, m)| m.len() as u64).sum(),
                events_discarded: stats.events_discarded,
                bytes_discarded: stats.bytes_discarded,
                elapsed_ms: elapsed.as_millis() as u64,
                tasks_left: r.tasks_left as u64,
            };
            // SAFETY: `report` is non-NULL with `n` writable bytes, n a field boundary.
            unsafe { write_prefix(report, &v, n) };
        }
        // SAFETY: the pointer came from Box::into_raw in dashnet_client_new; the delivery
        // thread has ended and the caller promises no other thread uses the handle.
        drop(unsafe { Box::from_raw(client) });
        DashnetStatus::Ok
    })
}

fn parse_addr(s: &str) -> Result<crate::wire::PeerAddr, DashnetStatus> {
    s.parse::<crate::wire::PeerAddr>().map_err(|e| {
        fail(
            DashnetStatus::InvalidArgument,
            format!("{e} (\"1.2.3.4:9999\", \"[::1]:9999\" or \"NAME.onion:9999\"); resolve host names first"),
        )
    })
}

/// Keeps the node at `address` connected, dialing it now (returns at once): "IP:PORT",
/// "[IPv6]:PORT", or "NAME.onion:PORT" (v3; dialed through `proxy_onion` or `proxy`, by
/// name: never resolved here). INVALID_ARGUMENT when the config gives no way to reach it
/// (an onion without a proxy, an IP with `onion_only`).
///
/// # Safety
/// `client` is a live handle; `address` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_client_connect(
    client: *const DashnetClient,
    address: *const c_char,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promises above.
        let c = tri!(unsafe { handle(client) });
        // SAFETY: as above.
        let addr = tri!(parse_addr(tri!(unsafe { str_arg(address, "address") })));
        c.client
            .connect(addr)
            .map_or_else(from_client_error, |_| DashnetStatus::Ok)
    })
}

/// Disconnects a peer gracefully and stops keeping its address connected (returns at once).
///
/// # Safety
/// `client` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_client_disconnect(
    client: *const DashnetClient,
    peer: u64,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promise above.
        let c = tri!(unsafe { handle(client) });
        c.client
            .disconnect(peer)
            .map_or_else(from_client_error, |_| DashnetStatus::Ok)
    })
}

fn command(s: &str) -> Result<Command, DashnetStatus> {
    Command::new(s).ok_or_else(|| {
        fail(
            DashnetStatus::InvalidArgument,
            format!("{s:?} is not a command (1 to 12 printable ASCII characters)"),
        )
    })
}

/// Reads (command, payload) arguments, refusing payloads over the protocol limit.
///
/// # Safety
/// `cmd` is a NUL-terminated string; `payload` has `len` readable bytes (or len is 0).
unsafe fn message_args(
    cmd: *const c_char,
    payload: *const u8,
    len: usize,
) -> Result<(Command, Vec<u8>), DashnetStatus> {
    // SAFETY: the caller's promises above.
    let command = command(unsafe { str_arg(cmd, "command") }?)?;
    if len > crate::wire::MAX_PAYLOAD_LEN {
        return Err(fail(
            DashnetStatus::TooLarge,
            format!("payload of {len} bytes is over the 3 MiB protocol limit"),
        ));
    }
    // SAFETY: as above.
    let bytes = unsafe { bytes_arg(payload, len, "payload") }?;
    Ok((command, bytes.to_vec()))
}

/// Queues a message to one peer and returns at once: OK, QUEUE_FULL, DISCONNECTED,
/// NOT_FOUND (unknown or stale id), TOO_LARGE. Never blocks. Control commands (ping,
/// pong, verack, sendaddrv2, sendheaders, sendheaders2) take the priority lane (256
/// messages, 64 KiB; QUEUE_FULL beyond). A request that needs a service the peer does
/// not advertise (getcf*: COMPACT_FILTERS; filterload/filteradd/filterclear: BLOOM;
/// getheaders2: HEADERS_COMPRESSED) is NO_PEER, with the service named.
/// `tag` comes back in the PEER_DISCONNECTED event if the message is never written.
///
/// # Safety
/// `client` is a live handle; `command` a NUL-terminated string; `payload` has
/// `payload_len` readable bytes (may be NULL when `payload_len` is 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_send(
    client: *const DashnetClient,
    peer: u64,
    command: *const c_char,
    payload: *const u8,
    payload_len: usize,
    tag: u64,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promises above.
        let c = tri!(unsafe { handle(client) });
        // SAFETY: as above.
        let (cmd, bytes) = tri!(unsafe { message_args(command, payload, payload_len) });
        c.client
            .send(peer, cmd, bytes, tag)
            .map_or_else(from_client_error, |_| DashnetStatus::Ok)
    })
}

/// Queues a message to every connected peer; `*accepted` (if not NULL) gets how many
/// peers took it. Returns at once.
///
/// # Safety
/// As `dashnet_send`; `accepted` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_broadcast(
    client: *const DashnetClient,
    command: *const c_char,
    payload: *const u8,
    payload_len: usize,
    tag: u64,
    accepted: *mut usize,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promises above.
        let c = tri!(unsafe { handle(client) });
        // SAFETY: as above.
        let (cmd, bytes) = tri!(unsafe { message_args(command, payload, payload_len) });
        match c.client.broadcast(cmd, bytes, tag) {
            Ok(n) => {
                // SAFETY: as above.
                unsafe { write_out(accepted, n) };
                DashnetStatus::Ok
            }
            Err(e) => from_client_error(e),
        }
    })
}

/// Queues a message to the best peer (sticky; the lowest ping at the highest height);
/// `*peer_out` (if not NULL) gets its id. Returns at once.
///
/// # Safety
/// As `dashnet_send`; `peer_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_send_best(
    client: *const DashnetClient,
    command: *const c_char,
    payload: *const u8,
    payload_len: usize,
    tag: u64,
    peer_out: *mut u64,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promises above.
        let c = tri!(unsafe { handle(client) });
        // SAFETY: as above.
        let (cmd, bytes) = tri!(unsafe { message_args(command, payload, payload_len) });
        match c.client.send_best(cmd, bytes, tag) {
            Ok(id) => {
                // SAFETY: as above.
                unsafe { write_out(peer_out, id) };
                DashnetStatus::Ok
            }
            Err(e) => from_client_error(e),
        }
    })
}

/// Reads `count` 32-byte hashes, refusing a count over `max` before touching memory
/// (`too_many` says with which status).
///
/// # Safety
/// When `count <= max`, `hashes` has `count * 32` readable bytes (or count is 0).
pub(crate) unsafe fn hashes_arg(
    hashes: *const u8,
    count: usize,
    max: usize,
    too_many: DashnetStatus,
    what: &str,
) -> Result<Vec<Hash256>, DashnetStatus> {
    if count > max {
        return Err(fail(
            too_many,
            format!("{what}: {count} hashes, at most {max} allowed"),
        ));
    }
    let len = count.checked_mul(32).ok_or_else(|| {
        fail(
            DashnetStatus::InvalidArgument,
            format!("{what}: count overflows"),
        )
    })?;
    // SAFETY: the caller's promise above.
    let bytes = unsafe { bytes_arg(hashes, len, what) }?;
    // The length is count * 32, so this always splits.
    Ok(Hash256::list_from_bytes(bytes).unwrap_or_default())
}

/// Reads a locator-sized list of hashes (at most 101).
///
/// # Safety
/// As [`hashes_arg`].
pub(crate) unsafe fn hash_list(
    hashes: *const u8,
    count: usize,
    what: &str,
) -> Result<Vec<Hash256>, DashnetStatus> {
    // SAFETY: the caller's promise.
    unsafe {
        hashes_arg(
            hashes,
            count,
            crate::wire::MAX_LOCATOR_HASHES,
            DashnetStatus::InvalidArgument,
            what,
        )
    }
}

/// Reads a locator: 1 to 101 hashes, the count checked before any byte is read.
///
/// # Safety
/// `locator` is NULL or has `count * 32` readable bytes.
unsafe fn locator_arg(locator: *const u8, count: usize) -> Result<Vec<Hash256>, DashnetStatus> {
    if count == 0 || count > crate::wire::MAX_LOCATOR_HASHES {
        return Err(fail(
            DashnetStatus::InvalidArgument,
            format!("a locator has 1 to 101 hashes, not {count}"),
        ));
    }
    // SAFETY: the caller's promise; the count is checked.
    unsafe { hash_list(locator, count, "locator") }
}

/// Reads one 32-byte hash.
///
/// # Safety
/// `p` is NULL or has 32 readable bytes.
pub(crate) unsafe fn one_hash(p: *const u8, what: &str) -> Result<Hash256, DashnetStatus> {
    // SAFETY: the caller's promise.
    let bytes = unsafe { bytes_arg(p, 32, what) }?;
    let mut h = [0u8; 32];
    h.copy_from_slice(bytes);
    Ok(Hash256(h))
}

/// Asks the best peer for headers after `locator` (`locator_count` hashes of 32 bytes in
/// wire order, newest first, 1 to 101) up to `stop` (32 bytes, or NULL for as many as it
/// sends): getheaders2 if it does headers2, else getheaders. They arrive as a HEADERS
/// event. `*peer_out` (if not NULL) gets the peer's id. BUSY while a header sync
/// (`dashnet_sync_headers`) runs: its replies could not be told apart.
///
/// # Safety
/// `client` is a live handle; `locator` has `locator_count * 32` readable bytes; `stop`
/// is NULL or has 32; `peer_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_request_headers(
    client: *const DashnetClient,
    locator: *const u8,
    locator_count: usize,
    stop: *const u8,
    peer_out: *mut u64,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promises above.
        let c = tri!(unsafe { handle(client) });
        // SAFETY: as above.
        let hashes = tri!(unsafe { locator_arg(locator, locator_count) });
        let stop = if stop.is_null() {
            Hash256::ZERO
        } else {
            // SAFETY: as above: 32 readable bytes.
            tri!(unsafe { one_hash(stop, "stop") })
        };
        match c.client.request_headers(hashes, stop) {
            Ok(id) => {
                // SAFETY: as above.
                unsafe { write_out(peer_out, id) };
                DashnetStatus::Ok
            }
            Err(e) => from_client_error(e),
        }
    })
}

/// Starts the header sync service: from the app's tip (`locator[0]`, at `tip_height`;
/// `locator_count` hashes of 32 bytes in wire order, newest first, 1 to 101) up to the
/// peers' tip. Returns at once. Headers come as SYNC_HEADERS events in chain order (each
/// with the height of its first header), with SYNC_PROGRESS along the way and one
/// SYNC_DONE at the end (`on_sync`, or poll). The chain above the tip is cut at the
/// checkpoints (the network's built-in ones and those from `dashnet_add_checkpoint`) into
/// segments asked of several peers at once (or pipelined on one), decoded in parallel
/// (`decode_threads`) and checked at each checkpoint. BUSY while a sync runs (until its
/// SYNC_DONE is queued); INVALID_ARGUMENT for a bad locator, a tip height above
/// INT32_MAX, or a tip at a checkpoint's height with another hash. In callback mode,
/// set `on_sync`, or the sync's events (SYNC_DONE included) are dropped.
///
/// # Safety
/// `client` is a live handle; `locator` has `locator_count * 32` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_sync_headers(
    client: *const DashnetClient,
    locator: *const u8,
    locator_count: usize,
    tip_height: u32,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promises above.
        let c = tri!(unsafe { handle(client) });
        // SAFETY: as above.
        let hashes = tri!(unsafe { locator_arg(locator, locator_count) });
        match c.client.sync_headers(hashes, tip_height) {
            Ok(()) => DashnetStatus::Ok,
            Err(e) => from_client_error(e),
        }
    })
}

/// Cancels the running header sync: SYNC_DONE (status CANCELLED) follows. NOT_FOUND when
/// none runs.
///
/// # Safety
/// `client` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_sync_cancel(client: *const DashnetClient) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promise above.
        let c = tri!(unsafe { handle(client) });
        match c.client.cancel_sync() {
            Ok(()) => DashnetStatus::Ok,
            Err(e) => from_client_error(e),
        }
    })
}

/// Adds a checkpoint for the next sync: the chain must have block `hash` (32 bytes, wire
/// order) at `height`. INVALID_ARGUMENT if another hash is the checkpoint at that height
/// (the network's built-in ones included).
///
/// # Safety
/// `client` is a live handle; `hash` has 32 readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_add_checkpoint(
    client: *const DashnetClient,
    height: u32,
    hash: *const u8,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promises above.
        let c = tri!(unsafe { handle(client) });
        // SAFETY: as above: 32 readable bytes.
        let hash = tri!(unsafe { one_hash(hash, "hash") });
        match c.client.add_checkpoint(height, hash) {
            Ok(()) => DashnetStatus::Ok,
            Err(e) => from_client_error(e),
        }
    })
}

/// One peer's statistics. Set `struct_size` to `sizeof` it before the call: dashnet
/// writes only the fields that fit (a program built against an older header gets its
/// own, shorter struct filled).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct DashnetPeerStats {
    /// `sizeof(DashnetPeerStats)` as the caller compiled it: set it before the call.
    pub struct_size: usize,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes written to the socket.
    pub bytes_out: u64,
    /// Messages received.
    pub messages_in: u64,
    /// Messages written.
    pub messages_out: u64,
    /// Messages waiting in its outbound queue.
    pub queued_messages: u64,
    /// Bytes waiting in its outbound queue.
    pub queued_bytes: u64,
    /// Last ping round trip, microseconds (0 before the first).
    pub ping_last_us: u64,
    /// Smallest ping round trip, microseconds.
    pub ping_min_us: u64,
    /// Mean ping round trip, microseconds.
    pub ping_avg_us: u64,
    /// When it connected, microseconds since the Unix epoch.
    pub connected_since_unix_us: u64,
    /// Its inbound bytes waiting between its socket and the app (its budget in use).
    pub inbound_bytes: u64,
    /// The transport in use: `DASHNET_TRANSPORT_IN_USE_V1` (1) or `_V2` (2).
    pub transport: u32,
    /// Reserved (0).
    pub reserved0: u32,
    /// The v2 session id: both ends compute the same 32 bytes, so an app may show it
    /// for comparison out of band; all zero over v1.
    pub session_id: [u8; 32],
}

/// The transport a connection uses (`DashnetPeerStats::transport`).
pub const DASHNET_TRANSPORT_IN_USE_V1: u32 = 1;
/// BIP324 v2.
pub const DASHNET_TRANSPORT_IN_USE_V2: u32 = 2;

/// Client-wide statistics. Set `struct_size` to `sizeof` it before the call, as for
/// `DashnetPeerStats`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct DashnetClientStats {
    /// `sizeof(DashnetClientStats)` as the caller compiled it: set it before the call.
    pub struct_size: usize,
    /// Connected peers.
    pub peers: u64,
    /// Dials in progress.
    pub dialing: u64,
    /// Dials since the client started.
    pub dials: u64,
    /// Address book entries.
    pub address_book: u64,
    /// Bans in force.
    pub banned: u64,
    /// Bytes received by connected peers.
    pub bytes_in: u64,
    /// Bytes sent by connected peers.
    pub bytes_out: u64,
    /// Inbound bytes waiting between the sockets and the app (the client budget in use).
    pub inbound_bytes: u64,
    /// The client's inbound byte budget (`inbound_client_bytes`).
    pub inbound_budget: u64,
    /// Events waiting for the app.
    pub events_queued: u64,
    /// Inbound data events discarded at the shutdown deadline (never PEER_* events).
    pub events_discarded: u64,
    /// Their bytes.
    pub bytes_discarded: u64,
    /// DNS seed lookups started (at start, on network_changed, on resume, and when the
    /// address book ran dry).
    pub seed_lookups: u64,
}

fn peer_stats_field_ends() -> [usize; 15] {
    field_ends!(DashnetPeerStats; struct_size, bytes_in, bytes_out, messages_in,
        messages_out, queued_messages, queued_bytes, ping_last_us, ping_min_us, ping_avg_us,
        connected_since_unix_us, inbound_bytes, transport, reserved0, session_id)
}

fn client_stats_field_ends() -> [usize; 14] {
    field_ends!(DashnetClientStats; struct_size, peers, dialing, dials, address_book,
        banned, bytes_in, bytes_out, inbound_bytes, inbound_budget, events_queued,
        events_discarded, bytes_discarded, seed_lookups)
}

/// Reads and checks the `struct_size` a caller set in an out-struct.
///
/// # Safety
/// `out` is NULL or points to a struct whose first field is a readable `size_t`.
pub(crate) unsafe fn out_struct_size<T>(
    out: *mut T,
    ends: &[usize],
    what: &str,
) -> Result<usize, DashnetStatus> {
    if out.is_null() {
        return Err(fail(DashnetStatus::InvalidArgument, "out is NULL"));
    }
    // SAFETY: non-NULL; the caller promises a struct whose first field is struct_size.
    let size = unsafe { out.cast::<usize>().read_unaligned() };
    check_struct_size(
        size,
        ends,
        std::mem::size_of::<T>(),
        std::mem::size_of::<usize>(),
        what,
    )
}

/// Fills `*out` with one peer's statistics (lock-free reads). Set `out->struct_size`
/// first.
///
/// # Safety
/// `client` is a live handle; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_peer_stats(
    client: *const DashnetClient,
    peer: u64,
    out: *mut DashnetPeerStats,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promise above.
        let c = tri!(unsafe { handle(client) });
        // SAFETY: the caller's promise above.
        let n = tri!(unsafe { out_struct_size(out, &peer_stats_field_ends(), "DashnetPeerStats") });
        match c.client.peer_stats(peer) {
            Ok(s) => {
                let v = DashnetPeerStats {
                    struct_size: n,
                    bytes_in: s.bytes_in,
                    bytes_out: s.bytes_out,
                    messages_in: s.messages_in,
                    messages_out: s.messages_out,
                    queued_messages: s.queued_messages,
                    queued_bytes: s.queued_bytes,
                    ping_last_us: s.ping_last_us,
                    ping_min_us: s.ping_min_us,
                    ping_avg_us: s.ping_avg_us,
                    connected_since_unix_us: s.connected_since_unix_us,
                    inbound_bytes: s.inbound_bytes,
                    transport: match s.transport {
                        Transport::V1 => DASHNET_TRANSPORT_IN_USE_V1,
                        Transport::V2 => DASHNET_TRANSPORT_IN_USE_V2,
                    },
                    reserved0: 0,
                    session_id: s.session_id.unwrap_or_default(),
                };
                // SAFETY: the caller promises `struct_size` (= n) writable bytes, and n
                // ends on one of our fields.
                unsafe { write_prefix(out, &v, n) };
                DashnetStatus::Ok
            }
            Err(e) => from_client_error(e),
        }
    })
}

/// Fills `*out` with client-wide statistics. Set `out->struct_size` first.
///
/// # Safety
/// `client` is a live handle; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_client_stats(
    client: *const DashnetClient,
    out: *mut DashnetClientStats,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promise above.
        let c = tri!(unsafe { handle(client) });
        // SAFETY: the caller's promise above.
        let n =
            tri!(unsafe { out_struct_size(out, &client_stats_field_ends(), "DashnetClientStats") });
        let s = c.client.stats();
        let v = DashnetClientStats {
            struct_size: n,
            peers: s.peers,
            dialing: s.dialing,
            dials: s.dials,
            address_book: s.address_book,
            banned: s.banned,
            bytes_in: s.bytes_in,
            bytes_out: s.bytes_out,
            inbound_bytes: s.inbound_bytes,
            inbound_budget: s.inbound_budget,
            events_queued: s.events_queued,
            events_discarded: s.events_discarded,
            bytes_discarded: s.bytes_discarded,
            seed_lookups: s.seed_lookups,
        };
        // SAFETY: the caller promises `struct_size` (= n) writable bytes, and n ends on
        // one of our fields.
        unsafe { write_prefix(out, &v, n) };
        DashnetStatus::Ok
    })
}

/// Exports the address book, bans included: `*bytes` gets a new buffer of `*len` bytes,
/// to free with `dashnet_bytes_free`. Keep it between launches and give it to
/// `dashnet_address_book_import` (which also takes the older format without bans).
///
/// # Safety
/// `client` is a live handle; `bytes` and `len` are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_address_book_export(
    client: *const DashnetClient,
    bytes: *mut *mut u8,
    len: *mut usize,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promise above.
        let c = tri!(unsafe { handle(client) });
        if bytes.is_null() || len.is_null() {
            return fail(DashnetStatus::InvalidArgument, "bytes or len is NULL");
        }
        let v = c.client.export_addresses().into_boxed_slice();
        let n = v.len();
        let p = Box::into_raw(v).cast::<u8>();
        // SAFETY: both checked non-NULL above and writable per the caller.
        unsafe {
            bytes.write(p);
            len.write(n);
        }
        DashnetStatus::Ok
    })
}

/// Frees a buffer dashnet handed over (from `dashnet_address_book_export`). NULL is ignored.
///
/// # Safety
/// `bytes` is NULL or a buffer from dashnet with exactly this `len`, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_bytes_free(bytes: *mut u8, len: usize) {
    let _ = guard(|| {
        if !bytes.is_null() {
            // SAFETY: the buffer came from Box::into_raw of a boxed slice of `len` bytes.
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(bytes, len)) });
        }
        DashnetStatus::Ok
    });
}

/// Adds the addresses of an exported book; `*added` (if not NULL) gets how many were new.
/// Bytes that are not an exported book give INVALID_ARGUMENT and change nothing.
///
/// # Safety
/// `client` is a live handle; `bytes` has `len` readable bytes; `added` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_address_book_import(
    client: *const DashnetClient,
    bytes: *const u8,
    len: usize,
    added: *mut usize,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promises above.
        let c = tri!(unsafe { handle(client) });
        // SAFETY: as above.
        let b = tri!(unsafe { bytes_arg(bytes, len, "bytes") });
        match c.client.import_addresses(b) {
            Ok(n) => {
                // SAFETY: as above.
                unsafe { write_out(added, n) };
                DashnetStatus::Ok
            }
            Err(e) => from_client_error(e),
        }
    })
}

/// The network changed: every connection is checked at once with a short ping, dead
/// ones are replaced, and dialing backoff starts over. Returns at once.
///
/// # Safety
/// `client` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_network_changed(client: *const DashnetClient) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promise above.
        tri!(unsafe { handle(client) })
            .client
            .network_changed()
            .map_or_else(from_client_error, |_| DashnetStatus::Ok)
    })
}

/// The app goes to the background: stop dialing, close connections gracefully.
///
/// # Safety
/// `client` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_pause(client: *const DashnetClient) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promise above.
        tri!(unsafe { handle(client) })
            .client
            .pause()
            .map_or_else(from_client_error, |_| DashnetStatus::Ok)
    })
}

/// The app is back in the foreground: reconnect at once.
///
/// # Safety
/// `client` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_resume(client: *const DashnetClient) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promise above.
        tri!(unsafe { handle(client) })
            .client
            .resume()
            .map_or_else(from_client_error, |_| DashnetStatus::Ok)
    })
}

/// Sets the most verbose `DashnetLogLevel` passed to `on_log` (default INFO).
///
/// # Safety
/// `client` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_client_set_log_level(
    client: *const DashnetClient,
    level: u32,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promise above.
        let c = tri!(unsafe { handle(client) });
        if level > super::event::DashnetLogLevel::Debug as u32 {
            return fail(
                DashnetStatus::InvalidArgument,
                format!("unknown log level {level}"),
            );
        }
        if c.has_log {
            c.client.set_log_level(level);
        }
        DashnetStatus::Ok
    })
}

/// Poll mode (no event callback installed): waits up to `timeout_ms` for the next event.
/// On OK, `*event` gets an event the caller owns, to free with `dashnet_event_free`.
/// TIMEOUT if none came; SHUTTING_DOWN once the client is shut down and every event has
/// been taken; WRONG_MODE if callbacks are installed. It blocks only the calling thread:
/// several threads may poll at once, each with its own timeout. Call it from the app's
/// own threads.
///
/// # Safety
/// `client` is a live handle; `event` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dashnet_client_poll(
    client: *const DashnetClient,
    timeout_ms: u32,
    event: *mut *mut DashnetEvent,
) -> DashnetStatus {
    guard(|| {
        // SAFETY: the caller's promise above.
        let c = tri!(unsafe { handle(client) });
        if event.is_null() {
            return fail(DashnetStatus::InvalidArgument, "event is NULL");
        }
        if !c.poll_mode {
            return fail(
                DashnetStatus::WrongMode,
                "callbacks are installed: events go to them, not to poll",
            );
        }
        match c.client.take(
            true,
            false,
            Some(Duration::from_millis(u64::from(timeout_ms))),
        ) {
            Taken::Event(ev) => {
                let p = Box::into_raw(EventBox::new(ev)).cast::<DashnetEvent>();
                // SAFETY: checked non-NULL and writable per the caller.
                unsafe { event.write(p) };
                DashnetStatus::Ok
            }
            Taken::Closed => fail(
                DashnetStatus::ShuttingDown,
                "the client has shut down and every event has been taken",
            ),
            _ => fail(DashnetStatus::Timeout, "no event before the timeout"),
        }
    })
}
