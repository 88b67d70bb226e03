//! From the dhcpd.conf model (`dhcp-config`) to what the engine uses.

use crate::dhcp::{EngineConfig, HostCfg, Network, Params, PoolCfg, SubnetCfg};
use dhcp_config::{Config, Effective};

fn params(e: &Effective) -> Params {
    Params {
        default_lease_secs: e.default_lease_time,
        max_lease_secs: e.max_lease_time,
        min_lease_secs: e.min_lease_time,
        authoritative: e.authoritative,
        server_identifier: e.server_identifier,
        options: e.options.clone(),
        next_server: e.next_server,
        filename: e.filename.clone(),
        server_name: e.server_name.clone(),
        use_host_decl_names: Some(e.use_host_decl_names),
        one_lease_per_client: Some(e.one_lease_per_client),
        ignore_client_uids: Some(e.ignore_client_uids),
        update_static_leases: Some(e.update_static_leases),
        get_lease_hostnames: e.get_lease_hostnames,
        duplicates: e.duplicates,
        allow_booting: Some(e.allow_booting),
        dynamic: std::sync::Arc::from(e.dynamic.clone()),
        vendor_option_space: e.vendor_option_space.clone(),
        space_options: std::sync::Arc::new(e.space_options.clone()),
        option43_explicit: e.option(43).is_some() && !e.option43_built,
        header_exprs: [None, None, None],
        ping_check: e.ping_check,
        ping_timeout_secs: e.ping_timeout,
        ping_timeout_ms: e.ping_timeout_ms,
        ping_cltt_secs: e.ping_cltt_secs,
        ddns: std::sync::Arc::new(e.ddns.clone()),
    }
}

/// The update style in force (`ad-hoc` is refused at load).
pub fn ddns_style(cfg: &Config) -> Option<crate::ddns::Style> {
    match cfg.ddns_update_style {
        dhcp_config::DdnsUpdateStyle::Interim => Some(crate::ddns::Style::Interim),
        dhcp_config::DdnsUpdateStyle::Standard => Some(crate::ddns::Style::Standard),
        dhcp_config::DdnsUpdateStyle::None | dhcp_config::DdnsUpdateStyle::AdHoc => None,
    }
}

