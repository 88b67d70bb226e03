use super::*;
use crate::ddns::Style;
use crate::ddns::guard::Identity;
use crate::ddns::plan::{FwdAdd, name};
use hickory_proto::serialize::binary::BinEncodable;

fn key(alg: KeyAlgorithm) -> TsigKey {
    TsigKey { name: name("ddns-key").unwrap(), algorithm: alg, secret: b"0123456789abcdef".to_vec() }
}

fn zones(k: Option<TsigKey>) -> Zones {
    let srv = vec![SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 53), 53)];
    Zones(vec![
        ZoneServer { zone: name("example.test").unwrap(), servers: srv.clone(), key: k.clone() },
        ZoneServer { zone: name("18.198.in-addr.arpa").unwrap(), servers: srv, key: k },
    ])
}

fn add_job(style: Style) -> AddJob {
    let fwd = name("laptop.example.test").unwrap();
    let guard =
        Guard::compute(style, Identity::Hardware { htype: 1, addr: &[2, 0, 0, 0, 0, 1] }, &fwd.to_bytes().unwrap());
    AddJob {
        ip: Ipv4Addr::new(198, 18, 0, 10),
        fwd: Some(FwdAdd { name: fwd.clone(), guard }),
        ptr_target: Some(fwd),
        rev_name: name("10.0.18.198.in-addr.arpa").unwrap(),
        ttl: 300,
        conflict_detection: true,
        guard_id_must_match: true,
        static_lease: false,
    }
}

/// An answer to `req` with `rcode`, signed as a server signs it (RFC 8945 4.3) when a
/// key is given.
fn answer(req: &[u8], rcode: ResponseCode, k: Option<&TsigKey>, req_mac: &[u8]) -> Vec<u8> {
    let q = Message::from_vec(req).unwrap();
    let mut m = Message::new(q.metadata.id, MessageType::Response, OpCode::Update);
    m.metadata.response_code = rcode;
    m.add_queries(q.queries.clone());
    let Some(k) = k else { return m.to_vec().unwrap() };
    let stub = TSIG::new(algorithm(k.algorithm), 1_000, FUDGE, Vec::new(), q.metadata.id, None, Vec::new());
    let mut tbs = Vec::new();
    let mut e = BinEncoder::new(&mut tbs);
    e.emit_u16(req_mac.len() as u16).unwrap();
    e.emit_vec(req_mac).unwrap();
    e.emit_vec(&m.to_vec().unwrap()).unwrap();
    stub.emit_tsig_for_mac(&mut e, &k.name).unwrap();
    let sig = mac(k.algorithm, &k.secret, &tbs).unwrap();
    m.signature = Some(Box::new(make_tsig_record(k.name.clone(), stub.set_mac(sig))));
    m.to_vec().unwrap()
}

/// The TSIG of a decoded message (hickory-proto without its DNSSEC feature leaves it
/// among the additional records).
fn tsig_of(m: &Message) -> Option<(Name, TSIG)> {
    m.additionals.iter().rev().find_map(|r| match &r.data {
        RData::TSIG(t) => Some((r.name.clone(), t.clone())),
        _ => None,
    })
}

fn last_mac(req: &[u8]) -> Vec<u8> {
    Message::from_vec(req).ok().and_then(|m| tsig_of(&m)).map(|(_, t)| t.mac).unwrap_or_default()
}

#[test]
fn first_add_asserts_the_name_is_free_and_adds_a_and_txt() {
    let z = zones(None);
    let mut ex = Exchange::new(Job::Add(add_job(Style::Interim)), &z);
    assert_eq!(ex.step(), Some(Step::FwdAdd1));
    let req = ex.request(&z, 7, 1_000).unwrap();
    let d = describe(&req);
    assert!(d.contains("prereq [laptop.example.test. NONE ANY"), "{d}");
    assert!(d.contains("laptop.example.test. IN A 198.18.0.10"), "{d}");
    assert!(d.contains("laptop.example.test. IN TXT"), "{d}");
    let m = Message::from_vec(&req).unwrap();
    assert_eq!(m.queries[0].name().to_ascii(), "example.test.");
    assert_eq!(m.metadata.op_code, OpCode::Update);
}

