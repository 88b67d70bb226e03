// Shared helpers (included by each test crate with `mod common;`).
#![allow(dead_code)]

use std::net::Ipv4Addr;

use dhcp_journal::{BindingState, Entry, LeaseRecord};

/// A realistic active lease, varied by `i`.
pub fn lease(i: u32) -> LeaseRecord {
    let now = 1_795_610_435 + i % 3600;
    let mac = [0x52, 0x54, 0x00, (i >> 16) as u8, (i >> 8) as u8, i as u8];
    let mut uid = vec![1];
    uid.extend_from_slice(&mac);
    LeaseRecord {
        ip: Ipv4Addr::from(0x0a00_0000 + i),
        starts: Some(now),
        ends: Some(now + 3600),
        tstp: Some(now + 5400),
        tsfp: if i.is_multiple_of(2) { Some(now + 5400) } else { None },
        atsfp: if i.is_multiple_of(2) { Some(now + 5400) } else { None },
        cltt: Some(now),
        binding_state: BindingState::Active,
        next_binding_state: Some(BindingState::Expired),
        rewind_binding_state: if i.is_multiple_of(3) { Some(BindingState::Free) } else { None },
        reserved: false,
        bootp: false,
        hardware: Some((1, mac.to_vec())),
        uid: Some(uid),
        client_hostname: if i.is_multiple_of(4) { Some(format!("host-{i}")) } else { None },
        vendor_class: None,
        vars: Vec::new(),
        billing: None,
        events: Vec::new(),
    }
}

pub fn leases(n: u32) -> Vec<Entry> {
    (0..n).map(|i| Entry::Lease(lease(i))).collect()
}
