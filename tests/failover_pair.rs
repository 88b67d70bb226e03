//! Two xdhcpd as a failover pair in namespaces the test creates, with real clients (udhcpc)
//! on a bridge between them: NORMAL/NORMAL, load balancing by the RFC 3074 hash, replication
//! into both lease files, kill -9 of the primary, partner-down by command, restart and
//! recovery, a cut peer link; no address is ever bound to two clients.

use anyhow::Result;
use dhcp_common::{Hba, lb_hash};
use std::collections::BTreeMap;
use std::time::Duration;
use xdhcpd_tests::pair::{ADDR, PairLab, active_bindings, pair_config};
use xdhcpd_tests::require_root;

fn mac(n: u8) -> String {
    format!("52:54:00:00:20:{n:02x}")
}

/// The server that should answer client `n` (udhcpc sends client id 01 + MAC).
fn expected_server(n: u8, split: u16) -> &'static str {
    let id = [1, 0x52, 0x54, 0, 0, 0x20, n];
    if Hba::from_split(split).primary_serves(lb_hash(&id)) { ADDR[0] } else { ADDR[1] }
}

/// No address is active for two different hardware addresses across both lease files.
fn assert_no_double_binding(lab: &PairLab) {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for i in 0..2 {
        for (ip, hw) in active_bindings(&lab.leases(i)) {
            if let Some(other) = seen.get(&ip) {
                assert_eq!(other, &hw, "{ip} active for two clients ({other} and {hw})");
            }
            seen.insert(ip, hw);
        }
    }
}

#[test]
fn pair_balances_replicates_survives_and_recovers() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let split = 128;
    let mut lab = PairLab::new([pair_config(0, 10, split, 3, 0), pair_config(1, 10, split, 3, 0)])?;
    // Start order: secondary first (the order that cost dhcpd ~21 s).
    lab.start(1, &["--xdp-mode", "skb"])?;
    lab.start(0, &["--xdp-mode", "skb"])?;
    let t = lab.wait_state(0, "normal", Some("normal"), Duration::from_secs(20))?;
    lab.wait_state(1, "normal", Some("normal"), Duration::from_secs(20))?;
    eprintln!("NORMAL/NORMAL {t:?} after the primary started");

    // Load balancing: each client is answered by the server its hash names.
    let mut clients = BTreeMap::new();
    for n in 1..=8u8 {
        let name = format!("c{n}");
        lab.add_client(&name, &mac(n))?;
        let (ip, server) = lab.udhcpc(&name)?;
        assert_eq!(server, expected_server(n, split), "client {n} answered by the wrong server");
        clients.insert(n, ip);
    }
    let distinct: std::collections::BTreeSet<_> = clients.values().collect();
    assert_eq!(distinct.len(), clients.len(), "addresses unique: {clients:?}");
    assert!(
        clients.keys().any(|n| expected_server(*n, split) == ADDR[0])
            && clients.keys().any(|n| expected_server(*n, split) == ADDR[1])
    );
    // XDP did the load balancing at the NIC: each server dropped the partner's DISCOVERs in
    // the kernel, and none of them reached its userspace (no userspace load-balancing drop).
    for (i, addr) in ADDR.iter().enumerate() {
        let v = lab.status(i)?;
        let partners = clients.keys().filter(|n| expected_server(**n, split) != *addr).count() as u64;
        let dropped = v["xdp"]["counters"]["drop_partner"].as_u64().unwrap_or(0);
        assert!(
            dropped >= partners,
            "server {i}: XDP dropped {dropped} partner DISCOVERs for {partners} partner clients: {}",
            v["xdp"]
        );
        assert_eq!(
            v["stats"]["dropped"]["partners_client"].as_u64().unwrap_or(0),
            0,
            "server {i}: partner DISCOVERs reached userspace: {}",
            v["stats"]
        );
    }
    // Replication: every binding is in both lease files.
    std::thread::sleep(Duration::from_secs(3));
    for i in 0..2 {
        let active = active_bindings(&lab.leases(i));
        for (n, ip) in &clients {
            assert_eq!(active.get(ip), Some(&mac(*n)), "server {i} lease file lacks {ip} for client {n}");
        }
    }

    // kill -9 of the primary: the secondary loses the link and serves everyone.
    lab.kill(0)?;
    lab.wait_state(1, "communications-interrupted", None, Duration::from_secs(15))?;
    for n in 9..=12u8 {
        let name = format!("c{n}");
        lab.add_client(&name, &mac(n))?;
        let (ip, server) = lab.udhcpc(&name)?;
        assert_eq!(server, ADDR[1], "survivor serves client {n}");
        clients.insert(n, ip);
    }
    // Partner-down by command.
    let bin = xdhcpd_tests::xdhcpd_bin()?;
    let out =
        std::process::Command::new(&bin).args(["partner-down", "--control-socket"]).arg(lab.socket(1)).output()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    lab.wait_state(1, "partner-down", None, Duration::from_secs(5))?;
    for n in 13..=14u8 {
        let name = format!("c{n}");
        lab.add_client(&name, &mac(n))?;
        let (ip, server) = lab.udhcpc(&name)?;
        assert_eq!(server, ADDR[1]);
        clients.insert(n, ip);
    }
    assert_no_double_binding(&lab);

    // Restart the primary with its lease file: recovery, then NORMAL on both sides.
    lab.start(0, &["--xdp-mode", "skb"])?;
    let t = lab.wait_state(0, "normal", Some("normal"), Duration::from_secs(60))?;
    lab.wait_state(1, "normal", Some("normal"), Duration::from_secs(20))?;
    eprintln!("recovered to NORMAL/NORMAL {t:?} after restart");
    // Load balancing is back, and every client gets a distinct address. (Leases granted
    // under a 10 s MCLT have expired by now, so addresses may move between the servers'
    // pools; the standalone crash test checks address stability.)
    let mut after = BTreeMap::new();
    for n in clients.keys() {
        let (ip, server) = lab.udhcpc(&format!("c{n}"))?;
        assert_eq!(server, expected_server(*n, split), "client {n} after recovery");
        after.insert(*n, ip);
    }
    let distinct: std::collections::BTreeSet<_> = after.values().collect();
    assert_eq!(distinct.len(), after.len(), "addresses unique after recovery: {after:?}");
    std::thread::sleep(Duration::from_secs(2));
    assert_no_double_binding(&lab);
    Ok(())
}

