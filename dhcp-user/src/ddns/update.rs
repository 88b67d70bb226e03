//! RFC 2136 update messages as dhcpd sends them (common/dns.c), TSIG (RFC 8945) signing
//! and checking, and [`Exchange`]: the sans-IO sequence of updates one [`Job`] takes,
//! driven by the answers (RFC 4703's conflict rules).
//!
//! Messages are built and read with hickory-proto; the TSIG MAC is computed with the
//! RustCrypto HMACs so that every algorithm dhcpd accepts works (hmac-md5 included).

use super::guard::Guard;
use super::plan::{AddJob, Job, RemoveJob};
use super::{DdnsError, vars};
use dhcp_config::KeyAlgorithm;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode, UpdateMessage};
use hickory_proto::rr::rdata::tsig::{TSIG, TsigAlgorithm, make_tsig_record, message_tbs};
use hickory_proto::rr::rdata::{A, NULL, PTR, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncoder};
use hmac::{Mac, SimpleHmac};
use std::net::{Ipv4Addr, SocketAddrV4};

/// DHCID's record type (RFC 4701); hickory-proto has no typed RDATA for it.
const DHCID: RecordType = RecordType::Unknown(49);
/// The TSIG fudge dhcpd (through BIND's libraries) uses: 300 s.
const FUDGE: u16 = 300;

/// A TSIG key (`key NAME { algorithm ...; secret ...; }`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsigKey {
    pub name: Name,
    pub algorithm: KeyAlgorithm,
    pub secret: Vec<u8>,
}

/// A zone to update (`zone NAME { primary ...; secondary ...; key ...; }`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneServer {
    pub zone: Name,
    /// Primary, then secondary addresses, in the order tried.
    pub servers: Vec<SocketAddrV4>,
    pub key: Option<TsigKey>,
}

/// The declared zones; a name goes to the longest zone that contains it (dhcpd's cache
/// of `zone` declarations; dhcpd would otherwise look the zone up in DNS, which xdhcpd
/// does not: a name outside every declared zone is not updated, and counted as failed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Zones(pub Vec<ZoneServer>);

impl Zones {
    pub fn find(&self, name: &Name) -> Option<&ZoneServer> {
        self.0.iter().filter(|z| z.zone.zone_of(name)).max_by_key(|z| z.zone.num_labels())
    }

    /// The zones of a configuration (host names as primaries must have been resolved:
    /// those left unresolved are skipped).
    pub fn from_config(cfg: &dhcp_config::Config) -> Result<Zones, DdnsError> {
        let mut out = Vec::new();
        for z in &cfg.zones {
            let zone = super::plan::name(&z.name)?;
            let servers = z
                .primary
                .iter()
                .chain(&z.secondary)
                .filter_map(|a| match a {
                    dhcp_config::HostAddr::Ip(ip) => Some(SocketAddrV4::new(*ip, 53)),
                    dhcp_config::HostAddr::Name(_) => None,
                })
                .collect();
            let key = match &z.key {
                Some(k) => {
                    let key = cfg.keys.iter().find(|x| x.name.trim_end_matches('.') == k.trim_end_matches('.'));
                    let key =
                        key.ok_or_else(|| DdnsError::BadName { name: k.clone(), reason: "no such key".into() })?;
                    Some(TsigKey {
                        name: super::plan::name(&key.name)?,
                        algorithm: key.algorithm,
                        secret: key.secret.clone(),
                    })
                }
                None => None,
            };
            out.push(ZoneServer { zone, servers, key });
        }
        Ok(Zones(out))
    }
}

/// One update message of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// Name not in use → add A and guard.
    FwdAdd1,
    /// Name in use: guard is ours → replace A (no prerequisite without conflict detection).
    FwdAdd2,
    /// Delete the address's PTR records, add ours.
    PtrAdd,
    /// Guard is ours → delete our A record.
    FwdRem1,
    /// No A or AAAA left → delete the guard.
    FwdRem2,
    /// Delete the address's PTR records.
    PtrRem,
}

/// How a job ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Variables to set (`Some`) or unset (`None`) on the lease, as dhcpd does.
    pub vars: Vec<(&'static str, Option<Vec<u8>>)>,
    /// The name belonged to another client (RFC 4703): not updated.
    pub conflict: bool,
    /// Parts not done: (step, why). Final: not worth retrying.
    pub failed: Vec<(Step, String)>,
    /// Updates answered NOERROR.
    pub done: u32,
}

