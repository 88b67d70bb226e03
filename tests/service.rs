//! Service behaviour of a running xdhcpd: configuration reload (SIGHUP and `xdhcpd reload`),
//! JSON logs, and SIGTERM telling the failover partner. Real processes in namespaces, real
//! DHCP clients (udhcpc).

use anyhow::{Context, Result};
use std::path::Path;
use std::time::Duration;
use xdhcpd_tests::lab::{Lab, default_config, udhcpc_env};
use xdhcpd_tests::pair::{PairLab, pair_config};
use xdhcpd_tests::process::Proc;
use xdhcpd_tests::require_root;

/// `xdhcpd reload` against `socket`: (exit success, stdout + stderr).
fn reload_command(socket: &Path) -> Result<(bool, String)> {
    let out = std::process::Command::new(xdhcpd_tests::xdhcpd_bin()?)
        .args(["reload", "--control-socket"])
        .arg(socket)
        .output()?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Ok((out.status.success(), text))
}

fn server(lab: &Lab) -> Result<&Proc> {
    lab.server.as_ref().context("server not running")
}

/// Log lines matching `pred` so far.
fn count_lines(p: &Proc, pred: impl Fn(&str) -> bool) -> usize {
    p.stderr_lines().iter().filter(|l| pred(l)).count()
}

#[test]
fn sighup_reload_applies_good_files_and_keeps_serving_on_bad_ones() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let original = default_config(600);
    let mut lab = Lab::new(&original)?;
    let conf = lab.dir.join("dhcpd.conf");
    let socket = lab.dir.join("control.sock");
    let socket_arg = socket.to_str().context("path")?.to_string();
    lab.start_server(&["--xdp-mode", "off", "--control-socket", &socket_arg])?;

    // 1. The running configuration's option value.
    lab.add_client_iface("r1", "52:54:00:00:60:01")?;
    let before = lab.udhcpc_env("r1")?;
    assert_eq!(before.get("domain").map(String::as_str), Some("lab.test"), "{before:?}");

    // 2. A good edit + SIGHUP: a new client gets the new value.
    std::fs::write(&conf, original.replace("lab.test", "reloaded.test"))?;
    server(&lab)?.signal(libc::SIGHUP);
    let line = server(&lab)?.wait_stderr_line(Duration::from_secs(10), |l| l.contains("configuration reloaded"))?;
    assert!(line.contains("(parameters changed in network 198.18.0.0)"), "{line}");
    lab.add_client_iface("r2", "52:54:00:00:60:02")?;
    let after = lab.udhcpc_env("r2")?;
    assert_eq!(after.get("domain").map(String::as_str), Some("reloaded.test"), "{after:?}");

    // 3. A broken file + SIGHUP: the error with file:line:column is logged, the old
    //    configuration keeps serving.
    std::fs::write(
        &conf,
        "default-lease-time 600;\nsubnet 198.18.0.0 netmask 255.255.255.0 {\n  range 198.18.0.100;\n",
    )?;
    let expected = format!("{}:4:1: expected '}}'", conf.display());
    server(&lab)?.signal(libc::SIGHUP);
    let line =
        server(&lab)?.wait_stderr_line(Duration::from_secs(10), |l| l.contains("configuration reload failed"))?;
    assert!(line.contains(&expected), "logged: {line}\nexpected: {expected}");
    lab.add_client_iface("r3", "52:54:00:00:60:03")?;
    let kept = lab.udhcpc_env("r3")?;
    assert_eq!(kept.get("domain").map(String::as_str), Some("reloaded.test"), "{kept:?}");

    // 4. `xdhcpd reload` reports the same error text and fails.
    let (ok, text) = reload_command(&socket)?;
    assert!(!ok, "reload of a broken file must fail: {text}");
    assert!(text.contains(&expected), "{text}");

    // 5. A valid file that would drop leases (a shrunk range) is refused with the reason.
    std::fs::write(&conf, original.replace("range 198.18.0.100 198.18.0.199", "range 198.18.0.100 198.18.0.150"))?;
    let (ok, text) = reload_command(&socket)?;
    assert!(!ok, "{text}");
    assert!(text.contains("range 198.18.0.100 - 198.18.0.199 shrunk or removed"), "{text}");

    // 6. A grown range and a new subnet apply through the command; no lease was lost on the way.
    let grown = original.replace("range 198.18.0.100 198.18.0.199", "range 198.18.0.100 198.18.0.220")
        + "subnet 198.18.2.0 netmask 255.255.255.0 {\n  range 198.18.2.100 198.18.2.110;\n}\n";
    std::fs::write(&conf, grown)?;
    let (ok, text) = reload_command(&socket)?;
    assert!(ok, "{text}");
    assert!(text.contains("3 pools (1 new)"), "{text}");
    assert!(text.contains("new shared networks: 198.18.2.0; 32 addresses added"), "{text}");
    let status = xdhcpd_tests::control_status(&socket)?;
    let pool0 =
        status["pools"].as_array().and_then(|p| p.iter().find(|p| p["pool"] == 0)).context("pool 0 in status")?.clone();
    assert_eq!(pool0["counts"]["active"], 3, "{pool0}");
    assert_eq!(pool0["counts"]["total"], 121, "{pool0}");
    let leases = std::fs::read_to_string(lab.lease_file())?;
    for env in [&before, &after, &kept] {
        let ip = env.get("ip").context("ip")?;
        assert!(leases.contains(&format!("lease {ip} {{")), "{ip} not in the lease file");
    }
    assert_eq!(count_lines(server(&lab)?, |l| l.contains("configuration reloaded")), 2);
    lab.stop_server()?;
    Ok(())
}

