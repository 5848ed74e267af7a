#![cfg_attr(not(feature = "sim"), allow(dead_code))]
//! Transports: v1 (the 24-byte frame with its SHA256d checksum) and BIP324 v2
//! (encrypted packets with Dash's short message IDs).
//!
//! The v2 key exchange runs on the whole stream before it is split, like the
//! version/verack exchange after it. Its result is split the same way as the socket:
//! the reader gets a [`Decoder`] holding the inbound cipher, the writer an [`Encoder`]
//! holding the outbound cipher. Neither is shared, so no lock is either.
//!
//! The cipher suite and handshake states are the `bip324` crate's (rust-bitcoin);
//! this module adds the streaming decoder with Dash's limits, the short-ID table
//! (`wire::short_id`), v1 detection and the fallback decision.

use bip324::{
    GarbageResult, Handshake, InboundCipher, OutboundCipher, PacketType, Role, VersionResult,
};
use rand::{Rng, RngCore};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::event::DisconnectReason;
use crate::wire::short_id::{command_for, short_id};
use crate::wire::{Command, FrameDecoder, FrameError, RawMessage, encode_frame};

/// Which transport a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Transport {
    /// Plain v1 frames.
    #[default]
    V1,
    /// BIP324 v2: encrypted, with Dash's short IDs.
    V2,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::V1 => "v1",
            Transport::V2 => "v2",
        })
    }
}

/// Which transports we dial with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TransportMode {
    /// v2 with peers that advertise NODE_P2P_V2 or whose services are unknown; v1 with
    /// the others, and at once on the same address when a v2 attempt meets a v1 peer
    /// (it closes the connection on our key without sending a byte), as Dash Core does.
    #[default]
    V2Preferred,
    /// v2 only: a v1 peer fails the handshake.
    V2Only,
    /// v1 only (we do not advertise NODE_P2P_V2).
    V1Only,
}

/// The most garbage either side may send before its terminator (BIP324).
pub const MAX_GARBAGE: usize = 4095;
/// ElligatorSwift public key length.
pub const KEY_LEN: usize = 64;
const TERMINATOR_LEN: usize = 16;
const LENGTH_LEN: usize = 3;
const TAG_LEN: usize = 16;
/// Header byte bit 7: the packet is a decoy, to be ignored.
const IGNORE_BIT: u8 = 0x80;
/// Contents of a long-form message: 0 and the 12-byte command.
const LONG_ID_LEN: usize = 13;

/// Bytes a v2 packet adds around its contents: length, header byte, tag.
pub const V2_OVERHEAD: usize = LENGTH_LEN + 1 + TAG_LEN;

/// Turns messages into bytes for the wire.
pub(crate) enum Encoder {
    V1 {
        magic: [u8; 4],
    },
    V2 {
        cipher: Box<OutboundCipher>,
        /// The protocol version both sides speak (0 until the version exchange).
        negotiated: u32,
        /// The packet contents being sealed (kept small between messages).
        scratch: Vec<u8>,
    },
}

/// Contents over this are not kept in the encoder's scratch buffer after use.
const SCRATCH_KEEP: usize = 64 * 1024;

impl Encoder {
    pub fn transport(&self) -> Transport {
        match self {
            Encoder::V1 { .. } => Transport::V1,
            Encoder::V2 { .. } => Transport::V2,
        }
    }

    pub fn set_negotiated(&mut self, version: u32) {
        if let Encoder::V2 { negotiated, .. } = self {
            *negotiated = version;
        }
    }

    /// Bytes `command` with a `payload_len`-byte payload takes on the wire.
    #[cfg(test)]
    pub fn wire_len(&self, command: &Command, payload_len: usize) -> usize {
        match self {
            Encoder::V1 { .. } => 24 + payload_len,
            Encoder::V2 { negotiated, .. } => {
                let id = match short_id(command.as_str(), *negotiated) {
                    Some(_) => 1,
                    None => LONG_ID_LEN,
                };
                V2_OVERHEAD + id + payload_len
            }
        }
    }

    /// Appends the message to `out` (v2: seals it, advancing the cipher).
    pub fn encode(&mut self, command: &Command, payload: &[u8], out: &mut Vec<u8>) {
        match self {
            Encoder::V1 { magic } => encode_frame(*magic, command, payload, out),
            Encoder::V2 {
                cipher,
                negotiated,
                scratch,
            } => {
                scratch.clear();
                match short_id(command.as_str(), *negotiated) {
                    Some(id) => scratch.push(id),
                    None => {
                        scratch.push(0);
                        scratch.extend_from_slice(command.wire_bytes());
                    }
                }
                scratch.extend_from_slice(payload);
                seal(cipher, scratch, PacketType::Genuine, out);
                if scratch.capacity() > SCRATCH_KEEP {
                    *scratch = Vec::new();
                }
            }
        }
    }

    /// Appends a decoy packet with `len` bytes of contents (v2 only; v1 has none).
    pub fn encode_decoy(&mut self, len: usize, out: &mut Vec<u8>) {
        if let Encoder::V2 { cipher, .. } = self {
            let mut contents = vec![0u8; len];
            rand::rng().fill_bytes(&mut contents);
            seal(cipher, &contents, PacketType::Decoy, out);
        }
    }
}

fn seal(cipher: &mut OutboundCipher, contents: &[u8], kind: PacketType, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(
        start + OutboundCipher::encryption_buffer_len(contents.len()),
        0,
    );
    // The buffer is exactly the size the cipher asks for, so this cannot fail.
    let _ = cipher.encrypt(contents, &mut out[start..], kind, None);
}

/// What one decoding step produced.
#[derive(Debug)]
pub(crate) enum Step {
    /// More bytes are needed.
    Need,
    /// A packet was consumed that carries no message (a v2 decoy).
    Skipped,
    /// A message.
    Message(RawMessage),
}

/// Turns bytes from the wire into messages, holding at most one message's bytes.
pub(crate) enum Decoder {
    V1(FrameDecoder),
    V2(Box<V2Decoder>),
}

fn frame_error(e: FrameError) -> DisconnectReason {
    DisconnectReason::Protocol(e.to_string())
}

