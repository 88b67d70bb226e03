//! Lowering: the typed AST to the public model, flattening scope inheritance.
//!
//! In dhcpd a parameter applies to its whole scope wherever it is written in it, so
//! each scope first applies all of its own parameters and options, then lowers its
//! nested declarations with the result. Positions needed by validation are kept in
//! side tables ([`Info`]) so the public model stays free of them.

use std::net::Ipv4Addr;

use crate::error::Span;
use crate::model::{
    AddrRange, Config, DEFAULT_FAILOVER_PORT, DEFAULT_MAX_BALANCE, DEFAULT_MAX_LEASE_MISBALANCE,
    DEFAULT_MAX_LEASE_OWNERSHIP, DEFAULT_MAX_RESPONSE_DELAY, DEFAULT_MAX_UNACKED_UPDATES, DEFAULT_MIN_BALANCE, Dynamic,
    Effective, FailoverPeer, Flag, Host, Key, PeerTls, Pool, SharedNetwork, Subnet, Target, split_to_hba,
};
use crate::model::{ExprParam, HostAddr, InterfaceBinding, Zone};
use crate::parser::{DdnsParam, Item, Param, PeerDecl, SubnetDecl};

/// Positions of a subnet.
#[derive(Debug, Clone)]
pub(crate) struct SubnetInfo {
    pub span: Span,
    pub netmask_span: Span,
}

/// Positions of a pool.
#[derive(Debug, Clone)]
pub(crate) struct PoolInfo {
    /// Each range's position, parallel to `Pool::ranges`.
    pub ranges: Vec<Span>,
    pub failover: Option<Span>,
    /// The first `range dynamic-bootp`, if any.
    pub dynamic_bootp: Option<Span>,
    /// Declared directly in a shared-network: its subnet is found from its ranges.
    pub in_shared_network: bool,
    /// For a pool declared directly in a shared-network, its statements: its values are
    /// those of the subnet its ranges are in plus its own (dhcpd's ack_lease runs the
    /// subnet's scopes, then the pool's own up to the shared network), known once the
    /// shared network's subnets are.
    pub shared_items: Option<Vec<Item>>,
    /// The pool has no statements of its own (only ranges, permits, a failover peer):
    /// dhcpd merges such pools (see `Lower::pool`).
    pub plain: bool,
}

/// Positions of a host.
#[derive(Debug, Clone)]
pub(crate) struct HostInfo {
    pub span: Span,
    pub hardware: Option<Span>,
    pub fixed: Vec<Span>,
}

/// Side tables parallel to the model, for validation.
#[derive(Debug, Default)]
pub(crate) struct Info {
    pub shared_networks: Vec<(Span, bool)>, // (position, explicitly declared)
    /// Each explicit shared network's and each subnet's statements as per-packet actions,
    /// by the position of its declaration (for the classes declared in it).
    pub scope_actions: Vec<(Span, crate::model::ScopeKey, Vec<crate::model::Action>)>,
    pub subnets: Vec<Vec<SubnetInfo>>,
    pub pools: Vec<Vec<PoolInfo>>,
    pub hosts: Vec<HostInfo>,
    pub peers: Vec<PeerDecl>,
    pub keys: Vec<Span>,
    pub omapi_key: Option<Span>,
    /// The global `ddns-update-style` statement.
    pub ddns_update_style: Option<Span>,
    /// Global-only statements written in another scope: (statement, position).
    pub global_only: Vec<(String, Span)>,
    /// A second `interface` statement for a shared network: (position, the first one's
    /// interface).
    pub second_interfaces: Vec<(Span, String)>,
}

