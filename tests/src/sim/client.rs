//! Simulated DHCP clients (RFC 2131 §4.4): DISCOVER/OFFER/REQUEST/ACK, renewing (unicast),
//! rebinding (broadcast), INIT-REBOOT, release, retransmission with growing `secs`.

use super::rng::Rng;
use dhcproto::v4::{DhcpOption, Flags, HType, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};
use std::net::Ipv4Addr;

/// Where a client's datagram goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum To {
    /// Broadcast: both servers.
    Broadcast,
    /// Unicast to a server address.
    Server(Ipv4Addr),
}

/// An address the client holds (it was ACKed and the client uses it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    pub ip: Ipv4Addr,
    /// The server that ACKed it last (server identifier).
    pub server: Ipv4Addr,
    /// Sim ms: the client stops using the address then (request sent + lease time).
    pub until: u64,
    pub t1: u64,
    pub t2: u64,
    /// Lease time of the last ACK, seconds.
    pub secs: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Idle,
    Selecting,
    Requesting { ip: Ipv4Addr, sid: Ipv4Addr },
    Bound,
    Renewing,
    Rebinding,
    Rebooting { ip: Ipv4Addr },
}

/// What a client did in one call.
#[derive(Debug, Default)]
pub struct Out {
    pub sends: Vec<(To, Vec<u8>, MessageType)>,
    /// Next wake-up (sim ms), replacing any earlier one.
    pub wake: Option<u64>,
    /// An ACK was accepted: (ip, lease secs).
    pub acked: Option<(Ipv4Addr, u32)>,
    /// The held address was given up, and why.
    pub lost: Option<(Ipv4Addr, &'static str)>,
}

pub struct Client {
    pub idx: usize,
    pub mac: [u8; 6],
    pub client_id: Option<Vec<u8>>,
    pub phase: Phase,
    pub xid: u32,
    /// Start of the current exchange (for `secs`).
    pub start: u64,
    /// First transmission of the current REQUEST (the lease counts from there).
    pub first_sent: u64,
    pub tries: u32,
    pub held: Option<Held>,
    /// Wake-up token: a wake event with another token is stale.
    pub wake_token: u64,
    /// No more traffic (the quiesce phase).
    pub stopped: bool,
    p_release: f64,
    p_reboot: f64,
}

const SECOND: u64 = 1000;

impl Client {
    pub fn new(idx: usize, rng: &mut Rng, p_release: f64, p_reboot: f64) -> Client {
        let n = idx as u16;
        let mac = [0x52, 0x54, 0x00, rng.range(0, 255) as u8, (n >> 8) as u8, n as u8];
        let client_id = rng.chance(0.3).then(|| {
            let mut v = vec![1u8];
            v.extend_from_slice(&mac);
            v.push(0x99);
            v
        });
        Client {
            idx,
            mac,
            client_id,
            phase: Phase::Idle,
            xid: 0,
            start: 0,
            first_sent: 0,
            tries: 0,
            held: None,
            wake_token: 0,
            stopped: false,
            p_release,
            p_reboot,
        }
    }

    /// The key the servers know this client by.
    pub fn key(&self) -> dhcp_user::lease::ClientKey {
        match &self.client_id {
            Some(id) => dhcp_user::lease::ClientKey::from_client_id(id),
            None => dhcp_user::lease::ClientKey::from_hw(1, &self.mac),
        }
    }

    fn new_xid(&mut self, rng: &mut Rng, now: u64) {
        self.xid = rng.next_u64() as u32;
        self.start = now;
        self.first_sent = now;
        self.tries = 0;
    }

    fn msg(&self, now: u64, t: MessageType) -> Message {
        let mut m = Message::default();
        let secs = ((now.saturating_sub(self.start)) / SECOND).min(u64::from(u16::MAX)) as u16;
        m.set_opcode(Opcode::BootRequest)
            .set_htype(HType::Eth)
            .set_chaddr(&self.mac)
            .set_xid(self.xid)
            .set_secs(secs)
            .set_flags(Flags::default());
        m.opts_mut().clear();
        m.opts_mut().insert(DhcpOption::MessageType(t));
        if let Some(id) = &self.client_id {
            m.opts_mut().insert(DhcpOption::ClientIdentifier(id.clone()));
        }
        m
    }

