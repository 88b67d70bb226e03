//! What to update for a lease event: the names dhcpd 4.4 would choose (server/ddns.c,
//! `ddns_updates`) and the guard record, or what to remove when a binding ends.

use super::guard::{Guard, Identity};
use super::{DdnsError, Style, vars};
use dhcp_config::{ClientUpdates, DdnsParams, Vars};
use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::BinEncodable;
use std::net::Ipv4Addr;

/// dhcpd's `MAX_DEFAULT_DDNS_TTL` (and `DEFAULT_DDNS_TTL`): the cap of the default TTL.
pub const MAX_DEFAULT_TTL: u32 = 3600;

/// The client FQDN option (81, RFC 4702) as a client sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientFqdn {
    /// S: the client asks the server to update the A record.
    pub server_update: bool,
    /// N: the server should do no update at all.
    pub no_update: bool,
    /// E: the name was in DNS wire form.
    pub encoded: bool,
    /// The name as text, without a trailing dot (may be a single label).
    pub name: String,
    /// The name as dhcpd keeps it (`fqdn.fqdn`) and echoes it in its reply: the labels of
    /// an encoded name joined by dots; a text name as sent, less one terminating NUL.
    pub fqdn_text: String,
}

impl ClientFqdn {
    /// Parses option 81's payload; `None` when it is too short or the name is not text
    /// a DNS name can hold (a malformed option is ignored, as dhcpd ignores it).
    pub fn parse(payload: &[u8]) -> Option<ClientFqdn> {
        let (&flags, rest) = payload.split_first()?;
        let name_bytes = rest.get(2..)?;
        let encoded = flags & 0x04 != 0;
        let (name, fqdn_text) = if encoded {
            let mut labels = Vec::new();
            let mut i = 0usize;
            while let Some(&len) = name_bytes.get(i) {
                if len == 0 {
                    break;
                }
                if len > 63 {
                    return None;
                }
                let label = name_bytes.get(i + 1..i + 1 + usize::from(len))?;
                labels.push(std::str::from_utf8(label).ok()?.to_string());
                i += 1 + usize::from(len);
            }
            let joined = labels.join(".");
            (joined.clone(), joined)
        } else {
            let text = std::str::from_utf8(name_bytes).ok()?;
            let as_kept = text.strip_suffix('\0').unwrap_or(text).to_string();
            (text.trim_end_matches('\0').trim_end_matches('.').to_string(), as_kept)
        };
        Some(ClientFqdn { server_update: flags & 0x01 != 0, no_update: flags & 0x08 != 0, encoded, name, fqdn_text })
    }

    /// `fqdn.hostname`: the first label.
    pub fn hostname(&self) -> Option<&str> {
        self.name.split('.').next().filter(|s| !s.is_empty())
    }

    /// `fqdn.domainname` exists: the name has more than one label.
    pub fn has_domain(&self) -> bool {
        self.name.split_once('.').is_some_and(|(_, d)| !d.is_empty())
    }
}

/// Everything about a binding that decides its DNS names.
#[derive(Clone, Debug)]
pub struct BindInput<'a> {
    pub style: Style,
    pub params: &'a DdnsParams,
    pub ip: Ipv4Addr,
    /// Option 81 of the request, parsed.
    pub fqdn: Option<ClientFqdn>,
    /// Option 12 of the request.
    pub host_name: Option<&'a [u8]>,
    /// `option host-name` in force for the client (scopes, classes, host).
    pub config_host_name: Option<&'a [u8]>,
    /// `option domain-name` in force for the client.
    pub config_domain_name: Option<&'a [u8]>,
    /// The host declaration's name, when `use-host-decl-names` is on for the client.
    pub host_decl_name: Option<&'a str>,
    pub client_id: Option<&'a [u8]>,
    pub htype: u8,
    pub chaddr: &'a [u8],
    pub now: u32,
    /// The lease's end (`u32::MAX`: infinite).
    pub ends: u32,
    /// The variables the lease kept from this client's last binding.
    pub prior: Option<&'a Vars>,
    /// The address is a host's fixed address (dhcpd's STATIC_LEASE): no lease record,
    /// so nothing is kept and `prior` is `None`.
    pub static_lease: bool,
    /// `update-static-leases` in force for the client.
    pub update_static_leases: bool,
}

