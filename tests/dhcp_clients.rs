//! xdhcpd serving real DHCP clients (udhcpc, ISC dhclient, perfdhcp as a relay) over a veth
//! pair between namespaces the tests create. Lease files are checked after each scenario.

use anyhow::{Context, Result};
use std::time::Duration;
use xdhcpd_tests::lab::{Lab, default_config, lease_state};
use xdhcpd_tests::require_root;

#[test]
fn udhcpc_and_dhclient_obtain_leases_reservation_is_honoured() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut lab = Lab::new(&default_config(600))?;
    lab.start_server(&["--xdp-mode", "off"])?;
    lab.add_client_iface("c1", "52:54:00:00:00:01")?;
    lab.add_client_iface("c2", "52:54:00:00:00:02")?;
    lab.add_client_iface("pr", "52:54:00:00:00:99")?;

    let a = lab.udhcpc_once("c1")?;
    let b = lab.dhclient_once("c2")?;
    assert_ne!(a, b, "two clients, two addresses");
    for ip in [&a, &b] {
        assert!(ip.starts_with("198.18.0."), "{ip}");
        assert_eq!(lease_state(&lab.lease_text(), ip).as_deref(), Some("active"), "{ip} in\n{}", lab.lease_text());
    }
    // The same client asking again gets the same address.
    assert_eq!(lab.udhcpc_once("c1")?, a);
    // Reservation by hardware address.
    assert_eq!(lab.udhcpc_once("pr")?, "198.18.0.5");

    let stats = lab.stop_server()?;
    assert!(stats["out"]["ack"].as_u64().unwrap_or(0) >= 4, "{stats}");
    Ok(())
}

#[test]
fn udhcpc_renews_and_releases() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    // Short leases: T1 = 4 s, so udhcpc renews (unicast REQUEST, RENEWING state) on its own.
    let mut lab = Lab::new(&default_config(8))?;
    lab.start_server(&["--xdp-mode", "off"])?;
    lab.add_client_iface("c1", "52:54:00:00:00:11")?;
    let script = lab.udhcpc_script()?;
    let mut cmd = lab.cli.command("udhcpc");
    // -R: release on exit.
    cmd.args(["-f", "-R", "-t", "5", "-T", "2", "-i", "c1", "-s"]).arg(&script);
    let mut client = xdhcpd_tests::process::Proc::spawn("udhcpc", cmd)?;
    let events = lab.dir.join("c1.events");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&events).unwrap_or_default();
        if text.lines().any(|l| l.starts_with("renew ")) {
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "no renewal within 30 s; events:\n{text}\nclient:\n{}",
            client.stderr_lines().join("\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let text = std::fs::read_to_string(&events)?;
    let ip = text.lines().next().and_then(|l| l.split_whitespace().nth(1)).context("bound ip")?.to_string();
    assert!(
        text.lines().filter(|l| l.starts_with("renew ")).all(|l| l.contains(&ip)),
        "renewed the same address: {text}"
    );
    // Release on exit (SIGTERM with -R).
    client.signal(libc::SIGTERM);
    client.wait_exit(Duration::from_secs(10))?;
    std::thread::sleep(Duration::from_millis(500));
    let stats = lab.stop_server()?;
    assert!(stats["in"]["release"].as_u64().unwrap_or(0) >= 1, "{stats}");
    assert_eq!(lease_state(&lab.lease_text(), &ip).as_deref(), Some("free"), "{}", lab.lease_text());
    Ok(())
}

#[test]
fn crash_and_restart_keeps_every_acknowledged_lease() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut lab = Lab::new(&default_config(3600))?;
    lab.start_server(&["--xdp-mode", "off"])?;
    let mut before = Vec::new();
    for i in 0..4 {
        let name = format!("k{i}");
        lab.add_client_iface(&name, &format!("52:54:00:00:01:{i:02x}"))?;
        before.push(lab.udhcpc_once(&name)?);
    }
    lab.kill_server()?;
    lab.start_server(&["--xdp-mode", "off"])?;
    // Fresh DISCOVERs from the same clients: the restarted server must give the same addresses.
    for (i, ip) in before.iter().enumerate() {
        assert_eq!(&lab.udhcpc_once(&format!("k{i}"))?, ip, "client {i} after kill -9");
    }
    // And a new client gets none of them.
    lab.add_client_iface("new", "52:54:00:00:02:00")?;
    let fresh = lab.udhcpc_once("new")?;
    assert!(!before.contains(&fresh), "{fresh} was already leased");
    lab.stop_server()?;
    Ok(())
}

#[test]
fn relayed_clients_via_perfdhcp() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    // perfdhcp counts an OFFER later than a second as lost: no ping before it (dhcpd's
    // default pings every new address for a second), as an administrator tuning for load.
    let mut lab = Lab::new(&format!("ping-check false;\n{}", default_config(600)))?;
    // perfdhcp acts as a relay with giaddr 198.18.1.2: the server picks subnet 198.18.1.0/24
    // from giaddr and answers the relay on port 67.
    lab.cli.exec(&["ip", "addr", "add", "198.18.1.2/24", "dev", &lab.cli_if])?;
    lab.srv.exec(&["ip", "route", "add", "198.18.1.0/24", "dev", &lab.srv_if])?;
    lab.start_server(&["--xdp-mode", "off"])?;
    let out = lab
        .cli
        .command("timeout")
        .args(["30", "perfdhcp", "-4", "-r", "20", "-n", "40", "-p", "10", "-l", "198.18.1.2", "198.18.0.1"])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let stats = lab.stop_server()?;
    let acks = stats["out"]["ack"].as_u64().unwrap_or(0);
    assert!(acks >= 30, "relayed ACKs {acks}; perfdhcp:\n{text}\nserver: {stats}");
    let leases = lab.lease_text();
    assert!(leases.contains("lease 198.18.1."), "relayed clients got addresses from the relay's subnet:\n{leases}");
    assert!(!leases.contains("lease 198.18.0.1"), "no address from the wrong subnet:\n{leases}");
    Ok(())
}

/// A class and an `on commit` hook in a real server: udhcpc's vendor class is kept in
/// the lease file, and the program `execute` names runs (no shell) once the lease is
/// granted.
#[test]
fn classes_and_hooks_in_a_running_server() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let out = std::env::temp_dir().join(format!("xdhcpd-hook-{}", std::process::id()));
    std::fs::create_dir_all(&out)?;
    let config = default_config(600).replace(
        "  option domain-name \"lab.test\";\n",
        &format!(
            "  option domain-name \"lab.test\";\n  \
             on commit {{ execute (\"/usr/bin/touch\", concat (\"{}/committed-\", binary-to-ascii (10, 8, \".\", leased-address))); }}\n",
            out.display()
        ),
    ) // The class only puts classification on the served path here.
        + "class \"busybox\" { match if substring (option vendor-class-identifier, 0, 5) = \"udhcp\"; option domain-name \"busybox.test\"; }\n";
    let mut lab = Lab::new(&config)?;
    lab.start_server(&["--xdp-mode", "off"])?;
    lab.add_client_iface("c1", "52:54:00:00:00:01")?;
    let ip = lab.udhcpc_once("c1")?;
    let marker = out.join(format!("committed-{ip}"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !marker.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(marker.exists(), "{} was not created by the on commit hook", marker.display());
    assert!(lab.lease_text().contains("set vendor-class-identifier = \"udhcp"), "{}", lab.lease_text());
    lab.stop_server()?;
    std::fs::remove_dir_all(&out).context("hook directory")?;
    Ok(())
}
