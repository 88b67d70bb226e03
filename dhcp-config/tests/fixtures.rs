//! The reference and administrators' configurations load, with the expected values.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use dhcp_config::{
    AddrRange, Config, KeyAlgorithm, MemoryLoader, Parsed, PeerAddress, Permit, Role, WarningKind, parse_file,
    parse_str, split_to_hba,
};

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn load(name: &str) -> Parsed {
    match parse_file(&fixture_path(name)) {
        Ok(p) => p,
        Err(e) => panic!("{name} does not load:\n{e}"),
    }
}

/// The OpenBSD pair includes `/etc/dhcpd.master`; serve it from memory.
fn load_openbsd(name: &str) -> Parsed {
    let master = std::fs::read_to_string(fixture_path("openbsd-dhcpd.master")).expect("fixture");
    let text = std::fs::read_to_string(fixture_path(name)).expect("fixture");
    let mut loader = MemoryLoader::default();
    loader.insert("/etc/dhcpd.master", master);
    parse_str(&format!("/etc/{name}"), &text, &loader).unwrap_or_else(|e| panic!("{name}:\n{e}"))
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("test address")
}

fn range(a: &str, b: &str) -> AddrRange {
    AddrRange { start: ip(a), end: ip(b) }
}

fn only_pool(c: &Config) -> &dhcp_config::Pool {
    assert_eq!(c.shared_networks.len(), 1);
    assert_eq!(c.shared_networks[0].pools.len(), 1);
    &c.shared_networks[0].pools[0]
}

#[test]
fn capture_primary() {
    let p = load("capture-primary.conf");
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let c = &p.config;
    assert!(c.global.authoritative);
    assert_eq!(c.global.default_lease_time, 600);
    assert_eq!(c.global.max_lease_time, 7200);
    assert_eq!(c.omapi_port, Some(7911));
    assert_eq!(c.omapi_key.as_deref(), Some("omkey"));
    let key = c.key("omkey").expect("key");
    assert_eq!(key.algorithm, KeyAlgorithm::HmacMd5);
    assert_eq!(key.secret, b"secretsecretsecret");
    let peer = c.failover_peer("fo-test").expect("peer");
    assert_eq!(peer.role, Role::Primary);
    assert_eq!(peer.address, PeerAddress::Ip(ip("10.9.0.1")));
    assert_eq!(peer.peer_address.ip(), Some(ip("10.9.0.2")));
    assert_eq!((peer.port, peer.peer_port), (647, 647));
    assert_eq!((peer.max_response_delay, peer.max_unacked_updates), (30, 10));
    assert_eq!(peer.mclt, Some(120));
    assert_eq!(peer.split, Some(128));
    let hba = peer.hba.expect("hba from split");
    assert!(hba[..16].iter().all(|&b| b == 0xff) && hba[16..].iter().all(|&b| b == 0));
    assert_eq!(peer.load_balance_max_seconds, 3);
    // Defaults from the digest (§3, §7.1).
    assert_eq!((peer.max_lease_misbalance, peer.max_lease_ownership), (15, 10));
    assert_eq!((peer.min_balance, peer.max_balance, peer.auto_partner_down), (60, 3600, 0));
    assert_eq!(peer.hot_standby_reserve_percent, None);
    let pool = only_pool(c);
    assert_eq!(pool.failover_peer.as_deref(), Some("fo-test"));
    assert_eq!(pool.ranges, vec![range("10.9.0.100", "10.9.0.109")]);
    assert_eq!(pool.ranges[0].len(), 10);
    let sn = &c.shared_networks[0];
    assert_eq!(sn.name, "10.9.0.0");
    assert_eq!(sn.subnets[0].prefix_len, 24);
    assert_eq!(pool.effective.default_lease_time, 600);
}

#[test]
fn capture_secondary() {
    let c = load("capture-secondary.conf").config;
    let peer = c.failover_peer("fo-test").expect("peer");
    assert_eq!(peer.role, Role::Secondary);
    assert_eq!((peer.mclt, peer.split, peer.hba), (None, None, None));
    assert_eq!(c.omapi_port, None);
    assert_eq!(only_pool(&c).failover_peer.as_deref(), Some("fo-test"));
}

