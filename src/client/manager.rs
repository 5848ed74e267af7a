//! The manager task: dialing, backoff, bans, DNS seeds and the mobile lifecycle.

use crate::wire::PeerAddr;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::book::NetGroup;
use super::events::LogLevel;
use super::{ClientEvent, Control, FailStage, PeerSlot, Shared};
use crate::peer::{ConnectError, DisconnectReason, PeerEvent, PeerId, PendingPeer};

/// Misbehaviour points per disconnect reason (the ban threshold is 100 by default).
pub(crate) fn misbehaviour_points(reason: &DisconnectReason) -> u32 {
    match reason {
        DisconnectReason::InvalidHeaders(_) => 100,
        DisconnectReason::Protocol(_) => 60,
        _ => 0,
    }
}

struct Manager {
    shared: Arc<Shared>,
    peer_events: mpsc::Sender<PeerEvent>,
    fixed: Vec<PeerAddr>,
    dialing: HashSet<PeerAddr>,
    connected: HashMap<PeerAddr, PeerId>,
    /// Peers whose end arrived before their dial result.
    gone_early: HashSet<PeerId>,
    shutdown: bool,
    clock: (Instant, SystemTime),
    /// Dial and DNS tasks: reaped as they finish, awaited at shutdown.
    tasks: JoinSet<()>,
    /// When seeds were last looked up.
    last_reseed: Option<Instant>,
    /// Nothing connected, nothing being dialed, nothing due: the book ran dry.
    dry: bool,
}

pub(crate) async fn run(
    shared: Arc<Shared>,
    mut control: mpsc::UnboundedReceiver<Control>,
    peer_events: mpsc::Sender<PeerEvent>,
) {
    let mut m = Manager {
        fixed: shared
            .config
            .fixed_peers
            .iter()
            .map(|a| PeerAddr::Ip(*a))
            .collect(),
        shared,
        peer_events,
        dialing: HashSet::new(),
        connected: HashMap::new(),
        gone_early: HashSet::new(),
        shutdown: false,
        clock: (Instant::now(), SystemTime::now()),
        tasks: JoinSet::new(),
        last_reseed: None,
        dry: false,
    };
    m.reseed("start");
    loop {
        while m.tasks.try_join_next().is_some() {}
        m.check_clock();
        if m.shutdown {
            if m.shared.peers.read().is_empty() {
                break;
            }
        } else {
            m.dial();
        }
        // Sleep until the next dial is due, or the client's own keepalive tick (which also
        // notices a suspended process by its wall-clock jump). No polling.
        let tick = m.shared.peer_config.ping_interval;
        let mut wait = m.next_due().map_or(tick, |at| {
            Duration::try_from_secs_f64((at - m.shared.now().mono).max(0.0) + 0.001)
                .map_or(tick, |d| d.min(tick))
        });
        if m.dry {
            // Wake when another reseed is allowed.
            wait = wait.min(m.until_reseed() + Duration::from_millis(1));
        }
        tokio::select! {
            c = control.recv() => match c {
                Some(c) => m.handle(c),
                None => break,
            },
            _ = tokio::time::sleep(wait) => {}
        }
    }
    m.tasks.abort_all();
    while m.tasks.join_next().await.is_some() {}
}

impl Manager {
    fn handle(&mut self, c: Control) {
        match c {
            Control::Dialed { addr, id, result } => self.dialed(addr, id, result),
            Control::Gone { peer, addr, reason } => self.gone(peer, addr, reason),
            Control::AddFixed(addr) => {
                if !self.fixed.contains(&addr) {
                    self.fixed.push(addr);
                }
                let now = self.shared.now();
                let mut book = self.shared.book.lock();
                book.add(addr, 0, now.wall, None, now.wall);
                book.dial_succeeded(addr, now); // due at once
            }
            Control::Forget(addr) => self.fixed.retain(|a| *a != addr),
            Control::Wake => {}
            Control::Seeds(addrs) => {
                let now = self.shared.now().wall;
                let mut book = self.shared.book.lock();
                for a in addrs {
                    book.add(a, 0, now, None, now);
                }
            }
            Control::NetworkChanged => self.network_changed(),
            Control::Pause => {
                for slot in self.shared.peers.read().values() {
                    slot.peer.close(DisconnectReason::Requested);
                }
            }
            Control::Resume => {
                self.shared.book.lock().reset_backoff();
                self.reseed("resume");
            }
            Control::Shutdown => {
                self.shutdown = true;
                // Dials and handshakes in flight hold no app data: abandon them now. A
                // dial that already published its peer has started it; it is closed below
                // with the others.
                self.tasks.abort_all();
                let abandoned = self.dialing.len();
                self.dialing.clear();
                self.shared.dialing.store(0, Ordering::Relaxed);
                if abandoned > 0 {
                    self.shared.events.log(LogLevel::Info, || {
                        format!("shutdown: {abandoned} dials abandoned")
                    });
                }
                for slot in self.shared.peers.read().values() {
                    slot.peer.close(DisconnectReason::Shutdown);
                }
            }
        }
    }

