//! Classification of a raw Ethernet frame: is it a BOOTP/DHCP request to a server, and if so,
//! which message, what `secs`, and which load-balancing bucket.
//!
//! The same code runs in the XDP program (reading through packet pointers with a bounds check
//! per byte) and in userspace (reading a slice), so both sides classify identically. Every
//! loop has a constant bound; every offset is clamped below [`MAX_FRAME`].

use crate::hash::lb_hash_bounded;

/// Random access to the bytes of one frame. `None` means "beyond the end of the frame".
pub trait Bytes {
    fn load_u8(&self, off: usize) -> Option<u8>;

    /// Return `v` unchanged, but (in the XDP program) hide what is known about its range from
    /// the kernel verifier. The option loop passes its offset through this at every
    /// iteration so that all paths reaching the loop head look alike and the verifier can
    /// prune them; otherwise it explores each PAD/option interleaving separately.
    #[inline(always)]
    fn opaque(&self, v: usize) -> usize {
        v
    }

    #[inline(always)]
    fn load_u16_be(&self, off: usize) -> Option<u16> {
        let hi = self.load_u8(off)?;
        let lo = self.load_u8(off + 1)?;
        Some(u16::from_be_bytes([hi, lo]))
    }
}

impl Bytes for [u8] {
    #[inline(always)]
    fn load_u8(&self, off: usize) -> Option<u8> {
        self.get(off).copied()
    }
}

/// Frames longer than this are never inspected past this offset (jumbo DHCP does not exist;
/// the bound also gives the verifier a range for every offset).
pub const MAX_FRAME: usize = 4096;
/// Upper bound on option TLVs walked (PAD bytes count as one each).
pub const MAX_OPTION_ITERS: usize = 48;
/// Longest client identifier hashed by the classifier. Longer ones (legal up to 255 bytes,
/// seen in practice up to ~30) are [`Classified::LongClientId`]: passed, and userspace hashes
/// them in full. The bound keeps the verifier's unrolled hash loop short.
pub const MAX_CLASSIFIED_KEY: usize = 64;

pub const ETH_HLEN: usize = 14;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_8021Q: u16 = 0x8100;
const ETHERTYPE_8021AD: u16 = 0x88a8;
const IPPROTO_UDP: u8 = 17;
pub const DHCP_SERVER_PORT: u16 = 67;

/// BOOTP fixed header offsets (RFC 951 / RFC 2131 §2), relative to the start of the UDP payload.
pub mod bootp {
    pub const OP: usize = 0;
    pub const HTYPE: usize = 1;
    pub const HLEN: usize = 2;
    pub const SECS: usize = 8;
    pub const CHADDR: usize = 28;
    pub const MAGIC_COOKIE: usize = 236;
    pub const OPTIONS: usize = 240;
    pub const BOOTREQUEST: u8 = 1;
    pub const COOKIE: [u8; 4] = [99, 130, 83, 99];
}

/// DHCP option codes the classifier looks at.
pub mod opt {
    pub const PAD: u8 = 0;
    pub const OVERLOAD: u8 = 52;
    pub const MESSAGE_TYPE: u8 = 53;
    pub const CLIENT_ID: u8 = 61;
    pub const END: u8 = 255;
}

/// What a BOOTP request is, as far as load balancing cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsgKind {
    /// DHCPDISCOVER: load-balanced.
    Discover,
    /// A BOOTREQUEST without DHCP message type (dynamic BOOTP): load-balanced like DISCOVER.
    BootpRequest,
    /// Any other DHCP message type (REQUEST, RELEASE, INFORM, ...): never load-balanced.
    OtherDhcp(u8),
}

/// The parts of a request the load-balancing decision needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestView {
    pub kind: MsgKind,
    /// BOOTP `secs`, big-endian on the wire.
    pub secs: u16,
    /// RFC 3074 bucket of the client (option 61 payload, else chaddr[..hlen]).
    pub bucket: u8,
}