/// What an answer led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// Send [`Exchange::request`] again, for the next step.
    Next,
    /// The server could not do it now (SERVFAIL): send the same step again later.
    Retry,
    Finished(Outcome),
}

/// The updates of one job, one at a time. Sans-IO: the caller sends
/// [`Exchange::request`]'s bytes to its server and hands the answer to
/// [`Exchange::handle_answer`]; on a timeout it retries (same step, new id).
#[derive(Debug)]
pub struct Exchange {
    steps: Vec<(Step, Part)>,
    at: usize,
    outcome: Outcome,
    /// (id, MAC) of the request in flight, to match and check its answer.
    sent: Option<(u16, Vec<u8>)>,
    key: Option<TsigKey>,
}

/// What a step works on.
#[derive(Clone, Debug)]
enum Part {
    Add(AddJob),
    Remove(RemoveJob),
}

impl Exchange {
    /// The steps of `job`, against `zones`. Parts without a zone are recorded as
    /// failed at once.
    pub fn new(job: Job, zones: &Zones) -> Exchange {
        let mut steps = Vec::new();
        let mut outcome = Outcome::default();
        let mut removal = |r: RemoveJob, steps: &mut Vec<(Step, Part)>| {
            if r.fwd.is_some() {
                steps.push((Step::FwdRem1, Part::Remove(r.clone())));
            } else if r.client_fqdn {
                outcome.vars.push((vars::CLIENT_FQDN, None));
            }
            if r.rev_name.is_some() {
                steps.push((Step::PtrRem, Part::Remove(r)));
            }
        };
        match job {
            Job::Add(a) => Self::adding(a, &mut steps),
            Job::Remove(r) => removal(r, &mut steps),
            Job::Replace(r, a) => {
                removal(r, &mut steps);
                Self::adding(a, &mut steps);
            }
        }
        let mut ex = Exchange { steps, at: 0, outcome, sent: None, key: None };
        ex.skip_zoneless(zones);
        ex
    }

    fn adding(a: AddJob, steps: &mut Vec<(Step, Part)>) {
        if a.fwd.is_some() {
            steps.push((Step::FwdAdd1, Part::Add(a.clone())));
        }
        if a.ptr_target.is_some() {
            steps.push((Step::PtrAdd, Part::Add(a)));
        }
    }

    /// The zone of the current step, skipping (as failed) steps without one.
    fn skip_zoneless(&mut self, zones: &Zones) {
        while let Some((step, part)) = self.steps.get(self.at) {
            let name = step_name(*step, part);
            match name.as_ref().and_then(|n| zones.find(n)) {
                Some(z) if !z.servers.is_empty() => return,
                Some(z) => {
                    self.outcome.failed.push((*step, DdnsError::NoServer(z.zone.to_ascii()).to_string()));
                }
                None => {
                    let n = name.map(|n| n.to_ascii()).unwrap_or_default();
                    self.outcome.failed.push((*step, DdnsError::NoZone(n).to_string()));
                }
            }
            self.at += 1;
        }
    }

    /// The step in flight, if any.
    pub fn step(&self) -> Option<Step> {
        self.steps.get(self.at).map(|(s, _)| *s)
    }

