//! The header sync service against dashnet-sims: the same chain, in order, to the same
//! tip with 1, 2 and 4 decode threads and one or four sims; a segment that does not link
//! at its checkpoint and a peer that stalls mid-sync are replaced; a fork below the
//! app's tip, cancel, a second sync while one runs, and shutdown in the middle.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use dashnet::client::{Client, ClientEvent, SyncStatus, SyncSummary};
use dashnet::peer::DisconnectReason;
use dashnet::sim::chain::{Chain, regtest_chain};
use dashnet::sim::{Misbehavior, Sim, SimConfig};
use dashnet::wire::Hash256;

#[path = "support/sims.rs"]
mod sims;
use sims::*;

/// What an app keeps from a sync: the hashes by height (from 1), following rewinds.
#[derive(Default)]
struct Received {
    hashes: Vec<Hash256>,
    rewinds: usize,
    max_in_flight: u32,
    progress: usize,
    peers_seen: u32,
}

impl Received {
    fn take(&mut self, ev: &ClientEvent) -> Option<SyncSummary> {
        match ev {
            ClientEvent::SyncHeaders {
                first_height,
                headers,
            } => {
                let from = *first_height as usize - 1;
                if self.hashes.is_empty() && from > 0 {
                    // The app's tip is above genesis: heights below it are not ours.
                    self.hashes.resize(from, Hash256::ZERO);
                }
                assert!(
                    from <= self.hashes.len(),
                    "a gap before height {first_height}"
                );
                if from < self.hashes.len() {
                    self.rewinds += 1;
                    self.hashes.truncate(from);
                }
                self.hashes.extend(headers.iter().map(|h| h.hash()));
                None
            }
            ClientEvent::SyncProgress(p) => {
                self.progress += 1;
                self.max_in_flight = self.max_in_flight.max(p.in_flight);
                self.peers_seen = self.peers_seen.max(p.peers);
                assert!(p.target >= p.height);
                None
            }
            ClientEvent::SyncDone(s) => Some(*s),
            _ => None,
        }
    }
}

/// Takes events until the sync is done (or `limit` passes).
fn run_sync(client: &Client, limit: Duration) -> (Received, SyncSummary) {
    let mut got = Received::default();
    let end = Instant::now() + limit;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "the sync did not end within {limit:?}");
        let verbose = std::env::var_os("DASHNET_TEST_VERBOSE").is_some();
        match client.take(true, verbose, Some(left)) {
            dashnet::client::Taken::Event(ev) => {
                if verbose && !matches!(ev, ClientEvent::SyncHeaders { .. }) {
                    eprintln!("{ev:?}");
                }
                if let Some(done) = got.take(&ev) {
                    return (got, done);
                }
            }
            dashnet::client::Taken::Log(_, t) => eprintln!("log: {t}"),
            _ => {}
        }
    }
}

fn chain_hashes(chain: &Chain, tip: u32) -> Vec<Hash256> {
    chain.headers(1, tip).iter().map(|h| h.hash()).collect()
}

fn add_checkpoints(client: &Client, chain: &Chain, every: u32, tip: u32) {
    for h in (every..tip).step_by(every as usize) {
        client.add_checkpoint(h, chain.hash(h)).unwrap();
    }
}

fn sim_config(tip: u32) -> SimConfig {
    SimConfig {
        tip,
        ping_interval: None,
        ..SimConfig::default()
    }
}

fn client_for(sims: &[&Sim], threads: usize) -> Arc<Client> {
    let addrs: Vec<_> = sims.iter().map(|s| s.addr()).collect();
    let mut cfg = config(&addrs);
    cfg.exclusive = true;
    cfg.target_outbound = addrs.len();
    cfg.peer.decode_threads = threads;
    let client = Arc::new(Client::new(cfg).unwrap());
    if std::env::var_os("DASHNET_TEST_VERBOSE").is_some() {
        client.set_log_level(4);
    }
    assert!(
        wait_until(Duration::from_secs(20), || client.peers().len()
            == addrs.len()),
        "every sim connected"
    );
    client
}

fn genesis() -> Vec<Hash256> {
    vec![dashnet::sim::regtest_genesis().block_hash()]
}