/// The result of looking at a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Classified {
    /// Not a BOOTP request to UDP port 67 over IPv4 (includes IP fragments: left to the stack).
    NotDhcp,
    /// Looks like a DHCP request but cannot be parsed within bounds (bad hlen, truncated,
    /// runaway options). Passed on; userspace counts and drops it.
    Malformed,
    /// Option overload (52) in use: options continue in sname/file, not parsed here.
    Overload,
    /// A client identifier longer than [`MAX_CLASSIFIED_KEY`]: left to userspace.
    LongClientId,
    /// A well-formed request.
    Request(RequestView),
}

/// Offset of the UDP payload if the frame is IPv4/UDP to port 67 (not fragmented), following
/// up to two VLAN tags (802.1ad outer, 802.1Q inner).
#[inline(always)]
fn udp_payload_offset<B: Bytes + ?Sized>(b: &B) -> Result<usize, Classified> {
    let mut off = ETH_HLEN;
    let mut ethertype = b.load_u16_be(12).ok_or(Classified::NotDhcp)?;
    // Two tags at most, unrolled, so `off` takes one of three constant values.
    if ethertype == ETHERTYPE_8021AD || ethertype == ETHERTYPE_8021Q {
        ethertype = b.load_u16_be(off + 2).ok_or(Classified::NotDhcp)?;
        off += 4;
        if ethertype == ETHERTYPE_8021Q {
            ethertype = b.load_u16_be(off + 2).ok_or(Classified::NotDhcp)?;
            off += 4;
        }
    }
    if ethertype != ETHERTYPE_IPV4 {
        return Err(Classified::NotDhcp);
    }
    let vihl = b.load_u8(off).ok_or(Classified::NotDhcp)?;
    if vihl >> 4 != 4 {
        return Err(Classified::NotDhcp);
    }
    let ihl = ((vihl & 0x0f) as usize) << 2;
    if ihl < 20 {
        return Err(Classified::NotDhcp);
    }
    if b.load_u8(off + 9).ok_or(Classified::NotDhcp)? != IPPROTO_UDP {
        return Err(Classified::NotDhcp);
    }
    // More-fragments flag or a non-zero fragment offset: the stack reassembles.
    let frag = b.load_u16_be(off + 6).ok_or(Classified::NotDhcp)?;
    if frag & 0x3fff != 0 {
        return Err(Classified::NotDhcp);
    }
    let udp = off + ihl;
    if b.load_u16_be(udp + 2).ok_or(Classified::NotDhcp)? != DHCP_SERVER_PORT {
        return Err(Classified::NotDhcp);
    }
    Ok(udp + 8)
}

/// Classify one Ethernet frame. Never panics; reads at most [`MAX_FRAME`] bytes.
#[inline(always)]
pub fn classify<B: Bytes + ?Sized>(b: &B) -> Classified {
    match classify_inner(b) {
        Ok(view) => Classified::Request(view),
        Err(c) => c,
    }
}

/// Classify a UDP payload received on port 67 (the userspace fallback: the kernel already
/// parsed Ethernet/IP/UDP). Same rules as [`classify`] from the BOOTP header on.
#[inline(always)]
pub fn classify_bootp<B: Bytes + ?Sized>(b: &B) -> Classified {
    match classify_from(b, 0) {
        Ok(view) => Classified::Request(view),
        Err(c) => c,
    }
}

#[inline(always)]
fn classify_inner<B: Bytes + ?Sized>(b: &B) -> Result<RequestView, Classified> {
    let base = udp_payload_offset(b)?;
    classify_from(b, base)
}

