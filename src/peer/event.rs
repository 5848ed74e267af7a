//! What a connection reports to its owner.

use std::fmt;

use crate::wire::{Command, HashedHeader, Message};

/// A peer's id: never reused within one client.
pub type PeerId = u64;

/// A message accepted by `send` and not yet written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessage {
    /// The command.
    pub command: Command,
    /// The payload.
    pub payload: Vec<u8>,
    /// The sender's tag (0 when none), reported back if the message is not sent.
    pub tag: u64,
    /// Queued by the connection itself (a pong): never reported as undelivered.
    pub(crate) internal: bool,
}

impl OutboundMessage {
    /// A message from the app.
    pub fn new(command: Command, payload: Vec<u8>, tag: u64) -> Self {
        OutboundMessage {
            command,
            payload,
            tag,
            internal: false,
        }
    }

    /// Bytes on the wire, frame header included.
    pub fn wire_len(&self) -> usize {
        24 + self.payload.len()
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The owner asked (graceful: the queue was flushed up to the deadline).
    Requested,
    /// The remote closed the connection.
    RemoteClosed,
    /// A socket error.
    Io(std::io::ErrorKind),
    /// The peer broke the protocol (framing or a malformed message); the text says how.
    Protocol(String),
    /// The peer sent headers that fail proof of work, do not link, or are too many.
    InvalidHeaders(String),
    /// The version/verack exchange did not finish in time.
    HandshakeTimeout,
    /// Our ping went unanswered.
    PingTimeout,
    /// Writes made no progress for the write-stall timeout.
    WriteStalled,
    /// The peer sent nothing for the inactivity timeout.
    Inactive,
    /// The peer's protocol version is below our minimum.
    VersionTooOld(u32),
    /// The peer does not advertise services we require (`PeerConfig::required_services`):
    /// it is replaced, never scored.
    MissingServices {
        /// What its version advertised.
        have: u64,
        /// What we require.
        need: u64,
    },
    /// The owning client shut down (graceful, like `Requested`).
    Shutdown,
    /// The v2 transport failed: a packet or the version packet failed authentication,
    /// no garbage terminator came, or a v2-only dial met a v1 peer; the text says which.
    Transport(String),
}

impl DisconnectReason {
    /// True for the reasons under which the queue is flushed before closing.
    pub fn is_graceful(&self) -> bool {
        matches!(
            self,
            DisconnectReason::Requested | DisconnectReason::Shutdown
        )
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::Requested => write!(f, "disconnect requested"),
            DisconnectReason::RemoteClosed => write!(f, "remote closed the connection"),
            DisconnectReason::Io(kind) => write!(f, "I/O error: {kind}"),
            DisconnectReason::Protocol(text) => write!(f, "protocol error: {text}"),
            DisconnectReason::InvalidHeaders(text) => write!(f, "invalid headers: {text}"),
            DisconnectReason::HandshakeTimeout => write!(f, "handshake timed out"),
            DisconnectReason::PingTimeout => write!(f, "ping timed out"),
            DisconnectReason::WriteStalled => write!(f, "writes stalled"),
            DisconnectReason::Inactive => write!(f, "peer inactive"),
            DisconnectReason::VersionTooOld(v) => write!(f, "peer version {v} is too old"),
            DisconnectReason::MissingServices { have, need } => write!(
                f,
                "peer lacks required services (has {have:#x}, needs {need:#x}: missing {})",
                crate::wire::network::service_names(need & !have)
            ),
            DisconnectReason::Shutdown => write!(f, "client shut down"),
            DisconnectReason::Transport(text) => write!(f, "transport error: {text}"),
        }
    }
}

/// Why `send` refused a message. It returns at once either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The outbound queue is at its message or byte bound.
    QueueFull,
    /// The connection is closing or closed.
    Disconnected,
    /// The payload is larger than the protocol allows.
    TooLarge,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::QueueFull => "outbound queue full",
            SendError::Disconnected => "peer disconnected",
            SendError::TooLarge => "payload too large",
        })
    }
}

impl std::error::Error for SendError {}

/// What a connection reports, in the order it happened.
#[derive(Debug)]
pub enum PeerEvent {
    /// The handshake is done: always a peer's first event.
    Connected {
        /// This peer.
        peer: PeerId,
        /// What the handshake learned.
        info: Box<super::PeerInfo>,
    },
    /// An inbound message (pings, pongs and the handshake are handled inside).
    Message {
        /// From this peer.
        peer: PeerId,
        /// The message.
        message: Message,
        /// Its bytes in the inbound budgets, released when this is dropped.
        charge: Option<super::Charge>,
    },
    /// Inbound headers or headers2, already hashed, proof-of-work checked and linked
    /// to each other (not yet to the app's chain). Proof of work means each header's
    /// hash meets the target in its own `bits`, and that target is within the network's
    /// limit; whether `bits` is the right difficulty (Dash's Dark Gravity Wave
    /// retargeting) is not checked here: that needs the chain, which the app holds.
    Headers {
        /// From this peer.
        peer: PeerId,
        /// The headers with their X11 hashes.
        headers: Vec<HashedHeader>,
        /// True when they came as headers2.
        compressed: bool,
        /// Their bytes in the inbound budgets, released when this is dropped.
        charge: Option<super::Charge>,
    },
    /// The peer's outbound queue, after a send was refused as full, has drained to half
    /// its bounds: sends fit again.
    QueueReady {
        /// This peer.
        peer: PeerId,
    },
    /// The connection ended: the last event of a peer.
    Disconnected {
        /// This peer.
        peer: PeerId,
        /// Why.
        reason: DisconnectReason,
        /// Every message `send` accepted that was not written, in queue order.
        undelivered: Vec<OutboundMessage>,
        /// The connection's final statistics.
        stats: super::PeerStats,
    },
}
