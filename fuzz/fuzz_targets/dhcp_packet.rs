//! Any UDP payload through the DHCP engine: a reply or a counted drop, never a panic.
#![no_main]
use dhcp_user::dhcp::{Engine, EngineConfig, Network, Params, PoolCfg, RequestMeta, SubnetCfg};
use dhcp_user::time::Now;
use libfuzzer_sys::fuzz_target;
use std::net::Ipv4Addr;
use std::sync::OnceLock;

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        let params = Params { authoritative: true, options: vec![(3, vec![198, 18, 0, 1])], ..Params::default() };
        Engine::new(EngineConfig {
            networks: vec![Network {
                name: "fuzz".into(),
                subnets: vec![SubnetCfg { network: Ipv4Addr::new(198, 18, 0, 0), prefix_len: 24, params: params.clone() }],
                pools: vec![PoolCfg {
                    subnet: 0,
                    ranges: vec![(Ipv4Addr::new(198, 18, 0, 10), Ipv4Addr::new(198, 18, 0, 40))],
                    allow_unknown_clients: true,
                    dynamic_bootp: true,
                    failover_peer: None,
                    params,
                    permits: Vec::new(),
                    prohibits: Vec::new(),
                }],
                first_pool_id: 0,
            }],
            hosts: vec![],
            global: Params::default(),
            offer_hold_secs: 30,
            abandon_lease_secs: 86_400,
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let meta = RequestMeta { iface_addr: Ipv4Addr::new(198, 18, 0, 1), broadcast: true };
    let _ = engine().handle(Now::at(1_000_000), &meta, data);
});