/// The effective values of a scope: the parent's, then this scope's own statements.
fn scope_effective(parent: &Effective, items: &[Item]) -> Effective {
    let mut e = parent.clone();
    for item in items {
        // What this unconditional statement sets overrides every per-packet statement
        // executed before it (dhcpd runs a scope's statements in order).
        let target = match item {
            Item::Param(Param::Filename(_)) => Some(Target::Filename),
            Item::Param(Param::ServerName(_)) => Some(Target::ServerName),
            Item::Param(Param::NextServer(_)) => Some(Target::NextServer),
            Item::Param(Param::DefaultLeaseTime(_)) => Some(Target::DefaultLeaseTime),
            Item::Param(Param::MaxLeaseTime(_)) => Some(Target::MaxLeaseTime),
            Item::Param(Param::MinLeaseTime(_)) => Some(Target::MinLeaseTime),
            Item::Param(Param::AllowBooting(_)) => Some(Target::Flag(Flag::AllowBooting)),
            Item::Param(Param::UseHostDeclNames(_)) => Some(Target::Flag(Flag::UseHostDeclNames)),
            Item::Param(Param::OneLeasePerClient(_)) => Some(Target::Flag(Flag::OneLeasePerClient)),
            Item::Param(Param::IgnoreClientUids(_)) => Some(Target::Flag(Flag::IgnoreClientUids)),
            Item::Param(Param::UpdateStaticLeases(_)) => Some(Target::Flag(Flag::UpdateStaticLeases)),
            Item::Param(Param::Duplicates(_)) => Some(Target::Flag(Flag::Duplicates)),
            Item::Option { code, .. } | Item::NamedOption { code, .. } => Some(Target::Option(*code)),
            Item::SpaceOption { code, .. } => Some(Target::SpaceOption(*code)),
            Item::Param(Param::VendorOptionSpace(_)) => Some(Target::VendorOptionSpace),
            Item::Param(Param::Ddns(DdnsParam::HostName(_))) => Some(Target::DdnsHostName),
            Item::Param(Param::PingTimeout(_)) => Some(Target::Param(ExprParam::PingTimeout)),
            Item::Param(Param::PingCheck(_)) => Some(Target::Param(ExprParam::PingCheck)),
            Item::Param(Param::PingTimeoutMs(_)) => Some(Target::Param(ExprParam::PingTimeoutMs)),
            Item::Param(Param::PingClttSecs(_)) => Some(Target::Param(ExprParam::PingClttSecs)),
            Item::Param(Param::Ddns(DdnsParam::Ttl(_))) => Some(Target::Param(ExprParam::DdnsTtl)),
            Item::Param(Param::Ddns(DdnsParam::DomainName(_))) => Some(Target::Param(ExprParam::DdnsDomainName)),
            Item::Param(Param::Ddns(DdnsParam::RevDomainName(_))) => Some(Target::Param(ExprParam::DdnsRevDomainName)),
            _ => None,
        };
        if let Some(t) = target {
            for d in &mut e.dynamic {
                if let Err(at) = d.shadowed.binary_search(&t) {
                    d.shadowed.insert(at, t);
                }
            }
        }
        match item {
            Item::Param(p) => apply(&mut e, p),
            Item::Option { code, data } => e.set_option(*code, data.clone()),
            Item::NamedOption { code, value } => e.set_named_option(*code, value.clone()),
            Item::SpaceOption { space, code, data } => e.set_space_option(space, *code, data.clone()),
            Item::Dynamic(action) => e.dynamic.push(Dynamic { action: action.clone(), shadowed: Vec::new() }),
            _ => {}
        }
    }
    e
}

/// Collects the statements dhcpd reads only in the global scope that are written
/// inside a declaration (`items` are a declaration's own statements).
fn misplaced(items: &[Item], out: &mut Vec<(String, Span)>) {
    for item in items {
        match item {
            Item::DdnsUpdateStyle(_, span) => out.push(("ddns-update-style".into(), span.clone())),
            Item::AbandonLeaseTime(_, span) => out.push(("abandon-lease-time".into(), span.clone())),
            Item::SharedNetwork { items, .. }
            | Item::Pool { items }
            | Item::Group { items }
            | Item::Host { items, .. }
            | Item::Subnet(SubnetDecl { items, .. }) => misplaced(items, out),
            _ => {}
        }
    }
}

/// dhcpd's permit_list_match both ways: each permit of one list has one of the same
/// kind in the other (a class permit the same class; an `after` any date).
fn same_permit_kinds(a: &[crate::model::Permit], b: &[crate::model::Permit]) -> bool {
    use crate::model::Permit;
    let kind = |x: &Permit, y: &Permit| match (x, y) {
        (Permit::Members(c), Permit::Members(d)) => c == d,
        (Permit::After(_), Permit::After(_)) => true,
        _ => x == y,
    };
    a.iter().all(|x| b.iter().any(|y| kind(x, y))) && b.iter().all(|y| a.iter().any(|x| kind(x, y)))
}