    fn encode(m: &Message) -> Vec<u8> {
        let mut b = Vec::new();
        // Encoding a message we built ourselves cannot fail; an empty datagram would be
        // dropped as malformed, which the invariants would not mind.
        let _ = m.encode(&mut Encoder::new(&mut b));
        b
    }

    fn send(&self, out: &mut Out, to: To, m: &Message, t: MessageType) {
        out.sends.push((to, Self::encode(m), t));
    }

    fn discover(&mut self, rng: &mut Rng, now: u64, out: &mut Out) {
        self.new_xid(rng, now);
        self.phase = Phase::Selecting;
        self.send_discover(now, out);
        out.wake = Some(now + 2 * SECOND + rng.range(0, 500));
    }

    fn send_discover(&mut self, now: u64, out: &mut Out) {
        self.tries += 1;
        let m = self.msg(now, MessageType::Discover);
        self.send(out, To::Broadcast, &m, MessageType::Discover);
    }

    fn backoff(&self, rng: &mut Rng, now: u64) -> u64 {
        let base = (2u64 << self.tries.min(3)) * SECOND / 2;
        now + base + rng.range(0, 700)
    }

    fn send_request(&mut self, now: u64, out: &mut Out) {
        self.tries += 1;
        let mut m = self.msg(now, MessageType::Request);
        let to = match self.phase {
            Phase::Requesting { ip, sid } => {
                m.opts_mut().insert(DhcpOption::ServerIdentifier(sid));
                m.opts_mut().insert(DhcpOption::RequestedIpAddress(ip));
                To::Broadcast
            }
            Phase::Rebooting { ip } => {
                m.opts_mut().insert(DhcpOption::RequestedIpAddress(ip));
                To::Broadcast
            }
            Phase::Renewing => {
                let Some(h) = &self.held else { return };
                m.set_ciaddr(h.ip);
                To::Server(h.server)
            }
            Phase::Rebinding => {
                let Some(h) = &self.held else { return };
                m.set_ciaddr(h.ip);
                To::Broadcast
            }
            _ => return,
        };
        self.send(out, to, &m, MessageType::Request);
    }

    fn drop_lease(&mut self, out: &mut Out, why: &'static str) {
        if let Some(h) = self.held.take() {
            out.lost = Some((h.ip, why));
        }
    }

    /// A timer fired.
    pub fn wake(&mut self, rng: &mut Rng, now: u64) -> Out {
        let mut out = Out::default();
        if self.stopped {
            return out;
        }
        if let Some(h) = &self.held
            && h.until <= now
        {
            self.drop_lease(&mut out, "expired");
            self.phase = Phase::Idle;
        }
        match self.phase {
            Phase::Idle => self.discover(rng, now, &mut out),
            Phase::Selecting => {
                if self.tries >= 5 {
                    self.discover(rng, now, &mut out);
                } else {
                    self.send_discover(now, &mut out);
                    out.wake = Some(self.backoff(rng, now));
                }
            }
            Phase::Requesting { .. } | Phase::Rebooting { .. } => {
                if self.tries >= 4 {
                    self.drop_lease(&mut out, "no answer to INIT-REBOOT");
                    self.discover(rng, now, &mut out);
                } else {
                    self.send_request(now, &mut out);
                    out.wake = Some(self.backoff(rng, now));
                }
            }
            Phase::Bound => {
                let Some(h) = self.held.clone() else {
                    self.discover(rng, now, &mut out);
                    return out;
                };
                if rng.chance(self.p_release) {
                    let mut m = self.msg(now, MessageType::Release);
                    m.set_ciaddr(h.ip);
                    m.opts_mut().insert(DhcpOption::ServerIdentifier(h.server));
                    self.send(&mut out, To::Server(h.server), &m, MessageType::Release);
                    self.drop_lease(&mut out, "released");
                    self.phase = Phase::Idle;
                    out.wake = Some(now + rng.range(SECOND, 90 * SECOND));
                } else if rng.chance(self.p_reboot) {
                    self.new_xid(rng, now);
                    self.phase = Phase::Rebooting { ip: h.ip };
                    self.send_request(now, &mut out);
                    out.wake = Some(self.backoff(rng, now));
                } else {
                    self.new_xid(rng, now);
                    self.phase = Phase::Renewing;
                    self.send_request(now, &mut out);
                    out.wake = Some((now + rng.range(2, 6) * SECOND).min(h.t2.max(now + 1)));
                }
            }
            Phase::Renewing | Phase::Rebinding => {
                let Some(h) = self.held.clone() else {
                    self.discover(rng, now, &mut out);
                    return out;
                };
                if self.phase == Phase::Renewing && now >= h.t2 {
                    self.new_xid(rng, now);
                    self.phase = Phase::Rebinding;
                }
                self.send_request(now, &mut out);
                let limit = if self.phase == Phase::Renewing { h.t2 } else { h.until };
                out.wake = Some((now + rng.range(2, 5) * SECOND).min(limit.max(now + 1)));
            }
        }
        out
    }

