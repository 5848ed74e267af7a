//! The client against several dashnet-sims on different loopback addresses: target
//! count, replacement, backoff, bans, addrv2 discovery, routing, the mobile lifecycle
//! and shutdown accounting.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use dashnet::client::{AddressBook, Client, ClientConfig, ClientEvent, Now, Policy};
use dashnet::peer::{DisconnectReason, PeerId};
use dashnet::sim::{Misbehavior, Sim, SimConfig};
use dashnet::wire::{AddrV2Address, AddrV2Entry, Command, Message, Network};

#[path = "support/sims.rs"]
mod sims;
use sims::*;

fn connected_addrs(client: &Client) -> Vec<SocketAddr> {
    let mut v: Vec<_> = client
        .peers()
        .into_iter()
        .filter_map(|(_, i)| i.addr.ip())
        .collect();
    v.sort();
    v
}

#[test]
fn keeps_the_target_count_and_replaces_a_killed_sim() {
    let sims = Sims::new();
    let a = sims.start("127.0.0.11", 0, SimConfig::default());
    let b = sims.start("127.0.0.12", 0, SimConfig::default());
    let c = sims.start("127.0.0.13", 0, SimConfig::default());
    let mut cfg = config(&[]);
    cfg.target_outbound = 2;
    let client = Arc::new(Client::new(cfg).unwrap());
    let events = Events::start(&client);
    assert_eq!(
        client.import_addresses(&book_with(&[a.addr(), b.addr(), c.addr()])),
        Ok(3)
    );
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 2));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(client.peers().len(), 2, "exactly the target");
    // Kill one of the connected sims: the third one replaces it.
    let before = connected_addrs(&client);
    let mut sims_by_addr = vec![a, b, c];
    let idx = sims_by_addr
        .iter()
        .position(|s| s.addr() == before[0])
        .unwrap();
    let killed = sims_by_addr.remove(idx);
    let killed_addr = killed.addr();
    sims.stop(killed);
    assert!(wait_until(Duration::from_secs(10), || {
        let now = connected_addrs(&client);
        now.len() == 2 && !now.contains(&killed_addr)
    }));
    assert!(events.count(|e| matches!(e, ClientEvent::PeerDisconnected { .. })) >= 1);
    assert!(events.count(|e| matches!(e, ClientEvent::PeerConnected { .. })) >= 3);
    let report = client.shutdown();
    assert_eq!(report.tasks_left, 0);
    drop(events);
    for s in sims_by_addr {
        sims.stop(s);
    }
}

#[test]
fn backoff_is_visible_on_a_dead_address() {
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.21:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut cfg = config(&[dead]);
    cfg.exclusive = true;
    let client = Arc::new(Client::new(cfg).unwrap());
    let events = Events::start(&client);
    // When each dial starts (the counter moves at once: the port refuses).
    let mut at = Vec::new();
    let start = Instant::now();
    let mut seen = 0;
    while start.elapsed() < Duration::from_secs(10) {
        let d = client.stats().dials;
        if d != seen {
            seen = d;
            at.push(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let gaps: Vec<f64> = at.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
    // Delays 0.1, 0.2, 0.4, 0.8, 1.6, then 2 s (capped), each x [0.5, 1.5). A fixed
    // retry of any period fails the growth check; no cap fails the last one.
    assert!(gaps.len() >= 6, "{} dials in 10 s: {gaps:?}", at.len());
    let early: f64 = gaps[..3].iter().sum(); // 0.35 to 1.05 s
    let later: f64 = gaps[3..6].iter().sum(); // 2.2 to 6.6 s
    assert!(later > 2.0 * early, "backoff grows: {gaps:?}");
    assert!(
        gaps.iter().all(|g| *g < 3.5),
        "capped at 2 s x 1.5: {gaps:?}"
    );
    assert!(gaps[5..].iter().all(|g| *g > 0.9), "at the cap: {gaps:?}");
    // A failed dial is never a ban.
    assert_eq!(client.stats().banned, 0);
    assert_eq!(client.stats().address_book, 1);
    client.shutdown();
    drop(events);
}

#[test]
fn bans_misbehaving_sims_and_does_not_redial_them() {
    let sims = Sims::new();
    let garbage = sims.start(
        "127.0.0.31",
        0,
        SimConfig {
            misbehavior: Some(Misbehavior::Garbage),
            ..SimConfig::default()
        },
    );
    let bad_pow = sims.start(
        "127.0.0.32",
        0,
        SimConfig {
            misbehavior: Some(Misbehavior::BadPowHeaders),
            ..SimConfig::default()
        },
    );
    let client = Arc::new(Client::new(config(&[garbage.addr(), bad_pow.addr()])).unwrap());
    let events = Events::start(&client);
    // Garbage: 60 points per connection, banned at the second (120 >= 100).
    // Bad proof of work: 100 points at once, once headers are asked for.
    assert!(wait_until(Duration::from_secs(10), || {
        let _ = client.request_headers(
            vec![Network::Regtest.genesis_hash().unwrap()],
            Default::default(),
        );
        client.stats().banned == 2
    }));
    let reasons: Vec<DisconnectReason> = events
        .log
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            ClientEvent::PeerDisconnected { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| matches!(r, DisconnectReason::Protocol(_)))
    );
    assert!(
        reasons
            .iter()
            .any(|r| matches!(r, DisconnectReason::InvalidHeaders(_)))
    );
    let dials = client.stats().dials;
    let accepted = garbage.stats().connections.load(Ordering::Relaxed)
        + bad_pow.stats().connections.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(client.stats().dials, dials, "no dial during the ban");
    assert_eq!(
        garbage.stats().connections.load(Ordering::Relaxed)
            + bad_pow.stats().connections.load(Ordering::Relaxed),
        accepted
    );
    // Two dials, three connections: the garbage sim speaks v1 only, so the first dial
    // tried v2 (closed on our key) and fell back to v1 at once; by the second dial the
    // book knew from its version that it lacks NODE_P2P_V2, so it went straight to v1.
    assert_eq!(garbage.stats().connections.load(Ordering::Relaxed), 3);
    assert_eq!(garbage.stats().v2_refused.load(Ordering::Relaxed), 1);
    client.shutdown();
    drop(events);
    sims.stop(garbage);
    sims.stop(bad_pow);
}

#[test]
fn learns_addresses_from_addrv2_dials_them_and_round_trips_the_book() {
    let sims = Sims::new();
    let b = sims.start("127.0.0.42", 0, SimConfig::default());
    let now = unix_now() as u32;
    let entry = AddrV2Entry {
        time: now,
        services: 0x801,
        addr: AddrV2Address::Ipv4([127, 0, 0, 42]),
        port: b.addr().port(),
    };
    let tor = AddrV2Entry {
        addr: AddrV2Address::TorV3([7; 32]),
        ..entry.clone()
    };
    let a = sims.start(
        "127.0.0.41",
        0,
        SimConfig {
            addrs: vec![entry, tor],
            ..SimConfig::default()
        },
    );
    let mut cfg = config(&[a.addr()]);
    cfg.target_outbound = 2;
    let client = Arc::new(Client::new(cfg).unwrap());
    let events = Events::start(&client);
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 1));
    let (id, _) = client.peers()[0].clone();
    client.send_message(id, &Message::GetAddr).unwrap();
    assert!(wait_until(Duration::from_secs(10), || {
        connected_addrs(&client).contains(&b.addr())
    }));
    // The gossip said services 0x801 (no NODE_P2P_V2): only a peer's own version decides
    // the transport, so b was still dialed with v2 (a hostile gossiper cannot downgrade).
    assert_eq!(
        b.stats().transports.lock().first().map(|t| t.0),
        Some(dashnet::peer::Transport::V2)
    );
    assert!(events.count(|e| matches!(e, ClientEvent::AddressBookChanged { .. })) >= 1);
    // Both entries were kept; the onion one is never dialed (no proxy is set): no
    // failed dial names it.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        events.count(|e| matches!(e, ClientEvent::PeerFailed { addr, .. } if addr.is_onion())),
        0
    );
    let exported = client.export_addresses();
    let mut book = AddressBook::new(Policy::default());
    let now = Now {
        mono: 0.0,
        wall: u64::from(now),
    };
    assert_eq!(book.import(&exported, now), Ok(3)); // a (fixed), b and the onion
    assert!(book.get(b.addr()).is_some());
    assert!(
        book.get(dashnet::wire::PeerAddr::Onion {
            pubkey: [7; 32],
            port: b.addr().port()
        })
        .is_some()
    );
    assert_eq!(book.export(now), exported);
    client.shutdown();
    drop(events);
    sims.stop(a);
    sims.stop(b);
}

