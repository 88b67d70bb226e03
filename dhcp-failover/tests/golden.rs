//! Golden tests against byte-exact captures of ISC dhcpd 4.4.3-P1 (tests/captures/*.log,
//! copied from /work/shared/reference/dhcpd-captures). `<<` records are dhcpd's messages
//! (header line, `raw:` hex, decoded `opt` lines); `>>` lines are the test peer's messages.

use std::net::Ipv4Addr;

use dhcp_common::BindingState;
use dhcp_failover::State;
use dhcp_failover::wire::{
    Binding, IpFlags, LinkParams, Message, MessageType, OptionCode, RejectReason, ServerFlags, decode, encode_to_vec,
};

const LOGS: &[(&str, &str)] = &[
    ("peer_pri.log", include_str!("captures/peer_pri.log")),
    ("peer_sec.log", include_str!("captures/peer_sec.log")),
    ("peer_lb.log", include_str!("captures/peer_lb.log")),
    ("peer_pc.log", include_str!("captures/peer_pc.log")),
];

/// (len, time, xid) from a `<<` header line.
type HeaderInfo = (usize, u32, u32);

/// One captured message.
#[derive(Debug)]
struct Captured {
    file: &'static str,
    from_dhcpd: bool,
    name: String,
    raw: Vec<u8>,
    /// From the `<<` header line: (len, time, xid).
    header: Option<HeaderInfo>,
    /// From the `opt` lines: (code, value).
    opts: Vec<(u16, Vec<u8>)>,
}

fn parse_logs() -> Vec<Captured> {
    let mut out: Vec<Captured> = Vec::new();
    for (file, text) in LOGS {
        let mut pending: Option<(String, Option<HeaderInfo>)> = None;
        for line in text.lines() {
            let t = line.trim();
            if let Some(rest) = t.strip_prefix("<< ") {
                let w: Vec<&str> = rest.split_whitespace().collect();
                let get = |k: &str| -> Option<u64> {
                    let i = w.iter().position(|x| *x == k)?;
                    w.get(i + 1)?.parse().ok()
                };
                let hdr = match (get("len"), get("time"), get("xid")) {
                    (Some(l), Some(tm), Some(x)) => Some((l as usize, tm as u32, x as u32)),
                    _ => None,
                };
                pending = Some((w[0].to_string(), hdr));
            } else if let Some(hexs) = t.strip_prefix("raw: ") {
                let (name, header) = pending.take().unwrap_or_default();
                out.push(Captured {
                    file,
                    from_dhcpd: true,
                    name,
                    raw: hex::decode(hexs.trim()).expect("raw hex"),
                    header,
                    opts: Vec::new(),
                });
            } else if let Some(rest) = t.strip_prefix("opt ") {
                // "opt 22 relationship-name len 7: 666f... b'fo-test'"
                let w: Vec<&str> = rest.split_whitespace().collect();
                let code: u16 = w[0].parse().expect("opt code");
                let colon = w.iter().position(|x| x.ends_with(':')).expect("len:");
                let val = hex::decode(w[colon + 1]).expect("opt hex");
                out.last_mut().expect("opt after raw").opts.push((code, val));
            } else if let Some(rest) = t.strip_prefix(">> ") {
                let w: Vec<&str> = rest.split_whitespace().collect();
                let hexs = w.last().expect("hex");
                out.push(Captured {
                    file,
                    from_dhcpd: false,
                    name: w[0].to_string(),
                    raw: hex::decode(hexs).expect(">> hex"),
                    header: None,
                    opts: Vec::new(),
                });
            }
        }
    }
    out
}

