//! Building replies (dhcproto) and choosing where they go (RFC 2131 §4.1).

use super::config::Params;
use dhcproto::v4::{self, DhcpOption, Message, MessageType, OptionCode, UnknownOption};
use dhcproto::{Encodable, Encoder};
use std::net::Ipv4Addr;

/// Where a reply is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    /// To the relay agent, `giaddr:67`.
    Relay(Ipv4Addr),
    /// `255.255.255.255:68` on the receiving interface.
    Broadcast,
    /// `ip:68`, a client that has its address configured (ciaddr).
    Unicast(Ipv4Addr),
    /// `ip:68` to a client that has no address yet: deliver to its hardware address.
    UnicastHw { ip: Ipv4Addr, chaddr: [u8; 6] },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub bytes: Vec<u8>,
    pub dest: Destination,
    pub msg_type: MessageType,
}

/// RFC 2131 §4.1 destination rules for a reply to `req`.
pub fn destination(req: &Message, reply_type: MessageType, yiaddr: Ipv4Addr) -> Destination {
    let giaddr = req.giaddr();
    if !giaddr.is_unspecified() {
        return Destination::Relay(giaddr);
    }
    if reply_type == MessageType::Nak {
        return Destination::Broadcast;
    }
    let ciaddr = req.ciaddr();
    if !ciaddr.is_unspecified() {
        return Destination::Unicast(ciaddr);
    }
    if req.flags().broadcast() || yiaddr.is_unspecified() {
        return Destination::Broadcast;
    }
    match <[u8; 6]>::try_from(req.chaddr().get(..6).unwrap_or(&[])) {
        Ok(chaddr) if req.htype() == v4::HType::Eth => Destination::UnicastHw { ip: yiaddr, chaddr },
        _ => Destination::Broadcast,
    }
}

/// Start a reply: BOOTREPLY with the request's xid, flags, hops, giaddr, chaddr, and the relay
/// agent information option echoed (RFC 3046 §2.2). Hops is echoed because dhcpd echoes it (the
/// compat harness compares every field).
pub fn base_reply(req: &Message, msg_type: Option<MessageType>) -> Message {
    let mut m = Message::default();
    m.set_opcode(v4::Opcode::BootReply)
        .set_htype(req.htype())
        .set_xid(req.xid())
        .set_hops(req.hops())
        .set_flags(req.flags())
        .set_giaddr(req.giaddr())
        .set_chaddr(req.chaddr());
    m.opts_mut().clear();
    if let Some(t) = msg_type {
        m.opts_mut().insert(DhcpOption::MessageType(t));
    }
    if let Some(o82) = req.opts().get(OptionCode::RelayAgentInformation) {
        m.opts_mut().insert(o82.clone());
    }
    m
}

/// Add the scope's options: every configured one, except those the engine sets itself.
/// Which of them the client gets, and in what order, is [`encode`]'s decision (dhcpd's
/// priority list).
pub fn add_options(m: &mut Message, params: &Params) {
    for (code, data) in &params.options {
        // Codes the engine sets itself are never taken from configuration; a configured
        // parameter request list (55) and renewal/rebinding times (58, 59) are read where
        // they act ([`encode`], [`add_lease_times`]).
        let reserved = matches!(*code, 50..=54 | 56..=59 | 61 | 82);
        if !reserved {
            m.opts_mut().insert(DhcpOption::Unknown(UnknownOption::new(OptionCode::from(*code), data.clone())));
        }
    }
    // `option fqdn.*` in the configuration: option 81 made of them (dhcpd's fqdn space
    // is in every reply's options; `encode` sends it only where dhcpd would).
    let fqdn: Vec<(u32, Vec<u8>)> =
        params.space_options.iter().filter(|o| o.space == "fqdn").map(|o| (o.code, o.data.clone())).collect();
    if let Some(v) = crate::ddns::plan::encapsulate_fqdn(&fqdn) {
        m.opts_mut().insert(DhcpOption::Unknown(UnknownOption::new(OptionCode::ClientFQDN, v)));
    }
    if let Some(ns) = params.next_server {
        m.set_siaddr(ns);
    }
    if let Some(f) = &params.filename {
        m.set_fname_str(f);
    }
    if let Some(s) = &params.server_name {
        m.set_sname_str(s);
    }
}