#[test]
fn full_add_sets_what_dhcpd_keeps() {
    let z = zones(None);
    let job = add_job(Style::Standard);
    let mut ex = Exchange::new(Job::Add(job.clone()), &z);
    let req = ex.request(&z, 1, 0).unwrap();
    assert_eq!(ex.handle_answer(&z, &answer(&req, ResponseCode::NoError, None, &[])), Ok(Progress::Next));
    assert_eq!(ex.step(), Some(Step::PtrAdd));
    let req = ex.request(&z, 2, 0).unwrap();
    let d = describe(&req);
    assert!(d.contains("10.0.18.198.in-addr.arpa. ANY PTR"), "{d}");
    assert!(d.contains("IN PTR laptop.example.test."), "{d}");
    let Ok(Progress::Finished(o)) = ex.handle_answer(&z, &answer(&req, ResponseCode::NoError, None, &[])) else {
        panic!("not finished")
    };
    let names: Vec<&str> = o.vars.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, vec![vars::FWD_NAME, vars::DHCID, vars::REV_NAME]);
    assert_eq!(o.done, 2);
    assert!(!o.conflict && o.failed.is_empty());
}

#[test]
fn a_name_in_use_by_another_client_is_a_conflict_and_gets_no_ptr() {
    let z = zones(None);
    let mut ex = Exchange::new(Job::Add(add_job(Style::Interim)), &z);
    let req = ex.request(&z, 1, 0).unwrap();
    assert_eq!(ex.handle_answer(&z, &answer(&req, ResponseCode::YXDomain, None, &[])), Ok(Progress::Next));
    assert_eq!(ex.step(), Some(Step::FwdAdd2));
    let req = ex.request(&z, 2, 0).unwrap();
    let d = describe(&req);
    // Our guard must be there, then the A records are replaced.
    assert!(d.contains("prereq [laptop.example.test. IN TXT"), "{d}");
    assert!(d.contains("laptop.example.test. ANY A"), "{d}");
    let Ok(Progress::Finished(o)) = ex.handle_answer(&z, &answer(&req, ResponseCode::NXRRSet, None, &[])) else {
        panic!("not finished")
    };
    assert!(o.conflict);
    assert!(o.vars.is_empty());
}

#[test]
fn without_conflict_detection_the_second_add_overrides_the_guard() {
    let z = zones(None);
    let mut job = add_job(Style::Interim);
    job.conflict_detection = false;
    let mut ex = Exchange::new(Job::Add(job), &z);
    let req = ex.request(&z, 1, 0).unwrap();
    ex.handle_answer(&z, &answer(&req, ResponseCode::YXDomain, None, &[])).unwrap();
    let d = describe(&ex.request(&z, 2, 0).unwrap());
    assert!(d.starts_with("prereq []"), "{d}");
    assert!(d.contains("laptop.example.test. ANY TXT"), "{d}");
}

#[test]
fn removal_deletes_our_a_then_the_guard_then_the_ptr() {
    let z = zones(None);
    let a = add_job(Style::Interim);
    let f = a.fwd.clone().unwrap();
    let r = RemoveJob {
        ip: a.ip,
        fwd: Some((f.name, f.guard)),
        rev_name: Some(a.rev_name.clone()),
        client_fqdn: false,
        conflict_detection: true,
        guard_id_must_match: true,
    };
    let mut ex = Exchange::new(Job::Remove(r), &z);
    let mut steps = Vec::new();
    let mut id = 0;
    let outcome = loop {
        id += 1;
        steps.push(ex.step().unwrap());
        let req = ex.request(&z, id, 0).unwrap();
        if steps.len() == 1 {
            let d = describe(&req);
            assert!(d.contains("laptop.example.test. NONE A 198.18.0.10"), "{d}");
        }
        match ex.handle_answer(&z, &answer(&req, ResponseCode::NoError, None, &[])).unwrap() {
            Progress::Next => {}
            Progress::Retry => panic!("NOERROR is no reason to retry"),
            Progress::Finished(o) => break o,
        }
    };
    assert_eq!(steps, vec![Step::FwdRem1, Step::FwdRem2, Step::PtrRem]);
    assert!(outcome.vars.iter().all(|(_, v)| v.is_none()));
    assert!(outcome.vars.iter().any(|(n, _)| *n == vars::REV_NAME));
}

#[test]
fn a_name_outside_the_declared_zones_fails_without_sending() {
    let z = Zones(vec![]);
    let ex = Exchange::new(Job::Add(add_job(Style::Interim)), &z);
    assert!(ex.is_finished());
    let o = ex.finish();
    assert_eq!(o.failed.len(), 2);
    assert!(o.failed[0].1.contains("no zone declared"));
}

