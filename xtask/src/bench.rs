//! `cargo xtask bench server`: perfdhcp (4-way exchanges, unique clients, acting as a relay
//! on the same L2 segment) against xdhcpd, Kea 2.2 (memfile, persist, multi-threaded) and ISC
//! dhcpd 4.4, one after the other on the same namespace topology, in the same run.
//!
//! For each server: the highest offered rate with < 1% drops (a ladder of rates, the server
//! restarted with an empty lease file for each step), perfdhcp's latencies, and the server's
//! CPU time per lease at a fixed 2,000 exchanges/s read from /proc (utime + stime of the
//! server process, all threads), next to perfdhcp's own CPU use.

use crate::util::{root, step};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use xdhcpd_tests::netns::{self, Netns};
use xdhcpd_tests::process::Proc;

const RATES: &[u32] = &[1000, 2000, 3000, 4000, 5000, 6000, 8000];
const STEP_SECS: u32 = 4;
const CPU_RATE: u32 = 2000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Server {
    Xdhcpd,
    /// xdhcpd with [`class_heavy_conf`]: the same pool, behind the classes, spaces,
    /// subnets and hosts of a campus PXE/VoIP configuration (issue 11's performance goal:
    /// CPU per lease within 10% of the plain run).
    XdhcpdClasses,
    Kea,
    Dhcpd,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Xdhcpd => "xdhcpd",
            Server::XdhcpdClasses => "xdhcpd, class-heavy configuration",
            Server::Kea => "kea-dhcp4 2.2 (MT, memfile persist)",
            Server::Dhcpd => "ISC dhcpd 4.4",
        }
    }
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Perf {
    pub(crate) sent: u64,
    pub(crate) received: u64,
    pub(crate) rate: f64,
    pub(crate) offer_avg_ms: f64,
    pub(crate) ack_avg_ms: f64,
    pub(crate) ack_max_ms: f64,
    pub(crate) perfdhcp_cpu_s: f64,
}

impl Perf {
    pub(crate) fn drop_ratio(&self) -> f64 {
        if self.sent == 0 { 1.0 } else { 1.0 - self.received as f64 / self.sent as f64 }
    }
}

/// One server namespace and one client namespace on a veth pair (server 198.18.0.1/16,
/// client 198.18.0.2/16), with the bench's own directory `target/bench/<name>`.
pub(crate) struct Topology {
    pub(crate) srv: Netns,
    pub(crate) cli: Netns,
    pub(crate) srv_if: String,
    pub(crate) dir: PathBuf,
}

pub(crate) fn topology_for(name: &str) -> Result<Topology> {
    let srv = Netns::new("bsrv")?;
    let cli = Netns::new("bcli")?;
    let srv_if = netns::unique("bs");
    let cli_if = netns::unique("bc");
    netns::veth(&srv, &srv_if, Some("198.18.0.1/16"), &cli, &cli_if, Some("198.18.0.2/16"))?;
    let dir = root().join("target/bench").join(name);
    std::fs::create_dir_all(&dir)?;
    Ok(Topology { srv, cli, srv_if, dir })
}

fn topology() -> Result<Topology> {
    topology_for("server")
}

fn start(t: &Topology, s: Server) -> Result<Proc> {
    let leases = t.dir.join(format!("{s:?}.leases"));
    let _ = std::fs::remove_file(&leases);
    let p = |p: &Path| p.to_string_lossy().into_owned();
    let proc = match s {
        Server::Xdhcpd | Server::XdhcpdClasses => {
            let conf = t.dir.join("xdhcpd.conf");
            std::fs::write(&conf, if s == Server::Xdhcpd { DHCPD_CONF.to_string() } else { class_heavy_conf() })?;
            let mut c = t.srv.command(&p(&crate::util::target_dir().join("release/xdhcpd")));
            c.args(["-c", &p(&conf), "-l", &p(&leases), &t.srv_if]);
            let mut proc = Proc::spawn("xdhcpd", c)?;
            proc.wait_line(Duration::from_secs(20), |l| l.contains("\"ready\""))?;
            proc
        }
        Server::Dhcpd => {
            let conf = t.dir.join("dhcpd.conf");
            std::fs::write(&conf, DHCPD_CONF)?;
            std::fs::write(&leases, "")?;
            let mut c = t.srv.command("dhcpd");
            c.args([
                "-f",
                "-4",
                "-q",
                "-cf",
                &p(&conf),
                "-lf",
                &p(&leases),
                "-pf",
                &p(&t.dir.join("dhcpd.pid")),
                &t.srv_if,
            ]);
            let proc = Proc::spawn("dhcpd", c)?;
            std::thread::sleep(Duration::from_secs(2));
            proc
        }
        Server::Kea => {
            let conf = t.dir.join("kea.json");
            let json = KEA_CONF
                .replace("@IFACE@", &t.srv_if)
                .replace("@LEASEFILE@", &p(&leases))
                .replace("@LOGFILE@", &p(&t.dir.join("kea.log")));
            std::fs::write(&conf, json)?;
            let mut c = t.srv.command("kea-dhcp4");
            // Kea wants /run/kea for its PID and lock files; keep them in the bench dir.
            c.args(["-c", &p(&conf)]).env("KEA_PIDFILE_DIR", &t.dir).env("KEA_LOCKFILE_DIR", &t.dir);
            let proc = Proc::spawn("kea-dhcp4", c)?;
            std::thread::sleep(Duration::from_secs(2));
            proc
        }
    };
    Ok(proc)
}

