//! Restart without a gap: xdhcpd pins its XDP program in a bpffs; after a normal exit the
//! program stays attached (and keeps counting), the next start adopts it (same program:
//! no re-attach, counters continue), `xdhcpd --detach-xdp` removes it, and a pin whose
//! interface was recreated is recognised as stale and replaced by a fresh attachment.
//! Namespaces, veth pair, bpffs and processes are removed on drop, also on failure.

use anyhow::{Context, Result};
use std::time::Duration;
use xdhcpd_tests::bpffs::Bpffs;
use xdhcpd_tests::lab::{Lab, default_config};
use xdhcpd_tests::{frames, netns, require_root, xdhcpd_bin};

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xaa, 0xbc, 0x01];

fn send_discovers(lab: &Lab, n: u8) -> Result<usize> {
    let batch: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let mut mac = MAC;
            mac[5] = i;
            frames::bootp_request(mac, 0, &frames::discover_options(None), 0)
        })
        .collect();
    let iface = lab.cli_if.clone();
    netns::in_netns(&lab.cli.name, move || frames::send_raw(&iface, &batch))
}

/// Frames the program classified as DHCP requests (any outcome), from `xdhcpd status`.
fn dhcp_frames_counted(lab: &Lab) -> Result<u64> {
    let status = dhcp_user::runtime::control::request(&lab.dir.join("ctl.sock"), "status")?;
    let c = &status["xdp"]["counters"];
    let n = |k: &str| c[k].as_u64().with_context(|| format!("no counter {k} in {status}"));
    Ok(n("pass_not_balanced_state")? + n("pass_not_balanced_kind")? + n("drop_partner")? + n("pass_mine")?)
}

/// The server's start-up log, without terminal colour codes. stdout ("ready") and stderr
/// (the log) are read by separate threads, so wait for the log line that follows "ready"
/// ("serving DHCP"): every start-up line before it has been collected by then.
fn server_log(lab: &Lab) -> String {
    startup_log(|| lab.server.as_ref().map(|p| p.stderr_lines().join("\n")).unwrap_or_default())
}

fn startup_log(read: impl Fn() -> String) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut raw = read();
    while !raw.contains("serving DHCP") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        raw = read();
    }
    xdhcpd_tests::process::strip_ansi(&raw)
}

/// Whether the interface runs an XDP program, as `ip link` shows it.
fn xdp_attached(lab: &Lab) -> Result<bool> {
    let out = lab.srv.exec(&["ip", "-d", "link", "show", "dev", &lab.srv_if])?;
    Ok(out.contains("prog/xdp"))
}

fn start(lab: &mut Lab, pins: &Bpffs) -> Result<()> {
    let root = pins.root();
    let sock = lab.dir.join("ctl.sock");
    lab.start_server(&[
        "--xdp-mode",
        "auto",
        "--xdp-pin-dir",
        root.to_str().context("path")?,
        "--control-socket",
        sock.to_str().context("path")?,
        "--workers",
        "1",
    ])
}

