//! Every acknowledged lease survives a crash, with real processes under load: perfdhcp (as a
//! relay) drives one xdhcpd hard enough for the lease file to be compacted several times,
//! tcpdump records every reply that left the server, then the server is killed with SIGKILL
//! in the middle of the load. Each captured DHCPACK's (address, hardware address) must be an
//! active lease in the lease file, read as a restart reads it.
//!
//! This is how issue 10's first hole was seen: compaction from a snapshot older than records
//! appended after it erased hundreds of acknowledged leases per run.
//!
//! The same for a failover pair and a power cut: perfdhcp's broadcast clients reach both
//! servers, both lease files are compacted under load, both servers are killed at once; every
//! captured DHCPACK must be active in one of the two files, and no address may have been
//! acknowledged to two clients.

use anyhow::{Context, Result, bail};
use dhcproto::{Decodable, Decoder, v4};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use xdhcpd_tests::lab::Lab;
use xdhcpd_tests::process::Proc;
use xdhcpd_tests::require_root;

/// One relayed subnet larger than perfdhcp's client population: every exchange binds a new
/// address, which is what a stale compaction used to erase. `ping-check false`, as an
/// administrator tuning for load writes it: perfdhcp counts an OFFER later than a second as
/// lost, and dhcpd's default pings every new address for a second.
const CONFIG: &str = "# xdhcpd durability test\n\
    default-lease-time 3600;\nmax-lease-time 7200;\nauthoritative;\nping-check false;\n\
    subnet 198.18.0.0 netmask 255.255.255.0 { }\n\
    subnet 198.19.0.0 netmask 255.255.0.0 {\n  range 198.19.0.10 198.19.255.250;\n  option routers 198.19.0.1;\n}\n";

/// Compactions to wait for before the crash (the first rewrites happen within seconds: the
/// file is rewritten whenever it has grown 4× since the last rewrite).
const COMPACTIONS: usize = 3;

