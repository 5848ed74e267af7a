//! dashnet-sim: a small Dash node on loopback, for the demo, the tests, the benchmarks
//! and app developers' offline tests.
//!
//! It serves a deterministic regtest chain over the real protocol, behaves like Dash
//! Core in the handshake (waits for our version; then version, sendaddrv2, verack),
//! checks the client's handshake order frame by frame, answers getheaders (2000 per
//! message), getheaders2 (8000 when the negotiated version >= 70235, else 2000), ping
//! and getaddr, and can misbehave on purpose.
#![forbid(unsafe_code)]

pub mod chain;
mod conn;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::wire::network::{PROTOCOL_VERSION, services};
use crate::wire::{AddrV2Entry, Command};

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
            _ => return None,
        })
    }
}

/// How the simulated node behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen (port 0: any free port).
    pub bind: SocketAddr,
    /// Height of the chain served.
    pub tip: u32,
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
    /// Misbehave this way.
    pub misbehavior: Option<Misbehavior>,
    /// Keep every message received after the handshake (see [`SimStats::received`]).
    pub record_messages: bool,
    /// After the handshake, read and count bytes without decoding them (a throughput sink).
    pub sink: bool,
    /// How many listening sockets (same IP, the first on `bind`'s port, the rest on free
    /// ports): one node that looks like many addresses, for many-peer benchmarks.
    pub listeners: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            tip: 2000,
            protocol_version: PROTOCOL_VERSION,
            services: services::NETWORK | services::BLOOM | services::HEADERS_COMPRESSED,
            user_agent: format!("/dashnet-sim:{}/", env!("CARGO_PKG_VERSION")),
            addrs: Vec::new(),
            flood_headers2: None,
            flood_batch: 8000,
            flood_kind: FloodKind::Headers2,
            stop_reading_after: None,
            no_pong: false,
            misbehavior: None,
            record_messages: false,
            sink: false,
            listeners: 1,
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
    /// Connections whose handshake completed in the right order.
    pub handshakes_ok: AtomicU64,
    /// Messages received after handshakes (all connections).
    pub messages_received: AtomicU64,
    /// Bytes received (all connections).
    pub bytes_received: AtomicU64,
    /// getheaders / getheaders2 answered.
    pub header_requests: AtomicU64,
    /// Pings answered.
    pub pongs_sent: AtomicU64,
    /// headers2 flood messages written.
    pub flood_messages: AtomicU64,
    /// Every departure from the handshake order Dash Core expects, one line each.
    pub violations: Mutex<Vec<String>>,
    /// The commands each connection sent during its handshake, in order.
    pub handshake_transcripts: Mutex<Vec<Vec<String>>>,
    /// With `record_messages`: what was received after handshakes.
    pub received: Mutex<Vec<Received>>,
}

impl SimStats {
    fn violation(&self, text: String) {
        self.violations.lock().push(text);
    }

    /// A load of a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// A running simulated node.
#[derive(Debug)]
pub struct Sim {
    addr: SocketAddr,
    addrs: Vec<SocketAddr>,
    stats: Arc<SimStats>,
    stop: watch::Sender<bool>,
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
        let shared = Arc::new(conn::SimShared::new(config, chain, stats.clone()));
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

    /// Stops listening, closes every connection and waits for all its tasks to end.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
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
                let Ok((stream, _)) = accepted else { continue };
                let id = ids.fetch_add(1, Ordering::Relaxed) + 1;
                shared.stats.connections.fetch_add(1, Ordering::Relaxed);
                conns.spawn(conn::serve(stream, id, shared.clone(), conn_stop.clone()));
            }
        }
    }
    drop(listener);
    conns.shutdown().await;
}
