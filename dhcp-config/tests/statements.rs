//! What the statements added for dhcpd compatibility put in the model: DNS-update
//! parameters, keys and zones, host names and their lookup, abandon-lease-time.

use std::net::Ipv4Addr;

use dhcp_config::{
    ClientUpdates, Config, DdnsUpdateStyle, HostAddr, KeyAlgorithm, MemoryLoader, NameFailure, Parsed, parse_str,
};

fn load(text: &str) -> Parsed {
    parse_str("t.conf", text, &MemoryLoader::default()).unwrap_or_else(|e| panic!("does not load:\n{e}"))
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("test address")
}

const SUBNET: &str = "subnet 198.18.0.0 netmask 255.255.255.0 { range 198.18.0.10 198.18.0.20; }\n";

#[test]
fn ddns_parameters_are_kept_per_scope() {
    let c = load(
        "ddns-update-style interim;\nddns-updates off;\nignore client-updates;\nddns-domainname \"example.test\";\n\
         ddns-ttl infinite;\nddns-local-address4 198.18.0.1;\nupdate-static-leases on;\n\
         subnet 198.18.0.0 netmask 255.255.255.0 { deny client-updates; ddns-hostname h1; ddns-ttl 600; \
         update-optimization false; range 198.18.0.10 198.18.0.20; }\n",
    )
    .config;
    assert_eq!(c.ddns_update_style, DdnsUpdateStyle::Interim);
    let g = &c.global.ddns;
    assert!(!g.updates);
    assert_eq!(g.client_updates, Some(ClientUpdates::Ignore));
    assert_eq!(g.domainname.as_deref(), Some(&b"example.test"[..]));
    assert_eq!(g.ttl, Some(u32::MAX));
    assert_eq!(g.local_address4, Some(HostAddr::Ip(ip("198.18.0.1"))));
    assert!(c.global.update_static_leases);
    let s = &c.shared_networks[0].subnets[0].effective.ddns;
    assert!(!s.updates, "inherited");
    assert_eq!(s.client_updates, Some(ClientUpdates::Deny));
    assert_eq!(s.hostname.as_deref(), Some(&b"h1"[..]), "unquoted text");
    assert_eq!(s.ttl, Some(600));
    assert_eq!(s.update_optimization, Some(false));
    assert_eq!(s.domainname.as_deref(), Some(&b"example.test"[..]), "inherited");
}

#[test]
fn a_style_without_subnets_updates_nothing() {
    // No scope hands out a lease, so dhcpd would send no update: accepted.
    assert_eq!(load("ddns-update-style standard;\n").config.ddns_update_style, DdnsUpdateStyle::Standard);
}

#[test]
fn keys_and_zones_are_global_wherever_written() {
    let c = load(&format!(
        "key a {{ algorithm hmac-sha1; secret c2VjcmV0; }};\n\
         subnet 198.18.1.0 netmask 255.255.255.0 {{ key b {{ algorithm hmac-sha384; secret \"c2VjcmV0\"; }} \
         zone rev.test {{ primary ns.rev.test; key b; }} }}\n\
         zone example.test. {{ primary 198.18.0.1; secondary 198.18.0.2, 198.18.0.3; key a; }}\n{SUBNET}"
    ))
    .config;
    let names: Vec<(&str, KeyAlgorithm)> = c.keys.iter().map(|k| (k.name.as_str(), k.algorithm)).collect();
    assert_eq!(names, [("a", KeyAlgorithm::HmacSha1), ("b", KeyAlgorithm::HmacSha384)]);
    assert_eq!(c.zones.len(), 2);
    let z = &c.zones[0];
    assert_eq!(z.name, "rev.test.", "dhcpd adds the trailing dot");
    assert_eq!(z.primary, [HostAddr::Name("ns.rev.test".into())]);
    assert_eq!(z.key.as_deref(), Some("b"));
    let z = &c.zones[1];
    assert_eq!(z.secondary, [HostAddr::Ip(ip("198.18.0.2")), HostAddr::Ip(ip("198.18.0.3"))]);
}