#[test]
fn two_hundred_thousand_headers_same_chain_with_1_2_4_threads_one_and_four_sims() {
    const TIP: u32 = 200_000;
    let chain = regtest_chain(TIP);
    let want = chain_hashes(&chain, TIP);
    let sims = Sims::new();
    let all: Vec<Sim> = (0..4)
        .map(|i| sims.start(&format!("127.0.0.{}", 61 + i), 0, sim_config(TIP)))
        .collect();
    for threads in [1, 2, 4] {
        for count in [1, 4] {
            let used: Vec<&Sim> = all.iter().take(count).collect();
            let before: Vec<u64> = used
                .iter()
                .map(|s| s.stats().header_requests.load(Ordering::Relaxed))
                .collect();
            let client = client_for(&used, threads);
            add_checkpoints(&client, &chain, 20_000, TIP);
            client.sync_headers(genesis(), 0).unwrap();
            let (got, done) = run_sync(&client, Duration::from_secs(120));
            let what = format!("{threads} threads, {count} sims");
            assert_eq!(done.status, SyncStatus::Complete, "{what}");
            assert_eq!(done.height, TIP, "{what}");
            assert_eq!(done.tip, want[want.len() - 1], "{what}");
            assert_eq!(got.hashes.len(), want.len(), "{what}");
            assert!(got.hashes == want, "{what}: headers differ from the chain");
            assert_eq!(got.rewinds, 0, "{what}");
            assert_eq!(done.segments_failed, 0);
            assert!(got.progress >= 1, "{what}: progress events");
            // Segments were in flight at once (10 segments, several per peer).
            let most = done.max_in_flight.max(got.max_in_flight);
            assert!(most >= 2, "{what}: {most} in flight");
            if count == 4 {
                for (s, b) in used.iter().zip(&before) {
                    let n = s.stats().header_requests.load(Ordering::Relaxed) - b;
                    assert!(n >= 2, "{what}: every sim served segments ({n} requests)");
                }
            }
            assert!(!client.is_syncing());
            assert_eq!(client.shutdown().tasks_left, 0);
        }
    }
    for s in all {
        sims.stop(s);
    }
}

#[test]
fn a_segment_that_does_not_link_at_its_checkpoint_is_replaced() {
    const TIP: u32 = 60_000;
    let chain = regtest_chain(TIP);
    let sims = Sims::new();
    let good = sims.start("127.0.0.71", 0, sim_config(TIP));
    let bad = sims.start(
        "127.0.0.72",
        0,
        SimConfig {
            misbehavior: Some(Misbehavior::WrongCheckpoint),
            ..sim_config(TIP)
        },
    );
    let client = client_for(&[&good, &bad], 2);
    let bad_peer = client
        .peers()
        .into_iter()
        .find(|(_, i)| i.addr.ip() == Some(bad.addr()))
        .map(|(id, _)| id)
        .unwrap();
    add_checkpoints(&client, &chain, 10_000, TIP);
    client.sync_headers(genesis(), 0).unwrap();
    let mut log = Vec::new();
    let (got, done) = {
        let mut got = Received::default();
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < end, "the sync did not end");
            if let Some(ev) = client.next_event(Duration::from_millis(100)) {
                let d = got.take(&ev);
                log.push(ev);
                if let Some(d) = d {
                    break (got, d);
                }
            }
        }
    };
    assert_eq!(done.status, SyncStatus::Complete);
    assert!(done.segments_failed >= 1, "the bad segment was noticed");
    assert!(got.hashes == chain_hashes(&chain, TIP), "the right chain");
    assert_eq!(done.tip, chain.hash(TIP));
    assert!(
        log.iter().any(|e| matches!(e,
            ClientEvent::PeerDisconnected { peer, reason: DisconnectReason::InvalidHeaders(t), .. }
                if *peer == bad_peer && t.contains("checkpoint"))),
        "the peer that sent it was disconnected as InvalidHeaders"
    );
    assert_eq!(client.shutdown().tasks_left, 0);
    sims.stop(good);
    sims.stop(bad);
}

