//! `cargo xtask lab`: the main job, live. A failover pair of xdhcpd (XDP attached) in two
//! server namespaces, real DHCP clients (udhcpc) on a bridge between them. It shows both
//! servers reaching NORMAL, clients split between them by the RFC 3074 hash, the XDP
//! counters, then kills the primary, shows the secondary serving everyone (partner-down by
//! command), restarts the primary and shows recovery to NORMAL, then tears everything down.
//!
//! The lab cannot pass by accident: every step checks its outcome (each client got an address
//! from the pool, distinct from every other client's, from the server the hash names, recorded
//! in both lease files; each state reached within a stated time) and the first step that fails
//! ends the lab with a non-zero exit naming it. A one-screen summary ends the output either way.
//!
//! Network rules: test traffic only inside the namespaces created here, addresses from
//! 198.18.0.0/15, every wait bounded in time and every loop in count. The namespaces, links,
//! processes and files are Drop guards ([`PairLab`]), so they go on failure too, and on
//! Ctrl-C (SIGINT/SIGTERM end the lab at the next check instead of killing it); the last step
//! checks that nothing is left.

use crate::util::step;
use anyhow::{Context, Result, bail};
use dhcp_common::{Hba, lb_hash};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use xdhcpd_tests::pair::{ADDR, PairLab, active_bindings, pair_config};

/// `split 128`: buckets 0..128 are the primary's.
const SPLIT: u16 = 128;
const MCLT: u32 = 15;
/// `load balance max seconds`: a client that waited longer is answered by either server.
const LB_MAX_SECS: u32 = 3;
/// The pair's pool (see [`pair_config`]).
const POOL: (Ipv4Addr, Ipv4Addr) = (Ipv4Addr::new(198, 18, 0, 100), Ipv4Addr::new(198, 18, 0, 199));
/// Generic XDP on each server's veth. No pin: the lab leaves nothing attached behind it.
const SERVER_ARGS: &[&str] = &["--xdp-mode", "skb", "--xdp-no-pin"];

/// How long each state may take. NORMAL from a cold start is about a second; recovery after a
/// crash includes the MCLT wait (15 s here) before the restarted primary may return to NORMAL.
const NORMAL_WITHIN: Duration = Duration::from_secs(20);
const INTERRUPTED_WITHIN: Duration = Duration::from_secs(20);
const PARTNER_DOWN_WITHIN: Duration = Duration::from_secs(10);
const RECOVERY_WITHIN: Duration = Duration::from_secs(60);
/// A lease written by the server that granted it reaches the partner's file by BNDUPD.
const REPLICATED_WITHIN: Duration = Duration::from_secs(10);

const ROLE: [&str; 2] = ["primary", "secondary"];

/// Set by SIGINT/SIGTERM (Ctrl-C): the lab stops at the next check and still tears down.
/// Without it a Ctrl-C would kill the lab before its Drop guards run, leaving namespaces
/// and servers behind.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    // An atomic store is async-signal-safe.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

pub(crate) fn catch_interrupts() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic. Children get default dispositions
        // back at exec, so the servers and clients are unaffected.
        unsafe { libc::signal(sig, on_interrupt as *const () as libc::sighandler_t) };
    }
}

pub(crate) fn check_interrupted() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted (SIGINT/SIGTERM): stopping here and tearing down");
    }
    Ok(())
}

/// Client `n`'s MAC address.
fn mac(n: u8) -> [u8; 6] {
    [0x52, 0x54, 0x00, 0x00, 0x40, n]
}

