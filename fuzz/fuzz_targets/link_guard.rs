#![no_main]
//! The peer link layer on arbitrary partner bytes, keyed and unkeyed: it must refuse or
//! pass them, never panic, and pass on only whole messages.
use dhcp_failover::link::{LinkGuard, LinkKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for key in [None, Some(LinkKey::new("k", b"fuzz".to_vec()))] {
        let mut g = LinkGuard::new(key, [7; 8], Some(vec![1]));
        let mut out = Vec::new();
        // Split the input in two reads to exercise reassembly.
        let (a, b) = data.split_at(data.len() / 2);
        if g.open(1_800_000_000, a, &mut out).is_ok() {
            let _ = g.open(1_800_000_000, b, &mut out);
        }
        let mut sealed = Vec::new();
        let _ = g.seal(&out, &mut sealed);
        let _ = g.take_partner_config();
    }
});
