//! Property tests: no panics on garbage, encode/decode round trip.

mod common;

use dhcp_omapi::{Intro, Key, Message, NameValue, Session, Values};
use proptest::prelude::*;

fn values() -> impl Strategy<Value = Values> {
    prop::collection::vec(("[a-z-]{1,20}", prop::collection::vec(any::<u8>(), 0..40)), 0..6)
        .prop_map(|v| v.into_iter().map(|(n, val)| NameValue::new(n, val)).collect())
}

fn message() -> impl Strategy<Value = Message> {
    (any::<[u32; 5]>(), values(), values(), prop::collection::vec(any::<u8>(), 0..=64)).prop_map(
        |([authid, op, handle, id, rid], message, object, signature)| Message {
            authid,
            op,
            handle,
            id,
            rid,
            message,
            object,
            signature,
        },
    )
}

proptest! {
    #[test]
    fn decode_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512), hs in 0u32..2000) {
        let _ = Message::decode(&bytes, hs);
        let _ = Intro::decode(&bytes);
    }

    #[test]
    fn session_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..1024), with_intro: bool, split in 0usize..1024) {
        let mut s = Session::new(vec![common::capture_key()]);
        let mut input = Vec::new();
        if with_intro {
            Intro::STANDARD.encode(&mut input);
        }
        input.extend_from_slice(&bytes);
        let (a, b) = input.split_at(split.min(input.len()));
        let _ = s.handle_bytes(a);
        let _ = s.handle_bytes(b);
        let mut out = Vec::new();
        s.poll_transmit(&mut out);
        while let Some(r) = s.poll_request() {
            let _ = r.action();
            let _ = s.respond(r.id, dhcp_omapi::Response::ok());
        }
    }

    #[test]
    fn session_mutated_capture_never_panics(idx in 0usize..600, flip in 1u8..=255) {
        let mut stream: Vec<u8> = common::relay_log().into_iter().filter(|c| c.from_client).flat_map(|c| c.bytes).collect();
        let i = idx % stream.len();
        stream[i] ^= flip;
        let mut s = Session::new(vec![common::capture_key()]);
        let _ = s.handle_bytes(&stream);
        while let Some(r) = s.poll_request() {
            let _ = r.action();
            let _ = s.respond(r.id, dhcp_omapi::Response::not_found());
        }
        let mut out = Vec::new();
        s.poll_transmit(&mut out);
    }

    #[test]
    fn round_trip(m in message(), extra in prop::collection::vec(any::<u8>(), 0..16)) {
        let mut b = Vec::new();
        m.encode(&mut b).unwrap();
        let len = b.len();
        b.extend_from_slice(&extra);
        let d = Message::decode(&b, 24).unwrap().unwrap();
        prop_assert_eq!(d.len, len);
        prop_assert_eq!(&d.message, &m);
        for n in 0..len {
            prop_assert_eq!(Message::decode(&b[..n], 24), Ok(None));
        }
    }

    #[test]
    fn sign_verify_round_trip(mut m in message(), secret in prop::collection::vec(any::<u8>(), 0..80), authid in 1u32..) {
        let key = Key::hmac_md5("k", secret).unwrap();
        let mut b = Vec::new();
        key.encode_signed(&mut m, authid, &mut b).unwrap();
        let d = Message::decode(&b, 24).unwrap().unwrap();
        prop_assert_eq!(d.message.authid, authid);
        prop_assert!(key.verify_decoded(&b, &d));
    }
}
