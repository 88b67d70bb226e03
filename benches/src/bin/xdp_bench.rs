//! `cargo xtask bench xdp`: the XDP program's cost per packet, measured by the kernel with
//! BPF_PROG_TEST_RUN (repeat N), for representative packets, next to the same classification
//! and decision run natively in userspace in the same process (the baseline for the ratio).

use dhcp_common::{FailoverState, Hba, Role, Steering, classify, maps::action};
use dhcp_user::xdp::XdpProgram;
use std::time::Instant;
use xdhcpd_tests::frames;

fn main() -> anyhow::Result<()> {
    let repeat: u32 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let steering = Steering {
        hba: Hba::from_split(128),
        lb_max_secs: 3,
        role: Role::Secondary.code(),
        state: FailoverState::NORMAL.get(),
        has_hba: 1,
        partner_has_free: 1,
        enforce: 1,
        _pad: 0,
    };
    // Windows-like option set: type, client id, requested IP, host name, vendor class, PRL.
    let typical = |cid_last: u8, t: u8| {
        let mut o = vec![53, 1, t, 61, 7, 1, 0x52, 0x54, 0, 0xaa, 0xbb, cid_last, 50, 4, 198, 18, 0, 10, 12, 8];
        o.extend_from_slice(b"laptop-1");
        o.extend_from_slice(&[60, 8]);
        o.extend_from_slice(b"MSFT 5.0");
        o.extend_from_slice(&[55, 14, 1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252]);
        o
    };
    // This server is the secondary under split 128: buckets 128..=255 are its own.
    // cid ...:10 hashes to 51 (the primary's); find a last byte whose bucket is ours.
    let mac = [0x52, 0x54, 0, 0xaa, 0xbb, 0x10];
    let mine = (0..=255u8).find(|b| dhcp_common::lb_hash(&[1, 0x52, 0x54, 0, 0xaa, 0xbb, *b]) >= 128).unwrap_or(0);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("DISCOVER, partner's (dropped)", frames::bootp_request(mac, 0, &typical(0x10, 1), 0)),
        ("DISCOVER, mine (passed)", frames::bootp_request(mac, 0, &typical(mine, 1), 0)),
        ("REQUEST (passed)", frames::bootp_request(mac, 0, &typical(0x10, 3), 0)),
        ("non-DHCP UDP (passed)", frames::udp_frame(mac, [198, 18, 0, 2], [198, 18, 0, 1], 40000, 53, &[0u8; 64], 0)),
    ];
    let mut prog = XdpProgram::load(0)?;
    prog.set_steering(&steering)?;
    println!(
        "XDP program: {} verified instructions",
        prog.verified_instructions().map(|n| n.to_string()).unwrap_or("?".into())
    );
    println!("{:<32} {:>8} {:>14} {:>14} {:>8}", "packet", "verdict", "XDP ns/pkt", "native ns/pkt", "ratio");
    for (name, frame) in &cases {
        let (ret, dur) = prog.test_run(frame, repeat)?;
        // The kernel reports the mean duration per run.
        let xdp_ns = dur.as_nanos() as f64;
        let n = 2_000_000u32;
        let t = Instant::now();
        let mut drops = 0u32;
        for _ in 0..n {
            drops +=
                u32::from(action(&classify(std::hint::black_box(&frame[..])), std::hint::black_box(&steering)).drop);
        }
        let native_ns = t.elapsed().as_nanos() as f64 / f64::from(n);
        std::hint::black_box(drops);
        let verdict = if ret == dhcp_user::xdp::XDP_DROP { "DROP" } else { "PASS" };
        println!("{name:<32} {verdict:>8} {xdp_ns:>14.1} {native_ns:>14.1} {:>8.2}", xdp_ns / native_ns);
    }
    Ok(())
}
