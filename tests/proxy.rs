//! Every connection through a SOCKS5 proxy: onion peers by name (never resolved here),
//! credentials per connection, each SOCKS5 failure with its reason and never a ban, a dead
//! or hanging proxy as stage PROXY, onion_only, and no DNS lookup with a proxy. A test
//! proxy of our own (tests/support/socks.rs) shows what a real one cannot; the sync through
//! Dante, a real SOCKS5 server, is `sync_through_dante` (run by scripts/test with
//! `--ignored` when Dante is installed).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashnet::client::{Client, ClientEvent, FailStage};
use dashnet::sim::SimConfig;
use dashnet::wire::{Hash256, PeerAddr};

#[path = "support/dante.rs"]
mod dante;
#[path = "support/sims.rs"]
mod sims;
#[path = "support/socks.rs"]
mod socks;
use dante::Dante;
use sims::*;
use socks::{Behaviour, TestProxy};

const ONION: &str = "pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion";

fn onion(port: u16) -> PeerAddr {
    format!("{ONION}:{port}").parse().unwrap()
}

/// Syncs every header the peer has, asking from the tip each time; returns the tip hash.
fn sync(client: &Client, events: &Events, want: usize) -> Hash256 {
    let genesis = dashnet::sim::regtest_genesis().block_hash();
    let mut tip = genesis;
    let mut got = 0;
    let end = Instant::now() + Duration::from_secs(60);
    client.request_headers(vec![tip], Hash256::ZERO).unwrap();
    while got < want && Instant::now() < end {
        let batch: Vec<_> = {
            let mut log = events.log.lock().unwrap();
            let (h, rest): (Vec<_>, Vec<_>) = log
                .drain(..)
                .partition(|e| matches!(e, ClientEvent::Headers { .. }));
            *log = rest;
            h
        };
        for e in batch {
            if let ClientEvent::Headers { headers, .. } = e {
                got += headers.len();
                tip = headers.last().unwrap().hash();
                if got < want {
                    client.request_headers(vec![tip], Hash256::ZERO).unwrap();
                }
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(got, want, "synced");
    tip
}

#[test]
fn an_onion_peer_is_reached_by_name_through_the_proxy() {
    let sims = Sims::new();
    let sim = sims.start("127.0.0.101", 0, SimConfig::default());
    let mut map = HashMap::new();
    map.insert(format!("{ONION}:9999"), sim.addr());
    let proxy = sims
        .0
        .block_on(TestProxy::start("127.0.0.102:0", Behaviour::Forward(map)));
    let mut cfg = config(&[]);
    cfg.exclusive = true;
    cfg.proxy = Some(proxy.addr);
    let client = Arc::new(Client::new(cfg).unwrap());
    let events = Events::start(&client);
    client.connect(onion(9999)).unwrap();
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 1));
    let (_, info) = client.peers()[0].clone();
    assert_eq!(
        info.addr,
        onion(9999),
        "the peer is known by its onion name"
    );
    let tip = sync(&client, &events, 2000);
    assert_eq!(tip, dashnet::sim::regtest_chain(2000).hash(2000));
    let reqs = proxy.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].atyp, 3, "a domain name, never resolved locally");
    assert_eq!(reqs[0].host, ONION);
    assert_eq!(reqs[0].port, 9999);
    // The sim saw the proxy's connection only.
    let remotes = sim.stats().remotes.lock().clone();
    assert_eq!(remotes.len(), 1);
    assert_eq!(
        remotes[0].ip().to_string(),
        "127.0.0.1",
        "the proxy's outbound side"
    );
    client.shutdown();
    drop(events);
    sims.stop(sim);
}