/// utime + stime of a process (all threads), seconds.
pub(crate) fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the ")" of the command name: state is field 3; utime 14, stime 15.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

fn perfdhcp(t: &Topology, rate: u32) -> Result<Perf> {
    let mut c = t.cli.command("/usr/bin/time");
    c.args([
        "-f",
        "CPU %U %S",
        "perfdhcp",
        "-4",
        "-r",
        &rate.to_string(),
        "-p",
        &STEP_SECS.to_string(),
        "-R",
        "60000",
        "-l",
        "198.18.0.2",
        "198.18.0.1",
    ]);
    let out = c.output().context("running perfdhcp (apt-get install kea-admin)")?;
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    parse_perf(&text, STEP_SECS).with_context(|| format!("parsing perfdhcp output:\n{text}"))
}

pub(crate) fn parse_perf(text: &str, step_secs: u32) -> Option<Perf> {
    let mut p = Perf::default();
    let num =
        |l: &str| l.split(':').nth(1).and_then(|v| v.split_whitespace().next()).and_then(|v| v.parse::<f64>().ok());
    let mut section = "";
    for l in text.lines() {
        if l.contains("DISCOVER-OFFER") {
            section = "do";
        } else if l.contains("REQUEST-ACK") {
            section = "ra";
        }
        if l.starts_with("Rate:") {
            p.rate = num(l)?;
        }
        if section == "ra" && l.starts_with("sent packets:") {
            p.sent = num(l)? as u64;
        }
        if section == "do" && l.starts_with("sent packets:") && p.sent == 0 {
            p.sent = num(l)? as u64;
        }
        if section == "ra" && l.starts_with("received packets:") {
            p.received = num(l)? as u64;
        }
        if l.starts_with("avg delay:") && !l.contains("n/a") {
            match section {
                "do" => p.offer_avg_ms = num(l).unwrap_or(0.0),
                _ => p.ack_avg_ms = num(l).unwrap_or(0.0),
            }
        }
        if section == "ra" && l.starts_with("max delay:") {
            p.ack_max_ms = num(l).unwrap_or(0.0);
        }
        if let Some(rest) = l.strip_prefix("CPU ") {
            p.perfdhcp_cpu_s = rest.split_whitespace().filter_map(|v| v.parse::<f64>().ok()).sum();
        }
    }
    // Exchanges that completed are the REQUEST-ACK pairs; offered DISCOVERs count as sent.
    let offered = (f64::from(step_secs) * p.rate.max(1.0)) as u64;
    p.sent = p.sent.max(offered.min(p.sent.max(1)));
    Some(p)
}

struct Row {
    server: Server,
    best_rate: u32,
    at_best: Perf,
    cpu_ms_per_lease: f64,
    perfdhcp_cpu_ms_per_lease: f64,
}

/// Fails with a clear message when a tool the benchmarks drive is missing.
pub(crate) fn require_tools(tools: &[&str]) -> Result<()> {
    for tool in tools {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            bail!("{tool} not found: run `cargo xtask setup`");
        }
    }
    if !Path::new("/usr/bin/time").exists() {
        let _ = Command::new("apt-get").args(["install", "-y", "time"]).status();
    }
    Ok(())
}

