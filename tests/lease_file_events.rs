//! A lease's pending `on expiry` statements go to the lease file as dhcpd writes them: a
//! real client (udhcpc) gets a lease from xdhcpd, whose file then holds the statements;
//! the real ISC dhcpd reads that file and runs them when it finds the lease expired, and
//! so does xdhcpd restarted on it. The statements' program creates a marker file. One
//! server in namespaces the test creates, removed on drop.

use anyhow::{Context, Result, ensure};
use std::time::{Duration, Instant};
use xdhcpd_tests::lab::Lab;
use xdhcpd_tests::require_root;

const MAC: &str = "52:54:00:00:62:01";

fn wait_for(path: &std::path::Path, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn expiry_statements_survive_a_restart_and_dhcpd_reads_them() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    // The marker's directory is the lab's, known once the lab exists: the configuration
    // is written again with it.
    let mut lab = Lab::new("")?;
    let marks = lab.dir.join("marks");
    std::fs::create_dir_all(&marks)?;
    let conf = format!(
        "# xdhcpd integration test\nping-check false;\nauthoritative;\nddns-update-style none;\n\
         default-lease-time 6;\nmax-lease-time 6;\n\
         subnet 198.18.0.0 netmask 255.255.255.0 {{\n  range 198.18.0.100 198.18.0.199;\n\
         \x20 on commit {{ set ip = binary-to-ascii (10, 8, \".\", leased-address); }}\n\
         \x20 on expiry {{ execute (\"/usr/bin/touch\", concat (\"{}/expired-\", ip)); }}\n}}\n",
        marks.display()
    );
    let conf_path = lab.dir.join("dhcpd.conf");
    std::fs::write(&conf_path, &conf)?;
    lab.start_server(&["--xdp-mode", "off", "--workers", "1"])?;
    lab.add_client_iface("le1", MAC)?;
    let ip = lab.udhcpc_once("le1")?;
    // Stopped before the lease ends: its expiry statements are pending in the file.
    lab.stop_server()?;
    let text = lab.lease_text();
    let block =
        format!("on expiry {{\n    execute (\"/usr/bin/touch\", concat (\"{}/expired-\", ip));\n  }}", marks.display());
    ensure!(text.contains(&block), "no pending statements in the lease file:\n{text}");
    let marker = marks.join(format!("expired-{ip}"));
    std::thread::sleep(Duration::from_secs(7));
    ensure!(!marker.exists(), "nothing ran the statements yet");
    // The real dhcpd reads xdhcpd's file as written (a copy, dhcpd -T rewrites nothing but
    // is given its own) and runs the statements of the lease it finds expired: the record
    // says `next binding state free;`, as dhcpd writes for a bound lease (without it dhcpd
    // takes the next state to be active and never expires the lease).
    ensure!(text.contains("  next binding state free;\n"), "no bound lease with its next state in the file:\n{text}");
    let copy = lab.dir.join("copy.leases");
    std::fs::write(&copy, &text)?;
    let out = std::process::Command::new("dhcpd")
        .args(["-T", "-4", "-cf"])
        .arg(&conf_path)
        .arg("-lf")
        .arg(&copy)
        .output()
        .context("dhcpd -T")?;
    let log = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "dhcpd -T refused xdhcpd's lease file:\n{log}");
    ensure!(wait_for(&marker, Duration::from_secs(5)), "dhcpd did not run the statements:\n{log}\n{text}");
    std::fs::remove_file(&marker)?;
    // xdhcpd restarted on its file: the expired lease runs them too.
    lab.start_server(&["--xdp-mode", "off", "--workers", "1"])?;
    ensure!(wait_for(&marker, Duration::from_secs(20)), "xdhcpd did not run the statements after its restart");
    lab.stop_server()?;
    Ok(())
}
