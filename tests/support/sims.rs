//! What the client tests share: sims on their own runtime, a client config for
//! regtest, waiting for a condition, an app-like event taker, and a book to import.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dashnet::client::{AddressBook, Client, ClientConfig, ClientEvent, Now, Policy};
use dashnet::sim::{Sim, SimConfig};
use dashnet::wire::Network;
use tokio::runtime::Runtime;

/// The sims run on their own runtime; the client has its own.
pub struct Sims(pub Runtime);

impl Sims {
    pub fn new() -> Self {
        Sims(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap(),
        )
    }
    pub fn start(&self, ip: &str, port: u16, config: SimConfig) -> Sim {
        let bind: SocketAddr = format!("{ip}:{port}").parse().unwrap();
        self.0
            .block_on(Sim::start(SimConfig { bind, ..config }))
            .unwrap()
    }
    /// Stops `sim`; fails the test if it saw anything Dash Core would not accept.
    pub fn stop(&self, sim: Sim) {
        self.0.block_on(sim.shutdown()).assert_clean();
    }
}

pub fn config(fixed: &[SocketAddr]) -> ClientConfig {
    let mut c = ClientConfig::new(Network::Regtest);
    c.fixed_peers = fixed.to_vec();
    c.dns_seeds = false;
    c.book = Policy {
        backoff_initial: Duration::from_millis(100),
        backoff_max: Duration::from_secs(2),
        ..Policy::default()
    };
    c
}

pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// Takes the client's events on a thread, as an app's delivery thread would.
pub struct Events {
    pub log: Arc<Mutex<Vec<ClientEvent>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Events {
    pub fn start(client: &Arc<Client>) -> Events {
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, l, s) = (client.clone(), log.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(ev) = c.next_event(Duration::from_millis(20)) {
                    l.lock().unwrap().push(ev);
                }
            }
        });
        Events {
            log,
            stop,
            thread: Some(thread),
        }
    }
    pub fn count(&self, f: impl Fn(&ClientEvent) -> bool) -> usize {
        self.log.lock().unwrap().iter().filter(|e| f(e)).count()
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            // A panic on the collecting thread fails the test (unless it is already failing).
            if t.join().is_err() && !std::thread::panicking() {
                panic!("the thread taking the client's events panicked");
            }
        }
    }
}

/// Wall-clock seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A sim that claims 10,000,000 blocks and never answers a header request.
pub fn liar() -> SimConfig {
    SimConfig {
        claimed_height: Some(10_000_000),
        serve_headers: false,
        ..SimConfig::default()
    }
}

/// getheaders2 from the regtest genesis, to as many as the peer sends.
pub fn getheaders2_from_genesis() -> dashnet::wire::Message {
    dashnet::wire::Message::GetHeaders2(dashnet::wire::Locator {
        version: dashnet::wire::network::PROTOCOL_VERSION,
        hashes: vec![dashnet::sim::regtest_genesis().block_hash()],
        stop: Default::default(),
    })
}

pub fn book_with(addrs: &[SocketAddr]) -> Vec<u8> {
    let now = unix_now();
    let mut b = AddressBook::new(Policy::default());
    for a in addrs {
        assert!(b.add(*a, 0, now, None, now));
    }
    b.export(Now {
        mono: 0.0,
        wall: now,
    })
}
