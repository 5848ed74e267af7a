//! dashnet-sim: a small Dash node on loopback, for the demo, the tests, the benchmarks
//! and app developers' offline tests.
//!
//! It serves a deterministic regtest chain over the real protocol and behaves like Dash
//! Core in the handshake: it waits for our version, then sends version, sendaddrv2 and
//! verack; after our verack it sends sendheaders2 (or sendheaders), sendcmpct and senddsq
//! and pings at once and then every `ping_interval`, as Core does. It checks the client
//! frame by frame and records every departure from what Core accepts as a violation
//! ([`SimReport::violations`]; tests fail on any); where Core disconnects, it does too.
//! It answers getheaders (2000 per message), getheaders2 (8000 when the negotiated version
//! is >= 70235, else 2000), ping and getaddr, can misbehave on purpose, and a test can
//! inject messages, ping on demand and pause reading.
#![forbid(unsafe_code)]

pub mod chain;
mod conn;

pub use chain::{regtest_chain, regtest_genesis};
pub use conn::{sim_filter, sim_filter_header};

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::wire::network::{MIN_PEER_PROTO_VERSION, PROTOCOL_VERSION, services};
use crate::wire::{AddrV2Entry, Command, Message};

/// What a flood (`flood_headers2`, at its rate) sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FloodKind {
    /// headers2 messages of `flood_batch` headers from the chain.
    #[default]
    Headers2,
    /// Messages of an unknown command with a 3 MiB payload (the protocol maximum).
    Big,
    /// inv messages of 50,000 entries (the protocol maximum).
    Inv,
}

impl FloodKind {
    /// Parses the command-line name (`headers2`, `big`, `inv`).
    pub fn from_name(name: &str) -> Option<FloodKind> {
        Some(match name {
            "headers2" => FloodKind::Headers2,
            "big" => FloodKind::Big,
            "inv" => FloodKind::Inv,
            _ => return None,
        })
    }
}

/// A way to misbehave, once the handshake is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehavior {
    /// Never answer our version (the client's handshake times out).
    SilentHandshake,
    /// Send half of a headers2 message, then close.
    CloseMidMessage,
    /// Send bytes that are not a frame.
    Garbage,
    /// Send a ping whose checksum is wrong.
    BadChecksum,
    /// Send a frame header declaring a 4 GiB payload.
    OversizeLength,
    /// Send a headers2 message whose second header names a version index beyond the list.
    BadHeaders2VersionIndex,
    /// Answer getheaders / getheaders2 with a first header that fails proof of work.
    BadPowHeaders,
    /// v2: send 4095 bytes of garbage and a wrong garbage terminator.
    V2BadTerminator,
    /// v2: send a public key other than the one the session is derived from.
    V2WrongKey,
    /// v2: send a ping whose packet fails authentication (a flipped tag byte).
    V2BadTag,
    /// v2: send half of a headers2 packet, then close.
    V2Truncated,
    /// v2: send a packet whose length is over the 3 MiB message limit.
    V2OversizeLength,
    /// v2: send decoy packets: several before the version packet and before every message.
    V2Decoys,
    /// Answer a header request that has a stop hash with headers up to it whose last one
    /// is re-mined (another time, valid proof of work, same parent): a segment that does
    /// not link at its checkpoint.
    WrongCheckpoint,
    /// Answer the node's first two header requests, then none (pings still answered).
    StallMidSync,
}

impl Misbehavior {
    /// Parses the command-line name (`close-mid-message`, `garbage`, ...).
    pub fn from_name(name: &str) -> Option<Misbehavior> {
        Some(match name {
            "silent-handshake" => Misbehavior::SilentHandshake,
            "close-mid-message" => Misbehavior::CloseMidMessage,
            "garbage" => Misbehavior::Garbage,
            "bad-checksum" => Misbehavior::BadChecksum,
            "oversize-length" => Misbehavior::OversizeLength,
            "bad-headers2-version-index" => Misbehavior::BadHeaders2VersionIndex,
            "bad-pow-headers" => Misbehavior::BadPowHeaders,
            "v2-bad-terminator" => Misbehavior::V2BadTerminator,
            "v2-wrong-key" => Misbehavior::V2WrongKey,
            "v2-bad-tag" => Misbehavior::V2BadTag,
            "v2-truncated" => Misbehavior::V2Truncated,
            "v2-oversize-length" => Misbehavior::V2OversizeLength,
            "v2-decoys" => Misbehavior::V2Decoys,
            "wrong-checkpoint" => Misbehavior::WrongCheckpoint,
            "stall-mid-sync" => Misbehavior::StallMidSync,
            _ => return None,
        })
    }
}

