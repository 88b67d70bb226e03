//! The namespace lab. Today: the XDP program attached to a server namespace's veth, real DHCP
//! clients (dhclient, udhcpc) in a client namespace sending DISCOVERs, live counters printed
//! every second, then everything torn down. Later issues grow it into the failover demo.

use crate::util::{root, step};
use anyhow::{Context, Result};
use std::process::Command;
use std::time::{Duration, Instant};
use xdhcpd_tests::{netns, process::Proc};

pub fn run(secs: u64) -> Result<()> {
    step("creating the lab: a server and a client namespace joined by a veth pair (198.18.0.0/24)");
    let srv = netns::Netns::new("xlsrv")?;
    let cli = netns::Netns::new("xlcli")?;
    let srv_if = netns::unique("lsrv");
    let cli_if = netns::unique("lcli");
    netns::veth(&srv, &srv_if, Some("198.18.0.1/24"), &cli, &cli_if, None)?;

    step("attaching the XDP program (xdhcpd --xdp-only)");
    let bin = root().join("target/release/xdhcpd");
    let mut cmd = srv.command(bin.to_str().context("path")?);
    cmd.args(["--xdp-only", "--counters-interval", "1", &srv_if]);
    let mut server = Proc::spawn("xdhcpd", cmd)?;
    let attached = server.wait_line(Duration::from_secs(30), |l| l.contains("\"attached\""))?;
    println!("    {attached}");

    step("starting real DHCP clients in the client namespace (nobody answers yet: they keep discovering)");
    let mut clients = Vec::new();
    if which("udhcpc") {
        let mut c = cli.command("udhcpc");
        c.args(["-f", "-i", &cli_if, "-t", "100", "-T", "1", "-s", "/bin/true"]);
        clients.push(Proc::spawn("udhcpc", c)?);
    }
    if which("dhclient") {
        let lease = std::env::temp_dir().join(format!("xlab-{}.leases", std::process::id()));
        let mut c = cli.command("dhclient");
        c.args(["-d", "-4", "-lf"]).arg(&lease).args(["-sf", "/bin/true", &cli_if]);
        clients.push(Proc::spawn("dhclient", c)?);
    }

    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut shown = 0;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        let lines = server.stdout_lines();
        for l in lines.iter().skip(shown) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(l)
                && let Some(c) = v.get("counters")
            {
                let nonzero: Vec<String> = c
                    .as_object()
                    .map(|m| m.iter().filter(|(_, v)| v.as_u64() != Some(0)).map(|(k, v)| format!("{k}={v}")).collect())
                    .unwrap_or_default();
                println!(
                    "    xdp counters: {}",
                    if nonzero.is_empty() { "(none yet)".into() } else { nonzero.join(" ") }
                );
            }
        }
        shown = lines.len();
    }
    step("tearing down");
    drop(clients);
    server.signal(libc::SIGTERM);
    if let Ok(l) = server.wait_line(Duration::from_secs(5), |l| l.contains("\"detached\"")) {
        println!("    {l}");
    }
    Ok(())
}

fn which(prog: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {prog}")]).output().map(|o| o.status.success()).unwrap_or(false)
}
