//! The reader's recovery policy: unknown statements, garbage, torn tails.

mod common;

use std::net::Ipv4Addr;

use dhcp_journal::{BindingState, Entry, VarValue, WarningKind, fold, header, parse, write_entry};

/// Numeric and boolean variables as dhcpd 4.4.3 wrote them (its dhcpd.leases after an ACK
/// under `set a = 5; set b = extract-int (02, 8) + 3; set c = exists host-name; set bigv =
/// extract-int (ff:ff:ff:ff, 32) * extract-int (ff:ff:ff:ff, 32);`), and hex data, which
/// its parse_binding_value reads too.
#[test]
fn numeric_and_boolean_variables_are_read_as_dhcpd_writes_them() {
    let text = br#"lease 198.18.0.100 {
  starts 1 2026/12/07 21:47:14;
  ends 1 2026/12/07 21:57:14;
  binding state active;
  set k = false;
  set bigv = %-8589934591;
  set c = TRUE;
  set b = %5;
  set a = "\005";
  set h = a:0:ff;
}
"#;
    let parsed = parse(text);
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let Some(Entry::Lease(l)) = parsed.entries.first() else { panic!("{:?}", parsed.entries) };
    let want = [
        ("k", VarValue::Bool(false)),
        ("bigv", VarValue::Num(-8_589_934_591)),
        ("c", VarValue::Bool(true)),
        ("b", VarValue::Num(5)),
        ("a", VarValue::Data(vec![5])),
        ("h", VarValue::Data(vec![0xa, 0, 0xff])),
    ];
    assert_eq!(l.vars, want.map(|(n, v)| (n.to_string(), v)));
    let mut out = Vec::new();
    write_entry(&mut out, &parsed.entries[0]);
    let out = String::from_utf8_lossy(&out);
    for line in ["set k = false;", "set bigv = %-8589934591;", "set c = true;", "set b = %5;", "set a = \"\\005\";"] {
        assert!(out.contains(line), "{line} not in {out}");
    }
}

#[test]
fn unknown_statements_inside_a_lease_are_skipped_with_warnings() {
    let text = br#"lease 10.0.0.5 {
  starts 3 2026/11/25 12:40:35;
  ends never;
  binding state active;
  next binding state free;
  hardware ethernet 52:54:00:aa:bb:10;
  uid 01:52:54:00:aa:bb:10;
  set ddns-fwd-name = "x.example.";
  set vendor-class-identifier = "MSFT 5.0";
  option agent.circuit-id 0:1:2:3;
  client-hostname "pc \"one\"";
  on expiry {
    set x = "a;b}";
    on release { log("}"); }
  }
  billing class "c";
}
lease 10.0.0.6 {
  starts epoch 1795610435; # Wed Nov 25 12:40:35 2026
  binding state free;
}
"#;
    let parsed = parse(text);
    assert_eq!(parsed.entries.len(), 2, "{:?}", parsed.warnings);
    let Entry::Lease(l) = &parsed.entries[0] else { panic!() };
    assert_eq!(l.ip, Ipv4Addr::new(10, 0, 0, 5));
    assert_eq!(l.ends, None);
    assert_eq!(l.next_binding_state, Some(BindingState::Free));
    assert_eq!(l.uid.as_deref(), Some(&[1, 0x52, 0x54, 0, 0xaa, 0xbb, 0x10][..]));
    assert_eq!(l.vendor_class.as_deref(), Some("MSFT 5.0"));
    // Other variables with a string value are kept (dhcpd's binding scope).
    assert_eq!(l.vars, [("ddns-fwd-name".to_string(), VarValue::Data(b"x.example.".to_vec()))]);
    assert_eq!(l.client_hostname.as_deref(), Some("pc \"one\""));
    let Entry::Lease(l6) = &parsed.entries[1] else { panic!() };
    assert_eq!(l6.starts, Some(1_795_610_435));
    let unknown: Vec<String> = parsed
        .warnings
        .iter()
        .map(|w| match &w.kind {
            WarningKind::UnknownStatement(s) => s.clone(),
            k => panic!("unexpected {k:?}"),
        })
        .collect();
    assert_eq!(unknown, ["option"]);
    // An `on` block is kept as text (braces and semicolons in strings are not its end).
    assert_eq!(l.events.len(), 1);
    assert!(l.events[0].expiry && !l.events[0].release);
    assert_eq!(l.events[0].text, "set x = \"a;b}\";\n    on release { log(\"}\"); }");
    assert_eq!(l.billing, Some(("c".to_string(), None)));
    assert_eq!(parsed.warnings[0].line, 10);
    assert!(parsed.warnings[0].to_string().contains("line 10"));
}