#[test]
fn abandon_lease_time_is_global() {
    assert_eq!(load(SUBNET).config.abandon_lease_time, 86_400, "dhcpd's default");
    assert_eq!(load(&format!("abandon-lease-time 3600;\n{SUBNET}")).config.abandon_lease_time, 3600);
    assert_eq!(load(&format!("abandon-lease-time infinite;\n{SUBNET}")).config.abandon_lease_time, u32::MAX);
    let p = load("subnet 198.18.0.0 netmask 255.255.255.0 { abandon-lease-time 60; }\n");
    assert_eq!(p.config.abandon_lease_time, 86_400, "ignored outside the global scope, as in dhcpd");
    assert_eq!(p.warnings.len(), 1);
}

/// A resolver over a fixed table, counting the questions.
fn table(asked: &mut Vec<String>) -> impl FnMut(&str) -> Result<Vec<Ipv4Addr>, String> + '_ {
    move |name: &str| {
        asked.push(name.to_string());
        match name {
            "ns.test" => Ok(vec![ip("198.18.0.53"), ip("198.18.0.54")]),
            "boot.test" => Ok(vec![ip("198.18.0.69"), ip("198.18.0.70")]),
            "printer.test" => Ok(vec![ip("198.18.0.9")]),
            "v6only.test" => Ok(vec![]),
            _ => Err("host unknown".into()),
        }
    }
}

const NAMED: &str = "option domain-name-servers ns.test, 198.18.0.1;\n\
    option ntp-servers 198.18.0.2, nosuch.test;\n\
    option swap-server boot.test;\n\
    next-server boot.test;\n\
    server-identifier printer.test;\n\
    subnet 198.18.0.0 netmask 255.255.255.0 {\n\
      range 198.18.0.10 198.18.0.20;\n\
      option domain-name-servers 198.18.0.3;\n\
      next-server nosuch.test;\n\
    }\n\
    host a { hardware ethernet 52:54:00:00:00:01; fixed-address printer.test, 198.18.0.7, ns.test; }\n\
    host b { hardware ethernet 52:54:00:00:00:02; fixed-address 198.18.0.8, nosuch.test; }\n\
    host c { hardware ethernet 52:54:00:00:00:03; fixed-address v6only.test; }\n";

#[test]
fn names_are_looked_up_once_and_used_as_dhcpd_does() {
    let mut c: Config = load(NAMED).config;
    assert!(c.has_names());
    // Before any lookup nothing is known about the hosts that name addresses.
    assert!(c.hosts.iter().all(|h| h.fixed_addresses.is_empty()));
    let mut asked = Vec::new();
    let failures = c.resolve_names(&mut table(&mut asked));
    asked.sort();
    assert_eq!(asked, ["boot.test", "nosuch.test", "ns.test", "printer.test", "v6only.test"], "once per name");
    let failed: Vec<&str> = failures.iter().map(|NameFailure { name, .. }| name.as_str()).collect();
    assert_eq!(failed, ["nosuch.test", "v6only.test"]);
    assert!(!c.has_names());

    let g = &c.global;
    // An array option takes every address of a name, in order with the literals.
    assert_eq!(g.option(6), Some(&[198, 18, 0, 53, 198, 18, 0, 54, 198, 18, 0, 1][..]));
    // A name that does not resolve adds nothing (dhcpd 4.4.3 in its steady state: a
    // failed lookup is kept a minute as an empty answer).
    assert_eq!(g.option(42), Some(&[198, 18, 0, 2][..]));
    // A single-address option takes the first address.
    assert_eq!(g.option(16), Some(&[198, 18, 0, 69][..]));
    assert_eq!(g.next_server, Some(ip("198.18.0.69")));
    assert_eq!(g.server_identifier, Some(ip("198.18.0.9")));
    let s = &c.shared_networks[0].subnets[0].effective;
    assert_eq!(s.option(6), Some(&[198, 18, 0, 3][..]), "an inner literal replaces the outer names");
    assert_eq!(s.next_server, None, "unresolvable: as if not written");

    let fixed: Vec<&[Ipv4Addr]> = c.hosts.iter().map(|h| h.fixed_addresses.as_slice()).collect();
    assert_eq!(fixed[0], [ip("198.18.0.9"), ip("198.18.0.7"), ip("198.18.0.53"), ip("198.18.0.54")]);
    assert_eq!(fixed[1], [ip("198.18.0.8")], "the literal stays, as in dhcpd");
    assert!(fixed[2].is_empty(), "no IPv4 address: no fixed address");
}

