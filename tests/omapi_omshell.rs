//! xdhcpd answering the real ISC `omshell` over OMAPI (HMAC-MD5 signed): lease lookups after a
//! real client (udhcpc) got a lease, a wrong key refused, a host created at run time serving a
//! reservation and removed again, control `state = 2` shutting the server down, and on a
//! failover pair `local-state = 4` forcing PARTNER-DOWN.

use anyhow::Result;
use std::time::Duration;
use xdhcpd_tests::lab::{Lab, SERVER_IP, default_config};
use xdhcpd_tests::omshell::{self, attr, int, ip, run, run_keyed};
use xdhcpd_tests::pair::{ADDR, PairLab, pair_config};
use xdhcpd_tests::require_root;

const MAC1: &str = "52:54:00:00:30:01";
const MAC2: &str = "52:54:00:00:30:02";

fn omapi_lab() -> Result<Lab> {
    let mut lab = Lab::new(&format!("{}{}", omshell::config_lines(), default_config(600)))?;
    lab.start_server(&["--xdp-mode", "off"])?;
    Ok(lab)
}

fn server_stderr(lab: &Lab) -> String {
    lab.server.as_ref().map(|p| p.stderr_lines().join("\n")).unwrap_or_default()
}

#[test]
fn lease_lookup_by_ip_hardware_and_client_id() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut lab = omapi_lab()?;
    lab.add_client_iface("c1", MAC1)?;
    let addr = lab.udhcpc_once("c1")?;

    // By ip-address.
    let out = run_keyed(&lab.srv, "127.0.0.1", &["new lease", &format!("set ip-address = {addr}"), "open"])?;
    eprintln!("omshell (lease by ip):\n{out}");
    assert_eq!(attr(&out, "state").as_deref(), Some(int(2).as_str()), "active:\n{out}");
    assert_eq!(attr(&out, "ip-address"), Some(ip(&addr)), "{out}");
    assert_eq!(attr(&out, "hardware-address").as_deref(), Some(MAC1), "{out}");
    assert_eq!(attr(&out, "hardware-type").as_deref(), Some(int(1).as_str()), "{out}");
    // udhcpc sends client identifier 01 + MAC.
    assert_eq!(attr(&out, "dhcp-client-identifier"), Some(format!("01:{MAC1}")), "{out}");
    for a in ["starts", "ends", "tstp", "tsfp", "atsfp", "cltt", "flags"] {
        assert!(attr(&out, a).is_some(), "{a} missing:\n{out}");
    }
    let ends = attr(&out, "ends").unwrap_or_default();
    let starts = attr(&out, "starts").unwrap_or_default();
    let secs = |h: &str| u32::from_str_radix(&h.replace(':', ""), 16).unwrap_or(0);
    assert_eq!(secs(&ends) - secs(&starts), 600, "lease time 600 s: starts {starts} ends {ends}");

    // By hardware-address (+ type), and by client identifier.
    let out = run_keyed(
        &lab.srv,
        "127.0.0.1",
        &["new lease", &format!("set hardware-address = {MAC1}"), "set hardware-type = 1", "open"],
    )?;
    assert_eq!(attr(&out, "ip-address"), Some(ip(&addr)), "lease by hardware-address:\n{out}");
    let out =
        run_keyed(&lab.srv, "127.0.0.1", &["new lease", &format!("set dhcp-client-identifier = 01:{MAC1}"), "open"])?;
    assert_eq!(attr(&out, "ip-address"), Some(ip(&addr)), "lease by client identifier:\n{out}");

    // Unknown address / client: "not found"; refresh after open gives the same lease.
    let out = run_keyed(&lab.srv, "127.0.0.1", &["new lease", "set ip-address = 198.18.7.7", "open"])?;
    assert!(out.contains("not found"), "{out}");
    let out = run_keyed(&lab.srv, "127.0.0.1", &["new lease", "set hardware-address = 52:54:00:ff:ff:ff", "open"])?;
    assert!(out.contains("not found"), "{out}");
    let out = run_keyed(&lab.srv, "127.0.0.1", &["new lease", &format!("set ip-address = {addr}"), "open", "refresh"])?;
    assert_eq!(attr(&out, "hardware-address").as_deref(), Some(MAC1), "{out}");

    // From the client side of the link too (the listener is on every address).
    let out = run_keyed(&lab.cli, SERVER_IP, &["new lease", &format!("set ip-address = {addr}"), "open"]);
    // The client namespace has no route unless udhcpc configured c1: only check when it did.
    if let Ok(out) = out
        && attr(&out, "state").is_some()
    {
        assert_eq!(attr(&out, "hardware-address").as_deref(), Some(MAC1), "{out}");
    }
    lab.stop_server()?;
    Ok(())
}

