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
use super::transport::Encoder;
use crate::wire::hash::checksum;
use crate::wire::message::commands;

/// A batch stops growing past this many bytes (one larger message still goes alone),
/// so a control message never waits behind more than this much data.
const BATCH_BYTES: usize = 64 * 1024;
/// And past this many messages (two iovecs each, well under IOV_MAX).
const BATCH_MESSAGES: usize = 256;

/// A message in the batch, and the lane whose reservation it holds (None: our own ping).
type Slot = (OutboundMessage, Option<Lane>);

/// v2 packets sealed for the front of the batch: sealing advances the cipher, so a
/// sealed packet is written exactly once, from this buffer, and never sealed again.
#[derive(Default)]
struct Sealed {
    /// The packets of `batch[..ends.len()]`, from the first byte of `batch[0]`'s.
    bytes: Vec<u8>,
    /// Where each sealed packet ends in `bytes`.
    ends: Vec<usize>,
}

/// A sealed buffer over this is not kept after its batch is written.
const SEALED_KEEP: usize = 2 * BATCH_BYTES;

struct Writer {
    shared: Arc<Shared>,
    socket: OwnedWriteHalf,
    rx: QueueReceiver,
    batch: Vec<Slot>,
    magic: [u8; 4],
    /// v1 frames go out as header + payload slices (no copy); v2 packets are sealed
    /// into `sealed`, one buffer per batch, in the order they go out.
    encoder: Encoder,
    sealed: Sealed,
    next_ping: Instant,
    pong_deadline: Option<Instant>,
    probe_deadline: Option<Instant>,
    /// Bytes of `batch[0]`'s frame already on the socket. A frame once started is only
    /// ever continued from here, never sent again from its first byte.
    head_written: usize,
    /// When a graceful close must be done flushing (set when the close is first seen).
    flush_by: Option<Instant>,
}