fn apply(e: &mut Effective, p: &Param) {
    match p {
        Param::DefaultLeaseTime(v) => e.default_lease_time = *v,
        Param::MaxLeaseTime(v) => e.max_lease_time = *v,
        Param::MinLeaseTime(v) => e.min_lease_time = *v,
        Param::Authoritative(v) => e.authoritative = *v,
        Param::ServerIdentifier(HostAddr::Ip(v)) => {
            e.server_identifier = Some(*v);
            e.server_identifier_name = None;
        }
        Param::ServerIdentifier(HostAddr::Name(n)) => {
            e.server_identifier = None;
            e.server_identifier_name = Some(n.clone());
        }
        Param::PingCheck(v) => e.ping_check = *v,
        Param::PingTimeout(v) => e.ping_timeout = *v,
        Param::PingTimeoutMs(v) => e.ping_timeout_ms = *v,
        Param::PingClttSecs(v) => e.ping_cltt_secs = *v,
        Param::LogFacility(v) => e.log_facility = Some(v.clone()),
        Param::OneLeasePerClient(v) => e.one_lease_per_client = *v,
        Param::IgnoreClientUids(v) => e.ignore_client_uids = *v,
        Param::UpdateStaticLeases(v) => e.update_static_leases = *v,
        Param::GetLeaseHostnames(v) => e.get_lease_hostnames = *v,
        Param::UseHostDeclNames(v) => e.use_host_decl_names = *v,
        Param::AllowBooting(v) => e.allow_booting = *v,
        Param::NextServer(HostAddr::Ip(v)) => {
            e.next_server = Some(*v);
            e.next_server_name = None;
        }
        Param::NextServer(HostAddr::Name(n)) => {
            e.next_server = None;
            e.next_server_name = Some(n.clone());
        }
        Param::Filename(v) => e.filename = Some(v.clone()),
        Param::ServerName(v) => e.server_name = Some(v.clone()),
        Param::AllowBootp(v) => e.allow_bootp = *v,
        Param::AllowUnknownClients(v) => e.allow_unknown_clients = *v,
        Param::AllowDynamicBootp(v) => e.allow_dynamic_bootp = *v,
        Param::Duplicates(v) => e.duplicates = *v,
        Param::VendorOptionSpace(v) => e.vendor_option_space = Some(v.clone()),
        Param::SiteOptionSpace(v) => e.site_option_space = Some(v.clone()),
        Param::Ddns(d) => {
            let x = &mut e.ddns;
            match d {
                DdnsParam::Updates(v) => x.updates = *v,
                DdnsParam::DomainName(v) => x.domainname = Some(v.clone()),
                DdnsParam::RevDomainName(v) => x.rev_domainname = Some(v.clone()),
                DdnsParam::HostName(v) => x.hostname = Some(v.clone()),
                DdnsParam::Ttl(v) => x.ttl = Some(*v),
                DdnsParam::DoForwardUpdates(v) => x.do_forward_updates = Some(*v),
                DdnsParam::UpdateOptimization(v) => x.update_optimization = Some(*v),
                DdnsParam::UpdateConflictDetection(v) => x.update_conflict_detection = Some(*v),
                DdnsParam::LocalAddress4(v) => x.local_address4 = Some(v.clone()),
                DdnsParam::GuardIdMustMatch(v) => x.guard_id_must_match = Some(*v),
                DdnsParam::OtherGuardIsDynamic(v) => x.other_guard_is_dynamic = Some(*v),
                DdnsParam::DualStackMixedMode(v) => x.dual_stack_mixed_mode = Some(*v),
                DdnsParam::DoReverseUpdates(v) => x.do_reverse_updates = Some(*v),
                DdnsParam::FqdnReply(v) => x.fqdn_reply = Some(*v),
                DdnsParam::LocalAddress6(v) => x.local_address6 = Some(*v),
                DdnsParam::ClientUpdates(v) => x.client_updates = Some(*v),
            }
        }
    }
}

/// dhcpd reads 0 (or absence) as "use the default" for these peer values.
fn or_default(v: Option<u32>, default: u32) -> u32 {
    v.filter(|&v| v != 0).unwrap_or(default)
}

