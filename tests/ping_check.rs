//! `ping-check true`: xdhcpd sends an ICMP echo to an address before offering it, as dhcpd
//! does, and abandons the address when a host answers (a static assignment inside the
//! range). A squatter in the client namespace holds one of the two pool addresses.

use anyhow::Result;
use xdhcpd_tests::lab::{Lab, lease_state};
use xdhcpd_tests::require_root;

const CONFIG: &str = "# ping-check test\nauthoritative;\nddns-update-style none;\n\
    default-lease-time 600;\nmax-lease-time 600;\nping-check true;\nping-timeout 1;\n\
    subnet 198.18.0.0 netmask 255.255.255.0 {\n  range 198.18.0.100 198.18.0.101;\n}\n";

#[test]
fn an_address_that_answers_a_ping_is_abandoned_not_offered() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut lab = Lab::new(CONFIG)?;
    lab.start_server(&["--xdp-mode", "off"])?;
    // The squatter: a host using 198.18.0.100 without a lease (it answers ARP and pings).
    lab.add_client_iface("sq", "52:54:00:00:00:5e")?;
    lab.cli.exec(&["ip", "addr", "add", "198.18.0.100/24", "dev", "sq"])?;
    lab.add_client_iface("c1", "52:54:00:00:00:01")?;
    lab.add_client_iface("c2", "52:54:00:00:00:02")?;

    // Two clients, two pool addresses, one of them in use: whichever order the pool hands
    // them out in, .100 is probed, answers, and is never offered.
    let first = lab.udhcpc_once("c1")?;
    assert_eq!(first, "198.18.0.101", "the silent address goes to the first client");
    let second = lab.udhcpc_once("c2");
    assert!(second.is_err(), "the squatter's address was offered: {second:?}");
    let leases = lab.lease_text();
    assert_eq!(lease_state(&leases, "198.18.0.100").as_deref(), Some("abandoned"), "{leases}");
    assert_eq!(lease_state(&leases, "198.18.0.101").as_deref(), Some("active"), "{leases}");
    lab.stop_server()?;
    Ok(())
}
