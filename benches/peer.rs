//! Peer benchmarks (a plain binary: `cargo bench --bench peer`). Under `cargo test` it
//! runs one short round of each, to prove every benchmark still works.
//!
//! Each figure is measured ROUNDS times (default 3, `DASHNET_BENCH_ROUNDS`) and reported
//! as the median of the per-round values with min..max, beside its baseline from the
//! same run:
//! - our ping RTT (p50 / p99) with the sim idle, flooding headers2 at a set rate, and
//!   flooding at full speed, against a model of the old design (dash-spv v0.42-dev: one
//!   lock over the whole socket shared by the reader, the keepalive and every sender; the
//!   reader holds it while it waits up to 10 ms for a frame, then decompresses headers2
//!   without it; see `OldPeer`);
//! - latency from `send()` to the bytes reaching the sim while it floods, same baseline;
//! - outbound throughput, 32-byte and 1 MiB payloads, against a raw write loop of the
//!   same frames on the same kind of socket (v1), and over BIP324 v2 against v1;
//! - inbound decode throughput (decrypt or checksum, then split into messages), v2
//!   against v1;
//! - wake-ups per second of the client's threads with 8 quiet peers, same baseline.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use dashnet::peer::{
    CodecPair, Peer, PeerConfig, PeerEvent, SendError, TransportMode, our_version,
};
use dashnet::sim::{Sim, SimConfig, SimStats};
use dashnet::wire::{
    Command, FrameDecoder, MAX_PAYLOAD_LEN, Message, Network, RawMessage, encode_frame,
};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

struct Bench {
    quick: bool,
    rounds: usize,
    rows: Vec<String>,
    /// Decimals of the ratio column (2 where the ratio is near 1).
    ratio_digits: usize,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn median_min_max(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (percentile(&v, 0.5), v[0], v[v.len() - 1])
}

fn fmt_us(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1} ms", v / 1000.0)
    } else {
        format!("{v:.0} us")
    }
}

impl Bench {
    fn row(
        &mut self,
        figure: &str,
        ours: Vec<f64>,
        base: Option<Vec<f64>>,
        unit: &str,
        lower_better: bool,
    ) {
        let show = |v: f64| match unit {
            "us" => fmt_us(v),
            other => format!("{v:.1} {other}"),
        };
        let (m, lo, hi) = median_min_max(ours);
        let (base_txt, ratio) = match base {
            Some(b) => {
                let (bm, blo, bhi) = median_min_max(b);
                let ratio = if lower_better { bm / m } else { m / bm };
                (
                    format!("{} ({}..{})", show(bm), show(blo), show(bhi)),
                    format!("{ratio:.*}x", self.ratio_digits),
                )
            }
            None => ("".into(), "".into()),
        };
        let line = format!(
            "| {figure} | {} | {}..{} | {base_txt} | {ratio} |",
            show(m),
            show(lo),
            show(hi)
        );
        println!("{line}");
        self.rows.push(line);
    }
}

fn peer_config() -> PeerConfig {
    PeerConfig::new(Network::Regtest)
}

fn runtime(name: &str) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()
        .unwrap()
}

/// Takes a dashnet peer's events (the flood) until it disconnects.
fn drain(mut rx: mpsc::Receiver<PeerEvent>) {
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
}

// ---------------------------------------------------------------- the old design

