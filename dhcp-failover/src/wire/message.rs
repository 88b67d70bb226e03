//! The typed failover message, its decoder and its encoder.

use std::net::Ipv4Addr;

use super::codes::{BindingStatus, IpFlags, MessageType, OptionCode, RejectReason, ServerFlags};
use super::error::{DecodeError, EncodeError};
use super::header::{HEADER_LEN, Header, MAX_MESSAGE_LEN, read_u16, read_u32};
use super::option::{IgnoreReason, IgnoredOption, OptionKind, spec};
use crate::state::State;

/// The protocol version dhcpd sends (`DHCP_FAILOVER_VERSION`).
pub const PROTOCOL_VERSION: u8 = 1;

/// One failover message. Every option is an `Option` field; `None` = absent.
///
/// Byte-string options are kept as raw bytes so that anything received re-encodes
/// identically. Times are absolute Unix seconds.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Message {
    /// Message type (header byte 2).
    pub msg_type: MessageType,
    /// Sender's clock (header), Unix seconds.
    pub time: u32,
    /// Transaction id (header).
    pub xid: u32,
    /// 1 addresses-transferred (POOLRESP).
    pub addresses_transferred: Option<u32>,
    /// 2 assigned-IP-address.
    pub assigned_ip: Option<Ipv4Addr>,
    /// 3 binding-status.
    pub binding_status: Option<BindingStatus>,
    /// 4 client-identifier: the full DHCP option-61 payload, type byte included.
    pub client_id: Option<Vec<u8>>,
    /// 5 client-hardware-address: htype byte followed by the MAC (7 bytes for Ethernet).
    pub chaddr: Option<Vec<u8>>,
    /// 6 client-last-transaction-time.
    pub cltt: Option<u32>,
    /// 7 client-reply-options (dhcpd parses and ignores it).
    pub client_reply_options: Option<Vec<u8>>,
    /// 8 client-request-options (dhcpd parses and ignores it).
    pub client_request_options: Option<Vec<u8>>,
    /// 9 DDNS, raw: u16 flags then the DNS-encoded name. **Never send this to dhcpd**: its
    /// decoder declares DDNS fixed-size with element size 0 and drops the link on any DDNS.
    pub ddns: Option<Vec<u8>>,
    /// 10 delayed-service-parameter (allowed in no message by dhcpd; never decoded).
    pub delayed_service: Option<u8>,
    /// 11 hash-bucket-assignment. A dhcpd secondary requires exactly 32 bytes in CONNECT
    /// (else CONNECTACK reject 18); the codec itself accepts any length, as dhcpd's does.
    pub hba: Option<Vec<u8>>,
    /// 12 IP-flags (2 bytes).
    pub ip_flags: Option<IpFlags>,
    /// 13 lease-expiration-time (= lease `ends`, 0 for never-used leases).
    pub lease_expiration: Option<u32>,
    /// 14 max-unacked-bndupd. Must be sent in CONNECT and CONNECTACK.
    pub max_unacked: Option<u32>,
    /// 15 MCLT, seconds.
    pub mclt: Option<u32>,
    /// 16 message (text, no NUL).
    pub message: Option<Vec<u8>>,
    /// 17 message-digest (always last; dhcpd implements no digest).
    pub message_digest: Option<Vec<u8>>,
    /// 18 potential-expiration-time (= lease `tstp`).
    pub potential_expiration: Option<u32>,
    /// 19 receive-timer, seconds. Must be sent in CONNECT and CONNECTACK.
    pub receive_timer: Option<u32>,
    /// 20 protocol-version.
    pub protocol_version: Option<u8>,
    /// 21 reject-reason.
    pub reject_reason: Option<RejectReason>,
    /// 22 relationship-name (the `failover peer "name"`), no NUL.
    pub relationship_name: Option<Vec<u8>>,
    /// 23 server-flags.
    pub server_flags: Option<ServerFlags>,
    /// 24 server-state.
    pub server_state: Option<State>,
    /// 25 start-time-of-state (lease `starts` in BNDUPD, STOS in STATE).
    pub start_time_of_state: Option<u32>,
    /// 26 TLS-reply.
    pub tls_reply: Option<u8>,
    /// 27 TLS-request.
    pub tls_request: Option<u8>,
    /// 28 vendor-class-identifier (dhcpd: `isc-4.4.3-P1`).
    pub vendor_class: Option<Vec<u8>>,
    /// 29 vendor-specific-options: dhcpd keeps it in no message type; xdhcpd reads it in
    /// BNDUPD only ([`super::vendor::XdhcpdVendor`]).
    pub vendor_specific: Option<Vec<u8>>,
    /// Options the decoder skipped (unknown codes, or not allowed in this message type),
    /// for logging. Ignored by the encoder.
    pub ignored: Vec<IgnoredOption>,
}