pub fn server(args: &[String]) -> Result<()> {
    // `bench server ddns`: the dynamic DNS run alone (`bench_ddns`).
    if args.iter().any(|a| a == "ddns") {
        return crate::bench_ddns::run(args);
    }
    require_tools(&["perfdhcp", "kea-dhcp4", "dhcpd"])?;
    let t = topology()?;
    let mut rows = Vec::new();
    // `bench server xdhcpd`: only xdhcpd's two runs (plain and class-heavy).
    let servers: &[Server] = if args.iter().any(|a| a == "xdhcpd") {
        &[Server::Xdhcpd, Server::XdhcpdClasses]
    } else {
        &[Server::Xdhcpd, Server::XdhcpdClasses, Server::Kea, Server::Dhcpd]
    };
    for &s in servers {
        step(&format!("{}: rate ladder {RATES:?}, {STEP_SECS} s each", s.name()));
        let mut best = (0u32, Perf::default());
        for &rate in RATES {
            let mut proc = start(&t, s)?;
            let perf = perfdhcp(&t, rate)?;
            proc.signal(libc::SIGTERM);
            let _ = proc.wait_exit(Duration::from_secs(5));
            println!(
                "    offered {rate:>5}/s: {:>7.1} exchanges/s, drops {:>6.2}%, ack avg {:.3} ms max {:.1} ms",
                perf.rate,
                perf.drop_ratio() * 100.0,
                perf.ack_avg_ms,
                perf.ack_max_ms
            );
            if perf.drop_ratio() < 0.01 {
                best = (rate, perf);
            } else {
                break;
            }
        }
        step(&format!("{}: CPU per lease at {CPU_RATE}/s", s.name()));
        let mut proc = start(&t, s)?;
        let c0 = cpu_secs(proc.pid());
        let perf = perfdhcp(&t, CPU_RATE)?;
        let c1 = cpu_secs(proc.pid());
        proc.signal(libc::SIGTERM);
        let _ = proc.wait_exit(Duration::from_secs(5));
        let leases = perf.received.max(1) as f64;
        let row = Row {
            server: s,
            best_rate: best.0,
            at_best: best.1,
            cpu_ms_per_lease: (c1 - c0) * 1000.0 / leases,
            perfdhcp_cpu_ms_per_lease: perf.perfdhcp_cpu_s * 1000.0 / leases,
        };
        println!(
            "    {:.4} ms server CPU per lease ({} leases), perfdhcp {:.4} ms per lease",
            row.cpu_ms_per_lease, perf.received, row.perfdhcp_cpu_ms_per_lease
        );
        rows.push(row);
    }
    report(&rows, &t.dir)?;
    drop(t);
    // Dynamic DNS on and off, with BIND 9 (its own topology and results).
    crate::bench_ddns::run(args)
}

fn report(rows: &[Row], dir: &Path) -> Result<()> {
    step("results (same run, same topology)");
    println!(
        "| server | highest rate <1% drops | ack avg / max (ms) at that rate | server CPU per lease at {CPU_RATE}/s | perfdhcp CPU per lease |"
    );
    println!("|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} /s | {:.3} / {:.1} | {:.4} ms | {:.4} ms |",
            r.server.name(),
            r.best_rate,
            r.at_best.ack_avg_ms,
            r.at_best.ack_max_ms,
            r.cpu_ms_per_lease,
            r.perfdhcp_cpu_ms_per_lease
        );
    }
    let x = rows.iter().find(|r| r.server == Server::Xdhcpd);
    let json: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({"server": r.server.name(), "best_rate": r.best_rate, "ack_avg_ms": r.at_best.ack_avg_ms,
                "ack_max_ms": r.at_best.ack_max_ms, "cpu_ms_per_lease": r.cpu_ms_per_lease, "perfdhcp_cpu_ms_per_lease": r.perfdhcp_cpu_ms_per_lease})
        })
        .collect();
    if let (Some(x), Some(c)) = (x, rows.iter().find(|r| r.server == Server::XdhcpdClasses)) {
        println!(
            "xdhcpd class-heavy / plain: CPU per lease x{:.3} (goal: at most x1.10), rate x{:.2}",
            c.cpu_ms_per_lease / x.cpu_ms_per_lease.max(1e-9),
            f64::from(c.best_rate) / f64::from(x.best_rate.max(1))
        );
    }
    if let Some(x) = x {
        for other in rows.iter().filter(|r| !matches!(r.server, Server::Xdhcpd | Server::XdhcpdClasses)) {
            println!(
                "xdhcpd / {}: rate x{:.2}, CPU per lease x{:.3}",
                other.server.name(),
                f64::from(x.best_rate) / f64::from(other.best_rate.max(1)),
                x.cpu_ms_per_lease / other.cpu_ms_per_lease.max(1e-9)
            );
        }
    }
    let path = dir.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json)?)?;
    println!("written {}", path.display());
    chart(&path, &dir.join("results.png"))
}

