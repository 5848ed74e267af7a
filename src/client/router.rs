//! The router task: every peer's events, in order, to the app's one queue.
//!
//! It waits while the app's queue is at its bound (and so, behind it, do the peers'
//! dispatchers and readers). A `PeerDisconnected` is never held up and never dropped:
//! before it is queued the peer's id is retired, so from the moment the app can see it
//! every call with that id says `NotFound`. When the last peer is gone and the manager
//! has ended, it closes the queue: takers get what is left, then "closed".

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use super::events::LogLevel;
use super::{ClientEvent, Control, Shared};
use crate::peer::{PeerEvent, PeerId};
use crate::wire::{Message, PeerAddr};

pub(crate) async fn run(shared: Arc<Shared>, mut from_peers: mpsc::Receiver<PeerEvent>) {
    let mut addrs: HashMap<PeerId, PeerAddr> = HashMap::new();
    let events = &shared.events;
    while let Some(ev) = from_peers.recv().await {
        match ev {
            PeerEvent::Connected { peer, info } => {
                addrs.insert(peer, info.addr);
                events.log(LogLevel::Info, || {
                    format!(
                        "peer {peer} connected: {} {} version {} height {}",
                        info.addr, info.user_agent, info.version, info.start_height
                    )
                });
                events
                    .push(ClientEvent::PeerConnected { peer, info }, None)
                    .await;
                let _ = shared.sync.forward(super::sync::Input::PeerUp);
            }
            PeerEvent::Message {
                peer,
                message,
                charge,
            } => {
                let now = shared.now().wall;
                let from = addrs.get(&peer).copied();
                let changed = match (&message, from) {
                    (Message::Addr(list), Some(from)) => {
                        let mut book = shared.book.lock();
                        let source = book.source_key(from);
                        book.add_addr(list, source, now)
                    }
                    (Message::AddrV2(list), Some(from)) => {
                        let mut book = shared.book.lock();
                        let source = book.source_key(from);
                        book.add_addrv2(list, source, now)
                    }
                    _ => 0,
                };
                events
                    .push(ClientEvent::Message { peer, message }, charge)
                    .await;
                if changed > 0 {
                    let _ = shared.control.send(Control::Wake);
                    let size = shared.book.lock().len();
                    events
                        .push(ClientEvent::AddressBookChanged { size }, None)
                        .await;
                }
            }
            PeerEvent::Headers {
                peer,
                headers,
                compressed,
                charge,
            } => {
                // A reply to the sync service goes to it, not to the app.
                let for_sync = shared.sync.claim(peer, &headers);
                let mine = shared.peers.read().get(&peer).map(|slot| {
                    // Headers it sends raise what we know of its height; they count as
                    // work it has shown (they were checked on the way in) only when they
                    // answer a request we made of it or extend what it already showed:
                    // unsolicited batches from elsewhere in the chain earn nothing.
                    slot.height.fetch_max(
                        slot.height.load(Ordering::Relaxed).max(0) + headers.len() as i64,
                        Ordering::Relaxed,
                    );
                    let solicited = headers
                        .first()
                        .is_some_and(|h| slot.asked.lock().contains(&h.header().prev_blockhash));
                    let mut work = slot.work.lock();
                    work.add(&headers, solicited);
                    if !headers.is_empty() {
                        slot.stalled.store(false, Ordering::Relaxed);
                    }
                    work.work
                });
                {
                    // The header request it was asked is answered. An empty reply is an
                    // answer only if no other peer has shown more work: "nothing after
                    // your locator" from a peer behind another is a stall.
                    let behind = headers.is_empty()
                        && mine.is_some_and(|w| {
                            shared
                                .peers
                                .read()
                                .iter()
                                .any(|(id, s)| *id != peer && s.work.lock().work > w)
                        });
                    // A batch answers it when it starts from the request's locator (a block
                    // announcement from elsewhere does not).
                    let mut pending = shared.pending_headers.lock();
                    let answers = pending.as_ref().is_some_and(|p| {
                        p.peer == peer
                            && match headers.first() {
                                None => !behind,
                                Some(h) => p.locator.contains(&h.header().prev_blockhash),
                            }
                    });
                    if answers {
                        *pending = None;
                    }
                }
                events.log(LogLevel::Debug, || {
                    format!("{} headers from peer {peer}", headers.len())
                });
                let (headers, charge) = match for_sync {
                    Some(seg) => {
                        let input = super::sync::Input::Batch {
                            peer,
                            seg,
                            headers,
                            charge,
                        };
                        match shared.sync.forward(input) {
                            Ok(()) => continue,
                            Err(super::sync::Input::Batch {
                                headers, charge, ..
                            }) => (headers, charge),
                            Err(_) => continue,
                        }
                    }
                    None => (headers, charge),
                };
                let ev = ClientEvent::Headers {
                    peer,
                    headers,
                    compressed,
                };
                events.push(ev, charge).await;
            }
            PeerEvent::QueueReady { peer } => {
                events.push(ClientEvent::QueueReady { peer }, None).await;
            }
            PeerEvent::Disconnected {
                peer,
                reason,
                undelivered,
                stats,
            } => {
                // Retire the id first: once the app sees this event, the id is unknown.
                let slot = shared.peers.write().remove(&peer);
                shared.sync.peer_gone(peer);
                {
                    let mut best = shared.best.lock();
                    if *best == Some(peer) {
                        *best = None;
                    }
                }
                let addr = addrs
                    .remove(&peer)
                    .or(slot.as_ref().map(|s| s.addr))
                    .unwrap_or_else(|| PeerAddr::Ip(([0, 0, 0, 0], 0).into()));
                let _ = shared.control.send(Control::Gone {
                    peer,
                    addr,
                    reason: reason.clone(),
                });
                if shared.shutting_down.load(Ordering::Acquire) {
                    shared.peers_closed.fetch_add(1, Ordering::Relaxed);
                    if !undelivered.is_empty() {
                        shared.report.lock().push((peer, undelivered.clone()));
                    }
                }
                let level = if crate::client::manager::misbehaviour_points(&reason) > 0 {
                    LogLevel::Warn
                } else {
                    LogLevel::Info
                };
                events.log(level, || {
                    format!(
                        "peer {peer} disconnected ({addr}): {reason}; {} undelivered",
                        undelivered.len()
                    )
                });
                let ev = ClientEvent::PeerDisconnected {
                    peer,
                    addr,
                    reason,
                    undelivered,
                    stats,
                };
                events.push(ev, None).await;
            }
        }
    }
    // Every sender is gone: the manager has ended and so has every peer.
    events.close();
}
