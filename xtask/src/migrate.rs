//! `cargo xtask lab --migrate`: the live migration, shown. A real ISC dhcpd failover pair in
//! two server namespaces serves real clients (one long-running udhcpc each, in its own
//! namespace on the pair's bridge) that keep renewing 30 s leases. The dhcpd secondary is
//! stopped (SIGTERM, as `systemctl stop`) and xdhcpd starts in its place on the same
//! dhcpd.conf and the same dhcpd.leases; once the pair is NORMAL again and every client has
//! renewed, the primary is replaced the same way.
//!
//! Every step checks its outcome: the pair NORMAL/NORMAL in time, no client NAKed or without
//! its address at any moment (each client's script logs every udhcpc event), every client
//! renewing through each new configuration (the replaced server's clients answered by
//! xdhcpd), and each server's lease file holding every client's lease. Then the way back:
//! dhcpd replaces the xdhcpd secondary on the lease file xdhcpd wrote. The first failing
//! step ends the lab with a non-zero exit naming it; the summary gives each step's duration.
//! The scenario itself is `xdhcpd_tests::migrate`, which `tests/migrate.rs` runs too.
//!
//! Network rules as in `cargo xtask lab`: traffic only inside the namespaces created here,
//! 198.18.0.0/24, every wait bounded; everything is a Drop guard and the last step checks
//! that nothing is left.

use crate::lab::{Created, Steps, catch_interrupts, check_interrupted, is_executable};
use crate::util::step;
use anyhow::{Context, Result, bail};
use std::time::{Duration, Instant};
use xdhcpd_tests::migrate::{ADDR, CLIENTS, LEASE_SECS, MCLT, Migration, ROLE, Server, now_unix};

/// A dhcpd pair from empty lease files took 1.2–21 s to NORMAL here.
const DHCPD_NORMAL_WITHIN: Duration = Duration::from_secs(40);
const BOUND_WITHIN: Duration = Duration::from_secs(40);
/// NORMAL/NORMAL again after a replacement (a recovery would include the MCLT).
const REPLACED_NORMAL_WITHIN: Duration = Duration::from_secs(2 * MCLT as u64 + 10);
/// A renewal comes every LEASE_SECS / 2; two periods, plus udhcpc's retries.
const RENEWED_WITHIN: Duration = Duration::from_secs(2 * LEASE_SECS as u64 + 10);
/// Back to dhcpd: it comes back through RECOVER and waits the MCLT before NORMAL.
const ROLLED_BACK_NORMAL_WITHIN: Duration = Duration::from_secs(2 * MCLT as u64 + 10);
/// A lease granted by one server reaches the partner's file by BNDUPD.
const REPLICATED_WITHIN: Duration = Duration::from_secs(10);

/// The programs the migration runs, found on PATH (as `ip netns exec` will look for them).
fn preflight() -> Result<((), String)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the lab needs root (network namespaces): run it as root");
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut found = Vec::new();
    for (prog, package) in
        [("ip", "iproute2"), ("udhcpc", "udhcpc"), ("dhcpd", "isc-dhcp-server"), ("date", "coreutils")]
    {
        let at = std::env::split_paths(&path).map(|d| d.join(prog)).find(|p| is_executable(p)).with_context(|| {
            format!("`{prog}` is not on PATH: install the Debian package {package} (`cargo xtask lab --migrate` does)")
        })?;
        found.push(at.display().to_string());
    }
    let bin = xdhcpd_tests::xdhcpd_bin()?;
    if !bin.is_file() {
        bail!("{} is missing: `cargo xtask build` makes it", bin.display());
    }
    found.push(bin.display().to_string());
    Ok(((), found.join(", ")))
}

/// One line per server: what runs there and its failover states.
fn show(m: &Migration) {
    for i in 0..2 {
        let (mine, partner) = m.states(i);
        // Where xdhcpd runs: its XDP attachments (none when built without the eBPF program).
        let xdp = match m.kind[i] {
            Server::Xdhcpd => m.pair.status(i).map_or(String::new(), |v| {
                let attached = v["xdp"]["attached"].as_array().map_or(0, Vec::len);
                if attached > 0 { "; XDP attached".to_string() } else { "; no XDP (userspace path)".to_string() }
            }),
            _ => String::new(),
        };
        println!(
            "    {:<9} {}: {:<9} {} / partner {}{xdp}",
            ROLE[i],
            ADDR[i],
            m.kind[i].name(),
            mine.as_deref().unwrap_or("?"),
            partner.as_deref().unwrap_or("?")
        );
    }
}

/// Each client's address, the server that bound it, and its renewals since `since`.
fn show_clients(m: &Migration, since: f64) {
    for c in &m.clients {
        let v = c.view();
        let (ip, _) = v.bound.clone().unwrap_or_default();
        let recent: Vec<&(f64, String)> = v.renewals.iter().filter(|(t, _)| *t > since).collect();
        let by: Vec<&str> = recent.iter().map(|(_, s)| s.as_str()).collect();
        println!(
            "    {} {}: {:<15} bound by {:<11} {} renewals in all, {} in this step (answered by {})",
            c.name,
            c.mac,
            ip,
            v.bound_by.as_deref().unwrap_or("?"),
            v.renewals.len(),
            recent.len(),
            if by.is_empty() { "-".to_string() } else { by.join(", ") }
        );
    }
}