    /// The current step's zone (with its servers and key); `None` once finished.
    pub fn zone<'z>(&self, zones: &'z Zones) -> Option<&'z ZoneServer> {
        let (step, part) = self.steps.get(self.at)?;
        zones.find(&step_name(*step, part)?)
    }

    /// Whether every step is done (then [`Exchange::finish`] gives the outcome).
    pub fn is_finished(&self) -> bool {
        self.at >= self.steps.len()
    }

    pub fn finish(self) -> Outcome {
        self.outcome
    }

    /// The current step's message, signed with the zone's key, with DNS id `id` and
    /// TSIG time `now` (Unix seconds).
    pub fn request(&mut self, zones: &Zones, id: u16, now: u64) -> Result<Vec<u8>, DdnsError> {
        let (step, part) = self.steps.get(self.at).ok_or_else(|| DdnsError::Encode("no step left".into()))?;
        let name = step_name(*step, part).ok_or_else(|| DdnsError::Encode("step without a name".into()))?;
        let zone = zones.find(&name).ok_or_else(|| DdnsError::NoZone(name.to_ascii()))?;
        let mut m = build(*step, part, &zone.zone)?;
        m.metadata.id = id;
        self.key = zone.key.clone();
        let (bytes, mac) = match &zone.key {
            Some(k) => sign(&mut m, k, now)?,
            None => (m.to_vec().map_err(|e| DdnsError::Encode(e.to_string()))?, Vec::new()),
        };
        self.sent = Some((id, mac));
        Ok(bytes)
    }

    /// Reads the answer to the request in flight. `Err`: not an acceptable answer to it
    /// (wrong id, malformed, bad TSIG): the caller drops it and keeps waiting or retries.
    pub fn handle_answer(&mut self, zones: &Zones, bytes: &[u8]) -> Result<Progress, DdnsError> {
        let (id, mac) = self.sent.clone().ok_or_else(|| DdnsError::BadAnswer("no request in flight".into()))?;
        let (rcode, refusal) = match check_answer(bytes, id, self.key.as_ref(), &mac) {
            Ok(rcode) => (rcode, None),
            Err(e @ DdnsError::TsigRefused(_)) => (ResponseCode::NotAuth, Some(e.to_string())),
            Err(e) => return Err(e),
        };
        self.sent = None;
        if rcode == ResponseCode::ServFail {
            return Ok(Progress::Retry);
        }
        let Some((step, part)) = self.steps.get(self.at).cloned() else {
            return Ok(Progress::Finished(std::mem::take(&mut self.outcome)));
        };
        let o = &mut self.outcome;
        let mut next = self.at + 1;
        match (step, rcode) {
            (Step::FwdAdd1 | Step::FwdAdd2, ResponseCode::NoError) => {
                o.done += 1;
                if let Part::Add(AddJob { fwd: Some(f), .. }) = &part {
                    // As dhcpd writes it: `set ddns-fwd-name = "laptop.example.test";`
                    // (the reverse name keeps its final dot, as in dhcpd's files).
                    let fwd = f.name.to_ascii();
                    o.vars.push((vars::FWD_NAME, Some(fwd.trim_end_matches('.').as_bytes().to_vec())));
                    let (n, v) = f.guard.lease_var();
                    o.vars.push((n, Some(v)));
                }
            }
            // The name is in use: try again as its owner (RFC 4703 5.3.1).
            (Step::FwdAdd1, ResponseCode::YXDomain) => {
                self.steps.insert(self.at + 1, (Step::FwdAdd2, part.clone()));
            }
            // Someone else's name (no guard, or another client's): leave it, and the PTR
            // too (dhcpd does the reverse update only after the forward one).
            (Step::FwdAdd2, ResponseCode::NXRRSet | ResponseCode::NXDomain | ResponseCode::YXRRSet) => {
                o.conflict = true;
                while self.steps.get(next).is_some_and(|(s, _)| *s == Step::PtrAdd) {
                    next += 1;
                }
            }
            (Step::PtrAdd, ResponseCode::NoError) => {
                o.done += 1;
                if let Part::Add(a) = &part {
                    o.vars.push((vars::REV_NAME, Some(a.rev_name.to_ascii().into_bytes())));
                    if let (None, Some(t)) = (&a.fwd, &a.ptr_target) {
                        o.vars.push((vars::CLIENT_FQDN, Some(t.to_ascii().into_bytes())));
                    }
                }
            }
            (Step::FwdRem1, ResponseCode::NoError) => {
                o.done += 1;
                self.steps.insert(self.at + 1, (Step::FwdRem2, part.clone()));
                o.vars.push((vars::FWD_NAME, None));
                o.vars.push((vars::TXT, None));
                o.vars.push((vars::DHCID, None));
            }
            // Not ours any more (or already gone): nothing to remove, forget it.
            (Step::FwdRem1, ResponseCode::NXRRSet | ResponseCode::NXDomain | ResponseCode::YXRRSet) => {
                o.vars.push((vars::FWD_NAME, None));
                o.vars.push((vars::TXT, None));
                o.vars.push((vars::DHCID, None));
            }
            // Other addresses are left on the name: the guard stays (RFC 4703 5.5).
            (Step::FwdRem2, ResponseCode::NoError) => o.done += 1,
            (Step::FwdRem2, ResponseCode::YXRRSet | ResponseCode::NXRRSet | ResponseCode::NXDomain) => {}
            (Step::PtrRem, ResponseCode::NoError) => {
                o.done += 1;
                o.vars.push((vars::REV_NAME, None));
                if let Part::Remove(r) = &part
                    && r.client_fqdn
                {
                    o.vars.push((vars::CLIENT_FQDN, None));
                }
            }
            (s, rc) => {
                o.failed.push((s, refusal.unwrap_or_else(|| format!("server answered {rc}"))));
                // dhcpd does the reverse update only after a forward one that worked.
                if matches!(s, Step::FwdAdd1 | Step::FwdAdd2) {
                    while self.steps.get(next).is_some_and(|(s, _)| *s == Step::PtrAdd) {
                        next += 1;
                    }
                }
            }
        }
        self.at = next;
        self.skip_zoneless(zones);
        Ok(if self.is_finished() { Progress::Finished(std::mem::take(&mut self.outcome)) } else { Progress::Next })
    }
}