/// Draw results.json as a PNG (matplotlib, installed from PyPI on first use): the highest
/// rate with <1% drops and the server CPU per lease, side by side, ratios in the title.
pub fn chart(json: &Path, png: &Path) -> Result<()> {
    let have =
        Command::new("python3").args(["-c", "import matplotlib"]).output().map(|o| o.status.success()).unwrap_or(false);
    if !have {
        step("installing matplotlib (for the benchmark chart)");
        let _ = Command::new("python3").args(["-m", "pip", "install", "-q", "matplotlib"]).status();
    }
    let script = format!(
        r##"
import json, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
rows = json.load(open({json:?}))
names = [r["server"].split(" (")[0] for r in rows]
x = next((r for r in rows if r["server"] == "xdhcpd"), None)
fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
a.bar(names, [r["best_rate"] for r in rows], color=["#2a7", "#57c", "#c75"][:len(rows)])
a.set_title("highest rate with <1% drops (exchanges/s)")
b.bar(names, [r["cpu_ms_per_lease"] for r in rows], color=["#2a7", "#57c", "#c75"][:len(rows)])
b.set_title("server CPU per lease at 2,000/s (ms)")
if x:
    ratios = ", ".join("xdhcpd/%s CPU x%.2f" % (n, x["cpu_ms_per_lease"] / max(r["cpu_ms_per_lease"], 1e-9)) for n, r in zip(names, rows) if r is not x)
    fig.suptitle("perfdhcp 4-way exchanges, same run, same topology: " + ratios, fontsize=9)
fig.tight_layout()
fig.savefig({png:?}, dpi=100)
"##,
        json = json.display().to_string(),
        png = png.display().to_string()
    );
    let ok = Command::new("python3").args(["-c", &script]).status().map(|s| s.success()).unwrap_or(false);
    if ok {
        println!("written {}", png.display());
    } else {
        println!(
            "chart not written (python3 with matplotlib unavailable); the table above and results.json have the data"
        );
    }
    Ok(())
}

/// `ping-check false`, as an administrator tuning for load writes it: dhcpd's default pings
/// every new address for a second before offering it, which would measure the ping timeout.
const DHCPD_CONF: &str = "# benchmark configuration (shared by xdhcpd and ISC dhcpd)\n\
authoritative;\nddns-update-style none;\nping-check false;\ndefault-lease-time 86400;\nmax-lease-time 86400;\n\
subnet 198.18.0.0 netmask 255.255.0.0 {\n  range 198.18.1.0 198.18.255.254;\n}\n";

