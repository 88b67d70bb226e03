//! Every acknowledged lease survives a crash, with real processes under load: perfdhcp (as a
//! relay) drives one xdhcpd hard enough for the lease file to be compacted several times,
//! tcpdump records every reply that left the server, then the server is killed with SIGKILL
//! in the middle of the load. Each captured DHCPACK's (address, hardware address) must be an
//! active lease in the lease file, read as a restart reads it.
//!
//! This is how issue 10's first hole was seen: compaction from a snapshot older than records
//! appended after it erased hundreds of acknowledged leases per run.

use anyhow::{Context, Result, bail};
use dhcproto::{Decodable, Decoder, v4};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use xdhcpd_tests::lab::Lab;
use xdhcpd_tests::process::Proc;
use xdhcpd_tests::require_root;

/// One relayed subnet larger than perfdhcp's client population: every exchange binds a new
/// address, which is what a stale compaction used to erase.
const CONFIG: &str = "# xdhcpd durability test\n\
    default-lease-time 3600;\nmax-lease-time 7200;\nauthoritative;\n\
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
    let deadline = Instant::now() + Duration::from_secs(30);
    while compactions(server) < COMPACTIONS {
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

fn compactions(server: &Proc) -> usize {
    server.stderr_lines().iter().filter(|l| l.contains("lease file compacted")).count()
}

/// The last DHCPACK per address in a pcap file (Ethernet link type): address → chaddr.
fn acks_in(pcap: &[u8]) -> Result<HashMap<Ipv4Addr, Vec<u8>>> {
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
    let mut acks = HashMap::new();
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
            acks.insert(msg.yiaddr(), msg.chaddr().get(..6).unwrap_or_default().to_vec());
        }
    }
    Ok(acks)
}
