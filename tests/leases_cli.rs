//! `xdhcpd leases`: a real client (udhcpc) gets a lease; the running server lists it through
//! the control socket, and the lease file lists it offline, the same way and with the same
//! filters. One server in namespaces the test creates, removed on drop.

use anyhow::{Context, Result};
use xdhcpd_tests::lab::{Lab, default_config};
use xdhcpd_tests::{require_root, xdhcpd_bin};

const MAC: &str = "52:54:00:00:61:01";

/// `xdhcpd leases ARGS --json`, parsed.
fn leases(args: &[&str]) -> Result<Vec<serde_json::Value>> {
    let out = std::process::Command::new(xdhcpd_bin()?).arg("leases").args(args).arg("--json").output()?;
    anyhow::ensure!(out.status.success(), "xdhcpd leases {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    v.as_array().cloned().context("not a JSON array")
}

#[test]
fn a_clients_lease_is_listed_live_and_offline() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut lab = Lab::new(&default_config(600))?;
    let sock = lab.dir.join("ctl.sock");
    let sock_s = sock.to_str().context("path")?.to_string();
    lab.start_server(&["--xdp-mode", "off", "--control-socket", &sock_s, "--workers", "1"])?;
    lab.add_client_iface("lc1", MAC)?;
    let ip = lab.udhcpc_once("lc1")?;

    // Live, from the server's memory, filtered by MAC (written in another style).
    let live = leases(&["--control-socket", &sock_s, "--mac", "52-54-00-00-61-01"])?;
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0]["ip"], ip.as_str());
    assert_eq!(live[0]["state"], "active");
    assert_eq!(live[0]["mac"], MAC);
    assert_eq!(live[0]["pool"], 0, "the first subnet's pool");
    // udhcpc sends client id 01 + MAC.
    assert_eq!(live[0]["client_id"], "01525400006101");

    // Other filters: by address (and network), by state, and one that matches nothing.
    assert_eq!(leases(&["--control-socket", &sock_s, "--ip", &ip])?.len(), 1);
    let active = leases(&["--control-socket", &sock_s, "--state", "active", "--ip", "198.18.0.0/24"])?;
    assert_eq!(active.iter().filter(|l| l["mac"] == MAC).count(), 1, "{active:?}");
    assert!(leases(&["--control-socket", &sock_s, "--mac", MAC, "--state", "free"])?.is_empty());
    let free = leases(&["--control-socket", &sock_s, "--state", "free"])?;
    assert!(free.iter().all(|l| l["state"] == "free") && free.len() >= 99, "{} free", free.len());

    // Offline, from the lease file the server wrote (fsynced before the ACK), with the
    // configuration numbering the pools: the same row.
    let lf = lab.lease_file();
    let conf = lab.dir.join("dhcpd.conf");
    let offline = leases(&[
        "--file",
        lf.to_str().context("path")?,
        "--config",
        conf.to_str().context("path")?,
        "--client-id",
        "01:52:54:00:00:61:01",
    ])?;
    assert_eq!(offline.len(), 1, "{offline:?}");
    for k in ["ip", "state", "mac", "client_id", "pool", "starts", "ends"] {
        assert_eq!(offline[0][k], live[0][k], "{k} differs: live {live:?}, offline {offline:?}");
    }

    // The table: a header and the lease's line.
    let out = std::process::Command::new(xdhcpd_bin()?)
        .args(["leases", "--control-socket", &sock_s, "--mac", MAC])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().next().is_some_and(|h| h.starts_with("IP")), "{text}");
    assert!(
        text.lines().nth(1).is_some_and(|l| l.starts_with(&ip) && l.contains(MAC) && l.contains("active")),
        "{text}"
    );

    // A filter that cannot match anything is an error, not an empty list.
    let bad = std::process::Command::new(xdhcpd_bin()?)
        .args(["leases", "--control-socket", &sock_s, "--state", "bound"])
        .output()?;
    assert!(!bad.status.success(), "--state bound accepted");
    lab.stop_server()?;
    Ok(())
}