#[test]
fn a_peer_that_stalls_mid_sync_loses_its_segments() {
    const TIP: u32 = 60_000;
    let chain = regtest_chain(TIP);
    let sims = Sims::new();
    let good = sims.start("127.0.0.73", 0, sim_config(TIP));
    let stalling = sims.start(
        "127.0.0.74",
        0,
        SimConfig {
            misbehavior: Some(Misbehavior::StallMidSync),
            ..sim_config(TIP)
        },
    );
    let addrs = [good.addr(), stalling.addr()];
    let mut cfg = config(&addrs);
    cfg.exclusive = true;
    cfg.header_stall_timeout = Duration::from_millis(500);
    let client = Arc::new(Client::new(cfg).unwrap());
    assert!(wait_until(Duration::from_secs(20), || client.peers().len() == 2));
    add_checkpoints(&client, &chain, 10_000, TIP);
    client.sync_headers(genesis(), 0).unwrap();
    let (got, done) = run_sync(&client, Duration::from_secs(60));
    assert_eq!(done.status, SyncStatus::Complete);
    assert!(done.peers_stalled >= 1, "the stall was noticed");
    assert!(got.hashes == chain_hashes(&chain, TIP), "the right chain");
    assert!(
        stalling.stats().header_requests.load(Ordering::Relaxed) >= 3,
        "the staller was asked and stalled"
    );
    assert_eq!(client.shutdown().tasks_left, 0);
    sims.stop(good);
    sims.stop(stalling);
}

#[test]
fn a_fork_below_the_tip_busy_cancel_and_checkpoint_conflicts() {
    const TIP: u32 = 4_000;
    let chain = regtest_chain(TIP);
    let sims = Sims::new();
    let sim = sims.start("127.0.0.75", 0, sim_config(TIP));
    let client = client_for(&[&sim], 1);
    // The app's tip is not on the peers' chain: they continue after the genesis.
    let g = genesis()[0];
    client.sync_headers(vec![Hash256([7; 32]), g], 1).unwrap();
    let (got, done) = run_sync(&client, Duration::from_secs(30));
    assert_eq!(done.status, SyncStatus::Fork { after: g });
    assert!(got.hashes.is_empty(), "nothing delivered on a fork");
    // A checkpoint that conflicts with the built-in genesis, or an added one.
    assert!(client.add_checkpoint(0, Hash256([1; 32])).is_err());
    let h100 = chain.hash(100);
    client.add_checkpoint(100, h100).unwrap();
    client.add_checkpoint(100, h100).unwrap();
    assert!(client.add_checkpoint(100, Hash256([2; 32])).is_err());
    // A tip at a checkpoint's height with another hash is refused.
    assert!(client.sync_headers(vec![Hash256([3; 32])], 100).is_err());
    // Bad locators.
    assert!(client.sync_headers(vec![], 0).is_err());
    assert!(client.sync_headers(vec![g; 102], 0).is_err());
    // A second sync while one runs is Busy; cancel ends it.
    assert!(client.cancel_sync().is_err(), "nothing to cancel");
    // The sim stops reading: the sync's requests stay unanswered while we look.
    sim.set_reading(false);
    client.sync_headers(genesis(), 0).unwrap();
    assert!(matches!(
        client.sync_headers(genesis(), 0),
        Err(dashnet::client::ClientError::Busy(_))
    ));
    client.cancel_sync().unwrap();
    let (_, done) = run_sync(&client, Duration::from_secs(30));
    assert_eq!(done.status, SyncStatus::Cancelled);
    assert!(!client.is_syncing());
    assert_eq!(client.shutdown().tasks_left, 0);
    sims.stop(sim);
}

