//! The CPU cost of a full resynchronisation, without sockets or fsync: a primary holding N
//! leases and a secondary that lost its lease file, both the runtime's own glue
//! (`failover::node::Node`: relationship, engine, journal records), bytes handed from one to
//! the other in-process and every fsync completing at once. What `bench failover`'s resync
//! row measures minus the kernel: run it under `perf record` to see where a resync's time
//! goes, or beside that row to see how much of it is CPU.
//!
//! `resync_bench [LEASES] [ROUNDS]` (defaults 100,000 and 3): prints the time from the
//! connection to the secondary's UPDDONE per round, and the leases it then holds.

use dhcp_common::FailoverState;
use dhcp_failover::{PeerConfig, Role, State, Time};
use dhcp_journal::record::FailoverStateRecord;
use dhcp_user::dhcp::{EngineConfig, Params};
use dhcp_user::failover::node::{Disk, Node, NodeConfig};
use dhcp_user::lease::{BindingState, ClientKey, HwAddr, Lease};
use std::net::Ipv4Addr;
use std::time::Instant;

const START_UNIX: u32 = 1_795_610_241;
const FIRST: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 0);

fn config(role: Role, leases: u32) -> NodeConfig {
    let params = Params { default_lease_secs: 86_400, max_lease_secs: 86_400, ping_check: false, ..Params::default() };
    let last = Ipv4Addr::from(u32::from(FIRST) + leases + leases / 10);
    let engine = EngineConfig::single_pool(
        "lan",
        (Ipv4Addr::new(198, 18, 0, 0), 15),
        vec![(FIRST, last)],
        Some("resync"),
        params,
    );
    let peer = PeerConfig {
        name: "resync".into(),
        role,
        mclt: 3600,
        hba: (role == Role::Primary).then_some(dhcp_common::Hba::from_split(128).0),
        max_unacked_updates: 1000,
        max_response_delay: 60,
        auto_partner_down_secs: 0,
        load_balance_max_secs: 3,
        vendor: "xdhcpd-bench".into(),
    };
    let iface = if role == Role::Primary { Ipv4Addr::new(198, 18, 0, 1) } else { Ipv4Addr::new(198, 18, 0, 2) };
    NodeConfig { engine, peer, iface_addr: iface, max_lease_misbalance: 15, hot_standby_reserve_percent: None }
}

/// The primary's lease file: `n` active leases, each its own client.
fn primary_disk(n: u32) -> Disk {
    let mut d = Disk::default();
    // As `bench failover`'s primary: it was NORMAL with its partner, now on its own.
    d.append_state(&FailoverStateRecord {
        peer: "resync".into(),
        my_state: FailoverState::COMMUNICATIONS_INTERRUPTED,
        my_stos: START_UNIX - 60,
        partner_state: FailoverState::NORMAL,
        partner_stos: START_UNIX - 60,
        mclt: None,
    });
    for i in 0..n {
        let mut l = Lease::free(Ipv4Addr::from(u32::from(FIRST) + i), 0);
        l.state = BindingState::Active;
        l.starts = START_UNIX - 100;
        l.cltt = l.starts;
        l.ends = START_UNIX + 86_000;
        l.tstp = l.ends + 43_200;
        l.tsfp = l.tstp;
        l.atsfp = l.tstp;
        let mac = (i + 1).to_be_bytes();
        l.hw = Some(HwAddr::new(1, &[0x02, 0x42, mac[0], mac[1], mac[2], mac[3]]));
        l.client = Some(ClientKey::from_hw(1, &[0x02, 0x42, mac[0], mac[1], mac[2], mac[3]]));
        d.append_lease(&l);
    }
    d.sync();
    d
}

fn time(ms: u64) -> Time {
    Time { unix: START_UNIX + (ms / 1000) as u32, mono_ms: ms }
}

/// One resync: returns (seconds from connection to the secondary leaving RECOVER, leases
/// the secondary holds).
fn round(leases: u32, disk: &Disk) -> (f64, usize) {
    let t = time(0);
    let mut nodes = [
        Node::restart(config(Role::Primary, leases), disk.clone(), false, t),
        Node::restart(config(Role::Secondary, leases), Disk::default(), true, t),
    ];
    let started = Instant::now();
    let mut now = 0u64;
    for i in [1, 0] {
        nodes[i].handle_link_up(time(now));
    }
    let mut buf = Vec::new();
    // Bounded: a resync that has not ended after this many exchanges is a failure to report.
    for _ in 0..10_000_000u64 {
        let mut moved = false;
        for i in 0..2 {
            buf.clear();
            while nodes[i].poll_transmit(&mut buf) {}
            if !buf.is_empty() {
                moved = true;
                let (a, b) = nodes.split_at_mut(1);
                let to = if i == 0 { &mut b[0] } else { &mut a[0] };
                to.handle_bytes(time(now), &buf);
            }
            if nodes[i].sync_start() {
                moved = true;
                let _ = nodes[i].sync_end(time(now));
            }
        }
        for n in nodes.iter_mut() {
            if n.poll_timeout().is_some_and(|at| at <= now) {
                moved = true;
                n.handle_timeout(time(now));
            }
        }
        let st = nodes[1].peer().state();
        if st != State::RECOVER && st != State::STARTUP {
            break;
        }
        if !moved {
            // Nothing to do until a timer: jump to it.
            match nodes.iter().filter_map(|n| n.poll_timeout()).min() {
                Some(at) if at > now => now = at,
                _ => now += 1,
            }
        }
    }
    let took = started.elapsed().as_secs_f64();
    if std::env::var_os("RESYNC_VERBOSE").is_some() {
        eprintln!("states {:?} {:?} at {now} ms", nodes[0].peer().state(), nodes[1].peer().state());
        for n in nodes.iter_mut() {
            for t in n.take_trace().iter().take(40) {
                eprintln!("  {t:?}");
            }
        }
    }
    let held = nodes[1].engine().store().all().iter().filter(|l| l.state == BindingState::Active).count();
    (took, held)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let leases: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let rounds: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let disk = primary_disk(leases);
    for r in 0..rounds {
        let (took, held) = round(leases, &disk);
        println!("round {r}: resync of {leases} leases in {took:.3} s of CPU (one thread), secondary holds {held}");
    }
}
