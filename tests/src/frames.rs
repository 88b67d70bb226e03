//! Raw Ethernet frames for feeding the XDP program, and an AF_PACKET sender.

use anyhow::{Result, bail};

pub const BROADCAST: [u8; 6] = [0xff; 6];

/// Options of a DHCP request, without the END option.
pub fn discover_options(client_id: Option<&[u8]>) -> Vec<u8> {
    let mut o = vec![53, 1, 1];
    if let Some(id) = client_id {
        o.push(61);
        o.push(id.len() as u8);
        o.extend_from_slice(id);
    }
    o.extend_from_slice(&[55, 3, 1, 3, 6]);
    o
}

/// An Ethernet/IPv4/UDP/BOOTP request from `chaddr` (0.0.0.0:68 → 255.255.255.255:67) with
/// DHCP `options` (END appended). `vlans` 802.1Q/802.1ad tags are inserted.
pub fn bootp_request(chaddr: [u8; 6], secs: u16, options: &[u8], vlans: usize) -> Vec<u8> {
    let mut bootp = vec![0u8; 240];
    bootp[0] = 1;
    bootp[1] = 1;
    bootp[2] = 6;
    bootp[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    bootp[8..10].copy_from_slice(&secs.to_be_bytes());
    bootp[10] = 0x80;
    bootp[28..34].copy_from_slice(&chaddr);
    bootp[236..240].copy_from_slice(&[99, 130, 83, 99]);
    bootp.extend_from_slice(options);
    bootp.push(255);
    udp_frame(chaddr, [0, 0, 0, 0], [255, 255, 255, 255], 68, 67, &bootp, vlans)
}

/// An Ethernet/IPv4/UDP frame with a correct IPv4 header checksum (UDP checksum 0).
pub fn udp_frame(
    src_mac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    payload: &[u8],
    vlans: usize,
) -> Vec<u8> {
    let mut f = Vec::with_capacity(64 + payload.len());
    f.extend_from_slice(&BROADCAST);
    f.extend_from_slice(&src_mac);
    for i in 0..vlans {
        f.extend_from_slice(if i == 0 && vlans == 2 { &[0x88, 0xa8] } else { &[0x81, 0x00] });
        f.extend_from_slice(&[0x00, 0x0a]);
    }
    f.extend_from_slice(&[0x08, 0x00]);
    let udp_len = (8 + payload.len()) as u16;
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(20 + udp_len).to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&src);
    ip[16..20].copy_from_slice(&dst);
    let csum = ipv4_checksum(&ip);
    ip[10..12].copy_from_slice(&csum.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&udp_len.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h.chunks(2).map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An AF_PACKET socket bound for sending on one interface; closed on drop.
pub struct RawSender {
    fd: i32,
    addr: libc::sockaddr_ll,
}

impl RawSender {
    /// Open on `iface` (call from inside the namespace, see `netns::in_netns`).
    pub fn open(iface: &str) -> Result<RawSender> {
        let cname = std::ffi::CString::new(iface)?;
        // SAFETY: plain libc calls with valid arguments.
        unsafe {
            let ifindex = libc::if_nametoindex(cname.as_ptr());
            if ifindex == 0 {
                bail!("no interface {iface}");
            }
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, (libc::ETH_P_ALL as u16).to_be() as i32);
            if fd < 0 {
                bail!("socket(AF_PACKET): {}", std::io::Error::last_os_error());
            }
            let mut addr: libc::sockaddr_ll = std::mem::zeroed();
            addr.sll_family = libc::AF_PACKET as u16;
            addr.sll_ifindex = ifindex as i32;
            addr.sll_halen = 6;
            Ok(RawSender { fd, addr })
        }
    }

    pub fn send(&self, frame: &[u8]) -> Result<()> {
        // SAFETY: valid fd, buffer and address for the duration of the call.
        let n = unsafe {
            libc::sendto(
                self.fd,
                frame.as_ptr() as *const libc::c_void,
                frame.len(),
                0,
                &self.addr as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if n < 0 {
            bail!("sendto: {}", std::io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for RawSender {
    fn drop(&mut self) {
        // SAFETY: our own fd, closed once.
        unsafe { libc::close(self.fd) };
    }
}

/// Send frames out of `iface` with an AF_PACKET socket (call from inside the namespace, see
/// `netns::in_netns`). Returns how many were sent.
pub fn send_raw(iface: &str, frames: &[Vec<u8>]) -> Result<usize> {
    let tx = RawSender::open(iface)?;
    for f in frames {
        tx.send(f)?;
    }
    Ok(frames.len())
}

/// What [`flood`] did.
#[derive(Clone, Copy, Debug)]
pub struct FloodResult {
    pub sent: u64,
    pub wall: std::time::Duration,
    /// CPU time of the sending thread. On a veth the receiving side's kernel work (XDP, or
    /// the IP/UDP stack up to the socket queue) runs in the sender's context, so it is
    /// included here: per frame it is a cost measure that other load on the machine does
    /// not inflate the way wall time is.
    pub sender_cpu: std::time::Duration,
}

fn thread_cpu() -> std::time::Duration {
    // SAFETY: clock_gettime with a valid clock id and out-parameter.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Send `frames` round-robin as fast as one thread can, until `max_frames` are sent or
/// `max_time` has passed (both bounds always apply). A failed send is not counted.
pub fn flood(iface: &str, frames: &[Vec<u8>], max_frames: u64, max_time: std::time::Duration) -> Result<FloodResult> {
    let tx = RawSender::open(iface)?;
    let start = std::time::Instant::now();
    let cpu0 = thread_cpu();
    let mut sent = 0u64;
    let mut attempts = 0u64;
    'outer: while sent < max_frames {
        for f in frames {
            if sent >= max_frames {
                break 'outer;
            }
            // Check the clock every 256 attempts (failed sends included): cheap, and still
            // a tight time bound.
            if attempts.is_multiple_of(256) && start.elapsed() >= max_time {
                break 'outer;
            }
            attempts += 1;
            if tx.send(f).is_ok() {
                sent += 1;
            }
        }
        if frames.is_empty() {
            break;
        }
    }
    Ok(FloodResult { sent, wall: start.elapsed(), sender_cpu: thread_cpu().saturating_sub(cpu0) })
}