#[test]
fn stray_expressions_warn_and_do_nothing() {
    let p = load(&format!("vendor-string = \"PXEClient\";\nfoo;\n{SUBNET}"));
    assert_eq!(p.warnings.len(), 2);
    assert_eq!(
        p.warnings[0].to_string(),
        "t.conf:1:1: warning: `vendor-string = \"PXEClient\"` is an expression whose value nothing uses; it has no effect (as in dhcpd)"
    );
    assert_eq!(p.config, load(SUBNET).config);
}

#[test]
fn vendor_option_space_builds_option_43() {
    let text = "option space vnd;\noption vnd.a code 1 = text;\noption vnd.c code 18 = unsigned integer 16;\n\
                option vnd.empty code 5 = string;\noption space wide code width 2 length width 2 hash size 9;\n\
                option wide.x code 300 = unsigned integer 8;\n\
                vendor-option-space vnd;\noption vnd.a \"g\";\noption vnd.c 1;\noption vnd.empty \"\";\n\
                subnet 198.18.0.0 netmask 255.255.255.0 { option vnd.a \"s\"; range 198.18.0.10 198.18.0.20; }\n\
                subnet 198.18.1.0 netmask 255.255.255.0 { option vendor-encapsulated-options 01:02; }\n\
                subnet 198.18.2.0 netmask 255.255.255.0 { vendor-option-space wide; option wide.x 7; }\n\
                subnet 198.18.3.0 netmask 255.255.255.0 { vendor-option-space nosuch; }\n";
    let c = load(text).config;
    let spaces: Vec<(&str, u8, u8)> =
        c.option_spaces.iter().map(|s| (s.name.as_str(), s.code_width, s.length_width)).collect();
    assert_eq!(spaces, [("vnd", 1, 1), ("wide", 2, 2)]);
    let subnet = |i: usize| &c.shared_networks[i].subnets[0].effective;
    // Codes 1 and 18 share dhcpd's hash bucket 1; 18 was stored last, so it comes
    // first. The subnet's new value of vnd.a keeps vnd.a's place; the empty one is left out.
    assert_eq!(c.global.option(43), Some(&[18, 2, 0, 1, 1, 1, b'g'][..]));
    assert_eq!(subnet(0).option(43), Some(&[18, 2, 0, 1, 1, 1, b's'][..]));
    assert_eq!(subnet(1).option(43), Some(&[1, 2][..]), "an explicit option 43 wins");
    assert_eq!(subnet(2).option(43), Some(&[1, 44, 0, 1, 7][..]), "2-byte code and length");
    assert_eq!(subnet(3).option(43), None, "an undeclared space gives nothing");
}

#[test]
fn times_read_as_dhcpd_reads_them() {
    // dhcpd accumulates the digits in 32 bits without a limit (dhcpd -t accepts
    // `ddns-ttl 4294967296;`), and stores -N as two's complement.
    let t = |v: &str| load(&format!("abandon-lease-time {v};\n{SUBNET}")).config.abandon_lease_time;
    assert_eq!(t("4294967306"), 10);
    assert_eq!(t("-1"), u32::MAX);
    assert_eq!(t("-2147483648"), 1 << 31);
    assert!(
        parse_str("t.conf", &format!("abandon-lease-time -2147483649;\n{SUBNET}"), &MemoryLoader::default()).is_err()
    );
    assert!(parse_str("t.conf", &format!("abandon-lease-time 1x;\n{SUBNET}"), &MemoryLoader::default()).is_err());
}

