//! Live migration: a real ISC dhcpd failover pair serving renewing udhcpc clients is replaced
//! by xdhcpd one server at a time (secondary, then primary), each xdhcpd reading the same
//! dhcpd.conf and dhcpd.leases its dhcpd used. No client may get a NAK or lose its address,
//! every client must renew through each new server configuration, and both final lease files
//! must hold every client's lease. The same scenario is `cargo xtask lab --migrate`. Then the
//! way back: dhcpd replaces the xdhcpd secondary on the lease file xdhcpd wrote. A second
//! test runs the migration with an MCLT under busybox udhcpc's lease floor (late renewals).

use anyhow::Result;
use std::time::Duration;
use xdhcpd_tests::migrate::{ADDR, LEASE_SECS, MCLT, Migration, ROLE, SHORT_MCLT, Server, now_unix};
use xdhcpd_tests::require_root;

/// A dhcpd pair from empty lease files took 1.2–21 s to NORMAL here (README).
const DHCPD_NORMAL_WITHIN: Duration = Duration::from_secs(40);
/// Each replacement: NORMAL/NORMAL again, including a possible MCLT wait in recovery.
const REPLACED_NORMAL_WITHIN: Duration = Duration::from_secs(60);
/// A renewal comes every LEASE_SECS / 2; two periods, plus retries.
const RENEWED_WITHIN: Duration = Duration::from_secs(2 * LEASE_SECS as u64 + 10);
const REPLICATED_WITHIN: Duration = Duration::from_secs(10);
/// Back to dhcpd: RECOVER, then the MCLT (30 s) in RECOVER-WAIT.
const ROLLED_BACK_NORMAL_WITHIN: Duration = Duration::from_secs(2 * MCLT as u64 + 10);

#[test]
fn a_live_dhcpd_pair_is_migrated_and_the_secondary_rolled_back() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut m = Migration::new()?;
    let outcome = scenario(&mut m).and_then(|_| roll_back_the_secondary(&mut m));
    // Shown on failure (and with --nocapture): the servers' logs and every client event.
    eprintln!("{}", m.diagnostics());
    outcome
}

/// The migration; returns when (Unix time) the pair was NORMAL again after the primary's
/// replacement.
fn scenario(m: &mut Migration) -> Result<f64> {
    let mut primary_replaced = 0.0;
    let t = m.start_dhcpd_pair(DHCPD_NORMAL_WITHIN)?;
    eprintln!("dhcpd pair NORMAL/NORMAL in {t:.2?}");

    let bound = m.start_clients(Duration::from_secs(40))?;
    for (name, ip, server) in &bound {
        eprintln!("{name}: {ip} from {server}");
    }
    // The clients exercise both servers: each replacement takes over renewals it must answer.
    for addr in ADDR {
        anyhow::ensure!(bound.iter().any(|(_, _, s)| s == addr), "no client was bound by {addr}: {bound:?}");
    }
    m.wait_lease_files(&[0, 1], REPLICATED_WITHIN)?;
    let since = now_unix();
    m.wait_renewals(since, RENEWED_WITHIN)?;

    for i in [1, 0] {
        let r = m.replace(i, REPLACED_NORMAL_WITHIN)?;
        eprintln!(
            "{} replaced: dhcpd stopped in {:.2?}, xdhcpd ready in {:.2?}, NORMAL/NORMAL {:.2?} later ({})",
            ROLE[i],
            r.stop,
            r.ready,
            r.normal,
            m.describe_states()
        );
        anyhow::ensure!(m.kind[i] == Server::Xdhcpd, "{:?}", m.kind);
        // Every client renews through the new configuration, with nothing lost on the way,
        // and the renewals of the replaced server's clients are answered by xdhcpd.
        let since = now_unix();
        if i == 0 {
            primary_replaced = since;
        }
        let answered = m.wait_renewals(since, RENEWED_WITHIN)?;
        anyhow::ensure!(
            answered.contains(ADDR[i]),
            "no renewal answered by the new {} (xdhcpd): {answered:?}",
            ROLE[i]
        );
        m.wait_lease_files(&[0, 1], REPLICATED_WITHIN)?;
        anyhow::ensure!(m.both_normal(), "{}", m.describe_states());
    }
    m.check_no_problems()?;
    anyhow::ensure!(m.kind == [Server::Xdhcpd, Server::Xdhcpd], "{:?}", m.kind);
    // The way back: dhcpd accepts both lease files xdhcpd wrote.
    for (i, role) in ROLE.iter().enumerate() {
        let n = m.dhcpd_reads_lease_file(i)?;
        eprintln!("dhcpd -T reads the {role}'s lease file written by xdhcpd: {n} leases");
    }
    let complaints = m.xdhcpd_complaints();
    anyhow::ensure!(complaints.is_empty(), "xdhcpd warned about what dhcpd left it:\n{}", complaints.join("\n"));
    Ok(primary_replaced)
}