#[test]
fn broadcast_reaches_every_peer_and_send_best_picks_the_most_work() {
    let sims = Sims::new();
    let tips = [100u32, 300, 200];
    let list: Vec<Sim> = tips
        .iter()
        .enumerate()
        .map(|(i, tip)| {
            sims.start(
                &format!("127.0.0.5{}", i + 1),
                0,
                SimConfig {
                    tip: *tip,
                    record_messages: true,
                    ..SimConfig::default()
                },
            )
        })
        .collect();
    let addrs: Vec<SocketAddr> = list.iter().map(|s| s.addr()).collect();
    let client = Arc::new(Client::new(config(&addrs)).unwrap());
    let events = Events::start(&client);
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 3));
    let cmd = Command::new("dnhello").unwrap();
    assert_eq!(client.broadcast(cmd, b"all".to_vec(), 0), Ok(3));
    // Each peer delivers its chain: the work it shows is what ranks it.
    for (id, _) in client.peers() {
        client
            .send_message(id, &getheaders2_from_genesis())
            .unwrap();
    }
    assert!(wait_until(Duration::from_secs(10), || client
        .peers()
        .iter()
        .all(|(id, i)| client
            .verified_work(*id)
            .is_ok_and(|w| w.headers == i.start_height as u64))));
    let best = client
        .send_best(Command::new("dnbest").unwrap(), b"one".to_vec(), 0)
        .unwrap();
    let tallest: PeerId = client
        .peers()
        .into_iter()
        .find(|(_, i)| i.start_height == 300)
        .unwrap()
        .0;
    assert_eq!(best, tallest);
    assert_eq!(client.best_peer(), Some(tallest), "sticky");
    let got = |s: &Sim, c: &str| {
        s.stats()
            .received
            .lock()
            .iter()
            .filter(|r| r.command.as_str() == c)
            .count()
    };
    assert!(wait_until(Duration::from_secs(5), || list
        .iter()
        .all(|s| got(s, "dnhello") == 1)));
    assert!(wait_until(Duration::from_secs(5), || got(
        &list[1], "dnbest"
    ) == 1));
    assert_eq!(got(&list[0], "dnbest") + got(&list[2], "dnbest"), 0);
    client.shutdown();
    drop(events);
    for s in list {
        sims.stop(s);
    }
}

#[test]
fn network_changed_brings_peers_back_after_a_restart_and_pause_resume() {
    let sims = Sims::new();
    let s1 = sims.start("127.0.0.61", 0, SimConfig::default());
    let port = s1.addr().port();
    let mut cfg = config(&[s1.addr()]);
    cfg.book.backoff_initial = Duration::from_secs(20);
    cfg.book.backoff_max = Duration::from_secs(60);
    let client = Arc::new(Client::new(cfg).unwrap());
    let events = Events::start(&client);
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 1));
    // The node restarts on the same port; the client's redial waits 10 to 30 s.
    sims.stop(s1);
    assert!(wait_until(Duration::from_secs(5), || client
        .peers()
        .is_empty()));
    let s1 = sims.start("127.0.0.61", port, SimConfig::default());
    std::thread::sleep(Duration::from_millis(300));
    assert!(client.peers().is_empty(), "still backing off");
    let t = Instant::now();
    client.network_changed().unwrap();
    assert!(wait_until(Duration::from_secs(5), || client.peers().len() == 1));
    assert!(t.elapsed() < Duration::from_secs(5));

    // pause: connections close gracefully and nothing is dialed; resume: back at once.
    client.pause().unwrap();
    assert!(wait_until(Duration::from_secs(5), || client
        .peers()
        .is_empty()));
    let dials = client.stats().dials;
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(client.stats().dials, dials);
    assert!(
        events.count(|e| matches!(
            e,
            ClientEvent::PeerDisconnected {
                reason: DisconnectReason::Requested,
                ..
            }
        )) >= 1
    );
    client.resume().unwrap();
    assert!(wait_until(Duration::from_secs(5), || client.peers().len() == 1));
    client.shutdown();
    drop(events);
    sims.stop(s1);
}

