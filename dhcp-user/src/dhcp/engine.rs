//! The DHCP engine: RFC 2131 server behaviour over the lease store. Shared by all workers
//! (`&self`), deterministic given (request, lease state, config, now).

use super::classify::{self, Classes};
use super::config::{EngineConfig, HostCfg, Network, Params, PoolCfg};
use super::reply::{self, Reply};
use crate::failover::{self as fo, FailoverView, Refusal};
use crate::lease::{Billing, BindingState, ClientKey, HwAddr, Lease, LeaseStore, PoolId, Take};
use crate::time::{NEVER, Now};
use arc_swap::ArcSwap;
use dhcp_common::{Classified, Verdict, classify_bootp, decide};
use dhcp_failover::transitions::{ServiceLevel, lease_time_allowed, tstp_for};
use dhcp_failover::wire::Binding;
use dhcp_failover::{Role, State};
use dhcproto::v4::{DhcpOption, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Decoder};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, RwLock};

/// Facts about a request that only the runtime knows.
#[derive(Clone, Copy, Debug)]
pub struct RequestMeta {
    /// Address of the interface the request arrived on: the default server identifier and,
    /// without a relay, the address that selects the network.
    pub iface_addr: Ipv4Addr,
    /// Sent to a broadcast address (distinguishes REBINDING from RENEWING).
    pub broadcast: bool,
    /// The receiving interface's name when the server serves it because an `interface`
    /// statement names it (and the command line does not): a request received there
    /// without a relay is served from the shared network the statement ties it to.
    pub tied_iface: Option<IfName>,
}

/// An interface name, kept inline (at most 15 bytes, as the kernel's) so that
/// [`RequestMeta`] stays `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfName {
    bytes: [u8; 15],
    len: u8,
}

impl IfName {
    /// `name`, cut to 15 bytes (at a character boundary).
    pub fn new(name: &str) -> IfName {
        let mut end = name.len().min(15);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0u8; 15];
        let src = name.as_bytes().get(..end).unwrap_or_default();
        if let Some(dst) = bytes.get_mut(..src.len()) {
            dst.copy_from_slice(src);
        }
        IfName { bytes, len: end as u8 }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.bytes.get(..usize::from(self.len)).unwrap_or_default()).unwrap_or_default()
    }
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
    /// The failover state gives no DHCP service (startup, recover, conflict, shutdown...).
    FailoverNoService,
    /// REQUEST for a failover pool's address in a free state the partner owns (FREE on a
    /// secondary, BACKUP on a primary, EXPIRED/RELEASED not yet acknowledged): dhcpd's
    /// "lease owned by peer" / "lease in transition state", silent as there.
    OwnedByPartner,
    /// `deny booting` / `ignore booting` in force for the client (a host, class or scope).
    BootingDenied,
    /// Every class of the client with a `lease limit` has reached it (dhcpd: "no
    /// available billing").
    LeaseLimitReached,
    /// INFORM for a subnet this server is not authoritative for (dhcpd 4.4 stays silent:
    /// "not authoritative for subnet").
    InformNotAuthoritative,
    /// An OFFER held for `ping-check` whose address answered the echo: the address is
    /// abandoned and the OFFER never sent (dhcpd's lease_pinged). Counted by the runtime's
    /// ping thread, not by the engine.
    AddressAnsweredPing,
}

/// dhcpd's `ping-check`: before the OFFER of `ip` goes out, an ICMP echo is sent to it;
/// the OFFER is sent once `timeout_ms` pass without an echo reply. A reply means another
/// host uses the address: [`Engine::probe_answered`] abandons it and the OFFER is dropped
/// (the client's next DISCOVER gets another address), as dhcpd's lease_pinged does. The
/// engine only decides; the runtime sends, waits and calls back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub ip: Ipv4Addr,
    pub timeout_ms: u32,
    /// The client the address is offered to.
    pub client: ClientKey,
}

/// What to do with one request.
#[derive(Debug, Default)]
pub struct Outcome {
    pub reply: Option<Reply>,
    /// Hold `reply` until this probe finds the address silent ([`Probe`]).
    pub probe: Option<Probe>,
    /// Lease records that must be in the lease file (written and fsynced) before `reply` is
    /// sent: the durability rule of an ACK.
    pub durable: Vec<Lease>,
    pub dropped: Option<DropReason>,
    /// The request's DHCP message type (None for BOOTP or undecodable).
    pub request_type: Option<MessageType>,
    /// DNS updates for a host's fixed address (`update-static-leases`): no lease record
    /// carries them, and nothing of them is written (dhcpd keeps no state for a static
    /// lease), so the runtime queues them as it sends `reply`.
    pub ddns: Option<crate::ddns::Job>,
}

impl Outcome {
    fn drop(t: Option<MessageType>, r: DropReason) -> Outcome {
        Outcome { dropped: Some(r), request_type: t, ..Outcome::default() }
    }
}

/// Host indexes (into `EngineConfig::hosts`, file order) by an identifying value.
type HostsByValue = HashMap<Vec<u8>, Vec<usize>>;

/// One configuration with its host indexes. Immutable: a reload builds a new one and swaps
/// it in whole, so a request sees one configuration from start to end and the hot path reads
/// it without a lock.
struct Snapshot {
    cfg: Arc<EngineConfig>,
    /// Hosts by hardware address, in file order: dhcpd allows several hosts for one
    /// address (one machine with a fixed address on each of several networks).
    host_by_hw: HashMap<[u8; 6], Vec<usize>>,
    host_by_id: HashMap<Vec<u8>, Vec<usize>>,
    /// Hosts by `host-identifier` option: for each option (in the order hosts first name
    /// it, as dhcpd's host_id_info list), its values' hosts in file order.
    host_by_option: Vec<(dhcp_config::OptionRef, HostsByValue)>,
    subclasses: classify::SubclassIndex,
    /// Some scope, host or class turns `ignore-client-uids` on (else a request's key needs
    /// no second look).
    ignores_uids: bool,
    /// The configuration's `on` blocks by text: a lease read from the lease file gets
    /// its pending `on release` / `on expiry` statements from here ([`Engine::restore`]).
    event_blocks: HashMap<String, Arc<dhcp_config::model::OnBlock>>,
}

impl Snapshot {
    fn new(cfg: EngineConfig) -> Snapshot {
        let mut host_by_hw: HashMap<[u8; 6], Vec<usize>> = HashMap::new();
        let mut host_by_id: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        let mut host_by_option: Vec<(dhcp_config::OptionRef, HostsByValue)> = Vec::new();
        for (i, h) in cfg.hosts.iter().enumerate() {
            if let Some(hw) = h.hardware_ethernet {
                host_by_hw.entry(hw).or_default().push(i);
            }
            if let Some(id) = &h.client_identifier {
                host_by_id.entry(id.clone()).or_default().push(i);
            }
            if let Some((option, value)) = &h.identifier {
                let at = match host_by_option.iter().position(|(o, _)| o == option) {
                    Some(at) => at,
                    None => {
                        host_by_option.push((*option, HashMap::new()));
                        host_by_option.len() - 1
                    }
                };
                if let Some((_, m)) = host_by_option.get_mut(at) {
                    m.entry(value.clone()).or_default().push(i);
                }
            }
        }
        let subclasses = classify::SubclassIndex::new(&cfg.classes);
        let on = |p: &Params| p.ignore_client_uids == Some(true);
        let in_actions = |a: &[dhcp_config::Action]| {
            a.iter().any(|a| matches!(a, dhcp_config::Action::Flag(dhcp_config::Flag::IgnoreClientUids, true)))
        };
        let ignores_uids = on(&cfg.global)
            || cfg.hosts.iter().any(|h| on(&h.params))
            || cfg.networks.iter().any(|n| n.subnets.iter().any(|s| on(&s.params)))
            || cfg
                .classes
                .iter()
                .any(|c| in_actions(&c.actions) || c.subclasses.iter().any(|s| in_actions(&s.actions)));
        let event_blocks = event_blocks(&cfg);
        Snapshot { cfg: Arc::new(cfg), host_by_hw, host_by_id, host_by_option, subclasses, ignores_uids, event_blocks }
    }

    /// The configured host matching a request on network `net`, as dhcpd picks it
    /// (find_lease): the hosts of the client identifier if there are any, else those of
    /// the hardware address, each in file order; the first with a fixed address on
    /// `net` answers, else the first of them (the client is then known, and served from
    /// the pools with that host's values).
    /// Last, the hosts of a `host-identifier` option whose value the request carries
    /// (`raw`: the request as received).
    fn host_for(&self, req: &Message, raw: &[u8], net: &Network) -> Option<&HostCfg> {
        let by_id = match req.opts().get(OptionCode::ClientIdentifier) {
            Some(DhcpOption::ClientIdentifier(id)) => self.host_by_id.get(id),
            _ => None,
        };
        let by_hw = || {
            let hw: [u8; 6] = req.chaddr().get(..6)?.try_into().ok()?;
            self.host_by_hw.get(&hw)
        };
        let by_option = || {
            if self.host_by_option.is_empty() {
                return None;
            }
            let pkt = dhcp_config::Packet::new(raw, false);
            self.host_by_option.iter().find_map(|(option, hosts)| hosts.get(pkt.option(*option)?.as_ref()))
        };
        let candidates = by_id.or_else(by_hw).or_else(by_option)?.as_slice();
        let hosts = || candidates.iter().filter_map(|i| self.cfg.hosts.get(*i));
        hosts()
            .find(|h| h.fixed_addresses.iter().any(|ip| net.subnets.iter().any(|s| s.contains(*ip))))
            .or_else(|| hosts().next())
    }
}

pub struct Engine {
    snap: ArcSwap<Snapshot>,
    store: LeaseStore,
    /// Failover relationships by peer name, as last published by the runtime. A failover
    /// pool whose relationship has no view yet gives no service (dhcpd's STARTUP).
    failover: RwLock<HashMap<String, FailoverView>>,
    /// Hosts added at run time (OMAPI `create` on a host object). Consulted after the
    /// configured hosts; few, so a list.
    dynamic_hosts: RwLock<Vec<HostCfg>>,
    /// The leases billed to each billing class (`lease limit`), at most the limit each.
    /// Entries are checked against the store when a class is billed (a lease released,
    /// expired or taken by another client no longer counts), so no other path has to
    /// unbill, and a class whose leases are all gone is dropped.
    billed: dashmap::DashMap<Billing, Vec<Ipv4Addr>>,
    /// Programs `execute` asked for, for the runtime to run.
    hooks: Arc<classify::HookQueue>,
    /// Reverse DNS names of leased addresses, for `get-lease-hostnames` (looked up by the
    /// runtime, off the request path: [`Engine::set_lease_names`]).
    lease_names: Arc<ArcSwap<LeaseNames>>,
}

