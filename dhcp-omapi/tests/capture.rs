//! Golden tests against the live omshell <-> dhcpd 4.4.3 capture (tests/captures/).

mod common;

use std::net::Ipv4Addr;

use common::{capture_key, conf_secret, relay_log};
use dhcp_omapi::{
    Action, HostAttrs, Intro, Key, Message, ObjectType, Op, RefusalReason, RequestKind, Response, ResultCode, Session,
    SessionConfig, Value, Values,
};

/// The messages of the capture (everything after the two intros).
fn messages() -> Vec<(bool, Vec<u8>, dhcp_omapi::Decoded)> {
    relay_log()
        .into_iter()
        .skip(2)
        .map(|c| {
            let d = Message::decode(&c.bytes, 24).expect("decodes").expect("complete");
            assert_eq!(d.len, c.bytes.len(), "one message per log line");
            (c.from_client, c.bytes, d)
        })
        .collect()
}

#[test]
fn intros_are_standard() {
    let log = relay_log();
    for c in &log[..2] {
        assert_eq!(Intro::decode(&c.bytes), Ok(Some(Intro::STANDARD)));
        let mut out = Vec::new();
        Intro::STANDARD.encode(&mut out);
        assert_eq!(out, c.bytes);
    }
}

#[test]
fn key_from_omcmds_equals_conf() {
    let k = capture_key();
    assert_eq!(k.name(), "omkey");
    assert_eq!(k, Key::from_config("omkey", "hmac-md5", &conf_secret()).unwrap());
    assert_eq!(k, Key::hmac_md5("omkey", b"secretsecretsecret".to_vec()).unwrap());
}

#[test]
fn every_message_decodes_and_reencodes_byte_exact() {
    let msgs = messages();
    assert_eq!(msgs.len(), 6);
    for (_, raw, d) in &msgs {
        let mut out = Vec::new();
        d.message.encode(&mut out).unwrap();
        assert_eq!(&out, raw);
    }
    // Spot-check the fields of the first exchange (digest 6.4 step 2 and 3).
    let open = &msgs[0].2.message;
    assert_eq!((open.authid, open.op(), open.handle, open.id, open.rid), (0, Op::Open, 0, 0x6b8b4567, 0));
    assert_eq!(open.message.get_str("type"), Some("authenticator"));
    assert_eq!(open.object.get_str("name"), Some("omkey"));
    assert_eq!(open.object.get_str("algorithm"), Some("hmac-md5.SIG-ALG.REG.INT."));
    assert!(open.signature.is_empty());
    let upd = &msgs[1].2.message;
    assert_eq!((upd.authid, upd.op(), upd.handle, upd.id, upd.rid), (0, Op::Update, 1, 0x50d9f3bd, 0x6b8b4567));
    let st = &msgs[3].2.message;
    assert_eq!(st.op(), Op::Status);
    assert_eq!(st.message.get_u32("result"), Some(ResultCode::UNKNOWNATTRIBUTE.0));
    assert_eq!(st.message.get_str("message"), Some("can't update object"));
}

#[test]
fn every_signed_message_verifies_and_resigns() {
    let key = capture_key();
    let mut signed = 0;
    for (_, raw, d) in messages() {
        if d.message.authid == 0 {
            assert!(d.message.signature.is_empty());
            continue;
        }
        signed += 1;
        assert_eq!(d.message.authid, 1);
        assert_eq!(d.message.signature.len(), 16);
        assert!(key.verify_decoded(&raw, &d), "signature verifies");
        let mut m = d.message.clone();
        m.signature.clear();
        let mut out = Vec::new();
        key.encode_signed(&mut m, 1, &mut out).unwrap();
        assert_eq!(m.signature, d.message.signature, "re-signing reproduces the signature");
        assert_eq!(out, raw);
    }
    assert_eq!(signed, 4);
}

#[test]
fn wrong_key_or_flipped_byte_fails() {
    let key = capture_key();
    let wrong = Key::hmac_md5("omkey", b"secretsecretsecreT".to_vec()).unwrap();
    for (_, raw, d) in messages() {
        if d.message.authid == 0 {
            continue;
        }
        assert!(!wrong.verify_decoded(&raw, &d));
        // Flip every byte from offset 4 (authlen) to the end: each must break verification
        // (or make the message undecodable). The authid (bytes 0..4) is not covered.
        for i in 4..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            if let Ok(Some(d2)) = Message::decode(&bad, 24) {
                assert!(!key.verify_decoded(&bad, &d2), "flip at {i} detected");
            }
        }
        let mut bad = raw.clone();
        bad[0] ^= 0x80;
        let d2 = Message::decode(&bad, 24).unwrap().unwrap();
        assert!(key.verify_decoded(&bad, &d2), "authid is not covered by the signature");
    }
}

