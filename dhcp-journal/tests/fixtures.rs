//! The lease files a real ISC dhcpd 4.4.3-P1 wrote (tests/fixtures/*.leases).

use std::net::Ipv4Addr;

use dhcp_journal::{
    BindingState, Entry, FailoverState, HostRecord, LeaseRecord, PRODUCT, fold, header, parse, write_entry,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// 2026/11/25 (a Wednesday) at h:m:s UTC.
fn t(h: u32, m: u32, s: u32) -> u32 {
    1_795_564_800 + h * 3600 + m * 60 + s
}

/// The fixture as our writer would write the same records: our product line, and no
/// `server-duid` line (we ignore it on read).
fn as_we_write(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let mut out = String::new();
    let mut lines = text.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("# This lease file was written by ") {
            out.push_str(&format!("# This lease file was written by {PRODUCT}\n"));
        } else if line.starts_with("server-duid ") {
            // dhcpd writes `server-duid "…";\n\n`.
            assert_eq!(lines.next(), Some("\n"));
        } else {
            out.push_str(line);
        }
    }
    out.into_bytes()
}

#[test]
fn all_fixtures_parse_clean_and_rewrite_byte_for_byte() {
    for name in ["l.leases", "o.leases", "p.leases", "s.leases", "e.leases"] {
        let bytes = fixture(name);
        let parsed = parse(&bytes);
        assert!(parsed.warnings.is_empty(), "{name}: {:?}", parsed.warnings);
        assert_eq!(parsed.torn_at, None);
        assert_eq!(parsed.valid_len, bytes.len());
        let mut out = header();
        for e in &parsed.entries {
            write_entry(&mut out, e);
        }
        assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&as_we_write(&bytes)), "{name}");
    }
}

#[test]
fn primary_lease_file_l() {
    let parsed = parse(&fixture("l.leases"));
    let leases: Vec<&LeaseRecord> = parsed
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Lease(l) => Some(l),
            _ => None,
        })
        .collect();
    assert_eq!(leases.len(), 24);

    // The first record of 10.9.0.105: as written before the BNDUPD left.
    let first = leases.iter().find(|l| l.ip == Ipv4Addr::new(10, 9, 0, 105)).unwrap();
    let expected = LeaseRecord {
        ip: Ipv4Addr::new(10, 9, 0, 105),
        starts: Some(t(12, 40, 35)),
        ends: Some(t(12, 42, 35)),
        tstp: Some(t(12, 51, 35)),
        tsfp: None,
        atsfp: None,
        cltt: Some(t(12, 40, 35)),
        binding_state: BindingState::Active,
        next_binding_state: Some(BindingState::Expired),
        rewind_binding_state: Some(BindingState::Free),
        reserved: false,
        bootp: false,
        hardware: Some((1, vec![0x52, 0x54, 0x00, 0xaa, 0xbb, 0x10])),
        uid: Some(vec![0x01, b'R', b'T', 0x00, 0xaa, 0xbb, 0x10]),
        client_hostname: None,
        vendor_class: None,
        vars: Vec::new(),
        billing: None,
        events: Vec::new(),
    };
    assert_eq!(**first, expected);

    // Exact text dhcpd wrote for it.
    let mut out = Vec::new();
    write_entry(&mut out, &Entry::Lease(expected));
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "lease 10.9.0.105 {\n  starts 3 2026/11/25 12:40:35;\n  ends 3 2026/11/25 12:42:35;\n  \
         tstp 3 2026/11/25 12:51:35;\n  cltt 3 2026/11/25 12:40:35;\n  binding state active;\n  \
         next binding state expired;\n  rewind binding state free;\n  \
         hardware ethernet 52:54:00:aa:bb:10;\n  uid \"\\001RT\\000\\252\\273\\020\";\n}\n"
    );

    let state = fold(parsed.entries.clone());
    assert_eq!(state.leases.len(), 8);
    let l105 = &state.leases[&Ipv4Addr::new(10, 9, 0, 105)];
    assert_eq!(l105.tsfp, Some(t(12, 51, 35)));
    assert_eq!(l105.atsfp, Some(t(12, 51, 35)));
    assert_eq!(l105.rewind_binding_state, None);
    let l107 = &state.leases[&Ipv4Addr::new(10, 9, 0, 107)];
    assert_eq!(l107.uid.as_deref(), Some(&[1, 0x52, 0x54, 0, 0xaa, 0xbb, 0x1b][..]));
    let l100 = &state.leases[&Ipv4Addr::new(10, 9, 0, 100)];
    assert_eq!(l100.binding_state, BindingState::Backup);
    assert_eq!(l100.ends, Some(0), "no `ends` statement");
    assert_eq!(l100.tsfp, Some(t(12, 40, 30)));

    let fo = &state.failover["fo-test"];
    assert_eq!(fo.my_state, FailoverState::COMMUNICATIONS_INTERRUPTED);
    assert_eq!(fo.my_stos, t(12, 41, 0));
    assert_eq!(fo.partner_state, FailoverState::NORMAL);
    assert_eq!(fo.partner_stos, t(12, 40, 30));
    assert_eq!(fo.mclt, None);
}