/// A model of the network layer dashnet replaces: dash-spv in rust-dashcore v0.42-dev,
/// `dash-spv/src/network/{peer.rs,manager.rs,pool.rs,constants.rs}` (line numbers below
/// are from that code, as read for this model):
/// - one unsplit socket and its framing buffer behind one lock per peer: the pool keeps
///   each peer in a tokio `RwLock<Peer>` (pool.rs:16), and reads and sends both take
///   `&mut self` (peer.rs:327, 385), so the write guard serialises everything; the
///   inner `Mutex<ConnectionState>` (peer.rs:21-32) is never contended and is folded in;
/// - the reader task loops with no pause: take the lock, then race "read 8 KiB chunks
///   (peer.rs:314) until a whole frame is buffered, check its checksum and decode it"
///   against a 10 ms timer (manager.rs:528-541, MESSAGE_POLL_INTERVAL in
///   constants.rs:44), drop the lock, handle the message, go round again at once
///   (manager.rs:738-741);
/// - headers2 are decompressed (X11 for each header) in the reader task after the lock
///   is dropped (manager.rs:669): senders are free meanwhile, but nothing is read;
/// - the peer's ping is answered by taking the lock again and writing the pong
///   (manager.rs:587-590); the keepalive ping (manager.rs:1070-1072) and every send
///   (manager.rs:1306-1327) take the same lock and write and flush inline
///   (peer.rs:358-365).
///
/// Left out, all small: the dispatcher mutex and the per-subscriber clone of each message,
/// per-message logging, the pool lookups before each lock.
struct OldConn {
    stream: TcpStream,
    decoder: FrameDecoder,
    /// Bytes read past the frame being decoded (the real code's framing buffer).
    pending: Vec<u8>,
}

struct OldPeer {
    conn: Arc<tokio::sync::Mutex<OldConn>>,
    rtts: Arc<Mutex<Vec<f64>>>,
    stop: Arc<AtomicBool>,
}

/// Reads until `conn` holds a whole frame; `None` when the socket closed. Cancel-safe:
/// its only await is the read, and what a read returns is kept in `pending` before the
/// next await.
async fn old_read_frame(conn: &mut OldConn) -> Option<RawMessage> {
    let mut tmp = [0u8; 8192];
    loop {
        while !conn.pending.is_empty() {
            let mut input = &conn.pending[..];
            let got = conn.decoder.decode(&mut input).unwrap();
            let used = conn.pending.len() - input.len();
            conn.pending.drain(..used); // a memmove, as the real framing buffer does
            if got.is_some() {
                return got;
            }
        }
        match conn.stream.read(&mut tmp).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => conn.pending.extend_from_slice(&tmp[..n]),
        }
    }
}

async fn old_connect(addr: SocketAddr, ping_every: Option<Duration>) -> OldPeer {
    let magic = Network::Regtest.magic();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let config = peer_config();
    s.write_all(&Message::Version(our_version(&config, addr, 42)).to_frame(magic))
        .await
        .unwrap();
    // The handshake reads whole frames one at a time, so nothing after verack is lost.
    let mut conn = OldConn {
        stream: s,
        decoder: FrameDecoder::new(magic, MAX_PAYLOAD_LEN),
        pending: Vec::new(),
    };
    loop {
        let raw = old_read_frame(&mut conn).await.expect("handshake");
        match raw.command.as_str() {
            "version" => {
                conn.stream
                    .write_all(&Message::SendAddrV2.to_frame(magic))
                    .await
                    .unwrap();
                conn.stream
                    .write_all(&Message::Verack.to_frame(magic))
                    .await
                    .unwrap();
            }
            "verack" => {
                conn.stream
                    .write_all(&Message::SendHeaders2.to_frame(magic))
                    .await
                    .unwrap();
                break;
            }
            _ => {}
        }
    }
    let conn = Arc::new(tokio::sync::Mutex::new(conn));
    let rtts = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let epoch = Instant::now();
    {
        let (conn, rtts, stop) = (conn.clone(), rtts.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Relaxed) {
                let got = {
                    let mut c = conn.lock().await;
                    tokio::select! {
                        frame = old_read_frame(&mut c) => match frame {
                            Some(raw) => Some(raw),
                            None => return,
                        },
                        _ = tokio::time::sleep(Duration::from_millis(10)) => None,
                    }
                }; // the lock is released here, for a few instructions
                let Some(raw) = got else { continue };
                match raw.command.as_str() {
                    "ping" => {
                        let mut c = conn.lock().await;
                        let pong = encode_raw(magic, "pong", &raw.payload);
                        let _ = c.stream.write_all(&pong).await;
                        let _ = c.stream.flush().await;
                    }
                    "pong" => {
                        // Our pings carry their send time (us since epoch) as nonce.
                        let sent = u64::from_le_bytes(raw.payload[..8].try_into().unwrap());
                        let now = epoch.elapsed().as_micros() as u64;
                        rtts.lock().push(now.saturating_sub(sent) as f64);
                    }
                    // Decompressed and hashed in the reader task, without the lock.
                    "headers2" | "headers" => {
                        std::hint::black_box(Message::from_raw(&raw).unwrap());
                    }
                    _ => {}
                }
            }
        });
    }
    if let Some(every) = ping_every {
        let (conn, stop) = (conn.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Relaxed) {
                tokio::time::sleep(every).await;
                let mut c = conn.lock().await;
                let sent = epoch.elapsed().as_micros() as u64;
                let _ = c
                    .stream
                    .write_all(&Message::Ping(sent).to_frame(magic))
                    .await;
                let _ = c.stream.flush().await;
            }
        });
    }
    OldPeer { conn, rtts, stop }
}

