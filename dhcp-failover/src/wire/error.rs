//! Decode and encode errors.

use super::codes::{MessageType, OptionCode, RejectReason};

/// Why a byte stream could not be decoded into a [`Message`](super::Message).
///
/// [`DecodeError::Incomplete`] is not an error of the peer: the caller must read more bytes
/// and call `decode` again. Every other variant is a protocol error; dhcpd drops the TCP
/// connection on all of them (it never answers a malformed message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The buffer holds only part of the next message; at least `needed` more bytes are
    /// required. Not a protocol error.
    #[error("incomplete message: need {needed} more bytes")]
    Incomplete {
        /// Minimum number of additional bytes needed.
        needed: usize,
    },
    /// The length field is outside 12..=2048.
    #[error("message length {0} outside 12..=2048")]
    BadLength(u16),
    /// The payload offset is below 12 or beyond the message length.
    #[error("payload offset {payoff} invalid for message length {length}")]
    BadPayloadOffset {
        /// Payload offset as received.
        payoff: u8,
        /// Message length as received.
        length: u16,
    },
    /// A message type dhcpd does not know (0 or >12) carried options.
    #[error("unknown message type {0} with options")]
    UnknownTypeWithOptions(MessageType),
    /// Fewer than 4 bytes left for an option header.
    #[error("option header truncated at offset {offset}")]
    TruncatedOptionHeader {
        /// Offset of the option header in the message.
        offset: usize,
    },
    /// An option's length runs past the end of the message.
    #[error("option {code} length {len} runs past the end of the message")]
    OptionOverrun {
        /// Option code.
        code: OptionCode,
        /// Declared length.
        len: u16,
    },
    /// The same option appeared twice.
    #[error("duplicate option {0}")]
    DuplicateOption(OptionCode),
    /// A fixed-size option had the wrong length.
    #[error("option {code} has length {len}, expected {expected}")]
    BadOptionLength {
        /// Option code.
        code: OptionCode,
        /// Length received.
        len: u16,
        /// Length required.
        expected: usize,
    },
    /// A variable-length option's length is not a multiple of its element size.
    #[error("option {code} length {len} is not a multiple of {element}")]
    NotMultipleOfElement {
        /// Option code.
        code: OptionCode,
        /// Length received.
        len: u16,
        /// Element size.
        element: usize,
    },
    /// message-digest (17) was followed by more options.
    #[error("message-digest is not the last option")]
    DigestNotLast,
}

impl DecodeError {
    /// True for [`DecodeError::Incomplete`] (read more bytes), false for protocol errors.
    pub const fn is_incomplete(&self) -> bool {
        matches!(self, DecodeError::Incomplete { .. })
    }

    /// The reject reason to put in a DISCONNECT when dropping the link for this error, if one
    /// fits. The draft has no "malformed message" code, so every protocol error maps to
    /// MISC_REJECT (6), except a misplaced digest (IP_DIGEST_FAILURE, 20). `None` for
    /// `Incomplete`. (dhcpd itself closes the connection without sending anything.)
    pub const fn reject_reason(&self) -> Option<RejectReason> {
        match self {
            DecodeError::Incomplete { .. } => None,
            DecodeError::DigestNotLast => Some(RejectReason::IP_DIGEST_FAILURE),
            _ => Some(RejectReason::MISC_REJECT),
        }
    }
}

/// Why a [`Message`](super::Message) could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The encoded message would exceed 2048 bytes.
    #[error("encoded message is {0} bytes, the maximum is 2048")]
    TooLong(usize),
    /// The message carries an option dhcpd does not accept in that message type (it would
    /// silently drop it), e.g. an HBA in a CONNECTACK.
    #[error("option {option} is not allowed in {msg_type}")]
    OptionNotAllowed {
        /// The offending option.
        option: OptionCode,
        /// The message type.
        msg_type: MessageType,
    },
}
