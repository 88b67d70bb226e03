//! The XDP program on a real veth pair: attached in native and generic mode inside namespaces
//! this test creates, fed DHCP-shaped and other frames from the peer namespace, counted by
//! outcome. Everything is torn down on drop, also when an assertion fails.

use anyhow::{Context, Result};
use std::time::Duration;
use xdhcpd_tests::{frames, netns, process::Proc, require_root, xdhcpd_bin};

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xaa, 0xbb, 0x10];

fn run_mode(mode: &str) -> Result<serde_json::Value> {
    let srv = netns::Netns::new("xs")?;
    let cli = netns::Netns::new("xc")?;
    let srv_if = netns::unique("xvs");
    let cli_if = netns::unique("xvc");
    netns::veth(&srv, &srv_if, Some("198.18.0.1/24"), &cli, &cli_if, Some("198.18.0.2/24"))?;

    let mut cmd = srv.command(xdhcpd_bin()?.to_str().context("path")?);
    cmd.args(["--xdp-only", "--xdp-mode", mode, &srv_if]);
    let mut server = Proc::spawn("xdhcpd", cmd)?;
    let attached = server.wait_line(Duration::from_secs(30), |l| l.contains("\"attached\""))?;
    let attached: serde_json::Value = serde_json::from_str(&attached)?;
    assert!(attached["verified_instructions"].as_u64().unwrap_or(0) > 0, "{attached}");

    let mut batch = Vec::new();
    // 5 DISCOVERs with a client id, 4 without, 3 REQUESTs, 2 behind VLAN tags.
    for i in 0..5u8 {
        batch.push(frames::bootp_request(
            MAC,
            0,
            &frames::discover_options(Some(&[1, 0x52, 0x54, 0, 0xaa, 0xbb, i])),
            0,
        ));
    }
    for i in 0..4u8 {
        let mut mac = MAC;
        mac[5] = i;
        batch.push(frames::bootp_request(mac, 3, &frames::discover_options(None), 0));
    }
    for _ in 0..3 {
        batch.push(frames::bootp_request(MAC, 0, &[53, 1, 3, 50, 4, 198, 18, 0, 10], 0));
    }
    // 7 UDP frames that are not DHCP (DNS-shaped).
    for _ in 0..7 {
        batch.push(frames::udp_frame(MAC, [198, 18, 0, 2], [198, 18, 0, 1], 40000, 53, b"not dhcp", 0));
    }
    // 1 malformed (hlen 17) and 1 with option overload.
    let mut bad = frames::bootp_request(MAC, 0, &frames::discover_options(None), 0);
    bad[14 + 20 + 8 + 2] = 17;
    batch.push(bad);
    batch.push(frames::bootp_request(MAC, 0, &[53, 1, 1, 52, 1, 3], 0));

    let iface = cli_if.clone();
    let sent = netns::in_netns(&cli.name, move || frames::send_raw(&iface, &batch))?;
    assert_eq!(sent, 5 + 4 + 3 + 7 + 2);
    std::thread::sleep(Duration::from_millis(300));

    server.signal(libc::SIGTERM);
    let line = server.wait_line(Duration::from_secs(10), |l| l.contains("\"detached\""))?;
    let status = server.wait_exit(Duration::from_secs(10))?;
    assert!(status.success(), "xdhcpd exited with {status}");
    let v: serde_json::Value = serde_json::from_str(&line)?;
    Ok(v["counters"].clone())
}

fn check(counters: &serde_json::Value) {
    let c = |k: &str| counters[k].as_u64().unwrap_or_else(|| panic!("no counter {k} in {counters}"));
    // Standalone steering (no failover yet): DISCOVERs are passed as "not balanced by state".
    assert_eq!(c("pass_not_balanced_state"), 9, "{counters}");
    assert_eq!(c("pass_not_balanced_kind"), 3, "{counters}");
    assert_eq!(c("malformed"), 1, "{counters}");
    assert_eq!(c("overload"), 1, "{counters}");
    // The kernel may add its own frames (IPv6 router solicitations...): at least ours.
    assert!(c("not_dhcp") >= 7, "{counters}");
    assert_eq!(c("drop_partner"), 0, "{counters}");
}

#[test]
fn xdp_counts_on_veth_native_mode() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    check(&run_mode("native")?);
    Ok(())
}

#[test]
fn xdp_counts_on_veth_generic_mode() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    check(&run_mode("skb")?);
    Ok(())
}