fn mac_text(m: [u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// Client `n`'s RFC 3074 bucket. udhcpc sends a client identifier (type 1 + MAC), and the
/// hash is taken over it when present, as dhcpd does.
fn bucket(n: u8) -> u8 {
    let mut id = vec![1u8];
    id.extend_from_slice(&mac(n));
    lb_hash(&id)
}

/// The server (0 primary, 1 secondary) that answers client `n` in NORMAL.
fn owner(n: u8) -> usize {
    if Hba::from_split(SPLIT).primary_serves(bucket(n)) { 0 } else { 1 }
}

/// One lab step's outcome, for the summary.
struct Record {
    name: String,
    took: Duration,
    result: std::result::Result<String, String>,
}

/// The steps run so far. [`Steps::run`] prints a header, times the step, prints and records
/// its outcome, and turns a failure into an error that names the step.
#[derive(Default)]
pub(crate) struct Steps {
    records: Vec<Record>,
}

impl Steps {
    pub(crate) fn run<T>(&mut self, name: &str, f: impl FnOnce() -> Result<(T, String)>) -> Result<T> {
        self.run_inner(name, || check_interrupted().and_then(|()| f()))
    }

    /// [`Steps::run`] even after an interrupt: for the teardown check.
    pub(crate) fn run_always<T>(&mut self, name: &str, f: impl FnOnce() -> Result<(T, String)>) -> Result<T> {
        self.run_inner(name, f)
    }

    fn run_inner<T>(&mut self, name: &str, f: impl FnOnce() -> Result<(T, String)>) -> Result<T> {
        let n = self.records.len() + 1;
        step(&format!("{n}. {name}"));
        let start = Instant::now();
        let out = f();
        let took = start.elapsed();
        match out {
            Ok((value, detail)) => {
                println!("    ok in {:.2} s: {detail}", took.as_secs_f64());
                self.records.push(Record { name: name.to_string(), took, result: Ok(detail) });
                Ok(value)
            }
            Err(e) => {
                println!("    \x1b[1;31mFAILED\x1b[0m after {:.2} s: {e:#}", took.as_secs_f64());
                self.records.push(Record { name: name.to_string(), took, result: Err(format!("{e:#}")) });
                Err(e.context(format!("lab step {n} failed: {name}")))
            }
        }
    }

    /// The summary: one line per step (time, ok/FAILED, what it showed), then the verdict.
    pub(crate) fn summary(&self, total: Duration) -> String {
        let mut out = String::new();
        for (i, r) in self.records.iter().enumerate() {
            let (mark, text) = match &r.result {
                Ok(detail) => ("ok    ", detail.as_str()),
                Err(e) => ("FAILED", e.as_str()),
            };
            // One line each, so that the summary fits a screen.
            let text = text.lines().next().unwrap_or("");
            let text: String = if text.chars().count() > 90 {
                text.chars().take(87).chain("...".chars()).collect()
            } else {
                text.into()
            };
            out.push_str(&format!(
                "  {:>2}. {:>6.2} s  {mark}  {}\n      {text}\n",
                i + 1,
                r.took.as_secs_f64(),
                r.name
            ));
        }
        match self.records.iter().position(|r| r.result.is_err()) {
            None => {
                out.push_str(&format!("  lab PASSED: {} steps in {:.1} s\n", self.records.len(), total.as_secs_f64()))
            }
            Some(i) => out.push_str(&format!(
                "  lab FAILED at step {} ({}) after {:.1} s\n",
                i + 1,
                self.records[i].name,
                total.as_secs_f64()
            )),
        }
        out
    }
}

/// What the lab created, remembered so that the last step can check it is all gone.
#[derive(Default)]
pub(crate) struct Created {
    pub(crate) netns: Vec<String>,
    pub(crate) dir: Option<PathBuf>,
}

impl Created {
    pub(crate) fn check_removed(&self) -> Result<((), String)> {
        if self.netns.is_empty() && self.dir.is_none() {
            return Ok(((), "nothing had been created".into()));
        }
        let listed = xdhcpd_tests::netns::sh(&["ip", "netns", "list"])?;
        let left: Vec<&String> =
            self.netns.iter().filter(|n| listed.lines().any(|l| l.split_whitespace().next() == Some(n))).collect();
        if !left.is_empty() {
            bail!("namespaces left behind: {left:?} (remove with `ip netns del NAME`)");
        }
        if let Some(dir) = &self.dir {
            if dir.exists() {
                bail!("lab directory left behind: {}", dir.display());
            }
            // Every server was started with its configuration in the lab directory.
            let procs = processes_mentioning(dir);
            if !procs.is_empty() {
                bail!("lab processes still running: {procs:?}");
            }
        }
        Ok(((), format!("{} namespaces (with their links and bridge), processes and files removed", self.netns.len())))
    }
}

/// Pids whose command line mentions `dir`.
fn processes_mentioning(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).replace('\0', " ").contains(&needle))
        })
        .collect()
}

/// The programs the lab runs, found on PATH (as `ip netns exec` will look for them).
fn preflight() -> Result<((), String)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the lab needs root (network namespaces, XDP): run it as root");
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut found = Vec::new();
    for (prog, package) in [("ip", "iproute2"), ("udhcpc", "udhcpc"), ("timeout", "coreutils")] {
        let at = std::env::split_paths(&path).map(|d| d.join(prog)).find(|p| is_executable(p)).with_context(|| {
            format!("`{prog}` is not on PATH: install the Debian package {package} (`cargo xtask setup` does)")
        })?;
        found.push(at.display().to_string());
    }
    Ok(((), found.join(", ")))
}