#[test]
fn db_time_format_is_the_last_one_written_anywhere() {
    assert!(!load(SUBNET).config.db_time_format_local);
    assert!(load(&format!("db-time-format local;\n{SUBNET}")).config.db_time_format_local);
    // dhcpd sets it for the process when it reads the statement, whatever the scope.
    let inner = SUBNET.replace("range", "db-time-format local;\n  range");
    assert!(load(&inner).config.db_time_format_local);
    assert!(!load(&format!("db-time-format local;\ndb-time-format default;\n{SUBNET}")).config.db_time_format_local);
}

#[test]
fn lease_limits_of_classes_and_subclasses() {
    let text = include_str!("compat/class-spawn.conf");
    let c = dhcp_config::parse_str("t.conf", text, &dhcp_config::MemoryLoader::default()).expect("loads").config;
    assert!(c.has_lease_limits());
    let billing = &c.classes[0];
    assert_eq!((billing.lease_limit, billing.spawning), (Some(2), true));
    let vip = &c.classes[1];
    // A subclass has its class's limit unless it sets its own.
    let limits: Vec<Option<u32>> = vip.subclasses.iter().map(|s| s.lease_limit).collect();
    assert_eq!((vip.lease_limit, limits), (Some(1), vec![Some(3), Some(1)]));
}

/// dhcp-options(5)'s own example writes option 43 as colon-separated hex broken over lines;
/// dhcpd's lexer reads each colon as a token, so the blanks do not end the value. DHCPv6
/// options in the same file are read and never sent (a DHCPv4 server, as dhcpd -4).
#[test]
fn hex_continues_over_lines_and_dhcp6_options_change_nothing() {
    let text = "option vendor-encapsulated-options\n    2:4:\n\tAC:11:41:1:\n    3:2:\n\t73:75;\n\
                option dhcp6.some-server code 1234 = array of ip6-address;\n\
                option dhcp6.some-server 3ffe:bbbb:aaaa:aaaa::1, 3ffe:bbbb:aaaa:aaaa::2;\n";
    let c = load(text).config;
    assert_eq!(c.global.option(43), Some(&[2, 4, 0xac, 0x11, 0x41, 1, 3, 2, 0x73, 0x75][..]));
    assert_eq!(c.global.options.len(), 1, "{:?}", c.global.options);
}

#[test]
fn interface_statements_tie_interfaces_to_shared_networks() {
    let c = load(
        "shared-network lab {\n  interface \"br-lab\";\n  subnet 198.18.0.0 netmask 255.255.255.0 { }\n}\n\
         subnet 198.18.1.0 netmask 255.255.255.0 { interface eth1; }\n\
         subnet 198.18.2.0 netmask 255.255.255.0 { interface eth1; }\n\
         subnet 198.18.3.0 netmask 255.255.255.0 { interface averyveryverylongname; }\n",
    )
    .config;
    let tied: Vec<(&str, &str)> =
        c.interfaces.iter().map(|b| (b.name.as_str(), c.shared_networks[b.shared_network].name.as_str())).collect();
    // The second statement naming eth1 has no effect (dhcpd finds the interface already
    // in its list); names are cut to 15 characters.
    assert_eq!(tied, [("br-lab", "lab"), ("eth1", "198.18.1.0"), ("averyveryverylo", "198.18.3.0")]);
}

