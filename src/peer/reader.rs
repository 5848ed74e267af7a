//! The reader task: owns the read half, no lock. Frames in, pongs and RTTs inline,
//! everything else to the dispatcher in arrival order.

use std::sync::Arc;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::Shared;
use super::budget::{Charge, InboundBudget};
use super::event::{DisconnectReason, OutboundMessage};
use super::queue::Lane;
use super::transport::{Decoder, Step};
use crate::wire::RawMessage;
use crate::wire::message::commands;

/// Read buffer size: small, so an idle peer costs little memory; large payloads are
/// copied straight into their exactly-sized buffer by the frame decoder.
const READ_BUF: usize = 8 * 1024;

/// The least a message is charged, so a flood of empty messages is bounded too.
const MIN_CHARGE: usize = 64;

/// What a message of `command` with a `len`-byte payload will hold once decoded (at
/// least its payload): headers2 packs a header in as few as 39 bytes, plain headers in
/// 81, and each becomes a header with its hash.
pub(crate) fn decoded_cost(command: &str, len: usize) -> usize {
    let per = std::mem::size_of::<crate::wire::HashedHeader>();
    let decoded = match command {
        "headers2" => len / 39 * per,
        "headers" => len / 81 * per,
        "addr" | "addrv2" => len * 2,
        _ => len,
    };
    decoded.max(len).max(MIN_CHARGE)
}

/// The most a message of a `len`-byte payload can cost, whatever its command (headers2
/// expands the most).
pub(crate) fn max_decoded_cost(len: usize) -> usize {
    ["headers2", "headers", "addr", ""]
        .iter()
        .map(|c| decoded_cost(c, len))
        .max()
        .unwrap_or(len)
}

pub(crate) async fn run(
    shared: Arc<Shared>,
    mut socket: OwnedReadHalf,
    mut decoder: Decoder,
    leftover: Vec<u8>,
    to_dispatch: mpsc::UnboundedSender<(RawMessage, Charge)>,
    budget: InboundBudget,
) -> OwnedReadHalf {
    let mut closing = shared.closing();
    let client_budget = shared.config.client_budget.clone();
    let mut reader = Reader {
        shared: &shared,
        to_dispatch,
        budget,
        client_budget,
        charge: None,
    };
    if let Err(reason) = reader.feed(&mut decoder, &leftover).await {
        shared.close(reason);
        return socket;
    }
    let mut buf = vec![0u8; READ_BUF];
    let inactivity = shared.config.inactivity_timeout;
    loop {
        let n = tokio::select! {
            biased;
            _ = closing.wait_for(|c| *c) => return socket,
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
                    _ = closing.wait_for(|c| *c) => return socket,
                    r = reader.feed(&mut decoder, &buf[..n]) => r,
                }
            }
            Err(reason) => Err(reason),
        };
        if let Err(reason) = result {
            shared.close(reason);
            return socket;
        }
    }
}

/// How long a graceful close keeps reading after everything was written and our side
/// was shut down.
const LINGER: Duration = Duration::from_millis(250);

/// After a graceful close that wrote everything: reads and drops what the peer still
/// sends until it closes its side, for at most `LINGER`. Closing a socket with unread data
/// in it resets the connection, and a reset makes the peer's kernel throw away what we
/// wrote that it has not read yet: written would not mean delivered.
pub(crate) async fn linger(socket: &mut OwnedReadHalf) {
    let mut buf = vec![0u8; 16 * 1024];
    let _ = timeout(LINGER, async {
        while let Ok(n) = socket.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

struct Reader<'a> {
    shared: &'a Shared,
    to_dispatch: mpsc::UnboundedSender<(RawMessage, Charge)>,
    budget: InboundBudget,
    client_budget: Option<InboundBudget>,
    /// The charge for the frame being read (taken once its header is in).
    charge: Option<Charge>,
}

impl Reader<'_> {
    async fn feed(
        &mut self,
        decoder: &mut Decoder,
        mut input: &[u8],
    ) -> Result<(), DisconnectReason> {
        while !input.is_empty() {
            let Some(len) = decoder.decode_header(&mut input)? else {
                continue;
            };
            if self.charge.is_none() {
                // Charged before any payload byte is buffered: while a budget is full
                // the reader waits here and reads nothing more. Over v2 the command is
                // still encrypted here: the most any command of this length can cost is
                // charged (one charge, capped at each budget's size like any other, so
                // one message always gets through alone), and the excess is given back
                // once the command is known.
                let cost = match decoder.pending_command() {
                    Some(command) => decoded_cost(command, len),
                    None => max_decoded_cost(len),
                };
                self.charge = Some(self.charge(cost).await?);
            }
            match decoder.decode(&mut input)? {
                Step::Message(raw) => {
                    let mut charge = self.charge.take().expect("charged at the header");
                    charge.shrink_to(decoded_cost(raw.command.as_str(), raw.payload.len()));
                    self.handle(raw, charge)?
                }
                // A decoy: its charge goes back.
                Step::Skipped => self.charge = None,
                Step::Need => {}
            }
        }
        Ok(())
    }

    async fn charge(&self, cost: usize) -> Result<Charge, DisconnectReason> {
        let client = self.client_budget.as_ref();
        if let Some(c) = Charge::try_new(&self.budget, client, cost) {
            return Ok(c);
        }
        self.shared.reader_parked.store(true, Release);
        let c = Charge::new(&self.budget, client, cost).await;
        self.shared
            .reader_resumed_us
            .store(self.shared.micros(), Relaxed);
        self.shared.reader_parked.store(false, Release);
        c.ok_or(DisconnectReason::Shutdown)
    }

    fn handle(&mut self, raw: RawMessage, charge: Charge) -> Result<(), DisconnectReason> {
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
        self.to_dispatch
            .send((raw, charge))
            .map_err(|_| DisconnectReason::Shutdown)
    }
}