/// Addresses and their reverse DNS names (as the resolver gives them, without the dot).
pub type LeaseNames = HashMap<Ipv4Addr, Box<str>>;

/// Everything the handlers need about a decoded request.
/// The lease's state before this request, for its evaluation ([`Engine::prior`]).
#[derive(Default)]
struct Prior {
    /// The binding scope kept from this client's last binding of the lease.
    vars: Option<dhcp_config::Vars>,
    /// The lease's end as dhcpd would hold it (Unix seconds), for `lease-time`.
    ends: Option<u32>,
}

/// How long dhcpd reserves an offered lease (dhcp.c dhcpdiscover: "really expire in 2
/// minutes"); xdhcpd's own hold (`offer_hold_secs`) may differ, `lease-time` follows dhcpd.
const DHCPD_OFFER_SECS: u32 = 120;

struct Ctx<'a> {
    now: Now,
    /// The configuration this request is served with (one snapshot for the whole request).
    cfg: &'a EngineConfig,
    /// The network's failover relationship, if its pools have one.
    fo: Option<FailoverView>,
    req: &'a Message,
    key: ClientKey,
    net: &'a Network,
    host: Option<&'a HostCfg>,
    server_id: Ipv4Addr,
    msg_type: Option<MessageType>,
    /// The request as received, for expressions.
    raw: &'a [u8],
    /// The classes the request joined.
    classes: Classes,
    /// Where `execute` statements queue their programs.
    hooks: &'a classify::HookQueue,
    /// Reverse DNS names for `get-lease-hostnames`.
    lease_names: &'a ArcSwap<LeaseNames>,
}

impl Ctx<'_> {
    /// The request as expressions see it (`known`: a host declaration matches).
    fn packet(&self) -> dhcp_config::Packet<'_> {
        dhcp_config::Packet::new(self.raw, self.host.is_some())
    }

    /// The values in force for this client, in dhcpd's order (ack_lease): the scope
    /// chain `base` (already folded) and its per-packet statements, the client's classes
    /// (the first joined wins), then its host's own statements and their per-packet
    /// statements, and finally the host declaration's name when `use-host-decl-names`
    /// asks for it (`lease_host`: the host dhcpd hangs on the lease).
    fn params(&self, base: &Params, lease_host: Option<&HostCfg>, lease: Option<(Ipv4Addr, bool)>) -> Params {
        self.params_vars(base, lease_host, lease, Prior::default()).0
    }

    /// [`Ctx::params_vars`] with the `on` statements that were run: the event statements
    /// the lease takes (`execute` statements are queued as they run, as dhcpd runs them
    /// each time the scopes are executed).
    fn evaluate(
        &self,
        base: &Params,
        lease_host: Option<&HostCfg>,
        lease: Option<(Ipv4Addr, bool)>,
        prior: Prior,
    ) -> (Params, dhcp_config::Vars, dhcp_config::Effects) {
        let effects = std::cell::RefCell::new(dhcp_config::Effects::default());
        let (p, vars) = self.params_inner(base, lease_host, lease, prior, &effects);
        let mut effects = effects.into_inner();
        self.hooks.push(std::mem::take(&mut effects.commands));
        (p, vars, effects)
    }

    /// Runs the `on commit` statements of a lease about to be granted (`vars`: its
    /// binding scope, updated by them). Returns the scope and the programs to queue
    /// once the lease is granted.
    fn commit(
        &self,
        on_commit: Option<&[dhcp_config::Action]>,
        vars: dhcp_config::Vars,
        lease: (Ipv4Addr, bool),
        lease_host: Option<&HostCfg>,
    ) -> (dhcp_config::Vars, Vec<dhcp_config::Command>) {
        let Some(actions) = on_commit else { return (vars, Vec::new()) };
        let vars = std::cell::RefCell::new(vars);
        let effects = std::cell::RefCell::new(dhcp_config::Effects::default());
        let pkt = self.packet().with_vars(&vars).with_effects(&effects).with_lease(
            lease.0,
            lease.1,
            lease_host.map(|h| h.name.as_str()),
        );
        classify::run_event(actions, &pkt);
        (vars.into_inner(), effects.into_inner().commands)
    }

    /// [`Ctx::params`], with the binding scope: `prior` are the variables the lease kept
    /// from its last binding of this client; returned with the `set`s of this request.
    fn params_vars(
        &self,
        base: &Params,
        lease_host: Option<&HostCfg>,
        lease: Option<(Ipv4Addr, bool)>,
        prior: Prior,
    ) -> (Params, dhcp_config::Vars) {
        let (p, vars, _) = self.evaluate(base, lease_host, lease, prior);
        (p, vars)
    }

    fn params_inner(
        &self,
        base: &Params,
        lease_host: Option<&HostCfg>,
        lease: Option<(Ipv4Addr, bool)>,
        prior: Prior,
        effects: &std::cell::RefCell<dhcp_config::Effects>,
    ) -> (Params, dhcp_config::Vars) {
        let vars = std::cell::RefCell::new(prior.vars.unwrap_or_default());
        let mut pkt = self.packet().with_vars(&vars).with_effects(effects).with_lease_end(prior.ends, self.now.unix);
        if let Some((ip, fixed)) = lease {
            pkt = pkt.with_lease(ip, fixed, lease_host.map(|h| h.name.as_str()));
        }
        let mut p = base.clone();
        let mark = classify::SpaceMark::of(&p);
        classify::run_dynamic(&base.dynamic, &mut p, &pkt);
        classify::run_classes(&self.cfg.classes, &self.classes, &mut p, &pkt, || {
            // The client's scopes: its network, and the subnet of its lease (or of the
            // address it is served by, without a lease).
            let net = self.cfg.networks.iter().position(|n| std::ptr::eq(n, self.net)).unwrap_or(usize::MAX);
            let given = |a: Ipv4Addr| (!a.is_unspecified()).then_some(a);
            let ip = lease
                .map(|(ip, _)| ip)
                .or_else(|| given(self.req.ciaddr()))
                .or_else(|| given(self.req.giaddr()))
                .unwrap_or(self.server_id);
            (net, self.net.subnets.iter().position(|s| s.contains(ip)))
        });
        mark.rebuild_43(&mut p, &self.cfg.option_spaces, &self.cfg.encapsulations);
        // The host dhcpd runs the statements of: the lease's (for a dynamic lease, a
        // host without fixed address only); without a lease (INFORM), the client's.
        let host = if lease.is_some() { lease_host } else { self.host };
        if let Some(h) = host {
            // The host's space options join the scopes' per space and code, and option
            // 43 (or an `encapsulate` option) is built again from the merged values,
            // unless the host writes it itself (see docs/DHCPD_CONF.md).
            let mark = classify::SpaceMark::of(&p);
            p = merge(&p, &h.params);
            classify::run_dynamic(&h.params.dynamic, &mut p, &pkt);
            mark.rebuild_43(&mut p, &self.cfg.option_spaces, &self.cfg.encapsulations);
        }
        classify::finish_headers(&mut p, &pkt);
        let p = with_host_decl_name(p, lease_host);
        (self.with_lease_name(p, lease.map(|(ip, _)| ip)), vars.into_inner())
    }
}

impl Ctx<'_> {
    /// dhcpd's ack_lease with `get-lease-hostnames`: when no host-name is in force yet
    /// (after `use-host-decl-names`), the lease address's reverse DNS name, with the
    /// trailing NUL dhcpd's copy of the name keeps (it copies strlen + 1 bytes). dhcpd
    /// asks the resolver there and then; xdhcpd reads what the runtime looked up.
    fn with_lease_name(&self, mut p: Params, ip: Option<Ipv4Addr>) -> Params {
        let Some(ip) = ip.filter(|_| p.get_lease_hostnames && p.option(12).is_none()) else { return p };
        if let Some(name) = self.lease_names.load().get(&ip) {
            let at = p.options.partition_point(|(c, _)| *c < 12);
            let mut v = name.as_bytes().to_vec();
            v.push(0);
            p.options.insert(at, (12, v));
        }
        p
    }
}

impl Engine {
    /// Put the reverse DNS names of leased addresses in force (`get-lease-hostnames`);
    /// the runtime looks them up off the request path.
    pub fn set_lease_names(&self, names: LeaseNames) {
        self.lease_names.store(Arc::new(names));
    }

    pub fn new(cfg: EngineConfig) -> Engine {
        let store = LeaseStore::new(cfg.pool_count());
        for net in &cfg.networks {
            for (i, pool) in net.pools.iter().enumerate() {
                for (a, b) in &pool.ranges {
                    store.add_range(net.first_pool_id + i as u32, *a, *b);
                }
            }
        }
        Engine {
            snap: ArcSwap::from_pointee(Snapshot::new(cfg)),
            store,
            failover: RwLock::new(HashMap::new()),
            dynamic_hosts: RwLock::new(Vec::new()),
            billed: dashmap::DashMap::new(),
            hooks: Arc::new(classify::HookQueue::default()),
            lease_names: Arc::new(ArcSwap::from_pointee(HashMap::new())),
        }
    }

    /// Publish a relationship's current view (runtime, on every state change).
    pub fn set_failover(&self, peer: &str, view: FailoverView) {
        if let Ok(mut m) = self.failover.write() {
            m.insert(peer.to_string(), view);
        }
    }

    pub fn failover_view(&self, peer: &str) -> Option<FailoverView> {
        self.failover.read().ok()?.get(peer).cloned()
    }

    /// The pools served by relationship `peer`.
    pub fn relationship_pools(&self, peer: &str) -> Vec<PoolId> {
        self.snap
            .load()
            .cfg
            .networks
            .iter()
            .flat_map(|n| n.pools.iter().enumerate().map(move |(i, p)| (n.first_pool_id + i as u32, p)))
            .filter(|(_, p)| p.failover_peer.as_deref() == Some(peer))
            .map(|(id, _)| id)
            .collect()
    }

    /// Whether the partner of `role` holds free-state leases in relationship `peer`'s pools
    /// (BACKUP for a primary's partner, FREE for a secondary's): the load-balancing decision
    /// answers the partner's clients itself when the partner has none.
    pub fn partner_has_free(&self, peer: &str, role: Role) -> bool {
        self.relationship_pools(peer).into_iter().map(|id| self.store.pool_counts(id)).any(|c| match role {
            Role::Primary => c.backup > 0,
            Role::Secondary => c.free > 0,
        })
    }

    /// The failover peer name of a pool.
    /// The lease file's record of `l`, as dhcpd writes it: a bound lease says where its
    /// expiry takes it (`next binding state`: EXPIRED in a failover pool, where the partner
    /// must hear of it before the address is free, FREE elsewhere). dhcpd reads a record
    /// without it as staying in its state, so a dhcpd given this file (a migration back)
    /// would never expire those leases.
    pub fn lease_record(&self, l: &Lease) -> dhcp_journal::LeaseRecord {
        let mut r = crate::lease::record::to_record(l);
        if l.state == BindingState::Active {
            let failover = self.snap.load().cfg.pool_peer(l.pool).is_some();
            r.next_binding_state = Some(if failover { BindingState::Expired } else { BindingState::Free });
        }
        r
    }