#[test]
fn checkpoints_above_every_claim_are_checked_by_the_tail() {
    const TIP: u32 = 6_000;
    let chain = regtest_chain(TIP);
    let sims = Sims::new();
    // It claims 2,000 but serves 6,000: checkpoints above 2,000 do not cut the chain.
    let sim = sims.start(
        "127.0.0.78",
        0,
        SimConfig {
            claimed_height: Some(2_000),
            ..sim_config(TIP)
        },
    );
    let client = client_for(&[&sim], 1);
    client.add_checkpoint(1_000, chain.hash(1_000)).unwrap();
    client.add_checkpoint(3_000, chain.hash(3_000)).unwrap();
    // A checkpoint above the chain's tip is never reached, and does not hold the sync up.
    client.add_checkpoint(9_000, Hash256([9; 32])).unwrap();
    client.sync_headers(genesis(), 0).unwrap();
    let (got, done) = run_sync(&client, Duration::from_secs(30));
    assert_eq!(done.status, SyncStatus::Complete);
    assert!(got.hashes == chain_hashes(&chain, TIP));
    // A wrong checkpoint the tail runs through is caught there.
    let client2 = client_for(&[&sim], 1);
    client2.add_checkpoint(3_000, Hash256([3; 32])).unwrap();
    client2.sync_headers(genesis(), 0).unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    let mut failed = false;
    while Instant::now() < end && !failed {
        if let Some(ClientEvent::PeerDisconnected {
            reason: DisconnectReason::InvalidHeaders(t),
            ..
        }) = client2.next_event(Duration::from_millis(100))
        {
            failed = t.contains("checkpoint 3000");
        }
    }
    assert!(failed, "the tail's segment failed at checkpoint 3000");
    client2.cancel_sync().unwrap();
    assert_eq!(client.shutdown().tasks_left, 0);
    assert_eq!(client2.shutdown().tasks_left, 0);
    sims.stop(sim);
}

#[test]
fn a_small_budget_bounds_the_waiting_segments_and_the_sync_completes() {
    const TIP: u32 = 60_000;
    let chain = regtest_chain(TIP);
    let sims = Sims::new();
    let a = sims.start("127.0.0.79", 0, sim_config(TIP));
    let b = sims.start("127.0.0.80", 0, sim_config(TIP));
    let mut cfg = config(&[a.addr(), b.addr()]);
    cfg.exclusive = true;
    // Less than one 8000-header reply decodes to (about 0.9 MB): no lookahead at all.
    cfg.inbound_client_bytes = 512 * 1024;
    cfg.peer.decode_threads = 2;
    let client = Arc::new(Client::new(cfg).unwrap());
    assert!(wait_until(Duration::from_secs(20), || client.peers().len() == 2));
    add_checkpoints(&client, &chain, 10_000, TIP);
    client.sync_headers(genesis(), 0).unwrap();
    let mut got = Received::default();
    let mut most = 0;
    let end = Instant::now() + Duration::from_secs(60);
    let done = loop {
        assert!(Instant::now() < end, "the sync did not end");
        most = most.max(client.stats().inbound_bytes);
        if let Some(ev) = client.next_event(Duration::from_millis(100)) {
            // A slow app: the segments that wait are what the budget holds back.
            std::thread::sleep(Duration::from_millis(2));
            if let Some(d) = got.take(&ev) {
                break d;
            }
        }
    };
    assert_eq!(done.status, SyncStatus::Complete);
    assert!(got.hashes == chain_hashes(&chain, TIP));
    assert!(most <= 512 * 1024, "at most the budget was held ({most})");
    assert!(most > 0, "the budget was in use");
    assert_eq!(client.shutdown().tasks_left, 0);
    sims.stop(a);
    sims.stop(b);
}

fn client_with_stall(sims: &[&Sim], stall: Duration) -> Arc<Client> {
    let addrs: Vec<_> = sims.iter().map(|s| s.addr()).collect();
    let mut cfg = config(&addrs);
    cfg.exclusive = true;
    cfg.target_outbound = addrs.len();
    cfg.header_stall_timeout = stall;
    let client = Arc::new(Client::new(cfg).unwrap());
    assert!(wait_until(Duration::from_secs(20), || client.peers().len()
        == addrs.len()));
    client
}

#[test]
fn a_liar_that_claims_more_and_stalls_does_not_hold_the_tail() {
    const TIP: u32 = 6_000;
    let chain = regtest_chain(TIP);
    let sims = Sims::new();
    // Asked first (it claims the most), it answers short at 6,000; the liar claims more,
    // is asked, and never answers. Nobody else is left: the tail is done.
    let honest = sims.start(
        "127.0.0.81",
        0,
        SimConfig {
            claimed_height: Some(20_000_000),
            ..sim_config(TIP)
        },
    );
    let liar = sims.start("127.0.0.82", 0, liar());
    let client = client_with_stall(&[&honest, &liar], Duration::from_millis(500));
    client.sync_headers(genesis(), 0).unwrap();
    let (got, done) = run_sync(&client, Duration::from_secs(30));
    assert_eq!(done.status, SyncStatus::Complete);
    assert_eq!(done.peers_stalled, 1, "the liar stalled");
    assert!(got.hashes == chain_hashes(&chain, TIP));
    assert_eq!(client.shutdown().tasks_left, 0);
    sims.stop(honest);
    sims.stop(liar);
}