fn lower_peer(d: &PeerDecl) -> FailoverPeer {
    FailoverPeer {
        name: d.name.clone(),
        role: d.role,
        address: d.address.clone(),
        port: d.port.filter(|&p| p != 0).unwrap_or(DEFAULT_FAILOVER_PORT),
        peer_address: d.peer_address.clone(),
        peer_port: d.peer_port.filter(|&p| p != 0).unwrap_or(DEFAULT_FAILOVER_PORT),
        max_response_delay: or_default(d.max_response_delay, DEFAULT_MAX_RESPONSE_DELAY),
        max_unacked_updates: or_default(d.max_unacked_updates, DEFAULT_MAX_UNACKED_UPDATES),
        mclt: d.mclt.as_ref().map(|(v, _)| *v),
        split: d.split.as_ref().map(|(v, _)| *v),
        hba: match (&d.hba, &d.split) {
            (Some((h, _)), _) => Some(*h),
            (None, Some((s, _))) => Some(split_to_hba(*s)),
            (None, None) => None,
        },
        load_balance_max_seconds: d.load_balance_max_seconds.unwrap_or(0),
        auto_partner_down: d.auto_partner_down.unwrap_or(0),
        max_lease_misbalance: or_default(d.max_lease_misbalance, DEFAULT_MAX_LEASE_MISBALANCE),
        max_lease_ownership: or_default(d.max_lease_ownership, DEFAULT_MAX_LEASE_OWNERSHIP),
        min_balance: or_default(d.min_balance, DEFAULT_MIN_BALANCE),
        max_balance: or_default(d.max_balance, DEFAULT_MAX_BALANCE),
        hot_standby_reserve_percent: d.hot_standby_reserve.as_ref().map(|(v, _)| *v),
        auth_key: d.auth_key.as_ref().map(|(k, _)| k.clone()),
        tls: match (&d.tls_certificate, &d.tls_key, &d.tls_ca) {
            (Some(certificate), Some(key), Some(ca)) => {
                Some(PeerTls { certificate: certificate.clone(), key: key.clone(), ca: ca.clone() })
            }
            _ => None,
        },
    }
}

/// Builds the model from the AST.
/// The scopes each class declared in a subnet or shared network runs again for its
/// members (see [`crate::model::Class::enclosing`]): the subnet's statements, preceded by
/// its explicit shared network's; or the shared network's.
pub(crate) fn class_enclosing(classes: &mut [crate::model::Class], info: &Info) {
    use crate::model::ScopeKey;
    for class in classes.iter_mut() {
        let Some(at) = &class.declared_in else { continue };
        let Some((_, key, actions)) = info.scope_actions.iter().find(|(s, _, _)| s == at) else { continue };
        let key = *key;
        let mut chain = Vec::new();
        if let ScopeKey::Subnet(sn, _) = key
            && info.shared_networks.get(sn).is_some_and(|(_, explicit)| *explicit)
            && let Some((_, k, a)) = info.scope_actions.iter().find(|(_, k, _)| *k == ScopeKey::SharedNetwork(sn))
        {
            chain.push((*k, a.clone()));
        }
        chain.push((key, actions.clone()));
        class.enclosing = chain;
    }
}

pub(crate) fn lower(items: &[Item]) -> (Config, Info) {
    let mut l = Lowerer { config: Config::default(), info: Info::default(), interface_names: Default::default() };
    let global = scope_effective(&Effective::default(), items);
    l.config.global = global.clone();
    for item in items {
        match item {
            Item::DdnsUpdateStyle(style, span) => {
                l.config.ddns_update_style = *style;
                l.info.ddns_update_style = Some(span.clone());
            }
            Item::AbandonLeaseTime(v, _) => l.config.abandon_lease_time = *v,
            Item::SharedNetwork { items, .. }
            | Item::Pool { items }
            | Item::Group { items }
            | Item::Host { items, .. }
            | Item::Subnet(SubnetDecl { items, .. }) => misplaced(items, &mut l.info.global_only),
            _ => {}
        }
    }
    l.walk(items, &global, &[]);
    l.resolve_shared_pools();
    l.finish_options();
    (l.config, l.info)
}

struct Lowerer {
    config: Config,
    info: Info,
    /// Interfaces named by an `interface` statement so far (dhcpd's interface list).
    interface_names: std::collections::HashSet<String>,
}

