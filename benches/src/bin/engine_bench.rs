//! `cargo xtask bench engine`: the lease engine alone (no sockets).
//! - allocations per second (DISCOVER + REQUEST through `Engine::handle`) on 1 and 2 threads,
//! - memory per lease with 1,000,000 leases (resident set growth / leases),
//! - load time of a 1,000,000-lease dhcpd.leases file (parse + fold + restore),
//! - classes: CPU per lease with a class-heavy dhcpd.conf beside a plain one, same run
//!   (`engine_bench classes` runs only this part).

use dhcp_user::dhcp::Engine;
use dhcp_user::dhcp::{EngineConfig, Params, RequestMeta};
use dhcp_user::lease::record;
use dhcp_user::time::Now;
use dhcproto::v4::{DhcpOption, Flags, HType, Message, MessageType, Opcode};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};
use std::net::Ipv4Addr;
use std::time::Instant;

const META: RequestMeta = RequestMeta { iface_addr: Ipv4Addr::new(198, 18, 0, 1), broadcast: true, tied_iface: None };

/// A pool tuned for load: `ping-check false` (dhcpd's default pings every new address
/// before offering it; a server under load is configured without).
fn config(first: Ipv4Addr, count: u32) -> EngineConfig {
    let params = Params {
        default_lease_secs: 86_400,
        max_lease_secs: 86_400,
        authoritative: true,
        ping_check: false,
        ..Params::default()
    };
    let last = Ipv4Addr::from(u32::from(first) + count - 1);
    EngineConfig::single_pool("bench", (Ipv4Addr::new(198, 18, 0, 0), 15), vec![(first, last)], None, params)
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

/// A plain configuration and a class-heavy one (PXE, iPXE and VoIP classes by vendor
/// and user class, a subclass table on the hardware address, `if`/`elsif` on the PXE
/// architecture, an option from an expression, pool permits, 500 hosts), same pool.
fn class_configs() -> (String, String) {
    let subnet = |inner: &str| {
        format!(
            "subnet 198.18.0.0 netmask 255.254.0.0 {{\n  authoritative;\n  ping-check false;\n  default-lease-time 86400;\n  max-lease-time 86400;\n{inner}}}\n"
        )
    };
    let plain = subnet("  range 198.18.0.0 198.19.255.255;\n");
    let mut heavy = String::from(
        "option arch code 93 = unsigned integer 16;\n\
         class \"pxe\" { match if substring (option vendor-class-identifier, 0, 9) = \"PXEClient\"; next-server 198.18.0.5; }\n\
         class \"ipxe\" { match if exists user-class and option user-class = \"iPXE\"; filename \"http://boot/menu.ipxe\"; }\n\
         class \"polycom\" { match if substring (option vendor-class-identifier, 0, 7) = \"Polycom\"; option tftp-server-name \"10.0.0.9\"; }\n\
         class \"cisco\" { match if option vendor-class-identifier ~~ \"^cisco (ip phone|systems)\"; option domain-name \"voice.test\"; }\n\
         class \"aps\" { match hardware; }\n",
    );
    for i in 0..200u32 {
        heavy.push_str(&format!("subclass \"aps\" 1:02:00:00:00:{:02x}:{:02x};\n", i >> 8, i & 0xff));
    }
    heavy.push_str(&subnet(
        "  if option arch = 00:07 { filename \"x64.efi\"; } elsif option arch = 00:09 { filename \"bc.efi\"; } else { filename \"pxelinux.0\"; }\n\
           option host-name = concat (\"pc-\", binary-to-ascii (16, 8, \"-\", substring (hardware, 1, 6)));\n\
           pool { deny members of \"aps\"; range 198.18.0.0 198.19.255.255; }\n",
    ));
    for i in 0..500u32 {
        heavy.push_str(&format!(
            "host h{i} {{ hardware ethernet 02:01:00:00:{:02x}:{:02x}; fixed-address 198.19.{}.{}; }}\n",
            i >> 8,
            i & 0xff,
            200 + i / 250,
            i % 250 + 1
        ));
    }
    (plain, heavy)
}

/// The vendor/user class options client `n` sends (a mix: PXE, iPXE, phones, none).
fn client_options(n: u32) -> Vec<DhcpOption> {
    let raw = |code: u8, data: &[u8]| {
        DhcpOption::Unknown(dhcproto::v4::UnknownOption::new(dhcproto::v4::OptionCode::from(code), data.to_vec()))
    };
    match n % 4 {
        0 => vec![raw(60, b"PXEClient:Arch:00007:UNDI:003016"), raw(93, &[0, 7])],
        1 => vec![raw(77, b"iPXE"), raw(93, &[0, 0])],
        2 => vec![raw(60, b"Cisco IP Phone 7945")],
        _ => vec![raw(60, b"MSFT 5.0")],
    }
}

/// CPU seconds of this process (user + system), from /proc/self/stat.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn class_engine(text: &str) -> anyhow::Result<Engine> {
    let parsed = dhcp_config::parse_str("bench.conf", text, &dhcp_config::MemoryLoader::default())
        .map_err(|e| anyhow::anyhow!("bench configuration: {e}"))?;
    Ok(Engine::new(dhcp_user::conf::engine_config(&parsed.config)))
}

