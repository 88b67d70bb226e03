//! Semantic checks on the lowered model: what dhcpd would refuse (or would run badly
//! with) even though every statement is well formed.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use crate::error::{ConfigError, ErrorKind, Span, Warning, WarningKind};
use crate::lower::Info;
use crate::model::{AddrRange, Config, DdnsUpdateStyle, KeyAlgorithm, Role};

/// Runs every check, appending to `errors` and `warnings`.
pub(crate) fn validate(config: &Config, info: &Info, errors: &mut Vec<ConfigError>, warnings: &mut Vec<Warning>) {
    subnets(config, info, errors);
    ranges(config, info, errors);
    peers(config, info, errors, warnings);
    hosts(config, info, errors, warnings);
    keys(config, info, errors);
    ddns(config, info, errors);
    for (span, first) in &info.second_interfaces {
        errors.push(ConfigError::new(span, ErrorKind::SecondInterface { first: first.clone() }));
    }
    for (statement, span) in &info.global_only {
        warnings.push(Warning { span: span.clone(), kind: WarningKind::GlobalOnly { statement: statement.clone() } });
    }
}

/// DNS updates (dhcpd 4.4 does them when the global `ddns-update-style` is interim or
/// standard and `ddns-updates`, on unless turned off, is on in the lease's scope).
/// xdhcpd does them too, except for the parts below, which are refused by name rather
/// than ignored: dual-stack mixed mode, DNS-update statements in host declarations (but
/// `update-static-leases`, honoured there), a `ddns-local-address4` that differs between
/// scopes or is a host name, and zone servers given as host names.
fn ddns(config: &Config, info: &Info, errors: &mut Vec<ConfigError>) {
    match config.ddns_update_style {
        DdnsUpdateStyle::None => return,
        DdnsUpdateStyle::Interim | DdnsUpdateStyle::Standard => {}
        DdnsUpdateStyle::AdHoc => {
            if let Some(span) = &info.ddns_update_style {
                errors.push(ConfigError::new(
                    span,
                    ErrorKind::InvalidValue {
                        what: "ddns-update-style".into(),
                        value: "ad-hoc".into(),
                        reason: "ad-hoc is no longer supported (dhcpd 4.4 refuses it too)".into(),
                    },
                ));
            }
            return;
        }
    }
    let Some(span) = &info.ddns_update_style else { return };
    let mut refuse = |statement: &str, reason: &str| {
        let kind = ErrorKind::NotYetSupported { statement: statement.into(), reason: reason.into() };
        if !errors.iter().any(|e| e.kind == kind) {
            errors.push(ConfigError::new(span, kind));
        }
    };
    let scopes = std::iter::once(("global scope".to_string(), &config.global)).chain(
        config.shared_networks.iter().flat_map(|n| {
            let subnets = n.subnets.iter().map(|s| (format!("subnet {}", s.network), &s.effective));
            let pools = n.pools.iter().map(|p| {
                (format!("pool {}", p.ranges.first().map_or_else(String::new, |r| r.start.to_string())), &p.effective)
            });
            subnets.chain(pools)
        }),
    );
    for (scope, e) in scopes {
        let d = &e.ddns;
        if !d.updates {
            continue;
        }
        if d.dual_stack_mixed_mode == Some(true) {
            refuse("ddns-dual-stack-mixed-mode true", &format!("dual-stack mixed mode is not implemented ({scope})"));
        }
        if d.local_address4 != config.global.ddns.local_address4 {
            refuse("ddns-local-address4", &format!("only one source address, set in the global scope ({scope})"));
        }
    }
    if let Some(crate::model::HostAddr::Name(n)) = &config.global.ddns.local_address4 {
        refuse("ddns-local-address4", &format!("an IPv4 address is needed, not the host name {n}"));
    }
    for h in &config.hosts {
        // A host's statements apply to its client after the pool's (dhcpd's ack_lease);
        // xdhcpd takes the DNS-update statements of the lease's subnet and pool only, so
        // any written in a host (or its groups) is refused rather than ignored.
        if h.own_sets_ddns {
            refuse(
                "DNS-update statements in a host declaration",
                &format!("host {}: set them in the subnet or pool", h.name),
            );
        }
    }
    for z in &config.zones {
        if z.primary.iter().chain(&z.secondary).any(|a| matches!(a, crate::model::HostAddr::Name(_))) {
            refuse("zone primary/secondary by host name", &format!("zone {}: give IPv4 addresses", z.name));
        }
    }
}

fn err(errors: &mut Vec<ConfigError>, span: &Span, kind: ErrorKind) {
    errors.push(ConfigError::new(span, kind));
}