#[test]
fn garbage_between_records_is_skipped_to_the_next_record() {
    let mut buf = header();
    let entries = common::leases(3);
    write_entry(&mut buf, &entries[0]);
    buf.extend_from_slice(b"\x00\xff garbage { with ; braces\n");
    write_entry(&mut buf, &entries[1]);
    buf.extend_from_slice(b"lease 10.0.0.300 {\n  binding state free;\n}\n");
    buf.extend_from_slice(b"}}} ;;; \"unterminated\n");
    write_entry(&mut buf, &entries[2]);
    let parsed = parse(&buf);
    assert_eq!(parsed.entries, entries, "{:#?}", parsed.warnings);
    assert!(parsed.torn_at.is_none());
    assert!(parsed.warnings.len() >= 3);
    assert!(parsed.warnings.iter().any(|w| w.kind == WarningKind::BadRecord("lease address")));
}

#[test]
fn malformed_value_skips_the_statement_and_keeps_the_record() {
    let text = b"lease 10.0.0.7 {\n  starts 3 2026/13/25 12:40:35;\n  binding state bogus;\n  binding state active;\n  hardware ethernet 52:zz;\n}\n";
    let parsed = parse(text);
    let Entry::Lease(l) = &parsed.entries[0] else { panic!() };
    assert_eq!(l.starts, None);
    assert_eq!(l.binding_state, BindingState::Active);
    assert_eq!(l.hardware, None);
    let kinds: Vec<_> = parsed.warnings.iter().map(|w| (w.line, w.kind.clone())).collect();
    assert_eq!(
        kinds,
        [
            (2, WarningKind::Malformed("date")),
            (3, WarningKind::Malformed("binding state name")),
            (5, WarningKind::Malformed("hardware address")),
        ]
    );
}

#[test]
fn unterminated_record_followed_by_a_new_one() {
    let text = b"lease 10.0.0.8 {\n  binding state active;\nlease 10.0.0.9 {\n  binding state free;\n}\n";
    let parsed = parse(text);
    assert_eq!(parsed.entries.len(), 1);
    assert_eq!(parsed.warnings[0].kind, WarningKind::Unterminated);
    assert_eq!(parsed.warnings[0].offset, 0);
    assert!(parsed.torn_at.is_none());
}

#[test]
fn hosts_fold_by_name_and_deleted_removes() {
    let text = b"host a {\n  dynamic;\n  hardware ethernet 1:2:3:4:5:6;\n  fixed-address 10.0.0.1;\n}\nhost b {\n  dynamic;\n  uid \"abc\";\n}\nhost a {\n  dynamic;\n  deleted;\n}\nhost \"c d\" {\n  dynamic;\n  uid 00:01;\n  fixed-address 10.0.0.3, 10.0.0.4;\n}\n";
    let parsed = parse(text);
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let state = fold(parsed.entries);
    assert!(!state.hosts.contains_key("a"));
    assert!(state.deleted_hosts.contains("a"));
    assert_eq!(state.hosts["b"].uid.as_deref(), Some(&b"abc"[..]));
    assert_eq!(state.hosts["c d"].fixed_address, Some(Ipv4Addr::new(10, 0, 0, 3)));
    // Compaction keeps the tombstone.
    assert_eq!(state.to_entries().len(), 3);
}

#[test]
fn last_record_per_address_wins() {
    let mut buf = Vec::new();
    let mut a = common::lease(1);
    write_entry(&mut buf, &Entry::Lease(a.clone()));
    a.binding_state = BindingState::Free;
    a.next_binding_state = None;
    write_entry(&mut buf, &Entry::Lease(a.clone()));
    let state = fold(parse(&buf).entries);
    assert_eq!(state.leases.len(), 1);
    assert_eq!(state.leases[&a.ip], a);
}

