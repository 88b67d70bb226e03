//! `cargo xtask bench engine`: the lease engine alone (no sockets).
//! - allocations per second (DISCOVER + REQUEST through `Engine::handle`) on 1 and 2 threads,
//! - memory per lease with 1,000,000 leases (resident set growth / leases),
//! - load time of a 1,000,000-lease dhcpd.leases file (parse + fold + restore).

use dhcp_user::dhcp::Engine;
use dhcp_user::dhcp::{EngineConfig, Network, Params, PoolCfg, RequestMeta, SubnetCfg};
use dhcp_user::lease::record;
use dhcp_user::time::Now;
use dhcproto::v4::{DhcpOption, Flags, HType, Message, MessageType, Opcode};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};
use std::net::Ipv4Addr;
use std::time::Instant;

const META: RequestMeta = RequestMeta { iface_addr: Ipv4Addr::new(198, 18, 0, 1), broadcast: true };

fn config(first: Ipv4Addr, count: u32) -> EngineConfig {
    let params =
        Params { default_lease_secs: 86_400, max_lease_secs: 86_400, authoritative: true, ..Params::default() };
    let last = Ipv4Addr::from(u32::from(first) + count - 1);
    EngineConfig {
        networks: vec![Network {
            name: "bench".into(),
            subnets: vec![SubnetCfg { network: Ipv4Addr::new(198, 18, 0, 0), prefix_len: 15, params: params.clone() }],
            pools: vec![PoolCfg {
                subnet: 0,
                ranges: vec![(first, last)],
                allow_unknown_clients: true,
                dynamic_bootp: false,
                failover_peer: None,
                params,
                permits: Vec::new(),
                prohibits: Vec::new(),
            }],
            first_pool_id: 0,
        }],
        hosts: vec![],
        global: Params::default(),
        offer_hold_secs: 30,
        abandon_lease_secs: 86_400,
        classes: Vec::new(),
    }
}

fn msg(t: MessageType, n: u32, extra: Vec<DhcpOption>) -> Vec<u8> {
    let mut m = Message::default();
    let b = n.to_be_bytes();
    m.set_opcode(Opcode::BootRequest)
        .set_htype(HType::Eth)
        .set_chaddr(&[0x52, 0x54, b[0], b[1], b[2], b[3]])
        .set_xid(n)
        .set_flags(Flags::default());
    m.opts_mut().clear();
    m.opts_mut().insert(DhcpOption::MessageType(t));
    for o in extra {
        m.opts_mut().insert(o);
    }
    let mut v = Vec::new();
    let _ = m.encode(&mut Encoder::new(&mut v));
    v
}

/// DISCOVER + REQUEST for clients `from..to`; returns leases bound.
fn allocate(e: &Engine, from: u32, to: u32) -> u32 {
    let mut bound = 0;
    for n in from..to {
        let offer = e.handle(Now::at(1_000), &META, &msg(MessageType::Discover, n, vec![]));
        let Some(r) = offer.reply else { continue };
        let Ok(m) = Message::decode(&mut Decoder::new(&r.bytes)) else { continue };
        let req = msg(
            MessageType::Request,
            n,
            vec![DhcpOption::ServerIdentifier(META.iface_addr), DhcpOption::RequestedIpAddress(m.yiaddr())],
        );
        if !e.handle(Now::at(1_000), &META, &req).durable.is_empty() {
            bound += 1;
        }
    }
    bound
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn main() -> anyhow::Result<()> {
    let n: u32 = 100_000;
    println!("== allocations (DISCOVER+REQUEST through Engine::handle, {n} clients, 131,072-address pool)");
    for threads in [1u32, 2] {
        let e = Engine::new(config(Ipv4Addr::new(198, 18, 0, 0), 131_072));
        let t = Instant::now();
        let per = n / threads;
        let bound: u32 = std::thread::scope(|s| {
            let hs: Vec<_> = (0..threads)
                .map(|i| {
                    let e = &e;
                    s.spawn(move || allocate(e, i * per, (i + 1) * per))
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        });
        let secs = t.elapsed().as_secs_f64();
        println!(
            "    {threads} thread(s): {bound} leases in {secs:.2} s = {:.0} allocations/s",
            f64::from(bound) / secs
        );
    }

    println!("== memory per lease (1,000,000 addresses, 1,000,000 bound leases)");
    let before = rss_bytes();
    let e = Engine::new(config(Ipv4Addr::new(198, 18, 0, 0), 1_000_000));
    let empty = rss_bytes();
    let bound = allocate(&e, 0, 1_000_000);
    let after = rss_bytes();
    println!(
        "    free pool: {:.0} B/address; bound: {:.0} B/lease ({bound} leases)",
        (empty - before) as f64 / 1e6,
        (after - before) as f64 / f64::from(bound.max(1))
    );

    println!("== load time of a 1,000,000-lease dhcpd.leases file");
    let dir = std::env::temp_dir().join(format!("xdhcpd-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("dhcpd.leases");
    let mut buf = dhcp_journal::header();
    for l in e.store().snapshot() {
        dhcp_journal::format::write_lease(&mut buf, &record::to_record(&l));
    }
    std::fs::write(&path, &buf)?;
    drop(e);
    let t = Instant::now();
    let (_file, parsed) = dhcp_journal::JournalFile::open(&path)?;
    let t_parse = t.elapsed();
    let state = dhcp_journal::record::fold(parsed.entries);
    let t_fold = t.elapsed();
    let e2 = Engine::new(config(Ipv4Addr::new(198, 18, 0, 0), 1_000_000));
    let t_pool = t.elapsed();
    let records: Vec<dhcp_journal::LeaseRecord> = state.leases.into_records();
    let restored = e2.restore_all(&records);
    let total = t.elapsed();
    println!(
        "    {} MB file: read+parse {:.2} s, fold {:.2} s, build pool {:.2} s, restore {restored} leases {:.2} s; total {:.2} s",
        buf.len() / 1_000_000,
        t_parse.as_secs_f64(),
        (t_fold - t_parse).as_secs_f64(),
        (t_pool - t_fold).as_secs_f64(),
        (total - t_pool).as_secs_f64(),
        total.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