    pub fn relationship_of(&self, pool: PoolId) -> Option<String> {
        self.snap.load().cfg.pool_peer(pool).map(String::from)
    }

    pub fn store(&self) -> &LeaseStore {
        &self.store
    }

    /// The configuration in force (a reload may replace it; this one stays valid for as long
    /// as it is held).
    pub fn config(&self) -> Arc<EngineConfig> {
        self.snap.load().cfg.clone()
    }

    /// Put a reloaded configuration in force. Pool ids of `cfg` must extend the current ones
    /// (`conf::reloaded_engine_config` checks that): new pools get their free queues and new
    /// ranges their free leases before the configuration that refers to them is published;
    /// existing leases are kept as they are.
    pub fn replace_config(&self, cfg: EngineConfig) {
        self.store.ensure_pools(cfg.pool_count());
        for net in &cfg.networks {
            for (i, pool) in net.pools.iter().enumerate() {
                for (a, b) in &pool.ranges {
                    self.store.add_range(net.first_pool_id + i as u32, *a, *b);
                }
            }
        }
        self.snap.store(Arc::new(Snapshot::new(cfg)));
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
        let snap = self.snap.load();
        let cfg: &EngineConfig = &snap.cfg;
        let select_by = if req.giaddr().is_unspecified() { meta.iface_addr } else { req.giaddr() };
        // dhcpd (locate_network): without a relay, the receiving interface's shared
        // network, which an `interface` statement may have tied it to.
        let tied = meta.tied_iface.filter(|_| req.giaddr().is_unspecified()).and_then(|n| cfg.tied_network(n.as_str()));
        let Some(net) = tied.or_else(|| cfg.network_for(select_by).map(|(_, n)| n)) else {
            return Outcome::drop(msg_type, DropReason::UnknownNetwork);
        };
        let dynamic_host;
        let host = match snap.host_for(&req, bytes, net) {
            Some(h) => Some(h),
            None => {
                dynamic_host = self.dynamic_host_for(&req);
                dynamic_host.as_ref()
            }
        };
        let server_id = net
            .subnets
            .iter()
            .find(|s| s.contains(select_by))
            .and_then(|s| s.params.server_identifier)
            .unwrap_or(meta.iface_addr);
        let fo = net.pools.iter().find_map(|p| p.failover_peer.as_deref()).map(|peer| self.failover_view(peer));
        let all_failover = !net.pools.is_empty() && net.pools.iter().all(|p| p.failover_peer.is_some());
        let fo = match fo {
            Some(Some(view)) => {
                if view.service == ServiceLevel::None && all_failover && msg_type != Some(MessageType::Inform) {
                    return Outcome::drop(msg_type, DropReason::FailoverNoService);
                }
                // Load balancing (RFC 3074), the same decision the XDP program makes.
                if view.service == ServiceLevel::Cooperating
                    && let Classified::Request(v) = classify_bootp(bytes)
                    && decide(&view.steering, &v) == Verdict::Drop
                {
                    return Outcome::drop(msg_type, DropReason::PartnersClient);
                }
                Some(view)
            }
            Some(None) if all_failover => return Outcome::drop(msg_type, DropReason::FailoverNoService),
            _ => None,
        };
        // dhcpd classifies a packet before it looks for the client's host declaration,
        // so `known` is false in a class's match (its classify_client comes first).
        let classes = if cfg.classes.is_empty() {
            Classes::default()
        } else {
            classify::classify(&cfg.classes, &snap.subclasses, &dhcp_config::Packet::new(bytes, false))
        };
        // `ignore-client-uids`: dhcpd's ack_lease then records no client identifier, so the
        // client's lease is the hardware address's and is found by it; xdhcpd keys the
        // request by its hardware address from the start. Decided once, as dhcpd's merged
        // scope would say: the subnet's, then the classes (the first joined wins), then
        // the host's own statements.
        let key = if snap.ignores_uids && key.client_id().is_some() {
            let subnet = net.subnets.iter().find(|s| s.contains(select_by)).or(net.subnets.first());
            let ignore = host
                .and_then(|h| h.params.ignore_client_uids)
                .or_else(|| classify::classes_ignore_client_uids(&cfg.classes, &classes))
                .or_else(|| subnet.and_then(|s| s.params.ignore_client_uids));
            if ignore == Some(true) { hw_key(&req) } else { key }
        } else {
            key
        };
        let ctx = Ctx {
            now,
            cfg,
            fo,
            req: &req,
            key,
            net,
            host,
            server_id,
            msg_type,
            raw: bytes,
            classes,
            hooks: &self.hooks,
            lease_names: &self.lease_names,
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

    /// A run-time host matching the request (client identifier first, then hardware address).
    fn dynamic_host_for(&self, req: &Message) -> Option<HostCfg> {
        let hosts = self.dynamic_hosts.read().ok()?;
        if hosts.is_empty() {
            return None;
        }
        if let Some(DhcpOption::ClientIdentifier(id)) = req.opts().get(OptionCode::ClientIdentifier)
            && let Some(h) = hosts.iter().find(|h| h.client_identifier.as_deref() == Some(id.as_slice()))
        {
            return Some(h.clone());
        }
        let hw: [u8; 6] = req.chaddr().get(..6)?.try_into().ok()?;
        hosts.iter().find(|h| h.hardware_ethernet == Some(hw)).cloned()
    }

    /// Add (or replace, by name) a host at run time. Returns false if a configured host
    /// has that name (configured hosts cannot be replaced).
    pub fn add_dynamic_host(&self, host: HostCfg) -> bool {
        if self.snap.load().cfg.hosts.iter().any(|h| h.name == host.name) {
            return false;
        }
        let Ok(mut hosts) = self.dynamic_hosts.write() else { return false };
        hosts.retain(|h| h.name != host.name);
        hosts.push(host);
        true
    }

    /// Remove a run-time host by name. Returns whether it existed.
    pub fn remove_dynamic_host(&self, name: &str) -> bool {
        let Ok(mut hosts) = self.dynamic_hosts.write() else { return false };
        let before = hosts.len();
        hosts.retain(|h| h.name != name);
        hosts.len() != before
    }

    /// The run-time hosts.
    pub fn dynamic_hosts(&self) -> Vec<HostCfg> {
        self.dynamic_hosts.read().map(|h| h.clone()).unwrap_or_default()
    }

    /// What `ip`'s lease brings to this client's evaluation, as it stands before this
    /// request: the variables it kept from its last binding, when that binding was this
    /// client's (another client's binding scope is not this one's), and its end for
    /// `lease-time` (when bound to this client, or offered to it by this exchange's
    /// OFFER). Looked up only when the configuration uses variables or `lease-time`.
    fn prior(&self, c: &Ctx, ip: Ipv4Addr) -> Prior {
        if !c.cfg.uses_vars {
            return Prior::default();
        }
        let Some(l) = self.store.get(ip) else { return Prior::default() };
        let now = c.now.unix;
        // dhcpd's MAX_TIME stands for an infinite end.
        let dhcpd_time = |t: u32| if t == crate::time::NEVER { dhcp_failover::transitions::MAX_TIME } else { t };
        let bound = l.client.as_ref() == Some(&c.key) && matches!(l.state, BindingState::Active | BindingState::Bootp);
        let mut ends = bound.then(|| dhcpd_time(l.ends));
        // A REQUEST taking an offer: dhcpd's DHCPOFFER set the lease's end to two minutes
        // after the offer unless it ended later (dhcp.c dhcpdiscover); the DISCOVER itself
        // evaluates before that.
        if c.msg_type == Some(MessageType::Request)
            && let Some(o) = l.offer.as_deref().filter(|o| o.client == c.key && o.expires > now)
        {
            let made = o.expires.saturating_sub(c.cfg.offer_hold_secs.max(1));
            ends = Some(ends.unwrap_or(0).max(made.saturating_add(DHCPD_OFFER_SECS)));
        }
        let vars = if l.client.as_ref() == Some(&c.key) { l.vars.map(|v| *v) } else { None };
        Prior { vars, ends }
    }

    /// A reserved address of this host on this network.
    fn fixed_address(&self, c: &Ctx) -> Option<(Ipv4Addr, Params)> {
        self.fixed_address_effects(c).map(|(ip, p, _)| (ip, p))
    }

    /// [`Engine::fixed_address`] with what its statements left (`on commit`).
    fn fixed_address_effects(&self, c: &Ctx) -> Option<(Ipv4Addr, Params, dhcp_config::Effects)> {
        let ip = Self::fixed_ip(c)?;
        let subnet = c.net.subnets.iter().find(|s| s.contains(ip))?;
        // dhcpd's mocked-up lease of a fixed address ends at MIN_TIME: no `lease-time`.
        let (p, _, effects) = c.evaluate(&subnet.params, c.host, Some((ip, true)), Prior::default());
        Some((ip, p, effects))
    }

    /// The reserved address alone (no statement is executed to find it).
    fn fixed_ip(c: &Ctx) -> Option<Ipv4Addr> {
        c.host?.fixed_addresses.iter().copied().find(|ip| c.net.subnets.iter().any(|s| s.contains(*ip)))
    }

    fn pool_of<'n>(&self, net: &'n Network, id: PoolId) -> Option<&'n PoolCfg> {
        net.pools.get(id.checked_sub(net.first_pool_id)? as usize)
    }

    /// Which free leases of `pool` this server may allocate now (None: no service there).
    fn take_for(&self, c: &Ctx, pool: &PoolCfg) -> Option<Take> {
        match &pool.failover_peer {
            None => Some(Take::Any),
            Some(_) => c.fo.as_ref()?.take(c.now.unix),
        }
    }

