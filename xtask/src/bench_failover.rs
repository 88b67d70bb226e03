//! `cargo xtask bench failover`: three failover pairs, one after the other, on the same
//! namespace topology in the same run: two xdhcpd, a Kea 2.2 HA load-balancing pair and an ISC
//! dhcpd 4.4 failover pair. perfdhcp sends broadcast 4-way exchanges from the client namespace
//! (every DISCOVER reaches both servers, as for directly attached clients).
//!
//! Measured per pair:
//! * the highest offered rate with < 1 % of the exchanges lost (a ladder; a fresh pair with
//!   empty lease files for each step, timed from NORMAL/NORMAL, or load-balancing for Kea);
//! * the CPU time of both servers per lease (utime + stime from /proc, the last acks
//!   included), at the first step of the ladder (a rate every pair sustains) and at the
//!   pair's highest rate;
//! * start-up: from starting both servers to both able to allocate;
//! * for xdhcpd, the replication lag (a lease's change made durable, just before its DHCPACK,
//!   to the partner's BNDACK for it), from both servers' status histograms: mean and the
//!   bucket bound under which 99 % fall;
//! * for xdhcpd and dhcpd, the resynchronisation of 100,000 leases: the primary starts with a
//!   lease file holding them, the secondary with none (RECOVER, UPDREQALL); timed from the
//!   secondary's log line of its request to its "peer update completed", and the leases it
//!   then holds are counted. (Kea HA syncs a lost partner through its lease-page commands; not timed.)

use crate::bench::{Perf, cpu_secs, parse_perf};
use crate::util::{root, step};
use anyhow::{Context, Result, bail};
use dhcp_journal::{BindingState, Entry, FailoverState, FailoverStateRecord, LeaseRecord};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};
use xdhcpd_tests::pair::{ADDR, PairLab};

const RATES: &[u32] = &[250, 500, 1000, 1750, 2500, 4000, 6000];
const STEP_SECS: u32 = 4;
const RESYNC_LEASES: u32 = 100_000;
const RESYNC_BOUND: Duration = Duration::from_secs(120);

#[derive(Clone, Copy)]
struct Resync {
    took: Duration,
    /// Active leases in the secondary's lease file at the end.
    held: usize,
    /// "peer update completed" was seen within the bound.
    done: bool,
    /// CPU seconds (utime + stime) of the primary and of the secondary over `took`.
    cpu: [f64; 2],
    /// xdhcpd only: the secondary's lease-file fsyncs (group commits) and their total
    /// seconds, from its status at the end (start-up's few included).
    fsyncs: Option<(u64, f64)>,
}

impl Resync {
    fn describe(&self) -> String {
        if self.done {
            format!(
                "{:.2} s ({} held; CPU primary {:.2} s, secondary {:.2} s{})",
                self.took.as_secs_f64(),
                self.held,
                self.cpu[0],
                self.cpu[1],
                self.fsyncs.map(|(n, s)| format!("; {n} fsyncs, {s:.2} s in them")).unwrap_or_default()
            )
        } else {
            format!(
                "not done in {:.0} s ({} of {RESYNC_LEASES} held, {:.0}/s)",
                self.took.as_secs_f64(),
                self.held,
                self.held as f64 / self.took.as_secs_f64()
            )
        }
    }
}
const MCLT: u32 = 3600;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Pair {
    Xdhcpd,
    Kea,
    Dhcpd,
}

impl Pair {
    fn name(self) -> &'static str {
        match self {
            Pair::Xdhcpd => "xdhcpd pair",
            Pair::Kea => "Kea 2.2 HA load-balancing pair",
            Pair::Dhcpd => "ISC dhcpd 4.4 failover pair",
        }
    }
}

/// The pair's dhcpd.conf (xdhcpd and dhcpd read the same text): a /15 subnet, a range of
/// `size` addresses from 198.18.1.0, 24 h leases. The range is sized to what a step uses:
/// a fresh dhcpd answers the partner's UPDREQALL with every lease of the range, free ones
/// included, one fsync each, so a 100,000-address range alone keeps a dhcpd pair out of
/// NORMAL for minutes. `ping-check false`, as for the single-server bench (a load run would
/// otherwise measure dhcpd's one-second ping before each new address).
fn config(i: usize, size: u32) -> String {
    let last = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 1, 0)) + size.max(2) - 1);
    let (role, me, peer) = if i == 0 { ("primary", ADDR[0], ADDR[1]) } else { ("secondary", ADDR[1], ADDR[0]) };
    let primary_only = if i == 0 { format!("mclt {MCLT}; split 128;") } else { String::new() };
    format!(
        "authoritative;\nddns-update-style none;\nping-check false;\ndefault-lease-time 86400;\nmax-lease-time 86400;\n\
         failover peer \"bench\" {{\n  {role};\n  address {me}; port 647;\n  peer address {peer}; peer port 647;\n  \
         max-response-delay 30; max-unacked-updates 1000;\n  load balance max seconds 3;\n  {primary_only}\n}}\n\
         subnet 198.18.0.0 netmask 255.254.0.0 {{\n  pool {{\n    failover peer \"bench\";\n    deny dynamic bootp clients;\n    \
         range 198.18.1.0 {last};\n  }}\n}}\n"
    )
}

