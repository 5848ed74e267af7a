//! The reader task: owns the read half, no lock. Frames in, pongs and RTTs inline,
//! everything else to the dispatcher in arrival order.

use std::sync::Arc;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::timeout;

use super::Shared;
use super::event::{DisconnectReason, OutboundMessage};
use super::queue::Lane;
use crate::wire::message::commands;
use crate::wire::{FrameDecoder, RawMessage};

/// Read buffer size: small, so an idle peer costs little memory; large payloads are
/// copied straight into their exactly-sized buffer by the frame decoder.
const READ_BUF: usize = 8 * 1024;

/// Inbound bytes (payloads, at least 64 per message) held between the reader and the
/// owner before the reader stops reading.
pub(crate) const INBOUND_BUDGET: usize = 512 * 1024;

pub(crate) async fn run(
    shared: Arc<Shared>,
    mut socket: OwnedReadHalf,
    mut decoder: FrameDecoder,
    leftover: Vec<u8>,
    to_dispatch: mpsc::UnboundedSender<(RawMessage, OwnedSemaphorePermit)>,
    budget: Arc<Semaphore>,
) {
    let mut closing = shared.closing();
    let mut reader = Reader {
        shared: &shared,
        to_dispatch,
        budget,
    };
    if let Err(reason) = reader.feed(&mut decoder, &leftover).await {
        shared.close(reason);
        return;
    }
    let mut buf = vec![0u8; READ_BUF];
    let inactivity = shared.config.inactivity_timeout;
    loop {
        let n = tokio::select! {
            biased;
            _ = closing.wait_for(|c| *c) => return,
            r = timeout(inactivity, socket.read(&mut buf)) => match r {
                Err(_) => Err(DisconnectReason::Inactive),
                Ok(Ok(0)) => Err(DisconnectReason::RemoteClosed),
                Ok(Ok(n)) => Ok(n),
                Ok(Err(e)) => Err(DisconnectReason::Io(e.kind())),
            },
        };
        let result = match n {
            Ok(n) => {
                shared.counters.bytes_in.fetch_add(n as u64, Relaxed);
                tokio::select! {
                    biased;
                    _ = closing.wait_for(|c| *c) => return,
                    r = reader.feed(&mut decoder, &buf[..n]) => r,
                }
            }
            Err(reason) => Err(reason),
        };
        if let Err(reason) = result {
            shared.close(reason);
            return;
        }
    }
}

struct Reader<'a> {
    shared: &'a Shared,
    to_dispatch: mpsc::UnboundedSender<(RawMessage, OwnedSemaphorePermit)>,
    budget: Arc<Semaphore>,
}

impl Reader<'_> {
    async fn feed(
        &mut self,
        decoder: &mut FrameDecoder,
        mut input: &[u8],
    ) -> Result<(), DisconnectReason> {
        while !input.is_empty() {
            match decoder.decode(&mut input) {
                Ok(Some(raw)) => self.handle(raw).await?,
                Ok(None) => {}
                Err(e) => return Err(DisconnectReason::Protocol(e.to_string())),
            }
        }
        Ok(())
    }

    async fn handle(&mut self, raw: RawMessage) -> Result<(), DisconnectReason> {
        let shared = self.shared;
        shared.counters.msgs_in.fetch_add(1, Relaxed);
        if raw.command == commands::PING || raw.command == commands::PONG {
            let nonce: [u8; 8] = raw.payload.as_slice().try_into().map_err(|_| {
                DisconnectReason::Protocol(format!("{} payload is not 8 bytes", raw.command))
            })?;
            if raw.command == commands::PING {
                // A full priority lane means the peer is not reading; the stall timer ends it.
                let _ = shared.queue.push(
                    OutboundMessage {
                        internal: true,
                        ..OutboundMessage::new(commands::PONG, nonce.to_vec(), 0)
                    },
                    Lane::Priority,
                );
            } else {
                let nonce = u64::from_le_bytes(nonce);
                if shared.ping_pending.load(Acquire) && shared.ping_nonce.load(Relaxed) == nonce {
                    let rtt = shared
                        .micros()
                        .saturating_sub(shared.ping_sent_us.load(Relaxed));
                    shared.counters.record_ping(rtt);
                    shared.ping_pending.store(false, Release);
                    shared.pong_received.notify_one();
                }
            }
            return Ok(());
        }
        // Inbound backpressure: wait for room (in bytes) before taking more.
        let cost = raw.payload.len().clamp(64, INBOUND_BUDGET) as u32;
        let permit = match self.budget.clone().try_acquire_many_owned(cost) {
            Ok(p) => p,
            Err(_) => {
                shared.reader_parked.store(true, Release);
                let p = self.budget.clone().acquire_many_owned(cost).await;
                shared.reader_parked.store(false, Release);
                p.map_err(|_| DisconnectReason::Shutdown)?
            }
        };
        self.to_dispatch
            .send((raw, permit))
            .map_err(|_| DisconnectReason::Shutdown)
    }
}