#[test]
fn shutdown_with_busy_peers_reports_every_undelivered_message() {
    let sims = Sims::new();
    let stalled: Vec<Sim> = (0..2)
        .map(|i| {
            sims.start(
                &format!("127.0.0.7{}", i + 1),
                0,
                SimConfig {
                    stop_reading_after: Some(0),
                    // messages_out counts every frame written, a pong too: no pings here.
                    ping_interval: None,
                    ..SimConfig::default()
                },
            )
        })
        .collect();
    let addrs: Vec<SocketAddr> = stalled.iter().map(|s| s.addr()).collect();
    let mut cfg = config(&addrs);
    cfg.peer.flush_deadline = Duration::from_millis(300);
    let client = Arc::new(Client::new(cfg).unwrap());
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 2));
    let cmd = Command::new("dnbusy").unwrap();
    let mut accepted = std::collections::HashMap::<PeerId, u64>::new();
    for (id, _) in client.peers() {
        let mut n = 0u64;
        let end = Instant::now() + Duration::from_secs(5);
        // Fill the socket buffers and then the queue.
        while Instant::now() < end {
            match client.send(id, cmd, vec![1; 8 * 1024], n) {
                Ok(()) => n += 1,
                Err(_) => {
                    if client.peer_stats(id).unwrap().queued_messages > 0 {
                        std::thread::sleep(Duration::from_millis(50));
                        if client.send(id, cmd, vec![1; 8 * 1024], n).is_err() {
                            break;
                        }
                        n += 1;
                    }
                }
            }
        }
        accepted.insert(id, n);
    }
    let report = client.shutdown();
    assert_eq!(report.tasks_left, 0, "every task ended");
    // Each peer: written + handed back = accepted, and the handed-back ones are the last.
    let mut finals = std::collections::HashMap::new();
    while let Some(ev) = client.next_event(Duration::from_millis(10)) {
        if let ClientEvent::PeerDisconnected {
            peer,
            reason,
            undelivered,
            stats,
            ..
        } = ev
        {
            assert_eq!(reason, DisconnectReason::Shutdown);
            finals.insert(peer, (stats.messages_out, undelivered));
        }
    }
    assert_eq!(finals.len(), 2);
    for (id, n) in &accepted {
        let (written, undelivered) = &finals[id];
        assert!(!undelivered.is_empty(), "a stalled peer keeps some");
        assert_eq!(written + undelivered.len() as u64, *n);
        let tags: Vec<u64> = undelivered.iter().map(|m| m.tag).collect();
        assert_eq!(tags, (*written..*n).collect::<Vec<_>>());
        let reported = report.undelivered.iter().find(|(p, _)| p == id).unwrap();
        assert_eq!(reported.1.len(), undelivered.len());
    }
    for s in stalled {
        sims.stop(s);
    }
}

#[test]
fn dropping_a_client_inside_a_tokio_runtime_does_not_panic() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = Client::new(config(&[])).unwrap();
        assert!(client.next_event(Duration::from_millis(10)).is_none());
        drop(client); // shuts down on a plain thread, not by blocking this runtime
    });
}

#[test]
fn dns_seeds_are_resolved_and_dialed() {
    // The seed path end to end, on loopback: "localhost:PORT" resolves to the sim.
    let sims = Sims::new();
    let sim = sims.start("127.0.0.1", 0, SimConfig::default());
    let mut cfg = config(&[]);
    cfg.dns_seeds = true;
    cfg.seed_hosts = vec![format!("localhost:{}", sim.addr().port())];
    cfg.target_outbound = 1;
    let client = Arc::new(Client::new(cfg).unwrap());
    let events = Events::start(&client);
    assert!(wait_until(Duration::from_secs(10), || {
        connected_addrs(&client).contains(&sim.addr())
    }));
    assert!(client.stats().address_book >= 1);
    client.shutdown();
    drop(events);
    sims.stop(sim);
}