/// The option codes of one message, in encoding order: at most the 29 codes, once each.
#[derive(Default)]
struct Codes {
    list: [u16; 29],
    len: usize,
}

impl Codes {
    fn push(&mut self, c: u16) {
        if let Some(slot) = self.list.get_mut(self.len) {
            *slot = c;
            self.len += 1;
        }
    }

    fn iter(&self) -> std::slice::Iter<'_, u16> {
        self.list.get(..self.len).unwrap_or(&[]).iter()
    }
}

/// A borrowed option value, used by the encoder.
enum Val<'a> {
    U8(u8),
    U16(u16),
    U32(u32),
    Bytes(&'a [u8]),
}

/// Option order dhcpd uses when it sends each message type (digest §1.5, §1.6); any other
/// option present follows in code order, and message-digest always goes last.
fn send_order(t: MessageType) -> &'static [u16] {
    match t {
        MessageType::POOLRESP => &[1],
        MessageType::BNDUPD => &[2, 3, 4, 5, 13, 18, 25, 6, 12],
        MessageType::BNDACK => &[2, 3, 4, 5, 13, 18, 25, 6, 12, 21, 16],
        MessageType::CONNECT => &[22, 14, 19, 28, 20, 27, 15, 11],
        MessageType::CONNECTACK => &[22, 14, 19, 28, 20, 26, 21, 16],
        MessageType::STATE => &[24, 23, 25],
        MessageType::DISCONNECT => &[21, 16],
        _ => &[],
    }
}

impl Message {
    /// An empty message of type `msg_type`.
    pub fn new(msg_type: MessageType, time: u32, xid: u32) -> Message {
        Message { msg_type, time, xid, ..Message::default() }
    }