    /// Pools of the network this client may draw from, with what it may take from each.
    fn usable_pools<'n>(&'n self, c: &'n Ctx<'n>) -> impl Iterator<Item = (PoolId, &'n PoolCfg, Take)> + 'n {
        let known = c.host.is_some();
        // A BOOTP request is what dhcpd's `dynamic bootp clients` permit matches.
        let bootp = c.msg_type.is_none();
        c.net
            .pools
            .iter()
            .enumerate()
            .filter(move |(_, p)| known || p.allow_unknown_clients)
            .filter(move |(_, p)| classify::permitted(p, known, bootp, &c.classes, c.now.unix))
            .filter_map(move |(i, p)| Some((c.net.first_pool_id + i as u32, p, self.take_for(c, p)?)))
    }

    /// The lease time to grant: the configured/requested time, capped by the MCLT rule in a
    /// failover pool (digest §2.6). Returns (given, tstp).
    fn grant(&self, c: &Ctx, pool: &PoolCfg, desired: u32, tsfp: u32) -> (u32, u32) {
        match (&pool.failover_peer, &c.fo) {
            (Some(_), Some(view)) => {
                let given = lease_time_allowed(desired, view.mclt, tsfp, c.now.unix);
                (given, tstp_for(c.now.unix, desired, given))
            }
            _ => (desired, 0),
        }
    }

    fn lease_secs(&self, c: &Ctx, params: &Params) -> u32 {
        let requested = match c.req.opts().get(OptionCode::AddressLeaseTime) {
            Some(DhcpOption::AddressLeaseTime(t)) => Some(*t),
            _ => None,
        };
        let max = params.max_lease_secs.max(params.min_lease_secs);
        requested.unwrap_or(params.default_lease_secs).clamp(params.min_lease_secs, max)
    }

    fn subnet_mask(&self, net: &Network, ip: Ipv4Addr) -> Option<Ipv4Addr> {
        net.subnets.iter().find(|s| s.contains(ip)).map(|s| Ipv4Addr::from(s.mask()))
    }

    /// A full OFFER/ACK for `ip`.
    fn address_reply(&self, c: &Ctx, t: MessageType, ip: Ipv4Addr, params: &Params, lease_secs: u32) -> Reply {
        finish(self.address_message(c, t, ip, params, lease_secs), c, t, ip, true)
    }

    /// The OFFER or ACK for `ip`, before it is encoded.
    fn address_message(&self, c: &Ctx, t: MessageType, ip: Ipv4Addr, params: &Params, lease_secs: u32) -> Message {
        let mut m = reply::base_reply(c.req, Some(t));
        m.set_yiaddr(ip);
        if t == MessageType::Ack && !c.req.ciaddr().is_unspecified() {
            m.set_ciaddr(c.req.ciaddr());
        }
        m.opts_mut().insert(DhcpOption::ServerIdentifier(c.server_id));
        reply::add_lease_times(&mut m, offered_lease_secs(c.now.unix, lease_secs), params);
        if params.option(1).is_none()
            && let Some(mask) = self.subnet_mask(c.net, ip)
        {
            m.opts_mut().insert(DhcpOption::SubnetMask(mask));
        }
        reply::add_options(&mut m, params);
        m
    }

    fn nak(&self, c: &Ctx) -> Outcome {
        let mut m = reply::base_reply(c.req, Some(MessageType::Nak));
        m.opts_mut().insert(DhcpOption::ServerIdentifier(c.server_id));
        Outcome { reply: Some(finish(m, c, MessageType::Nak, Ipv4Addr::UNSPECIFIED, false)), ..Outcome::default() }
    }

    fn requested_ip(req: &Message) -> Option<Ipv4Addr> {
        match req.opts().get(OptionCode::RequestedIpAddress) {
            Some(DhcpOption::RequestedIpAddress(ip)) => Some(*ip),
            _ => None,
        }
    }

    fn discover(&self, c: &Ctx) -> Outcome {
        if let Some((ip, params)) = self.fixed_address(c) {
            if booting_denied(&params) {
                return Outcome::drop(c.msg_type, DropReason::BootingDenied);
            }
            let secs = self.lease_secs(c, &params);
            return Outcome {
                reply: Some(self.address_reply(c, MessageType::Offer, ip, &params, secs)),
                ..Outcome::default()
            };
        }
        let now = c.now.unix;
        let hold = c.now.plus(c.cfg.offer_hold_secs.max(1));
        let in_net =
            |ip: Ipv4Addr| self.usable_pools(c).find(|(_, p, _)| p.contains(ip)).map(|(id, _, take)| (id, take));
        // 1. The address this client had, or holds an offer for (a DISCOVER sent again);
        // 2. the one it asks for; 3. any free one.
        let previous = self
            .store
            .lookup_client(&c.key)
            .map(|l| l.ip)
            .or_else(|| self.store.lookup_offer(&c.key, now))
            .and_then(|ip| Some((ip, in_net(ip)?.1)));
        let mut chosen =
            previous.filter(|(ip, take)| self.store.try_offer(*ip, &c.key, *take, now, hold)).map(|(ip, _)| ip);
        if chosen.is_none()
            && let Some(ip) = Self::requested_ip(c.req)
            && let Some((_, take)) = in_net(ip)
            && self.store.try_offer(ip, &c.key, take, now, hold)
        {
            chosen = Some(ip);
        }
        if chosen.is_none() {
            chosen = self.usable_pools(c).find_map(|(id, _, take)| self.store.allocate(id, &c.key, take, now, hold));
        }
        let Some(ip) = chosen else {
            let reason = if self.usable_pools(c).next().is_none() {
                DropReason::UnknownClientDenied
            } else {
                DropReason::NoFreeAddress
            };
            return Outcome::drop(c.msg_type, reason);
        };
        let Some(pool) = in_net(ip).and_then(|(id, _)| self.pool_of(c.net, id)) else {
            return Outcome::drop(c.msg_type, DropReason::NoFreeAddress);
        };
        // The offered lease's binding scope too, when it was this client's (dhcpd's
        // OFFER evaluates with the lease's scope); what the OFFER sets is not kept.
        let (params, _) = c.params_vars(&pool.params, dynamic_lease_host(c.host), Some((ip, false)), self.prior(c, ip));
        if booting_denied(&params) {
            self.store.cancel_offer(ip, &c.key);
            return Outcome::drop(c.msg_type, DropReason::BootingDenied);
        }
        if self.billing_for(c, ip, false).is_err() {
            self.store.cancel_offer(ip, &c.key);
            return Outcome::drop(c.msg_type, DropReason::LeaseLimitReached);
        }
        // A pool open from or until a date (`allow|deny after`): dhcpd's ack_lease NAKs
        // outside the window, even for a DISCOVER, and caps the lease time within it.
        let Some(desired) = classify::pool_window(pool, now, self.lease_secs(c, &params), min_lease(&params)) else {
            self.store.cancel_offer(ip, &c.key);
            return self.nak(c);
        };
        let stored = self.store.get(ip);
        let tsfp = stored.as_ref().map(|l| l.tsfp).unwrap_or(0);
        let (secs, _) = self.grant(c, pool, desired, tsfp);
        let probe = stored
            .filter(|l| params.ping_check && should_ping(l, &c.key, now, params.ping_cltt_secs))
            .map(|_| Probe { ip, timeout_ms: params.ping_wait_ms(), client: c.key.clone() });
        Outcome {
            reply: Some(self.address_reply(c, MessageType::Offer, ip, &params, secs)),
            probe,
            ..Outcome::default()
        }
    }

    /// Marks `ip` abandoned for `hold` seconds from `now` (another host uses it: a DECLINE,
    /// or an answered ping), free of any client or offer; the lease to journal.
    fn abandon(&self, ip: Ipv4Addr, now: Now, hold: u32) -> Option<Lease> {
        self.store.update(ip, |l| {
            l.state = BindingState::Abandoned;
            l.starts = now.unix;
            l.ends = now.plus(hold);
            l.client = None;
            l.offer = None;
        })
    }

    /// Something answered the echo of a [`Probe`]: the address is in use by a host without
    /// a lease. If it is still offered to the probe's client, it is abandoned for
    /// `abandon-lease-time` (as dhcpd's "pinged before offer") and the lease returned, to be
    /// journalled (and replicated, in a failover pool) like a DECLINE's.
    pub fn probe_answered(&self, probe: &Probe, now: Now) -> Option<Lease> {
        let hold = self.snap.load().cfg.abandon_lease_secs;
        let still_offered =
            self.store.get(probe.ip).is_some_and(|l| l.offer.as_ref().map(|o| &o.client) == Some(&probe.client));
        if !still_offered {
            return None;
        }
        let lease = self.abandon(probe.ip, now, hold);
        if lease.is_some() {
            tracing::warn!(ip = %probe.ip, "ICMP echo reply before the offer: address abandoned (in use by another host)");
        }
        lease
    }

    fn request(&self, c: &Ctx) -> Outcome {
        let server_id = match c.req.opts().get(OptionCode::ServerIdentifier) {
            Some(DhcpOption::ServerIdentifier(ip)) => Some(*ip),
            _ => None,
        };
        let requested = Self::requested_ip(c.req);
        let ciaddr = c.req.ciaddr();
        let authoritative = c.net.subnets.first().map(|s| s.params.authoritative).unwrap_or(false);
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
        let ip = if ciaddr.is_unspecified() { requested } else { Some(ciaddr) };
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
        if let Some(fixed) = Self::fixed_ip(c) {
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
        if let Some((fixed, params, effects)) = self.fixed_address_effects(c)
            && fixed == ip
        {
            let released = self.release_other_lease(c, ip, &params).into_iter().collect();
            if booting_denied(&params) {
                return Outcome { durable: released, ..Outcome::drop(c.msg_type, DropReason::BootingDenied) };
            }
            let secs = self.lease_secs(c, &params);
            // dhcpd runs `on commit` for a fixed address's lease too (its variables are
            // not kept: the lease is in no lease file).
            let (_, commands) = c.commit(
                effects.on_commit.as_deref().map(|b| b.actions.as_slice()),
                dhcp_config::Vars::default(),
                (ip, true),
                c.host,
            );
            c.hooks.push(commands);
            // dhcpd's ddns_updates runs for a static lease too: it decides on
            // `update-static-leases` (see `ddns::plan`), with a fresh scope each time (no
            // kept names, so every ACK sends the updates again) and the lease's new end.
            let hw = HwAddr::new(u8::from(c.req.htype()), c.req.chaddr().get(..c.req.hlen() as usize).unwrap_or(&[]));
            let ends = if secs == u32::MAX { NEVER } else { c.now.plus(secs) };
            let plan = self.ddns_plan_at(c, &params, DdnsSubject { ip, hw, ends, prior: None, fixed: true });
            let mut reply = self.address_message(c, MessageType::Ack, ip, &params, secs);
            answer_fqdn(&mut reply, &params, plan.fqdn_reply);
            return Outcome {
                reply: Some(finish(reply, c, MessageType::Ack, ip, true)),
                durable: released,
                ddns: plan.job,
                ..Outcome::default()
            };
        }
        let Some((pool, take)) = self.usable_pools(c).find(|(_, p, _)| p.contains(ip)).map(|(_, p, t)| (p, t)) else {
            // dhcpd releases the other leases before its permission checks: a client that
            // asks for a lease has forgotten its old one, whether it gets this one or not.
            // (Only for an address of a pool here: dhcpd gets that far only with a lease.)
            let pool_params =
                c.net.pools.iter().find(|p| p.contains(ip)).map(|p| c.params(&p.params, None, Some((ip, false))));
            let released = pool_params.map(|p| self.release_other_lease(c, ip, &p)).unwrap_or_default();
            let mut out = self.nak(c);
            out.durable.extend(released);
            return out;
        };
        let (params, vars, effects) =
            c.evaluate(&pool.params, dynamic_lease_host(c.host), Some((ip, false)), self.prior(c, ip));
        let released = self.release_other_lease(c, ip, &params);
        // dhcpd drops the request silently (no NAK) once the other lease is released.
        if booting_denied(&params) {
            return Outcome {
                durable: released.into_iter().collect(),
                ..Outcome::drop(c.msg_type, DropReason::BootingDenied)
            };
        }
        let Ok(billing) = self.billing_for(c, ip, true) else {
            return Outcome {
                durable: released.into_iter().collect(),
                ..Outcome::drop(c.msg_type, DropReason::LeaseLimitReached)
            };
        };
        let billing = billing.map(Box::new);
        let now = c.now.unix;
        // The window of a pool open from or until a date (see `discover`).
        let Some(desired) = classify::pool_window(pool, now, self.lease_secs(c, &params), min_lease(&params)) else {
            let mut out = self.nak(c);
            out.durable.extend(released);
            return out;
        };
        let mut secs = desired;
        let hostname = match c.req.opts().get(OptionCode::Hostname) {
            Some(DhcpOption::Hostname(h)) => Some(h.clone().into_boxed_str()),
            _ => None,
        };
        // A failover pool's address that is free but not ours to allocate: dhcpd stays silent
        // ("lease owned by peer", "lease in transition state"), and so do we. A NAK would take
        // the address from a client that the partner, which owns it, still answers: e.g. a
        // renewal that comes after the lease expired reaches the secondary, the primary owns
        // the address again, and the client's REBIND broadcast is answered by the primary.
        if pool.failover_peer.is_some()
            && let Some(l) = self.store.get(ip)
            && l.state.is_available()
            && !take.allows(&l, now)
        {
            return Outcome::drop(c.msg_type, DropReason::OwnedByPartner);
        }
        let hw = HwAddr::new(u8::from(c.req.htype()), c.req.chaddr().get(..c.req.hlen() as usize).unwrap_or(&[]));
        // dhcpd keeps the client's vendor-class-identifier in the lease's binding scope
        // (for DHCPLEASEQUERY), after the scopes' statements and before `on commit`;
        // its lease file shows it as `set vendor-class-identifier = "...";`.
        let mut vars = vars;
        let vci = dhcp_config::OptionRef::Dhcp { code: 60, strip_nuls: false };
        if let Some(v) = c.packet().option(vci).filter(|v| !v.is_empty()) {
            vars.set("vendor-class-identifier", Some(v.into_owned()));
        }
        // `on commit` runs as the lease is granted, and may set variables it keeps.
        let (vars, commit_commands) = c.commit(
            effects.on_commit.as_deref().map(|b| b.actions.as_slice()),
            vars,
            (ip, false),
            dynamic_lease_host(c.host),
        );
        let vars = (!vars.0.is_empty()).then(|| Box::new(vars));
        let on_events = (effects.on_release.is_some() || effects.on_expiry.is_some())
            .then(|| Arc::new(crate::lease::LeaseEvents { release: effects.on_release, expiry: effects.on_expiry }));
        let bound = self.store.update_if_available(ip, &c.key, take, now, |l| {
            // The end this client may hold from an earlier ACK of this binding: a renewal
            // granted for less (the MCLT rule, or the client asked for less) must not shorten
            // what the server keeps, for the new ACK may never reach the client (withheld when
            // its write fails, or lost), and the client then holds the longer lease
            // (simulation seeds 75226, 27184: the address expired at the shorter end while
            // its client still held it).
            let promised = (l.state == BindingState::Active && l.client.as_ref() == Some(&c.key) && l.ends > now)
                .then_some(l.ends);
            // The binding scope as this request left it (dhcpd writes it with the lease).
            l.vars = vars.clone();
            l.billing = billing.clone();
            l.on_events = on_events.clone();
            let (given, tstp) = self.grant(c, pool, desired, l.tsfp);
            secs = given;
            if pool.failover_peer.is_some() {
                l.tstp = tstp;
                // dhcpd lowers tsfp to tstp when the new promise is shorter.
                if tstp < l.tsfp {
                    l.tsfp = tstp;
                }
            }
            l.state = BindingState::Active;
            l.starts = now;
            l.ends = if secs == u32::MAX { NEVER } else { c.now.plus(secs) };
            if let Some(held) = promised
                && held > l.ends
            {
                l.ends = held;
                // What the partner is told may not end before what the server keeps.
                if pool.failover_peer.is_some() {
                    l.tstp = l.tstp.max(held);
                }
            }
            l.cltt = now;
            l.client = Some(c.key.clone());
            l.hw = Some(hw);
            if hostname.is_some() {
                l.hostname = hostname.clone();
            }
            l.offer = None;
        });
        match bound {
            Some(mut lease) => {
                c.hooks.push(commit_commands);
                // The DNS updates go with the record to the journal and start once it is
                // durable, never before the ACK (runtime::ddns); the ACK only answers the
                // client's FQDN option with what the plan says.
                let plan = self.ddns_plan(c, &params, &lease);
                lease.ddns = plan.job.map(Arc::new);
                let mut reply = self.address_message(c, MessageType::Ack, ip, &params, secs);
                answer_fqdn(&mut reply, &params, plan.fqdn_reply);
                Outcome {
                    reply: Some(finish(reply, c, MessageType::Ack, ip, true)),
                    durable: released.into_iter().chain([lease]).collect(),
                    ..Outcome::default()
                }
            }
            None => {
                let mut out = self.nak(c);
                out.durable.extend(released);
                out
            }
        }
    }

    /// The DNS updates of a binding just made (dhcpd's `ddns_updates`, see `crate::ddns`).
    fn ddns_plan(&self, c: &Ctx, params: &Params, lease: &Lease) -> crate::ddns::BindPlan {
        let hw = lease.hw.unwrap_or_else(|| HwAddr::new(0, &[]));
        let subject = DdnsSubject { ip: lease.ip, hw, ends: lease.ends, prior: lease.vars.as_deref(), fixed: false };
        self.ddns_plan_at(c, params, subject)
    }

    /// [`Engine::ddns_plan`] for a binding with or without a lease record.
    fn ddns_plan_at(&self, c: &Ctx, params: &Params, s: DdnsSubject<'_>) -> crate::ddns::BindPlan {
        let Some(style) = c.cfg.ddns_style else { return crate::ddns::BindPlan::default() };
        let pkt = c.packet();
        let fqdn = pkt.option(dhcp_config::OptionRef::Dhcp { code: 81, strip_nuls: false });
        let host_name = pkt.option(dhcp_config::OptionRef::Dhcp { code: 12, strip_nuls: true });
        // dhcpd hangs the host on a static lease as on a dynamic one (`lease->host`).
        let lease_host = if s.fixed { c.host } else { dynamic_lease_host(c.host) };
        let host_decl_name = lease_host.filter(|_| params.use_host_decl_names == Some(true)).map(|h| h.name.as_str());
        let input = crate::ddns::plan::BindInput {
            style,
            params: &params.ddns,
            ip: s.ip,
            fqdn: fqdn.as_deref().and_then(crate::ddns::plan::ClientFqdn::parse),
            host_name: host_name.as_deref(),
            config_host_name: params.option(12),
            config_domain_name: params.option(15),
            host_decl_name,
            client_id: c.key.client_id(),
            htype: s.hw.htype,
            chaddr: s.hw.as_slice(),
            now: c.now.unix,
            ends: s.ends,
            prior: s.prior,
            static_lease: s.fixed,
            update_static_leases: params.update_static_leases == Some(true),
        };
        match crate::ddns::plan_bind_reply(&input) {
            Ok(plan) => plan,
            Err(e) => {
                tracing::warn!(ip = %s.ip, "no DNS update: {e}");
                crate::ddns::BindPlan::default()
            }
        }
    }

    /// `one-lease-per-client on` (dhcpd's ack_lease, DHCPREQUEST only): the client asks
    /// for `ip`, so it has forgotten any other lease it held; that lease is released (as
    /// a DHCPRELEASE would: RELEASED in a failover pool, so the partner hears of it
    /// through the journal's replication). dhcpd releases every other lease of the
    /// client in a bound state; the store indexes one lease per client (its latest), and
    /// with the flag on a client never holds more than that one besides `ip`.
    fn release_other_lease(&self, c: &Ctx, ip: Ipv4Addr, params: &Params) -> Vec<Lease> {
        if params.one_lease_per_client != Some(true) {
            return Vec::new();
        }
        let mut out = Vec::new();
        if let Some(other) = self.store.lookup_client(&c.key).filter(|l| l.ip != ip && l.state == BindingState::Active)
        {
            out.extend(self.release_bound(c, other.ip, ip, |l| l.client.as_ref() == Some(&c.key)));
        }
        // dhcpd (find_lease): with `deny duplicates`, a client matching a host declared
        // without client identifier releases every other lease of its hardware address
        // too, whatever their client identifiers.
        if !params.duplicates
            && c.host.is_some_and(|h| h.client_identifier.is_none())
            && let Some(hw) = c.req.chaddr().get(..usize::from(c.req.hlen()).min(16))
        {
            let hw = HwAddr::new(u8::from(c.req.htype()), hw);
            for other in self.store.bound_with_hw(&hw) {
                if other != ip && !out.iter().any(|l: &Lease| l.ip == other) {
                    out.extend(self.release_bound(c, other, ip, |l| l.hw == Some(hw)));
                }
            }
        }
        out
    }

    /// Releases bound lease `other` (for the client's request of `ip`) if `whose` still
    /// holds for it under its lock; runs its `on release` statements.
    fn release_bound(&self, c: &Ctx, other: Ipv4Addr, ip: Ipv4Addr, whose: impl Fn(&Lease) -> bool) -> Option<Lease> {
        let failover = self.store.get(other).is_some_and(|l| c.cfg.pool_peer(l.pool).is_some());
        let now = c.now.unix;
        let mut events = None;
        let released = self.store.update(other, |l| {
            // Re-checked under the lease's lock: another worker may have changed it.
            if whose(l) && l.state == BindingState::Active {
                events = l.on_events.take();
                release_in_place(l, failover, now);
            }
        })?;
        self.lease_event(c.raw, c.host.is_some(), &released, events.and_then(|e| e.release.clone()));
        (released.state != BindingState::Active).then(|| {
            tracing::debug!(released = %other, requested = %ip, "one-lease-per-client: other lease released");
            released
        })
    }

    fn release(&self, c: &Ctx) -> Outcome {
        let ip = c.req.ciaddr();
        let mut out = Outcome::drop(c.msg_type, DropReason::NoReplyExpected);
        let now = c.now.unix;
        let mut events = None;
        if let Some(l) = self.store.get(ip)
            && l.client.as_ref() == Some(&c.key)
            && l.is_bound_at(now)
            && let failover = c.cfg.pool_peer(l.pool).is_some()
            && let Some(l) = self.store.update(ip, |l| {
                // Standalone: straight back to free (the client key stays for affinity).
                // Failover: RELEASED until the partner acknowledges, then free.
                events = l.on_events.take();
                release_in_place(l, failover, now);
            })
        {
            self.lease_event(c.raw, c.host.is_some(), &l, events.and_then(|e| e.release.clone()));
            out.durable.push(l);
        }
        out
    }

    /// Runs a lease's `on release` / `on expiry` statements (`raw`: the request that
    /// caused it, empty for an expiry) with its variables; their programs are queued.
    /// What they set is not kept (the binding has ended).
    fn lease_event(&self, raw: &[u8], known: bool, lease: &Lease, block: Option<Arc<dhcp_config::model::OnBlock>>) {
        let Some(block) = block else { return };
        let actions = &block.actions;
        let vars = std::cell::RefCell::new(lease.vars.as_deref().cloned().unwrap_or_default());
        let effects = std::cell::RefCell::new(dhcp_config::Effects::default());
        let pkt = dhcp_config::Packet::new(raw, known)
            .with_vars(&vars)
            .with_effects(&effects)
            .with_lease(lease.ip, false, None);
        classify::run_event(actions, &pkt);
        self.hooks.push(effects.into_inner().commands);
    }

    /// The programs `execute` statements queued, for the runtime to run.
    pub fn hooks(&self) -> Arc<classify::HookQueue> {
        Arc::clone(&self.hooks)
    }

    fn decline(&self, c: &Ctx) -> Outcome {
        let mut out = Outcome::drop(c.msg_type, DropReason::NoReplyExpected);
        let Some(ip) = Self::requested_ip(c.req) else {
            return out;
        };
        let Some(lease) = self.store.get(ip) else {
            return out;
        };
        let mine = lease.client.as_ref() == Some(&c.key) || lease.offer.as_ref().map(|o| &o.client) == Some(&c.key);
        if !mine {
            return out;
        }
        // Another host uses the address: abandon it for dhcpd's abandon-lease-time (one
        // global value; `now + time` saturates at NEVER, as dhcpd caps it at MAX_TIME).
        if let Some(l) = self.abandon(ip, c.now, c.cfg.abandon_lease_secs) {
            tracing::warn!(%ip, "DHCPDECLINE: address abandoned (in use by another host)");
            out.durable.push(l);
        }
        out
    }

    fn inform(&self, c: &Ctx) -> Outcome {
        let ciaddr = c.req.ciaddr();
        let subnet = c.net.subnets.iter().find(|s| s.contains(ciaddr)).or(c.net.subnets.first());
        let Some(subnet) = subnet else {
            return Outcome::drop(c.msg_type, DropReason::UnknownNetwork);
        };
        // dhcpd answers no INFORM for a subnet it is not authoritative for: another server
        // may own the configuration of that network.
        if !subnet.params.authoritative {
            return Outcome::drop(c.msg_type, DropReason::InformNotAuthoritative);
        }
        // dhcpd's dhcpinform adds no host declaration name.
        let params = c.params(&subnet.params, None, None);
        let mut m = reply::base_reply(c.req, Some(MessageType::Ack));
        m.set_ciaddr(ciaddr);
        m.opts_mut().insert(DhcpOption::ServerIdentifier(c.server_id));
        // As dhcpd does, the subnet's mask unless an option gives one.
        m.opts_mut().insert(DhcpOption::SubnetMask(Ipv4Addr::from(subnet.mask())));
        reply::add_options(&mut m, &params);
        Outcome { reply: Some(finish(m, c, MessageType::Ack, Ipv4Addr::UNSPECIFIED, false)), ..Outcome::default() }
    }

    fn bootp(&self, c: &Ctx) -> Outcome {
        // A host's fixed address is answered as dhcpd's bootp() does, without overloading
        // `file`/`sname`; a dynamic binding through its ack_lease, which may.
        let reply_for = |ip: Ipv4Addr, params: &Params, overload: bool| {
            let mut m = reply::base_reply(c.req, None);
            m.set_yiaddr(ip);
            if let Some(mask) = self.subnet_mask(c.net, ip) {
                m.opts_mut().insert(DhcpOption::SubnetMask(mask));
            }
            reply::add_options(&mut m, params);
            finish(m, c, MessageType::Ack, ip, overload)
        };
        if let Some((ip, params)) = self.fixed_address(c) {
            if booting_denied(&params) {
                return Outcome::drop(None, DropReason::BootingDenied);
            }
            return Outcome { reply: Some(reply_for(ip, &params, false)), ..Outcome::default() };
        }
        let now = c.now.unix;
        let pools: Vec<(PoolId, &PoolCfg, Take)> = self.usable_pools(c).filter(|(_, p, _)| p.dynamic_bootp).collect();
        if pools.is_empty() {
            return Outcome::drop(None, DropReason::BootpNotAllowed);
        }
        let previous =
            self.store.lookup_client(&c.key).map(|l| l.ip).filter(|ip| pools.iter().any(|(_, p, _)| p.contains(*ip)));
        let ip = previous
            .or_else(|| pools.iter().find_map(|(id, _, take)| self.store.allocate(*id, &c.key, *take, now, now + 1)));
        let Some(ip) = ip else {
            return Outcome::drop(None, DropReason::NoFreeAddress);
        };
        let take = pools.iter().find(|(_, p, _)| p.contains(ip)).map(|(_, _, t)| *t).unwrap_or(Take::Any);
        // The client's values decide before the address is bound (dhcpd checks booting
        // in ack_lease, before it commits the lease).
        let (params, vars) = pools
            .iter()
            .find(|(_, p, _)| p.contains(ip))
            .map(|(_, p, _)| c.params_vars(&p.params, dynamic_lease_host(c.host), Some((ip, false)), self.prior(c, ip)))
            .unwrap_or_default();
        let vars = (!vars.0.is_empty()).then(|| Box::new(vars));
        if booting_denied(&params) {
            self.store.cancel_offer(ip, &c.key);
            return Outcome::drop(None, DropReason::BootingDenied);
        }
        let hw = HwAddr::new(u8::from(c.req.htype()), c.req.chaddr().get(..c.req.hlen() as usize).unwrap_or(&[]));
        let Some(lease) = self.store.update_if_available(ip, &c.key, take, now, |l| {
            // BOOTP leases never end (dhcpd: `ends never`).
            l.state = BindingState::Active;
            l.starts = now;
            l.ends = NEVER;
            l.cltt = now;
            l.client = Some(c.key.clone());
            l.hw = Some(hw);
            l.billing = None;
            l.vars = vars;
            l.offer = None;
        }) else {
            return Outcome::drop(None, DropReason::NoFreeAddress);
        };
        Outcome { reply: Some(reply_for(ip, &params, true)), durable: vec![lease], ..Outcome::default() }
    }

    /// Expiry sweep: bound leases past their end go back to free (standalone) or to EXPIRED
    /// (failover; free once the partner acknowledges). A secondary in NORMAL leaves expiry to
    /// the primary, as dhcpd does. Returns the changed leases for the journal (and partner).
    pub fn expire(&self, now: Now, limit: usize) -> Vec<Lease> {
        let cfg = self.config();

        self.store
            .due_for_expiry(now.unix, limit)
            .into_iter()
            .filter_map(|ip| {
                let pool = self.store.get(ip)?.pool;
                let next = match cfg.pool_peer(pool) {
                    None => BindingState::Free,
                    Some(peer) => {
                        let leave = self
                            .failover_view(peer)
                            .is_none_or(|view| view.role == Role::Secondary && view.state == State::NORMAL);
                        if leave {
                            // Left bound for now: looked at again by the next sweep.
                            self.store.requeue_expiry(ip);
                            return None;
                        }
                        BindingState::Expired
                    }
                };
                let mut events = None;
                let l = self.store.update(ip, |l| {
                    if l.state == BindingState::Active && l.ends != NEVER && l.ends <= now.unix {
                        l.state = next;
                        events = l.on_events.take();
                    }
                })?;
                // No request caused it: the statements see no packet.
                self.lease_event(&[], false, &l, events.and_then(|e| e.expiry.clone()));
                Some(l)
            })
            .filter(|l| matches!(l.state, BindingState::Free | BindingState::Expired))
            .collect()
    }

    /// The partner is in RECOVER: it lost its bindings (or says it may have). What it granted
    /// or renewed out of contact, before the loss, we know only by the potential expiry it
    /// had from us (`tsfp`): it may have given a client up to `tsfp + mclt` (the MCLT rule,
    /// `lease_time_allowed`). Its acks vouch for nothing from now on (it acks any expiry), so
    /// every lease of the relationship a client may still hold that long stays bound to its
    /// last client until then: an ACTIVE lease's end moves there, an EXPIRED one is bound
    /// again. The full update the partner asks for then carries the hold to it too.
    /// Simulation seed 76848: the recovered partner acked an expiry, the lease went free,
    /// and was granted again while the client the partner had renewed still held it.
    /// Returns the changed leases (for the journal).
    pub fn hold_for_amnesic_partner(&self, peer: &str, now: u32, mclt: u32) -> Vec<Lease> {
        let cfg = self.config();
        let ips: Vec<Ipv4Addr> = self
            .store
            .snapshot()
            .into_iter()
            .filter(|l| cfg.pool_peer(l.pool) == Some(peer))
            .filter(|l| matches!(l.state, BindingState::Active | BindingState::Expired))
            .filter(|l| l.client.is_some() || l.hw.is_some())
            .filter(|l| l.tsfp != 0 && l.tsfp.saturating_add(mclt) > now)
            .map(|l| l.ip)
            .collect();
        ips.into_iter()
            .filter_map(|ip| {
                let mut changed = false;
                let l = self.store.update(ip, |l| {
                    let until = if l.tsfp >= dhcp_failover::transitions::MAX_TIME {
                        NEVER
                    } else {
                        l.tsfp.saturating_add(mclt)
                    };
                    let held = match l.state {
                        BindingState::Active => l.ends != NEVER && l.ends < until,
                        BindingState::Expired => until > now,
                        _ => false,
                    };
                    if held {
                        l.state = BindingState::Active;
                        l.ends = until;
                        l.tstp = l.tstp.max(until.min(dhcp_failover::transitions::MAX_TIME));
                        changed = true;
                    }
                })?;
                changed.then_some(l)
            })
            .collect()
    }

    /// A partner's BNDUPD: check it (digest §4.3), apply it. The caller journals the lease,
    /// then acks; on `Err` it rejects with the reason. `own_pending` is our own un-acked
    /// update of the same lease, if any (from `dhcp_failover::Event::BindingReceived`): when it
    /// wins the duel the partner's update is refused (reason 16); when it loses, the caller
    /// withdraws it ([`dhcp_failover::Peer::withdraw_update`]).
    pub fn apply_binding(
        &self,
        peer: &str,
        now: Now,
        b: &Binding,
        own_pending: Option<&Binding>,
    ) -> Result<Lease, Refusal> {
        use dhcp_failover::wire::RejectReason as R;
        let cfg = self.config();
        let illegal = || (R::ILLEGAL_IP_ADDR, format!("{}: not in a pool of relationship {peer}", b.ip));
        let view = self.failover_view(peer);
        let role = view.as_ref().map(|v| v.role).unwrap_or(Role::Primary);
        let normal = view.as_ref().map(|v| v.state == State::NORMAL).unwrap_or(false);
        let mut removal = None;
        // Checked and applied under the lease's lock: a worker binding the address meanwhile
        // either went first (and the check sees its binding) or waits for this change.
        self.store
            .try_update(b.ip, |current| {
                if cfg.pool_peer(current.pool) != Some(peer) {
                    return Err(illegal());
                }
                let state = fo::accept(current, b, role, normal, now.unix)?;
                if let Some(own) = own_pending
                    && fo::own_update_wins(own, b, role)
                {
                    return Err((
                        R::LESS_CRIT_BIND_INFO,
                        format!("{}: our own update ({}) crossed this one and wins", b.ip, own.status),
                    ));
                }
                // A longer grant of the same client held here, with no update of ours in
                // flight: it may be our own, bound by a worker whose write is still in flight
                // (the relationship learns of it once durable), with its ACK on the way to
                // the client. The partner's shorter grant must not replace it: the client may
                // hold ours (simulation seed 12477: the lease expired at the partner's end
                // while its client held ours). Refused as outdated, so ours goes back and
                // both converge on the longer, as the duel of crossing updates decides for
                // one client.
                if own_pending.is_none()
                    && current.state == BindingState::Active
                    && b.status.state() == Some(BindingState::Active)
                    && current.ends > b.ends
                    && current.ends > now.unix
                    && current.client.is_some()
                    && current.client == fo::binding_client(b)
                {
                    return Err((
                        R::OUTDATED_BIND_INFO,
                        format!("{}: a longer grant of the same client is held here (ends {})", b.ip, current.ends),
                    ));
                }
                let own = fo::ddns_vars(current.vars.as_deref());
                let was_bound = matches!(current.state, BindingState::Active | BindingState::Bootp);
                let client_before = current.client.clone();
                fo::apply(current, b, state);
                let client_changed = client_before.is_some() && current.client != client_before;
                removal = fo::partner_ddns(current, own, was_bound, client_changed, &fo::PartnerDdns::of(b));
                Ok(())
            })
            .unwrap_or_else(|| Err(illegal()))
            .map(|mut l| {
                // Queued once the change is durable, like our own ends (runtime::ddns).
                if cfg.ddns_style.is_some()
                    && let Some(r) = removal
                {
                    let params = cfg.pool(l.pool).map(|(_, p)| p.params.ddns.clone()).unwrap_or_default();
                    if let Some(mut job) = crate::ddns::plan_end(l.ip, &r.vars, &params) {
                        if !r.with_ptr {
                            job.rev_name = None;
                        }
                        l.ddns = Some(Arc::new(crate::ddns::Job::Remove(job)));
                    }
                }
                l
            })
    }

    /// The partner acknowledged our update of `ip` carrying `tstp`: record it, and finish
    /// EXPIRED/RELEASED/RESET leases as free (digest §2.5). Not when the partner is in
    /// RECOVER (`partner_amnesic`): having lost its lease file it accepts
    /// any expiry, even of a lease it extended before the loss, so its ack of an ending
    /// frees nothing and vouches for no time; the lease is sent again once the partner is
    /// NORMAL.
    pub fn binding_acked(&self, ip: Ipv4Addr, tstp: u32, partner_amnesic: bool) -> Option<Lease> {
        let ending =
            |l: &Lease| matches!(l.state, BindingState::Expired | BindingState::Released | BindingState::Reset);
        if partner_amnesic && self.store.get(ip).is_some_and(|l| ending(&l)) {
            return None;
        }
        self.store.update(ip, |l| {
            l.tsfp = tstp;
            l.atsfp = tstp;
            if matches!(l.state, BindingState::Expired | BindingState::Released | BindingState::Reset) {
                l.state = BindingState::Free;
            }
        })
    }

    /// Leases of a relationship's pools: all of them (UPDREQALL) or those the partner has not
    /// acknowledged yet (UPDREQ, entering NORMAL: `tstp > atsfp`, or not yet free).
    pub fn relationship_leases(&self, peer: &str, pending_only: bool) -> Vec<Lease> {
        let cfg = self.config();
        self.store
            .snapshot()
            .into_iter()
            .filter(|l| cfg.pool_peer(l.pool) == Some(peer))
            // A FREE lease never used nor transferred carries nothing the partner lacks: both
            // sides start every range FREE. Skipping them makes a fresh pair's resync cost
            // what is in use, not the size of the pool.
            .filter(|l| !(l.state == BindingState::Free && l.starts == 0 && l.tstp == 0 && l.client.is_none()))
            .filter(|l| {
                !pending_only || l.tstp > l.atsfp || matches!(l.state, BindingState::Expired | BindingState::Released)
            })
            .collect()
    }

    /// Pool balancing (digest §3), run by the primary in NORMAL: hand FREE leases to the
    /// secondary as BACKUP until each pool is balanced — half of the free-state leases each,
    /// or in hot standby `reserve_percent` of them. Returns the leases moved (to journal and
    /// send). Never-used and least recently used leases go first.
    pub fn rebalance(&self, peer: &str, now: Now, misbalance_percent: u32, reserve_percent: Option<u8>) -> Vec<Lease> {
        let Some(view) = self.failover_view(peer) else { return Vec::new() };
        if view.role != Role::Primary || view.state != State::NORMAL {
            return Vec::new();
        }
        let mut moved = Vec::new();
        for id in self.relationship_pools(peer) {
            // The decision from the counts kept as leases change: a balanced pool (every
            // check but the first few) costs nothing, where a walk over a million addresses
            // every check held ACKs back (issue 14).
            let (free, backup) = self.store.free_and_backup(id);
            let (free, backup) = (free as i64, backup as i64);
            let total = free + backup;
            let target_backup = match reserve_percent {
                Some(pct) => (total * i64::from(pct) + 99) / 100,
                None => total / 2,
            };
            let thresh = (total * i64::from(misbalance_percent) + 50) / 100;
            let give = target_backup - backup;
            // Hot standby has no hash to balance by: move exactly the reserve.
            if give <= 0 || (reserve_percent.is_none() && give <= thresh / 2) {
                continue;
            }
            let leases = self.store.pool_leases(id);
            let free: Vec<_> = leases.iter().filter(|(_, s, _)| *s == BindingState::Free).collect();
            // MAC affinity (dhcpd's first balancing pass): leases whose last client the
            // secondary's hash serves go first, so a returning client finds its old address
            // on the server that answers it; then never-used and least recently used ones.
            let hba = view.steering.hba;
            let affinity = reserve_percent.is_none() && view.steering.has_hba != 0;
            let peer_serves = |ip: Ipv4Addr| {
                affinity
                    && self
                        .store
                        .get(ip)
                        .and_then(|l| l.client)
                        .is_some_and(|k| !hba.primary_serves(dhcp_common::lb_hash(k.hash_key())))
            };
            let mut candidates = free;
            candidates.sort_by_cached_key(|(ip, _, starts)| (!peer_serves(*ip), *starts, u32::from(*ip)));
            for (ip, _, _) in candidates.into_iter().take(give as usize) {
                if let Some(l) = self.store.update(*ip, |l| {
                    if l.state == BindingState::Free && l.offer.is_none() {
                        l.state = BindingState::Backup;
                        // Not before now: a secondary refuses a free-state update of an
                        // EXPIRED lease whose tstp lies ahead (sim seed 3317).
                        l.tstp = now.unix;
                        // Nothing of this state is acknowledged yet, so the move counts as
                        // unsent (`tstp > atsfp`) until its own ack. The ack of the lease's
                        // expiry may have carried a later potential expiry than now: the move
                        // then looked acked and was never re-sent after a crash (sim seeds
                        // 77041 and 1809: BACKUP on one side, FREE on the other).
                        l.atsfp = 0;
                        l.starts = now.unix;
                        l.hostname = None;
                    }
                }) && l.state == BindingState::Backup
                {
                    moved.push(l);
                }
            }
        }
        moved
    }

    /// Load a lease from the lease file (or the partner).
    pub fn restore(&self, mut lease: Lease) -> bool {
        if lease.on_events.is_some() {
            lease.on_events = self.pending_events(&lease);
        }
        let billed = lease.billing.as_deref().filter(|_| lease.state == BindingState::Active).cloned();
        let ip = lease.ip;
        let restored = self.store.restore(lease);
        if restored && let Some(b) = billed {
            let mut entry = self.billed.entry(b).or_default();
            if !entry.contains(&ip) {
                entry.push(ip);
            }
        }
        restored
    }

    /// dhcpd's billing (ack_lease, "per-class billing"): a lease already billed to one
    /// of the client's classes stays billed to it; otherwise the first of the client's
    /// classes with a `lease limit` that has room is billed (`commit`: recorded, for an
    /// ACK; an OFFER only checks, as dhcpd unbills an offer). `Err` when the client has
    /// classes with limits and all are full: dhcpd then drops the request. Fixed
    /// addresses are never billed.
    fn billing_for(&self, c: &Ctx, ip: Ipv4Addr, commit: bool) -> Result<Option<Billing>, ()> {
        if !c.cfg.has_lease_limits || c.classes.is_empty() {
            return Ok(None);
        }
        // The billing classes of this client, in joining order, with their limits.
        let keys: Vec<(Billing, u32)> = c
            .classes
            .iter()
            .enumerate()
            .filter_map(|(i, (class, sub))| {
                let k = c.cfg.classes.get(class)?;
                let (value, limit) = match sub.and_then(|s| k.subclasses.get(s)) {
                    Some(s) => (Some(s.data.clone().into_boxed_slice()), s.lease_limit),
                    None => (c.classes.spawned(i).map(Into::into), k.lease_limit),
                };
                Some((Billing { class: k.name.as_str().into(), subclass: value }, limit?))
            })
            .collect();
        if keys.is_empty() {
            return Ok(None);
        }
        let current = self.store.get(ip).filter(|l| l.client.as_ref() == Some(&c.key)).and_then(|l| l.billing);
        if let Some(b) = current.filter(|b| keys.iter().any(|(k, _)| k == b.as_ref())) {
            return Ok(Some(*b));
        }
        for (key, limit) in keys {
            if self.try_bill(&key, ip, limit, commit) {
                return Ok(Some(key));
            }
        }
        Err(())
    }

    /// Whether `key` has room for `ip` (or bills it already), recording it if `commit`.
    fn try_bill(&self, key: &Billing, ip: Ipv4Addr, limit: u32, commit: bool) -> bool {
        let mut entry = self.billed.entry(key.clone()).or_default();
        // Only leases still bound and billed to this class count.
        entry.retain(|a| {
            *a == ip
                || self
                    .store
                    .get(*a)
                    .is_some_and(|l| l.state == BindingState::Active && l.billing.as_deref() == Some(key))
        });
        let room = entry.contains(&ip) || entry.len() < limit as usize;
        if room && commit && !entry.contains(&ip) {
            entry.push(ip);
        }
        let empty = entry.is_empty();
        drop(entry);
        if empty {
            self.billed.remove_if(key, |_, v| v.is_empty());
        }
        room
    }

    /// The pending event statements of a lease read from the lease file (text only),
    /// found in the configuration by their text; those of a bound lease only (dhcpd
    /// keeps them until the lease is released, expires or is freed). A text no `on`
    /// block of the configuration has (the block was changed or removed, or written by
    /// dhcpd in a spelling of its own) cannot be compiled here: dropped, with a warning.
    fn pending_events(&self, lease: &Lease) -> Option<Arc<crate::lease::LeaseEvents>> {
        let ev = lease.on_events.as_deref()?;
        if lease.state != BindingState::Active {
            return None;
        }
        let snap = self.snap.load();
        let find = |b: &Option<Arc<dhcp_config::model::OnBlock>>| {
            let b = b.as_ref()?;
            let found = snap.event_blocks.get(&b.source).cloned();
            if found.is_none() {
                tracing::warn!(
                    ip = %lease.ip,
                    statements = %b.source,
                    "lease file: no `on` block of the configuration has these statements; they will not run"
                );
            }
            found
        };
        let events = crate::lease::LeaseEvents { release: find(&ev.release), expiry: find(&ev.expiry) };
        (events.release.is_some() || events.expiry.is_some()).then(|| Arc::new(events))
    }

    /// Load many leases on every core (startup from a large lease file). Returns how many
    /// belonged to a configured pool.
    pub fn restore_all(&self, records: &[dhcp_journal::LeaseRecord]) -> usize {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 8);
        let chunk = records.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = records
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || part.iter().filter(|r| self.restore(crate::lease::record::from_record(r))).count())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        })
    }
}

