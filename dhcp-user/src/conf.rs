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
                    })
                    .collect(),
                first_pool_id,
            }
        })
        .collect();
    let hosts = cfg
        .hosts
        .iter()
        .map(|h| HostCfg {
            name: h.name.clone(),
            hardware_ethernet: h.hardware_ethernet,
            client_identifier: h.client_identifier.clone(),
            fixed_addresses: h.fixed_addresses.clone(),
            params: params(&h.effective),
        })
        .collect();
    EngineConfig { networks, hosts, global: params(&cfg.global), offer_hold_secs: 30 }
}
