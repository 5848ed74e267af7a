//! One simulated-node connection: Dash Core's side of the handshake, then serving.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{mpsc, watch};

use super::chain::Chain;
use super::{Control, Lanes, Misbehavior, Received, SimConfig, SimStats};
use crate::peer::Transport;
use crate::peer::transport::{
    self as tp, Decoder, Encoder, ResponderStyle, Step, respond, sniff_v1,
};
use crate::wire::header::check_pow_of;
use crate::wire::message::commands;
use crate::wire::network::{ADDRV2_VERSION, headers_per_message, services};
use crate::wire::payloads::{
    CFCheckpt, CFHeaders, CFilter, FilterRange, GetCFCheckpt, SendCmpct, filter_hash, filter_header,
};
use crate::wire::{
    FrameDecoder, Hash256, HashedHeader, Locator, MAX_PAYLOAD_LEN, Message, NetAddr, Network,
    RawMessage, TimedAddr, Version, encode_frame,
};

pub(crate) struct SimShared {
    pub config: SimConfig,
    pub chain: Arc<Chain>,
    pub stats: Arc<SimStats>,
    pub control: Arc<Control>,
    reading: watch::Receiver<bool>,
    magic: [u8; 4],
    /// Pre-encoded headers2 flood frames (built on first use).
    flood: std::sync::OnceLock<Vec<Vec<u8>>>,
}

impl SimShared {
    pub fn new(
        config: SimConfig,
        chain: Arc<Chain>,
        stats: Arc<SimStats>,
        control: Arc<Control>,
        reading: watch::Receiver<bool>,
    ) -> Self {
        SimShared {
            magic: config.network.magic(),
            config,
            chain,
            stats,
            control,
            reading,
            flood: std::sync::OnceLock::new(),
        }
    }

    fn frame(&self, msg: &Message) -> Vec<u8> {
        msg.to_frame(self.magic)
    }

    /// Whether it speaks v2: when asked to, unless its misbehaviour breaks v1 framing
    /// (garbage, a bad checksum, an oversize v1 length, a cut v1 frame), which only a v1
    /// connection can carry.
    fn speaks_v2(&self) -> bool {
        self.config.v2
            && !matches!(
                self.config.misbehavior,
                Some(
                    Misbehavior::Garbage
                        | Misbehavior::BadChecksum
                        | Misbehavior::OversizeLength
                        | Misbehavior::CloseMidMessage
                )
            )
    }

    /// Its services, NODE_P2P_V2 included when it speaks v2.
    fn advertised_services(&self) -> u64 {
        if self.speaks_v2() {
            self.config.services | services::P2P_V2
        } else {
            self.config.services
        }
    }

    /// How its v2 responder behaves (its misbehaviour, if that is a v2 one).
    fn responder_style(&self) -> ResponderStyle {
        let m = self.config.misbehavior;
        ResponderStyle {
            garbage: 64,
            bad_terminator: m == Some(Misbehavior::V2BadTerminator),
            wrong_key: m == Some(Misbehavior::V2WrongKey),
            decoys: if m == Some(Misbehavior::V2Decoys) {
                5
            } else {
                0
            },
        }
    }

    /// Blocks served: 0..=tip.
    fn served(&self) -> u32 {
        self.config.tip.min(self.chain.tip_height()) + 1
    }

    fn flood_frames(&self) -> &[Vec<u8>] {
        self.flood.get_or_init(|| match self.config.flood_kind {
            super::FloodKind::Headers2 => {
                let batch = self.config.flood_batch.max(1);
                let last = (self.served() - 1).min(8 * batch as u32);
                self.chain
                    .headers(1, last)
                    .chunks(batch)
                    .take(8)
                    .map(|c| self.frame(&Message::Headers2(c.to_vec())))
                    .collect()
            }
            super::FloodKind::Big => {
                let payload = vec![0x5a; crate::wire::MAX_PAYLOAD_LEN];
                let mut frame = Vec::new();
                let command = crate::wire::Command::new("dnbig").expect("a valid command");
                crate::wire::frame::encode_frame(self.magic, &command, &payload, &mut frame);
                vec![frame]
            }
            super::FloodKind::Inv => {
                let list = (0..crate::wire::payloads::MAX_INV as u32)
                    .map(|i| crate::wire::payloads::Inventory {
                        kind: crate::wire::payloads::InvType(1),
                        hash: crate::wire::Hash256(crate::wire::sha256d(&i.to_le_bytes()).0),
                    })
                    .collect();
                vec![self.frame(&Message::Inv(list))]
            }
        })
    }
}

