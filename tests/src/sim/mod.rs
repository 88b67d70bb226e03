//! Deterministic simulation of a failover pair (TigerBeetle/FoundationDB style).
//!
//! One seed drives everything: the swarm parameters (fault rates, pool size, lease time,
//! clock skew…), every fault, every client decision and every delay. Two
//! [`dhcp_user::failover::node::Node`]s (the real engine and failover peer, glued as in
//! production) serve simulated DHCP clients over a lossy, duplicating, reordering LAN and
//! talk over a simulated TCP link that stalls, resets and partitions; every fsync takes a
//! while (held replies, persists and replication wait for it while requests and partner
//! messages go on), disks stall for seconds or fail, lease files are compacted online at
//! any moment (snapshot now, put in place later, as the journal does); servers crash (losing
//! the unsynced tail of their lease file, or all but a prefix of it that may end inside a
//! record, sometimes the whole file) and restart; an operator
//! declares partner-down. Invariants ([`checker`]) run after every step; a failure carries
//! the seed and the event log.
//!
//! Phases: faults (random length), then heal (faults stop, crashed servers restart with
//! their files, the link heals), then both servers must reach NORMAL within a bound, then
//! clients stop and, once nothing is in flight, the two lease stores must agree.

pub mod checker;
pub mod client;
pub mod net;
pub mod rng;

use client::{Client, To};
use dhcp_failover::{Command, PeerConfig, Role, State, Time};
use dhcp_user::dhcp::{EngineConfig, Params};
use dhcp_user::failover::node::{Commit, Disk, Handled, Node, NodeConfig, Trace};
use dhcproto::v4::MessageType;
use net::{Lan, Link};
use rng::Rng;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::Ipv4Addr;

/// Unix time at sim time 0.
pub const START_UNIX: u32 = 1_795_610_241;
/// The two servers' addresses (primary, secondary).
pub const SERVER: [Ipv4Addr; 2] = [Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2)];
const NAME: &str = "sim";
const SEC: u64 = 1000;
/// Step budget per seed (a livelock is a failure, not a hang).
const MAX_STEPS: u64 = 3_000_000;
/// After the heal, both servers must be NORMAL within this.
pub const LIVENESS_BOUND_MS: u64 = 600 * SEC;
/// After both are NORMAL and clients stop, the stores must settle within this.
pub const QUIESCE_BOUND_MS: u64 = 300 * SEC;

/// The per-seed parameters ("swarm testing": fault rates are themselves random).
#[derive(Clone, Debug)]
pub struct Swarm {
    pub clients: usize,
    pub pool: u8,
    pub lease_secs: u32,
    pub mclt: u32,
    pub max_unacked: u32,
    pub max_response_delay: u32,
    pub authoritative: bool,
    /// Unix offset of each server's clock from sim time, seconds.
    pub skew: [i64; 2],
    pub lan: Lan,
    pub link_latency_max: u64,
    /// Mean time between faults, ms.
    pub fault_gap: u64,
    /// Relative weights: link reset, link stall, partition, crash, operator partner-down,
    /// disk fault (writes fail for a while), disk stall (fsyncs take seconds).
    pub weights: [u32; 7],
    /// Longest an fsync takes when the disk is not stalled, ms (0: at once).
    pub fsync_max: u64,
    /// Chance, after each step, that a server begins an online compaction of its lease file
    /// (put in place at its next quiet moment).
    pub p_compact: f64,
    /// Probability a restart finds the lease file gone (when that is survivable).
    pub p_lose_disk: f64,
    /// Longest a crashed server stays down, ms.
    pub max_down: u64,
    /// Length of the fault phase, ms.
    pub fault_phase: u64,
    pub p_release: f64,
    pub p_reboot: f64,
    /// DHCP worker threads per server (1 to 4), each taking the requests the socket hands it.
    pub workers: usize,
    /// Chance that a worker, between binding a lease and handing it to the journal, is
    /// descheduled for long (up to [`DESCHEDULED_MAX_MS`]) rather than a few ms at most.
    pub p_descheduled: f64,
}

/// Longest a descheduled worker waits between its engine step and its journal hand-over, ms.
pub const DESCHEDULED_MAX_MS: u64 = 2_000;

impl Swarm {
    pub fn from_rng(r: &mut Rng) -> Swarm {
        let no_skew = std::env::var_os("SIM_NO_SKEW").is_some();
        let skew = |r: &mut Rng| if r.chance(0.3) || no_skew { 0 } else { r.range(0, 40) as i64 - 20 };
        let weight = |r: &mut Rng| if r.chance(0.25) { 0 } else { r.range(1, 10) as u32 };
        Swarm {
            clients: r.range(3, 24) as usize,
            pool: r.range(16, 40) as u8,
            lease_secs: [20, 40, 90, 300][r.range(0, 3) as usize],
            mclt: [30, 30, 45, 60][r.range(0, 3) as usize],
            max_unacked: r.range(1, 10) as u32,
            max_response_delay: r.range(4, 15) as u32,
            authoritative: r.chance(0.5),
            skew: [skew(r), skew(r)],
            lan: Lan {
                loss: if r.chance(0.3) { 0.0 } else { r.unit() * 0.3 },
                dup: if r.chance(0.5) { 0.0 } else { r.unit() * 0.1 },
                delay_max: r.range(1, 800),
            },
            link_latency_max: r.range(1, 300),
            fault_gap: r.range(5, 120) * SEC,
            weights: [weight(r), weight(r), weight(r), weight(r), weight(r), weight(r), weight(r)],
            fsync_max: if r.chance(0.3) { 0 } else { r.range(1, 60) },
            p_compact: if r.chance(0.3) { 0.0 } else { r.unit() * 0.02 },
            p_lose_disk: if r.chance(0.5) { 0.0 } else { r.unit() * 0.6 },
            max_down: r.range(2, 150) * SEC,
            fault_phase: r.range(120, 400) * SEC,
            p_release: r.unit() * 0.15,
            p_reboot: r.unit() * 0.15,
            workers: r.range(1, 4) as usize,
            p_descheduled: if r.chance(0.3) { 0.0 } else { r.unit() * 0.1 },
        }
    }
}

