//! xdhcpd as the failover partner of a real ISC dhcpd 4.4.3, in both roles: both reach
//! NORMAL, the pool is balanced, each side's new leases reach the other's lease file, and
//! load balancing agrees with dhcpd's choice for the same clients (udhcpc on a bridge).

use anyhow::Result;
use dhcp_common::{Hba, lb_hash};
use std::time::Duration;
use xdhcpd_tests::pair::{ADDR, PairLab, active_bindings, pair_config};
use xdhcpd_tests::require_root;

fn interop(xdhcpd_index: usize) -> Result<()> {
    let split = 128;
    let dhcpd_index = 1 - xdhcpd_index;
    let mut lab = PairLab::new([pair_config(0, 30, split, 3, 0), pair_config(1, 30, split, 3, 0)])?;
    lab.start_dhcpd(dhcpd_index)?;
    lab.start(xdhcpd_index, &["--xdp-mode", "skb"])?;
    let t = lab.wait_state(xdhcpd_index, "normal", Some("normal"), Duration::from_secs(30))?;
    eprintln!("xdhcpd {} with dhcpd: NORMAL/NORMAL in {t:?}", if xdhcpd_index == 0 { "primary" } else { "secondary" });
    // dhcpd says so too.
    std::thread::sleep(Duration::from_millis(500));
    let log = lab.server_log(dhcpd_index);
    assert!(log.iter().any(|l| l.contains("Both servers normal")), "dhcpd log:\n{}", log.join("\n"));
    // Pool balanced: the secondary holds backup leases.
    let pools = &lab.status(xdhcpd_index)?["pools"][0]["counts"];
    assert!(pools["backup"].as_u64().unwrap_or(0) >= 30, "pool after balancing: {pools}");
    // dhcpd does not call itself xdhcpd: no configuration digest is exchanged (none sent to
    // it, none expected from it), and nothing on the link was refused.
    let rel = &lab.status(xdhcpd_index)?["relationships"][0];
    assert!(rel["config_drift"].is_null(), "{rel}");
    assert_eq!(rel["link_security"]["refused_connections"], 0, "{rel}");

    let mut served = Vec::new();
    for n in 1..=8u8 {
        let name = format!("d{n}");
        let mac = format!("52:54:00:00:30:{n:02x}");
        lab.add_client(&name, &mac)?;
        let (ip, server) = lab.udhcpc(&name)?;
        let id = [1, 0x52, 0x54, 0, 0, 0x30, n];
        let want = if Hba::from_split(split).primary_serves(lb_hash(&id)) { ADDR[0] } else { ADDR[1] };
        assert_eq!(server, want, "client {n}: dhcpd and xdhcpd disagree on who serves it");
        served.push((ip, mac, server));
    }
    assert!(
        served.iter().any(|(_, _, s)| s == ADDR[dhcpd_index]) && served.iter().any(|(_, _, s)| s == ADDR[xdhcpd_index])
    );
    // Each side's bindings reach the other's lease file.
    std::thread::sleep(Duration::from_secs(3));
    for i in 0..2 {
        let active = active_bindings(&lab.leases(i));
        for (ip, mac, server) in &served {
            assert_eq!(
                active.get(ip),
                Some(mac),
                "{} lease file lacks {ip} (served by {server})",
                if i == dhcpd_index { "dhcpd" } else { "xdhcpd" }
            );
        }
    }
    Ok(())
}

#[test]
fn xdhcpd_secondary_with_dhcpd_primary() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    interop(1)
}

#[test]
fn xdhcpd_primary_with_dhcpd_secondary() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    interop(0)
}