#[derive(PartialEq)]
enum Phase {
    AwaitVersion,
    AwaitVerack,
    AwaitSendHeaders,
    Ready,
}

struct Conn {
    id: u64,
    shared: Arc<SimShared>,
    phase: Phase,
    negotiated: u32,
    client_services: u64,
    wants_addrv2: bool,
    transcript: Vec<String>,
    priority: mpsc::UnboundedSender<Vec<u8>>,
    data: mpsc::Sender<Vec<u8>>,
    transport: Transport,
}

/// How long a peer may take over the v2 key exchange.
const V2_HANDSHAKE: Duration = Duration::from_secs(10);

/// The transport handshake, as Dash Core answers an inbound connection: the first
/// bytes tell a v1 initiator (`magic + "version"`) from a v2 one. `None`: closed.
async fn open_transport(
    stream: &mut TcpStream,
    shared: &SimShared,
) -> Option<(Encoder, Decoder, Vec<u8>)> {
    let magic = shared.magic;
    let (v1, read) = match tokio::time::timeout(V2_HANDSHAKE, sniff_v1(stream, magic)).await {
        Ok(Ok(r)) => r,
        _ => return None,
    };
    let stats = &shared.stats;
    if v1 {
        stats.transports.lock().push((Transport::V1, None));
        return Some((
            Encoder::V1 { magic },
            Decoder::V1(FrameDecoder::new(magic, MAX_PAYLOAD_LEN)),
            read,
        ));
    }
    if !shared.speaks_v2() {
        // A v1 node reads a frame header, finds the wrong magic and closes.
        stats.v2_refused.fetch_add(1, Relaxed);
        return None;
    }
    let style = shared.responder_style();
    let work = respond(stream, magic, MAX_PAYLOAD_LEN, read, &style);
    match tokio::time::timeout(V2_HANDSHAKE, work).await {
        Ok(Ok(session)) => {
            stats
                .transports
                .lock()
                .push((Transport::V2, Some(session.session_id)));
            Some((session.encoder, session.decoder, session.leftover))
        }
        Ok(Err(reason)) => {
            stats.v2_failures.lock().push(reason.to_string());
            None
        }
        Err(_) => {
            stats
                .v2_failures
                .lock()
                .push("v2 handshake timed out".into());
            None
        }
    }
}