/// One line of the event log.
#[derive(Clone, Debug, Hash)]
pub enum What {
    Start(String),
    Send { c: usize, t: u8, to: Option<usize> },
    Dhcp { srv: usize, c: usize, req: u8, reply: u8, ip: Ipv4Addr, secs: u32 },
    Got { c: usize, srv: usize, t: u8, ip: Ipv4Addr, secs: u32 },
    Lost { c: usize, ip: Ipv4Addr, why: &'static str },
    Node { srv: usize, text: String },
    Link(&'static str, usize),
    Fault(&'static str, usize, u64),
    Crash { srv: usize, kept: usize, lost: usize },
    Restart { srv: usize, lose_disk: bool },
    Stage(&'static str),
}

#[derive(Clone, Debug, Hash)]
pub struct Line {
    pub t: u64,
    pub what: What,
}

fn mt(t: u8) -> String {
    match t {
        0 => "-".into(),
        n => format!("{:?}", MessageType::from(n)),
    }
}

fn who(srv: usize) -> &'static str {
    if srv == 0 { "P" } else { "S" }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>5}.{:03} ", self.t / 1000, self.t % 1000)?;
        match &self.what {
            What::Start(s) => write!(f, "start {s}"),
            What::Send { c, t, to } => match to {
                None => write!(f, "c{c} -> * {}", mt(*t)),
                Some(s) => write!(f, "c{c} -> {} {}", who(*s), mt(*t)),
            },
            What::Dhcp { srv, c, req, reply, ip, secs } => {
                write!(f, "{} <- c{c} {} => {} {ip} {secs}s", who(*srv), mt(*req), mt(*reply))
            }
            What::Got { c, srv, t, ip, secs } => write!(f, "c{c} <- {} {} {ip} {secs}s", who(*srv), mt(*t)),
            What::Lost { c, ip, why } => write!(f, "c{c} gives up {ip}: {why}"),
            What::Node { srv, text } => write!(f, "{}: {text}", who(*srv)),
            What::Link(s, side) => write!(f, "link: {s} ({})", who(*side)),
            What::Fault(s, side, ms) => write!(f, "FAULT {s} {} {ms}ms", who(*side)),
            What::Crash { srv, kept, lost } => {
                write!(f, "CRASH {} (unsynced tail: {kept} bytes kept, {lost} lost)", who(*srv))
            }
            What::Restart { srv, lose_disk } => {
                write!(f, "RESTART {}{}", who(*srv), if *lose_disk { " WITHOUT its lease file" } else { "" })
            }
            What::Stage(s) => write!(f, "=== {s} ==="),
        }
    }
}

#[derive(Debug)]
enum Ev {
    ClientWake {
        c: usize,
        token: u64,
    },
    ToServer {
        srv: usize,
        c: usize,
        bytes: Vec<u8>,
        broadcast: bool,
    },
    ToClient {
        c: usize,
        srv: usize,
        bytes: Vec<u8>,
        ends: u32,
    },
    LinkBytes {
        to: usize,
        conn: u64,
        bytes: Vec<u8>,
    },
    LinkEof {
        to: usize,
        conn: u64,
    },
    Reconnect,
    Tick(usize),
    /// Worker `w` of server `srv` (in its incarnation `life`) hands what its engine step
    /// bound to the journal (`JournalHandle::commit`), `Held` being the request's context.
    WorkerCommit {
        srv: usize,
        w: usize,
        life: u64,
        tag: u64,
        held: Held,
        commit: Commit,
    },
    /// The fsync server `srv` began (in its incarnation `life`) completes.
    SyncDone {
        srv: usize,
        life: u64,
    },
    Fault,
    Restart(usize),
    Heal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Faults,
    Healing { deadline: u64 },
    Quiesce { deadline: u64 },
    Done,
}

/// A successful run.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub seed: u64,
    /// Hash of the event log (reproducibility).
    pub hash: u64,
    pub steps: u64,
    pub sim_ms: u64,
    pub acks: u64,
    pub crashes: u64,
    pub lines: usize,
    /// Worker hand-overs to the journal of a lease changed again since the worker bound it
    /// (by a partner's update, another worker, the expiry sweep): the interleaving the
    /// journal must write in memory order.
    pub interleaved: u64,
    /// Partner updates applied again (the same address and tstp, already applied by that
    /// server): re-sent after a reconnect because their BNDACK was lost.
    pub dup_updates: u64,
    /// Chunks of an old connection that arrived after it was gone (dropped, as a new TCP
    /// connection never delivers an old one's bytes).
    pub stale_chunks: u64,
}

