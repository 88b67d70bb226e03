//! `cargo xtask bench restore [--clients N[,N...]] [NAME...]`: power restoration. Every client
//! of a building asks at once when the power comes back: `perfdhcp --scenario avalanche`
//! sends a DISCOVER for each of N clients, then retransmits with back-off until each one is
//! bound (DISCOVER, OFFER, REQUEST, ACK). Every server and pair below meets the same
//! avalanche on the same namespace topology, one after the other, in the same run:
//!
//! * xdhcpd alone; an xdhcpd pair with XDP off (the userspace fallback) and with XDP on;
//! * Kea 2.2 alone (memfile persist, multi-threaded) and a Kea HA load-balancing pair;
//! * ISC dhcpd 4.4 alone and a dhcpd failover pair.
//!
//! Measured: the time until every client is bound (perfdhcp's own report), the packets it
//! had to send (a client answered late is a client that retransmitted), and the servers' CPU
//! per bound client (utime + stime from /proc of every server process). Each server starts
//! fresh, with empty lease files, a range holding every client with room to spare, ping
//! checks off (a dhcpd admin's setting under load; xdhcpd and dhcpd both ping by default),
//! and is ready (pairs NORMAL, pool balancing settled) before the avalanche begins.
//!
//! Bounds: perfdhcp is killed after `RUN_BOUND` (the row then says how many were bound), and
//! a client count is capped by the test network: 198.18.0.0/15 holds 131,070 addresses, so
//! the 1,000,000-client avalanche of issue 14 is not run here.

use crate::bench::cpu_secs;
use crate::bench_failover::{Pair, start_pair_with};
use crate::util::step;
use anyhow::{Context, Result, bail};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use xdhcpd_tests::pair::PairLab;
use xdhcpd_tests::process::Proc;

/// The longest one avalanche may run.
const RUN_BOUND: Duration = Duration::from_secs(900);
/// The most clients the test network can hold (a range from 198.18.1.0 to the /15's end).
const MAX_CLIENTS: u32 = 120_000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Setup {
    Xdhcpd,
    XdhcpdPairNoXdp,
    XdhcpdPairXdp,
    Kea,
    KeaHa,
    Dhcpd,
    DhcpdPair,
}

impl Setup {
    const ALL: [Setup; 7] = [
        Setup::Xdhcpd,
        Setup::XdhcpdPairNoXdp,
        Setup::XdhcpdPairXdp,
        Setup::Kea,
        Setup::KeaHa,
        Setup::Dhcpd,
        Setup::DhcpdPair,
    ];

    fn name(self) -> &'static str {
        match self {
            Setup::Xdhcpd => "xdhcpd",
            Setup::XdhcpdPairNoXdp => "xdhcpd pair, XDP off",
            Setup::XdhcpdPairXdp => "xdhcpd pair, XDP on",
            Setup::Kea => "Kea 2.2",
            Setup::KeaHa => "Kea 2.2 HA pair",
            Setup::Dhcpd => "ISC dhcpd 4.4",
            Setup::DhcpdPair => "ISC dhcpd 4.4 pair",
        }
    }

    /// Which family it belongs to (for `NAME` filters: `xdhcpd`, `kea`, `dhcpd`).
    fn family(self) -> &'static str {
        match self {
            Setup::Xdhcpd | Setup::XdhcpdPairNoXdp | Setup::XdhcpdPairXdp => "xdhcpd",
            Setup::Kea | Setup::KeaHa => "kea",
            Setup::Dhcpd | Setup::DhcpdPair => "dhcpd",
        }
    }
}

struct Row {
    setup: Setup,
    clients: u32,
    /// perfdhcp's "It took ..." time, when every client was bound within the bound.
    all_bound: Option<f64>,
    /// Wall time of the run (to the end, or to the bound).
    wall: f64,
    /// Requests perfdhcp sent (DISCOVERs and REQUESTs, first tries and retransmissions).
    sent: u64,
    /// Of which retransmissions.
    resent: u64,
    /// Responses perfdhcp received (OFFERs and ACKs).
    responses: u64,
    /// Servers' CPU seconds per bound client, ms.
    cpu_ms_per_client: f64,
}

/// The range of `clients` addresses with room to spare: from 198.18.1.0.
fn range_end(clients: u32) -> Ipv4Addr {
    let size = (clients + clients / 5).clamp(1000, MAX_CLIENTS + 10_000);
    Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 1, 0)) + size - 1)
}