pub(crate) fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Each server's state, pool counts and XDP counters, one line each.
fn show(lab: &PairLab) {
    for (i, addr) in ADDR.iter().enumerate() {
        match lab.status(i) {
            Ok(v) => {
                let r = &v["relationships"][0];
                let c = &v["pools"][0]["counts"];
                let x = &v["xdp"]["counters"];
                println!(
                    "    {:<9} {addr}: {:<26} partner {:<26} pool free {} backup {} active {}; XDP dropped {} partner DISCOVERs",
                    ROLE[i],
                    r["my_state"].as_str().unwrap_or("?"),
                    r["partner_state"].as_str().unwrap_or("?"),
                    c["free"],
                    c["backup"],
                    c["active"],
                    x["drop_partner"]
                );
            }
            Err(_) => println!("    {:<9} {addr}: (not running)", ROLE[i]),
        }
    }
}

/// Wait until both servers are NORMAL and see each other NORMAL.
fn wait_both_normal(lab: &PairLab, within: Duration) -> Result<Duration> {
    let start = Instant::now();
    loop {
        let states = [lab.states(0).ok(), lab.states(1).ok()];
        let normal = |s: &Option<(String, String)>| s.as_ref().is_some_and(|(m, p)| m == "normal" && p == "normal");
        if states.iter().all(normal) {
            return Ok(start.elapsed());
        }
        check_interrupted()?;
        if start.elapsed() > within {
            bail!("not NORMAL/NORMAL within {within:?}: primary {:?}, secondary {:?}", states[0], states[1]);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Wait until server `i`'s lease file holds `ip` as active for `hw`.
fn wait_in_lease_file(lab: &PairLab, i: usize, ip: &str, hw: &str, within: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        if active_bindings(&lab.leases(i)).get(ip).is_some_and(|h| h == hw) {
            return Ok(());
        }
        check_interrupted()?;
        if start.elapsed() > within {
            bail!("the {}'s lease file has no active lease of {ip} for {hw} after {within:?}", ROLE[i]);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An address handed out to a lab client.
struct Held {
    addr: Ipv4Addr,
    /// The server that answered (0 primary, 1 secondary).
    by: usize,
    /// Until when the client surely holds it. The lab's clients do not renew (udhcpc -q), and
    /// a lease granted before the partner acknowledged it lasts only the MCLT, so addresses
    /// legitimately return to the pool during the lab. Counted from before the exchange, less
    /// a second for the server's whole-second clock: a server that reuses the address earlier
    /// than this broke the lease. `None`: no lease time reported, held for the whole lab.
    until: Option<Instant>,
}

/// No address is active for two different clients across the lease files of the servers in
/// `files` (the servers' own record of what they granted, independent of what the clients
/// reported). Only running servers' files: a stopped server's file keeps leases it could not
/// see expire or move.
fn no_double_binding(lab: &PairLab, files: &[usize]) -> Result<()> {
    let mut seen: BTreeMap<String, (String, usize)> = BTreeMap::new();
    for &i in files {
        for (ip, hw) in active_bindings(&lab.leases(i)) {
            if let Some((other, j)) = seen.get(&ip)
                && *other != hw
            {
                bail!("{ip} is active for {other} in the {}'s lease file and for {hw} in the {}'s", ROLE[*j], ROLE[i]);
            }
            seen.insert(ip, (hw, i));
        }
    }
    Ok(())
}

/// Addresses handed out so far, by client number.
type Leases = BTreeMap<u8, Held>;

/// Clients `range`, one macvlan interface and one udhcpc exchange each. Every client must get
/// an address of the pool that no other client holds, from server `expect(n)`, recorded as
/// active in the lease file of each server in `files`. Returns how many each server answered.
fn clients(
    lab: &PairLab,
    range: std::ops::RangeInclusive<u8>,
    leases: &mut Leases,
    expect: impl Fn(u8) -> usize,
    files: &[usize],
) -> Result<[usize; 2]> {
    let mut answered = [0usize; 2];
    for n in range {
        check_interrupted()?;
        let (name, m) = (format!("lab{n}"), mac_text(mac(n)));
        lab.add_client(&name, &m).with_context(|| format!("adding client interface {name}"))?;
        let asked = Instant::now();
        let lease = lab.udhcpc_lease(&name).with_context(|| format!("client {name} ({m}) got no lease"))?;
        let (ip, server) = (lease.ip, lease.server);
        let who = ADDR
            .iter()
            .position(|a| *a == server)
            .with_context(|| format!("client {name} ({m}) got {ip} from {server}, which is not a lab server"))?;
        let want = expect(n);
        println!(
            "    client {name} {m} bucket {:>3}: {ip:<15} from {server} ({:<9}) lease {:>4} s{}",
            bucket(n),
            ROLE[who],
            lease.lease_secs.map_or("?".to_string(), |s| s.to_string()),
            if who == want { String::new() } else { format!("  WRONG: the {} should have answered", ROLE[want]) }
        );
        if who != want {
            bail!(
                "client {name} ({m}, bucket {}) was answered by the {} ({server}); the {} ({}) should have",
                bucket(n),
                ROLE[who],
                ROLE[want],
                ADDR[want]
            );
        }
        let addr: Ipv4Addr = ip.parse().with_context(|| format!("client {name}: udhcpc reported address {ip:?}"))?;
        if !(POOL.0..=POOL.1).contains(&addr) {
            bail!("client {name} got {addr}, outside the pool {}-{}", POOL.0, POOL.1);
        }
        let now = Instant::now();
        if let Some((other, _)) =
            leases.iter().find(|(k, h)| **k != n && h.addr == addr && h.until.is_none_or(|u| u > now))
        {
            bail!("client {name} got {addr}, which client lab{other} still holds");
        }
        for &i in files {
            wait_in_lease_file(lab, i, &ip, &m, REPLICATED_WITHIN)?;
        }
        no_double_binding(lab, files)?;
        let until = lease.lease_secs.map(|s| asked + Duration::from_secs(s).saturating_sub(Duration::from_secs(1)));
        leases.insert(n, Held { addr, by: who, until });
        answered[who] += 1;
    }
    Ok(answered)
}

/// Run the lab: the steps, the teardown check and the summary. Err names the failed step.
pub fn run() -> Result<()> {
    // SAFETY: single-threaded here; the lab uses the release build just made.
    unsafe { std::env::set_var("XDHCPD_BIN", crate::util::target_dir().join("release/xdhcpd")) };
    catch_interrupts();
    let started = Instant::now();
    let mut steps = Steps::default();
    let mut created = Created::default();
    let outcome = scenario(&mut steps, &mut created);
    // The lab was dropped when `scenario` returned, on success and on failure alike.
    let teardown = steps.run_always("teardown: nothing left behind", || created.check_removed());
    step("summary");
    print!("{}", steps.summary(started.elapsed()));
    outcome.and(teardown)
}

fn scenario(steps: &mut Steps, created: &mut Created) -> Result<()> {
    steps.run("preflight: root, and the lab's programs on PATH", preflight)?;

    let configs = [pair_config(0, MCLT, SPLIT, LB_MAX_SECS, 0), pair_config(1, MCLT, SPLIT, LB_MAX_SECS, 0)];
    let mut lab = steps.run("create the lab: 3 namespaces, a bridge, 198.18.0.0/24", || {
        let lab = PairLab::new(configs.clone())?;
        created.netns = lab.srv.iter().chain([&lab.cli]).map(|n| n.name.clone()).collect();
        created.dir = Some(lab.dir.clone());
        println!("    the primary's dhcpd.conf (failover part):");
        for l in configs[0].lines().filter(|l| ["failover", "mclt", "range", "balance"].iter().any(|k| l.contains(k))) {
            println!("      {}", l.trim());
        }
        let names = created.netns.join(", ");
        Ok((lab, format!("namespaces {names}; servers {} and {}", ADDR[0], ADDR[1])))
    })?;

    steps.run(&format!("start the pair, XDP on each veth: NORMAL/NORMAL within {NORMAL_WITHIN:?}"), || {
        lab.start(1, SERVER_ARGS)?;
        lab.start(0, SERVER_ARGS)?;
        let t = wait_both_normal(&lab, NORMAL_WITHIN)?;
        show(&lab);
        for (i, role) in ROLE.iter().enumerate() {
            let v = lab.status(i)?;
            let attached = v["xdp"]["attached"].as_array().map_or(0, Vec::len);
            if attached == 0 {
                bail!("XDP is not attached on the {role} (built without the eBPF program?): {}", v["xdp"]);
            }
        }
        Ok(((), format!("NORMAL/NORMAL {:.2} s after the primary started; XDP attached on both", t.as_secs_f64())))
    })?;

    let mut leases = Leases::new();
    steps.run("8 clients (udhcpc), each answered by the server its RFC 3074 hash names", || {
        let [p, s] = clients(&lab, 1..=8, &mut leases, owner, &[0, 1])?;
        if p == 0 || s == 0 {
            bail!("the 8 clients did not exercise both servers ({p} primary, {s} secondary): choose other MACs");
        }
        Ok(((), format!("8 of 8 leased, {p} by the primary and {s} by the secondary, each in both lease files")))
    })?;

    steps.run("XDP dropped the partner's DISCOVERs at each server's NIC", || {
        show(&lab);
        let mut seen = Vec::new();
        for (i, role) in ROLE.iter().enumerate() {
            // Each server saw every broadcast DISCOVER; those of the partner's clients must
            // have been dropped in the kernel.
            let partners = leases.values().filter(|h| h.by != i).count() as u64;
            let v = lab.status(i)?;
            let dropped = v["xdp"]["counters"]["drop_partner"].as_u64().context("no XDP drop_partner counter")?;
            if dropped < partners {
                bail!("the {role} dropped {dropped} partner DISCOVERs for {partners} partner clients");
            }
            seen.push(format!("{role} dropped {dropped} (partner clients {partners})"));
        }
        Ok(((), seen.join(", ")))
    })?;

    steps.run(
        &format!("kill -9 of the primary: the secondary communications-interrupted within {INTERRUPTED_WITHIN:?}"),
        || {
            lab.kill(0)?;
            let t = lab.wait_state(1, "communications-interrupted", None, INTERRUPTED_WITHIN)?;
            show(&lab);
            Ok(((), format!("secondary communications-interrupted {:.2} s after the kill", t.as_secs_f64())))
        },
    )?;

    steps.run(
        &format!("`xdhcpd partner-down` on the secondary: partner-down within {PARTNER_DOWN_WITHIN:?}"),
        || {
            let bin = xdhcpd_tests::xdhcpd_bin()?;
            let out = std::process::Command::new(&bin)
                .args(["partner-down", "--control-socket"])
                .arg(lab.socket(1))
                .output()
                .context("running xdhcpd partner-down")?;
            if !out.status.success() {
                bail!(
                    "xdhcpd partner-down failed ({}): {}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let t = lab.wait_state(1, "partner-down", None, PARTNER_DOWN_WITHIN)?;
            show(&lab);
            Ok(((), format!("secondary partner-down {:.2} s after the command", t.as_secs_f64())))
        },
    )?;

    steps.run("4 new clients: the secondary serves them all", || {
        clients(&lab, 9..=12, &mut leases, |_| 1, &[1])?;
        Ok(((), "4 of 4 leased by the secondary, in its lease file".to_string()))
    })?;

    steps.run(
        &format!("restart the primary with its lease file: recovery to NORMAL/NORMAL within {RECOVERY_WITHIN:?}"),
        || {
            lab.start(0, SERVER_ARGS)?;
            let t = wait_both_normal(&lab, RECOVERY_WITHIN)?;
            show(&lab);
            Ok(((), format!("NORMAL/NORMAL {:.2} s after the restart (MCLT {MCLT} s)", t.as_secs_f64())))
        },
    )?;

    steps.run("2 new clients after recovery: balanced by the hash again", || {
        let [p, s] = clients(&lab, 13..=14, &mut leases, owner, &[0, 1])?;
        Ok(((), format!("2 of 2 leased ({p} by the primary, {s} by the secondary), each in both lease files")))
    })?;

    // Explicitly, so that the teardown is timed as part of the run; Drop does the same on failure.
    drop(lab);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clients_exercise_both_servers() {
        // Steps 4 and 10 demand it; a change of MACs or split must keep it true.
        let first: Vec<usize> = (1..=8).map(owner).collect();
        assert!(first.contains(&0) && first.contains(&1), "{first:?}");
    }

    #[test]
    fn the_owner_follows_the_split() {
        // bucket < SPLIT is the primary's (dhcpd's split semantics).
        for n in 1..=14 {
            assert_eq!(owner(n) == 0, u16::from(bucket(n)) < SPLIT, "client {n}");
        }
    }

    #[test]
    fn a_failed_step_is_named_and_ends_the_summary() {
        let mut steps = Steps::default();
        let ok: Result<u8> = steps.run("one", || Ok((1, "fine".to_string())));
        assert_eq!(ok.ok(), Some(1));
        let err = steps.run("two", || -> Result<((), String)> { bail!("client lab3 got no lease") });
        // The error names the step; its cause follows in the chain.
        let msg = err.err().map(|e| format!("{e:#}")).unwrap_or_default();
        assert_eq!(msg, "lab step 2 failed: two: client lab3 got no lease");
        let s = steps.summary(Duration::from_secs(3));
        assert!(s.contains("ok      one"), "{s}");
        assert!(s.contains("FAILED") && s.contains("client lab3 got no lease"), "{s}");
        assert!(s.trim_end().ends_with("lab FAILED at step 2 (two) after 3.0 s"), "{s}");
    }
}
