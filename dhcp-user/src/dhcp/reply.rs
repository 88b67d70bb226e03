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
/// mask for a DISCOVER or REQUEST that did not ask for it. Only those are sent. Without a
/// request list (BOOTP, some embedded clients): subnet mask, routers, DNS servers, host
/// name, FQDN, then every other option in dhcpd's hash-table order. The relay agent information comes last.
/// Buckets of dhcpd's option hash table (OPTION_HASH_SIZE in dhcpd 4.4's headers): the order
/// of options no request list ranks.
const DHCPD_OPTION_HASH_SIZE: u8 = 17;

fn option_order(m: &Message, req: &Message) -> Vec<u8> {
    let mut order: Vec<u8> = vec![53, 54, 51, 58, 59, 56, 50, 92];
    let configured_prl = match m.opts().get(OptionCode::ParameterRequestList) {
        Some(DhcpOption::Unknown(u)) => Some(u.data().to_vec()),
        _ => None,
    };
    let client_prl = match req.opts().get(OptionCode::ParameterRequestList) {
        Some(DhcpOption::ParameterRequestList(list)) => Some(list.iter().map(|c| u8::from(*c)).collect::<Vec<u8>>()),
        _ => None,
    };
    match configured_prl.or(client_prl).filter(|p| !p.is_empty()) {
        Some(prl) => {
            if m.opts().get(OptionCode::SubnetSelection).is_some() {
                order.push(118);
            }
            order.extend(prl.into_iter().filter(|c| *c != 82));
            if req.opts().get(OptionCode::ClientFQDN).is_some() {
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
            // Then dhcpd walks its option hash table: buckets by code modulo 17, each bucket
            // newest insertion first. Insertion follows the scopes from global inward, and
            // the codes that share a bucket in practice (15/66, 16/67, 1/18) have the more
            // specific option higher: higher code first within a bucket matches that.
            let mut rest: Vec<u8> =
                m.opts().iter().map(|(c, _)| u8::from(*c)).filter(|c| *c != 82 && *c != 55).collect();
            rest.sort_by_key(|c| (c % DHCPD_OPTION_HASH_SIZE, std::cmp::Reverse(*c)));
            order.extend(rest);
        }
    }
    order.push(82);
    let mut seen = [false; 256];
    order.retain(|c| !std::mem::replace(&mut seen[usize::from(*c)], true));
    order
}

/// Serialize, options in dhcpd's order ([`option_order`]). Errors cannot come from our own
/// messages in practice; they are reported.
pub fn encode(m: &Message, req: &Message) -> Result<Vec<u8>, dhcproto::error::EncodeError> {
    let mut header = m.clone();
    header.opts_mut().clear();
    let mut buf = Vec::with_capacity(576);
    // With no options, dhcproto writes the fixed fields and the magic cookie only.
    header.encode(&mut Encoder::new(&mut buf))?;
    // An Encoder writes from the start of its buffer: the options get their own.
    let mut options = Vec::with_capacity(312);
    let mut e = Encoder::new(&mut options);
    for code in option_order(m, req) {
        if let Some(opt) = m.opts().get(OptionCode::from(code)) {
            opt.encode(&mut e)?;
        }
    }
    DhcpOption::End.encode(&mut e)?;
    buf.extend_from_slice(&options);
    // Pad to the BOOTP minimum of 300 bytes: some old clients and relays insist.
    if buf.len() < 300 {
        buf.resize(300, 0);
    }
    Ok(buf)
}
