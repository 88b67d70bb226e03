//! Any UDP payload through the DHCP engine: a reply or a counted drop, never a panic.
//! The configuration is class-heavy so that every packet also goes through
//! classification, pool permits and per-packet expressions (`dhcp_config::expr`).
#![no_main]
use dhcp_user::dhcp::{Engine, RequestMeta};
use dhcp_user::time::Now;
use libfuzzer_sys::fuzz_target;
use std::net::Ipv4Addr;
use std::sync::OnceLock;

/// The same configuration as `dhcp-user`'s `expressions_never_panic_on_any_packet` test.
const CONF: &str = include_str!("../../dhcp-user/src/dhcp/testdata/classes.conf");

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        let parsed = dhcp_config::parse_str("classes.conf", CONF, &dhcp_config::MemoryLoader::default())
            .unwrap_or_else(|e| panic!("fuzz configuration does not load: {e}"));
        Engine::new(dhcp_user::conf::engine_config(&parsed.config))
    })
}

fuzz_target!(|data: &[u8]| {
    let meta = RequestMeta { iface_addr: Ipv4Addr::new(198, 18, 0, 1), broadcast: true, tied_iface: None };
    let _ = engine().handle(Now::at(1_000_000), &meta, data);
});