/// An A record (and its guard) to add.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FwdAdd {
    pub name: Name,
    pub guard: Guard,
}

/// The updates for a binding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddJob {
    pub ip: Ipv4Addr,
    /// The A record the server adds (`None`: the client updates its own).
    pub fwd: Option<FwdAdd>,
    /// The name the PTR points to (`None`: `do-reverse-updates off`).
    pub ptr_target: Option<Name>,
    pub rev_name: Name,
    pub ttl: u32,
    pub conflict_detection: bool,
    pub guard_id_must_match: bool,
    /// For a host's fixed address: what was added is written nowhere (dhcpd's
    /// `ddns_update_lease_text` returns at once for a static lease), so it is never
    /// removed either.
    pub static_lease: bool,
}

/// The records of an ended binding to remove (from what the lease kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoveJob {
    pub ip: Ipv4Addr,
    /// The forward name and its guard (removed only while the guard is ours).
    pub fwd: Option<(Name, Guard)>,
    pub rev_name: Option<Name>,
    /// The client updated its own A record (`ddns-client-fqdn`): kept variable to drop.
    pub client_fqdn: bool,
    pub conflict_detection: bool,
    pub guard_id_must_match: bool,
}

/// One unit of DNS work, done in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Job {
    Add(AddJob),
    Remove(RemoveJob),
    /// The client's name changed: remove the old records, then add the new ones.
    Replace(RemoveJob, AddJob),
}

impl Job {
    pub fn ip(&self) -> Ipv4Addr {
        match self {
            Job::Add(a) => a.ip,
            Job::Remove(r) | Job::Replace(r, _) => r.ip,
        }
    }
}

/// A DNS name from text, fully qualified.
pub fn name(text: &str) -> Result<Name, DdnsError> {
    let bad = |reason: String| DdnsError::BadName { name: text.to_string(), reason };
    if text.is_empty() || text.len() > 253 + 1 {
        return Err(bad("empty or longer than 253 characters".into()));
    }
    let mut n = Name::from_ascii(text).map_err(|e| bad(e.to_string()))?;
    n.set_fqdn(true);
    Ok(n)
}

fn text(b: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(b).ok()?.trim_end_matches('\0');
    (!s.is_empty()).then(|| s.to_string())
}

/// The reverse name of `ip` under `rev_domain` (dhcpd: "d.c.b.a." then the domain).
pub fn reverse_name(ip: Ipv4Addr, rev_domain: &str) -> Result<Name, DdnsError> {
    let [a, b, c, d] = ip.octets();
    name(&format!("{d}.{c}.{b}.{a}.{rev_domain}"))
}

/// dhcpd's default TTL: half the time left on the lease, at most an hour.
pub fn default_ttl(now: u32, ends: u32) -> u32 {
    if ends <= now { 0 } else { ((ends - now) / 2).min(MAX_DEFAULT_TTL) }
}

/// The updates a binding calls for, or `Ok(None)`. Errors are names DNS cannot hold
/// (dhcpd logs them and does no update).
pub fn plan_bind(i: &BindInput<'_>) -> Result<Option<Job>, DdnsError> {
    plan_bind_reply(i).map(|b| b.job)
}

/// What dhcpd's `ddns_updates` decides for a binding: its DNS updates, and the client
/// FQDN option (81) of the ACK.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BindPlan {
    pub job: Option<Job>,
    /// The sub-options of dhcpd's fqdn space `ddns_updates` sets for the ACK's option 81
    /// (code, value; `None`: it sets none). See [`encapsulate_fqdn`].
    pub fqdn_reply: Option<Vec<(u32, Vec<u8>)>>,
}

