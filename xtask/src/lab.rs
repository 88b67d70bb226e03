//! `cargo xtask lab`: the main job, live. A failover pair of xdhcpd (XDP attached) in two
//! server namespaces, real DHCP clients (udhcpc) on a bridge between them. It shows both
//! servers reaching NORMAL, clients split between them by the RFC 3074 hash, the XDP
//! counters, then kills the primary, shows the secondary serving everyone (partner-down by
//! command), restarts the primary and shows recovery to NORMAL, then tears everything down.

use crate::util::step;
use anyhow::Result;
use std::time::{Duration, Instant};
use xdhcpd_tests::pair::{ADDR, PairLab, pair_config};

fn show(lab: &PairLab) {
    for (i, addr) in ADDR.iter().enumerate() {
        let name = if i == 0 { "primary  " } else { "secondary" };
        match lab.status(i) {
            Ok(v) => {
                let r = &v["relationships"][0];
                let c = &v["pools"][0]["counts"];
                println!(
                    "    {name} {addr}: {:<26} partner {:<26} pool total {} free {} backup {} active {}",
                    r["my_state"].as_str().unwrap_or("?"),
                    r["partner_state"].as_str().unwrap_or("?"),
                    c["total"],
                    c["free"],
                    c["backup"],
                    c["active"]
                );
            }
            Err(_) => println!("    {name} {addr}: (not running)"),
        }
    }
}

fn clients(lab: &PairLab, range: std::ops::RangeInclusive<u8>) -> Result<()> {
    for n in range {
        let name = format!("lab{n}");
        let _ = lab.add_client(&name, &format!("52:54:00:00:40:{n:02x}"));
        match lab.udhcpc(&name) {
            Ok((ip, server)) => println!("    client {name} (52:54:00:00:40:{n:02x}) got {ip} from {server}"),
            Err(e) => println!("    client {name}: no lease ({e})"),
        }
    }
    Ok(())
}

fn wait_normal(lab: &PairLab, secs: u64) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if lab.states(0).is_ok_and(|(m, p)| m == "normal" && p == "normal")
            && lab.states(1).is_ok_and(|(m, p)| m == "normal" && p == "normal")
        {
            println!("    NORMAL/NORMAL after {:.2} s", start.elapsed().as_secs_f64());
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("    (not NORMAL/NORMAL after {secs} s)");
}

pub fn run(_secs: u64) -> Result<()> {
    // SAFETY: single-threaded here; the lab uses the release build just made.
    unsafe { std::env::set_var("XDHCPD_BIN", crate::util::root().join("target/release/xdhcpd")) };
    step("creating the lab: namespaces for two servers and the clients, a bridge, 198.18.0.0/24");
    let mut lab = PairLab::new([pair_config(0, 15, 128, 3, 0), pair_config(1, 15, 128, 3, 0)])?;
    println!("    config of the primary (dhcpd.conf syntax):");
    for l in pair_config(0, 15, 128, 3, 0)
        .lines()
        .filter(|l| l.contains("failover") || l.contains("mclt") || l.contains("range"))
    {
        println!("      {}", l.trim());
    }
    step("starting the pair (XDP attached in generic mode on each server's veth)");
    lab.start(1, &["--xdp-mode", "skb"])?;
    lab.start(0, &["--xdp-mode", "skb"])?;
    wait_normal(&lab, 20);
    show(&lab);
    step("8 real DHCP clients (udhcpc): each answered by the server its RFC 3074 hash names");
    clients(&lab, 1..=8)?;
    std::thread::sleep(Duration::from_secs(2));
    show(&lab);
    step("kill -9 of the primary");
    lab.kill(0)?;
    std::thread::sleep(Duration::from_secs(1));
    show(&lab);
    step("`xdhcpd partner-down` on the secondary: it now serves everyone");
    let bin = xdhcpd_tests::xdhcpd_bin()?;
    let _ = std::process::Command::new(&bin).args(["partner-down", "--control-socket"]).arg(lab.socket(1)).output();
    std::thread::sleep(Duration::from_millis(500));
    show(&lab);
    clients(&lab, 9..=12)?;
    step("restarting the primary with its lease file: recovery");
    lab.start(0, &["--xdp-mode", "skb"])?;
    wait_normal(&lab, 60);
    show(&lab);
    clients(&lab, 13..=14)?;
    step("tearing down (namespaces, links, processes)");
    drop(lab);
    Ok(())
}