/// Run the migration lab: the steps, the teardown check and the summary.
pub fn run() -> Result<()> {
    // SAFETY: single-threaded here; the lab uses the release build just made.
    unsafe { std::env::set_var("XDHCPD_BIN", crate::util::target_dir().join("release/xdhcpd")) };
    catch_interrupts();
    let started = Instant::now();
    let mut steps = Steps::default();
    let mut created = Created::default();
    let mut timings = Vec::new();
    let outcome = scenario(&mut steps, &mut created, &mut timings);
    let teardown = steps.run_always("teardown: nothing left behind", || created.check_removed());
    step("migration timings");
    for t in &timings {
        println!("  {t}");
    }
    step("summary");
    print!("{}", steps.summary(started.elapsed()));
    outcome.and(teardown)
}

fn scenario(steps: &mut Steps, created: &mut Created, timings: &mut Vec<String>) -> Result<()> {
    steps.run("preflight: root, dhcpd, udhcpc and xdhcpd present", preflight)?;

    let mut m = steps.run(
        &format!("create the lab: 2 server namespaces, a bridge, {CLIENTS} client namespaces, 198.18.0.0/24"),
        || {
            let mut m = Migration::new()?;
            // Ctrl-C ends any wait at its next poll; the Drop guards then tear down.
            m.interrupt = check_interrupted;
            created.netns = m
                .pair
                .srv
                .iter()
                .chain([&m.pair.cli])
                .chain(m.clients.iter().map(|c| &c.ns))
                .map(|n| n.name.clone())
                .collect();
            created.dir = Some(m.pair.dir.clone());
            println!("    the primary's dhcpd.conf (read by dhcpd, then by xdhcpd):");
            for l in std::fs::read_to_string(m.pair.dir.join("s0.conf"))?.lines() {
                println!("      {l}");
            }
            Ok((m, format!("{} namespaces; servers {} and {}", created.netns.len(), ADDR[0], ADDR[1])))
        },
    )?;

    steps.run(&format!("start an ISC dhcpd failover pair: NORMAL/NORMAL within {DHCPD_NORMAL_WITHIN:?}"), || {
        let t = m.start_dhcpd_pair(DHCPD_NORMAL_WITHIN)?;
        show(&m);
        timings.push(format!("dhcpd pair from empty lease files to NORMAL/NORMAL: {:.2} s", t.as_secs_f64()));
        Ok(((), format!("dhcpd NORMAL/NORMAL {:.2} s after the primary started", t.as_secs_f64())))
    })?;

    steps.run(
        &format!("{CLIENTS} clients (udhcpc, renewing every {} s) bound by the dhcpd pair", LEASE_SECS / 2),
        || {
            let bound = m.start_clients(BOUND_WITHIN)?;
            for (name, ip, server) in &bound {
                let role = ADDR.iter().position(|a| a == server).map_or("not a lab server", |i| ROLE[i]);
                println!("    {name}: {ip:<15} from {server} ({role})");
            }
            let by = |i: usize| bound.iter().filter(|(_, _, s)| s == ADDR[i]).count();
            if by(0) == 0 || by(1) == 0 {
                bail!("the clients did not exercise both servers ({} primary, {} secondary)", by(0), by(1));
            }
            m.wait_lease_files(&[0, 1], REPLICATED_WITHIN)?;
            Ok((
                (),
                format!(
                    "{CLIENTS} bound ({} by the primary, {} by the secondary), each in both lease files",
                    by(0),
                    by(1)
                ),
            ))
        },
    )?;

    steps.run("every client renews with the dhcpd pair, nothing lost", || {
        let since = now_unix();
        let servers = m.wait_renewals(since, RENEWED_WITHIN)?;
        show_clients(&m, since);
        Ok(((), format!("all renewed, answered by {}", servers.into_iter().collect::<Vec<_>>().join(" and "))))
    })?;

    for i in [1, 0] {
        let role = ROLE[i];
        steps.run(
            &format!(
                "replace the dhcpd {role} by xdhcpd (same dhcpd.conf and dhcpd.leases): NORMAL/NORMAL within {REPLACED_NORMAL_WITHIN:?}"
            ),
            || {
                let r = m.replace(i, REPLACED_NORMAL_WITHIN)?;
                println!("    dhcpd's last log lines:");
                for l in &r.exit_log {
                    println!("      {l}");
                }
                println!("    xdhcpd's first log lines:");
                for l in m.pair.server_log(i).iter().filter(|l| {
                    ["lease file loaded", "I move", "peer moves", "Both servers"].iter().any(|k| l.contains(k))
                }) {
                    println!("      {}", xdhcpd_tests::process::strip_ansi(l));
                }
                show(&m);
                m.check_no_problems()?;
                let line = format!(
                    "{role}: dhcpd stopped in {:.2} s, xdhcpd ready {:.2} s later, NORMAL/NORMAL {:.2} s after that: {:.2} s in all",
                    r.stop.as_secs_f64(),
                    r.ready.as_secs_f64(),
                    r.normal.as_secs_f64(),
                    r.total().as_secs_f64()
                );
                timings.push(line.clone());
                Ok(((), line))
            },
        )?;
        steps.run(
            &format!("every client renews through the xdhcpd {role}, nothing lost, every lease in both files"),
            || {
                let since = now_unix();
                let t = Instant::now();
                let servers = m.wait_renewals(since, RENEWED_WITHIN)?;
                show_clients(&m, since);
                if !servers.contains(ADDR[i]) {
                    bail!("no renewal was answered by the new {role} (xdhcpd, {}): {servers:?}", ADDR[i]);
                }
                m.wait_lease_files(&[0, 1], REPLICATED_WITHIN)?;
                if !m.both_normal() {
                    bail!("the pair left NORMAL: {}", m.describe_states());
                }
                timings.push(format!(
                    "every client renewed through the xdhcpd {role} within {:.1} s of its NORMAL",
                    t.elapsed().as_secs_f64()
                ));
                let servers = servers.into_iter().collect::<Vec<_>>().join(" and ");
                Ok(((), format!("all {CLIENTS} renewed (answered by {servers}); both lease files hold every lease")))
            },
        )?;
    }

    steps.run("final check: both servers xdhcpd, no client NAKed or without its address, dhcpd reads the lease files", || {
        check_interrupted()?;
        if m.kind != [Server::Xdhcpd, Server::Xdhcpd] {
            bail!("the pair is {:?}", m.kind);
        }
        m.check_no_problems()?;
        m.check_lease_files(&[0, 1])?;
        let complaints = m.xdhcpd_complaints();
        if !complaints.is_empty() {
            bail!("xdhcpd warned about what dhcpd left it:\n{}", complaints.join("\n"));
        }
        let renewals: usize = m.clients.iter().map(|c| c.view().renewals.len()).sum();
        show(&m);
        // The way back stays open: dhcpd accepts the lease files xdhcpd wrote.
        for (i, role) in ROLE.iter().enumerate() {
            let n = m.dhcpd_reads_lease_file(i)?;
            println!("    dhcpd -T accepts the {role}'s lease file written by xdhcpd ({n} leases kept)");
        }
        Ok((
            (),
            format!(
                "{CLIENTS} clients kept their addresses through {renewals} renewals; no NAK, no lost address; no xdhcpd warning; dhcpd reads both lease files"
            ),
        ))
    })?;

    steps.run(
        &format!(
            "the way back: dhcpd replaces the xdhcpd secondary on xdhcpd's lease file: NORMAL/NORMAL within {ROLLED_BACK_NORMAL_WITHIN:?}"
        ),
        || {
            let r = m.roll_back(1, ROLLED_BACK_NORMAL_WITHIN)?;
            println!("    xdhcpd's last log lines (SIGTERM announces SHUTDOWN; the primary goes PARTNER-DOWN):");
            for l in r.exit_log.iter().filter(|l| ["I move", "peer moves", "shutting down"].iter().any(|k| l.contains(k))) {
                println!("      {}", xdhcpd_tests::process::strip_ansi(l));
            }
            println!("    dhcpd's state moves:");
            for l in m.pair.server_log(1).iter().filter(|l| l.contains("move") || l.contains("Both servers")) {
                println!("      {l}");
            }
            show(&m);
            m.check_no_problems()?;
            let line = format!(
                "back to dhcpd (secondary): xdhcpd stopped in {:.2} s, dhcpd NORMAL/NORMAL {:.2} s after it started (RECOVER, then the MCLT)",
                r.stop.as_secs_f64(),
                (r.ready + r.normal).as_secs_f64()
            );
            timings.push(line.clone());
            Ok(((), line))
        },
    )?;
    steps.run("every client renews with the xdhcpd primary and the dhcpd secondary, nothing lost", || {
        let since = now_unix();
        let servers = m.wait_renewals(since, RENEWED_WITHIN)?;
        show_clients(&m, since);
        m.wait_lease_files(&[0, 1], REPLICATED_WITHIN)?;
        m.check_no_problems()?;
        if !m.both_normal() {
            bail!("the pair left NORMAL: {}", m.describe_states());
        }
        let servers = servers.into_iter().collect::<Vec<_>>().join(" and ");
        Ok((
            (),
            format!(
                "all {CLIENTS} renewed (answered by {servers}); no NAK, no lost address; both files hold every lease"
            ),
        ))
    })?;

    // Explicitly, so that the teardown is timed as part of the run; Drop does the same on failure.
    drop(m);
    Ok(())
}