/// The typed value of option `code` in `m`, re-serialised, for comparison with the log.
fn typed_value(m: &Message, code: u16) -> Option<Vec<u8>> {
    let u32b = |v: Option<u32>| v.map(|x| x.to_be_bytes().to_vec());
    let u8b = |v: Option<u8>| v.map(|x| vec![x]);
    match code {
        1 => u32b(m.addresses_transferred),
        2 => m.assigned_ip.map(|a| a.octets().to_vec()),
        3 => u8b(m.binding_status.map(|s| s.0)),
        4 => m.client_id.clone(),
        5 => m.chaddr.clone(),
        6 => u32b(m.cltt),
        11 => m.hba.clone(),
        12 => m.ip_flags.map(|f| f.0.to_be_bytes().to_vec()),
        13 => u32b(m.lease_expiration),
        14 => u32b(m.max_unacked),
        15 => u32b(m.mclt),
        16 => m.message.clone(),
        18 => u32b(m.potential_expiration),
        19 => u32b(m.receive_timer),
        20 => u8b(m.protocol_version),
        21 => u8b(m.reject_reason.map(|r| r.0)),
        22 => m.relationship_name.clone(),
        23 => u8b(m.server_flags.map(|f| f.0)),
        24 => u8b(m.server_state.map(|s| s.0)),
        25 => u32b(m.start_time_of_state),
        26 => u8b(m.tls_reply),
        27 => u8b(m.tls_request),
        28 => m.vendor_class.clone(),
        _ => None,
    }
}

#[test]
fn every_capture_decodes_checks_and_reencodes_identically() {
    let caps = parse_logs();
    let dhcpd = caps.iter().filter(|c| c.from_dhcpd).count();
    // 69 raw: lines from dhcpd plus the test peer's messages.
    assert_eq!(dhcpd, 69, "raw: lines parsed");
    assert!(caps.len() > 100);
    let mut kinds = std::collections::BTreeSet::new();
    for c in &caps {
        let (m, used) = decode(&c.raw).unwrap_or_else(|e| panic!("{}: {} {e}", c.file, c.name));
        assert_eq!(used, c.raw.len(), "{}: consumed", c.file);
        assert!(m.ignored.is_empty(), "{}: {:?}", c.file, m.ignored);
        if !c.name.is_empty() {
            assert_eq!(m.msg_type.name(), Some(c.name.as_str()), "{}: type", c.file);
        }
        if let Some((len, time, xid)) = c.header {
            assert_eq!(c.raw.len(), len, "{}: len", c.file);
            assert_eq!(m.time, time, "{}: time", c.file);
            assert_eq!(m.xid, xid, "{}: xid", c.file);
        }
        if !c.opts.is_empty() {
            let codes: Vec<u16> = m.option_codes().iter().map(|c| c.0).collect();
            let logged: Vec<u16> = c.opts.iter().map(|o| o.0).collect();
            assert_eq!(codes, logged, "{}: option order", c.file);
            for (code, val) in &c.opts {
                assert_eq!(typed_value(&m, *code).as_ref(), Some(val), "{}: opt {code}", c.file);
            }
        }
        let again = encode_to_vec(&m).expect("encode");
        assert_eq!(hex::encode(&again), hex::encode(&c.raw), "{}: {} re-encode", c.file, c.name);
        kinds.insert((c.from_dhcpd, m.msg_type));
    }
    // dhcpd sent: CONNECT, CONNECTACK, STATE, UPDREQALL, UPDREQ, UPDDONE, BNDUPD, BNDACK, CONTACT.
    let from_dhcpd: Vec<_> = kinds.iter().filter(|k| k.0).map(|k| k.1).collect();
    for t in [
        MessageType::CONNECT,
        MessageType::CONNECTACK,
        MessageType::STATE,
        MessageType::UPDREQALL,
        MessageType::UPDREQ,
        MessageType::UPDDONE,
        MessageType::BNDUPD,
        MessageType::BNDACK,
        MessageType::CONTACT,
    ] {
        assert!(from_dhcpd.contains(&t), "no dhcpd {t} in captures");
    }
}

fn first(name: &str, from_dhcpd: bool) -> Vec<Captured> {
    parse_logs().into_iter().filter(|c| c.name == name && c.from_dhcpd == from_dhcpd).collect()
}

fn fo_test_params(vendor: &[u8], recv: u32) -> LinkParams {
    LinkParams {
        relationship_name: b"fo-test".to_vec(),
        max_unacked: 10,
        receive_timer: recv,
        vendor_class: vendor.to_vec(),
    }
}