#[test]
fn capture_primary_hba() {
    let c = load("capture-primary-hba.conf").config;
    let peer = c.failover_peer("fo-test").expect("peer");
    assert_eq!(peer.hba, Some([0x0f; 32]));
    assert_eq!(peer.split, None);
    // The digest's LIVE check: hash 51 is the primary's, 117 is not.
    let mine = |h: usize| peer.hba_or_default()[h >> 3] & (1 << (h & 7)) != 0;
    assert!(mine(51));
    assert!(!mine(117));
}

#[test]
fn anchors_bench_pair() {
    let p = load("anchors-failover-primary.conf");
    let c = &p.config;
    assert!(!c.global.ping_check);
    assert_eq!(c.global.default_lease_time, 86400);
    let peer = c.failover_peer("anc-fo").expect("peer");
    assert_eq!((peer.mclt, peer.split), (Some(3600), Some(128)));
    let pool = only_pool(c);
    // `deny dynamic bootp clients;` in a pool is a permit (dhcpd's prohibit list).
    assert_eq!(pool.prohibits, vec![Permit::DynamicBootpClients]);
    assert_eq!(pool.ranges, vec![range("198.18.1.0", "198.19.255.254")]);
    assert_eq!(c.shared_networks[0].subnets[0].prefix_len, 15);

    let c = load("anchors-failover-secondary.conf").config;
    assert_eq!(c.failover_peer("anc-fo").map(|p| p.role), Some(Role::Secondary));

    let c = load("anchors-single.conf").config;
    let pool = only_pool(&c);
    assert_eq!(pool.failover_peer, None);
    assert!(c.failover_peers.is_empty());
}

#[test]
fn openbsd_pair_with_include() {
    let p = load_openbsd("openbsd-primary.conf");
    let c = &p.config;
    let peer = c.failover_peer("dhcp-failover").expect("peer");
    assert_eq!((peer.port, peer.peer_port), (520, 520));
    assert_eq!((peer.max_response_delay, peer.mclt), (10, Some(1800)));
    let pool = only_pool(c);
    assert_eq!(pool.ranges, vec![range("192.168.13.32", "192.168.13.47")]);
    assert_eq!(pool.effective.option(3), Some(&[192, 168, 13, 1][..]));
    assert_eq!(pool.effective.option(28), Some(&[192, 168, 13, 255][..]));
    assert_eq!(pool.prohibits, vec![Permit::DynamicBootpClients]);

    let c = load_openbsd("openbsd-secondary.conf").config;
    let peer = c.failover_peer("dhcp-failover").expect("peer");
    assert_eq!(peer.role, Role::Secondary);
    assert_eq!(peer.address.ip(), Some(ip("192.168.13.7")));
}