#[test]
fn a_shared_network_takes_one_interface() {
    for text in [
        "subnet 198.18.0.0 netmask 255.255.255.0 { interface eth1; interface eth2; }\n",
        "subnet 198.18.0.0 netmask 255.255.255.0 { interface eth1; interface eth1; }\n",
        "shared-network x { interface eth1; subnet 198.18.0.0 netmask 255.255.255.0 { interface eth2; } }\n",
    ] {
        let e = parse_str("t.conf", text, &MemoryLoader::default()).expect_err(text);
        assert!(e.to_string().contains("can't be connected to two interfaces"), "{e}");
    }
    // dhcpd reads it in a shared-network or a subnet only.
    for text in [
        "interface eth1;\n",
        "subnet 198.18.0.0 netmask 255.255.255.0 { pool { interface eth1; range 198.18.0.5 198.18.0.6; } }\n",
        "subnet 198.18.0.0 netmask 255.255.255.0 { interface eth1 eth2; }\n",
    ] {
        assert!(parse_str("t.conf", text, &MemoryLoader::default()).is_err(), "{text}");
    }
}

#[test]
fn a_host_in_a_pool_is_global_with_the_pool_as_an_enclosing_scope() {
    let c = load(
        "subnet 198.18.0.0 netmask 255.255.255.0 {\n  option domain-name \"subnet.test\";\n  pool {\n    range 198.18.0.10 198.18.0.20;\n    next-server 198.18.0.22;\n    option domain-name \"pool.test\";\n    host h { hardware ethernet 52:54:00:00:00:01; fixed-address 198.18.0.56; }\n    group { host g { hardware ethernet 52:54:00:00:00:02; } }\n  }\n}\n",
    )
    .config;
    let names: Vec<&str> = c.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["h", "g"]);
    for h in &c.hosts {
        // What dhcpd evaluates again for the host after the subnet: the pool's statements.
        assert_eq!(h.own.next_server, Some(ip("198.18.0.22")), "{}", h.name);
        assert_eq!(h.own.option(15), Some(&b"pool.test"[..]), "{}", h.name);
    }
    assert_eq!(c.hosts[0].fixed_addresses, [ip("198.18.0.56")]);
}

#[test]
fn a_class_declared_again_is_reopened() {
    // dhcpd's parse_class_declaration finds the class by name and updates it: same place
    // in the classification order, the new `match if` replaces the old, the statements
    // are added after the class's own.
    let c = load(
        "class \"a\" { match if option host-name = \"x\"; option domain-name \"one\"; }\n\
         class \"b\" { match if option host-name = \"b\"; }\n\
         subnet 198.18.0.0 netmask 255.255.255.0 { range 198.18.0.10 198.18.0.20;\n\
           class \"a\" { match if option host-name = \"y\"; lease limit 3; option domain-search \"two.test\"; } }\n",
    )
    .config;
    let names: Vec<&str> = c.classes.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    let a = &c.classes[0];
    assert_eq!(a.actions.len(), 2);
    assert_eq!(a.lease_limit, Some(3));
    // One `match if` per declaration.
    let twice = "class \"a\" { match if option host-name = \"x\"; match if option host-name = \"y\"; }\n";
    assert!(parse_str("t.conf", twice, &MemoryLoader::default()).is_err());
}

#[test]
fn append_and_prepend_are_read_as_option_statements() {
    let c = load(&format!(
        "append domain-name \"x\";\nprepend domain-name-servers 198.18.0.1, 198.18.0.2;\n\
         append dhcp-parameter-request-list = concat (option dhcp-parameter-request-list, d0);\n{SUBNET}"
    ))
    .config;
    assert_eq!(c.global.dynamic.len(), 3);
    assert!(matches!(
        &c.global.dynamic[1].action,
        dhcp_config::Action::Append { code: 6, prepend: true, expr: dhcp_config::DataExpr::Const(v) } if v.len() == 8
    ));
    for bad in ["append nosuch \"x\";\n", "append domain-name;\n", "append wpad code 252 = text;\n"] {
        assert!(parse_str("t.conf", bad, &MemoryLoader::default()).is_err(), "{bad}");
    }
}