    fn value(&self, code: u16) -> Option<Val<'_>> {
        fn b(v: &Option<Vec<u8>>) -> Option<Val<'_>> {
            v.as_deref().map(Val::Bytes)
        }
        match code {
            1 => self.addresses_transferred.map(Val::U32),
            2 => self.assigned_ip.map(|a| Val::U32(u32::from(a))),
            3 => self.binding_status.map(|v| Val::U8(v.0)),
            4 => b(&self.client_id),
            5 => b(&self.chaddr),
            6 => self.cltt.map(Val::U32),
            7 => b(&self.client_reply_options),
            8 => b(&self.client_request_options),
            9 => b(&self.ddns),
            10 => self.delayed_service.map(Val::U8),
            11 => b(&self.hba),
            12 => self.ip_flags.map(|v| Val::U16(v.0)),
            13 => self.lease_expiration.map(Val::U32),
            14 => self.max_unacked.map(Val::U32),
            15 => self.mclt.map(Val::U32),
            16 => b(&self.message),
            17 => b(&self.message_digest),
            18 => self.potential_expiration.map(Val::U32),
            19 => self.receive_timer.map(Val::U32),
            20 => self.protocol_version.map(Val::U8),
            21 => self.reject_reason.map(|v| Val::U8(v.0)),
            22 => b(&self.relationship_name),
            23 => self.server_flags.map(|v| Val::U8(v.0)),
            24 => self.server_state.map(|v| Val::U8(v.0)),
            25 => self.start_time_of_state.map(Val::U32),
            26 => self.tls_reply.map(Val::U8),
            27 => self.tls_request.map(Val::U8),
            28 => b(&self.vendor_class),
            29 => b(&self.vendor_specific),
            _ => None,
        }
    }

    /// Stores a validated option value. `data` has the length the kind requires.
    fn store(&mut self, code: u16, data: &[u8]) {
        let u8v = data.first().copied().unwrap_or(0);
        let u16v = read_u16(data);
        let u32v = read_u32(data);
        // Only byte-string options own a copy: a BNDUPD's seven fixed-size options allocated
        // one each before (100,000 per resync, for nothing).
        let bytes = || Some(data.to_vec());
        match code {
            1 => self.addresses_transferred = Some(u32v),
            2 => self.assigned_ip = Some(Ipv4Addr::from(u32v)),
            3 => self.binding_status = Some(BindingStatus(u8v)),
            4 => self.client_id = bytes(),
            5 => self.chaddr = bytes(),
            6 => self.cltt = Some(u32v),
            7 => self.client_reply_options = bytes(),
            8 => self.client_request_options = bytes(),
            9 => self.ddns = bytes(),
            10 => self.delayed_service = Some(u8v),
            11 => self.hba = bytes(),
            12 => self.ip_flags = Some(IpFlags(u16v)),
            13 => self.lease_expiration = Some(u32v),
            14 => self.max_unacked = Some(u32v),
            15 => self.mclt = Some(u32v),
            16 => self.message = bytes(),
            17 => self.message_digest = bytes(),
            18 => self.potential_expiration = Some(u32v),
            19 => self.receive_timer = Some(u32v),
            20 => self.protocol_version = Some(u8v),
            21 => self.reject_reason = Some(RejectReason(u8v)),
            22 => self.relationship_name = bytes(),
            23 => self.server_flags = Some(ServerFlags(u8v)),
            24 => self.server_state = Some(State(u8v)),
            25 => self.start_time_of_state = Some(u32v),
            26 => self.tls_reply = Some(u8v),
            27 => self.tls_request = Some(u8v),
            28 => self.vendor_class = bytes(),
            29 => self.vendor_specific = bytes(),
            _ => {}
        }
    }

    /// The option codes present, in the order the encoder writes them.
    pub fn option_codes(&self) -> Vec<OptionCode> {
        self.codes().iter().map(|&c| OptionCode(c)).collect()
    }

    /// [`option_codes`](Self::option_codes) without allocating: the encoder computes them
    /// once per message (it computed them twice, into two vectors, for every BNDUPD).
    fn codes(&self) -> Codes {
        let order = send_order(self.msg_type);
        let mut codes = Codes::default();
        for &c in order.iter().filter(|&&c| self.value(c).is_some()) {
            codes.push(c);
        }
        for c in (1..=29u16).filter(|c| *c != 17 && !order.contains(c) && self.value(*c).is_some()) {
            codes.push(c);
        }
        if self.message_digest.is_some() {
            codes.push(17);
        }
        codes
    }

    /// Encoded size in bytes (header included).
    pub fn encoded_len(&self) -> usize {
        self.len_with(&self.codes())
    }

    fn len_with(&self, codes: &Codes) -> usize {
        HEADER_LEN
            + codes
                .iter()
                .map(|&c| {
                    4 + match self.value(c) {
                        Some(Val::U8(_)) => 1,
                        Some(Val::U16(_)) => 2,
                        Some(Val::U32(_)) => 4,
                        Some(Val::Bytes(b)) => b.len(),
                        None => 0,
                    }
                })
                .sum::<usize>()
    }

    /// The chaddr split into (htype, MAC), if present and non-empty.
    pub fn chaddr_parts(&self) -> Option<(u8, &[u8])> {
        self.chaddr.as_deref().and_then(|c| c.split_first()).map(|(h, m)| (*h, m))
    }

    /// The HBA as a 32-byte array, if present with exactly 32 bytes.
    pub fn hba32(&self) -> Option<[u8; 32]> {
        self.hba.as_deref().and_then(|h| <[u8; 32]>::try_from(h).ok())
    }
}

