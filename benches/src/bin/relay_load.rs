//! `relay_load`: DHCP 4-way exchanges at a fixed rate, sent as a relay agent would send them
//! (giaddr set, unicast to the server's port 67), each from a new client, spread over many
//! relayed subnets: the giaddr of exchange `i` is `--giaddr + (i % --subnets) * --stride`.
//! For `cargo xtask bench bigpool` (issue 14): perfdhcp relays from one giaddr only and
//! reports no percentiles, and the campus layout needs 2,000 subnets behind relays.
//!
//! Latencies are taken here, per exchange: DISCOVER sent → OFFER received, REQUEST sent →
//! ACK received (Instant, one thread doing both sends and receives, so they include this
//! process's own scheduling delay, as perfdhcp's do). Reported: count, p50, p99, max, mean.
//!
//! Run inside the clients' network namespace with every giaddr local to it (replies go to
//! giaddr:67). Bounded: `--rate` × `--secs` exchanges, then `--drain` seconds for the last
//! replies. `--probe` instead sends one DISCOVER every 20 ms until an OFFER comes (at most
//! `--secs`) and prints the seconds it took: how long the server took to start answering.
//! Prints one JSON object on stdout.

use anyhow::{Context, Result, bail};
use dhcproto::v4::{DhcpOption, Flags, HType, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};
use socket2::{Domain, Protocol, Socket, Type};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

struct Args {
    server: Ipv4Addr,
    giaddr: Ipv4Addr,
    subnets: u32,
    stride: u32,
    rate: u32,
    secs: u32,
    drain: u32,
    probe: bool,
    /// Second byte of every client's MAC: runs against one server differ by it.
    tag: u8,
    /// Exchange `i` is client `i % clients` (its MAC and subnet): 0 = every exchange a new
    /// client. A returning client asks again with a DISCOVER (and gets its address back).
    clients: u32,
}

fn args() -> Result<Args> {
    let mut a = Args {
        server: Ipv4Addr::UNSPECIFIED,
        giaddr: Ipv4Addr::UNSPECIFIED,
        subnets: 1,
        stride: 0,
        rate: 1000,
        secs: 10,
        drain: 2,
        probe: false,
        tag: 0x7b,
        clients: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--probe" {
            a.probe = true;
            continue;
        }
        let v = it.next().with_context(|| format!("{k} needs a value"))?;
        match k.as_str() {
            "--server" => a.server = v.parse()?,
            "--giaddr" => a.giaddr = v.parse()?,
            "--subnets" => a.subnets = v.parse()?,
            "--stride" => a.stride = v.parse()?,
            "--rate" => a.rate = v.parse()?,
            "--secs" => a.secs = v.parse()?,
            "--drain" => a.drain = v.parse()?,
            "--tag" => a.tag = v.parse()?,
            "--clients" => a.clients = v.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    if a.server.is_unspecified() || a.giaddr.is_unspecified() {
        bail!("--server and --giaddr are required");
    }
    if a.subnets == 0 || a.rate == 0 || a.rate > 100_000 || a.secs == 0 || a.secs > 3_600 {
        bail!("--subnets ≥ 1, --rate 1..=100000, --secs 1..=3600");
    }
    Ok(a)
}

/// The client exchange `i` comes from.
fn client(a: &Args, i: u32) -> u32 {
    if a.clients == 0 { i } else { i % a.clients }
}

fn giaddr(a: &Args, i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(a.giaddr).wrapping_add((client(a, i) % a.subnets).wrapping_mul(a.stride)))
}

fn mac(a: &Args, i: u32) -> [u8; 6] {
    let b = client(a, i).to_be_bytes();
    [0x02, a.tag, b[0], b[1], b[2], b[3]]
}

fn encode(a: &Args, i: u32, t: MessageType, offered: Option<(Ipv4Addr, Ipv4Addr)>) -> Vec<u8> {
    let mut m = Message::default();
    m.set_opcode(Opcode::BootRequest)
        .set_htype(HType::Eth)
        .set_chaddr(&mac(a, i))
        .set_xid(i)
        .set_hops(1)
        .set_giaddr(giaddr(a, i))
        .set_flags(Flags::default());
    m.opts_mut().insert(DhcpOption::MessageType(t));
    if let Some((server, ip)) = offered {
        m.opts_mut().insert(DhcpOption::ServerIdentifier(server));
        m.opts_mut().insert(DhcpOption::RequestedIpAddress(ip));
    }
    m.opts_mut().insert(DhcpOption::ParameterRequestList(vec![OptionCode::SubnetMask, OptionCode::Router]));
    let mut b = Vec::new();
    // A message built here always encodes; an empty datagram is simply not answered.
    let _ = m.encode(&mut Encoder::new(&mut b));
    b
}

