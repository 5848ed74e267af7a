//! The dispatcher task: decodes inbound messages in arrival order and emits events.
//!
//! headers and headers2 are hashed and checked on tokio's blocking pool, so a long
//! decompression occupies neither the reader (which keeps reading pongs) nor the
//! writer (which keeps sending), under either runtime flavour. It emits the peer's
//! last event, `Disconnected`, after every message event.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Shared;
use super::budget::{Charge, InboundBudget};
use super::event::{DisconnectReason, PeerEvent};
use crate::wire::network::HEADERS2_8000_VERSION;
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
        let next = tokio::select! {
            biased;
            _ = closing.wait_for(|c| *c) => None,
            // The app's sends fit again: say so, in order with this peer's events.
            _ = shared.queue.ready.notified() => {
                first = Some(PeerEvent::QueueReady { peer });
                continue;
            }
            m = from_reader.recv() => m,
        };
        let Some((raw, charge)) = next else { break };
        let event = match decode(&shared, raw, charge).await {
            Ok(Some(event)) => event,
            Ok(None) => continue,
            Err(reason) => {
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

async fn decode(
    shared: &Arc<Shared>,
    raw: RawMessage,
    charge: Charge,
) -> Result<Option<PeerEvent>, DisconnectReason> {
    let peer = shared.id;
    let cmd = raw.command.as_str();
    if cmd == "headers" || cmd == "headers2" {
        let compressed = cmd == "headers2";
        let limit = if compressed && shared.info.negotiated_version >= HEADERS2_8000_VERSION {
            8000
        } else {
            2000
        };
        let pow_limit = shared.config.network.pow_limit_bits();
        let big = raw.payload.len() > INLINE_DECODE_MAX;
        let work = move || decode_headers(&raw, limit, pow_limit);
        let result = if big {
            tokio::task::spawn_blocking(work)
                .await
                .map_err(|_| DisconnectReason::Shutdown)?
        } else {
            work()
        };
        let headers = result?;
        return Ok(Some(PeerEvent::Headers {
            peer,
            headers,
            compressed,
            charge: Some(charge),
        }));
    }
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