#[test]
fn dhcpd_connect_fields_and_constructor() {
    let c = &first("CONNECT", true)[0];
    let (m, _) = decode(&c.raw).unwrap();
    assert_eq!(m.msg_type, MessageType::CONNECT);
    assert_eq!(m.xid, 0);
    assert_eq!(m.relationship_name.as_deref(), Some(&b"fo-test"[..]));
    assert_eq!(m.max_unacked, Some(10));
    assert_eq!(m.receive_timer, Some(30));
    assert_eq!(m.vendor_class.as_deref(), Some(&b"isc-4.4.3-P1"[..]));
    assert_eq!(m.protocol_version, Some(1));
    assert_eq!(m.tls_request, Some(0));
    assert_eq!(m.mclt, Some(120));
    let mut hba = [0u8; 32];
    hba[..16].fill(0xff);
    assert_eq!(m.hba32(), Some(hba));
    let built = Message::connect(m.time, 0, &fo_test_params(b"isc-4.4.3-P1", 30), 120, Some(&hba));
    assert_eq!(encode_to_vec(&built).unwrap(), c.raw);
}

#[test]
fn dhcpd_connectack_constructor_matches() {
    let c = &first("CONNECTACK", true)[0];
    let (m, _) = decode(&c.raw).unwrap();
    assert_eq!(m.xid, 1001);
    assert_eq!(m.tls_reply, Some(0));
    assert_eq!(m.reject_reason, None);
    // The peer's CONNECT it answers (with TLS-request).
    let req = &first("CONNECT", false)[0];
    let (connect, _) = decode(&req.raw).unwrap();
    assert_eq!(connect.xid, 1001);
    let built = Message::connectack(m.time, &connect, &fo_test_params(b"isc-4.4.3-P1", 30), None);
    assert_eq!(encode_to_vec(&built).unwrap(), c.raw);
}

#[test]
fn dhcpd_state_messages() {
    for c in first("STATE", true) {
        let (m, _) = decode(&c.raw).unwrap();
        let st = m.server_state.unwrap();
        assert!(st.is_known());
        let built = Message::state(m.time, m.xid, st, m.server_flags.unwrap(), m.start_time_of_state.unwrap());
        assert_eq!(encode_to_vec(&built).unwrap(), c.raw);
    }
    // The first STATE after connecting: recover with the STARTUP flag.
    let c = &first("STATE", true)[0];
    let (m, _) = decode(&c.raw).unwrap();
    assert_eq!(m.server_state, Some(State::RECOVER));
    assert!(m.server_flags.unwrap().is_startup());
    assert_eq!(m.server_flags, Some(ServerFlags::STARTUP));
}

