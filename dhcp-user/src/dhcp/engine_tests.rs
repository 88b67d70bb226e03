//! Dialogue tests of the engine: client messages in, replies and durable records out,
//! with an explicit clock.

use super::*;
use crate::dhcp::config::SubnetCfg;
use crate::dhcp::reply::Destination;
use dhcproto::v4::{Flags, HType};
use dhcproto::{Encodable, Encoder};

const IFACE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const META: RequestMeta = RequestMeta { iface_addr: IFACE, broadcast: true, tied_iface: None };

fn params() -> Params {
    Params {
        default_lease_secs: 600,
        max_lease_secs: 7200,
        authoritative: true,
        options: vec![(3, vec![198, 18, 0, 1]), (6, vec![198, 18, 0, 53]), (15, b"lab.test".to_vec())],
        ..Params::default()
    }
}

fn config(range: (u8, u8)) -> EngineConfig {
    let ranges = vec![(Ipv4Addr::new(198, 18, 0, range.0), Ipv4Addr::new(198, 18, 0, range.1))];
    let mut cfg = EngineConfig::single_pool("lab", (Ipv4Addr::new(198, 18, 0, 0), 24), ranges, None, params());
    cfg.hosts = vec![HostCfg {
        name: "printer".into(),
        hardware_ethernet: Some([0x52, 0x54, 0, 0, 0, 0x99]),
        client_identifier: None,
        fixed_addresses: vec![Ipv4Addr::new(198, 18, 0, 5)],
        fixed_address_declared: true,
        identifier: None,
        params: Params::default(),
    }];
    cfg
}

/// `config(range)` with its pool in failover relationship "lab".
fn failover_config(range: (u8, u8)) -> EngineConfig {
    let mut cfg = config(range);
    if let Some(p) = cfg.networks.first_mut().and_then(|n| n.pools.first_mut()) {
        p.failover_peer = Some("lab".into());
    }
    cfg
}

fn mac(n: u8) -> [u8; 6] {
    [0x52, 0x54, 0, 0, 0, n]
}

fn msg(t: MessageType, mac: [u8; 6], opts: Vec<DhcpOption>) -> Message {
    let mut m = Message::default();
    m.set_opcode(Opcode::BootRequest).set_htype(HType::Eth).set_chaddr(&mac).set_xid(42).set_flags(Flags::default());
    m.opts_mut().clear();
    m.opts_mut().insert(DhcpOption::MessageType(t));
    for o in opts {
        m.opts_mut().insert(o);
    }
    m
}

fn bytes(m: &Message) -> Vec<u8> {
    let mut b = Vec::new();
    m.encode(&mut Encoder::new(&mut b)).expect("encode");
    b
}

fn decode(r: &Reply) -> Message {
    Message::decode(&mut Decoder::new(&r.bytes)).expect("reply decodes")
}

/// DISCOVER → OFFER → REQUEST → ACK for one client.
fn dora(e: &Engine, now: u32, mac: [u8; 6]) -> (Ipv4Addr, Outcome) {
    let offer = e.handle(Now::at(now), &META, &bytes(&msg(MessageType::Discover, mac, vec![])));
    let reply = offer.reply.expect("offer");
    assert_eq!(reply.msg_type, MessageType::Offer);
    assert!(offer.durable.is_empty(), "an OFFER is not journaled");
    let ip = decode(&reply).yiaddr();
    let req =
        msg(MessageType::Request, mac, vec![DhcpOption::ServerIdentifier(IFACE), DhcpOption::RequestedIpAddress(ip)]);
    (ip, e.handle(Now::at(now), &META, &bytes(&req)))
}

#[test]
fn dora_binds_and_journals_before_ack() {
    let e = Engine::new(config((10, 20)));
    let (ip, ack) = dora(&e, 1000, mac(1));
    let reply = ack.reply.expect("ack");
    assert_eq!(reply.msg_type, MessageType::Ack);
    assert_eq!(ack.durable.len(), 1);
    let l = &ack.durable[0];
    assert_eq!((l.ip, l.state, l.starts, l.ends), (ip, BindingState::Active, 1000, 1600));
    let m = decode(&reply);
    assert_eq!(m.yiaddr(), ip);
    assert_eq!(m.opts().get(OptionCode::AddressLeaseTime), Some(&DhcpOption::AddressLeaseTime(600)));
    assert_eq!(m.opts().get(OptionCode::SubnetMask), Some(&DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0))));
    assert!(m.opts().get(OptionCode::Router).is_some());
    // No ciaddr, no broadcast flag, Ethernet: unicast to the hardware address.
    assert_eq!(reply.dest, Destination::UnicastHw { ip, chaddr: mac(1) });
}

#[test]
fn same_client_gets_same_address_and_others_differ() {
    let e = Engine::new(config((10, 20)));
    let (a, _) = dora(&e, 1000, mac(1));
    let (b, _) = dora(&e, 1000, mac(2));
    assert_ne!(a, b);
    let (a2, _) = dora(&e, 1100, mac(1));
    assert_eq!(a, a2);
}

