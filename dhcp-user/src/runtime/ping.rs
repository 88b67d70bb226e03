//! dhcpd's `ping-check`, off the request path. An OFFER whose address must first be found
//! silent ([`Probe`]) waits here, not in a worker: one thread owns a raw ICMP socket, sends
//! an echo to the address, holds the OFFER for `ping-timeout`, then sends it; if the address
//! answers first, the engine abandons it and the OFFER is dropped (the client's next
//! DISCOVER is offered another address), as dhcpd's lease_pinged does. A held OFFER is
//! counted as sent only when it goes (`out` in the status); meanwhile it is in the
//! `awaiting_ping` gauge, and one never sent is counted as `dropped{address_answered_ping}`.

use super::Sender;
use super::journal::JournalHandle;
use crate::dhcp::{DropReason, Engine, Probe, Reply};
use crate::stats::Stats;
use anyhow::{Context, Result};
use crossbeam::channel::{self, RecvTimeoutError};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::mem::MaybeUninit;
use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An OFFER held until its probe ends.
struct Pending {
    probe: Probe,
    reply: Reply,
    ifindex: u32,
    deadline: Instant,
}

/// Hands OFFERs to the ping thread. Cloned into each worker; the thread ends when every
/// clone is dropped and nothing is pending.
#[derive(Clone)]
pub struct Pinger {
    tx: channel::Sender<(Probe, Reply, u32)>,
}

impl Pinger {
    /// Open the ICMP socket (needs CAP_NET_RAW, as dhcpd's does) and start the thread.
    pub fn spawn(
        engine: Arc<Engine>,
        sender: Arc<Sender>,
        journal: JournalHandle,
        stats: Arc<Stats>,
    ) -> Result<Pinger> {
        let sock = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))
            .context("opening the ICMP socket for ping-check (needs CAP_NET_RAW)")?;
        sock.set_read_timeout(Some(Duration::from_millis(20))).context("ICMP socket timeout")?;
        let (tx, rx) = channel::unbounded::<(Probe, Reply, u32)>();
        std::thread::Builder::new()
            .name("ping-check".into())
            .spawn(move || run(sock, rx, &engine, &sender, &journal, &stats))
            .context("starting the ping-check thread")?;
        Ok(Pinger { tx })
    }

    /// Hold `reply` until `probe` finds its address silent.
    pub fn submit(&self, probe: Probe, reply: Reply, ifindex: u32) {
        let _ = self.tx.send((probe, reply, ifindex));
    }
}

fn run(
    sock: Socket,
    rx: channel::Receiver<(Probe, Reply, u32)>,
    engine: &Engine,
    sender: &Sender,
    journal: &JournalHandle,
    stats: &Stats,
) {
    let mut pending: Vec<Pending> = Vec::new();
    let mut seq: u16 = 0;
    let mut buf = [MaybeUninit::<u8>::uninit(); 1500];
    loop {
        // New probes: block only while nothing is pending.
        let first = if pending.is_empty() {
            match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(p) => Some(p),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        } else {
            None
        };
        for (probe, reply, ifindex) in first.into_iter().chain(rx.try_iter()) {
            seq = seq.wrapping_add(1);
            if let Err(e) = sock.send_to(&echo_request(seq), &SockAddr::from(SocketAddrV4::new(probe.ip, 0))) {
                // No echo could be sent: nothing can answer it, so the OFFER waits its time
                // and goes out, as dhcpd's does when its sendto fails.
                tracing::warn!(ip = %probe.ip, "ping-check: sending the ICMP echo: {e}");
            }
            let deadline = Instant::now() + Duration::from_millis(u64::from(probe.timeout_ms));
            stats.awaiting_ping(true);
            pending.push(Pending { probe, reply, ifindex, deadline });
        }
        // Echo replies (the socket's timeout bounds the wait).
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            // SAFETY: recv_from initialised the first `n` bytes.
            let got: Vec<u8> = buf[..n].iter().map(|b| unsafe { b.assume_init() }).collect();
            if let (Some(src), true) = (from.as_socket_ipv4().map(|a| *a.ip()), is_echo_reply(&got))
                && let Some(i) = pending.iter().position(|p| p.probe.ip == src)
            {
                let p = pending.swap_remove(i);
                stats.awaiting_ping(false);
                stats.dropped(DropReason::AddressAnsweredPing);
                if let Some(lease) = engine.probe_answered(&p.probe, super::now()) {
                    journal.commit(vec![lease], None);
                }
            }
        }
        // Probes that heard nothing: their OFFERs go out.
        let now = Instant::now();
        let (due, wait): (Vec<Pending>, Vec<Pending>) = pending.drain(..).partition(|p| p.deadline <= now);
        pending = wait;
        for p in due {
            stats.awaiting_ping(false);
            sender.send(&p.reply, p.ifindex);
        }
    }
}

/// An ICMP echo request (RFC 792): type 8, code 0, checksum, identifier, sequence, and
/// eight bytes of zero data.
fn echo_request(seq: u16) -> Vec<u8> {
    let mut m = vec![8, 0, 0, 0];
    m.extend_from_slice(&(std::process::id() as u16).to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(&[0; 8]);
    let sum = checksum(&m);
    m[2..4].copy_from_slice(&sum.to_be_bytes());
    m
}

/// The Internet checksum (RFC 1071).
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A raw IPv4 socket delivers the IP header too: an echo reply is ICMP type 0 after it.
fn is_echo_reply(packet: &[u8]) -> bool {
    let ihl = usize::from(packet.first().map_or(0, |b| b & 0x0f)) * 4;
    ihl >= 20 && packet.get(ihl) == Some(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_requests_carry_a_valid_checksum() {
        let m = echo_request(7);
        assert_eq!(m[0], 8);
        // A packet with its checksum in place sums to zero.
        assert_eq!(checksum(&m), 0);
    }

    #[test]
    fn only_echo_replies_count() {
        let mut ip = vec![0x45u8];
        ip.resize(20, 0);
        let reply = [ip.clone(), vec![0, 0, 0, 0]].concat();
        let unreachable = [ip, vec![3, 1, 0, 0]].concat();
        assert!(is_echo_reply(&reply));
        assert!(!is_echo_reply(&unreachable));
        assert!(!is_echo_reply(&[0x41]));
    }
}