/// How the simulated node behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen (port 0: any free port).
    pub bind: SocketAddr,
    /// Whose magic it speaks (its chain is a regtest chain whatever this says).
    pub network: crate::wire::Network,
    /// Height of the chain served.
    pub tip: u32,
    /// The start height its version claims (default: `tip`). A liar claims more.
    pub claimed_height: Option<i32>,
    /// Answer header requests (default). Off: they are counted and never answered, as a
    /// peer that stalls would.
    pub serve_headers: bool,
    /// Protocol version it speaks.
    pub protocol_version: u32,
    /// Services it advertises.
    pub services: u64,
    /// Its user agent.
    pub user_agent: String,
    /// Entries served on getaddr (as addrv2 to clients that sent sendaddrv2, else addr).
    pub addrs: Vec<AddrV2Entry>,
    /// Flood headers2 after the handshake: messages per second, 0 for full speed.
    pub flood_headers2: Option<u32>,
    /// Headers per flood message.
    pub flood_batch: usize,
    /// What the flood sends (headers2 by default).
    pub flood_kind: FloodKind,
    /// Stop reading after this many bytes past the handshake (the socket stays open).
    pub stop_reading_after: Option<u64>,
    /// Never answer pings.
    pub no_pong: bool,
    /// Answer pings this much later (a slow link, for RTT checks).
    pub pong_delay: Option<Duration>,
    /// Clients below this version are disconnected, as Dash Core does.
    pub min_peer_version: u32,
    /// Ping the client right after the handshake and then this often, as Dash Core does
    /// (every 2 minutes); `None`: only when a test calls [`Sim::ping_all`].
    pub ping_interval: Option<Duration>,
    /// Misbehave this way.
    pub misbehavior: Option<Misbehavior>,
    /// Keep every message received after the handshake (see [`SimStats::received`]).
    pub record_messages: bool,
    /// After the handshake, read and count bytes without decoding them (a throughput sink).
    pub sink: bool,
    /// How many listening sockets (same IP, the first on `bind`'s port, the rest on free
    /// ports): one node that looks like many addresses, for many-peer benchmarks.
    pub listeners: usize,
    /// Speak BIP324 v2 as a responder (default), and v1 with v1 initiators, as Dash Core
    /// does; NODE_P2P_V2 is then advertised. Off: v1 only, and a v2 initiator's key is
    /// answered as a v1 Dash Core answers it (the connection closes, no byte sent).
    pub v2: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            network: crate::wire::Network::Regtest,
            tip: 2000,
            claimed_height: None,
            serve_headers: true,
            protocol_version: PROTOCOL_VERSION,
            services: services::NETWORK | services::BLOOM | services::HEADERS_COMPRESSED,
            user_agent: format!("/dashnet-sim:{}/", env!("CARGO_PKG_VERSION")),
            addrs: Vec::new(),
            flood_headers2: None,
            flood_batch: 8000,
            flood_kind: FloodKind::Headers2,
            stop_reading_after: None,
            no_pong: false,
            pong_delay: None,
            min_peer_version: MIN_PEER_PROTO_VERSION,
            ping_interval: Some(Duration::from_secs(120)),
            misbehavior: None,
            record_messages: false,
            sink: false,
            listeners: 1,
            v2: true,
        }
    }
}

/// A message the sim received after the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Which connection (1, 2, ... in accept order).
    pub conn: u64,
    /// The command.
    pub command: Command,
    /// The payload.
    pub payload: Vec<u8>,
    /// When the sim decoded it.
    pub at: std::time::Instant,
}