/// A peer floods the biggest messages the protocol allows (3 MiB unknown commands, then
/// 50,000-entry invs) into an app that takes one event every 20 ms and then none for a
/// second. The event-count bound is set out of the way, so only the byte budgets can
/// hold memory: the library's counters stay within them at every sample, and the events
/// waiting when the app stops, measured by their own payload sizes, fit the client
/// budget. The peer is not dropped for being slow to answer pings while parked.
#[test]
fn a_flooding_peer_into_a_slow_app_stays_within_the_byte_budgets() {
    use dashnet::sim::FloodKind;
    let sims = Sims::new();
    for kind in [FloodKind::Big, FloodKind::Inv] {
        let sim = sims.start(
            "127.0.0.1",
            0,
            SimConfig {
                flood_headers2: Some(0),
                flood_kind: kind,
                ..SimConfig::default()
            },
        );
        const PEER_BUDGET: usize = 4 << 20;
        const CLIENT_BUDGET: usize = 6 << 20;
        let mut cfg = config(&[sim.addr()]);
        cfg.exclusive = true;
        cfg.event_queue = 1_000_000;
        cfg.peer.inbound_peer_bytes = PEER_BUDGET;
        cfg.inbound_client_bytes = CLIENT_BUDGET;
        cfg.peer.ping_interval = Duration::from_millis(200);
        cfg.peer.pong_timeout = Duration::from_millis(500);
        let client = Client::new(cfg).unwrap();
        let mut peer = None;
        let (mut taken, mut max_client, mut max_peer) = (0usize, 0u64, 0u64);
        let size = |m: &Message| m.payload().len();
        let end = Instant::now() + Duration::from_secs(2);
        while Instant::now() < end {
            match client.next_event(Duration::from_millis(20)) {
                Some(ClientEvent::PeerConnected { peer: p, .. }) => peer = Some(p),
                Some(ClientEvent::Message { message, .. }) => {
                    // After what every node sends after the handshake, only the flood.
                    let c = message.command();
                    if !["sendheaders2", "sendcmpct", "senddsq"].contains(&c.as_str()) {
                        assert!(
                            size(&message) >= 1_000_000,
                            "{kind:?}: a flood message ({c})"
                        );
                        taken += 1;
                    }
                }
                Some(ClientEvent::PeerDisconnected { reason, .. }) => {
                    panic!("{kind:?}: the flooding peer was dropped: {reason}")
                }
                _ => {}
            }
            std::thread::sleep(Duration::from_millis(20));
            let s = client.stats();
            max_client = max_client.max(s.inbound_bytes);
            assert_eq!(s.inbound_budget, CLIENT_BUDGET as u64);
            if let Some(p) = peer {
                max_peer = max_peer.max(client.peer_stats(p).unwrap().inbound_bytes);
            }
        }
        assert!(taken >= 5, "{kind:?}: the app got the flood ({taken})");
        assert!(
            max_client > 0 && max_client <= CLIENT_BUDGET as u64,
            "{kind:?}: client bytes {max_client}"
        );
        assert!(
            max_peer > 0 && max_peer <= PEER_BUDGET as u64,
            "{kind:?}: peer bytes {max_peer}"
        );
        // The app stops taking: what waits for it must fit the budget, by its own size.
        std::thread::sleep(Duration::from_secs(1));
        let waiting = client.stats().events_queued;
        let mut held = 0usize;
        for _ in 0..waiting {
            match client.next_event(Duration::ZERO) {
                Some(ClientEvent::Message { message, .. }) => held += size(&message),
                Some(ClientEvent::PeerDisconnected { reason, .. }) => {
                    panic!("{kind:?}: dropped while parked: {reason}")
                }
                _ => {}
            }
        }
        assert!(waiting >= 1, "{kind:?}: the flood filled the app's side");
        assert!(
            held <= PEER_BUDGET,
            "{kind:?}: {held} bytes of events were waiting ({waiting} events)"
        );
        if client.peers().len() != 1 {
            while let Some(ev) = client.next_event(Duration::from_millis(500)) {
                if let ClientEvent::PeerDisconnected { reason, .. } = ev {
                    panic!("{kind:?}: dropped: {reason}");
                }
            }
        }
        assert_eq!(client.peers().len(), 1, "{kind:?}: still connected");
        let report = client.shutdown();
        assert_eq!(report.peers_closed, 1);
        sims.stop(sim);
    }
}

#[test]
fn ids_are_never_reused_and_a_stale_id_is_not_found() {
    let sims = Sims::new();
    let sim = sims.start("127.0.0.91", 0, SimConfig::default());
    let client = Arc::new(Client::new(config(&[sim.addr()])).unwrap());
    let events = Events::start(&client);
    let mut ids = Vec::new();
    let cmd = Command::new("dnstale").unwrap();
    for _ in 0..3 {
        assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 1));
        let id = client.peers()[0].0;
        assert!(!ids.contains(&id), "id {id} given out twice: {ids:?}");
        ids.push(id);
        client.disconnect(id).unwrap();
        assert!(wait_until(Duration::from_secs(5), || events.count(
            |e| matches!(e, ClientEvent::PeerDisconnected { peer, .. } if *peer == id)
        ) == 1));
        // The fixed peer is redialed under a new id; the old one is gone for every call.
        assert_eq!(
            client.send(id, cmd, vec![], 0),
            Err(dashnet::client::ClientError::NotFound)
        );
        assert_eq!(
            client.peer_stats(id).unwrap_err(),
            dashnet::client::ClientError::NotFound
        );
        assert_eq!(
            client.disconnect(id),
            Err(dashnet::client::ClientError::NotFound)
        );
    }
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 1));
    let live = client.peers()[0].0;
    assert!(!ids.contains(&live));
    // None of the stale ids reached the live peer.
    client.shutdown();
    drop(events);
    let report = sims.0.block_on(sim.shutdown());
    report.assert_clean();
    assert_eq!(report.commands.get("dnstale"), None);
}

#[test]
fn network_changed_probes_live_peers_and_replaces_dead_ones() {
    let sims = Sims::new();
    // One sim answers pings, one never does; neither pings the client.
    let quiet = |no_pong| SimConfig {
        no_pong,
        ping_interval: None,
        ..SimConfig::default()
    };
    let alive = sims.start("127.0.0.92", 0, quiet(false));
    let dead = sims.start("127.0.0.93", 0, quiet(true));
    let mut cfg = config(&[alive.addr(), dead.addr()]);
    cfg.target_outbound = 2;
    cfg.peer.ping_interval = Duration::from_secs(600); // no keepalive ping in this test
    let client = Arc::new(Client::new(cfg).unwrap());
    let events = Events::start(&client);
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 2));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(alive.stats().received_count("ping"), 0);
    assert_eq!(dead.stats().received_count("ping"), 0);
    client.network_changed().unwrap();
    // Each live connection gets one ping at once.
    assert!(wait_until(Duration::from_secs(5), || {
        alive.stats().received_count("ping") == 1 && dead.stats().received_count("ping") == 1
    }));
    // The one that does not answer is dropped within the probe's short deadline; the
    // other stays.
    let dead_addr = dead.addr();
    assert!(wait_until(Duration::from_secs(10), || events.count(
        |e| matches!(
            e,
            ClientEvent::PeerDisconnected { addr, reason: DisconnectReason::PingTimeout, .. }
                if *addr == dead_addr
        )
    ) == 1));
    assert!(
        connected_addrs(&client).contains(&alive.addr()),
        "the live peer stays"
    );
    client.shutdown();
    drop(events);
    sims.stop(alive);
    sims.stop(dead);
}