/// The key a client is known by: option 61 if present, else htype + chaddr.
pub fn client_key(req: &Message) -> ClientKey {
    match req.opts().get(OptionCode::ClientIdentifier) {
        Some(DhcpOption::ClientIdentifier(id)) if !id.is_empty() => ClientKey::from_client_id(id),
        _ => hw_key(req),
    }
}

/// The key of the client's hardware address (htype + chaddr), as dhcpd knows a lease that
/// records no client identifier.
fn hw_key(req: &Message) -> ClientKey {
    ClientKey::from_hw(u8::from(req.htype()), req.chaddr().get(..req.hlen() as usize).unwrap_or(&[]))
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
    // Space options per space and code: a host's value replaces the scopes' one in its
    // place, a new code comes after them (dhcpd's one option state, host statements last).
    if !over.space_options.is_empty() {
        let opts = std::sync::Arc::make_mut(&mut p.space_options);
        for o in over.space_options.iter() {
            match opts.iter_mut().find(|x| x.space == o.space && x.code == o.code) {
                Some(x) => x.data = o.data.clone(),
                None => opts.push(o.clone()),
            }
        }
    }
    if over.vendor_option_space.is_some() {
        p.vendor_option_space = over.vendor_option_space.clone();
    }
    p.option43_explicit |= over.option43_explicit;
    // The host's own values replace what the scopes and classes set, expressions too.
    if over.next_server.is_some() {
        p.next_server = over.next_server;
        p.header_exprs[2] = None;
    }
    if over.filename.is_some() {
        p.filename = over.filename.clone();
        p.header_exprs[0] = None;
    }
    if over.server_name.is_some() {
        p.server_name = over.server_name.clone();
        p.header_exprs[1] = None;
    }
    p.use_host_decl_names = over.use_host_decl_names.or(p.use_host_decl_names);
    p.one_lease_per_client = over.one_lease_per_client.or(p.one_lease_per_client);
    p.ignore_client_uids = over.ignore_client_uids.or(p.ignore_client_uids);
    p.update_static_leases = over.update_static_leases.or(p.update_static_leases);
    p.allow_booting = over.allow_booting.or(p.allow_booting);
    p
}