/// What the sim saw.
#[derive(Debug, Default)]
pub struct SimStats {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Where each accepted connection came from, in order.
    pub remotes: Mutex<Vec<SocketAddr>>,
    /// Connections whose handshake completed in the right order.
    pub handshakes_ok: AtomicU64,
    /// Messages received after handshakes (all connections).
    pub messages_received: AtomicU64,
    /// Bytes received (all connections).
    pub bytes_received: AtomicU64,
    /// getheaders / getheaders2 received (answered unless `serve_headers` is off).
    pub header_requests: AtomicU64,
    /// getcfilters / getcfheaders / getcfcheckpt received.
    pub filter_requests: AtomicU64,
    /// Pings answered.
    pub pongs_sent: AtomicU64,
    /// Pings sent to clients.
    pub pings_sent: AtomicU64,
    /// Pongs received that answer one of our pings (a pong with any other nonce is a
    /// violation).
    pub pongs_received: AtomicU64,
    /// headers2 flood messages written.
    pub flood_messages: AtomicU64,
    /// Every departure from the handshake order Dash Core expects, one line each.
    pub violations: Mutex<Vec<String>>,
    /// The commands each connection sent during its handshake, in order.
    pub handshake_transcripts: Mutex<Vec<Vec<String>>>,
    /// With `record_messages`: what was received after handshakes.
    pub received: Mutex<Vec<Received>>,
    /// Messages received after handshakes, per command (all connections).
    pub commands: Mutex<BTreeMap<String, u64>>,
    /// The transport of each connection that got past the transport's own handshake,
    /// in order, with the v2 session id.
    pub transports: Mutex<Vec<(crate::peer::Transport, Option<[u8; 32]>)>>,
    /// v2 handshakes that failed (the reason, one line each).
    pub v2_failures: Mutex<Vec<String>>,
    /// v2 keys received while v2 is off (closed at once, as a v1 node does).
    pub v2_refused: AtomicU64,
    /// The services each client's version advertised, in order.
    pub client_services: Mutex<Vec<u64>>,
}

impl SimStats {
    fn violation(&self, text: String) {
        self.violations.lock().push(text);
    }

    /// A load of a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// How many `command` messages arrived after handshakes.
    pub fn received_count(&self, command: &str) -> u64 {
        self.commands.lock().get(command).copied().unwrap_or(0)
    }
}

/// What a stopped sim saw; `#[must_use]` so that no test forgets to look at violations.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a test must check the violations"]
pub struct SimReport {
    /// Every departure from what Dash Core accepts, one line each.
    pub violations: Vec<String>,
    /// Messages received after handshakes, per command.
    pub commands: BTreeMap<String, u64>,
}

impl SimReport {
    /// Panics with every violation listed unless there were none (for tests).
    pub fn assert_clean(&self) {
        assert!(
            self.violations.is_empty(),
            "dashnet-sim saw violations:\n{}",
            self.violations.join("\n")
        );
    }
}

/// The lanes of one live connection, for what a test injects.
#[derive(Debug)]
pub(crate) struct Lanes {
    pub priority: tokio::sync::mpsc::UnboundedSender<Vec<u8>>,
    pub data: tokio::sync::mpsc::Sender<Vec<u8>>,
}

/// State shared by the connections and the test's handle.
#[derive(Debug, Default)]
pub(crate) struct Control {
    /// Live connections after their handshake, by id.
    pub lanes: Mutex<HashMap<u64, Lanes>>,
    /// Nonces of our pings not answered yet.
    pub pings: Mutex<std::collections::HashSet<u64>>,
    /// Next ping nonce.
    pub next_nonce: AtomicU64,
}

/// A running simulated node.
#[derive(Debug)]
pub struct Sim {
    addr: SocketAddr,
    addrs: Vec<SocketAddr>,
    stats: Arc<SimStats>,
    stop: watch::Sender<bool>,
    reading: watch::Sender<bool>,
    control: Arc<Control>,
    magic: [u8; 4],
    task: tokio::task::JoinHandle<()>,
}

