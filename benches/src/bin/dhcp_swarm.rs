//! `dhcp_swarm`: many DHCP clients at once that behave as RFC 2131 clients do, for the
//! power-restoration and takeover benchmarks. perfdhcp's avalanche re-sends a REQUEST to the
//! server that made the offer forever; a real client gives up after a few tries and starts
//! over with a DISCOVER, which is what lets it find the surviving server of a pair.
//!
//! Each client (MAC 02:5a:00:xx:xx:xx) goes INIT → SELECTING → REQUESTING → BOUND (RFC 2131
//! §4.4): DISCOVERs and REQUESTs are broadcast with the broadcast flag, `secs` counts from
//! the first DISCOVER of the attempt, retransmissions back off 4, 8, 16, 32, 64 s randomised
//! by ±1 s (§4.1, scaled by `--backoff-scale`), a REQUEST unanswered after `--request-tries`
//! sends or a DHCPNAK sends the client back to INIT. Bound clients stay bound (the run is
//! shorter than the lease).
//!
//! Run inside the clients' network namespace (`ip netns exec NS dhcp_swarm ...`), with an
//! address on the interface. Bounded: `--clients` clients, `--timeout` seconds. Prints one
//! line `key=value ...` per second of progress and a final JSON object on stdout:
//! bound, unbound, seconds until the last was bound, retransmissions, ACKs per server, and
//! the addresses acknowledged to more than one client (must be none).

use anyhow::{Context, Result, bail};
use dhcproto::v4::{DhcpOption, Flags, HType, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};
use socket2::{Domain, Protocol, Socket, Type};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};
use xdhcpd_tests::sim::rng::Rng;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Selecting,
    Requesting { server: Ipv4Addr, ip: Ipv4Addr },
    Bound,
}

struct Client {
    mac: [u8; 6],
    xid: u32,
    phase: Phase,
    /// Start of the current attempt (first DISCOVER): `secs` counts from here.
    attempt_start: Instant,
    /// Sends of the current message (DISCOVER or REQUEST).
    tries: u32,
    /// Timer generation: a popped timer with an older one is stale.
    gen_: u32,
    bound_at: Option<Duration>,
    ip: Option<Ipv4Addr>,
    server: Option<Ipv4Addr>,
}

struct Args {
    iface: String,
    clients: u32,
    timeout: Duration,
    request_tries: u32,
    backoff_scale: f64,
    start_rate: u32,
}