#[test]
fn dhcpd_bndupd_backup_and_active() {
    let all = first("BNDUPD", true);
    let (backup, _) = decode(&all[0].raw).unwrap();
    assert_eq!(backup.binding_status, Some(BindingState::Backup.into()));
    assert_eq!(backup.assigned_ip, Some(Ipv4Addr::new(10, 9, 0, 100)));
    assert_eq!(backup.lease_expiration, Some(0));
    assert_eq!(backup.cltt, None);
    let b = Binding {
        ip: Ipv4Addr::new(10, 9, 0, 100),
        status: BindingState::Backup.into(),
        client_id: None,
        chaddr: None,
        ends: 0,
        tstp: backup.time,
        starts: backup.time,
        cltt: 0,
        ip_flags: IpFlags::NONE,
        vendor: None,
    };
    assert_eq!(encode_to_vec(&Message::bndupd(backup.time, backup.xid, &b)).unwrap(), all[0].raw);

    // The 79-byte ACTIVE update from peer_lb.log.
    let active = all.iter().find(|c| c.raw.len() == 79).expect("active BNDUPD");
    let (m, _) = decode(&active.raw).unwrap();
    assert_eq!(m.binding_status, Some(BindingState::Active.into()));
    assert_eq!(m.client_id.as_deref(), Some(&hex::decode("01525400aabb10").unwrap()[..]));
    let (htype, mac) = m.chaddr_parts().unwrap();
    assert_eq!((htype, mac), (1, &hex::decode("525400aabb10").unwrap()[..]));
    assert_eq!(m.lease_expiration, Some(m.time + 120));
    assert_eq!(m.potential_expiration, Some(m.time + 660));
    assert_eq!(m.cltt, Some(m.time));
    let b = Binding {
        ip: m.assigned_ip.unwrap(),
        status: BindingState::Active.into(),
        client_id: m.client_id.clone(),
        chaddr: m.chaddr.clone(),
        ends: m.time + 120,
        tstp: m.time + 660,
        starts: m.time,
        cltt: m.time,
        ip_flags: IpFlags::NONE,
        vendor: None,
    };
    assert_eq!(encode_to_vec(&Message::bndupd(m.time, m.xid, &b)).unwrap(), active.raw);

    // xdhcpd's DNS state rides in option 29 after dhcpd's options: dhcpd's bytes unchanged
    // in front of it (a dhcpd partner skips option 29 in a BNDUPD, see wire::vendor).
    let state = dhcp_failover::wire::vendor::XdhcpdVendor { vars: vec![("ddns-fwd-name".into(), b"a.test".to_vec())] };
    let with = Binding { vendor: Some(state.encode().unwrap()), ..b };
    let bytes = encode_to_vec(&Message::bndupd(m.time, m.xid, &with)).unwrap();
    assert_eq!(&bytes[2..active.raw.len()], &active.raw[2..]);
    assert_eq!(&bytes[active.raw.len()..active.raw.len() + 4], &[0, 29, 0, 30]);
    let (back, _) = decode(&bytes).unwrap();
    assert_eq!(back.vendor_specific, with.vendor);
    assert!(back.ignored.is_empty());
    let got = dhcp_failover::wire::vendor::XdhcpdVendor::decode(back.vendor_specific.as_deref().unwrap());
    assert_eq!(got, Ok(Some(state)));

    // The 68-byte one has chaddr but no client-identifier.
    let noid = all.iter().find(|c| c.raw.len() == 68).expect("68-byte BNDUPD");
    let (m, _) = decode(&noid.raw).unwrap();
    assert_eq!(m.client_id, None);
    assert!(m.chaddr.is_some());
}

#[test]
fn dhcpd_bndack_upd_contact_constructors() {
    let c = &first("BNDACK", true)[0];
    let (m, _) = decode(&c.raw).unwrap();
    assert_eq!(m.xid, 1004);
    let built = Message::bndack(m.time, 1004, Ipv4Addr::new(10, 9, 0, 105), None);
    assert_eq!(encode_to_vec(&built).unwrap(), c.raw);

    let c = &first("UPDDONE", true)[0];
    let (m, _) = decode(&c.raw).unwrap();
    assert_eq!(m.xid, 1002, "UPDDONE echoes the UPDREQ xid");
    assert_eq!(encode_to_vec(&Message::upddone(m.time, 1002)).unwrap(), c.raw);

    for (name, f) in [
        ("UPDREQ", Message::updreq as fn(u32, u32) -> Message),
        ("UPDREQALL", Message::updreqall),
        ("CONTACT", Message::contact),
    ] {
        for c in first(name, true) {
            let (m, _) = decode(&c.raw).unwrap();
            assert_eq!(encode_to_vec(&f(m.time, m.xid)).unwrap(), c.raw, "{name}");
        }
    }
}

#[test]
fn stream_of_all_captures_decodes_in_sequence() {
    let caps = parse_logs();
    let mut stream = Vec::new();
    for c in &caps {
        stream.extend_from_slice(&c.raw);
    }
    let mut rest = &stream[..];
    let mut n = 0;
    while !rest.is_empty() {
        let (_, used) = decode(rest).unwrap();
        rest = &rest[used..];
        n += 1;
    }
    assert_eq!(n, caps.len());
}

#[test]
fn every_prefix_is_incomplete_never_success() {
    for c in parse_logs() {
        for k in 0..c.raw.len() {
            match decode(&c.raw[..k]) {
                Err(e) => assert!(e.is_incomplete(), "{}: prefix {k}: {e}", c.name),
                Ok(_) => panic!("{}: prefix {k} decoded", c.name),
            }
        }
    }
}