/// Wait until the program has counted at least `n` DHCP frames (delivery is asynchronous).
fn wait_counted(lab: &Lab, n: u64) -> Result<u64> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let got = dhcp_frames_counted(lab)?;
        if got >= n || std::time::Instant::now() > deadline {
            return Ok(got);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn xdp_program_survives_restart_and_is_adopted() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let pins = Bpffs::mount()?;
    let mut lab = Lab::new(&default_config(600))?;

    // First run: attaches and pins.
    start(&mut lab, &pins)?;
    let first_log = server_log(&lab);
    assert!(first_log.contains("origin=attached"), "first start must attach afresh:\n{first_log}");
    let link_pin = ["link-native", "link-skb"]
        .iter()
        .map(|f| format!("{}/{f}", lab.srv_if))
        .find(|p| pins.exists(p))
        .context("no link pinned")?;
    assert!(pins.exists(&format!("{}/COUNTERS", lab.srv_if)), "maps pinned too");
    assert_eq!(send_discovers(&lab, 5)?, 5);
    let before = wait_counted(&lab, 5)?;
    assert!(before >= 5, "5 DISCOVERs counted, got {before}");

    // Normal exit: the program stays attached and pinned, and keeps classifying frames.
    lab.stop_server()?;
    assert!(xdp_attached(&lab)?, "XDP program detached at exit");
    assert!(pins.exists(&link_pin), "link pin removed at exit");
    assert_eq!(send_discovers(&lab, 3)?, 3);
    std::thread::sleep(Duration::from_millis(300));

    // Second run: adopts the same program; the counters include what it saw while no
    // daemon ran.
    start(&mut lab, &pins)?;
    let log = server_log(&lab);
    assert!(log.contains("adopted the pinned program"), "restart did not adopt:\n{log}");
    let status = dhcp_user::runtime::control::request(&lab.dir.join("ctl.sock"), "status")?;
    assert_eq!(status["xdp"]["origins"][&lab.srv_if], "adopted", "{}", status["xdp"]);
    let after = dhcp_frames_counted(&lab)?;
    assert!(after >= before + 3, "counters did not continue: {before} before, {after} after the restart");
    lab.stop_server()?;

    // --detach-xdp removes program and pins.
    let out = lab
        .srv
        .command(xdhcpd_bin()?.to_str().context("path")?)
        .args(["--detach-xdp", "--xdp-pin-dir", pins.root().to_str().context("path")?, &lab.srv_if])
        .output()?;
    assert!(out.status.success(), "--detach-xdp failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&lab.srv_if), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(!pins.exists(&lab.srv_if), "pins left after --detach-xdp");
    assert!(!xdp_attached(&lab)?, "XDP still attached after --detach-xdp");
    Ok(())
}

#[test]
fn a_pin_for_a_recreated_interface_is_replaced() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let pins = Bpffs::mount()?;
    let mut lab = Lab::new(&default_config(600))?;
    start(&mut lab, &pins)?;
    lab.stop_server()?;
    assert!(xdp_attached(&lab)?);

    // Recreate the veth pair under the same names: the pinned link is now defunct.
    lab.srv.exec(&["ip", "link", "del", &lab.srv_if])?;
    netns::veth(&lab.srv, &lab.srv_if, Some("198.18.0.1/24"), &lab.cli, &lab.cli_if, None)?;
    assert!(!xdp_attached(&lab)?, "a new interface starts without XDP");

    start(&mut lab, &pins)?;
    let log = server_log(&lab);
    assert!(log.contains("stale XDP pin"), "stale pin not recognised:\n{log}");
    assert!(!log.contains("adopted the pinned program"), "adopted a defunct link:\n{log}");
    assert!(xdp_attached(&lab)?, "no fresh attachment on the recreated interface");
    lab.stop_server()?;
    Ok(())
}

/// A run without XDP (`--xdp-mode off`) removes the program an earlier run left pinned:
/// otherwise it would keep steering behind the userspace path's back.
#[test]
fn a_run_without_xdp_removes_the_pinned_program() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let pins = Bpffs::mount()?;
    let mut lab = Lab::new(&default_config(600))?;
    start(&mut lab, &pins)?;
    lab.stop_server()?;
    assert!(xdp_attached(&lab)?);

    let root = pins.root();
    let sock = lab.dir.join("ctl.sock");
    lab.start_server(&[
        "--xdp-mode",
        "off",
        "--xdp-pin-dir",
        root.to_str().context("path")?,
        "--control-socket",
        sock.to_str().context("path")?,
    ])?;
    let log = server_log(&lab);
    assert!(log.contains("removed the XDP program an earlier run left pinned"), "stale program kept:\n{log}");
    assert!(!xdp_attached(&lab)?, "XDP still attached in a run without XDP");
    assert!(!pins.exists(&lab.srv_if), "pins left");
    lab.stop_server()?;
    Ok(())
}

/// A program of another build pinned for the interface is replaced atomically on the same
/// link (no detach): xdhcpd's program then runs there, stays pinned, and the next start adopts it.
#[test]
fn another_builds_pinned_program_is_replaced() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let pins = Bpffs::mount()?;
    let mut lab = Lab::new(&default_config(600))?;
    let dir = pins.root().join(&lab.srv_if);
    std::fs::create_dir_all(&dir)?;
    let (srv_if, link) = (lab.srv_if.clone(), dir.join("link-skb"));
    netns::in_netns(&lab.srv.name, move || xdhcpd_tests::bpffs::pin_foreign_xdp(&srv_if, &link))?;
    assert!(xdp_attached(&lab)?, "the foreign program is attached");

    start(&mut lab, &pins)?;
    let log = server_log(&lab);
    assert!(log.contains("replaced the pinned program of another build"), "not replaced:\n{log}");
    let status = dhcp_user::runtime::control::request(&lab.dir.join("ctl.sock"), "status")?;
    assert_eq!(status["xdp"]["origins"][&lab.srv_if], "replaced", "{}", status["xdp"]);
    assert_eq!(send_discovers(&lab, 5)?, 5);
    let counted = wait_counted(&lab, 5)?;
    assert!(counted >= 5, "xdhcpd's program does not run on the replaced link: {counted} counted");
    assert!(pins.exists(&format!("{}/link-skb", lab.srv_if)), "the link pin is kept");
    assert!(pins.exists(&format!("{}/COUNTERS", lab.srv_if)), "our maps are pinned");
    lab.stop_server()?;

    start(&mut lab, &pins)?;
    let log = server_log(&lab);
    assert!(log.contains("adopted the pinned program"), "the replaced program is not adopted next time:\n{log}");
    lab.stop_server()?;
    Ok(())
}

