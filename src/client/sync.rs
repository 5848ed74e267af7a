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
//! with a lower `first_height` (the app drops what it has from there up). A second peer
//! failing the same checkpoint ends the sync (`CheckpointMismatch`: the app's checkpoint
//! or tip height is then the likelier culprit). A peer that leaves a request unanswered
//! for `header_stall_timeout` (unless its reader waits for the app) loses its segments to
//! other peers, is not asked again until a retry, and is scored ([`STALL_POINTS`]).
//!
//! Continuation requests carry the cursor and the segment's start, so a peer that does
//! not know the cursor answers from the start: if its chain passes the cursor's height,
//! the segment followed a branch and starts over; if not, the peer is behind and counts
//! as having nothing more. A reply to the first request that continues below the app's
//! tip is a fork only when a second peer agrees (or no other peer is left). When nothing
//! can be asked but the sync is not done, it looks again after `header_stall_timeout`
//! with the rules relaxed (stalled peers back, any claimed height): it never waits for an
//! input that cannot come.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::events::LogLevel;
use super::{ClientEvent, Shared};
use crate::peer::{Charge, DisconnectReason, PeerId};
use crate::wire::network::headers_per_message;
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
    /// Two peers in turn sent a chain whose block at `height` is not the checkpoint
    /// there: the checkpoint (or the tip height given) is more likely wrong than both
    /// peers. The first of them was disconnected; the sync stops rather than ban more.
    CheckpointMismatch {
        /// The checkpoint's height.
        height: u32,
    },
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
    id: u64,
    seg: usize,
    /// A reply answers it when its first header follows one of these.
    prevs: Vec<Hash256>,
}

#[derive(Default)]
struct Registry {
    tx: Option<mpsc::UnboundedSender<Input>>,
    next_id: u64,
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

    fn register(&self, peer: PeerId, seg: usize, prevs: Vec<Hash256>) -> u64 {
        let mut r = self.registry.lock();
        r.next_id += 1;
        let id = r.next_id;
        r.requests
            .entry(peer)
            .or_default()
            .push_back(Request { id, seg, prevs });
        id
    }

    fn unregister(&self, peer: PeerId, id: u64) {
        if let Some(q) = self.registry.lock().requests.get_mut(&peer) {
            q.retain(|r| r.id != id);
        }
    }

