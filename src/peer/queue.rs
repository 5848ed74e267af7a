//! The outbound queue: two lanes bounded by count and bytes, filled without blocking.
//!
//! `push` is an atomic reservation plus a push onto a lock-free unbounded channel:
//! it never awaits and never takes a lock. The bounds live in the reservation
//! counters, so the channel itself never grows past them. The writer task owns the
//! receiving ends; when it closes them, later pushes fail with `Disconnected`, and
//! everything pushed before is still there for it to hand back.

use std::sync::atomic::{
    AtomicBool, AtomicUsize, Ordering::AcqRel, Ordering::Acquire, Ordering::Relaxed,
    Ordering::Release,
};

use tokio::sync::{Notify, mpsc};

use super::event::{OutboundMessage, SendError};

/// Most messages in the priority lane. Control messages are tiny and few; a full
/// priority lane means the peer stopped reading, which the write-stall timer ends.
pub const PRIORITY_LANE_MAX: usize = 256;
/// Most bytes (frames included) in the priority lane: control messages are a few dozen
/// bytes each, so 64 KiB holds every one the lane can count; one larger message still
/// goes through an empty lane, as in the data lane.
pub const PRIORITY_LANE_MAX_BYTES: usize = 64 * 1024;

/// The sending side, shared by every caller of `send`.
#[derive(Debug)]
pub(crate) struct QueueSender {
    priority: mpsc::UnboundedSender<OutboundMessage>,
    data: mpsc::UnboundedSender<OutboundMessage>,
    pub(crate) counts: QueueCounts,
    max_messages: usize,
    max_bytes: usize,
    /// A data send was refused as full: tell the owner when it has drained to half.
    wants_ready: AtomicBool,
    /// Notified (once) when that happens.
    pub(crate) ready: Notify,
}

/// Reservation counters.
#[derive(Debug, Default)]
pub(crate) struct QueueCounts {
    data_messages: AtomicUsize,
    data_bytes: AtomicUsize,
    priority_messages: AtomicUsize,
    priority_bytes: AtomicUsize,
}

impl QueueCounts {
    /// (messages, bytes) in both lanes.
    pub fn depth(&self) -> (u64, u64) {
        (
            (self.data_messages.load(Relaxed) + self.priority_messages.load(Relaxed)) as u64,
            (self.data_bytes.load(Relaxed) + self.priority_bytes.load(Relaxed)) as u64,
        )
    }
}

/// Which lane a message goes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Control messages: served first.
    Priority,
    /// Everything else.
    Data,
}

/// Control messages take the priority lane.
pub fn lane_for(command: &str) -> Lane {
    match command {
        "ping" | "pong" | "verack" | "sendaddrv2" | "sendheaders" | "sendheaders2" => {
            Lane::Priority
        }
        _ => Lane::Data,
    }
}

/// The writer's receiving side.
#[derive(Debug)]
pub(crate) struct QueueReceiver {
    pub priority: mpsc::UnboundedReceiver<OutboundMessage>,
    pub data: mpsc::UnboundedReceiver<OutboundMessage>,
}

pub(crate) fn queue(max_messages: usize, max_bytes: usize) -> (QueueSender, QueueReceiver) {
    let (ptx, prx) = mpsc::unbounded_channel();
    let (dtx, drx) = mpsc::unbounded_channel();
    (
        QueueSender {
            priority: ptx,
            data: dtx,
            counts: QueueCounts::default(),
            max_messages,
            max_bytes,
            wants_ready: AtomicBool::new(false),
            ready: Notify::new(),
        },
        QueueReceiver {
            priority: prx,
            data: drx,
        },
    )
}

fn reserve(counter: &AtomicUsize, amount: usize, max: usize) -> bool {
    counter
        .fetch_update(AcqRel, Relaxed, |v| {
            v.checked_add(amount).filter(|n| *n <= max)
        })
        .is_ok()
}

impl QueueSender {
    /// Queues `msg` in `lane`, or says at once why not.
    pub fn push(&self, msg: OutboundMessage, lane: Lane) -> Result<(), SendError> {
        let len = msg.wire_len();
        let (msgs, bytes, max_msgs, tx) = match lane {
            Lane::Priority => (
                &self.counts.priority_messages,
                &self.counts.priority_bytes,
                PRIORITY_LANE_MAX,
                &self.priority,
            ),
            Lane::Data => (
                &self.counts.data_messages,
                &self.counts.data_bytes,
                self.max_messages,
                &self.data,
            ),
        };
        if tx.is_closed() {
            return Err(SendError::Disconnected);
        }
        if !reserve(msgs, 1, max_msgs) {
            return Err(self.full(lane));
        }
        // A single message larger than the byte bound still goes through an empty queue,
        // so that a maximum-size payload can always be sent.
        let max_bytes = if lane == Lane::Data {
            self.max_bytes
        } else {
            PRIORITY_LANE_MAX_BYTES
        };
        if !reserve(bytes, len, max_bytes) && !reserve(bytes, len, len) {
            msgs.fetch_sub(1, AcqRel);
            return Err(self.full(lane));
        }
        if tx.send(msg).is_err() {
            msgs.fetch_sub(1, AcqRel);
            bytes.fetch_sub(len, AcqRel);
            return Err(SendError::Disconnected);
        }
        Ok(())
    }

    fn full(&self, lane: Lane) -> SendError {
        if lane == Lane::Data {
            self.wants_ready.store(true, Release);
        }
        SendError::QueueFull
    }

    /// Releases the reservation of a message the writer took out of `lane`, and says
    /// "ready" once if a refused sender is waiting and the data lane is at half its bounds.
    pub fn release(&self, msg: &OutboundMessage, lane: Lane) {
        let (msgs, bytes) = match lane {
            Lane::Priority => (&self.counts.priority_messages, &self.counts.priority_bytes),
            Lane::Data => (&self.counts.data_messages, &self.counts.data_bytes),
        };
        msgs.fetch_sub(1, AcqRel);
        bytes.fetch_sub(msg.wire_len(), AcqRel);
        if lane == Lane::Data
            && self.wants_ready.load(Acquire)
            && self.counts.data_messages.load(Acquire) <= self.max_messages / 2
            && self.counts.data_bytes.load(Acquire) <= self.max_bytes / 2
            && self.wants_ready.swap(false, AcqRel)
        {
            self.ready.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Command;

    fn ping(len: usize) -> OutboundMessage {
        OutboundMessage::new(Command::new("ping").unwrap(), vec![0; len], 0)
    }

    #[test]
    fn the_priority_lane_is_bounded_in_bytes_too() {
        // Before, the priority lane counted messages only: 256 app "pings" of 3 MiB each
        // could queue 768 MiB (review C14).
        let (tx, _rx) = queue(16, 1 << 20);
        let big = 30 * 1024;
        assert_eq!(tx.push(ping(big), Lane::Priority), Ok(()));
        assert_eq!(tx.push(ping(big), Lane::Priority), Ok(()));
        assert_eq!(
            tx.push(ping(big), Lane::Priority),
            Err(SendError::QueueFull)
        );
        // Small control messages still fit beside them, up to the byte bound.
        assert_eq!(tx.push(ping(8), Lane::Priority), Ok(()));
        // A lone message larger than the bound goes through an empty lane.
        let (tx, _rx) = queue(16, 1 << 20);
        assert_eq!(tx.push(ping(1 << 20), Lane::Priority), Ok(()));
        assert_eq!(tx.push(ping(8), Lane::Priority), Err(SendError::QueueFull));
    }
}