#[test]
fn reload_in_a_pair_keeps_normal_and_refuses_failover_changes() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let configs = [pair_config(0, 10, 128, 3, 0), pair_config(1, 10, 128, 3, 0)];
    let mut lab = PairLab::new(configs.clone())?;
    lab.start(0, &["--xdp-mode", "off"])?;
    lab.start(1, &["--xdp-mode", "off"])?;
    lab.wait_state(0, "normal", Some("normal"), Duration::from_secs(20))?;
    lab.add_client("h1", "52:54:00:00:63:01")?;
    let first = udhcpc_env(&lab.cli, &lab.dir, "h1")?;
    assert_eq!(first.get("router").map(String::as_str), Some("198.18.0.1"), "{first:?}");
    let conf = |i: usize| lab.dir.join(format!("s{i}.conf"));

    // A relationship parameter (the MCLT) cannot change live: refused, named, nothing applied.
    std::fs::write(conf(0), configs[0].replace("mclt 10;", "mclt 20;"))?;
    let (ok, text) = reload_command(&lab.socket(0))?;
    assert!(!ok, "{text}");
    assert!(text.contains("failover peer \"lab\": mclt changed"), "{text}");

    // Options and a grown range apply on both, secondary first; the pair stays NORMAL.
    for i in [1, 0] {
        let edited = configs[i]
            .replace("option routers 198.18.0.1;", "option routers 198.18.0.254;")
            .replace("range 198.18.0.100 198.18.0.199;", "range 198.18.0.100 198.18.0.219;");
        std::fs::write(conf(i), edited)?;
        let (ok, text) = reload_command(&lab.socket(i))?;
        assert!(ok, "server {i}: {text}");
    }
    assert_eq!(lab.states(0)?, ("normal".to_string(), "normal".to_string()));
    assert_eq!(lab.states(1)?, ("normal".to_string(), "normal".to_string()));
    for i in 0..2 {
        let status = lab.status(i)?;
        assert_eq!(status["pools"][0]["counts"]["total"], 120, "server {i}: {status}");
    }
    lab.add_client("h2", "52:54:00:00:63:02")?;
    let second = udhcpc_env(&lab.cli, &lab.dir, "h2")?;
    assert_eq!(second.get("router").map(String::as_str), Some("198.18.0.254"), "{second:?}");
    // Both servers still hold the first client's lease.
    let ip = first.get("ip").context("ip")?;
    for i in 0..2 {
        assert!(lab.leases(i).contains(&format!("lease {ip} {{")), "server {i} lost {ip}");
    }
    Ok(())
}