#[test]
fn secondary_lease_file_s_has_mclt() {
    let parsed = parse(&fixture("s.leases"));
    let state = fold(parsed.entries);
    let fo = &state.failover["fo-test"];
    assert_eq!(fo.mclt, Some(120));
    assert_eq!(fo.my_state, FailoverState::COMMUNICATIONS_INTERRUPTED);
    assert_eq!(fo.my_stos, t(12, 38, 49));
    let l = &state.leases[&Ipv4Addr::new(10, 9, 0, 100)];
    assert_eq!(l.tstp, None);
    assert_eq!(l.effective_tstp(), Some(t(12, 48, 24)));
    assert_eq!(l.tsfp, Some(t(12, 53, 24)));
    // uid "\001RT\000\0224V": octal escapes followed by printable digits.
    assert_eq!(l.uid.as_deref(), Some(&[1, b'R', b'T', 0, 0x12, b'4', b'V'][..]));
    assert_eq!(state.leases.len(), 3);
}

#[test]
fn omapi_host_o() {
    let state = fold(parse(&fixture("o.leases")).entries);
    assert_eq!(
        state.hosts["h2"],
        HostRecord {
            name: "h2".into(),
            hardware: Some((1, vec![0x52, 0x54, 0, 1, 2, 3])),
            uid: None,
            fixed_address: Some(Ipv4Addr::new(10, 9, 0, 50)),
            deleted: false,
        }
    );
    assert_eq!(state.failover["fo-test"].partner_state, FailoverState::UNKNOWN);
}

#[test]
fn potential_conflict_p() {
    let parsed = parse(&fixture("p.leases"));
    let states: Vec<(FailoverState, FailoverState)> = parsed
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::FailoverState(f) => Some((f.my_state, f.partner_state)),
            _ => None,
        })
        .collect();
    assert!(states.contains(&(FailoverState::CONFLICT_DONE, FailoverState::POTENTIAL_CONFLICT)));
    assert_eq!(states.last(), Some(&(FailoverState::COMMUNICATIONS_INTERRUPTED, FailoverState::NORMAL)));
}

/// `e.leases`: dhcpd 4.4.3 wrote two leases' pending event statements (`on expiry or
/// release`, then `on expiry` and `on release` apart) after reading them from a lease
/// file xdhcpd's writer produced: the statements are read as text, one a line.
#[test]
fn event_statements_of_leases() {
    let parsed = parse(&fixture("e.leases"));
    let leases: Vec<&LeaseRecord> = parsed
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Lease(l) => Some(l),
            _ => None,
        })
        .collect();
    let ev = |l: &LeaseRecord| l.events.iter().map(|e| (e.expiry, e.release, e.text.clone())).collect::<Vec<_>>();
    assert_eq!(leases.len(), 2);
    assert_eq!(ev(leases[0]), [(true, true, "execute (\"/usr/local/bin/hook\", \"gone\", ip);".to_string())]);
    assert_eq!(
        ev(leases[1]),
        [
            (true, false, "log (info, \"expired\");\n    execute (\"/usr/local/bin/hook\", \"expiry\");".to_string()),
            (false, true, "execute (\"/usr/local/bin/hook\", \"gone\", ip);".to_string()),
        ]
    );
    assert_eq!(leases[0].vars, [("ip".to_string(), dhcp_journal::record::VarValue::Data(b"198.18.0.100".to_vec()))]);
}