/// Runs the writer; returns every app message that was not written.
pub(crate) async fn run(
    shared: Arc<Shared>,
    socket: OwnedWriteHalf,
    encoder: Encoder,
    rx: QueueReceiver,
) -> Vec<OutboundMessage> {
    let config = shared.config.clone();
    let mut w = Writer {
        magic: config.network.magic(),
        encoder,
        sealed: Sealed::default(),
        next_ping: Instant::now() + config.ping_interval,
        pong_deadline: None,
        probe_deadline: None,
        head_written: 0,
        flush_by: None,
        shared,
        socket,
        rx,
        batch: Vec::new(),
    };
    let outcome = w.serve().await;
    match outcome {
        Err(reason) => w.shared.close(reason),
        Ok(()) => {
            // The close was seen between batches: one flush, bounded by the one deadline.
            if w.shared.reason().is_some_and(|r| r.is_graceful()) {
                let deadline = w.flush_deadline();
                if w.flush(deadline).await.is_ok() {
                    let _ = timeout(Duration::from_millis(200), w.socket.shutdown()).await;
                }
            }
        }
    }
    w.hand_back().await
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
                if Instant::now() >= deadline {
                    // Checked before the queue, so a sender that keeps the data lane
                    // full can never hold the keepalive (or its timeout) off.
                    self.on_timer()?;
                }
            }
            if self.batch.is_empty() {
                let deadline = self.pong_deadline.unwrap_or(self.next_ping);
                tokio::select! {
                    biased;
                    _ = closing.wait_for(|c| *c) => {
                        self.flush_deadline();
                        return Ok(());
                    }
                    _ = self.shared.pong_received.notified() => {}
                    _ = self.shared.probe.notified() => self.on_probe(),
                    _ = sleep_until(deadline) => self.on_timer()?,
                    m = self.rx.priority.recv() => {
                        if let Some(m) = m { self.batch.push((m, Some(Lane::Priority))) }
                    }
                    m = self.rx.data.recv() => {
                        if let Some(m) = m { self.batch.push((m, Some(Lane::Data))) }
                    }
                }
            }
            self.top_up();
            if !self.batch.is_empty() {
                self.write_batch(None).await?;
            }
        }
    }

    /// The deadline of the graceful flush, fixed the first time it is asked for.
    fn flush_deadline(&mut self) -> Instant {
        *self
            .flush_by
            .get_or_insert_with(|| Instant::now() + self.shared.config.flush_deadline)
    }

    /// The keepalive timer: time out an unanswered ping, or send the next one.
    fn on_timer(&mut self) -> Result<(), DisconnectReason> {
        let now = Instant::now();
        let config = &self.shared.config;
        if self.shared.ping_pending.load(Acquire) {
            if self.pong_deadline.is_some_and(|d| now >= d) {
                // The pong may be sitting unread behind data the owner has not taken yet:
                // that is the owner's backpressure, not a dead peer. So the pong clock
                // runs only while the reader reads: it stops while the reader waits for
                // the owner and starts again, in full, when it resumes.
                let resumed = self.shared.reader_resumed_us.load(Relaxed);
                let since_resume =
                    Duration::from_micros(self.shared.micros().saturating_sub(resumed));
                if self.shared.reader_parked.load(Acquire) {
                    self.pong_deadline = Some(now + config.pong_timeout);
                } else if resumed > 0 && since_resume < config.pong_timeout {
                    self.pong_deadline = Some(now + (config.pong_timeout - since_resume));
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
            // Never ahead of a frame that is partly on the wire, nor of a sealed packet.
            let at = self.fixed_front();
            self.batch.insert(at, (ping, None));
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

    /// How many messages at the front of the batch keep their place: one partly on the
    /// wire, or every sealed v2 packet.
    fn fixed_front(&self) -> usize {
        usize::from(self.head_written > 0)
            .max(self.sealed.ends.len())
            .min(self.batch.len())
    }

    /// Adds every waiting priority message, then data messages up to the batch bounds.
    fn top_up(&mut self) {
        while self.batch.len() < BATCH_MESSAGES {
            match self.rx.priority.try_recv() {
                Ok(m) => self.batch.push((m, Some(Lane::Priority))),
                Err(_) => break,
            }
        }
        // Priority first within the batch, in the order they were queued; a frame that
        // is partly written stays first.
        let start = self.fixed_front();
        self.batch[start..].sort_by_key(|(_, lane)| *lane == Some(Lane::Data));
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

    /// Writes the batch with vectored writes, continuing a partly written first frame
    /// where it stopped. On failure the messages not completely written stay in the
    /// batch, to be handed back, and `head_written` says how much of the first is out.
    ///
    /// A write is never abandoned half way through a frame while the connection may go
    /// on: a graceful close only sets a deadline; a non-graceful close stops at once
    /// and ends the writer (the stream is closing anyway). Each single `write` is
    /// cancel-safe, so `written` is always exact.
    async fn write_batch(&mut self, mut deadline: Option<Instant>) -> Result<(), DisconnectReason> {
        let stall = self.shared.config.write_stall_timeout;
        let flush_after = self.shared.config.flush_deadline;
        let mut closing = self.shared.closing();
        let mut closing_seen = *closing.borrow_and_update();
        if closing_seen
            && deadline.is_none()
            && self.shared.reason().is_some_and(|r| r.is_graceful())
        {
            deadline = Some(self.flush_deadline());
        }
        // The wire length of each message of the batch, and the slices to write.
        let lens: Vec<usize>;
        let headers: Vec<[u8; 24]>;
        let mut slices: Vec<IoSlice<'_>>;
        match &mut self.encoder {
            Encoder::V1 { .. } => {
                lens = self.batch.iter().map(|(m, _)| m.wire_len()).collect();
                headers = self
                    .batch
                    .iter()
                    .map(|(m, _)| frame_header(self.magic, m))
                    .collect();
                slices = Vec::with_capacity(self.batch.len() * 2);
                for ((m, _), h) in self.batch.iter().zip(&headers) {
                    slices.push(IoSlice::new(h));
                    if !m.payload.is_empty() {
                        slices.push(IoSlice::new(&m.payload));
                    }
                }
            }
            encoder @ Encoder::V2 { .. } => {
                let sealed = &mut self.sealed;
                for (m, _) in &self.batch[sealed.ends.len()..] {
                    encoder.encode(&m.command, &m.payload, &mut sealed.bytes);
                    sealed.ends.push(sealed.bytes.len());
                }
                let mut start = 0;
                lens = sealed
                    .ends
                    .iter()
                    .map(|&end| {
                        let len = end - start;
                        start = end;
                        len
                    })
                    .collect();
                slices = vec![IoSlice::new(&sealed.bytes)];
            }
        }
        let total: usize = lens.iter().sum();
        if !self.shared.ping_pending.load(Acquire)
            && self
                .batch
                .iter()
                .any(|(m, lane)| lane.is_none() && m.command == commands::PING)
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
        // Resume a frame that is partly on the wire.
        let mut written = self.head_written;
        let mut rest: &mut [IoSlice<'_>] = &mut slices;
        IoSlice::advance_slices(&mut rest, written);
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
                    match self.shared.reason() {
                        Some(r) if r.is_graceful() => {
                            let d = *self.flush_by.get_or_insert_with(|| Instant::now() + flush_after);
                            deadline = Some(deadline.map_or(d, |old| old.min(d)));
                            continue;
                        }
                        other => {
                            result = Err(other.unwrap_or(DisconnectReason::Shutdown));
                            break;
                        }
                    }
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
        counters
            .bytes_out
            .fetch_add((written - self.head_written) as u64, Relaxed);
        let mut end = 0usize;
        let mut done = 0usize;
        for ((m, lane), len) in self.batch.iter().zip(&lens) {
            if end + len > written {
                break;
            }
            end += len;
            if let Some(lane) = lane {
                self.shared.queue.release(m, *lane);
            }
            done += 1;
        }
        if !self.sealed.ends.is_empty() {
            let sealed = &mut self.sealed;
            sealed.bytes.drain(..end);
            sealed.ends.drain(..done);
            for e in &mut sealed.ends {
                *e -= end;
            }
            if sealed.ends.is_empty() && sealed.bytes.capacity() > SEALED_KEEP {
                sealed.bytes = Vec::new();
            }
        }
        self.head_written = written - end;
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
    /// not written, in order: the unfinished batch, then the lanes. It drains the lanes
    /// with `recv` (not `try_recv`), which also waits out a `send` that was already past
    /// the closed check: every message a `push` accepted is here or was written.
    async fn hand_back(&mut self) -> Vec<OutboundMessage> {
        self.rx.priority.close();
        self.rx.data.close();
        let mut out = Vec::new();
        let queue = &self.shared.queue;
        let mut keep = |m: OutboundMessage, lane: Option<Lane>| {
            if let Some(lane) = lane {
                queue.release(&m, lane);
            }
            if !m.internal {
                out.push(m);
            }
        };
        for (m, lane) in self.batch.drain(..) {
            keep(m, lane);
        }
        while let Some(m) = self.rx.priority.recv().await {
            keep(m, Some(Lane::Priority));
        }
        while let Some(m) = self.rx.data.recv().await {
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

#[cfg(test)]
mod tests {
    //! The writer against a raw loopback socket: exact accounting when a frame is cut,
    //! when a close races the senders, and keepalive under a full data lane.
    use std::collections::HashSet;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicBool, AtomicU64};

    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpSocket, TcpStream};

    use super::*;
    use crate::peer::{PeerConfig, PeerInfo};
    use crate::wire::{Command, FrameDecoder, MAX_PAYLOAD_LEN, Network};

    fn info(addr: SocketAddr) -> PeerInfo {
        PeerInfo {
            addr: addr.into(),
            version: 70238,
            negotiated_version: 70238,
            services: 0,
            user_agent: String::new(),
            start_height: 0,
            relay: false,
            wants_addrv2: false,
            headers2: false,
            transport: crate::peer::Transport::V1,
            session_id: None,
        }
    }

    /// A connected pair with small socket buffers, so a large frame is cut by the kernel.
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpSocket::new_v4().unwrap();
        listener.set_recv_buffer_size(4096).unwrap();
        listener.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = listener.listen(1).unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpSocket::new_v4().unwrap();
        client.set_send_buffer_size(4096).unwrap();
        let (ours, theirs) = tokio::join!(client.connect(addr), listener.accept());
        (ours.unwrap(), theirs.unwrap().0)
    }

    /// The writer over v1 on `write_half`, as a connection starts it.
    fn spawn_v1_writer(
        shared: &Arc<Shared>,
        write_half: tokio::net::tcp::OwnedWriteHalf,
        rx: QueueReceiver,
    ) -> tokio::task::JoinHandle<Vec<OutboundMessage>> {
        let magic = shared.config.network.magic();
        tokio::spawn(run(shared.clone(), write_half, Encoder::V1 { magic }, rx))
    }

    fn message(n: u64, len: usize) -> OutboundMessage {
        let mut payload = vec![(n % 251) as u8; len.max(8)];
        payload[..8].copy_from_slice(&n.to_le_bytes());
        OutboundMessage::new(Command::new("tx").unwrap(), payload, n)
    }

    /// Frames the remote received whole (command, first 8 payload bytes as a number).
    fn frames(magic: [u8; 4], mut bytes: &[u8]) -> Vec<(String, u64)> {
        let mut d = FrameDecoder::new(magic, MAX_PAYLOAD_LEN);
        let mut out = Vec::new();
        while !bytes.is_empty() {
            if let Some(raw) = d.decode(&mut bytes).unwrap() {
                let n = raw
                    .payload
                    .get(..8)
                    .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap()));
                out.push((raw.command.as_str().to_string(), n));
            }
        }
        out
    }

    /// Reads everything until EOF, `chunk` bytes at a time with `pause` between reads.
    fn drain(mut s: TcpStream, chunk: usize, pause: Duration) -> tokio::task::JoinHandle<Vec<u8>> {
        tokio::spawn(async move {
            let mut all = Vec::new();
            let mut buf = vec![0u8; chunk];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return all,
                    Ok(n) => all.extend_from_slice(&buf[..n]),
                }
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
            }
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_frame_cut_by_the_flush_deadline_is_never_resent_nor_counted() {
        let (ours, theirs) = pair().await;
        let mut config = PeerConfig::new(Network::Regtest);
        config.flush_deadline = Duration::from_millis(300);
        let magic = config.network.magic();
        let (shared, rx) = Shared::new(1, info(ours.peer_addr().unwrap()), Arc::new(config));
        let (_read_half, write_half) = ours.into_split();
        let big = message(7, MAX_PAYLOAD_LEN);
        let mut frame = frame_header(magic, &big).to_vec();
        frame.extend_from_slice(&big.payload);
        shared.queue.push(big, Lane::Data).unwrap();
        shared.queue.push(message(8, 100), Lane::Data).unwrap();
        // The remote reads slowly: the 3 MiB frame takes seconds, the deadline 0.3 s.
        let remote = drain(theirs, 16 * 1024, Duration::from_millis(20));
        let writer = spawn_v1_writer(&shared, write_half, rx);
        tokio::time::sleep(Duration::from_millis(100)).await;
        shared.close(DisconnectReason::Shutdown);
        let undelivered = tokio::time::timeout(Duration::from_secs(10), writer)
            .await
            .expect("the writer ends within its deadline")
            .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(20), remote)
            .await
            .unwrap()
            .unwrap();
        assert!(
            !got.is_empty() && got.len() < frame.len(),
            "cut mid-frame: {}",
            got.len()
        );
        assert!(
            got == frame[..got.len()],
            "the remote must see one prefix of the frame, never a restart"
        );
        let tags: Vec<u64> = undelivered.iter().map(|m| m.tag).collect();
        assert_eq!(tags, vec![7, 8]);
        assert_eq!(shared.counters.msgs_out.load(Relaxed), 0);
        assert_eq!(shared.counters.bytes_out.load(Relaxed), got.len() as u64);
        assert_eq!(shared.queue.counts.depth(), (0, 0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_accepted_send_is_written_or_handed_back_when_a_close_races_senders() {
        for round in 0..20u64 {
            let (ours, theirs) = pair().await;
            let config = PeerConfig::new(Network::Regtest);
            let magic = config.network.magic();
            let (shared, rx) = Shared::new(1, info(ours.peer_addr().unwrap()), Arc::new(config));
            let (_read_half, write_half) = ours.into_split();
            let remote = drain(theirs, 64 * 1024, Duration::ZERO);
            let writer = spawn_v1_writer(&shared, write_half, rx);
            let next = Arc::new(AtomicU64::new(1));
            let senders: Vec<_> = (0..3)
                .map(|_| {
                    let (shared, next) = (shared.clone(), next.clone());
                    std::thread::spawn(move || {
                        let mut accepted = Vec::new();
                        loop {
                            let n = next.fetch_add(1, Relaxed);
                            match shared.queue.push(message(n, 200), Lane::Data) {
                                Ok(()) => accepted.push(n),
                                Err(crate::peer::SendError::QueueFull) => {}
                                Err(_) => return accepted,
                            }
                        }
                    })
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(5 + round % 7)).await;
            // Not graceful: the writer stops at once and hands back what is left.
            shared.close(DisconnectReason::RemoteClosed);
            let undelivered = writer.await.unwrap();
            let accepted: Vec<u64> = senders
                .into_iter()
                .flat_map(|t| t.join().unwrap())
                .collect();
            let got = remote.await.unwrap();
            let written: Vec<u64> = frames(magic, &got).into_iter().map(|(_, n)| n).collect();
            let back: Vec<u64> = undelivered.iter().map(|m| m.tag).collect();
            let w: HashSet<u64> = written.iter().copied().collect();
            let b: HashSet<u64> = back.iter().copied().collect();
            assert_eq!(w.len(), written.len(), "a message written twice");
            assert!(w.is_disjoint(&b), "a message both written and handed back");
            let a: HashSet<u64> = accepted.iter().copied().collect();
            let accounted: HashSet<u64> = w.union(&b).copied().collect();
            assert_eq!(
                a, accounted,
                "round {round}: accepted = written + handed back"
            );
            assert_eq!(shared.counters.msgs_out.load(Relaxed), written.len() as u64);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keepalive_pings_go_out_while_senders_keep_the_data_lane_full() {
        let (ours, theirs) = pair().await;
        let mut config = PeerConfig::new(Network::Regtest);
        config.ping_interval = Duration::from_millis(50);
        let magic = config.network.magic();
        let (shared, rx) = Shared::new(1, info(ours.peer_addr().unwrap()), Arc::new(config));
        let (_read_half, write_half) = ours.into_split();
        let remote = drain(theirs, 64 * 1024, Duration::ZERO);
        let writer = spawn_v1_writer(&shared, write_half, rx);
        let stop = Arc::new(AtomicBool::new(false));
        let feeder = {
            let (shared, stop) = (shared.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Relaxed) {
                    n += 1;
                    let _ = shared.queue.push(message(n, 1000), Lane::Data);
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(800)).await;
        stop.store(true, Relaxed);
        feeder.join().unwrap();
        shared.close(DisconnectReason::Requested);
        writer.await.unwrap();
        let got = remote.await.unwrap();
        let all = frames(magic, &got);
        let pings = all.iter().filter(|(c, _)| c == "ping").count();
        let data = all.iter().filter(|(c, _)| c == "tx").count();
        assert!(data > 1000, "the feeder kept the lane busy ({data} frames)");
        assert!(pings >= 1, "a ping went out among {data} data frames");
    }
}
