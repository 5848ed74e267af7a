//! The split-socket peer against dashnet-sim: handshake order, header sync, concurrent
//! sends under a headers2 flood, every misbehaviour's reason, backpressure, and shutdown
//! accounting. Concurrency tests run under both tokio runtime flavours.

mod support;

use std::sync::Arc;
use std::time::Duration;

use dashnet::peer::{
    ConnectError, DisconnectReason, Peer, PeerConfig, PeerEvent, SendError, Transport,
    TransportMode,
};
use dashnet::sim::{Misbehavior, Sim, SimConfig, SimStats};
use dashnet::wire::{Command, Locator, Message, Network};
use tokio::sync::mpsc;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(60);

fn config() -> PeerConfig {
    PeerConfig::new(Network::Regtest)
}

fn config_for(mode: TransportMode) -> PeerConfig {
    PeerConfig {
        transport: mode,
        ..config()
    }
}

async fn connect(
    sim: &Sim,
    config: PeerConfig,
) -> Result<(Peer, mpsc::Receiver<PeerEvent>), ConnectError> {
    let (tx, rx) = mpsc::channel(64);
    let peer = Peer::connect(1, sim.addr(), Arc::new(config), tx).await?;
    Ok((peer, rx))
}

/// Waits for the peer's Disconnected event, skipping everything before it.
async fn disconnected(rx: &mut mpsc::Receiver<PeerEvent>) -> (DisconnectReason, usize) {
    let (reason, tags) = disconnected_tags(rx).await;
    (reason, tags.len())
}

/// Like `disconnected`, with the tags of the messages handed back, in order.
async fn disconnected_tags(rx: &mut mpsc::Receiver<PeerEvent>) -> (DisconnectReason, Vec<u64>) {
    while let Some(ev) = rx.recv().await {
        if let PeerEvent::Disconnected {
            reason,
            undelivered,
            ..
        } = ev
        {
            return (reason, undelivered.iter().map(|m| m.tag).collect());
        }
    }
    panic!("event stream ended without Disconnected");
}

fn locator_genesis() -> Locator {
    Locator {
        version: 70240,
        hashes: vec![Network::Regtest.genesis_hash().unwrap()],
        stop: Default::default(),
    }
}