/// A campus configuration around the benchmark's pool: PXE (architecture option 93, BIOS
/// and UEFI boot files), iPXE (user class, an encapsulated option space), VoIP phones and
/// access points by vendor class (a vendor option space, option 43 by hand), a subclass
/// table keyed by the relay's circuit id, 199 relayed subnets and 500 hosts with fixed
/// addresses. perfdhcp's clients match none of the classes, so every condition is evaluated
/// and fails: the cost the issue asks about is that of the evaluation, not of bigger replies.
pub(crate) fn class_heavy_conf() -> String {
    let mut c = String::from(
        "# benchmark configuration: class-heavy (generated by xtask/src/bench.rs)\n\
         authoritative;\nddns-update-style none;\nping-check false;\ndefault-lease-time 86400;\nmax-lease-time 86400;\n\
         option arch code 93 = unsigned integer 16;\n\
         option space ipxe;\noption ipxe.no-pxedhcp code 176 = unsigned integer 8;\n\
         option ipxe.http code 19 = unsigned integer 8;\n\
         option ipxe-encap-opts code 175 = encapsulate ipxe;\n\
         option space voip;\noption voip.tftp-server code 1 = ip-address;\noption voip.vlan code 2 = text;\n\
         class \"pxe\" {\n  match if substring (option vendor-class-identifier, 0, 9) = \"PXEClient\";\n\
           next-server 198.19.255.5;\n\
           if option arch = 00:07 { filename \"efi64/syslinux.efi\"; }\n\
           elsif option arch = 00:09 { filename \"efi64/syslinux.efi\"; }\n\
           elsif option arch = 00:06 { filename \"efi32/syslinux.efi\"; }\n\
           else { filename \"pxelinux.0\"; }\n}\n\
         class \"ipxe\" {\n  match if exists user-class and option user-class = \"iPXE\";\n\
           option ipxe.no-pxedhcp 1;\n  filename \"http://198.19.255.5/boot.ipxe\";\n}\n\
         class \"polycom\" {\n  match if substring (option vendor-class-identifier, 0, 8) = \"Polycom-\";\n\
           vendor-option-space voip;\n  option voip.tftp-server 198.19.255.6;\n  option voip.vlan \"voice\";\n}\n\
         class \"yealink\" {\n  match if option vendor-class-identifier ~~ \"^yealink\";\n\
           option tftp-server-name \"http://198.19.255.6/yealink\";\n}\n\
         class \"cisco-ap\" {\n  match if substring (option vendor-class-identifier, 0, 8) = \"Cisco AP\";\n\
           option vendor-encapsulated-options f1:04:c6:13:ff:07;\n}\n\
         class \"by-circuit\" {\n  match option agent.circuit-id;\n}\n",
    );
    for i in 0..50 {
        c.push_str(&format!(
            "subclass \"by-circuit\" \"ge-0/0/{i}\" {{ option domain-name \"floor{i}.campus.test\"; }}\n"
        ));
    }
    c.push_str(
        "subnet 198.18.0.0 netmask 255.255.0.0 {\n  range 198.18.1.0 198.18.255.254;\n\
           option routers 198.18.0.1;\n  option domain-name-servers 198.19.255.53;\n\
           if exists agent.circuit-id { option domain-name \"relayed.campus.test\"; }\n}\n",
    );
    for n in 0..199u32 {
        c.push_str(&format!(
            "subnet 198.19.{n}.0 netmask 255.255.255.0 {{\n  range 198.19.{n}.120 198.19.{n}.250;\n\
               option routers 198.19.{n}.1;\n  option domain-name \"b{n}.campus.test\";\n}}\n"
        ));
    }
    for h in 0..500u32 {
        let (hi, lo) = (h / 100, h % 100);
        c.push_str(&format!(
            "host h{h} {{ hardware ethernet 02:00:00:00:{:02x}:{:02x}; fixed-address 198.19.{hi}.{}; }}\n",
            h >> 8,
            h & 0xff,
            lo + 2
        ));
    }
    c
}

const KEA_CONF: &str = r#"{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "@IFACE@" ], "dhcp-socket-type": "raw" },
    "lease-database": { "type": "memfile", "persist": true, "name": "@LEASEFILE@", "lfc-interval": 0 },
    "valid-lifetime": 86400, "renew-timer": 43200, "rebind-timer": 75600,
    "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 64 },
    "subnet4": [ { "id": 1, "subnet": "198.18.0.0/16", "pools": [ { "pool": "198.18.1.0 - 198.18.255.254" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "@LOGFILE@" } ], "severity": "WARN" } ]
  }
}
"#;