/// Decodes the first message of `buf`.
///
/// Returns the message and the number of bytes it occupied (the caller drains that many from
/// its stream buffer). [`DecodeError::Incomplete`] means "read more and retry"; every other
/// error is a protocol error (dhcpd drops the link).
///
/// Rules (dhcpd `do_a_failover_option`): unknown option codes are skipped; message-digest must
/// end exactly at the end of the message; a repeated option is an error; a known option not
/// allowed in this message type is skipped (listed in `ignored`) *before* any length check;
/// fixed-size options must have their exact size.
pub fn decode(buf: &[u8]) -> Result<(Message, usize), DecodeError> {
    let hdr = Header::parse(buf)?;
    let length = usize::from(hdr.length);
    let body = buf.get(..length).unwrap_or(&[]);
    let mut msg = Message::new(hdr.msg_type, hdr.time, hdr.xid);
    let mut pos = usize::from(hdr.payoff);
    if !hdr.msg_type.is_known() && pos < length {
        return Err(DecodeError::UnknownTypeWithOptions(hdr.msg_type));
    }
    let mut present: u32 = 0;
    while pos < length {
        let Some(h) = body.get(pos..pos + 4) else {
            return Err(DecodeError::TruncatedOptionHeader { offset: pos });
        };
        let code = OptionCode(read_u16(h));
        let len = read_u16(h.get(2..).unwrap_or(&[]));
        let start = pos + 4;
        let end = start + usize::from(len);
        let Some(data) = body.get(start..end) else {
            return Err(DecodeError::OptionOverrun { code, len });
        };
        pos = end;
        let Some(sp) = spec(code) else {
            msg.ignored.push(IgnoredOption { code, len, reason: IgnoreReason::UnknownCode });
            continue;
        };
        if sp.kind == OptionKind::Digest {
            if end != length {
                return Err(DecodeError::DigestNotLast);
            }
            msg.store(code.0, data);
            continue;
        }
        let bit = 1u32 << code.0;
        if present & bit != 0 {
            return Err(DecodeError::DuplicateOption(code));
        }
        if !sp.allowed_in(hdr.msg_type) {
            msg.ignored.push(IgnoredOption { code, len, reason: IgnoreReason::NotAllowed });
            continue;
        }
        if let Some(expected) = sp.kind.fixed_len() {
            if data.len() != expected {
                return Err(DecodeError::BadOptionLength { code, len, expected });
            }
        } else if data.len() % sp.kind.element_size() != 0 {
            return Err(DecodeError::NotMultipleOfElement { code, len, element: sp.kind.element_size() });
        }
        present |= bit;
        msg.store(code.0, data);
    }
    Ok((msg, length))
}

/// Appends the encoded `msg` to `out` and returns the number of bytes written.
///
/// Payload offset is always 12. Options go in dhcpd's order for the message type. Options
/// dhcpd would not keep in this message type are refused, as are messages over 2048 bytes;
/// on error `out` is left unchanged. `msg.ignored` is not encoded.
pub fn encode(msg: &Message, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
    let codes = msg.codes();
    for &c in codes.iter() {
        let allowed = spec(OptionCode(c)).is_some_and(|s| s.allowed_in(msg.msg_type));
        if !allowed {
            return Err(EncodeError::OptionNotAllowed { option: OptionCode(c), msg_type: msg.msg_type });
        }
    }
    let total = msg.len_with(&codes);
    if total > MAX_MESSAGE_LEN {
        return Err(EncodeError::TooLong(total));
    }
    out.reserve(total);
    Header {
        length: u16::try_from(total).unwrap_or(u16::MAX),
        msg_type: msg.msg_type,
        payoff: HEADER_LEN as u8,
        time: msg.time,
        xid: msg.xid,
    }
    .write(out);
    for &c in codes.iter() {
        let Some(v) = msg.value(c) else { continue };
        out.extend_from_slice(&c.to_be_bytes());
        match v {
            Val::U8(x) => {
                out.extend_from_slice(&1u16.to_be_bytes());
                out.push(x);
            }
            Val::U16(x) => {
                out.extend_from_slice(&2u16.to_be_bytes());
                out.extend_from_slice(&x.to_be_bytes());
            }
            Val::U32(x) => {
                out.extend_from_slice(&4u16.to_be_bytes());
                out.extend_from_slice(&x.to_be_bytes());
            }
            Val::Bytes(b) => {
                // total <= 2048 so every value length fits in u16.
                out.extend_from_slice(&u16::try_from(b.len()).unwrap_or(0).to_be_bytes());
                out.extend_from_slice(b);
            }
        }
    }
    Ok(total)
}

