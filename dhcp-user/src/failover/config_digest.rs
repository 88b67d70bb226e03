//! The sections of a relationship's configuration that two xdhcpd partners compare
//! ([`dhcp_failover::drift`]): what both sides configure and must agree on.
//!
//! `mclt` and `split`/`hba` are not sections: only the primary may configure them and it
//! sends them in CONNECT, where the secondary adopts them, so they cannot drift. The
//! parameters written on both sides, the two servers' addresses, and every pool of the
//! relationship (its ranges, by subnet) can. The pools come from the engine's configuration
//! in force, so a reload that grows a range is what the partner is compared with.

use crate::dhcp::config::EngineConfig;
use dhcp_config::{FailoverPeer, PeerAddress, Role};
use dhcp_failover::drift::ConfigSections;

/// Most bytes the encoded sections may take: they ride in one failover message (2,048 bytes
/// at most, with the CONNECTACK or STATE they join and a message digest).
pub const BUDGET: usize = 1500;

fn addr(a: &PeerAddress, port: u16) -> String {
    match a {
        PeerAddress::Ip(ip) => format!("{ip}:{port}"),
        PeerAddress::Name(n) => format!("{n}:{port}"),
    }
}

/// The sections of relationship `peer` with the pools of `config`, in a fixed order.
pub fn sections(config: &EngineConfig, peer: &FailoverPeer) -> ConfigSections {
    let mut s = ConfigSections::new();
    // Each side writes its own address first: put them in primary, secondary order.
    let (me, partner) = (addr(&peer.address, peer.port), addr(&peer.peer_address, peer.peer_port));
    let (primary, secondary) = match peer.role {
        Role::Primary => (me, partner),
        Role::Secondary => (partner, me),
    };
    s.add("addresses", &format!("primary {primary} secondary {secondary}"));
    s.add("max-response-delay", &peer.max_response_delay.to_string());
    s.add("max-unacked-updates", &peer.max_unacked_updates.to_string());
    s.add("load balance max seconds", &peer.load_balance_max_seconds.to_string());
    s.add("auto-partner-down", &peer.auto_partner_down.to_string());
    s.add(
        "pool balancing",
        &format!(
            "max-lease-misbalance {} max-lease-ownership {} min-balance {} max-balance {}",
            peer.max_lease_misbalance, peer.max_lease_ownership, peer.min_balance, peer.max_balance
        ),
    );
    s.add("hot-standby-reserve", &format!("{:?}", peer.hot_standby_reserve_percent));
    let mut pools = Vec::new();
    for net in &config.networks {
        let mut seen_in_subnet: Vec<usize> = Vec::new();
        for pool in net.pools.iter().filter(|p| p.failover_peer.as_deref() == Some(peer.name.as_str())) {
            let Some(subnet) = net.subnets.get(pool.subnet) else { continue };
            let nth = seen_in_subnet.iter().filter(|&&i| i == pool.subnet).count();
            seen_in_subnet.push(pool.subnet);
            let suffix = if nth == 0 { String::new() } else { format!(" #{}", nth + 1) };
            let mut ranges: Vec<String> = pool.ranges.iter().map(|(a, b)| format!("{a}-{b}")).collect();
            ranges.sort();
            pools.push((format!("pool {}/{}{suffix} ranges", subnet.network, subnet.prefix_len), ranges.join(",")));
        }
    }
    let mut per_pool = s.clone();
    for (name, canonical) in &pools {
        per_pool.add(name, canonical);
    }
    if per_pool.encode().len() <= BUDGET {
        return per_pool;
    }
    // Too many pools to name each one: one section for all of them (a difference is then
    // reported as "pools", without saying which).
    let all: Vec<String> = pools.iter().map(|(n, c)| format!("{n}: {c}")).collect();
    s.add("pools", &all.join("\n"));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcp_config::{Config, MemoryLoader, parse_str};
    use dhcp_failover::drift::{DriftKind, diff};

    fn conf(role: &str, me: &str, partner: &str, range_end: u8) -> Config {
        let extra = if role == "primary" { "mclt 60; split 128;" } else { "" };
        let text = format!(
            "failover peer \"lab\" {{ {role}; address {me}; peer address {partner}; {extra} }}\n\
             subnet 198.18.0.0 netmask 255.255.255.0 {{ pool {{ failover peer \"lab\"; range 198.18.0.100 198.18.0.{range_end}; }} }}\n"
        );
        parse_str("t.conf", &text, &MemoryLoader::default()).unwrap_or_else(|e| panic!("{e}")).config
    }

    fn of(c: &Config) -> ConfigSections {
        sections(&crate::conf::engine_config(c), &c.failover_peers[0])
    }

    #[test]
    fn mirrored_pair_configs_agree() {
        let p = conf("primary", "198.18.0.1", "198.18.0.2", 199);
        let s = conf("secondary", "198.18.0.2", "198.18.0.1", 199);
        assert_eq!(diff(&of(&p), &of(&s)), vec![]);
    }

    #[test]
    fn many_pools_collapse_into_one_section_that_fits() {
        let mut text = String::from(
            "failover peer \"lab\" { primary; address 198.18.0.1; peer address 198.18.0.2; mclt 60; split 128; }\n",
        );
        for n in 0..200 {
            text.push_str(&format!(
                "subnet 198.19.{n}.0 netmask 255.255.255.0 {{ pool {{ failover peer \"lab\"; range 198.19.{n}.10 198.19.{n}.20; }} }}\n"
            ));
        }
        let c = parse_str("t.conf", &text, &MemoryLoader::default()).unwrap_or_else(|e| panic!("{e}")).config;
        let s = of(&c);
        assert!(s.encode().len() <= BUDGET, "{}", s.encode().len());
        assert_eq!(s.sections().last().map(|x| x.name.as_str()), Some("pools"));
        let mut changed = text.clone();
        changed = changed.replacen("198.19.7.20", "198.19.7.30", 1);
        let c2 = parse_str("t.conf", &changed, &MemoryLoader::default()).unwrap_or_else(|e| panic!("{e}")).config;
        let d = diff(&s, &of(&c2));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].section, "pools");
    }

    #[test]
    fn a_different_range_is_named() {
        let p = conf("primary", "198.18.0.1", "198.18.0.2", 199);
        let s = conf("secondary", "198.18.0.2", "198.18.0.1", 150);
        let d = diff(&of(&p), &of(&s));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].section, "pool 198.18.0.0/24 ranges");
        assert_eq!(d[0].kind, DriftKind::Differs);
    }
}
