//! Partner liveness from the NIC: in a load-balanced pair with XDP, the primary's program
//! counts the secondary's clients whose DISCOVERs come back with `secs` over `load balance
//! max seconds`. When the secondary stops serving (SIGSTOP: it neither answers clients nor
//! talks failover), that sustained lateness lets the primary's auto-partner-down (600 s
//! here) act as soon as the link is declared lost, not 10 minutes later.

use anyhow::{Context, Result};
use dhcp_common::hash::lb_hash;
use std::time::{Duration, Instant};
use xdhcpd_tests::pair::{PairLab, pair_config};
use xdhcpd_tests::{frames, netns, require_root};

/// MACs whose bucket the secondary owns under split 128 (buckets 128..=255).
fn secondary_clients(n: usize) -> Vec<[u8; 6]> {
    (0..=255u8).map(|i| [0x52, 0x54, 0x00, 0x5e, 0x00, i]).filter(|m| lb_hash(m) >= 128).take(n).collect()
}

#[test]
fn late_partner_clients_bring_partner_down_before_the_auto_delay() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut lab = PairLab::new([pair_config(0, 10, 128, 3, 600), pair_config(1, 10, 128, 3, 0)])?;
    lab.start(1, &["--xdp-mode", "skb"])?;
    lab.start(0, &["--xdp-mode", "skb"])?;
    lab.wait_state(0, "normal", Some("normal"), Duration::from_secs(20))?;

    lab.servers[1].as_ref().context("secondary")?.signal(libc::SIGSTOP);
    let stopped = Instant::now();
    // The secondary's clients retry, waiting longer each round (bounded: 4 rounds of 6).
    let clients = secondary_clients(6);
    for round in 0..4u16 {
        let batch: Vec<Vec<u8>> = clients
            .iter()
            .map(|m| frames::bootp_request(*m, 4 + 2 * round, &frames::discover_options(None), 0))
            .collect();
        netns::in_netns(&lab.cli.name, move || frames::send_raw("br0", &batch))?;
        std::thread::sleep(Duration::from_millis(900));
    }
    let late = lab.status(0)?["xdp"]["counters"]["pass_partner_late"].as_u64().unwrap_or(0);
    assert!(late >= 10, "primary's XDP counted {late} late partner DISCOVERs");

    // max-response-delay 5 s → COMMUNICATIONS-INTERRUPTED, then PARTNER-DOWN on the evidence.
    lab.wait_state(0, "partner-down", None, Duration::from_secs(30))?;
    let took = stopped.elapsed();
    eprintln!("partner-down {took:?} after the secondary stopped (auto-partner-down is 600 s)");
    // (The log is read by its own thread: give it a moment to catch up.)
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut log = lab.server_log(0).join("\n");
    while !log.contains("partner not serving") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        log = lab.server_log(0).join("\n");
    }
    assert!(log.contains("partner not serving"), "no evidence logged:\n{log}");
    let rel = &lab.status(0)?["relationships"][0];
    assert!(rel["partner_late_discovers_recent"].as_u64().unwrap_or(0) >= 10, "{rel}");

    lab.servers[1].as_ref().context("secondary")?.signal(libc::SIGCONT);
    Ok(())
}