/// Contiguous netmask, no host bits, each subnet once; each shared-network name once.
fn subnets(config: &Config, info: &Info, errors: &mut Vec<ConfigError>) {
    let mut seen: HashMap<(Ipv4Addr, Ipv4Addr), &Span> = HashMap::new();
    let mut names: HashMap<&str, &Span> = HashMap::new();
    for ((shared, infos), (sn_span, explicit)) in
        config.shared_networks.iter().zip(&info.subnets).zip(&info.shared_networks)
    {
        if *explicit {
            if let Some(first) = names.get(shared.name.as_str()) {
                err(
                    errors,
                    sn_span,
                    ErrorKind::Duplicate {
                        what: "shared-network".into(),
                        name: shared.name.clone(),
                        first: (*first).clone(),
                    },
                );
            } else {
                names.insert(&shared.name, sn_span);
            }
        }
        for (subnet, si) in shared.subnets.iter().zip(infos) {
            let mask = u32::from(subnet.netmask);
            if mask.leading_ones() + mask.trailing_zeros() != 32 {
                err(errors, &si.netmask_span, ErrorKind::NonContiguousNetmask { mask: subnet.netmask });
                continue;
            }
            if u32::from(subnet.network) & !mask != 0 {
                err(errors, &si.span, ErrorKind::HostBitsSet { network: subnet.network, mask: subnet.netmask });
                continue;
            }
            match seen.get(&(subnet.network, subnet.netmask)) {
                Some(first) => err(
                    errors,
                    &si.span,
                    ErrorKind::DuplicateSubnet {
                        subnet: format!("{}/{}", subnet.network, subnet.prefix_len),
                        first: (*first).clone(),
                    },
                ),
                None => {
                    seen.insert((subnet.network, subnet.netmask), &si.span);
                }
            }
        }
    }
}

fn show(r: &AddrRange) -> String {
    format!("{}-{}", r.start, r.end)
}

/// Order, containment in the subnet, and no overlap across all pools of all networks.
fn ranges(config: &Config, info: &Info, errors: &mut Vec<ConfigError>) {
    let mut all: Vec<(AddrRange, &Span)> = Vec::new();
    for (shared, infos) in config.shared_networks.iter().zip(&info.pools) {
        for (pool, pi) in shared.pools.iter().zip(infos) {
            for (r, span) in pool.ranges.iter().zip(&pi.ranges) {
                if r.start > r.end {
                    err(errors, span, ErrorKind::RangeReversed { start: r.start, end: r.end });
                    continue;
                }
                if pi.in_shared_network {
                    if !shared.subnets.iter().any(|s| s.contains(r.start) && s.contains(r.end)) {
                        err(errors, span, ErrorKind::RangeInNoSubnet { range: show(r), network: shared.name.clone() });
                    }
                } else if let Some(s) = shared.subnets.get(pool.subnet_index)
                    && !(s.contains(r.start) && s.contains(r.end))
                {
                    err(
                        errors,
                        span,
                        ErrorKind::RangeOutsideSubnet {
                            range: show(r),
                            subnet: format!("{}/{}", s.network, s.prefix_len),
                        },
                    );
                }
                all.push((*r, span));
            }
            if let (Some(peer), Some(span)) = (&pool.failover_peer, &pi.dynamic_bootp) {
                err(errors, span, ErrorKind::DynamicBootpInFailoverPool { peer: peer.clone() });
            }
        }
    }
    all.sort_by_key(|(r, _)| (r.start, r.end));
    let mut widest: Option<(AddrRange, &Span)> = None;
    for (r, span) in all {
        if let Some((w, wspan)) = widest {
            if r.start <= w.end {
                err(
                    errors,
                    span,
                    ErrorKind::RangeOverlap { range: show(&r), other_range: show(&w), other: wspan.clone() },
                );
            }
            if r.end > w.end {
                widest = Some((r, span));
            }
        } else {
            widest = Some((r, span));
        }
    }
}