pub(crate) async fn serve(
    mut stream: TcpStream,
    id: u64,
    shared: Arc<SimShared>,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let opened = tokio::select! {
        _ = stop.wait_for(|s| *s) => None,
        o = open_transport(&mut stream, &shared) => o,
    };
    let Some((encoder, mut decoder, first)) = opened else {
        return;
    };
    let (mut rd, wr) = stream.into_split();
    let (ptx, prx) = mpsc::unbounded_channel();
    let (dtx, drx) = mpsc::channel(2);
    let (closed_tx, mut closed_rx) = watch::channel(false);
    let transport = encoder.transport();
    let fault = shared
        .config
        .misbehavior
        .filter(|_| transport == Transport::V2);
    // The connection's tasks end with it, also when the sim's shutdown aborts this task
    // (a writer left running would keep the socket open).
    let mut tasks = ConnTasks {
        id,
        control: shared.control.clone(),
        tasks: vec![tokio::spawn(write_loop(
            wr, encoder, fault, prx, drx, closed_tx,
        ))],
    };
    let mut conn = Conn {
        id,
        shared: shared.clone(),
        phase: Phase::AwaitVersion,
        negotiated: 0,
        client_services: 0,
        wants_addrv2: false,
        transcript: Vec::new(),
        priority: ptx,
        data: dtx,
        transport,
    };
    let mut pending = first;
    let mut buf = vec![0u8; 64 * 1024];
    let mut after_handshake = 0u64;
    let mut reading = shared.reading.clone();
    'outer: loop {
        if !*reading.borrow_and_update() {
            // A test paused reading: the socket stays open, the writer still writes.
            tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                _ = closed_rx.wait_for(|c| *c) => break,
                _ = reading.wait_for(|r| *r) => {}
            }
        }
        if let Some(limit) = shared.config.stop_reading_after
            && conn.phase == Phase::Ready
            && after_handshake >= limit
        {
            // Stop reading but keep the socket open until told to stop.
            tokio::select! {
                _ = stop.wait_for(|s| *s) => {}
                _ = closed_rx.wait_for(|c| *c) => {}
            }
            break;
        }
        let n = if !pending.is_empty() {
            let n = pending.len();
            buf[..n].copy_from_slice(&pending);
            pending.clear();
            n
        } else {
            tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => break,
                _ = closed_rx.wait_for(|c| *c) => break,
                r = rd.read(&mut buf) => match r {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                },
            }
        };
        shared.stats.bytes_received.fetch_add(n as u64, Relaxed);
        if conn.phase == Phase::Ready {
            after_handshake += n as u64;
            if shared.config.sink {
                continue;
            }
        }
        let mut input = &buf[..n];
        while !input.is_empty() {
            let raw = match decoder.decode(&mut input) {
                Ok(Step::Message(raw)) => raw,
                Ok(Step::Need | Step::Skipped) => continue,
                Err(e) => {
                    shared.stats.violation(format!("conn {id}: bad frame: {e}"));
                    break 'outer;
                }
            };
            let was_ready = conn.phase == Phase::Ready;
            if !conn.handle(raw).await {
                break 'outer;
            }
            decoder.set_negotiated(conn.negotiated);
            if !was_ready && conn.phase == Phase::Ready {
                shared
                    .stats
                    .handshake_transcripts
                    .lock()
                    .push(conn.transcript.clone());
                if conn.transcript_ok() {
                    shared.stats.handshakes_ok.fetch_add(1, Relaxed);
                } else {
                    conn.violation(format!(
                        "handshake {:?}, Dash Core expects {:?}",
                        conn.transcript,
                        conn.expected_transcript()
                    ));
                }
                shared.control.lanes.lock().insert(
                    id,
                    Lanes {
                        priority: conn.priority.clone(),
                        data: conn.data.clone(),
                    },
                );
                if let Some(every) = shared.config.ping_interval {
                    tasks.tasks.push(tokio::spawn(ping_loop(
                        shared.clone(),
                        conn.priority.clone(),
                        every,
                    )));
                }
                if let Some(m) = shared.config.misbehavior
                    && !conn.misbehave(m).await
                {
                    break 'outer;
                }
                if let Some(rate) = shared.config.flood_headers2 {
                    tasks.tasks.push(tokio::spawn(flood_loop(
                        shared.clone(),
                        conn.data.clone(),
                        rate,
                    )));
                }
            }
        }
    }
    drop(conn);
    drop(tasks);
}