/// Encodes `msg` into a new vector.
pub fn encode_to_vec(msg: &Message) -> Result<Vec<u8>, EncodeError> {
    let mut v = Vec::new();
    encode(msg, &mut v)?;
    Ok(v)
}

/// The parameters both CONNECT and CONNECTACK carry.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LinkParams {
    /// relationship-name: the `failover peer "name"` both sides configure.
    pub relationship_name: Vec<u8>,
    /// max-unacked-bndupd we accept from the partner.
    pub max_unacked: u32,
    /// receive-timer (our max-response-delay), seconds.
    pub receive_timer: u32,
    /// vendor-class-identifier.
    pub vendor_class: Vec<u8>,
}

/// The content of a BNDUPD, as dhcpd fills it (digest §1.5).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Binding {
    /// assigned-IP-address.
    pub ip: Ipv4Addr,
    /// binding-status (the lease's desired binding state).
    pub status: BindingStatus,
    /// client-identifier (raw option 61 payload), sent if `Some`.
    pub client_id: Option<Vec<u8>>,
    /// chaddr = htype + MAC, sent if `Some`.
    pub chaddr: Option<Vec<u8>>,
    /// lease-expiration-time (`ends`; 0 for never-used leases). Always sent.
    pub ends: u32,
    /// potential-expiration-time (`tstp`). Always sent.
    pub tstp: u32,
    /// start-time-of-state (`starts`). Always sent.
    pub starts: u32,
    /// client-last-transaction-time, sent only when nonzero.
    pub cltt: u32,
    /// IP-flags, sent only when nonzero.
    pub ip_flags: IpFlags,
    /// vendor-specific-options (29), raw, sent if `Some`: between xdhcpd partners the
    /// lease's DNS state ([`super::vendor::XdhcpdVendor`]); a dhcpd partner skips it and
    /// never sends one.
    pub vendor: Option<Vec<u8>>,
}

fn some_vec(b: &[u8]) -> Option<Vec<u8>> {
    Some(b.to_vec())
}

impl Message {
    /// CONNECT as a dhcpd primary sends it: relationship-name, max-unacked, receive-timer,
    /// vendor-class, protocol-version 1, TLS-request 0, MCLT, and the HBA if given.
    pub fn connect(time: u32, xid: u32, p: &LinkParams, mclt: u32, hba: Option<&[u8; 32]>) -> Message {
        Message {
            relationship_name: some_vec(&p.relationship_name),
            max_unacked: Some(p.max_unacked),
            receive_timer: Some(p.receive_timer),
            vendor_class: some_vec(&p.vendor_class),
            protocol_version: Some(PROTOCOL_VERSION),
            tls_request: Some(0),
            mclt: Some(mclt),
            hba: hba.map(|h| h.to_vec()),
            ..Message::new(MessageType::CONNECT, time, xid)
        }
    }

