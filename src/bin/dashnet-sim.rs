//! dashnet-sim: a simulated Dash node on loopback.
//!
//! Prints `dashnet-sim listening on 127.0.0.1:PORT` (a line per listener) once it
//! accepts connections, and exits when its standard input closes or after `--timeout`
//! seconds. On exit it prints what it received (`dashnet-sim received COMMAND COUNT`, one
//! line per command), each violation (`dashnet-sim violation TEXT`), and
//! `dashnet-sim done violations=N`; it exits with status 3 if there was any violation,
//! so a test that stops it and checks its status fails on a misbehaving client.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use dashnet::sim::{Misbehavior, Sim, SimConfig};
use dashnet::wire::{AddrV2Address, AddrV2Entry};

const USAGE: &str = "usage: dashnet-sim [--bind ADDR:PORT] [--port N] [--tip HEIGHT]
  [--flood-headers2 MSGS_PER_SEC (0 = full speed)] [--flood-batch N]
  [--flood-kind headers2|big|inv (what the flood sends)]
  [--stop-reading-after BYTES] [--no-pong] [--protocol-version N] [--listeners N] [--sink]
  [--no-headers2 (does not advertise HEADERS_COMPRESSED)] [--min-peer-version N]
  [--compact-filters (advertises and serves BIP157 filters)] [--no-bloom]
  [--claim-height N (the start height its version claims)]
  [--stall-headers (never answers getheaders/getheaders2)]
  [--ping-interval SECONDS (0 = never; default 120, the first at once)]
  [--addr IP:PORT (gossiped on getaddr; repeatable)]
  [--misbehave silent-handshake|close-mid-message|garbage|bad-checksum|oversize-length|
               bad-headers2-version-index|bad-pow-headers|v2-bad-terminator|v2-wrong-key|
               v2-bad-tag|v2-truncated|v2-oversize-length|v2-decoys|wrong-checkpoint|
               stall-mid-sync]
  [--timeout SECONDS (default 600)] [--ignore-stdin]
  [--print-checkpoints EVERY (before the listening lines: `dashnet-sim checkpoint HEIGHT
    HASH` for every EVERY-th block below the tip, HASH in display hex)]
  [--hash-at HEIGHT (print the display hex of block HEIGHT's hash and exit)]";

struct Args {
    config: SimConfig,
    timeout: Duration,
    watch_stdin: bool,
    checkpoints_every: Option<u32>,
}

fn parse() -> Result<Args, String> {
    if let [flag, height] = &std::env::args().skip(1).collect::<Vec<_>>()[..]
        && flag == "--hash-at"
    {
        let height: u32 = height.parse().map_err(|_| format!("bad height {height}"))?;
        let chain = dashnet::sim::chain::regtest_chain(height);
        println!("{}", chain.hash(height).to_display_hex());
        std::process::exit(0);
    }
    let mut config = SimConfig::default();
    let mut timeout = Duration::from_secs(600);
    let mut watch_stdin = true;
    let mut checkpoints_every = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.parse::<u64>().map_err(|_| format!("bad number: {v}"));
        match flag.as_str() {
            "--bind" => {
                config.bind = value()?
                    .parse::<SocketAddr>()
                    .map_err(|e| format!("--bind: {e}"))?
            }
            "--port" => config.bind.set_port(num(value()?)? as u16),
            "--tip" => config.tip = num(value()?)? as u32,
            "--flood-headers2" => config.flood_headers2 = Some(num(value()?)? as u32),
            "--flood-batch" => config.flood_batch = num(value()?)? as usize,
            "--flood-kind" => {
                let v = value()?;
                config.flood_kind = dashnet::sim::FloodKind::from_name(&v)
                    .ok_or(format!("unknown flood kind {v} (headers2, big, inv)"))?;
            }
            "--stop-reading-after" => config.stop_reading_after = Some(num(value()?)?),
            "--no-pong" => config.no_pong = true,
            "--sink" => config.sink = true,
            "--listeners" => config.listeners = num(value()?)?.clamp(1, 10_000) as usize,
            "--protocol-version" => config.protocol_version = num(value()?)? as u32,
            "--min-peer-version" => config.min_peer_version = num(value()?)? as u32,
            "--no-headers2" => {
                config.services &= !dashnet::wire::network::services::HEADERS_COMPRESSED
            }
            "--compact-filters" => {
                config.services |= dashnet::wire::network::services::COMPACT_FILTERS
            }
            "--no-bloom" => config.services &= !dashnet::wire::network::services::BLOOM,
            "--claim-height" => {
                let v = value()?;
                config.claimed_height = Some(v.parse().map_err(|_| format!("bad height {v}"))?);
            }
            "--stall-headers" => config.serve_headers = false,
            "--ping-interval" => {
                config.ping_interval = match num(value()?)? {
                    0 => None,
                    s => Some(Duration::from_secs(s)),
                }
            }
            "--misbehave" => {
                let v = value()?;
                config.misbehavior =
                    Some(Misbehavior::from_name(&v).ok_or(format!("unknown misbehavior {v}"))?)
            }
            "--addr" => {
                let addr = value()?
                    .parse::<SocketAddr>()
                    .map_err(|e| format!("--addr: {e}"))?;
                let time = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as u32)
                    .unwrap_or(0);
                let ip = match addr.ip() {
                    std::net::IpAddr::V4(v4) => AddrV2Address::Ipv4(v4.octets()),
                    std::net::IpAddr::V6(v6) => AddrV2Address::Ipv6(v6.octets()),
                };
                config.addrs.push(AddrV2Entry {
                    time,
                    services: dashnet::wire::network::services::NETWORK,
                    addr: ip,
                    port: addr.port(),
                });
            }
            "--timeout" => timeout = Duration::from_secs(num(value()?)?),
            "--ignore-stdin" => watch_stdin = false,
            "--print-checkpoints" => {
                checkpoints_every = Some(num(value()?)?.clamp(1, u64::from(u32::MAX)) as u32)
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(Args {
        config,
        timeout,
        watch_stdin,
        checkpoints_every,
    })
}

fn main() {
    let Args {
        config,
        timeout,
        watch_stdin,
        checkpoints_every,
    } = match parse() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let tip = config.tip;
    rt.block_on(async move {
        let sim = match Sim::start(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("dashnet-sim: cannot start: {e}");
                std::process::exit(1);
            }
        };
        if let Some(every) = checkpoints_every {
            let chain = dashnet::sim::chain::regtest_chain(tip);
            for h in (every..tip).step_by(every as usize) {
                let hash = chain.hash(h).to_display_hex();
                println!("dashnet-sim checkpoint {h} {hash}");
            }
        }
        for addr in sim.addrs() {
            println!("dashnet-sim listening on {addr}");
        }
        let _ = std::io::stdout().flush();
        let (eof_tx, eof_rx) = tokio::sync::oneshot::channel::<()>();
        if watch_stdin {
            std::thread::spawn(move || {
                let mut sink = [0u8; 256];
                let mut stdin = std::io::stdin();
                while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
                let _ = eof_tx.send(());
            });
        } else {
            std::mem::forget(eof_tx);
        }
        tokio::select! {
            _ = tokio::time::sleep(timeout) => eprintln!("dashnet-sim: timeout, exiting"),
            _ = eof_rx => {}
        }
        let report = sim.shutdown().await;
        let mut out = std::io::stdout().lock();
        // The reader may be gone; nothing to do about a broken pipe but exit.
        for (command, count) in &report.commands {
            let _ = writeln!(out, "dashnet-sim received {command} {count}");
        }
        for v in &report.violations {
            let _ = writeln!(out, "dashnet-sim violation {v}");
            eprintln!("dashnet-sim violation: {v}");
        }
        let _ = writeln!(
            out,
            "dashnet-sim done violations={}",
            report.violations.len()
        );
        let _ = out.flush();
        if !report.violations.is_empty() {
            std::process::exit(3);
        }
    });
}
