//! The header sync service: from the app's tip to the best peers' tip, on every core.
//!
//! The chain from the app's tip up is cut into **segments** at checkpoints (the
//! network's built-in ones and any the app adds): each segment runs from one known hash
//! to the next checkpoint's hash, and the last one, the **tail**, from the last
//! checkpoint to wherever the peers' chain ends. Segments do not depend on each other, so
//! several are asked for at once, of different peers or pipelined on one (a peer answers
//! in order), and their headers2 messages decode in parallel in the peers' dispatchers
//! (`decode_threads`). Within a segment, requests follow each other (each one starts
//! after the last header received).
//!
//! Delivery is in chain order: the first unfinished segment (the **front**) streams to
//! the app as its batches arrive; later segments wait in memory, charged to the client's
//! inbound budget, and are asked for only while what they hold and what is in flight for
//! them stays under half of it (the front always may ask, so the sync never waits on
//! itself). A segment is **checked** when it reaches its checkpoint: the header at the
//! checkpoint's height must have the checkpoint's hash. One that does not link is thrown
//! away and asked again of another peer; the peer that sent it is disconnected as
//! `InvalidHeaders` (scored: banned at the default threshold). If that segment was the
//! front, the app already had part of it: its headers come again from the segment's start
//! with a lower `first_height` (the app drops what it has from there up). A peer that
//! leaves a request unanswered for `header_stall_timeout` (while the app keeps up), or
//! answers a segment with nothing before its checkpoint, loses its segments to other
//! peers, is not asked again in this sync, and is scored ([`STALL_POINTS`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::events::LogLevel;
use super::{ClientEvent, Shared};
use crate::peer::{Charge, DisconnectReason, PeerId};
use crate::wire::network::HEADERS2_8000_VERSION;
use crate::wire::{Hash256, HashedHeader};

/// Misbehaviour points for a peer that stalls a sync request or answers a segment with
/// nothing before its checkpoint (the ban threshold is 100 by default).
pub const STALL_POINTS: u32 = 20;

/// Progress of a running sync.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyncProgress {
    /// The height of the last header delivered.
    pub height: u32,
    /// The best height the peers claim (at least `height`).
    pub target: u32,
    /// Headers delivered per second since the sync started.
    pub headers_per_sec: f64,
    /// Peers serving the sync now.
    pub peers: u32,
    /// Requests in flight.
    pub in_flight: u32,
}

/// How a sync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStatus {
    /// Every header up to the peers' tip was delivered.
    Complete,
    /// The peers' chain leaves the app's below its tip: it continues after `after` (an
    /// entry of the app's locator). Nothing was delivered; rewind to `after` and sync again.
    Fork {
        /// The locator entry the peers' chain continues from.
        after: Hash256,
    },
    /// The app cancelled it.
    Cancelled,
    /// The client shut down.
    ShuttingDown,
}

/// A finished sync.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyncSummary {
    /// How it ended.
    pub status: SyncStatus,
    /// The height of the last header delivered (the app's tip height if none were).
    pub height: u32,
    /// Its hash (the app's tip if none were delivered).
    pub tip: Hash256,
    /// Headers delivered (counting again those delivered again after a segment failed).
    pub headers: u64,
    /// How long it ran.
    pub elapsed: Duration,
    /// Segments thrown away because they did not link at their checkpoint.
    pub segments_failed: u32,
    /// Peers that stalled or answered short, and lost their segments.
    pub peers_stalled: u32,
    /// The most requests that were in flight at once.
    pub max_in_flight: u32,
}

/// What the router and the client hand the sync task.
pub(crate) enum Input {
    /// A reply to one of the sync's requests.
    Batch {
        peer: PeerId,
        seg: usize,
        headers: Vec<HashedHeader>,
        charge: Option<Charge>,
    },
    /// A peer connected: there may be someone new to ask.
    PeerUp,
    /// A peer is gone: its segments need someone else.
    PeerGone(PeerId),
    Cancel,
    Shutdown,
}

struct Request {
    seg: usize,
    /// A reply answers it when its first header follows one of these.
    prevs: Vec<Hash256>,
}

#[derive(Default)]
struct Registry {
    tx: Option<mpsc::UnboundedSender<Input>>,
    /// Per peer, the sync's requests in the order sent (a peer answers in order).
    requests: HashMap<PeerId, VecDeque<Request>>,
}