/// dhcpd's do_ping_check: no echo for an active lease; an address its own client used
/// within `ping-cltt-secs` is offered again at once (unless abandoned); any other is pinged.
fn should_ping(lease: &Lease, client: &ClientKey, now: u32, cltt_secs: u32) -> bool {
    if lease.state == BindingState::Active {
        return false;
    }
    let same_client = lease.client.as_ref() == Some(client);
    !(same_client
        && lease.cltt != 0
        && lease.state != BindingState::Abandoned
        && now.saturating_sub(lease.cltt) < cltt_secs)
}

/// dhcpd's MAX_TIME: its leases end at the latest at this Unix time (2038).
const MAX_TIME: u32 = 0x7fff_ffff;

/// The lease time a reply says (option 51), as dhcpd's ack_lease computes it: the
/// expiry it offers minus now, where an infinite lease (`u32::MAX`) expires at MAX_TIME
/// and any other at most a second before it.
fn offered_lease_secs(now: u32, secs: u32) -> u32 {
    let expiry = if secs == u32::MAX { MAX_TIME } else { now.saturating_add(secs).min(MAX_TIME - 1) };
    expiry.saturating_sub(now)
}

/// Every `on` block of the configuration by its text (scopes, hosts, classes; nested in
/// `if` and `switch` too).
fn event_blocks(cfg: &EngineConfig) -> HashMap<String, Arc<dhcp_config::model::OnBlock>> {
    let mut out = HashMap::new();
    let mut scope = |p: &Params| {
        for d in p.dynamic.iter() {
            dhcp_config::model::collect_event_blocks(std::slice::from_ref(&d.action), &mut out);
        }
    };
    scope(&cfg.global);
    for n in &cfg.networks {
        n.subnets.iter().for_each(|s| scope(&s.params));
        n.pools.iter().for_each(|p| scope(&p.params));
    }
    cfg.hosts.iter().for_each(|h| scope(&h.params));
    for c in &cfg.classes {
        dhcp_config::model::collect_event_blocks(&c.actions, &mut out);
        for s in &c.subclasses {
            dhcp_config::model::collect_event_blocks(&s.actions, &mut out);
        }
        for (_, a) in &c.enclosing {
            dhcp_config::model::collect_event_blocks(a, &mut out);
        }
    }
    out
}

