//! `ping-check`, on by default as in dhcpd: xdhcpd sends an ICMP echo to an address before
//! offering it, and abandons the address when a host answers (a static assignment inside the
//! range). A squatter in the client namespace holds one of the two pool addresses. The same
//! configuration (no `ping-check` statement) goes to the real dhcpd, which must do the same.

use anyhow::{Context, Result};
use std::time::{Duration, Instant};
use xdhcpd_tests::frames;
use xdhcpd_tests::lab::{Lab, lease_state};
use xdhcpd_tests::{netns, require_root};

/// No `ping-check` statement: dhcpd's default is to ping.
const CONFIG: &str = "# ping-check test (dhcpd's default)\nauthoritative;\nddns-update-style none;\n\
    default-lease-time 600;\nmax-lease-time 600;\nping-timeout 1;\n\
    subnet 198.18.0.0 netmask 255.255.255.0 {\n  range 198.18.0.100 198.18.0.101;\n}\n";

/// The squatter (a host using 198.18.0.100 without a lease: it answers ARP and pings) and
/// two clients.
fn squatter_and_clients(lab: &Lab) -> Result<()> {
    lab.add_client_iface("sq", "52:54:00:00:00:5e")?;
    lab.cli.exec(&["ip", "addr", "add", "198.18.0.100/24", "dev", "sq"])?;
    lab.add_client_iface("c1", "52:54:00:00:00:01")?;
    lab.add_client_iface("c2", "52:54:00:00:00:02")?;
    Ok(())
}

/// Two clients, two pool addresses, one of them in use: whichever order the pool hands
/// them out in, .100 is probed, answers, and is never offered.
fn only_the_silent_address_is_offered(lab: &Lab) -> Result<()> {
    let first = lab.udhcpc_once("c1")?;
    assert_eq!(first, "198.18.0.101", "the silent address goes to the first client");
    let second = lab.udhcpc_once("c2");
    assert!(second.is_err(), "the squatter's address was offered: {second:?}");
    let leases = lab.lease_text();
    assert_eq!(lease_state(&leases, "198.18.0.100").as_deref(), Some("abandoned"), "{leases}");
    assert_eq!(lease_state(&leases, "198.18.0.101").as_deref(), Some("active"), "{leases}");
    Ok(())
}

#[test]
fn an_address_that_answers_a_ping_is_abandoned_not_offered() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut lab = Lab::new(CONFIG)?;
    lab.start_server(&["--xdp-mode", "off"])?;
    squatter_and_clients(&lab)?;
    only_the_silent_address_is_offered(&lab)?;
    let stats = lab.stop_server()?;
    assert!(stats["dropped"]["address_answered_ping"].as_u64() >= Some(1), "{stats}");
    assert_eq!(stats["awaiting_ping"].as_u64(), Some(0), "{stats}");
    Ok(())
}

/// The reference: ISC dhcpd on the same configuration pings by default and abandons the
/// squatter's address the same way.
#[test]
fn dhcpd_pings_by_default_too() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut lab = Lab::new(CONFIG)?;
    lab.start_dhcpd()?;
    squatter_and_clients(&lab)?;
    only_the_silent_address_is_offered(&lab)
}

/// An OFFER held for its echo is not counted as sent until it goes: the status shows it
/// awaiting its ping, with no OFFER out; once the ping-timeout has passed, one OFFER out.
#[test]
fn an_offer_held_for_a_ping_is_counted_when_it_goes_out() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut lab = Lab::new(&CONFIG.replace("ping-timeout 1;", "ping-timeout 3;"))?;
    let sock = lab.dir.join("ctl.sock");
    lab.start_server(&["--xdp-mode", "off", "--control-socket", sock.to_str().context("path")?])?;
    let status =
        || -> Result<serde_json::Value> { Ok(dhcp_user::runtime::control::request(&sock, "status")?["stats"].clone()) };
    let offers = |s: &serde_json::Value| s["out"]["offer"].as_u64().unwrap_or(0);
    let discover = frames::bootp_request([0x52, 0x54, 0, 0, 0, 0x11], 0, &frames::discover_options(None), 0);
    let iface = lab.cli_if.clone();
    netns::in_netns(&lab.cli.name, move || frames::send_raw(&iface, &[discover]))?;
    // Held: received, awaiting its echo, not sent.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut s = status()?;
    while s["awaiting_ping"].as_u64() != Some(1) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        s = status()?;
    }
    assert_eq!(s["awaiting_ping"].as_u64(), Some(1), "the OFFER waits for its echo: {s}");
    assert_eq!(offers(&s), 0, "an OFFER held for its ping is not sent yet: {s}");
    // Sent once no echo came back (3 s), then counted.
    let deadline = Instant::now() + Duration::from_secs(8);
    while offers(&s) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        s = status()?;
    }
    assert_eq!(offers(&s), 1, "the OFFER went out after its ping-timeout: {s}");
    assert_eq!(s["awaiting_ping"].as_u64(), Some(0), "{s}");
    lab.stop_server()?;
    Ok(())
}
