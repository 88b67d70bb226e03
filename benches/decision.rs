//! The shared classification + decision on representative frames, native code (the XDP
//! program's own cost is measured with BPF_PROG_TEST_RUN by `cargo xtask bench xdp`).

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use dhcp_common::{FailoverState, Hba, Role, Steering, classify, decide, hash::lb_hash, maps::action};

fn frame(options: &[u8]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0x52, 0x54, 0, 0xaa, 0xbb, 0x10, 0x08, 0x00]);
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255];
    let mut bootp = vec![0u8; 240];
    bootp[0] = 1;
    bootp[2] = 6;
    bootp[28..34].copy_from_slice(&[0x52, 0x54, 0, 0xaa, 0xbb, 0x10]);
    bootp[236..240].copy_from_slice(&[99, 130, 83, 99]);
    bootp.extend_from_slice(options);
    bootp.push(255);
    let udp_len = (8 + bootp.len()) as u16;
    ip[2..4].copy_from_slice(&(20 + udp_len).to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&[0, 68, 0, 67]);
    f.extend_from_slice(&udp_len.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&bootp);
    f
}

fn bench(c: &mut Criterion) {
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
    // A Windows-like DISCOVER: message type, client id, requested IP, host name, vendor class, PRL.
    let discover = frame(&[
        53, 1, 1, 61, 7, 1, 0x52, 0x54, 0, 0xaa, 0xbb, 0x10, 50, 4, 198, 18, 0, 10, 12, 8, b'l', b'a', b'p', b't',
        b'o', b'p', b'-', b'1', 60, 8, b'M', b'S', b'F', b'T', b' ', b'5', b'.', b'0', 55, 14, 1, 3, 6, 15, 31, 33, 43,
        44, 46, 47, 119, 121, 249, 252,
    ]);
    c.bench_function("classify+decide DISCOVER", |b| {
        b.iter(|| action(&classify(black_box(&discover[..])), black_box(&steering)))
    });
    let view = match classify(&discover[..]) {
        dhcp_common::Classified::Request(v) => v,
        other => panic!("unexpected {other:?}"),
    };
    c.bench_function("decide only", |b| b.iter(|| decide(black_box(&steering), black_box(&view))));
    c.bench_function("lb_hash 7-byte client id", |b| {
        b.iter(|| lb_hash(black_box(&[1, 0x52, 0x54, 0, 0xaa, 0xbb, 0x10])))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
