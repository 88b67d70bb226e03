//! The configuration as the engine uses it: networks, subnets, pools and hosts with their
//! effective parameters already resolved (built from the dhcpd.conf model in `crate::conf`).

use dhcp_config::{Class, Dynamic, OptionSpace, Permit, SpaceOptionValue};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// Parameters effective in a scope (global → shared-network → subnet → pool / host).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    pub default_lease_secs: u32,
    pub max_lease_secs: u32,
    pub min_lease_secs: u32,
    /// Authoritative servers NAK requests for addresses that are wrong for the network.
    pub authoritative: bool,
    pub server_identifier: Option<Ipv4Addr>,
    /// Options to send, as (code, wire bytes), sorted by code.
    pub options: Vec<(u8, Vec<u8>)>,
    pub next_server: Option<Ipv4Addr>,
    pub filename: Option<String>,
    pub server_name: Option<String>,
    /// `use-host-decl-names`: send a host declaration's name as host-name (option 12).
    /// `None`: not set in this scope (a host's), the enclosing value stands; off if none.
    pub use_host_decl_names: Option<bool>,
    /// `one-lease-per-client`: a DHCPREQUEST releases the client's other lease.
    /// `None` as for `use_host_decl_names`.
    pub one_lease_per_client: Option<bool>,
    /// `ignore-client-uids`: the client's leases are known by its hardware address, its
    /// client identifier not recorded (`None`: not set in this scope).
    pub ignore_client_uids: Option<bool>,
    /// `update-static-leases`: a client given a host's fixed address gets DNS updates too
    /// (`None` as for `use_host_decl_names`: off if none).
    pub update_static_leases: Option<bool>,
    /// `get-lease-hostnames`: a lease's reverse DNS name goes out as host-name when no
    /// `option host-name` is in force ([`crate::dhcp::Engine::set_lease_names`]).
    pub get_lease_hostnames: bool,
    /// `allow|deny duplicates` (allowed by default).
    pub duplicates: bool,
    /// `allow|deny|ignore booting`: false drops the client's DISCOVER, REQUEST or BOOTP
    /// request. `None` as for `use_host_decl_names` (allowed if none).
    pub allow_booting: Option<bool>,
    /// The scope chain's per-packet statements (`if` blocks, `option NAME = expr;`), run
    /// over the values above for each request (shared: cloning Params copies a pointer).
    pub dynamic: Arc<[Dynamic]>,
    /// `vendor-option-space` in force: when a class or an `if` changes it or the space
    /// options below, option 43 is built again for the client.
    pub vendor_option_space: Option<String>,
    /// `option SPACE.NAME` values in force (shared until a per-packet statement adds one).
    pub space_options: Arc<Vec<SpaceOptionValue>>,
    /// Option 43 was written as such (`option vendor-encapsulated-options`), so the
    /// space's options do not make it up.
    pub option43_explicit: bool,
    /// `filename = EXPR;` and the like, by field (file, sname, siaddr): dhcpd evaluates
    /// these when it builds the reply, after every statement (a variable set later is
    /// seen), so they are computed last. A plain value set later drops the expression.
    pub header_exprs: [Option<Arc<dhcp_config::DataExpr>>; 3],
    /// `ping-check`: an OFFER of an address not in use waits for an ICMP echo to it to go
    /// unanswered ([`crate::dhcp::Probe`]).
    pub ping_check: bool,
    /// `ping-timeout`, in seconds: how long that wait is, unless `ping_timeout_ms` is
    /// above 0 ([`Params::ping_wait_ms`]).
    pub ping_timeout_secs: u32,
    /// `ping-timeout-ms` (0: not set). Both are kept, not combined, because a per-client
    /// statement may set either (`ping-timeout = EXPR;`) and dhcpd combines them after.
    pub ping_timeout_ms: u32,
    /// `ping-cltt-secs`: the client's own address used this recently is not pinged.
    pub ping_cltt_secs: u32,
    /// The scope's DNS-update statements (in force when [`EngineConfig::ddns_style`] is set).
    pub ddns: Arc<dhcp_config::DdnsParams>,
}

