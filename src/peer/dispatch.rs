//! The dispatcher task: decodes inbound messages and emits their events in arrival
//! order.
//!
//! headers and headers2 are hashed and checked on tokio's blocking pool, so a long
//! decompression occupies neither the reader (which keeps reading pongs) nor the
//! writer (which keeps sending), under either runtime flavour. Up to `decode_threads`
//! of a peer's header messages are decoded at once (each message is independent: a
//! headers2 message starts with a whole header), within the client-wide decode pool,
//! and their events are released strictly in wire order. It emits the peer's last
//! event, `Disconnected`, after every message event.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Shared;
use super::budget::{Charge, InboundBudget};
use super::config::DecodePool;
use super::event::{DisconnectReason, PeerEvent};
use crate::wire::network::headers_per_message;
use crate::wire::{HashedHeader, Message, RawMessage, header};

/// Payloads larger than this are decoded on the blocking pool.
const INLINE_DECODE_MAX: usize = 16 * 1024;

pub(crate) async fn run(
    shared: Arc<Shared>,
    mut from_reader: mpsc::UnboundedReceiver<(RawMessage, Charge)>,
    budget: InboundBudget,
    events: mpsc::Sender<PeerEvent>,
    reader: JoinHandle<tokio::net::tcp::OwnedReadHalf>,
    writer: JoinHandle<Vec<crate::peer::OutboundMessage>>,
) {
    let peer = shared.id;
    let mut closing = shared.closing();
    let connected = PeerEvent::Connected {
        peer,
        info: Box::new(shared.info.clone()),
    };
    // An event to send before taking the next message (Connected, then QueueReady).
    let mut first = Some(connected);
    // Messages taken from the reader whose events are not out yet, in wire order.
    let mut pending: VecDeque<Slot> = VecDeque::new();
    let depth = shared.config.decode_threads.max(1);
    let pool = shared.config.decode_pool.clone();
    loop {
        if let Some(ev) = first.take() {
            let sent = tokio::select! {
                biased;
                r = events.send(ev) => r.is_ok(),
                _ = closing.wait_for(|c| *c) => false,
            };
            if !sent {
                break;
            }
        }
        let room = pending.len() < depth;
        let next = tokio::select! {
            biased;
            _ = closing.wait_for(|c| *c) => Next::Closing,
            // The app's sends fit again: say so, in order with this peer's events.
            _ = shared.queue.ready.notified() => Next::QueueReady,
            r = front(&mut pending, peer), if !pending.is_empty() => Next::Decoded(r),
            m = from_reader.recv(), if room => Next::Taken(m),
        };
        let event = match next {
            Next::Closing => break,
            Next::QueueReady => {
                first = Some(PeerEvent::QueueReady { peer });
                continue;
            }
            Next::Taken(None) => break,
            Next::Taken(Some((raw, charge))) => {
                pending.push_back(start(&shared, pool.as_ref(), raw, charge));
                continue;
            }
            Next::Decoded(Ok(Some(event))) => event,
            Next::Decoded(Ok(None)) => continue,
            Next::Decoded(Err(reason)) => {
                shared.close(reason);
                break;
            }
        };
        // Inbound backpressure: this waits while the owner's queue is full; the event's
        // charge goes with it and holds the byte budgets until the app takes it.
        let sent = tokio::select! {
            biased;
            r = events.send(event) => r.is_ok(),
            _ = closing.wait_for(|c| *c) => false,
        };
        if !sent {
            break;
        }
    }
    // Decodes not yet done are aborted (one already on the blocking pool runs to its
    // end there, unseen); their results and charges are dropped.
    for slot in &pending {
        if let Slot::Headers { task, .. } = slot {
            task.abort();
        }
    }
    drop(pending);
    // Stop the reader (if it is still running) and release anything it was waiting on.
    shared.close(DisconnectReason::Shutdown);
    from_reader.close();
    budget.close();
    // Both other tasks have ended before the last event goes out.
    let undelivered = writer.await.unwrap_or_default();
    let read_half = reader.await.ok();
    let reason = shared.reason().unwrap_or(DisconnectReason::Shutdown);
    if reason.is_graceful()
        && undelivered.is_empty()
        && let Some(mut socket) = read_half
    {
        // Everything was written and our side shut down: read until the peer closes
        // too, so that closing does not reset data it has not read yet.
        super::reader::linger(&mut socket).await;
    }
    let stats = shared
        .counters
        .snapshot(shared.queue.counts.depth(), shared.connected_unix_us);
    let _ = events
        .send(PeerEvent::Disconnected {
            peer,
            reason,
            undelivered,
            stats,
        })
        .await;
    shared.mark_finished();
}

/// What the dispatcher does next.
enum Next {
    Closing,
    QueueReady,
    Decoded(Result<Option<PeerEvent>, DisconnectReason>),
    Taken(Option<(RawMessage, Charge)>),
}

type HeadersResult = Result<Vec<HashedHeader>, DisconnectReason>;