#[test]
fn a_lagging_peer_neither_forks_nor_restarts_the_sync() {
    let chain = regtest_chain(6_000);
    let sims = Sims::new();
    // It has 3,000 blocks but claims 10,000: asked first, it serves 2001..3000; asked
    // again at 6,000 it does not know the cursor and answers from the app's tip again,
    // ending below the cursor: behind, not another branch.
    let lagging = sims.start(
        "127.0.0.83",
        0,
        SimConfig {
            claimed_height: Some(10_000),
            ..sim_config(3_000)
        },
    );
    let ahead = sims.start("127.0.0.84", 0, sim_config(6_000));
    let client = client_with_stall(&[&lagging, &ahead], Duration::from_secs(5));
    client
        .sync_headers(vec![chain.hash(2_000), chain.hash(0)], 2_000)
        .unwrap();
    let (got, done) = run_sync(&client, Duration::from_secs(30));
    assert_eq!(
        done.status,
        SyncStatus::Complete,
        "one peer's view is no fork"
    );
    assert_eq!(done.height, 6_000);
    assert_eq!(got.rewinds, 0, "no restart");
    let want: Vec<Hash256> = (2_001..=6_000).map(|h| chain.hash(h)).collect();
    assert!(
        got.hashes[2_000..] == want[..],
        "blocks 2001..6000 in order"
    );
    assert_eq!(got.hashes.len(), 6_000);
    assert_eq!(done.peers_stalled, 0, "nobody blamed");
    assert_eq!(client.shutdown().tasks_left, 0);
    sims.stop(lagging);
    sims.stop(ahead);
}

#[test]
fn two_peers_against_a_checkpoint_stop_the_sync() {
    const TIP: u32 = 6_000;
    let sims = Sims::new();
    let a = sims.start("127.0.0.85", 0, sim_config(TIP));
    let b = sims.start("127.0.0.86", 0, sim_config(TIP));
    let client = client_for(&[&a, &b], 1);
    // The app's checkpoint is wrong: both honest peers fail it.
    client.add_checkpoint(3_000, Hash256([3; 32])).unwrap();
    client.sync_headers(genesis(), 0).unwrap();
    let (_, done) = run_sync(&client, Duration::from_secs(30));
    assert_eq!(
        done.status,
        SyncStatus::CheckpointMismatch { height: 3_000 }
    );
    assert_eq!(done.segments_failed, 2);
    // Only the first was disconnected; the second is still there.
    assert!(wait_until(Duration::from_secs(5), || client.peers().len() == 1));
    assert_eq!(client.shutdown().tasks_left, 0);
    sims.stop(a);
    sims.stop(b);
}

#[test]
fn shutdown_in_the_middle_of_a_parallel_sync() {
    const TIP: u32 = 200_000;
    let chain = regtest_chain(TIP);
    let sims = Sims::new();
    let a = sims.start("127.0.0.76", 0, sim_config(TIP));
    let b = sims.start("127.0.0.77", 0, sim_config(TIP));
    let client = client_for(&[&a, &b], 2);
    add_checkpoints(&client, &chain, 20_000, TIP);
    client.sync_headers(genesis(), 0).unwrap();
    // Take a few batches, then stop while segments are in flight and buffered.
    let mut got = Received::default();
    while got.hashes.len() < 20_000 {
        let ev = client.next_event(Duration::from_secs(30)).expect("headers");
        assert!(got.take(&ev).is_none(), "ended early");
    }
    let report = client.shutdown();
    assert_eq!(report.tasks_left, 0, "every task ended");
    // The sync's last event says why it ended; nothing follows the queue's close.
    let mut done = None;
    while let Some(ev) = client.next_event(Duration::from_millis(10)) {
        if let Some(d) = got.take(&ev) {
            done = Some(d);
        }
    }
    let done = done.expect("SyncDone after shutdown");
    assert_eq!(done.status, SyncStatus::ShuttingDown);
    assert!(done.height < TIP);
    assert_eq!(client.stats().inbound_bytes, 0, "no bytes left charged");
    sims.stop(a);
    sims.stop(b);
}
