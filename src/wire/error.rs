//! Typed decode errors: what was wrong, in which field, at which byte.

use std::fmt;

/// What went wrong while decoding a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The field needs more bytes than remain.
    Truncated {
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that remain.
        available: usize,
    },
    /// A CompactSize used more bytes than its value needs (Dash Core rejects it).
    NonCanonicalCompactSize,
    /// A count is larger than the protocol allows, or than the remaining bytes could hold.
    TooMany {
        /// The count that was read.
        count: u64,
        /// The largest count allowed at this point.
        max: u64,
    },
    /// A length prefix is larger than the protocol allows.
    TooLong {
        /// The length that was read.
        len: u64,
        /// The largest length allowed.
        max: u64,
    },
    /// A value the protocol does not allow.
    Invalid(&'static str),
    /// Bytes left over after the last field of a fixed-layout payload.
    TrailingBytes {
        /// How many bytes were left.
        count: usize,
    },
}

/// A payload decode error: the kind, the field being read, and its byte offset in the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// What went wrong.
    pub kind: DecodeErrorKind,
    /// The field being decoded (for example `"version.user_agent"`).
    pub field: &'static str,
    /// Offset in the payload where that field starts.
    pub offset: usize,
}

impl DecodeError {
    pub(crate) fn new(kind: DecodeErrorKind, field: &'static str, offset: usize) -> Self {
        DecodeError {
            kind,
            field,
            offset,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}: ", self.field, self.offset)?;
        match &self.kind {
            DecodeErrorKind::Truncated { needed, available } => {
                write!(f, "truncated (needs {needed} bytes, {available} remain)")
            }
            DecodeErrorKind::NonCanonicalCompactSize => write!(f, "non-canonical CompactSize"),
            DecodeErrorKind::TooMany { count, max } => {
                write!(f, "count {count} exceeds the limit of {max}")
            }
            DecodeErrorKind::TooLong { len, max } => {
                write!(f, "length {len} exceeds the limit of {max}")
            }
            DecodeErrorKind::Invalid(what) => write!(f, "{what}"),
            DecodeErrorKind::TrailingBytes { count } => {
                write!(f, "{count} unexpected trailing bytes")
            }
        }
    }
}

impl std::error::Error for DecodeError {}