/// Build the engine's configuration. Pool ids are assigned in file order.
pub fn engine_config(cfg: &Config) -> EngineConfig {
    let mut next_pool = 0u32;
    let networks = cfg
        .shared_networks
        .iter()
        .map(|sn| {
            let first_pool_id = next_pool;
            next_pool += sn.pools.len() as u32;
            Network {
                name: sn.name.clone(),
                subnets: sn
                    .subnets
                    .iter()
                    .map(|s| SubnetCfg { network: s.network, prefix_len: s.prefix_len, params: params(&s.effective) })
                    .collect(),
                pools: sn
                    .pools
                    .iter()
                    .map(|p| PoolCfg {
                        subnet: p.subnet_index,
                        ranges: p.ranges.iter().map(|r| (r.start, r.end)).collect(),
                        allow_unknown_clients: p.effective.allow_unknown_clients,
                        dynamic_bootp: p.dynamic_bootp && p.effective.allow_bootp,
                        failover_peer: p.failover_peer.clone(),
                        params: params(&p.effective),
                        permits: p.permits.clone(),
                        prohibits: p.prohibits.clone(),
                    })
                    .collect(),
                first_pool_id,
            }
        })
        .collect();
    let hosts = cfg
        .hosts
        .iter()
        .map(|h| {
            // The engine lays a host's values over the subnet's (or pool's): only what
            // the host's own scope sets, as dhcpd evaluates it (`Host::own`).
            let own = params(&h.own);
            let mut p = params(&h.effective);
            // Option spaces: only the host's own values, laid over the lease's scopes per
            // space and code (dhcpd keeps one option state per reply, where the host's
            // statements run last); the options built from spaces (43, `encapsulate`) are
            // built again from the merged values, so the host's own build is left out here
            // unless it wrote the option itself.
            let built = |code: u8, v: &[u8]| {
                (code == 43 && h.own.option43_built)
                    || cfg.encapsulations.iter().any(|(c, space)| {
                        *c == code && h.own.space_encapsulation(space, &cfg.option_spaces).as_deref() == Some(v)
                    })
            };
            p.options = own.options.into_iter().filter(|(c, v)| !built(*c, v)).collect();
            p.space_options = own.space_options;
            p.vendor_option_space = own.vendor_option_space;
            p.option43_explicit = own.option43_explicit;
            p.next_server = own.next_server;
            p.filename = own.filename;
            p.server_name = own.server_name;
            // Flags only where the host's own scope sets them: elsewhere the subnet's
            // or pool's value stands (dhcpd evaluates them in the merged scope).
            p.use_host_decl_names = h.own_use_host_decl_names;
            p.one_lease_per_client = h.own_one_lease_per_client;
            p.ignore_client_uids = h.own_ignore_client_uids;
            p.update_static_leases = h.own_update_static_leases;
            p.allow_booting = h.own_allow_booting;
            // The host's own per-packet statements, run after its classes' (the pool's
            // chain has run by then).
            p.dynamic = own.dynamic;
            HostCfg {
                name: h.name.clone(),
                hardware_ethernet: h.hardware_ethernet,
                client_identifier: h.client_identifier.clone(),
                fixed_addresses: h.fixed_addresses.clone(),
                fixed_address_declared: h.fixed_address_declared,
                identifier: h.identifier.clone(),
                params: p,
            }
        })
        .collect();
    EngineConfig {
        networks,
        hosts,
        global: params(&cfg.global),
        offer_hold_secs: 30,
        abandon_lease_secs: cfg.abandon_lease_time,
        classes: cfg.classes.clone(),
        option_spaces: cfg.option_spaces.clone(),
        encapsulations: cfg.encapsulations.clone(),
        // DNS updates keep their names in the lease's binding scope, as dhcpd does.
        uses_vars: cfg.uses_variables() || ddns_style(cfg).is_some(),
        has_lease_limits: cfg.has_lease_limits(),
        ddns_style: ddns_style(cfg),
        tied_interfaces: cfg.interfaces.iter().map(|b| (b.name.clone(), b.shared_network)).collect(),
    }
}

/// Why a reloaded configuration cannot be put in force while running.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReloadRefused {
    #[error("failover peer \"{name}\": {what} changed; a relationship's identity, addresses and role need a restart")]
    FailoverPeerChanged { name: String, what: String },
    #[error("failover peer \"{name}\" {what}; adding or removing a relationship needs a restart")]
    FailoverPeerAddedOrRemoved { name: String, what: &'static str },
    #[error("{0} changed; the OMAPI listener and its keys need a restart")]
    Omapi(&'static str),
    #[error("shared network \"{0}\" removed; its leases would be lost (restart to remove it deliberately)")]
    NetworkRemoved(String),
    #[error(
        "shared network \"{network}\": pools went from {before} to {after}; adding or removing a pool in an existing network needs a restart (add a range to an existing pool or declare a new subnet instead)"
    )]
    PoolCountChanged { network: String, before: usize, after: usize },
    #[error(
        "shared network \"{network}\", pool {index}: failover peer changed from {before:?} to {after:?}; moving a pool between relationships needs a restart"
    )]
    PoolPeerChanged { network: String, index: usize, before: Option<String>, after: Option<String> },
    #[error(
        "shared network \"{network}\", pool {index}: range {start} - {end} shrunk or removed; leases in it would be lost (restart to remove it deliberately)"
    )]
    RangeRemoved { network: String, index: usize, start: std::net::Ipv4Addr, end: std::net::Ipv4Addr },
    #[error("{0} changed; the DNS update task (its zones, servers and source address) needs a restart")]
    Ddns(&'static str),
}

