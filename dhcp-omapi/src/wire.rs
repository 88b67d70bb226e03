//! OMAPI wire codec: the 8-byte intro and the signed/unsigned message format.
//!
//! Layout (all big-endian), as dhcpd 4.4.3 and omshell put it on the wire:
//!
//! ```text
//! intro   = u32 version (100) | u32 header size (24)
//! message = u32 authid | u32 authlen | u32 op | u32 handle | u32 id | u32 rid
//!           [header size - 24 extra bytes, skipped]
//!           message values | 0x0000 | object values | 0x0000 | signature (authlen bytes)
//! value   = u16 name_len | name | u32 value_len | value     (name_len 0 ends a list)
//! ```

use std::net::Ipv4Addr;
use std::ops::Range;

/// The only protocol version dhcpd speaks.
pub const PROTOCOL_VERSION: u32 = 100;
/// The header size we announce and write.
pub const HEADER_SIZE: u32 = 24;
/// Length of the intro.
pub const INTRO_LEN: usize = 8;
/// Largest header size a peer may announce (extra bytes are skipped; this caps the skip).
pub const MAX_HEADER_SIZE: u32 = 1024;
/// Largest single value accepted.
pub const MAX_VALUE_LEN: usize = 64 * 1024;
/// Largest message accepted (header, both lists and signature).
pub const MAX_MESSAGE_LEN: usize = 256 * 1024;
/// Largest signature accepted (HMAC-SHA512 is 64 bytes).
pub const MAX_SIGNATURE_LEN: usize = 64;

/// Errors while decoding bytes from the wire. Any of them means the connection must be dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("unsupported OMAPI protocol version {0} (expected 100)")]
    BadVersion(u32),
    #[error("OMAPI header size {0} out of range (24..=1024)")]
    BadHeaderSize(u32),
    #[error("value of {0} bytes exceeds the limit")]
    ValueTooLong(usize),
    #[error("message exceeds {MAX_MESSAGE_LEN} bytes")]
    MessageTooLong,
    #[error("signature length {0} exceeds the limit")]
    SignatureTooLong(u32),
    #[error("value name is not UTF-8")]
    BadName,
}

/// Errors while encoding a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("empty value name (it would end the list)")]
    EmptyName,
    #[error("value name of {0} bytes does not fit in u16")]
    NameTooLong(usize),
    #[error("value of {0} bytes does not fit")]
    ValueTooLong(usize),
    #[error("signature of {0} bytes does not fit")]
    SignatureTooLong(usize),
}

/// The connection intro both sides send right after connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intro {
    pub version: u32,
    pub header_size: u32,
}

impl Intro {
    /// What dhcpd and omshell send: version 100, header size 24.
    pub const STANDARD: Intro = Intro { version: PROTOCOL_VERSION, header_size: HEADER_SIZE };

    /// Append the 8 intro bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.header_size.to_be_bytes());
    }

    /// Decode and validate an intro. `Ok(None)` means fewer than 8 bytes are available.
    pub fn decode(buf: &[u8]) -> Result<Option<Intro>, WireError> {
        let (Some(v), Some(h)) = (be32(buf, 0), be32(buf, 4)) else {
            return Ok(None);
        };
        if v != PROTOCOL_VERSION {
            return Err(WireError::BadVersion(v));
        }
        if !(HEADER_SIZE..=MAX_HEADER_SIZE).contains(&h) {
            return Err(WireError::BadHeaderSize(h));
        }
        Ok(Some(Intro { version: v, header_size: h }))
    }
}

/// OMAPI operation codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Open,
    Refresh,
    Update,
    Notify,
    Status,
    Delete,
    /// Any other code; kept so that decode/encode round-trips.
    Unknown(u32),
}

impl Op {
    pub fn from_u32(v: u32) -> Op {
        match v {
            1 => Op::Open,
            2 => Op::Refresh,
            3 => Op::Update,
            4 => Op::Notify,
            5 => Op::Status,
            6 => Op::Delete,
            other => Op::Unknown(other),
        }
    }