fn args() -> Result<Args> {
    let mut a = Args {
        iface: String::new(),
        clients: 1000,
        timeout: Duration::from_secs(60),
        request_tries: 3,
        backoff_scale: 1.0,
        start_rate: 5000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().with_context(|| format!("{k} needs a value"));
        match k.as_str() {
            "--iface" => a.iface = v()?,
            "--clients" => a.clients = v()?.parse()?,
            "--timeout" => a.timeout = Duration::from_secs(v()?.parse()?),
            "--request-tries" => a.request_tries = v()?.parse()?,
            "--backoff-scale" => a.backoff_scale = v()?.parse()?,
            "--start-rate" => a.start_rate = v()?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    if a.iface.is_empty() {
        bail!("--iface is required");
    }
    if a.clients == 0 || a.clients > 0x00ff_ffff {
        bail!("--clients must be 1..=16777215");
    }
    Ok(a)
}

fn backoff(tries: u32, scale: f64, rng: &mut Rng) -> Duration {
    // ±1 s (RFC 2131 §4.1's randomisation).
    let jitter = rng.unit() * 2.0 - 1.0;
    let base = 4.0 * f64::from(1u32 << tries.saturating_sub(1).min(4));
    Duration::from_secs_f64(((base + jitter) * scale).max(0.05))
}

fn encode(c: &Client, t: MessageType) -> Vec<u8> {
    let mut m = Message::default();
    let secs = c.attempt_start.elapsed().as_secs().min(u64::from(u16::MAX)) as u16;
    m.set_opcode(Opcode::BootRequest)
        .set_htype(HType::Eth)
        .set_chaddr(&c.mac)
        .set_xid(c.xid)
        .set_secs(secs)
        .set_flags(Flags::default().set_broadcast());
    m.opts_mut().insert(DhcpOption::MessageType(t));
    if let Phase::Requesting { server, ip } = c.phase {
        m.opts_mut().insert(DhcpOption::ServerIdentifier(server));
        m.opts_mut().insert(DhcpOption::RequestedIpAddress(ip));
    }
    m.opts_mut().insert(DhcpOption::ParameterRequestList(vec![OptionCode::SubnetMask, OptionCode::Router]));
    let mut b = Vec::new();
    // A message built here always encodes; an empty datagram is simply not answered.
    let _ = m.encode(&mut Encoder::new(&mut b));
    b
}

fn main() -> Result<()> {
    let a = args()?;
    let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    sock.set_reuse_address(true)?;
    sock.set_broadcast(true)?;
    sock.bind_device(Some(a.iface.as_bytes())).context("SO_BINDTODEVICE")?;
    sock.set_recv_buffer_size(16 << 20)?;
    sock.set_send_buffer_size(8 << 20)?;
    sock.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68).into()).context("binding port 68")?;
    let sock: std::net::UdpSocket = sock.into();
    let to = SocketAddrV4::new(Ipv4Addr::BROADCAST, 67);

    let t0 = Instant::now();
    // Deterministic: the ±1 s jitter and the xids of one run repeat in the next.
    let mut rng = Rng::new(0x5eed_1234_abcd_0001);
    let mut clients: Vec<Client> = (0..a.clients)
        .map(|i| Client {
            mac: [0x02, 0x5a, 0, (i >> 16) as u8, (i >> 8) as u8, i as u8],
            xid: 0,
            phase: Phase::Selecting,
            attempt_start: t0,
            tries: 0,
            gen_: 0,
            bound_at: None,
            ip: None,
            server: None,
        })
        .collect();
    let by_mac: HashMap<[u8; 6], usize> = clients.iter().enumerate().map(|(i, c)| (c.mac, i)).collect();
    // (due, client, generation): the next send of each unbound client.
    let mut timers: BinaryHeap<Reverse<(Instant, usize, u32)>> = BinaryHeap::new();
    let pace = Duration::from_secs_f64(1.0 / f64::from(a.start_rate.max(1)));
    for i in 0..clients.len() {
        timers.push(Reverse((t0 + pace * i as u32, i, 0)));
    }
    let mut retransmissions = 0u64;
    let mut naks = 0u64;
    let mut restarts = 0u64;
    let mut acks_by_server: BTreeMap<Ipv4Addr, u64> = BTreeMap::new();
    // Every address ACKed, to which clients (must be one each).
    let mut holders: HashMap<Ipv4Addr, Vec<usize>> = HashMap::new();
    let mut bound = 0u32;
    let mut next_report = t0 + Duration::from_secs(1);
    let mut buf = vec![0u8; 1500];
    let deadline = t0 + a.timeout;

    while bound < a.clients && Instant::now() < deadline {
        let now = Instant::now();
        // Sends that are due.
        while let Some(Reverse((due, i, g))) = timers.peek().copied() {
            if due > now {
                break;
            }
            timers.pop();
            let c = &mut clients[i];
            if g != c.gen_ || c.phase == Phase::Bound {
                continue;
            }
            if let Phase::Requesting { .. } = c.phase
                && c.tries >= a.request_tries
            {
                // No answer to the REQUEST: back to INIT (RFC 2131 §4.4.1).
                c.phase = Phase::Selecting;
                c.tries = 0;
                restarts += 1;
            }
            if c.phase == Phase::Selecting && c.tries == 0 {
                c.xid = rng.next_u64() as u32;
                c.attempt_start = now;
            }
            let t = if c.phase == Phase::Selecting { MessageType::Discover } else { MessageType::Request };
            if c.tries > 0 {
                retransmissions += 1;
            }
            c.tries += 1;
            let _ = sock.send_to(&encode(c, t), to);
            c.gen_ += 1;
            timers.push(Reverse((now + backoff(c.tries, a.backoff_scale, &mut rng), i, c.gen_)));
        }
        if now >= next_report {
            println!(
                "t={:.1} bound={bound} retransmissions={retransmissions} restarts={restarts} naks={naks}",
                t0.elapsed().as_secs_f64()
            );
            next_report += Duration::from_secs(1);
        }
        // Replies until the next timer (at most 50 ms, for the report and the deadline).
        let wait = timers
            .peek()
            .map(|Reverse((d, _, _))| d.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_millis(50))
            .clamp(Duration::from_micros(200), Duration::from_millis(50));
        sock.set_read_timeout(Some(wait))?;
        // A bounded burst, so that a stream of replies cannot starve the due sends.
        for _ in 0..512 {
            let Ok(n) = sock.recv(&mut buf) else { break };
            let Ok(m) = Message::decode(&mut Decoder::new(&buf[..n])) else { continue };
            if m.opcode() != Opcode::BootReply {
                continue;
            }
            let Some(mac) = m.chaddr().get(..6).and_then(|s| <[u8; 6]>::try_from(s).ok()) else { continue };
            let Some(&i) = by_mac.get(&mac) else { continue };
            let c = &mut clients[i];
            if m.xid() != c.xid || c.phase == Phase::Bound {
                continue;
            }
            let server = match m.opts().get(OptionCode::ServerIdentifier) {
                Some(DhcpOption::ServerIdentifier(s)) => *s,
                _ => continue,
            };
            let now = Instant::now();
            match (m.opts().msg_type(), c.phase) {
                (Some(MessageType::Offer), Phase::Selecting) => {
                    c.phase = Phase::Requesting { server, ip: m.yiaddr() };
                    c.tries = 0;
                    c.gen_ += 1;
                    timers.push(Reverse((now, i, c.gen_)));
                }
                (Some(MessageType::Ack), Phase::Requesting { server: s, ip }) if s == server && m.yiaddr() == ip => {
                    c.phase = Phase::Bound;
                    c.bound_at = Some(t0.elapsed());
                    c.ip = Some(ip);
                    c.server = Some(server);
                    c.gen_ += 1;
                    bound += 1;
                    *acks_by_server.entry(server).or_default() += 1;
                    holders.entry(ip).or_default().push(i);
                }
                (Some(MessageType::Nak), Phase::Requesting { server: s, .. }) if s == server => {
                    naks += 1;
                    c.phase = Phase::Selecting;
                    c.tries = 0;
                    c.gen_ += 1;
                    timers.push(Reverse((now, i, c.gen_)));
                }
                _ => {}
            }
            sock.set_read_timeout(Some(Duration::from_micros(200)))?;
        }
    }
    let last_bound = clients.iter().filter_map(|c| c.bound_at).max().unwrap_or_default();
    let doubled: Vec<String> = holders
        .iter()
        .filter(|(_, who)| who.len() > 1)
        .map(|(ip, who)| {
            let macs: Vec<String> = who
                .iter()
                .map(|&i| clients[i].mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"))
                .collect();
            format!("{ip} to {}", macs.join(" and "))
        })
        .collect();
    let servers: Vec<String> = acks_by_server.iter().map(|(s, n)| format!("\"{s}\": {n}")).collect();
    println!(
        "{{\"clients\": {}, \"bound\": {bound}, \"unbound\": {}, \"last_bound_s\": {:.3}, \"elapsed_s\": {:.3}, \
         \"retransmissions\": {retransmissions}, \"restarts\": {restarts}, \"naks\": {naks}, \
         \"acks_by_server\": {{{}}}, \"doubled\": {:?}}}",
        a.clients,
        a.clients - bound,
        last_bound.as_secs_f64(),
        t0.elapsed().as_secs_f64(),
        servers.join(", "),
        doubled
    );
    Ok(())
}
