//! BIP324 v2 transport against dashnet-sim: a 20,000-header headers2 sync with the tip
//! checked (with and without decoys), each v2 misbehaviour's reason, the v1 fallback
//! and the modes. The concurrency tests of tests/peer.rs (eight senders under a flood,
//! pings ahead of data, shutdown accounting) run over both transports there.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use dashnet::peer::{
    ConnectError, DisconnectReason, Peer, PeerConfig, PeerEvent, PendingPeer, Route, Transport,
    TransportMode,
};
use dashnet::sim::{Misbehavior, Sim, SimConfig};
use dashnet::wire::network::services::{HEADERS_COMPRESSED, NETWORK, P2P_V2};
use dashnet::wire::{Hash256, Locator, Message, Network};
use tokio::sync::mpsc;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(60);

fn config(mode: TransportMode) -> PeerConfig {
    PeerConfig {
        transport: mode,
        ..PeerConfig::new(Network::Regtest)
    }
}

async fn connect(
    sim: &Sim,
    mode: TransportMode,
) -> Result<(Peer, mpsc::Receiver<PeerEvent>), ConnectError> {
    let (tx, rx) = mpsc::channel(64);
    let peer = Peer::connect(1, sim.addr(), Arc::new(config(mode)), tx).await?;
    Ok((peer, rx))
}

async fn disconnected(rx: &mut mpsc::Receiver<PeerEvent>) -> (DisconnectReason, usize) {
    let mut headers = 0;
    while let Some(ev) = rx.recv().await {
        match ev {
            PeerEvent::Headers { headers: h, .. } => headers += h.len(),
            PeerEvent::Disconnected { reason, .. } => return (reason, headers),
            _ => {}
        }
    }
    panic!("event stream ended without Disconnected");
}

/// Syncs every header the sim has with getheaders2, and returns the last hash.
async fn sync(peer: &Peer, rx: &mut mpsc::Receiver<PeerEvent>, tip: u32) -> (usize, Hash256) {
    let mut last = Network::Regtest.genesis_hash().unwrap();
    let mut count = 0usize;
    while count < tip as usize {
        peer.send(&Message::GetHeaders2(Locator {
            version: 70240,
            hashes: vec![last],
            stop: Default::default(),
        }))
        .unwrap();
        loop {
            match rx.recv().await.expect("events") {
                PeerEvent::Headers { headers, .. } => {
                    assert!(!headers.is_empty());
                    count += headers.len();
                    last = headers.last().unwrap().hash();
                    break;
                }
                PeerEvent::Disconnected { reason, .. } => panic!("disconnected: {reason}"),
                _ => {}
            }
        }
    }
    (count, last)
}

