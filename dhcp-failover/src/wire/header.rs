//! The 12-byte message header.

use super::codes::MessageType;
use super::error::DecodeError;

/// Size of the fixed header, and the payload offset this crate always sends.
pub const HEADER_LEN: usize = 12;
/// Smallest legal message (a bare header).
pub const MIN_MESSAGE_LEN: usize = 12;
/// Largest message dhcpd accepts (`DHCP_FAILOVER_MAX_MESSAGE_SIZE`).
pub const MAX_MESSAGE_LEN: usize = 2048;

/// The fixed header: `u16 length, u8 type, u8 payload-offset, u32 time, u32 xid`, big-endian.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Header {
    /// Total message length including the length field itself.
    pub length: u16,
    /// Message type.
    pub msg_type: MessageType,
    /// Offset of the first option (12 when sent by dhcpd or by us).
    pub payoff: u8,
    /// Sender's clock, Unix seconds.
    pub time: u32,
    /// Transaction id.
    pub xid: u32,
}

fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[a, b1, c, d]) => u32::from_be_bytes([a, b1, c, d]),
        _ => 0,
    }
}

/// Reads the length field of the next message in `buf`.
///
/// `Ok(n)` = the next message is `n` bytes long (`buf` may still be shorter);
/// `Incomplete` when fewer than 2 bytes are buffered; `BadLength` outside 12..=2048.
pub fn frame_len(buf: &[u8]) -> Result<usize, DecodeError> {
    if buf.len() < 2 {
        return Err(DecodeError::Incomplete { needed: 2 - buf.len() });
    }
    let length = be16(buf, 0);
    let l = usize::from(length);
    if !(MIN_MESSAGE_LEN..=MAX_MESSAGE_LEN).contains(&l) {
        return Err(DecodeError::BadLength(length));
    }
    Ok(l)
}

impl Header {
    /// Parses and validates the header at the start of `buf`, which must already hold the
    /// whole message (`Incomplete` otherwise).
    pub fn parse(buf: &[u8]) -> Result<Header, DecodeError> {
        let l = frame_len(buf)?;
        if buf.len() < l {
            return Err(DecodeError::Incomplete { needed: l - buf.len() });
        }
        let length = be16(buf, 0);
        let msg_type = MessageType(buf.get(2).copied().unwrap_or(0));
        let payoff = buf.get(3).copied().unwrap_or(0);
        if usize::from(payoff) < HEADER_LEN || usize::from(payoff) > l {
            return Err(DecodeError::BadPayloadOffset { payoff, length });
        }
        Ok(Header { length, msg_type, payoff, time: be32(buf, 4), xid: be32(buf, 8) })
    }

    /// Appends the header (payload offset is written as given).
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.length.to_be_bytes());
        out.push(self.msg_type.0);
        out.push(self.payoff);
        out.extend_from_slice(&self.time.to_be_bytes());
        out.extend_from_slice(&self.xid.to_be_bytes());
    }
}

pub(crate) fn read_u16(b: &[u8]) -> u16 {
    be16(b, 0)
}

pub(crate) fn read_u32(b: &[u8]) -> u32 {
    be32(b, 0)
}