/// The name a step updates (its zone is the zone of this name).
fn step_name(step: Step, part: &Part) -> Option<Name> {
    match (step, part) {
        (Step::FwdAdd1 | Step::FwdAdd2, Part::Add(a)) => a.fwd.as_ref().map(|f| f.name.clone()),
        (Step::PtrAdd, Part::Add(a)) => Some(a.rev_name.clone()),
        (Step::FwdRem1 | Step::FwdRem2, Part::Remove(r)) => r.fwd.as_ref().map(|f| f.0.clone()),
        (Step::PtrRem, Part::Remove(r)) => r.rev_name.clone(),
        _ => None,
    }
}

fn guard_record(name: &Name, guard: &Guard, ttl: u32) -> Record {
    match guard {
        Guard::Txt(t) => Record::from_rdata(name.clone(), ttl, RData::TXT(TXT::new(vec![t.clone()]))),
        Guard::Dhcid(d) => {
            Record::from_rdata(name.clone(), ttl, RData::Unknown { code: DHCID, rdata: NULL::with(d.clone()) })
        }
    }
}

fn guard_type(guard: &Guard) -> RecordType {
    match guard {
        Guard::Txt(_) => RecordType::TXT,
        Guard::Dhcid(_) => DHCID,
    }
}

/// An RRset-level record without RDATA (`class` NONE: does not exist; ANY: exists, or
/// delete the RRset).
fn empty(name: &Name, class: DNSClass, ty: RecordType) -> Record {
    let mut r = Record::update0(name.clone(), 0, ty);
    r.dns_class = class;
    r
}

/// The guard prerequisite of RFC 4703: our guard exists (value-dependent), or with
/// `ddns-guard-id-must-match off` any guard of our type exists.
fn guard_prereq(name: &Name, guard: &Guard, must_match: bool) -> Record {
    if must_match { guard_record(name, guard, 0) } else { empty(name, DNSClass::ANY, guard_type(guard)) }
}

/// The update message of a step, as dhcpd builds it.
fn build(step: Step, part: &Part, zone: &Name) -> Result<Message, DdnsError> {
    let mut m = Message::new(0, MessageType::Query, OpCode::Update);
    let mut q = Query::new();
    q.set_name(zone.clone()).set_query_class(DNSClass::IN).set_query_type(RecordType::SOA);
    m.add_zone(q);
    let bad = || DdnsError::Encode(format!("{step:?} has nothing to update"));
    match (step, part) {
        (Step::FwdAdd1, Part::Add(a)) => {
            let f = a.fwd.as_ref().ok_or_else(bad)?;
            m.add_pre_requisite(empty(&f.name, DNSClass::NONE, RecordType::ANY));
            m.add_update(Record::from_rdata(f.name.clone(), a.ttl, RData::A(A(a.ip))));
            m.add_update(guard_record(&f.name, &f.guard, a.ttl));
        }
        (Step::FwdAdd2, Part::Add(a)) => {
            let f = a.fwd.as_ref().ok_or_else(bad)?;
            if a.conflict_detection {
                m.add_pre_requisite(guard_prereq(&f.name, &f.guard, a.guard_id_must_match));
            } else {
                m.add_update(empty(&f.name, DNSClass::ANY, guard_type(&f.guard)));
                m.add_update(guard_record(&f.name, &f.guard, a.ttl));
            }
            m.add_update(empty(&f.name, DNSClass::ANY, RecordType::A));
            m.add_update(Record::from_rdata(f.name.clone(), a.ttl, RData::A(A(a.ip))));
        }
        (Step::PtrAdd, Part::Add(a)) => {
            let target = a.ptr_target.clone().ok_or_else(bad)?;
            m.add_update(empty(&a.rev_name, DNSClass::ANY, RecordType::PTR));
            m.add_update(Record::from_rdata(a.rev_name.clone(), a.ttl, RData::PTR(PTR(target))));
        }
        (Step::FwdRem1, Part::Remove(r)) => {
            let (name, guard) = r.fwd.as_ref().ok_or_else(bad)?;
            if r.conflict_detection {
                m.add_pre_requisite(guard_prereq(name, guard, r.guard_id_must_match));
            }
            let mut a = Record::from_rdata(name.clone(), 0, RData::A(A(r.ip)));
            a.dns_class = DNSClass::NONE;
            m.add_update(a);
        }
        (Step::FwdRem2, Part::Remove(r)) => {
            let (name, guard) = r.fwd.as_ref().ok_or_else(bad)?;
            m.add_pre_requisite(empty(name, DNSClass::NONE, RecordType::A));
            m.add_pre_requisite(empty(name, DNSClass::NONE, RecordType::AAAA));
            if r.guard_id_must_match {
                let mut g = guard_record(name, guard, 0);
                g.dns_class = DNSClass::NONE;
                m.add_update(g);
            } else {
                m.add_update(empty(name, DNSClass::ANY, guard_type(guard)));
            }
        }
        (Step::PtrRem, Part::Remove(r)) => {
            let rev = r.rev_name.as_ref().ok_or_else(bad)?;
            m.add_update(empty(rev, DNSClass::ANY, RecordType::PTR));
        }
        _ => return Err(bad()),
    }
    Ok(m)
}