async fn sync_20000(sim_config: SimConfig) {
    const TIP: u32 = 20_000;
    let sim = Sim::start(SimConfig {
        tip: TIP,
        ..sim_config
    })
    .await
    .unwrap();
    let (peer, mut rx) = connect(&sim, TransportMode::V2Only).await.unwrap();
    assert_eq!(peer.info().transport, Transport::V2);
    let (count, last) = timeout(LIMIT, sync(&peer, &mut rx, TIP)).await.unwrap();
    assert_eq!(count, TIP as usize);
    let chain = dashnet::sim::chain::regtest_chain(TIP);
    assert_eq!(last, chain.hash(TIP), "the tip hash");
    assert_eq!(
        sim.stats().transports.lock().clone(),
        vec![(Transport::V2, peer.info().session_id)]
    );
    // We advertise NODE_P2P_V2 when v2 is on.
    assert!(sim.stats().client_services.lock()[0] & P2P_V2 != 0);
    peer.disconnect();
    let (reason, _) = disconnected(&mut rx).await;
    assert_eq!(reason, DisconnectReason::Requested);
    sim.shutdown().await.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncs_20000_headers2_over_v2_to_the_right_tip() {
    sync_20000(SimConfig::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoys_before_the_version_packet_and_every_message_are_skipped() {
    sync_20000(SimConfig {
        misbehavior: Some(Misbehavior::V2Decoys),
        ..SimConfig::default()
    })
    .await;
}

async fn handshake_failure(m: Misbehavior) -> DisconnectReason {
    let sim = Sim::start(SimConfig {
        misbehavior: Some(m),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let reason = match timeout(LIMIT, connect(&sim, TransportMode::V2Preferred))
        .await
        .unwrap()
    {
        Err(ConnectError::Handshake(reason)) => reason,
        Err(e) => panic!("{m:?}: {e}"),
        Ok(_) => panic!("{m:?}: the handshake succeeded"),
    };
    // A v2 peer that fails v2 is not retried over v1 (only a v1-looking peer is).
    assert_eq!(sim.stats().connections.load(Relaxed), 1, "{m:?}");
    sim.shutdown().await.assert_clean();
    reason
}

#[tokio::test]
async fn a_bad_garbage_terminator_and_a_wrong_key_fail_the_handshake_by_name() {
    for m in [Misbehavior::V2BadTerminator, Misbehavior::V2WrongKey] {
        let reason = handshake_failure(m).await;
        assert!(
            matches!(&reason, DisconnectReason::Transport(t) if t.contains("garbage terminator")),
            "{m:?}: {reason}"
        );
    }
}

async fn after_handshake(m: Misbehavior) -> (DisconnectReason, usize) {
    let sim = Sim::start(SimConfig {
        misbehavior: Some(m),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (peer, mut rx) = connect(&sim, TransportMode::V2Only).await.unwrap();
    let out = timeout(LIMIT, disconnected(&mut rx)).await.unwrap();
    peer.closed().await;
    sim.shutdown().await.assert_clean();
    out
}

#[tokio::test]
async fn a_packet_that_fails_authentication_ends_the_connection_by_name() {
    let (reason, _) = after_handshake(Misbehavior::V2BadTag).await;
    assert!(
        matches!(&reason, DisconnectReason::Transport(t) if t.contains("failed authentication")),
        "{reason}"
    );
}

#[tokio::test]
async fn an_oversize_length_is_a_transport_error() {
    // Not PROTOCOL (which is scored): the length is not authenticated, so anyone on the
    // path can make it anything.
    let (reason, _) = after_handshake(Misbehavior::V2OversizeLength).await;
    assert!(
        matches!(&reason, DisconnectReason::Transport(t) if t.contains("exceeds")),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_larger_decoded_than_the_budget_still_gets_through_over_v2() {
    // 8000-header headers2 messages (about 320 KB on the wire, about 900 KB decoded)
    // into a 256 KiB peer budget: each is charged once, capped at the budget, and goes
    // through alone, as over v1. (Charging the length first and the rest once the
    // command is known would wait forever for more than the budget holds.)
    const TIP: u32 = 24_000;
    let sim = Sim::start(SimConfig {
        tip: TIP,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (tx, mut rx) = mpsc::channel(64);
    let config = PeerConfig {
        inbound_peer_bytes: 256 * 1024,
        ..config(TransportMode::V2Only)
    };
    let peer = Peer::connect(1, sim.addr(), Arc::new(config), tx)
        .await
        .unwrap();
    let (count, last) = timeout(LIMIT, sync(&peer, &mut rx, TIP))
        .await
        .expect("the sync does not hang");
    assert_eq!(count, TIP as usize);
    let chain = dashnet::sim::chain::regtest_chain(TIP);
    assert_eq!(last, chain.hash(TIP));
    peer.disconnect();
    disconnected(&mut rx).await;
    sim.shutdown().await.assert_clean();
}

#[tokio::test]
async fn a_truncated_packet_delivers_nothing_of_it() {
    let (reason, headers) = after_handshake(Misbehavior::V2Truncated).await;
    assert_eq!(reason, DisconnectReason::RemoteClosed);
    assert_eq!(headers, 0, "half a headers2 packet delivered nothing");
}

#[tokio::test]
async fn a_v1_node_gets_v1_at_once_unless_v2_only() {
    let v1_sim = || {
        Sim::start(SimConfig {
            v2: false,
            ..SimConfig::default()
        })
    };
    // Preferred: the v2 attempt is closed on, the same address is dialed again with v1.
    let sim = v1_sim().await.unwrap();
    let (peer, mut rx) = connect(&sim, TransportMode::V2Preferred).await.unwrap();
    assert_eq!(peer.info().transport, Transport::V1);
    assert_eq!(peer.info().session_id, None);
    assert_eq!(sim.stats().v2_refused.load(Relaxed), 1);
    assert_eq!(sim.stats().connections.load(Relaxed), 2);
    let (count, _) = timeout(LIMIT, sync(&peer, &mut rx, 2000)).await.unwrap();
    assert_eq!(count, 2000);
    // The sim counts a handshake when our last handshake message is in: by now it is.
    assert_eq!(sim.stats().handshakes_ok.load(Relaxed), 1);
    peer.disconnect();
    disconnected(&mut rx).await;
    sim.shutdown().await.assert_clean();

    // V2 only: the same node fails the handshake, naming why.
    let sim = v1_sim().await.unwrap();
    match connect(&sim, TransportMode::V2Only).await {
        Err(ConnectError::Handshake(DisconnectReason::Transport(t))) => {
            assert!(t.contains("not a v2 peer"), "{t}")
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert_eq!(sim.stats().connections.load(Relaxed), 1);
    sim.shutdown().await.assert_clean();

    // Known from the book to lack NODE_P2P_V2: v1 straight away, no v2 attempt.
    let sim = v1_sim().await.unwrap();
    let pending = PendingPeer::connect_with(
        1,
        sim.addr().into(),
        &Route::Direct,
        Arc::new(config(TransportMode::V2Preferred)),
        Some(NETWORK | HEADERS_COMPRESSED),
    )
    .await
    .unwrap();
    assert_eq!(pending.peer().info().transport, Transport::V1);
    assert_eq!(sim.stats().v2_refused.load(Relaxed), 0);
    assert_eq!(sim.stats().connections.load(Relaxed), 1);
    drop(pending);
    sim.shutdown().await.assert_clean();
}

#[tokio::test]
async fn v1_only_speaks_v1_to_a_v2_node_and_does_not_advertise_v2() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let (peer, mut rx) = connect(&sim, TransportMode::V1Only).await.unwrap();
    assert_eq!(peer.info().transport, Transport::V1);
    assert!(peer.info().services & P2P_V2 != 0, "the sim advertises v2");
    assert_eq!(
        sim.stats().transports.lock().clone(),
        vec![(Transport::V1, None)]
    );
    assert_eq!(sim.stats().client_services.lock()[0] & P2P_V2, 0);
    peer.disconnect();
    disconnected(&mut rx).await;
    sim.shutdown().await.assert_clean();
}