#[test]
fn wrong_key_is_refused_and_logged() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut lab = omapi_lab()?;
    lab.add_client_iface("c1", MAC1)?;
    let addr = lab.udhcpc_once("c1")?;
    let lookup = ["new lease".to_string(), format!("set ip-address = {addr}"), "open".to_string()];
    let lookup: Vec<&str> = lookup.iter().map(String::as_str).collect();

    // Right name, wrong secret: every signed message fails its signature check.
    let out = run(&lab.srv, "127.0.0.1", Some((omshell::KEY_NAME, "d3JvbmdzZWNyZXR3cm9uZw==")), &lookup)?;
    eprintln!("omshell (wrong secret):\n{out}");
    assert!(attr(&out, "state").is_none() && attr(&out, "hardware-address").is_none(), "lease leaked:\n{out}");
    // Unknown key name: the authenticator is refused.
    let out = run(&lab.srv, "127.0.0.1", Some(("otherkey", omshell::KEY_SECRET)), &lookup)?;
    eprintln!("omshell (unknown key):\n{out}");
    assert!(attr(&out, "state").is_none(), "lease leaked:\n{out}");
    // No key at all: unsigned requests are refused.
    let out = run(&lab.srv, "127.0.0.1", None, &lookup)?;
    eprintln!("omshell (no key):\n{out}");
    assert!(attr(&out, "state").is_none(), "lease leaked:\n{out}");

    std::thread::sleep(Duration::from_millis(300));
    let log = server_stderr(&lab);
    eprintln!("server log:\n{log}");
    for reason in ["BadSignature", "UnknownKey", "Unsigned"] {
        assert!(log.contains("OMAPI message refused") && log.contains(reason), "{reason} not logged:\n{log}");
    }
    // The right key still works afterwards.
    let out = run_keyed(&lab.srv, "127.0.0.1", &lookup)?;
    assert_eq!(attr(&out, "hardware-address").as_deref(), Some(MAC1), "{out}");
    lab.stop_server()?;
    Ok(())
}

#[test]
fn host_created_by_omshell_is_a_reservation_until_removed() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut lab = omapi_lab()?;
    let create = [
        "new host",
        "set name = \"resv1\"",
        &format!("set hardware-address = {MAC2}"),
        "set hardware-type = 1",
        "set ip-address = 198.18.0.7",
        "create",
    ];
    let out = run_keyed(&lab.srv, "127.0.0.1", &create)?;
    eprintln!("omshell (host create):\n{out}");
    assert_eq!(attr(&out, "name").as_deref(), Some("\"resv1\""), "{out}");
    assert_eq!(attr(&out, "ip-address"), Some(ip("198.18.0.7")), "{out}");
    assert!(!out.contains("can't"), "{out}");
    // Creating it again (create = exclusive) fails: already exists.
    let out = run_keyed(&lab.srv, "127.0.0.1", &create)?;
    assert!(out.contains("already exists"), "{out}");
    // An unknown attribute is refused as dhcpd does.
    let out = run_keyed(&lab.srv, "127.0.0.1", &["new host", "set name = \"h1\"", "set foo = 1", "create"])?;
    assert!(out.contains("can't open object: unknown attribute"), "{out}");

    // A client with that MAC gets the fixed address.
    lab.add_client_iface("c2", MAC2)?;
    assert_eq!(lab.udhcpc_once("c2")?, "198.18.0.7");

    // Lookup by name, by hardware address; the configured host too.
    let out = run_keyed(&lab.srv, "127.0.0.1", &["new host", "set name = \"resv1\"", "open"])?;
    assert_eq!(attr(&out, "hardware-address").as_deref(), Some(MAC2), "{out}");
    let out = run_keyed(&lab.srv, "127.0.0.1", &["new host", &format!("set hardware-address = {MAC2}"), "open"])?;
    assert_eq!(attr(&out, "name").as_deref(), Some("\"resv1\""), "{out}");
    let out = run_keyed(&lab.srv, "127.0.0.1", &["new host", "set name = \"printer\"", "open"])?;
    assert_eq!(attr(&out, "ip-address"), Some(ip("198.18.0.5")), "{out}");

    // Remove it: the client is back to a pool address.
    let out = run_keyed(&lab.srv, "127.0.0.1", &["new host", "set name = \"resv1\"", "open", "remove"])?;
    eprintln!("omshell (host remove):\n{out}");
    assert!(!out.contains("can't") && !out.contains("not found"), "{out}");
    let out = run_keyed(&lab.srv, "127.0.0.1", &["new host", "set name = \"resv1\"", "open"])?;
    assert!(out.contains("not found"), "{out}");
    let again = lab.udhcpc_once("c2")?;
    let last: u8 = again.rsplit('.').next().and_then(|s| s.parse().ok()).unwrap_or(0);
    assert!(again.starts_with("198.18.0.") && (100..=199).contains(&last), "pool address after removal: {again}");
    lab.stop_server()?;
    Ok(())
}