    pub fn to_u32(self) -> u32 {
        match self {
            Op::Open => 1,
            Op::Refresh => 2,
            Op::Update => 3,
            Op::Notify => 4,
            Op::Status => 5,
            Op::Delete => 6,
            Op::Unknown(v) => v,
        }
    }
}

/// One name/value pair as it travels: the value is untyped bytes, empty = null.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameValue {
    pub name: String,
    pub value: Vec<u8>,
}

impl NameValue {
    pub fn new(name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        NameValue { name: name.into(), value: value.into() }
    }
}

/// An ordered name/value list (message values or object values).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values(pub Vec<NameValue>);

impl Values {
    pub fn new() -> Self {
        Values(Vec::new())
    }

    /// Append a pair (builder style).
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.0.push(NameValue::new(name, value));
        self
    }

    pub fn push(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.0.push(NameValue::new(name, value));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &NameValue> {
        self.0.iter()
    }

    /// Raw bytes of the first value with this name (exact match).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.0.iter().find(|nv| nv.name == name).map(|nv| nv.value.as_slice())
    }

    /// A 4-byte big-endian int. `None` if absent or not 4 bytes long.
    pub fn get_u32(&self, name: &str) -> Option<u32> {
        self.get(name).and_then(|v| be32(v, 0).filter(|_| v.len() == 4))
    }

    /// An int that may be 1, 2 or 4 bytes wide (omshell sends 4; some fields are 1 byte).
    pub fn get_uint(&self, name: &str) -> Option<u32> {
        self.get(name).and_then(uint_of)
    }

    /// A UTF-8 string (no NUL handling; a trailing NUL is stripped if present).
    pub fn get_str(&self, name: &str) -> Option<&str> {
        let v = self.get(name)?;
        let v = v.strip_suffix(&[0]).unwrap_or(v);
        std::str::from_utf8(v).ok()
    }

    /// A 4-byte IPv4 address.
    pub fn get_ipv4(&self, name: &str) -> Option<Ipv4Addr> {
        let v = self.get(name)?;
        let a: [u8; 4] = v.try_into().ok()?;
        Some(Ipv4Addr::from(a))
    }
}

/// Interpret 1, 2 or 4 bytes as a big-endian unsigned int.
pub(crate) fn uint_of(v: &[u8]) -> Option<u32> {
    match v.len() {
        1 => v.first().map(|b| u32::from(*b)),
        2 => v.get(..2).map(|b| u32::from(u16::from_be_bytes([b[0], b[1]]))),
        4 => be32(v, 0),
        _ => None,
    }
}

impl FromIterator<NameValue> for Values {
    fn from_iter<T: IntoIterator<Item = NameValue>>(iter: T) -> Self {
        Values(iter.into_iter().collect())
    }
}

/// One OMAPI message. `authlen` on the wire is `signature.len()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    pub authid: u32,
    pub op: u32,
    pub handle: u32,
    pub id: u32,
    pub rid: u32,
    pub message: Values,
    pub object: Values,
    pub signature: Vec<u8>,
}

/// A decoded message plus where it lay in the input buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub message: Message,
    /// Bytes consumed from the start of the buffer.
    pub len: usize,
    /// The bytes covered by the signature: from the authlen field (offset 4) through the
    /// object-list terminator. Index into the same buffer passed to [`Message::decode`].
    pub signed: Range<usize>,
}

/// Internal parse outcome: need more bytes, or a hard error.
enum Short {
    More,
    Err(WireError),
}

impl From<WireError> for Short {
    fn from(e: WireError) -> Self {
        Short::Err(e)
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Short> {
        let end = self.pos.checked_add(n).ok_or(Short::Err(WireError::MessageTooLong))?;
        if end > MAX_MESSAGE_LEN {
            return Err(Short::Err(WireError::MessageTooLong));
        }
        let s = self.buf.get(self.pos..end).ok_or(Short::More)?;
        self.pos = end;
        Ok(s)
    }

    fn u16(&mut self) -> Result<u16, Short> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, Short> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn list(&mut self) -> Result<Values, Short> {
        let mut out = Vec::new();
        loop {
            let nlen = usize::from(self.u16()?);
            if nlen == 0 {
                return Ok(Values(out));
            }
            let name = self.take(nlen)?;
            let name = std::str::from_utf8(name).map_err(|_| WireError::BadName)?;
            let vlen = self.u32()?;
            let vlen = usize::try_from(vlen).unwrap_or(usize::MAX);
            if vlen > MAX_VALUE_LEN {
                return Err(Short::Err(WireError::ValueTooLong(vlen)));
            }
            let value = self.take(vlen)?;
            out.push(NameValue { name: name.to_owned(), value: value.to_vec() });
        }
    }
}

impl Message {
    pub fn op(&self) -> Op {
        Op::from_u32(self.op)
    }