fn encode_raw(magic: [u8; 4], command: &str, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    encode_frame(magic, &Command::new(command).unwrap(), payload, &mut frame);
    frame
}

impl OldPeer {
    async fn send(&self, frame: &[u8]) {
        let mut c = self.conn.lock().await;
        c.stream.write_all(frame).await.unwrap();
        c.stream.flush().await.unwrap();
    }
}

impl Drop for OldPeer {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
    }
}

// ---------------------------------------------------------------- ping RTT

#[derive(Clone, Copy)]
enum Load {
    Idle,
    Rate(u32),
    Full,
}

fn sim_for(load: Load) -> SimConfig {
    match load {
        Load::Idle => SimConfig::default(),
        Load::Rate(r) => SimConfig {
            flood_headers2: Some(r),
            flood_batch: 2000,
            tip: 16_000,
            ..SimConfig::default()
        },
        Load::Full => SimConfig {
            flood_headers2: Some(0),
            flood_batch: 8000,
            tip: 16_000,
            ..SimConfig::default()
        },
    }
}

/// Starts a sim on its own runtime, so it does not share the client's threads.
fn start_sim(config: SimConfig) -> Sim {
    sim_runtime().block_on(Sim::start(config)).unwrap()
}

fn stop_sim(sim: Sim) {
    sim_runtime().block_on(sim.shutdown()).assert_clean();
}

fn sim_runtime() -> &'static Runtime {
    static RT: std::sync::OnceLock<Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| runtime("sim-rt"))
}

/// (p50, p99) of our ping RTT in microseconds over `samples` pings.
fn rtt_dashnet(rt: &Runtime, load: Load, samples: usize) -> (f64, f64) {
    rtt_dashnet_with(rt, load, samples, None)
}

/// The same with `decode_threads` set (then the samples are not kept for the plots).
fn rtt_dashnet_with(
    rt: &Runtime,
    load: Load,
    samples: usize,
    decode_threads: Option<usize>,
) -> (f64, f64) {
    let sim = start_sim(sim_for(load));
    let r = rt.block_on(async {
        let mut c = peer_config();
        if let Some(n) = decode_threads {
            c.decode_threads = n;
        }
        c.ping_interval = Duration::from_millis(20);
        c.pong_timeout = Duration::from_secs(600);
        let (tx, rx) = mpsc::channel(64);
        let peer = Peer::connect(1, sim.addr(), Arc::new(c), tx).await.unwrap();
        drain(rx);
        let mut got = Vec::new();
        let mut seen = 0;
        let (samples, cap) = match load {
            Load::Full => (samples.min(20), Duration::from_secs(20)),
            _ => (samples, Duration::from_secs(60)),
        };
        let deadline = Instant::now() + cap;
        while got.len() < samples && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
            let s = peer.stats();
            if s.pings_answered > seen {
                seen = s.pings_answered;
                got.push(s.ping_last_us as f64);
            }
        }
        peer.close(dashnet::peer::DisconnectReason::Shutdown);
        peer.closed().await;
        got.sort_by(|a, b| a.total_cmp(b));
        if decode_threads.is_none() {
            dump("rtt_dashnet", load, &got);
        }
        (percentile(&got, 0.5), percentile(&got, 0.99))
    });
    stop_sim(sim);
    r
}