#[test]
fn control_state_2_shuts_the_server_down() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut lab = omapi_lab()?;
    let out = run_keyed(&lab.srv, "127.0.0.1", &["new control", "open"])?;
    assert_eq!(attr(&out, "state").as_deref(), Some(int(1).as_str()), "running:\n{out}");
    // Other values are refused and change nothing.
    let out = run_keyed(&lab.srv, "127.0.0.1", &["new control", "open", "set state = 3", "update"])?;
    assert!(out.contains("invalid argument"), "{out}");
    let out = run_keyed(&lab.srv, "127.0.0.1", &["new control", "open", "set state = 2", "update"])?;
    eprintln!("omshell (control shutdown):\n{out}");
    let mut server = lab.server.take().ok_or_else(|| anyhow::anyhow!("no server"))?;
    server.wait_line(Duration::from_secs(10), |l| l.contains("\"stopped\""))?;
    let status = server.wait_exit(Duration::from_secs(5))?;
    assert!(status.success(), "clean exit: {status}");
    Ok(())
}

#[test]
fn failover_local_state_4_forces_partner_down() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let conf = |i| format!("{}{}", omshell::config_lines(), pair_config(i, 10, 128, 3, 0));
    let mut lab = PairLab::new([conf(0), conf(1)])?;
    lab.start(1, &["--xdp-mode", "off"])?;
    lab.start(0, &["--xdp-mode", "off"])?;
    lab.wait_state(0, "normal", Some("normal"), Duration::from_secs(30))?;

    let out = run_keyed(&lab.srv[0], ADDR[0], &["new failover-state", "set name = \"lab\"", "open"])?;
    eprintln!("omshell (failover-state):\n{out}");
    assert_eq!(attr(&out, "name").as_deref(), Some("\"lab\""), "{out}");
    assert_eq!(attr(&out, "local-state").as_deref(), Some(int(2).as_str()), "normal:\n{out}");
    assert_eq!(attr(&out, "partner-state").as_deref(), Some(int(2).as_str()), "{out}");
    assert_eq!(attr(&out, "hierarchy").as_deref(), Some(int(0).as_str()), "primary:\n{out}");
    assert_eq!(attr(&out, "mclt").as_deref(), Some(int(10).as_str()), "{out}");
    assert_eq!(attr(&out, "local-port").as_deref(), Some(int(647).as_str()), "{out}");
    let out = run_keyed(&lab.srv[1], ADDR[1], &["new failover-state", "set name = \"lab\"", "open"])?;
    assert_eq!(attr(&out, "hierarchy").as_deref(), Some(int(1).as_str()), "secondary:\n{out}");
    let out = run_keyed(&lab.srv[0], ADDR[0], &["new failover-state", "set name = \"nosuch\"", "open"])?;
    assert!(out.contains("not found"), "{out}");

    // The partner dies; the operator declares it down through omshell.
    lab.kill(1)?;
    lab.wait_state(0, "communications-interrupted", None, Duration::from_secs(30))?;
    let out = run_keyed(
        &lab.srv[0],
        ADDR[0],
        &["new failover-state", "set name = \"lab\"", "open", "set local-state = 4", "update", "refresh"],
    )?;
    eprintln!("omshell (local-state = 4):\n{out}");
    assert!(!out.contains("can't"), "{out}");
    assert_eq!(attr(&out, "local-state").as_deref(), Some(int(4).as_str()), "refresh shows partner-down:\n{out}");
    lab.wait_state(0, "partner-down", None, Duration::from_secs(5))?;
    assert_eq!(lab.states(0)?.0, "partner-down");

    // Control shutdown of a failover server: it persists its state and exits cleanly.
    run_keyed(&lab.srv[0], ADDR[0], &["new control", "open", "set state = 2", "update"])?;
    let mut server = lab.servers[0].take().ok_or_else(|| anyhow::anyhow!("no server 0"))?;
    server.wait_line(Duration::from_secs(10), |l| l.contains("\"stopped\""))?;
    assert!(server.wait_exit(Duration::from_secs(5))?.success());
    assert!(lab.leases(0).contains("my state partner-down"), "state persisted:\n{}", lab.leases(0));
    Ok(())
}