#[test]
fn inbound_messages_reach_the_app_in_order_with_their_payloads() {
    use dashnet::wire::payloads::{InvType, Inventory};
    let sims = Sims::new();
    let sim = sims.start("127.0.0.94", 0, SimConfig::default());
    let client = Arc::new(Client::new(config(&[sim.addr()])).unwrap());
    let events = Events::start(&client);
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 1));
    let inv = Message::Inv(
        (0..3u8)
            .map(|i| Inventory {
                kind: InvType(1),
                hash: dashnet::wire::Hash256([i; 32]),
            })
            .collect(),
    );
    let tx = Message::Tx(vec![1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let unknown = Message::Unknown {
        command: Command::new("dnfuture").unwrap(),
        payload: vec![9; 1000],
    };
    let sent = [inv, tx, unknown];
    assert_eq!(sims.0.block_on(sim.inject(&sent)), 1);
    let delivered = || -> Vec<Vec<u8>> {
        events
            .log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Message { message, .. }
                    if ["inv", "tx", "dnfuture"].contains(&message.command().as_str()) =>
                {
                    Some(message.to_frame(Network::Regtest.magic()))
                }
                _ => None,
            })
            .collect()
    };
    assert!(wait_until(Duration::from_secs(10), || delivered().len() == 3));
    let want: Vec<Vec<u8>> = sent
        .iter()
        .map(|m| m.to_frame(Network::Regtest.magic()))
        .collect();
    assert_eq!(delivered(), want, "same messages, same bytes, same order");
    // What Dash Core sends after the handshake reaches the app too (nothing is dropped).
    let commands: Vec<String> = events
        .log
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Message { message, .. } => Some(message.command().as_str().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(&commands[..3], ["sendheaders2", "sendcmpct", "senddsq"]);
    client.shutdown();
    drop(events);
    sims.stop(sim);
}

#[test]
fn syncs_from_a_peer_without_headers2_with_the_right_tip() {
    use dashnet::wire::network::services::HEADERS_COMPRESSED;
    let sims = Sims::new();
    let sim = sims.start(
        "127.0.0.95",
        0,
        SimConfig {
            tip: 5000,
            services: SimConfig::default().services & !HEADERS_COMPRESSED,
            ..SimConfig::default()
        },
    );
    let client = Arc::new(Client::new(config(&[sim.addr()])).unwrap());
    let events = Events::start(&client);
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 1));
    let mut tip = Network::Regtest.genesis_hash().unwrap();
    let mut height = 0usize;
    let deadline = Instant::now() + Duration::from_secs(60);
    while height < 5000 && Instant::now() < deadline {
        client
            .request_headers(vec![tip], Default::default())
            .unwrap();
        // Wait for the reply to this request and take its headers.
        let got = loop {
            let batch: Vec<_> = events
                .log
                .lock()
                .unwrap()
                .iter()
                .filter_map(|e| match e {
                    ClientEvent::Headers {
                        headers,
                        compressed,
                        ..
                    } => Some((headers.clone(), *compressed)),
                    _ => None,
                })
                .collect();
            if batch.len() > height / 2000 {
                break batch.into_iter().nth(height / 2000).unwrap();
            }
            assert!(Instant::now() < deadline, "no reply");
            std::thread::sleep(Duration::from_millis(10));
        };
        let (headers, compressed) = got;
        assert!(!compressed, "plain headers from a peer without headers2");
        assert_eq!(headers[0].header().prev_blockhash, tip, "links to our tip");
        tip = headers.last().unwrap().hash();
        height += headers.len();
    }
    assert_eq!(height, 5000);
    let want = dashnet::sim::chain::regtest_chain(5000).hash(5000);
    assert_eq!(tip, want, "the tip hash is the sim's block 5000");
    client.shutdown();
    drop(events);
    sims.stop(sim);
}

#[test]
fn built_in_seeds_parse_with_the_networks_port() {
    // data/seeds/*.txt: Dash Core's chainparamsseeds.h, decoded (the files name the commit).
    let main = Network::Mainnet.fixed_seeds();
    let test = Network::Testnet.fixed_seeds();
    assert_eq!((main.len(), test.len()), (177, 3));
    assert!(main.iter().all(|a| a.port() == 9999));
    assert!(test.iter().all(|a| a.port() == 19999));
    assert!(Network::Regtest.fixed_seeds().is_empty());
    assert_eq!(ClientConfig::new(Network::Mainnet).fixed_seeds, main);
}

#[test]
fn fixed_seeds_are_dialed_when_the_book_is_empty_and_dns_is_off() {
    let sims = Sims::new();
    let sim = sims.start("127.0.0.96", 0, SimConfig::default());
    let mut cfg = config(&[]);
    cfg.dns_seeds = false;
    cfg.fixed_seeds = vec![sim.addr()];
    let client = Arc::new(Client::new(cfg).unwrap());
    let events = Events::start(&client);
    assert!(wait_until(Duration::from_secs(10), || connected_addrs(
        &client
    ) == vec![
        sim.addr()
    ]));
    assert_eq!(client.stats().seed_lookups, 0, "DNS is off");
    client.shutdown();
    drop(events);
    sims.stop(sim);
}