impl Lowerer {
    /// Global scope or a group.
    /// `groups`: the statements of the enclosing `group`s, outermost first (what dhcpd
    /// evaluates again for a host declared in them, see [`Lowerer::host`]).
    fn walk(&mut self, items: &[Item], eff: &Effective, groups: &[&[Item]]) {
        for item in items {
            match item {
                Item::SharedNetwork { name, span, items } => {
                    let e = scope_effective(eff, items);
                    let sn = self.new_shared(name.clone(), span.clone(), true);
                    self.info.scope_actions.push((
                        span.clone(),
                        crate::model::ScopeKey::SharedNetwork(sn),
                        items.iter().filter_map(crate::parser::item_action).collect(),
                    ));
                    for item in items {
                        match item {
                            Item::Subnet(d) => self.subnet(d, &e, sn),
                            Item::Pool { items, .. } => self.pool(items, &e, sn, None),
                            Item::Host { name, span, items } => self.host(name, span, items, &e, &[]),
                            Item::Group { items } => self.inner_group(items, &e, &[], Some(sn)),
                            Item::Interface(name, span) => self.interface(name, span, sn),
                            _ => {}
                        }
                    }
                }
                Item::Subnet(d) => {
                    let sn = self.new_shared(d.network.to_string(), d.span.clone(), false);
                    self.subnet(d, eff, sn);
                }
                Item::Group { items } => {
                    let e = scope_effective(eff, items);
                    let mut inner = groups.to_vec();
                    inner.push(items);
                    self.walk(items, &e, &inner);
                }
                Item::Host { name, span, items } => self.host(name, span, items, eff, groups),
                Item::FailoverPeer(d) => {
                    self.config.failover_peers.push(lower_peer(d));
                    self.info.peers.push((**d).clone());
                }
                Item::Key(k) => {
                    self.config.keys.push(Key {
                        name: k.name.clone(),
                        algorithm: k.algorithm,
                        secret: k.secret.clone(),
                    });
                    self.info.keys.push(k.span.clone());
                }
                Item::Encapsulation { code, space } => {
                    self.config.encapsulations.retain(|(c, _)| c != code);
                    self.config.encapsulations.push((*code, space.clone()));
                }
                Item::OptionSpace(space) => {
                    self.config.option_spaces.retain(|s| s.name != space.name);
                    self.config.option_spaces.push(space.clone());
                }
                Item::Zone(z) => self.config.zones.push(Zone::clone(z)),
                Item::DbTimeFormat(local) => self.config.db_time_format_local = *local,
                Item::OmapiPort(p) => self.config.omapi_port = Some(*p),
                Item::OmapiKey(name, span) => {
                    self.config.omapi_key = Some(name.clone());
                    self.info.omapi_key = Some(span.clone());
                }
                _ => {}
            }
        }
    }

    fn new_shared(&mut self, name: String, span: Span, explicit: bool) -> usize {
        self.config.shared_networks.push(SharedNetwork { name, subnets: Vec::new(), pools: Vec::new() });
        self.info.shared_networks.push((span, explicit));
        self.info.subnets.push(Vec::new());
        self.info.pools.push(Vec::new());
        self.config.shared_networks.len() - 1
    }

    fn subnet(&mut self, d: &SubnetDecl, eff: &Effective, sn: usize) {
        let e = scope_effective(eff, &d.items);
        let Some(shared) = self.config.shared_networks.get_mut(sn) else {
            return;
        };
        shared.subnets.push(Subnet {
            network: d.network,
            prefix_len: u32::from(d.netmask).count_ones() as u8,
            netmask: d.netmask,
            effective: e.clone(),
        });
        let subnet_index = shared.subnets.len() - 1;
        self.info.scope_actions.push((
            d.span.clone(),
            crate::model::ScopeKey::Subnet(sn, subnet_index),
            d.items.iter().filter_map(crate::parser::item_action).collect(),
        ));
        if let Some(info) = self.info.subnets.get_mut(sn) {
            info.push(SubnetInfo { span: d.span.clone(), netmask_span: d.netmask_span.clone() });
        }
        // Ranges written directly in the subnet form its implicit pool.
        let direct: Vec<&Item> = d.items.iter().filter(|i| matches!(i, Item::Range(_))).collect();
        if !direct.is_empty() {
            self.push_pool(sn, subnet_index, false, &direct, e.clone(), None);
        }
        for item in &d.items {
            match item {
                Item::Interface(name, span) => self.interface(name, span, sn),
                Item::Pool { items, .. } => self.pool(items, &e, sn, Some(subnet_index)),
                Item::Host { name, span, items } => self.host(name, span, items, &e, &[]),
                Item::Group { items } => self.inner_group(items, &e, &[], None),
                _ => {}
            }
        }
    }

