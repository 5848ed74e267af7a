//! Client benchmarks (a plain binary: `cargo bench --bench client`; one short round
//! under `cargo test`). The simulated nodes run in a separate `dashnet-sim` process, so
//! the memory and CPU measured are the client's alone.
//!
//! - RSS per connected idle peer and time until all are handshaken, at 1, 10, 100 and
//!   1000 peers (one sim process with one listener per peer);
//! - CPU while 1000 peers sit idle;
//! - header sync of 200,000 headers from one sim via headers2, against bare X11 of the
//!   same headers in the same run;
//! - the sync service: 1,000,000 headers from 4 sims (4 dashnet-sim processes sharing one
//!   chain cache), segments between checkpoints every 50,000, with 1 and 2 decode
//!   threads, against bare one-core X11 of the same headers in the same process; peak
//!   RSS during the sync (each run in a fresh process).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use dashnet::client::{Client, ClientConfig, ClientEvent};
use dashnet::peer::TransportMode;
use dashnet::wire::{Hash256, Network, x11};

#[path = "../tests/support/dante.rs"]
mod dante;

fn sim_binary() -> PathBuf {
    if let Ok(p) = std::env::var("DASHNET_SIM") {
        return p.into();
    }
    // The sim built with this build's profile (cargo test: debug; cargo bench: release).
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("target/{profile}/dashnet-sim"));
    assert!(
        p.exists(),
        "{} is not built: cargo build --bins (--release for cargo bench)",
        p.display()
    );
    p
}

struct SimProcess {
    child: Child,
    addrs: Vec<SocketAddr>,
    /// With --print-checkpoints: (height, display hex).
    checkpoints: Vec<(u32, String)>,
}