#[test]
fn host_identifier_is_read_in_the_options_format() {
    let c = load(&format!(
        "{SUBNET}host a {{ host-identifier option agent.circuit-id 1:3:30:2e:33; fixed-address 198.18.0.23; }}\n\
         host b {{ host-identifier option host-name \"pc7\"; }}\n"
    ))
    .config;
    assert_eq!(c.hosts[0].identifier, Some((dhcp_config::OptionRef::agent(1), vec![1, 3, 0x30, 0x2e, 0x33])));
    assert!(matches!(&c.hosts[1].identifier, Some((dhcp_config::OptionRef::Dhcp { code: 12, .. }, v)) if v == b"pc7"));
    for bad in [
        "host a { host-identifier option host-name \"x\"; host-identifier option host-name \"y\"; }\n",
        "host a { host-identifier host-name \"x\"; }\n",
        "host-identifier option host-name \"x\";\n",
        "host a { host-identifier option nosuch \"x\"; }\n",
    ] {
        assert!(parse_str("t.conf", bad, &MemoryLoader::default()).is_err(), "{bad}");
    }
}

#[test]
fn duplicates_is_a_scope_flag() {
    let c = load(&format!("deny duplicates;\n{}", SUBNET.replace("range", "allow duplicates; range"))).config;
    assert!(!c.global.duplicates);
    assert!(c.shared_networks[0].subnets[0].effective.duplicates);
    assert!(!load(&format!("ignore duplicates;\n{SUBNET}")).config.global.duplicates);
    assert!(load(SUBNET).config.global.duplicates, "dhcpd's default");
}

#[test]
fn an_option_of_a_space_may_encapsulate_another_space() {
    let c = load(&format!(
        "option space onie code width 1 length width 1;\noption onie.installer_url code 1 = text;\n\
         option space vivso code width 4 length width 1;\noption vivso.onie code 42623 = encapsulate onie;\n\
         option vivso.iana code 0 = string;\noption op125 code 125 = encapsulate vivso;\n\
         option onie.installer_url \"u\";\n{SUBNET}"
    ))
    .config;
    let vivso = c.option_spaces.iter().find(|s| s.name == "vivso").expect("vivso");
    assert_eq!(vivso.encapsulations, [(42623, "onie".to_string())]);
    assert_eq!(c.global.option(125), Some(&[0, 0, 0xa6, 0x7f, 3, 1, 1, b'u'][..]));
    // Given a value itself, the sub-option carries it instead.
    let c = load(&format!(
        "option space onie;\noption onie.x code 1 = text;\noption space vivso code width 4 length width 1;\n\
         option vivso.onie code 42623 = encapsulate onie;\noption op125 code 125 = encapsulate vivso;\n\
         option onie.x \"u\";\noption vivso.onie 07:07;\n{SUBNET}"
    ))
    .config;
    assert_eq!(c.global.option(125), Some(&[0, 0, 0xa6, 0x7f, 2, 7, 7][..]));
}

/// `ignore-client-uids` is read as a flag in the scopes where xdhcpd can decide it before
/// it looks the client's lease up; in a pool or under a condition it is refused by name,
/// with its position, rather than decided differently from dhcpd.
#[test]
fn ignore_client_uids_is_a_flag_and_refused_where_it_would_come_too_late() {
    let c = load(&format!("ignore-client-uids on;\n{SUBNET}")).config;
    assert!(c.global.ignore_client_uids);
    assert!(c.shared_networks[0].subnets[0].effective.ignore_client_uids);
    let off = load(SUBNET).config;
    assert!(!off.global.ignore_client_uids, "off unless written, as in dhcpd");
    for (text, at) in [
        (
            "subnet 198.18.0.0 netmask 255.255.255.0 { pool { ignore-client-uids on; range 198.18.0.10 198.18.0.20; } }\n",
            "t.conf:1:50",
        ),
        ("class \"c\" { match if exists user-class; if exists host-name { ignore-client-uids on; } }\n", "t.conf:1:63"),
    ] {
        let e = parse_str("t.conf", text, &MemoryLoader::default()).expect_err("refused").to_string();
        assert!(e.contains(at) && e.contains("ignore-client-uids"), "{e}");
    }
    assert!(parse_str("t.conf", "ignore-client-uids;\n", &MemoryLoader::default()).is_err(), "a flag wants a value");
}