    /// A server's reply reached this client.
    pub fn receive(&mut self, rng: &mut Rng, now: u64, bytes: &[u8]) -> Out {
        let mut out = Out::default();
        let Ok(m) = Message::decode(&mut Decoder::new(bytes)) else {
            return out;
        };
        if m.xid() != self.xid || m.chaddr().get(..6) != Some(&self.mac[..]) {
            return out;
        }
        let Some(t) = m.opts().msg_type() else {
            return out;
        };
        let sid = match m.opts().get(OptionCode::ServerIdentifier) {
            Some(DhcpOption::ServerIdentifier(ip)) => *ip,
            _ => Ipv4Addr::UNSPECIFIED,
        };
        match (t, self.phase) {
            (MessageType::Offer, Phase::Selecting) => {
                self.phase = Phase::Requesting { ip: m.yiaddr(), sid };
                self.first_sent = now;
                self.tries = 0;
                self.send_request(now, &mut out);
                out.wake = Some(self.backoff(rng, now));
            }
            (
                MessageType::Ack,
                Phase::Requesting { .. } | Phase::Rebooting { .. } | Phase::Renewing | Phase::Rebinding,
            ) => {
                let secs = match m.opts().get(OptionCode::AddressLeaseTime) {
                    Some(DhcpOption::AddressLeaseTime(s)) => *s,
                    _ => 0,
                };
                let ip = m.yiaddr();
                if let Some(h) = &self.held
                    && h.ip != ip
                {
                    self.drop_lease(&mut out, "ACK for another address");
                }
                let ms = u64::from(secs) * SECOND;
                let h = Held {
                    ip,
                    server: sid,
                    until: self.first_sent + ms,
                    t1: self.first_sent + ms / 2,
                    t2: self.first_sent + ms * 7 / 8,
                    secs,
                };
                out.wake = Some(h.t1.max(now + 1));
                self.held = Some(h);
                self.phase = Phase::Bound;
                out.acked = Some((ip, secs));
            }
            (
                MessageType::Nak,
                Phase::Requesting { .. } | Phase::Rebooting { .. } | Phase::Renewing | Phase::Rebinding,
            ) => {
                self.drop_lease(&mut out, "NAK");
                self.phase = Phase::Idle;
                out.wake = Some(now + rng.range(200, 3 * SECOND));
            }
            _ => {}
        }
        out
    }
}

/// (message type, xid, yiaddr, server identifier, lease secs) of a server reply, for logs.
pub fn describe_reply(bytes: &[u8]) -> Option<(MessageType, Ipv4Addr, u32)> {
    let m = Message::decode(&mut Decoder::new(bytes)).ok()?;
    let t = m.opts().msg_type()?;
    let secs = match m.opts().get(OptionCode::AddressLeaseTime) {
        Some(DhcpOption::AddressLeaseTime(s)) => *s,
        _ => 0,
    };
    Some((t, m.yiaddr(), secs))
}

/// (requested ip or ciaddr) of a client request: the address the server will look at.
pub fn request_target(bytes: &[u8]) -> Option<Ipv4Addr> {
    let m = Message::decode(&mut Decoder::new(bytes)).ok()?;
    if !m.ciaddr().is_unspecified() {
        return Some(m.ciaddr());
    }
    match m.opts().get(OptionCode::RequestedIpAddress) {
        Some(DhcpOption::RequestedIpAddress(ip)) => Some(*ip),
        _ => None,
    }
}