/// `cargo xtask bench takeover`: perfdhcp in broadcast mode (like directly attached clients:
/// every DISCOVER reaches both servers) at 200 new clients/s against a load-balanced pair;
/// the primary is killed with SIGKILL 6 s in; counts the exchanges lost, XDP on and off.
pub fn takeover(_args: &[String]) -> Result<()> {
    use xdhcpd_tests::pair::{PairLab, pair_config};
    let wide = |c: String| {
        c.replace("subnet 198.18.0.0 netmask 255.255.255.0", "subnet 198.18.0.0 netmask 255.255.0.0")
            .replace("range 198.18.0.100 198.18.0.199", "range 198.18.1.0 198.18.255.254")
    };
    // SAFETY: single-threaded here.
    unsafe { std::env::set_var("XDHCPD_BIN", crate::util::target_dir().join("release/xdhcpd")) };
    let mut rows = Vec::new();
    for mode in ["skb", "off"] {
        step(&format!("takeover with XDP {mode}: 200 clients/s for 20 s, kill -9 of the primary at 6 s"));
        let mut lab = PairLab::new([wide(pair_config(0, 30, 128, 3, 0)), wide(pair_config(1, 30, 128, 3, 0))])?;
        lab.cli.exec(&["ip", "addr", "add", "198.18.0.50/24", "dev", "br0"])?;
        lab.start(0, &["--xdp-mode", mode])?;
        lab.start(1, &["--xdp-mode", mode])?;
        lab.wait_state(0, "normal", Some("normal"), Duration::from_secs(30))?;
        std::thread::sleep(Duration::from_secs(3)); // pool balancing settles
        let perf = lab
            .cli
            .command("perfdhcp")
            .args(["-4", "-r", "200", "-p", "20", "-R", "100000", "-l", "br0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        std::thread::sleep(Duration::from_secs(6));
        lab.kill(0)?;
        let out = perf.wait_with_output()?;
        let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        let mut sent = [0u64; 2];
        let mut recv = [0u64; 2];
        let mut section = 0;
        for l in text.lines() {
            if l.contains("REQUEST-ACK") {
                section = 1;
            }
            let num = |l: &str| {
                l.split(':')
                    .nth(1)
                    .and_then(|v| v.split_whitespace().next())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            if l.starts_with("sent packets:") {
                sent[section] = num(l);
            }
            if l.starts_with("received packets:") {
                recv[section] = num(l);
            }
        }
        let lost = sent[0].saturating_sub(recv[1]);
        println!(
            "    DISCOVERs {} OFFERs {} REQUESTs {} ACKs {} => exchanges not completed: {lost}",
            sent[0], recv[0], sent[1], recv[1]
        );
        rows.push((mode, sent[0], recv[1], lost));
    }
    step("takeover results");
    println!("| XDP | exchanges started | completed | lost |");
    println!("|---|---|---|---|");
    for (mode, s, r, l) in rows {
        println!("| {mode} | {s} | {r} | {l} |");
    }
    Ok(())
}

/// One mode's result in `bench flood`.
struct FloodRow {
    mode: &'static str,
    sent: u64,
    secs: f64,
    absorbed: u64,
    udp_rcvbuf_errors: u64,
    server_cpu_s: f64,
    sender_cpu_s: f64,
}

impl FloodRow {
    fn per_frame_us(&self, cpu_s: f64) -> f64 {
        if self.sent == 0 { 0.0 } else { cpu_s * 1e6 / self.sent as f64 }
    }
}

/// UDP receive-buffer overflows in the server's namespace (/proc/net/snmp `Udp: RcvbufErrors`).
fn udp_rcvbuf_errors(ns: &Netns) -> u64 {
    let text = ns.exec(&["cat", "/proc/net/snmp"]).unwrap_or_default();
    let udp: Vec<&str> = text.lines().filter(|l| l.starts_with("Udp:")).collect();
    let (Some(names), Some(values)) = (udp.first(), udp.get(1)) else { return 0 };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "RcvbufErrors")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// `cargo xtask bench flood [SECS]`: a DISCOVER flood of clients the partner owns, sent
/// from the client namespace straight into the primary's port of a load-balanced pair in
/// NORMAL, with the primary's XDP native, generic and off (the userspace fallback), in the
/// same run, plus a baseline with the primary's interface down (the sender's own cost).
///
/// Per mode: frames absorbed (XDP `drop_partner`, or the userspace `partners_client`
/// drops) per second, the kernel's UDP receive-buffer overflows, xdhcpd's CPU (utime +
/// stime, all threads, from /proc) and the sending thread's CPU. On a veth the receive
/// path runs in the sender's context, so (sender CPU − baseline) per frame is the kernel's
/// receive cost; adding xdhcpd's CPU per frame gives the receive-side cost, whose inverse
/// is the rate one core absorbs. Bounded: at most 5,000,000 frames and SECS (default 5,
/// at most 30) seconds per mode.
pub fn flood(args: &[String]) -> Result<()> {
    use xdhcpd_tests::pair::{PairLab, pair_config};
    const FLOOD_FRAMES: u64 = 5_000_000;
    let secs: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(5).clamp(1, 30);
    // SAFETY: single-threaded here.
    unsafe { std::env::set_var("XDHCPD_BIN", crate::util::target_dir().join("release/xdhcpd")) };
    // 1,024 distinct clients whose bucket the secondary owns (split 128: buckets 128..=255).
    let frames: Vec<Vec<u8>> = (0..=u16::MAX)
        .map(|i| [0x52, 0x54, 0x00, 0xf1, (i >> 8) as u8, i as u8])
        .filter(|m| dhcp_common::lb_hash(m) >= 128)
        .take(1024)
        .map(|m| xdhcpd_tests::frames::bootp_request(m, 0, &xdhcpd_tests::frames::discover_options(None), 0))
        .collect();
    let mut rows = Vec::new();
    // `--live-only`: only the live-frames run (no flood, no fallback figure to compare with).
    let modes: &[&str] =
        if args.iter().any(|a| a == "--live-only") { &[] } else { &["baseline", "native", "skb", "off"] };
    for &mode in modes {
        let mut lab = PairLab::new([pair_config(0, 30, 128, 3, 0), pair_config(1, 30, 128, 3, 0)])?;
        let mut pid = None;
        if mode == "baseline" {
            step(&format!("flood baseline: the primary's interface down (sender cost only), {secs} s"));
            lab.srv[0].exec(&["ip", "link", "set", &lab.ifs[0], "down"])?;
        } else {
            step(&format!("flood with the primary's XDP {mode}: partner-owned DISCOVERs for {secs} s"));
            lab.start(0, &["--xdp-mode", mode, "--xdp-no-pin"])?;
            lab.start(1, &["--xdp-mode", "off", "--xdp-no-pin"])?;
            lab.wait_state(0, "normal", Some("normal"), Duration::from_secs(30))?;
            pid = Some(lab.servers[0].as_ref().context("primary")?.pid());
        }
        let absorbed_now = |lab: &PairLab| -> Result<u64> {
            if pid.is_none() {
                return Ok(0);
            }
            let v = lab.status(0)?;
            Ok(v["xdp"]["counters"]["drop_partner"].as_u64().unwrap_or(0)
                + v["stats"]["dropped"]["partners_client"].as_u64().unwrap_or(0))
        };
        let cpu = |pid: Option<u32>| pid.map(cpu_secs).unwrap_or(0.0);
        let (a0, c0, e0) = (absorbed_now(&lab)?, cpu(pid), udp_rcvbuf_errors(&lab.srv[0]));
        let batch = frames.clone();
        let r = netns::in_netns(&lab.cli.name, move || {
            xdhcpd_tests::frames::flood("bp0", &batch, FLOOD_FRAMES, Duration::from_secs(secs))
        })?;
        // Let the socket queue drain before reading the userspace counters.
        std::thread::sleep(Duration::from_millis(1500));
        let (a1, c1, e1) = (absorbed_now(&lab)?, cpu(pid), udp_rcvbuf_errors(&lab.srv[0]));
        let row = FloodRow {
            mode,
            sent: r.sent,
            secs: r.wall.as_secs_f64(),
            absorbed: a1.saturating_sub(a0),
            udp_rcvbuf_errors: e1.saturating_sub(e0),
            server_cpu_s: c1 - c0,
            sender_cpu_s: r.sender_cpu.as_secs_f64(),
        };
        println!(
            "    sent {} in {:.2} s ({:.0}/s); absorbed {}; UDP buffer overflows {}; xdhcpd CPU {:.3} s; sender CPU {:.2} s",
            row.sent,
            row.secs,
            row.sent as f64 / row.secs,
            row.absorbed,
            row.udp_rcvbuf_errors,
            row.server_cpu_s,
            row.sender_cpu_s
        );
        rows.push(row);
    }
    let base_us = rows.first().map(|r| r.per_frame_us(r.sender_cpu_s)).unwrap_or(0.0);
    // Receive-side CPU per frame: kernel (sender CPU above the baseline) + xdhcpd.
    let rx_us = |r: &FloodRow| (r.per_frame_us(r.sender_cpu_s) - base_us).max(0.0) + r.per_frame_us(r.server_cpu_s);
    step("flood results");
    println!(
        "| primary's XDP | sent/s (wall) | absorbed/s (wall) | UDP overflows | xdhcpd CPU µs/frame | kernel rx µs/frame | one core absorbs /s |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in rows.iter().skip(1) {
        let rx = rx_us(r);
        println!(
            "| {} | {:.0} | {:.0} | {} | {:.3} | {:.3} | {:.0} |",
            r.mode,
            r.sent as f64 / r.secs,
            r.absorbed as f64 / r.secs,
            r.udp_rcvbuf_errors,
            r.per_frame_us(r.server_cpu_s),
            (r.per_frame_us(r.sender_cpu_s) - base_us).max(0.0),
            if rx > 0.0 { 1e6 / rx } else { f64::INFINITY }
        );
    }
    println!("    baseline (interface down): sender {base_us:.3} µs/frame");
    let capacity = |m: &str| rows.iter().find(|r| r.mode == m).map(|r| 1e6 / rx_us(r).max(1e-3)).unwrap_or(0.0);
    let wall_rate = |m: &str| rows.iter().find(|r| r.mode == m).map(|r| r.absorbed as f64 / r.secs).unwrap_or(0.0);
    for m in ["native", "skb"] {
        println!(
            "    XDP {m} vs fallback: absorbed per core x{:.1} (goal >= 10); absorbed/s observed x{:.1} (sender-bound)",
            capacity(m) / capacity("off").max(1.0),
            wall_rate(m) / wall_rate("off").max(1.0)
        );
    }
    // The driver's view: the same partner-owned DISCOVER on live frames, on one core.
    let live = xdp_live_frames(&frames[0]);
    match &live {
        Ok(mpps) => {
            let fallback = capacity("off");
            println!(
                "    XDP on live frames (BPF_F_TEST_XDP_LIVE_FRAMES, batch {LIVE_BATCH}, one core): {:.2} Mpps dropped; \
                 x{:.1} the fallback's per-core rate above ({:.0}/s) (goal >= 10)",
                mpps,
                mpps * 1e6 / fallback.max(1.0),
                fallback
            );
        }
        Err(e) => println!("    XDP on live frames: not measured ({e:?})"),
    }
    let dir = root().join("target/bench/flood");
    std::fs::create_dir_all(&dir)?;
    let json: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({"mode": r.mode, "sent": r.sent, "secs": r.secs, "absorbed": r.absorbed,
            "udp_rcvbuf_errors": r.udp_rcvbuf_errors, "server_cpu_s": r.server_cpu_s, "sender_cpu_s": r.sender_cpu_s})
        })
        .chain(live.as_ref().ok().map(|mpps| serde_json::json!({"mode": "xdp-live-frames", "mpps_one_core": mpps})))
        .collect();
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(&json)?)?;
    Ok(())
}