impl SimProcess {
    fn start(args: &[&str], listeners: usize) -> SimProcess {
        let mut child = Process::new(sim_binary())
            .args(args)
            .args(["--listeners", &listeners.to_string(), "--timeout", "900"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("dashnet-sim starts");
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut checkpoints = Vec::new();
        let addrs = out
            .lines()
            .map(|l| l.unwrap())
            .filter(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                if let ["dashnet-sim", "checkpoint", h, hash] = f[..] {
                    checkpoints.push((h.parse().unwrap(), hash.to_string()));
                    return false;
                }
                true
            })
            .take(listeners)
            .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
            .collect::<Vec<SocketAddr>>();
        assert_eq!(
            addrs.len(),
            listeners,
            "dashnet-sim did not start ({})",
            sim_binary().display()
        );
        SimProcess {
            child,
            addrs,
            checkpoints,
        }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        drop(self.child.stdin.take()); // the sim exits when its stdin closes
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// User + system CPU seconds of this process.
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// Keepalive period in the many-peer runs: short, so the idle CPU window holds a whole
/// round of pings and pongs (the default is 120 s).
const KEEPALIVE: Duration = Duration::from_secs(10);

fn client_for(addrs: &[SocketAddr]) -> Client {
    client_via(addrs, None)
}

fn client_via(addrs: &[SocketAddr], proxy: Option<SocketAddr>) -> Client {
    client_with(addrs, proxy, TransportMode::V2Preferred)
}

fn client_with(addrs: &[SocketAddr], proxy: Option<SocketAddr>, mode: TransportMode) -> Client {
    let mut c = ClientConfig::new(Network::Regtest);
    c.proxy = proxy;
    c.peer.transport = mode;
    c.peer.ping_interval = KEEPALIVE;
    c.fixed_peers = addrs.to_vec();
    c.exclusive = true;
    c.dns_seeds = false;
    c.target_outbound = addrs.len();
    c.max_outbound = addrs.len();
    c.worker_threads = 1;
    Client::new(c).unwrap()
}

/// (RSS KiB per idle peer, seconds until all handshaken, CPU % while idle).
fn many_peers(n: usize, idle: Duration, mode: TransportMode) -> (f64, f64, f64) {
    let sim = SimProcess::start(&["--tip", "10"], n);
    // Baseline: a client with no peers yet.
    let empty = client_with(&[], None, mode);
    std::thread::sleep(Duration::from_millis(200));
    let base = rss_kib();
    drop(empty);
    let t = Instant::now();
    let client = client_with(&sim.addrs, None, mode);
    let drain = |c: &Client| while c.next_event(Duration::from_millis(1)).is_some() {};
    while client.stats().peers < n as u64 {
        drain(&client);
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "handshakes stalled at {}",
            client.stats().peers
        );
    }
    let handshake = t.elapsed().as_secs_f64();
    drain(&client);
    std::thread::sleep(Duration::from_millis(500));
    let per_peer = (rss_kib().saturating_sub(base)) as f64 / n as f64;
    let cpu0 = cpu_seconds();
    let w = Instant::now();
    std::thread::sleep(idle);
    let cpu = (cpu_seconds() - cpu0) / w.elapsed().as_secs_f64() * 100.0;
    client.shutdown();
    drop(sim);
    (per_peer, handshake, cpu)
}

/// (headers/s syncing `tip` headers through the client, bare X11 headers/s of the same headers).
fn sync_rate(tip: u32) -> (f64, f64) {
    let sim = SimProcess::start(&["--tip", &tip.to_string()], 1);
    let ours = sync_via(&sim.addrs, None, tip);
    drop(sim);
    (ours.0, bare_x11(&ours.1))
}

/// Syncs `tip` headers from the sim at `addrs` (through `proxy` if set): headers/s and
/// the raw headers.
fn sync_via(addrs: &[SocketAddr], proxy: Option<SocketAddr>, tip: u32) -> (f64, Vec<[u8; 80]>) {
    sync_with(addrs, proxy, tip, TransportMode::V2Preferred)
}

fn sync_with(
    addrs: &[SocketAddr],
    proxy: Option<SocketAddr>,
    tip: u32,
    mode: TransportMode,
) -> (f64, Vec<[u8; 80]>) {
    let client = client_with(addrs, proxy, mode);
    let genesis = Network::Regtest.genesis_hash().unwrap();
    loop {
        if let Some(ClientEvent::PeerConnected { .. }) = client.next_event(Duration::from_secs(10))
        {
            break;
        }
    }
    let mut tip_hash: Hash256 = genesis;
    let mut got = 0u32;
    let mut raw: Vec<[u8; 80]> = Vec::with_capacity(tip as usize);
    let t = Instant::now();
    client
        .request_headers(vec![tip_hash], Hash256::ZERO)
        .unwrap();
    while got < tip {
        match client.next_event(Duration::from_secs(30)) {
            Some(ClientEvent::Headers { headers, .. }) => {
                got += headers.len() as u32;
                tip_hash = headers.last().unwrap().hash();
                raw.extend(headers.iter().map(|h| h.header().to_bytes()));
                if got < tip {
                    client
                        .request_headers(vec![tip_hash], Hash256::ZERO)
                        .unwrap();
                }
            }
            Some(_) => {}
            None => panic!("sync stalled at {got}"),
        }
    }
    let ours = f64::from(got) / t.elapsed().as_secs_f64();
    client.shutdown();
    (ours, raw)
}

/// Bare X11 headers/s over `raw`.
fn bare_x11(raw: &[[u8; 80]]) -> f64 {
    let t = Instant::now();
    for h in raw {
        std::hint::black_box(x11(h));
    }
    raw.len() as f64 / t.elapsed().as_secs_f64()
}

/// Seconds from `Client::new` to the handshake with the sim at `addr` (through `proxy`).
fn handshake_via(addr: SocketAddr, proxy: Option<SocketAddr>) -> f64 {
    handshake_with(addr, proxy, TransportMode::V2Preferred)
}

fn handshake_with(addr: SocketAddr, proxy: Option<SocketAddr>, mode: TransportMode) -> f64 {
    let t = Instant::now();
    let client = client_with(&[addr], proxy, mode);
    loop {
        match client.next_event(Duration::from_secs(10)) {
            Some(ClientEvent::PeerConnected { .. }) => break,
            Some(_) => {}
            None => panic!("no handshake"),
        }
    }
    let secs = t.elapsed().as_secs_f64();
    client.shutdown();
    secs
}

/// The proxy's own overhead on loopback: handshake time and a 20,000-header sync, direct
/// and through Dante, alternating within each round. None when danted is missing.
fn proxy_overhead(rounds: usize) -> Option<Vec<String>> {
    if !dante::available() {
        return None;
    }
    let proxy = dante::Dante::start();
    let sim = SimProcess::start(&["--tip", "20000"], 1);
    let (mut hd, mut hp, mut sd, mut sp) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        for _ in 0..5 {
            hd.push(handshake_via(sim.addrs[0], None));
            hp.push(handshake_via(sim.addrs[0], Some(proxy.addr)));
        }
        sd.push(sync_via(&sim.addrs, None, 20_000).0);
        sp.push(sync_via(&sim.addrs, Some(proxy.addr), 20_000).0);
    }
    let ms = |v: Vec<f64>| {
        let (m, lo, hi) = med(v);
        (m * 1e3, lo * 1e3, hi * 1e3)
    };
    let ((a, alo, ahi), (b, blo, bhi)) = (ms(hd.clone()), ms(hp.clone()));
    let ((c, clo, chi), (d, dlo, dhi)) = (med(sd.clone()), med(sp.clone()));
    Some(vec![
        format!("| handshake, direct (baseline) | {a:.2} ms | {alo:.2}..{ahi:.2} |"),
        format!("| handshake through Dante (SOCKS5) | {b:.2} ms | {blo:.2}..{bhi:.2} |"),
        format!("| handshake through Dante / direct | {:.2} | |", b / a),
        format!(
            "| 20000-header sync, direct (baseline) | {:.1} k headers/s | {:.1}..{:.1} |",
            c / 1e3,
            clo / 1e3,
            chi / 1e3
        ),
        format!(
            "| 20000-header sync through Dante (SOCKS5) | {:.1} k headers/s | {:.1}..{:.1} |",
            d / 1e3,
            dlo / 1e3,
            dhi / 1e3
        ),
        format!("| sync rate through Dante / direct | {:.3} | |", d / c),
    ])
}

/// Handshake time and a 200,000-header sync over v2 against v1, alternating within each
/// round, against one sim process on loopback.
fn transport_handshake(rounds: usize, tip: u32) -> Vec<String> {
    let sim = SimProcess::start(&["--tip", &tip.to_string()], 1);
    let (mut v1, mut v2) = (vec![], vec![]);
    let (mut s1, mut s2) = (vec![], vec![]);
    for _ in 0..rounds {
        for _ in 0..5 {
            v1.push(handshake_with(sim.addrs[0], None, TransportMode::V1Only));
            v2.push(handshake_with(sim.addrs[0], None, TransportMode::V2Only));
        }
        s1.push(sync_with(&sim.addrs, None, tip, TransportMode::V1Only).0);
        s2.push(sync_with(&sim.addrs, None, tip, TransportMode::V2Only).0);
    }
    let ((c, clo, chi), (d, dlo, dhi)) = (med(s1), med(s2));
    let ms = |v: Vec<f64>| {
        let (m, lo, hi) = med(v);
        (m * 1e3, lo * 1e3, hi * 1e3)
    };
    let ((a, alo, ahi), (b, blo, bhi)) = (ms(v1), ms(v2));
    vec![
        format!("| handshake, v1 (baseline) | {a:.2} ms | {alo:.2}..{ahi:.2} |"),
        format!("| handshake, BIP324 v2 | {b:.2} ms | {blo:.2}..{bhi:.2} |"),
        format!("| handshake v2 / v1 | {:.2} | |", b / a),
        format!(
            "| {tip}-header sync, v1 (baseline) | {:.1} k headers/s | {:.1}..{:.1} |",
            c / 1e3,
            clo / 1e3,
            chi / 1e3
        ),
        format!(
            "| {tip}-header sync, BIP324 v2 | {:.1} k headers/s | {:.1}..{:.1} |",
            d / 1e3,
            dlo / 1e3,
            dhi / 1e3
        ),
        format!("| sync rate v2 / v1 | {:.3} | |", d / c),
    ]
}

/// Seconds `shutdown()` takes with `n` peers each holding queued data (sinks that read),
/// and the bytes queued at the moment it was called.
fn shutdown_busy(n: usize) -> (f64, u64) {
    let sim = SimProcess::start(&["--sink"], n);
    let client = client_for(&sim.addrs);
    let t = Instant::now();
    while client.stats().peers < n as u64 {
        while client.next_event(Duration::from_millis(1)).is_some() {}
        assert!(t.elapsed() < Duration::from_secs(60));
    }
    let cmd = dashnet::wire::Command::new("dnbusy").unwrap();
    let ids: Vec<_> = client.peers().into_iter().map(|(id, _)| id).collect();
    for id in &ids {
        for i in 0..256u64 {
            match client.send(*id, cmd, vec![0u8; 4096], i) {
                Ok(())
                | Err(dashnet::client::ClientError::Send(dashnet::peer::SendError::QueueFull)) => {}
                Err(e) => panic!("send: {e:?}"),
            }
        }
    }
    // What is still queued now (the sinks read meanwhile) is what shutdown must flush.
    let queued: u64 = ids
        .iter()
        .filter_map(|id| client.peer_stats(*id).ok())
        .map(|s| s.queued_bytes)
        .sum();
    let t = Instant::now();
    let report = client.shutdown();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(report.tasks_left, 0);
    drop(sim);
    (secs, queued)
}

/// Peak RSS of this process (KiB).
fn hwm_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// One sync-service run (in a fresh process): syncs `tip` headers from the sims at
/// `addrs` with `threads` decode threads, cut at `checkpoints`. Returns (headers/s, bare
/// one-core X11 headers/s of the same headers, peak RSS KiB during the sync, RSS KiB
/// before it, most requests in flight, seconds of the sync, CPU seconds this process used
/// during it).
fn sync_service_run(
    addrs: &[SocketAddr],
    checkpoints: &[(u32, Hash256)],
    tip: u32,
    threads: usize,
) -> (f64, f64, u64, u64, u32, f64, f64) {
    let mut c = ClientConfig::new(Network::Regtest);
    c.fixed_peers = addrs.to_vec();
    c.exclusive = true;
    c.dns_seeds = false;
    c.target_outbound = addrs.len();
    c.max_outbound = addrs.len();
    c.worker_threads = 1;
    c.peer.decode_threads = threads;
    let client = Client::new(c).unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    while client.peers().len() < addrs.len() && Instant::now() < end {
        let _ = client.next_event(Duration::from_millis(50));
    }
    assert_eq!(client.peers().len(), addrs.len(), "every sim connected");
    for (h, hash) in checkpoints {
        client.add_checkpoint(*h, *hash).unwrap();
    }
    let genesis = Network::Regtest.genesis_hash().unwrap();
    let rss_before = rss_kib();
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    client.sync_headers(vec![genesis], 0).unwrap();
    let mut last = genesis;
    let mut height = 0u32;
    let done = loop {
        match client.next_event(Duration::from_secs(60)) {
            Some(ClientEvent::SyncHeaders {
                first_height,
                headers,
            }) => {
                // What an app does at least: check each batch follows the last.
                assert_eq!(first_height, height + 1, "in order");
                assert_eq!(headers[0].header().prev_blockhash, last, "linked");
                height += headers.len() as u32;
                last = headers.last().unwrap().hash();
            }
            Some(ClientEvent::SyncDone(d)) => break d,
            Some(_) => {}
            None => panic!("the sync stalled at {height}"),
        }
    };
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let peak = hwm_kib();
    assert_eq!(height, tip);
    client.shutdown();
    // The same headers, from the sim's cache, hashed bare on one core.
    let chain = dashnet::sim::chain::regtest_chain(tip);
    assert_eq!(chain.hash(tip), last, "the right tip");
    let raw: Vec<[u8; 80]> = chain
        .headers(1, tip)
        .iter()
        .map(|h| h.header().to_bytes())
        .collect();
    (
        f64::from(tip) / secs,
        bare_x11(&raw),
        peak,
        rss_before,
        done.max_in_flight,
        secs,
        cpu,
    )
}

/// User + system CPU seconds of process `pid` so far.
fn pid_cpu_seconds(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(after) = s.rfind(')').map(|i| &s[i + 2..]) else {
        return 0.0;
    };
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    ticks as f64 / 100.0
}

fn sync_service_fresh(
    addrs: &[SocketAddr],
    every: &[(u32, String)],
    tip: u32,
    threads: usize,
) -> Vec<f64> {
    let mut args = vec![
        "--one-sync".to_string(),
        tip.to_string(),
        threads.to_string(),
        addrs
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(","),
    ];
    args.extend(every.iter().map(|(h, hash)| format!("{h}:{hash}")));
    child_result(&args)
}

/// The sync service's rows: 4 sim processes, decode threads 1 and 2, `rounds` each.
fn sync_service(rounds: usize, quick: bool) -> Vec<String> {
    let (tip, every, dense) = if quick {
        (40_000, 10_000, 5_000)
    } else {
        (1_000_000, 50_000, 10_000)
    };
    let tip_s = tip.to_string();
    let every_s = dense.to_string();
    let args = [
        "--tip",
        tip_s.as_str(),
        "--print-checkpoints",
        every_s.as_str(),
    ];
    let sims: Vec<SimProcess> = (0..4).map(|_| SimProcess::start(&args, 1)).collect();
    let addrs: Vec<SocketAddr> = sims.iter().map(|s| s.addrs[0]).collect();
    // The sims print every `dense`-th block; the main runs cut every `every`-th.
    let all_checkpoints = sims[0].checkpoints.clone();
    let checkpoints: Vec<(u32, String)> = all_checkpoints
        .iter()
        .filter(|(h, _)| h % every == 0)
        .cloned()
        .collect();
    let mut rows = Vec::new();
    let mut results: Vec<Vec<Vec<f64>>> = vec![Vec::new(), Vec::new()];
    let mut dense_runs: Vec<Vec<f64>> = Vec::new();
    for _ in 0..rounds {
        // Alternating, so drift on the machine falls on both alike.
        for (i, threads) in [1usize, 2].into_iter().enumerate() {
            // The sims' CPU over the run (they idle outside the sync itself).
            let sims_cpu = || {
                sims.iter()
                    .map(|s| pid_cpu_seconds(s.child.id()))
                    .sum::<f64>()
            };
            let before = sims_cpu();
            let mut r = sync_service_fresh(&addrs, &checkpoints, tip, threads);
            r.push(sims_cpu() - before);
            results[i].push(r);
        }
        // Denser checkpoints: shorter segments, so more of them fit in the lookahead.
        dense_runs.push(sync_service_fresh(&addrs, &all_checkpoints, tip, 2));
    }
    drop(sims);
    let col = |i: usize, k: usize| results[i].iter().map(|r| r[k]).collect::<Vec<f64>>();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (i, threads) in [1usize, 2].into_iter().enumerate() {
        let (m, lo, hi) = med(col(i, 0));
        rows.push(format!(
            "| sync service, {tip} headers from 4 sims (checkpoints every {every}), {threads} decode thread(s) | {:.1} k headers/s | {:.1}..{:.1} |",
            m / 1e3,
            lo / 1e3,
            hi / 1e3
        ));
    }
    let (bm, blo, bhi) = med([col(0, 1), col(1, 1)].concat());
    rows.push(format!(
        "| bare one-core X11 of the same headers, same processes (baseline) | {:.1} k headers/s | {:.1}..{:.1} |",
        bm / 1e3,
        blo / 1e3,
        bhi / 1e3
    ));
    for (i, threads) in [1usize, 2].into_iter().enumerate() {
        let r = med(results[i].iter().map(|r| r[0] / r[1]).collect());
        rows.push(format!(
            "| sync service / bare one-core X11, {threads} decode thread(s) ({cores} cores, shared with the 4 sims) | {:.3} | {:.3}..{:.3} |",
            r.0, r.1, r.2
        ));
    }
    let (dm, dlo, dhi) = med(dense_runs.iter().map(|r| r[0]).collect());
    rows.push(format!(
        "| sync service, {tip} headers from 4 sims (checkpoints every {dense}), 2 decode thread(s) | {:.1} k headers/s | {:.1}..{:.1} |",
        dm / 1e3,
        dlo / 1e3,
        dhi / 1e3
    ));
    let dr = med(dense_runs.iter().map(|r| r[0] / r[1]).collect());
    rows.push(format!(
        "| sync service / bare one-core X11, checkpoints every {dense}, 2 decode thread(s) | {:.3} | {:.3}..{:.3} |",
        dr.0, dr.1, dr.2
    ));
    let dc = med(dense_runs.iter().map(|r| r[6] / r[5]).collect());
    rows.push(format!(
        "| cores busy during the sync, checkpoints every {dense}, 2 decode thread(s): the client | {:.2} | {:.2}..{:.2} |",
        dc.0, dc.1, dc.2
    ));
    let two_vs_one = med(results[1]
        .iter()
        .zip(&results[0])
        .map(|(b, a)| b[0] / a[0])
        .collect());
    rows.push(format!(
        "| sync service, 2 decode threads vs 1 | {:.3} | {:.3}..{:.3} |",
        two_vs_one.0, two_vs_one.1, two_vs_one.2
    ));
    let best = med(col(1, 0)).0.max(med(col(0, 0)).0);
    rows.push(format!(
        "| projected mainnet header sync (2,400,000 headers) at the better measured rate | {:.0} s | |",
        2_400_000.0 / best
    ));
    for (i, threads) in [1usize, 2].into_iter().enumerate() {
        let grow: Vec<f64> = results[i].iter().map(|r| (r[2] - r[3]) / 1024.0).collect();
        let peak: Vec<f64> = results[i].iter().map(|r| r[2] / 1024.0).collect();
        let (g, glo, ghi) = med(grow);
        let (p, _, _) = med(peak);
        rows.push(format!(
            "| RSS growth during the sync, {threads} decode thread(s) (peak {p:.0} MiB; the client's inbound budget is 16 MiB) | {g:.1} MiB | {glo:.1}..{ghi:.1} |"
        ));
        let (f, flo, fhi) = med(col(i, 4));
        rows.push(format!(
            "| most sync requests in flight at once, {threads} decode thread(s) | {f:.0} | {flo:.0}..{fhi:.0} |"
        ));
        // Cores busy during the sync: the client's (this process) and the 4 sims'.
        let client: Vec<f64> = results[i].iter().map(|r| r[6] / r[5]).collect();
        let sims_cores: Vec<f64> = results[i].iter().map(|r| r[7] / r[5]).collect();
        let (c, clo, chi) = med(client);
        let (sm, slo, shi) = med(sims_cores);
        rows.push(format!(
            "| cores busy during the sync, {threads} decode thread(s): the client | {c:.2} | {clo:.2}..{chi:.2} |"
        ));
        rows.push(format!(
            "| cores busy during the sync, {threads} decode thread(s): the 4 sims (of {cores} cores) | {sm:.2} | {slo:.2}..{shi:.2} |"
        ));
    }
    rows
}

/// Runs this bench binary again with `args` and reads the numbers of its `RESULT` line.
fn child_result(args: &[String]) -> Vec<f64> {
    let out = Process::new(std::env::current_exe().unwrap())
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("the bench re-runs itself");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no result from the child: {text}"));
    line.split(' ').map(|x| x.parse().unwrap()).collect()
}

fn med(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// Runs `many_peers` in a fresh process, so that memory freed by an earlier round (and
/// kept by the allocator) does not hide this round's growth.
fn many_peers_fresh(n: usize, idle: Duration, mode: TransportMode) -> (f64, f64, f64) {
    let name = if mode == TransportMode::V1Only {
        "v1"
    } else {
        "v2"
    };
    let v = child_result(&[
        "--one-many".to_string(),
        n.to_string(),
        idle.as_millis().to_string(),
        name.to_string(),
    ]);
    (v[0], v[1], v[2])
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--one-many") {
        let n: usize = args[i + 1].parse().unwrap();
        let idle = Duration::from_millis(args[i + 2].parse().unwrap());
        let mode = if args[i + 3] == "v1" {
            TransportMode::V1Only
        } else {
            TransportMode::V2Only
        };
        let (r, h, c) = many_peers(n, idle, mode);
        println!("RESULT {r} {h} {c}");
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--one-sync") {
        let tip: u32 = args[i + 1].parse().unwrap();
        let threads: usize = args[i + 2].parse().unwrap();
        let addrs: Vec<SocketAddr> = args[i + 3].split(',').map(|a| a.parse().unwrap()).collect();
        let checkpoints: Vec<(u32, Hash256)> = args[i + 4..]
            .iter()
            .map(|c| {
                let (h, hash) = c.split_once(':').unwrap();
                (h.parse().unwrap(), Hash256::from_display_hex(hash).unwrap())
            })
            .collect();
        let (r, x, peak, before, inflight, secs, cpu) =
            sync_service_run(&addrs, &checkpoints, tip, threads);
        println!("RESULT {r} {x} {peak} {before} {inflight} {secs} {cpu}");
        return;
    }
    let quick = !std::env::args().any(|a| a == "--bench")
        || std::env::var("DASHNET_BENCH_QUICK").is_ok_and(|v| v == "1");
    let rounds: usize = if quick {
        1
    } else {
        std::env::var("DASHNET_BENCH_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3)
    };
    let mut rows = Vec::new();
    let mut out = |line: String| {
        println!("{line}");
        rows.push(line);
    };
    out(format!(
        "dashnet client benchmarks: {rounds} round(s), X11 {}, sim {}",
        if dashnet::wire::hash::X11_ACCELERATED {
            "accelerated"
        } else {
            "portable"
        },
        sim_binary().display()
    ));
    out("| figure | median | min..max |".into());
    out("|---|---|---|".into());
    let sizes: &[usize] = if quick {
        &[1, 10, 100]
    } else {
        &[1, 10, 100, 1000]
    };
    for &n in sizes {
        let mut rss = Vec::new();
        let mut hs = Vec::new();
        let mut cpu = Vec::new();
        for _ in 0..rounds {
            // At 1000 peers the window is one keepalive period and a bit: every peer's
            // ping and pong fall inside it.
            let idle = if quick || n < 1000 {
                Duration::from_secs(1)
            } else {
                KEEPALIVE + Duration::from_secs(1)
            };
            let (r, h, c) = many_peers_fresh(n, idle, TransportMode::V2Only);
            rss.push(r);
            hs.push(h);
            cpu.push(c);
        }
        let (m, lo, hi) = med(rss);
        out(format!(
            "| RSS per idle peer, {n} peers (v2) | {m:.1} KiB | {lo:.1}..{hi:.1} |"
        ));
        if n == *sizes.last().unwrap() {
            // The same over v1, as the baseline for what v2 costs per peer.
            let idle = Duration::from_secs(1);
            let v1: Vec<f64> = (0..rounds)
                .map(|_| many_peers_fresh(n, idle, TransportMode::V1Only).0)
                .collect();
            let (b, blo, bhi) = med(v1);
            out(format!(
                "| RSS per idle peer, {n} peers, v1 (baseline) | {b:.1} KiB | {blo:.1}..{bhi:.1} |"
            ));
        }
        let (m, lo, hi) = med(hs);
        out(format!(
            "| time until all handshaken, {n} peers | {:.0} ms | {:.0}..{:.0} |",
            m * 1e3,
            lo * 1e3,
            hi * 1e3
        ));
        if n == *sizes.last().unwrap() {
            let (m, lo, hi) = med(cpu);
            out(format!(
                "| CPU while idle, {n} peers, over one keepalive period ({} s: a ping and a pong per peer) | {m:.2} % of a core | {lo:.2}..{hi:.2} |",
                KEEPALIVE.as_secs()
            ));
        }
    }
    let mut shut = Vec::new();
    let mut queued = Vec::new();
    for _ in 0..rounds {
        let (secs, bytes) = shutdown_busy(100);
        shut.push(secs);
        queued.push(bytes as f64 / (1 << 20) as f64);
    }
    let (qm, qlo, qhi) = med(queued);
    let (m, lo, hi) = med(shut);
    out(format!(
        "| shutdown with 100 busy peers (256 x 4 KiB offered each; {qm:.1} MiB still queued when shutdown was called, {qlo:.1}..{qhi:.1}; all flushed) | {:.0} ms | {:.0}..{:.0} |",
        m * 1e3,
        lo * 1e3,
        hi * 1e3
    ));
    let tip = if quick { 20_000 } else { 200_000 };
    let mut ours = Vec::new();
    let mut bare = Vec::new();
    for _ in 0..rounds {
        let (o, b) = sync_rate(tip);
        ours.push(o);
        bare.push(b);
    }
    let ratio = med(ours.iter().zip(&bare).map(|(o, b)| o / b).collect());
    let (m, lo, hi) = med(ours);
    let (bm, blo, bhi) = med(bare);
    out(format!(
        "| header sync via headers2, {tip} headers | {:.1} k headers/s | {:.1}..{:.1} |",
        m / 1e3,
        lo / 1e3,
        hi / 1e3
    ));
    out(format!(
        "| bare X11 of the same headers (baseline) | {:.1} k headers/s | {:.1}..{:.1} |",
        bm / 1e3,
        blo / 1e3,
        bhi / 1e3
    ));
    out(format!(
        "| sync rate / bare X11 rate | {:.3} | {:.3}..{:.3} |",
        ratio.0, ratio.1, ratio.2
    ));
    sync_service(rounds, quick).into_iter().for_each(&mut out);
    transport_handshake(rounds, tip)
        .into_iter()
        .for_each(&mut out);
    match proxy_overhead(rounds) {
        Some(lines) => lines.into_iter().for_each(&mut out),
        None => {
            out("| proxy overhead | SKIPPED: danted (dante-server) is not installed | |".into())
        }
    }
    let _ = std::fs::create_dir_all("target");
    let _ = std::fs::write("target/bench-client.md", rows.join("\n") + "\n");
}
