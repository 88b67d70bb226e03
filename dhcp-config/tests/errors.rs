//! Each syntax and validation error, with its position and message.

use dhcp_config::{ConfigErrors, ErrorKind, MemoryLoader, parse_str};

fn errors(text: &str) -> ConfigErrors {
    match parse_str("dhcpd.conf", text, &MemoryLoader::default()) {
        Ok(p) => panic!("expected errors, got {p:?}"),
        Err(e) => e,
    }
}

/// The single error's `file:line:column: message`.
fn one(text: &str) -> String {
    let e = errors(text);
    assert_eq!(e.errors.len(), 1, "{e}");
    e.errors[0].to_string()
}

const PEER_P: &str =
    "failover peer \"fo\" {\n  primary;\n  address 10.0.0.1;\n  peer address 10.0.0.2;\n  mclt 60;\n  split 128;\n}\n";

#[test]
fn missing_semicolon() {
    let text = "authoritative;\n\n\n\n\n\n\n\n\n\ndefault-lease-time 600\n    max-lease-time 7200;\n";
    assert_eq!(one(text), "dhcpd.conf:12:5: expected ';' after 'default-lease-time 600', found 'max-lease-time'");
}

#[test]
fn several_errors_are_collected() {
    let text = "default-lease-time x;\nfoo 1;\nsubnet 10.0.0.0 netmask 255.0.0.0 {\n  range 10.0.0.1 10.0.0.z;\n  option routers 10.0.0.1 10.0.0.2;\n}\nmax-lease-time 10;\n";
    let e = errors(text);
    let lines: Vec<u32> = e.errors.iter().map(|e| e.span.line).collect();
    assert_eq!(lines, vec![1, 2, 4, 5], "{e}");
}

#[test]
fn unsupported_statements_are_named() {
    assert_eq!(one("allow leasequery;"), "dhcpd.conf:1:1: `allow leasequery` is not supported");
    assert_eq!(
        one("option agent.circuit-id \"x\";"),
        "dhcpd.conf:1:8: `option agent.circuit-id \"x\"` is not supported"
    );
    assert_eq!(one("lease-file-name \"/x\";"), "dhcpd.conf:1:1: `lease-file-name \"/x\"` is not supported");
    assert_eq!(
        one("key k { algorithm hmac-foo; secret \"YQ==\"; }"),
        "dhcpd.conf:1:19: `algorithm hmac-foo` is not supported"
    );
    assert_eq!(
        one("host h { hardware token-ring 00:11:22:33:44:55; }"),
        "dhcpd.conf:1:10: `hardware token-ring 00:11:22:33:44:55` is not supported"
    );
}

#[test]
fn unknown_statement_and_option() {
    assert_eq!(one("\n  frobnicate 1;"), "dhcpd.conf:2:3: unknown statement 'frobnicate'");
    assert_eq!(one("option no-such-option 1;"), "dhcpd.conf:1:8: unknown option 'no-such-option'");
}

#[test]
fn unterminated_string_and_unclosed_block() {
    assert_eq!(one("filename \"abc;\n"), "dhcpd.conf:1:10: unterminated string");
    // An unterminated string inside an include does not hide the parent's last statement.
    let mut loader = MemoryLoader::default();
    loader.insert("inc.conf", "filename \"x;");
    let e = parse_str("dhcpd.conf", "include \"inc.conf\";\nauthoritative", &loader).expect_err("errors");
    assert_eq!(e.errors.len(), 2, "{e}");
    assert_eq!(e.errors[1].to_string(), "dhcpd.conf:2:14: expected ';' after 'authoritative', found end of file");
    assert_eq!(
        one("subnet 10.0.0.0 netmask 255.0.0.0 {\n  range 10.0.0.1 10.0.0.2;\n"),
        "dhcpd.conf:3:1: expected '}' to close the block opened at dhcpd.conf:1:35"
    );
}

