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

/// Start a reply: BOOTREPLY with the request's xid, flags, giaddr, chaddr, and the relay agent
/// information option echoed (RFC 3046 §2.2).
pub fn base_reply(req: &Message, msg_type: Option<MessageType>) -> Message {
    let mut m = Message::default();
    m.set_opcode(v4::Opcode::BootReply)
        .set_htype(req.htype())
        .set_xid(req.xid())
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

/// Add the scope's options: those the client asked for (parameter request list) plus the
/// subnet mask and router always, or all configured options when there is no request list.
pub fn add_options(m: &mut Message, req: &Message, params: &Params) {
    let prl: Option<Vec<u8>> = match req.opts().get(OptionCode::ParameterRequestList) {
        Some(DhcpOption::ParameterRequestList(list)) => Some(list.iter().map(|c| u8::from(*c)).collect()),
        _ => None,
    };
    for (code, data) in &params.options {
        let wanted = match &prl {
            None => true,
            Some(list) => list.contains(code) || *code == 1 || *code == 3,
        };
        // Codes the engine sets itself are never taken from configuration.
        let reserved = matches!(*code, 50..=59 | 61 | 82);
        if wanted && !reserved {
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

/// Lease time, renewal (T1 = 1/2) and rebinding (T2 = 7/8) options.
pub fn add_lease_times(m: &mut Message, lease_secs: u32) {
    m.opts_mut().insert(DhcpOption::AddressLeaseTime(lease_secs));
    if lease_secs != u32::MAX {
        m.opts_mut().insert(DhcpOption::Renewal(lease_secs / 2));
        m.opts_mut().insert(DhcpOption::Rebinding((lease_secs as u64 * 7 / 8) as u32));
    }
}

/// Serialize. Errors cannot come from our own messages in practice; they are reported.
pub fn encode(m: &Message) -> Result<Vec<u8>, dhcproto::error::EncodeError> {
    let mut buf = Vec::with_capacity(576);
    m.encode(&mut Encoder::new(&mut buf))?;
    // Pad to the BOOTP minimum of 300 bytes: some old clients and relays insist.
    if buf.len() < 300 {
        buf.resize(300, 0);
    }
    Ok(buf)
}