/// Pool references, role rules, and unused peers.
fn peers(config: &Config, info: &Info, errors: &mut Vec<ConfigError>, warnings: &mut Vec<Warning>) {
    let mut declared: HashMap<&str, &Span> = HashMap::new();
    for d in &info.peers {
        if let Some(first) = declared.get(d.name.as_str()) {
            err(
                errors,
                &d.span,
                ErrorKind::Duplicate { what: "failover peer".into(), name: d.name.clone(), first: (*first).clone() },
            );
            continue;
        }
        declared.insert(&d.name, &d.span);
        let peer = d.name.clone();
        match d.role {
            Role::Secondary => {
                for (what, span) in [
                    ("mclt", d.mclt.as_ref().map(|x| &x.1)),
                    ("split", d.split.as_ref().map(|x| &x.1)),
                    ("hba", d.hba.as_ref().map(|x| &x.1)),
                ] {
                    if let Some(span) = span {
                        err(errors, span, ErrorKind::NotOnSecondary { peer: peer.clone(), statement: what.into() });
                    }
                }
            }
            Role::Primary => {
                if d.mclt.is_none() {
                    err(errors, &d.span, ErrorKind::PrimaryWithoutMclt { peer: peer.clone() });
                }
                if let (Some(_), Some((_, span))) = (&d.split, &d.hba) {
                    err(errors, span, ErrorKind::SplitAndHba { peer: peer.clone() });
                }
                if d.split.is_none() && d.hba.is_none() && d.hot_standby_reserve.is_none() {
                    warnings.push(Warning {
                        span: d.span.clone(),
                        kind: WarningKind::PrimaryWithoutSplit { name: peer.clone() },
                    });
                }
            }
        }
        if let Some((_, span)) = &d.hot_standby_reserve
            && (d.split.is_some() || d.hba.is_some())
        {
            err(errors, span, ErrorKind::HotStandbyAndSplit { peer: peer.clone() });
        }
    }
    let mut used: HashSet<&str> = HashSet::new();
    for (shared, infos) in config.shared_networks.iter().zip(&info.pools) {
        for (pool, pi) in shared.pools.iter().zip(infos) {
            if let (Some(name), Some(span)) = (&pool.failover_peer, &pi.failover) {
                used.insert(name);
                if !declared.contains_key(name.as_str()) {
                    err(errors, span, ErrorKind::UnknownFailoverPeer { name: name.clone() });
                }
            }
        }
    }
    for d in &info.peers {
        if !used.contains(d.name.as_str()) {
            warnings
                .push(Warning { span: d.span.clone(), kind: WarningKind::UnusedFailoverPeer { name: d.name.clone() } });
        }
    }
}

/// Host names are unique (dhcpd: "host NAME: already exists"). A hardware address or a
/// fixed address on several hosts is allowed, as in dhcpd, with a warning: a client is
/// answered from the first of its hosts with a fixed address on its network, and each
/// client from its own host.
fn hosts(config: &Config, info: &Info, errors: &mut Vec<ConfigError>, warnings: &mut Vec<Warning>) {
    let mut macs: HashMap<[u8; 6], (&str, &Span)> = HashMap::new();
    let mut fixed: HashMap<Ipv4Addr, (&str, &Span)> = HashMap::new();
    let mut names: HashMap<&str, &Span> = HashMap::new();
    for (host, hi) in config.hosts.iter().zip(&info.hosts) {
        match names.get(host.name.as_str()) {
            Some(first) => err(
                errors,
                &hi.span,
                ErrorKind::Duplicate { what: "host".into(), name: host.name.clone(), first: (*first).clone() },
            ),
            None => {
                names.insert(&host.name, &hi.span);
            }
        }
        if let (Some(mac), Some(span)) = (host.hardware_ethernet, &hi.hardware) {
            match macs.get(&mac) {
                Some((name, first)) => warnings.push(Warning {
                    span: span.clone(),
                    kind: WarningKind::SharedHardware {
                        mac: mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"),
                        host: (*name).to_string(),
                        first: (*first).clone(),
                    },
                }),
                None => {
                    macs.insert(mac, (&host.name, span));
                }
            }
        }
        for (addr, span) in host.fixed_addresses.iter().zip(&hi.fixed) {
            match fixed.get(addr) {
                Some((name, first)) => warnings.push(Warning {
                    span: span.clone(),
                    kind: WarningKind::SharedFixedAddress {
                        address: *addr,
                        host: (*name).to_string(),
                        first: (*first).clone(),
                    },
                }),
                None => {
                    fixed.insert(*addr, (&host.name, span));
                }
            }
        }
    }
}

/// Key names are unique and `omapi-key` names one of them.
fn keys(config: &Config, info: &Info, errors: &mut Vec<ConfigError>) {
    let mut seen: HashMap<&str, &Span> = HashMap::new();
    for (key, span) in config.keys.iter().zip(&info.keys) {
        match seen.get(key.name.as_str()) {
            Some(first) => err(
                errors,
                span,
                ErrorKind::Duplicate { what: "key".into(), name: key.name.clone(), first: (*first).clone() },
            ),
            None => {
                seen.insert(&key.name, span);
            }
        }
    }
    // Each use of a key needs the algorithm its protocol speaks.
    let uses = info
        .omapi_key
        .as_ref()
        .zip(config.omapi_key.as_ref())
        .map(|(span, name)| (name.as_str(), span, KeyAlgorithm::HmacMd5, "omapi-key"))
        .into_iter()
        .chain(info.peers.iter().filter_map(|d| {
            d.auth_key.as_ref().map(|(name, span)| (name.as_str(), span, KeyAlgorithm::HmacSha256, "auth-key"))
        }));
    for (name, span, wanted, used_by) in uses {
        match config.key(name) {
            None => err(errors, span, ErrorKind::UnknownKey { name: name.to_owned() }),
            Some(k) if k.algorithm != wanted => err(
                errors,
                span,
                ErrorKind::KeyAlgorithm {
                    name: name.to_owned(),
                    used_by: used_by.into(),
                    wanted: wanted.as_str().into(),
                    found: k.algorithm.as_str().into(),
                },
            ),
            Some(_) => {}
        }
    }
}
