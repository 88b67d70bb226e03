//! Conversion between the engine's [`Lease`] and the lease file's record (`dhcp-journal`).

use super::{BindingState, ClientKey, HwAddr, Lease};
use crate::time::NEVER;
use dhcp_config::Val;
use dhcp_journal::{LeaseRecord, VarValue};

/// The state a lease loads in: dhcpd loads the legacy names as ACTIVE (plus a flag).
fn loaded_state(s: BindingState) -> BindingState {
    match s {
        BindingState::Reserved | BindingState::Bootp => BindingState::Active,
        s => s,
    }
}

fn opt(t: u32) -> Option<u32> {
    (t != 0).then_some(t)
}

/// The record dhcpd would write for this lease.
pub fn to_record(l: &Lease) -> LeaseRecord {
    let mut r = LeaseRecord::new(l.ip, l.state);
    r.starts = opt(l.starts);
    r.ends = if l.ends == NEVER { None } else { Some(l.ends) };
    r.tstp = opt(l.tstp);
    r.tsfp = opt(l.tsfp);
    r.atsfp = opt(l.atsfp);
    r.cltt = opt(l.cltt);
    r.hardware = l.hw.map(|h| (h.htype, h.as_slice().to_vec()));
    r.uid = l.client.as_ref().and_then(|k| k.client_id()).map(<[u8]>::to_vec);
    r.client_hostname = l.hostname.as_deref().map(str::to_string);
    // dhcpd writes the billing of a lease that has not ended, i.e. a bound one.
    r.billing = l
        .billing
        .as_deref()
        .filter(|_| l.state == BindingState::Active)
        .map(|b| (b.class.to_string(), b.subclass.as_deref().map(<[u8]>::to_vec)));
    for (name, value) in l.vars.iter().flat_map(|v| v.0.iter()) {
        match value {
            // dhcpd's own vendor-class-identifier variable has a field of its own.
            Val::Data(d) if name == "vendor-class-identifier" => {
                r.vendor_class = Some(String::from_utf8_lossy(d).into_owned());
            }
            Val::Data(d) => r.vars.push((name.clone(), VarValue::Data(d.clone()))),
            // dhcpd keeps a number in a `long` and writes it signed.
            Val::Num(n) => r.vars.push((name.clone(), VarValue::Num(*n as i64))),
            Val::Bool(b) => r.vars.push((name.clone(), VarValue::Bool(*b))),
        }
    }
    // The pending event statements of a bound lease (dhcpd clears them when they run or
    // when the lease is freed), one `on expiry or release` when both are the same.
    if let Some(ev) = l.on_events.as_deref() {
        let text = |b: &std::sync::Arc<dhcp_config::model::OnBlock>| b.source.clone();
        match (&ev.expiry, &ev.release) {
            (Some(e), Some(rel)) if e.source == rel.source => {
                r_events(&mut r, true, true, text(e));
            }
            (e, rel) => {
                if let Some(e) = e {
                    r_events(&mut r, true, false, text(e));
                }
                if let Some(rel) = rel {
                    r_events(&mut r, false, true, text(rel));
                }
            }
        }
    }
    r
}

fn r_events(r: &mut LeaseRecord, expiry: bool, release: bool, text: String) {
    if !text.is_empty() {
        r.events.push(dhcp_journal::record::EventStatements { expiry, release, text });
    }
}