#[test]
fn openbsd_include_from_the_file_system() {
    // Same files, with the include resolved relative to the including file on disk.
    let text = std::fs::read_to_string(fixture_path("openbsd-primary.conf"))
        .expect("fixture")
        .replace("/etc/dhcpd.master", "openbsd-dhcpd.master");
    let dir = std::env::temp_dir().join(format!("dhcp-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("dhcpd.conf"), text).expect("write");
    std::fs::copy(fixture_path("openbsd-dhcpd.master"), dir.join("openbsd-dhcpd.master")).expect("copy");
    let result = parse_file(&dir.join("dhcpd.conf"));
    let _ = std::fs::remove_dir_all(&dir);
    let c = result.expect("loads").config;
    assert_eq!(only_pool(&c).ranges.len(), 1);
}

#[test]
fn isc_kb_pair_with_host_names_and_bare_secret() {
    let c = load("isc-kb-primary.conf").config;
    let peer = c.failover_peer("failover-partner").expect("peer");
    assert_eq!(peer.address, PeerAddress::Name("dhcp-primary.example.com".into()));
    assert_eq!(peer.peer_address, PeerAddress::Name("dhcp-secondary.example.com".into()));
    assert_eq!((peer.port, peer.peer_port), (519, 520));
    assert_eq!(peer.max_response_delay, 60);
    // `secret Ofakekeyfakekeyfakekey==;` unquoted, as dhcpd accepts it: 16 bytes.
    assert_eq!(c.key("omapi_key").map(|k| k.secret.len()), Some(16));
    assert_eq!(c.omapi_key.as_deref(), Some("omapi_key"));
    let pool = only_pool(&c);
    assert_eq!(pool.effective.option(6), Some(&[10, 100, 0, 2, 10, 100, 0, 3][..]));

    let c = load("isc-kb-secondary.conf").config;
    assert_eq!(c.failover_peer("failover-partner").map(|p| p.role), Some(Role::Secondary));
}

#[test]
fn guide_465_shared_network() {
    let c = load("guide-465-primary.conf").config;
    assert_eq!(c.shared_networks.len(), 1);
    let sn = &c.shared_networks[0];
    assert_eq!(sn.name, "internal-net");
    let e = &sn.pools[0].effective;
    assert_eq!(e.option(1), Some(&[255, 255, 255, 0][..]));
    assert_eq!(e.option(6), Some(&[8, 8, 8, 8, 8, 8, 4, 4][..]));
    assert_eq!(sn.pools[0].ranges[0].len(), 101);
    assert_eq!(c.failover_peer("dhcp-failover").and_then(|p| p.mclt), Some(3600));

    let c = load("guide-465-secondary.conf").config;
    assert_eq!(c.failover_peer("dhcp-failover").map(|p| p.role), Some(Role::Secondary));
}

#[test]
fn cours_lancli() {
    let c = load("cours-lancli-primary.conf").config;
    assert_eq!(c.global.option(15), Some(&b"lancli.lan"[..]));
    assert_eq!(c.key("omapi_cle").map(|k| k.secret.clone()), Some(b"lancli-failover-secret".to_vec()));
    let pool = only_pool(&c);
    // Global options are inherited, subnet options added.
    assert_eq!(pool.effective.option(15), Some(&b"lancli.lan"[..]));
    assert_eq!(pool.effective.option(3), Some(&[172, 16, 0, 254][..]));
}

#[test]
fn windows_hot_standby_extension() {
    let p = load("windows-hot-standby-primary.conf");
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let peer = p.config.failover_peer("DHCP-Failover-HotStandby").expect("peer").clone();
    assert_eq!(peer.hot_standby_reserve_percent, Some(5));
    assert_eq!(peer.hba, None);
    assert_eq!(peer.hba_or_default(), [0xff; 32]);
    assert_eq!((peer.port, peer.max_unacked_updates), (647, 100));
    let e = &only_pool(&p.config).effective;
    assert_eq!(e.option(119), Some(&b"\x03lab\x05local\x00"[..]));

    let c = load("windows-hot-standby-secondary.conf").config;
    let peer = c.failover_peer("DHCP-Failover-HotStandby").expect("peer");
    assert_eq!(peer.hot_standby_reserve_percent, Some(5));
    assert_eq!(peer.role, Role::Secondary);
}

#[test]
fn kitchen_sink_inheritance() {
    let p = load("kitchen-sink.conf");
    // xdhcpd does not ping (`ping-check true` is refused), so `ping-timeout` is read
    // with a warning that it changes nothing.
    let warnings: Vec<String> = p.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("`ping-timeout 2` has no effect"), "{warnings:?}");
    let c = &p.config;
    let g = &c.global;
    assert_eq!((g.min_lease_time, g.ping_timeout), (60, 2));
    assert!(!g.ping_check && !g.get_lease_hostnames);
    assert!(g.one_lease_per_client && g.use_host_decl_names && !g.update_static_leases);
    assert_eq!(g.log_facility.as_deref(), Some("local7"));
    assert_eq!(g.server_identifier, Some(ip("10.0.0.1")));
    assert_eq!(g.option(2), Some(&(-3600i32).to_be_bytes()[..]));
    assert_eq!(g.option(252), Some(&b"http://wpad.example.org/wpad.dat"[..]));

    let peer = c.failover_peer("fo").expect("peer");
    assert_eq!(peer.hba.map(|h| h[0]), Some(0xff));
    assert_eq!(peer.hba.map(|h| h[1]), Some(0x00));
    assert_eq!((peer.auto_partner_down, peer.max_lease_misbalance), (3600, 20));
    // 0 means "default" in dhcpd.
    assert_eq!(peer.max_lease_ownership, 10);
    assert_eq!((peer.min_balance, peer.max_balance), (30, 1800));

    assert_eq!(c.shared_networks.len(), 2);
    let campus = &c.shared_networks[0];
    assert_eq!(campus.name, "campus");
    assert_eq!(campus.subnets.len(), 2);
    assert_eq!(campus.pools.len(), 3);
    // Implicit pool of the subnet comes first, then its explicit pool, then the
    // shared-network pool, resolved to the second subnet.
    let implicit = &campus.pools[0];
    assert_eq!(implicit.ranges, vec![range("10.1.0.20", "10.1.0.29")]);
    assert_eq!(implicit.failover_peer, None);
    assert_eq!(implicit.effective.default_lease_time, 900);
    assert_eq!(implicit.effective.max_lease_time, 7200);
    let pool = &campus.pools[1];
    assert_eq!(pool.subnet_index, 0);
    assert_eq!(pool.effective.max_lease_time, 1800);
    assert_eq!(pool.prohibits, vec![Permit::DynamicBootpClients, Permit::UnknownClients]);
    assert!(pool.permits.is_empty());
    assert_eq!(pool.effective.option(15), Some(&b"campus.example.org"[..]));
    assert_eq!(pool.effective.option(250), Some(&[10, 1, 0, 5, 10, 1, 0, 6][..]));
    assert_eq!(pool.effective.next_server, Some(ip("10.1.0.7")));
    assert_eq!(pool.effective.filename.as_deref(), Some("pxelinux.0"));
    assert_eq!(pool.effective.server_name.as_deref(), Some("boot.example.org"));
    assert!(pool.effective.authoritative);
    let shared_pool = &campus.pools[2];
    assert_eq!(shared_pool.subnet_index, 1);
    assert!(!campus.subnets[1].effective.authoritative);
    assert!(campus.subnets[1].effective.allow_bootp);
    // Options are sorted by code.
    let codes: Vec<u8> = pool.effective.options.iter().map(|(c, _)| *c).collect();
    assert!(codes.windows(2).all(|w| w[0] < w[1]), "{codes:?}");

    let lone = &c.shared_networks[1];
    assert_eq!(lone.name, "10.2.0.0");
    assert_eq!(lone.subnets[0].prefix_len, 16);
    let p = &lone.pools[0];
    assert!(p.dynamic_bootp);
    assert_eq!(p.ranges, vec![range("10.2.1.1", "10.2.1.10"), range("10.2.2.2", "10.2.2.2")]);
    assert_eq!(p.effective.option(26), Some(&[0x23, 0x28][..]));
    // Compressed as dhcpd sends option 119: "lab" then a pointer to "example.org" at 0.
    let mut search = b"\x07example\x03org\x00".to_vec();
    search.extend_from_slice(b"\x03lab\xc0\x00");
    assert_eq!(p.effective.option(119), Some(&search[..]));

    assert_eq!(c.hosts.len(), 4);
    let in_subnet = &c.hosts[0];
    assert_eq!(in_subnet.effective.option(26), Some(&[0x23, 0x28][..]));
    let printer = c.hosts.iter().find(|h| h.name == "printer").expect("host");
    assert_eq!(printer.hardware_ethernet, Some([0x00, 0x11, 0x22, 0xaa, 0xbb, 0xcc]));
    assert_eq!(printer.fixed_addresses, vec![ip("10.1.0.10"), ip("10.1.1.10")]);
    assert_eq!(printer.effective.option(12), Some(&b"printer"[..]));
    assert_eq!(printer.effective.option(66), Some(&b"tftp.example.org"[..]));
    assert_eq!(printer.effective.option(15), Some(&b"example.org"[..]));
    let by_id = c.hosts.iter().find(|h| h.name == "by-id").expect("host");
    assert_eq!(by_id.client_identifier, Some(vec![1, 0x52, 0x54, 0, 0xaa, 0xbb, 0x10]));
    assert_eq!(by_id.effective.option(61), None);
    let quoted = c.hosts.iter().find(|h| h.name == "quoted-id").expect("host");
    assert_eq!(quoted.client_identifier, Some(b"ab".to_vec()));
    assert_eq!(c.key("k1").map(|k| k.secret.clone()), Some(b"secret".to_vec()));
}

#[test]
fn unused_peer_is_a_warning() {
    let text = "failover peer \"x\" { secondary; address 1.1.1.1; peer address 1.1.1.2; }\n\
                subnet 10.0.0.0 netmask 255.0.0.0 { range 10.0.0.1 10.0.0.2; }";
    let p = parse_str("w.conf", text, &MemoryLoader::default()).expect("loads");
    assert_eq!(p.warnings.len(), 1);
    assert!(matches!(p.warnings[0].kind, WarningKind::UnusedFailoverPeer { .. }));
    assert_eq!(p.warnings[0].to_string(), "w.conf:1:1: warning: failover peer \"x\" is declared but no pool uses it");
}

#[test]
fn split_boundaries() {
    assert_eq!(split_to_hba(255)[31], 0x7f);
    assert_eq!(split_to_hba(1)[0], 1);
}
