//! Per-option facts: wire type, size and the message types dhcpd stores it in.
//!
//! Source: dhcpd 4.x `server/stables.c` (`ft_options[]`, `fto_allowed[]`, `ft_sizes[]`) and
//! the digest §1.4.

use super::codes::{MessageType, OptionCode};

/// Wire type of an option's value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OptionKind {
    /// 1 byte.
    U8,
    /// 2 bytes big-endian (only IP-flags).
    U16,
    /// 4 bytes big-endian.
    U32,
    /// 4-byte IPv4 address.
    Ipv4,
    /// Any number of bytes (element size 1).
    Bytes,
    /// Text, no NUL terminator (element size 1).
    Text,
    /// message-digest: any bytes, must be the last option of the message.
    Digest,
}

impl OptionKind {
    /// Exact length for fixed-size kinds, `None` for variable ones.
    pub const fn fixed_len(self) -> Option<usize> {
        match self {
            OptionKind::U8 => Some(1),
            OptionKind::U16 => Some(2),
            OptionKind::U32 | OptionKind::Ipv4 => Some(4),
            OptionKind::Bytes | OptionKind::Text | OptionKind::Digest => None,
        }
    }

    /// Element size of a variable-length kind (the length must be a multiple of it).
    pub const fn element_size(self) -> usize {
        match self {
            OptionKind::U8 | OptionKind::Bytes | OptionKind::Text | OptionKind::Digest => 1,
            OptionKind::U16 => 2,
            OptionKind::U32 | OptionKind::Ipv4 => 4,
        }
    }
}

/// Static description of one option.
#[derive(Clone, Copy, Debug)]
pub struct OptionSpec {
    /// Option code.
    pub code: OptionCode,
    /// Wire type.
    pub kind: OptionKind,
    /// Bit `t` set = dhcpd stores this option in message type `t` (`fto_allowed[]`).
    allowed: u16,
}

impl OptionSpec {
    /// True when dhcpd keeps this option in a message of type `t`. message-digest is
    /// accepted (and must be last) in every message type.
    pub const fn allowed_in(&self, t: MessageType) -> bool {
        if self.code.0 == OptionCode::MESSAGE_DIGEST.0 {
            return true;
        }
        t.0 < 16 && self.allowed & (1 << t.0) != 0
    }
}

const fn bit(t: MessageType) -> u16 {
    1 << t.0
}

const POOLRESP: u16 = bit(MessageType::POOLRESP);
const BNDUPD: u16 = bit(MessageType::BNDUPD);
const BNDACK: u16 = bit(MessageType::BNDACK);
const BIND: u16 = BNDUPD | BNDACK;
const CONNECT: u16 = bit(MessageType::CONNECT);
const CONNECTACK: u16 = bit(MessageType::CONNECTACK);
const STATE: u16 = bit(MessageType::STATE);
const DISCONNECT: u16 = bit(MessageType::DISCONNECT);

const fn s(code: OptionCode, kind: OptionKind, allowed: u16) -> OptionSpec {
    OptionSpec { code, kind, allowed }
}

/// Index = option code; entry 0 is unused.
static SPECS: [OptionSpec; 30] = {
    use OptionKind::*;
    type C = OptionCode;
    [
        s(OptionCode(0), Bytes, 0),
        s(C::ADDRESSES_TRANSFERRED, U32, POOLRESP),
        s(C::ASSIGNED_IP_ADDRESS, Ipv4, BIND),
        s(C::BINDING_STATUS, U8, BIND),
        s(C::CLIENT_IDENTIFIER, Bytes, BIND),
        s(C::CLIENT_HARDWARE_ADDRESS, Bytes, BIND),
        s(C::CLIENT_LAST_TRANSACTION_TIME, U32, BIND),
        s(C::CLIENT_REPLY_OPTIONS, Bytes, BIND),
        s(C::CLIENT_REQUEST_OPTIONS, Bytes, BIND),
        s(C::DDNS, Bytes, BIND),
        s(C::DELAYED_SERVICE, U8, 0),
        s(C::HASH_BUCKET_ASSIGNMENT, Bytes, CONNECT),
        s(C::IP_FLAGS, U16, BIND),
        s(C::LEASE_EXPIRATION_TIME, U32, BIND),
        s(C::MAX_UNACKED_BNDUPD, U32, CONNECT | CONNECTACK),
        s(C::MCLT, U32, CONNECT),
        s(C::MESSAGE, Text, BNDACK | CONNECTACK | DISCONNECT),
        s(C::MESSAGE_DIGEST, Digest, 0),
        s(C::POTENTIAL_EXPIRATION_TIME, U32, BIND),
        s(C::RECEIVE_TIMER, U32, CONNECT | CONNECTACK),
        s(C::PROTOCOL_VERSION, U8, CONNECT | CONNECTACK),
        s(C::REJECT_REASON, U8, BNDACK | CONNECTACK | DISCONNECT),
        s(C::RELATIONSHIP_NAME, Bytes, CONNECT | CONNECTACK),
        s(C::SERVER_FLAGS, U8, STATE),
        s(C::SERVER_STATE, U8, STATE),
        s(C::START_TIME_OF_STATE, U32, BIND | STATE),
        s(C::TLS_REPLY, U8, CONNECTACK),
        s(C::TLS_REQUEST, U8, CONNECT),
        s(C::VENDOR_CLASS_IDENTIFIER, Bytes, CONNECT | CONNECTACK),
        // dhcpd's fto_allowed[] lists vendor-specific-options in no message type (the digest
        // table says BNDUPD/BNDACK, the stables.c source says none): dhcpd skips it in every
        // message. xdhcpd's one departure from dhcpd's table: it keeps it in BNDUPD, where it
        // carries a lease's DNS state between xdhcpd partners (`vendor`), harmless to dhcpd.
        s(C::VENDOR_SPECIFIC_OPTIONS, Bytes, BNDUPD),
    ]
};

/// The spec of a known option (codes 1..=29), `None` for unknown codes (dhcpd skips those).
pub fn spec(code: OptionCode) -> Option<&'static OptionSpec> {
    match code.0 {
        1..=29 => SPECS.get(usize::from(code.0)),
        _ => None,
    }
}

/// Why the decoder skipped an option.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IgnoreReason {
    /// The code is not one of the 29 known options.
    UnknownCode,
    /// A known option that dhcpd does not keep in this message type (`fto_allowed[]`).
    NotAllowed,
}

/// An option the decoder skipped, kept so the caller can log it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IgnoredOption {
    /// Option code as received.
    pub code: OptionCode,
    /// Value length as received.
    pub len: u16,
    /// Why it was skipped.
    pub reason: IgnoreReason,
}