#[test]
fn json_logs_parse_and_carry_failover_and_lease_events() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut lab = PairLab::new([pair_config(0, 10, 128, 3, 0), pair_config(1, 10, 128, 3, 0)])?;
    // The lease log is opt-in (debug on its own target); set the filter explicitly.
    let env = [("RUST_LOG", "info,xdhcpd::lease=debug")];
    lab.start_env(0, &["--xdp-mode", "off", "--log-format", "json"], &env)?;
    lab.start_env(1, &["--xdp-mode", "off", "--log-format", "json"], &env)?;
    lab.wait_state(0, "normal", Some("normal"), Duration::from_secs(20))?;
    lab.add_client("j1", "52:54:00:00:61:01")?;
    let (ip, _) = lab.udhcpc("j1")?;
    // The lease line is written after the fsync; give the logger a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut events: Vec<serde_json::Value> = Vec::new();
    while std::time::Instant::now() < deadline {
        events.clear();
        for i in 0..2 {
            for line in lab.server_log(i) {
                let v: serde_json::Value =
                    serde_json::from_str(&line).with_context(|| format!("server {i}: not JSON: {line}"))?;
                assert!(v["timestamp"].is_string() && v["level"].is_string(), "{v}");
                events.push(v);
            }
        }
        if events.iter().any(|e| is_bound(e, &ip)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let message = |e: &serde_json::Value| e["fields"]["message"].as_str().unwrap_or("").to_string();
    assert!(
        events.iter().any(|e| e["fields"]["peer"] == "lab"
            && message(e).contains("I move from")
            && message(e).contains("to normal")),
        "no state change event in {events:#?}"
    );
    // Pool balancing logs the address's earlier moves (FREE → BACKUP); the client's binding
    // is the ACTIVE one with its hardware address.
    let lease = events.iter().find(|e| is_bound(e, &ip)).with_context(|| format!("no lease event for {ip}"))?;
    assert_eq!(lease["fields"]["hardware"], "52:54:00:00:61:01", "{lease}");
    assert!(lease["fields"]["ends"].as_u64().unwrap_or(0) > lease["fields"]["starts"].as_u64().unwrap_or(u64::MAX));
    Ok(())
}

/// The JSON lease event of `ip` becoming ACTIVE.
fn is_bound(e: &serde_json::Value, ip: &str) -> bool {
    e["target"] == "xdhcpd::lease" && e["fields"]["ip"] == ip && e["fields"]["state"] == "Active"
}

#[test]
fn sigterm_moves_to_shutdown_tells_the_partner_and_flushes() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut lab = PairLab::new([pair_config(0, 10, 128, 3, 0), pair_config(1, 10, 128, 3, 0)])?;
    lab.start(0, &["--xdp-mode", "off"])?;
    lab.start(1, &["--xdp-mode", "off"])?;
    lab.wait_state(0, "normal", Some("normal"), Duration::from_secs(20))?;
    lab.add_client("t1", "52:54:00:00:62:01")?;
    let (ip, _) = lab.udhcpc("t1")?;

    let mut primary = lab.servers[0].take().context("server 0")?;
    primary.signal(libc::SIGTERM);
    primary.wait_line(Duration::from_secs(15), |l| l.contains("\"stopped\""))?;
    let status = primary.wait_exit(Duration::from_secs(5))?;
    assert!(status.success(), "exit status {status}");
    // The partner heard it from the primary itself, not from a dropped connection.
    let partner = lab.servers[1].as_ref().context("server 1")?;
    partner.wait_stderr_line(Duration::from_secs(10), |l| {
        l.contains("failover peer lab: peer moves from normal to shutdown")
    })?;
    // The primary's lease file recorded SHUTDOWN after NORMAL (then RECOVER, dhcpd's state
    // for the next start), and holds the client's lease.
    let leases = lab.leases(0);
    let normal = leases.rfind("my state normal").context("no NORMAL state record")?;
    let shutdown = leases.rfind("my state shutdown").with_context(|| format!("no SHUTDOWN state record:\n{leases}"))?;
    assert!(shutdown > normal, "{leases}");
    assert!(leases.contains(&format!("lease {ip} {{")), "{leases}");
    Ok(())
}

#[test]
fn systemd_unit_verifies_is_hardened_and_its_reload_line_reloads() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let unit = std::fs::read_to_string(xdhcpd_tests::workspace_root().join("contrib/xdhcpd.service"))?;
    let bin = xdhcpd_tests::xdhcpd_bin()?;
    let bin = bin.to_str().context("path")?;
    let mut lab = Lab::new(&default_config(600))?;
    // systemd checks that the commands exist: point them at the binary under test.
    let copy = lab.dir.join("xdhcpd.service");
    std::fs::write(&copy, unit.replace("/usr/local/sbin/xdhcpd", bin))?;

    // systemd's own parser: any unknown key or bad value is printed (and ignored), so the
    // unit must verify without a word.
    let out = std::process::Command::new("systemd-analyze").arg("verify").arg(&copy).output()?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.trim().is_empty(), "systemd-analyze verify:\n{text}");
    // systemd's exposure score (0 safe .. 10 unsafe, threshold in tenths): "OK" is at most 5.
    let out = std::process::Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--threshold=50"])
        .arg(&copy)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exposure above 5.0:\n{text}");
    eprintln!("{}", text.lines().last().unwrap_or(""));

    // The unit's ExecReload, run as systemd would (with $MAINPID), reloads the server.
    let reload = unit.lines().find_map(|l| l.strip_prefix("ExecReload=")).context("the unit has no ExecReload")?;
    let socket = lab.dir.join("control.sock");
    lab.start_server(&["--xdp-mode", "off", "--control-socket", socket.to_str().context("path")?])?;
    let pid = server(&lab)?.pid().to_string();
    let status = std::process::Command::new("sh").args(["-c", reload]).env("MAINPID", &pid).status()?;
    assert!(status.success(), "{reload}: {status}");
    server(&lab)?.wait_stderr_line(Duration::from_secs(10), |l| l.contains("configuration reloaded"))?;
    lab.stop_server()?;
    Ok(())
}