/// The fields of a failover peer declaration that differ between two versions.
fn peer_differences(a: &dhcp_config::FailoverPeer, b: &dhcp_config::FailoverPeer) -> Vec<&'static str> {
    [
        ("role", a.role != b.role),
        ("address", a.address != b.address),
        ("port", a.port != b.port),
        ("peer address", a.peer_address != b.peer_address),
        ("peer port", a.peer_port != b.peer_port),
        ("max-response-delay", a.max_response_delay != b.max_response_delay),
        ("max-unacked-updates", a.max_unacked_updates != b.max_unacked_updates),
        ("mclt", a.mclt != b.mclt),
        ("split/hba", a.split != b.split || a.hba != b.hba),
        ("load balance max seconds", a.load_balance_max_seconds != b.load_balance_max_seconds),
        ("auto-partner-down", a.auto_partner_down != b.auto_partner_down),
        ("max-lease-misbalance", a.max_lease_misbalance != b.max_lease_misbalance),
        ("max-lease-ownership", a.max_lease_ownership != b.max_lease_ownership),
        ("min-balance/max-balance", a.min_balance != b.min_balance || a.max_balance != b.max_balance),
        ("hot-standby-reserve", a.hot_standby_reserve_percent != b.hot_standby_reserve_percent),
        // The peer link's security is set up when the relationship starts.
        ("auth-key", a.auth_key != b.auth_key),
        ("tls-certificate/tls-key/tls-ca", a.tls != b.tls),
    ]
    .into_iter()
    .filter(|(_, differs)| *differs)
    .map(|(name, _)| name)
    .collect()
}

/// The engine configuration for a reloaded dhcpd.conf, or why it cannot be applied live.
///
/// Applied live: options, lease times, authoritative, server-identifier, next-server,
/// filename, allow/deny, host reservations, ranges added to existing pools, and new shared
/// networks/subnets with their pools. Refused (restart needed): any change to a failover
/// peer declaration or to the set of peers, OMAPI port/keys, removing a network, pool or
/// range (leases would be dropped), adding or removing a pool in an existing network, and
/// moving a pool to another relationship.
///
/// Pool ids are what leases are filed under, so they must not move: existing networks (by
/// name) keep theirs, new networks get ids after the last existing one.
pub fn reloaded_engine_config(
    old_model: &Config,
    new_model: &Config,
    old: &EngineConfig,
) -> Result<EngineConfig, ReloadRefused> {
    for p in &old_model.failover_peers {
        match new_model.failover_peers.iter().find(|n| n.name == p.name) {
            None => return Err(ReloadRefused::FailoverPeerAddedOrRemoved { name: p.name.clone(), what: "removed" }),
            Some(n) => {
                let diff = peer_differences(p, n);
                if !diff.is_empty() {
                    return Err(ReloadRefused::FailoverPeerChanged { name: p.name.clone(), what: diff.join(", ") });
                }
            }
        }
    }
    if let Some(n) =
        new_model.failover_peers.iter().find(|n| !old_model.failover_peers.iter().any(|p| p.name == n.name))
    {
        return Err(ReloadRefused::FailoverPeerAddedOrRemoved { name: n.name.clone(), what: "added" });
    }
    if old_model.omapi_port != new_model.omapi_port {
        return Err(ReloadRefused::Omapi("omapi-port"));
    }
    if old_model.omapi_key != new_model.omapi_key || old_model.keys != new_model.keys {
        return Err(ReloadRefused::Omapi("omapi-key or a key declaration"));
    }

    // The DNS update task is set up at start (runtime::ddns); the per-scope `ddns-*`
    // statements change live with the rest of the engine configuration.
    if old_model.ddns_update_style != new_model.ddns_update_style {
        return Err(ReloadRefused::Ddns("ddns-update-style"));
    }
    if old_model.zones != new_model.zones {
        return Err(ReloadRefused::Ddns("a zone declaration"));
    }
    if old_model.global.ddns.local_address4 != new_model.global.ddns.local_address4 {
        return Err(ReloadRefused::Ddns("ddns-local-address4"));
    }
    let mut fresh = engine_config(new_model);
    for on in &old.networks {
        let Some(nn) = fresh.networks.iter().find(|n| n.name == on.name) else {
            return Err(ReloadRefused::NetworkRemoved(on.name.clone()));
        };
        if nn.pools.len() != on.pools.len() {
            return Err(ReloadRefused::PoolCountChanged {
                network: on.name.clone(),
                before: on.pools.len(),
                after: nn.pools.len(),
            });
        }
        for (index, (op, np)) in on.pools.iter().zip(&nn.pools).enumerate() {
            if op.failover_peer != np.failover_peer {
                return Err(ReloadRefused::PoolPeerChanged {
                    network: on.name.clone(),
                    index,
                    before: op.failover_peer.clone(),
                    after: np.failover_peer.clone(),
                });
            }
            if let Some((start, end)) = op.ranges.iter().find(|(a, b)| !covers(&np.ranges, *a, *b)) {
                return Err(ReloadRefused::RangeRemoved { network: on.name.clone(), index, start: *start, end: *end });
            }
        }
    }
    let mut next_new = old.pool_count() as u32;
    for n in &mut fresh.networks {
        n.first_pool_id = match old.networks.iter().find(|o| o.name == n.name) {
            Some(o) => o.first_pool_id,
            None => {
                let id = next_new;
                next_new += n.pools.len() as u32;
                id
            }
        };
    }
    fresh.offer_hold_secs = old.offer_hold_secs;
    Ok(fresh)
}