#[test]
fn missing_binding_state_gets_a_default_and_a_warning() {
    let parsed = parse(b"lease 10.0.0.1 {\n  ends 3 2026/11/25 12:40:35;\n}\nlease 10.0.0.2 {\n}\n");
    let states: Vec<BindingState> = parsed
        .entries
        .iter()
        .map(|e| match e {
            Entry::Lease(l) => l.binding_state,
            _ => panic!(),
        })
        .collect();
    assert_eq!(states, [BindingState::Active, BindingState::Free]);
    assert_eq!(parsed.warnings.len(), 2);
}

#[test]
fn warnings_are_capped() {
    let mut text = Vec::new();
    for i in 0..3000 {
        text.extend_from_slice(
            format!("lease 10.0.{}.{} {{\n  binding state free;\n  set x = 1;\n}}\n", i / 256, i % 256).as_bytes(),
        );
    }
    let parsed = parse(&text);
    assert_eq!(parsed.entries.len(), 3000);
    assert_eq!(parsed.warnings.len(), dhcp_journal::parse::MAX_WARNINGS);
    assert_eq!(parsed.suppressed_warnings, 2000);
    assert_eq!(parsed.warnings[999].line, 4 * 999 + 3);
}

/// Cut a file at every byte offset inside its last record: every earlier record survives,
/// the torn one is dropped with a warning naming its offset.
#[test]
fn truncation_at_every_offset_of_the_last_record() {
    let mut entries = common::leases(4);
    entries.push(Entry::FailoverState(dhcp_journal::FailoverStateRecord {
        peer: "fo-test".into(),
        my_state: dhcp_journal::FailoverState::NORMAL,
        my_stos: 1_795_610_435,
        partner_state: dhcp_journal::FailoverState::NORMAL,
        partner_stos: 1_795_610_435,
        mclt: Some(3600),
    }));
    let mut last = common::lease(99);
    last.vendor_class = Some("MSFT 5.0".into());
    last.client_hostname = Some("a \"quoted\" name".into());
    entries.push(Entry::Lease(last));

    let mut buf = header();
    for e in &entries[..entries.len() - 1] {
        write_entry(&mut buf, e);
    }
    let start = buf.len();
    write_entry(&mut buf, &entries[entries.len() - 1]);

    for cut in start..buf.len() - 1 {
        let parsed = parse(&buf[..cut]);
        assert_eq!(parsed.entries, entries[..entries.len() - 1], "cut at {cut}");
        // Only the final newline may be missing without tearing the record.
        if cut == start {
            assert!(parsed.warnings.is_empty());
            continue;
        }
        assert_eq!(parsed.warnings.len(), 1, "cut at {cut}: {:?}", parsed.warnings);
        let w = &parsed.warnings[0];
        assert_eq!(w.kind, WarningKind::TornRecord, "cut at {cut}");
        assert_eq!(w.offset, start);
        assert_eq!(parsed.torn_at, Some(start));
        assert_eq!(parsed.valid_len, start);
        assert!(w.to_string().contains(&format!("byte {start}")));
    }
    // Complete record without its trailing newline: kept.
    let parsed = parse(&buf[..buf.len() - 1]);
    assert_eq!(parsed.entries, entries);
    assert!(parsed.warnings.is_empty());
}

/// The same for the failover state block (which starts with an empty line).
#[test]
fn truncation_inside_a_failover_block() {
    let entries = common::leases(2);
    let mut buf = header();
    for e in &entries {
        write_entry(&mut buf, e);
    }
    let start = buf.len();
    buf.extend_from_slice(b"\nfailover peer \"p\" state {\n  my state normal at 3 2026/11/25 12:40:35;\n  partner state normal at 3 2026/11/25 12:40:35;\n  mclt 120;\n}\n");
    for cut in start..buf.len() - 1 {
        let parsed = parse(&buf[..cut]);
        assert_eq!(parsed.entries, entries, "cut at {cut}");
        if cut <= start + 1 {
            assert!(parsed.warnings.is_empty());
        } else {
            assert_eq!(parsed.torn_at, Some(start + 1), "cut at {cut}");
        }
    }
}
