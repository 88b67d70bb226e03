//! The DHCP engine: RFC 2131 server behaviour over the lease store. Shared by all workers
//! (`&self`), deterministic given (request, lease state, config, now).

use super::config::{EngineConfig, HostCfg, Network, Params, PoolCfg};
use super::reply::{self, Reply};
use crate::lease::{BindingState, ClientKey, HwAddr, Lease, LeaseStore, PoolId};
use crate::time::{NEVER, Now};
use dhcproto::v4::{DhcpOption, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Decoder};
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// Facts about a request that only the runtime knows.
#[derive(Clone, Copy, Debug)]
pub struct RequestMeta {
    /// Address of the interface the request arrived on: the default server identifier and,
    /// without a relay, the address that selects the network.
    pub iface_addr: Ipv4Addr,
    /// Sent to a broadcast address (distinguishes REBINDING from RENEWING).
    pub broadcast: bool,
}

/// Why a request got no reply. Used as a metrics label and in debug logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// Not decodable as a BOOTP/DHCP message.
    Malformed,
    /// A BOOTREPLY or a server-to-client message type.
    NotARequest,
    /// No subnet declaration for the relay or the receiving interface.
    UnknownNetwork,
    /// REQUEST in SELECTING state naming another server.
    OtherServerSelected,
    /// No free address in any pool the client may use.
    NoFreeAddress,
    /// INIT-REBOOT/RENEW for an address this server has no record of (RFC 2131: silent).
    NoRecord,
    /// BOOTP client without a reservation and no pool allowing dynamic BOOTP.
    BootpNotAllowed,
    /// RELEASE/DECLINE processed: there is never a reply.
    NoReplyExpected,
    /// An unknown client where pools deny unknown clients.
    UnknownClientDenied,
    /// A DISCOVER the failover partner answers (load balancing).
    PartnersClient,
}

/// What to do with one request.
#[derive(Debug, Default)]
pub struct Outcome {
    pub reply: Option<Reply>,
    /// Lease records that must be in the lease file (written and fsynced) before `reply` is
    /// sent: the durability rule of an ACK.
    pub durable: Vec<Lease>,
    pub dropped: Option<DropReason>,
    /// The request's DHCP message type (None for BOOTP or undecodable).
    pub request_type: Option<MessageType>,
}

impl Outcome {
    fn drop(t: Option<MessageType>, r: DropReason) -> Outcome {
        Outcome {
            dropped: Some(r),
            request_type: t,
            ..Outcome::default()
        }
    }
}

pub struct Engine {
    cfg: EngineConfig,
    store: LeaseStore,
    host_by_hw: HashMap<[u8; 6], usize>,
    host_by_id: HashMap<Vec<u8>, usize>,
}

/// Everything the handlers need about a decoded request.
struct Ctx<'a> {
    now: Now,
    req: &'a Message,
    key: ClientKey,
    net: &'a Network,
    host: Option<&'a HostCfg>,
    server_id: Ipv4Addr,
    msg_type: Option<MessageType>,
}

impl Engine {
    pub fn new(cfg: EngineConfig) -> Engine {
        let store = LeaseStore::new(cfg.pool_count());
        for net in &cfg.networks {
            for (i, pool) in net.pools.iter().enumerate() {
                for (a, b) in &pool.ranges {
                    store.add_range(net.first_pool_id + i as u32, *a, *b);
                }
            }
        }
        let mut host_by_hw = HashMap::new();
        let mut host_by_id = HashMap::new();
        for (i, h) in cfg.hosts.iter().enumerate() {
            if let Some(hw) = h.hardware_ethernet {
                host_by_hw.insert(hw, i);
            }
            if let Some(id) = &h.client_identifier {
                host_by_id.insert(id.clone(), i);
            }
        }
        Engine {
            cfg,
            store,
            host_by_hw,
            host_by_id,
        }
    }