/// count, p50, p99, max and mean of latencies in ms.
fn summary(v: &mut [f64]) -> String {
    if v.is_empty() {
        return "{\"n\": 0}".into();
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1];
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    format!(
        "{{\"n\": {}, \"p50\": {:.3}, \"p99\": {:.3}, \"max\": {:.3}, \"mean\": {:.3}}}",
        v.len(),
        at(0.50),
        at(0.99),
        v[v.len() - 1],
        mean
    )
}

struct Exchange {
    discover_at: Instant,
    request_at: Option<Instant>,
    acked: bool,
}

fn main() -> Result<()> {
    let a = args()?;
    let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    sock.set_reuse_address(true)?;
    sock.set_recv_buffer_size(16 << 20)?;
    sock.set_send_buffer_size(8 << 20)?;
    sock.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 67).into()).context("binding port 67")?;
    let sock: std::net::UdpSocket = sock.into();
    let to = SocketAddrV4::new(a.server, 67);
    let mut buf = vec![0u8; 1500];
    let t0 = Instant::now();

    if a.probe {
        let deadline = t0 + Duration::from_secs(u64::from(a.secs));
        // Client numbers from the top of the space: never one of a later run's clients.
        let mut i = u32::MAX;
        sock.set_read_timeout(Some(Duration::from_millis(20)))?;
        while Instant::now() < deadline {
            let _ = sock.send_to(&encode(&a, i, MessageType::Discover, None), to);
            while let Ok(n) = sock.recv(&mut buf) {
                if let Ok(m) = Message::decode(&mut Decoder::new(&buf[..n]))
                    && m.xid() == i
                    && m.opts().msg_type() == Some(MessageType::Offer)
                {
                    println!("{{\"answered_after_s\": {:.3}}}", t0.elapsed().as_secs_f64());
                    return Ok(());
                }
            }
            i -= 1;
        }
        bail!("no OFFER within {} s", a.secs);
    }

    let total = a.rate.saturating_mul(a.secs);
    let pace = Duration::from_secs_f64(1.0 / f64::from(a.rate));
    let mut ex: HashMap<u32, Exchange> = HashMap::with_capacity(total as usize);
    let (mut offers_ms, mut acks_ms) = (Vec::new(), Vec::new());
    let (mut naks, mut late) = (0u64, 0u64);
    let mut next = 0u32;
    let end = t0 + pace * total + Duration::from_secs(u64::from(a.drain));
    while Instant::now() < end {
        let now = Instant::now();
        while next < total && t0 + pace * next <= now {
            let _ = sock.send_to(&encode(&a, next, MessageType::Discover, None), to);
            ex.insert(next, Exchange { discover_at: Instant::now(), request_at: None, acked: false });
            next += 1;
        }
        let wait = if next < total {
            (t0 + pace * next).saturating_duration_since(Instant::now())
        } else {
            Duration::from_millis(20)
        };
        sock.set_read_timeout(Some(wait.max(Duration::from_micros(100))))?;
        // A bounded burst, so that a stream of replies cannot hold the due sends back.
        for _ in 0..256 {
            let Ok(n) = sock.recv(&mut buf) else { break };
            let at = Instant::now();
            let Ok(m) = Message::decode(&mut Decoder::new(&buf[..n])) else { continue };
            let Some(e) = ex.get_mut(&m.xid()) else {
                late += 1;
                continue;
            };
            match m.opts().msg_type() {
                Some(MessageType::Offer) if e.request_at.is_none() => {
                    offers_ms.push((at - e.discover_at).as_secs_f64() * 1e3);
                    let server = match m.opts().get(OptionCode::ServerIdentifier) {
                        Some(DhcpOption::ServerIdentifier(s)) => *s,
                        _ => a.server,
                    };
                    let req = encode(&a, m.xid(), MessageType::Request, Some((server, m.yiaddr())));
                    e.request_at = Some(Instant::now());
                    let _ = sock.send_to(&req, to);
                }
                Some(MessageType::Ack) if !e.acked => {
                    if let Some(r) = e.request_at {
                        e.acked = true;
                        acks_ms.push((at - r).as_secs_f64() * 1e3);
                    }
                }
                Some(MessageType::Nak) => naks += 1,
                _ => late += 1,
            }
            sock.set_read_timeout(Some(Duration::from_micros(100)))?;
        }
    }
    let requests = ex.values().filter(|e| e.request_at.is_some()).count();
    println!(
        "{{\"discovers\": {total}, \"offers\": {}, \"requests\": {requests}, \"acks\": {}, \"naks\": {naks}, \
         \"unmatched\": {late}, \"elapsed_s\": {:.3}, \"offer_ms\": {}, \"ack_ms\": {}}}",
        offers_ms.len(),
        acks_ms.len(),
        t0.elapsed().as_secs_f64(),
        summary(&mut offers_ms),
        summary(&mut acks_ms)
    );
    Ok(())
}
