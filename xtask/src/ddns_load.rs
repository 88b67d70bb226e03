//! BIND's own update rate, for `bench server ddns rate`: a load generator that sends the
//! updates xdhcpd sends for a new lease (an A record with its TXT guard, on the
//! condition that the name is free; then the PTR), built by xdhcpd's own sans-IO code
//! (`dhcp_user::ddns::Exchange`, the same messages and TSIG signing), each job's two
//! messages in order, `in_flight` jobs at once spread over [`SOCKETS`] sockets.
//! Bounded by its job count and by a deadline.

use anyhow::{Context, Result};
use dhcp_user::ddns::guard::Guard;
use dhcp_user::ddns::plan::{FwdAdd, name, reverse_name};
use dhcp_user::ddns::update::{Progress, Zones};
use dhcp_user::ddns::{AddJob, Exchange, Job};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Sockets the jobs are spread over (one thread each).
pub const SOCKETS: usize = 4;
/// Wait for an answer before sending again (as xdhcpd's sender).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// What one run measured.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Updates (messages) answered NOERROR.
    pub noerror: u64,
    /// Steps that failed for good (refused, conflict...), and jobs left unfinished at the deadline.
    pub failed: u64,
    pub unfinished: u64,
    /// Messages sent again (timeout or SERVFAIL).
    pub retried: u64,
    /// From the start to the last answer.
    pub elapsed: Duration,
}

/// The jobs: names `g<i>.<zone>` at addresses counted up from `first`.
fn job(i: u32, first: Ipv4Addr, zone: &str, rev: &str) -> Result<Job> {
    let ip = Ipv4Addr::from(u32::from(first).wrapping_add(i));
    let fqdn = name(&format!("g{i}.{zone}"))?;
    // A guard of the interim style's shape ("31" and 32 hex digits): BIND only stores it.
    let guard = Guard::Txt(format!("31{:032x}", u128::from(i)));
    Ok(Job::Add(AddJob {
        ip,
        fwd: Some(FwdAdd { name: fqdn.clone(), guard }),
        ptr_target: Some(fqdn),
        rev_name: reverse_name(ip, rev)?,
        ttl: 300,
        conflict_detection: true,
        guard_id_must_match: true,
        static_lease: false,
    }))
}

/// Runs `jobs` jobs against the zones' server, `in_flight` at once, until done or `bound`.
/// To be called in the server's namespace (the sockets are made here).
pub fn run(zones: &Zones, jobs: u32, in_flight: usize, bound: Duration, zone: &str, rev: &str) -> Result<Tally> {
    let server = zones.0.first().and_then(|z| z.servers.first()).copied().context("no server in the zones")?;
    let mut socks = Vec::new();
    for _ in 0..SOCKETS {
        let s = UdpSocket::bind("0.0.0.0:0")?;
        s.set_read_timeout(Some(Duration::from_millis(20)))?;
        socks.push(s);
    }
    let next = AtomicU32::new(0);
    let total = Mutex::new(Tally::default());
    let start = Instant::now();
    let first = Ipv4Addr::new(198, 18, 1, 0);
    std::thread::scope(|sc| {
        for (k, sock) in socks.iter().enumerate() {
            let share = in_flight / SOCKETS + usize::from(k < in_flight % SOCKETS);
            let (next, total) = (&next, &total);
            sc.spawn(move || {
                let (t, last) = worker(sock, SocketAddr::V4(server), zones, share, jobs, next, start + bound, |i| {
                    job(i, first, zone, rev)
                });
                let mut g = total.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                g.noerror += t.noerror;
                g.failed += t.failed;
                g.unfinished += t.unfinished;
                g.retried += t.retried;
                g.elapsed = g.elapsed.max(last.duration_since(start));
            });
        }
    });
    Ok(total.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner))
}

struct InFlight {
    ex: Exchange,
    sent_at: Instant,
}

#[allow(clippy::too_many_arguments)]
fn worker(
    sock: &UdpSocket,
    server: SocketAddr,
    zones: &Zones,
    share: usize,
    jobs: u32,
    next: &AtomicU32,
    deadline: Instant,
    make: impl Fn(u32) -> Result<Job>,
) -> (Tally, Instant) {
    let t0 = Instant::now();
    let mut tally = Tally::default();
    let mut last_answer = t0;
    let mut by_id: HashMap<u16, InFlight> = HashMap::new();
    let mut seed = u64::from(std::process::id()) ^ (t0.elapsed().as_nanos() as u64) ^ (sock as *const _ as u64);
    let mut rand_id = |taken: &HashMap<u16, InFlight>| loop {
        // xorshift: ids need only be unique among those in flight on this socket.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let id = seed as u16;
        if !taken.contains_key(&id) {
            return id;
        }
    };
    let now_secs =
        || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut send = |mut ex: Exchange, by_id: &mut HashMap<u16, InFlight>, tally: &mut Tally| {
        let id = rand_id(by_id);
        match ex.request(zones, id, now_secs()) {
            Ok(req) => {
                if sock.send_to(&req, server).is_err() {
                    tally.failed += 1;
                    return;
                }
                by_id.insert(id, InFlight { ex, sent_at: Instant::now() });
            }
            Err(_) => tally.failed += 1,
        }
    };
    let mut buf = vec![0u8; 4096];
    loop {
        while by_id.len() < share {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= jobs {
                break;
            }
            match make(i) {
                Ok(j) => send(Exchange::new(j, zones), &mut by_id, &mut tally),
                Err(_) => tally.failed += 1,
            }
        }
        if by_id.is_empty() || Instant::now() > deadline {
            break;
        }
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            let bytes = buf.get(..n).unwrap_or(&[]);
            let id = bytes.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]));
            if from == server
                && let Some(mut f) = id.and_then(|id| by_id.remove(&id))
            {
                last_answer = Instant::now();
                match f.ex.handle_answer(zones, bytes) {
                    Ok(Progress::Next) => {
                        send(f.ex, &mut by_id, &mut tally);
                    }
                    Ok(Progress::Finished(o)) => {
                        // The job's NOERROR answers, counted when it ends.
                        tally.noerror += u64::from(o.done);
                        tally.failed += o.failed.len() as u64 + u64::from(o.conflict);
                    }
                    Ok(Progress::Retry) => {
                        tally.retried += 1;
                        send(f.ex, &mut by_id, &mut tally);
                    }
                    Err(_) => {
                        // Not its answer after all: wait on.
                        if let Some(id) = id {
                            by_id.insert(id, f);
                        }
                    }
                }
            }
        }
        let now = Instant::now();
        let late: Vec<u16> =
            by_id.iter().filter(|(_, f)| now.duration_since(f.sent_at) > ANSWER_TIMEOUT).map(|(id, _)| *id).collect();
        for id in late {
            if let Some(f) = by_id.remove(&id) {
                tally.retried += 1;
                send(f.ex, &mut by_id, &mut tally);
            }
        }
    }
    tally.unfinished = by_id.len() as u64;
    (tally, last_answer)
}