impl Decoder {
    pub fn set_negotiated(&mut self, version: u32) {
        if let Decoder::V2(d) = self {
            d.negotiated = version;
        }
    }

    /// Consumes only the bytes that say how long the next message is: `Some(length)`
    /// once it is known and within the limits (then nothing more is consumed), `None`
    /// while more are needed. For v2 the length is the packet's contents (the command
    /// is still encrypted). Lets a reader charge a byte budget before buffering.
    pub fn decode_header(&mut self, input: &mut &[u8]) -> Result<Option<usize>, DisconnectReason> {
        match self {
            Decoder::V1(d) => d.decode_header(input).map_err(frame_error),
            Decoder::V2(d) => d.decode_length(input),
        }
    }

    /// The command of the message being read, when the transport shows it before the
    /// payload (v1 only).
    pub fn pending_command(&self) -> Option<&str> {
        match self {
            Decoder::V1(d) => d.pending_command(),
            Decoder::V2(_) => None,
        }
    }

    /// Consumes bytes from the front of `input`, no more than the current message needs.
    /// After an error the stream is unusable.
    pub fn decode(&mut self, input: &mut &[u8]) -> Result<Step, DisconnectReason> {
        match self {
            Decoder::V1(d) => match d.decode(input).map_err(frame_error)? {
                Some(raw) => Ok(Step::Message(raw)),
                None => Ok(Step::Need),
            },
            Decoder::V2(d) => d.decode(input),
        }
    }
}

/// The streaming v2 packet decoder (the reader's side of a v2 connection).
pub(crate) struct V2Decoder {
    cipher: InboundCipher,
    max_payload: usize,
    negotiated: u32,
    len_buf: [u8; LENGTH_LEN],
    len_have: usize,
    /// Contents length of the packet being read, once its length is decrypted.
    contents: Option<usize>,
    /// Header byte, contents and tag of that packet, as they arrive.
    buf: Vec<u8>,
}

impl V2Decoder {
    pub(crate) fn new(cipher: InboundCipher, max_payload: usize) -> Self {
        V2Decoder {
            cipher,
            max_payload,
            negotiated: 0,
            len_buf: [0; LENGTH_LEN],
            len_have: 0,
            contents: None,
            buf: Vec::new(),
        }
    }

    fn decode_length(&mut self, input: &mut &[u8]) -> Result<Option<usize>, DisconnectReason> {
        if self.contents.is_none() {
            let n = (LENGTH_LEN - self.len_have).min(input.len());
            self.len_buf[self.len_have..self.len_have + n].copy_from_slice(&input[..n]);
            self.len_have += n;
            *input = &input[n..];
            if self.len_have < LENGTH_LEN {
                return Ok(None);
            }
            // Returns header + contents + tag.
            let packet = self.cipher.decrypt_packet_len(self.len_buf);
            let contents = packet - 1 - TAG_LEN;
            let limit = self.max_payload + LONG_ID_LEN;
            if contents > limit {
                // The length is not authenticated (a stream cipher): a flipped bit on the
                // path makes any length, so this is a transport failure, never scored.
                return Err(DisconnectReason::Transport(format!(
                    "v2 packet of {contents} bytes exceeds the {limit}-byte limit"
                )));
            }
            self.contents = Some(contents);
        }
        Ok(self.contents)
    }

    fn decode(&mut self, input: &mut &[u8]) -> Result<Step, DisconnectReason> {
        let Some(contents) = self.decode_length(input)? else {
            return Ok(Step::Need);
        };
        let packet = 1 + contents + TAG_LEN;
        if self.buf.capacity() < packet {
            // Sized exactly, once the first byte is here (the reader has charged the
            // length by then): the buffer becomes the payload, so no doubling slack.
            self.buf.reserve_exact(packet);
        }
        let n = (packet - self.buf.len()).min(input.len());
        self.buf.extend_from_slice(&input[..n]);
        *input = &input[n..];
        if self.buf.len() < packet {
            return Ok(Step::Need);
        }
        self.contents = None;
        self.len_have = 0;
        let mut buf = std::mem::take(&mut self.buf);
        let header = match self.cipher.decrypt_in_place(&mut buf, None) {
            Ok((_, plain)) => plain[0],
            Err(e) => {
                return Err(DisconnectReason::Transport(format!(
                    "v2 packet failed authentication ({e}): wrong key, corrupted or forged"
                )));
            }
        };
        if header & IGNORE_BIT != 0 {
            return Ok(Step::Skipped);
        }
        // buf: header byte, contents, tag.
        buf.truncate(1 + contents);
        let Some(&id) = buf.get(1) else {
            return Err(DisconnectReason::Protocol(
                "v2 packet with no message type".into(),
            ));
        };
        let (command, skip) = if id == 0 {
            let Some(raw) = buf.get(2..2 + 12) else {
                return Err(DisconnectReason::Protocol(
                    "v2 long message type shorter than 12 bytes".into(),
                ));
            };
            let raw: &[u8; 12] = raw.try_into().expect("12 bytes");
            let command = Command::from_wire(raw).ok_or_else(|| {
                DisconnectReason::Protocol(format!(
                    "v2 long message type {} is not a command",
                    hex::encode(raw)
                ))
            })?;
            (command, 1 + LONG_ID_LEN)
        } else {
            let command = command_for(id, self.negotiated).ok_or_else(|| {
                DisconnectReason::Protocol(format!("unknown v2 short message id {id}"))
            })?;
            (command, 2)
        };
        if buf.len() - skip > self.max_payload {
            return Err(DisconnectReason::Protocol(format!(
                "v2 {command} payload of {} bytes exceeds {}",
                buf.len() - skip,
                self.max_payload
            )));
        }
        buf.drain(..skip);
        Ok(Step::Message(RawMessage {
            command,
            payload: buf,
        }))
    }
}