    /// Decode one message from the start of `buf`, with the peer's announced header size.
    ///
    /// `Ok(None)`: the bytes so far are a valid prefix; feed more. `Err`: drop the connection.
    pub fn decode(buf: &[u8], header_size: u32) -> Result<Option<Decoded>, WireError> {
        if !(HEADER_SIZE..=MAX_HEADER_SIZE).contains(&header_size) {
            return Err(WireError::BadHeaderSize(header_size));
        }
        let mut r = Reader { buf, pos: 0 };
        match Self::parse(&mut r, header_size) {
            Ok((message, signed)) => Ok(Some(Decoded { message, len: r.pos, signed })),
            Err(Short::More) => Ok(None),
            Err(Short::Err(e)) => Err(e),
        }
    }

    fn parse(r: &mut Reader<'_>, header_size: u32) -> Result<(Message, Range<usize>), Short> {
        let authid = r.u32()?;
        let authlen = r.u32()?;
        if authlen as usize > MAX_SIGNATURE_LEN {
            return Err(Short::Err(WireError::SignatureTooLong(authlen)));
        }
        let op = r.u32()?;
        let handle = r.u32()?;
        let id = r.u32()?;
        let rid = r.u32()?;
        // header_size was range-checked by the caller.
        r.take((header_size - HEADER_SIZE) as usize)?;
        let message = r.list()?;
        let object = r.list()?;
        let signed = 4..r.pos;
        let signature = r.take(authlen as usize)?.to_vec();
        Ok((Message { authid, op, handle, id, rid, message, object, signature }, signed))
    }

    /// Append the whole message (header with `authlen = signature.len()`, lists, signature).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let sig_len = self.signature.len();
        if sig_len > MAX_SIGNATURE_LEN {
            return Err(EncodeError::SignatureTooLong(sig_len));
        }
        self.encode_body(sig_len as u32, out)?;
        out.extend_from_slice(&self.signature);
        Ok(())
    }

    /// Append everything except the signature, writing `authlen` as given.
    /// Returns the range (in `out`) that a signature covers.
    pub(crate) fn encode_body(&self, authlen: u32, out: &mut Vec<u8>) -> Result<Range<usize>, EncodeError> {
        let start = out.len();
        for v in [self.authid, authlen, self.op, self.handle, self.id, self.rid] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        let res = encode_list(&self.message, out).and_then(|()| encode_list(&self.object, out));
        if let Err(e) = res {
            out.truncate(start);
            return Err(e);
        }
        Ok(start + 4..out.len())
    }
}

fn encode_list(list: &Values, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    for nv in &list.0 {
        let n = nv.name.as_bytes();
        if n.is_empty() {
            return Err(EncodeError::EmptyName);
        }
        let nlen = u16::try_from(n.len()).map_err(|_| EncodeError::NameTooLong(n.len()))?;
        let vlen = u32::try_from(nv.value.len())
            .ok()
            .filter(|l| *l as usize <= MAX_VALUE_LEN)
            .ok_or(EncodeError::ValueTooLong(nv.value.len()))?;
        out.extend_from_slice(&nlen.to_be_bytes());
        out.extend_from_slice(n);
        out.extend_from_slice(&vlen.to_be_bytes());
        out.extend_from_slice(&nv.value);
    }
    out.extend_from_slice(&[0, 0]);
    Ok(())
}

pub(crate) fn be32(buf: &[u8], off: usize) -> Option<u32> {
    let b = buf.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}