/// Frames per BPF_PROG_TEST_RUN batch in the live-frames run (a NAPI poll's budget).
const LIVE_BATCH: u32 = 64;

/// The XDP program as the primary of a split-128 pair in NORMAL, run on `frame` (a DISCOVER
/// the partner owns) as live frames, pinned to one CPU: millions of frames dropped per
/// second of that core. Bounded: 5,000,000 frames.
fn xdp_live_frames(frame: &[u8]) -> Result<f64> {
    use dhcp_common::{FailoverState, Hba, Role, Steering};
    const FRAMES: u32 = 5_000_000;
    step("XDP on live frames: a partner-owned DISCOVER, one core");
    // SAFETY: a zeroed cpu_set_t with CPU 0 set, for this thread only.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
    let mut prog = dhcp_user::xdp::XdpProgram::load(0).context("loading the XDP program")?;
    prog.set_steering(&Steering {
        hba: Hba::from_split(128),
        lb_max_secs: 3,
        role: Role::Primary.code(),
        state: FailoverState::NORMAL.get(),
        has_hba: 1,
        partner_has_free: 1,
        enforce: 1,
        _pad: 0,
    })
    .context("steering")?;
    let (verdict, _) = prog.test_run(frame, 1).context("one test run")?;
    anyhow::ensure!(verdict == dhcp_user::xdp::XDP_DROP, "the partner's DISCOVER was not dropped (verdict {verdict})");
    let t0 = Instant::now();
    let kernel = prog.test_run_live(frame, FRAMES, LIVE_BATCH).context("live frames (Linux 5.18+)")?;
    let wall = t0.elapsed();
    println!(
        "    {FRAMES} frames in {:.3} s wall ({:.1} ns per frame; kernel's own figure {:.1} ns)",
        wall.as_secs_f64(),
        wall.as_nanos() as f64 / f64::from(FRAMES),
        kernel.as_nanos() as f64
    );
    Ok(f64::from(FRAMES) / wall.as_secs_f64() / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The class-heavy configuration is what the issue names (PXE, iPXE, VoIP classes,
    /// option spaces, 500 hosts, 200 subnets) and xdhcpd reads it. (`dhcpd -t` accepts it
    /// too: checked by hand when it was written.)
    #[test]
    fn the_class_heavy_configuration_loads_with_what_it_promises() {
        let text = class_heavy_conf();
        let parsed = dhcp_config::parse_str("bench.conf", &text, &dhcp_config::MemoryLoader::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let c = parsed.config;
        let subnets: usize = c.shared_networks.iter().map(|n| n.subnets.len()).sum();
        assert_eq!(subnets, 200);
        assert_eq!(c.hosts.len(), 500);
        assert_eq!(c.option_spaces.len(), 2);
        assert!(c.classes.len() >= 6, "{} classes", c.classes.len());
    }
}