/// min-lease-time as dhcpd's ack_lease uses it: at most max-lease-time.
fn min_lease(params: &Params) -> u32 {
    params.min_lease_secs.min(params.max_lease_secs)
}

/// `deny booting` or `ignore booting` in force for the client: dhcpd's ack_lease (and
/// bootp) drop the request ("booting disallowed").
fn booting_denied(params: &Params) -> bool {
    params.allow_booting == Some(false)
}

/// dhcpd's `use_host_decl_name` (server/dhcp.c, for OFFER, ACK and BOOTP replies): with
/// `use-host-decl-names on` in the client's merged scope, a client whose lease has a host
/// declaration gets that declaration's name as host-name (option 12), unless an option
/// host-name is already in force. The name is sent without a terminating NUL.
fn with_host_decl_name(mut params: Params, host: Option<&HostCfg>) -> Params {
    if let Some(h) = host
        && params.use_host_decl_names == Some(true)
        && params.option(12).is_none()
        && !h.name.is_empty()
    {
        let at = params.options.partition_point(|(c, _)| *c < 12);
        params.options.insert(at, (12, h.name.as_bytes().to_vec()));
    }
    params
}

/// What [`Engine::ddns_plan_at`] plans for: the bound address and what is known of it.
struct DdnsSubject<'a> {
    ip: Ipv4Addr,
    hw: HwAddr,
    ends: u32,
    /// The variables the lease kept (none for a fixed address: it has no record).
    prior: Option<&'a dhcp_config::Vars>,
    /// A host's fixed address (dhcpd's STATIC_LEASE).
    fixed: bool,
}