#[test]
fn renew_is_acked_and_foreign_address_naked() {
    let e = Engine::new(config((10, 20)));
    let (ip, _) = dora(&e, 1000, mac(1));
    let mut renew = msg(MessageType::Request, mac(1), vec![]);
    renew.set_ciaddr(ip);
    let out = e.handle(Now::at(1300), &RequestMeta { broadcast: false, ..META }, &bytes(&renew));
    let r = out.reply.expect("renew ack");
    assert_eq!(r.msg_type, MessageType::Ack);
    assert_eq!(r.dest, Destination::Unicast(ip));
    assert_eq!(out.durable[0].ends, 1900);
    // Another client claims that address in INIT-REBOOT: NAK (authoritative).
    let steal = msg(MessageType::Request, mac(2), vec![DhcpOption::RequestedIpAddress(ip)]);
    let out = e.handle(Now::at(1300), &META, &bytes(&steal));
    assert_eq!(out.reply.map(|r| r.msg_type), Some(MessageType::Nak));
    // Wrong network: NAK.
    let moved = msg(MessageType::Request, mac(3), vec![DhcpOption::RequestedIpAddress(Ipv4Addr::new(10, 0, 0, 7))]);
    assert_eq!(e.handle(Now::at(1300), &META, &bytes(&moved)).reply.map(|r| r.msg_type), Some(MessageType::Nak));
}

#[test]
fn selecting_another_server_releases_the_offer() {
    let e = Engine::new(config((10, 10)));
    let offer = e.handle(Now::at(0), &META, &bytes(&msg(MessageType::Discover, mac(1), vec![])));
    let ip = decode(&offer.reply.expect("offer")).yiaddr();
    let other = msg(
        MessageType::Request,
        mac(1),
        vec![DhcpOption::ServerIdentifier(Ipv4Addr::new(198, 18, 0, 2)), DhcpOption::RequestedIpAddress(ip)],
    );
    let out = e.handle(Now::at(1), &META, &bytes(&other));
    assert_eq!(out.dropped, Some(DropReason::OtherServerSelected));
    // The single address is available again at once for another client.
    assert!(e.handle(Now::at(2), &META, &bytes(&msg(MessageType::Discover, mac(2), vec![]))).reply.is_some());
}

#[test]
fn pool_exhaustion_is_a_counted_drop() {
    let e = Engine::new(config((10, 11)));
    dora(&e, 0, mac(1));
    dora(&e, 0, mac(2));
    let out = e.handle(Now::at(0), &META, &bytes(&msg(MessageType::Discover, mac(3), vec![])));
    assert_eq!(out.dropped, Some(DropReason::NoFreeAddress));
}

#[test]
fn release_frees_and_expiry_reclaims() {
    let e = Engine::new(config((10, 10)));
    let (ip, _) = dora(&e, 0, mac(1));
    let mut rel = msg(MessageType::Release, mac(1), vec![DhcpOption::ServerIdentifier(IFACE)]);
    rel.set_ciaddr(ip);
    let out = e.handle(Now::at(10), &META, &bytes(&rel));
    assert!(out.reply.is_none());
    assert_eq!(out.durable[0].state, BindingState::Free);
    let (ip2, _) = dora(&e, 20, mac(2));
    assert_eq!(ip, ip2);
    // Expiry: after 600 s the lease returns to the pool.
    assert!(e.expire(Now::at(619), 100).is_empty());
    let freed = e.expire(Now::at(620), 100);
    assert_eq!(freed.len(), 1);
    assert!(dora(&e, 621, mac(3)).1.reply.is_some());
}

#[test]
fn decline_abandons_the_address() {
    let e = Engine::new(config((10, 10)));
    let (ip, _) = dora(&e, 0, mac(1));
    let dec = msg(
        MessageType::Decline,
        mac(1),
        vec![DhcpOption::RequestedIpAddress(ip), DhcpOption::ServerIdentifier(IFACE)],
    );
    let out = e.handle(Now::at(5), &META, &bytes(&dec));
    assert_eq!(out.durable[0].state, BindingState::Abandoned);
    let out = e.handle(Now::at(6), &META, &bytes(&msg(MessageType::Discover, mac(2), vec![])));
    assert_eq!(out.dropped, Some(DropReason::NoFreeAddress));
}

#[test]
fn reservation_takes_precedence() {
    let e = Engine::new(config((10, 20)));
    let (ip, ack) = dora(&e, 0, mac(0x99));
    assert_eq!(ip, Ipv4Addr::new(198, 18, 0, 5));
    assert!(ack.durable.is_empty(), "fixed addresses are not leases");
    assert_eq!(ack.reply.map(|r| r.msg_type), Some(MessageType::Ack));
}

#[test]
fn relayed_requests_use_giaddr() {
    let e = Engine::new(config((10, 20)));
    let mut d = msg(MessageType::Discover, mac(7), vec![]);
    d.set_giaddr(Ipv4Addr::new(198, 18, 0, 254));
    let out = e.handle(
        Now::at(0),
        &RequestMeta { iface_addr: Ipv4Addr::new(198, 19, 0, 1), broadcast: false, tied_iface: None },
        &bytes(&d),
    );
    let r = out.reply.expect("offer");
    assert_eq!(r.dest, Destination::Relay(Ipv4Addr::new(198, 18, 0, 254)));
    let mut unknown = d.clone();
    unknown.set_giaddr(Ipv4Addr::new(203, 0, 113, 1));
    assert_eq!(e.handle(Now::at(0), &META, &bytes(&unknown)).dropped, Some(DropReason::UnknownNetwork));
}