/// Appends RTT samples (microseconds) for the report's plots.
fn dump(what: &str, load: Load, samples: &[f64]) {
    let name = match load {
        Load::Idle => "idle",
        Load::Rate(_) => "rate",
        Load::Full => "full",
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-report");
    let _ = std::fs::create_dir_all(&dir);
    let text: String = samples.iter().map(|v| format!("{v}\n")).collect();
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{what}_{name}.txt")))
    {
        let _ = f.write_all(text.as_bytes());
    }
}

fn rtt_old(rt: &Runtime, load: Load, samples: usize) -> (f64, f64) {
    let sim = start_sim(sim_for(load));
    let r = rt.block_on(async {
        let old = old_connect(sim.addr(), Some(Duration::from_millis(20))).await;
        let (samples, cap) = match load {
            Load::Full => (samples.min(20), Duration::from_secs(20)),
            _ => (samples, Duration::from_secs(60)),
        };
        let deadline = Instant::now() + cap;
        while old.rtts.lock().len() < samples && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut got = old.rtts.lock().clone();
        drop(old);
        got.sort_by(|a, b| a.total_cmp(b));
        dump("rtt_old", load, &got);
        (percentile(&got, 0.5), percentile(&got, 0.99))
    });
    stop_sim(sim);
    r
}

// ---------------------------------------------------------------- send-to-wire latency

fn stamp(epoch: Instant) -> Vec<u8> {
    (epoch.elapsed().as_nanos() as u64).to_le_bytes().to_vec()
}

fn latencies(sim: &SimStats, epoch: Instant) -> Vec<f64> {
    let mut v: Vec<f64> = sim
        .received
        .lock()
        .iter()
        .filter(|r| r.command.as_str() == "dnlat")
        .map(|r| {
            let sent = u64::from_le_bytes(r.payload[..8].try_into().unwrap());
            (r.at.duration_since(epoch).as_nanos() as u64).saturating_sub(sent) as f64 / 1000.0
        })
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

/// (p50, p99) microseconds from send() to the sim decoding the message, under `load`.
fn send_latency(rt: &Runtime, load: Load, samples: usize, old_design: bool) -> (f64, f64) {
    let sim = start_sim(SimConfig {
        record_messages: true,
        ..sim_for(load)
    });
    let r = rt.block_on(async {
        let epoch = Instant::now();
        let cmd = Command::new("dnlat").unwrap();
        if old_design {
            let old = old_connect(sim.addr(), None).await;
            for _ in 0..samples {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let mut frame = Vec::new();
                encode_frame(Network::Regtest.magic(), &cmd, &stamp(epoch), &mut frame);
                old.send(&frame).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            drop(old);
        } else {
            let (tx, rx) = mpsc::channel(64);
            let peer = Peer::connect(1, sim.addr(), Arc::new(peer_config()), tx)
                .await
                .unwrap();
            drain(rx);
            for _ in 0..samples {
                tokio::time::sleep(Duration::from_millis(5)).await;
                peer.send_raw(cmd, stamp(epoch), 0).unwrap();
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            peer.close(dashnet::peer::DisconnectReason::Shutdown);
            peer.closed().await;
        }
        let v = latencies(sim.stats(), epoch);
        (percentile(&v, 0.5), percentile(&v, 0.99))
    });
    stop_sim(sim);
    r
}

// ---------------------------------------------------------------- throughput

/// Throughput of `count` messages with `payload` bytes each through dashnet over the
/// transport `mode` picks: (wire MB/s, payload MB/s), and (v1 only, else 0) a raw write
/// loop of the same frames to the same kind of sink, in wire MB/s.
fn throughput(rt: &Runtime, payload: usize, count: usize, mode: TransportMode) -> (f64, f64, f64) {
    let sim = start_sim(SimConfig {
        sink: true,
        ..SimConfig::default()
    });
    let r = rt.block_on(async {
        let cmd = Command::new("dnbulk").unwrap();
        // v1: the 24-byte header; v2: length 3, header byte 1, the long message type 13
        // ("dnbulk" has no short ID), tag 16.
        let frame_len = match mode {
            TransportMode::V1Only => 24 + payload,
            _ => 33 + payload,
        } as u64;
        let total = frame_len * count as u64;
        // dashnet
        let (tx, rx) = mpsc::channel(64);
        let config = PeerConfig {
            transport: mode,
            ..peer_config()
        };
        let peer = Peer::connect(1, sim.addr(), Arc::new(config), tx)
            .await
            .unwrap();
        drain(rx);
        let base = SimStats::get(&sim.stats().bytes_received);
        let body = vec![0x5au8; payload];
        let t = Instant::now();
        let mut sent = 0;
        while sent < count {
            match peer.send_raw(cmd, body.clone(), 0) {
                Ok(()) => sent += 1,
                Err(SendError::QueueFull) => tokio::task::yield_now().await,
                Err(e) => panic!("{e}"),
            }
        }
        while SimStats::get(&sim.stats().bytes_received) - base < total {
            tokio::task::yield_now().await;
        }
        let secs = t.elapsed().as_secs_f64();
        let ours = total as f64 / secs / 1e6;
        let goodput = (payload * count) as f64 / secs / 1e6;
        peer.close(dashnet::peer::DisconnectReason::Shutdown);
        peer.closed().await;
        if mode != TransportMode::V1Only {
            return (ours, goodput, 0.0);
        }
        // raw write loop, to a sink on the sim's runtime like the sim's own sink
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let sink = sim_runtime().spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 64 * 1024];
            let mut got = 0u64;
            while got < total {
                let n = s.read(&mut buf).await.unwrap();
                assert!(n > 0);
                got += n as u64;
            }
        });
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        let mut frame = Vec::new();
        encode_frame(Network::Regtest.magic(), &cmd, &body, &mut frame);
        let t = Instant::now();
        for _ in 0..count {
            s.write_all(&frame).await.unwrap();
        }
        sink.await.unwrap();
        let raw = total as f64 / t.elapsed().as_secs_f64() / 1e6;
        (ours, goodput, raw)
    });
    stop_sim(sim);
    r
}

/// Payload MB/s of decoding `count` messages of `payload` bytes already on hand (the
/// reader's work: v2 decrypts, v1 verifies the checksum; both split and copy out).
fn decode_rate(rt: &Runtime, payload: usize, count: usize, v2: bool) -> f64 {
    let magic = Network::Regtest.magic();
    let mut pair = if v2 {
        rt.block_on(CodecPair::v2(magic))
    } else {
        CodecPair::v1(magic)
    };
    let cmd = Command::new("dnbulk").unwrap();
    let body = vec![0x5au8; payload];
    let mut wire = Vec::new();
    for _ in 0..count {
        pair.encode(&cmd, &body, &mut wire);
    }
    let t = Instant::now();
    let got = pair.decode_all(&wire);
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(got, payload * count);
    got as f64 / secs / 1e6
}

// ---------------------------------------------------------------- wake-ups

/// Context switches of this process's threads whose name starts with `prefix`.
fn ctx_switches(prefix: &str) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !comm.starts_with(prefix) {
            continue;
        }
        let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
        for line in status.lines() {
            if line.starts_with("voluntary_ctxt_switches")
                || line.starts_with("nonvoluntary_ctxt_switches")
            {
                total += line
                    .split_whitespace()
                    .last()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap();
            }
        }
    }
    total
}