#[test]
fn invalid_values() {
    // dhcpd's lease time format wraps a large number around (as dhcpd does) and takes
    // -1 as infinite; a word is an error.
    assert_eq!(
        one("default-lease-time abc;"),
        "dhcpd.conf:1:20: invalid number of seconds 'abc': expected a decimal number or 'infinite'"
    );
    assert_eq!(
        one("host h { hardware ethernet 00:11:22:33:44; }"),
        "dhcpd.conf:1:28: invalid MAC address '00:11:22:33:44': expected six colon-separated hex bytes"
    );
    assert!(
        one("failover peer \"p\" { primary; address 1.1.1.1; peer address 1.1.1.2; mclt 1; split 257; }")
            .starts_with("dhcpd.conf:1:83: invalid split '257'")
    );
    assert!(
        one("failover peer \"p\" { primary; address 1.1.1.1; peer address 1.1.1.2; mclt 1; hba 01:02; }")
            .contains("expected exactly 32 colon-separated hex bytes")
    );
}

#[test]
fn range_overlap_across_pools() {
    let text = "subnet 10.0.0.0 netmask 255.255.255.0 {\n  range 10.0.0.10 10.0.0.20;\n  pool {\n    range 10.0.0.20 10.0.0.30;\n  }\n}\n";
    assert_eq!(
        one(text),
        "dhcpd.conf:4:5: range 10.0.0.20-10.0.0.30 overlaps range 10.0.0.10-10.0.0.20 at dhcpd.conf:2:3"
    );
}

#[test]
fn range_outside_subnet_and_reversed() {
    let text = "subnet 10.0.0.0 netmask 255.255.255.0 {\n  range 10.0.0.200 10.0.1.5;\n  range 10.0.0.9 10.0.0.1;\n}\n";
    let e = errors(text);
    let msgs: Vec<String> = e.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        msgs,
        [
            "dhcpd.conf:2:3: range 10.0.0.200-10.0.1.5 is outside subnet 10.0.0.0/24",
            "dhcpd.conf:3:3: range start 10.0.0.9 is greater than its end 10.0.0.1",
        ]
    );
}

#[test]
fn shared_network_pool_in_no_subnet() {
    let text =
        "shared-network n {\n  subnet 10.0.0.0 netmask 255.255.255.0 { }\n  pool { range 10.9.0.1 10.9.0.2; }\n}\n";
    assert_eq!(one(text), "dhcpd.conf:3:10: range 10.9.0.1-10.9.0.2 is in no subnet of shared-network \"n\"");
}

#[test]
fn unknown_failover_peer() {
    let text = "subnet 10.0.0.0 netmask 255.255.255.0 {\n  pool {\n    failover peer \"nope\";\n    range 10.0.0.1 10.0.0.2;\n  }\n}\n";
    assert_eq!(one(text), "dhcpd.conf:3:19: failover peer \"nope\" is not declared");
}

fn with_pool(peer: &str) -> String {
    format!(
        "{peer}subnet 10.0.0.0 netmask 255.255.255.0 {{ pool {{ failover peer \"fo\"; range 10.0.0.1 10.0.0.9; }} }}\n"
    )
}

#[test]
fn secondary_must_not_carry_mclt_split_hba() {
    let peer = "failover peer \"fo\" {\n  secondary;\n  address 10.0.0.2;\n  peer address 10.0.0.1;\n  mclt 60;\n  split 128;\n}\n";
    let e = errors(&with_pool(peer));
    let msgs: Vec<String> = e.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        msgs,
        [
            "dhcpd.conf:5:3: 'mclt' must not be set on secondary failover peer \"fo\"",
            "dhcpd.conf:6:3: 'split' must not be set on secondary failover peer \"fo\"",
        ]
    );
    let peer = "failover peer \"fo\" { secondary; address 10.0.0.2; peer address 10.0.0.1;\n hba 00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00; }\n";
    assert_eq!(one(&with_pool(peer)), "dhcpd.conf:2:2: 'hba' must not be set on secondary failover peer \"fo\"");
}