/// A message between the reader and its event.
enum Slot {
    /// Decoded already (small or not headers).
    Ready(Result<Option<PeerEvent>, DisconnectReason>),
    /// A header message being decoded on the blocking pool.
    Headers {
        task: JoinHandle<HeadersResult>,
        compressed: bool,
        charge: Charge,
    },
}

/// Waits for the oldest message's decode and takes it off the queue. Cancel-safe: the
/// slot is taken only once its result is in (a dropped wait leaves it, still running).
async fn front(
    pending: &mut VecDeque<Slot>,
    peer: u64,
) -> Result<Option<PeerEvent>, DisconnectReason> {
    let done = match pending.front_mut() {
        // Awaiting the handle by reference neither consumes nor cancels it.
        Some(Slot::Headers { task, .. }) => Some(task.await),
        _ => None,
    };
    // No await from here on: the slot leaves the queue together with its result.
    match (pending.pop_front(), done) {
        (Some(Slot::Ready(r)), _) => r,
        (
            Some(Slot::Headers {
                compressed, charge, ..
            }),
            Some(result),
        ) => {
            let headers = result.map_err(|_| DisconnectReason::Shutdown)??;
            Ok(Some(PeerEvent::Headers {
                peer,
                headers,
                compressed,
                charge: Some(charge),
            }))
        }
        _ => Ok(None),
    }
}

/// Starts decoding a message: header messages over `INLINE_DECODE_MAX` on the blocking
/// pool (within the client's decode pool), everything else here and now.
fn start(shared: &Arc<Shared>, pool: Option<&DecodePool>, raw: RawMessage, charge: Charge) -> Slot {
    let peer = shared.id;
    let cmd = raw.command.as_str();
    if cmd == "headers" || cmd == "headers2" {
        let compressed = cmd == "headers2";
        let limit = headers_per_message(compressed, shared.info.negotiated_version);
        let pow_limit = shared.config.network.pow_limit_bits();
        if raw.payload.len() > INLINE_DECODE_MAX {
            let pool = pool.cloned();
            let task = tokio::spawn(async move {
                let _slot = match &pool {
                    Some(p) => p.acquire().await,
                    None => None,
                };
                tokio::task::spawn_blocking(move || decode_headers(&raw, limit, pow_limit))
                    .await
                    .map_err(|_| DisconnectReason::Shutdown)?
            });
            return Slot::Headers {
                task,
                compressed,
                charge,
            };
        }
        return Slot::Ready(decode_headers(&raw, limit, pow_limit).map(|headers| {
            Some(PeerEvent::Headers {
                peer,
                headers,
                compressed,
                charge: Some(charge),
            })
        }));
    }
    Slot::Ready(decode_other(peer, raw, charge))
}

/// Any message but headers and headers2.
fn decode_other(
    peer: u64,
    raw: RawMessage,
    charge: Charge,
) -> Result<Option<PeerEvent>, DisconnectReason> {
    let cmd = raw.command.as_str();
    match Message::from_raw(&raw) {
        Ok(Message::Verack | Message::Version(_) | Message::SendAddrV2) => Ok(None),
        Ok(message) => Ok(Some(PeerEvent::Message {
            peer,
            message,
            charge: Some(charge),
        })),
        // The library acts on addresses itself: a malformed one is misbehaviour.
        Err(e) if cmd == "addr" || cmd == "addrv2" => {
            Err(DisconnectReason::Protocol(format!("{}: {e}", raw.command)))
        }
        // Anything else is the app's to judge (an optional message, or one a newer node
        // encodes differently): it passes through as raw bytes under its own command,
        // and the peer is neither dropped nor scored.
        Err(_) => Ok(Some(PeerEvent::Message {
            peer,
            message: Message::Unknown {
                command: raw.command,
                payload: raw.payload,
            },
            charge: Some(charge),
        })),
    }
}

/// Decodes headers or headers2, hashes them, and checks proof of work and linkage.
fn decode_headers(
    raw: &RawMessage,
    limit: usize,
    pow_limit: u32,
) -> Result<Vec<HashedHeader>, DisconnectReason> {
    let headers = match Message::from_raw(raw) {
        Ok(Message::Headers(list)) => list.into_iter().map(HashedHeader::new).collect(),
        Ok(Message::Headers2(list)) => list,
        Ok(other) => {
            return Err(DisconnectReason::Protocol(format!(
                "{} decoded as {}",
                raw.command,
                other.command()
            )));
        }
        Err(e) => return Err(DisconnectReason::Protocol(format!("{}: {e}", raw.command))),
    };
    if headers.len() > limit {
        return Err(DisconnectReason::InvalidHeaders(format!(
            "{} carries {} headers, more than the {limit} allowed",
            raw.command,
            headers.len()
        )));
    }
    header::validate_headers(&headers, None, pow_limit)
        .map_err(|e| DisconnectReason::InvalidHeaders(format!("{}: {e}", raw.command)))?;
    Ok(headers)
}
