//! Steering what XDP passes, measured: how SO_REUSEPORT spreads DHCP requests over worker
//! sockets (the alternative to the current one shared socket drained by every worker).
//!
//! In namespaces this program creates (198.18.0.0/24 on a veth pair), `SOCKETS` UDP sockets
//! with SO_REUSEPORT are bound to 0.0.0.0:67 in the server namespace, and the client
//! namespace sends `PER_CASE` requests of each kind:
//! - broadcast DISCOVERs from on-link clients (255.255.255.255:67, raw frames),
//! - unicast from one relay agent (198.18.0.2:67 → 198.18.0.1:67, as every relayed request),
//! - unicast from many clients (one source port each, as renewals from distinct addresses).
//!
//! It prints how many datagrams each socket received. Bounded: `PER_CASE` datagrams per case.

use anyhow::{Context, Result};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::Duration;
use xdhcpd_tests::{frames, netns};

const SOCKETS: usize = 2;
const PER_CASE: usize = 1000;

fn reuseport_sockets(n: usize) -> Result<Vec<Socket>> {
    (0..n)
        .map(|_| {
            let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
            s.set_reuse_port(true)?;
            s.set_broadcast(true)?;
            s.set_recv_buffer_size(4 << 20)?;
            s.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 67).into())?;
            s.set_nonblocking(true)?;
            Ok(s)
        })
        .collect()
}

/// Datagrams waiting on each socket (drained).
fn drain(socks: &[Socket]) -> Vec<usize> {
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 2048];
    socks
        .iter()
        .map(|s| {
            let mut n = 0;
            while s.recv(&mut buf).is_ok() {
                n += 1;
            }
            n
        })
        .collect()
}

fn main() -> Result<()> {
    let srv = netns::Netns::new("ss")?;
    let cli = netns::Netns::new("sc")?;
    let (srv_if, cli_if) = (netns::unique("ssv"), netns::unique("scv"));
    netns::veth(&srv, &srv_if, Some("198.18.0.1/24"), &cli, &cli_if, Some("198.18.0.2/24"))?;

    // The receiving sockets live on a thread inside the server namespace for the whole run.
    let (to_srv, cmds) = std::sync::mpsc::channel::<()>();
    let (to_main, counts) = std::sync::mpsc::channel::<Vec<usize>>();
    let srv_name = srv.name.clone();
    let receiver = std::thread::spawn(move || {
        netns::in_netns(&srv_name, move || {
            let socks = reuseport_sockets(SOCKETS)?;
            to_main.send(Vec::new()).ok();
            while cmds.recv().is_ok() {
                std::thread::sleep(Duration::from_millis(300));
                to_main.send(drain(&socks)).ok();
            }
            Ok(())
        })
    });
    counts.recv_timeout(Duration::from_secs(5)).context("receiver not ready")?;

    let mut rows = Vec::new();
    let mut measure = |case: &str, send: Box<dyn FnOnce() -> Result<usize> + Send>| -> Result<()> {
        let sent = netns::in_netns(&cli.name, send)?;
        to_srv.send(()).ok();
        let got = counts.recv_timeout(Duration::from_secs(5)).context("no counts")?;
        println!("{case}: sent {sent}, per socket {got:?}");
        rows.push((case.to_string(), sent, got));
        Ok(())
    };

    let iface = cli_if.clone();
    measure(
        "broadcast DISCOVERs (on-link clients)",
        Box::new(move || {
            let batch: Vec<Vec<u8>> = (0..PER_CASE)
                .map(|i| {
                    let mac = [0x52, 0x54, 0, 0x77, (i >> 8) as u8, i as u8];
                    frames::bootp_request(mac, 0, &frames::discover_options(None), 0)
                })
                .collect();
            frames::send_raw(&iface, &batch)
        }),
    )?;
    let payload = frames::bootp_request([0x52, 0x54, 0, 0x77, 0, 1], 0, &frames::discover_options(None), 0);
    let bootp: Vec<u8> = payload.get(14 + 20 + 8..).unwrap_or_default().to_vec();
    let server = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), 67);
    let b = bootp.clone();
    measure(
        "unicast from one relay (giaddr:67)",
        Box::new(move || {
            let s = UdpSocket::bind((Ipv4Addr::new(198, 18, 0, 2), 67))?;
            for _ in 0..PER_CASE {
                s.send_to(&b, server)?;
            }
            Ok(PER_CASE)
        }),
    )?;
    let b = bootp;
    measure(
        "unicast from many clients (renewals)",
        Box::new(move || {
            for _ in 0..PER_CASE {
                UdpSocket::bind((Ipv4Addr::new(198, 18, 0, 2), 0))?.send_to(&b, server)?;
            }
            Ok(PER_CASE)
        }),
    )?;
    drop(to_srv);
    let _ = receiver.join();

    println!(
        "\n| {SOCKETS} SO_REUSEPORT sockets on :67 | sent | received per socket | datagrams handled per request |"
    );
    println!("|---|---|---|---|");
    for (case, sent, got) in &rows {
        let total: usize = got.iter().sum();
        println!(
            "| {case} | {sent} | {} | {:.2} |",
            got.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(" / "),
            total as f64 / (*sent).max(1) as f64
        );
    }
    Ok(())
}