/// A finished v2 key exchange: the two halves of the session and what was read past
/// the peer's version packet.
pub(crate) struct V2Session {
    pub encoder: Encoder,
    pub decoder: Decoder,
    pub session_id: [u8; 32],
    pub leftover: Vec<u8>,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// Why a v2 attempt did not give a session.
#[derive(Debug)]
pub(crate) enum V2Failure {
    /// The peer looks like a v1 node: it closed on our key without sending a byte, or
    /// answered with v1 bytes. Dialing again with v1 is right.
    LooksV1(String),
    /// Anything else.
    Failed(DisconnectReason),
}

fn io(e: std::io::Error) -> DisconnectReason {
    DisconnectReason::Io(e.kind())
}

fn transport(e: impl std::fmt::Display) -> DisconnectReason {
    DisconnectReason::Transport(e.to_string())
}

/// Reads more bytes into `buf`; `Ok(0)` at end of stream.
async fn read_more<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    bytes_in: &mut u64,
) -> std::io::Result<usize> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    *bytes_in += n as u64;
    Ok(n)
}

fn random_garbage(max: usize) -> Vec<u8> {
    let mut rng = rand::rng();
    let mut g = vec![0u8; rng.random_range(0..=max.min(MAX_GARBAGE))];
    rng.fill_bytes(&mut g);
    g
}

/// Opens a v2 session as the initiator (the caller bounds it with a timeout).
/// `max_garbage`: the most garbage we send (a random length up to it, as Dash Core).
pub(crate) async fn initiate<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    magic: [u8; 4],
    max_payload: usize,
    max_garbage: usize,
) -> Result<V2Session, V2Failure> {
    let failed = V2Failure::Failed;
    let hs = Handshake::new(magic, Role::Initiator).map_err(|e| failed(transport(e)))?;
    let garbage = random_garbage(max_garbage);
    let mut out = vec![0u8; KEY_LEN + garbage.len()];
    let hs = hs
        .send_key(Some(&garbage), &mut out)
        .map_err(|e| failed(transport(e)))?;
    let mut bytes_out = out.len() as u64;
    stream.write_all(&out).await.map_err(|e| failed(io(e)))?;
    let mut bytes_in = 0u64;
    let mut inbuf = Vec::with_capacity(4096);
    while inbuf.len() < KEY_LEN {
        match read_more(stream, &mut inbuf, &mut bytes_in).await {
            Ok(0) if inbuf.is_empty() => {
                return Err(V2Failure::LooksV1(
                    "closed the connection on our v2 key without a byte".into(),
                ));
            }
            Ok(0) => return Err(failed(DisconnectReason::RemoteClosed)),
            Ok(_) => {}
            Err(e) if inbuf.is_empty() => {
                return Err(V2Failure::LooksV1(format!(
                    "reset the connection on our v2 key ({})",
                    e.kind()
                )));
            }
            Err(e) => return Err(failed(io(e))),
        }
        if inbuf.len() >= 4 && inbuf[..4] == magic {
            return Err(V2Failure::LooksV1("answered with a v1 frame".into()));
        }
    }
    let their_key: [u8; KEY_LEN] = inbuf[..KEY_LEN].try_into().expect("64 bytes");
    inbuf.drain(..KEY_LEN);
    let hs = hs.receive_key(their_key).map_err(|e| match e {
        bip324::Error::V1Protocol => V2Failure::LooksV1("answered with a v1 frame".into()),
        e => failed(transport(e)),
    })?;
    let mut out = vec![0u8; Handshake::<bip324::ReceivedKey>::send_version_len(None)];
    let hs = hs
        .send_version(&mut out, None)
        .map_err(|e| failed(transport(e)))?;
    bytes_out += out.len() as u64;
    stream.write_all(&out).await.map_err(|e| failed(io(e)))?;
    finish(stream, hs, inbuf, max_payload, bytes_in, bytes_out)
        .await
        .map_err(failed)
}

/// How a responder behaves: honest by default; the other settings are for testing
/// clients against broken or hostile peers (dashnet-sim).
#[derive(Debug, Clone, Default)]
pub(crate) struct ResponderStyle {
    /// Garbage sent after our key.
    pub garbage: usize,
    /// Send a wrong garbage terminator (after the full 4095 bytes of garbage).
    pub bad_terminator: bool,
    /// Send a public key other than the one the session is derived from.
    pub wrong_key: bool,
    /// Decoy packets before our version packet.
    pub decoys: usize,
}

/// The first 16 bytes a v1 initiator sends: the network's magic and "version" padded
/// to 12 bytes.
pub(crate) fn v1_prefix(magic: [u8; 4]) -> [u8; 16] {
    let mut p = [0u8; 16];
    p[..4].copy_from_slice(&magic);
    p[4..11].copy_from_slice(b"version");
    p
}