#[test]
fn inform_gets_options_without_a_lease() {
    let e = Engine::new(config((10, 20)));
    let mut inf = msg(MessageType::Inform, mac(4), vec![]);
    inf.set_ciaddr(Ipv4Addr::new(198, 18, 0, 77));
    let out = e.handle(Now::at(0), &META, &bytes(&inf));
    let r = out.reply.expect("ack");
    assert_eq!(r.dest, Destination::Unicast(Ipv4Addr::new(198, 18, 0, 77)));
    let m = decode(&r);
    assert_eq!(m.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert!(m.opts().get(OptionCode::AddressLeaseTime).is_none());
    assert!(out.durable.is_empty());
}

proptest::proptest! {
    /// Any bytes: a reply, a counted drop, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
        let e = Engine::new(config((10, 20)));
        let _ = e.handle(Now::at(0), &META, &data);
    }

    #[test]
    fn mutated_requests_never_panic(idx in 0usize..400, val in proptest::num::u8::ANY) {
        let e = Engine::new(config((10, 20)));
        let mut b = bytes(&msg(MessageType::Discover, mac(1), vec![DhcpOption::ClientIdentifier(vec![1, 2, 3])]));
        let i = idx % b.len();
        b[i] = val;
        let _ = e.handle(Now::at(0), &META, &b);
    }
}

#[test]
fn replaced_config_serves_new_options_and_new_pools_and_keeps_leases() {
    // One address, taken: the pool is exhausted until the reload adds a network.
    let e = Engine::new(config((10, 10)));
    let (first, ack) = dora(&e, 1000, mac(1));
    assert!(ack.reply.is_some());
    let exhausted = e.handle(Now::at(1000), &META, &bytes(&msg(MessageType::Discover, mac(2), vec![])));
    assert_eq!(exhausted.dropped, Some(DropReason::NoFreeAddress));

    let mut next = config((10, 12));
    next.networks[0].pools[0].params.options.retain(|(c, _)| *c != 15);
    next.networks[0].pools[0].params.options.push((15, b"reloaded.test".to_vec()));
    next.networks.push(Network {
        name: "relayed".into(),
        subnets: vec![SubnetCfg { network: Ipv4Addr::new(198, 18, 1, 0), prefix_len: 24, params: params() }],
        pools: vec![PoolCfg {
            subnet: 0,
            ranges: vec![(Ipv4Addr::new(198, 18, 1, 10), Ipv4Addr::new(198, 18, 1, 10))],
            allow_unknown_clients: true,
            dynamic_bootp: false,
            failover_peer: None,
            params: params(),
            permits: Vec::new(),
            prohibits: Vec::new(),
        }],
        first_pool_id: 1,
    });
    e.replace_config(next);

    // The lease granted before the reload is still bound to its client.
    let kept = e.store().get(first).expect("lease kept");
    assert_eq!(
        (kept.state, kept.client),
        (BindingState::Active, Some(client_key(&msg(MessageType::Request, mac(1), vec![]))))
    );
    // A grown range is allocatable and carries the new option value.
    let (ip, ack) = dora(&e, 1001, mac(2));
    assert_ne!(ip, first);
    let m = decode(&ack.reply.expect("ack after reload"));
    assert_eq!(m.opts().get(OptionCode::DomainName), Some(&DhcpOption::DomainName("reloaded.test".into())));
    // The new network's pool (id 1) has its own free queue.
    let relayed = RequestMeta { iface_addr: Ipv4Addr::new(198, 18, 1, 1), broadcast: true, tied_iface: None };
    let offer = e.handle(Now::at(1002), &relayed, &bytes(&msg(MessageType::Discover, mac(3), vec![])));
    assert_eq!(decode(&offer.reply.expect("offer from the new pool")).yiaddr(), Ipv4Addr::new(198, 18, 1, 10));
}

