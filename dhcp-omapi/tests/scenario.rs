//! The digest's omshell session (§6.4: lease by ip, failover-state local-state, refresh),
//! plus control shutdown, host delete and NOTIFY, driven by a simulated omshell client.

mod common;

use std::net::Ipv4Addr;

use common::capture_key;
use dhcp_omapi::{
    Action, HardwareAddr, Intro, Key, LeaseLookup, Message, ObjectType, Op, Response, ResultCode, Session,
    SessionConfig, Value, Values,
};

struct Client {
    key: Key,
    authid: u32,
    next_id: u32,
}

impl Client {
    fn msg(&mut self, op: Op, handle: u32, message: Values, object: Values) -> (u32, Vec<u8>) {
        let id = self.next_id;
        self.next_id += 1;
        let mut m = Message { op: op.to_u32(), handle, id, message, object, ..Message::default() };
        let mut b = Vec::new();
        self.key.encode_signed(&mut m, self.authid, &mut b).unwrap();
        (id, b)
    }
}

fn connect() -> (Session, Client) {
    let mut s =
        Session::with_config(vec![capture_key()], SessionConfig { first_message_id: 1000, first_auth_handle: 1 });
    let mut b = Vec::new();
    Intro::STANDARD.encode(&mut b);
    Message {
        op: Op::Open.to_u32(),
        id: 1804289383,
        message: Values::new().with("type", "authenticator"),
        object: Values::new().with("name", "omkey").with("algorithm", "hmac-md5.SIG-ALG.REG.INT."),
        ..Message::default()
    }
    .encode(&mut b)
    .unwrap();
    s.handle_bytes(&b).unwrap();
    let mut out = Vec::new();
    s.poll_transmit(&mut out);
    let r = Message::decode(&out[8..], 24).unwrap().unwrap().message;
    assert_eq!(r.op(), Op::Update);
    (s, Client { key: capture_key(), authid: r.handle, next_id: 1804289384 })
}

fn reply(s: &mut Session, key: &Key) -> Message {
    let mut out = Vec::new();
    assert!(s.poll_transmit(&mut out));
    let d = Message::decode(&out, 24).unwrap().unwrap();
    assert_eq!(d.len, out.len());
    assert!(key.verify_decoded(&out, &d), "server reply is signed");
    d.message
}

