//! The writer task: owns the write half. Drains the queue priority lane first,
//! coalesces frames into vectored writes, and runs the keepalive and write-stall timers.

use std::io::IoSlice;
use std::sync::Arc;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::Duration;

use rand::RngCore;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::time::{Instant, sleep_until, timeout};

use super::Shared;
use super::event::{DisconnectReason, OutboundMessage};
use super::queue::{Lane, QueueReceiver};
use crate::wire::hash::checksum;
use crate::wire::message::commands;

/// A batch stops growing past this many bytes (one larger message still goes alone),
/// so a control message never waits behind more than this much data.
const BATCH_BYTES: usize = 64 * 1024;
/// And past this many messages (two iovecs each, well under IOV_MAX).
const BATCH_MESSAGES: usize = 256;

/// A message in the batch, and the lane whose reservation it holds (None: our own ping).
type Slot = (OutboundMessage, Option<Lane>);

struct Writer {
    shared: Arc<Shared>,
    socket: OwnedWriteHalf,
    rx: QueueReceiver,
    batch: Vec<Slot>,
    magic: [u8; 4],
    next_ping: Instant,
    pong_deadline: Option<Instant>,
    probe_deadline: Option<Instant>,
}

/// Runs the writer; returns every app message that was not written.
pub(crate) async fn run(
    shared: Arc<Shared>,
    socket: OwnedWriteHalf,
    rx: QueueReceiver,
) -> Vec<OutboundMessage> {
    let config = shared.config.clone();
    let mut w = Writer {
        magic: config.network.magic(),
        next_ping: Instant::now() + config.ping_interval,
        pong_deadline: None,
        probe_deadline: None,
        shared,
        socket,
        rx,
        batch: Vec::new(),
    };
    let outcome = w.serve().await;
    if let Err(reason) = outcome {
        w.shared.close(reason);
    }
    if w.shared.reason().is_some_and(|r| r.is_graceful()) {
        let deadline = Instant::now() + config.flush_deadline;
        if w.flush(deadline).await.is_ok() {
            let _ = timeout(Duration::from_millis(200), w.socket.shutdown()).await;
        }
    }
    w.hand_back()
}

impl Writer {
    /// Serves until the connection starts closing (Ok) or a write or timer fails (Err).
    async fn serve(&mut self) -> Result<(), DisconnectReason> {
        let mut closing = self.shared.closing();
        loop {
            if self.batch.is_empty() {
                if !self.shared.ping_pending.load(Acquire) {
                    self.pong_deadline = None;
                }
                let deadline = self.pong_deadline.unwrap_or(self.next_ping);
                tokio::select! {
                    biased;
                    _ = closing.wait_for(|c| *c) => return Ok(()),
                    _ = self.shared.pong_received.notified() => {}
                    _ = self.shared.probe.notified() => self.on_probe(),
                    m = self.rx.priority.recv() => {
                        if let Some(m) = m { self.batch.push((m, Some(Lane::Priority))) }
                    }
                    m = self.rx.data.recv() => {
                        if let Some(m) = m { self.batch.push((m, Some(Lane::Data))) }
                    }
                    _ = sleep_until(deadline) => self.on_timer()?,
                }
            }
            self.top_up();
            if !self.batch.is_empty() {
                self.write_batch(None).await?;
            }
        }
    }

    /// The keepalive timer: time out an unanswered ping, or send the next one.
    fn on_timer(&mut self) -> Result<(), DisconnectReason> {
        let now = Instant::now();
        let config = &self.shared.config;
        if self.shared.ping_pending.load(Acquire) {
            if self.pong_deadline.is_some_and(|d| now >= d) {
                if self.shared.reader_parked.load(Acquire) {
                    // The pong may be sitting unread behind events the owner has not
                    // taken yet: that is the owner's backpressure, not a dead peer.
                    self.pong_deadline = Some(now + config.pong_timeout);
                } else {
                    return Err(DisconnectReason::PingTimeout);
                }
            }
            return Ok(());
        }
        self.pong_deadline = None;
        if now >= self.next_ping {
            let nonce = rand::rng().next_u64();
            self.shared.ping_nonce.store(nonce, Relaxed);
            let ping = OutboundMessage {
                internal: true,
                ..OutboundMessage::new(commands::PING, nonce.to_le_bytes().to_vec(), 0)
            };
            self.batch.insert(0, (ping, None));
        }
        Ok(())
    }

    /// A liveness check: ping now (or shorten the wait for the pong already due).
    fn on_probe(&mut self) {
        let within = Duration::from_micros(self.shared.probe_timeout_us.load(Relaxed));
        let deadline = Instant::now() + within;
        if self.shared.ping_pending.load(Acquire) {
            self.pong_deadline = Some(self.pong_deadline.map_or(deadline, |d| d.min(deadline)));
        } else {
            self.next_ping = Instant::now();
            let _ = self.on_timer();
            self.probe_deadline = Some(deadline);
        }
    }

    /// Adds every waiting priority message, then data messages up to the batch bounds.
    fn top_up(&mut self) {
        while self.batch.len() < BATCH_MESSAGES {
            match self.rx.priority.try_recv() {
                Ok(m) => self.batch.push((m, Some(Lane::Priority))),
                Err(_) => break,
            }
        }
        // Priority first within the batch, in the order they were queued.
        self.batch
            .sort_by_key(|(_, lane)| *lane == Some(Lane::Data));
        let mut bytes: usize = self.batch.iter().map(|(m, _)| m.wire_len()).sum();
        while self.batch.len() < BATCH_MESSAGES && bytes < BATCH_BYTES {
            match self.rx.data.try_recv() {
                Ok(m) => {
                    bytes += m.wire_len();
                    self.batch.push((m, Some(Lane::Data)));
                }
                Err(_) => break,
            }
        }
    }