/// The lease time (51), and the renewal (58) and rebinding (59) times only where the
/// configuration sets them, as dhcpd does (clients then take 1/2 and 7/8 of the lease,
/// RFC 2131 §4.4.5). Like dhcpd, a configured time that is not below the lease time
/// (for 58: below the rebinding time kept) is left out.
pub fn add_lease_times(m: &mut Message, lease_secs: u32, params: &Params) {
    m.opts_mut().insert(DhcpOption::AddressLeaseTime(lease_secs));
    let configured = |code: u8| params.option(code).and_then(|d| <[u8; 4]>::try_from(d).ok()).map(u32::from_be_bytes);
    let mut limit = lease_secs;
    if let Some(t2) = configured(59).filter(|t| *t < limit) {
        m.opts_mut().insert(DhcpOption::Rebinding(t2));
        limit = t2;
    }
    if let Some(t1) = configured(58).filter(|t| *t < limit) {
        m.opts_mut().insert(DhcpOption::Renewal(t1));
    }
}

/// The options of a reply to `req`, in the order dhcpd 4.4 sends them (common/options.c,
/// cons_options): message type, server identifier, lease, renewal and rebinding times,
/// message, requested address, then the parameter request list in the client's order (a
/// configured `option dhcp-parameter-request-list` replaces the client's), then the subnet
/// mask for a DISCOVER or REQUEST that did not ask for it (the mask then trades places with
/// the routers if they came first, as dhcpd does). Only those are sent. Without a
/// request list (BOOTP, some embedded clients): subnet mask, routers, DNS servers, host
/// name, FQDN, then every other option in dhcpd's hash-table order. The relay agent
/// information comes last.
fn option_order(m: &Values<'_>, req: &Message, client_fqdn: bool) -> Vec<u8> {
    let mut order: Vec<u8> = Vec::with_capacity(32);
    order.extend_from_slice(&[53, 54, 51, 58, 59, 56, 50, 92]);
    // A configured list is only ever an unknown option here (`add_options` inserts it so).
    let configured_prl = m.get(55).map(<[u8]>::to_vec);
    let client_prl = match req.opts().get(OptionCode::ParameterRequestList) {
        Some(DhcpOption::ParameterRequestList(list)) => Some(list.iter().map(|c| u8::from(*c)).collect::<Vec<u8>>()),
        _ => None,
    };
    match configured_prl.or(client_prl).filter(|p| !p.is_empty()) {
        Some(prl) => {
            if m.has(118) {
                order.push(118);
            }
            order.extend(prl.into_iter().filter(|c| *c != 82));
            // dhcpd lists 81 last when the client sent one (only then: `option fqdn.*`
            // in the configuration gives every reply one, sent to those clients alone).
            if client_fqdn {
                order.push(81);
            }
            let kind = match req.opts().get(OptionCode::MessageType) {
                Some(DhcpOption::MessageType(t)) => Some(*t),
                _ => None,
            };
            if matches!(kind, Some(MessageType::Discover | MessageType::Request)) {
                order.push(1);
            }
        }
        None => {
            order.extend([1, 3, 6, 12, 81]);
            // Then dhcpd walks its option hash table (`option_hash_bucket`), each bucket
            // newest insertion first. Insertion follows the scopes from global inward; the
            // scopes are merged by now, so within a bucket the higher code goes first, which
            // for the codes that share one in practice (15/66, 16/67) is the more specific
            // option, set later.
            let mut rest: Vec<u8> = m.codes().filter(|c| *c != 82 && *c != 55).collect();
            rest.sort_by_key(|c| (dhcp_config::model::option_hash_bucket(u32::from(*c)), std::cmp::Reverse(*c)));
            order.extend(rest);
            // dhcpd always ends this list with the vendor options (only where absent does
            // this change anything: which entry is last, see [`pack`]).
            order.push(43);
        }
    }
    order.push(82);
    let mut seen = [false; 256];
    order.retain(|c| !std::mem::replace(&mut seen[usize::from(*c)], true));
    // RFC 2132 §3.3: the subnet mask goes before the routers. dhcpd enforces it by swapping
    // the two places when the list has the routers first (so `3, 6, 1` sends `1, 6, 3`).
    if let (Some(r), Some(m)) = (order.iter().position(|c| *c == 3), order.iter().position(|c| *c == 1))
        && r < m
    {
        order.swap(r, m);
    }
    order
}

