//! `journal_bench`: what the journal thread's append costs per lease record, written from the
//! value handed over (the journal before issue 10's fix) and from the store's lease read at
//! the append (`runtime::journal::appended`, the fix), in the same run, rounds alternating.
//! The fsync that follows each batch is not included (it dominates a real batch): this is the
//! CPU the fix adds, as a ratio against the old append.

use dhcp_user::lease::{BindingState, ClientKey, Lease, LeaseStore, record};
use dhcp_user::runtime::journal::appended;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

const LEASES: u32 = 100_000;
const ROUNDS: usize = 15;

fn bound(ip: Ipv4Addr, n: u32) -> Lease {
    let mut l = Lease::free(ip, 0);
    l.state = BindingState::Active;
    l.starts = 1_795_000_000 + n;
    l.ends = l.starts + 86_400;
    l.cltt = l.starts;
    l.client = Some(ClientKey::from_client_id(&n.to_be_bytes()));
    l
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn main() {
    let first = Ipv4Addr::new(198, 18, 0, 1);
    let store = LeaseStore::new(1);
    store.add_range(0, first, Ipv4Addr::from(u32::from(first) + LEASES - 1));
    let handed: Vec<Lease> = (0..LEASES).map(|n| bound(Ipv4Addr::from(u32::from(first) + n), n)).collect();
    for l in &handed {
        store.restore(l.clone());
    }
    let mut buf = Vec::with_capacity(256 * LEASES as usize);
    let (mut old, mut new) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        buf.clear();
        let t = Instant::now();
        for l in &handed {
            dhcp_journal::format::write_lease(&mut buf, &record::to_record(l));
        }
        old.push(t.elapsed());
        let old_len = buf.len();
        buf.clear();
        let t = Instant::now();
        for l in &handed {
            dhcp_journal::format::write_lease(&mut buf, &appended(&store, l));
        }
        new.push(t.elapsed());
        // Same bytes: the store holds what was handed over here.
        assert_eq!(buf.len(), old_len);
    }
    let (old, new) = (median(old), median(new));
    let per = |d: Duration| d.as_nanos() as f64 / f64::from(LEASES);
    println!(
        "journal append, {LEASES} records, median of {ROUNDS} rounds: handed value {:.0} ns/record, \
         store's current lease {:.0} ns/record: {:.2}x",
        per(old),
        per(new),
        per(new) / per(old)
    );
}
