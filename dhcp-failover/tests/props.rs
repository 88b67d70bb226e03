//! Property tests: encode → decode round trip, and random bytes never panic.

use std::net::Ipv4Addr;

use dhcp_failover::State;
use dhcp_failover::wire::{
    BindingStatus, IpFlags, Message, MessageType, RejectReason, ServerFlags, decode, encode_to_vec, fuzz_decode, spec,
};
use proptest::prelude::*;

prop_compose! {
    fn any_message()(
        t in 1u8..=12, time in any::<u32>(), xid in any::<u32>(), mask in any::<u32>(),
        n in proptest::collection::vec(any::<u32>(), 30),
        v in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 30),
    ) -> Message {
        let mut m = Message::new(MessageType(t), time, xid);
        // Only options dhcpd allows in this message type, so the round trip is exact.
        let on = |c: u16| mask & (1 << c) != 0
            && spec(dhcp_failover::wire::OptionCode(c)).is_some_and(|s| s.allowed_in(MessageType(t)));
        let u = |c: u16| on(c).then(|| n[usize::from(c)]);
        let b8 = |c: u16| on(c).then(|| n[usize::from(c)] as u8);
        let by = |c: u16| on(c).then(|| v[usize::from(c)].clone());
        m.addresses_transferred = u(1);
        m.assigned_ip = u(2).map(Ipv4Addr::from);
        m.binding_status = b8(3).map(BindingStatus);
        m.client_id = by(4);
        m.chaddr = by(5);
        m.cltt = u(6);
        m.client_reply_options = by(7);
        m.client_request_options = by(8);
        m.ddns = by(9);
        m.delayed_service = b8(10);
        m.hba = by(11);
        m.ip_flags = u(12).map(|x| IpFlags(x as u16));
        m.lease_expiration = u(13);
        m.max_unacked = u(14);
        m.mclt = u(15);
        m.message = by(16);
        m.message_digest = by(17);
        m.potential_expiration = u(18);
        m.receive_timer = u(19);
        m.protocol_version = b8(20);
        m.reject_reason = b8(21).map(RejectReason);
        m.relationship_name = by(22);
        m.server_flags = b8(23).map(ServerFlags);
        m.server_state = b8(24).map(State);
        m.start_time_of_state = u(25);
        m.tls_reply = b8(26);
        m.tls_request = b8(27);
        m.vendor_class = by(28);
        m.vendor_specific = by(29);
        m
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn round_trip(m in any_message()) {
        let b = encode_to_vec(&m).expect("encode");
        prop_assert_eq!(b.len(), m.encoded_len());
        let (back, used) = decode(&b).expect("decode");
        prop_assert_eq!(used, b.len());
        prop_assert_eq!(&back, &m);
        // Streaming: two messages back to back, then a partial third.
        let mut s = b.clone();
        s.extend_from_slice(&b);
        s.extend_from_slice(&b[..b.len() / 2]);
        let (_, u1) = decode(&s).unwrap();
        let (_, u2) = decode(&s[u1..]).unwrap();
        prop_assert!(decode(&s[u1 + u2..]).unwrap_err().is_incomplete());
        fuzz_decode(&s);
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode(&data);
        fuzz_decode(&data);
    }

    #[test]
    fn random_body_with_valid_header_never_panics(
        t in 0u8..=14, payoff in 0u8..=40, body in proptest::collection::vec(any::<u8>(), 0..200)
    ) {
        let mut b = vec![0, 0, t, payoff, 0, 0, 0, 1, 0, 0, 0, 2];
        b.extend_from_slice(&body);
        let len = b.len() as u16;
        b[..2].copy_from_slice(&len.to_be_bytes());
        match decode(&b) {
            Ok((m, used)) => {
                prop_assert_eq!(used, b.len());
                fuzz_decode(&b);
                let _ = m;
            }
            Err(e) => prop_assert!(!e.is_incomplete()),
        }
    }

    #[test]
    fn random_tlvs_never_panic(
        t in 1u8..=12,
        opts in proptest::collection::vec((0u16..32, proptest::collection::vec(any::<u8>(), 0..8)), 0..12)
    ) {
        let mut b = vec![0, 0, t, 12, 0, 0, 0, 1, 0, 0, 0, 2];
        for (c, v) in &opts {
            b.extend_from_slice(&c.to_be_bytes());
            b.extend_from_slice(&(v.len() as u16).to_be_bytes());
            b.extend_from_slice(v);
        }
        let len = b.len() as u16;
        b[..2].copy_from_slice(&len.to_be_bytes());
        let _ = decode(&b);
        fuzz_decode(&b);
    }
}