/// Each concurrency test runs under both runtime flavours and over both transports (v2
/// with `V2Only`, so a fallback cannot pass for v2).
macro_rules! both_flavours {
    ($name:ident, $body:ident) => {
        mod $name {
            use dashnet::peer::TransportMode::{V1Only, V2Only};
            #[tokio::test(flavor = "current_thread")]
            async fn current_thread_v2() {
                tokio::time::timeout(super::LIMIT, super::$body(V2Only))
                    .await
                    .expect("test timed out");
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multi_thread_v2() {
                tokio::time::timeout(super::LIMIT, super::$body(V2Only))
                    .await
                    .expect("test timed out");
            }
            #[tokio::test(flavor = "current_thread")]
            async fn current_thread_v1() {
                tokio::time::timeout(super::LIMIT, super::$body(V1Only))
                    .await
                    .expect("test timed out");
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn multi_thread_v1() {
                tokio::time::timeout(super::LIMIT, super::$body(V1Only))
                    .await
                    .expect("test timed out");
            }
        }
    };
}

both_flavours!(handshake_order_and_header_sync, handshake_and_sync);
async fn handshake_and_sync(mode: TransportMode) {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let (peer, mut rx) = connect(&sim, config_for(mode)).await.unwrap();
    let info = peer.info().clone();
    assert_eq!(info.version, 70240);
    assert_eq!(info.negotiated_version, 70240);
    assert_eq!(info.start_height, 2000);
    assert!(info.user_agent.starts_with("/dashnet-sim:"));
    assert!(info.headers2 && info.wants_addrv2);
    // The transport asked for, and over v2 both ends derived the same session id.
    let sim_side = sim.stats().transports.lock().clone();
    match mode {
        TransportMode::V1Only => {
            assert_eq!(info.transport, Transport::V1);
            assert_eq!(info.session_id, None);
            assert_eq!(sim_side, vec![(Transport::V1, None)]);
        }
        _ => {
            assert_eq!(info.transport, Transport::V2);
            assert!(info.session_id.is_some());
            assert_eq!(sim_side, vec![(Transport::V2, info.session_id)]);
        }
    }
    assert_eq!(peer.stats().session_id, info.session_id);

    peer.send(&Message::GetHeaders2(locator_genesis())).unwrap();
    let headers = loop {
        match rx.recv().await.unwrap() {
            PeerEvent::Headers {
                headers,
                compressed,
                ..
            } => {
                assert!(compressed);
                break headers;
            }
            PeerEvent::Message { .. } | PeerEvent::Connected { .. } => continue,
            other => panic!("unexpected {other:?}"),
        }
    };
    // The sim's chain is built by the same rule as Dash Core's vector chain.
    let chain = support::regtest_chain();
    assert_eq!(headers.len(), 2000);
    for (h, (height, hash, header)) in headers.iter().zip(&chain[1..]) {
        assert_eq!((h.header(), h.hash()), (header, *hash), "height {height}");
    }
    // The sim checked our handshake frame by frame.
    let transcripts = sim.stats().handshake_transcripts.lock().clone();
    assert_eq!(
        transcripts,
        vec![vec!["version", "sendaddrv2", "verack", "sendheaders2"]]
    );
    assert!(sim.stats().violations.lock().is_empty());
    assert_eq!(SimStats::get(&sim.stats().handshakes_ok), 1);

    peer.disconnect();
    let (reason, undelivered) = disconnected(&mut rx).await;
    assert_eq!((reason, undelivered), (DisconnectReason::Requested, 0));
    peer.closed().await;
    assert_eq!(peer.send(&Message::Ping(1)), Err(SendError::Disconnected));
    sim.shutdown().await.assert_clean();
}

both_flavours!(eight_senders_under_flood, eight_senders);
async fn eight_senders(mode: TransportMode) {
    const SENDERS: u8 = 8;
    const EACH: u32 = 10_000;
    let sim = Sim::start(SimConfig {
        flood_headers2: Some(0),
        record_messages: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (peer, mut rx) = connect(&sim, config_for(mode)).await.unwrap();
    // Take events (the flood) as they come.
    let headers_seen = tokio::spawn(async move {
        let mut n = 0usize;
        while let Some(ev) = rx.recv().await {
            match ev {
                PeerEvent::Headers { headers, .. } => n += headers.len(),
                PeerEvent::Disconnected {
                    reason,
                    undelivered,
                    ..
                } => {
                    return (n, reason, undelivered.len());
                }
                PeerEvent::Message { .. }
                | PeerEvent::Connected { .. }
                | PeerEvent::QueueReady { .. } => {}
            }
        }
        panic!("no Disconnected event");
    });
    let command = Command::new("dntest").unwrap();
    let mut threads = Vec::new();
    for sender in 0..SENDERS {
        let peer = peer.clone();
        threads.push(std::thread::spawn(move || {
            let mut full = 0u64;
            for seq in 0..EACH {
                let mut payload = vec![sender];
                payload.extend_from_slice(&seq.to_le_bytes());
                loop {
                    match peer.send_raw(command, payload.clone(), 0) {
                        Ok(()) => break,
                        Err(SendError::QueueFull) => {
                            full += 1;
                            std::thread::sleep(Duration::from_micros(200));
                        }
                        Err(e) => panic!("send failed: {e}"),
                    }
                }
            }
            full
        }));
    }
    let threads = tokio::task::spawn_blocking(move || {
        threads.into_iter().map(|t| t.join().unwrap()).sum::<u64>()
    });
    let _queue_full_retries = threads.await.unwrap();
    let total = SENDERS as usize * EACH as usize;
    let stats = sim.stats_arc();
    let count = || {
        stats
            .received
            .lock()
            .iter()
            .filter(|r| r.command.as_str() == "dntest")
            .count()
    };
    while count() < total {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut next = [0u32; SENDERS as usize];
    for r in stats
        .received
        .lock()
        .iter()
        .filter(|r| r.command.as_str() == "dntest")
    {
        let sender = r.payload[0] as usize;
        let seq = u32::from_le_bytes(r.payload[1..5].try_into().unwrap());
        assert_eq!(seq, next[sender], "sender {sender} out of order");
        next[sender] += 1;
    }
    assert!(next.iter().all(|n| *n == EACH));
    assert!(SimStats::get(&stats.flood_messages) > 0, "the sim flooded");
    // The peer's pings (one at the handshake, more now, under the flood) are answered.
    for _ in 0..3 {
        sim.ping_all();
    }
    while SimStats::get(&stats.pongs_received) < 4 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    peer.disconnect();
    let (headers, reason, undelivered) = headers_seen.await.unwrap();
    assert!(headers > 0);
    assert_eq!((reason, undelivered), (DisconnectReason::Requested, 0));
    sim.shutdown().await.assert_clean();
}

async fn reason_for(sim_config: SimConfig, config: PeerConfig) -> DisconnectReason {
    let sim = Sim::start(sim_config).await.unwrap();
    let (peer, mut rx) = connect(&sim, config).await.unwrap();
    peer.send(&Message::GetHeaders2(locator_genesis())).unwrap();
    let (reason, _) = timeout(LIMIT, disconnected(&mut rx)).await.unwrap();
    peer.closed().await;
    sim.shutdown().await.assert_clean();
    reason
}

fn misbehaving(m: Misbehavior) -> SimConfig {
    SimConfig {
        misbehavior: Some(m),
        ..SimConfig::default()
    }
}

fn protocol_text(reason: DisconnectReason) -> String {
    match reason {
        DisconnectReason::Protocol(text) => text,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[tokio::test]
async fn garbage_bad_checksum_oversize_and_bad_index_are_protocol_errors() {
    let text = protocol_text(reason_for(misbehaving(Misbehavior::Garbage), config()).await);
    assert!(text.contains("bad magic"), "{text}");
    let text = protocol_text(reason_for(misbehaving(Misbehavior::BadChecksum), config()).await);
    assert!(text.contains("checksum"), "{text}");
    let text = protocol_text(reason_for(misbehaving(Misbehavior::OversizeLength), config()).await);
    assert!(text.contains("4294967295"), "{text}");
    let text = protocol_text(
        reason_for(misbehaving(Misbehavior::BadHeaders2VersionIndex), config()).await,
    );
    assert!(text.contains("version index"), "{text}");
    match reason_for(misbehaving(Misbehavior::BadPowHeaders), config()).await {
        DisconnectReason::InvalidHeaders(text) => {
            assert!(text.contains("does not meet its target"), "{text}")
        }
        other => panic!("expected invalid headers, got {other:?}"),
    }
}

#[tokio::test]
async fn close_mid_message_is_remote_closed() {
    let reason = reason_for(misbehaving(Misbehavior::CloseMidMessage), config()).await;
    assert_eq!(reason, DisconnectReason::RemoteClosed);
}

#[tokio::test]
async fn unanswered_ping_times_out() {
    let mut c = config();
    c.ping_interval = Duration::from_millis(100);
    c.pong_timeout = Duration::from_millis(300);
    let reason = reason_for(
        SimConfig {
            no_pong: true,
            ..SimConfig::default()
        },
        c,
    )
    .await;
    assert_eq!(reason, DisconnectReason::PingTimeout);
}

#[tokio::test]
async fn answered_pings_measure_rtt() {
    let sim = Sim::start(SimConfig {
        pong_delay: Some(Duration::from_millis(40)),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut c = config();
    c.ping_interval = Duration::from_millis(50);
    let (peer, mut rx) = connect(&sim, c).await.unwrap();
    timeout(LIMIT, async {
        while peer.stats().pings_answered < 3 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    let s = peer.stats();
    // The sim holds each pong back 40 ms: every RTT is at least that, and not absurdly
    // more (a clock mix-up would be off by orders of magnitude).
    for rtt in [s.ping_min_us, s.ping_last_us, s.ping_avg_us] {
        assert!((40_000..10_000_000).contains(&rtt), "{s:?}");
    }
    assert!(
        s.ping_min_us <= s.ping_avg_us && s.ping_min_us <= s.ping_last_us,
        "{s:?}"
    );
    assert!(s.connected_since_unix_us > 1_700_000_000_000_000);
    peer.disconnect();
    disconnected(&mut rx).await;
    sim.shutdown().await.assert_clean();
}

#[tokio::test]
async fn silent_peer_is_inactive() {
    let mut c = config();
    c.inactivity_timeout = Duration::from_millis(300);
    let reason = reason_for(
        SimConfig {
            tip: 0, // nothing to answer getheaders2 with but an empty headers2
            no_pong: true,
            ..SimConfig::default()
        },
        c,
    )
    .await;
    assert_eq!(reason, DisconnectReason::Inactive);
}

#[tokio::test]
async fn silent_handshake_times_out_and_old_versions_are_refused() {
    let sim = Sim::start(misbehaving(Misbehavior::SilentHandshake))
        .await
        .unwrap();
    let mut c = config();
    c.handshake_timeout = Duration::from_millis(300);
    let err = connect(&sim, c).await.unwrap_err();
    assert_eq!(
        err,
        ConnectError::Handshake(DisconnectReason::HandshakeTimeout)
    );
    sim.shutdown().await.assert_clean();

    let sim = Sim::start(SimConfig {
        protocol_version: 70215,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let err = connect(&sim, config()).await.unwrap_err();
    assert_eq!(
        err,
        ConnectError::Handshake(DisconnectReason::VersionTooOld(70215))
    );
    sim.shutdown().await.assert_clean();
}

#[tokio::test]
async fn refused_connection_is_an_io_error() {
    // Bind then drop, so the port is very likely closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (tx, _rx) = mpsc::channel(1);
    let err = Peer::connect(1, port, Arc::new(config()), tx)
        .await
        .unwrap_err();
    assert_eq!(err, ConnectError::Io(std::io::ErrorKind::ConnectionRefused));
}

both_flavours!(stalled_peer_fills_queue_then_write_stalls, stalled_peer);
async fn stalled_peer(mode: TransportMode) {
    // No pings from the sim: the accounting below counts every frame the writer wrote,
    // so nothing but the test's messages may be written.
    let sim = Sim::start(SimConfig {
        stop_reading_after: Some(0),
        ping_interval: None,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut c = config_for(mode);
    c.write_stall_timeout = Duration::from_millis(500);
    c.queue_max_bytes = 1 << 20;
    let (peer, mut rx) = connect(&sim, c).await.unwrap();
    let command = Command::new("dnbulk").unwrap();
    let mut accepted = 0u64;
    let mut queue_full = 0u64;
    // Keep offering messages: the socket buffers fill, then the queue (QueueFull),
    // then the writer makes no progress for the stall timeout and the peer is dropped.
    loop {
        match peer.send_raw(command, vec![0xab; 16 * 1024], accepted) {
            Ok(()) => accepted += 1,
            Err(SendError::QueueFull) => {
                queue_full += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(SendError::Disconnected) => break,
            Err(e) => panic!("unexpected {e}"),
        }
        if accepted.is_multiple_of(64) {
            tokio::task::yield_now().await;
        }
    }
    assert!(queue_full > 0, "QueueFull appeared before the disconnect");
    let (reason, tags) = disconnected_tags(&mut rx).await;
    assert_eq!(reason, DisconnectReason::WriteStalled);
    let written = peer.stats().messages_out;
    assert!(!tags.is_empty());
    // Tags were 0, 1, 2, ... in send order: the first `written` went out, and exactly the
    // rest came back, in order.
    assert_eq!(
        tags,
        (written..accepted).collect::<Vec<_>>(),
        "handed back = exactly the accepted messages not written, in order"
    );
    sim.shutdown().await.assert_clean();
}

both_flavours!(graceful_close_flushes_everything, graceful_close);
async fn graceful_close(mode: TransportMode) {
    let sim = Sim::start(SimConfig {
        record_messages: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut c = config_for(mode);
    c.flush_deadline = Duration::from_secs(20);
    let (peer, mut rx) = connect(&sim, c).await.unwrap();
    let command = Command::new("dnflush").unwrap();
    let mut accepted = 0u64;
    while accepted < 3000 {
        match peer.send_raw(command, accepted.to_le_bytes().to_vec(), accepted) {
            Ok(()) => accepted += 1,
            Err(SendError::QueueFull) => break,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    peer.disconnect();
    let (reason, undelivered) = disconnected(&mut rx).await;
    assert_eq!((reason, undelivered), (DisconnectReason::Requested, 0));
    let stats = sim.stats_arc();
    let flushed = || -> Vec<u64> {
        stats
            .received
            .lock()
            .iter()
            .filter(|r| r.command == command)
            .map(|r| u64::from_le_bytes(r.payload[..8].try_into().unwrap()))
            .collect()
    };
    timeout(LIMIT, async {
        while flushed().len() < accepted as usize {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("every flushed message reaches the sim");
    let seqs = flushed();
    assert_eq!(seqs, (0..accepted).collect::<Vec<_>>());
    sim.shutdown().await.assert_clean();
}

#[tokio::test]
async fn oversize_send_is_refused_at_the_call() {
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let (peer, mut rx) = connect(&sim, config()).await.unwrap();
    let big = vec![0u8; dashnet::wire::MAX_PAYLOAD_LEN + 1];
    assert_eq!(
        peer.send_raw(Command::new("tx").unwrap(), big, 0),
        Err(SendError::TooLarge)
    );
    peer.disconnect();
    disconnected(&mut rx).await;
    sim.shutdown().await.assert_clean();
}

/// Waits until `cond` holds, polling every 5 ms (the caller's timeout bounds it).
async fn until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

both_flavours!(the_peers_ping_overtakes_queued_data, ping_overtakes_data);
/// The priority lane: a pong for the peer's ping goes out ahead of data that was queued
/// before the ping arrived. The sim stops reading, the test queues data until the queue is
/// full, the sim pings, then reads again: in a single-queue design the pong would come
/// after every queued message; here data queued before the ping arrives after the pong.
async fn ping_overtakes_data(mode: TransportMode) {
    let sim = Sim::start(SimConfig {
        record_messages: true,
        ping_interval: None,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut c = config_for(mode);
    c.queue_max_bytes = 4 << 20;
    let (peer, mut rx) = connect(&sim, c).await.unwrap();
    until(|| SimStats::get(&sim.stats().handshakes_ok) == 1).await;
    sim.set_reading(false);
    let command = Command::new("dndata").unwrap();
    let mut accepted = 0u64;
    loop {
        match peer.send_raw(command, vec![7; 4096], accepted) {
            Ok(()) => accepted += 1,
            Err(SendError::QueueFull) => break,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    // Let the writer fill the socket buffers: queued data stays queued behind them.
    until(|| peer.stats().bytes_out > 0).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let queued_before_ping = peer.stats().queued_messages;
    assert!(queued_before_ping > 0, "data is waiting in the queue");
    let nonce = sim.ping_all();
    // The reader answers at once; the pong waits in the priority lane for the socket.
    tokio::time::sleep(Duration::from_millis(100)).await;
    sim.set_reading(true);
    let stats = sim.stats_arc();
    until(|| {
        stats
            .received
            .lock()
            .iter()
            .filter(|r| r.command == command)
            .count() as u64
            == accepted
    })
    .await;
    let order: Vec<String> = stats
        .received
        .lock()
        .iter()
        .map(|r| r.command.as_str().to_string())
        .collect();
    let pong_at = order
        .iter()
        .position(|c| c == "pong")
        .expect("the ping was answered");
    let data_after_pong = order[pong_at..].iter().filter(|c| *c == "dndata").count() as u64;
    assert!(
        data_after_pong > 0 && data_after_pong >= queued_before_ping / 2,
        "the pong went ahead of queued data: {data_after_pong} of {queued_before_ping} \
         messages queued before the ping came after it"
    );
    assert_eq!(SimStats::get(&stats.pongs_received), 1, "nonce {nonce:#x}");
    peer.disconnect();
    disconnected(&mut rx).await;
    sim.shutdown().await.assert_clean();
}

both_flavours!(
    a_ping_behind_headers2_is_answered_before_they_are_decoded,
    ping_before_decode
);
/// No head-of-line blocking on the read side: the sim sends four 8000-header headers2
/// messages and then a ping, in that order on the wire. The reader answers the ping as
/// soon as it reads it, while decoding (8000 X11 hashes per message, tens of ms each)
/// happens elsewhere: so the sim has the pong before the app has the second message (the
/// reader may first wait for the app to take the first, if the byte budget is full). A
/// design that answers pings in order behind decoding answers after all four.
async fn ping_before_decode(mode: TransportMode) {
    let sim = Sim::start(SimConfig {
        tip: 32_000,
        record_messages: true,
        ping_interval: None,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (peer, mut rx) = connect(&sim, config_for(mode)).await.unwrap();
    until(|| SimStats::get(&sim.stats().handshakes_ok) == 1).await;
    let chain = dashnet::sim::chain::regtest_chain(32_000);
    let mut messages: Vec<Message> = chain
        .headers(1, 32_000)
        .chunks(8000)
        .map(|c| Message::Headers2(c.to_vec()))
        .collect();
    let nonce = sim.ping_nonce();
    messages.push(Message::Ping(nonce));
    // Take events while the sim writes (the byte budget parks the reader until the app
    // takes what was decoded, as it should).
    let take = async {
        let mut delivered = Vec::new();
        while delivered.len() < 4 {
            match rx.recv().await.expect("events") {
                PeerEvent::Headers { headers, .. } => {
                    assert_eq!(headers.len(), 8000);
                    delivered.push(std::time::Instant::now());
                }
                PeerEvent::Disconnected { reason, .. } => panic!("disconnected: {reason:?}"),
                _ => {}
            }
        }
        delivered
    };
    let (conns, delivered) = tokio::join!(sim.inject(&messages), take);
    assert_eq!(conns, 1);
    let stats = sim.stats_arc();
    until(|| SimStats::get(&stats.pongs_received) == 1).await;
    let pong_at = stats
        .received
        .lock()
        .iter()
        .find(|r| r.command.as_str() == "pong" && r.payload == nonce.to_le_bytes())
        .map(|r| r.at)
        .expect("the pong, with the ping's nonce");
    assert!(
        pong_at < delivered[1],
        "the pong reached the sim {:?} after the second headers2 reached the app",
        pong_at - delivered[1]
    );
    peer.disconnect();
    disconnected(&mut rx).await;
    sim.shutdown().await.assert_clean();
}

/// Connects to a sim configured by `sim_config`, asks for headers from genesis with
/// getheaders2 when the peer serves headers2 and getheaders otherwise (as the client
/// does), and returns the peer's info, the first reply's size and whether it came
/// compressed. The sim's report must be clean: its transcript check covers the fallbacks.
async fn first_reply(sim_config: SimConfig) -> (dashnet::peer::PeerInfo, usize, bool) {
    let sim = Sim::start(sim_config).await.unwrap();
    let (peer, mut rx) = connect(&sim, config()).await.unwrap();
    let info = peer.info().clone();
    let request = if info.headers2 {
        Message::GetHeaders2(locator_genesis())
    } else {
        Message::GetHeaders(locator_genesis())
    };
    peer.send(&request).unwrap();
    let chain = support::regtest_chain();
    let (n, compressed) = loop {
        match rx.recv().await.expect("events") {
            PeerEvent::Headers {
                headers,
                compressed,
                ..
            } => {
                for (h, (_, hash, _)) in headers.iter().zip(&chain[1..]) {
                    assert_eq!(h.hash(), *hash);
                }
                break (headers.len(), compressed);
            }
            PeerEvent::Disconnected { reason, .. } => panic!("disconnected: {reason:?}"),
            _ => {}
        }
    };
    peer.disconnect();
    disconnected(&mut rx).await;
    sim.shutdown().await.assert_clean();
    (info, n, compressed)
}

#[tokio::test]
async fn handshake_fallbacks_match_what_dash_core_expects() {
    use dashnet::wire::network::services::HEADERS_COMPRESSED;
    // A peer without HEADERS_COMPRESSED: sendheaders (the sim checks), plain headers.
    let (info, n, compressed) = first_reply(SimConfig {
        services: SimConfig::default().services & !HEADERS_COMPRESSED,
        ..SimConfig::default()
    })
    .await;
    assert!(!info.headers2);
    assert_eq!((n, compressed), (2000, false));
    // 70221-70222: no sendaddrv2 before verack (the sim's transcript check fails otherwise).
    let (info, n, compressed) = first_reply(SimConfig {
        protocol_version: 70222,
        ..SimConfig::default()
    })
    .await;
    assert_eq!((info.negotiated_version, info.wants_addrv2), (70222, false));
    assert_eq!((n, compressed), (2000, true));
    // Below 70235: headers2 replies carry at most 2000 headers; from 70235, 8000.
    let tall = |protocol_version| SimConfig {
        protocol_version,
        tip: 9000,
        ..SimConfig::default()
    };
    let (info, n, _) = first_reply(tall(70234)).await;
    assert_eq!(
        (info.negotiated_version, info.wants_addrv2, n),
        (70234, true, 2000)
    );
    let (_, n, _) = first_reply(tall(70235)).await;
    assert_eq!(n, 8000);
}

#[tokio::test]
async fn a_malformed_optional_message_passes_through_and_a_malformed_addr_does_not() {
    let sim = Sim::start(SimConfig {
        ping_interval: None,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (peer, mut rx) = connect(&sim, config()).await.unwrap();
    until(|| SimStats::get(&sim.stats().handshakes_ok) == 1).await;
    // A clsig three bytes long: not ours to judge. It reaches the app as raw bytes under
    // its own command, and the peer stays (it answers a ping sent after it).
    let bad_clsig = Message::Unknown {
        command: Command::new("clsig").unwrap(),
        payload: vec![1, 2, 3],
    };
    let nonce = sim.ping_nonce();
    sim.inject(&[bad_clsig, Message::Ping(nonce)]).await;
    loop {
        match rx.recv().await.expect("events") {
            PeerEvent::Message {
                message: Message::Unknown { command, payload },
                ..
            } if command.as_str() == "clsig" => {
                assert_eq!(payload, vec![1, 2, 3]);
                break;
            }
            PeerEvent::Disconnected { reason, .. } => panic!("dropped for a clsig: {reason:?}"),
            _ => {}
        }
    }
    until(|| SimStats::get(&sim.stats().pongs_received) == 1).await;
    // A malformed addrv2 is the library's to act on: a protocol error.
    let bad_addr = Message::Unknown {
        command: Command::new("addrv2").unwrap(),
        payload: vec![5, 1, 2],
    };
    sim.inject(&[bad_addr]).await;
    let (reason, _) = disconnected(&mut rx).await;
    let text = protocol_text(reason);
    assert!(text.starts_with("addrv2"), "{text}");
    peer.closed().await;
    sim.shutdown().await.assert_clean();
}

both_flavours!(
    a_graceful_close_under_a_flood_delivers_everything,
    close_under_flood
);
/// Written must mean delivered: the peer floods us while we flush and close. The reader has
/// stopped, so unread flood data sits in our socket when it closes; a plain close would
/// reset the connection and the peer's kernel would drop what we wrote that it had not
/// read yet. After the flush the peer's flood is read and dropped until it closes too.
async fn close_under_flood(mode: TransportMode) {
    let sim = Sim::start(SimConfig {
        record_messages: true,
        flood_headers2: Some(0),
        flood_kind: dashnet::sim::FloodKind::Big,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let stats = sim.stats_arc();
    // Three connections in turn (the reset is a race: one round can miss it).
    for round in 0..3u8 {
        let mut c = config_for(mode);
        c.flush_deadline = Duration::from_secs(20);
        let (peer, mut rx) = connect(&sim, c).await.unwrap();
        // The sim floods from its side of the handshake on; let the flood fill our buffers.
        until(|| SimStats::get(&stats.handshakes_ok) > u64::from(round)).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let command = Command::new(&format!("dnlast{round}")).unwrap();
        let mut accepted = 0u64;
        while accepted < 3000 {
            match peer.send_raw(command, accepted.to_le_bytes().to_vec(), accepted) {
                Ok(()) => accepted += 1,
                Err(SendError::QueueFull) => break,
                Err(e) => panic!("unexpected {e}"),
            }
        }
        peer.disconnect();
        let (reason, undelivered) = disconnected(&mut rx).await;
        assert_eq!((reason, undelivered), (DisconnectReason::Requested, 0));
        let got = || {
            stats
                .received
                .lock()
                .iter()
                .filter(|r| r.command == command)
                .count() as u64
        };
        let _ = timeout(Duration::from_secs(10), until(|| got() == accepted)).await;
        assert_eq!(
            got(),
            accepted,
            "round {round}: every message written reached the peer"
        );
    }
    sim.shutdown().await.assert_clean();
}

/// Parallel decode: a peer's header messages decode on up to `decode_threads` threads at
/// once, and their events come out strictly in wire order, interleaved with the small
/// messages between them as they were sent. 24 headers2 messages of 2000 headers with an
/// inv after every third, injected back to back: the same events, in the same order,
/// ending at the same tip, with 1, 2 and 4 decode threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_decode_releases_events_in_wire_order() {
    use dashnet::wire::payloads::{InvType, Inventory};
    const TIP: u32 = 48_000;
    let chain = dashnet::sim::chain::regtest_chain(TIP);
    let mut messages = Vec::new();
    for (i, batch) in chain.headers(1, TIP).chunks(2000).enumerate() {
        messages.push(Message::Headers2(batch.to_vec()));
        if i % 3 == 2 {
            messages.push(Message::Inv(vec![Inventory {
                kind: InvType(1),
                hash: batch[0].hash(),
            }]));
        }
    }
    let mut runs = Vec::new();
    for threads in [1usize, 2, 4] {
        let sim = Sim::start(SimConfig {
            tip: TIP,
            ping_interval: None,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let config = PeerConfig {
            decode_threads: threads,
            ..config()
        };
        let (tx, mut rx) = mpsc::channel(8);
        let peer = Peer::connect(1, sim.addr(), Arc::new(config), tx)
            .await
            .unwrap();
        until(|| SimStats::get(&sim.stats().handshakes_ok) == 1).await;
        let expected = messages.len();
        let take = async {
            // (headers count and last hash) or the inv's hash, in arrival order.
            let mut seen: Vec<(usize, dashnet::wire::Hash256)> = Vec::new();
            while seen.len() < expected {
                match rx.recv().await.expect("events") {
                    PeerEvent::Headers { headers, .. } => {
                        seen.push((headers.len(), headers.last().unwrap().hash()));
                    }
                    PeerEvent::Message {
                        message: Message::Inv(list),
                        ..
                    } => seen.push((0, list[0].hash)),
                    PeerEvent::Disconnected { reason, .. } => panic!("disconnected: {reason}"),
                    _ => {}
                }
            }
            seen
        };
        let (_, seen) = tokio::join!(sim.inject(&messages), take);
        runs.push(seen);
        peer.disconnect();
        disconnected(&mut rx).await;
        sim.shutdown().await.assert_clean();
    }
    // Exactly what was sent, in order: each headers2 batch by its last hash (rebuilt
    // from the compressed form), each inv.
    let sent: Vec<(usize, dashnet::wire::Hash256)> = messages
        .iter()
        .map(|m| match m {
            Message::Headers2(h) => (h.len(), h.last().unwrap().hash()),
            Message::Inv(list) => (0, list[0].hash),
            _ => unreachable!(),
        })
        .collect();
    for (threads, seen) in [1, 2, 4].iter().zip(&runs) {
        assert_eq!(seen, &sent, "{threads} decode thread(s)");
    }
}