#[test]
fn tsig_signed_requests_and_answers_check_with_every_algorithm() {
    for alg in [
        KeyAlgorithm::HmacMd5,
        KeyAlgorithm::HmacSha1,
        KeyAlgorithm::HmacSha224,
        KeyAlgorithm::HmacSha256,
        KeyAlgorithm::HmacSha384,
        KeyAlgorithm::HmacSha512,
    ] {
        let k = key(alg);
        let z = zones(Some(k.clone()));
        let mut ex = Exchange::new(Job::Add(add_job(Style::Interim)), &z);
        let req = ex.request(&z, 9, 1_000).unwrap();
        let m = Message::from_vec(&req).unwrap();
        let (signer, sig) = tsig_of(&m).expect("signed");
        assert_eq!(signer, k.name);
        assert_eq!(sig.algorithm, algorithm(alg));
        // The request's MAC is over the message as sent without its TSIG.
        let mut unsigned = m.clone();
        unsigned.additionals.retain(|r| r.record_type() != RecordType::TSIG);
        let stub = sig.clone().set_mac(Vec::new());
        let tbs = message_tbs(&unsigned, &stub, &k.name).unwrap();
        assert_eq!(mac(alg, &k.secret, &tbs).unwrap(), sig.mac);
        // A correctly signed answer is taken, a tampered one and a wrong key refused.
        let good = answer(&req, ResponseCode::NoError, Some(&k), &last_mac(&req));
        let mut tampered = good.clone();
        if let Some(b) = tampered.get_mut(3) {
            *b ^= 0x01;
        }
        assert!(ex.handle_answer(&z, &tampered).is_err());
        let other = TsigKey { secret: b"another secret!!".to_vec(), ..k.clone() };
        let forged = answer(&req, ResponseCode::NoError, Some(&other), &last_mac(&req));
        assert!(matches!(ex.handle_answer(&z, &forged), Err(DdnsError::BadTsig(_))));
        assert_eq!(ex.handle_answer(&z, &good), Ok(Progress::Next), "{alg:?}");
    }
}

#[test]
fn unsigned_answer_to_a_signed_request_is_refused_unless_notauth() {
    let k = key(KeyAlgorithm::HmacSha256);
    let z = zones(Some(k));
    let mut ex = Exchange::new(Job::Add(add_job(Style::Interim)), &z);
    let req = ex.request(&z, 3, 0).unwrap();
    assert!(matches!(
        ex.handle_answer(&z, &answer(&req, ResponseCode::NoError, None, &[])),
        Err(DdnsError::BadTsig(_))
    ));
    // BIND's answer to a request signed with a key it does not know: NOTAUTH, unsigned.
    let Ok(Progress::Finished(o)) = ex.handle_answer(&z, &answer(&req, ResponseCode::NotAuth, None, &[])) else {
        panic!("NOTAUTH ends the job")
    };
    assert_eq!(o.failed.len(), 1);
    assert!(o.failed[0].1.contains("Not authorized"), "{:?}", o.failed);
}

#[test]
fn garbage_answers_are_errors_not_panics() {
    let z = zones(Some(key(KeyAlgorithm::HmacMd5)));
    let mut ex = Exchange::new(Job::Add(add_job(Style::Interim)), &z);
    let req = ex.request(&z, 5, 0).unwrap();
    let good = answer(&req, ResponseCode::NoError, Some(&key(KeyAlgorithm::HmacMd5)), &last_mac(&req));
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for n in 0..2000usize {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let mut b = good.clone();
        let len = b.len();
        b[(rng as usize) % len] = (rng >> 24) as u8;
        b.truncate(len - (n % 7));
        let _ = ex.handle_answer(&z, &b);
    }
    let _ = ex.handle_answer(&z, &[]);
    let _ = ex.handle_answer(&z, &[0u8; 11]);
}

#[test]
fn servfail_retries_the_same_step() {
    let z = zones(None);
    let mut ex = Exchange::new(Job::Add(add_job(Style::Interim)), &z);
    let req = ex.request(&z, 1, 0).unwrap();
    assert_eq!(ex.handle_answer(&z, &answer(&req, ResponseCode::ServFail, None, &[])), Ok(Progress::Retry));
    assert_eq!(ex.step(), Some(Step::FwdAdd1));
    let req = ex.request(&z, 2, 0).unwrap();
    assert_eq!(ex.handle_answer(&z, &answer(&req, ResponseCode::NoError, None, &[])), Ok(Progress::Next));
    assert_eq!(ex.step(), Some(Step::PtrAdd));
}