    /// CONNECTACK answering `connect`: echoes its xid, includes TLS-reply 0 only if the
    /// CONNECT carried TLS-request, and reject-reason + message when `reject` is given.
    pub fn connectack(time: u32, connect: &Message, p: &LinkParams, reject: Option<(RejectReason, &[u8])>) -> Message {
        Message {
            relationship_name: some_vec(&p.relationship_name),
            max_unacked: Some(p.max_unacked),
            receive_timer: Some(p.receive_timer),
            vendor_class: some_vec(&p.vendor_class),
            protocol_version: Some(PROTOCOL_VERSION),
            tls_reply: connect.tls_request.map(|_| 0),
            reject_reason: reject.map(|r| r.0),
            message: reject.map(|r| r.1.to_vec()),
            ..Message::new(MessageType::CONNECTACK, time, connect.xid)
        }
    }

    /// STATE: server-state, server-flags, start-time-of-state. In STARTUP dhcpd sends its
    /// saved state with [`ServerFlags::STARTUP`], never state 1.
    pub fn state(time: u32, xid: u32, state: State, flags: ServerFlags, stos: u32) -> Message {
        Message {
            server_state: Some(state),
            server_flags: Some(flags),
            start_time_of_state: Some(stos),
            ..Message::new(MessageType::STATE, time, xid)
        }
    }

    /// BNDUPD in dhcpd's layout (CLTT and IP-flags only when nonzero). dhcpd never uses xid 0
    /// for a BNDUPD.
    pub fn bndupd(time: u32, xid: u32, b: &Binding) -> Message {
        Message {
            assigned_ip: Some(b.ip),
            binding_status: Some(b.status),
            client_id: b.client_id.clone(),
            chaddr: b.chaddr.clone(),
            lease_expiration: Some(b.ends),
            potential_expiration: Some(b.tstp),
            start_time_of_state: Some(b.starts),
            cltt: (b.cltt != 0).then_some(b.cltt),
            ip_flags: (b.ip_flags.0 != 0).then_some(b.ip_flags),
            vendor_specific: b.vendor.clone(),
            ..Message::new(MessageType::BNDUPD, time, xid)
        }
    }

    /// BNDACK as dhcpd sends it: only assigned-IP (plus reject-reason and message on a NAK).
    /// `xid` must echo the BNDUPD's. Never put a client-identifier in a BNDACK (gotcha §8.6).
    pub fn bndack(time: u32, xid: u32, ip: Ipv4Addr, reject: Option<(RejectReason, &[u8])>) -> Message {
        Message {
            assigned_ip: Some(ip),
            reject_reason: reject.map(|r| r.0),
            message: reject.map(|r| r.1.to_vec()),
            ..Message::new(MessageType::BNDACK, time, xid)
        }
    }

    /// CONTACT (no options).
    pub fn contact(time: u32, xid: u32) -> Message {
        Message::new(MessageType::CONTACT, time, xid)
    }

    /// DISCONNECT with reject-reason and, if non-empty, a message.
    pub fn disconnect(time: u32, xid: u32, reason: RejectReason, message: &[u8]) -> Message {
        Message {
            reject_reason: Some(reason),
            message: (!message.is_empty()).then(|| message.to_vec()),
            ..Message::new(MessageType::DISCONNECT, time, xid)
        }
    }

    /// UPDREQ (type 9, no options).
    pub fn updreq(time: u32, xid: u32) -> Message {
        Message::new(MessageType::UPDREQ, time, xid)
    }

    /// UPDREQALL (type 7, no options).
    pub fn updreqall(time: u32, xid: u32) -> Message {
        Message::new(MessageType::UPDREQALL, time, xid)
    }

    /// UPDDONE (type 8, no options); `request_xid` is the UPDREQ/UPDREQALL's xid.
    pub fn upddone(time: u32, request_xid: u32) -> Message {
        Message::new(MessageType::UPDDONE, time, request_xid)
    }

    /// POOLREQ (no options).
    pub fn poolreq(time: u32, xid: u32) -> Message {
        Message::new(MessageType::POOLREQ, time, xid)
    }

    /// POOLRESP with addresses-transferred; `request_xid` is the POOLREQ's xid.
    pub fn poolresp(time: u32, request_xid: u32, transferred: u32) -> Message {
        Message { addresses_transferred: Some(transferred), ..Message::new(MessageType::POOLRESP, time, request_xid) }
    }
}