#[test]
fn truncated_input_needs_more() {
    for (_, raw, _) in messages() {
        for n in 0..raw.len() {
            assert_eq!(Message::decode(&raw[..n], 24), Ok(None), "prefix {n}");
        }
    }
}

fn capture_session() -> Session {
    Session::with_config(vec![capture_key()], SessionConfig { first_message_id: 0x50d9f3bd, first_auth_handle: 1 })
}

/// Replay the client side of the capture through a Session, answering like dhcpd did,
/// and compare every byte the session emits with dhcpd's replies.
#[test]
fn session_replays_capture_byte_exact() {
    let log = relay_log();
    let server: Vec<&[u8]> = log.iter().filter(|c| !c.from_client).map(|c| c.bytes.as_slice()).collect();
    let client: Vec<&[u8]> = log.iter().filter(|c| c.from_client).map(|c| c.bytes.as_slice()).collect();
    let mut s = capture_session();
    let mut out = Vec::new();

    // Intro: ours goes out at once.
    assert!(s.poll_transmit(&mut out));
    assert_eq!(out, server[0]);
    s.handle_bytes(client[0]).unwrap();
    out.clear();
    assert!(!s.poll_transmit(&mut out));

    // Authenticator OPEN -> unsigned UPDATE handle 1 (answered by the session itself).
    s.handle_bytes(client[1]).unwrap();
    assert!(s.poll_request().is_none());
    assert!(s.poll_transmit(&mut out));
    assert_eq!(hex::encode(&out), hex::encode(server[1]));
    out.clear();

    // `new host; set name = "h1"; set foo = 1; create`.
    s.handle_bytes(client[2]).unwrap();
    let req = s.poll_request().expect("host create");
    assert_eq!(req.message_id, 0x6b8b4568);
    assert_eq!(req.authid, 1);
    match &req.kind {
        RequestKind::Open { object, create, exclusive, update, values } => {
            assert_eq!(object, &ObjectType::Host);
            assert!(*create && *exclusive && !*update);
            assert_eq!(values.get_str("name"), Some("h1"));
            assert_eq!(values.get_u32("foo"), Some(1));
        }
        other => panic!("unexpected {other:?}"),
    }
    match req.action() {
        Action::OpenHost { attrs, create: true, exclusive: true, update: false } => {
            assert_eq!(attrs.name.as_deref(), Some("h1"));
            assert_eq!(attrs.unknown, vec!["foo".to_owned()]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!s.poll_transmit(&mut out));
    s.respond(req.id, Response::status(ResultCode::UNKNOWNATTRIBUTE, Some("can't update object"))).unwrap();
    assert!(s.poll_transmit(&mut out));
    assert_eq!(hex::encode(&out), hex::encode(server[2]));
    out.clear();

    // `new host; name h2; hardware-address; hardware-type 1; ip-address 10.9.0.50; create`.
    s.handle_bytes(client[3]).unwrap();
    let req = s.poll_request().expect("host create");
    let Action::OpenHost { attrs, create: true, .. } = req.action() else { panic!("{req:?}") };
    assert_eq!(
        attrs,
        HostAttrs {
            name: Some("h2".into()),
            hardware_address: Some(vec![0x52, 0x54, 0, 1, 2, 3]),
            hardware_type: Some(1),
            ip_address: Some(Ipv4Addr::new(10, 9, 0, 50)),
            ..HostAttrs::default()
        }
    );
    s.respond(
        req.id,
        Response::object(
            2,
            [
                ("ip-address", Value::Ip(Ipv4Addr::new(10, 9, 0, 50))),
                ("name", Value::Str("h2".into())),
                ("hardware-address", Value::Bytes(vec![0x52, 0x54, 0, 1, 2, 3])),
                ("hardware-type", Value::Int(1)),
            ],
        ),
    )
    .unwrap();
    assert!(s.poll_transmit(&mut out));
    assert_eq!(hex::encode(&out), hex::encode(server[3]));
    assert_eq!(s.handle_type(2), Some(&ObjectType::Host));
    assert_eq!(s.refused_count(), 0);
    assert_eq!(s.outstanding(), 0);
}

/// The same client stream fed in one piece and byte by byte yields the same requests.
#[test]
fn session_accepts_any_chunking() {
    let stream: Vec<u8> = relay_log().into_iter().filter(|c| c.from_client).flat_map(|c| c.bytes).collect();
    let collect = |chunk: usize| {
        let mut s = capture_session();
        for part in stream.chunks(chunk) {
            s.handle_bytes(part).unwrap();
        }
        let mut reqs = Vec::new();
        while let Some(r) = s.poll_request() {
            reqs.push(r);
        }
        let mut out = Vec::new();
        s.poll_transmit(&mut out);
        (reqs, out)
    };
    let whole = collect(stream.len());
    assert_eq!(whole.0.len(), 2);
    for n in [1, 2, 3, 7, 24, 100] {
        assert_eq!(collect(n), whole, "chunk size {n}");
    }
}

fn after_auth() -> (Session, Vec<u8>) {
    let log = relay_log();
    let mut s = capture_session();
    s.handle_bytes(&log[0].bytes).unwrap();
    s.handle_bytes(&log[2].bytes).unwrap();
    let mut out = Vec::new();
    s.poll_transmit(&mut out);
    (s, log[4].bytes.clone())
}

fn reply(s: &mut Session) -> Message {
    let mut out = Vec::new();
    assert!(s.poll_transmit(&mut out));
    let d = Message::decode(&out, 24).unwrap().unwrap();
    assert_eq!(d.len, out.len());
    d.message
}

#[test]
fn bad_signature_is_refused_with_invalidkey() {
    let (mut s, mut h1) = after_auth();
    let last = h1.len() - 1;
    h1[last] ^= 0xff;
    s.handle_bytes(&h1).unwrap();
    assert!(s.poll_request().is_none());
    let r = reply(&mut s);
    assert_eq!(r.op(), Op::Status);
    assert_eq!(r.rid, 0x6b8b4568);
    assert_eq!(r.authid, 1);
    assert!(capture_key().verify(
        &{
            let mut b = Vec::new();
            r.encode(&mut b).unwrap();
            b[4..b.len() - 16].to_vec()
        },
        &r.signature
    ));
    assert_eq!(r.message.get_u32("result"), Some(ResultCode::INVALIDKEY.0));
    assert_eq!(s.refused_count(), 1);
    assert_eq!(s.poll_refusal().unwrap().reason, RefusalReason::BadSignature);
    assert!(!s.is_closed());
}

#[test]
fn unsigned_message_is_refused_with_nokeys() {
    let (mut s, h1) = after_auth();
    let mut m = Message::decode(&h1, 24).unwrap().unwrap().message;
    m.authid = 0;
    m.signature.clear();
    let mut b = Vec::new();
    m.encode(&mut b).unwrap();
    s.handle_bytes(&b).unwrap();
    assert!(s.poll_request().is_none());
    let r = reply(&mut s);
    assert_eq!((r.op(), r.authid, r.rid), (Op::Status, 0, m.id));
    assert_eq!(r.message.get_u32("result"), Some(ResultCode::NOKEYS.0));
    assert_eq!(r.message.get_str("message"), Some("No authenticator on message"));
    assert_eq!(s.poll_refusal().unwrap().reason, RefusalReason::Unsigned);
}

#[test]
fn unknown_authid_and_unknown_key_are_refused() {
    let (mut s, h1) = after_auth();
    let mut b = h1.clone();
    b[3] = 9; // authid 9
    s.handle_bytes(&b).unwrap();
    let r = reply(&mut s);
    assert_eq!(r.message.get_u32("result"), Some(ResultCode::KEY_UNKNOWN.0));

    let open = Message {
        op: Op::Open.to_u32(),
        id: 77,
        message: Values::new().with("type", "authenticator"),
        object: Values::new().with("name", "nokey").with("algorithm", "hmac-md5.SIG-ALG.REG.INT."),
        ..Message::default()
    };
    let mut b = Vec::new();
    open.encode(&mut b).unwrap();
    s.handle_bytes(&b).unwrap();
    let r = reply(&mut s);
    assert_eq!((r.op(), r.rid), (Op::Status, 77));
    assert_eq!(r.message.get_u32("result"), Some(ResultCode::NOTFOUND.0));
    assert_eq!(r.message.get_str("message"), Some("no object matches specification"));
    assert_eq!(s.refused_count(), 2);
}

#[test]
fn algorithm_is_matched_case_insensitively() {
    let mut s = capture_session();
    let mut b = Vec::new();
    Intro::STANDARD.encode(&mut b);
    Message {
        op: Op::Open.to_u32(),
        id: 5,
        message: Values::new().with("type", "authenticator"),
        object: Values::new().with("name", "omkey").with("algorithm", "HMAC-MD5.sig-alg.reg.int."),
        ..Message::default()
    }
    .encode(&mut b)
    .unwrap();
    s.handle_bytes(&b).unwrap();
    let mut out = Vec::new();
    s.poll_transmit(&mut out);
    let r = Message::decode(&out[8..], 24).unwrap().unwrap().message;
    assert_eq!((r.op(), r.handle, r.rid, r.authid), (Op::Update, 1, 5, 0));
}

#[test]
fn bad_intro_closes() {
    let mut s = Session::new(vec![capture_key()]);
    assert!(s.handle_bytes(&[0, 0, 0, 99, 0, 0, 0, 24]).is_err());
    assert!(s.is_closed());
    let mut s = Session::new(vec![capture_key()]);
    assert!(s.handle_bytes(&[0, 0, 0, 100, 0, 0, 0, 23]).is_err());
    assert!(matches!(s.handle_bytes(&[]), Err(dhcp_omapi::SessionError::Closed)));
}