/// Aborts a connection's tasks and forgets its lanes when dropped.
struct ConnTasks {
    id: u64,
    control: Arc<Control>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for ConnTasks {
    fn drop(&mut self) {
        self.control.lanes.lock().remove(&self.id);
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A frame on the lanes that tells a v2 writer to misbehave now (never on the wire).
const FAULT: &str = "dnsim-fault";

async fn write_loop(
    mut wr: OwnedWriteHalf,
    mut encoder: Encoder,
    fault: Option<Misbehavior>,
    mut priority: mpsc::UnboundedReceiver<Vec<u8>>,
    mut data: mpsc::Receiver<Vec<u8>>,
    closed: watch::Sender<bool>,
) {
    let v2 = encoder.transport() == Transport::V2;
    let mut armed = false;
    let mut out = Vec::new();
    loop {
        let frame = tokio::select! {
            biased;
            Some(f) = priority.recv() => f,
            Some(f) = data.recv() => f,
            else => break,
        };
        // An empty frame is the signal to close the connection.
        if frame.is_empty() {
            break;
        }
        if !v2 {
            if wr.write_all(&frame).await.is_err() {
                break;
            }
            continue;
        }
        // v2: the lanes carry v1 frames (the code above the transport is shared):
        // each is sealed as a packet here, in the order it goes out.
        out.clear();
        let mut rest = &frame[..];
        let mut close = false;
        while rest.len() >= 24 {
            let len = u32::from_le_bytes([rest[16], rest[17], rest[18], rest[19]]) as usize;
            let Some(payload) = rest.get(24..24 + len) else {
                break;
            };
            let mut name = [0u8; 12];
            name.copy_from_slice(&rest[4..16]);
            rest = &rest[24 + len..];
            let Some(command) = crate::wire::Command::from_wire(&name) else {
                continue;
            };
            if command.as_str() == FAULT {
                armed = true;
                if fault == Some(Misbehavior::V2OversizeLength) {
                    // A real packet over the limit: only its start is sent.
                    let big = vec![0u8; MAX_PAYLOAD_LEN + 64];
                    encoder.encode(&commands::BLOCK, &big, &mut out);
                    out.truncate(tp::V2_OVERHEAD + 100);
                    armed = false;
                }
                continue;
            }
            if fault == Some(Misbehavior::V2Decoys) {
                for n in [1usize, 300, 17] {
                    encoder.encode_decoy(n, &mut out);
                }
            }
            let start = out.len();
            encoder.encode(&command, payload, &mut out);
            if armed {
                armed = false;
                match fault {
                    Some(Misbehavior::V2BadTag) => {
                        let last = out.len() - 1;
                        out[last] ^= 0x01;
                    }
                    Some(Misbehavior::V2Truncated) => {
                        out.truncate(start + (out.len() - start) / 2);
                        close = true;
                    }
                    _ => {}
                }
            }
        }
        if wr.write_all(&out).await.is_err() || close {
            break;
        }
        if out.capacity() > 1 << 20 {
            out = Vec::new();
        }
    }
    let _ = wr.shutdown().await;
    closed.send_replace(true);
}

async fn flood_loop(shared: Arc<SimShared>, data: mpsc::Sender<Vec<u8>>, rate: u32) {
    let frames = shared.flood_frames();
    let mut tick = (rate > 0).then(|| tokio::time::interval(Duration::from_secs(1) / rate));
    for frame in frames.iter().cycle() {
        if let Some(t) = tick.as_mut() {
            t.tick().await;
        }
        if data.send(frame.clone()).await.is_err() {
            return;
        }
        shared.stats.flood_messages.fetch_add(1, Relaxed);
    }
}

/// Pings the client at once and then every `every`, as Dash Core does (every 2 minutes).
async fn ping_loop(shared: Arc<SimShared>, lane: mpsc::UnboundedSender<Vec<u8>>, every: Duration) {
    loop {
        let nonce = shared.control.next_nonce.fetch_add(1, Relaxed);
        shared.control.pings.lock().insert(nonce);
        if lane.send(shared.frame(&Message::Ping(nonce))).is_err() {
            return;
        }
        shared.stats.pings_sent.fetch_add(1, Relaxed);
        tokio::time::sleep(every).await;
    }
}

impl Conn {
    fn violation(&self, text: impl std::fmt::Display) {
        self.shared
            .stats
            .violation(format!("conn {}: {text}", self.id));
    }

    fn send(&self, msg: &Message) {
        let _ = self.priority.send(self.shared.frame(msg));
    }

    async fn send_data(&self, frame: Vec<u8>) {
        let _ = self.data.send(frame).await;
    }

    /// Whether the sim advertises compressed headers (then the client must ask for them).
    fn serves_headers2(&self) -> bool {
        self.shared.config.services & services::HEADERS_COMPRESSED != 0
    }

    /// The handshake expected from an outbound client, frame for frame: sendaddrv2 before
    /// verack from 70223, then sendheaders2 to a peer with HEADERS_COMPRESSED, else
    /// sendheaders.
    fn expected_transcript(&self) -> Vec<&'static str> {
        let mut expect = vec!["version"];
        if self.negotiated >= ADDRV2_VERSION {
            expect.push("sendaddrv2");
        }
        expect.push("verack");
        expect.push(if self.serves_headers2() {
            "sendheaders2"
        } else {
            "sendheaders"
        });
        expect
    }

    fn transcript_ok(&self) -> bool {
        self.transcript == self.expected_transcript()
    }

    /// Handles one message; false closes the connection.
    async fn handle(&mut self, raw: RawMessage) -> bool {
        let cmd = raw.command.as_str().to_string();
        if self.phase != Phase::Ready {
            self.transcript.push(cmd.clone());
        }
        let msg = match Message::from_raw(&raw) {
            Ok(m) => m,
            Err(e) => {
                self.violation(format!("undecodable {cmd}: {e}"));
                return false;
            }
        };
        match self.phase {
            Phase::AwaitVersion => {
                let Message::Version(v) = msg else {
                    self.violation(format!("first message was {cmd}, not version"));
                    return false;
                };
                if self.shared.config.misbehavior == Some(Misbehavior::SilentHandshake) {
                    return true;
                }
                if !self.check_version(&v, &raw) {
                    return false;
                }
                self.client_services = v.services;
                self.shared.stats.client_services.lock().push(v.services);
                self.negotiated = v.version.min(self.shared.config.protocol_version);
                self.send(&Message::Version(self.our_version()));
                if self.negotiated >= ADDRV2_VERSION {
                    self.send(&Message::SendAddrV2);
                }
                self.send(&Message::Verack);
                self.phase = Phase::AwaitVerack;
                true
            }
            Phase::AwaitVerack => match msg {
                Message::SendAddrV2 => {
                    self.wants_addrv2 = true;
                    true
                }
                Message::Verack => {
                    // What Dash Core sends once both veracks are through (its pings start
                    // with the ping loop when the handshake is done).
                    let announce = if self.client_services & services::HEADERS_COMPRESSED != 0 {
                        Message::SendHeaders2
                    } else {
                        Message::SendHeaders
                    };
                    self.send(&announce);
                    self.send(&Message::SendCmpct(SendCmpct {
                        announce: false,
                        version: 1,
                    }));
                    self.send(&Message::SendDsq(true));
                    self.phase = Phase::AwaitSendHeaders;
                    true
                }
                _ => {
                    self.violation(format!("{cmd} before verack"));
                    true
                }
            },
            Phase::AwaitSendHeaders => {
                match msg {
                    // Dash Core disconnects a peer that sends sendaddrv2 after verack.
                    Message::SendAddrV2 => {
                        self.violation("sendaddrv2 after verack");
                        return false;
                    }
                    Message::SendHeaders2 if self.serves_headers2() => {}
                    Message::SendHeaders if !self.serves_headers2() => {}
                    _ => {} // reported with the whole transcript once Ready
                }
                self.phase = Phase::Ready;
                true
            }
            Phase::Ready => self.serve(msg, raw).await,
        }
    }

    /// Checks the client's version; false where Dash Core would disconnect.
    fn check_version(&self, v: &Version, raw: &RawMessage) -> bool {
        let min = self.shared.config.min_peer_version;
        if v.version < min {
            self.violation(format!(
                "version {} is below the minimum {min}: Dash Core disconnects",
                v.version
            ));
            return false;
        }
        if v.nonce == self.our_version().nonce {
            self.violation("our own nonce: Dash Core disconnects (a connection to itself)");
            return false;
        }
        if v.user_agent.len() > 256 {
            self.violation("user agent over 256 bytes: Dash Core disconnects");
            return false;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        if (v.timestamp - now).abs() > 70 * 60 {
            self.violation(format!(
                "version timestamp {} is {} s off",
                v.timestamp,
                v.timestamp - now
            ));
        }
        if v.services & services::NETWORK != 0 {
            self.violation("a light client advertising NODE_NETWORK");
        }
        if Message::Version(v.clone()).payload() != raw.payload {
            self.violation("version does not re-encode to the same bytes");
        }
        if v.masternode_connection != Some(false) {
            self.violation("version without masternode_connection = 0");
        }
        if v.relay.is_none() || v.mn_auth_challenge.is_none() {
            self.violation("version without relay and mn_auth_challenge");
        }
        true
    }

    fn our_version(&self) -> Version {
        let c = &self.shared.config;
        Version {
            version: c.protocol_version,
            services: self.shared.advertised_services(),
            timestamp: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
            receiver: NetAddr::default(),
            sender: NetAddr {
                services: self.shared.advertised_services(),
                ..NetAddr::default()
            },
            nonce: 0x5349_4d5f_4e4f_4445 ^ self.id,
            user_agent: c.user_agent.clone().into_bytes(),
            start_height: c.claimed_height.unwrap_or(c.tip as i32),
            relay: Some(true),
            mn_auth_challenge: Some([0x42; 32]),
            masternode_connection: Some(false),
            extra: Vec::new(),
        }
    }

    async fn serve(&mut self, msg: Message, raw: RawMessage) -> bool {
        let stats = &self.shared.stats;
        stats.messages_received.fetch_add(1, Relaxed);
        *stats
            .commands
            .lock()
            .entry(raw.command.as_str().to_string())
            .or_insert(0) += 1;
        match msg {
            Message::Pong(n) => {
                if self.shared.control.pings.lock().remove(&n) {
                    stats.pongs_received.fetch_add(1, Relaxed);
                } else {
                    self.violation(format!("pong {n:#x} answers no ping of ours"));
                }
            }
            Message::Version(_) => self.violation("a second version"),
            Message::Verack => self.violation("a second verack"),
            Message::Ping(n) if !self.shared.config.no_pong => {
                let frame = self.shared.frame(&Message::Pong(n));
                match self.shared.config.pong_delay {
                    Some(delay) => {
                        let lane = self.priority.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            let _ = lane.send(frame);
                        });
                    }
                    None => {
                        let _ = self.priority.send(frame);
                    }
                }
                stats.pongs_sent.fetch_add(1, Relaxed);
            }
            Message::GetHeaders(_) | Message::GetHeaders2(_)
                if !self.shared.config.serve_headers =>
            {
                self.shared.stats.header_requests.fetch_add(1, Relaxed);
            }
            Message::GetHeaders(l) => self.answer_headers(&l, false).await,
            Message::GetHeaders2(l) => self.answer_headers(&l, true).await,
            Message::GetCFilters(_) | Message::GetCFHeaders(_) | Message::GetCFCheckpt(_)
                if self.shared.config.services & services::COMPACT_FILTERS == 0 =>
            {
                self.violation(format!(
                    "{} without NODE_COMPACT_FILTERS: Dash Core disconnects",
                    raw.command
                ));
                return false;
            }
            Message::FilterLoad(_) | Message::FilterAdd(_) | Message::FilterClear
                if self.shared.config.services & services::BLOOM == 0 =>
            {
                self.violation(format!(
                    "{} without NODE_BLOOM: Dash Core disconnects",
                    raw.command
                ));
                return false;
            }
            Message::GetCFilters(r) => self.answer_cfilters(&r).await,
            Message::GetCFHeaders(r) => self.answer_cfheaders(&r).await,
            Message::GetCFCheckpt(r) => self.answer_cfcheckpt(&r).await,
            Message::GetAddr => {
                let entries = &self.shared.config.addrs;
                let msg = if self.wants_addrv2 {
                    Message::AddrV2(entries.clone())
                } else {
                    Message::Addr(
                        entries
                            .iter()
                            .filter_map(|e| {
                                Some(TimedAddr {
                                    time: e.time,
                                    addr: NetAddr::from_socket_addr(e.socket_addr()?, e.services),
                                })
                            })
                            .collect(),
                    )
                };
                self.send_data(self.shared.frame(&msg)).await;
            }
            Message::SendAddrV2 => {
                self.violation("sendaddrv2 after verack");
                return false;
            }
            _ => {}
        }
        if self.shared.config.record_messages {
            stats.received.lock().push(Received {
                conn: self.id,
                command: raw.command,
                payload: raw.payload,
                at: std::time::Instant::now(),
            });
        }
        true
    }

    /// The heights `start..=height(stop)` of a filter request, within `max` blocks and
    /// the served chain; None (a violation noted) otherwise.
    fn filter_range(&self, r: &FilterRange, max: u32) -> Option<std::ops::RangeInclusive<u32>> {
        let served = self.shared.served();
        let stop = self
            .shared
            .chain
            .height_of(&r.stop_hash)
            .filter(|h| *h < served);
        match stop {
            Some(stop)
                if r.filter_type == 0 && r.start_height <= stop && stop - r.start_height < max =>
            {
                Some(r.start_height..=stop)
            }
            _ => {
                self.violation(format!(
                    "filter request type {} heights {}..{:?} (at most {max}): Dash Core disconnects",
                    r.filter_type, r.start_height, stop
                ));
                None
            }
        }
    }

    async fn answer_cfilters(&self, r: &FilterRange) {
        self.shared.stats.filter_requests.fetch_add(1, Relaxed);
        let Some(range) = self.filter_range(r, 1000) else {
            return;
        };
        for h in range {
            let block = self.shared.chain.hash(h);
            let msg = Message::CFilter(CFilter {
                filter_type: 0,
                block_hash: block,
                filter: sim_filter(&block),
            });
            self.send_data(self.shared.frame(&msg)).await;
        }
    }

    async fn answer_cfheaders(&self, r: &FilterRange) {
        self.shared.stats.filter_requests.fetch_add(1, Relaxed);
        let Some(range) = self.filter_range(r, 2000) else {
            return;
        };
        let chain = &self.shared.chain;
        let prev = if *range.start() == 0 {
            Hash256::ZERO
        } else {
            sim_filter_header(chain, *range.start() - 1)
        };
        let msg = Message::CFHeaders(CFHeaders {
            filter_type: 0,
            stop_hash: r.stop_hash,
            previous_filter_header: prev,
            filter_hashes: range
                .map(|h| filter_hash(&sim_filter(&chain.hash(h))))
                .collect(),
        });
        self.send_data(self.shared.frame(&msg)).await;
    }

    async fn answer_cfcheckpt(&self, r: &GetCFCheckpt) {
        self.shared.stats.filter_requests.fetch_add(1, Relaxed);
        let served = self.shared.served();
        let Some(stop) = self
            .shared
            .chain
            .height_of(&r.stop_hash)
            .filter(|h| *h < served && r.filter_type == 0)
        else {
            self.violation("getcfcheckpt for an unknown stop or filter type");
            return;
        };
        let mut headers = Vec::new();
        let mut prev = Hash256::ZERO;
        for h in 0..=stop {
            prev = filter_header(&filter_hash(&sim_filter(&self.shared.chain.hash(h))), &prev);
            if h > 0 && h % 1000 == 0 {
                headers.push(prev);
            }
        }
        let msg = Message::CFCheckpt(CFCheckpt {
            filter_type: 0,
            stop_hash: r.stop_hash,
            filter_headers: headers,
        });
        self.send_data(self.shared.frame(&msg)).await;
    }

    async fn answer_headers(&self, locator: &Locator, compressed: bool) {
        let before = self.shared.stats.header_requests.fetch_add(1, Relaxed);
        if self.shared.config.misbehavior == Some(Misbehavior::StallMidSync) && before >= 2 {
            return;
        }
        let served = self.shared.served();
        let chain = &self.shared.chain;
        let fork = locator
            .hashes
            .iter()
            .find_map(|h| chain.height_of(h).filter(|height| *height < served))
            .unwrap_or(0) as usize;
        let limit = headers_per_message(compressed, self.negotiated);
        let mut end = (fork + 1 + limit).min(served as usize);
        if let Some(stop) = chain.height_of(&locator.stop)
            && locator.stop != Default::default()
        {
            end = end.min(stop as usize + 1).max(fork + 1);
        }
        let first = (fork + 1).min(end) as u32;
        let mut headers: Vec<HashedHeader> = chain.headers(first, end as u32 - 1);
        if self.shared.config.misbehavior == Some(Misbehavior::BadPowHeaders)
            && let Some(first) = headers.first_mut()
        {
            let mut h = *first.header();
            let limit = Network::Regtest.pow_limit_bits();
            loop {
                h.nonce = h.nonce.wrapping_add(1);
                let hash = h.block_hash();
                if check_pow_of(&h, &hash, limit).is_err() {
                    *first = HashedHeader::from_trusted_parts(h, hash);
                    break;
                }
            }
        }
        if self.shared.config.misbehavior == Some(Misbehavior::WrongCheckpoint)
            && locator.stop != Default::default()
            && chain.height_of(&locator.stop) == Some(end as u32 - 1)
            && let Some(last) = headers.last_mut()
        {
            let mut h = *last.header();
            h.time += 1;
            h.nonce = 0;
            let limit = Network::Regtest.pow_limit_bits();
            loop {
                let hash = h.block_hash();
                if check_pow_of(&h, &hash, limit).is_ok() {
                    *last = HashedHeader::from_trusted_parts(h, hash);
                    break;
                }
                h.nonce += 1;
            }
        }
        let msg = if compressed {
            Message::Headers2(headers)
        } else {
            Message::Headers(headers.iter().map(|h| *h.header()).collect())
        };
        self.send_data(self.shared.frame(&msg)).await;
    }

    /// Does `m` right after the handshake; false closes the connection.
    async fn misbehave(&self, m: Misbehavior) -> bool {
        let magic = self.shared.magic;
        match m {
            Misbehavior::SilentHandshake
            | Misbehavior::BadPowHeaders
            | Misbehavior::WrongCheckpoint
            | Misbehavior::StallMidSync => true,
            // Done in the handshake, or on every packet by the writer.
            Misbehavior::V2BadTerminator | Misbehavior::V2WrongKey | Misbehavior::V2Decoys => true,
            Misbehavior::V2BadTag | Misbehavior::V2Truncated | Misbehavior::V2OversizeLength => {
                // Tell the writer, then give it the message to spoil (v2 only: over v1
                // the marker frame would reach the client, so nothing is sent).
                if self.transport != Transport::V2 {
                    return true;
                }
                let mut frame = Vec::new();
                let fault = crate::wire::Command::new(FAULT).expect("a valid command");
                encode_frame(magic, &fault, &[], &mut frame);
                self.send_data(frame).await;
                let victim = if m == Misbehavior::V2BadTag {
                    self.shared.frame(&Message::Ping(7))
                } else {
                    self.shared
                        .frame(&Message::Headers2(self.shared.chain.headers(1, 10)))
                };
                self.send_data(victim).await;
                true
            }
            Misbehavior::CloseMidMessage => {
                let frame = self
                    .shared
                    .frame(&Message::Headers2(self.shared.chain.headers(1, 10)));
                self.send_data(frame[..frame.len() / 2].to_vec()).await;
                self.send_data(Vec::new()).await;
                true
            }
            Misbehavior::Garbage => {
                self.send_data(b"this is not a Dash frame, not even close....".to_vec())
                    .await;
                true
            }
            Misbehavior::BadChecksum => {
                let mut frame = self.shared.frame(&Message::Ping(7));
                frame[20] ^= 0xff;
                self.send_data(frame).await;
                true
            }
            Misbehavior::OversizeLength => {
                let mut frame = Vec::new();
                encode_frame(magic, &commands::BLOCK, &[], &mut frame);
                frame[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
                self.send_data(frame).await;
                true
            }
            Misbehavior::BadHeaders2VersionIndex => {
                let msg = Message::Headers2(self.shared.chain.headers(1, 3));
                let mut payload = msg.payload();
                // Second header: flags byte after the count and the 81-byte first header.
                let at = 1 + 81;
                payload[at] = (payload[at] & !0x07) | 0x07;
                let mut frame = Vec::new();
                encode_frame(magic, &commands::HEADERS2, &payload, &mut frame);
                self.send_data(frame).await;
                true
            }
        }
    }
}

/// The sim's filter for a block: deterministic bytes derived from its hash (the network
/// layer checks hashes and chains, not what a filter matches).
pub fn sim_filter(block: &Hash256) -> Vec<u8> {
    let mut f = vec![0x01];
    f.extend_from_slice(&crate::wire::sha256d(&block.0).0[..8]);
    f
}

/// The filter header of height `h` of `chain` under [`sim_filter`].
pub fn sim_filter_header(chain: &Chain, h: u32) -> Hash256 {
    let mut prev = Hash256::ZERO;
    for height in 0..=h {
        prev = filter_header(&filter_hash(&sim_filter(&chain.hash(height))), &prev);
    }
    prev
}