/// How a reply's options are packed (dhcpd's cons_options arguments).
#[derive(Clone, Copy, Debug)]
pub struct Packing {
    /// Length of the request as received: a BOOTP client's vendor area is as long as the
    /// one it sent (at least 64 bytes).
    pub request_len: usize,
    /// A BOOTP reply (no DHCP message type in the request).
    pub bootp: bool,
    /// Options may spill into the `file` and `sname` fields when those are empty (option
    /// 52): dhcpd's OFFER, ACK and dynamic BOOTP replies; not NAK, INFORM or the BOOTP reply
    /// to a host with a fixed address.
    pub overload: bool,
    /// The request carried a client FQDN option (81), read from its bytes (dhcproto does
    /// not decode every form a client sends, a name in text for one).
    pub client_fqdn: bool,
}

/// dhcpd's packet sizes (includes/dhcp.h): the fixed BOOTP part, the IP and UDP headers,
/// the option space of a 576-byte and of a 1500-byte packet, the `file` and `sname` fields.
const FIXED_NON_UDP: usize = 236;
const FIXED_LEN: usize = FIXED_NON_UDP + 28;
const MIN_OPTION_LEN: usize = 576 - FIXED_LEN;
const MAX_OPTION_LEN: usize = 1500 - FIXED_LEN;
const FILE_LEN: usize = 128;
const SNAME_LEN: usize = 64;
/// Where `sname` and `file` sit in the fixed part.
const SNAME_AT: usize = 44;
const FILE_AT: usize = 108;

/// The reply's options as they would be sent (several instances of one code, RFC 3396,
/// joined), each computed once per reply, indexed by code: the packing below looks codes
/// up many times (every code of the order list), and dhcproto's map lookup and per-option
/// encoding were most of a reply's cost. An unknown option (every configured one) is its
/// data, borrowed; a typed one is encoded by dhcproto, as the client would read it.
struct Values<'m> {
    /// Position in `list` plus one, by code (0: absent).
    at: [u8; 256],
    list: Vec<(u8, std::borrow::Cow<'m, [u8]>)>,
}

impl<'m> Values<'m> {
    fn of(opts: &'m v4::DhcpOptions) -> Values<'m> {
        let mut v = Values { at: [0; 256], list: Vec::with_capacity(16) };
        for (code, opt) in opts.iter() {
            let code = u8::from(*code);
            // The typed options every reply carries are written here as dhcproto writes
            // them (`typed_value` stays the reference for the rest).
            let be = |n: u32| std::borrow::Cow::Owned(n.to_be_bytes().to_vec());
            let value = match opt {
                DhcpOption::Unknown(u) => std::borrow::Cow::Borrowed(u.data()),
                DhcpOption::MessageType(t) => std::borrow::Cow::Owned(vec![u8::from(*t)]),
                DhcpOption::ServerIdentifier(a) | DhcpOption::SubnetMask(a) => be(u32::from(*a)),
                DhcpOption::AddressLeaseTime(n) | DhcpOption::Renewal(n) | DhcpOption::Rebinding(n) => be(*n),
                typed => match typed_value(typed, code) {
                    Some(value) => std::borrow::Cow::Owned(value),
                    None => continue,
                },
            };
            v.list.push((code, value));
            // At most 256 codes, so the position fits (a full list would make it 0: absent).
            v.at[usize::from(code)] = u8::try_from(v.list.len()).unwrap_or(0);
        }
        v
    }

    fn get(&self, code: u8) -> Option<&[u8]> {
        let i = usize::from(self.at[usize::from(code)]).checked_sub(1)?;
        self.list.get(i).map(|(_, v)| v.as_ref())
    }

    fn has(&self, code: u8) -> bool {
        self.at[usize::from(code)] != 0
    }

    fn codes(&self) -> impl Iterator<Item = u8> + '_ {
        self.list.iter().map(|(c, _)| *c)
    }
}