fn kea_config(lab: &PairLab, i: usize, size: u32) -> String {
    let p = |p: &Path| p.to_string_lossy().into_owned();
    let at = |k: u32| Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 1, 0)) + k).to_string();
    KEA_HA_CONF
        .replace("@POOL1@", &format!("198.18.1.0 - {}", at(size / 2 - 1)))
        .replace("@POOL2@", &format!("{} - {}", at(size / 2), at(size - 1)))
        .replace("@IFACE@", &lab.ifs[i])
        .replace("@LEASEFILE@", &p(&lab.lease_file(i)))
        .replace("@NAME@", if i == 0 { "server1" } else { "server2" })
        .replace("@S1@", ADDR[0])
        .replace("@S2@", ADDR[1])
        .replace("@LOGFILE@", &p(&lab.dir.join(format!("kea{i}.log"))))
}

/// A fresh pair in its own namespaces, both servers able to allocate. Returns the lab and the
/// start-up time (start of the first server to both ready).
fn start_pair(kind: Pair, size: u32) -> Result<(PairLab, Duration)> {
    start_pair_with(kind, size, &[])
}

/// `start_pair` with extra arguments for xdhcpd (e.g. `--xdp-mode off`).
pub(crate) fn start_pair_with(kind: Pair, size: u32, xdhcpd_args: &[&str]) -> Result<(PairLab, Duration)> {
    let mut lab = PairLab::new([config(0, size), config(1, size)])?;
    lab.cli.exec(&["ip", "addr", "add", "198.18.0.50/24", "dev", "br0"])?;
    let t0 = Instant::now();
    match kind {
        Pair::Xdhcpd => {
            lab.start(0, xdhcpd_args)?;
            lab.start(1, xdhcpd_args)?;
            lab.wait_state(0, "normal", Some("normal"), Duration::from_secs(30))?;
            lab.wait_state(1, "normal", Some("normal"), Duration::from_secs(30))?;
            // Both able to allocate: the secondary holds backup leases, and pool balancing's
            // updates are all acked (else their cost would count against the first leases).
            wait_until(Duration::from_secs(120), || {
                let settled = |i: usize| {
                    lab.status(i).ok().is_some_and(|v| {
                        let r = &v["relationships"][0];
                        r["queued_updates"] == 0
                            && r["unacked_updates"] == 0
                            && r["pools"].as_array().is_some_and(|p| p.iter().any(|p| p["backup"].as_i64() > Some(0)))
                    })
                };
                settled(0) && settled(1)
            })
            .context("pool balancing did not settle")?;
        }
        Pair::Dhcpd => {
            lab.start_dhcpd(0)?;
            lab.start_dhcpd(1)?;
            // A fresh dhcpd pair exchanges its whole pool before NORMAL: the bound grows with
            // it (90 s was enough for 12,000 addresses, not for 120,000 on a loaded machine).
            let bound = Duration::from_secs(90 + u64::from(size / 1000));
            for i in 0..2 {
                wait_log(&lab, i, bound, |l| l.contains("I move from") && l.ends_with("to normal"))?;
            }
        }
        Pair::Kea => {
            for i in 0..2 {
                let conf = lab.dir.join(format!("kea{i}.json"));
                std::fs::write(&conf, kea_config(&lab, i, size))?;
                let p = conf.to_string_lossy().into_owned();
                let mut c = lab.srv[i].command("kea-dhcp4");
                c.args(["-c", &p]).env("KEA_PIDFILE_DIR", &lab.dir).env("KEA_LOCKFILE_DIR", &lab.dir);
                lab.servers[i] = Some(xdhcpd_tests::process::Proc::spawn(&format!("kea-{i}"), c)?);
            }
            for i in 0..2 {
                let log = lab.dir.join(format!("kea{i}.log"));
                wait_until(Duration::from_secs(90), || {
                    std::fs::read_to_string(&log).unwrap_or_default().contains("to LOAD-BALANCING state")
                })
                .with_context(|| format!("Kea server {} never reached load-balancing", i + 1))?;
            }
        }
    }
    Ok((lab, t0.elapsed()))
}

fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> Result<()> {
    let start = Instant::now();
    while !f() {
        if start.elapsed() > timeout {
            bail!("timed out after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Wait for a log line (stdout or stderr) of server `i`.
fn wait_log(lab: &PairLab, i: usize, timeout: Duration, pred: impl Fn(&str) -> bool) -> Result<()> {
    wait_until(timeout, || log_lines(lab, i).iter().any(|l| pred(l.trim_end()))).with_context(|| {
        let tail = log_lines(lab, i);
        format!(
            "server {i}: expected log line not seen; its log ends:\n{}",
            tail[tail.len().saturating_sub(15)..].join("\n")
        )
    })
}

/// Everything server `i` wrote (stderr, then stdout: xdhcpd's logs and its "ready" line).
fn log_lines(lab: &PairLab, i: usize) -> Vec<String> {
    lab.servers[i].as_ref().map(|p| p.stderr_lines().into_iter().chain(p.stdout_lines()).collect()).unwrap_or_default()
}

fn perfdhcp(lab: &PairLab, rate: u32) -> Result<Perf> {
    let out = lab
        .cli
        .command("/usr/bin/time")
        .args(["-f", "CPU %U %S", "perfdhcp", "-4", "-r", &rate.to_string(), "-p", &STEP_SECS.to_string()])
        .args(["-R", "200000", "-l", "br0"])
        .output()
        .context("running perfdhcp")?;
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    parse_perf(&text, STEP_SECS).with_context(|| format!("parsing perfdhcp output:\n{text}"))
}

/// Replication lag over both servers' updates (their status histograms).
#[derive(Clone, Copy)]
struct Lag {
    mean_ms: f64,
    p99_le_ms: f64,
    count: u64,
}

impl std::fmt::Display for Lag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "mean {:.2} ms, 99% ≤ {} ms ({} updates)", self.mean_ms, self.p99_le_ms, self.count)
    }
}

fn replication_lag(lab: &PairLab) -> Option<Lag> {
    let mut sum = 0.0;
    let mut count = 0u64;
    let mut buckets: Vec<(f64, u64)> = Vec::new();
    for i in 0..2 {
        let v = lab.status(i).ok()?;
        let h = &v["relationships"][0]["replication_lag"];
        sum += h["sum"].as_f64()?;
        count += h["count"].as_u64()?;
        for (k, b) in h["buckets"].as_array()?.iter().enumerate() {
            let (le, n) = (b[0].as_f64()?, b[1].as_u64()?);
            match buckets.get_mut(k) {
                Some(e) => e.1 += n,
                None => buckets.push((le, n)),
            }
        }
    }
    if count == 0 {
        return None;
    }
    let want = (count as f64 * 0.99).ceil() as u64;
    let p99 = buckets.iter().find(|(_, n)| *n >= want).map(|(le, _)| le * 1000.0).unwrap_or(f64::INFINITY);
    Some(Lag { mean_ms: sum * 1000.0 / count as f64, p99_le_ms: p99, count })
}

fn pair_cpu(lab: &PairLab) -> f64 {
    lab.servers.iter().flatten().map(|p| cpu_secs(p.pid())).sum()
}

struct Row {
    pair: Pair,
    best_rate: u32,
    at_best: Perf,
    startup: Duration,
    /// Both servers' CPU per lease at the highest rate, and at the ladder's first rate.
    cpu_at_best: f64,
    cpu_at_first: f64,
    lag: Option<Lag>,
    resync: Option<Resync>,
}

pub fn failover(args: &[String]) -> Result<()> {
    crate::bench::require_tools(&["perfdhcp", "kea-dhcp4", "dhcpd"])?;
    // SAFETY: single-threaded here.
    unsafe { std::env::set_var("XDHCPD_BIN", crate::util::target_dir().join("release/xdhcpd")) };
    // `--range N`: every ladder step uses a range of N addresses (pool-size scaling).
    let range_override = args.iter().position(|a| a == "--range").and_then(|i| args.get(i + 1)?.parse::<u32>().ok());
    // `--resync-only`: skip the rate ladder.
    let resync_only = args.iter().any(|a| a == "--resync-only");
    // `--resync-only --rounds N`: N resyncs of each pair, alternating, and the ratios.
    // `--baseline BIN`: each round also runs a pair of that xdhcpd binary (another build,
    // e.g. of the branch point) and reports this build's time over its.
    if resync_only
        && let Some(n) = args.iter().position(|a| a == "--rounds").and_then(|i| args.get(i + 1)?.parse::<u32>().ok())
    {
        let baseline =
            args.iter().position(|a| a == "--baseline").and_then(|i| args.get(i + 1)).map(std::path::PathBuf::from);
        return resync_rounds(n, baseline.as_deref());
    }
    // `--takeover`: a fresh pair under an avalanche of RFC 2131 clients, the primary killed.
    if args.iter().any(|a| a == "--takeover") {
        let mut runs = Vec::new();
        for victim in [0, 1] {
            for xdp in [false, true] {
                let t = takeover(xdp, victim)?;
                println!("    {}", t.describe());
                runs.push(t);
            }
        }
        step("takeover results (same run)");
        for t in &runs {
            println!("    {}", t.describe());
        }
        return Ok(());
    }
    // `--balance-only`: only a fresh xdhcpd pair's pool balancing.
    if args.iter().any(|a| a == "--balance-only") {
        let b = balance(args.iter().any(|a| a == "--load"))?;
        println!("    {}", b.describe());
        return Ok(());
    }
    let only: Vec<&str> =
        args.iter().map(String::as_str).filter(|a| !a.starts_with("--") && a.parse::<u32>().is_err()).collect();
    let mut rows = Vec::new();
    for kind in [Pair::Xdhcpd, Pair::Kea, Pair::Dhcpd] {
        if !only.is_empty() && !only.iter().any(|o| format!("{kind:?}").eq_ignore_ascii_case(o)) {
            continue;
        }
        step(&format!("{}: rate ladder {RATES:?}, {STEP_SECS} s each, a fresh pair per step", kind.name()));
        let mut best = (0u32, Perf::default(), 0.0, None);
        let mut first_cpu = None;
        let mut startup = Duration::ZERO;
        for &rate in RATES.iter().filter(|_| !resync_only) {
            // Room for every client of the step twice over (or the size asked for).
            let size = range_override.unwrap_or((rate * STEP_SECS * 2).max(1000));
            let (lab, up) = start_pair(kind, size)?;
            startup = startup.max(up);
            let c0 = pair_cpu(&lab);
            let perf = perfdhcp(&lab, rate)?;
            // The last BNDUPDs and their acks are part of the cost.
            std::thread::sleep(Duration::from_secs(1));
            let cpu_ms = (pair_cpu(&lab) - c0) * 1000.0 / perf.received.max(1) as f64;
            let lag = if kind == Pair::Xdhcpd { replication_lag(&lab) } else { None };
            drop(lab);
            first_cpu.get_or_insert((rate, cpu_ms));
            println!(
                "    offered {rate:>5}/s: {:>7.1} exchanges/s, lost {:>6.2}%, ack avg {:.3} ms max {:.1} ms, \
                 CPU {cpu_ms:.4} ms/lease{} (pair up in {:.2} s)",
                perf.rate,
                perf.drop_ratio() * 100.0,
                perf.ack_avg_ms,
                perf.ack_max_ms,
                lag.map(|l| format!(", replication lag {l}")).unwrap_or_default(),
                up.as_secs_f64()
            );
            if perf.drop_ratio() < 0.01 {
                best = (rate, perf, cpu_ms, lag);
            } else {
                break;
            }
        }
        let resync = match kind {
            Pair::Kea => None,
            _ => Some(resync(kind)?),
        };
        let row = Row {
            pair: kind,
            best_rate: best.0,
            at_best: best.1,
            startup,
            cpu_at_best: best.2,
            lag: best.3,
            cpu_at_first: first_cpu.map(|(_, c)| c).unwrap_or(0.0),
            resync,
        };
        if let Some(r) = row.resync {
            println!("    resync of {RESYNC_LEASES} leases: {}", r.describe());
        }
        rows.push(row);
    }
    report(&rows)
}

/// The lease file of a primary holding `n` active leases of distinct clients, in the
/// relationship "bench", in COMMUNICATIONS-INTERRUPTED (its partner died with its disk).
/// Not NORMAL: a dhcpd secondary in RECOVER that meets a partner whose STATE says NORMAL
/// follows dhcpd's table to POTENTIAL-CONFLICT and asks only UPDREQ, so it ends NORMAL
/// holding none of the leases (seen here: "total 100000 free 100000"); the simulation found
/// the same path in xdhcpd, which sends UPDREQALL there.
fn big_lease_file(path: &Path, n: u32) -> Result<()> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as u32;
    let mut buf = dhcp_journal::header();
    let st = FailoverStateRecord {
        peer: "bench".into(),
        my_state: FailoverState::COMMUNICATIONS_INTERRUPTED,
        my_stos: now - 60,
        partner_state: FailoverState::NORMAL,
        partner_stos: now - 60,
        mclt: None,
    };
    dhcp_journal::write_entry(&mut buf, &Entry::FailoverState(st));
    let first = u32::from(Ipv4Addr::new(198, 18, 1, 0));
    for k in 0..n {
        let ip = Ipv4Addr::from(first + k);
        let mut l = LeaseRecord::new(ip, BindingState::Active);
        l.starts = Some(now - 30);
        l.cltt = Some(now - 30);
        l.ends = Some(now + 86_400);
        l.tstp = Some(now + 86_400 + 43_200);
        l.tsfp = l.tstp;
        l.atsfp = l.tstp;
        l.next_binding_state = Some(BindingState::Expired);
        let mac = (k + 1).to_be_bytes();
        l.hardware = Some((1, vec![0x02, 0x42, mac[0], mac[1], mac[2], mac[3]]));
        dhcp_journal::write_entry(&mut buf, &Entry::Lease(l));
    }
    std::fs::write(path, buf)?;
    Ok(())
}

