//! `get-lease-hostnames on`: the server sends the leased address's reverse DNS name as
//! host-name, looked up with the system resolver. The server's namespace gets its own
//! /etc/hosts (`ip netns exec` mounts /etc/netns/NAME/hosts over /etc/hosts) naming the
//! pool's addresses, and a resolv.conf that fails at once; udhcpc takes a lease from
//! xdhcpd, then from the real dhcpd on the same configuration: the same name from both.

use anyhow::{Context, Result};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use xdhcpd_tests::lab::Lab;
use xdhcpd_tests::process::strip_ansi;
use xdhcpd_tests::require_root;

/// `ping-check false` keeps the test short (the ping is tested in tests/ping_check.rs).
const CONFIG: &str = "authoritative;\nddns-update-style none;\nping-check false;\nget-lease-hostnames on;\n\
    default-lease-time 600;\nmax-lease-time 600;\n\
    subnet 198.18.0.0 netmask 255.255.255.0 {\n  range 198.18.0.100 198.18.0.101;\n}\n";

/// /etc/netns/NAME for the server's namespace, removed on drop (failure or not).
struct EtcNetns(PathBuf);

impl EtcNetns {
    fn new(ns: &str) -> Result<EtcNetns> {
        let dir = PathBuf::from("/etc/netns").join(ns);
        std::fs::create_dir_all(&dir)?;
        let guard = EtcNetns(dir);
        std::fs::write(
            guard.0.join("hosts"),
            "127.0.0.1 localhost\n198.18.0.100 h100.lab.test\n198.18.0.101 h101.lab.test\n",
        )?;
        // No DNS server answers in the namespace: a lookup /etc/hosts cannot answer fails
        // at once instead of waiting for the machine's resolver.
        std::fs::write(guard.0.join("resolv.conf"), "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")?;
        Ok(guard)
    }
}

impl Drop for EtcNetns {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// udhcpc's lease: (address, host-name option).
fn lease_and_name(lab: &Lab) -> Result<(String, String)> {
    lab.add_client_iface("c1", "52:54:00:00:00:41")?;
    let env = lab.udhcpc_env("c1")?;
    let ip = env.get("ip").cloned().context("no address")?;
    let name = env.get("hostname").cloned().with_context(|| format!("no host-name option: {env:?}"))?;
    Ok((ip, name))
}

#[test]
fn the_leased_addresses_reverse_name_is_sent_as_dhcpd_sends_it() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut lab = Lab::new(CONFIG)?;
    let _etc = EtcNetns::new(&lab.srv.name)?;
    lab.start_server(&["--xdp-mode", "off"])?;
    // The names are looked up off the request path, once the server runs.
    let deadline = Instant::now() + Duration::from_secs(20);
    let looked_up = |lab: &Lab| {
        lab.server.as_ref().is_some_and(|p| {
            p.stderr_lines()
                .iter()
                .map(|l| strip_ansi(l))
                .any(|l| l.contains("reverse DNS names looked up") && l.contains("named=2"))
        })
    };
    while !looked_up(&lab) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(looked_up(&lab), "{:?}", lab.server.as_ref().map(|p| p.stderr_lines()));
    let (ip, name) = lease_and_name(&lab)?;
    let last = ip.rsplit('.').next().unwrap_or_default();
    assert_eq!(name, format!("h{last}.lab.test"), "xdhcpd: {ip}");
    lab.stop_server()?;

    // The reference: dhcpd on the same configuration, in the same kind of namespace.
    let mut lab = Lab::new(CONFIG)?;
    let _etc = EtcNetns::new(&lab.srv.name)?;
    lab.start_dhcpd()?;
    let (dip, dname) = lease_and_name(&lab)?;
    let dlast = dip.rsplit('.').next().unwrap_or_default();
    assert_eq!(dname, format!("h{dlast}.lab.test"), "dhcpd: {dip}");
    Ok(())
}