    /// `interface NAME;` in shared network `sn` (or one of its subnets), as dhcpd's
    /// new_shared_network_interface takes it: an error if the network already has an
    /// interface, nothing if another statement named the interface before, else the
    /// interface is tied to the network.
    fn interface(&mut self, name: &str, span: &Span, sn: usize) {
        if let Some(first) = self.config.interfaces.iter().find(|b| b.shared_network == sn) {
            self.info.second_interfaces.push((span.clone(), first.name.clone()));
            return;
        }
        if self.interface_names.insert(name.to_string()) {
            self.config.interfaces.push(InterfaceBinding { name: name.to_string(), shared_network: sn });
        }
    }

    /// A `group` inside a shared-network, a subnet or a pool (dhcpd allows them there,
    /// mostly to give a set of hosts common values). Its hosts see the enclosing scope plus
    /// the group; dhcpd evaluates the group's statements again for them, after the subnet's
    /// (the same rule as for a host in a global group, see [`Lowerer::host`]). A subnet
    /// written in a group of a shared-network belongs to that shared-network (`sn`).
    fn inner_group(&mut self, items: &[Item], eff: &Effective, groups: &[&[Item]], sn: Option<usize>) {
        let e = scope_effective(eff, items);
        let mut inner = groups.to_vec();
        inner.push(items);
        for item in items {
            match item {
                Item::Host { name, span, items } => self.host(name, span, items, &e, &inner),
                Item::Group { items } => self.inner_group(items, &e, &inner, sn),
                Item::Subnet(d) => {
                    if let Some(sn) = sn {
                        self.subnet(d, &e, sn);
                    }
                }
                _ => {}
            }
        }
    }

    fn pool(&mut self, items: &[Item], eff: &Effective, sn: usize, subnet: Option<usize>) {
        let e = scope_effective(eff, items);
        let failover = items.iter().find_map(|i| match i {
            Item::FailoverRef(n, s) => Some((n.clone(), s.clone())),
            _ => None,
        });
        let ranges: Vec<&Item> = items.iter().filter(|i| matches!(i, Item::Range(_))).collect();
        self.push_pool(sn, subnet.unwrap_or(0), subnet.is_none(), &ranges, e.clone(), failover);
        if subnet.is_none()
            && let Some(info) = self.info.pools.get_mut(sn).and_then(|p| p.last_mut())
        {
            info.shared_items = Some(items.to_vec());
        }
        // A host declared in the pool: dhcpd clones the pool's group for it, so the
        // pool's statements are evaluated again for its client after the subnet's (for a
        // fixed address, whose lease has no pool), as a `group`'s would be.
        for item in items {
            match item {
                Item::Host { name, span, items: host_items } => self.host(name, span, host_items, &e, &[items]),
                Item::Group { items: group } => self.inner_group(group, &e, &[items], None),
                _ => {}
            }
        }
        // The pool's permit lists (dhcpd's permit_list and prohibit_list).
        if let Some(pool) = self.config.shared_networks.get_mut(sn).and_then(|n| n.pools.last_mut()) {
            // dhcpd prohibits dynamic BOOTP clients only in the ad-hoc pool it makes for ranges
            // written outside a `pool` without `dynamic-bootp`; an explicit pool serves them
            // unless its own permits say otherwise.
            pool.dynamic_bootp = true;
            for i in items {
                if let Item::Permit { allow, permit } = i {
                    if *allow { pool.permits.push(*permit) } else { pool.prohibits.push(*permit) }
                }
            }
        }
        // dhcpd's parse_pool_statement merges a pool with no statements of its own into
        // the first earlier such pool of the shared network with the same failover peer
        // and permit lists of the same kinds (permit_list_match compares kinds and
        // classes, not the dates of `after`): its addresses then live under that pool's
        // lists, which only the `after` dates can tell apart (checked against dhcpd
        // 4.4.3: of two `deny after` pools, the first one's date closes both). In one
        // subnet the ranges join that pool; across subnets (whose values differ) the
        // pool takes that pool's lists.
        // Done only where it changes what clients get, for pools with an `after` permit:
        // other merged pools answer as one pool would anyway (xdhcpd keeps them apart,
        // with the pool layout a reload compares).
        let plain = items.iter().all(|i| matches!(i, Item::Range(_) | Item::Permit { .. } | Item::FailoverRef(..)));
        if let Some(info) = self.info.pools.get_mut(sn).and_then(|p| p.last_mut()) {
            info.plain = plain;
        }
        let dated = items.iter().any(|i| matches!(i, Item::Permit { permit: crate::model::Permit::After(_), .. }));
        if let (true, Some(net), Some(infos)) =
            (plain && dated, self.config.shared_networks.get_mut(sn), self.info.pools.get_mut(sn))
            && let Some((last, earlier)) = net.pools.split_last_mut()
            && let Some(j) = earlier.iter().zip(infos.iter()).position(|(pp, info)| {
                info.plain
                    && pp.failover_peer == last.failover_peer
                    && same_permit_kinds(&pp.permits, &last.permits)
                    && same_permit_kinds(&pp.prohibits, &last.prohibits)
            })
            && let n_earlier = earlier.len()
            && let Some(target) = earlier.get_mut(j)
        {
            // (A pool declared in a shared network has its subnet only once the shared
            // network's subnets are known: its lists are copied.)
            if subnet.is_some() && target.subnet_index == last.subnet_index && infos.len() == n_earlier + 1 {
                target.ranges.append(&mut last.ranges);
                let spans = infos.pop().map(|i| i.ranges).unwrap_or_default();
                if let Some(t) = infos.get_mut(j) {
                    t.ranges.extend(spans);
                }
                net.pools.pop();
            } else {
                last.permits = target.permits.clone();
                last.prohibits = target.prohibits.clone();
            }
        }
    }