/// `--rounds N`: the xdhcpd pair's resync then dhcpd's, N times over (so that the machine's
/// load, shared here, falls on both alike), each round's ratio and the range of them.
fn resync_rounds(n: u32, baseline: Option<&Path>) -> Result<()> {
    let mut ratios = Vec::new();
    let mut base_ratios = Vec::new();
    let mut lines = Vec::new();
    let this_bin = std::env::var_os("XDHCPD_BIN").context("XDHCPD_BIN")?;
    for round in 1..=n.clamp(1, 20) {
        let x = resync(Pair::Xdhcpd)?;
        let d = resync(Pair::Dhcpd)?;
        let b = match baseline {
            Some(bin) => {
                // SAFETY: single-threaded here; set back right after.
                unsafe { std::env::set_var("XDHCPD_BIN", bin) };
                let b = resync(Pair::Xdhcpd);
                unsafe { std::env::set_var("XDHCPD_BIN", &this_bin) };
                Some(b?)
            }
            None => None,
        };
        let ratio = x.took.as_secs_f64() / d.took.as_secs_f64().max(1e-3);
        let mut line =
            format!("round {round}: xdhcpd {} | dhcpd {} | xdhcpd/dhcpd x{ratio:.2}", x.describe(), d.describe());
        if let Some(b) = b {
            let r = x.took.as_secs_f64() / b.took.as_secs_f64().max(1e-3);
            line += &format!(" | baseline xdhcpd {} | this/baseline x{r:.2}", b.describe());
            if x.done && b.done {
                base_ratios.push(r);
            }
        }
        println!("    {line}");
        lines.push(line);
        if x.done && d.done {
            ratios.push(ratio);
        }
    }
    step(&format!("resync of {RESYNC_LEASES} leases, same run"));
    for l in &lines {
        println!("    {l}");
    }
    if let (Some(lo), Some(hi)) = (ratios.iter().copied().reduce(f64::min), ratios.iter().copied().reduce(f64::max)) {
        println!("    xdhcpd/dhcpd: x{lo:.2}..x{hi:.2} over {} rounds", ratios.len());
    }
    if let (Some(lo), Some(hi)) =
        (base_ratios.iter().copied().reduce(f64::min), base_ratios.iter().copied().reduce(f64::max))
    {
        println!("    this xdhcpd/baseline: x{lo:.2}..x{hi:.2} over {} rounds", base_ratios.len());
    }
    Ok(())
}