/// A single server's dhcpd.conf (xdhcpd and dhcpd read the same text).
fn single_config(clients: u32) -> String {
    format!(
        "authoritative;\nddns-update-style none;\nping-check false;\ndefault-lease-time 86400;\nmax-lease-time 86400;\n\
         subnet 198.18.0.0 netmask 255.254.0.0 {{\n  pool {{\n    deny dynamic bootp clients;\n    \
         range 198.18.1.0 {};\n  }}\n}}\n",
        range_end(clients)
    )
}

/// Kea 2.2 alone: the same subnet and range, memfile with persistence, multi-threaded (as
/// in `bench server`).
fn kea_single_config(lab: &PairLab, clients: u32) -> String {
    let p = |p: &std::path::Path| p.to_string_lossy().into_owned();
    format!(
        r#"{{ "Dhcp4": {{
  "interfaces-config": {{ "interfaces": [ "{iface}" ], "dhcp-socket-type": "raw" }},
  "lease-database": {{ "type": "memfile", "persist": true, "name": "{leases}", "lfc-interval": 0 }},
  "valid-lifetime": 86400, "renew-timer": 43200, "rebind-timer": 75600,
  "multi-threading": {{ "enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 64 }},
  "subnet4": [ {{ "id": 1, "subnet": "198.18.0.0/15", "pools": [ {{ "pool": "198.18.1.0 - {last}" }} ] }} ],
  "loggers": [ {{ "name": "kea-dhcp4", "output_options": [ {{ "output": "{log}" }} ], "severity": "WARN" }} ]
}} }}
"#,
        iface = lab.ifs[0],
        leases = p(&lab.lease_file(0)),
        last = range_end(clients),
        log = p(&lab.dir.join("kea0.log")),
    )
}

/// Starts `setup` with room for `clients`, ready to serve. Returns the lab.
fn start(setup: Setup, clients: u32) -> Result<PairLab> {
    let size = u32::from(range_end(clients)) - u32::from(Ipv4Addr::new(198, 18, 1, 0)) + 1;
    let lab = match setup {
        Setup::XdhcpdPairNoXdp => start_pair_with(Pair::Xdhcpd, size, &["--xdp-mode", "off"])?.0,
        Setup::XdhcpdPairXdp => start_pair_with(Pair::Xdhcpd, size, &["--xdp-mode", "skb"])?.0,
        Setup::KeaHa => start_pair_with(Pair::Kea, size, &[])?.0,
        Setup::DhcpdPair => start_pair_with(Pair::Dhcpd, size, &[])?.0,
        Setup::Xdhcpd | Setup::Dhcpd | Setup::Kea => {
            let mut lab = PairLab::new([single_config(clients), single_config(clients)])?;
            lab.cli.exec(&["ip", "addr", "add", "198.18.0.50/24", "dev", "br0"])?;
            match setup {
                Setup::Xdhcpd => {
                    // Returns once xdhcpd says it is ready.
                    lab.start(0, &[])?;
                }
                Setup::Dhcpd => {
                    lab.start_dhcpd(0)?;
                    // dhcpd logs nothing on readiness with -q; it is ready once it binds.
                    std::thread::sleep(Duration::from_secs(2));
                }
                _ => {
                    let conf = lab.dir.join("kea0.json");
                    std::fs::write(&conf, kea_single_config(&lab, clients))?;
                    let p = conf.to_string_lossy().into_owned();
                    let mut c = lab.srv[0].command("kea-dhcp4");
                    c.args(["-c", &p]).env("KEA_PIDFILE_DIR", &lab.dir).env("KEA_LOCKFILE_DIR", &lab.dir);
                    lab.servers[0] = Some(Proc::spawn("kea-0", c)?);
                    std::thread::sleep(Duration::from_secs(2));
                }
            }
            lab
        }
    };
    for (i, s) in lab.servers.iter().enumerate() {
        if let Some(p) = s
            && !std::path::Path::new(&format!("/proc/{}", p.pid())).exists()
        {
            bail!("{}: server {i} exited before the avalanche", setup.name());
        }
    }
    Ok(lab)
}