#[test]
fn lease_failover_control_host_flow() {
    let (mut s, mut c) = connect();
    let key = capture_key();

    // new lease; set ip-address = 10.9.0.100; open
    let (id, b) =
        c.msg(Op::Open, 0, Values::new().with("type", "lease"), Values::new().with("ip-address", [10, 9, 0, 100]));
    s.handle_bytes(&b).unwrap();
    let req = s.poll_request().unwrap();
    assert_eq!(
        req.action(),
        Action::OpenLease(LeaseLookup { ip_address: Some(Ipv4Addr::new(10, 9, 0, 100)), ..Default::default() })
    );
    s.respond(req.id, Response::not_found()).unwrap();
    let r = reply(&mut s, &key);
    assert_eq!((r.op(), r.rid, r.handle), (Op::Status, id, 0));
    assert_eq!(r.message.get_u32("result"), Some(23));
    assert_eq!(r.message.get_str("message"), Some("no object matches specification"));

    // lease by hardware-address (type defaults to 1) and by client identifier
    let (_, b) = c.msg(
        Op::Open,
        0,
        Values::new().with("type", "lease"),
        Values::new().with("hardware-address", [0x52, 0x54, 0, 1, 2, 3]),
    );
    s.handle_bytes(&b).unwrap();
    let req = s.poll_request().unwrap();
    assert_eq!(
        req.action(),
        Action::OpenLease(LeaseLookup {
            hardware: Some(HardwareAddr { htype: 1, addr: vec![0x52, 0x54, 0, 1, 2, 3] }),
            ..Default::default()
        })
    );
    s.respond(
        req.id,
        Response::object(
            100,
            [
                ("state", Value::Int(2)),
                ("ip-address", Value::Ip(Ipv4Addr::new(10, 9, 0, 100))),
                ("subnet", Value::Handle(7)),
                ("pool", Value::Handle(8)),
                ("hardware-address", Value::Bytes(vec![0x52, 0x54, 0, 1, 2, 3])),
                ("hardware-type", Value::Int(1)),
                ("ends", Value::Int(1_800_000_000)),
                ("flags", Value::Byte(0)),
            ],
        ),
    )
    .unwrap();
    let r = reply(&mut s, &key);
    assert_eq!((r.op(), r.handle), (Op::Update, 100));
    assert_eq!(r.object.get("flags"), Some(&[0u8][..]));
    assert_eq!(r.object.get_u32("state"), Some(2));
    assert_eq!(s.handle_type(100), Some(&ObjectType::Lease));

    let (_, b) = c.msg(
        Op::Open,
        0,
        Values::new().with("type", "lease"),
        Values::new().with("dhcp-client-identifier", [1, 2, 3]),
    );
    s.handle_bytes(&b).unwrap();
    let req = s.poll_request().unwrap();
    assert_eq!(
        req.action(),
        Action::OpenLease(LeaseLookup { client_identifier: Some(vec![1, 2, 3]), ..Default::default() })
    );
    s.respond(req.id, Response::not_found()).unwrap();
    reply(&mut s, &key);

    // new failover-state; set name = "fo-test"; open
    let (_, b) =
        c.msg(Op::Open, 0, Values::new().with("type", "failover-state"), Values::new().with("name", "fo-test"));
    s.handle_bytes(&b).unwrap();
    let req = s.poll_request().unwrap();
    assert_eq!(req.action(), Action::OpenFailoverState { name: Some("fo-test".into()), handle: None });
    s.respond(req.id, Response::object(5, [("name", Value::Str("fo-test".into())), ("local-state", Value::Int(1))]))
        .unwrap();
    reply(&mut s, &key);

    // set local-state = 4; update
    let (id, b) = c.msg(Op::Update, 5, Values::new(), Values::new().with("local-state", 4u32.to_be_bytes()));
    s.handle_bytes(&b).unwrap();
    let req = s.poll_request().unwrap();
    assert_eq!(req.action(), Action::UpdateFailoverState { handle: 5, local_state: Some(4) });
    s.respond(req.id, Response::ok()).unwrap();
    let r = reply(&mut s, &key);
    assert_eq!((r.op(), r.rid), (Op::Status, id));
    assert_eq!(r.message.get_u32("result"), Some(0));

    // refresh
    let (_, b) = c.msg(Op::Refresh, 5, Values::new(), Values::new());
    s.handle_bytes(&b).unwrap();
    let req = s.poll_request().unwrap();
    assert_eq!(req.action(), Action::Refresh { handle: 5, object: Some(ObjectType::FailoverState) });
    s.respond(req.id, Response::object(5, [("name", Value::Str("fo-test".into())), ("local-state", Value::Int(4))]))
        .unwrap();
    reply(&mut s, &key);

    // new control; open; set state = 2; update
    let (_, b) = c.msg(Op::Open, 0, Values::new().with("type", "control"), Values::new());
    s.handle_bytes(&b).unwrap();
    let req = s.poll_request().unwrap();
    assert_eq!(req.action(), Action::OpenControl);
    s.respond(req.id, Response::object(9, [("state", Value::Int(0))])).unwrap();
    reply(&mut s, &key);
    let (_, b) = c.msg(Op::Update, 9, Values::new(), Values::new().with("state", 2u32.to_be_bytes()));
    s.handle_bytes(&b).unwrap();
    let req = s.poll_request().unwrap();
    assert_eq!(req.action(), Action::UpdateControl { handle: 9, state: Some(2) });
    s.respond(req.id, Response::ok()).unwrap();
    reply(&mut s, &key);

    // host open by name, then remove
    let (_, b) = c.msg(Op::Open, 0, Values::new().with("type", "host"), Values::new().with("name", "h2"));
    s.handle_bytes(&b).unwrap();
    let req = s.poll_request().unwrap();
    assert!(matches!(req.action(), Action::OpenHost { create: false, .. }));
    s.respond(req.id, Response::object(2, [("name", Value::Str("h2".into()))])).unwrap();
    reply(&mut s, &key);
    let (_, b) = c.msg(Op::Delete, 2, Values::new(), Values::new());
    s.handle_bytes(&b).unwrap();
    let req = s.poll_request().unwrap();
    assert_eq!(req.action(), Action::Delete { handle: 2, object: Some(ObjectType::Host) });
    s.respond(req.id, Response::ok()).unwrap();
    reply(&mut s, &key);
    assert_eq!(s.handle_type(2), None);

    // NOTIFY is answered by the session: NOTIMPLEMENTED
    let (id, b) = c.msg(Op::Notify, 0, Values::new(), Values::new());
    s.handle_bytes(&b).unwrap();
    assert!(s.poll_request().is_none());
    let r = reply(&mut s, &key);
    assert_eq!((r.op(), r.rid), (Op::Status, id));
    assert_eq!(r.message.get_u32("result"), Some(ResultCode::NOTIMPLEMENTED.0));

    // Refresh of the authenticator handle is answered by the session.
    let (_, b) = c.msg(Op::Refresh, 1, Values::new(), Values::new());
    s.handle_bytes(&b).unwrap();
    assert!(s.poll_request().is_none());
    let r = reply(&mut s, &key);
    assert_eq!(r.object.get_str("name"), Some("omkey"));

    // Responding twice, or to an unknown id, is an error, not a panic.
    assert!(s.respond(req.id, Response::ok()).is_err());
    assert_eq!(s.refused_count(), 0);

    // A STATUS from the client is unsolicited: the connection must be dropped.
    let (_, b) = c.msg(Op::Status, 0, Values::new(), Values::new());
    assert!(s.handle_bytes(&b).is_err());
    assert!(s.is_closed());
}