/// Wake-ups per second of the client runtime's threads with 8 quiet peers.
fn wakeups(window: Duration, old_design: bool) -> f64 {
    let sim_rt = sim_runtime();
    let sims: Vec<Sim> = sim_rt.block_on(async {
        let mut v = Vec::new();
        for _ in 0..8 {
            v.push(Sim::start(SimConfig::default()).await.unwrap());
        }
        v
    });
    let client = runtime("client-rt");
    let addrs: Vec<SocketAddr> = sims.iter().map(|s| s.addr()).collect();
    let per_second = client.block_on(async {
        let mut peers = Vec::new();
        let mut olds = Vec::new();
        for (i, a) in addrs.iter().enumerate() {
            if old_design {
                olds.push(old_connect(*a, Some(Duration::from_secs(120))).await);
            } else {
                let (tx, rx) = mpsc::channel(64);
                peers.push(
                    Peer::connect(i as u64, *a, Arc::new(peer_config()), tx)
                        .await
                        .unwrap(),
                );
                drain(rx);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = ctx_switches("client-rt");
        let t = Instant::now();
        tokio::time::sleep(window).await;
        let after = ctx_switches("client-rt");
        let rate = (after - before) as f64 / t.elapsed().as_secs_f64();
        for p in &peers {
            p.close(dashnet::peer::DisconnectReason::Shutdown);
            p.closed().await;
        }
        drop(olds);
        rate
    });
    client.shutdown_timeout(Duration::from_secs(2));
    sim_rt.block_on(async {
        for s in sims {
            s.shutdown().await.assert_clean();
        }
    });
    per_second
}

// ---------------------------------------------------------------- main

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench")
        || std::env::var("DASHNET_BENCH_QUICK").is_ok_and(|v| v == "1");
    let rounds = if quick {
        1
    } else {
        std::env::var("DASHNET_BENCH_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3)
    };
    let mut b = Bench {
        quick,
        rounds,
        rows: Vec::new(),
        ratio_digits: 1,
    };
    let rt = runtime("bench-rt");
    let samples = if quick { 10 } else { 100 };
    let rate = 20; // headers2 messages of 2000 headers per second: ~40k headers/s
    println!(
        "dashnet peer benchmarks: {} round(s), X11 {}",
        b.rounds,
        if dashnet::wire::hash::X11_ACCELERATED {
            "accelerated"
        } else {
            "portable"
        }
    );
    println!(
        "| figure | dashnet median | min..max | old design / raw baseline median (min..max) | ratio |"
    );
    println!("|---|---|---|---|---|");
    for (name, load) in [
        ("idle", Load::Idle),
        ("flood 20 x 2000 headers2/s", Load::Rate(rate)),
        ("flood full speed", Load::Full),
    ] {
        let mut ours = (Vec::new(), Vec::new());
        let mut old = (Vec::new(), Vec::new());
        for _ in 0..b.rounds {
            let (p50, p99) = rtt_dashnet(&rt, load, samples);
            ours.0.push(p50);
            ours.1.push(p99);
            let (p50, p99) = rtt_old(&rt, load, samples);
            old.0.push(p50);
            old.1.push(p99);
        }
        b.row(
            &format!("ping RTT p50, sim {name}"),
            ours.0,
            Some(old.0),
            "us",
            true,
        );
        b.row(
            &format!("ping RTT p99, sim {name}"),
            ours.1,
            Some(old.1),
            "us",
            true,
        );
    }
    // Parallel decode: the same full-speed flood with 1 and 2 decode threads (a Peer
    // alone has no client-wide pool: its own pipeline depth is the bound).
    let (mut one, mut two) = (Vec::new(), Vec::new());
    for _ in 0..b.rounds {
        one.push(rtt_dashnet_with(&rt, Load::Full, samples, Some(1)).1);
        two.push(rtt_dashnet_with(&rt, Load::Full, samples, Some(2)).1);
    }
    b.ratio_digits = 2;
    b.row(
        "2 decode threads vs 1: ping RTT p99, sim flood full speed",
        two,
        Some(one),
        "us",
        true,
    );
    b.ratio_digits = 1;
    for (name, load) in [
        ("flood 20 x 2000 headers2/s", Load::Rate(rate)),
        ("flood full speed", Load::Full),
    ] {
        let mut ours = (Vec::new(), Vec::new());
        let mut old = (Vec::new(), Vec::new());
        for _ in 0..b.rounds {
            let (p50, p99) = send_latency(&rt, load, samples, false);
            ours.0.push(p50);
            ours.1.push(p99);
            let (p50, p99) = send_latency(&rt, load, samples, true);
            old.0.push(p50);
            old.1.push(p99);
        }
        b.row(
            &format!("send() to sim p50, {name}"),
            ours.0,
            Some(old.0),
            "us",
            true,
        );
        b.row(
            &format!("send() to sim p99, {name}"),
            ours.1,
            Some(old.1),
            "us",
            true,
        );
    }
    for (payload, count) in [
        (32usize, if quick { 20_000 } else { 400_000 }),
        (1 << 20, if quick { 20 } else { 400 }),
    ] {
        let mut ours = Vec::new();
        let mut raw = Vec::new();
        let (mut v2, mut v1) = (Vec::new(), Vec::new());
        for _ in 0..b.rounds {
            // v1 and v2 alternate within each round.
            let (o, good1, r) = throughput(&rt, payload, count, TransportMode::V1Only);
            ours.push(o);
            raw.push(r);
            v1.push(good1);
            let (_, good2, _) = throughput(&rt, payload, count, TransportMode::V2Only);
            v2.push(good2);
        }
        b.row(
            &format!("outbound MB/s, {payload}-byte payloads (v1)"),
            ours,
            Some(raw),
            "MB/s",
            false,
        );
        b.ratio_digits = 2;
        b.row(
            &format!("outbound payload MB/s, {payload}-byte payloads, v2 vs v1"),
            v2,
            Some(v1),
            "MB/s",
            false,
        );
        b.ratio_digits = 1;
    }
    for (payload, count) in [
        (32usize, if quick { 20_000 } else { 400_000 }),
        (1 << 20, if quick { 20 } else { 200 }),
    ] {
        let (mut v2, mut v1) = (Vec::new(), Vec::new());
        for _ in 0..b.rounds {
            v1.push(decode_rate(&rt, payload, count, false));
            v2.push(decode_rate(&rt, payload, count, true));
        }
        b.ratio_digits = 2;
        b.row(
            &format!("inbound decode payload MB/s, {payload}-byte payloads, v2 vs v1"),
            v2,
            Some(v1),
            "MB/s",
            false,
        );
        b.ratio_digits = 1;
    }
    let window = Duration::from_secs(if b.quick { 1 } else { 10 });
    let mut ours = Vec::new();
    let mut old = Vec::new();
    for _ in 0..b.rounds {
        ours.push(wakeups(window, false));
        old.push(wakeups(window, true));
    }
    // Fewer is better; the ratio is old / ours (with ours floored at 0.1/s to stay finite).
    let floor: Vec<f64> = ours.iter().map(|v| v.max(0.1)).collect();
    b.row("wake-ups/s, 8 quiet peers", floor, Some(old), "/s", true);
    let _ = std::fs::create_dir_all("target");
    let _ = std::fs::write("target/bench-peer.md", b.rows.join("\n") + "\n");
}