/// Option 81 in an ACK from what dhcpd's ddns_updates saved in its fqdn space (`subs`),
/// over the configuration's `option fqdn.*` of the same sub-options.
fn answer_fqdn(reply: &mut Message, params: &Params, subs: Option<Vec<(u32, Vec<u8>)>>) {
    let Some(subs) = subs else { return };
    let mut all: Vec<(u32, Vec<u8>)> = params
        .space_options
        .iter()
        .filter(|o| o.space == "fqdn" && !subs.iter().any(|(c, _)| *c == o.code))
        .map(|o| (o.code, o.data.clone()))
        .collect();
    all.extend(subs);
    if let Some(v) = crate::ddns::plan::encapsulate_fqdn(&all) {
        reply.opts_mut().insert(DhcpOption::Unknown(dhcproto::v4::UnknownOption::new(OptionCode::ClientFQDN, v)));
    }
}

/// The host dhcpd hangs on a *dynamic* lease (ack_lease): a host of the client with no
/// fixed address. A host whose fixed addresses are all on other networks makes the
/// client known, but is not the lease's host.
fn dynamic_lease_host(host: Option<&HostCfg>) -> Option<&HostCfg> {
    host.filter(|h| h.fixed_addresses.is_empty() && !h.fixed_address_declared)
}

/// A release as dhcpd's release_lease makes it: standalone, straight back to free (the
/// client key stays, for affinity); in a failover pool RELEASED, which the journal
/// replicates to the partner, and free once it acknowledges.
fn release_in_place(l: &mut Lease, failover: bool, now: u32) {
    l.state = if failover { BindingState::Released } else { BindingState::Free };
    l.ends = now;
    l.tstp = now;
    l.cltt = now;
}

/// The reply's bytes and destination. `overload`: its options may spill into empty `file`
/// and `sname` fields (see [`reply::Packing`]).
fn finish(m: Message, c: &Ctx, t: MessageType, yiaddr: Ipv4Addr, overload: bool) -> Reply {
    let dest = reply::destination(c.req, t, yiaddr);
    let client_fqdn = c.packet().option(dhcp_config::OptionRef::Dhcp { code: 81, strip_nuls: false }).is_some();
    let packing = reply::Packing { request_len: c.raw.len(), bootp: c.msg_type.is_none(), overload, client_fqdn };
    let bytes = reply::encode(m, c.req, packing).unwrap_or_default();
    Reply { bytes, dest, msg_type: t }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