#[test]
fn cut_peer_link_interrupts_and_heals() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut lab = PairLab::new([pair_config(0, 10, 128, 3, 0), pair_config(1, 10, 128, 3, 0)])?;
    lab.start(0, &["--xdp-mode", "off"])?;
    lab.start(1, &["--xdp-mode", "off"])?;
    lab.wait_state(0, "normal", Some("normal"), Duration::from_secs(20))?;
    // Cut the primary's link inside its namespace: max-response-delay (5 s) ends it.
    let t = lab.cut_and_heal_link()?;
    eprintln!("healed to NORMAL/NORMAL {t:?} after the link came back");
    Ok(())
}

#[test]
fn auto_partner_down_after_the_configured_interval() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    // auto-partner-down 3 s on the secondary (dhcpd's auto-partner-down, Windows' state
    // switchover interval).
    let mut lab = PairLab::new([pair_config(0, 10, 128, 3, 0), pair_config(1, 10, 128, 3, 3)])?;
    lab.start(0, &["--xdp-mode", "off"])?;
    lab.start(1, &["--xdp-mode", "off"])?;
    lab.wait_state(1, "normal", Some("normal"), Duration::from_secs(20))?;
    lab.kill(0)?;
    lab.wait_state(1, "communications-interrupted", None, Duration::from_secs(10))?;
    let t = lab.wait_state(1, "partner-down", None, Duration::from_secs(15))?;
    eprintln!("partner-down {t:?} after communications-interrupted");
    assert!(t >= Duration::from_secs(2), "auto partner-down too early: {t:?}");
    // And it serves a new client.
    lab.add_client("ap1", &mac(0x71))?;
    let (_, server) = lab.udhcpc("ap1")?;
    assert_eq!(server, ADDR[1]);
    Ok(())
}

#[test]
fn hot_standby_primary_serves_all_standby_holds_the_reserve() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    // Windows-style hot standby expressed in dhcpd.conf: no split, a 10% reserve.
    let hot = |c: String| c.replace("split 128;", "hot-standby-reserve 10;");
    let mut lab = PairLab::new([hot(pair_config(0, 10, 128, 3, 0)), pair_config(1, 10, 128, 3, 0)])?;
    lab.start(0, &["--xdp-mode", "skb"])?;
    lab.start(1, &["--xdp-mode", "skb"])?;
    lab.wait_state(0, "normal", Some("normal"), Duration::from_secs(20))?;
    std::thread::sleep(Duration::from_secs(2));
    let counts = lab.status(1)?["pools"][0]["counts"].clone();
    assert_eq!(counts["backup"].as_u64(), Some(10), "standby reserve of 100 addresses at 10%: {counts}");
    assert_eq!(lab.status(1)?["relationships"][0]["mode"], "hot-standby");
    for n in 0x60..0x66u8 {
        let name = format!("h{n}");
        lab.add_client(&name, &mac(n))?;
        let (_, server) = lab.udhcpc(&name)?;
        assert_eq!(server, ADDR[0], "the active server answers every client");
    }
    // The standby takes over from its reserve when the active server dies.
    lab.kill(0)?;
    lab.wait_state(1, "communications-interrupted", None, Duration::from_secs(10))?;
    lab.add_client("h-take", &mac(0x6f))?;
    let (ip, server) = lab.udhcpc("h-take")?;
    assert_eq!(server, ADDR[1], "standby serves after takeover (got {ip})");
    Ok(())
}