/// A violated invariant.
#[derive(Clone, Debug)]
pub struct Failure {
    pub seed: u64,
    pub message: String,
    pub log: Vec<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "simulation seed {} failed: {}", self.seed, self.message)?;
        writeln!(f, "reproduce: cargo xtask sim --seed {}", self.seed)?;
        writeln!(f, "event log ({} lines):", self.log.len())?;
        for l in &self.log {
            writeln!(f, "  {l}")?;
        }
        Ok(())
    }
}

pub struct Sim {
    rng: Rng,
    sw: Swarm,
    now: u64,
    stage: Stage,
    cfgs: [NodeConfig; 2],
    nodes: [Option<Node>; 2],
    disks: [Option<Disk>; 2],
    link: Link,
    lan: Lan,
    clients: Vec<Client>,
    queue: BTreeMap<(u64, u64), Ev>,
    seq: u64,
    log: Vec<Line>,
    steps: u64,
    acks: u64,
    crashes: u64,
    chk: checker::Checker,
    /// Each server's incarnation (a restart makes the fsyncs of the one before void).
    life: [u64; 2],
    /// fsyncs begun before this time end after it (a stalled disk), per server.
    disk_stalled_until: [u64; 2],
    /// Replies held for an fsync, by tag: what the checker needs when they go out.
    held: BTreeMap<u64, Held>,
    /// Each server's DHCP workers (emptied by a crash).
    workers: [Vec<Worker>; 2],
    /// See [`Outcome::interleaved`].
    interleaved: u64,
    /// See [`Outcome::stale_chunks`].
    stale_chunks: u64,
}

/// One DHCP worker thread: requests the socket handed it, taken one at a time, and whether
/// it is between an engine step and that step's journal hand-over (then it takes nothing
/// else: the runtime's loop is `engine.handle`, then `journal.commit`, then the next packet).
#[derive(Clone, Debug, Default)]
struct Worker {
    queue: std::collections::VecDeque<(usize, Vec<u8>, bool)>,
    committing: bool,
}

/// A reply held by a server until its leases are durable: the request's context.
#[derive(Clone, Copy, Debug)]
struct Held {
    srv: usize,
    c: usize,
    req: u8,
    /// The server's clock when it decided.
    t: Time,
    mclt: u32,
    /// The requested address's tsfp before the request (the checker's MCLT rule).
    tsfp_before: Option<(Ipv4Addr, u32)>,
}

fn pool_range(pool: u8) -> (Ipv4Addr, Ipv4Addr) {
    (Ipv4Addr::new(198, 18, 0, 100), Ipv4Addr::new(198, 18, 0, 100 + pool - 1))
}

fn node_config(sw: &Swarm, role: Role) -> NodeConfig {
    let params = Params {
        default_lease_secs: sw.lease_secs,
        max_lease_secs: sw.lease_secs,
        authoritative: sw.authoritative,
        options: vec![(3, vec![198, 18, 0, 1])],
        // The simulated node has no ICMP: its OFFERs go out at once, as with `ping-check false`.
        ping_check: false,
        ..Params::default()
    };
    let mut engine = EngineConfig::single_pool(
        "lan",
        (Ipv4Addr::new(198, 18, 0, 0), 24),
        vec![pool_range(sw.pool)],
        Some(NAME),
        params,
    );
    engine.offer_hold_secs = 10;
    let peer = PeerConfig {
        name: NAME.into(),
        role,
        mclt: sw.mclt,
        hba: (role == Role::Primary).then_some(dhcp_common::Hba::from_split(128).0),
        max_unacked_updates: sw.max_unacked,
        max_response_delay: sw.max_response_delay,
        auto_partner_down_secs: 0,
        load_balance_max_secs: 3,
        vendor: "xdhcpd-sim".into(),
    };
    let idx = usize::from(role == Role::Secondary);
    NodeConfig { engine, peer, iface_addr: SERVER[idx], max_lease_misbalance: 15, hot_standby_reserve_percent: None }
}

/// Runs one seed to completion.
pub fn run_seed(seed: u64) -> Result<Outcome, Failure> {
    let mut sim = Sim::new(seed);
    let r = sim.run();
    match r {
        Ok(()) => {
            let mut h = DefaultHasher::new();
            sim.log.hash(&mut h);
            Ok(Outcome {
                seed,
                hash: h.finish(),
                steps: sim.steps,
                sim_ms: sim.now,
                acks: sim.acks,
                crashes: sim.crashes,
                lines: sim.log.len(),
                interleaved: sim.interleaved,
                dup_updates: sim.chk.dup_updates,
                stale_chunks: sim.stale_chunks,
            })
        }
        Err(message) => Err(Failure { seed, message, log: sim.log.iter().map(|l| l.to_string()).collect() }),
    }
}