/// The secondary, with no lease file, resynchronises 100,000 leases from the primary.
fn resync(kind: Pair) -> Result<Resync> {
    step(&format!("{}: resync of {RESYNC_LEASES} leases (primary with them, secondary empty)", kind.name()));
    let mut lab = PairLab::new([config(0, RESYNC_LEASES), config(1, RESYNC_LEASES)])?;
    big_lease_file(&lab.lease_file(0), RESYNC_LEASES)?;
    match kind {
        Pair::Xdhcpd => lab.start(0, &[])?,
        Pair::Dhcpd => {
            // start_dhcpd empties the lease file; write it again behind it.
            lab.start_dhcpd_with_leases(0)?;
            wait_log(&lab, 0, Duration::from_secs(120), |l| l.contains("Server starting service"))?;
        }
        Pair::Kea => bail!("not measured for Kea"),
    }
    let t0 = Instant::now();
    match kind {
        Pair::Xdhcpd => lab.start(1, &[])?,
        _ => lab.start_dhcpd(1)?,
    }
    // From the secondary's request (its log line: "requesting full update" from both servers
    // in most paths, "Sent update request all message" from dhcpd entering RECOVER), so that
    // process start-up is not counted. Bounded.
    // Polled every 5 ms (not wait_log's 50): both ends of a ~0.5 s interval are observed.
    let seen = |pred: &dyn Fn(&str) -> bool| {
        let start = Instant::now();
        while start.elapsed() < RESYNC_BOUND {
            if log_lines(&lab, 1).iter().any(|l| pred(l.trim_end())) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    };
    // `BENCH_PERF=DIR`: both servers under `perf record` (call graphs) for the resync, for
    // `perf report -i DIR/resync-<pair>.perf.data`.
    let perf = std::env::var_os("BENCH_PERF").and_then(|dir| {
        let pids: Vec<String> = lab.servers.iter().flatten().map(|p| p.pid().to_string()).collect();
        let out = Path::new(&dir).join(format!("resync-{kind:?}.perf.data"));
        std::process::Command::new("perf")
            .args(["record", "-q", "-F", "1999", "--call-graph", "dwarf,16384", "-o"])
            .arg(out)
            .args(["-p", &pids.join(",")])
            .stdout(std::process::Stdio::null())
            .spawn()
            .ok()
    });
    let asked = seen(&|l: &str| l.contains("requesting full update") || l.contains("update request all message"))
        .then(Instant::now);
    let cpu0 = [0, 1].map(|i| lab.servers[i].as_ref().map(|p| cpu_secs(p.pid())).unwrap_or(0.0));
    let done = seen(&|l: &str| l.contains("peer update completed"));
    let took = asked.map(|a| a.elapsed()).unwrap_or_else(|| t0.elapsed());
    let cpu = [0, 1].map(|i| lab.servers[i].as_ref().map(|p| cpu_secs(p.pid())).unwrap_or(0.0) - cpu0[i]);
    if let Some(mut p) = perf {
        // SAFETY: kill(2) on the perf child we spawned; SIGINT makes it write its file.
        unsafe { libc::kill(p.id() as i32, libc::SIGINT) };
        let _ = p.wait();
    }
    let fsyncs = match kind {
        Pair::Xdhcpd => lab.status(1).ok().and_then(|v| {
            let s = &v["stats"];
            Some((s["fsyncs"].as_u64()?, s["fsync_micros_total"].as_u64()? as f64 / 1e6))
        }),
        _ => None,
    };
    // What the secondary holds now (its lease file is written before each ack).
    let held = xdhcpd_tests::pair::active_bindings(&lab.leases(1)).len();
    if held < RESYNC_LEASES as usize || std::env::var_os("BENCH_VERBOSE").is_some() {
        for i in 0..2 {
            let lines = log_lines(&lab, i);
            println!(
                "    server {i} log (last lines):\n      {}",
                lines[lines.len().saturating_sub(12)..].join("\n      ")
            );
        }
    }
    Ok(Resync { took, held, done, cpu, fsyncs })
}

/// The pool of the balancing measurement: a /16's worth, as in issue 10's takeover trial.
const BALANCE_POOL: u32 = 65_521;

struct Balance {
    /// From both NORMAL to the secondary holding its share, every update acked.
    took: Duration,
    backup: i64,
    free: i64,
    done: bool,
    under_load: bool,
}

impl Balance {
    fn describe(&self) -> String {
        format!(
            "pool balancing of a fresh pair ({BALANCE_POOL} addresses, default max-unacked-updates{}): {} in {:.2} s \
             (the secondary holds {} backup leases, the primary {} free)",
            if self.under_load { ", clients arriving" } else { "" },
            if self.done { "balanced" } else { "NOT balanced" },
            self.took.as_secs_f64(),
            self.backup,
            self.free
        )
    }
}

/// A fresh xdhcpd pair (empty lease files, dhcpd's default `max-unacked-updates`) on a
/// 65,521-address pool: time from both NORMAL until the secondary holds half the pool as
/// BACKUP and both have nothing queued or unacked. A secondary without its share cannot
/// serve its clients once the primary dies (issue 10's takeover trial).
fn balance(under_load: bool) -> Result<Balance> {
    step(&format!("xdhcpd pair: pool balancing of a fresh pair, {BALANCE_POOL} addresses"));
    let conf = |i| config(i, BALANCE_POOL).replace(" max-unacked-updates 1000;", "");
    let mut lab = PairLab::new([conf(0), conf(1)])?;
    lab.cli.exec(&["ip", "addr", "add", "198.18.0.50/24", "dev", "br0"])?;
    lab.start(0, &[])?;
    lab.start(1, &[])?;
    lab.wait_state(0, "normal", Some("normal"), Duration::from_secs(60))?;
    lab.wait_state(1, "normal", Some("normal"), Duration::from_secs(60))?;
    let t0 = Instant::now();
    // `--load`: an avalanche of 20,000 clients starts with NORMAL (a building's power comes
    // back with the servers), bounded by perfdhcp's own exit time.
    let load = under_load
        .then(|| {
            lab.cli
                .command("perfdhcp")
                .args(["-4", "--scenario", "avalanche", "-R", "20000", "-W", "30000000", "-l", "br0"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
        })
        .transpose()
        .context("starting perfdhcp")?;
    // (backup, free, settled): balanced as the primary's own check sees it, nothing queued or
    // unacked. Clients bound meanwhile use both halves, so "half the pool" is not the test.
    let pools = |i: usize| -> Option<(i64, i64, bool)> {
        let v = lab.status(i).ok()?;
        let r = &v["relationships"][0];
        let settled = r["queued_updates"] == 0 && r["unacked_updates"] == 0;
        let p = r["pools"].as_array()?.first()?.clone();
        Some((p["backup"].as_i64()?, p["free"].as_i64()?, settled))
    };
    // The primary moves leases only when the secondary lacks more than half of
    // `max-lease-misbalance` (15 %) of the free leases.
    let balanced = |backup: i64, free: i64| (free + backup) / 2 - backup <= (free + backup) * 15 / 200;
    let mut last = (0, i64::from(BALANCE_POOL));
    let mut next_report = Duration::from_secs(1);
    let done = wait_until(Duration::from_secs(120), || match (pools(0), pools(1)) {
        (Some((_, _, s0)), Some((backup, free, s1))) => {
            last = (backup, free);
            if t0.elapsed() >= next_report {
                println!("      {:>5.1} s: the secondary holds {backup} backup leases", t0.elapsed().as_secs_f64());
                next_report += Duration::from_secs(1);
            }
            s0 && s1 && balanced(backup, free)
        }
        _ => false,
    })
    .is_ok();
    let took = t0.elapsed();
    if let Some(mut p) = load {
        // perfdhcp's avalanche ends when every client is bound; its report says how long.
        if !matches!(p.try_wait(), Ok(Some(_))) {
            let _ = p.kill();
        }
        let out = p.wait_with_output().context("perfdhcp")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let took = text.lines().find(|l| l.starts_with("It took")).unwrap_or("perfdhcp had not bound every client");
        println!("    avalanche of 20,000 clients: {}", took.trim());
    }
    Ok(Balance { took, backup: last.0, free: last.1, done, under_load })
}

/// Clients of the takeover run, and when the primary dies (after both are NORMAL).
const TAKEOVER_CLIENTS: u32 = 20_000;
const TAKEOVER_KILL_AFTER: Duration = Duration::from_secs(2);

struct Takeover {
    xdp: bool,
    /// 0: the primary was killed, 1: the secondary.
    victim: usize,
    /// dhcp_swarm's final JSON.
    swarm: serde_json::Value,
}

impl Takeover {
    fn describe(&self) -> String {
        let v = &self.swarm;
        format!(
            "takeover (XDP {}): {} killed {} s into an avalanche of {} RFC 2131 clients: {} bound, {} unbound, \
             the last bound at {:.1} s; ACKs by server {}; {} retransmissions, {} restarts from INIT; \
             addresses acknowledged to two clients: {}",
            if self.xdp { "on" } else { "off" },
            if self.victim == 0 { "primary" } else { "secondary" },
            TAKEOVER_KILL_AFTER.as_secs(),
            v["clients"],
            v["bound"],
            v["unbound"],
            v["last_bound_s"].as_f64().unwrap_or(0.0),
            v["acks_by_server"],
            v["retransmissions"],
            v["restarts"],
            v["doubled"].as_array().map(|d| d.len()).unwrap_or(0)
        )
    }
}

/// A fresh pair (65,521 addresses, defaults), an avalanche of 20,000 clients that behave as
/// RFC 2131 clients do (`dhcp_swarm`: back to DISCOVER when REQUESTs go unanswered), and one
/// member (`victim`) killed with SIGKILL 2 s in. The survivor may serve at once from its own backup
/// leases (pool balancing decides how many it has by then); the rest wait for partner-down
/// and the MCLT, which nobody declares here. Bounded: the swarm gives up after 120 s.
fn takeover(xdp: bool, victim: usize) -> Result<Takeover> {
    let who = if victim == 0 { "primary" } else { "secondary" };
    step(&format!("xdhcpd pair: takeover under an avalanche, {who} killed, XDP {}", if xdp { "on" } else { "off" }));
    crate::util::cargo(&["build", "--release", "-p", "xdhcpd-benches", "--bin", "dhcp_swarm"])?;
    let conf = |i| config(i, BALANCE_POOL).replace(" max-unacked-updates 1000;", "");
    let mut lab = PairLab::new([conf(0), conf(1)])?;
    lab.cli.exec(&["ip", "addr", "add", "198.18.0.50/24", "dev", "br0"])?;
    let mode = if xdp { "skb" } else { "off" };
    lab.start(0, &["--xdp-mode", mode])?;
    lab.start(1, &["--xdp-mode", mode])?;
    lab.wait_state(0, "normal", Some("normal"), Duration::from_secs(60))?;
    lab.wait_state(1, "normal", Some("normal"), Duration::from_secs(60))?;
    let swarm_bin = crate::util::target_dir().join("release/dhcp_swarm");
    let swarm = lab
        .cli
        .command(swarm_bin.to_str().context("path")?)
        .args(["--iface", "br0", "--clients", &TAKEOVER_CLIENTS.to_string(), "--timeout", "120"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("starting dhcp_swarm")?;
    std::thread::sleep(TAKEOVER_KILL_AFTER);
    lab.kill(victim)?;
    let out = swarm.wait_with_output().context("dhcp_swarm")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        println!("{text}");
    }
    let last = text.lines().rev().find(|l| l.starts_with('{')).context("dhcp_swarm printed no summary")?;
    let swarm: serde_json::Value = serde_json::from_str(last).context("dhcp_swarm's summary")?;
    let survivor = 1 - victim;
    if let Ok((mine, partner)) = lab.states(survivor) {
        println!("    the survivor is now {mine} (partner {partner})");
    }
    Ok(Takeover { xdp, victim, swarm })
}

fn report(rows: &[Row]) -> Result<()> {
    step("results (same run, same topology)");
    println!(
        "| pair | highest rate <1% lost | ack avg / max (ms) there | CPU per lease there (both servers) | CPU per lease at {}/s | start-up | replication lag there | resync {RESYNC_LEASES} |",
        RATES[0]
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} /s | {:.3} / {:.1} | {:.4} ms | {:.4} ms | {:.2} s | {} | {} |",
            r.pair.name(),
            r.best_rate,
            r.at_best.ack_avg_ms,
            r.at_best.ack_max_ms,
            r.cpu_at_best,
            r.cpu_at_first,
            r.startup.as_secs_f64(),
            r.lag.map(|l| l.to_string()).unwrap_or_else(|| "n/a".into()),
            r.resync.map(|r| r.describe()).unwrap_or_else(|| "n/a".into()),
        );
    }
    if let Some(x) = rows.iter().find(|r| r.pair == Pair::Xdhcpd) {
        for o in rows.iter().filter(|r| r.pair != Pair::Xdhcpd) {
            println!(
                "xdhcpd pair / {}: rate x{:.2}, CPU per lease x{:.3} at each pair's highest rate, x{:.3} at {}/s",
                o.pair.name(),
                f64::from(x.best_rate) / f64::from(o.best_rate.max(1)),
                x.cpu_at_best / o.cpu_at_best.max(1e-9),
                x.cpu_at_first / o.cpu_at_first.max(1e-9),
                RATES[0]
            );
        }
    }
    let json: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({"pair": r.pair.name(), "best_rate": r.best_rate, "ack_avg_ms": r.at_best.ack_avg_ms,
                "cpu_ms_per_lease_at_best": r.cpu_at_best, "cpu_ms_per_lease_at_first_rate": r.cpu_at_first, "startup_s": r.startup.as_secs_f64(),
                "replication_lag_mean_ms": r.lag.map(|l| l.mean_ms), "replication_lag_p99_le_ms": r.lag.map(|l| l.p99_le_ms),
                "resync_s": r.resync.map(|r| r.took.as_secs_f64()), "resync_held": r.resync.map(|r| r.held),
                "resync_done": r.resync.map(|r| r.done)})
        })
        .collect();
    let dir = root().join("target/bench/failover");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json)?)?;
    println!("written {}", path.display());
    Ok(())
}