impl Default for Params {
    /// dhcpd's defaults: 12 h default lease, 24 h max, not authoritative, ping-check on.
    fn default() -> Params {
        Params {
            default_lease_secs: 43_200,
            max_lease_secs: 86_400,
            min_lease_secs: 0,
            authoritative: false,
            server_identifier: None,
            options: Vec::new(),
            next_server: None,
            filename: None,
            server_name: None,
            use_host_decl_names: None,
            one_lease_per_client: None,
            ignore_client_uids: None,
            update_static_leases: None,
            get_lease_hostnames: false,
            duplicates: true,
            allow_booting: None,
            dynamic: Arc::from(Vec::new()),
            vendor_option_space: None,
            space_options: Arc::new(Vec::new()),
            option43_explicit: false,
            header_exprs: [None, None, None],
            ping_check: true,
            ping_timeout_secs: 1,
            ping_timeout_ms: 0,
            ping_cltt_secs: 60,
            ddns: Arc::new(dhcp_config::DdnsParams::default()),
        }
    }
}

impl Params {
    /// The wait for a ping's echo reply, in milliseconds: `ping-timeout-ms` when above
    /// 0, else `ping-timeout` (dhcpd's do_ping_check).
    pub fn ping_wait_ms(&self) -> u32 {
        if self.ping_timeout_ms > 0 { self.ping_timeout_ms } else { self.ping_timeout_secs.saturating_mul(1000) }
    }