#[test]
fn primary_without_mclt() {
    let peer = "\nfailover peer \"fo\" { primary; address 10.0.0.1; peer address 10.0.0.2; split 128; }\n";
    assert_eq!(one(&with_pool(peer)), "dhcpd.conf:2:1: primary failover peer \"fo\" has no 'mclt'");
}

#[test]
fn split_and_hba() {
    let peer = PEER_P.replace(
        "split 128;",
        "split 128;\n  hba ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00;",
    );
    assert_eq!(one(&with_pool(&peer)), "dhcpd.conf:7:3: failover peer \"fo\" has both 'split' and 'hba'");
}

#[test]
fn hot_standby_and_split() {
    let peer = PEER_P.replace("split 128;", "split 128;\n  hot-standby-reserve 5;");
    assert_eq!(
        one(&with_pool(&peer)),
        "dhcpd.conf:7:3: failover peer \"fo\" has both 'hot-standby-reserve' and 'split'/'hba'"
    );
    let peer = PEER_P.replace("split 128;", "hot-standby-reserve 101;");
    assert!(one(&with_pool(&peer)).starts_with("dhcpd.conf:6:23: invalid hot-standby-reserve '101'"));
}

#[test]
fn primary_without_split_is_a_warning() {
    let peer = PEER_P.replace("  split 128;\n", "");
    let p = parse_str("dhcpd.conf", &with_pool(&peer), &MemoryLoader::default()).expect("loads");
    assert_eq!(
        p.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["dhcpd.conf:1:1: warning: primary failover peer \"fo\" has no 'split', 'hba' or 'hot-standby-reserve'"]
    );
}

#[test]
fn dynamic_bootp_in_failover_pool() {
    let text = format!(
        "{PEER_P}subnet 10.0.0.0 netmask 255.255.255.0 {{\n  pool {{\n    failover peer \"fo\";\n    range dynamic-bootp 10.0.0.1 10.0.0.9;\n  }}\n}}\n"
    );
    assert_eq!(one(&text), "dhcpd.conf:11:5: 'range dynamic-bootp' is not allowed in a pool with failover peer \"fo\"");
}

#[test]
fn duplicate_subnet() {
    let text = "subnet 10.0.0.0 netmask 255.255.255.0 { }\nshared-network x {\n  subnet 10.0.0.0 netmask 255.255.255.0 { }\n}\n";
    assert_eq!(one(text), "dhcpd.conf:3:3: subnet 10.0.0.0/24 is already declared at dhcpd.conf:1:1");
}

#[test]
fn duplicate_host_name_shared_hardware_and_fixed_address() {
    // dhcpd -t accepts two hosts with one hardware address or one fixed-address (rc 0),
    // and refuses two hosts of one name ("host a: already exists").
    let text = "host a { hardware ethernet 00:11:22:33:44:55; fixed-address 10.0.0.5; }\nhost b {\n  hardware ethernet 00:11:22:33:44:55;\n  fixed-address 10.0.0.6, 10.0.0.5;\n}\nhost a { }\n";
    let e = errors(text);
    let msgs: Vec<String> = e.errors.iter().map(ToString::to_string).collect();
    assert_eq!(msgs, ["dhcpd.conf:6:1: host \"a\" is already declared at dhcpd.conf:1:1"]);
    let warnings: Vec<String> = e.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "dhcpd.conf:3:21: warning: hardware ethernet 00:11:22:33:44:55 is also that of host \"a\" at dhcpd.conf:1:28: the first of these hosts with a fixed address on the client's network answers it (as in dhcpd)",
            "dhcpd.conf:4:27: warning: fixed-address 10.0.0.5 is also the fixed address of host \"a\" at dhcpd.conf:1:61",
        ]
    );
}