#[test]
fn shortened_length_field_gives_error_or_a_subset() {
    for c in parse_logs() {
        let (full, _) = decode(&c.raw).unwrap();
        for k in 12..c.raw.len() {
            let mut b = c.raw[..k].to_vec();
            b[..2].copy_from_slice(&(k as u16).to_be_bytes());
            match decode(&b) {
                Err(e) => assert!(!e.is_incomplete()),
                Ok((m, used)) => {
                    assert_eq!(used, k);
                    // Only a cut at an option boundary succeeds; every field it has must
                    // equal the full message's.
                    for code in m.option_codes() {
                        assert_eq!(typed_value(&m, code.0), typed_value(&full, code.0), "{}", c.name);
                    }
                    assert!(m.option_codes().len() < full.option_codes().len());
                }
            }
        }
    }
}

#[test]
fn corrupted_inner_lengths() {
    let c = &first("CONNECT", true)[0];
    // First option (relationship-name) at offset 12; its length field at 14..16.
    let mut b = c.raw.clone();
    b[14..16].copy_from_slice(&0x0400u16.to_be_bytes());
    assert!(matches!(decode(&b), Err(dhcp_failover::DecodeError::OptionOverrun { .. })));
    // max-unacked (fixed u32) claimed length 3: wrong length.
    let mut b = c.raw.clone();
    let at = 12 + 4 + 7; // after relationship-name
    assert_eq!(&b[at..at + 2], &[0, 14]);
    b[at + 3] = 3;
    assert!(decode(&b).is_err());
    // State option with length 2.
    let s = &first("STATE", true)[0];
    let mut b = s.raw.clone();
    b[12..14].copy_from_slice(&24u16.to_be_bytes());
    b[15] = 2;
    assert!(matches!(decode(&b), Err(dhcp_failover::DecodeError::BadOptionLength { .. })));
    // Payload offset 8 (the draft's value) is refused; 13..=len is skipped over.
    let mut b = s.raw.clone();
    b[3] = 8;
    assert!(matches!(decode(&b), Err(dhcp_failover::DecodeError::BadPayloadOffset { .. })));
}

#[test]
fn payoff_above_12_skips_bytes() {
    // A STATE with 4 junk bytes between header and options, payoff 16.
    let s = &first("STATE", true)[0];
    let mut b = s.raw[..12].to_vec();
    b.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    b.extend_from_slice(&s.raw[12..]);
    let len = b.len() as u16;
    b[..2].copy_from_slice(&len.to_be_bytes());
    b[3] = 16;
    let (m, used) = decode(&b).unwrap();
    assert_eq!(used, b.len());
    assert_eq!(encode_to_vec(&m).unwrap(), s.raw, "re-encoded with payoff 12");
}

#[test]
fn duplicate_notallowed_unknown_and_digest() {
    let s = &first("STATE", true)[0];
    let with = |extra: &[u8]| {
        let mut b = s.raw.clone();
        b.extend_from_slice(extra);
        let len = b.len() as u16;
        b[..2].copy_from_slice(&len.to_be_bytes());
        b
    };
    // Duplicate server-state.
    assert_eq!(
        decode(&with(&[0, 24, 0, 1, 2])),
        Err(dhcp_failover::DecodeError::DuplicateOption(OptionCode::SERVER_STATE))
    );
    // MCLT is not allowed in STATE: skipped even with a bad length, and twice.
    let (m, _) = decode(&with(&[0, 15, 0, 1, 9, 0, 15, 0, 1, 9])).unwrap();
    assert_eq!(m.mclt, None);
    assert_eq!(m.ignored.len(), 2);
    assert_eq!(m.ignored[0].reason, dhcp_failover::wire::IgnoreReason::NotAllowed);
    // Unknown code 200 and code 0: skipped.
    let (m, _) = decode(&with(&[0, 200, 0, 2, 1, 2, 0, 0, 0, 0])).unwrap();
    assert_eq!(m.ignored.len(), 2);
    assert_eq!(m.ignored[0].reason, dhcp_failover::wire::IgnoreReason::UnknownCode);
    // Digest last: accepted and kept; digest followed by an option: error.
    let (m, _) = decode(&with(&[0, 17, 0, 2, 0xaa, 0xbb])).unwrap();
    assert_eq!(m.message_digest.as_deref(), Some(&[0xaa, 0xbb][..]));
    assert_eq!(encode_to_vec(&m).unwrap(), with(&[0, 17, 0, 2, 0xaa, 0xbb]));
    assert_eq!(decode(&with(&[0, 17, 0, 0, 0, 200, 0, 0])), Err(dhcp_failover::DecodeError::DigestNotLast));
    // Truncated option header.
    assert!(matches!(decode(&with(&[0, 24, 0])), Err(dhcp_failover::DecodeError::TruncatedOptionHeader { .. })));
}