/// What a reload changed, for the log and `xdhcpd reload`: hosts added/removed/changed (by
/// name), new shared networks, addresses added, and the scopes whose parameters (options,
/// lease times...) changed. "no change" when the files are equivalent.
pub fn describe_changes(old: &EngineConfig, new: &EngineConfig) -> String {
    use std::collections::BTreeMap;
    fn hosts(c: &EngineConfig) -> BTreeMap<&str, &HostCfg> {
        c.hosts.iter().map(|h| (h.name.as_str(), h)).collect()
    }
    let (oh, nh) = (hosts(old), hosts(new));
    let list = |v: Vec<&str>| v.join(", ");
    let mut parts = Vec::new();
    let added: Vec<&str> = nh.keys().filter(|n| !oh.contains_key(*n)).copied().collect();
    let removed: Vec<&str> = oh.keys().filter(|n| !nh.contains_key(*n)).copied().collect();
    let changed: Vec<&str> = nh.iter().filter(|(n, h)| oh.get(*n).is_some_and(|o| o != *h)).map(|(n, _)| *n).collect();
    for (what, v) in [("hosts added", added), ("hosts removed", removed), ("hosts changed", changed)] {
        if !v.is_empty() {
            parts.push(format!("{what}: {}", list(v)));
        }
    }
    let new_nets: Vec<&str> = new
        .networks
        .iter()
        .filter(|n| old.networks.iter().all(|o| o.name != n.name))
        .map(|n| n.name.as_str())
        .collect();
    if !new_nets.is_empty() {
        parts.push(format!("new shared networks: {}", list(new_nets)));
    }
    let addresses = |c: &EngineConfig| -> u64 {
        c.networks
            .iter()
            .flat_map(|n| &n.pools)
            .flat_map(|p| &p.ranges)
            .map(|(a, b)| u64::from(u32::from(*b)).saturating_sub(u64::from(u32::from(*a))) + 1)
            .sum()
    };
    let grown = addresses(new).saturating_sub(addresses(old));
    if grown > 0 {
        parts.push(format!("{grown} addresses added"));
    }
    if old.classes != new.classes {
        let names = |c: &EngineConfig| c.classes.iter().map(|k| k.name.clone()).collect::<Vec<_>>();
        parts.push(format!("classes changed (now: {})", names(new).join(", ")));
    }
    let mut scopes = Vec::new();
    if old.global != new.global {
        scopes.push("global".to_string());
    }
    for on in &old.networks {
        let Some(nn) = new.networks.iter().find(|n| n.name == on.name) else { continue };
        let subnets_changed = on.subnets.len() != nn.subnets.len()
            || on.subnets.iter().zip(&nn.subnets).any(|(a, b)| a.params != b.params);
        let pools_changed = on.pools.iter().zip(&nn.pools).any(|(a, b)| {
            a.params != b.params
                || a.allow_unknown_clients != b.allow_unknown_clients
                || a.dynamic_bootp != b.dynamic_bootp
                || a.permits != b.permits
                || a.prohibits != b.prohibits
        });
        if subnets_changed || pools_changed {
            scopes.push(format!("network {}", on.name));
        }
    }
    if !scopes.is_empty() {
        parts.push(format!("parameters changed in {}", scopes.join(", ")));
    }
    if parts.is_empty() { "no change".to_string() } else { parts.join("; ") }
}