#[test]
fn every_acked_lease_survives_kill_9_under_load_with_compactions() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    if std::process::Command::new("perfdhcp").arg("-v").output().is_err() {
        bail!("perfdhcp is not installed (Debian package kea-admin/kea-common; `cargo xtask setup` installs it)");
    }
    let mut lab = Lab::new(CONFIG)?;
    lab.cli.exec(&["ip", "addr", "add", "198.19.0.2/16", "dev", &lab.cli_if])?;
    lab.srv.exec(&["ip", "route", "add", "198.19.0.0/16", "dev", &lab.srv_if])?;
    // Expiry sweeps every second (the server before the fix requested compaction from that tick).
    lab.start_server(&["--xdp-mode", "off", "--expiry-interval", "1"])?;

    let pcap = lab.dir.join("replies.pcap");
    let mut tcpdump = lab.cli.command("tcpdump");
    // Replies to a relay go to its port 67; -U writes each packet as it comes.
    tcpdump.args(["-i", &lab.cli_if, "-n", "-U", "-B", "65536", "-w"]).arg(&pcap).args(["udp", "src", "port", "67"]);
    let mut tcpdump = Proc::spawn("tcpdump", tcpdump)?;
    tcpdump.wait_stderr_line(Duration::from_secs(10), |l| l.contains("listening on"))?;

    // Bounded in count and time: at most 3,000 exchanges/s for at most 30 s.
    let mut perf = lab.cli.command("timeout");
    perf.args(["40", "perfdhcp", "-4", "-r", "3000", "-p", "30", "-R", "60000", "-l", "198.19.0.2", "198.18.0.1"]);
    let perf = Proc::spawn("perfdhcp", perf)?;

    let server = lab.server.as_ref().context("server running")?;
    // Rewrites under this load: not the one the server starts with, which runs beside its
    // first batches. And at least 2 s of load, so that the crash meets plenty of ACKs.
    let before = compactions(server);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(30);
    while compactions(server) < before + COMPACTIONS || started.elapsed() < Duration::from_secs(2) {
        if Instant::now() > deadline {
            bail!(
                "only {} lease file compactions in 30 s of load; server log:\n{}",
                compactions(server),
                server.stderr_lines().join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // A little more load after the last compaction, then the crash, mid-load.
    std::thread::sleep(Duration::from_millis(300));
    lab.kill_server()?;
    drop(perf);
    tcpdump.signal(libc::SIGTERM);
    tcpdump.wait_exit(Duration::from_secs(10))?;
    let dropped = tcpdump.stderr_lines().into_iter().find(|l| l.contains("dropped by kernel")).unwrap_or_default();

    let acks = acks_in(&std::fs::read(&pcap).context("reading the capture")?)?;
    let bytes = std::fs::read(lab.lease_file())?;
    let parsed = dhcp_journal::parse(&bytes);
    let state = dhcp_journal::record::fold(parsed.entries);
    let mut lost = Vec::new();
    for (ip, hw) in &acks {
        let held = state.leases.iter().any(|r| {
            r.ip == *ip
                && r.binding_state == dhcp_journal::BindingState::Active
                && r.hardware.as_ref().is_some_and(|(_, addr)| addr.as_slice() == hw.as_slice())
        });
        if !held {
            lost.push(*ip);
        }
    }
    eprintln!(
        "{} DHCPACKs captured ({dropped}), {} leases in the file after kill -9, {} lost",
        acks.len(),
        state.leases.iter().count(),
        lost.len()
    );
    assert!(acks.len() >= 1000, "too little load to mean anything: {} ACKs captured", acks.len());
    lost.sort();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged leases are not active in the lease file, e.g. {:?}",
        lost.len(),
        acks.len(),
        &lost[..lost.len().min(10)]
    );
    Ok(())
}

/// The pair's dhcpd.conf: a range larger than perfdhcp's client population, dhcpd's default
/// `max-unacked-updates` and the defaults for everything else a pair tunes, but for
/// `ping-check false` (perfdhcp's load, as for the single server's [`CONFIG`]).
fn pair_config(i: usize) -> String {
    use xdhcpd_tests::pair::ADDR;
    let (role, me, peer) = if i == 0 { ("primary", ADDR[0], ADDR[1]) } else { ("secondary", ADDR[1], ADDR[0]) };
    let primary_only = if i == 0 { "mclt 600; split 128;" } else { "" };
    format!(
        "authoritative;\nddns-update-style none;\nping-check false;\ndefault-lease-time 3600;\nmax-lease-time 7200;\n\
         failover peer \"pc\" {{\n  {role};\n  address {me}; port 647;\n  peer address {peer}; peer port 647;\n  \
         max-response-delay 30;\n  load balance max seconds 3;\n  {primary_only}\n}}\n\
         subnet 198.18.0.0 netmask 255.254.0.0 {{\n  pool {{\n    failover peer \"pc\";\n    \
         range 198.18.1.0 198.18.255.250;\n  }}\n}}\n"
    )
}

#[test]
fn every_acked_lease_of_a_pair_survives_a_power_cut_under_load() -> Result<()> {
    use xdhcpd_tests::pair::PairLab;
    if !require_root() {
        return Ok(());
    }
    if std::process::Command::new("perfdhcp").arg("-v").output().is_err() {
        bail!("perfdhcp is not installed (Debian package kea-admin/kea-common; `cargo xtask setup` installs it)");
    }
    let mut lab = PairLab::new([pair_config(0), pair_config(1)])?;
    lab.cli.exec(&["ip", "addr", "add", "198.18.0.50/24", "dev", "br0"])?;
    for i in 0..2 {
        lab.start(i, &["--xdp-mode", "off", "--expiry-interval", "1"])?;
    }
    for i in 0..2 {
        lab.wait_state(i, "normal", Some("normal"), Duration::from_secs(30))?;
    }

    let pcap = lab.dir.join("replies.pcap");
    let mut tcpdump = lab.cli.command("tcpdump");
    tcpdump.args(["-i", "br0", "-n", "-U", "-B", "65536", "-w"]).arg(&pcap).args(["udp", "src", "port", "67"]);
    let mut tcpdump = Proc::spawn("tcpdump", tcpdump)?;
    tcpdump.wait_stderr_line(Duration::from_secs(10), |l| l.contains("listening on"))?;

    // Bounded in count and time: at most 1,500 exchanges/s for at most 30 s.
    let mut perf = lab.cli.command("timeout");
    perf.args(["40", "perfdhcp", "-4", "-r", "1500", "-p", "30", "-R", "40000", "-l", "br0"]);
    let perf = Proc::spawn("perfdhcp", perf)?;

    let compacted =
        |lab: &PairLab| -> [usize; 2] { [0, 1].map(|i| lab.servers[i].as_ref().map(compactions).unwrap_or(0)) };
    // Each file rewritten at least twice (the rewrite at start-up and the one pool
    // balancing's records trigger both run beside the first batches of this load), and at
    // least 3 s of load, so that the cut meets plenty of ACKs.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(30);
    while compacted(&lab).iter().any(|&n| n < 2) || started.elapsed() < Duration::from_secs(3) {
        if Instant::now() > deadline {
            bail!("lease file compactions in 30 s of load: {:?} (want 2 each)", compacted(&lab));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    // The power cut: both at once, mid-load.
    for p in lab.servers.iter().flatten() {
        p.signal(libc::SIGKILL);
    }
    lab.kill(0)?;
    lab.kill(1)?;
    drop(perf);
    tcpdump.signal(libc::SIGTERM);
    tcpdump.wait_exit(Duration::from_secs(10))?;
    let dropped = tcpdump.stderr_lines().into_iter().find(|l| l.contains("dropped by kernel")).unwrap_or_default();

    let capture = std::fs::read(&pcap).context("reading the capture")?;
    let all = all_acks_in(&capture)?;
    // No address acknowledged to two clients (leases last an hour: nothing expired here).
    let mut by_ip: HashMap<Ipv4Addr, Vec<Vec<u8>>> = HashMap::new();
    for (ip, hw) in &all {
        let v = by_ip.entry(*ip).or_default();
        if !v.contains(hw) {
            v.push(hw.clone());
        }
    }
    let twice: Vec<_> = by_ip.iter().filter(|(_, hws)| hws.len() > 1).map(|(ip, _)| *ip).collect();
    let states = [0, 1].map(|i| -> Result<_> {
        let parsed = dhcp_journal::parse(&std::fs::read(lab.lease_file(i))?);
        Ok(dhcp_journal::record::fold(parsed.entries))
    });
    let [s0, s1] = states;
    let (s0, s1) = (s0?, s1?);
    let held = |ip: &Ipv4Addr, hw: &[u8]| {
        [&s0, &s1].iter().any(|s| {
            s.leases.iter().any(|r| {
                r.ip == *ip
                    && r.binding_state == dhcp_journal::BindingState::Active
                    && r.hardware.as_ref().is_some_and(|(_, addr)| addr.as_slice() == hw)
            })
        })
    };
    let acks = acks_in(&capture)?;
    let mut lost: Vec<_> = acks.iter().filter(|(ip, hw)| !held(ip, hw)).map(|(ip, _)| *ip).collect();
    eprintln!(
        "pair: {} DHCPACKs captured for {} addresses ({dropped}); after the power cut {} and {} leases in the \
         files, {} lost, {} addresses acknowledged to two clients",
        all.len(),
        acks.len(),
        s0.leases.iter().count(),
        s1.leases.iter().count(),
        lost.len(),
        twice.len()
    );
    assert!(acks.len() >= 1000, "too little load to mean anything: {} ACKs captured", acks.len());
    assert!(twice.is_empty(), "addresses acknowledged to two clients: {twice:?}");
    lost.sort();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged leases are active in neither lease file, e.g. {:?}",
        lost.len(),
        acks.len(),
        &lost[..lost.len().min(10)]
    );
    Ok(())
}

fn compactions(server: &Proc) -> usize {
    server.stderr_lines().iter().filter(|l| l.contains("lease file compacted")).count()
}

/// The last DHCPACK per address in a pcap file (Ethernet link type): address → chaddr.
fn acks_in(pcap: &[u8]) -> Result<HashMap<Ipv4Addr, Vec<u8>>> {
    Ok(all_acks_in(pcap)?.into_iter().collect())
}

/// Every DHCPACK in a pcap file (Ethernet link type), in capture order: (address, chaddr).
fn all_acks_in(pcap: &[u8]) -> Result<Vec<(Ipv4Addr, Vec<u8>)>> {
    let u32_at = |b: &[u8], at: usize, le: bool| -> Option<u32> {
        let w: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if le { u32::from_le_bytes(w) } else { u32::from_be_bytes(w) })
    };
    let magic = u32_at(pcap, 0, true).context("empty capture")?;
    let le = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        m => bail!("not a pcap file (magic {m:#x})"),
    };
    let mut acks = Vec::new();
    let mut at = 24;
    while let Some(len) = u32_at(pcap, at + 8, le) {
        let Some(frame) = pcap.get(at + 16..at + 16 + len as usize) else { break };
        at += 16 + len as usize;
        // Ethernet, IPv4 (any header length), UDP.
        if frame.get(12..14) != Some(&[0x08, 0x00]) {
            continue;
        }
        let ihl = usize::from(frame.get(14).copied().unwrap_or(0) & 0x0f) * 4;
        let Some(bootp) = frame.get(14 + ihl + 8..) else { continue };
        let Ok(msg) = v4::Message::decode(&mut Decoder::new(bootp)) else { continue };
        if msg.opts().msg_type() == Some(v4::MessageType::Ack) {
            acks.push((msg.yiaddr(), msg.chaddr().get(..6).unwrap_or_default().to_vec()));
        }
    }
    Ok(acks)
}