/// A typed option's value: dhcproto's encoding, the data of its instances of `code` joined.
fn typed_value(opt: &DhcpOption, code: u8) -> Option<Vec<u8>> {
    let mut tlv = Vec::new();
    opt.encode(&mut Encoder::new(&mut tlv)).ok()?;
    let mut value = Vec::new();
    let mut i = 0;
    while let (Some(&c), Some(&len)) = (tlv.get(i), tlv.get(i + 1)) {
        let data = tlv.get(i + 2..i + 2 + usize::from(len))?;
        if c == code {
            value.extend_from_slice(data);
        }
        i += 2 + usize::from(len);
    }
    Some(value)
}

/// The options area, packed as dhcpd's cons_options and store_options pack it: the main
/// area is the client's maximum message size (option 57), else 312 bytes (a 576-byte
/// packet), or for BOOTP the size of the client's own vendor area (at least 64 bytes);
/// an option that does not fit goes to the `file` field, then to `sname` when those are
/// free and overloading is allowed, longer values are split across areas, and option 52
/// says which fields hold options. The relay agent information is kept room for and goes
/// last. Returns the options (cookie first) and the `file`/`sname` contents if used.
fn pack(
    m: &Message,
    values: &Values<'_>,
    req: &Message,
    packing: Packing,
) -> (Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>) {
    let mms = match req.opts().get(OptionCode::MaxMessageSize) {
        Some(DhcpOption::MaxMessageSize(n)) => usize::from(*n),
        _ => 0,
    };
    let mut mb_size = if mms != 0 {
        if mms < 576 {
            MIN_OPTION_LEN
        } else if mms > 1500 {
            MAX_OPTION_LEN
        } else {
            mms - FIXED_LEN
        }
    } else if packing.bootp {
        if packing.request_len >= 64 + FIXED_NON_UDP { packing.request_len - FIXED_NON_UDP } else { 64 }
    } else {
        MIN_OPTION_LEN
    };
    let agent = values.get(82).filter(|v| !v.is_empty() && v.len() <= 255);
    let agent_size = agent.as_ref().map_or(0, |a| 2 + a.len());
    mb_size = (mb_size + agent_size).min(MAX_OPTION_LEN);
    let mut mb_max = if mb_size > agent_size { mb_size - agent_size } else { mb_size };
    let empty = |f: Option<&[u8]>| f.is_none_or(|f| f.iter().all(|b| *b == 0));
    let (file_free, sname_free) = (packing.overload && empty(m.fname()), packing.overload && empty(m.sname()));
    let of1 = mb_max;
    if file_free {
        mb_max += FILE_LEN;
    }
    let of2 = mb_max;
    if sname_free {
        mb_max += SNAME_LEN;
    }
    // store_options, with its indices relative to the end of the cookie.
    let buflen = mb_max.saturating_sub(4);
    let first = if file_free { of1 - 4 } else { 0 };
    let second = if sname_free { of2 - 4 } else { 0 };
    let (mut bufend, mut sbufend) = (buflen, buflen);
    if first != 0 {
        bufend = first;
        if second != 0 {
            sbufend = second;
        }
    } else if second != 0 {
        bufend = second;
    }
    let mut list = option_order(values, req, packing.client_fqdn);
    list.retain(|c| *c != 82);
    let mut buf = vec![0u8; buflen];
    let (mut bufix, mut six, mut tix) = (0usize, 0usize, 0usize);
    for (i, &code) in list.iter().enumerate() {
        let Some(od) = values.get(code).filter(|v| !v.is_empty()) else { continue };
        let mut length = od.len();
        let mut splitup = length > 255;
        let (optstart, soptstart, toptstart) = (bufix, six, tix);
        let mut ix = 0;
        let last = i + 1 == list.len();
        while length > 0 {
            #[derive(Clone, Copy)]
            enum Area {
                Main,
                File,
                Sname,
            }
            let mut incr = length;
            let area = if !splitup
                && ((six == 0 && tix == 0 && last && bufix + 2 + length < bufend) || bufix + 5 + length < bufend)
            {
                Area::Main
            } else if !splitup && first != 0 && first + six + 3 + length < sbufend {
                Area::File
            } else if !splitup && second != 0 && second + tix + 3 + length < buflen {
                Area::Sname
            } else {
                splitup = true;
                if bufix + 6 < bufend {
                    incr = bufend - bufix - 5;
                    Area::Main
                } else if first != 0 && first + six + 4 < sbufend {
                    incr = sbufend - (first + six) - 3;
                    Area::File
                } else if second != 0 && second + tix + 4 < buflen {
                    incr = buflen - (second + tix) - 3;
                    Area::Sname
                } else {
                    // No room anywhere: the option is left out, as dhcpd leaves it.
                    (bufix, six, tix) = (optstart, soptstart, toptstart);
                    break;
                }
            };
            let incr = incr.min(length).min(255);
            let at = match area {
                Area::Main => bufix,
                Area::File => first + six,
                Area::Sname => second + tix,
            };
            let Some(slot) = buf.get_mut(at..at + 2 + incr) else { break };
            slot[0] = code;
            slot[1] = incr as u8;
            slot[2..].copy_from_slice(od.get(ix..ix + incr).unwrap_or_default());
            length -= incr;
            ix += incr;
            match area {
                Area::Main => bufix += 2 + incr,
                Area::File => six += 2 + incr,
                Area::Sname => tix += 2 + incr,
            }
        }
    }
    let mut overload = 0u8;
    let mut file = None;
    let mut sname = None;
    // The spill areas end with END and PAD (zero) up to their size.
    let mut close = |from: usize, used: usize, end: usize, len: usize| -> Option<Vec<u8>> {
        if let Some(e) = buf.get_mut(from + used) {
            *e = 255;
        }
        if let Some(rest) = buf.get_mut(from + used + 1..end) {
            rest.fill(0);
        }
        buf.get(from..from + len).map(<[u8]>::to_vec)
    };
    if first != 0 && six > 0 {
        overload |= 1;
        file = close(first, six, sbufend, FILE_LEN);
    }
    if second != 0 && tix > 0 {
        overload |= 2;
        sname = close(second, tix, buflen, SNAME_LEN);
    }
    let mut out = Vec::with_capacity(mb_size);
    out.extend_from_slice(&[99, 130, 83, 99]);
    out.extend_from_slice(buf.get(..bufix).unwrap_or_default());
    if overload != 0 {
        out.extend_from_slice(&[52, 1, overload]);
    }
    if let Some(a) = agent {
        if mb_size >= out.len() + agent_size {
            out.push(82);
            out.push(a.len() as u8);
            out.extend_from_slice(a);
        } else {
            tracing::warn!("the relay agent information does not fit in the reply: left out");
        }
    }
    if out.len() < mb_size {
        out.push(255);
    }
    (out, file, sname)
}