/// [`plan_bind`] with the ACK's option 81. dhcpd answers a client's option 81 only where
/// `ddns_updates` gets as far as its `noerror` label: an update planned, or none needed
/// because the names are the lease's already (`update-optimization`); not when it gave up
/// (no name, `do-forward-updates off`, a name too long), and never in an OFFER (it runs
/// for the ACK only).
pub fn plan_bind_reply(i: &BindInput<'_>) -> Result<BindPlan, DdnsError> {
    let p = i.params;
    if !p.updates {
        return Ok(BindPlan::default());
    }
    let conflict_detection = p.update_conflict_detection.unwrap_or(true);
    let guard_id_must_match = p.guard_id_must_match.unwrap_or(true);
    // `allow client-updates` is dhcpd's default: a client that sends option 81 with S
    // clear and a domain updates its own A record; the server does the PTR.
    let client_may = !matches!(p.client_updates, Some(ClientUpdates::Deny | ClientUpdates::Ignore));
    let client_does_a = client_may && i.fqdn.as_ref().is_some_and(|f| !f.server_update && f.has_domain());
    let fwd_text: Option<String> = if client_does_a {
        i.fqdn.as_ref().map(|f| f.name.clone())
    } else {
        if p.do_forward_updates == Some(false) {
            return Ok(BindPlan::default());
        }
        // dhcpd tests this here, after the client's own update was allowed: a client with
        // a fixed address that updates its own A record still gets its PTR (and its
        // option 81) whatever `update-static-leases` says.
        if i.static_lease && !i.update_static_leases {
            return Ok(BindPlan::default());
        }
        let host = match &p.hostname {
            Some(h) => text(h),
            None => i
                .fqdn
                .as_ref()
                .and_then(|f| f.hostname().map(str::to_string))
                .or_else(|| i.host_name.and_then(text))
                .or_else(|| i.config_host_name.and_then(text)),
        }
        .or_else(|| i.host_decl_name.filter(|s| !s.is_empty()).map(str::to_string));
        // dhcpd's default ddns-domainname is `config-option domain-name`; a written one
        // (a per-client expression's null is kept empty) replaces it, fallback and all.
        let domain = match &p.domainname {
            Some(d) => text(d),
            None => i.config_domain_name.and_then(text),
        };
        match (host, domain) {
            (Some(h), Some(d)) => Some(format!("{h}.{}", d.trim_start_matches('.'))),
            _ => None,
        }
    };
    let prior = i.prior;
    let prior_fwd = prior.and_then(|v| v.get(vars::FWD_NAME)).and_then(text);
    let prior_client = prior.and_then(|v| v.get(vars::CLIENT_FQDN)).and_then(text);
    let same = |old: &Option<String>| match (old, &fwd_text) {
        (Some(o), Some(n)) => o.trim_end_matches('.').eq_ignore_ascii_case(n.trim_end_matches('.')),
        _ => false,
    };
    let optimize = p.update_optimization.unwrap_or(true);
    // The name dhcpd echoes: the client's own as it sent it, else the one chosen here.
    let reply_name = if client_does_a { i.fqdn.as_ref().map(|f| f.fqdn_text.clone()) } else { fwd_text.clone() };
    let noerror = || BindPlan { job: None, fqdn_reply: fqdn_reply(i, !client_does_a, reply_name.as_deref()) };
    let mut remove_first = None;
    if prior_fwd.is_some() {
        if !same(&prior_fwd) {
            remove_first = prior.and_then(|v| plan_end(i.ip, v, p));
        } else if optimize {
            return Ok(noerror());
        }
    } else if prior_client.is_some() && same(&prior_client) && optimize {
        return Ok(noerror());
    }
    let Some(fwd_text) = fwd_text else {
        return Ok(BindPlan { job: remove_first.map(Job::Remove), fqdn_reply: None });
    };
    let fwd_name = name(&fwd_text)?;
    let rev_domain = p.rev_domainname.as_deref().and_then(text).unwrap_or_else(|| "in-addr.arpa.".to_string());
    let rev_name = reverse_name(i.ip, &rev_domain)?;
    let ttl = p.ttl.unwrap_or_else(|| default_ttl(i.now, i.ends));
    let fwd = (!client_does_a).then(|| {
        let wire = fwd_name.to_bytes().unwrap_or_default();
        let who = match i.client_id.filter(|c| !c.is_empty()) {
            Some(id) => Identity::ClientId(id),
            None => Identity::Hardware { htype: i.htype, addr: i.chaddr },
        };
        FwdAdd { name: fwd_name.clone(), guard: Guard::compute(i.style, who, &wire) }
    });
    // A `ddns-rev-domainname = EXPR;` whose value was null leaves dhcpd no reverse name,
    // so no PTR record (the address's own is still written).
    let no_rev = p.rev_domainname.as_deref().is_some_and(|r| text(r).is_none());
    let ptr_target = (p.do_reverse_updates != Some(false) && !no_rev).then_some(fwd_name);
    let add = AddJob {
        ip: i.ip,
        fwd,
        ptr_target,
        rev_name,
        ttl,
        conflict_detection,
        guard_id_must_match,
        static_lease: i.static_lease,
    };
    Ok(BindPlan {
        job: Some(match remove_first {
            Some(r) => Job::Replace(r, add),
            None => Job::Add(add),
        }),
        ..noerror()
    })
}

