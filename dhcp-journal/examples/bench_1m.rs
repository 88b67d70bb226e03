//! Times serialize, parse and fold of N leases (default 1,000,000).
//!
//! cargo run --release -p dhcp-journal --example bench_1m [-- N | -- --file dhcpd.leases]

use std::net::Ipv4Addr;
use std::time::Instant;

use dhcp_journal::{BindingState, Entry, LeaseRecord, fold, header, parse, write_entry};

fn lease(i: u32) -> LeaseRecord {
    let now = 1_795_610_435 + i % 3600;
    let mac = [0x52, 0x54, 0x00, (i >> 16) as u8, (i >> 8) as u8, i as u8];
    let mut uid = vec![1];
    uid.extend_from_slice(&mac);
    LeaseRecord {
        ip: Ipv4Addr::from(0x0a00_0000 + i),
        starts: Some(now),
        ends: Some(now + 3600),
        tstp: Some(now + 5400),
        tsfp: Some(now + 5400),
        atsfp: Some(now + 5400),
        cltt: Some(now),
        binding_state: BindingState::Active,
        next_binding_state: Some(BindingState::Expired),
        rewind_binding_state: None,
        reserved: false,
        bootp: false,
        hardware: Some((1, mac.to_vec())),
        uid: Some(uid),
        client_hostname: Some(format!("host-{i}")),
        vendor_class: None,
        vars: Vec::new(),
        billing: None,
        events: Vec::new(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bytes = if args.first().map(String::as_str) == Some("--file") {
        let path = args.get(1).expect("--file PATH");
        std::fs::read(path).expect("read")
    } else {
        let n: u32 = args.first().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
        let entries: Vec<Entry> = (0..n).map(|i| Entry::Lease(lease(i))).collect();
        let t = Instant::now();
        let mut buf = header();
        buf.reserve(n as usize * 400);
        for e in &entries {
            write_entry(&mut buf, e);
        }
        println!("serialize {n} leases: {:?}", t.elapsed());
        buf
    };
    println!("file size: {} bytes ({:.1} MiB)", bytes.len(), bytes.len() as f64 / 1048576.0);

    let t = Instant::now();
    let parsed = parse(&bytes);
    let tp = t.elapsed();
    let n = parsed.entries.len();
    let t = Instant::now();
    let state = fold(parsed.entries);
    let tf = t.elapsed();
    println!(
        "parse: {tp:?} ({:.0} MB/s), fold: {tf:?}, total: {:?}; {n} records, {} leases, {} warnings",
        bytes.len() as f64 / tp.as_secs_f64() / 1e6,
        tp + tf,
        state.leases.len(),
        parsed.warnings.len() + parsed.suppressed_warnings,
    );
}
