//! The 24-byte frame: `magic | command[12] | length u32 | checksum[4]`, then the payload.

use std::fmt;

use super::hash::checksum;

/// Size of the frame header.
pub const FRAME_HEADER_LEN: usize = 24;
/// Dash Core's MAX_PROTOCOL_MESSAGE_LENGTH: 3 MiB.
pub const MAX_PAYLOAD_LEN: usize = 3 * 1024 * 1024;

/// A command name: 1 to 12 printable ASCII bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Command {
    bytes: [u8; 12],
    len: u8,
}

impl Command {
    /// Validates `name`: 1 to 12 bytes of printable ASCII.
    pub fn new(name: &str) -> Option<Command> {
        let b = name.as_bytes();
        if b.is_empty() || b.len() > 12 || !b.iter().all(|c| c.is_ascii_graphic()) {
            return None;
        }
        let mut bytes = [0u8; 12];
        bytes[..b.len()].copy_from_slice(b);
        Some(Command {
            bytes,
            len: b.len() as u8,
        })
    }

    /// A command from a literal, checked at compile time when used in a `const`.
    pub const fn from_static(name: &'static str) -> Command {
        let b = name.as_bytes();
        assert!(!b.is_empty() && b.len() <= 12, "a command is 1 to 12 bytes");
        let mut bytes = [0u8; 12];
        let mut i = 0;
        while i < b.len() {
            assert!(b[i].is_ascii_graphic(), "a command is printable ASCII");
            bytes[i] = b[i];
            i += 1;
        }
        Command {
            bytes,
            len: b.len() as u8,
        }
    }