    fn network_changed(&mut self) {
        let within = self.shared.config.probe_timeout;
        for slot in self.shared.peers.read().values() {
            slot.peer.check_alive(within);
        }
        self.shared.book.lock().reset_backoff();
        self.reseed("network changed");
    }

    /// A wall-clock jump much larger than the monotonic clock's means the OS suspended
    /// the app: treat it as a network change.
    fn check_clock(&mut self) {
        let (mono, wall) = (Instant::now(), self.shared.wall_time());
        let dm = mono.duration_since(self.clock.0);
        let dw = wall.duration_since(self.clock.1).unwrap_or_default();
        self.clock = (mono, wall);
        if dw > dm + self.shared.config.suspend_threshold {
            self.network_changed();
        }
    }

    fn busy(&self, a: &PeerAddr) -> bool {
        self.dialing.contains(a) || self.connected.contains_key(a)
    }

    fn next_due(&self) -> Option<f64> {
        if self.shared.paused.load(Ordering::Acquire) {
            return None;
        }
        let fixed_only = self.shared.config.exclusive;
        let cfg = &self.shared.config;
        let skip = |a: &PeerAddr| {
            self.busy(a) || (fixed_only && !self.fixed.contains(a)) || !cfg.reachable(a)
        };
        self.shared
            .book
            .lock()
            .next_due(self.shared.now().mono, &skip)
    }

    fn dial(&mut self) {
        if self.shared.paused.load(Ordering::Acquire) {
            return;
        }
        let cfg = &self.shared.config;
        let now = self.shared.now().mono;
        self.shared.book.lock().prune(now);
        let open = self.connected.len() + self.dialing.len();
        let mut picks: Vec<PeerAddr> = Vec::new();
        {
            let book = self.shared.book.lock();
            // Fixed peers are always kept, up to the maximum.
            let room = cfg.max_outbound.saturating_sub(open);
            let fixed: Vec<PeerAddr> = self
                .fixed
                .iter()
                .filter(|a| !self.busy(a) && !book.is_banned(**a, now))
                .filter(|a| cfg.reachable(a))
                .filter(|a| book.get(*a).is_none_or(|e| e.next_attempt <= now))
                .take(room)
                .copied()
                .collect();
            picks.extend(fixed);
            if !cfg.exclusive {
                let want = cfg
                    .target_outbound
                    .min(cfg.max_outbound)
                    .saturating_sub(open + picks.len());
                if want > 0 {
                    // Outbound connections in distinct netgroups: none in a group we
                    // already have a peer (or a dial) in.
                    let in_use: HashSet<NetGroup> = self
                        .connected
                        .keys()
                        .chain(self.dialing.iter())
                        .chain(picks.iter())
                        .map(|a| book.netgroup(*a))
                        .collect();
                    let skip =
                        |a: &PeerAddr| self.busy(a) || picks.contains(a) || !cfg.reachable(a);
                    let required = self.shared.peer_config.required_services;
                    picks.extend(book.due(now, &skip, &in_use, required, want));
                }
            }
        }
        self.dry = !cfg.exclusive && picks.is_empty() && open == 0;
        if self.dry && self.until_reseed().is_zero() {
            self.reseed("the address book ran dry");
        }
        for addr in picks {
            self.start_dial(addr);
        }
    }

    /// How long until seeds may be looked up again after the book ran dry.
    fn until_reseed(&self) -> Duration {
        self.last_reseed.map_or(Duration::ZERO, |t| {
            self.shared
                .config
                .reseed_interval
                .saturating_sub(t.elapsed())
        })
    }

    fn start_dial(&mut self, addr: PeerAddr) {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        self.dialing.insert(addr);
        self.shared.dialing.fetch_add(1, Ordering::Relaxed);
        self.shared.dials.fetch_add(1, Ordering::Relaxed);
        let shared = self.shared.clone();
        let events = self.peer_events.clone();
        // Callers pick only addresses with a route; a new credential pair per dial.
        let route = self
            .shared
            .config
            .route_for(&addr)
            .unwrap_or(crate::peer::Route::Direct);
        // What the peer's own version told us decides whether v2 is tried first; gossip
        // does not (a hostile peer could gossip addresses without NODE_P2P_V2 to have
        // them dialed in the clear).
        let known_services = self
            .shared
            .book
            .lock()
            .get(addr)
            .filter(|e| e.services_known)
            .map(|e| e.services);
        self.tasks.spawn(async move {
            let config = shared.peer_config.clone();
            let result =
                match PendingPeer::connect_with(id, addr, &route, config, known_services).await {
                    Ok(pending) => {
                        // Publish the id before the peer's first event, so PeerConnected
                        // never reaches the app before its id accepts sends.
                        let peer = pending.peer();
                        let slot = Arc::new(PeerSlot::new(peer.clone(), addr));
                        shared.peers.write().insert(id, slot);
                        if shared.shutting_down.load(Ordering::Acquire) {
                            peer.close(DisconnectReason::Shutdown);
                        } else if shared.paused.load(Ordering::Acquire) {
                            peer.close(DisconnectReason::Requested);
                        }
                        pending.start(events);
                        Ok(())
                    }
                    Err(e) => {
                        let stage = match e {
                            ConnectError::Handshake(_) => FailStage::Handshake,
                            ConnectError::Proxy(_) => FailStage::Proxy,
                            _ => FailStage::Connect,
                        };
                        let reason = e.to_string();
                        shared.events.log(LogLevel::Warn, || {
                            format!("dial {addr} failed at {stage:?}: {reason}")
                        });
                        let ev = ClientEvent::PeerFailed {
                            addr,
                            stage,
                            reason,
                        };
                        shared.events.push(ev, None).await;
                        Err(e)
                    }
                };
            let _ = shared.control.send(Control::Dialed { addr, id, result });
        });
    }

