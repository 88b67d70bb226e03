//! The DHCP server socket: one UDP socket on 0.0.0.0:67 for all interfaces, with IP_PKTINFO
//! telling which interface a request came in on and choosing the interface a reply leaves by.
//! Replies to clients without an address are delivered by adding an ARP entry for
//! (yiaddr → chaddr) first, as RFC 2131 §4.1 asks, falling back to broadcast.

use anyhow::{Context, Result, bail};
use std::mem::{size_of, zeroed};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub const SERVER_PORT: u16 = 67;
pub const CLIENT_PORT: u16 = 68;

/// A received datagram.
pub struct Received {
    pub len: usize,
    pub src: Ipv4Addr,
    pub src_port: u16,
    /// Destination address (255.255.255.255 for broadcasts).
    pub dst: Ipv4Addr,
    pub ifindex: u32,
}

/// The receive buffer asked for: ~25,000 queued requests at a veth frame's memory cost, a few
/// seconds of a power restoration's burst. Memory is charged only while requests wait.
const RECEIVE_BUFFER: libc::c_int = 32 << 20;

pub struct DhcpSocket {
    fd: OwnedFd,
}

fn check(rc: libc::c_int, what: &str) -> Result<()> {
    if rc < 0 {
        bail!("{what}: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

impl DhcpSocket {
    /// Bind 0.0.0.0:`port` (67 in production; tests may use another).
    pub fn bind(port: u16) -> Result<DhcpSocket> {
        // SAFETY: plain socket calls; the fd is owned by OwnedFd right after creation.
        unsafe {
            let raw = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
            check(raw, "socket")?;
            let fd = OwnedFd::from_raw_fd(raw);
            let one: libc::c_int = 1;
            for (level, opt, name) in [
                (libc::SOL_SOCKET, libc::SO_REUSEADDR, "SO_REUSEADDR"),
                (libc::SOL_SOCKET, libc::SO_BROADCAST, "SO_BROADCAST"),
                (libc::IPPROTO_IP, libc::IP_PKTINFO, "IP_PKTINFO"),
            ] {
                check(
                    libc::setsockopt(
                        raw,
                        level,
                        opt,
                        &one as *const _ as *const libc::c_void,
                        size_of::<libc::c_int>() as u32,
                    ),
                    name,
                )?;
            }
            // Larger buffers absorb bursts (a campus power-up) instead of dropping: a dropped
            // DISCOVER costs its client a retransmission timer that doubles each time. As
            // root, past net.core.rmem_max (SO_RCVBUFFORCE); otherwise as far as it allows.
            let buf: libc::c_int = RECEIVE_BUFFER;
            let forced = libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                &buf as *const _ as *const libc::c_void,
                4,
            );
            if forced != 0 {
                libc::setsockopt(raw, libc::SOL_SOCKET, libc::SO_RCVBUF, &buf as *const _ as *const libc::c_void, 4);
            }
            let mut addr: libc::sockaddr_in = zeroed();
            addr.sin_family = libc::AF_INET as u16;
            addr.sin_port = port.to_be();
            check(
                libc::bind(raw, &addr as *const _ as *const libc::sockaddr, size_of::<libc::sockaddr_in>() as u32),
                &format!("bind 0.0.0.0:{port} (another DHCP server running?)"),
            )?;
            Ok(DhcpSocket { fd })
        }
    }

    /// Set a receive timeout so worker threads can notice shutdown.
    pub fn set_read_timeout(&self, ms: u64) -> Result<()> {
        let tv = libc::timeval { tv_sec: (ms / 1000) as i64, tv_usec: ((ms % 1000) * 1000) as i64 };
        // SAFETY: valid fd and option value.
        check(
            unsafe {
                libc::setsockopt(
                    self.fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVTIMEO,
                    &tv as *const _ as *const libc::c_void,
                    size_of::<libc::timeval>() as u32,
                )
            },
            "SO_RCVTIMEO",
        )
    }

    /// Receive one datagram into `buf`. `Ok(None)` on timeout.
    pub fn recv(&self, buf: &mut [u8]) -> Result<Option<Received>> {
        self.recv_flags(buf, 0)
    }

    /// Receive without blocking: `Ok(None)` when nothing is queued.
    pub fn try_recv(&self, buf: &mut [u8]) -> Result<Option<Received>> {
        self.recv_flags(buf, libc::MSG_DONTWAIT)
    }

    fn recv_flags(&self, buf: &mut [u8], flags: libc::c_int) -> Result<Option<Received>> {
        // SAFETY: msghdr points at live stack buffers for the duration of the call.
        unsafe {
            let mut src: libc::sockaddr_in = zeroed();
            let mut iov = libc::iovec { iov_base: buf.as_mut_ptr() as *mut libc::c_void, iov_len: buf.len() };
            let mut cmsg = [0u64; 16];
            let mut msg: libc::msghdr = zeroed();
            msg.msg_name = &mut src as *mut _ as *mut libc::c_void;
            msg.msg_namelen = size_of::<libc::sockaddr_in>() as u32;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = cmsg.as_mut_ptr() as *mut libc::c_void;
            msg.msg_controllen = size_of::<[u64; 16]>();
            let n = libc::recvmsg(self.fd.as_raw_fd(), &mut msg, flags);
            if n < 0 {
                let e = std::io::Error::last_os_error();
                return match e.kind() {
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted => {
                        Ok(None)
                    }
                    _ => Err(e.into()),
                };
            }
            let mut dst = Ipv4Addr::UNSPECIFIED;
            let mut ifindex = 0;
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::IPPROTO_IP && (*c).cmsg_type == libc::IP_PKTINFO {
                    let info = &*(libc::CMSG_DATA(c) as *const libc::in_pktinfo);
                    ifindex = info.ipi_ifindex as u32;
                    dst = Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr));
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
            Ok(Some(Received {
                len: n as usize,
                src: Ipv4Addr::from(u32::from_be(src.sin_addr.s_addr)),
                src_port: u16::from_be(src.sin_port),
                dst,
                ifindex,
            }))
        }
    }

    /// Send `data` to `dst:port`, leaving by interface `ifindex` (0: by routing).
    pub fn send(&self, data: &[u8], dst: Ipv4Addr, port: u16, ifindex: u32) -> Result<()> {
        // SAFETY: msghdr points at live stack buffers for the duration of the call.
        unsafe {
            let mut addr: libc::sockaddr_in = zeroed();
            addr.sin_family = libc::AF_INET as u16;
            addr.sin_port = port.to_be();
            addr.sin_addr.s_addr = u32::from(dst).to_be();
            let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut libc::c_void, iov_len: data.len() };
            let mut cmsg = [0u64; 8];
            let mut msg: libc::msghdr = zeroed();
            msg.msg_name = &mut addr as *mut _ as *mut libc::c_void;
            msg.msg_namelen = size_of::<libc::sockaddr_in>() as u32;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            if ifindex != 0 {
                msg.msg_control = cmsg.as_mut_ptr() as *mut libc::c_void;
                msg.msg_controllen = libc::CMSG_SPACE(size_of::<libc::in_pktinfo>() as u32) as usize;
                let c = libc::CMSG_FIRSTHDR(&msg);
                (*c).cmsg_level = libc::IPPROTO_IP;
                (*c).cmsg_type = libc::IP_PKTINFO;
                (*c).cmsg_len = libc::CMSG_LEN(size_of::<libc::in_pktinfo>() as u32) as usize;
                let info = libc::CMSG_DATA(c) as *mut libc::in_pktinfo;
                (*info).ipi_ifindex = ifindex as i32;
            }
            let n = libc::sendmsg(self.fd.as_raw_fd(), &msg, 0);
            if n < 0 {
                bail!("sendmsg to {dst}:{port}: {}", std::io::Error::last_os_error());
            }
            Ok(())
        }
    }

    /// Install a neighbour entry so a unicast reply reaches a client that has no address yet.
    pub fn set_arp(&self, iface: &str, ip: Ipv4Addr, mac: [u8; 6]) -> Result<()> {
        // SAFETY: arpreq is fully initialised; ioctl on our own socket.
        unsafe {
            let mut req: libc::arpreq = zeroed();
            let pa = &mut req.arp_pa as *mut libc::sockaddr as *mut libc::sockaddr_in;
            (*pa).sin_family = libc::AF_INET as u16;
            (*pa).sin_addr.s_addr = u32::from(ip).to_be();
            req.arp_ha.sa_family = libc::ARPHRD_ETHER;
            for (i, b) in mac.iter().enumerate() {
                req.arp_ha.sa_data[i] = *b as libc::c_char;
            }
            req.arp_flags = libc::ATF_COM;
            for (i, b) in iface.bytes().take(15).enumerate() {
                req.arp_dev[i] = b as libc::c_char;
            }
            check(libc::ioctl(self.fd.as_raw_fd(), libc::SIOCSARP, &req), "SIOCSARP").context("adding ARP entry")
        }
    }
}

/// IPv4 interfaces: (name, index, first address, is broadcast-capable).
pub fn interfaces() -> Result<Vec<(String, u32, Ipv4Addr, bool)>> {
    let mut out = Vec::new();
    // SAFETY: getifaddrs list is walked and freed here.
    unsafe {
        let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
        check(libc::getifaddrs(&mut ifap), "getifaddrs")?;
        let mut p = ifap;
        while !p.is_null() {
            let ifa = &*p;
            if !ifa.ifa_addr.is_null() && (*ifa.ifa_addr).sa_family as i32 == libc::AF_INET {
                let name = std::ffi::CStr::from_ptr(ifa.ifa_name).to_string_lossy().into_owned();
                let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                let idx = libc::if_nametoindex(ifa.ifa_name);
                let bcast =
                    ifa.ifa_flags & libc::IFF_BROADCAST as u32 != 0 && ifa.ifa_flags & libc::IFF_LOOPBACK as u32 == 0;
                if !out.iter().any(|(n, ..): &(String, u32, Ipv4Addr, bool)| n == &name) {
                    out.push((name, idx, ip, bcast));
                }
            }
            p = ifa.ifa_next;
        }
        libc::freeifaddrs(ifap);
    }
    Ok(out)
}
