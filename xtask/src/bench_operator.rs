//! `cargo xtask bench operator`: the numbers an operator asks for, xdhcpd beside ISC dhcpd 4.4
//! in the same run.
//!
//! * **Start to serving** with 100,000 and 1,000,000 active leases in dhcpd.leases: from
//!   starting the server to a real client (udhcpc) bound. Both servers read the same file.
//!   The leases are in 10.0.0.0/12, a range that is configured but never on the wire (no
//!   client asks for them); the client is served from a small 198.18.0.0/24 pool.
//! * **Crash detection with the defaults** (no `auto-partner-down`, default
//!   `max-response-delay`): a pair in NORMAL, then the partner dies. Killed (the kernel closes
//!   its TCP connection) and silent (its link goes down: a power cut): time until the survivor
//!   is in COMMUNICATIONS-INTERRUPTED. PARTNER-DOWN then needs the operator (`xdhcpd
//!   partner-down`, omshell) or `auto-partner-down N`, which adds N seconds.
//!
//! The resync of a partner that lost its lease file is `bench failover --resync-only`.

use crate::util::step;
use anyhow::{Context, Result, bail};
use dhcp_journal::{BindingState, Entry, LeaseRecord};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};
use xdhcpd_tests::netns::{self, Netns};
use xdhcpd_tests::pair::{ADDR, PairLab};
use xdhcpd_tests::process::Proc;

const SIZES: &[u32] = &[100_000, 1_000_000];

/// A lease file of `n` active leases of distinct clients in 10.0.0.0/12.
fn lease_file(path: &Path, n: u32) -> Result<()> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as u32;
    let mut buf = dhcp_journal::header();
    let first = u32::from(Ipv4Addr::new(10, 0, 0, 1));
    for k in 0..n {
        let mut l = LeaseRecord::new(Ipv4Addr::from(first + k), BindingState::Active);
        l.starts = Some(now - 30);
        l.cltt = Some(now - 30);
        l.ends = Some(now + 86_400);
        l.next_binding_state = Some(BindingState::Free);
        let mac = (k + 1).to_be_bytes();
        l.hardware = Some((1, vec![0x02, 0x43, mac[0], mac[1], mac[2], mac[3]]));
        dhcp_journal::write_entry(&mut buf, &Entry::Lease(l));
    }
    std::fs::write(path, buf)?;
    Ok(())
}

const SINGLE_CONF: &str = "authoritative;\nddns-update-style none;\nping-check false;\n\
    default-lease-time 86400;\nmax-lease-time 86400;\n\
    subnet 10.0.0.0 netmask 255.240.0.0 {\n  range 10.0.0.1 10.15.255.254;\n}\n\
    subnet 198.18.0.0 netmask 255.255.255.0 {\n  range 198.18.0.100 198.18.0.199;\n}\n";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Server {
    Xdhcpd,
    Dhcpd,
}

/// What one start measured.
struct Start {
    /// From spawning the server to its "serving" log line (xdhcpd's `ready`, dhcpd's
    /// "Server starting service.").
    ready: Duration,
    /// The server's CPU time (utime + stime, every thread) at that line: the cost of
    /// loading, less sensitive than the wall time to a machine shared with other work.
    cpu_at_ready: f64,
    /// From spawning the server to udhcpc bound right after it (bounded: 300 s).
    bound: Duration,
}