    pub fn store(&self) -> &LeaseStore {
        &self.store
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Handle one UDP payload received on port 67.
    pub fn handle(&self, now: Now, meta: &RequestMeta, bytes: &[u8]) -> Outcome {
        if super::sanity::check(bytes).is_err() {
            return Outcome::drop(None, DropReason::Malformed);
        }
        // Belt and braces: a decoder panic on input we did not anticipate is a drop too.
        let decoded = std::panic::catch_unwind(|| Message::decode(&mut Decoder::new(bytes)));
        let req = match decoded {
            Ok(Ok(m)) => m,
            _ => return Outcome::drop(None, DropReason::Malformed),
        };
        if req.opcode() != Opcode::BootRequest || req.hlen() > 16 {
            return Outcome::drop(None, DropReason::NotARequest);
        }
        let msg_type = req.opts().msg_type();
        let key = client_key(&req);
        let select_by = if req.giaddr().is_unspecified() {
            meta.iface_addr
        } else {
            req.giaddr()
        };
        let Some((_, net)) = self.cfg.network_for(select_by) else {
            return Outcome::drop(msg_type, DropReason::UnknownNetwork);
        };
        let host = self.host_for(&req);
        let server_id = net
            .subnets
            .iter()
            .find(|s| s.contains(select_by))
            .and_then(|s| s.params.server_identifier)
            .unwrap_or(meta.iface_addr);
        let ctx = Ctx {
            now,
            req: &req,
            key,
            net,
            host,
            server_id,
            msg_type,
        };
        let mut out = match msg_type {
            None => self.bootp(&ctx),
            Some(MessageType::Discover) => self.discover(&ctx),
            Some(MessageType::Request) => self.request(&ctx),
            Some(MessageType::Release) => self.release(&ctx),
            Some(MessageType::Decline) => self.decline(&ctx),
            Some(MessageType::Inform) => self.inform(&ctx),
            Some(_) => Outcome::drop(msg_type, DropReason::NotARequest),
        };
        out.request_type = msg_type;
        out
    }

    fn host_for(&self, req: &Message) -> Option<&HostCfg> {
        if let Some(DhcpOption::ClientIdentifier(id)) = req.opts().get(OptionCode::ClientIdentifier)
            && let Some(i) = self.host_by_id.get(id)
        {
            return self.cfg.hosts.get(*i);
        }
        let hw: [u8; 6] = req.chaddr().get(..6)?.try_into().ok()?;
        self.cfg.hosts.get(*self.host_by_hw.get(&hw)?)
    }

    /// A reserved address of this host on this network.
    fn fixed_address(&self, c: &Ctx) -> Option<(Ipv4Addr, Params)> {
        let host = c.host?;
        host.fixed_addresses.iter().find_map(|ip| {
            let subnet = c.net.subnets.iter().find(|s| s.contains(*ip))?;
            Some((*ip, merge(&subnet.params, &host.params)))
        })
    }

    fn pool_of<'n>(&self, net: &'n Network, id: PoolId) -> Option<&'n PoolCfg> {
        net.pools.get(id.checked_sub(net.first_pool_id)? as usize)
    }

    /// Pools of the network this client may draw from.
    fn usable_pools<'n>(
        &self,
        c: &Ctx<'n>,
    ) -> impl Iterator<Item = (PoolId, &'n PoolCfg)> + use<'n, '_> {
        let known = c.host.is_some();
        c.net
            .pools
            .iter()
            .enumerate()
            .filter(move |(_, p)| known || p.allow_unknown_clients)
            .map(|(i, p)| (c.net.first_pool_id + i as u32, p))
    }

    fn lease_secs(&self, c: &Ctx, params: &Params) -> u32 {
        let requested = match c.req.opts().get(OptionCode::AddressLeaseTime) {
            Some(DhcpOption::AddressLeaseTime(t)) => Some(*t),
            _ => None,
        };
        let max = params.max_lease_secs.max(params.min_lease_secs);
        requested
            .unwrap_or(params.default_lease_secs)
            .clamp(params.min_lease_secs, max)
    }

    fn subnet_mask(&self, net: &Network, ip: Ipv4Addr) -> Option<Ipv4Addr> {
        net.subnets
            .iter()
            .find(|s| s.contains(ip))
            .map(|s| Ipv4Addr::from(s.mask()))
    }

    /// A full OFFER/ACK for `ip`.
    fn address_reply(
        &self,
        c: &Ctx,
        t: MessageType,
        ip: Ipv4Addr,
        params: &Params,
        lease_secs: u32,
    ) -> Reply {
        let mut m = reply::base_reply(c.req, Some(t));
        m.set_yiaddr(ip);
        if t == MessageType::Ack && !c.req.ciaddr().is_unspecified() {
            m.set_ciaddr(c.req.ciaddr());
        }
        m.opts_mut()
            .insert(DhcpOption::ServerIdentifier(c.server_id));
        reply::add_lease_times(&mut m, lease_secs);
        if params.option(1).is_none()
            && let Some(mask) = self.subnet_mask(c.net, ip)
        {
            m.opts_mut().insert(DhcpOption::SubnetMask(mask));
        }
        reply::add_options(&mut m, c.req, params);
        finish(m, c.req, t, ip)
    }

    fn nak(&self, c: &Ctx) -> Outcome {
        let mut m = reply::base_reply(c.req, Some(MessageType::Nak));
        m.opts_mut()
            .insert(DhcpOption::ServerIdentifier(c.server_id));
        Outcome {
            reply: Some(finish(m, c.req, MessageType::Nak, Ipv4Addr::UNSPECIFIED)),
            ..Outcome::default()
        }
    }

    fn requested_ip(req: &Message) -> Option<Ipv4Addr> {
        match req.opts().get(OptionCode::RequestedIpAddress) {
            Some(DhcpOption::RequestedIpAddress(ip)) => Some(*ip),
            _ => None,
        }
    }

    fn discover(&self, c: &Ctx) -> Outcome {
        if let Some((ip, params)) = self.fixed_address(c) {
            let secs = self.lease_secs(c, &params);
            return Outcome {
                reply: Some(self.address_reply(c, MessageType::Offer, ip, &params, secs)),
                ..Outcome::default()
            };
        }
        let now = c.now.unix;
        let hold = c.now.plus(self.cfg.offer_hold_secs.max(1));
        let in_net = |ip: Ipv4Addr| {
            self.usable_pools(c)
                .find(|(_, p)| p.contains(ip))
                .map(|(id, _)| id)
        };
        // 1. The address this client had; 2. the one it asks for; 3. any free one.
        let previous = self
            .store
            .lookup_client(&c.key)
            .map(|l| l.ip)
            .filter(|ip| in_net(*ip).is_some());
        let mut chosen = previous.filter(|ip| self.store.try_offer(*ip, &c.key, now, hold));
        if chosen.is_none()
            && let Some(ip) = Self::requested_ip(c.req).filter(|ip| in_net(*ip).is_some())
            && self.store.try_offer(ip, &c.key, now, hold)
        {
            chosen = Some(ip);
        }
        if chosen.is_none() {
            chosen = self
                .usable_pools(c)
                .find_map(|(id, _)| self.store.allocate(id, &c.key, now, hold));
        }
        let Some(ip) = chosen else {
            let reason = if self.usable_pools(c).next().is_none() {
                DropReason::UnknownClientDenied
            } else {
                DropReason::NoFreeAddress
            };
            return Outcome::drop(c.msg_type, reason);
        };
        let Some(pool) = in_net(ip).and_then(|id| self.pool_of(c.net, id)) else {
            return Outcome::drop(c.msg_type, DropReason::NoFreeAddress);
        };
        let params = merge_host(&pool.params, c.host);
        let secs = self.lease_secs(c, &params);
        Outcome {
            reply: Some(self.address_reply(c, MessageType::Offer, ip, &params, secs)),
            ..Outcome::default()
        }
    }

    fn request(&self, c: &Ctx) -> Outcome {
        let server_id = match c.req.opts().get(OptionCode::ServerIdentifier) {
            Some(DhcpOption::ServerIdentifier(ip)) => Some(*ip),
            _ => None,
        };
        let requested = Self::requested_ip(c.req);
        let ciaddr = c.req.ciaddr();
        let authoritative = c
            .net
            .subnets
            .first()
            .map(|s| s.params.authoritative)
            .unwrap_or(false);
        let on_network = |ip: Ipv4Addr| c.net.subnets.iter().any(|s| s.contains(ip));

        // SELECTING: the client names the server it chose.
        if let Some(sid) = server_id {
            let ip = requested.unwrap_or(ciaddr);
            if sid != c.server_id {
                self.store.cancel_offer(ip, &c.key);
                return Outcome::drop(c.msg_type, DropReason::OtherServerSelected);
            }
            return self.ack_or_nak(c, ip);
        }
        // INIT-REBOOT (requested, no ciaddr) or RENEWING/REBINDING (ciaddr).
        let ip = if ciaddr.is_unspecified() {
            requested
        } else {
            Some(ciaddr)
        };
        let Some(ip) = ip else {
            return Outcome::drop(c.msg_type, DropReason::Malformed);
        };
        if !on_network(ip) {
            // Wrong network for this client (it moved): NAK if we own the segment.
            return if authoritative && ciaddr.is_unspecified() {
                self.nak(c)
            } else {
                Outcome::drop(c.msg_type, DropReason::NoRecord)
            };
        }
        if let Some((fixed, _)) = self.fixed_address(c) {
            return if fixed == ip {
                self.ack_or_nak(c, ip)
            } else if authoritative {
                self.nak(c)
            } else {
                Outcome::drop(c.msg_type, DropReason::NoRecord)
            };
        }
        match self.store.get(ip) {
            Some(l) if l.client.as_ref() == Some(&c.key) => self.ack_or_nak(c, ip),
            // Someone else's address, or one outside our pools: NAK when authoritative.
            Some(l) if l.client.is_some() && l.is_bound_at(c.now.unix) => {
                if authoritative {
                    self.nak(c)
                } else {
                    Outcome::drop(c.msg_type, DropReason::NoRecord)
                }
            }
            None if authoritative => self.nak(c),
            // No record of this client here (RFC 2131 §4.3.2): stay silent.
            _ => Outcome::drop(c.msg_type, DropReason::NoRecord),
        }
    }

    /// Bind `ip` to the client and ACK, or NAK if it cannot have it.
    fn ack_or_nak(&self, c: &Ctx, ip: Ipv4Addr) -> Outcome {
        if let Some((fixed, params)) = self.fixed_address(c)
            && fixed == ip
        {
            let secs = self.lease_secs(c, &params);
            return Outcome {
                reply: Some(self.address_reply(c, MessageType::Ack, ip, &params, secs)),
                ..Outcome::default()
            };
        }
        let Some(pool) = self
            .usable_pools(c)
            .find(|(_, p)| p.contains(ip))
            .map(|(_, p)| p)
        else {
            return self.nak(c);
        };
        let params = merge_host(&pool.params, c.host);
        let secs = self.lease_secs(c, &params);
        let now = c.now.unix;
        let hostname = match c.req.opts().get(OptionCode::Hostname) {
            Some(DhcpOption::Hostname(h)) => Some(h.clone().into_boxed_str()),
            _ => None,
        };
        let hw = HwAddr::new(
            u8::from(c.req.htype()),
            c.req.chaddr().get(..c.req.hlen() as usize).unwrap_or(&[]),
        );
        let bound = self.store.update_if_available(ip, &c.key, now, |l| {
            l.state = BindingState::Active;
            l.starts = now;
            l.ends = if secs == u32::MAX {
                NEVER
            } else {
                c.now.plus(secs)
            };
            l.cltt = now;
            l.client = Some(c.key.clone());
            l.hw = Some(hw);
            if hostname.is_some() {
                l.hostname = hostname.clone();
            }
            l.offer = None;
        });
        match bound {
            Some(lease) => Outcome {
                reply: Some(self.address_reply(c, MessageType::Ack, ip, &params, secs)),
                durable: vec![lease],
                ..Outcome::default()
            },
            None => self.nak(c),
        }
    }

    fn release(&self, c: &Ctx) -> Outcome {
        let ip = c.req.ciaddr();
        let mut out = Outcome::drop(c.msg_type, DropReason::NoReplyExpected);
        let now = c.now.unix;
        if let Some(l) = self.store.get(ip)
            && l.client.as_ref() == Some(&c.key)
            && l.is_bound_at(now)
            && let Some(l) = self.store.update(ip, |l| {
                // Standalone: straight back to free; the client key stays for affinity.
                l.state = BindingState::Free;
                l.ends = now;
                l.cltt = now;
            })
        {
            out.durable.push(l);
        }
        out
    }

    fn decline(&self, c: &Ctx) -> Outcome {
        let mut out = Outcome::drop(c.msg_type, DropReason::NoReplyExpected);
        let Some(ip) = Self::requested_ip(c.req) else {
            return out;
        };
        let now = c.now.unix;
        let Some(lease) = self.store.get(ip) else {
            return out;
        };
        let mine = lease.client.as_ref() == Some(&c.key)
            || lease.offer.as_ref().map(|o| &o.client) == Some(&c.key);
        if !mine {
            return out;
        }
        let hold = self
            .pool_of(c.net, lease.pool)
            .map(|p| p.params.default_lease_secs)
            .unwrap_or(86_400);
        // Another host uses the address: abandon it (dhcpd: for the default lease time).
        if let Some(l) = self.store.update(ip, |l| {
            l.state = BindingState::Abandoned;
            l.starts = now;
            l.ends = c.now.plus(hold);
            l.client = None;
            l.offer = None;
        }) {
            tracing::warn!(%ip, "DHCPDECLINE: address abandoned (in use by another host)");
            out.durable.push(l);
        }
        out
    }

    fn inform(&self, c: &Ctx) -> Outcome {
        let ciaddr = c.req.ciaddr();
        let subnet = c
            .net
            .subnets
            .iter()
            .find(|s| s.contains(ciaddr))
            .or(c.net.subnets.first());
        let Some(subnet) = subnet else {
            return Outcome::drop(c.msg_type, DropReason::UnknownNetwork);
        };
        let params = merge_host(&subnet.params, c.host);
        let mut m = reply::base_reply(c.req, Some(MessageType::Ack));
        m.set_ciaddr(ciaddr);
        m.opts_mut()
            .insert(DhcpOption::ServerIdentifier(c.server_id));
        reply::add_options(&mut m, c.req, &params);
        Outcome {
            reply: Some(finish(m, c.req, MessageType::Ack, Ipv4Addr::UNSPECIFIED)),
            ..Outcome::default()
        }
    }

    fn bootp(&self, c: &Ctx) -> Outcome {
        let reply_for = |ip: Ipv4Addr, params: &Params| {
            let mut m = reply::base_reply(c.req, None);
            m.set_yiaddr(ip);
            if let Some(mask) = self.subnet_mask(c.net, ip) {
                m.opts_mut().insert(DhcpOption::SubnetMask(mask));
            }
            reply::add_options(&mut m, c.req, params);
            finish(m, c.req, MessageType::Ack, ip)
        };
        if let Some((ip, params)) = self.fixed_address(c) {
            return Outcome {
                reply: Some(reply_for(ip, &params)),
                ..Outcome::default()
            };
        }
        let now = c.now.unix;
        let pools: Vec<(PoolId, &PoolCfg)> = self
            .usable_pools(c)
            .filter(|(_, p)| p.dynamic_bootp)
            .collect();
        if pools.is_empty() {
            return Outcome::drop(None, DropReason::BootpNotAllowed);
        }
        let previous = self
            .store
            .lookup_client(&c.key)
            .map(|l| l.ip)
            .filter(|ip| pools.iter().any(|(_, p)| p.contains(*ip)));
        let ip = previous.or_else(|| {
            pools
                .iter()
                .find_map(|(id, _)| self.store.allocate(*id, &c.key, now, now + 1))
        });
        let Some(ip) = ip else {
            return Outcome::drop(None, DropReason::NoFreeAddress);
        };
        let hw = HwAddr::new(
            u8::from(c.req.htype()),
            c.req.chaddr().get(..c.req.hlen() as usize).unwrap_or(&[]),
        );
        let Some(lease) = self.store.update_if_available(ip, &c.key, now, |l| {
            // BOOTP leases never end (dhcpd: `ends never`).
            l.state = BindingState::Active;
            l.starts = now;
            l.ends = NEVER;
            l.cltt = now;
            l.client = Some(c.key.clone());
            l.hw = Some(hw);
            l.offer = None;
        }) else {
            return Outcome::drop(None, DropReason::NoFreeAddress);
        };
        let params = pools
            .iter()
            .find(|(_, p)| p.contains(ip))
            .map(|(_, p)| merge_host(&p.params, c.host))
            .unwrap_or_default();
        Outcome {
            reply: Some(reply_for(ip, &params)),
            durable: vec![lease],
            ..Outcome::default()
        }
    }

    /// Expiry sweep (standalone): bound leases past their end go back to free. Returns the
    /// changed leases for the journal.
    pub fn expire(&self, now: Now, limit: usize) -> Vec<Lease> {
        self.store
            .due_for_expiry(now.unix, limit)
            .into_iter()
            .filter_map(|ip| {
                self.store.update(ip, |l| {
                    if l.state == BindingState::Active && l.ends != NEVER && l.ends <= now.unix {
                        l.state = BindingState::Free;
                    }
                })
            })
            .filter(|l| l.state == BindingState::Free)
            .collect()
    }

    /// Load a lease from the lease file (or the partner).
    pub fn restore(&self, lease: Lease) -> bool {
        self.store.restore(lease)
    }
}