/// Whether every address of `start..=end` lies in one of `ranges`.
fn covers(
    ranges: &[(std::net::Ipv4Addr, std::net::Ipv4Addr)],
    start: std::net::Ipv4Addr,
    end: std::net::Ipv4Addr,
) -> bool {
    let (mut at, end) = (u64::from(u32::from(start)), u64::from(u32::from(end)));
    // Walk the sorted ranges: each one that contains `at` moves it past its end.
    let mut sorted: Vec<(u64, u64)> =
        ranges.iter().map(|(a, b)| (u64::from(u32::from(*a)), u64::from(u32::from(*b)))).collect();
    sorted.sort_unstable();
    for (a, b) in sorted {
        if a <= at && at <= b {
            at = b + 1;
        }
        if at > end {
            return true;
        }
    }
    at > end
}

#[cfg(test)]
#[path = "conf_engine_tests.rs"]
mod engine_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn model(text: &str) -> Config {
        match dhcp_config::parse_str("test.conf", text, &dhcp_config::MemoryLoader::default()) {
            Ok(p) => p.config,
            Err(e) => panic!("test config does not parse: {e}"),
        }
    }

    const BASE: &str = "subnet 198.18.0.0 netmask 255.255.255.0 { range 198.18.0.10 198.18.0.20; option domain-name \"a.test\"; }\n\
                        subnet 198.18.1.0 netmask 255.255.255.0 { range 198.18.1.10 198.18.1.20; }\n";

    fn reload(old: &str, new: &str) -> Result<EngineConfig, ReloadRefused> {
        let (om, nm) = (model(old), model(new));
        reloaded_engine_config(&om, &nm, &engine_config(&om))
    }

    #[test]
    fn options_hosts_and_grown_ranges_apply() {
        let new = BASE.replace("a.test", "b.test").replace("198.18.0.20", "198.18.0.30")
            + "host h { hardware ethernet 52:54:00:00:00:01; fixed-address 198.18.0.5; }\n";
        let cfg = reload(BASE, &new).expect("applies");
        assert_eq!(cfg.hosts.len(), 1);
        assert_eq!(
            describe_changes(&engine_config(&model(BASE)), &cfg),
            "hosts added: h; 10 addresses added; parameters changed in network 198.18.0.0"
        );
        assert_eq!(describe_changes(&cfg, &cfg), "no change");
        let (_, pool) = cfg.pool(0).expect("pool 0");
        assert_eq!(pool.ranges, vec![("198.18.0.10".parse().unwrap(), "198.18.0.30".parse().unwrap())]);
        assert_eq!(pool.params.option(15), Some(&b"b.test"[..]));
    }

    #[test]
    fn classes_and_permits_apply_live_and_are_described() {
        let classes = format!(
            "class \"pxe\" {{ match if substring (option vendor-class-identifier, 0, 9) = \"PXEClient\"; }}\n{}",
            BASE.replace(
                "range 198.18.0.10 198.18.0.20;",
                "pool { allow members of \"pxe\"; range 198.18.0.10 198.18.0.20; }"
            )
        );
        let two_pools = BASE.replace("range 198.18.0.10 198.18.0.20;", "pool { range 198.18.0.10 198.18.0.20; }");
        let cfg = reload(&two_pools, &classes).expect("applies");
        assert_eq!(cfg.classes.len(), 1);
        assert_eq!(
            describe_changes(&engine_config(&model(&two_pools)), &cfg),
            "classes changed (now: pxe); parameters changed in network 198.18.0.0"
        );
    }

    #[test]
    fn a_new_subnet_declared_first_keeps_existing_pool_ids() {
        let new = format!("subnet 198.18.2.0 netmask 255.255.255.0 {{ range 198.18.2.10 198.18.2.20; }}\n{BASE}");
        let old_cfg = engine_config(&model(BASE));
        let cfg = reload(BASE, &new).expect("applies");
        for on in &old_cfg.networks {
            let nn = cfg.networks.iter().find(|n| n.name == on.name).expect("network kept");
            assert_eq!(nn.first_pool_id, on.first_pool_id, "{}", on.name);
        }
        let added = cfg.networks.iter().find(|n| old_cfg.networks.iter().all(|o| o.name != n.name)).expect("new");
        assert_eq!(added.first_pool_id, 2);
        assert_eq!(cfg.pool_count(), 3);
    }

    #[test]
    fn removing_or_shrinking_is_refused() {
        let shrunk = BASE.replace("198.18.0.20", "198.18.0.15");
        assert!(matches!(reload(BASE, &shrunk), Err(ReloadRefused::RangeRemoved { index: 0, .. })));
        let removed = BASE.lines().next().unwrap_or_default().to_string();
        assert!(matches!(reload(BASE, &removed), Err(ReloadRefused::NetworkRemoved(_))));
        // The same addresses split over two ranges still cover the old one.
        let split = BASE
            .replace("range 198.18.0.10 198.18.0.20;", "range 198.18.0.10 198.18.0.14; range 198.18.0.15 198.18.0.20;");
        assert!(reload(BASE, &split).is_ok());
    }

    #[test]
    fn pool_layout_and_omapi_changes_are_refused() {
        let two_pools = BASE.replace(
            "range 198.18.0.10 198.18.0.20;",
            "pool { range 198.18.0.10 198.18.0.20; } pool { range 198.18.0.30 198.18.0.40; }",
        );
        let err = reload(BASE, &two_pools).expect_err("a pool added to an existing network");
        assert!(matches!(err, ReloadRefused::PoolCountChanged { before: 1, after: 2, .. }), "{err}");
        let omapi = format!("omapi-port 7911;\n{BASE}");
        assert_eq!(reload(BASE, &omapi).expect_err("omapi"), ReloadRefused::Omapi("omapi-port"));
    }

    /// The DNS update task is set up at start: turning DDNS on or off, or changing its
    /// zones, needs a restart; the per-scope names change live.
    #[test]
    fn ddns_task_changes_are_refused_names_apply() {
        let on = format!("ddns-update-style interim;\nddns-domainname \"a.test\";\n{BASE}");
        assert_eq!(reload(BASE, &on).expect_err("style"), ReloadRefused::Ddns("ddns-update-style"));
        let zone = format!("zone a.test. {{ primary 198.18.0.53; }}\n{on}");
        assert_eq!(reload(&on, &zone).expect_err("zone"), ReloadRefused::Ddns("a zone declaration"));
        let renamed = zone.replace("ddns-domainname \"a.test\"", "ddns-domainname \"b.test\"");
        assert!(reload(&zone, &renamed).is_ok());
    }

    #[test]
    fn failover_peer_changes_are_refused() {
        let peer = |addr: &str| {
            format!(
                "failover peer \"p\" {{ primary; address {addr}; port 647; peer address 198.18.0.2; peer port 647; \
                 max-response-delay 30; max-unacked-updates 10; mclt 60; split 128; load balance max seconds 3; }}\n\
                 subnet 198.18.0.0 netmask 255.255.255.0 {{ pool {{ failover peer \"p\"; range 198.18.0.10 198.18.0.20; }} }}\n"
            )
        };
        let err = reload(&peer("198.18.0.1"), &peer("198.18.0.3")).expect_err("refused");
        assert!(err.to_string().contains("address"), "{err}");
        assert!(matches!(err, ReloadRefused::FailoverPeerChanged { .. }));
        assert!(reload(&peer("198.18.0.1"), &peer("198.18.0.1")).is_ok());
        // The peer link's security too.
        let secured = peer("198.18.0.1").replacen(
            "split 128;",
            "split 128; tls-certificate \"c\"; tls-key \"k\"; tls-ca \"a\";",
            1,
        );
        let err = reload(&peer("198.18.0.1"), &secured).expect_err("refused");
        assert!(err.to_string().contains("tls-certificate"), "{err}");
        // A relationship added or removed.
        let err = reload(BASE, &peer("198.18.0.1")).expect_err("added");
        assert!(matches!(err, ReloadRefused::FailoverPeerAddedOrRemoved { what: "added", .. }), "{err}");
        let err = reload(&peer("198.18.0.1"), BASE).expect_err("removed");
        assert!(matches!(err, ReloadRefused::FailoverPeerAddedOrRemoved { what: "removed", .. }), "{err}");
    }
}
