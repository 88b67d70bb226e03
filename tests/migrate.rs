//! Live migration: a real ISC dhcpd failover pair serving renewing udhcpc clients is replaced
//! by xdhcpd one server at a time (secondary, then primary), each xdhcpd reading the same
//! dhcpd.conf and dhcpd.leases its dhcpd used. No client may get a NAK or lose its address,
//! every client must renew through each new server configuration, and both final lease files
//! must hold every client's lease. The same scenario is `cargo xtask lab --migrate`.

use anyhow::Result;
use std::time::Duration;
use xdhcpd_tests::migrate::{ADDR, LEASE_SECS, Migration, ROLE, Server, now_unix};
use xdhcpd_tests::require_root;

/// A dhcpd pair from empty lease files took 1.2–21 s to NORMAL here (README).
const DHCPD_NORMAL_WITHIN: Duration = Duration::from_secs(40);
/// Each replacement: NORMAL/NORMAL again, including a possible MCLT wait in recovery.
const REPLACED_NORMAL_WITHIN: Duration = Duration::from_secs(60);
/// A renewal comes every LEASE_SECS / 2; two periods, plus retries.
const RENEWED_WITHIN: Duration = Duration::from_secs(2 * LEASE_SECS as u64 + 10);
const REPLICATED_WITHIN: Duration = Duration::from_secs(10);

#[test]
fn a_dhcpd_pair_is_replaced_by_xdhcpd_while_clients_renew() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut m = Migration::new()?;
    let outcome = scenario(&mut m);
    // Shown on failure (and with --nocapture): the servers' logs and every client event.
    eprintln!("{}", m.diagnostics());
    outcome
}

fn scenario(m: &mut Migration) -> Result<()> {
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
    Ok(())
}
