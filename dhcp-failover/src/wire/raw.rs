//! Raw access to the options of one framed message, for the link layer
//! ([`crate::link`]): it signs and checks whole messages and carries xdhcpd's own options
//! without re-encoding what the [`Peer`](crate::Peer) produced.

use super::codes::OptionCode;
use super::error::EncodeError;
use super::header::{HEADER_LEN, MAX_MESSAGE_LEN, read_u16};

/// One option as it sits in a message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RawOption<'a> {
    /// Option code.
    pub code: OptionCode,
    /// Offset of the option's 4-byte header in the message.
    pub offset: usize,
    /// The value bytes.
    pub value: &'a [u8],
}

/// The options of `frame` (one whole message), in wire order. Stops at the first malformed
/// option: the codec reports those; here they only end the walk.
pub fn options(frame: &[u8]) -> impl Iterator<Item = RawOption<'_>> {
    let length = usize::from(read_u16(frame)).min(frame.len());
    let mut pos = frame.get(3).map_or(length, |&p| usize::from(p).max(HEADER_LEN));
    std::iter::from_fn(move || {
        let h = frame.get(pos..pos + 4).filter(|_| pos + 4 <= length)?;
        let code = OptionCode(read_u16(h));
        let len = usize::from(read_u16(h.get(2..).unwrap_or(&[])));
        let value = frame.get(pos + 4..pos + 4 + len).filter(|_| pos + 4 + len <= length)?;
        let opt = RawOption { code, offset: pos, value };
        pos += 4 + len;
        Some(opt)
    })
}

/// The value of the first option `code` in `frame`, if any.
pub fn find_option(frame: &[u8], code: OptionCode) -> Option<&[u8]> {
    options(frame).find(|o| o.code == code).map(|o| o.value)
}

/// Appends option `code` to `frame` (one whole message) and updates its length field.
/// `frame` is unchanged on error (the message would exceed 2048 bytes).
pub fn append_option(frame: &mut Vec<u8>, code: OptionCode, value: &[u8]) -> Result<(), EncodeError> {
    let total = frame.len() + 4 + value.len();
    let Some(total16) = u16::try_from(total).ok().filter(|_| total <= MAX_MESSAGE_LEN) else {
        return Err(EncodeError::TooLong(total));
    };
    let vlen = u16::try_from(value.len()).map_err(|_| EncodeError::TooLong(total))?;
    frame.extend_from_slice(&code.0.to_be_bytes());
    frame.extend_from_slice(&vlen.to_be_bytes());
    frame.extend_from_slice(value);
    if let Some(l) = frame.get_mut(0..2) {
        l.copy_from_slice(&total16.to_be_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Message, MessageType, decode, encode_to_vec};

    #[test]
    fn append_then_decode_sees_the_option() {
        let mut f = encode_to_vec(&Message::contact(100, 7)).unwrap_or_default();
        append_option(&mut f, OptionCode(0xf001), b"abc").unwrap_or_default();
        assert_eq!(f.len(), 12 + 7);
        assert_eq!(find_option(&f, OptionCode(0xf001)), Some(&b"abc"[..]));
        let (m, used) = decode(&f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(used, f.len());
        assert_eq!(m.msg_type, MessageType::CONTACT);
        assert_eq!(m.ignored.len(), 1, "the unknown option is skipped by the codec");
    }

    #[test]
    fn append_refuses_oversize() {
        let mut f = encode_to_vec(&Message::contact(1, 1)).unwrap_or_default();
        let before = f.clone();
        assert!(append_option(&mut f, OptionCode(0xf001), &[0; 2040]).is_err());
        assert_eq!(f, before);
    }

    #[test]
    fn walk_stops_on_truncation() {
        let mut f = encode_to_vec(&Message::contact(1, 1)).unwrap_or_default();
        append_option(&mut f, OptionCode(5), b"xy").unwrap_or_default();
        f.truncate(f.len() - 1);
        assert_eq!(options(&f).count(), 0);
    }
}