/// In a load-balanced pair: the primary's program, left behind at a normal exit, passes
/// everything while no daemon runs (nothing dropped); after the restart adopts it, the
/// steering written to the adopted maps takes effect (partner DISCOVERs dropped again).
#[test]
fn pair_member_restart_adopts_and_steers() -> Result<()> {
    use xdhcpd_tests::pair::{PairLab, pair_config};
    if !require_root() {
        return Ok(());
    }
    let pins = Bpffs::mount()?;
    let root = pins.root().to_str().context("path")?.to_string();
    let args = ["--xdp-mode", "skb", "--xdp-pin-dir", root.as_str()];
    let mut lab = PairLab::new([pair_config(0, 10, 128, 3, 0), pair_config(1, 10, 128, 3, 0)])?;
    lab.start(1, &args)?;
    lab.start(0, &args)?;
    lab.wait_state(0, "normal", Some("normal"), Duration::from_secs(20))?;

    // DISCOVERs of clients the secondary owns (split 128: buckets 128..=255), sent into the
    // primary's port only.
    let partners: Vec<Vec<u8>> = (0..=255u8)
        .map(|i| [0x52, 0x54, 0x00, 0x6d, 0x00, i])
        .filter(|m| dhcp_common::lb_hash(m) >= 128)
        .take(8)
        .map(|m| frames::bootp_request(m, 0, &frames::discover_options(None), 0))
        .collect();
    let send = |lab: &PairLab| -> Result<usize> {
        let batch = partners.clone();
        netns::in_netns(&lab.cli.name, move || frames::send_raw("bp0", &batch))
    };
    let counters = |lab: &PairLab| -> Result<(u64, u64)> {
        let c = lab.status(0)?["xdp"]["counters"].clone();
        let n = |k: &str| c[k].as_u64().with_context(|| format!("no counter {k} in {c}"));
        Ok((n("drop_partner")?, n("pass_not_balanced_state")?))
    };
    let wait_dropped = |lab: &PairLab, at_least: u64| -> Result<(u64, u64)> {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let c = counters(lab)?;
            if c.0 >= at_least || std::time::Instant::now() > deadline {
                return Ok(c);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let (d0, _) = counters(&lab)?;
    send(&lab)?;
    let (d1, p1) = wait_dropped(&lab, d0 + 8)?;
    assert!(d1 >= d0 + 8, "in NORMAL the partner's DISCOVERs are dropped: {d0} -> {d1}");

    // Normal exit of the primary; while it is down its program passes everything.
    let mut primary = lab.servers[0].take().context("primary")?;
    primary.signal(libc::SIGTERM);
    primary.wait_line(Duration::from_secs(15), |l| l.contains("\"stopped\""))?;
    primary.wait_exit(Duration::from_secs(5))?;
    send(&lab)?;
    std::thread::sleep(Duration::from_millis(300));

    lab.start(0, &args)?;
    let log = startup_log(|| lab.server_log(0).join("\n"));
    assert!(log.contains("adopted the pinned program"), "restart did not adopt:\n{log}");
    let (d2, p2) = counters(&lab)?;
    assert_eq!(d2, d1, "the program dropped frames while no daemon ran");
    assert!(p2 >= p1 + 8, "frames sent while down were not passed: {p1} -> {p2}");

    // Back in NORMAL, the adopted program applies the fresh steering.
    lab.wait_state(0, "normal", Some("normal"), Duration::from_secs(60))?;
    send(&lab)?;
    let (d3, _) = wait_dropped(&lab, d2 + 8)?;
    assert!(d3 >= d2 + 8, "after the restart the adopted program does not drop: {d2} -> {d3}");
    Ok(())
}