    /// Writes the batch with vectored writes. On failure the messages not completely
    /// written stay in the batch, to be handed back.
    ///
    /// A write is never abandoned half way through a frame while the connection may go
    /// on: a graceful close only sets a deadline; a non-graceful close stops at once
    /// (the stream is closing anyway). Each single `write` is cancel-safe, so `written`
    /// is always exact.
    async fn write_batch(&mut self, mut deadline: Option<Instant>) -> Result<(), DisconnectReason> {
        let stall = self.shared.config.write_stall_timeout;
        let flush_deadline = self.shared.config.flush_deadline;
        let mut closing = self.shared.closing();
        let mut closing_seen = *closing.borrow_and_update();
        let headers: Vec<[u8; 24]> = self
            .batch
            .iter()
            .map(|(m, _)| frame_header(self.magic, m))
            .collect();
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(self.batch.len() * 2);
        for ((m, _), h) in self.batch.iter().zip(&headers) {
            slices.push(IoSlice::new(h));
            if !m.payload.is_empty() {
                slices.push(IoSlice::new(&m.payload));
            }
        }
        let total: usize = self.batch.iter().map(|(m, _)| m.wire_len()).sum();
        if let Some((m, None)) = self.batch.first()
            && m.command == commands::PING
        {
            self.shared
                .ping_sent_us
                .store(self.shared.micros(), Relaxed);
            self.shared.ping_pending.store(true, Release);
            let now = Instant::now();
            let normal = now + self.shared.config.pong_timeout;
            self.pong_deadline = Some(self.probe_deadline.take().map_or(normal, |d| d.min(normal)));
            self.next_ping = now + self.shared.config.ping_interval;
        }
        let mut written = 0usize;
        let mut rest: &mut [IoSlice<'_>] = &mut slices;
        let mut result = Ok(());
        while written < total {
            let limit = match deadline {
                Some(d) => stall.min(d.saturating_duration_since(Instant::now())),
                None => stall,
            };
            let step = tokio::select! {
                biased;
                _ = closing.wait_for(|c| *c), if !closing_seen => {
                    closing_seen = true;
                    if !self.shared.reason().is_some_and(|r| r.is_graceful()) {
                        break;
                    }
                    let d = Instant::now() + flush_deadline;
                    deadline = Some(deadline.map_or(d, |old| old.min(d)));
                    continue;
                }
                r = timeout(limit, self.socket.write_vectored(rest)) => r,
            };
            match step {
                Err(_) => {
                    result = Err(DisconnectReason::WriteStalled);
                    break;
                }
                Ok(Ok(0)) => {
                    result = Err(DisconnectReason::Io(std::io::ErrorKind::WriteZero));
                    break;
                }
                Ok(Ok(n)) => {
                    written += n;
                    IoSlice::advance_slices(&mut rest, n);
                }
                Ok(Err(e)) => {
                    result = Err(DisconnectReason::Io(e.kind()));
                    break;
                }
            }
        }
        drop(slices);
        // Retire every message whose last byte reached the socket.
        let counters = &self.shared.counters;
        counters.bytes_out.fetch_add(written as u64, Relaxed);
        let mut end = 0usize;
        let mut done = 0usize;
        for (m, lane) in &self.batch {
            end += m.wire_len();
            if end > written {
                break;
            }
            if let Some(lane) = lane {
                self.shared.queue.release(m, *lane);
            }
            done += 1;
        }
        counters.msgs_out.fetch_add(done as u64, Relaxed);
        self.batch.drain(..done);
        result
    }

    /// Graceful close: keep writing what is queued until it is empty or `deadline`.
    async fn flush(&mut self, deadline: Instant) -> Result<(), DisconnectReason> {
        loop {
            self.top_up();
            if self.batch.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(DisconnectReason::WriteStalled);
            }
            self.write_batch(Some(deadline)).await?;
        }
    }

    /// Closes the queue (later sends get `Disconnected`) and returns every app message
    /// not written, in order: the unfinished batch, then the lanes.
    fn hand_back(&mut self) -> Vec<OutboundMessage> {
        self.rx.priority.close();
        self.rx.data.close();
        let mut out = Vec::new();
        let mut keep = |m: OutboundMessage, lane: Option<Lane>| {
            if let Some(lane) = lane {
                self.shared.queue.release(&m, lane);
            }
            if !m.internal {
                out.push(m);
            }
        };
        for (m, lane) in self.batch.drain(..) {
            keep(m, lane);
        }
        while let Ok(m) = self.rx.priority.try_recv() {
            keep(m, Some(Lane::Priority));
        }
        while let Ok(m) = self.rx.data.try_recv() {
            keep(m, Some(Lane::Data));
        }
        out
    }
}

fn frame_header(magic: [u8; 4], m: &OutboundMessage) -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&magic);
    h[4..16].copy_from_slice(m.command.wire_bytes());
    h[16..20].copy_from_slice(&(m.payload.len() as u32).to_le_bytes());
    h[20..24].copy_from_slice(&checksum(&m.payload));
    h
}
