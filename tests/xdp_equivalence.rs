//! The loaded XDP program and the userspace fallback decide identically.
//!
//! A corpus of crafted frames (every message type, with and without client id, VLAN tags,
//! IP options, long client ids, option overload, truncation at every offset, random
//! mutations) runs through the kernel with BPF_PROG_TEST_RUN and through
//! `dhcp_common::{classify, maps::action}` in userspace, for several HBA splits, roles,
//! states and `secs` values. Verdicts and the counter bumped must match.

use anyhow::Result;
use dhcp_common::{FailoverState, Hba, Role, Steering, classify, maps::action};
use dhcp_user::xdp::{XDP_DROP, XDP_PASS, XdpProgram};
use xdhcpd_tests::{frames, require_root};

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xaa, 0xbb, 0x10];

/// Small deterministic PRNG (xorshift) so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn corpus() -> Vec<Vec<u8>> {
    let mut c = Vec::new();
    for secs in [0u16, 3, 4, 100] {
        for vlans in 0..=2 {
            for (i, mac_last) in [0x10u8, 0x17, 0x19, 0x42, 0x99].iter().enumerate() {
                let mut mac = MAC;
                mac[5] = *mac_last;
                let cid = [1, 0x52, 0x54, 0, 0xaa, 0xbb, *mac_last];
                c.push(frames::bootp_request(mac, secs, &frames::discover_options(Some(&cid)), vlans));
                c.push(frames::bootp_request(mac, secs, &frames::discover_options(None), vlans));
                // Every other message type.
                for t in [3u8, 4, 7, 8] {
                    c.push(frames::bootp_request(mac, secs, &[53, 1, t, 61, 7, 1, 2, 3, 4, 5, 6, i as u8], vlans));
                }
            }
        }
    }
    // Plain BOOTP (no cookie-based message type) and an overload request.
    c.push(frames::bootp_request(MAC, 0, &[55, 2, 1, 3], 0));
    c.push(frames::bootp_request(MAC, 0, &[53, 1, 1, 52, 1, 3], 0));
    // Long client identifiers: 64 (hashed in XDP) and 65 (left to userspace).
    for n in [63usize, 64, 65, 200] {
        let mut o = vec![53, 1, 1, 61, n as u8];
        o.extend((0..n).map(|i| i as u8));
        c.push(frames::bootp_request(MAC, 0, &o, 0));
    }
    // PAD-heavy options.
    let mut o = vec![0u8; 40];
    o.extend_from_slice(&[53, 1, 1, 0, 0, 61, 3, 1, 2, 3]);
    c.push(frames::bootp_request(MAC, 0, &o, 0));
    // IPv4 header with options (IHL 6).
    let mut f = frames::bootp_request(MAC, 0, &frames::discover_options(None), 0);
    f[14] = 0x46;
    f.splice(34..34, [1u8, 1, 1, 1]);
    c.push(f);
    // Not DHCP.
    c.push(frames::udp_frame(MAC, [198, 18, 0, 2], [198, 18, 0, 1], 40000, 53, b"dns", 0));
    let mut arp = vec![0xffu8; 6];
    arp.extend_from_slice(&MAC);
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.extend_from_slice(&[0u8; 28]);
    c.push(arp);
    // Truncation of a DISCOVER at every offset from the Ethernet header on.
    let full = frames::bootp_request(MAC, 0, &frames::discover_options(Some(&[1, 2, 3, 4, 5, 6, 7])), 1);
    for n in 14..full.len() {
        c.push(full[..n].to_vec());
    }
    // The XDP program's no-copy prefilter for untagged frames (not IPv4, not UDP, fragment,
    // another port) must agree with the full parser: cases on each side of each check,
    // untagged truncation at every offset, and mutations confined to the headers.
    let untagged = frames::bootp_request(MAC, 0, &frames::discover_options(None), 0);
    // (BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header.)
    for n in 14..untagged.len().min(80) {
        c.push(untagged[..n].to_vec());
    }
    for (at, v) in
        [(23usize, 6u8), (23, 17), (20, 0x20), (20, 0x00), (21, 0x01), (36, 0), (37, 68), (14, 0x65), (14, 0x44)]
    {
        let mut f = untagged.clone();
        f[at] = v;
        c.push(f);
    }
    let mut rng = Rng(0x0bad_cafe_f00d_0001);
    for _ in 0..400 {
        let mut f = untagged.clone();
        let i = 12 + (rng.next() as usize % 30);
        f[i] = rng.next() as u8;
        c.push(f);
    }
    // Random single-byte mutations of a DISCOVER.
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let base = frames::bootp_request(MAC, 2, &frames::discover_options(Some(&[1, 9, 9, 9, 9, 9, 9])), 0);
    for _ in 0..400 {
        let mut f = base.clone();
        let i = 12 + (rng.next() as usize % (f.len() - 12));
        f[i] = rng.next() as u8;
        c.push(f);
    }
    c
}

fn steerings() -> Vec<Steering> {
    let mut v = Vec::new();
    for split in [0u16, 64, 128, 200, 256] {
        for role in [Role::Primary, Role::Secondary] {
            v.push(Steering {
                hba: Hba::from_split(split),
                lb_max_secs: 3,
                role: role.code(),
                state: FailoverState::NORMAL.get(),
                has_hba: 1,
                partner_has_free: 1,
                enforce: 1,
                _pad: 0,
            });
        }
    }
    let base = v[4];
    v.push(Steering { state: FailoverState::COMMUNICATIONS_INTERRUPTED.get(), ..base });
    v.push(Steering { state: FailoverState::PARTNER_DOWN.get(), ..base });
    v.push(Steering { lb_max_secs: 0, ..base });
    v.push(Steering { partner_has_free: 0, ..base });
    v.push(Steering { enforce: 0, ..base });
    v.push(Steering { has_hba: 0, ..base });
    v.push(Steering::STANDALONE);
    v
}

#[test]
fn xdp_and_userspace_decide_identically() -> Result<()> {
    if !require_root() {
        return Ok(());
    }
    let mut prog = XdpProgram::load(0)?;
    let corpus = corpus();
    let mut checked = 0;
    let mut drops = 0;
    for s in steerings() {
        prog.set_steering(&s)?;
        for f in &corpus {
            let before = prog.counters()?;
            let (ret, _) = prog.test_run(f, 1)?;
            let after = prog.counters()?;
            let want = action(&classify(&f[..]), &s);
            let want_ret = if want.drop { XDP_DROP } else { XDP_PASS };
            assert_eq!(ret, want_ret, "verdict differs for steering {s:?} frame {}", hex(f));
            let bumped: Vec<usize> = (0..after.0.len()).filter(|&i| after.0[i] != before.0[i]).collect();
            assert_eq!(bumped, vec![want.counter as usize], "counter differs for steering {s:?} frame {}", hex(f));
            checked += 1;
            drops += usize::from(want.drop);
        }
    }
    // The corpus must exercise both outcomes, or the comparison proves little.
    assert!(drops > 100 && drops < checked, "drops {drops} of {checked}");
    eprintln!("{checked} (steering, frame) pairs identical, {drops} drops");
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