#[test]
fn dns_seeds_are_looked_up_again_on_network_changed_resume_and_a_dry_book() {
    // "localhost" resolves from /etc/hosts, on this machine, to 127.0.0.1.
    let sims = Sims::new();
    let sim = sims.start("127.0.0.1", 0, SimConfig::default());
    let mut cfg = config(&[]);
    cfg.dns_seeds = true;
    cfg.seed_hosts = vec![format!("localhost:{}", sim.addr().port())];
    cfg.fixed_seeds = Vec::new();
    let client = Arc::new(Client::new(cfg).unwrap());
    let events = Events::start(&client);
    assert!(wait_until(Duration::from_secs(10), || connected_addrs(
        &client
    )
    .contains(&sim.addr())));
    assert_eq!(client.stats().seed_lookups, 1, "once at start");
    client.network_changed().unwrap();
    assert!(wait_until(Duration::from_secs(5), || client
        .stats()
        .seed_lookups
        == 2));
    client.pause().unwrap();
    client.resume().unwrap();
    assert!(wait_until(Duration::from_secs(5), || client
        .stats()
        .seed_lookups
        == 3));
    client.shutdown();
    drop(events);
    sims.stop(sim);

    // A seed that leads nowhere: the book runs dry and is reseeded, at most every
    // reseed_interval (a wallet started offline keeps looking).
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut cfg = config(&[]);
    cfg.dns_seeds = true;
    cfg.seed_hosts = vec![format!("localhost:{}", dead.port())];
    cfg.fixed_seeds = Vec::new();
    cfg.reseed_interval = Duration::from_millis(500);
    cfg.book.backoff_initial = Duration::from_secs(30);
    let client = Arc::new(Client::new(cfg).unwrap());
    let events = Events::start(&client);
    let t = Instant::now();
    assert!(wait_until(Duration::from_secs(10), || client
        .stats()
        .seed_lookups
        >= 4));
    assert!(
        t.elapsed() >= Duration::from_millis(1400),
        "rate-limited: {:?}",
        t.elapsed()
    );
    client.shutdown();
    drop(events);
}

#[test]
fn a_suspend_seen_as_a_wall_clock_jump_probes_every_peer() {
    let sims = Sims::new();
    let sim = sims.start(
        "127.0.0.97",
        0,
        SimConfig {
            ping_interval: None,
            ..SimConfig::default()
        },
    );
    let mut cfg = config(&[sim.addr()]);
    cfg.peer.ping_interval = Duration::from_secs(600); // no keepalive ping in this test
    let client = Arc::new(Client::new(cfg).unwrap());
    let events = Events::start(&client);
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 1));
    std::thread::sleep(Duration::from_millis(200));
    // Below the threshold (30 s by default): nothing happens.
    client.simulate_suspend(Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sim.stats().received_count("ping"), 0);
    // A jump of a minute while the monotonic clock stood still: the OS suspended us. Every
    // peer is probed at once, as on network_changed.
    client.simulate_suspend(Duration::from_secs(60));
    assert!(wait_until(Duration::from_secs(5), || sim
        .stats()
        .received_count("ping")
        == 1));
    client.shutdown();
    drop(events);
    sims.stop(sim);
}

#[test]
fn a_wall_clock_set_back_does_not_stop_dialing() {
    // Backoff runs on the monotonic clock. Before, a retry was scheduled in wall-clock
    // time, so setting the clock back a day meant no dial for a day.
    let sims = Sims::new();
    let a = sims.start("127.0.0.63", 0, SimConfig::default());
    let addr = a.addr();
    let client = Arc::new(Client::new(config(&[])).unwrap());
    let events = Events::start(&client);
    assert_eq!(client.import_addresses(&book_with(&[addr])), Ok(1));
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 1));
    sims.stop(a);
    // Gone, and at least one redial failed: a retry is scheduled.
    assert!(wait_until(Duration::from_secs(10), || client
        .peers()
        .is_empty()
        && client.stats().dials >= 2));
    client.simulate_wall_clock_jump(-24 * 3600 * 1000);
    let a = sims.start("127.0.0.63", addr.port(), SimConfig::default());
    assert!(
        wait_until(Duration::from_secs(10), || client.peers().len() == 1),
        "no redial after the wall clock went back a day"
    );
    client.shutdown();
    drop(events);
    sims.stop(a);
}

#[test]
fn gossip_floods_do_not_take_over_the_book() {
    // On mainnet rules (the sim speaks mainnet's magic): one peer's addrv2 floods of
    // loopback, private and one-netgroup addresses add at most the netgroup cap.
    let sims = Sims::new();
    let a = sims.start(
        "127.0.0.62",
        0,
        SimConfig {
            network: Network::Mainnet,
            ..SimConfig::default()
        },
    );
    let mut cfg = config(&[a.addr()]);
    cfg.peer.network = Network::Mainnet;
    cfg.fixed_seeds = Vec::new();
    cfg.exclusive = true; // never dial what the flood names
    let client = Arc::new(Client::new(cfg).unwrap());
    let events = Events::start(&client);
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 1));
    let now = unix_now() as u32;
    let entry = |ip: [u8; 4]| AddrV2Entry {
        time: now + 500,
        services: 1,
        addr: AddrV2Address::Ipv4(ip),
        port: 9999,
    };
    let mut messages = Vec::new();
    for chunk in 0..10u8 {
        let list: Vec<AddrV2Entry> = (0..1000u32)
            .map(|i| match i % 4 {
                0 => entry([127, chunk, (i >> 8) as u8, i as u8]),
                1 => entry([10, chunk, (i >> 8) as u8, i as u8]),
                2 => entry([192, 168, chunk, i as u8]),
                _ => entry([45, 9, chunk, i as u8]),
            })
            .collect();
        messages.push(Message::AddrV2(list));
    }
    assert_eq!(sims.0.block_on(a.inject(&messages)), 1, "one connection");
    assert!(wait_until(Duration::from_secs(10), || client
        .stats()
        .address_book
        == 1 + Policy::default().per_netgroup as u64));
    std::thread::sleep(Duration::from_millis(200));
    let exported = client.export_addresses();
    let mut book = AddressBook::new(Policy::default());
    let n = book
        .import(
            &exported,
            Now {
                mono: 0.0,
                wall: u64::from(now),
            },
        )
        .unwrap();
    assert_eq!(
        n,
        1 + Policy::default().per_netgroup,
        "fixed peer + one /16's cap"
    );
    client.shutdown();
    drop(events);
    sims.stop(a);
}

