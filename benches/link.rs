//! Cost of the peer link layer per failover message: `LinkGuard::seal` on the sender and
//! `open` on the receiver, for a typical BNDUPD (an ACTIVE lease, 79 bytes as dhcpd sends
//! it), with `auth-key` (HMAC-SHA256 both ways plus the replay checks) and without.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use dhcp_failover::link::{LinkGuard, LinkKey};
use dhcp_failover::testing::{START_UNIX, test_binding};
use dhcp_failover::wire::{Message, encode};

const BATCH: u32 = 1000;

/// BATCH BNDUPDs with growing xids, concatenated as `Peer::poll_transmit` gives them.
fn bndupds() -> Vec<u8> {
    let mut out = Vec::new();
    for xid in 1..=BATCH {
        let b = test_binding((xid % 60_000) as u16, START_UNIX + 600);
        let _ = encode(&Message::bndupd(START_UNIX, xid, &b), &mut out);
    }
    out
}

fn bench(c: &mut Criterion) {
    let plain = bndupds();
    let mut g = c.benchmark_group("link_guard_bndupd");
    g.throughput(Throughput::Elements(u64::from(BATCH)));
    for (name, key) in [("unkeyed", None), ("hmac_sha256", Some(LinkKey::new("k", b"0123456789abcdef0123".to_vec())))] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    // As after CONNECT/CONNECTACK: the sender has heard from the receiver, so
                    // its messages echo the receiver's nonce.
                    let (mut tx, mut rx) =
                        (LinkGuard::new(key.clone(), [1; 8], None), LinkGuard::new(key.clone(), [2; 8], None));
                    let mut hello = Vec::new();
                    let _ = encode(&Message::contact(START_UNIX, 0), &mut hello);
                    let (mut wire, mut sink) = (Vec::new(), Vec::new());
                    let ok = rx.seal(&hello, &mut wire).is_ok() && tx.open(START_UNIX, &wire, &mut sink).is_ok();
                    assert!(ok, "handshake");
                    (tx, rx)
                },
                |(mut tx, mut rx)| {
                    let mut wire = Vec::with_capacity(plain.len() * 2);
                    let mut delivered = Vec::with_capacity(wire.capacity());
                    let sealed = tx.seal(&plain, &mut wire);
                    let opened = rx.open(START_UNIX, &wire, &mut delivered);
                    assert!(sealed.is_ok() && opened.is_ok() && delivered.len() == wire.len());
                    delivered
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