#[test]
fn header_limits_and_unknown_types() {
    assert!(matches!(decode(&[0, 11]), Err(dhcp_failover::DecodeError::BadLength(11))));
    assert!(matches!(decode(&[0x08, 0x01]), Err(dhcp_failover::DecodeError::BadLength(2049))));
    assert!(decode(&[0]).unwrap_err().is_incomplete());
    assert!(decode(&[]).unwrap_err().is_incomplete());
    assert_eq!(decode(&[0, 12]).unwrap_err(), dhcp_failover::DecodeError::Incomplete { needed: 10 });
    // Unknown type without options decodes; with options it is an error.
    let (m, _) = decode(&[0, 12, 13, 12, 0, 0, 0, 1, 0, 0, 0, 2]).unwrap();
    assert_eq!(m.msg_type, MessageType(13));
    assert!(!m.msg_type.is_known());
    let b = [0, 16, 13, 12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 200, 0, 0];
    assert!(matches!(decode(&b), Err(dhcp_failover::DecodeError::UnknownTypeWithOptions(_))));
    assert_eq!(
        dhcp_failover::DecodeError::DuplicateOption(OptionCode::MCLT).reject_reason(),
        Some(RejectReason::MISC_REJECT)
    );
}

#[test]
fn encode_refuses_disallowed_and_oversize() {
    let mut m = Message::bndack(1, 2, Ipv4Addr::new(1, 2, 3, 4), None);
    m.hba = Some(vec![0; 32]);
    assert!(matches!(encode_to_vec(&m), Err(dhcp_failover::EncodeError::OptionNotAllowed { .. })));
    let mut out = vec![7u8];
    let mut big = Message::disconnect(1, 2, RejectReason::MISC_REJECT, &[b'x'; 2100]);
    assert!(matches!(dhcp_failover::encode(&big, &mut out), Err(dhcp_failover::EncodeError::TooLong(_))));
    assert_eq!(out, vec![7u8], "buffer untouched on error");
    big.message = Some(vec![b'x'; 2048 - 12 - 5 - 4]);
    let n = dhcp_failover::encode(&big, &mut out).unwrap();
    assert_eq!(n, 2048);
    let (back, _) = decode(&out[1..]).unwrap();
    assert_eq!(back, big);
}

#[test]
fn other_constructors_round_trip() {
    let msgs = [
        Message::poolreq(5, 6),
        Message::poolresp(5, 6, 42),
        Message::disconnect(5, 6, RejectReason::DUP_CONNECTION, b"already connected"),
        Message::disconnect(5, 6, RejectReason::TIMEMISMATCH, b""),
        Message::bndack(5, 6, Ipv4Addr::new(10, 0, 0, 1), Some((RejectReason::ILLEGAL_IP_ADDR, b"no pool"))),
    ];
    for m in msgs {
        let b = encode_to_vec(&m).unwrap();
        assert_eq!(b[3], 12);
        assert_eq!(decode(&b).unwrap(), (m, b.len()));
    }
    let b = encode_to_vec(&Message::poolresp(5, 6, 42)).unwrap();
    assert_eq!(hex::encode(b), "0014020c000000050000000600010004 0000002a".replace(' ', ""));
}