#[test]
fn netmask_checks() {
    assert_eq!(
        one("subnet 10.0.0.0 netmask 255.0.255.0 { }"),
        "dhcpd.conf:1:25: netmask 255.0.255.0 is not contiguous"
    );
    assert_eq!(
        one("subnet 10.0.0.1 netmask 255.255.255.0 { }"),
        "dhcpd.conf:1:1: subnet 10.0.0.1 has host bits set for netmask 255.255.255.0"
    );
}

#[test]
fn duplicate_peer_and_key_and_unknown_omapi_key() {
    let text = format!("{PEER_P}{PEER_P}");
    let e = errors(&with_pool(&text));
    assert_eq!(e.errors.len(), 1, "{e}");
    assert_eq!(e.errors[0].to_string(), "dhcpd.conf:8:1: failover peer \"fo\" is already declared at dhcpd.conf:1:1");

    let key = "key k { algorithm hmac-md5; secret \"YQ==\"; }\n";
    assert_eq!(one(&format!("{key}{key}")), "dhcpd.conf:2:1: key \"k\" is already declared at dhcpd.conf:1:1");
    assert_eq!(one("omapi-key nokey;"), "dhcpd.conf:1:1: key \"nokey\" is not declared");
}

#[test]
fn statements_in_the_wrong_scope() {
    assert_eq!(
        one("subnet 10.0.0.0 netmask 255.0.0.0 { failover peer \"x\" { primary; } }"),
        "dhcpd.conf:1:37: 'failover peer { }' is not allowed in a subnet"
    );
    assert_eq!(
        one("subnet 10.0.0.0 netmask 255.0.0.0 { failover peer \"x\"; }"),
        "dhcpd.conf:1:37: 'failover peer' is not allowed in a subnet"
    );
    assert_eq!(one("pool { }"), "dhcpd.conf:1:1: 'pool' is not allowed in the global scope");
}

#[test]
fn block_expected() {
    assert_eq!(
        one("subnet 10.0.0.0 netmask 255.0.0.0;"),
        "dhcpd.conf:1:34: expected '{' after 'subnet 10.0.0.0 netmask 255.0.0.0', found ';'"
    );
    assert_eq!(one("authoritative { }"), "dhcpd.conf:1:15: expected ';' after 'authoritative', found '{'");
}

#[test]
fn include_errors_carry_positions() {
    let mut loader = MemoryLoader::default();
    loader.insert("/etc/dhcp/extra.conf", "\n\nbogus 1;\n");
    loader.insert("/etc/dhcp/loop.conf", "include \"loop.conf\";\n");
    let text = "include \"extra.conf\";\ninclude \"loop.conf\";\ninclude \"missing.conf\";\n";
    let e = parse_str("/etc/dhcp/dhcpd.conf", text, &loader).expect_err("errors");
    let msgs: Vec<String> = e.errors.iter().map(ToString::to_string).collect();
    // Reading errors (includes, lexing) come first, then statement errors.
    assert_eq!(msgs.len(), 3, "{e}");
    assert!(matches!(e.errors[0].kind, ErrorKind::IncludeCycle { .. }), "{e}");
    assert_eq!(&*e.errors[0].span.file, "/etc/dhcp/loop.conf");
    assert!(matches!(e.errors[1].kind, ErrorKind::IncludeFailed { .. }), "{e}");
    assert_eq!(
        e.errors[1].to_string(),
        "/etc/dhcp/dhcpd.conf:3:1: cannot include \"/etc/dhcp/missing.conf\": no such file"
    );
    assert_eq!(msgs[2], "/etc/dhcp/extra.conf:3:1: unknown statement 'bogus'");
}

#[test]
fn semicolon_before_close_brace_is_required() {
    assert_eq!(
        one("subnet 10.0.0.0 netmask 255.0.0.0 {\n  option routers 10.0.0.1\n}\n"),
        "dhcpd.conf:3:1: expected ';' after 'option routers 10.0.0.1', found '}'"
    );
}