#[inline(always)]
fn classify_from<B: Bytes + ?Sized>(b: &B, base: usize) -> Result<RequestView, Classified> {
    // A BOOTREPLY to port 67 (relay-to-relay) is not ours to balance.
    let op = b.load_u8(base + bootp::OP).ok_or(Classified::NotDhcp)?;
    if op != bootp::BOOTREQUEST {
        return Err(Classified::NotDhcp);
    }
    let hlen = b.load_u8(base + bootp::HLEN).ok_or(Classified::Malformed)? as usize;
    if hlen > 16 {
        return Err(Classified::Malformed);
    }
    let secs = b.load_u16_be(base + bootp::SECS).ok_or(Classified::Malformed)?;
    // The fixed header and the cookie-sized start of the vendor area must be present, even
    // for plain BOOTP (RFC 951's vendor area is 64 bytes).
    b.load_u8(base + bootp::OPTIONS - 1).ok_or(Classified::Malformed)?;

    let chaddr_key = (base + bootp::CHADDR, hlen);

    let cookie_ok = match b.load_u8(base + bootp::MAGIC_COOKIE) {
        None => false,
        Some(c0) => {
            c0 == bootp::COOKIE[0]
                && b.load_u8(base + bootp::MAGIC_COOKIE + 1) == Some(bootp::COOKIE[1])
                && b.load_u8(base + bootp::MAGIC_COOKIE + 2) == Some(bootp::COOKIE[2])
                && b.load_u8(base + bootp::MAGIC_COOKIE + 3) == Some(bootp::COOKIE[3])
        }
    };
    if !cookie_ok {
        // RFC 951 BOOTP (vendor area without the DHCP cookie).
        return finish(b, MsgKind::BootpRequest, secs, chaddr_key);
    }

    let mut off = base + bootp::OPTIONS;
    let mut msg_type: Option<u8> = None;
    let mut client_id: Option<(usize, usize)> = None;
    let mut ended = false;
    for _ in 0..MAX_OPTION_ITERS {
        off = b.opaque(off);
        if off >= MAX_FRAME {
            break;
        }
        let code = match b.load_u8(off) {
            Some(c) => c,
            // Options ran to the end of the packet without END: accepted, as dhcpd does.
            None => {
                ended = true;
                break;
            }
        };
        if code == opt::END {
            ended = true;
            break;
        }
        if code == opt::PAD {
            off += 1;
            continue;
        }
        let len = b.load_u8(off + 1).ok_or(Classified::Malformed)? as usize;
        // The value must lie inside the packet.
        if len > 0 {
            b.load_u8(off + 1 + len).ok_or(Classified::Malformed)?;
        }
        match code {
            opt::OVERLOAD => return Err(Classified::Overload),
            opt::MESSAGE_TYPE => {
                if len != 1 || msg_type.is_some() {
                    return Err(Classified::Malformed);
                }
                msg_type = b.load_u8(off + 2);
            }
            opt::CLIENT_ID => {
                // dhcpd concatenates repeated options; rare enough to leave to userspace.
                if len == 0 || client_id.is_some() {
                    return Err(Classified::Malformed);
                }
                client_id = Some((off + 2, len));
            }
            _ => {}
        }
        off += 2 + len;
    }
    if !ended {
        return Err(Classified::Malformed);
    }
    let kind = match msg_type {
        Some(1) => MsgKind::Discover,
        Some(t) => MsgKind::OtherDhcp(t),
        None => MsgKind::BootpRequest,
    };
    finish(b, kind, secs, client_id.unwrap_or(chaddr_key))
}