impl Sim {
    /// Mines (or loads) the chain, binds, and starts accepting on the current runtime.
    pub async fn start(config: SimConfig) -> std::io::Result<Sim> {
        let tip = config.tip;
        let chain = tokio::task::spawn_blocking(move || chain::regtest_chain(tip))
            .await
            .map_err(std::io::Error::other)?;
        let mut listeners = vec![TcpListener::bind(config.bind).await?];
        let mut other = config.bind;
        other.set_port(0);
        for _ in 1..config.listeners.max(1) {
            listeners.push(TcpListener::bind(other).await?);
        }
        let addrs = listeners
            .iter()
            .map(|l| l.local_addr())
            .collect::<std::io::Result<Vec<_>>>()?;
        let stats = Arc::new(SimStats::default());
        let (stop, stop_rx) = watch::channel(false);
        let (reading, reading_rx) = watch::channel(true);
        let control = Arc::new(Control {
            next_nonce: AtomicU64::new(0x51_4d00_0000_0001),
            ..Control::default()
        });
        let magic = config.network.magic();
        let shared = Arc::new(conn::SimShared::new(
            config,
            chain,
            stats.clone(),
            control.clone(),
            reading_rx,
        ));
        let task = tokio::spawn(async move {
            let mut loops = JoinSet::new();
            let counter = Arc::new(AtomicU64::new(0));
            for l in listeners {
                loops.spawn(accept_loop(
                    l,
                    shared.clone(),
                    stop_rx.clone(),
                    counter.clone(),
                ));
            }
            while loops.join_next().await.is_some() {}
        });
        Ok(Sim {
            addr: addrs[0],
            addrs,
            stats,
            stop,
            reading,
            control,
            magic,
            task,
        })
    }

    /// The address it listens on (the first, with several listeners).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every address it listens on.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// What it saw so far.
    pub fn stats(&self) -> &SimStats {
        &self.stats
    }

    /// A shared handle to the statistics.
    pub fn stats_arc(&self) -> Arc<SimStats> {
        self.stats.clone()
    }

    /// Queues `messages`, in order, on the data lane of every connection past its
    /// handshake (behind what is already queued there). Returns how many connections.
    pub async fn inject(&self, messages: &[Message]) -> usize {
        let lanes: Vec<_> = self
            .control
            .lanes
            .lock()
            .values()
            .map(|l| l.data.clone())
            .collect();
        for lane in &lanes {
            for m in messages {
                let _ = lane.send(m.to_frame(self.magic)).await;
            }
        }
        lanes.len()
    }

    /// A fresh ping nonce the sim will accept a pong for: to put a `Message::Ping` of your
    /// own into [`Sim::inject`] (behind data, where `ping_all` goes ahead of it).
    pub fn ping_nonce(&self) -> u64 {
        let nonce = self.control.next_nonce.fetch_add(1, Ordering::Relaxed);
        self.control.pings.lock().insert(nonce);
        nonce
    }

    /// Sends a ping ahead of queued data to every connection past its handshake; returns
    /// its nonce (one nonce for all).
    pub fn ping_all(&self) -> u64 {
        let nonce = self.ping_nonce();
        let frame = Message::Ping(nonce).to_frame(self.magic);
        for l in self.control.lanes.lock().values() {
            if l.priority.send(frame.clone()).is_ok() {
                self.stats.pings_sent.fetch_add(1, Ordering::Relaxed);
            }
        }
        nonce
    }

    /// Stops (false) or resumes (true) reading from every connection; the sockets stay
    /// open and what the sim sends still goes out.
    pub fn set_reading(&self, on: bool) {
        self.reading.send_replace(on);
    }

    /// Stops listening, closes every connection, waits for all its tasks to end, and
    /// reports what it saw.
    pub async fn shutdown(self) -> SimReport {
        self.stop.send_replace(true);
        let _ = self.task.await;
        SimReport {
            violations: self.stats.violations.lock().clone(),
            commands: self.stats.commands.lock().clone(),
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<conn::SimShared>,
    mut stop: watch::Receiver<bool>,
    ids: Arc<AtomicU64>,
) {
    let mut conns = JoinSet::new();
    let conn_stop = stop.clone();
    loop {
        tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => {
                let Ok((stream, from)) = accepted else { continue };
                let id = ids.fetch_add(1, Ordering::Relaxed) + 1;
                shared.stats.connections.fetch_add(1, Ordering::Relaxed);
                shared.stats.remotes.lock().push(from);
                conns.spawn(conn::serve(stream, id, shared.clone(), conn_stop.clone()));
            }
        }
    }
    drop(listener);
    conns.shutdown().await;
}
