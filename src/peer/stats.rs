//! Per-connection statistics in atomics: readable at any time without a lock.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub msgs_in: AtomicU64,
    pub msgs_out: AtomicU64,
    pub ping_last_us: AtomicU64,
    pub ping_min_us: AtomicU64,
    pub ping_sum_us: AtomicU64,
    pub ping_count: AtomicU64,
}

impl Counters {
    pub fn record_ping(&self, rtt_us: u64) {
        self.ping_last_us.store(rtt_us, Relaxed);
        self.ping_sum_us.fetch_add(rtt_us, Relaxed);
        self.ping_count.fetch_add(1, Relaxed);
        self.ping_min_us
            .fetch_update(Relaxed, Relaxed, |m| {
                (m == 0 || rtt_us < m).then_some(rtt_us.max(1))
            })
            .ok();
    }
}

/// A snapshot of one connection's statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerStats {
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes written to the socket.
    pub bytes_out: u64,
    /// Messages received.
    pub messages_in: u64,
    /// Messages written to the socket.
    pub messages_out: u64,
    /// Messages waiting in the outbound queue (both lanes).
    pub queued_messages: u64,
    /// Bytes waiting in the outbound queue (both lanes).
    pub queued_bytes: u64,
    /// Last ping round trip, microseconds (0 before the first pong).
    pub ping_last_us: u64,
    /// Smallest ping round trip, microseconds.
    pub ping_min_us: u64,
    /// Mean ping round trip, microseconds.
    pub ping_avg_us: u64,
    /// Pongs received for our pings.
    pub pings_answered: u64,
    /// When the connection was made, microseconds since the Unix epoch.
    pub connected_since_unix_us: u64,
    /// Inbound bytes of this peer waiting between its socket and the app (its budget
    /// in use).
    pub inbound_bytes: u64,
    /// The transport in use.
    pub transport: super::Transport,
    /// The v2 session id (`None` over v1).
    pub session_id: Option<[u8; 32]>,
}

impl Counters {
    pub fn snapshot(&self, queued: (u64, u64), since_unix_us: u64) -> PeerStats {
        // Transport and session id are filled in by the caller, which knows them.
        let count = self.ping_count.load(Relaxed);
        PeerStats {
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            messages_in: self.msgs_in.load(Relaxed),
            messages_out: self.msgs_out.load(Relaxed),
            queued_messages: queued.0,
            queued_bytes: queued.1,
            ping_last_us: self.ping_last_us.load(Relaxed),
            ping_min_us: self.ping_min_us.load(Relaxed),
            ping_avg_us: self
                .ping_sum_us
                .load(Relaxed)
                .checked_div(count)
                .unwrap_or(0),
            pings_answered: count,
            connected_since_unix_us: since_unix_us,
            inbound_bytes: 0,
            transport: super::Transport::V1,
            session_id: None,
        }
    }
}
