//! The router task: every peer's events, in order, to the app's one queue.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{ClientEvent, Control, Shared, unix_now};
use crate::peer::{PeerEvent, PeerId};
use crate::wire::Message;

pub(crate) async fn run(
    shared: Arc<Shared>,
    mut from_peers: mpsc::Receiver<PeerEvent>,
    to_app: mpsc::Sender<ClientEvent>,
) {
    let mut addrs: HashMap<PeerId, SocketAddr> = HashMap::new();
    while let Some(ev) = from_peers.recv().await {
        let mut extra = None;
        let out = match ev {
            PeerEvent::Connected { peer, info } => {
                addrs.insert(peer, info.addr);
                ClientEvent::PeerConnected { peer, info }
            }
            PeerEvent::Message { peer, message } => {
                let now = unix_now() as u64;
                let changed = match &message {
                    Message::Addr(list) => shared.book.lock().add_addr(list, peer, now),
                    Message::AddrV2(list) => shared.book.lock().add_addrv2(list, peer, now),
                    _ => 0,
                };
                if changed > 0 {
                    let _ = shared.control.send(Control::Wake);
                    extra = Some(ClientEvent::AddressBookChanged {
                        size: shared.book.lock().len(),
                    });
                }
                ClientEvent::Message { peer, message }
            }
            PeerEvent::Headers {
                peer,
                headers,
                compressed,
            } => {
                if let Some(slot) = shared.peers.read().get(&peer) {
                    // Headers it sends raise what we know of its height.
                    slot.height.fetch_max(
                        slot.height.load(Ordering::Relaxed).max(0) + headers.len() as i64,
                        Ordering::Relaxed,
                    );
                }
                ClientEvent::Headers {
                    peer,
                    headers,
                    compressed,
                }
            }
            PeerEvent::Disconnected {
                peer,
                reason,
                undelivered,
                stats,
            } => {
                let _ = shared.control.send(Control::Gone {
                    peer,
                    reason: reason.clone(),
                });
                if shared.shutting_down.load(Ordering::Acquire) && !undelivered.is_empty() {
                    shared.report.lock().push((peer, undelivered.clone()));
                }
                ClientEvent::PeerDisconnected {
                    peer,
                    addr: addrs
                        .remove(&peer)
                        .unwrap_or_else(|| ([0, 0, 0, 0], 0).into()),
                    reason,
                    undelivered,
                    stats,
                }
            }
        };
        for ev in [Some(out), extra].into_iter().flatten() {
            if shared.shutting_down.load(Ordering::Acquire) {
                // The app may have stopped taking events: never wait on it for long.
                let _ = tokio::time::timeout(Duration::from_millis(100), to_app.send(ev)).await;
            } else if to_app.send(ev).await.is_err() {
                return;
            }
        }
    }
}