/// The sync's state the router and the client see.
pub(crate) struct SyncShared {
    registry: Mutex<Registry>,
    /// Checkpoints (height, hash), ordered by height: the network's and the app's.
    pub checkpoints: Mutex<Vec<(u32, Hash256)>>,
    /// The running sync's task, awaited at shutdown.
    pub task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl SyncShared {
    pub fn new(checkpoints: Vec<(u32, Hash256)>) -> SyncShared {
        SyncShared {
            registry: Mutex::new(Registry::default()),
            checkpoints: Mutex::new(checkpoints),
            task: Mutex::new(None),
        }
    }

    /// True while a sync runs.
    pub fn active(&self) -> bool {
        self.registry.lock().tx.is_some()
    }

    /// If `headers` from `peer` answer one of the sync's requests, takes the request and
    /// returns its segment.
    pub fn claim(&self, peer: PeerId, headers: &[HashedHeader]) -> Option<usize> {
        let mut r = self.registry.lock();
        r.tx.as_ref()?;
        let q = r.requests.get_mut(&peer)?;
        let pos = match headers.first() {
            // An empty reply answers the oldest request.
            None => (!q.is_empty()).then_some(0)?,
            Some(h) => {
                let prev = h.header().prev_blockhash;
                q.iter().position(|req| req.prevs.contains(&prev))?
            }
        };
        q.remove(pos).map(|req| req.seg)
    }

    /// Hands `input` to the running sync; gives it back if none runs.
    pub fn forward(&self, input: Input) -> Result<(), Input> {
        match &self.registry.lock().tx {
            Some(tx) => tx.send(input).map_err(|e| e.0),
            None => Err(input),
        }
    }

    /// A peer is gone: its requests are void.
    pub fn peer_gone(&self, peer: PeerId) {
        let mut r = self.registry.lock();
        r.requests.remove(&peer);
        if let Some(tx) = &r.tx {
            let _ = tx.send(Input::PeerGone(peer));
        }
    }

    fn register(&self, peer: PeerId, seg: usize, prevs: Vec<Hash256>) {
        let mut r = self.registry.lock();
        r.requests
            .entry(peer)
            .or_default()
            .push_back(Request { seg, prevs });
    }

    fn unregister_last(&self, peer: PeerId) {
        if let Some(q) = self.registry.lock().requests.get_mut(&peer) {
            q.pop_back();
        }
    }

    fn forget_peer(&self, peer: PeerId) {
        self.registry.lock().requests.remove(&peer);
    }

    /// Starts a sync: `Err` if one runs.
    pub fn start(&self) -> Result<mpsc::UnboundedReceiver<Input>, ()> {
        let mut r = self.registry.lock();
        if r.tx.is_some() {
            return Err(());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        r.tx = Some(tx);
        r.requests.clear();
        Ok(rx)
    }

    fn stop(&self) {
        let mut r = self.registry.lock();
        r.tx = None;
        r.requests.clear();
    }
}

/// One stretch of chain between two known hashes (or after the last one).
struct Segment {
    /// The known hash it starts after, and its height.
    start: (u32, Hash256),
    /// The last header received (or `start`).
    cursor: (u32, Hash256),
    /// The checkpoint it ends at; `None` for the tail.
    end: Option<(u32, Hash256)>,
    /// The peer its request is with.
    peer: Option<PeerId>,
    /// Batches waiting for delivery: (height of the first, headers, charge).
    ready: VecDeque<(u32, Vec<HashedHeader>, Option<Charge>)>,
    ready_bytes: usize,
    /// Reached its checkpoint (the tail: the peers have nothing more).
    complete: bool,
    /// Tail only: peers that answered short at the current cursor.
    tail_asked: HashSet<PeerId>,
}

impl Segment {
    fn new(start: (u32, Hash256), end: Option<(u32, Hash256)>) -> Segment {
        Segment {
            start,
            cursor: start,
            end,
            peer: None,
            ready: VecDeque::new(),
            ready_bytes: 0,
            complete: false,
            tail_asked: HashSet::new(),
        }
    }
}

/// Cuts the chain above the app's tip at the checkpoints above it.
pub(crate) fn plan(tip: (u32, Hash256), checkpoints: &[(u32, Hash256)]) -> Vec<(u32, Hash256)> {
    let mut ends: Vec<(u32, Hash256)> = checkpoints
        .iter()
        .copied()
        .filter(|(h, _)| *h > tip.0)
        .collect();
    ends.sort_by_key(|(h, _)| *h);
    ends.dedup_by_key(|(h, _)| *h);
    ends
}

pub(crate) struct SyncTask {
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Input>,
    /// The app's tip.
    tip: (u32, Hash256),
    /// The checkpoints above the tip, until the segments are planned (when the first
    /// peer is there: only checkpoints some peer claims to have cut the chain).
    ends: Option<Vec<(u32, Hash256)>>,
    /// Checkpoints the tail runs through (above every peer's claim when planned): each
    /// is still checked as the tail passes its height.
    tail_checks: Vec<(u32, Hash256)>,
    segs: Vec<Segment>,
    front: usize,
    /// The app's locator: the first request of the first segment.
    locator: Vec<Hash256>,
    excluded: HashSet<PeerId>,
    /// Per peer with requests out: when it last answered (or was first asked).
    clock: HashMap<PeerId, Instant>,
    delivered: (u32, Hash256),
    headers: u64,
    started: Instant,
    last_progress: Option<Instant>,
    /// The height the last progress event gave.
    reported: Option<u32>,
    /// The most one reply has cost (bytes), for the lookahead bound.
    batch_cost: usize,
    per_peer: usize,
    timeout: Duration,
    segments_failed: u32,
    peers_stalled: u32,
    max_in_flight: u32,
}

impl SyncTask {
    pub(crate) fn new(
        shared: Arc<Shared>,
        rx: mpsc::UnboundedReceiver<Input>,
        locator: Vec<Hash256>,
        tip_height: u32,
        ends: Vec<(u32, Hash256)>,
    ) -> SyncTask {
        let tip = (tip_height, locator[0]);
        let per_peer = (shared.peer_config.decode_threads + 1).clamp(2, 8);
        let timeout = shared.config.header_stall_timeout;
        SyncTask {
            shared,
            rx,
            tip,
            ends: Some(ends),
            tail_checks: Vec::new(),
            segs: Vec::new(),
            front: 0,
            locator,
            excluded: HashSet::new(),
            clock: HashMap::new(),
            delivered: tip,
            headers: 0,
            started: Instant::now(),
            last_progress: None,
            reported: None,
            batch_cost: 8000 * std::mem::size_of::<HashedHeader>() * 11 / 10,
            per_peer,
            timeout,
            segments_failed: 0,
            peers_stalled: 0,
            max_in_flight: 0,
        }
    }

    pub(crate) async fn run(mut self) {
        let status = loop {
            // Delivery first: it may move the front, which may then ask.
            if let Some(status) = self.deliver().await {
                break status;
            }
            self.schedule();
            let deadline = self.next_deadline();
            let input = tokio::select! {
                input = self.rx.recv() => input,
                _ = sleep_until(deadline) => {
                    self.check_stalls();
                    continue;
                }
            };
            match input {
                None | Some(Input::Shutdown) => break SyncStatus::ShuttingDown,
                Some(Input::Cancel) => break SyncStatus::Cancelled,
                Some(Input::PeerUp) => {}
                Some(Input::PeerGone(peer)) => self.release(peer),
                Some(Input::Batch {
                    peer,
                    seg,
                    headers,
                    charge,
                }) => {
                    if let Some(status) = self.batch(peer, seg, headers, charge) {
                        break status;
                    }
                }
            }
        };
        self.finish(status).await;
    }

    fn log(&self, level: LogLevel, text: impl FnOnce() -> String) {
        self.shared.events.log(level, text);
    }

    /// Most headers one reply of `peer` carries.
    fn limit(&self, peer: PeerId) -> u32 {
        let peers = self.shared.peers.read();
        match peers.get(&peer) {
            Some(s) if s.peer.info().headers2 && negotiated(s) >= HEADERS2_8000_VERSION => 8000,
            _ => 2000,
        }
    }

    /// Peers that may serve the sync: (id, claimed height, requests out).
    fn candidates(&self) -> Vec<(PeerId, u32, usize)> {
        let peers = self.shared.peers.read();
        let mut v: Vec<_> = peers
            .iter()
            .filter(|(id, s)| s.peer.is_connected() && !self.excluded.contains(id))
            .map(|(id, s)| {
                let out = self.segs.iter().filter(|g| g.peer == Some(*id)).count();
                (*id, s.peer.info().start_height.max(0) as u32, out)
            })
            .collect();
        v.sort_by_key(|(id, _, _)| *id);
        v
    }

    /// Sends requests for every segment that can have one.
    fn schedule(&mut self) {
        if self.shared.shutting_down.load(Ordering::Acquire) {
            return;
        }
        let mut peers = self.candidates();
        if peers.is_empty() && !self.excluded.is_empty() {
            // Every peer left has stalled once (perhaps only slow): rather than wait for
            // a new one, they get another chance.
            self.log(LogLevel::Warn, || {
                "sync: every peer has stalled; asking them again".to_string()
            });
            self.excluded.clear();
            peers = self.candidates();
        }
        if peers.is_empty() {
            return;
        }
        if let Some(ends) = self.ends.take() {
            // Cut at the checkpoints some peer claims to have; the tail checks the rest.
            let claim = peers.iter().map(|p| p.1).max().unwrap_or(0);
            let mut start = self.tip;
            for end in ends {
                if end.0 <= claim {
                    self.segs.push(Segment::new(start, Some(end)));
                    start = end;
                } else {
                    self.tail_checks.push(end);
                }
            }
            self.segs.push(Segment::new(start, None));
        }
        let half = self.shared.budget.size() / 2;
        let cost = self.batch_cost;
        let mut lookahead: usize = self.segs[self.front..]
            .iter()
            .skip(1)
            .map(|g| g.ready_bytes + if g.peer.is_some() { cost } else { 0 })
            .sum();
        for i in self.front..self.segs.len() {
            let seg = &self.segs[i];
            if seg.complete || seg.peer.is_some() {
                continue;
            }
            let front = i == self.front;
            if !front && lookahead + cost > half {
                break;
            }
            let need = seg.end.map_or(0, |e| e.0);
            let pick = peers
                .iter_mut()
                .filter(|(id, claimed, out)| {
                    *out < self.per_peer && *claimed >= need && !seg.tail_asked.contains(id)
                })
                .min_by_key(|(id, claimed, out)| (*out, std::cmp::Reverse(*claimed), *id));
            let Some((id, _, out)) = pick else {
                continue;
            };
            let id = *id;
            let locator = if i == 0 && seg.cursor == seg.start {
                self.locator.clone()
            } else {
                vec![seg.cursor.1]
            };
            let stop = seg.end.map_or(Hash256::ZERO, |e| e.1);
            let seg_cursor_height = seg.cursor.0;
            self.shared.sync.register(id, i, locator.clone());
            if self.shared.send_headers_request(id, locator, stop).is_err() {
                self.shared.sync.unregister_last(id);
                // Full queue or going: not asked again now.
                *out = usize::MAX;
                continue;
            }
            self.shared.events.log(LogLevel::Debug, || {
                format!(
                    "sync: segment {i} from height {} asked of peer {id}",
                    seg_cursor_height
                )
            });
            if *out == 0 {
                self.clock.insert(id, Instant::now());
            }
            *out += 1;
            self.segs[i].peer = Some(id);
            let now_in_flight = self.segs.iter().filter(|g| g.peer.is_some()).count() as u32;
            self.max_in_flight = self.max_in_flight.max(now_in_flight);
            if !front {
                lookahead += cost;
            }
        }
    }

    /// Delivers the front's batches; moves the front past finished segments.
    async fn deliver(&mut self) -> Option<SyncStatus> {
        if self.ends.is_some() {
            return None; // not planned yet: no peer so far
        }
        while self.front < self.segs.len() {
            let batch = self.segs[self.front].ready.pop_front();
            if let Some((first, headers, charge)) = batch {
                let seg = &mut self.segs[self.front];
                seg.ready_bytes -= charge.as_ref().map_or(0, Charge::bytes);
                if let Some(last) = headers.last() {
                    self.delivered = (first + headers.len() as u32 - 1, last.hash());
                    self.headers += headers.len() as u64;
                }
                let ev = ClientEvent::SyncHeaders {
                    first_height: first,
                    headers,
                };
                self.shared.events.push(ev, charge).await;
                self.progress(false).await;
                continue;
            }
            if self.segs[self.front].complete {
                self.front += 1;
                continue;
            }
            return None;
        }
        Some(SyncStatus::Complete)
    }

    fn target(&self) -> u32 {
        let claimed = self
            .shared
            .peers
            .read()
            .values()
            .map(|s| s.peer.info().start_height.max(0) as u32)
            .max()
            .unwrap_or(0);
        claimed.max(self.delivered.0)
    }

    async fn progress(&mut self, force: bool) {
        let now = Instant::now();
        if !force
            && self
                .last_progress
                .is_some_and(|t| now.duration_since(t) < Duration::from_millis(250))
        {
            return;
        }
        self.last_progress = Some(now);
        self.reported = Some(self.delivered.0);
        let secs = self.started.elapsed().as_secs_f64();
        let p = SyncProgress {
            height: self.delivered.0,
            target: self.target(),
            headers_per_sec: if secs > 0.0 {
                self.headers as f64 / secs
            } else {
                0.0
            },
            peers: self
                .segs
                .iter()
                .filter_map(|g| g.peer)
                .collect::<HashSet<_>>()
                .len() as u32,
            in_flight: self.segs.iter().filter(|g| g.peer.is_some()).count() as u32,
        };
        self.shared
            .events
            .push(ClientEvent::SyncProgress(p), None)
            .await;
    }

    /// A reply to one of our requests.
    fn batch(
        &mut self,
        peer: PeerId,
        i: usize,
        headers: Vec<HashedHeader>,
        mut charge: Option<Charge>,
    ) -> Option<SyncStatus> {
        self.log(LogLevel::Debug, || {
            format!(
                "sync: {} headers for segment {i} from peer {peer}",
                headers.len()
            )
        });
        if self.segs.get(i).is_none_or(|g| g.peer != Some(peer)) {
            return None;
        }
        self.segs[i].peer = None;
        if self.excluded.contains(&peer) {
            return None;
        }
        self.clock.insert(peer, Instant::now());
        if let Some(c) = charge.as_mut() {
            // Waiting here holds the client's budget only: the peer may go on reading.
            c.release_peer();
            self.batch_cost = self.batch_cost.max(c.bytes());
        }
        let limit = self.limit(peer);
        let seg = &mut self.segs[i];
        if let Some(first) = headers.first() {
            let prev = first.header().prev_blockhash;
            if prev != seg.cursor.1 {
                if i == 0 && seg.cursor == seg.start && self.locator.contains(&prev) {
                    return Some(SyncStatus::Fork { after: prev });
                }
                return None;
            }
        }
        let n = headers.len() as u32;
        let first_height = seg.cursor.0 + 1;
        match seg.end {
            Some((end, end_hash)) => {
                if n == 0 {
                    self.stall(peer, "no headers before the checkpoint".into());
                    return None;
                }
                let height = seg.cursor.0 + n;
                let last = headers[headers.len() - 1].hash();
                if height > end || (height == end && last != end_hash) {
                    self.no_link(peer, i, end);
                    return None;
                }
                seg.cursor = (height, last);
                seg.complete = height == end;
            }
            None => {
                // Checkpoints above every peer's claim when the sync began.
                let top = seg.cursor.0 + n;
                let from = seg.cursor.0;
                let bad = self.tail_checks.iter().find(|(h, hash)| {
                    *h > from && *h <= top && headers[(*h - from - 1) as usize].hash() != *hash
                });
                if let Some(&(end, _)) = bad {
                    self.no_link(peer, i, end);
                    return None;
                }
                if let Some(last) = headers.last() {
                    seg.cursor = (seg.cursor.0 + n, last.hash());
                    seg.tail_asked.clear();
                }
                if n < limit {
                    // This peer has nothing more: done unless another claims more.
                    seg.tail_asked.insert(peer);
                    let height = seg.cursor.0;
                    let asked = seg.tail_asked.clone();
                    let more = self
                        .candidates()
                        .iter()
                        .any(|(id, claimed, _)| *claimed > height && !asked.contains(id));
                    self.segs[i].complete = !more;
                }
            }
        }
        if n > 0 {
            let seg = &mut self.segs[i];
            seg.ready_bytes += charge.as_ref().map_or(0, Charge::bytes);
            seg.ready.push_back((first_height, headers, charge));
        }
        None
    }

    /// Segment `i` does not link at its checkpoint: thrown away, the peer disconnected.
    fn no_link(&mut self, peer: PeerId, i: usize, end: u32) {
        self.segments_failed += 1;
        let reason = format!("headers do not link at checkpoint {end}");
        self.log(LogLevel::Warn, || {
            format!("sync: peer {peer} sent a segment that {reason}; asking another peer")
        });
        let seg = &mut self.segs[i];
        seg.ready.clear();
        seg.ready_bytes = 0;
        seg.cursor = seg.start;
        seg.complete = false;
        if i == self.front && self.delivered.0 > seg.start.0 {
            // The app has part of it: it comes again from the start.
            self.delivered = seg.start;
        }
        self.exclude(peer);
        if let Some(slot) = self.shared.peers.read().get(&peer) {
            slot.peer.close(DisconnectReason::InvalidHeaders(reason));
        }
    }

    /// `peer` stalled or answered short: it loses its segments and is scored.
    fn stall(&mut self, peer: PeerId, why: String) {
        self.peers_stalled += 1;
        self.log(LogLevel::Warn, || {
            format!("sync: peer {peer} {why}; its segments go to other peers")
        });
        self.exclude(peer);
        let slot = self.shared.peers.read().get(&peer).cloned();
        if let Some(slot) = slot {
            slot.stalled.store(true, Ordering::Relaxed);
            let now = self.shared.now().mono;
            self.shared
                .book
                .lock()
                .misbehaved(slot.addr, STALL_POINTS, now);
        }
    }

    fn exclude(&mut self, peer: PeerId) {
        self.excluded.insert(peer);
        self.release(peer);
    }

    /// Every segment `peer` had goes back to the pool; its late replies go to the app.
    fn release(&mut self, peer: PeerId) {
        self.shared.sync.forget_peer(peer);
        self.clock.remove(&peer);
        for seg in &mut self.segs {
            if seg.peer == Some(peer) {
                seg.peer = None;
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.clock
            .iter()
            .filter(|(id, _)| self.segs.iter().any(|g| g.peer == Some(**id)))
            .map(|(_, t)| *t + self.timeout)
            .min()
    }

    fn check_stalls(&mut self) {
        let now = Instant::now();
        let (queued, max) = self.shared.events.backlog();
        let app_slow =
            queued * 2 >= max || self.shared.budget.in_use() * 4 >= self.shared.budget.size() * 3;
        let due: Vec<PeerId> = self
            .clock
            .iter()
            .filter(|(id, t)| {
                **t + self.timeout <= now && self.segs.iter().any(|g| g.peer == Some(**id))
            })
            .map(|(id, _)| *id)
            .collect();
        for peer in due {
            if app_slow {
                // Replies wait on the app, not on the peer.
                self.clock.insert(peer, now);
            } else {
                let ms = self.timeout.as_millis();
                self.stall(peer, format!("sent no headers within {ms} ms"));
            }
        }
    }

    async fn finish(mut self, status: SyncStatus) {
        self.shared.sync.stop();
        // Buffered batches give their bytes back.
        self.segs.clear();
        if self.reported != Some(self.delivered.0) {
            self.progress(true).await;
        }
        let summary = SyncSummary {
            status,
            height: self.delivered.0,
            tip: self.delivered.1,
            headers: self.headers,
            elapsed: self.started.elapsed(),
            segments_failed: self.segments_failed,
            peers_stalled: self.peers_stalled,
            max_in_flight: self.max_in_flight,
        };
        self.log(LogLevel::Info, || {
            format!(
                "sync ended ({status:?}) at height {} after {} headers in {:.3} s",
                summary.height,
                summary.headers,
                summary.elapsed.as_secs_f64()
            )
        });
        self.shared
            .events
            .push(ClientEvent::SyncDone(summary), None)
            .await;
    }
}

fn negotiated(s: &super::PeerSlot) -> u32 {
    s.peer.info().negotiated_version
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