/// The way back, live: after the migration, dhcpd replaces the xdhcpd secondary on the lease
/// file xdhcpd wrote. xdhcpd's SIGTERM announces SHUTDOWN, so the primary goes PARTNER-DOWN
/// and dhcpd comes back through RECOVER and waits the MCLT (30 s) before NORMAL; meanwhile the
/// secondary's clients rebind to the primary. No client may be NAKed or lose its address.
fn roll_back_the_secondary(m: &mut Migration) -> Result<()> {
    let r = m.roll_back(1, ROLLED_BACK_NORMAL_WITHIN)?;
    eprintln!(
        "secondary rolled back to dhcpd: xdhcpd stopped in {:.2?}, NORMAL/NORMAL {:.2?} after dhcpd started ({})",
        r.stop,
        r.normal,
        m.describe_states()
    );
    let since = now_unix();
    m.wait_renewals(since, RENEWED_WITHIN)?;
    m.wait_lease_files(&[0, 1], REPLICATED_WITHIN)?;
    m.check_no_problems()?;
    anyhow::ensure!(m.both_normal(), "{}", m.describe_states());
    Ok(())
}

/// The incompatibility the migration found, as it showed. With an MCLT of 10 s the secondary
/// grants 10 s leases, which busybox udhcpc treats as 30 s: its clients renew 5 s after their
/// lease ended on the servers. Once the primary is xdhcpd, which (unlike dhcpd) does not hand
/// four freed addresses straight back to the secondary, such a renewal asks the secondary for
/// an address in the primary's FREE state. dhcpd's secondary stays silent ("lease owned by
/// peer") and the client, rebinding by broadcast, keeps its address through the primary;
/// xdhcpd as the secondary NAKed it and the client lost its address (before the fix). Here the
/// whole migration runs so, xdhcpd sweeping expired leases every second (the race between its
/// sweep and the renewal then has a 4 s margin), and the secondary's clients must have been
/// renewed by the primary after its replacement, with no NAK and no address lost.
#[test]
fn late_renewals_are_not_naked_but_go_to_the_owner() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut m = Migration::with_mclt(SHORT_MCLT)?;
    m.xdhcpd_args.extend(["--expiry-interval", "1"].map(String::from));
    let outcome = scenario(&mut m).and_then(|since| {
        let lease = m
            .clients
            .iter()
            .flat_map(|c| c.events())
            .find(|e| e.kind == "bound" && e.server.as_deref() == Some(ADDR[1]));
        anyhow::ensure!(
            lease.as_ref().and_then(|e| e.lease_secs) == Some(u64::from(SHORT_MCLT)),
            "the secondary did not grant the MCLT, so no renewal came late: {lease:?}"
        );
        for c in &m.clients {
            let v = c.view();
            if v.bound_by.as_deref() != Some(ADDR[1]) {
                continue;
            }
            anyhow::ensure!(
                v.renewals.iter().any(|(t, s)| *t > since && s == ADDR[0]),
                "{}, bound by the secondary, was not renewed by the primary after its replacement: {:?}",
                c.name,
                v.renewals
            );
        }
        Ok(())
    });
    eprintln!("{}", m.diagnostics());
    outcome
}