/// The key a client is known by: option 61 if present, else htype + chaddr.
pub fn client_key(req: &Message) -> ClientKey {
    match req.opts().get(OptionCode::ClientIdentifier) {
        Some(DhcpOption::ClientIdentifier(id)) if !id.is_empty() => ClientKey::from_client_id(id),
        _ => ClientKey::from_hw(
            u8::from(req.htype()),
            req.chaddr().get(..req.hlen() as usize).unwrap_or(&[]),
        ),
    }
}

/// Scope parameters with a host's options laid over them.
fn merge_host(base: &Params, host: Option<&HostCfg>) -> Params {
    match host {
        Some(h) => merge(base, &h.params),
        None => base.clone(),
    }
}

fn merge(base: &Params, over: &Params) -> Params {
    let mut p = base.clone();
    for (code, v) in &over.options {
        match p.options.iter_mut().find(|(c, _)| c == code) {
            Some(slot) => slot.1 = v.clone(),
            None => p.options.push((*code, v.clone())),
        }
    }
    p.options.sort_by_key(|(c, _)| *c);
    p.next_server = over.next_server.or(p.next_server);
    if over.filename.is_some() {
        p.filename = over.filename.clone();
    }
    p
}

fn finish(m: Message, req: &Message, t: MessageType, yiaddr: Ipv4Addr) -> Reply {
    let dest = reply::destination(req, t, yiaddr);
    let bytes = reply::encode(&m).unwrap_or_default();
    Reply {
        bytes,
        dest,
        msg_type: t,
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