#[test]
fn a_peer_that_claims_height_but_serves_nothing_is_replaced_when_it_stalls() {
    // It claims 10,000,000 blocks and never answers a header request. Chosen first (it is
    // the only peer when the request goes out), it stalls: the client names its
    // replacement, re-sends the request there, and the honest peer's headers arrive.
    let sims = Sims::new();
    let liar = sims.start("127.0.0.71", 0, liar());
    let honest = sims.start("127.0.0.72", 0, SimConfig::default());
    let mut cfg = config(&[liar.addr()]);
    cfg.header_stall_timeout = Duration::from_millis(500);
    let client = Arc::new(Client::new(cfg).unwrap());
    let events = Events::start(&client);
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 1));
    let liar_id = client.peers()[0].0;
    let genesis = dashnet::sim::regtest_genesis().block_hash();
    assert_eq!(
        client.request_headers(vec![genesis], Default::default()),
        Ok(liar_id)
    );
    client.connect(honest.addr()).unwrap();
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 2));
    let honest_id = client
        .peers()
        .iter()
        .find(|(id, _)| *id != liar_id)
        .unwrap()
        .0;
    assert!(
        wait_until(Duration::from_secs(10), || events.count(|e| matches!(
            e,
            ClientEvent::BestPeerChanged { old, new: Some(n), .. }
                if *old == liar_id && *n == honest_id
        )) == 1),
        "the stall names the replacement"
    );
    assert!(wait_until(Duration::from_secs(10), || {
        events.count(|e| matches!(
        e,
        ClientEvent::Headers { peer, headers, .. } if *peer == honest_id && headers.len() == 2000
    )) == 1
    }));
    assert_eq!(client.best_peer(), Some(honest_id));
    assert_eq!(liar.stats().header_requests.load(Ordering::Relaxed), 1);
    // More requests go to the honest peer; the liar is not chosen again.
    let tip = client.verified_work(honest_id).unwrap().tip.unwrap();
    assert_eq!(
        client.request_headers(vec![tip], Default::default()),
        Ok(honest_id)
    );
    assert!(wait_until(Duration::from_secs(5), || honest
        .stats()
        .header_requests
        .load(Ordering::Relaxed)
        == 2));
    assert_eq!(
        events.count(|e| matches!(e, ClientEvent::BestPeerChanged { .. })),
        1
    );
    assert_eq!(client.stats().banned, 0, "a stall is not a ban");
    client.shutdown();
    drop(events);
    sims.stop(liar);
    sims.stop(honest);
}

#[test]
fn required_services_keep_only_the_peers_that_serve_them() {
    use dashnet::wire::network::services;
    let sims = Sims::new();
    let cf = services::NETWORK
        | services::BLOOM
        | services::HEADERS_COMPRESSED
        | services::COMPACT_FILTERS;
    let with = |ip: &str| {
        sims.start(
            ip,
            0,
            SimConfig {
                services: cf,
                ..SimConfig::default()
            },
        )
    };
    let a = with("127.0.0.81");
    let b = with("127.0.0.82");
    let c = sims.start("127.0.0.83", 0, SimConfig::default());
    let mut cfg = config(&[]);
    cfg.peer.required_services = services::COMPACT_FILTERS;
    cfg.target_outbound = 3;
    let client = Arc::new(Client::new(cfg).unwrap());
    let events = Events::start(&client);
    assert_eq!(
        client.import_addresses(&book_with(&[a.addr(), b.addr(), c.addr()])),
        Ok(3)
    );
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 2));
    assert!(wait_until(Duration::from_secs(5), || events.count(
        |e| matches!(
            e,
            ClientEvent::PeerFailed { addr, reason, .. }
                if *addr == c.addr() && reason.contains("COMPACT_FILTERS")
        )
    ) == 1));
    // Replaced, not banned, and not dialed again (backoff here is 100 ms).
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(c.stats().connections.load(Ordering::Relaxed), 1);
    assert_eq!(client.stats().banned, 0);
    let mut peers = connected_addrs(&client);
    peers.sort();
    assert_eq!(peers, vec![a.addr(), b.addr()]);
    // Filters come back from whichever serves them.
    let stop = dashnet::sim::regtest_chain(2000).hash(10);
    let ask = Message::GetCFHeaders(dashnet::wire::payloads::FilterRange {
        filter_type: 0,
        start_height: 1,
        stop_hash: stop,
    });
    let to = client.send_best(ask.command(), ask.payload(), 0).unwrap();
    assert!(wait_until(Duration::from_secs(5), || events.count(
        |e| matches!(
            e,
            ClientEvent::Message { peer, message: Message::CFHeaders(h) }
                if *peer == to && h.filter_hashes.len() == 10
        )
    ) == 1));
    client.shutdown();
    drop(events);

    // A client that needs nothing keeps c; filter requests cannot go there.
    let client = Arc::new(Client::new(config(&[c.addr()])).unwrap());
    let events = Events::start(&client);
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 1));
    let id = client.peers()[0].0;
    assert_eq!(
        client.send_message(id, &ask),
        Err(dashnet::client::ClientError::NoService {
            peer: Some(id),
            services: services::COMPACT_FILTERS
        })
    );
    assert_eq!(
        client.send_best(ask.command(), ask.payload(), 0),
        Err(dashnet::client::ClientError::NoService {
            peer: None,
            services: services::COMPACT_FILTERS
        })
    );
    assert_eq!(client.broadcast(ask.command(), ask.payload(), 0), Ok(0));
    client.shutdown();
    drop(events);
    sims.stop(a);
    sims.stop(b);
    sims.stop(c); // clean: no filter request ever reached it
}

#[test]
fn claimed_height_does_not_make_a_best_peer_delivered_work_does() {
    let sims = Sims::new();
    let liar = sims.start("127.0.0.73", 0, liar());
    let honest = sims.start("127.0.0.74", 0, SimConfig::default());
    let client = Arc::new(Client::new(config(&[liar.addr(), honest.addr()])).unwrap());
    let events = Events::start(&client);
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 2));
    let (honest_id, _) = client
        .peers()
        .into_iter()
        .find(|(_, i)| i.addr == honest.addr())
        .unwrap();
    let genesis = dashnet::sim::regtest_genesis().block_hash();
    let ask = getheaders2_from_genesis();
    client.send_message(honest_id, &ask).unwrap();
    assert!(wait_until(Duration::from_secs(10), || client
        .verified_work(honest_id)
        .is_ok_and(|w| w.headers == 2000)));
    assert_eq!(client.best_peer(), Some(honest_id));
    assert_eq!(
        client.request_headers(vec![genesis], Default::default()),
        Ok(honest_id)
    );
    client.shutdown();
    drop(events);
    sims.stop(liar);
    sims.stop(honest);
}