fn algorithm(a: KeyAlgorithm) -> TsigAlgorithm {
    match a {
        KeyAlgorithm::HmacMd5 => TsigAlgorithm::HmacMd5,
        KeyAlgorithm::HmacSha1 => TsigAlgorithm::HmacSha1,
        KeyAlgorithm::HmacSha224 => TsigAlgorithm::HmacSha224,
        KeyAlgorithm::HmacSha256 => TsigAlgorithm::HmacSha256,
        KeyAlgorithm::HmacSha384 => TsigAlgorithm::HmacSha384,
        KeyAlgorithm::HmacSha512 => TsigAlgorithm::HmacSha512,
    }
}

fn hmac_of<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Result<Vec<u8>, DdnsError> {
    let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key).map_err(|e| DdnsError::Encode(e.to_string()))?;
    m.update(data);
    Ok(m.finalize().into_bytes().to_vec())
}

/// HMAC of `data` with the key's algorithm.
pub fn mac(alg: KeyAlgorithm, key: &[u8], data: &[u8]) -> Result<Vec<u8>, DdnsError> {
    match alg {
        KeyAlgorithm::HmacMd5 => hmac_of::<SimpleHmac<md5::Md5>>(key, data),
        KeyAlgorithm::HmacSha1 => hmac_of::<SimpleHmac<sha1::Sha1>>(key, data),
        KeyAlgorithm::HmacSha224 => hmac_of::<SimpleHmac<sha2::Sha224>>(key, data),
        KeyAlgorithm::HmacSha256 => hmac_of::<SimpleHmac<sha2::Sha256>>(key, data),
        KeyAlgorithm::HmacSha384 => hmac_of::<SimpleHmac<sha2::Sha384>>(key, data),
        KeyAlgorithm::HmacSha512 => hmac_of::<SimpleHmac<sha2::Sha512>>(key, data),
    }
}

/// Signs `m` (RFC 8945 4.3): returns the wire bytes and the request MAC.
fn sign(m: &mut Message, key: &TsigKey, now: u64) -> Result<(Vec<u8>, Vec<u8>), DdnsError> {
    let enc = |e: hickory_proto::ProtoError| DdnsError::Encode(e.to_string());
    let stub = TSIG::new(algorithm(key.algorithm), now, FUDGE, Vec::new(), m.metadata.id, None, Vec::new());
    let tbs = message_tbs(&*m, &stub, &key.name).map_err(enc)?;
    let mac = mac(key.algorithm, &key.secret, &tbs)?;
    m.signature = Some(Box::new(make_tsig_record(key.name.clone(), stub.set_mac(mac.clone()))));
    Ok((m.to_vec().map_err(enc)?, mac))
}