impl Sim {
    pub fn new(seed: u64) -> Sim {
        let mut rng = Rng::new(seed);
        let sw = Swarm::from_rng(&mut rng);
        let cfgs = [node_config(&sw, Role::Primary), node_config(&sw, Role::Secondary)];
        let mut crng = rng.fork();
        let clients = (0..sw.clients).map(|i| Client::new(i, &mut crng, sw.p_release, sw.p_reboot)).collect::<Vec<_>>();
        let link = Link { latency_max: sw.link_latency_max, ..Link::default() };
        let lan = sw.lan;
        let mut sim = Sim {
            rng,
            now: 0,
            stage: Stage::Faults,
            nodes: [None, None],
            disks: [Some(Disk::default()), Some(Disk::default())],
            cfgs,
            link,
            lan,
            clients,
            queue: BTreeMap::new(),
            seq: 0,
            log: Vec::new(),
            steps: 0,
            acks: 0,
            crashes: 0,
            chk: checker::Checker::new(sw.clients),
            life: [0, 0],
            disk_stalled_until: [0, 0],
            held: BTreeMap::new(),
            workers: [Vec::new(), Vec::new()],
            interleaved: 0,
            stale_chunks: 0,
            sw,
        };
        sim.line(What::Start(format!("{:?}", sim.sw)));
        sim.workers = [vec![Worker::default(); sim.sw.workers], vec![Worker::default(); sim.sw.workers]];
        for i in 0..2 {
            let t = sim.time(i);
            sim.nodes[i] = Some(Node::new(sim.cfgs[i].clone(), t));
            sim.disks[i] = None;
        }
        for c in 0..sim.clients.len() {
            let at = sim.rng.range(0, 20 * SEC);
            sim.schedule_wake(c, at);
        }
        for ev in [Ev::Tick(0), Ev::Tick(1), Ev::Reconnect] {
            let at = sim.rng.range(1, 5 * SEC);
            sim.push(at, ev);
        }
        sim.link.reconnect_pending = true;
        let gap = sim.fault_gap();
        sim.push(gap, Ev::Fault);
        sim.push(sim.sw.fault_phase, Ev::Heal);
        sim
    }

    fn line(&mut self, what: What) {
        self.log.push(Line { t: self.now, what });
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.insert((at, self.seq), ev);
    }

    fn fault_gap(&mut self) -> u64 {
        // Roughly exponential: mean fault_gap.
        let u = self.rng.unit().max(1e-9);
        self.now + ((-u.ln()) * self.sw.fault_gap as f64) as u64 + 1
    }

    /// Server `i`'s clock.
    fn time(&self, i: usize) -> Time {
        let unix = i64::from(START_UNIX) + self.sw.skew[i] + (self.now / SEC) as i64;
        Time { unix: u32::try_from(unix).unwrap_or(START_UNIX), mono_ms: self.now }
    }

    fn schedule_wake(&mut self, c: usize, at: u64) {
        let Some(cl) = self.clients.get_mut(c) else { return };
        cl.wake_token += 1;
        let token = cl.wake_token;
        self.push(at, Ev::ClientWake { c, token });
    }