/// The lease a record describes (pool is fixed up by the store on restore).
pub fn from_record(r: &LeaseRecord) -> Lease {
    let mut l = Lease::free(r.ip, 0);
    l.state = loaded_state(r.binding_state);
    l.starts = r.starts.unwrap_or(0);
    l.ends = match r.ends {
        None => NEVER,
        Some(t) => t,
    };
    l.tstp = r.tstp.unwrap_or(0);
    l.tsfp = r.tsfp.unwrap_or(0);
    l.atsfp = r.atsfp.unwrap_or(0);
    l.cltt = r.cltt.unwrap_or(0);
    l.hw = r.hardware.as_ref().map(|(t, b)| HwAddr::new(*t, b));
    l.client = match (&r.uid, &r.hardware) {
        (Some(uid), _) if !uid.is_empty() => Some(ClientKey::from_client_id(uid)),
        (_, Some((t, b))) => Some(ClientKey::from_hw(*t, b)),
        _ => None,
    };
    l.hostname = r.client_hostname.as_deref().map(Into::into);
    let mut vars = dhcp_config::Vars::default();
    if let Some(vc) = &r.vendor_class {
        vars.set("vendor-class-identifier", Some(vc.as_bytes().to_vec()));
    }
    for (name, value) in &r.vars {
        let v = match value {
            VarValue::Data(d) => Val::Data(d.clone()),
            VarValue::Num(n) => Val::Num(*n as u64),
            VarValue::Bool(b) => Val::Bool(*b),
        };
        vars.set_value(name, Some(v));
    }
    l.vars = (!vars.0.is_empty()).then(|| Box::new(vars));
    l.billing = r.billing.as_ref().map(|(class, sub)| {
        Box::new(super::Billing { class: class.as_str().into(), subclass: sub.as_deref().map(Into::into) })
    });
    // The statements' text only (in canonical form when it reads as statements):
    // `Engine::restore` finds them in the configuration.
    let mut events = super::LeaseEvents::default();
    for e in &r.events {
        let source = dhcp_config::model::event_statements_key(&e.text).unwrap_or_else(|| e.text.clone());
        let block = std::sync::Arc::new(dhcp_config::model::OnBlock { source, actions: Vec::new() });
        if e.expiry {
            events.expiry = Some(std::sync::Arc::clone(&block));
        }
        if e.release {
            events.release = Some(block);
        }
    }
    l.on_events = (events.expiry.is_some() || events.release.is_some()).then(|| std::sync::Arc::new(events));
    l
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn round_trip_through_the_file_format() {
        let mut l = Lease::free(Ipv4Addr::new(198, 18, 0, 10), 0);
        l.state = BindingState::Active;
        l.starts = 1_700_000_000;
        l.ends = 1_700_000_600;
        l.cltt = 1_700_000_000;
        l.hw = Some(HwAddr::new(1, &[0x52, 0x54, 0, 0xaa, 0xbb, 0x10]));
        l.client = Some(ClientKey::from_client_id(&[1, 0x52, 0x54, 0, 0xaa, 0xbb, 0x10]));
        l.hostname = Some("laptop".into());
        let mut vars = dhcp_config::Vars::default();
        vars.set("vendor-class-identifier", Some(b"MSFT 5.0".to_vec()));
        vars.set("circuit", Some(vec![b'a', 0, 0xff, b'"']));
        vars.set_value("count", Some(dhcp_config::Val::Num(5)));
        vars.set_value("wrapped", Some(dhcp_config::Val::Num(0xffff_fffe_0000_0001)));
        vars.set_value("seen", Some(dhcp_config::Val::Bool(true)));
        vars.set_value("unseen", Some(dhcp_config::Val::Bool(false)));
        l.vars = Some(Box::new(vars));
        let mut buf = Vec::new();
        dhcp_journal::format::write_lease(&mut buf, &to_record(&l));
        // Numbers and booleans as dhcpd 4.4.3 wrote them for `set count = extract-int
        // (00:05, 16);`, a product past 2^63 and `set seen = exists host-name;`.
        let text = String::from_utf8_lossy(&buf);
        for line in ["set count = %5;", "set wrapped = %-8589934591;", "set seen = true;", "set unseen = false;"] {
            assert!(text.contains(line), "{line} not in {text}");
        }
        let parsed = dhcp_journal::parse::parse(&buf);
        let Some(dhcp_journal::Entry::Lease(r)) = parsed.entries.first() else {
            panic!("no lease parsed from {}", String::from_utf8_lossy(&buf));
        };
        assert_eq!(from_record(r), l);
    }
}