#[test]
fn a_reconnecting_peer_does_not_get_a_fresh_gossip_allowance() {
    // per_source is keyed by the gossiping peer's netgroup, not its connection id: a
    // peer that reconnects (a new id) shares the allowance it already used.
    let sims = Sims::new();
    let a = sims.start("127.0.0.91", 0, SimConfig::default());
    let addr = a.addr();
    let mut cfg = config(&[addr]);
    cfg.exclusive = true; // never dial what it names
    cfg.book.per_source = 4;
    let client = Arc::new(Client::new(cfg).unwrap());
    let events = Events::start(&client);
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 1));
    let now = unix_now() as u32;
    let gossip = |first: u8| {
        Message::AddrV2(
            (first..first + 10)
                .map(|i| AddrV2Entry {
                    time: now,
                    services: 1,
                    addr: AddrV2Address::Ipv4([127, 9, 0, i]),
                    port: 9999,
                })
                .collect(),
        )
    };
    assert_eq!(sims.0.block_on(a.inject(&[gossip(0)])), 1);
    assert!(wait_until(Duration::from_secs(5), || client
        .stats()
        .address_book
        == 5));
    let first_id = client.peers()[0].0;
    sims.stop(a);
    let a = sims.start("127.0.0.91", addr.port(), SimConfig::default());
    assert!(wait_until(Duration::from_secs(10), || client
        .peers()
        .first()
        .is_some_and(|(id, _)| *id != first_id)));
    assert_eq!(sims.0.block_on(a.inject(&[gossip(100)])), 1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        client.stats().address_book,
        5,
        "no fresh allowance for the new id"
    );
    client.shutdown();
    drop(events);
    sims.stop(a);
}

#[test]
fn importing_a_book_dials_it_without_looking_up_seeds_again() {
    let sims = Sims::new();
    let a = sims.start("127.0.0.92", 0, SimConfig::default());
    let mut cfg = config(&[]);
    cfg.dns_seeds = true;
    cfg.seed_hosts = vec!["localhost".into()];
    let client = Arc::new(Client::new(cfg).unwrap());
    let events = Events::start(&client);
    assert!(wait_until(Duration::from_secs(5), || client
        .stats()
        .seed_lookups
        == 1));
    assert_eq!(client.import_addresses(&book_with(&[a.addr()])), Ok(1));
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 1));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(client.stats().seed_lookups, 1, "an import is not a resume");
    client.shutdown();
    drop(events);
    sims.stop(a);
}

#[test]
fn unsolicited_headers_earn_no_work_but_answers_do() {
    // A peer pushing a chain nobody asked for (here the real one, from genesis) must not
    // outweigh a peer that answered our requests.
    let sims = Sims::new();
    let pusher = sims.start("127.0.0.93", 0, SimConfig::default());
    let honest = sims.start("127.0.0.94", 0, SimConfig::default());
    let client = Arc::new(Client::new(config(&[pusher.addr(), honest.addr()])).unwrap());
    let events = Events::start(&client);
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 2));
    let id_of = |a: SocketAddr| {
        client
            .peers()
            .into_iter()
            .find(|(_, i)| i.addr == a)
            .unwrap()
            .0
    };
    let (pusher_id, honest_id) = (id_of(pusher.addr()), id_of(honest.addr()));
    let chain = dashnet::sim::regtest_chain(2000);
    let push = Message::Headers2(chain.headers(1, 2000));
    assert_eq!(sims.0.block_on(pusher.inject(&[push])), 1);
    assert!(wait_until(Duration::from_secs(10), || {
        events.count(|e| matches!(
        e,
        ClientEvent::Headers { peer, headers, .. } if *peer == pusher_id && headers.len() == 2000
    )) == 1
    }));
    assert_eq!(
        client.verified_work(pusher_id).unwrap().headers,
        0,
        "unasked: no credit"
    );
    // The honest peer answers a request from genesis: credited.
    let ask = getheaders2_from_genesis();
    client.send_message(honest_id, &ask).unwrap();
    assert!(wait_until(Duration::from_secs(10), || client
        .verified_work(honest_id)
        .is_ok_and(|w| w.headers == 2000)));
    assert_eq!(client.best_peer(), Some(honest_id));
    client.shutdown();
    drop(events);
    sims.stop(pusher);
    sims.stop(honest);
}

#[test]
fn a_block_announcement_is_not_the_answer_to_a_header_request() {
    // The peer never answers the request but announces a block (a one-header batch that
    // does not start from our locator): the request stays watched and times out.
    let sims = Sims::new();
    let staller = sims.start(
        "127.0.0.95",
        0,
        SimConfig {
            serve_headers: false,
            ..SimConfig::default()
        },
    );
    let mut cfg = config(&[staller.addr()]);
    cfg.header_stall_timeout = Duration::from_millis(700);
    let client = Arc::new(Client::new(cfg).unwrap());
    let events = Events::start(&client);
    assert!(wait_until(Duration::from_secs(10), || client.peers().len() == 1));
    let id = client.peers()[0].0;
    let genesis = dashnet::sim::regtest_genesis().block_hash();
    assert_eq!(
        client.request_headers(vec![genesis], Default::default()),
        Ok(id)
    );
    let chain = dashnet::sim::regtest_chain(2000);
    let announce = Message::Headers2(chain.headers(1500, 1500));
    assert_eq!(sims.0.block_on(staller.inject(&[announce])), 1);
    assert!(
        wait_until(Duration::from_secs(5), || events.count(|e| matches!(
            e,
            ClientEvent::BestPeerChanged { old, new: None, .. } if *old == id
        )) == 1),
        "the request was still watched after the announcement"
    );
    client.shutdown();
    drop(events);
    sims.stop(staller);
}