    /// Parses the 12 NUL-padded bytes of a frame header.
    pub fn from_wire(raw: &[u8; 12]) -> Option<Command> {
        let len = raw.iter().position(|b| *b == 0).unwrap_or(12);
        if len == 0 || raw[len..].iter().any(|b| *b != 0) {
            return None;
        }
        if !raw[..len].iter().all(|c| c.is_ascii_graphic()) {
            return None;
        }
        Some(Command {
            bytes: *raw,
            len: len as u8,
        })
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // Only printable ASCII is ever stored.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }

    /// The 12 NUL-padded wire bytes.
    pub fn wire_bytes(&self) -> &[u8; 12] {
        &self.bytes
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Command({:?})", self.as_str())
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A framed message whose payload is not decoded yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// The command.
    pub command: Command,
    /// The payload, checksum verified.
    pub payload: Vec<u8>,
}

/// Why a frame was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The magic is not the network's.
    BadMagic {
        /// The four bytes found.
        found: [u8; 4],
    },
    /// The command is empty, not printable ASCII, or has bytes after a NUL.
    BadCommand {
        /// The twelve bytes found.
        found: [u8; 12],
    },
    /// The declared payload length is over the limit (checked before anything is buffered).
    PayloadTooLarge {
        /// The declared length.
        declared: u32,
        /// The limit.
        max: usize,
    },
    /// The checksum does not match the payload.
    BadChecksum {
        /// The checksum in the header.
        declared: [u8; 4],
        /// The checksum of the payload received.
        computed: [u8; 4],
    },
    /// (Whole-message decoding only) fewer bytes than the frame needs.
    Truncated {
        /// Bytes the frame needs.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// (Whole-message decoding only) bytes after the end of the frame.
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::BadMagic { found } => write!(f, "bad magic {}", hex::encode(found)),
            FrameError::BadCommand { found } => {
                write!(f, "bad command bytes {}", hex::encode(found))
            }
            FrameError::PayloadTooLarge { declared, max } => {
                write!(f, "declared payload length {declared} exceeds {max}")
            }
            FrameError::BadChecksum { declared, computed } => write!(
                f,
                "checksum {} does not match payload checksum {}",
                hex::encode(declared),
                hex::encode(computed)
            ),
            FrameError::Truncated { needed, available } => {
                write!(
                    f,
                    "frame truncated: needs {needed} bytes, {available} present"
                )
            }
            FrameError::TrailingBytes { count } => {
                write!(f, "{count} bytes after the end of the frame")
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// Writes a whole frame for `payload` to `out`.
pub fn encode_frame(magic: [u8; 4], command: &Command, payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(FRAME_HEADER_LEN + payload.len());
    out.extend_from_slice(&magic);
    out.extend_from_slice(command.wire_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&checksum(payload));
    out.extend_from_slice(payload);
}

/// A parsed and validated frame header.
#[derive(Debug, Clone, Copy)]
struct Header {
    command: Command,
    len: usize,
    checksum: [u8; 4],
}

fn parse_header(
    raw: &[u8; FRAME_HEADER_LEN],
    magic: [u8; 4],
    max_payload: usize,
) -> Result<Header, FrameError> {
    let mut found = [0u8; 4];
    found.copy_from_slice(&raw[0..4]);
    if found != magic {
        return Err(FrameError::BadMagic { found });
    }
    let mut cmd = [0u8; 12];
    cmd.copy_from_slice(&raw[4..16]);
    let command = Command::from_wire(&cmd).ok_or(FrameError::BadCommand { found: cmd })?;
    let declared = u32::from_le_bytes([raw[16], raw[17], raw[18], raw[19]]);
    if declared as usize > max_payload {
        return Err(FrameError::PayloadTooLarge {
            declared,
            max: max_payload,
        });
    }
    let mut sum = [0u8; 4];
    sum.copy_from_slice(&raw[20..24]);
    Ok(Header {
        command,
        len: declared as usize,
        checksum: sum,
    })
}

fn verify(header: &Header, payload: Vec<u8>) -> Result<RawMessage, FrameError> {
    let computed = checksum(&payload);
    if computed != header.checksum {
        return Err(FrameError::BadChecksum {
            declared: header.checksum,
            computed,
        });
    }
    Ok(RawMessage {
        command: header.command,
        payload,
    })
}

/// Decodes exactly one whole frame from `bytes`.
pub fn decode_frame(
    bytes: &[u8],
    magic: [u8; 4],
    max_payload: usize,
) -> Result<RawMessage, FrameError> {
    let Some(raw) = bytes.first_chunk::<FRAME_HEADER_LEN>() else {
        return Err(FrameError::Truncated {
            needed: FRAME_HEADER_LEN,
            available: bytes.len(),
        });
    };
    let header = parse_header(raw, magic, max_payload)?;
    let total = FRAME_HEADER_LEN + header.len;
    if bytes.len() < total {
        return Err(FrameError::Truncated {
            needed: total,
            available: bytes.len(),
        });
    }
    if bytes.len() > total {
        return Err(FrameError::TrailingBytes {
            count: bytes.len() - total,
        });
    }
    verify(&header, bytes[FRAME_HEADER_LEN..].to_vec())
}

/// A streaming frame decoder: feed it bytes in chunks of any size, get frames out.
///
/// It holds at most one frame: the header is validated (magic, command, declared
/// length against the maximum) as soon as its 24 bytes are in, before any of the
/// payload is buffered, and the payload buffer is sized from that checked length.
#[derive(Debug)]
pub struct FrameDecoder {
    magic: [u8; 4],
    max_payload: usize,
    header_buf: [u8; FRAME_HEADER_LEN],
    header_len: usize,
    header: Option<Header>,
    payload: Vec<u8>,
}

impl FrameDecoder {
    /// A decoder for `magic` that refuses payloads longer than `max_payload`.
    pub fn new(magic: [u8; 4], max_payload: usize) -> Self {
        FrameDecoder {
            magic,
            max_payload,
            header_buf: [0; FRAME_HEADER_LEN],
            header_len: 0,
            header: None,
            payload: Vec::new(),
        }
    }

    /// Consumes bytes from the front of `input` and returns a frame once one is complete.
    ///
    /// Call it again while `input` is not empty: it consumes no more than the current
    /// frame needs. After an error the stream is unusable (the connection should close).
    pub fn decode(&mut self, input: &mut &[u8]) -> Result<Option<RawMessage>, FrameError> {
        if self.decode_header(input)?.is_none() {
            return Ok(None);
        }
        let Some(header) = self.header else {
            return Ok(None);
        };
        if self.payload.capacity() < header.len {
            // Sized from the checked length, once the first payload byte is here.
            self.payload.reserve_exact(header.len);
        }
        let n = (header.len - self.payload.len()).min(input.len());
        self.payload.extend_from_slice(&input[..n]);
        *input = &input[n..];
        if self.payload.len() < header.len {
            return Ok(None);
        }
        self.header = None;
        self.header_len = 0;
        verify(&header, std::mem::take(&mut self.payload)).map(Some)
    }

    /// Consumes only frame-header bytes from `input`: `Some(payload length)` once the
    /// current frame's header is in and valid (then it consumes nothing more), `None`
    /// while more header bytes are needed. Lets a reader charge a frame's payload to a
    /// byte budget before any of it is buffered; `decode` then goes on from here.
    pub fn decode_header(&mut self, input: &mut &[u8]) -> Result<Option<usize>, FrameError> {
        if self.header.is_none() {
            let want = FRAME_HEADER_LEN - self.header_len;
            let n = want.min(input.len());
            self.header_buf[self.header_len..self.header_len + n].copy_from_slice(&input[..n]);
            self.header_len += n;
            *input = &input[n..];
            if self.header_len < FRAME_HEADER_LEN {
                return Ok(None);
            }
            self.header = Some(parse_header(
                &self.header_buf,
                self.magic,
                self.max_payload,
            )?);
        }
        Ok(self.header.map(|h| h.len))
    }

    /// The command of the frame whose header is in and whose payload is not complete.
    pub fn pending_command(&self) -> Option<&str> {
        self.header.as_ref().map(|h| h.command.as_str())
    }

    /// Bytes of a partial frame held right now.
    pub fn buffered(&self) -> usize {
        self.header_len + self.payload.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAGIC: [u8; 4] = [0xfc, 0xc1, 0xb7, 0xdc];

    #[test]
    fn commands_validate() {
        assert!(Command::new("headers2").is_some());
        assert!(Command::new("").is_none());
        assert!(Command::new("thirteenchars").is_none());
        assert!(Command::new("a b").is_none());
        let mut raw = *Command::new("ping").unwrap().wire_bytes();
        raw[6] = b'x'; // byte after a NUL
        assert!(Command::from_wire(&raw).is_none());
    }

    #[test]
    fn oversize_length_is_refused_from_the_header_alone() {
        let mut frame = Vec::new();
        frame.extend_from_slice(&MAGIC);
        frame.extend_from_slice(Command::new("block").unwrap().wire_bytes());
        frame.extend_from_slice(&u32::MAX.to_le_bytes());
        frame.extend_from_slice(&[0; 4]);
        let mut d = FrameDecoder::new(MAGIC, MAX_PAYLOAD_LEN);
        let err = d.decode(&mut &frame[..]).unwrap_err();
        assert_eq!(
            err,
            FrameError::PayloadTooLarge {
                declared: u32::MAX,
                max: MAX_PAYLOAD_LEN
            }
        );
        assert_eq!(d.payload.capacity(), 0);
    }

    #[test]
    fn bad_magic_and_checksum_are_reported() {
        let mut frame = Vec::new();
        encode_frame(MAGIC, &Command::new("ping").unwrap(), &[1; 8], &mut frame);
        let err = decode_frame(&frame, [0; 4], MAX_PAYLOAD_LEN).unwrap_err();
        assert_eq!(err, FrameError::BadMagic { found: MAGIC });
        frame[30] ^= 1;
        let err = decode_frame(&frame, MAGIC, MAX_PAYLOAD_LEN).unwrap_err();
        assert!(matches!(err, FrameError::BadChecksum { .. }));
    }
}