#[test]
fn server_ids_increment_per_message() {
    let (mut s, mut c) = connect();
    let key = capture_key();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, b) = c.msg(Op::Notify, 0, Values::new(), Values::new());
        s.handle_bytes(&b).unwrap();
        ids.push(reply(&mut s, &key).id);
    }
    assert_eq!(ids, vec![1001, 1002, 1003]);
}

#[test]
fn no_keys_accepts_unsigned() {
    let mut s = Session::new(Vec::new());
    let mut b = Vec::new();
    Intro::STANDARD.encode(&mut b);
    Message {
        op: Op::Open.to_u32(),
        id: 3,
        message: Values::new().with("type", "lease"),
        object: Values::new().with("ip-address", [1, 2, 3, 4]),
        ..Message::default()
    }
    .encode(&mut b)
    .unwrap();
    s.handle_bytes(&b).unwrap();
    let req = s.poll_request().unwrap();
    assert_eq!(req.authid, 0);
    s.respond(req.id, Response::not_found()).unwrap();
    let mut out = Vec::new();
    s.poll_transmit(&mut out);
    let r = Message::decode(&out[8..], 24).unwrap().unwrap().message;
    assert_eq!((r.authid, r.rid), (0, 3));
    assert!(r.signature.is_empty());
}

#[test]
fn larger_header_size_is_skipped_and_signed() {
    let key = capture_key();
    let mut s = Session::with_config(vec![key.clone()], SessionConfig::default());
    let mut b = Vec::new();
    Intro { version: 100, header_size: 28 }.encode(&mut b);
    // authenticator open with 4 extra header bytes
    let mut m = Vec::new();
    Message {
        op: Op::Open.to_u32(),
        id: 1,
        message: Values::new().with("type", "authenticator"),
        object: Values::new().with("name", "omkey"),
        ..Message::default()
    }
    .encode(&mut m)
    .unwrap();
    m.splice(24..24, [0xde, 0xad, 0xbe, 0xef]);
    b.extend_from_slice(&m);
    s.handle_bytes(&b).unwrap();
    let mut out = Vec::new();
    s.poll_transmit(&mut out);
    let r = Message::decode(&out[8..], 24).unwrap().unwrap().message;
    assert_eq!((r.op(), r.handle), (Op::Update, 1));
    assert_eq!(s.refused_count(), 0);
}