/// The sub-options of dhcpd's fqdn space that `ddns_updates` sets for the ACK (server/ddns.c
/// after `noerror`), for a client that sent option 81:
/// - `fqdn-reply false`: none;
/// - `ignore client-updates` and the client's S clear: the "white lie", S and O clear
///   (the client may update as it pleases) and its own name; none if it sent no name;
/// - otherwise S and O both set when the server updates the A record, both clear when
///   the client does; the name the server used (the client's own when it updates).
///
/// E as the client sent it; both RCODEs 255 (RFC 4702 §3.2). Codes: 1 no-client-update
/// (the O flag), 2 server-update (S), 3 encoded (E), 4 and 5 the RCODEs, 8 the name.
fn fqdn_reply(i: &BindInput<'_>, server_updates_a: bool, name: Option<&str>) -> Option<Vec<(u32, Vec<u8>)>> {
    let f = i.fqdn.as_ref()?;
    if i.params.fqdn_reply == Some(false) {
        return None;
    }
    let (s, name) = if matches!(i.params.client_updates, Some(ClientUpdates::Ignore)) && !f.server_update {
        if f.fqdn_text.is_empty() {
            return None;
        }
        (0u8, Some(f.fqdn_text.as_str()))
    } else {
        (u8::from(server_updates_a), name.filter(|n| !n.is_empty()))
    };
    let mut subs = vec![(2, vec![s]), (1, vec![s]), (3, vec![u8::from(f.encoded)]), (4, vec![255]), (5, vec![255])];
    if let Some(n) = name {
        subs.push((8, n.as_bytes().to_vec()));
    }
    Some(subs)
}

/// Option 81 from the sub-options of dhcpd's fqdn space in force (the last value of a
/// code wins), as common/options.c `fqdn_option_space_encapsulate` builds it: flags from
/// no-client-update (2, dhcpd's O), server-update (1, S) and encoded (4, E); the two
/// RCODEs (0 when unset); the name (fqdn.fqdn) as text, or in DNS wire form ending in the
/// root label when encoded. `None` when none is set (no option).
pub fn encapsulate_fqdn(subs: &[(u32, Vec<u8>)]) -> Option<Vec<u8>> {
    if subs.is_empty() {
        return None;
    }
    let get = |code: u32| subs.iter().rev().find(|(c, _)| *c == code).map(|(_, v)| v.as_slice());
    let on = |code: u32| get(code).and_then(|v| v.first()).is_some_and(|b| *b != 0);
    let byte = |code: u32| get(code).and_then(|v| v.first()).copied().unwrap_or(0);
    let mut flags = 0u8;
    if on(1) {
        flags |= 2;
    }
    if on(2) {
        flags |= 1;
    }
    let encoded = on(3);
    if encoded {
        flags |= 4;
    }
    let mut out = vec![flags, byte(4), byte(5)];
    match get(8).filter(|n| !n.is_empty()) {
        Some(n) if encoded => {
            // dhcpd's fqdn_encode: labels up to a NUL, an empty label ending the name.
            let text = n.split(|b| *b == 0).next().unwrap_or_default();
            for label in text.split(|b| *b == b'.') {
                let len = u8::try_from(label.len()).ok()?;
                out.push(len);
                if len == 0 {
                    return Some(out);
                }
                out.extend_from_slice(label);
            }
            out.push(0);
        }
        Some(n) => out.extend_from_slice(n),
        None => {}
    }
    Some(out)
}