    fn push_pool(
        &mut self,
        sn: usize,
        subnet_index: usize,
        in_shared_network: bool,
        ranges: &[&Item],
        effective: Effective,
        failover: Option<(String, Span)>,
    ) {
        let mut pool = Pool {
            subnet_index,
            ranges: Vec::new(),
            failover_peer: None,
            dynamic_bootp: false,
            effective,
            permits: Vec::new(),
            prohibits: Vec::new(),
        };
        let mut info = PoolInfo {
            ranges: Vec::new(),
            failover: None,
            dynamic_bootp: None,
            in_shared_network,
            shared_items: None,
            plain: false,
        };
        for r in ranges {
            if let Item::Range(r) = r {
                pool.ranges.push(AddrRange { start: r.start, end: r.end });
                info.ranges.push(r.span.clone());
                if r.dynamic_bootp && info.dynamic_bootp.is_none() {
                    pool.dynamic_bootp = true;
                    info.dynamic_bootp = Some(r.span.clone());
                }
            }
        }
        if let Some((name, span)) = failover {
            pool.failover_peer = Some(name);
            info.failover = Some(span);
        }
        if let (Some(shared), Some(infos)) = (self.config.shared_networks.get_mut(sn), self.info.pools.get_mut(sn)) {
            shared.pools.push(pool);
            infos.push(info);
        }
    }