/// A Kea 2.2 HA load-balancing server. Kea 2.2 needs the HA hook's own HTTP listener to run
/// without kea-ctrl-agent, and the lease_cmds hook; each server's pool is selected by the HA
/// client class of the clients it serves. Memfile with persistence, as in `bench server`.
const KEA_HA_CONF: &str = r#"{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "@IFACE@" ], "dhcp-socket-type": "raw" },
    "lease-database": { "type": "memfile", "persist": true, "name": "@LEASEFILE@", "lfc-interval": 0 },
    "valid-lifetime": 86400, "renew-timer": 43200, "rebind-timer": 75600,
    "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 64 },
    "hooks-libraries": [
      { "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so", "parameters": {} },
      { "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_ha.so", "parameters": { "high-availability": [ {
          "this-server-name": "@NAME@", "mode": "load-balancing",
          "multi-threading": { "enable-multi-threading": true, "http-dedicated-listener": true,
                               "http-listener-threads": 2, "http-client-threads": 2 },
          "peers": [
            { "name": "server1", "url": "http://@S1@:8001/", "role": "primary", "auto-failover": true },
            { "name": "server2", "url": "http://@S2@:8001/", "role": "secondary", "auto-failover": true } ]
      } ] } }
    ],
    "subnet4": [ { "id": 1, "subnet": "198.18.0.0/15", "pools": [
      { "pool": "@POOL1@", "client-class": "HA_server1" },
      { "pool": "@POOL2@", "client-class": "HA_server2" } ] } ],
    "loggers": [
      { "name": "kea-dhcp4", "output_options": [ { "output": "@LOGFILE@" } ], "severity": "WARN" },
      { "name": "kea-dhcp4.ha-hooks", "output_options": [ { "output": "@LOGFILE@" } ], "severity": "INFO" } ]
  }
}
"#;
