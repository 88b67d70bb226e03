//! serialize → parse → equal, for generated and random records; random bytes never panic.

mod common;

use std::net::Ipv4Addr;

use dhcp_journal::{
    BindingState, Entry, FailoverState, FailoverStateRecord, HostRecord, LeaseRecord, VarValue, fold, fuzz_parse,
    header, parse, write_entry,
};
use proptest::prelude::*;

fn serialize(entries: &[Entry]) -> Vec<u8> {
    let mut buf = header();
    for e in entries {
        write_entry(&mut buf, e);
    }
    buf
}

#[test]
fn hundred_thousand_leases_round_trip() {
    let entries = common::leases(100_000);
    let bytes = serialize(&entries);
    let parsed = parse(&bytes);
    assert!(parsed.warnings.is_empty(), "{:?}", &parsed.warnings[..1]);
    assert_eq!(parsed.entries, entries);
    let state = fold(parsed.entries);
    assert_eq!(state.leases.len(), 100_000);
}

fn binding_state() -> impl Strategy<Value = BindingState> {
    prop::sample::select(BindingState::ALL.to_vec())
}

fn failover_state() -> impl Strategy<Value = FailoverState> {
    prop::sample::select(FailoverState::ALL.to_vec())
}

fn hardware() -> impl Strategy<Value = Option<(u8, Vec<u8>)>> {
    prop::option::of((any::<u8>(), prop::collection::vec(any::<u8>(), 1..20)))
}

fn bytes_opt() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop::option::of(prop::collection::vec(any::<u8>(), 1..40))
}

fn lease_record() -> impl Strategy<Value = LeaseRecord> {
    let times = (
        prop::option::of(any::<u32>()),
        prop::option::of(any::<u32>()),
        prop::option::of(any::<u32>()),
        prop::option::of(any::<u32>()),
        prop::option::of(any::<u32>()),
        prop::option::of(any::<u32>()),
    );
    let states = (
        binding_state(),
        prop::option::of(binding_state()),
        prop::option::of(binding_state()),
        any::<bool>(),
        any::<bool>(),
    );
    let rest = (hardware(), bytes_opt(), prop::option::of(any::<String>()), prop::option::of(any::<String>()));
    // `set NAME = VALUE;` variables: dhcpd names, any bytes, numbers, booleans.
    let value = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..20).prop_map(VarValue::Data),
        any::<i64>().prop_map(VarValue::Num),
        any::<bool>().prop_map(VarValue::Bool),
    ];
    let vars = prop::collection::vec(("[a-z][a-z0-9_-]{0,10}", value), 0..3);
    // `billing class "…";` or `billing subclass "…" VALUE;` (a value is never empty).
    let billing = prop::option::of((any::<String>(), prop::option::of(prop::collection::vec(any::<u8>(), 1..12))));
    (any::<u32>(), times, states, rest, (vars, billing)).prop_map(
        |(ip, (starts, ends, tstp, tsfp, atsfp, cltt), (bs, nbs, rbs, reserved, bootp), rest, (vars, billing))| {
            let (hardware, uid, client_hostname, vendor_class) = rest;
            LeaseRecord {
                ip: Ipv4Addr::from(ip),
                starts,
                ends,
                tstp,
                tsfp,
                atsfp,
                cltt,
                binding_state: bs,
                next_binding_state: nbs,
                rewind_binding_state: rbs,
                reserved,
                bootp,
                hardware,
                uid,
                client_hostname,
                vendor_class,
                vars,
                billing,
                events: Vec::new(),
            }
        },
    )
}

fn entry() -> impl Strategy<Value = Entry> {
    prop_oneof![
        4 => lease_record().prop_map(Entry::Lease),
        1 => (
            any::<String>(),
            failover_state(),
            any::<u32>(),
            failover_state(),
            any::<u32>(),
            prop::option::of(any::<u32>()),
        )
            .prop_map(|(peer, my_state, my_stos, partner_state, partner_stos, mclt)| {
                Entry::FailoverState(FailoverStateRecord {
                    peer,
                    my_state,
                    my_stos,
                    partner_state,
                    partner_stos,
                    mclt,
                })
            }),
        1 => (
            any::<String>(),
            hardware(),
            bytes_opt(),
            prop::option::of(any::<u32>().prop_map(Ipv4Addr::from)),
            any::<bool>(),
        )
            .prop_map(|(name, hardware, uid, fixed_address, deleted)| {
                // A deleted host is written with `deleted;` only.
                let (hardware, uid, fixed_address) = if deleted {
                    (None, None, None)
                } else {
                    (hardware, uid, fixed_address)
                };
                Entry::Host(HostRecord { name, hardware, uid, fixed_address, deleted })
            }),
    ]
}

proptest! {
    // 256 cases by default; more with PROPTEST_CASES=N.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn random_records_round_trip(entries in prop::collection::vec(entry(), 0..20)) {
        let bytes = serialize(&entries);
        let parsed = parse(&bytes);
        prop_assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        prop_assert_eq!(parsed.entries, entries);
    }

    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..2000)) {
        fuzz_parse(&data);
    }

    #[test]
    fn token_soup_never_panics(words in prop::collection::vec(prop::sample::select(vec![
        "lease", "10.0.0.1", "{", "}", ";", "\"", "host", "failover", "peer", "state", "my",
        "partner", "at", "3", "2026/11/25", "12:00:00", "never", "epoch", "binding", "next",
        "rewind", "active", "free", "hardware", "ethernet", "52:54:00:00:00:01", "uid",
        "\"\\001x\"", "set", "=", "on", "expiry", "#", "\n", " ", "mclt", "fixed-address",
        "deleted", "dynamic", "starts", "ends", "tstp", "\\", "abandoned", "reserved", "release", "or",
        "log (info, \"x;}\");",
    ]), 0..200)) {
        fuzz_parse(words.concat().as_bytes());
        fuzz_parse(words.join(" ").as_bytes());
    }

    /// A valid file with one record corrupted somewhere still yields every other record
    /// that the corruption did not touch, and never panics.
    #[test]
    fn mutated_valid_file(n in 1u32..20, at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let entries = common::leases(n);
        let mut bytes = serialize(&entries);
        let i = at.index(bytes.len());
        bytes[i] = byte;
        fuzz_parse(&bytes);
        let parsed = parse(&bytes);
        prop_assert!(parsed.entries.len() + 1 >= entries.len());
    }
}