/// Serialize, options in dhcpd's order ([`option_order`]) and packed as dhcpd packs them
/// ([`pack`]). Errors cannot come from our own messages in practice; they are reported.
/// Takes the message: its options are moved out while dhcproto writes the fixed fields
/// (a copy of the whole message per reply was a measurable part of its cost).
pub fn encode(mut m: Message, req: &Message, packing: Packing) -> Result<Vec<u8>, dhcproto::error::EncodeError> {
    let opts = std::mem::take(m.opts_mut());
    let mut buf = Vec::with_capacity(576);
    // With no options, dhcproto writes the fixed fields and the magic cookie only.
    m.encode(&mut Encoder::new(&mut buf))?;
    buf.truncate(FIXED_NON_UDP);
    let values = Values::of(&opts);
    let (options, file, sname) = pack(&m, &values, req, packing);
    for (field, at) in [(file, FILE_AT), (sname, SNAME_AT)] {
        if let (Some(f), Some(slot)) = (field.as_ref(), buf.get_mut(at..at + field.as_ref().map_or(0, Vec::len))) {
            slot.copy_from_slice(f);
        }
    }
    buf.extend_from_slice(&options);
    // Pad to the BOOTP minimum of 300 bytes (dhcpd's BOOTP_MIN_LEN): some old clients and
    // relays insist.
    if buf.len() < 300 {
        buf.resize(300, 0);
    }
    Ok(buf)
}