/// Checks an answer: the id, a response to an update, and (with a key) its TSIG over
/// the request's MAC (RFC 8945 5.3). Returns the response code.
fn check_answer(bytes: &[u8], id: u16, key: Option<&TsigKey>, req_mac: &[u8]) -> Result<ResponseCode, DdnsError> {
    let bad = |e: String| DdnsError::BadAnswer(e);
    let msg = Message::from_vec(bytes).map_err(|e| bad(e.to_string()))?;
    if msg.metadata.id != id || msg.metadata.message_type != MessageType::Response {
        return Err(bad(format!("not the answer to request {id}")));
    }
    let rcode = msg.metadata.response_code;
    let Some(key) = key else { return Ok(rcode) };
    // Where the TSIG record starts: after every record but the last additional.
    let mut d = BinDecoder::new(bytes);
    let header = hickory_proto::op::Header::read(&mut d).map_err(|e| bad(e.to_string()))?;
    let c = header.counts;
    for _ in 0..c.queries {
        Query::read(&mut d).map_err(|e| bad(e.to_string()))?;
    }
    let before_last = usize::from(c.answers) + usize::from(c.authorities) + usize::from(c.additionals);
    if c.additionals == 0 {
        // BIND answers a request it could not verify (BADKEY, BADSIG) without a TSIG
        // of its own, with NOTAUTH: report what it said.
        return if rcode == ResponseCode::NotAuth {
            Ok(rcode)
        } else {
            Err(DdnsError::BadTsig("the answer is not signed".into()))
        };
    }
    for _ in 0..before_last - 1 {
        Record::read(&mut d).map_err(|e| bad(e.to_string()))?;
    }
    let at = d.index();
    let rec = Record::read(&mut d).map_err(|e| bad(e.to_string()))?;
    let RData::TSIG(tsig) = &rec.data else {
        return Err(DdnsError::BadTsig("the last record is not a TSIG".into()));
    };
    if rec.name != key.name {
        return Err(DdnsError::BadTsig(format!("signed with key {}", rec.name)));
    }
    // BADSIG and BADKEY come back with an empty MAC (the server could not sign with a key
    // it could not verify, RFC 8945 5.3.2): the server's word on our signature. BIND does
    // the same with an unsigned NOTAUTH (above).
    if let Some(err) = tsig.error
        && tsig.mac.is_empty()
    {
        return Err(DdnsError::TsigRefused(format!("{err:?} ({rcode})")));
    }
    let mut tbv = Vec::with_capacity(bytes.len() + req_mac.len() + 64);
    let mut e = BinEncoder::new(&mut tbv);
    let enc = |x: hickory_proto::ProtoError| DdnsError::BadTsig(x.to_string());
    e.emit_u16(req_mac.len() as u16).map_err(enc)?;
    e.emit_vec(req_mac).map_err(enc)?;
    let mut body = bytes.get(..at).ok_or_else(|| bad("short".into()))?.to_vec();
    // The MAC covers the message without its TSIG: one additional record less, and the
    // original id (RFC 8945 4.3.1).
    if let Some(ar) = body.get_mut(10..12) {
        ar.copy_from_slice(&(c.additionals - 1).to_be_bytes());
    }
    if let Some(idb) = body.get_mut(0..2) {
        idb.copy_from_slice(&tsig.oid.to_be_bytes());
    }
    e.emit_vec(&body).map_err(enc)?;
    tsig.emit_tsig_for_mac(&mut e, &key.name).map_err(enc)?;
    let want = mac(key.algorithm, &key.secret, &tbv)?;
    if want.len() != tsig.mac.len() || !constant_eq(&want, &tsig.mac) {
        return Err(DdnsError::BadTsig("MAC mismatch".into()));
    }
    // A signed TSIG error (BADTIME): the server's word too.
    if let Some(err) = tsig.error {
        return Err(DdnsError::TsigRefused(format!("{err:?} ({rcode})")));
    }
    Ok(rcode)
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A readable form of an update's records (logs, tests).
pub fn describe(bytes: &[u8]) -> String {
    match Message::from_vec(bytes) {
        Ok(m) => {
            let recs = |rs: &[Record]| {
                rs.iter()
                    .map(|r| format!("{} {} {} {}", r.name, r.dns_class, r.record_type(), r.data))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            format!("prereq [{}] update [{}]", recs(&m.answers), recs(&m.authorities))
        }
        Err(e) => format!("undecodable: {e}"),
    }
}

/// The address an update is sent from when `ddns-local-address4` is not set.
pub const ANY_LOCAL: Ipv4Addr = Ipv4Addr::UNSPECIFIED;

#[cfg(test)]
mod tests;