    /// A host. Besides its values in full, it keeps what dhcpd evaluates *after* the
    /// subnet's and pool's scopes for its client: its own statements and those of its
    /// enclosing groups, down to a scope the subnet's chain already evaluated (a host in
    /// a shared-network or subnet: its own statements only).
    fn host(&mut self, name: &str, span: &Span, items: &[Item], eff: &Effective, groups: &[&[Item]]) {
        let mut own = Effective::default();
        for g in groups {
            own = scope_effective(&own, g);
        }
        let own = scope_effective(&own, items);
        // Whether the host's own scope sets a flag at all (an `off` there overrides an
        // `on` of the subnet, which `own`'s default could not tell from "not set").
        let own_flag = |pick: fn(&Param) -> Option<bool>| {
            groups.iter().copied().chain(std::iter::once(items)).flatten().fold(None, |acc, i| match i {
                Item::Param(p) => pick(p).or(acc),
                _ => acc,
            })
        };
        let own_use_host_decl_names = own_flag(|p| match p {
            Param::UseHostDeclNames(v) => Some(*v),
            _ => None,
        });
        let own_one_lease_per_client = own_flag(|p| match p {
            Param::OneLeasePerClient(v) => Some(*v),
            _ => None,
        });
        let own_ignore_client_uids = own_flag(|p| match p {
            Param::IgnoreClientUids(v) => Some(*v),
            _ => None,
        });
        let own_update_static_leases = own_flag(|p| match p {
            Param::UpdateStaticLeases(v) => Some(*v),
            _ => None,
        });
        let own_allow_booting = own_flag(|p| match p {
            Param::AllowBooting(v) => Some(*v),
            _ => None,
        });
        let own_sets_ddns = groups.iter().copied().chain(std::iter::once(items)).flatten().any(|i| {
            matches!(
                i,
                Item::Param(Param::Ddns(_))
                    | Item::Dynamic(crate::model::Action::DdnsHostNameExpr(_))
                    | Item::Dynamic(crate::model::Action::ParamExpr {
                        param: crate::model::ExprParam::DdnsTtl
                            | crate::model::ExprParam::DdnsDomainName
                            | crate::model::ExprParam::DdnsRevDomainName,
                        ..
                    })
            )
        });
        let mut host = Host {
            own_allow_booting,
            own_sets_ddns,
            own_use_host_decl_names,
            own_one_lease_per_client,
            own_ignore_client_uids,
            own_update_static_leases,
            name: name.to_string(),
            hardware_ethernet: None,
            client_identifier: None,
            fixed_addresses: Vec::new(),
            fixed_address_names: None,
            fixed_address_declared: items.iter().any(|i| matches!(i, Item::FixedAddress(_))),
            identifier: items.iter().find_map(|i| match i {
                Item::HostIdentifier(option, value, _) => Some((*option, value.clone())),
                _ => None,
            }),
            effective: scope_effective(eff, items),
            own,
        };
        let mut info = HostInfo { span: span.clone(), hardware: None, fixed: Vec::new() };
        for item in items {
            match item {
                Item::Hardware(mac, span) => {
                    host.hardware_ethernet = Some(*mac);
                    info.hardware = Some(span.clone());
                }
                Item::FixedAddress(addrs) => {
                    if addrs.iter().any(|(a, _)| matches!(a, HostAddr::Name(_))) {
                        // Nothing is known until the names are looked up (see
                        // `Config::resolve_names`): the list counts as a whole.
                        host.fixed_address_names = Some(addrs.iter().map(|(a, _)| a.clone()).collect());
                        continue;
                    }
                    for (a, span) in addrs {
                        if let HostAddr::Ip(ip) = a {
                            host.fixed_addresses.push(*ip);
                            info.fixed.push(span.clone());
                        }
                    }
                }
                Item::ClientId(id) => host.client_identifier = Some(id.clone()),
                _ => {}
            }
        }
        self.config.hosts.push(host);
        self.info.hosts.push(info);
    }

    /// The options built from option spaces in every scope: option 43 from
    /// `vendor-option-space`, `encapsulate` options, then `site-option-space` (each
    /// depends only on the scope's own values, so it is built once, here).
    fn finish_options(&mut self) {
        let spaces = self.config.option_spaces.clone();
        let encapsulations = self.config.encapsulations.clone();
        let fill = |e: &mut Effective| {
            // Each encapsulation is built from the scope's values as configured (not
            // from another encapsulation built here).
            let mut built: Vec<(u8, Vec<u8>)> = Vec::new();
            if let Some(v) = e.vendor_encapsulation(&spaces) {
                built.push((43, v));
                e.option43_built = true;
            }
            for (code, space) in &encapsulations {
                if e.option(*code).is_none()
                    && let Some(v) = e.space_encapsulation(space, &spaces)
                {
                    built.push((*code, v));
                }
            }
            for (code, v) in built {
                e.set_option(code, v);
            }
            e.apply_site_space(&spaces);
        };
        fill(&mut self.config.global);
        for n in &mut self.config.shared_networks {
            n.subnets.iter_mut().for_each(|s| fill(&mut s.effective));
            n.pools.iter_mut().for_each(|p| fill(&mut p.effective));
        }
        self.config.hosts.iter_mut().for_each(|h| {
            fill(&mut h.effective);
            fill(&mut h.own);
        });
    }

    /// A pool declared in a shared-network belongs to the subnet of its first range.
    fn resolve_shared_pools(&mut self) {
        for (shared, infos) in self.config.shared_networks.iter_mut().zip(&self.info.pools) {
            for (pool, info) in shared.pools.iter_mut().zip(infos) {
                if !info.in_shared_network {
                    continue;
                }
                let first: Option<Ipv4Addr> = pool.ranges.first().map(|r| r.start);
                if let Some(i) = first.and_then(|a| shared.subnets.iter().position(|s| s.contains(a))) {
                    pool.subnet_index = i;
                    if let (Some(subnet), Some(items)) = (shared.subnets.get(i), &info.shared_items) {
                        pool.effective = scope_effective(&subnet.effective, items);
                    }
                }
            }
        }
    }
}