    fn dialed(&mut self, addr: PeerAddr, id: PeerId, result: Result<(), ConnectError>) {
        if !self.dialing.remove(&addr) {
            // Abandoned at shutdown; its peer (if any) was closed with the others.
            return;
        }
        self.shared.dialing.fetch_sub(1, Ordering::Relaxed);
        let now = self.shared.now();
        match result {
            Ok(()) => {
                let services = self
                    .shared
                    .peers
                    .read()
                    .get(&id)
                    .map(|s| s.peer.info().services);
                let mut book = self.shared.book.lock();
                book.dial_succeeded(addr, now);
                if let Some(s) = services {
                    book.set_services(addr, s);
                }
                drop(book);
                if self.gone_early.remove(&id) {
                    return;
                }
                self.connected.insert(addr, id);
            }
            Err(e) => {
                // A failed dial is never a ban: a phone without network must keep its book.
                if let ConnectError::Handshake(reason) = &e {
                    self.punish(addr, reason, now.mono);
                    if let DisconnectReason::MissingServices { have, .. } = reason {
                        // Replaced, not banned: the book remembers what it serves, so
                        // it is not picked again while the services are required.
                        self.shared.book.lock().set_services(addr, *have);
                    }
                }
                self.shared.book.lock().dial_failed(addr, now.mono);
            }
        }
    }

    fn punish(&self, addr: PeerAddr, reason: &DisconnectReason, now: f64) {
        let points = misbehaviour_points(reason);
        if points > 0 {
            self.shared.events.log(LogLevel::Warn, || {
                format!("{addr} misbehaved ({points} points): {reason}")
            });
            self.shared.book.lock().misbehaved(addr, points, now);
        }
    }

    fn gone(&mut self, peer: PeerId, addr: PeerAddr, reason: DisconnectReason) {
        // The router has already retired the id.
        if self.connected.get(&addr) == Some(&peer) {
            self.connected.remove(&addr);
        } else {
            self.gone_early.insert(peer);
        }
        let now = self.shared.now().mono;
        self.punish(addr, &reason, now);
        self.shared.book.lock().connection_ended(addr, now);
    }

    /// Finds peers to dial: the fixed seeds when the book is empty or DNS is off, and the
    /// DNS seeds (the fixed ones again if DNS finds nothing). At start, on
    /// `network_changed`, on `resume`, and when the book runs dry (at most every
    /// `reseed_interval`), so a wallet started offline finds peers once it is online.
    fn reseed(&mut self, why: &str) {
        let cfg = &self.shared.config;
        if cfg.exclusive {
            return;
        }
        self.last_reseed = Some(Instant::now());
        // With a proxy, no DNS: the system resolver would tell the network which seeds
        // we asked for, outside the proxy. The built-in seed nodes stand in.
        let proxied = cfg.proxy.is_some() || cfg.onion_only;
        let dns = cfg.dns_seeds && !cfg.seed_hosts.is_empty() && !proxied;
        let book_empty = self.shared.book.lock().is_empty();
        let fixed = cfg.fixed_seeds.clone();
        if (!dns || book_empty) && !fixed.is_empty() {
            let _ = self.shared.control.send(Control::Seeds(fixed.clone()));
        }
        if !dns {
            return;
        }
        self.shared.seed_lookups.fetch_add(1, Ordering::Relaxed);
        self.shared
            .events
            .log(LogLevel::Info, || format!("looking up DNS seeds ({why})"));
        let port = cfg.peer.network.default_port();
        let hosts = cfg.seed_hosts.clone();
        let timeout = cfg.dns_timeout;
        let control = self.shared.control.clone();
        // Lookups run on tokio's blocking pool, never on an app thread.
        self.tasks.spawn(async move {
            let mut found = Vec::new();
            for host in hosts {
                let target = if host.contains(':') {
                    host
                } else {
                    format!("{host}:{port}")
                };
                if let Ok(Ok(addrs)) =
                    tokio::time::timeout(timeout, tokio::net::lookup_host(target)).await
                {
                    found.extend(addrs);
                }
            }
            let _ = control.send(Control::Seeds(if found.is_empty() { fixed } else { found }));
        });
    }
}