/// DISCOVER + REQUEST for clients `from..to` with [`client_options`]; returns leases bound.
fn class_leases(e: &Engine, from: u32, to: u32) -> u32 {
    let mut bound = 0u32;
    for c in from..to {
        let opts = client_options(c);
        let offer = e.handle(Now::at(1_000), &META, &msg(MessageType::Discover, c, opts.clone()));
        let Some(r) = offer.reply else { continue };
        let Ok(m) = Message::decode(&mut Decoder::new(&r.bytes)) else { continue };
        let mut req_opts = opts;
        req_opts.push(DhcpOption::ServerIdentifier(META.iface_addr));
        req_opts.push(DhcpOption::RequestedIpAddress(m.yiaddr()));
        if !e.handle(Now::at(1_000), &META, &msg(MessageType::Request, c, req_opts)).durable.is_empty() {
            bound += 1;
        }
    }
    bound
}

/// `engine_bench profile plain|heavy`: one configuration only, 100,000 clients, for a
/// profiler (`perf record`) to see where its time goes.
fn profile(which: &str) -> anyhow::Result<()> {
    let (plain, heavy) = class_configs();
    let e = class_engine(if which == "heavy" { &heavy } else { &plain })?;
    let bound = class_leases(&e, 0, 100_000);
    println!("{which}: {bound} leases");
    Ok(())
}

fn classes_bench() -> anyhow::Result<()> {
    let n: u32 = 50_000;
    // More rounds (`engine_bench classes ROUNDS`) narrow the spread on a busy machine.
    let rounds: u32 = std::env::args().nth(2).and_then(|r| r.parse().ok()).unwrap_or(2).clamp(1, 20);
    println!("== classes: CPU per lease, plain vs class-heavy dhcpd.conf ({n} clients each, same run)");
    let (plain, heavy) = class_configs();
    // Rounds of each, interleaved, so that a busy machine weighs on both alike.
    let mut per_lease = [0.0f64; 2];
    for round in 0..rounds {
        for (i, text) in [&plain, &heavy].into_iter().enumerate() {
            let e = class_engine(text)?;
            let (t, cpu) = (Instant::now(), cpu_secs());
            let bound = class_leases(&e, round * n, (round + 1) * n);
            let cpu = cpu_secs() - cpu;
            per_lease[i] += cpu / f64::from(bound.max(1)) / f64::from(rounds);
            println!(
                "    round {round} {}: {bound} leases, {:.2} s wall, {:.1} us CPU/lease",
                if i == 0 { "plain" } else { "class-heavy" },
                t.elapsed().as_secs_f64(),
                cpu * 1e6 / f64::from(bound.max(1))
            );
        }
    }
    println!(
        "    CPU per lease: plain {:.1} us, class-heavy {:.1} us ({:+.1}%)",
        per_lease[0] * 1e6,
        per_lease[1] * 1e6,
        (per_lease[1] / per_lease[0] - 1.0) * 100.0
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    match std::env::args().nth(1).as_deref() {
        Some("classes") => return classes_bench(),
        Some("profile") => return profile(std::env::args().nth(2).as_deref().unwrap_or("heavy")),
        _ => {}
    }
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
    // The baseline first: the whole file parsed into a list of records, then folded.
    let t = Instant::now();
    let (file, parsed) = dhcp_journal::JournalFile::open(&path)?;
    let t_parse = t.elapsed();
    let state = dhcp_journal::record::fold(parsed.entries);
    let t_fold = t.elapsed();
    drop((file, state));
    // What the server does: records folded as they are read.
    let t = Instant::now();
    let (_file, state, _) = dhcp_journal::JournalFile::open_folded(&path)?;
    let t_folded = t.elapsed();
    let e2 = Engine::new(config(Ipv4Addr::new(198, 18, 0, 0), 1_000_000));
    let t_pool = t.elapsed();
    let records: Vec<dhcp_journal::LeaseRecord> = state.leases.into_records();
    let restored = e2.restore_all(&records);
    let total = t.elapsed();
    println!(
        "    {} MB file: read+parse+fold {:.2} s (baseline, a list then folded: parse {:.2} s + fold {:.2} s = {:.2} s, ×{:.2}), build pool {:.2} s, restore {restored} leases {:.2} s; total {:.2} s",
        buf.len() / 1_000_000,
        t_folded.as_secs_f64(),
        t_parse.as_secs_f64(),
        (t_fold - t_parse).as_secs_f64(),
        t_fold.as_secs_f64(),
        t_folded.as_secs_f64() / t_fold.as_secs_f64(),
        (t_pool - t_folded).as_secs_f64(),
        (total - t_pool).as_secs_f64(),
        total.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
    classes_bench()
}