#[test]
fn reloads_during_traffic_never_hand_out_an_address_twice() {
    // Two workers bind 2 × 90 clients while the configuration is replaced 50 times (the
    // range grows each time): every client gets its own address and every ACK is consistent
    // with one of the configurations.
    let e = std::sync::Arc::new(Engine::new(config((10, 200))));
    let workers: Vec<_> = (0..2u8)
        .map(|t| {
            let e = e.clone();
            std::thread::spawn(move || {
                (0..90u8)
                    .map(|i| {
                        let m = [0x52, 0x54, 0, t, 0, i];
                        let (ip, ack) = dora(&e, 1000, m);
                        let reply = ack.reply.map(|r| decode(&r));
                        (ip, reply.map(|r| r.opts().get(OptionCode::DomainName).cloned()))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for n in 0..50u8 {
        let mut next = config((10, 200 + n));
        next.networks[0].pools[0].params.options.retain(|(c, _)| *c != 15);
        next.networks[0].pools[0].params.options.push((15, format!("r{n}.test").into_bytes()));
        e.replace_config(next);
    }
    let mut ips = Vec::new();
    for w in workers {
        for (ip, domain) in w.join().unwrap_or_default() {
            let domain = domain.flatten();
            let ok = matches!(&domain, Some(DhcpOption::DomainName(d)) if d == "lab.test" || (d.starts_with('r') && d.ends_with(".test")));
            assert!(ok, "{ip}: {domain:?}");
            ips.push(ip);
        }
    }
    assert_eq!(ips.len(), 180);
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 180, "an address was bound twice");
    assert!(ips.iter().all(|ip| e.store().get(*ip).is_some_and(|l| l.state == BindingState::Active)));
}

#[test]
fn pool_balancing_gives_the_secondary_the_addresses_of_its_clients_first() {
    let cfg = failover_config((100, 139));
    let e = Engine::new(cfg);
    let hba = dhcp_common::Hba::from_split(128);
    e.set_failover("lab", crate::failover::FailoverView::normal_primary_for_tests());
    // 40 free leases, each last held by a client; the most recently used first, so that
    // least-recently-used order alone would pick the other half.
    let mut secondary_clients = 0;
    for i in 0..40u8 {
        let ip = Ipv4Addr::new(198, 18, 0, 100 + i);
        let mut l = Lease::free(ip, 0);
        l.client = Some(ClientKey::from_hw(1, &mac(i)));
        l.starts = 5000 - u32::from(i);
        if !hba.primary_serves(dhcp_common::lb_hash(&mac(i))) {
            secondary_clients += 1;
        }
        e.restore(l);
    }
    let moved = e.rebalance("lab", Now::at(6000), 15, None);
    assert_eq!(moved.len(), 20, "half of the free leases go to the secondary");
    let to_secondary_clients = moved
        .iter()
        .filter(|l| l.client.as_ref().is_some_and(|k| !hba.primary_serves(dhcp_common::lb_hash(k.hash_key()))))
        .count();
    assert_eq!(to_secondary_clients, secondary_clients.min(20), "the secondary's clients' addresses go first");
    assert!(moved.iter().all(|l| l.state == BindingState::Backup));
}

/// A lease freed by the partner's ack of its expiry carries that ack's potential expiry
/// (`atsfp`), which may lie after now. Its move to BACKUP must still count as unsent until
/// acked, so that entering NORMAL after a crash sends it again (sim seed 77041).
#[test]
fn a_balancing_move_stays_pending_until_acked() {
    let cfg = failover_config((100, 101));
    let e = Engine::new(cfg);
    e.set_failover("lab", crate::failover::FailoverView::normal_primary_for_tests());
    for i in 0..2u8 {
        let mut l = Lease::free(Ipv4Addr::new(198, 18, 0, 100 + i), 0);
        l.tstp = 6_045;
        l.tsfp = 6_045;
        l.atsfp = 6_045;
        e.restore(l);
    }
    let moved = e.rebalance("lab", Now::at(6_000), 15, None);
    assert_eq!(moved.len(), 1);
    let ip = moved[0].ip;
    let pending: Vec<_> = e.relationship_leases("lab", true).into_iter().map(|l| l.ip).collect();
    assert_eq!(pending, vec![ip], "the move is pending");
    let tstp = moved[0].tstp;
    assert!(tstp <= 6_000, "a free-state update's tstp is not ahead (the secondary refuses it for an EXPIRED lease)");
    let _ = e.binding_acked(ip, tstp, false);
    assert!(e.relationship_leases("lab", true).is_empty(), "acked, nothing pending");
}

/// A partner in RECOVER may have renewed clients out of contact up to `tsfp + mclt`, then lost
/// the record: those leases stay bound until then, expired ones too (sim seed 76848).
#[test]
fn an_amnesic_partners_possible_grants_stay_bound_until_tsfp_plus_mclt() {
    let cfg = failover_config((100, 103));
    let e = Engine::new(cfg);
    e.set_failover("lab", crate::failover::FailoverView::normal_primary_for_tests());
    let ip = |i: u8| Ipv4Addr::new(198, 18, 0, 100 + i);
    let lease = |i: u8, state: BindingState, ends: u32, tsfp: u32| {
        let mut l = Lease::free(ip(i), 0);
        l.state = state;
        l.client = Some(ClientKey::from_hw(1, &mac(i)));
        l.ends = ends;
        l.tsfp = tsfp;
        l
    };
    e.restore(lease(0, BindingState::Active, 1_100, 1_500)); // renewable to 1_560
    e.restore(lease(1, BindingState::Expired, 900, 1_200)); // renewable to 1_260
    e.restore(lease(2, BindingState::Expired, 800, 900)); // its 960 has passed
    e.restore(lease(3, BindingState::Active, 2_000, 1_000)); // already bound past 1_060
    let held = e.hold_for_amnesic_partner("lab", 1_000, 60);
    let mut ips: Vec<_> = held.iter().map(|l| l.ip).collect();
    ips.sort();
    assert_eq!(ips, vec![ip(0), ip(1)]);
    let l0 = e.store().get(ip(0)).unwrap();
    assert_eq!((l0.state, l0.ends), (BindingState::Active, 1_560));
    let l1 = e.store().get(ip(1)).unwrap();
    assert_eq!((l1.state, l1.ends), (BindingState::Active, 1_260));
    assert!(l1.tstp >= 1_260, "sent as bound until then");
    assert_eq!(e.store().get(ip(2)).unwrap().state, BindingState::Expired);
    assert_eq!(e.store().get(ip(3)).unwrap().ends, 2_000);
}

/// Issue 10's second hole: a partner's update was checked against a copy of the lease and
/// then written unconditionally, while a worker could bind the address in between. Here the
/// primary's worker binds a FREE address while the secondary's update moves it to BACKUP.
/// Either may go first, but a bind that succeeded (its ACK would leave) must never be
/// overwritten: dhcpd's acceptance check refuses BACKUP over ACTIVE on a primary.
#[test]
fn a_partner_update_never_overwrites_a_concurrent_local_bind() {
    let cfg = failover_config((100, 139));
    let e = Arc::new(Engine::new(cfg));
    e.set_failover("lab", crate::failover::FailoverView::normal_primary_for_tests());
    const ROUNDS: u32 = 100_000;
    let ip = Ipv4Addr::new(198, 18, 0, 100);
    let key = ClientKey::from_hw(1, &mac(1));
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let partner = {
        let (e, barrier) = (e.clone(), barrier.clone());
        std::thread::spawn(move || {
            let mut accepted = Vec::new();
            for round in 0..ROUNDS {
                barrier.wait();
                let b = Binding {
                    ip,
                    status: BindingState::Backup.into(),
                    client_id: None,
                    chaddr: None,
                    ends: 0,
                    tstp: 0,
                    starts: 5000 + round,
                    cltt: 0,
                    ip_flags: Default::default(),
                    vendor: None,
                };
                accepted.push(e.apply_binding("lab", Now::at(6000 + round), &b, None).is_ok());
                barrier.wait();
            }
            accepted
        })
    };
    let mut both = Vec::new();
    for round in 0..ROUNDS {
        e.restore(Lease::free(ip, 0));
        barrier.wait();
        let now = 6000 + round;
        let bound = e.store().update_if_available(ip, &key, Take::Free, now, |l| {
            l.state = BindingState::Active;
            l.client = Some(key.clone());
            l.starts = now;
            l.cltt = now;
            l.ends = now + 600;
        });
        barrier.wait();
        let end = e.store().get(ip).map(|l| l.state);
        if bound.is_some() && end != Some(BindingState::Active) {
            both.push((round, end));
        }
    }
    let accepted = partner.join().expect("partner thread");
    let partner_won = accepted.iter().filter(|a| **a).count();
    assert!(
        both.is_empty(),
        "{} of {ROUNDS} local binds were overwritten by the partner's update (partner accepted {partner_won}), e.g. {:?}",
        both.len(),
        &both[..both.len().min(3)]
    );
}

/// Found by the live migration (tests/migrate.rs): a client renewing after its lease expired
/// asked a server for an address that had gone back to the partner's free state, and got a
/// NAK; dhcpd 4.4 drops such a REQUEST ("lease owned by peer", "lease in transition state"),
/// so that the client rebinds by broadcast and the owner answers. Here a primary in NORMAL:
/// BACKUP is the secondary's, EXPIRED waits for the partner's acknowledgement, FREE is ours.
#[test]
fn a_request_for_an_address_the_partner_owns_is_dropped_not_naked() {
    let cfg = failover_config((100, 139));
    let e = Engine::new(cfg);
    e.set_failover("lab", crate::failover::FailoverView::normal_primary_for_tests());
    let ip = Ipv4Addr::new(198, 18, 0, 100);
    let renew = |state: BindingState| {
        let mut l = Lease::free(ip, 0);
        l.state = state;
        l.client = Some(ClientKey::from_hw(1, &mac(1)));
        l.starts = 4000;
        l.ends = 4600;
        e.restore(l);
        let mut req = msg(MessageType::Request, mac(1), vec![]);
        req.set_ciaddr(ip);
        e.handle(Now::at(5000), &RequestMeta { broadcast: false, ..META }, &bytes(&req))
    };
    for state in [BindingState::Backup, BindingState::Expired, BindingState::Released] {
        let out = renew(state);
        assert!(out.reply.is_none(), "{state:?}: {:?}", out.reply.map(|r| r.msg_type));
        assert_eq!(out.dropped, Some(DropReason::OwnedByPartner), "{state:?}");
        assert!(out.durable.is_empty(), "{state:?}");
    }
    // The primary's own FREE lease of the same client: renewed.
    let out = renew(BindingState::Free);
    assert_eq!(out.reply.map(|r| r.msg_type), Some(MessageType::Ack));
    assert_eq!(out.durable.first().map(|l| l.state), Some(BindingState::Active));
}

/// The packet fuzz target's check, run here on every build: requests built from a
/// deterministic pseudo-random stream (valid DHCP headers with random options, and raw
/// garbage) through a class-heavy configuration are each answered or dropped, never a
/// panic, and evaluation of its expressions terminates.
#[test]
fn expressions_never_panic_on_any_packet() {
    let conf = include_str!("testdata/classes.conf");
    let parsed = dhcp_config::parse_str("classes.conf", conf, &dhcp_config::MemoryLoader::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let e = Engine::new(crate::conf::engine_config(&parsed.config));
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut replies, mut drops) = (0, 0);
    for i in 0..3000u32 {
        let mut p = if i % 3 == 0 {
            (0..(next() % 700)).map(|_| next() as u8).collect::<Vec<u8>>()
        } else {
            let mut m = msg(MessageType::Discover, mac((next() % 9) as u8), vec![]);
            if i % 5 == 0 {
                m.set_giaddr(Ipv4Addr::new(198, 18, 0, 1));
            }
            bytes(&m)
        };
        // Random options (codes, lengths that may run past the end) after the cookie.
        if i % 3 != 0 && p.len() > 240 {
            p.truncate(243);
            for _ in 0..(next() % 12) {
                let code = [60, 77, 93, 82, 12, 15, 55, next() % 256][(next() % 8) as usize] as u8;
                let len = (next() % 40) as u8;
                p.push(code);
                p.push(len);
                p.extend((0..len).map(|_| next() as u8));
            }
            if next() % 4 != 0 {
                p.push(255);
            }
        }
        let out = e.handle(Now::at(1000 + i), &META, &p);
        if out.reply.is_some() {
            replies += 1;
        } else {
            drops += 1;
        }
    }
    assert!(replies > 100 && drops > 100, "replies {replies}, drops {drops}");
}

/// The same configuration, with whole exchanges: random clients (some relayed with
/// random circuit ids, so lease limits bill and refuse) DISCOVER, REQUEST, RELEASE and
/// expire; every statement kind runs, never a panic, and the queue of programs stays
/// within its bound.
#[test]
fn exchanges_through_every_statement_kind_never_panic() {
    let conf = include_str!("testdata/classes.conf");
    let parsed = dhcp_config::parse_str("classes.conf", conf, &dhcp_config::MemoryLoader::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let e = Engine::new(crate::conf::engine_config(&parsed.config));
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut acks = 0;
    for i in 0..2000u32 {
        let m = mac((next() % 40) as u8);
        let mut opts = vec![];
        if next() % 2 == 0 {
            opts.push(DhcpOption::Unknown(dhcproto::v4::UnknownOption::new(OptionCode::from(77), b"iPXE".to_vec())));
        }
        let mut d = bytes(&msg(MessageType::Discover, m, opts.clone()));
        if next() % 3 == 0 {
            // A relay agent option with a random circuit id, written once by hand.
            let end = d.iter().rposition(|x| *x == 255).unwrap_or(d.len());
            let cid = [b'p', (next() % 3) as u8];
            d.splice(end..end, [82, 4, 1, 2, cid[0], cid[1]]);
        }
        let now = 1000 + i * 10;
        let Some(offer) = e.handle(Now::at(now), &META, &d).reply else { continue };
        let ip = decode(&offer).yiaddr();
        let mut req_opts = opts;
        req_opts.push(DhcpOption::ServerIdentifier(IFACE));
        req_opts.push(DhcpOption::RequestedIpAddress(ip));
        if e.handle(Now::at(now), &META, &bytes(&msg(MessageType::Request, m, req_opts))).reply.is_some() {
            acks += 1;
        }
        if next() % 4 == 0 {
            let mut rel = msg(MessageType::Release, m, vec![]);
            rel.set_ciaddr(ip);
            e.handle(Now::at(now), &META, &bytes(&rel));
        }
        e.expire(Now::at(now), 100);
    }
    assert!(acks > 100, "{acks} leases granted");
    assert!(e.hooks().take().len() <= super::classify::HookQueue::MAX);
}

/// DDNS in a failover pool: a partner's release of a binding whose records this server
/// added queues their removal here when the partner could not know them (a dhcpd partner,
/// no option 29), and not when the partner said it holds the same names (it removes them).
#[test]
fn a_partners_release_removes_our_records_only_when_it_did_not_know_them() {
    let mut cfg = config((100, 103));
    cfg.ddns_style = Some(crate::ddns::Style::Interim);
    if let Some(p) = cfg.networks.first_mut().and_then(|n| n.pools.first_mut()) {
        p.failover_peer = Some("lab".into());
    }
    let e = Engine::new(cfg);
    e.set_failover("lab", crate::failover::FailoverView::normal_primary_for_tests());
    let ip = Ipv4Addr::new(198, 18, 0, 100);
    let names = vec![
        ("ddns-fwd-name".to_string(), b"laptop.lab.test".to_vec()),
        ("ddns-txt".to_string(), b"31aabbccddeeff00112233445566778899".to_vec()),
        ("ddns-rev-name".to_string(), b"100.0.18.198.in-addr.arpa.".to_vec()),
    ];
    let bound = || {
        let mut l = Lease::free(ip, 0);
        l.state = BindingState::Active;
        l.hw = Some(HwAddr::new(1, &mac(1)));
        l.client = Some(ClientKey::from_hw(1, &mac(1)));
        l.starts = 1_000;
        l.ends = 1_600;
        l.cltt = 1_000;
        l.vars = Some(Box::new(dhcp_config::Vars::from_data(names.clone())));
        l
    };
    let released = |vendor: Option<Vec<u8>>| Binding {
        ip,
        status: BindingState::Released.into(),
        client_id: None,
        chaddr: Some([&[1u8][..], &mac(1)].concat()),
        ends: 1_200,
        tstp: 1_200,
        starts: 1_200,
        cltt: 1_200,
        ip_flags: Default::default(),
        vendor,
    };
    let state = |vars: Vec<(String, Vec<u8>)>| dhcp_failover::wire::vendor::XdhcpdVendor { vars }.encode().ok();

    // A dhcpd partner: the removal is ours, and the names stay until it is done.
    e.restore(bound());
    let l = e.apply_binding("lab", Now::at(1_200), &released(None), None).expect("accepted");
    assert_eq!(l.state, BindingState::Free);
    match l.ddns.as_deref() {
        Some(crate::ddns::Job::Remove(r)) => {
            assert_eq!(r.fwd.as_ref().map(|(n, _)| n.to_ascii()), Some("laptop.lab.test.".to_string()));
            assert!(r.rev_name.is_some());
        }
        other => panic!("expected a removal, got {other:?}"),
    }
    assert!(e.store().get(ip).and_then(|l| l.vars).is_some());
    assert!(e.store().get(ip).is_some_and(|l| l.ddns.is_none()), "the job is not kept in the store");

    // An xdhcpd partner that knew nothing of them: ours to remove too.
    e.restore(bound());
    let l = e.apply_binding("lab", Now::at(1_200), &released(state(vec![])), None).expect("accepted");
    assert!(l.ddns.is_some());

    // An xdhcpd partner holding the same names removes them itself: we forget them.
    e.restore(bound());
    let l = e.apply_binding("lab", Now::at(1_200), &released(state(names.clone())), None).expect("accepted");
    assert!(l.ddns.is_none());
    assert_eq!(l.vars, None);
}

/// `ddns-hostname = EXPR;` names each client from its own packet (here its hardware
/// address, after the dhcpd.conf(5) example); an unconditional `ddns-hostname` written
/// later in the client's scope chain wins over it. The ACK answers an FQDN client with
/// the name used, S and O set (dhcpd's flags).
#[test]
fn ddns_hostname_from_an_expression_names_each_client() {
    let conf = "ddns-update-style interim;\nddns-domainname \"lab.test\";\n\
                ddns-hostname = concat (\"dyn-\", binary-to-ascii (16, 8, \"-\", substring (hardware, 1, 6)));\n\
                subnet 198.18.0.0 netmask 255.255.255.0 {\n  range 198.18.0.100 198.18.0.110;\n}\n\
                subnet 198.18.1.0 netmask 255.255.255.0 {\n  ddns-hostname \"fixed\";\n  range 198.18.1.100 198.18.1.110;\n}\n";
    let parsed =
        dhcp_config::parse_str("t.conf", conf, &dhcp_config::MemoryLoader::default()).unwrap_or_else(|e| panic!("{e}"));
    let e = Engine::new(crate::conf::engine_config(&parsed.config));
    let fwd_of = |o: &Outcome| match o.durable.last().and_then(|l| l.ddns.as_deref()) {
        Some(crate::ddns::Job::Add(a)) => a.fwd.as_ref().map(|f| f.name.to_ascii()),
        other => panic!("expected an add, got {other:?}"),
    };
    let (_, out) = dora(&e, 1000, mac(1));
    assert_eq!(fwd_of(&out).as_deref(), Some("dyn-52-54-0-0-0-1.lab.test."));
    // The ACK to a client sending option 81 (S set, text form): S and O, the name used.
    let fqdn =
        DhcpOption::Unknown(dhcproto::v4::UnknownOption::new(OptionCode::ClientFQDN, b"\x01\x00\x00pc".to_vec()));
    let offer = e.handle(Now::at(1000), &META, &bytes(&msg(MessageType::Discover, mac(2), vec![fqdn.clone()])));
    let offered = decode(&offer.reply.expect("offer"));
    assert!(offered.opts().get(OptionCode::ClientFQDN).is_none(), "no option 81 in an OFFER (dhcpd's neither)");
    let req = msg(
        MessageType::Request,
        mac(2),
        vec![DhcpOption::ServerIdentifier(IFACE), DhcpOption::RequestedIpAddress(offered.yiaddr()), fqdn],
    );
    let out = e.handle(Now::at(1000), &META, &bytes(&req));
    assert_eq!(fwd_of(&out).as_deref(), Some("dyn-52-54-0-0-0-2.lab.test."));
    // Read from the bytes: dhcproto does not decode a text-form option 81.
    let sent = out.reply.as_ref().map(|r| r.bytes.clone()).expect("ack");
    let want = b"\x03\xff\xffdyn-52-54-0-0-0-2.lab.test";
    let at = sent.windows(want.len()).position(|w| w == want).expect("option 81 in the ACK");
    let raw = sent[at - 2..at + want.len()].to_vec();
    assert_eq!(raw, [&[81u8, want.len() as u8][..], want].concat());
    // In the subnet whose own statement comes later, the written name wins.
    let relayed = |t: MessageType, opts: Vec<DhcpOption>| {
        let mut m = msg(t, mac(3), opts);
        m.set_giaddr(Ipv4Addr::new(198, 18, 1, 1));
        bytes(&m)
    };
    let offer = e.handle(Now::at(1000), &META, &relayed(MessageType::Discover, vec![]));
    let ip = decode(&offer.reply.expect("offer")).yiaddr();
    let out = e.handle(
        Now::at(1000),
        &META,
        &relayed(MessageType::Request, vec![DhcpOption::ServerIdentifier(IFACE), DhcpOption::RequestedIpAddress(ip)]),
    );
    assert_eq!(fwd_of(&out).as_deref(), Some("fixed.lab.test."));
}

/// A client that sends its DISCOVER again before it REQUESTs (its OFFER was lost, or it is
/// slow: every client after a power cut) is offered the address it holds an offer for, not
/// one more. Otherwise each retransmission holds another address for the offer's life, and
/// an avalanche of clients exhausts a pool with room to spare (issue 14: 100,000 clients
/// into 120,000 addresses ran dry and left clients REQUESTing addresses given away).
#[test]
fn a_discover_sent_again_is_offered_the_address_already_offered() {
    let e = Engine::new(config((10, 12)));
    let discover = |n: u8, at: u32| {
        let out = e.handle(Now::at(at), &META, &bytes(&msg(MessageType::Discover, mac(n), vec![])));
        out.reply.map(|r| decode(&r).yiaddr())
    };
    let first = discover(1, 0).expect("offer");
    for at in 1..10 {
        assert_eq!(discover(1, at), Some(first), "retransmission {at} offered another address");
    }
    // The other two addresses are still there for two other clients.
    let b = discover(2, 10).expect("offer for a second client");
    let c = discover(3, 10).expect("offer for a third client");
    assert!(b != first && c != first && b != c);
    // Once the hold lapsed, a client asks again and is offered an address (its old one, as
    // nobody took it meanwhile).
    assert_eq!(discover(1, 100), Some(first));
}

/// An offer to a client that has a bound lease elsewhere in the network does not take the
/// bound lease's place: after the offer lapses its next DISCOVER still finds its lease.
#[test]
fn an_offer_does_not_hide_the_clients_bound_lease() {
    let e = Engine::new(config((10, 12)));
    let (bound, _) = dora(&e, 0, mac(1));
    let again = e.handle(Now::at(5), &META, &bytes(&msg(MessageType::Discover, mac(1), vec![])));
    assert_eq!(again.reply.map(|r| decode(&r).yiaddr()), Some(bound));
}

/// A partner's update that grants the same client less than the binding held here, with no
/// update of ours in flight (a worker's binding whose write is still in flight is not known
/// to the relationship yet), is refused as outdated: the client may hold the longer grant
/// (simulation seed 12477). A longer grant from the partner, or one for another client, is
/// applied as before.
#[test]
fn a_shorter_grant_from_the_partner_does_not_replace_a_longer_one_of_the_same_client() {
    let cfg = failover_config((100, 139));
    let e = Engine::new(cfg);
    e.set_failover("lab", crate::failover::FailoverView::normal_primary_for_tests());
    let ip = Ipv4Addr::new(198, 18, 0, 100);
    let key = ClientKey::from_hw(1, &mac(1));
    e.store().update_if_available(ip, &key, Take::Free, 6000, |l| {
        l.state = BindingState::Active;
        l.client = Some(key.clone());
        l.hw = Some(HwAddr::new(1, &mac(1)));
        l.starts = 6000;
        l.cltt = 6000;
        l.ends = 6090;
    });
    let grant = |ends: u32, m: u8| Binding {
        ip,
        status: BindingState::Active.into(),
        client_id: None,
        chaddr: Some([&[1u8][..], &mac(m)[..]].concat()),
        ends,
        tstp: ends + 75,
        starts: 6001,
        cltt: 6001,
        ip_flags: Default::default(),
        vendor: None,
    };
    let refused = e.apply_binding("lab", Now::at(6002), &grant(6030, 1), None);
    assert_eq!(refused.map(|l| l.ends).map_err(|(r, _)| r), Err(dhcp_failover::wire::RejectReason::OUTDATED_BIND_INFO));
    assert_eq!(e.store().get(ip).map(|l| l.ends), Some(6090), "the longer grant stays");
    let longer = e.apply_binding("lab", Now::at(6003), &grant(6200, 1), None).expect("a longer grant is applied");
    assert_eq!(longer.ends, 6200);
}

/// A renewal granted for less than the client already holds (it asked for less, or the
/// MCLT rule allows no more) tells the client the shorter time but does not shorten what
/// the server keeps: that ACK may never reach the client (withheld when its write fails),
/// and the client then holds the earlier, longer lease (simulation seeds 75226, 27184).
#[test]
fn a_shorter_renewal_does_not_shorten_what_the_server_keeps() {
    let e = Engine::new(config((10, 20)));
    let (ip, ack) = dora(&e, 1000, mac(1));
    assert_eq!(ack.durable[0].ends, 1600);
    let mut renew = msg(MessageType::Request, mac(1), vec![DhcpOption::AddressLeaseTime(60)]);
    renew.set_ciaddr(ip);
    let out = e.handle(Now::at(1100), &RequestMeta { broadcast: false, ..META }, &bytes(&renew));
    let reply = decode(&out.reply.expect("ack"));
    assert_eq!(reply.opts().get(OptionCode::AddressLeaseTime), Some(&DhcpOption::AddressLeaseTime(60)));
    assert_eq!(out.durable[0].ends, 1600, "the end of the earlier ACK is kept");
    // Once that end is near, a renewal is what it grants.
    let out = e.handle(Now::at(1590), &RequestMeta { broadcast: false, ..META }, &bytes(&renew));
    assert_eq!(out.durable[0].ends, 1650);
}

/// The lease file says where a bound lease's expiry takes it, as dhcpd writes it (`next
/// binding state free;`, or `expired` in a failover pool): dhcpd reads a record without the
/// line as staying bound, so a dhcpd given xdhcpd's file (a migration back) never expired
/// those leases nor ran their `on expiry` statements. Free records say nothing more.
#[test]
fn a_bound_leases_record_says_where_its_expiry_takes_it() {
    let plain = Engine::new(config((10, 20)));
    let (ip, ack) = dora(&plain, 1000, mac(1));
    assert_eq!(ack.reply.map(|r| r.msg_type), Some(MessageType::Ack));
    let l = plain.store().get(ip).expect("bound");
    assert_eq!(plain.lease_record(&l).next_binding_state, Some(BindingState::Free));
    let free = Lease::free(Ipv4Addr::new(198, 18, 0, 15), 0);
    assert_eq!(plain.lease_record(&free).next_binding_state, None);

    let paired = Engine::new(failover_config((100, 101)));
    let mut bound = Lease::free(Ipv4Addr::new(198, 18, 0, 100), 0);
    bound.state = BindingState::Active;
    bound.ends = 5_000;
    assert_eq!(paired.lease_record(&bound).next_binding_state, Some(BindingState::Expired));
    // Written and read back as the journal writes it.
    let mut buf = dhcp_journal::header();
    dhcp_journal::format::write_lease(&mut buf, &paired.lease_record(&bound));
    assert!(String::from_utf8_lossy(&buf).contains("next binding state expired;"));
}