/// Hash the key and build the view. One call site for the hash keeps the verifier's work
/// (it walks the bounded hash loop once per distinct path reaching it) small.
#[inline(always)]
fn finish<B: Bytes + ?Sized>(
    b: &B,
    kind: MsgKind,
    secs: u16,
    (key_off, key_len): (usize, usize),
) -> Result<RequestView, Classified> {
    if key_len > MAX_CLASSIFIED_KEY {
        return Err(Classified::LongClientId);
    }
    let bucket = lb_hash_bounded::<B, MAX_CLASSIFIED_KEY>(b, key_off, key_len).ok_or(Classified::Malformed)?;
    Ok(RequestView { kind, secs, bucket })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// Build an Ethernet/IPv4/UDP/BOOTP frame with the given DHCP options (without END).
    pub(crate) fn frame(chaddr: [u8; 6], secs: u16, options: &[u8], vlans: usize) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&[0xff; 6]);
        f.extend_from_slice(&chaddr);
        for i in 0..vlans {
            f.extend_from_slice(if i == 0 && vlans == 2 { &[0x88, 0xa8] } else { &[0x81, 0x00] });
            f.extend_from_slice(&[0x00, 0x0a]);
        }
        f.extend_from_slice(&[0x08, 0x00]);
        let mut bootp = std::vec![0u8; 240];
        bootp[0] = 1;
        bootp[1] = 1;
        bootp[2] = 6;
        bootp[8..10].copy_from_slice(&secs.to_be_bytes());
        bootp[28..34].copy_from_slice(&chaddr);
        bootp[236..240].copy_from_slice(&bootp::COOKIE);
        bootp.extend_from_slice(options);
        bootp.push(255);
        let udp_len = (8 + bootp.len()) as u16;
        let mut ip = std::vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255];
        ip[2..4].copy_from_slice(&(20 + udp_len).to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&68u16.to_be_bytes());
        f.extend_from_slice(&67u16.to_be_bytes());
        f.extend_from_slice(&udp_len.to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(&bootp);
        f
    }

    const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xaa, 0xbb, 0x10];

    #[test]
    fn discover_with_client_id_hashes_option_61() {
        let f = frame(MAC, 0, &[53, 1, 1, 61, 7, 1, 0x52, 0x54, 0, 0xaa, 0xbb, 0x10], 0);
        assert_eq!(classify(&f[..]), Classified::Request(RequestView { kind: MsgKind::Discover, secs: 0, bucket: 51 }));
    }

    #[test]
    fn discover_without_client_id_hashes_chaddr() {
        let f = frame(MAC, 7, &[53, 1, 1], 0);
        assert_eq!(
            classify(&f[..]),
            Classified::Request(RequestView { kind: MsgKind::Discover, secs: 7, bucket: 213 })
        );
    }

    #[test]
    fn vlan_tags_are_followed() {
        for vlans in 0..=2 {
            let f = frame(MAC, 0, &[53, 1, 3], vlans);
            assert_eq!(
                classify(&f[..]),
                Classified::Request(RequestView { kind: MsgKind::OtherDhcp(3), secs: 0, bucket: 213 }),
                "{vlans} tags"
            );
        }
    }

    #[test]
    fn payload_and_frame_classify_alike() {
        let f = frame(MAC, 4, &[53, 1, 1, 61, 7, 1, 0x52, 0x54, 0, 0xaa, 0xbb, 0x10], 0);
        assert_eq!(classify(&f[..]), classify_bootp(&f[14 + 20 + 8..]));
    }

    #[test]
    fn overload_is_reported() {
        let f = frame(MAC, 0, &[53, 1, 1, 52, 1, 3], 0);
        assert_eq!(classify(&f[..]), Classified::Overload);
    }

    #[test]
    fn bad_hlen_is_malformed() {
        let mut f = frame(MAC, 0, &[53, 1, 1], 0);
        f[14 + 20 + 8 + 2] = 17;
        assert_eq!(classify(&f[..]), Classified::Malformed);
    }

    #[test]
    fn every_truncation_is_handled() {
        let f = frame(MAC, 0, &[53, 1, 1, 61, 7, 1, 0x52, 0x54, 0, 0xaa, 0xbb, 0x10], 1);
        for n in 0..f.len() {
            // Must not panic; anything cut before the options cannot be a Request.
            let c = classify(&f[..n]);
            if n < 14 + 4 + 20 + 8 + 240 {
                assert!(!matches!(c, Classified::Request(_)), "len {n}: {c:?}");
            }
        }
    }

    #[test]
    fn non_dhcp_traffic() {
        let mut f = frame(MAC, 0, &[53, 1, 1], 0);
        f[14 + 20 + 3] = 53; // UDP dst port 53
        assert_eq!(classify(&f[..]), Classified::NotDhcp);
        let mut g = frame(MAC, 0, &[53, 1, 1], 0);
        g[14 + 6] = 0x20; // more fragments
        assert_eq!(classify(&g[..]), Classified::NotDhcp);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..700)) {
            let _ = classify(&data[..]);
        }

        #[test]
        fn mutated_frames_never_panic(idx in 0usize..300, val in proptest::num::u8::ANY) {
            let mut f = frame(MAC, 0, &[53, 1, 1, 61, 7, 1, 0x52, 0x54, 0, 0xaa, 0xbb, 0x10], 0);
            let i = idx % f.len();
            f[i] = val;
            let _ = classify(&f[..]);
        }
    }
}