    pub fn option(&self, code: u8) -> Option<&[u8]> {
        self.options.iter().find(|(c, _)| *c == code).map(|(_, v)| v.as_slice())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubnetCfg {
    pub network: Ipv4Addr,
    pub prefix_len: u8,
    pub params: Params,
}

impl SubnetCfg {
    pub fn mask(&self) -> u32 {
        if self.prefix_len == 0 { 0 } else { u32::MAX << (32 - u32::from(self.prefix_len.min(32))) }
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network) & self.mask()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolCfg {
    /// Index into `Network::subnets`.
    pub subnet: usize,
    pub ranges: Vec<(Ipv4Addr, Ipv4Addr)>,
    pub allow_unknown_clients: bool,
    pub dynamic_bootp: bool,
    pub failover_peer: Option<String>,
    pub params: Params,
    /// `allow ...;` in the pool: with any, only clients matching one may use it.
    pub permits: Vec<Permit>,
    /// `deny ...;` in the pool: clients matching one may not use it.
    pub prohibits: Vec<Permit>,
}

impl PoolCfg {
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let n = u32::from(ip);
        self.ranges.iter().any(|(a, b)| u32::from(*a) <= n && n <= u32::from(*b))
    }
}

/// A shared network: subnets on one wire, with the pools that serve them.
#[derive(Clone, Debug)]
pub struct Network {
    pub name: String,
    pub subnets: Vec<SubnetCfg>,
    /// Pools; their global [`crate::lease::PoolId`] is `first_pool_id + index`.
    pub pools: Vec<PoolCfg>,
    pub first_pool_id: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostCfg {
    pub name: String,
    pub hardware_ethernet: Option<[u8; 6]>,
    pub client_identifier: Option<Vec<u8>>,
    pub fixed_addresses: Vec<Ipv4Addr>,
    /// A `fixed-address` statement is written (its names may have resolved to nothing):
    /// the host is then never the host of a dynamic lease.
    pub fixed_address_declared: bool,
    /// `host-identifier option NAME VALUE;`: the option read from the request and its value.
    pub identifier: Option<(dhcp_config::OptionRef, Vec<u8>)>,
    pub params: Params,
}

#[derive(Clone, Debug, Default)]
pub struct EngineConfig {
    pub networks: Vec<Network>,
    pub hosts: Vec<HostCfg>,
    pub global: Params,
    /// Seconds an offered address stays reserved for the client it was offered to.
    pub offer_hold_secs: u32,
    /// dhcpd's global `abandon-lease-time`: seconds a declined (abandoned) address stays
    /// out of use (`u32::MAX`: `infinite`, i.e. until an operator frees it).
    pub abandon_lease_secs: u32,
    /// `class` declarations, in file order (the order packets are classified in).
    pub classes: Vec<Class>,
    /// `option space` declarations (to build option 43 per packet).
    pub option_spaces: Vec<OptionSpace>,
    /// `option NAME code N = encapsulate SPACE;`: (N, SPACE), built again per packet
    /// when a class or an `if` sets options of SPACE.
    pub encapsulations: Vec<(u8, String)>,
    /// Whether some statement sets or reads a variable (then the lease's binding scope
    /// is looked up for each answer).
    pub uses_vars: bool,
    /// Whether some class has a lease limit (then bindings are billed to classes).
    pub has_lease_limits: bool,
    /// `ddns-update-style interim|standard`: leases get DNS updates (see `crate::ddns`).
    pub ddns_style: Option<crate::ddns::Style>,
    /// `interface NAME;` statements in force: (interface, index into `networks`).
    pub tied_interfaces: Vec<(String, usize)>,
}

impl EngineConfig {
    /// One network of one subnet (`subnet`: address and prefix length) with one pool of
    /// `ranges`, in failover relationship `peer` if given, `params` in force globally, in the
    /// subnet and in the pool: the shape the unit tests, the benchmarks and the simulator
    /// serve from (a configuration file gives the rest: hosts, classes, spaces).
    pub fn single_pool(
        name: &str,
        subnet: (Ipv4Addr, u8),
        ranges: Vec<(Ipv4Addr, Ipv4Addr)>,
        peer: Option<&str>,
        params: Params,
    ) -> EngineConfig {
        EngineConfig {
            networks: vec![Network {
                name: name.into(),
                subnets: vec![SubnetCfg { network: subnet.0, prefix_len: subnet.1, params: params.clone() }],
                pools: vec![PoolCfg {
                    subnet: 0,
                    ranges,
                    allow_unknown_clients: true,
                    dynamic_bootp: false,
                    failover_peer: peer.map(String::from),
                    params: params.clone(),
                    permits: Vec::new(),
                    prohibits: Vec::new(),
                }],
                first_pool_id: 0,
            }],
            global: params,
            offer_hold_secs: 30,
            abandon_lease_secs: 86_400,
            ..EngineConfig::default()
        }
    }

    /// The addresses whose reverse DNS names `get-lease-hostnames` sends: those of the
    /// pools, and the fixed addresses of the hosts, of the scopes that turn it on; at most
    /// `max` (the first ones in file order).
    pub fn lease_name_addresses(&self, max: usize) -> Vec<std::net::Ipv4Addr> {
        let mut out = Vec::new();
        for h in self.hosts.iter().filter(|h| h.params.get_lease_hostnames) {
            out.extend(h.fixed_addresses.iter().copied());
        }
        for n in &self.networks {
            for p in n.pools.iter().filter(|p| p.params.get_lease_hostnames) {
                for (a, b) in &p.ranges {
                    let room = max.saturating_sub(out.len()) as u64;
                    let (a, b) = (u32::from(*a), u32::from(*b));
                    out.extend(
                        (u64::from(a)..=u64::from(b)).take(room as usize).map(|v| std::net::Ipv4Addr::from(v as u32)),
                    );
                }
            }
        }
        out.truncate(max);
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Some scope turns `ping-check` on.
    pub fn pings(&self) -> bool {
        self.global.ping_check
            || self.hosts.iter().any(|h| h.params.ping_check)
            || self
                .networks
                .iter()
                .any(|n| n.subnets.iter().any(|s| s.params.ping_check) || n.pools.iter().any(|p| p.params.ping_check))
    }

    /// The network serving `ip` (a giaddr or the receiving interface's address).
    pub fn network_for(&self, ip: Ipv4Addr) -> Option<(usize, &Network)> {
        self.networks.iter().enumerate().find(|(_, n)| n.subnets.iter().any(|s| s.contains(ip)))
    }

    /// The network an `interface` statement ties interface `name` to.
    pub fn tied_network(&self, name: &str) -> Option<&Network> {
        let (_, i) = self.tied_interfaces.iter().find(|(n, _)| n == name)?;
        self.networks.get(*i)
    }

    /// Total pools across networks.
    pub fn pool_count(&self) -> usize {
        self.networks.iter().map(|n| n.pools.len()).sum()
    }

    /// The failover relationship of a pool, if any.
    pub fn pool_peer(&self, id: u32) -> Option<&str> {
        self.pool(id)?.1.failover_peer.as_deref()
    }

    /// (network, pool) for a global pool id.
    pub fn pool(&self, id: u32) -> Option<(&Network, &PoolCfg)> {
        self.networks.iter().find_map(|n| {
            let idx = id.checked_sub(n.first_pool_id)? as usize;
            n.pools.get(idx).map(|p| (n, p))
        })
    }
}
