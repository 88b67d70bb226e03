//! A minimal DHCP relay agent (RFC 1542) for tests, so that real clients (udhcpc) can reach
//! servers on another subnet: it runs on a thread inside its own namespace, forwards every
//! client request to each server with its giaddr (hops + 1), and broadcasts every server reply
//! on the client link. Stopped and its namespace removed on drop.
//!
//! Topology: the relay namespace has `rly-up` on the servers' link (enslaved to a bridge of
//! another namespace) and `rly-down` facing the clients, whose other end stays in that other
//! namespace (e.g. a [`crate::pair::PairLab`]'s client namespace, where udhcpc runs on it).

use crate::netns::{self, Netns};
use anyhow::{Context, Result, bail};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// The relay's interface on the client link (`up`, a keyword of `ip link`, cannot name one).
const DOWN: &str = "rly-down";

pub struct Relay {
    pub ns: Netns,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl Relay {
    /// A relay at `giaddr/prefix` on the client link `client_if` (created in `clients`, up,
    /// no address), reaching `servers` through the bridge `bridge` of `clients`.
    pub fn start(
        clients: &Netns,
        bridge: &str,
        client_if: &str,
        giaddr: Ipv4Addr,
        prefix: u8,
        servers: Vec<Ipv4Addr>,
    ) -> Result<Relay> {
        let ns = Netns::new("rl")?;
        let (up, up_peer) = ("rly-up", netns::unique("ru"));
        netns::veth(&ns, up, None, clients, &up_peer, None)?;
        clients.exec(&["ip", "link", "set", &up_peer, "master", bridge])?;
        netns::veth(&ns, DOWN, Some(&format!("{giaddr}/{prefix}")), clients, client_if, None)?;
        // The servers are reached on the bridge; they answer to giaddr, which this namespace
        // owns (and answers ARP for on `rly-up` too).
        ns.exec(&["ip", "route", "add", "198.18.0.0/15", "dev", up])?;
        let stop = Arc::new(AtomicBool::new(false));
        let path = format!("/var/run/netns/{}", ns.name);
        let flag = stop.clone();
        let thread = std::thread::spawn(move || -> Result<()> {
            let file = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
            // SAFETY: valid fd of a network namespace file; affects only this thread.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                bail!("setns({path}): {}", std::io::Error::last_os_error());
            }
            serve(&flag, giaddr, &servers)
        });
        Ok(Relay { ns, stop, thread: Some(thread) })
    }
}

/// The relay loop: requests (op 1) to the servers, replies (op 2) to the client link.
fn serve(stop: &AtomicBool, giaddr: Ipv4Addr, servers: &[Ipv4Addr]) -> Result<()> {
    // Bound to any address: it receives the clients' broadcasts and the servers' replies.
    let sock = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 67)).context("relay port 67")?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    // Replies leave on the client link, broadcast (the client has no address yet).
    let down = UdpSocket::bind(SocketAddrV4::new(giaddr, 0))?;
    down.set_broadcast(true)?;
    bind_to_device(&down, DOWN)?;
    let mut buf = vec![0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, _)) = sock.recv_from(&mut buf) else { continue };
        let Some(msg) = buf.get_mut(..n).filter(|m| m.len() >= 240) else { continue };
        match msg[0] {
            1 => {
                if msg[24..28] == [0, 0, 0, 0] {
                    msg[24..28].copy_from_slice(&giaddr.octets());
                }
                msg[3] = msg[3].saturating_add(1);
                for s in servers {
                    sock.send_to(msg, SocketAddrV4::new(*s, 67))?;
                }
            }
            2 => {
                down.send_to(msg, SocketAddrV4::new(Ipv4Addr::BROADCAST, 68))?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn bind_to_device(sock: &UdpSocket, ifname: &str) -> Result<()> {
    // SAFETY: valid fd and a buffer of the given length.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            ifname.as_ptr() as *const libc::c_void,
            ifname.len() as libc::socklen_t,
        )
    };
    if rc != 0 {
        bail!("SO_BINDTODEVICE {ifname}: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // A relay that failed shows as clients without an answer: say why.
        if let Some(t) = self.thread.take()
            && let Ok(Err(e)) = t.join()
        {
            eprintln!("relay in {}: {e:#}", self.ns.name);
        }
    }
}