/// What perfdhcp's avalanche report says: the time it took, requests sent (first tries and
/// retransmissions), of which retransmissions, and responses received.
fn parse_avalanche(text: &str) -> (Option<f64>, u64, u64, u64) {
    // "It took 00:00:02.051634 to provision 2000 clients." (perfdhcp 2.2)
    let took = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("It took "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|hms| {
            let mut secs = 0.0;
            for part in hms.split(':') {
                secs = secs * 60.0 + part.parse::<f64>().ok()?;
            }
            Some(secs)
        });
    let count = |key: &str| -> u64 {
        text.lines().find_map(|l| l.trim().strip_prefix(key)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
    };
    (took, count("Requests sent + resent:"), count("Requests resent:"), count("Responses received:"))
}

fn run_one(setup: Setup, clients: u32) -> Result<Row> {
    step(&format!("{}: an avalanche of {clients} clients", setup.name()));
    let lab = start(setup, clients)?;
    let servers_cpu = |lab: &PairLab| -> f64 { lab.servers.iter().flatten().map(|p| cpu_secs(p.pid())).sum() };
    let c0 = servers_cpu(&lab);
    let t0 = Instant::now();
    let mut perf = lab
        .cli
        .command("perfdhcp")
        .args(["-4", "--scenario", "avalanche", "-R", &clients.to_string(), "-W", "5000000", "-l", "br0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("starting perfdhcp")?;
    // Bounded: perfdhcp ends when every client is bound, or it is stopped here.
    let mut bounded_out = false;
    loop {
        if perf.try_wait().context("perfdhcp")?.is_some() {
            break;
        }
        if t0.elapsed() > RUN_BOUND {
            // SIGINT makes perfdhcp print its statistics before it exits.
            let _ = std::process::Command::new("kill").args(["-INT", &perf.id().to_string()]).status();
            bounded_out = true;
            std::thread::sleep(Duration::from_secs(2));
            let _ = perf.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = servers_cpu(&lab) - c0;
    let out = perf.wait_with_output().context("perfdhcp")?;
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        println!("{text}");
    }
    let (took, sent, resent, responses) = parse_avalanche(&text);
    let all_bound = if bounded_out { None } else { took };
    let row = Row {
        setup,
        clients,
        all_bound,
        wall,
        sent,
        resent,
        responses,
        cpu_ms_per_client: cpu * 1000.0 / f64::from(clients.max(1)),
    };
    println!("    {}", describe(&row));
    drop(lab);
    Ok(row)
}

fn describe(r: &Row) -> String {
    let bound = match r.all_bound {
        Some(t) => format!("all {} bound in {t:.1} s", r.clients),
        None => format!("NOT all bound: {} responses in {:.0} s", r.responses, r.wall),
    };
    format!(
        "{bound}; perfdhcp sent {} requests, {} of them retransmissions ({} per client); servers' CPU {:.3} ms \
         per client",
        r.sent,
        r.resent,
        retransmissions_per_client(r),
        r.cpu_ms_per_client
    )
}

/// perfdhcp prints its counts when it ends on its own; stopped at the bound it may print
/// nothing, and then there is no count to show (not zero).
fn retransmissions_per_client(r: &Row) -> String {
    if r.sent == 0 {
        "n/a (perfdhcp printed no statistics)".into()
    } else {
        format!("{:.2}", r.resent as f64 / f64::from(r.clients.max(1)))
    }
}

pub fn restore(args: &[String]) -> Result<()> {
    crate::bench::require_tools(&["perfdhcp", "kea-dhcp4", "dhcpd"])?;
    // SAFETY: single-threaded here.
    unsafe { std::env::set_var("XDHCPD_BIN", crate::util::target_dir().join("release/xdhcpd")) };
    let clients: Vec<u32> = match args.iter().position(|a| a == "--clients") {
        Some(i) => args
            .get(i + 1)
            .context("--clients wants a list, e.g. 10000,100000")?
            .split(',')
            .map(|n| n.trim().parse::<u32>().with_context(|| format!("client count {n:?}")))
            .collect::<Result<_>>()?,
        None => vec![10_000, 100_000],
    };
    if let Some(n) = clients.iter().find(|n| **n > MAX_CLIENTS || **n == 0) {
        bail!("{n} clients: between 1 and {MAX_CLIENTS} (198.18.0.0/15 is the test network)");
    }
    let skip = args.iter().position(|a| a == "--clients").map(|i| i + 1);
    let only: Vec<&str> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| Some(*i) != skip && !a.starts_with("--"))
        .map(|(_, a)| a.as_str())
        .collect();
    let mut rows = Vec::new();
    let mut failed: Vec<(u32, Setup, String)> = Vec::new();
    for &n in &clients {
        for setup in Setup::ALL {
            if !only.is_empty() && !only.iter().any(|o| o.eq_ignore_ascii_case(setup.family())) {
                continue;
            }
            // A server that cannot be made ready is a result too (the run goes on to the
            // others, and the table says so).
            match run_one(setup, n) {
                Ok(row) => rows.push(row),
                Err(e) => {
                    let why = format!("{e:#}").lines().next().unwrap_or_default().to_string();
                    println!("    {}: did not start: {why}", setup.name());
                    failed.push((n, setup, why));
                }
            }
        }
    }
    step("power restoration (same run, same topology)");
    println!("| clients | server | all bound in | retransmissions per client | servers' CPU per client |");
    println!("|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {:.3} ms |",
            r.clients,
            r.setup.name(),
            r.all_bound.map(|t| format!("{t:.1} s")).unwrap_or_else(|| format!("not in {:.0} s", r.wall)),
            retransmissions_per_client(r),
            r.cpu_ms_per_client
        );
    }
    for (n, setup, why) in &failed {
        println!("| {n} | {} | did not start: {why} | — | — |", setup.name());
    }
    for &n in &clients {
        let of = |s: Setup| rows.iter().find(|r| r.clients == n && r.setup == s);
        let Some(x) = of(Setup::Xdhcpd) else { continue };
        for other in Setup::ALL.iter().filter(|s| s.family() != "xdhcpd") {
            let Some(o) = of(*other) else { continue };
            let time = match (x.all_bound, o.all_bound) {
                (Some(a), Some(b)) => format!("time x{:.3}", a / b),
                (Some(a), None) => format!("time < x{:.3} (it did not finish)", a / o.wall),
                _ => "time n/a".into(),
            };
            println!(
                "{n} clients, xdhcpd / {}: {time}, CPU per client x{:.3}",
                o.setup.name(),
                x.cpu_ms_per_client / o.cpu_ms_per_client.max(1e-9)
            );
        }
        for (pair, other) in [
            (Setup::XdhcpdPairXdp, Setup::KeaHa),
            (Setup::XdhcpdPairXdp, Setup::DhcpdPair),
            (Setup::XdhcpdPairNoXdp, Setup::KeaHa),
        ] {
            let (Some(x), Some(o)) = (of(pair), of(other)) else { continue };
            if let (Some(a), Some(b)) = (x.all_bound, o.all_bound) {
                println!(
                    "{n} clients, {} / {}: time x{:.3}, CPU per client x{:.3}",
                    x.setup.name(),
                    o.setup.name(),
                    a / b,
                    x.cpu_ms_per_client / o.cpu_ms_per_client.max(1e-9)
                );
            }
        }
    }
    let json: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({"clients": r.clients, "server": r.setup.name(), "all_bound_s": r.all_bound,
                "wall_s": r.wall, "requests_sent": r.sent, "retransmissions": r.resent, "responses": r.responses, "cpu_ms_per_client": r.cpu_ms_per_client})
        })
        .chain(failed.iter().map(|(n, setup, why)| {
            serde_json::json!({"clients": n, "server": setup.name(), "did_not_start": why})
        }))
        .collect();
    let dir = crate::util::root().join("target/bench/restore");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json)?)?;
    println!("written {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfdhcp_avalanche_report_is_read() {
        // The tail of perfdhcp 2.2's avalanche report.
        let text = "min delay: 1.668 ms\n\nIt took 00:01:02.051634 to provision 2000 clients. \n\
                    Requests sent + resent: 4351\nRequests resent: 351\nResponses received: 4000\n";
        let (took, sent, resent, responses) = parse_avalanche(text);
        assert!((took.unwrap_or(0.0) - 62.051634).abs() < 1e-9, "{took:?}");
        assert_eq!((sent, resent, responses), (4351, 351, 4000));
        assert_eq!(parse_avalanche("nothing"), (None, 0, 0, 0));
    }

    #[test]
    fn every_range_fits_the_test_network() {
        for n in [1, 1000, 10_000, 100_000, MAX_CLIENTS] {
            let end = range_end(n);
            assert!(u32::from(end) < u32::from(Ipv4Addr::new(198, 20, 0, 0)), "{n}: {end}");
            let size = u32::from(end) - u32::from(Ipv4Addr::new(198, 18, 1, 0)) + 1;
            assert!(size >= n, "{n} clients, {size} addresses");
        }
    }
}