fn start_to_serving(server: Server, n: u32) -> Result<Start> {
    let srv = Netns::new("osrv")?;
    let cli = Netns::new("ocli")?;
    let (srv_if, cli_if) = (netns::unique("os"), netns::unique("oc"));
    netns::veth(&srv, &srv_if, Some("198.18.0.1/24"), &cli, &cli_if, None)?;
    let dir = std::env::temp_dir().join(netns::unique("xdhcpd-operator-"));
    std::fs::create_dir_all(&dir)?;
    let result = (|| {
        let conf = dir.join("dhcpd.conf");
        std::fs::write(&conf, SINGLE_CONF)?;
        let leases = dir.join("dhcpd.leases");
        lease_file(&leases, n)?;
        let p = |p: &Path| p.to_string_lossy().into_owned();
        let t0 = Instant::now();
        let bound = Duration::from_secs(300);
        let (_server, ready, cpu_at_ready) = match server {
            Server::Xdhcpd => {
                let mut c = srv.command(&p(&crate::util::target_dir().join("release/xdhcpd")));
                c.args(["-c", &p(&conf), "-l", &p(&leases), "--xdp-mode", "off", &srv_if]);
                let mut proc = Proc::spawn("xdhcpd", c)?;
                proc.wait_line(bound, |l| l.contains("\"ready\""))?;
                let (ready, cpu) = (t0.elapsed(), crate::bench::cpu_secs(proc.pid()));
                (proc, ready, cpu)
            }
            Server::Dhcpd => {
                let mut c = srv.command("dhcpd");
                c.args([
                    "-f",
                    "-4",
                    "-d",
                    "-cf",
                    &p(&conf),
                    "-lf",
                    &p(&leases),
                    "-pf",
                    &p(&dir.join("d.pid")),
                    &srv_if,
                ]);
                let proc = Proc::spawn("dhcpd", c)?;
                proc.wait_stderr_line(bound, |l| l.contains("Server starting service"))?;
                let (ready, cpu) = (t0.elapsed(), crate::bench::cpu_secs(proc.pid()));
                (proc, ready, cpu)
            }
        };
        // udhcpc: 1 s between tries, as many tries as the bound allows; bound once it exits 0.
        let deadline = t0 + Duration::from_secs(300);
        loop {
            let ok = cli
                .command("udhcpc")
                .args(["-i", &cli_if, "-n", "-q", "-f", "-t", "2", "-T", "1", "-s", "/bin/true"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .context("running udhcpc")?
                .success();
            if ok {
                return Ok(Start { ready, cpu_at_ready, bound: t0.elapsed() });
            }
            if Instant::now() > deadline {
                bail!("{server:?} with {n} leases: no lease for udhcpc within 300 s");
            }
        }
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The pair's configuration with the defaults an operator gets (no `max-response-delay`,
/// no `auto-partner-down`).
fn pair_conf(i: usize) -> String {
    let (role, me, peer) = if i == 0 { ("primary", ADDR[0], ADDR[1]) } else { ("secondary", ADDR[1], ADDR[0]) };
    let primary_only = if i == 0 { "mclt 3600; split 128;" } else { "" };
    format!(
        "authoritative;\nddns-update-style none;\n\
         failover peer \"op\" {{\n  {role};\n  address {me}; port 647;\n  peer address {peer}; peer port 647;\n  \
         {primary_only}\n}}\n\
         subnet 198.18.0.0 netmask 255.255.255.0 {{\n  pool {{ failover peer \"op\"; range 198.18.0.100 198.18.0.199; }}\n}}\n"
    )
}

/// A pair in NORMAL; the secondary dies (`silent`: its link goes down; else SIGKILL): time
/// until the primary is in COMMUNICATIONS-INTERRUPTED (bounded: 120 s).
fn crash_detection(silent: bool) -> Result<Duration> {
    let mut lab = PairLab::new([pair_conf(0), pair_conf(1)])?;
    lab.start(0, &["--xdp-mode", "off"])?;
    lab.start(1, &["--xdp-mode", "off"])?;
    lab.wait_state(0, "normal", Some("normal"), Duration::from_secs(60))?;
    lab.wait_state(1, "normal", Some("normal"), Duration::from_secs(60))?;
    let t0 = Instant::now();
    if silent {
        lab.srv[1].exec(&["ip", "link", "set", &lab.ifs[1], "down"])?;
    } else {
        lab.kill(1)?;
    }
    lab.wait_state(0, "communications-interrupted", None, Duration::from_secs(120))?;
    Ok(t0.elapsed())
}

pub fn operator(_args: &[String]) -> Result<()> {
    crate::bench::require_tools(&["dhcpd", "udhcpc"])?;
    // SAFETY: single-threaded here.
    unsafe { std::env::set_var("XDHCPD_BIN", crate::util::target_dir().join("release/xdhcpd")) };
    let mut lines = Vec::new();
    for &n in SIZES {
        for server in [Server::Xdhcpd, Server::Dhcpd] {
            step(&format!("{server:?}: start to serving with {n} leases in the file"));
            let line = match start_to_serving(server, n) {
                Ok(s) => format!(
                    "{server:?}, {n} leases in the file: serving {:.2} s after start ({:.2} s of CPU), a client bound at {:.2} s",
                    s.ready.as_secs_f64(),
                    s.cpu_at_ready,
                    s.bound.as_secs_f64()
                ),
                Err(e) => format!("{server:?}, {n} leases in the file: {e:#}"),
            };
            println!("    {line}");
            lines.push(line);
        }
    }
    for silent in [false, true] {
        let how = if silent { "link down (power cut)" } else { "kill -9" };
        step(&format!("crash detection with the defaults: secondary {how}"));
        let d = crash_detection(silent)?;
        let line = format!(
            "secondary {how}: primary in communications-interrupted after {:.2} s (partner-down: operator, or auto-partner-down N s later)",
            d.as_secs_f64()
        );
        println!("    {line}");
        lines.push(line);
    }
    step("operator numbers (same run)");
    for l in &lines {
        println!("    {l}");
    }
    Ok(())
}