    /// No reply goes to the sync any more (it is finishing).
    fn clear_requests(&self) {
        self.registry.lock().requests.clear();
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

    /// Queues the sync's last event and ends its registration in one step: a new sync
    /// can start only after it, and `is_syncing` is false once the app can see it.
    fn finish_with(&self, events: &super::events::EventQueue, last: ClientEvent) {
        let mut r = self.registry.lock();
        events.push_now(last);
        r.tx = None;
        r.requests.clear();
    }

    pub(crate) fn stop(&self) {
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
    /// Peers not to ask for it at the current cursor: for the tail, those that answered
    /// short (nothing more); for any, one that had nothing before the checkpoint; for the
    /// first, one whose reply forked below the app's tip.
    avoid: HashSet<PeerId>,
    /// Tail only: a peer answered short at the current cursor (it has nothing more).
    said_done: bool,
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
            avoid: HashSet::new(),
            said_done: false,
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
    /// Nothing could be asked although something is left: look again then (a send that
    /// found a full queue; every peer excluded or unable to serve a segment).
    retry_at: Option<Instant>,
    /// After a retry: segments go to any peer, whatever height it claims.
    relaxed: bool,
    /// Schedule changed what can be delivered (the tail completed): deliver before waiting.
    dirty: bool,
    /// Peers whose reply continued after a locator entry below the app's tip, by entry.
    fork_votes: HashMap<Hash256, HashSet<PeerId>>,
    /// Peers whose segment did not match a checkpoint, by its height.
    mismatches: HashMap<u32, HashSet<PeerId>>,
}

/// Ends the registered sync however the task ends (a panic included), so the client is
/// never left "syncing" with nobody running the sync.
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.sync.stop();
    }
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
            retry_at: None,
            relaxed: false,
            dirty: false,
            fork_votes: HashMap::new(),
            mismatches: HashMap::new(),
        }
    }

    pub(crate) async fn run(mut self) {
        let _stop = StopOnDrop(self.shared.clone());
        let status = loop {
            // Delivery first: it may move the front, which may then ask.
            if let Some(status) = self.deliver().await {
                break status;
            }
            self.schedule();
            if std::mem::take(&mut self.dirty) {
                continue;
            }
            let deadline = match (self.next_deadline(), self.retry_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let input = tokio::select! {
                input = self.rx.recv() => input,
                _ = sleep_until(deadline) => {
                    self.check_stalls();
                    if self.retry_at.is_some_and(|t| t <= Instant::now()) {
                        self.retry();
                    }
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
        peers.get(&peer).map_or(2000, |s| {
            let info = s.peer.info();
            headers_per_message(info.headers2, info.negotiated_version) as u32
        })
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
        if peers.is_empty() {
            if !self.excluded.is_empty() && self.retry_at.is_none() {
                // Every peer left has stalled once (perhaps only slow): they get another
                // chance after a while rather than the sync waiting for a new peer.
                let wait = self.timeout;
                self.retry_soon(wait);
            }
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
        // Later segments hold at most half the client budget, and never so much that the
        // largest single charge (a 3 MiB v2 packet is charged its worst decoded size
        // before its command is known) could not fit beside them: the budget's waiters
        // are served in order, so such a charge waiting would hold up the front too.
        let size = self.shared.budget.size();
        let largest = crate::peer::largest_charge().min(size);
        let half = (size / 2).min(size.saturating_sub(largest));
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
            let need = if self.relaxed {
                0
            } else {
                seg.end.map_or(0, |e| e.0)
            };
            let pick = peers
                .iter_mut()
                .filter(|(id, claimed, out)| {
                    *out < self.per_peer && *claimed >= need && !seg.avoid.contains(id)
                })
                .min_by_key(|(id, claimed, out)| (*out, std::cmp::Reverse(*claimed), *id));
            let Some((id, _, out)) = pick else {
                continue;
            };
            let id = *id;
            // The cursor, then where the segment starts (for segment 0, the app's whole
            // locator): a peer that does not know the cursor (a branch another peer sent)
            // answers from the start, and the segment starts over.
            let mut locator = vec![seg.cursor.1];
            if i == 0 {
                locator.extend(self.locator.iter().filter(|h| **h != seg.cursor.1));
                locator.truncate(crate::wire::MAX_LOCATOR_HASHES);
            } else if seg.cursor != seg.start {
                locator.push(seg.start.1);
            }
            let stop = seg.end.map_or(Hash256::ZERO, |e| e.1);
            let seg_cursor_height = seg.cursor.0;
            let req = self.shared.sync.register(id, i, locator.clone());
            if self.shared.send_headers_request(id, locator, stop).is_err() {
                self.shared.sync.unregister(id, req);
                // Full queue or going: not asked again now; looked at again shortly.
                *out = usize::MAX;
                self.retry_soon(Duration::from_millis(250));
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
        self.unstick(&peers);
    }

    /// Nothing is in flight, yet the sync is not done: decide the tail, or look again
    /// later with the rules relaxed (never wait for an input that cannot come).
    fn unstick(&mut self, peers: &[(PeerId, u32, usize)]) {
        if self.segs.is_empty() || self.segs.iter().any(|g| g.peer.is_some()) {
            return;
        }
        let last = self.segs.len() - 1;
        let tail = &self.segs[last];
        if !tail.complete
            && tail.said_done
            && peers.iter().all(|(id, _, _)| tail.avoid.contains(id))
        {
            // Every peer left has said it has nothing more.
            self.segs[last].complete = true;
            self.dirty = true;
            return;
        }
        if self.segs[self.front..].iter().all(|g| g.complete) {
            return;
        }
        if self.retry_at.is_none() {
            let wait = self.timeout;
            self.retry_soon(wait);
        }
    }

    fn retry_soon(&mut self, after: Duration) {
        let at = Instant::now() + after;
        self.retry_at = Some(self.retry_at.map_or(at, |t| t.min(at)));
    }

    /// The retry time came: peers that stalled get another chance, segments may go to
    /// any peer, and those that had nothing before a checkpoint may be asked again.
    fn retry(&mut self) {
        self.retry_at = None;
        if self.segs.iter().any(|g| g.peer.is_some()) {
            return;
        }
        self.log(LogLevel::Info, || {
            "sync: nothing in flight; asking every peer again".to_string()
        });
        self.excluded.clear();
        self.relaxed = true;
        let last = self.segs.len().saturating_sub(1);
        for (i, seg) in self.segs.iter_mut().enumerate() {
            if i != last {
                seg.avoid.clear();
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
        let mut headers = headers;
        if let Some(first) = headers.first() {
            let prev = first.header().prev_blockhash;
            let seg = &self.segs[i];
            if prev != seg.cursor.1 {
                // The peer does not know the cursor. It answered from an earlier locator
                // entry: the segment's start (or, for the first, the app's tip) or below.
                let reaches = seg.start.0.saturating_add(headers.len() as u32);
                if i == 0 && seg.cursor == seg.start && self.locator.contains(&prev) {
                    // Below the app's tip before anything came: a fork, if confirmed.
                    return self.fork_vote(peer, prev);
                } else if prev == seg.start.1 && reaches >= seg.cursor.0 {
                    // Its chain passes the cursor's height on another branch than the
                    // one the segment followed: the segment starts over from its start
                    // (nobody is blamed: who sent the branch is not known).
                    self.restart(i, "peers disagree after its start");
                } else if prev == seg.start.1 || (i == 0 && self.locator.contains(&prev)) {
                    // Its chain ends below the cursor: it is behind. As "nothing more".
                    headers = Vec::new();
                    charge = None;
                } else {
                    // It does not know where the segment starts (a checkpoint it does not
                    // have): not asked for it again until a retry.
                    self.segs[i].avoid.insert(peer);
                    return None;
                }
            }
        }
        let seg = &mut self.segs[i];
        let n = headers.len() as u32;
        let first_height = seg.cursor.0 + 1;
        match seg.end {
            Some((end, end_hash)) => {
                if n == 0 {
                    // It has nothing up to the checkpoint (behind, or on another chain):
                    // asked again only after a retry.
                    seg.avoid.insert(peer);
                    return None;
                }
                let height = seg.cursor.0.saturating_add(n);
                let last = headers[headers.len() - 1].hash();
                if height > end || (height == end && last != end_hash) {
                    return self.no_link(peer, i, end);
                }
                seg.cursor = (height, last);
                seg.avoid.clear();
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
                    return self.no_link(peer, i, end);
                }
                if let Some(last) = headers.last() {
                    seg.cursor = (seg.cursor.0.saturating_add(n), last.hash());
                    seg.avoid.clear();
                    seg.said_done = false;
                }
                if n < limit {
                    // This peer has nothing more: done unless another claims more.
                    seg.avoid.insert(peer);
                    seg.said_done = true;
                    let height = seg.cursor.0;
                    let asked = seg.avoid.clone();
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

    /// Segment `i` does not link at its checkpoint `end`: thrown away, the peer
    /// disconnected. A second peer failing the same checkpoint ends the sync instead.
    fn no_link(&mut self, peer: PeerId, i: usize, end: u32) -> Option<SyncStatus> {
        self.segments_failed += 1;
        let failed = self.mismatches.entry(end).or_default();
        failed.insert(peer);
        if failed.len() >= 2 {
            self.log(LogLevel::Error, || {
                format!("sync: two peers disagree with checkpoint {end}; stopping")
            });
            return Some(SyncStatus::CheckpointMismatch { height: end });
        }
        let reason = format!("headers do not link at checkpoint {end}");
        self.log(LogLevel::Warn, || {
            format!("sync: peer {peer} sent a segment that {reason}; asking another peer")
        });
        self.restart(i, "its checkpoint failed");
        self.exclude(peer);
        if let Some(slot) = self.shared.peers.read().get(&peer) {
            slot.peer.close(DisconnectReason::InvalidHeaders(reason));
        }
        None
    }

    /// Segment `i` starts over from its start; if the app had part of it, that part
    /// comes again (with a lower first height).
    fn restart(&mut self, i: usize, why: &str) {
        self.log(LogLevel::Warn, || {
            format!("sync: segment {i} starts over ({why})")
        });
        let front = i == self.front;
        let seg = &mut self.segs[i];
        seg.ready.clear();
        seg.ready_bytes = 0;
        seg.cursor = seg.start;
        seg.complete = false;
        seg.avoid.clear();
        seg.said_done = false;
        if front && self.delivered.0 > seg.start.0 {
            self.delivered = seg.start;
        }
    }

    /// `peer`'s reply to the first segment continues after `after`, a locator entry below
    /// the app's tip. A fork is reported when a second peer agrees, or when no other peer
    /// is left to ask; until then the segment goes to another peer.
    fn fork_vote(&mut self, peer: PeerId, after: Hash256) -> Option<SyncStatus> {
        let votes = self.fork_votes.entry(after).or_default();
        votes.insert(peer);
        let agreed = votes.len() >= 2;
        self.segs[0].avoid.insert(peer);
        let others = self
            .candidates()
            .iter()
            .any(|(id, _, _)| !self.segs[0].avoid.contains(id));
        if agreed || !others {
            return Some(SyncStatus::Fork { after });
        }
        self.log(LogLevel::Warn, || {
            format!("sync: peer {peer} continues below the tip; asking another peer")
        });
        None
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
        // The app's queue is at its bound: every reply waits on the app, not on a peer.
        let app_full = queued >= max;
        let due: Vec<PeerId> = self
            .clock
            .iter()
            .filter(|(id, t)| {
                **t + self.timeout <= now && self.segs.iter().any(|g| g.peer == Some(**id))
            })
            .map(|(id, _)| *id)
            .collect();
        for peer in due {
            // Its reader waits for room in the budgets: its reply waits on the app.
            let parked = self
                .shared
                .peers
                .read()
                .get(&peer)
                .is_some_and(|s| s.peer.reader_parked());
            if app_full || parked {
                // Replies wait on the app, not on the peer.
                self.clock.insert(peer, now);
            } else {
                let ms = self.timeout.as_millis();
                self.stall(peer, format!("sent no headers within {ms} ms"));
            }
        }
    }

    async fn finish(mut self, status: SyncStatus) {
        // No reply goes to this sync any more; a new one may start only once this one's
        // SyncDone is queued (`finish_with`), so events of two syncs never mix.
        self.shared.sync.clear_requests();
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
            .sync
            .finish_with(&self.shared.events, ClientEvent::SyncDone(summary));
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