#[test]
fn each_connection_gets_its_own_credentials_unless_told_otherwise() {
    let sims = Sims::new();
    let a = sims.start("127.0.0.103", 0, SimConfig::default());
    let b = sims.start("127.0.0.104", 0, SimConfig::default());
    let proxy = sims.0.block_on(TestProxy::start(
        "127.0.0.105:0",
        Behaviour::Forward(HashMap::new()),
    ));
    for randomize in [true, false] {
        let mut cfg = config(&[a.addr(), b.addr()]);
        cfg.exclusive = true;
        cfg.proxy = Some(proxy.addr);
        cfg.proxy_randomize_credentials = randomize;
        let client = Arc::new(Client::new(cfg).unwrap());
        let events = Events::start(&client);
        assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 2));
        client.shutdown();
        drop(events);
    }
    let reqs = proxy.requests();
    assert_eq!(reqs.len(), 4);
    // IP peers go as IPs (address type 1), to the right place.
    let mut hosts: Vec<String> = reqs
        .iter()
        .map(|r| format!("{}:{}", r.host, r.port))
        .collect();
    hosts.sort();
    hosts.dedup();
    let mut want = vec![a.addr().to_string(), b.addr().to_string()];
    want.sort();
    assert_eq!(hosts, want);
    assert!(reqs.iter().all(|r| r.atyp == 1));
    let (first, second) = (&reqs[..2], &reqs[2..]);
    assert!(
        first
            .iter()
            .all(|r| r.username.is_some() && r.password.is_some())
    );
    assert_ne!(first[0].username, first[1].username, "one circuit per peer");
    assert_ne!(first[0].password, first[1].password);
    assert!(
        second.iter().all(|r| r.username.is_none()),
        "no credentials when off"
    );
    sims.stop(a);
    sims.stop(b);
}

#[test]
fn every_socks5_failure_code_is_a_connect_failure_with_its_reason_and_never_a_ban() {
    let sims = Sims::new();
    let target: SocketAddr = "127.0.0.106:9999".parse().unwrap();
    let reasons = [
        (1, "General SOCKS server failure"),
        (2, "Connection not allowed by ruleset"),
        (3, "Network unreachable"),
        (4, "Host unreachable"),
        (5, "Connection refused"),
        (6, "TTL expired"),
        (7, "Command not supported"),
        (8, "Address type not supported"),
    ];
    for (code, text) in reasons {
        let proxy = sims
            .0
            .block_on(TestProxy::start("127.0.0.107:0", Behaviour::Refuse(code)));
        let mut cfg = config(&[target]);
        cfg.exclusive = true;
        cfg.proxy = Some(proxy.addr);
        let client = Arc::new(Client::new(cfg).unwrap());
        let events = Events::start(&client);
        let want = format!("{text} (SOCKS5 reply {code})");
        assert!(
            wait_until(Duration::from_secs(10), || events.count(|e| matches!(
                e,
                ClientEvent::PeerFailed { stage: FailStage::Connect, reason, addr }
                    if reason.contains(&want) && *addr == target
            )) >= 1),
            "reply {code}"
        );
        assert_eq!(client.stats().banned, 0);
        client.shutdown();
        drop(events);
    }
}

#[test]
fn a_dead_or_hanging_proxy_is_stage_proxy() {
    let sims = Sims::new();
    let target: SocketAddr = "127.0.0.108:9999".parse().unwrap();
    // Nothing listens on the dead one.
    let dead: SocketAddr = {
        let l = std::net::TcpListener::bind("127.0.0.109:0").unwrap();
        l.local_addr().unwrap()
    };
    let hanging = sims.0.block_on(TestProxy::start(
        "127.0.0.110:0",
        Behaviour::HangAfterGreeting,
    ));
    for (proxy, what) in [
        (dead, "cannot reach the proxy"),
        (hanging.addr, "did not connect us"),
    ] {
        let mut cfg = config(&[target]);
        cfg.exclusive = true;
        cfg.proxy = Some(proxy);
        cfg.peer.connect_timeout = Duration::from_millis(500);
        let client = Arc::new(Client::new(cfg).unwrap());
        let events = Events::start(&client);
        let started = Instant::now();
        assert!(
            wait_until(Duration::from_secs(10), || {
                events.count(|e| matches!(
                e,
                ClientEvent::PeerFailed { stage: FailStage::Proxy, reason, .. } if reason.contains(what)
            )) >= 1
            }),
            "{what}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "bounded by the connect timeout"
        );
        assert_eq!(client.stats().banned, 0);
        client.shutdown();
        drop(events);
    }
    assert!(*hanging.accepted.lock().unwrap() >= 1);
}