/// Reads until the first bytes either are a v1 initiator's `version` frame start
/// (`Ok((true, bytes))`) or cannot be (`Ok((false, bytes))`), as a responder must
/// before it answers. The bytes read are returned either way.
pub(crate) async fn sniff_v1<S: AsyncRead + Unpin>(
    stream: &mut S,
    magic: [u8; 4],
) -> std::io::Result<(bool, Vec<u8>)> {
    let prefix = v1_prefix(magic);
    let mut buf = Vec::new();
    let mut ignored = 0;
    loop {
        let n = buf.len().min(prefix.len());
        if buf[..n] != prefix[..n] {
            return Ok((false, buf));
        }
        if n == prefix.len() {
            return Ok((true, buf));
        }
        if read_more(stream, &mut buf, &mut ignored).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// Answers a v2 initiator whose first bytes (`read`, at least one) are already read.
pub(crate) async fn respond<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    magic: [u8; 4],
    max_payload: usize,
    read: Vec<u8>,
    style: &ResponderStyle,
) -> Result<V2Session, DisconnectReason> {
    let hs = Handshake::new(magic, Role::Responder).map_err(transport)?;
    let mut bytes_in = read.len() as u64;
    let mut inbuf = read;
    let garbage = if style.bad_terminator || style.wrong_key {
        let mut g = vec![0u8; MAX_GARBAGE];
        rand::rng().fill_bytes(&mut g);
        g
    } else {
        random_garbage(style.garbage)
    };
    let mut out = vec![0u8; KEY_LEN + garbage.len()];
    let hs = hs.send_key(Some(&garbage), &mut out).map_err(transport)?;
    if style.wrong_key {
        let other = Handshake::new(magic, Role::Responder).map_err(transport)?;
        let mut key = [0u8; KEY_LEN];
        other.send_key(None, &mut key).map_err(transport)?;
        out[..KEY_LEN].copy_from_slice(&key);
    }
    let mut bytes_out = out.len() as u64;
    stream.write_all(&out).await.map_err(io)?;
    while inbuf.len() < KEY_LEN {
        if read_more(stream, &mut inbuf, &mut bytes_in)
            .await
            .map_err(io)?
            == 0
        {
            return Err(DisconnectReason::RemoteClosed);
        }
    }
    let their_key: [u8; KEY_LEN] = inbuf[..KEY_LEN].try_into().expect("64 bytes");
    inbuf.drain(..KEY_LEN);
    let hs = hs.receive_key(their_key).map_err(transport)?;
    let decoys: Vec<Vec<u8>> = (0..style.decoys).map(|i| vec![0xd0; 1 + i % 64]).collect();
    let decoy_refs: Vec<&[u8]> = decoys.iter().map(|d| d.as_slice()).collect();
    let decoys = (!decoy_refs.is_empty()).then_some(decoy_refs.as_slice());
    let mut out = vec![0u8; Handshake::<bip324::ReceivedKey>::send_version_len(decoys)];
    let hs = hs.send_version(&mut out, decoys).map_err(transport)?;
    if style.bad_terminator {
        for b in &mut out[..TERMINATOR_LEN] {
            *b ^= 0x5a;
        }
    }
    bytes_out += out.len() as u64;
    stream.write_all(&out).await.map_err(io)?;
    finish(stream, hs, inbuf, max_payload, bytes_in, bytes_out).await
}

/// Both roles, after our terminator and version packet are out: finds the peer's
/// garbage terminator, skips its decoys, takes its version packet.
async fn finish<S: AsyncRead + Unpin>(
    stream: &mut S,
    mut hs: Handshake<bip324::SentVersion>,
    mut inbuf: Vec<u8>,
    max_payload: usize,
    mut bytes_in: u64,
    bytes_out: u64,
) -> Result<V2Session, DisconnectReason> {
    let (mut hs, consumed) = loop {
        match hs.receive_garbage(&inbuf) {
            Ok(GarbageResult::FoundGarbage {
                handshake,
                consumed_bytes,
            }) => break (handshake, consumed_bytes),
            Ok(GarbageResult::NeedMoreData(h)) => hs = h,
            Err(bip324::Error::NoGarbageTerminator) => {
                return Err(DisconnectReason::Transport(format!(
                    "no v2 garbage terminator within {MAX_GARBAGE} bytes of garbage \
                     (a wrong key, or not a v2 peer)"
                )));
            }
            Err(e) => return Err(transport(e)),
        }
        if read_more(stream, &mut inbuf, &mut bytes_in)
            .await
            .map_err(io)?
            == 0
        {
            return Err(DisconnectReason::RemoteClosed);
        }
    };
    // `hs` borrows the garbage in `inbuf` (the version packet's associated data): what
    // follows is read into `rest`.
    let mut rest = inbuf[consumed..].to_vec();
    loop {
        while rest.len() < LENGTH_LEN {
            if read_more(stream, &mut rest, &mut bytes_in)
                .await
                .map_err(io)?
                == 0
            {
                return Err(DisconnectReason::RemoteClosed);
            }
        }
        let len_bytes: [u8; LENGTH_LEN] = rest[..LENGTH_LEN].try_into().expect("3 bytes");
        let packet = hs.decrypt_packet_len(len_bytes).map_err(transport)?;
        if packet > max_payload + LONG_ID_LEN + 1 + TAG_LEN {
            return Err(DisconnectReason::Transport(format!(
                "v2 handshake packet of {packet} bytes is over the limit"
            )));
        }
        while rest.len() < LENGTH_LEN + packet {
            if read_more(stream, &mut rest, &mut bytes_in)
                .await
                .map_err(io)?
                == 0
            {
                return Err(DisconnectReason::RemoteClosed);
            }
        }
        // Decrypted in place: no copy of a large decoy.
        let result = hs.receive_version(&mut rest[LENGTH_LEN..LENGTH_LEN + packet]);
        rest.drain(..LENGTH_LEN + packet);
        match result {
            Ok(VersionResult::Complete { cipher }) => {
                let session_id = *cipher.id();
                let (inbound, outbound) = cipher.into_split();
                rest.shrink_to_fit();
                return Ok(V2Session {
                    encoder: Encoder::V2 {
                        cipher: Box::new(outbound),
                        negotiated: 0,
                        scratch: Vec::new(),
                    },
                    decoder: Decoder::V2(Box::new(V2Decoder::new(inbound, max_payload))),
                    session_id,
                    leftover: rest,
                    bytes_in,
                    bytes_out,
                });
            }
            Ok(VersionResult::Decoy(h)) => hs = h,
            Err(e) => {
                return Err(DisconnectReason::Transport(format!(
                    "v2 version packet failed authentication ({e})"
                )));
            }
        }
    }
}

/// Both ends of a transport outside any connection, for the benchmarks (encode on one
/// side, decode on the other). Not part of the API.
#[doc(hidden)]
pub struct CodecPair {
    encoder: Encoder,
    decoder: Decoder,
}

#[doc(hidden)]
impl CodecPair {
    /// v1 framing for `magic`.
    pub fn v1(magic: [u8; 4]) -> Self {
        CodecPair {
            encoder: Encoder::V1 { magic },
            decoder: Decoder::V1(FrameDecoder::new(magic, crate::wire::MAX_PAYLOAD_LEN)),
        }
    }

    /// A v2 session (a real key exchange over an in-memory pipe): our initiator's
    /// encoder, the responder's decoder.
    pub async fn v2(magic: [u8; 4]) -> Self {
        let max = crate::wire::MAX_PAYLOAD_LEN;
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let responder = tokio::spawn(async move {
            let (_, read) = sniff_v1(&mut b, magic).await.expect("reads");
            respond(&mut b, magic, max, read, &ResponderStyle::default()).await
        });
        let ours = match initiate(&mut a, magic, max, 0).await {
            Ok(s) => s,
            Err(e) => panic!("v2 handshake: {e:?}"),
        };
        let theirs = responder.await.expect("joins").expect("v2 handshake");
        CodecPair {
            encoder: ours.encoder,
            decoder: theirs.decoder,
        }
    }

    /// Appends one message to `out`.
    pub fn encode(&mut self, command: &Command, payload: &[u8], out: &mut Vec<u8>) {
        self.encoder.encode(command, payload, out);
    }

    /// Decodes everything in `bytes`; returns the messages' payload bytes.
    pub fn decode_all(&mut self, mut bytes: &[u8]) -> usize {
        let mut total = 0;
        while !bytes.is_empty() {
            match self.decoder.decode(&mut bytes) {
                Ok(Step::Message(m)) => total += m.payload.len(),
                Ok(_) => {}
                Err(e) => panic!("decode: {e}"),
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::MAX_PAYLOAD_LEN;

    const MAGIC: [u8; 4] = [0xfc, 0xc1, 0xb7, 0xdc];

    async fn pair(style: ResponderStyle) -> (V2Session, Result<V2Session, DisconnectReason>) {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let responder = tokio::spawn(async move {
            let (v1, read) = sniff_v1(&mut b, MAGIC).await.unwrap();
            assert!(!v1);
            respond(&mut b, MAGIC, MAX_PAYLOAD_LEN, read, &style).await
        });
        let ours = initiate(&mut a, MAGIC, MAX_PAYLOAD_LEN, MAX_GARBAGE).await;
        let theirs = responder.await.unwrap();
        (ours.map_err(|e| format!("{e:?}")).unwrap(), theirs)
    }

    fn decode_all(d: &mut Decoder, mut bytes: &[u8]) -> Vec<Step> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            match d.decode(&mut bytes).unwrap() {
                Step::Need => {}
                s => out.push(s),
            }
        }
        out
    }

    #[tokio::test]
    async fn both_roles_agree_and_messages_cross_with_short_and_long_ids() {
        let (mut ours, theirs) = pair(ResponderStyle {
            garbage: MAX_GARBAGE,
            decoys: 3,
            ..Default::default()
        })
        .await;
        let mut theirs = theirs.unwrap();
        assert_eq!(ours.session_id, theirs.session_id);
        let mut wire = Vec::new();
        let ping = Command::new("ping").unwrap();
        let odd = Command::new("dnodd").unwrap();
        ours.encoder.encode(&ping, &7u64.to_le_bytes(), &mut wire);
        assert_eq!(wire.len(), ours.encoder.wire_len(&ping, 8));
        ours.encoder.encode_decoy(100, &mut wire);
        let before = wire.len();
        ours.encoder.encode(&odd, b"xyz", &mut wire);
        assert_eq!(wire.len() - before, ours.encoder.wire_len(&odd, 3));
        assert_eq!(wire.len() - before, V2_OVERHEAD + 13 + 3);
        let steps = decode_all(&mut theirs.decoder, &wire);
        assert_eq!(steps.len(), 3);
        assert!(
            matches!(&steps[0], Step::Message(m) if m.command == ping && m.payload == 7u64.to_le_bytes())
        );
        assert!(matches!(&steps[1], Step::Skipped));
        assert!(matches!(&steps[2], Step::Message(m) if m.command == odd && m.payload == b"xyz"));
        // And back, one byte at a time.
        let mut back = Vec::new();
        theirs.encoder.encode(&ping, &9u64.to_le_bytes(), &mut back);
        let mut got = Vec::new();
        for b in back.chunks(1) {
            if let Step::Message(m) = ours.decoder.decode(&mut &b[..]).unwrap() {
                got.push(m);
            }
        }
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].payload, 9u64.to_le_bytes());
    }

    #[tokio::test]
    async fn a_flipped_bit_fails_authentication() {
        let (mut ours, theirs) = pair(ResponderStyle::default()).await;
        let mut theirs = theirs.unwrap();
        let mut wire = Vec::new();
        ours.encoder
            .encode(&Command::new("ping").unwrap(), &[1; 8], &mut wire);
        wire[6] ^= 1;
        let err = theirs.decoder.decode(&mut &wire[..]).unwrap_err();
        assert!(
            matches!(&err, DisconnectReason::Transport(t) if t.contains("authentication")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_oversize_length_is_refused_before_the_packet_is_buffered() {
        let (mut ours, theirs) = pair(ResponderStyle::default()).await;
        let mut theirs = theirs.unwrap();
        let mut wire = Vec::new();
        let big = vec![0u8; MAX_PAYLOAD_LEN + LONG_ID_LEN];
        ours.encoder
            .encode(&Command::new("block").unwrap(), &big, &mut wire);
        // Only the 3 length bytes are given: the refusal needs nothing more.
        let err = theirs.decoder.decode(&mut &wire[..3]).unwrap_err();
        assert!(
            matches!(&err, DisconnectReason::Transport(t) if t.contains("exceeds")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_unknown_short_id_is_a_protocol_error() {
        let (mut ours, theirs) = pair(ResponderStyle::default()).await;
        let mut theirs = theirs.unwrap();
        let Encoder::V2 { cipher, .. } = &mut ours.encoder else {
            unreachable!()
        };
        let mut wire = Vec::new();
        seal(cipher, &[5, 1, 2, 3], PacketType::Genuine, &mut wire);
        let err = theirs.decoder.decode(&mut &wire[..]).unwrap_err();
        assert!(
            matches!(&err, DisconnectReason::Protocol(t) if t.contains("short message id 5")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn platformban_goes_short_only_when_both_speak_70240() {
        let (mut ours, theirs) = pair(ResponderStyle::default()).await;
        let mut theirs = theirs.unwrap();
        let ban = Command::new("platformban").unwrap();
        let is_ban = |steps: &[Step]| matches!(steps, [Step::Message(m)] if m.command == ban);
        // Below 70240: the long form, which any version decodes.
        ours.encoder.set_negotiated(70239);
        theirs.decoder.set_negotiated(70239);
        let mut wire = Vec::new();
        ours.encoder.encode(&ban, b"x", &mut wire);
        assert_eq!(wire.len(), V2_OVERHEAD + LONG_ID_LEN + 1);
        assert!(is_ban(&decode_all(&mut theirs.decoder, &wire)));
        // From 70240: ID 168.
        ours.encoder.set_negotiated(70240);
        theirs.decoder.set_negotiated(70240);
        let mut wire = Vec::new();
        ours.encoder.encode(&ban, b"x", &mut wire);
        assert_eq!(wire.len(), V2_OVERHEAD + 1 + 1);
        assert!(is_ban(&decode_all(&mut theirs.decoder, &wire)));
        // ID 168 from a peer at 70239 is not a known ID.
        theirs.decoder.set_negotiated(70239);
        let mut wire = Vec::new();
        ours.encoder.encode(&ban, b"x", &mut wire);
        let err = theirs.decoder.decode(&mut &wire[..]).unwrap_err();
        assert!(
            matches!(&err, DisconnectReason::Protocol(t) if t.contains("168")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_bad_terminator_and_a_wrong_key_are_named() {
        for style in [
            ResponderStyle {
                bad_terminator: true,
                ..Default::default()
            },
            ResponderStyle {
                wrong_key: true,
                ..Default::default()
            },
        ] {
            let (mut a, mut b) = tokio::io::duplex(1 << 16);
            let responder = tokio::spawn(async move {
                let (_, read) = sniff_v1(&mut b, MAGIC).await.unwrap();
                let r = respond(&mut b, MAGIC, MAX_PAYLOAD_LEN, read, &style).await;
                // Keep the stream open until the initiator is done with it.
                let mut sink = [0u8; 1024];
                while matches!(b.read(&mut sink).await, Ok(n) if n > 0) {}
                r
            });
            let err = match initiate(&mut a, MAGIC, MAX_PAYLOAD_LEN, 0).await {
                Err(V2Failure::Failed(r)) => r,
                other => panic!("expected a failure, got {:?}", other.map(|_| ())),
            };
            assert!(
                matches!(&err, DisconnectReason::Transport(t) if t.contains("garbage terminator")),
                "{err}"
            );
            drop(a);
            let _ = responder.await;
        }
    }

    #[tokio::test]
    async fn a_v1_peer_is_recognised_from_both_sides() {
        // Responder side: a v1 initiator's first 16 bytes.
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let mut frame = Vec::new();
        encode_frame(
            MAGIC,
            &Command::new("version").unwrap(),
            &[0; 10],
            &mut frame,
        );
        a.write_all(&frame).await.unwrap();
        let (v1, read) = sniff_v1(&mut b, MAGIC).await.unwrap();
        assert!(v1);
        assert_eq!(read[..16], v1_prefix(MAGIC));
        // Initiator side: a v1 responder reads a header's worth of our key, sees the
        // wrong magic and closes without a byte.
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let v1_node = tokio::spawn(async move {
            let mut header = [0u8; 24];
            b.read_exact(&mut header).await.unwrap();
            assert_ne!(header[..4], MAGIC);
        });
        let r = initiate(&mut a, MAGIC, MAX_PAYLOAD_LEN, 0).await;
        assert!(
            matches!(r, Err(V2Failure::LooksV1(_))),
            "{:?}",
            r.map(|_| ())
        );
        v1_node.await.unwrap();
    }
}

/// BIP324's published vectors, and our transport against an independent packet layer
/// checked by them (RustCrypto's ChaCha20 and ChaCha20-Poly1305 under BIP324's
/// forward-secure wrappers, written here from the BIP's specification).
#[cfg(test)]
mod bip324_vectors {
    use bitcoin_hashes::{Hkdf, sha256};
    use chacha20::ChaCha20;
    use chacha20::cipher::{KeyIvInit, StreamCipher};
    use chacha20poly1305::ChaCha20Poly1305;
    use chacha20poly1305::aead::{AeadInPlace, KeyInit};
    use secp256k1::ellswift::{ElligatorSwift, ElligatorSwiftParty};
    use secp256k1::{PublicKey, Secp256k1, SecretKey};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::wire::MAX_PAYLOAD_LEN;

    const PACKETS: &str =
        include_str!("../../tests/data/vectors/bip324/packet_encoding_test_vectors.csv");
    const ELLSWIFT: &str =
        include_str!("../../tests/data/vectors/bip324/xelligatorswift_test_vectors.csv");
    const REKEY: u64 = 224;
    const ECDH_TAG: &[u8] = b"bip324_ellswift_xonly_ecdh";

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).expect("hex")
    }

    fn arr<const N: usize>(s: &str) -> [u8; N] {
        unhex(s).try_into().expect("length")
    }

    /// FSChaCha20: the length cipher, one keystream rekeyed every 224 chunks.
    struct FsStream {
        cipher: ChaCha20,
        chunks: u64,
    }

    fn stream_nonce(epoch: u64) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[4..].copy_from_slice(&epoch.to_le_bytes());
        n
    }

    impl FsStream {
        fn new(key: [u8; 32]) -> Self {
            FsStream {
                cipher: ChaCha20::new(&key.into(), &stream_nonce(0).into()),
                chunks: 0,
            }
        }
        fn crypt(&mut self, chunk: &mut [u8]) {
            self.cipher.apply_keystream(chunk);
            if (self.chunks + 1).is_multiple_of(REKEY) {
                let mut key = [0u8; 32];
                self.cipher.apply_keystream(&mut key);
                let epoch = (self.chunks + 1) / REKEY;
                self.cipher = ChaCha20::new(&key.into(), &stream_nonce(epoch).into());
            }
            self.chunks += 1;
        }
    }

    /// FSChaCha20Poly1305: the packet cipher, rekeyed every 224 packets.
    struct FsAead {
        key: [u8; 32],
        packets: u64,
    }

    impl FsAead {
        fn nonce(&self) -> [u8; 12] {
            let mut n = [0u8; 12];
            n[..4].copy_from_slice(&((self.packets % REKEY) as u32).to_le_bytes());
            n[4..].copy_from_slice(&(self.packets / REKEY).to_le_bytes());
            n
        }
        fn after(&mut self) {
            if (self.packets + 1).is_multiple_of(REKEY) {
                let mut n = self.nonce();
                n[..4].copy_from_slice(&[0xff; 4]);
                let mut next = [0u8; 32];
                let aead = ChaCha20Poly1305::new(&self.key.into());
                aead.encrypt_in_place_detached(&n.into(), b"", &mut next)
                    .expect("encrypts");
                self.key = next;
            }
            self.packets += 1;
        }
        fn seal(&mut self, aad: &[u8], text: &mut [u8]) -> [u8; 16] {
            let aead = ChaCha20Poly1305::new(&self.key.into());
            let tag = aead
                .encrypt_in_place_detached(&self.nonce().into(), aad, text)
                .expect("encrypts");
            self.after();
            tag.into()
        }
        fn open(&mut self, aad: &[u8], text: &mut [u8], tag: &[u8]) -> bool {
            let aead = ChaCha20Poly1305::new(&self.key.into());
            let ok = aead
                .decrypt_in_place_detached(&self.nonce().into(), aad, text, tag.into())
                .is_ok();
            self.after();
            ok
        }
    }

    /// One direction of a reference session.
    struct Side {
        len: FsStream,
        aead: FsAead,
    }

    impl Side {
        fn new(l: [u8; 32], p: [u8; 32]) -> Self {
            Side {
                len: FsStream::new(l),
                aead: FsAead { key: p, packets: 0 },
            }
        }
        fn seal(&mut self, contents: &[u8], ignore: bool, aad: &[u8]) -> Vec<u8> {
            let mut len = (contents.len() as u32).to_le_bytes()[..3].to_vec();
            self.len.crypt(&mut len);
            let mut body = vec![if ignore { 0x80 } else { 0 }];
            body.extend_from_slice(contents);
            let tag = self.aead.seal(aad, &mut body);
            [len, body, tag.to_vec()].concat()
        }
        /// Opens the packet at the front of `bytes`: (header, contents, bytes used).
        fn open(&mut self, bytes: &[u8], aad: &[u8]) -> (u8, Vec<u8>, usize) {
            let mut len = [bytes[0], bytes[1], bytes[2], 0];
            self.len.crypt(&mut len[..3]);
            let n = u32::from_le_bytes(len) as usize;
            let mut body = bytes[3..3 + 1 + n].to_vec();
            let tag = &bytes[4 + n..4 + n + 16];
            assert!(
                self.aead.open(aad, &mut body, tag),
                "the packet authenticates"
            );
            (body[0], body[1..].to_vec(), 3 + 1 + n + 16)
        }
    }

    struct Keys {
        session_id: [u8; 32],
        initiator_l: [u8; 32],
        initiator_p: [u8; 32],
        responder_l: [u8; 32],
        responder_p: [u8; 32],
        terminators: [u8; 32],
    }

    fn derive(shared: &[u8; 32], magic: [u8; 4]) -> Keys {
        let mut salt = b"bitcoin_v2_shared_secret".to_vec();
        salt.extend_from_slice(&magic);
        let hk = Hkdf::<sha256::Hash>::new(&salt, shared);
        let get = |info: &str| {
            let mut out = [0u8; 32];
            hk.expand(info.as_bytes(), &mut out).expect("32 bytes");
            out
        };
        Keys {
            session_id: get("session_id"),
            initiator_l: get("initiator_L"),
            initiator_p: get("initiator_P"),
            responder_l: get("responder_L"),
            responder_p: get("responder_P"),
            terminators: get("garbage_terminators"),
        }
    }

    #[test]
    fn packet_encoding_vectors() {
        const BITCOIN_MAGIC: [u8; 4] = [0xf9, 0xbe, 0xb4, 0xd9];
        let mut rows = PACKETS.lines();
        let head: Vec<&str> = rows.next().unwrap().split(',').collect();
        let mut checked = 0;
        for row in rows.filter(|r| !r.is_empty()) {
            let f: Vec<&str> = row.split(',').collect();
            let col = |name: &str| f[head.iter().position(|h| *h == name).unwrap()];
            let initiating = col("in_initiating") == "1";
            let sk = SecretKey::from_slice(&unhex(col("in_priv_ours"))).unwrap();
            let ours = ElligatorSwift::from_array(arr(col("in_ellswift_ours")));
            let theirs = ElligatorSwift::from_array(arr(col("in_ellswift_theirs")));
            let (a, b, party) = if initiating {
                (ours, theirs, ElligatorSwiftParty::A)
            } else {
                (theirs, ours, ElligatorSwiftParty::B)
            };
            let shared = ElligatorSwift::shared_secret(a, b, sk, party, Some(ECDH_TAG));
            assert_eq!(
                shared.to_secret_bytes(),
                arr::<32>(col("mid_shared_secret"))
            );
            let keys = derive(&shared.to_secret_bytes(), BITCOIN_MAGIC);
            assert_eq!(keys.initiator_l, arr::<32>(col("mid_initiator_l")));
            assert_eq!(keys.initiator_p, arr::<32>(col("mid_initiator_p")));
            assert_eq!(keys.responder_l, arr::<32>(col("mid_responder_l")));
            assert_eq!(keys.responder_p, arr::<32>(col("mid_responder_p")));
            assert_eq!(keys.session_id, arr::<32>(col("mid_session_id")));
            let (send_t, recv_t) = keys.terminators.split_at(16);
            let (send_t, recv_t) = if initiating {
                (send_t, recv_t)
            } else {
                (recv_t, send_t)
            };
            assert_eq!(send_t, unhex(col("mid_send_garbage_terminator")));
            assert_eq!(recv_t, unhex(col("mid_recv_garbage_terminator")));
            // The crate the transport uses derives the same session.
            let crate_keys =
                bip324::SessionKeyMaterial::from_ecdh(a, b, sk, party, BITCOIN_MAGIC).unwrap();
            assert_eq!(crate_keys.session_id, keys.session_id);
            // Packet number in_idx of our sending direction.
            let mut side = if initiating {
                Side::new(keys.initiator_l, keys.initiator_p)
            } else {
                Side::new(keys.responder_l, keys.responder_p)
            };
            let idx: usize = col("in_idx").parse().unwrap();
            for _ in 0..idx {
                side.seal(b"", false, b"");
            }
            let contents = unhex(col("in_content")).repeat(col("in_multiply").parse().unwrap());
            let packet = side.seal(&contents, col("in_ignore") == "1", &unhex(col("in_aad")));
            let whole = col("out_ciphertext");
            if whole.is_empty() {
                assert!(packet.ends_with(&unhex(col("out_ciphertext_endswith"))));
            } else {
                assert_eq!(packet, unhex(whole));
            }
            checked += 1;
        }
        assert_eq!(checked, 7);
    }

    #[test]
    fn ellswift_decoding_vectors() {
        let mut n = 0;
        for row in ELLSWIFT.lines().skip(1).filter(|r| !r.is_empty()) {
            let (ell, x) = row.split_once(',').unwrap();
            let pk = PublicKey::from_ellswift(ElligatorSwift::from_array(arr(ell)));
            assert_eq!(pk.x_only_public_key().0.serialize(), arr::<32>(x), "{ell}");
            n += 1;
        }
        assert_eq!(n, 16);
    }

    /// Our initiator and our encoder/decoder against the reference as responder, on
    /// Dash's regtest magic, across the rekeying boundary both ways.
    #[tokio::test]
    async fn our_transport_talks_to_the_reference() {
        const MAGIC: [u8; 4] = [0xfc, 0xc1, 0xb7, 0xdc];
        let (mut a, mut b) = tokio::io::duplex(1 << 22);
        let reference = tokio::spawn(async move {
            let mut key = [0u8; 64];
            b.read_exact(&mut key).await.unwrap();
            let secp = Secp256k1::new();
            let sk = SecretKey::new(&mut secp256k1::rand::thread_rng());
            let ours = ElligatorSwift::from_seckey(&secp, sk, None);
            let garbage = vec![0x42u8; 100];
            b.write_all(&[&ours.to_array()[..], &garbage].concat())
                .await
                .unwrap();
            let theirs = ElligatorSwift::from_array(key);
            let shared = ElligatorSwift::shared_secret(
                theirs,
                ours,
                sk,
                ElligatorSwiftParty::B,
                Some(ECDH_TAG),
            );
            let keys = derive(&shared.to_secret_bytes(), MAGIC);
            let mut send = Side::new(keys.responder_l, keys.responder_p);
            let mut recv = Side::new(keys.initiator_l, keys.initiator_p);
            let version = send.seal(b"", false, &garbage);
            b.write_all(&[&keys.terminators[16..], &version[..]].concat())
                .await
                .unwrap();
            // Their garbage, their terminator, their version packet.
            let mut inbuf = Vec::new();
            let at = loop {
                let mut chunk = [0u8; 4096];
                let n = b.read(&mut chunk).await.unwrap();
                assert!(n > 0);
                inbuf.extend_from_slice(&chunk[..n]);
                if let Some(at) = inbuf.windows(16).position(|w| w == &keys.terminators[..16]) {
                    break at;
                }
            };
            let their_garbage = inbuf[..at].to_vec();
            assert!(their_garbage.len() <= MAX_GARBAGE);
            let mut rest = inbuf[at + 16..].to_vec();
            while rest.len() < 20 {
                let mut chunk = [0u8; 64];
                let n = b.read(&mut chunk).await.unwrap();
                rest.extend_from_slice(&chunk[..n]);
            }
            let (header, contents, used) = recv.open(&rest, &their_garbage);
            assert_eq!((header, contents.len()), (0, 0), "an empty version packet");
            rest.drain(..used);
            (b, keys.session_id, send, recv, rest)
        });
        let ours = initiate(&mut a, MAGIC, MAX_PAYLOAD_LEN, MAX_GARBAGE)
            .await
            .map_err(|e| format!("{e:?}"))
            .unwrap();
        let (mut b, session_id, mut send, mut recv, mut rest) = reference.await.unwrap();
        assert_eq!(ours.session_id, session_id);
        let (mut encoder, mut decoder) = (ours.encoder, ours.decoder);
        encoder.set_negotiated(70240);
        decoder.set_negotiated(70240);
        // Ours to the reference: 300 packets, short and long IDs.
        let ping = Command::new("ping").unwrap();
        let odd = Command::new("dnodd").unwrap();
        let mut wire = Vec::new();
        for i in 0u32..300 {
            let command = if i % 3 == 0 { odd } else { ping };
            encoder.encode(&command, &i.to_le_bytes(), &mut wire);
        }
        a.write_all(&wire).await.unwrap();
        while rest.len() < wire.len() {
            let mut chunk = [0u8; 65536];
            let n = b.read(&mut chunk).await.unwrap();
            assert!(n > 0);
            rest.extend_from_slice(&chunk[..n]);
        }
        let mut seen = 0u32;
        while seen < 300 {
            let (header, contents, used) = recv.open(&rest, b"");
            rest.drain(..used);
            assert_eq!(header, 0);
            let expected = if seen.is_multiple_of(3) {
                [&[0u8][..], odd.wire_bytes(), &seen.to_le_bytes()].concat()
            } else {
                [&[18u8][..], &seen.to_le_bytes()].concat()
            };
            assert_eq!(contents, expected, "packet {seen}");
            seen += 1;
        }
        // The reference to ours: 300 packets with decoys among them.
        let mut wire = Vec::new();
        for i in 0u32..300 {
            if i % 7 == 0 {
                wire.extend(send.seal(&[9; 40], true, b""));
            }
            let contents = [&[165u8][..], &i.to_le_bytes()].concat(); // headers2
            wire.extend(send.seal(&contents, false, b""));
        }
        let mut got = 0u32;
        let mut input = &wire[..];
        while !input.is_empty() {
            if let Step::Message(m) = decoder.decode(&mut input).unwrap() {
                assert_eq!(m.command.as_str(), "headers2");
                assert_eq!(m.payload, got.to_le_bytes());
                got += 1;
            }
        }
        assert_eq!(got, 300);
    }
}