/// What to remove when a binding ends (release, expiry, another client taking the
/// address), from the variables the lease kept; `None` when nothing was added.
pub fn plan_end(ip: Ipv4Addr, kept: &Vars, p: &DdnsParams) -> Option<RemoveJob> {
    let fwd_name = kept.get(vars::FWD_NAME).and_then(text).and_then(|t| name(&t).ok());
    let fwd = fwd_name.zip(Guard::from_vars(kept));
    let rev_name = kept.get(vars::REV_NAME).and_then(text).and_then(|t| name(&t).ok());
    let client_fqdn = kept.get(vars::CLIENT_FQDN).is_some();
    if fwd.is_none() && rev_name.is_none() && !client_fqdn && kept.get(vars::FWD_NAME).is_none() {
        return None;
    }
    Some(RemoveJob {
        ip,
        fwd,
        rev_name,
        client_fqdn,
        conflict_detection: p.update_conflict_detection.unwrap_or(true),
        guard_id_must_match: p.guard_id_must_match.unwrap_or(true),
    })
}

/// Whether a lease's variables record DNS work to undo.
pub fn has_records(kept: &Vars) -> bool {
    [vars::FWD_NAME, vars::REV_NAME, vars::CLIENT_FQDN].iter().any(|n| kept.get(n).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> DdnsParams {
        DdnsParams { domainname: Some(b"example.test".to_vec()), ..DdnsParams::default() }
    }

    fn input<'a>(p: &'a DdnsParams) -> BindInput<'a> {
        BindInput {
            style: Style::Interim,
            params: p,
            ip: Ipv4Addr::new(198, 18, 0, 10),
            fqdn: None,
            host_name: Some(b"laptop"),
            config_host_name: None,
            config_domain_name: None,
            host_decl_name: None,
            client_id: None,
            htype: 1,
            chaddr: &[2, 0, 0, 0, 0, 1],
            now: 1000,
            ends: 1000 + 600,
            prior: None,
            static_lease: false,
            update_static_leases: false,
        }
    }

    fn add(job: Option<Job>) -> AddJob {
        match job {
            Some(Job::Add(a)) => a,
            other => panic!("expected an add, got {other:?}"),
        }
    }

    #[test]
    fn host_name_option_and_ddns_domainname_make_the_name() {
        let p = params();
        let a = add(plan_bind(&input(&p)).unwrap());
        let fwd = a.fwd.expect("server adds the A record");
        assert_eq!(fwd.name.to_ascii(), "laptop.example.test.");
        assert_eq!(a.rev_name.to_ascii(), "10.0.18.198.in-addr.arpa.");
        assert_eq!(a.ptr_target.map(|n| n.to_ascii()), Some("laptop.example.test.".to_string()));
        // Half of the 600 s left.
        assert_eq!(a.ttl, 300);
        assert!(matches!(fwd.guard, Guard::Txt(ref t) if t.starts_with("00")));
    }

    #[test]
    fn fqdn_hostname_wins_over_option_12_and_ddns_hostname_over_both() {
        let p = params();
        let mut i = input(&p);
        i.fqdn = ClientFqdn::parse(b"\x01\xff\xffdesk.other.test");
        assert_eq!(add(plan_bind(&i).unwrap()).fwd.unwrap().name.to_ascii(), "desk.example.test.");
        let p2 = DdnsParams { hostname: Some(b"fixed".to_vec()), ..params() };
        let mut i2 = input(&p2);
        i2.fqdn = i.fqdn.clone();
        assert_eq!(add(plan_bind(&i2).unwrap()).fwd.unwrap().name.to_ascii(), "fixed.example.test.");
    }

    #[test]
    fn a_client_that_updates_itself_gets_only_its_ptr() {
        let p = params();
        let mut i = input(&p);
        // S clear, a full name, E set (wire form).
        i.fqdn = ClientFqdn::parse(b"\x04\0\0\x04self\x05other\x04test\x00");
        let a = add(plan_bind(&i).unwrap());
        assert!(a.fwd.is_none());
        assert_eq!(a.ptr_target.unwrap().to_ascii(), "self.other.test.");
        // deny client-updates: the server does it, with its own domain.
        let p2 = DdnsParams { client_updates: Some(ClientUpdates::Deny), ..params() };
        let mut i2 = input(&p2);
        i2.fqdn = i.fqdn.clone();
        assert_eq!(add(plan_bind(&i2).unwrap()).fwd.unwrap().name.to_ascii(), "self.example.test.");
    }

    #[test]
    fn no_name_or_no_domain_means_no_update() {
        let p = DdnsParams::default();
        assert_eq!(plan_bind(&input(&p)).unwrap(), None);
        let p = params();
        let mut i = input(&p);
        i.host_name = None;
        assert_eq!(plan_bind(&i).unwrap(), None);
        // The scope's option domain-name stands in for ddns-domainname.
        let p = DdnsParams::default();
        let mut i = input(&p);
        i.config_domain_name = Some(b"lan.test");
        assert_eq!(add(plan_bind(&i).unwrap()).fwd.unwrap().name.to_ascii(), "laptop.lan.test.");
    }

    #[test]
    fn do_forward_updates_off_and_ddns_updates_off_do_nothing() {
        let p = DdnsParams { do_forward_updates: Some(false), ..params() };
        assert_eq!(plan_bind(&input(&p)).unwrap(), None);
        let p = DdnsParams { updates: false, ..params() };
        assert_eq!(plan_bind(&input(&p)).unwrap(), None);
    }

    #[test]
    fn a_fixed_address_is_updated_only_with_update_static_leases_or_for_the_clients_own_a() {
        let p = params();
        let mut i = input(&p);
        i.static_lease = true;
        // dhcpd's default: no update, and no option 81 in the ACK.
        assert_eq!(plan_bind_reply(&i).unwrap(), BindPlan::default());
        i.fqdn = ClientFqdn::parse(b"\x01\xff\xfflaptop");
        assert_eq!(plan_bind_reply(&i).unwrap(), BindPlan::default());
        // `update-static-leases on`: the same updates as a dynamic lease's, marked static.
        i.update_static_leases = true;
        let b = plan_bind_reply(&i).unwrap();
        assert!(b.fqdn_reply.is_some());
        let a = add(b.job);
        assert!(a.static_lease);
        assert_eq!(a.fwd.unwrap().name.to_ascii(), "laptop.example.test.");
        assert_eq!(a.ptr_target.unwrap().to_ascii(), "laptop.example.test.");
        // A client updating its own A record passes dhcpd's test before it is made: the
        // server does its PTR even with the flag off.
        i.update_static_leases = false;
        i.fqdn = ClientFqdn::parse(b"\x00\0\0self.other.test");
        let a = add(plan_bind(&i).unwrap());
        assert!(a.fwd.is_none() && a.static_lease);
        assert_eq!(a.ptr_target.unwrap().to_ascii(), "self.other.test.");
        // `do-forward-updates off` stops it before that test, as in dhcpd.
        let p2 = DdnsParams { do_forward_updates: Some(false), ..params() };
        let mut i2 = input(&p2);
        i2.static_lease = true;
        i2.update_static_leases = true;
        assert_eq!(plan_bind(&i2).unwrap(), None);
    }

    #[test]
    fn a_renewal_with_the_same_name_is_optimized_away_and_a_new_name_replaces() {
        let p = params();
        let mut kept = Vars::default();
        kept.set(vars::FWD_NAME, Some(b"laptop.example.test.".to_vec()));
        kept.set(vars::TXT, Some(b"00abc".to_vec()));
        kept.set(vars::REV_NAME, Some(b"10.0.18.198.in-addr.arpa.".to_vec()));
        let mut i = input(&p);
        i.prior = Some(&kept);
        assert_eq!(plan_bind(&i).unwrap(), None);
        i.host_name = Some(b"renamed");
        match plan_bind(&i).unwrap() {
            Some(Job::Replace(r, a)) => {
                assert_eq!(r.fwd.unwrap().0.to_ascii(), "laptop.example.test.");
                assert_eq!(a.fwd.unwrap().name.to_ascii(), "renamed.example.test.");
            }
            other => panic!("expected a replace, got {other:?}"),
        }
        let p2 = DdnsParams { update_optimization: Some(false), ..params() };
        let mut i2 = input(&p2);
        i2.prior = Some(&kept);
        assert!(matches!(plan_bind(&i2).unwrap(), Some(Job::Add(_))));
    }

    #[test]
    fn ttl_rules() {
        assert_eq!(default_ttl(100, 100), 0);
        assert_eq!(default_ttl(100, 50), 0);
        assert_eq!(default_ttl(0, 86_400), MAX_DEFAULT_TTL);
        assert_eq!(default_ttl(0, u32::MAX), MAX_DEFAULT_TTL);
        let p = DdnsParams { ttl: Some(77), ..params() };
        assert_eq!(add(plan_bind(&input(&p)).unwrap()).ttl, 77);
    }

    #[test]
    fn hostile_names_are_errors_not_panics() {
        let p = params();
        let long = vec![b'a'; 300];
        let mut i = input(&p);
        i.host_name = Some(&long);
        assert!(plan_bind(&i).is_err());
        for payload in [&b""[..], b"\x05", b"\x05\0", b"\x04\0\0\x40abc", b"\x04\0\0\x05ab", b"\x00\0\0\xff\xfe"] {
            let _ = ClientFqdn::parse(payload);
        }
    }

    #[test]
    fn end_of_binding_removes_what_was_kept() {
        let p = params();
        let mut kept = Vars::default();
        assert_eq!(plan_end(Ipv4Addr::new(198, 18, 0, 10), &kept, &p), None);
        kept.set(vars::FWD_NAME, Some(b"laptop.example.test.".to_vec()));
        kept.set(vars::DHCID, Some(vec![0, 0, 1, 2]));
        kept.set(vars::REV_NAME, Some(b"10.0.18.198.in-addr.arpa.".to_vec()));
        let r = plan_end(Ipv4Addr::new(198, 18, 0, 10), &kept, &p).unwrap();
        assert_eq!(r.fwd.unwrap().1, Guard::Dhcid(vec![0, 0, 1, 2]));
        assert_eq!(r.rev_name.unwrap().to_ascii(), "10.0.18.198.in-addr.arpa.");
        assert!(has_records(&kept));
    }

    fn reply(i: &BindInput<'_>) -> Option<Vec<u8>> {
        plan_bind_reply(i).unwrap().fqdn_reply.and_then(|s| encapsulate_fqdn(&s))
    }

    #[test]
    fn the_ack_answers_option_81_with_the_flags_dhcpd_sets() {
        let p = params();
        let mut i = input(&p);
        // No option 81 from the client: none back.
        assert_eq!(reply(&i), None);
        // S set, encoded single label: the server updates, S and O set, E echoed, RCODEs
        // 255, the name it used in wire form with the root label.
        i.fqdn = ClientFqdn::parse(b"\x05\x00\x00\x06laptop\x00");
        assert_eq!(reply(&i), Some(b"\x07\xff\xff\x06laptop\x07example\x04test\x00".to_vec()));
        // Text form, S clear, no domain: the server still updates (no name to update
        // itself), the name in text.
        i.fqdn = ClientFqdn::parse(b"\x00\x00\x00laptop");
        assert_eq!(reply(&i), Some(b"\x03\xff\xfflaptop.example.test".to_vec()));
        // S clear with a domain: the client updates its A record, S and O clear, its name
        // as it sent it (a trailing dot kept, one NUL dropped).
        i.fqdn = ClientFqdn::parse(b"\x00\x00\x00desk.other.test.\x00");
        assert_eq!(reply(&i), Some(b"\x00\xff\xffdesk.other.test.".to_vec()));
        i.fqdn = ClientFqdn::parse(b"\x04\x00\x00\x04desk\x05other\x04test\x00");
        assert_eq!(reply(&i), Some(b"\x04\xff\xff\x04desk\x05other\x04test\x00".to_vec()));
    }

    #[test]
    fn option_81_in_the_other_cases_of_ddns_updates() {
        // ignore client-updates: the "white lie", flags clear and the client's own name,
        // while the server updates the name it chose.
        let p = DdnsParams { client_updates: Some(ClientUpdates::Ignore), ..params() };
        let mut i = input(&p);
        i.fqdn = ClientFqdn::parse(b"\x00\x00\x00desk.other.test");
        let b = plan_bind_reply(&i).unwrap();
        assert_eq!(add(b.job).fwd.unwrap().name.to_ascii(), "desk.example.test.");
        assert_eq!(b.fqdn_reply.and_then(|s| encapsulate_fqdn(&s)), Some(b"\x00\xff\xffdesk.other.test".to_vec()));
        // deny client-updates: the server updates, and says so.
        let p = DdnsParams { client_updates: Some(ClientUpdates::Deny), ..params() };
        let mut i = input(&p);
        i.fqdn = ClientFqdn::parse(b"\x00\x00\x00desk.other.test");
        assert_eq!(reply(&i), Some(b"\x03\xff\xffdesk.example.test".to_vec()));
        // fqdn-reply false: nothing back.
        let p = DdnsParams { fqdn_reply: Some(false), ..params() };
        let mut i = input(&p);
        i.fqdn = ClientFqdn::parse(b"\x01\x00\x00laptop");
        assert!(plan_bind_reply(&i).unwrap().job.is_some());
        assert_eq!(reply(&i), None);
        // A renewal under the same names: no update, but the answer all the same.
        let p = params();
        let mut kept = Vars::default();
        kept.set(vars::FWD_NAME, Some(b"laptop.example.test".to_vec()));
        kept.set(vars::TXT, Some(b"00abc".to_vec()));
        let mut i = input(&p);
        i.prior = Some(&kept);
        i.fqdn = ClientFqdn::parse(b"\x01\x00\x00laptop");
        let b = plan_bind_reply(&i).unwrap();
        assert_eq!(b.job, None);
        assert_eq!(b.fqdn_reply.and_then(|s| encapsulate_fqdn(&s)), Some(b"\x03\xff\xfflaptop.example.test".to_vec()));
        // No domain to make a name with: dhcpd gives up before its answer.
        let p = DdnsParams::default();
        let mut i = input(&p);
        i.fqdn = ClientFqdn::parse(b"\x01\x00\x00laptop");
        assert_eq!(plan_bind_reply(&i).unwrap(), BindPlan::default());
        // DNS updates off in the scope: ddns_updates does not run.
        let p = DdnsParams { updates: false, ..params() };
        let mut i = input(&p);
        i.fqdn = ClientFqdn::parse(b"\x01\x00\x00laptop");
        assert_eq!(reply(&i), None);
    }

    #[test]
    fn configured_fqdn_sub_options_make_option_81_as_dhcpd_encapsulates_them() {
        assert_eq!(encapsulate_fqdn(&[]), None);
        // dhcpd.conf's `option fqdn.no-client-update on; option fqdn.rcode2 255;`.
        assert_eq!(encapsulate_fqdn(&[(1, vec![1]), (5, vec![255])]), Some(vec![0x02, 0, 255]));
        // Encoded: the name in wire form with its root label; a trailing dot ends it too.
        let subs = [(2, vec![1]), (3, vec![1]), (8, b"a.example.".to_vec())];
        assert_eq!(encapsulate_fqdn(&subs), Some(b"\x05\x00\x00\x01a\x07example\x00".to_vec()));
        // The last value of a code wins (ddns_updates' values over the configuration's).
        assert_eq!(encapsulate_fqdn(&[(2, vec![1]), (2, vec![0])]), Some(vec![0, 0, 0]));
    }
}