#[test]
fn onion_only_dials_nothing_but_onions_and_no_proxy_dials_no_onion() {
    let sims = Sims::new();
    let sim = sims.start("127.0.0.111", 0, SimConfig::default());
    let ip_sim = sims.start("127.0.0.112", 0, SimConfig::default());
    let mut map = HashMap::new();
    map.insert(format!("{ONION}:9999"), sim.addr());
    let proxy = sims
        .0
        .block_on(TestProxy::start("127.0.0.113:0", Behaviour::Forward(map)));
    // A book with both an onion and an IP peer.
    let now = unix_now();
    let mut book = dashnet::client::AddressBook::new(dashnet::client::Policy::default());
    book.add(onion(9999), 0, now, None, now);
    book.add(ip_sim.addr(), 0, now, None, now);
    let bytes = book.export(dashnet::client::Now {
        mono: 0.0,
        wall: now,
    });

    let mut cfg = config(&[]);
    cfg.proxy = Some(proxy.addr);
    cfg.onion_only = true;
    cfg.fixed_seeds = vec![ip_sim.addr()];
    let client = Arc::new(Client::new(cfg).unwrap());
    let events = Events::start(&client);
    // The built-in seed (the IP sim) may already be in the book when the import lands, so
    // the import adds 1 or 2; either way the book holds both.
    assert!(client.import_addresses(&bytes).is_ok_and(|n| n >= 1));
    assert!(wait_until(Duration::from_secs(5), || client
        .stats()
        .address_book
        == 2));
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 1));
    assert_eq!(client.peers()[0].1.addr, onion(9999));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(client.peers().len(), 1);
    assert_eq!(
        ip_sim
            .stats()
            .connections
            .load(std::sync::atomic::Ordering::Relaxed),
        0,
        "nothing dialed the IP peer, not even through the proxy"
    );
    assert!(proxy.requests().iter().all(|r| r.atyp == 3));
    client.shutdown();
    drop(events);

    // Without a proxy: the onion entry is kept, never dialed; the IP peer is.
    let client = Arc::new(Client::new(config(&[])).unwrap());
    let events = Events::start(&client);
    assert_eq!(client.import_addresses(&bytes), Ok(2));
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 1));
    assert_eq!(client.peers()[0].1.addr, ip_sim.addr());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        events.count(|e| matches!(e, ClientEvent::PeerFailed { addr, .. } if addr.is_onion())),
        0
    );
    assert_eq!(client.stats().address_book, 2, "the onion entry is kept");
    client.shutdown();
    drop(events);
    sims.stop(sim);
    sims.stop(ip_sim);
}

#[test]
fn with_a_proxy_dns_seeds_are_never_looked_up() {
    let sims = Sims::new();
    let sim = sims.start("127.0.0.114", 0, SimConfig::default());
    let proxy = sims.0.block_on(TestProxy::start(
        "127.0.0.115:0",
        Behaviour::Forward(HashMap::new()),
    ));
    let mut cfg = config(&[]);
    cfg.dns_seeds = true;
    cfg.seed_hosts = vec!["localhost".into()];
    cfg.fixed_seeds = vec![sim.addr()];
    cfg.proxy = Some(proxy.addr);
    let client = Arc::new(Client::new(cfg).unwrap());
    let events = Events::start(&client);
    // The built-in seeds stand in, through the proxy.
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 1));
    client.network_changed().unwrap();
    client.resume().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        client.stats().seed_lookups,
        0,
        "no lookup through the system resolver"
    );
    assert_eq!(proxy.requests().len(), 1);
    client.shutdown();
    drop(events);
    sims.stop(sim);
}

/// 20,000 headers from the sim through Dante, a real SOCKS5 server; the sim sees only
/// Dante's outbound address (127.0.0.122): nothing connected to it directly.
/// Needs `danted`: scripts/test runs it with `--ignored` where Dante is installed (under
/// CI=true it must be; elsewhere the section is reported as skipped).
#[test]
#[ignore = "needs danted (dante-server); run by scripts/test"]
fn sync_through_dante() {
    let dante = Dante::start();
    let sims = Sims::new();
    let sim = sims.start(
        "127.0.0.123",
        0,
        SimConfig {
            tip: 20_000,
            ..SimConfig::default()
        },
    );
    let mut cfg = config(&[sim.addr()]);
    cfg.exclusive = true;
    cfg.proxy = Some(dante.addr);
    let client = Arc::new(Client::new(cfg).unwrap());
    let events = Events::start(&client);
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 1));
    let tip = sync(&client, &events, 20_000);
    assert_eq!(tip, dashnet::sim::regtest_chain(20_000).hash(20_000));
    let remotes = sim.stats().remotes.lock().clone();
    assert!(!remotes.is_empty());
    assert!(
        remotes.iter().all(|r| r.ip().to_string() == "127.0.0.122"),
        "every connection came from Dante's external address: {remotes:?}"
    );
    client.shutdown();
    drop(events);
    sims.stop(sim);
}