    fn run(&mut self) -> Result<(), String> {
        loop {
            self.steps += 1;
            if self.steps > MAX_STEPS {
                return Err(format!("step budget exhausted at {} ms (livelock?)", self.now));
            }
            let next_ev = self.queue.first_key_value().map(|(k, _)| k.0);
            let next_timer =
                (0..2).filter_map(|i| self.nodes[i].as_ref().and_then(|n| n.poll_timeout()).map(|t| (t, i))).min();
            match (next_timer, next_ev) {
                (Some((t, i)), ev) if ev.is_none_or(|e| t <= e) => {
                    self.now = self.now.max(t);
                    let now = self.time(i);
                    if let Some(n) = self.nodes[i].as_mut() {
                        n.handle_timeout(now);
                    }
                }
                (_, Some(_)) => {
                    let Some(((t, _), ev)) = self.queue.pop_first() else {
                        return Err("event queue empty".into());
                    };
                    self.now = self.now.max(t);
                    self.dispatch(ev);
                }
                (_, None) => return Err("nothing left to simulate".into()),
            }
            self.pump();
            self.check()?;
            if self.stage == Stage::Done {
                return Ok(());
            }
        }
    }

    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::ClientWake { c, token } => {
                let now = self.now;
                let Some(cl) = self.clients.get_mut(c) else { return };
                if cl.wake_token != token {
                    return;
                }
                let out = cl.wake(&mut self.rng, now);
                self.client_out(c, out, None);
            }
            Ev::ToServer { srv, c, bytes, broadcast } => self.deliver_to_server(srv, c, &bytes, broadcast),
            Ev::ToClient { c, srv, bytes, ends } => {
                let now = self.now;
                let Some(cl) = self.clients.get_mut(c) else { return };
                let out = cl.receive(&mut self.rng, now, &bytes);
                if let Some((t, ip, secs)) = client::describe_reply(&bytes)
                    && (out.acked.is_some() || !out.sends.is_empty() || out.lost.is_some())
                {
                    self.line(What::Got { c, srv, t: u8::from(t), ip, secs });
                }
                self.client_out(c, out, Some((srv, ends)));
            }
            Ev::LinkBytes { to, conn, bytes } => {
                self.link.in_flight = self.link.in_flight.saturating_sub(1);
                if conn == self.link.conn && self.link.open[to] {
                    let t = self.time(to);
                    if let Some(n) = self.nodes[to].as_mut() {
                        n.handle_bytes(t, &bytes);
                    }
                } else if conn < self.link.conn {
                    self.stale_chunks += 1;
                }
            }
            Ev::LinkEof { to, conn } => {
                self.link.in_flight = self.link.in_flight.saturating_sub(1);
                if conn == self.link.conn && self.link.open[to] {
                    self.link.open[to] = false;
                    self.line(What::Link("EOF/RST received", to));
                    let t = self.time(to);
                    if let Some(n) = self.nodes[to].as_mut() {
                        n.handle_link_down(t);
                        let mut sink = Vec::new();
                        while n.poll_transmit(&mut sink) {}
                    }
                    self.maybe_reconnect();
                }
            }
            Ev::Reconnect => {
                self.link.reconnect_pending = false;
                self.try_connect();
            }
            Ev::Tick(i) => {
                let t = self.time(i);
                if let Some(n) = self.nodes[i].as_mut() {
                    n.tick(t);
                }
                self.push(self.now + 5 * SEC, Ev::Tick(i));
            }
            Ev::WorkerCommit { srv, w, life, tag, held, commit } => {
                if life != self.life[srv] {
                    return;
                }
                let Some(n) = self.nodes[srv].as_mut() else { return };
                if commit.leases().iter().any(|l| n.engine().store().get(l.ip).as_ref() != Some(l)) {
                    self.interleaved += 1;
                }
                n.commit_dhcp(commit, tag);
                self.held.insert(tag, held);
                if let Some(wk) = self.workers[srv].get_mut(w) {
                    wk.committing = false;
                }
                self.run_worker(srv, w);
            }
            Ev::SyncDone { srv, life } => {
                if life != self.life[srv] {
                    return;
                }
                let t = self.time(srv);
                let released = match self.nodes[srv].as_mut() {
                    Some(n) => n.sync_end(t),
                    None => return,
                };
                for (tag, reply) in released {
                    if let Some(h) = self.held.remove(&tag) {
                        self.send_reply(h, reply);
                    }
                }
            }
            Ev::Fault => {
                if self.stage == Stage::Faults {
                    self.fault();
                    let at = self.fault_gap();
                    self.push(at, Ev::Fault);
                }
            }
            Ev::Restart(i) => {
                if self.nodes[i].is_none() && self.stage == Stage::Faults {
                    if self.chk.guard[i] && self.nodes[1 - i].is_none() {
                        // Declared down by the operator, it comes back connected (operator
                        // rules in `checker`): not while the server in PARTNER-DOWN is itself
                        // down, or it would serve unconnected while that one claims its leases.
                        self.push(self.now + SEC, Ev::Restart(i));
                    } else {
                        self.restart(i, true);
                    }
                }
            }
            Ev::Heal => self.heal(),
        }
    }

    // ----- clients and the LAN -----

    fn client_out(&mut self, c: usize, out: client::Out, from: Option<(usize, u32)>) {
        if let Some((ip, why)) = out.lost {
            self.line(What::Lost { c, ip, why });
        }
        if let (Some((ip, secs)), Some((srv, ends))) = (out.acked, from) {
            self.acks += 1;
            self.chk.on_client_ack(c, srv, ip, secs, ends);
        }
        for (to, bytes, t) in out.sends {
            match to {
                To::Broadcast => {
                    self.line(What::Send { c, t: u8::from(t), to: None });
                    for srv in 0..2 {
                        self.udp(Ev::ToServer { srv, c, bytes: bytes.clone(), broadcast: true });
                    }
                }
                To::Server(ip) => {
                    if let Some(srv) = SERVER.iter().position(|s| *s == ip) {
                        self.line(What::Send { c, t: u8::from(t), to: Some(srv) });
                        self.udp(Ev::ToServer { srv, c, bytes, broadcast: false });
                    }
                }
            }
        }
        if let Some(at) = out.wake {
            self.schedule_wake(c, at);
        }
    }

    /// A datagram on the client LAN: lost, delayed (reordered) or duplicated.
    fn udp(&mut self, ev: Ev) {
        if self.rng.chance(self.lan.loss) {
            return;
        }
        let at = self.now + self.rng.range(0, self.lan.delay_max);
        if self.rng.chance(self.lan.dup) {
            let copy = match &ev {
                Ev::ToServer { srv, c, bytes, broadcast } => {
                    Ev::ToServer { srv: *srv, c: *c, bytes: bytes.clone(), broadcast: *broadcast }
                }
                Ev::ToClient { c, srv, bytes, ends } => {
                    Ev::ToClient { c: *c, srv: *srv, bytes: bytes.clone(), ends: *ends }
                }
                _ => return,
            };
            let at2 = self.now + self.rng.range(0, self.lan.delay_max);
            self.push(at2, copy);
        }
        self.push(at, ev);
    }

    /// A request reaches a server: one of its workers takes it (the kernel hands a packet to
    /// whichever worker is receiving: here, one chosen by the seed), in its turn.
    fn deliver_to_server(&mut self, srv: usize, c: usize, bytes: &[u8], broadcast: bool) {
        if self.nodes[srv].is_none() {
            return;
        }
        let w = self.rng.range(0, self.sw.workers as u64 - 1) as usize;
        let Some(wk) = self.workers[srv].get_mut(w) else { return };
        wk.queue.push_back((c, bytes.to_vec(), broadcast));
        self.run_worker(srv, w);
    }

    /// Worker `w` of `srv` takes its queued requests until one has leases to make durable:
    /// its engine step is now, its hand-over to the journal after a delay the seed chooses
    /// (a few ms, or long when the thread is descheduled), while everything else goes on.
    fn run_worker(&mut self, srv: usize, w: usize) {
        loop {
            let t = self.time(srv);
            let Some(node) = self.nodes[srv].as_mut() else { return };
            let Some(wk) = self.workers[srv].get_mut(w) else { return };
            if wk.committing {
                return;
            }
            let Some((c, bytes, broadcast)) = wk.queue.pop_front() else { return };
            let target = client::request_target(&bytes);
            let tsfp_before = target.map(|ip| (ip, node.engine().store().get(ip).map(|l| l.tsfp).unwrap_or(0)));
            let held = Held { srv, c, req: describe_request(&bytes), t, mclt: node.peer().mclt(), tsfp_before };
            match node.handle_dhcp(t, &bytes, broadcast) {
                Handled::Nothing => {}
                Handled::Reply(reply) => self.send_reply(held, reply),
                Handled::Commit(commit) => {
                    wk.committing = true;
                    self.seq += 1;
                    let tag = self.seq;
                    let delay = if self.rng.chance(self.sw.p_descheduled) {
                        self.rng.range(5, DESCHEDULED_MAX_MS)
                    } else {
                        self.rng.range(0, 3)
                    };
                    let life = self.life[srv];
                    self.push(self.now + delay, Ev::WorkerCommit { srv, w, life, tag, held, commit });
                    return;
                }
            }
        }
    }

    /// A server's reply goes out (at once, or once the fsync it waited for completed).
    fn send_reply(&mut self, h: Held, reply: dhcp_user::dhcp::Reply) {
        let (rt, ip, secs) = client::describe_reply(&reply.bytes).unwrap_or((reply.msg_type, Ipv4Addr::UNSPECIFIED, 0));
        self.line(What::Dhcp { srv: h.srv, c: h.c, req: h.req, reply: u8::from(rt), ip, secs });
        let ends = h.t.unix.saturating_add(secs);
        if rt == MessageType::Ack {
            let tsfp_before = h.tsfp_before.filter(|(at, _)| *at == ip).map(|(_, tsfp)| tsfp).unwrap_or(0);
            if let Err(e) = self.chk.on_server_ack(h.srv, ip, secs, self.sw.lease_secs, h.mclt, tsfp_before, h.t.unix) {
                self.chk.fail(e);
            }
        }
        self.udp(Ev::ToClient { c: h.c, srv: h.srv, bytes: reply.bytes, ends });
    }

    // ----- the failover link -----

    fn link_send(&mut self, from: usize, bytes: Vec<u8>) {
        if !self.link.open[from] {
            return;
        }
        let to = 1 - from;
        let lat = self.rng.range(1, self.link.latency_max);
        let at = (self.now + lat).max(self.link.last_at[from]).max(self.link.stalled_until[from]);
        self.link.last_at[from] = at;
        let conn = self.link.conn;
        // TCP delivers any split: sometimes cut the chunk in two.
        if bytes.len() > 1 && self.rng.chance(0.2) {
            let cut = self.rng.range(1, bytes.len() as u64 - 1) as usize;
            let (a, b) = bytes.split_at(cut);
            self.link.in_flight += 2;
            self.push(at, Ev::LinkBytes { to, conn, bytes: a.to_vec() });
            self.push(at, Ev::LinkBytes { to, conn, bytes: b.to_vec() });
        } else {
            self.link.in_flight += 1;
            self.push(at, Ev::LinkBytes { to, conn, bytes });
        }
    }

    /// `side` closes its end (after its last bytes): the other end sees EOF after them.
    fn link_close(&mut self, side: usize) {
        if !self.link.open[side] {
            return;
        }
        self.link.open[side] = false;
        self.line(What::Link("closed", side));
        let to = 1 - side;
        let lat = self.rng.range(1, self.link.latency_max);
        let at = (self.now + lat).max(self.link.last_at[side]).max(self.link.stalled_until[side]);
        self.link.last_at[side] = at;
        self.link.in_flight += 1;
        self.push(at, Ev::LinkEof { to, conn: self.link.conn });
        self.maybe_reconnect();
    }

    /// A connection reset: both ends see it now, everything in flight is lost.
    fn link_reset(&mut self) {
        for side in 0..2 {
            if self.link.open[side] {
                self.link.open[side] = false;
                let t = self.time(side);
                if let Some(n) = self.nodes[side].as_mut() {
                    n.handle_link_down(t);
                    let mut sink = Vec::new();
                    while n.poll_transmit(&mut sink) {}
                }
            }
        }
        self.maybe_reconnect();
    }

    fn maybe_reconnect(&mut self) {
        if self.link.both_closed() && !self.link.reconnect_pending {
            self.link.reconnect_pending = true;
            let at = self.now.max(self.link.partitioned_until) + 5 * SEC + self.rng.range(0, SEC);
            self.push(at, Ev::Reconnect);
        }
    }

    fn try_connect(&mut self) {
        let alive = self.nodes[0].is_some() && self.nodes[1].is_some();
        if !alive || !self.link.both_closed() {
            // A restart or the stale end's timeout will call maybe_reconnect again.
            return;
        }
        if self.now < self.link.partitioned_until {
            self.maybe_reconnect();
            return;
        }
        self.link.conn += 1;
        self.link.open = [true, true];
        self.link.last_at = [self.now, self.now];
        self.line(What::Link("connected", 0));
        // The secondary accepts, then the primary's connect() completes and it sends CONNECT.
        for i in [1, 0] {
            let t = self.time(i);
            if let Some(n) = self.nodes[i].as_mut() {
                n.handle_link_up(t);
            }
        }
    }

    /// Moves what the nodes produced: traces to the log, bytes to the link, close requests.
    fn pump(&mut self) {
        for i in 0..2 {
            let Some(n) = self.nodes[i].as_mut() else { continue };
            let traces = n.take_trace();
            let mut buf = Vec::new();
            while n.poll_transmit(&mut buf) {}
            let close = n.take_close_request();
            for tr in traces {
                self.chk.on_trace(i, &tr);
                let text = match tr {
                    Trace::Event(s) => s,
                    Trace::Acked { ip, tstp } => format!("BNDACK {ip} tstp {tstp}"),
                    Trace::Received { ip, tstp, status, accepted, why } => {
                        if accepted {
                            format!("BNDUPD {ip} {status} tstp {tstp} applied -> {why}")
                        } else {
                            format!("BNDUPD {ip} {status} tstp {tstp} REJECTED: {why}")
                        }
                    }
                    Trace::Disconnect(r) => format!("disconnect: {r}"),
                    Trace::Local(l) => format!("lease {l}"),
                };
                self.line(What::Node { srv: i, text });
            }
            if !buf.is_empty() {
                self.link_send(i, buf);
            }
            if close {
                self.link_close(i);
            }
            self.maybe_start_sync(i);
        }
    }

    /// Server `i` begins an fsync if something waits for one; it completes after the disk's
    /// latency, or after a stall.
    fn maybe_start_sync(&mut self, i: usize) {
        let compact = self.sw.p_compact > 0.0 && self.rng.chance(self.sw.p_compact);
        let Some(n) = self.nodes[i].as_mut() else { return };
        if compact && n.begin_compaction() {
            self.line(What::Node { srv: i, text: "lease file compaction begins".into() });
        }
        let Some(n) = self.nodes[i].as_mut() else { return };
        if !n.sync_start() {
            return;
        }
        let at = (self.now + self.rng.range(0, self.sw.fsync_max)).max(self.disk_stalled_until[i]);
        self.push(at, Ev::SyncDone { srv: i, life: self.life[i] });
    }

    // ----- faults -----

    fn link_faults_allowed(&self) -> bool {
        !self.chk.guard.iter().any(|g| *g)
    }

    fn fault(&mut self) {
        let total: u32 = self.sw.weights.iter().sum();
        if total == 0 {
            return;
        }
        let mut pick = self.rng.range(0, u64::from(total) - 1) as u32;
        let mut kind = 0;
        for (k, w) in self.sw.weights.iter().enumerate() {
            if pick < *w {
                kind = k;
                break;
            }
            pick -= w;
        }
        let side = self.rng.range(0, 1) as usize;
        match kind {
            0 if self.link_faults_allowed() && !self.link.both_closed() => {
                self.line(What::Fault("link reset", side, 0));
                self.link_reset();
            }
            1 if self.link_faults_allowed() => {
                let ms = self.rng.range(SEC, 30 * SEC);
                self.line(What::Fault("link stall", side, ms));
                self.link.stalled_until[side] = self.now + ms;
            }
            2 if self.link_faults_allowed() => {
                let ms = self.rng.range(5 * SEC, 120 * SEC);
                self.line(What::Fault("partition", side, ms));
                self.link.partitioned_until = self.now + ms;
                self.link_reset();
            }
            // Not the server in PARTNER-DOWN while its partner, declared down, is back but has
            // not reconnected yet (it must come back connected: operator rules in `checker`).
            3 if self.nodes[side].is_some() && !(self.chk.guard[1 - side] && self.nodes[1 - side].is_some()) => {
                self.crash(side)
            }
            4 => {
                // Operator partner-down: only against a server that is really down, and not
                // on a server that lost its lease file and has not resynchronised since (it
                // knows no binding; dhcpd allows it for bootstrapping a lone new server, and
                // every manual forbids it otherwise).
                let down = side;
                let up = 1 - side;
                let t = self.time(up);
                // Nor against a server that went down in PARTNER-DOWN itself: it comes back
                // claiming our free leases as we claim its own (a double partner-down, the
                // split brain every manual warns about; seeds 11050, 15454).
                let down_claims_ours = self.disks[down]
                    .as_ref()
                    .and_then(|d| d.state())
                    .is_some_and(|p| p.my_state == State::PARTNER_DOWN);
                if self.nodes[down].is_none()
                    && !down_claims_ours
                    && !self.chk.needs_resync[up]
                    && let Some(n) = self.nodes[up].as_mut()
                    && n.peer().state() != State::PARTNER_DOWN
                {
                    n.handle_operator(t, Command::PartnerDown);
                    self.chk.guard[down] = true;
                    self.line(What::Fault("operator partner-down on", up, 0));
                }
            }
            5 => {
                let ms = self.rng.range(SEC, 60 * SEC);
                let until = self.now + ms;
                // Not while an operator's partner-down is in force (see the operator rules in
                // `checker`): the server in PARTNER-DOWN must answer its partner's return.
                if self.link_faults_allowed()
                    && let Some(n) = self.nodes[side].as_mut()
                {
                    n.fail_writes_until(until);
                    self.line(What::Fault("disk fails", side, ms));
                }
            }
            6 => {
                let ms = self.rng.range(SEC, 20 * SEC);
                // As for a failing disk: not while an operator's partner-down is in force.
                if self.link_faults_allowed() && self.nodes[side].is_some() {
                    self.disk_stalled_until[side] = self.now + ms;
                    self.line(What::Fault("disk stalls", side, ms));
                }
            }
            _ => {}
        }
    }

    fn crash(&mut self, i: usize) {
        if let Err(e) = self.check_file_follows_memory(i) {
            self.chk.fail(e);
        }
        let Some(node) = self.nodes[i].take() else { return };
        self.crashes += 1;
        // Its fsync in flight never completes, its held replies never go out.
        self.life[i] += 1;
        self.held.retain(|_, h| h.srv != i);
        // What its workers bound and had not handed to the journal yet is lost with the
        // memory (those replies were never sent), as are the requests they had not taken.
        self.workers[i] = vec![Worker::default(); self.sw.workers];
        self.disk_stalled_until[i] = 0;
        // The partner knows every binding only if nothing was left to send.
        self.chk.unsynced_at_crash[i] = node.peer().queued() > 0 || node.peer().unacked() > 0;
        let mut disk = node.crash();
        let unsynced = disk.unsynced();
        let keep = self.rng.range(0, unsynced as u64) as usize;
        disk.crash(keep);
        self.line(What::Crash { srv: i, kept: keep, lost: unsynced - keep });
        self.disks[i] = Some(disk);
        if self.link.open[i] {
            self.link.open[i] = false;
            // A process crash closes the socket (the partner sees it); a host crash does
            // not (the partner finds out by its receive timer).
            if self.rng.chance(0.5) {
                let other = 1 - i;
                let at = self.now + self.rng.range(1, self.link.latency_max);
                self.link.in_flight += 1;
                self.push(at, Ev::LinkEof { to: other, conn: self.link.conn });
            }
        }
        let at = self.now + self.rng.range(SEC, self.sw.max_down);
        self.push(at, Ev::Restart(i));
    }

    fn restart(&mut self, i: usize, may_lose: bool) {
        let Some(disk) = self.disks[i].take() else { return };
        let lose = may_lose && self.chk.may_lose_disk(i) && self.rng.chance(self.sw.p_lose_disk);
        let t = self.time(i);
        self.line(What::Restart { srv: i, lose_disk: lose });
        let node = Node::restart(self.cfgs[i].clone(), disk, lose, t);
        self.nodes[i] = Some(node);
        if self.chk.guard[i] {
            // The partner was put in PARTNER-DOWN by the operator against this server: the
            // operator rule is that it comes back reconnected, so link faults still running
            // (a partition begun before the crash) end now. Without this, both serve the
            // same pool blind: the split brain every failover manual warns about, not a bug.
            self.link.stalled_until = [self.now, self.now];
            self.link.partitioned_until = 0;
            if let Some(n) = self.nodes[1 - i].as_mut() {
                n.fail_writes_until(0);
            }
            self.disk_stalled_until[1 - i] = 0;
            // A reconnect scheduled for the partition's end comes sooner (a second one is a
            // no-op once connected).
            self.link.reconnect_pending = false;
        }
        if lose {
            self.chk.lost_disk(i);
        } else if let Err(e) = self.check_durability(i) {
            self.chk.fail(e);
        }
        // The partner's stale end (if it never saw the crash) is reset by the new stack.
        let other = 1 - i;
        if self.link.open[other] {
            let at = self.now + self.rng.range(1, self.link.latency_max);
            self.link.in_flight += 1;
            self.push(at, Ev::LinkEof { to: other, conn: self.link.conn });
        }
        self.maybe_reconnect();
    }

    fn heal(&mut self) {
        self.line(What::Stage("heal: faults stop"));
        self.stage = Stage::Healing { deadline: self.now + LIVENESS_BOUND_MS };
        self.lan = Lan { loss: 0.0, dup: 0.0, delay_max: self.lan.delay_max.min(50) };
        self.link.stalled_until = [self.now, self.now];
        self.link.partitioned_until = 0;
        self.disk_stalled_until = [0, 0];
        for i in 0..2 {
            if self.nodes[i].is_none() {
                self.restart(i, false);
            }
        }
        self.maybe_reconnect();
    }
}

fn describe_request(bytes: &[u8]) -> u8 {
    use dhcproto::{Decodable, Decoder};
    dhcproto::v4::Message::decode(&mut Decoder::new(bytes))
        .ok()
        .and_then(|m| m.opts().msg_type())
        .map(u8::from)
        .unwrap_or(0)
}
